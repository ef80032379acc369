"""The ``tracker`` command line.

The library raises; this module turns every known failure into one clear line on stderr
and an exit code a scheduler can act on:

====  ======================================================================
code  meaning
====  ======================================================================
0     the run completed (with or without findings)
1     unexpected internal error (a bug: please report it; TRACKER_DEBUG=1 shows details)
2     bad input: a missing or unreadable file, not OpenAlex JSON, a bad date or ID
3     fetching stopped and can be resumed (daily allowance spent, API key needed,
      server kept failing): rerun the same command later
4     the registry or a user watchlist cannot be loaded
10    findings exist and ``--fail-on-findings`` was given
====  ======================================================================
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from tracker import __version__
from tracker.demo import demo_works_path
from tracker.records import Work
from tracker.screening import ScreenResult, ScreenSettings, SubjectSpec, screen, screen_shares
from tracker.sources.files import (
    SkippedRecord,
    WorksFileError,
    input_record,
    read_works,
    split_works,
)
from tracker.sources.transport import FetchError, RequestRejected
from tracker.watchlists import Registry, RegistryError, load_registry

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_INPUT = 2
EXIT_RESUMABLE = 3
EXIT_REGISTRY = 4
EXIT_FINDINGS = 10

err = Console(stderr=True, highlight=False)
out = Console(highlight=False)

#: How every tracker command group behaves: plain help (no rich markup), -h and --help, no
#: shell-completion options, and no pretty tracebacks (a failure is one line, see fail()).
APP_SETTINGS: dict[str, Any] = {
    "add_completion": False,
    "pretty_exceptions_enable": False,
    "rich_markup_mode": None,
    "context_settings": {"help_option_names": ["-h", "--help"]},
}

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


class CliError(Exception):
    """A failure the CLI reports as one line with an exit code."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def fail(message: str, code: int = EXIT_INPUT) -> NoReturn:
    raise CliError(message, code)


def parse_date(value: str | None, option: str) -> date | None:
    """Read an ISO date given on the command line, or fail with one line."""
    if value is None or value == "":
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"{option}: not a date in the form YYYY-MM-DD: {value!r}")


class _ProgressView:
    """Render screening/fetch progress with rich on stderr (only in the CLI)."""

    def __init__(self, enabled: bool, *, threaded: bool = True) -> None:
        self.enabled = enabled
        # rich redraws from a thread of its own; screening files forks a process per share,
        # which it does only while no other thread runs (a fork could copy a held lock), so
        # there the bars are redrawn on each update instead
        self.threaded = threaded
        self._progress: Progress | None = None
        self._tasks: dict[str, Any] = {}

    def __enter__(self) -> _ProgressView:
        if self.enabled:
            self._progress = Progress(
                SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                TextColumn("{task.completed:>8,.0f}{task.fields[unit]}"), TimeElapsedColumn(),
                console=err, transient=True, auto_refresh=self.threaded,
            )
            self._progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.__exit__(None, None, None)

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        if self._progress is None:
            return
        if stage not in self._tasks:
            self._tasks[stage] = self._progress.add_task(stage, total=total, unit=" works")
        self._progress.update(self._tasks[stage], completed=done, total=total,
                              refresh=not self.threaded)

    def fetched(self, p: Any) -> None:
        """Fetch progress: works fetched, calls made, estimated cost (a FetchProgress)."""
        if self._progress is None:
            return
        if "works" not in self._tasks:
            self._tasks["works"] = self._progress.add_task("works fetched", total=None,
                                                           unit=" works")
        self._progress.update(self._tasks["works"], completed=p.works,
                              total=p.expected_works, description=p.describe())

    def fetch_counter(self) -> Callable[[str, str, int], None]:
        calls = {"n": 0}

        def on_call(kind: str, url: str, status: int) -> None:
            calls["n"] += 1
            if self._progress is None:
                return
            if "fetch" not in self._tasks:
                self._tasks["fetch"] = self._progress.add_task("API calls", total=None,
                                                               unit=" calls")
            self._progress.update(self._tasks["fetch"], completed=calls["n"])

        return on_call


def _load_registry(watchlists: Sequence[Path]) -> Registry:
    try:
        reg = load_registry()
        # OpenAlex IDs learnt by `tracker lists resolve` (asked once, kept on disk).
        from tracker.resolution import ResolutionCache, apply_resolutions

        try:
            reg = apply_resolutions(reg, ResolutionCache.load().answers)
            from tracker.resolution import LinkDecisions, apply_link_decisions
            reg = apply_link_decisions(reg, LinkDecisions.load())   # user-reviewed ID links
        except ValueError as exc:
            err.print(f"tracker: warning: {exc}; going on without it", markup=False)
        for wl in watchlists:
            from tracker.watchlists import load_user_watchlist

            reg = reg.merged_with(load_user_watchlist(wl))
        return reg
    except RegistryError as exc:
        fail(str(exc), EXIT_REGISTRY)


def _name_matcher(reg: Registry, enabled: bool, threshold: float) -> object | None:
    if not enabled:
        return None
    try:
        from tracker.names import (  # type: ignore[import-not-found,unused-ignore]
            cached_name_matcher,
        )
    except ImportError:
        return None
    return cached_name_matcher(reg, fuzzy_threshold=threshold)  # built once per registry


def _iter_files(files: Sequence[Path]) -> Iterator[Work | SkippedRecord]:
    for f in files:
        yield from read_works(f)


def _check_files(files: Sequence[Path]) -> list[dict[str, Any]]:
    inputs = []
    for f in files:
        if not f.is_file():
            fail(f"{f}: no such file")
        inputs.append(input_record(f, "file"))
    return inputs


def _local_subjects(orgs: Sequence[str], authors: Sequence[str],
                    files: Sequence[Path]) -> list[SubjectSpec]:
    """Subjects for screening saved files: resolve ROR IDs from the files' own records."""
    from tracker.sources.openalex import InputError, parse_author_id, parse_org_id

    subjects: list[SubjectSpec] = []
    try:
        parsed_orgs = [(g, *parse_org_id(g)) for g in orgs]
        parsed_authors = [(g, *parse_author_id(g)) for g in authors]
    except InputError as exc:
        fail(str(exc))
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
    for given, kind, value in parsed_orgs:
        oid = ror_to_id.get(value) if kind == "ror" else value
        if oid is None:
            fail(f"--org {given}: no record in the given files carries ROR {value}")
        subjects.append(SubjectSpec("org", (oid,), given=given))
    for given, kind, value in parsed_authors:
        ids = tuple(sorted(orcid_to_ids.get(value, ()))) if kind == "orcid" else (value,)
        if not ids:
            fail(f"--author {given}: no record in the given files carries ORCID {value}")
        subjects.append(SubjectSpec("author", ids, given=given))
    return subjects


def _summary(result: ScreenResult, paths: dict[str, Path]) -> None:
    counts = result.run["counts"]
    gaps = result.run["data_gaps"]
    out.print(f"[bold]tracker {__version__}[/bold]: read {counts['works_read']:,} works "
              f"({counts['works_skipped']:,} records skipped), "
              f"{counts['authorships']:,} authorships")
    if result.findings:
        by_list = ", ".join(f"{k} {v}" for k, v in counts["findings_by_list"].items())
        out.print(f"findings: {counts['findings']:,} ties on {counts['works_flagged']:,} works "
                  f"({by_list}) — evidence for human review, not determinations")
    else:
        out.print("findings: none in the data read. This is not a clearance: see the data "
                  "gaps below and in run.json.")
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


def _write(result: ScreenResult, out_dir: Path) -> dict[str, Path]:
    from tracker.exports import write_report_folder

    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        fail(f"--out {out_dir}: cannot create the folder ({exc.strerror})")
    return write_report_folder(result, out_dir)


def _finish(result: ScreenResult, out_dir: Path, fail_on_findings: bool) -> None:
    paths = _write(result, out_dir)
    _summary(result, paths)
    if fail_on_findings and result.findings:
        raise typer.Exit(EXIT_FINDINGS)


def _settings(
    since: str | None, until: str | None, lists: str | None, topic: list[str] | None,
    names: bool, fuzzy_threshold: float, strategy: str,
) -> ScreenSettings:
    s, u = parse_date(since, "--since"), parse_date(until, "--until")
    if s and u and s > u:
        fail(f"--since {s} is after --until {u}")
    codes = tuple(c.strip().upper() for c in lists.split(",") if c.strip()) if lists else ()
    if not 0 < fuzzy_threshold <= 100:
        fail("--fuzzy-threshold must be between 0 and 100")
    return ScreenSettings(since=s, until=u, lists=codes, topics=tuple(topic or ()),
                          name_matching=names, fuzzy_threshold=fuzzy_threshold,
                          strategy=strategy)


def _check_lists(reg: Registry, settings: ScreenSettings) -> None:
    unknown = [c for c in settings.lists if c not in reg.lists]
    if unknown:
        fail(f"--lists: unknown list code(s) {', '.join(unknown)}; known: "
             f"{', '.join(sorted(reg.lists))}")


OutOpt = Annotated[Path, typer.Option("--out", "-o", help="Folder for the report and exports.")]
FrameworkOpt = Annotated[str, typer.Option(
    help="Rules that set each finding's outcome: none, lookback, dod-2023, dod-2025, "
    "dow-2026, ca-strac, nsf-2026 (tracker/data/frameworks/).")]
AsOfOpt = Annotated[str | None, typer.Option(
    "--as-of", help="Review date, YYYY-MM-DD: look-back windows end here and 'listed now' "
    "is judged here (default today).")]
LookbackOpt = Annotated[str | None, typer.Option(
    help="Look-back window like 5y (alone: --framework lookback).")]
DbOpt = Annotated[Path | None, typer.Option(
    "--db", help="Case-file database keeping runs and review decisions (default "
    "$TRACKER_HOME/tracker.db, else ~/.local/share/tracker/tracker.db).")]


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
    from tracker.cli.review import keep_run, setup_framework

    works = demo_works_path()
    inputs = _check_files([works])
    reg = _load_registry(())
    fw = setup_framework(framework, as_of, lookback, reg, db)
    settings = fw.apply(ScreenSettings(strategy="files"))
    with _ProgressView(progress and err.is_terminal) as view:
        result = screen(
            read_works(works), registry=reg, settings=settings,
            name_matcher=_name_matcher(reg, True, settings.fuzzy_threshold),
            assessor=fw.assessor,
            progress=view, command=["tracker", *sys.argv[1:]], inputs=inputs,
        )
    keep_run(result, db, fw)
    _finish(result, out_dir, False)


@app.command("screen")
def screen_cmd(
    works: Annotated[list[Path] | None, typer.Option(
        "--works", "-w", help="OpenAlex works file: JSON Lines (plain or .gz), a saved API "
        "list response, or one work object. Repeatable.")] = None,
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
    = "https://api.openalex.org",
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

    Fetched answers are kept (--cache-dir): a rerun asks nothing again (--refresh does),
    and a run stopped by a spent daily allowance or Ctrl-C resumes where it stopped.
    """
    files = list(works or [])
    orgs, authors = list(org or []), list(author or [])
    if not files and not orgs and not authors and roster is None:
        fail("give --works FILE, or --org ID, --author ID or --roster FILE to fetch from "
             "OpenAlex (see tracker screen --help)")
    if strategy not in ("full", "prefilter"):
        fail(f"--strategy must be full or prefilter, not {strategy!r}")
    if files and (roster is not None or confirm is not None) and (orgs or authors):
        fail("with --works, give either --roster or --org/--author, not both")
    settings = _settings(since, until, lists, topic, names, fuzzy_threshold,
                         "files" if files else strategy)
    reg = _load_registry(list(watchlist or []))
    _check_lists(reg, settings)
    from tracker.cli.review import keep_run, setup_framework

    fw = setup_framework(framework, as_of, lookback, reg, db)
    settings = fw.apply(settings)
    nm = _name_matcher(reg, settings.name_matching, settings.fuzzy_threshold)
    command = ["tracker", *sys.argv[1:]] if sys.argv and "tracker" in sys.argv[0] else \
        ["tracker", "screen"]
    threaded = not files or roster is not None or confirm is not None
    with _ProgressView(progress and err.is_terminal, threaded=threaded) as view:
        if files and (roster is not None or confirm is not None):
            result = _screen_roster_files(files, roster, confirm, settings, reg, nm,
                                          command, fw.assessor)
        elif files:
            inputs = _check_files(files)
            subjects = _local_subjects(orgs, authors, files)
            result = _screen_files(files, reg, settings, subjects, nm, view, command, inputs,
                                   fw.assessor)
        else:
            result = _screen_api(orgs, authors, settings, reg, nm, view, openalex_url, command,
                                 roster=roster, confirm=confirm, refresh=refresh,
                                 cache_dir=cache_dir, assessor=fw.assessor)
    keep_run(result, db, fw)
    _finish(result, out_dir, fail_on_findings)


def _screen_files(files: Sequence[Path], reg: Registry, settings: ScreenSettings,
                  subjects: Sequence[SubjectSpec], nm: object | None, view: _ProgressView,
                  command: list[str], inputs: list[dict[str, Any]],
                  assessor: Callable[..., Any] | None) -> ScreenResult:
    """One large JSON Lines file is read in one share per core (see screen_shares); several
    files are read one after another."""
    if len(files) == 1:
        shares = split_works(files[0], os.cpu_count() or 1)
        result, _ = screen_shares(shares, registry=reg, settings=settings, subjects=subjects,
                                  name_matcher=nm, progress=view, command=command,
                                  inputs=inputs, assessor=assessor)
        return result
    return screen(_iter_files(files), registry=reg, settings=settings, subjects=subjects,
                  name_matcher=nm, progress=view, command=command, inputs=inputs,
                  assessor=assessor)


def _screen_roster_files(
    files: Sequence[Path], roster: Path | None, confirm: Path | None,
    settings: ScreenSettings, reg: Registry, nm: object | None, command: list[str],
    assessor: Callable[..., Any] | None,
) -> ScreenResult:
    """``--works`` with ``--roster``: resolve people by ORCID/ID in the files, screen them."""
    from tracker.sources.roster import (
        Confirmations,
        RosterError,
        remember_confirm_file,
        roster_messages,
        screen_roster,
    )

    if roster is None:
        fail("--confirm with --works needs --roster: the people to screen")
    for f, what in ((roster, "roster"), (confirm, "confirmation")):
        if f is not None and not f.is_file():
            fail(f"{f}: no such {what} file")
    inputs = _check_files(files)
    try:
        conf, bad = (remember_confirm_file(confirm) if confirm is not None
                     else (Confirmations.load(), []))
        for f, kind in ((roster, "roster"), (confirm, "confirmations")):
            if f is not None:
                inputs.append(input_record(f, kind))
        rs = screen_roster(_iter_files(files), roster, registry=reg, settings=settings,
                           confirmations=conf, name_matcher=nm, assessor=assessor,
                           command=command, inputs=inputs)
    except (RosterError, OSError) as exc:
        fail(str(exc))
    for line in [*roster_messages(rs), *(f"confirmation file {b}: left out" for b in bad)]:
        out.print(line, markup=False, soft_wrap=True)
    return rs.result


def _screen_api(
    orgs: Sequence[str], authors: Sequence[str], settings: ScreenSettings, reg: Registry,
    nm: object | None, view: _ProgressView, base_url: str, command: list[str], *,
    roster: Path | None = None, confirm: Path | None = None, refresh: bool = False,
    cache_dir: Path | None = None, assessor: Callable[..., Any] | None = None,
) -> ScreenResult:
    from dataclasses import replace

    from tracker.records import parse_work
    from tracker.sources.cache import default_cache_dir
    from tracker.sources.openalex import InputError, OpenAlexSource, prepare_api_run
    from tracker.sources.roster import RosterError

    try:
        source = OpenAlexSource(
            base_url=base_url, api_key=os.environ.get("OPENALEX_API_KEY"),
            on_call=view.fetch_counter(), cache_dir=cache_dir or default_cache_dir(),
            refresh=refresh, progress=view.fetched)
        plan = prepare_api_run(
            source, orgs=orgs, authors=authors, roster=roster, confirm=confirm,
            since=settings.since, until=settings.until, strategy=settings.strategy,
            registry=reg, lists=settings.lists, topics=settings.topics)
    except (InputError, RosterError, ValueError, OSError) as exc:
        fail(str(exc))
    except RequestRejected as exc:
        fail(str(exc))
    subjects = [SubjectSpec(s.kind, s.ids, label=s.label, given=s.given, notes=s.notes)
                for s in plan.subjects]

    def fetched() -> Iterable[Work | SkippedRecord]:
        for raw in plan.works():
            try:
                yield parse_work(raw)
            except ValueError as exc:
                yield SkippedRecord("openalex", str(raw.get("id", "?")), str(exc))

    result = screen(fetched(), registry=reg,
                    settings=replace(settings, topics=plan.screen_topics(settings.topics)),
                    subjects=subjects, name_matcher=nm, progress=view, command=command,
                    inputs=plan.inputs, assessor=assessor)
    plan.annotate(result.run, settings.topics)
    for line in plan.messages():
        out.print(line, markup=False, soft_wrap=True)
    return result


def _register_subcommands() -> None:
    """Attach sub-apps that live in their own modules (lists, review...)."""
    try:
        from tracker.cli.lists import lists_app
    except ImportError:
        return
    app.add_typer(lists_app, name="lists")
    from tracker.cli.review import diff_cmd, review_app, runs_cmd

    app.add_typer(review_app, name="review")
    app.command("runs")(runs_cmd)
    app.command("diff")(diff_cmd)


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
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        args = ["--help"]
    try:
        rv = app(args=args, prog_name="tracker", standalone_mode=False)
        if rv == 130:  # typer's answer to Ctrl-C in a command (no command returns 130)
            return _interrupted()
        return int(rv) if isinstance(rv, int) else EXIT_OK
    except CliError as exc:
        err.print(f"tracker: error: {exc}", soft_wrap=True, markup=False)
        return exc.code
    except typer.Exit as exc:
        return int(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        return _interrupted()
    except typer.TyperException as exc:  # usage errors: unknown option, missing value...
        err.print(f"tracker: error: {exc.format_message()} (see --help)", soft_wrap=True,
                  markup=False)
        return EXIT_INPUT
    except WorksFileError as exc:
        err.print(f"tracker: error: {exc}", soft_wrap=True, markup=False)
        return EXIT_INPUT
    except RegistryError as exc:
        err.print(f"tracker: error: {exc}", soft_wrap=True, markup=False)
        return EXIT_REGISTRY
    except FetchError as exc:
        err.print(f"tracker: stopped: {exc}", soft_wrap=True, markup=False)
        return EXIT_RESUMABLE if exc.resumable else EXIT_INPUT
    except Exception as exc:  # a bug: one line, details on request
        if os.environ.get("TRACKER_DEBUG"):
            raise
        err.print(f"tracker: internal error: {type(exc).__name__}: {exc} "
                  f"(set TRACKER_DEBUG=1 for details; please report it)", soft_wrap=True,
                  markup=False)
        return EXIT_INTERNAL
