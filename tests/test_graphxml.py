"""tracker.graphxml: the streaming GraphML/GEXF writers read back as networkx's own files do."""

from __future__ import annotations

import networkx as nx
import pytest

from tests.browser.demo import demo_result, load_works
from tracker import graphxml
from tracker.graph import (
    _already_safe,
    _safe_copy,
    coauthor_graph,
    flagged_network,
    institution_graph,
    write_gexf,
    write_graphml,
    write_network_files,
)


def _as_read(g: nx.Graph) -> tuple[dict, dict, dict]:
    return (dict(g.graph), {n: dict(d) for n, d in g.nodes(data=True)},
            {frozenset((u, v)): dict(d) for u, v, d in g.edges(data=True)})


def _hostile(g: nx.Graph, *, cr: bool = True) -> nx.Graph:
    g = g.copy()
    nasty = 'a & b <script>alert(1)</script> "q" \'s\'\n\tline two\r\n\x01 é 中文 ]]>'
    if not cr:
        nasty = nasty.replace("\r", "")
    g.add_node("author:hostile &<\"", kind="author", label=nasty, n_authors=3, share=0.25,
               is_subject=True, tags=("x", "y"))
    evidence = "line 1\nline 2\r\nline 3" if cr else "line 1\nline 2\nline 3"
    g.add_edge("author:hostile &<\"", next(iter(g.nodes)), relation=nasty, ties=2,
               designation=False, evidence=evidence)
    g.graph["note"] = nasty
    return g


def _graphs():
    result = demo_result()
    works = load_works()
    return {
        "flagged network": flagged_network(result)[0],
        # without carriage returns: networkx's xml.etree GraphML writer (used when lxml is
        # not installed) leaves them raw in element text, so they read back as newlines;
        # ours escapes them (test_hostile_text_survives_exactly)
        "flagged network, hostile text": _hostile(flagged_network(result)[0], cr=False),
        "co-author graph": coauthor_graph(works),
        "institution graph": institution_graph(works),
        "empty": nx.Graph(note="empty"),
        "isolated node": nx.Graph([("a", "a")]),
    }


_FORMATS = {
    "graphml": (graphxml.write_graphml_text, nx.write_graphml, nx.read_graphml, False),
    "gexf": (graphxml.write_gexf_text, nx.write_gexf, nx.read_gexf, True),
}


@pytest.mark.parametrize("fmt", list(_FORMATS))
@pytest.mark.parametrize("name", list(_graphs()))
def test_files_read_back_as_networkx_writes_them(name, fmt, tmp_path):
    ours_write, nx_write, read, no_graph_attrs = _FORMATS[fmt]
    g = _safe_copy(_graphs()[name], graph_attrs=True)
    if no_graph_attrs:  # GEXF has no place for them
        g.graph.clear()
    assert graphxml.supports(g)
    ours = ours_write(g, tmp_path / f"ours.{fmt}")
    theirs = tmp_path / f"nx.{fmt}"
    nx_write(g, theirs, encoding="utf-8")
    a, b = read(ours), read(theirs)
    assert _as_read(a) == _as_read(b)
    assert list(a.nodes) == list(b.nodes)


def test_hostile_text_survives_exactly(tmp_path):
    g = _hostile(flagged_network(demo_result())[0])
    graphml, gexf = write_network_files(g, tmp_path / "n.graphml", tmp_path / "n.gexf")
    key = "author:hostile &<\""
    for back in (nx.read_graphml(graphml), nx.read_gexf(gexf)):
        node = back.nodes[key]
        # the control character is replaced (XML cannot hold it); every other character,
        # newlines, tabs and carriage returns included, comes back as it was
        assert node["label"] == ('a & b <script>alert(1)</script> "q" \'s\'\n\tline two\r\n'
                                 '\ufffd é 中文 ]]>')
        assert node["n_authors"] == 3 and node["share"] == 0.25 and node["is_subject"] is True
        e = back.edges[key, next(iter(g.nodes))]
        assert e["evidence"] == "line 1\nline 2\r\nline 3"
        assert e["ties"] == 2 and e["designation"] is False
    assert nx.read_graphml(graphml).graph["note"].startswith("a & b <script>")
    assert b"<script>" not in graphml.read_bytes() and b"<script>" not in gexf.read_bytes()


@pytest.mark.parametrize("name", list(_graphs()))
def test_network_files_are_the_same_without_the_safe_copy(name, tmp_path, monkeypatch):
    g = _graphs()[name]
    direct = write_network_files(g, tmp_path / "a.graphml", tmp_path / "a.gexf")
    monkeypatch.setattr("tracker.graph._already_safe", lambda g: False)
    copied = write_network_files(g, tmp_path / "b.graphml", tmp_path / "b.gexf")
    for a, b in zip(direct, copied, strict=True):
        assert a.read_bytes() == b.read_bytes()


def test_the_flagged_network_is_written_without_a_copy():
    assert _already_safe(flagged_network(demo_result())[0])


def test_a_control_character_in_plain_text_is_still_replaced(tmp_path):
    g = flagged_network(demo_result())[0].copy()
    node = next(iter(g.nodes))
    g.nodes[node]["label"] = "bad\x01label"
    assert graphxml.supports(g) and not _already_safe(g)
    graphml, gexf = write_network_files(g, tmp_path / "n.graphml", tmp_path / "n.gexf")
    for back in (nx.read_graphml(graphml), nx.read_gexf(gexf)):
        assert back.nodes[node]["label"] == "bad\ufffdlabel"


def test_mixed_types_under_one_name_are_written_as_text(tmp_path):
    g = nx.Graph()
    g.add_node("a", size=1)
    g.add_node("b", size="big")
    for back in (nx.read_graphml(graphxml.write_graphml_text(g, tmp_path / "g.graphml")),
                 nx.read_gexf(graphxml.write_gexf_text(g, tmp_path / "g.gexf"))):
        assert back.nodes["a"]["size"] == "1" and back.nodes["b"]["size"] == "big"


def test_graphs_outside_the_subset_go_to_networkx(tmp_path):
    g = nx.Graph()
    g.add_edge("a", "b", weight=2.0, id="e1")  # GEXF structure, not data
    assert not graphxml.supports(g)
    m = nx.MultiGraph([("a", "b"), ("a", "b")])
    assert not graphxml.supports(m)
    back = nx.read_gexf(write_gexf(g, tmp_path / "g.gexf"))
    assert back.edges["a", "b"]["weight"] == 2.0
    back = nx.read_graphml(write_graphml(m, tmp_path / "m.graphml"))
    assert back.number_of_edges() == 2


def test_directed_graphs_keep_their_direction(tmp_path):
    g = nx.DiGraph([("a", "b")])
    assert graphxml.supports(g)
    assert nx.read_graphml(graphxml.write_graphml_text(g, tmp_path / "d.graphml")).is_directed()
    assert nx.read_gexf(graphxml.write_gexf_text(g, tmp_path / "d.gexf")).is_directed()
