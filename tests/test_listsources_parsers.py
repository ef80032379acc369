"""The list parsers against the recorded official files (../shared/data/restricted/sources)."""

from __future__ import annotations

import csv
import gzip
import io
from datetime import date

import pytest

from tests._paths import (
    CSL_2022,
    CSL_2023_CUT,
    DPL_2019,
    DPL_2022,
    FCC_0521,
    FCC_0820,
    FCC_HTML,
    INKSNA,
    SOURCES,
    UFLPA,
)
from tracker.listsources import (
    SourceFileError,
    TruncatedFileError,
    WrongListError,
    detect_format,
    parse_bytes,
    read_source,
)

SRC = SOURCES

pytestmark = pytest.mark.skipif(not SRC.exists(), reason="shared reference data not present")


def _csl_rows() -> list[dict[str, str]]:
    text = gzip.decompress(CSL_2022.read_bytes()).decode("utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def test_csl_2022_counts_per_list_match_a_plain_csv_reading() -> None:
    p = read_source(CSL_2022)
    rows = _csl_rows()
    assert p.rows == len(rows) == 14160
    el = [r for r in rows if r["source"].startswith("Entity List (EL)")]
    # every EL row is kept (no type column for Commerce rows); same-name rows are one entry
    assert len(p.lists["BIS_ENTITY_LIST"]) == len(el) == 2001
    individuals = sum(1 for r in rows if r["type"] == "Individual")
    assert p.left_out_individuals >= individuals
    assert p.data_date["BIS_ENTITY_LIST"] == date(2022, 4, 7)
    assert not any(e.name == "" for es in p.lists.values() for e in es)
    # the 0017-05-26 start date is kept as unknown, and said so
    assert any("0017-05-26" in w for w in p.warnings)


def test_csl_entry_fields_come_from_the_row() -> None:
    p = read_source(CSL_2022)
    e = next(x for x in p.lists["BIS_ENTITY_LIST"] if x.name == "140 Repair Plant JSC")
    assert e.country == "BY"
    assert e.listed_on == date(2022, 4, 7)
    assert e.citations == ("87 FR 20299",)
    assert "JSC 140 Repair Plant" in e.aliases


def test_truncated_csl_is_refused_naming_the_line() -> None:
    with pytest.raises(TruncatedFileError, match=r"line 4233.*cut short"):
        read_source(CSL_2023_CUT)


def test_a_cut_gzip_stream_is_refused() -> None:
    data = CSL_2022.read_bytes()
    with pytest.raises(TruncatedFileError, match="gzip"):
        parse_bytes(data[: len(data) // 2], origin="cut.csv.gz")


def test_csl_cut_mid_row_without_gzip_is_refused() -> None:
    text = DPL_2022.read_text(encoding="utf-8")
    with pytest.raises(TruncatedFileError):
        parse_bytes(text[: len(text) - 40].encode(), origin="dpl.txt")


def test_dpl_leaves_out_people_and_keeps_organisations() -> None:
    p = read_source(DPL_2022)
    names = {e.name for e in p.lists["BIS_DPL"]}
    assert "PJSC AEROFLOT" in names
    assert "AARON ABRAHAM VILLA" not in names
    assert p.left_out_individuals > 0
    assert p.rows == 581
    # the 2922-09-01 typo does not become the data date
    assert p.data_date["BIS_DPL"] == date(2022, 9, 2)


def test_fcc_csv_and_html_give_the_same_entities() -> None:
    a = read_source(FCC_HTML).lists["FCC_COVERED"]
    b = read_source(FCC_0521).lists["FCC_COVERED"]
    assert [(e.name, e.listed_on) for e in a] == [(e.name, e.listed_on) for e in b]
    assert a[0].name == "Huawei Technologies Company"
    assert a[0].listed_on == date(2021, 3, 12)


def test_fcc_later_version_adds_digitalsystem_and_category_rows_are_counted() -> None:
    p = read_source(FCC_0820)
    names = [e.name for e in p.lists["FCC_COVERED"]]
    assert "Digitalsystem Technology Inc." in names
    assert p.left_out_other["category rows (no named entity)"] == 4
    assert p.data_date["FCC_COVERED"] == date(2026, 7, 28)


def test_uflpa_page_three_tables_aliases_and_last_updated() -> None:
    p = read_source(UFLPA)
    es = p.lists["DHS_UFLPA"]
    assert len(es) == 160
    assert p.data_date["DHS_UFLPA"] == date(2025, 1, 14)
    hetian = next(e for e in es if e.name.startswith("Hetian Taida"))
    assert hetian.aliases == ("Hetian TEDA Garment",)
    assert {n for e in es for n in [e.notes.split(";")[0]]} >= {
        "UFLPA Section 2(d)(2)(B)(i)", "UFLPA Section 2(d)(2)(B)(ii)",
        "UFLPA Section 2(d)(2)(B)(v)"}


def test_opensanctions_inksna_keeps_companies_and_shows_the_licence() -> None:
    p = read_source(INKSNA)
    rows = list(csv.DictReader(INKSNA.open(encoding="utf-8")))
    companies = [r for r in rows if r["schema"] != "Person"]
    assert len(p.lists["STATE_ISN"]) == len(companies)
    assert p.left_out_individuals == len(rows) - len(companies)
    assert "CC BY-NC" in p.licence


def test_html_error_page_wrong_columns_empty_and_wrong_list() -> None:
    with pytest.raises(SourceFileError, match="error page"):
        parse_bytes(b"<!DOCTYPE html><html><body><h1>503 Service Unavailable</h1></body>"
                    b"</html>", origin="x")
    with pytest.raises(SourceFileError, match="not a known list format"):
        parse_bytes(b"a,b,c\n1,2,3\n", origin="x")
    with pytest.raises(SourceFileError, match="empty"):
        parse_bytes(b"", origin="x")
    with pytest.raises(WrongListError, match="not dpl"):
        parse_bytes(FCC_0521.read_bytes(), origin="x", source="dpl")
    bad = FCC_0521.read_text(encoding="utf-8").replace("date_of_inclusion_on_covered_list",
                                                       "when")
    with pytest.raises(SourceFileError):
        parse_bytes(bad.encode(), origin="x", source="fcc")


def test_detect_format_of_every_recorded_kind() -> None:
    assert detect_format(CSL_2022.read_bytes()) == "csl"
    assert detect_format(DPL_2019.read_bytes()) == "dpl"
    assert detect_format(FCC_0820.read_bytes()) == "fcc"
    assert detect_format(FCC_HTML.read_bytes()) == "fcc"
    assert detect_format(UFLPA.read_bytes()) == "uflpa"
    assert detect_format(INKSNA.read_bytes()) == "opensanctions"


def test_uflpa_aliases_holding_parentheses_stay_whole() -> None:
    es = read_source(UFLPA).lists["DHS_UFLPA"]
    tnn = next(e for e in es if e.name.startswith("The TNN Development"))
    assert tnn.name == "The TNN Development Limited"
    assert tnn.aliases == ("Dehui (Dalian) International Trade Co., Ltd.",)
    assert not [e.name for e in es if e.name.count("(") != e.name.count(")")]


def test_csl_isn_rows_without_a_type_are_kept_only_as_organisations() -> None:
    """The 2022 CSL gives ISN rows no type, people among them: never kept as entries."""

    from tracker.listsources.model import is_organisation_name

    p = read_source(CSL_2022)
    text = gzip.decompress(CSL_2022.read_bytes()).decode("utf-8")
    isn = [r for r in csv.DictReader(io.StringIO(text)) if "(ISN)" in r["source"]]
    orgs = [r for r in isn if r["type"] == "Entity" or (
        not r["type"] and is_organisation_name(r["name"])
        and "individual" not in r["name"].lower())]
    assert 0 < len(p.lists["STATE_ISN"]) == len(orgs) < len(isn)
    kept = {e.name for e in p.lists["STATE_ISN"]}
    assert "Parviz Khaki" not in kept
    assert not any("individual" in n.lower() for n in kept)  # the file says: a person
