"""The BIS Denied Persons List's own file, ``dpl.txt``.

Format: tab-separated, every field double-quoted, 12 columns (``Name``,
``Street_Address``, ``City``, ``State``, ``Country``, ``Postal_Code``,
``Effective_Date``, ``Expiration_Date``, ``Standard_Order``, ``Last_Update``,
``Action``, ``FR_Citation``); dates ``MM/DD/YYYY`` except ``Last_Update`` (ISO).  One
name can span several rows, one per address: they are one entry.

The list is chiefly of persons: a row is kept only when its name carries a legal-form
or organisation word; the others are left out and counted.
"""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import date, datetime

from tracker.listsources.model import (
    ParsedEntry,
    ParsedSource,
    SourceFileError,
    TruncatedFileError,
    is_organisation_name,
)

__all__ = ["DPL_COLUMNS", "DPL_URL", "looks_like_dpl", "parse_dpl"]

DPL_URL = "https://www.bis.doc.gov/dpl/dpl.txt"
LICENCE = "public domain (US-government work; BIS Denied Persons List)"
LIST_CODE = "BIS_DPL"
DPL_COLUMNS = ("Name", "Street_Address", "City", "State", "Country", "Postal_Code",
               "Effective_Date", "Expiration_Date", "Standard_Order", "Last_Update",
               "Action", "FR_Citation")


def looks_like_dpl(head: str) -> bool:
    first = head.lstrip("\ufeff").split("\n", 1)[0]
    return "\t" in first and "Name" in first and "FR_Citation" in first


def _us_date(value: str, where: str, warnings: list[str]) -> date | None:
    value = value.strip()
    if not value:
        return None
    try:
        return datetime.strptime(value, "%m/%d/%Y").date()
    except ValueError:
        warnings.append(f"{where}: not a MM/DD/YYYY date, kept as unknown: {value!r}")
        return None


def parse_dpl(text: str, *, origin: str, sha256: str, retrieved_at: str,
              source_url: str = DPL_URL) -> ParsedSource:
    """Parse ``dpl.txt``.

    Raises
    ------
    TruncatedFileError
        The last row is cut short.
    SourceFileError
        Wrong columns or a malformed row.

    Examples
    --------
    >>> head = "\\t".join(f'"{c}"' for c in DPL_COLUMNS)
    >>> row = "\\t".join(['"ACME TRADING LTD"', '"1 Road"', '"Town"', '""', '"AE"', '""',
    ...                   '"06/19/2003"', '"06/29/2056"', '"Y"', '"2007-01-31"', '"ADDED"',
    ...                   '"68 F.R. 38290"'])
    >>> p = parse_dpl(head + "\\n" + row + "\\n", origin="x", sha256="", retrieved_at="")
    >>> e = p.lists["BIS_DPL"][0]
    >>> (e.name, e.country, str(e.listed_on), str(e.ends_on))
    ('ACME TRADING LTD', 'AE', '2003-06-19', '2056-06-29')
    """
    text = text.lstrip("\ufeff")
    if not text.strip():
        raise SourceFileError(f"{origin}: empty file")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter="\t")
    try:
        header = [h.strip() for h in next(reader)]
        rows = [(reader.line_num, r) for r in reader]
    except csv.Error as exc:
        raise TruncatedFileError(
            f"{origin}: line {reader.line_num}: the file stops inside a quoted field "
            f"(cut download?): {exc}; nothing applied") from exc
    missing = [c for c in DPL_COLUMNS if c not in header]
    if missing:
        raise SourceFileError(f"{origin}: line 1: not a Denied Persons List header: "
                              f"missing column(s) {', '.join(missing)}")
    col = {n: i for i, n in enumerate(header)}
    out = ParsedSource(source="bis_dpl", origin=origin, sha256=sha256,
                       retrieved_at=retrieved_at, licence=LICENCE, source_url=source_url)
    out.lists[LIST_CODE] = []
    today = date.today()
    newest: date | None = None
    by_name: dict[str, ParsedEntry] = {}
    for i, (line, row) in enumerate(rows):
        if not row:
            continue
        if len(row) != len(header):
            if i == len(rows) - 1:
                raise TruncatedFileError(
                    f"{origin}: line {line}: the last row has {len(row)} of {len(header)} "
                    "fields: the file is cut short; nothing applied")
            raise SourceFileError(
                f"{origin}: line {line}: {len(row)} fields where the header has {len(header)}")
        out.rows += 1
        name = row[col["Name"]].strip()
        if not name:
            raise SourceFileError(f"{origin}: line {line}: field Name: empty")
        upd = row[col["Last_Update"]].strip()
        try:
            u = date.fromisoformat(upd) if upd else None
        except ValueError:
            u = None
        if u is not None and u > today:
            out.warnings.append(f"{origin}: line {line}: field Last_Update: date in the "
                                f"future ignored for the data date: {upd!r}")
        elif u is not None and (newest is None or u > newest):
            newest = u
        if not is_organisation_name(name):
            out.left_out_individuals += 1
            continue
        start = _us_date(row[col["Effective_Date"]], f"{origin}: line {line}: field "
                         "Effective_Date", out.warnings)
        end = _us_date(row[col["Expiration_Date"]], f"{origin}: line {line}: field "
                       "Expiration_Date", out.warnings)
        fr = row[col["FR_Citation"]].strip()
        country = row[col["Country"]].strip() or None
        prior = by_name.get(name)
        if prior is not None:  # one more address of the same entry
            if prior.country is None and country:
                by_name[name] = replace(prior, country=country)
            continue
        by_name[name] = ParsedEntry(
            list=LIST_CODE, name=name, country=country,
            listed_on=start, listed_on_basis="Effective_Date (DPL)" if start else "",
            ends_on=end, ends_on_basis="Expiration_Date (DPL)" if end else "",
            citations=(fr,) if fr else (), source_url=source_url,
            notes=row[col["Action"]].strip())
    if not out.rows:
        raise SourceFileError(f"{origin}: no data rows under the header")
    out.lists[LIST_CODE] = list(by_name.values())
    out.data_date[LIST_CODE] = newest
    return out
