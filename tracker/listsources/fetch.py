"""The live update path: fetch each list's official publication over HTTP, retrying
transient faults, and parse it.  Every file is fetched and parsed before anything is
applied, so a failure midway leaves the registry version in force untouched.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime

import requests

from tracker.listsources import LIVE_SOURCES, ParsedSource, parse_bytes
from tracker.listsources.model import TruncatedFileError

__all__ = ["ListFetchFailed", "fetch_sources"]


class ListFetchFailed(RuntimeError):
    """A list publication could not be fetched (network, server error): nothing was
    applied; run the update again later."""


def _get(session: requests.Session, url: str, *, retries: int, backoff: float,
         timeout: float, sleep: Callable[[float], None]) -> bytes:
    last = ""
    for attempt in range(retries + 1):
        if attempt:
            sleep(backoff * 2 ** (attempt - 1))
        try:
            resp = session.get(url, timeout=timeout)
        except requests.RequestException as exc:
            last = f"{type(exc).__name__}: {exc}"
            continue
        if resp.status_code >= 500 or resp.status_code == 429:
            last = f"HTTP {resp.status_code}"
            continue
        if resp.status_code >= 400:
            raise ListFetchFailed(f"{url}: HTTP {resp.status_code}: nothing applied")
        body = resp.content
        expected = resp.headers.get("Content-Length")
        if expected and expected.isdigit() and int(expected) != len(body):
            last = f"cut body: {len(body)} of {expected} bytes"
            continue
        return body
    if last.startswith("cut body"):
        raise TruncatedFileError(f"{url}: {last} after {retries + 1} tries; nothing applied")
    raise ListFetchFailed(f"{url}: {last} after {retries + 1} tries; nothing applied")


def fetch_sources(names: Sequence[str] = tuple(LIVE_SOURCES), *,
                  urls: Mapping[str, str] | None = None,
                  session: requests.Session | None = None, retries: int = 3,
                  backoff: float = 1.0, timeout: float = 60.0,
                  sleep: Callable[[float], None] = time.sleep,
                  progress: Callable[[str, int, int], None] | None = None
                  ) -> list[ParsedSource]:
    """Fetch and parse each named source's official publication.

    Parameters
    ----------
    names : sequence of str
        Source names (see :data:`tracker.listsources.LIVE_SOURCES`).
    urls : mapping, optional
        Source name -> URL, replacing the official one (a mirror, a test server).

    Raises
    ------
    ListFetchFailed
        A publication cannot be fetched after retries.
    SourceFileError
        A fetched file is not the list expected (an HTML error page, a cut body,
        another list's file).
    """
    own = session is None
    s = session or requests.Session()
    s.headers.setdefault("User-Agent", "tracker list update")
    out: list[ParsedSource] = []
    try:
        for i, name in enumerate(names):
            if name not in LIVE_SOURCES:
                raise ListFetchFailed(f"no live source {name!r}; one of "
                                      f"{', '.join(LIVE_SOURCES)}")
            url = (urls or {}).get(name, LIVE_SOURCES[name])
            if progress is not None:
                progress(name, i, len(names))
            body = _get(s, url, retries=retries, backoff=backoff, timeout=timeout, sleep=sleep)
            out.append(parse_bytes(body, origin=url, source=name, source_url=url,
                                   retrieved_at=datetime.now(UTC).isoformat(timespec="seconds")))
    finally:
        if own:
            s.close()
    return out
