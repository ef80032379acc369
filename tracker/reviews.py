"""Review workbooks: export a run's findings for review, and import the decisions back
without losing anyone's work.

An exported workbook carries, per row, the ``version`` of the tie's decision it shows
(0: never reviewed).  On import each row is compared with the decision it was exported
with and with the tie's current decision:

- a row left as exported records nothing, even when the tie has a newer decision since
  (an older copy of the workbook never undoes a later decision);
- a row edited on top of the current decision is recorded;
- a row edited on top of an older decision is a **conflict**: by default nothing from the
  file is recorded and every conflict is reported with the current decision.
  ``on_conflict="keep-current"`` records the other rows and leaves those ties as they are;
  ``"take-file"`` records the file's decision over the current one.

A workbook without a ``version`` column (written before versions existed) counts every row
as based on "never reviewed".

Examples
--------
>>> import tempfile, tracker
>>> from pathlib import Path
>>> from openpyxl import load_workbook
>>> from tracker.store import Store
>>> res = tracker.screen(tracker.read_works(tracker.demo_works_path()),
...                      registry=tracker.load_registry())
>>> with tempfile.TemporaryDirectory() as d, Store(Path(d) / "t.db") as st:
...     run_id = st.record_run(res)
...     xlsx = export_workbook(st, Path(d) / "r.xlsx", run_id)
...     fid = res.findings[0].finding_id
...     _ = st.set_review(fid, "confirmed", "A. Reviewer", based_on=0)   # after the export
...     wb = load_workbook(xlsx); ws = wb["reviews"]
...     ws.cell(row=2, column=WORKBOOK_COLUMNS.index("status") + 1).value = "dismissed"
...     ws.cell(row=2, column=WORKBOOK_COLUMNS.index("reason") + 1).value = "other campus"
...     wb.save(xlsx)
...     try:
...         import_workbook(st, xlsx, "B. Reviewer")
...     except ImportConflictError as exc:
...         print(exc.conflicts[0].current["status"], st.review_of(fid)["reviewer"])
confirmed A. Reviewer
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tracker.risk import outcome_kind
from tracker.store import (
    REVIEW_EVIDENCE,
    REVIEW_SHEET,
    REVIEW_STATUSES,
    ReviewConflict,
    ReviewConflictError,
    ReviewImportError,
    Store,
    StoreError,
    _now,
)

__all__ = [
    "ON_CONFLICT",
    "WORKBOOK_COLUMNS",
    "ImportConflictError",
    "ImportOutcome",
    "export_workbook",
    "import_workbook",
]

#: What an import does with rows edited on top of an older decision.
ON_CONFLICT = ("keep-current", "take-file")
#: The review workbook's columns, in order.
WORKBOOK_COLUMNS = ("finding_id", *REVIEW_EVIDENCE, "version", "status", "reason", "reviewer")


class ImportConflictError(ReviewConflictError):
    """A review workbook would overwrite newer decisions; nothing from it was recorded.

    ``conflicts`` has one :class:`~tracker.store.ReviewConflict` per row (with its row
    number and the current decision).  Import again with ``on_conflict`` to choose a side.
    """

    def __init__(self, path: Path, conflicts: list[ReviewConflict]) -> None:
        super().__init__(conflicts)
        n = len(conflicts)
        self.args = (f"{path}: nothing imported: {n} row{'s' if n != 1 else ''} would "
                     f"overwrite a newer decision: "
                     + "; ".join(c.describe() for c in conflicts[:3])
                     + (f" (and {n - 3} more)" if n > 3 else "")
                     + "; choose a side with on-conflict keep-current or take-file",)


@dataclass
class ImportOutcome:
    """What an import did.

    ``recorded``: decisions written; ``unchanged``: rows equal to the current decision;
    ``stale_untouched``: rows left as exported whose tie has a newer decision since (kept);
    ``conflicts``: rows edited on top of an older decision (with ``on_conflict``, what was
    done with them is in ``conflict_resolution``); ``rows``: data rows read.
    """

    rows: int = 0
    recorded: int = 0
    unchanged: int = 0
    stale_untouched: int = 0
    conflicts: list[ReviewConflict] = field(default_factory=list)
    conflict_resolution: str = ""

    def counts(self) -> dict[str, int]:
        """The figures as a dict: ``recorded``, ``unchanged``, ``rows`` and the rest."""
        return {"recorded": self.recorded, "unchanged": self.unchanged, "rows": self.rows,
                "stale_untouched": self.stale_untouched, "conflicts": len(self.conflicts)}


#: :func:`export_workbook` and :func:`import_workbook` report their progress every this
#: many findings or rows read.
EXPORT_PROGRESS_EVERY = 10_000


def export_workbook(store: Store, path: str | Path, run_id: int, *,
                    lists: Sequence[str] = (), outcome: str = "", status: str = "",
                    progress: Callable[[int, int, int], None] | None = None) -> Path:
    """Write a review workbook for a run, or for the findings of some lists, of one outcome
    (``flag``, ``review`` or ``context``) or with one review status.

    ``progress(read, total, written)`` hears how many of the run's ``total`` findings were
    read and how many rows were written, every :data:`EXPORT_PROGRESS_EVERY` findings and
    once at the end (788,020 findings take about two minutes).

    One row per finding: the evidence columns, then ``version`` (of the decision shown;
    leave it as it is), ``status`` (a drop-down), ``reason`` and ``reviewer`` holding the
    latest decision.  Fill in ``status`` and ``reason`` and read it back with
    :func:`import_workbook`.

    The rows are streamed from the case file into the workbook (xlsxwriter's
    ``constant_memory``): 788,020 findings took 294 s and 10.2 GB when openpyxl held every
    cell.  Text that looks like a formula is stored as text (Excel's quote prefix), as in
    findings.xlsx; a text longer than a cell holds (32,767 characters) is cut there (the
    case file keeps it whole).  The workbook is written beside ``path`` and moved into
    place when complete: a failed export leaves no half workbook, and an earlier one
    stands.

    A workbook of some findings imports like a whole one: an import touches only the rows
    it holds.  The ``about`` sheet says which findings it holds.

    Raises
    ------
    StoreError
        No such run, or more findings than a worksheet holds (Excel's 1,048,576 rows: a run
        that large can be reviewed a list or an outcome at a time).
    OSError
        The file cannot be written.
    """
    import os

    import xlsxwriter

    from tracker.exports import XLSX_MAX_ROWS
    from tracker.workbook import FORMULA_START, xlsx_text

    path = Path(path)
    if status and status not in REVIEW_STATUSES:
        raise StoreError(f"status must be one of {', '.join(REVIEW_STATUSES)}, not {status!r}")
    if outcome and outcome not in ("flag", "review", "context"):
        raise StoreError(f"outcome must be flag, review or context, not {outcome!r}")
    wanted = set(lists)

    def kept(r: dict[str, Any]) -> bool:
        return ((not wanted or r.get("list") in wanted)
                and (not outcome or outcome_kind(str(r.get("outcome") or "")) == outcome)
                and (not status or r["review_status"] == status))

    some = bool(wanted or outcome or status)
    n = store.findings_count(run_id)  # (no such run: StoreError); of them all, at first
    have = {v for (v,) in store.finding_values(run_id, ["list"])}
    if wanted - have:  # a list code mistyped would give an empty workbook, unexplained
        raise StoreError(f"run {run_id} has no findings on {', '.join(sorted(wanted - have))}"
                         f" (its lists: {', '.join(sorted(have)) or 'none'})")
    if n > XLSX_MAX_ROWS and not some:
        raise StoreError(f"run {run_id} has {n:,} findings, more than a worksheet holds "
                         f"({XLSX_MAX_ROWS:,} rows below the header): export a list or an "
                         "outcome at a time, or review it in the workspace (tracker serve)")
    partial = path.with_name(f".{path.name}.partial")
    # use_zip64: a sheet near a worksheet's million rows can pass 2 GB of XML
    wb = xlsxwriter.Workbook(str(partial), {"constant_memory": True, "use_zip64": True})
    try:
        bold, quoted = wb.add_format({"bold": True}), wb.add_format({"quote_prefix": True})
        ws = wb.add_worksheet(REVIEW_SHEET)
        header = WORKBOOK_COLUMNS
        for j, name in enumerate(header):
            ws.write_string(0, j, name, bold)
            ws.set_column(j, j, 40 if name in ("title", "outcome", "reason", "raw_affiliation")
                          else 9 if name == "version" else 16)
        total, n = n, 0
        for read, r in enumerate(store.iter_findings(run_id), 1):
            if progress is not None and not read % EXPORT_PROGRESS_EVERY:
                progress(read, total, n)
            if some and not kept(r):
                continue
            n += 1
            if n > XLSX_MAX_ROWS:
                raise StoreError(f"run {run_id} has more findings of this choice than a "
                                 f"worksheet holds ({XLSX_MAX_ROWS:,} rows below the header): "
                                 "export a list or an outcome at a time")
            values = {**r, "status": r["review_status"], "reason": r["review_reason"],
                      "version": r["review_version"]}
            for j, name in enumerate(header):
                v = values.get(name, "")
                if isinstance(v, bool):
                    ws.write_boolean(n, j, v)
                elif isinstance(v, int | float):
                    ws.write_number(n, j, v)
                elif v is not None and v != "":
                    text = v if isinstance(v, str) else str(v)
                    ws.write_string(n, j, xlsx_text(text),
                                    quoted if text.startswith(FORMULA_START) else None)
        status_col = header.index("status")
        ws.data_validation(1, status_col, max(n, 1), status_col, {
            "validate": "list", "source": list(REVIEW_STATUSES), "ignore_blank": False,
            "error_title": "status", "error_message": "choose one of "
            + ", ".join(REVIEW_STATUSES)})
        ws.freeze_panes(1, 1)
        ws.autofilter(0, 0, max(n, 0), len(header) - 1)
        about = wb.add_worksheet("about")
        for i, (k, v) in enumerate((
                ("run_id", run_id), ("database", str(store.path)), ("exported_at", _now()),
                ("findings", f"{n:,}" + ("" if not some else " of " + "; ".join(
                    x for x in (f"lists {', '.join(sorted(wanted))}" if wanted else "",
                                f"outcome {outcome}" if outcome else "",
                                f"review status {status}" if status else "") if x))),
                ("how", "set status to confirmed, dismissed or needs_follow_up (a dismissal "
                        "needs a reason), leave version as it is, then: tracker review "
                        "import FILE --reviewer NAME"),
                ("version", "the version of the decision each row shows: an import refuses "
                            "a row edited on top of a decision someone has changed since"),
                ("note", "a finding is evidence for review, not a determination"))):
            about.write_string(i, 0, k)
            if isinstance(v, int):
                about.write_number(i, 1, v)
            else:
                text = str(v)  # (a case file's path may begin like a formula)
                about.write_string(i, 1, xlsx_text(text),
                                   quoted if text.startswith(FORMULA_START) else None)
        wb.close()
        os.replace(partial, path)
        if progress is not None:
            progress(total, total, n)
    except BaseException:
        with contextlib.suppress(Exception):
            wb.close()
        partial.unlink(missing_ok=True)
        raise
    return path


def _read_rows(path: Path, sized: Callable[[int | None], None] | None = None
               ) -> Iterator[tuple[Any, ...]]:
    """The rows of the review sheet, one at a time (788,020 rows held as a list took
    1.8 GB to import); the workbook is closed once they are read, or the reader stops.
    ``sized`` hears how many rows the sheet says it has (None: it does not say), before
    the first row.

    Raises
    ------
    ReviewImportError
        The file is not a workbook (at the first row asked for).
    """
    import zipfile

    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, InvalidFileException,
            EOFError) as exc:
        raise ReviewImportError(path, [
            f"not a complete .xlsx workbook ({type(exc).__name__}: {exc}); export it "
            "again with `tracker review export`, or save it from Excel as .xlsx"]) from None
    try:
        ws = wb[REVIEW_SHEET] if REVIEW_SHEET in wb.sheetnames else wb.worksheets[0]
        if sized is not None:
            sized(ws.max_row)
        yield from ws.iter_rows(values_only=True)
    finally:
        wb.close()


def _base_decision(store: Store, fid: str, version: int) -> tuple[str, str] | None:
    """(status, reason) of the tie's decision ``version`` (0: unreviewed), None if unknown."""
    if version == 0:
        return ("unreviewed", "")
    for h in store.review_history(fid):
        if h["version"] == version:
            return (h["status"], h["reason"])
    return None


def import_workbook(store: Store, path: str | Path, reviewer: str, *,
                    on_conflict: str | None = None,
                    progress: Callable[[int, int | None], None] | None = None
                    ) -> ImportOutcome:
    """Record the decisions in a review workbook, all or nothing.

    Every row is checked first; any unknown finding ID, bad status, bad version or
    dismissal without a reason refuses the whole file, naming the rows.  Rows are then
    compared with the decision they were exported with (see the module notes); the
    decisions are recorded under ``reviewer`` (the person importing), in one transaction
    that checks every version again, so a decision made meanwhile is never overwritten.

    Parameters
    ----------
    store : Store
    path : str or Path
        A workbook written by :func:`export_workbook`.
    reviewer : str
    on_conflict : {None, "keep-current", "take-file"}
        None refuses the file when any row conflicts.
    progress : callable, optional
        ``progress(read, total)``: the rows read below the header, of the ``total`` the
        sheet says it has (None where it does not say), every
        :data:`EXPORT_PROGRESS_EVERY` rows and once when all are read (788,020 rows take
        about two minutes).

    Returns
    -------
    ImportOutcome

    Raises
    ------
    ImportConflictError
        Rows would overwrite newer decisions and ``on_conflict`` is None; nothing recorded.
    ReviewImportError
        The file was refused; nothing was recorded.
    StoreError
        No reviewer, or a bad ``on_conflict``.
    """
    path = Path(path)
    if not reviewer.strip():
        raise StoreError("review import refused: the reviewer's name is required")
    if on_conflict is not None and on_conflict not in ON_CONFLICT:
        raise StoreError(f"review import refused: on-conflict must be one of "
                         f"{', '.join(ON_CONFLICT)}, not {on_conflict!r}")
    size: list[int | None] = [None]

    def sized(n: int | None) -> None:
        size[0] = None if n is None else max(n - 1, 0)

    rows = _read_rows(path, sized)
    first = next(rows, None)
    if first is None:
        raise ReviewImportError(path, ["row 1: no header row"])
    header = [str(h).strip().lower() if h is not None else "" for h in first]
    missing = [c for c in ("finding_id", "status", "reason") if c not in header]
    if missing:
        raise ReviewImportError(path, [f"row 1: column {missing[0]!r} is missing"])
    col: dict[str, int] = {name: header.index(name) for name in
                           ("finding_id", "status", "reason", "version") if name in header}
    latest = store.latest_reviews()
    problems: list[str] = []
    todo: list[tuple[str, str, str, int]] = []   # fid, status, reason, based_on
    out = ImportOutcome()
    seen: dict[str, int] = {}
    n = 1
    for n, values in enumerate(rows, start=2):
        if progress is not None and not (n - 1) % EXPORT_PROGRESS_EVERY:
            progress(n - 1, size[0])

        def cell(name: str, values: tuple[Any, ...] = values) -> str:
            i = col.get(name)
            v = values[i] if i is not None and i < len(values) else None
            return "" if v is None else str(v).strip()

        fid, status, reason = cell("finding_id"), cell("status").lower(), cell("reason")
        if not fid and not status and not reason:
            continue
        if not fid:
            problems.append(f"row {n}: finding_id is empty")
            continue
        if fid in seen:
            problems.append(f"row {n}: finding {fid} already on row {seen[fid]}")
            continue
        seen[fid] = n
        status = status or "unreviewed"
        problem = store._check_review(fid, status, reviewer, reason)
        if problem:
            problems.append(f"row {n}: {problem}")
            continue
        raw_version = cell("version") or "0"
        try:
            based_on = int(float(raw_version))
        except ValueError:
            based_on = -1
        base = _base_decision(store, fid, based_on) if based_on >= 0 else None
        if base is None:
            problems.append(f"row {n}: version {raw_version!r} is not a decision of this "
                            f"finding (leave the version column as exported)")
            continue
        prev = latest.get(fid)
        current = (prev["status"], prev["reason"]) if prev else ("unreviewed", "")
        now = int(prev["version"]) if prev else 0
        if (status, reason) == current:
            out.unchanged += 1
        elif (status, reason) == base:
            out.stale_untouched += 1     # not edited; a newer decision exists: keep it
        elif based_on != now:
            out.conflicts.append(ReviewConflict(fid, based_on, prev, status, n))
            if on_conflict == "take-file":
                todo.append((fid, status, reason, now))
        else:
            todo.append((fid, status, reason, now))
    if progress is not None:
        progress(n - 1, n - 1)  # all read (a sheet may say it has more, blank, rows)
    out.rows = len(seen)
    if problems:
        raise ReviewImportError(path, problems)
    if out.conflicts and on_conflict is None:
        raise ImportConflictError(path, out.conflicts)
    out.conflict_resolution = on_conflict or ""
    if todo:
        try:
            store.set_reviews([(f, s, r, b) for f, s, r, b in todo], reviewer,
                              source=f"import {path.name}")
        except ReviewConflictError as exc:  # a decision was made while we read the file
            raise ImportConflictError(path, exc.conflicts) from None
    out.recorded = len(todo)
    return out
