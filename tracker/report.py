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
Titles, names and affiliations come from the internet.  Every text is HTML-escaped
(:func:`html.escape`); text shown inside charts is escaped for plotly's pseudo-HTML; data
embedded as JSON escapes ``<``, ``>``, ``&``, U+2028 and U+2029 (:func:`safe_json`), so
``</script>`` cannot end a script block.  Text like ``<script>`` is shown, never run.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import math
import shlex
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import networkx as nx
import plotly.graph_objects as go
import plotly.io as pio

from tracker.graph import ScreenResultLike, flagged_network, subject_specs
from tracker.redaction import clean_run_record
from tracker.risk import Finding

__all__ = [
    "PLOTLY_BUNDLE",
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
# thousands of findings; the report says so, and findings.csv/json/xlsx always hold every row.
TABLE_MAX_ROWS = 600
# Above this many timeline marks (work x list entry), the timeline draws one dot per (list
# entry, publication year) sized by its number of works, and says so.
TIMELINE_FULL_HOVER = 1500


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


def _e(value: object) -> str:
    """HTML-escape any value for element text or a quoted attribute."""
    return html.escape("" if value is None else str(value), quote=True)


def _pt(value: object, limit: int = 140) -> str:
    """Text for plotly hover labels: shortened and escaped (plotly reads a little HTML)."""
    text = " ".join(("" if value is None else str(value)).split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return html.escape(text, quote=False)


def _href(url: object) -> str | None:
    """An ``https://``/``http://`` URL fit for a link, else None (no javascript: links)."""
    if not isinstance(url, str):
        return None
    u = url.strip()
    if u.lower().startswith(("https://", "http://")) and not any(c in u for c in " \"'<>`"):
        return u
    return None


def _link(url: object, text: object) -> str:
    href = _href(url)
    if href is None:
        return _e(text)
    return f'<a href="{_e(href)}" rel="noopener noreferrer">{_e(text)}</a>'


# --------------------------------------------------------------------------- figures


def _row(f: Finding | Mapping[str, Any]) -> dict[str, Any]:
    return f.row() if isinstance(f, Finding) else dict(f)


def _layout_positions(g: nx.Graph, seed: int, aspect: float = 2.0) -> dict[Any, Any]:
    """Spring layout per connected component, components packed in rows (wide, not tall).

    One spring layout of a graph of many small components squeezes each into a dot; laying
    each out on its own, with room growing as the square root of its size, keeps ties
    visible.  Deterministic for a given seed.
    """
    if len(g) == 0:
        return {}
    comps = sorted((sorted(c, key=str) for c in nx.connected_components(g)),
                   key=lambda c: (-len(c), str(c[0])))
    placed: list[tuple[list[Any], dict[Any, Any], float]] = []
    for nodes in comps:
        sub = g.subgraph(nodes)
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

    def evidence(u: Any, v: Any) -> str:
        d = g.edges[u, v]
        a, i = (u, v) if g.nodes[u].get("kind") == "author" else (v, u)
        lines = [f"<b>{_pt(g.nodes[a].get('label'), 60)}</b> — "
                 f"<b>{_pt(g.nodes[i].get('label'), 60)}</b>"]
        ev = str(d.get("evidence", "")).split("\n")
        for x in ev[:8]:
            head, _, raw = x.partition("; raw affiliation: ")
            lines.append(_pt(head, 200))
            if raw:
                lines.append("· raw affiliation: " + _pt(raw, 110))
        if len(ev) > 8:
            lines.append(f"… and {len(ev) - 8} more (see the findings table)")
        return "<br>".join(lines)

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
        head = f"<b>{_pt(d.get('label'), 90)}</b>"
        if kind == "work":
            lines = [head, f"work {_pt(d.get('work_id'))}, published "
                            f"{_pt(d.get('date') or 'date unknown')}"]
            if d.get("doi"):
                lines.append(_pt(d.get("doi")))
        elif kind == "author":
            lines = [head, f"author {_pt(d.get('author_id') or 'without OpenAlex ID')}"]
            for nb in g[n]:
                if g.edges[n, nb].get("relation") == "flagged affiliation":
                    lines.append(f"flagged affiliation: {_pt(g.nodes[nb].get('label'), 70)}")
        else:
            ids = " ".join(x for x in (d.get("institution_id", ""), d.get("ror", "")) if x)
            lines = [head, f"institution {_pt(ids or 'no identifier')}"]
            if d.get("lists"):
                kind_txt = "designation" if d.get("designation") else "context only"
                lines.append(f"lists: {_pt(d.get('lists'))} ({kind_txt})")
        if d.get("is_subject"):
            lines.append("<i>screened subject</i>")
        return "<br>".join(lines)

    def node_trace(nodes: list[Any], name: str, symbol: str, colour: str, size: int,
                   labels: bool = False) -> None:
        if not nodes:
            return
        traces.append(go.Scatter(
            x=[float(pos[n][0]) for n in nodes], y=[float(pos[n][1]) for n in nodes],
            mode="markers+text" if labels else "markers", name=name,
            text=[_pt(g.nodes[n].get("label"), 32) for n in nodes] if labels else None,
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
        title={"text": _pt(title)} if title else None,
        margin={"l": 10, "r": 10, "t": 40 if title else 10, "b": 10},
        legend={"orientation": "h", "y": -0.02, "yanchor": "top"},
        xaxis={"visible": False}, yaxis={"visible": False, "scaleanchor": "x"},
        hoverlabel={"align": "left"},
    )
    return fig


def _binned_trace(marks: list[dict[str, Any]], name: str, colour: str) -> go.Scatter:
    """One dot per (list entry, publication year), its size growing with the works in it."""
    bins: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for m in marks:
        bins.setdefault((m["y"], m["x"][:4]), []).append(m)
    xs, ys, hs, sizes, symbols = [], [], [], [], []
    for (label, year), ms in bins.items():
        r = ms[0]["row"]
        year_only = all(m["year_only"] for m in ms)
        xs.append(f"{year}-07-01")
        ys.append(label)
        when = f"in {year}"
        hs.append(f"<b>{len(ms)} flagged work(s)</b>, published {_pt(when)}<br>"
                  f"{_pt(r.get('list'))}: {_pt(r.get('list_entry_name'), 80)}<br>"
                  f"{_pt(name)}")
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
    rows = [_row(f) for f in findings]
    entries: dict[str, dict[str, Any]] = {}
    marks: dict[tuple[str, str], dict[str, Any]] = {}
    undated: set[str] = set()
    for r in rows:
        label = f"{r.get('list_entry_name', '')} · {r.get('list', '')}"
        entries.setdefault(label, r)
        x, year_only = _timeline_x(str(r.get("publication_date") or ""))
        if x is None:
            undated.add(str(r.get("work_id")))
            continue
        m = marks.setdefault((str(r.get("work_id")), label), {
            "x": x, "y": label, "year_only": year_only, "row": r, "authors": []})
        if r.get("author_name") and r["author_name"] not in m["authors"]:
            m["authors"].append(r["author_name"])
    order = sorted(entries, key=lambda k: (not entries[k].get("is_designation", True),
                                           str(entries[k].get("listed_on") or "9999"), k))
    groups: dict[str, list[dict[str, Any]]] = {}
    for m in marks.values():
        r = m["row"]
        key = (f"listed at publication: {r.get('listed_at_publication', 'unknown')}"
               if r.get("is_designation", True) else "context list (assessment, not a "
                                                     "designation)")
        groups.setdefault(key, []).append(m)
    traces: list[go.Scatter] = []
    brief = len(marks) > TIMELINE_FULL_HOVER
    for key in sorted(groups, key=lambda k: ("context" in k, k)):
        ms = groups[key]
        colour = (_CONTEXT_COLOUR if "context" in key
                  else _LISTED_COLOURS.get(key.rsplit(" ", 1)[-1], "#6b6b6b"))

        def hover(m: dict[str, Any]) -> str:
            r = m["row"]
            who = ", ".join(m["authors"][:4]) + (" …" if len(m["authors"]) > 4 else "")
            when = (f"{r.get('publication_date')} (year only; drawn on 1 January)"
                    if m["year_only"] else str(r.get("publication_date")))
            return "<br>".join([
                f"<b>{_pt(r.get('title') or r.get('work_id'), 90)}</b>",
                f"{_pt(r.get('work_id'))}, published {_pt(when)}",
                f"author(s): {_pt(who, 120)}",
                f"raw affiliation: {_pt(r.get('raw_affiliation') or 'none recorded', 120)}",
                f"{_pt(r.get('list'))}: {_pt(r.get('list_entry_name'), 80)}, listed on "
                f"{_pt(r.get('listed_on') or 'unknown')}",
                f"listed at publication: {_pt(r.get('listed_at_publication'))}",
            ])

        if brief:  # thousands of marks: one dot per (entry, year), sized by its works
            traces.append(_binned_trace(ms, key, colour))
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
                hs.append(f"{_pt(r.get('list'))}: {_pt(r.get('list_entry_name'), 80)}<br>"
                          f"{what}: {_pt(d)}")
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
               "ticktext": [f"{_pt(entries[x].get('list_entry_name'), 40)} · "
                            f"{_pt(entries[x].get('list'))}" for x in reversed(order)]},
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


_APP_JS = r"""
(function () {
  'use strict';
  function parse(id) { return JSON.parse(document.getElementById(id).textContent); }
  var figs = parse('tracker-figures');
  figs.forEach(function (f) {
    var el = document.getElementById(f.div);
    if (!el) { return; }
    if (!window.Plotly) { el.textContent = 'The chart library did not load.'; return; }
    var fig = JSON.parse(document.getElementById(f.json).textContent);
    window.Plotly.newPlot(el, fig.data, fig.layout, f.config);
  });
  var table = document.getElementById('findings-table');
  if (!table) { return; }
  var tbody = table.tBodies[0];
  var rows = Array.prototype.slice.call(tbody.rows);
  var shown = document.getElementById('rows-shown');
  var controls = document.querySelectorAll('[data-filter]');
  function apply() {
    var q = document.getElementById('filter-text').value.toLowerCase();
    var n = 0;
    rows.forEach(function (tr) {
      var ok = !q || tr.textContent.toLowerCase().indexOf(q) !== -1;
      controls.forEach(function (c) {
        if (c.value && tr.getAttribute('data-' + c.getAttribute('data-filter')) !== c.value) {
          ok = false;
        }
      });
      tr.hidden = !ok;
      if (ok) { n += 1; }
    });
    shown.textContent = String(n);
  }
  document.getElementById('filter-text').addEventListener('input', apply);
  controls.forEach(function (c) { c.addEventListener('change', apply); });
  var heads = table.tHead.rows[0].cells;
  Array.prototype.forEach.call(heads, function (th, col) {
    var btn = th.querySelector('button');
    if (!btn) { return; }
    btn.addEventListener('click', function () {
      var asc = th.getAttribute('aria-sort') !== 'ascending';
      Array.prototype.forEach.call(heads, function (h) { h.removeAttribute('aria-sort'); });
      th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
      var num = th.getAttribute('data-type') === 'num';
      function key(tr) {
        var td = tr.cells[col];
        var v = td.hasAttribute('data-sort') ? td.getAttribute('data-sort') : td.textContent;
        return num ? parseFloat(v) || 0 : v.toLowerCase();
      }
      rows.sort(function (a, b) {
        var x = key(a), y = key(b);
        var c = x < y ? -1 : (x > y ? 1 : 0);
        return asc ? c : -c;
      });
      rows.forEach(function (tr) { tbody.appendChild(tr); });
    });
  });
  apply();
}());
"""

_CSS = """
:root { --ink:#1d2329; --muted:#5b6770; --line:#d9dee3; --bg:#f6f7f9; --flag:#b2182b;
        --ctx:#d98c00; --ok:#2166ac; }
* { box-sizing: border-box; }
body { margin:0; font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;
       color:var(--ink); background:#fff; }
header.top { background:#1d2329; color:#fff; padding:18px 28px; }
header.top h1 { margin:0 0 4px; font-size:22px; }
header.top p { margin:0; color:#c9d1d9; font-size:13px; }
main { max-width:1400px; margin:0 auto; padding:8px 28px 40px; }
section { margin:26px 0; }
h2 { font-size:18px; border-bottom:2px solid var(--line); padding-bottom:4px; }
h3 { font-size:15px; margin:16px 0 6px; }
.notice { border:3px solid var(--flag); background:#fff5f5; padding:14px 18px; border-radius:6px;
          margin-top:20px; }
.notice h2 { border:0; margin:0 0 6px; color:var(--flag); }
.notice li { margin:3px 0; }
.cards { display:flex; flex-wrap:wrap; gap:12px; }
.card { border:1px solid var(--line); border-radius:6px; padding:10px 14px; min-width:150px;
        background:var(--bg); }
.card b { display:block; font-size:22px; }
.card span { color:var(--muted); font-size:12px; }
table { border-collapse:collapse; font-size:13px; }
th, td { border:1px solid var(--line); padding:4px 7px; text-align:left; vertical-align:top; }
th { background:var(--bg); }
th button { font:inherit; font-weight:600; background:none; border:0; padding:0;
            cursor:pointer; color:inherit; text-align:left; }
th[aria-sort=ascending] button::after { content:" \\25B2"; }
th[aria-sort=descending] button::after { content:" \\25BC"; }
.grid { display:grid; grid-template-columns:repeat(auto-fit,minmax(320px,1fr)); gap:18px; }
.badge { display:inline-block; padding:0 6px; border-radius:8px; font-size:11px;
         font-weight:600; white-space:nowrap; }
.badge.designation { background:#fde0e0; color:var(--flag); }
.badge.context { background:#fff1d6; color:#8a5a00; border:1px dashed var(--ctx); }
.yes { color:var(--flag); font-weight:600; } .no { color:var(--ok); } .unknown { color:#6b6b6b; }
.tablewrap { overflow-x:auto; max-height:720px; overflow-y:auto; border:1px solid var(--line); }
#findings-table { width:100%; }
#findings-table thead th { position:sticky; top:0; z-index:1; }
#findings-table td.title { min-width:240px; max-width:360px; }
#findings-table td.aff { min-width:200px; max-width:320px; }
tr.context-row { background:#fffaf0; }
.filters { display:flex; flex-wrap:wrap; gap:10px; align-items:center; margin:8px 0; }
.filters input, .filters select { font:inherit; padding:3px 6px; }
.note { color:var(--muted); font-size:13px; }
.chart { border:1px solid var(--line); border-radius:6px; min-height:200px; }
code { font-size:12px; overflow-wrap:anywhere; }
dl.kv { display:grid; grid-template-columns:max-content 1fr; gap:2px 14px; font-size:13px; }
dl.kv dt { font-weight:600; } dl.kv dd { margin:0; overflow-wrap:anywhere; }
footer { color:var(--muted); font-size:12px; border-top:1px solid var(--line);
         padding:12px 28px; }
@media print { .filters, th button::after { display:none; } .tablewrap { max-height:none; } }
"""


def _kind_badge(is_designation: bool) -> str:
    if is_designation:
        return '<span class="badge designation">designation</span>'
    return ('<span class="badge context" title="an assessment, not a legal designation">'
            'context: not a designation</span>')


def _count_table(title: str, counts: Sequence[tuple[str, int]], head: str) -> str:
    if not counts:
        return f"<h3>{_e(title)}</h3><p class='note'>none</p>"
    body = "".join(f"<tr><td>{k}</td><td>{v}</td></tr>" for k, v in counts)
    return (f"<h3>{_e(title)}</h3><table><thead><tr><th>{_e(head)}</th><th>findings</th></tr>"
            f"</thead><tbody>{body}</tbody></table>")


def _gap_items(run: Mapping[str, Any], rows: list[dict[str, Any]]) -> list[str]:
    items: list[str] = []
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
                items.append(f"{_e(label)}: {_e(shown)}{_e(more)}")
            elif isinstance(value, bool) or value is None:
                items.append(f"{_e(label)}: <b>{_e(value)}</b>")
            elif isinstance(value, int | float):
                items.append(f"<b>{_e(value)}</b> {_e(label)}")
            elif isinstance(value, Mapping):
                items.append(f"{_e(label)}: {_e(json.dumps(value, ensure_ascii=False))}")
            else:
                items.append(f"{_e(label)}: <b>{_e(value)}</b>")
    unknown_listing = sum(1 for r in rows if not r.get("listed_on"))
    unknown_at = sum(1 for r in rows if r.get("listed_at_publication") == "unknown")
    items.append(f"<b>{unknown_listing}</b> findings whose listing date no source gives")
    items.append(f"<b>{unknown_at}</b> findings whose listing status at publication is unknown")
    return items


def _notice(run: Mapping[str, Any], rows: list[dict[str, Any]]) -> str:
    gaps = "".join(f"<li>{g}</li>" for g in _gap_items(run, rows))
    none = ("<p><b>This screen produced no findings. That is not clearance.</b></p>"
            if not rows else "")
    return f"""
<section class="notice" id="read-first" role="note" aria-labelledby="read-first-h">
<h2 id="read-first-h">Read this first: a flag is evidence for human review, not a
determination</h2>{none}
<ul>
<li>Each finding says that OpenAlex linked an author of a work to an institution that appears on
a list. It is <b>evidence for a reviewer to check</b> (the raw affiliation, the dates, the list
entry), not a finding of wrongdoing, risk or non-compliance, and it says nothing about anyone's
intent, nationality or character.</li>
<li><b>"No findings" is not clearance.</b> The screen sees only what OpenAlex records and only the
lists and editions named below. Missing or wrong affiliations, missing dates, truncated author
lists, name variants and list changes after each list's data date can all hide a tie.</li>
<li>Entries from context lists (ASPI's China Defence Universities Tracker) are <b>assessments,
shown as context</b>: they are not legal designations and carry no obligation on their own.</li>
<li>Nothing here ranks people. Review each tie on its evidence.</li>
</ul>
<h3>Known data gaps in this run</h3>
<ul>{gaps}</ul>
</section>"""


def _context_only_ties(rows: list[dict[str, Any]]) -> int:
    """(work, author, institution) ties whose every finding is on a context list."""
    ties: dict[tuple[str, str, str], bool] = {}
    for r in rows:
        key = (str(r.get("work_id")), str(r.get("author_id") or r.get("author_name")),
               str(r.get("institution_id") or r.get("institution_ror")
                   or r.get("list_entry_name")))
        ties[key] = ties.get(key, False) or bool(r.get("is_designation", True))
    return sum(1 for designated in ties.values() if not designated)


def _summary(result: ScreenResultLike, rows: list[dict[str, Any]]) -> str:
    run = result.run or {}
    counts = run.get("counts") or {}
    works_read = counts.get("works_read", len(result.works))
    cards = [
        (works_read, "works read"),
        (counts.get("works_skipped", 0), "records skipped"),
        (counts.get("authorships", "—"), "authorships screened"),
        (len(rows), "findings (ties to review)"),
        (len({r["work_id"] for r in rows}), "works with a finding"),
        (sum(1 for r in rows if r.get("is_designation", True)),
         "findings on designation lists"),
        (sum(1 for r in rows if not r.get("is_designation", True)),
         "findings on context lists (assessments)"),
        (_context_only_ties(rows), "ties flagged by context lists only"),
    ]
    card_html = "".join(f"<div class='card'><b>{_e(v)}</b><span>{_e(k)}</span></div>"
                        for v, k in cards)
    by_list: Counter[tuple[str, bool]] = Counter(
        (str(r.get("list")), bool(r.get("is_designation", True))) for r in rows)
    list_counts = [(f"{_e(lst)} {_kind_badge(d)}", n)
                   for (lst, d), n in sorted(by_list.items(), key=lambda kv: (not kv[0][1],
                                                                              kv[0][0]))]
    status = Counter(str(r.get("review_status") or "unreviewed") for r in rows)
    listed = Counter(str(r.get("listed_at_publication")) for r in rows)
    specs = subject_specs(result.subjects) or subject_specs(
        {"items": run.get("subjects")} if isinstance(run.get("subjects"), list)
        else run.get("subjects"))
    subj_parts = []
    for kind, ids, labels in specs:
        lis = "".join(f"<li>{_e(labels.get(i, i))} <code>{_e(i)}</code></li>"
                      for i in ids[:50])
        if len(ids) > 50:
            lis += f"<li>… and {len(ids) - 50} more (see run.json)</li>"
        subj_parts.append(f"<p>Kind: <b>{_e(kind)}</b></p><ul>{lis}</ul>")
    subj_html = "".join(subj_parts) or (
        "<p>No subject: every work in the input was screened as given.</p>")
    return f"""
<section id="summary"><h2>Summary</h2>
<div class="cards">{card_html}</div>
<div class="grid">
<div>{_count_table("Findings by list", list_counts, "list")}</div>
<div>{_count_table("Findings by review status",
                   [(_e(k), v) for k, v in sorted(status.items())], "review status")}</div>
<div>{_count_table("Listed at the work's publication date?",
                   [(f"<span class='{_e(k)}'>{_e(k)}</span>", listed.get(k, 0))
                    for k in ("yes", "unknown", "no") if listed.get(k)], "answer")}</div>
<div><h3>Subjects screened</h3>{subj_html}</div>
</div></section>"""


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


def _table(rows: list[dict[str, Any]]) -> str:
    def cell(r: dict[str, Any], key: str, cls: str) -> str:
        c = f' class="{cls}"' if cls else ""
        v = r.get(key)
        if key == "title":
            wid = str(r.get("work_id") or "")
            link = _link(f"https://openalex.org/{wid}", wid) if wid.startswith("W") else _e(wid)
            doi = _link(r.get("doi"), "DOI") if _href(r.get("doi")) else ""
            return (f"<td{c} data-sort='{_e(str(v or '').lower())}'>{_e(v or '(no title)')}"
                    f"<br><small>{link} {doi}</small></td>")
        if key == "author_name":
            aid = str(r.get("author_id") or "")
            sub = (_link(f"https://openalex.org/{aid}", aid) if aid.startswith("A")
                   else "no OpenAlex author ID")
            return f"<td{c}>{_e(v or '(no name)')}<br><small>{sub}</small></td>"
        if key == "institution_name":
            ids = " ".join(_e(x) for x in (r.get("institution_id"), r.get("institution_ror"))
                           if x)
            return f"<td{c}>{_e(v or '—')}<br><small>{ids}</small></td>"
        if key == "list":
            return f"<td{c}>{_e(v)}<br>{_kind_badge(bool(r.get('is_designation', True)))}</td>"
        if key == "listed_at_publication":
            return f"<td{c}><span class='{_e(v)}'>{_e(v)}</span></td>"
        if key == "relation":
            return f"<td{c}>{_e(_RELATION_TEXT.get(str(v or ''), v))}</td>"
        if key == "match_score":
            return f"<td{c} data-sort='{_e(v)}'>{_e(v)}</td>"
        if key == "listed_on":
            return f"<td{c} data-sort='{_e(v or '9999')}'>{_e(v or 'unknown')}</td>"
        if key == "publication_date":
            return f"<td{c} data-sort='{_e(v or '0000')}'>{_e(v or 'unknown')}</td>"
        return f"<td{c}>{_e(v)}</td>"

    num = " data-type='num'"
    head = "".join(
        f"<th scope='col'{num if k == 'match_score' else ''}>"
        f"<button type='button'>{_e(h)}</button></th>" for h, k, _ in _TABLE_COLUMNS)
    body = []
    shown = rows[:TABLE_MAX_ROWS]
    for r in shown:
        d = bool(r.get("is_designation", True))
        attrs = (f" data-list='{_e(r.get('list'))}' data-status='{_e(r.get('review_status'))}'"
                 f" data-listed='{_e(r.get('listed_at_publication'))}'"
                 f" data-kind='{'designation' if d else 'context'}'")
        cls = "" if d else " class='context-row'"
        body.append(f"<tr{cls}{attrs}>"
                    + "".join(cell(r, k, c) for _, k, c in _TABLE_COLUMNS) + "</tr>")

    def options(key: str) -> str:
        vals = sorted({str(r.get(key) or "") for r in rows})
        return "".join(f"<option value='{_e(v)}'>{_e(v)}</option>" for v in vals)

    return f"""
<section id="findings"><h2>Findings</h2>
<p class="note">One row per tie (work, author, institution, list entry). Click a column header
to sort; type or choose to filter. All columns are in findings.csv / findings.json /
findings.xlsx.</p>
<div class="filters">
<label>Search <input id="filter-text" type="search" placeholder="title, name, affiliation…">
</label>
<label>List <select data-filter="list"><option value="">all</option>{options("list")}
</select></label>
<label>Kind <select data-filter="kind"><option value="">all</option>
<option value="designation">designation</option><option value="context">context</option>
</select></label>
<label>Listed at publication <select data-filter="listed"><option value="">all</option>
{options("listed_at_publication")}</select></label>
<label>Review status <select data-filter="status"><option value="">all</option>
{options("review_status")}</select></label>
<span class="note"><b id="rows-shown">{len(shown)}</b> of {len(shown)} rows shown</span>
</div>{_subset_note(len(shown), len(rows))}
<div class="tablewrap"><table id="findings-table"><thead><tr>{head}</tr></thead>
<tbody>{"".join(body)}</tbody></table></div>
</section>"""


def _subset_note(shown: int, total: int) -> str:
    """A plain warning when the table holds only part of the findings."""
    if shown >= total:
        return ""
    return (f"<p class='notice' id='table-subset'><b>This table shows {shown:,} of {total:,} "
            f"findings</b> (the newest {shown:,} by publication date); filters and sorting act "
            f"on these rows only. Every finding is in findings.csv, findings.json and "
            f"findings.xlsx next to this report.</p>")


#: Rows per table in the "changes since the previous run" section.
CHANGES_MAX_ROWS = 200
_CHANGE_FIELDS = {"listed_at_publication": "listed at publication", "outcome": "outcome",
                  "list_editions": "list editions", "listed_on": "listing date"}


def _change_table(caption: str, head: Sequence[str], body: list[list[str]], total: int) -> str:
    """One small table of the changes section (cells already escaped)."""
    if not body:
        return ""
    more = (f"<p class='note'>{len(body):,} of {total:,} shown; every ID is in run.json "
            f"(<code>diff</code>) and <code>tracker diff</code> prints them all.</p>"
            if total > len(body) else "")
    cells = "".join(f"<th scope='col'>{_e(h)}</th>" for h in head)
    rows = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in body)
    return (f"<h3>{_e(caption)} ({total:,})</h3>{more}<div class='tablewrap'><table>"
            f"<thead><tr>{cells}</tr></thead><tbody>{rows}</tbody></table></div>")


def _changes(run: Mapping[str, Any], rows: list[dict[str, Any]]) -> str:
    """The "changes since the previous run" section, from the run record's ``diff`` (set when
    the run is kept in a case file; absent otherwise, and then no section)."""
    d = run.get("diff")
    if not isinstance(d, Mapping):
        return ""
    head = "<section id='changes'><h2>Changes since the previous run of this screen</h2>"
    if d.get("previous_run") is None:
        return (f"{head}<p>This is the first run of this screen in the case file, so there "
                f"is nothing to compare yet. A rerun of the same screen (same subjects, works "
                f"and settings) lists here the ties that are new, gone or changed, including "
                f"those changed by a list update.</p></section>")
    c = d.get("counts") or {}
    reg = d.get("registry") or {}
    lines = [f"<p>Compared with run {_e(d.get('previous_run'))} of the same screen in the case "
             f"file: <b>{_e(c.get('new', 0))}</b> new, <b>{_e(c.get('gone', 0))}</b> gone, "
             f"<b>{_e(c.get('changed', 0))}</b> changed and {_e(c.get('unchanged', 0))} "
             f"unchanged ties. Review decisions stay with their tie (its finding ID) across "
             f"runs. A change is a reason to look again, not a verdict.</p>"]
    added, dropped = reg.get("editions_added") or [], reg.get("editions_dropped") or []
    versions = (reg.get("before"), reg.get("after"))
    if added or dropped or (all(versions) and versions[0] != versions[1]):
        lines.append(
            "<p class='notice' id='list-change'><b>The lists changed between the two runs</b> "
            f"(registry version {_e(versions[0] or '—')} → {_e(versions[1] or '—')}). "
            + (f"New editions: {_e(', '.join(added))}. " if added else "")
            + (f"Editions no longer used: {_e(', '.join(dropped))}. " if dropped else "")
            + "New, changed and gone ties below may come from the list change (an institution "
              "listed or removed, a date corrected), not from new papers.</p>")
    by_id = {str(r.get("finding_id")): r for r in rows}

    def work(r: Mapping[str, Any]) -> str:
        title = _e(str(r.get("title") or "")[:90]) or "—"
        return f"{title}<br><code>{_e(r.get('work_id'))}</code> {_e(r.get('publication_date'))}"

    def entry(r: Mapping[str, Any]) -> str:
        return (f"{_e(r.get('institution_name') or r.get('raw_affiliation'))}<br>"
                f"{_e(r.get('list'))}: {_e(r.get('list_entry_name'))}")

    new_ids = [str(x) for x in d.get("new") or []]
    new_body = [[f"<code>{_e(i)}</code>", work(by_id[i]), entry(by_id[i]),
                 _e(by_id[i].get("listed_on") or "unknown"),
                 _e(by_id[i].get("listed_at_publication"))]
                for i in new_ids[:CHANGES_MAX_ROWS] if i in by_id]
    lines.append(_change_table("New ties", ("finding", "work", "institution and list entry",
                                            "listed on", "listed at publication"),
                               new_body, len(new_ids)))
    looked = set(d.get("changed_since_review") or [])
    changed = list(d.get("changed_fields") or [])
    ch_body = []
    for ch in changed[:CHANGES_MAX_ROWS]:
        fid = str(ch.get("finding_id"))
        r = by_id.get(fid, {})
        what = "<br>".join(
            f"{_e(_CHANGE_FIELDS.get(k, k))}: {_e(v.get('before') or '—')} → "
            f"<b>{_e(v.get('after') or '—')}</b>"
            for k, v in (ch.get("changes") or {}).items())
        flag = ("<br><b>reviewed on the earlier evidence: look again</b>" if fid in looked
                else "")
        ch_body.append([f"<code>{_e(fid)}</code>", work(r) if r else "—",
                        entry(r) if r else "—", what + flag])
    lines.append(_change_table("Changed ties", ("finding", "work", "institution and list entry",
                                                "what changed"), ch_body, len(changed)))
    gone_rows = list(d.get("gone_rows") or [])
    gone_body = [[f"<code>{_e(r.get('finding_id'))}</code>", work(r), entry(r),
                  _e(r.get("review_status") or "unreviewed")] for r in gone_rows[:CHANGES_MAX_ROWS]]
    lines.append(_change_table(
        "Ties no longer found", ("finding", "work", "institution and list entry",
                                 "review status"), gone_body, len(d.get("gone") or [])))
    if not any(c.get(k) for k in ("new", "gone", "changed")):
        lines.append("<p>No tie is new, gone or changed.</p>")
    return head + "".join(lines) + "</section>"


def _plain(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, list | tuple):
        return ", ".join(_plain(v) for v in value) if value else "(none)"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def _kv(items: Iterable[tuple[str, Any]]) -> str:
    out = [f"<dt>{_e(k)}</dt><dd>{_e(_plain(v))}</dd>" for k, v in items]
    return f"<dl class='kv'>{''.join(out)}</dl>"


def _method(run: Mapping[str, Any]) -> str:
    settings = run.get("settings") or {}
    reg = run.get("registry") or {}
    editions = reg.get("editions") or []
    ed_rows = "".join(
        "<tr>" + "".join(f"<td>{_e(ed.get(k) if ed.get(k) is not None else 'unknown')}</td>"
                         for k in ("list", "edition", "published_on", "data_date",
                                   "entry_count"))
        + f"<td>{_link(ed.get('source_url'), ed.get('source_url') or '')}</td>"
        + f"<td>{_e(ed.get('licence') or '')}</td>"
        + f"<td><small>{_e(ed.get('basis') or '')} {_e(ed.get('provenance') or '')}"
          f"</small></td></tr>"
        for ed in editions if isinstance(ed, Mapping))
    ed_table = (f"<table><thead><tr><th>list</th><th>edition</th><th>published on</th>"
                f"<th>data date</th><th>entries</th><th>source</th><th>licence</th>"
                f"<th>basis and provenance</th></tr>"
                f"</thead><tbody>{ed_rows}</tbody></table>" if ed_rows
                else "<p class='note'>The run record names no list editions.</p>")
    inputs = run.get("inputs") or []
    command = run.get("command", "")
    if isinstance(command, list | tuple):
        command = shlex.join(str(c) for c in command)
    tool = [("tool", f"{run.get('tool', 'tracker')} {run.get('version', 'unknown')}"),
            ("command", command), ("started", run.get("started_at", "")),
            ("finished", run.get("finished_at", "")),
            ("registry version", reg.get("version", "unknown"))]
    return f"""
<section id="method"><h2>Method and provenance</h2>
<p>Affiliations are matched to listed <b>institutions</b> only (by OpenAlex institution ID,
ROR ID, lineage where an entry covers its subordinate units, and, if chosen, by name in the raw
affiliation string); no person's name, ethnicity or nationality is ever an input. Each finding
compares the work's publication date with the entry's sourced listing date; a date no source
gives stays "unknown".</p>
<h3>Strategy and framework</h3>{_kv(settings.items()) if settings else "<p>—</p>"}
<h3>Run</h3>{_kv(tool)}
<h3>List editions and data dates</h3>{ed_table}
<h3>Inputs</h3>{_kv((str(i), x) for i, x in enumerate(inputs)) if inputs else "<p>—</p>"}
</section>"""


def render_report(result: ScreenResultLike, *, max_network_nodes: int = 400,
                  seed: int = 7, generated_at: datetime | None = None) -> str:
    """The report as one HTML string (see :func:`write_report`)."""
    if not 3 <= max_network_nodes <= 2000:
        raise ValueError("max_network_nodes must be between 3 and 2000: a larger network is "
                         "unreadable in a browser (open network.graphml in Gephi instead)")
    run = clean_run_record(result.run)
    rows = sorted((f.row() for f in result.findings),
                  key=lambda r: (str(r.get("publication_date") or ""), str(r.get("work_id")),
                                 str(r.get("list"))), reverse=True)
    when = (generated_at or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    figures: list[dict[str, Any]] = []
    blocks: list[str] = []
    if rows:
        g, note = flagged_network(result, max_nodes=max_network_nodes)
        figures.append({"div": "fig-network", "json": "fig-network-data",
                        "fig": network_figure(g, seed=seed)})
        tl = timeline_figure(rows)
        undated = int((tl.layout.meta or {}).get("undated", 0))
        figures.append({"div": "fig-timeline", "json": "fig-timeline-data", "fig": tl})
        blocks.append(f"""
<section id="network"><h2>Network of flagged ties</h2>
<p class="note">{_e(note)} Hover a node, or the dot in the middle of a tie, for the evidence.
Drag to pan, scroll to zoom. Layout: spring layout (seed {seed}); positions carry no
meaning.</p>
<div id="fig-network" class="chart" role="figure"
 aria-label="network of screened subjects, flagged co-authors, works and listed institutions">
</div></section>
<section id="timeline"><h2>Timeline of flagged works and listing dates</h2>
<p class="note">One row per list entry. Dots: flagged works, coloured by whether the entry was
listed on the work's publication date. Black ticks: the entry's listing date (where a source
gives one). Open dots: only the publication year is known.
{f"{undated} flagged work(s) without any date are not drawn." if undated else ""}
{"With this many flagged works, each dot is one list entry and publication year (drawn at "
 "mid-year), its size "
 "growing with the number of works in it; hover for the count. The works themselves are in "
 "the table and findings.csv." if (tl.layout.meta or {}).get("brief_hover") else ""}</p>
<div id="fig-timeline" class="chart" role="figure"
 aria-label="timeline of flagged works against listing dates"></div></section>""")
    else:
        blocks.append("<section id='network'><h2>Network of flagged ties</h2><p>No flagged "
                      "ties to draw. This is not clearance.</p></section>")
    data_scripts = "".join(
        f'<script type="application/json" id="{f["json"]}">{_fig_json(f["fig"])}</script>'
        for f in figures)
    index = safe_json([{"div": f["div"], "json": f["json"], "config": _PLOT_CONFIG}
                       for f in figures])
    plotly_js = _plotly_js()
    csp = ("default-src 'none'; script-src " + _csp_hash(plotly_js) + " "
           + _csp_hash(_APP_JS) + "; style-src 'unsafe-inline'; img-src data: blob:; "
           "font-src 'none'; connect-src 'none'; media-src 'none'; object-src 'none'; "
           "frame-src 'none'; worker-src 'none'; base-uri 'none'; form-action 'none'")
    version = f"{run.get('tool', 'tracker')} {run.get('version', 'unknown')}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Collaboration screening report</title>
<style>{_CSS}</style></head>
<body>
<header class="top"><h1>Collaboration screening report</h1>
<p>Generated {_e(when)} by {_e(version)}. Self-contained: this file loads nothing from the
network.</p></header>
<main>
{_notice(run, rows)}
{_summary(result, rows)}
{_changes(run, rows)}
{"".join(blocks)}
{_table(rows)}
{_method(run)}
</main>
<footer>Charts drawn with the {_e(PLOTLY_BUNDLE["name"])} v{_e(PLOTLY_BUNDLE["version"])},
embedded; licence: {_e(PLOTLY_BUNDLE["licence"])}.</footer>
<script type="application/json" id="tracker-figures">{index}</script>
{data_scripts}
<script>{plotly_js}</script>
<script>{_APP_JS}</script>
</body></html>
"""


def write_report(result: ScreenResultLike, out_dir: str | Path, *,
                 max_network_nodes: int = 400, seed: int = 7) -> Path:
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
    text = render_report(result, max_network_nodes=max_network_nodes, seed=seed)
    path.write_text(text, encoding="utf-8")
    return path
