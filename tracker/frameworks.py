"""Policy frameworks as data: dated rules that turn a finding into an outcome for review.

Each framework is one YAML file in ``tracker/data/frameworks/`` (see ``lookback.yaml``).
A rule says which ties it concerns (``relation``: ``coauthor`` | ``subject`` | ``any``;
``lists``: list codes or ``"*"`` for every designation list), which works
(``window``: ``lookback:Ny`` before the as-of date, ``after:YYYY-MM-DD``, or ``current``:
any work dated on or before the as-of date), which listing date counts
(``date_basis``: ``listed_at_publication`` or ``listed_now``, i.e. listed on the as-of
date), and its ``outcome`` text, ``tag`` (``C`` confirmed by the cited source, ``R``
reported by a secondary source, ``V`` unconfirmed) and ``source_url``.

Without a subject (``tracker demo``, or ``screen --works`` without ``--org``/``--author``)
a tie's relation is ``unspecified``: ``coauthor`` rules apply to it (the outcome says the
relation is not known) and ``subject`` rules never do, since nothing shows the affiliation
is the subject's own.

Rules are tried in order; the first one that is not ruled out decides.  When a needed date
is unknown the outcome says so and starts with ``review``: an unknown date stays unknown.
A rule resting on ``[V]`` text can only produce a ``review`` outcome.  Context lists (ASPI)
never become designations: their findings keep the ``context:`` outcome.

Examples
--------
>>> fw = load_framework("ca-strac")
>>> [(r.id, r.relation, r.tag) for r in fw.rules]
[('ca-strac-affiliation', 'subject', 'C'), ('ca-strac-coauthor', 'coauthor', 'V')]
>>> "dow-2026" in available_frameworks()
True
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from importlib import resources
from typing import Any

from tracker.dates import parse_date
from tracker.records import Work
from tracker.risk import Finding
from tracker.watchlists import CONTEXT_LISTS, DESIGNATION_LISTS, Registry

__all__ = [
    "BANNED_OUTCOME_WORDS",
    "Framework",
    "FrameworkError",
    "Rule",
    "available_frameworks",
    "listed_now",
    "load_framework",
    "parse_framework",
    "work_in_window",
]

RELATIONS = ("coauthor", "subject", "any")
DATE_BASES = ("listed_at_publication", "listed_now")
TAGS = ("C", "R", "V")
#: Words an outcome must never use: a finding is evidence for review, not a verdict.
BANNED_OUTCOME_WORDS = ("violation", "guilty", "cleared", "compliant")
_WINDOW_RE = re.compile(r"^(?:lookback:(?P<years>[1-9][0-9]?)y|after:(?P<after>\d{4}-\d{2}-\d{2})"
                        r"|(?P<current>current))$")
_OUTCOME_PREFIXES = ("flag:", "review:")


class FrameworkError(ValueError):
    """A framework file is missing or malformed.  Abort: screening under a half-read
    framework would give outcomes no rule supports."""


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule of a framework (see the module docstring for the fields)."""

    id: str
    relation: str
    lists: tuple[str, ...]
    window: str
    date_basis: str
    outcome: str
    tag: str
    source_url: str

    def concerns(self, finding: Finding) -> bool:
        """Does this rule look at this tie at all (relation and list)?"""
        if "*" not in self.lists and finding.list not in self.lists:
            return False
        if self.relation == "any":
            return True
        if self.relation == "subject":
            return finding.relation == "subject"
        # a tie whose relation is unspecified (no subject given) is at least a co-authorship
        return finding.relation in ("coauthor", "unspecified")

    @property
    def lookback_years(self) -> int | None:
        m = _WINDOW_RE.match(self.window)
        return int(m.group("years")) if m and m.group("years") else None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "relation": self.relation, "lists": list(self.lists),
                "window": self.window, "date_basis": self.date_basis,
                "outcome": self.outcome, "tag": self.tag, "source_url": self.source_url}


def _years_before(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year - years)
    except ValueError:  # 29 February
        return d.replace(year=d.year - years, day=28)


def work_in_window(publication_date: str, window: str, as_of: date,
                   lookback_years: int | None = None) -> tuple[str, str]:
    """Is a work dated ``publication_date`` (``YYYY-MM-DD``, ``YYYY`` or empty) in ``window``?

    Returns
    -------
    (answer, why)
        ``answer`` is ``yes``, ``no`` or ``unknown`` (no date, or a year that straddles a
        bound).  ``lookback_years`` overrides the rule's number of years.

    Examples
    --------
    >>> work_in_window("2021-11-23", "lookback:5y", date(2026, 11, 23))[0]
    'yes'
    >>> work_in_window("2021-11-22", "lookback:5y", date(2026, 11, 23))[0]
    'no'
    >>> work_in_window("2021", "lookback:5y", date(2026, 11, 23))[0]
    'unknown'
    >>> work_in_window("2022-08-09", "after:2022-08-09", date(2026, 1, 1))[0]
    'yes'
    >>> work_in_window("", "current", date(2026, 1, 1))[0]
    'yes'
    """
    m = _WINDOW_RE.match(window)
    if m is None:
        raise FrameworkError(f"window {window!r}: not lookback:Ny, after:YYYY-MM-DD or current")
    lo: date | None
    if m.group("years"):
        years = lookback_years if lookback_years is not None else int(m.group("years"))
        lo, hi = _years_before(as_of, years), as_of
        label = f"within {years} years before {as_of.isoformat()} (from {lo.isoformat()})"
    elif m.group("after"):
        lo, hi = date.fromisoformat(m.group("after")), as_of
        label = f"on or after {lo.isoformat()} and not after {as_of.isoformat()}"
    else:
        lo, hi = None, as_of
        label = f"not after {as_of.isoformat()} (the relationship is judged as of then)"
        if not publication_date:
            return "yes", f"work date unknown; the rule looks at the state on {as_of}"
    if not publication_date:
        return "unknown", f"the work has no date; window {label}"
    if len(publication_date) == 4:
        y = int(publication_date)
        first, last = date(y, 1, 1), date(y, 12, 31)
        if (lo is None or first >= lo) and last <= hi:
            return "yes", f"year {y} {label}"
        if (lo is not None and last < lo) or first > hi:
            return "no", f"year {y} outside the window ({label})"
        return "unknown", f"only the year {y} is known and it straddles the window ({label})"
    d = date.fromisoformat(publication_date[:10])
    if (lo is None or d >= lo) and d <= hi:
        return "yes", f"{d.isoformat()} {label}"
    return "no", f"{d.isoformat()} outside the window ({label})"


def _day_of(value: str) -> date | None:
    """The day of an ISO date or timestamp; a year alone (or nothing) is None."""
    return parse_date(value, prefix=True) if value and len(value) >= 10 else None


def listed_now(finding: Finding, as_of: date,
               registry: Registry | None = None) -> tuple[str, str]:
    """Was the finding's list entry listed on ``as_of``?

    With ``registry``, an entry counts as listed only if it is in the list's latest edition
    (once that edition is in force, or the list's data date has passed) or in the latest
    dated edition on or before ``as_of``; without it, the finding's own ``listed_on`` and
    ``removed_on`` decide.  Nothing is guessed: otherwise the answer is ``unknown``.

    Returns
    -------
    (answer, why)
        ``answer`` is ``yes``, ``no`` or ``unknown``.

    Examples
    --------
    >>> from tracker.risk import Finding
    >>> f = Finding(*([""] * 14), listed_on="2020-06-05", listed_at_publication="no",
    ...             match_method="ror", match_detail="", outcome="")
    >>> listed_now(f, date(2020, 6, 5))[0], listed_now(f, date(2020, 6, 4))[0]
    ('yes', 'no')
    """
    removed, listed = _day_of(finding.removed_on), _day_of(finding.listed_on)
    if removed is not None and as_of >= removed:
        return "no", f"removed on {removed.isoformat()}"
    if listed is not None and as_of < listed:
        return "no", f"listed on {listed.isoformat()}, after {as_of.isoformat()}"
    entry = registry.entry_index.get(finding.entry_id) if registry is not None else None
    if registry is not None and entry is not None:
        eds = [ed for ed in registry.editions if ed.list == entry.list]
        info = registry.lists.get(entry.list)
        if eds:
            latest = eds[-1]
            in_force = latest.published_on or (info.data_date if info else None)
            if in_force is not None and as_of >= in_force:
                if latest.edition in entry.editions:
                    return "yes", (f"in the latest {entry.list} edition held "
                                   f"({latest.edition}, data of {in_force.isoformat()})")
                return "no", f"not in the latest {entry.list} edition held ({latest.edition})"
            dated = [i for i, ed in enumerate(eds) if ed.published_on is not None
                     and ed.published_on <= as_of]
            if dated:
                # the latest edition known to be out by as_of, and any later undated ones
                # (which may also have been out by then)
                maybe = [eds[dated[-1]]]
                for ed in eds[dated[-1] + 1:]:
                    if ed.published_on is not None:
                        break
                    maybe.append(ed)
                answers = {ed.edition in entry.editions for ed in maybe}
                names = ", ".join(ed.edition for ed in maybe)
                if answers == {True}:
                    return "yes", f"in the {entry.list} edition(s) in force then: {names}"
                if answers == {False}:
                    return "no", f"not in the {entry.list} edition(s) in force then: {names}"
                return "unknown", (f"which {entry.list} edition was in force on "
                                   f"{as_of.isoformat()} is not known ({names})")
    if listed is not None:
        return "yes", f"listed on {listed.isoformat()}, not removed by {as_of.isoformat()}"
    return "unknown", "no source gives this entry's listing date"


@dataclass(frozen=True, slots=True)
class Framework:
    """A named set of dated rules (one YAML file)."""

    name: str
    title: str
    effective_from: date | None
    source_url: str
    notes: str
    otherwise: str
    rules: tuple[Rule, ...]
    lists_not_bundled: tuple[str, ...] = ()
    sha256: str = ""

    @property
    def has_lookback(self) -> bool:
        return any(r.lookback_years is not None for r in self.rules)

    def to_json(self) -> dict[str, Any]:
        """What a run record keeps about the framework."""
        return {
            "name": self.name, "title": self.title,
            "effective_from": self.effective_from.isoformat() if self.effective_from else None,
            "source_url": self.source_url, "notes": self.notes, "otherwise": self.otherwise,
            "lists_not_bundled": list(self.lists_not_bundled), "sha256": self.sha256,
            "rules": [r.to_json() for r in self.rules],
        }

    def assess(self, finding: Finding, as_of: date, lookback_years: int | None = None,
               registry: Registry | None = None) -> Finding:
        """The finding with this framework's outcome (a new object; the input is unchanged).

        ``extra`` gains ``framework``, ``rule_id``, ``rule_tag``, ``as_of`` and
        ``listed_now``; ``reason`` gains the as-of listing status.
        """
        now, now_why = listed_now(finding, as_of, registry)
        extra = {**finding.extra, "framework": self.name, "as_of": as_of.isoformat(),
                 "listed_now": now, "rule_id": "", "rule_tag": ""}
        reason = f"{finding.reason}; as of {as_of.isoformat()}: listed {now} ({now_why})"
        if not finding.is_designation or finding.list in CONTEXT_LISTS:
            return replace(finding, extra=extra, reason=reason)
        if self.effective_from is not None and as_of < self.effective_from:
            outcome = (f"review: {self.name} took effect on {self.effective_from.isoformat()}, "
                       f"after the as-of date {as_of.isoformat()}; no rule applied")
            return replace(finding, outcome=outcome, extra=extra, reason=reason)
        for rule in self.rules:
            if not rule.concerns(finding):
                continue
            inside, window_why = work_in_window(finding.publication_date, rule.window, as_of,
                                                lookback_years)
            listed = (finding.listed_at_publication if rule.date_basis ==
                      "listed_at_publication" else now)
            if inside == "no" or listed == "no":
                continue
            label = f"[{self.name} rule {rule.id}, tag {rule.tag}]"
            if inside == "yes" and listed == "yes":
                outcome = f"{rule.outcome} {label}"
            else:
                why = window_why if inside == "unknown" else (
                    "listing at publication unknown" if rule.date_basis ==
                    "listed_at_publication" else f"listing on {as_of.isoformat()} unknown")
                outcome = f"review: unknown whether this rule applies ({why}); if it does: " \
                          f"{rule.outcome} {label}"
            if finding.relation == "unspecified" and rule.relation == "coauthor":
                outcome += " (relation not known: no subject was given)"
            extra.update(rule_id=rule.id, rule_tag=rule.tag)
            return replace(finding, outcome=outcome, extra=extra,
                           reason=f"{reason}; window: {window_why}")
        return replace(finding, outcome=f"{self.otherwise} [{self.name}]", extra=extra,
                       reason=reason)

    def assessor(self, as_of: date, lookback_years: int | None = None, *,
                 registry: Registry | None = None) -> Callable[[Finding, Work], Finding]:
        """The ``(finding, work) -> finding`` hook for :func:`tracker.screening.screen`.

        Parameters
        ----------
        as_of : date
            The review date: look-back windows end here and ``listed_now`` is judged here.
        lookback_years : int, optional
            Replaces the years of every ``lookback`` window.
        registry : Registry, optional
            The registry screened against, so ``listed_now`` can use list editions.

        Examples
        --------
        >>> import tracker
        >>> reg = tracker.load_registry()
        >>> fw = load_framework("dow-2026")
        >>> res = tracker.screen(tracker.read_works(tracker.demo_works_path()), registry=reg,
        ...                      assessor=fw.assessor(date(2026, 11, 23), registry=reg))
        >>> all(f.outcome.startswith(("flag", "review", "context")) for f in res.findings)
        True
        """
        if lookback_years is not None:
            if lookback_years < 1:
                raise FrameworkError(f"look-back must be at least 1 year, not {lookback_years}")
            if not self.has_lookback:
                raise FrameworkError(f"framework {self.name} has no look-back window to set")

        def assess(finding: Finding, work: Work) -> Finding:
            return self.assess(finding, as_of, lookback_years, registry)

        return assess


def _frameworks_dir() -> Any:
    return resources.files("tracker").joinpath("data/frameworks")


def available_frameworks() -> list[str]:
    """Names of the bundled frameworks (file names without ``.yaml``).

    Examples
    --------
    >>> available_frameworks()[:2]
    ['ca-strac', 'dod-2023']
    """
    return sorted(p.name[:-5] for p in _frameworks_dir().iterdir() if p.name.endswith(".yaml"))


def _fail(name: str, where: str, problem: str) -> FrameworkError:
    return FrameworkError(f"framework {name}: {where}: {problem}")


def _date_field(name: str, value: object, where: str) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise _fail(name, where, f"not a date YYYY-MM-DD: {value!r}") from None


def _check_outcome(name: str, where: str, text: object, *, tag: str | None = None) -> str:
    if not isinstance(text, str) or not text.strip():
        raise _fail(name, where, "outcome text is required")
    low = text.lower()
    for word in BANNED_OUTCOME_WORDS:
        if word in low:
            raise _fail(name, where, f"outcome uses {word!r}: a finding is evidence for "
                                     "review, not a verdict")
    if not low.startswith(_OUTCOME_PREFIXES):
        raise _fail(name, where, f"outcome must start with one of {', '.join(_OUTCOME_PREFIXES)}")
    if tag == "V" and not low.startswith("review"):
        raise _fail(name, where, "a rule resting on unconfirmed [V] text must yield an "
                                 "outcome starting 'review'")
    return text.strip()


def _rule(name: str, i: int, raw: object) -> Rule:
    where = f"rules[{i}]"
    if not isinstance(raw, dict):
        raise _fail(name, where, "each rule must be a mapping")
    fields = ("id", "relation", "lists", "window", "date_basis", "outcome", "tag", "source_url")
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise _fail(name, where, f"unknown field {unknown[0]!r}; allowed: {', '.join(fields)}")
    missing = [f for f in fields if raw.get(f) in (None, "", [])]
    if missing:
        raise _fail(name, where, f"field {missing[0]!r} is required")
    rid = str(raw["id"])
    where = f"rule {rid}"
    if raw["relation"] not in RELATIONS:
        raise _fail(name, where, f"relation {raw['relation']!r} not one of {', '.join(RELATIONS)}")
    lists = raw["lists"]
    if not isinstance(lists, list) or not all(isinstance(c, str) for c in lists):
        raise _fail(name, where, "lists must be a list of list codes")
    for c in lists:
        if c in CONTEXT_LISTS:
            raise _fail(name, where, f"{c} is context, not a designation; it cannot drive "
                                     "an outcome")
        if c != "*" and c not in DESIGNATION_LISTS:
            raise _fail(name, where, f"unknown list code {c!r}")
    if not _WINDOW_RE.match(str(raw["window"])):
        raise _fail(name, where, f"window {raw['window']!r}: not lookback:Ny, "
                                 "after:YYYY-MM-DD or current")
    if raw["date_basis"] not in DATE_BASES:
        raise _fail(name, where, f"date_basis {raw['date_basis']!r} not one of "
                                 f"{', '.join(DATE_BASES)}")
    tag = str(raw["tag"])
    if tag not in TAGS:
        raise _fail(name, where, f"tag {tag!r} not one of {', '.join(TAGS)}")
    url = str(raw["source_url"])
    if not url.startswith(("http://", "https://")):
        raise _fail(name, where, f"source_url must be a web address: {url!r}")
    return Rule(id=rid, relation=raw["relation"], lists=tuple(lists), window=str(raw["window"]),
                date_basis=raw["date_basis"], outcome=_check_outcome(name, where, raw["outcome"],
                                                                     tag=tag),
                tag=tag, source_url=url)


def parse_framework(name: str, text: str) -> Framework:
    """Read and check one framework's YAML text.

    Raises
    ------
    FrameworkError
        The text breaks a rule of the format; the message names the framework and rule.
    """
    import yaml

    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise _fail(name, "(yaml)", str(exc).splitlines()[0]) from None
    if not isinstance(doc, dict):
        raise _fail(name, "(file)", "must be a mapping with framework, title and rules")
    allowed = {"framework", "title", "effective_from", "effective_from_source", "source_url",
               "notes", "otherwise", "rules", "lists_not_bundled"}
    unknown = sorted(set(doc) - allowed)
    if unknown:
        raise _fail(name, unknown[0], f"unknown key; allowed: {', '.join(sorted(allowed))}")
    if doc.get("framework") != name:
        raise _fail(name, "framework", f"names {doc.get('framework')!r}, not the file's {name!r}")
    rules_raw = doc.get("rules")
    if not isinstance(rules_raw, list) or not rules_raw:
        raise _fail(name, "rules", "a non-empty list of rules is required")
    rules = tuple(_rule(name, i, r) for i, r in enumerate(rules_raw))
    ids = [r.id for r in rules]
    dup = next((i for i in ids if ids.count(i) > 1), None)
    if dup:
        raise _fail(name, f"rule {dup}", "duplicate rule id")
    otherwise = _check_outcome(name, "otherwise", doc.get("otherwise"))
    if not otherwise.lower().startswith("review"):
        raise _fail(name, "otherwise", "the outcome when no rule applies must start 'review'")
    return Framework(
        name=name, title=str(doc.get("title") or name),
        effective_from=_date_field(name, doc.get("effective_from"), "effective_from"),
        source_url=str(doc.get("source_url") or ""), notes=str(doc.get("notes") or ""),
        otherwise=otherwise, rules=rules,
        lists_not_bundled=tuple(str(x) for x in doc.get("lists_not_bundled") or ()),
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
    )


def load_framework(name: str) -> Framework:
    """Load a bundled framework by name (see :func:`available_frameworks`).

    Raises
    ------
    FrameworkError
        No such framework, or its file is malformed.

    Examples
    --------
    >>> load_framework("dod-2025").effective_from
    datetime.date(2025, 5, 5)
    >>> load_framework("nope")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    tracker.frameworks.FrameworkError: unknown framework 'nope'; known: ca-strac, dod-2023, ...
    """
    known = available_frameworks()
    if name not in known:
        raise FrameworkError(f"unknown framework {name!r}; known: {', '.join(known)}")
    text = _frameworks_dir().joinpath(f"{name}.yaml").read_text("utf-8")
    return parse_framework(name, text)
