"""Headless Chromium for tests, driven over the DevTools protocol (CDP).

- :func:`find_chromium` finds the Debian ``chromium`` binary (``TRACKER_CHROMIUM`` overrides);
  :func:`ensure_chromium` installs it with apt when that is allowed (root, and ``CI=true`` or
  ``TRACKER_INSTALL_BROWSER=1``).
- :class:`Chromium` starts it headless with a throw-away profile, no background networking,
  and a DevTools port; :class:`Page` loads a URL and collects console errors, exceptions and
  every network request, and evaluates JavaScript and takes screenshots.

Run ``python -m tests.browser.chromium --install`` (from the repo root) to install it ahead.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")

FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions", "--disable-dev-shm-usage",
    "--no-default-browser-check", "--mute-audio", "--hide-scrollbars",
    "--window-size=1366,900",
)


class BrowserError(RuntimeError):
    """Chromium could not be found, started or driven: the browser test cannot run."""


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def find_chromium() -> str | None:
    """Path of a Chromium binary, or None."""
    env = os.environ.get("TRACKER_CHROMIUM")
    if env:
        return env if Path(env).exists() else None
    for c in CANDIDATES:
        if Path(c).exists():
            return c
    return shutil.which("chromium")


def install_allowed() -> bool:
    root = hasattr(os, "geteuid") and os.geteuid() == 0
    return root and (in_ci() or os.environ.get("TRACKER_INSTALL_BROWSER") == "1")


def ensure_chromium() -> str | None:
    """Find Chromium, installing the Debian package first when allowed."""
    found = find_chromium()
    pinned = bool(os.environ.get("TRACKER_CHROMIUM"))  # installing would not change it
    if found or pinned or not install_allowed() or shutil.which("apt-get") is None:
        return found
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update"], check=True, env=env, capture_output=True,
                   timeout=600)
    subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", "chromium"],
                   check=True, env=env, capture_output=True, timeout=900)
    return find_chromium()


@dataclass
class Page:
    """One page target over a CDP websocket."""

    ws: Any
    events: list[dict[str, Any]] = field(default_factory=list)
    _next: int = 0

    def send(self, method: str, params: dict[str, Any] | None = None,
             timeout: float = 30.0) -> dict[str, Any]:
        self._next += 1
        mid = self._next
        self.ws.send(json.dumps({"id": mid, "method": method, "params": params or {}}))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.ws.settimeout(max(0.05, deadline - time.monotonic()))
            msg = json.loads(self.ws.recv())
            if msg.get("id") == mid:
                if "error" in msg:
                    raise BrowserError(f"{method}: {msg['error']}")
                result: dict[str, Any] = msg.get("result", {})
                return result
            if "method" in msg:
                self.events.append(msg)
        raise BrowserError(f"{method}: no answer in {timeout} s")

    def pump(self, seconds: float) -> None:
        """Collect events for a while."""
        import websocket  # websocket-client

        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.ws.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                msg = json.loads(self.ws.recv())
            except websocket.WebSocketTimeoutException:
                return
            if "method" in msg:
                self.events.append(msg)

    def evaluate(self, expression: str) -> Any:
        res = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                             "awaitPromise": True})
        if "exceptionDetails" in res:
            raise BrowserError(f"evaluate failed: {res['exceptionDetails']}")
        return res.get("result", {}).get("value")

    def navigate(self, url: str, timeout: float = 30.0) -> None:
        self.send("Page.navigate", {"url": url})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(e["method"] == "Page.loadEventFired" for e in self.events):
                return
            self.pump(0.2)
        raise BrowserError(f"{url} did not finish loading in {timeout} s")

    def wait_for(self, expression: str, timeout: float = 30.0) -> Any:
        """Poll a JavaScript expression until it is truthy; return its last value."""
        deadline = time.monotonic() + timeout
        value = None
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            self.pump(0.2)
        return value

    def screenshot(self, path: Path, *, selector: str | None = None,
                   max_height: int = 16000) -> Path:
        """PNG of the whole page, or of the viewport scrolled to an element's top."""
        if selector is not None:
            self.evaluate("document.querySelector(" + json.dumps(selector)
                          + ").scrollIntoView({block: 'start'})")
            self.pump(0.3)
            shot = self.send("Page.captureScreenshot", {"format": "png"}, timeout=60)
        else:
            metrics = self.send("Page.getLayoutMetrics")
            size = metrics.get("cssContentSize") or metrics["contentSize"]
            clip = {"x": 0, "y": 0, "width": size["width"],
                    "height": min(size["height"], max_height), "scale": 1}
            shot = self.send("Page.captureScreenshot", {
                "format": "png", "clip": clip, "captureBeyondViewport": True}, timeout=60)
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

    # what the page did -------------------------------------------------------------------

    def requests(self) -> list[str]:
        return [e["params"]["request"]["url"] for e in self.events
                if e["method"] == "Network.requestWillBeSent"]

    def errors(self) -> list[str]:
        out = []
        for e in self.events:
            p = e.get("params", {})
            if e["method"] == "Runtime.exceptionThrown":
                d = p.get("exceptionDetails", {})
                desc = d.get("exception", {}).get("description", "")
                out.append(f"exception: {d.get('text')} {desc}")
            elif e["method"] == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append("console: " + " ".join(str(a.get("value", a.get("description", "")))
                                                   for a in p.get("args", [])))
            elif e["method"] == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                out.append(f"log: {p['entry'].get('text')} {p['entry'].get('url', '')}")
        return out


class Chromium:
    """A headless Chromium process with a DevTools port and a throw-away profile.

    Use as a context manager; :meth:`page` gives the first page target, with the Page,
    Runtime, Log and Network domains enabled.
    """

    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.proc: subprocess.Popen[bytes] | None = None
        self.profile = tempfile.mkdtemp(prefix="tracker-chromium-")
        self.port = 0
        self._ws: Any = None

    def __enter__(self) -> Chromium:
        cmd = [self.binary, *FLAGS, f"--user-data-dir={self.profile}",
               "--remote-debugging-port=0", "--remote-allow-origins=*", "about:blank"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        port_file = Path(self.profile) / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if port_file.exists() and port_file.read_text().strip():
                self.port = int(port_file.read_text().splitlines()[0])
                break
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                raise BrowserError(f"chromium exited at start: {err[-2000:]}")
            time.sleep(0.1)
        else:
            self.close()
            raise BrowserError("chromium did not open its DevTools port in 30 s")
        return self

    def page(self) -> Page:
        import websocket  # websocket-client

        url = f"http://127.0.0.1:{self.port}/json/list"
        deadline = time.monotonic() + 15
        targets: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            with urllib.request.urlopen(url, timeout=5) as resp:  # local DevTools endpoint
                targets = [t for t in json.loads(resp.read()) if t.get("type") == "page"]
            if targets:
                break
            time.sleep(0.1)
        if not targets:
            raise BrowserError("chromium shows no page target")
        self._ws = websocket.create_connection(targets[0]["webSocketDebuggerUrl"], timeout=30,
                                               suppress_origin=True)
        page = Page(self._ws)
        for domain in ("Page", "Runtime", "Log", "Network"):
            page.send(f"{domain}.enable")
        return page

    def close(self) -> None:
        if self._ws is not None:
            with contextlib.suppress(Exception):
                self._ws.close()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.proc is not None and self.proc.stderr is not None:
            self.proc.stderr.close()
        shutil.rmtree(self.profile, ignore_errors=True)

    def __exit__(self, *exc: object) -> None:
        self.close()


if __name__ == "__main__":
    import sys

    if "--install" in sys.argv and not find_chromium():
        os.environ.setdefault("TRACKER_INSTALL_BROWSER", "1")
    print(ensure_chromium() or "chromium not found (and not installed)")
