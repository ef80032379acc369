"""Run every benchmark: tracker against two competent peers on SYNTHETIC works.

For each size, a SYNTHETIC works file is generated (:mod:`benchmarks.generate`, seeded), and
each stage is measured in a fresh subprocess (seconds of the stage, and the process's peak
resident memory, ``ru_maxrss``, which includes what the stage needs loaded first: the parsed
works, the registry).  Stages:

``parse``   read the works file into records (``read_works``)
``match``   identifier matching of every authorship (``Matcher``)
``assess``  the evidence row per tie and its listing-date comparison (tracker: ``make_finding``
            plus a framework's assessor when ``tracker/frameworks.py`` exists)
``graph``   the co-author network of every work with <= 100 authors (as arrays,
            ``coauthor_projection``); ``graph_nx``: the same as a networkx Graph
``report``  the outputs (``write_report_folder``: the report folder's files)
``e2e``     all of the above from the file on disk, registry load included

The stages are tracker's.  The compared row is ``e2e``, against two peers a competent user
would write (:mod:`benchmarks.peers`): plain Python (orjson, dict indexes, networkx) and
DuckDB SQL.  Each peer does the same identifier ties, listing-date test and co-author
counts and writes one CSV, so tracker, which also writes six more files (HTML report,
XLSX, JSON, GraphML, GEXF, run record), does more work than either in the compared row.
Tracker runs with name matching off there (the peers match identifiers only);
``e2e_names`` is tracker's default configuration (names on), for information.
``e2e_csv`` is ``e2e`` writing only findings.csv besides report.html and run.json
(``--formats csv``): the peers' one CSV, like for like.

``e2e_engine`` (and ``e2e_engine_names``, names on) is the same screening on the DuckDB
engine (:func:`tracker.engine.screen_files`, the default for files) plus the seven-file
report; it does not build the co-author network of every work (the peers' ``graph`` stage
is shown apart, for a like-for-like figure).  Its findings are checked against ``e2e``'s.

Results go to ``benchmarks/results/latest.json`` and ``latest.md`` (and the README table).

Usage::

    python -m benchmarks.run_all [--sizes 15000,100000] [--quick]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
README = ROOT / "benchmarks" / "README.md"
STAGES = ("parse", "match", "assess", "graph", "report", "e2e")
AS_OF = date(2026, 11, 23)  # fixed, so framework outcomes do not depend on the run date
FRAMEWORK = "dow-2026"
#: The peers, by the name used in results (see :mod:`benchmarks.peers`).
PEERS = ("python", "duckdb")
#: A run longer than this is not repeated.
RUN_ONCE_S = 120.0
#: 1M works end to end (issue targets): seconds and GB for the whole process tree.
TARGET_1M_S = 90.0
TARGET_1M_GB = 4.0
#: At 15,000 works, tracker at least this many times faster than the plain-Python peer.
TARGET_PY_15K = 3.0


# --------------------------------------------------------------------------- child side

def _peak_mb() -> float:
    """This process's peak resident memory in MB.

    ``VmHWM`` from ``/proc/self/status`` where there is one: it starts afresh at ``exec``,
    while ``ru_maxrss`` keeps the parent's peak across fork and exec on Linux.
    """
    try:
        m = re.search(r"VmHWM:\s+(\d+) kB", Path("/proc/self/status").read_text())
        if m:
            return int(m.group(1)) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _assessor(reg: Any) -> tuple[str, Any]:
    if importlib.util.find_spec("tracker.frameworks") is None:
        return "none (default outcomes)", None
    from tracker.frameworks import available_frameworks, load_framework
    if FRAMEWORK not in available_frameworks():
        return "none (default outcomes)", None
    return (f"{FRAMEWORK} as of {AS_OF.isoformat()}",
            load_framework(FRAMEWORK).assessor(AS_OF, registry=reg))


def _triples(findings: list[Any]) -> list[list[Any]]:
    return sorted([f.work_id, f.extra["authorship_index"], f.entry_id] for f in findings)


def _tracker_stage(stage: str, works_path: Path, tmp: Path) -> dict[str, Any]:
    from tracker.exports import write_report_folder
    from tracker.graph import (
        coauthor_graph,
        coauthor_projection,
        coauthor_share,
        join_coauthor_shares,
    )
    from tracker.matching import Matcher
    from tracker.records import Work
    from tracker.risk import make_finding
    from tracker.screening import ScreenSettings, screen, screen_shares
    from tracker.sources.files import read_works, split_works
    from tracker.watchlists import load_registry

    settings = ScreenSettings(name_matching=False)
    out: dict[str, Any] = {}
    if stage in ("e2e_engine", "e2e_engine_names"):
        from tracker.engine import screen_files

        t0 = time.perf_counter()
        reg = load_registry()
        names = None
        if stage == "e2e_engine_names":
            from tracker.names import NameMatcher
            names = NameMatcher(reg, fuzzy_threshold=92.0)
            settings = ScreenSettings(name_matching=True)
        fw, assessor = _assessor(reg)
        res = screen_files(works_path, registry=reg, settings=settings, name_matcher=names,
                           assessor=assessor, threads=os.cpu_count() or 1,
                           temp_dir=tmp)
        t_screen = time.perf_counter() - t0
        write_report_folder(res, tmp / "report")
        out["seconds"] = time.perf_counter() - t0
        out.update(findings=len(res.findings), framework=fw, screen_s=round(t_screen, 2),
                   report_bytes=sum(p.stat().st_size for p in (tmp / "report").iterdir()))
        (tmp / "tracker_triples.json").write_text(json.dumps(_triples(res.findings)))
        return out
    if stage in ("e2e", "e2e_names", "e2e_csv"):
        t0 = time.perf_counter()
        reg = load_registry()
        names = None
        if stage == "e2e_names":
            from tracker.names import NameMatcher
            names = NameMatcher(reg, fuzzy_threshold=92.0)
            settings = ScreenSettings(name_matching=True)
        fw, assessor = _assessor(reg)
        # the file read in two shares, one per core (each parses, screens and counts its
        # share of the co-author network; see screen_shares); then the whole co-author
        # network, as arrays (networkx on demand: the graph_nx row); the report draws the
        # flagged network, which it builds from the findings
        res, shares = screen_shares(split_works(works_path, os.cpu_count() or 1),
                                    registry=reg, settings=settings, name_matcher=names,
                                    assessor=assessor, collect=coauthor_share)
        g = join_coauthor_shares(shares)
        edges = g.number_of_edges()
        write_report_folder(res, tmp / "report",
                            formats=["csv"] if stage == "e2e_csv" else None)
        out["seconds"] = time.perf_counter() - t0
        out.update(findings=len(res.findings), edges=edges, framework=fw,
                   report_bytes=sum(p.stat().st_size for p in (tmp / "report").iterdir()))
        if stage == "e2e":
            (tmp / "tracker_triples.json").write_text(json.dumps(_triples(res.findings)))
        return out
    reg = load_registry()
    t0 = time.perf_counter()
    works = [w for w in read_works(works_path) if isinstance(w, Work)]
    if stage == "parse":
        out["seconds"] = time.perf_counter() - t0
        out["records"] = len(works)
        return out
    if stage in ("graph", "graph_nx"):  # as arrays, or as a networkx Graph
        build = coauthor_projection if stage == "graph" else coauthor_graph
        t0 = time.perf_counter()
        g = build(works)
        out["seconds"] = time.perf_counter() - t0
        out["edges"] = g.number_of_edges()
        return out
    if stage == "report":
        fw, assessor = _assessor(reg)
        res = screen(works, registry=reg, settings=settings, assessor=assessor)
        t0 = time.perf_counter()
        write_report_folder(res, tmp / "report")
        out["seconds"] = time.perf_counter() - t0
        out["findings"] = len(res.findings)
        return out
    matcher = Matcher(reg)
    t0 = time.perf_counter()
    ties = [(w, a, m) for w in works for a in w.authorships
            for m in matcher.match_authorship(a)]
    match_s = time.perf_counter() - t0
    if stage == "match":
        out["seconds"] = match_s
        out["matches"] = len(ties)
        return out
    fw, assessor = _assessor(reg)
    t0 = time.perf_counter()
    n = 0
    for w, a, m in ties:
        if m.context_only:
            continue
        f = make_finding(w, a, m)
        if assessor is not None:
            f = assessor(f, w)
        n += 1
    out["seconds"] = time.perf_counter() - t0
    out.update(findings_before_dedup=n, framework=fw)
    return out


def _peer_stage(peer: str, works_path: Path, tmp: Path) -> dict[str, Any]:
    from benchmarks import peers

    r = peers.PEERS[peer](works_path, tmp / f"{peer}.csv")
    trip = sorted([t["work_id"], t["authorship_index"], t["entry_id"]] for t in r["ties"])
    (tmp / "peer_triples.json").write_text(json.dumps(trip))
    return {"seconds": r["total"], "findings": r["findings"], "edges": r["edges"],
            "stages": {k: round(r[k], 3) for k in ("parse_match", "graph", "report")}}


def child(tool: str, stage: str, works_path: Path, tmp: Path) -> None:
    sys.path.insert(0, str(ROOT))
    out = (_tracker_stage(stage, works_path, tmp) if tool == "tracker"
           else _peer_stage(tool, works_path, tmp))
    # the stage's own processes count too: the second screening share (forked) and the
    # workbook writer.  They do not overlap each other, so this process's peak plus the
    # largest child's is an upper bound on the memory in use at any moment (a forked child's
    # count includes the pages it still shares with this process: an over-count).
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
    # DuckDB's threads are this process's own: its peak counts them
    out["own_peak_mb"] = round(_peak_mb(), 1)
    out["children_peak_mb"] = round(children, 1)
    out["peak_mb"] = round(_peak_mb() + children, 1)
    out["ru_maxrss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)
    print("RESULT " + json.dumps(out))


# --------------------------------------------------------------------------- parent side

def machine() -> dict[str, Any]:
    cpu = ""
    ram_gb = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        m = re.search(r"MemTotal:\s+(\d+) kB", Path("/proc/meminfo").read_text())
        ram_gb = round(int(m.group(1)) / 1024 ** 2, 1) if m else None
    except OSError:
        pass
    return {"cores": os.cpu_count(), "ram_gb": ram_gb, "cpu": cpu or platform.processor(),
            "python": platform.python_version(), "platform": platform.platform()}


#: What a stage's folder keeps once its child has ended: the ties it found, compared
#: between rows (:func:`_triples_equal`).  Its outputs go: a million works' report folder
#: is 3.6 GB, and a run of every row at that size wrote about 30 GB.
KEPT_FILES = ("tracker_triples.json", "peer_triples.json")


def _prune(tmp: Path) -> None:
    """Remove from a stage's folder all but :data:`KEPT_FILES`."""
    for p in tmp.iterdir():
        if p.name in KEPT_FILES:
            continue
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)


def measure(tool: str, stage: str, works_path: Path, timeout: float, *,
            scratch: Path | None = None) -> dict[str, Any]:
    """One stage in a fresh subprocess, in a folder of its own inside ``scratch`` (the
    system's temporary folder by default), which keeps only :data:`KEPT_FILES` once the
    stage has ended; ``stopped`` when it ran past ``timeout``."""
    tmp = Path(tempfile.mkdtemp(prefix=f"bench-{tool}-{stage}-", dir=scratch))
    cmd = [sys.executable, "-m", "benchmarks.run_all", "--child", f"{tool}:{stage}",
           "--works", str(works_path), "--tmp", str(tmp)]
    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"stopped": True, "limit_s": timeout, "tmp": str(tmp)}
    finally:
        _prune(tmp)
    wall = time.perf_counter() - t0
    line = next((x for x in reversed(p.stdout.splitlines()) if x.startswith("RESULT ")), None)
    if p.returncode < 0:  # a signal: SIGKILL is most often the kernel's out-of-memory killer
        why = "SIGKILL: most likely out of memory" if p.returncode == -9 else "a signal"
        return {"error": f"killed by signal {-p.returncode} ({why})", "tmp": str(tmp)}
    if p.returncode != 0 or line is None:
        return {"error": (p.stderr.strip().splitlines() or ["no output"])[-1], "tmp": str(tmp)}
    out = json.loads(line[len("RESULT "):])
    out["process_wall_s"] = round(wall, 2)
    out["seconds"] = round(out["seconds"], 3)
    out["tmp"] = str(tmp)
    return out


def measure_repeated(tool: str, stage: str, works_path: Path, timeout: float,
                     repeat: int, *, scratch: Path | None = None) -> dict[str, Any]:
    """``measure`` ``repeat`` times; ``seconds`` and ``peak_mb`` are the medians, ``runs``
    every run's seconds.  A run that stopped or failed ends the series and is the result (a
    stopped run is not worth repeating: it would only stop again); so does a run of
    more than :data:`RUN_ONCE_S`."""
    return measure_rounds([(tool, stage, timeout)], works_path, repeat,
                          scratch=scratch)[(tool, stage)]


def measure_rounds(rows: list[tuple[str, str, float]], works_path: Path, repeat: int, *,
                   scratch: Path | None = None) -> dict[tuple[str, str], dict[str, Any]]:
    """Each ``(tool, stage, timeout)`` row measured ``repeat`` times, in rounds (every row
    once, then every row again: the host's speed, which moved by a third within minutes
    here, then weighs on every row alike, and their ratios hold); each row's result as
    :func:`measure_repeated` gives it, by ``(tool, stage)``."""
    series: dict[tuple[str, str], list[dict[str, Any]]] = {(t, s): [] for t, s, _ in rows}
    ended: dict[tuple[str, str], dict[str, Any]] = {}
    for _ in range(max(1, repeat)):
        for tool, stage, timeout in rows:
            key = (tool, stage)
            if key in ended:
                continue
            r = measure(tool, stage, works_path, timeout, scratch=scratch)
            runs = series[key]
            if "seconds" not in r:
                ended[key] = r if not runs else {
                    **runs[0], "runs": [x["seconds"] for x in runs],
                    "note": f"a later run: {r.get('error', 'stopped')}"}
                continue
            runs.append(r)
            if r["seconds"] > RUN_ONCE_S:  # minutes long: its spread is small next to it
                ended[key] = r if len(runs) == 1 else _median_run(runs)
    return {key: ended.get(key) or _median_run(runs) for key, runs in series.items()}


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    if len(runs) == 1:
        return runs[0]
    by_time = sorted(runs, key=lambda x: x["seconds"])
    out = dict(by_time[len(by_time) // 2])  # the median run (its tmp holds its outputs)
    out["runs"] = [x["seconds"] for x in runs]
    out["peak_mb"] = statistics.median(x["peak_mb"] for x in runs)
    return out


def _triples_equal(t: dict[str, Any], b: dict[str, Any],
                   name: str = "peer_triples.json") -> bool | None:
    try:
        a = json.loads((Path(t["tmp"]) / "tracker_triples.json").read_text())
        c = json.loads((Path(b["tmp"]) / name).read_text())
    except (KeyError, OSError):
        return None
    return {tuple(x) for x in a} == {tuple(x) for x in c}


def _run_script(args: list[str], timeout: float) -> dict[str, Any]:
    try:
        p = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"stopped": True, "limit_s": timeout}
    for line in reversed(p.stdout.strip().splitlines()):
        try:
            doc = json.loads(line)
            if isinstance(doc, dict):
                return doc
        except ValueError:
            continue
    return {"error": (p.stderr.strip().splitlines() or ["no JSON output"])[-1]}


def other_benchmarks(scratch: Path | None = None) -> dict[str, Any]:
    """The side benchmarks' results; their files go to ``scratch`` (by default the
    report's to a temporary folder of its own, which it names)."""
    out: dict[str, Any] = {}
    bench = ROOT / "benchmarks"
    if (bench / "bench_report.py").exists():
        where = ["--out", str(scratch / "bench_report")] if scratch is not None else []
        out["bench_report"] = _run_script(["benchmarks/bench_report.py", "--repeat", "3",
                                           *where], 600)
    if (bench / "bench_matching.py").exists():
        works = "20000"  # its speed section; the default 100,000 takes minutes more
        out["bench_matching"] = _run_script(["benchmarks/bench_matching.py", "--works", works],
                                            900)
    if (bench / "bench_api_calls.py").exists():
        out["bench_api_calls"] = _run_script(
            ["-c", "import json; from benchmarks.bench_api_calls import run; "
                   "print(json.dumps(run(), default=str))"], 600)
    for v in out.values():
        v.pop("out", None)
    return out


def run_size(n: int, seed: int, work_dir: Path, peer_timeout: float,
             tracker_timeout: float, names_max: int, repeat: int = 1,
             stages: bool = True, *, scratch: Path | None = None) -> dict[str, Any]:
    works = work_dir / f"works_n{n}_seed{seed}.jsonl.gz"
    t0 = time.perf_counter()
    if not works.exists():
        # in a subprocess, so this process stays small (its peak would pass to children)
        subprocess.run([sys.executable, "-m", "benchmarks.generate", "--n", str(n), "--seed",
                        str(seed), "--out", str(works)], cwd=ROOT, check=True,
                       capture_output=True)
    gen_s = time.perf_counter() - t0
    res: dict[str, Any] = {"works": n, "seed": seed, "file": works.name,  # not a path
                           "file_bytes": works.stat().st_size,
                           "generate_s": round(gen_s, 2), "tracker": {},
                           "peers": {p: {} for p in PEERS}, "identical_findings": {}}
    once = (*STAGES[:-1], "graph_nx", "e2e_names") if stages else ()
    for stage in (*once, "e2e_engine_names"):  # for information: once each
        if stage == "e2e_names" and n > names_max:
            res["tracker"][stage] = {"error": f"not run (only up to {names_max:,} works)"}
            continue
        print(f"  n={n:,} tracker {stage} ...", file=sys.stderr, flush=True)
        res["tracker"][stage] = measure("tracker", stage, works, tracker_timeout,
                                        scratch=scratch)
    # the compared rows: median of `repeat` runs, in rounds
    compared = [("tracker", s, tracker_timeout) for s in ("e2e", "e2e_csv", "e2e_engine")]
    compared += [(peer, "e2e", peer_timeout) for peer in PEERS]
    print(f"  n={n:,} {', '.join(f'{t} {s}' for t, s, _ in compared)}, in "
          f"{repeat} round(s) ...", file=sys.stderr, flush=True)
    got = measure_rounds(compared, works, repeat, scratch=scratch)
    for (tool, stage), r in got.items():
        (res["tracker"] if tool == "tracker" else res["peers"][tool])[stage] = r
    res["identical_findings"]["engine"] = _triples_equal(
        res["tracker"]["e2e"], res["tracker"]["e2e_engine"], "tracker_triples.json")
    for peer in PEERS:
        res["identical_findings"][peer] = _triples_equal(res["tracker"]["e2e"],
                                                         res["peers"][peer]["e2e"])
    return res


def _fmt_s(r: dict[str, Any]) -> str:
    if r.get("not_reached"):
        return "not reached (stopped)"
    if r.get("stopped"):
        return f"> {r['limit_s']:g} s (stopped)"
    if "error" in r:
        return f"error: {r['error']}"
    if len(r.get("runs", ())) > 1:
        lo, hi = min(r["runs"]), max(r["runs"])
        return f"{r['seconds']:.2f} s (median of {len(r['runs'])}: {lo:.2f}–{hi:.2f})"
    return f"{r['seconds']:.2f} s"


def _fmt_mb(r: dict[str, Any]) -> str:
    if r.get("in_e2e"):
        return "(in e2e)"
    return f"{r['peak_mb']:,.0f} MB" if "peak_mb" in r else "–"


def _ratio(t: dict[str, Any], b: dict[str, Any]) -> str:
    if "seconds" not in t or t["seconds"] <= 0:
        return "–"
    if b.get("not_reached"):
        return "–"
    if b.get("stopped"):
        return f"> {b['limit_s'] / t['seconds']:.1f}×"
    if "seconds" not in b:
        return "–"
    return f"{b['seconds'] / t['seconds']:.1f}×"


def _speedup(t: dict[str, Any], b: dict[str, Any]) -> float | None:
    if "seconds" not in t or t["seconds"] <= 0:
        return None
    if b.get("stopped"):
        return b["limit_s"] / t["seconds"]
    return b["seconds"] / t["seconds"] if "seconds" in b else None


def targets(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for r in results:
        t = r["tracker"]["e2e"]
        n = r["works"]
        for peer in PEERS:
            out.append({"target": f"{n:,} works: identical identifier findings ({peer} peer)",
                        "value": str(r["identical_findings"].get(peer)),
                        "met": r["identical_findings"].get(peer) is True})
        if n == 15_000:
            x = _speedup(t, r["peers"]["python"]["e2e"])
            out.append({"target": f"15,000 works: >= {TARGET_PY_15K:g}× the plain-Python peer",
                        "value": "–" if x is None else f"{x:.1f}×",
                        "met": None if x is None else x >= TARGET_PY_15K})
        if n >= 100_000:
            for peer in PEERS:
                x = _speedup(t, r["peers"][peer]["e2e"])
                out.append({"target": f"{n:,} works: ahead of the {peer} peer",
                            "value": "–" if x is None else f"{x:.2f}×",
                            "met": None if x is None else x > 1.0})
        e = r["tracker"].get("e2e_engine") or {}
        if n >= 100_000:
            for peer in PEERS:
                x = _speedup(e, r["peers"][peer]["e2e"])
                out.append({"target": f"{n:,} works: DuckDB engine ahead of the {peer} peer",
                            "value": "–" if x is None else f"{x:.2f}×",
                            "met": None if x is None else x > 1.0})
        if n >= 1_000_000 and "seconds" in e:
            out.append({"target": f"{n:,} works, DuckDB engine, <= {TARGET_1M_S:g} s",
                        "value": f"{e['seconds']:.1f} s", "met": e["seconds"] <= TARGET_1M_S})
            gb = e["peak_mb"] / 1024
            out.append({"target": f"{n:,} works, DuckDB engine, peak <= {TARGET_1M_GB:g} GB",
                        "value": f"{gb:.2f} GB", "met": gb <= TARGET_1M_GB})
        if n >= 1_000_000 and "seconds" in t:
            out.append({"target": f"{n:,} works end to end <= {TARGET_1M_S:g} s",
                        "value": f"{t['seconds']:.1f} s", "met": t["seconds"] <= TARGET_1M_S})
            gb = t["peak_mb"] / 1024
            out.append({"target": f"{n:,} works peak (process tree) <= {TARGET_1M_GB:g} GB",
                        "value": f"{gb:.2f} GB", "met": gb <= TARGET_1M_GB})
    return out


def markdown(doc: dict[str, Any]) -> str:
    m = doc["machine"]
    lines = [
        f"Run {doc['date']} on {m['cores']} cores, {m['ram_gb']} GB RAM, {m['cpu']}, "
        f"Python {m['python']} ({m['platform']}).  Works are SYNTHETIC (seed {doc['seed']}); "
        f"framework: {doc.get('framework', '')}."
        + (f"  The e2e rows are the median of {doc['repeat_e2e']} runs each (a run of over "
           f"{RUN_ONCE_S / 60:g} minutes, or a stopped one, is run once)."
           if doc.get("repeat_e2e", 1) > 1 else ""),
        "",
    ]
    for r in doc["sizes"]:
        same = ", ".join(f"{p}: {v}" for p, v in r["identical_findings"].items())
        lines += [f"**{r['works']:,} works** ({r['file_bytes'] / 1e6:.0f} MB gzip; "
                  f"identical identifier findings: {same})", "",
                  "| end to end | seconds | peak (process tree) | findings | "
                  "peer / tracker |", "|---|---:|---:|---:|---:|"]
        t = r["tracker"]["e2e"]
        lines.append(f"| tracker (report folder) | {_fmt_s(t)} | {_fmt_mb(t)} | "
                     f"{t.get('findings', '–')} | – |")
        for peer in PEERS:
            b = r["peers"][peer]["e2e"]
            inner = b.get("stages") or {}
            parts = ", ".join(f"{k} {v:.2f} s" for k, v in inner.items())
            lines.append(f"| {peer} peer (one CSV{'; ' + parts if parts else ''}) | "
                         f"{_fmt_s(b)} | {_fmt_mb(b)} | {b.get('findings', '–')} | "
                         f"{_ratio(t, b)} |")
        c = r["tracker"].get("e2e_csv")
        if c is not None:
            vs = ", ".join(f"{peer} {_ratio(c, r['peers'][peer]['e2e'])}" for peer in PEERS)
            lines.append(f"| tracker, report.html and findings.csv only (`--formats csv`: "
                         f"the peers' one CSV, like for like) | {_fmt_s(c)} | {_fmt_mb(c)} | "
                         f"{c.get('findings', '–')} | {vs} |")
        t = r["tracker"].get("e2e_names")
        if t is not None:
            lines.append(f"| tracker, name matching on (its default) | {_fmt_s(t)} | "
                         f"{_fmt_mb(t)} | {t.get('findings', '–')} | – |")
        for key, label in (("e2e_engine", "tracker, DuckDB engine (report folder, no co-author "
                            "network)"), ("e2e_engine_names", "tracker, DuckDB engine, name "
                                          "matching on")):
            t = r["tracker"].get(key)
            if t is not None:
                lines.append(f"| {label} | {_fmt_s(t)} | {_fmt_mb(t)} | "
                             f"{t.get('findings', '–')} | – |")
        lines.append("")
        if "parse" in r["tracker"]:
            lines += ["| tracker stage | seconds | peak |", "|---|---:|---:|"]
            for s in (*STAGES[:-1], "graph_nx"):
                if s in r["tracker"]:
                    x = r["tracker"][s]
                    lines.append(f"| {s} | {_fmt_s(x)} | {_fmt_mb(x)} |")
            lines.append("")
    if doc["targets"]:
        lines += ["| target | value | met |", "|---|---:|---|"]
        for t in doc["targets"]:
            met = {True: "yes", False: "**no**", None: "unknown"}[t["met"]]
            lines.append(f"| {t['target']} | {t['value']} | {met} |")
        lines.append("")
    other = dict(doc.get("other_benchmarks") or {})
    api = other.pop("bench_api_calls", None)
    if isinstance(api, dict) and isinstance(api.get("subjects"), dict):
        lines += _api_table(api)
    if other:
        lines.append("Other benchmarks (the last JSON line of each; all of it in latest.json):")
        lines.append("")
        for k, v in other.items():
            lines.append(f"- `{k}`: {_summary(v)}")
        lines.append("")
    return "\n".join(lines)


def _api_table(api: dict[str, Any]) -> list[str]:
    """API cost per subject and strategy, from bench_api_calls (against the test server)."""
    lines = ["**API cost** (`bench_api_calls.py`: real pyalex calls against the local "
             "OpenAlex-compatible server with recorded records; a list call is priced at "
             f"${api.get('list_call_usd', '?')})", "",
             "| subject | strategy | works | list calls | single-work calls | "
             "list calls per 1,000 works of the subject | est. cost |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for subject, runs in api["subjects"].items():
        total = runs.get("works")
        for name, r in runs.items():
            if not isinstance(r, dict):
                continue
            extra = (f" ({r['http_calls']} HTTP calls)" if "http_calls" in r else "")
            lines.append(f"| {subject} ({total} works) | {name}{extra} | {r.get('works')} | "
                         f"{r.get('list_calls')} | {r.get('single_calls')} | "
                         f"{r.get('list_calls_per_1000_works')} | "
                         f"${r.get('estimated_cost_usd')} |")
    lines.append("")
    return lines


def _summary(v: Any, limit: int = 12) -> str:
    """A few scalar fields of a side benchmark's result, as `key=value` pairs."""
    if not isinstance(v, dict):
        return f"`{json.dumps(v, default=str)[:300]}`"
    items = [(k, x) for k, x in v.items() if isinstance(x, str | int | float | bool | None)]
    shown = ", ".join(f"{k}={round(x, 3) if isinstance(x, float) else x}"
                      for k, x in items[:limit])
    return f"{shown}{', …' if len(items) > limit else ''}"


def update_readme(md: str) -> None:
    if not README.exists():
        return
    text = README.read_text("utf-8")
    start, end = "<!-- latest:start -->", "<!-- latest:end -->"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        _, tail = rest.split(end, 1)
        README.write_text(f"{head}{start}\n{md}\n{end}{tail}", "utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="15000,100000", help="comma-separated work counts")
    ap.add_argument("--quick", action="store_true",
                    help="2,000 works only, short time limit, lighter side benchmarks")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3,
                    help="runs of each end-to-end row (the compared one), median kept; a "
                         "run that is stopped is not repeated")
    ap.add_argument("--peer-timeout", type=float, default=900.0,
                    help="seconds before a peer's run is stopped")
    ap.add_argument("--e2e-only", action="store_true",
                    help="only the compared end-to-end rows (no per-stage rows): for 1M works")
    ap.add_argument("--tracker-timeout", type=float, default=900.0)
    ap.add_argument("--work-dir", type=Path,
                    default=Path(tempfile.gettempdir()) / "tracker-bench",
                    help="where the generated works files are kept")
    ap.add_argument("--names-max", type=int, default=15_000,
                    help="largest size for the name-matching-on e2e row")
    ap.add_argument("--no-other", action="store_true",
                    help="skip bench_report / bench_matching / bench_api_calls")
    ap.add_argument("--render", action="store_true",
                    help="only rewrite latest.md and the README table from latest.json")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--works", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--tmp", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        tool, stage = args.child.split(":", 1)
        child(tool, stage, args.works, args.tmp)
        return 0
    if args.render:
        doc = json.loads((RESULTS / "latest.json").read_text("utf-8"))
        write_markdown(doc)
        return 0
    sizes = [2000] if args.quick else [int(s) for s in args.sizes.split(",") if s.strip()]
    if args.quick:
        args.peer_timeout = min(args.peer_timeout, 60.0)
    args.work_dir.mkdir(parents=True, exist_ok=True)
    results = []
    scratch = Path(tempfile.mkdtemp(prefix="bench-run_all-"))  # every stage's folder
    try:
        for n in sizes:
            results.append(run_size(n, args.seed, args.work_dir, args.peer_timeout,
                                    args.tracker_timeout, args.names_max,
                                    1 if args.quick else args.repeat, not args.e2e_only,
                                    scratch=scratch))
        other = {} if args.no_other else other_benchmarks(scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    for r in results:  # the folders are gone: not named in the results
        for row in (*r["tracker"].values(), *(s for p in r["peers"].values()
                                              for s in p.values())):
            row.pop("tmp", None)
    fw = next((r["tracker"]["e2e"].get("framework") for r in results), "")
    doc = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "seed": args.seed,
        "framework": fw,
        "peer_timeout_s": args.peer_timeout,
        "repeat_e2e": 1 if args.quick else args.repeat,
        "sizes": results,
        "targets": targets(results),
        "other_benchmarks": other,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(doc, indent=2, default=str) + "\n", "utf-8")
    write_markdown(doc)
    return 0


def write_markdown(doc: dict[str, Any]) -> None:
    md = markdown(doc)
    (RESULTS / "latest.md").write_text("# Latest benchmark results\n\n" + md + "\n", "utf-8")
    update_readme(md)
    print(md)


if __name__ == "__main__":
    raise SystemExit(main())
