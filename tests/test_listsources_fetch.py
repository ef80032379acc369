"""The live update path against a local server (127.0.0.1) serving the recorded files of
``../shared/data/restricted/sources``, with faults injected: 500 then success, 429 with
``Retry-After``, a connection dropped mid-body, a body cut short of its
``Content-Length``, a file served cut (its own bytes end early), an HTML error page, a
timeout, a 404, another list's file.  Each either recovers or ends with one clear line, a
documented exit code, and the registry version in force unchanged."""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from typer.testing import CliRunner

from tests._paths import CSL_2022, DPL_2019, DPL_2022, FCC_0521, FCC_0820, SOURCES, UFLPA
from tracker.listsources import SourceFileError, TruncatedFileError, WrongListError
from tracker.listsources.bundled import BUNDLED_SOURCES
from tracker.registry_versions import VersionStore, update_registry
from tracker.sources import lists
from tracker.sources.lists import ListCache, ListFetchFailed, ListFetchRefused, fetch_sources
from tracker.sources.transport import FileSession
from tracker.watchlists import Registry, load_registry

FILES = {
    "/dpl.txt": DPL_2022,
    "/table.csv": FCC_0820,
    "/uflpa.html": UFLPA,
    "/consolidated.csv.gz": CSL_2022,
    # older editions: version 0 already holds the files above (shipped in the package)
    "/2019/dpl.txt": DPL_2019,
    "/2026-05/table.csv": FCC_0521,
}
pytestmark = pytest.mark.skipif(not SOURCES.exists(), reason="shared reference data not present")
NO_WAIT: dict[str, float] = {"backoff": 0.0}


class Handler(BaseHTTPRequestHandler):
    faults: ClassVar[dict[str, list[str]]] = {}  # path -> faults to serve first, in order
    hits: ClassVar[dict[str, int]] = {}
    conditional: ClassVar[list[str]] = []  # If-None-Match values received
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self.hits[self.path] = self.hits.get(self.path, 0) + 1
        queue = self.faults.get(self.path, [])
        fault = queue.pop(0) if queue else ""
        if fault == "500":
            return self._send(500, b"")
        if fault.startswith("429"):  # "429:<Retry-After>"
            return self._send(429, b"slow down", {"Retry-After": fault.split(":", 1)[1]})
        if fault == "404":
            return self._send(404, b"<html><body>Not Found</body></html>",
                              {"Content-Type": "text/html"})
        if fault == "html":
            return self._send(200, b"<!DOCTYPE html><html><body><h1>Access Denied</h1>"
                              b"</body></html>", {"Content-Type": "text/html"})
        if fault == "timeout":  # answer only after the client gave up
            threading.Event().wait(4.0)
            self.close_connection = True
            return None
        data = FILES[self.path].read_bytes()
        etag = f'"{len(data)}"'
        inm = self.headers.get("If-None-Match")
        if inm:
            self.conditional.append(inm)
            if inm == etag and not fault:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.end_headers()
                return None
        if fault == "cut":  # announces the whole file, sends half
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.close_connection = True
            return None
        if fault == "drop":  # chunked, connection closed before the last chunk
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            half = data[: len(data) // 2]
            self.wfile.write(f"{len(half):x}\r\n".encode() + half + b"\r\n")
            self.wfile.flush()
            self.close_connection = True
            return None
        if fault == "served-cut":  # the server's own copy ends early (Content-Length agrees)
            return self._send(200, data[: len(data) // 2])
        if fault == "gzip-transfer":  # Content-Length counts the compressed bytes
            return self._send(200, gzip.compress(data), {"Content-Encoding": "gzip"})
        if fault.startswith("other:"):  # another list's file at this URL
            return self._send(200, FILES[fault.split(":", 1)[1]].read_bytes())
        return self._send(200, data, {"ETag": etag})


@pytest.fixture()
def server() -> Iterator[str]:
    Handler.faults = {}
    Handler.hits = {}
    Handler.conditional = []
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}"
    finally:
        srv.shutdown()
        srv.server_close()


def _urls(base: str) -> dict[str, str]:
    return {"dpl": f"{base}/dpl.txt", "fcc": f"{base}/table.csv", "uflpa": f"{base}/uflpa.html",
            "csl": f"{base}/consolidated.csv.gz"}


def _fetch(server: str, names: list[str], tmp_path: Path, **kw: object):
    waits: list[float] = []
    kw.setdefault("backoff", 1.0)
    parsed = fetch_sources(names, urls=_urls(server), sleep=waits.append,
                           cache_dir=tmp_path / "cache", **kw)  # type: ignore[arg-type]
    return parsed, waits


def _without_shipped() -> Registry:
    v0 = load_registry()
    shipped = {c for bs in BUNDLED_SOURCES for c in bs.lists}
    return Registry([e for e in v0 if e.list not in shipped],
                    lists=[li for c, li in v0.lists.items() if c not in shipped],
                    editions=[ed for ed in v0.editions if ed.list not in shipped],
                    version=v0.version, built_from=v0.built_from)


def test_recovers_from_500s_a_cut_body_and_a_dropped_connection(server: str, tmp_path) -> None:
    Handler.faults = {"/dpl.txt": ["500", "cut"], "/table.csv": ["500", "drop"]}
    parsed, waits = _fetch(server, ["dpl", "fcc", "uflpa"], tmp_path)
    assert Handler.hits == {"/dpl.txt": 3, "/table.csv": 3, "/uflpa.html": 1}
    assert waits == [1.0, 2.0, 1.0, 2.0]  # exponential backoff per file
    assert [p.source for p in parsed] == ["bis_dpl", "fcc_covered", "dhs_uflpa"]
    assert parsed[0].origin == f"{server}/dpl.txt"
    assert parsed[0].sha256 == parse_local(DPL_2022).sha256  # the whole file, not half
    # version 0 already holds these files: the same lists again are no change
    assert not update_registry(VersionStore(tmp_path / "v0", bundled=load_registry()),
                               parsed).changed
    store = VersionStore(tmp_path / "v", bundled=_without_shipped())
    out = update_registry(store, parsed)
    assert out.version.number == 1
    assert out.version.sources[0]["origin"] == f"{server}/dpl.txt"
    assert out.version.sources[0]["sha256"] == parsed[0].sha256


def parse_local(path: Path):
    from tracker.listsources import read_source

    return read_source(path)


def test_429_waits_as_retry_after_says(server: str, tmp_path) -> None:
    Handler.faults = {"/dpl.txt": ["429:7", "429:3"]}
    parsed, waits = _fetch(server, ["dpl"], tmp_path)
    assert waits == [7.0, 3.0] and Handler.hits["/dpl.txt"] == 3
    assert parsed[0].counts()["BIS_DPL"] > 0


def test_429_asking_for_hours_stops_instead_of_sleeping(server: str, tmp_path) -> None:
    Handler.faults = {"/dpl.txt": ["429:7200"]}
    with pytest.raises(ListFetchFailed, match="asked to wait 7200 s"):
        _fetch(server, ["dpl"], tmp_path)
    assert Handler.hits["/dpl.txt"] == 1


def test_timeout_is_retried(server: str, tmp_path) -> None:
    Handler.faults = {"/table.csv": ["timeout"]}
    parsed, waits = _fetch(server, ["fcc"], tmp_path, timeout=1.5)
    assert Handler.hits["/table.csv"] == 2 and len(waits) == 1
    assert parsed[0].source == "fcc_covered"


def test_persistent_500_stops_with_nothing_fetched_kept(server: str, tmp_path) -> None:
    Handler.faults = {"/table.csv": ["500"] * 10}
    with pytest.raises(ListFetchFailed, match=r"HTTP 500\) after 2 retries"):
        _fetch(server, ["dpl", "fcc"], tmp_path, retries=2)
    assert Handler.hits["/table.csv"] == 3
    # the dpl fetched before the failure is not kept as a copy either: nothing half-done
    assert not (tmp_path / "cache" / "lists").exists()


@pytest.mark.parametrize("fault", ["cut", "drop"])
def test_always_cut_body_is_a_fetch_stop(server: str, tmp_path, fault: str) -> None:
    Handler.faults = {"/dpl.txt": [fault] * 10}
    with pytest.raises(ListFetchFailed, match="after 1 retries"):
        _fetch(server, ["dpl"], tmp_path, retries=1)


def test_a_file_served_cut_is_refused_by_its_parser(server: str, tmp_path) -> None:
    # Content-Length agrees with the bytes sent: only the gzip stream shows the cut
    Handler.faults = {"/consolidated.csv.gz": ["served-cut"]}
    with pytest.raises(TruncatedFileError, match="gzip stream is cut short"):
        _fetch(server, ["csl"], tmp_path)
    assert gzip.decompress(CSL_2022.read_bytes())  # the recorded file itself is whole


def test_a_gzip_transfer_is_not_mistaken_for_a_cut_body(server: str, tmp_path) -> None:
    # the old fetch compared Content-Length with the decoded body and retried it forever
    Handler.faults = {"/dpl.txt": ["gzip-transfer"]}
    parsed, waits = _fetch(server, ["dpl"], tmp_path)
    assert Handler.hits["/dpl.txt"] == 1 and waits == []
    assert parsed[0].sha256 == parse_local(DPL_2022).sha256


def test_html_error_page_instead_of_the_file_is_refused(server: str, tmp_path) -> None:
    Handler.faults = {"/dpl.txt": ["html"]}
    with pytest.raises(SourceFileError, match="error page"):
        _fetch(server, ["dpl"], tmp_path)


def test_another_lists_file_is_refused(server: str, tmp_path) -> None:
    Handler.faults = {"/table.csv": ["other:/dpl.txt"]}
    with pytest.raises(WrongListError, match="this is a dpl file, not fcc"):
        _fetch(server, ["fcc"], tmp_path)


def test_404_is_not_retried(server: str, tmp_path) -> None:
    Handler.faults = {"/dpl.txt": ["404"]}
    with pytest.raises(ListFetchRefused, match="HTTP 404"):
        _fetch(server, ["dpl"], tmp_path)
    assert Handler.hits["/dpl.txt"] == 1


def test_a_server_that_is_not_there(tmp_path) -> None:
    with pytest.raises(ListFetchFailed, match="ConnectionError"):
        fetch_sources(["dpl"], urls={"dpl": "http://127.0.0.1:9/dpl.txt"}, retries=1,
                      timeout=2, sleep=lambda s: None, cache_dir=tmp_path)


def test_an_unchanged_file_is_asked_conditionally_and_read_from_the_copy(
        server: str, tmp_path) -> None:
    first, _ = _fetch(server, ["dpl"], tmp_path)
    assert Handler.conditional == []
    again, _ = _fetch(server, ["dpl"], tmp_path)
    assert Handler.conditional == [f'"{DPL_2022.stat().st_size}"']  # answered 304
    assert again[0].sha256 == first[0].sha256 and again[0].counts() == first[0].counts()
    # a damaged copy is not used: the next fetch asks without validators
    cache = ListCache(tmp_path / "cache" / "lists")
    url = f"{server}/dpl.txt"
    body_file = next((tmp_path / "cache" / "lists").glob("*.body"))
    body_file.write_bytes(b"damaged")
    assert cache.body(url) is None and cache.validators(url) == ("", "")
    third, _ = _fetch(server, ["dpl"], tmp_path)
    assert len(Handler.conditional) == 1 and third[0].sha256 == first[0].sha256


def test_session_is_the_shared_transport(server: str) -> None:
    s = FileSession(max_retries=0, sleep=lambda _: None)
    got = s.fetch(f"{server}/table.csv")
    assert got.body == FCC_0820.read_bytes() and got.etag and s.stats.by_status == {200: 1}


# --------------------------------------------------------------------------- the CLI

runner = CliRunner()


def _cli(tmp_path: Path, *args: str):
    from tracker.cli import app

    return runner.invoke(app, ["lists", "update", *args],
                         env={"TRACKER_HOME": str(tmp_path / "home")})


def _current(tmp_path: Path) -> str:
    return VersionStore(tmp_path / "home" / "registry").current().version_id \
        if (tmp_path / "home" / "registry").exists() else ""


def _one_line(result, code: int) -> str:
    assert result.exit_code == code, result.output
    err = result.stderr.strip()
    assert err.startswith("tracker: error: ") and len(err.splitlines()) == 1, err
    assert "Traceback" not in result.output
    assert "unchanged" in err
    return err


@pytest.fixture()
def no_sleep(monkeypatch) -> list[float]:
    """The retry waits of the update, which runs in this thread; a background thread left
    by an earlier test (a stopped Spark session's gateway, say) still sleeps for real."""
    waits: list[float] = []
    real = time.sleep

    def sleep(seconds: float) -> None:
        if threading.current_thread() is threading.main_thread():
            waits.append(seconds)
        else:
            real(seconds)

    monkeypatch.setattr(time, "sleep", sleep)
    return waits


@pytest.mark.parametrize(("faults", "code", "says"), [
    (["500"] * 10, 3, "HTTP 500"),
    (["cut"] * 10, 3, "after 1 retries"),
    (["drop"] * 10, 3, "ChunkedEncodingError"),
    (["429:7200"], 3, "asked to wait 7200 s"),
    (["timeout", "timeout"], 3, "ReadTimeout"),
    (["html"], 2, "error page"),
    (["404"], 2, "HTTP 404"),
    (["other:/table.csv"], 2, "this is a fcc file, not dpl"),
])
def test_cli_fault_ends_with_one_line_and_the_version_unchanged(
        server: str, tmp_path, no_sleep, monkeypatch, faults: list[str], code: int,
        says: str) -> None:
    # a first update makes version 1 (older DPL), so "unchanged" is checked on a real version
    r = _cli(tmp_path, "--only", "dpl", "--url", f"dpl={server}/2019/dpl.txt", "--allow-older")
    assert r.exit_code == 0 and "registry version 1" in r.output, r.output
    before = _current(tmp_path)
    Handler.faults = {"/dpl.txt": list(faults)}
    monkeypatch.setattr(lists, "DEFAULT_TIMEOUT", 0.5)
    r = _cli(tmp_path, "--only", "dpl", "--url", f"dpl={server}/dpl.txt", "--retries", "1")
    line = _one_line(r, code)
    assert says in line and "version in force is unchanged" in line
    if code == 3:  # what to do, said once
        assert line.count("again later") == 1, line
    assert _current(tmp_path) == before


def test_cli_recovers_and_applies(server: str, tmp_path, no_sleep) -> None:
    Handler.faults = {"/2019/dpl.txt": ["500", "429:5", "cut"]}
    r = _cli(tmp_path, "--only", "dpl", "--only", "fcc", "--url", f"dpl={server}/2019/dpl.txt",
             "--url", f"fcc={server}/2026-05/table.csv", "--allow-older")
    assert r.exit_code == 0, r.output
    assert no_sleep == [1.0, 5.0, 4.0]
    assert "BIS_DPL: +" in r.output and "FCC_COVERED: +" in r.output
    assert "registry version 1" in r.output
    r = _cli(tmp_path, "--only", "dpl", "--url", f"dpl={server}/2019/dpl.txt",
             "--allow-older", "--signal-changes")
    assert r.exit_code == 0 and "no change" in r.output, r.output  # 304: the copy, no change
    assert Handler.conditional


def test_cli_same_files_as_shipped_is_no_change(server: str, tmp_path, no_sleep) -> None:
    r = _cli(tmp_path, "--only", "dpl", "--only", "fcc", "--url", f"dpl={server}/dpl.txt",
             "--url", f"fcc={server}/table.csv")
    assert r.exit_code == 0, r.output
    assert "registry version 0" in r.output and "no change" in r.output
    assert not (tmp_path / "home" / "registry" / "CURRENT").exists()
