"""Parsers of the official list publications, one small module per format, and the
format detection that picks one from a file's content.

=================  ==========================================  =======================
source name        format                                      lists
=================  ==========================================  =======================
``csl``            ITA Consolidated Screening List bulk CSV    EL, MEU, UVL, DPL, ISN,
                                                               DDTC debarred, NS-CMIC,
                                                               other Treasury lists
``dpl``            BIS Denied Persons List ``dpl.txt``         BIS_DPL
``fcc``            FCC Covered List page table (HTML or CSV)   FCC_COVERED
``uflpa``          DHS UFLPA Entity List page (HTML)           DHS_UFLPA
``opensanctions``  OpenSanctions CSV (CC BY-NC 4.0): targets,   per ``dataset``/``program``
                   transcriptions (INKSNA; DoD 1286 FY          (DOD_1286, STATE_ISN...),
                   editions), 1260H listing periods             DOD_1260H
``fr``             Federal Register notice index (API field    STATE_ISN notices (no
                   names: ``document_number``, ...)            entries)
=================  ==========================================  =======================

Examples
--------
>>> detect_format(b'"Name"\\t"Street_Address"\\t"FR_Citation"\\n')
'dpl'
>>> detect_format(b"<html><title>502 Bad Gateway</title></html>")
Traceback (most recent call last):
...
tracker.listsources.model.SourceFileError: an HTML page that holds no list table (an error page?)
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from tracker.listsources.csl import CSL_LISTS, CSL_URL, looks_like_csl, parse_csl_csv
from tracker.listsources.dpl import DPL_URL, looks_like_dpl, parse_dpl
from tracker.listsources.fcc import FCC_URL, looks_like_fcc, parse_fcc
from tracker.listsources.fr import looks_like_fr_notices, parse_fr_notices
from tracker.listsources.model import (
    ParsedEntry,
    ParsedSource,
    SourceFileError,
    TruncatedFileError,
    WrongListError,
    file_time,
    sha256_hex,
)
from tracker.listsources.opensanctions import looks_like_opensanctions, parse_opensanctions_csv
from tracker.listsources.uflpa import UFLPA_URL, looks_like_uflpa, parse_uflpa

__all__ = [
    "CSL_LISTS",
    "LIVE_SOURCES",
    "SOURCES",
    "ParsedEntry",
    "ParsedSource",
    "SourceFileError",
    "TruncatedFileError",
    "WrongListError",
    "decode",
    "detect_format",
    "parse_bytes",
    "read_source",
    "source_files",
]

#: Source name -> the list publication's official URL (the live update fetches these).
LIVE_SOURCES: dict[str, str] = {
    "csl": CSL_URL,
    "dpl": DPL_URL,
    "fcc": FCC_URL,
    "uflpa": UFLPA_URL,
}
SOURCES = ("csl", "dpl", "fcc", "uflpa", "opensanctions", "fr")

Parser = Callable[..., ParsedSource]
_PARSERS: dict[str, Parser] = {
    "csl": parse_csl_csv,
    "dpl": parse_dpl,
    "fcc": parse_fcc,
    "uflpa": parse_uflpa,
    "opensanctions": parse_opensanctions_csv,
    "fr": parse_fr_notices,
}


def decode(data: bytes, origin: str = "input") -> str:
    """Bytes -> text: gunzip when gzipped, UTF-8 (else Windows-1252, as older DPL files).

    Raises
    ------
    TruncatedFileError
        A gzip stream that stops before its end.
    """
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (EOFError, OSError, zlib.error) as exc:
            raise TruncatedFileError(f"{origin}: the gzip stream is cut short or damaged: "
                                     f"{exc}; nothing applied") from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def detect_format(data: bytes | str, origin: str = "") -> str:
    """The source name of a file's content (see :data:`SOURCES`).

    Raises
    ------
    SourceFileError
        Empty, an HTML page without a list table, or no known format.
    """
    text = decode(data, origin) if isinstance(data, bytes) else data
    head = text.lstrip("\ufeff \r\n\t")[:20000]
    where = f"{origin}: " if origin else ""
    if not head:
        raise SourceFileError(f"{where}empty file")
    if head.startswith("<"):
        if looks_like_fcc(head if "covered equipment" in head.lower() else text):
            return "fcc"
        if looks_like_uflpa(text):
            return "uflpa"
        raise SourceFileError(f"{where}an HTML page that holds no list table (an error page?)")
    if head.startswith(("{", "[")):
        raise SourceFileError(f"{where}a JSON document: no JSON list format is read yet "
                              "(use the CSV download)")
    for name, test in (("csl", looks_like_csl), ("dpl", looks_like_dpl),
                       ("fcc", looks_like_fcc), ("opensanctions", looks_like_opensanctions),
                       ("fr", looks_like_fr_notices)):
        if test(head):
            return name
    first = head.split("\n", 1)[0][:120]
    raise SourceFileError(f"{where}line 1: not a known list format (first line: {first!r})")


def parse_bytes(data: bytes, *, origin: str, retrieved_at: str | None = None,
                source: str | None = None, source_url: str | None = None) -> ParsedSource:
    """Parse one file's bytes.

    Parameters
    ----------
    source : str, optional
        Force this parser (see :data:`SOURCES`); for ``opensanctions`` a list code may
        follow a colon (``opensanctions:DOD_1260H``).  When the content is recognised as
        another format, :class:`WrongListError`.

    Raises
    ------
    SourceFileError, TruncatedFileError, WrongListError
    """
    text = decode(data, origin)
    forced, _, list_code = (source or "").partition(":")
    found = detect_format(text, origin)
    if forced:
        if forced not in _PARSERS:
            raise SourceFileError(f"unknown source {forced!r}; one of {', '.join(SOURCES)}")
        if forced != found:
            raise WrongListError(f"{origin}: this is a {found} file, not {forced}; "
                                 "nothing applied")
    name = forced or found
    kwargs: dict[str, object] = {
        "origin": origin, "sha256": sha256_hex(text.encode("utf-8")),
        "retrieved_at": retrieved_at or datetime.now(UTC).isoformat(timespec="seconds"),
    }
    if source_url:
        kwargs["source_url"] = source_url
    if name == "opensanctions" and list_code:
        kwargs["list_code"] = list_code
    return _PARSERS[name](text, **kwargs)


def source_files(paths: list[Path]) -> list[Path]:
    """Files named, and the files inside folders named (sorted), skipping ``*.md``."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out.extend(sorted(f for f in p.rglob("*") if f.is_file()
                              and not f.name.startswith(".") and f.suffix != ".md"))
        else:
            out.append(p)
    return out


def read_source(path: str | Path, *, source: str | None = None) -> ParsedSource:
    """Parse one downloaded file (format from its content unless ``source`` is given).

    Raises
    ------
    SourceFileError
        Unreadable, empty, truncated, wrong columns, or another list than ``source``.
    """
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise SourceFileError(f"{p}: cannot read: {exc.strerror or exc}") from exc
    return parse_bytes(data, origin=str(p), retrieved_at=file_time(p), source=source)
