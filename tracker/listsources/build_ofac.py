"""OFAC's NS-CMIC list (the list PDF and the Annex to E.O. 14032, parsed by nsfreg).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from tracker.listsources.build_core import Acc, Builder, Fact
from tracker.listsources.build_inputs import (
    F_EO14032,
    F_NSCMIC,
    FILE_PROVENANCE,
    LIC_NSFREG,
    URL_EO14032,
    URL_NSCMIC,
    read_json,
)
from tracker.listsources.build_text import COUNTRY_ISO, norm


def ns_cmic(b: Builder) -> None:
    """OFAC NS-CMIC: the list PDF's companies with their listing and effective dates, and
    the Annex to E.O. 14032 joined by name."""
    code = "OFAC_NS_CMIC"
    ed_annex, ed_list = "EO14032-Annex-2021-06-03", "NS-CMIC-2021-12-16"
    b.edition(code, ed_annex, published_on=date(2021, 6, 3),
                 basis="date of Executive Order 14032 (Annex); published 86 FR 30145 on "
                       "2021-06-07; effective 2021-08-02",
                 source_url=URL_EO14032, provenance=FILE_PROVENANCE[F_EO14032],
                 licence=LIC_NSFREG)
    b.edition(code, ed_list, published_on=None,
                 basis="OFAC NS-CMIC list PDF as downloaded July 2026 (extracted "
                       "2026-07-09); the parser describes it as the list of 2021-12-16 "
                       "(latest listing date in the data), not stated on the list itself; "
                       "later changes not verified",
                 source_url=URL_NSCMIC, provenance=FILE_PROVENANCE[F_NSCMIC],
                 licence=LIC_NSFREG)
    lst = read_json(b.src / F_NSCMIC)["entities"]
    prov = FILE_PROVENANCE[F_NSCMIC]
    index: dict[str, Acc] = {}
    primary: dict[str, Acc] = {}
    for ent in lst:
        key = b.key_for(code, [ent["name"]])
        acc = b.acc(code, key, ent["name"])
        b.member(code, ed_list, acc, ent["name"])
        acc.entry_type = "company"
        for a in ent.get("aliases", []):
            acc.add_alias(a)
        iso = COUNTRY_ISO.get(ent.get("country") or "")
        if iso:
            acc.add("countries", [iso])
        notes = ent.get("notes") or ""
        m = re.search(r"Listing Date \(CMIC\):\s*(\d{1,2} \w{3} \d{4})", notes)
        if m:
            ld = datetime.strptime(m.group(1), "%d %b %Y").date()
            acc.facts.append(Fact(ld, "OFAC listing date (CMIC)", f"Listing Date (CMIC): "
                                  f"{m.group(1)}", prov, "addition"))
        if ent.get("effective_date"):
            acc.facts.append(Fact(date.fromisoformat(ent["effective_date"]),
                                  "OFAC effective date (CMIC)", "Effective Date (CMIC)", prov,
                                  "effective"))
        acc.add("notes", [f"OFAC: {notes}"] if notes else [])
        acc.add("source_urls", [URL_NSCMIC])
        acc.add("provenance", [f"list: {prov}"])
        acc.add("licences", [LIC_NSFREG])
        primary.setdefault(norm(ent["name"]), acc)
        for n in ent.get("aliases", []):
            index.setdefault(norm(n), acc)
    claimed: set[str] = set()
    aprov = FILE_PROVENANCE[F_EO14032]
    for ent in read_json(b.src / F_EO14032)["entities"]:
        acc2 = primary.get(norm(ent["name"]))
        if acc2 is None or acc2.key in claimed:
            acc2 = index.get(norm(ent["name"]))
        if acc2 is not None and acc2.key in claimed:
            acc2 = None
        if acc2 is None:
            acc2 = b.acc(code, b.key_for(code, [ent["name"]]), ent["name"])
            acc2.entry_type = "company"
            acc2.add("notes", ["in the EO 14032 Annex but not matched by name to the NS-CMIC "
                               "list PDF"])
            index[norm(ent["name"])] = acc2
        claimed.add(acc2.key)
        acc2.add_alias(ent["name"])
        b.member(code, ed_annex, acc2, ent["name"])
        acc2.facts.append(Fact(date(2021, 6, 3), "date of Executive Order 14032 (Annex "
                               "listing)", "E.O. 14032 Annex", aprov, "addition"))
        acc2.facts.append(Fact(date(2021, 6, 7), "Federal Register publication date of "
                               "E.O. 14032", ent.get("federal_register") or "86 FR 30145",
                               aprov, "publication"))
        if ent.get("effective_date"):
            acc2.facts.append(Fact(date.fromisoformat(ent["effective_date"]),
                                   "effective date (E.O. 14032 Annex)", "E.O. 14032 Annex",
                                   aprov, "effective"))
        acc2.add("citations", [ent.get("federal_register") or "86 FR 30145"])
        acc2.add("source_urls", [URL_EO14032])
        acc2.add("provenance", [f"list: {aprov}"])
        acc2.add("licences", [LIC_NSFREG])



#: The lists this module builds (``registry.json`` ``lists``).
LISTS: list[dict[str, Any]] = [
    {"code": "OFAC_NS_CMIC", "name": "OFAC Non-SDN Chinese Military-Industrial Complex Companies "
     "List (NS-CMIC)", "authority": "U.S. Department of the Treasury, OFAC (E.O. 13959 as amended "
     "by E.O. 14032)", "is_designation": True, "data_date": "2026-07-09",
     "source_url": URL_NSCMIC, "licence": LIC_NSFREG,
     "notes": "Snapshot: the OFAC PDF as downloaded July 2026 (extracted 2026-07-09), which is "
              "the list of 2021-12-16 per the parser; whether "
              "OFAC changed it later was not verified."},
]
