"""The benchmark workload and peers: deterministic, readable by tracker, and honest.

Each peer (plain Python with dict indexes; DuckDB SQL) must find exactly the identifier ties
tracker finds, or the speed comparison in ``benchmarks/run_all.py`` compares different work.
No timing is asserted here (timing lives in ``benchmarks/``).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
from pathlib import Path

import pytest

from benchmarks import peers
from benchmarks.generate import SYNTHETIC_WORK_BASE, generate, load_pool, write
from tracker.records import parse_work
from tracker.screening import ScreenSettings, screen
from tracker.sources.files import read_works
from tracker.watchlists import load_registry

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "openalex"

pytestmark = pytest.mark.skipif(not SHARED.is_dir(), reason="needs ../shared/data/openalex")


@pytest.fixture(scope="module")
def pool():
    return load_pool(SHARED)


@pytest.fixture(scope="module")
def works_file(tmp_path_factory, pool) -> Path:
    return write(tmp_path_factory.mktemp("bench") / "works.jsonl.gz", 2000, 11, pool)


def _records(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def test_generator_is_deterministic_for_a_seed(tmp_path, pool):
    a = write(tmp_path / "a.jsonl.gz", 300, 4, pool)
    b = write(tmp_path / "b.jsonl.gz", 300, 4, pool)
    c = write(tmp_path / "c.jsonl.gz", 300, 5, pool)
    digest = [hashlib.sha256(p.read_bytes()).hexdigest() for p in (a, b, c)]
    assert digest[0] == digest[1]
    assert digest[0] != digest[2]


def test_every_record_is_labelled_synthetic_and_parses(works_file):
    recs = _records(works_file)
    assert len(recs) == 2000
    for i, rec in enumerate(recs):
        assert rec["_synthetic"] is True
        assert rec["id"] == f"https://openalex.org/W{SYNTHETIC_WORK_BASE + i}"
        work = parse_work(rec)  # raises on an unreadable record
        assert work.id == f"W{SYNTHETIC_WORK_BASE + i}"
        for a in work.authorships:
            assert a.author_id is None or a.author_id.startswith("A9")


def test_workload_has_the_shapes_it_promises(pool):
    recs = list(generate(3000, 2, pool))
    sizes = [len(r["authorships"]) for r in recs]
    auths = [a for r in recs for a in r["authorships"]]
    no_inst = sum(1 for a in auths if not a["institutions"]) / len(auths)
    assert 0.15 < no_inst < 0.45  # ~26 % in the recorded works, more in consortium papers
    assert any(s >= 500 for s in sizes)  # consortium tail (3,000 works: ~4.5 expected)
    assert any(r.get("is_authors_truncated") is True for r in recs)
    assert any("publication_date" not in r and r.get("publication_year") for r in recs)
    assert any("publication_date" in r and r["publication_date"] is None
               and r.get("publication_year") is None for r in recs)


@pytest.mark.parametrize("peer", sorted(peers.PEERS))
def test_each_peer_finds_the_same_identifier_ties_as_tracker(works_file, tmp_path, peer):
    res = screen(read_works(works_file), registry=load_registry(),
                 settings=ScreenSettings(name_matching=False))
    ours = {(f.work_id, f.extra["authorship_index"], f.entry_id): f.listed_at_publication
            for f in res.findings}
    r = peers.PEERS[peer](works_file, tmp_path / "ties.csv")
    theirs = {(t["work_id"], t["authorship_index"], t["entry_id"]) for t in r["ties"]}
    assert len(ours) > 100  # the workload must hold ties, or equality proves nothing
    assert {f.match_method for f in res.findings} >= {"openalex_id", "ror", "lineage"}
    assert set(ours) == theirs
    assert len(r["ties"]) == len(res.findings)
    assert r["edges"] > 1000 and r["works"] == 2000
    with (tmp_path / "ties.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(res.findings)
    # the peer's listing-date test agrees with tracker's default (no framework) outcome
    got = {(x["work_id"], int(x["authorship_index"]), x["entry_id"]): x["listed_at_publication"]
           for x in rows}
    assert got == ours


def test_a_stage_folder_keeps_only_the_ties_once_its_child_has_ended(monkeypatch, tmp_path):
    import subprocess

    from benchmarks import run_all

    def child(cmd, **kw):  # what a tracker stage leaves: its ties and its outputs
        tmp = Path(cmd[cmd.index("--tmp") + 1])
        (tmp / "tracker_triples.json").write_text("[]")
        (tmp / "report").mkdir()
        (tmp / "report" / "findings.csv").write_text("x")
        (tmp / "plan.duckdb").write_text("x")
        return subprocess.CompletedProcess(cmd, 0, 'RESULT {"seconds": 1.5}\n', "")

    monkeypatch.setattr(run_all.subprocess, "run", child)
    r = run_all.measure("tracker", "e2e", Path("w"), 10, scratch=tmp_path)
    assert Path(r["tmp"]).parent == tmp_path
    assert sorted(p.name for p in Path(r["tmp"]).iterdir()) == ["tracker_triples.json"]

    def slow(cmd, **kw):
        (Path(cmd[cmd.index("--tmp") + 1]) / "findings.jsonl").write_text("x")
        raise subprocess.TimeoutExpired(cmd, 10)

    monkeypatch.setattr(run_all.subprocess, "run", slow)
    r = run_all.measure("tracker", "e2e", Path("w"), 10, scratch=tmp_path)
    assert r["stopped"] and not any(Path(r["tmp"]).iterdir())


def test_repeated_end_to_end_rows_keep_the_median_run(monkeypatch):
    from benchmarks import run_all

    seconds = iter([4.0, 3.5, 5.2])
    monkeypatch.setattr(run_all, "measure", lambda *a, **k: {
        "seconds": (s := next(seconds)), "peak_mb": 100 * s, "tmp": f"run-{s}"})
    r = run_all.measure_repeated("tracker", "e2e", Path("w"), 10, 3)
    assert r["seconds"] == 4.0 and r["tmp"] == "run-4.0"  # the median run, with its outputs
    assert r["runs"] == [4.0, 3.5, 5.2] and r["peak_mb"] == 400
    assert run_all._fmt_s(r) == "4.00 s (median of 3: 3.50–5.20)"

    # a stopped run is the result when it comes first, and is not repeated
    calls = []
    monkeypatch.setattr(run_all, "measure",
                        lambda *a, **k: calls.append(a) or {"stopped": True, "limit_s": 10})
    assert run_all.measure_repeated("python", "e2e", Path("w"), 10, 3)["stopped"]
    assert len(calls) == 1


def test_compared_rows_are_measured_in_rounds(monkeypatch):
    """Every compared row once, then every row again (the host's speed then weighs on all
    alike); a stopped row is not run again, the others go on; each keeps its median."""
    from benchmarks import run_all

    calls: list = []
    seconds = {"tracker": iter([3.0, 2.0, 4.0]), "duckdb": iter([1.0, 1.2, 0.9])}

    def measure(tool, stage, works, timeout, **kw):
        calls.append((tool, stage))
        if tool == "python":
            return {"stopped": True, "limit_s": timeout}
        s = next(seconds[tool])
        return {"seconds": s, "peak_mb": 10 * s, "tmp": f"{tool}-{s}"}

    monkeypatch.setattr(run_all, "measure", measure)
    rows = [("tracker", "e2e", 60), ("python", "e2e", 5), ("duckdb", "e2e", 60)]
    got = run_all.measure_rounds(rows, Path("w"), 3)
    assert calls == [("tracker", "e2e"), ("python", "e2e"), ("duckdb", "e2e"),
                     ("tracker", "e2e"), ("duckdb", "e2e"),
                     ("tracker", "e2e"), ("duckdb", "e2e")]
    assert got[("tracker", "e2e")]["seconds"] == 3.0
    assert got[("tracker", "e2e")]["runs"] == [3.0, 2.0, 4.0]
    assert got[("python", "e2e")] == {"stopped": True, "limit_s": 5}
    assert got[("duckdb", "e2e")]["tmp"] == "duckdb-1.0"
