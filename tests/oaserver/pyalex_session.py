"""Point pyalex 0.21 at the test server.

pyalex 0.21 writes every URL with the fixed host ``https://api.openalex.org`` (it ignores
``config.openalex_url``) and gets its session from ``pyalex.api._get_requests_session``.
Patch that function to return :func:`pyalex_session_for` and every pyalex call goes to the
test server instead::

    monkeypatch.setattr(pyalex.api, "_get_requests_session",
                        lambda: pyalex_session_for(server.url))

This is a test helper; the product routes pyalex through its own session
(``tracker.sources.transport``).
"""

from __future__ import annotations

from typing import Any

import requests

PYALEX_BASE = "https://api.openalex.org"


class RewritingSession(requests.Session):
    """A ``requests.Session`` that sends ``https://api.openalex.org/...`` to ``base_url``.

    Parameters
    ----------
    base_url : str
        E.g. ``http://127.0.0.1:8765``.
    timeout : float, optional
        Default timeout for each request (pyalex sets none).

    Examples
    --------
    >>> s = RewritingSession("http://127.0.0.1:9")
    >>> s.rewrite("https://api.openalex.org/works?filter=doi:10.1/x")
    'http://127.0.0.1:9/works?filter=doi:10.1/x'
    >>> s.rewrite("https://example.org/x")
    'https://example.org/x'
    """

    def __init__(self, base_url: str, timeout: float | None = 30.0) -> None:
        super().__init__()
        self.base_url = base_url.rstrip("/")
        self.default_timeout = timeout

    def rewrite(self, url: str) -> str:
        if (
            url == PYALEX_BASE
            or url.startswith(PYALEX_BASE + "/")
            or url.startswith(PYALEX_BASE + "?")
        ):
            return self.base_url + url[len(PYALEX_BASE) :]
        return url

    def request(
        self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:
        if isinstance(url, bytes):
            url = url.decode()
        if self.default_timeout is not None and kwargs.get("timeout") is None:
            kwargs["timeout"] = self.default_timeout
        return super().request(method, self.rewrite(url), *args, **kwargs)


def pyalex_session_for(url: str, timeout: float | None = 30.0) -> RewritingSession:
    """A session for ``pyalex.api._get_requests_session`` that targets ``url``.

    Examples
    --------
    >>> pyalex_session_for("http://127.0.0.1:9").base_url
    'http://127.0.0.1:9'
    """
    return RewritingSession(url, timeout=timeout)
