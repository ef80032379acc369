"""The report in a real browser (headless Chromium over the DevTools protocol).

Done when (issue 8): the report opens offline from file:// with no request to anything but
itself and no console error; both plotly figures render; the findings table has one row per
finding and sorts and filters; hovering a tie shows its evidence; and hostile text renders as
text (``window.__pwned`` stays undefined).  A full-page screenshot is saved in the test's
tmp dir (TRACKER_SCREENSHOT_DIR, if set, gets a copy).

Chromium is Debian's ``chromium`` package.  Missing Chromium skips these tests on a developer
machine; under CI (``CI=true``) it fails them.  ``tests/browser/chromium.py`` installs it when
running as root with CI or TRACKER_INSTALL_BROWSER=1.
"""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from pathlib import Path

import pytest

from tests.browser.chromium import BrowserError, Chromium, Page, ensure_chromium, in_ci
from tests.browser.demo import HOSTILE_TEXT, HOSTILE_TITLE, demo_result, hostile_result
from tracker.report import write_report

pytestmark = pytest.mark.browser

RENDERED = ("Array.from(document.querySelectorAll('.chart')).every(function (d) {"
            " return d.classList.contains('js-plotly-plot')"
            " && d.querySelector('svg.main-svg .scatterlayer .trace') !== null; })")


@pytest.fixture(scope="module")
def browser():
    try:
        binary = ensure_chromium()
    except Exception as exc:  # apt failed
        if in_ci():
            pytest.fail(f"CI=true and chromium could not be installed: {exc}")
        pytest.skip(f"chromium is not installed and could not be installed: {exc}")
    if binary is None:
        if in_ci():
            pytest.fail("CI=true but chromium is missing: the browser tests must run in CI "
                        "(apt-get install -y chromium)")
        pytest.skip("chromium is not installed (apt-get install -y chromium, or run as root "
                    "with TRACKER_INSTALL_BROWSER=1)")
    with Chromium(binary) as c:
        yield c


@pytest.fixture(scope="module")
def page(browser) -> Page:
    return browser.page()


def _open(page: Page, path: Path) -> Page:
    page.events.clear()
    page.navigate(path.resolve().as_uri())
    assert page.wait_for(RENDERED, timeout=60), "the plotly figures did not render"
    page.pump(0.5)  # late console messages and requests
    return page


def _keep(png: Path) -> None:
    keep = os.environ.get("TRACKER_SCREENSHOT_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(png, Path(keep) / png.name)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    r = demo_result()
    return r, write_report(r, tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    r = hostile_result()
    return r, write_report(r, tmp_path_factory.mktemp("hostile"))


def test_demo_report_renders_offline_without_errors(page, demo, tmp_path):
    result, path = demo
    _open(page, path)
    foreign = [u for u in page.requests() if not u.startswith("file://")]
    assert foreign == []
    assert page.requests() == [path.resolve().as_uri()]  # itself, nothing else
    assert page.errors() == []
    plots = page.evaluate("document.querySelectorAll('.js-plotly-plot').length")
    assert plots == 2
    points = page.evaluate("document.querySelectorAll('.js-plotly-plot .scatterlayer "
                           ".point').length")
    assert points > len(result.works)
    rows = page.evaluate("document.querySelectorAll('#findings-table tbody tr').length")
    assert rows == len(result.findings)
    assert page.evaluate("document.getElementById('rows-shown').textContent") == str(rows)
    png = page.screenshot(tmp_path / "report.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 50_000
    _keep(png)


def test_table_filters_and_sorts(page, demo):
    result, path = demo
    _open(page, path)
    counts = Counter(f.list for f in result.findings)
    for lst, n in counts.items():
        shown = page.evaluate(
            "(function(){var s=document.querySelector('[data-filter=list]');"
            f"s.value={json.dumps(lst)};s.dispatchEvent(new Event('change'));"
            "return [document.querySelectorAll('#findings-table tbody tr:not([hidden])').length,"
            " document.getElementById('rows-shown').textContent];})()")
        assert shown == [n, str(n)]
    page.evaluate("(function(){var s=document.querySelector('[data-filter=list]');"
                  "s.value='';s.dispatchEvent(new Event('change'));})()")
    context = sum(1 for f in result.findings if not f.is_designation)
    got = page.evaluate(
        "(function(){var s=document.querySelector('[data-filter=kind]');s.value='context';"
        "s.dispatchEvent(new Event('change'));var n=document.querySelectorAll("
        "'#findings-table tbody tr:not([hidden])').length;s.value='';"
        "s.dispatchEvent(new Event('change'));return n;})()")
    assert got == context
    dates = page.evaluate(
        "(function(){var th=Array.from(document.querySelectorAll('#findings-table th'))"
        ".find(function(t){return t.textContent.trim()==='Published';});"
        "th.querySelector('button').click();"
        "return [th.getAttribute('aria-sort'), Array.from(document.querySelectorAll("
        "'#findings-table tbody tr')).map(function(r){return r.cells[1].getAttribute("
        "'data-sort');})];})()")
    assert dates[0] == "ascending"
    assert dates[1] == sorted(dates[1])
    assert page.errors() == []


def test_hovering_a_tie_shows_its_evidence(page, demo):
    result, path = demo
    _open(page, path)
    text = page.evaluate(
        "(function(){var gd=document.getElementById('fig-network');"
        "var i=gd.data.findIndex(function(t){return t.name==='tie evidence (hover)';});"
        "Plotly.Fx.hover(gd,[{curveNumber:i,pointNumber:0}]);"
        "var h=gd.querySelector('.hoverlayer');return h?h.textContent:'';})()")
    assert "listed on" in text and "listed at publication" in text
    assert "raw affiliation" in text
    assert any(f.work_id in text and f.list in text for f in result.findings)


def test_hostile_text_renders_as_text_and_never_runs(page, hostile, tmp_path):
    result, path = hostile
    assert any(f.title == HOSTILE_TITLE and f.author_name == HOSTILE_TEXT
               for f in result.findings)
    _open(page, path)
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.evaluate("document.querySelectorAll('img').length") == 0
    assert page.evaluate("document.scripts.length") == 2 + len(
        page.evaluate("Array.from(document.querySelectorAll('script[type=\"application/json\"]'"
                      ")).map(function(s){return s.id;})"))
    cells = page.evaluate(
        "Array.from(document.querySelectorAll('#findings-table tbody td')).map("
        "function(td){return td.textContent;}).join('\\n')")
    assert HOSTILE_TITLE in cells
    assert HOSTILE_TEXT in cells
    assert f"{HOSTILE_TEXT} (" not in page.evaluate("document.title")
    # in the chart the work's hover label shows the title as text too
    hover = page.evaluate(
        "(function(){var gd=document.getElementById('fig-network');"
        "for (var c=0;c<gd.data.length;c++){var t=gd.data[c].hovertext||[];"
        "for (var p=0;p<t.length;p++){if(String(t[p]).indexOf('__pwned=1')>=0){"
        "Plotly.Fx.hover(gd,[{curveNumber:c,pointNumber:p}]);"
        "return gd.querySelector('.hoverlayer').textContent;}}}return '';})()")
    assert HOSTILE_TITLE in hover
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert [u for u in page.requests() if not u.startswith("file://")] == []
    assert page.errors() == []
    _keep(page.screenshot(tmp_path / "hostile.png"))


def test_the_report_fits_a_1280_pixel_window(page, tmp_path):
    """The page never scrolls sideways at 1280 px: the list editions' sources and
    provenance (long unbroken URLs and commit paths) wrap in their cells; the findings
    table scrolls inside its own frame."""
    from tracker.screening import screen
    from tracker.watchlists import load_registry

    result = demo_result()
    result.run["registry"] = screen((), registry=load_registry()).run["registry"]
    assert any(len(str(ed.get("provenance") or "")) > 100
               for ed in result.run["registry"]["editions"])
    path = write_report(result, tmp_path)
    page.send("Emulation.setDeviceMetricsOverride",
              {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False})
    try:
        _open(page, path)
        assert page.evaluate("document.querySelectorAll('table.editions tbody tr').length") > 1
        assert page.evaluate("window.innerWidth") == 1280
        assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    finally:
        page.send("Emulation.clearDeviceMetricsOverride")


def test_browser_errors_are_reported(page, tmp_path):
    """The harness itself can fail: a page with an error and a foreign request is caught."""
    bad = tmp_path / "bad.html"
    bad.write_text("<!DOCTYPE html><script>console.error('boom');"
                   "fetch('http://127.0.0.1:9/x').catch(function(){});</script>")
    page.events.clear()
    page.navigate(bad.as_uri())
    page.pump(1.0)
    assert any("boom" in e for e in page.errors())
    assert "http://127.0.0.1:9/x" in page.requests()
    with pytest.raises(BrowserError):
        page.evaluate("throw new Error('x')")
