"""The case file from the command line: frameworks on demo/screen, decisions that survive
a rerun, review export/import, `tracker runs` and `tracker diff`, one-line errors."""

from __future__ import annotations

import csv
import json

import pytest
from openpyxl import load_workbook

from tests._paths import OPENALEX
from tracker.cli import EXIT_ENVIRONMENT, EXIT_INPUT, demo_works_path, main


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    """Every test gets its own TRACKER_HOME, so the default database is a temporary one."""
    h = tmp_path / "home"
    monkeypatch.setenv("TRACKER_HOME", str(h))
    monkeypatch.delenv("TRACKER_REVIEWER", raising=False)
    return h


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def rows(folder):
    with (folder / "findings.csv").open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_help_has_examples(capsys):
    for args in (["review"], ["review", "list"], ["review", "set"], ["review", "export"],
                 ["review", "import"], ["runs"], ["diff"], ["demo"], ["screen"]):
        code, out, _ = run(capsys, *args, "--help")
        assert code == 0 and "Example" in out, args
    _, out, _ = run(capsys, "screen", "--help")
    assert "--framework" in out and "--as-of" in out and "--lookback" in out and "--db" in out


def test_rerun_keeps_review_decisions(tmp_path, capsys, home):
    a, b = tmp_path / "a", tmp_path / "b"
    code, _, err = run(capsys, "demo", "-o", str(a), "--no-progress")
    assert code == 0, err
    assert (home / "tracker.db").is_file()
    first = rows(a)
    assert all(r["review_status"] == "unreviewed" for r in first)
    fid, other = first[0]["finding_id"], first[1]["finding_id"]
    code, out, err = run(capsys, "review", "set", fid, "dismissed", "--reviewer", "A. Reviewer",
                         "--reason", "same acronym, different institution")
    assert code == 0, err
    code, _, err = run(capsys, "review", "set", other, "confirmed", "--reviewer", "A. Reviewer")
    assert code == 0, err
    code, _, err = run(capsys, "demo", "-o", str(b), "--no-progress")
    assert code == 0, err
    second = {r["finding_id"]: r for r in rows(b)}
    assert second[fid]["review_status"] == "dismissed"
    assert second[other]["review_status"] == "confirmed"
    assert sum(r["review_status"] != "unreviewed" for r in second.values()) == 2
    run_b = json.loads((b / "run.json").read_text("utf-8"))
    assert run_b["case_file"]["run_id"] == 2 and run_b["case_file"]["previous_run_id"] == 1
    assert run_b["diff"]["counts"] == {"new": 0, "gone": 0, "changed": 0,
                                       "unchanged": len(second)}
    run_a = json.loads((a / "run.json").read_text("utf-8"))
    assert run_a["diff"]["previous_run"] is None
    # `review list` shows the decision; `runs` lists both runs
    code, out, _ = run(capsys, "review", "list", "--status", "dismissed")
    assert code == 0 and fid in out and other not in out
    code, out, _ = run(capsys, "runs")
    assert code == 0 and len([ln for ln in out.splitlines() if ln.strip()]) == 2


def test_framework_outcomes_reach_the_report(tmp_path, capsys):
    out_dir = tmp_path / "r"
    db = tmp_path / "case.db"
    code, _, err = run(capsys, "demo", "-o", str(out_dir), "--no-progress", "--framework",
                       "dow-2026", "--as-of", "2026-06-01", "--db", str(db))
    assert code == 0, err
    assert db.is_file()
    record = json.loads((out_dir / "run.json").read_text("utf-8"))
    assert record["settings"]["framework"] == "dow-2026"
    assert record["settings"]["as_of"] == "2026-06-01"
    assert record["framework"]["name"] == "dow-2026" and record["framework"]["rules"]
    found = rows(out_dir)
    assert any("[dow-2026 rule dow26-coauthor-5y-other-lists, tag V]" in r["outcome"]
               for r in found)
    assert all(r["outcome"].startswith("context:") for r in found
               if r["list"] == "ASPI_UNITRACKER")
    assert all(r["outcome"].startswith(("flag:", "review:", "context:")) for r in found)


def test_lookback_alone_selects_the_lookback_framework(tmp_path, capsys):
    out_dir = tmp_path / "r"
    code, _, err = run(capsys, "screen", "--works", str(demo_works_path()), "--no-names",
                       "-o", str(out_dir), "--no-progress", "--lookback", "8y",
                       "--as-of", "2026-01-01")
    assert code == 0, err
    record = json.loads((out_dir / "run.json").read_text("utf-8"))
    assert record["settings"]["framework"] == "lookback"
    assert record["settings"]["lookback_years"] == 8
    assert any("tag V]" in r["outcome"] for r in rows(out_dir))


def test_screen_works_file_with_framework_and_db(tmp_path, capsys):
    works = OPENALEX / "fixture_works_list_global_south_msra_2025-10-29.json.gz"
    db = tmp_path / "case.db"
    for name in ("a", "b"):
        code, _, err = run(capsys, "screen", "--works", str(works), "-o", str(tmp_path / name),
                           "--no-progress", "--framework", "nsf-2026", "--db", str(db))
        assert code == 0, err
    record = json.loads((tmp_path / "b" / "run.json").read_text("utf-8"))
    assert record["case_file"] == {"database": str(db), "run_id": 2, "previous_run_id": 1}
    code, out, _ = run(capsys, "diff", "1", "2", "--db", str(db))
    assert code == 0 and out.startswith("run 1 -> 2: 0 new, 0 gone, 0 changed")


def test_export_edit_import_round_trip(tmp_path, capsys):
    assert run(capsys, "screen", "--works", str(demo_works_path()), "--no-names", "-o",
               str(tmp_path / "r"), "--no-progress")[0] == 0
    xlsx = tmp_path / "reviews.xlsx"
    code, out, err = run(capsys, "review", "export", str(xlsx))
    assert code == 0, err
    wb = load_workbook(xlsx)
    ws = wb["reviews"]
    header = [c.value for c in ws[1]]
    fid = ws.cell(row=2, column=1).value
    ws.cell(row=2, column=header.index("status") + 1, value="dismissed")
    wb.save(xlsx)
    code, _, err = run(capsys, "review", "import", str(xlsx), "--reviewer", "A. Reviewer")
    assert code == EXIT_INPUT and "row 2: a dismissal needs a reason" in err
    assert len(err.strip().splitlines()) == 1
    ws.cell(row=2, column=header.index("reason") + 1, value="a hospital, not the university")
    wb.save(xlsx)
    code, out, err = run(capsys, "review", "import", str(xlsx), "--reviewer", "A. Reviewer")
    assert code == 0, err
    assert "recorded 1 decisions" in out
    code, out, _ = run(capsys, "review", "list", "--status", "dismissed")
    assert fid in out


def test_import_of_an_older_copy_reports_conflicts_per_row_and_changes_nothing(
        tmp_path, capsys):
    """Issue 24: two reviewers work on copies of the same export."""
    assert run(capsys, "screen", "--works", str(demo_works_path()), "--no-names", "-o",
               str(tmp_path / "r"), "--no-progress")[0] == 0
    a, b = tmp_path / "a.xlsx", tmp_path / "b.xlsx"
    assert run(capsys, "review", "export", str(a))[0] == 0
    assert run(capsys, "review", "export", str(b))[0] == 0

    def edit(path, row, status, reason):
        wb = load_workbook(path)
        ws = wb["reviews"]
        header = [c.value for c in ws[1]]
        assert "version" in header and ws.cell(row=row, column=header.index("version") + 1
                                               ).value == 0
        ws.cell(row=row, column=header.index("status") + 1, value=status)
        ws.cell(row=row, column=header.index("reason") + 1, value=reason)
        wb.save(path)
        return ws.cell(row=row, column=1).value

    fid = edit(a, 2, "confirmed", "")
    code, out, err = run(capsys, "review", "import", str(a), "--reviewer", "A. Reviewer")
    assert code == 0 and "recorded 1 decisions" in out, err
    edit(b, 2, "dismissed", "other campus")
    other = edit(b, 3, "confirmed", "")
    code, out, err = run(capsys, "review", "import", str(b), "--reviewer", "B. Reviewer")
    assert code == EXIT_INPUT
    assert f"conflict: row 2: finding {fid} changed since it was read (version 0): now " \
           f"confirmed by A. Reviewer" in out
    assert "nothing imported: 1 row(s) would overwrite a newer decision" in err
    assert len(err.strip().splitlines()) == 1
    code, out, _ = run(capsys, "review", "list", "--status", "confirmed")
    assert fid in out and other not in out          # nothing from b was recorded
    code, out, err = run(capsys, "review", "import", str(b), "--reviewer", "B. Reviewer",
                         "--on-conflict", "keep-current")
    assert code == 0 and "recorded 1 decisions" in out and "kept the current" in out, err
    code, out, _ = run(capsys, "review", "list", "--status", "confirmed")
    assert fid in out and other in out
    code, _, err = run(capsys, "review", "import", str(b), "--reviewer", "B. Reviewer",
                       "--on-conflict", "mine")
    assert code == EXIT_INPUT and "--on-conflict: 'mine' is not one of" in err


@pytest.mark.parametrize("args, message", [
    (["demo", "--framework", "dod-1999"], "unknown framework 'dod-1999'"),
    (["demo", "--as-of", "1 June"], "--as-of: not a date"),
    (["demo", "--lookback", "five"], "--lookback: not a number of years"),
    (["demo", "--framework", "ca-strac", "--lookback", "5y"], "no look-back window"),
    (["diff", "1", "2"], "no run 1"),
    (["review", "list"], "no finished run in"),
    (["review", "set", "abc", "confirmed", "--reviewer", "me"], "unknown finding ID 'abc'"),
    (["review", "set", "abc", "maybe", "--reviewer", "me"], "status 'maybe'"),
    (["review", "import", "missing.xlsx", "--reviewer", "me"], "no such file"),
    (["review", "export", "out.csv"], "must end in .xlsx"),
])
def test_errors_are_one_line_and_exit_2(tmp_path, capsys, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, *args, "--db", str(tmp_path / "case.db")) if args[0] in (
        "diff", "review") else run(capsys, *args, "-o", str(tmp_path / "r"), "--no-progress")
    assert code == EXIT_INPUT, err
    assert message in err and len(err.strip().splitlines()) == 1, err


def _watchlist(path, listed_on):
    # USTC with its real Entity List date (89 FR 41888, 2024-05-14), or a moved one
    path.write_text(
        "list,name,ror,openalex_ids,listed_on,listed_on_source\n"
        f"MY_LIST,University of Science and Technology of China,04c4dkn09,I126520041,"
        f"{listed_on},89 FR 41888\n", encoding="utf-8")


def test_diff_shows_a_list_change_and_flags_reviewed_ties(tmp_path, capsys):
    wl = tmp_path / "my_list.csv"
    db = tmp_path / "case.db"
    args = ["--no-progress", "--no-names", "--lists", "MY_LIST", "--db", str(db),
            "--watchlist", str(wl)]
    _watchlist(wl, "2024-05-14")
    demo_file = demo_works_path()  # the bundled real OpenAlex records
    code, _, err = run(capsys, "screen", "--works", str(demo_file), "-o", str(tmp_path / "a"),
                       *args)
    assert code == 0, err
    first = rows(tmp_path / "a")
    assert first and {r["listed_at_publication"] for r in first} == {"no"}
    fid = first[0]["finding_id"]
    assert run(capsys, "review", "set", fid, "dismissed", "--reviewer", "A. Reviewer",
               "--reason", "not the listed institution", "--db", str(db))[0] == 0
    _watchlist(wl, "2010-01-01")  # the list now says it was listed long before
    code, _, err = run(capsys, "screen", "--works", str(demo_file), "-o", str(tmp_path / "b"),
                       *args)
    assert code == 0, err
    record = json.loads((tmp_path / "b" / "run.json").read_text("utf-8"))
    diff = record["diff"]
    assert diff["previous_run"] == 1 and fid in diff["changed"]
    assert diff["changed_since_review"] == [fid]
    assert diff["counts"]["changed"] == len(first)
    page = (tmp_path / "b" / "report.html").read_text("utf-8")
    section = page.split("id='changes'", 1)[1].split("</section>", 1)[0]
    mine = section.split(f"<code>{fid}</code>", 1)[1].split("</tr>", 1)[0]
    assert "listing date: 2024-05-14 → <b>2010-01-01</b>" in mine
    assert "listed at publication: no → <b>yes</b>" in mine
    assert "reviewed on the earlier evidence: look again" in mine
    code, out, _ = run(capsys, "diff", "1", "2", "--db", str(db))
    assert code == 0 and f"changed  {fid}" in out and "'2024-05-14' -> '2010-01-01'" in out


def test_a_run_that_did_not_finish_is_said_to_have_findings_that_may_be_incomplete(
        tmp_path, capsys):
    """A run that failed recorded no findings: every tie of the run before it reads as
    "gone", and its list is empty.  The diff, the list and the review workbook are still
    made (exit 0), each with one warning line naming the run and why it ended (the diff's
    JSON says so too).  Finished runs: no warning."""
    db = str(tmp_path / "case.db")
    code, _, err = run(capsys, "demo", "-o", str(tmp_path / "a"), "--no-progress",
                       "--db", db)
    assert code == 0, err
    readme = tmp_path / "README.md"
    readme.write_text("# not works\n\nsome text\n", encoding="utf-8")
    code, _, err = run(capsys, "screen", "--works", str(readme), "-o", str(tmp_path / "b"),
                       "--no-progress", "--db", db)
    assert code == EXIT_INPUT, err
    code, out, err = run(capsys, "diff", "1", "2", "--db", db)
    assert code == 0 and "0 new, " in out and " gone, " in out
    assert err.count("tracker: warning:") == 1, err
    warning = " ".join(err.split())
    assert "run 2 did not finish (failed: WorksFileError:" in warning
    assert "its findings may be incomplete" in warning
    code, out, err = run(capsys, "diff", "1", "2", "--db", db, "--json")
    assert code == 0 and "run 2 did not finish" in " ".join(err.split())
    unfinished = json.loads(out)["unfinished"]
    assert [(u["run_id"], u["status"]) for u in unfinished] == [(2, "failed")]
    code, out, err = run(capsys, "review", "list", "--run", "2", "--db", db)
    assert code == 0 and out.startswith("run 2: 0 findings")
    warning = " ".join(err.split())
    assert err.count("tracker: warning:") == 1 and "run 2 did not finish (failed:" in warning
    assert "a tie not listed here may only be one it never screened" in warning
    code, out, err = run(capsys, "review", "export", str(tmp_path / "r2.xlsx"), "--run", "2",
                         "--db", db)
    assert code == 0 and "wrote" in out and "run 2 did not finish" in " ".join(err.split())
    code, _, _ = run(capsys, "demo", "-o", str(tmp_path / "c"), "--no-progress", "--db", db)
    assert code == 0
    code, out, err = run(capsys, "diff", "1", "3", "--db", db)
    assert code == 0 and err == "" and "0 new, 0 gone" in out
    code, out, err = run(capsys, "review", "list", "--run", "3", "--db", db)
    assert code == 0 and err == "" and out.startswith("run 3: 576 findings")


def test_a_bad_database_fails_before_screening(tmp_path, capsys):
    bad = tmp_path / "not_a_db.db"
    bad.write_text("this is not SQLite\n" * 100, encoding="utf-8")
    code, _, err = run(capsys, "demo", "-o", str(tmp_path / "r"), "--no-progress",
                       "--db", str(bad))
    assert code == EXIT_ENVIRONMENT and "case file cannot be used" in err
    assert "give --db a new file" in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()


def test_report_shows_what_a_list_addition_and_removal_changed(tmp_path, capsys):
    """An institution added to a list since the last run: its ties are new in the report's
    changes section, under a notice that the lists changed; a removed one's ties are gone."""
    wl = tmp_path / "my_list.csv"
    db = tmp_path / "case.db"
    args = ["--no-progress", "--no-names", "--lists", "MY_LIST", "--db", str(db),
            "--watchlist", str(wl)]
    head = "list,name,ror,openalex_ids,listed_on,listed_on_source\n"
    ustc = ("MY_LIST,University of Science and Technology of China,04c4dkn09,I126520041,"
            "2024-05-14,89 FR 41888\n")
    beihang = "MY_LIST,Beihang University,00wk2mp56,I82880672,2020-06-05,85 FR 34495\n"
    demo_file = str(demo_works_path())

    def screen_to(folder, text):
        wl.write_text(head + text, encoding="utf-8")
        code, _, err = run(capsys, "screen", "--works", demo_file, "-o", str(tmp_path / folder),
                           *args)
        assert code == 0, err
        return (rows(tmp_path / folder),
                (tmp_path / folder / "report.html").read_text("utf-8"))

    first, page = screen_to("a", ustc)
    assert "Changes since the previous run" in page and "first run of this screen" in page
    second, page = screen_to("b", ustc + beihang)
    added = {r["finding_id"] for r in second} - {r["finding_id"] for r in first}
    assert added and all(r["list_entry_name"] == "Beihang University"
                         for r in second if r["finding_id"] in added)
    section = page.split("id='changes'", 1)[1].split("</section>", 1)[0]
    assert f"<b>{len(added)}</b> new, <b>0</b> gone" in section
    assert "The lists changed between the two runs" in section
    assert all(fid in section for fid in list(added)[:200])
    assert "violation" not in section.lower() and "cleared" not in section.lower()
    third, page = screen_to("c", beihang)
    section = page.split("id='changes'", 1)[1].split("</section>", 1)[0]
    gone = {r["finding_id"] for r in second} - {r["finding_id"] for r in third}
    assert gone == {r["finding_id"] for r in first}
    assert f"Ties no longer found ({len(gone):,})" in section
    assert "University of Science and Technology of China" in section


def test_review_list_reads_the_run_one_finding_at_a_time(capsys, tmp_path, monkeypatch):
    """``review list`` counts on the run's keys and prints the findings as it reads them,
    never the run whole (at 788,020 findings that took 5.6 GB), the same lines."""
    from tracker.store import Store

    code, _, err = run(capsys, "demo", "--out", str(tmp_path / "r"), "--no-progress")
    assert code == 0, err
    fid = rows(tmp_path / "r")[4]["finding_id"]
    assert run(capsys, "review", "set", fid, "confirmed", "--reviewer", "A. Reviewer")[0] == 0
    code, every, _ = run(capsys, "review", "list")
    listed = every.splitlines()[1:]
    assert code == 0 and len(listed) == len(rows(tmp_path / "r")) > 100

    def whole_run(self, run_id):
        raise AssertionError("review list loaded every finding of the run")

    monkeypatch.setattr(Store, "findings", whole_run)
    for status, want in (("confirmed", [x for x in listed if x.startswith(fid)]),
                         ("unreviewed", [x for x in listed if not x.startswith(fid)])):
        code, out, err = run(capsys, "review", "list", "--status", status)
        assert code == 0, err
        assert out.splitlines() == [f"run 1: {len(want):,} findings with status {status}",
                                    *want]
    code, out, _ = run(capsys, "review", "list")
    assert out.splitlines()[1:] == listed


def test_review_export_of_some_findings_and_their_import(capsys, tmp_path):
    """``review export --list/--outcome/--status`` writes only those findings (a run past a
    worksheet's rows is reviewed a part at a time); importing it touches only its rows."""
    from tracker.risk import outcome_kind

    code, _, err = run(capsys, "demo", "--out", str(tmp_path / "r"), "--no-progress")
    assert code == 0, err
    found = rows(tmp_path / "r")
    lists = ("CA_NRO", "BIS_ENTITY_LIST")
    want = [f["finding_id"] for f in found
            if f["list"] in lists and outcome_kind(f["outcome"]) == "review"]
    assert 0 < len(want) < len(found)
    out = tmp_path / "flags.xlsx"
    choice = ["--list", lists[0], "--list", lists[1], "--outcome", "review",
              "--status", "unreviewed"]
    code, said, err = run(capsys, "review", "export", str(out), *choice)
    assert code == 0, err
    wb = load_workbook(out)
    assert [r[0] for r in wb["reviews"].iter_rows(min_row=2, values_only=True)] == want
    about = dict(wb["about"].iter_rows(values_only=True))
    assert about["findings"] == (f"{len(want):,} of lists BIS_ENTITY_LIST, CA_NRO; "
                                 "outcome review; review status unreviewed")
    ws = wb["reviews"]
    header = [c.value for c in ws[1]]
    ws.cell(row=2, column=header.index("status") + 1, value="confirmed")
    wb.save(out)
    code, said, err = run(capsys, "review", "import", str(out), "--reviewer", "A. Reviewer")
    assert code == 0 and f"recorded 1 decisions ({len(want) - 1:,} rows unchanged)" in said, (
        said, err)
    code, said, _ = run(capsys, "review", "list", "--status", "confirmed")
    assert said.splitlines()[1].startswith(want[0])
    # a second export of the unreviewed ones leaves the decided one out
    code, _, err = run(capsys, "review", "export", str(out), *choice)
    assert [r[0] for r in load_workbook(out)["reviews"].iter_rows(
        min_row=2, values_only=True)] == want[1:]
    for bad, words in ((["--status", "maybe"], "status must be one of"),
                       (["--list", "BIS_ENTITY"], "run 1 has no findings on BIS_ENTITY (its "
                                                  "lists: ASPI_UNITRACKER, BIS_ENTITY_LIST,"),
                       (["--outcome", "flagged"], "outcome must be flag, review or context")):
        code, _, err = run(capsys, "review", "export", str(tmp_path / "x.xlsx"), *bad)
        assert code == 2 and words in err and "Traceback" not in err
        assert not (tmp_path / "x.xlsx").exists()


def test_review_export_says_how_many_findings_it_wrote_and_warns_of_none(capsys, tmp_path,
                                                                         monkeypatch):
    """The line after an export counts its rows and names the filters; a choice that
    matches nothing warns (a header-only workbook is easy to take for a clean run);
    ``progress`` hears the findings read, of the run's total, and the rows written, and
    an import's the rows read (a bar on a terminal: minutes at a million findings)."""
    import tracker.reviews as reviews
    from tracker.home import case_file_path
    from tracker.store import Store

    code, _, err = run(capsys, "demo", "--out", str(tmp_path / "r"), "--no-progress")
    assert code == 0, err
    found = rows(tmp_path / "r")
    n_bis = sum(f["list"] == "BIS_ENTITY_LIST" for f in found)
    code, said, err = run(capsys, "review", "export", str(tmp_path / "all.xlsx"))
    assert code == 0 and err == ""
    assert said.strip() == f"wrote {tmp_path / 'all.xlsx'}: {len(found):,} findings of run 1"
    code, said, err = run(capsys, "review", "export", str(tmp_path / "bis.xlsx"),
                          "--list", "BIS_ENTITY_LIST", "--status", "unreviewed")
    assert code == 0 and err == ""
    assert said.strip() == (f"wrote {tmp_path / 'bis.xlsx'}: {n_bis:,} findings of run 1 "
                            "(--list BIS_ENTITY_LIST; --status unreviewed)")
    code, said, err = run(capsys, "review", "export", str(tmp_path / "none.xlsx"),
                          "--status", "confirmed")
    assert code == 0
    assert err.strip() == ("tracker: warning: no finding of run 1 matches --status confirmed: "
                           "the workbook holds its header only")
    assert "0 findings of run 1" in said

    monkeypatch.setattr(reviews, "EXPORT_PROGRESS_EVERY", 100)
    heard: list = []
    with Store(case_file_path()) as store:
        reviews.export_workbook(store, tmp_path / "p.xlsx", 1, lists=["BIS_ENTITY_LIST"],
                                progress=lambda *a: heard.append(a))
    n = len(found)
    assert [(read, total) for read, total, _ in heard] == [
        *((k, n) for k in range(100, n + 1, 100)), (n, n)]
    assert heard[-1][2] == n_bis
    assert [w for _, _, w in heard] == sorted(w for _, _, w in heard)
    # the import hears the rows read, of the rows the sheet says it has
    heard = []
    with Store(case_file_path()) as store:
        got = reviews.import_workbook(store, tmp_path / "all.xlsx", "A. Reviewer",
                                      progress=lambda *a: heard.append(a))
    assert got.unchanged == n
    assert heard == [*((k, n) for k in range(100, n + 1, 100)), (n, n)]
