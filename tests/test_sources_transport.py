"""The HTTP session against the local OpenAlex-compatible server, with injected faults.

Every wait is recorded by an injected ``sleep`` instead of slept, so the tests are fast and
the backoff/Retry-After policy is checked exactly.
"""

from __future__ import annotations

import pytest
import requests

from tracker.sources.cache import HttpCache, normalise_url
from tracker.sources.transport import (
    LIST_CALL_USD,
    AuthRequired,
    BudgetExhausted,
    OpenAlexSession,
    TransientFailure,
)

PYALEX = "https://api.openalex.org"  # what pyalex writes; the session points it at the server
LIST = f"{PYALEX}/works?filter=authorships.institutions.lineage:I40120149&per-page=5"


def session(oa, **kw) -> tuple[OpenAlexSession, list[float]]:
    waits: list[float] = []
    kw.setdefault("timeout", 5.0)
    return OpenAlexSession(oa.url, sleep=waits.append, **kw), waits


def statuses(oa) -> list[int | None]:
    return [r.status for r in oa.requests.snapshot()]


def test_rewrites_pyalex_host_and_counts_list_and_single_calls(oa):
    s, waits = session(oa)
    assert s.get(LIST).json()["meta"]["count"] == 23
    assert s.get(f"{PYALEX}/works/W2168909179").json()["id"].endswith("W2168909179")
    assert [r.endpoint for r in oa.requests.snapshot()] == ["list", "single"]
    assert (s.stats.list_calls, s.stats.single_calls, waits) == (1, 1, [])
    assert s.stats.cost_usd == pytest.approx(LIST_CALL_USD)  # singletons are free
    assert s.stats.allowance_remaining_usd is not None  # read from X-RateLimit-Remaining-USD


def test_per_second_429_waits_retry_after_then_succeeds(oa):
    oa.faults.rate_limit(times=2, retry_after=1)
    s, waits = session(oa)
    assert s.get(LIST).status_code == 200
    assert waits == [1.0, 1.0]  # the server's Retry-After, not our backoff
    assert statuses(oa) == [429, 429, 200] and s.stats.retries == 2


def test_503_backs_off_exponentially_or_as_told(oa):
    oa.faults.service_unavailable(times=2)
    s, waits = session(oa, backoff=0.5)
    assert s.get(LIST).status_code == 200 and waits == [0.5, 1.0]
    oa.faults.service_unavailable(times=1, retry_after=7)
    s, waits = session(oa)
    assert s.get(LIST).status_code == 200 and waits == [7.0]


def test_500_and_403_rate_limit_are_retried(oa):
    # the docs: 403 = per-second rate limit exceeded, slow down; 500 = retry with backoff
    oa.faults.server_error(times=1)
    oa.faults.forbidden(times=1)
    s, waits = session(oa)
    assert s.get(LIST).status_code == 200
    assert statuses(oa) == [500, 403, 200] and len(waits) == 2


def test_timeout_is_retried(oa):
    oa.faults.slow(delay=1.5, times=1)
    s, waits = session(oa, timeout=0.3)
    assert s.get(LIST).json()["meta"]["count"] == 23
    assert len(waits) == 1 and s.stats.retries == 1


def test_dropped_connection_is_retried(oa):
    oa.faults.drop(times=2)
    s, waits = session(oa)
    assert s.get(LIST).status_code == 200 and len(waits) == 2
    assert statuses(oa) == [None, None, 200]


def test_malformed_json_is_retried(oa):
    oa.faults.malformed_json(times=1)
    s, waits = session(oa)
    body = s.get(LIST).json()  # would raise on the cut-off body
    assert body["meta"]["count"] == 23 and len(waits) == 1


def test_budget_exhausted_stops_at_once_without_retrying(oa):
    oa.faults.budget_exhausted()
    s, waits = session(oa)
    with pytest.raises(BudgetExhausted, match="resume where it stopped") as info:
        s.get(LIST)
    assert info.value.resumable
    assert "midnight UTC" in str(info.value)
    assert waits == [] and statuses(oa) == [429]  # one request, no retry spent


def test_enforced_daily_budget_is_a_budget_stop(oa):
    oa.configure(enforce_budget=True, anon_daily_credits=2)
    s, _ = session(oa)
    s.get(LIST)
    s.get(f"{PYALEX}/works?filter=authorships.institutions.lineage:I40120149&per-page=6")
    with pytest.raises(BudgetExhausted):
        s.get(f"{PYALEX}/works?filter=authorships.institutions.lineage:I40120149&per-page=7")


def test_retries_run_out(oa):
    oa.faults.service_unavailable(times=10)
    s, waits = session(oa, max_retries=3)
    with pytest.raises(TransientFailure, match="after 3 retries"):
        s.get(LIST)
    assert len(waits) == 3 and statuses(oa) == [503] * 4


def test_a_wait_longer_than_max_wait_stops_instead_of_sleeping(oa):
    oa.faults.service_unavailable(times=1, retry_after=200)
    s, waits = session(oa, max_wait=120)
    with pytest.raises(TransientFailure, match="asked to wait 200 s"):
        s.get(LIST)
    assert waits == []


def test_cursor_paging_without_a_key_asks_for_openalex_api_key(oa):
    oa.configure(require_api_key="cursor")
    s, _ = session(oa)
    with pytest.raises(AuthRequired, match="OPENALEX_API_KEY"):
        s.get(LIST + "&cursor=*")
    keyed, _ = session(oa, api_key="test-key-4f1c")
    assert keyed.get(LIST + "&cursor=*").status_code == 200
    last = oa.requests.snapshot()[-1]
    # the documented way (official OpenAPI spec: apiKey in query, name api_key), on the
    # wire only: the server's log redacts it, and tracker's side never sees it
    assert last.has_api_key and last.api_key_via == "query"
    assert "test-key-4f1c" not in last.raw_query


def test_a_rejected_key_says_so(oa):
    oa.configure(api_keys={"good-key"})
    s, _ = session(oa, api_key="bad-key")
    with pytest.raises(AuthRequired, match="rejected the API key"):
        s.get(LIST)


def test_merged_entity_301_is_followed_and_recorded(oa):
    oa.configure(merged={"W1": "W2168909179"})
    s, _ = session(oa)
    resp = s.get(f"{PYALEX}/works/W1")
    assert resp.status_code == 200 and resp.json()["id"].endswith("W2168909179")
    assert s.stats.merged == {"W1": "W2168909179"}
    assert statuses(oa) == [301, 200]


def test_404_is_returned_once_not_retried(oa):
    s, waits = session(oa)
    resp = s.get(f"{PYALEX}/works/W1")
    assert resp.status_code == 404 and "not found" in resp.json()["message"]
    assert waits == [] and statuses(oa) == [404]


def test_cache_answers_repeats_with_zero_calls_and_keeps_no_key(oa, tmp_path):
    key = "k3y-never-stored-9d2e"
    cache = HttpCache(tmp_path / "http.sqlite")
    s, _ = session(oa, api_key=key, cache=cache)
    first = s.get(f"{PYALEX}/works/W2168909179").json()
    listed = s.get(LIST).json()
    missing = s.get(f"{PYALEX}/works/W1")
    n = len(oa.requests)
    again, _ = session(oa, api_key=key, cache=cache)
    assert again.get(f"{PYALEX}/works/W2168909179").json() == first
    assert again.get(LIST).json() == listed
    assert again.get(f"{PYALEX}/works/W1").status_code == missing.status_code == 404
    assert len(oa.requests) == n and again.stats.calls == 0 and again.stats.cache_hits == 3
    # cursor pages are not HTTP-cached (their works go to the query checkpoint)
    again.get(LIST + "&cursor=*")
    assert len(oa.requests) == n + 1
    # --refresh asks again
    fresh, _ = session(oa, api_key=key, cache=cache, refresh=True)
    fresh.get(LIST)
    assert len(oa.requests) == n + 2
    cache.close()
    for f in tmp_path.iterdir():
        assert key.encode() not in f.read_bytes(), f


def test_cache_key_drops_secrets_and_sorts_parameters():
    a = normalise_url("http://h/works?api_key=one&select=id&filter=x:1&mailto=me@x.org")
    b = normalise_url("http://h/works?filter=x%3A1&select=id&api_key=two")
    assert a == b == "http://h/works?filter=x:1&select=id"


def test_merged_answer_from_the_cache_still_records_the_merge(oa, tmp_path):
    oa.configure(merged={"W1": "W2168909179"})
    cache = HttpCache(tmp_path / "http.sqlite")
    s, _ = session(oa, cache=cache)
    s.get(f"{PYALEX}/works/W1")
    again, _ = session(oa, cache=cache)
    assert again.get(f"{PYALEX}/works/W1").json()["id"].endswith("W2168909179")
    assert again.stats.merged == {"W1": "W2168909179"} and again.stats.calls == 0


def test_session_never_shows_the_key():
    s = OpenAlexSession("http://127.0.0.1:9", api_key="sekrit-123")
    assert "sekrit-123" not in repr(s)
    with pytest.raises(ValueError):
        OpenAlexSession("ftp://example.org")
    assert isinstance(s, requests.Session)


def test_the_key_goes_on_the_wire_only_and_never_into_urls_messages_or_the_cache(
        oa, tmp_path):
    """The key travels as ``api_key`` (as the API documents), but responses, redirects,
    call counts, the cache and every error message see the URL without it."""
    key = "wire-only-key-93ac"
    seen: list[str] = []
    s = OpenAlexSession(oa.url, api_key=key, cache=HttpCache(tmp_path / "c.sqlite"),
                        backoff=0, max_retries=1, sleep=lambda _: None,
                        on_call=lambda kind, url, status: seen.append(url))
    r = s.get(LIST)
    assert r.status_code == 200 and key not in r.url and key not in str(r.request.url)
    assert oa.requests.snapshot()[-1].api_key_via == "query"
    r404 = s.get(f"{oa.url}/works/W9999999999")  # 404: the error pyalex would raise
    with pytest.raises(requests.HTTPError) as err:
        r404.raise_for_status()
    assert r404.status_code == 404 and key not in str(err.value)
    oa.configure(merged={"W1": "W2168909179"})
    merged = s.get(f"{oa.url}/works/W1?api_key={key}")  # a key in the URL is replaced
    assert merged.status_code == 200 and s.stats.merged == {"W1": "W2168909179"}
    assert key not in merged.url and key not in repr(s.stats)
    assert oa.requests.snapshot()[-1].api_key_via == "query"
    oa.faults.drop(times=5)
    with pytest.raises(TransientFailure) as failed:
        s.get(LIST + "&page=2")
    chain = [failed.value, failed.value.__context__, failed.value.__cause__]
    assert all(key not in str(e) for e in chain if e is not None)
    assert seen and all(key not in u for u in seen)
    assert key.encode() not in (tmp_path / "c.sqlite").read_bytes()
