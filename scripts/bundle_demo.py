"""Copy the demo works (real OpenAlex records) into the package, with their provenance.

Usage::

    python scripts/bundle_demo.py [--shared ../shared]

Reads ``shared/data/openalex/works_china_msra_subset.jsonl`` (71 real works: every work of
the recorded sets with a Chinese institution, Microsoft Research Asia, Beihang or USTC) and
``works_sources.jsonl`` (where each record came from), and writes
``tracker/data/demo/works.jsonl.gz`` (records unchanged, one per line, gzip with a fixed
mtime so reruns are byte-identical) and ``tracker/data/demo/sources.jsonl``.
"""

from __future__ import annotations

import argparse
import gzip
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    args = ap.parse_args()
    src = args.shared / "data" / "openalex"
    out = ROOT / "tracker" / "data" / "demo"
    out.mkdir(parents=True, exist_ok=True)
    lines = [ln for ln in (src / "works_china_msra_subset.jsonl").read_text("utf-8").splitlines()
             if ln.strip()]
    ids = {json.loads(ln)["id"] for ln in lines}
    with (out / "works.jsonl.gz").open("wb") as raw, \
            gzip.GzipFile(filename="works.jsonl", mode="wb", fileobj=raw, mtime=0) as gz:
        for ln in lines:
            gz.write(ln.encode("utf-8") + b"\n")
    rows = [ln for ln in (src / "works_sources.jsonl").read_text("utf-8").splitlines()
            if ln.strip() and json.loads(ln)["id"] in ids]
    (out / "sources.jsonl").write_text("\n".join(sorted(rows)) + "\n", "utf-8")
    print(f"wrote {len(lines)} works and {len(rows)} provenance rows to {out}")


if __name__ == "__main__":
    main()
