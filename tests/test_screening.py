"""The pipeline on real records: windows, subjects, data gaps, de-duplication."""

from __future__ import annotations

import json
from datetime import date

import pytest

from tests._paths import OPENALEX
from tracker.records import parse_work
from tracker.screening import ScreenSettings, SubjectSpec, screen
from tracker.sources.files import SkippedRecord, read_works
from tracker.watchlists import load_registry


@pytest.fixture(scope="module")
def registry():
    return load_registry()


@pytest.fixture(scope="module")
def beihang_msra():
    raw = json.loads((OPENALEX / "fixture_works_list_select_beihang_msra_2025-10-29.json")
                     .read_text("utf-8"))
    return [parse_work(r) for r in raw["results"]]


@pytest.fixture(scope="module")
def subset():
    return [w for w in read_works(OPENALEX / "works_china_msra_subset.jsonl")]


def test_identifier_ties_are_found_with_reasons(registry, subset):
    res = screen(subset, registry=registry, settings=ScreenSettings(name_matching=False))
    assert res.findings
    for f in res.findings:
        assert f.match_method in {"openalex_id", "ror", "lineage"}
        assert f.match_detail and f.list_entry_name and f.entry_id
        assert f.listed_at_publication in {"yes", "no", "unknown"}
        if f.listed_at_publication == "unknown":
            assert f.reason
        assert f.work_id in res.works
    # Every flagged institution really is attached by OpenAlex to that authorship.
    by_id = {w.id: w for w in subset}
    for f in res.findings:
        auth_insts = {i.id for a in by_id[f.work_id].authorships for i in a.institutions}
        assert f.institution_id in auth_insts


def test_beihang_entity_list_tie_is_dated(registry, beihang_msra):
    res = screen(beihang_msra, registry=registry)
    el = [f for f in res.findings if f.list == "BIS_ENTITY_LIST"
          and f.institution_id == "I82880672"]
    assert el
    # The select= records carry only a publication year; Beihang was listed in 2001.
    assert all(f.date_basis == "publication_year" for f in el)
    assert all(f.listed_at_publication == "yes" for f in el)
    assert all(f.listed_on == "2001-05-14" for f in el)


def test_window_filters_by_date_and_keeps_year_only_in_boundary_year(registry, subset):
    since, until = date(2020, 1, 1), date(2020, 12, 31)
    res = screen(subset, registry=registry, settings=ScreenSettings(since=since, until=until))
    expected = [w for w in subset
                if (w.publication_date and since <= w.publication_date <= until)
                or (w.publication_date is None and w.publication_year == 2020)]
    assert res.run["counts"]["works_read"] == len(expected) > 0
    assert res.run["counts"]["works_out_of_window"] == len(subset) - len(expected)


def test_subject_relation(registry, beihang_msra):
    subj = SubjectSpec("org", ("I4210113369",), label="Microsoft Research Asia")
    res = screen(beihang_msra, registry=registry, subjects=[subj])
    assert res.run["counts"]["works_not_of_subject"] + res.run["counts"]["works_read"] == 20
    assert res.findings
    by_id = {w.id: w for w in beihang_msra}
    for f in res.findings:
        auth = next(a for a in by_id[f.work_id].authorships if (a.author_id or "") == f.author_id)
        own = any(i.id == "I4210113369" or "I4210113369" in i.lineage for i in auth.institutions)
        # A subject member's second affiliation is the subject's own tie, not a co-author's.
        assert f.relation == ("subject" if own else "coauthor")


def test_skipped_records_are_counted_not_fatal(registry, subset):
    items = [*subset[:5], SkippedRecord("x.jsonl", "line 9", "not valid JSON"), *subset[:5]]
    res = screen(items, registry=registry)
    assert res.run["counts"]["works_skipped"] == 1
    assert res.run["counts"]["works_duplicate"] == 5
    assert res.run["data_gaps"]["skipped"][0]["location"] == "line 9"


def test_data_gaps_counted_from_records(registry, subset):
    res = screen(subset, registry=registry)
    gaps = res.run["data_gaps"]
    no_inst = sum(1 for w in subset for a in w.authorships if not a.institutions)
    assert gaps["authorships_without_institution"] == no_inst > 0
    assert gaps["works_year_only"] == sum(1 for w in subset if w.publication_date is None
                                          and w.publication_year is not None)


def test_list_restriction(registry, subset):
    res = screen(subset, registry=registry, settings=ScreenSettings(lists=("DOD_1286",)))
    assert res.findings and {f.list for f in res.findings} == {"DOD_1286"}
    assert [e["list"] for e in res.run["registry"]["editions"]] and all(
        e["list"] == "DOD_1286" for e in res.run["registry"]["editions"])
