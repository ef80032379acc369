"""The screening plan on DuckDB: works files of any size in bounded memory.

DuckDB (embedded, nothing to run beside tracker) reads the works files, counts every record
and data gap, and collects the distinct identifiers and strings a tie can be found by.
Python resolves each distinct value once (registry lookups by OpenAlex ID and ROR, the name
matcher's scan of each distinct raw affiliation string), DuckDB joins the answers back to
pick the works that can hold a tie, and only those works are read into
:class:`~tracker.records.Work` records and screened by :func:`tracker.screening.screen`, so
every finding is built by the same code as on the Python path: same rows, same IDs.

Memory is bounded by DuckDB's ``memory_limit`` (it spills to a temporary folder), by
``findings_in_memory`` (past it the findings are sorted into runs on disk and merged:
:class:`~tracker.findings.SpooledFindings`) and by :data:`_WORKS_IN_MEMORY` (past it the
flagged works' compressed records go to a temporary file:
:class:`~tracker.records.PackedWorks`); what stays in memory per finding or flagged work
is its place in those files, and the run's counts.  A record too large for DuckDB's
readers is set aside (:meth:`_Staging.set_aside`) rather than stopping the run.
"""

from __future__ import annotations

import collections
import contextlib
import gc
import gzip
import io
import os
import pickle
import re
import signal
import sys
import threading
import zlib
from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import cache, partial
from itertools import accumulate
from pathlib import Path
from typing import Any

import msgspec
import orjson

from tracker.engine.inputs import InputFile, expand_inputs
from tracker.engine.plan import (
    AUTHORSHIPS_TYPE,
    ID_RE,
    KEYS,
    counts_sql,
    macros_sql,
    recs_parquet_sql,
    recs_sql,
    recs_typed_sql,
    texts_sql,
    window_sql,
)
from tracker.engine.slots import SharedSlots, SlotsStopped
from tracker.findings import IN_MEMORY, SpooledFindings, collector_paused
from tracker.home import owned_temp_dir
from tracker.matching import Matcher, MatchMemo
from tracker.records import (
    PARSE_WORK_FIELDS,
    Authorship,
    PackedWorks,
    RecordError,
    Work,
    parse_work,
    short_id,
    short_ror,
)
from tracker.risk import Finding, finding_order, make_finding
from tracker.screening import (
    MAX_SKIPPED_LISTED,
    Progress,
    ScreenResult,
    ScreenSettings,
    in_window,
    screen,
)
from tracker.skipped import SkippedRecord
from tracker.sources.files import (
    TruncatedWorksFile,
    WorksFileError,
    iter_raw_works,
    read_works,
)
from tracker.watchlists import Registry

__all__ = ["EngineError", "EngineMemoryError", "EngineSettingError", "parquet_rows",
           "parquet_works", "screen_files"]

#: Two characters no valid JSON text holds unescaped: each line is read as one column.
_NO_DELIMITER = "\x1f\x1e"
#: The largest record DuckDB's readers take here (16 MB; the largest real recorded record is
#: 2.1 MB, the largest of ten million generated works 17.6 MB).  A file holding a larger one
#: is copied with each record past half the limit set aside (:meth:`_Staging.set_aside`).
#: Raising the limit does not pay: at 64 MB, DuckDB's readers hold buffers twice that size
#: and spilled 47 GB in two minutes of reading ten million works.
_MAX_LINE = 1 << 24
#: Records past ``_MAX_LINE // _ASIDE_FRACTION`` bytes are set aside when a file holds one
#: too large for the readers.  The margin is wide because DuckDB applies its limits to its
#: buffers, not exactly to each line (a 20 MB record was read with the limit at 16 MB, and a
#: 17.6 MB one was not).
_ASIDE_FRACTION = 2
#: The start of a set-aside record's stand-in line (see :meth:`_Staging.set_aside`).
_ASIDE_KEY = '{"__tracker_set_aside__":'
_TOO_LARGE = re.compile(r"maximum_object_size|maximum line size", re.IGNORECASE)
#: Records read again from their text past this many bytes are parsed one at a time.
_PARSE_ALONE = 1 << 20
_PARQUET_BASE = 1 << 62  # rn of Parquet rows: after every JSON Lines row
_FILE_STRIDE = 1 << 36  # rn of a file's rows: its index times this, plus its line
_FETCH = 2000
_READ_BUFFER = 1 << 20  # bytes read at a time from a works file (see _lines)
#: a candidate record: its place (``rn``), its JSON text (bytes from DuckDB, str from Spark;
#: in a worker process, a view of the shared memory it was written into),
#: the work ID the plan read there, and the places of the authorships that may hold a tie
#: (sorted, from 0), None where they are not known (every authorship is then tested)
_Row = tuple[int, str | bytes | memoryview, str, Sequence[int] | None]
#: The fields the plan reads from a record (the top level of ``plan.SCHEMA``) and
#: ``results`` (a saved list response): only these of a Parquet row are written out as JSON
#: text for the plan; a candidate work's record is read again whole.
_PLAN_FIELDS = ("id", "publication_date", "publication_year", "is_authors_truncated",
                "authorships", "results")
#: Parquet types whose text (a cast to VARCHAR) is what the plan reads from their JSON
#: (``to_json``, then ``from_json`` as VARCHAR): text, whole numbers, booleans, dates.
_SCALARS = frozenset({"varchar", "null", "boolean", "tinyint", "smallint", "integer", "bigint",
                      "hugeint", "utinyint", "usmallint", "uinteger", "ubigint", "uhugeint",
                      "date"})
#: Bytes of flagged works' packed records held before they go to a temporary file
#: (:class:`~tracker.records.PackedWorks`; about 4.4 kB a work).
_WORKS_IN_MEMORY = 256 << 20
_BATCH_BYTES = 8 << 20  # candidate records sent to a worker at a time (by JSON size)
#: JSON Lines files read by one statement, up to this many bytes on disk together: a
#: statement per file costs about 45 ms of its own (see ``plan.recs_typed_sql``); a file
#: this large takes seconds to read, and files read at once keep both cores busy.
_GROUP_BYTES = 32 << 20
#: Seconds between looks at a running read's progress (:class:`_ReadMeter`).
_METER_EVERY = 0.5


class EngineSettingError(ValueError):
    """The engine cannot screen with these settings (the Python path can)."""


class EngineError(RuntimeError):
    """The engine stopped on something the files do not explain (a DuckDB failure)."""


class EngineMemoryError(EngineError):
    """DuckDB needed more than its ``memory_limit`` (``--engine-memory``)."""


class EngineDiskError(EngineError):
    """DuckDB's working folder (in the system's temporary folder, ``TMPDIR``) ran out of
    disk space: the machine, not the files."""


#: How DuckDB says a write found the disk full (its errors carry the system's message).
_NO_SPACE = re.compile(r"No space left on device|Disk quota exceeded", re.IGNORECASE)
#: DuckDB's words for input text that is not UTF-8 (its JSON and its CSV reader).
_NOT_UTF8 = re.compile(r"invalid UTF-8|invalid unicode|not utf-8 encoded", re.IGNORECASE)


class _RecordTooLarge(EngineError):
    """A record is larger than DuckDB's readers take (:data:`_MAX_LINE`)."""


@dataclass
class _Staging:
    """The files of one run as DuckDB reads them, in a temporary folder of its own."""

    folder: Path
    files: list[InputFile]
    jsonl: list[tuple[int, Path]] = field(default_factory=list)
    parquet: list[tuple[int, Path]] = field(default_factory=list)
    staged_skips: dict[int, int] = field(default_factory=dict)
    reread: int = 0  # records the typed reader could not vouch for, read from their text
    threads: int = 1  # files read at once
    plan_columns: dict[int, str] = field(default_factory=dict)  # Parquet: what the plan reads
    #: Parquet: a row's every column, as a struct (the text of a candidate work's record; a
    #: struct of the table alias would add the reader's ``file_row_number``: set apart, it
    #: cost a parse and a dump of each flagged work's record, and a LATERAL subquery that
    #: drops the column held every row at once, past the memory limit)
    row_columns: dict[int, str] = field(default_factory=dict)
    parquet_columns: dict[int, set[str]] = field(default_factory=dict)  # of _PLAN_FIELDS
    parquet_castable: dict[int, bool] = field(default_factory=dict)  # see _fits
    parquet_schema: dict[int, str] = field(default_factory=dict)  # columns, types, in order
    parquet_text: int = 0  # Parquet files whose columns could not be cast: read from text
    parquet_threads: int | None = None  # Parquet read on so many threads (_reading_parquet)
    #: the largest row group of the plan's columns in the Parquet files, uncompressed
    #: (bytes; parquet_metadata): what a thread reading them holds is a multiple of it
    parquet_group_bytes: int = 0
    aside: dict[int, Path] = field(default_factory=dict)  # copies with large records set aside
    scanned: set[int] = field(default_factory=set)  # files looked through for large records
    set_aside_records: int = 0

    @property
    def dates(self) -> Path:
        """Where the partial-record answers go (:func:`_date_row`)."""
        return self.folder / "dates.jsonl"

    def stage(self, documents: Iterable[int] = ()) -> None:
        """Link each JSON Lines file under a name that says its compression; write each
        document (and each index in ``documents``) out as JSON Lines of its records."""
        redo = set(documents)
        self.jsonl, self.parquet = [], []
        for i, f in enumerate(self.files):
            if f.kind == "parquet":
                self.parquet.append((i, f.path))
                continue
            if i in self.aside and i not in redo:
                self.jsonl.append((i, self.aside[i]))
                continue
            self.aside.pop(i, None)
            self.scanned.discard(i)
            if f.kind == "jsonl" and i not in redo:
                link = self.folder / f"f{i:06d}.jsonl{'.gz' if f.compression == 'gzip' else ''}"
                with contextlib.suppress(FileNotFoundError):
                    link.unlink()
                link.symlink_to(f.path.resolve())
                self.jsonl.append((i, link))
                continue
            out = self.folder / f"f{i:06d}.staged.jsonl"
            skipped = 0
            with out.open("wb") as fh:
                for item in iter_raw_works(f.path):
                    if isinstance(item, SkippedRecord):
                        skipped += 1
                    else:
                        fh.write(orjson.dumps(item[1]) + b"\n")
            self.staged_skips[i] = skipped
            self.jsonl.append((i, out))

    def set_aside(self, con: Any, which: set[int] | None = None,
                  progress: Progress | None = None) -> int:
        """Copy each JSON Lines file in ``which`` (every one not yet looked through when
        None) with each record past ``_MAX_LINE // _ASIDE_FRACTION`` bytes replaced by a
        short stand-in line; return how many records were set aside.

        The stand-in (``{"__tracker_set_aside__":"<key>","id":"<its work ID>"}``) keeps
        every line where it was, so both readers count lines as before; the record itself
        goes into the table ``aside``, from which :meth:`source` gives its text back in the
        stand-in's place.  The typed reader finds no authorships in the stand-in and so
        leaves the row in doubt: it is read again from the record's text, which must name
        the same work.  Copying is the only way past the readers' limit (DuckDB reads a
        file whole or not at all); it costs one pass over the file (about 15 s for a
        million works) and happens only when a file holds such a record; ``progress``
        hears of it (stage ``set aside large records``, lines copied).
        """
        from isal import igzip  # ISA-L gzip: a pass over the file three times faster

        limit = _MAX_LINE // _ASIDE_FRACTION
        con.execute("CREATE TABLE IF NOT EXISTS aside (stub VARCHAR, line VARCHAR)")
        before = self.set_aside_records
        for n, (i, p) in enumerate(self.jsonl):
            if i in self.scanned or (which is not None and i not in which):
                continue
            self.scanned.add(i)
            out = self.folder / f"f{i:06d}.aside.jsonl.gz"
            here = 0
            opener = igzip.open if p.name.endswith(".gz") else open
            with (_read_errors(p), opener(p, "rb") as src,
                  igzip.open(out, "wb", compresslevel=0) as dst):
                for k, line in enumerate(src, 1):
                    if progress is not None and not k % 100_000:
                        progress("set aside large records", k, None)
                    if len(line) <= limit:
                        dst.write(line)
                        continue
                    here += 1
                    self.set_aside_records += 1
                    key = f"{i}:{self.set_aside_records}"  # unique within the run
                    stub = orjson.dumps({"__tracker_set_aside__": key,
                                         "id": _work_id(line)})
                    con.execute("INSERT INTO aside VALUES (?, ?)", [
                        stub.decode(), line.rstrip(b"\r\n").decode("utf-8", "replace")])
                    dst.write(stub + b"\n")
            if here:
                self.aside[i] = out
                self.jsonl[n] = (i, out)
            else:
                out.unlink()
        return self.set_aside_records - before

    def narrow_parquet(self, con: Any) -> None:
        """Note, per Parquet file, the columns of :data:`_PLAN_FIELDS` it has, so that
        ``source(narrow=True)`` turns only those into JSON text (every column otherwise),
        and the struct of its every column (``row_columns``)."""
        for i, p in self.parquet:
            rel = con.sql(f"SELECT * FROM read_parquet({_lit(str(p))}) LIMIT 0")
            have = dict(zip(rel.columns, rel.types, strict=True))
            self.parquet_schema[i] = repr([(c, str(t)) for c, t in have.items()])
            keep = [c for c in _PLAN_FIELDS if c in have]
            self.parquet_columns[i] = set(keep)
            shape = _plan_shape()
            self.parquet_castable[i] = all(_fits(have[c], shape[c]) for c in keep
                                           if c in shape)
            if keep:
                self.plan_columns[i] = "struct_pack(" + ", ".join(
                    f'"{c}" := t."{c}"' for c in keep) + ")"
            if have:  # the row as the file holds it, without the reader's row number
                self.row_columns[i] = "struct_pack(" + ", ".join(
                    f"{_ident(c)} := t.{_ident(c)}" for c in have) + ")"
        self.parquet_group_bytes = _row_group_bytes(con, [p for _, p in self.parquet],
                                                    _PLAN_FIELDS)

    def source(self, rows: str = "", *, parquet: bool = True, narrow: bool = False,
               files: Collection[int] | None = None) -> str:
        """A query of ``rn``, ``fidx`` and ``line``: every record in file order (``rn``
        counts non-blank lines, then Parquet rows), of the files whose index is in
        ``files`` when given.  A Parquet row's ``line`` holds its columns (not the reader's
        row number); ``narrow``: only the fields the plan reads (see
        :meth:`narrow_parquet`)."""
        parts = []
        for i, p in self.jsonl:
            if files is not None and i not in files:
                continue
            lines = (
                f"SELECT {i * _FILE_STRIDE} + row_number() OVER () AS rn, "
                f"{i}::BIGINT AS fidx, line FROM (SELECT line FROM read_csv({_lit(str(p))}, "
                f"columns={{'line': 'VARCHAR'}}, delim={_lit(_NO_DELIMITER)}, quote='', "
                f"escape='', header=false, auto_detect=false, max_line_size={_MAX_LINE}, "
                "strict_mode=false) WHERE line IS NOT NULL "
                "AND (starts_with(line, '{') OR strip(line) <> ''))")
            if i in self.aside:  # a set-aside record's text in its stand-in's place
                lines = (f"SELECT t.rn, t.fidx, coalesce(a.line, t.line) AS line FROM ({lines}) t "
                         f"LEFT JOIN aside a ON a.stub = CASE WHEN starts_with(t.line, "
                         f"{_lit(_ASIDE_KEY)}) THEN t.line END")
            parts.append(f"SELECT * FROM ({lines}) t{rows}")
        for i, p in self.parquet if parquet else ():
            if files is not None and i not in files:
                continue
            row = self.row_columns.get(i, "t")
            parts.append(
                f"SELECT {_PARQUET_BASE + i * _FILE_STRIDE} + file_row_number AS rn, "
                f"{i} AS fidx, to_json({self.plan_columns.get(i, row) if narrow else row})"
                "::VARCHAR AS line "
                f"FROM read_parquet({_lit(str(p))}, file_row_number=true) t{rows}")
        return "\nUNION ALL\n".join(parts)


@cache
def _plan_shape() -> dict[str, Any]:
    """The values the plan reads as text (None), and lists (``[...]``) and structs
    (``{...}``) of them, by the names it reads them: ``id`` and ``publication_date`` as
    text, ``authorships`` as :data:`tracker.engine.plan.AUTHORSHIPS_TYPE` (read from that
    type, so that the two cannot differ)."""
    import duckdb

    def shape(kind: Any) -> Any:
        if str(kind.id) == "list":
            return [shape(kind.children[0][1])]
        if str(kind.id) == "struct":
            return {name: shape(child) for name, child in kind.children}
        return None

    con = duckdb.connect()
    try:
        (auths,) = con.sql(f"SELECT NULL::{AUTHORSHIPS_TYPE}").types
    finally:
        con.close()
    return {"id": None, "publication_date": None, "authorships": shape(auths)}


def _fits(kind: Any, shape: Any) -> bool:
    """Whether a Parquet column of DuckDB type ``kind`` cast to the plan's type reads as its
    JSON text does (:func:`tracker.engine.plan.recs_parquet_sql`).

    ``shape`` is the plan's (see :func:`_plan_shape`).  Not so where the plan reads text
    and the column holds a list, a struct, a float (its text may differ from its JSON's) or
    JSON (a cast keeps the quotes that parsing drops), nor for a struct with a field named
    as the plan's but in other letter case (casts match names in any case, JSON does not).

    Examples
    --------
    >>> import duckdb
    >>> types = duckdb.sql("SELECT 'W1' AS a, 1.5 AS b, [1] AS c, {'ID': 'x'} AS d").types
    >>> [_fits(types[0], None), _fits(types[1], None), _fits(types[2], [None]),
    ...  _fits(types[3], {"id": None})]
    [True, False, True, False]
    """
    if shape is None:
        return str(kind.id) in _SCALARS and str(kind) != "JSON"
    if isinstance(shape, list):
        return str(kind.id) == "list" and _fits(kind.children[0][1], shape[0])
    if str(kind.id) != "struct":
        return False
    fields = dict(kind.children)
    lower = {k.lower() for k in shape}
    if any(name not in shape and name.lower() in lower for name in fields):
        return False
    return all(_fits(fields[k], v) for k, v in shape.items() if k in fields)


def parquet_works(path: str | Path, *, memory_limit: str = "1GB",
                  rows: tuple[int, int] | None = None) -> Iterator[Work | SkippedRecord]:
    """The works of a Parquet file as the Python reader gives a JSON Lines file's
    (:func:`tracker.sources.files.read_works`): in row order, each row read from its JSON
    text (as the engine reads a candidate work) by :func:`tracker.records.parse_work`, a
    row that is not a work as a :class:`~tracker.skipped.SkippedRecord` (``row N``, from 0,
    as the engine names it).  ``rows``: only the rows numbered ``start`` to ``stop - 1``
    (a share another process reads; DuckDB skips the others early: half the rows of
    100,000 generated works in 2.5 s against 4.4 s for all).

    For the Python path, which reads no Parquet itself: ``--engine python``, subjects and
    rosters, and the works ``tracker screen`` keeps in the case file for ``tracker
    rescreen``.  One DuckDB thread: a row group of nested authorships is large (see
    :func:`_reading_parquet`).  DuckDB makes the rows' text in a thread of its own
    (:func:`_prefetched`) while they are parsed here: 100,000 generated works took 14.5 s
    one after the other, 10.7 s side by side (DuckDB alone 4.5 s).
    """
    import duckdb

    con = duckdb.connect(config={"threads": 1, "memory_limit": memory_limit})
    # no progress bar of DuckDB's own: it would print over the caller's output
    con.execute("SET enable_progress_bar = false")
    src = f"read_parquet({_lit(str(path))})"
    if rows is not None:
        start, stop = (int(x) for x in rows)
        src = (f"(SELECT * EXCLUDE (file_row_number) FROM read_parquet({_lit(str(path))}, "
               f"file_row_number=true) WHERE file_row_number >= {start} "
               f"AND file_row_number < {stop})")  # in row order, as the whole file
    try:
        try:
            cur = con.execute(f"SELECT encode(to_json(t)::VARCHAR) FROM {src} t")
        except duckdb.Error:
            _parquet_error(Path(path))  # names what is wrong when DuckDB cannot open it
            raise
        n = 0 if rows is None else rows[0]
        # closed first: its thread stops before the connection it fetches from is closed
        with contextlib.closing(_prefetched(cur)) as batches:
            for batch in batches:
                for (line,) in batch:
                    try:
                        yield parse_work(orjson.loads(line))
                    except RecordError as exc:
                        yield SkippedRecord(str(path), f"row {n}", str(exc))
                    n += 1
    finally:
        con.close()


def _footer_sum(path: str | Path, column: str, table: str) -> int:
    """The sum of ``column`` of DuckDB's ``table`` function (``parquet_metadata`` or
    ``parquet_file_metadata``) of the Parquet file at ``path``: its footer, no row read.

    Raises
    ------
    tracker.sources.files.WorksFileError
        DuckDB cannot read the file as Parquet.
    """
    import duckdb

    con = duckdb.connect(config={"threads": 1})
    try:
        try:
            got = con.execute(f"SELECT coalesce(sum({column}), 0) FROM "
                              f"{table}({_lit(str(path))})").fetchone()
        except duckdb.Error:
            _parquet_error(Path(path))
            raise
        return int(got[0]) if got else 0
    finally:
        con.close()


def parquet_bytes(path: str | Path) -> int:
    """How many bytes the Parquet file at ``path`` holds uncompressed, every column of
    every row group (from its footer: no row is read).

    Why: a Parquet file is several times smaller than the same works as JSON Lines gzip
    (a million generated works: 258 MB against 1,054 MB), so its size on disk says less
    about what keeping its works costs than its size uncompressed (1.2 GB there).

    Raises
    ------
    tracker.sources.files.WorksFileError
        DuckDB cannot read the file as Parquet.
    """
    return _footer_sum(path, "total_uncompressed_size", "parquet_metadata")


def parquet_rows(path: str | Path) -> int:
    """How many rows the Parquet file at ``path`` holds (from its footer: no row is read).

    Raises
    ------
    tracker.sources.files.WorksFileError
        DuckDB cannot read the file as Parquet.
    """
    return _footer_sum(path, "num_rows", "parquet_file_metadata")


_PREFETCH = 8  # batches of rows a reader thread may hold ahead (of _FETCH rows each)


def _prefetched(cur: Any) -> Generator[list[tuple[Any, ...]], None, None]:
    """The rows of DuckDB's cursor ``cur`` in batches of :data:`_FETCH`, fetched in a thread
    of their own, up to :data:`_PREFETCH` batches ahead of the caller: DuckDB runs the
    query while it fetches, without Python's lock, so the query and the caller's work on
    the rows go on side by side.  An error of the query is raised here, where the batch
    it stopped is due; a caller that stops early (or Ctrl-C) stops the query
    (``interrupt()``) and its thread."""
    import queue

    ready: queue.Queue[Any] = queue.Queue(maxsize=_PREFETCH)
    stop = threading.Event()
    end = object()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def fetch() -> None:
        try:
            while rows := cur.fetchmany(_FETCH):
                if not put(rows):
                    return
            put(end)
        except BaseException as exc:  # the caller raises it
            put(exc)

    reader = threading.Thread(target=fetch, name="tracker-parquet-rows", daemon=True)
    reader.start()
    try:
        while True:
            item = ready.get()
            if item is end:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        if reader.is_alive():
            with contextlib.suppress(Exception):
                cur.interrupt()
        reader.join()


def _work_id(line: bytes) -> str:
    """The ``id`` of the record on ``line`` as written, or "" (not a JSON object, no ID)."""
    try:
        rec = orjson.loads(line)
    except orjson.JSONDecodeError:
        return ""
    got = rec.get("id") if isinstance(rec, dict) else None
    return got if isinstance(got, str) else ""


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _ident(name: str) -> str:
    """A column name as a quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


@dataclass
class _Keys:
    """The keys found to be listed or named, as tracker's records hold them (short IDs,
    bare RORs, cleaned strings): an authorship with none of them cannot hold a tie."""

    ids: set[str] = field(default_factory=set)
    rors: set[str] = field(default_factory=set)
    texts: set[str] = field(default_factory=set)
    any_text: bool = False  # a name matcher that cannot say: every string may name one
    #: the same keys as the records write them (a full ID URL, a ROR URL, a raw string):
    #: what :meth:`may_tie_raw` looks for before an authorship is parsed
    raw: set[str] = field(default_factory=set)

    def may_tie_raw(self, auth: Any) -> bool:
        """Can the authorship object ``auth``, as read from JSON, hold a tie?  False only
        where none of its identifiers and strings, as written, is a key found listed or
        named; where it cannot say (an unhashable value, a matcher that reads every string)
        True, and :meth:`may_tie` decides on the parsed authorship.

        Parsing an authorship into a record costs about ten times this test, and in the
        candidate works most authorships hold no key (a consortium paper with one listed
        institution among 2,000 authors): only those that may tie are parsed.  Used where
        the plan gives no places of the authorships that hold a key (:func:`_parse_lines`:
        the Spark engine's candidates).
        """
        if self.any_text or type(auth) is not dict:
            return True
        raw = self.raw
        try:
            for inst in auth.get("institutions") or ():
                if type(inst) is not dict:
                    continue
                if (inst.get("id") in raw or inst.get("ror") in raw
                        or inst.get("display_name") in raw):
                    return True
                for x in inst.get("lineage") or ():
                    if x in raw:
                        return True
            for r in auth.get("raw_affiliation_strings") or ():
                if r in raw:
                    return True
            old = auth.get("raw_affiliation_string")
            if type(old) is str and any(r in raw for r in old.split(";")):
                return True
            for a in auth.get("affiliations") or ():
                if type(a) is dict and a.get("raw_affiliation_string") in raw:
                    return True
        except TypeError:  # an unhashable value, or an iterable that is not a list
            return True
        return False

    def may_tie(self, auth: Authorship) -> bool:
        for inst in auth.institutions:
            if inst.id in self.ids or inst.ror in self.rors:
                return True
            if any(x in self.ids for x in inst.lineage):
                return True
            if inst.display_name and (self.any_text or inst.display_name in self.texts):
                return True
        if self.any_text:
            return bool(auth.raw_affiliations)
        return any(r in self.texts for r in auth.raw_affiliations)


def _clean(text: str) -> str | None:
    """A raw string as :mod:`tracker.records` keeps it (entities, markup, spaces)."""
    got = Authorship.from_openalex({"raw_affiliation_strings": [text]}, 0).raw_affiliations
    return got[0] if got else None


def _names_probe(name_matcher: object | None, keys: _Keys) -> Callable[[str], bool] | None:
    """``probe(text)``: may the name matcher find a listed name in ``text``?  True for any
    text it names (a hit or a listed unit's parent) as it reads the text, cleaned as
    :mod:`tracker.records` cleans raw strings; each such text goes into ``keys``.  A matcher
    that cannot say is asked about every authorship."""
    if name_matcher is None:
        return None
    public = getattr(name_matcher, "names_anything", None)
    scan = getattr(name_matcher, "_scan", None)
    if not callable(public) and not callable(scan):
        keys.any_text = True

    def probe(text: str) -> bool:
        raw = _clean(text)
        if raw is None:
            return False
        if callable(public):
            named = bool(public(raw))
        elif callable(scan):
            found = scan(raw)
            named = bool(found.hits or found.parents)
        else:
            named = True
        if named:
            keys.texts.add(raw)
        return named

    return probe


def _connect(threads: int | None, memory_limit: str, folder: Path, *,
             tables: bool = True) -> Any:
    """A DuckDB connection as the engine sets it up, working in ``folder``; ``tables``:
    with a database file there for the plan's tables (a worker reading Parquet rows
    keeps none)."""
    import duckdb

    # a database file, not memory: tables past the memory limit are then stored compressed
    # (at a million generated works 0.16 GB on disk against 3.3 GB spilled from memory, and
    # 179 s against 206-226 s; at ten million, memory spilled 22 GB in a third of the read)
    con = duckdb.connect(str(folder / "plan.duckdb") if tables else ":memory:",
                         config={"threads": threads or max(1, os.cpu_count() or 1),
                                 "memory_limit": memory_limit,
                                 "temp_directory": str(folder / "spill"),
                                 "preserve_insertion_order": True})
    con.execute("SET enable_progress_bar = false")  # tracker reports its own progress
    # the scan is estimated at a few rows: without this a join builds its hash table on
    # the works side and runs out of memory at scale
    con.execute("SET disabled_optimizers = 'build_side_probe_side'")
    return con


def _candidates(con: Any, reg: Registry, keys: _Keys, probe: Callable[[str], bool] | None,
                progress: Progress | None) -> int:
    """Create ``cand``: the works read that have a listed ID, ROR or lineage ancestor, or a
    string the name matcher names, each with the places of its authorships that hold one
    (``pos``; NULL where every authorship may, ``keys.any_text``); fill ``keys``.  Returns
    how many works."""
    def listed_id(v: str) -> bool:
        sid = short_id(v)
        if sid and reg.by_openalex_id(sid):
            keys.ids.add(sid)
            return True
        return False

    def listed_ror(v: str) -> bool:
        ror = short_ror(v)
        if ror and reg.by_ror(ror):
            keys.rors.add(ror)
            return True
        return False

    tests: dict[str, Callable[[str], bool]] = {"i": listed_id, "r": listed_ror}
    if probe is not None:
        tests["s"] = probe
    con.execute("CREATE OR REPLACE TABLE hits (kind VARCHAR, k VARCHAR)")
    found: list[tuple[str, str]] = []
    done = 0
    queries = [query for kind, query in KEYS if kind in tests]
    for query in queries:
        cur = con.execute(f"SELECT DISTINCT kind, k FROM ({query}) WHERE k IS NOT NULL")
        while rows := cur.fetchmany(_FETCH * 10):
            found.extend((kind, k) for kind, k in rows if tests[kind](k))
            done += len(rows)
            if progress is not None:
                progress("keys", done, None)
    if progress is not None:  # every distinct key looked up
        progress("keys", done, done)
    keys.raw.update(k for _, k in found)
    if found:  # two lists unnested side by side: executemany took 0.7 s for 4,478 rows
        con.execute("INSERT INTO hits SELECT unnest($1), unnest($2)",
                    [[kind for kind, _ in found], [k for _, k in found]])
    con.execute("CREATE OR REPLACE TABLE cand0 (rn BIGINT, pos BIGINT)")
    for query in queries:
        con.execute(f"INSERT INTO cand0 SELECT DISTINCT rn, pos FROM ({query}) SEMI JOIN hits "
                    "USING (kind, k)")
    if keys.any_text:  # every authorship may tie: no places (NULL)
        con.execute("INSERT INTO cand0 SELECT rn, NULL FROM readw WHERE n_auth > 0")
    # the places of the authorships that hold a key found (sorted; NULL: every one)
    con.execute("CREATE OR REPLACE TABLE cand AS SELECT c.rn, any_value(r.wid) AS wid, "
                "CASE WHEN bool_or(c.pos IS NULL) THEN NULL "
                "ELSE list_sort(list_distinct(list(c.pos))) END AS pos "
                "FROM cand0 c JOIN recs r USING (rn) GROUP BY c.rn")
    (n,) = con.execute("SELECT count(*) FROM cand").fetchone()
    return int(n)


def _candidate_lines(con: Any, staging: _Staging, *, direct: bool = True,
                     parts: str | None = None, part_rows: int = 0
                     ) -> Iterator[list[_Row] | _ParquetPart]:
    """The candidate works' records, read again, in batches of ``(rn, line, work ID,
    places)`` (:data:`_Row`).

    ``direct``: the JSON Lines files without set-aside records are read here
    (:func:`_direct_lines`); the others, and every file otherwise, by DuckDB.  ``parts``
    (a memory limit): the Parquet files' candidates come as :class:`_ParquetPart`, for the
    worker processes to read (with their own DuckDB, within that limit each), at most
    ``part_rows`` a part where a row group holds more (:func:`_parquet_parts`).
    """
    rest = {i for i, _ in staging.jsonl}
    if direct:
        rest &= set(staging.aside)
        yield from _batches(_direct_lines(con, [(i, p) for i, p in staging.jsonl
                                                if i not in rest], staging.dates))
    if rest or (staging.parquet and parts is None):
        yield from _batches(_file_candidates(con, staging, rest, parquet=parts is None))
    if parts is not None:
        yield from _parquet_parts(con, staging, parts, part_rows)


def _file_candidates(con: Any, staging: _Staging, jsonl: Collection[int], *,
                     parquet: bool = True) -> Iterator[_Row]:
    """The candidate records of the JSON Lines files ``jsonl`` and (``parquet``) of every
    Parquet file read by DuckDB, ``(rn, line, work ID, places)``, one file a query: a query
    of every file at once (a UNION ALL) held each file's reader and join at once, and ran
    out of its memory limit (1 GB) on a folder of 500 Parquet parts of 200 works."""
    for i in sorted({*jsonl, *(i for i, _ in staging.parquet if parquet)}):
        # the filter inside the file's query: a Parquet row not a candidate is never text
        src = staging.source(" WHERE rn IN (SELECT rn FROM cand)", files={i})
        # each line as bytes (BLOB): no text is decoded here, in the one process that feeds
        # the workers (decoding, then encoding for the workers, held them idle: 1M works, 2
        # workers at 7 % of a core each); orjson reads bytes as they are
        with _threads(con, staging.parquet_threads):  # set only by a Parquet read
            cur = con.execute(f"SELECT s.rn, encode(s.line) AS line, c.wid, c.pos "
                              f"FROM ({src}) s "
                              "JOIN cand c USING (rn)")
            yield from _fetched(cur)


def _batches(rows: Iterable[_Row]) -> Iterator[list[_Row]]:
    """``rows`` in batches of about :data:`_BATCH_BYTES` of text."""
    batch: list[_Row] = []
    size = 0
    for row in rows:
        batch.append(row)
        size += len(row[1])
        if size >= _BATCH_BYTES:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


#: A Parquet file's candidate rows are read by a worker in parts of at least this many
#: (smaller row groups are read together: each query of a file costs its reader about
#: 0.2 s of its own, at a million works in row groups of 123,000).
_PART_ROWS = 2000


@dataclass(frozen=True)
class _ParquetPart:
    """Candidate rows of one Parquet file (within one row group, or of several small
    ones: :func:`_parquet_parts`), for a worker process to read with a DuckDB of its own
    (:func:`_part_batches`).

    Why: made in the process that feeds the workers, a Parquet row's JSON text (``to_json``
    of its nested authorships) is made on the threads the row groups fit in within the
    memory limit, one for row groups of 100,000 works and more, while the two workers
    waited for it (a million works: about 21 s of one core for 250,000 candidate rows, the
    workers at about half a core each).  Each worker now reads its parts itself, on one
    thread, and parses the text where it is made.
    """

    sql: str  # ``rn`` and ``line`` of the rows whose file row numbers are its parameter
    base: int  # rn of the file's first row
    wanted: list[tuple[int, str, Sequence[int] | None]]  # (rn, work ID, places), in order
    memory_limit: str
    spill: str  # the folder for what a worker's DuckDB spills


def _parquet_parts(con: Any, staging: _Staging, memory_limit: str, most: int
                   ) -> Iterator[_ParquetPart]:
    """The candidates of every Parquet file in parts (:class:`_ParquetPart`), told from the
    file's metadata: each within one row group, of at most ``most`` candidates, except that
    consecutive row groups with fewer than :data:`_PART_ROWS` candidates are read together.

    Why parts smaller than a row group: a file of one row group would be read by one
    worker while the others wait.  A row group of 123,000 generated works (30,921
    candidates) read as one part took 3.0 s, in two 3.0 s, in four 3.3 s, in eight 4.4 s:
    the callers ask for about two parts a worker."""
    for i, p in staging.parquet:
        base = _PARQUET_BASE + i * _FILE_STRIDE
        wanted = con.execute("SELECT rn, wid, pos FROM cand WHERE rn >= ? AND rn < ? "
                             "ORDER BY rn", [base, base + _FILE_STRIDE]).fetchall()
        if not wanted:
            continue
        ends = list(accumulate(int(n) for (n,) in con.execute(
            "SELECT any_value(row_group_num_rows) FROM parquet_metadata(?) "
            "GROUP BY row_group_id ORDER BY row_group_id", [str(p)]).fetchall()))
        at = 0
        while at < len(wanted):
            stop, group = at, -1
            while stop < len(wanted):
                # the row group of the row (past the last: rows the metadata does not
                # count, read in a part of their own, and found missing)
                g = bisect_right(ends, wanted[stop][0] - base)
                if stop - at >= _PART_ROWS and (g != group or stop - at >= most):
                    break
                group = g
                stop += 1
            lo, hi = wanted[at][0] - base, wanted[stop - 1][0] - base
            src = staging.source(f" WHERE file_row_number BETWEEN {lo} AND {hi} AND "
                                 "file_row_number IN (SELECT unnest(?::BIGINT[]))", files={i})
            yield _ParquetPart(f"SELECT rn, encode(line) AS line FROM ({src})", base,
                               wanted[at:stop], memory_limit,
                               str(staging.folder / "spill-workers"))
            at = stop


#: A worker process's DuckDB for the Parquet parts it reads, by its settings.
_WORKER_DUCK: tuple[tuple[str, str], Any] | None = None


def _part_batches(part: _ParquetPart) -> Iterator[list[_Row]]:
    """A Parquet part's candidate rows (:data:`_Row`), read in a worker process by its
    DuckDB (made at its first part: one thread, the run's memory limit), in batches."""
    global _WORKER_DUCK
    key = (part.memory_limit, part.spill)
    if _WORKER_DUCK is None or _WORKER_DUCK[0] != key:
        _WORKER_DUCK = (key, _connect(1, part.memory_limit,
                                      Path(part.spill) / str(os.getpid()), tables=False))
    at = {rn: (wid, pos) for rn, wid, pos in part.wanted}
    cur = _WORKER_DUCK[1].execute(part.sql, [[rn - part.base for rn in at]])
    yield from _batches((rn, line, *at[rn]) for rn, line in _fetched(cur))


def _direct_lines(con: Any, files: Sequence[tuple[int, Path]], dates: Path
                  ) -> Iterator[_Row]:
    """The candidate lines of JSON Lines ``files``, read here: ``(rn, line, work ID,
    places)``; and, of the records in ``undated`` (no date read by the typed reader),
    whether they name ``publication_date`` (:func:`_date_row`, written to ``dates``).

    Why not DuckDB: its read of a gzip file is one thread at zlib's pace, and the query
    runs only while its rows are fetched, so the process feeding the workers spent most of
    a million-work run's screening decompressing 8.8 GB (two workers at half a core each).
    ISA-L decompresses about three times as fast, in a thread of its own
    (:func:`isal.igzip_threaded.open`), and the lines not asked for are dropped as they
    are read.  Each gzip file is read to its end, past its last candidate, to verify its
    checksum (DuckDB verifies none).  Lines are counted as the plan counts them (blank
    ones skipped; the line break, ``\n`` or ``\r\n``, not part of the line).  A line that
    holds another work than the plan read at its place is caught where it is parsed
    (:func:`_parse_lines`), or, for an undated record, where its answer is applied
    (:func:`_apply_dates`).

    Raises
    ------
    _Misaligned
        A file ends before its last candidate or undated record (the plan and this reader
        split its lines differently): the run is read again from the text, by DuckDB alone.
    """
    with dates.open("wb") as fh:
        for i, path in files:
            base = i * _FILE_STRIDE
            cur = con.execute(
                "SELECT rn, any_value(wid), bool_or(c), bool_or(NOT c), any_value(pos) FROM ("
                "SELECT rn, wid, true AS c, pos FROM cand UNION ALL "
                "SELECT rn, wid, false AS c, NULL FROM undated) "
                "WHERE rn > ? AND rn < ? GROUP BY rn ORDER BY rn", [base, base + _FILE_STRIDE])
            for line, (n, wid, cand, undated, pos) in _lines_at(i, path, _fetched(cur),
                                                                 to_end=True):
                if undated and (row := _date_row(n, line)) is not None:
                    fh.write(row)
                if cand:
                    if line.endswith(b"\n"):
                        line = line[:-2] if line.endswith(b"\r\n") else line[:-1]
                    yield n, line, wid, pos


def _fetched(cur: Any) -> Iterator[tuple[Any, ...]]:
    """The rows of DuckDB's cursor ``cur``, fetched :data:`_FETCH` at a time."""
    return (row for rows in iter(partial(cur.fetchmany, _FETCH), []) for row in rows)


def _lines_at(i: int, path: Path, wanted: Iterator[tuple[Any, ...]], *, to_end: bool = False
              ) -> Iterator[tuple[bytes, tuple[Any, ...]]]:
    """The lines of the ``i``-th file, ``path``, at the places ``wanted`` names (rows whose
    first value is an ``rn``, in order), each with its row; the file is read up to the
    last (:func:`_lines`, counted as the plan counts them) and closed; with ``to_end``, a
    gzip file is read to its end, so that its checksum is verified (:func:`_lines`).

    Raises
    ------
    _Misaligned
        The file ends before the last place wanted.
    """
    nxt = next(wanted, None)
    check = to_end and path.name.endswith(".gz")
    if nxt is None and not check:
        return
    base = i * _FILE_STRIDE
    with contextlib.closing(_lines(path)) as lines:  # the file closed at the last
        for n, line in enumerate(lines, base + 1):
            if nxt is None or n != nxt[0]:
                continue
            yield line, nxt
            nxt = next(wanted, None)
            if nxt is None and not check:
                return
    if nxt is not None:
        raise _Misaligned(f"file {i} ended before record {nxt[0] - base}")


@contextlib.contextmanager
def _read_errors(path: Path) -> Iterator[None]:
    """Errors reading the works file at ``path`` (a link to the user's file, named as it
    is) raised as the Python reader raises them: a gzip stream that ends early is
    :class:`~tracker.sources.files.TruncatedWorksFile`, a damaged one (a checksum that does
    not match, data that does not decompress) or an unreadable file
    :class:`~tracker.sources.files.WorksFileError`, each naming the file."""
    try:
        yield
    except EOFError as exc:
        raise TruncatedWorksFile.gzip_ended(_user_path(path), exc) from exc
    except (OSError, zlib.error) as exc:
        raise WorksFileError(f"{_user_path(path)}: cannot read the file ({exc})") from exc


def _user_path(path: Path) -> Path:
    """The user's file behind a staged link (:meth:`_Staging.stage`), else ``path``."""
    return path.resolve() if path.is_symlink() else path


def _lines(path: Path) -> Generator[bytes, None, None]:
    """The lines of a JSON Lines file that the plan counts (blank ones skipped), each with
    its line break.  A gzip file is decompressed by ISA-L in a thread of its own
    (:func:`isal.igzip_threaded.open`: about three times zlib's pace, and the lines are
    split here meanwhile); its checksum is verified at its end, where DuckDB's reader
    verifies none (a file damaged near its end read as text with a few broken lines).

    Raises
    ------
    tracker.sources.files.WorksFileError
        See :func:`_read_errors`.
    """
    from isal import igzip_threaded

    # a buffer larger than the lines (1 MB, not io's 8 kB): a line longer than the buffer is
    # read in pieces and joined (a million generated works, 8.6 kB a line: 8.8 s, not 3.5)
    with _read_errors(path):
        fh = (io.BufferedReader(igzip_threaded.open(path, "rb", threads=1), _READ_BUFFER)
              if path.name.endswith(".gz") else path.open("rb", buffering=_READ_BUFFER))
        with fh:
            for line in fh:
                if not line.startswith(b"{") and not line.strip():
                    continue  # blank: not counted
                yield line


def _check_gzip(path: Path) -> None:
    """Read the gzip file ``path`` to its end (its checksum verified), for a file no pass
    here has read whole (:func:`_lines`).

    Raises
    ------
    tracker.sources.files.WorksFileError
        See :func:`_read_errors`.
    """
    from isal import igzip_threaded

    with _read_errors(path), igzip_threaded.open(path, "rb", threads=1) as fh:
        while fh.read(_READ_BUFFER):
            pass


def _date_row(n: int, line: bytes) -> bytes | None:
    """The row of ``dates.jsonl`` for the record at ``n`` whose line is ``line``: its work ID
    as written and whether it names ``publication_date`` (``named``; false: a partial
    record); None for a line that is not a record with an ID (left to the text reader).
    The ID goes with it so that a line counted differently cannot pass for another record
    (:func:`_apply_dates` joins on the work ID too)."""
    try:
        rec = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if type(rec) is dict and type(wid := rec.get("id")) is str:
        return orjson.dumps({"rn": n, "id": wid, "named": "publication_date" in rec}) + b"\n"
    return None


def _date_fields(con: Any, files: Sequence[tuple[int, Path]], out: Path) -> bool:
    """Write to ``out`` :func:`_date_row` of each record of ``files`` the typed reader
    marked ``date`` (no ``publication_date`` read: the field is absent, a partial record,
    or null, which it reads alike); return whether any row was written.  Only those lines
    are parsed, and a file is read up to its last such line (none: not read at all).

    For the files whose candidates are read again by DuckDB (those with records set
    aside); in the others :func:`_direct_lines` answers it while it reads their candidates
    (in a million generated works, 14 % have no date: a pass of its own over the text,
    beside the typed read, took about 8 s of its 36 s).  Why not DuckDB: its pass over a
    gzip file's text decompresses it at zlib's pace on one core (the same works: 50 s).
    A line not answered here is left to :func:`tracker.engine.plan.texts_sql`.
    """
    wrote = False
    with out.open("wb") as fh:
        for i, path in files:
            base = i * _FILE_STRIDE
            cur = con.execute("SELECT rn FROM recs WHERE status = 'date' AND rn > ? AND rn < ? "
                              "ORDER BY rn", [base, base + _FILE_STRIDE])
            with contextlib.suppress(_Misaligned):  # a file that ends first: left to the text
                for line, (n,) in _lines_at(i, path, _fetched(cur)):
                    if (row := _date_row(n, line)) is not None:
                        fh.write(row)
                        wrote = True
    return wrote


def _apply_dates(con: Any, dates: Path, rows: str) -> None:
    """Apply the answers in ``dates`` (:func:`_date_row`) to the ``recs`` rows the
    condition ``rows`` chooses: where the same work (its ID) is at the same place, it is
    read (``status`` ok) and partial where the field is absent."""
    con.execute(
        f"CREATE OR REPLACE TABLE pdkeys AS SELECT rn, named, "
        f"upper(regexp_extract(strip(id), {_lit(ID_RE)}, 1)) AS wid "
        f"FROM read_json({_lit(str(dates))}, format='newline_delimited', "
        "columns={rn: 'BIGINT', id: 'VARCHAR', named: 'BOOLEAN'})")
    con.execute("UPDATE recs SET status = 'ok', partial = NOT k.named FROM pdkeys k "
                f"WHERE recs.rn = k.rn AND recs.wid = k.wid AND ({rows})")


_TOP_FIELDS = msgspec.json.Decoder(dict[str, msgspec.Raw])
_RAW_LIST = msgspec.json.Decoder(list[msgspec.Raw])
#: What :func:`_skim` decodes of a record: the authorships only where they may tie.
_SKIM_FIELDS = PARSE_WORK_FIELDS - {"authorships"}


def _skim(line: bytes | str | memoryview) -> tuple[dict[str, Any], list[Any]] | None:
    """A candidate work's line read for what screening needs of it: its fields
    :func:`~tracker.records.parse_work` reads, decoded by orjson as a whole-record parse
    decodes them (every other field's key with None, the authorships an empty list), and
    its authorships each left undecoded (``msgspec.Raw``, decoded where they may tie).
    None where the line is not an object holding an ``authorships`` list, or not JSON: the
    caller parses it whole, as before, and meets what it met before.

    Why: a candidate work is often a large one (a consortium paper's thousands of
    authorships, one of them tied).  Decoding every authorship into Python objects, and
    freeing them, was about half of the worker processes' CPU at a million generated works
    (py-spy); msgspec (a JSON library) skips a value by scanning its text.  60,000
    generated works: 1.17 s whole, 0.77 s skimmed; those larger than 30 kB, 0.60 s and
    0.19 s.  A million: the workers' CPU 42.5–46.5 s whole, 33.2–35.3 s skimmed.

    The parts decoded are decoded by orjson, as before.  msgspec does not check that the
    text it skips is UTF-8 (orjson does): a skipped part holds nothing screening reads,
    and the Python path reads such a record too (its bytes replaced: ``_loads`` in
    :mod:`tracker.sources.files`), so the findings are the same either way.
    """
    try:
        top = _TOP_FIELDS.decode(line)
        raws = _RAW_LIST.decode(top["authorships"])
    except (msgspec.DecodeError, KeyError, RecursionError):
        return None
    rec = {k: (orjson.loads(memoryview(v)) if k in _SKIM_FIELDS else None)
           for k, v in top.items()}
    rec["authorships"] = []
    return rec, raws


def _raw_value(raw: msgspec.Raw) -> Any:
    """A value :func:`_skim` left undecoded, decoded by orjson."""
    return orjson.loads(memoryview(raw))


def _itself(value: Any) -> Any:
    """A value already decoded (a line parsed whole), as it is."""
    return value


def _parse_lines(rows: Iterable[_Row], keys: _Keys) -> Iterator[Work]:
    """Works parsed by :func:`tracker.records.parse_work` from ``(rn, line, work ID,
    places)``, each holding only the authorships that may hold a tie, each with its place in
    the record (``index``): those at ``places``, the plan's answer, or where it gave none,
    those :meth:`_Keys.may_tie_raw` passes; what screening reads of a work besides them (ID,
    dates, DOI, title, truncation) is parsed as it is for the whole record.

    The plan's places spare testing every authorship here (a consortium paper holds
    thousands, one of them tied): a million generated works' candidates spent about a
    tenth of their screening in that test.  They are the places of the authorships with a
    key found listed or named, so each authorship :meth:`_Keys.may_tie` passes is among
    them.

    Raises
    ------
    _Misaligned
        A line holds another work than the one the plan read at its place.
    """
    may_tie = keys.may_tie_raw
    decode: Callable[[Any], Any]
    for rn, line, wid, places in rows:
        try:
            skim = _skim(line)
            auths: list[Any] | None = None
            if skim is not None:  # the authorships read are decoded, the others skipped
                rec, auths = skim
                decode = _raw_value
            elif type(rec := orjson.loads(line)) is dict and type(
                    whole := rec.get("authorships")) is list:  # (one msgspec refused)
                rec["authorships"], auths, decode = [], whole, _itself
            work = parse_work(rec)
            if auths is not None:
                if places is not None:
                    n = len(auths)
                    kept = [Authorship.from_openalex(decode(auths[i]), i)
                            for i in places if i < n]
                else:
                    # one plain loop (a separate pass to check each is an object cost 8 %
                    # of this phase's time).  One that is not an object may tie
                    # (may_tie_raw) and fails to parse: RecordError.
                    kept = [Authorship.from_openalex(a, i)
                            for i, a in enumerate(map(decode, auths)) if may_tie(a)]
                work = replace(work, authorships=tuple(kept))
        except (RecordError, orjson.JSONDecodeError):
            raise _Misaligned(f"record {rn} is not the work {wid}") from None
        if work.id != wid:
            raise _Misaligned(f"record {rn} is {work.id}, not {wid}")
        yield work


@dataclass
class _Screening:
    """What screening a candidate work needs, set before worker processes are forked."""

    matcher: Matcher
    settings: ScreenSettings
    assessor: Callable[[Finding, Work], Finding] | None
    #: each distinct authorship matched once (each process fills its own)
    match: MatchMemo = field(init=False)

    def __post_init__(self) -> None:
        self.match = MatchMemo(self.matcher)


_SCREENING: _Screening | None = None  # the worker processes' own (inherited by fork)


def _screen_works(works: Iterable[Work], job: _Screening, keys: _Keys
                  ) -> tuple[list[Finding], dict[str, Work]]:
    """The findings of candidate works, built as :func:`tracker.screening.screen` builds
    them; only authorships that hold a listed or named key are matched (the others cannot
    match anything), each distinct one once (:class:`tracker.matching.MatchMemo`)."""
    findings: list[Finding] = []
    flagged: dict[str, Work] = {}
    seen: set[str] = set()
    settings, match, assessor = job.settings, job.match, job.assessor
    for work in works:
        work_gaps: list[str] = []
        if in_window(work, settings.since, settings.until) is None:
            work_gaps.append("no date: window not checked")
        if work.is_authors_truncated:
            work_gaps.append("author list truncated")
        for auth in work.authorships:
            if not keys.may_tie(auth):
                continue
            for m in match(auth):
                if m.context_only:
                    continue
                f = make_finding(work, auth, m, relation="unspecified",
                                 data_gaps=tuple(work_gaps))
                if f.finding_id in seen:
                    continue
                seen.add(f.finding_id)
                if assessor is not None:
                    f = assessor(f, work)
                findings.append(f)
                flagged[work.id] = work
    return findings, flagged


def _screen_batch(rows: list[_Row], job: _Screening, keys: _Keys
                  ) -> tuple[int, list[Finding], dict[str, bytes]]:
    """One batch of candidate records (:data:`_Row`): how many, their findings, and
    the flagged works' records packed for :class:`~tracker.records.PackedWorks` (the
    process gathering the batches keeps bytes, not records: see there why)."""
    findings, flagged = _screen_works(_parse_lines(rows, keys), job, keys)
    packed: dict[str, bytes] = {}
    for _rn, line, wid, _places in rows:
        if wid in flagged:
            packed[wid] = PackedWorks.pack(line)
    return len(rows), findings, packed


#: The candidate text a slot of the shared memory holds (:class:`_Workers`): a batch is
#: :data:`_BATCH_BYTES` and its last record; a larger one is sent through the pipe.
_SLOT_BYTES = 16 << 20
#: Where a worker process finds the keys of its batches (written once by the process
#: feeding it), and those keys once read.
_WORKER_KEYS: tuple[str, _Keys] | None = None
#: A batch for a worker process: where its keys are; the shared slot holding its texts and
#: their end offsets, with each record's (rn, work ID, places); or no slot and its rows,
#: or the part of a Parquet file it reads itself.
_Task = tuple[str, int | None, Sequence[tuple[Any, ...]] | _ParquetPart, Sequence[int]]


def _keys_of(at: str) -> _Keys:
    """A worker's keys: read from the file ``at`` once (the same keys for every batch of a
    run: each batch carrying them, pickled, cost about 3.7 ms a batch at a million works,
    360 kB of them, for about a thousand batches)."""
    global _WORKER_KEYS
    if _WORKER_KEYS is None or _WORKER_KEYS[0] != at:
        keys = pickle.loads(Path(at).read_bytes())
        assert isinstance(keys, _Keys)
        _WORKER_KEYS = (at, keys)
    return _WORKER_KEYS[1]


def _pool_batch(task: _Task) -> tuple[int | None, int, list[Finding], dict[str, bytes]]:
    """One batch of candidate records, in a worker process; the answer names the batch's
    slot, for the feeding process to free."""
    assert _SCREENING is not None
    keys_at, slot, rows, ends = task
    keys = _keys_of(keys_at)
    # (the collector is off in worker processes: _start_worker)
    if isinstance(rows, _ParquetPart):
        n, findings, packed = 0, [], {}
        for batch in _part_batches(rows):
            k, found, works = _screen_batch(batch, _SCREENING, keys)
            n += k
            findings += found
            packed.update(works)
        if n != len(rows.wanted):
            raise EngineError(f"a Parquet file gave {n:,} of the {len(rows.wanted):,} "
                              "candidate rows asked of it")
        return None, n, findings, packed
    if slot is None:
        batch = list(rows)
    else:
        assert _SLOTS is not None
        batch = [(rn, text, wid, places) for (rn, wid, places), text
                 in zip(rows, _SLOTS.views(slot, ends), strict=True)]
    return (slot, *_screen_batch(batch, _SCREENING, keys))


@dataclass
class _Workers:
    """The worker processes screening candidate records, and the memory they share with
    the process feeding them (:mod:`tracker.engine.slots`: why not the pool's pipe)."""

    pool: Any
    slots: SharedSlots
    n: int  # worker processes

    def tasks(self, batches: Iterable[list[_Row] | _ParquetPart], keys_at: str
              ) -> Iterator[_Task]:
        """The batches as tasks: each written into a free slot (waiting for one), or,
        larger than a slot, as it is; a Parquet part as it is (the worker reads its rows).
        Stopped (the run is ending), the tasks end, and
        ``batches`` is closed at once, with the files it reads (not when its last reference
        goes: an exception raised here would keep it, and a file's reader thread, alive)."""
        batches = iter(batches)
        try:
            for rows in batches:
                if isinstance(rows, _ParquetPart):
                    yield keys_at, None, rows, ()
                    continue
                try:
                    put = self.slots.put([text.encode("utf-8") if isinstance(text, str)
                                          else text for _rn, text, _wid, _places in rows])
                except SlotsStopped:
                    return
                if put is None:
                    yield keys_at, None, rows, ()
                else:
                    slot, ends = put
                    yield (keys_at, slot, [(rn, wid, places) for rn, _t, wid, places in rows],
                           ends)
        finally:
            close = getattr(batches, "close", None)
            if close is not None:
                close()

    def close(self) -> None:
        self.slots.stop()  # a batch waiting for a slot: dropped
        self.pool.terminate()
        self.pool.join()
        self.slots.close()


_SLOTS: SharedSlots | None = None  # the worker processes' own (inherited by fork)


def _start_worker() -> None:
    """A worker process's start: Ctrl-C left to the feeder, Python's cyclic collector off.

    A worker process ignores Ctrl-C: a terminal sends it to every process of the run, and
    the process feeding the workers stops them (:meth:`_Workers.close`) and says so in one
    line; a worker interrupted mid-batch printed its traceback.

    Its collector stays off for its life, not only while a batch is screened: turned on
    between batches, it traced what the worker keeps (its matches of each distinct
    authorship, which grow with the run, and the matcher it was forked with) again and
    again, and freed nothing, since records hold no reference cycles (py-spy, two million
    generated works: 4.4 s of the workers' 77 s where it was turned back on after a
    batch).  The workers' CPU at two million works: 65.0 and 57.6 s with it on between
    batches, 55.2 and 51.8 s with it off and the works packed at ISA-L's level 0
    (:meth:`PackedWorks.pack <tracker.records.PackedWorks.pack>`), run alternately.  A
    worker lives for one run.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    gc.disable()


def _start_pool(job: _Screening, processes: int | None) -> _Workers | None:
    """Worker processes for the candidate works, forked now, before DuckDB starts its
    threads (a fork copies only the calling thread: never fork a process running others),
    with the memory they share.  None where processes cannot be forked or one process is
    asked for."""
    global _SCREENING, _SLOTS
    n = processes if processes is not None else (os.cpu_count() or 1)
    if n < 2 or not sys.platform.startswith("linux") or threading.active_count() != 1:
        return None
    import multiprocessing

    # a slot for each worker's batch and one for the next (written while they screen)
    slots = SharedSlots(n + 1, _SLOT_BYTES)
    _SCREENING, _SLOTS = job, slots
    try:
        return _Workers(multiprocessing.get_context("fork").Pool(
            n, initializer=_start_worker), slots, n)
    except BaseException:
        slots.close()
        raise
    finally:
        _SCREENING = _SLOTS = None


def _not_a_part(batch: list[_Row] | _ParquetPart) -> list[_Row]:
    """``batch``, rows: a Parquet part is only ever made for worker processes to read."""
    if isinstance(batch, _ParquetPart):
        raise TypeError("a Parquet part is read by a worker process")
    return batch


def _screen_candidates(batches: Iterable[list[_Row] | _ParquetPart], job: _Screening,
                       keys: _Keys, workers: _Workers | None, progress: Progress | None, *,
                       in_memory: int, folder: str | Path | None, scratch: Path,
                       total: int | None = None
                       ) -> tuple[SpooledFindings, PackedWorks, _Tally]:
    """Screen the candidate records, batch by batch, in the worker processes or here; the
    findings past ``in_memory`` go to disk (:class:`~tracker.findings.SpooledFindings`,
    in ``folder``), counted as they come (:class:`_Tally`); the workers read their keys
    from a file in ``scratch``.  ``progress("screen", done, total)`` counts the candidate
    works screened, of ``total`` (the candidate works the plan chose)."""
    findings = SpooledFindings(key=finding_order, in_memory=in_memory, folder=folder)
    tally = _Tally()
    flagged = PackedWorks(in_memory=_WORKS_IN_MEMORY, folder=folder)
    done = 0
    answers: Iterable[tuple[int | None, int, list[Finding], dict[str, bytes]]]
    if workers is None:
        answers = ((None, *_screen_batch(_not_a_part(b), job, keys)) for b in batches)
    else:
        keys_at = scratch / "keys.pickle"
        keys_at.write_bytes(pickle.dumps(keys, protocol=pickle.HIGHEST_PROTOCOL))
        answers = workers.pool.imap_unordered(_pool_batch,
                                              workers.tasks(batches, str(keys_at)))
    # the findings are long-lived and hold no cycles (as in screening); past the findings
    # held, finish() reads them all back to merge them
    with collector_paused():
        try:
            for slot, n, found, works in answers:
                if slot is not None:
                    assert workers is not None
                    workers.slots.free(slot)
                findings.extend(found)
                tally.add(found)
                flagged.add_packed(works)
                done += n
                gc.freeze()  # out of the collector's sight: it would scan them on every pass
                if progress is not None:
                    progress("screen", done, total)
        finally:
            if workers is not None:
                workers.slots.stop()  # the feeding thread, if it waits for a slot, ends
        return findings.finish(), flagged.sorted(), tally


class _Misaligned(RuntimeError):
    """The typed reader's rows and the text reader's lines do not pair up (a line one of
    them skips and the other does not): the run is read again from the text alone."""


def _interruptible(con: Any, sql: str, meter: _ReadMeter | None = None,
                   nbytes: int = 0) -> None:
    """``con.execute(sql)`` in a thread of its own, waited for here, so that Ctrl-C stops
    DuckDB at once (``con.interrupt()``) and is raised here as KeyboardInterrupt.  With a
    ``meter``, the statement reads ``nbytes`` of the input, and its progress is reported
    meanwhile (:class:`_ReadMeter`).

    Why: while DuckDB runs a statement in the calling thread, Python's handler of Ctrl-C
    runs only when the statement returns (a typed read of 485 MB of gzip: 27 s after
    Ctrl-C); waiting for another thread's result, this thread is in a lock, which a
    signal interrupts.
    """
    from concurrent.futures import ThreadPoolExecutor

    watch = meter if meter is not None and meter.progress is not None else None
    if watch is not None:
        _ReadMeter.enable(con)
        watch.watch(con, nbytes)
    read = False
    try:
        with ThreadPoolExecutor(max_workers=1) as ex:
            running = ex.submit(con.execute, sql)
            try:
                watch.wait(running) if watch is not None else running.result()
                read = True
            except KeyboardInterrupt:
                con.interrupt()
                with contextlib.suppress(Exception):  # DuckDB's own "interrupted" error
                    running.result()
                raise
    finally:
        if watch is not None:
            watch.finished(con, read=read)
            with contextlib.suppress(Exception):  # never in place of the statement's error
                con.execute("SET enable_progress_bar = false")


class _ReadMeter:
    """How far the read of the input has got, in bytes of its files, for the ``read input``
    progress stage: the files of every finished statement, plus each running statement's
    files times DuckDB's progress of that statement (``query_progress()``, a percentage;
    a gzip file's is of the compressed bytes read, in steps of about a twelfth).

    Why: the read is one or a few statements that run for minutes at scale (a million
    works: about half a minute; ten million: several minutes), during which nothing else
    reports; a bar that stands at "0 works" all that time looks like a hung run.  DuckDB
    measures a statement's progress only on a connection where its progress bar is on
    (:meth:`watch` turns it on without printing, for the statement's own cursor); its
    ``query_progress`` is meant to be asked from another thread while the statement runs.

    Parameters
    ----------
    progress : callable or None
        ``progress("read input", done_bytes, total_bytes)``, from the thread that waits.
    total : int
        The bytes of the files to read.
    """

    def __init__(self, progress: Progress | None, total: int) -> None:
        self.progress = progress
        self.total = total
        self._done = 0
        self._shown = -1
        self._running: dict[Any, int] = {}
        self._lock = threading.Lock()

    @staticmethod
    def enable(cur: Any) -> None:
        """Have DuckDB measure the progress of ``cur``'s statements (printing nothing)."""
        cur.execute("SET enable_progress_bar = true")
        cur.execute("SET enable_progress_bar_print = false")
        cur.execute("SET progress_bar_time = 0")

    def watch(self, cur: Any, nbytes: int) -> None:
        """``cur`` is about to run a statement that reads ``nbytes`` of the input."""
        with self._lock:
            self._running[cur] = nbytes

    def finished(self, cur: Any, *, read: bool = True) -> None:
        """``cur``'s statement has ended: it ``read`` all its files, or it failed (a read
        tried again, as one that ran out of memory on several threads, counts once)."""
        with self._lock:
            nbytes = self._running.pop(cur, 0)
            if read:
                self._done += nbytes

    def report(self) -> None:
        """Tell ``progress`` how far the read has got (never less than it said before)."""
        if self.progress is None:
            return
        with self._lock:
            got = self._done
            running = list(self._running.items())
        for cur, nbytes in running:
            try:
                pct = float(cur.query_progress())
            except Exception:  # the statement ended meanwhile (its cursor closed): 0 here
                pct = -1.0
            if pct > 0:
                got += int(nbytes * min(pct, 100.0) / 100)
        got = min(max(got, self._shown), self.total)
        if got != self._shown:
            self._shown = got
            self.progress("read input", got, self.total)

    def wait(self, running: Any) -> Any:
        """The result of the future ``running``, reporting progress while it runs (a wait
        with a timeout: Ctrl-C is heard here at once, as :func:`_interruptible` says)."""
        from concurrent.futures import TimeoutError as FutureTimeout

        while True:
            try:
                return running.result(timeout=_METER_EVERY)
            except FutureTimeout:
                self.report()


def _file_bytes(path: Path) -> int:
    """The size of the works file at ``path`` (a staged link: of the user's file), 0 if it
    cannot be read (the read says why)."""
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _read_records(con: Any, staging: _Staging, typed: bool,
                  progress: Progress | None = None) -> None:
    """Create ``recs``: JSON Lines by the typed reader, with the rows it cannot vouch for
    read again from their text (or every row from its text when ``typed`` is False), and
    Parquet files by their columns, or from their rows' text (:func:`_read_parquet`).

    Raises
    ------
    _Misaligned
        A row read again from its text is another work than the typed reader's.
    """
    import duckdb

    staging.narrow_parquet(con)
    meter = _ReadMeter(progress, sum(_file_bytes(p) for _, p in
                                     (*staging.jsonl, *staging.parquet)))
    meter.report()  # none read yet, of the input's bytes
    if not staging.jsonl:
        _read_parquet(con, staging, typed, create=True, meter=meter)
        meter.report()
        return
    if not typed:
        _interruptible(con, recs_sql(staging.source(parquet=False)), meter,
                       sum(_file_bytes(p) for _, p in staging.jsonl))
        _read_parquet(con, staging, typed, meter=meter)
        meter.report()
        return
    first, *others = _file_groups(staging.jsonl)
    cursors: list[Any] = []  # to stop the others when one read fails or Ctrl-C comes

    def read(group: list[tuple[int, Path]], insert: bool = True) -> None:
        cur = con.cursor()  # files read at once, one cursor each (a gzip file's
        # text is decompressed on one thread, its records parsed on the others)
        cursors.append(cur)
        done = False
        staged = dict(staging.jsonl)  # a file copied with its large records set aside
        try:
            if progress is not None:
                _ReadMeter.enable(cur)
            meter.watch(cur, sum(_file_bytes(p) for _, p in group))
            cur.execute(recs_typed_sql([(i, str(staged[i])) for i, _ in group],
                                       _FILE_STRIDE, _MAX_LINE, insert=insert))
            done = True
        finally:
            meter.finished(cur, read=done)
            cur.close()

    from concurrent.futures import Future, ThreadPoolExecutor

    def settle(ex: ThreadPoolExecutor, group: list[tuple[int, Path]], running: Future[None],
               insert: bool = True) -> None:
        """Wait for a group's read; where it stops at a record too large for the reader,
        set such records of its files aside and read that group again (the others go on)."""
        while True:
            try:
                meter.wait(running)
                return
            except duckdb.InvalidInputException as exc:
                if not _TOO_LARGE.search(str(exc)) or not _set_aside_in(
                        con, staging, {i for i, _ in group}, exc, progress):
                    raise  # (_read_fitting looks through every file)
            running = ex.submit(read, group, insert)

    with ThreadPoolExecutor(max_workers=max(1, staging.threads)) as ex:
        try:
            # the first file too is read in a thread of the pool: waiting for it here, this
            # thread hears Ctrl-C at once (see _interruptible), and reports the read's
            # progress meanwhile
            settle(ex, first, ex.submit(read, first, False), insert=False)
            for group, running in [(g, ex.submit(read, g)) for g in others]:
                settle(ex, group, running)
        except BaseException:  # no read left running to its end (minutes at scale)
            for cur in cursors:
                with contextlib.suppress(Exception):
                    cur.interrupt()
            raise
    meter.report()
    # where the typed reader read no date: the field absent (a partial record), or null?
    # (It reads them alike.)  In the files whose candidates are read here, answered while
    # they are (_direct_lines): meanwhile read, partial unknown (NULL); in the others, now
    con.execute("CREATE OR REPLACE TABLE undated (rn BIGINT, wid VARCHAR)")
    later = [i for i, _ in staging.jsonl if i not in staging.aside]
    if later:
        con.execute("INSERT INTO undated SELECT rn, wid FROM recs WHERE status = 'date' "
                    f"AND fidx IN ({', '.join(str(int(i)) for i in later)})")
        con.execute("UPDATE recs SET status = 'ok', partial = NULL FROM undated u "
                    "WHERE recs.rn = u.rn")
    if _date_fields(con, [(i, p) for i, p in staging.jsonl if i in staging.aside],
                    staging.dates):
        _apply_dates(con, staging.dates, "recs.status = 'date'")
    _read_again(con, staging)
    _read_parquet(con, staging, typed, meter=meter)
    meter.report()


def _file_groups(files: Sequence[tuple[int, Path]]) -> list[list[tuple[int, Path]]]:
    """JSON Lines files ``(index, path)`` in groups that one statement reads
    (:func:`tracker.engine.plan.recs_typed_sql`): consecutive files up to
    :data:`_GROUP_BYTES` together, a larger file alone.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> files = [(i, d / f"{i}.jsonl") for i in range(3)]
    >>> for (_, p), n in zip(files, (10, 20, _GROUP_BYTES)):
    ...     with p.open("wb") as fh:
    ...         _ = fh.truncate(n)
    >>> [[i for i, _ in g] for g in _file_groups(files)]
    [[0, 1], [2]]
    """
    groups: list[list[tuple[int, Path]]] = []
    size = 0
    for i, p in files:
        n = p.stat().st_size
        if groups and size + n <= _GROUP_BYTES:
            groups[-1].append((i, p))
            size += n
        else:
            groups.append([(i, p)])
            size = n
    return groups


def _read_again(con: Any, staging: _Staging) -> None:
    """Read again from their text the ``recs`` rows the typed reader left in doubt, and
    those without a date read whose partial-record answer is still unknown (``date``).

    Raises
    ------
    _Misaligned
        A row read again from its text is another work than the typed reader's.
    """
    (n,) = con.execute("SELECT count(*) FROM recs WHERE status IN ('doubt', 'date')").fetchone()
    if n:
        # the files that hold such rows, one a query (all in one UNION ALL held every
        # file's reader at once: 500 parts with a broken line each ran out of memory)
        jsonl = {i for i, _ in staging.jsonl}
        files = [int(i) for (i,) in con.execute(
            "SELECT DISTINCT fidx FROM recs WHERE status IN ('doubt', 'date') ORDER BY fidx"
        ).fetchall() if int(i) in jsonl]
        con.execute("CREATE OR REPLACE TABLE texts (rn BIGINT, fidx BIGINT, line VARCHAR, "
                    "partial BOOLEAN, same BOOLEAN)")
        for i in files:
            _texts_of(con, staging, i)
            con.execute("INSERT INTO texts SELECT * FROM texts1")
        (found, other) = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE NOT same) FROM texts").fetchone()
        if found != n or other:
            raise _Misaligned(f"{other} of {n} lines read again hold other works")
        con.execute("UPDATE recs SET status = 'ok', partial = t.partial FROM texts t "
                    "WHERE recs.rn = t.rn AND recs.status = 'date'")
        con.execute(recs_sql("SELECT rn, fidx, line FROM texts WHERE line IS NOT NULL "
                             f"AND strlen(line) <= {_PARSE_ALONE}", table="again"))
        # a large record parsed on its own: sixteen of 9-18 MB in one go took more than
        # DuckDB's 1 GB (ten million generated works); one at a time, 0.2 s each
        for (rn,) in con.execute(f"SELECT rn FROM texts WHERE strlen(line) > {_PARSE_ALONE} "
                                 "ORDER BY rn").fetchall():
            con.execute(recs_sql(f"SELECT rn, fidx, line FROM texts WHERE rn = {int(rn)}",
                                 table="again1"))
            con.execute("INSERT INTO again SELECT * FROM again1")
        (bad,) = con.execute(
            "SELECT count(*) FROM recs r JOIN again a USING (rn) WHERE r.wid <> '' AND "
            "a.wid <> r.wid").fetchone()
        if bad:
            raise _Misaligned(f"{bad} records read again are other works")
        staging.reread += int(n)
        con.execute("DELETE FROM recs WHERE status = 'doubt'")
        con.execute("INSERT INTO recs SELECT * FROM again")


def _texts_of(con: Any, staging: _Staging, i: int) -> None:
    """``texts1``: the lines of the ``i``-th file that ``recs`` holds in doubt or undated
    (:func:`tracker.engine.plan.texts_sql`); where a line is too large for the text reader,
    the file's large records are set aside (:func:`_set_aside_in`) and its lines read
    again, this file's only (they keep their places: the rows read so far stand).

    Raises
    ------
    duckdb.InvalidInputException
        A line still too large once the file's records were set aside.
    """
    import duckdb

    while True:
        try:
            con.execute(texts_sql(staging.source(parquet=False, files={i}), table="texts1"))
            return
        except duckdb.InvalidInputException as exc:
            if not _TOO_LARGE.search(str(exc)) or not _set_aside_in(con, staging, {i}, exc):
                raise


def _settle_undated(con: Any, staging: _Staging) -> int:
    """Apply the partial-record answers :func:`_direct_lines` wrote for the records read
    without a date (``undated``); read those it left from their text (:func:`_read_again`).
    Returns how many works read are partial records, counted again.

    Raises
    ------
    _Misaligned
        An undated record read again from its text is another work than the typed
        reader's.
    """
    if staging.dates.exists():
        _apply_dates(con, staging.dates,
                     "recs.partial IS NULL AND recs.rn IN (SELECT rn FROM undated)")
    con.execute("UPDATE recs SET status = 'date' FROM undated u "
                "WHERE recs.rn = u.rn AND recs.partial IS NULL")
    _read_again(con, staging)
    (n,) = con.execute("SELECT count(*) FROM readw WHERE partial").fetchone()
    return int(n)


def _read_parquet(con: Any, staging: _Staging, typed: bool, *, create: bool = False,
                  meter: _ReadMeter | None = None) -> None:
    """Add the Parquet files' rows to ``recs`` (``create``: create it with the first),
    each file by its columns (:func:`tracker.engine.plan.recs_parquet_sql`) when ``typed``,
    or from its rows' text (:func:`tracker.engine.plan.recs_sql`) when not, when the file
    has a ``results`` column, or when its columns cannot be cast to the plan's types.
    Files of the same columns are read by their columns together (:func:`_file_groups`);
    when a group's cast fails, each of its files is tried alone.  ``meter`` hears how far
    each read has got (:class:`_ReadMeter`)."""
    import duckdb

    def by_columns(i: int) -> bool:
        have = staging.parquet_columns.get(i, set())
        return typed and "results" not in have and staging.parquet_castable.get(i, False)

    # a Parquet row's place is its file's and its row number there (not its place in
    # recs): files of the same columns are read together wherever they are in the input
    alike: dict[tuple[bool, str | None], list[tuple[int, Path]]] = {}
    for i, p in staging.parquet:
        alike.setdefault((by_columns(i), staging.parquet_schema.get(i)), []).append((i, p))

    def add(sql: Callable[..., str], files: Sequence[tuple[int, Path]]) -> None:
        """Read ``sql(table=...)`` into ``recs``: created by the first read, added to after."""
        nonlocal create
        table = "recs" if create else "pq"
        _reading_parquet(con, staging, sql(table=table), meter,
                         sum(_file_bytes(p) for _, p in files))
        create = False
        if table == "pq":
            con.execute("INSERT INTO recs SELECT * FROM pq")

    pending = collections.deque(g for same in alike.values() for g in _file_groups(same))
    while pending:
        group = pending.popleft()
        texts = [] if by_columns(group[0][0]) else list(group)
        if not texts:
            have = staging.parquet_columns.get(group[0][0], set())
            try:
                add(partial(recs_parquet_sql, [(i, str(p)) for i, p in group],
                            _PARQUET_BASE, _FILE_STRIDE, have), group)
            except (duckdb.ConversionException, duckdb.BinderException):
                if len(group) > 1:  # which file's values the cast refuses: each alone
                    pending.extendleft([f] for f in reversed(group))
                    continue
                texts = list(group)  # one file: a value the cast refuses, the text reads it
        for i, p in texts:
            staging.parquet_text += 1
            add(partial(recs_sql, staging.source(narrow=True, files={i})), [(i, p)])


@contextlib.contextmanager
def _threads(con: Any, n: int | None) -> Iterator[None]:
    """DuckDB's threads set to ``n`` for the block (None: left as they are)."""
    if n is None:
        yield
        return
    (was,) = con.execute("SELECT current_setting('threads')").fetchone()
    con.execute(f"SET threads = {int(n)}")
    try:
        yield
    finally:
        con.execute(f"SET threads = {int(was)}")


#: What a thread reading a Parquet file's row group holds, as a multiple of the row
#: group's uncompressed size (of the columns the plan reads): DuckDB reads a nested column
#: such as ``authorships`` whole, whatever field of it a query takes.  A million generated
#: works in row groups of about 123,000 rows (143 MB of those columns uncompressed, at
#: most): two threads ran out of memory at a limit of 1.5 GB and read them at 2 GB, one
#: read them at 1 GB; so about 5 to 7 times, and 6 is taken.
_PARQUET_GROUP_FACTOR = 6
#: The units of DuckDB's ``current_setting('memory_limit')`` (``953.6 MiB`` for 1GB).
_MEMORY_UNITS = {"bytes": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40,
                 "PiB": 2**50}


def _row_group_bytes(con: Any, paths: Sequence[Path], columns: Collection[str]) -> int:
    """The largest row group of the Parquet files ``paths`` (one query of their metadata),
    in bytes uncompressed, counting only the columns named in ``columns`` (and their nested
    fields); 0 when there is no row group or the metadata cannot be read (the read itself
    then says why)."""
    import duckdb

    if not paths:
        return 0
    files = ", ".join(_lit(str(p)) for p in paths)
    names = ", ".join(_lit(c) for c in columns)
    try:
        (n,) = con.execute(
            "SELECT coalesce(max(b), 0) FROM (SELECT sum(total_uncompressed_size) AS b "
            f"FROM parquet_metadata([{files}]) "
            f"WHERE split_part(path_in_schema, ', ', 1) IN ({names}) "
            "GROUP BY file_name, row_group_id)").fetchone()
    except duckdb.Error:
        return 0
    return int(n or 0)


def _memory_limit_bytes(con: Any) -> int | None:
    """DuckDB's memory limit in bytes, read back from the connection (None: not read)."""
    (text,) = con.execute("SELECT current_setting('memory_limit')").fetchone()
    number, _, unit = str(text).partition(" ")
    try:
        return int(float(number) * _MEMORY_UNITS[unit])
    except (ValueError, KeyError):
        return None


def _parquet_threads_fitting(con: Any, group_bytes: int) -> int | None:
    """How many threads can read row groups of ``group_bytes`` within DuckDB's memory
    limit (:data:`_PARQUET_GROUP_FACTOR`), at most the connection's threads and at least
    one; None when it cannot be told (no row group size, or a limit not read)."""
    if group_bytes <= 0:
        return None
    limit = _memory_limit_bytes(con)
    if limit is None:
        return None
    (n,) = con.execute("SELECT current_setting('threads')").fetchone()
    return max(1, min(int(n), limit // (_PARQUET_GROUP_FACTOR * group_bytes)))


def _reading_parquet(con: Any, staging: _Staging, sql: str,
                     meter: _ReadMeter | None = None, nbytes: int = 0) -> None:
    """Run ``sql``, which reads Parquet files, on as many threads as their largest row
    group allows within the memory limit (:func:`_parquet_threads_fitting`); when DuckDB
    still runs out of memory on several threads, run it again on one, and read Parquet on
    one thread for the rest of the run (``staging.parquet_threads``).

    Why: each thread holds the row group it reads, and a row group of nested authorships
    is large (a million synthetic works in row groups of 100,000: two threads needed about
    1.5 GB, one fits in the default 1 GB); DuckDB itself advises fewer threads.  Told from
    the files' metadata, the threads are set before the read: a read on two threads that
    ran out of memory had cost 9.1 s before the read on one (25.3 s; a million works in
    row groups of about 123,000 rows, at 1 GB).
    """
    import duckdb

    if staging.parquet_threads is None:
        staging.parquet_threads = _parquet_threads_fitting(con, staging.parquet_group_bytes)
    try:
        with _threads(con, staging.parquet_threads):
            _interruptible(con, sql, meter, nbytes)
        return
    except duckdb.OutOfMemoryException:
        (n,) = con.execute("SELECT current_setting('threads')").fetchone()
        if int(n) <= 1 or staging.parquet_threads == 1:
            raise
    staging.parquet_threads = 1
    with _threads(con, 1):
        _interruptible(con, sql, meter, nbytes)


def _records(n: int) -> str:
    """``n`` records, in words.

    Examples
    --------
    >>> _records(1), _records(12_345)
    ('1 record', '12,345 records')
    """
    return f"{n:,} record{'' if n == 1 else 's'}"


def _named_files(staging: _Staging, exc: Exception) -> set[int]:
    """The indexes of the staged files a DuckDB error names (it names the file read, and
    quotes the record: only the run's folder counts)."""
    return {int(m) for m in re.findall(
        re.escape(str(staging.folder)) + r"[/\\]f(\d{6})\.", str(exc))}


def _set_aside_in(con: Any, staging: _Staging, ids: set[int], exc: Exception,
                  progress: Progress | None = None) -> bool:
    """Set aside the records too large for the readers in the file among ``ids`` (the
    indexes of a group of files) that the error ``exc`` names, else in every one of them
    (:meth:`_Staging.set_aside`); return whether any was.

    Why by group: a read that stopped at such a record was started again from its first
    file, every file of the input read again (a snapshot's folder of hundreds of parts,
    once for each part that holds one); now only the group that stopped is."""
    named = _named_files(staging, exc) & ids
    found = staging.set_aside(con, named, progress) if named else 0
    if not found:
        found = staging.set_aside(con, ids, progress)
    return found > 0


def _read_fitting(con: Any, staging: _Staging, typed: bool,
                  progress: Progress | None = None) -> None:
    """:func:`_read_records`, which sets aside the records too large for DuckDB's readers
    (:meth:`_Staging.set_aside`) in the files where a read stops at one, and reads those
    files again (:func:`_set_aside_in`, :func:`_texts_of`); where one stops elsewhere, or
    again, the records of the file the error names (of every file when it names none) are
    set aside and everything is read again, until the files read.

    Raises
    ------
    _RecordTooLarge
        A record is still too large once every file was looked through.
    """
    import duckdb

    while True:
        try:
            _read_records(con, staging, typed, progress)
            return
        except duckdb.InvalidInputException as exc:
            if not _TOO_LARGE.search(str(exc)):
                raise
            named = _named_files(staging, exc)
            found = staging.set_aside(con, named, progress) if named else 0
            if not found:  # not the file named, or none named: look through every file
                found = staging.set_aside(con, None, progress)
            if not found:
                raise _RecordTooLarge(
                    f"a record is larger than the DuckDB engine reads ({_MAX_LINE:,} bytes): "
                    f"screen these files with --engine python ({str(exc).splitlines()[0]})"
                ) from exc


def _reason(line: bytes) -> str | None:
    """Why the Python reader skips this line (None: it does not)."""
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        try:
            obj = orjson.loads(line.decode("utf-8", errors="replace"))
        except orjson.JSONDecodeError as exc:
            return f"not valid JSON ({exc.msg})"
    if isinstance(obj, dict) and isinstance(obj.get("results"), list) and "id" not in obj:
        return None
    try:
        parse_work(obj)
    except RecordError as exc:
        return str(exc)
    return None


def _numbered_lines(f: InputFile) -> Iterator[tuple[int, bytes]]:
    """Every line of the JSON Lines file ``f``, blank ones too, with its number counted
    from the top, as the Python reader numbers the records it skips."""
    opener: Callable[..., Any] = gzip.open if f.compression == "gzip" else open
    with _read_errors(f.path), opener(f.path, "rb") as fh:
        yield from enumerate(fh, 1)


def _line_skips(f: InputFile, texts: list[bytes], to_end: bool) -> list[SkippedRecord]:
    """Where the skipped lines ``texts`` (in file order) are in the JSON Lines file ``f``,
    as the Python reader says it: line numbers counted from the top, its reason.  With
    ``to_end`` (the last record is broken), a last line cut off without a newline raises
    :class:`~tracker.sources.files.TruncatedWorksFile`, as the Python reader does."""
    out: list[SkippedRecord] = []
    k = 0
    lineno = 0
    last = b"\n"
    for lineno, raw in _numbered_lines(f):
        last = raw
        if k < len(texts) and raw.rstrip(b"\n").rstrip(b"\r") == texts[k]:
            k += 1
            reason = _reason(raw[:-1] if raw.endswith(b"\n") else raw)  # as split there
            if reason is not None:
                out.append(SkippedRecord(str(f.path), f"line {lineno}", reason))
        elif k >= len(texts) and not to_end:
            break
    why = _reason(last) if to_end and not last.endswith(b"\n") and last.strip() else None
    if why is not None and why.startswith("not valid JSON"):
        raise TruncatedWorksFile(f"{f.path}: line {lineno}, the last, is cut off mid-record: "
                                 "the download looks truncated; download the file again")
    return out


def _skipped(con: Any, staging: _Staging) -> list[dict[str, str]]:
    """Up to :data:`MAX_SKIPPED_LISTED` skipped records, as the Python path lists them.

    Raises
    ------
    tracker.sources.files.TruncatedWorksFile
        A JSON Lines file's last line is cut off mid-record.
    """
    per_file: dict[int, int] = defaultdict(int, staging.staged_skips)
    for fidx, n in con.execute("SELECT fidx, count(*) FROM recs WHERE status <> 'ok' "
                               "GROUP BY fidx").fetchall():
        per_file[int(fidx)] += int(n)
    bad = [i for i in sorted(per_file) if per_file[i]]
    lines = [i for i in bad if staging.files[i].kind == "jsonl"]
    texts: dict[int, list[bytes]] = defaultdict(list)
    ends: set[int] = set()
    if lines:
        listed = ", ".join(str(i) for i in lines)
        con.execute(f"""CREATE OR REPLACE TABLE skip_rn AS
SELECT rn, fidx FROM (SELECT rn, fidx, row_number() OVER (PARTITION BY fidx ORDER BY rn) AS k
                      FROM recs WHERE status <> 'ok' AND fidx IN ({listed}))
WHERE k <= {MAX_SKIPPED_LISTED}""")
        ends = {int(i) for (i,) in con.execute(
            f"SELECT fidx FROM recs WHERE fidx IN ({listed}) GROUP BY fidx "
            "HAVING arg_max(status, rn) = 'json'").fetchall()}
        for i in lines:  # one file a query (see _read_again)
            cur = con.execute("SELECT rn, fidx, line FROM (" + staging.source(
                " WHERE rn IN (SELECT rn FROM skip_rn)", files={i}) + ") ORDER BY rn")
            for _rn, fidx, line in cur.fetchall():
                texts[int(fidx)].append(line.encode("utf-8"))
    out: list[dict[str, str]] = []
    for i in bad:
        f = staging.files[i]
        if f.kind == "parquet":
            rows = con.execute(
                "SELECT rn, status FROM recs WHERE fidx = ? AND status <> 'ok' ORDER BY rn "
                f"LIMIT {MAX_SKIPPED_LISTED}", [i]).fetchall()
            out.extend(SkippedRecord(str(f.path), f"row {rn - _PARQUET_BASE - i * _FILE_STRIDE}",
                                     _REASONS.get(status, status)).to_json()
                       for rn, status in rows)
        elif f.kind == "jsonl":
            out.extend(s.to_json() for s in _line_skips(f, texts[i], i in ends))
        else:
            out.extend(item.to_json() for item in read_works(f.path)
                       if isinstance(item, SkippedRecord))
    return out[:MAX_SKIPPED_LISTED]


def _not_utf8_error(files: Sequence[InputFile]) -> WorksFileError:
    """The error for works files DuckDB refused as not UTF-8, naming the first line that is
    not (found by reading the files again, on this error only).  DuckDB reads UTF-8 only;
    the Python path reads such a line with the bytes replaced (``_loads`` in
    :mod:`tracker.sources.files`), so the message offers it, and the conversion."""
    where = "a works file"
    for f in files:
        if f.kind == "parquet":  # DuckDB's own columns: checked as they were written
            continue
        bad = next((n for n, line in _numbered_lines(f)
                    if not line.isascii() and not _is_utf8(line)), None)
        if bad is not None:
            where = f"{_user_path(f.path)}, line {bad:,}"
            break
    return WorksFileError(
        f"{where}: not UTF-8 text, and the DuckDB engine reads UTF-8 only: screen the files "
        "with --engine python (which reads such bytes as U+FFFD) or convert them to UTF-8 "
        "first")


def _is_utf8(data: bytes) -> bool:
    """Whether ``data`` is UTF-8 text (Python's own decoder: the one the reader uses)."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _reader_error(files: Sequence[InputFile]) -> None:
    """DuckDB could not read the files: raise the Python reader's error for them, which
    names the file and what is wrong with it (cut off, not JSON, unreadable), or, for a
    Parquet file DuckDB cannot open, :func:`_parquet_error`'s."""
    for f in files:
        if f.kind == "parquet":
            _parquet_error(f.path)
        else:
            for _ in read_works(f.path):
                pass


def _parquet_error(path: Path) -> None:
    """Raise :class:`~tracker.sources.files.WorksFileError` naming ``path`` if DuckDB
    cannot open it as Parquet (cut off, not Parquet after all, unreadable)."""
    import duckdb

    con = duckdb.connect(config={"threads": 1})
    try:
        con.execute(f"SELECT count(*) FROM parquet_metadata({_lit(str(path))})").fetchone()
    except duckdb.Error as exc:
        why = str(exc).splitlines()[0]
        if "magic bytes" in why.lower():
            why = "no Parquet footer: the file looks cut off; download it again"
        raise WorksFileError(f"{path}: cannot be read as Parquet ({why})") from None
    finally:
        con.close()


_REASONS = {"json": "not valid JSON", "id": "record has no OpenAlex work id",
            "authorships": "authorships is not a list",
            "authorship": "an authorship is not an object"}

_GAP_KEYS = ("works_without_authorships", "works_without_date", "works_year_only",
             "works_authors_truncated", "works_partial_record",
             "authorships_without_institution", "authorships_without_institution_with_raw",
             "authorships_without_anything")


def screen_files(
    paths: str | Path | Sequence[str | Path],
    *,
    registry: Registry,
    settings: ScreenSettings | None = None,
    name_matcher: object | None = None,
    assessor: Callable[[Finding, Work], Finding] | None = None,
    progress: Progress | None = None,
    command: Sequence[str] = (),
    inputs: Sequence[dict[str, Any]] = (),
    extra_run: dict[str, Any] | None = None,
    memory_limit: str = "1GB",
    threads: int | None = None,
    temp_dir: str | Path | None = None,
    processes: int | None = None,
    findings_in_memory: int = IN_MEMORY,
) -> ScreenResult:
    """Screen works files on DuckDB; the same result as :func:`tracker.screening.screen`.

    Parameters
    ----------
    paths : path, glob or folder, or a sequence of them
        See :func:`tracker.engine.inputs.expand_inputs`: JSON Lines (plain or gzip),
        saved API responses, Parquet, the OpenAlex snapshot's folder layout.
    registry, settings, name_matcher, assessor, progress, command, inputs, extra_run
        As for :func:`tracker.screening.screen`.  Topic filters and subjects are not
        applied by this engine (:class:`EngineSettingError`).
    memory_limit : str, default "1GB"
        DuckDB's limit; past it, DuckDB spills to ``temp_dir``.
    threads : int, optional
        DuckDB threads (default: one per core).
    temp_dir : path, optional
        Where the run's temporary folder goes (default: the system's).
    processes : int, optional
        Processes that parse and screen the works that can hold a tie (default: one per
        core; 1: this process only).  They are forked before DuckDB starts.
    findings_in_memory : int, default 1,000,000 (:data:`tracker.findings.IN_MEMORY`)
        Findings held as objects (about 1.3 kB each); past that they are sorted into runs
        on disk under ``temp_dir`` and read back in order
        (:class:`~tracker.findings.SpooledFindings`), so memory does not grow with them.

    Returns
    -------
    ScreenResult
        Findings, flagged works and a run record with counts of every record read;
        ``run["engine"]`` says ``duckdb``.

    Raises
    ------
    EngineSettingError
        Settings this engine does not apply (topics).
    tracker.engine.inputs.WorksInputError
        An input matches no file or cannot be read.

    Examples
    --------
    >>> import tracker
    >>> reg = tracker.load_registry()
    >>> path = tracker.demo_works_path()
    >>> one = tracker.screen(tracker.read_works(path), registry=reg)
    >>> two = screen_files(path, registry=reg, threads=1)
    >>> [f.row() for f in two.findings] == [f.row() for f in one.findings]
    True
    >>> two.run["counts"]["works_read"], two.run["engine"]
    (71, 'duckdb')
    """
    settings = settings or ScreenSettings()
    if settings.topics:
        raise EngineSettingError("the DuckDB engine does not filter by topic: use the Python "
                                 "engine for --topic")
    files = expand_inputs([paths] if isinstance(paths, str | Path) else paths)
    reg = registry.restricted_to(settings.lists) if settings.lists else registry
    run_args = {"command": command, "inputs": inputs,
                "extra_run": {"engine": "duckdb", **(extra_run or {})}}
    started = datetime.now(UTC).isoformat(timespec="seconds")
    for typed in (True, False):
        with owned_temp_dir("tracker-engine-", temp_dir) as tmp:
            try:
                result = _screen_staged(_Staging(tmp, files), registry, reg, settings,
                                        name_matcher, assessor, progress, run_args,
                                        threads=threads, memory_limit=memory_limit,
                                        processes=processes, typed=typed,
                                        findings_in_memory=findings_in_memory,
                                        temp_dir=temp_dir)
                result.run["started_at"] = started  # the record was made at the end
                return result
            except _Misaligned:
                if not typed:
                    raise EngineError("the DuckDB engine could not pair records with their "
                                      "lines") from None
    raise AssertionError("unreachable")


def _screen_staged(staging: _Staging, registry: Registry, reg: Registry,
                   settings: ScreenSettings, name_matcher: object | None,
                   assessor: Callable[[Finding, Work], Finding] | None,
                   progress: Progress | None, run_args: dict[str, Any], *,
                   threads: int | None, memory_limit: str, processes: int | None,
                   typed: bool, findings_in_memory: int = IN_MEMORY,
                   temp_dir: str | Path | None = None) -> ScreenResult:
    """:func:`screen_files` in its temporary folder; ``typed``: read with DuckDB's typed
    JSON reader (:func:`tracker.engine.plan.recs_typed_sql`)."""
    import duckdb

    staging.stage()
    staging.threads = threads or os.cpu_count() or 1
    job = _Screening(Matcher(reg, name_matcher=name_matcher), settings, assessor)
    workers = _start_pool(job, processes)
    con = _connect(threads, memory_limit, staging.folder)
    try:
        if progress is not None:
            progress("read", 0, None)
        con.execute(macros_sql())
        _read_fitting(con, staging, typed, progress)
        mixed = [int(i) for (i,) in con.execute(
            "SELECT DISTINCT fidx FROM recs WHERE status = 'envelope'").fetchall()]
        if mixed:  # list responses inside a works file: read those files as documents
            staging.stage(documents=mixed)
            _read_fitting(con, staging, typed, progress)
        since = settings.since.isoformat() if settings.since else None
        until = settings.until.isoformat() if settings.until else None
        con.execute("CREATE OR REPLACE TABLE firsts AS SELECT min(rn) AS rn "
                    "FROM recs WHERE status = 'ok' GROUP BY wid")
        con.execute("CREATE OR REPLACE TEMP VIEW readw AS SELECT r.* FROM recs r "
                    "SEMI JOIN firsts f ON r.rn = f.rn "
                    f"WHERE coalesce({window_sql(since, until)}, true)")
        row = con.execute(counts_sql())
        names = [d[0] for d in row.description]
        counts = {k: int(v or 0) for k, v in zip(names, row.fetchone(), strict=True)}
        counts["works_skipped"] += sum(staging.staged_skips.values())
        if progress is not None:
            progress("read", counts["works_read"], counts["works_read"])
        keys = _Keys()
        n_cand = _candidates(con, reg, keys, _names_probe(name_matcher, keys), progress)
        findings, flagged, tally = _screen_candidates(
            _candidate_lines(con, staging, direct=typed,
                             parts=memory_limit if workers is not None else None,
                             part_rows=-(-n_cand // (2 * (workers.n if workers else 1)))),
            job, keys, workers, progress,
            in_memory=findings_in_memory, folder=temp_dir, scratch=staging.folder,
            total=n_cand)
        if not typed:  # no pass here read these gzip files whole: their checksums
            for i, p in staging.jsonl:
                if i not in staging.scanned and p.name.endswith(".gz"):
                    _check_gzip(p)
        if typed and staging.jsonl:  # the partial records among those read undated
            counts["works_partial_record"] = _settle_undated(con, staging)
        # the run record as screen() writes it, then the counts of everything read
        result = screen((), registry=registry, settings=settings,
                        name_matcher=name_matcher, **run_args)
        result.run["engine_reader"] = (
            (f"DuckDB typed JSON reader; {_records(staging.reread)} read again from their "
             "text" if typed else "DuckDB, each record from its text")
            if staging.jsonl else "DuckDB")
        if staging.parquet:
            by_columns = len(staging.parquet) - staging.parquet_text
            result.run["engine_reader"] += (
                f"; Parquet: {by_columns:,} of {len(staging.parquet):,} files read by their "
                "columns, the others from each row's JSON text")
            n_threads = int(con.execute("SELECT current_setting('threads')").fetchone()[0])
            if staging.parquet_threads is not None and staging.parquet_threads < n_threads:
                on = staging.parquet_threads
                result.run["engine_reader"] += (
                    f" (on {'one thread' if on == 1 else f'{on} threads'}: on more, its row "
                    f"groups need more than the memory limit, {memory_limit})")
        if staging.set_aside_records:
            result.run["engine_reader"] += (
                f"; {_records(staging.set_aside_records)} larger than "
                f"{_MAX_LINE // _ASIDE_FRACTION:,} bytes set aside and read from their text")
        skipped = _skipped(con, staging) if counts["works_skipped"] else []
    except RuntimeError as exc:  # DuckDB's answer to Ctrl-C during a query
        if str(exc) == "Query interrupted":
            raise KeyboardInterrupt from exc
        raise
    except duckdb.Error as exc:
        if isinstance(exc, duckdb.InterruptException):
            raise KeyboardInterrupt from exc
        if isinstance(exc, duckdb.InvalidInputException) and _TOO_LARGE.search(str(exc)):
            raise _RecordTooLarge(
                f"a record is larger than the DuckDB engine reads ({_MAX_LINE:,} bytes): "
                f"screen these files with --engine python ({str(exc).splitlines()[0]})"
            ) from exc
        if isinstance(exc, duckdb.OutOfMemoryException):  # not the files: say so at once
            raise EngineMemoryError(
                f"the DuckDB engine ran out of its memory limit ({memory_limit}): give it more "
                f"with --engine-memory ({str(exc).splitlines()[0]})") from exc
        full = _NO_SPACE.search(str(exc))
        if full is not None:  # nor the files: the disk of its working folder
            raise EngineDiskError(
                f"the DuckDB engine ran out of disk space in its working folder in "
                f"{staging.folder.parent} ({full.group(0)}): free "
                f"space there, or point TMPDIR at a folder on a disk with room") from exc
        if _NOT_UTF8.search(str(exc)):  # the input's text: say where, and what to do
            raise _not_utf8_error(staging.files) from None
        _reader_error(staging.files)
        raise EngineError(f"the DuckDB engine failed: {exc}") from exc
    finally:
        con.close()
        if workers is not None:
            workers.close()
    _patch_run(result.run, counts, skipped, tally)
    if progress is not None:
        progress("screen", counts["works_read"], counts["works_read"])
    return ScreenResult(findings=findings, works=flagged, run=result.run,
                        subjects=result.subjects)


@dataclass
class _Tally:
    """The run record's counts of findings (:func:`_patch_run`), kept as the findings come
    in (:meth:`add`).

    Why not counted from the findings at the end: past the findings held in memory, a pass
    reads every finding back from disk (two million generated works, 1,587,180 findings:
    a pass of about 6 s).  It holds each flagged work's ID, as that pass did."""

    n: int = 0
    works: set[str] = field(default_factory=set)
    by_list: Counter[str] = field(default_factory=Counter)
    by_method: Counter[str] = field(default_factory=Counter)

    def add(self, findings: Iterable[Finding]) -> _Tally:
        """Count ``findings`` too; returns this tally."""
        for f in findings:
            self.n += 1
            self.works.add(f.work_id)
            self.by_list[f.list] += 1
            self.by_method[f.match_method] += 1
        return self


def _patch_run(run: dict[str, Any], counts: dict[str, int], skipped: list[dict[str, str]],
               tally: _Tally) -> None:
    """Put the counts of every record read and every finding (``tally``) into the run
    record (written by ``screen`` over no works)."""
    c = run["counts"]
    c["works_flagged"] = len(tally.works)
    c["findings"] = tally.n
    c["findings_by_list"] = dict(sorted(tally.by_list.items()))
    c["findings_by_method"] = dict(sorted(tally.by_method.items()))
    for k in ("works_read", "works_skipped", "works_out_of_window", "works_duplicate",
              "authorships"):
        c[k] = counts[k]
    gaps = run["data_gaps"]
    gaps["records_skipped"] = counts["works_skipped"]
    gaps["skipped"] = skipped
    for k in _GAP_KEYS:
        gaps[k] = counts[k]
