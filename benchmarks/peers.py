"""Two peers a competent analyst would write without tracker, to measure tracker against.

Both find the identifier ties that ``tracker.screen(..., name matching off)`` finds (the same
(work, authorship index, entry) triples; ``tests/test_benchmarks.py`` checks it), assess
"listed at publication" by the entry's dates, count the co-author network (Newman weights
``1/(n-1)``, works of more than 100 authors skipped, as tracker's default) and write the ties
as CSV.  Neither matches names: that is tracker's own work, measured apart (``e2e_names``).

``python``
    orjson line by line, the registry turned into three dict indexes (OpenAlex ID, ROR, and
    OpenAlex ID of entries that cover sub-units, for lineage), co-author pairs counted in a
    dict and handed to networkx once (``add_edges_from``).  What a Python programmer who
    knows dicts writes in an afternoon; no loop over registry rows.

``duckdb``
    DuckDB SQL over the works file as it is: ``read_json`` with the columns named, authorships
    and institutions unnested with their positions, one key stream (ID, ROR, lineage) joined
    once against a registry key table, the best method per tie kept, dates compared in SQL,
    co-author pairs aggregated in SQL, and ``COPY`` to CSV.  The build side of the join is
    pinned to the registry (``disabled_optimizers``), as the scale notes found necessary.

Usage::

    python -m benchmarks.peers python WORKS.jsonl.gz --out ties.csv
    python -m benchmarks.peers duckdb WORKS.jsonl.gz --out ties.csv
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import networkx as nx
import orjson

__all__ = ["REGISTRY", "duckdb_peer", "python_peer", "registry_keys"]

REGISTRY = Path(__file__).resolve().parents[1] / "tracker" / "data" / "registry.json"
MAX_AUTHORS = 100
COLUMNS = ("work_id", "authorship_index", "author_id", "institution_id", "institution_ror",
           "entry_id", "list", "entry_name", "match_method", "publication_date", "listed_on",
           "listed_at_publication")
_METHODS = ("openalex_id", "ror", "lineage")


def _short(value: Any) -> str:
    if not isinstance(value, str) or not value:
        return ""
    return value.rsplit("/", 1)[-1]


def registry_keys(path: str | Path = REGISTRY) -> list[dict[str, Any]]:
    """One row per (key kind, key, entry): the identifiers a tie can be found by.

    ``kind`` is ``openalex_id``, ``ror`` or ``lineage`` (an entry's OpenAlex ID again, for
    entries that cover sub-units: a tie through an ancestor in the lineage).
    """
    doc = orjson.loads(Path(path).read_bytes())
    since = {li["code"]: li.get("first_published") or "" for li in doc.get("lists") or []}
    rows = []
    for e in doc["entries"]:
        base = {"entry_id": e["entry_id"], "list": e["list"], "entry_name": e["name"],
                "listed_on": e.get("listed_on") or "", "removed_on": e.get("removed_on") or "",
                "on_list_by": e.get("listed_on_kind") == "on_list_by",
                "list_since": since.get(e["list"], "")}
        for oid in e.get("openalex_ids") or []:
            rows.append({**base, "kind": "openalex_id", "key": oid})
            if e.get("covers_subunits"):
                rows.append({**base, "kind": "lineage", "key": oid})
        if e.get("ror"):
            rows.append({**base, "kind": "ror", "key": e["ror"].lower()})
    return rows


def _listed_at(date: str, year: Any, row: dict[str, Any]) -> str:
    """The registry's date rules: before the list itself existed is ``no``; an entry only
    known to be "on the list by" a date is ``unknown`` before it; by year, the listing year
    is ``unknown``."""
    listed, removed, since = row["listed_on"], row["removed_on"], row["list_since"]
    if not (date or year):
        return "unknown"
    if since and (date < since if date else int(year) < int(since[:4])):
        return "no"
    if not listed or (row["on_list_by"] and (date or f"{year}-01-01") < listed):
        return "unknown"
    if date:
        return "yes" if date >= listed and not (removed and date >= removed) else "no"
    y, ly = int(year), int(listed[:4])
    if y == ly or (y > ly and removed and y >= int(removed[:4])):
        return "unknown"
    return "yes" if y > ly else "no"


def _lines(path: Path) -> Iterator[bytes]:
    with path.open("rb") as raw:
        gz = raw.read(2) == b"\x1f\x8b"
    with (gzip.open(path, "rb") if gz else path.open("rb")) as fh:
        for line in fh:
            if line.strip():
                yield line


def python_peer(works_path: str | Path, out_csv: str | Path, registry: str | Path = REGISTRY,
                progress: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """orjson + dict indexes + networkx, timed per stage (seconds)."""
    t0 = time.perf_counter()
    index: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in registry_keys(registry):
        index[(row["kind"], row["key"])].append(row)
    ties: list[dict[str, Any]] = []
    seen: set[tuple[str, str, str, str]] = set()
    done_works: set[str] = set()
    pairs: dict[tuple[str, str], list[float]] = {}
    works = 0
    for line in _lines(Path(works_path)):
        work = orjson.loads(line)
        wid = _short(work.get("id"))
        if wid in done_works:
            continue
        done_works.add(wid)
        works += 1
        auths = work.get("authorships") or []
        date = work.get("publication_date") or ""
        year = work.get("publication_year")
        for idx, auth in enumerate(auths):
            author_id = _short((auth.get("author") or {}).get("id"))
            for inst in auth.get("institutions") or []:
                iid = _short(inst.get("id"))
                ror = _short(inst.get("ror")).lower()
                found: dict[str, tuple[str, dict[str, Any]]] = {}
                for kind, key in (("openalex_id", iid), ("ror", ror)):
                    if key:
                        for row in index.get((kind, key), ()):
                            found.setdefault(row["entry_id"], (kind, row))
                for anc in inst.get("lineage") or []:
                    anc = _short(anc)
                    if anc and anc != iid:
                        for row in index.get(("lineage", anc), ()):
                            found.setdefault(row["entry_id"], ("lineage", row))
                for entry_id, (method, row) in found.items():
                    key4 = (wid, author_id or f"pos{idx}", iid or ror, entry_id)
                    if key4 in seen:
                        continue
                    seen.add(key4)
                    ties.append({
                        "work_id": wid, "authorship_index": idx, "author_id": author_id,
                        "institution_id": iid, "institution_ror": ror, "entry_id": entry_id,
                        "list": row["list"], "entry_name": row["entry_name"],
                        "match_method": method, "publication_date": date,
                        "listed_on": row["listed_on"],
                        "listed_at_publication": _listed_at(date, year, row)})
        n = len(auths)
        if n < 2 or n > MAX_AUTHORS or (work.get("is_authors_truncated") and n >= MAX_AUTHORS):
            continue
        keys = [_short((a.get("author") or {}).get("id")) or f"{wid}#{i}"
                for i, a in enumerate(auths)]
        w = 1.0 / (n - 1)
        for i in range(n):
            for j in range(i + 1, n):
                a, b = keys[i], keys[j]
                pair = (a, b) if a < b else (b, a)
                acc = pairs.get(pair)
                if acc is None:
                    pairs[pair] = [w, 1]
                else:
                    acc[0] += w
                    acc[1] += 1
    t_match = time.perf_counter()
    g = nx.Graph()
    g.add_edges_from((a, b, {"weight": v[0], "works": v[1]}) for (a, b), v in pairs.items())
    t_graph = time.perf_counter()
    p = Path(out_csv)
    p.parent.mkdir(parents=True, exist_ok=True)
    with p.open("w", newline="", encoding="utf-8") as fh:
        wr = csv.DictWriter(fh, fieldnames=COLUMNS)
        wr.writeheader()
        wr.writerows(ties)
    t_end = time.perf_counter()
    return {"parse_match": t_match - t0, "graph": t_graph - t_match, "report": t_end - t_graph,
            "total": t_end - t0, "works": works, "findings": len(ties),
            "edges": g.number_of_edges(), "ties": ties}


_TIES_SQL = """
CREATE TEMP TABLE works AS
SELECT id, publication_date, publication_year, authorships, is_authors_truncated
FROM read_json({works}, format='newline_delimited', maximum_object_size=16777216,
  columns={{id: 'VARCHAR', publication_date: 'VARCHAR', publication_year: 'INTEGER',
           is_authors_truncated: 'BOOLEAN',
           authorships: 'STRUCT(author STRUCT(id VARCHAR), institutions
                   STRUCT(id VARCHAR, ror VARCHAR, lineage VARCHAR[])[])[]'}});

CREATE TEMP TABLE auths AS
SELECT regexp_extract(w.id, '[^/]+$') AS work_id, w.publication_date, w.publication_year,
       a.pos - 1 AS idx, regexp_extract(a.auth.author.id, '[^/]+$') AS author_id,
       a.auth.institutions AS insts, len(w.authorships) AS n, w.is_authors_truncated AS trunc
FROM works w, unnest(w.authorships) WITH ORDINALITY AS a(auth, pos);

CREATE TEMP TABLE keys AS
WITH inst AS (
  SELECT work_id, publication_date, publication_year, idx, author_id,
         nullif(regexp_extract(i.inst.id, '[^/]+$'), '') AS iid,
         nullif(lower(regexp_extract(i.inst.ror, '[^/]+$')), '') AS ror,
         i.inst.lineage AS lineage
  FROM auths, unnest(insts) AS i(inst)
)
SELECT *, 'openalex_id' AS kind, iid AS key, 1 AS rank FROM inst WHERE iid IS NOT NULL
UNION ALL SELECT *, 'ror', ror, 2 FROM inst WHERE ror IS NOT NULL
UNION ALL
SELECT inst.*, 'lineage', l.anc, 3
FROM inst, (SELECT regexp_extract(unnest(inst.lineage), '[^/]+$') AS anc) l
WHERE l.anc <> coalesce(inst.iid, '');

CREATE TEMP TABLE ties AS
SELECT k.work_id, min(k.idx) AS authorship_index, any_value(k.author_id) AS author_id,
       any_value(k.iid) AS institution_id, any_value(k.ror) AS institution_ror, r.entry_id,
       any_value(r.list) AS list, any_value(r.entry_name) AS entry_name,
       arg_min(k.kind, k.rank) AS match_method,
       any_value(k.publication_date) AS publication_date,
       any_value(k.publication_year) AS publication_year,
       any_value(r.listed_on) AS listed_on, any_value(r.removed_on) AS removed_on,
       any_value(r.on_list_by) AS on_list_by, any_value(r.list_since) AS list_since
FROM keys k JOIN reg r ON r.kind = k.kind AND r.key = k.key
GROUP BY k.work_id, coalesce(k.author_id, 'pos' || k.idx), coalesce(k.iid, k.ror), r.entry_id;
"""

_ASSESS_SQL = """
CREATE TEMP TABLE findings AS
SELECT work_id, authorship_index, author_id, institution_id, institution_ror, entry_id, list,
       entry_name, match_method, publication_date, listed_on,
       CASE WHEN publication_date IS NULL AND publication_year IS NULL THEN 'unknown'
            WHEN list_since <> '' AND (CASE WHEN publication_date IS NOT NULL
                   THEN publication_date < list_since
                   ELSE publication_year < CAST(left(list_since, 4) AS INTEGER) END)
              THEN 'no'
            WHEN listed_on = '' THEN 'unknown'
            WHEN on_list_by AND coalesce(publication_date, publication_year || '-01-01')
                 < listed_on THEN 'unknown'
            WHEN publication_date IS NOT NULL
              THEN CASE WHEN publication_date >= listed_on
                         AND NOT (removed_on <> '' AND publication_date >= removed_on)
                        THEN 'yes' ELSE 'no' END
            WHEN publication_year = CAST(left(listed_on, 4) AS INTEGER) THEN 'unknown'
            WHEN removed_on <> '' AND publication_year >= CAST(left(removed_on, 4) AS INTEGER)
              THEN 'unknown'
            WHEN publication_year > CAST(left(listed_on, 4) AS INTEGER) THEN 'yes'
            ELSE 'no' END AS listed_at_publication
FROM ties;
"""

_GRAPH_SQL = """
WITH a AS (
  SELECT work_id, coalesce(author_id, work_id || '#' || idx) AS k, 1.0 / (n - 1) AS w
  FROM auths
  WHERE n BETWEEN 2 AND {max_authors} AND NOT (coalesce(trunc, false) AND n >= {max_authors})
)
SELECT count(*) FROM (
  SELECT least(x.k, y.k) AS u, greatest(x.k, y.k) AS v, sum(x.w) AS weight
  FROM a x JOIN a y ON x.work_id = y.work_id AND x.k < y.k
  GROUP BY 1, 2
);
"""


def duckdb_peer(works_path: str | Path, out_csv: str | Path, registry: str | Path = REGISTRY,
                *, threads: int = 2, memory_limit: str = "4GB") -> dict[str, Any]:
    """DuckDB SQL of the same ties, assessment and co-author counts, timed per stage."""
    import duckdb

    t0 = time.perf_counter()
    con = duckdb.connect()
    con.execute(f"SET threads={int(threads)}; SET memory_limit='{memory_limit}'; "
                "SET disabled_optimizers='build_side_probe_side'")
    rows = registry_keys(registry)
    con.execute("CREATE TEMP TABLE reg (kind VARCHAR, key VARCHAR, entry_id VARCHAR, "
                "list VARCHAR, entry_name VARCHAR, listed_on VARCHAR, removed_on VARCHAR, "
                "on_list_by BOOLEAN, list_since VARCHAR)")
    con.executemany("INSERT INTO reg VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [(r["kind"], r["key"], r["entry_id"], r["list"], r["entry_name"],
                      r["listed_on"], r["removed_on"], r["on_list_by"], r["list_since"])
                     for r in rows])
    con.execute(_TIES_SQL.format(works=_sql_str(str(works_path))))
    con.execute(_ASSESS_SQL)
    t_match = time.perf_counter()
    (edges,) = con.execute(_GRAPH_SQL.format(max_authors=MAX_AUTHORS)).fetchone() or (0,)
    t_graph = time.perf_counter()
    p = Path(out_csv)
    p.parent.mkdir(parents=True, exist_ok=True)
    con.execute(f"COPY findings TO {_sql_str(str(p))} (HEADER, DELIMITER ',')")
    t_end = time.perf_counter()
    (works,) = con.execute("SELECT count(DISTINCT id) FROM works").fetchone() or (0,)
    ties = [dict(zip(("work_id", "authorship_index", "entry_id", "match_method"), r,
                     strict=True))
            for r in con.execute("SELECT work_id, authorship_index, entry_id, match_method "
                                 "FROM findings").fetchall()]
    con.close()
    return {"parse_match": t_match - t0, "graph": t_graph - t_match, "report": t_end - t_graph,
            "total": t_end - t0, "works": works, "findings": len(ties), "edges": edges,
            "ties": ties}


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


PEERS: dict[str, Callable[..., dict[str, Any]]] = {"python": python_peer, "duckdb": duckdb_peer}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("peer", choices=sorted(PEERS))
    ap.add_argument("works", type=Path)
    ap.add_argument("--out", type=Path, default=Path("peer_findings.csv"))
    args = ap.parse_args(argv)
    r = PEERS[args.peer](args.works, args.out)
    r.pop("ties")
    print(json.dumps(r))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
