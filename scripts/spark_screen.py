"""Screen works files on a Spark cluster: the driver script to give spark-submit.

The session is the one spark-submit configured (master, executors, memory); the works are
read where the executors can read them (``s3a://``, ``gs://``, ``abfss://``, ``hdfs://``
URIs, globs allowed), screened by :func:`tracker.engine.screen_spark`, and the findings
and the run record are written on the driver.  docs/scale.md describes a whole run.

    PYSPARK_PYTHON=.venv/bin/python PYSPARK_DRIVER_PYTHON=.venv/bin/python \\
    .venv/bin/spark-submit --master 'local[2]' scripts/spark_screen.py --out result/ \\
        'file:///data/works/updated_date=*/part_*.gz'

    spark-submit --master yarn --deploy-mode client \\
        --archives tracker-env.tar.gz#env \\
        --conf spark.pyspark.python=./env/bin/python \\
        scripts/spark_screen.py --out result/ \\
        's3a://openalex/data/jsonl/works/updated_date=*/part_*.gz'
"""

from __future__ import annotations

import argparse
import json
from datetime import date
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("works", nargs="+", help="works files: URIs or globs Spark reads")
    ap.add_argument("--out", type=Path, required=True,
                    help="folder for findings.jsonl and run.json (on the driver)")
    ap.add_argument("--since", type=date.fromisoformat)
    ap.add_argument("--until", type=date.fromisoformat)
    ap.add_argument("--lists", default="", help="only these lists, comma-separated codes")
    ap.add_argument("--no-names", action="store_true", help="identifier ties only")
    ap.add_argument("--checkpoint-dir",
                    help="shared storage for the plan's checkpoint (survives a lost executor)")
    args = ap.parse_args(argv)

    from pyspark.sql import SparkSession

    import tracker
    from tracker.engine import screen_spark
    from tracker.names import cached_name_matcher
    from tracker.risk import FINDING_COLUMNS
    from tracker.screening import ScreenSettings

    spark = SparkSession.builder.appName("tracker screen").getOrCreate()
    if args.checkpoint_dir:
        spark.sparkContext.setCheckpointDir(args.checkpoint_dir)
    reg = tracker.load_registry()
    nm = None if args.no_names else cached_name_matcher(reg)
    settings = ScreenSettings(since=args.since, until=args.until,
                              lists=tuple(c for c in args.lists.split(",") if c.strip()))
    res = screen_spark(args.works, registry=reg, settings=settings, name_matcher=nm,
                       session=spark, command=("spark_screen.py", *(argv or [])))
    args.out.mkdir(parents=True, exist_ok=True)
    with (args.out / "findings.jsonl").open("w", encoding="utf-8") as fh:
        for f in res.findings:
            row = f.row()
            fh.write(json.dumps({c: row.get(c, "") for c in FINDING_COLUMNS}, default=str))
            fh.write("\n")
    (args.out / "run.json").write_text(json.dumps(res.run, indent=1, default=str),
                                       encoding="utf-8")
    c = res.run["counts"]
    print(f"{c['works_read']:,} works read, {c['findings']:,} findings -> {args.out}")
    spark.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
