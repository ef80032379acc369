"""Seeded generator of SYNTHETIC OpenAlex-shaped works, fitted to the real recorded records.

Every record it writes is synthetic and says so twice: its ID is in a reserved range
(``https://openalex.org/W9000000000`` + n; authors ``A9...``, made-up institutions ``I9...``)
and it carries a top-level ``"_synthetic": true``.  Titles start with ``SYNTHETIC:``; DOIs
are null.  Nothing it writes may be passed off as OpenAlex data.

What is sampled from the real records in ``../shared/data/openalex`` (the 1,210 works of
``works_bibgraph_2025-10.jsonl.gz`` and ``works_openalexpro_2025-11_to_2026-03.jsonl.gz``):

- authors per work: each synthetic work copies a real work's author count (the empirical
  distribution, 0 to 249, median 3), plus a modelled tail of consortium papers (share
  :data:`CONSORTIUM_SHARE`, 500 to 3,000 authors, log-uniform) that the recorded list
  responses cannot show because the API cuts author lists at 100;
- authorships: whole real authorships as templates (institution dicts with their IDs, RORs,
  lineage and country; raw affiliation strings; ``affiliations``), 80 % from the same real
  work (so co-authors' institutions cluster as they do) and the rest from all works, so the
  ~26 % share without an institution, and the raw strings many of those carry, follow the
  data (consortium papers push it to ~30 %);
- years, work types, topics and keywords of real works;
- a ``select=``-style partial record share (year only, no ``publication_date``) as in the
  161 partial BibGraph records, a share with no date at all, and a share of truncated
  author lists (``is_authors_truncated``, 100 authorships) as in the 14 flagged records.

Restricted ties: a share of institution slots (:data:`RESTRICTED_SHARE`) is filled from the
bundled registry (``tracker/data/registry.json``): the real institution dict from the
records where one has the entry's ID or ROR, else a dict built from the entry's own
identifiers (a made-up ``I9...`` ID when the entry has only a ROR), plus made-up sub-units
(``I9...``) whose lineage names a listed ID, for entries that cover subordinate units and
for ones that do not (context only).  A share of institution-less authorships carries a
listed name as its only raw string (a tie only name matching can find).

Records hold the fields tracker asks OpenAlex for (``WORK_FIELDS`` in
``tracker/sources/openalex.py``), not the full snapshot record.

Output is gzip JSON Lines, byte-identical for a given ``(n, seed)`` (gzip ``mtime=0``).

Usage::

    python -m benchmarks.generate --n 15000 --seed 1 --out works.jsonl.gz
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "CONSORTIUM_SHARE",
    "RESTRICTED_SHARE",
    "SYNTHETIC_WORK_BASE",
    "Pool",
    "generate",
    "load_pool",
    "write",
]

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = ROOT.parent / "shared" / "data" / "openalex"
WORKS_FILES = ("works_bibgraph_2025-10.jsonl.gz", "works_openalexpro_2025-11_to_2026-03.jsonl.gz")
REGISTRY = ROOT / "tracker" / "data" / "registry.json"

SYNTHETIC_WORK_BASE = 9_000_000_000
SYNTHETIC_AUTHOR_BASE = 9_000_000_000
SYNTHETIC_INSTITUTION_BASE = 9_000_000_000

#: Share of works that are consortium papers (500 to 3,000 authors).  A model, not a fit:
#: the recorded list responses cut author lists at 100.
CONSORTIUM_SHARE = 0.0015
#: Share of institution slots filled with a registry-derived (restricted) institution, on
#: top of the real ties the sampled real authorships already carry.
RESTRICTED_SHARE = 0.005
#: Share of a work's authorships taken from its own template work (the rest from the pool
#: of all real authorships), so co-authors' institutions cluster as in real works.
SAME_WORK_SHARE = 0.8
#: Share of institution-less authorships whose only raw string is a listed name.
RAW_RESTRICTED_SHARE = 0.02
#: Share of works with no date at all (no publication_date, no publication_year).
NO_DATE_SHARE = 0.01
#: Share of authorships with no OpenAlex author ID.
NO_AUTHOR_ID_SHARE = 0.01
#: Probability an authorship reuses an author already seen (preferential attachment).
AUTHOR_REUSE = 0.55

PARTIAL_FIELDS = ("id", "doi", "display_name", "authorships", "publication_year")


@dataclass(frozen=True)
class Pool:
    """What the generator samples from; built once from the real records and the registry."""

    all_works: tuple[dict[str, Any], ...]
    full_works: tuple[dict[str, Any], ...]
    partial_share: float
    truncated_share: float
    years: tuple[int, ...]
    with_inst: tuple[dict[str, Any], ...]
    without_inst: tuple[dict[str, Any], ...]
    share_without_inst: float
    restricted: tuple[tuple[dict[str, Any], str], ...]
    listed_names: tuple[str, ...]


def _short(url: object) -> str:
    return url.rsplit("/", 1)[-1] if isinstance(url, str) else ""


def _read_records(data_dir: Path) -> list[dict[str, Any]]:
    recs: list[dict[str, Any]] = []
    for name in WORKS_FILES:
        with gzip.open(data_dir / name, "rt", encoding="utf-8") as fh:
            recs.extend(json.loads(line) for line in fh if line.strip())
    return recs


def _restricted_pool(reg_doc: dict[str, Any], recs: list[dict[str, Any]]
                     ) -> tuple[list[tuple[dict[str, Any], str]], list[str]]:
    """(institution dict, raw string) pairs tying to registry entries, in a fixed order."""
    real_by_id: dict[str, dict[str, Any]] = {}
    real_by_ror: dict[str, dict[str, Any]] = {}
    for r in recs:
        for a in r.get("authorships") or []:
            for ri in a.get("institutions") or []:
                if isinstance(ri, dict):
                    real_by_id.setdefault(_short(ri.get("id")), ri)
                    if ri.get("ror"):
                        real_by_ror.setdefault(_short(ri.get("ror")), ri)
    entries = sorted(reg_doc["entries"], key=lambda e: e["entry_id"])
    out: list[tuple[dict[str, Any], str]] = []
    names: list[str] = []
    next_id = SYNTHETIC_INSTITUTION_BASE
    seen: set[str] = set()
    for e in entries:
        names.append(e["name"])
        oids = list(e.get("openalex_ids") or [])
        ror = e.get("ror")
        if not oids and not ror:
            continue
        inst: dict[str, Any] | None = None
        for oid in oids:
            inst = real_by_id.get(oid)
            if inst is not None:
                break
        if inst is None and ror:
            inst = real_by_ror.get(ror)
        if inst is None:
            if oids:
                iid = f"https://openalex.org/{oids[0]}"
            else:
                iid = f"https://openalex.org/I{next_id}"
                next_id += 1
            inst = {"id": iid, "display_name": e["name"],
                    "ror": f"https://ror.org/{ror}" if ror else None,
                    "country_code": e.get("country"), "type": "education", "lineage": [iid]}
        key = _short(inst.get("id")) or _short(inst.get("ror"))
        if key not in seen:
            seen.add(key)
            out.append((inst, e["name"]))
        for oid in oids[:1]:
            # a made-up sub-unit under the listed ID: a finding only if the entry covers
            # subordinate units, context otherwise
            cid = f"https://openalex.org/I{next_id}"
            next_id += 1
            out.append(({"id": cid, "display_name": f"Synthetic sub-unit of {e['name']}",
                         "ror": None, "country_code": e.get("country"), "type": "facility",
                         "lineage": [cid, f"https://openalex.org/{oid}"]},
                        f"Synthetic sub-unit, {e['name']}"))
    return out, names


def load_pool(data_dir: Path = DATA_DIR, registry: Path = REGISTRY) -> Pool:
    """Read the real records and the registry into a :class:`Pool`.

    Parameters
    ----------
    data_dir : Path
        The folder holding the recorded OpenAlex works files.
    registry : Path
        The registry JSON (``tracker/data/registry.json``).

    Returns
    -------
    Pool
    """
    recs = _read_records(data_dir)
    if not recs:
        raise FileNotFoundError(f"no recorded works in {data_dir}")
    full = tuple(r for r in recs if r.get("publication_date"))
    partial = sum(1 for r in recs if not r.get("publication_date"))
    truncated = sum(1 for r in recs if r.get("is_authors_truncated") is True)
    years = tuple(int(r["publication_year"]) for r in recs
                  if isinstance(r.get("publication_year"), int))
    auths = [a for r in recs for a in (r.get("authorships") or []) if isinstance(a, dict)]
    with_inst = tuple(a for a in auths if a.get("institutions"))
    without = tuple(a for a in auths if not a.get("institutions"))
    reg_doc = json.loads(registry.read_text("utf-8"))
    restricted, names = _restricted_pool(reg_doc, recs)
    return Pool(all_works=tuple(recs), full_works=full, partial_share=partial / len(recs),
                truncated_share=truncated / len(recs), years=years,
                with_inst=with_inst, without_inst=without,
                share_without_inst=len(without) / len(auths), restricted=tuple(restricted),
                listed_names=tuple(names))


class _Authors:
    """Synthetic author IDs, reused with preferential attachment."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used: list[int] = []
        self.next = SYNTHETIC_AUTHOR_BASE

    def pick(self, taken: set[int]) -> int:
        if self.used and self.rng.random() < AUTHOR_REUSE:
            k = self.rng.choice(self.used)
            if k not in taken:
                self.used.append(k)
                return k
        k = self.next
        self.next += 1
        self.used.append(k)
        return k


def _authorship(rng: random.Random, pool: Pool, authors: _Authors, taken: set[int],
                index: int, n: int, own: list[dict[str, Any]]) -> dict[str, Any]:
    if own and rng.random() < SAME_WORK_SHARE:
        t = own[index % len(own)]
        if t.get("institutions"):
            return _with_inst(rng, pool, authors, taken, index, n, t)
        return _without_inst(rng, pool, authors, taken, index, n, t)
    if rng.random() < pool.share_without_inst:
        return _without_inst(rng, pool, authors, taken, index, n,
                             rng.choice(pool.without_inst))
    return _with_inst(rng, pool, authors, taken, index, n, rng.choice(pool.with_inst))


def _without_inst(rng: random.Random, pool: Pool, authors: _Authors, taken: set[int],
                  index: int, n: int, t: dict[str, Any]) -> dict[str, Any]:
    insts: list[Any] = list(t.get("institutions") or [])
    raws: list[Any] = list(t.get("raw_affiliation_strings") or [])
    affs: list[Any] = list(t.get("affiliations") or [])
    if rng.random() < RAW_RESTRICTED_SHARE:
        name = rng.choice(pool.listed_names)
        raws = [name]
        affs = [{"raw_affiliation_string": name, "institution_ids": []}]
    return _finish(rng, authors, taken, index, n, t, insts, raws, affs)


def _with_inst(rng: random.Random, pool: Pool, authors: _Authors, taken: set[int],
               index: int, n: int, t: dict[str, Any]) -> dict[str, Any]:
    insts = list(t.get("institutions") or [])
    raws = list(t.get("raw_affiliation_strings") or [])
    affs = list(t.get("affiliations") or [])
    if rng.random() < RESTRICTED_SHARE * len(insts):
        inst, raw = rng.choice(pool.restricted)
        slot = rng.randrange(len(insts))
        gone = insts[slot].get("id") if isinstance(insts[slot], dict) else None
        insts[slot] = inst
        affs = [a for a in affs if not (isinstance(a, dict) and gone
                                        and gone in (a.get("institution_ids") or []))]
        affs.insert(0, {"raw_affiliation_string": raw, "institution_ids": [inst["id"]]})
        raws = [raw, *(r for r in raws if r != raw)]
    return _finish(rng, authors, taken, index, n, t, insts, raws, affs)


def _finish(rng: random.Random, authors: _Authors, taken: set[int], index: int, n: int,
            t: dict[str, Any], insts: list[Any], raws: list[Any], affs: list[Any]
            ) -> dict[str, Any]:
    pos = "first" if index == 0 else ("last" if index == n - 1 else "middle")
    if rng.random() < NO_AUTHOR_ID_SHARE:
        author: dict[str, Any] = {"id": None, "display_name": f"Synthetic author w{index}",
                                  "orcid": None}
    else:
        k = authors.pick(taken)
        taken.add(k)
        author = {"id": f"https://openalex.org/A{k}", "display_name": f"Synthetic Author {k}",
                  "orcid": None}
    return {
        "author_position": pos,
        "author": author,
        "institutions": insts,
        "countries": list(t.get("countries") or []),
        "is_corresponding": index == 0,
        "raw_author_name": author["display_name"],
        "raw_affiliation_strings": raws,
        "affiliations": affs,
    }


def _n_authors(rng: random.Random, pool: Pool, own: int) -> tuple[int, bool | None]:
    """The template work's own author count; or a consortium paper; or a truncated list."""
    u = rng.random()
    if u < CONSORTIUM_SHARE:
        return int(math.exp(rng.uniform(math.log(500), math.log(3000)))), False
    if u < CONSORTIUM_SHARE + pool.truncated_share:
        return 100, True
    return own, None


def generate(n: int, seed: int, pool: Pool | None = None) -> Iterator[dict[str, Any]]:
    """Yield ``n`` SYNTHETIC work records, the same ones for the same ``(n, seed)``.

    Examples
    --------
    >>> w = next(generate(1, seed=3))
    >>> w["id"], w["_synthetic"]
    ('https://openalex.org/W9000000000', True)
    """
    pool = pool or load_pool()
    rng = random.Random(seed)
    authors = _Authors(rng)
    for i in range(n):
        tw = rng.choice(pool.all_works)  # authorships (and their count) come from here
        t = tw if tw.get("publication_date") else rng.choice(pool.full_works)  # metadata
        own = [a for a in tw.get("authorships") or [] if isinstance(a, dict)]
        size, trunc = _n_authors(rng, pool, len(own))
        taken: set[int] = set()
        auths = [_authorship(rng, pool, authors, taken, j, size, own) for j in range(size)]
        year = rng.choice(pool.years)
        title = t.get("title") or t.get("display_name") or "untitled"
        rec: dict[str, Any] = {
            "id": f"https://openalex.org/W{SYNTHETIC_WORK_BASE + i}",
            "_synthetic": True,
            "doi": None,
            "title": f"SYNTHETIC: {title}",
            "display_name": f"SYNTHETIC: {title}",
            "publication_year": year,
            "publication_date": f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            "type": t.get("type"),
            "authorships": auths,
            "primary_topic": t.get("primary_topic"),
            "topics": t.get("topics") or [],
            "keywords": t.get("keywords") or [],
            "created_date": None,
        }
        rec["created_date"] = rec["publication_date"]
        if trunc is not None:
            rec["is_authors_truncated"] = trunc
        u = rng.random()
        if u < pool.partial_share:
            rec = {k: rec[k] for k in ("_synthetic", *PARTIAL_FIELDS)}
        elif u < pool.partial_share + NO_DATE_SHARE:
            rec["publication_date"] = None
            rec["publication_year"] = None
            rec["created_date"] = None
        yield rec


def write(path: str | Path, n: int, seed: int, pool: Pool | None = None) -> Path:
    """Write ``n`` SYNTHETIC works as gzip JSON Lines; the same bytes for the same seed.

    Returns
    -------
    Path
    """
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0,
                                               compresslevel=1) as gz:
        batch: list[str] = []
        for rec in generate(n, seed, pool):
            batch.append(json.dumps(rec, ensure_ascii=False, separators=(",", ":")))
            if len(batch) >= 1000:
                gz.write(("\n".join(batch) + "\n").encode("utf-8"))
                batch = []
        if batch:
            gz.write(("\n".join(batch) + "\n").encode("utf-8"))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=15_000, help="number of works")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, required=True, help="output .jsonl.gz")
    ap.add_argument("--data", type=Path, default=DATA_DIR,
                    help="folder of the recorded OpenAlex works")
    args = ap.parse_args(argv)
    if args.n < 0:
        ap.error("--n must be >= 0")
    path = write(args.out, args.n, args.seed, load_pool(args.data))
    print(f"wrote {args.n:,} SYNTHETIC works to {path} ({path.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
