"""Exports case systems take: findings as CSV, JSON and XLSX, the run record, the folder.

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
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import orjson

from tracker.graph import ScreenResultLike, flagged_network, write_network_files
from tracker.redaction import clean_run_record
from tracker.report import write_report
from tracker.risk import FINDING_COLUMNS, Finding
from tracker.workbook import FORMULA_START, write_workbook

__all__ = [
    "FINDINGS_SCHEMA_VERSION",
    "findings_schema",
    "neutralise",
    "remove_stale_writing_folders",
    "write_csv",
    "write_json",
    "write_report_folder",
    "write_run",
    "write_xlsx",
]

FINDINGS_SCHEMA_VERSION = "1.1"



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


def _rows(findings: Iterable[Finding]) -> list[dict[str, Any]]:
    out = []
    for f in findings:
        r = f.row()
        out.append({c: r.get(c, "") for c in FINDING_COLUMNS})
    return out


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
    return _csv_rows(_rows(findings), path)


def _csv_rows(rows: list[dict[str, Any]], path: str | Path) -> Path:
    path = Path(path)
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(FINDING_COLUMNS)
        for r in rows:
            w.writerow([("true" if v else "false") if isinstance(v, bool) else neutralise(v)
                        for v in r.values()])
    return path


def findings_schema() -> dict[str, Any]:
    """The JSON Schema of findings.json (``tracker/data/findings.schema.json``)."""
    text = resources.files("tracker").joinpath("data/findings.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def write_json(findings: Iterable[Finding], run: Mapping[str, Any] | None,
               path: str | Path) -> Path:
    """Write findings.json: ``{"schema", "schema_version", "run", "findings": [...]}``.

    The layout is the JSON Schema in ``tracker/data/findings.schema.json``; each finding has
    the :data:`~tracker.risk.FINDING_COLUMNS` keys in order; the run record is scrubbed of
    secrets.  Values are exact (no formula neutralising: JSON is data, not a spreadsheet).

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     doc = json.loads(write_json([], {"tool": "tracker"}, Path(d) / "f.json").read_text())
    >>> doc["schema"], doc["findings"]
    ('tracker-findings', [])
    """
    return _json_rows(_rows(findings), run, path)


def _json_rows(rows: list[dict[str, Any]], run: Mapping[str, Any] | None,
               path: str | Path) -> Path:
    path = Path(path)
    doc = {
        "schema": "tracker-findings",
        "schema_version": FINDINGS_SCHEMA_VERSION,
        "columns": list(FINDING_COLUMNS),
        "run": clean_run_record(run),
        "findings": rows,
    }
    # orjson: about ten times faster than json.dumps(indent=...) at tens of thousands of rows
    path.write_bytes(orjson.dumps(doc, default=str, option=orjson.OPT_INDENT_2
                                  | orjson.OPT_NON_STR_KEYS | orjson.OPT_APPEND_NEWLINE))
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
#: writes the other files (xlsxwriter is pure Python: about 0.2 ms per row).
PARALLEL_XLSX_ROWS = 5_000


def _start_xlsx(rows: list[dict[str, Any]], run: Mapping[str, Any], path: Path
                ) -> tuple[subprocess.Popen[bytes], Path] | None:
    """Start writing findings.xlsx in a second Python process; None when that does not pay
    (few rows, one core) or cannot be done here.

    A fresh interpreter (``python -c``) rather than :mod:`multiprocessing`: ``spawn`` would
    re-run an analyst's unguarded script, and ``fork`` is unsafe under a progress thread or a
    notebook kernel.  The rows (already free of secrets) go through a private temporary file.
    """
    if len(rows) < PARALLEL_XLSX_ROWS or (os.cpu_count() or 1) < 2 or not sys.executable:
        return None
    fd, name = tempfile.mkstemp(prefix="tracker-xlsx-", suffix=".json")  # mode 0600
    payload = Path(name)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(orjson.dumps({"rows": rows, "columns": FINDING_COLUMNS, "run": run,
                                   "path": str(path)}, default=str,
                                  option=orjson.OPT_NON_STR_KEYS))
        package_root = str(Path(__file__).resolve().parents[1])
        # tracker.workbook imports only xlsxwriter and orjson: this process starts in 0.1 s.
        # Its cyclic garbage collector is off: the passes over the rows and xlsxwriter's
        # cells free nothing (47,627 findings: 8.9 s → 7.9 s), and the process then ends.
        code = (f"import gc, sys; gc.disable(); sys.path.insert(0, {package_root!r}); "
                f"from tracker.workbook import _worker; _worker({name!r})")
        proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except (OSError, TypeError, ValueError):
        payload.unlink(missing_ok=True)
        return None
    return proc, payload


def _finish_xlsx(started: tuple[subprocess.Popen[bytes], Path] | None,
                 rows: list[dict[str, Any]], run: Mapping[str, Any], path: Path) -> Path:
    """Wait for the second process; if it failed (killed, out of memory, no tracker there),
    write the workbook here, so a finished report folder always holds it."""
    if started is not None:
        proc, payload = started
        try:
            code = proc.wait()
        finally:
            payload.unlink(missing_ok=True)
        if code == 0 and path.is_file():
            return path
    return write_workbook(rows, FINDING_COLUMNS, run, path)


def _abandon_xlsx(started: tuple[subprocess.Popen[bytes], Path] | None) -> None:
    """Stop the second process and remove its rows file: the report folder failed."""
    if started is None:
        return
    proc, payload = started
    try:
        proc.kill()
        proc.wait()
    finally:
        payload.unlink(missing_ok=True)


#: The hidden folder a report folder is written into before its files move into place.
WRITING_PREFIX = ".tracker-writing-"
#: Inside it: which process writes there (pid, host, start time), to tell a stale one.
WRITING_OWNER = ".owner.json"
#: A writing folder older than this is stale whoever made it (no write takes a day).
STALE_WRITING_SECONDS = 24 * 3600
#: One without an owner file (made by an older tracker) is stale after an hour.
STALE_UNOWNED_SECONDS = 3600


def _writer_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists (another user's), or cannot tell: leave it
    return True


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
    if owner.get("host") != socket.gethostname() or not isinstance(owner.get("pid"), int):
        return False  # another machine's (a shared folder): only its age tells
    return owner["pid"] != os.getpid() and not _writer_alive(owner["pid"])


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
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> left = d / ".tracker-writing-abc"; left.mkdir()
    >>> _ = (left / WRITING_OWNER).write_text('{"pid": 999999999, "host": "%s"}'
    ...                                       % socket.gethostname())
    >>> [p.name for p in remove_stale_writing_folders(d)], left.exists()
    (['.tracker-writing-abc'], False)
    """
    folder = Path(out_dir)
    removed: list[Path] = []
    now = time.time()
    try:
        candidates = [p for p in folder.iterdir() if p.name.startswith(WRITING_PREFIX)]
    except OSError:
        return removed
    for p in candidates:
        try:
            stale = _is_stale_writing_folder(p, now)
        except OSError:
            continue
        if stale:
            shutil.rmtree(p, ignore_errors=True)
            if not p.exists():
                removed.append(p)
    return removed


def write_report_folder(result: ScreenResultLike, out_dir: str | Path, *,
                        max_nodes: int = 5000) -> dict[str, Path]:
    """Write everything a case file needs into ``out_dir``.

    Files: findings.csv, findings.json, findings.xlsx, run.json, report.html,
    network.graphml, network.gexf (the flagged network, pruned at ``max_nodes`` as
    :func:`tracker.graph.flagged_network` states).  From :data:`PARALLEL_XLSX_ROWS` findings
    on, findings.xlsx is written by a second Python process meanwhile (the function returns
    when every file is complete; where that process cannot run, it writes the workbook itself).
    The flagged network is built once (report.html draws its first works, as
    :func:`tracker.graph.prune_flagged_network` states) and the run record is scrubbed of
    secrets once (:func:`tracker.redaction.clean_run_record`) for all the files.

    The files are written into a hidden folder inside ``out_dir`` and moved into place only
    when all seven are complete: a run stopped part-way (an error, Ctrl-C) leaves the
    previous run's files as they were, never a mixture of two runs.  A hidden folder left by
    a process that was killed is removed by the next write (see
    :func:`remove_stale_writing_folders`).

    Returns
    -------
    dict of str to Path
        File name to path, in the order above.
    """
    final = Path(out_dir)
    final.mkdir(parents=True, exist_ok=True)
    remove_stale_writing_folders(final)
    out = Path(tempfile.mkdtemp(prefix=WRITING_PREFIX, dir=final))
    (out / WRITING_OWNER).write_text(json.dumps(
        {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}), "utf-8")
    findings: Sequence[Finding] = list(result.findings)
    run = clean_run_record(result.run)
    rows = _rows(findings)  # once for the three tables
    try:
        xlsx = _start_xlsx(rows, run, out / "findings.xlsx")  # the longest: started first
        try:
            g, _note = flagged_network(result, max_nodes=max_nodes)
            files = {
                "findings.csv": _csv_rows(rows, out / "findings.csv"),
                "findings.json": _json_rows(rows, run, out / "findings.json"),
                "findings.xlsx": out / "findings.xlsx",
                "run.json": write_run(run, out / "run.json"),
                "report.html": write_report(result, out, network=g, run=run),
            }
            files["network.graphml"], files["network.gexf"] = write_network_files(
                g, out / "network.graphml", out / "network.gexf")
            _finish_xlsx(xlsx, rows, run, out / "findings.xlsx")
        except BaseException:  # an error or Ctrl-C: no helper left running, no rows file
            _abandon_xlsx(xlsx)
            raise
        for name, path in files.items():  # all complete: into place, each in one step
            os.replace(path, final / name)
            files[name] = final / name
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return files
