"""The one HTTP path from tracker to the outside: an OpenAlex-compatible server, and the
official list publications.

Both share :class:`RetryingSession` (timeout per attempt, exponential backoff,
``Retry-After`` honoured up to ``max_wait``, bounded retries, call counts):
:class:`OpenAlexSession` adds what OpenAlex needs (below); :class:`FileSession` adds what
whole files need (a body cut short of its ``Content-Length`` or a connection dropped
mid-body is retried, a 304 answers a conditional request) and is used by
:mod:`tracker.sources.lists`, the live list update.

Why this module exists
----------------------
pyalex 0.21 builds every URL with a fixed ``https://api.openalex.org`` host (it ignores
``config.openalex_url``), mounts its retries on ``https://`` only, and opens a new
``requests.Session`` for every call through ``pyalex.api._get_requests_session``.  That
makes three things impossible through pyalex alone: pointing it at another server (a
mirror, or the OpenAlex-compatible test server on 127.0.0.1), retrying the way the API's
error documentation asks (honour ``Retry-After``; stop, do not retry, on a spent daily
allowance), and counting/caching the calls a run makes.

So every pyalex call tracker makes runs inside ``tracker.sources.openalex.routed``, which
hands pyalex one :class:`OpenAlexSession` of ours.  The session rewrites the host, adds
the API key the way the API documents it (the ``api_key`` query parameter, per the
official OpenAPI spec's ``securitySchemes`` and the authentication guide) only to the
request on the wire: every URL the rest of tracker sees (responses, redirects, cache keys,
call counts, error messages) is the URL without it.  It follows redirects itself (a 301
means a merged entity: the new ID is recorded), retries
transient faults with backoff, answers repeated calls from an on-disk cache
(:class:`tracker.sources.cache.HttpCache`), classifies the rest into the exceptions
below, and counts calls.  No other module talks HTTP to OpenAlex, and only
:mod:`tracker.sources.openalex` imports pyalex.

What the API documents, and what this session does about it
------------------------------------------------------------
(developers.openalex.org, "Error Handling" and "Authentication & Pricing", 2026.)

=====================  ==============================================================
answer                 what the session does
=====================  ==============================================================
200                    returned (a body that is not valid JSON is retried: a cut-off
                       transfer)
301 (merged entity)    followed; ``stats.merged`` records old -> new
302/303/307/308        followed (e.g. ``w123`` -> ``W123``)
403 (per-second limit) retried after ``Retry-After`` or exponential backoff
429 per-second limit   same (``Retry-After: 1``, allowance left)
429 allowance spent    :class:`BudgetExhausted` at once: no retry, the run stops with
                       its checkpoint (``X-RateLimit-Remaining: 0``, "Insufficient
                       budget", or a wait longer than five minutes)
401                    :class:`AuthRequired` (set ``OPENALEX_API_KEY``)
400, 404, other 4xx    returned to pyalex, which raises; tracker turns that into
                       :class:`RequestRejected` (skip the item or stop)
5xx, timeout, dropped  retried with backoff, then :class:`TransientFailure`
connection
=====================  ==============================================================

Errors, named by consequence
----------------------------
:class:`BudgetExhausted` stop the run now and keep the checkpoint (retrying only spends
more); :class:`AuthRequired` stop and tell the user to set ``OPENALEX_API_KEY``;
:class:`TransientFailure` retries ran out: stop, resumable; :class:`RequestRejected` the
server refused this query (400/404): the caller decides whether to skip the item.
"""

from __future__ import annotations

import email.utils
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import requests

from tracker.sources.cache import HttpCache
from tracker.sources.failures import (
    AuthRequired,
    BudgetExhausted,
    FetchError,
    RequestRejected,
    TransientFailure,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "LIST_CALL_USD",
    "AuthRequired",
    "BudgetExhausted",
    "CallStats",
    "FetchError",
    "FetchedFile",
    "FileSession",
    "OpenAlexSession",
    "RequestRejected",
    "RetryingSession",
    "TransientFailure",
]

DEFAULT_BASE_URL = "https://api.openalex.org"
#: What one list/filter call costs: "$0.10 / 1,000 calls" (developers.openalex.org,
#: Authentication & Pricing).  Singletons are free.  Used only for *estimates*.
LIST_CALL_USD = 0.0001
_PYALEX_HOST = "api.openalex.org"
_TRANSIENT_STATUS = frozenset({500, 502, 503, 504})
_REDIRECT_STATUS = frozenset({301, 302, 303, 307, 308})
#: Where the API takes the key (official OpenAPI spec: apiKey, in: query, name: api_key).
API_KEY_PARAM = "api_key"
_KEY_PARAMS = frozenset({"api_key", "api-key", "apikey"})
_MAX_REDIRECTS = 5
#: A 429 asking for a longer wait than this is the daily allowance, not a per-second limit.
_BUDGET_WAIT_S = 300.0


def without_key(url: str) -> str:
    """``url`` without any API key parameter (what tracker keeps, counts and shows).

    Examples
    --------
    >>> without_key("http://x/works?filter=a:b&api_key=s3cret&per-page=200")
    'http://x/works?filter=a%3Ab&per-page=200'
    >>> without_key("http://x/works/W1")
    'http://x/works/W1'
    """
    parts = urlsplit(url)
    if not parts.query:
        return url
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    kept = [(k, v) for k, v in pairs if k.lower() not in _KEY_PARAMS]
    if len(kept) == len(pairs):
        return url
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(kept), parts.fragment))


@dataclass
class CallStats:
    """What a run cost: HTTP calls by kind, retries, cache hits, merged IDs followed.

    ``cost_usd`` is an *estimate*: list calls times :data:`LIST_CALL_USD`.
    """

    list_calls: int = 0
    single_calls: int = 0
    retries: int = 0
    cache_hits: int = 0
    by_status: dict[int, int] = field(default_factory=dict)
    merged: dict[str, str] = field(default_factory=dict)
    allowance_remaining_usd: str | None = None

    @property
    def calls(self) -> int:
        return self.list_calls + self.single_calls

    @property
    def cost_usd(self) -> float:
        return self.list_calls * LIST_CALL_USD

    def to_json(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "list_calls": self.list_calls,
            "single_calls": self.single_calls,
            "retries": self.retries,
            "cache_hits": self.cache_hits,
            "estimated_cost_usd": round(self.cost_usd, 6),
            "cost_basis": "estimated: list calls x $0.0001 ($0.10 per 1,000 list calls, "
                          "OpenAlex pricing); single-entity calls are free",
            "by_status": {str(k): v for k, v in sorted(self.by_status.items())},
            "merged_ids_followed": dict(sorted(self.merged.items())),
            "allowance_remaining_usd": self.allowance_remaining_usd,
        }


def _retry_after(resp: requests.Response) -> float | None:
    value = resp.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, when.timestamp() - time.time())


def _body_text(resp: requests.Response) -> str:
    try:
        return resp.text[:2000].lower()
    except (UnicodeDecodeError, requests.RequestException):
        return ""


def _is_budget_exhausted(resp: requests.Response) -> bool:
    """A 429 that means the daily allowance is spent, not a per-second limit.

    The per-second limit also answers 429 ("Rate limit exceeded: 100 requests per
    second", ``Retry-After: 1``, remaining allowance above zero; its body carries
    ``creditsRemaining``, so the word "credits" alone proves nothing).  A spent
    allowance shows ``X-RateLimit-Remaining: 0``, says "insufficient budget", or asks
    for a wait of more than five minutes.
    """
    if resp.status_code != 429:
        return False
    if resp.headers.get("X-RateLimit-Remaining", "").strip() in {"0", "0.0", "0.00"}:
        return True
    body = _body_text(resp)
    if "insufficient budget" in body:
        return True
    ra = _retry_after(resp)
    return ra is not None and ra > _BUDGET_WAIT_S


def _hours(seconds: float | None) -> str:
    if seconds is None:
        return "at midnight UTC"
    if seconds < 3600:
        return f"in about {max(1, round(seconds / 60))} min (midnight UTC)"
    return f"in about {seconds / 3600:.1f} h (midnight UTC)"


def _entity_id(url: str) -> str:
    """The last path segment of an entity URL (``.../works/W1?x`` -> ``W1``)."""
    return urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]


class RetryingSession(requests.Session):
    """A requests session with tracker's retry policy: what every HTTP source shares.

    Timeout per attempt, exponential backoff (1, 2, 4... times ``backoff``), a server's
    ``Retry-After`` honoured up to ``max_wait`` (a longer wait stops instead of sleeping
    for hours), and at most ``max_retries`` retries before :class:`TransientFailure`.
    :class:`OpenAlexSession` (OpenAlex) and :class:`FileSession` (list publications) are
    the two kinds; ``service`` and ``resume_hint`` word their errors.

    Parameters
    ----------
    timeout : float
        Seconds per attempt (connect, and each read of the body).
    max_retries : int
        Retries of a transient fault before :class:`TransientFailure`.
    backoff : float
        Base of the exponential backoff in seconds.
    max_wait : float
        Longest single wait.
    sleep : callable
        Injected for tests.
    user_agent : str
        Sent with every request.
    """

    service = "the server"
    resume_hint = "rerun the same command later."
    later_hint = "Rerun the same command later."

    def __init__(
        self,
        *,
        timeout: float = 30.0,
        max_retries: int = 5,
        backoff: float = 1.0,
        max_wait: float = 120.0,
        sleep: Callable[[float], None] = time.sleep,
        user_agent: str = "tracker (+https://github.com/tracker/tracker)",
    ) -> None:
        super().__init__()
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_wait = max_wait
        self.sleep = sleep
        self.stats = CallStats()
        self.headers["User-Agent"] = user_agent
        self._lock = threading.Lock()

    def _wait(self, attempt: int, retry_after: float | None, why: str) -> None:
        """Sleep before retry ``attempt + 1``, or raise when retries are spent or the
        server asks for a wait longer than ``max_wait``."""
        if attempt >= self.max_retries:
            raise TransientFailure(
                f"{self.service} kept failing ({why}) after {self.max_retries} retries; "
                f"{self.resume_hint}")
        if retry_after is not None and retry_after > self.max_wait:
            raise TransientFailure(
                f"{self.service} asked to wait {retry_after:.0f} s before retrying ({why}); "
                f"the run stopped instead. {self.later_hint}")
        with self._lock:
            self.stats.retries += 1
        delay = retry_after if retry_after is not None else self.backoff * (2 ** attempt)
        self.sleep(min(delay, self.max_wait))


class OpenAlexSession(RetryingSession):
    """A session that sends pyalex's calls to ``base_url`` with our retry policy.

    Parameters
    ----------
    base_url : str
        ``https://api.openalex.org`` or any OpenAlex-compatible server.
    api_key : str, optional
        Sent as the documented ``api_key`` query parameter on the wire only; never in a
        URL tracker keeps or shows, a cache key, a message or a log.
    timeout : float
        Seconds per attempt.
    max_retries : int
        Retries of a transient fault before :class:`TransientFailure`.
    backoff : float
        Base of the exponential backoff in seconds (1, 2, 4... times this).
    max_wait : float
        Longest single wait.  A server asking (``Retry-After``) for longer stops the run
        (resumable) instead of sleeping for hours.
    sleep : callable
        Injected for tests.
    on_call : callable, optional
        Called with ``(kind, url, status)`` after each HTTP response (progress bars);
        not called for answers from the cache.
    cache : HttpCache, optional
        Answers repeated calls from disk (see :mod:`tracker.sources.cache`).
    refresh : bool
        Ask the server again for anything asked before this session (and store the new
        answer); what this session asked is reused.

    Examples
    --------
    >>> s = OpenAlexSession("http://127.0.0.1:9", api_key="sekrit")
    >>> "sekrit" in repr(s)
    False
    """

    service = "OpenAlex"
    resume_hint = "rerun the same command to resume where it stopped."
    later_hint = "Rerun the same command later to resume where it stopped."

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        *,
        api_key: str | None = None,
        timeout: float = 30.0,
        max_retries: int = 5,
        backoff: float = 1.0,
        max_wait: float = 120.0,
        sleep: Callable[[float], None] = time.sleep,
        on_call: Callable[[str, str, int], None] | None = None,
        user_agent: str = "tracker (+https://github.com/tracker/tracker)",
        cache: HttpCache | None = None,
        refresh: bool = False,
    ) -> None:
        parts = urlsplit(base_url.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        super().__init__(timeout=timeout, max_retries=max_retries, backoff=backoff,
                         max_wait=max_wait, sleep=sleep, user_agent=user_agent)
        self.base = parts
        self.on_call = on_call
        self.cache = cache
        self.refresh = refresh
        self._api_key = api_key or None
        self._fresh: set[str] = set()  # asked in this session: reusable even on --refresh

    def __repr__(self) -> str:  # never show the key
        key = "set" if self._api_key else "unset"
        return f"OpenAlexSession({urlunsplit(self.base)!r}, api_key={key})"

    @property
    def has_api_key(self) -> bool:
        return self._api_key is not None

    def rewrite(self, url: str) -> str:
        """Point a pyalex URL (fixed ``https://api.openalex.org`` host) at our server.

        Examples
        --------
        >>> s = OpenAlexSession("http://127.0.0.1:8080")
        >>> s.rewrite("https://api.openalex.org/works?filter=x:1")
        'http://127.0.0.1:8080/works?filter=x:1'
        """
        parts = urlsplit(url)
        if parts.netloc != _PYALEX_HOST:
            return url
        path = self.base.path.rstrip("/") + parts.path
        return urlunsplit((self.base.scheme, self.base.netloc, path, parts.query, parts.fragment))

    @staticmethod
    def kind_of(url: str) -> str:
        """``list`` for list/filter/search calls (they cost), ``single`` for /works/W1.

        Examples
        --------
        >>> OpenAlexSession.kind_of("http://x/works?filter=a:b"), OpenAlexSession.kind_of(
        ...     "http://x/works/W1")
        ('list', 'single')
        """
        path = urlsplit(url).path.strip("/").split("/")
        return "single" if len(path) >= 2 and path[1] else "list"

    @staticmethod
    def cacheable(url: str) -> bool:
        """Whether an answer to ``url`` may be kept in the HTTP cache.

        Cursor-paged calls are not: their works are kept, page by page, in the query's
        checkpoint (:class:`tracker.sources.cache.QueryCheckpoint`) instead.

        Examples
        --------
        >>> OpenAlexSession.cacheable("http://x/authors?filter=orcid:1")
        True
        >>> OpenAlexSession.cacheable("http://x/works?filter=a:b&cursor=%2A")
        False
        """
        return not any(k == "cursor" for k, _ in parse_qsl(urlsplit(url).query))

    def request(
        self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:
        target = self.rewrite(url.decode() if isinstance(url, bytes) else url)
        verb = method.decode() if isinstance(method, bytes) else method
        kwargs.setdefault("timeout", self.timeout)
        kwargs.pop("auth", None)  # pyalex's auth would add its own (global) key
        kwargs["allow_redirects"] = False  # followed below, through rewrite/retry/count
        headers = dict(kwargs.pop("headers", None) or {})
        kwargs["headers"] = headers
        target = without_key(target)  # a key pyalex put in the URL is replaced by ours
        use_cache = self.cache is not None and verb.upper() == "GET" and self.cacheable(target)
        if use_cache and (not self.refresh or target in self._fresh):
            assert self.cache is not None
            hit = self.cache.get(target)
            if hit is not None:
                with self._lock:
                    self.stats.cache_hits += 1
                    if hit.merged_from:
                        self.stats.merged[_entity_id(hit.merged_from)] = _entity_id(hit.final_url)
                return hit.to_response()
        first = target
        merged_from: str | None = None
        for _ in range(_MAX_REDIRECTS + 1):
            resp = self._attempts(verb, target, args, kwargs)
            if resp.status_code not in _REDIRECT_STATUS or "Location" not in resp.headers:
                break
            new = without_key(self.rewrite(urljoin(target, resp.headers["Location"])))
            if resp.status_code == 301:
                old_id, new_id = _entity_id(target), _entity_id(new)
                with self._lock:
                    self.stats.merged[old_id] = new_id
                merged_from = merged_from or target
            target = new
        else:
            raise TransientFailure(f"OpenAlex redirected more than {_MAX_REDIRECTS} times "
                                   f"for {_entity_id(first)}; rerun later")
        if use_cache and (resp.status_code == 200 or (
                resp.status_code == 404 and self.kind_of(target) == "single")):
            assert self.cache is not None
            self.cache.put(first, resp, final_url=target, merged_from=merged_from)
            self._fresh.add(first)
        return resp

    def _attempts(self, method: str, target: str, args: tuple[Any, ...],
                  kwargs: dict[str, Any]) -> requests.Response:
        """Send one request, retrying as the table in the module docstring says.

        Hand-written rather than :class:`urllib3.util.Retry` mounted on an adapter, because
        that policy decides from the status code and headers alone, before the body, and
        sleeps for whatever ``Retry-After`` asks.  This one also:

        - tells a spent daily allowance (a 429 whose body says "Insufficient budget", or
          ``X-RateLimit-Remaining: 0``, or a ``Retry-After`` of over five minutes) from a
          per-second limit, and stops at once (:class:`BudgetExhausted`) instead of retrying;
        - retries a 200 whose JSON body is cut off (Retry never sees a 200 as a failure);
        - stops the run, resumable, when the server asks for a wait longer than
          ``max_wait``, instead of sleeping for hours;
        - counts every attempt (call counts, the cost estimate, the progress callback) and
          raises errors whose text never holds the URL on the wire (urllib3's
          ``MaxRetryError`` quotes it, API key included).
        """
        kind = self.kind_of(target)
        attempt = 0
        wire = self._on_the_wire(target)
        while True:
            failure: str | None = None
            try:
                resp = super().request(method, wire, *args, **kwargs)
            except (requests.ConnectionError, requests.Timeout,
                    requests.exceptions.ChunkedEncodingError) as exc:
                failure = type(exc).__name__  # its text holds the URL, key included
            if failure is not None:  # outside the except: no chained exception keeps it
                self._wait(attempt, None, failure)
                attempt += 1
                continue
            resp.url = target  # what pyalex and its errors see: no key
            if resp.request is not None:
                resp.request.url = target
            self._count(kind, target, resp)
            status = resp.status_code
            if status == 200 and not self._json_ok(resp):
                self._wait(attempt, None, "malformed JSON body")
                attempt += 1
                continue
            if status == 429 and _is_budget_exhausted(resp):
                raise BudgetExhausted(
                    "OpenAlex says the daily allowance is spent (HTTP 429); it resets "
                    f"{_hours(_retry_after(resp))}. The run stopped cleanly and kept what "
                    "it fetched; rerun the same command then (or with OPENALEX_API_KEY set) "
                    "to resume where it stopped.")
            if status == 401:
                if self._api_key:
                    raise AuthRequired(
                        "OpenAlex rejected the API key in OPENALEX_API_KEY (HTTP 401). Check "
                        "the key at https://openalex.org/settings/api and rerun; the run "
                        "resumes where it stopped.")
                raise AuthRequired(
                    "OpenAlex wants an API key for this request (HTTP 401; paging through "
                    "all results needs one). Get a free key at "
                    "https://openalex.org/settings/api, set the OPENALEX_API_KEY environment "
                    "variable and rerun; the run resumes where it stopped.")
            if status in (403, 429) or status in _TRANSIENT_STATUS:
                self._wait(attempt, _retry_after(resp), f"HTTP {status}")
                attempt += 1
                continue
            return resp

    def _on_the_wire(self, url: str) -> str:
        """The URL actually sent: ``url`` plus ``api_key`` when a key is set."""
        if not self._api_key:
            return url
        parts = urlsplit(url)
        key = urlencode([(API_KEY_PARAM, self._api_key)])
        query = f"{parts.query}&{key}" if parts.query else key
        return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))

    def _json_ok(self, resp: requests.Response) -> bool:
        ctype = resp.headers.get("Content-Type", "")
        if "json" not in ctype:
            return True
        try:
            resp.json()
        except ValueError:
            return False
        return True

    def _count(self, kind: str, url: str, resp: requests.Response) -> None:
        with self._lock:
            if kind == "list":
                self.stats.list_calls += 1
            else:
                self.stats.single_calls += 1
            self.stats.by_status[resp.status_code] = (
                self.stats.by_status.get(resp.status_code, 0) + 1)
            remaining = resp.headers.get("X-RateLimit-Remaining-USD")
            if remaining is not None:
                self.stats.allowance_remaining_usd = remaining
        if self.on_call is not None:
            self.on_call(kind, url, resp.status_code)


@dataclass(frozen=True, slots=True)
class FetchedFile:
    """One file as the server gave it (``not_modified``: a 304, the body is the caller's
    cached copy and ``body`` is empty)."""

    url: str
    body: bytes
    status: int
    content_type: str = ""
    etag: str = ""
    last_modified: str = ""
    not_modified: bool = False


class FileSession(RetryingSession):
    """Fetch whole files (the official list publications) with the retry policy of
    :class:`RetryingSession`.

    =====================  ==========================================================
    answer                 what the session does
    =====================  ==========================================================
    200, whole body        returned
    200, body cut short    retried (fewer bytes than ``Content-Length``, or the
                           connection dropped mid-body), then :class:`TransientFailure`
    304                    returned as ``not_modified`` (a conditional request:
                           ``etag`` / ``last_modified`` of the copy the caller holds)
    429, 5xx, timeout,     retried after ``Retry-After`` or exponential backoff, then
    dropped connection     :class:`TransientFailure`
    403, 404, other 4xx    :class:`RequestRejected` at once (a blocked client or a moved
                           file: retrying will not help)
    =====================  ==========================================================

    What the body *is* (an HTML error page served with 200 instead of the CSV, another
    list's file) is for the parsers to decide.

    Examples
    --------
    >>> s = FileSession(max_retries=0, timeout=2)
    >>> s.service
    'the list server'
    """

    service = "the list server"
    resume_hint = "nothing was applied; run the update again later."
    later_hint = "Nothing was applied; run the update again later."

    def fetch(self, url: str, *, etag: str = "", last_modified: str = "") -> FetchedFile:
        """GET ``url`` whole, retrying transient faults.

        Parameters
        ----------
        url : str
        etag, last_modified : str
            Validators of a copy held from an earlier fetch: sent as ``If-None-Match`` /
            ``If-Modified-Since``, so an unchanged file answers 304 without a body.

        Raises
        ------
        TransientFailure
            Retries ran out, or the server asked for a wait longer than ``max_wait``.
        RequestRejected
            A 4xx other than 429.
        """
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        attempt = 0
        while True:
            failure: str | None = None
            try:
                resp = self.get(url, headers=headers, timeout=self.timeout,
                                allow_redirects=True)
                body = resp.content  # the whole body: a drop or stall mid-body raises here
            except (requests.ConnectionError, requests.Timeout,
                    requests.exceptions.ChunkedEncodingError,
                    requests.exceptions.ContentDecodingError) as exc:
                failure = f"{type(exc).__name__} (connection dropped or timed out)"
            if failure is not None:
                self._wait(attempt, None, failure)
                attempt += 1
                continue
            status = resp.status_code
            with self._lock:
                self.stats.single_calls += 1
                self.stats.by_status[status] = self.stats.by_status.get(status, 0) + 1
            if status == 304:
                return FetchedFile(url, b"", status, etag=etag, last_modified=last_modified,
                                   not_modified=True)
            if status == 429 or status in _TRANSIENT_STATUS:
                self._wait(attempt, _retry_after(resp), f"HTTP {status}")
                attempt += 1
                continue
            if status != 200:
                raise RequestRejected(f"{url}: HTTP {status}: the server refused the file "
                                      "(retrying will not help; check the URL)", status)
            cut = _cut_short(resp, body)
            if cut:
                self._wait(attempt, None, cut)
                attempt += 1
                continue
            return FetchedFile(url, body, status,
                               content_type=resp.headers.get("Content-Type", ""),
                               etag=resp.headers.get("ETag", ""),
                               last_modified=resp.headers.get("Last-Modified", ""))


def _cut_short(resp: requests.Response, body: bytes) -> str:
    """Why a body is shorter than the server announced, or ``""``.

    ``Content-Length`` counts the bytes on the wire: compared only when the body was
    not content-encoded (a gzip transfer is longer once decoded).
    """
    expected = resp.headers.get("Content-Length", "").strip()
    if not expected.isdigit() or resp.headers.get("Content-Encoding", "identity") not in (
            "", "identity"):
        return ""
    if int(expected) == len(body):
        return ""
    return f"body cut short: {len(body)} of {expected} bytes"
