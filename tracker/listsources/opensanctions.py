"""OpenSanctions source tables (CC BY-NC 4.0), for lists without a machine-readable
official feed: the ``targets.simple.csv`` export of a dataset, and the transcription
CSVs in its repository (``schema,name,aliases,...,start-date,end-date,country,...``,
e.g. the INKSNA nonproliferation sanctions).

Licence: OpenSanctions data is CC BY-NC 4.0 (https://www.opensanctions.org/licensing/);
every entry and version made from it says so.  Rows of schema Person are left out.
"""

from __future__ import annotations

import csv
import io
from datetime import date

from tracker.listsources.model import ParsedEntry, ParsedSource, SourceFileError
from tracker.names import load_country_names, normalize

__all__ = ["DATASET_LISTS", "looks_like_opensanctions", "parse_opensanctions_csv"]

LICENCE = "CC BY-NC 4.0 (OpenSanctions data; https://www.opensanctions.org/licensing/)"
#: OpenSanctions dataset or programme -> registry list code.
DATASET_LISTS = {
    "us_dod_chinese_milcorps": "DOD_1260H",
    "ca_named_research_orgs": "CA_NRO",
    "us_fcc_covered_list": "FCC_COVERED",
    "us_dhs_uflpa": "DHS_UFLPA",
    "Nonproliferation Sanctions (ISN) - State Department": "STATE_ISN",
}
_TRANSCRIPTION = ("schema", "name", "aliases", "program", "start-date", "end-date", "country")
_TARGETS = ("id", "schema", "name", "aliases", "countries", "dataset", "first_seen")
_ORG_SCHEMAS = {"Organization", "Company", "LegalEntity", "PublicBody"}
# Short forms in OpenSanctions transcriptions that the country table does not carry.
_EXTRA_COUNTRIES = {"dprk": "KP", "rok": "KR", "uae": "AE"}


def looks_like_opensanctions(head: str) -> bool:
    first = head.lstrip("\ufeff").split("\n", 1)[0]
    cols = [c.strip() for c in first.split(",")]
    return (all(c in cols for c in _TRANSCRIPTION) or all(c in cols for c in _TARGETS))


def _iso(value: str, where: str, warnings: list[str]) -> date | None:
    value = value.strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        warnings.append(f"{where}: not a date, kept as unknown: {value!r}")
        return None


def parse_opensanctions_csv(text: str, *, origin: str, sha256: str, retrieved_at: str,
                            list_code: str | None = None, source_url: str = ""
                            ) -> ParsedSource:
    """Parse an OpenSanctions CSV (transcription or ``targets.simple.csv``).

    Parameters
    ----------
    list_code : str, optional
        The registry list the rows belong to; default: from the ``program`` or
        ``dataset`` column (see :data:`DATASET_LISTS`).

    Raises
    ------
    SourceFileError
        Wrong columns, or rows of a list the registry does not know and no list_code.
    """
    text = text.lstrip("\ufeff")
    if not text.strip():
        raise SourceFileError(f"{origin}: empty file")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    cols = reader.fieldnames or []
    targets = all(c in cols for c in _TARGETS)
    if not targets and not all(c in cols for c in _TRANSCRIPTION):
        raise SourceFileError(f"{origin}: line 1: not an OpenSanctions table: expected "
                              f"columns {', '.join(_TRANSCRIPTION)} or {', '.join(_TARGETS)}")
    countries = {**load_country_names(), **_EXTRA_COUNTRIES}
    out = ParsedSource(source="opensanctions", origin=origin, sha256=sha256,
                       retrieved_at=retrieved_at, licence=LICENCE, source_url=source_url)
    editions: set[str] = set()
    for row in reader:
        line = reader.line_num
        report_year = (row.get("report-date") or "").strip()
        if not targets and len(report_year) == 4:  # a year alone names an edition (FY)
            editions.add(report_year)
        if None in row:
            raise SourceFileError(f"{origin}: line {line}: more fields than the header")
        out.rows += 1
        group = (row.get("dataset") or "") if targets else (row.get("program") or "")
        code = list_code or DATASET_LISTS.get(group.split(";")[0].strip())
        if code is None:
            col = "dataset" if targets else "program"
            raise SourceFileError(f"{origin}: line {line}: field {col}: {group!r} is no list "
                                  "the registry carries; name one with --source")
        out.lists.setdefault(code, [])
        out.data_date.setdefault(code, None)
        if (row.get("schema") or "").strip() not in _ORG_SCHEMAS:
            out.left_out_individuals += 1
            continue
        name = (row.get("name") or "").strip()
        if not name:
            raise SourceFileError(f"{origin}: line {line}: field name: empty")
        ctext = (row.get("countries") if targets else row.get("country")) or ""
        first = ctext.split(";")[0].strip()
        country = (first.upper() if targets and len(first) == 2
                   else countries.get(normalize(first)) if first else None)
        start = _iso(row.get("first_seen" if targets else "start-date") or "",
                     f"{origin}: line {line}: field start-date", out.warnings)
        end = None if targets else _iso(row.get("end-date") or "",
                                        f"{origin}: line {line}: field end-date", out.warnings)
        report = None if targets else _iso(row.get("report-date") or "",
                                           f"{origin}: line {line}: field report-date",
                                           out.warnings)
        url = (row.get("source_url") or "").strip()
        aliases = tuple(a.strip() for a in (row.get("aliases") or "").split(";") if a.strip())
        basis = ("first_seen (OpenSanctions crawl date, not a listing date)" if targets
                 else "start-date (OpenSanctions transcription of the notice)")
        out.lists[code].append(ParsedEntry(
            list=code, name=name, aliases=aliases, country=country, entry_type="company",
            listed_on=start, listed_on_basis=basis if start else "", ends_on=end,
            ends_on_basis="end-date (OpenSanctions transcription)" if end else "",
            citations=(url,) if url else (), source_id=(row.get("id") or "").strip(),
            source_url=url or source_url, notes=(row.get("notes") or "").strip()))
        newest = report or start
        cur = out.data_date[code]
        if newest is not None and (cur is None or newest > cur):
            out.data_date[code] = newest
    if not out.rows:
        raise SourceFileError(f"{origin}: no data rows under the header")
    if len(editions) > 1:
        raise SourceFileError(
            f"{origin}: field report-date: the file holds several editions "
            f"({', '.join(sorted(editions))}); an update takes one edition of a list, so "
            "nothing is applied (the bundled registry's build keeps editions apart)")
    return out
