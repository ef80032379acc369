"""``tracker lists``: overview, show, diff and check-user, driven as a user would."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests._paths import REPO, RESTRICTED
from tracker.cli.common import EXIT_INPUT
from tracker.cli.lists import lists_app
from tracker.watchlists import load_registry

runner = CliRunner()
EXAMPLES = REPO / "tracker" / "data"


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    """Every command reads the version in force under $TRACKER_HOME: a fresh one here
    (version 0, the bundled registry)."""
    monkeypatch.setenv("TRACKER_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def invoke(*args: str):
    return runner.invoke(lists_app, list(args))


def one_error_line(result) -> str:
    assert result.exit_code == EXIT_INPUT, (result.exit_code, result.output)
    err = result.stderr.strip()
    assert err.startswith("tracker: error: "), err
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in result.output + result.stderr
    return err


def test_overview_lists_every_list_with_editions_and_counts():
    res = invoke("--today", "2026-11-23")
    assert res.exit_code == 0, res.output
    reg = load_registry()
    for code in reg.lists:
        assert code in res.stdout
    for ed in ("FY2022", "FY2025", "2026-06-08", "eCFR-2026-07-09"):
        assert ed in res.stdout
    assert "3255" in res.stdout and "156" in res.stdout
    assert "2020-08-21" in res.stdout  # ASPI data date
    # ASPI data (2020) is far older than a year: a warning names it; the eCFR snapshot is not
    assert "warning: ASPI_UNITRACKER data is 2285 days old" in res.stderr
    assert "BIS_ENTITY_LIST data" not in res.stderr


def test_overview_max_age_controls_the_warning():
    res = invoke("--today", "2026-11-23", "--max-age-days", "100")
    assert res.exit_code == 0
    assert "warning: BIS_ENTITY_LIST data is 137 days old" in res.stderr
    res = invoke("--today", "2026-11-23", "--max-age-days", "100000")
    assert "warning" not in res.stderr


def test_show_by_name_ror_and_id():
    res = invoke("show", "https://ror.org/01yqg2h08")
    assert res.exit_code == 0, res.output
    assert "BIS_ENTITY_LIST:hit" in res.stdout and "I204983213" in res.stdout
    assert "2020-06-05" in res.stdout and "85 FR 34497" in res.stdout
    res = invoke("show", "BIS_ENTITY_LIST:beihang")
    assert res.exit_code == 0 and "66 FR 24266" in res.stdout and "2001-05-14" in res.stdout
    res = invoke("show", "Thousand Talents Plan")
    assert res.exit_code == 0 and "talent_program" in res.stdout


def test_show_unknown_is_one_line_and_not_a_clearance():
    err = one_error_line(invoke("show", "zz no such institution zz"))
    assert "not a clearance" in err


def test_diff_editions():
    res = invoke("diff", "DOD_1286", "FY2024", "FY2025")
    assert res.exit_code == 0, res.output
    assert "added in FY2025" in res.stdout and "removed since FY2024" in res.stdout
    assert "Mabna Institute" in res.stdout
    err = one_error_line(invoke("diff", "DOD_1286", "FY2024", "FY2099"))
    assert "FY2099" in err and "FY2025" in err
    one_error_line(invoke("diff", "NO_SUCH_LIST", "a", "b"))


def test_check_user_valid_examples():
    for name in ("example_watchlist.csv", "example_watchlist.yaml"):
        res = invoke("check-user", str(EXAMPLES / name))
        assert res.exit_code == 0, res.output
        assert "2 entries, valid" in res.stdout and "01yqg2h08" in res.stdout


def test_check_user_malformed_names_file_line_and_field(tmp_path: Path):
    p = tmp_path / "mine.csv"
    p.write_text("name,ror\nA University,01yqg2h08\nB University,bad\n", encoding="utf-8")
    err = one_error_line(invoke("check-user", str(p)))
    assert str(p) in err and "line 3" in err and "field 'ror'" in err
    err = one_error_line(invoke("check-user", str(tmp_path / "missing.yaml")))
    assert "missing.yaml" in err


def test_bad_options_are_one_line():
    one_error_line(invoke("--max-age-days", "-1"))
    one_error_line(invoke("--today", "yesterday"))
    one_error_line(invoke("--registry", "/nonexistent/registry.json"))


@pytest.mark.parametrize("cmd", [(), ("show",), ("diff",), ("check-user",)])
def test_help_has_examples(cmd):
    res = invoke(*cmd, "--help")
    assert res.exit_code == 0
    assert "Example" in res.stdout


def test_reachable_from_the_main_cli(capsys):
    from tracker.cli import main

    assert main(["lists", "--help"]) == 0
    assert "check-user" in capsys.readouterr().out


def test_overview_reports_id_coverage_and_dated_entries_per_list():
    from tracker.cli.lists import id_coverage

    reg = load_registry()
    cover = id_coverage(reg)
    assert sum(c["entries"] for c in cover.values()) == len(reg)
    for code, c in cover.items():
        assert c["any_id"] == sum(1 for e in reg if e.list == code and (e.ror or
                                                                        e.openalex_ids))
        assert c["dated"] == sum(1 for e in reg if e.list == code and e.listed_on)


def test_overview_fits_an_80_column_terminal(monkeypatch):
    """Every header, list code and date whole on a terminal 80 columns wide."""
    from tracker.cli import lists as lists_cli

    monkeypatch.setattr(lists_cli.out, "_width", 80)
    res = runner.invoke(lists_app, ["--today", "2026-11-23"])
    assert res.exit_code == 0, res.output
    head = res.stdout.partition("Editions")[0]
    lines = head.splitlines()
    assert max(len(x) for x in lines) <= 80, head
    assert "…" not in head
    header = next(x for x in lines if x.startswith("list"))
    assert header.split() == ["list", "data", "date", "age", "entries", "ROR", "OpenAlex",
                              "any", "ID", "dated"]
    reg = load_registry()
    for code, info in reg.lists.items():
        row = next(x for x in lines if x.split()[:1] == [code])
        assert row.split()[1] == ("*" if not info.is_designation else
                                  (info.data_date.isoformat() if info.data_date else "unknown"))


def test_show_gives_one_institution_with_all_its_memberships_and_links():
    # Canada prints 'Harbin Institute of Technology' too: one institution, four lists
    res = runner.invoke(lists_app, ["show", "Harbin Institute of Technology"],
                        env={"COLUMNS": "250"})
    assert res.exit_code == 0, res.output
    assert res.stdout.count("institution hit:") == 1
    for code in ("ASPI_UNITRACKER", "BIS_ENTITY_LIST", "CA_NRO", "DOD_1286"):
        assert f"{code}:hit" in res.stdout
    assert "CA_NRO:auto_harbin_institute_of_technology" in res.stdout   # merged record
    assert "on the list by 2024-04-18" in res.stdout
    res = runner.invoke(lists_app, ["show", "Megvii Technology Limited"],
                        env={"COLUMNS": "250"})
    assert res.exit_code == 0 and "ror:040b32p69" in res.stdout and "accepted" in res.stdout


# --------------------------------------------------------------------------- version in force

FCC_0521 = RESTRICTED / "sources" / "fcc_covered_list" / "2026-05-21" / "table.csv"
needs_sources = pytest.mark.skipif(not FCC_0521.exists(),
                                   reason="shared reference data not present")


def test_overview_json_counts_every_list_of_version_0():
    import json

    res = invoke("--json", "--today", "2026-12-04")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["registry"].startswith("registry version 0 ")
    reg = load_registry()
    rows = {r["list"]: r for r in doc["lists"]}
    assert set(rows) == set(reg.lists)
    for code, r in rows.items():
        entries = [e for e in reg if e.list == code]
        assert r["entries"] == len(entries)
        assert r["with_ids"] == sum(1 for e in entries if e.ror or e.openalex_ids)
        assert r["dated"] == sum(1 for e in entries if e.listed_on)
    for code in ("BIS_UVL", "BIS_DPL", "STATE_ISN", "STATE_DDTC_DEBARRED", "FCC_COVERED",
                 "DHS_UFLPA"):
        assert rows[code]["entries"] > 0 and rows[code]["data_date"], code
    assert rows["DHS_UFLPA"]["format"] == "DHS UFLPA Entity List page (HTML)"
    assert rows["FCC_COVERED"]["age_days"] == 129  # 2026-07-28 to 2026-12-04
    md = invoke("--markdown", "--today", "2026-12-04").stdout.splitlines()
    assert md[0].startswith("| list | source | format | entries | with IDs | dated |")
    assert len(md) == 2 + len(reg.lists)


@needs_sources
def test_every_command_reads_the_version_in_force(_home):
    import json

    from tracker.listsources import read_source
    from tracker.registry_versions import VersionStore, update_registry

    assert invoke("show", "Digitalsystem Technology Inc.").exit_code == 0  # in version 0
    update_registry(VersionStore(_home), [read_source(FCC_0521)], allow_older=True)
    doc = json.loads(invoke("--json").stdout)
    assert doc["registry"].startswith("registry version 1 ")
    (fcc,) = [r for r in doc["lists"] if r["list"] == "FCC_COVERED"]
    assert fcc["data_date"] == "2026-03-23"  # newest date the 2026-05 table gives
    # the 2026-05 table has no Digitalsystem row: not in the version in force
    one_error_line(invoke("show", "Digitalsystem Technology Inc."))
    # --registry still reads the file named
    bundled = REPO / "tracker" / "data" / "registry.json"
    assert invoke("show", "Digitalsystem Technology Inc.", "--registry",
                  str(bundled)).exit_code == 0
    assert "registry version 1" in invoke("links", "--status", "all").stdout


def test_a_damaged_version_in_force_exits_4(_home):
    (_home / "registry").mkdir(parents=True)
    (_home / "registry" / "CURRENT").write_text("reg-nosuchversion\n", encoding="utf-8")
    res = invoke("--today", "2026-12-04")
    assert res.exit_code == 4, res.output
    assert res.stderr.startswith("tracker: error: ") and len(res.stderr.splitlines()) == 1


def test_overview_names_the_non_commercial_licence_of_opensanctions_data():
    res = invoke("--today", "2026-11-23")
    assert res.exit_code == 0, res.output
    line = next(x for x in res.stdout.splitlines() if x.startswith("Licence:"))
    reg = load_registry()
    for code, info in reg.lists.items():
        assert (code in line) == ("BY-NC" in info.licence), code
    assert "DOD_1286" in line and "CC BY-NC 4.0" in line
