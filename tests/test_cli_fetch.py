"""``tracker screen`` fetching from the local OpenAlex-compatible server, as a user runs it:
the files/API contract (issue 3), cache, resume, strategies, roster, faults and secrets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from tracker.cli import EXIT_INPUT, EXIT_RESUMABLE, main

OXFORD = "I40120149"
SINCE = "2000-01-01"
ID_METHODS = {"openalex_id", "ror", "lineage"}


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main([*args, "--no-progress"])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def api(oa, out: Path, *args: str) -> list[str]:
    return ["screen", *args, "--openalex-url", oa.url, "-o", str(out)]


def quick(oa, out: Path, *args: str) -> list[str]:
    """As :func:`api`, identifiers only (building the name matcher takes ~2 s a run)."""
    return [*api(oa, out, *args), "--no-names"]


def findings(out: Path) -> list[dict]:
    rows = json.loads((out / "findings.json").read_text("utf-8"))["findings"]
    return sorted(rows, key=lambda r: r["finding_id"])


def record(out: Path) -> dict:
    return json.loads((out / "run.json").read_text("utf-8"))


def served(oa, flt: str) -> list[dict]:
    """The records the server serves for a filter, in its order (cursor paging, plain
    requests); a record whose author list the list response cut is taken whole."""
    out, cursor = [], "*"
    while cursor:
        body = requests.get(f"{oa.url}/works", params={"filter": flt, "per-page": 200,
                                                        "cursor": cursor}, timeout=10).json()
        out += body["results"]
        cursor = body["meta"]["next_cursor"] if body["results"] else None
    whole = []
    for w in out:
        if w.get("is_authors_truncated"):
            w = requests.get(f"{oa.url}/works/{w['id'].rsplit('/', 1)[-1]}", timeout=10).json()
        whole.append(w)
    return whole


@pytest.mark.parametrize("org, truncate", [
    ("I19820366", True),  # Chinese Academy of Sciences, author lists cut at 100 in lists
    (OXFORD, False),
])
def test_org_fetch_equals_saved_records(oa, tmp_path, capsys, org, truncate):
    """Issue 3: --org ID --since D from the API == --works FILE --org ID --since D."""
    oa.configure(truncate_authors=truncate)
    works = served(oa, f"authorships.institutions.lineage:{org},from_publication_date:{SINCE}")
    assert works
    jsonl = tmp_path / "served.jsonl"
    jsonl.write_text("".join(json.dumps(w) + "\n" for w in works), "utf-8")
    oa.reset()
    oa.configure(truncate_authors=truncate)
    code, _, err = run(capsys, *api(oa, tmp_path / "api", "--org", org, "--since", SINCE))
    assert code == 0, err
    code, _, err = run(capsys, "screen", "--works", str(jsonl), "--org", org, "--since",
                       SINCE, "-o", str(tmp_path / "files"))
    assert code == 0, err
    from_api, from_files = findings(tmp_path / "api"), findings(tmp_path / "files")
    assert from_api, "the subject has findings to compare"
    assert [r["finding_id"] for r in from_api] == [r["finding_id"] for r in from_files]
    assert from_api == from_files
    rec = record(tmp_path / "api")
    assert rec["counts"]["works_read"] == len(works) == record(
        tmp_path / "files")["counts"]["works_read"]
    assert rec["api"]["list_calls"] >= 1
    # pyalex really went through our transport to the local server, with select= and 200/page
    log = [r for r in oa.requests.snapshot() if r.path == "/works"]
    assert log and all("select" in r.query and r.query["per-page"] == "200" for r in log)


def test_unknown_org_is_one_line_exit_2(oa, tmp_path, capsys):
    code, _, err = run(capsys, *quick(oa, tmp_path, "--org", "I1"))
    assert code == EXIT_INPUT and len(err.strip().splitlines()) == 1 and "404" in err


def test_spent_daily_allowance_stops_cleanly_exit_3(oa, tmp_path, capsys):
    oa.faults.budget_exhausted(times=5)
    code, _, err = run(capsys, *quick(oa, tmp_path, "--org", "I19820366"))
    assert code == EXIT_RESUMABLE and "daily allowance" in err and "Traceback" not in err


def test_truncated_author_lists_do_not_change_the_findings(oa, tmp_path, capsys):
    assert run(capsys, *quick(oa, tmp_path / "whole", "--org", OXFORD, "--cache-dir",
                            str(tmp_path / "c1")))[0] == 0
    oa.configure(truncate_authors=True)  # list responses cut author lists at 100
    assert run(capsys, *quick(oa, tmp_path / "cut", "--org", OXFORD, "--cache-dir",
                            str(tmp_path / "c2")))[0] == 0
    assert findings(tmp_path / "cut") == findings(tmp_path / "whole")
    assert record(tmp_path / "cut")["api"]["refetched_truncated_works"] >= 1


def test_warm_cache_rerun_makes_zero_calls_and_refresh_asks_again(oa, tmp_path, capsys):
    args = ("--org", OXFORD, "--org", "I1299303238", "--since", SINCE)
    code, out, _ = run(capsys, *quick(oa, tmp_path / "a", *args))
    assert code == 0 and "estimated cost $0.0002" in out
    cold = len(oa.requests)
    assert cold > 0
    code, out, _ = run(capsys, *quick(oa, tmp_path / "b", *args))
    assert code == 0 and len(oa.requests) == cold  # zero HTTP calls
    assert "0 HTTP calls" in out and "2 of 2 queries from the cache" in out
    assert findings(tmp_path / "a") == findings(tmp_path / "b")
    assert record(tmp_path / "b")["api"]["calls"] == 0
    assert run(capsys, *quick(oa, tmp_path / "c", *args, "--refresh"))[0] == 0
    assert len(oa.requests) == 2 * cold
    assert findings(tmp_path / "c") == findings(tmp_path / "a")


def test_the_api_key_goes_only_on_the_wire_as_the_documented_parameter(
        oa, tmp_path, capsys, monkeypatch):
    key = "oa-key-7b3e91d0c4"
    monkeypatch.setenv("OPENALEX_API_KEY", key)
    oa.configure(require_api_key="cursor", api_keys={key})
    cache = tmp_path / "cache"
    code, _, err = run(capsys, *quick(oa, tmp_path / "r", "--org", OXFORD, "--cache-dir",
                                    str(cache), "--roster", str(_roster(tmp_path))))
    assert code == 0, err
    seen = oa.requests.snapshot()
    assert seen and all(r.api_key_via == "query" for r in seen)
    files = [p for p in [*cache.rglob("*"), *(tmp_path / "r").rglob("*")] if p.is_file()]
    assert any(p.name == "run.json" for p in files) and any(p.suffix == ".html" for p in files)
    for p in files:
        assert key.encode() not in p.read_bytes(), p
    assert record(tmp_path / "r")["api"]["authenticated"] is True


def test_cursor_paging_without_a_key_stops_with_the_fix(oa, tmp_path, capsys):
    oa.configure(require_api_key="cursor")
    code, _, err = run(capsys, *quick(oa, tmp_path / "r", "--org", OXFORD))
    assert code == EXIT_RESUMABLE
    assert "OPENALEX_API_KEY" in err and err.count("\n") == 1


def test_spent_allowance_stops_cleanly_and_the_rerun_resumes(oa, tmp_path, capsys, monkeypatch):
    args = ("--org", OXFORD, "--org", "I1299303238", "--org", "I145311948")
    # the uninterrupted run, in its own home
    monkeypatch.setenv("TRACKER_HOME", str(tmp_path / "home_once"))
    assert run(capsys, *quick(oa, tmp_path / "once", *args))[0] == 0
    once_lists = sum(r.endpoint == "list" for r in oa.requests.snapshot())
    # the interrupted run: the daily allowance runs out on the second works query
    monkeypatch.setenv("TRACKER_HOME", str(tmp_path / "home"))
    oa.reset()
    oa.faults.budget_exhausted(endpoint="list", skip=1)
    code, _out, err = run(capsys, *quick(oa, tmp_path / "stopped", *args))
    assert code == EXIT_RESUMABLE
    assert "daily allowance is spent" in err and "resume where it stopped" in err
    assert not (tmp_path / "stopped" / "run.json").exists()
    from tracker.store import Store

    with Store() as st:  # the case file says how it ended
        (stopped,) = st.runs()
        assert stopped["status"] == "interrupted" and "resumable" in stopped["status_reason"]
    oa.reset()
    code, _, err = run(capsys, *quick(oa, tmp_path / "resumed", *args))
    assert code == 0, err
    assert record(tmp_path / "resumed")["diff"]["previous_run"] is None
    resumed_lists = sum(r.endpoint == "list" for r in oa.requests.snapshot())
    assert resumed_lists < once_lists
    assert findings(tmp_path / "resumed") == findings(tmp_path / "once")
    rec, ref = record(tmp_path / "resumed"), record(tmp_path / "once")
    assert rec["counts"]["works_duplicate"] == 0
    assert rec["counts"]["works_read"] == ref["counts"]["works_read"]
    assert rec["api"]["queries_by_status"].get("from cache") == 1


def test_prefilter_finds_every_identifier_tie_and_says_what_it_cannot_see(oa, tmp_path, capsys):
    subject = ("--org", "I1299303238")
    assert run(capsys, *api(oa, tmp_path / "full", *subject))[0] == 0
    code, out, _ = run(capsys, *api(oa, tmp_path / "pre", *subject, "--strategy", "prefilter"))
    assert code == 0 and "prefilter cannot see" in out
    full, pre = findings(tmp_path / "full"), findings(tmp_path / "pre")
    full_ids, pre_ids = {r["finding_id"] for r in full}, {r["finding_id"] for r in pre}
    assert pre_ids <= full_ids
    assert {r["finding_id"] for r in full if r["match_method"] in ID_METHODS} <= pre_ids
    rec = record(tmp_path / "pre")
    assert rec["settings"]["strategy"] == "prefilter"
    assert any("raw affiliation strings" in s for s in rec["data_gaps"]["prefilter_cannot_see"])
    assert "raw affiliation strings" in (tmp_path / "pre" / "report.html").read_text("utf-8")
    assert rec["counts"]["works_read"] < record(tmp_path / "full")["counts"]["works_read"]


def test_topic_ids_filter_on_the_server(oa, tmp_path, capsys):
    assert run(capsys, *quick(oa, tmp_path / "all", "--org", OXFORD))[0] == 0
    code, _, err = run(capsys, *quick(oa, tmp_path / "t", "--org", OXFORD, "--topic", "T10206"))
    assert code == 0, err
    topical = [r for r in oa.requests.snapshot() if "topics.id:T10206" in r.query.get("filter",
                                                                                        "")]
    assert topical
    works = {w["id"].rsplit("/", 1)[-1] for w in served(
        oa, f"authorships.institutions.lineage:{OXFORD},topics.id:T10206")}
    expected = [r for r in findings(tmp_path / "all") if r["work_id"] in works]
    assert findings(tmp_path / "t") == expected
    rec = record(tmp_path / "t")
    assert rec["settings"]["topics"] == ["T10206"]
    assert rec["api"]["topic_filter"]["applied"] == "server"


def _roster(tmp_path: Path) -> Path:
    p = tmp_path / "roster.csv"
    p.write_text("name,department,orcid,openalex_id,institution\n"
                 "Jason Priem,Infrastructure,0000-0001-6187-6610,,\n"
                 "Wrong Digit,Physics,0000-0001-6187-6611,,\n"
                 "Heather Piwowar,Infrastructure,,,I4200000001\n", "utf-8")
    return p


def test_roster_reports_bad_rows_lists_candidates_and_remembers_confirmations(
        oa, tmp_path, capsys):
    roster = str(_roster(tmp_path))
    code, out, err = run(capsys, *quick(oa, tmp_path / "r1", "--roster", roster))
    assert code == 0, err
    assert "line 3" in out and "check digit" in out
    assert "roster line 4 (Heather Piwowar): not screened" in out
    assert "candidate: A5048491430" in out
    rec = record(tmp_path / "r1")
    screened = {tuple(s["ids"]) for s in rec["subjects"]}
    assert screened == {("A5023888391",)}  # the name-only row is not screened
    assert rec["data_gaps"]["people_not_screened"] == ["line 4: Heather Piwowar"]
    choices = tmp_path / "choices.csv"
    choices.write_text("person,openalex_id\nHeather Piwowar,A5048491430\n", "utf-8")
    code, out, err = run(capsys, *quick(oa, tmp_path / "r2", "--roster", roster,
                                      "--confirm", str(choices)))
    assert code == 0, err
    code, out, err = run(capsys, *quick(oa, tmp_path / "r3", "--roster", roster))  # remembered
    assert code == 0, err
    rec = record(tmp_path / "r3")
    assert {tuple(s["ids"]) for s in rec["subjects"]} == {("A5023888391",), ("A5048491430",)}
    assert rec["data_gaps"]["people_not_screened"] == []
    assert [p["confirmed"] for p in rec["people"]] == [False, True]


def test_unknown_orgs_are_left_out_with_a_note_and_merged_ones_followed(oa, tmp_path, capsys):
    oa.configure(merged={"I2": OXFORD})
    code, out, err = run(capsys, *quick(oa, tmp_path / "r", "--org", "I1", "--org", "I2"))
    assert code == 0, err
    assert "left out: --org I1" in out and "HTTP 404" in out
    rec = record(tmp_path / "r")
    assert rec["api"]["merged_ids_followed"] == {"I2": OXFORD}
    assert [s["ids"] for s in rec["subjects"]] == [[OXFORD]]
    code, _, err = run(capsys, *quick(oa, tmp_path / "r2", "--org", "I1"))
    assert code == EXIT_INPUT and "nothing to screen" in err


@pytest.mark.parametrize("args, needle", [
    (["--strategy", "fastest"], "--strategy must be full or prefilter"),
    (["--works", "x.jsonl", "--roster", "r.csv"], "give either --roster or --org"),
    (["--roster", "/nonexistent/roster.csv"], "no such roster file"),
])
def test_fetch_options_fail_in_one_line(oa, tmp_path, capsys, args, needle):
    code, _, err = run(capsys, *quick(oa, tmp_path / "r", "--org", OXFORD, *args))
    assert code == EXIT_INPUT and needle in err and err.count("\n") == 1


def test_roster_on_saved_works_from_the_cli(tmp_path, capsys):
    """``--works FILE --roster FILE``: people resolved by ORCID/ID in the files (no
    network), a bad row reported by line, a name-only row listed and confirmed later."""
    import tracker

    works = str(tracker.demo_works_path())
    roster = tmp_path / "roster.csv"
    roster.write_text("name,department,orcid,openalex_id\n"
                      "Stephen Lin,CS,0000-0002-5616-558X,\n"
                      "Typo,CS,0000-0002-5616-5589,\n"
                      "Bing Li,CS,,\n", "utf-8")
    args = ["screen", "--works", works, "--roster", str(roster), "--no-names"]
    code, out, err = run(capsys, *args, "-o", str(tmp_path / "r1"))
    assert code == 0, err
    assert "roster line 2 (Stephen Lin): screened [A5025114648]" in out
    assert "line 3: ORCID check digit is wrong" in out
    assert "roster line 4 (Bing Li): not screened" in out
    rec = record(tmp_path / "r1")
    assert [s["ids"] for s in rec["subjects"]] == [["A5025114648"]]
    assert rec["counts"]["works_read"] == 1 and rec["counts"]["findings"] > 0
    assert {r["relation"] for r in findings(tmp_path / "r1")} == {"coauthor"}
    assert rec["data_gaps"]["people_not_screened"] == ["line 4: Bing Li"]
    assert any(i["kind"] == "roster" for i in rec["inputs"])
    choices = tmp_path / "choices.csv"
    choices.write_text("person,openalex_id\nBing Li,A5070665604\n", "utf-8")
    code, out, err = run(capsys, *args, "--confirm", str(choices), "-o", str(tmp_path / "r2"))
    assert code == 0, err
    code, out, err = run(capsys, *args, "-o", str(tmp_path / "r3"))  # remembered
    assert code == 0, err
    rec = record(tmp_path / "r3")
    assert [s["ids"] for s in rec["subjects"]] == [["A5025114648"], ["A5070665604"]]
    assert "subject" in {r["relation"] for r in findings(tmp_path / "r3")}
    code, out, err = run(capsys, *args, "--org", "I4210113369", "-o", str(tmp_path / "r4"))
    assert code == EXIT_INPUT and "not both" in err


def test_tracker_killed_with_sigkill_mid_fetch_resumes_with_nothing_lost_or_counted_twice(
        oa, tmp_path, capsys, monkeypatch):
    """`tracker screen` in its own process, SIGKILLed while its second works query hangs;
    the same command again finishes with the uninterrupted run's findings and counts."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from tests._paths import REPO

    args = ("--org", OXFORD, "--org", "I1299303238", "--org", "I145311948")
    monkeypatch.setenv("TRACKER_HOME", str(tmp_path / "home_once"))
    assert run(capsys, *quick(oa, tmp_path / "once", *args))[0] == 0
    once_lists = sum(r.endpoint == "list" for r in oa.requests.snapshot())
    oa.reset()
    oa.faults.slow(delay=60, endpoint="list", skip=1)  # the second works query hangs
    home, cache = tmp_path / "home", tmp_path / "cache"
    env = {**os.environ, "PYTHONPATH": str(REPO), "TRACKER_HOME": str(home)}
    cmd = [sys.executable, "-c", "import sys; from tracker.cli import main; sys.exit(main())",
           *quick(oa, tmp_path / "killed", *args), "--cache-dir", str(cache), "--no-progress"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not any(r.endpoint == "list" for r in oa.requests.snapshot()):
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "no works query was made"
            time.sleep(0.05)
        time.sleep(0.5)  # the second query is sent and hangs
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert not (tmp_path / "killed" / "run.json").exists()
    oa.reset()
    monkeypatch.setenv("TRACKER_HOME", str(home))
    code, _, err = run(capsys, *quick(oa, tmp_path / "resumed", *args, "--cache-dir",
                                      str(cache)))
    assert code == 0, err
    assert sum(r.endpoint == "list" for r in oa.requests.snapshot()) == once_lists - 1
    assert findings(tmp_path / "resumed") == findings(tmp_path / "once")
    rec, ref = record(tmp_path / "resumed"), record(tmp_path / "once")
    assert rec["counts"]["works_duplicate"] == 0
    assert rec["counts"]["works_read"] == ref["counts"]["works_read"]
    assert rec["api"]["queries_by_status"].get("from cache") == 1


def test_the_api_key_is_in_no_output_file_cache_case_file_or_message(
        oa, tmp_path, capsys, monkeypatch):
    """Every byte tracker writes (report folder, HTTP cache and checkpoints, case-file
    database, confirmations, stdout, stderr), through a run, a stopped run and a rerun."""
    key = "oa-key-SECRET-5d1f0e77aa"
    home = tmp_path / "home"
    monkeypatch.setenv("TRACKER_HOME", str(home))
    monkeypatch.setenv("OPENALEX_API_KEY", key)
    monkeypatch.setenv("TRACKER_DEBUG", "")
    oa.configure(require_api_key="cursor", api_keys={key})
    choices = tmp_path / "choices.csv"
    choices.write_text("person,openalex_id\nHeather Piwowar,A5048491430\n", "utf-8")
    args = ("--org", OXFORD, "--org", "I1299303238", "--roster", str(_roster(tmp_path)),
            "--confirm", str(choices))
    said = []
    oa.faults.budget_exhausted(endpoint="list", skip=1)  # a stopped run first
    code, out, err = run(capsys, *quick(oa, tmp_path / "stopped", *args))
    assert code == EXIT_RESUMABLE
    said += [out, err]
    oa.reset()
    oa.configure(require_api_key="cursor", api_keys={key})
    for name, extra in (("r1", ()), ("r2", ()), ("r3", ("--refresh",))):
        code, out, err = run(capsys, *api(oa, tmp_path / name, *args, *extra))
        assert code == 0, err
        said += [out, err]
    assert all(r.api_key_via == "query" for r in oa.requests.snapshot())
    files = [p for p in tmp_path.rglob("*") if p.is_file() and p.name != "choices.csv"]
    kinds = {p.suffix for p in files}
    assert {".json", ".html", ".sqlite", ".db", ".xlsx", ".csv"} <= kinds, kinds
    for p in files:
        assert key.encode() not in p.read_bytes(), p
    for text in said:
        assert key not in text


def test_fetch_progress_shows_works_calls_and_estimated_cost(oa, tmp_path):
    """What the progress bar says while fetching (rendered only on a terminal)."""
    from tracker.cli.common import ProgressView
    from tracker.runs import fetch_progress_callbacks
    from tracker.sources.openalex import OpenAlexSource, Subject

    with ProgressView(True) as view:
        _, on_fetch = fetch_progress_callbacks(view)
        src = OpenAlexSource(base_url=oa.url, cache_dir=tmp_path, per_page=10,
                             progress=on_fetch)
        list(src.iter_works(Subject("org", OXFORD, (OXFORD,), label=OXFORD)))
        assert view._progress is not None
        (task,) = view._progress.tasks
    assert src.stats.list_calls == 3
    assert task.description == (f"works fetched: 23 of ~23; {src.stats.calls} calls (3 list), "
                                f"est. $0.0003; query 1 of 1")
    assert (task.completed, task.total) == (23, 23)
