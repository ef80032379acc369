"""tracker: screen research collaborations against dated restricted-institution lists.

A flag is evidence for human review, not a determination.  "No findings" never means
"cleared": it means no tie was found in the data read, with the gaps the run record lists.

The public API (what notebooks and scripts use) is re-exported here and loaded lazily so
that ``tracker --help`` stays fast:

>>> import tracker
>>> reg = tracker.load_registry()
>>> res = tracker.screen(tracker.read_works(tracker.demo_works_path()), registry=reg)
>>> res.run["counts"]["works_read"]
71
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import Any

try:
    __version__ = version("tracker")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.1.0"

_PUBLIC = {
    # records and sources
    "Work": "tracker.records",
    "Authorship": "tracker.records",
    "InstitutionRef": "tracker.records",
    "parse_work": "tracker.records",
    "read_works": "tracker.sources.files",
    "split_works": "tracker.sources.files",
    "SkippedRecord": "tracker.skipped",
    "demo_works_path": "tracker.demo",
    # registry
    "load_registry": "tracker.watchlists",
    "Registry": "tracker.watchlists",
    "ListEntry": "tracker.watchlists",
    # screening
    "screen": "tracker.screening",
    "screen_shares": "tracker.screening",
    "ScreenSettings": "tracker.screening",
    "ScreenResult": "tracker.screening",
    "SubjectSpec": "tracker.screening",
    "Finding": "tracker.risk",
    "FINDING_COLUMNS": "tracker.risk",
    "findings_frame": "tracker.frames",
    # rosters of people (resolved by ORCID / OpenAlex author ID, never by name)
    "read_roster": "tracker.sources.roster",
    "RosterRow": "tracker.sources.roster",
    "screen_roster": "tracker.rosters",
    "RosterScreen": "tracker.rosters",
    # one run end to end: inputs -> subjects -> works -> screen -> case file -> report
    "run": "tracker.runs",
    "RunRequest": "tracker.runs",
    "RunOutcome": "tracker.runs",
    "ProgressEvent": "tracker.runs",
    # frameworks and the case file
    "load_framework": "tracker.frameworks",
    "available_frameworks": "tracker.frameworks",
    "Store": "tracker.store",
    # outputs
    "write_report_folder": "tracker.exports",
}

__all__ = ["__version__", *sorted(_PUBLIC)]


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'tracker' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
