"""Name matching (tracker.names): the measured targets on the labelled evaluation set, and
the rules behind them.

The evaluation set (``tests/matching_eval/labels.csv``, see its README) is built from the
recorded OpenAlex works in ``shared/data/openalex`` and the lists' own alias tables.  The
short strings in the rule tests below are test inputs written for one rule each; they are
not OpenAlex data and are not used as such.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from dataclasses import replace

import pytest

from tests._paths import OPENALEX, REPO
from tests.matching_eval.evaluate import (
    LABELS,
    Scores,
    evaluate,
    load_labels,
    load_works,
    restrict,
)
from tracker.matching import Match, Matcher
from tracker.names import (
    DEFAULT_FUZZY_THRESHOLD,
    Lookalike,
    NameMatcher,
    cached_name_matcher,
    load_country_names,
    load_lookalikes,
    normalize,
)
from tracker.records import Authorship, InstitutionRef
from tracker.watchlists import ListEntry, Registry, load_registry

needs_shared = pytest.mark.skipif(not OPENALEX.is_dir(), reason="shared OpenAlex data absent")


@pytest.fixture(scope="module")
def reg() -> Registry:
    return load_registry()


@pytest.fixture(scope="module")
def nm(reg: Registry) -> NameMatcher:
    return NameMatcher(reg)


@pytest.fixture(scope="module")
def matcher(reg: Registry, nm: NameMatcher) -> Matcher:
    return Matcher(reg, name_matcher=nm)


@pytest.fixture(scope="module")
def works():
    return load_works()


@pytest.fixture(scope="module")
def scores(matcher: Matcher, works) -> Scores:
    return evaluate(matcher, load_labels(), works)


def keys(matches: list[Match], *, context: bool = False) -> set[str]:
    return {m.entry.institution_key for m in matches if m.context_only == context}


def raw(nm: NameMatcher, text: str, countries: tuple[str, ...] = ()) -> list[Match]:
    return nm.match_raw(Authorship(index=0, raw_affiliations=(text,), countries=countries), [])


# --------------------------------------------------------------------------- targets

@needs_shared
def test_recall_on_ties_openalex_resolves_is_one(scores: Scores) -> None:
    assert scores.id_total >= 80
    assert scores.id_recall == 1.0, [m for m in scores.missed if m[2] == "identifier"]


@needs_shared
def test_recall_on_raw_string_only_ties(scores: Scores) -> None:
    assert scores.raw_total_by_source["openalex"] >= 20   # real OpenAlex raw-only ties
    assert scores.raw_recall >= 0.95, [m for m in scores.missed if m[2] == "name"]
    real = scores.raw_found_by_source["openalex"] / scores.raw_total_by_source["openalex"]
    assert real >= 0.95


@needs_shared
def test_precision_overall(scores: Scores) -> None:
    assert scores.tp >= 400
    assert scores.precision >= 0.99, scores.false_positives


@needs_shared
def test_no_match_from_a_generic_alias_alone(scores: Scores) -> None:
    assert scores.generic_hits == []
    assert scores.unsupported_generic == []


@needs_shared
def test_each_hard_negative_is_unmatched(scores: Scores) -> None:
    labels = load_labels()
    assert sum(lab.label_kind == "hard_negative" for lab in labels) >= 40
    assert scores.hard_negative_hits == []


@needs_shared
def test_disagreement_is_said_in_the_detail(matcher: Matcher, works) -> None:
    by_raw = {lab.raw: lab for lab in load_labels() if lab.source == "openalex"}
    # OpenAlex attached Moscow Institute of Thermal Technology to "MIT Teaching Systems Lab"
    lab = by_raw["MIT Teaching Systems Lab"]
    auth, _ = restrict(works[lab.work_id].authorships[lab.authorship_index or 0], lab.raw)
    ms = [m for m in matcher.match_authorship(auth) if m.method == "openalex_id"]
    assert ms and all("does not name" in m.detail and "disagree" in m.detail for m in ms)
    # the raw string names ICT; OpenAlex attached only its parent CAS
    lab = next(v for k, v in by_raw.items() if k.startswith("[Institute of Computing Tech"))
    auth, _ = restrict(works[lab.work_id].authorships[lab.authorship_index or 0], lab.raw)
    ms = [m for m in matcher.match_authorship(auth) if m.entry.institution_key == "cas_ict"]
    assert ms and all(m.method == "name" for m in ms)
    # OpenAlex attached the parent named in the entry's name: partial, not a disagreement
    assert all("Chinese Academy of Sciences (I19820366)" in m.detail
               and "only to the parent" in m.detail and m.agreement == "partial"
               for m in ms)
    assert all([i.id for i in m.attached] == ["I19820366"] for m in ms)


# --------------------------------------------------------------------------- the label file

@needs_shared
def test_labels_are_justified_and_openalex_rows_are_real(works) -> None:
    with LABELS.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    kinds = Counter(r["label_kind"] for r in rows)
    assert {"id_resolved_positive", "raw_only_positive", "hard_negative",
            "generic_alias_negative", "negative"} <= set(kinds)
    for r in rows:
        assert r["justification"].strip(), r["row_id"]
        if r["source"] == "openalex":
            auth = works[r["work_id"]].authorships[int(r["authorship_index"])]
            assert r["raw_affiliation"] in auth.raw_affiliations, r["row_id"]
            _, ids = restrict(auth, r["raw_affiliation"])
            assert " ".join(ids) == r["openalex_institution_ids"], r["row_id"]
        else:
            assert r["source"] in ("list alias table", "named look-alike",
                                   "published affiliation")
            assert not r["work_id"] and not r["openalex_institution_ids"]


def test_lookalike_and_country_tables_cite_their_sources() -> None:
    rows = load_lookalikes()
    assert len(rows) >= 50
    assert all(r.source for r in rows)
    assert {r.relation for r in rows} == {"distinct", "unit", "same_name"}
    names = load_country_names()
    assert names["china"] == "CN" and names["russia"] == "RU"
    with (REPO / "tracker" / "data" / "country_names.csv").open(encoding="utf-8") as fh:
        assert all(r["source"] for r in csv.DictReader(fh))


@needs_shared
def test_shipped_tables_are_rebuilt_byte_for_byte_from_their_sources() -> None:
    from tests.matching_eval import build_tables as bt

    cn = bt.build_country_names()
    la = bt.build_lookalikes({normalize(r["name"]): r["code"] for r in cn})
    with (REPO / "tracker" / "data" / "lookalikes.csv").open(encoding="utf-8") as fh:
        assert list(csv.DictReader(fh)) == la
    with (REPO / "tracker" / "data" / "country_names.csv").open(encoding="utf-8") as fh:
        assert list(csv.DictReader(fh)) == cn


# --------------------------------------------------------------------------- the rules

def test_normalisation_and_abbreviations() -> None:
    assert normalize("Harbin Inst. of Tech.") == "harbin institute of technology"
    assert normalize("Natl Univ Def Technol") == "national university defense technology"
    assert normalize("Chinese Acad. Sci.") == normalize("Chinese Academy of Sciences").replace(
        " of ", " ")
    assert normalize("Xi’an") == normalize("Xian") == "xian"
    assert normalize("Ｕｎｉｖ．") == "university"   # full-width NFKC


def test_full_names_abbreviated_forms_and_chinese(nm: NameMatcher) -> None:
    assert "hit" in keys(raw(nm, "School of Astronautics, Harbin Inst. of Tech., Harbin"))
    assert "ustc" in keys(raw(nm, "Univ Sci & Technol China, Hefei 230026, Peoples R China"))
    assert "nudt" in keys(raw(nm, "Natl Univ Def Technol, Coll Comp, Changsha, Peoples R China"))
    assert "nwpu" in keys(raw(nm, "西北工业大学 航天学院"))


def test_harbin_look_alikes(nm: NameMatcher) -> None:
    assert "hit" not in keys(raw(nm, "Harbin Medical University, Harbin, China"))
    heu = raw(nm, "College of Underwater Acoustic Engineering, Harbin Engineering University")
    assert "heu" in keys(heu) and "hit" not in keys(heu)   # HEU is listed itself, as HEU
    assert "hit" not in keys(raw(nm, "哈尔滨工程大学"))


def test_longest_match_wins(nm: NameMatcher) -> None:
    usb = raw(nm, "University of Science and Technology Beijing, Beijing 100083, China")
    assert "ustc" not in keys(usb)
    assert "nwpu" not in keys(raw(nm, "Northwestern University, Evanston, IL, USA"))
    assert "scu" not in keys(raw(nm, "Sichuan University of Science & Engineering, Zigong"))
    assert "scu" in keys(raw(nm, "West China School of Medicine, Sichuan University, Chengdu"))
    assert "nudt" not in keys(raw(nm, "National University of Singapore, Singapore"))
    bupt = raw(nm, "Beijing University of Posts and Telecommunications, Beijing, China")
    assert keys(bupt) == {"bupt"}   # not Peking University ("Beijing University")


def test_a_unit_counts_only_where_the_entry_covers_units(nm: NameMatcher) -> None:
    ms = raw(nm, "Faculty of Marine Science and Technology, Beijing Institute of Technology, "
                 "Zhuhai 519000, China")
    flagged = {m.entry.list for m in ms if m.entry.institution_key == "bit" and not m.context_only}
    context = {m.entry.list for m in ms if m.entry.institution_key == "bit" and m.context_only}
    assert flagged == {"BIS_ENTITY_LIST"}              # its entry covers BIT's units
    assert {"ASPI_UNITRACKER", "DOD_1286", "CA_NRO"} <= context
    assert all("context only" in m.detail for m in ms if m.context_only)
    xmum = raw(nm, "School of Energy, Xiamen University Malaysia, Selangor, Malaysia")
    assert keys(xmum) == set() and "auto_xiamen_university" in keys(xmum, context=True)


def test_a_listed_unit_does_not_make_its_parent_listed(nm: NameMatcher) -> None:
    ms = raw(nm, "Institute of Chemistry, Chinese Academy of Sciences, Beijing 100190, China")
    assert keys(ms) == set()
    assert ms and all(m.context_only for m in ms)
    assert "not listed itself" in ms[0].detail and "Chinese Academy of Sciences" in ms[0].detail
    assert keys(raw(nm, "University of Chinese Academy of Sciences, Beijing")) == set()
    iop = raw(nm, "Institute of Physics, Chinese Academy of Sciences, Beijing 100190, China")
    assert keys(iop) == {"cas_iop"}


def test_generic_aliases_need_context_and_say_which(nm: NameMatcher) -> None:
    for text in ("HIT", "ICT", "BIT", "Institute of Physics", "School of ICT, Xiamen University"):
        assert not keys(raw(nm, text)) & {"hit", "bit", "cas_ict", "cas_iop"}, text
    assert "hit" not in keys(raw(nm, "Hit Research Group, Harbin, China"))  # not in capitals
    hit = [m for m in raw(nm, "HIT, Harbin 150001, China") if m.entry.institution_key == "hit"]
    assert hit and all("supported by city Harbin named in the string" in m.detail
                       and "country CN named in the string" in m.detail for m in hit)
    ict = [m for m in raw(nm, "ICT, CAS, Beijing") if m.entry.institution_key == "cas_ict"]
    assert ict and all("CAS" in m.detail or "cas" in m.detail for m in ict)
    via_auth = raw(nm, "Institute of Computing Technology, Beijing", countries=("CN",))
    assert any("Beijing named in the string" in m.detail for m in via_auth)  # its address
    no_places = NameMatcher(nm.registry, places={})
    via_auth = raw(no_places, "Institute of Computing Technology, Beijing", countries=("CN",))
    assert any("authorship's countries" in m.detail for m in via_auth)
    assert "cas_iop" not in keys(raw(nm, "Helsinki Institute of Physics, Finland"))
    assert "cas_ime" not in keys(raw(nm, "Institute of Microelectronics, Tsinghua University, "
                                         "Beijing, China"))


def test_a_name_is_dropped_when_the_string_names_only_other_countries(nm: NameMatcher) -> None:
    neu = "auto_northeastern_university"
    assert neu not in keys(raw(nm, "Northeastern University, Boston, MA, USA"))
    assert neu not in keys(raw(nm, "Northeastern University", countries=("US",)))
    assert neu in keys(raw(nm, "Northeastern University, Shenyang 110819, China"))


def test_people_are_never_matched(reg: Registry, nm: NameMatcher) -> None:
    persons = [reg.entry_index[i] for i, why in nm.excluded.items() if "individual" in why]
    assert len(persons) > 100
    person = next(e for e in persons if e.country == "CN")
    assert keys(raw(nm, f"Department of Physics ({person.name}), Fudan University, "
                        "Shanghai, China")) == {"auto_fudan_university"}
    a = Authorship(index=0, author_name=person.name, raw_affiliations=("Tsinghua University",))
    b = Authorship(index=0, author_name="Someone Else", raw_affiliations=("Tsinghua University",))
    assert [m.detail for m in nm.match_raw(a, [])] == [m.detail for m in nm.match_raw(b, [])]


def test_fuzzy_threshold_is_the_users(reg: Registry) -> None:
    text = "Harbin Institue of Technolgy, Harbin, China"
    strict = NameMatcher(reg, fuzzy_threshold=99.0)
    loose = NameMatcher(reg, fuzzy_threshold=DEFAULT_FUZZY_THRESHOLD)
    off = NameMatcher(reg, fuzzy=False)
    found = [m for m in raw(loose, text) if m.entry.institution_key == "hit"]
    assert found and all(m.method == "fuzzy" and 0.92 <= m.score < 1.0 for m in found)
    assert "rapidfuzz ratio" in found[0].detail
    assert "hit" not in keys(raw(strict, text)) and "hit" not in keys(raw(off, text))
    with pytest.raises(ValueError):
        NameMatcher(reg, fuzzy_threshold=120)


def test_fuzzy_never_reaches_a_look_alike(nm: NameMatcher) -> None:
    for text in ("Hubei University of Technology, Wuhan", "Yunnan University, Kunming",
                 "Shanxi University, Taiyuan", "Beijing Jiaotong University, Beijing",
                 "University of South Australia, Adelaide"):
        assert not [m for m in raw(nm, text) if m.method == "fuzzy"], text


def test_identifier_ties_are_not_repeated_and_disagreement_is_said(reg: Registry,
                                                                   matcher: Matcher) -> None:
    hit_ror = InstitutionRef(id="I204983213", display_name="Harbin Institute of Technology",
                             ror="01yqg2h08", country_code="CN")
    named = Authorship(index=0, raw_affiliations=("Harbin Institute of Technology, Harbin",),
                       affiliations=(("Harbin Institute of Technology, Harbin",
                                      ("I204983213",)),), institutions=(hit_ror,))
    ms = matcher.match_authorship(named)
    by_entry = Counter(m.entry.entry_id for m in ms)
    assert max(by_entry.values()) == 1                 # each entry once
    assert all("disagree" not in m.detail for m in ms)
    silent = Authorship(index=0, raw_affiliations=("School of Computing, Shenzhen",),
                        affiliations=(("School of Computing, Shenzhen", ("I204983213",)),),
                        institutions=(hit_ror,))
    ms = [m for m in matcher.match_authorship(silent) if m.method in ("openalex_id", "ror")]
    assert ms and all("does not name" in m.detail for m in ms)
    other = InstitutionRef(id="I1", display_name="Somewhere Else University", country_code="CN")
    wrong = Authorship(index=0, raw_affiliations=("Harbin Institute of Technology",),
                       affiliations=(("Harbin Institute of Technology", ("I1",)),),
                       institutions=(other,))
    ms = [m for m in matcher.match_authorship(wrong) if m.entry.institution_key == "hit"]
    assert ms and all("Somewhere Else University (I1)" in m.detail and "disagree" in m.detail
                      for m in ms)


def test_the_name_of_an_attached_institution_without_identifier(reg: Registry,
                                                                nm: NameMatcher) -> None:
    bgi = InstitutionRef(id="I0", display_name="BGI Group (China)", country_code="CN")
    a = Authorship(index=0, raw_affiliations=("BGI-Shenzhen, Shenzhen 518083, China",),
                   affiliations=(("BGI-Shenzhen, Shenzhen 518083, China", ("I0",)),),
                   institutions=(bgi,))
    ms = [m for m in nm.match_raw(a, []) if m.entry.institution_key == "auto_bgi_group"]
    assert ms and ms[0].institution == bgi and "name of the institution OpenAlex attached" in (
        ms[0].detail)
    assert "auto_beijing_graphene_institute_co_ltd" not in keys(nm.match_raw(a, []))


def test_custom_registry_and_lookalikes() -> None:
    e = ListEntry(entry_id="U:x", list="U", name="Example Institute of Testing",
                  institution_key="x", country="CN")
    reg = Registry([e], lists=[], editions=[], version="t")
    la = Lookalike(name="Example Institute of Testing Annex", relation="distinct",
                   related_key="x", source="test")
    nm = NameMatcher(reg, lookalikes=[la], country_names={"china": "CN"})
    assert keys(raw(nm, "Example Inst. of Testing, China")) == {"x"}
    assert keys(raw(nm, "Example Institute of Testing Annex, China")) == set()


def test_cache_per_distinct_string(nm: NameMatcher) -> None:
    text = "Beihang University, Beijing 100191, China"
    first = nm._scan(text)
    assert nm._scan(text) is first


def test_cached_matcher_scores_the_same_and_a_corrupt_cache_is_rebuilt(
        reg: Registry, works, scores: Scores, tmp_path) -> None:
    built = cached_name_matcher(reg, cache_dir=tmp_path)          # builds and stores
    (path,) = tmp_path.glob("name_matcher_*.pickle")
    loaded = cached_name_matcher(reg, cache_dir=tmp_path)         # loads from the file
    assert loaded is not built and loaded.registry is reg
    assert evaluate(Matcher(reg, name_matcher=loaded), load_labels(), works) == scores
    # a damaged file is rebuilt and replaced, never trusted
    path.write_bytes(path.read_bytes()[:-1000])
    rebuilt = cached_name_matcher(reg, cache_dir=tmp_path)
    assert rebuilt.excluded == built.excluded
    assert evaluate(Matcher(reg, name_matcher=rebuilt), load_labels(), works) == scores
    assert cached_name_matcher(reg, cache_dir=tmp_path).excluded == built.excluded


def test_cached_matcher_is_keyed_by_registry_content(reg: Registry, tmp_path) -> None:
    cached_name_matcher(reg, cache_dir=tmp_path)
    entry = next(e for e in reg.entries if e.name and not e.aliases)
    renamed = replace(entry, name="Harbin Institute of Technology")
    changed = Registry([renamed, *(e for e in reg.entries if e is not entry)],
                       lists=reg.lists.values(), editions=reg.editions, version=reg.version)
    nm = cached_name_matcher(changed, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("name_matcher_*.pickle"))) == 2   # same version, new key
    assert nm.registry is changed
    assert cached_name_matcher(reg, fuzzy_threshold=80.0, cache_dir=tmp_path).fuzzy_threshold == 80


def test_the_cached_matcher_loads_with_the_collector_paused_and_on_after(
        reg: Registry, tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    import gc
    import pickle

    cached_name_matcher(reg, cache_dir=tmp_path)           # builds and stores
    seen: list[bool] = []
    loads = pickle.loads

    def spy(data: bytes) -> object:
        seen.append(gc.isenabled())
        return loads(data)

    monkeypatch.setattr(pickle, "loads", spy)
    assert gc.isenabled()
    nm = cached_name_matcher(reg, cache_dir=tmp_path)      # loads from the file
    assert seen == [False] and gc.isenabled()
    assert nm.registry is reg


def test_every_table_the_matcher_package_reads_is_in_its_cache_key() -> None:
    """The cache key holds the shipped tables' bytes (MATCHER_TABLES), not the tables as
    loaded: a table the package reads but the list leaves out would leave a stale matcher
    cached after that table changed.  (The JSON list files under data/sources are read
    only by ``python -m tracker.names.places``, which rebuilds entry_places.csv.)"""
    import ast

    from tracker.names.cache import MATCHER_TABLES

    read: set[str] = set()
    for path in sorted((REPO / "tracker" / "names").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                      if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef))
                      and n.body and isinstance(n.body[0], ast.Expr)}
        for node in ast.walk(tree):
            if (isinstance(node, ast.Constant) and isinstance(node.value, str)
                    and id(node) not in docstrings):
                read.update(re.findall(r"[\w.-]+\.csv\b", node.value))
    assert read == set(MATCHER_TABLES)


# --------------------------------------------------------------------------- aliases per list

_PARENS = re.compile(r"\s*[(\[（【][^)\]）】]*[)\]）】]")


def _printed(e: ListEntry) -> set[str]:
    """An entry's own names as its list prints them, normalised (with and without a
    parenthesis, as the matcher reads them)."""
    out = set()
    for n in (e.name, *e.aliases, *e.aliases_zh):
        out.add(normalize(n))
        out.add(normalize(_PARENS.sub(" ", n)))
    return out


def _leak_cases(reg: Registry) -> list[tuple[str, str, str]]:
    """(institution key, alias, country) where one list of a multi-list institution prints
    the alias and another list of the same institution does not (577 in the bundled
    registry, e.g. ASPI's 'Academy of Military Sciences' for the CA_NRO entry 'ams')."""
    by_key: dict[str, list[ListEntry]] = {}
    for e in reg:
        by_key.setdefault(e.institution_key, []).append(e)
    cases = []
    for key, es in sorted(by_key.items()):
        if len({e.list for e in es}) < 2:
            continue
        for e in es:
            for a in e.aliases:
                n = normalize(a)
                if len(n.split()) >= 2 and any(n not in _printed(x) for x in es):
                    cases.append((key, a, e.country or ""))
    return sorted(set(cases))


COUNTRY_WORD = {"CN": "China", "RU": "Russia", "IR": "Iran", "": ""}


def test_an_alias_counts_only_for_the_lists_that_print_it(reg: Registry, nm: NameMatcher) -> None:
    """Property over every real case in the registry: an alias that list A prints for an
    institution never yields a match on list B of the same institution, unless B prints
    the name that was found itself.  Fails on the old matcher, which pooled the aliases of
    all lists per institution key."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    cases = [c for c in _leak_cases(reg) if c[2] in COUNTRY_WORD]
    assert len(cases) > 100

    @settings(max_examples=300, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow])
    @given(st.sampled_from(cases))
    def check(case: tuple[str, str, str]) -> None:
        key, alias, cc = case
        text = f"{alias}, {COUNTRY_WORD[cc]}" if cc else alias
        for m in raw(nm, text):
            if m.entry.institution_key != key or m.context_only or m.method != "name":
                continue
            assert m.alias, m
            assert normalize(m.alias) in _printed(m.entry), (
                f"{m.entry.entry_id} matched through {m.alias!r}, which its list does not print")

    check()


def test_a_context_list_alias_does_not_flag_a_designation_entry(reg: Registry,
                                                                nm: NameMatcher) -> None:
    # ASPI (context) prints 'Beijing Hangxing Machine Building Corporation' among CASIC's
    # names; DoD 1260H and NS-CMIC list CASIC without it: no designation flag from it
    key = "auto_china_aerospace_science_and_industry_corporation_limited"
    casic = {e.list: e for e in reg.by_institution_key(key)}
    assert {"ASPI_UNITRACKER", "DOD_1260H", "OFAC_NS_CMIC"} <= set(casic)
    assert "Beijing Hangxing Machine Building Corporation" in casic["ASPI_UNITRACKER"].aliases
    got = {m.entry.list for m in raw(nm, "Beijing Hangxing Machine Building Corporation, "
                                         "Beijing, China")
           if m.entry.institution_key == key and not m.context_only}
    assert got == {"ASPI_UNITRACKER"}


def test_an_acronym_match_says_which_context_supported_it(nm: NameMatcher) -> None:
    ms = [m for m in raw(nm, "HIT, Harbin, China") if m.entry.institution_key == "hit"]
    assert ms and all(m.support and "country CN" in m.support for m in ms)
    assert all(m.alias == "HIT" for m in ms)


# --------------------------------------------------------------------------- qualifiers

def _qualified_names(reg: Registry) -> list[tuple[str, str, str, str]]:
    """(entry ID, name as printed, the name without its place qualifier, qualifier code)
    for every name a list prints with a place in parentheses ("(UK)", "(HK)", ...)."""
    from tracker.names import QUALIFIER_PLACES

    places = {**load_country_names(), **QUALIFIER_PLACES}
    out = []
    for e in reg:
        for n in (e.name, *e.aliases):
            for m in re.finditer(r"\(([^)]*)\)", n):
                code = places.get(normalize(m.group(1)))
                if code and code != e.country:
                    out.append((e.entry_id, n, " ".join((n[:m.start()] + " " +
                                                         n[m.end():]).split()), code))
    return sorted(set(out))


def test_a_qualifier_is_never_dropped(reg: Registry, nm: NameMatcher) -> None:
    """Property over every qualified name the lists print (e.g. the Entity List's
    'Shanghai Fudan Microelectronics (HK) Co., Ltd.', 'Huawei Technologies (UK) Co.,
    Ltd.'): the unqualified name never matches the qualified entry, and the qualified
    name never matches an entry of another country that does not print it.  The old
    matcher read '(HK)' as an acronym and dropped it both ways."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    cases = _qualified_names(reg)
    assert len(cases) >= 10
    by_id = reg.entry_index

    @settings(max_examples=200, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow])
    @given(st.sampled_from(cases))
    def check(case: tuple[str, str, str, str]) -> None:
        entry_id, qualified, bare, code = case
        entry = by_id[entry_id]
        own = {normalize(x) for x in (entry.name, *entry.aliases)}
        if normalize(bare) not in own:
            # the entry may print a shorter name of its own ('Planet Technology'); never
            # the qualified name with its qualifier dropped
            for m in raw(nm, bare):
                if m.entry.entry_id == entry_id and not m.context_only:
                    assert normalize(m.alias) != normalize(bare), (bare, entry_id, m.alias)
                    assert normalize(m.alias) in own or normalize(
                        re.sub(r"\s*\([^)]*\)", " ", m.alias)) in own, (bare, m.alias)
        for m in raw(nm, qualified):
            if m.context_only or m.entry.institution_key == entry.institution_key:
                continue
            printed = {normalize(x) for x in (m.entry.name, *m.entry.aliases)}
            assert normalize(qualified) in printed or m.entry.country in (None, code), (
                qualified, m.entry.entry_id, m.detail)

    check()


def test_a_subsidiary_is_not_its_parent_on_real_list_names(nm: NameMatcher) -> None:
    hk = "Shanghai Fudan Microelectronics (HK) Co., Ltd."           # Entity List text
    got = {m.entry.institution_key for m in raw(nm, hk) if not m.context_only}
    assert "auto_shanghai_fudan_microelectronics_hk_co_ltd" in got
    assert "auto_shanghai_fudan_microelectronics_co_ltd" not in got
    parent = "Shanghai Fudan Microelectronics Co., Ltd."               # Entity List text
    got = {m.entry.institution_key for m in raw(nm, parent) if not m.context_only}
    assert got == {"auto_shanghai_fudan_microelectronics_co_ltd"}
    branch = "Huawei Technologies Co., Ltd. Beijing Branch"
    assert not [m for m in raw(nm, branch) if m.entry.institution_key == "huawei"
                and not m.context_only]


# ------------------------------------- a.k.a. names the lists print (independent set's gaps)

CAS = "Chinese Academy of Sciences"


def _cas_units() -> NameMatcher:
    """Three listed units of one parent (so the parent is known), and a Russian institute.

    The names follow how the Entity List and the 1286 list print these entries; the rule
    tests below are written for one rule each and are not OpenAlex data.
    """
    es = [
        ListEntry(entry_id="U:air", list="U", institution_key="air", country="CN",
                  name=f"Aerospace Information Research Institute, {CAS}",
                  aliases=(f"The Institute of Electronics, {CAS}",
                           f"Academy of Optoelectronics, {CAS}", "AIRCAS")),
        ListEntry(entry_id="U:ict", list="U", institution_key="ict", country="CN",
                  name=f"{CAS} Institute of Computing Technology",
                  aliases=(f"Institute of Computing Technology, {CAS}",
                           "Institute of Computing Technology"),
                  generic_aliases=("Institute of Computing Technology",)),
        ListEntry(entry_id="U:csu", list="U", institution_key="csu", country="CN",
                  name=f"{CAS} – Technology and Engineering Center for Space Utilization",
                  aliases=(f"Technology and Engineering Center for Space Utilization, {CAS}",)),
        ListEntry(entry_id="U:v", list="U", institution_key="v", country="RU",
                  name="OAO All-Russia Research Institute of Radio Equipment (JSC VNIIRA)"),
    ]
    reg = Registry(es, lists=[], editions=[], version="t")
    return NameMatcher(reg, lookalikes=[], country_names={"china": "CN", "russia": "RU"})


def test_a_long_unit_name_printed_with_its_parent_stands_alone() -> None:
    nm = _cas_units()
    assert keys(raw(nm, "Aerospace Information Research Institute")) == {"air"}
    assert keys(raw(nm, "Technology and Engineering Center for Space Utilization")) == {"csu"}
    # three words or fewer besides 'of': still needs the parent or the country
    assert keys(raw(nm, "Institute of Computing Technology")) == set()
    assert keys(raw(nm, "Institute of Electronics")) == set()
    assert keys(raw(nm, "Institute of Electronics", ("CN",))) == {"air"}
    assert keys(raw(nm, f"Institute of Computing Technology, {CAS}")) == {"ict"}
    assert keys(raw(nm, "AIRCAS")) == set()


def test_a_hyphenated_compound_reads_as_the_joined_one() -> None:
    nm = _cas_units()
    assert keys(raw(nm, "Academy of Opto-Electronics", ("CN",))) == {"air"}
    assert keys(raw(nm, "Academy of Optoelectronics", ("CN",))) == {"air"}


def test_leading_legal_form_and_all_russia_spellings() -> None:
    nm = _cas_units()
    assert keys(raw(nm, "All-Russian Research Institute of Radio Equipment")) == {"v"}
    assert keys(raw(nm, "All-Russia Research Institute of Radio Equipment")) == {"v"}


def test_an_institution_openalex_attached_to_a_bare_acronym_is_context_only() -> None:
    nm = _cas_units()
    inst = InstitutionRef(id="I9", display_name="All-Russian Research Institute of Radio "
                          "Equipment", country_code="RU")
    bare = Authorship(index=0, raw_affiliations=("VNIIRA",),
                      affiliations=(("VNIIRA", ("I9",)),), institutions=(inst,))
    ms = nm.match_raw(bare, [])
    assert keys(ms) == set() and keys(ms, context=True) == {"v"}
    assert all("bare acronym" in m.detail for m in ms)
    named = Authorship(index=0, raw_affiliations=("Radio Equipment Institute, Moscow",),
                       affiliations=(("Radio Equipment Institute, Moscow", ("I9",)),),
                       institutions=(inst,))
    assert keys(nm.match_raw(named, [])) == {"v"}
