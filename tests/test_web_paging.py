"""The review workspace pages a run's findings in SQL: the same rows, counts and order as
filtering every finding in memory, without loading them."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import tracker
from tracker.store import Store
from tracker.web.app import create_app
from tracker.web.findings import SORTS, FindingQuery


@pytest.fixture(scope="module")
def result():
    """The bundled real OpenAlex demo works, screened against the bundled registry."""
    return tracker.screen(tracker.read_works(tracker.demo_works_path()),
                          registry=tracker.load_registry())


@pytest.fixture(scope="module")
def case(tmp_path_factory, result) -> tuple[Path, int]:
    path = tmp_path_factory.mktemp("paging") / "case.db"
    with Store(path) as st:
        rid = st.record_run(result)
        # a few decisions, so the review status filter and sort have something to do
        for i, f in enumerate(result.findings[::7]):
            status = ("confirmed", "dismissed", "needs_follow_up")[i % 3]
            st.set_review(f.finding_id, status, "A. Reviewer",
                          reason="not the listed unit" if status == "dismissed" else "")
    return path, rid


def _queries(rows: list[dict]) -> Iterator[FindingQuery]:
    lists = sorted({r["list"] for r in rows})
    inst = next(r["institution_name"] for r in rows if r["institution_name"])
    dates = sorted({r["publication_date"] for r in rows if r["publication_date"]})
    filters = [{}, {"list": lists[0]}, {"list": lists[-1]}, {"outcome": "context"},
               {"outcome": "flag"}, {"outcome": "nonsense"}, {"listed": "yes"},
               {"listed": "unknown"}, {"status": "confirmed"}, {"status": "unreviewed"},
               {"relation": "coauthor"}, {"confidence": "high"},
               {"since": dates[len(dates) // 2]}, {"until": dates[len(dates) // 3][:4]},
               {"institution": inst[3:12].upper()}, {"list": lists[0], "listed": "no"}]
    for f, sort, (page, per) in itertools.product(filters, SORTS, [(1, 50), (2, 7), (99, 10)]):
        yield FindingQuery(**f, sort=sort, page=page, per_page=per)


def test_sql_pages_equal_the_pages_of_every_row(case):
    path, rid = case
    with Store(path) as st:
        rows = st.findings(rid)
        assert len(rows) > 100
        checked = 0
        for q in _queries(rows):
            want = q.page_of(rows)
            got = q.page_in(st, rid)
            assert (got.total, got.page, got.pages) == (want.total, want.page, want.pages), q
            assert [r["finding_id"] for r in got.rows] == [r["finding_id"]
                                                            for r in want.rows], q
            assert got.rows == want.rows, q
            checked += bool(want.total)
        assert checked > 100


def test_the_findings_pages_never_load_every_finding(case, monkeypatch):
    path, rid = case

    def whole_run(self, run_id):
        raise AssertionError("a findings page loaded every finding of the run")

    with Store(path) as st:
        rows = st.findings(rid)
    want = FindingQuery(list="ASPI_UNITRACKER", sort="newest", page=2, per_page=20
                        ).page_of(rows)
    monkeypatch.setattr(Store, "findings", whole_run)
    with TestClient(create_app(path, registry=tracker.load_registry()),
                    base_url="http://127.0.0.1:8000") as c:
        page = c.get(f"/findings?run={rid}&list=ASPI_UNITRACKER&sort=newest&page=2"
                     f"&per_page=20").text
        assert re.findall(r'<tr data-finding="([0-9a-f]+)"', page) == [
            r["finding_id"] for r in want.rows]
        assert f"<b id=\"match-count\">{want.total}</b> of {len(rows)} findings" in page
        api = c.get(f"/api/runs/{rid}/findings",
                    params={"list": "ASPI_UNITRACKER", "sort": "newest", "page": 2,
                            "per_page": 20}).json()
        assert [r["finding_id"] for r in api["findings"]] == [r["finding_id"]
                                                             for r in want.rows]
        assert (api["total"], api["page"], api["pages"]) == (want.total, 2, want.pages)
        fid = want.rows[0]["finding_id"]
        one = c.get(f"/findings/{fid}?run={rid}")
        assert one.status_code == 200 and fid in one.text
        assert c.get(f"/findings/{fid}?run={rid + 5}").status_code == 404
        assert c.get(f"/api/runs/{rid + 5}/findings").status_code == 404


def test_the_network_page_timeline_is_capped_and_says_so(case, monkeypatch):
    import json

    import tracker.report as report

    path, rid = case
    monkeypatch.setattr(report, "TIMELINE_MAX_ENTRIES", 4)
    with TestClient(create_app(path, registry=tracker.load_registry()),
                    base_url="http://127.0.0.1:8000") as c:
        page = c.get(f"/network?run={rid}").text
    assert "The timeline draws the 4 list entries with the most findings, of " in page
    figs = re.findall(r'<script type="application/json"[^>]*>(.*?)</script>', page, re.S)
    cats = [json.loads(f)["layout"]["yaxis"].get("categoryarray") for f in figs]
    assert [len(c) for c in cats if c] == [4]
