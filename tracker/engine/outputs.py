"""Findings files at scale: written row by row, never held twice.

At a million findings the report folder's one-piece files stop working: findings.json is
gigabytes, and a workbook cannot hold more than 1,048,576 rows on a sheet.  These writers
stream:

- :func:`write_findings_jsonl`, :func:`write_findings_csv`, :func:`write_findings_parquet`:
  those of :mod:`tracker.exports` (the report folder writes its findings with them);
- :func:`write_findings_xlsx`: a plain workbook split across sheets of at most
  :data:`XLSX_MAX_ROWS` rows each, or not written (:class:`WorkbookTooLarge`) past
  :data:`XLSX_MAX_SHEETS` sheets.  (The report folder does not split: past Excel's row
  limit it writes no findings.xlsx and says so in run.json.)

Examples
--------
>>> import tempfile, tracker
>>> reg = tracker.load_registry()
>>> res = tracker.screen(tracker.read_works(tracker.demo_works_path()), registry=reg)
>>> with tempfile.TemporaryDirectory() as d:
...     n = write_findings_jsonl(res.findings, Path(d) / "f.jsonl")
...     p = write_findings_parquet(Path(d) / "f.jsonl", Path(d) / "f.parquet")
...     import duckdb
...     same = duckdb.sql(f"SELECT count(*) FROM '{p}'").fetchall()[0][0] == n
>>> same, n == len(res.findings)
(True, True)
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from tracker.exports import (
    XLSX_MAX_ROWS,
    _row,
    neutralise,
    write_findings_csv,
    write_findings_jsonl,
    write_findings_parquet,
)
from tracker.risk import FINDING_COLUMNS, Finding

__all__ = ["XLSX_MAX_ROWS", "XLSX_MAX_SHEETS", "WorkbookTooLarge", "write_findings_csv",
           "write_findings_jsonl", "write_findings_parquet", "write_findings_xlsx"]

#: Sheets a split workbook may have before it is not written at all.
XLSX_MAX_SHEETS = 4


class WorkbookTooLarge(ValueError):
    """More findings than a workbook can usefully hold: use findings.parquet or CSV."""


def write_findings_xlsx(findings: Iterable[Finding], n: int, path: str | Path) -> list[str]:
    """Write the findings workbook, split across sheets of at most :data:`XLSX_MAX_ROWS`
    rows (``findings``, ``findings 2``, ...), streamed (xlsxwriter's constant memory mode).

    Parameters
    ----------
    findings : iterable of Finding
    n : int
        How many findings there are (to refuse before writing anything).
    path : path

    Returns
    -------
    list of str
        The sheet names written.

    Raises
    ------
    WorkbookTooLarge
        More than :data:`XLSX_MAX_SHEETS` sheets would be needed.
    """
    sheets = max(1, -(-n // XLSX_MAX_ROWS))
    if sheets > XLSX_MAX_SHEETS:
        raise WorkbookTooLarge(
            f"{n:,} findings need {sheets} sheets of {XLSX_MAX_ROWS:,} rows; the workbook is "
            f"not written (more than {XLSX_MAX_SHEETS}): use findings.parquet or findings.csv")
    import xlsxwriter

    names: list[str] = []
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_formulas": False,
                                         "strings_to_urls": False})
    try:
        ws = None
        row = XLSX_MAX_ROWS
        for f in findings:
            if row >= XLSX_MAX_ROWS:
                names.append("findings" if not names else f"findings {len(names) + 1}")
                ws = wb.add_worksheet(names[-1])
                ws.write_row(0, 0, FINDING_COLUMNS)
                row = 0
            assert ws is not None
            row += 1
            ws.write_row(row, 0, [neutralise(v) for v in _row(f).values()])
        if not names:
            names.append("findings")
            wb.add_worksheet("findings").write_row(0, 0, FINDING_COLUMNS)
    finally:
        wb.close()
    return names
