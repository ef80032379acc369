"""OpenSanctions source tables (CC BY-NC 4.0), for lists without a machine-readable
official feed.  Three layouts:

- the ``targets.simple.csv`` export of a dataset (``id,schema,name,...,dataset,first_seen``);
- the transcription CSVs in its repository (``schema,name,aliases,...,report-date,
  start-date,end-date,country,...``), e.g. the INKSNA nonproliferation sanctions and the
  DoD Section 1286 lists.  A ``report-date`` that is a year alone names an edition (FY):
  a file of several editions (the 1286 file holds FY2022-FY2025) is read edition by
  edition, see :func:`current_edition_entries`;
- the listing-period table of the DoD Section 1260H dataset (``Name,Clean Name,Alias,
  Previous Name,Parent Name,Note,Start date,End date,Source Url``), one row per listing
  period, ``Start date`` being the date of the edition that listed the entry.

From a file of several editions an update takes the **current** edition's members (the
newest edition), each dated by its **first** listing: the earliest edition of the file
that lists the same name (or, for 1260H, a previous name it gives).  An edition whose
publication date the file does not give leaves that date unknown.  Entities found only
in earlier editions are counted in a warning, not taken.

Licence: OpenSanctions data is CC BY-NC 4.0 (https://www.opensanctions.org/licensing/);
every entry and version made from it says so.  Rows of schema Person are left out.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date

from tracker.listsources.model import ParsedEntry, ParsedSource, SourceFileError
from tracker.names import load_country_names, normalize

__all__ = ["DATASET_LISTS", "PROGRAM_LISTS", "fr_document", "looks_like_opensanctions",
           "parse_opensanctions_csv", "url_release_day"]

LICENCE = "CC BY-NC 4.0 (OpenSanctions data; https://www.opensanctions.org/licensing/)"
#: OpenSanctions dataset or programme -> registry list code.
DATASET_LISTS = {
    "us_dod_chinese_milcorps": "DOD_1260H",
    "ca_named_research_orgs": "CA_NRO",
    "us_fcc_covered_list": "FCC_COVERED",
    "us_dhs_uflpa": "DHS_UFLPA",
    "Nonproliferation Sanctions (ISN) - State Department": "STATE_ISN",
}
#: A ``program`` that starts with this -> registry list code.
PROGRAM_LISTS = {
    "Section 1286 of the John S. McCain National Defense Authorization Act": "DOD_1286",
}
_TRANSCRIPTION = ("schema", "name", "aliases", "program", "start-date", "end-date", "country")
_TARGETS = ("id", "schema", "name", "aliases", "countries", "dataset", "first_seen")
_PERIODS = ("Name", "Clean Name", "Alias", "Previous Name", "Start date", "End date",
            "Source Url")
_ORG_SCHEMAS = {"Organization", "Company", "LegalEntity", "PublicBody"}
# Forms in OpenSanctions transcriptions (short forms, adjectives as the INKSNA notices
# print them: "a Russian entity") that the country table does not carry.
_EXTRA_COUNTRIES = {"dprk": "KP", "rok": "KR", "uae": "AE", "lebanon": "LB",
                    "russian": "RU", "syrian": "SY", "iranian": "IR"}
#: A federalregister.gov document URL: its publication day and document number.
_FR_DOC = re.compile(r"federalregister\.gov/(?:documents|d)/(\d{4})/(\d{2})/(\d{2})/"
                     r"([A-Z]?\d{1,4}-\d+)")


def looks_like_opensanctions(head: str) -> bool:
    first = head.lstrip("\ufeff").split("\n", 1)[0]
    cols = [c.strip() for c in first.split(",")]
    return any(all(c in cols for c in layout) for layout in (_TRANSCRIPTION, _TARGETS, _PERIODS))


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
    out = ParsedSource(source="opensanctions", origin=origin, sha256=sha256,
                       retrieved_at=retrieved_at, licence=LICENCE, source_url=source_url)
    if all(c in cols for c in _PERIODS):
        _read_periods(out, _rows(reader, origin), list_code)
        return out
    targets = all(c in cols for c in _TARGETS)
    if not targets and not all(c in cols for c in _TRANSCRIPTION):
        raise SourceFileError(f"{origin}: line 1: not an OpenSanctions table: expected "
                              f"columns {', '.join(_TRANSCRIPTION)}, or "
                              f"{', '.join(_TARGETS)}, or {', '.join(_PERIODS)}")
    rows = _rows(reader, origin)
    editions = {(r.get("report-date") or "").strip() for _, r in rows}
    if not targets and len(editions) > 1 and all(_FY.fullmatch(e) for e in editions):
        _read_fy_editions(out, rows, list_code)
        return out
    countries = _countries()
    notices: set[tuple[str, date]] = set()
    for line, row in rows:
        out.rows += 1
        group = (row.get("dataset") or "") if targets else (row.get("program") or "")
        code = list_code or _list_of(group)
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
        doc = fr_document(url)
        if doc and not targets:
            notices.add(doc)
            basis = (f"start-date: effective date of the measures in FR Doc. {doc[0]}, "
                     f"published {doc[1].isoformat()} (OpenSanctions transcription)")
        cites = ((f"FR Doc. {doc[0]} ({doc[1].isoformat()})",) if doc else ()) + \
            ((url,) if url else ())
        out.lists[code].append(ParsedEntry(
            list=code, name=name, aliases=aliases, country=country, entry_type="company",
            listed_on=start, listed_on_basis=basis if start else "", ends_on=end,
            ends_on_basis="end-date (OpenSanctions transcription)" if end else "",
            citations=cites, source_id=(row.get("id") or "").strip(),
            source_url=url or source_url, notes=(row.get("notes") or "").strip()))
        newest = report or start
        cur = out.data_date[code]
        if newest is not None and (cur is None or newest > cur):
            out.data_date[code] = newest
    if notices:  # a transcription of notices holds what they added, not the whole list
        out.warnings.insert(0, (
            f"{', '.join(sorted(out.lists))}: the entries of {len(notices)} Federal Register "
            f"notice(s) ({', '.join(f'{n} of {d.isoformat()}' for n, d in sorted(notices))}), "
            "not the whole list: applying it replaces the list's entries with these (a large "
            "loss is refused; --allow-shrink)"))
    return out


def fr_document(url: str) -> tuple[str, date] | None:
    """The document number and publication day of a federalregister.gov document URL.

    Examples
    --------
    >>> fr_document("https://www.federalregister.gov/documents/2026/08/04/2026-15759/x")
    ('2026-15759', datetime.date(2026, 8, 4))
    >>> fr_document("https://example.org/x") is None
    True
    """
    m = _FR_DOC.search(url)
    if not m:
        return None
    try:
        return m.group(4), date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None


# --------------------------------------------------------------------------- editions

_FY = re.compile(r"(?:19|20)\d\d")
#: "Academy of Military Medical Science (AMMS)": the trailing acronym alone.
_TRAILING_PAREN = re.compile(r"\s*\([^()]*\)[\s*]*$")
_MONTHS = {m: i for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul",
                                       "aug", "sep", "oct", "nov", "dec"), start=1)}
#: A DoD release URL path carries its release day: ``media.defense.gov/2023/Jun/29/...``.
_URL_DAY = re.compile(r"/((?:19|20)\d\d)/([A-Za-z]{3})/(\d{1,2})/")


def _rows(reader: csv.DictReader[str], origin: str) -> list[tuple[int, dict[str, str]]]:
    rows: list[tuple[int, dict[str, str]]] = []
    for row in reader:
        if None in row:
            raise SourceFileError(f"{origin}: line {reader.line_num}: more fields than "
                                  "the header")
        rows.append((reader.line_num, {k: (v or "") for k, v in row.items()}))
    if not rows:
        raise SourceFileError(f"{origin}: no data rows under the header")
    return rows


def _countries() -> dict[str, str]:
    return {**load_country_names(), **_EXTRA_COUNTRIES}


def _list_of(group: str) -> str | None:
    """The registry list of a ``dataset`` / ``program`` value, or None."""
    first = group.split(";")[0].strip()
    if first in DATASET_LISTS:
        return DATASET_LISTS[first]
    return next((code for prefix, code in PROGRAM_LISTS.items() if first.startswith(prefix)),
                None)


def url_release_day(url: str) -> date | None:
    """The release day a DoD media URL carries in its path, else None.

    Examples
    --------
    >>> url_release_day("https://media.defense.gov/2023/Jun/29/2003251160/-1/-1/1/X.PDF")
    datetime.date(2023, 6, 29)
    >>> url_release_day("https://rt.cto.mil/wp-content/uploads/2024/07/FY23-Lists.pdf") is None
    True
    """
    m = _URL_DAY.search(url)
    if not m or m.group(2).lower() not in _MONTHS:
        return None
    try:
        return date(int(m.group(1)), _MONTHS[m.group(2).lower()], int(m.group(3)))
    except ValueError:
        return None


def _split(value: str) -> list[str]:
    return [a.strip() for a in value.split(";") if a.strip()]


def _newest(*dates: date | None) -> date | None:
    known = [d for d in dates if d is not None]
    return max(known) if known else None


def _read_fy_editions(out: ParsedSource, rows: list[tuple[int, dict[str, str]]],
                      list_code: str | None) -> None:
    """A transcription holding several FY editions of one list (``report-date`` a year):
    the newest edition's members, each dated by the first edition listing its name."""
    origin = out.origin
    codes = {list_code or _list_of(r.get("program", "")) for _, r in rows}
    if None in codes or len(codes) != 1:
        line = next(n for n, r in rows if (list_code or _list_of(r.get("program", ""))) is None) \
            if None in codes else rows[0][0]
        raise SourceFileError(f"{origin}: line {line}: field program: not one list the "
                              "registry carries; name it with --source opensanctions:LIST")
    code = str(next(iter(codes)))
    countries = _countries()
    by_edition: dict[str, list[tuple[int, dict[str, str]]]] = {}
    for line, r in rows:
        by_edition.setdefault(r["report-date"].strip(), []).append((line, r))
    order = sorted(by_edition)
    current = order[-1]
    # an edition's publication day, where its PDF's URL path gives one
    released: dict[str, date | None] = {}
    for ed in order:
        days = {url_release_day(r.get("source_url", "")) for _, r in by_edition[ed]}
        released[ed] = next(iter(days)) if len(days) == 1 else None
    # one entity across editions: the same name, the name without its parenthesis, or
    # an alias the file gives (editions respell: "Academy of Military Medical Sciences"
    # and "Academy of Military Medical Science (AMMS)")
    parent: dict[str, str] = {}

    def find(k: str) -> str:
        while parent.setdefault(k, k) != k:
            k = parent[k]
        return k

    def keys(r: dict[str, str]) -> list[str]:
        name = r["name"].strip()
        out_keys = [normalize(name), normalize(_TRAILING_PAREN.sub("", name))]
        out_keys += [normalize(a) for a in _split(r.get("aliases", ""))]
        return [k for k in dict.fromkeys(out_keys) if k]

    for _, r in rows:
        ks = keys(r)
        for k in ks[1:]:
            parent[find(k)] = find(ks[0])
    first_ed: dict[str, str] = {}
    for ed in order:
        for _, r in by_edition[ed]:
            first_ed.setdefault(find(normalize(r["name"])), ed)
    out.rows = len(rows)
    out.lists[code] = []
    newest: date | None = None
    for line, r in rows:
        for col in ("start-date", "end-date"):
            newest = _newest(newest, _iso(r.get(col, ""), f"{origin}: line {line}: field {col}",
                                          out.warnings))
    newest = _newest(newest, *released.values())
    current_keys: set[str] = set()
    for line, r in by_edition[current]:
        if r.get("schema", "").strip() not in _ORG_SCHEMAS:
            out.left_out_individuals += 1
            continue
        name = r["name"].strip()
        if not name:
            raise SourceFileError(f"{origin}: line {line}: field name: empty")
        key = find(normalize(name))
        current_keys.add(key)
        first = first_ed.get(key, current)
        day = released.get(first)
        ctext = r.get("country", "").strip()
        url = r.get("source_url", "").strip()
        end = _iso(r.get("end-date", ""), f"{origin}: line {line}: field end-date", [])
        notes = [f"in the FY{current} edition; first listed in the FY{first} edition"
                 + (f" (released {day.isoformat()}, per its URL path)" if day
                    else " (its release date is not given: listed_on unknown)")]
        if r.get("notes", "").strip():
            notes.append(r["notes"].strip())
        out.lists[code].append(ParsedEntry(
            list=code, name=name, aliases=tuple(_split(r.get("aliases", ""))),
            country=countries.get(normalize(ctext)) if ctext else None,
            entry_type="institution", listed_on=day,
            listed_on_basis=(f"release day of the FY{first} edition, the first listing the "
                             "entry (from the DoD PDF's URL path; OpenSanctions "
                             "transcription)") if day else "",
            ends_on=end, ends_on_basis="end-date (OpenSanctions transcription)" if end else "",
            citations=(url,) if url else (), source_url=url or out.source_url,
            notes="; ".join(notes)))
    out.data_date[code] = newest
    n_current = len(out.lists[code])
    # names of earlier editions only: kept, as former members, where the file gives the
    # date they left the list (end-date); otherwise their end is unknown: not taken
    last_row: dict[str, tuple[str, int, dict[str, str]]] = {}
    for ed in order[:-1]:
        for line, r in by_edition[ed]:
            last_row[find(normalize(r["name"]))] = (ed, line, r)
    gone: list[str] = []
    former = 0
    for key, (ed, line, r) in sorted(last_row.items()):
        if key in current_keys:
            continue
        end = _iso(r.get("end-date", ""), f"{origin}: line {line}: field end-date", [])
        if end is None or r.get("schema", "").strip() not in _ORG_SCHEMAS:
            gone.append(r["name"].strip())
            continue
        former += 1
        first = first_ed.get(key, ed)
        day = released.get(first)
        url = r.get("source_url", "").strip()
        ctext = r.get("country", "").strip()
        out.lists[code].append(ParsedEntry(
            list=code, name=r["name"].strip(), aliases=tuple(_split(r.get("aliases", ""))),
            country=countries.get(normalize(ctext)) if ctext else None,
            entry_type="institution", listed_on=day,
            listed_on_basis=(f"release day of the FY{first} edition, the first listing the "
                             "entry (from the DoD PDF's URL path; OpenSanctions "
                             "transcription)") if day else "",
            ends_on=end, ends_on_basis="end-date (OpenSanctions transcription)",
            citations=(url,) if url else (), source_url=url or out.source_url,
            notes=f"last in the FY{ed} edition, not in FY{current}; first listed in the "
                  f"FY{first} edition"))
    out.warnings.insert(0, (
        f"{code}: {len(order)} editions (FY{', FY'.join(order)}); the current one, "
        f"FY{current}, has {n_current} institutions, each dated by the first edition "
        f"listing its name; {former} former members are kept with the end date the file "
        f"gives; {len(gone)} names of earlier editions only, with no end date, are not "
        "taken" + (f" (e.g. {gone[0]!r})" if gone else "")))


def _read_periods(out: ParsedSource, rows: list[tuple[int, dict[str, str]]],
                  list_code: str | None) -> None:
    """The 1260H listing-period table: the newest edition's members (rows whose ``Start
    date`` is the newest and that have no ``End date``), each dated by the earliest
    ``Start date`` of the same name or of a previous name the file gives."""
    origin = out.origin
    code = list_code
    if code is None:
        urls = " ".join(r.get("Source Url", "") for _, r in rows).upper()
        if "CHINESE-MILITARY-COMPANIES" in urls or "1260H" in urls:
            code = "DOD_1260H"
        else:
            raise SourceFileError(f"{origin}: field Source Url: no row says which list this "
                                  "is; name it with --source opensanctions:LIST")
    parent: dict[str, str] = {}

    def find(k: str) -> str:
        while parent.setdefault(k, k) != k:
            k = parent[k]
        return k

    starts: list[tuple[int, dict[str, str], date | None, date | None]] = []
    for line, r in rows:
        clean = (r.get("Clean Name") or r.get("Name") or "").strip()
        if not clean:
            raise SourceFileError(f"{origin}: line {line}: field Clean Name: empty")
        start = _iso(r.get("Start date", ""), f"{origin}: line {line}: field Start date",
                     out.warnings)
        end = _iso(r.get("End date", ""), f"{origin}: line {line}: field End date",
                   out.warnings)
        starts.append((line, r, start, end))
        # one entity across editions: its clean name, its printed name without the
        # parenthesis, a previous name or an alias the file gives
        key = find(normalize(clean))
        printed = _TRAILING_PAREN.sub("", r.get("Name", "")).replace("*", " ")
        for other in [printed, *_split(r.get("Previous Name", "")), *_split(r.get("Alias", ""))]:
            if normalize(other):
                parent[find(normalize(other))] = key
    out.rows = len(rows)
    out.lists[code] = []
    editions = sorted({s for _, _, s, _ in starts if s})
    if not editions:
        raise SourceFileError(f"{origin}: field Start date: no row gives a date")
    current = editions[-1]
    periods: dict[str, list[tuple[date | None, date | None]]] = {}
    for _, r, start, end in starts:
        group = find(normalize(r["Clean Name"] or r["Name"]))
        periods.setdefault(group, []).append((start, end))
    taken: set[str] = set()
    seen: set[str] = set()
    for _line, r, start, end in starts:
        if start != current or (end is not None and end <= current):
            continue
        clean = r["Clean Name"].strip() or r["Name"].strip()
        group = find(normalize(clean))
        if normalize(clean) in seen:  # printed twice in the edition (under two parents)
            continue
        seen.add(normalize(clean))
        taken.add(group)
        mine = periods[group]
        first = min((s for s, _ in mine if s), default=current)
        gaps = sorted(e for _, e in mine if e is not None and e <= current)
        # listed since: the first start after the last listing period that ended
        since = min((s for s, _ in mine if s and (not gaps or s >= gaps[-1])),
                    default=current)
        aliases = [a for a in dict.fromkeys(
            [*_split(r.get("Alias", "")), r["Name"].strip().rstrip("*").strip(),
             *_split(r.get("Previous Name", ""))]) if a and a != clean]
        notes = [f"in the {current.isoformat()} edition; first listed in the "
                 f"{first.isoformat()} edition"]
        if gaps:
            notes.append("an earlier listing period ended on " + ", ".join(
                g.isoformat() for g in gaps) + f"; listed again since {since.isoformat()}")
        if r.get("Parent Name", "").strip():
            notes.append(f"printed under parent {r['Parent Name'].strip()}")
        if r.get("Note", "").strip():
            notes.append(r["Note"].strip())
        url = r.get("Source Url", "").strip()
        out.lists[code].append(ParsedEntry(
            list=code, name=clean, aliases=tuple(aliases), country=None,
            entry_type="institution", listed_on=since,
            listed_on_basis=("date of the earliest 1260H edition listing the entry (or a "
                             "previous name of it) since it was last off the list "
                             "(OpenSanctions Start date)" if gaps else
                             "date of the earliest 1260H edition listing the entry (or a "
                             "previous name of it) (OpenSanctions Start date)"),
            citations=(url,) if url else (), source_url=url or out.source_url,
            notes="; ".join(notes)))
    n_current = len(out.lists[code])
    # former members: every listing period of the entity has ended (an End date)
    former: dict[str, tuple[dict[str, str], date | None, date]] = {}
    for _line, r, start, end in starts:
        group = find(normalize(r["Clean Name"] or r["Name"]))
        if group in taken or any(e is None for _, e in periods[group]):
            continue
        last_end = max(e for _, e in periods[group] if e is not None)
        prior = former.get(group)
        if end == last_end and (prior is None or (start or current) > (prior[1] or current)):
            former[group] = (r, start, last_end)
    for group, (r, opened, last_end) in sorted(former.items()):
        clean = r["Clean Name"].strip() or r["Name"].strip()
        earliest = min((s for s, _ in periods[group] if s), default=None)
        url = r.get("Source Url", "").strip()
        notes = [f"off the list since {last_end.isoformat()} (OpenSanctions End date); "
                 f"first listed in the {earliest.isoformat() if earliest else 'unknown'} edition"]
        if r.get("Parent Name", "").strip():
            notes.append(f"printed under parent {r['Parent Name'].strip()}")
        out.lists[code].append(ParsedEntry(
            list=code, name=clean, aliases=tuple(a for a in dict.fromkeys(
                [*_split(r.get("Alias", "")), *_split(r.get("Previous Name", ""))]) if a),
            country=None, entry_type="institution", listed_on=opened,
            listed_on_basis="date of the 1260H edition that opened its last listing period "
                            "(OpenSanctions Start date)" if opened else "",
            ends_on=last_end, ends_on_basis="end of its last listing period (OpenSanctions "
                                            "End date)",
            citations=(url,) if url else (), source_url=url or out.source_url,
            notes="; ".join(notes)))
    out.data_date[code] = _newest(*(d for _, _, s, e in starts for d in (s, e)))
    # names with an open listing period (no End date) that the newest edition does not
    # print: off the list by that edition at the latest (when exactly, the file does not
    # say); a renamed entity is in the current edition under its new name
    absent: dict[str, tuple[dict[str, str], date | None]] = {}
    for _line, r, start, end in starts:
        group = find(normalize(r["Clean Name"] or r["Name"]))
        if group in taken or group in former or end is not None or start == current:
            continue
        prior_abs = absent.get(group)
        if prior_abs is None or (start or date.min) > (prior_abs[1] or date.min):
            absent[group] = (r, start)
    for group, (r, opened_at) in sorted(absent.items()):
        clean = r["Clean Name"].strip() or r["Name"].strip()
        mine = periods[group]
        ended = sorted(e for _, e in mine if e is not None)
        listed_since: date | None = min(
            (s for s, _ in mine if s and (not ended or s >= ended[-1])), default=opened_at)
        url = r.get("Source Url", "").strip()
        since_text = listed_since.isoformat() if listed_since else "unknown"
        latest_start, latest_end = max(mine, key=lambda se: se[0] or date.min)
        notes = [f"listed since the {since_text} edition with no end date given; not printed "
                 f"in the {current.isoformat()} edition"]
        ends_on, ends_basis = current, (
            f"not printed in the {current.isoformat()} edition, the newest in the file: off "
            "the list by then at the latest (the exact date is not given)")
        if latest_end is not None:  # its latest listing period did end: that end
            # no known gap: the earlier period has no end date
            listed_since = min((s for s, _ in mine if s), default=latest_start)
            ends_on = latest_end
            ends_basis = "end of its latest listing period (OpenSanctions End date)"
            notes = [f"its latest listing period ended on {latest_end.isoformat()}; an "
                     "earlier period has no end date in the file"]
        if r.get("Parent Name", "").strip():
            notes.append(f"printed under parent {r['Parent Name'].strip()}")
        out.lists[code].append(ParsedEntry(
            list=code, name=clean, aliases=tuple(a for a in dict.fromkeys(
                [*_split(r.get("Alias", "")), *_split(r.get("Previous Name", ""))]) if a),
            country=None, entry_type="institution", listed_on=listed_since,
            listed_on_basis="date of the earliest 1260H edition listing the entry "
                            "(OpenSanctions Start date)" if listed_since else "",
            ends_on=ends_on, ends_on_basis=ends_basis,
            citations=(url,) if url else (), source_url=url or out.source_url,
            notes="; ".join(notes)))
    out.warnings.insert(0, (
        f"{code}: {len(editions)} editions ({', '.join(d.isoformat() for d in editions)}); "
        f"the current one, {current.isoformat()}, has {n_current} institutions, each dated "
        f"by the start of its listing in force; {len(former)} former members are kept with "
        f"their end dates; {len(absent)} names of earlier editions with no end date are not "
        f"printed in the current one (renamed, respelled or dropped): kept as off the list "
        f"by {current.isoformat()} at the latest"
        + (f", e.g. {sorted(absent)[0]!r}" if absent else "")))
