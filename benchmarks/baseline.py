"""The baseline: what an analyst would write without tracker, for the benchmark to beat.

Standard-library ``json.loads`` line by line, plain ``dict`` access, nested loops over
authorships x institutions x registry rows (the registry JSON loaded as plain dicts),
matching by OpenAlex ID, ROR, and lineage (only for entries that cover subordinate units),
co-author edges added pair by pair to a :mod:`networkx` graph (works with more than 100
authors skipped, as tracker's default), and findings written as dicts to CSV.

It finds the same identifier ties as ``tracker.screen(..., name_matcher=None)``: the same
(work, authorship, entry) triples, with the same rule for a tie found twice (one row per
work, author, institution and entry).  ``tests/test_benchmarks.py`` checks this.

Usage::

    python -m benchmarks.baseline WORKS.jsonl.gz --out findings.csv
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import networkx as nx

__all__ = ["assess", "build_graph", "find_ties", "load_registry_rows", "read_works", "run",
           "write_csv"]

REGISTRY = Path(__file__).resolve().parents[1] / "tracker" / "data" / "registry.json"
MAX_AUTHORS = 100
COLUMNS = ("work_id", "authorship_index", "author_id", "institution_id", "institution_ror",
           "entry_id", "list", "entry_name", "match_method", "publication_date", "listed_on",
           "listed_at_publication")


def _short(value: Any) -> str:
    if not isinstance(value, str) or not value:
        return ""
    return value.rsplit("/", 1)[-1]


def read_works(path: str | Path) -> list[dict[str, Any]]:
    """Every work in a (gzip) JSON Lines file, as plain dicts."""
    p = Path(path)
    opener = gzip.open if p.read_bytes()[:2] == b"\x1f\x8b" else open
    works = []
    with opener(p, "rt", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                works.append(json.loads(line))
    return works


def load_registry_rows(path: str | Path = REGISTRY) -> list[dict[str, Any]]:
    """The registry's entries as plain dicts."""
    with open(path, encoding="utf-8") as fh:
        return list(json.load(fh)["entries"])


def find_ties(works: list[dict[str, Any]], rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Identifier ties: nested loops authorships x institutions x registry rows."""
    ties = []
    seen = set()
    done_works = set()
    for work in works:
        wid = _short(work.get("id"))
        if wid in done_works:
            continue
        done_works.add(wid)
        for idx, auth in enumerate(work.get("authorships") or []):
            author_id = _short((auth.get("author") or {}).get("id"))
            for inst in auth.get("institutions") or []:
                iid = _short(inst.get("id"))
                ror = _short(inst.get("ror")).lower()
                lineage = [_short(x) for x in inst.get("lineage") or []]
                for row in rows:
                    method = None
                    if iid and iid in row["openalex_ids"]:
                        method = "openalex_id"
                    elif ror and row["ror"] == ror:
                        method = "ror"
                    elif row["covers_subunits"]:
                        for anc in lineage:
                            if anc != iid and anc in row["openalex_ids"]:
                                method = "lineage"
                                break
                    if method is None:
                        continue
                    key = (wid, author_id or f"pos{idx}", iid or ror, row["entry_id"])
                    if key in seen:
                        continue
                    seen.add(key)
                    ties.append({
                        "work_id": wid, "authorship_index": idx, "author_id": author_id,
                        "institution_id": iid, "institution_ror": ror,
                        "entry_id": row["entry_id"], "list": row["list"],
                        "entry_name": row["name"], "match_method": method,
                        "publication_date": work.get("publication_date") or "",
                        "publication_year": work.get("publication_year"),
                        "listed_on": row.get("listed_on") or "",
                        "removed_on": row.get("removed_on") or "",
                    })
    return ties


def assess(ties: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Was the entry listed on the work's date?  ``yes``/``no``/``unknown`` by string dates."""
    for t in ties:
        when = t["publication_date"]
        listed = t["listed_on"]
        if not listed or not (when or t["publication_year"]):
            t["listed_at_publication"] = "unknown"
        elif when:
            removed = t["removed_on"]
            ok = when >= listed and not (removed and when >= removed)
            t["listed_at_publication"] = "yes" if ok else "no"
        else:
            year = int(t["publication_year"])
            listed_year = int(listed[:4])
            t["listed_at_publication"] = ("unknown" if year == listed_year else
                                          "yes" if year > listed_year else "no")
    return ties


def build_graph(works: list[dict[str, Any]], max_authors: int = MAX_AUTHORS) -> nx.Graph:
    """Co-author graph, edges added pair by pair with Newman weights 1/(n-1)."""
    g = nx.Graph()
    for work in works:
        auths = work.get("authorships") or []
        n = len(auths)
        if n > max_authors or (work.get("is_authors_truncated") and n >= max_authors):
            continue
        wid = _short(work.get("id"))
        keys = [_short((a.get("author") or {}).get("id")) or f"{wid}#{i}"
                for i, a in enumerate(auths)]
        for k in keys:
            g.add_node(k)
        for i in range(n):
            for j in range(i + 1, n):
                a, b = keys[i], keys[j]
                if g.has_edge(a, b):
                    g[a][b]["weight"] += 1 / (n - 1)
                    g[a][b]["works"] += 1
                else:
                    g.add_edge(a, b, weight=1 / (n - 1), works=1)
    return g


def write_csv(ties: list[dict[str, Any]], path: str | Path) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with p.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=COLUMNS, extrasaction="ignore")
        w.writeheader()
        for t in ties:
            w.writerow(t)
    return p


def run(works_path: str | Path, out_csv: str | Path, registry: str | Path = REGISTRY,
        graph: bool = True, progress: Callable[[dict[str, Any]], None] | None = None
        ) -> dict[str, Any]:
    """The whole baseline, timed per stage (seconds).

    ``progress`` is called with the timings so far after each stage (so a caller that
    stops a long run still knows which stages finished).
    """
    out: dict[str, Any] = {}
    t0 = time.perf_counter()
    last = t0

    def done(stage: str) -> None:
        nonlocal last
        now = time.perf_counter()
        out[stage] = now - last
        out["total"] = now - t0
        last = now
        if progress is not None:
            progress(dict(out))

    works = read_works(works_path)
    rows = load_registry_rows(registry)
    done("parse")
    ties = find_ties(works, rows)
    done("match")
    assess(ties)
    done("assess")
    g = build_graph(works) if graph else nx.Graph()
    done("graph")
    write_csv(ties, out_csv)
    done("report")
    out.update(works=len(works), findings=len(ties), edges=g.number_of_edges(), ties=ties)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("works", type=Path)
    ap.add_argument("--out", type=Path, default=Path("baseline_findings.csv"))
    args = ap.parse_args(argv)
    r = run(args.works, args.out)
    r.pop("ties")
    print(json.dumps(r))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
