"""An OpenAlex-compatible HTTP server on 127.0.0.1 for tests and benchmarks.

It serves recorded real OpenAlex records (or records you pass in) with the API's query
semantics (see :mod:`.query`), its error bodies, its rate-limit headers and, on demand,
its failure modes (see :mod:`.faults`).  Start it in a background thread::

    with OpenAlexServer() as server:
        requests.get(f"{server.url}/works", params={"filter": "institutions.id:I19820366"})

Sources for the behaviour mirrored here are listed in README.md beside this file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

from .corpus import (
    ENTITIES,
    ID_LETTER,
    EntityStore,
    Record,
    default_records,
    norm_doi,
    norm_orcid,
    norm_ror,
    parse_openalex_id,
    short_openalex_id,
)
from .faults import Fault, FaultKind, FaultQueue
from .query import (
    ApiError,
    apply_select,
    apply_sort,
    check_params,
    cursor_start,
    encode_cursor,
    evaluate,
    parse_filter,
    parse_paging,
    parse_select,
    parse_sort,
)

try:
    import orjson

    def _dumps(obj: Any) -> bytes:
        return orjson.dumps(obj)

except ImportError:  # pragma: no cover - orjson is a runtime dependency
    import json

    def _dumps(obj: Any) -> bytes:
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


__all__ = ["OpenAlexServer", "RequestLog", "RequestRecord", "ServerSettings"]

LOOPBACK = "127.0.0.1"
AUTHORS_CAP = 100
CREDIT_USD = 0.0001  # 10,000 credits = $1 (openalex-api-proxy)
LIST_CREDITS = 1
SEARCH_CREDITS = 10
REDACTED = "<redacted>"

_ENTITY_PATH = re.compile(r"^/(works|institutions|authors)(?:/(.+))?$")
_ENTITY_NOUN = {"works": "Work", "institutions": "Institution", "authors": "Author"}


def _usd(credits: int) -> str:
    """A credit amount in USD written like the API writes it (``1``, ``0.1``, ``0.0001``)."""
    text = f"{credits * CREDIT_USD:.4f}".rstrip("0").rstrip(".")
    return text or "0"


def _seconds_to_midnight_utc(now: dt.datetime) -> int:
    tomorrow = (now + dt.timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(1, int((tomorrow - now).total_seconds() + 0.999))


@dataclass(frozen=True)
class ServerSettings:
    """Behaviour switches; change them with :meth:`OpenAlexServer.configure`.

    Parameters
    ----------
    require_api_key : {"never", "cursor", "always"}
        ``cursor``: cursor paging without an API key gets 401; ``always``: every request
        without a key gets 401.  The 401 body's ``error`` says "API key" (pyalex tests it).
    api_keys : frozenset of str, optional
        When set, any other key gets 401 ``Invalid or missing API key`` (as the API does
        for an unknown key).  None accepts every key.
    truncate_authors : bool
        List responses cut ``authorships`` to the first 100 and set
        ``is_authors_truncated: true``; single-entity GETs stay whole.
    merged : dict
        Merged IDs, old -> new (short or URL form); ``GET /works/<old>`` answers 301.
    enforce_budget : bool
        Refuse with the budget-exhausted 429 once the daily credits are spent.
    daily_credits, anon_daily_credits : int
        Daily credits with and without an API key ($1 and $0.10 a day).
    """

    require_api_key: str = "never"
    api_keys: frozenset[str] | None = None
    truncate_authors: bool = False
    merged: dict[str, str] = field(default_factory=dict)
    enforce_budget: bool = False
    daily_credits: int = 10_000
    anon_daily_credits: int = 1_000

    def __post_init__(self) -> None:
        if self.require_api_key not in ("never", "cursor", "always"):
            raise ValueError(
                "require_api_key must be 'never', 'cursor' or 'always', "
                f"got {self.require_api_key!r}"
            )
        if self.api_keys is not None:
            object.__setattr__(self, "api_keys", frozenset(self.api_keys))
        merged = {short_openalex_id(k): short_openalex_id(v) for k, v in self.merged.items()}
        object.__setattr__(self, "merged", merged)


@dataclass(frozen=True)
class RequestRecord:
    """One request the server saw.  API key values are never stored.

    ``status`` is None when the connection was dropped; ``fault`` names the injected
    fault, if any; ``api_key_via`` is ``authorization``, ``query`` or ``header``.
    """

    method: str
    path: str
    query: Mapping[str, str]
    raw_query: str
    status: int | None
    headers: Mapping[str, str]
    has_api_key: bool
    api_key_via: str | None
    endpoint: str
    fault: str | None

    @property
    def has_authorization(self) -> bool:
        """Whether an ``Authorization`` header was sent (its value is not kept)."""
        return any(k.lower() == "authorization" for k in self.headers)


class RequestLog:
    """Thread-safe, append-only log of :class:`RequestRecord` (``server.requests``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[RequestRecord] = []

    def append(self, record: RequestRecord) -> None:
        with self._lock:
            self._items.append(record)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def snapshot(self) -> list[RequestRecord]:
        """A copy of the records so far."""
        with self._lock:
            return list(self._items)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def __iter__(self) -> Iterator[RequestRecord]:
        return iter(self.snapshot())

    def __getitem__(self, index: int) -> RequestRecord:
        with self._lock:
            return self._items[index]

    def paths(self) -> list[str]:
        """The request paths in order."""
        return [r.path for r in self.snapshot()]


@dataclass
class _Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    credits: int = 0


def _json(
    status: int, body: Any, credits: int = 0, headers: dict[str, str] | None = None
) -> _Response:
    return _Response(status, _dumps(body), headers=dict(headers or {}), credits=credits)


def _html(status: int, title: str, text: str, headers: dict[str, str] | None = None) -> _Response:
    page = (
        "<!doctype html>\n<html lang=en>\n"
        f"<title>{status} {title}</title>\n<h1>{title}</h1>\n<p>{text}</p>\n"
    )
    return _Response(status, page.encode(), "text/html; charset=utf-8", dict(headers or {}))


def _ids_tail(kind: str) -> Callable[[Record], str | None]:
    """The last path segment of ``ids[kind]`` (``https://pubmed.ncbi.nlm.nih.gov/123`` ->
    ``123``), lower-cased."""

    def extract(record: Record) -> str | None:
        value = (record.get("ids") or {}).get(kind)
        if not isinstance(value, str) or not value:
            return None
        return value.rstrip("/").rsplit("/", 1)[-1].lower()

    return extract


def _api_key(
    handler: BaseHTTPRequestHandler, query: Mapping[str, str]
) -> tuple[str | None, str | None]:
    """The API key sent, and how: ``Authorization: Bearer``, ``api_key`` param or header."""
    auth = handler.headers.get("Authorization")
    if auth:
        parts = auth.split(" ")
        if len(parts) == 2 and parts[0].lower() == "bearer" and parts[1]:
            return parts[1], "authorization"
    for name in ("api_key", "api-key"):
        if query.get(name):
            return query[name], "query"
    for name in ("api_key", "api-key"):
        value = handler.headers.get(name)
        if value:
            return value, "header"
    return None, None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "oaserver/1.0"
    timeout = 30
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output clean: the request log is ``server.requests``."""

    def do_GET(self) -> None:
        self.server.app._handle(self)

    def send(self, response: _Response) -> None:
        try:
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Access-Control-Allow-Origin", "*")
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            self.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (e.g. timeout)
            self.close_connection = True

    def drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # Listen backlog: a burst of parallel clients must not wait for SYN retries.
    request_queue_size = 128

    def __init__(self, app: OpenAlexServer, port: int) -> None:
        self.app = app
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__((LOOPBACK, port), _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_open_connections(self) -> None:
        with self._open_lock:
            sockets = list(self._open)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class OpenAlexServer:
    """OpenAlex-compatible server on ``127.0.0.1`` in a background thread.

    Parameters
    ----------
    works, institutions, authors : iterable of dict, optional
        Records to serve instead of the recorded real ones (deduplicated by ``id``,
        keeping the copy with more fields).  Pass ``[]`` to serve none.
    port : int
        0 picks a free ephemeral port.
    clock : callable, optional
        Returns the current UTC time (for ``X-RateLimit-Reset``); injectable for tests.
    **settings
        Initial :class:`ServerSettings`; :meth:`reset` returns to them.

    Attributes
    ----------
    url : str
        ``http://127.0.0.1:PORT`` once started.
    requests : RequestLog
        Every request served (API keys redacted).
    faults : FaultQueue
        Faults to inject into the next matching requests.
    settings : ServerSettings

    Examples
    --------
    >>> import requests
    >>> with OpenAlexServer(works=[{"id": "https://openalex.org/W1", "title": "A"}]) as s:
    ...     body = requests.get(f"{s.url}/works", timeout=5).json()
    >>> body["meta"]["count"], body["results"][0]["title"]
    (1, 'A')
    """

    def __init__(
        self,
        works: Iterable[Record] | None = None,
        institutions: Iterable[Record] | None = None,
        authors: Iterable[Record] | None = None,
        *,
        port: int = 0,
        clock: Callable[[], dt.datetime] | None = None,
        **settings: Any,
    ) -> None:
        self._given: dict[str, list[Record] | None] = {
            "works": None if works is None else list(works),
            "institutions": None if institutions is None else list(institutions),
            "authors": None if authors is None else list(authors),
        }
        self._stores: dict[str, EntityStore] = {}
        self._stores_lock = threading.Lock()
        self._initial_settings = dict(settings)
        self.settings = ServerSettings(**settings)
        self._port = port
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.requests = RequestLog()
        self.faults = FaultQueue()
        self._used: dict[str, int] = {}
        self._used_lock = threading.Lock()
        self._stopping = threading.Event()
        self._generation = 0  # bumped by reset(): requests begun before it are not logged
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("server not started; call start() first")
        return f"http://{LOOPBACK}:{self._httpd.server_address[1]}"

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def start(self, preload: bool = True) -> OpenAlexServer:
        """Bind ``127.0.0.1`` and serve in a daemon thread; ``preload`` reads the corpus
        now so that the first request is not slow."""
        if self._httpd is not None:
            return self
        if preload:
            for entity in ENTITIES:
                self.store(entity)
        self._stopping.clear()
        self._httpd = _HTTPServer(self, self._port)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"oaserver-{self._httpd.server_address[1]}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, wake any ``slow`` fault, close open connections and the port."""
        if self._httpd is None:
            return
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.close_open_connections()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> OpenAlexServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def configure(self, **changes: Any) -> ServerSettings:
        """Change settings (see :class:`ServerSettings`) until the next :meth:`reset`."""
        self.settings = dataclasses.replace(self.settings, **changes)
        return self.settings

    def reset(self) -> None:
        """Back to the constructor's settings; clear the request log, faults and spent
        credits."""
        self.settings = ServerSettings(**self._initial_settings)
        self._generation += 1
        self.requests.clear()
        self.faults.clear()
        with self._used_lock:
            self._used.clear()

    def add_fault(self, kind: FaultKind | str, **options: Any) -> Fault:
        """Shorthand for ``server.faults.add(Fault(kind, **options))``."""
        return self.faults.add(Fault(FaultKind(kind), **options))

    def store(self, entity: str) -> EntityStore:
        """The records served for ``entity`` (built on first use)."""
        with self._stores_lock:
            store = self._stores.get(entity)
            if store is None:
                given = self._given[entity]
                records = default_records(entity) if given is None else given
                store = EntityStore(entity, records)
                self._stores[entity] = store
            return store

    # ------------------------------------------------------------------- budget

    def _identity(self, key: str | None) -> str:
        if key is None:
            return "anonymous"
        return "key:" + hashlib.sha256(key.encode()).hexdigest()[:16]

    def _limit(self, key: str | None) -> int:
        return self.settings.daily_credits if key else self.settings.anon_daily_credits

    def _remaining(self, key: str | None) -> int:
        with self._used_lock:
            used = self._used.get(self._identity(key), 0)
        return max(0, self._limit(key) - used)

    def _charge(self, key: str | None, credits: int) -> None:
        if credits:
            with self._used_lock:
                ident = self._identity(key)
                self._used[ident] = self._used.get(ident, 0) + credits

    def _reset_seconds(self) -> int:
        return _seconds_to_midnight_utc(self._clock())

    def _ratelimit_headers(self, key: str | None, credits_used: int) -> dict[str, str]:
        limit, remaining = self._limit(key), self._remaining(key)
        return {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Credits-Used": str(credits_used),
            "X-RateLimit-Reset": str(self._reset_seconds()),
            "X-RateLimit-Limit-USD": _usd(limit),
            "X-RateLimit-Remaining-USD": _usd(remaining),
            "X-RateLimit-Cost-USD": _usd(credits_used),
            "X-RateLimit-Prepaid-Remaining-USD": "0",
            "X-RateLimit-Onetime-Remaining": "0",
        }

    def _too_many(
        self, key: str | None, credits: int, *, daily: bool, retry_after: int | None
    ) -> _Response:
        """The API's 429: per-second limit (``daily=False``) or spent daily budget."""
        remaining = 0 if daily else self._remaining(key)
        wait = retry_after if retry_after is not None else (self._reset_seconds() if daily else 1)
        if daily:
            message = (
                f"Insufficient budget. This request costs ${_usd(credits)} but you only have "
                f"${_usd(remaining)} remaining. Resets at midnight UTC. Need more? Add funds at "
                "https://openalex.org/pricing"
            )
        else:
            message = "Rate limit exceeded: 100 requests per second. Please slow down."
        body = {
            "error": "Rate limit exceeded",
            "message": message,
            "retryAfter": wait,
            "costUsd": float(_usd(credits)),
            "dailyRemainingUsd": float(_usd(remaining)),
            "prepaidRemainingUsd": 0,
            "creditsRequired": credits,
            "creditsRemaining": remaining,
            "onetimeCreditsRemaining": 0,
        }
        limit = self._limit(key)
        headers = {
            "Retry-After": str(wait),
            "X-RateLimit-Limit-USD": _usd(limit),
            "X-RateLimit-Remaining-USD": _usd(remaining),
            "X-RateLimit-Prepaid-Remaining-USD": "0",
            "X-RateLimit-Cost-Required-USD": _usd(credits),
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Onetime-Remaining": "0",
            "X-RateLimit-Credits-Required": str(credits),
            "X-RateLimit-Reset": str(self._reset_seconds()),
        }
        return _json(429, body, headers=headers)

    # ------------------------------------------------------------------ handling

    def _handle(self, handler: _Handler) -> None:
        generation = self._generation
        split = urlsplit(handler.path)
        path = unquote(split.path)
        pairs = parse_qsl(split.query, keep_blank_values=True)
        params: dict[str, list[str]] = {}
        for name, value in pairs:
            params.setdefault(name, []).append(value)
        first = {name: values[0] for name, values in params.items()}
        key, via = _api_key(handler, first)
        match = _ENTITY_PATH.match(path)
        endpoint = "other" if match is None else ("single" if match.group(2) else "list")
        credits = 0
        if endpoint == "list":
            credits = SEARCH_CREDITS if first.get("search") else LIST_CREDITS

        fault = self.faults.take(path, endpoint)
        if fault is not None and fault.kind is FaultKind.DROP:
            self._log(handler, path, pairs, None, key, via, endpoint, fault, generation)
            handler.drop()
            return
        if fault is not None and fault.kind is FaultKind.SLOW:
            self._stopping.wait(fault.delay)

        response = self._fault_response(fault, key, credits)
        if response is None:
            response = self._auth_response(key, first, endpoint)
        if response is None and self.settings.enforce_budget and credits > self._remaining(key):
            response = self._too_many(key, credits, daily=True, retry_after=None)
        if response is None:
            try:
                response = self._dispatch(handler, match, path, params, first, key, credits)
            except ApiError as exc:
                response = _json(exc.status, exc.body())
        if response.status == 200 and generation == self._generation:
            self._charge(key, response.credits)
        else:
            response.credits = 0
        if fault is not None and fault.kind is FaultKind.MALFORMED_JSON:
            body = response.body or b'{"meta": {"count": 0}, "results": []}'
            response = _Response(
                200, body[: max(1, len(body) // 2)], "application/json", credits=response.credits
            )
        headers = self._ratelimit_headers(key, response.credits)
        headers.update(response.headers)
        response.headers = headers
        self._log(handler, path, pairs, response.status, key, via, endpoint, fault, generation)
        handler.send(response)

    def _fault_response(
        self, fault: Fault | None, key: str | None, credits: int
    ) -> _Response | None:
        if fault is None:
            return None
        kind = fault.kind
        if kind is FaultKind.RATE_LIMIT:
            return self._too_many(key, credits, daily=False, retry_after=fault.retry_after)
        if kind is FaultKind.BUDGET_EXHAUSTED:
            return self._too_many(key, credits, daily=True, retry_after=fault.retry_after)
        extra = {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
        if kind is FaultKind.SERVICE_UNAVAILABLE:
            return _html(
                503,
                "Service Unavailable",
                "The server is temporarily unable to service your request.",
                extra,
            )
        if kind is FaultKind.SERVER_ERROR:
            return _html(
                500,
                "Internal Server Error",
                "The server encountered an internal error and was unable to complete your request.",
                extra,
            )
        if kind is FaultKind.FORBIDDEN:
            return _json(
                403, {"error": "Forbidden", "message": "You don't have access to this resource."}
            )
        return None  # slow / malformed_json: answered normally, then altered

    def _auth_response(
        self, key: str | None, first: Mapping[str, str], endpoint: str
    ) -> _Response | None:
        allowed = self.settings.api_keys
        if key is not None and allowed is not None and key not in allowed:
            return _json(
                401, {"error": "Invalid or missing API key", "message": "API key not found"}
            )
        mode = self.settings.require_api_key
        if key is None and mode == "always" and endpoint != "other":
            return _json(
                401,
                {
                    "error": "API key required",
                    "message": "This request requires an API key. Get one free at "
                    "https://openalex.org/settings/api",
                },
            )
        if key is None and mode == "cursor" and endpoint == "list" and first.get("cursor"):
            return _json(
                401,
                {
                    "error": "API key required",
                    "message": "Cursor paging requires an API key. Get one free at "
                    "https://openalex.org/settings/api",
                },
            )
        return None

    def _dispatch(
        self,
        handler: _Handler,
        match: re.Match[str] | None,
        path: str,
        params: Mapping[str, list[str]],
        first: Mapping[str, str],
        key: str | None,
        credits: int,
    ) -> _Response:
        if path.rstrip("/") == "/rate-limit":
            return self._rate_limit_status(key)
        if match is None:
            return _json(
                404,
                {"error": "Not Found", "message": "The requested URL was not found on the server."},
            )
        entity, raw_id = match.group(1), match.group(2)
        if raw_id:
            return self._single(handler, entity, raw_id, first)
        return self._list(entity, params, first, credits)

    def _rate_limit_status(self, key: str | None) -> _Response:
        if key is None:
            return _json(
                401,
                {
                    "error": "Authentication required",
                    "message": "You must provide a valid API key to check rate limit status",
                },
            )
        limit, remaining = self._limit(key), self._remaining(key)
        now = self._clock()
        resets_in = self._reset_seconds()
        masked = "***" if len(key) <= 6 else f"{key[:3]}...{key[-3:]}"
        return _json(
            200,
            {
                "api_key": masked,
                "rate_limit": {
                    "daily_budget_usd": float(_usd(limit)),
                    "daily_used_usd": float(_usd(limit - remaining)),
                    "daily_remaining_usd": float(_usd(remaining)),
                    "prepaid_balance_usd": 0,
                    "prepaid_remaining_usd": 0,
                    "prepaid_expires_at": None,
                    "resets_at": (now + dt.timedelta(seconds=resets_in)).strftime(
                        "%Y-%m-%dT%H:%M:%S.000Z"
                    ),
                    "resets_in_seconds": resets_in,
                    "endpoint_costs_usd": {
                        "singleton": 0,
                        "list": 0.0001,
                        "search": 0.001,
                        "semantic": 0.01,
                        "content": 0.01,
                        "text": 0.01,
                    },
                },
            },
        )

    def _single(
        self, handler: _Handler, entity: str, raw_id: str, first: Mapping[str, str]
    ) -> _Response:
        fields = parse_select(entity, first.get("select"))  # validated before the lookup
        store = self.store(entity)
        query = urlencode(list(first.items()), quote_via=quote, safe=":,|*")
        host = handler.headers.get("Host") or f"{LOOPBACK}:{self.port}"

        def location(new_id: str) -> str:
            return f"http://{host}/{entity}/{new_id}" + (f"?{query}" if query else "")

        record: Record | None = None
        oid = parse_openalex_id(raw_id)
        low = raw_id.lower()
        if oid is not None:
            if oid[0] != ID_LETTER[entity]:
                return self._not_found(entity, raw_id)
            if oid != raw_id:  # the API redirects w123 and https://openalex.org/W123 to W123
                return _Response(302, b"", headers={"Location": location(oid)})
            record = store.by_openalex_id(oid)
            if record is None and oid in self.settings.merged:
                return _Response(
                    301, b"", headers={"Location": location(self.settings.merged[oid])}
                )
        elif entity == "works" and low.startswith("mag:") and low[4:].isdigit():
            return _Response(302, b"", headers={"Location": location(f"W{low[4:]}")})
        elif entity == "works" and ("doi" in low):
            record = store.by_external_id(
                "doi", norm_doi(raw_id), lambda r: norm_doi(r["doi"]) if r.get("doi") else None
            )
        elif entity == "works" and low.startswith(("pmid:", "pmcid:")):
            kind, _, value = raw_id.partition(":")
            record = store.by_external_id(
                kind.lower(), value.strip().lower(), _ids_tail(kind.lower())
            )
        elif entity == "institutions" and (low.startswith("ror:") or "ror.org" in low):
            record = store.by_external_id(
                "ror", norm_ror(raw_id), lambda r: norm_ror(r["ror"]) if r.get("ror") else None
            )
        elif entity == "authors" and (
            low.startswith("orcid:") or low.startswith("https://orcid.org")
        ):
            record = store.by_external_id(
                "orcid",
                norm_orcid(raw_id),
                lambda r: norm_orcid(r["orcid"]) if r.get("orcid") else None,
            )
        if record is None:
            return self._not_found(entity, raw_id)
        return _json(200, apply_select(record, fields))

    def _not_found(self, entity: str, raw_id: str) -> _Response:
        return _json(
            404, {"error": "Not Found", "message": f"{_ENTITY_NOUN[entity]} {raw_id} not found"}
        )

    def _shape(self, record: Record, fields: Sequence[str] | None) -> Record:
        if self.settings.truncate_authors:
            authorships = record.get("authorships")
            if isinstance(authorships, list) and len(authorships) > AUTHORS_CAP:
                record = {
                    **record,
                    "authorships": authorships[:AUTHORS_CAP],
                    "is_authors_truncated": True,
                }
        return apply_select(record, fields)

    def _list(
        self, entity: str, params: Mapping[str, list[str]], first: Mapping[str, str], credits: int
    ) -> _Response:
        started = time.perf_counter()
        check_params(params)
        clauses = parse_filter(entity, first.get("filter"))
        fields = parse_select(entity, first.get("select"))
        sort_keys = parse_sort(entity, first.get("sort"))
        paging = parse_paging(first)
        store = self.store(entity)
        records = [store.records[i] for i in evaluate(store, clauses, first.get("search") or None)]
        if sort_keys:
            records = apply_sort(entity, records, sort_keys)
        if paging.cursor is not None:
            start = cursor_start(paging.cursor, records)
        else:
            start = (paging.page - 1) * paging.per_page
        page = records[start : start + paging.per_page]
        meta: dict[str, Any] = {
            "count": len(records),
            "db_response_time_ms": 0,
            "page": None if paging.cursor is not None else paging.page,
            "per_page": paging.per_page,
        }
        if paging.cursor is not None:
            meta["next_cursor"] = (
                encode_cursor(start + len(page), str(page[-1]["id"])) if page else None
            )
        meta["groups_count"] = None
        meta["cost_usd"] = float(_usd(credits))
        results = [self._shape(r, fields) for r in page]
        meta["db_response_time_ms"] = int((time.perf_counter() - started) * 1000)
        return _json(200, {"meta": meta, "results": results, "group_by": []}, credits=credits)

    # --------------------------------------------------------------------- log

    def _log(
        self,
        handler: _Handler,
        path: str,
        pairs: Sequence[tuple[str, str]],
        status: int | None,
        key: str | None,
        via: str | None,
        endpoint: str,
        fault: Fault | None,
        generation: int,
    ) -> None:
        if generation != self._generation:  # begun before a reset(): belongs to no test
            return
        safe_pairs = [(n, REDACTED if n in ("api_key", "api-key") else v) for n, v in pairs]
        query: dict[str, str] = {}
        for name, value in safe_pairs:
            query.setdefault(name, value)
        headers: dict[str, str] = {}
        for name, value in handler.headers.items():
            low = name.lower()
            if low == "authorization":
                scheme = value.split(" ", 1)[0] if " " in value else ""
                value = f"{scheme} {REDACTED}".strip()
            elif low in ("api_key", "api-key"):
                value = REDACTED
            headers[name] = value
        self.requests.append(
            RequestRecord(
                method=handler.command,
                path=path,
                query=query,
                raw_query=urlencode(safe_pairs),
                status=status,
                headers=headers,
                has_api_key=key is not None,
                api_key_via=via,
                endpoint=endpoint,
                fault=None if fault is None else fault.kind.value,
            )
        )
