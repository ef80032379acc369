"""A W3C Reconciliation Service (API 0.2, as OpenRefine speaks it) over the registry.

A librarian points OpenRefine at ``http://127.0.0.1:8000/reconcile`` and reconciles a column
of affiliation strings: each candidate is a listed *institution* (its registry key), with
every list membership it has, a score (0-100) and the matcher's reason.  Matching is the
library's name matcher (:class:`tracker.names.NameMatcher`), the same one screening uses;
people's names are never matched.

Queries (``queries`` form or query parameter, a JSON object)::

    {"q0": {"query": "Harbin Inst. Technol., Harbin, China", "limit": 3,
            "properties": [{"pid": "country", "v": "CN"}]}}

Results::

    {"q0": {"result": [{"id": "hit", "name": "Harbin Institute of Technology",
                        "score": 100.0, "match": true, "type": [...],
                        "description": "BIS_ENTITY_LIST (listed 2020-06-05; ...); ..."}]}}
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tracker.matching import Match
from tracker.names import NameMatcher, load_country_names, normalize
from tracker.records import Authorship
from tracker.watchlists import ListEntry, Registry

__all__ = ["INSTITUTION_TYPE", "Candidate", "manifest", "memberships", "reconcile",
           "reconcile_batch"]

INSTITUTION_TYPE = {"id": "institution", "name": "Listed institution"}
DEFAULT_LIMIT = 5
MAX_QUERIES = 1000


@dataclass(frozen=True)
class Candidate:
    """One listed institution that an affiliation string names."""

    id: str
    name: str
    score: float          # 0-100
    match: bool
    reason: str
    memberships: tuple[dict[str, Any], ...]

    def to_json(self) -> dict[str, Any]:
        lists = "; ".join(
            f"{m['list']} ("
            f"{'listed ' + m['listed_on'] if m['listed_on'] else 'listing date unknown'}"
            f"{', removed ' + m['removed_on'] if m['removed_on'] else ''})"
            for m in self.memberships)
        return {"id": self.id, "name": self.name, "score": round(self.score, 1),
                "match": self.match, "type": [INSTITUTION_TYPE],
                "description": f"{lists}. Why: {self.reason}",
                "features": [{"id": "name_score", "value": round(self.score, 1)},
                             {"id": "lists", "value": len(self.memberships)}],
                "memberships": list(self.memberships), "reason": self.reason}


def memberships(registry: Registry, key: str) -> tuple[dict[str, Any], ...]:
    """Every list membership of the institution ``key`` (or of the one entry with that
    ID), with its dated sources; empty when the registry has neither."""
    entries = registry.by_institution_key(key)
    if not entries and key in registry.entry_index:
        entries = [registry.entry_index[key]]
    return tuple(_membership(e) for e in sorted(entries, key=lambda e: e.list))


def _membership(e: ListEntry) -> dict[str, Any]:
    return {"entry_id": e.entry_id, "list": e.list, "name": e.name,
            "is_designation": e.is_designation, "country": e.country or "",
            "listed_on": e.listed_on.isoformat() if e.listed_on else "",
            "listed_on_basis": e.listed_on_basis, "listed_on_source": e.listed_on_source,
            "removed_on": e.removed_on.isoformat() if e.removed_on else "",
            "dates": [d.to_json() for d in e.dates], "editions": list(e.editions),
            "source_url": e.source_url, "licence": e.licence}


def _country_code(value: str) -> str:
    v = value.strip()
    if len(v) == 2 and v.isalpha():
        return v.upper()
    return load_country_names().get(normalize(v), "")


def reconcile(matcher: NameMatcher, query: str, *, country: str = "",
              limit: int = DEFAULT_LIMIT) -> list[Candidate]:
    """The listed institutions an affiliation string names, best first.

    ``country`` (an ISO code or an English name) lowers the score of a candidate listed
    with another country, and says so; a candidate is a sure ``match`` only when it is the
    only one, named in full (score 100) and not contradicted by the country.

    Examples
    --------
    >>> from tracker.watchlists import load_registry
    >>> nm = NameMatcher(load_registry())
    >>> top = reconcile(nm, "Sch. of Astronautics, Harbin Inst. Technol., Harbin, China")[0]
    >>> top.name, "BIS_ENTITY_LIST" in {m["list"] for m in top.memberships}
    ('Harbin Institute of Technology', True)
    >>> reconcile(nm, "Harvard University")
    []
    """
    if not query.strip():
        return []
    registry = matcher.registry
    found: list[Match] = matcher.match_raw(Authorship(index=0, raw_affiliations=(query,)), [])
    by_key: dict[str, list[Match]] = {}
    for m in found:
        by_key.setdefault(m.entry.institution_key or m.entry.entry_id, []).append(m)
    want = _country_code(country) if country else ""
    out = []
    for key, ms in by_key.items():
        best = max(ms, key=lambda m: (not m.context_only, m.score))
        score = best.score * 100.0
        reason = f"{best.method} match: {best.detail}"
        if best.context_only:
            score *= 0.5
            reason += " (context only: not a listed institution itself)"
        entry_country = best.entry.country or ""
        if want and entry_country and entry_country != want:
            score *= 0.5
            reason += f"; the query's country {want} is not the entry's ({entry_country})"
        names = [m.entry.name for m in ms if m.entry.is_designation] or [best.entry.name]
        mem = memberships(registry, key) or tuple(_membership(m.entry) for m in ms)
        out.append(Candidate(key, names[0], score, False, reason, mem))
    out.sort(key=lambda c: (-c.score, c.name))
    if len(out) == 1 and out[0].score >= 100.0:
        out[0] = Candidate(**{**out[0].__dict__, "match": True})
    return out[:max(1, limit)]


def reconcile_batch(matcher: NameMatcher, queries: dict[str, Any]) -> dict[str, Any]:
    """Answer a reconciliation query batch (see the module notes).

    Raises
    ------
    ValueError
        The batch is not an object of query objects with a ``query`` string, or too big.
    """
    if not isinstance(queries, dict):
        raise ValueError("queries must be a JSON object of query objects")
    if len(queries) > MAX_QUERIES:
        raise ValueError(f"at most {MAX_QUERIES} queries per batch")
    out: dict[str, Any] = {}
    for qid, q in queries.items():
        if not isinstance(q, dict) or not isinstance(q.get("query"), str):
            raise ValueError(f"query {qid!r}: needs a 'query' string")
        country = ""
        for p in q.get("properties") or []:
            if isinstance(p, dict) and p.get("pid") == "country" and isinstance(p.get("v"), str):
                country = p["v"]
        limit = q["limit"] if isinstance(q.get("limit"), int) else DEFAULT_LIMIT
        out[qid] = {"result": [c.to_json() for c in reconcile(
            matcher, q["query"], country=country, limit=limit)]}
    return out


def manifest(base_url: str, version: str) -> dict[str, Any]:
    """The service manifest (API 0.2)."""
    return {
        "versions": ["0.2"],
        "name": "tracker: restricted-institution registry (institutions only)",
        "identifierSpace": f"{base_url}/institutions/",
        "schemaSpace": f"{base_url}/schema/institution",
        "serviceVersion": version,
        "documentation": f"{base_url}/openapi.json",
        "defaultTypes": [INSTITUTION_TYPE],
        "view": {"url": f"{base_url}/institutions/{{{{id}}}}"},
    }
