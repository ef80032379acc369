"""No institution twice: every pair of registry institutions that share an ID, or a printed
name and country, is merged or kept apart by a reviewed row of ``institution_merges.csv``."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from tracker.names.identity import identity_name, likely_duplicates
from tracker.registry_versions import MERGE_FILE, list_sources_stage
from tracker.watchlists import ListEntry, Registry, load_registry

#: Lists the build adds from the official files shipped in tracker/data/sources.
SHIPPED = {"BIS_UVL", "BIS_DPL", "STATE_ISN", "STATE_DDTC_DEBARRED", "FCC_COVERED",
           "DHS_UFLPA"}


def _rows() -> list[dict[str, str]]:
    with MERGE_FILE.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _kept_apart() -> list[frozenset[str]]:
    """Pairs reviewed as two institutions (a merge row only counts once it is applied)."""
    return [frozenset((r["key"], r["into"])) for r in _rows() if r["decision"] == "keep_apart"]


@pytest.fixture(scope="module")
def reg() -> Registry:
    return load_registry()


def test_no_institution_twice(reg: Registry) -> None:
    pairs = likely_duplicates(reg, _kept_apart())
    assert not pairs, "institutions that look like one and are not reviewed in " \
        "tracker/data/institution_merges.csv:\n" + "\n".join(p.describe(reg) for p in pairs)


def test_merge_file_has_one_reasoned_decision_per_pair() -> None:
    rows = _rows()
    pairs = [frozenset((r["key"], r["into"])) for r in rows]
    assert len(pairs) == len(set(pairs)), "a pair decided twice"
    assert all(r["key"] != r["into"] for r in rows)
    assert all(r["decision"] in ("merge", "keep_apart") and len(r["reason"]) > 30
               for r in rows)


def test_the_check_finds_the_duplicates_a_list_file_brings_without_review(
        reg: Registry, tmp_path: Path) -> None:
    """Re-add the shipped lists (UFLPA, FCC, ISN ...) with no reviewed decisions: the check
    names the pairs that needed one (UFLPA's Hoshine 'and subsidiaries' vs the Entity
    List's Hoshine; the FCC's 'Huawei Technologies Company' vs Huawei)."""
    base = [e.to_json() for e in reg if e.list not in SHIPPED]
    empty = tmp_path / "merges.csv"
    empty.write_text("key,into,decision,reason\n", encoding="utf-8")
    stage = list_sources_stage(base, merge_file=empty)
    raw = Registry([ListEntry.from_json(e) for e in base + stage.entries], lists=[],
                   editions=[], version="unreviewed")
    found = {frozenset((p.key_a, p.key_b)) for p in likely_duplicates(raw, _kept_apart())}
    assert frozenset({"auto_hoshine_silicon_industry_shanshan_co_ltd_and_subsidiaries",
                      "auto_hoshine_silicon_industry_shanshan_co_ltd"}) in found
    assert frozenset({"auto_huawei_technologies_company", "huawei"}) in found
    assert frozenset({"auto_poly_technologies_incorporated_pti_and_its_sub_uni_daac4803",
                      "auto_poly_technologies_inc"}) in found


@pytest.mark.parametrize(("query", "lists"), [
    ("Hoshine Silicon Industry (Shanshan) Co., Ltd.", {"BIS_ENTITY_LIST", "DHS_UFLPA"}),
    ("Xinjiang Production and Construction Corps (XPCC)", {"BIS_ENTITY_LIST", "DHS_UFLPA"}),
    ("Huawei Technologies Co., Ltd.", {"BIS_ENTITY_LIST", "DOD_1260H", "OFAC_NS_CMIC",
                                       "FCC_COVERED"}),
    ("Hangzhou Hikvision Digital Technology Co., Ltd.", {"BIS_ENTITY_LIST", "DOD_1260H",
                                                         "OFAC_NS_CMIC", "FCC_COVERED"}),
    ("Poly Technologies Inc.", {"BIS_ENTITY_LIST", "STATE_ISN"}),
    ("Changhe Aircraft Industries (Group) Co., Ltd.", {"DOD_1260H", "BIS_UVL"}),
])
def test_one_institution_holds_every_list_that_prints_it(reg: Registry, query: str,
                                                         lists: set[str]) -> None:
    keys = {e.institution_key for e in reg if e.name == query}
    assert len(keys) == 1
    inst = reg.institution(keys.pop())
    assert inst is not None and lists <= set(inst.lists)


def test_entry_ids_before_a_reviewed_merge_lead_to_the_entry_now(reg: Registry) -> None:
    """Saved reviews name entry IDs: an entry folded into another keeps its old ID."""
    assert reg.current_entry_id(
        "DHS_UFLPA:auto_hoshine_silicon_industry_shanshan_co_ltd_and_subsidiaries") == \
        "DHS_UFLPA:auto_hoshine_silicon_industry_shanshan_co_ltd"
    assert reg.current_entry_id("FCC_COVERED:auto_huawei_technologies_company") == \
        "FCC_COVERED:huawei"
    assert reg.current_entry_id("DOD_1260H:auto_china_spacesat_co") == \
        "DOD_1260H:auto_china_spacesat_co_ltd"
    for r in _rows():
        if r["decision"] == "merge":
            assert not reg.by_institution_key(r["key"]), r


@pytest.mark.parametrize(("a", "b", "same"), [
    ("Poly Technologies Incorporated (PTI), and its sub-units and successors",
     "Poly Technologies Inc.", True),
    ("China Aerospace Science and Technology Corporation (CASC) First Academy",
     "China Aerospace Science and Technology Corporation (CASC) 1st Academy", True),
    ("Huawei Global Finance (UK) Limited", "Huawei Global Finance Limited", False),
    ("Hoshine Silicon Industry (Shanshan) Co., Ltd and subsidiaries",
     "Hoshine Silicon Industry Co., Ltd.", False),
])
def test_identity_name_keeps_qualifiers_and_drops_reach_phrases(a: str, b: str,
                                                                 same: bool) -> None:
    assert (identity_name(a) == identity_name(b)) is same


def test_lists_shows_entries_with_ids_and_dated_per_list(reg: Registry) -> None:
    """`tracker lists --markdown` counts, per list, entries, entries with a ROR or OpenAlex
    ID and entries with a sourced listing date: the same counts the registry gives."""
    from typer.testing import CliRunner

    from tracker.cli import app

    out = CliRunner().invoke(app, ["lists", "--markdown", "--today", "2026-12-04"])
    assert out.exit_code == 0, out.output
    rows = {}
    for line in out.output.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 6 and cells[0].startswith("`"):
            rows[cells[0].strip("`").split("`")[0]] = tuple(int(c) for c in cells[3:6])
    for code in {e.list for e in reg}:
        entries = [e for e in reg if e.list == code]
        want = (len(entries), sum(1 for e in entries if e.ror or e.openalex_ids),
                sum(1 for e in entries if e.listed_on))
        assert rows[code] == want, code
    assert rows["DOD_1260H"][1] >= 11   # BGI Group linked from a development works file
    bgi = reg.institution("auto_bgi_group")
    assert bgi is not None and bgi.openalex_ids == ("I100135526",)
