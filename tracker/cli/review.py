"""``tracker review``, ``tracker runs`` and ``tracker diff``: the case file on the command line.

Every screening run is kept in the case-file database (``--db``, default
``$TRACKER_HOME/tracker.db``).  Review decisions belong to ties, so they carry over to
later runs; ``diff`` shows what changed between two runs (new ties, gone ties, and ties
whose listing or outcome changed, e.g. after a list update).

Also here: :func:`parse_lookback` for ``--lookback``.  Errors print one line and exit with
code 2 (a case file that cannot be read or written: code 5).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated

import typer

from tracker.cli.common import (
    APP_SETTINGS,
    EXIT_ENVIRONMENT,
    DbOpt,
    ProgressView,
    err,
    fail,
    out,
)
from tracker.store import (
    REVIEW_STATUSES,
    CaseFileError,
    Store,
    StoreError,
    default_db_path,
    run_ended_text,
)

__all__ = ["diff_cmd", "parse_lookback", "review_app", "runs_cmd"]
ReviewerOpt = Annotated[str, typer.Option(
    "--reviewer", envvar="TRACKER_REVIEWER", help="Your name, recorded with each decision "
    "(or set TRACKER_REVIEWER).")]

review_app = typer.Typer(
    help=(
        "Record review decisions on findings: confirm or dismiss (with a reason). Decisions "
        "are kept per tie and carry over to later runs; the full history is kept.\n\n"
        "Examples:\n\n"
        "  tracker review list --status unreviewed\n\n"
        "  tracker review set 3f2a9c0d1e4b5a67 dismissed --reason 'other institution' "
        "--reviewer 'A. Reviewer'\n\n"
        "  tracker review export reviews.xlsx\n\n"
        "  tracker review import reviews.xlsx --reviewer 'A. Reviewer'"
    ),
    no_args_is_help=True,
    **APP_SETTINGS,
)


# --------------------------------------------------------------------------- options

def parse_lookback(value: str | None) -> int | None:
    """``5y`` (or ``5``) → 5; None stays None; anything else fails with one line.

    Examples
    --------
    >>> parse_lookback("5y"), parse_lookback("10"), parse_lookback(None)
    (5, 10, None)
    """
    if value is None or value == "":
        return None
    m = re.fullmatch(r"\s*([1-9][0-9]?)\s*[yY]?\s*", value)
    if m is None:
        fail(f"--lookback: not a number of years like 5y: {value!r}")
    return int(m.group(1))


def _open(db: Path | None) -> Store:
    try:
        return Store(db if db is not None else default_db_path())
    except CaseFileError as exc:
        fail(f"--db: {exc}", EXIT_ENVIRONMENT)
    except StoreError as exc:
        fail(f"--db: {exc}")


# --------------------------------------------------------------------------- review commands

def _run_id(store: Store, run: int | None) -> int:
    if run is not None:
        return run
    latest = store.latest_run_id()
    if latest is None:
        fail(f"no finished run in {store.path} yet; run `tracker demo` or `tracker screen` "
             f"first (see `tracker runs`)")
    return latest


def _warn_unfinished(run_id: int, status: str, reason: str, consequence: str) -> None:
    """One warning line: run ``run_id`` did not finish, so its findings may be incomplete
    (``consequence``: what that means for what is printed)."""
    err.print(f"tracker: warning: run {run_id} {run_ended_text(status, reason)}; its findings "
              f"may be incomplete, so {consequence}", markup=False, soft_wrap=True)


@review_app.command("list")
def review_list(
    run: Annotated[int | None, typer.Option(help="Run ID (default: the latest).")] = None,
    status: Annotated[str | None, typer.Option(
        help="Only this status: unreviewed, confirmed, dismissed or needs_follow_up.")] = None,
    db: DbOpt = None,
) -> None:
    """List a run's findings with their review status.

    Example:

        tracker review list --status unreviewed
    """
    if status is not None and status not in REVIEW_STATUSES:
        fail(f"--status: {status!r} is not one of {', '.join(REVIEW_STATUSES)}")
    with _open(db) as store:
        run_id = _run_id(store, run)
        try:
            ended, why = store.run_status(run_id)
            # counted on the run's keys, then listed as read: a run is never held whole
            _, total = store.findings_where(
                run_id, *(("review_status = ?", [status]) if status else ("", [])), limit=0)
            if ended != "finished":
                _warn_unfinished(run_id, ended, why, "a tie not listed here may only be one "
                                 "it never screened")
            out.print(f"run {run_id}: {total:,} findings"
                      + (f" with status {status}" if status else ""), markup=False)
            for r in store.iter_findings(run_id):
                if status is not None and r["review_status"] != status:
                    continue
                where = r["institution_name"] or r["list_entry_name"]
                out.print(f"{r['finding_id']}  {r['review_status']:<10} "
                          f"v{r['review_version']:<3} {r['list']:<16}  "
                          f"{r['publication_date'] or '?':<10}  {where}  |  "
                          f"{r['outcome'][:90]}", markup=False, soft_wrap=True)
        except StoreError as exc:
            fail(str(exc))


@review_app.command("set")
def review_set(
    finding_id: Annotated[str, typer.Argument(help="The finding's ID (findings.csv).")],
    status: Annotated[str, typer.Argument(
        help="unreviewed, confirmed, dismissed or needs_follow_up.")],
    reviewer: ReviewerOpt = "",
    reason: Annotated[str, typer.Option(help="Why (required to dismiss).")] = "",
    based_on: Annotated[int | None, typer.Option(
        "--based-on", help="The decision version you saw (`review list` shows it); the "
        "decision is refused if someone has changed it since.")] = None,
    db: DbOpt = None,
) -> None:
    """Record a decision on one finding; it applies to every run that finds the same tie.

    Example:

        tracker review set 3f2a9c0d1e4b5a67 dismissed --reason 'other institution'
        --reviewer 'A. Reviewer'
    """
    with _open(db) as store:
        try:
            store.set_review(finding_id, status.strip().lower(), reviewer, reason,
                             based_on=based_on)
        except StoreError as exc:
            fail(str(exc))
    out.print(f"recorded: {finding_id} {status} by {reviewer}", markup=False)


@review_app.command("export")
def review_export(
    path: Annotated[Path, typer.Argument(help="Workbook to write (.xlsx).")],
    run: Annotated[int | None, typer.Option(help="Run ID (default: the latest).")] = None,
    lists: Annotated[list[str] | None, typer.Option(
        "--list", help="Only findings on this list (repeat for several), e.g. "
        "BIS_ENTITY_LIST.")] = None,
    outcome: Annotated[str, typer.Option(
        help="Only findings of this outcome: flag, review or context.")] = "",
    status: Annotated[str, typer.Option(
        help="Only findings with this review status, e.g. unreviewed.")] = "",
    db: DbOpt = None,
) -> None:
    """Write a review workbook: one row per finding, with the decision's version, status,
    reason and reviewer; or only the findings of some lists, an outcome or a review
    status (an import touches only the rows a workbook holds).

    Example:

        tracker review export reviews.xlsx --run 3

        tracker review export flags.xlsx --outcome flag --status unreviewed
    """
    from tracker.reviews import export_workbook
    from tracker.runs import ProgressEvent

    if path.suffix.lower() != ".xlsx":
        fail(f"{path}: the file name must end in .xlsx")
    rows = 0
    with _open(db) as store:
        run_id = _run_id(store, run)
        try:
            with ProgressView(err.is_terminal) as view:
                def progress(read: int, total: int, written: int) -> None:
                    nonlocal rows
                    rows = written
                    view(ProgressEvent("export", read, total, unit="findings",
                                       note="review workbook"))

                export_workbook(store, path, run_id, lists=lists or (), outcome=outcome,
                                status=status, progress=progress)
            ended, why = store.run_status(run_id)
        except StoreError as exc:
            fail(str(exc))
        except OSError as exc:
            fail(f"{path}: cannot write ({exc.strerror})")
    if ended != "finished":
        _warn_unfinished(run_id, ended, why, "a tie not in the workbook may only be one it "
                         "never screened")
    chosen = "; ".join(x for x in (
        f"--list {' '.join(lists)}" if lists else "", f"--outcome {outcome}" if outcome else "",
        f"--status {status}" if status else "") if x)
    if not rows:
        none = (f"no finding of run {run_id} matches {chosen}" if chosen
                else f"run {run_id} has no findings")
        err.print(f"tracker: warning: {none}: the workbook holds its header only",
                  markup=False, soft_wrap=True)
    out.print(f"wrote {path}: {rows:,} finding{'s' * (rows != 1)} of run {run_id}"
              + (f" ({chosen})" if chosen else ""), markup=False, soft_wrap=True)


@review_app.command("import")
def review_import(
    path: Annotated[Path, typer.Argument(help="A workbook written by `review export`.")],
    reviewer: ReviewerOpt = "",
    on_conflict: Annotated[str | None, typer.Option(
        "--on-conflict", help="When a row was edited on top of a decision someone has "
        "changed since: keep-current (skip those rows) or take-file (record the file's). "
        "Without it such a file is refused and nothing is recorded.")] = None,
    db: DbOpt = None,
) -> None:
    """Record the decisions in a review workbook: all rows, or none if any row is bad or
    would overwrite a newer decision.

    Example:

        tracker review import reviews.xlsx --reviewer 'A. Reviewer'

        tracker review import reviews.xlsx --reviewer 'A. Reviewer' --on-conflict keep-current
    """
    from tracker.reviews import ON_CONFLICT, ImportConflictError, import_workbook
    from tracker.runs import ProgressEvent

    if on_conflict is not None and on_conflict not in ON_CONFLICT:
        fail(f"--on-conflict: {on_conflict!r} is not one of {', '.join(ON_CONFLICT)}")
    if not path.is_file():
        fail(f"{path}: no such file")
    with _open(db) as store:
        try:
            with ProgressView(err.is_terminal) as view:
                got = import_workbook(store, path, reviewer, on_conflict=on_conflict,
                                      progress=lambda read, total: view(ProgressEvent(
                                          "import", read, total, unit="rows",
                                          note="review workbook")))
        except ImportConflictError as exc:
            for c in exc.conflicts:
                out.print(f"conflict: {c.describe()}", markup=False, soft_wrap=True)
            fail(f"{path}: nothing imported: {len(exc.conflicts):,} row(s) would overwrite a "
                 f"newer decision (listed above); rerun with --on-conflict keep-current or "
                 f"take-file")
        except StoreError as exc:
            fail(str(exc))
    for c in got.conflicts:
        kept = "kept the current decision" if on_conflict == "keep-current" else \
            "recorded the file's decision"
        out.print(f"conflict ({kept}): {c.describe()}", markup=False, soft_wrap=True)
    extra = (f", {got.stale_untouched:,} rows not edited kept their newer decision"
             if got.stale_untouched else "")
    out.print(f"recorded {got.recorded:,} decisions ({got.unchanged:,} rows unchanged{extra}"
              f"{f', {len(got.conflicts):,} conflicts' if got.conflicts else ''}) "
              f"by {reviewer}", markup=False)


# --------------------------------------------------------------------------- runs, diff

def runs_cmd(db: DbOpt = None) -> None:
    """List the runs in the case file, with how each ended.

    Each run shows how it ended: finished, failed or interrupted (with the reason), or
    "running/not finished" while it runs and for ever if its process was killed.  Only
    finished runs are compared with, listed as the latest and exported for review.

    Example:

        tracker runs --db case.db
    """
    with _open(db) as store:
        rows = store.runs()
    if not rows:
        out.print(f"no runs in {default_db_path() if db is None else db}", markup=False)
        return
    for r in rows:
        c = r["counts"]
        status = r["status"] if r["status"] != "running" else "running/not finished"
        why = f" ({r['status_reason']})" if r["status"] != "finished" and r["status_reason"] \
            else ""
        out.print(f"{r['id']:>4}  {status}{why}  {r['started_at']}  framework={r['framework']}"
                  f"{' as_of=' + r['as_of'] if r['as_of'] else ''}  "
                  f"registry={r['registry_version']}  works={c.get('works_read', 0)}  "
                  f"findings={c.get('findings', 0)}  {' '.join(r['command'])}",
                  markup=False, soft_wrap=True)


def diff_cmd(
    run_a: Annotated[int, typer.Argument(help="The earlier run's ID (see `tracker runs`).")],
    run_b: Annotated[int, typer.Argument(help="The later run's ID.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the diff as JSON.")] = False,
    db: DbOpt = None,
) -> None:
    """What changed between two runs: new ties, gone ties, changed listing or outcome.

    Example:

        tracker diff 1 2
    """
    with _open(db) as store:
        try:
            d = store.diff(run_a, run_b)
        except StoreError as exc:
            fail(str(exc))
    for u in d["unfinished"]:  # its findings may be incomplete: said, never left to guess
        _warn_unfinished(u["run_id"], u["status"], u["reason"], "a tie new or gone between "
                         "these runs may only be one it never screened")
    if as_json:
        out.print(json.dumps(d, indent=1, ensure_ascii=False), markup=False, soft_wrap=True)
        return
    c = d["counts"]
    out.print(f"run {run_a} -> {run_b}: {c['new']:,} new, {c['gone']:,} gone, {c['changed']:,} "
              f"changed, {c['unchanged']:,} unchanged", markup=False)
    for fid in d["new"]:
        out.print(f"new      {fid}", markup=False)
    for fid in d["gone"]:
        out.print(f"gone     {fid}", markup=False)
    for ch in d["changed"]:
        what = "; ".join(f"{k}: {v['before']!r} -> {v['after']!r}"
                         for k, v in ch["changes"].items())
        out.print(f"changed  {ch['finding_id']}  {what}", markup=False, soft_wrap=True)

