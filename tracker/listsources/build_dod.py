"""The DoD lists: Section 1286 (OpenSanctions CSV transcription of the FY2022-FY2025 PDFs)
and Section 1260H (OpenSanctions CSV, with the 2026 Federal Register notice parsed by
nsfreg).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from tracker.listsources.build_core import Acc, Builder, Fact
from tracker.listsources.build_inputs import (
    F_1260H,
    F_1260H_FR,
    F_1286,
    FILE_PROVENANCE,
    LIC_NSFREG,
    LIC_OS,
    OS_1260H,
    OS_1286,
    URL_1260H,
    URL_1286,
    read_csv,
    read_json,
)
from tracker.listsources.build_text import (
    COUNTRY_ISO,
    entry_type_for,
    norm,
    slug,
    split_aliases,
    variants,
)

#: DoD 1286: the first list is the FY2022 edition (the source's date, see DOD_1286 notes).
DOD1286_FIRST = date(2023, 6, 29)
DOD1286_FIRST_BASIS = (
    "first edition (FY2022) of the Section 1286 list, published 2023-06-29 per its document "
    "URL https://media.defense.gov/2023/Jun/29/2003251160/-1/-1/1/COUNTERING-UNWANTED-"
    "INFLUENCE-IN-DEPARTMENT-FUNDED-RESEARCH-AT-INSTITUTIONS-OF-HIGHER-EDUCATION.PDF")



def section_1286(b: Builder) -> None:
    """DoD Section 1286: one edition per fiscal-year list; dates only where the source
    gives them (FY2022 from its URL path); removals at the next dated edition."""
    code = "DOD_1286"
    rows = read_csv(b.src / F_1286)
    talent = {r["institution_key"] for r in b.inst_rows
              if r["institution_type"].startswith("talent")}
    talent_names = {norm(r["canonical_name"]) for r in b.inst_rows
                    if r["institution_key"] in talent}
    ed_urls: dict[str, str] = {}
    for r in rows:
        ed_urls.setdefault(f"FY{r['report-date']}", r["source_url"])
    ed_dates: dict[str, tuple[date | None, str]] = {}
    for ed, url in sorted(ed_urls.items()):
        m = re.search(r"/(\d{4})/([A-Z][a-z]{2})/(\d{1,2})/", url)
        months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
                  "Nov", "Dec"]
        if m and m.group(2) in months:
            d = date(int(m.group(1)), months.index(m.group(2)) + 1, int(m.group(3)))
            ed_dates[ed] = (d, f"edition publication date inferred from the source URL path "
                               f"({m.group(0)}) of {url}")
        else:
            mm = re.search(r"/uploads/(\d{4})/(\d{2})/", url)
            hint = (f"; the URL path suggests {mm.group(1)}-{mm.group(2)} (month only, not "
                    f"used as a date)") if mm else ""
            ed_dates[ed] = (None, f"no publication date in the source{hint}")
        b.edition(code, ed, published_on=ed_dates[ed][0],
                     basis=ed_dates[ed][1], source_url=url, provenance=OS_1286,
                     licence=LIC_OS)
    order = sorted(ed_urls)
    for r in rows:
        ed = f"FY{r['report-date']}"
        names = [r["name"], *split_aliases(r["aliases"], ";")]
        key = b.key_for(code, [r["name"]], csv_list=code)
        if key == slug(r["name"]):
            key = b.key_for(code, names, csv_list=code)
        key = b.free_key(code, ed, key, r["name"])
        acc = b.acc(code, key, r["name"])
        if r["name"] != acc.name:
            acc.add_alias(r["name"])
        b.member(code, ed, acc, r["name"])
        for a in names[1:]:
            acc.add_alias(a)
        iso = COUNTRY_ISO.get(r["country"])
        if iso:
            acc.add("countries", [iso])
        if key in talent or norm(r["name"]) in talent_names:
            acc.entry_type = "talent_program"
        acc.add("source_urls", [r["source_url"]])
        acc.add("provenance", [f"list: {OS_1286}"])
        acc.add("licences", [LIC_OS])
        if r["notes"]:
            acc.add("notes", [f"{ed} note: {r['notes']}"])
            if r["notes"] == "and affiliates":
                acc.covers_subunits = True
        if r["end-date"]:
            acc.add("notes", [f"OpenSanctions end-date {r['end-date']} on the {ed} row is "
                              f"OpenSanctions' own update date, not a DoD date (not used)"])
        ed_date, basis = ed_dates[ed]
        if ed_date:
            acc.facts.append(Fact(ed_date, f"{ed} edition date: {basis}",
                                  f"DoD Section 1286 list, {ed}", OS_1286, "edition"))
    for (c, key), acc in b.entries.items():
        if c != code:
            continue
        row = b.inst_row(key, "DOD_SEC1286")
        if row:
            b.apply_institution_facts(acc, row)
        if acc.entry_type == "talent_program":
            acc.covers_subunits = False
            acc.notes.insert(0, "talent recruitment programme, not an institution")
        eds = sorted(acc.editions, key=order.index)
        first_ed = eds[0]
        first_date, _ = ed_dates[first_ed]
        if first_date is None:
            acc.add("notes", [f"first edition containing it ({first_ed}) has no sourced "
                              "publication date: listed_on unknown"])
        last = order.index(eds[-1])
        if last < len(order) - 1:
            nxt = order[last + 1]
            nd, _ = ed_dates[nxt]
            if nd:
                acc.removed_on = nd
                acc.removed_on_source = f"absent from {nxt} ({OS_1286})"
            else:
                acc.add("notes", [f"absent from the {nxt} edition, whose publication date "
                                  "is not sourced: removal date unknown"])
        gaps = [e for e in order[order.index(eds[0]):last + 1] if e not in eds]
        if gaps:
            acc.add("notes", [f"not printed in {', '.join(gaps)} but printed again later"])
        for f in acc.facts:
            if f.role == "edition" and f.citation.endswith(first_ed):
                f.role = "addition"



def section_1260h(b: Builder) -> None:
    """DoD Section 1260H: one edition per Start date of the OpenSanctions transcription,
    removal dates from its End dates, parents as printed in the latest edition; then the 2026
    Federal Register notice."""
    code = "DOD_1260H"
    rows = read_csv(b.src / F_1260H)
    starts = sorted({r["Start date"] for r in rows})
    for s in starts:
        urls = sorted({r["Source Url"] for r in rows
                       if r["Start date"] == s and r["Source Url"]})
        b.edition(code, s, published_on=date.fromisoformat(s),
                     basis="edition date (OpenSanctions `Start date` = date of the edition "
                           "that added the entry). Members = rows with this Start date; for "
                           "the 2022-10-05 and 2024-01-31 editions the transcription holds "
                           "only rows it opened then, so carried-over entries are not "
                           "counted",
                     source_url=urls[0] if urls else URL_1260H, provenance=OS_1260H,
                     licence=LIC_OS)
    # group rows by institution: the clean name (with and without a parenthesised short
    # name) or a previous name of an entry already seen
    seen: dict[str, str] = {}
    parent_rows: dict[str, list[tuple[str, str]]] = {}
    for r in sorted(rows, key=lambda r: (r["Start date"], r["Clean Name"], r["Name"])):
        clean = r["Clean Name"] or r["Name"].rstrip("*").strip()
        names = [*variants(clean), *split_aliases(r["Previous Name"], ";")]
        key = next((seen[norm(n)] for n in names if norm(n) in seen), None)
        if key is None:
            key = b.key_for(code, names, csv_list="DOD_SEC1260H")
        key = b.free_key(code, r["Start date"], key, clean)
        acc = b.acc(code, key, clean)
        for n in names:
            seen.setdefault(norm(n), key)
        if norm(acc.name) != norm(clean):
            acc.add_alias(clean)
        b.member(code, r["Start date"], acc, clean)
        for a in [*split_aliases(r["Alias"], ";"), *split_aliases(r["Previous Name"], ";")]:
            acc.add_alias(a)
        acc.add_alias(r["Name"].rstrip("*").strip())
        acc.entry_type = entry_type_for(clean)
        parent_rows.setdefault(key, []).append((r["Start date"], r["Parent Name"]))
        acc.add("source_urls", [r["Source Url"] or URL_1260H])
        acc.add("provenance", [f"list: {OS_1260H}"])
        acc.add("licences", [LIC_OS])
        start = date.fromisoformat(r["Start date"])
        acc.facts.append(Fact(start, "edition date of a 1260H edition listing the entry "
                              "(OpenSanctions Start date)", f"DoD 1260H list, {r['Start date']}"
                              " edition", OS_1260H, "edition"))
        if r["End date"]:
            end = date.fromisoformat(r["End date"])
            basis = "removal date (OpenSanctions End date)"
            if r["End date"] not in starts:
                basis += ("; a date between editions for which the file cites no source")
            acc.facts.append(Fact(end, basis, f"listing period from {r['Start date']}",
                                  OS_1260H, "removal"))
        if r["Note"]:
            acc.add("notes", [f"{r['Start date']}: {r['Note'][:400]}"])
    # parent as printed in the latest edition listing the entry
    for key, prs in parent_rows.items():
        acc = b.entries[(code, key)]
        last_start = max(d for d, _ in prs)
        for d, pname in sorted(set(prs)):
            if pname:
                acc.add("notes", [f"printed under parent {pname} in the {d} edition"])
        latest_parent = next((p for d, p in prs if d == last_start and p), "")
        if latest_parent:
            pk = next((seen[norm(n)] for n in variants(latest_parent) if norm(n) in seen),
                      None) or b.key_for(code, [latest_parent], csv_list="DOD_SEC1260H")
            acc.parent_key = pk
            b.parent_in_latest[key] = pk
    parents = {acc.parent_key for (c, _), acc in b.entries.items()
               if c == code and acc.parent_key}
    latest = starts[-1]
    for (c, key), acc in b.entries.items():
        if c != code:
            continue
        if key in parents:
            acc.covers_subunits = True
            acc.add("notes", ["the list prints named subsidiaries under this entry (each "
                              "has its own entry)"])
        row = b.inst_row(key, "DOD_SEC1260H")
        if row:
            b.apply_institution_facts(acc, row)
        eds = sorted(acc.editions)
        firsts = [f for f in acc.facts if f.role == "edition" and
                  f.on == date.fromisoformat(eds[0])]
        for f in firsts:
            f.role = "addition"
        removals = sorted(f.on for f in acc.facts if f.role == "removal")
        last_listed = date.fromisoformat(eds[-1])
        ends_after = [rd for rd in removals if rd >= last_listed]
        if ends_after:
            acc.removed_on = ends_after[0]
            acc.removed_on_source = f"OpenSanctions End date ({OS_1260H})"
            if len(removals) > 1 or removals[0] != acc.removed_on:
                acc.add("notes", ["removed and listed again; earlier removal dates are kept "
                                  "in dates"])
        elif removals:
            acc.add("notes", ["an earlier listing period ended "
                              f"({', '.join(d.isoformat() for d in removals)}) but the entry "
                              "was printed again later"])
        if latest not in acc.editions and not ends_after:
            acc.add("notes", [f"not in the {latest} edition as transcribed, and no End date: "
                              "removal date unknown"])
    apply_1260h_fr(b)


def apply_1260h_fr(b: Builder) -> None:
    code = "DOD_1260H"
    doc = read_json(b.src / F_1260H_FR)
    prov = FILE_PROVENANCE[F_1260H_FR]
    latest = max(ed for (c, ed) in b.editions if c == code)
    cands = sorted((a for (c, _), a in b.entries.items()
                    if c == code and latest in a.editions),
                   key=lambda a: (a.key in b.parent_in_latest, a.key))
    index: dict[str, Acc] = {}
    for a in cands:
        for n in [a.name, *a.aliases]:
            index.setdefault(norm(n), a)
    unmatched = []
    for ent in doc["entities"]:
        acc = None
        for n in [ent["name"], *ent.get("aliases", [])]:
            acc = index.get(norm(n)) or index.get(norm(re.sub(r"\.$", "", n)))
            if acc:
                break
        if acc is None:
            unmatched.append(ent["name"])
            continue
        acc.add_alias(ent["name"])
        for a in ent.get("aliases", []):
            acc.add_alias(a)
        acc.add("countries", [COUNTRY_ISO.get(ent.get("country") or "", "")])
        fr_date = date.fromisoformat(ent["effective_date"])
        acc.facts.append(Fact(fr_date, "Federal Register publication date of the 2026 "
                              "edition (notice FR Doc 2026-11571)",
                              ent.get("federal_register") or "91 FR 35189", prov, "edition"))
        acc.add("citations", [ent.get("federal_register") or "91 FR 35189"])
        acc.add("provenance", [f"2026 FR notice: {prov}"])
        acc.add("licences", [LIC_NSFREG])
    b.fr_1260h_unmatched = unmatched



#: The lists this module builds (``registry.json`` ``lists``).
LISTS: list[dict[str, Any]] = [
    {"code": "DOD_1286", "name": "DoD Section 1286 list of foreign institutions of concern",
     "authority": "U.S. Department of Defense (NDAA FY2019 Sec. 1286)",
     "is_designation": True, "data_date": "2026-08-18", "source_url": URL_1286,
     "licence": LIC_OS,
     "notes": "OpenSanctions transcription of the FY2022-FY2025 PDFs; data_date is the snapshot "
              "(last commit 2026-08-18). Only FY2022 has a sourced publication date (2023-06-29, "
              "from its URL path); FY2023 and FY2025 URL paths give a month only, FY2024 nothing. "
              "Talent programmes are entries of type talent_program.",
     "first_published": DOD1286_FIRST.isoformat(), "first_published_basis": DOD1286_FIRST_BASIS},
    {"code": "DOD_1260H", "name": "DoD Section 1260H list of Chinese military companies",
     "authority": "U.S. Department of Defense (NDAA FY2021 Sec. 1260H)",
     "is_designation": True, "data_date": "2026-08-20", "source_url": URL_1260H,
     "licence": LIC_OS,
     "notes": "OpenSanctions transcription (snapshot: commit of 2026-08-20), editions 2021-06-03 "
              "to 2026-06-08; the 2026 edition "
              "was published in the Federal Register on 2026-06-10 (91 FR 35189)."},
]
