"""What tracker keeps on disk between runs: OpenAlex answers, and paged-query checkpoints.

Two stores share one folder (``--cache-dir``; default ``$TRACKER_HOME/cache``, else
``~/.cache/tracker``):

``http.sqlite`` (:class:`HttpCache`)
    Answers to single-entity calls (institutions, authors, whole works) and to unpaged
    list calls (an ORCID's author profiles, a name's candidate profiles), keyed on the
    normalised URL: host, path and sorted query parameters, **without** ``api_key``,
    ``api-key``, ``mailto`` or ``email``.  The API key travels in the ``Authorization``
    header and is never part of a key, a stored URL or a stored header (only the
    ``Content-Type`` header is kept).  A 404 to a single-entity call is kept too ("no
    such entity" is an answer).
``queries/<key>/`` (:class:`QueryCheckpoint`)
    One folder per cursor-paged works query: ``query.json`` (what was asked, for
    people), ``works.jsonl`` (every work received, append-only, one per line, flushed
    and fsync'd after each page) and ``state.json`` (the next cursor, pages and works so
    far, bytes of ``works.jsonl`` that are whole, whether the query is complete;
    replaced atomically after the page is on disk).  An interrupted run resumes from the
    cursor; a line written after the last ``state.json`` (a crash mid-page) is cut off,
    so no work is lost or counted twice.  A complete query is answered from disk with no
    HTTP call until ``--refresh``.

Nothing here expires on its own: ``--refresh`` asks again (and replaces what is kept).
Each answer's fetch time is recorded and reported in the run record.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import threading
import zlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import orjson
import requests
from requests.structures import CaseInsensitiveDict

__all__ = [
    "SECRET_PARAMS",
    "CachedAnswer",
    "CheckpointState",
    "HttpCache",
    "QueryCheckpoint",
    "cached_response",
    "default_cache_dir",
    "normalise_url",
]

#: Query parameters that identify a person or hold a secret: never in a cache key.
SECRET_PARAMS = frozenset({"api_key", "api-key", "apikey", "mailto", "email"})


def default_cache_dir() -> Path:
    """``$TRACKER_HOME/cache``, else ``~/.cache/tracker``."""
    from tracker.home import cache_dir

    return cache_dir()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def normalise_url(url: str) -> str:
    """The cache key of a URL: lower-case scheme and host, sorted parameters, no secrets.

    Examples
    --------
    >>> normalise_url("HTTP://Api.OpenAlex.org/works?select=id&api_key=s3&filter=a:b%7Cc")
    'http://api.openalex.org/works?filter=a:b|c&select=id'
    """
    parts = urlsplit(url)
    pairs = sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                   if k.lower() not in SECRET_PARAMS)
    query = urlencode(pairs, quote_via=quote, safe=":,|*!<>/")
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path, query, ""))


def cached_response(url: str, status: int, content_type: str, body: bytes) -> requests.Response:
    """A :class:`requests.Response` rebuilt from a cache entry (``from_cache`` is True).

    Examples
    --------
    >>> r = cached_response("http://x/works/W1", 200, "application/json", b'{"id": "W1"}')
    >>> r.json()["id"], r.from_cache
    ('W1', True)
    """
    resp = requests.Response()
    resp.status_code = status
    resp._content = body
    resp.headers = CaseInsensitiveDict({"Content-Type": content_type})
    resp.url = url
    resp.encoding = "utf-8"
    resp.reason = "OK (cache)" if status == 200 else "cache"
    resp.from_cache = True  # type: ignore[attr-defined]
    return resp


@dataclass(frozen=True)
class CachedAnswer:
    """One kept answer: status, content type, body, and where redirects led."""

    url: str
    status: int
    content_type: str
    body: bytes
    final_url: str
    merged_from: str | None
    fetched_at: str

    def to_response(self) -> requests.Response:
        return cached_response(self.final_url, self.status, self.content_type, self.body)


class HttpCache:
    """Answers to repeated OpenAlex calls, in one SQLite file.

    Examples
    --------
    >>> import tempfile, requests
    >>> c = HttpCache(Path(tempfile.mkdtemp()) / "http.sqlite")
    >>> r = cached_response("http://x/works/W1", 200, "application/json", b"{}")
    >>> c.put("http://x/works/W1?api_key=s3", r, final_url="http://x/works/W1")
    >>> c.get("http://x/works/W1").status, len(c)
    (200, 1)
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, timeout=30)
        with self._lock, self._db:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, status INTEGER, "
                "content_type TEXT, body BLOB, final_url TEXT, merged_from TEXT, "
                "fetched_at TEXT)")

    def get(self, url: str) -> CachedAnswer | None:
        key = normalise_url(url)
        with self._lock:
            row = self._db.execute(
                "SELECT status, content_type, body, final_url, merged_from, fetched_at "
                "FROM answers WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        status, ctype, body, final_url, merged_from, fetched_at = row
        try:
            raw = zlib.decompress(body)
        except zlib.error:
            return None  # a damaged entry is a miss, asked again
        return CachedAnswer(key, int(status), str(ctype), raw, str(final_url),
                            merged_from, str(fetched_at))

    def put(self, url: str, resp: requests.Response, *, final_url: str,
            merged_from: str | None = None) -> None:
        ctype = resp.headers.get("Content-Type", "application/json")
        with self._lock, self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?, ?, ?, ?)",
                (normalise_url(url), resp.status_code, ctype, zlib.compress(resp.content, 6),
                 normalise_url(final_url),
                 normalise_url(merged_from) if merged_from else None, _now()))

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM answers").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()


@dataclass
class CheckpointState:
    """Where a paged query stands.  ``bytes`` of ``works.jsonl`` are whole pages."""

    next_cursor: str | None = "*"
    pages: int = 0
    works: int = 0
    bytes: int = 0
    complete: bool = False
    count: int | None = None
    started_at: str = ""
    updated_at: str = ""
    completed_at: str | None = None


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):  # not every file system lets a folder be fsync'd
        fd = os.open(str(path), os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)
    _fsync_dir(path.parent)


def query_key(description: dict[str, Any]) -> str:
    """A stable key for a query description (sorted JSON, SHA-256, 24 hex digits).

    Examples
    --------
    >>> query_key({"b": 1, "a": [1, 2]}) == query_key({"a": [1, 2], "b": 1})
    True
    """
    blob = json.dumps(description, sort_keys=True, ensure_ascii=True).encode()
    return hashlib.sha256(blob).hexdigest()[:24]


class QueryCheckpoint:
    """The saved progress of one cursor-paged works query.

    Parameters
    ----------
    root : Path
        The cache folder; the checkpoint lives in ``root/queries/<key>/``.
    description : dict
        What the query asks (server, filters, select, page size): its identity.  Must
        hold no secret (it is written to ``query.json``).

    Examples
    --------
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> cp = QueryCheckpoint(root, {"filter": "x:1"})
    >>> cp.append_page([{"id": "W1"}, {"id": "W2"}], next_cursor="c2", count=3)
    >>> QueryCheckpoint(root, {"filter": "x:1"}).state.next_cursor
    'c2'
    >>> cp.append_page([{"id": "W3"}], next_cursor=None, count=3)
    >>> again = QueryCheckpoint(root, {"filter": "x:1"})
    >>> again.complete, [w["id"] for w in again.iter_works()]
    (True, ['W1', 'W2', 'W3'])
    """

    def __init__(self, root: Path, description: dict[str, Any]) -> None:
        self.key = query_key(description)
        self.dir = root / "queries" / self.key
        self.description = description
        self._works = self.dir / "works.jsonl"
        self._state_path = self.dir / "state.json"
        self.state = self._load()

    def _load(self) -> CheckpointState:
        try:
            doc = json.loads(self._state_path.read_text("utf-8"))
            state = CheckpointState(**{k: doc[k] for k in CheckpointState.__dataclass_fields__
                                       if k in doc})
        except (OSError, ValueError, TypeError):
            return CheckpointState(started_at=_now())
        size = self._works.stat().st_size if self._works.exists() else 0
        if size < state.bytes:  # the saved works are shorter than the state says: start over
            return CheckpointState(started_at=_now())
        if size > state.bytes:  # a page written after the last state: not counted, cut off
            with self._works.open("r+b") as fh:
                fh.truncate(state.bytes)
                os.fsync(fh.fileno())
        return state

    @property
    def complete(self) -> bool:
        return self.state.complete

    @property
    def resuming(self) -> bool:
        """True when part of the query was saved by an earlier, interrupted run."""
        return not self.state.complete and self.state.pages > 0

    def reset(self) -> None:
        """Forget what was saved (``--refresh``, or a cursor the server no longer takes)."""
        for p in (self._works, self._state_path):
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
        self.state = CheckpointState(started_at=_now())

    def append_page(self, works: list[dict[str, Any]], *, next_cursor: str | None,
                    count: int | None) -> None:
        """Save one page of works (fsync'd), then the new state (atomically).

        ``next_cursor`` None marks the query complete.
        """
        self.dir.mkdir(parents=True, exist_ok=True)
        if self.state.pages == 0 and not (self.dir / "query.json").exists():
            _write_atomic(self.dir / "query.json",
                          json.dumps(self.description, indent=1, sort_keys=True).encode())
        data = b"".join(orjson.dumps(w) + b"\n" for w in works)
        with self._works.open("ab") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        s = self.state
        s.bytes += len(data)
        s.pages += 1
        s.works += len(works)
        s.next_cursor = next_cursor
        if s.count is None:
            s.count = count
        s.updated_at = _now()
        if next_cursor is None:
            s.complete = True
            s.completed_at = s.updated_at
        _write_atomic(self._state_path, json.dumps(asdict(s), indent=1).encode())

    def iter_works(self) -> Iterator[dict[str, Any]]:
        """The saved works, in the order received (only whole pages)."""
        if not self._works.exists() or self.state.bytes == 0:
            return
        with self._works.open("rb") as fh:
            left = self.state.bytes
            for line in fh:
                if left <= 0:
                    break
                left -= len(line)
                if line.strip():
                    yield orjson.loads(line)
