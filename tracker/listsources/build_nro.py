"""Canada's Named Research Organizations (rows extracted from the science.gc.ca page).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from tracker.listsources.build_core import Builder, Fact
from tracker.listsources.build_inputs import CANADA, F_NRO, LIC_CANADA, URL_NRO, read_csv
from tracker.listsources.build_text import COUNTRY_ISO

#: Canada's list: the date of its own document, not the web page's modification date.
NRO_DOCUMENT_DATE = date(2024, 1, 9)
NRO_DOCUMENT_BASIS = (
    "date of the list document: the page links "
    "'1082-named-research-organizations-list-09Jan2024.pdf' (09 Jan 2024 in the document's "
    "name; raw/canada_nro_page_modified-2024-04-18_downloaded-2024-09-09.html, see "
    "restricted/PROVENANCE.md); the list was announced on January 16, 2024 (shared/policy/"
    "policy-rules.md section 3, iran-times.com report)")


def named_research_organizations(b: Builder) -> None:
    """Canada's Named Research Organizations: each row on the list by the page version
    of 2024-04-18 (its first listing date is not given)."""
    code, ed = "CA_NRO", "2024-04-18"
    b.edition(code, ed, published_on=NRO_DOCUMENT_DATE,
                 basis=NRO_DOCUMENT_BASIS + "; this copy is the page version modified "
                       "2024-04-18 (dcterms.modified, a web-page date, not the list's), "
                       "downloaded 2024-09-09",
                 source_url=URL_NRO, provenance=CANADA, licence=LIC_CANADA)
    for r in read_csv(b.src / F_NRO):
        name = r["name"]
        key = b.key_for(code, [name])
        acc = b.acc(code, key, name)
        b.member(code, ed, acc, name)
        iso = COUNTRY_ISO.get(r["country_as_printed"])
        if iso:
            acc.add("countries", [iso])
        al = r["known_aliases_as_printed"]
        if al:
            for a in re.split(r";|\n", al):
                acc.add_alias(a)
            acc.add("notes", [f"aliases as printed: {al} (some may be subsidiaries or former "
                              "names)"])
        acc.facts.append(Fact(date(2024, 4, 18),
                              "edition date: on the list in the page version modified "
                              "2024-04-18 (first listing date not given)",
                              "Named Research Organizations, modified 2024-04-18", CANADA,
                              "on_list_by"))
        acc.add("source_urls", [URL_NRO])
        acc.add("provenance", [f"list: {CANADA}"])
        acc.add("licences", [LIC_CANADA])



#: The lists this module builds (``registry.json`` ``lists``).
LISTS: list[dict[str, Any]] = [
    {"code": "CA_NRO", "name": "Canada: Named Research Organizations",
     "authority": "Government of Canada (ISED), Policy on Sensitive Technology Research and "
     "Affiliations of Concern", "is_designation": True, "data_date": "2024-09-09",
     "source_url": URL_NRO, "licence": LIC_CANADA,
     "notes": "Snapshot: copy downloaded 2024-09-09 of the page modified 2024-04-18; later "
              "updates not verified. The list document is dated 2024-01-09 (first_published); "
              "each entry is known to be on the list by 2024-04-18 (listed_on_kind "
              "on_list_by), its own first listing date is not given.",
     "first_published": NRO_DOCUMENT_DATE.isoformat(),
     "first_published_basis": NRO_DOCUMENT_BASIS},
]
