"""A roster of people to screen: ORCIDs and OpenAlex IDs to author profiles, and what a
person must confirm before the results can be trusted.

The roster is a CSV file (``tracker screen --roster roster.csv``); see
``tracker/data/example_roster.csv`` for a commented example.  Columns (header row
required, case-insensitive, any order; lines starting with ``#`` are comments):

``name``
    The person's name as the office knows it.  Used only to label the row and, for a
    row with no identifier, to look up *candidate* profiles for a person to pick.  A
    name is never matched against anything and nothing is screened on a name alone.
``department``
    Free text, carried into the run record.
``orcid``
    ORCID iD (``0000-0002-1825-0097`` or the URL); the check digit is validated
    (ISO 7064 MOD 11-2).  Resolved to every OpenAlex profile carrying it.
``openalex_id``
    OpenAlex author ID (``A5023888391``).  A merged ID is followed and the new one
    recorded.
``institution``
    Optional: ROR or OpenAlex institution ID, used only to narrow the candidate search
    for a name-only row (``--org`` is used when this is empty).

A row needs an ORCID, an OpenAlex ID, or a name (with an institution to search in).  A
bad row (wrong check digit, unreadable ID, nothing to go on) is reported with its line
number and the others go on.

What must be confirmed (flags; the profile is still screened, the flag travels with the
results until confirmed):

- several OpenAlex profiles carry the row's ORCID;
- a profile looks merged: more than :data:`MAX_PLAUSIBLE_WORKS` works, or affiliations
  in more than :data:`MAX_COUNTRIES_IN_ONE_YEAR` countries in the same year;
- the row's OpenAlex ID carries a different ORCID than the row.

A name-only row is **not screened**: its candidate profiles are listed for a person to
pick.  Choices are remembered in ``$TRACKER_HOME/confirmed_profiles.json``
(:class:`Confirmations`); give them with ``tracker screen --confirm choices.csv``, a CSV
with columns ``person`` (the row's name or ORCID) and ``openalex_id`` (one line per
chosen profile).  A confirmed row screens exactly the chosen profiles, with no flag.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tracker.home import confirmed_profiles_path
from tracker.records import short_id
from tracker.sources.failures import RequestRejected
from tracker.sources.openalex import (
    MAX_COUNTRIES_IN_ONE_YEAR,
    MAX_PLAUSIBLE_WORKS,
    InputError,
    Subject,
    merged_profile_signals,
    parse_author_id,
    parse_org_id,
)
from tracker.textfiles import CsvText, CsvUnreadable, read_csv_text

if TYPE_CHECKING:
    from tracker.sources.openalex import OpenAlexSource

__all__ = [
    "COLUMNS",
    "MAX_COUNTRIES_IN_ONE_YEAR",
    "MAX_PLAUSIBLE_WORKS",
    "Candidate",
    "Confirmations",
    "Person",
    "RosterError",
    "RosterProblem",
    "RosterRow",
    "annotate_people",
    "merged_profile_signals",
    "read_confirm_file",
    "read_roster",
    "remember_confirm_file",
    "resolve_roster",
    "resolve_roster_in_works",
]

COLUMNS: tuple[str, ...] = ("name", "department", "orcid", "openalex_id", "institution")
CANDIDATES_SHOWN = 10


class RosterError(ValueError):
    """The roster (or confirmation) file cannot be read at all.  Nothing was screened."""


@dataclass(frozen=True)
class RosterProblem:
    """A row that was left out, and why."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


def _norm_name(name: str) -> str:
    """Examples
    --------
    >>> _norm_name("  Josiah   CARBERRY ")
    'josiah carberry'
    """
    return " ".join(name.split()).casefold()


@dataclass(frozen=True)
class RosterRow:
    """One person on the roster, identifiers checked."""

    line: int
    name: str = ""
    department: str = ""
    orcid: str | None = None
    openalex_id: str | None = None
    institution: tuple[str, str] | None = None

    @property
    def keys(self) -> tuple[str, ...]:
        """Keys a confirmation can be filed under: ``orcid:…`` and ``name:…``."""
        out = []
        if self.orcid:
            out.append(f"orcid:{self.orcid}")
        if self.name:
            out.append(f"name:{_norm_name(self.name)}")
        return tuple(out)

    @property
    def label(self) -> str:
        return self.name or self.orcid or self.openalex_id or f"line {self.line}"

    @property
    def name_only(self) -> bool:
        return not self.orcid and not self.openalex_id

    def to_json(self) -> dict[str, Any]:
        return {"line": self.line, "name": self.name, "department": self.department,
                "orcid": self.orcid, "openalex_id": self.openalex_id,
                "institution": ":".join(self.institution) if self.institution else None}


def _data_lines(text: str) -> list[tuple[int, str]]:
    return [(n, line) for n, line in enumerate(text.splitlines(), start=1)
            if line.strip() and not line.lstrip().startswith("#")]


def _read_text(path: Path, what: str) -> CsvText:
    """The file's text, however it was saved (UTF-8, Excel's cp1252 or UTF-16; comma,
    semicolon or tab)."""
    try:
        return read_csv_text(path)
    except FileNotFoundError:
        raise RosterError(f"{path}: no such {what} file") from None
    except CsvUnreadable as exc:
        raise RosterError(f"{path}: cannot read the {what} file: {exc}") from None
    except OSError as exc:
        raise RosterError(f"{path}: cannot read the {what} file ({exc.strerror})") from None


def _rows(path: Path, what: str, needed: Sequence[str]) -> list[tuple[int, dict[str, str]]]:
    csv_text = _read_text(path, what)
    lines = _data_lines(csv_text.text)
    if not lines:
        raise RosterError(f"{path}: the {what} file has no header row")
    header_line, header = lines[0]
    fields = [h.strip().lower() for h in csv_text.split(header)]
    if not any(f in needed for f in fields):
        raise RosterError(f"{path}: line {header_line}: the header names none of the "
                          f"{what} columns ({', '.join(needed)})")
    out = []
    for n, line in lines[1:]:
        values = csv_text.split(line)
        row = {f: (values[i].strip() if i < len(values) else "") for i, f in enumerate(fields)}
        out.append((n, row))
    return out


def read_roster(path: Path) -> tuple[list[RosterRow], list[RosterProblem]]:
    """Read and check a roster CSV.

    Returns
    -------
    rows, problems
        The usable rows, and one :class:`RosterProblem` per row left out.

    Raises
    ------
    RosterError
        The file is missing, unreadable, or has no recognisable header.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "r.csv"
    >>> _ = p.write_text("name,orcid\\nJ. Carberry,0000-0002-1825-0097\\nX,0000-0002-1825-0098\\n")
    >>> rows, problems = read_roster(p)
    >>> [r.orcid for r in rows], [str(x) for x in problems]
    (['0000-0002-1825-0097'], ["line 3: ORCID check digit is wrong: '0000-0002-1825-0098'"])
    """
    rows: list[RosterRow] = []
    problems: list[RosterProblem] = []
    seen: dict[str, int] = {}
    for n, raw in _rows(path, "roster", COLUMNS):
        name = " ".join(raw.get("name", "").split())
        try:
            orcid = oid = None
            if raw.get("orcid"):
                kind, orcid = parse_author_id(raw["orcid"])
                if kind != "orcid":
                    raise InputError(f"not an ORCID iD: {raw['orcid']!r}")
            if raw.get("openalex_id"):
                kind, oid = parse_author_id(raw["openalex_id"])
                if kind != "openalex":
                    raise InputError(f"not an OpenAlex author ID: {raw['openalex_id']!r}")
            inst = parse_org_id(raw["institution"]) if raw.get("institution") else None
        except InputError as exc:
            problems.append(RosterProblem(n, str(exc)))
            continue
        if not (orcid or oid or name):
            problems.append(RosterProblem(n, "no ORCID, OpenAlex ID or name: nothing to look "
                                             "up"))
            continue
        dup = next((seen[k] for k in (f"orcid:{orcid}", f"oa:{oid}") if k in seen), None)
        if dup is not None:
            problems.append(RosterProblem(n, f"repeats an identifier of line {dup}; left out"))
            continue
        for k, v in ((f"orcid:{orcid}", orcid), (f"oa:{oid}", oid)):
            if v:
                seen[k] = n
        rows.append(RosterRow(n, name, raw.get("department", ""), orcid, oid, inst))
    return rows, problems


# -- profiles ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Candidate:
    """An OpenAlex author profile offered for a person to pick (or confirm)."""

    id: str
    display_name: str
    orcid: str | None
    works_count: int | None
    institutions: tuple[str, ...]
    signals: tuple[str, ...] = ()

    @classmethod
    def from_author(cls, a: dict[str, Any]) -> Candidate:
        insts = tuple(str(i.get("display_name")) for i in a.get("last_known_institutions") or []
                      if isinstance(i, dict) and i.get("display_name"))
        orcid = a.get("orcid")
        wc = a.get("works_count")
        return cls(id=short_id(a.get("id")) or str(a.get("id")),
                   display_name=str(a.get("display_name") or ""),
                   orcid=orcid.rsplit("/", 1)[-1] if isinstance(orcid, str) and orcid else None,
                   works_count=wc if isinstance(wc, int) else None, institutions=insts,
                   signals=tuple(merged_profile_signals(a)))

    def describe(self) -> str:
        bits = [self.id, self.display_name or "(no name)"]
        if self.orcid:
            bits.append(f"ORCID {self.orcid}")
        if self.works_count is not None:
            bits.append(f"{self.works_count:,} works")
        if self.institutions:
            bits.append("; ".join(self.institutions[:3]))
        return ", ".join(bits)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "display_name": self.display_name, "orcid": self.orcid,
                "works_count": self.works_count, "last_known_institutions":
                list(self.institutions), "merged_profile_signals": list(self.signals)}


SCREENED = "screened"
TO_CONFIRM = "screened; confirm"
NOT_SCREENED = "not screened"


@dataclass(frozen=True)
class Person:
    """A roster row resolved: which profiles are screened, and what to confirm."""

    row: RosterRow
    status: str
    ids: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    candidates: tuple[Candidate, ...] = ()
    confirmed: bool = False

    @property
    def subject(self) -> Subject | None:
        if not self.ids:
            return None
        return Subject(kind="author", given=f"roster line {self.row.line}", ids=self.ids,
                       label=self.row.label, notes=self.flags)

    def lines(self) -> list[str]:
        """The person's status, flags and candidates, in words, one item per line."""
        head = f"roster line {self.row.line} ({self.row.label}): {self.status}"
        if self.ids:
            head += f" [{', '.join(self.ids)}]"
        out = [head]
        out += [f"  confirm: {f}" for f in self.flags]
        if not self.ids or len(self.candidates) > 1:
            out += [f"  candidate: {c.describe()}" + (
                f" ({'; '.join(c.signals)})" if c.signals and not self.ids else "")
                for c in self.candidates]
        return out

    def to_json(self) -> dict[str, Any]:
        return {**self.row.to_json(), "status": self.status, "screened_ids": list(self.ids),
                "confirmed": self.confirmed, "to_confirm": list(self.flags),
                "candidates": [c.to_json() for c in self.candidates]}


# -- confirmations -----------------------------------------------------------------------
def default_confirmations_path() -> Path:
    """Where confirmed profiles are kept (see :func:`tracker.home.confirmed_profiles_path`)."""
    return confirmed_profiles_path()


def _confirm_key(person: str) -> str:
    """Examples
    --------
    >>> _confirm_key("https://orcid.org/0000-0002-1825-0097"), _confirm_key(" J.  Carberry")
    ('orcid:0000-0002-1825-0097', 'name:j. carberry')
    """
    try:
        kind, value = parse_author_id(person)
    except InputError:
        return f"name:{_norm_name(person)}"
    return f"orcid:{value}" if kind == "orcid" else f"name:{_norm_name(person)}"


@dataclass
class Confirmations:
    """Profiles a person confirmed for a roster row, remembered between runs.

    Examples
    --------
    >>> import tempfile
    >>> c = Confirmations(Path(tempfile.mkdtemp()) / "c.json", {})
    >>> c.remember("J. Carberry", ["A5023888391"])
    >>> c.save(); Confirmations.load(c.path).choices["name:j. carberry"]["openalex_ids"]
    ['A5023888391']
    """

    path: Path
    choices: dict[str, dict[str, Any]]

    @classmethod
    def load(cls, path: Path | None = None) -> Confirmations:
        p = path or default_confirmations_path()
        try:
            doc = json.loads(p.read_text("utf-8"))
        except FileNotFoundError:
            return cls(p, {})
        except (OSError, ValueError) as exc:
            raise RosterError(f"{p}: cannot read the confirmed profiles ({exc})") from exc
        return cls(p, dict(doc.get("choices", {})))

    def remember(self, person: str, ids: Sequence[str]) -> None:
        key = _confirm_key(person)
        self.choices[key] = {"openalex_ids": sorted(set(ids)), "person": person.strip(),
                             "confirmed_at": datetime.now(UTC).isoformat(timespec="seconds")}

    def for_row(self, row: RosterRow) -> tuple[str, ...] | None:
        for key in row.keys:
            if key in self.choices:
                return tuple(self.choices[key].get("openalex_ids") or ())
        return None

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps({
            "about": "OpenAlex author profiles a person confirmed for roster rows "
                     "(tracker screen --confirm FILE). Delete an entry to ask again.",
            "choices": dict(sorted(self.choices.items())),
        }, indent=1, ensure_ascii=False), "utf-8")
        tmp.replace(self.path)


def read_confirm_file(path: Path) -> tuple[list[tuple[str, str]], list[RosterProblem]]:
    """Read ``person,openalex_id`` choices (one line per chosen profile).

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "c.csv"
    >>> _ = p.write_text("person,openalex_id\\nJ. Carberry,A5023888391\\nX,W1\\n")
    >>> ok, bad = read_confirm_file(p)
    >>> ok, [str(b) for b in bad]
    ([('J. Carberry', 'A5023888391')], ["line 3: not an OpenAlex author ID: 'W1'"])
    """
    ok: list[tuple[str, str]] = []
    bad: list[RosterProblem] = []
    for n, raw in _rows(path, "confirmation", ("person", "openalex_id")):
        person, value = raw.get("person", ""), raw.get("openalex_id", "")
        oid = short_id(value)
        if not person:
            bad.append(RosterProblem(n, "no person (a roster name or ORCID)"))
        elif not oid or not oid.startswith("A"):
            bad.append(RosterProblem(n, f"not an OpenAlex author ID: {value!r}"))
        else:
            ok.append((person, oid))
    return ok, bad


# -- resolution --------------------------------------------------------------------------
_SKIP = (RequestRejected,)


def resolve_roster(
    rows: Sequence[RosterRow],
    source: OpenAlexSource,
    confirmations: Confirmations | None = None,
    institutions: Sequence[tuple[str, str]] = (),
) -> tuple[list[Person], list[RosterProblem]]:
    """Resolve roster rows to OpenAlex profiles, with flags and candidates.

    Parameters
    ----------
    rows : sequence of RosterRow
    source : OpenAlexSource
    confirmations : Confirmations, optional
    institutions : sequence of (kind, value)
        Where to search for name-only rows without an ``institution`` (``--org``).

    Returns
    -------
    people, problems
        A :class:`Person` per row, and rows OpenAlex could not resolve (404 etc.).
    """
    people: list[Person] = []
    problems: list[RosterProblem] = []
    conf = confirmations or Confirmations(default_confirmations_path(), {})
    for row in rows:
        chosen = conf.for_row(row)
        if row.name_only:
            where = [row.institution] if row.institution else list(institutions)
            if chosen:
                people.append(Person(row, SCREENED, ids=chosen, confirmed=True))
                continue
            if not where:
                problems.append(RosterProblem(row.line, "name only and no institution to look "
                                              "up candidates in: add an ORCID, an OpenAlex "
                                              "ID, an institution column, or --org"))
                continue
            found: dict[str, Candidate] = {}
            for inst in where:
                try:
                    for a in source.search_authors(row.name, inst, CANDIDATES_SHOWN):
                        c = Candidate.from_author(a)
                        found.setdefault(c.id, c)
                except _SKIP as exc:
                    problems.append(RosterProblem(row.line, f"candidate search failed: {exc}"))
            flags = (f"name only: pick this person's profile among {len(found)} candidate(s) "
                     f"and confirm it with --confirm (nothing is screened on a name)" if found
                     else
                     "name only and no candidate profile found: add an ORCID or OpenAlex ID",)
            people.append(Person(row, NOT_SCREENED, flags=flags,
                                 candidates=tuple(found.values())))
            continue
        profiles: dict[str, dict[str, Any]] = {}
        flags_l: list[str] = []
        errors: list[str] = []
        by_orcid = 0
        if row.orcid:
            try:
                for a in source.authors_by_orcid(row.orcid):
                    aid = short_id(a.get("id"))
                    if aid:
                        profiles[aid] = a
                by_orcid = len(profiles)
            except _SKIP as exc:
                errors.append(str(exc))
            if not profiles and not errors:
                errors.append(f"no OpenAlex profile carries ORCID {row.orcid}")
        if row.openalex_id:
            a = {}
            try:
                a = source.author(row.openalex_id)
            except _SKIP as exc:
                errors.append(str(exc))
            aid = short_id(a.get("id"))
            if aid and aid != row.openalex_id:
                flags_l.append(f"OpenAlex merged {row.openalex_id} into {aid}: screening {aid}")
            if aid:
                a_orcid = a.get("orcid")
                a_orcid = a_orcid.rsplit("/", 1)[-1] if isinstance(a_orcid, str) else None
                if row.orcid and aid not in profiles and a_orcid != row.orcid:
                    flags_l.append(f"profile {aid} carries ORCID {a_orcid or '(none)'}, not the "
                                   f"row's {row.orcid}: confirm it is this person")
                profiles.setdefault(aid, a)
        if not profiles:
            problems.append(RosterProblem(row.line, "; ".join(errors) + "; left out"))
            continue
        flags_l += [f"{e}: screening the other identifier's profile" for e in errors]
        cands = tuple(Candidate.from_author(a) for a in profiles.values())
        if chosen:
            people.append(Person(row, SCREENED, ids=chosen, candidates=cands, confirmed=True))
            continue
        if by_orcid > 1:
            flags_l.append(f"{by_orcid} OpenAlex profiles carry ORCID {row.orcid}: confirm "
                           f"they are all this person")
        for c in cands:
            flags_l += [f"{c.id} may merge several people: {s}" for s in c.signals]
        ids = tuple(sorted(profiles))
        people.append(Person(row, TO_CONFIRM if flags_l else SCREENED, ids=ids,
                             flags=tuple(flags_l), candidates=cands))
    return people, problems


# -- saved works -------------------------------------------------------------------------
NOT_FOUND = "not found in the records"
LOCAL_LIMITS = (
    "resolved from the authorships in the given records only: a person whose works are "
    "not among them is 'not found', which says nothing about that person",
    "merged-profile checks need OpenAlex author profiles (works count, affiliations), "
    "which saved works do not carry; fetch with --roster and no --works to get them",
)


def resolve_roster_in_works(
    rows: Sequence[RosterRow],
    works: Iterable[Any],
    confirmations: Confirmations | None = None,
) -> list[Person]:
    """Resolve roster rows against the authorships of saved works (no network).

    A row's ORCID is looked up among the authorships' ORCIDs and its OpenAlex author ID
    among their author IDs.  Names are never compared: a name-only row is not screened
    (unless a confirmation remembered for it names its profiles) and is listed to confirm.

    Parameters
    ----------
    rows : sequence of RosterRow
    works : iterable of Work
        Records to look in (other items, e.g. skipped records, are ignored).
    confirmations : Confirmations, optional
        Profiles confirmed earlier; a confirmed row screens exactly those IDs.

    Returns
    -------
    list of Person
        One per row, in roster order; ``status`` is ``screened``, ``screened; confirm``,
        ``not screened`` (name only) or ``not found in the records``.

    Examples
    --------
    >>> from tracker.records import parse_work
    >>> w = parse_work({"id": "W1", "authorships": [{"author": {"id": "A1",
    ...     "orcid": "https://orcid.org/0000-0002-1825-0097"}, "institutions": []}]})
    >>> rows = [RosterRow(2, "J. Carberry", orcid="0000-0002-1825-0097"),
    ...         RosterRow(3, "J. S. Carberry")]
    >>> [(p.status, p.ids) for p in resolve_roster_in_works(rows, [w])]
    [('screened', ('A1',)), ('not screened', ())]
    """
    from tracker.records import Work

    ids_by_orcid: dict[str, set[str]] = {}
    orcids_by_id: dict[str, set[str]] = {}
    for w in works:
        if not isinstance(w, Work):
            continue
        for a in w.authorships:
            if not a.author_id:
                continue
            orcids_by_id.setdefault(a.author_id, set())
            if a.orcid:
                ids_by_orcid.setdefault(a.orcid, set()).add(a.author_id)
                orcids_by_id[a.author_id].add(a.orcid)
    conf = confirmations
    people: list[Person] = []
    for row in rows:
        chosen = conf.for_row(row) if conf is not None else None
        if chosen:
            found = tuple(i for i in chosen if i in orcids_by_id)
            people.append(Person(row, SCREENED if found else NOT_FOUND, ids=found,
                                 confirmed=True))
            continue
        if row.name_only:
            people.append(Person(row, NOT_SCREENED, flags=(
                "name only: nothing is screened on a name; add the person's ORCID or "
                "OpenAlex author ID to the roster, or confirm a profile with --confirm",)))
            continue
        ids: set[str] = set()
        flags: list[str] = []
        if row.orcid:
            by_orcid = ids_by_orcid.get(row.orcid, set())
            ids |= by_orcid
            if len(by_orcid) > 1:
                flags.append(f"{len(by_orcid)} OpenAlex author IDs carry ORCID {row.orcid} "
                             f"in these records ({', '.join(sorted(by_orcid))}): confirm "
                             f"they are all this person")
        if row.openalex_id and row.openalex_id in orcids_by_id:
            ids.add(row.openalex_id)
            other = sorted(orcids_by_id[row.openalex_id] - {row.orcid})
            if row.orcid and other:
                flags.append(f"{row.openalex_id} carries ORCID {', '.join(other)} in these "
                             f"records, not the row's {row.orcid}: confirm it is this person")
        if not ids:
            people.append(Person(row, NOT_FOUND))
            continue
        people.append(Person(row, TO_CONFIRM if flags else SCREENED, ids=tuple(sorted(ids)),
                             flags=tuple(flags)))
    return people


def annotate_people(run: dict[str, Any], people: Sequence[Person],
                    problems: Sequence[RosterProblem], limits: Sequence[str] = ()) -> None:
    """Put the roster's people, what is not screened and what to confirm in a run record."""
    run["people"] = [p.to_json() for p in people]
    gaps = run.setdefault("data_gaps", {})
    gaps["people_not_screened"] = [f"line {p.row.line}: {p.row.label}"
                                   for p in people if p.status == NOT_SCREENED]
    gaps["people_not_found"] = [f"line {p.row.line}: {p.row.label}"
                                for p in people if p.status == NOT_FOUND]
    gaps["people_to_confirm"] = [f"line {p.row.line}: {f}" for p in people for f in p.flags]
    if problems:
        gaps["roster_rows_left_out"] = [str(b) for b in problems]
    if limits:
        gaps["roster_resolution_limits"] = list(limits)


def remember_confirm_file(path: Path,
                          confirmations: Confirmations | None = None
                          ) -> tuple[Confirmations, list[RosterProblem]]:
    """Read a ``--confirm`` file and remember its choices (saved at once).

    Returns
    -------
    confirmations, problems
        Everything remembered so far, and the file's lines that were left out.
    """
    chosen, bad = read_confirm_file(path)
    conf = confirmations or Confirmations.load()
    by_person: dict[str, list[str]] = {}
    for person, oid in chosen:
        by_person.setdefault(person, []).append(oid)
    for person, ids in by_person.items():
        conf.remember(person, ids)
    conf.save()
    return conf, bad

