"""The scale targets end to end, as a user runs tracker: ``tracker screen`` of the same works
from JSON Lines gzip and from Parquet, each three ways (the defaults, with the case file
and every finding file; without the case file, ``--no-record``; and without it, writing
only findings.parquet and findings.csv, ``--formats parquet,csv``), each run measured by
:func:`benchmarks.bench_screen.run` (wall, CPU, the process tree's peak memory).

The rows are run in rounds: every row once, then every row again (``--repeat``).  This
machine's speed moves by a fifth within minutes, and in rounds it weighs on every row
alike, so the rows compare; a single figure still says little about the target alone.
Each run starts from nothing (a new report folder and case file).  Prints a Markdown
table and, with ``--json FILE``, writes every run's figures.

    python -m benchmarks.generate --n 1000000 --seed 1 --out works1m.jsonl.gz
    python -m benchmarks.bench_targets --works works1m.jsonl.gz --parquet works1m.parquet

A ``--parquet`` file that does not exist is made from ``--works`` first, as
benchmarks/README says (DuckDB, every record's fields read, row groups of 100,000 rows,
zstd: about 1.5 minutes at a million works); without ``--parquet`` only gzip is run.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.bench_screen import run

#: The ways each input is screened: name, and the options besides ``--works`` and ``--out``
#: (``{case}``: a case file of the run's own).
WAYS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("the defaults (case file, every finding file)", ("--db", "{case}")),
    ("no case file (`--no-record`)", ("--no-record",)),
    ("no case file, `--formats parquet,csv`", ("--no-record", "--formats", "parquet,csv")),
)


def tracker_command() -> list[str]:
    """``tracker`` as installed beside this interpreter (else on the PATH, else run by
    this interpreter from the package)."""
    script = Path(sys.executable).with_name("tracker")
    if script.is_file():
        return [str(script)]
    found = shutil.which("tracker")
    if found:
        return [found]
    return [sys.executable, "-c", "import sys; from tracker.cli import main; "
            "sys.exit(main())"]


def _lit(path: Path) -> str:
    """``path`` as an SQL string literal."""
    return "'" + str(path).replace("'", "''") + "'"


def make_parquet(works: Path, parquet: Path) -> Path:
    """``works`` (JSON Lines) written as Parquet by DuckDB: every record's fields, row
    groups of 100,000 rows, zstd; into a temporary file moved into place when complete."""
    import duckdb

    part = parquet.with_name(parquet.name + ".part")
    con = duckdb.connect()
    try:
        con.execute("SET preserve_insertion_order = true")
        con.execute("SET enable_progress_bar = false")  # the table's lines stay readable
        con.execute(
            f"COPY (SELECT * FROM read_json({_lit(works)}, format='newline_delimited', "
            f"sample_size=-1, maximum_object_size=67108864)) TO {_lit(part)} "
            "(FORMAT parquet, ROW_GROUP_SIZE 100000, COMPRESSION zstd)")
    finally:
        con.close()
    part.replace(parquet)
    return parquet


def rows(works: Path, parquet: Path | None) -> list[tuple[str, str, Path, tuple[str, ...]]]:
    """Every row: (input's kind, way, input, options)."""
    inputs = [("gzip", works)] + ([("Parquet", parquet)] if parquet is not None else [])
    return [(kind, way, path, opts) for kind, path in inputs for way, opts in WAYS]


def measure(works: Path, parquet: Path | None, *, repeat: int = 1,
            scratch: Path | None = None, interval: float = 1.0) -> list[dict[str, Any]]:
    """Each row's runs (:func:`rows`), in rounds; one dict a row with its ``runs``."""
    plan = rows(works, parquet)
    table: list[dict[str, Any]] = [{"input": kind, "way": way, "runs": []}
                                   for kind, way, _, _ in plan]
    cmd = tracker_command()
    for _ in range(max(1, repeat)):
        for row, (_, _, path, opts) in zip(table, plan, strict=True):
            folder = Path(tempfile.mkdtemp(prefix="bench-targets-", dir=scratch))
            try:
                case = folder / "case.db"
                args = [o.replace("{case}", str(case)) for o in opts]
                row["runs"].append(run([*cmd, "screen", "--works", str(path), "--out",
                                        str(folder / "report"), "--no-progress", *args],
                                       interval=interval, quiet=True))
            finally:
                shutil.rmtree(folder, ignore_errors=True)
    return table


def markdown(table: Sequence[dict[str, Any]]) -> str:
    """The table: each row's runs' wall seconds, their median, CPU seconds, the process
    tree's peak and the findings (a row whose runs disagree, or that failed, says so)."""
    lines = ["| input | run | wall (each run) | median | CPU s | process tree | findings |",
             "|---|---|---|---:|---:|---:|---:|"]
    for row in table:
        runs = row["runs"]
        failed = [r for r in runs if r["exit_code"] != 0]
        walls = [r["wall_s"] for r in runs]
        found = sorted({r.get("findings") for r in runs}, key=str)
        lines.append(
            f"| {row['input']} | {row['way']} | "
            f"{', '.join(f'{w:.1f} s' for w in walls)} | "
            f"{statistics.median(walls):.1f} s | "
            f"{', '.join(str(round(r['cpu_s'])) for r in runs)} | "
            f"{max(r['peak_rss_gb'] for r in runs):.2f} GB | "
            + (f"**exit {failed[0]['exit_code']}**" if failed
               else ", ".join(f"{n:,}" if isinstance(n, int) else str(n) for n in found))
            + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 epilog="Example: python -m benchmarks.bench_targets "
                                        "--works works1m.jsonl.gz --parquet works1m.parquet")
    ap.add_argument("--works", type=Path, required=True, help="works as JSON Lines gzip")
    ap.add_argument("--parquet", type=Path,
                    help="the same works as Parquet (made from --works when missing)")
    ap.add_argument("--repeat", type=int, default=2, help="rounds (default 2)")
    ap.add_argument("--scratch", type=Path, help="where the runs write (default: temp)")
    ap.add_argument("--interval", type=float, default=1.0, help="memory samples, seconds")
    ap.add_argument("--json", type=Path, help="write every run's figures here")
    opts = ap.parse_args(argv)
    if not opts.works.is_file():
        ap.error(f"--works: no file {opts.works}")
    if opts.parquet is not None and not opts.parquet.is_file():
        print(f"making {opts.parquet} from {opts.works}", file=sys.stderr, flush=True)
        make_parquet(opts.works, opts.parquet)
    table = measure(opts.works, opts.parquet, repeat=opts.repeat, scratch=opts.scratch,
                    interval=opts.interval)
    if opts.json is not None:
        opts.json.write_text(json.dumps(table, indent=1), "utf-8")
    print(markdown(table))
    return 0 if all(r["exit_code"] == 0 for row in table for r in row["runs"]) else 1


if __name__ == "__main__":
    raise SystemExit(main())
