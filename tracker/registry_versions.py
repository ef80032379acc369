"""Registry versions: every list update makes a new, immutable, content-addressed
version of the registry under ``$TRACKER_HOME/registry``; the bundled registry is
version 0.

Layout::

    $TRACKER_HOME/registry/versions/<version_id>.json.gz   one registry each, never rewritten
    $TRACKER_HOME/registry/versions.json                   the index (number, id, parent,
                                                            sources: URL or file, retrieval
                                                            time, sha256, entry counts)
    $TRACKER_HOME/registry/CURRENT                         the version in force

A version is written whole before the index and ``CURRENT`` name it (each by an atomic
rename), so a failure at any point leaves the version in force as it was.

New entries pass through one function, :func:`compose_registry`: it replaces the entries
of the lists updated and reuses an existing ``institution_key`` only on an exact
normalised name + country match; any other entry gets a key of its own and is counted
as a new institution that needs linking.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import os
import re
import tempfile
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson

from tracker.listsources import ParsedEntry, ParsedSource
from tracker.listsources.build import BuildResult, ReviewedLink, accepted_links, build_registry
from tracker.names.identity import likely_duplicates
from tracker.watchlists import (
    DatedFact,
    Edition,
    ListEntry,
    ListInfo,
    Registry,
    RegistryError,
    _registry_from_json,
    load_registry,
)

__all__ = [
    "LIST_INFO",
    "MERGE_FILE",
    "EntryChange",
    "ListDiff",
    "ListSourcesStage",
    "ListUpdate",
    "MergeDecisions",
    "UpdateOutcome",
    "UpdateRefused",
    "VersionInfo",
    "VersionStore",
    "auto_key",
    "compose_registry",
    "content_id",
    "diff_registries",
    "list_sources_stage",
    "list_updates",
    "registry_home",
    "registry_to_json",
    "update_registry",
]

#: Lists the registry can carry from the official publications, beyond the bundled ones.
LIST_INFO: dict[str, tuple[str, str]] = {
    "BIS_ENTITY_LIST": ("Entity List (15 CFR 744 Supplement No. 4)",
                        "U.S. Department of Commerce, Bureau of Industry and Security"),
    "BIS_MEU": ("Military End-User List (15 CFR 744 Supplement No. 7)",
                "U.S. Department of Commerce, Bureau of Industry and Security"),
    "BIS_UVL": ("Unverified List (15 CFR 744 Supplement No. 6)",
                "U.S. Department of Commerce, Bureau of Industry and Security"),
    "BIS_DPL": ("Denied Persons List", "U.S. Department of Commerce, Bureau of Industry "
                "and Security"),
    "STATE_ISN": ("Nonproliferation Sanctions (ISN)", "U.S. Department of State, Bureau of "
                  "International Security and Nonproliferation"),
    "STATE_DDTC_DEBARRED": ("ITAR Debarred Parties (DDTC)", "U.S. Department of State, "
                            "Directorate of Defense Trade Controls"),
    "FCC_COVERED": ("FCC Covered List", "Federal Communications Commission"),
    "DHS_UFLPA": ("UFLPA Entity List", "U.S. Department of Homeland Security (FLETF)"),
    "OFAC_NS_CMIC": ("Non-SDN Chinese Military-Industrial Complex Companies List",
                     "U.S. Department of the Treasury, OFAC"),
    "OFAC_SDN": ("Specially Designated Nationals List", "U.S. Department of the Treasury, OFAC"),
    "OFAC_SSI": ("Sectoral Sanctions Identifications List",
                 "U.S. Department of the Treasury, OFAC"),
    "OFAC_PLC": ("Palestinian Legislative Council List", "U.S. Department of the Treasury, OFAC"),
    "OFAC_CAPTA": ("CAPTA List", "U.S. Department of the Treasury, OFAC"),
    "OFAC_NS_MBS": ("Non-SDN Menu-Based Sanctions List", "U.S. Department of the Treasury, OFAC"),
    "OFAC_FSE": ("Foreign Sanctions Evaders List", "U.S. Department of the Treasury, OFAC"),
    "DOD_1260H": ("DoD Section 1260H list of Chinese military companies",
                  "U.S. Department of Defense"),
    "CA_NRO": ("Named Research Organizations", "Government of Canada"),
}
#: An update that would remove more than this share of a list's entries is refused
#: (a partial file or an excerpt read as the whole list) unless allowed.
MAX_SHRINK = 0.5


class UpdateRefused(ValueError):
    """The update is not applied: the version in force stays (message says why)."""


def registry_home(home: str | Path | None = None) -> Path:
    """``home``, else :func:`tracker.home.data_dir` (``$TRACKER_HOME``, else
    ``~/.local/share/tracker``)."""
    if home is not None:
        return Path(home)
    from tracker.home import data_dir

    return data_dir()


# --------------------------------------------------------------------------- JSON

def _list_info_json(li: ListInfo) -> dict[str, Any]:
    return {"code": li.code, "name": li.name, "authority": li.authority,
            "is_designation": li.is_designation,
            "data_date": li.data_date.isoformat() if li.data_date else None,
            "source_url": li.source_url, "licence": li.licence, "notes": li.notes,
            **({"first_published": li.first_published.isoformat(),
                "first_published_basis": li.first_published_basis}
               if li.first_published else {})}


def _content(reg: Registry) -> dict[str, Any]:
    return {
        "lists": sorted((_list_info_json(li) for li in reg.lists.values()),
                        key=lambda d: d["code"]),
        "editions": [ed.to_json() for ed in reg.editions],
        "entries": [e.to_json() for e in reg.entries],
    }


def content_id(reg: Registry) -> str:
    """The registry's content address: hash of its lists, editions and entries."""
    blob = orjson.dumps(_content(reg), option=orjson.OPT_SORT_KEYS)
    return "reg-" + hashlib.sha256(blob).hexdigest()[:16]


def registry_to_json(reg: Registry) -> dict[str, Any]:
    """The registry as ``registry.json`` holds it (loadable by ``load_registry``)."""
    return {"version": reg.version, "built_from": reg.built_from, **_content(reg)}


# --------------------------------------------------------------------------- compose

def _norm(text: str) -> str:
    t = unicodedata.normalize("NFKC", text).casefold()
    return re.sub(r"[^\w]+", " ", t).strip()


def _name_key(text: str) -> str:
    """A name for the identity rule: NFKC, case-folded, letters and digits only (so
    'Al Naser Airlines' = 'Alnaser Airlines', 'A.A. Kharkevich' = 'AA Kharkevich').

    Examples
    --------
    >>> _name_key("Al-Naser Airlines") == _name_key("ALNASER AIRLINES")
    True
    """
    return re.sub(r"[\W_]+", "", unicodedata.normalize("NFKC", text).casefold())


def auto_key(name: str) -> str:
    """The ``institution_key`` the registry build gives a name of its own (``auto_`` style),
    so reviewed decisions in ``institution_merges.csv`` name new institutions the same way.

    Examples
    --------
    >>> auto_key("Harbin Institute of Technology")
    'auto_harbin_institute_of_technology'
    """
    s = re.sub(r"[^a-z0-9]+", "_", unicodedata.normalize("NFKD", name).lower()).strip("_")
    if len(s) > 60:
        s = f"{s[:50]}_{hashlib.sha1(s.encode()).hexdigest()[:8]}"
    return f"auto_{s or 'unnamed'}"


#: The reviewed merge decisions shipped with the package (``key,into,decision,reason``).
MERGE_FILE = Path(__file__).resolve().parent / "data" / "institution_merges.csv"


@dataclass(frozen=True, slots=True)
class MergeDecisions:
    """Reviewed identity decisions: ``merge`` (key joins ``into``) and ``keep_apart``
    (the two keys are different institutions, whatever their names say).

    Examples
    --------
    >>> m = MergeDecisions({"auto_a": "a"}, frozenset({frozenset({"auto_b", "b"})}))
    >>> (m.merge_into["auto_a"], m.apart("b", "auto_b"), m.apart("a", "auto_a"))
    ('a', True, False)
    """

    merge_into: dict[str, str] = field(default_factory=dict)
    keep_apart: frozenset[frozenset[str]] = frozenset()

    def apart(self, a: str, b: str) -> bool:
        return a != b and frozenset({a, b}) in self.keep_apart

    @classmethod
    def read(cls, path: str | Path | None = None) -> MergeDecisions:
        """The decisions of ``path`` (default :data:`MERGE_FILE`); none when it is absent.

        Raises
        ------
        RegistryError
            The file exists but has no ``key``, ``into`` and ``decision`` columns.
        """
        p = Path(path) if path is not None else MERGE_FILE
        if not p.is_file():
            return cls()
        with p.open(encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh))
        if rows and not {"key", "into", "decision"} <= set(rows[0]):
            raise RegistryError(f"{p}: needs the columns key, into, decision")
        merge = {r["key"]: r["into"] for r in rows if r["decision"] == "merge"}
        apart = frozenset(frozenset({r["key"], r["into"]}) for r in rows
                          if r["decision"] == "keep_apart")
        return cls(merge, apart)


@dataclass(slots=True)
class ListUpdate:
    """New entries of one list, from one parsed source."""

    code: str
    entries: list[ParsedEntry]
    source: ParsedSource
    data_date: date | None


def _edition_name(u: ListUpdate) -> str:
    return f"{u.source.source}-{u.data_date.isoformat() if u.data_date else 'undated'}"


def _provenance(src: ParsedSource) -> str:
    return f"{src.origin} (sha256 {src.sha256[:16]}, retrieved {src.retrieved_at})"


def compose_registry(base: Registry, updated_lists: Mapping[str, ListUpdate], *,
                     version: str = "", merges: MergeDecisions | None = None,
                     links: Mapping[str, Sequence[ReviewedLink]] | None = None) -> Registry:
    """A new registry: ``base`` with the entries of each updated list replaced.

    The same identity rule as the registry build: ``institution_key`` is reused from
    ``base`` only on an exact normalised name + country match (or, when the new entry has
    no country, a name held by exactly one institution), or where a reviewed ``merge``
    decision sends the entry's ``auto_`` key into an existing one; a reviewed
    ``keep_apart`` decision between the two keys wins over the name match.  The ROR,
    OpenAlex IDs and Chinese names of a joined institution come with it.  Any other entry
    gets a key of its own (``auto_`` style): a new institution that needs linking.
    ``built_from["update"]`` counts per list the entries that ``joined`` an existing
    institution and the ``new_institutions``.

    Parameters
    ----------
    base : Registry
    updated_lists : mapping of list code -> ListUpdate
    version : str
        The new registry's version string (default: its content address).
    merges : MergeDecisions, optional
        Reviewed decisions (default: none; :func:`update_registry` passes the shipped
        ``institution_merges.csv``).
    links : mapping of institution key -> reviewed links, optional
        Accepted ID links (``id_links.csv``, see
        :func:`tracker.listsources.build.accepted_links`; default: none).  A new
        institution whose key has one gets its ROR / OpenAlex ID, never across countries
        (a link whose country differs from the entry's is not applied).

    Returns
    -------
    Registry
    """
    by_name_country: dict[tuple[str, str | None], set[str]] = {}
    by_name: dict[str, set[str]] = {}
    carried: dict[str, ListEntry] = {}
    for e in base.entries:
        if not e.institution_key:
            continue
        by_name_country.setdefault((_name_key(e.name), e.country), set()).add(
            e.institution_key)
        by_name.setdefault(_name_key(e.name), set()).add(e.institution_key)
        if e.institution_key not in carried or (e.ror and not carried[e.institution_key].ror):
            carried[e.institution_key] = e
    taken = {e.institution_key for e in base.entries if e.institution_key}
    new_entries: list[ListEntry] = [e for e in base.entries if e.list not in updated_lists]
    lists = {c: li for c, li in base.lists.items()}
    editions = [ed for ed in base.editions if ed.list not in updated_lists]
    new_inst: dict[str, int] = {}
    joined: dict[str, int] = {}
    decisions = merges or MergeDecisions()
    for code, upd in sorted(updated_lists.items()):
        src = upd.source
        prov = _provenance(src)
        ed_name = _edition_name(upd)
        merged: dict[str, ListEntry] = {}
        for pe in upd.entries:
            nk = _name_key(pe.name)
            own = auto_key(pe.name)
            keys = set(by_name_country.get((nk, pe.country), set()))
            if not keys and pe.country is None:
                keys = set(by_name.get(nk, set()))
            into = decisions.merge_into.get(own)
            if into is not None and into in taken:
                keys = {into}
            keys = {k for k in keys if not decisions.apart(own, k)}
            fresh = len(keys) != 1
            # a reviewed merge: the entry once had its own ID (kept for saved reviews)
            former = ((f"{code}:{own}",) if not fresh and into in keys and into != own
                      else ())
            if not fresh:
                key = next(iter(keys))
            else:
                key = own
                if key in taken:
                    key = f"{key}__{code.lower()}"
                n = 2
                while key in taken:
                    key, n = f"{key.rsplit('~', 1)[0]}~{n}", n + 1
                taken.add(key)
                by_name_country.setdefault((nk, pe.country), set()).add(key)
                by_name.setdefault(nk, set()).add(key)
            link = carried.get(key)
            ror, oids = (link.ror, link.openalex_ids) if link else (None, ())
            reviewed = [x for x in (links or {}).get(key, ()) if link is None and
                        not (x.country and pe.country and x.country != pe.country)]
            for x in reviewed:
                ror = ror or x.ror or None
                oids = (*oids, x.openalex_id) if x.openalex_id and x.openalex_id not in oids \
                    else oids
            dates = []
            if pe.listed_on:
                dates.append(DatedFact(pe.listed_on, pe.listed_on_basis,
                                       "; ".join(pe.citations) or ed_name, prov))
            eid = f"{code}:{key}"
            prior = merged.get(eid)
            if prior is not None:  # the institution again (another address, notice, spelling)
                firsts = [d for d in (prior.listed_on, pe.listed_on) if d]
                first = min(firsts) if firsts else None
                merged[eid] = replace(
                    prior,
                    aliases=tuple(a for a in dict.fromkeys(
                        (*prior.aliases, pe.name, *pe.aliases)) if a != prior.name),
                    citations=tuple(dict.fromkeys((*prior.citations, *pe.citations))),
                    country=prior.country or pe.country,
                    dates=tuple(dict.fromkeys((*prior.dates, *dates))),
                    listed_on=first,
                    listed_on_basis=(prior.listed_on_basis if first == prior.listed_on
                                     else pe.listed_on_basis),
                    listed_on_source=prov if first else "",
                    notes=prior.notes if not pe.notes or pe.notes in prior.notes
                    else f"{prior.notes} | {pe.notes}",
                    merged_from=tuple(dict.fromkeys((*prior.merged_from, *former))))
                continue
            if fresh:
                new_inst[code] = new_inst.get(code, 0) + 1
            else:
                joined[code] = joined.get(code, 0) + 1
            merged[eid] = ListEntry(
                entry_id=eid, list=code, name=pe.name, institution_key=key,
                aliases=pe.aliases, aliases_zh=link.aliases_zh if link else (),
                country=pe.country or (link.country if link else None),
                entry_type=pe.entry_type, ror=ror, openalex_ids=oids,
                editions=(ed_name,), listed_on=pe.listed_on,
                listed_on_basis=pe.listed_on_basis,
                listed_on_source=prov if pe.listed_on else "", dates=tuple(dates),
                removed_on=pe.ends_on, removed_on_source=(f"{pe.ends_on_basis}; {prov}"
                                                          if pe.ends_on else ""),
                citations=pe.citations, source_url=pe.source_url or src.source_url,
                provenance=f"list: {prov}" + (f" | institution: {link.provenance}"
                                              if link else "")
                + "".join(f" | ID link {x.link_id} (reviewed, {x.method}; {x.review_note})"
                          for x in reviewed),
                licence=src.licence, notes=pe.notes, merged_from=former)
        new_entries.extend(merged.values())
        prev = lists.get(code)
        name, authority = LIST_INFO.get(code, (code, ""))
        lists[code] = ListInfo(
            code=code, name=prev.name if prev else name,
            authority=prev.authority if prev else authority,
            is_designation=prev.is_designation if prev else True,
            data_date=upd.data_date, source_url=src.source_url, licence=src.licence,
            notes=(f"From {src.source} ({src.origin}); data date = newest date the file "
                   "gives. Institutions only: individuals left out."))
        editions.append(Edition(
            list=code, edition=ed_name, published_on=None,
            basis=f"{src.source} file; newest date in it {upd.data_date or 'unknown'}",
            source_url=src.source_url, provenance=prov, licence=src.licence,
            entry_count=len(merged)))
    built_from = {**base.built_from, "update": {
        "base_version": base.version,
        "lists": sorted(updated_lists),
        "new_institutions": dict(sorted(new_inst.items())),
        "joined": dict(sorted(joined.items())),
    }}
    reg = Registry(new_entries, lists=lists.values(), editions=editions, version="pending",
                   built_from=built_from)
    reg.version = version or content_id(reg)
    return reg


# --------------------------------------------------------------------------- diff

_COMPARED = ("name", "aliases", "country", "listed_on", "removed_on", "citations")


@dataclass(frozen=True, slots=True)
class EntryChange:
    entry_id: str
    fields: dict[str, tuple[Any, Any]]


@dataclass(slots=True)
class ListDiff:
    """Entries of one list added, removed and changed between two registries."""

    code: str
    added: list[ListEntry] = field(default_factory=list)
    removed: list[ListEntry] = field(default_factory=list)
    changed: list[EntryChange] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def to_json(self) -> dict[str, Any]:
        def brief(e: ListEntry) -> dict[str, Any]:
            return {"entry_id": e.entry_id, "name": e.name,
                    "listed_on": e.listed_on.isoformat() if e.listed_on else None}
        return {
            "list": self.code,
            "added": [brief(e) for e in self.added],
            "removed": [brief(e) for e in self.removed],
            "changed": [{"entry_id": c.entry_id,
                         "fields": {k: [_plain(a), _plain(b)] for k, (a, b) in c.fields.items()}}
                        for c in self.changed],
        }


def _plain(v: Any) -> Any:
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, tuple):
        return list(v)
    return v


def diff_registries(a: Registry, b: Registry) -> dict[str, ListDiff]:
    """Per list, the entries added, removed and changed (name, aliases, country, dates,
    citations) from ``a`` to ``b``; lists without a difference are left out.

    Examples
    --------
    >>> e1 = ListEntry(entry_id="X:a", list="X", name="A")
    >>> e2 = ListEntry(entry_id="X:b", list="X", name="B")
    >>> ra = Registry([e1], lists=[], editions=[], version="a")
    >>> rb = Registry([e2], lists=[], editions=[], version="b")
    >>> d = diff_registries(ra, rb)["X"]
    >>> ([e.entry_id for e in d.added], [e.entry_id for e in d.removed])
    (['X:b'], ['X:a'])
    """
    ia, ib = a.entry_index, b.entry_index
    out: dict[str, ListDiff] = {}
    for eid in sorted(set(ia) | set(ib)):
        ea, eb = ia.get(eid), ib.get(eid)
        code = (ea or eb).list  # type: ignore[union-attr]
        d = out.setdefault(code, ListDiff(code))
        if ea is None:
            d.added.append(eb)  # type: ignore[arg-type]
        elif eb is None:
            d.removed.append(ea)
        else:
            fields = {f: (getattr(ea, f), getattr(eb, f)) for f in _COMPARED
                      if getattr(ea, f) != getattr(eb, f)}
            if fields:
                d.changed.append(EntryChange(eid, fields))
    return {c: d for c, d in sorted(out.items()) if not d.empty}


# --------------------------------------------------------------------------- store

@dataclass(frozen=True, slots=True)
class VersionInfo:
    """One registry version: number 0 is the bundled registry."""

    number: int
    version_id: str
    parent: str | None
    created_at: str
    sources: tuple[dict[str, Any], ...] = ()
    counts: dict[str, int] = field(default_factory=dict)
    changes: dict[str, dict[str, int]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"number": self.number, "version_id": self.version_id, "parent": self.parent,
                "created_at": self.created_at, "sources": list(self.sources),
                "counts": self.counts, "changes": self.changes}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> VersionInfo:
        return cls(number=int(d["number"]), version_id=d["version_id"], parent=d.get("parent"),
                   created_at=d.get("created_at", ""), sources=tuple(d.get("sources", ())),
                   counts=dict(d.get("counts", {})), changes=dict(d.get("changes", {})))


def _counts(reg: Registry) -> dict[str, int]:
    out: dict[str, int] = {}
    for e in reg.entries:
        out[e.list] = out.get(e.list, 0) + 1
    return dict(sorted(out.items()))


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class VersionStore:
    """The registry versions under ``<home>/registry``.

    Parameters
    ----------
    home : path, optional
        Default :func:`registry_home` (``$TRACKER_HOME``).
    bundled : Registry, optional
        Version 0 (default: the bundled registry).

    Examples
    --------
    >>> import tempfile
    >>> vs = VersionStore(tempfile.mkdtemp())
    >>> [v.number for v in vs.versions()], vs.current().number
    ([0], 0)
    """

    def __init__(self, home: str | Path | None = None, *, bundled: Registry | None = None
                 ) -> None:
        self.root = registry_home(home) / "registry"
        self._bundled = bundled

    @property
    def bundled(self) -> Registry:
        if self._bundled is None:
            self._bundled = load_registry()
        return self._bundled

    def _index(self) -> list[VersionInfo]:
        path = self.root / "versions.json"
        if not path.exists():
            return []
        try:
            return [VersionInfo.from_json(d) for d in orjson.loads(path.read_bytes())]
        except (ValueError, KeyError, TypeError) as exc:
            raise RegistryError(f"{path}: the version index cannot be read: {exc}") from exc

    def versions(self) -> list[VersionInfo]:
        """Every version, oldest first; number 0 is the bundled registry (its sources:
        each shipped file it was built from, with its hash and entries per list)."""
        b = self.bundled
        shipped = tuple(b.built_from.get("bundled_sources") or ())
        zero = VersionInfo(number=0, version_id=b.version, parent=None, created_at="",
                           sources=shipped or ({"bundled": "tracker/data/registry.json"},),
                           counts=_counts(b))
        return [zero, *self._index()]

    def current(self) -> VersionInfo:
        path = self.root / "CURRENT"
        vid = path.read_text(encoding="utf-8").strip() if path.exists() else ""
        return self.resolve(vid) if vid else self.versions()[0]

    def resolve(self, ref: str | int | None) -> VersionInfo:
        """A version by number, ID (or unique ID prefix), or ``current``.

        Raises
        ------
        RegistryError
            No such version.
        """
        if ref is None or str(ref) in ("", "current"):
            return self.current()
        text = str(ref).strip()
        vs = self.versions()
        if text.isdigit():
            for v in vs:
                if v.number == int(text):
                    return v
        hits = [v for v in vs if v.version_id == text] or \
               [v for v in vs if v.version_id.startswith(text)]
        if len(hits) == 1:
            return hits[0]
        known = ", ".join(f"{v.number} ({v.version_id})" for v in vs)
        raise RegistryError(f"no registry version {text!r}; known: {known}")

    def load(self, ref: str | int | None = None) -> Registry:
        """The registry of one version (default: the one in force).

        Raises
        ------
        RegistryError
            No such version, or its file is missing or damaged.
        """
        info = self.resolve(ref)
        if info.number == 0:
            return self.bundled
        path = self.root / "versions" / f"{info.version_id}.json.gz"
        try:
            doc = orjson.loads(gzip.decompress(path.read_bytes()))
            reg = _registry_from_json(doc)
        except (OSError, EOFError, ValueError, KeyError, TypeError) as exc:
            raise RegistryError(f"cannot load registry version {info.number} "
                                f"({path}): {exc}") from exc
        if content_id(reg) != info.version_id:
            raise RegistryError(f"registry version {info.number} ({path}) does not match its "
                                "content address: the file was changed")
        return reg

    def add(self, reg: Registry, *, parent: str, sources: Sequence[dict[str, Any]],
            changes: Mapping[str, Mapping[str, int]]) -> VersionInfo:
        """Store ``reg`` as a new version and put it in force (an existing identical
        version is put in force again rather than stored twice)."""
        vid = content_id(reg)
        reg.version = vid
        for v in self.versions():
            if v.version_id == vid:
                _atomic_write(self.root / "CURRENT", vid.encode())
                return v
        blob = gzip.compress(orjson.dumps(registry_to_json(reg), option=orjson.OPT_SORT_KEYS),
                             mtime=0)
        _atomic_write(self.root / "versions" / f"{vid}.json.gz", blob)
        index = self._index()
        info = VersionInfo(
            number=len(index) + 1, version_id=vid, parent=parent,
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            sources=tuple(sources), counts=_counts(reg),
            changes={k: dict(v) for k, v in changes.items()})
        _atomic_write(self.root / "versions.json",
                      orjson.dumps([v.to_json() for v in [*index, info]],
                                   option=orjson.OPT_INDENT_2))
        _atomic_write(self.root / "CURRENT", vid.encode())
        return info


# --------------------------------------------------------------------------- update

@dataclass(slots=True)
class UpdateOutcome:
    """What an update did: the version in force after it, and per list what changed."""

    version: VersionInfo
    changed: bool
    per_list: dict[str, dict[str, Any]]
    sources: list[dict[str, Any]]
    diff: dict[str, ListDiff]

    def to_json(self) -> dict[str, Any]:
        return {"version": self.version.to_json(), "changed": self.changed,
                "lists": self.per_list, "sources": self.sources}


def list_updates(parsed: Iterable[ParsedSource]) -> dict[str, ListUpdate]:
    """One update per list: where two files carry the same list, the one with the newer
    data date wins (the later one on a tie)."""
    out: dict[str, ListUpdate] = {}
    for src in parsed:
        for code, entries in src.lists.items():
            upd = ListUpdate(code, entries, src, src.data_date.get(code))
            prior = out.get(code)
            if prior is None or (upd.data_date or date.min) >= (prior.data_date or date.min):
                out[code] = upd
    return out


def update_registry(store: VersionStore, parsed: Sequence[ParsedSource], *,
                    allow_older: bool = False, allow_shrink: bool = False) -> UpdateOutcome:
    """Apply parsed list files to the version in force; store a new version when
    anything changed.

    Refused (nothing applied) when a list would go back to older data than it has
    (``allow_older``) or lose more than half its entries (``allow_shrink``).

    Raises
    ------
    UpdateRefused
    RegistryError
        The version in force cannot be loaded.
    """
    if not parsed:
        raise UpdateRefused("no list file to apply")
    cur = store.current()
    base = store.load(cur.version_id if cur.number else 0)
    updates = list_updates(parsed)
    per_list: dict[str, dict[str, Any]] = {}
    for code, upd in list(updates.items()):
        info = base.lists.get(code)
        have = sum(1 for e in base.entries if e.list == code)
        if not upd.entries and not have and info is None:
            per_list[code] = {"status": "kept", "reason": "no institution in the file "
                              "(individuals only): the list is not added"}
            del updates[code]
            continue
        if (info and info.data_date and upd.data_date and upd.data_date < info.data_date
                and not allow_older):
            per_list[code] = {"status": "kept", "reason": (
                f"the registry's data ({info.data_date}) is newer than this file's "
                f"({upd.data_date}); --allow-older to apply it")}
            del updates[code]
            continue
        if have and len(upd.entries) < have * (1 - MAX_SHRINK) and not allow_shrink:
            raise UpdateRefused(
                f"{upd.source.origin}: {code} would shrink from {have} to "
                f"{len({e.name for e in upd.entries})} entries: a partial file or an excerpt? "
                "Nothing applied (--allow-shrink to apply it)")
    sources = [{"source": p.source, "origin": p.origin, "sha256": p.sha256,
                "retrieved_at": p.retrieved_at, "entries": p.counts(), "rows": p.rows,
                "left_out_individuals": p.left_out_individuals,
                "left_out_other": p.left_out_other, "licence": p.licence,
                "data_date": {k: (v.isoformat() if v else None) for k, v in p.data_date.items()}}
               for p in parsed]
    if not updates:
        return UpdateOutcome(cur, False, per_list, sources, {})
    decisions = MergeDecisions.read()
    new = compose_registry(base, updates, merges=decisions, links=accepted_links())
    diff = {c: d for c, d in diff_registries(base, new).items() if c in updates}
    lookalikes = _new_lookalikes(base, new, decisions)
    new_inst = new.built_from.get("update", {}).get("new_institutions", {})
    joined = new.built_from.get("update", {}).get("joined", {})
    changes: dict[str, dict[str, int]] = {}
    for code in sorted(updates):
        d = diff.get(code, ListDiff(code))
        changes[code] = {"added": len(d.added), "removed": len(d.removed),
                         "changed": len(d.changed),
                         "new_institutions": int(new_inst.get(code, 0)),
                         "joined": int(joined.get(code, 0))}
        per_list[code] = {"status": "changed" if not d.empty else "no change",
                          **changes[code], "from": updates[code].source.origin,
                          "possible_duplicates": lookalikes.get(code, [])}
    if not diff:
        return UpdateOutcome(cur, False, per_list, sources, {})
    made = store.add(new, parent=cur.version_id, sources=sources, changes=changes)
    return UpdateOutcome(made, True, per_list, sources, diff)


def _new_lookalikes(base: Registry, new: Registry,
                    decisions: MergeDecisions) -> dict[str, list[str]]:
    """Per updated list, the institutions an update created that look like one already
    held (a shared ID, or a printed name and country: :func:`tracker.names.identity.
    likely_duplicates`), one line each for review in ``institution_merges.csv``.  An update
    never merges on a look-alike by itself, and never stays silent about one."""
    held = {e.institution_key for e in base.entries if e.institution_key}
    lists_of: dict[str, set[str]] = {}
    for e in new.entries:
        if e.institution_key and e.institution_key not in held:
            lists_of.setdefault(e.institution_key, set()).add(e.list)
    if not lists_of:
        return {}
    out: dict[str, list[str]] = {}
    for pair in likely_duplicates(new, decisions.keep_apart):
        for key in (pair.key_a, pair.key_b):
            for code in sorted(lists_of.get(key, ())):
                out.setdefault(code, []).append(pair.describe(new))
    return out


# --------------------------------------------------------------------------- build stage

@dataclass(slots=True)
class ListSourcesStage:
    """What the stage adds to the build: entries, lists and editions as registry JSON,
    and per list the counts it reports (``entries``, ``joined``, ``new_institutions``)."""

    entries: list[dict[str, Any]]
    lists: list[dict[str, Any]]
    editions: list[dict[str, Any]]
    report: dict[str, Any]


def list_sources_stage(entries: list[dict[str, Any]], *, merge_file: Path | None = None,
                       folder: Path | None = None, links_file: Path | None = None
                       ) -> ListSourcesStage:
    """Add the lists of the official files shipped in ``tracker/data/sources`` to built
    registry entries (JSON dicts), through the same identity work as an update: an entry
    whose normalised name + country equals an existing institution joins it as a further
    list membership (reviewed merge / keep-apart decisions win); any other entry is a new
    institution.  The registry build (:func:`build_version_zero`) calls it last.

    Parameters
    ----------
    entries : list of dict
        The registry entries built so far (``registry.json`` form); not changed.
    merge_file : Path, optional
        Reviewed merge decisions (default: the shipped ``institution_merges.csv``).
    folder : Path, optional
        Folder of the shipped files (default ``tracker/data/sources``).
    links_file : Path, optional
        Reviewed ID links (default: the shipped ``id_links.csv``).

    Returns
    -------
    ListSourcesStage
        New entries sorted by ``entry_id``; nothing for lists the build already has.

    Raises
    ------
    SourceFileError
        A shipped file is missing or no longer parses.
    """
    from tracker.listsources.bundled import read_bundled

    base = Registry([ListEntry.from_json(e) for e in entries], lists=[], editions=[],
                    version="build")
    have = {e["list"] for e in entries}
    parsed = read_bundled(folder)
    updates = {c: u for c, u in list_updates(parsed).items() if c not in have}
    new = compose_registry(base, updates, version="build",
                           merges=MergeDecisions.read(merge_file),
                           links=accepted_links(links_file))
    added = sorted((e.to_json() for e in new.entries if e.list in updates),
                   key=lambda d: d["entry_id"])
    upd = new.built_from.get("update", {})
    report: dict[str, Any] = {}
    for code in sorted(updates):
        n = sum(1 for e in added if e["list"] == code)
        report[code] = {"entries": n, "joined": int(upd.get("joined", {}).get(code, 0)),
                        "new_institutions": int(upd.get("new_institutions", {}).get(code, 0)),
                        "from": updates[code].source.origin,
                        "sha256": updates[code].source.sha256}
    lists = [_list_info_json(new.lists[c]) for c in sorted(updates)]
    editions = [ed.to_json() for ed in new.editions if ed.list in updates]
    return ListSourcesStage(added, lists, editions, report)


def build_version_zero(**kwargs: Any) -> BuildResult:
    """Build the bundled registry (version 0) from the files shipped in the package:
    :func:`tracker.listsources.build.build_registry` with :func:`list_sources_stage`, the
    update's identity work, for the shipped official list files.  Keyword arguments go to
    ``build_registry``.

    Raises
    ------
    tracker.listsources.build.InputMissingError
        A shipped input file is missing.
    SourceFileError
        A shipped official list file no longer parses.
    """
    return build_registry(list_sources_stage, **kwargs)
