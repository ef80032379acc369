"""The Consolidated Screening List (CSL) bulk CSV of the International Trade
Administration (trade.gov): one file carrying the Commerce, State and Treasury lists.

Format (2019 layout without ``_id``; 2022 and later with it): one row per list entry,
``source`` names the list (e.g. "Entity List (EL) - Bureau of Industry and Security"),
``type`` is "Entity"/"Individual"/"Vessel"/"Aircraft" for Treasury rows and empty for
Commerce and State rows, ``start_date`` is ISO, ``federal_register_notice`` the citation,
``alt_names`` and ``addresses`` are ``; ``-joined, each address ending with an ISO-2
country.

Institutions only: rows of type Individual are left out, and so are rows of the Denied
Persons List and of DDTC debarments (lists chiefly of persons, with no ``type``) whose
name carries no legal-form or organisation word.  Vessels and aircraft are left out too.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date

from tracker.listsources.model import (
    ParsedEntry,
    ParsedSource,
    SourceFileError,
    TruncatedFileError,
    is_organisation_name,
)

__all__ = ["CSL_LISTS", "CSL_URL", "REQUIRED_COLUMNS", "looks_like_csl", "parse_csl_csv"]

CSL_URL = "https://data.trade.gov/downloadable_consolidated_screening_list/v1/consolidated.csv"
LICENCE = "public domain (US-government work; ITA Consolidated Screening List)"

#: CSL list abbreviation -> registry list code.
CSL_LISTS: dict[str, str] = {
    "EL": "BIS_ENTITY_LIST",
    "MEU": "BIS_MEU",
    "UVL": "BIS_UVL",
    "DPL": "BIS_DPL",
    "ISN": "STATE_ISN",
    "DTC": "STATE_DDTC_DEBARRED",
    "CMIC": "OFAC_NS_CMIC",
    "SDN": "OFAC_SDN",
    "SSI": "OFAC_SSI",
    "PLC": "OFAC_PLC",
    "CAP": "OFAC_CAPTA",
    "NS-MBS": "OFAC_NS_MBS",
    "FSE": "OFAC_FSE",
}
#: Lists that mix persons and organisations with no ``type`` column value (the 2022 file's
#: ISN rows include people such as named scientists): a row is kept only when its name
#: reads as an organisation.  Institutions only: a person is never kept as an entry.
_PERSON_LISTS = {"BIS_DPL", "STATE_DDTC_DEBARRED", "STATE_ISN"}
#: The file's own words that a row is a person ("(North Korean individual in China)").
_SAYS_INDIVIDUAL = re.compile(r"\bindividual\b", re.IGNORECASE)
REQUIRED_COLUMNS = ("source", "type", "name", "addresses", "federal_register_notice",
                    "start_date", "end_date", "alt_names")
_ABBR = re.compile(r"\(([A-Z][A-Z-]*)(?: List)?\)")
_COUNTRY = re.compile(r",\s*([A-Z]{2})\s*$")


def looks_like_csl(head: str) -> bool:
    """True when the first line is a CSL header."""
    first = head.lstrip("\ufeff").split("\n", 1)[0]
    return "source" in first and "federal_register_notice" in first and "alt_names" in first


def _split(value: str) -> tuple[str, ...]:
    """``; ``-joined values; the Entity List writes the last one as "and X".

    >>> _split("Open Joint Stock Company 140 Repair Plant; and JSC 140 Repair Plant")
    ('Open Joint Stock Company 140 Repair Plant', 'JSC 140 Repair Plant')
    """
    parts = (re.sub(r"^and\s+", "", v.strip()) for v in value.split(";"))
    return tuple(dict.fromkeys(p for p in parts if p))


def _date(value: str, where: str, warnings: list[str]) -> date | None:
    value = value.strip()
    if not value:
        return None
    try:
        got = date.fromisoformat(value[:10])
    except ValueError:
        warnings.append(f"{where}: not a date, kept as unknown: {value!r}")
        return None
    if got.year < 1900:
        warnings.append(f"{where}: implausible date, kept as unknown: {value!r}")
        return None
    return got


def _country(addresses: str) -> str | None:
    for addr in addresses.split(";"):
        m = _COUNTRY.search(addr)
        if m:
            return m.group(1)
    return None


def parse_csl_csv(text: str, *, origin: str, sha256: str, retrieved_at: str,
                  source_url: str = CSL_URL) -> ParsedSource:
    """Parse a CSL CSV.

    Parameters
    ----------
    text : str
        The whole file, decoded.
    origin, sha256, retrieved_at : str
        Where it was read, its hash, when (recorded with the registry version).

    Returns
    -------
    ParsedSource

    Raises
    ------
    TruncatedFileError
        The file stops inside a row (a cut download).
    SourceFileError
        Wrong columns or a malformed row.

    Examples
    --------
    >>> head = "source,type,name,addresses,federal_register_notice,start_date,end_date,alt_names"
    >>> row = ('"Entity List (EL) - Bureau of Industry and Security",,Example Institute,'
    ...        '"1 Road, Town, CN",85 FR 1,2020-06-05,,EI')
    >>> p = parse_csl_csv(head + "\\n" + row + "\\n", origin="x", sha256="", retrieved_at="")
    >>> e = p.lists["BIS_ENTITY_LIST"][0]
    >>> (e.name, e.country, e.listed_on.isoformat(), e.aliases)
    ('Example Institute', 'CN', '2020-06-05', ('EI',))
    """
    text = text.lstrip("\ufeff")
    if not text.strip():
        raise SourceFileError(f"{origin}: empty file")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except csv.Error as exc:
        raise SourceFileError(f"{origin}: line 1: not CSV: {exc}") from exc
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise SourceFileError(
            f"{origin}: line 1: not a Consolidated Screening List header: "
            f"missing column(s) {', '.join(missing)}")
    col = {name: i for i, name in enumerate(header)}
    out = ParsedSource(source="csl_csv", origin=origin, sha256=sha256,
                       retrieved_at=retrieved_at, licence=LICENCE, source_url=source_url)
    ends_cleanly = text.endswith("\n")
    rows: list[tuple[int, list[str]]] = []
    try:
        for row in reader:
            rows.append((reader.line_num, row))
    except csv.Error as exc:
        raise TruncatedFileError(
            f"{origin}: line {reader.line_num}: the file stops inside a quoted field "
            f"(cut download?): {exc}; nothing applied") from exc
    for i, (line, row) in enumerate(rows):
        if not row:
            continue
        if row == header:
            out.warnings.append(f"{origin}: line {line}: repeated header line skipped")
            continue
        if len(row) != len(header):
            if i == len(rows) - 1 and (not ends_cleanly or len(row) < len(header)):
                raise TruncatedFileError(
                    f"{origin}: line {line}: the last row has {len(row)} of {len(header)} "
                    "fields: the file is cut short; its missing tail is not removals, "
                    "so nothing is applied")
            raise SourceFileError(
                f"{origin}: line {line}: {len(row)} fields where the header has {len(header)}")
        out.rows += 1
        src = row[col["source"]].strip()
        m = _ABBR.search(src)
        code = CSL_LISTS.get(m.group(1)) if m else None
        if code is None:
            key = src or "(no source)"
            out.left_out_other[key] = out.left_out_other.get(key, 0) + 1
            continue
        out.lists.setdefault(code, [])
        out.data_date.setdefault(code, None)
        kind = row[col["type"]].strip()
        name = row[col["name"]].strip()
        if not name:
            raise SourceFileError(f"{origin}: line {line}: field name: empty")
        if kind == "Individual" or (not kind and (
                _SAYS_INDIVIDUAL.search(name)
                or (code in _PERSON_LISTS and not is_organisation_name(name)))):
            out.left_out_individuals += 1
            continue
        if kind and kind != "Entity":
            key = f"{code} ({kind})"
            out.left_out_other[key] = out.left_out_other.get(key, 0) + 1
            continue
        where = f"{origin}: line {line}: field start_date"
        start = _date(row[col["start_date"]], where, out.warnings)
        end = _date(row[col["end_date"]], f"{origin}: line {line}: field end_date", out.warnings)
        fr = row[col["federal_register_notice"]].strip()
        url = row[col["source_list_url"]].strip() if "source_list_url" in col else ""
        out.lists[code].append(ParsedEntry(
            list=code, name=name, aliases=_split(row[col["alt_names"]]),
            country=_country(row[col["addresses"]]),
            entry_type="institution",
            listed_on=start, listed_on_basis="start_date (CSL)" if start else "",
            ends_on=end, ends_on_basis="end_date (CSL)" if end else "",
            citations=(fr,) if fr else (),
            source_id=row[col["_id"]].strip() if "_id" in col else "",
            source_url=url,
        ))
        if start is not None:
            cur = out.data_date[code]
            out.data_date[code] = start if cur is None or start > cur else cur
    if not out.rows:
        raise SourceFileError(f"{origin}: no data rows under the header")
    dated = [d for d in out.data_date.values() if d is not None]
    if dated:  # a list with no start_date at all: the file's newest start_date
        for code, d in out.data_date.items():
            if d is None:
                out.data_date[code] = max(dated)
    return out
