"""Collaboration graphs: who wrote with whom, and the flagged part of it.

Four views, one function each, all built with :mod:`networkx` from :class:`~tracker.records.Work`
records or a screening result:

- :func:`author_work_graph`: the bipartite author--work graph;
- :func:`coauthor_graph`: its projection onto authors, weighted as Newman (2001) proposes
  (:func:`coauthor_projection` holds the same as arrays, for networks of millions of edges);
- :func:`institution_graph`: the same projection for institutions;
- :func:`flagged_network`: only the flagged ties (the screened subjects, the flagged co-authors,
  their listed institutions and the works tying them), pruned to stay readable.

Consortium policy
-----------------
A work with more than ``max_authors`` authors (a consortium paper; OpenAlex lists up to
thousands) gives **no pairwise ties** in the projections: with hundreds of authors each pair's
Newman weight is close to zero and the pairs would swamp every other tie.  The policy is
configurable (``max_authors=None`` keeps every work) and stated on the graph
(``g.graph["consortium_policy"]``).  It only shapes the pictures: findings from such works still
count, and :func:`flagged_network` keeps them.  A work whose author list OpenAlex truncated has
more authors than it lists, so it counts as over the limit once it lists ``max_authors``.

Node and edge attributes are plain ``str``, ``int``, ``float`` or ``bool`` (never ``None``), so
:func:`write_graphml` and :func:`write_gexf` can write every graph made here.

References
----------
.. [1] M. E. J. Newman, "Scientific collaboration networks. II. Shortest paths, weighted
   networks, and centrality", Physical Review E 64, 016132 (2001).
   https://doi.org/10.1103/PhysRevE.64.016132
.. [2] M. E. J. Newman, "The structure of scientific collaboration networks", PNAS 98(2),
   404--409 (2001). https://doi.org/10.1073/pnas.98.2.404
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from operator import attrgetter
from pathlib import Path
from typing import Any, Protocol

import networkx as nx
import numpy as np

from tracker import graphxml
from tracker.findings import SpooledFindings, collector_paused
from tracker.records import Authorship, PackedWorks, Work
from tracker.risk import Finding, finding_order

__all__ = [
    "CoauthorShare",
    "ScreenResultLike",
    "WeightedProjection",
    "author_key",
    "author_work_graph",
    "coauthor_graph",
    "coauthor_projection",
    "coauthor_share",
    "flagged_network",
    "institution_graph",
    "join_coauthor_shares",
    "prune_flagged_network",
    "subject_specs",
    "write_gexf",
    "write_graphml",
    "write_network_files",
]

#: Characters XML 1.0 cannot hold; hostile or broken records may carry them.
_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

_LISTED_RANK = {"yes": 0, "unknown": 1, "no": 2}
_RELATIONS = {"subject": "the screened subject's own authorship",
              "coauthor": "a co-author of the screened subject"}


class ScreenResultLike(Protocol):
    """What :mod:`tracker.graph`, :mod:`tracker.report` and :mod:`tracker.exports` read from a
    screening result (``tracker.screening.ScreenResult`` satisfies it)."""

    @property
    def findings(self) -> Sequence[Finding]: ...

    @property
    def works(self) -> Mapping[str, Work]: ...

    @property
    def run(self) -> Mapping[str, Any]: ...

    @property
    def subjects(self) -> Mapping[str, Any]: ...


def author_key(work_id: str, auth: Authorship) -> str:
    """The node key of an authorship's author: the OpenAlex author ID, else ``"<work>#<index>"``.

    An authorship without an author ID is a distinct, unknown person: it is never merged with
    anyone by name.

    Examples
    --------
    >>> from tracker.records import Authorship
    >>> author_key("W1", Authorship(index=3, author_id="A9"))
    'A9'
    >>> author_key("W1", Authorship(index=3))
    'W1#3'
    """
    return auth.author_id or f"{work_id}#{auth.index}"


def _work_date(work: Work) -> str:
    if work.publication_date is not None:
        return work.publication_date.isoformat()
    return str(work.publication_year) if work.publication_year else ""


def _over_limit(work: Work, max_authors: int | None) -> bool:
    """Is this a consortium work under the policy (more than ``max_authors`` authors)?"""
    if max_authors is None:
        return False
    n = len(work.authorships)
    return n > max_authors or (bool(work.is_authors_truncated) and n >= max_authors)


def _policy(max_authors: int | None) -> str:
    if max_authors is None:
        return "every work gives pairwise ties (no author limit)"
    return (f"works with more than {max_authors} authors (or a truncated author list of "
            f"{max_authors}) give no pairwise ties; their findings still count")


def author_work_graph(works: Iterable[Work]) -> nx.Graph:
    """The bipartite author--work graph.

    Parameters
    ----------
    works : iterable of Work

    Returns
    -------
    networkx.Graph
        Author nodes (``bipartite=0``, ``kind="author"``) keyed by OpenAlex author ID, or
        ``"<work id>#<authorship index>"`` when the authorship has none; work nodes
        (``bipartite=1``, ``kind="work"``) keyed by OpenAlex work ID.  An edge is an authorship
        (``author_position``, ``index``).

    Examples
    --------
    >>> from tracker.records import parse_work
    >>> w = parse_work({"id": "W1", "title": "T", "authorships": [
    ...     {"author": {"id": "A1", "display_name": "X"}}, {"author": {}}]})
    >>> g = author_work_graph([w])
    >>> sorted(g.nodes), g.nodes["W1#1"]["kind"], g.nodes["W1"]["bipartite"]
    (['A1', 'W1', 'W1#1'], 'author', 1)
    """
    g = nx.Graph()
    nodes: dict[str, dict[str, Any]] = {}
    edges: list[tuple[str, str, dict[str, Any]]] = []
    for w in works:
        nodes[w.id] = {"bipartite": 1, "kind": "work", "label": w.title or w.id,
                       "date": _work_date(w), "n_authors": len(w.authorships),
                       "authors_truncated": bool(w.is_authors_truncated)}
        for a in w.authorships:
            key = author_key(w.id, a)
            if key not in nodes:
                nodes[key] = _author_attrs(a)
            edges.append((key, w.id, {"author_position": a.author_position or "",
                                      "index": a.index}))
    g.add_nodes_from(nodes.items())
    g.add_edges_from(edges)
    return g


def _author_attrs(a: Authorship) -> dict[str, Any]:
    return {"bipartite": 0, "kind": "author", "label": a.author_name or "",
            "has_author_id": a.author_id is not None}


_TRIU: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def _newman_pairs(groups: Iterable[list[int]], size: int
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Weighted pairs from groups of int-coded nodes, counted without any per-pair Python call.

    Each group (a work's distinct nodes, at least two) adds :math:`1/(n-1)` to the weight and 1
    to ``works`` of each of its :math:`n(n-1)/2` pairs; the pairs are int codes, grouped by
    one sort and summed with :func:`numpy.add.reduceat`.

    Returns
    -------
    tuple of numpy.ndarray
        ``(u, v, weight, works)`` with ``u < v`` node codes, sorted by ``(u, v)``.

    Examples
    --------
    >>> u, v, w, c = _newman_pairs([[0, 1], [0, 1, 2]], 3)
    >>> list(zip(u.tolist(), v.tolist(), w.tolist(), c.tolist()))
    [(0, 1, 1.5, 2), (0, 2, 0.5, 1), (1, 2, 0.5, 1)]
    """
    return _pairs_of_rows(_rows_by_size(groups), size)


def _rows_by_size(groups: Iterable[list[int]]) -> dict[int, np.ndarray]:
    """The groups of two or more nodes, those of one size as the rows of one int64 array
    (keyed by the size): numpy then codes them a few hundred calls at a time, rather than ten
    calls per group (0.24 s → 0.1 s at 15,000 works)."""
    by_size: dict[int, list[list[int]]] = {}
    for ids in groups:
        if len(ids) >= 2:
            by_size.setdefault(len(ids), []).append(ids)
    return {n: np.array(rows, dtype=np.int64) for n, rows in by_size.items()}


def _pairs_of_rows(rows: Mapping[int, np.ndarray], size: int
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_newman_pairs` of groups given as :func:`_rows_by_size` gives them.  Which
    array a group is in, and in what order, does not change the result: every pair instance
    is sorted into place before the weights are summed."""
    size = max(size, 1)
    rows = {n: arr for n, arr in rows.items() if len(arr)}
    if not rows:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0), empty
    # Each pair instance is one int64: (u * size + v) shifted left, with the group's n - 1 in
    # the low bits, so one plain sort groups the pairs and still knows each instance's weight
    # (a sort without an inverse index: about half the time of np.unique's at 9 M pairs).
    shift = (max(rows) - 1).bit_length()
    if (size * size) << shift >= 1 << 63:  # beyond any real network; the slower exact path
        return _newman_pairs_unique([r for arr in rows.values() for r in arr.tolist()], size)
    codes: list[np.ndarray] = []
    for n, arr in rows.items():
        tri = _TRIU.get(n)
        if tri is None:
            tri = _TRIU[n] = np.triu_indices(n, 1)
        arr = np.sort(arr, axis=1)
        codes.append((((arr[:, tri[0]] * size + arr[:, tri[1]]) << shift) | (n - 1)).ravel())
    code = np.concatenate(codes)
    del codes
    code.sort()
    pair = code >> shift
    starts = np.flatnonzero(np.r_[True, pair[1:] != pair[:-1]])
    uniq = pair[starts]
    del pair
    weight = 1.0 / (code & ((1 << shift) - 1))
    del code
    wsum = np.add.reduceat(weight, starts)
    count = np.diff(np.r_[starts, len(weight)])
    return uniq // size, uniq % size, wsum, count


def _newman_pairs_unique(groups: list[list[int]], size: int
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_newman_pairs` through :func:`numpy.unique`, for code ranges beyond int64."""
    codes = []
    weights = []
    for ids in groups:
        n = len(ids)
        u, v = np.triu_indices(n, 1)
        arr = np.sort(np.asarray(ids, dtype=object))
        codes.append(arr[u] * size + arr[v])
        weights.append(np.full(len(u), 1.0 / (n - 1)))
    uniq, inverse = np.unique(np.concatenate(codes), return_inverse=True)
    wsum = np.bincount(inverse, weights=np.concatenate(weights))
    count = np.bincount(inverse)
    return ((uniq // size).astype(np.int64), (uniq % size).astype(np.int64), wsum, count)


@dataclass(slots=True)
class WeightedProjection:
    """A Newman-weighted projection (authors or institutions) held as arrays.

    At 100,000 works the co-author projection has millions of edges; as networkx dicts they
    take gigabytes, as arrays a few hundred MB.  Analyses that need networkx call
    :meth:`to_networkx`; counts, degrees and edge lists need not.

    Attributes
    ----------
    labels : list of str
        Node keys (author or institution keys), indexed by node code.
    attrs : list of dict
        Node attributes, same order as ``labels``.
    u, v : numpy.ndarray
        Edge end codes into ``labels``, ``u < v``, one entry per edge.
    weight : numpy.ndarray
        Newman collaboration weight per edge.
    works : numpy.ndarray
        Number of works each pair shares.
    graph : dict
        The policy and counts that :func:`coauthor_graph` puts in ``g.graph``.

    Examples
    --------
    >>> from tracker.records import parse_work
    >>> def work(wid, *aids):
    ...     return parse_work({"id": wid, "authorships": [{"author": {"id": a}} for a in aids]})
    >>> p = coauthor_projection([work("W1", "A1", "A2"), work("W2", "A1", "A2", "A3")])
    >>> p.number_of_nodes(), p.number_of_edges(), p.degree().tolist()
    (3, 3, [2, 2, 2])
    >>> p.to_networkx().edges["A1", "A3"]
    {'weight': 0.5, 'works': 1}
    """

    labels: list[str]
    attrs: list[dict[str, Any]]
    u: np.ndarray
    v: np.ndarray
    weight: np.ndarray
    works: np.ndarray
    graph: dict[str, Any]

    def number_of_nodes(self) -> int:
        return len(self.labels)

    def number_of_edges(self) -> int:
        return len(self.u)

    def degree(self) -> np.ndarray:
        """Number of neighbours per node code."""
        n = len(self.labels)
        return np.bincount(self.u, minlength=n) + np.bincount(self.v, minlength=n)

    def to_networkx(self, *, chunk: int = 200_000) -> nx.Graph:
        """The projection as a :class:`networkx.Graph` (edges ``weight`` and ``works``)."""
        g = nx.Graph()
        g.add_nodes_from(zip(self.labels, self.attrs, strict=True))
        labels = self.labels
        adj = g._adj  # one attribute dict shared by both directions, as add_edge makes
        for lo in range(0, len(self.u), chunk):
            hi = lo + chunk
            for a, b, w, c in zip(self.u[lo:hi].tolist(), self.v[lo:hi].tolist(),
                                  self.weight[lo:hi].tolist(), self.works[lo:hi].tolist(),
                                  strict=True):
                d = {"weight": w, "works": c}
                adj[labels[a]][labels[b]] = d
                adj[labels[b]][labels[a]] = d
        g.graph.update(self.graph)
        return g


def _meta(works: int, skipped: int, max_authors: int | None) -> dict[str, Any]:
    return {
        "weighting": "Newman (2001) collaboration weights: sum over shared works of 1/(n_k - 1)",
        "consortium_policy": _policy(max_authors),
        "max_authors": -1 if max_authors is None else max_authors,
        "works": works,
        "consortium_works": skipped,
    }


def coauthor_graph(works: Iterable[Work], *, max_authors: int | None = 100) -> nx.Graph:
    """Co-author graph with Newman collaboration weights.

    Parameters
    ----------
    works : iterable of Work
    max_authors : int or None, default 100
        Works with more authors give no pairwise ties (see the module's consortium policy);
        their authors are still nodes.  None keeps every work.

    Returns
    -------
    networkx.Graph
        Nodes as in :func:`author_work_graph`; an edge ``weight`` is
        :math:`\\sum_k 1/(n_k - 1)` over the shared works :math:`k` with :math:`n_k` authors
        [1]_, and ``works`` is how many works the two share.  ``g.graph`` states the policy and
        how many works it left out (``consortium_works``).

    See Also
    --------
    coauthor_projection : the same network as arrays, a fraction of the memory at scale.

    References
    ----------
    .. [1] M. E. J. Newman, "Scientific collaboration networks. II. Shortest paths, weighted
       networks, and centrality", Phys. Rev. E 64, 016132 (2001).

    Examples
    --------
    >>> from tracker.records import parse_work
    >>> def work(wid, *aids):
    ...     return parse_work({"id": wid, "authorships": [{"author": {"id": a}} for a in aids]})
    >>> g = coauthor_graph([work("W1", "A1", "A2"), work("W2", "A1", "A2", "A3")])
    >>> g.edges["A1", "A2"]["weight"], g.edges["A1", "A2"]["works"]
    (1.5, 2)
    >>> g = coauthor_graph([work("W1", "A1", "A2", "A3")], max_authors=2)
    >>> g.number_of_nodes(), g.number_of_edges(), g.graph["consortium_works"]
    (3, 0, 1)
    """
    return coauthor_projection(works, max_authors=max_authors).to_networkx()


def coauthor_projection(works: Iterable[Work], *, max_authors: int | None = 100
                        ) -> WeightedProjection:
    """The co-author network of :func:`coauthor_graph`, held as arrays.

    Same nodes, edges, weights and policy; build networkx from it with
    :meth:`WeightedProjection.to_networkx` when an algorithm needs it.

    Examples
    --------
    >>> from tracker.records import parse_work
    >>> w = parse_work({"id": "W1", "authorships": [{"author": {"id": "A1"}}, {}]})
    >>> p = coauthor_projection([w])
    >>> p.labels, p.weight.tolist()
    (['A1', 'W1#1'], [1.0])
    """
    return join_coauthor_shares([coauthor_share(works, max_authors=max_authors)])


@dataclass(slots=True)
class CoauthorShare:
    """The co-author network of one share of the works, before the shares are joined.

    Attributes
    ----------
    labels, attrs : list
        Node keys and attributes in the order first met: first those of works within the
        author limit (``labels[:kept]``), then those met only on consortium works.
    kept : int
    rows : dict of int to numpy.ndarray
        Each work within the limit with two or more authors: its distinct authors, as
        indexes into ``labels``; the works with ``n`` authors as the rows of ``rows[n]``
        (numpy arrays: quick to send from another process, and remapped by one indexing).
    works, skipped : int
        Works in the share, and consortium works among them.
    max_authors : int or None
    """

    labels: list[str]
    attrs: list[dict[str, Any]]
    kept: int
    rows: dict[int, np.ndarray]
    works: int
    skipped: int
    max_authors: int | None


def coauthor_share(works: Iterable[Work], *, max_authors: int | None = 100) -> CoauthorShare:
    """The co-author network of some works, to be joined with other shares' by
    :func:`join_coauthor_shares` (for works read in several processes, see
    :func:`tracker.screening.screen_shares`).

    Examples
    --------
    >>> from tracker.records import parse_work
    >>> def work(wid, *aids):
    ...     return parse_work({"id": wid, "authorships": [{"author": {"id": a}} for a in aids]})
    >>> a = coauthor_share([work("W1", "A1", "A2")])
    >>> b = coauthor_share([work("W2", "A2", "A3", "A1")])
    >>> p = join_coauthor_shares([a, b])
    >>> p.labels, p.works.tolist()
    (['A1', 'A2', 'A3'], [2, 1, 1])
    """
    if max_authors is not None and max_authors < 2:
        raise ValueError("max_authors below 2 would leave no co-author ties at all")
    code: dict[str, int] = {}
    attrs: list[dict[str, Any]] = []
    groups: list[list[int]] = []
    n = 0
    later: list[Work] = []
    for w in works:
        n += 1
        if _over_limit(w, max_authors):
            later.append(w)  # its authors stay nodes, attributes from kept works first
            continue
        ids: dict[int, None] = {}
        for a in w.authorships:
            key = a.author_id or f"{w.id}#{a.index}"  # author_key, inlined
            i = code.get(key)
            if i is None:
                i = code[key] = len(attrs)
                attrs.append(_author_attrs(a))
            ids[i] = None
        groups.append(list(ids))
    kept = len(attrs)
    for w in later:
        for a in w.authorships:
            key = author_key(w.id, a)
            if key not in code:
                code[key] = len(attrs)
                attrs.append(_author_attrs(a))
    return CoauthorShare(list(code), attrs, kept, _rows_by_size(groups), n, len(later),
                         max_authors)


def join_coauthor_shares(shares: Sequence[CoauthorShare]) -> WeightedProjection:
    """The co-author projection of the shares' works taken in order: the same nodes (in the
    same order), attributes, edges and weights as :func:`coauthor_projection` of them all.

    Raises
    ------
    ValueError
        The shares were built with different author limits.
    """
    limits = {s.max_authors for s in shares}
    if len(limits) > 1:
        raise ValueError(f"shares built with different author limits: {sorted(map(str, limits))}")
    max_authors = limits.pop() if limits else 100
    if len(shares) == 1:
        s = shares[0]
        labels, attrs, rows = s.labels, s.attrs, s.rows
    else:  # one pass over the works in order meets kept works' authors first, then the rest
        code: dict[str, int] = {}
        attrs = []
        maps = [[0] * len(s.labels) for s in shares]
        for part in ("kept", "later"):
            for s, where in zip(shares, maps, strict=True):
                span = range(s.kept) if part == "kept" else range(s.kept, len(s.labels))
                for j in span:
                    i = code.get(s.labels[j])
                    if i is None:
                        i = code[s.labels[j]] = len(attrs)
                        attrs.append(s.attrs[j])
                    where[j] = i
        labels = list(code)
        del code
        parts: dict[int, list[np.ndarray]] = {}
        for s, where in zip(shares, maps, strict=True):
            remap = np.array(where, dtype=np.int64)
            for n, arr in s.rows.items():
                parts.setdefault(n, []).append(remap[arr])
        rows = {n: np.concatenate(p) for n, p in parts.items()}
        del parts
    u, v, weight, count = _pairs_of_rows(rows, len(labels))
    return WeightedProjection(labels, attrs, u, v, weight, count,
                              _meta(sum(s.works for s in shares),
                                    sum(s.skipped for s in shares), max_authors))


def _institution_key(inst: Any) -> str:
    return inst.id or (f"ror:{inst.ror}" if inst.ror else f"name:{inst.display_name}")


def institution_graph(works: Iterable[Work], *, max_authors: int | None = 100) -> nx.Graph:
    """Institution co-occurrence graph with Newman collaboration weights.

    Two institutions are tied when they appear on the same work (on any of its authorships).

    Parameters
    ----------
    works : iterable of Work
    max_authors : int or None, default 100
        Works with more *authors* give no pairwise ties (the consortium policy); their
        institutions are still nodes.

    Returns
    -------
    networkx.Graph
        Nodes keyed by OpenAlex institution ID (else ``"ror:<id>"`` or ``"name:<name>"``) with
        ``label``, ``ror``, ``country_code``; edges with ``weight`` (Newman, over works, with
        :math:`n_k` the number of institutions on work :math:`k`) and ``works``.

    References
    ----------
    .. [1] M. E. J. Newman, Phys. Rev. E 64, 016132 (2001).

    Examples
    --------
    >>> from tracker.records import parse_work
    >>> w = parse_work({"id": "W1", "authorships": [
    ...     {"institutions": [{"id": "I1", "display_name": "One"}]},
    ...     {"institutions": [{"id": "I2", "display_name": "Two"}]}]})
    >>> g = institution_graph([w])
    >>> g.edges["I1", "I2"]["weight"], g.nodes["I2"]["label"]
    (1.0, 'Two')
    """
    if max_authors is not None and max_authors < 2:
        raise ValueError("max_authors below 2 would leave no ties at all")
    works = list(works)
    code: dict[str, int] = {}
    attrs: list[dict[str, Any]] = []
    groups: list[list[int]] = []
    skipped = 0
    for w in works:
        over = _over_limit(w, max_authors)
        skipped += over
        ids: dict[int, None] = {}
        for a in w.authorships:
            for inst in a.institutions:
                key = _institution_key(inst)
                i = code.get(key)
                if i is None:
                    i = code[key] = len(attrs)
                    attrs.append({"bipartite": 0, "kind": "institution",
                                  "label": inst.display_name or key, "ror": inst.ror or "",
                                  "country_code": inst.country_code or ""})
                ids[i] = None
        if not over:
            groups.append(list(ids))
    labels = list(code)
    del code
    u, v, weight, count = _newman_pairs(groups, len(labels))
    return WeightedProjection(labels, attrs, u, v, weight, count,
                              _meta(len(works), skipped, max_authors)).to_networkx()


# --------------------------------------------------------------------------- flagged network


@dataclass(frozen=True, slots=True)
class _Tie:
    """One finding placed in the network: the node keys it touches."""

    finding: Finding
    work: str
    author: str
    institution: str


def _author_key_alone(f: Finding) -> bool:
    """Whether :func:`_finding_author_key` gives ``f``'s author key without its work."""
    return _own_author_key(f) is not None


def _own_author_key(f: Finding) -> str | None:
    """``f``'s author key from the finding alone (its author ID or authorship index)."""
    if f.author_id:
        return f"author:{f.author_id}"
    idx = f.extra.get("authorship_index") if isinstance(f.extra, dict) else None
    return f"author:{f.work_id}#{idx}" if isinstance(idx, int) else None


def _finding_author_key(f: Finding, work: Work | None) -> str:
    own = _own_author_key(f)
    if own is not None:
        return own
    if work is not None:  # recover the authorship: same name, same raw affiliation
        for a in work.authorships:
            if a.author_id is None and (a.author_name or "") == f.author_name and (
                    not f.raw_affiliation or f.raw_affiliation in a.raw_affiliations):
                return f"author:{f.work_id}#{a.index}"
    return f"author:{f.work_id}#?{f.author_name}"


def _finding_institution_key(f: Finding) -> str:
    if f.institution_id:
        return f"inst:{f.institution_id}"
    if f.institution_ror:
        return f"inst:ror:{f.institution_ror}"
    return f"inst:entry:{f.list_entry_name}"


def subject_specs(subjects: Mapping[str, Any] | None) -> list[tuple[str, tuple[str, ...],
                                                                  dict[str, str]]]:
    """``(kind, ids, labels)`` of each screened subject, from either shape a result uses.

    Accepts ``{"kind", "ids", "labels"}`` and ``{"items": [{"kind", "ids", "label"}, ...]}``
    (``tracker.screening``).  ``kind`` is ``org``, ``author``, ``roster`` or ``files``.

    Examples
    --------
    >>> subject_specs({"kind": "org", "ids": ["I1"], "labels": {"I1": "One"}})
    [('org', ('I1',), {'I1': 'One'})]
    >>> subject_specs({"items": [{"kind": "author", "ids": ["A1", "A2"], "label": "X"}]})
    [('author', ('A1', 'A2'), {'A1': 'X', 'A2': 'X'})]
    >>> subject_specs({"items": []}), subject_specs(None)
    ([], [])
    """
    if not subjects:
        return []
    raw = subjects.get("items")
    items = raw if isinstance(raw, list) else [subjects]
    out = []
    for it in items:
        if not isinstance(it, Mapping):
            continue
        ids = tuple(str(x) for x in it.get("ids") or [])
        labels_raw = it.get("labels")
        if isinstance(labels_raw, Mapping):
            labels = {str(k): str(v) for k, v in labels_raw.items() if v}
        else:
            label = str(it.get("label") or "")
            labels = {i: label for i in ids} if label else {}
        out.append((str(it.get("kind") or "files"), ids, labels))
    return out


def _subject_keys(work: Work | None, subjects: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(node key, label, relation) of each screened subject on this work."""
    if work is None:
        return []
    out: dict[str, tuple[str, str, str]] = {}
    for kind, id_list, labels in subject_specs(subjects):
        ids = set(id_list)
        if kind in ("author", "roster"):
            for a in work.authorships:
                if a.author_id and a.author_id in ids:
                    label = labels.get(a.author_id) or a.author_name or a.author_id
                    out[f"author:{a.author_id}"] = (f"author:{a.author_id}", label, "authored")
        elif kind == "org":
            for a in work.authorships:
                for inst in a.institutions:
                    hit = {inst.id, inst.ror, *inst.lineage} & ids
                    for sid in sorted(x for x in hit if x):
                        key = f"inst:ror:{sid}" if sid == inst.ror else f"inst:{sid}"
                        own = sid in (inst.id, inst.ror)
                        label = labels.get(sid) or (inst.display_name if own else None) or sid
                        out[key] = (key, label, "affiliation on this work")
    return list(out.values())


def _date_ordinal(text: str) -> int:
    try:
        return date.fromisoformat(text).toordinal() if len(text) == 10 else (
            date(int(text), 1, 1).toordinal() if text else 0)
    except ValueError:
        return 0


def _work_order(findings: list[Finding]) -> tuple[int, int, int]:
    designation = any(f.is_designation for f in findings)
    listed = min(_LISTED_RANK.get(f.listed_at_publication, 1) for f in findings)
    return (0 if designation else 1, listed, -_date_ordinal(findings[0].publication_date))


def _join(values: Iterable[str]) -> str:
    return " | ".join(dict.fromkeys(v for v in values if v))


def flagged_network(result: ScreenResultLike, *,
                    max_nodes: int = 5000) -> tuple[nx.Graph, str]:
    """The flagged part of the collaboration network, pruned to stay readable.

    Nodes (``kind``): ``work`` (flagged works), ``author`` (authors with a flagged
    affiliation), ``institution`` (the listed institutions they were affiliated with); the
    screened subjects are ``author`` or ``institution`` nodes with ``is_subject=True`` (the
    screened authors on those works, or the screened organisation).  Edges: ``authored``
    (author--work), ``flagged affiliation`` (author--institution, carrying the evidence:
    works, dates, raw affiliations, lists, listing dates, finding IDs, and ``evidence``, one
    line per finding) and the subject's tie to each work.

    Every finding counts, including those on consortium works.  When the whole network has
    more than ``max_nodes`` nodes, works are added whole, in a stated order (works with a
    designation-list finding first, then "listed at publication" yes / unknown / no, then
    newest first), while they fit.  Nothing is ranked by person.

    Parameters
    ----------
    result : ScreenResultLike
        A screening result (findings, works, run, subjects).
    max_nodes : int, default 5000

    Returns
    -------
    (networkx.Graph, str)
        The graph (``g.graph["note"]`` repeats the note, ``g.graph["pruned"]`` says whether it
        was pruned) and a one-paragraph note saying what it shows and what was left out.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> from tracker.risk import Finding
    >>> f = Finding(finding_id="f1", work_id="W1", doi="", title="T", publication_date="2021",
    ...             author_id="A1", author_name="X", author_position="first",
    ...             raw_affiliation="Dept, Univ", institution_id="I1", institution_ror="",
    ...             institution_name="Univ", list="BIS_ENTITY_LIST", list_entry_name="Univ",
    ...             listed_on="2020-06-05", listed_at_publication="yes",
    ...             match_method="openalex_id", match_detail="", outcome="review")
    >>> r = SimpleNamespace(findings=[f], works={}, run={}, subjects={"kind": "files"})
    >>> g, note = flagged_network(r)
    >>> sorted(g.nodes)
    ['author:A1', 'inst:I1', 'work:W1']
    >>> g.edges["author:A1", "inst:I1"]["lists"]
    'BIS_ENTITY_LIST'
    >>> note.startswith("All 1 flagged work")
    True
    """
    findings = result.findings
    if isinstance(findings, SpooledFindings):
        # in order of publication date and work: a work's findings follow each other, and
        # each read holds one work's (the planning pass); the works drawn are then read by
        # their date and ID, in that order, from the blocks that hold them alone
        # (SpooledFindings.starting_with), not by a second pass over every finding; a date
        # per flagged work is kept for that (the plan keeps each work's node keys already)
        dates: dict[str, str] = {}
        by_date = findings.key is finding_order

        def runs(ids: set[str] | None) -> Iterator[list[Finding]]:
            if ids is not None and by_date:
                for wid in sorted(ids & dates.keys(), key=lambda w: (dates[w], w)):
                    if found := findings.starting_with((dates[wid], wid)):
                        yield found
                return
            for wid, fs in itertools.groupby(findings, key=attrgetter("work_id")):
                if ids is None or wid in ids:
                    group = list(fs)
                    if ids is None and by_date:
                        dates[wid] = group[0].publication_date
                    yield group

        return _network_of_groups(runs, max_nodes, result.works, result.subjects or {})
    by_work: dict[str, list[Finding]] = {}
    for f in findings:
        by_work.setdefault(f.work_id, []).append(f)
    return _network_of_groups(lambda ids: by_work.values(), max_nodes, result.works,
                              result.subjects or {})


def flagged_network_of_groups(
        groups: Callable[[set[str] | None], Iterable[list[Finding]]], *,
        max_nodes: int = 5000) -> tuple[nx.Graph, str]:
    """:func:`flagged_network` of findings too many to hold at once, without the works.

    ``groups(None)`` yields the findings of one flagged work at a time (each work once,
    its findings in their stored order; works in any order): read once to plan which works
    fit, keeping only each work's node keys.  ``groups(ids)`` then yields those of the
    works with these IDs (it may yield others: they are passed over), to draw them.  The
    graph and note are those of ``flagged_network`` on the same findings with no works and
    no subjects (as a case file holds them).

    Parameters
    ----------
    groups : callable taking a set of work IDs or None, returning lists of Finding
    max_nodes : int, default 5000

    Returns
    -------
    (networkx.Graph, str)
        As :func:`flagged_network`.

    Examples
    --------
    >>> from tracker.risk import Finding
    >>> fs = [Finding(finding_id=f"f{i}", work_id=f"W{i % 2}", doi="", title="T",
    ...               publication_date="2021", author_id=f"A{i}", author_name="X",
    ...               author_position="first", raw_affiliation="", institution_id="I1",
    ...               institution_ror="", institution_name="Univ", list="BIS_ENTITY_LIST",
    ...               list_entry_name="Univ", listed_on="2020-06-05",
    ...               listed_at_publication="yes", match_method="openalex_id",
    ...               match_detail="", outcome="review") for i in range(4)]
    >>> g, note = flagged_network_of_groups(lambda ids: ([f for f in fs if f.work_id == w]
    ...                                                  for w in ("W0", "W1")), max_nodes=4)
    >>> sorted(g.nodes)
    ['author:A0', 'author:A2', 'inst:I1', 'work:W0']
    >>> note.startswith("Pruned to stay readable: 1 of 2 flagged works")
    True
    """
    return _network_of_groups(groups, max_nodes, {}, {})


@collector_paused()
def _network_of_groups(groups: Callable[[set[str] | None], Iterable[list[Finding]]],
                       max_nodes: int, works: Mapping[str, Work],
                       subjects: Mapping[str, Any]) -> tuple[nx.Graph, str]:
    """Both network builders: plan on each work's node keys, then draw the works that fit
    (``groups`` as :func:`flagged_network_of_groups` takes it)."""
    if max_nodes < 3:
        raise ValueError("max_nodes below 3 cannot hold even one work, author and institution")

    def ties(wid: str, fs: list[Finding], work: Work | None) -> list[_Tie]:
        return [_Tie(f, f"work:{wid}", _finding_author_key(f, work),
                     _finding_institution_key(f)) for f in fs]

    # the planning pass reads a work only when its node keys depend on it (a subject's
    # node, an author without an ID or authorship index): works may be parsed on each read
    # (tracker.records.PackedWorks), and a large run's findings usually carry both keys
    subject_nodes = _has_subject_ids(subjects)
    plan: list[tuple[tuple[int, int, int], str, frozenset[str]]] = []
    for fs in groups(None):
        wid = fs[0].work_id
        # the keys alone (a _Tie a finding cost about a second at a million works), each
        # author's from the finding where it can be (_reads_work, each finding's key once)
        authors = [_own_author_key(f) for f in fs]
        work = works.get(wid) if subject_nodes or None in authors else None
        keys = {f"work:{wid}", *[_finding_institution_key(f) for f in fs]}
        keys.update([a if a is not None else _finding_author_key(f, work)
                     for a, f in zip(authors, fs, strict=True)])
        if work is not None:
            keys.update([s[0] for s in _subject_keys(work, subjects)])
        plan.append((_work_order(fs), wid, frozenset(keys)))
    plan.sort(key=lambda item: (item[0], item[1]))
    placed: set[str] = set()
    kept: list[str] = []
    for _, wid, work_keys in plan:
        if len(placed) >= max_nodes:  # full: a work's own node is always new
            break
        new = work_keys - placed
        if len(placed) + len(new) > max_nodes:
            continue
        placed |= new
        kept.append(wid)
    nodes_total = len(frozenset().union(*(k for _, _, k in plan)))
    want = set(kept)
    found = {fs[0].work_id: fs for fs in groups(want) if fs[0].work_id in want}
    g = nx.Graph()
    for wid in kept:
        work = works.get(wid) if _reads_work(found[wid], subject_nodes) else None
        _add_work(g, _authorship_count(works, wid, work), ties(wid, found[wid], work),
                  _subject_keys(work, subjects))
    note = _describe(g, len(kept), len(plan), nodes_total, max_nodes)
    return g, note


def _describe(g: nx.Graph, kept: int, flagged: int, nodes_total: int, max_nodes: int) -> str:
    """Say on ``g`` (``g.graph``) and in a note what the flagged network shows."""
    pruned = kept < flagged
    if not flagged:
        note = "No flagged ties: the network is empty. This is not clearance."
    elif not pruned:
        note = (f"All {flagged} flagged work{'s' if flagged != 1 else ''} and their flagged "
                f"ties are shown ({len(g)} nodes).")
    else:
        note = (f"Pruned to stay readable: {kept} of {flagged} flagged works are shown "
                f"({len(g)} of {nodes_total} nodes; limit {max_nodes}). Works were added whole "
                f"while they fit, works with a designation-list finding first, then 'listed at "
                f"publication' yes, unknown, no, then newest first. Pruning leaves works out of "
                f"the drawing only, not out of the findings.")
    g.graph.update(note=note, pruned=pruned, works_shown=kept, works_flagged=flagged,
                   nodes_total=nodes_total, max_nodes=max_nodes)
    return note


def prune_flagged_network(g: nx.Graph, result: ScreenResultLike,
                          max_nodes: int) -> tuple[nx.Graph, str]:
    """A smaller view of the network :func:`flagged_network` built for ``result``.

    The same graph as ``flagged_network(result, max_nodes=max_nodes)`` (same works, nodes,
    evidence and note) without planning every finding again: the works are taken from
    ``g`` in the order it holds them (the stated order) while they fit whole, and only
    their findings are added.  Used to draw the report's network from the one built for
    network.graphml.

    Parameters
    ----------
    g : networkx.Graph
        As :func:`flagged_network` returned it for ``result``, with a larger limit.
    result : ScreenResultLike
    max_nodes : int

    Returns
    -------
    (networkx.Graph, str)
        ``g`` itself when it already fits, else a new graph; and the note.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> from tracker.risk import Finding
    >>> fs = [Finding(finding_id=f"f{i}", work_id=f"W{i}", doi="", title="T",
    ...               publication_date="2021", author_id=f"A{i}", author_name="X",
    ...               author_position="first", raw_affiliation="", institution_id=f"I{i}",
    ...               institution_ror="", institution_name="U", list="BIS_ENTITY_LIST",
    ...               list_entry_name="U", listed_on="", listed_at_publication="unknown",
    ...               match_method="openalex_id", match_detail="", outcome="review")
    ...       for i in (1, 2)]
    >>> r = SimpleNamespace(findings=fs, works={}, run={}, subjects={"kind": "files"})
    >>> small, note = prune_flagged_network(flagged_network(r)[0], r, 3)
    >>> len(small), note.startswith("Pruned to stay readable: 1 of 2")
    (3, True)
    """
    if max_nodes < 3:
        raise ValueError("max_nodes below 3 cannot hold even one work, author and institution")
    if len(g) <= max_nodes:
        return g, str(g.graph.get("note", ""))
    keep: set[Any] = set()
    shown: list[str] = []
    for work, kind in g.nodes(data="kind"):
        if kind != "work":
            continue
        wid = work.partition(":")[2]
        need = {work, *g[work]}  # its authors and subjects
        for author in g[work]:  # and the institutions of its own flagged ties
            need |= {i for i in g[author] if g.edges[author, i].get("relation")
                     == "flagged affiliation" and wid in str(g.edges[author, i].get(
                         "works", "")).split(" | ")}
        if len(keep | need) <= max_nodes:
            keep |= need
            shown.append(wid)
    by_work: dict[str, list[Finding]] = {wid: [] for wid in shown}
    findings = result.findings
    if isinstance(findings, SpooledFindings) and findings.key is finding_order:
        # on disk: only the blocks of the works shown, by their date and ID (the key's
        # first values), in that order: each block is read at most once
        dated = sorted((str(g.nodes[f"work:{wid}"].get("date", "")), wid) for wid in shown)
        for prefix in dated:
            by_work[prefix[1]] = findings.starting_with(prefix)
    missing = {wid for wid, fs in by_work.items() if not fs}  # in memory (or not found)
    if missing:
        for f in findings:
            if f.work_id in missing:
                by_work[f.work_id].append(f)
    subjects = result.subjects or {}
    subject_nodes = _has_subject_ids(subjects)
    h = nx.Graph()
    for wid, fs in by_work.items():  # (each work's size is g's)
        work = result.works.get(wid) if _reads_work(fs, subject_nodes) else None
        _add_work(h, int(g.nodes[f"work:{wid}"].get("n_authors", 0)),
                  [_Tie(f, f"work:{wid}", _finding_author_key(f, work),
                        _finding_institution_key(f)) for f in fs],
                  _subject_keys(work, subjects))
    note = _describe(h, len(shown), int(g.graph.get("works_flagged", len(shown))),
                     int(g.graph.get("nodes_total", len(g))), max_nodes)
    return h, note


def _has_subject_ids(subjects: Mapping[str, Any]) -> bool:
    """Whether any screened subject has IDs (only those draw nodes of their own)."""
    return any(ids for _, ids, _ in subject_specs(subjects))


def _reads_work(fs: list[Finding], subject_nodes: bool) -> bool:
    """Whether drawing a work's findings ``fs`` reads the work: for its subjects' nodes, or
    for an author with neither an ID nor a place on it (:func:`_finding_author_key`).
    Otherwise the work is not read (a packed one is not parsed: see
    :func:`_authorship_count`)."""
    return subject_nodes or any(not _author_key_alone(f) for f in fs)


def _authorship_count(works: Mapping[str, Work], wid: str, work: Work | None) -> int:
    """How many authorships the work ``wid`` has (0 when ``works`` lacks it): from ``work``
    when it was read, else from ``works`` without parsing a packed work
    (:meth:`tracker.records.PackedWorks.authorship_count`)."""
    if work is not None:
        return len(work.authorships)
    if isinstance(works, PackedWorks):
        return works.authorship_count(wid) if wid in works else 0
    held = works.get(wid)
    return len(held.authorships) if held is not None else 0


def _add_work(g: nx.Graph, n_authors: int, ties: list[_Tie],
              subjects: list[tuple[str, str, str]]) -> None:
    f0 = ties[0].finding
    wkey = ties[0].work
    g.add_node(wkey, kind="work", label=f0.title or f0.work_id, work_id=f0.work_id,
               doi=f0.doi, date=f0.publication_date, is_subject=False,
               n_authors=n_authors,
               designation=any(t.finding.is_designation for t in ties))
    for skey, label, relation in subjects:
        if skey not in g:
            if skey.startswith("author:"):
                g.add_node(skey, kind="author", label=label, author_id=skey[7:])
            else:
                g.add_node(skey, kind="institution", label=label, institution_id="", ror="",
                           lists="", designation=False)
        g.nodes[skey]["is_subject"] = True
        g.add_edge(skey, wkey, relation=relation)
    for t in ties:
        f = t.finding
        if t.author not in g:
            g.add_node(t.author, kind="author", label=f.author_name or "(no name)",
                       author_id=f.author_id, is_subject=False)
        if t.institution not in g:
            g.add_node(t.institution, kind="institution",
                       label=f.institution_name or f.list_entry_name,
                       institution_id=f.institution_id, ror=f.institution_ror, lists="",
                       designation=False, is_subject=False)
        node = g.nodes[t.institution]
        node["lists"] = _join([*node.get("lists", "").split(" | "), f.list])
        node["designation"] = bool(node.get("designation") or f.is_designation)
        if not g.has_edge(t.author, wkey):
            g.add_edge(t.author, wkey, relation="authored",
                       author_position=f.author_position)
        if not g.has_edge(t.author, t.institution):
            g.add_edge(t.author, t.institution, relation="flagged affiliation", works="",
                       dates="", raw_affiliations="", lists="", entries="", listed_on="",
                       listed_at_publication="", finding_ids="", evidence="",
                       designation=False, ties=0)
        e = g.edges[t.author, t.institution]
        e["works"] = _join([*e["works"].split(" | "), f.work_id])
        e["dates"] = _join([*e["dates"].split(" | "), f.publication_date])
        e["raw_affiliations"] = _join([*e["raw_affiliations"].split(" | "), f.raw_affiliation])
        e["lists"] = _join([*e["lists"].split(" | "), f.list])
        e["entries"] = _join([*e["entries"].split(" | "), f.list_entry_name])
        e["listed_on"] = _join([*e["listed_on"].split(" | "),
                                f"{f.list} {f.listed_on or 'date unknown'}"])
        e["listed_at_publication"] = _join([*e["listed_at_publication"].split(" | "),
                                            f"{f.work_id}: {f.listed_at_publication}"])
        e["finding_ids"] = _join([*e["finding_ids"].split(" | "), f.finding_id])
        line = (f"{f.work_id} ({f.publication_date or 'date unknown'}): {f.list} "
                f"'{f.list_entry_name}', listed on {f.listed_on or 'unknown'}; "
                f"listed at publication: {f.listed_at_publication}"
                + (f"; tie: {_RELATIONS.get(f.relation, f.relation)}"
                   if f.relation and f.relation != "unspecified" else "")
                + f"; raw affiliation: '{f.raw_affiliation or 'none recorded'}'")
        e["evidence"] = "\n".join(dict.fromkeys([*filter(None, e["evidence"].split("\n")),
                                                  line]))
        e["designation"] = bool(e["designation"] or f.is_designation)
        e["ties"] = int(e["ties"]) + 1


# --------------------------------------------------------------------------- writers


def _safe_value(value: Any) -> str | int | float | bool | None:
    """A GraphML/GEXF-safe scalar: None dropped, sequences joined, text cleaned."""
    if value is None:
        return None
    if isinstance(value, bool | int | float):
        return value
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple | set | frozenset):
        value = " | ".join(str(v) for v in value)
    return _XML_ILLEGAL.sub("\ufffd", str(value))


def _safe_copy(g: nx.Graph, *, graph_attrs: bool) -> nx.Graph:
    h = g.__class__()
    if graph_attrs:
        h.graph.update({k: v for k, v in ((k, _safe_value(v)) for k, v in g.graph.items())
                        if v is not None})
    for n, d in g.nodes(data=True):
        h.add_node(_safe_value(n), **{k: v for k, v in ((k, _safe_value(v))
                                                         for k, v in d.items()) if v is not None})
    for u, v, d in g.edges(data=True):
        h.add_edge(_safe_value(u), _safe_value(v),
                   **{k: x for k, x in ((k, _safe_value(x)) for k, x in d.items())
                      if x is not None})
    return h


def write_graphml(g: nx.Graph, path: str | Path) -> Path:
    """Write a graph as GraphML (for Gephi, Cytoscape, yEd), attributes made safe scalars.

    ``None`` attributes are dropped, sequences joined with ``" | "``, dates written as ISO
    text and characters XML cannot hold replaced.

    Examples
    --------
    >>> import tempfile, networkx as nx
    >>> g = nx.Graph(note="n"); g.add_edge("a", "b", tags=("x", "y"), gone=None)
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = write_graphml(g, Path(d) / "g.graphml")
    ...     nx.read_graphml(p).edges["a", "b"]
    {'tags': 'x | y'}
    """
    return _graphml(_safe(g, graph_attrs=True), Path(path))


def _graphml(h: nx.Graph, path: Path) -> Path:
    if graphxml.supports(h):  # tracker's own graphs: one streaming pass
        return graphxml.write_graphml_text(h, path)
    nx.write_graphml(h, path, encoding="utf-8")
    return path


def _gexf(h: nx.Graph, path: Path) -> Path:
    if graphxml.supports(h):
        return graphxml.write_gexf_text(h, path)
    nx.write_gexf(h, path, encoding="utf-8")
    return path


def write_gexf(g: nx.Graph, path: str | Path) -> Path:
    """Write a graph as GEXF 1.2 (for Gephi), attributes made safe scalars.

    Examples
    --------
    >>> import tempfile, networkx as nx
    >>> g = nx.Graph(); g.add_node("a", label="A\\x01"); g.add_edge("a", "b")
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = write_gexf(g, Path(d) / "g.gexf")
    ...     sorted(nx.read_gexf(p).nodes)
    ['a', 'b']
    """
    return _gexf(_safe(g, graph_attrs=False), Path(path))


def write_network_files(g: nx.Graph, graphml: str | Path, gexf: str | Path
                        ) -> tuple[Path, Path]:
    """Write a graph as both GraphML and GEXF, as :func:`write_graphml` and
    :func:`write_gexf` do, from at most one safe copy (none for a graph already safe; the
    copy is a third of the time at thousands of nodes; the files themselves are streamed by
    :mod:`tracker.graphxml`).

    Examples
    --------
    >>> import tempfile, networkx as nx
    >>> g = nx.Graph(note="n"); g.add_edge("a", "b", tags=("x", "y"))
    >>> with tempfile.TemporaryDirectory() as d:
    ...     a, b = write_network_files(g, Path(d) / "g.graphml", Path(d) / "g.gexf")
    ...     nx.read_graphml(a).graph["note"], nx.read_gexf(b).edges["a", "b"]["tags"]
    ('n', 'x | y')
    """
    graphml, gexf = Path(graphml), Path(gexf)
    h = _safe(g, graph_attrs=True)
    _graphml(h, graphml)
    if h is not g:  # our copy: GEXF carries no graph attributes (as write_gexf)
        h.graph.clear()
    _gexf(h, gexf)  # a graph already safe goes to graphxml, which writes none either
    return graphml, gexf


def _safe(g: nx.Graph, *, graph_attrs: bool) -> nx.Graph:
    """``g`` itself when it is already safe (:func:`_already_safe`: tracker's own graphs, as
    :func:`flagged_network` builds them), else :func:`_safe_copy` of it."""
    return g if _already_safe(g) else _safe_copy(g, graph_attrs=graph_attrs)


def _already_safe(g: nx.Graph) -> bool:
    """Whether ``g`` is already what :func:`_safe_copy` would make of it, for
    :mod:`tracker.graphxml`: types it writes, and no text with a character XML cannot hold.
    Checking takes about a tenth of the copy (4,463 nodes and 6,328 edges: 0.01 s vs 0.11 s).
    """
    if not graphxml.supports(g):
        return False
    bad = _XML_ILLEGAL.search
    texts = itertools.chain(g.graph.values(), g,
                            (v for _, d in g.nodes(data=True) for v in d.values()),
                            (v for _, _, d in g.edges(data=True) for v in d.values()))
    return not any(type(v) is str and bad(v) for v in texts)
