"""Read OpenAlex work records from files.

Accepted forms, detected from the content (not the file name):

* JSON Lines, plain or gzip-compressed, one work per line (the OpenAlex snapshot format);
* a saved API list response ``{"meta": ..., "results": [...]}``;
* a single work object ``{"id": "https://openalex.org/W...", ...}``;
* a JSON array of work objects.

A bad record is reported (:class:`SkippedRecord`) and skipped; the rest of the file is
read.  A file that is missing or holds no OpenAlex JSON at all raises
:class:`WorksFileError` (abort: the user named the wrong file).
"""

from __future__ import annotations

import gc
import gzip
import hashlib
import io
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

try:  # ISA-L's inflate: 0.07 s instead of zlib's 0.21 s for 127 MB of JSON Lines
    from isal.igzip import open as _gzip_open
except ImportError:  # pragma: no cover - isal has wheels for the usual platforms
    _gzip_open = gzip.open

from tracker.records import RecordError, Work, parse_work
from tracker.skipped import SkippedRecord

__all__ = ["SkippedRecord", "TruncatedWorksFile", "WorksFileError", "WorksPart",
           "input_record", "iter_raw_works", "read_works", "split_works"]


class WorksFileError(ValueError):
    """A works file cannot be read at all.  Abort the run and name the file."""


class TruncatedWorksFile(WorksFileError):
    """A works file ends part-way through a record: a download that was cut off.  Works
    beyond the cut are missing, so the file is refused rather than screened in part."""

    @classmethod
    def gzip_ended(cls, path: str | Path, exc: EOFError) -> TruncatedWorksFile:
        """The error for a gzip file whose stream ends early (``exc``, from :mod:`gzip`)."""
        return cls(f"{path}: the compressed file ends early ({exc}): the download looks "
                   f"truncated; download the file again")


def _open_binary(path: Path) -> io.BufferedIOBase:
    with path.open("rb") as fh:
        magic = fh.read(2)
    if magic == b"\x1f\x8b":
        return _gzip_open(path, "rb")
    return path.open("rb")


_CHUNK = 1 << 22


def input_record(path: Path, kind: str) -> dict[str, Any]:
    """How a run record names an input file: kind, path, size and SHA-256 (read in chunks).

    Examples
    --------
    >>> import tempfile
    >>> f = Path(tempfile.mkdtemp()) / "roster.csv"
    >>> _ = f.write_text("name,orcid\\n")
    >>> r = input_record(f, "roster")
    >>> r["kind"], r["bytes"], r["sha256"][:12], r["resolved_path"] == str(f.resolve())
    ('roster', 11, 'f839c12cee50', True)
    """
    h = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
            size += len(chunk)
    return {"kind": kind, "path": str(path), "resolved_path": str(path.resolve()),
            "bytes": size, "sha256": h.hexdigest()}


def iter_raw_works(path: str | Path
                   ) -> Generator[tuple[str, Any] | SkippedRecord, None, None]:
    """Yield ``(location, raw_record)`` for each record, or a :class:`SkippedRecord`.

    Raises
    ------
    WorksFileError
        The file is missing, unreadable, or not OpenAlex JSON at all.
    """
    return _iter_raw(Path(path), None)


def _read_head(fh: io.BufferedIOBase) -> bytes:
    """Up to the end of the first line (a single record can be 300k characters), without a
    UTF-8 byte order mark: enough to tell JSON Lines from one JSON document."""
    head = fh.read(_CHUNK)
    while b"\n" not in head.lstrip():
        more = fh.read(_CHUNK)
        if not more:
            break
        head += more
    return head[3:] if head.startswith(b"\xef\xbb\xbf") else head


def _iter_raw(p: Path, span: tuple[int, int | None] | None,
              seen: Callable[[int], None] | None = None
              ) -> Generator[tuple[str, Any] | SkippedRecord, None, None]:
    """:func:`iter_raw_works`, or with ``span`` only the JSON Lines lines starting there;
    ``seen``: see :func:`_iter_lines`."""
    if not p.is_file():
        raise WorksFileError(f"{p}: no such file")
    try:
        with _open_binary(p) as fh:
            head = _read_head(fh)
            first = head.lstrip()[:1]
            if not first:
                raise WorksFileError(f"{p}: the file is empty")
            chunks = _chain(head, fh)
            if first == b"[" or (first == b"{" and not _looks_like_jsonl(head)):
                if span is not None:
                    raise WorksFileError(f"{p}: the file changed while it was being read")
                doc = _loads(b"".join(chunks))
                yield from _iter_document(p, doc)
                return
            yield from _iter_lines(p, chunks, span, seen)
    except EOFError as exc:
        raise TruncatedWorksFile.gzip_ended(p, exc) from exc
    except (OSError, gzip.BadGzipFile) as exc:
        raise WorksFileError(f"{p}: cannot read the file ({exc})") from exc
    except orjson.JSONDecodeError as exc:
        if "unexpected end of data" in str(exc):
            raise TruncatedWorksFile(f"{p}: the JSON ends mid-record: the download looks "
                                     f"truncated; download the file again") from exc
        raise WorksFileError(f"{p}: not JSON or JSON Lines ({exc})") from exc


def _loads(data: bytes) -> Any:
    """orjson on bytes; invalid UTF-8 is replaced rather than failing the record."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        text = data.decode("utf-8", errors="replace")
        if text.encode("utf-8") == data:
            raise
        return orjson.loads(text)


def _chain(head: bytes, fh: io.BufferedIOBase) -> Iterator[bytes]:
    yield head
    while chunk := fh.read(_CHUNK):
        yield chunk


def _looks_like_jsonl(head: bytes) -> bool:
    """True when the first line is a complete JSON object and another line follows."""
    line, sep, _rest = head.lstrip().partition(b"\n")
    if not sep:
        return False
    try:
        return isinstance(orjson.loads(line), dict)
    except orjson.JSONDecodeError:
        return False


def _iter_lines(p: Path, chunks: Iterator[bytes], span: tuple[int, int | None] | None = None,
                seen: Callable[[int], None] | None = None
                ) -> Iterator[tuple[str, Any] | SkippedRecord]:
    """The records of JSON Lines ``chunks``; with ``span`` ``(lo, hi)``, only those of lines
    that start at a content offset in ``[lo, hi)`` (line numbers still count from the top).
    ``seen(n)`` is called once a chunk, with the content bytes read past ``lo``."""
    lo, hi = span if span is not None else (0, None)
    buf = b""
    lineno = 0
    pos = 0  # content offset of buf[0]
    good = 0
    for chunk in chunks:
        if seen is not None:
            seen(max(0, pos - lo))
        if pos + len(buf) + len(chunk) <= lo:  # every line starting in here is before lo
            data = buf + chunk
            cut = data.rfind(b"\n") + 1
            lineno += data.count(b"\n", 0, cut)
            pos += cut
            buf = data[cut:]
            continue
        buf += chunk
        *lines, buf = buf.split(b"\n")
        for line in lines:
            start = pos
            lineno += 1
            pos += len(line) + 1
            if start < lo:
                continue
            if hi is not None and start >= hi:
                return
            for item in _parse_line(p, lineno, line):
                good += isinstance(item, tuple)
                yield item
    if buf.strip() and pos >= lo and (hi is None or pos < hi):
        lineno += 1
        for item in _parse_line(p, lineno, buf):
            if isinstance(item, SkippedRecord):  # the last line, cut off mid-record
                raise TruncatedWorksFile(
                    f"{p}: line {lineno}, the last, is cut off mid-record: the download "
                    f"looks truncated; download the file again")
            good += isinstance(item, tuple)
            yield item
    if span is not None:
        return  # a share of a file whose first line is a record (see split_works)
    envelopes = 0 if good else _count_envelopes(p)
    if good == 0 and envelopes == 0:
        raise WorksFileError(f"{p}: no OpenAlex records found in {lineno} line(s)")


def _count_envelopes(p: Path) -> int:
    """How many lines are (empty) list responses: an empty last page is not an error."""
    n = 0
    with _open_binary(p) as fh:
        for line in fh:
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            n += isinstance(obj, dict) and isinstance(obj.get("results"), list)
    return n


def _parse_line(p: Path, lineno: int, line: bytes) -> list[tuple[str, Any] | SkippedRecord]:
    """One JSON Lines line: a work, or a saved list response (one page per line)."""
    if not line.strip():
        return []
    try:
        obj = _loads(line)
    except orjson.JSONDecodeError as exc:
        return [SkippedRecord(str(p), f"line {lineno}", f"not valid JSON ({exc.msg})")]
    if isinstance(obj, dict) and isinstance(obj.get("results"), list) and "id" not in obj:
        return [(f"line {lineno} results[{i}]", r) for i, r in enumerate(obj["results"])]
    return [(f"line {lineno}", obj)]


def _iter_document(p: Path, doc: Any) -> Iterator[tuple[str, Any] | SkippedRecord]:
    if isinstance(doc, dict) and isinstance(doc.get("results"), list):
        items = [(f"results[{i}]", r) for i, r in enumerate(doc["results"])]
    elif isinstance(doc, dict) and isinstance(doc.get("data"), dict) and isinstance(
            doc["data"].get("results"), list):  # a cache entry wrapping an API body
        items = [(f"data.results[{i}]", r) for i, r in enumerate(doc["data"]["results"])]
    elif isinstance(doc, dict) and "id" in doc:
        items = [("object", doc)]
    elif isinstance(doc, list):
        items = [(f"[{i}]", r) for i, r in enumerate(doc)]
    else:
        raise WorksFileError(
            f"{p}: not OpenAlex JSON (expected a work object, a list response with 'results', "
            f"or JSON Lines)")
    if not items and not (isinstance(doc, dict) and "meta" in doc):
        raise WorksFileError(f"{p}: no OpenAlex records found")
    yield from items


def read_works(path: str | Path) -> Iterator[Work | SkippedRecord]:
    """Parse every work in a file; bad records come back as :class:`SkippedRecord`.

    Examples
    --------
    >>> import json, tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> f = os.path.join(d, "w.jsonl")
    >>> with open(f, "w") as fh:
    ...     _ = fh.write(json.dumps({"id": "https://openalex.org/W1"}) + "\\n")
    ...     _ = fh.write("{broken\\n")
    ...     _ = fh.write(json.dumps({"title": "no id"}) + "\\n")
    >>> [type(x).__name__ for x in read_works(f)]
    ['Work', 'SkippedRecord', 'SkippedRecord']
    """
    return _read(Path(path), None)


def _read(path: Path, span: tuple[int, int | None] | None,
          seen: Callable[[int], None] | None = None) -> Iterator[Work | SkippedRecord]:
    raw = _iter_raw(path, span, seen)
    try:
        while True:
            batch, error = _parse_batch(raw, path)
            yield from batch
            if error is not None:
                raise error
            if len(batch) < _BATCH:
                return
    finally:
        raw.close()  # closes the file when the caller stops early


@dataclass(frozen=True, slots=True)
class WorksPart:
    """One contiguous share of a JSON Lines works file, to be read on its own.

    The share is the lines that start at a content offset (after decompression) in
    ``[start, stop)``; ``stop=None`` runs to the end.  Calling it reads them, as
    :func:`read_works` would (same records, same ``line N`` locations); ``seen(n)``, when
    given, hears how many of the share's content bytes are read, as they are (once a
    chunk of :data:`_CHUNK` bytes).
    """

    path: Path
    start: int = 0
    stop: int | None = None

    def __call__(self, seen: Callable[[int], None] | None = None
                 ) -> Iterator[Work | SkippedRecord]:
        return _read(self.path, None if (self.start, self.stop) == (0, None)
                     else (self.start, self.stop), seen)


#: Files smaller than this (decompressed) are read in one share: below a few MB a second
#: process costs more than it saves.
MIN_SPLIT_BYTES = 16 << 20


def split_works(path: str | Path, parts: int = 2, *, min_bytes: int | None = None
                ) -> list[WorksPart]:
    """Cut a works file into ``parts`` contiguous shares of about equal size.

    Only JSON Lines files of at least ``min_bytes`` (default :data:`MIN_SPLIT_BYTES`) are
    cut (a JSON document cannot be read in pieces); anything else is one share, the whole
    file.  The cut points are content offsets: the file size, or for gzip the size its
    trailer states.  When that is wrong (a multi-member gzip file, or one over 4 GiB) the
    shares are uneven, never wrong: every line belongs to exactly one share.

    Examples
    --------
    >>> import json, tempfile, os
    >>> f = os.path.join(tempfile.mkdtemp(), "w.jsonl")
    >>> with open(f, "w") as fh:
    ...     for i in range(1, 5):
    ...         _ = fh.write(json.dumps({"id": f"https://openalex.org/W{i}"}) + "\\n")
    >>> shares = split_works(f, 2, min_bytes=0)
    >>> [[w.id for w in share()] for share in shares]
    [['W1', 'W2'], ['W3', 'W4']]
    >>> len(split_works(f, 2))  # small: one share
    1
    """
    p = Path(path)
    whole = [WorksPart(p)]
    if parts < 2:
        return whole
    try:
        size = p.stat().st_size
        with p.open("rb") as fh:
            if fh.read(2) == b"\x1f\x8b":
                fh.seek(-4, io.SEEK_END)
                size = int.from_bytes(fh.read(4), "little")  # ISIZE: content size mod 2**32
        if size < max(MIN_SPLIT_BYTES if min_bytes is None else min_bytes, parts):
            return whole
        with _open_binary(p) as fh:
            if not _looks_like_jsonl(_read_head(fh)):
                return whole
    except (OSError, EOFError, gzip.BadGzipFile):
        return whole  # reading it whole reports the problem
    cuts = [0, *(size * k // parts for k in range(1, parts))]
    return [WorksPart(p, lo, hi) for lo, hi in zip(cuts, [*cuts[1:], None], strict=True)]


#: Records parsed per batch, with the cyclic garbage collector paused (see _parse_batch).
_BATCH = 1000


def _parse_batch(raw: Iterator[tuple[str, Any] | SkippedRecord], path: str | Path
                 ) -> tuple[list[Work | SkippedRecord], BaseException | None]:
    """Parse up to :data:`_BATCH` records with the cyclic garbage collector paused.

    Parsing allocates millions of short-lived dicts and lists that hold no cycles; the
    collector's passes over them free nothing and cost about a tenth of the parse (1.84 s
    → 1.68 s CPU at 15,000 works).  It is paused only inside this function, never while the
    caller runs (a generator that yielded with the collector off would leave it off for the
    caller).  An error from the file comes back with the records parsed before it, to be
    yielded first.
    """
    out: list[Work | SkippedRecord] = []
    enabled = gc.isenabled()
    gc.disable()
    try:
        for item in raw:
            if isinstance(item, SkippedRecord):
                out.append(item)
            else:
                loc, rec = item
                try:
                    out.append(parse_work(rec))
                except RecordError as exc:
                    out.append(SkippedRecord(str(path), loc, str(exc)))
            if len(out) >= _BATCH:
                break
    except Exception as exc:  # WorksFileError and read errors: after the good records
        return out, exc
    finally:
        # The parsed records are long-lived and hold no reference cycles: move what is alive
        # out of the collector's sight before it runs again, so that it does not scan every
        # record held so far on each pass.  Reference counting still frees them.
        gc.freeze()
        if enabled:
            gc.enable()
    return out, None
