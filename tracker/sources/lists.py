"""The live list update: fetch each list's official publication through tracker's
transport and parse it.

Every HTTP request goes through :class:`tracker.sources.transport.FileSession`, the same
retry policy as the OpenAlex source (timeout per attempt, exponential backoff,
``Retry-After`` honoured up to a limit, a bounded number of retries), plus what whole
files need: a body shorter than its ``Content-Length`` or a connection dropped mid-body
is retried, never parsed.  What the body *is* is checked by the parsers
(:mod:`tracker.listsources`): an HTML error page served with 200 instead of the CSV, an
empty file or another list's file is refused.

Every file is fetched and parsed before anything is applied, so a failure midway leaves
the registry version in force untouched.

Answers are cached under ``<cache dir>/lists`` (``$TRACKER_HOME/cache/lists`` by
default): the last good copy of each URL with its ``ETag`` / ``Last-Modified``.  The next
update asks the server conditionally; a 304 (unchanged) is answered from the copy.  A
copy is kept only after it parsed.

This module sits in the :mod:`tracker.sources` layer (above :mod:`tracker.listsources`,
whose parsers it calls) because the transport lives there.

Exit codes the CLI gives: :class:`ListFetchFailed` 3 (run again later);
:class:`ListFetchRefused` and the parsers' :class:`~tracker.listsources.SourceFileError`
2 (bad input: check the URL or the file).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from tracker.listsources import LIVE_SOURCES, ParsedSource, SourceFileError, parse_bytes
from tracker.sources.cache import default_cache_dir
from tracker.sources.transport import (
    FetchedFile,
    FileSession,
    RequestRejected,
    TransientFailure,
)

__all__ = ["DEFAULT_TIMEOUT", "ListCache", "ListFetchFailed", "ListFetchRefused",
           "fetch_sources"]

#: Seconds per attempt (connect, and each read of the body) when none is given.
DEFAULT_TIMEOUT = 60.0


class ListFetchFailed(RuntimeError):
    """A list publication could not be fetched (network, server error, cut body after
    retries): nothing was applied; run the update again later."""


class ListFetchRefused(SourceFileError):
    """The server refused the file (403, 404...): retrying will not help; check the URL.
    Nothing was applied."""


class ListCache:
    """The last good copy of each list URL, with the validators the server gave.

    Parameters
    ----------
    folder : Path
        Where copies are kept (one ``<key>.body`` and ``<key>.json`` per URL).

    Examples
    --------
    >>> import tempfile
    >>> c = ListCache(Path(tempfile.mkdtemp()))
    >>> c.validators("http://x/dpl.txt")
    ('', '')
    >>> c.put("http://x/dpl.txt", b"data", etag='"a1"', last_modified="")
    >>> c.validators("http://x/dpl.txt"), c.body("http://x/dpl.txt")
    (('"a1"', ''), b'data')
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _key(self, url: str) -> str:
        return hashlib.sha256(url.encode("utf-8")).hexdigest()[:32]

    def _meta(self, url: str) -> dict[str, str]:
        try:
            meta = json.loads((self.folder / f"{self._key(url)}.json").read_text("utf-8"))
        except (OSError, ValueError):
            return {}
        return meta if isinstance(meta, dict) and meta.get("url") == url else {}

    def validators(self, url: str) -> tuple[str, str]:
        """``(etag, last_modified)`` of the copy held, empty when none is usable."""
        meta = self._meta(url)
        if not meta or self.body(url) is None:
            return "", ""
        return str(meta.get("etag", "")), str(meta.get("last_modified", ""))

    def body(self, url: str) -> bytes | None:
        """The copy held, or None (none, unreadable, or not the bytes recorded)."""
        meta = self._meta(url)
        try:
            data = (self.folder / f"{self._key(url)}.body").read_bytes()
        except OSError:
            return None
        if hashlib.sha256(data).hexdigest() != meta.get("sha256"):
            return None
        return data

    def put(self, url: str, body: bytes, *, etag: str, last_modified: str) -> None:
        """Keep ``body`` as the copy of ``url`` (written whole, then renamed)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        key = self._key(url)
        meta = {"url": url, "etag": etag, "last_modified": last_modified,
                "sha256": hashlib.sha256(body).hexdigest(),
                "stored_at": datetime.now(UTC).isoformat(timespec="seconds")}
        for name, data in ((f"{key}.body", body),
                           (f"{key}.json", json.dumps(meta, indent=1).encode("utf-8"))):
            tmp = self.folder / f".{name}.tmp"
            tmp.write_bytes(data)
            os.replace(tmp, self.folder / name)


def _get(session: FileSession, cache: ListCache | None, url: str) -> tuple[bytes, FetchedFile]:
    etag, modified = cache.validators(url) if cache is not None else ("", "")
    try:
        got = session.fetch(url, etag=etag, last_modified=modified)
    except TransientFailure as exc:
        raise ListFetchFailed(f"{url}: {exc}") from None
    except RequestRejected as exc:
        raise ListFetchRefused(f"{exc}; nothing applied") from None
    if got.not_modified:
        held = cache.body(url) if cache is not None else None
        if held is None:  # the copy vanished between the two reads: ask unconditionally
            try:
                got = session.fetch(url)
            except TransientFailure as exc:
                raise ListFetchFailed(f"{url}: {exc}") from None
            except RequestRejected as exc:
                raise ListFetchRefused(f"{exc}; nothing applied") from None
            return got.body, got
        return held, got
    return got.body, got


def fetch_sources(names: Sequence[str] = tuple(LIVE_SOURCES), *,
                  urls: Mapping[str, str] | None = None,
                  session: FileSession | None = None, retries: int = 3,
                  backoff: float = 1.0, timeout: float | None = None, max_wait: float = 120.0,
                  sleep: Callable[[float], None] | None = None,
                  cache_dir: Path | None = None, use_cache: bool = True,
                  progress: Callable[[str, int, int], None] | None = None
                  ) -> list[ParsedSource]:
    """Fetch and parse each named source's official publication.

    Parameters
    ----------
    names : sequence of str
        Source names (see :data:`tracker.listsources.LIVE_SOURCES`).
    urls : mapping, optional
        Source name -> URL, replacing the official one (a mirror, a test server).
    session : FileSession, optional
        The transport (default: a new one with ``retries``, ``backoff``, ``timeout``,
        ``max_wait`` and ``sleep``; ``timeout`` defaults to :data:`DEFAULT_TIMEOUT`,
        ``sleep`` to :func:`time.sleep`).
    cache_dir : Path, optional
        Where copies are kept (``<cache_dir>/lists``; default: tracker's cache folder).
    use_cache : bool
        False: no conditional request, nothing kept.
    progress : callable, optional
        Called with ``(name, index, total)`` before each fetch.

    Returns
    -------
    list of ParsedSource
        One per name, in order; nothing is applied here.

    Raises
    ------
    ListFetchFailed
        A publication cannot be fetched after retries (exit 3: run again later).
    ListFetchRefused
        The server refused a file (4xx).
    SourceFileError
        A fetched file is not the list expected (an HTML error page, an empty file,
        another list's file).
    """
    unknown = [n for n in names if n not in LIVE_SOURCES]
    if unknown:
        raise SourceFileError(f"no live source {unknown[0]!r}; one of "
                              f"{', '.join(LIVE_SOURCES)}")
    own = session is None
    s = session or FileSession(timeout=timeout or DEFAULT_TIMEOUT, max_retries=retries,
                               backoff=backoff, max_wait=max_wait, sleep=sleep or time.sleep,
                               user_agent="tracker list update")
    cache = (ListCache((cache_dir or default_cache_dir()) / "lists") if use_cache else None)
    out: list[ParsedSource] = []
    fetched: list[tuple[str, bytes, FetchedFile]] = []
    try:
        for i, name in enumerate(names):
            url = (urls or {}).get(name, LIVE_SOURCES[name])
            if progress is not None:
                progress(name, i, len(names))
            body, got = _get(s, cache, url)
            out.append(parse_bytes(body, origin=url, source=name, source_url=url,
                                   retrieved_at=datetime.now(UTC).isoformat(timespec="seconds")))
            fetched.append((url, body, got))
    finally:
        if own:
            s.close()
    if cache is not None:  # every file parsed: keep the copies for the next update
        for url, body, got in fetched:
            if not got.not_modified:
                with contextlib.suppress(OSError):  # a cache that cannot be written only
                    cache.put(url, body, etag=got.etag,  # costs a full fetch next time
                              last_modified=got.last_modified)
    return out
