"""The review workspace pages a run's findings in SQL: the same rows, counts and order as
filtering every finding in memory, without loading them, read through the case file's typed
keys (``finding_keys``) and their indexes rather than by parsing every stored row; a case
file written before the keys existed is migrated and pages the same."""

from __future__ import annotations

import itertools
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import tracker
from tracker.store import FACET_COLUMNS, KEY_COLUMNS, SCHEMA_VERSION, Store
from tracker.web.app import create_app
from tracker.web.findings import _ORDER, SORTS, FindingQuery


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
        # a tie whose latest decision puts it back to unreviewed
        st.set_review(result.findings[3].finding_id, "unreviewed", "B. Reviewer")
    return path, rid


def _queries(rows: list[dict]) -> Iterator[FindingQuery]:
    lists = sorted({r["list"] for r in rows})
    inst = next(r["institution_name"] for r in rows if r["institution_name"])
    raw = next(r["raw_affiliation"] for r in rows if len(r["raw_affiliation"]) > 20)
    entry = next(r["list_entry_name"] for r in rows if r["list_entry_name"] != inst)
    dates = sorted({r["publication_date"] for r in rows if r["publication_date"]})
    filters = [{}, {"list": lists[0]}, {"list": lists[-1]}, {"outcome": "context"},
               {"outcome": "flag"}, {"outcome": "nonsense"}, {"listed": "yes"},
               {"listed": "unknown"}, {"listed": "maybe"}, {"status": "confirmed"},
               {"status": "unreviewed"}, {"status": "needs_follow_up"}, {"status": "nonsense"},
               {"relation": "coauthor"}, {"confidence": "high"},
               {"since": dates[len(dates) // 2]}, {"until": dates[len(dates) // 3][:4]},
               {"institution": inst[3:12].upper()}, {"list": lists[0], "listed": "no"},
               {"institution": raw[-9:]}, {"institution": entry[:6].lower()},
               {"institution": "no such institution"},
               {"institution": inst[:5], "list": lists[0], "sort": "institution"}]
    for f, sort, (page, per) in itertools.product(filters, SORTS, [(1, 50), (2, 7), (99, 10)]):
        yield FindingQuery(**{"sort": sort, **f}, page=page, per_page=per)


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


def _plan(st: Store, rid: int, where: str, params: list, order: str) -> str:
    """SQLite's plan for choosing a page's IDs and for counting them, as one text (in
    the wording of SQLite 3.36 and later: older ones say ``SEARCH TABLE k``)."""
    sql, args = st._keys_sql(rid, where, params, order)
    return "\n".join(str(r[3]).replace(" TABLE ", " ") for q in (
        f"SELECT count(*){sql}", f"SELECT k.finding_id{sql} ORDER BY {order} LIMIT 50")
        for r in st._db.execute(f"EXPLAIN QUERY PLAN {q}", args))


def test_pages_read_the_indexed_keys_not_every_row(case):
    path, rid = case
    with Store(path) as st:
        default = _plan(st, rid, *FindingQuery().sql())
        # the default order is the table's own: LIMIT/OFFSET with no sort, no JSON row read
        assert "SEARCH k USING PRIMARY KEY (run_id=?)" in default
        assert "TEMP B-TREE" not in default and "SEARCH f " not in default
        for kw in ({"list": "X"}, {"outcome": "flag"}, {"relation": "coauthor"},
                   {"confidence": "high"}, {"since": "2020"}, {"until": "2021"},
                   {"status": "unreviewed"}, {"sort": "newest"}, {"sort": "institution"}):
            plan = _plan(st, rid, *FindingQuery(**kw).sql())
            assert "findings" not in plan and "SEARCH f " not in plan, (kw, plan)
            assert re.search(r"SEARCH k USING .*INDEX \w+ \(run_id=\?\)|"
                             r"SEARCH k USING PRIMARY KEY \(run_id=\?\)", plan), (kw, plan)
        listed = _plan(st, rid, *FindingQuery(listed="yes").sql())
        assert "USING PRIMARY KEY (run_id=? AND listed_rank=?)" in listed
        assert "TEMP B-TREE" not in listed
        # a decision's status: the few ties that have one, looked up by ID
        confirmed = _plan(st, rid, *FindingQuery(status="confirmed").sql())
        assert re.search(r"SEARCH k USING COVERING INDEX \w+ \(run_id=\? AND finding_id=\?\)",
                         confirmed), confirmed
        # a finding's same-work list (the finding page): both the count and the rows
        work = _plan(st, rid, "k.work_id = ? AND k.finding_id != ?", ["W1", "x"], "f.rowid")
        assert work.count("USING COVERING INDEX finding_keys_work (run_id=? AND work_id=?)"
                          ) == 2, work
        assert "SEARCH k USING INDEX" not in work and "SCAN" not in work, work
        # the institution substring search reads the run's distinct texts, then its keys
        found, params = st._text_sql(rid, "univ")
        text = _plan(st, rid, found, params, _ORDER["listed"])
        assert "SEARCH t USING PRIMARY KEY (run_id=?)" in text, text
        assert "findings" not in text and "SEARCH f " not in text, text
        assert st._db.execute("SELECT count(*) FROM finding_texts WHERE run_id = ?",
                              (rid,)).fetchone()[0] < len(st.findings(rid)) / 2


def test_filter_choices_come_from_the_run_s_facets(case, result):
    path, rid = case
    with Store(path) as st:
        got = set(st.finding_values(rid))
        assert got == {(f.list, f.listed_at_publication, f.relation, f.confidence,
                        tracker.risk.outcome_kind(f.outcome)) for f in result.findings}
        assert set(st.finding_values(rid, ["list"])) == {(f.list,) for f in result.findings}
        with pytest.raises(tracker.store.StoreError, match="no filter choices"):
            st.finding_values(rid, ["row"])
    with TestClient(create_app(path, registry=tracker.load_registry()),
                    base_url="http://127.0.0.1:8000") as c:
        page = c.get(f"/findings?run={rid}").text
    for f in result.findings[:20]:
        assert f'<option value="{f.list}"' in page


def test_a_finding_page_lists_the_other_findings_of_its_work(case, result):
    path, rid = case
    by_work: dict[str, list] = {}
    for f in result.findings:
        by_work.setdefault(f.work_id, []).append(f)
    work = max(by_work.values(), key=len)
    assert len(work) > 2
    want = sorted(work[1:], key=lambda f: (str(f.author_position), f.finding_id))
    with TestClient(create_app(path, registry=tracker.load_registry()),
                    base_url="http://127.0.0.1:8000") as c:
        page = c.get(f"/findings/{work[0].finding_id}?run={rid}").text
    section = page.split('id="same-work"', 1)[1].split("</section>", 1)[0]
    assert re.findall(r'<a href="/findings/([0-9a-f]+)\?run=', section) == [
        f.finding_id for f in want]


def _to_schema_2(path: Path) -> None:
    """Make a case file what tracker wrote before findings had keys (schema 2): the same
    tables and rows less ``finding_keys``, ``finding_facets``, ``finding_texts`` and the
    trigger."""
    db = sqlite3.connect(path)
    db.executescript("DROP TRIGGER finding_keys_of_run; DROP TABLE finding_keys;"
                     " DROP TABLE finding_facets; DROP TABLE finding_texts;"
                     " UPDATE schema_version SET version = 2;")
    db.close()


def test_a_schema_2_case_file_is_migrated_and_pages_the_same(tmp_path, result):
    path = tmp_path / "old.db"
    with Store(path) as st:
        rid = st.record_run(result)
        for f in result.findings[::5]:
            st.set_review(f.finding_id, "confirmed", "A. Reviewer")
        want_rows = st.findings(rid)
        history = st.review_log(10_000)
    db = sqlite3.connect(path)
    key_columns = ", ".join(("run_id", "finding_id", *KEY_COLUMNS))
    keys = db.execute(f"SELECT {key_columns} FROM finding_keys ORDER BY run_id, finding_id"
                      ).fetchall()
    facets = db.execute(f"SELECT DISTINCT {', '.join(FACET_COLUMNS)} FROM finding_facets"
                        " ORDER BY 1, 2, 3, 4, 5").fetchall()
    stored = db.execute("SELECT * FROM findings ORDER BY rowid").fetchall()
    db.close()
    _to_schema_2(path)
    with Store(path) as st:   # migrated here
        assert st.findings(rid) == want_rows and st.review_log(10_000) == history
        checked = 0
        for q in _queries(want_rows):
            want, got = q.page_of(want_rows), q.page_in(st, rid)
            assert (got.total, got.page, got.pages, got.rows) == (
                want.total, want.page, want.pages, want.rows), q
            checked += bool(want.total)
        assert checked > 100
    db = sqlite3.connect(path)
    # the keys and facets filled from the stored rows are those recording wrote (the
    # search texts are not made again: the run's searches read its rows); the rows
    # themselves are untouched
    assert db.execute(f"SELECT {key_columns} FROM finding_keys ORDER BY run_id, finding_id"
                      ).fetchall() == keys
    assert db.execute("SELECT count(*) FROM finding_keys WHERE text_id IS NOT NULL"
                      ).fetchone() == (0,)
    assert db.execute(f"SELECT DISTINCT {', '.join(FACET_COLUMNS)} FROM finding_facets"
                      " ORDER BY 1, 2, 3, 4, 5").fetchall() == facets
    assert db.execute("SELECT * FROM findings ORDER BY rowid").fetchall() == stored
    assert db.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
    db.close()


def test_a_case_file_made_before_search_texts_searches_its_rows_and_new_runs_their_texts(
        tmp_path, result):
    """A case file written before the search texts were kept (schema 3 with no
    ``text_id`` and no ``finding_texts``) opens, gains them, and searches its old run's
    JSON rows, with the pages of every row; a run recorded after is searched by its texts,
    with the same pages."""
    path = tmp_path / "before.db"
    with Store(path) as st:
        old = st.record_run(result)
    db = sqlite3.connect(path)
    db.executescript("ALTER TABLE finding_keys DROP COLUMN text_id; DROP TABLE finding_texts;")
    db.close()
    with Store(path) as st:  # migrated here: the column and the table
        new = st.record_run(result)
        assert "json_extract(f.row" in st._text_sql(old, "x")[0]
        assert "finding_texts" in st._text_sql(new, "x")[0]
        for rid in (old, new):
            rows = st.findings(rid)
            checked = 0
            for q in _queries(rows):
                if not q.institution:
                    continue
                want, got = q.page_of(rows), q.page_in(st, rid)
                assert (got.total, got.page, got.pages, got.rows) == (
                    want.total, want.page, want.pages, want.rows), (rid, q)
                checked += bool(want.total)
            assert checked > 20


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


def test_findings_by_work_reads_the_work_index_and_keeps_stored_order(case):
    """The network page's reader: one list per work, works in ID order, each work's
    findings in stored order; ``work_ids`` keeps only those; the rows are reached through
    the keys' work index (no sort of the run's JSON rows)."""
    path, rid = case
    with Store(path) as st:
        rows = st.findings(rid)
        want: dict[str, list] = {}
        for r in rows:
            want.setdefault(r["work_id"], []).append(r["finding_id"])
        statements: list[str] = []
        st._db.set_trace_callback(statements.append)
        got = [[r["finding_id"] for r in g] for g in st.findings_by_work(rid)]
        st._db.set_trace_callback(None)
        assert got == [want[w] for w in sorted(want)]
        some = sorted(want)[1::3]
        assert [g[0]["work_id"] for g in st.findings_by_work(rid, set(some))] == some
        sql = next(s for s in statements if "finding_keys" in s)
        plan = "\n".join(str(r[3]).replace(" TABLE ", " ")
                         for r in st._db.execute(f"EXPLAIN QUERY PLAN {sql}"))
        assert "USING COVERING INDEX finding_keys_work (run_id=?)" in plan, plan
        assert "SCAN f" not in plan, plan
