"""A stored run re-screened against a newer registry version: new findings with no API
call, review decisions carried over, exit 10 only when something changed."""

from __future__ import annotations

import json
import shlex

import pytest
import requests
from typer.testing import CliRunner

import tracker
from tests._paths import RESTRICTED
from tracker.cli import app
from tracker.listsources import read_source
from tracker.listsources.bundled import BUNDLED_SOURCES
from tracker.names import cached_name_matcher
from tracker.registry_versions import VersionStore, update_registry
from tracker.rescreen import RescreenError, rescreen_runs
from tracker.screening import ScreenSettings, screen
from tracker.store import Store, rescreens, run_works, store_run_works, work_to_json
from tracker.watchlists import Registry

SRC = RESTRICTED / "sources"
CSL_2022 = SRC / "trade_csl" / "2022-05-06" / "consolidated.csv.gz"
pytestmark = pytest.mark.skipif(not SRC.exists(), reason="shared reference data not present")


@pytest.fixture()
def case(tmp_path, monkeypatch):
    """A case file with one run of the demo works, works stored, against version 1:
    version 0 without the lists of the shipped official files, so that an update with the
    recorded CSL 2022 file brings new entries (the Unverified List) as a real update does."""
    monkeypatch.setenv("TRACKER_HOME", str(tmp_path))
    versions = VersionStore(tmp_path)
    full = versions.load()
    shipped = {c for bs in BUNDLED_SOURCES for c in bs.lists}
    reg0 = Registry([e for e in full if e.list not in shipped],
                    lists=[li for c, li in full.lists.items() if c not in shipped],
                    editions=[ed for ed in full.editions if ed.list not in shipped],
                    version="pending", built_from=full.built_from)
    versions.add(reg0, parent=full.version, changes={},
                 sources=[{"source": "version 0 without the shipped official lists"}])
    works = [w for w in tracker.read_works(tracker.demo_works_path())
             if isinstance(w, tracker.Work)]
    result = screen(works, registry=reg0, settings=ScreenSettings(),
                    name_matcher=cached_name_matcher(reg0))
    store = Store(tmp_path / "tracker.db")
    run_id = store.record_run(result)
    store_run_works(store, run_id, works)
    yield store, versions, run_id, works, result
    store.close()


def _no_http(*args, **kwargs):
    raise AssertionError("the rescreen made an HTTP call")


def test_works_round_trip_through_the_case_file(case) -> None:
    store, _, run_id, works, _ = case
    back = run_works(store, run_id)
    assert back is not None and [work_to_json(w) for w in back] == [work_to_json(w)
                                                                    for w in works]


def test_works_with_unicode_line_separators_in_their_texts_round_trip(tmp_path) -> None:
    """Real OpenAlex texts hold U+2028, U+2029 and U+0085 (the shared works files write
    them escaped for that reason): a kept work with one in its title or a raw affiliation
    comes back whole, as do the works kept beside it, from the case file written now and
    from one written as before (JSON with the characters as they are, zlib level 6)."""
    import dataclasses
    import hashlib
    import json
    import zlib

    works = [w for w in tracker.read_works(tracker.demo_works_path())
             if isinstance(w, tracker.Work)][:4]
    a = works[1].authorships[0]
    works[1] = dataclasses.replace(
        works[1], title="Line\u2028separated\u2029paragraph\x85next",
        authorships=(dataclasses.replace(
            a, raw_affiliations=("Beihang University\u2028Beijing",)),
            *works[1].authorships[1:]))
    expected = [work_to_json(w) for w in works]
    with Store(tmp_path / "now.db") as st:
        run_id = st.start_run(["test"], {})
        assert store_run_works(st, run_id, works) == 4
        back = run_works(st, run_id)
        assert back is not None and [work_to_json(w) for w in back] == expected
    with Store(tmp_path / "before.db") as st:
        run_id = st.start_run(["test"], {})
        store_run_works(st, run_id, [])  # the table
        blob = "\n".join(json.dumps(d, ensure_ascii=False, sort_keys=True)
                         for d in expected).encode("utf-8")
        assert "\u2028".encode() in blob
        st._db.execute("UPDATE run_works SET n_works = 4, sha256 = ?, data = ? "
                       "WHERE run_id = ?", (hashlib.sha256(blob).hexdigest(),
                                            zlib.compress(blob, 6), run_id))
        back = run_works(st, run_id)
        assert back is not None and [work_to_json(w) for w in back] == expected


def test_rescreen_against_newer_version_shows_new_findings_without_api(case, monkeypatch
                                                                       ) -> None:
    store, versions, run_id, _, first = case
    out = update_registry(versions, [read_source(CSL_2022)])
    assert out.changed
    reg1 = versions.load()
    monkeypatch.setattr(requests.Session, "request", _no_http)
    (rep,) = rescreen_runs(store, reg1)
    assert rep.changed and rep.new and rep.new_run_id is not None
    new_entries = {e.entry_id for e in reg1} - {e.entry_id for e in versions.load(1)}
    assert {n["entry_id"] for n in rep.new} <= new_entries  # only the new version's entries
    assert not rep.gone  # no list of the first run lost an entry it matched
    before = {f.finding_id for f in first.findings}
    after = {r["finding_id"] for r in store.findings(rep.new_run_id)}
    assert after - before == {n["finding_id"] for n in rep.new}
    assert store.run_record(rep.new_run_id)["registry"]["version"] == reg1.version
    # a second rescreen compares with the rescreen's state: nothing changed
    (again,) = rescreen_runs(store, reg1)
    assert not again.changed and again.new_run_id is None
    assert [r["changed"] for r in rescreens(store, run_id)] == [True, False]


def test_a_rescreen_of_every_case_takes_each_screen_s_latest_run(case, monkeypatch) -> None:
    """Without run IDs, each case is re-screened once, as last screened: a rerun of a
    screen supersedes the older run (whose changes would be reported twice), a rescreen's
    own run is not a case, and a screen of other settings is one; an older run can still
    be named."""
    from datetime import date

    store, versions, run_id, works, result = case
    reg0 = versions.load(1)
    rerun = store.record_run(result)  # the same screen again
    store_run_works(store, rerun, works)
    since = screen(works, registry=reg0, settings=ScreenSettings(since=date(2001, 1, 1)),
                   name_matcher=cached_name_matcher(reg0))
    other = store.record_run(since)  # another screen of the same works
    store_run_works(store, other, works)
    update_registry(versions, [read_source(CSL_2022)])
    reg = versions.load()
    monkeypatch.setattr(requests.Session, "request", _no_http)
    reports = rescreen_runs(store, reg)
    assert [r.run_id for r in reports] == [rerun, other]
    assert all(r.changed and r.new_run_id is not None for r in reports)
    again = rescreen_runs(store, reg)  # against each one's rescreen: nothing new
    assert [(r.run_id, r.changed) for r in again] == [(rerun, False), (other, False)]
    (old,) = rescreen_runs(store, reg, [run_id])
    assert old.run_id == run_id and old.changed


def test_dismissed_finding_stays_dismissed_when_evidence_is_the_same(case) -> None:
    store, versions, _, _, first = case
    fid = first.findings[0].finding_id
    store.set_review(fid, "dismissed", "A. Reviewer", "other campus, checked")
    update_registry(versions, [read_source(CSL_2022)])
    (rep,) = rescreen_runs(store, versions.load())
    assert fid in rep.dismissed_kept
    assert rep.reviews_carried == 1 and not rep.review_again
    assert store.latest_reviews()[fid]["status"] == "dismissed"


def test_a_run_without_stored_works_is_refused(case) -> None:
    store, versions, _, _, first = case
    other = store.record_run(first)
    with pytest.raises(RescreenError, match=f"run {other} kept no works to re-screen"):
        rescreen_runs(store, versions.load(), [other])


def test_a_rescreen_of_every_run_names_the_cases_that_kept_no_works(tmp_path, monkeypatch
                                                                   ) -> None:
    """``tracker rescreen`` re-screens the runs whose works are stored and names, on
    stderr, the latest run of each other case: why it kept none and the command that
    screens it again (no news for them is not "nothing changed"); naming such a run
    refuses it in the same words, exit 2."""
    import shutil

    import tracker.engine
    from tests._paths import OPENALEX
    from tracker.cli import main
    from tracker.rescreen import not_rescreened

    monkeypatch.setenv("TRACKER_HOME", str(tmp_path))
    monkeypatch.setattr(tracker.engine, "AUTO_DUCKDB_BYTES", 2**20)  # "large" from 1 MB
    demo, large = str(tracker.demo_works_path()), tmp_path / "large w.jsonl.gz"
    shutil.copy(OPENALEX / "works_bibgraph_2025-10.jsonl.gz", large)
    assert large.stat().st_size > 2**20
    screens = [[demo],  # run 1, works kept
               [demo, "--no-keep-works", "--since", "2001-01-01"],  # runs 2, 3: one case
               [demo, "--no-keep-works", "--since", "2001-01-01"],
               [str(large)]]  # run 4: too large to copy
    for i, works in enumerate(screens):
        assert main(["screen", "--works", *works, "--out", str(tmp_path / f"r{i}"),
                     "--no-progress", "--no-names"]) == 0
    with Store(tmp_path / "tracker.db") as st:
        assert [(n.run_id, n.why) for n in not_rescreened(st)] == [
            (3, "it was screened with --no-keep-works"),
            (4, "its inputs were 1 MB or more, too large to copy into the case file")]
    runner = CliRunner()
    r = runner.invoke(app, ["rescreen"])
    assert r.exit_code == 0, r.output
    assert "run 1 against" in r.stdout and "no change" in r.stdout
    warned = r.stderr.splitlines()
    assert [w.split(" kept no works")[0] for w in warned] == [
        "tracker: warning: run 3", "tracker: warning: run 4"]
    assert warned[1].endswith("`tracker diff 4 <the new run>`: tracker screen --works "
                              f"'{large}' --out {tmp_path / 'r3'} --no-progress --no-names")
    # the command as it was given: it screens the case again
    assert main(shlex.split(warned[1].split("`: ", 1)[1])[1:]) == 0
    r = runner.invoke(app, ["rescreen", "3"])
    assert r.exit_code == 2 and r.stderr.startswith("tracker: error: run 3 kept no works to "
                                                    "re-screen (it was screened with")
    assert r.stderr.rstrip().endswith(f"--no-keep-works --since 2001-01-01 --out "
                                      f"{tmp_path / 'r2'} --no-progress --no-names; "
                                      "nothing recorded")


def test_cli_rescreen_exit_10_then_0(case, tmp_path) -> None:
    _, versions, *_ = case
    runner = CliRunner()
    env = {"TRACKER_HOME": str(tmp_path)}
    r = runner.invoke(app, ["rescreen"], env=env)
    assert r.exit_code == 0, r.output  # version 0 again: nothing changed
    assert "no change" in r.output
    update_registry(versions, [read_source(CSL_2022)])
    r = runner.invoke(app, ["rescreen", "--json"], env=env)
    assert r.exit_code == 10, r.output
    r = runner.invoke(app, ["rescreen"], env=env)
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["rescreen", "--registry", "99"], env=env)
    assert r.exit_code == 4


def test_screen_cli_keeps_works_and_rescreen_cli_finds_the_new_entries(tmp_path, monkeypatch
                                                                       ) -> None:
    from tracker.cli import main

    monkeypatch.setenv("TRACKER_HOME", str(tmp_path))
    assert main(["screen", "--works", str(tracker.demo_works_path()), "--out",
                 str(tmp_path / "r"), "--no-progress"]) == 0
    with Store(tmp_path / "tracker.db") as store:
        (run_id,) = [r["id"] for r in store.runs()]
        works = run_works(store, run_id)
    demo = [w for w in tracker.read_works(tracker.demo_works_path())
            if isinstance(w, tracker.Work)]
    assert works is not None and [w.id for w in works] == [w.id for w in demo]
    assert main(["rescreen"]) == 0
    assert main(["lists", "update", "--from", str(CSL_2022)]) == 0
    monkeypatch.setattr(requests.Session, "request", _no_http)
    assert main(["rescreen"]) == 10


def test_an_api_run_keeps_the_works_it_screened_for_rescreen(oa, tmp_path, monkeypatch
                                                             ) -> None:
    """Works fetched from OpenAlex are kept as screened: a rescreen needs no second fetch."""
    from tracker.cli import main

    monkeypatch.setenv("TRACKER_HOME", str(tmp_path))
    org = "I19820366"  # Chinese Academy of Sciences
    assert main(["screen", "--org", org, "--since", "2000-01-01", "--openalex-url", oa.url,
                 "--out", str(tmp_path / "r"), "--no-progress", "--no-names"]) == 0
    assert any(r.path == "/works" for r in oa.requests.snapshot())  # fetched from the API
    with Store(tmp_path / "tracker.db") as store:
        (run_id,) = [r["id"] for r in store.runs()]
        works = run_works(store, run_id)
        n_read = store.run_record(run_id)["counts"]["works_read"]
    assert works is not None and len(works) >= n_read > 0
    served = [w["work_id"] for w in json.loads(
        (tmp_path / "r" / "findings.json").read_text("utf-8"))["findings"]]
    assert set(served) <= {w.id for w in works}
    calls = len(oa.requests.snapshot())
    monkeypatch.setattr(requests.Session, "request", _no_http)
    assert main(["rescreen"]) == 0  # same version in force: no change, and no HTTP call
    assert len(oa.requests.snapshot()) == calls


def test_a_roster_run_on_saved_files_keeps_no_works(tmp_path) -> None:
    """A roster screens only its people's authorships in the files; a rescreen of every
    stored work would report every other tie in the files as new (it did: 576 'new' on the
    demo works for a roster that matched nobody)."""
    roster = tmp_path / "roster.csv"
    roster.write_text("name,orcid\nJosiah Carberry,0000-0002-1825-0097\n", "utf-8")
    db = tmp_path / "case.db"
    out = tracker.run(tracker.RunRequest(works=(tracker.demo_works_path(),), roster=roster,
                                         db=db, names=False, processes=False))
    plain = tracker.run(tracker.RunRequest(works=(tracker.demo_works_path(),), db=db,
                                           names=False, processes=False))
    with Store(db) as st:
        assert run_works(st, out.run_id) is None
        assert run_works(st, plain.run_id) is not None


def test_a_rescreen_reports_each_run_s_works_as_it_screens_them(case):
    """``progress("run N", done, total)``: first while the stored works are read (no total
    yet), then the works screened of all of them; counts that only grow."""
    store, versions, run_id, works, _ = case
    calls: list = []
    rescreen_runs(store, versions.load(), record=False, progress=lambda *a: calls.append(a))
    stage = f"run {run_id}"
    assert calls[0] == (stage, 0, None)
    assert calls[-1] == (stage, len(works), len(works)) and len(works) == 71
    assert {s for s, _, _ in calls} == {stage}
    assert [d for _, d, _ in calls] == sorted(d for _, d, _ in calls)


def test_stored_works_come_back_in_consecutive_shares_across_chunk_ends(tmp_path, monkeypatch
                                                                        ) -> None:
    """Kept works are read as they are decompressed, a chunk at a time: with chunks far
    smaller than a line (lines cut anywhere), every cut into shares gives the works back
    whole and in order, each once."""
    import tracker.store as store_module
    from tracker.store import stored_works

    works = [w for w in tracker.read_works(tracker.demo_works_path())
             if isinstance(w, tracker.Work)]
    monkeypatch.setattr(store_module, "_WORKS_CHUNK", 997)
    with Store(tmp_path / "t.db") as st:
        run_id = st.start_run(["test"], {})
        store_run_works(st, run_id, works)
        stored = stored_works(st, run_id)
    assert stored is not None and stored.n_works == len(works) == 71
    assert len(stored.data) > 10 * 997  # many chunks
    expected = [work_to_json(w) for w in works]
    for parts in (1, 2, 3, 5, 71):
        shares = stored.shares(parts)
        assert len(shares) == parts
        got = [[work_to_json(w) for w in share()] for share in shares]
        assert [d for g in got for d in g] == expected, parts
        assert all(got), parts  # no empty share
    # a count lower than the lines (a damaged row): the last share still reads to the end
    import dataclasses

    fewer = dataclasses.replace(stored, n_works=60)
    assert [work_to_json(w) for share in fewer.shares(2) for w in share()] == expected


def test_damaged_stored_works_are_refused_even_by_a_share_that_stops_early(tmp_path) -> None:
    """A changed byte, a cut-off text or a hash that does not match: reading the works
    raises StoreError, never returns fewer or other works; the first share checks the
    whole text although it stops at the middle."""
    import dataclasses

    from tracker.store import StoreError, stored_works

    works = [w for w in tracker.read_works(tracker.demo_works_path())
             if isinstance(w, tracker.Work)]
    with Store(tmp_path / "t.db") as st:
        run_id = st.start_run(["test"], {})
        store_run_works(st, run_id, works)
        stored = stored_works(st, run_id)
    assert stored is not None
    data = stored.data
    flipped = data[:len(data) // 2] + bytes([data[len(data) // 2] ^ 0x55]) \
        + data[len(data) // 2 + 1:]
    for bad in (dataclasses.replace(stored, data=flipped),
                dataclasses.replace(stored, data=data[:-8]),
                dataclasses.replace(stored, sha256="0" * 64)):
        with pytest.raises(StoreError, match="are damaged"):
            list(bad.works())
        first, _second = bad.shares(2)
        with pytest.raises(StoreError, match="are damaged"):
            list(first())
    assert len(list(stored.works())) == 71


def test_a_rescreen_in_shares_reports_what_one_pass_reports(case, monkeypatch) -> None:
    """The stored works screened in consecutive shares, each in a forked process (where
    this process may fork: one thread running), give the same change report as one screen
    over all of them in this process."""
    import tracker.rescreen as rescreen
    import tracker.screening as screening

    store, versions, run_id, _, _ = case
    update_registry(versions, [read_source(CSL_2022)])
    reg1 = versions.load()
    one = rescreen.rescreen_run(store, run_id, reg1, record=False,
                                screen_fn=lambda works, **how: screen(works, **how))
    shares: list[int] = []
    forks: list[int] = []
    fork, in_shares = screening._fork, rescreen.screen_shares

    def counted_fork(*args, **kwargs):
        forks.append(1)
        return fork(*args, **kwargs)

    def counted_shares(parts, **how):
        shares.append(len(parts))
        return in_shares(parts, **how)

    monkeypatch.setattr(screening, "_fork", counted_fork)
    monkeypatch.setattr(rescreen, "screen_shares", counted_shares)
    monkeypatch.setattr(rescreen, "SHARE_WORKS", 10)
    monkeypatch.setattr("os.cpu_count", lambda: 3)
    shared = rescreen.rescreen_run(store, run_id, reg1, record=False)
    assert shares == [3]
    assert forks == ([1, 1] if screening.can_fork() else [])  # two of three forked
    assert one.new and shared.to_json() == one.to_json()


def test_the_works_of_files_are_kept_by_the_shares_that_screen_them(tmp_path, monkeypatch
                                                                     ) -> None:
    """The demo works cut into three files (shares of consecutive files): the works kept
    with the run are every work of the files, in order, packed as the shares read them;
    the files are not read a second time to keep them."""
    import gzip

    import tracker.runs as runs

    with gzip.open(tracker.demo_works_path(), "rt", encoding="utf-8") as fh:
        lines = [ln for ln in fh if ln.strip()]
    parts = []
    for k, cut in enumerate((lines[:20], lines[20:50], lines[50:])):
        p = tmp_path / f"part_{k}.jsonl"
        p.write_text("".join(cut), "utf-8")
        parts.append(p)
    monkeypatch.setattr("os.cpu_count", lambda: 3)
    reads: list[str] = []
    read = runs._file_records

    def counted(path, *args, **kwargs):
        reads.append(path.name)
        return read(path, *args, **kwargs)

    monkeypatch.setattr(runs, "_file_records", counted)
    # the shares in this process (processes=False), so that their reads are counted here
    out = tracker.run(tracker.RunRequest(works=tuple(parts), db=tmp_path / "case.db",
                                         names=False, engine="python", processes=False))
    assert sorted(reads) == ["part_0.jsonl", "part_1.jsonl", "part_2.jsonl"]  # once each
    demo = [w for w in tracker.read_works(tracker.demo_works_path())
            if isinstance(w, tracker.Work)]
    with Store(tmp_path / "case.db") as st:
        kept = run_works(st, out.run_id)
    assert kept is not None
    assert [work_to_json(w) for w in kept] == [work_to_json(w) for w in demo]


def test_packed_pieces_join_into_one_zlib_stream(tmp_path) -> None:
    """Pieces packed apart (as forked shares pack them) are kept as one zlib stream that
    plain ``zlib.decompress`` reads whole, as tracker versions before them read kept works;
    a piece that does not hold the works it counts is refused."""
    import zlib

    from tracker.store import WorksPacker, store_packed_works

    works = [w for w in tracker.read_works(tracker.demo_works_path())
             if isinstance(w, tracker.Work)]
    pieces = []
    for cut in (works[:10], works[10:11], [], works[11:]):
        packer = WorksPacker()
        for w in cut:
            packer.add(w)
        pieces.append(packer.done())
    with Store(tmp_path / "t.db") as st:
        run_id = st.start_run(["test"], {})
        assert store_packed_works(st, run_id, pieces) == 71
        (blob,) = st._db.execute("SELECT data FROM run_works").fetchone()
        text = zlib.decompress(blob)
        assert [json.loads(ln) for ln in text.split(b"\n") if ln] == \
            [json.loads(json.dumps(work_to_json(w))) for w in works]
        back = run_works(st, run_id)
        assert back is not None and [w.id for w in back] == [w.id for w in works]
        with pytest.raises(ValueError, match="lines for 72 works"):
            store_packed_works(st, run_id, [*pieces[:-1], (pieces[-1][0] + 1, pieces[-1][1])])
