"""Screening engines for works files at scale.

:func:`screen_files` runs the screening plan on DuckDB (embedded): the relational work in
SQL, tracker's own matcher and assessment on the works that can hold a tie.  Its findings
are those of :func:`tracker.screening.screen` over the same files.  :func:`screen_spark`
runs the same plan on Apache Spark (pyspark, an optional extra), local mode or a cluster,
for inputs beyond one machine; it is never chosen by ``auto``.

Examples
--------
>>> choose_engine("auto", subjects=False, topics=False, size_bytes=10**9)
'duckdb'
>>> choose_engine("auto", subjects=False, topics=False, size_bytes=10**6)
'python'
>>> choose_engine("auto", subjects=True, topics=False, size_bytes=10**9)
'python'
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable
from pathlib import Path

from tracker.engine.duck import (
    EngineDiskError,
    EngineError,
    EngineMemoryError,
    EngineSettingError,
    parquet_bytes,
    parquet_rows,
    parquet_works,
    screen_files,
)
from tracker.engine.inputs import (
    InputFile,
    WorksInputError,
    expand_inputs,
    snapshot_manifests,
    sniff,
)
from tracker.engine.spark import screen_spark, spark_missing

__all__ = ["AUTO_DUCKDB_BYTES", "ENGINES", "EngineDiskError", "EngineError", "EngineMemoryError",
           "EngineSettingError", "InputFile", "WorksInputError", "choose_engine",
           "expand_inputs", "parquet_bytes", "parquet_rows", "parquet_works", "screen_files",
           "screen_spark", "snapshot_manifests", "sniff", "works_files"]

#: Engines a screening run of works files can ask for: ``auto`` (DuckDB for large inputs
#: and Parquet where it can, else Python), ``duckdb`` (:func:`screen_files`), ``python``
#: (:func:`tracker.screening.screen` over parsed records) and ``spark``
#: (:func:`screen_spark`: only when asked for, never by ``auto``).
ENGINES = ("auto", "duckdb", "python", "spark")


#: ``auto`` takes DuckDB from this many bytes of works files on.  Measured on 2 cores
#: (benchmarks/README.md, "The DuckDB engine"): at 15,000 and 100,000 synthetic works (103 MB
#: gzip) the Python path was faster (2.8 s vs 4.8 s; 26.8 s vs 30.3 s), at 1,000,000 the
#: engine took less than half the time and memory (195 s, 5.9 GB vs 416 s, ~14 GB).
AUTO_DUCKDB_BYTES = 256 * 1024 * 1024


def choose_engine(requested: str, *, subjects: bool, topics: bool,
                  size_bytes: int = 0, parquet: bool = False) -> str:
    """The engine a run of works files uses: ``duckdb``, ``python`` or ``spark``.

    ``auto`` takes DuckDB when it is installed, the run needs nothing it does not do
    (subjects whose own affiliations are told apart, topic filters) and the input is large
    (``size_bytes`` of at least :data:`AUTO_DUCKDB_BYTES`) or Parquet (which the Python
    path reads row by row through DuckDB: :func:`parquet_works`); Python otherwise, which is
    faster on smaller inputs.

    ``spark`` is taken only when asked for (Spark in local mode starts a JVM and is slower
    than DuckDB on one machine), and needs pyspark and Java (:func:`spark_missing`).

    Raises
    ------
    EngineSettingError
        An unknown engine, or ``duckdb`` or ``spark`` asked for where it cannot run.
    """
    if requested not in ENGINES:
        raise EngineSettingError(f"engine must be one of {', '.join(ENGINES)}, not "
                                 f"{requested!r}")
    if requested == "python":
        return "python"
    if requested == "spark":
        why = spark_missing()
        if why is not None:
            raise EngineSettingError(why)
        if subjects or topics:
            what = "topic filters" if topics else "--org/--author subjects"
            raise EngineSettingError(f"the spark engine does not apply {what}: use "
                                     "--engine python")
        return "spark"
    installed = importlib.util.find_spec("duckdb") is not None
    if requested == "auto":
        big = parquet or size_bytes >= AUTO_DUCKDB_BYTES
        return "duckdb" if installed and big and not subjects and not topics else "python"
    if not installed:
        raise EngineSettingError("the duckdb engine needs the duckdb package "
                                 "(pip install duckdb), or use --engine python")
    if subjects or topics:
        what = "topic filters" if topics else "--org/--author subjects"
        raise EngineSettingError(f"the duckdb engine does not apply {what}: use "
                                 "--engine python")
    return "duckdb"


def works_files(paths: Iterable[str | Path]) -> list[Path]:
    """The files that works paths, globs and folders name (see :func:`expand_inputs`).

    Raises
    ------
    WorksInputError
    """
    return [f.path for f in expand_inputs(paths)]
