"""A screening run, end to end: inputs -> subjects -> works -> screen -> record.

This is the one place that puts a run together, for the command line, notebooks and any
later server alike: a :class:`RunRequest` goes in, a :class:`RunOutcome` comes out, and
progress is reported through a callback.  The CLI only parses options and prints.

A run is recorded in the case file as ``running`` when it starts and as ``finished``,
``failed`` or ``interrupted`` (with the reason) when it ends; a process that is killed
leaves it ``running``.  Only finished runs are compared with ("changes since the previous
run") or listed as the latest.

Examples
--------
>>> import tempfile
>>> from pathlib import Path
>>> import tracker
>>> from tracker.runs import RunRequest, run
>>> d = Path(tempfile.mkdtemp())
>>> done = run(RunRequest(works=(tracker.demo_works_path(),), db=d / "case.db",
...                       out=d / "report"))
>>> done.status, done.run_id, done.previous_run_id, done.result.run["counts"]["works_read"]
('finished', 1, None, 71)
>>> again = run(RunRequest(works=str(tracker.demo_works_path()), db=d / "case.db"))
>>> again.previous_run_id, again.result.run["diff"]["counts"]["new"]
(1, 0)
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import glob
import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

from tracker import engine
from tracker.frameworks import Framework, FrameworkError, available_frameworks, load_framework
from tracker.records import Work, parse_work
from tracker.risk import Finding
from tracker.screening import ScreenResult, ScreenSettings, SubjectSpec, screen, screen_shares
from tracker.skipped import SkippedRecord
from tracker.store import CaseFileError, Store, WorksPacker
from tracker.watchlists import Registry, load_registry

__all__ = [
    "DEFAULT_OPENALEX_URL",
    "ApiRun",
    "FrameworkSetup",
    "NoUsableWorks",
    "ProgressCallback",
    "ProgressEvent",
    "RunEnvironmentError",
    "RunInputError",
    "RunOutcome",
    "RunRequest",
    "fetch_progress_callbacks",
    "keep_run",
    "load_run_registry",
    "name_matcher_for",
    "prepare_api_run",
    "run",
    "setup_framework",
]

DEFAULT_OPENALEX_URL = "https://api.openalex.org"
STRATEGIES = ("full", "prefilter")


class RunInputError(ValueError):
    """The request or one of its inputs cannot be used: nothing useful can be screened.
    The message names the input and what to change."""


class NoUsableWorks(RunInputError):
    """The works files hold no OpenAlex work at all (an authors file, an error page, a
    roster nobody in it can be found by identifier): screening them would say nothing."""


class RunEnvironmentError(OSError):
    """The machine cannot do what was asked: a full or read-only disk, a report folder that
    cannot be written.  The message says what to do."""


@dataclass(frozen=True)
class ProgressEvent:
    """One progress report: ``stage`` (``screen``, ``fetch``, ``calls``; the engines'
    ``read`` and ``keys``, distinct keys looked up; ``case`` for the findings written to
    the case file, ``keep`` for the works of a file run kept in it when they are read
    again, ``report`` for the report folder's files), how many
    ``unit`` are done of ``total`` (None: unknown), and a ``note`` to show instead of the
    stage name.  The DuckDB engine's ``read`` counts megabytes of the input files (unit
    ``MB``) while DuckDB reads them, then the works read; its ``screen`` counts the works
    that may hold a tie (the others need no Python), then every work read."""

    stage: str
    done: int
    total: int | None = None
    unit: str = "works"
    note: str = ""


#: A memory size DuckDB reads (``memory_limit``): a number and a unit, 1000 or 1024 based.
_MEMORY_SIZE = re.compile(r"\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)", re.IGNORECASE)

#: ``progress(event)``: called from the running thread, often; keep it cheap.
ProgressCallback = Callable[[ProgressEvent], None]


@dataclass(frozen=True)
class RunRequest:
    """Everything one screening run needs, already parsed (dates are dates).

    Give saved works (``works``) or what to fetch from OpenAlex (``orgs``, ``authors``,
    ``roster``).  With ``works``, ``orgs``/``authors`` mark whose affiliations are the
    subject's own and ``roster`` names the people to screen in them.

    Parameters
    ----------
    works : tuple of Path
        OpenAlex works files (JSON Lines, plain or gzip, a saved list response, one work).
    orgs, authors : tuple of str
        ROR or OpenAlex institution IDs; ORCIDs or OpenAlex author IDs.
    roster, confirm : Path, optional
        A roster CSV of people; a CSV of confirmed profiles (``person,openalex_id``).
    watchlists : tuple of Path
        The user's own watchlists (CSV or YAML), used like the bundled lists.
    since, until : date, optional
        Publication-date window.
    lists : tuple of str
        Only these list codes (empty: all).
    topics : tuple of str
        Keep only works on these subjects (words, or OpenAlex topic/keyword IDs).
    names : bool, default True
        Also match institution names in raw affiliation strings.
    fuzzy_threshold : float, default 92.0
    strategy : str, default ``full``
        ``full`` or ``prefilter`` when fetching (saved files are always read whole).
    framework : str, default ``none``
        A framework name (:func:`tracker.frameworks.available_frameworks`).
    as_of : date, optional
        Review date for the framework (default today when a framework is chosen).
    lookback_years : int, optional
        A look-back window; alone it selects the ``lookback`` framework.
    openalex_url, api_key, cache_dir, refresh
        Where and how to fetch (``api_key`` is never written anywhere).
    db : Path, optional
        The case file (default :func:`tracker.home.case_file_path`).
    record : bool, default True
        Record the run in the case file (False: nothing is kept, no diff).
    out : Path, optional
        Write the report folder here.
    formats : tuple of str, optional
        Only these finding files in the report folder (:data:`tracker.exports.FORMATS`
        names: csv, xlsx, parquet, jsonl, json, network; empty: none); report.html and
        run.json are always written.  None (the default): every one.
    command : tuple of str
        How the run was asked for, for the run record.
    processes : bool, default True
        Read one large works file in one process per core.
    registry_version : str, optional
        The registry version to screen against (a number, an ID or ``current``; see
        :class:`tracker.registry_versions.VersionStore`); default the version in force.
    keep_works : bool, default True
        Keep the works read from files or fetched from OpenAlex with the recorded run, so
        ``tracker rescreen`` can screen them again against a newer registry with no API
        call.
    engine : str, default ``auto``
        How works files are screened: ``duckdb`` (:func:`tracker.engine.screen_files`; also
        Parquet), ``python``, or ``auto`` (DuckDB unless the run has subjects or topics; see
        :func:`tracker.engine.choose_engine`).  ``works`` may name globs and folders (the
        OpenAlex snapshot layout) with either engine.  ``spark``
        (:func:`tracker.engine.screen_spark`) runs the DuckDB engine's plan on Apache Spark;
        it is taken only when asked for.
    spark_master : str, optional
        With the spark engine: the Spark master (default: the active session's, else
        ``local[*]``, every core of this machine).
    engine_memory : str, default ``1GB``
        With the duckdb engine: the memory DuckDB may use before it spills to disk (a size
        such as ``512MB`` or ``4GB``).  More lets the run's peak rise by as much where
        DuckDB needs it, and is faster there: 1,000,000 synthetic works end to end from
        Parquet, 1 GB 170.1 s (its row groups then read on one thread) and 2.63 GB for the
        process tree, 2 GB 144.6 s and 3.27 GB; from JSON Lines, 1 GB 149.4-153.3 s and
        2.4-2.6 GB, 4 GB 143.4 s and 2.55 GB (benchmarks/README.md).
    """

    works: tuple[Path, ...] = ()
    orgs: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    roster: Path | None = None
    confirm: Path | None = None
    watchlists: tuple[Path, ...] = ()
    since: date | None = None
    until: date | None = None
    lists: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    names: bool = True
    fuzzy_threshold: float = 92.0
    strategy: str = "full"
    framework: str = "none"
    as_of: date | None = None
    lookback_years: int | None = None
    openalex_url: str = DEFAULT_OPENALEX_URL
    api_key: str | None = field(default=None, repr=False)
    cache_dir: Path | None = None
    refresh: bool = False
    db: Path | None = None
    record: bool = True
    out: Path | None = None
    command: tuple[str, ...] = ()
    processes: bool = True
    registry_version: str | None = None
    keep_works: bool = True
    engine: str = "auto"
    spark_master: str | None = None
    engine_memory: str = "1GB"
    formats: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        # paths and codes given as plain strings or lists (a notebook, a web form) are fine
        def paths(value: Any) -> tuple[Path, ...]:
            return tuple(Path(v) for v in ((value,) if isinstance(value, str | Path)
                                           else value))

        def texts(value: Any) -> tuple[str, ...]:
            return (value,) if isinstance(value, str) else tuple(value)

        for name in ("works", "watchlists"):
            object.__setattr__(self, name, paths(getattr(self, name)))
        for name in ("orgs", "authors", "lists", "topics", "command"):
            object.__setattr__(self, name, texts(getattr(self, name)))
        if self.formats is not None:
            object.__setattr__(self, "formats", texts(self.formats))
        for name in ("roster", "confirm", "cache_dir", "db", "out"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, Path):
                object.__setattr__(self, name, Path(value))

    @property
    def fetches(self) -> bool:
        """True when works come from OpenAlex rather than from files."""
        return not self.works

    @property
    def reads_in_shares(self) -> bool:
        """True when screening may fork processes (one large works file): a progress
        display must then not redraw from a thread of its own."""
        return bool(self.works) and self.roster is None and self.confirm is None

    @property
    def keeps_file_works(self) -> bool:
        """True when the works of the files are kept in the case file for ``tracker
        rescreen`` (a roster run screens only its people's authorships in the files,
        which a rescreen of every stored work would not repeat: not kept)."""
        return (self.keep_works and self.record and bool(self.works) and self.roster is None
                and self.confirm is None)

    def check(self) -> None:
        """Refuse a request that cannot run, before anything is read or fetched.

        Raises
        ------
        RunInputError
        """
        if not self.works and not self.orgs and not self.authors and self.roster is None:
            raise RunInputError("give works files, or an organisation, author or roster to "
                                "fetch from OpenAlex")
        if self.strategy not in STRATEGIES:
            raise RunInputError(f"strategy must be full or prefilter, not {self.strategy!r}")
        if self.works and (self.roster is not None or self.confirm is not None) and (
                self.orgs or self.authors):
            raise RunInputError("with works files, give either a roster or organisations/"
                                "authors, not both")
        if self.works and self.confirm is not None and self.roster is None:
            raise RunInputError("confirmations with works files need a roster: the people "
                                "to screen")
        if self.since and self.until and self.since > self.until:
            raise RunInputError(f"since {self.since} is after until {self.until}")
        if not 0 < self.fuzzy_threshold <= 100:
            raise RunInputError("the fuzzy threshold must be between 0 and 100")
        if self.formats is not None:
            from tracker.exports import check_formats

            try:
                check_formats(self.formats)
            except ValueError as exc:
                raise RunInputError(f"--formats: {exc}") from None
        if not _MEMORY_SIZE.fullmatch(self.engine_memory.strip()):
            raise RunInputError(f"engine memory must be a size such as 512MB or 4GB, not "
                                f"{self.engine_memory!r}")
        for f in self.works:
            if not (Path(f).is_file() or Path(f).is_dir() or glob.has_magic(str(f))):
                raise RunInputError(f"{f}: no such file")
        for extra, what in ((self.roster, "roster"), (self.confirm, "confirmation")):
            if extra is not None and not Path(extra).is_file():
                raise RunInputError(f"{extra}: no such {what} file")

    def settings(self) -> ScreenSettings:
        """The screening settings this request asks for (before the framework)."""
        return ScreenSettings(since=self.since, until=self.until,
                              lists=tuple(c.strip().upper() for c in self.lists if c.strip()),
                              topics=tuple(self.topics), name_matching=self.names,
                              fuzzy_threshold=self.fuzzy_threshold,
                              strategy="files" if self.works else self.strategy)


@dataclass
class RunOutcome:
    """What a run gave: the result, how it was recorded, what to tell the user.

    ``messages`` are lines for the user (people to confirm, rows left out, fetch cost);
    ``warnings`` are problems the run went on without.  ``roster`` is the roster screen
    when a roster was screened on saved works.
    """

    result: ScreenResult
    status: str = "finished"
    run_id: int | None = None
    previous_run_id: int | None = None
    paths: dict[str, Path] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    roster: Any = None


# --------------------------------------------------------------------------- registry

def load_run_registry(watchlists: Sequence[Path] = (),
                      warnings: list[str] | None = None,
                      version: str | None = None) -> Registry:
    """The registry version in force (or ``version``; ``tracker lists update`` makes new
    ones, the bundled registry is version 0), with the OpenAlex IDs ``tracker lists
    resolve`` learnt and the user's watchlists merged in.

    Raises
    ------
    tracker.watchlists.RegistryError
        The registry, the registry version or a watchlist cannot be loaded.
    """
    from tracker.registry_versions import VersionStore
    from tracker.resolution import (
        LinkDecisions,
        ResolutionCache,
        apply_link_decisions,
        apply_resolutions,
    )
    from tracker.watchlists import load_user_watchlist

    reg = VersionStore(bundled=load_registry()).load(version)
    try:
        reg = apply_resolutions(reg, ResolutionCache.load().answers)
        reg = apply_link_decisions(reg, LinkDecisions.load())  # the user's reviewed ID links
    except ValueError as exc:
        if warnings is not None:
            warnings.append(f"{exc}; going on without it")
    for wl in watchlists:
        reg = reg.merged_with(load_user_watchlist(wl))
    return reg


def name_matcher_for(reg: Registry, enabled: bool, threshold: float) -> object | None:
    """The raw-string name matcher for ``reg`` (built once per registry and cached), or
    None when name matching is off."""
    if not enabled:
        return None
    from tracker.names import cached_name_matcher

    return cached_name_matcher(reg, fuzzy_threshold=threshold)


# --------------------------------------------------------------------------- frameworks

@dataclass(frozen=True)
class FrameworkSetup:
    """The chosen framework, ready to screen with (``framework`` None: ``none``)."""

    name: str
    framework: Framework | None
    as_of: date | None
    lookback_years: int | None
    assessor: Callable[[Finding, Work], Finding] | None

    def apply(self, settings: ScreenSettings) -> ScreenSettings:
        """The settings with framework, as-of date and look-back filled in."""
        return dataclasses.replace(settings, framework=self.name, as_of=self.as_of,
                                   lookback_years=self.lookback_years)

    def record(self) -> dict[str, Any]:
        """What the run record says about the framework."""
        if self.framework is None:
            return {"name": "none", "note": "no framework: every designation finding is a "
                                            "call for review"}
        return {**self.framework.to_json(),
                "as_of": self.as_of.isoformat() if self.as_of else None,
                "lookback_years": self.lookback_years}


def setup_framework(name: str, as_of: date | None, lookback_years: int | None,
                    registry: Registry) -> FrameworkSetup:
    """Check the framework, as-of date and look-back and build the assessor.

    A look-back without a framework selects the plain ``lookback`` framework.  The as-of
    date defaults to today when a framework is chosen.

    Raises
    ------
    RunInputError
        An unknown framework, or a look-back the framework refuses.

    Examples
    --------
    >>> import tracker
    >>> setup_framework("none", None, 5, tracker.load_registry()).name
    'lookback'
    """
    name = (name or "none").strip().lower()
    if name == "none" and lookback_years is not None:
        name = "lookback"
    if name == "none":
        return FrameworkSetup("none", None, as_of, None, None)
    if name not in available_frameworks():
        raise RunInputError(f"--framework: unknown framework {name!r}; known: none, "
                            f"{', '.join(available_frameworks())}")
    when = as_of or date.today()
    try:
        fw = load_framework(name)
        assessor = fw.assessor(when, lookback_years, registry=registry)
    except FrameworkError as exc:
        raise RunInputError(f"--lookback: {exc}" if lookback_years is not None
                            else f"--framework {name}: {exc}") from None
    return FrameworkSetup(name, fw, when, lookback_years, assessor)


# --------------------------------------------------------------------------- the case file

def _keep_file_works(store: Store, run_id: int, files: Sequence[Path],
                     warnings: list[str],
                     packed: Sequence[tuple[int, bytes]] | None = None, *,
                     progress: ProgressCallback | None = None,
                     total: int | None = None) -> None:
    """Keep the works of a file run with it, for ``tracker rescreen``: ``packed``, the
    pieces the screening's shares packed as they read them
    (:class:`tracker.store.WorksPacker`), or else read once more (the DuckDB engine read
    them in SQL; Parquet by DuckDB: :func:`_file_records`).  Inputs from
    :data:`tracker.engine.AUTO_DUCKDB_BYTES` on are not copied into the case file (it would
    double their size and the run's time): the run then says so.

    Reading them once more takes a while (100,000 generated works: about 20 s), so
    ``progress`` hears of it: stage ``keep``, works kept of ``total`` (the works the run
    read, duplicates and works outside the window included)."""
    from tracker.store import store_packed_works, store_run_works

    if packed is not None:
        store_packed_works(store, run_id, packed)
        return
    inputs = engine.expand_inputs(files)
    if keep_bytes(inputs) >= engine.AUTO_DUCKDB_BYTES:
        warnings.append("the works were not kept in the case file (inputs of "
                        f"{engine.AUTO_DUCKDB_BYTES // 2**20} MB or more, Parquet counted "
                        "uncompressed): `tracker rescreen` cannot screen this run again; "
                        "rerun `tracker screen` instead")
        return
    def tell(done: int) -> None:
        if progress is not None:
            progress(ProgressEvent("keep", done, total, note="works kept for rescreen"))

    shares = _keep_shares(inputs)
    if shares is not None:
        try:
            store_packed_works(store, run_id, _pack_shares(shares, tell))
            return
        except ValueError:  # (should not happen) a piece is not what it says
            pass  # read in one process, as if the file could not be cut
    store_run_works(store, run_id, _counted(
        (w for f in inputs for w in _file_records(f.path, f.kind) if isinstance(w, Work)),
        tell))


def keep_bytes(inputs: Iterable[engine.InputFile]) -> int:
    """The size of works files as the rule on keeping their works counts it: a JSON Lines
    file's bytes on disk (gzip or not), a Parquet file's bytes uncompressed
    (:func:`tracker.engine.parquet_bytes`).

    Why not a Parquet file's size on disk: a million generated works are 258 MB of Parquet
    (1,054 MB as gzip); counted so, they were kept, and the run took 250 s and 4.6 GB
    rather than 126 s and 3.0 GB (reading every work again and storing it).
    """
    return sum(engine.parquet_bytes(f.path) if f.kind == "parquet" else f.path.stat().st_size
               for f in inputs)


#: Inputs of at least this many bytes have their works read again for the case file by
#: two processes (a second interpreter takes about half a second to start and import).
PARALLEL_KEEP_BYTES = 8 << 20


def _keep_shares(inputs: Sequence[engine.InputFile]) -> list[dict[str, Any]] | None:
    """Two consecutive shares of the inputs' records, each as a second process reads it
    (:func:`_share_works`): several files in two runs of consecutive files of about equal
    size; one file, a Parquet file's rows in two halves, a JSON Lines file cut by
    :func:`tracker.sources.files.split_works`.  None where that does not pay or cannot be
    done: small inputs, one core, one file that cannot be cut."""
    from tracker.sources.files import split_works

    if not inputs or (os.cpu_count() or 1) < 2:
        return None
    sizes = [f.path.stat().st_size for f in inputs]
    if sum(sizes) < PARALLEL_KEEP_BYTES:
        return None
    if len(inputs) > 1:
        at, done = 1, sizes[0]  # the first run: files up to about half the bytes
        while at < len(inputs) - 1 and done + sizes[at] <= sum(sizes) / 2:
            done += sizes[at]
            at += 1
        return [{"files": [[str(f.path), f.kind] for f in part]}
                for part in (inputs[:at], inputs[at:])]
    f = inputs[0]
    if f.kind == "parquet":
        n = engine.parquet_rows(f.path)
        if n < 2:
            return None
        return [{"parquet": str(f.path), "rows": [0, n // 2]},
                {"parquet": str(f.path), "rows": [n // 2, n]}]
    if f.kind != "jsonl":
        return None
    parts = split_works(f.path, 2, min_bytes=PARALLEL_KEEP_BYTES)
    if len(parts) != 2:
        return None
    return [{"jsonl": str(x.path), "start": x.start, "stop": x.stop} for x in parts]


def _share_works(share: dict[str, Any]) -> Iterator[Work]:
    """The works of one share of :func:`_keep_shares` (skipped records left out)."""
    from tracker.sources.files import WorksPart

    if "files" in share:
        got: Iterable[Work | SkippedRecord] = (
            w for path, kind in share["files"] for w in _file_records(Path(path), kind))
    elif "parquet" in share:
        got = engine.parquet_works(share["parquet"], rows=tuple(share["rows"]))
    else:
        got = WorksPart(Path(share["jsonl"]), share["start"], share["stop"])()
    return (w for w in got if isinstance(w, Work))


def _pack_shares(shares: list[dict[str, Any]], tell: Callable[[int], None]
                 ) -> list[tuple[int, bytes]]:
    """The works of two shares, packed (:class:`tracker.store.WorksPacker` pieces, in
    order): the second by a second Python process, the first here meanwhile; where the
    second process fails (killed, out of memory), its share is packed here after.

    A fresh interpreter (``python -c``), as for the workbook
    (:func:`tracker.exports._start_xlsx`): the report folder's threads run meanwhile, so
    no fork; ``spawn`` would re-run an analyst's unguarded script.  Its piece comes back
    through a private temporary file.
    """
    import subprocess
    import sys
    import tempfile

    import orjson

    fd, name = tempfile.mkstemp(prefix="tracker-keep-", suffix=".json")  # mode 0600
    payload = Path(name)
    out_fd, out_name = tempfile.mkstemp(prefix="tracker-keep-", suffix=".packed")
    os.close(out_fd)  # the second process writes into it (private, as made here)
    out = Path(out_name)
    proc = None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(orjson.dumps({"share": shares[1], "out": str(out)}))
        package_root = str(Path(__file__).resolve().parents[1])
        code = (f"import gc, sys; gc.disable(); sys.path.insert(0, {package_root!r}); "
                f"from tracker.runs import _keep_worker; _keep_worker({name!r})")
        with contextlib.suppress(OSError, ValueError):
            proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        first = WorksPacker()
        for w in _counted(_share_works(shares[0]), tell):
            first.add(w)
        pieces = [first.done()]
        second: tuple[int, bytes] | None = None
        if proc is not None:
            said, _ = proc.communicate()
            last = said.strip().rsplit(b"\n", 1)[-1].strip()
            if proc.returncode == 0 and last.isdigit():
                second = (int(last), out.read_bytes())
        if second is None:  # no second process, or it failed: the share here
            packer = WorksPacker()
            for w in _share_works(shares[1]):
                packer.add(w)
            second = packer.done()
        tell(pieces[0][0] + second[0])
        return [*pieces, second]
    finally:
        if proc is not None and proc.poll() is None:  # an error or Ctrl-C here
            proc.kill()
            proc.wait()
        payload.unlink(missing_ok=True)
        out.unlink(missing_ok=True)


def _keep_worker(payload: str) -> None:
    """The second process of :func:`_pack_shares`: pack its share's works into the file
    the payload names, and say how many on standard output."""
    import orjson

    job = orjson.loads(Path(payload).read_bytes())
    packer = WorksPacker()
    for w in _share_works(job["share"]):
        packer.add(w)
    n, data = packer.done()
    Path(job["out"]).write_bytes(data)
    print(n)


def _counted(works: Iterable[Work], tell: Callable[[int], None], every: int = 1000
             ) -> Iterator[Work]:
    """``works`` as they are, calling ``tell(done)`` at the start, every ``every`` works
    and at the end."""
    done = 0
    tell(0)
    for w in works:
        yield w
        done += 1
        if not done % every:
            tell(done)
    tell(done)


def _keep_api_works(store: Store, run_id: int, works: Sequence[Work]) -> None:
    """Keep the works an API run fetched with it, for ``tracker rescreen`` (the works as
    they were screened: no second fetch)."""
    from tracker.store import store_run_works

    store_run_works(store, run_id, works)


def keep_run(result: ScreenResult, store: Store, setup: FrameworkSetup | None = None, *,
             run_id: int | None = None,
             progress: Callable[[int], None] | None = None) -> tuple[int, int | None]:
    """Record a run's result in the case file, apply earlier review decisions to its
    findings, and put the diff against the previous finished run of the same screen into
    the run record.  Call it after screening and before the report folder's files that
    read the run record are written (:func:`run` calls it while the finding files are
    written, having given the findings their review statuses first:
    :meth:`Store.apply_reviews`).

    Parameters
    ----------
    result : ScreenResult
    store : Store
    setup : FrameworkSetup, optional
        The framework, for the run record.
    run_id : int, optional
        The ID :meth:`Store.start_run` gave (the run keeps its status); without it the run
        is stored as finished.
    progress : callable, optional
        ``progress(done)``: findings written to the case file so far
        (:meth:`Store.record_run`).

    Returns
    -------
    (run_id, previous_run_id)
    """
    if setup is not None:
        result.run["framework"] = setup.record()
    previous = store.previous_comparable_run(result, before_run_id=run_id)
    run_id = store.record_run(result, run_id=run_id, progress=progress)
    result.run["case_file"] = {"database": str(store.path), "run_id": run_id,
                               "previous_run_id": previous}
    if previous is None:
        result.run["diff"] = {"previous_run": None,
                              "note": "first finished run of this screen in the case file"}
    else:
        d = store.changes(previous, run_id)
        result.run["diff"] = {
            "previous_run": previous, "run": run_id, "counts": d["counts"],
            "new": d["new"], "gone": d["gone"],
            "changed": [c["finding_id"] for c in d["changed"]],
            # decisions made on evidence that has since changed: look again
            "changed_since_review": d["changed_since_review"],
            "changed_fields": d["changed"],
            "gone_rows": d["gone_rows"],
            "registry": d["registry"],
        }
    return run_id, previous


def _check_out_folder(out: Path) -> None:
    """Fail before screening when the report folder cannot be written (without making it:
    a run stopped before the end leaves no empty folder behind)."""
    p = Path(out)
    if p.exists() and not p.is_dir():
        raise RunEnvironmentError(f"--out {p}: a file of that name exists; choose a folder")
    probe = p
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and (not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK)):
        raise RunEnvironmentError(f"--out {p}: cannot write in {probe} (permission denied); "
                                  f"choose a folder you can write")


def _write_folder(result: ScreenResult, out: Path,
                  progress: ProgressCallback | None = None,
                  meanwhile: Callable[[], None] | None = None,
                  formats: tuple[str, ...] | None = None) -> dict[str, Path]:
    """The report folder (``meanwhile``: see :func:`tracker.exports.write_report_folder`);
    an error of the folder's files is a :class:`RunEnvironmentError`, one of ``meanwhile``
    is raised as it is."""
    from tracker.exports import write_report_folder

    def files(stage: str, done: int, total: int | None) -> None:
        assert progress is not None
        progress(ProgressEvent(stage, done, total, unit="files", note="report folder"))

    raised: list[BaseException] = []

    def during() -> None:
        assert meanwhile is not None
        try:
            meanwhile()
        except BaseException as exc:
            raised.append(exc)
            raise

    try:
        return write_report_folder(result, out, progress=None if progress is None else files,
                                   meanwhile=None if meanwhile is None else during,
                                   formats=formats)
    except OSError as exc:
        if raised and exc is raised[0]:
            raise
        raise RunEnvironmentError(f"--out {out}: cannot write the report "
                                  f"({exc.strerror or exc}): {_disk_advice(exc)}") from None


def _disk_advice(exc: OSError) -> str:
    import errno

    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return "free some disk space and run again"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "choose a folder you can write"
    return "check the disk and run again"


# --------------------------------------------------------------------------- subjects

def _parse_subject_ids(orgs: Sequence[str], authors: Sequence[str]
                       ) -> tuple[list[tuple[str, str, str]], list[tuple[str, str, str]]]:
    if not orgs and not authors:  # (the OpenAlex source's import, with pyalex: 0.04 s)
        return [], []
    from tracker.sources.openalex import InputError, parse_author_id, parse_org_id

    try:
        return ([(g, *parse_org_id(g)) for g in orgs],
                [(g, *parse_author_id(g)) for g in authors])
    except InputError as exc:
        raise RunInputError(str(exc)) from None


def _file_records(path: Path, kind: str | None = None) -> Iterable[Work | SkippedRecord]:
    """A works file's records: Parquet by DuckDB (:func:`tracker.engine.parquet_works`),
    the others by the Python reader; ``kind``: what :func:`tracker.engine.sniff` told of
    it (sniffed here when not given)."""
    from tracker.sources.files import read_works

    if (kind or engine.sniff(path).kind) == "parquet":
        return engine.parquet_works(path)
    return read_works(path)


def _iter_files(files: Sequence[Path | engine.InputFile]) -> Iterator[Work | SkippedRecord]:
    for f in files:
        if isinstance(f, engine.InputFile):
            yield from _file_records(f.path, f.kind)
        else:
            yield from _file_records(f)


def _file_shares(files: Sequence[engine.InputFile], parts: int
                 ) -> list[Callable[[], Iterator[Work | SkippedRecord]]]:
    """Several works files in up to ``parts`` shares of consecutive files, of about equal
    size on disk, for :func:`~tracker.screening.screen_shares` (one share below
    :data:`~tracker.sources.files.MIN_SPLIT_BYTES` in all)."""
    from tracker.sources.files import MIN_SPLIT_BYTES

    sizes = [f.path.stat().st_size for f in files]
    total = sum(sizes)
    if parts < 2 or total < MIN_SPLIT_BYTES:
        return [functools.partial(_iter_files, files)]
    groups: list[list[engine.InputFile]] = [[]]
    done = 0
    for f, n in zip(files, sizes, strict=True):
        if groups[-1] and done >= total * len(groups) / parts:
            groups.append([])
        groups[-1].append(f)
        done += n
    return [functools.partial(_iter_files, g) for g in groups]


def local_subjects(orgs: Sequence[str], authors: Sequence[str],
                   files: Sequence[Path]) -> list[SubjectSpec]:
    """Subjects for screening saved files: ROR IDs and ORCIDs are resolved from the files'
    own records (no network).

    Raises
    ------
    RunInputError
        An identifier cannot be read, or no record in the files carries it.
    """
    parsed_orgs, parsed_authors = _parse_subject_ids(orgs, authors)
    ror_to_id: dict[str, str] = {}
    orcid_to_ids: dict[str, set[str]] = {}
    if any(k == "ror" for _, k, _ in parsed_orgs) or any(k == "orcid" for _, k, _ in
                                                        parsed_authors):
        for item in _iter_files(files):
            if isinstance(item, SkippedRecord):
                continue
            for a in item.authorships:
                if a.orcid and a.author_id:
                    orcid_to_ids.setdefault(a.orcid, set()).add(a.author_id)
                for i in a.institutions:
                    if i.ror and i.id:
                        ror_to_id.setdefault(i.ror, i.id)
    subjects: list[SubjectSpec] = []
    for given, kind, value in parsed_orgs:
        oid = ror_to_id.get(value) if kind == "ror" else value
        if oid is None:
            raise RunInputError(f"--org {given}: no record in the given files carries ROR "
                                f"{value}")
        subjects.append(SubjectSpec("org", (oid,), given=given))
    for given, kind, value in parsed_authors:
        ids = tuple(sorted(orcid_to_ids.get(value, ()))) if kind == "orcid" else (value,)
        if not ids:
            raise RunInputError(f"--author {given}: no record in the given files carries "
                                f"ORCID {value}")
        subjects.append(SubjectSpec("author", ids, given=given))
    return subjects


# --------------------------------------------------------------------------- fetching

@dataclass
class ApiRun:
    """What a run fetches from OpenAlex: resolved subjects, people, queries.

    Build it with :func:`prepare_api_run`; iterate :meth:`works`; then
    :meth:`annotate` the run record and show :meth:`messages`.
    """

    source: Any  # tracker.sources.openalex.OpenAlexSource
    strategy: str
    subjects: list[Any]
    queries: list[Any]
    topics: Any  # tracker.sources.openalex.TopicFilter
    people: list[Any] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    inputs: list[dict[str, Any]] = field(default_factory=list)
    blind_spots: list[str] = field(default_factory=list)
    off_topic: int = 0

    def works(self) -> Iterator[dict[str, Any]]:
        """Every fetched work once; topic IDs mixed with words are checked here."""
        for raw in self.source.fetch(self.queries):
            if self.topics.local_ids and not self.topics.keeps(raw):
                self.off_topic += 1
                continue
            yield raw

    def screen_topics(self, topics: tuple[str, ...]) -> tuple[str, ...]:
        """The ``topics`` screening itself should apply (words only, not handled here)."""
        return () if self.topics.has_ids else topics

    def messages(self) -> list[str]:
        """Lines for the user: people to confirm, rows left out, fetch notes, cost."""
        out: list[str] = []
        for p in self.people:
            if p.flags or not p.ids:
                out.extend(p.lines())
        out += [f"left out: {x}" for x in self.problems]
        out += [f"note: {n}" for n in self.source.notes]
        for s in self.subjects:
            if not s.given.startswith("roster line"):  # roster flags are listed above
                out += [f"note: {s.label or s.given}: {n}" for n in s.notes]
        st = self.source.stats
        rep = self.source.report()
        cached = rep["queries_by_status"].get("from cache", 0)
        out.append(
            f"OpenAlex: {rep['works_received']:,} works, {st.calls:,} HTTP calls "
            f"({st.list_calls:,} list calls, estimated cost ${st.cost_usd:.4f} at $0.10 per "
            f"1,000 list calls), {st.cache_hits:,} answers and {cached:,} of "
            f"{len(self.queries):,} queries from the cache"
            + (f" (oldest fetched {rep['oldest_data_fetched_at']}; --refresh to ask again)"
               if cached and rep.get("oldest_data_fetched_at") else "")
            + (f"; strategy {self.strategy}: see 'prefilter cannot see' in the report"
               if self.strategy == "prefilter" else ""))
        return out

    def annotate(self, run: dict[str, Any], topics: Sequence[str] = ()) -> None:
        """Add what fetching did (and could not see) to the run record."""
        run["api"] = {**self.source.report(), "strategy": self.strategy,
                      "topic_filter": self.topics.to_json(),
                      "works_off_topic_local": self.off_topic,
                      "subjects": [s.to_json() for s in self.subjects]}
        if self.topics.has_ids:  # screening was told no topics: the filter ran here
            run.setdefault("settings", {})["topics"] = list(topics)
        gaps = run.setdefault("data_gaps", {})
        if self.strategy == "prefilter":
            run["api"]["strategy_limits"] = list(self.blind_spots)
            gaps["prefilter_cannot_see"] = list(self.blind_spots)
        if self.people:
            run["people"] = [p.to_json() for p in self.people]
            gaps["people_not_screened"] = [f"line {p.row.line}: {p.row.label}"
                                           for p in self.people if not p.ids]
            gaps["people_to_confirm"] = [f"line {p.row.line}: {f}"
                                         for p in self.people for f in p.flags]
        notes = [f"{s.label or s.given}: {n}" for s in self.subjects
                 if not s.given.startswith("roster line") for n in s.notes]
        if notes:
            gaps["subjects_to_confirm"] = notes
        if self.problems:
            gaps["subjects_left_out"] = list(self.problems)
        if self.source.notes:
            gaps["fetch_notes"] = list(self.source.notes)


def prepare_api_run(
    source: Any,
    *,
    orgs: Sequence[str] = (),
    authors: Sequence[str] = (),
    roster: Path | None = None,
    confirm: Path | None = None,
    since: date | None = None,
    until: date | None = None,
    strategy: str = "full",
    registry: Registry | None = None,
    lists: Sequence[str] = (),
    topics: Sequence[str] = (),
) -> ApiRun:
    """Check every identifier, resolve subjects and roster people, and plan the queries.

    Every identifier and file is checked before the first HTTP call.

    Parameters
    ----------
    source : tracker.sources.openalex.OpenAlexSource

    Raises
    ------
    tracker.sources.openalex.InputError
        An identifier cannot be read, or the strategy is unknown.
    tracker.sources.roster.RosterError
        The roster or confirmation file cannot be read.
    tracker.sources.failures.RequestRejected
        Nothing is left to screen (every subject was unknown to OpenAlex).
    """
    from tracker.sources.failures import RequestRejected
    from tracker.sources.files import input_record
    from tracker.sources.openalex import (
        InputError,
        TopicFilter,
        parse_author_id,
        parse_org_id,
        plan_queries,
        prefilter_blind_spots,
        public_url,
    )
    from tracker.sources.roster import (
        Confirmations,
        read_roster,
        remember_confirm_file,
        resolve_roster,
    )

    if strategy not in STRATEGIES:
        raise InputError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
    for g in orgs:
        parse_org_id(g)
    for g in authors:
        parse_author_id(g)
    tf = TopicFilter.parse(topics)
    inputs: list[dict[str, Any]] = []
    rows: list[Any] = []
    problems: list[str] = []
    confirmations = None
    if roster is not None:
        rows, bad = read_roster(roster)
        problems += [f"roster {b}" for b in bad]
        inputs.append(input_record(roster, "roster"))
    if confirm is not None:
        confirmations, bad = remember_confirm_file(confirm)
        problems += [f"confirmation file {b}" for b in bad]
        inputs.append(input_record(confirm, "confirmations"))
    subjects: list[Any] = []
    for option, given, resolve in (("--org", orgs, source.resolve_org),
                                   ("--author", authors, source.resolve_author)):
        for g in given:
            try:
                subjects.append(resolve(g))
            except RequestRejected as exc:  # not found: leave it out, say so, go on
                if exc.status != 404:
                    raise
                problems.append(f"{option} {g}: {exc}")
    people: list[Any] = []
    if rows:
        where = [("openalex", s.ids[0]) for s in subjects if s.kind == "org"]
        people, unresolved = resolve_roster(rows, source, confirmations or Confirmations.load(),
                                            where)
        problems += [f"roster {u}" for u in unresolved]
        subjects += [p.subject for p in people if p.subject is not None]
    if not subjects and not people:
        raise RequestRejected("nothing to screen: " + ("; ".join(problems) or
                                                      "no subject was given"), 404)
    reg = registry.restricted_to(lists) if (registry is not None and lists) else registry
    ids: list[str] = []
    rors: list[str] = []
    no_ids = ror_only = 0
    for e in reg or ():
        ids += [i for i in e.openalex_ids if i.startswith("I")]
        if not e.openalex_ids:
            if e.ror:
                rors.append(e.ror)
                ror_only += 1
            else:
                no_ids += 1
    if strategy == "prefilter" and not ids and not rors:
        source.notes.append("prefilter had nothing to ask for: the lists chosen have no "
                            "OpenAlex IDs or RORs, so no works were fetched; use --strategy "
                            "full to screen by name")
    queries = plan_queries(subjects, since=since, until=until, strategy=strategy,
                           restricted_ids=ids, restricted_rors=rors, topics=tf)
    for s in subjects:
        inputs.append({"kind": "openalex", "base_url": public_url(source.base_url),
                       "subject": s.to_json()})
    return ApiRun(source=source, strategy=strategy, subjects=subjects, queries=queries,
                  topics=tf, people=people, problems=problems, inputs=inputs,
                  blind_spots=prefilter_blind_spots(no_ids, ror_only)
                  if strategy == "prefilter" else [])


# --------------------------------------------------------------------------- screening

@dataclass
class _Screened:
    result: ScreenResult
    messages: list[str] = field(default_factory=list)
    roster: Any = None
    #: the works an API run fetched and screened, kept for ``tracker rescreen``
    works: list[Work] | None = None
    #: the works of the files, packed by the shares that screened them (WorksPacker)
    packed: list[tuple[int, bytes]] | None = None


def _screen_progress(progress: ProgressCallback | None) -> Callable[[str, int, int | None],
                                                                     None] | None:
    if progress is None:
        return None

    def report(stage: str, done: int, total: int | None) -> None:
        if stage == "keys":  # the engines' distinct IDs, RORs and strings looked up
            progress(ProgressEvent(stage, done, total, unit="keys", note="distinct keys"))
        elif stage == "read input":  # the DuckDB engine's read, in bytes of the input
            progress(ProgressEvent("read", _megabytes(done),
                                   None if total is None else _megabytes(total), unit="MB"))
        else:
            progress(ProgressEvent(stage, done, total))

    return report


class _SharePace:
    """A file's share (:func:`tracker.sources.files.split_works`), read with its content
    bytes counted: the ``screen`` bar in percent.

    Why: the shares are cut to about equal sizes and read side by side, one per core, so
    the first share's part read is the run's (the bar's count of works would be the first
    share's alone, of a total no one knows until the end); only the first is paced then
    (``total`` None: percent of itself).  Where they are read one after another here
    (processes cannot be forked), each is paced, counted after the bytes of the shares
    before it (``before``: where it starts) out of the file's (``total``).  Held below 100
    until the screening says it has ended.
    """

    def __init__(self, part: Any, progress: ProgressCallback, *, before: int = 0,
                 total: int | None = None) -> None:
        self.part = part
        self.progress = progress
        self.before = before
        self.size = max(1, part.stop - part.start if total is None else total)
        self.shown = -1

    def __call__(self) -> Iterator[Work | SkippedRecord]:
        return self.part(seen=self.seen)

    def seen(self, n: int) -> None:
        pct = min(99, (self.before + n) * 100 // self.size)
        if pct != self.shown:
            self.shown = pct
            self.progress(ProgressEvent("screen", pct, 100, unit="%"))


def _paced(shares: list[Any], progress: ProgressCallback,
           report: Callable[[str, int, int | None], None] | None
           ) -> tuple[list[Any], Callable[[str, int, int | None], None] | None]:
    """``shares`` read by :class:`_SharePace` where they are a file's shares (the first,
    or, where :func:`tracker.screening.screen_shares` will read them one after another
    here, each), and ``report`` without the first share's count of works (the bar counts
    percent, then, at the end, every work screened); as they were otherwise."""
    from tracker.screening import can_fork
    from tracker.sources.files import WorksPart

    first = shares[0] if shares else None
    if (len(shares) < 2 or not isinstance(first, WorksPart) or first.stop is None
            or report is None or not all(isinstance(s, WorksPart) for s in shares)):
        return shares, report
    inner = report

    def quiet(stage: str, done: int, total: int | None) -> None:
        if stage == "screen" and total is None:
            return
        inner(stage, done, total)

    if can_fork():
        return [_SharePace(first, progress), *shares[1:]], quiet
    # the cuts are content offsets of about equal shares: the last runs to the end of the
    # file, about as long as the first
    total = shares[-1].start + first.stop - first.start
    return [_SharePace(s, progress, before=s.start, total=total) for s in shares], quiet


def _megabytes(n: int) -> int:
    """Bytes as whole megabytes (10**6), rounded up: a read under one shows as 1 MB."""
    return -(-n // 1_000_000)


def _no_usable_works(files: Sequence[Path], skipped: int,
                     first: dict[str, str] | None) -> NoUsableWorks:
    why = f": {first['location']}: {first['reason']}" if first else ""
    names = ", ".join(str(f) for f in files)
    return NoUsableWorks(f"{names}: no usable works ({skipped:,} records read, none an "
                         f"OpenAlex work{why}); is this an OpenAlex works file?")


def _works_met(result: ScreenResult) -> int:
    """Every work record the run's files held: read, duplicate, or set apart by a filter."""
    c = result.run["counts"]
    return sum(int(c.get(k, 0)) for k in ("works_read", "works_out_of_window",
                                           "works_off_topic", "works_not_of_subject",
                                           "works_duplicate"))


def _require_works(files: Sequence[Path], result: ScreenResult) -> None:
    """No OpenAlex work at all in the files: an error, never an empty 'no findings'."""
    used = _works_met(result)
    if not used:
        skipped = result.run["data_gaps"].get("skipped") or []
        raise _no_usable_works(files, result.run["counts"].get("works_skipped", 0),
                               skipped[0] if skipped else None)


def _screen_files(req: RunRequest, reg: Registry, settings: ScreenSettings,
                  nm: object | None, assessor: Any, inputs: list[dict[str, Any]],
                  progress: ProgressCallback | None,
                  found: Sequence[engine.InputFile]) -> _Screened:
    """One large JSON Lines file is read in one share per core (see screen_shares), several
    files in shares of consecutive files; ``found``: the files ``req.works`` names
    (:func:`tracker.engine.expand_inputs`)."""
    from tracker.sources.files import split_works

    files = [f.path for f in found]
    subjects = local_subjects(req.orgs, req.authors, files)
    report = _screen_progress(progress)
    parquet = [f.kind == "parquet" for f in found]
    size = sum(f.stat().st_size for f in files)
    packed: list[tuple[int, bytes]] | None = None
    try:
        chosen = engine.choose_engine(
            req.engine, subjects=bool(subjects), topics=bool(settings.topics),
            size_bytes=size, parquet=any(parquet))
    except engine.EngineSettingError as exc:
        raise RunInputError(str(exc)) from None
    try:
        if chosen == "duckdb":
            result = engine.screen_files(req.works, registry=reg, settings=settings,
                                         name_matcher=nm, progress=report,
                                         command=req.command, inputs=inputs,
                                         assessor=assessor,
                                         memory_limit=req.engine_memory.strip())
        elif chosen == "spark":
            result = engine.screen_spark(req.works, registry=reg, settings=settings,
                                         name_matcher=nm, progress=report,
                                         command=req.command, inputs=inputs,
                                         assessor=assessor, master=req.spark_master)
        else:
            shares = (split_works(files[0], os.cpu_count() or 1)
                      if len(files) == 1 and not parquet[0]
                      else _file_shares(found, os.cpu_count() or 1))
            if progress is not None and req.processes:
                shares, report = _paced(shares, progress, report)
            # the works to keep are packed by the processes that read them (reading the
            # files again on one core took 17 of 21.6 s at 100,000 generated works)
            keep = (req.keeps_file_works
                    and keep_bytes(found) < engine.AUTO_DUCKDB_BYTES)
            result, pieces = screen_shares(
                shares, registry=reg, settings=settings, subjects=subjects,
                name_matcher=nm, progress=report, command=req.command, inputs=inputs,
                assessor=assessor, processes=req.processes,
                sink=WorksPacker if keep else None)
            packed = pieces if keep else None
    except (engine.EngineMemoryError, engine.EngineDiskError) as exc:  # the machine's
        raise RunEnvironmentError(str(exc)) from None  # settings or disk, not a bug
    _require_works(req.works, result)
    return _Screened(result, packed=packed)


def _screen_roster_files(req: RunRequest, reg: Registry, settings: ScreenSettings,
                         nm: object | None, assessor: Any,
                         inputs: list[dict[str, Any]]) -> _Screened:
    """Works files with a roster: people resolved by ORCID/ID in the files, then screened."""
    from tracker.rosters import roster_messages, screen_roster
    from tracker.sources.files import input_record
    from tracker.sources.roster import (
        Confirmations,
        RosterError,
        read_roster,
        remember_confirm_file,
    )

    assert req.roster is not None  # checked by RunRequest.check
    try:
        conf, bad = (remember_confirm_file(req.confirm) if req.confirm is not None
                     else (Confirmations.load(), []))
        rows, problems = read_roster(req.roster)
        for f, kind in ((req.roster, "roster"), (req.confirm, "confirmations")):
            if f is not None:
                inputs.append(input_record(f, kind))
        items = list(_iter_files(req.works))
        if not any(isinstance(w, Work) for w in items):
            first = next((w.to_json() for w in items if isinstance(w, SkippedRecord)), None)
            raise _no_usable_works(req.works, len(items), first)
        rs = screen_roster(items, rows, registry=reg, settings=settings,
                           confirmations=conf, name_matcher=nm, assessor=assessor,
                           command=req.command, inputs=inputs)
    except RosterError as exc:
        raise RunInputError(str(exc)) from None
    rs.problems = list(problems)
    if problems:
        rs.result.run.setdefault("data_gaps", {})["roster_rows_left_out"] = [
            str(b) for b in problems]
    if rows and not any(p.ids for p in rs.people) and not any(
            r.orcid or r.openalex_id for r in rows):
        raise NoUsableWorks(
            f"{req.roster}: no row has an ORCID or OpenAlex author ID and no profile was "
            f"confirmed, so nobody can be found in the works (people are found by "
            f"identifier, never by name); add an orcid or openalex_id column, or --confirm")
    lines = [*roster_messages(rs), *(f"confirmation file {b}: left out" for b in bad)]
    return _Screened(rs.result, lines, rs)


def fetch_progress_callbacks(progress: ProgressCallback | None
                             ) -> tuple[Callable[[str, str, int], None], Callable[[Any], None]]:
    """``(on_call, on_fetch)`` for :class:`~tracker.sources.openalex.OpenAlexSource`: each
    HTTP call and each :class:`~tracker.sources.openalex.FetchProgress` becomes a
    :class:`ProgressEvent` (stages ``calls`` and ``fetch``)."""
    calls = {"n": 0}

    def on_call(kind: str, url: str, status: int) -> None:
        calls["n"] += 1
        if progress is not None:
            progress(ProgressEvent("calls", calls["n"], None, unit="calls",
                                   note="API calls"))

    def on_fetch(p: Any) -> None:
        if progress is not None:
            progress(ProgressEvent("fetch", p.works, p.expected_works, note=p.describe()))

    return on_call, on_fetch


def _screen_api(req: RunRequest, reg: Registry, settings: ScreenSettings, nm: object | None,
                assessor: Any, progress: ProgressCallback | None) -> _Screened:
    from tracker.home import cache_dir
    from tracker.sources.failures import RequestRejected
    from tracker.sources.openalex import InputError, OpenAlexSource
    from tracker.sources.roster import RosterError

    on_call, fetched = fetch_progress_callbacks(progress)

    try:
        source = OpenAlexSource(
            base_url=req.openalex_url, api_key=req.api_key, on_call=on_call,
            cache_dir=req.cache_dir or cache_dir(), refresh=req.refresh, progress=fetched)
        plan = prepare_api_run(
            source, orgs=req.orgs, authors=req.authors, roster=req.roster,
            confirm=req.confirm, since=settings.since, until=settings.until,
            strategy=settings.strategy, registry=reg, lists=settings.lists,
            topics=settings.topics)
    except (InputError, RosterError, RequestRejected, ValueError) as exc:
        raise RunInputError(str(exc)) from None
    subjects = [SubjectSpec(s.kind, s.ids, label=s.label, given=s.given, notes=s.notes)
                for s in plan.subjects]

    kept: list[Work] | None = [] if req.keep_works and req.record else None

    def works() -> Iterable[Work | SkippedRecord]:
        for raw in plan.works():
            try:
                work = parse_work(raw)
            except ValueError as exc:
                yield SkippedRecord("openalex", str(raw.get("id", "?")), str(exc))
                continue
            if kept is not None:  # kept as screened: a rescreen needs no second fetch
                kept.append(work)
            yield work

    result = screen(works(), registry=reg,
                    settings=replace(settings, topics=plan.screen_topics(settings.topics)),
                    subjects=subjects, name_matcher=nm, progress=_screen_progress(progress),
                    command=req.command, inputs=plan.inputs, assessor=assessor)
    plan.annotate(result.run, settings.topics)
    return _Screened(result, plan.messages(), works=kept)


def _screen_request(req: RunRequest, reg: Registry, settings: ScreenSettings,
                    nm: object | None, assessor: Any,
                    progress: ProgressCallback | None) -> _Screened:
    from tracker.sources.files import input_record

    if not req.works:
        return _screen_api(req, reg, settings, nm, assessor, progress)
    found = engine.expand_inputs(req.works)  # globs and folders: their files, in order
    inputs = [input_record(f.path, "file") for f in found]
    # a snapshot folder's manifest, which its parts were checked against (expand_inputs)
    inputs += [{**input_record(Path(m["path"]), "snapshot manifest"),
                "parts": m["parts"], "records": m["records"]}
               for m in engine.snapshot_manifests(req.works)]
    if req.roster is not None:
        return _screen_roster_files(req, reg, settings, nm, assessor, inputs)
    return _screen_files(req, reg, settings, nm, assessor, inputs, progress, found)


def _ended(exc: BaseException) -> tuple[str, str]:
    """How a run that raised ``exc`` ended, for the case file."""
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted", "stopped by Ctrl-C"
    if isinstance(exc, SystemExit):
        return "interrupted", f"stopped (exit {exc.code})"
    from tracker.sources.failures import FetchError

    if isinstance(exc, FetchError) and exc.resumable:
        return "interrupted", f"fetching stopped, resumable: {exc}"[:500]
    return "failed", f"{type(exc).__name__}: {exc}"[:500]


# --------------------------------------------------------------------------- run

def run(request: RunRequest, *, progress: ProgressCallback | None = None,
        registry: Registry | None = None) -> RunOutcome:
    """Run one screening: check the request, compose the registry, screen, record the run
    in the case file (with the diff against the previous finished run of the same screen)
    and write the report folder.

    Parameters
    ----------
    request : RunRequest
    progress : callable, optional
        ``progress(ProgressEvent)``, for a progress display.
    registry : Registry, optional
        Screen against this registry instead of the bundled one (with the resolved IDs and
        ``request.watchlists``).

    Returns
    -------
    RunOutcome

    Raises
    ------
    RunInputError
        The request or an input cannot be used (:class:`NoUsableWorks`: the files hold no
        OpenAlex work).  :class:`tracker.sources.files.WorksFileError` for a works file
        that cannot be read (:class:`~tracker.sources.files.TruncatedWorksFile`: cut off).
    RunEnvironmentError, tracker.store.CaseFileError
        The machine cannot do it: full or read-only disk, unwritable report folder,
        damaged case file.
    tracker.watchlists.RegistryError
        The registry or a watchlist cannot be loaded.
    tracker.sources.failures.FetchError
        Fetching stopped (``resumable``: run the same request again later).
    """
    request.check()
    warnings: list[str] = []
    reg = registry if registry is not None else load_run_registry(
        request.watchlists, warnings, request.registry_version)
    if registry is not None and request.watchlists:
        from tracker.watchlists import load_user_watchlist

        for wl in request.watchlists:
            reg = reg.merged_with(load_user_watchlist(wl))
    settings = request.settings()
    unknown = [c for c in settings.lists if c not in reg.lists]
    if unknown:
        raise RunInputError(f"--lists: unknown list code(s) {', '.join(unknown)}; known: "
                            f"{', '.join(sorted(reg.lists))}")
    fw = setup_framework(request.framework, request.as_of, request.lookback_years, reg)
    settings = fw.apply(settings)
    store = Store(request.db) if request.record else None
    try:
        run_id = (store.start_run(request.command, settings.to_json())
                  if store is not None else None)
        try:
            if request.out is not None:
                _check_out_folder(request.out)
            nm = name_matcher_for(reg, settings.name_matching, settings.fuzzy_threshold)
            screened = _screen_request(request, reg, settings, nm, fw.assessor, progress)
            result = screened.result
            result.run["framework"] = fw.record()
            previous = None

            n = len(result.findings)

            def case_progress(done: int) -> None:
                assert progress is not None
                progress(ProgressEvent("case", done, n, unit="findings", note="case file"))

            def record() -> None:  # the run, into the case file
                nonlocal run_id, previous
                assert store is not None
                run_id, previous = keep_run(result, store, fw, run_id=run_id, progress=(
                    None if progress is None else case_progress))
                if request.keeps_file_works:
                    _keep_file_works(store, run_id, request.works, warnings, screened.packed,
                                     progress=progress, total=_works_met(result))
                elif request.keep_works and screened.works is not None:
                    _keep_api_works(store, run_id, screened.works)

            if store is not None and request.out is not None:
                # the finding files (review statuses first) are written while the run is
                # recorded; the files that read the run record (its diff), after
                store.apply_reviews(result)
                if progress is not None:  # its bar first: the case file, then the folder
                    case_progress(0)
                paths = _write_folder(result, request.out, progress, meanwhile=record,
                                      formats=request.formats)
            else:
                if store is not None:
                    record()
                paths = (_write_folder(result, request.out, progress,
                                       formats=request.formats)
                         if request.out is not None else {})
        except BaseException as exc:
            if store is not None and run_id is not None:
                status, reason = _ended(exc)
                # the case file itself may be the problem: the original error says so
                with contextlib.suppress(CaseFileError):
                    store.end_run(run_id, status, reason)
            raise
        if store is not None and run_id is not None:
            store.end_run(run_id, "finished")
    finally:
        if store is not None:
            store.close()
    return RunOutcome(result=result, status="finished", run_id=run_id,
                      previous_run_id=previous, paths=paths, messages=screened.messages,
                      warnings=warnings, roster=screened.roster)
