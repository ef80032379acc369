"""A run's findings in sorted order, held on disk past a set number: bounded memory.

The engines screen works files of any size, and a run may hold millions of findings (788,020
from a million synthetic works).  Held as :class:`~tracker.risk.Finding` objects they cost
about 1.3 kB each, so ten million works would need tens of gigabytes before the first
export is written.  :class:`SpooledFindings` keeps up to ``in_memory`` of them as objects;
past that it sorts what it holds and writes it out as a *run* of compressed blocks, and when
every batch is in, merges the runs (an external merge sort: :func:`heapq.merge`, at most
:data:`FAN_IN` runs at a time) into one sorted file.  Reading it back decodes one block at a
time, so every export, the case file and the report read the findings in order without
holding them.

Hand code rather than a database: the findings go out in one order and come back whole, in
that order, several times (each export, the case file, the report); a block of pickled
value tuples, compressed by ISA-L at level 1 (zlib's format, several times faster than
zlib's own), reads back at about 0.9 µs a finding with Python's cyclic collector paused
(:func:`~tracker.records.collector_paused`; 2.5 to 3.5 µs with it), and the files are the
process's own (unlinked temporary files, never read by anything else).

Examples
--------
>>> from tracker.risk import Finding
>>> def finding(i):
...     return Finding(f"F{i}", f"W{i % 7}", "", "", f"2020-01-{1 + i % 28:02d}", "", "",
...                    "", "", "", "", "", "L", "", "", "", "", "", "")
>>> spool = SpooledFindings(key=lambda f: (f.publication_date, f.finding_id), in_memory=10)
>>> spool.extend(finding(i) for i in range(100))
>>> spool.finish().spilled, len(spool)
(True, 100)
>>> [f.finding_id for f in spool[:3]], spool[-1].publication_date
(['F0', 'F28', 'F56'], '2020-01-28')
>>> amend_findings(spool, {"F28": {"review_status": "cleared"}})
>>> spool[1].review_status, spool[0].review_status
('cleared', 'unreviewed')
"""

from __future__ import annotations

import bisect
import heapq
import os
import pickle
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, overload

from isal import isal_zlib

from tracker.records import collector_paused
from tracker.risk import Finding

__all__ = ["FAN_IN", "IN_MEMORY", "SpooledFindings", "amend_findings", "collector_paused"]

#: Findings held as objects by default (about 1.3 GB): a million-work run's 788,020 stay
#: in memory; spilled, they cost that run 35 s of CPU and 37 s of its 292 (each export,
#: the case file and the report read every finding again).
IN_MEMORY = 1_000_000
#: Runs merged at once; more runs are merged in rounds (each run holds one block in memory
#: while merged).
FAN_IN = 64
_BLOCK = 2000  # findings a block
_Span = tuple[int, int, int]  # offset, length, findings


def _dump(findings: Sequence[Finding]) -> bytes:
    # a Finding pickles as its values (tracker.records.pickle_by_fields)
    return isal_zlib.compress(pickle.dumps(list(findings), protocol=pickle.HIGHEST_PROTOCOL), 1)


def _load(blob: bytes) -> list[Finding]:
    found: list[Finding] = pickle.loads(isal_zlib.decompress(blob))
    return found


class _File:
    """An unlinked temporary file of blocks: written by one process, read by positioned
    reads (``os.pread``), so a forked child reads it without moving the parent's offset."""

    def __init__(self, folder: str | Path | None) -> None:
        # held open for as long as the findings are read (closed by close())
        self._fh = tempfile.TemporaryFile(prefix="tracker-findings-", dir=folder)  # noqa: SIM115
        self._end = 0
        self._lock = threading.Lock()

    def write(self, findings: Sequence[Finding]) -> list[_Span]:
        spans = []
        for i in range(0, len(findings), _BLOCK):
            part = findings[i:i + _BLOCK]
            blob = _dump(part)
            with self._lock:
                self._fh.seek(self._end)
                self._fh.write(blob)
                spans.append((self._end, len(blob), len(part)))
                self._end += len(blob)
        with self._lock:
            self._fh.flush()
        return spans

    def read(self, span: _Span) -> list[Finding]:
        offset, length, _n = span
        if hasattr(os, "pread"):
            blob = os.pread(self._fh.fileno(), length, offset)
        else:  # pragma: no cover - platforms without pread
            with self._lock:
                self._fh.seek(offset)
                blob = self._fh.read(length)
        return _load(blob)

    def close(self) -> None:
        self._fh.close()


class SpooledFindings(Sequence[Finding]):
    """Findings sorted by ``key``: in memory up to ``in_memory`` of them, on disk past that.

    Add findings with :meth:`extend`, in any order, then call :meth:`finish`; from then on
    it is a read-only sequence in ``key`` order (``len``, iteration, indexes and slices).
    Each finding read from disk is a new object: change findings with
    :func:`amend_findings`, which holds the changes and applies them as findings are read.

    Parameters
    ----------
    key : callable
        The sort key; findings with equal keys keep no particular order.
    in_memory : int, default :data:`IN_MEMORY`
        Findings held as objects before they are sorted and written out (about 1.3 kB each).
    folder : path, optional
        Where the temporary files go (default: the system's); they are unlinked as created
        and gone when this object is.
    """

    def __init__(self, *, key: Callable[[Finding], Any], in_memory: int = IN_MEMORY,
                 folder: str | Path | None = None) -> None:
        if in_memory < 1:
            raise ValueError("in_memory must be at least 1")
        self._key = key
        self._in_memory = in_memory
        self._folder = folder
        self._buffer: list[Finding] = []
        self._runs: list[tuple[_File, list[_Span], list[Any]]] = []
        self._files: list[_File] = []
        self._spans: list[_Span] = []
        self._firsts: list[Any] = []  # the key of each block's first finding
        self._starts: list[int] = []
        self._file: _File | None = None
        self._n = 0
        self._done = False
        self._amend: dict[str, Mapping[str, Any]] = {}
        self._cached: tuple[int, list[Finding]] | None = None

    # -- writing ------------------------------------------------------------------------

    def extend(self, findings: Iterable[Finding]) -> None:
        """Add findings (before :meth:`finish`)."""
        if self._done:
            raise RuntimeError("findings added after finish()")
        for f in findings:
            self._buffer.append(f)
            if len(self._buffer) >= self._in_memory:
                self._spill()

    def _spill(self) -> None:
        self._buffer.sort(key=self._key)
        if self._file is None:  # every run goes into one file
            self._file = _File(self._folder)
            self._files.append(self._file)
        self._runs.append((self._file, self._file.write(self._buffer),
                           [self._key(f) for f in self._buffer[::_BLOCK]]))
        self._buffer = []

    def finish(self) -> SpooledFindings:
        """Sort and merge what was added; return this sequence, now readable."""
        if self._done:
            return self
        self._done = True
        if not self._runs:
            self._buffer.sort(key=self._key)
            self._n = len(self._buffer)
            return self
        # the findings still held join the merge from memory: written out as one more run,
        # they would be pickled and read back for nothing
        held, self._buffer = self._buffer, []
        held.sort(key=self._key)
        runs = self._runs
        while len(runs) > 1 or held:
            out = _File(self._folder)
            sources: list[Iterable[Finding]] = [_read_run(file, spans)
                                                for file, spans, _ in runs]
            if held:
                sources.append(held)
            merged = [(out, *self._merge(sources[i:i + FAN_IN], out))
                      for i in range(0, len(sources), FAN_IN)]
            for file in {id(f): f for f, _, _ in runs}.values():
                file.close()
            runs, held = merged, []
        self._file, self._spans, self._firsts = runs[0]
        self._files = [self._file]
        self._runs = []
        total = 0
        for _o, _l, n in self._spans:
            self._starts.append(total)
            total += n
        self._n = total
        return self

    def _merge(self, sources: Sequence[Iterable[Finding]], out: _File
               ) -> tuple[list[_Span], list[Any]]:
        """Merge sorted ``sources`` (runs on disk, or findings held) into blocks of ``out``:
        their spans and first keys."""
        spans: list[_Span] = []
        firsts: list[Any] = []
        block: list[Finding] = []
        for f in heapq.merge(*sources, key=self._key):
            block.append(f)
            if len(block) >= _BLOCK:
                spans.extend(out.write(block))
                firsts.append(self._key(block[0]))
                block = []
        if block:
            spans.extend(out.write(block))
            firsts.append(self._key(block[0]))
        return spans, firsts

    # -- reading ------------------------------------------------------------------------

    @property
    def key(self) -> Callable[[Finding], Any]:
        """The sort key the findings are in."""
        return self._key

    @property
    def spilled(self) -> bool:
        """Whether the findings are on disk (more than ``in_memory`` were added)."""
        return bool(self._spans)

    def amend(self, changes: Mapping[str, Mapping[str, Any]]) -> None:
        """See :func:`amend_findings`."""
        self._check()
        if not self._spans:
            _amend_in_place(self._buffer, changes)
            return
        for fid, change in changes.items():
            self._amend[fid] = _merged_change(self._amend.get(fid), change)
        self._cached = None

    def _check(self) -> None:
        if not self._done:
            raise RuntimeError("findings read before finish()")

    def _block(self, k: int) -> list[Finding]:
        cached = self._cached  # read once: another thread may read (and cache) meanwhile
        if cached is not None and cached[0] == k:
            return cached[1]
        assert self._file is not None
        got = self._file.read(self._spans[k])
        if self._amend:
            _amend_in_place(got, self._amend)
        self._cached = (k, got)
        return got

    def __len__(self) -> int:
        self._check()
        return self._n

    def __iter__(self) -> Iterator[Finding]:
        self._check()
        if not self._spans:
            yield from self._buffer
            return
        for k in range(len(self._spans)):
            yield from self._block(k)

    @overload
    def __getitem__(self, index: int) -> Finding: ...

    @overload
    def __getitem__(self, index: slice) -> list[Finding]: ...

    def __getitem__(self, index: int | slice) -> Finding | list[Finding]:
        self._check()
        if not self._spans:
            return self._buffer[index]
        if isinstance(index, slice):
            start, stop, step = index.indices(self._n)
            if step != 1:
                return [self[i] for i in range(start, stop, step)]
            out: list[Finding] = []
            while start < stop:
                k = bisect.bisect_right(self._starts, start) - 1
                got = self._block(k)
                lo = start - self._starts[k]
                part = got[lo:lo + stop - start]
                out.extend(part)
                start += len(part)
            return out
        i = index + self._n if index < 0 else index
        if not 0 <= i < self._n:
            raise IndexError("findings index out of range")
        k = bisect.bisect_right(self._starts, i) - 1
        return self._block(k)[i - self._starts[k]]

    def starting_with(self, prefix: tuple[Any, ...]) -> list[Finding]:
        """The findings whose key begins with the values ``prefix`` (the key must be a
        tuple), in order.  On disk, only the blocks that may hold them are read.

        Why: a reader that wants a few works' findings (the flagged network draws a few
        hundred works of a run's hundreds of thousands) would otherwise read every finding
        back from disk (two million generated works: about 6 s a pass).  Reading the works
        in key order reads each block at most once.

        Examples
        --------
        >>> from tracker.risk import Finding
        >>> fs = [Finding(f"F{i}", f"W{i % 3}", "", "", "2020", "", "", "", "", "", "", "",
        ...               "L", "", "", "", "", "", "") for i in range(9)]
        >>> spool = SpooledFindings(key=lambda f: (f.work_id, f.finding_id), in_memory=2)
        >>> spool.extend(fs)
        >>> [f.finding_id for f in spool.finish().starting_with(("W1",))]
        ['F1', 'F4', 'F7']
        """
        self._check()
        n = len(prefix)
        if not self._spans:
            at = bisect.bisect_left(self._buffer, prefix, key=self._key)
            out: list[Finding] = []
            for f in self._buffer[at:]:
                if self._key(f)[:n] != prefix:
                    break
                out.append(f)
            return out
        # the block before the first that starts at or past the prefix may hold its first
        start = max(bisect.bisect_left(self._firsts, prefix) - 1, 0)
        out = []
        for k in range(start, len(self._spans)):
            if k > start and self._firsts[k][:n] > prefix:
                break  # the block starts past them: not read
            for f in self._block(k):
                head = self._key(f)[:n]
                if head == prefix:
                    out.append(f)
                elif head > prefix:
                    return out
        return out

    def __bool__(self) -> bool:
        return len(self) > 0

    def __repr__(self) -> str:
        where = "on disk" if self._spans else "in memory"
        return f"SpooledFindings({self._n if self._done else '?'} findings, {where})"

    def close(self) -> None:
        """Delete the temporary files now (they go when the object does, otherwise)."""
        for file in self._files:
            file.close()
        self._files = []


def _read_run(file: _File, spans: list[_Span]) -> Iterator[Finding]:
    for span in spans:
        yield from file.read(span)


def _merged_change(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(old or {})
    for k, v in new.items():
        out[k] = {**out.get(k, {}), **v} if k == "extra" else v
    return out


def _amend_in_place(findings: Iterable[Finding], changes: Mapping[str, Mapping[str, Any]]
                    ) -> None:
    for f in findings:
        change = changes.get(f.finding_id)
        if change is None:
            continue
        for k, v in change.items():
            if k == "extra":
                f.extra = {**f.extra, **v}
            else:
                setattr(f, k, v)


def amend_findings(findings: Sequence[Finding], changes: Mapping[str, Mapping[str, Any]]
                   ) -> None:
    """Change findings by ID: ``{finding_id: {field: value}}``, where ``extra`` is merged
    into the finding's ``extra`` rather than replacing it.

    Findings in a list are changed in place; a :class:`SpooledFindings` holds the changes
    and applies them to each finding it reads (its findings on disk are new objects each
    time they are read).
    """
    if not changes:
        return
    if isinstance(findings, SpooledFindings):
        findings.amend(changes)
    else:
        _amend_in_place(findings, changes)
