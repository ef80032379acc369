"""Screen stored runs again against a registry version, from the works stored with each
run (no API call), and report what changed.

For each run re-screened (by default each screen's latest run, when its works are stored:
:func:`tracker.store.store_run_works`), the works are screened with the run's own settings
against the registry version asked for (the one in force by default) and compared with the
run's latest state (its last rescreen, or the run itself):

* new findings (a newly listed institution, or a date that now makes a tie listed);
* findings whose ``listed_at_publication`` (or outcome, editions, listed_on) changed;
* findings gone, with whether their list entry was removed;
* review decisions carried over: a dismissed finding stays dismissed unless its
  evidence changed, in which case it is reported as needing review again (a decision is
  never changed by the tool).

A rescreen that changed something is recorded as a new run (``run["rescreen"]`` names
the run it re-screened); every rescreen's change report is kept in the case file.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from tracker.records import Work
from tracker.risk import Finding
from tracker.screening import ScreenResult, ScreenSettings, screen, screen_shares
from tracker.store import (
    DIFF_FIELDS,
    REVIEW_EVIDENCE,
    Store,
    StoreError,
    former_finding_ids,
    latest_comparable_runs,
    record_rescreen,
    rescreens,
    runs_with_works,
    store_run_works,
    stored_works,
)
from tracker.watchlists import Registry

__all__ = ["NotRescreened", "RescreenError", "RescreenReport", "keep_works", "not_rescreened",
           "rescreen_run", "rescreen_runs", "settings_from_record"]


#: Fewer stored works than this a process are screened in one (a fork costs more than
#: it saves on a small run).
SHARE_WORKS = 5_000


class RescreenError(ValueError):
    """A run cannot be re-screened (no stored works, unknown run): nothing recorded."""


@dataclass(frozen=True)
class NotRescreened:
    """A case's latest run that a rescreen cannot screen again: it kept no works.

    ``why`` says why none were kept; ``command`` is the run's ``tracker screen`` command
    (shell-quoted; ``""`` when the run was recorded some other way), which screens its
    inputs again against the lists in force where they are still at hand.

    Examples
    --------
    >>> NotRescreened(3, "it was screened with --no-keep-works",
    ...               "tracker screen --works w.jsonl --no-keep-works").text()
    ... # doctest: +NORMALIZE_WHITESPACE
    'run 3 kept no works to re-screen (it was screened with --no-keep-works); to screen
    it against the lists in force, run its command again, then compare the two runs with
    `tracker diff 3 <the new run>`: tracker screen --works w.jsonl --no-keep-works'
    """

    run_id: int
    why: str
    command: str = ""

    def text(self) -> str:
        """What happened and what to do, in one sentence."""
        head = f"run {self.run_id} kept no works to re-screen ({self.why}); to screen it "
        if not self.command:
            return head + ("against the lists in force, screen its inputs again (its run "
                           "record names them)")
        return head + ("against the lists in force, run its command again, then compare "
                       f"the two runs with `tracker diff {self.run_id} <the new run>`: "
                       f"{self.command}")

    def to_json(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "why": self.why, "command": self.command}


def _not_rescreened(store: Store, run_id: int) -> NotRescreened:
    """Why run ``run_id`` kept no works, from its run record: the command's
    ``--no-keep-works`` or ``--roster``, or inputs too large to copy
    (:data:`tracker.engine.AUTO_DUCKDB_BYTES`: see :func:`tracker.runs.run`)."""
    from tracker.engine import AUTO_DUCKDB_BYTES

    record = store.run_record(run_id)
    command = [str(a) for a in record.get("command") or []]
    files = [i for i in record.get("inputs") or [] if i.get("kind") == "file"]
    if "--no-keep-works" in command:
        why = "it was screened with --no-keep-works"
    elif any(a == "--roster" or a.startswith("--roster=") for a in command):
        why = "a roster's run screens only its people's authorships, and keeps no works"
    elif files and sum(int(i.get("bytes") or 0) for i in files) >= AUTO_DUCKDB_BYTES:
        why = (f"its inputs were {AUTO_DUCKDB_BYTES // 2**20} MB or more, too large to copy "
               "into the case file")
    else:
        why = "its works were not kept with it"
    rerun = shlex.join(command) if command[1:2] == ["screen"] else ""
    return NotRescreened(run_id, why, rerun)


def not_rescreened(store: Store) -> list[NotRescreened]:
    """The cases a rescreen without run IDs leaves out: the latest run of each kind
    (:func:`tracker.store.latest_comparable_runs`) that kept no works, oldest first, each
    with why and the command that screens it again."""
    with_works = set(runs_with_works(store))
    return [_not_rescreened(store, r) for r in latest_comparable_runs(store)
            if r not in with_works]


@dataclass(slots=True)
class RescreenReport:
    """What changed for one run between its latest state and the new screening."""

    run_id: int
    compared_with_run: int
    new_run_id: int | None
    registry_from: str
    registry_to: str
    new: list[dict[str, Any]] = field(default_factory=list)
    listing_changed: list[dict[str, Any]] = field(default_factory=list)
    gone: list[dict[str, Any]] = field(default_factory=list)
    reviews_carried: int = 0
    dismissed_kept: list[str] = field(default_factory=list)
    review_again: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.new or self.listing_changed or self.gone or self.review_again)

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id, "compared_with_run": self.compared_with_run,
            "new_run_id": self.new_run_id, "registry_from": self.registry_from,
            "registry_to": self.registry_to, "changed": self.changed,
            "counts": {"new": len(self.new), "listing_changed": len(self.listing_changed),
                       "gone": len(self.gone), "reviews_carried": self.reviews_carried,
                       "dismissed_kept": len(self.dismissed_kept),
                       "review_again": len(self.review_again)},
            "new": self.new, "listing_changed": self.listing_changed, "gone": self.gone,
            "dismissed_kept": self.dismissed_kept, "review_again": self.review_again,
            "notes": self.notes,
        }


def settings_from_record(settings: dict[str, Any]) -> ScreenSettings:
    """The :class:`ScreenSettings` a run record holds (``ScreenSettings.to_json``).

    Examples
    --------
    >>> s = ScreenSettings(since=date(2020, 1, 1), lists=("BIS_ENTITY_LIST",))
    >>> settings_from_record(s.to_json()) == s
    True
    """
    known = set(ScreenSettings.__dataclass_fields__)
    kw: dict[str, Any] = {}
    for k, v in settings.items():
        if k not in known:
            continue
        if k in ("since", "until", "as_of"):
            v = date.fromisoformat(v) if v else None
        elif isinstance(v, list):
            v = tuple(v)
        kw[k] = v
    return ScreenSettings(**kw)


def _brief(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row.get(k, "") for k in ("finding_id", "work_id", "publication_date",
                                        "institution_name", "list", "list_entry_name",
                                        "entry_id", "listed_on", "listed_at_publication",
                                        "outcome")}


def _assessor(settings: ScreenSettings, registry: Registry
              ) -> Callable[[Finding, Any], Finding] | None:
    if settings.framework in ("", "none"):
        return None
    from tracker.frameworks import load_framework

    fw = load_framework(settings.framework)
    return fw.assessor(settings.as_of or date.today(), settings.lookback_years,
                       registry=registry)


def _matcher(settings: ScreenSettings, registry: Registry) -> object | None:
    if not settings.name_matching:
        return None
    from tracker.names import cached_name_matcher

    return cached_name_matcher(registry, fuzzy_threshold=settings.fuzzy_threshold)


def rescreen_run(store: Store, run_id: int, registry: Registry, *,
                 record: bool = True,
                 screen_fn: Callable[..., ScreenResult] = screen,
                 progress: Callable[[str, int, int | None], None] | None = None
                 ) -> RescreenReport:
    """Re-screen one stored run against ``registry`` and report what changed.

    Parameters
    ----------
    store : Store
    run_id : int
        The run screened first (a rescreen is compared with this run's latest state).
    registry : Registry
        Usually a registry version: ``VersionStore().load()``.
    record : bool
        Keep the report (and, when something changed, the new run) in the case file.
    screen_fn : callable
        What screens the works, given them all as one iterable.  With the default
        (:func:`tracker.screening.screen`) they are screened in consecutive shares, one
        process per core, by :func:`tracker.screening.screen_shares` (the same result).
    progress : callable, optional
        ``progress("run N", done, total)``: the stored works screened so far of all of them
        (``total`` None while they are read from the case file).

    Raises
    ------
    RescreenError
        No such run, or no works stored with it.
    """
    try:
        record_ = store.run_record(run_id)
    except StoreError as exc:
        raise RescreenError(str(exc)) from exc
    if progress is not None:  # before the first work is screened
        progress(f"run {run_id}", 0, None)
    stored = stored_works(store, run_id)
    if stored is None:
        raise RescreenError(_not_rescreened(store, run_id).text())
    earlier = [r for r in rescreens(store, run_id) if r["new_run_id"] is not None]
    base_id = earlier[-1]["new_run_id"] if earlier else run_id
    registry_from = store.run_record(base_id).get("registry", {}).get("version", "")
    settings = settings_from_record(record_.get("settings", {}))
    notes: list[str] = []
    if record_.get("subjects"):
        notes.append("the run had screening subjects; the rescreen screens every "
                     "authorship (subject/co-author relation not re-derived)")
    if "+" in registry_from:
        notes.append(f"the run used a user watchlist too ({registry_from}); the rescreen "
                     "uses the registry version only")
    n = stored.n_works
    how: dict[str, Any] = dict(
        registry=registry, settings=settings, name_matcher=_matcher(settings, registry),
        assessor=_assessor(settings, registry),
        progress=None if progress is None else (  # works screened, of all
            lambda _stage, done, _total: progress(f"run {run_id}", done, n)),
        command=["tracker", "rescreen", str(run_id)],
        extra_run={"rescreen": {"of_run": run_id, "compared_with_run": base_id,
                                "registry_from": registry_from}})
    if screen_fn is screen:
        # read as they are decompressed, in consecutive shares screened each in a process
        # of its own (the same result as one screen over all of them): 100,000 generated
        # works took 33.0 s and 2.9 GB when they were all built first, then screened in one
        parts = max(1, min(os.cpu_count() or 1, n // SHARE_WORKS))
        result, _ = screen_shares(stored.shares(parts), **how)
    else:
        result = screen_fn(stored.works(), **how)
    # read now, not before the screening: the forked processes need not hold it
    before = {r["finding_id"]: r for r in store.findings(base_id)}
    after = {f.finding_id: f.row() for f in result.findings}
    latest = store.latest_reviews()
    # a decision saved under a tie's former ID (its registry entry was merged since)
    carried_from: dict[str, str] = {}
    for f in result.findings:
        if f.finding_id in latest:
            continue
        for old_id, _old_entry in former_finding_ids(f, registry):
            if old_id in latest:
                carried_from[f.finding_id] = old_id
                latest[f.finding_id] = latest[old_id]
    rep = RescreenReport(run_id=run_id, compared_with_run=base_id, new_run_id=None,
                         registry_from=registry_from, registry_to=registry.version,
                         notes=notes)
    for fid in sorted(set(after) - set(before)):
        rep.new.append(_brief(after[fid]))
    for fid in sorted(set(before) - set(after)):
        row = _brief(before[fid])
        row["entry_removed"] = bool(row["entry_id"]) and \
            row["entry_id"] not in registry.entry_index
        rep.gone.append(row)
    for fid in sorted(set(before) & set(after)):
        ch = {k: {"before": before[fid].get(k, ""), "after": after[fid].get(k, "")}
              for k in DIFF_FIELDS if str(before[fid].get(k, "")) != str(after[fid].get(k, ""))}
        if ch:
            rep.listing_changed.append({"finding_id": fid, "changes": ch})
    for fid in sorted(set(after)):
        rev = latest.get(fid)
        if rev is None or rev["status"] == "unreviewed":
            continue
        rep.reviews_carried += 1
        if rev["status"] != "dismissed":
            continue
        old = before.get(fid) or before.get(carried_from.get(fid, ""))
        evidence = ({k: {"before": old.get(k, ""), "after": after[fid].get(k, "")}
                     for k in REVIEW_EVIDENCE
                     if str(old.get(k, "")) != str(after[fid].get(k, ""))}
                    if old is not None else {})
        if evidence:
            rep.review_again.append({"finding_id": fid, "evidence_changed": evidence})
        else:
            rep.dismissed_kept.append(fid)
    if record:
        if rep.changed:
            rep.new_run_id = store.record_run(result, registry=registry)
        record_rescreen(store, run_id, rep.new_run_id, registry_from=registry_from,
                        registry_to=registry.version, changed=rep.changed,
                        report=rep.to_json())
    return rep


def rescreen_runs(store: Store, registry: Registry, run_ids: Sequence[int] = (), *,
                  record: bool = True,
                  progress: Callable[[str, int, int | None], None] | None = None
                  ) -> list[RescreenReport]:
    """Re-screen the named runs, or each case as it was last screened: the newest finished
    run of each kind (:func:`tracker.store.latest_comparable_runs`) whose works are stored.
    An older run of the same screen is left out (a rerun of a screen supersedes it: its
    changes would be reported twice), and so are the runs rescreens recorded: a run is
    re-screened against its latest state (its last rescreen).  The cases whose latest run
    kept no works are :func:`not_rescreened`.

    ``progress(stage, done, total)``: for each run, ``stage`` ``run N``, its stored works
    screened so far of all of them.

    Raises
    ------
    RescreenError
        A named run cannot be re-screened (nothing recorded for any run).
    """
    stored = set(runs_with_works(store))
    if run_ids:
        targets = list(run_ids)
        missing = [r for r in targets if r not in stored]
        if missing:
            try:
                why = [_not_rescreened(store, r).text() for r in missing]
            except StoreError as exc:  # no such run
                raise RescreenError(str(exc)) from None
            raise RescreenError("; ".join(why))
    else:
        targets = [r for r in latest_comparable_runs(store) if r in stored]
    return [rescreen_run(store, run_id, registry, record=record, progress=progress)
            for run_id in targets]


def keep_works(result: ScreenResult, works: Iterable[Work | Any]) -> int | None:
    """Store the works a recorded run screened in its case file, for a later rescreen.

    Call it after the run was recorded (``result.run["case_file"]`` names the database
    and run); items that are not works (skipped records) are ignored.  Returns the
    number of works stored, or None when the run was not recorded.
    """
    case = result.run.get("case_file") or {}
    if not case.get("database") or not case.get("run_id"):
        return None
    with Store(case["database"]) as store:
        return store_run_works(store, int(case["run_id"]),
                               (w for w in works if isinstance(w, Work)))
