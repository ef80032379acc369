"""Identifier matching (tracker.matching.Matcher) on real recorded OpenAlex authorships.

Name matching has its own tests (tests/test_names.py); here the name matcher is only used
to check what Matcher does with it (identifier ties first, name ties after, and the note
when OpenAlex's institution and the raw string disagree).
"""

from __future__ import annotations

import pytest

from tests._paths import OPENALEX
from tests.matching_eval.evaluate import load_works
from tracker.matching import METHODS, Matcher, MatchMemo
from tracker.names import NameMatcher
from tracker.records import Authorship, InstitutionRef, Work
from tracker.watchlists import ListEntry, Registry, load_registry

needs_shared = pytest.mark.skipif(not OPENALEX.is_dir(), reason="shared OpenAlex data absent")


@pytest.fixture(scope="module")
def reg() -> Registry:
    return load_registry()


@pytest.fixture(scope="module")
def works() -> dict[str, Work]:
    return load_works()


def _first(works: dict[str, Work], inst_id: str) -> tuple[Work, Authorship, InstitutionRef]:
    for w in works.values():
        for a in w.authorships:
            for i in a.institutions:
                if i.id == inst_id:
                    return w, a, i
    raise LookupError(inst_id)


@needs_shared
def test_openalex_id_tie_names_the_institution_and_the_entry(reg: Registry, works) -> None:
    _, auth, inst = _first(works, "I82880672")   # Beihang University, recorded
    ms = [m for m in Matcher(reg).match_authorship(auth) if m.institution == inst]
    assert {m.entry.institution_key for m in ms} == {"beihang"}
    assert {m.method for m in ms} == {"openalex_id"}
    assert all(m.score == 1.0 and "I82880672" in m.detail and m.entry.name in m.detail
               for m in ms)
    assert len({m.entry.entry_id for m in ms}) == len(ms)   # one match per entry


@needs_shared
def test_ror_tie_when_the_entry_has_no_openalex_id(works) -> None:
    _, auth, inst = _first(works, "I82880672")
    assert inst.ror
    entry = ListEntry(entry_id="T:b", list="T", name="Beihang University", ror=inst.ror)
    ms = Matcher(Registry([entry], lists=[], editions=[], version="t")).match_authorship(auth)
    assert [(m.method, m.entry.entry_id) for m in ms] == [("ror", "T:b")]
    assert inst.ror in ms[0].detail


@needs_shared
def test_lineage_covers_only_where_the_entry_says_so(works) -> None:
    # Xiamen University Malaysia, recorded with lineage to Xiamen University (I191208505)
    _, _, inst = _first(works, "I4210134189")
    assert "I191208505" in inst.lineage
    auth = Authorship(index=0, institutions=(inst,))   # the recorded institution alone
    covering = ListEntry(entry_id="T:x", list="T", name="Xiamen University",
                         openalex_ids=("I191208505",), covers_subunits=True)
    plain = ListEntry(entry_id="U:x", list="U", name="Xiamen University",
                      openalex_ids=("I191208505",))
    reg = Registry([covering, plain], lists=[], editions=[], version="t")
    ms = {m.entry.entry_id: m for m in Matcher(reg).match_authorship(auth)}
    assert ms["T:x"].method == "lineage" and not ms["T:x"].context_only
    assert "covers subordinate units" in ms["T:x"].detail
    assert ms["U:x"].context_only and ms["U:x"].score == 0.0
    assert "context only" in ms["U:x"].detail


@needs_shared
def test_identifier_ties_come_first_and_are_not_repeated_by_name(reg: Registry, works) -> None:
    _, auth, _ = _first(works, "I82880672")
    ms = Matcher(reg, name_matcher=NameMatcher(reg)).match_authorship(auth)
    assert all(m.method in METHODS for m in ms)
    ids = [i for i, m in enumerate(ms) if m.method in ("openalex_id", "ror", "lineage")]
    names = [i for i, m in enumerate(ms) if m.method in ("name", "fuzzy")]
    assert not names or max(ids) < min(names)
    flagged = [m.entry.entry_id for m in ms if not m.context_only]
    assert len(flagged) == len(set(flagged))


def test_a_tie_the_raw_string_does_not_name_says_so(reg: Registry) -> None:
    inst = InstitutionRef(id="I204983213", display_name="Harbin Institute of Technology",
                          ror="01yqg2h08")
    raw = "MIT Teaching Systems Lab"
    auth = Authorship(index=0, raw_affiliations=(raw,), affiliations=((raw, (inst.id,)),),
                      institutions=(inst,))
    plain = [m for m in Matcher(reg).match_authorship(auth) if m.method == "openalex_id"]
    noted = [m for m in Matcher(reg, name_matcher=NameMatcher(reg)).match_authorship(auth)
             if m.method == "openalex_id"]
    assert plain and all("disagree" not in m.detail for m in plain)   # no name matcher: no note
    assert [m.entry.entry_id for m in noted] == [m.entry.entry_id for m in plain]
    assert all("does not name 'Harbin Institute of Technology'" in m.detail for m in noted)


def test_no_raw_string_no_note(reg: Registry) -> None:
    inst = InstitutionRef(id="I204983213", display_name="Harbin Institute of Technology")
    auth = Authorship(index=0, institutions=(inst,))
    ms = Matcher(reg, name_matcher=NameMatcher(reg)).match_authorship(auth)
    assert ms and all("disagree" not in m.detail for m in ms)


def test_a_name_matcher_on_all_lists_reports_only_the_matchers_lists(reg: Registry) -> None:
    nm = NameMatcher(reg)                                # built once, on every list
    only_bis = Matcher(reg.restricted_to(["BIS_ENTITY_LIST"]), name_matcher=nm)
    auth = Authorship(index=0, raw_affiliations=("Harbin Institute of Technology, China",))
    lists = {m.entry.list for m in only_bis.match_authorship(auth)}
    assert lists == {"BIS_ENTITY_LIST"}
    assert len({m.entry.list for m in nm.match_raw(auth, [])}) > 1


# --------------------------------------------------------------------------- evidence rows

def _row(reg: Registry, works: dict[str, Work], work_id: str, index: int, entry_id: str):
    from tracker.risk import make_finding

    work = works[work_id]
    auth = work.authorships[index]
    ms = [m for m in Matcher(reg, name_matcher=NameMatcher(reg)).match_authorship(auth)
          if m.entry.entry_id == entry_id]
    assert len(ms) == 1, [m.entry.entry_id for m in ms]
    return ms[0], make_finding(work, auth, ms[0])


def test_findings_hold_each_repeated_text_once(reg: Registry) -> None:
    """The texts a finding builds (dates, editions, reasons, gaps) are one object for
    equal values, so a batch of findings pickles each once: the bundled demo's findings,
    built in this process, share every such text, and pickle smaller than with copies."""
    import pickle
    from dataclasses import replace

    import tracker
    from tracker.risk import make_finding

    matcher = Matcher(reg)
    found = [make_finding(w, a, m) for w in tracker.read_works(tracker.demo_works_path())
             for a in w.authorships for m in matcher.match_authorship(a)]
    built = ("publication_date", "listed_on", "date_compared", "removed_on", "list_editions",
             "data_gaps", "reason", "list_since")
    first: dict[tuple[str, str], str] = {}
    for f in found:
        for name in built:
            value = getattr(f, name)
            assert first.setdefault((name, value), value) is value, name
    assert len(found) > 100 and len(first) < len(found)
    copies = [replace(f, **{n: "".join(list(getattr(f, n))) for n in built}) for f in found]
    assert copies == found
    assert len(pickle.dumps(found)) < len(pickle.dumps(copies))


@needs_shared
def test_a_raw_string_tie_carries_the_institution_openalex_attached(reg: Registry,
                                                                     works) -> None:
    # W1714665356: "Institute of Computing Technology, CAS, Beijing, China", OpenAlex
    # attached only Chinese Academy of Sciences (I19820366); the tie to ICT is by name
    m, f = _row(reg, works, "W1714665356", 0, "BIS_ENTITY_LIST:cas_ict")
    assert m.method == "name" and m.institution is None
    assert (f.institution_id, f.institution_name) == ("I19820366", "Chinese Academy of Sciences")
    assert f.institution_ror
    assert f.institution_basis == "attached by OpenAlex to this raw string"
    assert f.openalex_agreement == "partial" and f.confidence != "high"


@needs_shared
def test_disagreement_between_openalex_and_the_raw_string_lowers_confidence(
        reg: Registry, works) -> None:
    # W2884404464: "MIT Teaching Systems Lab", OpenAlex attached Moscow Institute of Thermal
    # Technology (I4210109586), an Entity List entity: an identifier tie the string belies
    m, f = _row(reg, works, "W2884404464", 1,
                "BIS_ENTITY_LIST:auto_moscow_institute_of_thermal_technology")
    assert m.method == "openalex_id"
    assert f.institution_id == "I4210109586" and f.institution_basis == "matched"
    assert f.openalex_agreement == "disagree"
    assert f.confidence == "low"
    # W3011610993: a Shanghai hospital string resolved to Second Military Medical University
    m, f = _row(reg, works, "W3011610993", 19, "DOD_1286:auto_navy_medical_university")
    assert f.openalex_agreement == "disagree" and f.confidence == "low"


@needs_shared
def test_an_agreeing_identifier_tie_stays_high(reg: Registry, works) -> None:
    # W1982752276: "... Moscow State University Moscow, Russia", OpenAlex attached Lomonosov
    # Moscow State University (I19880235), listed on DoD 1286
    m, f = _row(reg, works, "W1982752276", 0,
                "DOD_1286:auto_lomonosov_moscow_state_university")
    assert m.method == "openalex_id" and f.openalex_agreement == "agree"
    assert f.confidence == "high"


def test_every_row_names_the_institutions_attached_when_openalex_gives_no_string_map(
        reg: Registry) -> None:
    # one raw string and OpenAlex's institution without a per-string map: it is shown
    inst = InstitutionRef(id="I19820366", display_name="Chinese Academy of Sciences")
    auth = Authorship(index=0, raw_affiliations=("Harbin Institute of Technology, China",),
                      institutions=(inst,))
    from tracker.risk import make_finding

    ms = [m for m in Matcher(reg, name_matcher=NameMatcher(reg)).match_authorship(auth)
          if m.entry.institution_key == "hit" and m.method == "name"]
    assert ms
    f = make_finding(Work(id="W0"), auth, ms[0])
    assert f.institution_id == "I19820366"
    assert f.openalex_agreement == "disagree" and f.confidence == "low"


def test_matches_are_remembered_by_all_that_matching_reads_of_an_authorship(reg: Registry,
                                                                           works) -> None:
    """:class:`MatchMemo` matches each distinct (institutions, raw strings, their pairing,
    countries) once and gives the same matches to every authorship that has them: an
    authorship's other fields (its author, its place) must not change what matches, and a
    field added to authorships must be placed on one side or the other."""
    from dataclasses import fields, replace

    remembered_by = {"institutions", "raw_affiliations", "affiliations", "countries"}
    about_the_author = {"index", "author_id", "author_name", "orcid", "author_position",
                        "is_corresponding"}
    assert {f.name for f in fields(Authorship)} == remembered_by | about_the_author
    matcher = Matcher(reg, name_matcher=NameMatcher(reg))
    match = MatchMemo(matcher, held=50)
    tried = 0
    for work in works.values():
        for auth in work.authorships:
            found = matcher.match_authorship(auth)
            assert match(auth) == found
            if not found:
                continue
            other = replace(auth, index=auth.index + 7, author_id="A1", author_name="X Y",
                            orcid="0000-0002-1825-0097", author_position="middle",
                            is_corresponding=not auth.is_corresponding)
            assert matcher.match_authorship(other) == found
            got = match(other)
            assert got == found and got is not match(other)  # a list of its own each time
            tried += 1
            assert len(match) <= 50
    assert tried > 20
