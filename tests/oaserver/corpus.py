"""The records the test server serves, in stable order, with lazily built lookups.

The default corpus is the real, recorded OpenAlex data in ``../shared/data/openalex``
(see its PROVENANCE.md): 1,210 works, 814 institutions and 161 authors.  Nothing here edits
a record; the server answers with the stored dicts (copied when a response must differ,
as with ``select`` or author truncation).

Identifiers are compared the way the API compares them: case-insensitively, with or
without their URL prefix (``https://openalex.org/``, ``https://ror.org/``,
``https://orcid.org/``, ``https://doi.org/``) or URN prefix (``doi:``, ``ror:``,
``orcid:``).
"""

from __future__ import annotations

import functools
import gzip
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

try:  # orjson is a runtime dependency of tracker and parses the corpus ~2x faster.
    import orjson

    _loads: Callable[[bytes], Any] = orjson.loads
except ImportError:  # pragma: no cover - exercised only without orjson
    import json

    _loads = json.loads

Record = dict[str, Any]

#: ``../shared/data/openalex`` seen from ``tests/oaserver/corpus.py``.
DATA_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "openalex"

#: The recorded files the default corpus is read from, per entity.
SOURCE_FILES: Mapping[str, tuple[str, ...]] = {
    "works": (
        "works_bibgraph_2025-10.jsonl.gz",
        "works_openalexpro_2025-11_to_2026-03.jsonl.gz",
    ),
    "institutions": (
        "institutions_bibgraph_2025-10.jsonl.gz",
        "snapshot_institutions_updated_date_2023-09-04_part_000.jsonl.gz",
    ),
    "authors": ("authors_bibgraph_2025-10.jsonl.gz",),
}

ENTITIES = ("works", "institutions", "authors")
ID_LETTER = {"works": "W", "institutions": "I", "authors": "A"}

_OPENALEX_ID = re.compile(r"^(?:https?://(?:www\.)?openalex\.org/)?([A-Za-z])(\d+)$")
_ORDER_ID = re.compile(r"^([A-Z])(\d+)$")


def _strip_prefixes(value: str, prefixes: Iterable[str]) -> str:
    low = value.lower()
    for prefix in prefixes:
        if low.startswith(prefix):
            return value[len(prefix) :]
    return value


def short_openalex_id(value: str) -> str:
    """Return the short, upper-case form of an OpenAlex ID.

    Parameters
    ----------
    value : str
        ``W123``, ``w123`` or ``https://openalex.org/W123``; other strings pass through
        upper-cased with any ``https://openalex.org/`` prefix removed.

    Returns
    -------
    str

    Examples
    --------
    >>> short_openalex_id("https://openalex.org/I82880672")
    'I82880672'
    >>> short_openalex_id("w2162348455")
    'W2162348455'
    """
    value = value.strip()
    match = _OPENALEX_ID.match(value)
    if match:
        return f"{match.group(1).upper()}{match.group(2)}"
    return _strip_prefixes(value, ("https://openalex.org/", "http://openalex.org/")).upper()


def parse_openalex_id(value: str) -> str | None:
    """Return the short OpenAlex ID in ``value``, or None when it holds none.

    Examples
    --------
    >>> parse_openalex_id("https://openalex.org/A5023888391")
    'A5023888391'
    >>> parse_openalex_id("Beihang") is None
    True
    """
    match = _OPENALEX_ID.match(value.strip())
    return f"{match.group(1).upper()}{match.group(2)}" if match else None


def norm_doi(value: str) -> str:
    """Lower-cased DOI without resolver or URN prefix.

    Examples
    --------
    >>> norm_doi("https://doi.org/10.1038/35002501")
    '10.1038/35002501'
    >>> norm_doi("doi:10.1038/35002501")
    '10.1038/35002501'
    """
    value = value.strip()
    return _strip_prefixes(
        value,
        (
            "https://doi.org/",
            "http://doi.org/",
            "https://dx.doi.org/",
            "http://dx.doi.org/",
            "doi.org/",
            "doi:",
        ),
    ).lower()


def norm_ror(value: str) -> str:
    """Lower-cased ROR ID without resolver or URN prefix.

    Examples
    --------
    >>> norm_ror("https://ror.org/00wk2mp56")
    '00wk2mp56'
    >>> norm_ror("ror:00WK2MP56")
    '00wk2mp56'
    """
    value = value.strip()
    return _strip_prefixes(
        value, ("https://ror.org/", "http://ror.org/", "ror.org/", "ror:")
    ).lower()


def norm_orcid(value: str) -> str:
    """Upper-cased ORCID iD without resolver or URN prefix.

    Examples
    --------
    >>> norm_orcid("https://orcid.org/0000-0001-6187-6610")
    '0000-0001-6187-6610'
    """
    value = value.strip()
    return _strip_prefixes(
        value, ("https://orcid.org/", "http://orcid.org/", "orcid.org/", "orcid:")
    ).upper()


_TERM_PREFIXES = (
    "https://openalex.org/",
    "http://openalex.org/",
    "countries/",
    "keywords/",
    "work-types/",
    "institution-types/",
    "source-types/",
    "types/",
    "languages/",
    "domains/",
    "fields/",
    "subfields/",
)


def norm_term(value: str) -> str:
    """Lower-cased term with the API's entity-slug prefixes removed.

    Examples
    --------
    >>> norm_term("https://openalex.org/keywords/deep-learning")
    'deep-learning'
    >>> norm_term("CN")
    'cn'
    """
    value = value.strip()
    changed = True
    while changed:
        stripped = _strip_prefixes(value, _TERM_PREFIXES)
        changed = stripped != value
        value = stripped
    return value.lower()


def id_order_key(record_id: str) -> tuple[str, int, str]:
    """Sort key that orders ``W9`` before ``W10`` (stable default result order).

    Examples
    --------
    >>> sorted(["W10", "W9", "https://openalex.org/W100"], key=id_order_key)
    ['W9', 'W10', 'https://openalex.org/W100']
    """
    short = short_openalex_id(record_id)
    match = _ORDER_ID.match(short)
    if match:
        return (match.group(1), int(match.group(2)), "")
    return ("~", 0, short)


def dedupe(records: Iterable[Record]) -> list[Record]:
    """One record per ``id``: the copy with the most top-level fields, first on a tie.

    Parameters
    ----------
    records : iterable of dict
        Entity records; each must have an ``id``.

    Returns
    -------
    list of dict
        Same dict objects (not copies), in first-seen order.

    Examples
    --------
    >>> full = {"id": "W1", "title": "t", "doi": None}
    >>> partial = {"id": "W1", "title": "t"}
    >>> dedupe([partial, full]) == [full]
    True
    """
    chosen: dict[str, Record] = {}
    for record in records:
        key = short_openalex_id(str(record["id"]))
        kept = chosen.get(key)
        if kept is None or len(record) > len(kept):
            chosen[key] = record
    return list(chosen.values())


def read_jsonl(path: Path) -> list[Record]:
    """Read a (gzipped) JSON Lines file of records."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        return [_loads(line) for line in handle if line.strip()]


@functools.cache
def default_records(entity: str) -> tuple[Record, ...]:
    """The recorded real records of ``entity``, deduplicated; read once per process.

    Raises
    ------
    FileNotFoundError
        When the shared data folder is missing (tests cannot run without it).
    """
    if entity not in SOURCE_FILES:
        raise ValueError(f"unknown entity {entity!r}; expected one of {ENTITIES}")
    records: list[Record] = []
    for name in SOURCE_FILES[entity]:
        records.extend(read_jsonl(DATA_DIR / name))
    return tuple(dedupe(records))


def abstract_text(record: Record) -> str:
    """Plain abstract rebuilt from ``abstract_inverted_index`` ('' when absent).

    Examples
    --------
    >>> abstract_text({"abstract_inverted_index": {"world": [1], "hello": [0]}})
    'hello world'
    """
    index = record.get("abstract_inverted_index")
    if not isinstance(index, dict):
        return ""
    positions = [(pos, word) for word, where in index.items() for pos in where or ()]
    return " ".join(word for _, word in sorted(positions))


class EntityStore:
    """Records of one entity type in stable ID order, with lazily built indexes.

    Parameters
    ----------
    entity : str
        ``works``, ``institutions`` or ``authors``.
    records : iterable of dict
        The records to serve; deduplicated by ``id`` here.

    Examples
    --------
    >>> store = EntityStore("works", [{"id": "https://openalex.org/W2"},
    ...                               {"id": "https://openalex.org/W1"}])
    >>> [r["id"][-2:] for r in store.records]
    ['W1', 'W2']
    >>> store.by_openalex_id("w2")["id"]
    'https://openalex.org/W2'
    """

    def __init__(self, entity: str, records: Iterable[Record]) -> None:
        if entity not in ENTITIES:
            raise ValueError(f"unknown entity {entity!r}; expected one of {ENTITIES}")
        self.entity = entity
        self.records: list[Record] = sorted(
            dedupe(records), key=lambda r: id_order_key(str(r["id"]))
        )
        self.position = {short_openalex_id(str(r["id"])): i for i, r in enumerate(self.records)}
        self._lock = threading.Lock()
        self._indexes: dict[str, dict[str, frozenset[int]]] = {}
        self._empty: dict[str, frozenset[int]] = {}
        self._texts: dict[str, list[str]] = {}
        self._external: dict[str, dict[str, int]] = {}

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[Record]:
        return iter(self.records)

    def by_openalex_id(self, value: str) -> Record | None:
        """The record with this OpenAlex ID (any case, short or URL form)."""
        pos = self.position.get(short_openalex_id(value))
        return None if pos is None else self.records[pos]

    def by_external_id(
        self, name: str, value: str, extract: Callable[[Record], str | None]
    ) -> Record | None:
        """The first record whose normalised external ID ``name`` equals ``value``."""
        with self._lock:
            table = self._external.get(name)
            if table is None:
                table = {}
                for pos, record in enumerate(self.records):
                    key = extract(record)
                    if key:
                        table.setdefault(key, pos)
                self._external[name] = table
        found = table.get(value)
        return None if found is None else self.records[found]

    def index(
        self, name: str, extract: Callable[[Record], Iterable[str]]
    ) -> tuple[dict[str, frozenset[int]], frozenset[int]]:
        """Inverted index ``value -> positions`` for field ``name``, and the positions
        whose field is empty.  Built on first use, then cached."""
        with self._lock:
            built = self._indexes.get(name)
            if built is None:
                table: dict[str, set[int]] = {}
                empty: set[int] = set()
                for pos, record in enumerate(self.records):
                    values = set(extract(record))
                    if not values:
                        empty.add(pos)
                    for value in values:
                        table.setdefault(value, set()).add(pos)
                built = {k: frozenset(v) for k, v in table.items()}
                self._indexes[name] = built
                self._empty[name] = frozenset(empty)
            return built, self._empty[name]

    def texts(self, name: str, extract: Callable[[Record], str]) -> list[str]:
        """Lower-cased text of field ``name`` per position, built on first use."""
        with self._lock:
            built = self._texts.get(name)
            if built is None:
                built = [extract(r).lower() for r in self.records]
                self._texts[name] = built
            return built
