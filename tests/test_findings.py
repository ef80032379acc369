"""SpooledFindings: the findings of a run in order, on disk past a set number."""

from __future__ import annotations

import multiprocessing
import random
import sys

import pytest

from tracker.findings import FAN_IN, SpooledFindings, amend_findings
from tracker.risk import Finding, finding_order


def _finding(i: int, rng: random.Random) -> Finding:
    return Finding(f"F{i:05d}", f"W{rng.randrange(50)}", "", f"title {i}",
                   f"20{rng.randrange(10, 25)}-0{rng.randrange(1, 10)}-1{rng.randrange(10)}",
                   f"A{i}", "", "first", "raw", "I1", "", "Univ", rng.choice("ABC"), "Univ",
                   "", "unknown", "openalex_id", "", "review", extra={"authorship_index": i})


def _findings(n: int, seed: int = 3) -> list[Finding]:
    rng = random.Random(seed)
    return [_finding(i, rng) for i in range(n)]


@pytest.mark.parametrize("in_memory", [1, 7, 1000, 10_000])
def test_same_order_and_values_whether_held_or_spilled(in_memory, tmp_path):
    fs = _findings(2500)
    spool = SpooledFindings(key=finding_order, in_memory=in_memory, folder=tmp_path)
    for i in range(0, len(fs), 333):  # batches, as the engines add them
        spool.extend(fs[i:i + 333])
    spool.finish()
    want = sorted(fs, key=finding_order)
    assert spool.spilled == (in_memory < len(fs))
    assert len(spool) == len(want)
    assert [f.row() for f in spool] == [f.row() for f in want]
    assert [f.extra for f in spool] == [f.extra for f in want]
    # indexes and slices, across block boundaries
    for i in (0, 1, 1999, 2000, 2001, 2499, -1, -2500):
        assert spool[i].row() == want[i].row()
    assert [f.finding_id for f in spool[1990:2010]] == [f.finding_id for f in want[1990:2010]]
    assert [f.finding_id for f in spool[::500]] == [f.finding_id for f in want[::500]]
    with pytest.raises(IndexError):
        spool[2500]


@pytest.mark.parametrize("held", [0, 2])
def test_more_runs_than_one_merge_takes_are_merged_in_rounds(held, tmp_path):
    n = (FAN_IN * 2 + 5) * 3 + held  # and the findings still held at the end
    spool = SpooledFindings(key=finding_order, in_memory=3, folder=tmp_path)
    spool.extend(_findings(n, seed=9))
    assert len(spool._runs) > FAN_IN  # the rounds are needed
    spool.finish()
    assert [f.finding_id for f in spool] == [
        f.finding_id for f in sorted(_findings(n, seed=9), key=finding_order)]


def test_the_findings_held_at_finish_join_the_merge_from_memory(tmp_path, monkeypatch):
    """finish() merges the findings it still holds from memory: each finding is written
    out once in its run and once merged, the findings held only once (written out as a
    run of their own, they were pickled and read back for nothing: about a fifth of the
    merge at two million generated works)."""
    import tracker.findings as spooling

    dump = spooling._dump
    written = {"n": 0}

    def counted(findings):
        written["n"] += len(findings)
        return dump(findings)

    monkeypatch.setattr(spooling, "_dump", counted)
    fs = _findings(1123)
    spool = SpooledFindings(key=finding_order, in_memory=500, folder=tmp_path)
    spool.extend(fs)
    assert written["n"] == 1000  # two runs out; 123 held
    spool.finish()
    assert written["n"] == 1000 + 1123
    assert spool.spilled
    assert [f.row() for f in spool] == [f.row() for f in sorted(fs, key=finding_order)]


def test_temporary_files_are_unlinked_and_closed(tmp_path):
    spool = SpooledFindings(key=finding_order, in_memory=10, folder=tmp_path)
    spool.extend(_findings(100))
    spool.finish()
    assert list(tmp_path.iterdir()) == []  # nothing left to clean up, even after a crash
    spool.close()


def test_empty_and_misuse(tmp_path):
    spool = SpooledFindings(key=finding_order, folder=tmp_path)
    with pytest.raises(RuntimeError):
        len(spool)
    spool.finish()
    assert len(spool) == 0 and not spool and list(spool) == []
    with pytest.raises(RuntimeError):
        spool.extend(_findings(1))
    with pytest.raises(ValueError):
        SpooledFindings(key=finding_order, in_memory=0)


@pytest.mark.parametrize("in_memory", [5, 10_000])
def test_amendments_apply_to_every_read(in_memory, tmp_path):
    spool = SpooledFindings(key=finding_order, in_memory=in_memory, folder=tmp_path)
    spool.extend(_findings(300))
    spool.finish()
    fid = spool[123].finding_id
    amend_findings(spool, {fid: {"review_status": "escalated", "extra": {"review": {"v": 1}}}})
    amend_findings(spool, {fid: {"extra": {"note": "x"}}})
    got = [f for f in spool if f.finding_id == fid]
    assert len(got) == 1
    assert got[0].review_status == "escalated"
    assert got[0].extra == {"authorship_index": got[0].extra["authorship_index"],
                            "review": {"v": 1}, "note": "x"}
    assert spool[123].review_status == "escalated"
    assert sum(f.review_status != "unreviewed" for f in spool) == 1


def test_a_plain_list_is_changed_in_place():
    fs = _findings(3)
    amend_findings(fs, {fs[1].finding_id: {"review_status": "cleared"}})
    assert [f.review_status for f in fs] == ["unreviewed", "cleared", "unreviewed"]


def _child_reads(spool: SpooledFindings, out) -> None:
    out.put([f.finding_id for f in spool])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork")
def test_a_forked_process_reads_the_same_findings(tmp_path):
    spool = SpooledFindings(key=finding_order, in_memory=50, folder=tmp_path)
    spool.extend(_findings(700))
    spool.finish()
    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_child_reads, args=(spool, q))
    p.start()
    mine = [f.finding_id for f in spool]  # at the same time: positioned reads
    theirs = q.get(timeout=60)
    p.join(60)
    assert theirs == mine and len(mine) == 700


def _counting_reads(monkeypatch) -> list[int]:
    """Count the blocks read back from disk (each call of ``_File.read``)."""
    import tracker.findings as spooled

    reads: list[int] = []
    real = spooled._File.read

    def read(self, span):
        reads.append(span[0])
        return real(self, span)

    monkeypatch.setattr(spooled._File, "read", read)
    return reads


@pytest.mark.parametrize("in_memory", [40, 10_000])
def test_the_findings_starting_with_a_prefix_are_read_from_their_blocks_alone(
        in_memory, tmp_path, monkeypatch):
    """``starting_with((date, work))`` gives a work's findings as a filter over every
    finding gives them, held or spilled in blocks (seven findings a block here, so works
    cross block edges); on disk it reads the blocks that hold them and at most one block
    before and one after, never the whole file."""
    import tracker.findings as spooled

    monkeypatch.setattr(spooled, "_BLOCK", 7)
    fs = _findings(600, seed=5)
    spool = SpooledFindings(key=finding_order, in_memory=in_memory, folder=tmp_path)
    spool.extend(fs)
    spool.finish()
    assert spool.spilled == (in_memory < len(fs))
    want = sorted(fs, key=finding_order)
    reads = _counting_reads(monkeypatch)
    works = sorted({(f.publication_date, f.work_id) for f in fs})
    for prefix in [*works, ("2009-01-10", "W1"), ("2030-01-10", "W1"), ("", "")]:
        spool._cached = None  # every lookup from disk: its own blocks counted
        del reads[:]
        got = spool.starting_with(prefix)
        assert [f.finding_id for f in got] == [
            f.finding_id for f in want if finding_order(f)[:2] == prefix], prefix
        if spool.spilled:
            assert len(reads) <= -(-len(got) // 7) + 2, (prefix, len(got), len(reads))
    if spool.spilled:  # a date alone is a prefix too
        day = works[len(works) // 2][0]
        assert [f.finding_id for f in spool.starting_with((day,))] == [
            f.finding_id for f in want if f.publication_date == day]
