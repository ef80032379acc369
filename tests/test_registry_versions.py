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

from tests._paths import (
    CSL_2019,
    CSL_2022,
    CSL_2023_CUT,
    DPL_2019,
    DPL_2022,
    FCC_0521,
    FCC_0820,
    SOURCES,
    UFLPA,
)
from tracker.cli import app
from tracker.listsources import ParsedEntry, read_source
from tracker.listsources.bundled import BUNDLED_SOURCES
from tracker.registry_versions import (
    MERGE_FILE,
    ListUpdate,
    MergeDecisions,
    UpdateRefused,
    VersionStore,
    auto_key,
    compose_registry,
    content_id,
    diff_registries,
    update_registry,
)
from tracker.watchlists import ListEntry, Registry, RegistryError, load_registry

SRC = SOURCES
CSL_CUT = CSL_2023_CUT

pytestmark = pytest.mark.skipif(not SRC.exists(), reason="shared reference data not present")


def _key(name: str) -> str:
    """The identity rule's name key (letters and digits only), read independently."""
    return re.sub(r"[^a-z0-9]+", "", name.lower())


def _dpl_plain(path: Path) -> dict[str, dict[str, str]]:
    """Name key -> first row, read with the csv module alone."""
    out: dict[str, dict[str, str]] = {}
    with path.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            out.setdefault(_key(row["Name"].strip()), row)
    return out


SHIPPED = {c for bs in BUNDLED_SOURCES for c in bs.lists}


@pytest.fixture(scope="module")
def v0():
    """The bundled registry (version 0), with the lists of the shipped official files."""
    return load_registry()


@pytest.fixture(scope="module")
def bundled(v0):
    """Version 0 without the lists of the shipped official files: the registry an update
    adds them to (as before they shipped)."""
    return Registry([e for e in v0 if e.list not in SHIPPED],
                    lists=[li for c, li in v0.lists.items() if c not in SHIPPED],
                    editions=[ed for ed in v0.editions if ed.list not in SHIPPED],
                    version=v0.version, built_from=v0.built_from)


def test_update_older_then_newer_dpl_and_diff_matches_plain_reading(tmp_path, bundled) -> None:
    store = VersionStore(tmp_path, bundled=bundled)
    o1 = update_registry(store, [read_source(DPL_2019)])
    o2 = update_registry(store, [read_source(DPL_2022)])
    assert (o1.version.number, o2.version.number) == (1, 2)
    assert store.current().number == 2
    v1, v2 = store.load(1), store.load(2)
    held1 = {_key(e.name) for e in v1 if e.list == "BIS_DPL"}
    held2 = {_key(e.name) for e in v2 if e.list == "BIS_DPL"}
    a, b = _dpl_plain(DPL_2019), _dpl_plain(DPL_2022)
    assert held1 <= set(a) and held2 <= set(b)
    # the organisation test depends on the name only: a name in both files is held in
    # both versions or in neither
    assert {k for k in set(a) & set(b) if k in held1} == {k for k in set(a) & set(b)
                                                            if k in held2}
    d = diff_registries(v1, v2)["BIS_DPL"]
    assert {_key(e.name) for e in d.added} == (set(b) - set(a)) & held2
    assert {_key(e.name) for e in d.removed} == (set(a) - set(b)) & held1

    def facts(r: dict[str, str]) -> tuple[str, ...]:
        return (r["Effective_Date"], r["Expiration_Date"], r["FR_Citation"].strip())

    expected_changed = {k for k in held1 & held2 if facts(a[k]) != facts(b[k])}
    assert {_key(v2.entry_index[c.entry_id].name) for c in d.changed} == expected_changed
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
    r = runner.invoke(app, ["lists", "update", "--from", str(FCC_0521), "--allow-older"], env=env)
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
    assert runner.invoke(app, ["lists", "update", "--from", str(FCC_0521), "--allow-older"], env=env
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
    uvl = read_source(CSL_2022).lists["BIS_UVL"]
    # rows a reviewed merge joins to another row of the list are one institution
    own = {auto_key(e.name) for e in uvl}
    joined = {k for k in own if MergeDecisions.read().merge_into.get(k) in own - {k}}
    assert out.per_list["BIS_UVL"]["added"] == len(
        {(_key(e.name), e.country) for e in uvl}) - len(joined)
    with pytest.raises(UpdateRefused, match="shrink"):
        update_registry(store, [read_source(CSL_2019)], allow_older=True)
    assert store.current().number == 1


def test_compose_reuses_key_on_exact_name_and_country_only(bundled) -> None:
    known = next(e for e in bundled if e.ror and e.country and e.institution_key)
    src = read_source(FCC_0521)
    same = ParsedEntry(list="FCC_COVERED", name=known.name, country=known.country)
    other_country = ParsedEntry(list="FCC_COVERED", name=known.name, country="ZZ")
    upd = ListUpdate("FCC_COVERED", [same, other_country], src, date(2026, 5, 14))
    # the same name in another country is another institution: two entries
    reg = compose_registry(bundled, {"FCC_COVERED": upd})
    e, other = sorted((x for x in reg if x.list == "FCC_COVERED"),
                      key=lambda x: x.country != known.country)
    assert e.institution_key == known.institution_key and e.ror == known.ror
    assert other.institution_key != known.institution_key and other.ror is None
    assert reg.built_from["update"]["joined"] == {"FCC_COVERED": 1}
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
    made = update_registry(store, [read_source(FCC_0521)], allow_older=True).version
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


# --------------------------------------------------------------------------- identity work

def _held_twice(reg: Registry) -> dict[tuple[str, str | None], set[str]]:
    """Name key + country held by two institution keys that no reviewed decision keeps
    apart (read with the csv module alone)."""
    with MERGE_FILE.open(encoding="utf-8", newline="") as fh:
        apart = {frozenset((r["key"], r["into"])) for r in csv.DictReader(fh)
                 if r["decision"] == "keep_apart"}
    names: dict[tuple[str, str | None], set[str]] = {}
    for e in reg:
        if e.entry_type != "talent_program":
            names.setdefault((_key(e.name), e.country), set()).add(e.institution_key)
    return {n: ks for n, ks in names.items() if len(ks) > 1
            and not any(frozenset((a, b)) in apart for a in ks for b in ks if a < b)}


def test_version_0_carries_the_shipped_lists_each_entry_joined_or_new(v0) -> None:
    report = v0.built_from["list_sources"]["per_list"]
    assert set(report) == SHIPPED
    other_keys = {e.institution_key for e in v0 if e.list not in SHIPPED}
    for code in SHIPPED:
        entries = [e for e in v0 if e.list == code]
        info = v0.lists[code]
        assert entries and info.source_url and info.data_date, code
        assert report[code]["entries"] == len(entries)
        assert report[code]["joined"] + report[code]["new_institutions"] == len(entries)
        # an entry that shares a key with a bundled list joined it (never the other way)
        assert sum(e.institution_key in other_keys for e in entries) <= report[code]["joined"]
        assert all("tracker/data/sources/" in e.provenance for e in entries)
    # a joined institution brings its IDs: the UVL has Chinese universities with a ROR
    assert any(e.ror for e in v0 if e.list == "BIS_UVL")
    assert _held_twice(v0) == {}


def test_update_with_the_shipped_file_again_is_no_change(tmp_path, v0) -> None:
    store = VersionStore(tmp_path, bundled=v0)
    out = update_registry(store, [read_source(DPL_2022), read_source(UFLPA)])
    assert not out.changed
    assert out.per_list["BIS_DPL"]["new_institutions"] == 0
    assert out.per_list["DHS_UFLPA"]["new_institutions"] == 0
    assert [v.number for v in store.versions()] == [0]


def test_update_never_creates_a_duplicate_institution(tmp_path, v0) -> None:
    store = VersionStore(tmp_path, bundled=v0)
    out = update_registry(store, [read_source(DPL_2019)], allow_older=True)
    assert out.changed
    new = store.load()
    assert _held_twice(new) == {}
    before = {(_key(e.name), e.country): e.institution_key for e in v0 if e.list == "BIS_DPL"}
    after = {(_key(e.name), e.country): e.institution_key for e in new if e.list == "BIS_DPL"}
    both = set(before) & set(after)
    assert both and all(before[k] == after[k] for k in both)  # keys are stable
    assert out.per_list["BIS_DPL"]["new_institutions"] == len(set(after) - set(before))
    assert out.per_list["BIS_DPL"]["joined"] == len(both)


def test_compose_follows_reviewed_merge_and_keep_apart_decisions(bundled) -> None:
    known = next(e for e in bundled if e.institution_key == "beihang")
    src = read_source(FCC_0521)
    same = ParsedEntry(list="FCC_COVERED", name=known.name, country=known.country)
    upd = {"FCC_COVERED": ListUpdate("FCC_COVERED", [same], src, date(2026, 5, 14))}
    apart = MergeDecisions(keep_apart=frozenset({frozenset({auto_key(known.name),
                                                            "beihang"})}))
    (e,) = [x for x in compose_registry(bundled, upd, merges=apart) if x.list == "FCC_COVERED"]
    assert e.institution_key != "beihang" and e.ror is None
    spelt = ParsedEntry(list="FCC_COVERED", name="Beihang Univ. (as another file spells it)",
                        country="CN")
    upd2 = {"FCC_COVERED": ListUpdate("FCC_COVERED", [spelt], src, date(2026, 5, 14))}
    merge = MergeDecisions(merge_into={auto_key(spelt.name): "beihang"})
    (e2,) = [x for x in compose_registry(bundled, upd2, merges=merge)
             if x.list == "FCC_COVERED"]
    assert e2.institution_key == "beihang" and e2.ror == known.ror
    (e3,) = [x for x in compose_registry(bundled, upd2) if x.list == "FCC_COVERED"]
    assert e3.institution_key != "beihang"


def test_update_reads_the_reviewed_merge_file(tmp_path, bundled, monkeypatch) -> None:
    """UFLPA prints Hoshine 'and subsidiaries', the Entity List without: a reviewed merge
    row makes them one institution; without it they stay two."""
    el = "auto_hoshine_silicon_industry_shanshan_co_ltd"
    assert any(e.institution_key == el for e in bundled)

    def hoshine(store: VersionStore) -> ListEntry:
        update_registry(store, [read_source(UFLPA)])
        (e,) = [e for e in store.load() if e.list == "DHS_UFLPA" and "Hoshine" in e.name]
        return e

    none = tmp_path / "none.csv"
    none.write_text("key,into,decision,reason\n", encoding="utf-8")
    monkeypatch.setattr("tracker.registry_versions.MERGE_FILE", none)
    assert hoshine(VersionStore(tmp_path / "a", bundled=bundled)).institution_key != el
    merges = tmp_path / "merges.csv"
    merges.write_text("key,into,decision,reason\n"
                      f"{auto_key('Hoshine Silicon Industry (Shanshan) Co., Ltd and subsidiaries')}"
                      f",{el},merge,the same company\n", encoding="utf-8")
    monkeypatch.setattr("tracker.registry_versions.MERGE_FILE", merges)
    joined = hoshine(VersionStore(tmp_path / "b", bundled=bundled))
    assert joined.institution_key == el
    # the ID the entry had before the reviewed merge leads to it (saved reviews name it)
    own = auto_key("Hoshine Silicon Industry (Shanshan) Co., Ltd and subsidiaries")
    assert joined.merged_from == (f"DHS_UFLPA:{own}",)


def test_a_stored_version_keeps_when_each_list_first_existed(tmp_path, v0) -> None:
    """An update must not drop a list's first-edition date (DoD 1286: 2023-06-29), or works
    before it turn from 'no' into 'unknown'."""
    store = VersionStore(tmp_path, bundled=v0)
    update_registry(store, [read_source(FCC_0521)], allow_older=True)
    got = store.load()
    assert got.lists["DOD_1286"].first_published == v0.lists["DOD_1286"].first_published
    assert got.lists["DOD_1286"].first_published is not None
    assert got.lists["CA_NRO"].first_published_basis == v0.lists["CA_NRO"].first_published_basis
    e = next(x for x in got if x.list == "DOD_1286")
    assert e.list_since == v0.lists["DOD_1286"].first_published


def test_an_update_names_each_new_institution_that_looks_like_one_held(tmp_path, v0) -> None:
    """OpenSanctions' DoD 1286 transcription spells some names differently from version 0
    ('Changchung University of Science and Technology'): the update makes them new
    institutions (a name alone never merges) and says so, one line per look-alike, for
    review in the merge file; it is never silent about them."""
    store = VersionStore(tmp_path, bundled=v0)
    out = update_registry(store, [read_source(SRC.parent / "raw" /
                                              "dod_section1286_lists_opensanctions.csv")],
                          allow_older=True)
    dups = out.per_list["DOD_1286"]["possible_duplicates"]
    assert any("'Changchung University of Science and Technology'" in d
               and "'Changchun University of Science and Technology'" in d for d in dups)
    new_keys = {e.institution_key for e in store.load() if e.list == "DOD_1286"} - {
        e.institution_key for e in v0}
    assert dups and all(any(k in d for k in new_keys) for d in dups)
    assert len(dups) <= out.per_list["DOD_1286"]["new_institutions"]
