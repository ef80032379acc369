"""Shared pytest fixtures, and skipping what needs the shared reference data when absent."""

from __future__ import annotations

import re
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

from tests._paths import MISSING_SHARED_REASON, shared_data_present  # noqa: E402
from tests.oaserver import OpenAlexServer  # noqa: E402

# ==== the shared reference data (../shared beside the repository) ======================
# Test modules that read it (through tests._paths, tests.browser.demo, the test server or
# tests.matching_eval) are reported as skipped, with the reason, when it is absent, instead
# of failing at collection; so are tests using the test server's fixtures.

_READS_SHARED = re.compile(
    r"tests\._paths|tests\.browser\.demo|tests\.oaserver|tests\.matching_eval|\bSHARED\b"
    r"|def test_\w*\([^)]*\b(oa|openalex_server)\b")
_SERVER_FIXTURES = {"oa", "openalex_server"}


class _SkippedForMissingData(pytest.Module):
    """A test module that needs the shared data, collected as one skip with the reason."""

    def collect(self):  # type: ignore[override]
        pytest.skip(MISSING_SHARED_REASON)


#: Packages under tests/ whose modules read the data (their doctests included).
_DATA_PACKAGES = {"oaserver", "matching_eval", "browser"}


def _needs_missing_data(path: Path) -> bool:
    if path.suffix != ".py" or not path.is_relative_to(_REPO / "tests"):
        return False
    if shared_data_present():
        return False
    parts = path.relative_to(_REPO / "tests").parts
    if len(parts) > 1:
        return parts[0] in _DATA_PACKAGES
    return bool(_READS_SHARED.search(path.read_text(encoding="utf-8")))


def pytest_pycollect_makemodule(module_path: Path, parent: pytest.Collector):
    if _needs_missing_data(module_path):
        return _SkippedForMissingData.from_parent(parent, path=module_path)
    return None


@pytest.hookimpl(wrapper=True)
def pytest_collect_file(file_path: Path, parent: pytest.Collector):
    """Without the data, such a module is not imported for its doctests either: it is
    reported once, as skipped with the reason."""
    collectors = yield
    if not collectors or not _needs_missing_data(file_path):
        return collectors
    return [c for c in collectors if isinstance(c, _SkippedForMissingData)] or [
        _SkippedForMissingData.from_parent(parent, path=file_path)]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if shared_data_present():
        return
    skip = pytest.mark.skip(reason=MISSING_SHARED_REASON)
    for item in items:
        if _SERVER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(skip)



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


# ---- keep every test away from the user's real tracker home -----------------------------
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

