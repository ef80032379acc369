"""What every ``tracker`` command shares: exit codes, the two consoles, typer settings,
one-line failures, date options and the progress view.

Subcommand modules import from here, never from :mod:`tracker.cli` (which imports them).

====  ======================================================================
code  meaning
====  ======================================================================
0     the run completed (with or without findings)
1     unexpected internal error (a bug: please report it; TRACKER_DEBUG=1 shows details)
2     bad input: a missing or unreadable file, not OpenAlex JSON, no usable works,
      a truncated download, a bad date or ID, a workbook that is not .xlsx, a list
      file that is cut, empty, an HTML error page or of the wrong list
3     fetching stopped and can be resumed (daily allowance spent, API key needed,
      server kept failing): rerun the same command later
4     the registry, a registry version or a user watchlist cannot be loaded
5     the machine cannot do it: a full or read-only disk, an --out folder that cannot
      be written, a damaged case file (the message says what to do)
10    findings exist and ``--fail-on-findings`` was given; ``tracker rescreen`` (or
      ``lists update --signal-changes``) found changes
141   the reader of tracker's output went away (``tracker lists | head -1``): what
      had been done was done, the rest of the output was not printed
====  ======================================================================
"""

from __future__ import annotations

import os
import sys
from datetime import date
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from tracker.dates import parse_date as _parse_iso_date

__all__ = ["APP_SETTINGS", "EXIT_BROKEN_PIPE", "EXIT_CHANGED", "EXIT_ENVIRONMENT",
           "EXIT_FINDINGS", "EXIT_INPUT", "EXIT_INTERNAL", "EXIT_OK", "EXIT_REGISTRY",
           "EXIT_RESUMABLE", "CliError", "DbOpt", "OutputConsole", "ProgressView", "err",
           "fail", "out", "parse_date"]

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_INPUT = 2
EXIT_RESUMABLE = 3
EXIT_REGISTRY = 4
EXIT_ENVIRONMENT = 5
EXIT_FINDINGS = 10
#: The same code where a command compares (``tracker rescreen``, ``tracker lists update``):
#: something changed, for a scheduler to act on.
EXIT_CHANGED = EXIT_FINDINGS
#: The reader of tracker's output went away (``tracker lists | head -1``): what a shell
#: reports for a process ended by SIGPIPE (128 + 13), as coreutils' commands end there.
EXIT_BROKEN_PIPE = 141


class OutputConsole(Console):
    """rich's console for tracker's output, ending quietly with :data:`EXIT_BROKEN_PIPE`
    when the reader of its output goes away.

    Why: rich ends the process with exit code 1 there, which is tracker's
    :data:`EXIT_INTERNAL` (a bug); a scheduler running ``tracker demo | head -1`` would
    read a bug.  As Python's note on SIGPIPE advises, what is left to print goes to
    ``os.devnull``, so that the interpreter's last flush does not fail again [1]_.

    References
    ----------
    .. [1] https://docs.python.org/3/library/signal.html#note-on-sigpipe
    """

    def on_broken_pipe(self) -> None:
        self.quiet = True
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise SystemExit(EXIT_BROKEN_PIPE)


err = Console(stderr=True, highlight=False)
out: Console = OutputConsole(highlight=False)

#: How every tracker command group behaves: plain help (no rich markup), -h and --help, no
#: shell-completion options, and no pretty tracebacks (a failure is one line, see fail()).
APP_SETTINGS: dict[str, Any] = {
    "add_completion": False,
    "pretty_exceptions_enable": False,
    "rich_markup_mode": None,
    "context_settings": {"help_option_names": ["-h", "--help"]},
}

DbOpt = Annotated[Path | None, typer.Option(
    "--db", help="Case-file database keeping runs and review decisions (default "
    "$TRACKER_HOME/tracker.db, else ~/.local/share/tracker/tracker.db).")]


class CliError(Exception):
    """A failure the CLI reports as one line with an exit code."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def fail(message: str, code: int = EXIT_INPUT) -> NoReturn:
    """Stop the command: ``tracker: error: <message>`` on stderr and exit ``code``."""
    raise CliError(message, code)


def parse_date(value: str | None, option: str) -> date | None:
    """Read an ISO date given on the command line, or fail with one line.

    Examples
    --------
    >>> parse_date("2024-05-01", "--since"), parse_date(None, "--since")
    (datetime.date(2024, 5, 1), None)
    """
    try:
        return _parse_iso_date(value)
    except ValueError as exc:
        fail(f"{option}: {exc}")


class _Count(ProgressColumn):
    """``done unit``, or ``done/total unit`` where the total is known (``done %`` for a
    percentage)."""

    def render(self, task: Task) -> Text:
        unit = task.fields.get("unit", "")
        if unit == " %" and task.total == 100:
            return Text(f"{task.completed:>8.0f} %")
        if task.total is None:
            return Text(f"{task.completed:>8,.0f}{unit}")
        return Text(f"{task.completed:>8,.0f}/{task.total:,.0f}{unit}")


class _Left(ProgressColumn):
    """The time left, as rich estimates it from the recent pace, where the total is known
    and the bar is not full (blank otherwise, until there is a pace to go by, and for a
    count of files: the report folder's files take from a blink to most of its time)."""

    max_refresh = 0.5  # a steadier figure than one recomputed at every redraw

    def render(self, task: Task) -> Text:
        left = task.time_remaining
        if (task.total is None or task.finished or left is None
                or task.fields.get("unit") == " files"):
            return Text("")
        minutes, seconds = divmod(int(left), 60)
        hours, minutes = divmod(minutes, 60)
        return Text(f"~{hours}:{minutes:02d}:{seconds:02d} left", style="progress.remaining")


class ProgressView:
    """Render a run's progress events with rich on stderr (only in the CLI).

    Called with :class:`tracker.runs.ProgressEvent` items: ``stage`` names the bar,
    ``done``/``total`` fill it (shown as ``done/total unit``, with the time left estimated
    where the total is known), ``unit`` names what is counted (a stage may change it:
    the DuckDB engine's read counts megabytes, then works), ``note`` (when given) replaces
    its label.
    """

    def __init__(self, enabled: bool, *, threaded: bool = True) -> None:
        self.enabled = enabled
        # rich redraws from a thread of its own; screening files forks a process per share,
        # which it does only while no other thread runs (a fork could copy a held lock), so
        # there the bars are redrawn on each update instead
        self.threaded = threaded
        self._progress: Progress | None = None
        self._tasks: dict[str, Any] = {}

    def __enter__(self) -> ProgressView:
        if self.enabled:
            self._progress = Progress(
                SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), _Count(),
                TimeElapsedColumn(), _Left(),
                console=err, transient=True, auto_refresh=self.threaded,
            )
            self._progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.__exit__(None, None, None)

    def __call__(self, event: Any) -> None:
        if self._progress is None:
            return
        stage = event.stage
        if stage not in self._tasks:
            self._tasks[stage] = self._progress.add_task(
                event.note or stage, total=event.total, unit=f" {event.unit}")
        self._progress.update(self._tasks[stage], completed=event.done, total=event.total,
                              description=event.note or stage, unit=f" {event.unit}",
                              refresh=not self.threaded)
