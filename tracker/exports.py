"""Exports case systems take: findings as CSV, JSON Lines, Parquet, JSON and XLSX, the run
record, the folder.

Column order is :data:`tracker.risk.FINDING_COLUMNS` everywhere.  An unknown value is an empty
string, as in the findings themselves (never a guessed date); in XLSX, a blank cell.

Safety
------
- **Formula injection.**  Text from the internet may begin with ``=``, ``+``, ``-``, ``@``, a
  tab or a carriage return, which spreadsheet programs run as a formula.  In CSV such cells
  are prefixed with a single quote (:func:`neutralise`); in XLSX they are stored as text (with
  Excel's quote-prefix style), never as formulas, and keep their exact value.
- **Secrets.**  The run record is scrubbed (:func:`tracker.redaction.clean_run_record`) before
  it is written anywhere.

The JSON export follows the JSON Schema in ``tracker/data/findings.schema.json``.

At scale
--------
findings.jsonl is written row by row from the findings (nothing held but one row),
findings.parquet by DuckDB from findings.jsonl in bounded memory, and in a report folder
findings.csv by DuckDB from findings.parquet (row by row from the findings where DuckDB
cannot); these three always hold every finding.  findings.json holds at most
:data:`JSON_MAX_ROWS` findings (it is one JSON document, read whole by whoever opens it) and
says so; findings.xlsx is not written past :data:`XLSX_MAX_ROWS` findings (Excel's row
limit), and the run record says why (``outputs`` in run.json).
"""

from __future__ import annotations

import csv
import importlib.util
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

import orjson
from xlsxwriter.exceptions import XlsxWriterException

from tracker.findings import collector_paused
from tracker.graph import ScreenResultLike, flagged_network, write_network_files
from tracker.home import owner_ended, owner_record, remove_stale_dirs
from tracker.redaction import clean_run_record
from tracker.report import write_report
from tracker.risk import FINDING_COLUMNS, Finding
from tracker.workbook import FORMULA_START, jsonl_rows, write_workbook

__all__ = [
    "FINDINGS_SCHEMA_VERSION",
    "FOLDER_FILES",
    "FORMATS",
    "JSON_MAX_ROWS",
    "XLSX_MAX_ROWS",
    "check_formats",
    "findings_schema",
    "left_out",
    "neutralise",
    "outputs_plan",
    "parquet_available",
    "remove_stale_writing_folders",
    "write_csv",
    "write_findings_csv",
    "write_findings_csv_from_parquet",
    "write_findings_jsonl",
    "write_findings_parquet",
    "write_json",
    "write_report_folder",
    "write_run",
    "write_xlsx",
]

FINDINGS_SCHEMA_VERSION = "1.2"

#: findings.json in a report folder holds at most this many findings (the first ones, in the
#: order of findings.csv); findings.csv, findings.jsonl and findings.parquet hold them all.
JSON_MAX_ROWS = 100_000
#: Data rows on one Excel sheet: 1,048,576 rows less the header.  A report folder with more
#: findings has no findings.xlsx (run.json's ``outputs`` says so).
XLSX_MAX_ROWS = 1_048_575



# --------------------------------------------------------------------------- safety


def neutralise(cell: Any) -> Any:
    """Defuse a spreadsheet formula: text starting ``=``, ``+``, ``-``, ``@``, tab or CR gets a
    leading single quote.  Anything else is returned unchanged.

    Examples
    --------
    >>> neutralise("=HYPERLINK(\\"http://x\\")")
    '\\'=HYPERLINK("http://x")'
    >>> neutralise("-1"), neutralise("@SUM(A1)"), neutralise("\\tx")
    ("'-1", "'@SUM(A1)", "'\\tx")
    >>> neutralise("Beihang University"), neutralise(0.5), neutralise(True)
    ('Beihang University', 0.5, True)
    """
    if isinstance(cell, str) and cell.startswith(FORMULA_START):
        return "'" + cell
    return cell


def _values(f: Finding) -> tuple[Any, ...]:
    """The finding's cells in column order (an object other than a Finding: its ``row()``,
    a missing column empty)."""
    if type(f) is Finding:
        return f.values()
    r = f.row()
    return tuple(r.get(c, "") for c in FINDING_COLUMNS)


def _row(f: Finding) -> dict[str, Any]:
    return dict(zip(FINDING_COLUMNS, _values(f), strict=True))


def _csv_cells(values: tuple[Any, ...]) -> list[Any]:
    """findings.csv's cells: booleans as ``true``/``false``, formulas neutralised."""
    return [("true" if v else "false") if isinstance(v, bool) else neutralise(v)
            for v in values]


#: A cell beginning like a formula, in a row's cells joined after ``\x1f`` each.
_FORMULA_CELL = re.compile("\x1f[" + re.escape("".join(FORMULA_START)) + "]")
#: The columns of a :class:`Finding` that hold a bool (the others: text, a float score).
_BOOL_COLUMNS = tuple(i for i, c in enumerate(FINDING_COLUMNS)
                      if Finding.__dataclass_fields__[c].type == "bool")


def _finding_csv_cells(values: tuple[Any, ...]) -> list[Any]:
    """:func:`_csv_cells` of a :class:`Finding`'s values: one regex over the row's text finds
    whether any cell needs :func:`neutralise` (rarely); otherwise only the bools change
    (findings.csv of a million-work run: per-cell checks were a third of its time)."""
    if _FORMULA_CELL.search("\x1f" + "\x1f".join(map(str, values))):
        return _csv_cells(values)
    row = list(values)
    for i in _BOOL_COLUMNS:
        row[i] = "true" if row[i] else "false"
    return row


def _rows(findings: Iterable[Finding]) -> Iterator[dict[str, Any]]:
    return (_row(f) for f in findings)


# --------------------------------------------------------------------------- writers


def write_csv(findings: Iterable[Finding], path: str | Path) -> Path:
    """Write findings.csv: UTF-8, header = :data:`~tracker.risk.FINDING_COLUMNS`, formulas
    neutralised, booleans as ``true``/``false``.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     text = write_csv([], Path(d) / "f.csv").read_text("utf-8")
    >>> text.splitlines()[0].split(",")[:3]
    ['finding_id', 'work_id', 'doi']
    """
    write_findings_csv(findings, path)
    return Path(path)


def write_findings_csv(findings: Iterable[Finding], path: str | Path) -> int:
    """Write findings.csv row by row (as :func:`write_csv`: one row held at a time); returns
    how many rows."""
    n = 0
    with Path(path).open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(FINDING_COLUMNS)
        for f in findings:
            w.writerow(_finding_csv_cells(f.values()) if type(f) is Finding
                       else _csv_cells(_values(f)))
            n += 1
    return n


def write_findings_jsonl(findings: Iterable[Finding], path: str | Path) -> int:
    """Write findings.jsonl: one JSON object per finding, the keys of findings.csv in order,
    exact values (as findings.json: no formula neutralising); row by row.  Returns how many.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     write_findings_jsonl([], Path(d) / "f.jsonl")
    0
    """
    n = 0
    dumps, cols = orjson.dumps, FINDING_COLUMNS
    with Path(path).open("wb") as fh:
        for f in findings:
            fh.write(dumps(dict(zip(cols, _values(f), strict=True)), default=str))
            fh.write(b"\n")
            n += 1
    return n


#: Parquet column types other than text.
_PARQUET_TYPES = {"match_score": "DOUBLE", "is_designation": "BOOLEAN"}


def parquet_available() -> bool:
    """True when findings.parquet can be written here (it needs the duckdb package)."""
    return importlib.util.find_spec("duckdb") is not None


def write_findings_parquet(jsonl: str | Path, path: str | Path, *,
                           memory_limit: str = "1GB",
                           on_connect: Callable[[Any], None] | None = None) -> Path:
    """Write findings.parquet (zstd) from a :func:`write_findings_jsonl` file: the columns
    of findings.csv in order, ``match_score`` a double and ``is_designation`` a boolean,
    the rest text.  DuckDB streams the file in bounded memory (``memory_limit``).

    ``on_connect`` is given DuckDB's connection before the copy starts (another thread
    may then stop it: ``interrupt()``).

    Raises
    ------
    ImportError
        The duckdb package is not installed (:func:`parquet_available`).
    """
    cols = ", ".join(f"'{c}': '{_PARQUET_TYPES.get(c, 'VARCHAR')}'" for c in FINDING_COLUMNS)
    _duckdb_copy(f"SELECT * FROM read_json({_sql_text(jsonl)}, format='newline_delimited', "
                 f"columns={{{cols}}}, maximum_object_size=16777216)", path,
                 "FORMAT parquet, COMPRESSION zstd", memory_limit, on_connect)
    return Path(path)


def _sql_text(value: str | Path) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _duckdb_copy(query: str, path: str | Path, options: str, memory_limit: str,
                 on_connect: Callable[[Any], None] | None = None) -> int:
    """``COPY (query) TO path (options)`` by DuckDB in one thread (rows in order, memory
    bounded by ``memory_limit``); returns how many rows.  ``on_connect`` is given the
    connection before the copy and None before it is closed.

    Raises
    ------
    KeyboardInterrupt
        Ctrl-C came while the copy ran in the main thread (DuckDB stops the query and
        raises ``RuntimeError("Query interrupted")``, which would read as a failure).
    """
    import duckdb

    con = duckdb.connect(config={"memory_limit": memory_limit, "threads": 1})
    try:
        if on_connect is not None:
            on_connect(con)
        row = con.execute(f"COPY ({query}) TO {_sql_text(path)} ({options})").fetchone()
    except RuntimeError as exc:
        if str(exc) == "Query interrupted":
            raise KeyboardInterrupt from exc
        raise
    finally:
        if on_connect is not None:
            on_connect(None)
        con.close()
    return int(row[0]) if row else 0


def _csv_select() -> str:
    """The columns of findings.csv as :func:`write_findings_csv` writes them, in SQL over
    findings.parquet: a text cell beginning like a formula gets a leading quote
    (:func:`neutralise`), an empty one is written empty (NULL), booleans are ``true`` /
    ``false`` and the score a double as DuckDB writes it (as Python's ``repr``)."""
    starts = [f"chr({ord(c)})" if not c.isprintable() else "'" + c.replace("'", "''") + "'"
              for c in FORMULA_START]
    cells = []
    for c in FINDING_COLUMNS:
        q = '"' + c + '"'
        if c in _PARQUET_TYPES:
            cells.append(q)
            continue
        test = " OR ".join(f"starts_with({q}, {s})" for s in starts)
        cells.append(f"CASE WHEN {test} THEN chr(39) || {q} ELSE nullif({q}, '') END AS {q}")
    return ", ".join(cells)


def write_findings_csv_from_parquet(parquet: str | Path, path: str | Path, *,
                                    memory_limit: str = "1GB",
                                    on_connect: Callable[[Any], None] | None = None) -> int:
    """Write findings.csv from a :func:`write_findings_parquet` file, by DuckDB: the same
    cells as :func:`write_findings_csv` writes from the findings (read back by
    :mod:`csv`, row for row; DuckDB quotes a few more cells, such as text holding ``#``,
    which a CSV reader reads alike), CRLF line ends.  Returns how many rows.

    Why: Python's csv module wrote about 65 MB a second here (a million-work run's
    1.37 GB took 21 s); DuckDB writes the same file from the Parquet file several times
    faster, in one thread, in the order of the rows.

    Raises
    ------
    ImportError
        The duckdb package is not installed (:func:`parquet_available`).
    duckdb.Error
        DuckDB could not write it (the caller writes it from the findings instead).
    """
    return _duckdb_copy(f"SELECT {_csv_select()} FROM read_parquet({_sql_text(parquet)})",
                        path, r"FORMAT csv, HEADER, NEW_LINE '\r\n'", memory_limit,
                        on_connect)


def _write_folder_csv(findings: Iterable[Finding], parquet: Path | None, path: Path,
                      on_connect: Callable[[Any], None] | None = None,
                      stopped: Callable[[], bool] | None = None) -> None:
    """findings.csv of a report folder: from findings.parquet by DuckDB where it was
    written (:func:`write_findings_csv_from_parquet`), else, or if DuckDB fails, row by row
    from the findings (:func:`write_findings_csv`); not when DuckDB failed because the
    run is being stopped (``stopped()`` true): that error is raised."""
    if parquet is not None:
        import duckdb

        try:
            write_findings_csv_from_parquet(parquet, path, on_connect=on_connect)
            return
        except duckdb.Error:
            path.unlink(missing_ok=True)
            if stopped is not None and stopped():
                raise
    write_findings_csv(findings, path)


class _TablesStopped(Exception):
    """The run is being stopped: ``_Tables`` starts no further copy."""


class _Tables:
    """findings.parquet (from findings.jsonl) and findings.csv (from findings.parquet;
    either may be None, not to be written), written by DuckDB in a thread of this process
    while it builds the network and the report (``background``), or at once.

    Why a thread: DuckDB lets go of the interpreter while it copies, so the two copies
    (9 s for 788,020 findings, on one core) overlap the report's Python work rather than
    adding to it (without a workbook, a million works' report folder took 23.0–25.3 s in
    three runs, against 31.3–39.4 s).  Not while a second process writes the workbook:
    that process and this one already fill the two cores of the machine measured, and
    the copies in a thread then slowed the workbook's process (42.2 and 44.7 s against
    38.7 and 42.3).

    :meth:`wait` returns when both files are complete, or raises what the thread raised;
    :meth:`stop` interrupts DuckDB and waits (a run stopped part-way leaves
    no writer behind in the folder being removed).
    """

    def __init__(self, findings: Iterable[Finding], jsonl: Path, parquet: Path | None,
                 csv_path: Path | None, *, background: bool = True) -> None:
        self._args = (findings, jsonl, parquet, csv_path)
        self._con: Any = None
        self._stopping = False
        self._lock = threading.Lock()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="tracker-findings-tables",
                                        daemon=True)
        if background:
            self._thread.start()
            return
        self._run()  # here and now
        if self._error is not None:
            raise self._error

    def _connected(self, con: Any) -> None:
        """DuckDB's connection while a copy runs, None once it has ended."""
        with self._lock:
            if self._stopping and con is not None:  # stopped before this copy began
                raise _TablesStopped
            self._con = con

    def _run(self) -> None:
        findings, jsonl, parquet, csv_path = self._args
        if threading.current_thread() is self._thread:
            _lower_priority()
        try:
            if parquet is not None:
                write_findings_parquet(jsonl, parquet, on_connect=self._connected)
            if csv_path is not None:
                _write_folder_csv(findings, parquet, csv_path, on_connect=self._connected,
                                  stopped=lambda: self._stopping)
        except BaseException as exc:  # raised again in the caller's thread by wait()
            self._error = exc

    def wait(self) -> None:
        """Wait for both files; raise what writing them raised."""
        if self._thread.is_alive():
            self._thread.join()
        if self._error is not None:
            raise self._error

    def stop(self) -> None:
        """Interrupt DuckDB's copy, if one is running, and wait for the thread."""
        with self._lock:
            self._stopping = True
            if self._con is not None:
                self._con.interrupt()
        if self._thread.is_alive():
            self._thread.join()


def findings_schema() -> dict[str, Any]:
    """The JSON Schema of findings.json (``tracker/data/findings.schema.json``)."""
    text = resources.files("tracker").joinpath("data/findings.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def write_json(findings: Iterable[Finding], run: Mapping[str, Any] | None,
               path: str | Path, *, max_rows: int | None = None) -> Path:
    """Write findings.json: ``{"schema", "schema_version", "columns", "run", "findings":
    [...], "findings_total", "complete"}``, row by row.

    The layout is the JSON Schema in ``tracker/data/findings.schema.json``; each finding has
    the :data:`~tracker.risk.FINDING_COLUMNS` keys in order; the run record is scrubbed of
    secrets.  Values are exact (no formula neutralising: JSON is data, not a spreadsheet).
    With ``max_rows``, only the first ``max_rows`` findings are written: ``complete`` is
    then false, ``findings_total`` counts them all and ``left_out`` says where they are.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     doc = json.loads(write_json([], {"tool": "tracker"}, Path(d) / "f.json").read_text())
    >>> doc["schema"], doc["findings"], doc["complete"]
    ('tracker-findings', [], True)
    """
    path = Path(path)
    head = {
        "schema": "tracker-findings",
        "schema_version": FINDINGS_SCHEMA_VERSION,
        "columns": list(FINDING_COLUMNS),
        "run": clean_run_record(run),
    }
    opt = orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS
    text = orjson.dumps(head, default=str, option=opt)
    written = total = 0
    rows: Iterable[Finding] = findings
    if isinstance(findings, Sequence) and max_rows is not None:
        total = len(findings)  # a sequence says how many: only the rows written are read
        rows = itertools.islice(findings, max_rows)
    counting = rows is findings
    with path.open("wb") as fh:
        fh.write(text[:-2] + b',\n  "findings": [')  # the head without its closing "\n}"
        for r in _rows(rows):
            total += counting
            if max_rows is not None and written >= max_rows:
                continue
            # (orjson: about ten times faster than json.dumps(indent=...) at this size)
            row = orjson.dumps(r, default=str, option=opt).replace(b"\n", b"\n    ")
            fh.write((b"\n    " if written == 0 else b",\n    ") + row)
            written += 1
        tail: dict[str, Any] = {"findings_total": total, "complete": written == total}
        if written < total:
            tail["left_out"] = (f"only the first {written:,} of {total:,} findings are in "
                                f"this file; findings.csv, findings.jsonl and "
                                f"findings.parquet hold every finding")
        fh.write((b"\n  ]," if written else b"],") + orjson.dumps(tail, option=opt)[1:] + b"\n")
    return path


def write_run(run: Mapping[str, Any] | None, path: str | Path) -> Path:
    """Write run.json, the run record scrubbed of secrets."""
    path = Path(path)
    path.write_text(json.dumps(clean_run_record(run), ensure_ascii=False, indent=2, default=str)
                    + "\n", encoding="utf-8")
    return path


def write_xlsx(findings: Iterable[Finding], run: Mapping[str, Any] | None,
               path: str | Path) -> Path:
    """Write findings.xlsx: sheet ``findings`` (typed columns, frozen header, autofilter) and
    sheet ``run`` (the run record flattened to ``key``/``value`` rows, secrets scrubbed).

    Full dates are Excel dates; a date known only by its year stays the text ``"2019"``
    (never a guessed 1 January); ``match_score`` is a number and ``is_designation`` a boolean.
    Text that looks like a formula is stored as text.

    Examples
    --------
    >>> import tempfile
    >>> from openpyxl import load_workbook
    >>> with tempfile.TemporaryDirectory() as d:
    ...     wb = load_workbook(write_xlsx([], {"counts": {"findings": 0}}, Path(d) / "f.xlsx"))
    >>> wb.sheetnames, wb["run"]["A2"].value, wb["run"]["B2"].value
    (['findings', 'run'], 'counts.findings', 0)
    """
    return write_workbook(_rows(findings), FINDING_COLUMNS, clean_run_record(run), path)


#: From this many findings on, findings.xlsx is written by a second process while this one
#: writes the other files (the workbook is written in Python: about 40 µs a row).
PARALLEL_XLSX_ROWS = 5_000


class _Xlsx(NamedTuple):
    """The second process writing findings.xlsx (:func:`_start_xlsx`)."""

    proc: subprocess.Popen[bytes]
    payload: Path  # what to write, removed by the process as it starts
    run_file: Path  # the run record, once given (:func:`_give_run`)


#: How much lower (Unix nice) the helpers writing findings.parquet, findings.csv and
#: findings.xlsx run than the thread that records the run in the case file (see
#: :func:`_lower_priority`).
HELPER_NICENESS = 10


def _lower_priority() -> None:
    """Lower the calling thread's priority by :data:`HELPER_NICENESS` (on Linux, where a
    thread has its own; nothing elsewhere or where the system refuses).

    Why: the finding files are written beside the case file (:func:`write_report_folder`,
    ``meanwhile``), and on two cores three threads then share them: this thread, the
    workbook's process and the run's main thread writing the case file, which the rest of
    the report waits for.  A million generated works: the helpers were done about 28 s
    before the case file, which had had 84–85 % of a core meanwhile; at a lower priority,
    they run on the time it leaves, and it had 95–96 % (the report folder 54.0 and 62.4 s
    before, 49.9 and 53.3 s after, run alternately).  With cores to spare, nothing changes.
    """
    try:
        if sys.platform.startswith("linux"):  # a thread's own priority, by its ID
            tid = threading.get_native_id()
            now = os.getpriority(os.PRIO_PROCESS, tid)
            os.setpriority(os.PRIO_PROCESS, tid, min(19, now + HELPER_NICENESS))
    except OSError:
        pass


def _start_xlsx(jsonl: Path, n: int, path: Path) -> _Xlsx | None:
    """Start writing findings.xlsx in a second Python process, from the ``n`` rows of
    findings.jsonl (``jsonl``), read as this process writes them
    (:func:`tracker.workbook.following_rows`); None when that does not pay (few rows, one
    core) or cannot be done here.  Its run sheet waits for the run record
    (:func:`_give_run`).

    A fresh interpreter (``python -c``) rather than :mod:`multiprocessing`: ``spawn`` would
    re-run an analyst's unguarded script, and ``fork`` is unsafe under a progress thread or a
    notebook kernel.  The run record (already free of secrets) goes through a private
    temporary file; the process reads the rows one at a time.
    """
    if n < PARALLEL_XLSX_ROWS or (os.cpu_count() or 1) < 2 or not sys.executable:
        return None
    fd, name = tempfile.mkstemp(prefix="tracker-xlsx-", suffix=".json")  # mode 0600
    payload = Path(name)
    run_file = payload.with_name(payload.stem + "-run.json")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(orjson.dumps({"jsonl": str(jsonl), "rows": n, "columns": FINDING_COLUMNS,
                                   "run_file": str(run_file), "path": str(path)}))
        package_root = str(Path(__file__).resolve().parents[1])
        # tracker.workbook imports only xlsxwriter and orjson: this process starts in 0.1 s.
        # Its cyclic garbage collector is off: the passes over the rows free nothing
        # (47,627 findings written by xlsxwriter: 8.9 s → 7.9 s), and the process then ends.
        # Its priority is lowered (one thread: the whole process): _lower_priority says why.
        code = ("import gc, os, sys\n"
                "gc.disable()\n"
                f"if hasattr(os, 'nice'): os.nice({HELPER_NICENESS})\n"
                f"sys.path.insert(0, {package_root!r})\n"
                "from tracker.workbook import _worker\n"
                f"_worker({name!r})\n")
        proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except (OSError, TypeError, ValueError):
        payload.unlink(missing_ok=True)
        return None
    return _Xlsx(proc, payload, run_file)


def _give_run(started: _Xlsx | None, run: Mapping[str, Any]) -> None:
    """Give the second process the run record for the workbook's run sheet: written to a
    private file beside its payload, then renamed into place (it reads it whole or not at
    all).  Where that fails, the process is stopped and the workbook written here
    (:func:`_finish_xlsx`)."""
    if started is None:
        return
    part = started.run_file.with_suffix(".part")
    try:
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(orjson.dumps(run, default=str, option=orjson.OPT_NON_STR_KEYS))
        os.replace(part, started.run_file)
    except (OSError, TypeError, ValueError):
        part.unlink(missing_ok=True)
        started.proc.kill()


def _finish_xlsx(started: _Xlsx | None, jsonl: Path, run: Mapping[str, Any],
                 path: Path) -> Path:
    """Wait for the second process; if it failed (killed, out of memory, no tracker there),
    write the workbook here, so a finished report folder always holds it."""
    if started is not None:
        try:
            code = started.proc.wait()
        finally:
            started.payload.unlink(missing_ok=True)
            started.run_file.unlink(missing_ok=True)
        if code == 0 and path.is_file():
            return path
    return write_workbook(jsonl_rows(jsonl), FINDING_COLUMNS, run, path)


def _abandon_xlsx(started: _Xlsx | None) -> None:
    """Stop the second process and remove its files: the report folder failed."""
    if started is None:
        return
    try:
        started.proc.kill()
        started.proc.wait()
    finally:
        started.payload.unlink(missing_ok=True)
        started.run_file.unlink(missing_ok=True)


#: The hidden folder a report folder is written into before its files move into place.
WRITING_PREFIX = ".tracker-writing-"
#: Inside it: which process writes there (pid, host, start time), to tell a stale one.
WRITING_OWNER = ".owner.json"
#: A writing folder older than this is stale whoever made it (no write takes a day).
STALE_WRITING_SECONDS = 24 * 3600
#: One without an owner file (made by an older tracker) is stale after an hour.
STALE_UNOWNED_SECONDS = 3600


def _is_stale_writing_folder(path: Path, now: float) -> bool:
    """True for a writing folder of ours that no running process will finish."""
    if not path.name.startswith(WRITING_PREFIX) or path.is_symlink() or not path.is_dir():
        return False
    entries = list(path.iterdir())
    if any(e.is_symlink() or not e.is_file() for e in entries):
        return False  # we only ever write plain files there: not ours
    age = now - path.stat().st_mtime
    try:
        owner = json.loads((path / WRITING_OWNER).read_text("utf-8"))
    except (OSError, ValueError):
        return age > STALE_UNOWNED_SECONDS
    if age > STALE_WRITING_SECONDS:
        return True
    return owner_ended(owner)  # another machine's (a shared folder): only its age tells


def remove_stale_writing_folders(out_dir: str | Path) -> list[Path]:
    """Remove the hidden writing folders a killed run left in ``out_dir``.

    Only tracker's own (named ``.tracker-writing-*``, holding plain files only) and only
    stale ones: the process that made it has ended (same machine), or it is older than
    :data:`STALE_WRITING_SECONDS` (:data:`STALE_UNOWNED_SECONDS` for one made by an older
    tracker without an owner file).  A folder another running write is using is left alone.

    Returns
    -------
    list of Path
        The folders removed.

    Examples
    --------
    >>> import socket, tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> left = d / ".tracker-writing-abc"; left.mkdir()
    >>> _ = (left / WRITING_OWNER).write_text('{"pid": 999999999, "host": "%s"}'
    ...                                       % socket.gethostname())
    >>> [p.name for p in remove_stale_writing_folders(d)], left.exists()
    (['.tracker-writing-abc'], False)
    """
    now = time.time()
    return remove_stale_dirs(Path(out_dir), WRITING_PREFIX,
                             lambda p: _is_stale_writing_folder(p, now))


#: The files of a report folder, in the order :func:`write_report_folder` returns them.
FOLDER_FILES = ("findings.csv", "findings.jsonl", "findings.parquet", "findings.json",
                "findings.xlsx", "run.json", "report.html", "network.graphml", "network.gexf")
#: The files that always hold every finding (findings.parquet where DuckDB is installed).
COMPLETE_FILES = ("findings.csv", "findings.jsonl", "findings.parquet")
#: The finding files a report folder can hold, by the name a user asks for them with
#: (``tracker screen --formats``); report.html and run.json are always written.
FORMATS: dict[str, tuple[str, ...]] = {
    "csv": ("findings.csv",), "xlsx": ("findings.xlsx",), "parquet": ("findings.parquet",),
    "jsonl": ("findings.jsonl",), "json": ("findings.json",),
    "network": ("network.graphml", "network.gexf"),
}


def check_formats(formats: Iterable[str] | None) -> tuple[str, ...] | None:
    """The formats asked for, checked, in :data:`FORMATS` order (None: every one; ``none``
    alone: no finding file).

    Raises
    ------
    ValueError
        A name that is not one of :data:`FORMATS`, ``none`` with others, or names given
        that are all blank (``--formats ""``: not read as ``none``).

    Examples
    --------
    >>> check_formats(["XLSX", " csv "])
    ('csv', 'xlsx')
    >>> check_formats(None) is None, check_formats(["none"])
    (True, ())
    >>> check_formats(["pdf"])
    Traceback (most recent call last):
    ...
    ValueError: unknown format 'pdf'; known: csv, xlsx, parquet, jsonl, json, network
    """
    if formats is None:
        return None
    names = list(formats)
    asked = {f.strip().lower() for f in names if f.strip()}
    if names and not asked:
        raise ValueError(f"name the finding files to write ({', '.join(FORMATS)}), or none")
    if "none" in asked:
        if len(asked) > 1:
            raise ValueError("none cannot go with other formats")
        return ()
    for f in sorted(asked):
        if f not in FORMATS:
            raise ValueError(f"unknown format {f!r}; known: {', '.join(FORMATS)}")
    return tuple(f for f in FORMATS if f in asked)


def _holders(names: Sequence[str]) -> str:
    """Where every finding is, for a reason in ``outputs.left_out``."""
    if names:
        return f"{', '.join(names)} hold{'s' if len(names) == 1 else ''} every finding"
    return ("no file of this folder holds every finding (the formats csv, jsonl and "
            "parquet do)")


def outputs_plan(n: int, *, parquet: bool = True,
                 json_max_rows: int | None = None,
                 formats: Iterable[str] | None = None) -> dict[str, Any]:
    """The ``outputs`` record of a report folder of ``n`` findings: each file to be written
    (``findings`` it holds, ``complete``) and what is left out, with the reason; with
    ``formats`` (:data:`FORMATS` names; None: every one), the formats asked for
    (``formats``) and only their files, report.html and run.json.

    Examples
    --------
    >>> plan = outputs_plan(2_000_000)
    >>> plan["files"]["findings.csv"]
    {'findings': 2000000, 'complete': True}
    >>> [(x["file"], x["findings_left_out"]) for x in plan["left_out"]]
    [('findings.json', 1900000), ('findings.xlsx', 2000000)]
    >>> outputs_plan(10, parquet=False)["left_out"][0]["file"]
    'findings.parquet'
    >>> plan = outputs_plan(2_000_000, formats=["xlsx"])
    >>> list(plan["files"]), plan["formats"]
    (['run.json', 'report.html'], ['xlsx'])
    >>> plan["left_out"][0]["reason"]  # doctest: +ELLIPSIS
    'not written: 2,000,000 findings are more than ...; no file of this folder holds ...'
    """
    chosen = check_formats(formats)
    asked = {name for f in (FORMATS if chosen is None else chosen) for name in FORMATS[f]}
    full = [f for f in COMPLETE_FILES if f in asked and (parquet or f != "findings.parquet")]
    if json_max_rows is None:
        json_max_rows = JSON_MAX_ROWS
    files: dict[str, Any] = {f: {"findings": n, "complete": True} for f in full}
    left: list[dict[str, Any]] = []
    xlsx_whole = "findings.xlsx" in asked and n <= XLSX_MAX_ROWS
    holders = full + ["findings.xlsx"] * xlsx_whole
    if not parquet and "findings.parquet" in asked:
        left.append({"file": "findings.parquet", "findings_left_out": n, "reason":
                     f"not written: findings.parquet needs the duckdb package "
                     f"(pip install duckdb); {_holders(holders)}"})
    if "findings.json" in asked:
        held = min(n, json_max_rows)
        files["findings.json"] = {"findings": held, "complete": held == n}
        if held < n:
            left.append({"file": "findings.json", "findings_left_out": n - held, "reason":
                         f"findings.json holds the first {held:,} findings (one JSON "
                         f"document is read whole); " + (
                             f"{', '.join(holders)} hold{'s' * (len(holders) == 1)} all "
                             f"{n:,}" if holders
                             else _holders(holders))})
    if "findings.xlsx" in asked and not xlsx_whole:
        left.append({"file": "findings.xlsx", "findings_left_out": n, "reason":
                     f"not written: {n:,} findings are more than an Excel sheet holds "
                     f"({XLSX_MAX_ROWS:,} rows below the header); {_holders(full)}"})
    elif xlsx_whole:
        files["findings.xlsx"] = {"findings": n, "complete": True}
    files["run.json"] = {}
    files["report.html"] = {"note": (
        "summary counts over every finding; the findings table, the flagged network and "
        "the timeline are capped, and the page says what it leaves out")}
    if "network.graphml" in asked:
        files["network.graphml"], files["network.gexf"] = {}, {}
    plan: dict[str, Any] = {"findings": n, "files": files, "left_out": left}
    if chosen is not None:
        plan["formats"] = list(chosen)
    return plan


def left_out(paths: Mapping[str, Path]) -> list[str]:
    """What a report folder (as :func:`write_report_folder` returned it) left out, one line
    per file, from its run.json (``outputs.left_out``)."""
    run_json = paths.get("run.json")
    if run_json is None:
        return []
    try:
        doc = json.loads(Path(run_json).read_text("utf-8"))
    except (OSError, ValueError):
        return []
    return [f"{x.get('file')}: {x.get('reason')}"
            for x in (doc.get("outputs") or {}).get("left_out") or []]


@collector_paused()
def write_report_folder(result: ScreenResultLike, out_dir: str | Path, *,
                        max_nodes: int = 5000,
                        json_max_rows: int | None = None,
                        progress: Callable[[str, int, int | None], None] | None = None,
                        meanwhile: Callable[[], None] | None = None,
                        formats: Iterable[str] | None = None
                        ) -> dict[str, Path]:
    """Write everything a case file needs into ``out_dir``.

    Files (:data:`FOLDER_FILES`): findings.csv, findings.jsonl and findings.parquet (every
    finding; Parquet needs DuckDB), findings.json (the first ``json_max_rows`` findings,
    by default :data:`JSON_MAX_ROWS`),
    findings.xlsx (not written past :data:`XLSX_MAX_ROWS` findings, Excel's row limit),
    run.json, report.html, network.graphml, network.gexf (the flagged network, pruned at
    ``max_nodes`` as :func:`tracker.graph.flagged_network` states).  run.json's ``outputs``
    names each file written, how many findings it holds and its size, and each file or part
    left out with the reason (:func:`outputs_plan`; :func:`left_out` reads it back).
    ``formats`` (names of :data:`FORMATS`; None: every one) writes only those finding
    files besides report.html and run.json: a screen of millions of works need not write
    the same findings five times (a million generated works: findings.jsonl 1.85 GB,
    findings.csv 1.37 GB, findings.xlsx 240 MB, findings.json 254 MB, findings.parquet
    23 MB).

    The finding files are written row by row: findings.jsonl first, then findings.parquet
    from it and findings.csv from that (DuckDB, bounded memory, in a thread while the
    network and the report are built: see ``_Tables``); from
    :data:`PARALLEL_XLSX_ROWS` findings on, findings.xlsx is written by a second Python
    process from findings.jsonl meanwhile (the function returns when every file is complete;
    where that process cannot run, it writes the workbook itself).  The flagged network is
    built once (report.html draws its first works, as
    :func:`tracker.graph.prune_flagged_network` states) and the run record is scrubbed of
    secrets once (:func:`tracker.redaction.clean_run_record`) for all the files.

    The files are written into a hidden folder inside ``out_dir`` and moved into place only
    when all are complete: a run stopped part-way (an error, Ctrl-C) leaves the previous
    run's files as they were, never a mixture of two runs; a file of a previous run that
    this one does not write (findings.xlsx past the row limit) is removed.  A hidden folder
    left by a process that was killed is removed by the next write (see
    :func:`remove_stale_writing_folders`).

    ``progress("report", done, total)`` is called as files are complete (``total``: the
    files to write; the last call has ``done == total``), from the calling thread.

    ``meanwhile()`` is called once findings.jsonl is written, while findings.parquet,
    findings.csv and findings.xlsx are being written from it, and before anything that
    reads the run record (``result.run``: run.json, findings.json, report.html, the
    workbook's run sheet) is made: :func:`tracker.runs.run` records the run in its case
    file there, which puts the diff against the previous run into the record (a million
    synthetic works: the case file and those files each took about half a minute, one after
    the other).  An error it raises stops the writing, as any other does.

    Returns
    -------
    dict of str to Path
        File name to path, in the order above (the files written).
    """
    formats = check_formats(formats)  # before anything is made
    final = Path(out_dir)
    final.mkdir(parents=True, exist_ok=True)
    remove_stale_writing_folders(final)
    out = Path(tempfile.mkdtemp(prefix=WRITING_PREFIX, dir=final))
    (out / WRITING_OWNER).write_text(json.dumps(owner_record()), "utf-8")
    findings: Sequence[Finding] = (result.findings if isinstance(result.findings, Sequence)
                                   else list(result.findings))
    n = len(findings)
    if json_max_rows is None:
        json_max_rows = JSON_MAX_ROWS
    parquet_ok = parquet_available()
    plan = outputs_plan(n, parquet=parquet_ok, json_max_rows=json_max_rows, formats=formats)
    want = plan["files"]
    jsonl = out / "findings.jsonl"
    # findings.jsonl is what findings.parquet and the workbook are written from, and
    # findings.parquet what findings.csv is: written here when those are asked for, kept
    # only when asked for themselves (the writing folder goes, with what it still holds)
    parquet = (out / "findings.parquet" if "findings.parquet" in want
               or ("findings.csv" in want and parquet_ok) else None)
    csv_path = out / "findings.csv" if "findings.csv" in want else None
    rows_file = any(f in want for f in ("findings.jsonl", "findings.xlsx")) or (
        parquet is not None)
    files: dict[str, Path] = {}
    done = 0

    def wrote(k: int = 1) -> None:
        nonlocal done
        done += k
        if progress is not None:
            progress("report", done, len(want))

    try:
        # the longest: started first, reading findings.jsonl as it is written
        xlsx = (_start_xlsx(jsonl, n, out / "findings.xlsx")
                if "findings.xlsx" in want else None)
        tables = None
        try:
            if rows_file and write_findings_jsonl(findings, jsonl) != n:
                # (should not happen) the workbook's process would wait for rows that
                # never come: stopped, and the workbook written here from the file
                _abandon_xlsx(xlsx)
                xlsx = None
            for name, path in (("findings.csv", csv_path), ("findings.jsonl", jsonl),
                               ("findings.parquet", parquet)):
                if name in want and path is not None:
                    files[name] = path
            wrote("findings.jsonl" in files)
            # beside the workbook's process, two processes' work already fills two cores;
            # unless this process waits on meanwhile (a case file, written by SQLite, which
            # lets this thread run)
            if parquet is not None or csv_path is not None:
                tables = _Tables(findings, jsonl, parquet, csv_path,
                                 background=xlsx is None or meanwhile is not None)
            n_tables = ("findings.parquet" in files) + ("findings.csv" in files)
            if xlsx is not None:  # written by now
                wrote(n_tables)
            if meanwhile is not None:
                meanwhile()
            run = {**clean_run_record(result.run), "outputs": plan}
            _give_run(xlsx, run)
            g, _note = flagged_network(result, max_nodes=max_nodes)
            if "findings.json" in want:
                files["findings.json"] = write_json(findings, run, out / "findings.json",
                                                    max_rows=json_max_rows)
                wrote()
            if "findings.xlsx" in want:
                files["findings.xlsx"] = out / "findings.xlsx"
            files["run.json"] = out / "run.json"
            files["report.html"] = write_report(result, out, network=g, run=run)
            wrote()
            if "network.graphml" in want:
                files["network.graphml"], files["network.gexf"] = write_network_files(
                    g, out / "network.graphml", out / "network.gexf")
                wrote(2)
            if tables is not None:
                tables.wait()
            if xlsx is None:
                wrote(n_tables)
            if "findings.xlsx" in files:
                try:
                    _finish_xlsx(xlsx, jsonl, run, out / "findings.xlsx")
                    wrote()
                except XlsxWriterException as exc:  # the workbook only: the rest stands
                    del files["findings.xlsx"]
                    plan["files"].pop("findings.xlsx", None)
                    (out / "findings.xlsx").unlink(missing_ok=True)
                    plan["left_out"].append({
                        "file": "findings.xlsx", "findings_left_out": n,
                        "reason": f"not written: the workbook could not be made "
                                  f"({type(exc).__name__}: {exc}); "
                                  f"{_holders([f for f in COMPLETE_FILES if f in files])}"})
        except BaseException:  # an error or Ctrl-C: no helper left running, no rows file
            if tables is not None:
                tables.stop()
            _abandon_xlsx(xlsx)
            raise
        for name, path in files.items():
            if name != "run.json":
                plan["files"][name]["bytes"] = path.stat().st_size
        write_run(run, out / "run.json")  # last: it records the others' sizes
        wrote()
        for name, path in files.items():  # all complete: into place, each in one step
            os.replace(path, final / name)
            files[name] = final / name
        for name in FOLDER_FILES:  # a previous run's file this run does not write
            if name not in files and (final / name).is_file():
                (final / name).unlink()
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return files
