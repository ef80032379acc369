"""tracker.report: the self-contained HTML report, on real recorded works.

Static checks (no browser); tests/test_report_browser.py opens the same reports in Chromium.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections import Counter
from datetime import UTC, datetime
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path

import pytest

from tests.browser.demo import (
    HOSTILE_TEXT,
    HOSTILE_TITLE,
    DemoResult,
    demo_registry,
    demo_result,
    hostile_result,
    load_works,
    screen,
    tampered_result,
)
from tracker.report import (
    PLOTLY_BUNDLE,
    network_figure,
    render_report,
    safe_json,
    timeline_figure,
    write_report,
)

MAX_BYTES = 3 * 1024 * 1024
FIXED = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)


class _Page(HTMLParser):
    """Collects what the checks need: tags, attributes, script blocks, table rows."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: Counter[str] = Counter()
        self.attrs: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self._script: dict[str, str | None] | None = None
        self._buf: list[str] = []
        self.rows: list[dict[str, str | None]] = []
        self._in_findings = False
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags[tag] += 1
        self.attrs.append((tag, a))
        if tag == "script":
            self._script, self._buf = a, []
        if tag == "table" and a.get("id") == "findings-table":
            self._in_findings = True
        if tag == "tr" and self._in_findings and "data-list" in a:
            self.rows.append(a)

    def handle_endtag(self, tag):
        if tag == "script" and self._script is not None:
            self.scripts.append((self._script, "".join(self._buf)))
            self._script = None
        if tag == "table":
            self._in_findings = False

    def handle_data(self, data):
        if self._script is not None:
            self._buf.append(data)
        else:
            self.text.append(data)


def _parse(text: str) -> _Page:
    p = _Page()
    p.feed(text)
    return p


@pytest.fixture(scope="module")
def demo() -> DemoResult:
    return demo_result()


@pytest.fixture(scope="module")
def demo_html(demo) -> str:
    return render_report(demo, generated_at=FIXED)


@pytest.fixture(scope="module")
def hostile() -> DemoResult:
    return hostile_result()


@pytest.fixture(scope="module")
def hostile_html(hostile) -> str:
    return render_report(hostile, generated_at=FIXED)


def test_safe_json_cannot_break_out_of_a_script_block():
    text = safe_json({"a": "</script><script>alert(1)</script>", "b": "<!-- & \u2028\u2029"})
    assert "<" not in text and ">" not in text and "&" not in text
    assert "\u2028" not in text and "\u2029" not in text
    assert json.loads(text) == {"a": "</script><script>alert(1)</script>",
                                "b": "<!-- & \u2028\u2029"}


def test_report_is_one_file_under_3_mb(demo, tmp_path):
    path = write_report(demo, tmp_path)
    assert path == tmp_path / "report.html"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]
    assert path.stat().st_size <= MAX_BYTES


def test_report_loads_nothing_from_outside(demo_html):
    page = _parse(demo_html)
    assert all("src" not in a for tag, a in page.attrs if tag in ("script", "img", "iframe"))
    assert page.tags["link"] == 0 and page.tags["img"] == 0 and page.tags["iframe"] == 0
    assert "@import" not in demo_html and "url(" not in demo_html.split("<script>")[0]
    own = demo_html.replace(
        resources.files("tracker").joinpath(PLOTLY_BUNDLE["file"]).read_text("utf-8"), "")
    assert "mathjax" not in own.lower().replace('"typesetmath":false', "")
    assert '"typesetMath":false' in own
    # every link is an ordinary https link a reader may click, never fetched by the page
    for tag, a in page.attrs:
        if tag == "a":
            assert (a.get("href") or "").startswith("https://")
            assert a.get("rel") == "noopener noreferrer"


def test_csp_allows_only_the_reports_own_scripts(demo_html):
    page = _parse(demo_html)
    csp = next(a["content"] for t, a in page.attrs
               if t == "meta" and a.get("http-equiv") == "Content-Security-Policy")
    assert csp is not None
    assert "default-src 'none'" in csp and "connect-src 'none'" in csp
    assert "'unsafe-inline'" not in csp.split("script-src", 1)[1].split(";", 1)[0]
    run = [body for a, body in page.scripts if a.get("type") != "application/json"]
    assert len(run) == 2  # plotly.js and the report's own script
    for body in run:
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp


def test_plotly_is_the_vendored_basic_bundle_embedded_once(demo_html):
    vendored = resources.files("tracker").joinpath(PLOTLY_BUNDLE["file"]).read_bytes()
    readme = resources.files("tracker").joinpath("data/vendor/README.md").read_text()
    assert hashlib.sha256(vendored).hexdigest() in readme
    assert resources.files("tracker").joinpath("data/vendor/plotly-basic.LICENSE").read_text(
    ).startswith("MIT License")
    assert demo_html.count("plotly.js (basic - minified) v" + PLOTLY_BUNDLE["version"]) == 1
    assert vendored.decode("utf-8") in demo_html


def test_findings_table_has_one_row_per_finding_with_its_kind(demo, demo_html):
    page = _parse(demo_html)
    assert len(page.rows) == len(demo.findings)
    assert Counter(r["data-list"] for r in page.rows) == Counter(f.list for f in demo.findings)
    kinds = Counter((r["data-list"], r["data-kind"]) for r in page.rows)
    assert kinds[("ASPI_UNITRACKER", "context")] == sum(
        1 for f in demo.findings if f.list == "ASPI_UNITRACKER")
    assert not any(k == "context" for (lst, k) in kinds if lst != "ASPI_UNITRACKER")


def test_summary_states_what_a_flag_is_and_is_not(demo, demo_html):
    text = " ".join(" ".join(_parse(demo_html).text).split())
    assert "a flag is evidence for human review, not a determination" in text
    assert '"No findings" is not clearance.' in text
    assert "assessments, shown as context" in text
    assert "Nothing here ranks people." in text
    assert f"{len(demo.findings)} findings (ties to review)" in text
    assert "71 works read" in text
    assert "Microsoft Research Asia (China) I4210113369" in text
    ties: dict[tuple[str, str, str], bool] = {}
    for f in demo.findings:
        k = (f.work_id, f.author_id, f.institution_id)
        ties[k] = ties.get(k, False) or f.is_designation
    context_only = sum(1 for v in ties.values() if not v)
    assert 0 < context_only < len(ties)
    assert f"{context_only} ties flagged by context lists only" in text
    gaps = demo.run["data_gaps"]
    assert (f"{gaps['authorships_without_institution']} authorships with no institution "
            "attached by OpenAlex") in text
    assert f"{gaps['works_authors_truncated']} works whose author list OpenAlex truncated" in text


def test_summary_names_no_person(demo, demo_html):
    """No ranking of people: the summary counts lists, statuses and gaps, never persons."""
    summary = demo_html[demo_html.index('<section id="summary">'):
                        demo_html.index('<section id="network">')]
    names = {f.author_name for f in demo.findings if f.author_name}
    assert names
    assert not [n for n in names if n in summary]
    assert not [f.author_id for f in demo.findings if f.author_id in summary]


def test_method_and_provenance_name_every_edition(demo, demo_html):
    method = demo_html[demo_html.index('<section id="method">'):]
    for ed in demo.run["registry"]["editions"]:
        assert ed["list"] in method and ed["edition"] in method
    assert "tracker 0.1.0" in method
    assert "2026-03-30" in method  # BIS data date of the test registry
    assert "identifiers (OpenAlex ID, ROR, lineage)" in method


def _figures(html_text: str) -> dict[str, dict]:
    page = _parse(html_text)
    return {a["id"]: json.loads(body) for a, body in page.scripts
            if a.get("type") == "application/json" and a.get("id", "").startswith("fig-")}


def test_network_hover_shows_the_evidence(demo, demo_html):
    fig = _figures(demo_html)["fig-network-data"]
    ev = next(t for t in fig["data"] if t["name"] == "tie evidence (hover)")
    hover = "\n".join(ev["hovertext"])
    designated = [f for f in demo.findings if f.listed_on]
    assert designated
    for f in designated:
        assert f"{f.work_id} ({f.publication_date})" in hover
        assert f"{f.list} " in hover and f"listed on {f.listed_on}" in hover


def test_timeline_draws_each_sourced_listing_date(demo, demo_html):
    fig = _figures(demo_html)["fig-timeline-data"]
    ticks = next(t for t in fig["data"] if t["name"] == "listing date")
    expected = {(f.listed_on, f.list) for f in demo.findings if len(f.listed_on) == 10}
    got = {(x, y.rsplit(" · ", 1)[1]) for x, y in zip(ticks["x"], ticks["y"], strict=True)}
    assert got == expected
    works = sum(len(t["x"]) for t in fig["data"] if t["name"] not in ("listing date",
                                                                      "removal date"))
    assert works == len({(f.work_id, f.entry_id) for f in demo.findings})


def test_timeline_marks_year_only_dates_and_leaves_out_undated():
    rows = [
        {"work_id": "W1", "publication_date": "2019", "list": "L", "list_entry_name": "E",
         "listed_on": "", "listed_at_publication": "unknown", "is_designation": True},
        {"work_id": "W2", "publication_date": "", "list": "L", "list_entry_name": "E",
         "listed_on": "", "listed_at_publication": "unknown", "is_designation": True},
    ]
    fig = timeline_figure(rows)
    assert fig.layout.meta["undated"] == 1
    (trace,) = fig.data
    assert trace.x == ("2019-01-01",) and trace.marker.symbol == ("circle-open",)
    assert "year only" in trace.hovertext[0]


def test_hostile_text_is_shown_as_text_never_as_markup(hostile, hostile_html):
    assert any(f.title == HOSTILE_TITLE for f in hostile.findings)
    assert HOSTILE_TITLE not in hostile_html
    assert HOSTILE_TEXT not in hostile_html
    assert "window.__pwned=1" in hostile_html  # it is there, as text
    page = _parse(hostile_html)
    assert page.tags["img"] == 0
    run = [body for a, body in page.scripts if a.get("type") != "application/json"]
    assert len(run) == 2  # no injected script block
    assert HOSTILE_TITLE in " ".join(page.text)  # the parser decodes it back: shown as text
    assert HOSTILE_TEXT in " ".join(page.text)
    # inside the charts' data it stays inert: escaped for plotly's pseudo-HTML
    figs = _figures(hostile_html)
    hover = json.dumps(figs)
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in hover
    assert "<script>" not in hover and "<img" not in hover


QUOTES = "q' onmouseover='window.__pwned=4' data-x=\"1\" \"><script>window.__pwned=5</script>"


def test_quotes_in_the_data_cannot_leave_an_attribute():
    """The title also goes into an attribute (the table's sort key), and settings into the
    method section: quotes of either kind must not end the attribute or open a tag."""
    html_text = render_report(tampered_result(QUOTES, QUOTES, settings={"strategy": QUOTES}),
                              generated_at=FIXED)
    page = _parse(html_text)
    names = {name for _, attrs in page.attrs for name in attrs}
    assert "onmouseover" not in names and "data-x" not in names
    assert [body for a, body in page.scripts if a.get("type") != "application/json"].__len__() == 2
    sort_keys = [a.get("data-sort") for tag, a in page.attrs if tag == "td"]
    assert QUOTES.lower() in sort_keys  # the whole text, inside its attribute
    assert " ".join(page.text).count(QUOTES) >= 3  # title, author and setting, as text


def test_secrets_in_the_run_record_never_reach_the_report(tmp_path):
    works = load_works(limit=10)
    r = screen(works, demo_registry(), settings={"strategy": "files",
                                                 "api_key": "sk-SECRET-1234"})
    r.run["command"] = ["tracker", "screen", "--api-key", "sk-SECRET-1234"]
    r.run["inputs"].append({"url": "https://api.openalex.org/works?api_key=sk-SECRET-1234"})
    text = write_report(r, tmp_path).read_text("utf-8")
    assert "sk-SECRET-1234" not in text
    assert "[redacted]" in text


def test_empty_result_says_no_findings_is_not_clearance(tmp_path):
    r = screen(load_works(limit=3), demo_registry().restricted_to(["CA_NRO"]))
    assert r.findings == []
    text = write_report(r, tmp_path).read_text("utf-8")
    assert "This screen produced no findings. That is not clearance." in text
    assert "fig-network-data" not in text
    assert len(_parse(text).rows) == 0


def test_report_is_deterministic_for_a_seed(demo):
    assert render_report(demo, generated_at=FIXED) == render_report(demo, generated_at=FIXED)


def test_network_in_the_report_is_pruned_and_says_so(demo):
    text = render_report(demo, max_network_nodes=40, generated_at=FIXED)
    assert "Pruned to stay readable" in text
    fig = _figures(text)["fig-network-data"]
    nodes = sum(len(t["x"]) for t in fig["data"] if t["mode"] != "lines"
                and t["name"] != "tie evidence (hover)")
    assert nodes <= 40
    with pytest.raises(ValueError, match="max_network_nodes"):
        render_report(demo, max_network_nodes=5000)


def test_network_figure_escapes_labels():
    import networkx as nx

    g = nx.Graph()
    g.add_node("author:A1", kind="author", label="<b onmouseover=x>", author_id="A1")
    g.add_node("inst:I1", kind="institution", label="I & <i>", lists="X", designation=True)
    g.add_edge("author:A1", "inst:I1", relation="flagged affiliation", designation=True,
               evidence="W1 (2020): X 'I', listed on unknown; raw affiliation: '<script>'")
    fig = network_figure(g)
    texts = json.dumps([t.hovertext for t in fig.data if t.hovertext is not None])
    assert "&lt;b onmouseover=x&gt;" in texts
    assert "raw affiliation: &#39;&lt;script&gt;&#39;" in texts
    assert "<b onmouseover" not in texts


def test_network_figure_labels_institutions_and_subjects_with_their_names():
    """The drawn labels are the nodes' own names, clipped to 32 characters (escaped);
    works and authors carry none (a name is never drawn for a person)."""
    import networkx as nx

    g = nx.Graph()
    g.add_node("work:W1", kind="work", label="A title", date="2021", work_id="W1")
    g.add_node("author:A1", kind="author", label="Author One", author_id="A1")
    g.add_node("inst:I1", kind="institution", label="Harbin Institute of Technology",
               lists="BIS_ENTITY_LIST", designation=True)
    g.add_node("inst:I2", kind="institution",
               label="National University of Defense Technology  (Changsha)",
               lists="ASPI_UNITRACKER", designation=False)
    g.add_node("inst:I3", kind="institution", label="Fudan <University>",
               lists="MOU", designation=False, is_subject=True)
    g.add_edge("work:W1", "author:A1", relation="authored")
    for i in ("inst:I1", "inst:I2"):
        g.add_edge("author:A1", i, relation="flagged affiliation",
                   designation=g.nodes[i]["designation"], evidence="W1 (2021): X")
    g.add_edge("work:W1", "inst:I3", relation="screened subject")
    texts = {t.name: t.text for t in network_figure(g).data if t.mode != "lines"}
    assert texts["work"] is None and texts["author"] is None
    assert texts["listed institution (designation)"] == ("Harbin Institute of Technology",)
    assert texts["institution on a context list only"] == (
        "National University of Defense …",)
    assert len(texts["institution on a context list only"][0]) == 32
    assert texts["screened subject"] == ("Fudan &lt;University&gt;",)


def test_bench_script_runs(tmp_path):
    import subprocess
    import sys

    bench = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_report.py"
    out = subprocess.run([sys.executable, str(bench), "--out", str(tmp_path), "--repeat", "1"],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    doc = json.loads(out.strip().splitlines()[-1])
    assert doc["report_bytes"] <= MAX_BYTES
    assert doc["findings"] > 0 and doc["render_seconds"] > 0
    assert re.fullmatch(r"\d+\.\d+ MB", doc["report_size"])


def test_vendored_plotly_matches_the_plotly_python_package():
    """Figures are built by the plotly package for its own plotly.js: keep the majors equal
    (update tracker/data/vendor when plotly moves to a new plotly.js major)."""
    from plotly.offline import get_plotlyjs_version

    assert get_plotlyjs_version().split(".")[0] == PLOTLY_BUNDLE["version"].split(".")[0]


def test_large_timeline_is_binned_and_large_table_is_a_stated_subset(demo, monkeypatch):
    import tracker.report as report

    rows = [f.row() for f in demo.findings]
    full = report.timeline_figure(rows)
    marks = sum(len(t.x) for t in full.data if t.name.startswith(("listed at", "context")))
    monkeypatch.setattr(report, "TIMELINE_FULL_HOVER", 2)
    binned = report.timeline_figure(rows)
    assert binned.layout.meta["brief_hover"] is True
    dots = [t for t in binned.data if t.name.startswith(("listed at", "context"))]
    counts = [int(re.match(r"<b>(\d+) flagged", h).group(1)) for t in dots for h in t.hovertext]
    assert sum(counts) == marks  # every mark is in exactly one bin
    assert len(counts) < marks
    monkeypatch.setattr(report, "TABLE_MAX_ROWS", 5)
    page = report.render_report(demo)
    assert page.count("<tr class") + page.count("<tr data-list") == 5
    assert f"This table shows 5 of {len(demo.findings):,} findings" in page
    assert "findings.csv" in page


def _changes(run, rows):
    """The report of a result without findings whose run record holds ``run``'s diff."""
    from types import SimpleNamespace

    assert rows == []
    return render_report(SimpleNamespace(findings=[], works={}, subjects={}, run=run))


def test_changes_section_says_so_when_nothing_changed():
    same = {"diff": {"previous_run": 1, "run": 2, "new": [], "gone": [], "changed": [],
                     "changed_fields": [], "gone_rows": [],
                     "counts": {"new": 0, "gone": 0, "changed": 0, "unchanged": 12},
                     "registry": {"before": "r1", "after": "r1"}}}
    text = _changes(same, [])
    assert "No tie is new, gone or changed." in text
    moved = {"diff": {**same["diff"], "gone": ["abc"], "counts": {"gone": 1}}}
    assert "No tie is new, gone or changed." not in _changes(moved, [])


# --------------------------------------------------------------------------- at scale


def _left_out_items(page: str) -> list[str]:
    m = re.search(r'<section id="left-out">(.*?)</section>', page, re.S)
    assert m, "no 'What this page leaves out' section"
    return [" ".join(re.sub(r"<[^>]+>", "", x).split())
            for x in re.findall(r"<li>(.*?)</li>", m.group(1), re.S)]


def test_the_page_says_what_it_leaves_out_by_its_stated_rules(demo, monkeypatch):
    import tracker.report as report

    monkeypatch.setattr(report, "TABLE_MAX_ROWS", 7)
    monkeypatch.setattr(report, "TIMELINE_MAX_ENTRIES", 3)
    monkeypatch.setattr(report, "TOP_ENTRIES", 2)
    page = report.render_report(demo, generated_at=FIXED)
    n = len(demo.findings)
    per_entry = Counter(f"{f.list_entry_name} · {f.list}" for f in demo.findings)
    kept = sorted(per_entry, key=lambda e: (-per_entry[e], e))[:3]
    left = sum(c for e, c in per_entry.items() if e not in kept)
    items = _left_out_items(page)
    assert (f"The findings table shows the newest 7 of {n:,} findings (by publication "
            f"date): {n - 7:,} findings are not in it.") in items
    assert (f"The timeline draws the 3 list entries with the most findings, of "
            f"{len(per_entry):,}: {len(per_entry) - 3:,} entries with {left:,} findings are "
            f"not drawn.") in items
    assert f"The summary names the 2 list entries with the most findings, of " \
           f"{len(per_entry):,}." in items
    # written on its own, the page names the files a report folder adds
    assert "findings.csv, findings.jsonl and findings.parquet" in page
    # the safeguard wording stays
    assert "a flag is evidence for human review, not a" in page
    assert "Nothing here ranks people." in page
    # the timeline draws exactly the kept entries, the table the newest rows
    fig = json.loads(re.search(r'id="fig-timeline-data">(.*?)</script>', page, re.S)
                     .group(1))
    assert set(fig["layout"]["yaxis"]["categoryarray"]) == set(kept)
    newest = sorted((f.row() for f in demo.findings),
                    key=lambda r: (r["publication_date"], r["work_id"], r["list"]),
                    reverse=True)[:7]
    ids = re.findall(r"<td>([0-9a-f]{16,})</td></tr>", page)
    assert ids == [r["finding_id"] for r in newest]


def test_nothing_left_out_says_so_and_the_folder_names_its_files(demo, tmp_path,
                                                                 monkeypatch):
    import tracker.exports as ex
    import tracker.report as report

    monkeypatch.setattr(report, "TABLE_MAX_ROWS", 10**6)
    monkeypatch.setattr(report, "TIMELINE_MAX_ENTRIES", 10**6)
    monkeypatch.setattr(report, "TOP_ENTRIES", 10**6)
    monkeypatch.setattr(ex, "XLSX_MAX_ROWS", 3)
    files = ex.write_report_folder(demo, tmp_path)
    page = files["report.html"].read_text("utf-8")
    text = " ".join(re.sub(r"<[^>]+>", "", page).split())
    assert "Nothing: every finding is in the table, the network and the timeline." in text
    assert ("findings.csv, findings.jsonl, findings.parquet, findings.json, next to this "
            "report, hold every finding.") in text
    assert (f"findings.xlsx: not written: {len(demo.findings):,} findings are more than an "
            f"Excel sheet holds") in text


def test_report_size_does_not_grow_with_the_findings(tmp_path):
    """Synthetic works (the benchmark generator): the page's views are capped, so ten times
    the works give a page not much larger, and the figures stay within their caps."""
    from tests._paths import OPENALEX

    if not OPENALEX.is_dir():
        pytest.skip("needs the shared recorded OpenAlex works")
    gen = pytest.importorskip("benchmarks.generate")
    import tracker
    import tracker.report as report

    pool = gen.load_pool(OPENALEX)
    reg = tracker.load_registry()
    sizes, results = [], []
    for n in (400, 4000):
        res = tracker.screen(
            (tracker.records.parse_work(w) for w in gen.generate(n, 1, pool)), registry=reg)
        results.append(res)
        sizes.append(len(report.render_report(res, generated_at=FIXED).encode()))
    small, big = results
    assert len(big.findings) > 5 * len(small.findings) > 0
    assert sizes[1] < 1.6 * sizes[0], sizes
    page = report.render_report(big, generated_at=FIXED)
    fig = json.loads(re.search(r'id="fig-timeline-data">(.*?)</script>', page, re.S)
                     .group(1))
    assert len(fig["layout"]["yaxis"]["categoryarray"]) <= report.TIMELINE_MAX_ENTRIES
    assert page.count("<tr data-list") + page.count("<tr class") <= report.TABLE_MAX_ROWS


@pytest.mark.parametrize("full_hover", [None, 2])
def test_spooled_findings_give_the_same_report(demo, monkeypatch, tmp_path, full_hover):
    """A run whose findings went to disk (read back in order, work by work) renders the
    report a held run renders: counts (context-only ties among them), table, figures."""
    from dataclasses import replace

    import tracker.report as report
    from tracker.findings import SpooledFindings
    from tracker.risk import finding_order

    if full_hover is not None:
        monkeypatch.setattr(report, "TIMELINE_FULL_HOVER", full_hover)
    ordered = replace(demo, findings=sorted(demo.findings, key=finding_order))  # a run's
    spool = SpooledFindings(key=finding_order, in_memory=7, folder=tmp_path)
    spool.extend(demo.findings)
    assert spool.finish().spilled
    when = datetime(2026, 1, 1, tzinfo=UTC)
    held = report.render_report(ordered, generated_at=when)
    assert report.render_report(replace(demo, findings=spool), generated_at=when) == held
    assert "ties flagged by context lists only" in held


def test_a_spilled_runs_report_reads_its_findings_back_once(demo, monkeypatch, tmp_path):
    """Drawn from the network built for the folder (as write_report draws it), the report
    of a run on disk reads every block once, for the overview and the timeline's marks
    together, and then only the blocks of the works its network shows (it read every block
    three times before: the overview, the network's works, the timeline)."""
    from dataclasses import replace

    import tracker.findings as spooled
    import tracker.report as report
    from tracker.graph import flagged_network
    from tracker.risk import finding_order

    monkeypatch.setattr(spooled, "_BLOCK", 7)
    spool = spooled.SpooledFindings(key=finding_order, in_memory=7, folder=tmp_path)
    spool.extend(demo.findings)
    assert spool.finish().spilled
    on_disk = replace(demo, findings=spool)
    g, _ = flagged_network(on_disk)
    when = datetime(2026, 1, 1, tzinfo=UTC)
    held = report.render_report(replace(demo, findings=sorted(demo.findings,
                                                              key=finding_order)),
                                generated_at=when, max_network_nodes=60)
    reads: list[int] = []
    real = spooled._File.read
    monkeypatch.setattr(spooled._File, "read",
                        lambda self, span: reads.append(span[0]) or real(self, span))
    spool._cached = None
    page = report.render_report(on_disk, generated_at=when, network=g, max_network_nodes=60)
    assert page == held
    blocks = len(spool._spans)
    assert sorted(set(reads[:blocks])) == sorted(span[0] for span in spool._spans)
    assert blocks < len(reads) < 1.5 * blocks, (blocks, len(reads))


def test_the_overview_reads_only_its_fields_and_gives_what_whole_rows_give(demo,
                                                                          monkeypatch):
    """The overview reads a finding's fields it needs only (whole rows are built for the
    table alone): the page is the one whole rows give, the changes section's rows
    included."""
    from dataclasses import replace

    import tracker.report as report

    new = [f.finding_id for f in demo.findings[:3]]
    run = {**demo.run, "diff": {"previous_run": 1, "run": 2, "new": new, "gone": [],
                                "changed": [], "changed_fields": [], "gone_rows": []}}
    fast = render_report(replace(demo, run=run), generated_at=FIXED)

    def whole_rows(findings, ov, marks):  # each finding as its row, counted one at a time
        for place, f in enumerate(findings):
            r = f.row()
            if marks is not None:
                marks.add(r)
            ov.add(r)
            yield report._newest_first(r), -place, r
        ov.settle()

    monkeypatch.setattr(report, "_overview_rows", whole_rows)
    assert render_report(replace(demo, run=run), generated_at=FIXED) == fast
    assert all(i in fast for i in new)


def test_compiled_templates_are_kept_and_a_cache_that_cannot_be_kept_is_passed_over(
        demo, tmp_path, monkeypatch):
    """The report's templates are compiled once and read back by the next run (the same
    page, no compiling); a kept template cut short, or a cache folder that cannot be made,
    and they are compiled, with no error."""
    import jinja2

    import tracker.report as report

    compiled: list[str] = []
    real = jinja2.Environment.compile
    monkeypatch.setattr(jinja2.Environment, "compile", lambda self, source, name=None,
                        *a, **k: compiled.append(name) or real(self, source, name, *a, **k))
    monkeypatch.setenv("TRACKER_HOME", str(tmp_path / "home"))
    report._templates.cache_clear()
    try:
        first = render_report(demo, generated_at=FIXED)
        assert "report.html.j2" in compiled
        assert list((tmp_path / "home" / "cache" / "templates").iterdir())
        report._templates.cache_clear()  # as a new run does
        del compiled[:]
        assert render_report(demo, generated_at=FIXED) == first
        assert "report.html.j2" not in compiled
        for kept in (tmp_path / "home" / "cache" / "templates").iterdir():  # cut short
            kept.write_bytes(kept.read_bytes()[:len(jinja2.bccache.bc_magic) + 3])
        report._templates.cache_clear()
        assert render_report(demo, generated_at=FIXED) == first
        assert "report.html.j2" in compiled
        (tmp_path / "file").write_text("not a folder")
        monkeypatch.setenv("TRACKER_HOME", str(tmp_path / "file"))
        report._templates.cache_clear()
        assert render_report(demo, generated_at=FIXED) == first
        assert "report.html.j2" in compiled
    finally:
        report._templates.cache_clear()


def test_the_overview_s_counts_are_those_of_counting_each_finding(demo):
    """The overview counts a finding once per combination of its entry, listing and review
    fields and spreads those counts at the end: each counter is the one a count per finding
    gives (a review status and a missing listing date set on some, so that they vary)."""
    from dataclasses import replace

    import tracker.report as report

    findings = [replace(f, review_status="escalated", listed_on="") if i % 5 == 0 else f
                for i, f in enumerate(demo.findings)]
    ov = report._Overview(by_work=False)
    list(report._overview_rows(findings, ov))
    rows = [f.row() for f in findings]
    assert ov.n == len(rows) and ov.works == {r["work_id"] for r in rows}
    assert ov.by_list == Counter((r["list"], r["is_designation"]) for r in rows)
    assert ov.status == Counter(r["review_status"] or "unreviewed" for r in rows)
    assert ov.status["escalated"] and ov.unknown_listing >= ov.status["escalated"]
    assert ov.listed == Counter(r["listed_at_publication"] for r in rows)
    assert ov.unknown_listing == sum(not r["listed_on"] for r in rows)
    assert ov.unknown_at == sum(r["listed_at_publication"] == "unknown" for r in rows)
    assert ov.entries == Counter(report.entry_label(r) for r in rows)
    assert list(ov.entries) == list(dict.fromkeys(report.entry_label(r) for r in rows))
    first = {}
    for r in rows:
        first.setdefault(report.entry_label(r), {k: r[k] for k in (
            "list", "list_entry_name", "is_designation", "listed_on", "removed_on")})
    assert ov.entry_rows == first
    assert ov.options == {k: {str(r[k] or "") for r in rows}
                          for k in ("list", "listed_at_publication", "review_status")}
    ov.settle()  # a second time adds nothing
    assert ov.by_list == Counter((r["list"], r["is_designation"]) for r in rows)


@pytest.mark.parametrize("regime", ["hover", "binned", "read again"])
def test_timeline_marks_gathered_from_every_finding_draw_the_capped_timeline(
        demo, monkeypatch, regime):
    """The marks the review workspace gathers while it reads a run for the network
    (:class:`TimelineMarks`, every entry) draw the figure the findings draw, capped to the
    entries with the most findings: without reading the findings again where the marks
    still hold what the hover needs (few marks) or none is needed (binned); read again
    where the marks of every entry were too many to keep the hover's text but those of the
    entries drawn are few enough for it."""
    import plotly.io as pio

    import tracker.report as report

    monkeypatch.setattr(report, "TIMELINE_MAX_ENTRIES", 3)
    rows = [f.row() for f in demo.findings]
    per_entry = Counter(report.entry_label(r) for r in rows)
    kept = sorted(per_entry, key=lambda e: (-per_entry[e], e))[:3]
    kept_marks = len({(r["work_id"], report.entry_label(r)) for r in rows
                      if report.entry_label(r) in kept and r["publication_date"]})
    all_marks = len({(r["work_id"], report.entry_label(r)) for r in rows
                     if r["publication_date"]})
    assert kept_marks < all_marks
    full = {"hover": 10**6, "binned": 2, "read again": kept_marks}[regime]
    monkeypatch.setattr(report, "TIMELINE_FULL_HOVER", full)
    want = report.capped_timeline(rows)
    marks = report.TimelineMarks()
    for r in rows:
        marks.add(r)
    read: list[int] = []

    def again():
        read.append(1)
        yield from rows

    got = report.capped_timeline(again(), marks=marks)
    assert got[1:] == want[1:]
    assert pio.to_json(got[0]) == pio.to_json(want[0])
    assert got[0].layout.meta["brief_hover"] is (regime == "binned")
    assert read == ([1] if regime == "read again" else [])


def test_counts_read_with_thousands_separators_as_the_cli_prints_them(demo):
    """Summary cards, data gaps and count tables print 1,234,567, not 1234567 (a
    million-work run's page was hard to read); a count that is not a number stays as it
    is."""
    from dataclasses import replace

    run = {**demo.run, "counts": {**demo.run.get("counts", {}), "works_read": 1234567,
                                  "authorships": "—"},
           "data_gaps": {**demo.run.get("data_gaps", {}), "no_institution": 2624536}}
    page = render_report(replace(demo, run=run), generated_at=FIXED)
    assert "<b>1,234,567</b><span>works read</span>" in page
    assert "<b>—</b><span>authorships screened</span>" in page
    assert "<b>2,624,536</b>" in page
    assert "<b>1234567</b>" not in page and "<b>2624536</b>" not in page


def test_the_network_layout_is_the_same_in_every_python_process():
    """Two runs of the same screening build the same flagged network, but sets of strings
    are ordered anew in each Python process (``PYTHONHASHSEED``), and a component's nodes
    came out of one: the layout, and so report.html, is the same all the same."""
    import os
    import subprocess
    import sys

    code = ("import json, tracker; from tracker.graph import flagged_network; "
            "from tracker.report import _layout_positions; "
            "res = tracker.screen(tracker.read_works(tracker.demo_works_path()), "
            "registry=tracker.load_registry()); g, _ = flagged_network(res, max_nodes=400); "
            "print(json.dumps(sorted((str(k), v) for k, v in _layout_positions(g, 7).items())))")
    got = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, env={**os.environ, "PYTHONHASHSEED": seed}).stdout
           for seed in ("1", "2")]
    assert len(json.loads(got[0])) > 10
    assert got[0] == got[1]
