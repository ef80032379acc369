"""The FCC Covered List (https://www.fcc.gov/supplychain/coveredlist): the page's table,
or the same table as CSV (``covered_equipment_or_services``,
``date_of_inclusion_on_covered_list``).

Each row describes equipment or services "produced by" / "provided by" a named entity;
that entity is the list entry.  Category rows (e.g. all foreign-produced routers) name no
entity and are left out (counted).  A date cell can hold later updates
("December 22, 2025Updated:January 7, 2026"): the first date is the date of inclusion.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime

from tracker.listsources.model import ParsedEntry, ParsedSource, SourceFileError
from tracker.listsources.tables import read_tables

__all__ = ["FCC_URL", "entity_of", "looks_like_fcc", "parse_fcc"]

FCC_URL = "https://www.fcc.gov/supplychain/coveredlist"
LICENCE = "public domain (US-government work; FCC Covered List)"
LIST_CODE = "FCC_COVERED"
CSV_COLUMNS = ("covered_equipment_or_services", "date_of_inclusion_on_covered_list")
_BY = re.compile(
    r"\b(?:produced|provided|supplied)(?:,?\s+directly or indirectly,)?\s+by\s+(.+?)"
    r"(?=,?\s+(?:including|to the extent|subject to|or any of|or its)\b|\.\s*$|$)")
_SUBSIDIARY = re.compile(r"\s+and its (?:wholly-owned )?subsidiar(?:y|ies)\s+")
_DATE = re.compile(r"([A-Z][a-z]+\.? \d{1,2}, \d{4})")


def looks_like_fcc(head: str) -> bool:
    low = head.lstrip("\ufeff")[:4000].lower()
    return ("covered_equipment_or_services" in low
            or ("covered equipment or services" in low and "date of inclusion" in low))


def entity_of(text: str) -> list[str]:
    """The entities a row names (none for a category row).

    Examples
    --------
    >>> entity_of("Telecommunications equipment produced by ZTE Corporation, including ...")
    ['ZTE Corporation']
    >>> entity_of("Routers produced in a foreign country, except routers ...")
    []
    """
    m = _BY.search(text)
    if not m:
        return []
    return [p.strip(" ,") for p in _SUBSIDIARY.split(m.group(1)) if p.strip(" ,")]


def _dates(cell: str) -> list[date]:
    out = []
    for d in _DATE.findall(cell):
        try:
            out.append(datetime.strptime(d.replace(".", ""), "%B %d, %Y").date())
        except ValueError:
            continue
    return out


def parse_fcc(text: str, *, origin: str, sha256: str, retrieved_at: str,
              source_url: str = FCC_URL) -> ParsedSource:
    """Parse the Covered List page (HTML) or its table as CSV.

    Raises
    ------
    SourceFileError
        No Covered List table in the file, or a row without a date.
    """
    text = text.lstrip("\ufeff")
    if not text.strip():
        raise SourceFileError(f"{origin}: empty file")
    rows: list[tuple[int, str, str]] = []
    if text.lstrip().startswith("<"):
        tables, _ = read_tables(text)
        table = next((t for t in tables if any("covered equipment" in h.lower()
                                               for h in t.header)), None)
        if table is None:
            raise SourceFileError(f"{origin}: no table headed 'Covered Equipment or Services'")
        rows = [(i + 2, r[0], r[1] if len(r) > 1 else "") for i, r in enumerate(table.rows)]
    else:
        reader = csv.reader(io.StringIO(text, newline=""))
        header = next(reader)
        missing = [c for c in CSV_COLUMNS if c not in header]
        if missing:
            raise SourceFileError(f"{origin}: line 1: not the Covered List table: missing "
                                  f"column(s) {', '.join(missing)}")
        ci, cd = header.index(CSV_COLUMNS[0]), header.index(CSV_COLUMNS[1])
        for r in reader:
            if not any(r):
                continue
            if len(r) != len(header):
                raise SourceFileError(f"{origin}: line {reader.line_num}: {len(r)} fields "
                                      f"where the header has {len(header)}")
            rows.append((reader.line_num, r[ci], r[cd]))
    out = ParsedSource(source="fcc_covered", origin=origin, sha256=sha256,
                       retrieved_at=retrieved_at, licence=LICENCE, source_url=source_url)
    out.lists[LIST_CODE] = []
    newest: date | None = None
    for line, what, when in rows:
        out.rows += 1
        dates = _dates(when)
        if not dates:
            raise SourceFileError(f"{origin}: line {line}: field date_of_inclusion_on_covered_"
                                  f"list: no date in {when!r}")
        newest = max([d for d in (newest,) if d] + dates)
        names = entity_of(what)
        if not names:
            key = "category rows (no named entity)"
            out.left_out_other[key] = out.left_out_other.get(key, 0) + 1
            continue
        for name in names:
            out.lists[LIST_CODE].append(ParsedEntry(
                list=LIST_CODE, name=name, entry_type="company", listed_on=dates[0],
                listed_on_basis="Date of Inclusion on Covered List (FCC)",
                source_url=source_url, notes=what))
    if not out.rows:
        raise SourceFileError(f"{origin}: the Covered List table has no rows")
    out.data_date[LIST_CODE] = newest
    return out
