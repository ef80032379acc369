"""Typed records for OpenAlex works and their authorships.

OpenAlex returns plain dicts whose fields come and go: partial records saved from
``select=`` queries, old snapshot fields, HTML entities in strings, empty authorship
lists and 5,000-author papers.  Everything downstream of :func:`parse_work` works on
the frozen dataclasses defined here, so the rest of tracker never touches a raw dict.

Every field but ``id`` is optional.  A record that cannot be read at all raises
:class:`RecordError`, which callers treat as "skip this record, report it, go on".
"""

from __future__ import annotations

import contextlib
import gc
import html
import os
import re
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from datetime import date
from functools import lru_cache
from operator import attrgetter
from pathlib import Path
from typing import Any

import orjson
from isal import isal_zlib

__all__ = [
    "Authorship",
    "InstitutionRef",
    "PackedWorks",
    "RecordError",
    "Work",
    "collector_paused",
    "parse_work",
    "short_id",
    "short_ror",
]

_OPENALEX_ID = re.compile(r"^(?:https?://(?:api\.)?openalex\.org/)?(?:\w+/)?([WAISCFPTwaiscfpt]\d+)$")
_OPENALEX_PREFIX = "https://openalex.org/"
_PREFIX_LEN = len(_OPENALEX_PREFIX)
_ENTITY_LETTERS = frozenset("WAISCFPT")
_ROR = re.compile(r"^(?:https?://)?(?:ror\.org/)?(0[a-z0-9]{6}\d{2})$", re.IGNORECASE)


class RecordError(ValueError):
    """A single record cannot be read.  Skip it, report it, and go on with the rest."""


def short_id(value: object) -> str | None:
    """Return the short OpenAlex ID (``"I204983213"``) of an ID or URL, or None.

    Examples
    --------
    >>> short_id("https://openalex.org/I204983213")
    'I204983213'
    >>> short_id("w123") is None
    False
    >>> short_id("not an id") is None
    True
    """
    if not isinstance(value, str):
        return None
    if value.startswith(_OPENALEX_PREFIX):  # the usual form: one slice instead of a regex
        rest = value[_PREFIX_LEN:]
        if rest[1:].isdigit() and rest[:1] in _ENTITY_LETTERS and rest[1:].isascii():
            return rest
    m = _OPENALEX_ID.match(value.strip())
    return m.group(1).upper() if m else None


def short_ror(value: object) -> str | None:
    """Return the bare ROR ID (``"01yqg2h08"``) of a ROR ID or URL, or None.

    Examples
    --------
    >>> short_ror("https://ror.org/01yqg2h08")
    '01yqg2h08'
    >>> short_ror("ror.org/01YQG2H08")
    '01yqg2h08'
    >>> short_ror("01yqg2h0") is None
    True
    """
    if not isinstance(value, str):
        return None
    m = _ROR.match(value.strip())
    return m.group(1).lower() if m else None


_INLINE_MARKUP = re.compile(r"</?(?:i|b|em|strong|sub|sup|scp|u|mml:[a-z]+)(?:\s[^<>]*)?>",
                            re.IGNORECASE)


def _text(value: object) -> str | None:
    """Unescape HTML entities, drop inline typesetting tags (``<i>``, ``<sub>``, ``<scp>``
    as publishers put them in titles), collapse whitespace; None for empty or non-strings.

    Any other markup stays as text (it is escaped wherever it is shown).

    Examples
    --------
    >>> _text("The <i>Planck</i> mission &amp; H<sub>2</sub>O  ")
    'The Planck mission & H2O'
    >>> _text("<script>x</script>")
    '<script>x</script>'
    """
    if not isinstance(value, str):
        return None
    return _clean(value)


def _clean(value: str) -> str | None:
    if "&" in value or "<" in value:
        value = _INLINE_MARKUP.sub("", html.unescape(value))
    out = " ".join(value.split())
    return out or None


#: :func:`_clean`, remembered: raw affiliation strings recur on thousands of authorships.
#: Names and titles are cleaned afresh (:func:`_text`): half the names at 15,000 synthetic
#: works are distinct, and a cache miss costs more than the cleaning (0.16 s vs 0.10 s for
#: 128,172 names).
_clean_text = lru_cache(maxsize=1 << 16)(_clean)


def _date(value: object) -> date | None:
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


@dataclass(frozen=True, slots=True)
class InstitutionRef:
    """An institution as OpenAlex attached it to an authorship (a "dehydrated" institution).

    ``id`` and ``lineage`` hold short OpenAlex IDs (``"I204983213"``); ``ror`` the bare ROR ID.
    ``lineage`` includes the institution itself and all its ROR ancestors.
    """

    id: str | None
    display_name: str | None = None
    ror: str | None = None
    country_code: str | None = None
    type: str | None = None
    lineage: tuple[str, ...] = ()

    @classmethod
    def from_openalex(cls, raw: object) -> InstitutionRef | None:
        if not isinstance(raw, dict):
            return None
        # The same institution recurs on thousands of authorships: build each distinct one once.
        lin = raw.get("lineage")
        key = (raw.get("id"), raw.get("ror"), raw.get("display_name"), raw.get("country_code"),
               raw.get("type"), tuple(lin) if isinstance(lin, list) else None)
        try:
            return _INSTITUTIONS[key]
        except KeyError:
            pass
        except TypeError:  # an unhashable value where a string belongs: no cache
            return cls._build(raw)
        ref = cls._build(raw)
        if len(_INSTITUTIONS) > 200_000:
            _INSTITUTIONS.clear()
        _INSTITUTIONS[key] = ref
        return ref

    @classmethod
    def _build(cls, raw: dict[str, Any]) -> InstitutionRef | None:
        iid = short_id(raw.get("id"))
        ror = short_ror(raw.get("ror"))
        name = _text(raw.get("display_name"))
        if iid is None and ror is None and name is None:
            return None
        lineage_raw = raw.get("lineage")
        lineage = tuple(
            x for x in (short_id(v) for v in (lineage_raw if isinstance(lineage_raw, list) else []))
            if x
        )
        cc = raw.get("country_code")
        return cls(
            id=iid,
            display_name=name,
            ror=ror,
            country_code=cc.upper() if isinstance(cc, str) and cc else None,
            type=raw.get("type") if isinstance(raw.get("type"), str) else None,
            lineage=lineage,
        )


_INSTITUTIONS: dict[tuple[Any, ...], InstitutionRef | None] = {}
_SHORT_IDS: dict[str, tuple[str, ...]] = {}


def _short_ids(values: object) -> tuple[str, ...]:
    """Short IDs of a list of institution IDs, memoised per single-ID list (the usual case:
    the same institution ID recurs on thousands of affiliations)."""
    if not isinstance(values, list):
        return ()
    if len(values) == 1 and type(v0 := values[0]) is str:
        got = _SHORT_IDS.get(v0)
        if got is None:
            x = short_id(v0)
            got = (x,) if x else ()
            if len(_SHORT_IDS) > 200_000:
                _SHORT_IDS.clear()
            _SHORT_IDS[v0] = got
        return got
    return tuple(x for x in map(short_id, values) if x)


@dataclass(frozen=True, slots=True)
class Authorship:
    """One author's slot on one work, with the institutions and raw strings given for it.

    ``index`` is the 0-based place in the work's authorship list (stable for a given record);
    ``author_position`` is OpenAlex's ``first`` / ``middle`` / ``last``.
    ``affiliations`` maps each raw affiliation string to the institution IDs OpenAlex
    matched from it (empty tuple: OpenAlex matched nothing from that string).
    """

    index: int
    author_id: str | None = None
    author_name: str | None = None
    orcid: str | None = None
    author_position: str | None = None
    institutions: tuple[InstitutionRef, ...] = ()
    raw_affiliations: tuple[str, ...] = ()
    affiliations: tuple[tuple[str, tuple[str, ...]], ...] = ()
    countries: tuple[str, ...] = ()
    is_corresponding: bool | None = None

    @classmethod
    def from_openalex(cls, raw: object, index: int) -> Authorship:
        # Hot path (one call per authorship): plain loops, no generator layers.
        if not isinstance(raw, dict):
            raise RecordError(f"authorship {index} is not an object")
        get = raw.get
        author = get("author")
        if not isinstance(author, dict):
            author = {}
        institutions: list[InstitutionRef] = []
        insts_raw = get("institutions")
        if isinstance(insts_raw, list):
            for x in insts_raw:
                ref = InstitutionRef.from_openalex(x)
                if ref is not None:
                    institutions.append(ref)
        raws: list[str] = []
        ras = get("raw_affiliation_strings")
        if not isinstance(ras, list):
            old = get("raw_affiliation_string")  # older snapshot field
            ras = old.split(";") if isinstance(old, str) else ()
        for r in ras:
            t = _clean_text(r) if type(r) is str else None
            if t and t not in raws:
                raws.append(t)
        affs: list[tuple[str, tuple[str, ...]]] = []
        for a in get("affiliations") or ():
            if not isinstance(a, dict):
                continue
            r = a.get("raw_affiliation_string")
            t = _clean_text(r) if type(r) is str else None
            if t is None:
                continue
            iids = a.get("institution_ids")
            affs.append((t, _short_ids(iids) if iids else ()))
            if t not in raws:
                raws.append(t)
        countries_raw = get("countries")
        countries = tuple(
            c.upper() for c in countries_raw if isinstance(c, str) and c
        ) if isinstance(countries_raw, list) and countries_raw else ()
        orcid = author.get("orcid")
        pos = get("author_position")
        corr = get("is_corresponding")
        return cls(
            index,
            short_id(author.get("id")),
            _text(author.get("display_name")) or _text(get("raw_author_name")),
            orcid.rsplit("/", 1)[-1] if isinstance(orcid, str) and orcid else None,
            pos if isinstance(pos, str) else None,
            tuple(institutions),
            tuple(raws),
            tuple(affs),
            countries,
            corr if isinstance(corr, bool) else None,
        )


@dataclass(frozen=True, slots=True)
class Work:
    """A work (paper, preprint, dataset...) reduced to what screening needs.

    Dates are kept as OpenAlex gives them: ``publication_date`` (may be None) and
    ``publication_year`` (may be None).  ``is_authors_truncated`` is None when the record
    does not say; list responses cut authorships at 100.
    """

    id: str
    doi: str | None = None
    title: str | None = None
    publication_date: date | None = None
    publication_year: int | None = None
    type: str | None = None
    authorships: tuple[Authorship, ...] = ()
    is_authors_truncated: bool | None = None
    topics: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    created_date: date | None = None
    fields_present: frozenset[str] = field(default_factory=frozenset)

    @property
    def url(self) -> str:
        return f"https://openalex.org/{self.id}"

    def subject_text(self) -> str:
        """Title, topics and keywords in one lower-case string, for topic filters."""
        return " ".join([self.title or "", *self.topics, *self.keywords]).lower()


#: The top-level fields of a work record that :func:`parse_work` reads, besides the names of
#: all its fields (``fields_present``).  A reader that leaves the others undecoded (the
#: DuckDB engine's candidate works: ``tracker.engine.duck._skim``) gives parse_work these
#: fields and every other key with None.  Kept beside parse_work: a field it reads that is
#: missing here would read as None there (tests/test_records.py checks the two against
#: each other on every recorded work).
PARSE_WORK_FIELDS = frozenset({
    "id", "authorships", "doi", "ids", "publication_date", "publication_year",
    "primary_topic", "topics", "concepts", "keywords", "is_authors_truncated", "title",
    "display_name", "type", "created_date"})


def parse_work(raw: Any) -> Work:
    """Turn one OpenAlex work object into a :class:`Work`.

    Parameters
    ----------
    raw : dict
        A work as the API, a snapshot file or a saved response gives it.  Only ``id`` is
        required.

    Returns
    -------
    Work

    Raises
    ------
    RecordError
        The object is not a work (no usable ``id``), or an authorship cannot be read.

    Examples
    --------
    >>> w = parse_work({"id": "https://openalex.org/W1", "title": "A &amp; B",
    ...                 "publication_date": "2024-03-01", "authorships": []})
    >>> (w.id, w.title, w.publication_date.isoformat())
    ('W1', 'A & B', '2024-03-01')
    >>> parse_work({"title": "no id"})
    Traceback (most recent call last):
    ...
    tracker.records.RecordError: record has no OpenAlex work id
    """
    if not isinstance(raw, dict):
        raise RecordError("record is not a JSON object")
    wid = short_id(raw.get("id"))
    if wid is None or not wid.startswith("W"):
        raise RecordError("record has no OpenAlex work id")
    auths_raw = raw.get("authorships")
    if auths_raw is not None and not isinstance(auths_raw, list):
        raise RecordError(f"{wid}: authorships is not a list")
    authorships = tuple(Authorship.from_openalex(a, i) for i, a in enumerate(auths_raw or []))
    doi = raw.get("doi")
    if not isinstance(doi, str) or not doi:
        ids = raw.get("ids")
        doi = ids.get("doi") if isinstance(ids, dict) else None
    pdate = _date(raw.get("publication_date"))
    year = _int(raw.get("publication_year")) or (pdate.year if pdate else None)
    topics: list[str] = []
    for t in [raw.get("primary_topic"), *(raw.get("topics") or [])]:
        if isinstance(t, dict) and isinstance(t.get("display_name"), str):
            topics.append(t["display_name"])
            for level in ("subfield", "field"):
                sub = t.get(level)
                if isinstance(sub, dict) and isinstance(sub.get("display_name"), str):
                    topics.append(sub["display_name"])
    for c in raw.get("concepts") or []:
        if isinstance(c, dict) and isinstance(c.get("display_name"), str):
            topics.append(c["display_name"])
    keywords = [
        k["display_name"] if isinstance(k, dict) else k
        for k in raw.get("keywords") or []
        if (isinstance(k, dict) and isinstance(k.get("display_name"), str)) or isinstance(k, str)
    ]
    trunc = raw.get("is_authors_truncated")
    return Work(
        id=wid,
        doi=doi if isinstance(doi, str) and doi else None,
        title=_text(raw.get("title")) or _text(raw.get("display_name")),
        publication_date=pdate,
        publication_year=year,
        type=raw.get("type") if isinstance(raw.get("type"), str) else None,
        authorships=authorships,
        is_authors_truncated=trunc if isinstance(trunc, bool) else None,
        topics=tuple(dict.fromkeys(topics)),
        keywords=tuple(dict.fromkeys(str(k) for k in keywords)),
        created_date=_date(raw.get("created_date")),
        fields_present=frozenset(raw.keys()),
    )


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused for the block (and restored after): for a
    pass that makes objects by the hundred thousand or the million, none in a reference
    cycle, while it keeps what it gathers: a run's findings read back from disk, the
    registry's entries, the name matcher's cache.

    Why: what such a pass keeps (a report's timeline marks, a network's plan, the
    entries) grows as it goes; the collector's full passes then trace all of it again and
    again and free nothing.  1,520,560 findings on disk (the findings of 100,000 generated
    works, twenty times over): the flagged network took 10.9 s with the collector, 5.2 s
    without; the report 20.6 s and 11.0 s.  The name matcher's cache unpickled in
    0.14–0.31 s with it, 0.07 s without; the bundled registry loaded in 0.12 s and 0.08 s.
    Whatever cycles the block does make are collected when the collector runs again after
    it.

    Examples
    --------
    >>> import gc
    >>> with collector_paused():
    ...     gc.isenabled()
    False
    >>> gc.isenabled()
    True
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def pickle_by_fields(cls: type) -> None:
    """Pickle instances of a slots dataclass as its field values, rebuilt by ``__init__``.

    The default for a slots dataclass rebuilds each object with a Python loop over
    ``object.__setattr__``; this is about three times faster to load (and half the time
    both ways for a :class:`tracker.risk.Finding`).  It matters when screened works and
    findings come back from another process (:func:`tracker.screening.screen_shares`, the
    engines' worker processes) or from disk (:mod:`tracker.findings`).
    """
    values = attrgetter(*(f.name for f in fields(cls)))

    def __reduce__(self: Any) -> tuple[type, tuple[Any, ...]]:
        return cls, values(self)

    cls.__reduce__ = __reduce__  # type: ignore[assignment,method-assign]


for _cls in (InstitutionRef, Authorship, Work):
    pickle_by_fields(_cls)


class PackedWorks(Mapping[str, Work]):
    """Works by ID, each kept as its compressed JSON record and parsed when asked for.

    The engines' worker processes send the flagged works back to the process that gathers
    the batches, and a run keeps them in its result; yet it reads only a few of them again
    (the works its flagged network draws).  Held as :class:`Work` records, the 116,543
    works flagged among a million synthetic ones took about half of that process's 6.85 GB
    peak, and unpickling them cost it about 80 µs a work.  Kept as their record's JSON
    text, compressed by ISA-L (:meth:`pack`), they cost a bytes object each (the same run:
    3.44 GB, packed at level 1).  A work read back is :func:`parse_work` of the record:
    equal to the :class:`Work` it was packed from.

    Past ``in_memory`` bytes of packed records (the flagged works of millions of works
    took about 4.4 kB each packed at ISA-L's level 1, a fifth more at level 0: 5 to 6 GB at
    ten million), the records go to an unlinked temporary file in ``folder`` and only
    their places stay in memory; reads are positioned (``os.pread``), so a forked process
    reads them too.

    Parameters
    ----------
    packed : mapping of str to bytes, optional
        Work ID to :meth:`pack` of its record.
    in_memory : int, optional
        Bytes of packed records held before they go to disk (default: all held).
    folder : path, optional
        Where that temporary file goes (default: the system's).

    Examples
    --------
    >>> rec = {"id": "https://openalex.org/W1", "publication_date": "2021-05-01",
    ...        "authorships": [{"author": {"id": "A1"}, "institutions": []}]}
    >>> import orjson
    >>> works = PackedWorks({"W1": PackedWorks.pack(orjson.dumps(rec))})
    >>> works["W1"] == parse_work(rec), "W1" in works, len(works)
    (True, True, 1)
    >>> works == {"W1": parse_work(rec)}
    True
    >>> on_disk = PackedWorks(in_memory=0)
    >>> on_disk.add_packed({"W1": PackedWorks.pack(orjson.dumps(rec))})
    >>> on_disk["W1"] == works["W1"], on_disk.on_disk
    (True, True)
    """

    __slots__ = ("_folder", "_held", "_in_memory", "_packed", "_places", "_spill")

    def __init__(self, packed: Mapping[str, bytes] | None = None, *,
                 in_memory: int | None = None, folder: str | Path | None = None) -> None:
        self._packed: dict[str, bytes] = dict(packed or {})
        self._places: dict[str, tuple[int, int]] = {}
        self._in_memory = in_memory
        self._folder = folder
        self._held = sum(map(len, self._packed.values())) if in_memory is not None else 0
        self._spill: Any = None  # the temporary file, once records go to disk

    @staticmethod
    def pack(record: bytes | memoryview | str) -> bytes:
        """A record's JSON text as :class:`PackedWorks` keeps it: compressed by ISA-L at
        its level 0, in zlib's format.

        Why ISA-L, and level 0: the worker processes pack every flagged work.  zlib's own
        level 1 took 2.8 times as long as ISA-L's, a tenth of the engine's CPU at a million
        works; ISA-L's level 1 was still 4.4 s of the workers' 35 s there (py-spy).  20,000
        generated records: level 0 packs them in 0.15 s, to 1/5.4 of their text; level 1 in
        0.27 s, to 1/6.4; both unpack in 0.2 s.  The bytes held are bounded either way
        (``in_memory``)."""
        return isal_zlib.compress(record.encode("utf-8") if isinstance(record, str) else record,
                                  0)

    @property
    def on_disk(self) -> bool:
        """Whether the records are in a temporary file (past ``in_memory`` bytes)."""
        return self._spill is not None

    def add_packed(self, packed: Mapping[str, bytes]) -> None:
        """Add works already packed (work ID to :meth:`pack` of its record)."""
        if self._spill is None:
            self._packed.update(packed)
            if self._in_memory is None:
                return
            self._held += sum(map(len, packed.values()))
            if self._held <= self._in_memory:
                return
            self._spill = tempfile.TemporaryFile(  # noqa: SIM115 - open while the works are
                prefix="tracker-works-", dir=self._folder)  # read; gone with this object
            packed, self._packed = self._packed, {}
        fh = self._spill
        fh.seek(0, os.SEEK_END)
        at = fh.tell()
        for wid, blob in packed.items():
            self._places[wid] = (at, len(blob))
            at += len(blob)
        fh.write(b"".join(packed.values()))
        fh.flush()

    def sorted(self) -> PackedWorks:
        """The same works in order of their IDs (the same temporary file, if any)."""
        out = PackedWorks()
        out._packed = dict(sorted(self._packed.items()))
        out._places = dict(sorted(self._places.items()))
        out._spill, out._in_memory, out._folder = self._spill, self._in_memory, self._folder
        return out

    def _blob(self, work_id: str) -> bytes:
        if self._spill is None:
            return self._packed[work_id]
        at, n = self._places[work_id]
        if hasattr(os, "pread"):
            return os.pread(self._spill.fileno(), n, at)
        self._spill.seek(at)  # pragma: no cover - platforms without pread (and fork)
        return bytes(self._spill.read(n))  # pragma: no cover

    def __getitem__(self, work_id: str) -> Work:
        return parse_work(orjson.loads(isal_zlib.decompress(self._blob(work_id))))

    def authorship_count(self, work_id: str) -> int:
        """``len(self[work_id].authorships)``, from the record without parsing its
        authorships (the flagged network draws a work's size: a consortium paper's
        thousands of authorships, parsed only to be counted, took most of the network's
        time).  A packed record is one :func:`parse_work` read, so its ``authorships`` is
        a list or absent.

        Examples
        --------
        >>> rec = {"id": "https://openalex.org/W1", "authorships": [{}, {}]}
        >>> PackedWorks({"W1": PackedWorks.pack(orjson.dumps(rec))}).authorship_count("W1")
        2
        """
        auths = orjson.loads(isal_zlib.decompress(self._blob(work_id))).get("authorships")
        return len(auths) if isinstance(auths, list) else 0

    def __contains__(self, work_id: object) -> bool:
        return work_id in (self._packed if self._spill is None else self._places)

    def __iter__(self) -> Iterator[str]:
        return iter(self._packed if self._spill is None else self._places)

    def __len__(self) -> int:
        return len(self._packed if self._spill is None else self._places)

    def __repr__(self) -> str:
        return f"PackedWorks({len(self)} works)"
