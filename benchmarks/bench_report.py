"""Benchmark: build the demo report from the bundled real works; print its size and time.

The demo is what ``tracker demo`` screens: the 71 real OpenAlex works bundled in
``tracker/data/demo`` against the bundled registry (identifiers, plus names when
``tracker.names`` is present).  Timed: :func:`tracker.report.render_report` (figures,
layout, table, escaping) and :func:`tracker.report.write_report`; also, once,
:func:`tracker.exports.write_report_folder` (the report folder: findings.csv, .jsonl,
.parquet, .json, .xlsx, run.json, report.html, network.graphml, network.gexf; their sizes
are printed as ``folder_bytes``).

The demo is small (71 works).  At scale, report.html stays a few MB whatever the number of
findings (its views are capped, :data:`tracker.report.TABLE_MAX_ROWS`,
:data:`tracker.report.TIMELINE_MAX_ENTRIES`, and it says what it leaves out); measure that
end to end on synthetic works::

    python -m benchmarks.generate --n 100000 --seed 1 --out /tmp/w100k.jsonl.gz
    /usr/bin/time -v tracker screen --works /tmp/w100k.jsonl.gz --out /tmp/r100k \
        --db /tmp/r100k.db --no-keep-works --no-progress

Usage::

    python benchmarks/bench_report.py [--out DIR] [--repeat N]

The last line printed is one JSON object (for the benchmark runner).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tracker.demo import demo_works_path
from tracker.exports import write_report_folder
from tracker.report import PLOTLY_BUNDLE, render_report, write_report
from tracker.screening import ScreenResult, ScreenSettings, screen
from tracker.sources.files import read_works
from tracker.watchlists import load_registry

#: The demo report's budget (3 MiB); at 1,000,000 synthetic works the budget is 5 MB.
MAX_BYTES = 3 * 1024 * 1024


def demo_result() -> ScreenResult:
    reg = load_registry()
    try:
        from tracker.names import NameMatcher  # type: ignore[import-not-found,unused-ignore]

        names: object | None = NameMatcher(reg, fuzzy_threshold=92.0)
    except ImportError:
        names = None
    return screen(read_works(demo_works_path()), registry=reg,
                  settings=ScreenSettings(strategy="files"), name_matcher=names,
                  command=["bench_report.py"])


def browser_seconds(path: Path, repeat: int) -> float | None:
    """Median time from navigation to both plotly figures drawn, in headless Chromium."""
    from tests.browser.chromium import Chromium, find_chromium

    binary = find_chromium()
    if binary is None:
        print("chromium not found: browser timing skipped", file=sys.stderr)
        return None
    drawn = ("Array.from(document.querySelectorAll('.chart')).every(function (d) {"
             " return d.querySelector('svg.main-svg .scatterlayer .trace') !== null; })")
    times = []
    with Chromium(binary) as c:
        page = c.page()
        for _ in range(max(repeat, 1)):
            page.events.clear()
            t = time.perf_counter()
            page.navigate(path.resolve().as_uri(), timeout=60)
            if not page.wait_for(drawn, timeout=60):
                raise RuntimeError("the report's figures were not drawn in 60 s")
            times.append(time.perf_counter() - t)
    return round(statistics.median(times), 3)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=None, help="folder for the report files")
    ap.add_argument("--repeat", type=int, default=5, help="timed renders (median reported)")
    ap.add_argument("--browser", action="store_true",
                    help="also time opening the report in headless Chromium until both "
                         "figures are drawn (needs Debian's chromium)")
    args = ap.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="bench-report-"))

    t0 = time.perf_counter()
    result = demo_result()
    screen_s = time.perf_counter() - t0

    times = []
    for _ in range(max(args.repeat, 1)):
        t = time.perf_counter()
        render_report(result)
        times.append(time.perf_counter() - t)
    t = time.perf_counter()
    path = write_report(result, out)
    write_s = time.perf_counter() - t
    t = time.perf_counter()
    files = write_report_folder(result, out / "folder")
    folder_s = time.perf_counter() - t

    browser_s = browser_seconds(path, args.repeat) if args.browser else None
    size = path.stat().st_size
    doc = {
        "benchmark": "report",
        "works": result.run["counts"]["works_read"],
        "findings": len(result.findings),
        "flagged_works": len(result.works),
        "report_bytes": size,
        "report_size": f"{size / 1e6:.2f} MB",
        "report_within_3_MiB": size <= MAX_BYTES,
        "plotly_bundle": f"{PLOTLY_BUNDLE['name']} v{PLOTLY_BUNDLE['version']}",
        "screen_seconds": round(screen_s, 3),
        "render_seconds": round(statistics.median(times), 3),
        "render_seconds_all": [round(x, 3) for x in times],
        "write_report_seconds": round(write_s, 3),
        "write_report_folder_seconds": round(folder_s, 3),
        "browser_load_to_drawn_seconds": browser_s,
        "folder_bytes": {k: p.stat().st_size for k, p in files.items()},
        "out": str(out),
    }
    print(f"report: {path} ({doc['report_size']}, {size:,} bytes); "
          f"render {doc['render_seconds']} s (median of {len(times)}); "
          f"{doc['findings']} findings on {doc['flagged_works']} works", file=sys.stderr)
    print(json.dumps(doc))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
