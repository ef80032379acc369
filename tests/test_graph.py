"""tracker.graph on real recorded OpenAlex works (see tests/browser/demo.py for the data)."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from itertools import combinations, pairwise

import networkx as nx
import numpy as np
import pytest

from tests.browser.demo import demo_result, load_work, load_works
from tracker.graph import (
    author_key,
    author_work_graph,
    coauthor_graph,
    flagged_network,
    flagged_network_of_groups,
    institution_graph,
    prune_flagged_network,
    write_gexf,
    write_graphml,
)


@pytest.fixture(scope="module")
def works():
    return load_works()


@pytest.fixture(scope="module")
def result():
    return demo_result()


def _newman(works, max_authors):
    """Newman weights computed directly from the definition, for comparison."""
    weights: dict[frozenset[str], float] = defaultdict(float)
    for w in works:
        n = len(w.authorships)
        if max_authors is not None and (n > max_authors or (w.is_authors_truncated
                                                            and n >= max_authors)):
            continue
        people = sorted({author_key(w.id, a) for a in w.authorships})
        if len(people) < 2:
            continue
        for u, v in combinations(people, 2):
            weights[frozenset((u, v))] += 1 / (len(people) - 1)
    return weights


def test_author_work_graph_has_one_edge_per_authorship(works):
    g = author_work_graph(works)
    assert nx.is_bipartite(g)
    assert {n for n, k in g.nodes(data="kind") if k == "work"} == {w.id for w in works}
    expected_edges = {(author_key(w.id, a), w.id) for w in works for a in w.authorships}
    assert g.number_of_edges() == len(expected_edges)
    assert all(g.nodes[w.id]["bipartite"] == 1 for w in works)


def test_authors_without_id_are_distinct_nodes_never_merged_by_name():
    w = load_work("works_openalexpro_2025-11_to_2026-03.jsonl.gz", "W1541318120")
    missing = [a for a in w.authorships if a.author_id is None]
    assert len(missing) == 5
    g = author_work_graph([w])
    for a in missing:
        assert g.has_edge(f"W1541318120#{a.index}", "W1541318120")
        assert g.nodes[f"W1541318120#{a.index}"]["has_author_id"] is False


def test_coauthor_weights_are_newman_collaboration_weights(works):
    g = coauthor_graph(works, max_authors=100)
    expected = _newman(works, 100)
    assert g.number_of_edges() == len(expected)
    for u, v, wt in g.edges(data="weight"):
        assert wt == pytest.approx(expected[frozenset((u, v))])


def test_consortium_works_give_no_ties_but_keep_their_authors(works):
    big = next(w for w in works if len(w.authorships) > 200)  # W2168909179, 249 authors
    capped = coauthor_graph(works, max_authors=100)
    full = coauthor_graph(works, max_authors=None)
    assert capped.graph["consortium_works"] == 6  # the 249-author work + 5 truncated at 100
    assert full.graph["consortium_works"] == 0
    assert full.number_of_edges() > capped.number_of_edges()
    assert set(capped.nodes) == set(full.nodes)  # authors stay, ties go
    keys = [author_key(big.id, a) for a in big.authorships]
    only_big = [k for k in keys
                if sum(1 for w in works for a in w.authorships
                       if author_key(w.id, a) == k) == 1]
    assert only_big and all(capped.degree(k) == 0 for k in only_big)
    assert "no pairwise ties" in capped.graph["consortium_policy"]


def test_truncated_author_list_counts_as_over_the_limit(works):
    truncated = next(w for w in works if w.is_authors_truncated)
    assert len(truncated.authorships) == 100
    g = coauthor_graph([truncated], max_authors=100)
    assert g.number_of_edges() == 0
    g = coauthor_graph([dataclasses.replace(truncated, is_authors_truncated=False)],
                       max_authors=100)
    people = len({author_key(truncated.id, a) for a in truncated.authorships})
    assert people == 90  # OpenAlex lists some authors twice on this record
    assert g.number_of_edges() == people * (people - 1) // 2


def test_limits_below_two_are_refused(works):
    with pytest.raises(ValueError, match="no co-author ties"):
        coauthor_graph(works, max_authors=1)
    with pytest.raises(ValueError):
        institution_graph(works, max_authors=0)


def test_institution_graph_ties_institutions_on_the_same_work(works):
    g = institution_graph(works, max_authors=None)
    per_work = []
    for w in works:
        insts = {i.id for a in w.authorships for i in a.institutions if i.id}
        per_work.append(insts)
    expected: dict[frozenset[str], float] = defaultdict(float)
    for insts in per_work:
        for u, v in combinations(sorted(insts), 2):
            expected[frozenset((u, v))] += 1 / (len(insts) - 1)
    assert g.number_of_edges() == len(expected)
    for u, v, wt in g.edges(data="weight"):
        assert wt == pytest.approx(expected[frozenset((u, v))])
    assert g.nodes["I82880672"]["label"] == "Beihang University"
    assert g.nodes["I82880672"]["ror"] == "00wk2mp56"


def test_flagged_network_holds_every_tie_with_its_evidence(result):
    g, note = flagged_network(result)
    assert note.startswith(f"All {len(result.works)} flagged works")
    assert g.graph["pruned"] is False
    for f in result.findings:
        a, i, w = f"author:{f.author_id}", f"inst:{f.institution_id}", f"work:{f.work_id}"
        assert g.has_edge(a, w) and g.has_edge(a, i)
        e = g.edges[a, i]
        assert f.finding_id in e["finding_ids"].split(" | ")
        assert f.list in e["lists"].split(" | ")
        assert f"{f.work_id} ({f.publication_date or 'date unknown'})" in e["evidence"]
        assert e["designation"] or not f.is_designation
    kinds = {k for _, k in g.nodes(data="kind")}
    assert kinds == {"work", "author", "institution"}


def test_flagged_network_marks_the_screened_subject(result):
    g, _ = flagged_network(result)
    msra = g.nodes["inst:I4210113369"]
    assert msra["is_subject"] is True
    assert msra["label"] == "Microsoft Research Asia (China)"
    msra_works = {w.id for w in result.works.values()
                  if any(i.id == "I4210113369" for a in w.authorships for i in a.institutions)}
    assert msra_works
    assert {n[5:] for n in g["inst:I4210113369"]} == msra_works


def test_context_only_institutions_are_not_designations(result):
    g, _ = flagged_network(result)
    tsinghua = g.nodes["inst:I99065089"]  # only on ASPI's tracker in the test registry
    assert tsinghua["lists"] == "ASPI_UNITRACKER"
    assert tsinghua["designation"] is False
    beihang = g.nodes["inst:I82880672"]
    assert beihang["designation"] is True
    assert set(beihang["lists"].split(" | ")) == {"ASPI_UNITRACKER", "BIS_ENTITY_LIST",
                                                   "DOD_1286"}


def test_pruning_keeps_whole_works_under_the_limit_and_says_so(result):
    full, _ = flagged_network(result)
    g, note = flagged_network(result, max_nodes=60)
    assert len(g) <= 60 < len(full)
    assert g.graph["pruned"] is True
    assert note.startswith("Pruned to stay readable")
    assert f"of {len(result.works)} flagged works" in note and "of 60" not in note
    # it claims no file holds every finding: a run may write none (--formats none)
    assert "not out of the findings" in note and "exports" not in note
    for n, d in g.nodes(data=True):  # every work shown is shown whole
        if d["kind"] == "work":
            wid = n[5:]
            for f in result.findings:
                if f.work_id == wid:
                    assert g.has_edge(f"author:{f.author_id}", f"inst:{f.institution_id}")
    shown = [n[5:] for n, k in g.nodes(data="kind") if k == "work"]
    # designation-list works come first: a context-only work is shown only if every
    # designation work that fits is shown too
    designation = {f.work_id for f in result.findings if f.is_designation}
    if any(w not in designation for w in shown):
        assert designation <= set(shown)
    with pytest.raises(ValueError):
        flagged_network(result, max_nodes=2)


def test_a_smaller_view_of_the_built_network_matches_building_it_small(result):
    full, _ = flagged_network(result)
    assert prune_flagged_network(full, result, len(full))[0] is full  # fits: no copy
    for limit in (60, 150):
        view, note = prune_flagged_network(full, result, limit)
        built, built_note = flagged_network(result, max_nodes=limit)
        assert len(view) <= limit and note.startswith("Pruned to stay readable")
        # the same works in the same stated order, so the same picture and the same note
        assert set(view.nodes) == set(built.nodes) and note == built_note
        for u, v, d in view.edges(data=True):  # evidence only of the works shown
            assert d == built.edges[u, v], (u, v)
        assert full.graph["works_shown"] == len(result.works)  # the full one is untouched


def test_the_network_of_findings_read_per_work_equals_the_one_built_at_once(result):
    """As the workspace draws a case file's run (no works, no subjects): works given in
    another order, the findings of each work together; pruned and whole."""
    from types import SimpleNamespace

    findings = [dataclasses.replace(f, extra={}) for f in result.findings]
    at_once = SimpleNamespace(findings=findings, works={}, run={}, subjects={})
    by_work: dict[str, list] = {}
    for f in findings:
        by_work.setdefault(f.work_id, []).append(f)
    calls = []

    def groups(only):
        calls.append(only)
        return (by_work[w] for w in sorted(by_work, reverse=True))

    for limit in (3, 60, 150, 5000):
        built, note = flagged_network(at_once, max_nodes=limit)
        got, got_note = flagged_network_of_groups(groups, max_nodes=limit)
        assert got_note == note and dict(got.graph) == dict(built.graph)
        assert list(got.nodes(data=True)) == list(built.nodes(data=True))
        assert {frozenset((u, v)): d for u, v, d in got.edges(data=True)} == {
            frozenset((u, v)): d for u, v, d in built.edges(data=True)}
    assert note.startswith("All ") and len(calls) == 8  # two passes each
    assert calls[-2] is None and calls[-1] == {f.work_id for f in findings}


def test_a_spilled_run_draws_the_same_network_reading_only_the_blocks_of_its_works(
        result, tmp_path, monkeypatch):
    """Findings on disk (seven a block here): the flagged network and its smaller view are
    the ones held findings give; the network reads every block once to plan, then only the
    blocks of the works it draws, and the smaller view only those of its works (each read
    every block again before)."""
    import tracker.findings as spooled
    from tracker.risk import finding_order

    monkeypatch.setattr(spooled, "_BLOCK", 7)
    spool = spooled.SpooledFindings(key=finding_order, in_memory=30, folder=tmp_path)
    spool.extend(result.findings)
    assert spool.finish().spilled
    held = dataclasses.replace(result, findings=sorted(result.findings, key=finding_order))
    on_disk = dataclasses.replace(result, findings=spool)
    blocks = len(spool._spans)
    reads: list[int] = []
    real = spooled._File.read
    monkeypatch.setattr(spooled._File, "read",
                        lambda self, span: reads.append(span[0]) or real(self, span))

    def same(a: nx.Graph, b: nx.Graph) -> None:
        assert dict(a.graph) == dict(b.graph)
        assert list(a.nodes(data=True)) == list(b.nodes(data=True))
        assert {frozenset((u, v)): d for u, v, d in a.edges(data=True)} == {
            frozenset((u, v)): d for u, v, d in b.edges(data=True)}

    def most(g: nx.Graph) -> int:
        """The blocks a work's findings fill, and one on either side, for each work drawn."""
        per_work = defaultdict(int)
        for f in result.findings:
            per_work[f.work_id] += 1
        return sum(-(-per_work[n[5:]] // 7) + 2 for n, k in g.nodes(data="kind")
                   if k == "work")

    full, _ = flagged_network(held)
    for limit in (60, 5000):
        spool._cached = None
        del reads[:]
        g, note = flagged_network(on_disk, max_nodes=limit)
        want, want_note = flagged_network(held, max_nodes=limit)
        same(g, want)
        assert note == want_note
        assert len(reads) <= blocks + most(g), (limit, blocks, len(reads))
        if limit == 60:
            assert g.graph["pruned"] and len(reads) < 2 * blocks
    spool._cached = None
    del reads[:]
    view, note = prune_flagged_network(full, on_disk, 60)
    want, want_note = prune_flagged_network(full, held, 60)
    same(view, want)
    assert note == want_note
    assert 0 < len(reads) <= most(view) < blocks, (blocks, len(reads))


def test_packed_works_are_counted_not_parsed_where_the_network_needs_only_their_size(
        result, monkeypatch):
    """Flagged works kept packed (as the engines keep them): the network and its smaller
    view are those of the works held, and a work is parsed only where its findings need
    it (a subject's node, an author without an ID or place): never to count its
    authors."""
    import orjson

    import tracker.records as records
    from tests.browser.demo import WORKS_FILE

    lines = {orjson.loads(line)["id"].rsplit("/", 1)[-1]: line
             for line in WORKS_FILE.read_bytes().splitlines() if line.strip()}
    packed = records.PackedWorks({w: records.PackedWorks.pack(lines[w]) for w in result.works})
    plain = dataclasses.replace(result, subjects={"kind": "files"})
    held = dataclasses.replace(plain, works=dict(result.works))
    on_disk = dataclasses.replace(plain, works=packed)
    parsed: list[str] = []
    real = records.PackedWorks.__getitem__
    monkeypatch.setattr(records.PackedWorks, "__getitem__",
                        lambda self, w: parsed.append(w) or real(self, w))
    need = {f.work_id for f in result.findings
            if not f.author_id and not isinstance(f.extra.get("authorship_index"), int)}
    full, note = flagged_network(on_disk)
    want, want_note = flagged_network(held)
    assert note == want_note and list(full.nodes(data=True)) == list(want.nodes(data=True))
    assert any(n > 1 for _, n in full.nodes(data="n_authors") if n is not None)
    assert set(parsed) == need  # each such work read to plan it and to draw it, no other
    del parsed[:]
    view, _ = prune_flagged_network(full, on_disk, 60)
    assert list(view.nodes(data=True)) == list(
        prune_flagged_network(want, held, 60)[0].nodes(data=True))
    assert set(parsed) <= need


def test_graphml_and_gexf_round_trip_with_hostile_text(result, tmp_path):
    g, _ = flagged_network(result)
    g.add_node("author:hostile", kind="author", label="a\x00b\x1f<script>", extra=None,
               tags=("x", "y"))
    g.add_edge("author:hostile", next(iter(g.nodes)), relation="authored")
    p = write_graphml(g, tmp_path / "n.graphml")
    back = nx.read_graphml(p)
    assert back.number_of_nodes() == g.number_of_nodes()
    assert back.number_of_edges() == g.number_of_edges()
    assert back.nodes["author:hostile"]["label"] == "a\ufffdb\ufffd<script>"
    assert back.nodes["author:hostile"]["tags"] == "x | y"
    assert "extra" not in back.nodes["author:hostile"]
    assert back.graph["pruned"] is False
    q = write_gexf(g, tmp_path / "n.gexf")
    back2 = nx.read_gexf(q)
    assert back2.number_of_nodes() == g.number_of_nodes()
    assert back2.number_of_edges() == g.number_of_edges()


def test_coauthor_graph_writes_as_graphml(works, tmp_path):
    g = coauthor_graph(works)
    back = nx.read_graphml(write_graphml(g, tmp_path / "c.graphml"))
    assert back.number_of_edges() == g.number_of_edges()
    u, v = next(iter(g.edges))
    assert back.edges[u, v]["weight"] == pytest.approx(g.edges[u, v]["weight"])


def test_bulk_counting_equals_networkx_bipartite_projection(works):
    """The int-coded pair counting gives what networkx's own Newman projection gives."""
    from networkx.algorithms import bipartite

    kept = [w for w in works if not (len(w.authorships) > 100 or (
        w.is_authors_truncated and len(w.authorships) >= 100))]
    b = author_work_graph(kept)
    authors = {n for n, k in b.nodes(data="kind") if k == "author"}
    ref = bipartite.collaboration_weighted_projected_graph(b, authors)
    g = coauthor_graph(works, max_authors=100)
    assert {frozenset(e) for e in g.edges} == {frozenset(e) for e in ref.edges}
    for u, v, d in g.edges(data=True):
        assert d["weight"] == pytest.approx(ref.edges[u, v]["weight"])
        assert d["works"] == len(set(b[u]) & set(b[v]))
    assert set(g.nodes) == {author_key(w.id, a) for w in works for a in w.authorships}


def test_pair_counting_by_sort_equals_the_unique_path():
    # _newman_pairs packs each pair instance and its group size into one int64 and sorts;
    # _newman_pairs_unique (used when the codes would not fit) counts with numpy.unique
    import random

    from tracker.graph import _newman_pairs, _newman_pairs_unique

    rng = random.Random(7)
    groups = [rng.sample(range(60), rng.randint(2, 12)) for _ in range(400)]
    groups += [list(range(50)), [3, 4]]  # a big group, and a pair seen many times
    a = _newman_pairs(groups, 60)
    b = _newman_pairs_unique(groups, 60)
    for x, y in zip(a[:2] + a[3:], b[:2] + b[3:], strict=True):
        assert x.tolist() == y.tolist()
    assert np.allclose(a[2], b[2], rtol=1e-12, atol=0)


@pytest.mark.parametrize("cuts", [[35], [1, 2, 40], [0, 70]])
def test_shares_joined_equal_the_projection_of_all_works(works, cuts):
    """Works cut into consecutive shares (as screen_shares reads a file) and joined give the
    projection of all of them: same node order, attributes, edges and bit-identical weights."""
    from tracker.graph import coauthor_projection, coauthor_share, join_coauthor_shares

    dup = [*works, works[3], works[10]]  # a work met twice counts twice, in both paths
    for limit in (100, 5, None):
        bounds = [0, *cuts, len(dup)]
        shares = [coauthor_share(dup[a:b], max_authors=limit)
                  for a, b in pairwise(bounds)]
        joined = join_coauthor_shares(shares)
        whole = coauthor_projection(dup, max_authors=limit)
        assert joined.labels == whole.labels
        assert joined.attrs == whole.attrs
        for name in ("u", "v", "weight", "works"):
            assert np.array_equal(getattr(joined, name), getattr(whole, name)), name
        assert joined.graph == whole.graph
    assert whole.graph["consortium_works"] == 0 and joined.number_of_edges() > 0


def test_shares_with_different_author_limits_are_refused(works):
    from tracker.graph import coauthor_share, join_coauthor_shares

    with pytest.raises(ValueError, match="different author limits"):
        join_coauthor_shares([coauthor_share(works[:5]), coauthor_share(works[5:], max_authors=5)])
