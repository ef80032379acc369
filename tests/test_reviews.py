"""Review decisions that are never lost: versions per tie, stale writes refused with the
current decision, workbook import conflicts (issue 24), the schema-1 migration, and
concurrent reviewers in threads and in separate processes."""

from __future__ import annotations

import itertools
import multiprocessing
import sqlite3
import threading
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
from openpyxl import load_workbook

import tracker
from tracker.reviews import (
    WORKBOOK_COLUMNS,
    ImportConflictError,
    export_workbook,
    import_workbook,
)
from tracker.store import (
    SCHEMA_VERSION,
    ReviewConflictError,
    ReviewImportError,
    Store,
    StoreError,
)


@pytest.fixture(scope="module")
def result():
    """The bundled real OpenAlex demo works, screened against the bundled registry."""
    return tracker.screen(tracker.read_works(tracker.demo_works_path()),
                          registry=tracker.load_registry())


@pytest.fixture
def store(tmp_path, result):
    with Store(tmp_path / "case.db") as st:
        st.record_run(result)
        yield st


def _edit(path: Path, edits: dict[int, tuple[str, str]]) -> None:
    """Set (status, reason) on data rows (1 = first finding) of a workbook."""
    wb = load_workbook(path)
    ws = wb["reviews"]
    for n, (status, reason) in edits.items():
        ws.cell(row=n + 1, column=WORKBOOK_COLUMNS.index("status") + 1).value = status
        ws.cell(row=n + 1, column=WORKBOOK_COLUMNS.index("reason") + 1).value = reason
    wb.save(path)


def _fid(path: Path, n: int) -> str:
    return str(load_workbook(path)["reviews"].cell(row=n + 1, column=1).value)


# --------------------------------------------------------------------------- versions

def test_each_decision_gets_the_next_version_and_a_stale_write_is_refused(store, result):
    fid = result.findings[0].finding_id
    assert store.review_of(fid) is None
    assert store.set_review(fid, "confirmed", "A. Reviewer", based_on=0) == 1
    assert store.set_review(fid, "needs_follow_up", "A. Reviewer", "ask the PI",
                            based_on=1) == 2
    with pytest.raises(ReviewConflictError) as err:
        store.set_review(fid, "dismissed", "B. Reviewer", "other campus", based_on=1)
    (c,) = err.value.conflicts
    assert (c.finding_id, c.based_on, c.current["status"], c.current["version"],
            c.current["reviewer"]) == (fid, 1, "needs_follow_up", 2, "A. Reviewer")
    assert "now needs_follow_up by A. Reviewer" in str(err.value)
    assert [h["version"] for h in store.review_history(fid)] == [1, 2]
    assert [(h["old_status"], h["status"]) for h in store.review_history(fid)] == [
        ("unreviewed", "confirmed"), ("confirmed", "needs_follow_up")]
    log = store.review_log()
    assert [(e["finding_id"], e["old_status"], e["status"]) for e in log] == [
        (fid, "confirmed", "needs_follow_up"), (fid, "unreviewed", "confirmed")]


def test_a_bulk_write_with_one_stale_decision_records_none(store, result):
    a, b, c = (f.finding_id for f in result.findings[:3])
    store.set_review(b, "confirmed", "A. Reviewer", based_on=0)
    with pytest.raises(ReviewConflictError) as err:
        store.set_reviews([(a, "dismissed", "not the unit", 0),
                           (b, "dismissed", "not the unit", 0),
                           (c, "dismissed", "not the unit", 0)], "B. Reviewer")
    assert [x.finding_id for x in err.value.conflicts] == [b]
    assert set(store.latest_reviews()) == {b}
    assert store.set_reviews([(a, "dismissed", "not the unit", 0),
                              (b, "dismissed", "not the unit", 1)], "B. Reviewer") == [1, 2]


def test_the_database_itself_refuses_a_second_decision_on_the_same_version(store, result):
    fid = result.findings[0].finding_id
    store.set_review(fid, "confirmed", "A. Reviewer")
    db = sqlite3.connect(store.path)
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
        db.execute("INSERT INTO reviews (finding_id, status, reason, reviewer, at, source,"
                   " version) VALUES (?, 'dismissed', 'x', 'B', 't', 'sql', 1)", (fid,))
    db.close()


# --------------------------------------------------------------------------- workbooks

def test_an_older_copy_never_undoes_a_newer_decision(store, tmp_path):
    """Issue 24: A confirms a tie; B imports an older copy of the same export, in which
    that row was not touched.  Before versions, A's decision went back to "unreviewed"
    under B's name and the tool reported two decisions recorded."""
    first = export_workbook(store, tmp_path / "a.xlsx", 1)
    second = export_workbook(store, tmp_path / "b.xlsx", 1)
    _edit(first, {1: ("confirmed", "")})
    assert import_workbook(store, first, "A. Reviewer").recorded == 1
    _edit(second, {2: ("dismissed", "a hospital of the same name")})
    got = import_workbook(store, second, "B. Reviewer")
    assert (got.recorded, got.stale_untouched, got.conflicts) == (1, 1, [])
    latest = store.latest_reviews()
    assert latest[_fid(first, 1)]["status"] == "confirmed"
    assert latest[_fid(first, 1)]["reviewer"] == "A. Reviewer"
    assert latest[_fid(second, 2)]["status"] == "dismissed"


def test_the_store_import_of_an_older_copy_keeps_the_newer_decision(store, tmp_path):
    """The same, through the Store methods the command line used before: this failed
    (the older copy reset A's decision to "unreviewed" under B's name)."""
    first = export_workbook(store, tmp_path / "a.xlsx", 1)
    second = export_workbook(store, tmp_path / "b.xlsx", 1)
    _edit(first, {1: ("confirmed", "")})
    assert import_workbook(store, first, "A. Reviewer").counts()["recorded"] == 1
    _edit(second, {2: ("dismissed", "a hospital of the same name")})
    assert import_workbook(store, second, "B. Reviewer").counts()["recorded"] == 1
    kept = store.latest_reviews()[_fid(first, 1)]
    assert (kept["status"], kept["reviewer"]) == ("confirmed", "A. Reviewer")


def test_an_edit_on_top_of_an_older_decision_refuses_the_file(store, tmp_path):
    first = export_workbook(store, tmp_path / "a.xlsx", 1)
    second = export_workbook(store, tmp_path / "b.xlsx", 1)
    _edit(first, {1: ("confirmed", "")})
    import_workbook(store, first, "A. Reviewer")
    _edit(second, {1: ("dismissed", "other campus"), 3: ("confirmed", "")})
    with pytest.raises(ImportConflictError) as err:
        import_workbook(store, second, "B. Reviewer")
    (c,) = err.value.conflicts
    assert (c.row, c.finding_id, c.current["status"], c.current["reviewer"], c.wanted) == (
        2, _fid(second, 1), "confirmed", "A. Reviewer", "dismissed")
    assert "row 2:" in str(err.value) and "keep-current or take-file" in str(err.value)
    assert set(store.latest_reviews()) == {_fid(first, 1)}   # row 4 was not recorded either

    kept = import_workbook(store, second, "B. Reviewer", on_conflict="keep-current")
    assert (kept.recorded, len(kept.conflicts)) == (1, 1)
    assert store.review_of(_fid(second, 1))["status"] == "confirmed"
    assert store.review_of(_fid(second, 3))["status"] == "confirmed"

    taken = import_workbook(store, second, "B. Reviewer", on_conflict="take-file")
    assert (taken.recorded, len(taken.conflicts), taken.conflict_resolution) == (
        1, 1, "take-file")
    assert store.review_of(_fid(second, 1)) | {"at": ""} == {
        "status": "dismissed", "reason": "other campus", "reviewer": "B. Reviewer",
        "at": "", "version": 2}


def test_export_writes_the_version_and_a_re_export_picks_up_the_new_one(store, tmp_path):
    fid = _fid(export_workbook(store, tmp_path / "a.xlsx", 1), 1)
    store.set_review(fid, "confirmed", "A. Reviewer")
    store.set_review(fid, "needs_follow_up", "A. Reviewer", "ask")
    ws = load_workbook(export_workbook(store, tmp_path / "b.xlsx", 1))["reviews"]
    header = [c.value for c in ws[1]]
    assert header == list(WORKBOOK_COLUMNS)
    row = {h: c.value for h, c in zip(header, ws[2], strict=True)}
    assert (row["finding_id"], row["version"], row["status"]) == (fid, 2, "needs_follow_up")


def test_a_workbook_without_versions_counts_as_never_reviewed(store, tmp_path):
    path = export_workbook(store, tmp_path / "a.xlsx", 1)
    wb = load_workbook(path)
    wb["reviews"].delete_cols(WORKBOOK_COLUMNS.index("version") + 1)
    wb.save(path)
    fid = _fid(path, 1)
    store.set_review(fid, "confirmed", "A. Reviewer")
    wb = load_workbook(path)
    ws = wb["reviews"]
    header = [c.value for c in ws[1]]
    ws.cell(row=2, column=header.index("status") + 1).value = "dismissed"
    ws.cell(row=2, column=header.index("reason") + 1).value = "other campus"
    wb.save(path)
    with pytest.raises(ImportConflictError):
        import_workbook(store, path, "B. Reviewer")


@pytest.mark.parametrize("version", ["7", "two"])
def test_a_version_that_is_not_a_decision_refuses_the_file(store, tmp_path, version):
    path = export_workbook(store, tmp_path / "a.xlsx", 1)
    wb = load_workbook(path)
    wb["reviews"].cell(row=3, column=WORKBOOK_COLUMNS.index("version") + 1).value = version
    wb.save(path)
    with pytest.raises(ReviewImportError, match=f"row 3: version '{version}'"):
        import_workbook(store, path, "A. Reviewer")


def test_a_bad_on_conflict_is_refused(store, tmp_path):
    path = export_workbook(store, tmp_path / "a.xlsx", 1)
    with pytest.raises(StoreError, match="on-conflict must be one of"):
        import_workbook(store, path, "A. Reviewer", on_conflict="merge")


# --------------------------------------------------------------------------- migration

_V1_REVIEWS = """
CREATE TABLE schema_version (version INTEGER NOT NULL);
INSERT INTO schema_version VALUES (1);
CREATE TABLE reviews (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    finding_id TEXT NOT NULL REFERENCES ties (finding_id),
    status TEXT NOT NULL CHECK (status IN ('unreviewed', 'confirmed', 'dismissed')),
    reason TEXT NOT NULL DEFAULT '',
    reviewer TEXT NOT NULL CHECK (length(trim(reviewer)) > 0),
    at TEXT NOT NULL,
    source TEXT NOT NULL DEFAULT '',
    CHECK (status <> 'dismissed' OR length(trim(reason)) > 0)
);
CREATE INDEX reviews_tie ON reviews (finding_id, id);
"""


def test_a_schema_1_case_file_is_migrated_without_losing_a_decision(tmp_path, result):
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.executescript(_V1_REVIEWS)
    db.close()
    with Store(path) as st:   # creates the other tables; reviews is still schema 1 here
        st.record_run(result)
    db = sqlite3.connect(path)   # put it back the way a schema-1 file looks
    db.executescript("UPDATE schema_version SET version = 1; DROP TABLE reviews;"
                     + _V1_REVIEWS.split("INSERT INTO schema_version VALUES (1);")[1])
    a, b = result.findings[0].finding_id, result.findings[1].finding_id
    db.executemany("INSERT INTO reviews (finding_id, status, reason, reviewer, at, source)"
                   " VALUES (?, ?, ?, ?, ?, 'set')", [
                       (a, "confirmed", "", "A", "2026-01-01"),
                       (b, "dismissed", "other campus", "B", "2026-01-02"),
                       (a, "dismissed", "wrong unit", "C", "2026-01-03")])
    db.commit()
    db.close()
    with Store(path) as st:
        assert [(h["status"], h["version"], h["reviewer"]) for h in st.review_history(a)] == [
            ("confirmed", 1, "A"), ("dismissed", 2, "C")]
        assert st.review_of(b)["version"] == 1
        assert st.set_review(a, "needs_follow_up", "D", based_on=2) == 3
    db = sqlite3.connect(path)
    assert db.execute("SELECT version FROM schema_version").fetchone()[0] == SCHEMA_VERSION
    db.close()


# --------------------------------------------------------------------------- concurrency

def _reviewer_loop(path: str, fid: str, name: str, writes: int) -> tuple[int, int]:
    """Read the tie's decision, write on top of it, and on a conflict read again and retry
    (what the web app does when a reviewer reloads): returns (writes made, conflicts)."""
    conflicts = 0
    done = 0
    with Store(path) as st:
        while done < writes:
            cur = st.review_of(fid)
            based_on = cur["version"] if cur else 0
            try:
                st.set_review(fid, "needs_follow_up" if done % 2 else "confirmed", name,
                              f"{name} #{done}", based_on=based_on, source="test")
                done += 1
            except StoreError:   # ReviewConflictError, or the same version taken meanwhile
                conflicts += 1
    return done, conflicts


def _check_no_decision_lost(path: Path, fid: str, expected: dict[str, int]) -> None:
    with Store(path) as st:
        history = st.review_history(fid)
    assert [h["version"] for h in history] == list(range(1, len(history) + 1))
    for name, n in expected.items():
        assert [h["reason"] for h in history if h["reviewer"] == name] == [
            f"{name} #{i}" for i in range(n)]
    # every decision names the status it replaced: the one just before it
    assert all(h["old_status"] == p["status"] for p, h in itertools.pairwise(history))


def test_reviewers_in_threads_never_lose_a_decision(tmp_path, result):
    path = tmp_path / "case.db"
    with Store(path) as st:
        st.record_run(result)
    fid = result.findings[0].finding_id
    names = [f"Reviewer {i}" for i in range(4)]
    outcomes: dict[str, tuple[int, int]] = {}
    barrier = threading.Barrier(len(names))

    def work(name: str) -> None:
        barrier.wait()
        outcomes[name] = _reviewer_loop(str(path), fid, name, 15)

    threads = [threading.Thread(target=work, args=(n,)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(outcomes[n][0] == 15 for n in names)
    _check_no_decision_lost(path, fid, {n: 15 for n in names})


def test_two_stale_writers_one_wins_one_is_told(tmp_path, result):
    """Two reviewers open the same finding (version 0) and decide at the same moment."""
    path = tmp_path / "case.db"
    with Store(path) as st:
        st.record_run(result)
    fid = result.findings[0].finding_id
    barrier = threading.Barrier(2)
    got: dict[str, object] = {}

    def decide(name: str, status: str) -> None:
        with Store(path) as st:
            barrier.wait()
            try:
                got[name] = st.set_review(fid, status, name, "why", based_on=0)
            except StoreError as exc:
                got[name] = exc

    ts = [threading.Thread(target=decide, args=a) for a in (("A", "confirmed"),
                                                           ("B", "dismissed"))]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert sorted(type(v).__name__ for v in got.values()) == ["ReviewConflictError", "int"]
    with Store(path) as st:
        (only,) = st.review_history(fid)
    winner = next(k for k, v in got.items() if v == 1)
    assert only["reviewer"] == winner


def test_reviewers_in_separate_processes_never_lose_a_decision(tmp_path, result):
    path = tmp_path / "case.db"
    with Store(path) as st:
        st.record_run(result)
    fid = result.findings[0].finding_id
    names = ["P1", "P2", "P3"]
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=3, mp_context=ctx) as pool:
        futures = [pool.submit(_reviewer_loop, str(path), fid, n, 10) for n in names]
        done = [f.result(timeout=120) for f in futures]
    assert [d[0] for d in done] == [10, 10, 10]
    _check_no_decision_lost(path, fid, {n: 10 for n in names})


def _as_read(value):
    """A value as a workbook gives it back: empty text as an empty cell, the characters a
    workbook cannot hold replaced."""
    if isinstance(value, str):
        return value.replace("\x07", "\ufffd") or None
    return value


def test_an_export_streams_the_run_and_each_cell_reads_back_as_stored(tmp_path, result,
                                                                      monkeypatch):
    """The workbook is written row by row from the case file (the run is never loaded
    whole: 788,020 findings had taken 10.2 GB); every cell reads back as the finding
    holds it, text that looks like a formula as text, with the drop-down, the frozen
    header and the filter; a failed export leaves an earlier workbook as it was, and a
    run larger than a worksheet is refused in words."""
    from dataclasses import replace

    import tracker.exports

    raws = ["=HYPERLINK(\"http://x\")", "+1 Beihang Univ", "@home", "plain \x07 text", ""]
    findings = [replace(f, raw_affiliation=raws[i % len(raws)])
                for i, f in enumerate(result.findings)]
    with Store(tmp_path / "case.db") as st:
        rid = st.record_run(replace(result, findings=findings))
        fid = findings[2].finding_id
        st.set_review(fid, "dismissed", "A. Reviewer", "=not the listed unit")
        want = st.findings(rid)

        def whole_run(self, run_id):
            raise AssertionError("the export loaded every finding of the run")

        monkeypatch.setattr(Store, "findings", whole_run)
        path = export_workbook(st, tmp_path / "r.xlsx", rid)
        ws = load_workbook(path)["reviews"]
        assert [c.value for c in ws[1]] == list(WORKBOOK_COLUMNS)
        got = list(ws.iter_rows(min_row=2, values_only=True))
        assert len(got) == len(want)
        for row, f in zip(got, want, strict=True):
            values = {**f, "status": f["review_status"], "reason": f["review_reason"],
                      "version": f["review_version"]}
            assert list(row) == [_as_read(values.get(c, "")) for c in WORKBOOK_COLUMNS], \
                f["finding_id"]
        cell = ws.cell(row=2, column=WORKBOOK_COLUMNS.index("raw_affiliation") + 1)
        assert (cell.value, cell.data_type, cell.quotePrefix) == (
            "=HYPERLINK(\"http://x\")", "s", True)
        assert ws.freeze_panes == "B2" and ws.auto_filter.ref.startswith("A1:")
        (dv,) = ws.data_validations.dataValidation
        assert str(dv.sqref) == f"T2:T{len(want) + 1}".replace(
            "T", chr(ord("A") + WORKBOOK_COLUMNS.index("status")))
        # the import reads its own export back with nothing to record
        assert import_workbook(st, path, "B. Reviewer").counts()["recorded"] == 0

        before = path.read_bytes()

        def broken(self, run_id):
            yield from []
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(Store, "iter_findings", broken)
        with pytest.raises(OSError):
            export_workbook(st, path, rid)
        assert path.read_bytes() == before and sorted(tmp_path.glob(".r.xlsx*")) == []
        monkeypatch.setattr(tracker.exports, "XLSX_MAX_ROWS", len(want) - 1)
        with pytest.raises(StoreError, match=f"run {rid} has {len(want):,} findings, more "
                                             "than a worksheet holds"):
            export_workbook(st, tmp_path / "big.xlsx", rid)
        assert not (tmp_path / "big.xlsx").exists()
