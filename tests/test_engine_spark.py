"""The Spark engine gives the DuckDB engine's findings, row for row, and its counts.

Spark runs in local mode (two cores, one session shared by the module).  Corpora: the
bundled demo works; every real recorded works file in the shared data at once, with a
window and two lists; SYNTHETIC generated works (benchmarks/generate.py) with a work repeated,
a broken line, a blank line and a record without a work ID, split into a plain file and a
gzip file without a .gz name, also given as file:// URIs (how Spark reads object storage);
the demo works as Parquet.  Skipped (with the reason) when pyspark or Java is missing; the
message a user then gets is tested whatever is installed.  No timing is asserted.
"""

from __future__ import annotations

import contextlib
import gzip
import importlib.util
import json
import time
from datetime import date
from pathlib import Path

import pytest

import tracker
from tests._messy import messy_lines, odd_authorship_lines
from tests._paths import OPENALEX
from tracker.engine import EngineSettingError, choose_engine, screen_files
from tracker.engine.spark import screen_spark, spark_missing
from tracker.names import cached_name_matcher
from tracker.screening import ScreenSettings

pytest.importorskip("duckdb")

# pyspark 4.3 warns that it is not yet tested with pandas 3 (mapInPandas works here)
pytestmark = pytest.mark.filterwarnings(
    "ignore:PySpark does not yet fully support pandas:FutureWarning")

MISSING = spark_missing()
needs_spark = pytest.mark.skipif(MISSING is not None, reason=str(MISSING))

GAP_KEYS = ("records_skipped", "skipped", "works_without_authorships", "works_without_date",
            "works_year_only", "works_authors_truncated", "works_partial_record",
            "authorships_without_institution", "authorships_without_institution_with_raw",
            "authorships_without_anything")


def assert_same(a, b):
    """Findings (every column, in order), flagged works, counts and data gaps."""
    assert [f.row() for f in b.findings] == [f.row() for f in a.findings]
    assert [f.extra for f in b.findings] == [f.extra for f in a.findings]
    assert b.works == a.works
    assert b.run["counts"] == a.run["counts"]
    for k in GAP_KEYS:
        assert b.run["data_gaps"][k] == a.run["data_gaps"][k], k


@pytest.fixture(scope="module")
def spark(tmp_path_factory):
    import os
    import sys

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    session = (SparkSession.builder.master("local[2]").appName("tracker tests")
               .config("spark.sql.shuffle.partitions", "2")
               .config("spark.default.parallelism", "2")
               .config("spark.ui.enabled", "false")
               .config("spark.ui.showConsoleProgress", "false")
               .config("spark.sql.warehouse.dir", str(tmp_path_factory.mktemp("warehouse")))
               .getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def reg():
    return tracker.load_registry()


@pytest.fixture(scope="module")
def nm(reg, tmp_path_factory):
    return cached_name_matcher(reg, cache_dir=tmp_path_factory.mktemp("nm"))


@needs_spark
def test_demo_works_same_findings_as_duckdb(spark, reg, nm):
    path = tracker.demo_works_path()
    a = screen_files(path, registry=reg, name_matcher=nm, threads=1, processes=1)
    b = screen_spark(path, registry=reg, name_matcher=nm, session=spark)
    assert a.findings  # a corpus with ties, or the comparison proves nothing
    assert_same(a, b)
    assert b.run["engine"] == "spark"


REAL = sorted(p for p in OPENALEX.glob("*") if p.name.startswith(("works_", "fixture_work",
                                                                    "snapshot_works")))


@needs_spark
@pytest.mark.skipif(not REAL, reason="needs the shared recorded OpenAlex works")
def test_all_real_files_at_once_with_a_window_and_two_lists(spark, reg, nm):
    """Recorded works (JSON Lines, gzip, saved list responses, single works) read at once:
    duplicates across files, works outside the window."""
    settings = ScreenSettings(since=date(2019, 1, 1), until=date(2024, 6, 30),
                              lists=("BIS_ENTITY_LIST", "DOD_1260H"))
    a = screen_files(REAL, registry=reg, name_matcher=nm, settings=settings, threads=1,
                     processes=1)
    b = screen_spark(REAL, registry=reg, name_matcher=nm, settings=settings, session=spark)
    assert a.run["counts"]["works_out_of_window"] > 0
    assert a.run["counts"]["works_duplicate"] > 0
    assert a.findings
    assert_same(a, b)


@pytest.fixture(scope="module")
def messy(tmp_path_factory) -> list[Path]:
    """Generated works plus a repeated work (same record, and changed), a broken line, a
    blank line, a record without a work ID, a date that is a number, a record without
    authorships and one with null authorships: a plain JSON Lines file and the rest gzip
    compressed under a name without .gz."""
    lines = messy_lines(typed_quirks=True)
    folder = tmp_path_factory.mktemp("messy")
    (folder / "a.jsonl").write_text("\n".join(lines[:900]) + "\n", encoding="utf-8")
    with gzip.open(folder / "b.data", "wt", encoding="utf-8") as fh:
        fh.write("\n".join(lines[900:]) + "\n")
    return [folder / "a.jsonl", folder / "b.data"]


@needs_spark
@pytest.mark.skipif(not OPENALEX.is_dir(), reason="needs the shared recorded OpenAlex works")
def test_generated_works_with_duplicates_and_broken_lines_local_and_as_uris(
        spark, reg, nm, messy, tmp_path):
    a = screen_files(messy, registry=reg, name_matcher=nm, threads=1, processes=1)
    assert a.run["counts"]["works_duplicate"] == 2
    assert a.run["counts"]["works_skipped"] == 2
    b = screen_spark(messy, registry=reg, name_matcher=nm, session=spark)
    assert_same(a, b)
    assert [s["location"] for s in b.run["data_gaps"]["skipped"]] == ["line 701", "line 703"]
    # as Spark reads object storage: URIs, compression told by the name, lines counted by Spark
    plain = tmp_path / "a.jsonl"
    plain.write_bytes(messy[0].read_bytes())
    packed = tmp_path / "b.jsonl.gz"
    packed.write_bytes(messy[1].read_bytes())
    c = screen_spark([plain.as_uri(), packed.as_uri()], registry=reg, name_matcher=nm,
                     session=spark)
    assert [f.row() for f in c.findings] == [f.row() for f in a.findings]
    assert c.run["counts"] == a.run["counts"]
    assert [(s["location"], s["reason"]) for s in c.run["data_gaps"]["skipped"]] == [
        (s["location"], s["reason"]) for s in a.run["data_gaps"]["skipped"]]


@needs_spark
def test_cli_screens_with_the_spark_engine(spark, capsys, tmp_path):
    """``--engine spark`` on the CLI: the same findings.csv as DuckDB; the run says spark.
    (The module's session is the active one: the run uses it and leaves it running.)"""
    from tracker.cli import main

    common = ("--works", str(tracker.demo_works_path()), "--no-progress", "--no-keep-works",
              "--db", str(tmp_path / "case.db"))
    for engine in ("duckdb", "spark"):
        code = main(["screen", *common, "--engine", engine, "-o", str(tmp_path / engine)])
        assert code == 0, capsys.readouterr().err
    csv = [(tmp_path / e / "findings.csv").read_bytes() for e in ("duckdb", "spark")]
    assert csv[0] == csv[1]
    run = json.loads((tmp_path / "spark" / "run.json").read_text("utf-8"))
    assert run["engine"] == "spark" and run["counts"]["works_read"] == 71
    assert not spark.sparkContext._jsc.sc().isStopped()


def _spark_screen_script():
    path = Path(__file__).resolve().parents[1] / "scripts" / "spark_screen.py"
    spec = importlib.util.spec_from_file_location("spark_screen", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@needs_spark
def test_the_cluster_script_writes_the_report_folder_of_the_formats_asked_for(
        spark, capsys, tmp_path):
    """scripts/spark_screen.py (what spark-submit runs) writes report.html, run.json and
    the finding files asked for, with the rows ``tracker screen`` writes; a format it does
    not know is refused by its argument parser, before Spark is asked for anything."""
    from tracker.cli import main

    script = _spark_screen_script()
    works = Path(tracker.demo_works_path()).as_uri()  # a URI, as on a cluster
    args = script.parse(["--out", str(tmp_path / "spark"), "--formats", "csv,jsonl", works])
    files = script.screen(args, spark)
    assert list(files) == ["findings.csv", "findings.jsonl", "run.json", "report.html"]
    assert sorted(p.name for p in (tmp_path / "spark").iterdir()) == sorted(files)
    assert "71 works read, 576 findings" in capsys.readouterr().out
    assert main(["screen", "--works", str(tracker.demo_works_path()), "--no-progress",
                 "--engine", "duckdb", "--no-record", "-o", str(tmp_path / "duckdb")]) == 0
    for name in ("findings.csv", "findings.jsonl"):
        assert files[name].read_bytes() == (tmp_path / "duckdb" / name).read_bytes(), name
    run = json.loads(files["run.json"].read_text("utf-8"))
    assert run["engine"] == "spark" and run["outputs"]["formats"] == ["csv", "jsonl"]
    assert run["command"][:3] == ["spark_screen.py", "--out", str(tmp_path / "spark")]
    assert script.parse(["--out", "x", "--formats", "none", works]).formats == ()
    with pytest.raises(SystemExit) as stop:
        script.parse(["--out", "x", "--formats", "pdf", works])
    assert stop.value.code == 2
    assert "--formats: unknown format 'pdf'" in capsys.readouterr().err


def test_without_pyspark_the_user_is_told_what_to_install(monkeypatch, reg):
    """Runs whatever is installed: pyspark is hidden from the import system."""
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "pyspark" else real(name, *a))
    why = spark_missing()
    assert why is not None and "pip install 'tracker[spark]'" in why and "Java 17" in why
    with pytest.raises(EngineSettingError, match=r"tracker\[spark\]"):
        choose_engine("spark", subjects=False, topics=False)
    with pytest.raises(EngineSettingError, match=r"tracker\[spark\]"):
        screen_spark(tracker.demo_works_path(), registry=reg)
    assert choose_engine("auto", subjects=False, topics=False, size_bytes=10**12) != "spark"


def test_without_java_the_user_is_told_what_to_install(monkeypatch):
    import shutil

    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None)
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: object() if name in ("pyspark", "pandas", "pyarrow")
                        else real(name, *a))
    why = spark_missing()
    assert why is not None and why.startswith("the spark engine needs Java 17")


def test_the_spark_engine_refuses_what_it_does_not_do(reg):
    with pytest.raises(EngineSettingError, match="topic"):
        screen_spark(tracker.demo_works_path(), registry=reg,
                     settings=ScreenSettings(topics=("graphene",)))
    if MISSING is None:
        with pytest.raises(EngineSettingError, match="use --engine python"):
            choose_engine("spark", subjects=True, topics=False)


@needs_spark
def test_parquet_input_same_findings_as_duckdb(spark, reg, nm, tmp_path):
    import duckdb

    plain = tmp_path / "works.jsonl"
    plain.write_bytes(gzip.decompress(tracker.demo_works_path().read_bytes()))
    pq = tmp_path / "works.parquet"
    con = duckdb.connect()
    con.execute(f"COPY (SELECT * FROM read_json('{plain}', format='newline_delimited')) "
                f"TO '{pq}' (FORMAT parquet, ROW_GROUP_SIZE 20000)")
    con.close()
    a = screen_files(pq, registry=reg, name_matcher=nm, threads=1, processes=1)
    b = screen_spark(pq, registry=reg, name_matcher=nm, session=spark)
    assert a.findings
    assert_same(a, b)


@needs_spark
def test_a_file_cut_off_is_refused_as_the_python_reader_refuses_it(spark, reg, tmp_path):
    from tracker.sources.files import TruncatedWorksFile

    data = gzip.decompress(tracker.demo_works_path().read_bytes())
    cut = tmp_path / "cut.jsonl"
    cut.write_bytes(data[: len(data) - 500])  # the last line loses its end and its newline
    with pytest.raises(TruncatedWorksFile, match="cut off mid-record"):
        screen_spark(cut, registry=reg, session=spark)
    gz = tmp_path / "cut.jsonl.gz"
    whole = tracker.demo_works_path().read_bytes()
    gz.write_bytes(whole[: len(whole) // 2])  # the compressed stream ends early
    with pytest.raises(TruncatedWorksFile):
        screen_spark(gz, registry=reg, session=spark)


#: The one line a run on a fresh JVM may print that is not tracker's: Java's own, at start.
JAVA_NOTE = "WARNING: Using incubator modules"


def _spark_cli(tmp_path, works, tmp, cwd=None, **popen):
    """``tracker screen --engine spark`` in a process of its own (a JVM of its own, whose
    output the test reads as a user's terminal shows it), in folder ``cwd``; ``popen``:
    more of :class:`subprocess.Popen`'s arguments, or others for its output."""
    import os
    import subprocess
    import sys

    return subprocess.Popen(
        [sys.executable, "-c", "import sys; from tracker.cli import main; sys.exit(main())",
         "screen", "--works", str(works), "--engine", "spark", "--no-progress",
         "--no-keep-works", "--db", str(tmp_path / "case.db"), "-o", str(tmp_path / "r")],
        env={**os.environ, "TMPDIR": str(tmp)}, text=True, cwd=cwd,
        **{"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, **popen})


def _not_java(err):
    return [line for line in err.splitlines() if not line.startswith(JAVA_NOTE)]


@needs_spark
def test_a_run_does_not_pass_on_pyspark_s_pandas_3_warning(spark, reg):
    """pyspark 4.3 warns at each ``mapInPandas`` that it is not yet tested with pandas 3;
    the findings equal DuckDB's under pandas 3 (the tests above), so a run does not show
    it (the module's filter is set aside here: every warning is seen)."""
    import warnings

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        result = screen_spark(tracker.demo_works_path(), registry=reg, session=spark)
    assert len(result.findings) > 100
    assert [str(w.message) for w in seen if "support pandas" in str(w.message)] == []


@needs_spark
def test_a_spark_run_leaves_nothing_in_the_user_s_folder(tmp_path):
    """Spark makes its warehouse folder, ``spark-warehouse``, in the current folder: a
    run's own session keeps it in the run's temporary folder, which goes with the run
    (the user's folder holds only the report folder asked for)."""
    here = tmp_path / "here"
    here.mkdir()
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    proc = _spark_cli(tmp_path, tracker.demo_works_path(), tmp, cwd=here)
    _, err = proc.communicate(timeout=400)
    assert proc.returncode in (0, 10), err
    assert sorted(p.name for p in here.iterdir()) == [], sorted(here.iterdir())
    assert not list(tmp.iterdir())
    assert (tmp_path / "r" / "report.html").is_file()


@needs_spark
def test_ctrl_c_while_spark_starts_leaves_no_java_behind(tmp_path):
    """Ctrl-C while pyspark starts Spark's JVM: pyspark lost its handle on it and the JVM
    went on alone once tracker had ended (a Java stack trace later, about 140 MB held).
    Now the interrupt is heard once Spark has started, the session stopped first: one
    line, exit 130, and no process of the run left."""
    import os
    import signal
    import subprocess

    log = tmp_path / "stderr.txt"
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    with log.open("w") as err_file:
        proc = _spark_cli(tmp_path, tracker.demo_works_path(), tmp, cwd=tmp_path,
                          stdout=subprocess.DEVNULL, stderr=err_file,
                          start_new_session=True)

    def launched() -> bool:  # pyspark's launcher (spark-submit, then Java) has started
        for pid in filter(str.isdigit, os.listdir("/proc")):
            with contextlib.suppress(OSError, ValueError, IndexError):
                stat = Path(f"/proc/{pid}/stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[1]) == proc.pid:
                    return True
        return False

    try:
        deadline = time.monotonic() + 120
        while not launched() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert proc.poll() is None, "the run ended before Spark started"
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=120)
        left = True
        deadline = time.monotonic() + 30  # a stopped JVM takes a moment to end
        while left and time.monotonic() < deadline:
            try:
                os.killpg(proc.pid, 0)  # a process of the run's group still there?
                time.sleep(0.2)
            except ProcessLookupError:
                left = False
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    err = log.read_text()
    assert proc.returncode == 130, err
    assert _not_java(err) == ["tracker: interrupted; rerun the same command to go on"], err
    assert not left, "a process of the run was left running"


@needs_spark
def test_ctrl_c_during_a_spark_run_is_one_line(tmp_path):
    """Ctrl-C while Spark works: exit 130 and tracker's one line, not py4j's tracebacks of
    the calls it cut short (some forty lines: pyspark's own handler of Ctrl-C calls the JVM
    while a call is under way) nor Spark's errors about the tasks its stop drops; no
    report folder, no temporary folder, the run marked interrupted.  The JVM is the run's
    own, so its start-up is read too: none of Spark's notes (its default log profile, the
    log level it sets, the host's address, Hadoop's native library), as tracker's log
    settings for the session it makes say (``session_settings``)."""
    import signal
    import sqlite3
    import time

    lines = gzip.decompress(tracker.demo_works_path().read_bytes())
    works = tmp_path / "works.jsonl.gz"
    works.write_bytes(gzip.compress(lines * 4, compresslevel=1))  # long enough to stop
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    proc = _spark_cli(tmp_path, works, tmp)
    deadline = time.monotonic() + 240
    while not any(tmp.glob("tracker-spark-*")) and proc.poll() is None \
            and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1)  # Spark is reading the works: a call to the JVM is under way
    assert proc.poll() is None, "the run ended before it could be stopped"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=240)
    assert proc.returncode == 130, err
    assert _not_java(err) == ["tracker: interrupted; rerun the same command to go on"], err
    assert not list(tmp.glob("tracker-spark-*"))
    assert not (tmp_path / "r").exists()
    with sqlite3.connect(tmp_path / "case.db") as con:
        rows = con.execute("SELECT status, status_reason FROM runs").fetchall()
    assert rows == [("interrupted", "stopped by Ctrl-C")], rows


@needs_spark
def test_records_with_an_authorship_that_is_not_an_object_are_skipped_as_duckdb_skips_them(
        spark, reg, tmp_path):
    """A number, null, a string or a list among a record's authorships: the record is
    skipped, as by the Python reader and the DuckDB engine; an empty object is read."""
    lines, skipped = odd_authorship_lines()
    path = tmp_path / "works.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    a = screen_files(path, registry=reg, threads=1, processes=1)
    b = screen_spark(path, registry=reg, session=spark)
    assert a.run["counts"]["works_skipped"] == len(skipped)
    assert a.findings
    assert_same(a, b)


@needs_spark
def test_a_damaged_gzip_file_is_refused_as_the_python_reader_refuses_it(spark, reg, tmp_path):
    """A gzip file whose checksum does not match fails Spark's task: the run is refused
    with the Python reader's error naming the file (the CLI's one line, exit 2; the
    executor's stack trace and the scheduler's "aborting job" are off in tracker's log
    settings for a session it starts)."""
    from tracker.sources.files import WorksFileError

    data = bytearray(tracker.demo_works_path().read_bytes())
    data[-8] ^= 0xFF  # the trailer's CRC-32
    works = tmp_path / "damaged.jsonl.gz"
    works.write_bytes(data)
    with pytest.raises(WorksFileError, match=r"cannot read the file \(CRC check failed"):
        screen_spark(works, registry=reg, session=spark)


@needs_spark
def test_a_work_in_two_remote_snapshot_partitions_is_read_from_the_newest(
        spark, reg, tmp_path):
    """A work in two partitions of a snapshot (a download caught between OpenAlex's
    moves), named by URI (as in object storage), whose paths Spark orders itself: its
    newest copy is screened."""
    lines = gzip.decompress(tracker.demo_works_path().read_bytes()).decode().splitlines()
    a = screen_files(tracker.demo_works_path(), registry=reg, threads=1, processes=1)
    wid = a.findings[0].work_id
    rec = next(json.loads(ln) for ln in lines if json.loads(ln)["id"].endswith("/" + wid))
    newer = json.dumps({**rec, "title": "the newer copy"})
    for day, rows in (("2024-01-01", lines), ("2024-06-01", [newer])):
        folder = tmp_path / "works" / f"updated_date={day}"
        folder.mkdir(parents=True)
        (folder / "part_000.gz").write_bytes(gzip.compress(("\n".join(rows) + "\n").encode()))
    # (a local folder is ordered by expand_inputs, as for DuckDB: tests/test_engine.py)
    b = screen_spark([f"file://{tmp_path / 'works' / d / 'part_000.gz'}" for d in (
        "updated_date=2024-01-01", "updated_date=2024-06-01")], registry=reg, session=spark)
    assert b.run["counts"]["works_duplicate"] == 1
    assert {f.title for f in b.findings if f.work_id == wid} == {"the newer copy"}


@needs_spark
def test_a_full_disk_under_spark_is_said_at_once(spark, reg, monkeypatch):
    """Spark's local folder on a full disk: EngineDiskError (which the CLI reports as the
    machine's, exit 5), naming where Spark writes, without reading the files again.  The
    disk is full in the words the system gives ("No space left on device"), raised here by
    Spark from the plan's counts."""
    import tracker.engine.spark as sp
    from tracker.engine import EngineDiskError

    def not_again(files):
        raise AssertionError("the files were read again to explain the error")

    real = sp.counts_sql
    monkeypatch.setattr(sp, "_reader_error", not_again)
    monkeypatch.setattr(sp, "counts_sql", lambda *a: (
        "SELECT *, raise_error('Could not write /tmp/blockmgr-1/0d/shuffle_0_0.data: "
        f"No space left on device') AS full FROM ({real(*a)})"))
    with pytest.raises(EngineDiskError, match=r"spark\.local\.dir"):
        screen_spark(tracker.demo_works_path(), registry=reg, session=spark)
