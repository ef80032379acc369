"""The pipeline on real records: windows, subjects, data gaps, de-duplication."""

from __future__ import annotations

import dataclasses
import gzip
import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import date

import pytest

from tests._paths import OPENALEX
from tracker.records import Work, parse_work
from tracker.screening import ScreenSettings, SubjectSpec, screen
from tracker.skipped import SkippedRecord
from tracker.sources.files import read_works
from tracker.watchlists import load_registry


@pytest.fixture(scope="module")
def registry():
    return load_registry()


@pytest.fixture(scope="module")
def beihang_msra():
    raw = json.loads((OPENALEX / "fixture_works_list_select_beihang_msra_2025-10-29.json")
                     .read_text("utf-8"))
    return [parse_work(r) for r in raw["results"]]


@pytest.fixture(scope="module")
def subset():
    return [w for w in read_works(OPENALEX / "works_china_msra_subset.jsonl")]


def test_identifier_ties_are_found_with_reasons(registry, subset):
    res = screen(subset, registry=registry, settings=ScreenSettings(name_matching=False))
    assert res.findings
    for f in res.findings:
        assert f.match_method in {"openalex_id", "ror", "lineage"}
        assert f.match_detail and f.list_entry_name and f.entry_id
        assert f.listed_at_publication in {"yes", "no", "unknown"}
        if f.listed_at_publication == "unknown":
            assert f.reason
        assert f.work_id in res.works
    # Every flagged institution really is attached by OpenAlex to that authorship.
    by_id = {w.id: w for w in subset}
    for f in res.findings:
        auth_insts = {i.id for a in by_id[f.work_id].authorships for i in a.institutions}
        assert f.institution_id in auth_insts


def test_beihang_entity_list_tie_is_dated(registry, beihang_msra):
    res = screen(beihang_msra, registry=registry)
    el = [f for f in res.findings if f.list == "BIS_ENTITY_LIST"
          and f.institution_id == "I82880672"]
    assert el
    # The select= records carry only a publication year; Beihang was listed in 2001.
    assert all(f.date_basis == "publication_year" for f in el)
    assert all(f.listed_at_publication == "yes" for f in el)
    assert all(f.listed_on == "2001-05-14" for f in el)


def test_window_filters_by_date_and_keeps_year_only_in_boundary_year(registry, subset):
    since, until = date(2020, 1, 1), date(2020, 12, 31)
    res = screen(subset, registry=registry, settings=ScreenSettings(since=since, until=until))
    expected = [w for w in subset
                if (w.publication_date and since <= w.publication_date <= until)
                or (w.publication_date is None and w.publication_year == 2020)]
    assert res.run["counts"]["works_read"] == len(expected) > 0
    assert res.run["counts"]["works_out_of_window"] == len(subset) - len(expected)


def test_subject_relation(registry, beihang_msra):
    subj = SubjectSpec("org", ("I4210113369",), label="Microsoft Research Asia")
    res = screen(beihang_msra, registry=registry, subjects=[subj])
    assert res.run["counts"]["works_not_of_subject"] + res.run["counts"]["works_read"] == 20
    assert res.findings
    by_id = {w.id: w for w in beihang_msra}
    for f in res.findings:
        auth = next(a for a in by_id[f.work_id].authorships if (a.author_id or "") == f.author_id)
        own = any(i.id == "I4210113369" or "I4210113369" in i.lineage for i in auth.institutions)
        # A subject member's second affiliation is the subject's own tie, not a co-author's.
        assert f.relation == ("subject" if own else "coauthor")


def test_skipped_records_are_counted_not_fatal(registry, subset):
    items = [*subset[:5], SkippedRecord("x.jsonl", "line 9", "not valid JSON"), *subset[:5]]
    res = screen(items, registry=registry)
    assert res.run["counts"]["works_skipped"] == 1
    assert res.run["counts"]["works_duplicate"] == 5
    assert res.run["data_gaps"]["skipped"][0]["location"] == "line 9"


def test_data_gaps_counted_from_records(registry, subset):
    res = screen(subset, registry=registry)
    gaps = res.run["data_gaps"]
    no_inst = sum(1 for w in subset for a in w.authorships if not a.institutions)
    assert gaps["authorships_without_institution"] == no_inst > 0
    assert gaps["works_year_only"] == sum(1 for w in subset if w.publication_date is None
                                          and w.publication_year is not None)


def test_list_restriction(registry, subset):
    res = screen(subset, registry=registry, settings=ScreenSettings(lists=("DOD_1286",)))
    assert res.findings and {f.list for f in res.findings} == {"DOD_1286"}
    assert [e["list"] for e in res.run["registry"]["editions"]] and all(
        e["list"] == "DOD_1286" for e in res.run["registry"]["editions"])


# --------------------------------------------------------------------------- shares

def _rows(res):
    return [dataclasses.asdict(f) for f in res.findings]


def _same(a, b):
    assert _rows(a) == _rows(b)
    assert list(a.works) == list(b.works)  # flagged works, in file order
    for key in ("counts", "data_gaps", "settings", "registry", "subjects"):
        assert a.run[key] == b.run[key], key
    assert a.subjects == b.subjects


@pytest.fixture(scope="module")
def names(registry):
    from tracker.names import NameMatcher

    return NameMatcher(registry)


@pytest.fixture(scope="module")
def mixed_file(tmp_path_factory):
    """Real OpenAlex records (the 71-work subset, then 870 bibliographic-graph works) with
    what a long file holds: works repeated within and across shares, broken lines, a record
    without id.  The repeats and broken lines are put there by this fixture."""
    lines = [x for x in (OPENALEX / "works_china_msra_subset.jsonl").read_bytes().split(b"\n")
             if x.strip()]
    with gzip.open(OPENALEX / "works_bibgraph_2025-10.jsonl.gz", "rb") as fh:
        lines += [x for x in fh.read().split(b"\n") if x.strip()]  # holds most of the 71 again
    n = len(lines)
    lines.insert(n - 5, lines[3])      # a flagged-work candidate met again near the end
    lines.insert(n // 2 + 7, lines[20])  # again just past the middle
    lines.insert(n - 2, lines[n - 3])  # twice within the last share
    lines.insert(30, b"{broken")
    lines.insert(n // 2 + 3, b'{"title": "no id"}')
    lines += [lines[5]] * 3             # three times at the very end
    f = tmp_path_factory.mktemp("shares") / "mixed.jsonl.gz"
    f.write_bytes(gzip.compress(b"\n".join(lines) + b"\n"))
    return f


@pytest.fixture
def forking():
    """Tests of the forked processes themselves.  screen_shares forks only while no other
    thread runs, and this session's OpenAlex test server is a thread once a test has used
    it: then these are skipped here and run in a fresh interpreter by
    test_fork_tests_in_a_fresh_interpreter."""
    if os.environ.get("TRACKER_FORK_TESTS") != "1" and os.environ.get("PYTEST_XDIST_WORKER"):
        # a worker's threads depend on what ran in it before: always the fresh interpreter
        pytest.skip("run in a fresh interpreter by test_fork_tests_in_a_fresh_interpreter")
    if threading.active_count() > 1:
        if os.environ.get("TRACKER_FORK_TESTS") == "1":
            pytest.fail(f"threads running: {threading.enumerate()}")
        pytest.skip("other threads run in this session (see the forking fixture)")


def test_fork_tests_in_a_fresh_interpreter(tmp_path):
    if os.environ.get("TRACKER_FORK_TESTS") == "1":
        pytest.skip("this is the fresh interpreter")
    env = {**os.environ, "TRACKER_FORK_TESTS": "1"}
    p = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p",
                        "no:cacheprovider", "-k", "fork", __file__], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=600)
    tail = p.stdout.strip().splitlines()[-1] if p.stdout.strip() else p.stderr
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-2000:]
    assert "skipped" not in tail.replace("1 skipped", "") and " passed" in tail, tail


@pytest.mark.parametrize("parts", [2, 3])
@pytest.mark.parametrize("processes", [True, False], ids=["forked", "here"])
@pytest.mark.parametrize("case", ["plain", "window+topic", "subject", "names+framework"])
def test_shares_give_what_one_pass_gives(request, registry, names, mixed_file, parts,
                                         processes, case):
    from tracker.screening import screen_shares
    from tracker.sources.files import split_works

    if processes:
        request.getfixturevalue("forking")

    kwargs: dict = {"settings": ScreenSettings(name_matching=False)}
    if case == "window+topic":
        kwargs["settings"] = ScreenSettings(since=date(2019, 1, 1), until=date(2024, 12, 31),
                                            topics=("learning", "image"), name_matching=False)
    elif case == "subject":
        kwargs["subjects"] = [SubjectSpec("org", ("I4210113369",), label="Microsoft Research Asia")]
    elif case == "names+framework":
        from tracker.frameworks import load_framework

        kwargs["settings"] = ScreenSettings(framework="dow-2026")
        kwargs["name_matcher"] = names
        kwargs["assessor"] = load_framework("dow-2026").assessor(date(2026, 11, 23),
                                                                   registry=registry)
    one = screen(read_works(mixed_file), registry=registry, **kwargs)
    shares = split_works(mixed_file, parts, min_bytes=0)
    assert len(shares) == parts
    two, pids = screen_shares(shares, registry=registry, processes=processes,
                              collect=lambda works: os.getpid(), **kwargs)
    assert (len(set(pids)) == parts) is processes  # each share read in a process of its own
    _same(two, one)
    counts = one.run["counts"]
    assert counts["works_duplicate"] >= 6 and counts["works_skipped"] == 2
    assert one.findings and counts["works_read"] > 0
    if case == "window+topic":
        assert counts["works_out_of_window"] and counts["works_off_topic"]
    if case == "subject":
        assert counts["works_not_of_subject"]


def test_fork_a_share_collects_in_the_process_that_read_it(forking, registry, mixed_file):
    from tracker.screening import screen_shares
    from tracker.sources.files import split_works

    def where(works):
        return os.getpid(), len(works)

    res, got = screen_shares(split_works(mixed_file, 3, min_bytes=0), registry=registry,
                             settings=ScreenSettings(name_matching=False), collect=where)
    assert got[0][0] == os.getpid() and {p for p, _ in got[1:]}.isdisjoint({os.getpid()})
    total = sum(n for _, n in got)
    assert total == res.run["counts"]["works_read"] + res.run["counts"]["works_duplicate"]


def test_fork_a_share_sink_packs_its_works_in_the_process_that_read_it(forking, registry,
                                                                       mixed_file, tmp_path):
    """Each share's sink is given every work the share reads (duplicates and all), in its
    own process; the pieces, joined in share order, are the file's works in order."""
    from tracker.screening import screen_shares
    from tracker.sources.files import split_works
    from tracker.store import Store, WorksPacker, run_works, store_packed_works, work_to_json

    class Where(WorksPacker):
        def done(self):
            return os.getpid(), super().done()

    _res, got = screen_shares(split_works(mixed_file, 3, min_bytes=0), registry=registry,
                              settings=ScreenSettings(name_matching=False), sink=Where)
    assert got[0][0] == os.getpid() and {p for p, _ in got[1:]}.isdisjoint({os.getpid()})
    with Store(tmp_path / "t.db") as st:
        run_id = st.start_run(["test"], {})
        store_packed_works(st, run_id, [piece for _, piece in got])
        kept = run_works(st, run_id)
    works = [w for w in read_works(mixed_file) if isinstance(w, Work)]
    assert kept is not None and len(kept) == len(works) > len({w.id for w in works})
    assert [work_to_json(w) for w in kept] == [work_to_json(w) for w in works]


def test_a_share_takes_a_sink_or_collect_not_both(registry):
    from tracker.screening import screen_shares
    from tracker.store import WorksPacker

    with pytest.raises(ValueError, match="not both"):
        screen_shares([lambda: []], registry=registry, sink=WorksPacker,
                      collect=lambda works: None)


def test_fork_an_error_in_another_share_stops_the_run(forking, registry):
    from tracker.screening import screen_shares
    from tracker.sources.files import WorksFileError

    def fails():
        raise WorksFileError("w.jsonl.gz: cannot read the file (truncated)")

    with pytest.raises(WorksFileError, match="truncated"):
        screen_shares([lambda: [], fails], registry=registry)


def test_fork_a_share_whose_process_dies_is_screened_here(forking, registry, subset):
    from tracker.screening import screen_shares

    parent = os.getpid()

    def dies_elsewhere():
        if os.getpid() != parent:
            os._exit(3)  # killed, out of memory: no answer at all
        return subset[30:]

    res, _ = screen_shares([lambda: subset[:30], dies_elsewhere], registry=registry,
                           settings=ScreenSettings(name_matching=False))
    _same(res, screen(subset, registry=registry, settings=ScreenSettings(name_matching=False)))


def test_fork_a_share_whose_answer_is_cut_off_is_screened_here(forking, registry, subset):
    from tracker.screening import screen_shares

    parent = os.getpid()

    def collect(works):
        # a megabyte that pickles, then a lambda that does not: the stream is cut part-way
        return [os.getpid(), len(works), b"x" * (1 << 20), lambda: None]

    settings = ScreenSettings(name_matching=False)
    res, got = screen_shares([lambda: subset[:30], lambda: subset[30:]], registry=registry,
                             settings=settings, collect=collect)
    _same(res, screen(subset, registry=registry, settings=settings))
    assert [(g[0], g[1]) for g in got] == [(parent, 30), (parent, len(subset) - 30)]


def test_fork_ctrl_c_while_waiting_stops_the_other_process(forking, registry, subset,
                                                           tmp_path):
    from tracker.screening import screen_shares

    pidfile = tmp_path / "child.pid"

    def slow():
        pidfile.write_text(str(os.getpid()))
        time.sleep(60)
        return subset

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 1.5)  # while this process waits for the other
    started = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            screen_shares([lambda: subset[:10], slow], registry=registry,
                          settings=ScreenSettings(name_matching=False))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    assert time.monotonic() - started < 30
    with pytest.raises(ProcessLookupError):  # killed and reaped, not left sleeping
        os.kill(int(pidfile.read_text()), 0)


def test_fork_none_while_other_threads_run(forking, registry, subset):
    from tracker.screening import screen_shares

    calls: list[int] = []  # appended in a forked process, it would not be seen here

    def share(part):
        def read():
            calls.append(os.getpid())
            return part
        return read

    shares = [share(subset[:40]), share(subset[40:])]
    screen_shares(shares, registry=registry)
    assert calls == [os.getpid()]  # the second share was read in another process
    calls.clear()
    stop = threading.Event()
    t = threading.Thread(target=stop.wait)
    t.start()
    try:
        screen_shares(shares, registry=registry)
    finally:
        stop.set()
        t.join()
    assert calls == [os.getpid()] * 2
