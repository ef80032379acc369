"""A screening result built from REAL recorded OpenAlex works, for report/export/graph tests.

- Works: ``../shared/data/openalex/works_china_msra_subset.jsonl`` (71 real works recorded
  from the OpenAlex API; see that folder's PROVENANCE.md), parsed with
  :func:`tracker.records.parse_work`.
- Registry: a *test* registry of :class:`~tracker.watchlists.ListEntry` objects built from the
  sourced rows of ``../shared/data/restricted/institutions.csv`` (list, ROR, OpenAlex ID,
  date added and its basis and source, exactly as that table gives them; a date that is not a
  full ISO date there stays unknown here).  It is a test registry, not the bundled one.
- Findings: :class:`tracker.matching.Matcher` on identifiers, then
  :func:`tracker.risk.make_finding`, as screening does.

This stands in for ``tracker.screening`` (written separately) so these tests do not depend on
it; :class:`DemoResult` has the fields of ``ScreenResult``.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from tracker.matching import Matcher
from tracker.records import Work, parse_work, short_id, short_ror
from tracker.risk import Finding, make_finding
from tracker.watchlists import Edition, ListEntry, ListInfo, Registry

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
WORKS_FILE = SHARED / "data" / "openalex" / "works_china_msra_subset.jsonl"
RESTRICTED_FILE = SHARED / "data" / "restricted" / "institutions.csv"

#: list codes of institutions.csv -> tracker's list codes
LIST_CODES = {
    "BIS_ENTITY_LIST": "BIS_ENTITY_LIST",
    "DOD_SEC1286": "DOD_1286",
    "DOD_SEC1260H": "DOD_1260H",
    "ASPI_UNITRACKER": "ASPI_UNITRACKER",
}
#: data dates stated in ../shared/data/restricted/PROVENANCE.md (None: not stated)
DATA_DATES = {"BIS_ENTITY_LIST": date(2026, 3, 30), "ASPI_UNITRACKER": date(2020, 8, 21)}

HOSTILE_TITLE = "<script>window.__pwned=1</script>"
HOSTILE_TEXT = '<img src=x onerror="window.__pwned=2">'


@dataclass
class DemoResult:
    """Same fields as ``tracker.screening.ScreenResult``."""

    findings: list[Finding]
    works: dict[str, Work]
    run: dict[str, Any]
    subjects: dict[str, Any] = field(default_factory=dict)


def load_works(limit: int | None = None) -> list[Work]:
    works = []
    with WORKS_FILE.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                works.append(parse_work(json.loads(line)))
            if limit is not None and len(works) >= limit:
                break
    return works


def _iso(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if len(value) == 10 else None
    except ValueError:
        return None


def demo_registry() -> Registry:
    """A registry of the sourced list memberships in institutions.csv (test use only)."""
    entries: dict[str, ListEntry] = {}
    with RESTRICTED_FILE.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            code = LIST_CODES.get(row["list"])
            if code is None:
                continue
            eid = f"{code}:{row['institution_key']}"
            if eid in entries:
                continue
            listed_on = _iso(row["date_added"])
            oa = short_id(row["openalex_id"])
            entries[eid] = ListEntry(
                entry_id=eid, list=code, name=row["list_entry_name"] or row["canonical_name"],
                institution_key=row["institution_key"], country=row["country"] or None,
                ror=short_ror(row["ror_id"]), openalex_ids=(oa,) if oa else (),
                listed_on=listed_on,
                listed_on_basis=row["date_added_basis"] if listed_on else "",
                listed_on_source=(row["legal_citation"] or row["list_provenance"])
                if listed_on else "",
                source_url=row["list_source_url"], provenance=row["list_provenance"],
                editions=(row["list_detail"],) if row["list_detail"] else (),
            )
    lists = [ListInfo(code=c, name=c, authority="", is_designation=c != "ASPI_UNITRACKER",
                      data_date=DATA_DATES.get(c), source_url="", licence="")
             for c in sorted({e.list for e in entries.values()})]
    editions = [Edition(list=li.code, edition="institutions.csv 2026-11-22 (test registry)",
                        published_on=None, basis="", source_url="",
                        provenance="../shared/data/restricted/institutions.csv",
                        licence="see ../shared/data/restricted/PROVENANCE.md",
                        entry_count=sum(1 for e in entries.values() if e.list == li.code))
                for li in lists]
    return Registry(entries.values(), lists=lists, editions=editions, version="test-registry")


def screen(works: list[Work], registry: Registry, *, subjects: dict[str, Any] | None = None,
           settings: dict[str, Any] | None = None) -> DemoResult:
    """Identifier screening of ``works`` (what tracker.screening does, minimally)."""
    matcher = Matcher(registry)
    findings: dict[str, Finding] = {}
    flagged: dict[str, Work] = {}
    for w in works:
        for a in w.authorships:
            for m in matcher.match_authorship(a):
                if m.context_only:
                    continue
                f = make_finding(w, a, m)
                f.extra["authorship_index"] = a.index
                findings.setdefault(f.finding_id, f)
                flagged[w.id] = w
    by_list: dict[str, int] = {}
    for f in findings.values():
        by_list[f.list] = by_list.get(f.list, 0) + 1
    digest = hashlib.sha256(WORKS_FILE.read_bytes()).hexdigest()
    now = datetime.now(UTC).isoformat(timespec="seconds")
    subj = subjects or {"kind": "files", "ids": [], "labels": {}}
    run = {
        "tool": "tracker", "version": "0.1.0",
        "command": f"tracker screen --works {WORKS_FILE.name}",
        "settings": settings or {"strategy": "identifiers (OpenAlex ID, ROR, lineage)",
                                 "framework": "none (default outcomes: review)",
                                 "lists": sorted({e.list for e in registry})},
        "inputs": [{"path": str(WORKS_FILE), "sha256": digest}],
        "registry": {"version": registry.version, "editions": registry.describe()},
        "counts": {"works_read": len(works), "works_skipped": 0,
                   "authorships": sum(len(w.authorships) for w in works),
                   "findings": len(findings), "findings_by_list": by_list},
        "data_gaps": {
            "authorships_without_institution": sum(
                1 for w in works for a in w.authorships if not a.institutions),
            "works_without_date": sum(1 for w in works if w.publication_date is None
                                      and w.publication_year is None),
            "works_year_only": sum(1 for w in works if w.publication_date is None
                                   and w.publication_year is not None),
            "works_authors_truncated": sum(1 for w in works if w.is_authors_truncated),
            "records_skipped": [],
        },
        "subjects": subj, "started_at": now, "finished_at": now,
    }
    return DemoResult(list(findings.values()), flagged, run, subj)


def demo_result() -> DemoResult:
    """All 71 real works, screened against the test registry, MSRA as the subject org."""
    return screen(load_works(), demo_registry(),
                  subjects={"kind": "org", "ids": ["I4210113369"],
                            "labels": {"I4210113369": "Microsoft Research Asia (China)"}})


def tampered_result(title: str, text: str, *, subjects: dict[str, Any] | None = None,
                    settings: dict[str, Any] | None = None) -> DemoResult:
    """The demo with one real flagged record tampered: its title becomes ``title`` and the
    flagged author's name and raw affiliation become ``text``; then screened again."""
    works = load_works()
    registry = demo_registry()
    base = screen(works, registry)
    target_id = sorted(base.works)[0]
    f0 = next(f for f in base.findings if f.work_id == target_id)
    idx = f0.extra["authorship_index"]
    out = []
    for w in works:
        if w.id == target_id:
            auths = list(w.authorships)
            a = auths[idx]
            auths[idx] = dataclasses.replace(
                a, author_name=text, raw_affiliations=(text,),
                affiliations=tuple((text, ids) for _, ids in a.affiliations)
                or ((text, tuple(i.id for i in a.institutions if i.id)),))
            w = dataclasses.replace(w, title=title, authorships=tuple(auths))
        out.append(w)
    return screen(out, registry, subjects=subjects, settings=settings)


def hostile_result() -> DemoResult:
    """Title, author name and raw affiliation are HTML/JS injection strings (and so are a
    subject ID and two settings): the report must show them as text, never run them."""
    return tampered_result(
        HOSTILE_TITLE, HOSTILE_TEXT,
        subjects={"kind": "files", "ids": ["</script><script>window.__pwned=3</script>"],
                  "labels": {}},
        settings={"strategy": HOSTILE_TEXT, "framework": "</script>"})


def load_work(filename: str, work_id: str) -> Work:
    """One real recorded work from a (gzipped) JSONL file in shared/data/openalex."""
    import gzip

    path = SHARED / "data" / "openalex" / filename
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            if f'"{work_id}"' in line or f"/{work_id}\"" in line:
                w = parse_work(json.loads(line))
                if w.id == work_id:
                    return w
    raise LookupError(f"{work_id} is not in {filename}")
