"""One ``tracker screen`` command end to end: wall time, CPU and the process tree's memory.

Runs the command given after ``--`` as a child process and samples the summed resident
memory (RSS, and PSS where Linux gives it: shared pages counted once) of the child and
every process it starts, once a second by default.  Prints one JSON line: the command,
exit code, wall seconds, CPU seconds of the tree (as ``time`` counts them), the largest
single process, the tree's peaks (with the second the RSS peak was seen), and
the counts of the report folder's ``run.json`` when ``--out`` is in the command.

    python -m benchmarks.generate --n 1000000 --seed 1 --out works1m.jsonl.gz
    python -m benchmarks.bench_screen -- tracker screen --works works1m.jsonl.gz \\
        --out report1m --no-progress

``--trace FILE`` writes every sample (seconds, RSS GB, PSS GB) as CSV, to see which stage
holds the peak.  The sampler's own reads of ``/proc`` cost some CPU (about a tenth of a
core on a 2-core machine at one sample a second): it is not counted in the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


def _tree(root: Any) -> list[Any]:
    try:
        return [root, *root.children(recursive=True)]
    except Exception:  # gone meanwhile
        return []


def _memory(procs: list[Any]) -> tuple[int, int]:
    rss = pss = 0
    for p in procs:
        try:
            info = p.memory_full_info()
        except Exception:  # gone meanwhile, or no PSS here
            try:
                info = p.memory_info()
            except Exception:
                continue
        rss += info.rss
        pss += getattr(info, "pss", info.rss)
    return rss, pss


def run(cmd: list[str], *, interval: float = 1.0, trace: Path | None = None,
        quiet: bool = False) -> dict[str, Any]:
    """Run ``cmd``; its figures as :func:`main` prints them (``quiet``: its output not
    shown; its errors are)."""
    import psutil

    t0 = time.perf_counter()
    child = subprocess.Popen(cmd, stdout=subprocess.DEVNULL if quiet else None)
    proc = psutil.Process(child.pid)
    peak_rss = peak_pss = 0
    peak_at = 0.0
    samples: list[tuple[float, int, int]] = []
    while True:
        # wait4: the child's CPU and that of every process it waited for, as time(1) says
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)
        if pid:
            break
        rss, pss = _memory(_tree(proc))
        t = time.perf_counter() - t0
        samples.append((t, rss, pss))
        if rss > peak_rss:
            peak_rss, peak_at = rss, t
        peak_pss = max(peak_pss, pss)
        time.sleep(interval)
    wall = time.perf_counter() - t0
    if trace is not None:
        trace.write_text("seconds,rss_gb,pss_gb\n" + "".join(
            f"{t:.1f},{r / 2**30:.3f},{p / 2**30:.3f}\n" for t, r, p in samples), "utf-8")
    out: dict[str, Any] = {
        "command": cmd, "exit_code": os.waitstatus_to_exitcode(status),
        "wall_s": round(wall, 1), "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
        "largest_process_gb": round(usage.ru_maxrss / 2**20, 2),
        "peak_rss_gb": round(peak_rss / 2**30, 2),
        "peak_rss_at_s": round(peak_at, 1), "peak_pss_gb": round(peak_pss / 2**30, 2),
        "interval_s": interval,
    }
    if "--out" in cmd:
        run_json = Path(cmd[cmd.index("--out") + 1]) / "run.json"
        if run_json.is_file():
            counts = json.loads(run_json.read_text("utf-8")).get("counts", {})
            out.update({k: counts.get(k) for k in ("works_read", "works_flagged", "findings")})
    return out


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if "--" not in args:
        print("usage: python -m benchmarks.bench_screen [--interval S] [--trace FILE] -- "
              "tracker screen ...", file=sys.stderr)
        return 2
    split = args.index("--")
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--interval", type=float, default=1.0, help="seconds between samples")
    ap.add_argument("--trace", type=Path, help="write every sample to this CSV file")
    opts = ap.parse_args(args[:split])
    cmd = args[split + 1:]
    if not cmd:
        print("bench_screen: no command after --", file=sys.stderr)
        return 2
    print(json.dumps(run(cmd, interval=opts.interval, trace=opts.trace)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
