"""The one HTTP path from tracker to an OpenAlex-compatible server.

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
hands pyalex one
:class:`OpenAlexSession` of ours.  The session rewrites the host, adds the API key as a
header (never to the URL, so it never reaches a cache key or a log), retries transient
faults with backoff, classifies the rest into the exceptions below, and counts calls.
No other module talks HTTP to OpenAlex, and only :mod:`tracker.sources.openalex` imports
pyalex.

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
from urllib.parse import urlsplit, urlunsplit

import requests

__all__ = [
    "DEFAULT_BASE_URL",
    "AuthRequired",
    "BudgetExhausted",
    "CallStats",
    "FetchError",
    "OpenAlexSession",
    "RequestRejected",
    "TransientFailure",
]

DEFAULT_BASE_URL = "https://api.openalex.org"
_PYALEX_HOST = "api.openalex.org"
_TRANSIENT_STATUS = frozenset({500, 502, 503, 504})


class FetchError(RuntimeError):
    """Base class for fetch failures.  ``resumable`` says whether a rerun can go on."""

    resumable = True


class BudgetExhausted(FetchError):
    """The daily allowance is spent.  Stop the run cleanly; resume tomorrow or with a key."""


class AuthRequired(FetchError):
    """The server wants an API key for this request.  Set OPENALEX_API_KEY and rerun."""


class TransientFailure(FetchError):
    """A transient fault (429/403 rate limit, 5xx, timeout, dropped connection,
    malformed body) outlived all retries."""


class RequestRejected(FetchError):
    """The server refused this request (400, 404...).  Retrying will not help."""

    resumable = False

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class CallStats:
    """What a run cost: HTTP calls by kind, retries, and cache hits."""

    list_calls: int = 0
    single_calls: int = 0
    retries: int = 0
    cache_hits: int = 0
    cost_usd: float = 0.0
    by_status: dict[int, int] = field(default_factory=dict)

    @property
    def calls(self) -> int:
        return self.list_calls + self.single_calls

    def to_json(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "list_calls": self.list_calls,
            "single_calls": self.single_calls,
            "retries": self.retries,
            "cache_hits": self.cache_hits,
            "cost_usd": round(self.cost_usd, 6),
            "by_status": {str(k): v for k, v in sorted(self.by_status.items())},
        }


def _retry_after(resp: requests.Response) -> float | None:
    value = resp.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        when = email.utils.parsedate_to_datetime(value)
        return max(0.0, when.timestamp() - time.time()) if when else None


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
    return ra is not None and ra > 300


class OpenAlexSession(requests.Session):
    """A requests session that sends pyalex's calls to ``base_url`` with our retry policy.

    Parameters
    ----------
    base_url : str
        ``https://api.openalex.org`` or any OpenAlex-compatible server.
    api_key : str, optional
        Sent as ``Authorization: Bearer``; never logged, never in a URL.
    timeout : float
        Seconds per attempt.
    max_retries : int
        Retries of a transient fault before :class:`TransientFailure`.
    backoff : float
        Base of the exponential backoff in seconds (1, 2, 4... times this).
    max_wait : float
        Longest single wait, including a server's ``Retry-After``.
    sleep : callable
        Injected for tests.
    on_call : callable, optional
        Called with ``(kind, url, status)`` after each HTTP response (progress bars).
    """

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
    ) -> None:
        super().__init__()
        parts = urlsplit(base_url.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self.base = parts
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_wait = max_wait
        self.sleep = sleep
        self.on_call = on_call
        self.stats = CallStats()
        self._api_key = api_key
        self.headers["User-Agent"] = user_agent
        self._lock = threading.Lock()

    def __repr__(self) -> str:  # never show the key
        key = "set" if self._api_key else "unset"
        return f"OpenAlexSession({urlunsplit(self.base)!r}, api_key={key})"

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
        """``list`` for list/filter/search calls (they cost), ``single`` for /works/W1."""
        path = urlsplit(url).path.strip("/").split("/")
        return "single" if len(path) >= 2 and path[1] else "list"

    def request(
        self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:
        target = self.rewrite(url.decode() if isinstance(url, bytes) else url)
        kwargs.setdefault("timeout", self.timeout)
        kwargs.pop("auth", None)  # pyalex's auth would add its own (global) key
        headers = dict(kwargs.pop("headers", None) or {})
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        kwargs["headers"] = headers
        kind = self.kind_of(target)
        attempt = 0
        while True:
            try:
                resp = super().request(method, target, *args, **kwargs)
            except (requests.ConnectionError, requests.Timeout,
                    requests.exceptions.ChunkedEncodingError) as exc:
                self._wait(attempt, None, f"{type(exc).__name__}")
                attempt += 1
                continue
            self._count(kind, target, resp)
            status = resp.status_code
            if status == 200 and not self._json_ok(resp):
                self._wait(attempt, None, "malformed JSON body")
                attempt += 1
                continue
            if status == 429 and _is_budget_exhausted(resp):
                raise BudgetExhausted(
                    "OpenAlex says the daily allowance is spent (HTTP 429). The run stopped "
                    "cleanly; rerun the same command later (or with OPENALEX_API_KEY set) to "
                    "resume where it stopped.")
            if status == 401:
                raise AuthRequired(
                    "OpenAlex wants an API key for this request (HTTP 401). Set the "
                    "OPENALEX_API_KEY environment variable and rerun; the run resumes where "
                    "it stopped.")
            if status in (403, 429) or status in _TRANSIENT_STATUS:
                self._wait(attempt, _retry_after(resp), f"HTTP {status}")
                attempt += 1
                continue
            return resp

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
            if getattr(resp, "from_cache", False):
                self.stats.cache_hits += 1
            else:
                if kind == "list":
                    self.stats.list_calls += 1
                else:
                    self.stats.single_calls += 1
                self.stats.by_status[resp.status_code] = (
                    self.stats.by_status.get(resp.status_code, 0) + 1)
        if self.on_call is not None:
            self.on_call(kind, url, resp.status_code)

    def _wait(self, attempt: int, retry_after: float | None, why: str) -> None:
        if attempt >= self.max_retries:
            raise TransientFailure(
                f"OpenAlex kept failing ({why}) after {self.max_retries} retries; rerun the "
                f"same command to resume where it stopped.")
        with self._lock:
            self.stats.retries += 1
        delay = retry_after if retry_after is not None else self.backoff * (2 ** attempt)
        self.sleep(min(delay, self.max_wait))
