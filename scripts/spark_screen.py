"""Screen works files on a Spark cluster: the driver script to give spark-submit.

The session is the one spark-submit configured (master, executors, memory); the works are
read where the executors can read them (``s3a://``, ``gs://``, ``abfss://``, ``hdfs://``
URIs, globs allowed), screened by :func:`tracker.engine.screen_spark`, and the report
folder is written on the driver (:func:`tracker.exports.write_report_folder`): report.html,
run.json and the finding files of ``--formats`` (default ``jsonl,parquet``).
docs/scale.md describes a whole run.

    PYSPARK_PYTHON=.venv/bin/python PYSPARK_DRIVER_PYTHON=.venv/bin/python \\
    .venv/bin/spark-submit --master 'local[2]' scripts/spark_screen.py --out result/ \\
        'file:///data/works/updated_date=*/part_*.gz'

    spark-submit --master yarn --deploy-mode client \\
        --archives tracker-env.tar.gz#env \\
        --conf spark.pyspark.python=./env/bin/python \\
        scripts/spark_screen.py --out result/ --formats parquet,csv \\
        's3a://openalex/data/jsonl/works/updated_date=*/part_*.gz'
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path
from typing import Any


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("works", nargs="+", help="works files: URIs or globs Spark reads")
    ap.add_argument("--out", type=Path, required=True,
                    help="the report folder (on the driver)")
    ap.add_argument("--formats", default="jsonl,parquet",
                    help="finding files to write besides report.html and run.json, "
                         "comma-separated: csv, xlsx, parquet, jsonl, json, network, or none "
                         "(default: jsonl,parquet)")
    ap.add_argument("--since", type=date.fromisoformat)
    ap.add_argument("--until", type=date.fromisoformat)
    ap.add_argument("--lists", default="", help="only these lists, comma-separated codes")
    ap.add_argument("--no-names", action="store_true", help="identifier ties only")
    ap.add_argument("--checkpoint-dir",
                    help="shared storage for the plan's checkpoint (survives a lost executor)")
    args = ap.parse_args(argv)
    from tracker.exports import check_formats

    try:
        args.formats = check_formats(args.formats.split(","))
    except ValueError as exc:
        ap.error(f"--formats: {exc}")
    args.command = ("spark_screen.py", *(argv if argv is not None else sys.argv[1:]))
    return args


def screen(args: argparse.Namespace, spark: Any) -> dict[str, Path]:
    """Screen ``args.works`` in the session ``spark`` and write the report folder; the files
    written, by name."""
    import tracker
    from tracker.engine import screen_spark
    from tracker.exports import write_report_folder
    from tracker.names import cached_name_matcher
    from tracker.screening import ScreenSettings

    if args.checkpoint_dir:
        spark.sparkContext.setCheckpointDir(args.checkpoint_dir)
    reg = tracker.load_registry()
    nm = None if args.no_names else cached_name_matcher(reg)
    settings = ScreenSettings(since=args.since, until=args.until,
                              lists=tuple(c for c in args.lists.split(",") if c.strip()))
    res = screen_spark(args.works, registry=reg, settings=settings, name_matcher=nm,
                       session=spark, command=args.command)
    files = write_report_folder(res, args.out, formats=args.formats)
    c = res.run["counts"]
    print(f"{c['works_read']:,} works read, {c['findings']:,} findings -> {args.out} "
          f"({', '.join(files)})")
    return files


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.appName("tracker screen").getOrCreate()
    try:
        screen(args, spark)
    finally:
        spark.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
