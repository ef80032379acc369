"""The BIS lists of 15 CFR 744: the Entity List (eCFR text parsed by nsfreg, the 2026-03-30
BIS page scrape, the curated table's dated rows) and the Military End-User List.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from tracker.listsources.build_core import Builder, Fact
from tracker.listsources.build_inputs import (
    F_EL,
    F_EL_WEB,
    F_EL_ZH,
    F_MEU,
    FILE_PROVENANCE,
    INSTITUTIONS,
    KAIXINOL,
    KAIXINOL_ZH,
    LIC_KAIXINOL,
    LIC_NSFREG,
    LIC_WEB,
    URL_EL,
    URL_MEU,
    read_json,
)
from tracker.listsources.build_text import (
    COUNTRY_ISO,
    entry_type_for,
    is_generic,
    norm,
    parse_fr_citations,
    slug,
    subunit_reason,
)


def entity_list(b: Builder) -> None:
    """The Entity List: every entry of the eCFR text (one per printed name), its FR
    citations as dated facts, parents and sub-unit coverage; then the 2026-03-30 page scrape
    and the curated table's dated rows."""
    code, ed = "BIS_ENTITY_LIST", "eCFR-2026-07-09"
    doc = read_json(b.src / F_EL)
    prov = FILE_PROVENANCE[F_EL]
    b.edition(code, ed, published_on=None,
                 basis="eCFR text (15 CFR 744 Supp. No. 4) as downloaded July 2026, extracted "
                       "2026-07-09; the eCFR is a consolidation, not a dated edition, so no "
                       "publication date. Lists only current entries (no removals).",
                 source_url=URL_EL, provenance=prov, licence=LIC_NSFREG)
    claimed: dict[str, str] = {}
    for ent in doc["entities"]:
        names = [ent["name"], *ent.get("aliases", [])]
        key = b.inst_name_index.get(code, {}).get(norm(ent["name"]))
        if key is None or claimed.get(key, norm(ent["name"])) != norm(ent["name"]):
            key = slug(ent["name"])
            # link by alias only when unambiguous and not claimed by another printed name
            for n in names[1:]:
                k = b.inst_name_index.get(code, {}).get(norm(n))
                if k and k not in claimed and not is_generic(n):
                    key = k
                    break
        claimed.setdefault(key, norm(ent["name"]))
        acc = b.acc(code, key, ent["name"])
        acc.entry_type = entry_type_for(ent["name"])
        if re.fullmatch(r"Address \d+", ent["name"]):
            acc.entry_type = "address"
            acc.add("notes", ["an address-only Entity List entry; the eCFR reuses this "
                              "label under several destinations, and rows with the same "
                              "label are merged here (see dates and citations)"])
        b.member(code, ed, acc, ent["name"])
        for a in ent.get("aliases", []):
            acc.add_alias(a)
        iso = COUNTRY_ISO.get(ent.get("country") or "")
        if iso:
            acc.add("countries", [iso])
        elif ent.get("country"):
            b.warnings.append(f"no ISO code for country {ent['country']!r}")
        cites = parse_fr_citations(ent.get("federal_register"))
        dated = [x for x in cites if x.on]
        first = min(dated, key=lambda x: (x.on or date.min, x.text)) if dated else None
        for cit in cites:
            acc.add("citations", [cit.text])
            if cit.on is None:
                acc.add("notes", [f"eCFR citation {cit.text!r} printed without a date"])
                continue
            if cit is first:
                basis = ("Federal Register publication date; earliest citation in the eCFR "
                         "entry (normally the addition)")
                role = "addition"
            else:
                basis = ("Federal Register publication date; later citation in the eCFR "
                         "entry (a revision of the entry)")
                role = "revision"
            if 1935 + cit.volume != cit.on.year:
                acc.add("notes", [f"citation {cit.text!r}: FR volume {cit.volume} and the "
                                  f"printed year {cit.on.year} disagree (kept as printed)"])
            acc.facts.append(Fact(cit.on, basis, cit.text, prov, role))
        acc.add("source_urls", [URL_EL])
        acc.add("provenance", [f"list: {prov}"])
        acc.add("licences", [LIC_NSFREG])
        why = subunit_reason(ent["name"], ent.get("aliases", []),
                             " ".join([ent.get("address") or "", ent.get("notes") or ""]))
        if why:
            acc.covers_subunits = True
            acc.add("notes", [f"covers sub-units: {why}"])
    # entries printed as "<Parent> subordinate institution: <Unit>"
    for (c, _), a in sorted(b.entries.items()):
        m = re.match(r"^(.*?)\s+subordinate institution:?\s+(.+)$", a.name, re.I)
        if c == code and m and not a.parent_key:
            a.parent_key = b.key_for(code, [m.group(1)])
    # entries printed as "<Parent>, <Unit>" (e.g. AMMS and 11 of its institutes)
    by_norm = {norm(a.name): a for (c, _), a in b.entries.items() if c == code}
    for (c, _), a in sorted(b.entries.items()):
        if c != code or "," not in a.name:
            continue
        head = a.name.split(",")[0]
        parent = by_norm.get(norm(head))
        if parent is not None and parent is not a:
            if not a.parent_key:
                a.parent_key = parent.key
            if not parent.covers_subunits:
                parent.covers_subunits = True
                parent.add("notes", ["covers sub-units: the list also names its units as "
                                     f"separate entries (\"{head}, ...\")"])
    link_el_subset(b)
    apply_el_institution_rows(b)


def link_el_subset(b: Builder) -> None:
    """The 60 university-like entries of the 2026-03-30 BIS page scrape (+ Chinese names)."""
    code, ed = "BIS_ENTITY_LIST", "BIS-web-2026-03-30"
    doc = read_json(b.src / F_EL_WEB)
    zh = {z["name"]: z["zh"] for z in read_json(b.src / F_EL_ZH)}
    b.edition(code, ed, published_on=None,
                 basis="scrape of the BIS Supplement No. 4 web page generated 2026-03-30 "
                       "(60 China entries whose names contain university/academy/institute of "
                       "technology/college); a subset, not a dated edition",
                 source_url="https://www.bis.gov/regulations/ear/744#supplement-4-744",
                 provenance=KAIXINOL, licence=LIC_KAIXINOL)
    by_name = {norm(a.name): a for (c, _), a in b.entries.items() if c == code}
    for ent in doc["entries"]:
        name = ent["name"]
        head = re.split(r",? and the following", name)[0]
        acc = by_name.get(norm(name)) or by_name.get(norm(head))
        parts = name.split(", ")
        for i in range(len(parts) - 1, 0, -1):
            if acc is not None:
                break
            acc = by_name.get(norm(", ".join(parts[:i])))
        if acc is None:
            key = b.key_for(code, [head])
            acc = b.acc(code, key, head)
            acc.add("notes", ["in the 2026-03-30 BIS page scrape but not matched to an entry "
                              "of the 2026-07-09 eCFR text"])
        b.member(code, ed, acc, name)
        acc.add("provenance", [f"entry text: {KAIXINOL}"])
        acc.add("licences", [LIC_KAIXINOL])
        if name in zh:
            acc.add("aliases_zh", [zh[name]])
            acc.add("provenance", [f"Chinese name: {KAIXINOL_ZH}"])
        raw = ent.get("raw", "")
        if re.search(r"subordinate|and its institutes|and all", raw, re.I):
            acc.covers_subunits = True


def apply_el_institution_rows(b: Builder) -> None:
    code = "BIS_ENTITY_LIST"
    for row in b.inst_rows:
        if row["list"] != "BIS_ENTITY_LIST":
            continue
        key = row["institution_key"]
        acc = b.entries.get((code, key))
        via_parent = row["list_detail"].startswith("via parent entry")
        if via_parent and row["parent_institution_key"]:
            parent = b.entries.get((code, row["parent_institution_key"]))
            if parent is not None:
                parent.add_alias(row["canonical_name"])
                if row["name_zh"]:
                    parent.add("aliases_zh", [row["name_zh"]])
                parent.add("notes", [f"{row['canonical_name']} ({key}) is covered via this "
                                     f"parent entry (institutions.csv: {row['list_detail']})"])
                parent.covers_subunits = True
                continue
        if acc is None:
            acc = b.acc(code, key, row["list_entry_name"] or row["canonical_name"])
            ed = "secondary-sources"
            b.member(code, ed, acc)
            acc.add("notes", ["not matched to the 2026-07-09 eCFR text by name: listing "
                              "known from secondary sources only; current status NOT "
                              "re-verified"])
            acc.add("source_urls", [row["list_source_url"]])
            b.edition(code, ed, published_on=None,
                         basis="entries known only from secondary web sources describing "
                               "their addition (raw/web_evidence.csv); not an edition",
                         source_url=URL_EL, provenance=INSTITUTIONS, licence=LIC_WEB)
        b.apply_institution_facts(acc, row)
        if row["date_added"] and re.fullmatch(r"\d{4}-\d{2}-\d{2}", row["date_added"]):
            cite = row["legal_citation"] or "(no FR citation in source)"
            acc.facts.append(Fact(
                date.fromisoformat(row["date_added"]),
                f"{row['date_added_basis']} (institutions.csv)",
                cite, b.evidence_source(row["list_provenance"]), "addition"))
        if row["row_notes"]:
            acc.add("notes", [f"institutions.csv: {row['row_notes']}"])



def military_end_users(b: Builder) -> None:
    """The Military End-User List (China entries of the eCFR text), with FR citations."""
    code, ed = "BIS_MEU", "eCFR-2026-07-09"
    doc = read_json(b.src / F_MEU)
    prov = FILE_PROVENANCE[F_MEU]
    b.edition(code, ed, published_on=None,
                 basis="eCFR text (15 CFR 744 Supp. No. 7) as downloaded July 2026, extracted "
                       "2026-07-09; China entries only were captured",
                 source_url=URL_MEU, provenance=prov, licence=LIC_NSFREG)
    for ent in doc["entities"]:
        key = b.key_for(code, [ent["name"]])
        acc = b.acc(code, key, ent["name"])
        b.member(code, ed, acc, ent["name"])
        for a in ent.get("aliases", []):
            acc.add_alias(a)
        iso = COUNTRY_ISO.get(ent.get("country") or "")
        if iso:
            acc.add("countries", [iso])
        acc.entry_type = entry_type_for(ent["name"])
        cites = parse_fr_citations(ent.get("federal_register"))
        dated = [x for x in cites if x.on]
        first = min(dated, key=lambda x: (x.on or date.min, x.text)) if dated else None
        for cit in cites:
            acc.add("citations", [cit.text])
            if cit.on is None:
                continue
            role = "addition" if cit is first else "revision"
            acc.facts.append(Fact(
                cit.on, "Federal Register publication date; "
                + ("earliest citation in the MEU entry (normally the addition)"
                   if role == "addition" else "later citation (revision)"),
                cit.text, prov, role))
        if ent.get("notes"):
            acc.add("notes", [f"eCFR: {ent['notes']}"])
            m = re.match(r"Subordinate institution of (.+)", ent["notes"])
            if m:
                acc.parent_key = b.key_for(code, [m.group(1)])
        acc.add("notes", ["the nsfreg parser carries the FR citation forward onto "
                          "subordinate-institution rows that had none printed"])
        acc.add("source_urls", [URL_MEU])
        acc.add("provenance", [f"list: {prov}"])
        acc.add("licences", [LIC_NSFREG])



#: The lists this module builds (``registry.json`` ``lists``).
LISTS: list[dict[str, Any]] = [
    {"code": "BIS_ENTITY_LIST", "name": "Entity List (15 CFR 744 Supplement No. 4)",
     "authority": "U.S. Department of Commerce, Bureau of Industry and Security",
     "is_designation": True, "data_date": "2026-07-09", "source_url": URL_EL,
     "licence": LIC_NSFREG,
     "notes": "eCFR text as downloaded July 2026 (phagehunter/nsfreg, extracted 2026-07-09); "
              "dates are Federal Register publication dates; removed entries are absent."},
    {"code": "BIS_MEU", "name": "Military End-User List (15 CFR 744 Supplement No. 7)",
     "authority": "U.S. Department of Commerce, Bureau of Industry and Security",
     "is_designation": True, "data_date": "2026-07-09", "source_url": URL_MEU,
     "licence": LIC_NSFREG,
     "notes": "China entries only were captured by the parser; check the eCFR for others."},
]
