"""The case-file database: runs, review decisions (history kept, latest wins), the diff a
registry change causes, and the all-or-nothing review workbook import."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import date

import pytest
from openpyxl import load_workbook

import tracker
from tracker.reviews import export_workbook, import_workbook
from tracker.screening import ScreenSettings, screen
from tracker.store import (
    REVIEW_STATUSES,
    SCHEMA_VERSION,
    ReviewImportError,
    Store,
    StoreError,
    default_db_path,
)
from tracker.watchlists import Registry


def _run(works, reg, **settings):
    inputs = [{"kind": "file", "path": str(tracker.demo_works_path())}]
    return screen(works, registry=reg, settings=ScreenSettings(**settings), inputs=inputs)


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "case.db") as st:
        yield st


def test_default_path_follows_tracker_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TRACKER_HOME", str(tmp_path / "home"))
    assert default_db_path() == tmp_path / "home" / "tracker.db"
    monkeypatch.delenv("TRACKER_HOME")
    assert default_db_path().parts[-4:] == (".local", "share", "tracker", "tracker.db")


def test_schema_wal_and_foreign_keys(store):
    db = sqlite3.connect(store.path)
    assert db.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store._db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"runs", "findings", "reviews", "ties", "schema_version"} <= tables
    # a review of a tie no run has found is refused by the database itself
    with pytest.raises(sqlite3.IntegrityError):
        store._db.execute("INSERT INTO reviews (finding_id, status, reviewer, at)"
                          " VALUES ('nope', 'confirmed', 'me', 'now')")
    db.close()


def test_a_new_case_file_has_large_pages_and_an_older_one_keeps_its_own(tmp_path, works,
                                                                         reg):
    """A new case file is made with 16 KB pages (a finding's row is about 2.4 KB: a 4 KB page
    holds one); a file made with SQLite's default 4 KB pages, as earlier versions made
    them, keeps them, and records and reads runs as before."""
    new = tmp_path / "new.db"
    Store(new).close()
    old = tmp_path / "old.db"
    db = sqlite3.connect(old)  # a case file as an earlier tracker began it
    db.execute("PRAGMA journal_mode = WAL")
    db.close()
    with Store(old) as st:
        run_id = st.record_run(_run(works, reg))
    with Store(old) as st:
        assert st._db.execute("PRAGMA page_size").fetchone()[0] == 4096
        assert len(st.findings(run_id)) == len(_run(works, reg).findings) > 0
    for path, size in ((new, 16384), (old, 4096)):
        db = sqlite3.connect(path)
        assert db.execute("PRAGMA page_size").fetchone()[0] == size
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        db.close()


def test_ties_are_one_btree_by_their_id_and_an_older_case_file_keeps_its_own(tmp_path,
                                                                             works, reg):
    """A new case file keeps its ties WITHOUT ROWID (one B-tree, keyed by the tie's ID);
    one whose ties table an earlier version made as a rowid table keeps it, and a second
    run still moves each tie's last run on, as the first run's ties stay."""
    new = tmp_path / "new.db"
    Store(new).close()
    old = tmp_path / "old.db"
    db = sqlite3.connect(old)  # the ties table as an earlier tracker made it
    db.execute("CREATE TABLE ties (finding_id TEXT PRIMARY KEY, first_run_id INTEGER NOT"
               " NULL REFERENCES runs (id), last_run_id INTEGER NOT NULL REFERENCES runs (id))")
    db.close()
    ddl = "SELECT sql FROM sqlite_master WHERE name = 'ties'"
    with Store(new) as st:
        assert st._db.execute(ddl).fetchone()[0].rstrip().endswith("WITHOUT ROWID")
    for path in (new, old):
        with Store(path) as st:
            first = st.record_run(_run(works, reg))
            second = st.record_run(_run(works, reg))
            ties = [tuple(r) for r in st._db.execute(
                "SELECT first_run_id, last_run_id, count(*) FROM ties GROUP BY 1, 2")]
            assert ties == [(first, second, len(_run(works, reg).findings))]
    db = sqlite3.connect(old)
    assert "WITHOUT ROWID" not in db.execute(ddl).fetchone()[0]
    db.close()


def test_a_run_s_rows_go_in_with_foreign_keys_off_and_keep_them_after(store, works, reg,
                                                                    monkeypatch):
    """record_run writes its rows with SQLite's foreign-key enforcement off (with it on,
    every INSERT OR REPLACE of a row kept a statement journal), then turns it on again,
    also when the recording fails; the rows it wrote still satisfy every foreign key."""
    seen: list[int] = []
    write = Store._record_slice

    def spy(db, *args):
        seen.append(db.execute("PRAGMA foreign_keys").fetchone()[0])
        return write(db, *args)

    monkeypatch.setattr(Store, "_record_slice", staticmethod(spy))
    fk = "PRAGMA foreign_keys"
    assert store._db.execute(fk).fetchone()[0] == 1
    store.record_run(_run(works, reg))
    assert seen and set(seen) == {0}
    assert store._db.execute(fk).fetchone()[0] == 1
    assert store._db.execute("PRAGMA foreign_key_check").fetchall() == []

    def broken(db, *args):
        raise RuntimeError("disk gone")

    monkeypatch.setattr(Store, "_record_slice", staticmethod(broken))
    with pytest.raises(RuntimeError, match="disk gone"):
        store.record_run(_run(works, reg))
    assert store._db.execute(fk).fetchone()[0] == 1


def test_a_newer_schema_is_refused(tmp_path):
    path = tmp_path / "case.db"
    Store(path).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="newer"):
        Store(path)


def test_record_run_keeps_the_run_record_and_findings(store, works, reg):
    res = _run(works, reg)
    run_id = store.record_run(res)
    rows = store.findings(run_id)
    assert [r["finding_id"] for r in rows] == [f.finding_id for f in res.findings]
    assert rows[0]["outcome"] == res.findings[0].outcome
    (listed,) = store.runs()
    assert listed["id"] == run_id and listed["counts"]["works_read"] == 71
    assert listed["registry_version"] == reg.version
    assert store.run_record(run_id)["data_gaps"] == res.run["data_gaps"]


def test_a_stored_row_is_the_finding_with_sorted_keys_whatever_its_extra(store, works, reg):
    """A row is stored as the finding's fields and its ``extra`` (but the review), keys
    sorted, values exact: built in sorted order where there is no extra, sorted by the
    encoder where there is (runs are compared row text against row text)."""
    import json

    res = _run(works, reg)
    fs = res.findings
    fs[1] = replace(fs[1], extra={"note": "x", "review": {"status": "confirmed"}})
    fs[2] = replace(fs[2], extra={"review": {"status": "confirmed"}}, title="Über 𝔘 \"q\"")
    fs[3] = replace(fs[3], match_score=0.875, is_designation=False)
    run_id = store.record_run(res)
    texts = [t for (t,) in store._db.execute(
        "SELECT row FROM findings WHERE run_id = ? ORDER BY rowid", (run_id,))]
    assert len(texts) == len(fs) > 3
    for f, text in zip(fs, texts, strict=True):
        want = f.row()
        if set(f.extra) - {"review"}:
            want["extra"] = {k: v for k, v in f.extra.items() if k != "review"}
        got = json.loads(text)
        assert got == want and list(got) == sorted(got)
        assert text == json.dumps(want, sort_keys=True, ensure_ascii=False,
                                  separators=(",", ":"))
    # bound as UTF-8 bytes, stored as text (json_extract reads it; a blob it would refuse)
    assert [tuple(r) for r in store._db.execute(
        "SELECT DISTINCT typeof(row) FROM findings")] == [("text",)]
    assert store._db.execute(
        "SELECT json_extract(row, '$.title') FROM findings WHERE finding_id = ?",
        (fs[2].finding_id,)).fetchone()[0] == "Über 𝔘 \"q\""


def test_a_case_file_in_utf16_keeps_the_same_rows(tmp_path, works, reg):
    """Rows are bound as their UTF-8 bytes only where SQLite keeps text in UTF-8; a case
    file made in UTF-16 (by another tool) gets them as text."""
    path = tmp_path / "utf16.db"
    db = sqlite3.connect(path)
    db.execute("PRAGMA encoding = 'UTF-16le'")
    db.execute("CREATE TABLE t (x)")  # the encoding is fixed once the file has a table
    db.commit()
    db.close()
    res = _run(works, reg)
    with Store(path) as st:
        assert st._db.execute("PRAGMA encoding").fetchone()[0] == "UTF-16le"
        run_id = st.record_run(res)
        rows = st.findings(run_id)
    assert [r["finding_id"] for r in rows] == [f.finding_id for f in res.findings]
    assert [r["title"] for r in rows] == [f.title for f in res.findings]


def test_record_run_reports_the_findings_written_slice_by_slice(store, works, reg,
                                                                monkeypatch):
    import tracker.store as store_module

    monkeypatch.setattr(store_module, "_RECORD_SLICE", 100)
    res = _run(works, reg)
    written: list[int] = []
    run_id = store.record_run(res, progress=written.append)
    n = len(res.findings)
    assert n > 200 and written == [*range(100, n, 100), n]
    assert len(store.findings(run_id)) == n


_connect = sqlite3.connect


def _pages_in_file(path):
    db = _connect(f"file:{path}?mode=ro", uri=True)
    try:  # the file's own size, not what a reader sees through the write-ahead log
        return path.stat().st_size // db.execute("PRAGMA page_size").fetchone()[0]
    finally:
        db.close()


@pytest.mark.parametrize("later", [True, False])
def test_a_large_run_is_checkpointed_in_the_background(tmp_path, works, reg, monkeypatch,
                                                       later):
    """From ``_CHECKPOINT_AFTER`` findings on, the run's pages reach the case file itself
    by a thread's checkpoint (not at the commit); either way the file holds them by the
    time the store is closed, and a fresh store reads the run."""
    import tracker.store as st

    monkeypatch.setattr(st, "_CHECKPOINT_AFTER", 1 if later else 10**9)
    res = _run(works, reg)
    path = tmp_path / "case.db"
    store = Store(path)
    store._db.execute("PRAGMA wal_autocheckpoint = 1")  # a commit checkpoints what it wrote
    before = _pages_in_file(path)
    released = __import__("threading").Event()
    if later:  # hold the thread's checkpoint until the commit is known not to have done it
        real = sqlite3.connect

        def connect(*a, **k):
            released.wait(10)
            return real(*a, **k)

        monkeypatch.setattr(st.sqlite3, "connect", connect)
    run_id = store.record_run(res)
    grown = _pages_in_file(path) - before
    assert (store._checkpointing is not None) is later
    assert (grown == 0) is later  # at the commit: only with the automatic checkpoint
    assert store._db.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 1  # as it was
    released.set()
    store.wait_checkpoint()  # the store still open: the thread did it, not the close
    assert _pages_in_file(path) - before > 10
    store.close()
    monkeypatch.undo()
    with Store(path) as again:
        assert [r["finding_id"] for r in again.findings(run_id)] == [
            f.finding_id for f in res.findings]


@pytest.mark.parametrize("large", [True, False])
def test_a_large_run_s_commit_does_not_wait_for_the_disk(tmp_path, works, reg, monkeypatch,
                                                         large):
    """From ``_CHECKPOINT_AFTER`` findings on, the run's transaction commits with
    ``synchronous = NORMAL`` (no wait for the write-ahead log to reach the disk); the
    setting is back to what it was afterwards, so reviews and other writes keep FULL."""
    import tracker.store as st

    monkeypatch.setattr(st, "_CHECKPOINT_AFTER", 1 if large else 10**9)
    res = _run(works, reg)
    with Store(tmp_path / "case.db") as store:
        before = store._db.execute("PRAGMA synchronous").fetchone()[0]
        said: list[str] = []
        store._db.set_trace_callback(said.append)
        store.record_run(res)
        store._db.set_trace_callback(None)
        commit = said.index("COMMIT")
        normal = [i for i, sql in enumerate(said) if sql == "PRAGMA synchronous = NORMAL"]
        assert bool(normal and normal[0] < commit) is large
        assert store._db.execute("PRAGMA synchronous").fetchone()[0] == before == 2


def test_a_run_s_finding_keys_go_with_the_run(store, works, reg):
    res = _run(works, reg)
    cache = store._db.execute("PRAGMA cache_size").fetchone()
    a, b = store.record_run(res), store.record_run(res)
    assert store._db.execute("PRAGMA cache_size").fetchone() == cache  # as it was

    def keys(run_id, table="finding_keys"):
        return store._db.execute(f"SELECT count(*) FROM {table} WHERE run_id = ?",
                                 (run_id,)).fetchone()[0]

    assert keys(a) == keys(b) == len(res.findings) == store.findings_count(a)
    assert store.finding_values(a) == store.finding_values(b)
    assert 0 < keys(a, "finding_texts") == keys(b, "finding_texts") < len(res.findings)
    # (a recorded run cannot be deleted while its ties name it; by hand, it can)
    store._db.execute("PRAGMA foreign_keys = OFF")
    store._db.execute("DELETE FROM runs WHERE id = ?", (a,))
    assert keys(a) == 0 and store.finding_values(a) == [] and keys(b) == len(res.findings)
    assert keys(a, "finding_texts") == 0 < keys(b, "finding_texts")


@pytest.mark.parametrize("needle", ["istanbul", "İSTANBUL", "i̇stanbul", "οδος", "ΟΔΟΣ", "k",
                                    "universität", "STRASSE", "  ", "beihang", "zz-none"])
def test_a_text_search_finds_what_python_s_lower_finds_in_the_three_texts(
        store, works, reg, monkeypatch, needle):
    """The run's search texts (institution name, list entry name, raw affiliation) are
    matched as Python lower-cases them, whatever slice of the run a text was first met in
    and when the run is recorded again; the same as the search over the JSON rows that
    runs recorded before the texts have."""
    import tracker.store as store_module

    monkeypatch.setattr(store_module, "_RECORD_SLICE", 7)
    res = _run(works, reg)
    raws = ["İSTANBUL Technical University", "ΟΔΟΣ 12, Athens", "\u212aelvin Lab",
            "Universität Straße 1", "Beihang University, Beijing", ""]
    findings = [replace(f, raw_affiliation=raws[i % len(raws)])
                for i, f in enumerate(res.findings)]
    res = replace(res, findings=findings)
    run = store.start_run(["tracker", "screen"])
    store.record_run(res, run_id=run)
    store.record_run(res, run_id=run)  # again: the texts keep their numbers

    def found() -> set[str]:
        rows, total = store.findings_where(run, text=needle)
        assert total == len(rows)
        return {r["finding_id"] for r in rows}

    want = {f.finding_id for f in findings if needle.lower() in
            f"{f.institution_name} {f.list_entry_name} {f.raw_affiliation}".lower()}
    assert "finding_texts" in store._text_sql(run, needle)[0]
    assert found() == want
    store._db.execute("DELETE FROM finding_texts")  # as a run recorded before them
    assert "json_extract" in store._text_sql(run, needle)[0]
    assert found() == want


def test_review_history_is_kept_and_the_latest_wins(store, works, reg):
    res = _run(works, reg)
    store.record_run(res)
    fid = res.findings[0].finding_id
    with pytest.raises(StoreError, match="needs a reason"):
        store.set_review(fid, "dismissed", "A. Reviewer", "  ")
    with pytest.raises(StoreError, match="unknown finding ID"):
        store.set_review("0000000000000000", "confirmed", "A. Reviewer")
    with pytest.raises(StoreError, match="not one of"):
        store.set_review(fid, "cleared", "A. Reviewer")
    with pytest.raises(StoreError, match="reviewer"):
        store.set_review(fid, "confirmed", "")
    store.set_review(fid, "confirmed", "A. Reviewer")
    store.set_review(fid, "dismissed", "B. Reviewer", "another campus of the same name")
    assert store.latest_reviews()[fid]["status"] == "dismissed"
    assert [h["status"] for h in store.review_history(fid)] == ["confirmed", "dismissed"]
    # a later run of the same screen shows the decision on the same tie
    again = _run(works, reg)
    store.record_run(again)
    f = next(x for x in again.findings if x.finding_id == fid)
    assert f.review_status == "dismissed"
    assert f.extra["review"]["reason"] == "another campus of the same name"
    assert all(x.review_status == "unreviewed" for x in again.findings if x.finding_id != fid)


def _moved(reg: Registry, entry_id: str, new_listed_on: date) -> Registry:
    """A copy of the real registry where one entry's listing date is moved."""
    entries = [replace(e, listed_on=new_listed_on) if e.entry_id == entry_id else e
               for e in reg]
    return Registry(entries, lists=reg.lists.values(), editions=reg.editions,
                    version=reg.version + "-moved")


def test_diff_reports_a_registry_change(store, works, reg):
    first = _run(works, reg)
    a = store.record_run(first)
    # USTC: on the Entity List from 2024-05-14; say the list had it from 2010 instead
    f0 = next(f for f in first.findings if f.list == "BIS_ENTITY_LIST"
              and f.listed_on == "2024-05-14")
    dropped = next(f for f in first.findings if f.list == "CA_NRO")
    reg2 = _moved(reg, f0.entry_id, date(2010, 1, 1))
    reg2 = Registry([e for e in reg2 if e.entry_id != dropped.entry_id],
                    lists=reg2.lists.values(), editions=reg2.editions, version=reg2.version)
    second = _run(works, reg2)
    assert store.previous_comparable_run(second) == a
    b = store.record_run(second)
    d = store.diff(a, b)
    changed = {c["finding_id"]: c["changes"] for c in d["changed"]}
    assert f0.finding_id in changed
    assert changed[f0.finding_id]["listed_on"] == {"before": "2024-05-14",
                                                   "after": "2010-01-01"}
    assert changed[f0.finding_id]["listed_at_publication"] == {"before": "no", "after": "yes"}
    assert dropped.finding_id in d["gone"] and d["new"] == []
    assert d["counts"]["changed"] == len(d["changed"]) >= 1
    # the same screen against the same registry: nothing changes
    c = store.record_run(_run(works, reg2))
    assert store.diff(b, c)["counts"] == {"new": 0, "gone": 0, "changed": 0,
                                          "unchanged": len(second.findings)}


def _plain_changes(store, run_a, run_b, limit):
    """What the diff is, read off both runs whole (the definition the SQL must give)."""
    a = {r["finding_id"]: r for r in store.findings(run_a)}
    b = {r["finding_id"]: r for r in store.findings(run_b)}
    changed = []
    for fid in sorted(a.keys() & b.keys()):
        ch = {k: {"before": a[fid].get(k, ""), "after": b[fid].get(k, "")}
              for k in ("listed_at_publication", "outcome", "list_editions", "listed_on")
              if a[fid].get(k, "") != b[fid].get(k, "")}
        if ch:
            changed.append({"finding_id": fid, "changes": ch})
    new, gone = sorted(b.keys() - a.keys()), sorted(a.keys() - b.keys())
    return {"new": new, "gone": gone, "changed": changed,
            "counts": {"new": len(new), "gone": len(gone), "changed": len(changed),
                       "unchanged": len(a.keys() & b.keys()) - len(changed)},
            "new_rows": [b[f] for f in new][:limit],
            "gone_rows": [r["finding_id"] for r in a.values() if r["finding_id"] in gone][:limit]}


def test_changes_in_sql_equal_reading_both_runs_whole(store, works, reg):
    """New, gone and changed ties at once, a review on a changed and on a gone tie, and
    the evidence rows cut at ``limit``: the same as comparing the two runs in Python."""
    first = _run(works, reg)
    came = next(f for f in first.findings if f.list == "CA_NRO")
    left = next(f for f in first.findings if f.list == "DOD_1286")
    moved = next(f for f in first.findings if f.list == "BIS_ENTITY_LIST"
                 and f.listed_on == "2024-05-14")
    reg_a = Registry([e for e in reg if e.entry_id != came.entry_id], lists=reg.lists.values(),
                     editions=reg.editions, version=reg.version + "-a")
    reg_b = _moved(reg, moved.entry_id, date(2010, 1, 1))
    reg_b = Registry([e for e in reg_b if e.entry_id != left.entry_id],
                     lists=reg_b.lists.values(), editions=reg_b.editions,
                     version=reg_b.version + "-b")
    a = store.record_run(_run(works, reg_a))
    b = store.record_run(_run(works, reg_b))
    store.set_review(moved.finding_id, "confirmed", "A. Reviewer")
    store.set_review(left.finding_id, "dismissed", "A. Reviewer", "another campus")
    for limit in (1, 2, 500):
        want = _plain_changes(store, a, b, limit)
        d = store.changes(a, b, limit=limit)
        assert {k: d[k] for k in ("new", "gone", "changed", "counts")} == {
            k: want[k] for k in ("new", "gone", "changed", "counts")}
        assert d["counts"]["new"] >= 2 and d["counts"]["gone"] >= 2 and d["changed"]
        assert d["new_rows"] == want["new_rows"]
        assert [r["finding_id"] for r in d["gone_rows"]] == want["gone_rows"]
        assert d["changed_since_review"] == [moved.finding_id]
        gone = {r["finding_id"]: r["review_status"] for r in d["gone_rows"]}
        assert gone.get(left.finding_id, "dismissed") == "dismissed"
    assert store.diff(a, b) == {k: v for k, v in store.changes(a, b).items()
                                if k in ("run_a", "run_b", "new", "gone", "changed", "counts",
                                         "unfinished")}
    with pytest.raises(StoreError, match="no run 99"):
        store.changes(a, 99)


def test_only_the_same_screen_is_comparable(store, works, reg):
    a = store.record_run(_run(works, reg))
    other = _run(works, reg, lists=("DOD_1286",))
    assert store.previous_comparable_run(other) is None
    b = store.record_run(other)
    assert store.previous_comparable_run(other) == b
    assert store.previous_comparable_run(other, before_run_id=b) is None
    assert store.previous_comparable_run(_run(works, reg), before_run_id=b) == a


# --------------------------------------------------------------------------- workbook

def _export(store, works, reg, tmp_path):
    res = _run(works, reg)
    run_id = store.record_run(res)
    path = export_workbook(store, tmp_path / "reviews.xlsx", run_id)
    return res, path


def _fill(path, edits):
    """Set (status, reason) on data rows (1 = first finding) of the exported workbook."""
    wb = load_workbook(path)
    ws = wb["reviews"]
    header = [c.value for c in ws[1]]
    for n, (status, reason) in edits.items():
        ws.cell(row=n + 1, column=header.index("status") + 1, value=status)
        ws.cell(row=n + 1, column=header.index("reason") + 1, value=reason)
    wb.save(path)
    return ws, header


def test_export_has_evidence_and_a_status_dropdown(store, works, reg, tmp_path):
    res, path = _export(store, works, reg, tmp_path)
    ws = load_workbook(path)["reviews"]
    header = [c.value for c in ws[1]]
    assert header[0] == "finding_id" and header[-3:] == ["status", "reason", "reviewer"]
    assert {"title", "publication_date", "list", "listed_on", "outcome"} <= set(header)
    assert ws.max_row == len(res.findings) + 1
    (dv,) = ws.data_validations.dataValidation
    assert dv.type == "list" and dv.formula1 == '"' + ",".join(REVIEW_STATUSES) + '"'


def test_import_records_the_decisions(store, works, reg, tmp_path):
    res, path = _export(store, works, reg, tmp_path)
    _fill(path, {1: ("dismissed", "different institution, same acronym"), 2: ("confirmed", "")})
    got = import_workbook(store, path, "A. Reviewer").counts()
    assert got["recorded"] == 2 and got["rows"] == len(res.findings)
    latest = store.latest_reviews()
    assert latest[res.findings[0].finding_id]["status"] == "dismissed"
    assert latest[res.findings[1].finding_id] == {**latest[res.findings[1].finding_id],
                                                  "status": "confirmed",
                                                  "reviewer": "A. Reviewer"}
    # importing the same file again records nothing new
    assert import_workbook(store, path, "A. Reviewer").counts()["recorded"] == 0


@pytest.mark.parametrize("edits, message", [
    ({1: ("confirmed", ""), 3: ("dismissed", "")}, "row 4: a dismissal needs a reason"),
    ({2: ("maybe", "")}, "row 3: status 'maybe'"),
])
def test_a_bad_row_refuses_the_whole_file(store, works, reg, tmp_path, edits, message):
    _, path = _export(store, works, reg, tmp_path)
    _fill(path, edits)
    with pytest.raises(ReviewImportError, match=message):
        import_workbook(store, path, "A. Reviewer").counts()
    assert store.latest_reviews() == {}  # row 2 was fine, yet nothing was recorded


def test_an_unknown_finding_id_is_named_and_refused(store, works, reg, tmp_path):
    _, path = _export(store, works, reg, tmp_path)
    wb = load_workbook(path)
    ws = wb["reviews"]
    ws.cell(row=2, column=ws.max_column - 2, value="confirmed")
    ws.cell(row=5, column=1, value="ffffffffffffffff")
    wb.save(path)
    with pytest.raises(ReviewImportError, match="row 5: unknown finding ID 'ffffffffffffffff'"):
        import_workbook(store, path, "A. Reviewer").counts()
    assert store.latest_reviews() == {}


def test_a_crash_in_the_middle_of_an_import_leaves_reviews_unchanged(
        store, works, reg, tmp_path, monkeypatch):
    res, path = _export(store, works, reg, tmp_path)
    before_fid = res.findings[5].finding_id
    store.set_review(before_fid, "confirmed", "Earlier Reviewer")
    before = store.latest_reviews()
    _fill(path, {1: ("confirmed", ""), 2: ("dismissed", "not the listed unit"),
                 3: ("confirmed", ""), 6: ("dismissed", "wrong campus")})
    calls = {"n": 0}
    real = Store._insert_review

    def flaky(self, db, *args):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("disk full (simulated)")
        return real(self, db, *args)

    monkeypatch.setattr(Store, "_insert_review", flaky)
    with pytest.raises(OSError, match="simulated"):  # row 7 overrides the earlier decision
        import_workbook(store, path, "A. Reviewer", on_conflict="take-file").counts()
    assert calls["n"] == 3  # two rows were written inside the transaction before the crash
    assert store.latest_reviews() == before
    assert len(store.review_history(res.findings[0].finding_id)) == 0
    # and a fresh connection sees the same
    with Store(store.path) as again:
        assert again.latest_reviews() == before
