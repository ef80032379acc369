"""findings.xlsx: the workbook, and the second process that writes large ones.

:mod:`tracker.exports` decides what goes in the workbook and when a second process writes it;
this module writes it.  It imports nothing heavier than xlsxwriter and orjson, on purpose:
from :data:`tracker.exports.PARALLEL_XLSX_ROWS` findings on, a fresh Python process runs
:func:`_worker`, and that process's start-up is on the report's critical path (importing
:mod:`tracker.exports` there pulled in networkx, numpy and openpyxl: about 0.5 s of its
1.6 s at 15,000 synthetic works; this module about 0.1 s).

Text that looks like a formula (begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return) is stored as text with Excel's quote prefix, never as a formula, and keeps its exact
value; characters a workbook cannot hold are replaced with U+FFFD.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import xlsxwriter

__all__ = ["CONSTANT_MEMORY_ROWS", "FORMULA_START", "ILLEGAL_CHARACTERS", "jsonl_rows",
           "set_openpyxl_cell", "write_workbook", "xlsx_text"]

#: Cell text that spreadsheet programs run as a formula begins with one of these.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

#: Characters an XLSX file cannot hold (the C0 controls but tab, newline and carriage
#: return), as openpyxl defines them (``openpyxl.cell.cell.ILLEGAL_CHARACTERS_RE``).
ILLEGAL_CHARACTERS = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")

#: Findings columns written as dates (a full ISO date; a bare year stays text).
DATE_COLUMNS = frozenset({"publication_date", "listed_on", "removed_on", "date_compared"})

#: From this many rows on, the workbook is written in xlsxwriter's constant-memory mode (each
#: row goes to disk as it is written; text inline, not in a shared table): slower (10.5 s vs
#: 7.7 s at 47,627 findings) but memory no longer grows with the rows (about 3.4 KB a row
#: otherwise: 3.5 GB at Excel's row limit).
CONSTANT_MEMORY_ROWS = 100_000

_WIDTHS = {"title": 48, "raw_affiliation": 48, "match_detail": 48, "outcome": 36,
           "reason": 36, "institution_name": 30, "list_entry_name": 30, "author_name": 24}


def xlsx_text(value: str) -> str:
    """``value`` with the characters a workbook cannot hold replaced.

    Examples
    --------
    >>> xlsx_text("a\\x00b\\tc")
    'a\\ufffdb\\tc'
    """
    return ILLEGAL_CHARACTERS.sub("\ufffd", value)


def set_openpyxl_cell(ws: Any, row: int, col: int, value: Any) -> Any:
    """Set one cell of an openpyxl worksheet; text that looks like a formula is stored as
    text with Excel's quote prefix, never as a formula (the case file's review workbook is
    written with openpyxl, since it is read back; findings.xlsx with xlsxwriter).

    Examples
    --------
    >>> from openpyxl import Workbook
    >>> ws = Workbook().active
    >>> cell = set_openpyxl_cell(ws, 1, 1, "=1+1")
    >>> cell.value, cell.data_type, cell.quotePrefix
    ('=1+1', 's', True)
    """
    if isinstance(value, str):
        cell = ws.cell(row=row, column=col, value=xlsx_text(value))
        if value.startswith(FORMULA_START):
            cell.data_type = "s"
            cell.quotePrefix = True
        return cell
    return ws.cell(row=row, column=col, value=value)


def _cell(ws: Any, row: int, col: int, value: Any, fmt: Mapping[str, Any],
          score: bool) -> None:
    """Write one cell; text that looks like a formula is stored as text (quote prefix),
    never a formula; full dates are Excel dates; scores and counts are numbers."""
    if value is None:
        return
    if isinstance(value, str):
        text = xlsx_text(value)
        if value.startswith(FORMULA_START):
            ws.write_string(row, col, text, fmt["text"])
        else:
            ws.write_string(row, col, text)
    elif isinstance(value, bool):
        ws.write_boolean(row, col, value)
    elif isinstance(value, int | float):
        ws.write_number(row, col, value, fmt["score"] if score else None)
    elif isinstance(value, date):
        ws.write_datetime(row, col, value, fmt["date"])
    else:
        ws.write_string(row, col, xlsx_text(str(value)))


def _flatten(obj: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(obj, Mapping):
        if not obj:
            return [(prefix, "{}")] if prefix else []
        out: list[tuple[str, Any]] = []
        for k, v in obj.items():
            out.extend(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    if isinstance(obj, list | tuple):
        if not obj:
            return [(prefix, "[]")]
        out = []
        for i, v in enumerate(obj):
            out.extend(_flatten(v, f"{prefix}[{i}]"))
        return out
    if obj is None or isinstance(obj, bool | int | float | str):
        return [(prefix, obj)]
    return [(prefix, str(obj))]


def _typed(column: str, value: Any) -> Any:
    if column in DATE_COLUMNS and isinstance(value, str) and len(value) == 10:
        try:
            return date.fromisoformat(value)
        except ValueError:
            return value
    return value


def _findings_rows(ws: Any, rows: Iterable[Mapping[str, Any]], columns: Sequence[str],
                   fmt: Mapping[str, Any]) -> int:
    """The findings sheet's rows, typed by :func:`_typed` and written by :func:`_cell`; returns
    how many.  An empty value leaves the cell blank (15 % of the cells at 15,000 synthetic
    works: DOIs, removal and listing dates no source gives)."""
    i = 0
    for i, r in enumerate(rows, start=1):
        for j, name in enumerate(columns):
            v = r.get(name)
            if v is not None and v != "":
                _cell(ws, i, j, _typed(name, v), fmt, name == "match_score")
    return i


def write_workbook(rows: Iterable[Mapping[str, Any]], columns: Sequence[str],
                   run: Mapping[str, Any], path: str | Path, *,
                   constant_memory: bool | None = None) -> Path:
    """Write sheet ``findings`` (``columns`` of ``rows``: typed, frozen header, autofilter;
    an empty value is a blank cell) and sheet ``run`` (``run`` flattened to ``key``/``value``
    rows).

    ``rows`` is read once, in order (an iterator will do).  ``constant_memory``: write each
    row to disk as it comes (memory does not grow with the rows); by default, when ``rows``
    is a sequence of at least :data:`CONSTANT_MEMORY_ROWS`, or not a sequence.

    ``run`` is written as given: :func:`tracker.exports.write_xlsx` scrubs it of secrets
    first.

    Examples
    --------
    >>> import tempfile
    >>> from openpyxl import load_workbook
    >>> rows = [{"work_id": "W1", "listed_on": "2020-06-05", "title": "=cmd()"}]
    >>> with tempfile.TemporaryDirectory() as d:
    ...     wb = load_workbook(write_workbook(rows, ["work_id", "listed_on", "title"],
    ...                                       {"tool": {"version": "1"}}, Path(d) / "f.xlsx"))
    >>> ws = wb["findings"]
    >>> ws["B2"].value.date().isoformat(), ws["C2"].value, ws["C2"].data_type
    ('2020-06-05', '=cmd()', 's')
    >>> wb["run"]["A2"].value, wb["run"]["B2"].value
    ('tool.version', '1')
    """
    path = Path(path)
    if constant_memory is None:
        constant_memory = (not isinstance(rows, Sequence)
                           or len(rows) >= CONSTANT_MEMORY_ROWS)
    # xlsxwriter: several times faster than openpyxl at thousands of findings.  Its shared
    # string table (the default mode) escapes each distinct text once; the findings repeat
    # list names, methods and outcomes on every row, so this is faster than constant_memory
    # mode's inline strings (7.7 s vs 10.5 s at 47,627 findings, for about 160 MB more).
    # use_zip64: a sheet of several hundred thousand findings is an XML part over 2 GB (788,020
    # findings at 1,000,000 synthetic works), which a plain zip cannot hold; zipfile then
    # writes ZIP64 records for that part only, smaller workbooks are unchanged.
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": constant_memory,
                                         "use_zip64": True,
                                         "strings_to_formulas": False,
                                         "strings_to_urls": False,
                                         "strings_to_numbers": False})
    fmt = {"bold": wb.add_format({"bold": True}),
           "date": wb.add_format({"num_format": "yyyy-mm-dd"}),
           "score": wb.add_format({"num_format": "0.000"}),
           "text": wb.add_format({"quote_prefix": True})}
    ws = wb.add_worksheet("findings")
    for j, name in enumerate(columns):
        ws.set_column(j, j, _WIDTHS.get(name, 16))
        ws.write_string(0, j, name, fmt["bold"])
    ws.freeze_panes(1, 0)
    n = _findings_rows(ws, rows, columns, fmt)
    ws.autofilter(0, 0, n, len(columns) - 1)
    rs = wb.add_worksheet("run")
    rs.set_column(0, 0, 48)
    rs.set_column(1, 1, 80)
    rs.freeze_panes(1, 0)
    rs.write_string(0, 0, "key", fmt["bold"])
    rs.write_string(0, 1, "value", fmt["bold"])
    for i, (k, v) in enumerate(_flatten(run), start=1):
        _cell(rs, i, 0, k, fmt, False)
        _cell(rs, i, 1, v, fmt, False)
    wb.close()
    return path


def jsonl_rows(path: str | Path) -> Iterator[dict[str, Any]]:
    """The rows of a JSON Lines file (findings.jsonl), one at a time."""
    with Path(path).open("rb") as fh:
        for line in fh:
            if line.strip():
                yield orjson.loads(line)


def _worker(payload: str) -> None:
    """Entry point of the second process: write the workbook a payload file describes
    (``jsonl``: the findings.jsonl to read the rows from, row by row; ``columns``, ``run``,
    ``path``, ``constant_memory``), removing the file as soon as it is read (the run record
    belongs to a case file)."""
    p = Path(payload)
    try:
        doc = orjson.loads(p.read_bytes())
    finally:
        p.unlink(missing_ok=True)
    write_workbook(jsonl_rows(doc["jsonl"]), doc["columns"], doc["run"], doc["path"],
                   constant_memory=doc["constant_memory"])


if __name__ == "__main__":  # pragma: no cover - run as a script by tracker.exports
    _worker(sys.argv[1])
