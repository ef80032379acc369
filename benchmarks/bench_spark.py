"""The DuckDB and the Spark engine on the same works files: wall, CPU and memory, findings.

Each engine runs in its own process (``--engine duckdb`` or ``spark``); run it once per
engine on the same files.  It prints one JSON line: works read, findings, the wall time of
the screening call (for Spark, the session's start included, and given apart), the CPU
seconds of the whole process tree (the Spark JVM and its Python workers included; reaped
children counted; measured before the session stops), and the peak resident memory of
the process tree (summed, sampled every 0.2 s by another process).  Names on, as
``tracker screen`` runs.

    python -m benchmarks.generate --n 100000 --seed 1 --out works100k.jsonl.gz
    python -m benchmarks.bench_spark --shard works100k.jsonl.gz 4 shards/
    python -m benchmarks.bench_spark --engine duckdb shards/
    python -m benchmarks.bench_spark --engine spark shards/
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path


def _tree() -> list:
    import psutil

    me = psutil.Process()
    return [me, *me.children(recursive=True)]


def _cpu(skip: int = -1) -> float:
    """CPU seconds of the process tree (reaped children included), ``skip``'s left out."""
    total = 0.0
    for p in _tree():
        if p.pid == skip:
            continue
        try:
            t = p.cpu_times()
        except Exception:  # gone meanwhile
            continue
        total += t.user + t.system + t.children_user + t.children_system
    return total


_SAMPLER = """
import select, sys, psutil
root = psutil.Process(int(sys.argv[1])); me = psutil.Process().pid; peak = 0
while not select.select([sys.stdin], [], [], 0.2)[0]:
    rss = 0
    for p in [root, *root.children(recursive=True)]:
        try:
            rss += p.memory_info().rss if p.pid != me else 0
        except Exception:
            pass
    peak = max(peak, rss)
print(peak)
"""


class _Peak:
    """The largest summed RSS of the process tree (this sampler left out), sampled every
    0.2 s by another process: a thread here would keep the DuckDB engine from forking
    its worker processes (it forks only a process running no other thread)."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", _SAMPLER, str(os.getpid())],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.peak = 0

    def stop(self) -> None:
        out, _ = self.proc.communicate("stop\n")
        self.peak = int(out.strip() or 0)


def shard(src: Path, n: int, out: Path) -> list[Path]:
    """Split a JSON Lines works file into ``n`` gzip files of consecutive lines."""
    out.mkdir(parents=True, exist_ok=True)
    with gzip.open(src, "rb") as fh:
        lines = fh.readlines()
    size = -(-len(lines) // n)
    paths = []
    for i in range(n):
        p = out / f"part_{i:03d}.jsonl.gz"
        with gzip.open(p, "wb", compresslevel=6) as fh:
            fh.writelines(lines[i * size:(i + 1) * size])
        paths.append(p)
    return paths


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--engine", choices=("duckdb", "spark"))
    ap.add_argument("--shard", nargs=3, metavar=("SRC", "N", "OUT"))
    ap.add_argument("--master", default="local[2]", help="Spark master (default local[2])")
    ap.add_argument("--driver-memory", default="4g")
    ap.add_argument("--stages", action="store_true",
                    help="print when each stage reports progress (to stderr)")
    ap.add_argument("paths", nargs="*", type=Path)
    args = ap.parse_args(argv)
    if args.shard:
        src, n, out = args.shard
        for p in shard(Path(src), int(n), Path(out)):
            print(p)
        return 0
    import tracker
    from tracker.engine import screen_files, screen_spark
    from tracker.names import cached_name_matcher

    reg = tracker.load_registry()
    nm = cached_name_matcher(reg)
    seen: set[str] = set()

    def stages(stage: str, done: int, total: int | None) -> None:
        if args.stages and (stage not in seen or total is not None):
            seen.add(stage)
            print(f"{time.perf_counter() - t0:7.1f} s {stage} {done} {total}", file=sys.stderr)

    peak = _Peak()
    started = 0.0
    cpu0 = _cpu(peak.proc.pid)
    t0 = time.perf_counter()
    if args.engine == "duckdb":
        res = screen_files(args.paths, registry=reg, name_matcher=nm, threads=2,
                           memory_limit="4GB", progress=stages)
    else:  # the session made as screen_spark makes it, kept until measured
        from tracker.engine.spark import _session

        spark, _ = _session(None, args.master, {"spark.driver.memory": args.driver_memory})
        started = time.perf_counter() - t0
        res = screen_spark(args.paths, registry=reg, name_matcher=nm, session=spark,
                           progress=stages)
    wall = time.perf_counter() - t0
    cpu = _cpu(peak.proc.pid) - cpu0
    if args.engine == "spark":
        spark.stop()
    peak.stop()
    digest = hashlib.sha256("\n".join(json.dumps(f.row(), sort_keys=True, default=str)
                                      for f in res.findings).encode()).hexdigest()
    print(json.dumps({"engine": args.engine, "cores": os.cpu_count(),
                      "works_read": res.run["counts"]["works_read"],
                      "findings": len(res.findings), "findings_sha256": digest[:16],
                      "wall_s": round(wall, 1), "of_which_spark_start_s": round(started, 1),
                      "cpu_s": round(cpu, 1),
                      "peak_rss_gb": round(peak.peak / 2**30, 2),
                      "python": sys.version.split()[0]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
