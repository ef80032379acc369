"""The screening plan on Spark: works files beyond one machine, with pyspark.

The same plan as :mod:`tracker.engine.duck`, on an existing distributed engine (Apache
Spark, local mode by default, or any cluster a :class:`pyspark.sql.SparkSession` reaches):

1. Spark reads every works file as text (``spark.read.text``, or Parquet rows turned back
   into JSON text) and parses each record with ``from_json`` into the plan's ``recs``: work
   ID, status, dates, data-gap flags and authorships, as tracker's records read them.
2. ``firsts``, ``readw`` and the run counts are Spark SQL; the counts and the date window are
   the very SQL text DuckDB runs (:func:`tracker.engine.plan.counts_sql`,
   :func:`~tracker.engine.plan.window_sql`) after a prelude that defines the plan's macros
   as Spark SQL functions.
3. Each distinct key (institution ID or lineage ancestor, ROR, raw affiliation string,
   display name) is resolved once, on the executors, with ``mapInPandas``: registry
   lookups, and tracker's own name matcher for the strings.
4. The answers are joined back to pick the works that can hold a tie; those records are
   parsed and screened on the executors by the very functions the DuckDB engine uses
   (:func:`tracker.records.parse_work`, :class:`tracker.matching.Matcher`,
   :func:`tracker.risk.make_finding`, the assessor), so the findings equal DuckDB's row
   for row.

pyspark is imported only here, and only when the engine runs (``pip install
'tracker[spark]'``; Spark needs Java 17).  See docs/scale.md for a cluster run.
"""

from __future__ import annotations

import contextlib
import gc
import importlib.util
import logging
import os
import shutil
import sys
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from tracker.engine.duck import (
    _NO_SPACE,
    _REASONS,
    _WORKS_IN_MEMORY,
    EngineDiskError,
    EngineError,
    EngineSettingError,
    _clean,
    _Keys,
    _line_skips,
    _names_probe,
    _patch_run,
    _reader_error,
    _reason,
    _Row,
    _screen_batch,
    _Screening,
    _Staging,
    _Tally,
)
from tracker.engine.inputs import expand_inputs
from tracker.engine.plan import ID_RE, counts_sql, window_sql
from tracker.findings import IN_MEMORY, SpooledFindings, collector_paused
from tracker.home import owned_temp_dir
from tracker.matching import Matcher
from tracker.records import PackedWorks, Work, short_id, short_ror
from tracker.risk import Finding, finding_order
from tracker.screening import (
    MAX_SKIPPED_LISTED,
    Progress,
    ScreenResult,
    ScreenSettings,
    screen,
)
from tracker.skipped import SkippedRecord
from tracker.sources.files import read_works
from tracker.watchlists import Registry

__all__ = ["INSTALL_HINT", "LOG_SETTINGS", "screen_spark", "session_settings", "spark_missing"]

#: What to install for ``--engine spark``.
INSTALL_HINT = ("pip install 'tracker[spark]' (pyspark, pyarrow, pandas) and Java 17 "
                "(java on the PATH, or JAVA_HOME)")
#: The log settings of a session made here (Spark's errors only), in tracker's data.
LOG_SETTINGS = "data/spark/log4j2.properties"
#: What py4j logs, traceback and all, when a call to the JVM is cut short: by Ctrl-C (its
#: own ``KeyboardInterrupt while sending command.``, and pyspark's handler of Ctrl-C calling
#: the JVM again while a call is under way: ``Exception while sending command.``).
_PY4J_CUT_SHORT = frozenset({"KeyboardInterrupt while sending command.",
                             "Exception while sending command."})

#: An authorship as the plan reads it (Spark SQL type syntax); the fields of
#: :data:`tracker.engine.plan.SCHEMA`.
AUTH_TYPE = (
    "STRUCT<institutions: ARRAY<STRUCT<id: STRING, ror: STRING, display_name: STRING, "
    "lineage: ARRAY<STRING>>>, raw_affiliation_strings: ARRAY<STRING>, "
    "raw_affiliation_string: STRING, affiliations: ARRAY<STRUCT<raw_affiliation_string: "
    "STRING>>>"
)

#: A works record as ``from_json`` reads it.  ``publication_date`` and ``publication_year``
#: are read as text whatever their JSON type (Spark renders a number as its digits), so
#: the tests below see what the DuckDB plan sees; ``is_authors_truncated`` is a boolean (a
#: string there is a type mismatch: left null, as tracker's records leave it); ``_bad``
#: holds the text of a record Spark could not read in full.
RECORD_SCHEMA = (
    "id STRING, publication_date STRING, publication_year STRING, "
    f"is_authors_truncated BOOLEAN, authorships ARRAY<{AUTH_TYPE}>, _bad STRING"
)

#: Candidate works up to which their IDs are broadcast to the tasks that read the lines
#: again (a few bytes each: 5 million is about 100 MB); past it, a shuffle join.
BROADCAST_ROWS = 5_000_000

_WS = "chr(32) || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)"


def _slit(text: str) -> str:
    """A Spark SQL string literal: unlike DuckDB's, backslashes are escapes in it."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _strip(x: str) -> str:
    return f"btrim({x}, {_WS})"


def _raws(a: str) -> str:
    """An authorship's raw affiliation strings (the ``raws`` macro), written out: Spark
    does not allow a SQL function in ``explode``."""
    return (f"concat(coalesce({a}.raw_affiliation_strings, "
            f"split({a}.raw_affiliation_string, ';'), array()), "
            f"coalesce(transform({a}.affiliations, x -> x.raw_affiliation_string), array()))")


def prelude_sql() -> list[str]:
    """The plan's macros (:func:`tracker.engine.plan.macros_sql`) as Spark SQL functions.

    Spark does not allow a SQL function inside a lambda, so ``strip`` is written out in
    ``no_inst`` and ``has_raw``; ``concat`` of a null list is null in Spark (DuckDB's
    ``list_concat`` skips it), hence the ``coalesce`` with an empty list.
    """
    return [
        f"CREATE OR REPLACE TEMPORARY FUNCTION strip(x STRING) RETURNS STRING "
        f"RETURN {_strip('x')}",
        f"CREATE OR REPLACE TEMPORARY FUNCTION raws(a {AUTH_TYPE}) RETURNS ARRAY<STRING> "
        f"RETURN {_raws('a')}",
        f"CREATE OR REPLACE TEMPORARY FUNCTION no_inst(a {AUTH_TYPE}) RETURNS BOOLEAN RETURN "
        "size(filter(coalesce(a.institutions, array()), i -> i.id IS NOT NULL "
        f"OR i.ror IS NOT NULL OR coalesce({_strip('i.display_name')}, '') <> '')) = 0",
        f"CREATE OR REPLACE TEMPORARY FUNCTION has_raw(a {AUTH_TYPE}) RETURNS BOOLEAN RETURN "
        f"size(filter(raws(a), r -> coalesce({_strip('r')}, '') <> '')) > 0",
    ]


def recs_sql() -> str:
    """``recs`` from the view ``src`` (``rn``, ``path``, ``blk``, ``line``): the DuckDB
    plan's :func:`tracker.engine.plan.recs_sql` in Spark's dialect.

    Where it differs, and why: Spark's ``from_json`` gives a row of nulls (not null) for a
    line that is not JSON, and keeps the fields it could read when one has another type,
    so a line is ``json`` (unreadable) when Spark marks it bad *and* it is not a JSON
    object (``json_object_keys`` is null); JSON types are told apart by how Spark renders
    them as text (``get_json_object``) rather than by DuckDB's ``json_type``; ``size`` of a
    null list is not 0 in Spark.  An authorship that is a number, a string or a list makes
    Spark's authorships null (the record is then ``authorships``, skipped as DuckDB's
    ``authorship`` is); only ``null`` among them is read as a null authorship.
    """
    wid_ok = "wid <> '' AND startswith(wid, 'W')"
    return f"""
SELECT rn, path, blk, wid,
  CASE WHEN j IS NULL OR (j._bad IS NOT NULL AND json_object_keys(line) IS NULL) THEN 'json'
       WHEN NOT ({wid_ok}) THEN
            CASE WHEN array_contains(keys, 'results') AND NOT array_contains(keys, 'id')
                      AND startswith(ltrim(get_json_object(line, '$.results')), '[')
                 THEN 'envelope' ELSE 'id' END
       WHEN j.authorships IS NULL AND array_contains(keys, 'authorships')
            AND get_json_object(line, '$.authorships') IS NOT NULL THEN 'authorships'
       WHEN exists(j.authorships, a -> a IS NULL) THEN 'authorship'
       ELSE 'ok' END AS status,
  pdate,
  coalesce(nullif(year0, 0), year(pdate)) AS year,
  coalesce(j.is_authors_truncated, false) AS trunc,
  NOT ((j.authorships IS NOT NULL OR coalesce(array_contains(keys, 'authorships'), false))
       AND (j.publication_date IS NOT NULL
            OR coalesce(array_contains(keys, 'publication_date'), false))) AS partial,
  CASE WHEN j.authorships IS NULL THEN 0 ELSE size(j.authorships) END AS n_auth,
  j.authorships AS auths
FROM (
  SELECT *, CASE WHEN j.authorships IS NULL OR j.publication_date IS NULL OR NOT ({wid_ok})
                 THEN json_object_keys(line) END AS keys
  FROM (
    SELECT rn, path, blk, line, j,
      upper(regexp_extract(strip(coalesce(j.id, '')), {_slit(ID_RE)}, 1)) AS wid,
      CASE WHEN left(j.publication_date, 10) rlike '^[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}$'
           THEN try_cast(left(j.publication_date, 10) AS DATE) END AS pdate,
      CASE WHEN strip(j.publication_year) rlike '^[0-9]+$'
           THEN try_cast(strip(j.publication_year) AS BIGINT) END AS year0
    FROM (
      SELECT rn, path, blk, line,
             from_json(line, {_slit(RECORD_SCHEMA)}, map('columnNameOfCorruptRecord', '_bad'))
               AS j
      FROM src WHERE startswith(line, '{{') OR strip(line) <> ''
    ) parsed
  ) w
) k
"""


#: The authorships of the works read (``rn``, ``a``): :data:`tracker.engine.plan.AUTHS`
#: with ``explode`` for DuckDB's ``unnest``.
AUTHS = "(SELECT rn, explode(auths) AS a FROM readw)"

#: The keys a tie can be found by (``rn``, ``kind``, ``k``), as
#: :data:`tracker.engine.plan.KEYS`; one UNION ALL (Spark streams it), each source by kind.
KEYS = {
    "i": "SELECT rn, 'i' AS kind, k FROM insts LATERAL VIEW "
         "explode(concat(array(i.id), coalesce(i.lineage, array()))) t AS k",
    "r": "SELECT rn, 'r' AS kind, i.ror AS k FROM insts",
    "s": "SELECT rn, 's' AS kind, i.display_name AS k FROM insts UNION ALL "
         f"SELECT rn, 's' AS kind, k FROM auths LATERAL VIEW explode({_raws('a')}) t AS k",
}


def spark_missing() -> str | None:
    """Why the Spark engine cannot run here (pyspark, pandas, pyarrow or Java missing),
    with what to install; None when it can."""
    for module in ("pyspark", "pandas", "pyarrow"):
        if importlib.util.find_spec(module) is None:
            return f"the spark engine needs {module}: {INSTALL_HINT}"
    home = os.environ.get("JAVA_HOME")
    if not (home and Path(home, "bin", "java").exists()) and shutil.which("java") is None:
        return f"the spark engine needs Java 17, which was not found: {INSTALL_HINT}"
    return None


def _resolver(reg: Registry, name_matcher: object | None
              ) -> Callable[[Iterator[Any]], Iterator[Any]]:
    """The ``mapInPandas`` function that resolves distinct keys on the executors: each
    ``(kind, k)`` listed or named comes back with the key as tracker's records hold it (a
    short ID, a bare ROR, a cleaned string); the others are dropped."""

    def resolve(batches: Iterator[Any]) -> Iterator[Any]:
        import pandas as pd

        probe = _names_probe(name_matcher, _Keys())
        for df in batches:
            out: list[tuple[str, str, str]] = []
            for kind, k in zip(df["kind"].tolist(), df["k"].tolist(), strict=True):
                hit: str | None = None
                if kind == "i":
                    sid = short_id(k)
                    hit = sid if sid and reg.by_openalex_id(sid) else None
                elif kind == "r":
                    ror = short_ror(k)
                    hit = ror if ror and reg.by_ror(ror) else None
                elif probe is not None and probe(k):
                    hit = _clean(k)
                if hit:
                    out.append((kind, k, hit))
            yield pd.DataFrame(out, columns=["kind", "k", "key"], dtype=object)

    return resolve


def _screener(job: _Screening, keys: _Keys
              ) -> Callable[[Iterator[Any]], Iterator[tuple[int, list[Finding],
                                                           dict[str, bytes]]]]:
    """The function that screens one partition of candidate records on an executor, with
    the DuckDB engine's own :func:`~tracker.engine.duck._screen_batch`."""

    def run(rows: Iterator[Any]) -> Iterator[tuple[int, list[Finding], dict[str, bytes]]]:
        import gc

        batch: list[_Row] = [(int(r["rn"]), r["line"], r["wid"], None) for r in rows]
        if not batch:
            return
        gc.disable()  # records hold no reference cycles: the collector's passes free nothing
        try:
            found = _screen_batch(batch, job, keys)
        finally:
            gc.enable()
        yield found

    return run


def _is_uri(path: str | Path) -> bool:
    return "://" in os.fspath(path)


def _session(session: Any, master: str | None, conf: dict[str, str] | None,
             folder: Path | None = None) -> tuple[Any, bool]:
    """The session to run on and whether this run made it (and so stops it).

    A session made here on this machine (a ``local`` master) keeps Spark's warehouse
    folder in ``folder`` (a temporary folder) unless ``conf`` names one: by default
    Spark makes ``spark-warehouse`` in the current folder, which a run (whose tables are
    all temporary views) leaves there empty, in the user's folder.

    Raises
    ------
    EngineSettingError
        pyspark or Java is missing, or Spark cannot start.
    """
    if session is not None:
        return session, False
    why = spark_missing()
    if why is not None:
        raise EngineSettingError(why)
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:  # its master stays (Spark would hand it back, not a new one)
        return active, False
    master = master or "local[*]"
    if master.startswith("local"):
        # the Python workers must be this interpreter (tracker is installed in it), not
        # the first python3 on the PATH
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.master(master).appName("tracker screen")
    if master.startswith("local") and folder is not None:
        conf = {"spark.sql.warehouse.dir": str(folder / "spark-warehouse"), **(conf or {})}
    for k, v in session_settings(conf).items():
        builder = builder.config(k, v)
    try:
        with _ctrl_c_deferred() as heard:
            spark = builder.getOrCreate()
    except Exception as exc:  # Java missing or broken: pyspark says so in its own words
        raise EngineSettingError(f"Spark did not start ({exc}); {INSTALL_HINT}") from exc
    if heard:  # Ctrl-C while Spark started: heard now, its JVM stopped first
        spark.stop()
        raise KeyboardInterrupt
    spark.sparkContext.setLogLevel("ERROR")
    return spark, True


@contextlib.contextmanager
def _ctrl_c_deferred() -> Iterator[list[int]]:
    """Ctrl-C noted (the list it gives gains the signal), not raised, for a while; in the
    main thread, where SIGINT is not ignored (a background job's), else nothing changes.

    Why: interrupted while it waits for the JVM it started, pyspark loses its handle on it
    and the JVM goes on alone once tracker has ended (a Java stack trace a moment later,
    about 140 MB held until it is killed).  Spark starts in a few seconds; the interrupt is
    then raised with the session stopped.  pyspark sets a SIGINT handler of its own while
    it starts (it cancels Spark's jobs, then raises KeyboardInterrupt): it is left in place.
    """
    import signal
    import threading

    heard: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield heard
        return

    def note(signum: int, _frame: Any) -> None:
        heard.append(signum)

    before = signal.getsignal(signal.SIGINT)
    if before is signal.SIG_IGN:
        yield heard
        return
    signal.signal(signal.SIGINT, note)
    try:
        yield heard
    finally:
        if signal.getsignal(signal.SIGINT) is note:
            signal.signal(signal.SIGINT, before)


def session_settings(conf: dict[str, str] | None = None) -> dict[str, str]:
    """The Spark settings of a session made for a run: tracker's, then ``conf``'s.

    The driver's Java options name tracker's log settings (:data:`LOG_SETTINGS`: Spark's
    errors only) unless ``conf``'s name a log4j file of their own: otherwise a run's first
    lines are Spark's start-up notes and warnings (its default log profile, the host's
    address, Hadoop's native library), which say nothing to a user of tracker.  Spark's
    errors still come back to tracker, which reports them (:class:`EngineError`).

    Examples
    --------
    >>> java = "spark.driver.extraJavaOptions"
    >>> mine = session_settings({"spark.driver.memory": "8g"})
    >>> mine["spark.driver.memory"], "tracker/data/spark/log4j2.properties" in mine[java]
    ('8g', True)
    >>> own = "-Dlog4j2.configurationFile=file:/etc/spark/log4j2.properties"
    >>> session_settings({java: own})[java] == own
    True
    """
    cores = os.cpu_count() or 1
    settings = {"spark.sql.shuffle.partitions": str(max(2, 4 * cores)),
                "spark.ui.showConsoleProgress": "false",
                "spark.sql.files.maxPartitionBytes": "16m",
                **(conf or {})}
    java = settings.get("spark.driver.extraJavaOptions", "")
    log = Path(str(resources.files("tracker").joinpath(LOG_SETTINGS)))
    if "log4j" not in java and log.is_file():  # a file on disk (not inside a zip)
        settings["spark.driver.extraJavaOptions"] = (
            f"{java} -Dlog4j2.configurationFile={log.resolve().as_uri()}".strip())
    return settings


class _CutShort(logging.Filter):
    """Drops py4j's report of a call to the JVM cut short (:data:`_PY4J_CUT_SHORT`).

    py4j logs it with a traceback on the root logger (which it first sets up to print, if
    nothing has); on Ctrl-C that is some forty lines before tracker's one.  What stopped
    the call still reaches tracker: Ctrl-C as ``KeyboardInterrupt``, a JVM that has gone
    as an error (:class:`EngineError`).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.module == "java_gateway" and record.msg in _PY4J_CUT_SHORT)


@contextlib.contextmanager
def _quiet_spark() -> Iterator[None]:
    """While a run uses Spark: no py4j report of a call cut short (:class:`_CutShort`),
    and no warning from pyspark 4.3 that it is not yet tested with pandas 3 (the engine's
    ``mapInPandas`` gives the DuckDB engine's findings row for row under pandas 3: see
    tests/test_engine_spark.py)."""
    root, cut = logging.getLogger(), _CutShort()
    root.addFilter(cut)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="PySpark does not yet fully support "
                                    "pandas", category=FutureWarning)
            yield
    finally:
        root.removeFilter(cut)


def screen_spark(
    paths: str | Path | Sequence[str | Path],
    *,
    registry: Registry,
    settings: ScreenSettings | None = None,
    name_matcher: object | None = None,
    assessor: Callable[[Finding, Work], Finding] | None = None,
    progress: Progress | None = None,
    command: Sequence[str] = (),
    inputs: Sequence[dict[str, Any]] = (),
    extra_run: dict[str, Any] | None = None,
    session: Any = None,
    master: str | None = None,
    spark_conf: dict[str, str] | None = None,
    temp_dir: str | Path | None = None,
) -> ScreenResult:
    """Screen works files on Spark; the same result as :func:`tracker.engine.screen_files`.

    Parameters
    ----------
    paths : path, glob, folder or URI, or a sequence of them
        Local inputs as :func:`tracker.engine.inputs.expand_inputs` reads them (JSON Lines
        plain or gzip, saved API responses, Parquet, the snapshot's folder layout).  A URI
        (``s3a://``, ``hdfs://``, ``file://``...) is given to Spark as it is: JSON Lines
        (gzip by its ``.gz`` name) or, named ``*.parquet``, Parquet; a glob in it is
        Spark's (``s3a://openalex/data/works/updated_date=*/part_*.gz``).
    registry, settings, name_matcher, assessor, progress, command, inputs, extra_run
        As for :func:`tracker.screening.screen`.  Topic filters and subjects are not
        applied by this engine (:class:`EngineSettingError`).
    session : pyspark.sql.SparkSession, optional
        Run on this session (a cluster's, under ``spark-submit``); it is left running.
    master : str, optional
        Without ``session``: the master of the session made for this run (default
        ``local[*]``: every core of this machine); an active session, if there is one, is
        used as it is.  A session made here is stopped when the run ends.
    spark_conf : dict, optional
        Spark settings for a session made here (``spark.driver.memory``...).
    temp_dir : path, optional
        Where local inputs are linked under names Spark reads (default: the system's).

    Returns
    -------
    ScreenResult
        Findings, flagged works and a run record with counts of every record read;
        ``run["engine"]`` says ``spark``.

    Raises
    ------
    EngineSettingError
        pyspark, pandas, pyarrow or Java missing (with what to install); topic filters.
    EngineError
        Spark failed on something the files do not explain.
    tracker.engine.inputs.WorksInputError
        A local input matches no file or cannot be read.

    Notes
    -----
    The run's temporary views (``src``, ``recs``, ``firsts``, ``readw``...) and SQL
    functions (``strip``, ``raws``, ``no_inst``, ``has_raw``) are created in the session.
    A work met twice is taken from its first record in path order, then file order (as on
    the other engines), a snapshot's newest partition first (``updated_date=`` in a remote
    path; local folders are ordered so by :func:`~tracker.engine.inputs.expand_inputs`).
    The line numbers of skipped records in remote files are counted by Spark; in local
    JSON Lines files they are read as the Python reader reads them.
    """
    settings = settings or ScreenSettings()
    if settings.topics:
        raise EngineSettingError("the Spark engine does not filter by topic: use the Python "
                                 "engine for --topic")
    items = [paths] if isinstance(paths, str | Path) else list(paths)
    remote = [os.fspath(p) for p in items if _is_uri(p)]
    local = [p for p in items if not _is_uri(p)]
    files = expand_inputs(local) if local or not remote else []
    reg = registry.restricted_to(settings.lists) if settings.lists else registry
    run_args = {"command": command, "inputs": inputs,
                "extra_run": {"engine": "spark", **(extra_run or {})}}
    started = datetime.now(UTC).isoformat(timespec="seconds")
    # (a session made here keeps its warehouse folder in a folder of its own, which goes
    # once the session has stopped; the run's own folder is made once Spark has started)
    with _quiet_spark(), owned_temp_dir("tracker-warehouse-", temp_dir) as warehouse:
        spark, own = _session(session, master, spark_conf, warehouse)
        cached: list[Any] = []  # the run's cached tables
        try:
            with owned_temp_dir("tracker-spark-", temp_dir) as tmp:
                staging = _Staging(tmp, files)
                result = _screen(spark, staging, remote, registry, reg, settings,
                                 name_matcher, assessor, progress, run_args, cached)
                result.run["started_at"] = started  # the record was made at the end
                return result
        except BaseException:
            if own:  # stopped part-way (Ctrl-C, an error said in tracker's words): what
                # Spark logs of the tasks it then drops (a dozen lines) is not news
                with contextlib.suppress(Exception):
                    spark.sparkContext.setLogLevel("OFF")
            raise
        finally:
            if own:
                spark.stop()  # with its cached tables
            else:  # a session left running: its memory given back
                for df in cached:
                    with contextlib.suppress(Exception):
                        df.unpersist()


def _uri(p: Path) -> str:
    """A staged file's URI: the link's own name (which says its compression), not its
    target's."""
    return Path(os.path.abspath(p)).as_uri()


def _source(spark: Any, staging: _Staging, remote: Sequence[str]) -> Any:
    """``src``: one row per line of text (``path``, ``blk``: the byte where Spark's split of
    the file starts, ``rn``: a row ID, in line order within a split, ``line``)."""
    from pyspark.sql import functions as F

    def tagged(df: Any, line: Any) -> Any:
        return df.select(F.col("_metadata.file_path").alias("path"),
                         F.col("_metadata.file_block_start").alias("blk"),
                         F.monotonically_increasing_id().alias("rn"), line.alias("line"))

    texts = [_uri(p) for _, p in staging.jsonl]
    texts += [u for u in remote if not u.lower().endswith(".parquet")]
    tables: list[str] = []
    for i, p in staging.parquet:  # named after the JSON Lines files: read after them
        link = staging.folder / f"p{i:06d}.parquet"
        if not link.exists():
            link.symlink_to(p.resolve())
        tables.append(_uri(link))
    tables += [u for u in remote if u.lower().endswith(".parquet")]
    parts = []
    if texts:
        parts.append(tagged(spark.read.text(texts), F.col("value")))
    if tables:
        df = spark.read.parquet(*tables)
        cols = [F.col(c) for c in df.columns]
        parts.append(tagged(df, F.to_json(F.struct(*cols), {"ignoreNullFields": "false"})))
    out = parts[0]
    for more in parts[1:]:
        out = out.unionByName(more)
    return out


def _screen(spark: Any, staging: _Staging, remote: Sequence[str], registry: Registry,
            reg: Registry, settings: ScreenSettings, name_matcher: object | None,
            assessor: Callable[[Finding, Work], Finding] | None, progress: Progress | None,
            run_args: dict[str, Any], cached: list[Any]) -> ScreenResult:
    from py4j.protocol import Py4JError
    from pyspark.errors import PySparkException

    staging.stage()
    job = _Screening(Matcher(reg, name_matcher=name_matcher), settings, assessor)
    try:
        if progress is not None:
            progress("read", 0, None)
        for q in prelude_sql():
            spark.sql(q)
        recs = _read(spark, staging, remote, cached)
        mixed = [i for i in (_local_index(staging, r["path"]) for r in spark.sql(
            "SELECT DISTINCT path FROM recs WHERE status = 'envelope'").collect()) if i >= 0]
        if mixed:  # list responses inside a works file: read those files as documents
            recs.unpersist()
            staging.stage(documents=mixed)
            recs = _read(spark, staging, remote, cached)
        since = settings.since.isoformat() if settings.since else None
        until = settings.until.isoformat() if settings.until else None
        # a snapshot part's partition, newest first (its date's digits turned 9 - d, so
        # the smallest is the newest); "" for a staged local file, named in input order
        newest = ("translate(regexp_extract(path, 'updated_date=([0-9-]+)/', 1), "
                  "'0123456789', '9876543210')")
        spark.sql(f"SELECT min_by(rn, struct({newest}, path, blk, rn)) AS rn FROM recs "
                  "WHERE status = 'ok' GROUP BY wid").createOrReplaceTempView("firsts")
        readw = spark.sql("SELECT r.* FROM recs r LEFT SEMI JOIN firsts f ON r.rn = f.rn "
                          f"WHERE coalesce({window_sql(since, until)}, true)")
        readw.createOrReplaceTempView("readw")
        row = spark.sql(counts_sql(AUTHS)).collect()[0]
        counts = {k: int(v or 0) for k, v in row.asDict().items()}
        counts["works_skipped"] += sum(staging.staged_skips.values())
        if progress is not None:
            progress("read", counts["works_read"], counts["works_read"])
        keys = _Keys()
        _names_probe(name_matcher, keys)  # sets keys.any_text for a matcher that cannot say
        cand = _candidates(spark, reg, name_matcher, keys, progress)
        findings, flagged, tally = _screen_candidates(spark, cand, job, keys, progress,
                                                      cached)
        result = screen((), registry=registry, settings=settings, name_matcher=name_matcher,
                        **run_args)
        result.run["engine_reader"] = "Spark from_json, each record from its text"
        skipped = _skipped(spark, staging) if counts["works_skipped"] else []
    except (PySparkException, Py4JError) as exc:
        full = _NO_SPACE.search(str(exc))
        if full is not None:  # the machine, not the files: said at once
            raise EngineDiskError(
                f"the Spark engine ran out of disk space ({full.group(0)}): free space in "
                f"its local folder (spark.local.dir; by default in the system's temporary "
                f"folder, TMPDIR), or point it at a disk with room") from exc
        _reader_error(staging.files)
        raise EngineError(f"the Spark engine failed: {exc}") from exc
    _patch_run(result.run, counts, skipped, tally)
    if progress is not None:
        progress("screen", counts["works_read"], counts["works_read"])
    return ScreenResult(findings=findings, works=flagged, run=result.run,
                        subjects=result.subjects)


def _read(spark: Any, staging: _Staging, remote: Sequence[str], cached: list[Any]) -> Any:
    """Create the views ``src`` and ``recs``.

    ``recs`` is checkpointed: every later step reads it, and Spark refuses an aggregate over
    a scalar subquery of rows whose ``rn`` comes from ``monotonically_increasing_id`` (not
    deterministic to its planner) unless the rows are materialised first.  A checkpoint
    folder set on the context (``sc.setCheckpointDir``: on a cluster, one in shared
    storage) makes it survive a lost executor; without one it is kept by the executors.
    """
    _source(spark, staging, remote).createOrReplaceTempView("src")
    df = spark.sql(recs_sql())
    if spark.sparkContext.getCheckpointDir():
        recs = df.checkpoint(eager=True)
    else:
        recs = df.localCheckpoint(eager=True)
    cached.append(recs)
    recs.createOrReplaceTempView("recs")
    return recs


def _local_index(staging: _Staging, path: str) -> int:
    """The input's index of a staged ``path`` (``.../f000003.jsonl.gz``: 3); -1 for a
    file given as a URI."""
    folder, _, name = str(path).rpartition("/")
    if not folder.endswith(staging.folder.name) or not name[1:7].isdigit():
        return -1
    return int(name[1:7])


def _candidates(spark: Any, reg: Registry, name_matcher: object | None, keys: _Keys,
                progress: Progress | None) -> Any:
    """The works that can hold a tie (``rn``, ``wid``); ``keys`` filled with what was found
    listed or named."""
    spark.sql(f"SELECT rn, a FROM {AUTHS}").createOrReplaceTempView("auths")
    spark.sql("SELECT rn, i FROM auths LATERAL VIEW explode(a.institutions) t AS i"
              ).createOrReplaceTempView("insts")
    kinds = ["i", "r"] + (["s"] if name_matcher is not None else [])
    spark.sql(" UNION ALL ".join(f"SELECT * FROM ({KEYS[k]})" for k in kinds)
              ).createOrReplaceTempView("keys")
    distinct = spark.sql("SELECT DISTINCT kind, k FROM keys WHERE k IS NOT NULL")
    hits = distinct.mapInPandas(_resolver(reg, name_matcher),
                                "kind STRING, k STRING, key STRING").collect()
    for h in hits:
        {"i": keys.ids, "r": keys.rors, "s": keys.texts}[h["kind"]].add(h["key"])
        keys.raw.add(h["k"])
    if progress is not None:  # the keys found listed or named (the others are not counted)
        progress("keys", len(hits), len(hits))
    spark.createDataFrame([(h["kind"], h["k"]) for h in hits], "kind STRING, k STRING"
                          ).createOrReplaceTempView("hits")
    cand0 = ("SELECT k.rn FROM keys k LEFT SEMI JOIN hits h "
             "ON k.kind = h.kind AND k.k = h.k")
    if keys.any_text:
        cand0 += " UNION ALL SELECT rn FROM readw WHERE n_auth > 0"
    return spark.sql(f"SELECT DISTINCT c.rn, r.wid FROM ({cand0}) c JOIN recs r "
                     "ON c.rn = r.rn")


def _screen_candidates(spark: Any, cand: Any, job: _Screening, keys: _Keys,
                       progress: Progress | None, cached: list[Any], *,
                       in_memory: int = IN_MEMORY, folder: str | Path | None = None
                       ) -> tuple[SpooledFindings, PackedWorks, _Tally]:
    """Screen the candidate records on the executors; findings in the DuckDB engine's
    order, past ``in_memory`` on disk (:class:`~tracker.findings.SpooledFindings`),
    counted as they come (:class:`~tracker.engine.duck._Tally`)."""
    cand = cand.persist()
    cached.append(cand)
    cand.createOrReplaceTempView("cand")
    # the candidates are few beside the lines read: sent to every task, the lines are read
    # where they are (a shuffle join would move every line of the input)
    hint = "/*+ BROADCAST(c) */ " if cand.count() <= BROADCAST_ROWS else ""
    lines = spark.sql(f"SELECT {hint}s.rn, s.line, c.wid FROM src s JOIN cand c "
                      "ON s.rn = c.rn")
    parts = max(1, spark.sparkContext.defaultParallelism)
    answers = lines.repartition(parts, "rn").rdd.mapPartitions(_screener(job, keys))
    findings = SpooledFindings(key=finding_order, in_memory=in_memory, folder=folder)
    tally = _Tally()
    flagged = PackedWorks(in_memory=_WORKS_IN_MEMORY, folder=folder)
    done = 0
    # the findings are long-lived and hold no cycles (as in screening); past the findings
    # held, finish() reads them all back to merge them
    with collector_paused():
        for n, found, works in answers.collect():  # one job (a task per core)
            findings.extend(found)
            tally.add(found)
            flagged.add_packed(works)
            done += n
            if progress is not None:
                progress("screen", done, None)
        gc.freeze()  # out of the collector's sight: it would scan them on every pass
        return findings.finish(), flagged.sorted(), tally


def _skipped(spark: Any, staging: _Staging) -> list[dict[str, str]]:
    """Up to :data:`MAX_SKIPPED_LISTED` skipped records, as the Python path lists them.

    Local JSON Lines files are read again by the DuckDB engine's
    :func:`~tracker.engine.duck._line_skips` (line numbers as the Python reader counts
    them; a file cut off mid-record is refused).  In other files the line (or Parquet row)
    is counted by Spark: the rows of the file's earlier splits, then the row's place in
    its own split.

    Raises
    ------
    tracker.sources.files.TruncatedWorksFile
        A local JSON Lines file's last line is cut off mid-record.
    """
    rows = spark.sql(f"""
WITH ends AS (SELECT max_by(rn, struct(blk, rn)) AS rn FROM recs GROUP BY path)
SELECT b.path, b.blk, b.rn, b.status, s.line, b.rn IN (SELECT rn FROM ends) AS last FROM (
  SELECT * FROM (
    SELECT path, blk, rn, status,
           row_number() OVER (PARTITION BY path ORDER BY blk, rn) AS k
    FROM recs WHERE status <> 'ok') WHERE k <= {MAX_SKIPPED_LISTED}) b
JOIN src s ON s.rn = b.rn ORDER BY b.path, b.blk, b.rn""").collect()
    by_path: dict[str, list[Any]] = defaultdict(list)
    for r in rows:
        by_path[str(r["path"])].append(r)
    found: dict[int, list[dict[str, str]]] = {}  # local files by index; remote after
    remote: list[dict[str, str]] = []
    documents = {i for i, n in staging.staged_skips.items() if n}
    for path, bad in sorted(by_path.items()):
        i = _local_index(staging, path)
        f = staging.files[i] if i >= 0 else None
        if f is not None and f.kind == "document":
            documents.add(i)
        elif f is not None and f.kind == "jsonl" and not path.endswith(".parquet"):
            found[i] = [s.to_json() for s in _line_skips(
                f, [r["line"].encode("utf-8") for r in bad],
                bad[-1]["last"] and bad[-1]["status"] == "json")]
        else:
            where = _places(spark, path, bad)
            name = str(f.path) if f is not None else path
            out = found.setdefault(i, []) if i >= 0 else remote
            for r, place in zip(bad, where, strict=True):
                why = (_REASONS.get(r["status"], r["status"]) if path.endswith(".parquet")
                       else _reason(r["line"].encode("utf-8")) or "not a work")
                out.append(SkippedRecord(name, place, why).to_json())
    for i in documents:  # as the Python reader lists them
        found[i] = [item.to_json() for item in read_works(staging.files[i].path)
                    if isinstance(item, SkippedRecord)]
    out = [s for i in sorted(found) for s in found[i]] + remote
    return out[:MAX_SKIPPED_LISTED]


def _places(spark: Any, path: str, bad: Sequence[Any]) -> list[str]:
    """``line N`` (``row N`` in Parquet, from 0) of each row in ``bad``, counted by Spark."""
    splits = spark.sql(f"SELECT blk, min(rn) AS first, count(*) AS n FROM src "
                       f"WHERE path = {_slit(path)} GROUP BY blk ORDER BY blk").collect()
    before: dict[int, tuple[int, int]] = {}
    total = 0
    for s in splits:
        before[int(s["blk"])] = (total, int(s["first"]))
        total += int(s["n"])
    out = []
    for r in bad:
        earlier, first = before[int(r["blk"])]
        n = earlier + int(r["rn"]) - first
        out.append(f"row {n}" if path.endswith(".parquet") else f"line {n + 1}")
    return out

