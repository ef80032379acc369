"""Shared pytest fixtures."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# ==== oaserver fixtures (owner: tests/oaserver) =========================================
# The OpenAlex-compatible server on 127.0.0.1 (tests/oaserver/README.md).
#   openalex_server  session-scoped, started once; `.url`, `.requests`, `.faults`,
#                    `.reset()`, `.configure(...)`.
#   oa               the same server, reset (log, faults, settings, spent credits) for
#                    the calling test.

_REPO = Path(__file__).resolve().parents[1]
if str(_REPO) not in sys.path:  # so that `tests.oaserver` imports under any import mode
    sys.path.insert(0, str(_REPO))

from tests.oaserver import OpenAlexServer  # noqa: E402


@pytest.fixture(scope="session")
def openalex_server() -> Iterator[OpenAlexServer]:
    """The test server, serving the recorded real OpenAlex records, for the session."""
    server = OpenAlexServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def oa(openalex_server: OpenAlexServer) -> Iterator[OpenAlexServer]:
    """The session's test server, reset before and after the test."""
    openalex_server.reset()
    yield openalex_server
    openalex_server.reset()


# ==== end oaserver fixtures =============================================================


# ---- lead's block: keep every test away from the user's real tracker home --------------
@pytest.fixture(autouse=True)
def _isolated_tracker_home(tmp_path_factory, monkeypatch):
    """Caches, the case-file database and resolved IDs go to a fresh folder per test."""
    monkeypatch.setenv("TRACKER_HOME", str(tmp_path_factory.mktemp("tracker_home")))
    monkeypatch.delenv("OPENALEX_API_KEY", raising=False)
    monkeypatch.delenv("TRACKER_OPENALEX_URL", raising=False)


# ---- the bundled registry and the demo's real works, loaded once ----------------------
@pytest.fixture(scope="session")
def reg():
    """The bundled registry (modules with their own ``reg`` fixture override this one)."""
    import tracker

    return tracker.load_registry()


@pytest.fixture(scope="session")
def works():
    """The demo's real OpenAlex works, parsed (overridden where a module needs others)."""
    import tracker

    return [w for w in tracker.read_works(tracker.demo_works_path())
            if isinstance(w, tracker.Work)]

