"""Federal Register notice indexes: which State Department "Imposition of Nonproliferation
Measures" notices (the source of the ISN / INKSNA sanctions) have been published, and when.

The format is a CSV written from the federalregister.gov API (``documents.json``) that
keeps the API's field names: ``document_number,publication_date,html_url,pdf_url`` (more
API fields, such as ``title`` or ``type``, are allowed and ignored).  It holds no
entities: reading it gives the notices, not list entries, so applying it changes no list.
Comparing two dated indexes (:func:`notice_changes`) shows the notices added, i.e. the
nonproliferation actions a list update from them must account for.

A parser of the API's own JSON response is not built: no recorded response exists to
test it on.

Examples
--------
>>> idx = parse_fr_notices(
...     "document_number,publication_date,html_url,pdf_url\\n"
...     "2026-15759,2026-08-04,https://www.federalregister.gov/documents/2026/08/04/"
...     "2026-15759/x,https://www.govinfo.gov/x.pdf\\n",
...     origin="fr_notices.csv", sha256="0", retrieved_at="2026-08-07")
>>> idx.notices[0].document_number, idx.notices[0].publication_date.isoformat()
('2026-15759', '2026-08-04')
>>> idx.lists, idx.data_date
({}, {'STATE_ISN': datetime.date(2026, 8, 4)})
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date

from tracker.listsources.model import ParsedSource, SourceFileError, TruncatedFileError

__all__ = ["FR_NOTICES_URL", "FrNotice", "NoticeIndex", "looks_like_fr_notices",
           "notice_changes", "parse_fr_notices"]

#: The API query the recorded indexes were written from (State Department nonproliferation
#: measures notices, newest first).
FR_NOTICES_URL = ("https://www.federalregister.gov/api/v1/documents.json?conditions[agencies][]"
                  "=state-department&conditions[term]=nonproliferation+measures&order=newest")
LICENCE = "public domain (US-government work; Federal Register document metadata)"
LIST_CODE = "STATE_ISN"
COLUMNS = ("document_number", "publication_date", "html_url")
_DOC_NUMBER = re.compile(r"[A-Z]?\d{1,4}-\d+")


@dataclass(frozen=True, slots=True)
class FrNotice:
    """One Federal Register document, as the API names its fields."""

    document_number: str
    publication_date: date
    html_url: str
    pdf_url: str = ""


@dataclass(slots=True)
class NoticeIndex(ParsedSource):
    """A parsed notice index: no list entries, the notices (newest first)."""

    notices: list[FrNotice] = field(default_factory=list)


def looks_like_fr_notices(head: str) -> bool:
    first = head.lstrip("\ufeff").split("\n", 1)[0]
    cols = [c.strip().strip('"') for c in first.split(",")]
    return all(c in cols for c in COLUMNS)


def parse_fr_notices(text: str, *, origin: str, sha256: str, retrieved_at: str,
                     source_url: str = FR_NOTICES_URL) -> NoticeIndex:
    """Parse a notice index CSV.

    Raises
    ------
    SourceFileError
        Wrong columns, no rows, a document number or publication date that is not one.
    TruncatedFileError
        A row with fewer fields than the header (a cut file).
    """
    text = text.lstrip("\ufeff")
    if not text.strip():
        raise SourceFileError(f"{origin}: empty file")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    cols = reader.fieldnames or []
    missing = [c for c in COLUMNS if c not in cols]
    if missing:
        raise SourceFileError(f"{origin}: line 1: not a Federal Register notice index: "
                              f"missing column(s) {', '.join(missing)}")
    out = NoticeIndex(source="fr_notices", origin=origin, sha256=sha256,
                      retrieved_at=retrieved_at, licence=LICENCE, source_url=source_url)
    seen: set[str] = set()
    for row in reader:
        line = reader.line_num
        if None in row:
            raise SourceFileError(f"{origin}: line {line}: more fields than the header")
        if any(row.get(c) is None for c in cols):
            raise TruncatedFileError(f"{origin}: line {line}: fewer fields than the header "
                                     "(the file is cut short?); nothing applied")
        out.rows += 1
        number = (row["document_number"] or "").strip()
        if not _DOC_NUMBER.fullmatch(number):
            raise SourceFileError(f"{origin}: line {line}: field document_number: not a "
                                  f"Federal Register document number: {number!r}")
        try:
            published = date.fromisoformat((row["publication_date"] or "").strip())
        except ValueError:
            raise SourceFileError(f"{origin}: line {line}: field publication_date: not a "
                                  f"date (YYYY-MM-DD): {row['publication_date']!r}") from None
        if number in seen:
            out.warnings.append(f"{origin}: line {line}: document {number} listed twice")
            continue
        seen.add(number)
        out.notices.append(FrNotice(number, published, (row["html_url"] or "").strip(),
                                    (row.get("pdf_url") or "").strip()))
    if not out.notices:
        raise SourceFileError(f"{origin}: no data rows under the header")
    out.notices.sort(key=lambda n: (n.publication_date, n.document_number), reverse=True)
    out.data_date[LIST_CODE] = out.notices[0].publication_date
    return out


def notice_changes(parsed: list[ParsedSource]) -> list[str]:
    """What the notice indexes among ``parsed`` say, oldest index first: each index's
    count and newest notice, and per later index the notices added and dropped.

    Examples
    --------
    >>> def idx(*nums):
    ...     return NoticeIndex("fr_notices", "f", "0", "", LICENCE, "", notices=[
    ...         FrNotice(n, date(2026, 1, i + 1), f"u{n}") for i, n in enumerate(nums)])
    >>> for line in notice_changes([idx("2026-1"), idx("2026-1", "2026-2")]):
    ...     print(line)
    STATE_ISN notices in f: 1, newest 2026-1 of 2026-01-01
    STATE_ISN notices in f: 2, newest 2026-2 of 2026-01-02
    STATE_ISN notices added since the older index: 2026-2 of 2026-01-02 (u2026-2)
    """
    def newest_of(idx: NoticeIndex) -> FrNotice:
        return max(idx.notices, key=lambda n: (n.publication_date, n.document_number))

    indexes = sorted((p for p in parsed if isinstance(p, NoticeIndex) and p.notices),
                     key=lambda p: (newest_of(p).publication_date, len(p.notices)))
    lines: list[str] = []
    prior: NoticeIndex | None = None
    for idx in indexes:
        newest = newest_of(idx)
        lines.append(f"{LIST_CODE} notices in {idx.origin}: {len(idx.notices)}, newest "
                     f"{newest.document_number} of {newest.publication_date.isoformat()}")
        if prior is not None:
            before = {n.document_number for n in prior.notices}
            now = {n.document_number for n in idx.notices}
            added = [n for n in idx.notices if n.document_number not in before]
            dropped = [n for n in prior.notices if n.document_number not in now]
            lines.append(f"{LIST_CODE} notices added since the older index: " + (", ".join(
                f"{n.document_number} of {n.publication_date.isoformat()} ({n.html_url})"
                for n in added) or "none"))
            if dropped:
                lines.append(f"{LIST_CODE} notices no longer in the newer index: "
                             + ", ".join(n.document_number for n in dropped))
        prior = idx
    return lines
