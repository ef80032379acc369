"""Time-aware assessment: one evidence row (a :class:`Finding`) per tie.

A finding is evidence for human review, never a determination.  Each one says which
dates it compared (the work's date and the entry's listing date, each with its basis),
whether the institution was listed on the work's date (``yes`` / ``no`` / ``unknown``,
never a guess), and the outcome under the chosen framework.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, fields
from datetime import date
from operator import attrgetter
from typing import Any

from tracker.matching import Match, attached_to
from tracker.records import Authorship, InstitutionRef, Work, pickle_by_fields

__all__ = [
    "FINDING_COLUMNS",
    "Finding",
    "finding_id",
    "finding_order",
    "listed_at",
    "make_finding",
    "outcome_kind",
]

#: The columns of findings.csv, in order.  The first twenty are a contract (issue 3).
FINDING_COLUMNS: tuple[str, ...] = (
    "finding_id", "work_id", "doi", "title", "publication_date", "author_id", "author_name",
    "author_position", "raw_affiliation", "institution_id", "institution_ror",
    "institution_name", "list", "list_entry_name", "listed_on", "listed_at_publication",
    "match_method", "match_detail", "outcome", "review_status",
    # further evidence, stable names
    "entry_id", "match_score", "relation", "date_compared", "date_basis", "listed_on_basis",
    "listed_on_source", "removed_on", "list_editions", "is_designation", "confidence",
    "data_gaps", "reason",
    # added later, at the end (issue 20)
    "openalex_agreement", "institution_basis", "match_support", "list_since",
)


def finding_id(work_id: str, auth: Authorship, institution_key: str, entry_id: str) -> str:
    """A stable ID for one (work, authorship, institution, list entry) tie.

    It depends only on identifiers, so the same tie keeps its ID (and its review status)
    across reruns, whichever method found it.

    Examples
    --------
    >>> from tracker.records import Authorship
    >>> a = Authorship(index=0, author_id="A1")
    >>> finding_id("W1", a, "I2", "BIS_ENTITY_LIST:hit") == finding_id(
    ...     "W1", a, "I2", "BIS_ENTITY_LIST:hit")
    True
    >>> len(finding_id("W1", a, "I2", "X:y"))
    16
    """
    who = auth.author_id or f"pos{auth.index}"
    key = "\x1f".join((work_id, who, institution_key, entry_id))
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def listed_at(match: Match, work: Work) -> tuple[str, str, str, str]:
    """Was the matched entry listed on the work's date?

    Returns
    -------
    (answer, date_compared, date_basis, reason)
        ``answer`` is ``yes``, ``no`` or ``unknown``.  A work published before the list
        itself first existed (``entry.list_since``) is ``no``.  With only a publication
        year, the comparison is by year and the listing year itself answers ``unknown``.
        ``unknown`` only where a needed date is truly unknown; ``reason`` says which.

    Examples
    --------
    >>> from datetime import date
    >>> from tracker.matching import Match
    >>> from tracker.records import Work
    >>> from tracker.watchlists import ListEntry
    >>> e = ListEntry(entry_id="CA_NRO:x", list="CA_NRO", name="X",
    ...               listed_on=date(2024, 4, 18), listed_on_kind="on_list_by",
    ...               list_since=date(2024, 1, 9), list_since_basis="document date")
    >>> m = Match(e, "name", 1.0, "", None, None)
    >>> [listed_at(m, Work(id="W", publication_date=d))[0]
    ...  for d in (date(2023, 5, 1), date(2024, 2, 1), date(2024, 5, 1))]
    ['no', 'unknown', 'yes']
    """
    entry = match.entry
    since = entry.list_since
    if work.publication_date is not None:
        when, basis = work.publication_date, "publication_date"
        compared = when.isoformat()
    elif work.publication_year is not None:
        when, basis = date(work.publication_year, 1, 1), "publication_year"
        compared = str(work.publication_year)
    else:
        return "unknown", "", "", "the work has no publication date or year"
    by_year = basis == "publication_year"
    if since is not None and (when.year < since.year if by_year else when < since):
        return "no", compared, basis, (
            f"published {compared}, before the list itself existed (its first document is "
            f"dated {since.isoformat()})")
    if entry.listed_on is None:
        why = "no source gives this entry's listing date"
        if since is not None:
            why += f" (the list exists since {since.isoformat()})"
        return "unknown", compared, basis, why
    if entry.listed_on_kind == "on_list_by" and when < entry.listed_on:
        first = f"after the list's first edition of {since.isoformat()} " if since else ""
        return "unknown", compared, basis, (
            f"published {compared}; the entry was on the list by "
            f"{entry.listed_on.isoformat()}, but no source says when it was added "
            f"{first}(first listing date not given)")
    if by_year:
        year = when.year
        if year < entry.listed_on.year:
            ans = "no"
        elif year == entry.listed_on.year:
            return ("unknown", compared, basis,
                    "only the publication year is known and it is the listing year")
        else:
            ans = "yes"
        if ans == "yes" and entry.removed_on is not None and year >= entry.removed_on.year:
            return ("unknown", compared, basis,
                    "only the publication year is known and the entry was removed by then")
        return ans, compared, basis, f"year {year} vs listed on {entry.listed_on.isoformat()}"
    state = entry.listed_between(when)
    if state is None:
        return "unknown", compared, basis, "no source gives this entry's listing date"
    if state:
        return "yes", compared, basis, (
            f"published {compared}, listed on {entry.listed_on.isoformat()}")
    if entry.removed_on is not None and when >= entry.removed_on:
        return "no", compared, basis, (
            f"published {compared}, after removal on {entry.removed_on.isoformat()}")
    return "no", compared, basis, (
        f"published {compared}, before listing on {entry.listed_on.isoformat()}")


@dataclass(slots=True)
class Finding:
    """One evidence row.  Field names equal the findings.csv columns."""

    finding_id: str
    work_id: str
    doi: str
    title: str
    publication_date: str
    author_id: str
    author_name: str
    author_position: str
    raw_affiliation: str
    institution_id: str
    institution_ror: str
    institution_name: str
    list: str
    list_entry_name: str
    listed_on: str
    listed_at_publication: str
    match_method: str
    match_detail: str
    outcome: str
    review_status: str = "unreviewed"
    entry_id: str = ""
    match_score: float = 0.0
    relation: str = "unspecified"
    date_compared: str = ""
    date_basis: str = ""
    listed_on_basis: str = ""
    listed_on_source: str = ""
    removed_on: str = ""
    list_editions: str = ""
    is_designation: bool = True
    confidence: str = ""
    data_gaps: str = ""
    reason: str = ""
    openalex_agreement: str = ""
    institution_basis: str = ""
    match_support: str = ""
    list_since: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        """The findings.csv row: every field but ``extra``, in column order.

        Every such field holds a str, float or bool, so a flat read (one
        :func:`operator.attrgetter` call) is the same as :func:`dataclasses.asdict` without
        its recursive copy (several times faster at thousands of findings).
        """
        return dict(zip(_ROW_FIELDS, self.values(), strict=True))

    def values(self) -> tuple[Any, ...]:
        """The findings.csv row's values, in column order (one C call: a findings export
        reads them for every finding)."""
        return tuple(_ROW_VALUES(self))


def finding_order(f: Finding) -> tuple[str, str, str, str]:
    """The order of a run's findings: publication date, work, list, finding ID."""
    return (f.publication_date, f.work_id, f.list, f.finding_id)


def outcome_kind(outcome: str) -> str:
    """``flag``, ``review`` or ``context`` from an outcome text (``""`` if none).

    Examples
    --------
    >>> outcome_kind("flag: listed at publication [rule x]"), outcome_kind("")
    ('flag', '')
    """
    head = (outcome or "").split(":", 1)[0].strip().lower()
    return head if head in ("flag", "review", "context") else ""


pickle_by_fields(Finding)  # a million-work run sends back and spills 788,020 of them
_ROW_FIELDS = tuple(f.name for f in fields(Finding) if f.name != "extra")
_ROW_VALUES = attrgetter(*_ROW_FIELDS)


def _confidence(match: Match, work: Work, answer: str) -> str:
    if match.agreement == "disagree":
        return "low"   # OpenAlex's institution and the raw string name different places
    if match.method in ("openalex_id", "ror") and answer != "unknown":
        return "high"
    if match.method in ("openalex_id", "ror", "lineage", "name"):
        return "medium"
    return "low"


#: Texts built for findings, each kept once: :func:`_shared` (cleared when this full).
_TEXTS: dict[str, str] = {}
_TEXTS_HELD = 65_536


def _shared(text: str) -> str:
    """``text``, as the one object equal to it that findings already hold, if any.

    A finding's dates, its entry's editions and the reasons are built anew for each
    finding, though they repeat (the same entry, the same work): shared, a batch of
    findings pickles each once (a worker process sends its findings back pickled) and
    the process gathering a run's findings holds each once.
    """
    got = _TEXTS.get(text)
    if got is None:
        if len(_TEXTS) >= _TEXTS_HELD:
            _TEXTS.clear()
        _TEXTS[text] = got = text
    return got


def make_finding(
    work: Work,
    auth: Authorship,
    match: Match,
    *,
    relation: str = "unspecified",
    outcome: str | None = None,
    data_gaps: tuple[str, ...] = (),
) -> Finding:
    """Build the evidence row for one match on one authorship of one work."""
    entry = match.entry
    inst = match.institution
    shown, inst_basis = _institutions_shown(auth, match)
    answer, compared, basis, reason = listed_at(match, work)
    if outcome is None:
        outcome = default_outcome(match, answer)
    inst_key = (inst.id or inst.ror or "") if inst else ""
    if not inst_key:
        inst_key = "raw:" + (match.raw_affiliation or "")
    gaps = list(data_gaps)
    if work.publication_date is None:
        gaps.append("no publication date" if work.publication_year is None
                    else "publication year only")
    if entry.listed_on is None:
        gaps.append("listing date unknown")
    return Finding(
        finding_id=finding_id(work.id, auth, inst_key, entry.entry_id),
        work_id=work.id,
        doi=work.doi or "",
        title=work.title or "",
        publication_date=_shared(
            work.publication_date.isoformat() if work.publication_date
            else (str(work.publication_year) if work.publication_year else "")),
        author_id=auth.author_id or "",
        author_name=auth.author_name or "",
        author_position=auth.author_position or "",
        raw_affiliation=match.raw_affiliation or "",
        institution_id=" | ".join(i.id or "" for i in shown),
        institution_ror=" | ".join(i.ror or "" for i in shown),
        institution_name=" | ".join(i.display_name or "" for i in shown),
        list=entry.list,
        list_entry_name=entry.name,
        listed_on=_shared(entry.listed_on.isoformat()) if entry.listed_on else "",
        listed_at_publication=answer,
        match_method=match.method,
        match_detail=match.detail,
        outcome=outcome,
        entry_id=entry.entry_id,
        match_score=round(match.score, 3),
        relation=relation,
        date_compared=_shared(compared),
        date_basis=basis,
        listed_on_basis=entry.listed_on_basis,
        listed_on_source=entry.listed_on_source,
        removed_on=_shared(entry.removed_on.isoformat()) if entry.removed_on else "",
        list_editions=_shared(" | ".join(entry.editions)),
        is_designation=entry.is_designation,
        confidence=_confidence(match, work, answer),
        data_gaps=_shared("; ".join(dict.fromkeys(gaps))),
        reason=_shared(reason),
        openalex_agreement=match.agreement,
        institution_basis=inst_basis,
        match_support=match.support,
        list_since=_shared(entry.list_since.isoformat()) if entry.list_since else "",
        extra={"authorship_index": auth.index},
    )


def _institutions_shown(auth: Authorship, match: Match) -> tuple[tuple[InstitutionRef, ...],
                                                                  str]:
    """The OpenAlex institutions an evidence row shows, and what they are.

    The institution that matched when there is one; otherwise the ones OpenAlex attached
    to the raw string (or to the authorship), so a tie found in the raw string still shows
    what OpenAlex made of it.  Several are joined with `` | `` in the row.
    """
    if match.institution is not None:
        return (match.institution,), "matched"
    att = match.attached or attached_to(auth, match.raw_affiliation)
    if not att:
        return (), "none attached by OpenAlex"
    if match.raw_affiliation and any(r == match.raw_affiliation and ids
                                     for r, ids in auth.affiliations):
        return att, "attached by OpenAlex to this raw string"
    return att, "attached by OpenAlex to the authorship"


def default_outcome(match: Match, answer: str) -> str:
    """The outcome when no framework is chosen: always a call for human review."""
    if not match.entry.is_designation:
        return "context: assessment (not a legal designation); no action on its own"
    if answer == "yes":
        return "review: listed at publication"
    if answer == "no":
        return "review: not listed at publication (listed now or since)"
    return "review: listing status at publication unknown"
