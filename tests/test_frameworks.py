"""Frameworks as data: every bundled framework on the real demo records, the date edges,
and the safeguards (no verdict words, [V] rules only ever say "review", ASPI stays context)."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date
from importlib import resources

import pytest

from tracker.frameworks import (
    BANNED_OUTCOME_WORDS,
    FrameworkError,
    available_frameworks,
    listed_now,
    load_framework,
    parse_framework,
    work_in_window,
)
from tracker.screening import ScreenSettings, SubjectSpec, screen

AS_OF = date(2026, 11, 23)
SHIPPED = ["ca-strac", "dod-2023", "dod-2025", "dow-2026", "lookback", "nsf-2026"]
LABEL = re.compile(r"\[(?P<fw>[a-z0-9-]+) rule (?P<rule>[a-z0-9-]+), tag (?P<tag>[CRV])\]")


def _screen(works, reg, name, as_of=AS_OF, lookback=None, subjects=()):
    fw = load_framework(name)
    return screen(works, registry=reg, subjects=subjects,
                  assessor=fw.assessor(as_of, lookback, registry=reg))


def _yaml_files():
    d = resources.files("tracker").joinpath("data/frameworks")
    return sorted((p for p in d.iterdir() if p.name.endswith(".yaml")), key=lambda p: p.name)


def test_the_six_frameworks_ship_and_load():
    assert available_frameworks() == SHIPPED
    for name in SHIPPED:
        fw = load_framework(name)
        assert fw.name == name and fw.rules and fw.sha256
        for r in fw.rules:
            assert r.tag in "CRV" and r.source_url.startswith("http")


def test_no_verdict_words_anywhere_in_the_rule_files():
    files = _yaml_files()
    assert len(files) == len(SHIPPED)
    for p in files:
        text = p.read_text("utf-8").lower()
        for word in BANNED_OUTCOME_WORDS:
            assert word not in text, f"{p.name} uses {word!r}"


def test_unconfirmed_rules_only_ever_say_review():
    for name in SHIPPED:
        for r in load_framework(name).rules:
            if r.tag == "V":
                assert r.outcome.startswith("review"), (name, r.id)


def _ca_text() -> str:
    return resources.files("tracker").joinpath("data/frameworks/ca-strac.yaml").read_text()


@pytest.mark.parametrize("old, new, problem", [
    ('"review: co-authorship with someone', '"flag: co-authorship with someone',
     "must yield an outcome starting 'review'"),
    ("review only", "review only; no violation", "violation"),
    ("lists: [CA_NRO]", "lists: [ASPI_UNITRACKER]", "context, not a designation"),
    ("window: current", "window: sometime", "window"),
    ("tag: V", "tag: maybe", "tag"),
    ("date_basis: listed_now", "date_basis: whenever", "date_basis"),
])
def test_the_loader_refuses_a_broken_rule(old, new, problem):
    text = _ca_text()
    assert old in text
    parse_framework("ca-strac", text)  # the real file passes
    with pytest.raises(FrameworkError, match=re.escape(problem)):
        parse_framework("ca-strac", text.replace(old, new, 1))


@pytest.mark.parametrize("name", SHIPPED)
def test_each_framework_on_real_records(works, reg, name):
    res = _screen(works, reg, name)
    assert res.findings
    fw = load_framework(name)
    tags = {r.id: r.tag for r in fw.rules}
    fired = set()
    for f in res.findings:
        assert f.outcome.startswith(("flag:", "review:", "context:")), f.outcome
        assert f.extra["framework"] == name and f.extra["as_of"] == AS_OF.isoformat()
        assert f.extra["listed_now"] in ("yes", "no", "unknown")
        if f.list == "ASPI_UNITRACKER":
            assert f.outcome.startswith("context:") and "not a legal designation" in f.outcome
            assert f.extra["rule_id"] == ""
            continue
        m = LABEL.search(f.outcome)
        if f.extra["rule_id"]:
            assert m and m["fw"] == name and m["rule"] == f.extra["rule_id"]
            assert m["tag"] == tags[m["rule"]] == f.extra["rule_tag"]
            if m["tag"] == "V" or not f.outcome.startswith("flag"):
                assert f.outcome.startswith("review")
            fired.add(f.extra["rule_id"])
        else:
            assert m is None and f.outcome.startswith(fw.otherwise)
    assert fired, f"no rule of {name} fired on the demo records"


def test_dow_2026_five_year_lookback_on_real_records(works, reg):
    res = _screen(works, reg, "dow-2026", as_of=date(2026, 6, 1))
    start = "2021-06-01"
    for f in res.findings:
        rid = f.extra["rule_id"]
        if rid.startswith("dow26-coauthor"):
            assert f.publication_date >= start[: len(f.publication_date)], f.publication_date
        if f.list in ("DOD_1286", "DOD_1260H") and f.publication_date[:4] < "2021":
            assert rid == "" and "outside the 5-year look-back" in f.outcome
    # the USTC tie of 2021-10-01: listed 2024-05-14, so not at publication but listed now
    ustc = [f for f in res.findings if f.list == "BIS_ENTITY_LIST"
            and f.publication_date == "2021-10-01"]
    assert ustc and all(f.extra["rule_id"] == "dow26-coauthor-5y-other-lists" for f in ustc)
    assert all(f.listed_at_publication == "no" and f.extra["listed_now"] == "yes"
               for f in ustc)


def test_lookback_years_widen_the_window(works, reg):
    def fired(years):
        res = _screen(works, reg, "lookback", lookback=years)
        return {f.finding_id for f in res.findings if f.extra["rule_id"]}

    five, thirty = fired(5), fired(30)
    assert five < thirty
    with pytest.raises(FrameworkError, match="no look-back"):
        load_framework("dod-2025").assessor(AS_OF, 5)


def test_ca_strac_subject_affiliation_versus_coauthorship(works, reg):
    # Air Force Medical University (I9916479) is a Named Research Organization in the registry.
    # King's College London (I183935753) co-authored with a Named Research Organization.
    subject = SubjectSpec("org", ("I9916479",), given="I9916479")
    res = _screen(works, reg, "ca-strac", subjects=[subject])
    own = [f for f in res.findings if f.list == "CA_NRO" and f.relation == "subject"]
    kcl = _screen(works, reg, "ca-strac", subjects=[SubjectSpec("org", ("I183935753",))])
    others = [f for f in kcl.findings if f.list == "CA_NRO" and f.relation == "coauthor"]
    # an authorship listing both KCL and an NRO is the subject's own affiliation
    own += [f for f in kcl.findings if f.list == "CA_NRO" and f.relation == "subject"]
    assert own and all(f.extra["rule_id"] == "ca-strac-affiliation"
                       and f.outcome.startswith("flag:") and "tag C" in f.outcome for f in own)
    assert others and all(f.extra["rule_id"] == "ca-strac-coauthor"
                          and f.outcome.startswith("review:") and "tag V" in f.outcome
                          for f in others)
    # before STRAC took effect, nothing fires
    early = _screen(works, reg, "ca-strac", as_of=date(2024, 4, 30), subjects=[subject])
    assert all("took effect on 2024-05-01" in f.outcome for f in early.findings
               if f.list == "CA_NRO")


# --------------------------------------------------------------------------- date edges

def _ustc_work(works, reg):
    """The real 2021-10-01 work with a tie to USTC (Entity List, listed 2024-05-14)."""
    res = screen(works, registry=reg, settings=ScreenSettings(lists=("BIS_ENTITY_LIST",)))
    f = next(f for f in res.findings if f.listed_on == "2024-05-14")
    w = next(w for w in works if w.id == f.work_id)
    return w, f


@pytest.mark.parametrize("pub_date, year, expected", [
    (date(2024, 5, 14), 2024, "yes"),   # published on the listing day
    (date(2024, 5, 13), 2024, "no"),    # the day before
    (None, None, "unknown"),            # no date at all
    (None, 2024, "unknown"),            # year only, and it is the listing year
    (None, 2025, "yes"),                # year only, after the listing year
])
def test_listing_date_edges_through_a_framework(works, reg, pub_date, year, expected):
    w, f0 = _ustc_work(works, reg)
    w2 = replace(w, publication_date=pub_date, publication_year=year)
    fw = load_framework("lookback")
    res = screen([w2], registry=reg, settings=ScreenSettings(lists=("BIS_ENTITY_LIST",)),
                 assessor=fw.assessor(date(2026, 6, 1), 10, registry=reg))
    f = next(x for x in res.findings if x.entry_id == f0.entry_id)
    assert f.listed_at_publication == expected
    if expected == "yes":
        assert f.extra["rule_id"] == "lookback-listed-at-publication"
        assert f.outcome.startswith("review: within the look-back window; the institution "
                                    "was listed at publication")
    elif expected == "no":
        assert f.extra["rule_id"] == "lookback-listed-now"
    else:
        assert f.outcome.startswith("review: unknown whether this rule applies")


def test_window_edges():
    as_of = date(2026, 6, 1)
    assert work_in_window("2021-06-01", "lookback:5y", as_of)[0] == "yes"
    assert work_in_window("2021-05-31", "lookback:5y", as_of)[0] == "no"
    assert work_in_window("2026-06-02", "lookback:5y", as_of)[0] == "no"  # after the as-of date
    assert work_in_window("2021", "lookback:5y", as_of)[0] == "unknown"
    assert work_in_window("2022", "lookback:5y", as_of)[0] == "yes"
    assert work_in_window("2020", "lookback:5y", as_of)[0] == "no"
    assert work_in_window("", "lookback:5y", as_of)[0] == "unknown"
    assert work_in_window("2022-08-08", "after:2022-08-09", as_of)[0] == "no"
    assert work_in_window("2022", "after:2022-08-09", as_of)[0] == "unknown"
    assert work_in_window("2021-05-31", "lookback:5y", as_of, lookback_years=6)[0] == "yes"
    assert work_in_window("2024-02-29", "lookback:1y", date(2025, 2, 28))[0] == "yes"


def test_listed_now_uses_real_editions_and_removals(works, reg):
    res = screen(works, registry=reg)
    base = res.findings[0]
    # a 1260H entry removed on 2026-02-17 (a dated fact in the registry)
    gone = next(e for e in reg if e.list == "DOD_1260H" and e.removed_on is not None)
    f = replace(base, list=gone.list, entry_id=gone.entry_id,
                listed_on=gone.listed_on.isoformat() if gone.listed_on else "",
                removed_on=gone.removed_on.isoformat())
    assert listed_now(f, gone.removed_on, reg)[0] == "no"
    # a 1286 entry in FY2023/FY2024 but not FY2025, with no listing date of its own
    dropped = next(e for e in reg if e.list == "DOD_1286" and e.editions[-1] == "FY2024"
                   and e.listed_on is None)
    f = replace(base, list="DOD_1286", entry_id=dropped.entry_id, listed_on="", removed_on="")
    assert listed_now(f, AS_OF, reg)[0] == "no"          # not in the latest edition held
    assert listed_now(f, AS_OF)[0] == "unknown"          # without the registry: no date
    kept = next(e for e in reg if e.list == "DOD_1286" and e.editions == ("FY2025",))
    f = replace(base, list="DOD_1286", entry_id=kept.entry_id, listed_on="", removed_on="")
    assert listed_now(f, AS_OF, reg)[0] == "yes"
    assert listed_now(f, date(2024, 1, 1), reg)[0] == "unknown"  # FY2025 not yet out
