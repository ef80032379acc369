"""The live update path against a local server (127.0.0.1) serving the recorded files,
with faults injected: 500s, a cut body, an HTML error page."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from tests._paths import RESTRICTED
from tracker.listsources import SourceFileError, TruncatedFileError
from tracker.listsources.bundled import BUNDLED_SOURCES
from tracker.listsources.fetch import ListFetchFailed, fetch_sources
from tracker.registry_versions import VersionStore, update_registry
from tracker.watchlists import Registry, load_registry

SRC = RESTRICTED / "sources"
FILES = {
    "/dpl.txt": SRC / "bis_dpl" / "2022-09-07" / "dpl.txt",
    "/table.csv": SRC / "fcc_covered_list" / "2026-08-20" / "table.csv",
    "/uflpa.html": SRC / "dhs_uflpa" / "2026-07-09" / "source-uflpa-2026-07-09.html",
    # older editions: version 0 already holds the files above (shipped in the package)
    "/2019/dpl.txt": SRC / "bis_dpl" / "2019-06-29" / "dpl.txt",
    "/2026-05/table.csv": SRC / "fcc_covered_list" / "2026-05-21" / "table.csv",
}
pytestmark = pytest.mark.skipif(not SRC.exists(), reason="shared reference data not present")


class Handler(BaseHTTPRequestHandler):
    faults: ClassVar[dict[str, list[str]]] = {}  # path -> faults to serve first, in order
    hits: ClassVar[dict[str, int]] = {}

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.hits[self.path] = self.hits.get(self.path, 0) + 1
        queue = self.faults.get(self.path, [])
        fault = queue.pop(0) if queue else ""
        if fault == "500":
            self.send_response(500)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if fault == "html":
            body = b"<!DOCTYPE html><html><body><h1>Access Denied</h1></body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        data = FILES[self.path].read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[: len(data) // 2] if fault == "cut" else data)


@pytest.fixture()
def server() -> Iterator[str]:
    Handler.faults = {}
    Handler.hits = {}
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}"
    finally:
        srv.shutdown()
        srv.server_close()


def _urls(base: str) -> dict[str, str]:
    return {"dpl": f"{base}/dpl.txt", "fcc": f"{base}/table.csv", "uflpa": f"{base}/uflpa.html"}


def test_live_update_retries_500s_and_a_cut_body(server: str, tmp_path) -> None:
    Handler.faults = {"/dpl.txt": ["500", "cut"], "/table.csv": ["500"]}
    parsed = fetch_sources(["dpl", "fcc", "uflpa"], urls=_urls(server), sleep=lambda s: None)
    assert Handler.hits == {"/dpl.txt": 3, "/table.csv": 2, "/uflpa.html": 1}
    assert [p.source for p in parsed] == ["bis_dpl", "fcc_covered", "dhs_uflpa"]
    assert parsed[0].origin == f"{server}/dpl.txt"
    v0 = load_registry()
    shipped = {c for bs in BUNDLED_SOURCES for c in bs.lists}
    before = Registry([e for e in v0 if e.list not in shipped],
                      lists=[li for c, li in v0.lists.items() if c not in shipped],
                      editions=[ed for ed in v0.editions if ed.list not in shipped],
                      version=v0.version, built_from=v0.built_from)
    # version 0 already holds these files: the same lists again are no change
    assert not update_registry(VersionStore(tmp_path / "v0", bundled=v0), parsed).changed
    store = VersionStore(tmp_path, bundled=before)
    out = update_registry(store, parsed)
    assert out.version.number == 1
    assert out.version.sources[0]["origin"] == f"{server}/dpl.txt"
    assert out.version.sources[0]["sha256"]


def test_persistent_500_stops_with_nothing_applied(server: str, tmp_path) -> None:
    Handler.faults = {"/table.csv": ["500"] * 10}
    with pytest.raises(ListFetchFailed, match="HTTP 500"):
        fetch_sources(["dpl", "fcc"], urls=_urls(server), retries=2, sleep=lambda s: None)
    assert Handler.hits["/table.csv"] == 3


def test_always_cut_body_is_refused(server: str) -> None:
    Handler.faults = {"/dpl.txt": ["cut"] * 10}
    with pytest.raises((TruncatedFileError, ListFetchFailed)):
        fetch_sources(["dpl"], urls=_urls(server), retries=1, sleep=lambda s: None)


def test_html_error_page_instead_of_the_file_is_refused(server: str) -> None:
    Handler.faults = {"/dpl.txt": ["html"]}
    with pytest.raises(SourceFileError, match="error page"):
        fetch_sources(["dpl"], urls=_urls(server), sleep=lambda s: None)


def test_a_server_that_is_not_there(tmp_path) -> None:
    with pytest.raises(ListFetchFailed):
        fetch_sources(["dpl"], urls={"dpl": "http://127.0.0.1:9/dpl.txt"}, retries=1,
                      timeout=2, sleep=lambda s: None)


def test_cli_live_update_exit_codes(server: str, tmp_path) -> None:
    from typer.testing import CliRunner

    from tracker.cli import app

    runner = CliRunner()
    env = {"TRACKER_HOME": str(tmp_path)}
    r = runner.invoke(app, ["lists", "update", "--only", "dpl", "--url",
                            "dpl=http://127.0.0.1:9/dpl.txt", "--retries", "0"], env=env)
    assert r.exit_code == 3, r.output
    assert "unchanged" in r.output and "Traceback" not in r.output
    Handler.faults = {"/dpl.txt": ["html"]}
    r = runner.invoke(app, ["lists", "update", "--only", "dpl", "--url",
                            f"dpl={server}/dpl.txt"], env=env)
    assert r.exit_code == 2, r.output
    assert not (tmp_path / "registry" / "CURRENT").exists()
    r = runner.invoke(app, ["lists", "update", "--only", "dpl", "--only", "fcc", "--url",
                            f"dpl={server}/dpl.txt", "--url", f"fcc={server}/table.csv"],
                      env=env)
    assert r.exit_code == 0, r.output
    assert "registry version 0" in r.output and "no change" in r.output  # shipped already
    r = runner.invoke(app, ["lists", "update", "--only", "dpl", "--only", "fcc", "--url",
                            f"dpl={server}/2019/dpl.txt", "--url",
                            f"fcc={server}/2026-05/table.csv", "--allow-older"], env=env)
    assert r.exit_code == 0, r.output
    assert "BIS_DPL: +" in r.output and "FCC_COVERED: +" in r.output
    assert "registry version 1" in r.output
