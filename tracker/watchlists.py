"""The dated registry of restricted institutions.

The registry is data, bundled in ``tracker/data/registry.json`` and rebuilt from the
cited sources by ``scripts/build_registry.py``.  One :class:`ListEntry` is one
institution's membership of one list; it carries every edition it appears in, every
date a source gives (with that source), and where the data came from.  A date that no
source gives is ``None``: nothing is guessed.

List codes
----------
``BIS_ENTITY_LIST``, ``BIS_MEU``, ``DOD_1286``, ``DOD_1260H``, ``OFAC_NS_CMIC``,
``CA_NRO`` are designations; ``ASPI_UNITRACKER`` is context (an assessment, not a
designation).  User lists get their own codes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = [
    "CONTEXT_LISTS",
    "DESIGNATION_LISTS",
    "DatedFact",
    "Edition",
    "ListEntry",
    "ListInfo",
    "Registry",
    "RegistryError",
    "load_registry",
]

DESIGNATION_LISTS = (
    "BIS_ENTITY_LIST",
    "BIS_MEU",
    "DOD_1286",
    "DOD_1260H",
    "OFAC_NS_CMIC",
    "CA_NRO",
)
CONTEXT_LISTS = ("ASPI_UNITRACKER",)


class RegistryError(ValueError):
    """The registry or a user watchlist cannot be loaded.  Abort the run: screening
    against an incomplete registry would silently miss ties."""


def _d(value: object) -> date | None:
    if isinstance(value, date):
        return value
    if isinstance(value, str) and value:
        return date.fromisoformat(value[:10])
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
        got = _d(d["date"])
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


@dataclass(frozen=True, slots=True)
class ListEntry:
    """One institution's membership of one list.

    ``entry_id`` is stable across registry rebuilds (``"<LIST>:<slug>"``).
    ``listed_on`` is the date findings compare against (the earliest sourced date of
    addition), ``listed_on_basis`` and ``listed_on_source`` say what it is and who says
    so; ``dates`` keeps every sourced date, including ones that disagree.
    ``covers_subunits`` is True only where the entry text says it covers subordinate
    institutions (e.g. "and all subordinate institutes").
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
            listed_on=_d(d.get("listed_on")),
            listed_on_basis=d.get("listed_on_basis", ""),
            listed_on_source=d.get("listed_on_source", ""),
            dates=tuple(DatedFact.from_json(x) for x in d.get("dates", ())),
            removed_on=_d(d.get("removed_on")),
            removed_on_source=d.get("removed_on_source", ""),
            citations=tuple(d.get("citations", ())),
            source_url=d.get("source_url", ""),
            provenance=d.get("provenance", ""),
            licence=d.get("licence", ""),
            notes=d.get("notes", ""),
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
        self.entries: tuple[ListEntry, ...] = tuple(entries)
        self.lists: dict[str, ListInfo] = {li.code: li for li in lists}
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
            data_date=_d(li.get("data_date")), source_url=li.get("source_url", ""),
            licence=li.get("licence", ""), notes=li.get("notes", ""),
        )
        for li in doc.get("lists", [])
    ]
    editions = [
        Edition(
            list=ed["list"], edition=ed["edition"], published_on=_d(ed.get("published_on")),
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
            text = resources.files("tracker").joinpath("data/registry.json").read_text("utf-8")
        else:
            text = Path(path).read_text("utf-8")
        doc = json.loads(text)
        return _registry_from_json(doc)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise RegistryError(f"cannot load registry {path or '(bundled)'}: {exc}") from exc
