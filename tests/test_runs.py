"""Runs that are honest about how they ended, through the library (tracker.runs) and the
CLI: run status in the case file, inputs with no usable works, machine problems, CSV files
saved from Excel, the same screen by two paths, stale writing folders."""

from __future__ import annotations

import errno
import gzip
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import tracker
from tests._paths import OPENALEX
from tracker.cli import EXIT_ENVIRONMENT, EXIT_INPUT, main
from tracker.runs import (
    NoUsableWorks,
    ProgressEvent,
    RunEnvironmentError,
    RunInputError,
    RunRequest,
    run,
)
from tracker.store import SCHEMA_VERSION, Store

# Real authors of the bundled demo works (CC0), by the identifiers their records carry.
LIN_ORCID = "0000-0002-5616-558X"
TEDERSOO_ORCID = "0000-0002-1635-1249"


def cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def one_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err and "internal error" not in err, err
    return lines[0]


@pytest.fixture
def demo_copy(tmp_path) -> Path:
    f = tmp_path / "data" / "works.jsonl.gz"
    f.parent.mkdir()
    f.write_bytes(tracker.demo_works_path().read_bytes())
    return f


# --------------------------------------------------------------------------- the API

def test_run_reports_progress_records_and_writes(tmp_path, demo_copy):
    events: list[ProgressEvent] = []
    done = run(RunRequest(works=(demo_copy,), db=tmp_path / "case.db", out=tmp_path / "r",
                          command=("test",)), progress=events.append)
    assert done.status == "finished" and done.run_id == 1 and done.previous_run_id is None
    assert done.result.run["counts"]["works_read"] == 71 and done.result.findings
    assert (tmp_path / "r" / "run.json").is_file() and set(done.paths) >= {"report.html"}
    stages = list(dict.fromkeys(e.stage for e in events))
    assert stages == ["screen", "case", "report"]  # screening, the case file, the folder
    last = {e.stage: e for e in events}
    assert last["screen"].done == last["screen"].total
    assert last["case"].done == last["case"].total == len(done.result.findings)
    assert last["case"].unit == "findings" and last["case"].note == "case file"
    assert last["report"].done == last["report"].total == len(done.paths)
    assert last["report"].unit == "files" and last["report"].note == "report folder"
    for stage in ("case", "report"):
        counts = [e.done for e in events if e.stage == stage]
        assert counts == sorted(counts)
    with Store(tmp_path / "case.db") as st:
        assert [(r["id"], r["status"]) for r in st.runs()] == [(1, "finished")]
    # names are on by default, and the record says so
    assert done.result.run["settings"]["name_matching"] is True


def test_a_rerun_s_finding_files_hold_earlier_decisions_and_its_records_the_diff(
        tmp_path, demo_copy, monkeypatch):
    """The finding files are written while the run is recorded in the case file: they
    still hold the decisions made on earlier runs, and what reads the run record (run.json,
    the workbook's run sheet, here written by its second process) its diff against the
    previous run."""
    import csv

    from openpyxl import load_workbook

    import tracker.exports as ex

    monkeypatch.setattr(ex, "PARALLEL_XLSX_ROWS", 1)  # the workbook's second process
    req = dict(works=(demo_copy,), db=tmp_path / "case.db", command=("test",))
    first = run(RunRequest(**req, out=tmp_path / "r1"))
    fid = first.result.findings[0].finding_id
    with Store(tmp_path / "case.db") as st:
        st.set_review(fid, "confirmed", "ana")
    again = run(RunRequest(**req, out=tmp_path / "r2"))
    assert again.previous_run_id == first.run_id
    with (tmp_path / "r2" / "findings.csv").open(encoding="utf-8") as fh:
        status = {r["finding_id"]: r["review_status"] for r in csv.DictReader(fh)}
    assert status[fid] == "confirmed"
    assert set(status.values()) == {"confirmed", "unreviewed"}
    rows = [json.loads(x) for x in (tmp_path / "r2" / "findings.jsonl").read_text().split("\n")
            if x]
    assert [r["review_status"] for r in rows if r["finding_id"] == fid] == ["confirmed"]
    record = json.loads((tmp_path / "r2" / "run.json").read_text())
    assert record["diff"]["previous_run"] == first.run_id
    assert record["case_file"]["run_id"] == again.run_id
    wb = load_workbook(tmp_path / "r2" / "findings.xlsx")
    sheet = {r[0]: r[1] for r in wb["run"].iter_rows(min_row=2, values_only=True) if r}
    assert sheet["diff.previous_run"] == first.run_id
    assert sheet["case_file.run_id"] == again.run_id


def test_the_duckdb_engine_s_stages_each_end_and_say_what_they_count(tmp_path, demo_copy):
    """The engine's bars: reading works, the distinct keys looked up (keys, not works),
    screening; each ends (a last event with its total), so no bar's clock runs on."""
    pytest.importorskip("duckdb")
    events: list[ProgressEvent] = []
    run(RunRequest(works=(demo_copy,), engine="duckdb", record=False, out=tmp_path / "r",
                   command=("test",)), progress=events.append)
    stages = list(dict.fromkeys(e.stage for e in events))
    assert stages == ["read", "keys", "screen", "report"]
    last = {e.stage: e for e in events}
    for stage in stages:
        assert last[stage].done == last[stage].total, last[stage]
    assert {e.unit for e in events if e.stage == "keys"} == {"keys"}
    assert last["read"].done == last["screen"].done == 71
    assert last["keys"].done > 0
    # while DuckDB reads: megabytes of the input, from none to all; then the works read
    mb = [(e.done, e.total) for e in events if e.stage == "read" and e.unit == "MB"]
    size = -(-demo_copy.stat().st_size // 1_000_000)
    assert mb[0] == (0, size) and mb[-1] == (size, size)
    assert last["read"].unit == "works"


def test_works_read_again_to_be_kept_have_a_bar_that_ends(tmp_path, demo_copy):
    """A run of the DuckDB engine keeps its works in the case file by reading them once
    more (tens of seconds at 100,000 works): a bar of its own counts them, to all of them."""
    pytest.importorskip("duckdb")
    events: list[ProgressEvent] = []
    done = run(RunRequest(works=(demo_copy,), engine="duckdb", db=tmp_path / "case.db",
                          out=tmp_path / "r", command=("test",)), progress=events.append)
    kept = [e for e in events if e.stage == "keep"]
    assert kept and kept[0].done == 0 and kept[-1].done == kept[-1].total == 71
    assert {e.note for e in kept} == {"works kept for rescreen"}
    assert {e.unit for e in kept} == {"works"}
    with Store(tmp_path / "case.db") as st:
        assert st.runs()[0]["status"] == "finished" and done.run_id == 1
    events.clear()  # the python engine: its screening packs them, nothing read again
    run(RunRequest(works=(demo_copy,), engine="python", db=tmp_path / "case.db",
                   out=tmp_path / "r", command=("test",)), progress=events.append)
    assert not [e for e in events if e.stage == "keep"]


def test_run_without_the_case_file_keeps_nothing(tmp_path, demo_copy, monkeypatch):
    monkeypatch.setenv("TRACKER_HOME", str(tmp_path / "home"))
    done = run(RunRequest(works=(demo_copy,), record=False))
    assert done.run_id is None and "case_file" not in done.result.run
    assert not (tmp_path / "home" / "tracker.db").exists()


@pytest.mark.parametrize("request_kw, needle", [
    ({}, "give works files"),
    ({"works": (Path("/nonexistent.jsonl"),)}, "no such file"),
    ({"orgs": ("I1",), "strategy": "fastest"}, "full or prefilter"),
    ({"works": ("{demo}",), "lists": ("NOPE",)}, "unknown list code"),
    ({"works": ("{demo}",), "framework": "dod-1999"}, "unknown framework"),
])
def test_bad_requests_raise_run_input_error(tmp_path, request_kw, needle):
    kw = {k: tuple(tracker.demo_works_path() if v == "{demo}" else v for v in vs)
          if isinstance(vs, tuple) else vs for k, vs in request_kw.items()}
    with pytest.raises(RunInputError, match=needle):
        run(RunRequest(**kw, db=tmp_path / "case.db"))


# --------------------------------------------------------------------------- run status

def test_an_interrupted_run_is_never_the_previous_run(tmp_path, capsys, monkeypatch):
    """The defect: a run that found 501 ties was interrupted while writing its report, and
    the rerun reported "0 new" against it."""
    import tracker.exports

    real = tracker.exports.write_report_folder

    def ctrl_c(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(tracker.exports, "write_report_folder", ctrl_c)
    code, _, err = cli(capsys, "demo", "-o", str(tmp_path / "a"), "--no-progress")
    assert code == 130, err
    monkeypatch.setattr(tracker.exports, "write_report_folder", real)
    code, out, err = cli(capsys, "runs")
    assert code == 0 and " interrupted (stopped by Ctrl-C) " in out, out
    code, _, err = cli(capsys, "demo", "-o", str(tmp_path / "b"), "--no-progress")
    assert code == 0, err
    rec = json.loads((tmp_path / "b" / "run.json").read_text("utf-8"))
    assert rec["case_file"]["run_id"] == 2
    assert rec["diff"]["previous_run"] is None, "compared with an interrupted run"
    # a third run compares with the finished second, not the interrupted first
    code, _, err = cli(capsys, "demo", "-o", str(tmp_path / "c"), "--no-progress")
    rec = json.loads((tmp_path / "c" / "run.json").read_text("utf-8"))
    assert rec["diff"]["previous_run"] == 2 and rec["diff"]["counts"]["new"] == 0
    code, out, _ = cli(capsys, "review", "list")
    assert out.startswith("run 3:")


def test_a_killed_run_stays_running_and_does_not_count(tmp_path, demo_copy):
    db = tmp_path / "case.db"
    code = (f"import os, signal, tracker.exports\n"
            f"from pathlib import Path\n"
            f"from tracker.runs import RunRequest, run\n"
            f"tracker.exports.write_report_folder = "
            f"lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)\n"
            f"run(RunRequest(works=(Path({str(demo_copy)!r}),), db=Path({str(db)!r}),"
            f" out=Path({str(tmp_path / 'r')!r})))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=300,
                          check=False)
    assert proc.returncode == -9, proc.stderr
    with Store(db) as st:
        assert [(r["id"], r["status"]) for r in st.runs()] == [(1, "running")]
        assert st.latest_run_id() is None and st.latest_run_id(finished_only=False) == 1
    done = run(RunRequest(works=(demo_copy,), db=db))
    assert done.run_id == 2 and done.previous_run_id is None


def test_runs_lists_how_each_run_ended(tmp_path, capsys, demo_copy):
    db = tmp_path / "case.db"
    with Store(db) as st:
        st.start_run(["tracker", "screen"], {})
    run(RunRequest(works=(demo_copy,), db=db))
    code, out, _ = cli(capsys, "runs", "--db", str(db))
    lines = out.splitlines()
    assert code == 0 and "running/not finished" in lines[0] and " finished " in lines[1]


def test_a_full_disk_while_writing_fails_the_run_with_advice(tmp_path, capsys, monkeypatch):
    import tracker.exports

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(tracker.exports, "write_report_folder", full)
    code, _, err = cli(capsys, "demo", "-o", str(tmp_path / "r"), "--no-progress")
    assert code == EXIT_ENVIRONMENT
    assert "free some disk space" in one_line(err)
    with Store() as st:
        (r,) = st.runs()
    assert r["status"] == "failed" and "cannot write the report" in r["status_reason"]


def test_an_unwritable_out_folder_fails_before_screening(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    code, _, err = cli(capsys, "demo", "-o", str(blocker / "report"), "--no-progress")
    assert code == EXIT_ENVIRONMENT and "choose a folder you can write" in one_line(err)
    with Store() as st:
        assert [r["status"] for r in st.runs()] == ["failed"]


def test_a_case_file_that_cannot_be_written_is_one_line_exit_5(tmp_path, capsys, monkeypatch):
    def readonly(self):
        raise sqlite3.OperationalError("attempt to write a readonly database")

    monkeypatch.setattr(Store, "_tx", readonly)
    code, _, err = cli(capsys, "demo", "-o", str(tmp_path / "r"), "--no-progress")
    assert code == EXIT_ENVIRONMENT and "make it writable" in one_line(err)


def test_a_damaged_case_file_is_one_line_exit_5(tmp_path, capsys):
    db = tmp_path / "case.db"
    assert cli(capsys, "demo", "--db", str(db), "-o", str(tmp_path / "r"), "--no-progress")[0] == 0
    data = bytearray(db.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)  # the first page's b-tree, after the header
    db.write_bytes(bytes(data))
    for wal in (db.with_name("case.db-wal"), db.with_name("case.db-shm")):
        wal.unlink(missing_ok=True)
    code, _, err = cli(capsys, "runs", "--db", str(db))
    assert code == EXIT_ENVIRONMENT and "case file cannot be used" in one_line(err)


@pytest.mark.parametrize("damage", ["truncated", "csv"])
def test_a_workbook_that_is_not_xlsx_is_refused_in_one_line(tmp_path, capsys, damage):
    db = tmp_path / "case.db"
    assert cli(capsys, "demo", "--db", str(db), "-o", str(tmp_path / "r"), "--no-progress")[0] == 0
    book = tmp_path / "reviews.xlsx"
    assert cli(capsys, "review", "export", str(book), "--db", str(db))[0] == 0
    if damage == "truncated":
        book.write_bytes(book.read_bytes()[:2000])
    else:
        book.write_text("finding_id,status,reason\nabc,confirmed,\n", "utf-8")
    code, _, err = cli(capsys, "review", "import", str(book), "--reviewer", "A. Reviewer",
                       "--db", str(db))
    assert code == EXIT_INPUT and "not a complete .xlsx workbook" in one_line(err)


def test_version_1_case_files_are_migrated(tmp_path):
    db = tmp_path / "old.db"
    con = sqlite3.connect(db)
    con.executescript("""
        CREATE TABLE schema_version (version INTEGER NOT NULL);
        INSERT INTO schema_version VALUES (1);
        CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, started_at TEXT NOT NULL,
            finished_at TEXT NOT NULL, tool_version TEXT NOT NULL, command TEXT NOT NULL,
            settings TEXT NOT NULL, inputs TEXT NOT NULL, registry TEXT NOT NULL,
            counts TEXT NOT NULL, data_gaps TEXT NOT NULL, record TEXT NOT NULL,
            comparable_key TEXT NOT NULL, recorded_at TEXT NOT NULL);
        INSERT INTO runs VALUES (NULL, '2026-01-01T00:00:00+00:00', '2026-01-01T00:01:00+00:00',
            '0.1.0', '["tracker","demo"]', '{}', '[]', '{}', '{}', '{}', '{}', 'k',
            '2026-01-01T00:01:00+00:00');
    """)
    con.close()
    with Store(db) as st:
        (r,) = st.runs()
        assert r["status"] == "finished" and "before tracker kept run status" in \
            r["status_reason"]
        assert st.latest_run_id() == 1
    con = sqlite3.connect(db)
    assert con.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
    con.close()


# --------------------------------------------------------------------------- the same screen

def test_the_same_screen_by_relative_and_absolute_path_is_compared(tmp_path, demo_copy,
                                                                   monkeypatch, capsys):
    out = tmp_path / "r"
    code, _, err = cli(capsys, "screen", "--works", str(demo_copy), "-o", str(out),
                       "--no-progress")
    assert code == 0, err
    monkeypatch.chdir(demo_copy.parent)
    code, _, err = cli(capsys, "screen", "--works", demo_copy.name, "-o", str(out),
                       "--no-progress")
    assert code == 0, err
    diff = json.loads((out / "run.json").read_text("utf-8"))["diff"]
    assert diff["previous_run"] == 1 and diff["counts"]["new"] == 0


# --------------------------------------------------------------------------- no usable works

def _authors_file(tmp_path: Path) -> Path:
    return OPENALEX / "authors_bibgraph_2025-10.jsonl.gz"


def _error_page(tmp_path: Path) -> Path:
    return OPENALEX / "fixture_error_400_invalid_filter_2026-03-02.json"


def _cut_jsonl(tmp_path: Path) -> Path:
    f = tmp_path / "cut.jsonl"
    data = gzip.decompress((OPENALEX / "works_bibgraph_2025-10.jsonl.gz").read_bytes())
    lines = data.split(b"\n")[:3]
    f.write_bytes(b"\n".join(lines)[:-500])  # the third line is cut off mid-record
    return f


@pytest.mark.parametrize("make, needle", [
    (_authors_file, "no usable works"),
    (_error_page, "no usable works"),
    (_cut_jsonl, "the download looks truncated"),
])
def test_works_files_without_usable_works_exit_2(tmp_path, capsys, make, needle):
    code, _, err = cli(capsys, "screen", "--works", str(make(tmp_path)), "-o",
                       str(tmp_path / "r"), "--no-progress")
    assert code == EXIT_INPUT and needle in one_line(err)
    assert not (tmp_path / "r").exists()
    with Store() as st:  # the run is recorded as failed, never as finished
        assert [r["status"] for r in st.runs()] == ["failed"]


def test_a_roster_without_identifier_columns_is_refused_on_saved_works(tmp_path, capsys):
    roster = tmp_path / "roster.csv"
    roster.write_text("name,department\nStephen Lin,Vision\nLeho Tedersoo,Soils\n", "utf-8")
    code, _, err = cli(capsys, "screen", "--works", str(tracker.demo_works_path()),
                       "--roster", str(roster), "-o", str(tmp_path / "r"), "--no-progress")
    assert code == EXIT_INPUT and "no row has an ORCID or OpenAlex author ID" in one_line(err)
    with pytest.raises(NoUsableWorks):
        run(RunRequest(works=(tracker.demo_works_path(),), roster=roster, record=False))


# --------------------------------------------------------------------------- Excel CSV

ROSTER = [("name", "department", "orcid"), ("Stephen Lin", "Informática", LIN_ORCID),
          ("Leho Tedersoo", "Ökologie", TEDERSOO_ORCID)]


@pytest.mark.parametrize("encoding, delimiter", [
    ("utf-8", ","), ("cp1252", ";"), ("utf-16", "\t"), ("utf-8-sig", ";"), ("cp1252", ",")])
def test_rosters_saved_from_excel_are_read(tmp_path, capsys, encoding, delimiter):
    roster = tmp_path / "roster.csv"
    roster.write_bytes("".join(delimiter.join(r) + "\r\n" for r in ROSTER).encode(encoding))
    rows, problems = tracker.read_roster(roster)
    assert not problems
    assert [(r.name, r.department, r.orcid) for r in rows] == [tuple(r) for r in ROSTER[1:]]
    code, out, err = cli(capsys, "screen", "--works", str(tracker.demo_works_path()),
                         "--roster", str(roster), "-o", str(tmp_path / "r"), "--no-progress")
    assert code == 0, err
    assert out.count("screened") >= 2


# --------------------------------------------------------------------------- writing folders

def test_a_killed_writers_folder_is_cleaned_and_only_that(tmp_path, capsys):
    import socket

    out = tmp_path / "r"
    out.mkdir()
    host = socket.gethostname()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    stale = out / ".tracker-writing-stale"
    stale.mkdir()
    (stale / ".owner.json").write_text(json.dumps({"pid": int(dead.stdout), "host": host}))
    (stale / "findings.csv").write_text("half a file")
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        busy = out / ".tracker-writing-busy"
        busy.mkdir()
        (busy / ".owner.json").write_text(json.dumps({"pid": alive.pid, "host": host}))
        mine = out / ".tracker-writing-notes"  # a user's own folder that shares the prefix
        (mine / "sub").mkdir(parents=True)
        old = out / ".tracker-writing-legacy"  # an older tracker's, without an owner file
        old.mkdir()
        (old / "run.json").write_text("{}")
        os.utime(old, (0, 0))
        code, _, err = cli(capsys, "demo", "-o", str(out), "--no-progress")
        assert code == 0, err
        left = sorted(p.name for p in out.iterdir() if p.name.startswith(".tracker-writing"))
        assert left == [".tracker-writing-busy", ".tracker-writing-notes"]
    finally:
        alive.kill()
        alive.wait()


# --------------------------------------------------------------------------- the package

def test_findings_frame_is_importable_from_the_package():
    assert "findings_frame" in tracker.__all__
    frame = tracker.findings_frame([])
    assert list(frame.columns) == list(tracker.FINDING_COLUMNS)


def test_screen_records_name_matching_as_it_was_done(works, reg):
    ids_only = tracker.screen(works, registry=reg)
    assert ids_only.run["settings"]["name_matching"] is False
    assert ids_only.run["data_gaps"]["name_matching"].startswith("off")
    from tracker.names import NameMatcher

    with_names = tracker.screen(works, registry=reg, name_matcher=NameMatcher(reg))
    assert with_names.run["settings"]["name_matching"] is True
    off = tracker.screen(works, registry=reg, name_matcher=NameMatcher(reg),
                         settings=tracker.ScreenSettings(name_matching=False))
    assert off.run["settings"]["name_matching"] is False
    assert len(off.findings) == len(ids_only.findings) <= len(with_names.findings)


def test_environment_errors_are_os_errors():
    assert issubclass(RunEnvironmentError, OSError)


# --------------------------------------------------------------------------- one home

def test_every_default_folder_comes_from_one_home(tmp_path, monkeypatch):
    from tracker import home, resolution, store
    from tracker.names import cache as names_cache
    from tracker.sources import cache, roster

    monkeypatch.setenv("TRACKER_HOME", str(tmp_path / "h"))
    got = {store.default_db_path(), cache.default_cache_dir(), resolution.default_cache_path(),
           roster.default_confirmations_path(), names_cache._default_cache_dir()}
    assert got == {tmp_path / "h" / "tracker.db", tmp_path / "h" / "cache",
                   tmp_path / "h" / "resolved_openalex_ids.json",
                   tmp_path / "h" / "confirmed_profiles.json"}
    monkeypatch.delenv("TRACKER_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    data, caches = tmp_path / "user" / ".local" / "share" / "tracker", \
        tmp_path / "user" / ".cache" / "tracker"
    assert store.default_db_path() == data / "tracker.db" == home.case_file_path()
    assert roster.default_confirmations_path().parent == data
    assert resolution.default_cache_path().parent == data
    # before, the name matcher's cache went to ~/.local/share/tracker/cache and the HTTP
    # cache to ~/.cache/tracker: one cache folder now
    assert cache.default_cache_dir() == names_cache._default_cache_dir() == caches


def test_a_workbook_given_as_a_roster_is_refused_with_advice(tmp_path):
    from tracker.sources.roster import RosterError

    book = tmp_path / "roster.csv"
    book.write_bytes(b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(range(256)))
    with pytest.raises(RosterError, match="save it as CSV"):
        tracker.read_roster(book)


def test_large_inputs_are_not_copied_into_the_case_file_and_the_run_says_so(tmp_path,
                                                                             monkeypatch):
    from tracker import engine
    from tracker.store import Store, run_works

    monkeypatch.setattr(engine, "AUTO_DUCKDB_BYTES", 1)   # every input is "large" here
    out = tracker.run(tracker.RunRequest(works=(tracker.demo_works_path(),),
                                         db=tmp_path / "case.db", names=False,
                                         engine="python", processes=False))
    assert any("not kept in the case file" in w for w in out.warnings)
    with Store(tmp_path / "case.db") as st:
        assert run_works(st, out.run_id) is None


def test_a_parquet_input_counts_by_its_size_uncompressed_for_keeping_its_works(tmp_path,
                                                                              monkeypatch):
    """Parquet is several times smaller on disk than the same works as gzip (a million
    generated works: 258 MB against 1,054 MB): counted by its size on disk, a million works
    were kept, and the run took twice as long.  Counted uncompressed, it is kept as the
    same works as gzip would be."""
    import gzip

    import duckdb

    from tracker import engine
    from tracker.store import Store, run_works

    plain = tmp_path / "works.jsonl"
    plain.write_bytes(gzip.decompress(tracker.demo_works_path().read_bytes()))
    pq = tmp_path / "works.parquet"
    duckdb.execute(f"COPY (SELECT * FROM read_json('{plain}', format='newline_delimited')) "
                   f"TO '{pq}' (FORMAT parquet)")
    on_disk, whole = pq.stat().st_size, engine.parquet_bytes(pq)
    assert whole > 2 * on_disk
    for limit, kept in (((on_disk + whole) // 2, False), (whole + 1, True)):
        monkeypatch.setattr(engine, "AUTO_DUCKDB_BYTES", limit)
        db = tmp_path / f"case-{limit}.db"
        out = tracker.run(tracker.RunRequest(works=(pq,), db=db, names=False,
                                             processes=False))
        assert any("not kept in the case file" in w for w in out.warnings) is not kept
        with Store(db) as st:
            assert (run_works(st, out.run_id) is not None) is kept


def _kept_text(db: Path, run_id: int) -> tuple[int, str]:
    import sqlite3

    con = sqlite3.connect(db)
    try:
        row = con.execute("SELECT n_works, sha256 FROM run_works WHERE run_id = ?",
                          (run_id,)).fetchone()
    finally:
        con.close()
    return int(row[0]), str(row[1])


@pytest.mark.parametrize("kind", ["jsonl", "parquet", "files"])
def test_works_read_again_by_two_processes_are_kept_as_one_would_keep_them(
        tmp_path, demo_copy, monkeypatch, kind):
    """A DuckDB engine run keeps its works by reading them once more, in two shares, the
    second by another Python process (one file cut in two, or several files in two runs of
    files): the case file holds the same text, byte for byte, as one process reading them
    all; where that process fails, its share is read here."""
    duckdb = pytest.importorskip("duckdb")
    import gzip
    import sys
    import tempfile

    from tracker import runs as runs_mod

    src = demo_copy
    srcs: tuple[Path, ...] = (src,)
    if kind == "files":
        lines = gzip.decompress(demo_copy.read_bytes()).splitlines(keepends=True)
        srcs = (tmp_path / "a.jsonl.gz", tmp_path / "b.jsonl", tmp_path / "c.jsonl.gz")
        srcs[0].write_bytes(gzip.compress(b"".join(lines[:30])))
        srcs[1].write_bytes(b"".join(lines[30:50]))
        srcs[2].write_bytes(gzip.compress(b"".join(lines[50:])))
    if kind == "parquet":
        plain = tmp_path / "works.jsonl"
        plain.write_bytes(__import__("gzip").decompress(demo_copy.read_bytes()))
        src = tmp_path / "works.parquet"
        duckdb.connect().execute(f"COPY (SELECT * FROM read_json('{plain}', "
                                 f"format='newline_delimited')) TO '{src}' (FORMAT parquet)")
        srcs = (src,)
    req = dict(works=srcs, engine="duckdb", names=False, command=("test",))
    monkeypatch.setattr(runs_mod, "PARALLEL_KEEP_BYTES", 10 ** 12)  # one process
    one = run(RunRequest(**req, db=tmp_path / "one.db"))
    monkeypatch.setattr(runs_mod, "PARALLEL_KEEP_BYTES", 0)
    from tracker import engine

    shares = runs_mod._keep_shares(engine.expand_inputs(list(srcs)))
    assert shares is not None and len(shares) == 2
    read_here: list[dict] = []  # the shares this process reads (the other's: not here)
    real = runs_mod._share_works
    monkeypatch.setattr(runs_mod, "_share_works",
                        lambda share: read_here.append(share) or real(share))
    kept: list[ProgressEvent] = []
    before = set(Path(tempfile.gettempdir()).glob("tracker-keep-*"))
    two = run(RunRequest(**req, db=tmp_path / "two.db"),
              progress=lambda e: kept.append(e) if e.stage == "keep" else None)
    assert read_here == shares[:1]
    assert _kept_text(tmp_path / "two.db", two.run_id) == _kept_text(
        tmp_path / "one.db", one.run_id)
    assert _kept_text(tmp_path / "one.db", one.run_id)[0] == 71
    assert kept[-1].done == kept[-1].total == 71
    # the second process cannot run: its share is read here, with the same result
    monkeypatch.setattr(sys, "executable", "/bin/false")
    read_here.clear()
    alone = run(RunRequest(**req, db=tmp_path / "alone.db"))
    assert read_here == shares
    assert _kept_text(tmp_path / "alone.db", alone.run_id) == _kept_text(
        tmp_path / "one.db", one.run_id)
    assert set(Path(tempfile.gettempdir()).glob("tracker-keep-*")) == before  # none left


def test_pieces_that_are_not_what_they_say_are_read_again_in_one_process(
        tmp_path, demo_copy, monkeypatch):
    """Should the two processes' pieces not hold the works they count (or not decompress),
    the works are read again in one process: the run keeps them all the same."""
    pytest.importorskip("duckdb")
    from tracker import runs as runs_mod

    req = dict(works=(demo_copy,), engine="duckdb", names=False, command=("test",))
    monkeypatch.setattr(runs_mod, "PARALLEL_KEEP_BYTES", 10 ** 12)
    one = run(RunRequest(**req, db=tmp_path / "one.db"))
    monkeypatch.setattr(runs_mod, "PARALLEL_KEEP_BYTES", 0)
    for bad in ([(1, b"")], [(71, b"not deflate at all")]):
        monkeypatch.setattr(runs_mod, "_pack_shares", lambda shares, tell, bad=bad: bad)
        db = tmp_path / f"bad{len(bad[0][1])}.db"
        again = run(RunRequest(**req, db=db))
        assert _kept_text(db, again.run_id) == _kept_text(tmp_path / "one.db", one.run_id)


def test_a_file_screened_in_shares_has_a_bar_in_percent_then_every_work(
        tmp_path, demo_copy, monkeypatch):
    """A works file read in one share per core: the screen bar counts percent of the first
    share read (the shares are read side by side), held below 100, never going back; at
    the end, every work screened.  The first share's own count of works, of no known
    total, is not shown."""
    from tracker.sources import files

    monkeypatch.setattr(files, "MIN_SPLIT_BYTES", 0)  # the demo file, cut in shares
    events: list[ProgressEvent] = []
    run(RunRequest(works=(demo_copy,), engine="python", names=False, record=False,
                   command=("test",)), progress=events.append)
    screen = [e for e in events if e.stage == "screen"]
    *pace, last = screen
    assert pace and {(e.unit, e.total) for e in pace} == {("%", 100)}
    assert [e.done for e in pace] == sorted(e.done for e in pace) and pace[-1].done <= 99
    assert (last.unit, last.done, last.total) == ("works", 71, 71)
    events.clear()  # one process asked for: the count of works, as before
    run(RunRequest(works=(demo_copy,), engine="python", names=False, record=False,
                   processes=False, command=("test",)), progress=events.append)
    assert {e.unit for e in events if e.stage == "screen"} == {"works"}


def test_shares_read_one_after_another_move_the_bar_past_the_first(
        tmp_path, demo_copy, monkeypatch):
    """Where the shares cannot be forked (other threads running, as in a notebook), they
    are read one after another here: the percent counts each share after those before it,
    so the bar moves on past the first share's part (it stood at that share's end while
    the others were read), still below 100 until every work is screened."""
    from tracker import screening
    from tracker.sources import files

    monkeypatch.setattr(files, "MIN_SPLIT_BYTES", 0)
    monkeypatch.setattr(screening, "can_fork", lambda: False)
    events: list[ProgressEvent] = []
    run(RunRequest(works=(demo_copy,), engine="python", names=False, record=False,
                   command=("test",)), progress=events.append)
    *pace, last = [e for e in events if e.stage == "screen"]
    done = [e.done for e in pace]
    assert {(e.unit, e.total) for e in pace} == {("%", 100)}
    assert done == sorted(set(done)) and done[-1] <= 99
    assert len(done) >= 2 and done[-1] > 0  # the later shares counted too
    assert (last.unit, last.done, last.total) == ("works", 71, 71)


def test_a_files_screen_through_the_cli_never_loads_the_http_client(tmp_path) -> None:
    """The CLI names the fetch errors on every run (tracker.sources.failures), but a screen
    of files fetches nothing: requests (about 0.04 s to import) is never loaded."""
    from tracker.demo import demo_works_path

    code = ("import sys; from tracker.cli import main\n"
            "try:\n"
            f"    main(['screen', '--works', {str(demo_works_path())!r}, '--out', 'r', "
            "'--no-names', '--no-record', '--no-progress'])\n"
            "except SystemExit as e:\n"
            "    assert e.code in (0, None, 1), e.code\n"
            "assert __import__('pathlib').Path('r/report.html').is_file()\n"
            "print('requests' in sys.modules, 'tracker.sources.transport' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=tmp_path,
                         env={**os.environ, "TRACKER_HOME": str(tmp_path / "home"),
                              "PYTHONPATH": str(Path(tracker.__file__).parents[1])})
    assert out.stdout.strip().splitlines()[-1] == "False False", out.stderr


def test_files_screened_without_subjects_never_load_the_openalex_client() -> None:
    """Subjects given by ID are parsed by the OpenAlex source; with none given, its import
    (pyalex and requests, about 0.04 s from compiled bytecode) is not paid."""
    code = ("import sys; from tracker.runs import local_subjects; "
            "assert local_subjects([], [], []) == []; print('pyalex' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(tracker.__file__).parents[1])
    assert out.stdout.strip() == "False"
