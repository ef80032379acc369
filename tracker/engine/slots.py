"""Batches of text handed to forked worker processes through shared memory.

Why not the pool's pipe: the DuckDB engine's worker processes screen the candidate works'
records, batches of about 8 MB of JSON text.  Sent as a task, a batch is pickled, written
into the pipe, read out of it and unpickled: four copies and the system calls between them.
Measured on two cores with 200 batches of 900 generated records (1.9 GB): 3.75 s and about
4.5 CPU seconds through the pipe, 0.19 s through shared memory.  A million generated works
have about 8 GB of candidate text.  Written once into memory that the workers share (an
anonymous mapping made before they are forked, which they inherit), a batch crosses the pipe
as its texts' end offsets, and a worker reads each text where it lies (orjson parses a
``memoryview``).  :mod:`multiprocessing.shared_memory` names a segment for processes that
are not related; a forked pool needs no name, and no segment is left behind when a process
is killed.

The memory is split into slots, one batch each; a slot is taken by the process that writes
it (waiting while every slot is in use) and freed when the batch's answer is back.
"""

from __future__ import annotations

import mmap
import queue
import threading
from collections.abc import Sequence


class SlotsStopped(RuntimeError):
    """The slots were stopped while a batch waited for a free one: the batch is dropped
    (its run is ending)."""


class SharedSlots:
    """``count`` slots of ``slot_bytes`` bytes in memory shared with the processes forked
    after it is made.

    Parameters
    ----------
    count : int
        Slots: a batch each.  One more than the workers keeps the next batch written while
        every worker screens one.
    slot_bytes : int
        The most text one batch may hold (a larger batch goes another way: :meth:`put`
        returns None).

    Examples
    --------
    >>> slots = SharedSlots(2, 16)
    >>> slot, ends = slots.put([b'{"a":1}', b"[2]"])
    >>> [bytes(v) for v in slots.views(slot, ends)]
    [b'{"a":1}', b'[2]']
    >>> slots.put([b"x" * 17]) is None
    True
    >>> slots.free(slot)
    >>> slots.close()
    """

    def __init__(self, count: int, slot_bytes: int) -> None:
        if count < 1 or slot_bytes < 1:
            raise ValueError(f"slots need a count and a size, not {count} of {slot_bytes}")
        self.slot_bytes = slot_bytes
        self._memory = mmap.mmap(-1, count * slot_bytes)  # anonymous and shared
        self._free: queue.SimpleQueue[int] = queue.SimpleQueue()
        for i in range(count):
            self._free.put(i)
        self._stopped = threading.Event()

    def put(self, texts: Sequence[bytes | memoryview]) -> tuple[int, list[int]] | None:
        """Write ``texts`` one after another into a free slot, waiting for one; return
        ``(slot, end offsets)``, or None, writing nothing, when they do not fit in one.

        Raises
        ------
        SlotsStopped
            :meth:`stop` was called (before or while waiting).
        """
        if sum(len(t) for t in texts) > self.slot_bytes:
            return None
        while True:
            if self._stopped.is_set():
                raise SlotsStopped("the shared slots were stopped")
            try:
                slot = self._free.get(timeout=0.2)
                break
            except queue.Empty:
                continue
        memory, at = self._memory, slot * self.slot_bytes
        ends = []
        end = 0
        for t in texts:
            start, end = end, end + len(t)
            memory[at + start:at + end] = t
            ends.append(end)
        return slot, ends

    def views(self, slot: int, ends: Sequence[int]) -> list[memoryview]:
        """The texts :meth:`put` wrote into ``slot``, where they lie (no copy): valid until
        the slot is freed."""
        whole = memoryview(self._memory)[slot * self.slot_bytes:(slot + 1) * self.slot_bytes]
        out, start = [], 0
        for end in ends:
            out.append(whole[start:end])
            start = end
        return out

    def free(self, slot: int) -> None:
        """``slot`` may be written again (its batch's answer is back)."""
        self._free.put(slot)

    def stop(self) -> None:
        """Wake and fail any :meth:`put` waiting for a slot, and every later one."""
        self._stopped.set()

    def close(self) -> None:
        """Release the memory (in the process that made it, after its workers ended)."""
        self.stop()
        self._memory.close()
