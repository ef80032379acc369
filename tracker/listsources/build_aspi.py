"""The ASPI China Defence Universities Tracker (MISP galaxy JSON): context, not a
designation.
"""

from __future__ import annotations

import re
from typing import Any

from tracker.listsources.build_core import Builder
from tracker.listsources.build_inputs import F_ASPI, LIC_ASPI, MISP, URL_ASPI, read_json


def aspi_tracker(b: Builder) -> None:
    """The ASPI tracker: context (no listing dates), with its categories, risk statements
    and named subsidiaries."""
    code, ed = "ASPI_UNITRACKER", "2020-08-21"
    b.edition(code, ed, published_on=None,
                 basis="scrape of unitracker.aspi.org.au committed 2020-08-21 (commit date, "
                       "not an ASPI publication date); an assessment, not a designation",
                 source_url=URL_ASPI, provenance=MISP, licence=LIC_ASPI)
    doc = read_json(b.src / F_ASPI)
    for v in doc["values"]:
        value = v["value"]
        m = re.match(r"^(.*?)\s*\(([^()]*[\u4e00-\u9fff][^()]*)\)\s*$", value)
        name, zh = (m.group(1), m.group(2)) if m else (value, "")
        meta = v.get("meta", {})
        key = b.key_for(code, [name, value], csv_list="ASPI_UNITRACKER")
        acc = b.acc(code, key, name)
        b.member(code, ed, acc, name)
        if zh:
            acc.add("aliases_zh", [zh])
        for a in meta.get("alias", []):
            acc.add_alias(a)
        acc.add("countries", ["CN"])
        acc.add("source_urls", [*meta.get("refs", [])])
        acc.add("provenance", [f"list: {MISP}"])
        acc.add("licences", [LIC_ASPI])
        cats = ", ".join(meta.get("category", []))
        risk = meta.get("risk", "")
        acc.add("notes", [f"ASPI category: {cats}" if cats else "",
                          f"ASPI risk statement (2020-08 scrape): {risk}" if risk else "",
                          "supervising agency: " + ", ".join(meta["supervising agency"])
                          if meta.get("supervising agency") else ""])
        subs = meta.get("subsidiary", [])
        if subs:
            acc.covers_subunits = True
            acc.add("notes", ["ASPI names subsidiaries: " + "; ".join(subs)])
        row = b.inst_row(key, "ASPI_UNITRACKER")
        if row:
            b.apply_institution_facts(acc, row)
        acc.add("notes", ["context, not a designation; no listing date (the tracker gives "
                          "none)"])


#: The lists this module builds (``registry.json`` ``lists``).
LISTS: list[dict[str, Any]] = [
    {"code": "ASPI_UNITRACKER", "name": "ASPI China Defence Universities Tracker",
     "authority": "Australian Strategic Policy Institute (assessment, not a designation)",
     "is_designation": False, "data_date": "2020-08-21", "source_url": URL_ASPI,
     "licence": LIC_ASPI,
     "notes": "Scrape of 2020-08 (6 years old); context only, never a red flag on its own."},
]
