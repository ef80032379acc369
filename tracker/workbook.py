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

import os
import re
import sys
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import xlsxwriter

__all__ = ["FORMULA_START", "ILLEGAL_CHARACTERS", "jsonl_rows", "waited_run",
           "write_workbook", "xlsx_text"]

#: Cell text that spreadsheet programs run as a formula begins with one of these.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

#: Characters an XLSX file cannot hold (the C0 controls but tab, newline and carriage
#: return), as openpyxl defines them (``openpyxl.cell.cell.ILLEGAL_CHARACTERS_RE``).
ILLEGAL_CHARACTERS = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")

#: Findings columns written as dates (a full ISO date; a bare year stays text).
DATE_COLUMNS = frozenset({"publication_date", "listed_on", "removed_on", "date_compared"})

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
                   run: Mapping[str, Any] | Callable[[], Mapping[str, Any]], path: str | Path,
                   *, constant_memory: bool = True) -> Path:
    """Write sheet ``findings`` (``columns`` of ``rows``: typed, frozen header, autofilter;
    an empty value is a blank cell) and sheet ``run`` (``run`` flattened to ``key``/``value``
    rows).

    ``rows`` is read once, in order (an iterator will do).  ``constant_memory`` (the
    default): the sheets are written here, each row to disk as it comes
    (:func:`_stream_workbook`): memory does not grow with the rows, and it is about six
    times as fast as xlsxwriter for a file about twice the size (its text is inline: the
    55,228 findings of 100,000 synthetic works took 2.2-2.9 s against 15-18 s, for 14.6 MB
    against 7.1 MB).  False: xlsxwriter writes it, its shared string table storing each
    repeated text once (the smaller file; about 3.4 KB of memory a row).

    ``run`` is written as given: :func:`tracker.exports.write_xlsx` scrubs it of secrets
    first.  It may be a function that returns it, called once the findings are written
    (the second process that writes a large workbook gets the run record only once the run
    is recorded in its case file: :func:`waited_run`).

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
    if constant_memory:
        return _stream_workbook(rows, columns, run, path)
    # xlsxwriter in its default mode: its shared string table escapes each distinct text
    # once, and the findings repeat list names, methods and outcomes on every row, so this is
    # faster than its own constant_memory mode (7.7 s vs 10.5 s at 47,627 findings, for
    # about 160 MB more).
    # use_zip64: a sheet of several hundred thousand findings is an XML part over 2 GB (788,020
    # findings at 1,000,000 synthetic works), which a plain zip cannot hold; zipfile then
    # writes ZIP64 records for that part only, smaller workbooks are unchanged.
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": False,
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
    for i, (k, v) in enumerate(_flatten(run() if callable(run) else run), start=1):
        _cell(rs, i, 0, k, fmt, False)
        _cell(rs, i, 1, v, fmt, False)
    wb.close()
    return path


# --------------------------------------------------------------------------- streamed
# The streamed workbook is SpreadsheetML written here, not by xlsxwriter: xlsxwriter's
# constant-memory mode builds each cell through several Python calls (50,000 findings:
# 27.6 s; 788,020 at a million works: 4 minutes, the report folder's longest step), while
# a findings column repeats a few values that are escaped once here (the same 50,000: 1.4 s).
# These parts are the ones that mode writes (inline strings, the same styles, frozen
# header, autofilter; no theme and no document properties), with the same escapes; the
# cells read back equal to xlsxwriter's (tests/test_workbook.py compares them with
# openpyxl; the files were not opened in Excel here).

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_DOC_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_SHEET_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
_CONTENT_TYPES = (
    _XML_HEAD + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" '
    'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{_SHEET_TYPE}"/>'
    f'<Override PartName="/xl/worksheets/sheet2.xml" ContentType="{_SHEET_TYPE}"/>'
    '<Override PartName="/xl/styles.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/></Types>')
_ROOT_RELS = (
    _XML_HEAD + f'<Relationships xmlns="{_PKG_REL}"><Relationship Id="rId1" '
    f'Type="{_DOC_REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>')
_WORKBOOK_RELS = (
    _XML_HEAD + f'<Relationships xmlns="{_PKG_REL}">'
    f'<Relationship Id="rId1" Type="{_DOC_REL}/worksheet" Target="worksheets/sheet1.xml"/>'
    f'<Relationship Id="rId2" Type="{_DOC_REL}/worksheet" Target="worksheets/sheet2.xml"/>'
    f'<Relationship Id="rId3" Type="{_DOC_REL}/styles" Target="styles.xml"/></Relationships>')
#: Cell styles (``s``): 0 plain, 1 bold, 2 date, 3 score, 4 text with the quote prefix.
_STYLES = (
    _XML_HEAD + f'<styleSheet xmlns="{_MAIN}">'
    '<numFmts count="2"><numFmt numFmtId="164" formatCode="yyyy-mm-dd"/>'
    '<numFmt numFmtId="165" formatCode="0.000"/></numFmts>'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/>'
    '</cellStyleXfs><cellXfs count="5">'
    '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0" quotePrefix="1"/>'
    '</cellXfs><cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/>'
    '</cellStyles></styleSheet>')
_ESCAPED_ESCAPE = re.compile("(_x[0-9a-fA-F]{4}_)")
_NEEDS_ESCAPE = re.compile("[&<>\r_\ufffe\uffff]")
_EPOCH = date(1899, 12, 31)
_ROWS_PER_WRITE = 2000
_CACHED_CELLS = 200_000  # distinct cell values remembered per column of a sheet
_TRIAL = 20_000  # values not remembered before a column's repeats are judged (_Column)


def _column_letter(j: int) -> str:
    """Excel's name of the 0-based column ``j`` (0 → ``A``, 26 → ``AA``)."""
    name = ""
    j += 1
    while j:
        j, rem = divmod(j - 1, 26)
        name = chr(65 + rem) + name
    return name


def _width(chars: float) -> str:
    """A column width as xlsxwriter writes it (Calibri 11: 7-pixel digits, 5 of padding)."""
    return f"{int((int(chars * 7 + 0.5) + 5) / 7 * 256) / 256:.16G}"


def _inline(text: str, style: str) -> str:
    """An inline-string cell after its reference, escaped as xlsxwriter escapes it: a
    literal ``_xHHHH_`` keeps its text (``_x005F`` before it), a carriage return and
    U+FFFE/U+FFFF become ``_xHHHH_``, then ``&``, ``<`` and ``>``; leading or trailing
    space is preserved."""
    if _NEEDS_ESCAPE.search(text):
        if "_x" in text:
            text = _ESCAPED_ESCAPE.sub(r"_x005F\1", text)
        text = (text.replace("\r", "_x000D_").replace("\ufffe", "_xFFFE_")
                .replace("\uffff", "_xFFFF_").replace("&", "&amp;").replace("<", "&lt;")
                .replace(">", "&gt;"))
    space = ' xml:space="preserve"' if text[:1].isspace() or text[-1:].isspace() else ""
    return f'{style} t="inlineStr"><is><t{space}>{text}</t></is></c>'


def _tail(value: Any, score: bool) -> str:
    """One cell as :func:`_cell` writes it with xlsxwriter, after ``<c r="A1"``."""
    if isinstance(value, str):
        return _inline(xlsx_text(value), ' s="4"' if value.startswith(FORMULA_START) else "")
    if isinstance(value, bool):
        return f' t="b"><v>{int(value)}</v></c>'
    if isinstance(value, int | float):
        style = ' s="3"' if score else ""
        return f'{style}><v>{value:.16G}</v></c>'
    if isinstance(value, date):
        days = (value - _EPOCH).days
        return f' s="2"><v>{days + 1 if days > 59 else days}</v></c>'
    return _inline(xlsx_text(str(value)), "")


def _xml_cell(ref: str, value: Any) -> str:
    """A cell of the run sheet ("" for no value)."""
    return "" if value is None else f'<c r="{ref}"{_tail(value, False)}'


def _sheet_head(widths: Sequence[float], header: Sequence[str], selected: bool) -> str:
    cols = "".join(f'<col min="{j}" max="{j}" width="{_width(w)}" customWidth="1"/>'
                   for j, w in enumerate(widths, start=1))
    bold = ' s="1"'
    head = "".join(f'<c r="{_column_letter(j)}1"{_inline(name, bold)}'
                   for j, name in enumerate(header))
    tab = ' tabSelected="1"' if selected else ""
    return (_XML_HEAD + f'<worksheet xmlns="{_MAIN}" xmlns:r="{_DOC_REL}"><sheetViews>'
            f'<sheetView{tab} workbookViewId="0">'
            '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
            '<selection pane="bottomLeft"/></sheetView></sheetViews>'
            f'<sheetFormatPr defaultRowHeight="15"/><cols>{cols}</cols>'
            f'<sheetData><row r="1">{head}</row>')


class _Column:
    """A findings column as :func:`_stream_workbook` writes it: its cells' text after the
    reference (:func:`_tail`), remembered by value for text that repeats.

    A column whose values hardly repeat (finding IDs, titles, raw strings: a new value
    in more than three rows of four by its :data:`_TRIAL`-th) stops being remembered:
    each value cost a dictionary entry for nothing.  Only text is remembered (a text
    never equals a number, while ``True == 1``), at most :data:`_CACHED_CELLS` values a
    column.
    """

    __slots__ = ("letter", "misses", "name", "score", "tails")

    def __init__(self, name: str, letter: str) -> None:
        self.name, self.letter = name, letter
        self.score = name == "match_score"
        self.tails: dict[str, str] = {}
        self.misses = 0  # values not remembered so far; -1: no longer remembering

    def tail(self, v: Any, rows: int) -> str:
        """The cell's text after its reference, for a value not remembered (``rows``:
        the rows written so far)."""
        tail = _tail(_typed(self.name, v), self.score)
        if type(v) is not str or self.misses < 0:
            return tail
        self.misses += 1
        if self.misses == _TRIAL and self.misses * 4 > rows * 3:
            self.misses, self.tails = -1, {}
        elif len(self.tails) < _CACHED_CELLS:
            self.tails[v] = tail
        return tail


def _stream_workbook(rows: Iterable[Mapping[str, Any]], columns: Sequence[str],
                     run: Mapping[str, Any] | Callable[[], Mapping[str, Any]],
                     path: Path) -> Path:
    """:func:`write_workbook` in constant memory: the sheets' XML written here, row by
    row, into the zip (ZIP64 for the findings sheet, deflated at level 1: the sheet of a
    million works is several GB of XML, and level 1 deflates it several times faster than
    the default for a file about a fifth larger).  Why not xlsxwriter: see above."""
    letters = [_column_letter(j) for j in range(len(columns))]
    last = letters[-1] if letters else "A"
    n = 0
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.writestr("[Content_Types].xml", _CONTENT_TYPES)
        zf.writestr("_rels/.rels", _ROOT_RELS)
        zf.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        zf.writestr("xl/styles.xml", _STYLES)
        with zf.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as fh:
            _deflate_faster(fh)  # before anything is written: nothing held by zlib's
            fh.write(_sheet_head([_WIDTHS.get(c, 16) for c in columns], columns,
                                 True).encode("utf-8"))
            chunk: list[str] = []
            cols = [_Column(name, letter) for name, letter in zip(columns, letters, strict=True)]
            for n, r in enumerate(rows, start=1):
                row = str(n + 1)
                cells = [f'<row r="{row}">']
                for col in cols:
                    v = r.get(col.name)
                    if v is None or v == "":
                        continue
                    # a column's text repeats (lists, methods, outcomes, dates): each distinct
                    # one is typed and escaped once, in a column where it pays
                    tail = col.tails.get(v) if type(v) is str else None
                    if tail is None:
                        tail = col.tail(v, n)
                    cells.append(f'<c r="{col.letter}{row}"{tail}')
                cells.append("</row>")
                chunk.append("".join(cells))
                if len(chunk) >= _ROWS_PER_WRITE:
                    fh.write("".join(chunk).encode("utf-8"))
                    chunk = []
            fh.write(("".join(chunk) + f'</sheetData><autoFilter ref="A1:{last}{n + 1}"/>'
                      '</worksheet>').encode("utf-8"))
        body = [f'<row r="{i}">{_xml_cell(f"A{i}", k)}{_xml_cell(f"B{i}", v)}</row>'
                for i, (k, v) in enumerate(_flatten(run() if callable(run) else run),
                                           start=2)]
        zf.writestr("xl/worksheets/sheet2.xml", _sheet_head([48, 80], ["key", "value"], False)
                    + "".join(body) + "</sheetData></worksheet>")
        zf.writestr("xl/workbook.xml", (
            _XML_HEAD + f'<workbook xmlns="{_MAIN}" xmlns:r="{_DOC_REL}"><bookViews>'
            '<workbookView/></bookViews><sheets>'
            '<sheet name="findings" sheetId="1" r:id="rId1"/>'
            '<sheet name="run" sheetId="2" r:id="rId2"/></sheets><definedNames>'
            '<definedName name="_xlnm._FilterDatabase" localSheetId="0" hidden="1">'
            f"findings!$A$1:${last}${n + 1}</definedName></definedNames></workbook>"))
    return path


def _deflate_faster(fh: Any) -> None:
    """Deflate a zip member being written with ISA-L (``isal_zlib``, level 1: the same
    deflate format, about three times as fast as zlib's level 1; the findings sheet of a
    million works is several GB of XML) where ``zipfile`` compresses with a zlib object
    held in ``_compressor``, as Python 3.11-3.13 do; otherwise leave zlib's.  Call it
    before the first write (zlib's object may hold output not yet given)."""
    try:
        import zlib

        from isal import isal_zlib
    except ImportError:  # pragma: no cover - isal is a dependency
        return
    if type(getattr(fh, "_compressor", None)) is type(zlib.compressobj()):
        fh._compressor = isal_zlib.compressobj(1, isal_zlib.DEFLATED, -15)


def jsonl_rows(path: str | Path) -> Iterator[dict[str, Any]]:
    """The rows of a JSON Lines file (findings.jsonl), one at a time."""
    with Path(path).open("rb") as fh:
        for line in fh:
            if line.strip():
                yield orjson.loads(line)


class WriterGone(RuntimeError):
    """The process writing the file :func:`following_rows` reads has ended before it."""


def following_rows(path: str | Path, n: int, writing: Callable[[], bool], *,
                   poll: float = 0.01, stall: float = 600.0) -> Iterator[dict[str, Any]]:
    """The ``n`` rows of a JSON Lines file that another process is writing meanwhile, one
    at a time: a line is read once its line break is written; at the end of what is
    written so far (or before the file exists) this waits ``poll`` seconds and looks
    again, as long as ``writing()`` says the writer is still there and the file has grown
    in the last ``stall`` seconds (where a writer's end cannot be seen: a Windows process
    keeps its parent's ID).

    Why: the second process that writes findings.xlsx is the longest part of a large
    report folder (788,020 findings: about 27 s); following findings.jsonl while it is
    written, it starts at once rather than after it (about 6 s).

    Raises
    ------
    WriterGone
        ``writing()`` is false, or the file has not grown for ``stall`` seconds, while
        rows are still missing.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     f = Path(d) / "f.jsonl"
    ...     _ = f.write_bytes(b'{"a": 1}\\n{"a": 2}\\n{"a"')
    ...     rows = following_rows(f, 3, lambda: True)
    ...     first = [next(rows), next(rows)]
    ...     with f.open("ab") as fh:
    ...         _ = fh.write(b': 3}\\n')
    ...     first + list(rows)
    [{'a': 1}, {'a': 2}, {'a': 3}]
    """
    p = Path(path)
    since = time.monotonic()  # when the file last grew
    while not p.exists():
        if not writing() or time.monotonic() - since > stall:
            raise WriterGone(f"{p} was never written")
        time.sleep(poll)
    got = 0
    with p.open("rb") as fh:
        part = b""
        while got < n:
            line = fh.readline()
            if not line.endswith(b"\n"):  # the end of what is written so far
                if line:
                    part += line
                    since = time.monotonic()
                elif not writing() or time.monotonic() - since > stall:
                    raise WriterGone(f"{p} ended after {got:,} of {n:,} rows")
                time.sleep(poll)
                continue
            since = time.monotonic()
            if part:
                line, part = part + line, b""
            if line.strip():
                yield orjson.loads(line)
                got += 1


#: How long :func:`waited_run` waits for a run record where the end of the process that
#: writes it cannot be seen (no run takes a day to record).
RUN_WAIT_SECONDS = 24 * 3600


def waited_run(path: str | Path, writing: Callable[[], bool], *, poll: float = 0.05,
               stall: float = RUN_WAIT_SECONDS) -> dict[str, Any]:
    """The run record another process writes to ``path`` (whole, in one step: a rename)
    once it has it, waiting ``poll`` seconds between looks as long as ``writing()`` says
    that process is there, at most ``stall`` seconds.

    Why: a run's finding files are written while its case file is recorded (which gives
    the run record its diff against the previous run); the workbook's run sheet, written
    after its findings sheet, waits for the record here.

    Raises
    ------
    WriterGone
        ``writing()`` is false, or ``stall`` seconds have passed, before the file is there.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = (Path(d) / "run.json").write_bytes(b'{"diff": {"new": 2}}')
    ...     waited_run(Path(d) / "run.json", lambda: True)
    {'diff': {'new': 2}}
    """
    p = Path(path)
    since = time.monotonic()
    while True:
        try:
            got: dict[str, Any] = orjson.loads(p.read_bytes())
            return got
        except FileNotFoundError:
            if not writing() or time.monotonic() - since > stall:
                raise WriterGone(f"{p} was never written") from None
            time.sleep(poll)


def _worker(payload: str) -> None:
    """Entry point of the second process: write the workbook a payload file describes
    (``jsonl``: the findings.jsonl to read the rows from, row by row, and ``rows``, how
    many: the file may still be being written by the process that started this one
    (:func:`following_rows`); ``columns``, ``path``; ``run_file``, where the run record
    will be once the run is recorded: :func:`waited_run`), removing each file as soon as
    it is read (the run record belongs to a case file)."""
    parent = os.getppid()
    p = Path(payload)
    try:
        doc = orjson.loads(p.read_bytes())
    finally:
        p.unlink(missing_ok=True)

    def writing() -> bool:
        return os.getppid() == parent

    def run() -> dict[str, Any]:
        try:
            return waited_run(doc["run_file"], writing)
        finally:
            Path(doc["run_file"]).unlink(missing_ok=True)

    write_workbook(following_rows(doc["jsonl"], doc["rows"], writing),
                   doc["columns"], run, doc["path"])


if __name__ == "__main__":  # pragma: no cover - run as a script by tracker.exports
    _worker(sys.argv[1])
