"""``tracker rescreen``: screen the stored runs again against the registry version in
force (or one named), from the works stored with each run, with no API call.

Exit codes: 0 nothing changed, 10 something changed, 2 bad input (a run with no stored
works, an unusable case file), 4 the registry version cannot be loaded.  Without run IDs,
each case's latest run is re-screened; one that kept no works (inputs of 256 MB or more,
a Parquet file counted uncompressed; ``--no-keep-works``; a roster) is named on stderr
with the command that screens it again.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from tracker.cli.common import EXIT_CHANGED, EXIT_INPUT, EXIT_REGISTRY, OutputConsole
from tracker.watchlists import RegistryError

__all__ = ["rescreen_cmd"]

out = OutputConsole(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def _stop(message: str, code: int) -> NoReturn:
    err.print(f"tracker: error: {message}", markup=False)
    raise typer.Exit(code)


def rescreen_cmd(
    runs: Annotated[list[int] | None, typer.Argument(
        help="Run IDs to re-screen (default: each screen's latest run, whose works are "
        "stored; an older run of a screen run again only when named).")] = None,
    registry: Annotated[str | None, typer.Option(
        "--registry", help="Registry version (number or ID; default: the one in force).")
    ] = None,
    db: Annotated[Path | None, typer.Option(
        "--db", help="Case file (default $TRACKER_HOME/tracker.db).")] = None,
    home: Annotated[Path | None, typer.Option(
        "--home", help="Where registry versions are kept (default $TRACKER_HOME).")] = None,
    dry_run: Annotated[bool, typer.Option(
        help="Report only: record nothing in the case file.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the reports as JSON.")
                       ] = False,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
) -> None:
    """Re-screen stored runs against the current registry version; exit 10 when
    something changed (new findings, changed listing dates, entries removed, a dismissed
    finding whose evidence changed).  Without run IDs, each case once: the latest run of
    each screen, from the works kept with it.

    Examples:

        tracker rescreen

        tracker rescreen 12 14 --registry 3 --json
    """
    from tracker.registry_versions import VersionStore
    from tracker.rescreen import RescreenError, not_rescreened, rescreen_runs
    from tracker.store import Store, StoreError, default_db_path

    try:
        reg = VersionStore(home).load(registry)
    except RegistryError as exc:
        _stop(str(exc), EXIT_REGISTRY)
    from tracker.cli.common import ProgressView
    from tracker.runs import ProgressEvent

    try:
        # bars redrawn on each update: the works are screened in forked processes
        with Store(db if db is not None else default_db_path()) as store, \
                ProgressView(progress and err.is_terminal, threaded=False) as view:
            reports = rescreen_runs(
                store, reg, list(runs or []), record=not dry_run,
                progress=lambda stage, done, total: view(ProgressEvent(
                    stage, done, total, note=f"re-screening {stage}")))
            # the cases left out (no works kept): named, so that no news is not read as
            # "nothing changed" for them
            left_out = [] if runs else not_rescreened(store)
    except (RescreenError, StoreError) as exc:
        _stop(f"{exc}; nothing recorded", EXIT_INPUT)
    for skipped in left_out:
        err.print(f"tracker: warning: {skipped.text()}", markup=False)
    if as_json:
        out.print(json.dumps([r.to_json() for r in reports], indent=2), markup=False)
    else:
        if not reports:
            out.print("no stored run with works to re-screen" + (
                f" ({len(left_out):,} run(s) kept none: see above)" if left_out else ""),
                markup=False)
        for r in reports:
            c = r.to_json()["counts"]
            what = ("no change" if not r.changed else
                    f"{c['new']:,} new, {c['listing_changed']:,} listing changed, "
                    f"{c['gone']:,} gone, {c['review_again']:,} dismissed finding(s) to review "
                    f"again" + (f"; recorded as run {r.new_run_id}" if r.new_run_id else ""))
            out.print(f"run {r.run_id} against {r.registry_to} (was {r.registry_from}): "
                      f"{what}; {c['reviews_carried']:,} review decision(s) carried over",
                      markup=False)
            for n in r.notes:
                out.print(f"  note: {n}", markup=False)
    if any(r.changed for r in reports):
        raise typer.Exit(EXIT_CHANGED)
