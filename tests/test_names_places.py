"""City support: an acronym or short alias counts with the city (or region) its list prints
in the entry's address, and the reason says so; a city never carries an alias across lists
or to another institution of the same city.

Raw strings are real OpenAlex raw affiliation strings from the development works files
(``works_bibgraph_2025-10``, ``works_openalexpro_*``), quoted whole or as an excerpt (the
leading comma-separated parts), with the work they come from.
"""

from __future__ import annotations

import re

import pytest

from tests._paths import OPENALEX, RESTRICTED
from tracker.names import NameMatcher
from tracker.names.normalise import normalize
from tracker.names.places import PLACES_FILE, _csv_text, address_places, build_rows
from tracker.records import Authorship
from tracker.watchlists import Registry, load_registry

needs_shared = pytest.mark.skipif(not (OPENALEX.is_dir() and RESTRICTED.is_dir()),
                                  reason="shared reference data not present")


@pytest.fixture(scope="module")
def reg() -> Registry:
    return load_registry()


@pytest.fixture(scope="module")
def nm(reg: Registry) -> NameMatcher:
    return NameMatcher(reg)


@pytest.fixture(scope="module")
def nm_without_places(reg: Registry) -> NameMatcher:
    return NameMatcher(reg, places={})


def raw(nm: NameMatcher, text: str):
    return [m for m in nm.match_raw(Authorship(index=0, raw_affiliations=(text,)), [])
            if not m.context_only]


def test_the_places_table_is_rebuilt_from_the_shipped_list_files() -> None:
    assert PLACES_FILE.read_text("utf-8") == _csv_text(build_rows())


def test_the_address_of_a_listed_university_gives_its_cities() -> None:
    # the Entity List's address field of Harbin Institute of Technology (eCFR, nsfreg JSON)
    got = address_places("No. 92 Xidazhi Street, Nangang District, Harbin, Heilongjiang, "
                         "China; and No. 2 West Wenhua Road, Weihai, Shandong, China",
                         {"china"})
    assert got == [("Harbin", "city"), ("Heilongjiang", "region"), ("Weihai", "city"),
                   ("Shandong", "region")]


def test_a_city_is_reported_as_support(nm: NameMatcher) -> None:
    # excerpt of W1714665356's raw string 'Institute of Computing Technology, CAS, Beijing,
    # China#TAB#': the generic name needs context; the parent and the city give it
    ms = [m for m in raw(nm, "Institute of Computing Technology, CAS, Beijing")
          if m.entry.institution_key == "cas_ict"]
    assert {m.entry.list for m in ms} >= {"BIS_ENTITY_LIST", "DOD_1286", "CA_NRO"}
    for m in ms:
        assert "Beijing named in the string (the BIS_ENTITY_LIST address" in m.support
        assert "parent 'cas'" in m.support
        assert "supported by" in m.detail and "Beijing" in m.detail


@pytest.mark.parametrize(("text", "work"), [
    ("Northeastern University, Boston, Massachusetts (D.L.)", "W2891378911"),
    ("Northeastern University", "W2810053269"),
    ("Instituto Cajal, CSIC, Madrid, Spain", "W4295290221"),
    ("SDU, The Faculty of Health Sciences, Department of Clinical Research, KI, OUH, "
     "Research unit of Cardiology (Odense), DK", "W3082188176"),
    ("Institute for Microelectronics Technology, 142432 Chernogolovka, Russia.",
     "W2058122340"),
])
def test_real_strings_with_a_listed_acronym_or_short_name_elsewhere_do_not_flag(
        nm: NameMatcher, text: str, work: str) -> None:
    """A short name or acronym a list prints (Northeastern University, CSIC, SDU), found in
    another city or country; and a town whose other institute is listed (the Institute of
    Solid State Physics is in Chernogolovka): no designation flag."""
    assert [m.entry.entry_id for m in raw(nm, text) if m.entry.is_designation] == []


@needs_shared
def test_city_support_changes_no_flag_on_the_development_strings(
        nm: NameMatcher, nm_without_places: NameMatcher) -> None:
    """On every raw string of the development works, the places add reasons, never flags
    on their own there (no string there has an acronym with its city and no country)."""
    from tests.matching_eval.evaluate import load_works

    seen: set[str] = set()
    for w in load_works().values():
        for a in w.authorships:
            for text in a.raw_affiliations:
                if text in seen:
                    continue
                seen.add(text)
                with_places = {m.entry.entry_id for m in raw(nm, text)}
                without = {m.entry.entry_id for m in raw(nm_without_places, text)}
                assert with_places == without, text
    assert len(seen) > 2000


def _acronym_city_cases(reg: Registry, nm: NameMatcher) -> list[tuple[str, str, str]]:
    """(institution key, an acronym one of its lists prints, a city of its addresses)."""
    out = []
    for key, places in nm._places.items():
        cities = [p.name for p in places if p.kind == "city"]
        if not cities:
            continue
        for e in reg.by_institution_key(key):
            for a in e.aliases:
                if re.fullmatch(r"[A-Z]{2,6}", a):
                    out.append((key, a, cities[0]))
    return sorted(set(out))


def test_a_city_never_carries_an_alias_to_a_list_that_does_not_print_it(
        reg: Registry, nm: NameMatcher) -> None:
    """Property over every real (acronym, city) pair of the registry: 'ACRONYM, City'
    matches an entry only where that entry's list prints the acronym, and only entries
    whose own addresses hold the city."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    cases = _acronym_city_cases(reg, nm)
    assert len(cases) > 30

    @settings(max_examples=200, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow])
    @given(st.sampled_from(cases))
    def check(case: tuple[str, str, str]) -> None:
        _key, acronym, city = case
        for m in raw(nm, f"{acronym}, {city}"):
            printed = {normalize(x) for x in (m.entry.name, *m.entry.aliases)}
            assert normalize(m.alias) in printed, (m.entry.entry_id, m.alias)
            if "named in the string (the" in m.support:
                own = {p.name for p in nm._places.get(m.entry.institution_key, ())}
                assert any(p in m.support for p in own), (m.entry.entry_id, m.support)

    check()


def test_an_acronym_alone_never_flags_even_with_places(reg: Registry, nm: NameMatcher) -> None:
    cases = _acronym_city_cases(reg, nm)
    for _key, acronym, _city in cases:
        assert [m.entry.entry_id for m in raw(nm, acronym) if m.entry.is_designation] == []
