"""The screening pipeline: works in, evidence rows and a run record out.

Data flows one way: records → matching → assessment → (graph, report, exports).  This
module knows nothing about HTTP or files of works; callers hand it an iterable of
:class:`~tracker.records.Work` (or :class:`~tracker.skipped.SkippedRecord` for
records that could not be read, which are counted as data gaps).

Examples
--------
>>> from tracker.records import parse_work
>>> from tracker.watchlists import ListEntry, Registry
>>> hit = ListEntry(entry_id="BIS_ENTITY_LIST:hit", list="BIS_ENTITY_LIST",
...                 name="Harbin Institute of Technology", ror="01yqg2h08")
>>> reg = Registry([hit], lists=[], editions=[], version="t")
>>> w = parse_work({"id": "W1", "publication_date": "2021-01-01", "authorships": [
...     {"author": {"id": "A1"}, "institutions": [{"id": "I204983213",
...      "ror": "https://ror.org/01yqg2h08"}]}]})
>>> res = screen([w], registry=reg)
>>> [(f.list, f.match_method, f.listed_at_publication) for f in res.findings]
[('BIS_ENTITY_LIST', 'ror', 'unknown')]
"""

from __future__ import annotations

import contextlib
import functools
import gc
import os
import pickle
import platform
import signal
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, date, datetime
from typing import Any, Protocol

from tracker import __version__
from tracker.matching import Matcher, MatchMemo
from tracker.records import Authorship, Work
from tracker.risk import Finding, finding_order, make_finding
from tracker.skipped import SkippedRecord
from tracker.watchlists import Registry

__all__ = ["Progress", "ScreenResult", "ScreenSettings", "ShareSink", "SubjectSpec", "can_fork",
           "screen", "screen_shares"]

#: ``progress(stage, done, total)``; total is None when unknown.  Rendered by the CLI.
Progress = Callable[[str, int, "int | None"], None]

MAX_SKIPPED_LISTED = 200


@dataclass(frozen=True)
class SubjectSpec:
    """Who is screened, for telling the subject's own affiliations from co-authors'.

    ``kind`` is ``org`` (``ids`` are OpenAlex institution IDs; an authorship is the
    subject's when one of its institutions is, or sits under, one of them) or ``author``
    (``ids`` are OpenAlex author IDs).
    """

    kind: str
    ids: tuple[str, ...]
    label: str = ""
    given: str = ""
    notes: tuple[str, ...] = ()

    def owns(self, auth: Authorship) -> bool:
        if self.kind == "author":
            return auth.author_id in self.ids
        targets = set(self.ids)
        return any(i.id in targets or targets.intersection(i.lineage) for i in auth.institutions)

    def has_work(self, work: Work) -> bool:
        return any(self.owns(a) for a in work.authorships)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "ids": list(self.ids), "label": self.label,
                "given": self.given, "notes": list(self.notes)}


@dataclass(frozen=True)
class ScreenSettings:
    """What a screening run does.  Recorded verbatim in the run record."""

    since: date | None = None
    until: date | None = None
    lists: tuple[str, ...] = ()  # empty: every list in the registry
    topics: tuple[str, ...] = ()  # keep only works whose topics/keywords/title mention one
    name_matching: bool = True
    fuzzy_threshold: float = 92.0
    framework: str = "none"
    as_of: date | None = None
    lookback_years: int | None = None
    max_authors_for_ties: int = 100
    strategy: str = "files"

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        for k, v in d.items():
            if isinstance(v, date):
                d[k] = v.isoformat()
            elif isinstance(v, tuple):
                d[k] = list(v)
        return d


@dataclass
class ScreenResult:
    """Everything a run produced.  See :mod:`tracker.exports` for the report folder.

    ``findings``: a list, or from the engines a :class:`~tracker.findings.SpooledFindings`
    (past a set number, on disk and read back in order; change them with
    :func:`~tracker.findings.amend_findings`).  ``works``: the flagged works by ID (a dict,
    or from the engines a :class:`~tracker.records.PackedWorks`, which parses each work
    when read)."""

    findings: Sequence[Finding]
    works: Mapping[str, Work]
    run: dict[str, Any]
    subjects: dict[str, Any] = field(default_factory=dict)


#: The per-work counts of :class:`_Gaps`, in the order of :func:`_gap_vector`.
_GAP_FIELDS = ("works_without_authorships", "works_without_date", "works_year_only",
               "works_authors_truncated", "works_partial_record", "authorships",
               "authorships_without_institution", "authorships_without_institution_with_raw",
               "authorships_without_anything")


@dataclass
class _Gaps:
    works_read: int = 0
    works_skipped: int = 0
    works_out_of_window: int = 0
    works_off_topic: int = 0
    works_not_of_subject: int = 0
    works_duplicate: int = 0
    works_without_authorships: int = 0
    works_without_date: int = 0
    works_year_only: int = 0
    works_authors_truncated: int = 0
    works_partial_record: int = 0
    authorships: int = 0
    authorships_without_institution: int = 0
    authorships_without_institution_with_raw: int = 0
    authorships_without_anything: int = 0
    skipped: list[dict[str, str]] = field(default_factory=list)

    def add(self, names: Sequence[str], values: Sequence[int], sign: int = 1) -> None:
        for name, value in zip(names, values, strict=True):
            if value:
                setattr(self, name, getattr(self, name) + sign * value)


def in_window(work: Work, since: date | None, until: date | None) -> bool | None:
    """Is the work inside the publication-date window?  None: it has no date or year (not
    checked, counted as a data gap).  Used by the DuckDB engine too."""
    if since is None and until is None:
        return True
    if work.publication_date is not None:
        d = work.publication_date
        return (since is None or d >= since) and (until is None or d <= until)
    if work.publication_year is not None:
        y = work.publication_year
        # same year as a bound: keep; the finding says the date is year-only
        return not ((since and y < since.year) or (until and y > until.year))
    return None


@dataclass
class _Context:
    """What every share of a run is screened with (built once, before any process starts)."""

    settings: ScreenSettings
    registry: Registry
    matcher: Matcher
    subjects: Sequence[SubjectSpec]
    assessor: Callable[[Finding, Work], Finding] | None


@dataclass
class _Share:
    """What screening one share of the works gave, before the shares are joined.

    ``ledger`` (kept when a run has more than one share) holds, for each work screened, the
    counter it went to and its gap counts, so that a work already met in an earlier share
    can be taken back out and counted as a duplicate, as one pass over the file would.
    """

    items: int = 0
    gaps: _Gaps = field(default_factory=_Gaps)
    findings: list[Finding] = field(default_factory=list)
    flagged: dict[str, Work] = field(default_factory=dict)
    ledger: dict[str, tuple[str, tuple[int, ...]]] | None = None
    collected: Any = None


def _screen_share(works: Iterable[Work | SkippedRecord], ctx: _Context, *, ledger: bool,
                  progress: Progress | None = None) -> _Share:
    settings, subjects, assessor = ctx.settings, ctx.subjects, ctx.assessor
    match = MatchMemo(ctx.matcher)  # each distinct authorship matched once
    out = _Share(ledger={} if ledger else None)
    gaps, findings, flagged, book = out.gaps, out.findings, out.flagged, out.ledger
    seen_ids: set[str] = set()
    seen_findings: set[str] = set()
    topics = tuple(t.lower() for t in settings.topics)
    n = 0
    for item in works:
        n += 1
        if progress is not None and n % 500 == 0:
            progress("screen", n, None)
        if isinstance(item, SkippedRecord):
            gaps.works_skipped += 1
            if len(gaps.skipped) < MAX_SKIPPED_LISTED:
                gaps.skipped.append(item.to_json())
            continue
        work = item
        if work.id in seen_ids:
            gaps.works_duplicate += 1
            continue
        seen_ids.add(work.id)
        inside = in_window(work, settings.since, settings.until)
        if inside is False:
            gaps.works_out_of_window += 1
            if book is not None:
                book[work.id] = ("works_out_of_window", ())
            continue
        if topics and not any(t in work.subject_text() for t in topics):
            gaps.works_off_topic += 1
            if book is not None:
                book[work.id] = ("works_off_topic", ())
            continue
        if subjects and not any(s.has_work(work) for s in subjects):
            gaps.works_not_of_subject += 1
            if book is not None:
                book[work.id] = ("works_not_of_subject", ())
            continue
        gaps.works_read += 1
        vector = _gap_vector(work)
        gaps.add(_GAP_FIELDS, vector)
        if book is not None:
            book[work.id] = ("works_read", vector)
        work_gaps: list[str] = []
        if inside is None:
            work_gaps.append("no date: window not checked")
        if work.is_authors_truncated:
            work_gaps.append("author list truncated")
        for auth in work.authorships:
            matches = match(auth)
            if not matches:
                continue
            if subjects:
                relation = "subject" if any(s.owns(auth) for s in subjects) else "coauthor"
            else:
                relation = "unspecified"
            for m in matches:
                if m.context_only:
                    continue
                f = make_finding(work, auth, m, relation=relation, data_gaps=tuple(work_gaps))
                if f.finding_id in seen_findings:
                    continue  # same tie found twice (e.g. one institution under two IDs)
                seen_findings.add(f.finding_id)
                if assessor is not None:
                    f = assessor(f, work)
                findings.append(f)
                flagged[work.id] = work
    out.items = n
    return out


def _join(shares: Sequence[_Share]) -> _Share:
    """The shares as one pass over them in order would have screened them."""
    total = _Share(gaps=_Gaps())
    seen: set[str] = set()
    names = [f.name for f in fields(_Gaps) if f.name != "skipped"]
    for share in shares:
        gaps = share.gaps
        book = share.ledger or {}
        again = seen.intersection(book) if seen else set()
        if again:  # met in an earlier share: one pass would have counted a duplicate
            gaps = replace(gaps)
            for wid in again:
                counter, vector = book[wid]
                gaps.add((counter, "works_duplicate"), (-1, 1))
                if vector:  # a work read and counted, not one left out of the window
                    gaps.add(_GAP_FIELDS, vector, -1)
        seen.update(book)
        total.items += share.items
        total.gaps.add(names, [getattr(gaps, name) for name in names])
        room = MAX_SKIPPED_LISTED - len(total.gaps.skipped)
        total.gaps.skipped.extend(gaps.skipped[:max(room, 0)])
        total.findings.extend(f for f in share.findings if f.work_id not in again)
        total.flagged.update((k, w) for k, w in share.flagged.items() if k not in again)
    return total


def _context(registry: Registry, settings: ScreenSettings, subjects: Sequence[SubjectSpec],
             name_matcher: object | None,
             assessor: Callable[[Finding, Work], Finding] | None) -> _Context:
    reg = registry.restricted_to(settings.lists) if settings.lists else registry
    # the run record says what was done: names are matched only with a matcher, and only
    # when the settings ask for it
    names = settings.name_matching and name_matcher is not None
    if names != settings.name_matching:
        settings = replace(settings, name_matching=names)
    return _Context(settings, reg, Matcher(reg, name_matcher=name_matcher if names else None),
                    subjects, assessor)


def _result(ctx: _Context, total: _Share, started: datetime, command: Sequence[str],
            inputs: Sequence[dict[str, Any]], extra_run: dict[str, Any] | None
            ) -> ScreenResult:
    findings = total.findings
    findings.sort(key=finding_order)
    finished = datetime.now(UTC)
    run = _run_record(ctx.settings, ctx.registry, total.gaps, findings, ctx.subjects, started,
                      finished, command, inputs, extra_run or {})
    return ScreenResult(findings=findings, works=total.flagged, run=run,
                        subjects={"items": [s.to_json() for s in ctx.subjects]})


def screen(
    works: Iterable[Work | SkippedRecord],
    *,
    registry: Registry,
    settings: ScreenSettings | None = None,
    subjects: Sequence[SubjectSpec] = (),
    name_matcher: object | None = None,
    assessor: Callable[[Finding, Work], Finding] | None = None,
    progress: Progress | None = None,
    command: Sequence[str] = (),
    inputs: Sequence[dict[str, Any]] = (),
    extra_run: dict[str, Any] | None = None,
) -> ScreenResult:
    """Screen works against the registry.

    Parameters
    ----------
    works : iterable of Work or SkippedRecord
    registry : Registry
    settings : ScreenSettings, optional
    subjects : sequence of SubjectSpec
        When given, each finding says whether the tie is the subject's own affiliation
        (``relation="subject"``) or a co-author's (``"coauthor"``); works with no
        authorship of a subject are not screened (counted as ``works_not_of_subject``).
    name_matcher : object, optional
        A :class:`tracker.names.NameMatcher` (raw-string matching); None: identifiers only,
        and the run record's ``settings.name_matching`` says so (false) whatever
        ``settings`` asked.  :func:`tracker.runs.run` builds the matcher for you.
    assessor : callable, optional
        ``(finding, work) -> finding``, applying a framework's rules.
    progress : callable, optional
        ``progress(stage, done, total)``.

    Returns
    -------
    ScreenResult
    """
    settings = settings or ScreenSettings()
    started = datetime.now(UTC)
    ctx = _context(registry, settings, subjects, name_matcher, assessor)
    share = _screen_share(works, ctx, ledger=False, progress=progress)
    if progress is not None:
        progress("screen", share.items, share.items)
    return _result(ctx, share, started, command, inputs, extra_run)


class ShareSink(Protocol):
    """What :func:`screen_shares` gives each Work of a share as it is read (``sink``)."""

    def add(self, work: Work) -> None:
        """Take one work."""

    def done(self) -> Any:
        """What the share's works made, sent back from its process (picklable)."""


def _passed_to(items: Iterable[Work | SkippedRecord], sink: ShareSink
               ) -> Iterator[Work | SkippedRecord]:
    """``items`` as they come, each Work given to ``sink`` first."""
    add = sink.add
    for item in items:
        if isinstance(item, Work):
            add(item)
        yield item


def screen_shares(
    shares: Sequence[Callable[[], Iterable[Work | SkippedRecord]]],
    *,
    registry: Registry,
    settings: ScreenSettings | None = None,
    subjects: Sequence[SubjectSpec] = (),
    name_matcher: object | None = None,
    assessor: Callable[[Finding, Work], Finding] | None = None,
    progress: Progress | None = None,
    command: Sequence[str] = (),
    inputs: Sequence[dict[str, Any]] = (),
    extra_run: dict[str, Any] | None = None,
    collect: Callable[[list[Work]], Any] | None = None,
    sink: Callable[[], ShareSink] | None = None,
    processes: bool = True,
) -> tuple[ScreenResult, list[Any]]:
    """Screen consecutive shares of the works, each in its own process; the same result as
    :func:`screen` over all of them in order.

    The first share is read in this process, the others in forked processes that return
    only what the result keeps: findings, flagged works and counts.  A work met again in a
    later share is counted as a duplicate, as one pass would count it.  Where processes
    cannot be forked (no ``os.fork``, or other threads running, which a fork could leave
    holding a lock), the shares are screened here one after another, with the same result.

    Parameters
    ----------
    shares : sequence of callables
        Each returns an iterable of Work or SkippedRecord, such as the
        :class:`~tracker.sources.files.WorksPart` items of
        :func:`~tracker.sources.files.split_works`.
    collect : callable, optional
        ``collect(works)`` runs on each share's works (every Work it read, duplicates and
        works outside the window included) in the process that read them, e.g.
        :func:`tracker.graph.coauthor_share`; its results come back in share order.
    sink : callable, optional
        Instead of ``collect``: ``sink()`` makes a :class:`ShareSink` for each share, which
        is given every Work the share reads (as ``collect``'s works) one at a time, as it
        is read (the share is never held whole); each sink's ``done()`` comes back in
        share order.  E.g. :class:`tracker.store.WorksPacker`, which keeps a run's works
        while they are screened.
    processes : bool, default True
        False: screen every share in this process.
    registry, settings, subjects, name_matcher, assessor, progress, command, inputs, extra_run
        As for :func:`screen`; ``progress`` counts the first share's works as it goes.

    Returns
    -------
    (ScreenResult, list)
        The result, and ``collect``'s (or ``sink``'s) result per share (empty without
        either).

    Examples
    --------
    >>> import tracker
    >>> from tracker.sources.files import split_works
    >>> reg = tracker.load_registry()
    >>> path = tracker.demo_works_path()
    >>> one = tracker.screen(tracker.read_works(path), registry=reg)
    >>> two, _ = screen_shares(split_works(path, 2, min_bytes=0), registry=reg)
    >>> [f.finding_id for f in two.findings] == [f.finding_id for f in one.findings]
    True
    """
    settings = settings or ScreenSettings()
    started = datetime.now(UTC)
    ctx = _context(registry, settings, subjects, name_matcher, assessor)
    ledger = len(shares) > 1

    if collect is not None and sink is not None:
        raise ValueError("screen_shares: give collect or sink, not both")

    def run(i: int, report: Progress | None) -> _Share:
        if sink is not None:
            into = sink()
            out = _screen_share(_passed_to(shares[i](), into), ctx, ledger=ledger,
                                progress=report)
            out.collected = into.done()
            return out
        if collect is None:
            return _screen_share(shares[i](), ctx, ledger=ledger, progress=report)
        items = list(shares[i]())
        out = _screen_share(items, ctx, ledger=ledger, progress=report)
        out.collected = collect([w for w in items if isinstance(w, Work)])
        return out

    children: dict[int, tuple[int, int]] = {}
    try:
        if processes and len(shares) > 1 and can_fork():
            for i in range(1, len(shares)):
                children[i] = _fork(functools.partial(run, i, None))
        done = [run(0, progress)]
        for i in range(1, len(shares)):
            child = children.pop(i, None)
            answer = _wait(*child) if child is not None else None
            if answer is None:  # not forked, or the process died without an answer
                done.append(run(i, None))
            elif answer[0] == "error":
                raise answer[1]
            else:
                done.append(answer[1])
    finally:
        for pid, fd in children.values():  # an error or Ctrl-C here: stop the others
            _stop(pid, fd)
    total = _join(done)
    if progress is not None:
        progress("screen", total.items, total.items)
    return (_result(ctx, total, started, command, inputs, extra_run),
            [s.collected for s in done] if collect is not None or sink is not None else [])


def can_fork() -> bool:
    """Whether :func:`screen_shares` forks a process per share now: only on Linux and
    only while this process runs one thread (otherwise it reads them one after another).

    A forked child inherits just the calling thread: a lock another thread held (a
    logging handler, an HTTP pool) stays held forever in the child.  macOS system
    frameworks are not fork-safe either, so shares run in-process there.

    Returns
    -------
    bool

    Examples
    --------
    >>> import threading
    >>> stop = threading.Event()
    >>> t = threading.Thread(target=stop.wait); t.start()
    >>> can_fork()  # another thread runs
    False
    >>> stop.set(); t.join()
    """
    return (
        sys.platform.startswith("linux")
        and hasattr(os, "fork")
        and threading.active_count() == 1
    )


def _fork(task: Callable[[], Any]) -> tuple[int, int]:
    """Run ``task`` in a forked process; its pickled ``("ok", value)`` or ``("error",
    exception)`` comes back on a pipe (see :func:`_wait`).

    The value is pickled straight into the pipe while the parent unpickles it, rather than
    pickled whole and then sent: at 100,000 synthetic works the two took 1.8 s and 1.0 s one
    after the other.  A pickling failure part-way leaves a cut-off stream and exit code 1,
    which the parent treats as no answer.  The child leaves with ``os._exit``: no ``atexit``
    handlers, no flush of the buffers it inherited, so nothing the parent had pending is
    written twice.
    """
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid:
        os.close(write_fd)
        return pid, read_fd
    code = 0
    try:  # pragma: no cover - runs in the child; coverage cannot see it
        os.close(read_fd)
        with contextlib.suppress(ImportError, OSError):  # fewer, larger writes (Linux)
            import fcntl
            fcntl.fcntl(write_fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), 1 << 20)
        with os.fdopen(write_fd, "wb") as fh:
            try:
                value = task()
            except BaseException as exc:
                code = 1
                try:
                    payload = pickle.dumps(("error", exc))
                except Exception:
                    payload = pickle.dumps(
                        ("error", RuntimeError(f"{type(exc).__name__}: {exc}")))
                fh.write(payload)
            else:
                code = 1  # until the whole answer is written
                gc.disable()  # the pickle holds no cycles; collections would only slow it
                pickle.dump(("ok", value), fh, protocol=pickle.HIGHEST_PROTOCOL)
                fh.flush()
                code = 0
    finally:
        os._exit(code)


def _wait(pid: int, fd: int) -> tuple[str, Any] | None:
    """The child's answer, unpickled as it arrives, or None when there is no whole answer
    (the child was killed, ran out of memory or could not pickle its value)."""
    enabled = gc.isenabled()
    gc.disable()  # a hundred thousand new objects, no cycles: collections would free nothing
    answer: tuple[str, Any] | None
    try:
        with os.fdopen(fd, "rb") as fh:
            try:
                answer = pickle.load(fh)  # our own child's, from a pipe
            except Exception:  # cut off: EOFError, UnpicklingError and the like
                answer = None
    except BaseException:  # Ctrl-C while waiting: the child stops too
        _stop(pid, None)
        raise
    finally:
        # long-lived records, as this process's own share's are: out of the collector's
        # sight (see tracker.sources.files._parse_batch), or its next passes scan them all
        gc.freeze()
        if enabled:
            gc.enable()
    _, status = os.waitpid(pid, 0)
    if answer is None or not isinstance(answer, tuple) or len(answer) != 2:
        return None
    if answer[0] == "ok" and os.waitstatus_to_exitcode(status) != 0:
        return None  # pickled whole but the child did not finish cleanly
    return answer


def _stop(pid: int, fd: int | None) -> None:
    """Kill a child and reap it; close its pipe unless that is closed already (None)."""
    with contextlib.suppress(OSError):
        os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(OSError):
        os.waitpid(pid, 0)
    if fd is not None:
        with contextlib.suppress(OSError):
            os.close(fd)


def _gap_vector(work: Work) -> tuple[int, ...]:
    """This work's data-gap counts, for :data:`_GAP_FIELDS`: added to the share's gaps, and
    kept in the ledger to take the work back out when a later share met it again."""
    no_inst = with_raw = nothing = 0
    for a in work.authorships:
        if not a.institutions:
            no_inst += 1
            if a.raw_affiliations:
                with_raw += 1
            else:
                nothing += 1
    undated = work.publication_date is None
    return (int(not work.authorships), int(undated and work.publication_year is None),
            int(undated and work.publication_year is not None),
            int(bool(work.is_authors_truncated)),
            int("authorships" not in work.fields_present
                or "publication_date" not in work.fields_present),
            len(work.authorships), no_inst, with_raw, nothing)


def _run_record(
    settings: ScreenSettings,
    reg: Registry,
    gaps: _Gaps,
    findings: list[Finding],
    subjects: Sequence[SubjectSpec],
    started: datetime,
    finished: datetime,
    command: Sequence[str],
    inputs: Sequence[dict[str, Any]],
    extra: dict[str, Any],
) -> dict[str, Any]:
    by_list = Counter(f.list for f in findings)
    gap_d = {k: v for k, v in asdict(gaps).items() if k not in ("skipped",)}
    data_gaps = {
        "records_skipped": gaps.works_skipped,
        "skipped": gaps.skipped,
        "works_without_authorships": gaps.works_without_authorships,
        "works_without_date": gaps.works_without_date,
        "works_year_only": gaps.works_year_only,
        "works_authors_truncated": gaps.works_authors_truncated,
        "works_partial_record": gaps.works_partial_record,
        "authorships_without_institution": gaps.authorships_without_institution,
        "authorships_without_institution_with_raw": gaps.authorships_without_institution_with_raw,
        "authorships_without_anything": gaps.authorships_without_anything,
        "entries_without_listing_date": sum(1 for e in reg if e.listed_on is None),
        "entries_without_ror_or_openalex_id": sum(1 for e in reg
                                                   if not e.ror and not e.openalex_ids),
        "name_matching": "on" if settings.name_matching else
                         "off: ties visible only in raw affiliation strings are not found",
    }
    return {
        "tool": "tracker",
        "version": __version__,
        "command": list(command),
        "settings": settings.to_json(),
        "inputs": list(inputs),
        "subjects": [s.to_json() for s in subjects],
        "registry": {
            "version": reg.version,
            "lists": sorted(reg.lists),
            "editions": reg.describe(),
        },
        "counts": {
            "works_read": gaps.works_read,
            "works_skipped": gaps.works_skipped,
            "works_out_of_window": gap_d["works_out_of_window"],
            "works_off_topic": gap_d["works_off_topic"],
            "works_not_of_subject": gap_d["works_not_of_subject"],
            "works_duplicate": gap_d["works_duplicate"],
            "works_flagged": len({f.work_id for f in findings}),
            "authorships": gaps.authorships,
            "findings": len(findings),
            "findings_by_list": dict(sorted(by_list.items())),
            "findings_by_method": dict(sorted(Counter(f.match_method for f in findings).items())),
        },
        "data_gaps": data_gaps,
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": finished.isoformat(timespec="seconds"),
        "environment": {"python": sys.version.split()[0], "platform": platform.platform()},
        **extra,
    }
