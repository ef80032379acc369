"""Shared slots: texts written after a process is forked are read there, in place; a
writer waits for a free slot, and stopping ends the wait."""

from __future__ import annotations

import multiprocessing
import sys
import threading

import pytest

from tracker.engine.slots import SharedSlots, SlotsStopped

_SHARED: SharedSlots | None = None  # the forked process's copy


def _read(slot: int, ends: list[int]) -> list[bytes]:
    assert _SHARED is not None
    return [bytes(v) for v in _SHARED.views(slot, ends)]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork")
def test_a_process_forked_before_the_texts_are_written_reads_them():
    global _SHARED
    slots = _SHARED = SharedSlots(2, 1 << 16)
    try:
        with multiprocessing.get_context("fork").Pool(1) as pool:
            pool.apply(len, ((),))  # forked and running before anything is written
            for texts in ([b'{"id":"W1"}', b"", "é".encode()], [b"x" * (1 << 16)]):
                got = slots.put(texts)
                assert got is not None
                slot, ends = got
                assert pool.apply(_read, (slot, ends)) == texts
                slots.free(slot)
    finally:
        _SHARED = None
        slots.close()


def test_a_batch_larger_than_a_slot_is_not_written():
    slots = SharedSlots(1, 8)
    try:
        assert slots.put([b"1234", b"56789"]) is None
        assert slots.put([b"1234", b"5678"]) == (0, [4, 8])
    finally:
        slots.close()


def test_a_writer_waits_for_a_free_slot_and_stopping_ends_the_wait():
    slots = SharedSlots(1, 8)
    got: list[object] = []

    def write() -> None:
        try:
            got.append(slots.put([b"b"]))
        except SlotsStopped as exc:
            got.append(exc)

    try:
        first = slots.put([b"a"])
        assert first == (0, [1])
        t = threading.Thread(target=write)
        t.start()
        t.join(0.5)
        assert t.is_alive() and not got  # every slot in use
        slots.free(0)
        t.join(10)
        assert got == [(0, [1])]
        t = threading.Thread(target=write)
        t.start()
        slots.stop()
        t.join(10)
        assert not t.is_alive() and isinstance(got[1], SlotsStopped)
        with pytest.raises(ValueError):
            SharedSlots(0, 8)
    finally:
        slots.close()
