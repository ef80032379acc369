"""Registry versions from the recorded list files: update, diff (checked against a plain
csv reading of both files), refusal of bad input, composition of institution keys."""

from __future__ import annotations

import csv
import gzip
import json
import re
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests._paths import RESTRICTED
from tracker.cli import app
from tracker.listsources import ParsedEntry, read_source
from tracker.registry_versions import (
    ListUpdate,
    UpdateRefused,
    VersionStore,
    compose_registry,
    content_id,
    diff_registries,
    update_registry,
)
from tracker.watchlists import RegistryError, load_registry

SRC = RESTRICTED / "sources"
DPL_2019 = SRC / "bis_dpl" / "2019-06-29" / "dpl.txt"
DPL_2022 = SRC / "bis_dpl" / "2022-09-07" / "dpl.txt"
CSL_2019 = SRC / "trade_csl" / "2019-12-03_excerpt" / "csl.csv"
CSL_2022 = SRC / "trade_csl" / "2022-05-06" / "consolidated.csv.gz"
CSL_CUT = SRC / "trade_csl" / "2023-11-30_truncated" / "csl.csv.gz"
FCC_0521 = SRC / "fcc_covered_list" / "2026-05-21" / "table.csv"
FCC_0820 = SRC / "fcc_covered_list" / "2026-08-20" / "table.csv"
UFLPA = SRC / "dhs_uflpa" / "2026-07-09" / "source-uflpa-2026-07-09.html"

pytestmark = pytest.mark.skipif(not SRC.exists(), reason="shared reference data not present")


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def _dpl_plain(path: Path) -> dict[str, dict[str, str]]:
    """Name key -> first row, read with the csv module alone."""
    out: dict[str, dict[str, str]] = {}
    with path.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            out.setdefault(_key(row["Name"].strip()), row)
    return out


@pytest.fixture(scope="module")
def bundled():
    return load_registry()


def test_update_older_then_newer_dpl_and_diff_matches_plain_reading(tmp_path, bundled) -> None:
    store = VersionStore(tmp_path, bundled=bundled)
    o1 = update_registry(store, [read_source(DPL_2019)])
    o2 = update_registry(store, [read_source(DPL_2022)])
    assert (o1.version.number, o2.version.number) == (1, 2)
    assert store.current().number == 2
    v1, v2 = store.load(1), store.load(2)
    held1 = {e.entry_id.split(":", 1)[1] for e in v1 if e.list == "BIS_DPL"}
    held2 = {e.entry_id.split(":", 1)[1] for e in v2 if e.list == "BIS_DPL"}
    a, b = _dpl_plain(DPL_2019), _dpl_plain(DPL_2022)
    assert held1 <= set(a) and held2 <= set(b)
    # the organisation test depends on the name only: a name in both files is held in
    # both versions or in neither
    assert {k for k in set(a) & set(b) if k in held1} == {k for k in set(a) & set(b)
                                                            if k in held2}
    d = diff_registries(v1, v2)["BIS_DPL"]
    assert {e.entry_id.split(":", 1)[1] for e in d.added} == (set(b) - set(a)) & held2
    assert {e.entry_id.split(":", 1)[1] for e in d.removed} == (set(a) - set(b)) & held1

    def facts(r: dict[str, str]) -> tuple[str, ...]:
        return (r["Effective_Date"], r["Expiration_Date"], r["FR_Citation"].strip())

    expected_changed = {k for k in held1 & held2 if facts(a[k]) != facts(b[k])}
    assert {c.entry_id.split(":", 1)[1] for c in d.changed} == expected_changed
    assert d.added and d.removed and d.changed  # real change between the two files
    assert o2.per_list["BIS_DPL"]["added"] == len(d.added)


def test_same_file_again_is_no_change_and_makes_no_version(tmp_path, bundled) -> None:
    store = VersionStore(tmp_path, bundled=bundled)
    update_registry(store, [read_source(FCC_0521)])
    again = update_registry(store, [read_source(FCC_0521)])
    assert not again.changed
    assert [v.number for v in store.versions()] == [0, 1]


def test_truncated_file_changes_nothing(tmp_path, bundled) -> None:
    runner = CliRunner()
    env = {"TRACKER_HOME": str(tmp_path)}
    r = runner.invoke(app, ["lists", "update", "--from", str(FCC_0521)], env=env)
    assert r.exit_code == 0, r.output
    before = (tmp_path / "registry" / "CURRENT").read_text()
    r = runner.invoke(app, ["lists", "update", "--from", str(FCC_0820), "--from",
                            str(CSL_CUT)], env=env)
    assert r.exit_code == 2
    assert "line 4233" in r.output and "Traceback" not in r.output
    assert (tmp_path / "registry" / "CURRENT").read_text() == before
    r = runner.invoke(app, ["lists", "versions", "--json"], env=env)
    assert [v["number"] for v in json.loads(r.output)["versions"]] == [0, 1]


def test_cli_update_diff_json_and_exit_10(tmp_path) -> None:
    runner = CliRunner()
    env = {"TRACKER_HOME": str(tmp_path)}
    assert runner.invoke(app, ["lists", "update", "--from", str(FCC_0521)], env=env
                         ).exit_code == 0
    r = runner.invoke(app, ["lists", "update", "--from", str(FCC_0820), "--signal-changes"],
                      env=env)
    assert r.exit_code == 10, r.output
    r = runner.invoke(app, ["lists", "diff", "--from-version", "1", "--to-version", "2",
                            "--json"], env=env)
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    (fcc,) = doc["lists"]
    assert [e["name"] for e in fcc["added"]] == ["Digitalsystem Technology Inc."]
    assert fcc["removed"] == []


def test_stored_version_is_content_addressed_and_tampering_is_caught(tmp_path, bundled) -> None:
    store = VersionStore(tmp_path, bundled=bundled)
    info = update_registry(store, [read_source(FCC_0521)]).version
    reg = store.load(info.number)
    assert content_id(reg) == info.version_id == reg.version
    path = tmp_path / "registry" / "versions" / f"{info.version_id}.json.gz"
    doc = json.loads(gzip.decompress(path.read_bytes()))
    doc["entries"][0]["name"] = "Someone Else"
    path.write_bytes(gzip.compress(json.dumps(doc).encode()))
    with pytest.raises(RegistryError, match="content address"):
        store.load(info.number)


def test_older_data_is_kept_and_shrinking_is_refused(tmp_path, bundled) -> None:
    store = VersionStore(tmp_path, bundled=bundled)
    out = update_registry(store, [read_source(CSL_2022)])
    assert out.per_list["BIS_ENTITY_LIST"]["status"] == "kept"  # bundled data is from 2026
    assert sum(1 for e in store.load() if e.list == "BIS_ENTITY_LIST") == \
        sum(1 for e in bundled if e.list == "BIS_ENTITY_LIST")
    assert out.per_list["BIS_UVL"]["added"] == 201
    with pytest.raises(UpdateRefused, match="shrink"):
        update_registry(store, [read_source(CSL_2019)], allow_older=True)
    assert store.current().number == 1


def test_compose_reuses_key_on_exact_name_and_country_only(bundled) -> None:
    known = next(e for e in bundled if e.ror and e.country and e.institution_key)
    src = read_source(FCC_0521)
    same = ParsedEntry(list="FCC_COVERED", name=known.name, country=known.country)
    other_country = ParsedEntry(list="FCC_COVERED", name=known.name, country="ZZ")
    upd = ListUpdate("FCC_COVERED", [same, other_country], src, date(2026, 5, 14))
    # the two share a name, so they are one entry: test the country rule separately
    reg = compose_registry(bundled, {"FCC_COVERED": upd})
    (e,) = [x for x in reg if x.list == "FCC_COVERED"]
    assert e.institution_key == known.institution_key and e.ror == known.ror
    lone = ListUpdate("FCC_COVERED", [other_country], src, date(2026, 5, 14))
    reg2 = compose_registry(bundled, {"FCC_COVERED": lone})
    (e2,) = [x for x in reg2 if x.list == "FCC_COVERED"]
    assert e2.institution_key != known.institution_key and e2.ror is None
    assert reg2.built_from["update"]["new_institutions"] == {"FCC_COVERED": 1}


def test_appendix_a_lists_with_a_recorded_file_enter_the_registry(tmp_path, bundled) -> None:
    store = VersionStore(tmp_path, bundled=bundled)
    update_registry(store, [read_source(p) for p in (CSL_2022, DPL_2022, FCC_0820, UFLPA)])
    reg = store.load()
    for code in ("BIS_UVL", "BIS_DPL", "STATE_ISN", "STATE_DDTC_DEBARRED", "FCC_COVERED",
                 "DHS_UFLPA"):
        entries = [e for e in reg if e.list == code]
        assert entries, code
        assert reg.lists[code].source_url and reg.lists[code].data_date, code
        assert all(e.provenance.startswith("list: ") for e in entries)
    assert any(e.listed_on for e in reg if e.list == "DHS_UFLPA")
    # the DPL came from its own, newer file, not from the CSL's DPL rows
    assert reg.lists["BIS_DPL"].data_date == date(2022, 9, 2)


def test_screen_registry_option_pins_a_version_and_run_json_records_it(tmp_path,
                                                                      monkeypatch) -> None:
    from tracker.cli import main
    from tracker.demo import demo_works_path

    home = tmp_path / "home"
    monkeypatch.setenv("TRACKER_HOME", str(home))
    store = VersionStore(home)
    made = update_registry(store, [read_source(FCC_0521)]).version
    for ref, want in (("0", store.versions()[0].version_id), (None, made.version_id)):
        out = tmp_path / f"r{ref}"
        args = ["screen", "--works", str(demo_works_path()), "--out", str(out),
                "--no-progress", "--no-names"]
        if ref is not None:
            args += ["--registry", ref]
        assert main(args) == 0
        run = json.loads((out / "run.json").read_text())
        assert run["registry"]["version"] == want
    assert main(["screen", "--works", str(demo_works_path()), "--out", str(tmp_path / "x"),
                 "--registry", "7", "--no-progress"]) == 4


def test_a_list_of_individuals_only_is_not_added_and_merged_rows_keep_every_note(
        tmp_path, bundled) -> None:
    store = VersionStore(tmp_path, bundled=bundled)
    out = update_registry(store, [read_source(CSL_2022), read_source(UFLPA)])
    reg = store.load()
    assert "OFAC_PLC" not in reg.lists  # all 78 PLC rows are individuals
    assert out.per_list["OFAC_PLC"]["status"] == "kept"
    # an entity printed in two UFLPA tables is one entry naming both sections
    rows = [e for e in read_source(UFLPA).lists["DHS_UFLPA"]]
    twice = {e.name for e in rows if sum(x.name == e.name for x in rows) > 1}
    assert twice
    for e in reg:
        if e.list == "DHS_UFLPA" and e.name in twice:
            assert e.notes.count("UFLPA Section") >= 2, e.notes
