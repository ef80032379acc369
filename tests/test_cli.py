"""The CLI as a user drives it: demo, screen from files, and bad input (one line, exit code)."""

from __future__ import annotations

import csv
import json
import os
import sys
from pathlib import Path

import pytest

from tests._paths import OPENALEX
from tracker.cli import EXIT_INPUT, demo_works_path, main
from tracker.risk import FINDING_COLUMNS


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_help_teaches_with_examples(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0 and "Examples" in out and "tracker demo" in out
    for cmd in ("demo", "screen"):
        code, out, _ = run(capsys, cmd, "--help")
        assert code == 0 and "Example" in out, cmd


def test_no_arguments_shows_help(capsys):
    code, out, _ = run(capsys)
    assert code == 0 and "Usage" in out


def test_demo_writes_the_report_folder(tmp_path, capsys):
    out_dir = tmp_path / "report"
    code, out, err = run(capsys, "demo", "--out", str(out_dir), "--no-progress")
    assert code == 0, err
    for name in ("findings.csv", "findings.json", "run.json", "report.html"):
        assert (out_dir / name).is_file(), name
    assert "report:" in out and "report.html" in out
    assert "evidence for human review" in out
    with (out_dir / "findings.csv").open(encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames or ())[:20] == FINDING_COLUMNS[:20]
        rows = list(reader)
    run_record = json.loads((out_dir / "run.json").read_text("utf-8"))
    assert run_record["counts"]["works_read"] == 71
    assert run_record["counts"]["findings"] == len(rows) > 0
    assert run_record["registry"]["editions"], "run record names list editions"
    # ASPI alone is context, never the same as a designation.
    aspi = [r for r in rows if r["list"] == "ASPI_UNITRACKER"]
    assert aspi and all("context" in r["outcome"] for r in aspi)


def test_rerun_keeps_finding_ids(tmp_path, capsys):
    a, b = tmp_path / "a", tmp_path / "b"
    assert run(capsys, "demo", "-o", str(a), "--no-progress")[0] == 0
    assert run(capsys, "demo", "-o", str(b), "--no-progress")[0] == 0

    def ids(d):
        with (d / "findings.csv").open(encoding="utf-8") as fh:
            return [r["finding_id"] for r in csv.DictReader(fh)]

    assert ids(a) == ids(b) and len(set(ids(a))) == len(ids(a))


def test_screen_files_same_as_demo(tmp_path, capsys):
    out_dir = tmp_path / "r"
    code, _, err = run(capsys, "screen", "--works", str(demo_works_path()), "-o", str(out_dir),
                       "--no-progress")
    assert code == 0, err
    data = json.loads((out_dir / "findings.json").read_text("utf-8"))
    assert data["findings"]


def test_no_record_writes_the_folder_and_keeps_nothing_in_a_case_file(tmp_path, capsys):
    from tracker.home import case_file_path

    assert not case_file_path().exists()
    code, _, err = run(capsys, "screen", "--works", str(demo_works_path()), "-o",
                       str(tmp_path / "r"), "--no-progress", "--no-record")
    assert code == 0, err
    assert json.loads((tmp_path / "r" / "run.json").read_text("utf-8"))["counts"]["findings"]
    assert not case_file_path().exists()
    code, _, err = run(capsys, "screen", "--works", str(demo_works_path()), "-o",
                       str(tmp_path / "r"), "--no-progress")
    assert code == 0, err
    assert case_file_path().exists()  # recorded by default


def test_screen_several_files_and_forms(tmp_path, capsys):
    out_dir = tmp_path / "r"
    code, _, err = run(
        capsys, "screen",
        "--works", str(OPENALEX / "fixture_works_list_select_beihang_msra_2025-10-29.json"),
        "--works", str(OPENALEX / "snapshot_works_updated_date_2023-05-16_part_000.jsonl.gz"),
        "--works", str(OPENALEX / "fixture_work_single_W2162348455_2026-03-02.json"),
        "-o", str(out_dir), "--no-progress")
    assert code == 0, err
    rec = json.loads((out_dir / "run.json").read_text("utf-8"))
    assert rec["counts"]["works_read"] == 20 + 27 + 1
    assert rec["data_gaps"]["works_without_authorships"] >= 27
    beihang = [f for f in json.loads((out_dir / "findings.json").read_text("utf-8"))["findings"]
               if f["institution_id"] == "I82880672" and f["list"] == "BIS_ENTITY_LIST"]
    assert beihang, "Beihang co-authorships in the saved response are flagged"


def test_subject_org_marks_own_affiliation_vs_coauthor(tmp_path, capsys):
    out_dir = tmp_path / "r"
    f = OPENALEX / "fixture_works_list_select_beihang_msra_2025-10-29.json"
    code, _, err = run(capsys, "screen", "--works", str(f), "--org", "https://ror.org/00wk2mp56",
                       "-o", str(out_dir), "--no-progress")
    assert code == 0, err
    rows = json.loads((out_dir / "findings.json").read_text("utf-8"))["findings"]
    assert {r["relation"] for r in rows} <= {"subject", "coauthor"}
    assert any(r["relation"] == "subject" and r["institution_id"] == "I82880672" for r in rows)


@pytest.mark.parametrize("args, needle", [
    (["screen", "--works", "/nonexistent/works.jsonl"], "no such file"),
    (["screen", "--works", "{csv}"], "no OpenAlex records"),
    (["screen", "--works", "{demo}", "--since", "2024-13-01"], "not a date"),
    (["screen", "--works", "{demo}", "--since", "2024-05-01", "--until", "2020-01-01"],
     "after --until"),
    (["screen", "--org", "Harbin"], "not a ROR ID or OpenAlex institution ID"),
    (["screen", "--author", "0000-0002-1825-0098"], "check digit"),
    (["screen", "--works", "{demo}", "--lists", "NOPE"], "unknown list code"),
    (["screen"], "give --works FILE"),
    (["screen", "--works", "{demo}", "--no-record", "--db", "{csv}.db"], "leave out --db"),
    (["screen", "--bogus"], "No such option"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, args, needle):
    bad_csv = tmp_path / "roster.csv"
    bad_csv.write_text("name,orcid\nx,y\n", "utf-8")
    args = [a.replace("{csv}", str(bad_csv)).replace("{demo}", str(demo_works_path()))
            for a in args]
    code, out, err = run(capsys, *args, "-o", str(tmp_path / "o")) if args[-1] != "--bogus" \
        else run(capsys, *args)
    assert code == EXIT_INPUT, (out, err)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and needle in lines[0], err
    assert "Traceback" not in err + out


def test_one_large_file_is_screened_in_shares_with_the_same_result(tmp_path, capsys,
                                                                   monkeypatch):
    import gzip

    import tracker.sources.files as files
    from tracker.screening import screen_shares

    src = OPENALEX / "works_bibgraph_2025-10.jsonl.gz"  # 870 real works
    f = tmp_path / "works.jsonl.gz"
    f.write_bytes(gzip.compress(gzip.decompress(src.read_bytes())))
    args = ("screen", "--works", str(f), "--engine", "python", "--no-progress", "--out")
    code, _, err = run(capsys, *args, str(tmp_path / "one"))
    assert code == 0, err
    shares: list[int] = []

    def counted(parts, **kw):
        shares.append(len(parts))
        return screen_shares(parts, **kw)

    monkeypatch.setattr(files, "MIN_SPLIT_BYTES", 0)  # as if the file were large
    monkeypatch.setattr("tracker.runs.screen_shares", counted)
    monkeypatch.setattr("tracker.runs.os.cpu_count", lambda: 3)
    code, _, err = run(capsys, *args, str(tmp_path / "three"))
    assert code == 0, err
    assert shares == [3]
    one, three = tmp_path / "one", tmp_path / "three"
    assert (one / "findings.csv").read_bytes() == (three / "findings.csv").read_bytes()
    a, b = (json.loads((d / "run.json").read_text()) for d in (one, three))
    assert a["counts"] == b["counts"] and a["data_gaps"] == b["data_gaps"]
    assert a["counts"]["findings"] > 0


def test_several_files_are_screened_in_shares_of_files_with_the_same_result(
        tmp_path, capsys, monkeypatch):
    """A folder of files (a snapshot's parts) is read on every core, in shares of
    consecutive files, as one pass reads them: a work met again in a later file is a
    duplicate either way."""
    import gzip

    import tracker.sources.files as files
    from tracker.screening import screen_shares

    lines = gzip.decompress((OPENALEX / "works_bibgraph_2025-10.jsonl.gz").read_bytes()
                            ).splitlines(keepends=True)
    folder = tmp_path / "parts"
    folder.mkdir()
    cut = len(lines) // 5
    for k in range(5):
        part = lines[k * cut:(k + 1) * cut if k < 4 else None]
        if k == 4:
            part = [*part, lines[0]]  # the first file's first work again
        (folder / f"part_{k}.jsonl.gz").write_bytes(gzip.compress(b"".join(part)))
    shares: list[int] = []

    def counted(parts, **kw):
        shares.append(len(parts))
        return screen_shares(parts, **kw)

    monkeypatch.setattr("tracker.runs.screen_shares", counted)
    monkeypatch.setattr("tracker.runs.os.cpu_count", lambda: 3)
    args = ("screen", "--works", str(folder), "--engine", "python", "--no-progress", "--out")
    code, _, err = run(capsys, *args, str(tmp_path / "one"))
    assert code == 0, err
    monkeypatch.setattr(files, "MIN_SPLIT_BYTES", 0)  # as if the files were large
    code, _, err = run(capsys, *args, str(tmp_path / "three"))
    assert code == 0, err
    assert shares == [1, 3]
    one, three = tmp_path / "one", tmp_path / "three"
    assert (one / "findings.csv").read_bytes() == (three / "findings.csv").read_bytes()
    a, b = (json.loads((d / "run.json").read_text()) for d in (one, three))
    assert a["counts"] == b["counts"] and a["data_gaps"] == b["data_gaps"]
    assert a["counts"]["findings"] > 0 and a["counts"]["works_duplicate"] == 1


def test_ctrl_c_says_so_in_one_line(tmp_path, capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("tracker.runs.screen_shares", interrupted)
    monkeypatch.setattr("tracker.engine.screen_files", interrupted)
    code, _, err = run(capsys, "screen", "--works", str(demo_works_path()), "-o",
                       str(tmp_path / "r"), "--no-progress")
    assert code == 130
    assert err.strip().splitlines()[-1] == ("tracker: interrupted; rerun the same command to "
                                            "go on")
    assert not (tmp_path / "r").exists()


def test_a_file_that_ends_early_is_not_taken_for_ctrl_c(tmp_path, capsys, monkeypatch):
    """The CLI framework turns an EOFError into the same Abort as Ctrl-C; one that reaches
    it (a cut-off file read where tracker does not name it) is an input error, exit 2."""
    def cut_off(*args, **kwargs):
        raise EOFError("Compressed file ended before the end-of-stream marker was reached")

    monkeypatch.setattr("tracker.runs.screen_shares", cut_off)
    monkeypatch.setattr("tracker.engine.screen_files", cut_off)
    code, _, err = run(capsys, "screen", "--works", str(demo_works_path()), "-o",
                       str(tmp_path / "r"), "--no-progress")
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2 and len(lines) == 1, lines
    assert "looks cut off" in lines[0] and "interrupted" not in lines[0]


def test_engine_memory_reaches_duckdb_and_a_bad_size_is_one_line(tmp_path, capsys, monkeypatch):
    """--engine-memory is DuckDB's memory_limit for the duckdb engine; a value DuckDB
    could not read is refused before anything is read, in one line."""
    import tracker.engine

    seen: list[str] = []
    real = tracker.engine.screen_files

    def recording(*args, **kwargs):
        seen.append(kwargs["memory_limit"])
        return real(*args, **kwargs)

    monkeypatch.setattr("tracker.engine.screen_files", recording)
    code, _, err = run(capsys, "screen", "--works", str(demo_works_path()), "--engine",
                       "duckdb", "--engine-memory", "512MB", "--no-progress", "--db",
                       str(tmp_path / "c.db"))
    assert code == 0, err
    assert seen == ["512MB"]
    code, _, err = run(capsys, "screen", "--works", str(demo_works_path()), "--engine",
                       "duckdb", "--engine-memory", "lots", "--no-progress", "--db",
                       str(tmp_path / "c.db"))
    assert code == EXIT_INPUT
    assert err.strip() == ("tracker: error: engine memory must be a size such as 512MB or "
                           "4GB, not 'lots'")
    assert seen == ["512MB"]


def _generated_works(path: Path, n: int) -> Path:
    """``n`` SYNTHETIC works of the benchmarks' generator (seed 1) as JSON Lines at
    ``path`` (skips the test without the shared recorded works it is fitted to)."""
    import orjson

    if not OPENALEX.is_dir():
        pytest.skip("needs the shared recorded OpenAlex works")
    gen = pytest.importorskip("benchmarks.generate")
    path.write_bytes(b"".join(orjson.dumps(w) + b"\n"
                              for w in gen.generate(n, 1, gen.load_pool(OPENALEX))))
    return path


def test_the_summary_prints_every_count_with_thousands_separators(tmp_path, capsys):
    """The one-line summary's counts per list read 1,234 as its totals do (they read 1234
    beside "76,028 ties"): generated works with over a thousand findings on a list."""
    import re

    works = _generated_works(tmp_path / "works.jsonl", 5000)
    code, said, err = run(capsys, "screen", "--works", str(works), "--no-progress",
                          "--no-record", "-o", str(tmp_path / "r"))
    assert code == 0, err
    line = " ".join(said.split())
    by_list = re.search(r"ties on [\d,]+ works \((.*?)\) — evidence", line)
    assert by_list is not None, line
    counts = dict(x.rsplit(" ", 1) for x in by_list.group(1).split(", "))
    assert any("," in v for v in counts.values()), counts
    assert all(re.fullmatch(r"\d{1,3}(,\d{3})*", v) for v in counts.values()), counts


@pytest.mark.parametrize("engine", ["python", "duckdb"])
def test_the_summary_names_the_works_left_out_by_the_window_and_repeats(tmp_path, capsys,
                                                                        engine):
    """Works outside ``--since``/``--until`` and repeated records are not read; the first
    line says how many, so a window that leaves most works out does not read as a small
    input (as run.json's counts say)."""
    import json

    works = _generated_works(tmp_path / "works.jsonl", 400)
    lines = works.read_bytes().splitlines(keepends=True)
    works.write_bytes(b"".join(lines) + lines[0] + lines[1])  # two records again
    code, said, err = run(capsys, "screen", "--works", str(works), "--since", "2020-01-01",
                          "--engine", engine, "--no-progress", "--no-record",
                          "-o", str(tmp_path / "r"))
    assert code == 0, err
    counts = json.loads((tmp_path / "r" / "run.json").read_text("utf-8"))["counts"]
    assert counts["works_out_of_window"] > 0 and counts["works_duplicate"] == 2
    assert counts["works_read"] + counts["works_out_of_window"] == len(lines)
    first = " ".join(said.split()).split(" authorships")[0]
    assert (f"read {counts['works_read']:,} works (0 records skipped; "
            f"{counts['works_out_of_window']:,} outside the date window; 2 repeated), "
            ) in first + " ", first
    code, said, err = run(capsys, "screen", "--works", str(works), "--engine", engine,
                          "--no-progress", "--no-record", "-o", str(tmp_path / "all"))
    assert code == 0 and "(0 records skipped; 2 repeated)" in " ".join(said.split()), said


def test_a_rerun_says_what_changed_since_the_same_screen_was_last_recorded(tmp_path, capsys):
    """Screened again into the same case file, a screen's summary says what moved since
    that screen's previous run (the counts run.json's diff holds), and where to list it."""
    import gzip
    import json

    from tracker import demo_works_path

    lines = gzip.decompress(demo_works_path().read_bytes()).splitlines(keepends=True)
    works, db = tmp_path / "works.jsonl", str(tmp_path / "case.db")
    said_runs = []
    for part in (lines[:40], lines, lines):  # the file grows, then stays
        works.write_bytes(b"".join(part))
        code, said, err = run(capsys, "screen", "--works", str(works), "--no-progress",
                              "--no-names", "--db", db, "-o", str(tmp_path / "r"))
        assert code == 0, err
        diff = json.loads((tmp_path / "r" / "run.json").read_text("utf-8"))["diff"]
        said_runs.append((" ".join(said.split()), diff))
    (first, d1), (second, d2), (third, d3) = said_runs
    assert d1["previous_run"] is None and "since run" not in first
    c = d2["counts"]
    assert c["new"] > 0 and c["unchanged"] > 0
    assert (f"since run 1 (the same screen): {c['new']:,} new, 0 gone, 0 changed, "
            f"{c['unchanged']:,} unchanged (`tracker diff 1 2` lists them)") in second
    assert (f"since run 2 (the same screen): 0 new, 0 gone, 0 changed, "
            f"{d3['counts']['unchanged']:,} unchanged data gaps:") in third


def test_the_review_commands_print_their_counts_with_thousands_separators(tmp_path, capsys):
    """``tracker diff`` and ``tracker review list`` read counts as the summary does: a run
    of generated works with thousands of findings, recorded twice in one case file."""
    import re

    works = _generated_works(tmp_path / "works.jsonl", 3000)
    db = str(tmp_path / "case.db")
    for _ in range(2):
        code, _said, err = run(capsys, "screen", "--works", str(works), "--no-progress",
                               "--db", db)
        assert code == 0, err
    code, said, err = run(capsys, "diff", "1", "2", "--db", db)
    assert code == 0, err
    unchanged = re.search(r"0 new, 0 gone, 0 changed, ([\d,]+) unchanged", said)
    assert unchanged is not None and re.fullmatch(r"\d{1,3}(,\d{3})+",
                                                  unchanged.group(1)), said[:300]
    code, said, err = run(capsys, "review", "list", "--db", db)
    assert code == 0, err
    listed = re.search(r"run 2: ([\d,]+) findings", said)
    assert listed is not None and "," in listed.group(1), said[:300]


@pytest.mark.parametrize("gz", [False, True])
def test_a_works_file_that_is_not_utf8_is_one_line_from_the_duckdb_engine(tmp_path, capsys,
                                                                         gz):
    """A stray byte that is not UTF-8 (a hand-edited file): DuckDB refuses the text, and
    the run says so in one line, naming the file and line and what to do, rather than an
    internal error; the Python path reads the file, the byte replaced."""
    import gzip

    lines = gzip.decompress(demo_works_path().read_bytes()).splitlines(keepends=True)
    lines = [ln for ln in lines if ln.strip()][:10]
    key = lines[2].index(b'"display_name"')
    name = lines[2].index(b'"', lines[2].index(b":", key)) + 1  # the work's title
    lines[2] = lines[2][:name] + b"\xe9t\xe9 " + lines[2][name:]  # Latin-1 "été"
    works = tmp_path / ("works.jsonl.gz" if gz else "works.jsonl")
    works.write_bytes(gzip.compress(b"".join(lines)) if gz else b"".join(lines))
    code, _, err = run(capsys, "screen", "--works", str(works), "--engine", "duckdb",
                       "--no-progress", "--no-record", "-o", str(tmp_path / "r"))
    out = [ln for ln in err.splitlines() if ln.strip()]
    assert code == EXIT_INPUT and len(out) == 1, out
    assert f"{works}, line 3: not UTF-8 text" in out[0] and "--engine python" in out[0]
    assert not (tmp_path / "r" / "findings.csv").exists()
    code, said, err = run(capsys, "screen", "--works", str(works), "--engine", "python",
                          "--no-progress", "--no-record", "-o", str(tmp_path / "p"))
    assert code == 0, err
    assert "read 10 works (0 records skipped)" in said + err


def test_ctrl_c_in_the_duckdb_engine_stops_at_once_in_one_line(tmp_path):
    """Ctrl-C while DuckDB reads: exit 130 and the usual line within seconds (DuckDB turns
    it into its own error, which said "internal error", and the other reads ran on to
    their end), the engine's temporary folder removed and the recorded run marked."""
    import os
    import signal
    import sqlite3
    import subprocess
    import sys
    import time

    works = tmp_path / "works.jsonl.gz"
    # long enough to stop: the demo's gzip stream 1,500 times over (one gzip file of many
    # members, as concatenated gzip files are; compressing 4.3 GB here took 41 s)
    works.write_bytes(demo_works_path().read_bytes() * 1500)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-c", "import sys; from tracker.cli import main; sys.exit(main())",
         "screen", "--works", str(works), "--engine", "duckdb", "--no-progress",
         "--db", str(tmp_path / "case.db"), "-o", str(tmp_path / "r")],
        env={**os.environ, "TMPDIR": str(tmp)}, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not any(tmp.glob("tracker-engine-*")) and proc.poll() is None \
            and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1)
    assert proc.poll() is None, "the run ended before it could be stopped"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert err.strip().splitlines() == [
        "tracker: interrupted; rerun the same command to go on"], err
    assert not list(tmp.iterdir())
    assert not (tmp_path / "r").exists()
    with sqlite3.connect(tmp_path / "case.db") as con:
        rows = con.execute("SELECT status, status_reason FROM runs").fetchall()
    assert rows == [("interrupted", "stopped by Ctrl-C")], rows


def test_progress_bars_say_done_of_total_and_the_time_left_where_it_means_something():
    """A bar with a total reads ``done/total unit`` and, once there is a pace to go by,
    the time left; one without, its count alone; a stage may change what it counts (the
    engine's read: megabytes, then works); a count of files shows no time left (its
    files take from a blink to most of its time)."""
    from typing import ClassVar

    from rich.progress import Progress

    from tracker.cli.common import ProgressView, _Count, _Left
    from tracker.runs import ProgressEvent

    with ProgressView(True, threaded=False) as view:
        view(ProgressEvent("read", 0, None))
        view(ProgressEvent("read", 40, 100, unit="MB"))
        view(ProgressEvent("case", 10, 40, unit="findings"))
        view(ProgressEvent("report", 3, 9, unit="files"))
        tasks = {t.description: t for t in view._progress.tasks}
        assert _Count().render(tasks["read"]).plain.strip() == "40/100 MB"
        view(ProgressEvent("read", 71, 71))
        assert _Count().render(tasks["read"]).plain.strip() == "71/71 works"
        view(ProgressEvent("screen", 46, 100, unit="%"))  # a file's shares, read in percent
        screen = next(t for t in view._progress.tasks if t.description == "screen")
        assert _Count().render(screen).plain.strip() == "46 %"
    bars = Progress()
    counting = bars.add_task("screen", total=None, unit=" works")
    bars.update(counting, completed=1234)
    assert _Count().render(bars.tasks[0]).plain.strip() == "1,234 works"
    assert _Left().render(bars.tasks[0]).plain == ""  # no total: no time left

    class Paced:  # a task rich has seen move: 10 a second, 30 to go
        total, finished, time_remaining = 40, False, 3.0
        fields: ClassVar[dict[str, str]] = {"unit": " findings"}

    assert _Left().render(Paced()).plain == "~0:00:03 left"  # type: ignore[arg-type]
    Paced.fields = {"unit": " files"}
    assert _Left().render(Paced()).plain == ""  # type: ignore[arg-type]
    Paced.fields, Paced.time_remaining = {"unit": " works"}, 3725.0
    assert _Left().render(Paced()).plain == "~1:02:05 left"  # type: ignore[arg-type]
    Paced.finished = True
    assert _Left().render(Paced()).plain == ""  # type: ignore[arg-type]


def test_ctrl_c_to_every_process_of_an_engine_run_prints_one_line(tmp_path):
    """Ctrl-C at a terminal reaches every process of the run, the engine's worker
    processes too: while they screen, the run stops with exit 130 and the one usual line
    (a worker interrupted mid-batch printed its traceback)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    started = tmp_path / "started"
    script = (
        "import sys, time, pathlib\n"
        "from tracker.engine import duck\n"
        "started = pathlib.Path(sys.argv[1])\n"
        "def slow(rows, job, keys):\n"  # in a worker (inherited by fork): it is screening
        "    started.touch()\n"
        "    time.sleep(60)\n"
        "duck._screen_batch = slow\n"
        "from tracker.cli import main\n"
        "sys.argv = [sys.argv[0], *sys.argv[2:]]\n"
        "sys.exit(main())\n")
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(started), "screen", "--works",
         str(demo_works_path()), "--engine", "duckdb", "--no-progress",
         "--db", str(tmp_path / "case.db"), "-o", str(tmp_path / "r")],
        stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 120
    while not started.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None and started.exists(), "no worker started screening"
    time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGINT)  # as a terminal does: the whole process group
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.strip().splitlines() == [
        "tracker: interrupted; rerun the same command to go on"], err


@pytest.mark.parametrize("args", [["lists"], ["demo", "--out", "{tmp}/r", "--db", "{tmp}/c.db"]])
def test_a_reader_that_goes_away_ends_the_command_quietly_with_141(tmp_path, args):
    """``tracker lists | head -1``: rich ends the process with 1 when its reader goes away,
    which is tracker's code for a bug; tracker ends with 141 (as a shell reports a command
    ended by SIGPIPE), with nothing on stderr."""
    import subprocess

    argv = [a.replace("{tmp}", str(tmp_path)) for a in args]
    code = f"import sys; from tracker.cli import main; sys.exit(main({argv!r}))"
    env = {**os.environ, "HOME": str(tmp_path), "TRACKER_DEBUG": ""}
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env)
    assert p.stdout is not None and p.stderr is not None
    p.stdout.close()  # the reader is gone before the first line
    stderr = p.stderr.read().decode("utf-8", "replace")
    assert p.wait(timeout=120) == 141, stderr
    assert stderr == ""
