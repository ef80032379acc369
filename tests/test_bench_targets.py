"""The scale targets' harness (``benchmarks/bench_targets.py``): every row runs tracker as a
user does and reports what it found.  No timing is asserted (timing lives in
``benchmarks/``)."""

from __future__ import annotations

import json

import duckdb

import tracker
from benchmarks import bench_targets


def test_every_row_screens_the_same_works_from_gzip_and_parquet(tmp_path, capsys):
    works = tracker.demo_works_path()
    parquet = tmp_path / "works.parquet"  # made from the works, as the README says
    figures = tmp_path / "runs.json"
    assert bench_targets.main(["--works", str(works), "--parquet", str(parquet),
                               "--repeat", "1", "--interval", "0.2", "--scratch",
                               str(tmp_path), "--json", str(figures)]) == 0
    ((n,),) = duckdb.sql(f"SELECT count(*) FROM read_parquet('{parquet}')").fetchall()
    assert n == 71
    table = json.loads(figures.read_text("utf-8"))
    assert [(r["input"], r["way"]) for r in table] == [
        (kind, way) for kind in ("gzip", "Parquet") for way, _ in bench_targets.WAYS]
    for row in table:
        (run,) = row["runs"]
        assert run["exit_code"] == 0 and run["findings"] == 576, row
        assert "--works" in run["command"]
    printed = capsys.readouterr().out.strip().splitlines()
    assert printed[0].startswith("| input | run |") and len(printed) == 2 + len(table)
    assert all(line.endswith("| 576 |") for line in printed[2:])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs.json", "works.parquet"]
