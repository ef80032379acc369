"""Works inputs at scale: which files a ``--works`` argument names, and what each one is.

An argument may be a file (JSON Lines, plain or gzip, under any name; a saved API response or
single JSON document; a Parquet file of works), a glob (``works/*.jsonl.gz``), or a folder:
the OpenAlex snapshot's ``works/updated_date=*/part_*.gz`` layout as published (checked
against its ``manifest`` where there is one), or any folder of works files.  Files are
taken in a stable order (sorted by path; a snapshot's newest partition first), so that the
first record of a work met twice is the same one on every run.

Examples
--------
>>> import gzip, json, os, tempfile
>>> root = tempfile.mkdtemp()
>>> part = os.path.join(root, "works", "updated_date=2024-01-02")
>>> os.makedirs(part)
>>> with gzip.open(os.path.join(part, "part_000.gz"), "wt") as fh:
...     _ = fh.write(json.dumps({"id": "https://openalex.org/W1"}) + "\\n")
>>> [(os.path.basename(f.path), f.kind, f.compression) for f in expand_inputs([root])]
[('part_000.gz', 'jsonl', 'gzip')]
"""

from __future__ import annotations

import glob
import os
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from tracker.sources.files import TruncatedWorksFile, WorksFileError

__all__ = ["InputFile", "WorksInputError", "expand_inputs", "snapshot_manifests", "sniff"]

#: File names taken from a folder that is not the snapshot layout.
_FOLDER_PATTERNS = ("*.jsonl", "*.jsonl.gz", "*.json", "*.json.gz", "*.gz", "*.parquet")
_PARQUET_MAGIC = b"PAR1"
_GZIP_MAGIC = b"\x1f\x8b"


class WorksInputError(WorksFileError):
    """A works input cannot be used: nothing matches it, or a file cannot be read."""


@dataclass(frozen=True, slots=True)
class InputFile:
    """One works file and how to read it.

    ``kind`` is ``jsonl`` (one work per line), ``document`` (a JSON document or list
    responses: read by :func:`tracker.sources.files.iter_raw_works` and staged as JSON
    Lines) or ``parquet``; ``compression`` is ``gzip`` or ``none``.
    """

    path: Path
    kind: str
    compression: str


def _head_line(path: Path, compression: str, limit: int = 1 << 24) -> bytes:
    """A file's first non-blank line (up to ``limit`` bytes), read in chunks that start
    small and double: a snapshot's part of a few hundred works is sniffed several times a
    run, and decompressing its first MB cost 2.6 ms a time (1.3 s for 500 parts)."""
    import gzip

    opener = gzip.open if compression == "gzip" else open
    with opener(path, "rb") as fh:
        head = b""
        size = 1 << 16
        while b"\n" not in head.lstrip() and len(head) < limit:
            chunk = fh.read(size)
            if not chunk:
                break
            head += chunk
            size = min(size * 2, 1 << 22)
    head = head[3:] if head.startswith(b"\xef\xbb\xbf") else head
    return head.lstrip().partition(b"\n")[0]


def sniff(path: str | Path) -> InputFile:
    """Tell what a works file is from its first bytes (never from its name).

    Raises
    ------
    WorksInputError
        The file is missing, empty or unreadable.
    tracker.sources.files.TruncatedWorksFile
        A gzip file ends within its first lines (a download cut off).
    """
    p = Path(path)
    if not p.is_file():
        raise WorksInputError(f"{p}: no such file")
    try:
        with p.open("rb") as fh:
            magic = fh.read(4)
        if magic == _PARQUET_MAGIC:
            return InputFile(p, "parquet", "none")
        compression = "gzip" if magic[:2] == _GZIP_MAGIC else "none"
        line = _head_line(p, compression)
    except EOFError as exc:  # a gzip file that ends within the lines read here
        raise TruncatedWorksFile.gzip_ended(p, exc) from exc
    except (OSError, zlib.error) as exc:
        raise WorksInputError(f"{p}: cannot read the file ({exc})") from exc
    if not line:
        raise WorksInputError(f"{p}: the file is empty")
    try:
        first = orjson.loads(line)
    except orjson.JSONDecodeError:
        first = None
    # one work per line; anything else (a document, list responses) is staged
    is_work = isinstance(first, dict) and "id" in first and "results" not in first
    return InputFile(p, "jsonl" if is_work else "document", compression)


def _works_folder(folder: Path) -> Path:
    """The folder of a snapshot's ``updated_date=*`` partitions: ``folder/works`` (the
    snapshot's root given) where it holds them, else ``folder``."""
    works = folder / "works"
    return works if any(works.glob("updated_date=*/part_*")) else folder


def _manifest_entries(manifest: Path) -> list[dict[str, Any]]:
    """The ``entries`` of a snapshot's manifest (Amazon Redshift's manifest format).

    Raises
    ------
    WorksInputError
        The file is not such a manifest.
    """
    try:
        doc = orjson.loads(manifest.read_bytes())
    except OSError as exc:
        raise WorksInputError(f"{manifest}: cannot read the snapshot manifest ({exc})"
                              ) from None
    except orjson.JSONDecodeError:
        doc = None
    entries = doc.get("entries") if isinstance(doc, dict) else None
    if not isinstance(doc, dict):
        why = "it is not a JSON object"
    elif not isinstance(entries, list):
        why = 'it has no "entries" list'
    elif not all(isinstance(e, dict) and isinstance(e.get("url"), str)
                 and isinstance(e.get("meta") or {}, dict) for e in entries):
        why = 'an entry has no "url"'
    else:
        return entries
    raise WorksInputError(
        f"{manifest}: not a snapshot manifest ({why}). Download it again (aws s3 sync), or "
        f"name the parts to screen with a glob, e.g. '{manifest.parent}/updated_date=*/part_*'")


def _folder_files(folder: Path) -> list[Path]:
    works = _works_folder(folder)
    snapshot = [p for p in works.glob("updated_date=*/part_*") if p.is_file()]
    if snapshot:
        return _snapshot_parts(works, snapshot)
    found: set[Path] = set()
    for pattern in _FOLDER_PATTERNS:
        found.update(p for p in folder.glob(pattern) if p.is_file())
    if not found and any((folder / f).is_dir() for f in ("jsonl", "parquet")):
        formats = " and ".join(f for f in ("jsonl", "parquet") if (folder / f).is_dir())
        raise WorksInputError(f"{folder}: holds the snapshot's {formats} copies: name one "
                              f"folder of works, e.g. {folder / 'jsonl' / 'works'}")
    return sorted(found)


def _newest_first(paths: Iterable[Path]) -> list[Path]:
    """``paths`` sorted by path, but a snapshot's parts (in ``updated_date=…`` folders)
    newest partition first, before any other file.

    >>> got = _newest_first([Path("a.gz"), Path("updated_date=2024-01-01/p1"),
    ...                      Path("updated_date=2024-06-01/p2"),
    ...                      Path("updated_date=2024-06-01/p1")])
    >>> [p.as_posix() for p in got]  # doctest: +NORMALIZE_WHITESPACE
    ['updated_date=2024-06-01/p1', 'updated_date=2024-06-01/p2',
     'updated_date=2024-01-01/p1', 'a.gz']
    """
    out = sorted(paths)
    out.sort(key=lambda p: p.parent.name if p.parent.name.startswith("updated_date=")
             else "", reverse=True)  # stable: each partition's names stay ascending
    return out


def _snapshot_parts(works: Path, parts: list[Path]) -> list[Path]:
    """The part files of an OpenAlex snapshot's ``works`` folder, newest partition first
    (``updated_date=…`` descending, then by name): a work met in two partitions (a download
    caught between OpenAlex moving a record to a newer partition and rewriting the older
    one) is read from its newest copy, the one kept.  Empty files are left out.

    Where the folder holds the snapshot's ``manifest`` (JSON in Amazon Redshift's manifest
    format: ``entries``, each with the part's ``url`` and ``meta.content_length``), the
    parts must be exactly those it lists, each of its listed size: OpenAlex removes a
    manifest while it writes a partition and writes it anew when all its files are there
    [1]_, so a part it lists that is missing or of another size is a download not yet
    complete, and a part it does not list is not in this snapshot.

    Raises
    ------
    WorksInputError
        The manifest cannot be read, or the parts do not match it (the message says how
        to screen only the parts at hand: name them with a glob).

    References
    ----------
    .. [1] OpenAlex, "Snapshot data format", https://docs.openalex.org/download-all-data/
       snapshot-data-format (the manifest; the ``updated_date`` partitions).
    """
    parts = _newest_first(p for p in parts if p.stat().st_size > 0)
    manifest = works / "manifest"
    if not manifest.is_file():
        return parts
    listed = {e["url"].split("/works/", 1)[-1]: (e.get("meta") or {}).get("content_length")
              for e in _manifest_entries(manifest)}
    here = {p.relative_to(works).as_posix(): p for p in parts}
    short = sorted(r for r, size in listed.items()
                   if r not in here or (isinstance(size, int) and size > 0
                                        and here[r].stat().st_size != size))
    extra = sorted(set(here) - set(listed))
    if short or extra:
        what = []
        if short:
            what.append(f"{len(short):,} of the {len(listed):,} parts its manifest lists "
                        f"are missing or of another size ({short[0]}"
                        f"{', …' if len(short) > 1 else ''}): the download is not complete")
        if extra:
            what.append(f"{len(extra):,} part files are not in its manifest ({extra[0]}"
                        f"{', …' if len(extra) > 1 else ''}): not of this snapshot")
        raise WorksInputError(
            f"{works}: {'; '.join(what)}. Finish the download (aws s3 sync, then run "
            f"again), or name the parts to screen with a glob, e.g. "
            f"'{works}/updated_date=*/part_*'")
    return parts


def snapshot_manifests(inputs: Iterable[str | Path]) -> list[dict[str, Any]]:
    """The OpenAlex ``works/manifest`` files that the folders among ``inputs`` were checked
    against (:func:`expand_inputs`), for the run record: each one's path, how many parts
    and records it lists.

    Raises
    ------
    WorksInputError
        A manifest is not one (as :func:`expand_inputs` raises it).

    Examples
    --------
    >>> import tempfile
    >>> works = Path(tempfile.mkdtemp()) / "works"
    >>> (works / "updated_date=2024-01-02").mkdir(parents=True)
    >>> _ = (works / "updated_date=2024-01-02" / "part_000.gz").write_bytes(b"x")
    >>> _ = (works / "manifest").write_text('{"entries": [{"url": "s3://openalex/data/'
    ...     'works/updated_date=2024-01-02/part_000.gz", "meta": {"content_length": 1, '
    ...     '"record_count": 1}}]}')
    >>> [(m["parts"], m["records"]) for m in snapshot_manifests([works.parent])]
    [(1, 1)]
    """
    out = []
    for item in inputs:
        folder = Path(os.fspath(item))
        if not folder.is_dir():
            continue
        works = _works_folder(folder)
        manifest = works / "manifest"
        if not manifest.is_file() or not any(works.glob("updated_date=*/part_*")):
            continue
        entries = _manifest_entries(manifest)
        records = sum(n for e in entries
                      if isinstance(n := (e.get("meta") or {}).get("record_count"), int))
        out.append({"path": str(manifest), "parts": len(entries), "records": records})
    return out


def expand_inputs(inputs: Iterable[str | Path]) -> list[InputFile]:
    """The works files named by paths, globs and folders, each sniffed, in a stable order.

    Parameters
    ----------
    inputs : iterable of str or Path
        Files, glob patterns or folders (the OpenAlex snapshot root, its ``works`` folder,
        or a folder of works files).

    Returns
    -------
    list of InputFile
        Each file once, in the order given (a glob or folder sorted by path).

    Raises
    ------
    WorksInputError
        An input matches no file, or a file cannot be read.
    """
    out: list[InputFile] = []
    seen: set[Path] = set()
    for item in inputs:
        text = os.fspath(item)
        p = Path(text)
        if p.is_dir():
            files: Sequence[Path] = _folder_files(p)
            if not files:
                raise WorksInputError(f"{p}: no works files in this folder")
        elif p.exists():
            files = [p]
        elif glob.has_magic(text):
            files = _newest_first(Path(x) for x in glob.glob(text, recursive=True)
                                  if Path(x).is_file())
            if not files:
                raise WorksInputError(f"{text}: no file matches")
        else:
            raise WorksInputError(f"{p}: no such file")
        for f in files:
            key = f.resolve()
            if key in seen:
                continue
            seen.add(key)
            out.append(sniff(f))
    if not out:
        raise WorksInputError("no works input given")
    return out
