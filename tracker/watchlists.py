"""The dated registry of restricted institutions.

The registry is data, bundled in ``tracker/data/registry.json`` and rebuilt from the
cited sources shipped in ``tracker/data/sources`` by ``tracker lists build``.  One
:class:`ListEntry` is one institution's membership of one list; it carries every edition
it appears in, every date a source gives (with that source), and where the data came
from.  A date that no source gives is ``None``: nothing is guessed.

List codes
----------
``BIS_ENTITY_LIST``, ``BIS_MEU``, ``DOD_1286``, ``DOD_1260H``, ``OFAC_NS_CMIC``,
``CA_NRO`` are designations; ``ASPI_UNITRACKER`` is context (an assessment, not a
designation).  User lists get their own codes.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

import orjson

from tracker.dates import parse_date
from tracker.records import collector_paused

__all__ = [
    "CONTEXT_LISTS",
    "DESIGNATION_LISTS",
    "STALE_AFTER_DAYS",
    "DatedFact",
    "Edition",
    "Institution",
    "ListEntry",
    "ListInfo",
    "Registry",
    "RegistryError",
    "data_age_days",
    "diff_editions",
    "find",
    "is_stale",
    "load_registry",
    "load_user_watchlist",
]

DESIGNATION_LISTS = (
    "BIS_ENTITY_LIST",
    "BIS_MEU",
    "DOD_1286",
    "DOD_1260H",
    "OFAC_NS_CMIC",
    "CA_NRO",
    # NSF Appendix A lists read from the official files shipped in tracker/data/sources
    "BIS_UVL",
    "BIS_DPL",
    "STATE_ISN",
    "STATE_DDTC_DEBARRED",
    "FCC_COVERED",
    "DHS_UFLPA",
)
CONTEXT_LISTS = ("ASPI_UNITRACKER",)


class RegistryError(ValueError):
    """The registry or a user watchlist cannot be loaded.  Abort the run: screening
    against an incomplete registry would silently miss ties."""


def _as_date(value: object) -> date | None:
    """A registry date (ISO text, possibly a timestamp) through the package's one date
    reader; anything else, or nothing, is None (an unknown date stays unknown)."""
    if isinstance(value, date | str):
        return parse_date(value, prefix=True)
    return None


@dataclass(frozen=True, slots=True)
class DatedFact:
    """One date a source gives for an entry: what kind of date it is, and who says so."""

    date: date
    basis: str  # e.g. "Federal Register publication date", "effective date", "edition date"
    citation: str  # e.g. "85 FR 34497, 6/5/20" or the edition name
    source: str  # provenance: repo@commit:path or URL

    def to_json(self) -> dict[str, str]:
        return {
            "date": self.date.isoformat(),
            "basis": self.basis,
            "citation": self.citation,
            "source": self.source,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> DatedFact:
        got = _as_date(d["date"])
        assert got is not None
        return cls(date=got, basis=d.get("basis", ""), citation=d.get("citation", ""),
                   source=d.get("source", ""))


@dataclass(frozen=True, slots=True)
class Edition:
    """One published edition of a list (e.g. DoD 1286 FY2025)."""

    list: str
    edition: str
    published_on: date | None
    basis: str
    source_url: str
    provenance: str
    licence: str
    entry_count: int

    def to_json(self) -> dict[str, Any]:
        return {
            "list": self.list,
            "edition": self.edition,
            "published_on": self.published_on.isoformat() if self.published_on else None,
            "basis": self.basis,
            "source_url": self.source_url,
            "provenance": self.provenance,
            "licence": self.licence,
            "entry_count": self.entry_count,
        }


@dataclass(frozen=True, slots=True)
class ListInfo:
    """A list as a whole: its name, whether it is a designation, and its data date."""

    code: str
    name: str
    authority: str
    is_designation: bool
    data_date: date | None
    source_url: str
    licence: str
    notes: str = ""
    #: when the list itself first existed (its first edition's document date): a work
    #: published before it cannot have been "listed"; with its basis and source
    first_published: date | None = None
    first_published_basis: str = ""


@dataclass(frozen=True, slots=True)
class Institution:
    """One institution and all its list memberships (one :class:`ListEntry` per list).

    ``key`` is the registry's ``institution_key``; ``rors`` and ``openalex_ids`` are the
    identifiers its entries carry; ``merged_from`` the entry IDs of separate records
    that were found to be this institution (see ``tracker/data/institution_merges.csv``).
    """

    key: str
    name: str
    country: str | None
    memberships: tuple[ListEntry, ...]

    @property
    def lists(self) -> tuple[str, ...]:
        return tuple(e.list for e in self.memberships)

    @property
    def rors(self) -> tuple[str, ...]:
        return tuple(sorted({e.ror for e in self.memberships if e.ror}))

    @property
    def openalex_ids(self) -> tuple[str, ...]:
        return tuple(sorted({o for e in self.memberships for o in e.openalex_ids}))

    @property
    def merged_from(self) -> tuple[str, ...]:
        return tuple(sorted({m for e in self.memberships for m in e.merged_from}))

    def membership(self, list_code: str) -> ListEntry | None:
        """This institution's entry on ``list_code``, or None."""
        return next((e for e in self.memberships if e.list == list_code), None)


@dataclass(frozen=True, slots=True)
class ListEntry:
    """One institution's membership of one list.

    ``entry_id`` is stable across registry rebuilds (``"<LIST>:<slug>"``).
    ``listed_on`` is the date findings compare against (the earliest sourced date of
    addition), ``listed_on_basis`` and ``listed_on_source`` say what it is and who says
    so; ``dates`` keeps every sourced date, including ones that disagree.
    ``covers_subunits`` is True only where the entry text says it covers subordinate
    institutions (e.g. "and all subordinate institutes").

    ``listed_on_kind`` is ``addition`` when ``listed_on`` is the date the entry was added,
    ``on_list_by`` when it is only a date by which the entry was on the list (the first
    listing date is not given, e.g. Canada's list as shown on a later page version).
    ``list_since`` is the date the list itself first existed (its first document), filled
    in from the list's :class:`ListInfo` by :class:`Registry`.
    """

    entry_id: str
    list: str
    name: str
    institution_key: str = ""
    aliases: tuple[str, ...] = ()
    aliases_zh: tuple[str, ...] = ()
    country: str | None = None
    entry_type: str = "institution"  # institution | company | unit | talent_program
    ror: str | None = None
    openalex_ids: tuple[str, ...] = ()
    parent_key: str | None = None
    covers_subunits: bool = False
    editions: tuple[str, ...] = ()
    listed_on: date | None = None
    listed_on_basis: str = ""
    listed_on_source: str = ""
    dates: tuple[DatedFact, ...] = ()
    removed_on: date | None = None
    removed_on_source: str = ""
    citations: tuple[str, ...] = ()
    source_url: str = ""
    provenance: str = ""
    licence: str = ""
    notes: str = ""
    generic_aliases: tuple[str, ...] = field(default=())
    listed_on_kind: str = "addition"   # addition | on_list_by
    list_since: date | None = None
    list_since_basis: str = ""
    #: entry IDs of earlier registry builds folded into this one (same institution)
    merged_from: tuple[str, ...] = ()

    @property
    def is_designation(self) -> bool:
        return self.list not in CONTEXT_LISTS

    def listed_between(self, when: date) -> bool | None:
        """Was this entry listed on ``when``?  None when a needed date is unknown."""
        if self.listed_on is None:
            return None
        if when < self.listed_on:
            return False
        return not (self.removed_on is not None and when >= self.removed_on)

    def to_json(self) -> dict[str, Any]:
        return {
            "entry_id": self.entry_id,
            "list": self.list,
            "name": self.name,
            "institution_key": self.institution_key,
            "aliases": list(self.aliases),
            "aliases_zh": list(self.aliases_zh),
            "generic_aliases": list(self.generic_aliases),
            "country": self.country,
            "entry_type": self.entry_type,
            "ror": self.ror,
            "openalex_ids": list(self.openalex_ids),
            "parent_key": self.parent_key,
            "covers_subunits": self.covers_subunits,
            "editions": list(self.editions),
            "listed_on": self.listed_on.isoformat() if self.listed_on else None,
            "listed_on_basis": self.listed_on_basis,
            "listed_on_source": self.listed_on_source,
            "dates": [d.to_json() for d in self.dates],
            "removed_on": self.removed_on.isoformat() if self.removed_on else None,
            "removed_on_source": self.removed_on_source,
            "citations": list(self.citations),
            "source_url": self.source_url,
            "provenance": self.provenance,
            "licence": self.licence,
            "notes": self.notes,
            **({"listed_on_kind": self.listed_on_kind}
               if self.listed_on_kind != "addition" else {}),
            **({"merged_from": list(self.merged_from)} if self.merged_from else {}),
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ListEntry:
        return cls(
            entry_id=d["entry_id"],
            list=d["list"],
            name=d["name"],
            institution_key=d.get("institution_key", ""),
            aliases=tuple(d.get("aliases", ())),
            aliases_zh=tuple(d.get("aliases_zh", ())),
            generic_aliases=tuple(d.get("generic_aliases", ())),
            country=d.get("country"),
            entry_type=d.get("entry_type", "institution"),
            ror=d.get("ror"),
            openalex_ids=tuple(d.get("openalex_ids", ())),
            parent_key=d.get("parent_key"),
            covers_subunits=bool(d.get("covers_subunits", False)),
            editions=tuple(d.get("editions", ())),
            listed_on=_as_date(d.get("listed_on")),
            listed_on_basis=d.get("listed_on_basis", ""),
            listed_on_source=d.get("listed_on_source", ""),
            dates=tuple(DatedFact.from_json(x) for x in d.get("dates", ())),
            removed_on=_as_date(d.get("removed_on")),
            removed_on_source=d.get("removed_on_source", ""),
            citations=tuple(d.get("citations", ())),
            source_url=d.get("source_url", ""),
            provenance=d.get("provenance", ""),
            licence=d.get("licence", ""),
            notes=d.get("notes", ""),
            listed_on_kind=d.get("listed_on_kind", "addition"),
            merged_from=tuple(d.get("merged_from", ())),
        )


class Registry:
    """All list entries, with lookups by OpenAlex ID, ROR and institution key.

    Parameters
    ----------
    entries : iterable of ListEntry
    lists : iterable of ListInfo
    editions : iterable of Edition
    version : str
        The registry build's version string (recorded in every run record).

    Examples
    --------
    >>> e = ListEntry(entry_id="X:a", list="X", name="A University", ror="01yqg2h08",
    ...               openalex_ids=("I1",))
    >>> reg = Registry([e], lists=[], editions=[], version="test")
    >>> [x.entry_id for x in reg.by_ror("01yqg2h08")]
    ['X:a']
    >>> [x.entry_id for x in reg.by_openalex_id("I1")]
    ['X:a']
    """

    def __init__(
        self,
        entries: Iterable[ListEntry],
        *,
        lists: Iterable[ListInfo],
        editions: Iterable[Edition],
        version: str,
        built_from: dict[str, Any] | None = None,
    ) -> None:
        self.lists: dict[str, ListInfo] = {li.code: li for li in lists}
        self.entries: tuple[ListEntry, ...] = tuple(self._with_list_since(entries))
        self.editions: tuple[Edition, ...] = tuple(editions)
        self.version = version
        self.built_from = built_from or {}
        self._by_ror: dict[str, list[ListEntry]] = {}
        self._by_oa: dict[str, list[ListEntry]] = {}
        self._by_key: dict[str, list[ListEntry]] = {}
        for e in self.entries:
            if e.ror:
                self._by_ror.setdefault(e.ror, []).append(e)
            for oid in e.openalex_ids:
                self._by_oa.setdefault(oid, []).append(e)
            if e.institution_key:
                self._by_key.setdefault(e.institution_key, []).append(e)

    def _with_list_since(self, entries: Iterable[ListEntry]) -> Iterator[ListEntry]:
        """Entries with ``list_since`` set from their list's first publication date."""
        for e in entries:
            info = self.lists.get(e.list)
            if info is not None and info.first_published and e.list_since is None:
                e = replace(e, list_since=info.first_published,
                            list_since_basis=info.first_published_basis)
            yield e

    def __iter__(self) -> Iterator[ListEntry]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def by_ror(self, ror: str) -> list[ListEntry]:
        return self._by_ror.get(ror, [])

    def by_openalex_id(self, oid: str) -> list[ListEntry]:
        return self._by_oa.get(oid, [])

    def by_institution_key(self, key: str) -> list[ListEntry]:
        return self._by_key.get(key, [])

    @cached_property
    def entry_index(self) -> dict[str, ListEntry]:
        return {e.entry_id: e for e in self.entries}

    @cached_property
    def _former_ids(self) -> dict[str, str]:
        return {old: e.entry_id for e in self.entries for old in e.merged_from}

    def current_entry_id(self, entry_id: str) -> str | None:
        """The entry ID now holding ``entry_id`` (itself, or the entry it was merged into).

        Examples
        --------
        >>> reg = load_registry()
        >>> reg.current_entry_id("CA_NRO:auto_harbin_institute_of_technology")
        'CA_NRO:hit'
        """
        if entry_id in self.entry_index:
            return entry_id
        return self._former_ids.get(entry_id)

    def institution(self, key: str) -> Institution | None:
        """The institution ``key`` with all its list memberships, or None.

        Examples
        --------
        >>> hit = load_registry().institution("hit")
        >>> hit.lists
        ('ASPI_UNITRACKER', 'BIS_ENTITY_LIST', 'CA_NRO', 'DOD_1286')
        >>> hit.rors
        ('01yqg2h08',)
        """
        entries = self._by_key.get(key)
        if not entries:
            return None
        ordered = tuple(sorted(entries, key=lambda e: e.list))
        main = next((e for e in ordered if e.is_designation), ordered[0])
        return Institution(key=key, name=main.name, country=main.country,
                           memberships=ordered)

    def institutions(self) -> list[Institution]:
        """Every institution, once, sorted by key."""
        out = [self.institution(k) for k in sorted(self._by_key)]
        return [i for i in out if i is not None]

    def restricted_to(self, codes: Iterable[str]) -> Registry:
        """A registry holding only the given lists."""
        keep = set(codes)
        return Registry(
            (e for e in self.entries if e.list in keep),
            lists=(li for li in self.lists.values() if li.code in keep),
            editions=(ed for ed in self.editions if ed.list in keep),
            version=self.version,
            built_from=self.built_from,
        )

    def merged_with(self, other: Registry) -> Registry:
        """This registry plus another's entries (e.g. a user's own watchlist)."""
        return Registry(
            [*self.entries, *other.entries],
            lists=[*self.lists.values(), *other.lists.values()],
            editions=[*self.editions, *other.editions],
            version=f"{self.version}+{other.version}",
            built_from={**self.built_from, **other.built_from},
        )

    def describe(self) -> list[dict[str, Any]]:
        """One dict per list edition: what a run record and a report name."""
        out: list[dict[str, Any]] = []
        for ed in self.editions:
            info = self.lists.get(ed.list)
            out.append({
                **ed.to_json(),
                "data_date": info.data_date.isoformat() if info and info.data_date else None,
            })
        return out


def _registry_from_json(doc: dict[str, Any]) -> Registry:
    lists = [
        ListInfo(
            code=li["code"], name=li["name"], authority=li.get("authority", ""),
            is_designation=bool(li.get("is_designation", True)),
            data_date=_as_date(li.get("data_date")), source_url=li.get("source_url", ""),
            licence=li.get("licence", ""), notes=li.get("notes", ""),
            first_published=_as_date(li.get("first_published")),
            first_published_basis=li.get("first_published_basis", ""),
        )
        for li in doc.get("lists", [])
    ]
    editions = [
        Edition(
            list=ed["list"], edition=ed["edition"], published_on=_as_date(ed.get("published_on")),
            basis=ed.get("basis", ""), source_url=ed.get("source_url", ""),
            provenance=ed.get("provenance", ""), licence=ed.get("licence", ""),
            entry_count=int(ed.get("entry_count", 0)),
        )
        for ed in doc.get("editions", [])
    ]
    entries = [ListEntry.from_json(e) for e in doc.get("entries", [])]
    return Registry(entries, lists=lists, editions=editions, version=doc.get("version", "unknown"),
                    built_from=doc.get("built_from", {}))


def load_registry(path: str | Path | None = None) -> Registry:
    """Load the bundled registry, or one at ``path``.

    Raises
    ------
    RegistryError
        The file is missing or not a registry.
    """
    try:
        if path is None:
            data = resources.files("tracker").joinpath("data/registry.json").read_bytes()
        else:
            data = Path(path).read_bytes()
        doc = orjson.loads(data)  # 6 MB: 0.02 s, where json.loads of the text took 0.07 s
        with collector_paused():  # tens of thousands of new objects, none in a cycle
            return _registry_from_json(doc)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise RegistryError(f"cannot load registry {path or '(bundled)'}: {exc}") from exc


# --------------------------------------------------------------------------- data age

STALE_AFTER_DAYS = 365


def data_age_days(data_date: date | None, today: date | None = None) -> int | None:
    """Days between a list's data date and ``today``; None when the data date is unknown.

    Examples
    --------
    >>> data_age_days(date(2026, 7, 9), today=date(2026, 11, 23))
    137
    >>> data_age_days(None) is None
    True
    """
    if data_date is None:
        return None
    return ((today or date.today()) - data_date).days


def is_stale(data_date: date | None, max_age_days: int = STALE_AFTER_DAYS,
             today: date | None = None) -> bool:
    """True when the data is older than ``max_age_days``, or its date is unknown.

    An unknown data date counts as stale: nobody can say the list is current.

    Examples
    --------
    >>> is_stale(date(2020, 8, 21), today=date(2026, 11, 23))
    True
    >>> is_stale(date(2026, 7, 9), today=date(2026, 11, 23))
    False
    >>> is_stale(None)
    True
    """
    age = data_age_days(data_date, today)
    return age is None or age > max_age_days


# --------------------------------------------------------------------------- editions, lookup

def diff_editions(registry: Registry, list_code: str, ed_a: str,
                  ed_b: str) -> tuple[tuple[ListEntry, ...], tuple[ListEntry, ...]]:
    """Entries added and removed between two editions of one list.

    Parameters
    ----------
    registry : Registry
    list_code : str
        e.g. ``"DOD_1286"``.
    ed_a, ed_b : str
        Edition names as in ``registry.editions`` (e.g. ``"FY2024"``, ``"FY2025"``).

    Returns
    -------
    (added, removed) : tuple of tuple of ListEntry
        ``added`` are in ``ed_b`` but not ``ed_a``; ``removed`` the reverse.  Both sorted
        by ``entry_id``.

    Raises
    ------
    RegistryError
        The list or an edition is not in the registry.

    Examples
    --------
    >>> a = ListEntry(entry_id="L:a", list="L", name="A", editions=("1", "2"))
    >>> b = ListEntry(entry_id="L:b", list="L", name="B", editions=("2",))
    >>> eds = [Edition("L", e, None, "", "", "", "", 0) for e in ("1", "2")]
    >>> reg = Registry([a, b], lists=[], editions=eds, version="t")
    >>> added, removed = diff_editions(reg, "L", "1", "2")
    >>> [e.entry_id for e in added], [e.entry_id for e in removed]
    (['L:b'], [])
    """
    known = {ed.edition for ed in registry.editions if ed.list == list_code}
    if not known:
        codes = sorted({ed.list for ed in registry.editions})
        raise RegistryError(f"unknown list {list_code!r}; known: {', '.join(codes)}")
    for ed in (ed_a, ed_b):
        if ed not in known:
            raise RegistryError(f"{list_code} has no edition {ed!r}; known: "
                                f"{', '.join(sorted(known))}")
    entries = [e for e in registry.entries if e.list == list_code]
    added = tuple(sorted((e for e in entries if ed_b in e.editions and ed_a not in e.editions),
                         key=lambda e: e.entry_id))
    removed = tuple(sorted((e for e in entries if ed_a in e.editions and ed_b not in e.editions),
                           key=lambda e: e.entry_id))
    return added, removed


def _norm(text: str) -> str:
    t = unicodedata.normalize("NFKC", text).lower().replace("&", " and ")
    return " ".join(re.sub(r"[^0-9a-z\u3400-\u9fff]+", " ", t).split())


_ROR_RE = re.compile(r"^(?:https?://)?(?:www\.)?(?:ror\.org/)?(0[a-z0-9]{6}[0-9]{2})/?$", re.I)
_OA_RE = re.compile(r"^(?:https?://)?(?:openalex\.org/)?(I\d+)$", re.I)


def find(registry: Registry, query: str) -> list[ListEntry]:
    """Entries whose entry ID, institution key, ROR, OpenAlex ID, name or alias match.

    Identifiers match exactly (a ROR or OpenAlex ID in any of its usual forms); names
    and aliases (English and Chinese) match after normalisation, exactly first, and as a
    substring only when nothing matches exactly.  Results are sorted by list and ID.

    Examples
    --------
    >>> e = ListEntry(entry_id="X:hit", list="X", name="Harbin Institute of Technology",
    ...               institution_key="hit", ror="01yqg2h08", openalex_ids=("I204983213",),
    ...               aliases=("HIT",))
    >>> reg = Registry([e], lists=[], editions=[], version="t")
    >>> [x.entry_id for x in find(reg, "https://ror.org/01yqg2h08")]
    ['X:hit']
    >>> [x.entry_id for x in find(reg, "https://openalex.org/I204983213")]
    ['X:hit']
    >>> [x.entry_id for x in find(reg, "harbin institute")]
    ['X:hit']
    >>> find(reg, "  ")
    []
    """
    q = query.strip()
    if not q:
        return []
    hits: dict[str, ListEntry] = {}
    if q in registry.entry_index:
        hits[q] = registry.entry_index[q]
    m = _ROR_RE.match(q)
    if m:
        for e in registry.by_ror(m.group(1).lower()):
            hits[e.entry_id] = e
    m = _OA_RE.match(q)
    if m:
        for e in registry.by_openalex_id(m.group(1).upper()):
            hits[e.entry_id] = e
    for e in registry.by_institution_key(q):
        hits[e.entry_id] = e
    if not hits:
        nq = _norm(q)
        if nq:
            for e in registry.entries:
                if any(_norm(n) == nq for n in (e.name, *e.aliases, *e.aliases_zh)):
                    hits[e.entry_id] = e
            if not hits and len(nq) >= 3:
                for e in registry.entries:
                    if any(nq in _norm(n) for n in (e.name, *e.aliases, *e.aliases_zh)):
                        hits[e.entry_id] = e
    return sorted(hits.values(), key=lambda e: (e.list, e.entry_id))


# --------------------------------------------------------------------------- user watchlists

USER_FIELDS = ("name", "list", "ror", "openalex_ids", "aliases", "aliases_zh", "country",
               "entry_type", "covers_subunits", "listed_on", "listed_on_source", "removed_on",
               "removed_on_source", "source_url", "notes")
_CODE_RE = re.compile(r"^[A-Z][A-Z0-9_]{1,39}$")
_ENTRY_TYPES = ("institution", "company", "unit", "talent_program")
_TRUE = {"true", "yes", "1", "y"}
_FALSE = {"false", "no", "0", "n", ""}


def _bad(path: Path, line: int, fld: str, problem: str) -> RegistryError:
    return RegistryError(f"{path}: line {line}: field '{fld}': {problem}")


def _split_multi(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    return [v.strip() for v in str(value).split("|") if v.strip()]


def _user_entry(path: Path, row: dict[str, Any], lines: dict[str, int], code: str,
                source: str) -> ListEntry:
    """Validate one user row; ``lines`` maps each field to its line in the file."""
    def line(fld: str) -> int:
        return lines.get(fld, lines.get("", 0))

    unknown = sorted(k for k in row if k not in USER_FIELDS)
    if unknown:
        raise _bad(path, line(unknown[0]), unknown[0],
                   f"unknown field; allowed: {', '.join(USER_FIELDS)}")
    name = str(row.get("name") or "").strip()
    if not name:
        raise _bad(path, line("name"), "name", "required, and empty here")
    ror: str | None = None
    if row.get("ror") not in (None, ""):
        m = _ROR_RE.match(str(row["ror"]).strip())
        if not m:
            raise _bad(path, line("ror"), "ror",
                       f"not a ROR ID (like 01yqg2h08 or https://ror.org/01yqg2h08): "
                       f"{row['ror']!r}")
        ror = m.group(1).lower()
    oids = []
    for v in _split_multi(row.get("openalex_ids")):
        m = _OA_RE.match(v)
        if not m:
            raise _bad(path, line("openalex_ids"), "openalex_ids",
                       f"not an OpenAlex institution ID (like I204983213): {v!r}")
        oids.append(m.group(1).upper())
    country = str(row.get("country") or "").strip().upper() or None
    if country is not None and not re.fullmatch(r"[A-Z]{2}", country):
        raise _bad(path, line("country"), "country",
                   f"not a two-letter ISO country code: {row['country']!r}")
    etype = str(row.get("entry_type") or "institution").strip()
    if etype not in _ENTRY_TYPES:
        raise _bad(path, line("entry_type"), "entry_type",
                   f"{etype!r} is not one of {', '.join(_ENTRY_TYPES)}")
    cov = row.get("covers_subunits")
    if isinstance(cov, bool):
        covers = cov
    elif str(cov or "").strip().lower() in _TRUE | _FALSE:
        covers = str(cov or "").strip().lower() in _TRUE
    else:
        raise _bad(path, line("covers_subunits"), "covers_subunits",
                   f"not true/false: {cov!r}")

    def when(fld: str) -> date | None:
        v = row.get(fld)
        if v in (None, ""):
            return None
        if isinstance(v, date):
            return v
        try:
            return date.fromisoformat(str(v).strip())
        except ValueError:
            raise _bad(path, line(fld), fld, f"not a date YYYY-MM-DD: {v!r}") from None

    listed_on, removed_on = when("listed_on"), when("removed_on")
    listed_src = str(row.get("listed_on_source") or "").strip()
    removed_src = str(row.get("removed_on_source") or "").strip()
    if listed_on and not listed_src:
        raise _bad(path, line("listed_on"), "listed_on_source",
                   "required when listed_on is given (no date without a source)")
    if removed_on and not removed_src:
        raise _bad(path, line("removed_on"), "removed_on_source",
                   "required when removed_on is given (no date without a source)")
    if listed_on and removed_on and removed_on <= listed_on:
        raise _bad(path, line("removed_on"), "removed_on",
                   f"{removed_on} is not after listed_on {listed_on}")
    key = f"user_{ror}" if ror else "user_" + (re.sub(r"[^a-z0-9]+", "_", _norm(name))
                                              .strip("_") or "unnamed")
    dates = []
    if listed_on:
        dates.append(DatedFact(listed_on, "user-supplied date of addition", listed_src,
                               listed_src))
    if removed_on:
        dates.append(DatedFact(removed_on, "user-supplied removal date", removed_src,
                               removed_src))
    aliases = tuple(_split_multi(row.get("aliases")))
    return ListEntry(
        entry_id=f"{code}:{key}", list=code, name=name, institution_key=key,
        aliases=aliases, aliases_zh=tuple(_split_multi(row.get("aliases_zh"))),
        generic_aliases=tuple(a for a in aliases
                              if len(re.sub(r"[^A-Za-z0-9]", "", a)) <= 4),
        country=country, entry_type=etype, ror=ror, openalex_ids=tuple(oids),
        covers_subunits=covers and etype != "talent_program", editions=("user",),
        listed_on=listed_on,
        listed_on_basis="user-supplied date of addition" if listed_on else "",
        listed_on_source=listed_src, dates=tuple(dates), removed_on=removed_on,
        removed_on_source=removed_src, source_url=str(row.get("source_url") or ""),
        provenance=source, licence="user-supplied", notes=str(row.get("notes") or ""),
    )


def _read_user_csv(path: Path, text: str) -> tuple[str | None, list[tuple[dict[str, Any],
                                                                           dict[str, int]]]]:
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    if not header or not any(h.strip() for h in header):
        raise _bad(path, 1, "name", "no header row (first line must name the columns)")
    for h in header:
        if h is None or h.strip() not in USER_FIELDS:
            raise _bad(path, 1, str(h), f"unknown column; allowed: {', '.join(USER_FIELDS)}")
    if "name" not in [h.strip() for h in header]:
        raise _bad(path, 1, "name", "required column is missing")
    rows = []
    start = 2
    try:
        for raw in reader:
            end = reader.line_num
            if None in raw:
                raise _bad(path, end, str(header[-1]), "more values than columns")
            row = {k.strip(): (v.strip() if isinstance(v, str) else v) for k, v in raw.items()}
            if not any(row.values()):
                start = end + 1
                continue
            lines = {"": start, **{k: start for k in row}}
            rows.append((row, lines))
            start = end + 1
    except csv.Error as exc:
        raise _bad(path, reader.line_num, "(csv)", str(exc)) from None
    return None, rows


def _read_user_yaml(path: Path, text: str) -> tuple[str | None, list[tuple[dict[str, Any],
                                                                            dict[str, int]]]]:
    import yaml

    class _Loader(yaml.SafeLoader):
        """Safe loading with dates kept as text, so a bad date is reported with its line."""

    _Loader.yaml_implicit_resolvers = {
        k: [r for r in v if r[0] != "tag:yaml.org,2002:timestamp"]
        for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    try:
        node = yaml.compose(text, Loader=_Loader)
        doc = yaml.load(text, Loader=_Loader)  # a SafeLoader subclass: safe
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        ln = mark.line + 1 if mark is not None else 1
        raise _bad(path, ln, "(yaml)", str(getattr(exc, "problem", exc))) from None
    if not isinstance(doc, dict) or not isinstance(node, yaml.MappingNode):
        raise _bad(path, 1, "entries", "the file must be a mapping with an 'entries' list")
    keys = {k.value: (k, v) for k, v in node.value}
    for k in doc:
        if k not in ("list", "entries", "name", "description"):
            kn = keys.get(str(k))
            raise _bad(path, kn[0].start_mark.line + 1 if kn else 1, str(k),
                       "unknown top-level key; allowed: list, name, description, entries")
    if "entries" not in doc:
        raise _bad(path, 1, "entries", "required top-level key is missing")
    code = doc.get("list")
    entries_node = keys["entries"][1]
    if not isinstance(doc["entries"], list) or not isinstance(entries_node, yaml.SequenceNode):
        raise _bad(path, entries_node.start_mark.line + 1, "entries", "must be a list")
    rows = []
    for item, inode in zip(doc["entries"], entries_node.value, strict=True):
        ln = inode.start_mark.line + 1
        if not isinstance(item, dict) or not isinstance(inode, yaml.MappingNode):
            raise _bad(path, ln, "entries", "each entry must be a mapping (name: ...)")
        lines = {"": ln, **{k.value: v.start_mark.line + 1 for k, v in inode.value}}
        rows.append(({str(k): v for k, v in item.items()}, lines))
    return (str(code) if code is not None else None), rows


def load_user_watchlist(path: str | Path, default_code: str = "USER") -> Registry:
    """Load a user's own watchlist (CSV or YAML) as a registry to merge with the bundled one.

    CSV: a header row naming the columns (``name`` required; see ``USER_FIELDS``),
    multi-valued fields (``aliases``, ``openalex_ids``) separated by ``|``.  YAML: a
    mapping with an optional ``list`` code and an ``entries`` list of mappings with the
    same fields.  A ``listed_on`` date needs a ``listed_on_source``: no date without a
    source.  The list code (``list`` column/key, default ``USER``) must be upper case
    and must not be a bundled list's code.  Examples: ``tracker/data/example_watchlist.csv``
    and ``.yaml``.

    Raises
    ------
    RegistryError
        The file is missing or malformed; the message names the file, line and field.

    Examples
    --------
    >>> from importlib import resources
    >>> p = resources.files("tracker").joinpath("data/example_watchlist.csv")
    >>> reg = load_user_watchlist(str(p))
    >>> sorted(reg.lists)
    ['MY_WATCHLIST']
    >>> [e.entry_id for e in reg.by_ror("01yqg2h08")]
    ['MY_WATCHLIST:user_01yqg2h08']
    """
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise RegistryError(f"{p}: line 0: field '(file)': cannot read ({exc.strerror})") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        ln = data[: exc.start].count(b"\n") + 1
        raise _bad(p, ln, "(encoding)", "not UTF-8 text") from None
    suffix = p.suffix.lower()
    if suffix == ".csv":
        code, rows = _read_user_csv(p, text)
    elif suffix in (".yaml", ".yml"):
        code, rows = _read_user_yaml(p, text)
    else:
        raise _bad(p, 0, "(file)", "the file name must end in .csv, .yaml or .yml")
    sha = hashlib.sha256(data).hexdigest()
    source = f"user watchlist {p.name} (sha256 {sha[:16]})"
    entries: list[ListEntry] = []
    seen: dict[str, int] = {}
    codes: set[str] = set()
    for row, lines in rows:
        row_code = str(row.pop("list", "") or code or default_code).strip()
        if not _CODE_RE.match(row_code):
            raise _bad(p, lines.get("list", lines[""]), "list",
                       f"list code must be upper case letters, digits, _ : {row_code!r}")
        if row_code in DESIGNATION_LISTS or row_code in CONTEXT_LISTS:
            raise _bad(p, lines.get("list", lines[""]), "list",
                       f"{row_code} is a bundled list's code; choose your own")
        e = _user_entry(p, row, lines, row_code, source)
        if e.entry_id in seen:
            raise _bad(p, lines[""], "name", f"duplicate entry {e.entry_id} (first on line "
                                             f"{seen[e.entry_id]})")
        seen[e.entry_id] = lines[""]
        codes.add(row_code)
        entries.append(e)
    if not entries:
        raise _bad(p, 1, "entries", "no entries")
    lists = [ListInfo(code=c, name=f"User watchlist {c} ({p.name})", authority="user",
                      is_designation=False, data_date=None, source_url="",
                      licence="user-supplied", notes=source) for c in sorted(codes)]
    editions = [Edition(list=c, edition="user", published_on=None,
                        basis="user watchlist file", source_url="", provenance=source,
                        licence="user-supplied",
                        entry_count=sum(1 for e in entries if e.list == c))
                for c in sorted(codes)]
    return Registry(entries, lists=lists, editions=editions, version=f"user-{sha[:12]}",
                    built_from={f"user:{p.name}": {"sha256": sha}})
