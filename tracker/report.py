"""The standalone HTML report a research-security committee reads.

:func:`write_report` writes **one self-contained file** (``report.html``) that opens offline:
the charting library (the official plotly.js *basic* bundle, MIT, vendored in
``tracker/data/vendor``) is embedded once, and a Content-Security-Policy forbids every network
request and every script but the report's own two (pinned by hash).  It holds:

- a prominent statement that a flag is evidence for human review, not a determination, that
  "no findings" is not clearance, and the known data gaps;
- a summary (works read, findings by list and by review status, subjects, data gaps) that
  never ranks people;
- an interactive network of the flagged ties (:func:`network_figure`);
- a timeline of the flagged works with each entry's listing date drawn on it
  (:func:`timeline_figure`);
- the findings table, sortable and filterable with a few lines of plain JavaScript;
- method and provenance (strategy, framework, list editions and their data dates, tool version).

Context lists (ASPI's tracker) are shown as context, apart from legal designations.

Hostile data
------------
Titles, names and affiliations come from the internet.  The page is rendered from Jinja2
templates shipped in ``tracker/templates`` with autoescaping on (``report.html.j2``), so every
value is text, in element content and in attributes alike; text shown inside charts (hover
labels, node and tick labels) comes from the macros of ``chart_text.html.j2``, autoescaped
the same way, since plotly reads a little HTML there; data embedded as JSON escapes ``<``,
``>``, ``&``, U+2028 and U+2029 (:func:`safe_json`), so ``</script>`` cannot end a script
block.  Text like ``<script>`` is shown, never run.  The stylesheet and the report's own
script are files beside the templates (``report.css``, ``report.js``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import shlex
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
import networkx as nx
import plotly.graph_objects as go
import plotly.io as pio
from markupsafe import Markup

from tracker.findings import SpooledFindings, collector_paused
from tracker.graph import (
    ScreenResultLike,
    flagged_network,
    prune_flagged_network,
    subject_specs,
)
from tracker.home import cache_dir
from tracker.redaction import clean_run_record
from tracker.risk import Finding

__all__ = [
    "PLOTLY_BUNDLE",
    "capped_timeline",
    "network_figure",
    "render_report",
    "safe_json",
    "timeline_figure",
    "write_report",
]

#: The embedded charting library: file in tracker/data/vendor, and what it is.
PLOTLY_BUNDLE = {
    "file": "data/vendor/plotly-basic.min.js",
    "name": "plotly.js basic bundle (npm plotly.js-basic-dist-min)",
    "version": "4.1.1",
    "licence": "MIT (c) Plotly, Inc.; see tracker/data/vendor/plotly-basic.LICENSE",
}

_PLOT_CONFIG = {"displaylogo": False, "responsive": True, "typesetMath": False,
                "showTips": False}

_LISTED_COLOURS = {"yes": "#b2182b", "unknown": "#6b6b6b", "no": "#2166ac"}
_CONTEXT_COLOUR = "#d98c00"

#: Run-record data-gap keys, in words (other keys are shown with their own name).
_GAP_LABELS = {
    "records_skipped": "records that could not be read (skipped)",
    "skipped": "skipped records (the first ones, with the reason)",
    "works_without_authorships": "works with no authorships (nothing to screen)",
    "works_without_date": "works with no publication date or year (listing status unknown)",
    "works_year_only": "works with a publication year only (compared by year)",
    "works_authors_truncated": "works whose author list OpenAlex truncated (authors beyond "
                               "the list were not screened)",
    "works_partial_record": "partial records (saved from a select= query)",
    "authorships_without_institution": "authorships with no institution attached by OpenAlex "
                                       "(cannot be screened by identifier)",
    "authorships_without_institution_with_raw": "of these, with a raw affiliation string only",
    "authorships_without_anything": "of these, with no affiliation at all",
    "entries_without_listing_date": "list entries whose listing date no source gives",
    "entries_without_ror_or_openalex_id": "list entries without a ROR or OpenAlex ID "
                                          "(found by name only, if at all)",
    "name_matching": "matching by name in raw affiliation strings",
}

_RELATION_TEXT = {"subject": "subject's own", "coauthor": "co-author",
                  "unspecified": "—", "": "—"}

# The HTML table holds at most this many rows (newest first) so report.html stays a few MB at
# any number of findings; the report says so, and findings.csv/jsonl/parquet hold every row.
TABLE_MAX_ROWS = 600
# Above this many timeline marks (work x list entry), the timeline draws one dot per (list
# entry, publication year) sized by its number of works, and says so.
TIMELINE_FULL_HOVER = 1500
#: The timeline draws at most this many list entries (rows): those with the most findings
#: (then by name); the page says how many entries and findings it leaves out.  (At 100,000
#: synthetic works, 2,466 entries made a 4.2 MB figure, taller than a screen can show.)
TIMELINE_MAX_ENTRIES = 60
#: The summary's "list entries with the most findings" table shows this many entries.
TOP_ENTRIES = 20


# --------------------------------------------------------------------------- escaping


def safe_json(obj: Any) -> str:
    """JSON text safe inside an HTML ``<script>`` block.

    ``<``, ``>``, ``&``, U+2028 and U+2029 are written as ``\\uXXXX`` escapes, which JSON
    allows inside strings (the only place these characters can occur in JSON text).

    Examples
    --------
    >>> safe_json({"t": "</script><b>&"})
    '{"t":"\\\\u003c/script\\\\u003e\\\\u003cb\\\\u003e\\\\u0026"}'
    >>> json.loads(safe_json(["\\u2028"])) == ["\\u2028"]
    True
    """
    text = obj if isinstance(obj, str) else json.dumps(
        obj, ensure_ascii=False, separators=(",", ":"), default=str)
    return _escape_json_text(text)


def _escape_json_text(text: str) -> str:
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def clip(value: object, limit: int = 140) -> str:
    """Text folded onto one line and shortened to ``limit`` characters (with "…").

    Examples
    --------
    >>> clip("  a\\n  long   title ", 9)
    'a long t…'
    >>> clip(None)
    ''
    """
    text = " ".join(("" if value is None else str(value)).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _web_url(url: object) -> str | None:
    """An ``https://``/``http://`` URL fit for a link, else None (no javascript: links)."""
    if not isinstance(url, str):
        return None
    u = url.strip()
    if u.lower().startswith(("https://", "http://")) and not any(c in u for c in " \"'<>`"):
        return u
    return None


class _CompiledTemplates(jinja2.FileSystemBytecodeCache):
    """The report's templates as Jinja compiled them, kept between runs in tracker's cache
    folder (:func:`tracker.home.cache_dir`): compiling report.html.j2 took 0.06–0.07 s of
    every run, reading it back 0.001 s.  Jinja keys each by the template's source (a
    changed template is compiled again) and checks Python's version.  A cache that cannot
    be read or written, or is damaged, is passed over: the template is compiled, as without
    one.  The folder is the user's own, as for the name matcher's cache (also code, a
    pickle).

    Examples
    --------
    >>> import os, tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     env = jinja2.Environment(bytecode_cache=_CompiledTemplates(d),
    ...                              loader=jinja2.DictLoader({"t": "{{ 1 + 1 }}"}))
    ...     first = env.get_template("t").render()
    ...     again = jinja2.Environment(bytecode_cache=_CompiledTemplates(d),
    ...                                loader=jinja2.DictLoader({"t": "{{ 1 + 1 }}"}))
    ...     (first, again.get_template("t").render(), len(os.listdir(d)))
    ('2', '2', 1)
    """

    def __init__(self, directory: str | Path) -> None:
        super().__init__(str(directory), "report-%s.jinja")

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except Exception:  # unreadable, or damaged (its pickled checksum cut short): compile
            bucket.reset()

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            Path(self.directory).mkdir(parents=True, exist_ok=True)
            super().dump_bytecode(bucket)
        except OSError:
            pass


@lru_cache(maxsize=1)
def _templates() -> jinja2.Environment:
    """The report's templates (``tracker/templates``), autoescaped; None renders as "";
    each version of a template compiled once (:class:`_CompiledTemplates`)."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("tracker", "templates"), autoescape=True,
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
        finalize=lambda v: "" if v is None else v,
        bytecode_cache=_CompiledTemplates(cache_dir() / "templates"))
    env.filters["clip"] = clip
    env.filters["web_url"] = _web_url
    env.filters["count"] = count_text
    return env


def count_text(value: object) -> object:
    """A count as the CLI prints it, with thousands separators (``1,000,000``); anything
    that is not a whole number, as it is.

    Examples
    --------
    >>> count_text(1234567), count_text(12), count_text("—"), count_text(True)
    ('1,234,567', '12', '—', True)
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return value


@lru_cache(maxsize=1)
def _chart_text() -> Any:
    """The macros of ``chart_text.html.j2``: labels and hover text for the charts."""
    return _templates().get_template("chart_text.html.j2").module


def _label(text: object, limit: int = 140) -> str:
    return str(_chart_text().label(text, limit))


# --------------------------------------------------------------------------- figures


def _row(f: Finding | Mapping[str, Any]) -> dict[str, Any]:
    return f.row() if isinstance(f, Finding) else dict(f)


def _get(f: Finding | Mapping[str, Any], key: str, default: Any = "") -> Any:
    """One field of a finding or of a row, without building the whole row."""
    return getattr(f, key, default) if isinstance(f, Finding) else f.get(key, default)


def entry_label(f: Finding | Mapping[str, Any]) -> str:
    """A list entry as the timeline names its row: ``entry name · list``."""
    return _entry_label_of(_get(f, "list_entry_name"), _get(f, "list"))


def _entry_label_of(entry_name: object, list_code: object) -> str:
    """:func:`entry_label` of these values (the report's pass reads them itself)."""
    return f"{entry_name} · {list_code}"


def _layout_positions(g: nx.Graph, seed: int, aspect: float = 2.0) -> dict[Any, Any]:
    """Spring layout per connected component, components packed in rows (wide, not tall).

    One spring layout of a graph of many small components squeezes each into a dot; laying
    each out on its own, with room growing as the square root of its size, keeps ties
    visible.  Deterministic for a given seed, whatever order ``g`` holds its nodes in: the
    layout's random start is drawn in node order, so each component is laid out with its
    nodes sorted (in ``g``'s order, which follows sets of strings, two runs of the same
    screening drew different layouts: Python orders such sets anew in each process).
    """
    if len(g) == 0:
        return {}
    comps = sorted((sorted(c, key=str) for c in nx.connected_components(g)),
                   key=lambda c: (-len(c), str(c[0])))
    placed: list[tuple[list[Any], dict[Any, Any], float]] = []
    for nodes in comps:
        sub = nx.Graph()
        sub.add_nodes_from(nodes)  # sorted: the start positions do not follow g's order
        sub.add_edges_from(g.subgraph(nodes).edges(data=True))
        radius = 0.35 + 0.22 * len(nodes) ** 0.5
        if len(nodes) == 1:
            pos = {nodes[0]: (0.0, 0.0)}
        else:
            try:
                # networkx's default 50 iterations: 120 drew no better (compared by eye on
                # the 352-node component at 15,000 synthetic works) and took 0.52 s, not 0.21
                pos = nx.spring_layout(sub, seed=seed, iterations=50, scale=radius)
            except ImportError as exc:  # networkx needs scipy for 500+ nodes
                raise ValueError(
                    f"a connected network of {len(nodes)} nodes needs scipy for its layout; "
                    f"prune it (max_network_nodes below 500) or install scipy") from exc
        placed.append((nodes, pos, radius))
    area = sum((2 * r + 0.3) ** 2 for _, _, r in placed)
    row_width = max((area * aspect) ** 0.5, max(2 * r + 0.3 for _, _, r in placed))
    out: dict[Any, Any] = {}
    x = y = row_h = 0.0
    for nodes, pos, r in placed:
        size = 2 * r + 0.3
        if x > 0 and x + size > row_width:
            x, y, row_h = 0.0, y - row_h, 0.0
        cx, cy = x + size / 2, y - size / 2
        for n in nodes:
            px, py = pos[n]
            out[n] = (cx + float(px), cy + float(py))
        x += size
        row_h = max(row_h, size)
    return out


def network_figure(g: nx.Graph, *, seed: int = 7, title: str = "") -> go.Figure:
    """The flagged network as an interactive plotly figure (spring layout, seeded).

    Parameters
    ----------
    g : networkx.Graph
        As :func:`tracker.graph.flagged_network` returns it.
    seed : int, default 7
        Seed of the spring layout, so the same data draws the same picture.
    title : str, optional

    Returns
    -------
    plotly.graph_objects.Figure
        Hovering a work, author or institution, or the midpoint of a flagged tie, shows the
        evidence: work, date, raw affiliation, list and listing date.  Ties seen only on a
        context list (an assessment, not a designation) are dotted and orange.

    Examples
    --------
    >>> import networkx as nx
    >>> g = nx.Graph()
    >>> g.add_node("work:W1", kind="work", label="<b>T</b>", date="2021", work_id="W1")
    >>> g.add_node("author:A1", kind="author", label="X", author_id="A1")
    >>> g.add_edge("work:W1", "author:A1", relation="authored")
    >>> fig = network_figure(g)
    >>> [t.name for t in fig.data]
    ['authorship', 'work', 'author']
    >>> "&lt;b&gt;T&lt;/b&gt;" in fig.data[1].hovertext[0]
    True
    """
    pos = _layout_positions(g, seed)
    traces: list[go.Scatter] = []

    def edge_trace(edges: list[tuple[Any, Any]], name: str, colour: str, width: float,
                   dash: str = "solid") -> None:
        if not edges:
            return
        xs: list[float | None] = []
        ys: list[float | None] = []
        for u, v in edges:
            xs += [float(pos[u][0]), float(pos[v][0]), None]
            ys += [float(pos[u][1]), float(pos[v][1]), None]
        traces.append(go.Scatter(x=xs, y=ys, mode="lines", name=name, hoverinfo="skip",
                                 line={"color": colour, "width": width, "dash": dash}))

    rel = {(u, v): str(d.get("relation", "")) for u, v, d in g.edges(data=True)}
    authored = [(u, v) for (u, v), r in rel.items() if r == "authored"]
    flagged_d = [(u, v) for (u, v), r in rel.items()
                 if r == "flagged affiliation" and g.edges[u, v].get("designation")]
    flagged_c = [(u, v) for (u, v), r in rel.items()
                 if r == "flagged affiliation" and not g.edges[u, v].get("designation")]
    subject = [(u, v) for (u, v), r in rel.items()
               if r not in ("authored", "flagged affiliation")]
    edge_trace(authored, "authorship", "#b8b8b8", 1.0)
    edge_trace(subject, "screened subject on work", "#7fa7d6", 1.0, "dash")
    edge_trace(flagged_d, "flagged tie (designation list)", "#b2182b", 2.2)
    edge_trace(flagged_c, "context tie (assessment only)", _CONTEXT_COLOUR, 2.0, "dot")

    text = _chart_text()

    def evidence(u: Any, v: Any) -> str:
        a, i = (u, v) if g.nodes[u].get("kind") == "author" else (v, u)
        ev = str(g.edges[u, v].get("evidence", "")).split("\n")
        lines = [(head, raw) for head, _, raw in
                 (x.partition("; raw affiliation: ") for x in ev[:8])]
        return str(text.tie_evidence(g.nodes[a].get("label"), g.nodes[i].get("label"), lines,
                                     max(len(ev) - 8, 0)))

    mids = flagged_d + flagged_c
    if mids:
        traces.append(go.Scatter(
            x=[(float(pos[u][0]) + float(pos[v][0])) / 2 for u, v in mids],
            y=[(float(pos[u][1]) + float(pos[v][1])) / 2 for u, v in mids],
            mode="markers", name="tie evidence (hover)", hoverinfo="text",
            hovertext=[evidence(u, v) for u, v in mids],
            marker={"size": 7, "color": ["#b2182b" if i < len(flagged_d)
                                         else _CONTEXT_COLOUR for i in range(len(mids))],
                    "symbol": "circle", "opacity": 0.55}))

    def node_hover(n: Any) -> str:
        d = g.nodes[n]
        kind = d.get("kind", "")
        if kind == "work":
            return str(text.work_node(d))
        if kind == "author":
            flagged = [g.nodes[nb].get("label") for nb in g[n]
                       if g.edges[n, nb].get("relation") == "flagged affiliation"]
            return str(text.author_node(d, flagged))
        ids = " ".join(x for x in (d.get("institution_id", ""), d.get("ror", "")) if x)
        return str(text.institution_node(d, ids))

    def node_trace(nodes: list[Any], name: str, symbol: str, colour: str, size: int,
                   labels: bool = False) -> None:
        if not nodes:
            return
        traces.append(go.Scatter(
            x=[float(pos[n][0]) for n in nodes], y=[float(pos[n][1]) for n in nodes],
            mode="markers+text" if labels else "markers", name=name,
            text=[_label(g.nodes[n].get("label"), 32) for n in nodes] if labels else None,
            textposition="top center", textfont={"size": 10},
            hoverinfo="text", hovertext=[node_hover(n) for n in nodes],
            marker={"symbol": symbol, "color": colour, "size": size,
                    "line": {"width": 1, "color": "#333"}}))

    kinds: dict[str, list[Any]] = {}
    for n, d in g.nodes(data=True):
        if d.get("is_subject"):
            key = "subject"
        elif d.get("kind") == "institution":
            key = "institution" if d.get("designation") else "institution_context"
        else:
            key = str(d.get("kind", "other"))
        kinds.setdefault(key, []).append(n)
    node_trace(kinds.get("work", []), "work", "square", "#5b6770", 9)
    node_trace(kinds.get("author", []), "author", "circle", "#1b9e77", 9)
    node_trace(kinds.get("institution", []), "listed institution (designation)", "diamond",
               "#b2182b", 14, labels=True)
    node_trace(kinds.get("institution_context", []), "institution on a context list only",
               "diamond-open", _CONTEXT_COLOUR, 14, labels=True)
    node_trace(kinds.get("subject", []), "screened subject", "star", "#f2c100", 16,
               labels=True)
    fig = go.Figure(data=traces)
    fig.update_layout(
        template="plotly_white", height=640, hovermode="closest", dragmode="pan",
        title={"text": _label(title)} if title else None,
        margin={"l": 10, "r": 10, "t": 40 if title else 10, "b": 10},
        legend={"orientation": "h", "y": -0.02, "yanchor": "top"},
        xaxis={"visible": False}, yaxis={"visible": False, "scaleanchor": "x"},
        hoverlabel={"align": "left"},
    )
    return fig


def _binned_trace(marks: list[dict[str, Any]], name: str, colour: str,
                  entries: Mapping[str, Mapping[str, Any]]) -> go.Scatter:
    """One dot per (list entry, publication year), its size growing with the works in it
    (``entries``: an entry's row, by its label: the hover names the list and entry)."""
    bins: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for m in marks:
        bins.setdefault((m["y"], m["x"][:4]), []).append(m)
    xs, ys, hs, sizes, symbols = [], [], [], [], []
    for (label, year), ms in bins.items():
        year_only = all(m["year_only"] for m in ms)
        xs.append(f"{year}-07-01")
        ys.append(label)
        hs.append(str(_chart_text().year_bin(len(ms), year, entries[label], name)))
        sizes.append(min(8 + 3 * math.log2(len(ms)), 30))
        symbols.append("circle-open" if year_only else "circle")
    return go.Scatter(x=xs, y=ys, mode="markers", name=name, hoverinfo="text", hovertext=hs,
                      marker={"color": colour, "size": sizes, "symbol": symbols,
                              "line": {"width": 1.5, "color": colour}})


def _timeline_x(text: str) -> tuple[str | None, bool]:
    """(plot date, year only?) for a publication date string; None when unknown."""
    if len(text) == 10:
        return text, False
    if len(text) == 4 and text.isdigit():
        return f"{text}-01-01", True
    return None, False


def capped_timeline(findings: Iterable[Finding | Mapping[str, Any]],
                    per_entry: Mapping[str, int] | None = None, *,
                    max_entries: int | None = None,
                    marks: TimelineMarks | None = None) -> tuple[go.Figure, int, str]:
    """:func:`timeline_figure` of the ``max_entries`` list entries with the most findings
    (default :data:`TIMELINE_MAX_ENTRIES`; ties by name): the figure, how many entries it
    draws, and a sentence saying what it leaves out (``""`` when nothing).

    ``per_entry`` (findings per entry, as :func:`entry_label` names them) saves a pass when
    the caller has counted them; ``findings`` is then read once, for the figure (an iterator
    is not held in memory).  ``marks``, gathered from every finding by the caller
    (:class:`TimelineMarks`), saves that pass too: ``findings`` is then read only where
    the marks cannot draw the entries kept (see there).
    """
    limit = TIMELINE_MAX_ENTRIES if max_entries is None else max_entries
    if marks is not None and per_entry is None:
        per_entry = marks.counts
    items = (findings if isinstance(findings, list | tuple) or per_entry is not None
             else list(findings))
    counts = per_entry if per_entry is not None else Counter(entry_label(f) for f in items)
    if len(counts) <= limit:
        fig = marks.figure() if marks is not None else None
        return (fig if fig is not None else timeline_figure(items)), len(counts), ""
    kept = set(sorted(counts, key=lambda e: (-counts[e], e))[:limit])
    left = sum(c for e, c in counts.items() if e not in kept)
    note = (f"The timeline draws the {len(kept):,} list entries with the most findings, of "
            f"{len(counts):,}: {len(counts) - len(kept):,} entries with {left:,} findings are "
            f"not drawn.")
    fig = marks.figure(kept) if marks is not None else None
    if fig is None:
        fig = timeline_figure(f for f in items if entry_label(f) in kept)
    return fig, len(kept), note


def timeline_figure(findings: Iterable[Finding | Mapping[str, Any]]) -> go.Figure:
    """Flagged works on a time axis, one row per list entry, with its listing date drawn on.

    Parameters
    ----------
    findings : iterable of Finding or of rows (dicts with the findings.csv columns)

    Returns
    -------
    plotly.graph_objects.Figure
        A marker per (work, list entry), coloured by "listed at publication"
        (yes / no / unknown); context-list ties in orange.  A vertical tick marks each entry's
        listing date (and removal date, if any).  A work known only by its year is drawn on
        1 January as an open marker and says so; a work without date is left out, and
        ``fig.layout.meta["undated"]`` counts them.

    Examples
    --------
    >>> rows = [{"work_id": "W1", "title": "T", "publication_date": "2021-05-01",
    ...          "list": "BIS_ENTITY_LIST", "list_entry_name": "HIT", "listed_on": "2020-06-05",
    ...          "listed_at_publication": "yes", "is_designation": True,
    ...          "raw_affiliation": "HIT", "author_name": "X", "removed_on": ""}]
    >>> fig = timeline_figure(rows)
    >>> [t.name for t in fig.data]
    ['listed at publication: yes', 'listing date']
    >>> fig.data[1].x
    ('2020-06-05',)
    """
    marks = TimelineMarks()
    for f in findings:
        marks.add(f)
    fig = marks.figure()
    assert fig is not None  # every entry kept: the marks held their text as long as needed
    return fig


class TimelineMarks:
    """What :func:`timeline_figure` draws, gathered one finding at a time (:meth:`add`),
    for every list entry; :meth:`figure` draws the entries asked for.

    Why: the review workspace reads a large run's findings from the case file once, for
    the flagged network and the timeline's entries together (reading 788,020 findings a
    second time, for the timeline, took 24 s).  Each mark (work x entry) keeps its first
    finding and its authors, for the hover, only while the marks of every entry are at most
    :data:`TIMELINE_FULL_HOVER`; past that the figure bins them (as it does for as many
    marks of the entries drawn).  When fewer entries are drawn and their marks are few
    enough for the full hover after all, that text is gone: :meth:`figure` then returns
    None, and the caller draws from the findings again.
    """

    def __init__(self) -> None:
        self.entries: dict[str, dict[str, Any]] = {}
        self.marks: dict[tuple[str, str], dict[str, Any]] = {}
        self.undated: set[tuple[str, str]] = set()  # (work, entry)
        self.brief = False  # past TIMELINE_FULL_HOVER marks: the marks hold no text
        self.counts: Counter[str] = Counter()  # findings per entry
        self._x: dict[str, tuple[str | None, bool]] = {}  # _timeline_x of each date met

    def add(self, f: Finding | Mapping[str, Any], label: str | None = None) -> None:
        """Take one finding (or row) into the marks (``label``: its :func:`entry_label`,
        when the caller made it)."""
        # each mark keeps its first finding (not a copy of its row) and its authors only
        # while the hover may name them: memory grows with the marks, not with the findings
        if label is None:
            label = entry_label(f)
        self.counts[label] += 1
        if label not in self.entries:
            self.entries[label] = _row(f)
        if isinstance(f, Finding):  # the two fields every finding is read for
            text, work = str(f.publication_date or ""), str(f.work_id)
        else:
            text, work = str(f.get("publication_date", "") or ""), str(f.get("work_id", ""))
        at = self._x.get(text)
        if at is None:  # a few thousand dates in a million findings
            at = self._x[text] = _timeline_x(text)
        x, year_only = at
        if x is None:
            self.undated.add((work, label))
            return
        marks = self.marks
        m = marks.get((work, label))
        if m is None:
            designated = _get(f, "is_designation", True)
            m = marks[(work, label)] = {
                "x": x, "y": label, "year_only": year_only,
                "src": None if self.brief else f, "authors": [],
                "group": (f"listed at publication: "
                          f"{_get(f, 'listed_at_publication', 'unknown')}" if designated
                          else "context list (assessment, not a designation)")}
            if not self.brief and len(marks) > TIMELINE_FULL_HOVER:
                self.brief = True
                for held in marks.values():
                    held["src"], held["authors"] = None, []
        if self.brief:
            return
        name = _get(f, "author_name")
        if name and name not in m["authors"]:
            m["authors"].append(name)

    def figure(self, kept: Collection[str] | None = None) -> go.Figure | None:
        """The timeline of the entries ``kept`` (all: None), as :func:`timeline_figure`
        draws it from their findings; None where the hover text it needs was let go."""
        if kept is None:
            marks = list(self.marks.values())
            entries = self.entries
            undated = {w for w, _ in self.undated}
        else:
            marks = [m for (_, label), m in self.marks.items() if label in kept]
            entries = {k: v for k, v in self.entries.items() if k in kept}
            undated = {w for w, label in self.undated if label in kept}
        brief = len(marks) > TIMELINE_FULL_HOVER
        if self.brief and not brief:
            return None
        return _timeline_of(marks, entries, undated, brief)


def _timeline_of(marks: list[dict[str, Any]], entries: dict[str, dict[str, Any]],
                 undated: set[str], brief: bool) -> go.Figure:
    """The timeline figure of ``marks`` (:class:`TimelineMarks`), binned when ``brief``."""
    order = sorted(entries, key=lambda k: (not entries[k].get("is_designation", True),
                                           str(entries[k].get("listed_on") or "9999"), k))
    groups: dict[str, list[dict[str, Any]]] = {}
    for m in marks:
        groups.setdefault(m["group"], []).append(m)
    traces: list[go.Scatter] = []
    for key in sorted(groups, key=lambda k: ("context" in k, k)):
        ms = groups[key]
        colour = (_CONTEXT_COLOUR if "context" in key
                  else _LISTED_COLOURS.get(key.rsplit(" ", 1)[-1], "#6b6b6b"))

        def hover(m: dict[str, Any]) -> str:
            r = _row(m["src"])
            who = ", ".join(m["authors"][:4]) + (" …" if len(m["authors"]) > 4 else "")
            when = (f"{r.get('publication_date')} (year only; drawn on 1 January)"
                    if m["year_only"] else str(r.get("publication_date")))
            return str(_chart_text().work_mark(r, when, who))

        if brief:  # thousands of marks: one dot per (entry, year), sized by its works
            traces.append(_binned_trace(ms, key, colour, entries))
            continue
        traces.append(go.Scatter(
            x=[m["x"] for m in ms], y=[m["y"] for m in ms], mode="markers", name=key,
            hoverinfo="text", hovertext=[hover(m) for m in ms],
            marker={"color": colour, "size": 11, "line": {"width": 1.5, "color": colour},
                    "symbol": ["circle-open" if m["year_only"] else "circle" for m in ms]}))
    for what, field in (("listing date", "listed_on"), ("removal date", "removed_on")):
        xs, ys, hs = [], [], []
        colour = "#111111" if field == "listed_on" else "#7b3294"
        for label in order:
            r = entries[label]
            d = str(r.get(field) or "")
            if len(d) == 10:
                xs.append(d)
                ys.append(label)
                hs.append(str(_chart_text().list_date(r, what, d)))
        if xs:
            traces.append(go.Scatter(
                x=xs, y=ys, mode="markers", name=what, hoverinfo="text", hovertext=hs,
                marker={"symbol": "line-ns-open", "size": 16, "color": colour,
                        "line": {"width": 3, "color": colour}}))
    fig = go.Figure(data=traces)
    fig.update_layout(
        template="plotly_white", height=min(140 + 30 * max(len(order), 1), 2400),
        margin={"l": 10, "r": 10, "t": 10, "b": 40}, hovermode="closest",
        legend={"orientation": "h", "y": -0.08, "yanchor": "top"},
        xaxis={"type": "date", "title": {"text": "publication date"}},
        yaxis={"type": "category", "categoryorder": "array",
               "categoryarray": list(reversed(order)), "automargin": True,
               "tickmode": "array", "tickvals": list(reversed(order)),
               "ticktext": [str(_chart_text().entry_tick(entries[x]))
                            for x in reversed(order)]},
        hoverlabel={"align": "left"},
        meta={"undated": len(undated), "brief_hover": brief},
    )
    return fig


# --------------------------------------------------------------------------- page parts


@lru_cache(maxsize=1)
def _plotly_js() -> str:
    text = resources.files("tracker").joinpath(PLOTLY_BUNDLE["file"]).read_text("utf-8")
    if "</script" in text.lower():
        raise ValueError("the vendored plotly.js contains '</script' and cannot be inlined")
    return text


def _csp_hash(script: str) -> str:
    digest = hashlib.sha256(script.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


def _fig_json(fig: go.Figure) -> str:
    return _escape_json_text(pio.to_json(fig, validate=False, pretty=False))


@lru_cache(maxsize=2)
def _static(name: str) -> Markup:
    """A stylesheet or script of tracker's own (``tracker/templates``), inlined as it is."""
    return Markup(resources.files("tracker").joinpath(f"templates/{name}").read_text("utf-8"))


class _Overview:
    """Counts over every finding, gathered in one pass (:meth:`add`, one row at a time): what
    the summary, the data gaps, the filters and the "leaves out" block need, without keeping
    the findings' rows.

    The counts that depend only on a finding's list entry, listing and review fields are
    gathered as one count per distinct combination of those fields (a few hundred in a run
    of a million works) and spread into the counters by :meth:`settle`, once the pass is
    over: a finding costs one count rather than eight (760,280 findings, the pass with the
    timeline's marks and the table's rows: 3.5–4.0 s before, 1.8 s).
    """

    def __init__(self, wanted: Iterable[str] = (), *, by_work: bool = False) -> None:
        self.n = 0
        self.works: set[str] = set()
        self.designation = 0
        # (work, author, institution) ties: whether any of a tie's findings is on a
        # designation list.  ``by_work``: the findings come work by work (a spooled run, in
        # its order), so only the current work's ties are held and the rest counted
        self.by_work = by_work
        self.ties: dict[tuple[str, str, str], bool] = {}
        self._work = ""
        self._context_only = 0
        self.by_list: Counter[tuple[str, bool]] = Counter()
        self.status: Counter[str] = Counter()
        self.listed: Counter[str] = Counter()
        self.unknown_listing = 0
        self.unknown_at = 0
        self.options: dict[str, set[str]] = {
            k: set() for k in ("list", "listed_at_publication", "review_status")}
        self.entries: Counter[str] = Counter()
        self.entry_rows: dict[str, dict[str, Any]] = {}
        self.wanted = set(wanted)
        self.by_id: dict[str, dict[str, Any]] = {}
        # (entry label, list, entry name, is_designation as given, designated, listed_on,
        # removed_on, review_status, listed_at_publication): findings, in first-seen order
        self._groups: Counter[tuple[Any, ...]] = Counter()

    def add(self, r: Mapping[str, Any]) -> None:
        """Count the finding whose row is ``r`` (:meth:`settle` once all are counted)."""
        get = r.get
        designated = bool(get("is_designation", True))
        self._count(str(get("work_id")), str(get("author_id") or get("author_name")),
                    str(get("institution_id") or get("institution_ror")
                        or get("list_entry_name")), designated)
        self._groups[(entry_label(r), get("list"), get("list_entry_name"),
                      get("is_designation"), designated, get("listed_on"), get("removed_on"),
                      get("review_status"), get("listed_at_publication"))] += 1
        if self.wanted and str(get("finding_id")) in self.wanted:
            self.by_id[str(get("finding_id"))] = dict(r)

    def add_finding(self, f: Finding, label: str) -> None:
        """:meth:`add` of ``f``'s row, read from the finding (``label``: its
        :func:`entry_label`)."""
        designated = bool(f.is_designation)
        self._count(str(f.work_id), str(f.author_id or f.author_name),
                    str(f.institution_id or f.institution_ror or f.list_entry_name),
                    designated)
        self._groups[(label, f.list, f.list_entry_name, f.is_designation, designated,
                      f.listed_on, f.removed_on, f.review_status,
                      f.listed_at_publication)] += 1
        if self.wanted and str(f.finding_id) in self.wanted:
            self.by_id[str(f.finding_id)] = f.row()

    def _count(self, work: str, author: str, institution: str, designated: bool) -> None:
        self.n += 1
        self.works.add(work)
        self.designation += designated
        if self.by_work and work != self._work:
            self._context_only += sum(1 for d in self.ties.values() if not d)
            self.ties, self._work = {}, work
        key = (work, author, institution)
        self.ties[key] = self.ties.get(key, False) or designated

    def settle(self) -> None:
        """Spread the counts gathered per combination of fields into the counters (each
        combination once: a second call adds nothing)."""
        groups, self._groups = self._groups, Counter()
        opts = self.options
        for (label, lst, name, given, designated, listed_on, removed_on, review,
             at), n in groups.items():
            self.by_list[(str(lst), designated)] += n
            self.status[str(review or "unreviewed")] += n
            self.listed[str(at)] += n
            self.unknown_listing += n * (not listed_on)
            self.unknown_at += n * (at == "unknown")
            opts["list"].add(str(lst or ""))
            opts["listed_at_publication"].add(str(at or ""))
            opts["review_status"].add(str(review or ""))
            self.entries[label] += n
            if label not in self.entry_rows:
                self.entry_rows[label] = {"list": lst, "list_entry_name": name,
                                          "is_designation": given, "listed_on": listed_on,
                                          "removed_on": removed_on}

    def context_only_ties(self) -> int:
        """(work, author, institution) ties whose every finding is on a context list."""
        return self._context_only + sum(1 for d in self.ties.values() if not d)

    def top_entries(self, k: int) -> list[str]:
        """The ``k`` list entries with the most findings (then by name): entries of lists
        (institutions), never people."""
        return sorted(self.entries, key=lambda e: (-self.entries[e], e))[:k]


def _largest(items: Iterable[tuple[Any, ...]], n: int) -> list[tuple[Any, ...]]:
    """The ``n`` largest of ``items``, largest first: ``heapq.nlargest(n, items)`` for
    items that never compare equal (:func:`_overview_rows` gives each its place).

    Why not the heap: a run on disk gives its findings in date order, so each is newer than
    the rows kept and replaced one of them (771,890 heap replacements of 788,020 findings;
    760,280 findings in date order: the report's pass took 1.66–1.69 s with the heap,
    1.29–1.32 s with this).  Items are held in a list, and past ``8 * n`` sorted, the largest
    ``n`` kept and the smallest of them taken as the bar the next must pass: in date order
    that sort meets two sorted runs (a few comparisons an item), in any other order the bar
    turns most items away with one comparison.

    Examples
    --------
    >>> import heapq, random
    >>> xs = [(random.random(), i) for i in range(10_000)]
    >>> _largest(xs, 5) == heapq.nlargest(5, xs) == sorted(xs, reverse=True)[:5]
    True
    >>> _largest(sorted(xs), 5) == sorted(xs, reverse=True)[:5], _largest([], 5)
    (True, [])
    """
    if n <= 0:
        return []
    held: list[tuple[Any, ...]] = []
    bar: tuple[Any, ...] | None = None
    for item in items:
        if bar is not None and item < bar:
            continue
        held.append(item)
        if len(held) >= 8 * n:
            held.sort(reverse=True)
            del held[n:]
            bar = held[-1]
    held.sort(reverse=True)
    return held[:n]


def _overview_rows(findings: Iterable[Finding | Mapping[str, Any]], ov: _Overview,
                   marks: TimelineMarks | None = None
                   ) -> Iterator[tuple[tuple[str, str, str], int, Finding | Mapping[str, Any]]]:
    """Each finding counted by ``ov`` (and taken into ``marks``), as (the table's order key,
    :func:`_newest_first`; minus the finding's place; the finding or its row): no two
    compare equal, and of two equal keys the earlier finding is the larger, so
    :func:`_largest` keeps the rows :func:`heapq.nlargest` with ``key=`` kept, with no key
    function called a finding.  ``ov`` is settled once every finding is counted.

    A :class:`~tracker.risk.Finding` is read for the fields the overview needs only, and
    its entry label made once for the overview and the marks; its whole row is built for
    the table's rows alone."""
    place = 0
    for f in findings:
        place -= 1
        if isinstance(f, Finding):
            label = _entry_label_of(f.list_entry_name, f.list)
            if marks is not None:
                marks.add(f, label)
            ov.add_finding(f, label)
            yield _order(f.publication_date, f.work_id, f.list), place, f
        else:
            if marks is not None:
                marks.add(f)
            r = _row(f)
            ov.add(r)
            yield _newest_first(r), place, r
    ov.settle()


def _newest_first(r: Mapping[str, Any]) -> tuple[str, str, str]:
    """The table's order (with ``reverse``): newest publication date, then work, list."""
    return _order(r.get("publication_date"), r.get("work_id"), r.get("list"))


def _order(publication_date: object, work_id: object, list_code: object
           ) -> tuple[str, str, str]:
    """:func:`_newest_first` of these values (the report's pass reads them itself)."""
    return (str(publication_date or ""), str(work_id), str(list_code))


def _gap_items(run: Mapping[str, Any], ov: _Overview) -> list[dict[str, Any]]:
    """The data gaps in words: ``label``, ``value`` and how to show it (``style``)."""
    items: list[dict[str, Any]] = []
    gaps = run.get("data_gaps") or {}
    if isinstance(gaps, Mapping):
        for key, value in gaps.items():
            label = _GAP_LABELS.get(key, key.replace("_", " "))
            if isinstance(value, list | tuple):
                if not value:
                    continue
                shown = "; ".join(str(v) if not isinstance(v, Mapping) else
                                  ", ".join(f"{a}: {b}" for a, b in v.items())
                                  for v in value[:5])
                more = f" … (+{len(value) - 5} more)" if len(value) > 5 else ""
                items.append({"label": label, "value": shown + more, "style": "plain"})
            elif isinstance(value, bool) or value is None:
                items.append({"label": label, "value": str(value), "style": "bold"})
            elif isinstance(value, int | float):
                items.append({"label": label, "value": value, "style": "count"})
            elif isinstance(value, Mapping):
                items.append({"label": label, "value": json.dumps(value, ensure_ascii=False),
                              "style": "plain"})
            else:
                items.append({"label": label, "value": value, "style": "bold"})
    items.append({"label": "findings whose listing date no source gives",
                  "value": ov.unknown_listing, "style": "count"})
    items.append({"label": "findings whose listing status at publication is unknown",
                  "value": ov.unknown_at, "style": "count"})
    return items


def _summary(result: ScreenResultLike, run: Mapping[str, Any],
             ov: _Overview) -> dict[str, Any]:
    counts = run.get("counts") or {}
    cards = [
        (counts.get("works_read", len(result.works)), "works read"),
        (counts.get("works_skipped", 0), "records skipped"),
        (counts.get("authorships", "—"), "authorships screened"),
        (ov.n, "findings (ties to review)"),
        (len(ov.works), "works with a finding"),
        (ov.designation, "findings on designation lists"),
        (ov.n - ov.designation, "findings on context lists (assessments)"),
        (ov.context_only_ties(), "ties flagged by context lists only"),
    ]
    by_list, status, listed = ov.by_list, ov.status, ov.listed
    specs = subject_specs(result.subjects) or subject_specs(
        {"items": run.get("subjects")} if isinstance(run.get("subjects"), list)
        else run.get("subjects"))
    return {
        "cards": cards,
        "by_list": sorted(by_list.items(), key=lambda kv: (not kv[0][1], kv[0][0])),
        "by_status": sorted(status.items()),
        "by_listed": [(k, listed[k]) for k in ("yes", "unknown", "no") if listed.get(k)],
        "subjects": [{"kind": kind, "ids": [(labels.get(i, i), i) for i in ids[:50]],
                      "more": max(len(ids) - 50, 0)} for kind, ids, labels in specs],
        "top_entries": [(ov.entry_rows[e], ov.entries[e]) for e in ov.top_entries(TOP_ENTRIES)],
        "entries_total": len(ov.entries),
    }


#: Rows per table in the "changes since the previous run" section.
CHANGES_MAX_ROWS = 200
_CHANGE_FIELDS = {"listed_at_publication": "listed at publication", "outcome": "outcome",
                  "list_editions": "list editions", "listed_on": "listing date"}


def _wanted_ids(run: Mapping[str, Any]) -> list[str]:
    """The finding IDs whose rows the "changes" section shows (new and changed ties)."""
    d = run.get("diff")
    if not isinstance(d, Mapping):
        return []
    return ([str(x) for x in (d.get("new") or [])[:CHANGES_MAX_ROWS]]
            + [str(ch.get("finding_id")) for ch in (d.get("changed_fields") or [])
               [:CHANGES_MAX_ROWS] if isinstance(ch, Mapping)])


def _changes(run: Mapping[str, Any], by_id: Mapping[str, dict[str, Any]]
             ) -> dict[str, Any] | None:
    """The "changes since the previous run" section, from the run record's ``diff`` (set when
    the run is kept in a case file; absent otherwise, and then no section)."""
    d = run.get("diff")
    if not isinstance(d, Mapping):
        return None
    if d.get("previous_run") is None:
        return {"first": True}
    counts = d.get("counts") or {}
    reg = d.get("registry") or {}
    added, dropped = reg.get("editions_added") or [], reg.get("editions_dropped") or []
    before, after = reg.get("before"), reg.get("after")
    lists = ({"before": before, "after": after, "added": added, "dropped": dropped}
             if added or dropped or (before and after and before != after) else None)
    new_ids = [str(x) for x in d.get("new") or []]
    looked = set(d.get("changed_since_review") or [])
    changed = list(d.get("changed_fields") or [])
    gone_rows = list(d.get("gone_rows") or [])
    return {
        "first": False, "previous_run": d.get("previous_run"), "counts": counts,
        "lists": lists,
        "new": [(i, by_id[i]) for i in new_ids[:CHANGES_MAX_ROWS] if i in by_id],
        "new_total": len(new_ids),
        "changed": [{"fid": str(ch.get("finding_id")),
                     "row": by_id.get(str(ch.get("finding_id"))),
                     "what": [(_CHANGE_FIELDS.get(k, k), v.get("before"), v.get("after"))
                              for k, v in (ch.get("changes") or {}).items()],
                     "look_again": str(ch.get("finding_id")) in looked}
                    for ch in changed[:CHANGES_MAX_ROWS]],
        "changed_total": len(changed),
        "gone": gone_rows[:CHANGES_MAX_ROWS], "gone_total": len(d.get("gone") or []),
        "nothing": not any(counts.get(k) for k in ("new", "gone", "changed")),
    }


_TABLE_COLUMNS: tuple[tuple[str, str, str], ...] = (
    # (header, row key, css class)
    ("Work", "title", "title"), ("Published", "publication_date", ""),
    ("Author", "author_name", ""), ("Tie", "relation", ""),
    ("Raw affiliation", "raw_affiliation", "aff"),
    ("Institution (OpenAlex)", "institution_name", ""), ("List", "list", ""),
    ("List entry", "list_entry_name", ""), ("Listed on", "listed_on", ""),
    ("Listed at publication", "listed_at_publication", ""), ("Match", "match_method", ""),
    ("Score", "match_score", ""), ("Confidence", "confidence", ""), ("Outcome", "outcome", ""),
    ("Review status", "review_status", ""), ("Data gaps", "data_gaps", ""),
    ("Finding ID", "finding_id", ""),
)


def _table(rows: list[dict[str, Any]], ov: _Overview) -> dict[str, Any]:
    return {
        "columns": _TABLE_COLUMNS, "rows": rows, "total": ov.n,
        "options": {key: sorted(values) for key, values in ov.options.items()},
    }


def _files_note(run: Mapping[str, Any]) -> dict[str, Any]:
    """Which files beside the report hold the full data, from the run record's ``outputs``
    (set by :func:`tracker.exports.write_report_folder`)."""
    outputs = run.get("outputs")
    if not isinstance(outputs, Mapping):
        return {"complete": [], "partial": [], "left_out": [], "known": False,
                "formats": None}
    files = outputs.get("files") or {}
    formats = outputs.get("formats")
    return {"known": True,
            "formats": [str(f) for f in formats] if isinstance(formats, list) else None,
            "complete": [f for f, d in files.items()
                         if isinstance(d, Mapping) and d.get("complete") and "findings" in d],
            "partial": [(f, d.get("findings")) for f, d in files.items()
                        if isinstance(d, Mapping) and d.get("complete") is False
                        and "findings" in d],
            "left_out": [(str(x.get("file")), str(x.get("reason")))
                         for x in outputs.get("left_out") or [] if isinstance(x, Mapping)]}


def _plain(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, list | tuple):
        return ", ".join(_plain(v) for v in value) if value else "(none)"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def _method(run: Mapping[str, Any]) -> dict[str, Any]:
    settings = run.get("settings") or {}
    reg = run.get("registry") or {}
    command = run.get("command", "")
    if isinstance(command, list | tuple):
        command = shlex.join(str(c) for c in command)
    tool = [("tool", f"{run.get('tool', 'tracker')} {run.get('version', 'unknown')}"),
            ("command", command), ("started", run.get("started_at", "")),
            ("finished", run.get("finished_at", "")),
            ("registry version", reg.get("version", "unknown"))]
    return {
        "settings": [(k, _plain(v)) for k, v in settings.items()],
        "tool": [(k, _plain(v)) for k, v in tool],
        "editions": [ed for ed in reg.get("editions") or [] if isinstance(ed, Mapping)],
        "inputs": [(str(i), _plain(x)) for i, x in enumerate(run.get("inputs") or [])],
    }


@collector_paused()
def render_report(result: ScreenResultLike, *, max_network_nodes: int = 400,
                  seed: int = 7, generated_at: datetime | None = None,
                  network: nx.Graph | None = None,
                  run: Mapping[str, Any] | None = None) -> str:
    """The report as one HTML string (see :func:`write_report`)."""
    if not 3 <= max_network_nodes <= 2000:
        raise ValueError("max_network_nodes must be between 3 and 2000: a larger network is "
                         "unreadable in a browser (open network.graphml in Gephi instead)")
    record = clean_run_record(result.run if run is None else run)
    findings = result.findings
    # one pass over every finding: the counts, and the newest rows for the table (only
    # those rows are kept, by _largest); a run on disk gathers the timeline's marks in the
    # same pass (a pass reads every finding back: two million generated works, about 6 s),
    # a run held draws them from its list
    spooled = isinstance(findings, SpooledFindings)
    ov = _Overview(_wanted_ids(record), by_work=spooled)
    marks = TimelineMarks() if spooled else None
    rows = [_row(f) for _key, _place, f in _largest(_overview_rows(findings, ov, marks),
                                                    TABLE_MAX_ROWS)]
    when = (generated_at or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    figures: list[dict[str, Any]] = []
    drawn: dict[str, Any] | None = None
    leaves_out: list[str] = []
    if ov.n > len(rows):
        leaves_out.append(
            f"The findings table shows the newest {len(rows):,} of {ov.n:,} findings (by "
            f"publication date): {ov.n - len(rows):,} findings are not in it.")
    if ov.n:
        if network is None:
            g, note = flagged_network(result, max_nodes=max_network_nodes)
        else:
            g, note = prune_flagged_network(network, result, max_network_nodes)
        if g.graph.get("pruned"):
            leaves_out.append(
                f"The network draws {g.graph.get('works_shown', 0):,} of "
                f"{g.graph.get('works_flagged', 0):,} flagged works ({len(g):,} of "
                f"{g.graph.get('nodes_total', 0):,} nodes): works with a designation-list "
                f"finding first, then listed at publication yes, unknown, no, then newest; "
                f"network.graphml and network.gexf hold the larger network.")
        tl, kept, entry_note = capped_timeline(findings, ov.entries, marks=marks)
        if entry_note:
            leaves_out.append(entry_note)
        figures = [{"div": "fig-network", "json": "fig-network-data",
                    "data": Markup(_fig_json(network_figure(g, seed=seed)))},
                   {"div": "fig-timeline", "json": "fig-timeline-data",
                    "data": Markup(_fig_json(tl))}]
        meta = tl.layout.meta or {}
        drawn = {"note": note, "seed": seed, "undated": int(meta.get("undated", 0)),
                 "binned": bool(meta.get("brief_hover")),
                 "entries": (kept, len(ov.entries))}
        if ov.entries and len(ov.entries) > TOP_ENTRIES:
            leaves_out.append(
                f"The summary names the {TOP_ENTRIES} list entries with the most findings, "
                f"of {len(ov.entries):,}.")
    changes = _changes(record, ov.by_id)
    if changes and not changes.get("first"):
        for what, shown, total in (("new", len(changes["new"]), changes["new_total"]),
                                   ("changed", len(changes["changed"]),
                                    changes["changed_total"]),
                                   ("gone", len(changes["gone"]), changes["gone_total"])):
            if total > shown:
                leaves_out.append(f"The changes since the previous run list {shown:,} of "
                                  f"{total:,} {what} ties (run.json's diff has them all).")
    plotly_js, app_js = _plotly_js(), _static("report.js")
    csp = ("default-src 'none'; script-src " + _csp_hash(plotly_js) + " "
           + _csp_hash(app_js) + "; style-src 'unsafe-inline'; img-src data: blob:; "
           "font-src 'none'; connect-src 'none'; media-src 'none'; object-src 'none'; "
           "frame-src 'none'; worker-src 'none'; base-uri 'none'; form-action 'none'")
    return _templates().get_template("report.html.j2").render(
        csp=csp, css=_static("report.css"), when=when,
        version=f"{record.get('tool', 'tracker')} {record.get('version', 'unknown')}",
        rows=ov.n, gaps=_gap_items(record, ov), summary=_summary(result, record, ov),
        changes=changes, network=drawn, table=_table(rows, ov),
        leaves_out=leaves_out, files=_files_note(record),
        relation_text=_RELATION_TEXT, method=_method(record), plotly=PLOTLY_BUNDLE,
        figures=figures,
        figures_index=Markup(safe_json([{"div": f["div"], "json": f["json"],
                                          "config": _PLOT_CONFIG} for f in figures])),
        plotly_js=Markup(plotly_js), app_js=app_js)


def write_report(result: ScreenResultLike, out_dir: str | Path, *,
                 max_network_nodes: int = 400, seed: int = 7,
                 network: nx.Graph | None = None,
                 run: Mapping[str, Any] | None = None) -> Path:
    """Write ``out_dir/report.html``: one self-contained file that opens offline.

    Parameters
    ----------
    result : ScreenResultLike
        A screening result (findings, works, run record, subjects).
    out_dir : str or Path
        Created if missing.
    max_network_nodes : int, default 400
        The network drawn in the report is pruned to this many nodes, and says so (the full
        network is in network.graphml from :func:`tracker.exports.write_report_folder`).
    seed : int, default 7
        Seed of the network layout.
    network : networkx.Graph, optional
        The flagged network already built for ``result`` (:func:`tracker.graph.flagged_network`,
        e.g. for network.graphml): the report draws its first works
        (:func:`tracker.graph.prune_flagged_network`) instead of planning another.
    run : mapping, optional
        The run record to show instead of ``result.run`` (scrubbed of secrets here unless
        :func:`tracker.redaction.clean_run_record` made it).

    Returns
    -------
    Path
        The report's path.

    Examples
    --------
    >>> import tempfile
    >>> from types import SimpleNamespace
    >>> r = SimpleNamespace(findings=[], works={}, subjects={"kind": "files"},
    ...                     run={"tool": "tracker", "version": "0.1.0"})
    >>> with tempfile.TemporaryDirectory() as d:
    ...     text = write_report(r, d).read_text("utf-8")
    >>> "no findings. That is not clearance" in text
    True
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "report.html"
    text = render_report(result, max_network_nodes=max_network_nodes, seed=seed,
                         network=network, run=run)
    path.write_text(text, encoding="utf-8")
    return path
