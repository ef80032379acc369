"""A roster of people screened on saved works: the people, resolved by ORCID or OpenAlex
author ID in the works (:mod:`tracker.sources.roster`), become the subjects of
:func:`tracker.screening.screen`.

Reading and resolving a roster is a source's job; screening it sits above screening, so it
lives here, not in :mod:`tracker.sources.roster`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tracker.records import Work
from tracker.risk import Finding
from tracker.screening import ScreenResult, ScreenSettings, SubjectSpec, screen
from tracker.sources.roster import (
    LOCAL_LIMITS,
    NOT_FOUND,
    Confirmations,
    Person,
    RosterProblem,
    RosterRow,
    annotate_people,
    read_roster,
    resolve_roster_in_works,
)
from tracker.watchlists import Registry

__all__ = ["RosterScreen", "roster_messages", "screen_roster"]


@dataclass
class RosterScreen:
    """A roster screened on saved works: the run, the people, and findings per person.

    ``findings_for(person)`` gives the findings on works the person authored (by the
    person's OpenAlex author IDs), each with ``person_relation``: ``own affiliation`` when
    the tie is on the person's own authorship, ``co-author`` otherwise.  People are kept in
    roster order; nothing ranks them.
    """

    result: ScreenResult
    people: list[Person]
    problems: list[RosterProblem]

    def findings_for(self, person: Person) -> list[tuple[str, Finding]]:
        """``(person_relation, finding)`` pairs for one person, in the run's order."""
        ids = set(person.ids)
        out: list[tuple[str, Finding]] = []
        for f in self.result.findings:
            work = self.result.works.get(f.work_id)
            if work is None or not any(a.author_id in ids for a in work.authorships):
                continue
            out.append(("own affiliation" if f.author_id in ids else "co-author", f))
        return out

    def per_person_rows(self) -> list[dict[str, Any]]:
        """One row per (person, finding), people in roster order; people without findings
        get one row with empty finding columns and their status (never 'cleared')."""
        rows: list[dict[str, Any]] = []
        for p in self.people:
            base = {"roster_line": p.row.line, "name": p.row.name,
                    "department": p.row.department, "orcid": p.row.orcid or "",
                    "status": p.status, "openalex_ids": ", ".join(p.ids),
                    "to_confirm": "; ".join(p.flags)}
            pairs = self.findings_for(p) if p.ids else []
            if not pairs:
                rows.append({**base, "person_relation": "", "finding_id": "", "work_id": "",
                             "publication_date": "", "institution_name": "", "list": "",
                             "listed_at_publication": "", "outcome": ""})
            for rel, f in pairs:
                rows.append({**base, "person_relation": rel, "finding_id": f.finding_id,
                             "work_id": f.work_id, "publication_date": f.publication_date,
                             "institution_name": f.institution_name, "list": f.list,
                             "listed_at_publication": f.listed_at_publication,
                             "outcome": f.outcome})
        return rows


def screen_roster(
    works: Iterable[Any],
    roster: Path | Sequence[RosterRow],
    *,
    registry: Registry,
    settings: ScreenSettings | None = None,
    confirmations: Confirmations | None = None,
    name_matcher: object | None = None,
    assessor: Callable[[Finding, Work], Finding] | None = None,
    command: Sequence[str] = (),
    inputs: Sequence[dict[str, Any]] = (),
) -> RosterScreen:
    """Screen a roster's people on saved works (no network).

    Roster rows are resolved by ORCID or OpenAlex author ID against the authorships in
    ``works`` (:func:`resolve_roster_in_works`); the resolved people become the subjects
    of :func:`tracker.screening.screen`, so each finding's ``relation`` says whether the
    tie is a roster person's own affiliation (``subject``) or a co-author's.  Name-only
    rows are listed to confirm and not screened.  The run record gains ``people`` and,
    under ``data_gaps``, ``people_not_screened``, ``people_not_found`` and
    ``people_to_confirm``.

    Parameters
    ----------
    works : iterable of Work or SkippedRecord
        Read once into memory (resolution and screening both need them).
    roster : Path or sequence of RosterRow
        A roster CSV (bad rows are reported in ``problems``) or rows already read.
    registry, settings, name_matcher, assessor, command, inputs
        As for :func:`tracker.screening.screen`.
    confirmations : Confirmations, optional
        Profiles confirmed earlier for roster rows.

    Returns
    -------
    RosterScreen

    Raises
    ------
    RosterError
        The roster file cannot be read at all.

    Examples
    --------
    >>> import tracker
    >>> from tracker.records import parse_work
    >>> from tracker.sources.roster import RosterRow
    >>> w = parse_work({"id": "W1", "publication_date": "2021-01-01", "authorships": [
    ...     {"author": {"id": "A1", "orcid": "https://orcid.org/0000-0002-1825-0097"},
    ...      "institutions": [{"id": "I126520041"}]}]})
    >>> rs = screen_roster([w], [RosterRow(2, "J. Carberry", orcid="0000-0002-1825-0097")],
    ...                    registry=tracker.load_registry())
    >>> [(p.status, p.ids) for p in rs.people], rs.result.run["counts"]["works_read"]
    ([('screened', ('A1',))], 1)
    """
    items = list(works)
    if isinstance(roster, Path):
        rows, problems = read_roster(roster)
    else:
        rows, problems = list(roster), []
    people = resolve_roster_in_works(rows, items, confirmations)
    subjects = [SubjectSpec("author", p.ids, label=p.row.label,
                            given=f"roster line {p.row.line}", notes=p.flags)
                for p in people if p.ids]
    # screen() with no subjects screens every work: with nobody resolved, screen nothing
    result = screen(items if subjects else [], registry=registry, settings=settings,
                    subjects=subjects, name_matcher=name_matcher, assessor=assessor,
                    command=command, inputs=inputs)
    annotate_people(result.run, people, problems, LOCAL_LIMITS)
    return RosterScreen(result, people, problems)


def roster_messages(rs: RosterScreen) -> list[str]:
    """Lines for the user after a roster screen on saved works: every person's status in
    roster order (people are not ranked), what to confirm, and rows left out."""
    out: list[str] = []
    for p in rs.people:
        n = len(rs.findings_for(p)) if p.ids else 0
        out.extend(p.lines())
        if p.ids:
            out.append(f"  findings on this person's works: {n}"
                       + (" (none in the records read: not a clearance)" if not n else ""))
        elif p.status == NOT_FOUND:
            out.append("  no authorship in the given records carries this ORCID or ID: not "
                       "screened, not cleared")
    out += [f"roster {b}: left out" for b in rs.problems]
    return out
