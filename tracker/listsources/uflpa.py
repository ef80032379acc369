"""The DHS UFLPA Entity List page (https://www.dhs.gov/uflpa-entity-list).

Three tables, one per statutory list (UFLPA §2(d)(2)(B)(i), (ii), (v) ... ), columns
"Name of Entity"/"Entity Name" and "Effective Date".  Aliases are written inline:
"(also known as A; and B)", "(formerly known as ...)", "(and two aliases: ...)",
"(including one alias: ...)".  The page's "Last Updated" date is the data date.
"""

from __future__ import annotations

import re
from datetime import date, datetime

from tracker.listsources.model import ParsedEntry, ParsedSource, SourceFileError
from tracker.listsources.tables import read_tables

__all__ = ["UFLPA_URL", "looks_like_uflpa", "parse_uflpa", "split_aliases"]

UFLPA_URL = "https://www.dhs.gov/uflpa-entity-list"
LICENCE = "public domain (US-government work; DHS UFLPA Entity List)"
LIST_CODE = "DHS_UFLPA"
_ALIAS_OPEN = re.compile(
    r"\s*\((?:also known as|formerly known as|and [a-z]+ alias(?:es)?:|including [a-z]+ "
    r"alias(?:es)?:)\s*", re.IGNORECASE)
_SECTION = re.compile(r"Section\s+2\(d\)\(2\)\(B\)\((i{1,3}|iv|v|vi{0,3})\)")
_UPDATED = re.compile(r"Last Updated:\s*(\d{2}/\d{2}/\d{4})")


def looks_like_uflpa(head: str) -> bool:
    return "UFLPA" in head and "<" in head[:200] and "Entity List" in head


def split_aliases(cell: str) -> tuple[str, tuple[str, ...]]:
    """The name and the aliases written inline.

    Examples
    --------
    >>> split_aliases("Hetian Taida Apparel Co., Ltd (and one alias: Hetian TEDA Garment)")
    ('Hetian Taida Apparel Co., Ltd', ('Hetian TEDA Garment',))
    >>> split_aliases("X Co. (also known as A; B; and C)")
    ('X Co.', ('A', 'B', 'C'))
    >>> split_aliases("H (Shanshan) Co. (including one alias: S (Shanshan) Co.) and units")
    ('H (Shanshan) Co. and units', ('S (Shanshan) Co.',))
    """
    aliases: list[str] = []
    name_parts: list[str] = []
    pos = 0
    for m in _ALIAS_OPEN.finditer(cell):
        if m.start() < pos:
            continue
        depth, i = 1, m.end()
        while i < len(cell) and depth:  # to the matching ")": names hold parentheses
            depth += {"(": 1, ")": -1}.get(cell[i], 0)
            i += 1
        inner = cell[m.end():i - 1] if depth == 0 else cell[m.end():]
        for part in inner.split(";"):
            part = re.sub(r"^and\s+", "", part.strip())
            if part:
                aliases.append(part)
        name_parts.append(cell[pos:m.start()])
        pos = i
    name_parts.append(cell[pos:])
    name = re.sub(r"\s+", " ", "".join(name_parts)).strip()
    return name, tuple(dict.fromkeys(aliases))


def parse_uflpa(text: str, *, origin: str, sha256: str, retrieved_at: str,
                source_url: str = UFLPA_URL) -> ParsedSource:
    """Parse the saved UFLPA Entity List page.

    Raises
    ------
    SourceFileError
        No entity table on the page, or a row without an effective date.
    """
    tables, _ = read_tables(text)
    tables = [t for t in tables if t.header and "effective date" in " ".join(t.header).lower()]
    if not tables:
        raise SourceFileError(f"{origin}: no UFLPA entity table ('Effective Date' column)")
    m = _UPDATED.search(re.sub(r"<[^>]+>", " ", text))
    updated = datetime.strptime(m.group(1), "%m/%d/%Y").date() if m else None
    out = ParsedSource(source="dhs_uflpa", origin=origin, sha256=sha256,
                       retrieved_at=retrieved_at, licence=LICENCE, source_url=source_url)
    entries: list[ParsedEntry] = []
    newest: date | None = None
    for ti, t in enumerate(tables, 1):
        sec = _SECTION.findall(t.before)
        section = f"UFLPA Section 2(d)(2)(B)({sec[-1]})" if sec else f"UFLPA table {ti}"
        for ri, row in enumerate(t.rows, 1):
            out.rows += 1
            if len(row) < 2 or not row[0]:
                raise SourceFileError(f"{origin}: table {ti} row {ri}: expected name and "
                                      "effective date")
            try:
                eff = datetime.strptime(row[1].strip(), "%B %d, %Y").date()
            except ValueError as exc:
                raise SourceFileError(f"{origin}: table {ti} row {ri}: field Effective Date: "
                                      f"not a date: {row[1]!r}") from exc
            newest = eff if newest is None or eff > newest else newest
            name, aliases = split_aliases(row[0])
            entries.append(ParsedEntry(
                list=LIST_CODE, name=name, aliases=aliases, entry_type="company", listed_on=eff,
                listed_on_basis="Effective Date (UFLPA Entity List)", source_url=source_url,
                notes=f"{section}; as printed: {row[0]}"))
    out.lists[LIST_CODE] = entries
    out.data_date[LIST_CODE] = updated or newest
    return out
