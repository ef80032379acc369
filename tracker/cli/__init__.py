"""The ``tracker`` command line: parse the options, call :func:`tracker.runs.run`, print.

The library raises; this module turns every known failure into one clear line on stderr
and an exit code a scheduler can act on:

the table of codes is in :mod:`tracker.cli.common` (and README's "Exit codes").
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated

import typer

from tracker import __version__
from tracker.cli.common import (
    APP_SETTINGS,
    EXIT_ENVIRONMENT,
    EXIT_FINDINGS,
    EXIT_INPUT,
    EXIT_INTERNAL,
    EXIT_OK,
    EXIT_REGISTRY,
    EXIT_RESUMABLE,
    CliError,
    DbOpt,
    ProgressView,
    err,
    fail,
    out,
    parse_date,
)
from tracker.demo import demo_works_path
from tracker.runs import (
    DEFAULT_OPENALEX_URL,
    RunEnvironmentError,
    RunInputError,
    RunOutcome,
    RunRequest,
    run,
)
from tracker.sources.failures import FetchError
from tracker.sources.files import WorksFileError
from tracker.store import CaseFileError, StoreError
from tracker.watchlists import RegistryError

__all__ = ["EXIT_ENVIRONMENT", "EXIT_FINDINGS", "EXIT_INPUT", "EXIT_INTERNAL", "EXIT_OK",
           "EXIT_REGISTRY", "EXIT_RESUMABLE", "app", "demo_works_path", "main"]

app = typer.Typer(
    name="tracker",
    help=(
        "Screen research collaborations against dated lists of restricted institutions, "
        "from open OpenAlex data.\n\n"
        "A flag is evidence for human review, not a determination; 'no findings' never "
        "means 'cleared'.\n\n"
        "Examples:\n\n"
        "  tracker demo                      # screen the bundled real works, write a report\n\n"
        "  tracker screen --works works.jsonl.gz --out report/\n\n"
        "  tracker screen --org https://ror.org/00wk2mp56 --since 2021-01-01 --out report/\n\n"
        "  tracker lists                     # which lists and editions are bundled"
    ),
    no_args_is_help=True,
    **APP_SETTINGS,
)


def _summary(done: RunOutcome) -> None:
    result, paths = done.result, done.paths
    counts = result.run["counts"]
    gaps = result.run["data_gaps"]
    # the works not read, each kind named where there are any: a window that leaves most
    # works out reads as such, not as a small input
    passed = "".join(f"; {n:,} {why}" for n, why in (
        (counts.get("works_out_of_window", 0), "outside the date window"),
        (counts.get("works_off_topic", 0), "not on the topics asked"),
        (counts.get("works_not_of_subject", 0), "not by the screened subjects"),
        (counts.get("works_duplicate", 0), "repeated")) if n)
    out.print(f"[bold]tracker {__version__}[/bold]: read {counts['works_read']:,} works "
              f"({counts['works_skipped']:,} records skipped{passed}), "
              f"{counts['authorships']:,} authorships")
    if result.findings:
        by_list = ", ".join(f"{k} {v:,}" for k, v in counts["findings_by_list"].items())
        out.print(f"findings: {counts['findings']:,} ties on {counts['works_flagged']:,} works "
                  f"({by_list}) — evidence for human review, not determinations")
    else:
        out.print("findings: none in the data read. This is not a clearance: see the data "
                  "gaps below and in run.json.")
    diff = result.run.get("diff") or {}
    if diff.get("previous_run") is not None:  # the same screen recorded before: what moved
        c, again = diff["counts"], len(diff.get("changed_since_review") or ())
        out.print(f"since run {diff['previous_run']} (the same screen): {c['new']:,} new, "
                  f"{c['gone']:,} gone, {c['changed']:,} changed, {c['unchanged']:,} unchanged"
                  + (f"; {again:,} reviewed finding(s) whose evidence changed" if again
                     else "")
                  + (f" (`tracker diff {diff['previous_run']} {diff['run']}` lists them)"
                     if c["new"] or c["gone"] or c["changed"] else ""), markup=False)
    out.print(
        "data gaps: "
        f"{gaps['authorships_without_institution']:,} authorships without an OpenAlex "
        f"institution ({gaps['authorships_without_institution_with_raw']:,} with a raw "
        f"string only); {gaps['works_without_date']:,} works without a date, "
        f"{gaps['works_year_only']:,} with a year only; "
        f"{gaps['works_authors_truncated']:,} with truncated author lists; "
        f"{gaps['entries_without_listing_date']:,} list entries without a listing date")
    if "report.html" in paths:
        out.print(f"report: {paths['report.html']}", soft_wrap=True, markup=False)
    if paths:
        out.print(_files_line(paths), soft_wrap=True, markup=False)
        from tracker.exports import left_out

        for line in left_out(paths):  # e.g. no findings.xlsx past Excel's row limit
            out.print(f"left out: {line}", soft_wrap=True, markup=False)


#: From this many bytes in a report folder, the summary names ``--formats``.
FORMATS_HINT_BYTES = 1_000_000_000


def _files_line(paths: Mapping[str, Path]) -> str:
    """The summary's line on the report folder: how many files, where, their size in all and
    their names; from :data:`FORMATS_HINT_BYTES`, that ``--formats`` writes fewer (a
    million generated works' folder holds 3.6 GB, most of it the same findings four times
    over).

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> _ = (d / "run.json").write_text("{}")
    >>> _files_line({"run.json": d / "run.json"}).endswith("(2 bytes): run.json")
    True
    """
    from rich.filesize import decimal

    folder = next(iter(paths.values())).parent
    total = sum(p.stat().st_size for p in paths.values())
    hint = ("; --formats writes only the finding files named (csv, xlsx, parquet, jsonl, "
            "json, network or none)" if total >= FORMATS_HINT_BYTES else "")
    return (f"files: {len(paths)} in {folder} ({decimal(total)}{hint}): "
            f"{', '.join(paths)}")


def _parse_lookback(value: str | None) -> int | None:
    from tracker.cli.review import parse_lookback

    return parse_lookback(value)


#: The arguments :func:`main` was given (None: not called through it).
_ARGS: list[str] | None = None


def _command(name: str = "screen") -> tuple[str, ...]:
    """The command as given, for the run record (``tracker rescreen`` shows it to run again):
    the arguments :func:`main` parsed, else the process's own when it is ``tracker``."""
    if _ARGS is not None:
        return ("tracker", *_ARGS)
    return (("tracker", *sys.argv[1:]) if sys.argv and "tracker" in sys.argv[0]
            else ("tracker", name))


def _run(request: RunRequest, progress: bool, fail_on_findings: bool = False) -> None:
    """Run the request with a progress display, then print what it gave."""
    with ProgressView(progress and err.is_terminal,
                      threaded=not request.reads_in_shares) as view:
        done = run(request, progress=view)
    for line in done.warnings:
        err.print(f"tracker: warning: {line}", markup=False, soft_wrap=True)
    for line in done.messages:
        out.print(line, markup=False, soft_wrap=True)
    _summary(done)
    if fail_on_findings and done.result.findings:
        raise typer.Exit(EXIT_FINDINGS)


OutOpt = Annotated[Path, typer.Option("--out", "-o", help="Folder for the report and exports.")]
FrameworkOpt = Annotated[str, typer.Option(
    help="Rules that set each finding's outcome: none, lookback, dod-2023, dod-2025, "
    "dow-2026, ca-strac, nsf-2026 (tracker/data/frameworks/).")]
AsOfOpt = Annotated[str | None, typer.Option(
    "--as-of", help="Review date, YYYY-MM-DD: look-back windows end here and 'listed now' "
    "is judged here (default today).")]
LookbackOpt = Annotated[str | None, typer.Option(
    help="Look-back window like 5y (alone: --framework lookback).")]


@app.command()
def demo(
    out_dir: OutOpt = Path("tracker-report"),
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
    framework: FrameworkOpt = "none",
    as_of: AsOfOpt = None,
    lookback: LookbackOpt = None,
    db: DbOpt = None,
) -> None:
    """Screen the bundled real OpenAlex works and write a report folder.

    The 71 bundled works are real OpenAlex records (CC0) with Chinese institutions,
    Microsoft Research Asia, Beihang or USTC among their authors.

    Example:

        tracker demo --out tracker-report

        tracker demo --framework dow-2026 --as-of 2026-06-01 --out tracker-report
    """
    _run(RunRequest(works=(demo_works_path(),), framework=framework,
                    as_of=parse_date(as_of, "--as-of"), lookback_years=_parse_lookback(lookback),
                    db=db, out=out_dir, command=_command("demo")), progress)


@app.command("screen")
def screen_cmd(
    works: Annotated[list[Path] | None, typer.Option(
        "--works", "-w", help="OpenAlex works file: JSON Lines (plain or .gz), a saved API "
        "list response, or one work object; also a glob "
        "('works/*.gz') or a folder (the OpenAlex snapshot as published, newest "
        "partition first, checked against its works/manifest); or Parquet "
        "(works.parquet). "
        "Repeatable.")] = None,
    org: Annotated[list[str] | None, typer.Option(
        help="Organisation: ROR ID or URL, or OpenAlex institution ID. Repeatable. Without "
        "--works its works are fetched from OpenAlex; with --works it marks whose "
        "affiliations are the subject's own.")] = None,
    author: Annotated[list[str] | None, typer.Option(
        help="Person: ORCID or OpenAlex author ID. Repeatable.")] = None,
    since: Annotated[str | None, typer.Option(help="First publication date, YYYY-MM-DD.")] = None,
    until: Annotated[str | None, typer.Option(help="Last publication date, YYYY-MM-DD.")] = None,
    out_dir: OutOpt = Path("tracker-report"),
    lists: Annotated[str | None, typer.Option(
        help="Only these lists, comma-separated codes (see `tracker lists`).")] = None,
    topic: Annotated[list[str] | None, typer.Option(
        help="Keep only works whose title, topics or keywords mention this. Repeatable. "
        "When fetching, OpenAlex topic IDs (T10206) and keyword IDs "
        "(keywords/deep-learning) are filtered by the server.")] = None,
    names: Annotated[bool, typer.Option(
        "--names/--no-names", help="Also match institution names in raw affiliation "
        "strings.")] = True,
    fuzzy_threshold: Annotated[float, typer.Option(
        help="Fuzzy name-match threshold, 0-100.")] = 92.0,
    openalex_url: Annotated[str, typer.Option(
        envvar="TRACKER_OPENALEX_URL",
        help="OpenAlex-compatible server. The API key is read from OPENALEX_API_KEY.")]
    = DEFAULT_OPENALEX_URL,
    watchlist: Annotated[list[Path] | None, typer.Option(
        help="Your own watchlist (CSV or YAML), used like the bundled lists. "
        "Repeatable.")] = None,
    roster: Annotated[Path | None, typer.Option(
        help="People to screen: CSV with columns name, department, orcid, openalex_id "
        "(and optional institution); see tracker/data/example_roster.csv. Name-only rows "
        "are never screened: their candidate profiles are listed to confirm.")] = None,
    confirm: Annotated[Path | None, typer.Option(
        help="CSV of confirmed profiles (columns person, openalex_id; person = a roster "
        "name or ORCID); remembered in $TRACKER_HOME/confirmed_profiles.json.")] = None,
    strategy: Annotated[str, typer.Option(
        help="full: every work of the subject, matched locally (complete). prefilter: ask "
        "only for works that also have a listed institution (fewer calls; cannot see "
        "raw-string-only ties).")] = "full",
    refresh: Annotated[bool, typer.Option(
        help="Ask OpenAlex again instead of using cached answers.")] = False,
    cache_dir: Annotated[Path | None, typer.Option(
        help="Cache and resumable checkpoints (default $TRACKER_HOME/cache, else "
        "~/.cache/tracker).")] = None,
    fail_on_findings: Annotated[bool, typer.Option(
        help="Exit with code 10 when there are findings (for schedulers).")] = False,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
    framework: FrameworkOpt = "none",
    as_of: AsOfOpt = None,
    lookback: LookbackOpt = None,
    db: DbOpt = None,
    registry_version: Annotated[str | None, typer.Option(
        "--registry", help="Registry version to screen against (number or ID, see "
        "`tracker lists versions`; 0 is the bundled one; default: the one in force).")
    ] = None,
    keep_works: Annotated[bool, typer.Option(
        help="Keep the works read from --works files with the run in the case file, so "
        "`tracker rescreen` can screen them again when a list changes (not for inputs of "
        "256 MB or more, a Parquet file counted uncompressed: the run says so).")] = True,
    record: Annotated[bool, typer.Option(
        help="Record the run in the case file (--db): its changes since the previous run "
        "of the same screen, and review decisions shown in the report. --no-record keeps "
        "nothing there (a one-off screen of a whole snapshot: the case file takes about "
        "2.4 GB a million works); the report folder is written as usual.")] = True,
    engine: Annotated[str, typer.Option(
        help="How --works files are screened: duckdb (any size, bounded memory), python, "
        "or auto (duckdb for inputs of 256 MB or more and for Parquet, unless "
        "--org/--author/--topic need python; python is faster below that); spark (Apache "
        "Spark, local mode or --spark-master: for inputs beyond one machine, slower than "
        "duckdb on one; needs pip install 'tracker[spark]' and Java 17; for object storage "
        "see docs/scale.md).")] = "auto",
    spark_master: Annotated[str | None, typer.Option(
        help="With --engine spark: the Spark master URL (default local[*], every core of "
        "this machine; under spark-submit, the submitted one).")] = None,
    engine_memory: Annotated[str, typer.Option(
        help="With the duckdb engine: the memory DuckDB may use before it spills to disk, "
        "e.g. 2GB; each worker process reading Parquet rows has a DuckDB of its own within "
        "as much. More lets the run's peak rise where DuckDB needs it, and is faster there "
        "(1M works from JSON Lines: 1GB 150 s, 4GB 143 s, both 2.6 GB in all; from Parquet "
        "with 1GB: 134-149 s, 3.3 GB).")] = "1GB",
    formats: Annotated[list[str] | None, typer.Option(
        "--formats", help="Only these finding files in the --out folder, comma-separated "
        "or repeated: "
        "csv, xlsx, parquet, jsonl, json, network (GraphML and GEXF of the flagged "
        "network), or none. report.html and run.json are always written. Default: all "
        "(a million works write about 3.6 GB of them).")] = None,
) -> None:
    """Screen works from files, or fetch an organisation's or person's works from OpenAlex.

    Examples:

        tracker screen --works saved_works.jsonl.gz --out report/

        tracker screen --org https://ror.org/00wk2mp56 --since 2021-01-01 --out report/

        tracker screen --author 0000-0002-1825-0097 --since 2020-01-01 --out report/

        TRACKER_OPENALEX_URL=http://127.0.0.1:8765 tracker screen --org I19820366 -o r/

        tracker screen --roster roster.csv --org I136199984 --strategy prefilter -o r/

        tracker screen --works w.jsonl.gz --roster roster.csv --lookback 5y -o r/

        tracker screen --works w.jsonl --framework dow-2026 --as-of 2026-06-01 -o r/

        tracker screen --works 'snapshot/works/' --engine duckdb --no-keep-works -o r/

        tracker screen --works 'snapshot/works/' --engine spark --no-keep-works -o r/

        tracker screen --works 'snapshot/works/' --no-record -o r/

        tracker screen --works 'snapshot/works/' --formats parquet,csv -o r/

    Fetched answers are kept (--cache-dir): a rerun asks nothing again (--refresh does),
    and a run stopped by a spent daily allowance or Ctrl-C resumes where it stopped.
    """
    since_d, until_d = parse_date(since, "--since"), parse_date(until, "--until")
    if since_d and until_d and since_d > until_d:
        fail(f"--since {since_d} is after --until {until_d}")
    if not works and not org and not author and roster is None:
        fail("give --works FILE, or --org ID, --author ID or --roster FILE to fetch from "
             "OpenAlex (see tracker screen --help)")
    if strategy not in ("full", "prefilter"):
        fail(f"--strategy must be full or prefilter, not {strategy!r}")
    if not 0 < fuzzy_threshold <= 100:
        fail("--fuzzy-threshold must be between 0 and 100")
    if works and (roster is not None or confirm is not None) and (org or author):
        fail("with --works, give either --roster or --org/--author, not both")
    if works and confirm is not None and roster is None:
        fail("--confirm with --works needs --roster: the people to screen")
    if not record and db is not None:
        fail("--no-record keeps nothing in a case file: leave out --db")
    request = RunRequest(
        works=tuple(works or ()), orgs=tuple(org or ()), authors=tuple(author or ()),
        roster=roster, confirm=confirm, watchlists=tuple(watchlist or ()),
        since=since_d, until=until_d,
        lists=tuple(c for c in (lists or "").split(",") if c.strip()),
        topics=tuple(topic or ()), names=names, fuzzy_threshold=fuzzy_threshold,
        strategy=strategy, framework=framework, as_of=parse_date(as_of, "--as-of"),
        lookback_years=_parse_lookback(lookback), openalex_url=openalex_url,
        api_key=os.environ.get("OPENALEX_API_KEY"), cache_dir=cache_dir, refresh=refresh,
        db=db, out=out_dir, command=_command(), registry_version=registry_version,
        keep_works=keep_works, engine=engine, spark_master=spark_master,
        engine_memory=engine_memory, record=record, formats=_parse_formats(formats))
    _run(request, progress, fail_on_findings)


def _parse_formats(values: list[str] | None) -> tuple[str, ...] | None:
    """``--formats``: None (every file), or the names given, comma-separated or repeated
    (checked by the run: :func:`tracker.exports.check_formats`)."""
    if not values:
        return None
    return tuple(f for v in values for f in v.split(","))


def _register_subcommands() -> None:
    """Attach sub-apps that live in their own modules (lists, review...)."""
    try:
        from tracker.cli.lists import lists_app
    except ImportError:
        return
    app.add_typer(lists_app, name="lists")
    from tracker.cli.review import diff_cmd, review_app, runs_cmd
    from tracker.cli.serve import serve_cmd

    app.add_typer(review_app, name="review")
    app.command("runs")(runs_cmd)
    app.command("diff")(diff_cmd)
    from tracker.cli.rescreen import rescreen_cmd

    app.command("rescreen")(rescreen_cmd)
    app.command("serve")(serve_cmd)


_register_subcommands()


def _version_callback(value: bool) -> None:
    if value:
        out.print(f"tracker {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version_callback,
                                          is_eager=True, help="Show the version.")] = False,
) -> None:
    """Screen research collaborations against dated restricted-institution lists."""


def _interrupted() -> int:
    err.print("tracker: interrupted; rerun the same command to go on", markup=False)
    return 130


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: run the CLI and turn every failure into one line and an exit code."""
    global _ARGS
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        args = ["--help"]
    _ARGS = args
    try:
        return _main(args)
    finally:
        _ARGS = None


def _main(args: list[str]) -> int:
    def say(message: object, code: int, what: str = "error") -> int:
        err.print(f"tracker: {what}: {message}", soft_wrap=True, markup=False)
        return code

    try:
        rv = app(args=args, prog_name="tracker", standalone_mode=False)
        if rv == 130:  # typer's answer to Ctrl-C in a command (no command returns 130)
            return _interrupted()
        return int(rv) if isinstance(rv, int) else EXIT_OK
    except CliError as exc:
        return say(exc, exc.code)
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort as exc:
        if isinstance(exc.__cause__, EOFError):  # the framework reads one as the end of input
            return say(f"the input ended early ({exc.__cause__}): a file looks cut off; "
                       "check it and run again", EXIT_INPUT)
        return _interrupted()
    except KeyboardInterrupt:
        return _interrupted()
    except typer.TyperException as exc:  # usage errors: unknown option, missing value...
        return say(f"{exc.format_message()} (see --help)", EXIT_INPUT)
    except (WorksFileError, RunInputError) as exc:
        return say(exc, EXIT_INPUT)
    except RegistryError as exc:
        return say(exc, EXIT_REGISTRY)
    except FetchError as exc:
        return say(exc, EXIT_RESUMABLE if exc.resumable else EXIT_INPUT, "stopped")
    except (RunEnvironmentError, CaseFileError) as exc:
        return say(exc, EXIT_ENVIRONMENT)
    except StoreError as exc:
        return say(f"--db: {exc}", EXIT_INPUT)
    except OSError as exc:  # the machine, not the input: disk full, read-only, permissions
        return say(f"{exc.strerror or exc}"
                   + (f": {exc.filename}" if exc.filename else "")
                   + "; check the disk and the folder's permissions, then run again",
                   EXIT_ENVIRONMENT)
    except Exception as exc:  # a bug: one line, details on request
        if os.environ.get("TRACKER_DEBUG"):
            raise
        return say(f"{type(exc).__name__}: {exc} (set TRACKER_DEBUG=1 for details; please "
                   f"report it)", EXIT_INTERNAL, "internal error")
