"""Rosters: reading and checking rows, resolving people to OpenAlex profiles (local
server, real recorded author records), flags to confirm, and remembered confirmations."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.oaserver import default_records
from tracker.sources.openalex import OpenAlexSource
from tracker.sources.roster import (
    MAX_PLAUSIBLE_WORKS,
    Confirmations,
    RosterError,
    RosterRow,
    merged_profile_signals,
    read_confirm_file,
    read_roster,
    resolve_roster,
)

EXAMPLE = Path(__file__).resolve().parents[1] / "tracker" / "data" / "example_roster.csv"
PRIEM = ("0000-0001-6187-6610", "A5023888391")  # ORCID, OpenAlex ID (recorded author record)
PIWOWAR = ("0000-0003-1613-5981", "A5048491430")
BOYLE = "A5010062957"  # recorded profile with 434,622 works
ROBERTS = "A5009341822"  # a recorded profile with a different ORCID


def authors() -> dict[str, dict]:
    return {a["id"].rsplit("/", 1)[-1]: a for a in default_records("authors")}


def write(tmp_path: Path, text: str, name: str = "roster.csv") -> Path:
    p = tmp_path / name
    p.write_text(text, "utf-8")
    return p


# -- reading -----------------------------------------------------------------------------
def test_bad_rows_are_reported_by_line_and_the_rest_goes_on(tmp_path):
    p = write(tmp_path, "\ufeff# a comment\n"
                        "Name,Department,ORCID,OpenAlex_ID,Institution\n"
                        f"Jason Priem,Infrastructure,https://orcid.org/{PRIEM[0]},,\n"
                        "Wrong Digit,Physics,0000-0001-6187-6611,,\n"
                        "\n"
                        "Not an ORCID,Physics,A5023888391,,\n"
                        "Bad OpenAlex,Physics,,W123,\n"
                        "Bad Institution,Physics,,,Harbin\n"
                        ",,,,\n"
                        "Name Only,History,,,\n"
                        f"Again,Infrastructure,{PRIEM[0]},,\n"
                        f",Chemistry,,{PIWOWAR[1]},I4200000001\n")
    rows, problems = read_roster(p)
    assert [(r.line, r.orcid, r.openalex_id) for r in rows] == [
        (3, PRIEM[0], None), (10, None, None), (12, None, PIWOWAR[1])]
    assert rows[1].name_only and rows[2].institution == ("openalex", "I4200000001")
    msgs = {x.line: x.message for x in problems}
    assert "check digit" in msgs[4]
    assert "not an ORCID" in msgs[6]
    assert "OpenAlex author ID" in msgs[7] and "W123" in msgs[7]
    assert "not a ROR ID or OpenAlex institution ID" in msgs[8]
    assert "nothing to look up" in msgs[9]
    assert "repeats an identifier of line 3" in msgs[11]
    assert str(problems[0]).startswith("line 4: ")


def test_unreadable_rosters_say_why(tmp_path):
    with pytest.raises(RosterError, match="no such roster file"):
        read_roster(tmp_path / "missing.csv")
    with pytest.raises(RosterError, match="no header row"):
        read_roster(write(tmp_path, "# only comments\n"))
    with pytest.raises(RosterError, match="names none of the roster columns"):
        read_roster(write(tmp_path, "who,what\nx,y\n"))


def test_the_bundled_example_roster_reads_cleanly():
    rows, problems = read_roster(EXAMPLE)
    assert problems == [] and len(rows) == 2
    assert rows[0].orcid == "0000-0002-1825-0097" and rows[1].name_only
    header = next(line for line in EXAMPLE.read_text().splitlines() if not line.startswith("#"))
    assert header == "name,department,orcid,openalex_id,institution"


# -- merged-looking profiles -------------------------------------------------------------
def test_merged_profile_signals_on_recorded_profiles():
    recorded = authors()
    boyle = merged_profile_signals(recorded[BOYLE])
    assert boyle and "434,622 works" in boyle[0] and f"{MAX_PLAUSIBLE_WORKS:,}" in boyle[0]
    assert merged_profile_signals(recorded[PRIEM[1]]) == []
    flagged = [a for a in recorded.values() if merged_profile_signals(a)]
    assert 0 < len(flagged) < len(recorded) / 2  # a flag, not the norm


# -- resolution against the server -------------------------------------------------------
def test_roster_resolution_screens_ids_flags_doubts_and_never_screens_a_name(oa, tmp_path):
    oa.configure(merged={"A2": PRIEM[1]})
    p = write(tmp_path, "name,department,orcid,openalex_id,institution\n"
                        f"Jason Priem,Infra,{PRIEM[0]},,\n"
                        f"A Boyle,Physics,,{BOYLE},\n"
                        "Heather Piwowar,Infra,,,I4200000001\n"
                        "Josiah Carberry,Psychoceramics,0000-0002-1825-0097,,\n"
                        "Unknown,X,,A1,\n"
                        "Merged,X,,A2,\n"
                        f"Mismatch,X,{PIWOWAR[0]},{ROBERTS},\n")
    rows, problems = read_roster(p)
    assert problems == []
    src = OpenAlexSource(base_url=oa.url, cache_dir=tmp_path / "cache")
    people, left_out = resolve_roster(rows, src, Confirmations(tmp_path / "c.json", {}))
    by = {x.row.line: x for x in people}
    assert by[2].status == "screened" and by[2].ids == (PRIEM[1],) and not by[2].flags
    assert by[3].status == "screened; confirm" and by[3].ids == (BOYLE,)
    assert "may merge several people" in by[3].flags[0]
    piw = by[4]
    assert piw.status == "not screened" and piw.ids == () and piw.subject is None
    assert PIWOWAR[1] in [c.id for c in piw.candidates]
    assert "nothing is screened on a name" in piw.flags[0]
    assert by[7].ids == (PRIEM[1],) and "merged A2 into" in by[7].flags[0]
    assert set(by[8].ids) == {PIWOWAR[1], ROBERTS}
    assert any("not the row's" in f for f in by[8].flags)
    why = {x.line: x.message for x in left_out}
    assert "no OpenAlex profile carries ORCID" in why[5]
    assert "HTTP 404" in why[6]
    # the name search narrowed by institution, as a filter (1 credit), not search= (10)
    searches = [r for r in oa.requests.snapshot() if "display_name.search" in
                r.query.get("filter", "")]
    assert len(searches) == 1 and "search" not in searches[0].query
    assert "affiliations.institution.lineage:I4200000001" in searches[0].query["filter"]


def test_confirmed_choices_are_remembered_and_screen_exactly_those(oa, tmp_path):
    conf_csv = write(tmp_path, "person,openalex_id\n"
                               f"Heather Piwowar,https://openalex.org/{PIWOWAR[1]}\n"
                               f"{PRIEM[0]},{PRIEM[1]}\n"
                               "Nobody,W1\n", "choices.csv")
    chosen, bad = read_confirm_file(conf_csv)
    assert [b.line for b in bad] == [4]
    store = Confirmations(tmp_path / "c.json", {})
    for person, oid in chosen:
        store.remember(person, [oid])
    store.save()
    again = Confirmations.load(tmp_path / "c.json")
    rows = [RosterRow(2, "heather  PIWOWAR", "", None, None, ("openalex", "I4200000001")),
            RosterRow(3, "Jason Priem", "", PRIEM[0], None, None)]
    src = OpenAlexSource(base_url=oa.url, cache_dir=tmp_path / "cache")
    people, _ = resolve_roster(rows, src, again)
    assert [(x.status, x.ids, x.confirmed) for x in people] == [
        ("screened", (PIWOWAR[1],), True), ("screened", (PRIEM[1],), True)]
    assert not any("display_name.search" in r.query.get("filter", "")
                   for r in oa.requests.snapshot())  # a confirmed name needs no search


class _OrcidLookup:
    """Stands in for the ORCID lookup only: returns two recorded profiles for one ORCID,
    the case OpenAlex produces when it splits one person (no record is altered)."""

    def __init__(self, profiles):
        self.profiles = profiles

    def authors_by_orcid(self, orcid):
        return self.profiles


def test_several_profiles_for_one_orcid_are_flagged_to_confirm(tmp_path):
    recorded = authors()
    src = _OrcidLookup([recorded[PRIEM[1]], recorded[PIWOWAR[1]]])
    row = RosterRow(2, "Someone", "", PRIEM[0], None, None)
    people, _ = resolve_roster([row], src, Confirmations(tmp_path / "c.json", {}))
    (person,) = people
    assert person.status == "screened; confirm" and len(person.ids) == 2
    assert "2 OpenAlex profiles carry ORCID" in person.flags[0]
    assert any("confirm:" in line for line in person.lines())


# -- rosters on saved works (no network) ------------------------------------------------
# Real authors of the bundled demo works (CC0), by the identifiers their records carry.
LIN = ("0000-0002-5616-558X", "A5025114648")  # Swin Transformer (2021): co-author ties
BING_LI = ("0000-0003-3461-4265", "A5070665604")  # 2025 paper: own Dalian UT affiliation
TEDERSOO = ("0000-0002-1635-1249", "A5066405480")  # 2022 paper: no ties
CARBERRY = "0000-0002-1825-0097"  # ORCID's fictitious test researcher: in no record


def demo_works() -> list:
    import tracker

    return list(tracker.read_works(tracker.demo_works_path()))


def test_roster_on_saved_works_resolves_by_identifier_and_never_by_name():
    import tracker

    rows = [RosterRow(2, "Stephen Lin", orcid=LIN[0]),
            RosterRow(3, "Bing Li", openalex_id=BING_LI[1]),
            RosterRow(4, "Leho Tedersoo", orcid=TEDERSOO[0]),
            RosterRow(5, "Josiah Carberry", orcid=CARBERRY),
            # the exact display name of a real author in the records: still not screened
            RosterRow(6, "Kaiming He")]
    rs = tracker.screen_roster(demo_works(), rows, registry=tracker.load_registry())
    got = [(p.row.line, p.status, p.ids) for p in rs.people]
    assert got == [(2, "screened", (LIN[1],)), (3, "screened", (BING_LI[1],)),
                   (4, "screened", (TEDERSOO[1],)), (5, "not found in the records", ()),
                   (6, "not screened", ())]
    assert rs.people[4].flags and "nothing is screened on a name" in rs.people[4].flags[0]
    # only the resolved people's works are screened
    screened_ids = {i for s in rs.result.run["subjects"] for i in s["ids"]}
    assert screened_ids == {LIN[1], BING_LI[1], TEDERSOO[1]}
    assert rs.result.run["counts"]["works_read"] == 3
    # findings per person, with whose authorship carries the tie
    by = {p.row.line: rs.findings_for(p) for p in rs.people}
    assert by[2] and {rel for rel, _ in by[2]} == {"co-author"}
    assert by[3] and {rel for rel, _ in by[3]} == {"own affiliation"}
    assert all(f.relation == "subject" and f.author_id == BING_LI[1] for _, f in by[3])
    assert by[4] == [] and by[5] == [] and by[6] == []
    gaps = rs.result.run["data_gaps"]
    assert gaps["people_not_found"] == ["line 5: Josiah Carberry"]
    assert gaps["people_not_screened"] == ["line 6: Kaiming He"]
    assert gaps["roster_resolution_limits"]
    rows_out = rs.per_person_rows()
    assert [r["roster_line"] for r in rows_out] == sorted(r["roster_line"] for r in rows_out)
    assert {r["roster_line"] for r in rows_out} == {2, 3, 4, 5, 6}


def test_nobody_resolved_screens_nothing_rather_than_everything():
    import tracker

    rs = tracker.screen_roster(demo_works(), [RosterRow(2, "Josiah Carberry", orcid=CARBERRY)],
                               registry=tracker.load_registry())
    assert rs.result.run["counts"]["works_read"] == 0 and rs.result.findings == []


def test_saved_works_flag_several_ids_per_orcid_and_a_conflicting_orcid():
    from dataclasses import replace

    from tracker.sources.roster import resolve_roster_in_works

    works = demo_works()
    # A variant of a real record, made here on purpose: a second author ID carrying
    # Stephen Lin's ORCID, as when OpenAlex splits one person into two profiles.
    w = next(w for w in works if any(a.author_id == LIN[1] for a in w.authorships))
    other = next(a for a in w.authorships if a.author_id != LIN[1] and a.author_id)
    split = replace(w, authorships=tuple(replace(a, orcid=LIN[0]) if a is other else a
                                         for a in w.authorships))
    people = resolve_roster_in_works(
        [RosterRow(2, "Stephen Lin", orcid=LIN[0]),
         RosterRow(3, "Bing Li", orcid=TEDERSOO[0], openalex_id=BING_LI[1])], [split, *works])
    lin, li = people
    assert lin.status == "screened; confirm" and set(lin.ids) == {LIN[1], other.author_id}
    assert "2 OpenAlex author IDs carry ORCID" in lin.flags[0]
    assert li.status == "screened; confirm" and BING_LI[1] in li.ids
    assert any(f"not the row's {TEDERSOO[0]}" in f for f in li.flags)


def test_saved_works_honour_remembered_confirmations(tmp_path):
    from tracker.sources.roster import resolve_roster_in_works

    conf = Confirmations(tmp_path / "c.json", {})
    conf.remember("Bing Li", [BING_LI[1]])
    people = resolve_roster_in_works([RosterRow(2, "Bing Li"), RosterRow(3, "Other Name")],
                                     demo_works(), conf)
    assert [(p.status, p.ids, p.confirmed) for p in people] == [
        ("screened", (BING_LI[1],), True), ("not screened", (), False)]
