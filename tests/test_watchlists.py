"""The bundled registry checked against its sources, plus user watchlists, diffs and lookup.

Expected counts are computed here from the raw files in ``shared/data/restricted`` with
plain csv/json code, independently of the registry build (``tracker.listsources.build``).
"""

from __future__ import annotations

import csv
import gzip
import json
import re
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from tests._paths import OPENALEX, REPO, RESTRICTED
from tracker.listsources.bundled import BUNDLED_SOURCES
from tracker.watchlists import (
    CONTEXT_LISTS,
    DESIGNATION_LISTS,
    ListEntry,
    Registry,
    RegistryError,
    data_age_days,
    diff_editions,
    find,
    is_stale,
    load_registry,
    load_user_watchlist,
)

RAW = RESTRICTED / "raw"
BUNDLED = REPO / "tracker" / "data" / "registry.json"
needs_shared = pytest.mark.skipif(not RAW.is_dir(), reason="shared reference data not present")


@pytest.fixture(scope="module")
def reg() -> Registry:
    return load_registry()


def simple_norm(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text.lower()).split())


def read_csv(name: str) -> list[dict[str, str]]:
    with (RAW / name).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def read_json(name: str) -> Any:
    return json.loads((RAW / name).read_text("utf-8"))


def edition_counts(reg: Registry) -> dict[tuple[str, str], int]:
    c: Counter[tuple[str, str]] = Counter()
    for e in reg.entries:
        for ed in e.editions:
            c[(e.list, ed)] += 1
    return dict(c)


def entry(reg: Registry, entry_id: str) -> ListEntry:
    return reg.entry_index[entry_id]


# --------------------------------------------------------------------------- structure

def test_lists_and_codes(reg):
    shipped = {c for bs in BUNDLED_SOURCES for c in bs.lists}
    assert set(reg.lists) == set(DESIGNATION_LISTS) | set(CONTEXT_LISTS) | shipped
    assert reg.lists["ASPI_UNITRACKER"].is_designation is False
    assert all(reg.lists[c].is_designation for c in DESIGNATION_LISTS)
    assert all(reg.lists[c].data_date is not None for c in reg.lists)
    assert {e.list for e in reg.entries} == set(reg.lists)


def test_entry_ids_are_list_and_key_and_unique(reg):
    ids = [e.entry_id for e in reg.entries]
    assert len(ids) == len(set(ids))
    for e in reg.entries:
        assert e.entry_id == f"{e.list}:{e.institution_key}"
        assert e.institution_key and re.fullmatch(r"[a-z0-9_]+", e.institution_key)


def test_edition_table_counts_match_entries(reg):
    counted = edition_counts(reg)
    table = {(ed.list, ed.edition): ed.entry_count for ed in reg.editions}
    assert table == counted
    for e in reg.entries:
        assert e.editions, e.entry_id


def test_every_entry_has_provenance_and_licence(reg):
    for e in reg.entries:
        assert e.provenance.strip(), e.entry_id
        assert e.licence.strip(), e.entry_id
    for ed in reg.editions:
        assert ed.provenance and ed.licence and ed.basis, ed
    os_rows = [e for e in reg.entries if e.list in ("DOD_1286", "DOD_1260H")]
    assert os_rows and all("CC BY-NC 4.0" in e.licence for e in os_rows)


def test_no_date_without_a_source(reg):
    for e in reg.entries:
        for f in e.dates:
            assert f.source.strip() and f.basis.strip(), (e.entry_id, f)
        if e.listed_on is not None:
            assert e.listed_on_source.strip() and e.listed_on_basis.strip(), e.entry_id
            assert any(f.date == e.listed_on and f.source == e.listed_on_source
                       and f.basis == e.listed_on_basis for f in e.dates), e.entry_id
        if e.removed_on is not None:
            assert e.removed_on_source.strip(), e.entry_id
    for ed in reg.editions:
        if ed.published_on is not None:
            assert ed.basis.strip()


def test_identifier_forms(reg):
    for e in reg.entries:
        if e.ror is not None:
            assert re.fullmatch(r"0[a-z0-9]{6}[0-9]{2}", e.ror), (e.entry_id, e.ror)
        for oid in e.openalex_ids:
            assert re.fullmatch(r"I\d+", oid), (e.entry_id, oid)


def test_talent_programmes_are_typed_apart(reg):
    talent = [e for e in reg.entries if e.entry_type == "talent_program"]
    assert {e.list for e in talent} == {"DOD_1286"}
    assert any(e.name == "Thousand Talents Plan" for e in talent)
    assert not any(e.covers_subunits for e in talent)


def test_generic_aliases_are_recorded(reg):
    hit = entry(reg, "BIS_ENTITY_LIST:hit")
    assert "HIT" in hit.aliases or "HIT" in entry(reg, "ASPI_UNITRACKER:hit").aliases
    for e in reg.entries:
        assert set(e.generic_aliases) <= set(e.aliases) | {e.name}, e.entry_id
    ict = entry(reg, "BIS_ENTITY_LIST:cas_ict")
    assert "Institute of Computing Technology" in ict.generic_aliases
    assert any(len(re.sub(r"[^A-Za-z0-9]", "", g)) <= 4 for g in ict.generic_aliases)


# --------------------------------------------------------------------------- counts vs sources

@needs_shared
def test_entity_list_counts_match_the_ecfr_file(reg):
    doc = read_json("bis_entity_list_ecfr_2026-07-09_nsfreg.json")
    assert len(doc["entities"]) == 3409
    distinct = {simple_norm(x["name"]) for x in doc["entities"]}
    counts = edition_counts(reg)
    assert counts[("BIS_ENTITY_LIST", "eCFR-2026-07-09")] == len(distinct)
    web = read_json("bis_entity_list_cn_universities_2026-03-30.json")["entries"]
    assert counts[("BIS_ENTITY_LIST", "BIS-web-2026-03-30")] == len(web) == 60


@needs_shared
def test_meu_nscmic_nro_aspi_counts(reg):
    counts = edition_counts(reg)
    assert counts[("BIS_MEU", "eCFR-2026-07-09")] == len(
        read_json("bis_meu_list_ecfr_2026-07-09_nsfreg.json")["entities"]) == 70
    assert counts[("OFAC_NS_CMIC", "NS-CMIC-2021-12-16")] == len(
        read_json("ofac_nscmic_list_nsfreg_extracted_2026-07-09.json")["entities"]) == 68
    assert counts[("OFAC_NS_CMIC", "EO14032-Annex-2021-06-03")] == len(
        read_json("ofac_eo14032_annex_2021-06-03_nsfreg.json")["entities"]) == 59
    assert counts[("CA_NRO", "2024-04-18")] == len(read_csv("canada_nro_list_2024-04-18.csv")) \
        == 103
    aspi = read_json("aspi_unitracker_misp_galaxy_2020-08-21.json")["values"]
    assert counts[("ASPI_UNITRACKER", "2020-08-21")] == len(aspi) == 159
    for code, n in (("BIS_MEU", 70), ("CA_NRO", 103), ("ASPI_UNITRACKER", 159),
                    ("OFAC_NS_CMIC", 68)):
        assert sum(1 for e in reg.entries if e.list == code) == n, code


@needs_shared
def test_1286_counts_per_fiscal_year(reg):
    rows = read_csv("dod_section1286_lists_opensanctions.csv")
    expected = Counter(f"FY{r['report-date']}" for r in rows)
    assert expected == {"FY2022": 48, "FY2023": 105, "FY2024": 134, "FY2025": 156}
    # FY2024 prints 'Moscow State University' and 'Lomonosov Moscow State University' as two
    # rows; FY2025 prints them as one institution (a reviewed merge): one entry, both names
    same = {r["name"] for r in rows if r["report-date"] == "2024"} & {
        "Moscow State University", "Lomonosov Moscow State University"}
    assert len(same) == 2
    expected["FY2024"] -= 1
    counts = edition_counts(reg)
    for ed, n in expected.items():
        assert counts[("DOD_1286", ed)] == n, ed
    msu = reg.entry_index["DOD_1286:auto_lomonosov_moscow_state_university"]
    assert "Moscow State University" in msu.aliases and "FY2024" in msu.editions


@needs_shared
def test_all_1286_fy2025_institutions_present(reg):
    fy25 = [e for e in reg.entries if e.list == "DOD_1286" and "FY2025" in e.editions]
    names = {simple_norm(n) for e in fy25 for n in (e.name, *e.aliases)}
    missing = [r["name"] for r in read_csv("dod_section1286_lists_opensanctions.csv")
               if r["report-date"] == "2025" and simple_norm(r["name"]) not in names]
    assert missing == []


@needs_shared
def test_1260h_counts_per_edition(reg):
    rows = read_csv("dod_section1260h_full_opensanctions.csv")
    expected = Counter(r["Start date"] for r in rows)
    assert sum(expected.values()) == 397
    counts = edition_counts(reg)
    for ed, n in expected.items():
        assert counts[("DOD_1260H", ed)] == n, ed
    assert {ed.edition for ed in reg.editions if ed.list == "DOD_1260H"} == set(expected)


# --------------------------------------------------------------------------- key facts

def test_hit_on_entity_list(reg):
    hits = [e for e in reg.by_ror("01yqg2h08") if e.list == "BIS_ENTITY_LIST"]
    assert [e.entry_id for e in hits] == ["BIS_ENTITY_LIST:hit"]
    hit = hits[0]
    assert "I204983213" in hit.openalex_ids
    assert "BIS_ENTITY_LIST:hit" in {e.entry_id for e in reg.by_openalex_id("I204983213")}
    assert hit.listed_on == date(2020, 6, 5)
    cites = {f.citation.split(" (")[0] for f in hit.dates}
    # both the eCFR page citation and institutions.csv's inferred rule-start page are kept
    assert "85 FR 34497, 6/5/20" in cites and "85 FR 34495" in cites
    assert hit.covers_subunits


def test_beihang_and_ustc_dates(reg):
    beihang = entry(reg, "BIS_ENTITY_LIST:beihang")
    assert beihang.ror == "00wk2mp56"
    assert beihang.listed_on == date(2001, 5, 14)
    assert any(f.citation == "66 FR 24266, 5/14/01" and f.date == date(2001, 5, 14)
               and "Federal Register publication date" in f.basis for f in beihang.dates)
    ustc = entry(reg, "BIS_ENTITY_LIST:ustc")
    assert ustc.listed_on == date(2024, 5, 14)
    assert not ustc.covers_subunits


def test_disagreeing_dates_are_both_kept(reg):
    for key in ("bit", "nuaa", "njust"):
        e = entry(reg, f"BIS_ENTITY_LIST:{key}")
        got = {f.date for f in e.dates}
        assert {date(2020, 12, 18), date(2020, 12, 22)} <= got, key
        assert e.listed_on == date(2020, 12, 18)
        assert "disagree" in e.notes


@needs_shared
def test_every_ecfr_citation_is_kept(reg):
    doc = read_json("bis_entity_list_ecfr_2026-07-09_nsfreg.json")
    caep = next(x for x in doc["entities"] if x["name"] == "Chinese Academy of Engineering Physics")
    n_cites = len(re.findall(r"\d+\s*FR\s*\d+", caep["federal_register"]))
    e = entry(reg, "BIS_ENTITY_LIST:caep")
    assert len(e.citations) == n_cites == 7
    assert e.listed_on == date(1997, 6, 30)
    assert e.covers_subunits


def test_amms_covers_its_institutes(reg):
    amms = entry(reg, "BIS_ENTITY_LIST:amms")
    assert amms.covers_subunits and amms.listed_on == date(2021, 12, 17)
    units = [e for e in reg.entries if e.list == "BIS_ENTITY_LIST" and e.parent_key == "amms"]
    assert len(units) == 11


def test_1286_edition_dates_are_not_invented(reg):
    eds = {ed.edition: ed for ed in reg.editions if ed.list == "DOD_1286"}
    assert eds["FY2022"].published_on == date(2023, 6, 29)
    assert "URL path" in eds["FY2022"].basis
    for ed in ("FY2023", "FY2024", "FY2025"):
        assert eds[ed].published_on is None, ed
    hit = entry(reg, "DOD_1286:hit")
    assert hit.listed_on == date(2023, 6, 29)
    only_fy24 = [e for e in reg.entries if e.list == "DOD_1286" and e.editions[0] == "FY2024"]
    assert only_fy24 and all(e.listed_on is None for e in only_fy24)


def test_1260h_removals_and_fr_dates(reg):
    megvii = entry(reg, "DOD_1260H:megvii")
    assert megvii.removed_on == date(2025, 1, 7) and megvii.removed_on_source
    assert megvii.listed_between(date(2024, 6, 1)) is True
    assert megvii.listed_between(date(2025, 6, 1)) is False
    hik = entry(reg, "DOD_1260H:hikvision")
    assert hik.removed_on is None
    assert date(2026, 6, 10) in {f.date for f in hik.dates}  # the 2026 FR notice
    fr_dated = [e for e in reg.entries if e.list == "DOD_1260H"
                and any(f.citation.startswith("91 FR 35189") for f in e.dates)]
    assert len(fr_dated) == 80


def test_nscmic_keeps_listing_and_effective_dates(reg):
    e = next(x for x in reg.entries if x.list == "OFAC_NS_CMIC" and x.institution_key == "huawei")
    got = {(f.date, f.basis) for f in e.dates}
    assert (date(2021, 6, 3), "OFAC listing date (CMIC)") in got
    assert (date(2021, 8, 2), "OFAC effective date (CMIC)") in got
    assert e.listed_on == date(2021, 6, 3)


def test_aspi_is_context_without_listing_dates(reg):
    aspi = [e for e in reg.entries if e.list == "ASPI_UNITRACKER"]
    assert aspi and all(not e.is_designation and e.listed_on is None for e in aspi)


def test_same_institution_shares_its_key_across_lists(reg):
    lists = {e.list for e in reg.by_institution_key("beihang")}
    assert {"BIS_ENTITY_LIST", "DOD_1286", "ASPI_UNITRACKER"} <= lists


@needs_shared
def test_openalex_ids_from_ror_are_real_pairs(reg):
    """Every OpenAlex ID resolved from a ROR ID is a pair seen in the recorded records."""
    pairs: set[tuple[str, str]] = set()

    def walk(o: Any) -> None:
        if isinstance(o, dict):
            i, r = o.get("id"), o.get("ror")
            if isinstance(i, str) and "openalex.org/I" in i and isinstance(r, str) and r:
                pairs.add((r.rsplit("/", 1)[-1], i.rsplit("/", 1)[-1]))
            for v in o.values():
                walk(v)
        elif isinstance(o, list):
            for v in o:
                walk(v)

    # the recorded files the build's OpenAlex extract comes from (never the evaluation set)
    evaluation = {"institutions_bibgraph_2025-10.jsonl.gz", "authors_bibgraph_2025-10.jsonl.gz",
                  "snapshot_institutions_updated_date_2023-09-04_part_000.jsonl.gz"}
    for p in sorted(OPENALEX.iterdir()):
        if p.name in evaluation or p.name.startswith("schema_") or "sources" in p.name \
                or not re.search(r"\.jsonl?(\.gz)?$", p.name):
            continue
        opener: Any = gzip.open if p.suffix == ".gz" else open
        with opener(p, "rt", encoding="utf-8") as fh:
            if ".jsonl" in p.name:
                for line in fh:
                    walk(json.loads(line))
            else:
                walk(json.load(fh))
    resolved = [e for e in reg.entries if "recorded OpenAlex institution record" in e.provenance]
    assert resolved
    claimed = [(e.ror, oid) for e in resolved for oid in e.openalex_ids
               if f"openalex {oid}: recorded" in e.provenance]
    assert claimed and [c for c in claimed if c not in pairs] == []
    unresolved = reg.built_from["unresolved"]
    assert unresolved["entries_without_openalex_id"] == sum(
        1 for e in reg.entries if not e.openalex_ids)


# --------------------------------------------------------------------------- diff, find, age

def test_diff_editions(reg):
    added, removed = diff_editions(reg, "DOD_1286", "FY2024", "FY2025")
    assert all("FY2025" in e.editions and "FY2024" not in e.editions for e in added)
    assert all("FY2024" in e.editions and "FY2025" not in e.editions for e in removed)
    assert "Mabna Institute" in {e.name for e in removed}
    n24 = sum(1 for e in reg.entries if e.list == "DOD_1286" and "FY2024" in e.editions)
    n25 = sum(1 for e in reg.entries if e.list == "DOD_1286" and "FY2025" in e.editions)
    assert n24 + len(added) - len(removed) == n25
    with pytest.raises(RegistryError, match="no edition"):
        diff_editions(reg, "DOD_1286", "FY2024", "FY2030")
    with pytest.raises(RegistryError, match="unknown list"):
        diff_editions(reg, "NOPE", "a", "b")


def test_find_by_name_alias_ids_and_chinese(reg):
    ids = {e.entry_id for e in find(reg, "https://ror.org/01yqg2h08")}
    assert "BIS_ENTITY_LIST:hit" in ids
    assert ids == {e.entry_id for e in find(reg, "I204983213")}
    assert "BIS_ENTITY_LIST:hit" in {e.entry_id for e in find(reg, "哈尔滨工业大学")}
    assert "BIS_ENTITY_LIST:beihang" in {e.entry_id for e in find(reg, "Beihang University")}
    assert [e.entry_id for e in find(reg, "BIS_ENTITY_LIST:ustc")] == ["BIS_ENTITY_LIST:ustc"]
    assert find(reg, "zz-no-such-institution-zz") == []


def test_data_age():
    assert data_age_days(date(2026, 1, 1), today=date(2026, 1, 31)) == 30
    assert is_stale(date(2026, 1, 1), 29, today=date(2026, 1, 31))
    assert not is_stale(date(2026, 1, 1), 30, today=date(2026, 1, 31))
    assert is_stale(None)


# --------------------------------------------------------------------------- user watchlists

EXAMPLES = REPO / "tracker" / "data"


def test_example_watchlists_load_and_agree():
    a = load_user_watchlist(EXAMPLES / "example_watchlist.csv")
    b = load_user_watchlist(EXAMPLES / "example_watchlist.yaml")
    assert [e.to_json() for e in a] == [
        {**e.to_json(), "provenance": a.entries[i].provenance} for i, e in enumerate(b)]
    hit = a.by_ror("01yqg2h08")[0]
    assert hit.listed_on == date(2020, 6, 5) and hit.dates[0].source
    assert "HIT" in hit.generic_aliases
    assert a.entries[1].listed_on is None
    merged = load_registry().merged_with(a)
    assert "MY_WATCHLIST" in merged.lists
    assert {e.list for e in merged.by_ror("01yqg2h08")} >= {"BIS_ENTITY_LIST", "MY_WATCHLIST"}


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    p = tmp_path / name
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text, encoding="utf-8")
    return p


@pytest.mark.parametrize(("name", "text", "line", "field"), [
    ("bad_ror.csv", "name,ror\nA University,01yqg2h08\nB University,not-a-ror\n", 3, "ror"),
    ("bad_col.csv", "name,colour\nA,red\n", 1, "colour"),
    ("no_name.csv", "ror\n01yqg2h08\n", 1, "name"),
    ("empty_name.csv", "name,country\nA,CN\n,CN\n", 3, "name"),
    ("bad_date.csv", "name,listed_on,listed_on_source\nA,2020-13-01,x\n", 2, "listed_on"),
    ("date_no_source.csv", "name,listed_on\nA,2020-01-01\n", 2, "listed_on_source"),
    ("bad_oa.csv", "name,openalex_ids\nA,I1|W123\n", 2, "openalex_ids"),
    ("bad_country.csv", "name,country\nA,China\n", 2, "country"),
    ("bundled_code.csv", "list,name\nDOD_1286,A\n", 2, "list"),
    ("dupe.csv", "name\nA Univ\nB Univ\nA Univ\n", 4, "name"),
    ("extra.csv", "name\nA,B\n", 2, "name"),
    ("bad_bool.csv", "name,covers_subunits\nA,maybe\n", 2, "covers_subunits"),
    ("bad.yaml", "list: MINE\nentries:\n  - name: A\n  - name: B\n    listed_on: 2020-02-30\n"
                 "    listed_on_source: x\n", 5, "listed_on"),
    ("bad_key.yaml", "list: MINE\nentries:\n  - name: A\n    colour: red\n", 4, "colour"),
    ("syntax.yaml", "list: MINE\nentries:\n  - name: [unclosed\n", 4, "(yaml)"),
    ("no_entries.yaml", "list: MINE\n", 1, "entries"),
    ("not_list.yaml", "entries:\n  name: A\n", 2, "entries"),
    ("latin1.csv", "name\nA\nUniversit\xe9\n".encode("latin-1"), 3, "(encoding)"),
    ("empty.csv", "", 1, "name"),
])
def test_malformed_watchlist_names_file_line_and_field(tmp_path, name, text, line, field):
    p = write(tmp_path, name, text)
    with pytest.raises(RegistryError) as exc:
        load_user_watchlist(p)
    msg = str(exc.value)
    assert str(p) in msg
    assert f"line {line}:" in msg, msg
    assert f"field '{field}'" in msg, msg
    assert "\n" not in msg


def test_missing_and_unknown_kind_of_file(tmp_path):
    with pytest.raises(RegistryError, match="cannot read"):
        load_user_watchlist(tmp_path / "nope.csv")
    with pytest.raises(RegistryError, match=r"\.csv, \.yaml"):
        load_user_watchlist(write(tmp_path, "list.txt", "name\nA\n"))


def test_the_registry_loads_with_the_collector_paused_and_on_after(monkeypatch):
    import gc

    import tracker.watchlists as wl

    seen: list[bool] = []
    build = wl._registry_from_json

    def spy(doc):
        seen.append(gc.isenabled())
        return build(doc)

    monkeypatch.setattr(wl, "_registry_from_json", spy)
    assert gc.isenabled()
    assert load_registry().entries
    assert seen == [False] and gc.isenabled()
    with pytest.raises(RegistryError):
        load_registry("/nonexistent/registry.json")
    assert gc.isenabled()


def test_load_registry_error_is_registry_error(tmp_path):
    with pytest.raises(RegistryError):
        load_registry(write(tmp_path, "reg.json", "{not json"))


# --------------------------------------------------------------------------- one institution

MERGES = REPO / "tracker" / "data" / "institution_merges.csv"


def _merge_rows() -> list[dict[str, str]]:
    with MERGES.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _name_key(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", text.casefold())


def test_no_institution_appears_twice(reg):
    """No two institution keys share a ROR or OpenAlex ID, no list holds one key twice,
    and no two keys share a printed name and country unless the reviewed merge file
    keeps them apart.  Fails on the old registry (e.g. 'hit' and Canada's
    'auto_harbin_institute_of_technology'; the two CARDC keys)."""
    ids: dict[str, set[str]] = {}
    for e in reg:
        for i in ([e.ror] if e.ror else []) + list(e.openalex_ids):
            ids.setdefault(i, set()).add(e.institution_key)
    assert {i: ks for i, ks in ids.items() if len(ks) > 1} == {}
    per_list = Counter((e.list, e.institution_key) for e in reg)
    assert [k for k, n in per_list.items() if n > 1] == []
    apart = {frozenset((r["key"], r["into"])) for r in _merge_rows()
             if r["decision"] == "keep_apart"}
    names: dict[tuple[str, str | None], set[str]] = {}
    for e in reg:
        if e.entry_type != "talent_program":
            names.setdefault((_name_key(e.name), e.country), set()).add(e.institution_key)
    twice = {n: ks for n, ks in names.items()
             if len(ks) > 1 and not any(frozenset(p) in apart for p in
                                         [(a, b) for a in ks for b in ks if a < b])}
    assert twice == {}


def test_merge_file_rows_are_reviewed_with_reasons(reg):
    rows = _merge_rows()
    assert rows and all(r["decision"] in ("merge", "keep_apart") for r in rows)
    assert all(len(r["reason"]) > 20 for r in rows)
    for r in rows:
        if r["decision"] == "merge":
            # the merged key is gone, its entries now sit under the kept key
            assert not reg.by_institution_key(r["key"]), r
            assert reg.by_institution_key(r["into"]), r
        else:
            assert reg.by_institution_key(r["key"]) and reg.by_institution_key(r["into"]), r
    assert len(reg.built_from["merged_institutions"]) >= 30


def test_one_institution_with_all_its_memberships(reg):
    hit = reg.institution("hit")
    assert hit is not None
    assert set(hit.lists) == {"ASPI_UNITRACKER", "BIS_ENTITY_LIST", "CA_NRO", "DOD_1286"}
    assert hit.rors == ("01yqg2h08",) and "I204983213" in hit.openalex_ids
    ca = hit.membership("CA_NRO")
    assert ca is not None and ca.ror == "01yqg2h08"   # IDs shared with its other entries
    assert "CA_NRO:auto_harbin_institute_of_technology" in ca.merged_from
    assert reg.current_entry_id("CA_NRO:auto_harbin_institute_of_technology") == "CA_NRO:hit"
    cardc = reg.institution("auto_china_aerodynamics_research_and_development_center")
    assert cardc is not None and {"BIS_ENTITY_LIST", "CA_NRO"} <= set(cardc.lists)


def test_qualified_subsidiaries_are_not_merged_into_their_parent(reg):
    # the keep-apart rows: a listed front company is not its listed parent (CAEP)
    caep = reg.institution("caep")
    assert caep is not None
    assert reg.by_institution_key("auto_china_jiuyuan_trading_corporation")
    assert all(e.institution_key == "caep" for e in caep.memberships)


# --------------------------------------------------------------------------- dates

@needs_shared
def test_canada_list_is_dated_by_its_document_not_the_page(reg):
    """The NRO page was modified 2024-04-18; the list document it links is dated 09 Jan
    2024 (file name), announced January 16, 2024 (policy-rules.md section 3)."""
    html = (RAW / "canada_nro_page_modified-2024-04-18_downloaded-2024-09-09.html").read_text(
        "utf-8")
    assert "1082-named-research-organizations-list-09Jan2024.pdf" in html
    assert 'name="dcterms.date" content="2024-04-18"' in html
    info = reg.lists["CA_NRO"]
    assert info.first_published == date(2024, 1, 9)
    assert "09Jan2024" in info.first_published_basis
    ed = next(ed for ed in reg.editions if ed.list == "CA_NRO")
    assert ed.published_on == date(2024, 1, 9)
    for e in reg:
        if e.list == "CA_NRO":
            assert e.list_since == date(2024, 1, 9)
            assert e.listed_on == date(2024, 4, 18) and e.listed_on_kind == "on_list_by"


@needs_shared
def test_before_the_first_edition_is_no_and_in_between_is_unknown(reg):
    """Real works and real entries: a work published before a list existed is 'no' (it was
    'unknown' for undated DoD 1286 entries, and Canada's list was dated by its web page)."""
    from tests.matching_eval.evaluate import load_works
    from tracker.matching import Match
    from tracker.risk import listed_at

    works = load_works()
    w2013 = works["W1714665356"]          # 2013, Institute of Computing Technology, CAS
    assert w2013.publication_year == 2013
    undated = next(e for e in reg if e.list == "DOD_1286" and e.listed_on is None)
    ans, _, _, why = listed_at(Match(undated, "name", 1.0, "", None, None), w2013)
    assert ans == "no" and "2023-06-29" in why
    nro = reg.entry_index["CA_NRO:cas_ict"]
    assert listed_at(Match(nro, "name", 1.0, "", None, None), w2013)[0] == "no"
    # the 2024 works of the recorded set: between the document and the page version
    between = [w for w in works.values() if w.publication_date
               and date(2024, 1, 9) <= w.publication_date < date(2024, 4, 18)]
    after = [w for w in works.values() if w.publication_date
             and w.publication_date >= date(2024, 4, 18)]
    assert between and after
    ans, _, _, why = listed_at(Match(nro, "name", 1.0, "", None, None), between[0])
    assert ans == "unknown" and "first listing date not given" in why
    assert listed_at(Match(nro, "name", 1.0, "", None, None), after[0])[0] == "yes"
