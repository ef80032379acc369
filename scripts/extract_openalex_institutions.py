"""Extract the OpenAlex institution objects the registry build needs into the package.

Usage::

    python scripts/extract_openalex_institutions.py [--openalex ../shared/data/openalex]

The registry build (``tracker lists build``) links list entries to OpenAlex institution IDs
through ROR IDs and exact name + country matches.  It does not need whole works: only the
institution objects recorded inside them.  This step walks every recorded OpenAlex file it
is allowed to read and writes, per distinct institution object, its ``id``, ``ror``,
``display_name``, ``country_code``, ``lineage`` (and ``display_name_alternatives`` where
the object has them) with the names of the files it was recorded in, to
``tracker/data/sources/openalex/institution_objects.jsonl.gz`` (gzip with a fixed mtime,
rows sorted: a rerun gives the same bytes).  OpenAlex data is CC0-1.0.

**Never read:** the independent evaluation set's files (``tests/matching_eval/PROTOCOL.md``):
``institutions_bibgraph_2025-10.jsonl.gz``,
``snapshot_institutions_updated_date_2023-09-04_part_000.jsonl.gz`` and
``authors_bibgraph_2025-10.jsonl.gz``.  Linking list entries through them would make the
ID-attached evaluation figures depend on the records they score.  Also skipped: the
``schema_*`` files and the provenance files (``*sources*``), which hold no records.

This step reads the project's shared reference data; the registry build does not (it reads
only what this step shipped).
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tracker" / "data" / "sources" / "openalex" / "institution_objects.jsonl.gz"

#: The independent evaluation set's files: never read for linking.
EVALUATION_FILES = frozenset({
    "institutions_bibgraph_2025-10.jsonl.gz",
    "snapshot_institutions_updated_date_2023-09-04_part_000.jsonl.gz",
    "authors_bibgraph_2025-10.jsonl.gz",
})
RECORD_FILE = re.compile(r"\.(jsonl?|json\.gz|jsonl\.gz)$")


def allowed(path: Path) -> bool:
    """Whether a file of the OpenAlex folder may be read for linking.

    >>> allowed(Path("works_bibgraph_2025-10.jsonl.gz"))
    True
    >>> allowed(Path("authors_bibgraph_2025-10.jsonl.gz")), allowed(Path("works_sources.jsonl"))
    (False, False)
    """
    name = path.name
    return (bool(RECORD_FILE.search(name)) and name not in EVALUATION_FILES
            and not name.startswith("schema_") and "sources" not in name)


def records(path: Path) -> Iterator[Any]:
    opener: Any = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as fh:
        if ".jsonl" in path.name:
            for line in fh:
                if line.strip():
                    yield json.loads(line)
        else:
            yield json.load(fh)


def short(value: Any) -> str | None:
    return value.rstrip("/").rsplit("/", 1)[-1] if isinstance(value, str) and value else None


def institution_objects(obj: Any) -> Iterator[dict[str, Any]]:
    """Every institution object (an ``id`` of the form ``…/I…``) in a record, nested too."""
    if isinstance(obj, dict):
        oid = obj.get("id")
        if isinstance(oid, str) and "openalex.org/I" in oid:
            alts = obj.get("display_name_alternatives")
            lineage = obj.get("lineage")
            yield {
                "id": short(oid),
                "ror": short(obj.get("ror")),
                "display_name": obj.get("display_name") if isinstance(
                    obj.get("display_name"), str) else None,
                "country_code": obj.get("country_code") if isinstance(
                    obj.get("country_code"), str) else None,
                "lineage": [short(x) for x in lineage] if isinstance(lineage, list) else None,
                **({"display_name_alternatives": [a for a in alts if isinstance(a, str)]}
                   if isinstance(alts, list) else {}),
            }
        for v in obj.values():
            yield from institution_objects(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from institution_objects(v)


def extract(folder: Path) -> list[dict[str, Any]]:
    """Distinct institution objects of the allowed files, each with ``recorded_in``."""
    seen: dict[str, dict[str, Any]] = {}
    for path in sorted(p for p in folder.iterdir() if p.is_file() and allowed(p)):
        for rec in records(path):
            for inst in institution_objects(rec):
                key = json.dumps(inst, sort_keys=True, ensure_ascii=False)
                row = seen.setdefault(key, {**inst, "recorded_in": []})
                if path.name not in row["recorded_in"]:
                    row["recorded_in"].append(path.name)
    return [seen[k] for k in sorted(seen)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--openalex", type=Path, default=ROOT.parent / "shared" / "data" / "openalex",
                    help="folder of recorded OpenAlex files (default: %(default)s)")
    ap.add_argument("--out", type=Path, default=OUT, help="output (default: %(default)s)")
    args = ap.parse_args()
    rows = extract(args.openalex)
    text = "".join(json.dumps(r, sort_keys=True, ensure_ascii=False) + "\n" for r in rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0))
    files = sorted({f for r in rows for f in r["recorded_in"]})
    print(f"wrote {args.out}: {len(rows)} institution objects "
          f"({len({r['id'] for r in rows})} IDs) from {len(files)} files")
    for f in files:
        print(f"  {f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
