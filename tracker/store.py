"""The case file: runs, their findings, and review decisions, in one SQLite database.

A review decision belongs to a tie (a ``finding_id``, stable across reruns), not to one
run, so a decision made after one run shows on every later run that finds the same tie.
Decisions are never overwritten: each one is a new row (who, when, why) and the latest
wins.  Every write is one explicit transaction: a failure leaves the database as it was.

Each decision on a tie has a ``version`` (1, 2, ... per tie; 0 means "never reviewed").  A
write may say which version it was based on; when the tie has moved on since, the write is
refused with :class:`ReviewConflictError`, which carries the current decision, so two
reviewers never silently overwrite each other.  A unique index on ``(finding_id, version)``
makes the database itself refuse a second decision on the same base.

Schema (``schema_version`` 3; an older file is migrated when opened: version 1 runs gain
a status, reviews a version; version 2 findings gain their keys)::

    runs(id, started_at, finished_at, tool_version, command, settings, inputs, registry,
         counts, data_gaps, record, comparable_key, recorded_at, status, status_reason)
    ties(finding_id PK, first_run_id -> runs, last_run_id -> runs)
    findings(run_id -> runs, finding_id -> ties, row)          PK (run_id, finding_id)
    finding_keys(run_id, finding_id, work_id, list, listed_at_publication,
                 listed_rank, relation, confidence, outcome_kind, publication_date,
                 institution_key, text_id)
                                      UNIQUE (run_id, finding_id), stored in the order
                 PK (run_id, listed_rank, publication_date DESC, finding_id)
    finding_texts(run_id, text_id, text)                      PK (run_id, text_id)
    finding_facets(run_id, list, listed_at_publication, relation, confidence,
                   outcome_kind)
    reviews(id, finding_id -> ties, status, reason, reviewer, at, source, version)
                                                           UNIQUE (finding_id, version)

JSON columns hold the run record's parts as ScreenResult.run has them.  A finding's JSON
``row`` is its record; ``finding_keys`` repeats, typed and indexed, the fields the review
workspace filters, sorts and groups on (written with the row, from the same values), so a
page of a run of a million findings is read through an index, never by parsing every row.
``finding_facets`` holds each run's distinct filter values (a run's findings never change
once recorded), so a page's filter choices are not a pass over the run.  ``finding_texts``
holds each run's distinct search texts (institution name, list entry name and raw
affiliation, lower-cased), which ``finding_keys.text_id`` points to, so a text search reads
those few texts, not every row (runs recorded before have no texts: their rows are read).

A run's ``status`` says how it ended: ``running`` from its start (and for ever when the
process was killed), then ``finished``, ``failed`` or ``interrupted`` with the reason in
``status_reason``.  Only finished runs are compared with ("changes since the previous run"),
listed as the latest, or exported for review by default.  Version 1 files are migrated on
opening: their runs are marked finished (they were recorded when screening completed).

Examples
--------
>>> import tempfile, tracker
>>> from pathlib import Path
>>> res = tracker.screen(tracker.read_works(tracker.demo_works_path()),
...                      registry=tracker.load_registry())
>>> with tempfile.TemporaryDirectory() as d, Store(Path(d) / "t.db") as st:
...     run_id = st.record_run(res)
...     fid = res.findings[0].finding_id
...     _ = st.set_review(fid, "dismissed", "A. Reviewer", "same name, other institution")
...     (run_id, st.latest_reviews()[fid]["status"], len(st.findings(run_id)) == len(res.findings))
(1, 'dismissed', True)
"""

from __future__ import annotations

import functools
import json
import os
import re
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from operator import attrgetter
from pathlib import Path
from typing import Any, ParamSpec, TypeVar, cast

import orjson
from isal import isal_zlib

from tracker.findings import amend_findings, collector_paused
from tracker.home import case_file_path
from tracker.records import Authorship, InstitutionRef, Work
from tracker.risk import Finding, outcome_kind
from tracker.screening import ScreenResult
from tracker.watchlists import Registry

__all__ = [
    "DIFF_FIELDS",
    "FACET_COLUMNS",
    "KEY_COLUMNS",
    "LISTED_RANK",
    "REVIEW_STATUSES",
    "RUN_STATUSES",
    "SCHEMA_VERSION",
    "CaseFileError",
    "ReviewConflict",
    "ReviewConflictError",
    "ReviewImportError",
    "Store",
    "StoreError",
    "StoredWorks",
    "WorksPacker",
    "default_db_path",
    "former_finding_ids",
    "latest_comparable_runs",
    "record_rescreen",
    "rescreens",
    "run_ended_text",
    "run_works",
    "runs_with_works",
    "save_page",
    "saved_page",
    "store_packed_works",
    "store_run_works",
    "stored_works",
    "work_from_json",
    "work_to_json",
]

SCHEMA_VERSION = 3
#: How a run ended; ``running`` also stays for a run whose process was killed.
RUN_STATUSES = ("running", "finished", "failed", "interrupted")


def run_ended_text(status: str, reason: str = "") -> str:
    """How a run that is not finished stands, in the words the CLI and the workspace use
    after "run N".

    Examples
    --------
    >>> run_ended_text("failed", "WorksFileError: no records")
    'did not finish (failed: WorksFileError: no records)'
    >>> run_ended_text("running")
    'is still running'
    """
    if status == "running":
        return "is still running"
    return f"did not finish ({status}: {reason})" if reason else f"did not finish ({status})"

REVIEW_STATUSES = ("unreviewed", "confirmed", "dismissed", "needs_follow_up")
#: What makes a tie "changed" between two runs: its dates, listing and outcome.
DIFF_FIELDS = ("listed_at_publication", "outcome", "list_editions", "listed_on")
#: Evidence columns in the review workbook, after finding_id.
REVIEW_EVIDENCE = ("work_id", "doi", "title", "publication_date", "author_name",
                   "institution_name", "raw_affiliation", "list", "list_entry_name",
                   "listed_on", "listed_at_publication", "match_method", "relation",
                   "outcome")
REVIEW_SHEET = "reviews"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    tool_version TEXT NOT NULL,
    command TEXT NOT NULL,
    settings TEXT NOT NULL,
    inputs TEXT NOT NULL,
    registry TEXT NOT NULL,
    counts TEXT NOT NULL,
    data_gaps TEXT NOT NULL,
    record TEXT NOT NULL,
    comparable_key TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'finished'
        CHECK (status IN ('running', 'finished', 'failed', 'interrupted')),
    status_reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS runs_key ON runs (comparable_key, id);
CREATE TABLE IF NOT EXISTS ties (
    finding_id TEXT PRIMARY KEY,
    first_run_id INTEGER NOT NULL REFERENCES runs (id),
    last_run_id INTEGER NOT NULL REFERENCES runs (id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS findings (
    run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    finding_id TEXT NOT NULL REFERENCES ties (finding_id),
    row TEXT NOT NULL,
    PRIMARY KEY (run_id, finding_id)
);
CREATE TABLE IF NOT EXISTS finding_keys (
    run_id INTEGER NOT NULL,
    finding_id TEXT NOT NULL,
    work_id TEXT NOT NULL,
    list TEXT NOT NULL,
    listed_at_publication TEXT NOT NULL,
    listed_rank INTEGER NOT NULL,
    relation TEXT NOT NULL,
    confidence TEXT NOT NULL,
    outcome_kind TEXT NOT NULL,
    publication_date TEXT NOT NULL,
    institution_key TEXT NOT NULL,
    text_id INTEGER,
    PRIMARY KEY (run_id, listed_rank, publication_date DESC, finding_id),
    UNIQUE (run_id, finding_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS finding_texts (
    run_id INTEGER NOT NULL,
    text_id INTEGER NOT NULL,
    text TEXT NOT NULL,
    PRIMARY KEY (run_id, text_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS finding_facets (
    run_id INTEGER NOT NULL,
    list TEXT NOT NULL,
    listed_at_publication TEXT NOT NULL,
    relation TEXT NOT NULL,
    confidence TEXT NOT NULL,
    outcome_kind TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS finding_facets_run ON finding_facets (run_id);
CREATE TRIGGER IF NOT EXISTS finding_keys_of_run AFTER DELETE ON runs BEGIN
    DELETE FROM finding_keys WHERE run_id = old.id;
    DELETE FROM finding_facets WHERE run_id = old.id;
END;
CREATE TRIGGER IF NOT EXISTS finding_texts_of_run AFTER DELETE ON runs BEGIN
    DELETE FROM finding_texts WHERE run_id = old.id;
END;
"""
#: The secondary index of finding_keys (a migration builds it after filling the table).
_KEY_INDEXES = """
CREATE INDEX IF NOT EXISTS finding_keys_work ON finding_keys (run_id, work_id);
"""
_SCHEMA += _KEY_INDEXES

# What each index of finding_keys serves (checked with EXPLAIN QUERY PLAN in the tests):
#
# - the primary key (run_id, listed_rank, publication_date DESC, finding_id): the table is
#   stored in the default order (listed at publication: yes, unknown, no, other; then
#   newest; then ID), so a default page is LIMIT/OFFSET on the table itself with no sort
#   and no lookup, whatever the filter; a filter on ``listed`` is a range of it; every
#   count, filter and other sort reads only the run's narrow key rows (no JSON);
# - the unique (run_id, finding_id): one key row per finding (INSERT OR REPLACE finds the
#   old row by it); a filter on a review status looks the reviewed ties up by ID;
# - finding_keys_work (run_id, work_id): a finding's "same work" list.
#
# text_id is no index's: a text search finds the matching texts of the run in
# finding_texts (a few thousand rows where a run has a million findings), then reads the
# run's narrow key rows once, keeping those whose text_id is among them.  At 788,020
# findings the search had read every JSON row instead (2.4 GB): 7-10 s a page.
#
# ties is WITHOUT ROWID: one B-tree keyed by the tie's ID, its only lookup (as a rowid
# table it kept a second B-tree, its key's index, beside the rows: recording 788,020
# findings, the upserts took 4.8 s rather than 3.0 s).  A case file made before keeps its
# rowid table, read and written by the same SQL.
#
# finding_keys.run_id is not a foreign key (with foreign keys on, INSERT OR REPLACE of a
# key row checks it at a cost that doubles the time to write the keys): a trigger deletes a
# run's keys and facets with the run, as the findings' ON DELETE CASCADE does; another its
# search texts (a trigger of its own: a file made before them gains it when opened).
#
# The other sorts read the run's key rows once with SQLite's top-N sort (a LIMIT keeps only
# the page's rows): no index each, so recording a run stays cheap.

#: SQLite's page cache (KiB) while a run is recorded.  Its findings' IDs, keys and ties go
#: into B-trees in no particular order; with SQLite's default cache (2 MB) their pages are
#: written out and read back again and again (recording 773,192 findings took 48 s with
#: the default cache and 32 s with this one).  It is used only as the pages are needed.
_RECORD_SLICE = 20_000  # findings written at a time by record_run
_RECORD_CACHE_KIB = 256 * 1024
#: From this many findings on, record_run leaves the checkpoint (copying the run's pages
#: from the write-ahead log into the case file: 8.5 s of a million-work run's 36 s) to a
#: thread of its own, so that it overlaps what the run does next (its report folder).
#: Its commit then does not wait for the log to reach the disk either (``synchronous =
#: NORMAL`` for that transaction; see _COMMIT_UNSYNCED).
_CHECKPOINT_AFTER = 100_000
# _COMMIT_UNSYNCED: with SQLite's FULL (Python's default), a commit waits until the
# write-ahead log is on the disk: for 773,192 findings, 1.8 GB.  With NORMAL, record_run
# took 12.0-12.6 s against 12.9-13.7 s (five runs each, alternately), on the thread the rest
# of the report folder waits for.  In WAL mode NORMAL keeps the file consistent whatever
# happens; a power cut or a crash of the system (not of tracker) shortly after may lose
# that last commit, the recording of this run, which a rerun gives back.  The checkpoint
# thread's connection keeps FULL: it syncs the log before copying it into the file and
# the file after, so the run is on the disk once it has ended (Store.close waits for it).
# Reviews and every other write keep FULL.
#: The page size (bytes) of a new case file (SQLite's default is 4096; a file keeps the
#: size it was made with).  A finding's stored row is about 2.4 KB of JSON: a 4 KB page
#: holds one, with the rest of the page unused, so a million-work run wrote about 650,000
#: pages, each once to the write-ahead log and once to the file.  Its 788,020 findings'
#: rows, ties and keys, written slice by slice as record_run writes them, took 21.2-24.4
#: CPU s with 16 KB pages against 30.8-37.5 s with 4 KB (run alternately; most of it in
#: the checkpoint, 2.9-3.5 s against 10.6-12.4 s), in a file of 2.46 GB against 2.67 GB.
#: The rows alone: 8 KB pages were slower than 16 KB, 32 KB slower to checkpoint.
_PAGE_SIZE = 16384

#: The columns of finding_keys after run_id and finding_id, as record_run writes them.
KEY_COLUMNS = ("work_id", "list", "listed_at_publication", "listed_rank", "relation",
               "confidence", "outcome_kind", "publication_date", "institution_key")
#: The columns of finding_facets after run_id: the filter choices of a run.
FACET_COLUMNS = ("list", "listed_at_publication", "relation", "confidence", "outcome_kind")
#: The rank of ``listed_at_publication`` in the default order (anything else: 3).
LISTED_RANK = {"yes": 0, "unknown": 1, "no": 2}

#: The reviews table of schema 2 (``{name}``: reviews, or a new table during migration).
_REVIEWS = """
CREATE TABLE IF NOT EXISTS {name} (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    finding_id TEXT NOT NULL REFERENCES ties (finding_id),
    status TEXT NOT NULL CHECK (status IN
        ('unreviewed', 'confirmed', 'dismissed', 'needs_follow_up')),
    reason TEXT NOT NULL DEFAULT '',
    reviewer TEXT NOT NULL CHECK (length(trim(reviewer)) > 0),
    at TEXT NOT NULL,
    source TEXT NOT NULL DEFAULT '',
    version INTEGER NOT NULL CHECK (version >= 1),
    CHECK (status <> 'dismissed' OR length(trim(reason)) > 0)
);
"""
_REVIEWS_INDEXES = """
CREATE INDEX IF NOT EXISTS reviews_tie ON reviews (finding_id, id);
CREATE UNIQUE INDEX IF NOT EXISTS reviews_tie_version ON reviews (finding_id, version);
"""


def _migrate_reviews(db: sqlite3.Connection) -> None:
    """Bring the reviews table to schema 2 inside the caller's transaction.

    A schema-1 table (no ``version``; three statuses) is copied into the new table with
    each tie's decisions numbered 1, 2, ... in the order they were made; nothing is lost.
    """
    cols = {r[1] for r in db.execute("PRAGMA table_info(reviews)")}
    if not cols:
        db.execute(_REVIEWS.format(name="reviews"))
    elif "version" not in cols:
        db.execute(_REVIEWS.format(name="reviews_v2"))
        db.execute(
            "INSERT INTO reviews_v2 (id, finding_id, status, reason, reviewer, at, source,"
            " version) SELECT id, finding_id, status, reason, reviewer, at, source,"
            " row_number() OVER (PARTITION BY finding_id ORDER BY id) FROM reviews")
        db.execute("DROP TABLE reviews")
        db.execute("ALTER TABLE reviews_v2 RENAME TO reviews")
    for stmt in _REVIEWS_INDEXES.strip().splitlines():
        db.execute(stmt)



def _migrate_finding_keys(db: sqlite3.Connection, version: int) -> None:
    """Schema 2 -> 3, inside the caller's transaction: fill ``finding_keys`` and
    ``finding_facets`` from every stored finding's JSON row, in one pass (the rows are
    kept as they are: nothing is lost).  Values are read as the old pages read them: a
    missing field is ``""``, the outcome's kind is :func:`tracker.risk.outcome_kind`.

    The rows go in in the table's order; the work index is built after them.
    Needs the ``outcome_kind`` SQL function (:class:`Store` registers it).
    """
    if version >= 3:
        return

    def field(name: str) -> str:
        return f"coalesce(json_extract(row, '$.{name}'), '')"

    listed = field("listed_at_publication")
    rank = " ".join(f"WHEN {v!r} THEN {r}" for v, r in LISTED_RANK.items())
    values = {"work_id": field("work_id"), "list": field("list"),
              "listed_at_publication": listed,
              "listed_rank": f"CASE {listed} {rank} ELSE 3 END",
              "relation": field("relation"), "confidence": field("confidence"),
              "outcome_kind": f"outcome_kind({field('outcome')})",
              "publication_date": field("publication_date"),
              "institution_key": f"CASE WHEN {field('institution_name')} != '' THEN "
                                 f"{field('institution_name')} ELSE "
                                 f"{field('list_entry_name')} END"}
    db.execute("DROP INDEX IF EXISTS finding_keys_work")
    db.execute("DELETE FROM finding_keys")
    db.execute("DELETE FROM finding_facets")
    db.execute(f"INSERT INTO finding_keys (run_id, finding_id, {', '.join(KEY_COLUMNS)})"
               f" SELECT run_id, finding_id, "
               + ", ".join(f"{values[c]} AS {c}" for c in KEY_COLUMNS)
               + " FROM findings ORDER BY run_id, listed_rank, publication_date DESC,"
               " finding_id")
    for stmt in _KEY_INDEXES.strip().split(";"):
        if stmt.strip():
            db.execute(stmt)
    db.execute(f"INSERT INTO finding_facets (run_id, {', '.join(FACET_COLUMNS)})"
               f" SELECT DISTINCT run_id, {', '.join(FACET_COLUMNS)} FROM finding_keys")


#: A finding's fields that its keys are made of (one C call per finding).
_KEY_FIELDS = attrgetter("finding_id", "work_id", "list", "listed_at_publication", "relation",
                         "confidence", "outcome", "publication_date", "institution_name",
                         "list_entry_name", "raw_affiliation")


class _SearchTexts:
    """The distinct search texts of a run's findings, numbered as :meth:`Store.record_run`
    writes them (``finding_texts``; each key row's ``text_id``): a finding's text is its
    institution name, list entry name and raw affiliation, joined by spaces and
    lower-cased by Python's :meth:`str.lower`, as the search had read them from its JSON
    row (``py_lower(a || ' ' || b || ' ' || c)``).  ``known``: the run's texts already
    stored (a run recorded again keeps its numbers).

    Examples
    --------
    >>> texts = _SearchTexts()
    >>> texts.id_of("Beihang University", "Beihang University", "Beihang Univ, Beijing")
    1
    >>> texts.id_of("Other", "", ""), texts.id_of("BEIHANG university", "Beihang University",
    ...                                          "Beihang Univ, Beijing")
    (2, 1)
    >>> texts.take()
    [(1, 'beihang university beihang university beihang univ, beijing'), (2, 'other  ')]
    """

    def __init__(self, known: Iterable[tuple[str, int]] = ()) -> None:
        self._ids: dict[str, int] = dict(known)
        self._next = max(self._ids.values(), default=0) + 1
        self._of_fields: dict[tuple[str, str, str], int] = {}  # most findings repeat these
        self._new: list[tuple[int, str]] = []

    def id_of(self, institution: str, entry: str, raw: str) -> int:
        """The number of this text (a new one is numbered and kept for :meth:`take`)."""
        fields_ = (institution, entry, raw)
        got = self._of_fields.get(fields_)
        if got is None:
            text = f"{institution} {entry} {raw}".lower()
            got = self._ids.get(text)
            if got is None:
                got = self._ids[text] = self._next
                self._next += 1
                self._new.append((got, text))
            self._of_fields[fields_] = got
        return got

    def take(self) -> list[tuple[int, str]]:
        """The texts numbered since the last call, ``(text_id, text)``."""
        new, self._new = self._new, []
        return new


def _key_row(run_id: int, f: Finding, texts: _SearchTexts) -> tuple[Any, ...]:
    """The ``finding_keys`` row of a finding (in :data:`KEY_COLUMNS` order after run_id
    and finding_id, then ``text_id``), from the values its JSON row is written from (a
    missing value, None, is ``""`` as the JSON's null reads in SQL)."""
    values = _KEY_FIELDS(f)
    if None in values:
        values = tuple("" if v is None else v for v in values)
    fid, work, lst, listed, relation, confidence, outcome, day, inst, entry, raw = values
    return (run_id, fid, work, lst, listed, LISTED_RANK.get(listed, 3), relation, confidence,
            outcome_kind(outcome), day, inst or entry, texts.id_of(inst, entry, raw))


#: A finding's review status in SQL over ``k.finding_id``: its latest decision's status
#: (the reviews_tie index), ``unreviewed`` when it has none.  Most ties of a large run have
#: no decision: they are told apart by one look in the reviews' index by tie, and only
#: reviewed ties look up their latest decision.
_REVIEW_STATUS = ("CASE WHEN k.finding_id IN (SELECT finding_id FROM reviews) THEN"
                  " coalesce((SELECT r.status FROM reviews r WHERE r.finding_id = k.finding_id"
                  " ORDER BY r.id DESC LIMIT 1), 'unreviewed') ELSE 'unreviewed' END")
#: SQL that reads the findings table (``f``), not only the keys (``k``).
_USES_ROW = re.compile(r"\bf\.")

class StoreError(ValueError):
    """The case-file database cannot be used or refuses a change; nothing was written."""


class CaseFileError(StoreError):
    """The case file cannot be read or written (full or read-only disk, a damaged file):
    a problem of the machine, not of the input.  Nothing was written."""


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _sqlite_problem(exc: sqlite3.Error, path: Path) -> CaseFileError:
    text = str(exc)
    if "full" in text:
        advice = "free some disk space, or give --db on another disk"
    elif "readonly" in text or "read-only" in text or "unable to open" in text:
        advice = "make it writable, or give --db a file you can write"
    elif "malformed" in text or "not a database" in text or "corrupt" in text:
        advice = "restore it from a backup, or give --db a new file"
    else:
        advice = "check the disk and the file, or give --db another file"
    return CaseFileError(f"{path}: the case file cannot be used ({text}): {advice}")


def _guarded(method: Callable[_P, _R]) -> Callable[_P, _R]:
    """Turn SQLite's errors in a Store method into :class:`CaseFileError`."""

    @functools.wraps(method)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return method(*args, **kwargs)
        except sqlite3.Error as exc:
            store = args[0]
            raise _sqlite_problem(exc, getattr(store, "path", Path("?"))) from None

    return wrapper


class ReviewImportError(StoreError):
    """A review workbook was refused; no decision from it was recorded.

    ``problems`` lists every bad row as ``"row N: ..."``.
    """

    def __init__(self, path: Path, problems: list[str]) -> None:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        super().__init__(f"{path}: nothing imported: {'; '.join(problems[:3])}{more}")
        self.problems = problems


@dataclass(frozen=True, slots=True)
class ReviewConflict:
    """A decision that was based on an older version of a tie's review.

    ``current`` is the tie's latest decision (status, reason, reviewer, at, version), or
    None when it has none; ``row`` is the workbook row, when the write came from one.
    """

    finding_id: str
    based_on: int
    current: dict[str, Any] | None
    wanted: str = ""
    row: int | None = None

    def describe(self) -> str:
        """One line: which tie, what the writer saw, what it is now.

        Examples
        --------
        >>> ReviewConflict("abc", 0, {"status": "confirmed", "reviewer": "A", "at": "t",
        ...                           "version": 1, "reason": ""}, "unreviewed", 3).describe()
        "row 3: finding abc changed since it was read (version 0): now confirmed by A at t \
(version 1); this write wanted 'unreviewed'"
        """
        cur = self.current
        now = (f"now {cur['status']} by {cur['reviewer']} at {cur['at']} (version "
               f"{cur['version']})" if cur else "now unreviewed (version 0)")
        where = f"row {self.row}: " if self.row is not None else ""
        want = f"; this write wanted {self.wanted!r}" if self.wanted else ""
        return (f"{where}finding {self.finding_id} changed since it was read (version "
                f"{self.based_on}): {now}{want}")


class ReviewConflictError(StoreError):
    """A review write was based on an older decision than the current one; nothing was
    recorded.  ``conflicts`` holds one :class:`ReviewConflict` per refused tie."""

    def __init__(self, conflicts: list[ReviewConflict]) -> None:
        more = f" (and {len(conflicts) - 3} more)" if len(conflicts) > 3 else ""
        super().__init__("review not recorded: " + "; ".join(
            c.describe() for c in conflicts[:3]) + more)
        self.conflicts = conflicts


def _py_lower(value: object) -> str | None:
    return None if value is None else str(value).lower()


def _sql_outcome_kind(value: object) -> str:
    return outcome_kind("" if value is None else str(value))


def default_db_path() -> Path:
    """``$TRACKER_HOME/tracker.db``, else ``~/.local/share/tracker/tracker.db`` (see
    :mod:`tracker.home`)."""
    return case_file_path()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


#: Stored JSON texts: keys sorted, UTF-8 as is; what JSON has no type for (dates, times,
#: dataclasses) as ``str()`` gives it, as ``json.dumps(default=str)`` did for texts written
#: before (the same values; a text compares equal to an old one only after parsing).
_JSON_OPTIONS = (orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME
                 | orjson.OPT_PASSTHROUGH_DATACLASS)


def _json_utf8(value: Any) -> bytes:
    # orjson: a million-finding run's rows are encoded about ten times faster than by json
    return orjson.dumps(value, default=str, option=_JSON_OPTIONS)


def _json_text(value: Any) -> str:
    return _json_utf8(value).decode("utf-8")


def comparable_key(run: dict[str, Any]) -> str:
    """What two runs must share to be compared: inputs (by resolved path, not content) and
    settings other than the as-of date.  The registry is left out: a diff exists to show
    what a registry change did.  A file given by a relative path and by an absolute one is
    the same input (the run record's ``resolved_path``).

    Examples
    --------
    >>> a = {"inputs": [{"kind": "file", "path": "w.jsonl", "sha256": "1"}],
    ...      "settings": {"framework": "none", "as_of": "2026-01-01"}}
    >>> b = {"inputs": [{"kind": "file", "path": "w.jsonl", "sha256": "2"}],
    ...      "settings": {"framework": "none", "as_of": "2026-02-01"}}
    >>> comparable_key(a) == comparable_key(b)
    True
    >>> c = {"inputs": [{"kind": "file", "path": "/data/w.jsonl",
    ...                  "resolved_path": "/data/w.jsonl"}], "settings": {}}
    >>> d = {"inputs": [{"kind": "file", "path": "w.jsonl",
    ...                  "resolved_path": "/data/w.jsonl"}], "settings": {}}
    >>> comparable_key(c) == comparable_key(d)
    True
    """
    inputs = []
    for i in run.get("inputs", []):
        item = {k: v for k, v in i.items() if k not in ("sha256", "bytes", "resolved_path")}
        if i.get("resolved_path"):
            item["path"] = i["resolved_path"]
        inputs.append(item)
    settings = {k: v for k, v in run.get("settings", {}).items() if k != "as_of"}
    return _json_text({"inputs": inputs, "settings": settings,
                       "subjects": run.get("subjects", [])})


class Store:
    """The case-file database at ``path`` (created with its folder if missing).

    Parameters
    ----------
    path : str or Path, optional
        Default :func:`default_db_path`.

    Raises
    ------
    StoreError
        The file cannot be opened, is not a tracker database, or has a newer schema.
    """

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_db_path()
        self._checkpointing: threading.Thread | None = None  # see _checkpoint_later
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            new = not self.path.exists()
            self._db = sqlite3.connect(self.path, isolation_level=None)
            if new:  # the case file names people: readable by its owner only
                os.chmod(self.path, 0o600)
            self._db.row_factory = sqlite3.Row
            # text matching as Python's str.lower() (SQLite's lower() knows ASCII only)
            self._db.create_function("py_lower", 1, _py_lower, deterministic=True)
            self._db.create_function("outcome_kind", 1, _sql_outcome_kind,
                                     deterministic=True)
            self._db.execute("PRAGMA foreign_keys = ON")
            if self._db.execute("PRAGMA page_count").fetchone()[0] == 0:  # before WAL
                self._db.execute(f"PRAGMA page_size = {_PAGE_SIZE}")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA busy_timeout = 5000")
            # executescript commits by itself, so the schema gets its own BEGIN/COMMIT
            try:
                self._db.executescript("BEGIN IMMEDIATE;" + _SCHEMA + "COMMIT;")
            except sqlite3.Error:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
            with self._tx() as db:
                row = db.execute("SELECT version FROM schema_version").fetchone()
                if row is not None and row[0] > SCHEMA_VERSION:
                    raise StoreError(f"{self.path}: database schema {row[0]} is newer than "
                                     f"this tracker's {SCHEMA_VERSION}; upgrade tracker")
                _migrate_reviews(db)
                if row is not None:
                    _migrate_finding_keys(db, int(row[0]))
                if row is None:
                    db.execute("INSERT INTO schema_version VALUES (?)", (SCHEMA_VERSION,))
                self._migrate_run_status()
                self._migrate_finding_texts()
        except sqlite3.Error as exc:
            raise _sqlite_problem(exc, self.path) from None
        except OSError as exc:
            raise CaseFileError(f"{self.path}: cannot create the case file ({exc.strerror}): "
                                f"give --db a file in a folder you can write") from None

    def _migrate_finding_texts(self) -> None:
        """``finding_keys`` gains ``text_id`` (``finding_texts`` is made by the schema):
        the runs recorded before keep it NULL, and a text search reads their rows
        (:meth:`_text_sql`).  No new schema version: a tracker that knows no texts reads and
        writes such a file as before (its runs have none)."""
        columns = {r[1] for r in self._db.execute("PRAGMA table_info(finding_keys)")}
        if "text_id" not in columns:
            self._db.execute("ALTER TABLE finding_keys ADD COLUMN text_id INTEGER")

    def _migrate_run_status(self) -> None:
        """Schema 1 -> 2: runs gain ``status`` and ``status_reason``.  Runs of a version 1
        file were recorded only when screening had completed: they are marked finished."""
        columns = {r[1] for r in self._db.execute("PRAGMA table_info(runs)")}
        if "status" not in columns:
            self._db.execute("ALTER TABLE runs ADD COLUMN status TEXT NOT NULL DEFAULT "
                             "'finished'")
            self._db.execute("ALTER TABLE runs ADD COLUMN status_reason TEXT NOT NULL "
                             "DEFAULT ''")
            self._db.execute("UPDATE runs SET status_reason = 'recorded before tracker kept "
                             "run status'")
        self._db.execute("UPDATE schema_version SET version = ? WHERE version < ?",
                         (SCHEMA_VERSION, SCHEMA_VERSION))

    # ----------------------------------------------------------------- plumbing
    def close(self) -> None:
        """Close the case file (once a background checkpoint, if any, has ended)."""
        self.wait_checkpoint()
        self._db.close()

    def wait_checkpoint(self) -> None:
        """Wait for the checkpoint :meth:`record_run` left to a thread, if any."""
        thread, self._checkpointing = self._checkpointing, None
        if thread is not None:
            thread.join()

    def _checkpoint_later(self) -> None:
        """Checkpoint the write-ahead log in a thread with a connection of its own (SQLite
        releases the GIL meanwhile; a PASSIVE checkpoint never blocks this connection's
        readers or writers).  Should it fail, the next commit's automatic checkpoint does
        the work; should the process end first, the log stays valid and SQLite finishes
        the copy when the file is next opened."""
        self.wait_checkpoint()
        path = self.path

        def checkpoint() -> None:
            try:
                con = sqlite3.connect(path, isolation_level=None, timeout=5)
                try:
                    con.execute("PRAGMA wal_checkpoint(PASSIVE)")
                finally:
                    con.close()
            except sqlite3.Error:
                pass

        self._checkpointing = threading.Thread(
            target=checkpoint, name="tracker-case-file-checkpoint", daemon=True)
        self._checkpointing.start()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _page_cache(self, kib: int) -> Iterator[None]:
        """SQLite's page cache at ``kib`` KiB for a while, then as it was (the pages above
        the old size are freed)."""
        before = int(self._db.execute("PRAGMA cache_size").fetchone()[0])
        self._db.execute(f"PRAGMA cache_size = {-int(kib)}")
        try:
            yield
        finally:
            self._db.execute(f"PRAGMA cache_size = {before}")

    @contextmanager
    def _foreign_keys_off(self) -> Iterator[None]:
        """SQLite's foreign-key enforcement off for a while, then as it was; outside any
        transaction (within one, SQLite leaves the setting as it is).

        For :meth:`record_run`, whose rows refer to the run and to the ties it writes
        itself, just before them in the same transaction.  With enforcement on, SQLite
        kept a statement journal for every ``INSERT OR REPLACE`` of a row (the replace
        may delete a row, which foreign keys would then follow), copying each page the
        row changed: 787,676 writes to a temporary file for 152,056 findings, against
        86,910 with it off; 760,280 findings were recorded in 19.0-20.3 s, against
        22.4-25.4 s with it on (run alternately).
        """
        before = int(self._db.execute("PRAGMA foreign_keys").fetchone()[0])
        self._db.execute("PRAGMA foreign_keys = OFF")
        try:
            yield
        finally:
            self._db.execute(f"PRAGMA foreign_keys = {'ON' if before else 'OFF'}")

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One explicit transaction: committed at the end, rolled back on any exception."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # ----------------------------------------------------------------- runs
    @_guarded
    def start_run(self, command: Sequence[str] = (), settings: dict[str, Any] | None = None,
                  inputs: Sequence[dict[str, Any]] = ()) -> int:
        """Record that a run has started (status ``running``); return its ID.

        Give the screening result later with ``record_run(result, run_id=...)`` and the way
        it ended with :meth:`end_run`.  A run whose process is killed stays ``running``:
        it is never compared with, listed as the latest, or exported by default.
        """
        from tracker import __version__

        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO runs (started_at, finished_at, tool_version, command, settings,"
                " inputs, registry, counts, data_gaps, record, comparable_key, recorded_at,"
                " status, status_reason) VALUES (?, '', ?, ?, ?, ?, '{}', '{}', '{}', '{}',"
                " '', ?, 'running', '')",
                (_now(), __version__, _json_text(list(command)), _json_text(settings or {}),
                 _json_text(list(inputs)), _now()))
            return int(cur.lastrowid or 0)

    @_guarded
    def end_run(self, run_id: int, status: str, reason: str = "") -> None:
        """Say how a run ended: ``finished``, ``failed`` or ``interrupted`` (with why)."""
        if status not in RUN_STATUSES or status == "running":
            raise StoreError(f"run status {status!r} is not one of finished, failed, "
                             f"interrupted")
        with self._tx() as db:
            cur = db.execute(
                "UPDATE runs SET status = ?, status_reason = ?, finished_at = CASE WHEN"
                " finished_at = '' THEN ? ELSE finished_at END WHERE id = ?",
                (status, reason, _now(), run_id))
            if cur.rowcount == 0:
                raise StoreError(f"no run {run_id} in {self.path}")

    @_guarded
    def run_status(self, run_id: int) -> tuple[str, str]:
        """``(status, reason)`` of a run."""
        row = self._db.execute("SELECT status, status_reason FROM runs WHERE id = ?",
                               (run_id,)).fetchone()
        if row is None:
            raise StoreError(f"no run {run_id} in {self.path}")
        return str(row[0]), str(row[1])

    @_guarded
    @collector_paused()
    def record_run(self, result: ScreenResult, *, run_id: int | None = None,
                   registry: Registry | None = None,
                   progress: Callable[[int], None] | None = None) -> int:
        """Store a run and its findings; return the run's ID.

        Without ``run_id`` the run is stored as ``finished`` (a complete result).  With the
        ID :meth:`start_run` gave, that run's row gets the result and keeps its status until
        :meth:`end_run`.

        Also sets each finding's ``review_status`` (and ``extra["review"]``) from the latest
        decision on its tie, so reports of this run show decisions made earlier.  A
        decision saved on the tie's former ID (its registry entry has since absorbed
        another record: :meth:`Registry.current_entry_id`) carries over to the new ID as a
        decision of its own, whose ``source`` says where it came from (the audit trail).

        Parameters
        ----------
        registry : Registry, optional
            The registry the run screened against, for former entry IDs (default: the
            registry version the run record names, when it can be loaded).
        progress : callable, optional
            ``progress(done)``: how many findings are written so far, after each slice of
            them (the last call: all of them).
        """
        run = result.run
        values = (run.get("started_at", ""), run.get("finished_at", ""),
                  str(run.get("version", "")), _json_text(run.get("command", [])),
                  _json_text(run.get("settings", {})), _json_text(run.get("inputs", [])),
                  _json_text(run.get("registry", {})), _json_text(run.get("counts", {})),
                  _json_text(run.get("data_gaps", {})), _json_text(run), comparable_key(run),
                  _now())
        if len(result.findings) < _CHECKPOINT_AFTER:
            return self._record_run(result, run_id, registry, values, progress)
        (auto,) = self._db.execute("PRAGMA wal_autocheckpoint").fetchone()
        (sync,) = self._db.execute("PRAGMA synchronous").fetchone()
        self._db.execute("PRAGMA wal_autocheckpoint = 0")  # not at this commit
        self._db.execute("PRAGMA synchronous = NORMAL")  # see _COMMIT_UNSYNCED
        try:
            run_id = self._record_run(result, run_id, registry, values, progress)
        finally:
            self._db.execute(f"PRAGMA wal_autocheckpoint = {int(auto)}")
            self._db.execute(f"PRAGMA synchronous = {int(sync)}")
        self._checkpoint_later()
        return run_id

    def apply_reviews(self, result: ScreenResult, *, registry: Registry | None = None) -> None:
        """Give a run's findings the review status of the latest decision on their tie (or
        on its former ID), as :meth:`record_run` does, writing nothing: for files written
        before the run is recorded (:func:`tracker.runs.run` writes the finding files while
        it records the run).  :meth:`record_run` applies the decisions again, as they are
        when it records the run."""
        latest = self.latest_reviews()
        decided, carried = self._earlier_reviews(result, latest, registry)
        decided.update({fid: {"review_status": rev["status"], "extra": {"review": rev}}
                        for fid, _entry, _old, _old_entry, rev in carried})
        amend_findings(result.findings, decided)

    def _record_run(self, result: ScreenResult, run_id: int | None,
                    registry: Registry | None, values: tuple[Any, ...],
                    progress: Callable[[int], None] | None = None) -> int:
        with (self._page_cache(_RECORD_CACHE_KIB), self._foreign_keys_off(),
              self._tx() as db):
            latest = self.latest_reviews()
            decided, carried = self._earlier_reviews(result, latest, registry)
            amend_findings(result.findings, decided)
            if run_id is None:
                cur = db.execute(
                    "INSERT INTO runs (started_at, finished_at, tool_version, command,"
                    " settings, inputs, registry, counts, data_gaps, record, comparable_key,"
                    " recorded_at, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
                    " 'finished')", values)
                run_id = int(cur.lastrowid or 0)
            else:
                cur = db.execute(
                    "UPDATE runs SET started_at = ?, finished_at = ?, tool_version = ?,"
                    " command = ?, settings = ?, inputs = ?, registry = ?, counts = ?,"
                    " data_gaps = ?, record = ?, comparable_key = ?, recorded_at = ?"
                    " WHERE id = ?", (*values, run_id))
                if cur.rowcount == 0:
                    raise StoreError(f"no run {run_id} in {self.path}")
            changes: dict[str, dict[str, Any]] = {}
            self._record_slice(db, run_id, [c[0] for c in carried], [], [])
            for fid, entry_id, old_id, old_entry, rev in carried:  # ties first: the key
                self._insert_review(db, fid, rev["status"], rev["reviewer"],
                                    rev["reason"], f"carried over from {old_id} (registry "
                                    f"entry {old_entry} is now {entry_id})")
                changes[fid] = {"review_status": rev["status"],
                                "extra": {"review": self.review_of(fid) or rev}}
            amend_findings(result.findings, changes)
            ties: list[str] = []
            rows: list[tuple[Any, ...]] = []
            keys: list[tuple[Any, ...]] = []
            done = 0
            # rows bound as their UTF-8 bytes (see _finding_utf8) where the file keeps text so
            utf8 = db.execute("PRAGMA encoding").fetchone()[0] == "UTF-8"
            texts = _SearchTexts(db.execute(
                "SELECT text, text_id FROM finding_texts WHERE run_id = ?", (run_id,)))
            for f in result.findings:  # once, in slices: the texts are never all held
                ties.append(f.finding_id)
                row = _finding_utf8(f)
                rows.append((run_id, f.finding_id, row if utf8 else row.decode("utf-8")))
                keys.append(_key_row(run_id, f, texts))
                if len(rows) >= _RECORD_SLICE:
                    self._record_slice(db, run_id, ties, rows, keys, texts.take())
                    done += len(rows)
                    ties, rows, keys = [], [], []
                    if progress is not None:
                        progress(done)
            self._record_slice(db, run_id, ties, rows, keys, texts.take())
            if progress is not None and (rows or not done):
                progress(done + len(rows))
            db.execute("DELETE FROM finding_facets WHERE run_id = ?", (run_id,))
            db.execute(f"INSERT INTO finding_facets (run_id, {', '.join(FACET_COLUMNS)})"
                       f" SELECT DISTINCT run_id, {', '.join(FACET_COLUMNS)} FROM finding_keys"
                       f" WHERE run_id = ?", (run_id,))
        return run_id

    @staticmethod
    def _record_slice(db: sqlite3.Connection, run_id: int, ties: list[str],
                      rows: list[tuple[Any, ...]], keys: list[tuple[Any, ...]],
                      texts: Sequence[tuple[int, str]] = ()) -> None:
        """Write a slice of run ``run_id``'s findings: its ties (their finding IDs), rows,
        page keys and the search texts first met in it (:class:`_SearchTexts`).

        The ties go in one statement over a JSON array of their IDs (``json_each``): an
        upsert a row at a time (``executemany``) took about three times as long (788,020
        findings: 3.3 s against 1.2 s).  The rows and keys stay row by row: through
        ``json_each`` they took longer (23.0 s against 17.9 s, and 9.2 against 4.8)."""
        if ties:
            db.execute(
                "INSERT INTO ties (finding_id, first_run_id, last_run_id)"
                " SELECT value, ?1, ?1 FROM json_each(?2) WHERE true"
                " ON CONFLICT (finding_id) DO UPDATE SET last_run_id = excluded.last_run_id",
                (run_id, orjson.dumps(ties).decode("utf-8")))
        db.executemany("INSERT OR REPLACE INTO findings (run_id, finding_id, row)"
                       " VALUES (?, ?, CAST(? AS TEXT))", rows)
        db.executemany(
            f"INSERT OR REPLACE INTO finding_keys (run_id, finding_id,"
            f" {', '.join(KEY_COLUMNS)}, text_id)"
            f" VALUES ({', '.join('?' * (len(KEY_COLUMNS) + 3))})", keys)
        if texts:
            db.executemany("INSERT INTO finding_texts (run_id, text_id, text) VALUES (?, ?, ?)",
                           [(run_id, i, t) for i, t in texts])

    def _earlier_reviews(self, result: ScreenResult, latest: dict[str, dict[str, Any]],
                         registry: Registry | None
                         ) -> tuple[dict[str, dict[str, Any]],
                                    list[tuple[str, str, str, str, dict[str, Any]]]]:
        """In one pass over the findings: the changes that give findings with a decision
        that decision (for :func:`~tracker.findings.amend_findings`), and the findings
        without one whose tie has one under a former ID: ``(finding ID, its entry ID,
        former finding ID, former entry ID, that decision)``."""
        decided: dict[str, dict[str, Any]] = {}
        carried: list[tuple[str, str, str, str, dict[str, Any]]] = []
        if not latest:
            return decided, carried
        reg, looked = registry, registry is not None  # the run's registry, when first needed
        for f in result.findings:
            rev = latest.get(f.finding_id)
            if rev is not None:
                decided[f.finding_id] = {"review_status": rev["status"],
                                         "extra": {"review": rev}}
                continue
            if not looked:
                reg, looked = _run_registry(result.run), True
            if reg is None:
                continue
            found = [(latest[old_id]["at"], old_id, old_entry)
                     for old_id, old_entry in former_finding_ids(f, reg)
                     if old_id in latest and latest[old_id]["status"] != "unreviewed"]
            if found:
                _at, old_id, old_entry = max(found)
                carried.append((f.finding_id, f.entry_id, old_id, old_entry, latest[old_id]))
        return decided, carried

    @_guarded
    def runs(self) -> list[dict[str, Any]]:
        """Every run, oldest first: id, status (and why), times, version, command, counts,
        registry version."""
        out = []
        for r in self._db.execute("SELECT * FROM runs ORDER BY id"):
            registry = json.loads(r["registry"])
            settings = json.loads(r["settings"])
            out.append({
                "id": r["id"], "status": r["status"], "status_reason": r["status_reason"],
                "started_at": r["started_at"], "finished_at": r["finished_at"],
                "tool_version": r["tool_version"], "command": json.loads(r["command"]),
                "framework": settings.get("framework", "none"),
                "as_of": settings.get("as_of"),
                "registry_version": registry.get("version", ""),
                "counts": json.loads(r["counts"]),
            })
        return out

    @_guarded
    def run_record(self, run_id: int) -> dict[str, Any]:
        """The full run record as screening made it."""
        row = self._db.execute("SELECT record FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise StoreError(f"no run {run_id} in {self.path}")
        record: dict[str, Any] = json.loads(row[0])
        return record

    @_guarded
    def latest_run_id(self, *, finished_only: bool = True) -> int | None:
        """The newest finished run (any run with ``finished_only=False``), or None."""
        sql = "SELECT max(id) FROM runs" + (" WHERE status = 'finished'" if finished_only
                                            else "")
        row = self._db.execute(sql).fetchone()
        return int(row[0]) if row and row[0] is not None else None

    @_guarded
    def findings(self, run_id: int) -> list[dict[str, Any]]:
        """The finding rows of a run (as recorded, plus the current ``review_status``,
        ``review_reason``, ``reviewer`` and ``review_version``)."""
        return list(self.iter_findings(run_id))

    def iter_findings(self, run_id: int) -> Iterator[dict[str, Any]]:
        """The rows :meth:`findings` gives, one at a time, in the same order: a run of a
        million findings is never held whole (the review workbook's export, which held
        them as a list beside openpyxl's cells, took 10.2 GB at 788,020 findings).

        Raises
        ------
        StoreError
            No such run (at once, before the first row).
        CaseFileError
            SQLite cannot read the case file.
        """
        try:
            self._require_run(run_id)
            latest = self.latest_reviews()
        except sqlite3.Error as exc:
            raise _sqlite_problem(exc, self.path) from None
        return self._rows_in_order(run_id, latest)

    def _rows_in_order(self, run_id: int, latest: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """A run's rows in stored order, read along the table between the run's first and
        last row (a run's rows are written in one transaction, so they lie together).
        SQLite's own plan for ``WHERE run_id = ? ORDER BY rowid`` took the run's index and
        sorted every row it pointed to before giving the first: 788,020 findings (2.1 GB of
        rows) took 6.5 s to give 200,000 of them this way, 0.6 s along the table."""
        try:
            lo, hi = self._db.execute("SELECT min(rowid), max(rowid) FROM findings"
                                      " WHERE run_id = ?", (run_id,)).fetchone()
            if lo is None:
                return
            cur = self._db.execute("SELECT row, finding_id FROM findings NOT INDEXED"
                                   " WHERE rowid BETWEEN ? AND ? AND run_id = ?"
                                   " ORDER BY rowid", (lo, hi, run_id))
            while rows := cur.fetchmany(1000):
                for text, fid in rows:
                    yield self._with_review(text, latest.get(fid))
        except sqlite3.Error as exc:
            raise _sqlite_problem(exc, self.path) from None

    def _require_run(self, run_id: int) -> None:
        if self._db.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is None:
            raise StoreError(f"no run {run_id} in {self.path}")

    def findings_by_work(self, run_id: int, work_ids: Iterable[str] | None = None
                         ) -> Iterator[list[dict[str, Any]]]:
        """A run's finding rows as recorded (without review columns), one list per work
        (its findings in stored order), read from SQL as they are used: never the whole
        run in memory.  The works come in order of their IDs; ``work_ids``: only these.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> with tempfile.TemporaryDirectory() as d, Store(pathlib.Path(d) / "t.db") as s:
        ...     list(s.findings_by_work(1))
        Traceback (most recent call last):
        ...
        tracker.store.StoreError: no run 1 in ...t.db
        """
        self._require_run(run_id)
        only = ""
        params: list[Any] = [run_id]
        if work_ids is not None:
            only = " AND k.work_id IN (SELECT value FROM json_each(?))"
            params = [run_id, json.dumps(sorted(work_ids))]
        # in work order by the keys' work index (no sort of the run's rows; only the works
        # asked for are looked up), each work's rows then in stored order
        cur = self._db.execute(
            "SELECT k.work_id, f.row FROM finding_keys k INDEXED BY finding_keys_work"
            " JOIN findings f ON f.run_id = k.run_id AND f.finding_id = k.finding_id"
            f" WHERE k.run_id = ?{only} ORDER BY k.work_id, f.rowid", params)
        group: list[dict[str, Any]] = []
        current = None
        loads = orjson.loads
        while rows := cur.fetchmany(1000):
            for work_id, text in rows:
                if group and work_id != current:
                    yield group
                    group = []
                current = work_id
                group.append(loads(text))
        if group:
            yield group

    @staticmethod
    def _with_review(text: str, rev: Any) -> dict[str, Any]:
        """A stored finding row with its latest review (``rev``: a reviews row, or None or
        a row of NULLs when it has none)."""
        row: dict[str, Any] = json.loads(text)
        row["review_status"] = rev["status"] if rev and rev["status"] else "unreviewed"
        row["review_reason"] = rev["reason"] if rev and rev["status"] else ""
        row["reviewer"] = rev["reviewer"] if rev and rev["status"] else ""
        row["review_version"] = rev["version"] if rev and rev["status"] else 0
        return row

    @_guarded
    def findings_where(self, run_id: int, where: str = "", params: Sequence[Any] = (), *,
                       order: str = "f.rowid", limit: int | None = None, offset: int = 0,
                       text: str = "") -> tuple[list[dict[str, Any]], int]:
        """One page of a run's findings, filtered, ordered and cut in SQL (never the whole
        run in memory): the rows (as :meth:`findings` gives them) and how many match.

        ``where`` and ``order`` are SQL over ``k``, the finding's keys (the columns of
        ``finding_keys``: ``k.finding_id`` and :data:`KEY_COLUMNS`, indexed as the schema
        says), ``review_status`` (the latest decision, ``unreviewed`` if none) and ``f.row``
        (the finding's JSON, read with ``json_extract``: every row of the run is parsed,
        so only for what the keys do not hold); ``py_lower(text)`` is Python's
        ``str.lower``.  They are written by tracker's own code
        (:meth:`tracker.web.findings.FindingQuery.sql`), the values always bound as
        ``params``.

        The page's finding IDs are chosen on the keys alone (an ``OFFSET`` skips index
        entries, not JSON rows); only the page's rows and their decisions are then read.

        ``text`` keeps the findings whose institution name, list entry name or raw
        affiliation holds it (any case; :meth:`_text_sql`): the run's distinct texts are
        searched, not its rows.

        Examples
        --------
        >>> import tempfile, pathlib, tracker
        >>> res = tracker.screen(tracker.read_works(tracker.demo_works_path()),
        ...                      registry=tracker.load_registry())
        >>> with tempfile.TemporaryDirectory() as d, Store(pathlib.Path(d) / "t.db") as s:
        ...     rid = s.record_run(res)
        ...     rows, total = s.findings_where(rid, "k.list = ?", ["BIS_ENTITY_LIST"], limit=3)
        >>> len(rows), total == sum(f.list == "BIS_ENTITY_LIST" for f in res.findings)
        (3, True)
        """
        self._require_run(run_id)
        if text:
            found, more = self._text_sql(run_id, text)
            where, params = (f"({where}) AND {found}" if where else found), [*params, *more]
        sql, args = self._keys_sql(run_id, where, params, order)
        total = int(self._db.execute("SELECT count(*)" + sql, args).fetchone()[0])
        ids = [r[0] for r in self._db.execute(
            "SELECT k.finding_id" + sql + f" ORDER BY {order}"
            + (" LIMIT ? OFFSET ?" if limit is not None else ""),
            args + ([limit, max(offset, 0)] if limit is not None else []))]
        return self._rows_of(run_id, ids), total

    def _text_sql(self, run_id: int, text: str) -> tuple[str, list[Any]]:
        """SQL over ``k`` keeping the findings whose search text (institution name, list
        entry name and raw affiliation joined by spaces, lower-cased as Python does:
        :class:`_SearchTexts`) holds ``text`` lower-cased, and its values: among the run's
        distinct texts (``finding_texts``) where it has them, else (a run recorded before
        they were kept) in every JSON row of the run, the same texts read from each."""
        needle = text.lower()
        if self._db.execute("SELECT 1 FROM finding_texts WHERE run_id = ? LIMIT 1",
                            (run_id,)).fetchone() is not None:
            return ("k.text_id IN (SELECT t.text_id FROM finding_texts t WHERE t.run_id = ?"
                    " AND instr(t.text, ?) > 0)", [run_id, needle])
        fields_ = " || ' ' || ".join(f"coalesce(json_extract(f.row, '$.{n}'), '')" for n in
                                     ("institution_name", "list_entry_name", "raw_affiliation"))
        return f"instr(py_lower({fields_}), ?) > 0", [needle]

    @staticmethod
    def _keys_sql(run_id: int, where: str, params: Sequence[Any], order: str = ""
                  ) -> tuple[str, list[Any]]:
        """``FROM ... WHERE ...`` over a run's keys for :meth:`findings_where`, and its
        values.  SQLite flattens the subquery (``review_status`` is looked up only where
        it is used); the findings table is joined only when ``where`` or ``order`` reads
        ``f`` (SQLite would otherwise look every counted key up in it)."""
        row = (" LEFT JOIN findings f ON f.run_id = k.run_id AND f.finding_id = k.finding_id"
               if _USES_ROW.search(f"{where} {order}") else "")
        sql = (f" FROM (SELECT k.*, {_REVIEW_STATUS} AS review_status FROM finding_keys k) k"
               f"{row} WHERE k.run_id = ?" + (f" AND ({where})" if where else ""))
        return sql, [run_id, *params]

    def _rows_of(self, run_id: int, ids: Sequence[str]) -> list[dict[str, Any]]:
        """The rows of these findings of a run (as :meth:`findings` gives them), in the
        order given (an ID with no stored row is left out); each is looked up by its key."""
        if not ids:
            return []
        got = {r["finding_id"]: r for r in self._db.execute(
            "SELECT f.finding_id, f.row, l.status, l.reason, l.reviewer, l.version"
            " FROM findings f LEFT JOIN reviews l ON l.id = (SELECT max(x.id) FROM reviews x"
            " WHERE x.finding_id = f.finding_id)"
            " WHERE f.run_id = ? AND f.finding_id IN (SELECT value FROM json_each(?))",
            (run_id, json.dumps(list(ids))))}
        return [self._with_review(got[i]["row"], got[i]) for i in ids if i in got]

    @_guarded
    def findings_count(self, run_id: int) -> int:
        """How many findings a run has."""
        row = self._db.execute("SELECT count(*) FROM findings WHERE run_id = ?",
                               (run_id,)).fetchone()
        return int(row[0])

    @_guarded
    def finding(self, run_id: int, finding_id: str) -> dict[str, Any] | None:
        """One finding of a run (as :meth:`findings` gives it), or None."""
        r = self._db.execute("SELECT row FROM findings WHERE run_id = ? AND finding_id = ?",
                             (run_id, finding_id)).fetchone()
        return None if r is None else self._with_review(r["row"], self.review_of(finding_id))

    @_guarded
    def finding_values(self, run_id: int, columns: Sequence[str] = FACET_COLUMNS
                       ) -> list[tuple[Any, ...]]:
        """The distinct combinations of some of a run's key columns (for a filter's
        choices; names from :data:`FACET_COLUMNS`), read from ``finding_facets`` (kept
        when the run is recorded) rather than from every finding.

        Raises
        ------
        StoreError
            A name not in :data:`FACET_COLUMNS`.
        """
        unknown = [c for c in columns if c not in FACET_COLUMNS]
        if unknown or not columns:
            raise StoreError(f"no filter choices for {unknown or 'no columns'}: choose from "
                             f"{', '.join(FACET_COLUMNS)}")
        return [tuple(r) for r in self._db.execute(
            f"SELECT DISTINCT {', '.join(columns)} FROM finding_facets WHERE run_id = ?",
            (run_id,))]

    @_guarded
    def previous_comparable_run(self, result: ScreenResult, *,
                                before_run_id: int | None = None) -> int | None:
        """The latest finished run of the same screen (same inputs and settings, see
        :func:`comparable_key`), older than ``before_run_id`` when given.  Runs that
        failed, were interrupted or are still running (or were killed) never count.

        Call it before :meth:`record_run`, or pass the new run's ID as ``before_run_id``.
        """
        key = comparable_key(result.run)
        row = self._db.execute(
            "SELECT max(id) FROM runs WHERE comparable_key = ? AND status = 'finished'"
            " AND id < ?",
            (key, before_run_id if before_run_id is not None else 2**62)).fetchone()
        return int(row[0]) if row and row[0] is not None else None

    @_guarded
    def diff(self, run_a: int, run_b: int) -> dict[str, Any]:
        """What changed from run ``run_a`` to run ``run_b``.

        Returns
        -------
        dict
            ``run_a``, ``run_b``; ``new`` and ``gone`` (finding IDs); ``changed``: one
            ``{"finding_id", "changes": {field: {"before", "after"}}}`` per tie whose
            :data:`DIFF_FIELDS` differ (e.g. a list moved its listing date); ``counts``;
            ``unfinished``: ``{"run_id", "status", "reason"}`` of each of the two runs that
            did not finish (failed, interrupted, or still running), whose findings may be
            incomplete: a tie "gone" or "new" may then only be one a run never screened.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> with tempfile.TemporaryDirectory() as d, Store(pathlib.Path(d) / "t.db") as s:
        ...     a = s.start_run(["tracker", "screen"])
        ...     s.end_run(a, "finished")
        ...     b = s.start_run(["tracker", "screen"])
        ...     s.end_run(b, "failed", "WorksFileError: no records")
        ...     s.diff(a, b)["unfinished"]
        [{'run_id': 2, 'status': 'failed', 'reason': 'WorksFileError: no records'}]
        """
        # in SQL on the two runs' stored rows: only the rows whose text differs are read
        # into Python (a rerun of a million-finding run does not hold either run in memory)
        unfinished = []
        for rid in dict.fromkeys((run_a, run_b)):
            status, reason = self.run_status(rid)  # (no such run: StoreError)
            if status != "finished":
                unfinished.append({"run_id": rid, "status": status, "reason": reason})
        only = ("SELECT x.finding_id FROM findings x WHERE x.run_id = ? AND NOT EXISTS "
                "(SELECT 1 FROM findings y WHERE y.run_id = ? AND y.finding_id = x.finding_id)"
                " ORDER BY x.finding_id")
        new = [r[0] for r in self._db.execute(only, (run_b, run_a))]
        gone = [r[0] for r in self._db.execute(only, (run_a, run_b))]
        both = ("FROM findings a JOIN findings b ON b.run_id = ? AND b.finding_id = a.finding_id"
                " WHERE a.run_id = ?")
        common = self._db.execute(f"SELECT count(*) {both}", (run_b, run_a)).fetchone()[0]
        changed = []
        for fid, text_a, text_b in self._db.execute(
                f"SELECT a.finding_id, a.row, b.row {both} AND a.row <> b.row "
                "ORDER BY a.finding_id", (run_b, run_a)):
            ra, rb = json.loads(text_a), json.loads(text_b)
            ch = {k: {"before": ra.get(k, ""), "after": rb.get(k, "")}
                  for k in DIFF_FIELDS if ra.get(k, "") != rb.get(k, "")}
            if ch:
                changed.append({"finding_id": fid, "changes": ch})
        return {"run_a": run_a, "run_b": run_b, "new": new, "gone": gone, "changed": changed,
                "counts": {"new": len(new), "gone": len(gone), "changed": len(changed),
                           "unchanged": common - len(changed)},
                "unfinished": unfinished}

    def _rows_only_in(self, run_id: int, other: int, limit: int, *, order: str = "x.rowid"
                      ) -> list[dict[str, Any]]:
        """The first ``limit`` rows (in ``order``: stored order unless told, with their
        latest review) of the ties run ``run_id`` holds and run ``other`` does not."""
        ids = [r[0] for r in self._db.execute(
            "SELECT x.finding_id FROM findings x WHERE x.run_id = ? AND NOT EXISTS "
            "(SELECT 1 FROM findings y WHERE y.run_id = ? AND y.finding_id = x.finding_id) "
            f"ORDER BY {order} LIMIT ?", (run_id, other, limit))]
        return self._rows_of(run_id, ids)

    @_guarded
    def changes(self, run_a: int, run_b: int, *, limit: int = 500) -> dict[str, Any]:
        """:meth:`diff` with what a reader needs beside the IDs, for reports.

        Adds ``registry`` (the two registry versions and the list editions only one run
        used), ``gone_rows`` (the evidence of ties no longer found, from ``run_a``, at most
        ``limit``), ``new_rows`` (the evidence of the first ``limit`` new ties by ID, from
        ``run_b``), and ``changed_since_review`` (changed ties whose latest review decision
        was made on the earlier evidence).  Computed in SQL: neither run is read whole.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> with tempfile.TemporaryDirectory() as d, Store(pathlib.Path(d) / "t.db") as s:
        ...     s.changes(1, 2)
        Traceback (most recent call last):
        ...
        tracker.store.StoreError: no run 1 in ...t.db
        """
        d = self.diff(run_a, run_b)
        before = self.run_record(run_a).get("registry") or {}
        after = self.run_record(run_b).get("registry") or {}

        def editions(reg: dict[str, Any]) -> set[str]:
            return {f"{e.get('list')} {e.get('edition')}" for e in reg.get("editions") or []}

        keep = ("finding_id", *REVIEW_EVIDENCE, "review_status")
        d["gone_rows"] = [{k: r.get(k, "") for k in keep}
                          for r in self._rows_only_in(run_a, run_b, limit)]
        d["new_rows"] = self._rows_only_in(run_b, run_a, limit, order="x.finding_id")
        reviewed = {r[0] for r in self._db.execute("SELECT DISTINCT finding_id FROM reviews")}
        d["changed_since_review"] = [c["finding_id"] for c in d["changed"]
                                     if c["finding_id"] in reviewed]
        d["registry"] = {"before": before.get("version", ""), "after": after.get("version", ""),
                         "editions_added": sorted(editions(after) - editions(before)),
                         "editions_dropped": sorted(editions(before) - editions(after))}
        return d

    # ----------------------------------------------------------------- reviews
    @_guarded
    def latest_reviews(self) -> dict[str, dict[str, Any]]:
        """The latest decision per tie:
        ``{finding_id: {status, reason, reviewer, at, version}}``."""
        rows = self._db.execute(
            "SELECT r.finding_id, r.status, r.reason, r.reviewer, r.at, r.version FROM reviews r"
            " JOIN (SELECT finding_id, max(id) AS id FROM reviews GROUP BY finding_id) m"
            " ON r.id = m.id")
        return {r["finding_id"]: {"status": r["status"], "reason": r["reason"],
                                  "reviewer": r["reviewer"], "at": r["at"],
                                  "version": r["version"]} for r in rows}

    def review_of(self, finding_id: str) -> dict[str, Any] | None:
        """The latest decision on one tie (as in :meth:`latest_reviews`), or None."""
        r = self._db.execute(
            "SELECT status, reason, reviewer, at, version FROM reviews WHERE finding_id = ?"
            " ORDER BY id DESC LIMIT 1", (finding_id,)).fetchone()
        return dict(r) if r is not None else None

    @_guarded
    def review_history(self, finding_id: str) -> list[dict[str, Any]]:
        """Every decision on one tie, oldest first, with the status it replaced
        (``old_status``) and its ``version``: the tie's audit trail."""
        out = []
        old = "unreviewed"
        for r in self._db.execute(
                "SELECT status, reason, reviewer, at, source, version FROM reviews"
                " WHERE finding_id = ? ORDER BY id", (finding_id,)):
            out.append({**dict(r), "old_status": old})
            old = r["status"]
        return out

    def review_log(self, limit: int = 200) -> list[dict[str, Any]]:
        """The latest ``limit`` decisions on any tie, newest first (who, when, old -> new,
        reason, source, version)."""
        rows = self._db.execute(
            "SELECT r.finding_id, r.status, r.reason, r.reviewer, r.at, r.source, r.version,"
            " (SELECT p.status FROM reviews p WHERE p.finding_id = r.finding_id"
            "  AND p.version = r.version - 1) AS old_status"
            " FROM reviews r ORDER BY r.id DESC LIMIT ?", (max(0, limit),))
        return [{**dict(r), "old_status": r["old_status"] or "unreviewed"} for r in rows]

    def _check_review(self, finding_id: str, status: str, reviewer: str,
                      reason: str) -> str | None:
        """The problem with a decision, or None when it can be recorded."""
        if status not in REVIEW_STATUSES:
            return f"status {status!r} is not one of {', '.join(REVIEW_STATUSES)}"
        if status == "dismissed" and not reason.strip():
            return "a dismissal needs a reason"
        if not reviewer.strip():
            return "the reviewer's name is required"
        if self._db.execute("SELECT 1 FROM ties WHERE finding_id = ?",
                            (finding_id,)).fetchone() is None:
            return f"unknown finding ID {finding_id!r} (not in any recorded run)"
        return None

    def _insert_review(self, db: sqlite3.Connection, finding_id: str, status: str,
                       reviewer: str, reason: str, source: str, version: int = 0) -> None:
        """Append a decision as ``version`` (0: the tie's next version)."""
        if version <= 0:
            row = db.execute("SELECT coalesce(max(version), 0) FROM reviews"
                             " WHERE finding_id = ?", (finding_id,)).fetchone()
            version = int(row[0]) + 1
        db.execute("INSERT INTO reviews (finding_id, status, reason, reviewer, at, source,"
                   " version) VALUES (?, ?, ?, ?, ?, ?, ?)",
                   (finding_id, status, reason.strip(), reviewer.strip(), _now(), source,
                    version))

    @_guarded
    def set_review(self, finding_id: str, status: str, reviewer: str,
                   reason: str = "", *, based_on: int | None = None,
                   source: str = "set") -> int:
        """Record a decision on a tie (kept with the earlier ones; the latest wins).

        Parameters
        ----------
        finding_id, status, reviewer, reason : str
        based_on : int, optional
            The version of the tie's decision the reviewer saw (0: none yet).  When the tie
            has a newer decision, nothing is recorded.  None records on top of whatever is
            current (the command line's explicit ``review set``).
        source : str
            Where the decision came from (``set``, ``web``, ``import FILE`` ...).

        Returns
        -------
        int
            The new decision's version.

        Raises
        ------
        ReviewConflictError
            ``based_on`` is not the current version; the error carries the current decision.
        StoreError
            Unknown finding ID, a status not in :data:`REVIEW_STATUSES`, a dismissal
            without a reason, or no reviewer.
        """
        return self.set_reviews([(finding_id, status, reason, based_on)], reviewer,
                                source=source)[0]

    def set_reviews(self, decisions: list[tuple[str, str, str, int | None]], reviewer: str,
                    *, source: str = "set") -> list[int]:
        """Record several decisions ``(finding_id, status, reason, based_on)``: all, or none.

        Every decision is checked inside one write transaction, so a decision made by
        someone else in between is seen: if any ``based_on`` is stale, nothing is recorded
        and :class:`ReviewConflictError` lists every stale one with its current decision.

        Returns
        -------
        list of int
            The new versions, in the order given.

        Examples
        --------
        >>> import tempfile, tracker
        >>> from pathlib import Path
        >>> res = tracker.screen(tracker.read_works(tracker.demo_works_path()),
        ...                      registry=tracker.load_registry())
        >>> with tempfile.TemporaryDirectory() as d, Store(Path(d) / "t.db") as st:
        ...     _ = st.record_run(res)
        ...     fid = res.findings[0].finding_id
        ...     first = st.set_reviews([(fid, "confirmed", "", 0)], "A. Reviewer")
        ...     try:   # B. read the tie before A. decided: refused, A.'s decision is kept
        ...         st.set_reviews([(fid, "dismissed", "other campus", 0)], "B. Reviewer")
        ...     except ReviewConflictError as exc:
        ...         stale = exc.conflicts[0].current["reviewer"]
        ...     (first, stale, st.review_of(fid)["status"])
        ([1], 'A. Reviewer', 'confirmed')
        """
        problems = [f"{fid}: {p}" for fid, status, reason, _ in decisions
                    if (p := self._check_review(fid, status, reviewer, reason))]
        if problems:
            raise StoreError("review not recorded: " + "; ".join(problems[:3])
                             + (f" (and {len(problems) - 3} more)" if len(problems) > 3
                                else ""))
        seen: set[str] = set()
        for fid, *_ in decisions:
            if fid in seen:
                raise StoreError(f"review not recorded: finding {fid} is given twice")
            seen.add(fid)
        versions: list[int] = []
        try:
            with self._tx() as db:
                conflicts = []
                current: dict[str, int] = {}
                for fid, status, _, based_on in decisions:
                    cur = self.review_of(fid)
                    now = int(cur["version"]) if cur else 0
                    current[fid] = now
                    if based_on is not None and based_on != now:
                        conflicts.append(ReviewConflict(fid, based_on, cur, status))
                if conflicts:
                    raise ReviewConflictError(conflicts)
                for fid, status, reason, _ in decisions:
                    self._insert_review(db, fid, status, reviewer, reason, source,
                                        current[fid] + 1)
                    versions.append(current[fid] + 1)
        except sqlite3.IntegrityError as exc:  # another writer took the same version
            raise StoreError(f"review not recorded: another decision was recorded at the "
                             f"same moment; reload and try again ({exc})") from None
        return versions


def former_finding_ids(finding: Finding, registry: Registry) -> list[tuple[str, str]]:
    """The IDs the same tie had before its registry entry absorbed other records:
    ``(former finding ID, former entry ID)`` for every ID in the entry's ``merged_from``.

    A finding ID hashes the work, the author, the institution key and the entry ID (see
    :func:`tracker.risk.finding_id`); the institution key is one of the row's institution
    IDs or RORs, or its raw string, so each is tried and the one that gives back the
    finding's own ID is used.

    Examples
    --------
    >>> from tracker.watchlists import ListEntry
    >>> from tracker.risk import finding_id
    >>> e = ListEntry(entry_id="X:a", list="X", name="A", merged_from=("X:old",))
    >>> reg = Registry([e], lists=[], editions=[], version="t")
    >>> a = Authorship(index=0, author_id="A1")
    >>> f = Finding(finding_id("W1", a, "I9", "X:a"), "W1", "", "", "", "A1", "", "",
    ...             "", "I9", "", "", "X", "A", "", "yes", "openalex_id", "", "",
    ...             entry_id="X:a")
    >>> former_finding_ids(f, reg) == [(finding_id("W1", a, "I9", "X:old"), "X:old")]
    True
    """
    from tracker.risk import finding_id

    entry = registry.entry_index.get(finding.entry_id)
    if entry is None or not entry.merged_from:
        return []
    auth = Authorship(index=int(finding.extra.get("authorship_index", 0) or 0),
                      author_id=finding.author_id or None)
    keys = [k.strip() for k in (*finding.institution_id.split("|"),
                                *finding.institution_ror.split("|")) if k.strip()]
    keys.append("raw:" + finding.raw_affiliation)
    inst = next((k for k in keys if finding_id(finding.work_id, auth, k, finding.entry_id)
                 == finding.finding_id), None)
    if inst is None:
        return []
    return [(finding_id(finding.work_id, auth, inst, old), old) for old in entry.merged_from]


def _run_registry(run: dict[str, Any]) -> Registry | None:
    """The registry version a run record names (a user watchlist left out), or None when
    it cannot be loaded here."""
    from tracker.registry_versions import VersionStore
    from tracker.watchlists import RegistryError, load_registry

    version = str((run.get("registry") or {}).get("version", "")).split("+", 1)[0]
    if not version:
        return None
    try:
        bundled = load_registry()
        if version == bundled.version:
            return bundled
        return VersionStore(bundled=bundled).load(version)
    except (RegistryError, OSError):
        return None


#: A finding's row fields in sorted order, read in one C call: the order its stored text
#: has them in (:func:`_finding_utf8`).
_SORTED_FIELDS = tuple(sorted(x.name for x in fields(Finding) if x.name != "extra"))
_SORTED_VALUES = attrgetter(*_SORTED_FIELDS)
_PRESORTED_OPTIONS = _JSON_OPTIONS & ~orjson.OPT_SORT_KEYS


def _finding_utf8(f: Finding) -> bytes:
    """A finding's stored row, as ``_json_text(_finding_json(f))`` writes it (keys sorted),
    in UTF-8: built in sorted order where it has no ``extra`` to store, so that orjson need
    not sort every row's keys (300,000 of a million-work run's rows: 1.85–1.88 s against
    1.37–1.40 s, on the main thread, whose case file the rest of the report folder waits
    for).

    Bytes, not text: :meth:`Store.record_run` binds them as text (``CAST(? AS TEXT)``: in a
    UTF-8 case file SQLite stores those bytes as the text), so a row is neither decoded
    here nor encoded again by the sqlite3 module (a row is about 2.4 KB).

    Examples
    --------
    >>> from tracker.risk import Finding
    >>> f = Finding(finding_id="f1", work_id="W1", doi="", title="T", publication_date="",
    ...             author_id="", author_name="", author_position="", raw_affiliation="",
    ...             institution_id="I1", institution_ror="", institution_name="U",
    ...             list="L", list_entry_name="U", listed_on="", listed_at_publication="unknown",
    ...             match_method="openalex_id", match_detail="", outcome="review")
    >>> _finding_utf8(f).decode("utf-8") == _json_text(_finding_json(f))
    True
    """
    extra = f.extra
    if type(f) is not Finding or (extra and (len(extra) > 1 or "review" not in extra)):
        return _json_utf8(_finding_json(f))
    return orjson.dumps(dict(zip(_SORTED_FIELDS, _SORTED_VALUES(f), strict=True)),
                        default=str, option=_PRESORTED_OPTIONS)


def _finding_json(f: Finding) -> dict[str, Any]:
    row = f.row()
    extra = {k: v for k, v in f.extra.items() if k != "review"}
    if extra:
        row["extra"] = extra
    return row


# --------------------------------------------------------------------------- works & rescreens
# The works a run screened, kept so the run can be screened again against a newer
# registry version with no API call, and the change reports of those rescreens.
#
#   run_works(run_id PK -> runs, n_works, sha256, data)   data: zlib-compressed JSON lines
#   rescreens(id, run_id -> runs, new_run_id -> runs, at, registry_from, registry_to,
#             changed, report)

_WORKS_SCHEMA = """
CREATE TABLE IF NOT EXISTS run_works (
    run_id INTEGER PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
    n_works INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    data BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS rescreens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id INTEGER NOT NULL REFERENCES runs (id),
    new_run_id INTEGER REFERENCES runs (id),
    at TEXT NOT NULL,
    registry_from TEXT NOT NULL,
    registry_to TEXT NOT NULL,
    changed INTEGER NOT NULL,
    report TEXT NOT NULL
);
"""


def _ensure_works_tables(store: Store) -> None:
    store._db.executescript("BEGIN IMMEDIATE;" + _WORKS_SCHEMA + "COMMIT;")


def _d_or_none(value: Any) -> Any:
    from datetime import date as _date

    return _date.fromisoformat(value) if isinstance(value, str) and value else None


def work_to_json(work: Work) -> dict[str, Any]:
    """A screened work as plain JSON (see :func:`work_from_json`)."""
    return {
        "id": work.id, "doi": work.doi, "title": work.title,
        "publication_date": work.publication_date.isoformat() if work.publication_date
        else None,
        "publication_year": work.publication_year, "type": work.type,
        "is_authors_truncated": work.is_authors_truncated,
        "topics": list(work.topics), "keywords": list(work.keywords),
        "created_date": work.created_date.isoformat() if work.created_date else None,
        "fields_present": sorted(work.fields_present),
        "authorships": [{
            "index": a.index, "author_id": a.author_id, "author_name": a.author_name,
            "orcid": a.orcid, "author_position": a.author_position,
            "institutions": [{"id": i.id, "display_name": i.display_name, "ror": i.ror,
                              "country_code": i.country_code, "type": i.type,
                              "lineage": list(i.lineage)} for i in a.institutions],
            "raw_affiliations": list(a.raw_affiliations),
            "affiliations": [[s, list(ids)] for s, ids in a.affiliations],
            "countries": list(a.countries), "is_corresponding": a.is_corresponding,
        } for a in work.authorships],
    }


def work_from_json(d: dict[str, Any]) -> Work:
    """The work :func:`work_to_json` wrote."""
    return Work(
        id=d["id"], doi=d.get("doi"), title=d.get("title"),
        publication_date=_d_or_none(d.get("publication_date")),
        publication_year=d.get("publication_year"), type=d.get("type"),
        is_authors_truncated=d.get("is_authors_truncated"),
        topics=tuple(d.get("topics", ())), keywords=tuple(d.get("keywords", ())),
        created_date=_d_or_none(d.get("created_date")),
        fields_present=frozenset(d.get("fields_present", ())),
        authorships=tuple(Authorship(
            index=a["index"], author_id=a.get("author_id"), author_name=a.get("author_name"),
            orcid=a.get("orcid"), author_position=a.get("author_position"),
            institutions=tuple(InstitutionRef(
                id=i.get("id"), display_name=i.get("display_name"), ror=i.get("ror"),
                country_code=i.get("country_code"), type=i.get("type"),
                lineage=tuple(i.get("lineage", ()))) for i in a.get("institutions", ())),
            raw_affiliations=tuple(a.get("raw_affiliations", ())),
            affiliations=tuple((s, tuple(ids)) for s, ids in a.get("affiliations", ())),
            countries=tuple(a.get("countries", ())), is_corresponding=a.get("is_corresponding"),
        ) for a in d.get("authorships", ())),
    )


#: What ISA-L raises on data that does not inflate (its stubs type it as an instance).
_INFLATE_ERROR = cast("type[Exception]", isal_zlib.error)
#: Bytes of works' JSON lines compressed at a time by :func:`store_run_works`.
_WORKS_CHUNK = 1 << 20


class WorksPacker:
    """Works packed for the case file as they come (:func:`store_run_works`): JSON lines
    (:func:`work_to_json`, keys sorted, each line ended by ``\\n``) compressed by ISA-L's
    deflate in 1 MB chunks; only the compressed text is held.  :meth:`done` ends the piece
    at a byte boundary without ending the stream, so the pieces of consecutive shares
    screened in other processes join into one stream (:func:`store_packed_works`; pigz
    compresses on several cores the same way): a run's works are then kept by the
    processes that read them for screening, with no second reading of the files.

    Examples
    --------
    >>> packer = WorksPacker()
    >>> packer.n
    0
    >>> packer.done()[0]
    0
    """

    def __init__(self) -> None:
        self._pack = isal_zlib.compressobj(2, isal_zlib.DEFLATED, -15)  # raw deflate
        self._chunk = bytearray()
        self._out: list[bytes] = []
        self.n = 0

    def add(self, work: Work) -> None:
        """Pack one work."""
        self._chunk += orjson.dumps(work_to_json(work), option=orjson.OPT_SORT_KEYS)
        self._chunk += b"\n"
        self.n += 1
        if len(self._chunk) >= _WORKS_CHUNK:
            self._out.append(self._pack.compress(self._chunk))
            self._chunk = bytearray()

    def done(self) -> tuple[int, bytes]:
        """``(works, their compressed text)``: a piece :func:`store_packed_works` joins."""
        self._out.append(self._pack.compress(self._chunk))
        self._out.append(self._pack.flush(isal_zlib.Z_SYNC_FLUSH))
        self._chunk = bytearray()
        return self.n, b"".join(self._out)


def store_run_works(store: Store, run_id: int, works: Iterable[Work]) -> int:
    """Keep the works run ``run_id`` screened (compressed), for a later rescreen.

    The works are packed as they come (:class:`WorksPacker`): only the compressed text is
    held.  Compressed by ISA-L (:mod:`isal.isal_zlib`, into the zlib format, which
    :class:`StoredWorks` reads, by ISA-L too): 100,000 generated works took 42.3 s and
    2.7 GB to keep when the text was built whole by :mod:`json` and compressed by zlib at
    level 6; 15,000 works' 81 MB of text compress in 0.11 s against 1.32 s, into 11.2 MB
    against 9.1 MB.

    Returns
    -------
    int
        The number of works stored.

    Raises
    ------
    StoreError
        No such run.
    """
    packer = WorksPacker()
    for w in works:
        packer.add(w)
    return store_packed_works(store, run_id, [packer.done()])


def store_packed_works(store: Store, run_id: int, pieces: Sequence[tuple[int, bytes]]
                       ) -> int:
    """Keep the works of run ``run_id`` from :meth:`WorksPacker.done` pieces of consecutive
    works, in their order: one zlib stream, as :func:`store_run_works` keeps them.

    Why by hand: the zlib format is a two-byte header, deflate blocks, and the Adler-32 of
    the text; Python's :mod:`zlib` joins no streams made apart.  The pieces' blocks end at
    a byte boundary and refer only to their own text, so header + pieces + an empty final
    block + Adler-32 is the stream one compressor would have written with flushes.  The
    joined pieces are decompressed once here, for the text's SHA-256 and Adler-32 and its
    count of lines (one a work: a piece that lost or gained a line is refused).

    Returns
    -------
    int
        The number of works stored.

    Raises
    ------
    StoreError
        No such run.
    ValueError
        The pieces do not hold the works they count, or do not inflate.
    """
    import hashlib
    import zlib

    _ensure_works_tables(store)
    store._require_run(run_id)
    header = zlib.compressobj(2).flush()[:2]
    final = zlib.compressobj(2, zlib.DEFLATED, -15).flush()  # an empty last block
    # ISA-L (the pass below, 100,000 works: 0.92 s; 1.35-1.42 s by zlib)
    digest, adler, lines, unpack = hashlib.sha256(), isal_zlib.adler32(b""), 0, \
        isal_zlib.decompressobj(-15)
    try:
        for _, data in pieces:
            for at in range(0, len(data), _WORKS_CHUNK):
                text = unpack.decompress(data[at:at + _WORKS_CHUNK])
                digest.update(text)
                adler = isal_zlib.adler32(text, adler)
                lines += text.count(b"\n")
        if unpack.decompress(final) or not unpack.eof:
            raise ValueError("the packed works do not end where their pieces end")
    except _INFLATE_ERROR as exc:
        raise ValueError(f"the packed works do not inflate ({exc})") from None
    n = sum(k for k, _ in pieces)
    if lines != n:
        raise ValueError(f"the packed works hold {lines} lines for {n} works")
    blob = b"".join([header, *(data for _, data in pieces), final, adler.to_bytes(4, "big")])
    with store._tx() as db:
        db.execute("INSERT OR REPLACE INTO run_works (run_id, n_works, sha256, data) "
                   "VALUES (?, ?, ?, ?)", (run_id, n, digest.hexdigest(), blob))
    return n


@dataclass(frozen=True)
class StoredWorks:
    """The works kept with a run, as the case file holds them: JSON lines (one work a
    line, :func:`work_to_json`), compressed, with their number and SHA-256.

    Read as they are decompressed (:meth:`works`), never all at once: a run of 100,000
    generated works is about 77 MB compressed and 540 MB of text, and its works as
    objects took 2.9 GB when :func:`run_works` built them all.  :meth:`shares` cuts them
    into consecutive shares for :func:`tracker.screening.screen_shares`.
    """

    run_id: int
    n_works: int
    sha256: str
    data: bytes
    #: the case file, for messages
    path: str = ""

    def lines(self, stop: int | None = None, *, verify: bool = True) -> Iterator[bytes]:
        """The stored lines in order, up to line ``stop`` (None: all).  With ``verify``
        the text is read to its end and its SHA-256 checked after the last line given.

        The lines are split at ``\\n`` alone: a line break in a text is written escaped;
        U+2028 or U+0085 in a title is written as it is, and splitting the decoded text at
        every Unicode line boundary cut such a work in two.

        Raises
        ------
        StoreError
            The stored works are damaged (they do not decompress, or the hash differs).
        """
        import hashlib

        # ISA-L (100,000 works' lines: 1.15-1.18 s; 1.39-1.40 s by zlib)
        digest, unpack = hashlib.sha256(), isal_zlib.decompressobj()
        rest, n, step = b"", 0, _WORKS_CHUNK
        last = len(self.data) + step  # where the loop below ends: the flush after it
        for at in range(0, last, step):
            try:
                text = (unpack.decompress(self.data[at:at + step]) if at < len(self.data)
                        else unpack.flush())
            except _INFLATE_ERROR as exc:
                raise self._damaged() from exc
            if verify:
                digest.update(text)
            if stop is not None and n >= stop:
                if not verify:
                    return
                continue  # only the hash is still wanted
            *complete, rest = (rest + text).split(b"\n")
            if at + step >= last:  # the end: the last line has no break after it
                complete.append(rest)
            for line in complete:
                if line.strip() and (stop is None or n < stop):
                    n += 1
                    yield line
        if verify and (not unpack.eof or digest.hexdigest() != self.sha256):
            raise self._damaged()

    def works(self, start: int = 0, stop: int | None = None, *,
              verify: bool = True) -> Iterator[Work]:
        """The works from the ``start``-th up to the ``stop``-th (None: to the last), parsed
        one at a time (the lines before ``start`` are split, not parsed).  ``verify``: as
        for :meth:`lines`.

        Raises
        ------
        StoreError
            The stored works are damaged (see :meth:`lines`; or a line is not a work).
        """
        for i, line in enumerate(self.lines(stop, verify=verify)):
            if i >= start:
                try:
                    yield work_from_json(orjson.loads(line))
                except (orjson.JSONDecodeError, KeyError, TypeError, ValueError,
                        AttributeError) as exc:
                    raise self._damaged() from exc

    def shares(self, parts: int) -> list[Callable[[], Iterator[Work]]]:
        """The works in ``parts`` consecutive shares of about the same number of works,
        for :func:`tracker.screening.screen_shares` (each share decompresses the text up to
        its end; the first reads it to the end and checks the hash).

        Examples
        --------
        >>> stored = StoredWorks(1, 0, "", b"")
        >>> len(stored.shares(2))
        2
        """
        parts = max(1, int(parts))
        cuts: list[int | None] = [self.n_works * k // parts for k in range(parts)]
        cuts.append(None)  # the last share reads to the end, whatever the count says
        return [functools.partial(self.works, cuts[k] or 0, cuts[k + 1], verify=k == 0)
                for k in range(parts)]

    def _damaged(self) -> StoreError:
        return StoreError(f"{self.path}: the works stored with run {self.run_id} are damaged")


def stored_works(store: Store, run_id: int) -> StoredWorks | None:
    """The works stored with run ``run_id`` (:class:`StoredWorks`); None when none were
    stored."""
    _ensure_works_tables(store)
    row = store._db.execute("SELECT n_works, sha256, data FROM run_works WHERE run_id = ?",
                            (run_id,)).fetchone()
    if row is None:
        return None
    return StoredWorks(run_id, int(row["n_works"]), row["sha256"], bytes(row["data"]),
                       str(store.path))


def run_works(store: Store, run_id: int) -> list[Work] | None:
    """The works stored with run ``run_id``, all of them in a list (:func:`stored_works`
    reads them one at a time); None when none were stored.

    Raises
    ------
    StoreError
        The stored works are damaged (hash mismatch).
    """
    stored = stored_works(store, run_id)
    if stored is None:
        return None
    return list(stored.works())


def runs_with_works(store: Store) -> list[int]:
    """IDs of the runs whose works are stored, oldest first."""
    _ensure_works_tables(store)
    return [int(r[0]) for r in store._db.execute("SELECT run_id FROM run_works ORDER BY run_id")]


def latest_comparable_runs(store: Store) -> list[int]:
    """The newest finished run of each kind (runs of one :func:`comparable_key`: the same
    inputs, subjects and settings), oldest first, leaving out the runs rescreens recorded:
    the cases a case file holds, each as it was last screened.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as d, Store(pathlib.Path(d) / "t.db") as s:
    ...     for _ in range(3):
    ...         s.end_run(s.start_run(["tracker", "screen"]), "finished")
    ...     latest_comparable_runs(s)
    [3]
    """
    _ensure_works_tables(store)
    made = {r["new_run_id"] for r in rescreens(store) if r["new_run_id"] is not None}
    latest: dict[str, int] = {}
    for rid, key in store._db.execute(
            "SELECT id, comparable_key FROM runs WHERE status = 'finished' ORDER BY id"):
        if rid not in made:
            latest[key] = int(rid)
    return sorted(latest.values())


def record_rescreen(store: Store, run_id: int, new_run_id: int | None, *,
                    registry_from: str, registry_to: str, changed: bool,
                    report: dict[str, Any]) -> int:
    """Keep a rescreen's change report; return its ID."""
    _ensure_works_tables(store)
    with store._tx() as db:
        cur = db.execute(
            "INSERT INTO rescreens (run_id, new_run_id, at, registry_from, registry_to, "
            "changed, report) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (run_id, new_run_id, _now(), registry_from, registry_to, int(changed),
             _json_text(report)))
        return int(cur.lastrowid or 0)


def rescreens(store: Store, run_id: int | None = None) -> list[dict[str, Any]]:
    """Stored rescreen reports (of one run, or all), oldest first."""
    _ensure_works_tables(store)
    sql = "SELECT * FROM rescreens" + (" WHERE run_id = ?" if run_id is not None else "")
    rows = store._db.execute(sql + " ORDER BY id", (() if run_id is None else (run_id,)))
    return [{"id": r["id"], "run_id": r["run_id"], "new_run_id": r["new_run_id"],
             "at": r["at"], "registry_from": r["registry_from"],
             "registry_to": r["registry_to"], "changed": bool(r["changed"]),
             "report": json.loads(r["report"])} for r in rows]


# --------------------------------------------------------------------------- drawn pages
# A page of the review workspace drawn from a finished run, whose findings never change:
# kept with the run, so that it is drawn once per case file rather than once each time the
# workspace starts (the network page of 788,020 findings: 15-23 s to draw, read back at
# once).
#
#   run_pages(run_id -> runs, name, stamp, data)   stamp: what the page was drawn from

_PAGES_SCHEMA = """
CREATE TABLE IF NOT EXISTS run_pages (
    run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    stamp TEXT NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (run_id, name)
)"""


def saved_page(store: Store, run_id: int, name: str, stamp: str) -> bytes | None:
    """The page ``name`` of run ``run_id`` kept by :func:`save_page`, if it was drawn from
    what ``stamp`` names (else None: drawn from something else, or never kept).

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d, Store(Path(d) / "c.db") as st:
    ...     rid = st.start_run(["tracker", "screen"])
    ...     save_page(st, rid, "network", "v1", b"{}")
    ...     saved_page(st, rid, "network", "v1"), saved_page(st, rid, "network", "v2")
    (b'{}', None)
    """
    try:
        row = store._db.execute("SELECT data FROM run_pages WHERE run_id = ? AND name = ? "
                                "AND stamp = ?", (run_id, name, stamp)).fetchone()
    except sqlite3.OperationalError:  # no such table: a case file no page was kept in
        return None
    return None if row is None else bytes(row["data"])


def save_page(store: Store, run_id: int, name: str, stamp: str, data: bytes) -> None:
    """Keep page ``name`` of run ``run_id`` as drawn from what ``stamp`` names (replacing
    the one kept before): see :func:`saved_page`."""
    with store._tx() as db:  # the table made in the same transaction, where none is yet
        db.execute(_PAGES_SCHEMA)
        db.execute("INSERT OR REPLACE INTO run_pages (run_id, name, stamp, data) "
                   "VALUES (?, ?, ?, ?)", (run_id, name, stamp, data))
