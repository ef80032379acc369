"""The review workspace over HTTP (FastAPI's TestClient, and a real server for the
concurrent-reviewers test): pages, filters, evidence, reviewing with an audit trail, stale
writes refused, token and CSRF rules, hostile text, the reconciliation service, and
``tracker serve``'s refusals."""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

import tracker
from tests.browser.demo import HOSTILE_TEXT, HOSTILE_TITLE, hostile_result
from tracker.cli import EXIT_INPUT, main
from tracker.store import Store
from tracker.web.app import SAFEGUARD, create_app
from tracker.web.security import new_token, read_token_hash, token_path

LOCAL = "http://127.0.0.1:8000"


@pytest.fixture(scope="module")
def result():
    """The bundled real OpenAlex demo works, screened against the bundled registry."""
    return tracker.screen(tracker.read_works(tracker.demo_works_path()),
                          registry=tracker.load_registry())


@pytest.fixture(scope="module")
def registry():
    return tracker.load_registry()


@pytest.fixture
def case(tmp_path, result) -> Path:
    path = tmp_path / "case.db"
    with Store(path) as st:
        st.record_run(result)
        st.record_run(result)
    return path


@pytest.fixture
def client(case, registry) -> Iterator[TestClient]:
    with TestClient(create_app(case, registry=registry), base_url=LOCAL) as c:
        yield c


def sign_in(c: TestClient, name: str = "A. Reviewer", token: str = "") -> str:
    r = c.post("/signin", data={"reviewer": name, "token": token}, follow_redirects=False)
    assert r.status_code == 303, r.text
    return str(c.get("/api/session").json()["csrf"])


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def rows_of(html: str) -> list[str]:
    return re.findall(r'<tr data-finding="([0-9a-f]+)"', html)


# --------------------------------------------------------------------------- pages

def test_every_page_carries_the_safeguards_and_the_data_gaps(client, result):
    fid = result.findings[0].finding_id
    for url in ("/runs", "/findings", f"/findings/{fid}", "/network", "/diff", "/audit",
                "/institutions/hit", "/signin"):
        r = client.get(url)
        assert r.status_code == 200, url
        assert "text/html" in r.headers["content-type"]
        assert "default-src 'none'" in r.headers["content-security-policy"]
        body = r.text
        assert "not a determination" in body and "never means" in body, url
        if url != "/signin":
            assert 'id="data-gaps"' in body and "authorships without any institution" in body


def _figures(html: str) -> list[str]:
    return re.findall(r'<script type="application/json" id="fig-[a-z]+-data">(.*?)</script>',
                      html, re.S)


def test_a_finished_run_s_network_is_drawn_once(client, monkeypatch):
    """A finished run's rows never change and the page shows no review decision: the
    second view is the first one's drawing, the run not read again."""
    first = client.get("/network?run=2").text

    def read_again(*a, **k):
        raise AssertionError("the run was read again")

    monkeypatch.setattr(Store, "findings_by_work", read_again)
    again = client.get("/network?run=2")
    assert again.status_code == 200
    assert _figures(again.text) == _figures(first) and len(_figures(first)) == 2


def test_a_finished_run_s_network_is_kept_in_the_case_file(case, registry, client,
                                                           monkeypatch):
    """The drawing is kept with the run: a workspace started afresh on the case file
    shows it without reading the run; drawn by another tracker version, it is drawn
    again."""
    import tracker.web.app as web_app

    first = _figures(client.get("/network?run=2").text)
    assert len(first) == 2
    reads: list[int] = []
    by_work = Store.findings_by_work

    def counted(self, *a, **k):
        reads.append(1)
        return by_work(self, *a, **k)

    monkeypatch.setattr(Store, "findings_by_work", counted)
    with TestClient(create_app(case, registry=registry), base_url=LOCAL) as fresh:
        got = fresh.get("/network?run=2")
    assert got.status_code == 200 and _figures(got.text) == first and reads == []
    monkeypatch.setattr(web_app, "__version__", "0.0.0-other")
    with TestClient(create_app(case, registry=registry), base_url=LOCAL) as other:
        again = other.get("/network?run=2")
    assert again.status_code == 200 and _figures(again.text) == first and reads


def test_an_older_case_file_s_rows_are_drawn_by_name(case, registry, client):
    """Rows recorded before a later column (``list_since``) are read by name, with that
    column's default: the page is drawn as before."""
    import sqlite3

    expected = _figures(client.get("/network?run=2").text)
    with sqlite3.connect(case) as db:
        db.execute("DELETE FROM run_pages")  # the drawing kept: drawn again from the rows
        db.execute("UPDATE findings SET row = json_remove(row, '$.list_since') "
                   "WHERE run_id = 2")
        assert db.execute("SELECT count(*) FROM findings WHERE run_id = 2 AND "
                          "json_type(row, '$.list_since') IS NOT NULL").fetchone() == (0,)
    with TestClient(create_app(case, registry=registry), base_url=LOCAL) as fresh:
        got = fresh.get("/network?run=2")
    assert got.status_code == 200 and _figures(got.text) == expected


def test_the_network_page_draws_what_the_whole_run_gives(client, case, result):
    """The page reads the run per work from the case file; its network, note and timeline
    are those built from every finding at once."""
    import json
    from types import SimpleNamespace

    from tracker.graph import flagged_network
    from tracker.report import capped_timeline
    from tracker.risk import Finding

    with Store(case) as st:
        rows = st.findings(2)
    names = set(Finding.__dataclass_fields__) - {"extra"}
    findings = [Finding(**{k: v for k, v in r.items() if k in names}) for r in rows]
    g, note = flagged_network(SimpleNamespace(findings=findings, works={}, run={},
                                              subjects={}), max_nodes=400)
    timeline, _, left = capped_timeline(rows)
    html = client.get("/network?run=2").text
    assert text_of(re.search(r'<p class="note" id="network-note">(.*?)</p>', html,
                             re.S)[1]).startswith(f"{note} {left}".strip())
    drawn = json.loads(unescape(re.search(
        r'<script type="application/json" id="fig-network-data">(.*?)</script>', html,
        re.S)[1]))
    hover = unescape(" ".join(str(t) for tr in drawn["data"]
                              for t in (tr.get("hovertext") or tr.get("text") or [])))
    works = [d for _, d in g.nodes(data=True) if d["kind"] == "work"]
    assert len(works) > 10
    for d in works:
        assert d["label"] and d["label"][:40] in hover, d["label"]
    got = json.loads(unescape(re.search(
        r'<script type="application/json" id="fig-timeline-data">(.*?)</script>', html,
        re.S)[1]))
    want = json.loads(timeline.to_json())

    def marks(fig):  # the same marks per trace (drawn in the order the rows came)
        return [(t.get("name"), sorted(zip(t.get("x") or [], t.get("y") or [],
                                           t.get("hovertext") or [""] * len(t.get("x") or []),
                                           strict=True)))
                for t in fig["data"]]

    assert marks(got) == marks(want) and len(marks(want)) >= 2


def test_runs_page_shows_status_inputs_registry_and_counts(client, result, registry):
    body = text_of(client.get("/runs").text)
    assert registry.version in body
    assert f"{len(result.findings)}" in body and "diff" in body


def test_the_diff_page_compares_finished_runs_and_says_when_one_did_not(client, case,
                                                                        result):
    """By default the last two finished runs (a failed run between them is passed over);
    a run that did not finish, chosen, is named once with why it ended, as on its findings
    and network pages: its findings may be incomplete."""
    with Store(case) as st:
        failed = st.start_run(["tracker", "screen"])
        st.end_run(failed, "failed", "WorksFileError: no records")
        last = st.record_run(result)
    default = text_of(client.get("/diff").text)
    assert f"run 2 → {last}:" in default and "did not finish" not in default
    said = (f"Run {failed} did not finish (failed: WorksFileError: no records): its "
            "findings may be incomplete")
    chosen = text_of(client.get(f"/diff?a=2&b={failed}").text)
    assert f"run 2 → {failed}: 0 new, {len(result.findings)} gone" in chosen
    assert chosen.count(said) == 1
    backwards = text_of(client.get(f"/diff?a={failed}&b=2").text)
    assert backwards.count(said) == 1
    for url in (f"/findings?run={failed}", f"/network?run={failed}"):
        body = text_of(client.get(url).text)
        assert body.count(said) == 1, url
        assert f"Run {failed} recorded no data gaps: it did not finish." in body, url
    assert "did not finish" not in text_of(client.get("/findings?run=2").text)
    api = client.get(f"/api/runs/{failed}/findings").json()
    assert (api["run_status"], api["run_status_reason"], api["total"]) == (
        "failed", "WorksFileError: no records", 0)
    assert client.get("/api/runs/2/findings").json()["run_status"] == "finished"
    with Store(case) as st:
        running = st.start_run(["tracker", "screen"])
    body = text_of(client.get(f"/findings?run={running}").text)
    assert f"Run {running} is still running: its findings may be incomplete" in body
    assert f"Run {running} recorded no data gaps: it is still running." in body


def test_findings_filter_sort_and_page(client, result):
    rows = {f.finding_id: f for f in result.findings}
    default = rows_of(client.get("/findings?per_page=500").text)
    assert len(default) == len(rows)
    listed = [rows[f].listed_at_publication for f in default]
    assert listed == sorted(listed, key=lambda x: {"yes": 0, "unknown": 1, "no": 2}[x])
    assert listed[0] == "yes"                   # "yes" ties first
    yes = rows_of(client.get("/findings?listed=yes&per_page=500").text)
    assert yes and all(rows[f].listed_at_publication == "yes" for f in yes)
    assert len(yes) == sum(f.listed_at_publication == "yes" for f in result.findings)
    lst = rows_of(client.get("/findings?list=DOD_1286&per_page=500").text)
    assert lst and {rows[f].list for f in lst} == {"DOD_1286"}
    inst = rows_of(client.get("/findings?institution=sun+yat-sen&per_page=500").text)
    assert inst and all("sun yat-sen" in (rows[f].institution_name + rows[f].list_entry_name
                                     + rows[f].raw_affiliation).lower() for f in inst)
    dated = rows_of(client.get("/findings?since=2022-01-01&until=2022-12-31&per_page=500")
                    .text)
    assert dated and all(rows[f].publication_date.startswith("2022") for f in dated)
    page1 = rows_of(client.get("/findings?per_page=20").text)
    page2 = rows_of(client.get("/findings?per_page=20&page=2").text)
    assert len(page1) == len(page2) == 20 and not set(page1) & set(page2)
    assert page1 + page2 == default[:40]
    none = client.get("/findings?institution=no-such-place-xyz").text
    assert rows_of(none) == [] and "is not clearance" in none


def test_the_evidence_page_shows_every_list_membership(client, result, registry):
    def key(f):
        return registry.entry_index[f.entry_id].institution_key

    f = max((f for f in result.findings if f.entry_id in registry.entry_index),
            key=lambda f: (len(registry.by_institution_key(key(f))), f.finding_id))
    body = client.get(f"/findings/{f.finding_id}").text
    text = text_of(body)
    assert f.work_id in text and f.raw_affiliation.split(",")[0] in text
    assert f"position {f.author_position}" in text
    assert f.match_method in text
    mem = re.findall(r'<tr class="membership">\s*<td>([A-Z_0-9]+)', body)
    reg_lists = sorted(e.list for e in registry.by_institution_key(key(f)))
    assert sorted(mem) == reg_lists and len(mem) >= 3
    if f.doi:
        assert 'id="doi-link"' in body and "https://doi.org/" in body
    others = {g.finding_id for g in result.findings
              if g.work_id == f.work_id and g.finding_id != f.finding_id}
    section = body.split('id="same-work"')[1].split("</section>")[0]
    assert set(re.findall(r"/findings/([0-9a-f]{16})", section)) == others


# --------------------------------------------------------------------------- reviewing

def test_review_with_audit_trail_and_the_name_from_the_session(client, result):
    fid = result.findings[0].finding_id
    assert client.post(f"/findings/{fid}/review",
                       data={"status": "confirmed", "based_on": 0}).status_code == 401
    csrf = sign_in(client, "A. Reviewer")
    r = client.post(f"/findings/{fid}/review", data={
        "csrf": csrf, "status": "confirmed", "based_on": 0, "reviewer": "Someone Else"})
    assert r.status_code == 200 and "recorded: confirmed (version 1)" in r.text
    r = client.post(f"/findings/{fid}/review", data={
        "csrf": csrf, "status": "dismissed", "based_on": 1})
    assert r.status_code == 400 and "a dismissal needs a reason" in r.text
    r = client.post(f"/findings/{fid}/review", data={
        "csrf": csrf, "status": "dismissed", "reason": "another campus", "based_on": 1})
    assert r.status_code == 200
    trail = client.get(f"/api/findings/{fid}/reviews").json()
    assert [(h["reviewer"], h["old_status"], h["status"], h["reason"], h["source"])
            for h in trail] == [("A. Reviewer", "unreviewed", "confirmed", "", "web"),
                                ("A. Reviewer", "confirmed", "dismissed", "another campus",
                                 "web")]
    body = text_of(client.get(f"/findings/{fid}").text)
    assert "confirmed → dismissed" in body and "unreviewed → confirmed" in body
    assert "confirmed → dismissed" in text_of(client.get("/audit").text)


def test_a_stale_write_is_refused_with_the_current_decision(client, result, case, registry):
    fid = result.findings[0].finding_id
    csrf = sign_in(client, "A. Reviewer")
    with TestClient(create_app(case, registry=registry), base_url=LOCAL) as other:
        csrf_b = sign_in(other, "B. Reviewer")
        ok = other.post(f"/findings/{fid}/review", data={
            "csrf": csrf_b, "status": "needs_follow_up", "based_on": 0})
        assert ok.status_code == 200
    r = client.post(f"/findings/{fid}/review", data={
        "csrf": csrf, "status": "dismissed", "reason": "other campus", "based_on": 0})
    assert r.status_code == 409
    text = text_of(r.text)
    assert "Nothing was recorded" in text and "needs follow-up (version 1)" in text
    assert "B. Reviewer" in text
    api = client.post(f"/api/findings/{fid}/review", headers={"X-CSRF-Token": csrf},
                      json={"status": "confirmed", "based_on": 0})
    assert api.status_code == 409
    assert api.json()["conflicts"][0]["current"]["reviewer"] == "B. Reviewer"
    assert len(client.get(f"/api/findings/{fid}/reviews").json()) == 1


def test_bulk_review_records_all_or_none(client, result):
    csrf = sign_in(client)
    fids = [f.finding_id for f in result.findings[:4]]
    r = client.post("/reviews/bulk", data={
        "csrf": csrf, "status": "dismissed", "reason": "",
        "pick": [f"{f}:0" for f in fids]})
    assert r.status_code == 400
    r = client.post("/reviews/bulk", data={
        "csrf": csrf, "status": "dismissed", "reason": "a hospital of the same name",
        "pick": [f"{f}:0" for f in fids[:3]], "back": "/findings?run=2"})
    assert r.status_code == 200 and "recorded 3 decisions" in r.text
    r = client.post("/reviews/bulk", data={          # fids[0] is at version 1 now
        "csrf": csrf, "status": "confirmed", "pick": [f"{f}:0" for f in fids[2:4]]})
    assert r.status_code == 409
    assert client.get(f"/api/findings/{fids[3]}").json()["review"] is None
    got = client.post("/api/reviews", headers={"X-CSRF-Token": csrf}, json={
        "status": "confirmed", "findings": {fids[2]: 1, fids[3]: 0}})
    assert got.status_code == 200 and got.json()["versions"] == {fids[2]: 2, fids[3]: 1}


def test_findings_api_filters_and_says_what_a_finding_is(client, result):
    got = client.get("/api/runs/2/findings", params={"listed": "yes", "per_page": 5}).json()
    assert got["total"] == sum(f.listed_at_publication == "yes" for f in result.findings)
    assert len(got["findings"]) == 5 and got["note"] == SAFEGUARD
    assert "authorships_without_institution" in got["data_gaps"]
    assert client.get("/api/runs/9/findings").status_code == 404
    schema = client.get("/openapi.json").json()
    assert {"/api/runs", "/api/runs/{run_id}/findings", "/api/findings/{fid}/review",
            "/api/reviews", "/reconcile"} <= set(schema["paths"])


# --------------------------------------------------------------------------- security

def test_writes_need_the_session_csrf_token_and_the_same_origin(client, result):
    fid = result.findings[0].finding_id
    csrf = sign_in(client)
    data = {"status": "confirmed", "based_on": 0}
    assert client.post(f"/findings/{fid}/review", data=data).status_code == 403
    assert client.post(f"/findings/{fid}/review",
                       data={**data, "csrf": "x" * 43}).status_code == 403
    assert client.post(f"/findings/{fid}/review", data={**data, "csrf": csrf},
                       headers={"Origin": "http://evil.example"}).status_code == 403
    assert client.post(f"/api/findings/{fid}/review", json=data).status_code == 403
    assert client.get(f"/api/findings/{fid}").json()["review"] is None
    r = client.get("/findings")
    assert 'name="csrf"' in r.text
    cookie = r.headers.get("set-cookie", "")
    assert "tracker_session" not in cookie   # the cookie is set once, at sign-in
    signin = client.post("/signin", data={"reviewer": "B"}, follow_redirects=False)
    assert "httponly" in signin.headers["set-cookie"].lower()
    assert "samesite=strict" in signin.headers["set-cookie"].lower()


def test_without_a_token_only_loopback_host_names_are_answered(client, case, registry):
    assert client.get("/runs").status_code == 200
    for host in ("evil.example", "evil.example:8000", "192.168.1.5"):
        r = client.get("/api/runs", headers={"Host": host})
        assert r.status_code == 421 and "refused" in r.json()["detail"]
    assert client.get("/api/runs", headers={"Host": "localhost:8000"}).status_code == 200
    assert client.get("/api/runs", headers={"Host": "[::1]:8000"}).status_code == 200


def test_with_a_token_every_page_needs_it(tmp_path, case, registry):
    token = new_token(case)
    stored = token_path(case).read_text()
    assert token not in stored and read_token_hash(case) in stored
    app = create_app(case, token_hash=read_token_hash(case), registry=registry)
    with TestClient(app, base_url=LOCAL) as c:
        r = c.get("/runs", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/signin")
        assert c.get("/api/runs").status_code == 401
        assert c.get("/reconcile").status_code == 401
        assert c.get("/api/runs", headers={"Authorization": "Bearer nope"}).status_code == 401
        assert c.get("/api/runs", headers={"Authorization": f"Bearer {token}"}
                     ).status_code == 200
        assert c.post("/signin", data={"reviewer": "A", "token": "nope"},
                      follow_redirects=False).status_code == 401
        assert c.get("/signin").status_code == 200 and 'name="token"' in c.get("/signin").text
        csrf = sign_in(c, "A", token)
        assert c.get("/runs").status_code == 200 and csrf


def test_hostile_text_is_rendered_as_text(tmp_path, registry):
    path = tmp_path / "hostile.db"
    res = hostile_result()
    with Store(path) as st:
        st.record_run(res)
    target = next(f for f in res.findings if f.title == HOSTILE_TITLE)
    with TestClient(create_app(path, registry=registry), base_url=LOCAL) as c:
        for url in ("/findings?per_page=500", f"/findings/{target.finding_id}", "/network",
                    "/runs", "/audit"):
            body = c.get(url).text
            assert "<script>window.__pwned" not in body, url
            assert '<img src=x onerror' not in body, url
        body = c.get(f"/findings/{target.finding_id}").text
        assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in body
        assert "&lt;img src=x onerror=" in body and HOSTILE_TEXT not in body
        csrf = sign_in(c, HOSTILE_TEXT)
        c.post(f"/findings/{target.finding_id}/review", data={
            "csrf": csrf, "status": "dismissed", "reason": HOSTILE_TITLE, "based_on": 0})
        audit = c.get("/audit").text
        assert HOSTILE_TITLE not in audit and HOSTILE_TEXT not in audit
        assert "&lt;script&gt;" in audit


# --------------------------------------------------------------------------- reconciliation

def test_reconcile_manifest_has_the_fields_the_api_requires(client):
    m = client.get("/reconcile").json()
    # W3C Reconciliation Service API 0.2, "Service Manifest": versions, name,
    # identifierSpace and schemaSpace are required; view.url holds {{id}}
    assert "0.2" in m["versions"]
    assert all(isinstance(m[k], str) and m[k] for k in ("name", "identifierSpace",
                                                        "schemaSpace"))
    assert "{{id}}" in m["view"]["url"]
    assert all({"id", "name"} <= set(t) for t in m["defaultTypes"])


def test_reconcile_queries_get_and_post(client, registry):
    queries = {"q0": {"query": "Sch. of Astronautics, Harbin Inst. Technol., Harbin 150001, "
                               "China"},
               "q1": {"query": "Harvard University"},
               "q2": {"query": "National University of Defense Technology", "limit": 1,
                      "properties": [{"pid": "country", "v": "CN"}]}}
    for got in (client.get("/reconcile", params={"queries": json.dumps(queries)}).json(),
                client.post("/reconcile", data={"queries": json.dumps(queries)}).json()):
        assert set(got) == {"q0", "q1", "q2"}
        for qid in got:   # each result: id, name and score required; match a boolean
            for cand in got[qid]["result"]:
                assert isinstance(cand["id"], str) and isinstance(cand["name"], str)
                assert isinstance(cand["score"], int | float) and 0 <= cand["score"] <= 100
                assert isinstance(cand["match"], bool)
                assert all(isinstance(t["id"], str) for t in cand["type"])
                assert all(isinstance(f["value"], int | float | bool)
                           for f in cand["features"])
        top = got["q0"]["result"][0]
        assert top["id"] == "hit" and top["name"] == "Harbin Institute of Technology"
        lists = {m["list"] for m in top["memberships"]}
        assert lists == {e.list for e in registry.by_institution_key("hit")}
        assert "BIS_ENTITY_LIST" in top["description"] and top["reason"]
        assert got["q1"]["result"] == []
        assert len(got["q2"]["result"]) == 1 and got["q2"]["result"][0]["id"] == "nudt"
    view = client.get("/institutions/hit")
    assert view.status_code == 200 and "Harbin Institute of Technology" in view.text


def test_reconcile_country_lowers_a_mismatch_and_bad_queries_are_refused(client):
    def top(country: str) -> dict:
        q = {"q": {"query": "Harbin Institute of Technology",
                   "properties": [{"pid": "country", "v": country}]}}
        return client.get("/reconcile", params={"queries": json.dumps(q)}).json()["q"][
            "result"][0]

    same, other = top("China"), top("FR")
    assert same["score"] == 100 and other["score"] == 50
    assert "not the entry's (CN)" in other["reason"]
    assert client.get("/reconcile", params={"queries": "{not json"}).status_code == 400
    assert client.get("/reconcile", params={"queries": '{"q": {"limit": 3}}'}
                      ).status_code == 400


# --------------------------------------------------------------------------- real server

@contextlib.contextmanager
def serve_in_thread(app) -> Iterator[str]:
    """Run the app on a free loopback port in this process; yield its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def test_two_reviewers_on_a_real_server_never_lose_a_decision(case, result, registry):
    fid = result.findings[0].finding_id
    writes = 12
    made: dict[str, list[int]] = {}
    with serve_in_thread(create_app(case, registry=registry)) as base:

        def reviewer(name: str) -> None:
            with httpx.Client(base_url=base, timeout=30) as c:
                r = c.post("/api/session", json={"reviewer": name})
                csrf = r.json()["csrf"]
                mine = []
                while len(mine) < writes:
                    cur = c.get(f"/api/findings/{fid}").json()["review"]
                    based_on = cur["version"] if cur else 0
                    r = c.post(f"/api/findings/{fid}/review", headers={
                        "X-CSRF-Token": csrf}, json={
                        "status": "confirmed", "reason": f"{name} {len(mine)}",
                        "based_on": based_on})
                    if r.status_code == 200:
                        mine.append(r.json()["version"])
                    else:
                        assert r.status_code in (400, 409), r.text   # told, not lost
                made[name] = mine

        threads = [threading.Thread(target=reviewer, args=(n,)) for n in ("A", "B")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
    with Store(case) as st:
        history = st.review_history(fid)
    assert len(history) == 2 * writes
    assert [h["version"] for h in history] == list(range(1, 2 * writes + 1))
    for name in ("A", "B"):
        assert [h["reason"] for h in history if h["reviewer"] == name] == [
            f"{name} {i}" for i in range(writes)]
        assert made[name] == [h["version"] for h in history if h["reviewer"] == name]


# --------------------------------------------------------------------------- tracker serve

def test_serve_refuses_to_listen_beyond_loopback_without_a_token(case, capsys):
    code = main(["serve", "--case", str(case), "--host", "0.0.0.0"])
    err = capsys.readouterr().err
    assert code == EXIT_INPUT and "needs an access token" in err
    assert len(err.strip().splitlines()) == 1
    code = main(["serve", "--case", str(case.with_name("missing.db"))])
    assert code == EXIT_INPUT and "no case file" in capsys.readouterr().err
    code = main(["serve", "--help"])
    assert code == 0 and "Example" in capsys.readouterr().out


def test_runs_page_shows_how_a_run_ended(tmp_path, result, registry):
    path = tmp_path / "case.db"
    with Store(path) as st:
        st.record_run(result)
        rid = st.start_run(["tracker", "screen"], {})
        st.end_run(rid, "interrupted", "stopped by Ctrl-C")
    with TestClient(create_app(path, registry=registry), base_url=LOCAL) as c:
        body = text_of(c.get("/runs").text)
    assert "finished" in body and "interrupted (stopped by Ctrl-C)" in body

