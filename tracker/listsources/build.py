"""Build the bundled restricted-institution registry (version 0) from the files shipped in
``tracker/data/sources``.

Every input is read from the package through :mod:`importlib.resources` (see
``tracker/data/sources/PROVENANCE.md`` for each file's origin, citation and licence); the
build reads nothing outside the package and fetches nothing.  Maintainers run it with
``tracker lists build --out tracker/data/registry.json``; a test checks that the result is
byte-identical to the committed ``registry.json``.

Guarantees
----------
* Deterministic: the same inputs give the same bytes (sorted keys and entries, no build
  timestamp).  ``version`` is derived from the SHA-256 of the inputs and of the output
  body, and ``built_from`` records every input file with its SHA-256.
* One entry per (list, institution).  ``entry_id`` is ``"<LIST>:<institution_key>"``;
  ``institution_key`` is the hand-curated key of ``institutions.csv`` where the entry
  links to one of its rows (by normalised name), else ``auto_<slug of the name>``.
* Every date is a dated fact with its basis, citation and source.  A date that no source
  gives stays ``null``; disagreeing dates are all kept.  ``listed_on`` is the earliest
  sourced date of addition.
* Every entry carries its provenance (repo@commit:path) and licence.
* One identity rule with ``tracker lists update``: the official files shipped in
  ``tracker/data/sources`` enter through the same stage as an update (passed in as
  ``stage``), after the reviewed merges (``institution_merges.csv``), the reviewed ID links
  (``id_links.csv``) and the cross-country guard.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any, Protocol

__all__ = ["SOURCES", "BuildResult", "ReviewedLink", "accepted_links", "build_registry", "dumps",
           "input_files"]

#: The folder of shipped files the build reads (``tracker/data/sources``).
SOURCES: Traversable = files("tracker") / "data" / "sources"
#: The package's data folder (reviewed merges and ID links live here).
DATA: Traversable = files("tracker") / "data"
#: reviewed name + country merges (and reviewed "keep apart" decisions), one reason each
MERGES_FILE = "institution_merges.csv"
#: candidate and reviewed ID links (exact name + country to a recorded OpenAlex record)
LINKS_FILE = "id_links.csv"
#: The independent evaluation set's OpenAlex files (tests/matching_eval/PROTOCOL.md): the
#: build never reads them, and applies no link whose only evidence is one of them.
EVALUATION_FILES = (
    "institutions_bibgraph_2025-10.jsonl.gz",
    "snapshot_institutions_updated_date_2023-09-04_part_000.jsonl.gz",
    "authors_bibgraph_2025-10.jsonl.gz",
)


def rests_on_evaluation_set(evidence: str) -> bool:
    """Whether a link's evidence names a file of the evaluation set (and no other record).

    >>> rests_on_evaluation_set("OpenAlex I1 has this name (shared/data/openalex/"
    ...                         "authors_bibgraph_2025-10.jsonl.gz)")
    True
    >>> rests_on_evaluation_set("ROR record 049wsmj07 has this name")
    False
    """
    return any(f in evidence for f in EVALUATION_FILES)

# --------------------------------------------------------------------------- sources

@dataclass(frozen=True, slots=True)
class ReviewedLink:
    """One accepted row of ``id_links.csv``: the IDs a reviewer confirmed for an
    institution key, and what was checked."""

    link_id: str
    institution_key: str
    country: str
    openalex_id: str
    ror: str
    method: str
    review_note: str


def accepted_links(links: Traversable | None = None) -> dict[str, tuple[ReviewedLink, ...]]:
    """The accepted links of ``id_links.csv`` (default: the shipped file) by institution key.

    The one reading of the reviewed links for the build and for ``tracker lists update``:
    links resting only on the independent evaluation set are left out
    (:func:`rests_on_evaluation_set`).  An absent file gives none.

    Examples
    --------
    >>> links = accepted_links()
    >>> [x.ror for x in links["auto_sensetime_group_limited"]]
    ['049wsmj07']
    >>> "auto_soochow_university" in links   # its only evidence is the evaluation set
    False
    """
    item = links if links is not None else DATA / LINKS_FILE
    if not item.is_file():
        return {}
    out: dict[str, list[ReviewedLink]] = {}
    for row in read_csv(item):
        if row.get("status") != "accepted" or rests_on_evaluation_set(row.get("evidence", "")):
            continue
        out.setdefault(row["institution_key"], []).append(ReviewedLink(
            row["link_id"], row["institution_key"], row.get("country", ""),
            row.get("openalex_id", ""), row.get("ror", ""), row.get("method", ""),
            row.get("review_note", "")))
    return {k: tuple(v) for k, v in sorted(out.items())}


NSFREG = "github:phagehunter/nsfreg@02787e87e65d9452d34e1413859cbea1b0a94b00"
OS_1286 = ("github:opensanctions/opensanctions@7ccd1f43f96d062ff530bf82ef2751c8f8ed6692:"
           "datasets/us/special_leg/source_files/section_1286.csv")
OS_1260H = ("github:opensanctions/opensanctions@dd4f7d35145097d25835ebc72dfa7617742165e6:"
            "datasets/us/dod_chinese_milcorps/sanctions.csv")
KAIXINOL = ("github:kaixinol/china-university-entity-list@4edbb8273431e747b4506bd4ea86c913c16bcc5c"
            ":data.json (scrape of https://www.bis.gov/regulations/ear/744#supplement-4-744, "
            "generatedAt 2026-03-30T14:41:14Z)")
KAIXINOL_ZH = ("github:kaixinol/china-university-entity-list@"
               "4edbb8273431e747b4506bd4ea86c913c16bcc5c:data-cn.json "
               "(Chinese names added by the repo author, not by BIS)")
MISP = ("github:MISP/misp-galaxy@b4c3ffc8eb060e9ca3c27a3a6ad0a579f4ccbd19:"
        "clusters/china-defence-universities.json (scrape of unitracker.aspi.org.au, 2020-08-21)")
CANADA = ("github:tdhock/tdhock.github.io@ac5bf7cb1166c7273bce8733bd2d9352caa90334:"
          "assets/2024-09-09-canada-list-of-risky-research-orgs.html (copy of "
          "science.gc.ca 'Named Research Organizations', modified 2024-04-18, "
          "downloaded 2024-09-09); rows extracted to raw/canada_nro_list_2024-04-18.csv")
ROR_REPO = "github:ror-community/ror-records@d93fc667872f8ef9386896bd6c68bd3c6103603e"
INSTITUTIONS = "shared/data/restricted/institutions.csv (compiled 2026-11-22; see PROVENANCE.md)"

LIC_USGOV = "public domain (US-government work)"
LIC_NSFREG = "public domain (US-government text; parsed by phagehunter/nsfreg, no licence file)"
LIC_OS = "CC BY-NC 4.0 (OpenSanctions transcription of US-government lists)"
LIC_KAIXINOL = "public domain (US-government text; scraped by an AGPL-3.0 repository)"
LIC_ASPI = "CC0-1.0 / BSD-2-Clause (MISP galaxy); text is ASPI's content"
LIC_CANADA = "Government of Canada web content; reuse terms NOT verified"
LIC_ROR = "CC0-1.0 (ROR)"
LIC_OPENALEX = "CC0-1.0 (OpenAlex)"
LIC_WEB = "short quotations of public web pages, for citation only"

URL_EL = "https://www.ecfr.gov/current/title-15/subtitle-B/chapter-VII/subchapter-C/part-744#Supplement-No.-4-to-Part-744"
URL_MEU = ("https://www.ecfr.gov/current/title-15/subtitle-B/chapter-VII/subchapter-C/part-744/"
           "appendix-Supplement%20No.%207%20to%20Part%20744")
URL_1286 = "https://basicresearch.defense.gov/Programs/Academic-Research-Security/"
URL_1260H = ("https://www.federalregister.gov/documents/search?conditions%5Bsearch_type_id%5D=3"
             "&conditions%5Bterm%5D=1260H")
URL_NSCMIC = "https://www.treasury.gov/ofac/downloads/ccmc/nscmiclist.pdf"
URL_EO14032 = "https://ofac.treasury.gov/media/99111/download?inline"
URL_NRO = ("https://science.gc.ca/site/science/en/safeguarding-your-research/guidelines-and-tools-"
           "implement-research-security/sensitive-technology-research-and-affiliations-concern/"
           "named-research-organizations")
URL_ASPI = "https://unitracker.aspi.org.au/"

F_INST = "curated/institutions.csv.gz"
F_EL = "bis_entity_list/bis_entity_list_ecfr_2026-07-09_nsfreg.json.gz"
F_EL_WEB = "bis_entity_list/bis_entity_list_cn_universities_2026-03-30.json"
F_EL_ZH = "bis_entity_list/bis_entity_list_cn_universities_zh_names.json"
F_MEU = "bis_meu/bis_meu_list_ecfr_2026-07-09_nsfreg.json"
F_1286 = "dod_1286/dod_section1286_lists_opensanctions.csv.gz"
F_1260H = "dod_1260h/dod_section1260h_full_opensanctions.csv.gz"
F_1260H_FR = "dod_1260h/dod_section1260h_fr-2026-06-10_nsfreg.json"
F_NSCMIC = "ofac_ns_cmic/ofac_nscmic_list_nsfreg_extracted_2026-07-09.json"
F_EO14032 = "ofac_ns_cmic/ofac_eo14032_annex_2021-06-03_nsfreg.json"
F_NRO = "ca_nro/canada_nro_list_2024-04-18.csv"
F_ASPI = "aspi_unitracker/aspi_unitracker_misp_galaxy_2020-08-21.json.gz"
F_ROR = "ror/ror_records_selected.jsonl.gz"
F_WEB = "curated/web_evidence.csv"
#: OpenAlex institution objects (CC0) extracted by ``scripts/extract_openalex_institutions.py``
F_OPENALEX = "openalex/institution_objects.jsonl.gz"
INPUT_FILES = (F_INST, F_EL, F_EL_WEB, F_EL_ZH, F_MEU, F_1286, F_1260H, F_1260H_FR, F_NSCMIC,
               F_EO14032, F_NRO, F_ASPI, F_ROR, F_WEB, F_OPENALEX)

#: Where each shipped file was copied from (the project's reference data, whose
#: PROVENANCE.md documents it; the shipped copy is that file, gzipped where named ``.gz``).
RECORDED_AS = {
    F_INST: "restricted/institutions.csv",
    F_EL: "restricted/raw/bis_entity_list_ecfr_2026-07-09_nsfreg.json",
    F_EL_WEB: "restricted/raw/bis_entity_list_cn_universities_2026-03-30.json",
    F_EL_ZH: "restricted/raw/bis_entity_list_cn_universities_zh_names.json",
    F_MEU: "restricted/raw/bis_meu_list_ecfr_2026-07-09_nsfreg.json",
    F_1286: "restricted/raw/dod_section1286_lists_opensanctions.csv",
    F_1260H: "restricted/raw/dod_section1260h_full_opensanctions.csv",
    F_1260H_FR: "restricted/raw/dod_section1260h_fr-2026-06-10_nsfreg.json",
    F_NSCMIC: "restricted/raw/ofac_nscmic_list_nsfreg_extracted_2026-07-09.json",
    F_EO14032: "restricted/raw/ofac_eo14032_annex_2021-06-03_nsfreg.json",
    F_NRO: "restricted/raw/canada_nro_list_2024-04-18.csv",
    F_ASPI: "restricted/raw/aspi_unitracker_misp_galaxy_2020-08-21.json",
    F_ROR: "restricted/raw/ror_records_selected.jsonl",
    F_WEB: "restricted/raw/web_evidence.csv",
}

FILE_PROVENANCE = {
    F_INST: INSTITUTIONS,
    F_EL: f"{NSFREG}:data/bis_entity_list.json",
    F_EL_WEB: KAIXINOL,
    F_EL_ZH: KAIXINOL_ZH,
    F_MEU: f"{NSFREG}:data/bis_meu.json",
    F_1286: OS_1286,
    F_1260H: OS_1260H,
    F_1260H_FR: f"{NSFREG}:data/dow_1260h.json",
    F_NSCMIC: f"{NSFREG}:data/ofac_nscmic.json",
    F_EO14032: f"{NSFREG}:data/ofac_eo14032_annex.json",
    F_NRO: CANADA,
    F_ASPI: MISP,
    F_ROR: f"{ROR_REPO} (records for the ROR IDs used in institutions.csv)",
    F_WEB: "raw/web_evidence.csv (quoted excerpts of stored public web pages, E1-E17)",
    F_OPENALEX: "institution objects (id, ror, display_name, country_code, lineage) of the "
                "recorded OpenAlex works, extracted by scripts/extract_openalex_institutions.py",
}

COUNTRY_ISO = {
    "Afghanistan": "AF", "Argentina": "AR", "Armenia": "AM", "Australia": "AU", "Austria": "AT",
    "Bahrain": "BH", "Belarus": "BY", "Belgium": "BE", "Belize": "BZ", "Bolivia": "BO",
    "Brazil": "BR", "British Virgin Islands": "VG", "Bulgaria": "BG", "Burma": "MM",
    "Canada": "CA", "Cayman Islands": "KY", "Chile": "CL", "China": "CN",
    "People’s Republic of China": "CN", "People's Republic of China": "CN", "Costa Rica": "CR",
    "Crimea Region of Ukraine": "UA", "Cuba": "CU", "Cyprus": "CY", "Denmark": "DK",
    "Ecuador": "EC", "Egypt": "EG", "Estonia": "EE", "Finland": "FI", "France": "FR",
    "Georgia": "GE", "Germany": "DE", "Greece": "GR", "Hong Kong": "HK", "Hungary": "HU",
    "India": "IN", "Indonesia": "ID", "Iran": "IR", "Iraq": "IQ", "Ireland": "IE",
    "Israel": "IL", "Italy": "IT", "Jamaica": "JM", "Japan": "JP", "Jordan": "JO",
    "Kazakhstan": "KZ", "Kenya": "KE", "Kyrgyzstan": "KG", "Laos": "LA", "Latvia": "LV",
    "Lebanon": "LB", "Lithuania": "LT", "Luxembourg": "LU", "Madagascar": "MG",
    "Malaysia": "MY", "Malta": "MT", "Mexico": "MX", "Morocco": "MA", "Netherlands": "NL",
    "New Zealand": "NZ", "Nicaragua": "NI", "North Macedonia": "MK", "Norway": "NO",
    "Oman": "OM", "Pakistan": "PK", "Panama": "PA", "Paraguay": "PY", "Peru": "PE",
    "Philippines": "PH", "Poland": "PL", "Portugal": "PT", "Qatar": "QA", "Romania": "RO",
    "Russia": "RU", "Saudi Arabia": "SA", "Senegal": "SN", "Singapore": "SG", "Slovakia": "SK",
    "South Africa": "ZA", "South Korea": "KR", "South Sudan": "SS", "Spain": "ES",
    "Sri Lanka": "LK", "Sweden": "SE", "Switzerland": "CH", "Syria": "SY", "Taiwan": "TW",
    "Thailand": "TH", "Turkey": "TR", "Uganda": "UG", "Ukraine": "UA",
    "United Arab Emirates": "AE", "United Kingdom": "GB", "Uzbekistan": "UZ",
    "Venezuela": "VE", "Vietnam": "VN",
}

CSV_LIST_CODES = {
    "BIS_ENTITY_LIST": "BIS_ENTITY_LIST",
    "DOD_SEC1286": "DOD_1286",
    "DOD_SEC1260H": "DOD_1260H",
    "ASPI_UNITRACKER": "ASPI_UNITRACKER",
}

# Words that make an alias too generic to match on its own (without country/parent context).
GENERIC_PHRASES = {
    "institute of physics", "institute of applied physics", "institute of mechanics",
    "institute of chemistry", "institute of computing technology", "ninth institute",
    "ninth academy", "institute of radiation medicine", "institute of microbial epidemiology",
    "institute of toxicology and drugs", "disease control and prevention institute",
    "second academy", "first academy", "third academy", "fourth academy", "fifth academy",
    "sixth academy", "seventh academy", "eighth academy", "research institute",
    "institute of semiconductors", "institute of electronics", "institute of automation",
    "institute of acoustics", "institute of software", "institute of optics and electronics",
    "the high power laser laboratory shanghai", "southwest computing center",
}


# --------------------------------------------------------------------------- helpers

def norm(text: str) -> str:
    """Normalise a name for comparison: NFKC, lower case, '&' as 'and', punctuation removed.

    >>> norm("Beijing University of Aeronautics & Astronautics (BUAA)")
    'beijing university of aeronautics and astronautics buaa'
    """
    t = unicodedata.normalize("NFKC", text).lower().replace("’", "'").replace("&", " and ")
    return " ".join(re.sub(r"[^0-9a-z\u4e00-\u9fff]+", " ", t).split())


def slug(text: str) -> str:
    """A stable key from a name (the institutions.csv ``auto_`` style).

    >>> slug("Harbin Institute of Technology")
    'auto_harbin_institute_of_technology'
    """
    s = re.sub(r"[^a-z0-9]+", "_", unicodedata.normalize("NFKD", text).lower()).strip("_")
    if len(s) > 60:
        s = f"{s[:50]}_{hashlib.sha1(s.encode()).hexdigest()[:8]}"
    return f"auto_{s or 'unnamed'}"


def is_generic(alias: str) -> bool:
    """True when an alias is too generic to match without context.

    >>> is_generic("ICT"), is_generic("Institute of Physics"), is_generic("Beihang University")
    (True, True, False)
    """
    a = alias.strip()
    compact = re.sub(r"[^A-Za-z0-9]", "", a)
    if compact and len(compact) <= 4 and not re.search(r"[\u4e00-\u9fff]", a):
        return True
    return norm(a) in GENERIC_PHRASES


def variants(name: str) -> list[str]:
    """A name, the name without a parenthesised part, and that part (if not generic).

    >>> variants("Sense Time (SenseTime Group Ltd.)")
    ['Sense Time (SenseTime Group Ltd.)', 'Sense Time', 'SenseTime Group Ltd.']
    """
    out = [name]
    m = re.match(r"^(.*?)\s*\(([^()]+)\)\s*$", name)
    if m:
        out.append(m.group(1))
        if not is_generic(m.group(2)):
            out.append(m.group(2))
    return [o for o in out if o.strip()]


UNIT_WORDS = re.compile(r"\b(institute|institution|laborator(y|ies)|cent(er|re)|station|academy|"
                        r"factory|college|school|branch|campus|plant)\b", re.I)
STOP = {"the", "of", "and", "for", "in", "chinese", "china", "academy", "sciences", "science",
        "cas", "institute", "co", "ltd", "research"}


def _words(text: str) -> set[str]:
    return {w for w in norm(text).split() if w not in STOP}


def subunit_reason(name: str, aliases: list[str], extra: str = "") -> str:
    """Why an entry's own text says it covers subordinate units ('' when it does not).

    >>> subunit_reason("Harbin Institute of Technology",
    ...                ["Harbin Institute of Technology, Chongqing Research Institute"])
    'names sub-units as aliases (Harbin Institute of Technology, Chongqing Research Institute)'
    >>> subunit_reason("Beijing Institute of Technology", [])
    ''
    """
    text = " ".join([*aliases, extra])  # the name describes the entry itself, not its units
    for m in re.finditer(r"subordinate|and its (research )?(institutes|subsidiaries|affiliates|"
                         r"campuses)|\ball of its\b|any [\w\- ]{0,40}(entities|institutes|centers)",
                         text, re.I):
        if m.group(0).lower() == "subordinate" and re.search(r"\ba\s*$", text[:m.start()]):
            continue  # "a subordinate institute of X": the entry is itself a unit
        return f"entry text: '{text[max(0, m.start() - 30):m.end() + 30].strip()}'"
    heads = [h for h in [re.sub(r"\s*\([^)]*\)\s*$", "", name), *aliases]
             if len(norm(h).split()) >= 2 and not is_generic(h)]
    subs: set[str] = set()
    for a in aliases:
        for h in heads:
            rest = norm(a)[len(norm(h)):]
            if a != h and norm(a).startswith(norm(h) + " ") and len(rest.split()) >= 2 \
                    and UNIT_WORDS.search(rest) and "academy of sciences" not in rest \
                    and rest.split()[0] not in {"of", "the"}:
                subs.add(a)
    if subs:
        ss = sorted(subs)
        return f"names sub-units as aliases ({'; '.join(ss[:3])}{' ...' if len(ss) > 3 else ''})"
    if "chinese academy of sciences" in norm(name):
        own = _words(name) | {w for a in aliases for w in _words(a) if len(a) < 12}
        cas = [a for a in aliases if "chinese academy of sciences" in norm(a)
               and UNIT_WORDS.search(a) and not _words(a) <= own]
        if cas:
            return f"CAS entry naming other CAS units ({'; '.join(cas[:3])})"
    firsts: dict[str, list[str]] = {}
    for a in aliases:
        if UNIT_WORDS.search(a):
            firsts.setdefault(" ".join(norm(a).split()[:2]), []).append(a)
    big = [v for v in firsts.values() if len(v) >= 5]
    if big:
        return f"lists {len(big[0])} subordinate institutes ({'; '.join(big[0][:3])} ...)"
    return ""


COMPANY = re.compile(r"\b(co|company|corp|corporation|ltd|limited|llc|l l c|inc|incorporated|"
                     r"gmbh|ag|sa|s a|sarl|bv|b v|jsc|pjsc|ojsc|cjsc|ao|pao|ooo|llp|plc|pte|"
                     r"sdn bhd|bhd|fze|fzco|fzc|fz llc|trading|group|holdings?|enterprises?)\b")


def entry_type_for(name: str) -> str:
    """'company' when the printed name has a company form, else 'institution'.

    >>> entry_type_for("Huawei Technologies Co., Ltd."), entry_type_for("Sichuan University")
    ('company', 'institution')
    """
    return "company" if COMPANY.search(norm(name)) else "institution"


def has_cjk(text: str) -> bool:
    return bool(re.search(r"[\u3400-\u9fff]", text))


def split_aliases(text: str, sep: str = "|") -> list[str]:
    return [a.strip() for a in text.split(sep) if a.strip()]


def fr_year(vol: int, yy: int) -> int:
    if yy >= 100:
        return yy
    return 1900 + yy if yy >= 50 else 2000 + yy


FR_CITE = re.compile(r"(\d{2,3})\s*FR\s*(\d[\d,]*(?:/\d+)?)")
FR_DATE = re.compile(r"\b(\d{1,2})/(\d{1,2})/(\d{2,4})\b")


@dataclass(frozen=True)
class FRCitation:
    text: str
    volume: int
    page: str
    on: date | None


def parse_fr_citations(cell: str | None) -> list[FRCitation]:
    """All Federal Register citations in an eCFR citation cell, in printed order.

    >>> cell = "66 FR 24266, 5/14/01.\\n85 FR 34497, 6/5/20"
    >>> [(c.text, c.on.isoformat()) for c in parse_fr_citations(cell) if c.on]
    [('66 FR 24266, 5/14/01', '2001-05-14'), ('85 FR 34497, 6/5/20', '2020-06-05')]
    >>> [(c.text, c.on) for c in parse_fr_citations("86 FR 67319")]
    [('86 FR 67319', None)]
    """
    if not cell:
        return []
    out: list[FRCitation] = []
    hits = list(FR_CITE.finditer(cell))
    for i, m in enumerate(hits):
        end = hits[i + 1].start() if i + 1 < len(hits) else len(cell)
        seg = cell[m.start():end]
        dm = FR_DATE.search(seg, m.end() - m.start())
        on: date | None = None
        text = m.group(0)
        if dm:
            vol = int(m.group(1))
            year = fr_year(vol, int(dm.group(3)))
            try:
                on = date(year, int(dm.group(1)), int(dm.group(2)))
            except ValueError:
                on = None
            text = seg[: dm.end()]
        text = " ".join(text.replace("\n", " ").split()).rstrip(".;")
        out.append(FRCitation(text=text, volume=int(m.group(1)), page=m.group(2), on=on))
    return out


class InputMissingError(FileNotFoundError):
    """A file the build reads is not in the package: the registry cannot be built."""


def read_bytes(item: Traversable) -> bytes:
    """A shipped file's content (gunzipped when its name ends in ``.gz``).

    Raises
    ------
    InputMissingError
        The file is not there.
    """
    try:
        data = item.read_bytes()
    except OSError as exc:
        raise InputMissingError(f"{item}: cannot read a file the registry build needs: "
                                f"{exc.strerror or exc}") from exc
    return gzip.decompress(data) if item.name.endswith(".gz") else data


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_text(item: Traversable) -> str:
    return read_bytes(item).decode("utf-8")


def read_json(item: Traversable) -> Any:
    return json.loads(read_text(item))


def read_csv(item: Traversable) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(read_text(item), newline="")))


def read_jsonl(item: Traversable) -> Iterator[Any]:
    for line in read_text(item).splitlines():
        if line.strip():
            yield json.loads(line)


def bare_ror(value: str | None) -> str | None:
    if not value:
        return None
    return value.rstrip("/").rsplit("/", 1)[-1]


def short_oa(value: str | None) -> str | None:
    if not value:
        return None
    return value.rstrip("/").rsplit("/", 1)[-1]


# --------------------------------------------------------------------------- accumulator

@dataclass
class Fact:
    on: date
    basis: str
    citation: str
    source: str
    role: str  # addition | revision | removal | edition | other

    def to_json(self) -> dict[str, str]:
        return {"date": self.on.isoformat(), "basis": self.basis, "citation": self.citation,
                "source": self.source}


@dataclass
class Acc:
    code: str
    key: str
    name: str
    aliases: list[str] = field(default_factory=list)
    aliases_zh: list[str] = field(default_factory=list)
    generic: list[str] = field(default_factory=list)
    countries: list[str] = field(default_factory=list)
    entry_type: str = "institution"
    ror: str | None = None
    openalex_ids: list[str] = field(default_factory=list)
    parent_key: str | None = None
    covers_subunits: bool = False
    editions: list[str] = field(default_factory=list)
    facts: list[Fact] = field(default_factory=list)
    removed_on: date | None = None
    removed_on_source: str = ""
    citations: list[str] = field(default_factory=list)
    source_urls: list[str] = field(default_factory=list)
    provenance: list[str] = field(default_factory=list)
    licences: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    merged_from: list[str] = field(default_factory=list)

    def add(self, attr: str, values: Iterable[str]) -> None:
        cur: list[str] = getattr(self, attr)
        for v in values:
            if v and v not in cur:
                cur.append(v)

    def add_alias(self, alias: str) -> None:
        alias = " ".join(alias.split()).strip(" ,;")
        if not alias or norm(alias) == norm(self.name):
            return
        if has_cjk(alias) and not re.search(r"[A-Za-z]", alias):
            self.add("aliases_zh", [alias])
            return
        if norm(alias) in {norm(a) for a in self.aliases}:
            return
        self.add("aliases", [alias])
        if is_generic(alias):
            self.add("generic", [alias])


@dataclass
class OpenAlexIndex:
    """What the recorded OpenAlex files say about institutions (see ``openalex_index``)."""

    files: dict[str, str] = field(default_factory=dict)
    r2o: dict[str, set[str]] = field(default_factory=dict)
    where: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    named: dict[tuple[str, str | None], dict[str, tuple[str | None, str]]] = field(
        default_factory=dict)
    country: dict[str, set[str]] = field(default_factory=dict)


class Builder:
    """The registry under construction: one :class:`Acc` per (list, institution key).

    Parameters
    ----------
    source : Traversable
        The folder of shipped input files (``tracker/data/sources``).
    openalex_objects : Traversable, optional
        The extract of OpenAlex institution objects (None: no OpenAlex links).
    """

    def __init__(self, source: Traversable, openalex_objects: Traversable | None) -> None:
        self.src = source
        self.oa_objects = openalex_objects
        self.entries: dict[tuple[str, str], Acc] = {}
        self.editions: dict[tuple[str, str], dict[str, Any]] = {}
        self.edition_members: dict[tuple[str, str], set[str]] = {}
        self.inst_rows = read_csv(source / F_INST)
        self.web = {r["evidence_id"]: r for r in read_csv(source / F_WEB)}
        self.warnings: list[str] = []
        self.named_records: dict[tuple[str, str | None], dict[str, tuple[str | None, str]]] = {}
        self.row_names: dict[tuple[str, str, str], str] = {}
        self._oa_index: OpenAlexIndex | None = None
        self._ror_records: dict[str, dict[str, Any]] | None = None
        self.links_csv = ""
        self.fr_1260h_unmatched: list[str] = []
        self.parent_in_latest: dict[str, str] = {}
        #: (institution key, ROR or OpenAlex ID) -> why the ID is not applied (countries differ)
        self.cross_country: dict[tuple[str, str], str] = {}
        # institutions.csv indexes
        self.inst_by_key: dict[str, list[dict[str, str]]] = {}
        self.inst_name_index: dict[str, dict[str, str]] = {}  # list -> norm name -> key
        self.inst_global_names: dict[str, set[str]] = {}
        for row in self.inst_rows:
            self.inst_by_key.setdefault(row["institution_key"], []).append(row)
            code = CSV_LIST_CODES.get(row["list"], row["list"])
            idx = self.inst_name_index.setdefault(code, {})
            for full in [*split_aliases(row["list_entry_name"], " / "), row["canonical_name"]]:
                for n in variants(re.split(r",? and the following", full)[0]):
                    idx.setdefault(norm(n), row["institution_key"])
            for n in [row["canonical_name"], *split_aliases(row["list_entry_name"], " / ")]:
                self.inst_global_names.setdefault(norm(n), set()).add(row["institution_key"])
        # second pass, lowest priority: comma-prefixes of scraped BIS names, whose tail is
        # often address text ("National Supercomputing Center Guangzhou (NSCC-GZ), Sun Yat-Sen
        # University")
        for row in self.inst_rows:
            if row["list"] != "BIS_ENTITY_LIST":
                continue
            idx = self.inst_name_index["BIS_ENTITY_LIST"]
            parts = row["list_entry_name"].split(", ")
            for i in range(len(parts) - 1, 0, -1):
                idx.setdefault(norm(", ".join(parts[:i])), row["institution_key"])

    # ---- keys -------------------------------------------------------------------
    def key_for(self, code: str, names: Iterable[str], *, csv_list: str | None = None) -> str:
        """The institutions.csv key for a list entry (by normalised name), else an auto slug."""
        names = [n for n in names if n]
        idx = self.inst_name_index.get(csv_list or code, {})
        for n in names:
            k = idx.get(norm(n))
            if k:
                return k
        for n in names:
            keys = self.inst_global_names.get(norm(n), set())
            if len(keys) == 1:
                return next(iter(keys))
        return slug(names[0])

    def free_key(self, code: str, edition: str, key: str, name: str) -> str:
        """``key``, unless another row of the same edition already holds it (then the slug of
        this row's own name): two rows printed separately in one edition stay two entries."""
        seen = self.row_names.get((code, edition, key))
        if seen is not None and norm(seen) != norm(name):
            return slug(name)
        return key

    def acc(self, code: str, key: str, name: str) -> Acc:
        a = self.entries.get((code, key))
        if a is None:
            a = Acc(code=code, key=key, name=name)
            self.entries[(code, key)] = a
        return a

    def member(self, code: str, edition: str, acc: Acc, row_name: str = "") -> None:
        """Record that ``acc`` is in ``edition``; warn when two source rows of one edition
        land on the same entry (the edition count would then differ from the source)."""
        acc.add("editions", [edition])
        self.edition_members.setdefault((code, edition), set()).add(acc.key)
        seen = self.row_names.setdefault((code, edition, acc.key), row_name)
        if row_name and norm(seen) != norm(row_name):
            self.warnings.append(f"{code} {edition}: rows {seen!r} and {row_name!r} merged "
                                 f"into {acc.key}")

    def edition(self, code: str, edition: str, *, published_on: date | None, basis: str,
                source_url: str, provenance: str, licence: str) -> None:
        self.editions[(code, edition)] = {
            "list": code, "edition": edition,
            "published_on": published_on.isoformat() if published_on else None,
            "basis": basis, "source_url": source_url, "provenance": provenance,
            "licence": licence,
        }

    def evidence_source(self, list_provenance: str) -> str:
        ids = re.findall(r"\bE\d+\b", list_provenance)
        if not ids:
            return list_provenance
        parts = [f"raw/web_evidence.csv {i}: {self.web[i]['url']}" for i in ids if i in self.web]
        return "; ".join(parts)

    # ---- institutions.csv -------------------------------------------------------
    def inst_row(self, key: str, csv_list: str) -> dict[str, str] | None:
        for r in self.inst_by_key.get(key, []):
            if r["list"] == csv_list:
                return r
        return None

    def apply_institution_facts(self, acc: Acc, row: dict[str, str]) -> None:
        """Names, IDs and (BIS) dates from the hand-curated institutions.csv row."""
        acc.add_alias(row["canonical_name"])
        bases = [norm(n) for n in (acc.name, row["canonical_name"]) if n]
        for a in split_aliases(row["aliases"]):
            # institutions.csv pools aliases over all lists; skip sub-unit names ("X, Y
            # Research Institute") so that one list's coverage does not leak into another
            if any(norm(a).startswith(b + " ") for b in bases):
                continue
            acc.add_alias(a)
        if row["name_zh"]:
            acc.add("aliases_zh", [row["name_zh"]])
        if row["country"]:
            acc.add("countries", [row["country"]])
        if row["parent_institution_key"] and not acc.parent_key:
            acc.parent_key = row["parent_institution_key"]
        ror = bare_ror(row["ror_id"])
        if ror and not acc.ror:
            acc.ror = ror
            acc.add("provenance", [f"ror: {row['ror_match_method']}; {row['ror_provenance']}"])
            acc.add("licences", [LIC_ROR])
        oa = short_oa(row["openalex_id"])
        if oa:
            acc.add("openalex_ids", [oa])
            acc.add("provenance",
                    [f"openalex {oa}: institutions.csv ({row['openalex_provenance']})"])
        acc.add("provenance", [f"institution row: {INSTITUTIONS}"])
        if row["institution_notes"]:
            acc.add("notes", [f"institutions.csv: {row['institution_notes']}"])

    # ---- BIS Entity List ----------------------------------------------------------
    def build_entity_list(self) -> None:
        code, ed = "BIS_ENTITY_LIST", "eCFR-2026-07-09"
        doc = read_json(self.src / F_EL)
        prov = FILE_PROVENANCE[F_EL]
        self.edition(code, ed, published_on=None,
                     basis="eCFR text (15 CFR 744 Supp. No. 4) as downloaded July 2026, extracted "
                           "2026-07-09; the eCFR is a consolidation, not a dated edition, so no "
                           "publication date. Lists only current entries (no removals).",
                     source_url=URL_EL, provenance=prov, licence=LIC_NSFREG)
        claimed: dict[str, str] = {}
        for ent in doc["entities"]:
            names = [ent["name"], *ent.get("aliases", [])]
            key = self.inst_name_index.get(code, {}).get(norm(ent["name"]))
            if key is None or claimed.get(key, norm(ent["name"])) != norm(ent["name"]):
                key = slug(ent["name"])
                # link by alias only when unambiguous and not claimed by another printed name
                for n in names[1:]:
                    k = self.inst_name_index.get(code, {}).get(norm(n))
                    if k and k not in claimed and not is_generic(n):
                        key = k
                        break
            claimed.setdefault(key, norm(ent["name"]))
            acc = self.acc(code, key, ent["name"])
            acc.entry_type = entry_type_for(ent["name"])
            if re.fullmatch(r"Address \d+", ent["name"]):
                acc.entry_type = "address"
                acc.add("notes", ["an address-only Entity List entry; the eCFR reuses this "
                                  "label under several destinations, and rows with the same "
                                  "label are merged here (see dates and citations)"])
            self.member(code, ed, acc, ent["name"])
            for a in ent.get("aliases", []):
                acc.add_alias(a)
            iso = COUNTRY_ISO.get(ent.get("country") or "")
            if iso:
                acc.add("countries", [iso])
            elif ent.get("country"):
                self.warnings.append(f"no ISO code for country {ent['country']!r}")
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
        for (c, _), a in sorted(self.entries.items()):
            m = re.match(r"^(.*?)\s+subordinate institution:?\s+(.+)$", a.name, re.I)
            if c == code and m and not a.parent_key:
                a.parent_key = self.key_for(code, [m.group(1)])
        # entries printed as "<Parent>, <Unit>" (e.g. AMMS and 11 of its institutes)
        by_norm = {norm(a.name): a for (c, _), a in self.entries.items() if c == code}
        for (c, _), a in sorted(self.entries.items()):
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
        self.link_el_subset()
        self.apply_el_institution_rows()

    def link_el_subset(self) -> None:
        """The 60 university-like entries of the 2026-03-30 BIS page scrape (+ Chinese names)."""
        code, ed = "BIS_ENTITY_LIST", "BIS-web-2026-03-30"
        doc = read_json(self.src / F_EL_WEB)
        zh = {z["name"]: z["zh"] for z in read_json(self.src / F_EL_ZH)}
        self.edition(code, ed, published_on=None,
                     basis="scrape of the BIS Supplement No. 4 web page generated 2026-03-30 "
                           "(60 China entries whose names contain university/academy/institute of "
                           "technology/college); a subset, not a dated edition",
                     source_url="https://www.bis.gov/regulations/ear/744#supplement-4-744",
                     provenance=KAIXINOL, licence=LIC_KAIXINOL)
        by_name = {norm(a.name): a for (c, _), a in self.entries.items() if c == code}
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
                key = self.key_for(code, [head])
                acc = self.acc(code, key, head)
                acc.add("notes", ["in the 2026-03-30 BIS page scrape but not matched to an entry "
                                  "of the 2026-07-09 eCFR text"])
            self.member(code, ed, acc, name)
            acc.add("provenance", [f"entry text: {KAIXINOL}"])
            acc.add("licences", [LIC_KAIXINOL])
            if name in zh:
                acc.add("aliases_zh", [zh[name]])
                acc.add("provenance", [f"Chinese name: {KAIXINOL_ZH}"])
            raw = ent.get("raw", "")
            if re.search(r"subordinate|and its institutes|and all", raw, re.I):
                acc.covers_subunits = True

    def apply_el_institution_rows(self) -> None:
        code = "BIS_ENTITY_LIST"
        for row in self.inst_rows:
            if row["list"] != "BIS_ENTITY_LIST":
                continue
            key = row["institution_key"]
            acc = self.entries.get((code, key))
            via_parent = row["list_detail"].startswith("via parent entry")
            if via_parent and row["parent_institution_key"]:
                parent = self.entries.get((code, row["parent_institution_key"]))
                if parent is not None:
                    parent.add_alias(row["canonical_name"])
                    if row["name_zh"]:
                        parent.add("aliases_zh", [row["name_zh"]])
                    parent.add("notes", [f"{row['canonical_name']} ({key}) is covered via this "
                                         f"parent entry (institutions.csv: {row['list_detail']})"])
                    parent.covers_subunits = True
                    continue
            if acc is None:
                acc = self.acc(code, key, row["list_entry_name"] or row["canonical_name"])
                ed = "secondary-sources"
                self.member(code, ed, acc)
                acc.add("notes", ["not matched to the 2026-07-09 eCFR text by name: listing "
                                  "known from secondary sources only; current status NOT "
                                  "re-verified"])
                acc.add("source_urls", [row["list_source_url"]])
                self.edition(code, ed, published_on=None,
                             basis="entries known only from secondary web sources describing "
                                   "their addition (raw/web_evidence.csv); not an edition",
                             source_url=URL_EL, provenance=INSTITUTIONS, licence=LIC_WEB)
            self.apply_institution_facts(acc, row)
            if row["date_added"] and re.fullmatch(r"\d{4}-\d{2}-\d{2}", row["date_added"]):
                cite = row["legal_citation"] or "(no FR citation in source)"
                acc.facts.append(Fact(
                    date.fromisoformat(row["date_added"]),
                    f"{row['date_added_basis']} (institutions.csv)",
                    cite, self.evidence_source(row["list_provenance"]), "addition"))
            if row["row_notes"]:
                acc.add("notes", [f"institutions.csv: {row['row_notes']}"])

    # ---- BIS MEU ----------------------------------------------------------------
    def build_meu(self) -> None:
        code, ed = "BIS_MEU", "eCFR-2026-07-09"
        doc = read_json(self.src / F_MEU)
        prov = FILE_PROVENANCE[F_MEU]
        self.edition(code, ed, published_on=None,
                     basis="eCFR text (15 CFR 744 Supp. No. 7) as downloaded July 2026, extracted "
                           "2026-07-09; China entries only were captured",
                     source_url=URL_MEU, provenance=prov, licence=LIC_NSFREG)
        for ent in doc["entities"]:
            key = self.key_for(code, [ent["name"]])
            acc = self.acc(code, key, ent["name"])
            self.member(code, ed, acc, ent["name"])
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
                    acc.parent_key = self.key_for(code, [m.group(1)])
            acc.add("notes", ["the nsfreg parser carries the FR citation forward onto "
                              "subordinate-institution rows that had none printed"])
            acc.add("source_urls", [URL_MEU])
            acc.add("provenance", [f"list: {prov}"])
            acc.add("licences", [LIC_NSFREG])

    # ---- DoD 1286 -----------------------------------------------------------------
    def build_1286(self) -> None:
        code = "DOD_1286"
        rows = read_csv(self.src / F_1286)
        talent = {r["institution_key"] for r in self.inst_rows
                  if r["institution_type"].startswith("talent")}
        talent_names = {norm(r["canonical_name"]) for r in self.inst_rows
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
            self.edition(code, ed, published_on=ed_dates[ed][0],
                         basis=ed_dates[ed][1], source_url=url, provenance=OS_1286,
                         licence=LIC_OS)
        order = sorted(ed_urls)
        for r in rows:
            ed = f"FY{r['report-date']}"
            names = [r["name"], *split_aliases(r["aliases"], ";")]
            key = self.key_for(code, [r["name"]], csv_list=code)
            if key == slug(r["name"]):
                key = self.key_for(code, names, csv_list=code)
            key = self.free_key(code, ed, key, r["name"])
            acc = self.acc(code, key, r["name"])
            if r["name"] != acc.name:
                acc.add_alias(r["name"])
            self.member(code, ed, acc, r["name"])
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
        for (c, key), acc in self.entries.items():
            if c != code:
                continue
            row = self.inst_row(key, "DOD_SEC1286")
            if row:
                self.apply_institution_facts(acc, row)
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

    # ---- DoD 1260H ----------------------------------------------------------------
    def build_1260h(self) -> None:
        code = "DOD_1260H"
        rows = read_csv(self.src / F_1260H)
        starts = sorted({r["Start date"] for r in rows})
        for s in starts:
            urls = sorted({r["Source Url"] for r in rows
                           if r["Start date"] == s and r["Source Url"]})
            self.edition(code, s, published_on=date.fromisoformat(s),
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
                key = self.key_for(code, names, csv_list="DOD_SEC1260H")
            key = self.free_key(code, r["Start date"], key, clean)
            acc = self.acc(code, key, clean)
            for n in names:
                seen.setdefault(norm(n), key)
            if norm(acc.name) != norm(clean):
                acc.add_alias(clean)
            self.member(code, r["Start date"], acc, clean)
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
            acc = self.entries[(code, key)]
            last_start = max(d for d, _ in prs)
            for d, pname in sorted(set(prs)):
                if pname:
                    acc.add("notes", [f"printed under parent {pname} in the {d} edition"])
            latest_parent = next((p for d, p in prs if d == last_start and p), "")
            if latest_parent:
                pk = next((seen[norm(n)] for n in variants(latest_parent) if norm(n) in seen),
                          None) or self.key_for(code, [latest_parent], csv_list="DOD_SEC1260H")
                acc.parent_key = pk
                self.parent_in_latest[key] = pk
        parents = {acc.parent_key for (c, _), acc in self.entries.items()
                   if c == code and acc.parent_key}
        latest = starts[-1]
        for (c, key), acc in self.entries.items():
            if c != code:
                continue
            if key in parents:
                acc.covers_subunits = True
                acc.add("notes", ["the list prints named subsidiaries under this entry (each "
                                  "has its own entry)"])
            row = self.inst_row(key, "DOD_SEC1260H")
            if row:
                self.apply_institution_facts(acc, row)
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
        self.apply_1260h_fr()

    def apply_1260h_fr(self) -> None:
        code = "DOD_1260H"
        doc = read_json(self.src / F_1260H_FR)
        prov = FILE_PROVENANCE[F_1260H_FR]
        latest = max(ed for (c, ed) in self.editions if c == code)
        cands = sorted((a for (c, _), a in self.entries.items()
                        if c == code and latest in a.editions),
                       key=lambda a: (a.key in self.parent_in_latest, a.key))
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
        self.fr_1260h_unmatched = unmatched

    # ---- OFAC NS-CMIC ---------------------------------------------------------------
    def build_nscmic(self) -> None:
        code = "OFAC_NS_CMIC"
        ed_annex, ed_list = "EO14032-Annex-2021-06-03", "NS-CMIC-2021-12-16"
        self.edition(code, ed_annex, published_on=date(2021, 6, 3),
                     basis="date of Executive Order 14032 (Annex); published 86 FR 30145 on "
                           "2021-06-07; effective 2021-08-02",
                     source_url=URL_EO14032, provenance=FILE_PROVENANCE[F_EO14032],
                     licence=LIC_NSFREG)
        self.edition(code, ed_list, published_on=None,
                     basis="OFAC NS-CMIC list PDF as downloaded July 2026 (extracted "
                           "2026-07-09); the parser describes it as the list of 2021-12-16 "
                           "(latest listing date in the data), not stated on the list itself; "
                           "later changes not verified",
                     source_url=URL_NSCMIC, provenance=FILE_PROVENANCE[F_NSCMIC],
                     licence=LIC_NSFREG)
        lst = read_json(self.src / F_NSCMIC)["entities"]
        prov = FILE_PROVENANCE[F_NSCMIC]
        index: dict[str, Acc] = {}
        primary: dict[str, Acc] = {}
        for ent in lst:
            key = self.key_for(code, [ent["name"]])
            acc = self.acc(code, key, ent["name"])
            self.member(code, ed_list, acc, ent["name"])
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
        for ent in read_json(self.src / F_EO14032)["entities"]:
            acc2 = primary.get(norm(ent["name"]))
            if acc2 is None or acc2.key in claimed:
                acc2 = index.get(norm(ent["name"]))
            if acc2 is not None and acc2.key in claimed:
                acc2 = None
            if acc2 is None:
                acc2 = self.acc(code, self.key_for(code, [ent["name"]]), ent["name"])
                acc2.entry_type = "company"
                acc2.add("notes", ["in the EO 14032 Annex but not matched by name to the NS-CMIC "
                                   "list PDF"])
                index[norm(ent["name"])] = acc2
            claimed.add(acc2.key)
            acc2.add_alias(ent["name"])
            self.member(code, ed_annex, acc2, ent["name"])
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

    # ---- Canada NRO -------------------------------------------------------------------
    def build_nro(self) -> None:
        code, ed = "CA_NRO", "2024-04-18"
        self.edition(code, ed, published_on=NRO_DOCUMENT_DATE,
                     basis=NRO_DOCUMENT_BASIS + "; this copy is the page version modified "
                           "2024-04-18 (dcterms.modified, a web-page date, not the list's), "
                           "downloaded 2024-09-09",
                     source_url=URL_NRO, provenance=CANADA, licence=LIC_CANADA)
        for r in read_csv(self.src / F_NRO):
            name = r["name"]
            key = self.key_for(code, [name])
            acc = self.acc(code, key, name)
            self.member(code, ed, acc, name)
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

    # ---- ASPI -----------------------------------------------------------------------
    def build_aspi(self) -> None:
        code, ed = "ASPI_UNITRACKER", "2020-08-21"
        self.edition(code, ed, published_on=None,
                     basis="scrape of unitracker.aspi.org.au committed 2020-08-21 (commit date, "
                           "not an ASPI publication date); an assessment, not a designation",
                     source_url=URL_ASPI, provenance=MISP, licence=LIC_ASPI)
        doc = read_json(self.src / F_ASPI)
        for v in doc["values"]:
            value = v["value"]
            m = re.match(r"^(.*?)\s*\(([^()]*[\u4e00-\u9fff][^()]*)\)\s*$", value)
            name, zh = (m.group(1), m.group(2)) if m else (value, "")
            meta = v.get("meta", {})
            key = self.key_for(code, [name, value], csv_list="ASPI_UNITRACKER")
            acc = self.acc(code, key, name)
            self.member(code, ed, acc, name)
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
            row = self.inst_row(key, "ASPI_UNITRACKER")
            if row:
                self.apply_institution_facts(acc, row)
            acc.add("notes", ["context, not a designation; no listing date (the tracker gives "
                              "none)"])

    # ---- IDs ----------------------------------------------------------------------------
    def propagate_ids(self) -> None:
        """Give every entry of an institution the ROR/OpenAlex IDs known for its key."""
        ror_by_key: dict[str, tuple[str, str]] = {}
        for row in self.inst_rows:
            ror = bare_ror(row["ror_id"])
            if ror:
                ror_by_key.setdefault(row["institution_key"], (
                    ror, f"ror: {row['ror_match_method']}; {row['ror_provenance']} "
                         f"(via institutions.csv key {row['institution_key']})"))
        oa_by_key: dict[str, set[tuple[str, str]]] = {}
        for row in self.inst_rows:
            oa = short_oa(row["openalex_id"])
            if oa and not row["parent_institution_key"]:
                oa_by_key.setdefault(row["institution_key"], set()).add(
                    (oa, f"openalex {oa}: institutions.csv ({row['openalex_provenance']})"))
        for acc in self.entries.values():
            if not acc.ror and acc.key in ror_by_key:
                acc.ror, p = ror_by_key[acc.key]
                acc.add("provenance", [p])
                acc.add("licences", [LIC_ROR])
            for oa, p in sorted(oa_by_key.get(acc.key, ())):
                acc.add("openalex_ids", [oa])
                acc.add("provenance", [p])

    def apply_ror_records(self) -> None:
        """ROR names as aliases, and the ROR parent as a note, for entries with a ROR ID."""
        records = {bare_ror(r["ror_id"]): r for r in
                   read_jsonl(self.src / F_ROR)}
        for acc in self.entries.values():
            rec = records.get(acc.ror) if acc.ror else None
            if rec is None:
                continue
            prov = f"ror names: {ROR_REPO}:{rec['path']}"
            for n in rec.get("names", []):
                acc.add_alias(n)
            acc.add("provenance", [prov])
            acc.add("licences", [LIC_ROR])
            if rec.get("status") != "active":
                acc.add("notes", [f"ROR record {acc.ror} is {rec.get('status')}"])
            parents = sorted(f"{name} ({bare_ror(url)})" for kind, name, url in
                             rec.get("relationships", []) if kind.lower() == "parent")
            if parents:
                acc.add("notes", ["ROR parent: " + "; ".join(parents)])

    def openalex_index(self) -> OpenAlexIndex:
        """The recorded OpenAlex institution objects, read once (ROR pairs, names, countries)."""
        if self._oa_index is not None:
            return self._oa_index
        idx = OpenAlexIndex()
        if self.oa_objects is None:
            self._oa_index = idx
            return idx
        rows = list(read_jsonl(self.oa_objects))
        idx.files[F_OPENALEX] = sha256_hex(read_bytes(self.oa_objects))
        recorded = sorted({f for r in rows for f in r.get("recorded_in", ())})
        for fname in recorded:   # the files in the order the objects were recorded
            for r in rows:
                if fname not in r.get("recorded_in", ()):
                    continue
                oid, ror, cc = r.get("id"), r.get("ror"), r.get("country_code")
                if not oid:
                    continue
                if ror:
                    idx.r2o.setdefault(ror, set()).add(oid)
                    idx.where.setdefault((ror, oid), set()).add(fname)
                names = [r.get("display_name"), *r.get("display_name_alternatives", ())]
                for name in (n for n in names if isinstance(n, str) and n):
                    idx.named.setdefault((norm(name), cc), {}).setdefault(oid, (ror, fname))
                    if isinstance(cc, str) and cc:
                        idx.country.setdefault(oid, set()).add(cc.upper())
        self._oa_index = idx
        return idx

    def ror_records(self) -> dict[str, dict[str, Any]]:
        """The shipped ROR records by bare ROR ID, read once."""
        if self._ror_records is None:
            self._ror_records = {r: rec for rec in read_jsonl(self.src / F_ROR)
                                 if (r := bare_ror(rec.get("ror_id")))}
        return self._ror_records

    def ror_countries(self, ror: str) -> tuple[set[str], str]:
        """The countries of a ROR ID, and how they are known.

        The countries of the recorded OpenAlex institutions that carry the ROR; failing
        those, the countries of its ROR parents' OpenAlex institutions (a unit is in its
        parent's country: the CAS institutes and university units the lists print).
        Empty when neither is recorded.
        """
        idx = self.openalex_index()
        own = {c for o in idx.r2o.get(ror, ()) for c in idx.country.get(o, ())}
        if own:
            return own, "is recorded in"
        rec = self.ror_records().get(ror, {})
        parents = sorted(r for kind, _name, url in rec.get("relationships", [])
                         if kind.lower() == "parent" and (r := bare_ror(url)))
        via = {c for p in parents for o in idx.r2o.get(p, ()) for c in idx.country.get(o, ())}
        if via:
            return via, f"has its ROR parent ({', '.join(parents)}) recorded in"
        return set(), ""

    def reject_cross_country_ids(self) -> None:
        """Drop every ROR / OpenAlex ID whose institution is in another country than the entry.

        An institution's countries are those its list entries print (all entries sharing its
        key).  An OpenAlex ID is in the country its recorded institution object gives; a ROR
        ID in the countries of the OpenAlex institutions recorded with that ROR.  An ID whose
        countries are known and share none with the institution's is never applied, however
        it was proposed (institutions.csv, a ROR name match, a merge or a reviewed link): an
        ID link across countries is a name collision, not the same institution.  Each drop is
        recorded in ``self.cross_country`` and reported in the build summary.
        """
        idx = self.openalex_index()
        by_key: dict[str, list[Acc]] = {}
        for (_code, key), acc in sorted(self.entries.items()):
            by_key.setdefault(key, []).append(acc)
        for key, accs in by_key.items():
            home = {c.upper() for a in accs for c in a.countries if c}
            if not home:
                continue
            for acc in accs:
                if acc.ror:
                    ror_cc, where = self.ror_countries(acc.ror)
                    if ror_cc and not ror_cc & home:
                        self.cross_country[(key, acc.ror)] = (
                            f"ROR {acc.ror} {where} {'/'.join(sorted(ror_cc))}; the "
                            f"list prints {'/'.join(sorted(home))}")
                        acc.ror = None
                for oid in list(acc.openalex_ids):
                    oa_cc = idx.country.get(oid, set())
                    if oa_cc and not oa_cc & home:
                        self.cross_country[(key, oid)] = (
                            f"OpenAlex {oid} is in {'/'.join(sorted(oa_cc))}; the list prints "
                            f"{'/'.join(sorted(home))}")
                        acc.openalex_ids.remove(oid)
                        acc.provenance = [p for p in acc.provenance
                                          if not p.startswith(f"openalex {oid}")]
            for (k, ident), why in sorted(self.cross_country.items()):
                if k == key:
                    for acc in accs:
                        acc.add("notes", [f"ID {ident} not applied (countries differ): {why}"])

    def resolve_openalex(self) -> dict[str, Any]:
        """Fill openalex_ids from the ROR IDs via the recorded OpenAlex records."""
        idx = self.openalex_index()
        files, r2o, where, named = idx.files, idx.r2o, idx.where, idx.named
        resolved = 0
        for acc in self.entries.values():
            if acc.ror and acc.ror in r2o:
                for oid in sorted(r2o[acc.ror]):
                    if (acc.key, oid) in self.cross_country:
                        continue
                    if oid not in acc.openalex_ids:
                        acc.add("openalex_ids", [oid])
                    fs = sorted(where[(acc.ror, oid)])
                    acc.add("provenance", [f"openalex {oid}: recorded OpenAlex institution record "
                                           f"with ror {acc.ror} in shared/data/openalex/{fs[0]}"
                                           + (f" (+{len(fs) - 1} more files)" if len(fs) > 1
                                              else "")])
                    acc.add("licences", [LIC_OPENALEX])
                resolved += 1
        # entries with no ID at all: an exact normalised-name match (same country) to exactly
        # one recorded OpenAlex institution record is a *candidate* link (see link_ids): it
        # is used only once reviewed (tracker/data/id_links.csv, status accepted)
        self.named_records = named
        return {"files": files, "ror_to_openalex_pairs": sum(len(v) for v in r2o.values()),
                "entries_resolved_via_ror": resolved}

    # ---- one institution, one key --------------------------------------------------------
    def merge_institutions(self, merges: Traversable, *, again: bool = False) -> dict[str, Any]:
        """One institution key per institution: keys that share a ROR or OpenAlex ID are
        merged automatically; keys with the same name and country only where the reviewed
        merge file says so (``decision`` merge), each with its reason.  Two entries of one
        list that become one institution become one entry (editions, dates, aliases kept).

        Returns what was merged: ``{"groups": [...], "keep_apart": n}``.
        """
        parent: dict[str, str] = {}

        def find(k: str) -> str:
            while parent.get(k, k) != k:
                k = parent[k]
            return k

        reasons: dict[str, list[str]] = {}
        apart: set[frozenset[str]] = set()
        preferred: dict[str, str] = {}
        rows = read_csv(merges) if merges.is_file() else []
        for r in rows:
            if r["decision"] == "keep_apart":
                apart.add(frozenset((r["key"], r["into"])))
        known = {k for (_c, k) in self.entries}

        def union(a: str, b: str, why: str) -> None:
            if frozenset((a, b)) in apart:
                self.warnings.append(f"merge of {a} and {b} ({why}) refused: the merge file "
                                     "says keep apart")
                return
            ra, rb = find(a), find(b)
            if ra == rb:
                return
            parent[rb] = ra
            reasons.setdefault(ra, []).extend(reasons.pop(rb, []))
            reasons[ra].append(why)

        by_id: dict[str, set[str]] = {}
        for (_code, key), acc in sorted(self.entries.items()):
            ids = ([f"ror {acc.ror}"] if acc.ror else []) + [f"OpenAlex {o}"
                                                            for o in acc.openalex_ids]
            for i in ids:
                by_id.setdefault(i, set()).add(key)
        for ident, keys in sorted(by_id.items()):
            ks = sorted(keys)
            for k in ks[1:]:
                union(ks[0], k, f"{k} and {ks[0]}: same {ident}")
        for r in rows:
            if r["decision"] != "merge":
                continue
            if r["key"] not in known or r["into"] not in known:
                if again:   # merged by the first pass
                    continue
                self.warnings.append(f"merge file: {r['key']} -> {r['into']}: key not in the "
                                     "registry (stale row)")
                continue
            union(r["into"], r["key"], f"{r['key']} into {r['into']}: {r['reason']} "
                                       "(reviewed merge, tracker/data/institution_merges.csv)")
            preferred[r["key"]] = r["into"]
        groups: dict[str, set[str]] = {}
        for k in known:
            groups.setdefault(find(k), set()).add(k)

        def canonical(keys: set[str]) -> str:
            targets = {preferred[k] for k in keys if k in preferred} - set(preferred)
            if len(targets) == 1:
                return next(iter(targets))
            return sorted(keys, key=lambda k: (k.startswith("auto_"), k))[0]

        canon = {k: canonical(ks) for ks in groups.values() for k in ks}
        merged: dict[tuple[str, str], Acc] = {}
        for (code, key), acc in sorted(self.entries.items(),
                                       key=lambda kv: (kv[0][0], kv[0][1] != canon[kv[0][1]],
                                                       kv[0][1])):
            ck = canon[key]
            into = merged.get((code, ck))
            if into is None:
                if key != ck:
                    acc.merged_from.append(f"{code}:{key}")
                    acc.key = ck
                merged[(code, ck)] = acc
                continue
            self._merge_acc(into, acc, code, key)
        self.entries = merged
        out = []
        for root, members in sorted(groups.items()):
            if len(members) > 1:
                out.append({"institution_key": canon[root], "keys": sorted(members),
                            "reasons": sorted(set(reasons.get(root, [])))})
        return {"groups": out, "keep_apart": len(apart)}

    def link_ids(self, links: Traversable) -> dict[str, Any]:
        """Candidate ID links by exact name + country, and the reviewed decisions on them.

        Every institution key still without an OpenAlex ID whose printed name (or a printed
        alias of two words or more, not generic) equals, after normalisation, the display
        name or an alternative name of exactly one recorded OpenAlex institution of the same
        country gets a candidate link (method ``exact_name_country``, confidence
        ``medium``).  ``links_path`` keeps one row per link with its ``status``:
        ``candidate`` (not used), ``accepted`` (reviewed: its IDs are applied, with the
        review note as provenance) or ``rejected``.  Statuses already in the file are kept.
        An accepted link whose only evidence is a file of the independent evaluation set
        (:data:`EVALUATION_FILES`) is not applied: the registry must not depend on the
        records that score it.  The file is never written here: the regenerated rows
        (sorted, deterministic) are kept in ``self.links_csv`` for ``tracker lists build
        --links-out``.
        """
        old: dict[str, dict[str, str]] = {}
        if links.is_file():
            old = {r["link_id"]: r for r in read_csv(links)}
        by_key: dict[str, list[Acc]] = {}
        for (_code, key), acc in sorted(self.entries.items()):
            by_key.setdefault(key, []).append(acc)
        rows: dict[str, dict[str, str]] = {}
        for key, accs in sorted(by_key.items()):
            if any(a.openalex_ids for a in accs):
                continue
            for acc in accs:
                if not acc.countries:
                    continue
                for n in [acc.name, *acc.aliases]:
                    if is_generic(n) or len(norm(n).split()) < 2:
                        continue
                    cands = self.named_records.get((norm(n), acc.countries[0]), {})
                    if len(cands) != 1:
                        continue
                    oid, (oror, fname) = next(iter(cands.items()))
                    link_id = f"{key}={oid}"
                    if link_id in rows or (key, oid) in self.cross_country:
                        continue
                    prev = old.get(link_id, {})
                    rows[link_id] = {
                        "link_id": link_id, "institution_key": key, "name": acc.name,
                        "country": acc.countries[0], "openalex_id": oid, "ror": oror or "",
                        "method": "exact_name_country", "confidence": "medium",
                        "evidence": f"{acc.code} prints {n!r}; the recorded OpenAlex "
                                    f"institution {oid} has this name, country "
                                    f"{acc.countries[0]} (shared/data/openalex/{fname})",
                        "status": prev.get("status", "candidate"),
                        "review_note": prev.get("review_note", ""),
                    }
        # ROR records (raw/ror_records_selected.jsonl; they carry no country): exact name
        ror_names: dict[str, set[str]] = {}
        for rec in read_jsonl(self.src / F_ROR):
            for rn in rec.get("names", []):
                r = bare_ror(rec["ror_id"])
                if r:
                    ror_names.setdefault(norm(rn), set()).add(r)
        for key, accs in sorted(by_key.items()):
            if any(a.ror for a in accs):
                continue
            for acc in accs:
                for n in [acc.name, *acc.aliases]:
                    found = ror_names.get(norm(n), set())
                    if is_generic(n) or len(norm(n).split()) < 2 or len(found) != 1:
                        continue
                    ror = next(iter(found))
                    link_id = f"{key}=ror:{ror}"
                    if link_id in rows or (key, ror) in self.cross_country:
                        continue
                    prev = old.get(link_id, {})
                    rows[link_id] = {
                        "link_id": link_id, "institution_key": key, "name": acc.name,
                        "country": acc.countries[0] if acc.countries else "",
                        "openalex_id": "", "ror": ror, "method": "exact_name_ror_record",
                        "confidence": "medium",
                        "evidence": f"{acc.code} prints {n!r}; ROR record {ror} has this name "
                                    f"({RECORDED_AS[F_ROR]}; ROR records carry no country here)",
                        "status": prev.get("status", "candidate"),
                        "review_note": prev.get("review_note", ""),
                    }
        for link_id, prev in old.items():   # decisions on links no longer generated stay
            if link_id not in rows and prev.get("status") in ("accepted", "rejected"):
                self.warnings.append(f"id link {link_id}: no longer generated (kept)")
                rows[link_id] = prev
        applied = 0
        unjustified: list[str] = []
        for row in rows.values():
            if row["status"] != "accepted":
                continue
            if rests_on_evaluation_set(row.get("evidence", "")):
                unjustified.append(row["link_id"])
                self.warnings.append(f"id link {row['link_id']}: accepted, but its only evidence "
                                     "is a file of the independent evaluation set: not applied")
                continue
            for acc in by_key.get(row["institution_key"], []):
                if row["openalex_id"]:
                    acc.add("openalex_ids", [row["openalex_id"]])
                    acc.add("provenance", [
                        f"openalex {row['openalex_id']}: reviewed link {row['link_id']} "
                        f"({row['method']}; {row['review_note']})"])
                    acc.add("licences", [LIC_OPENALEX])
                if row["ror"] and not acc.ror:
                    acc.ror = row["ror"]
                    acc.add("provenance", [f"ror {row['ror']}: reviewed link {row['link_id']} "
                                           f"({row['method']}; {row['review_note']})"])
                    acc.add("licences", [LIC_ROR])
            applied += 1
        cols = ["link_id", "institution_key", "name", "country", "openalex_id", "ror",
                "method", "confidence", "status", "review_note", "evidence"]
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
        w.writeheader()
        for link_id in sorted(rows):
            w.writerow({c: rows[link_id].get(c, "") for c in cols})
        self.links_csv = buf.getvalue()
        status = Counter(r["status"] for r in rows.values())
        return {"links": len(rows), "accepted": status["accepted"],
                "candidates": status["candidate"], "rejected": status["rejected"],
                "applied": applied,
                "not_applied_evaluation_evidence": sorted(unjustified)}

    def share_ids(self) -> None:
        """Every entry of an institution carries the ROR and OpenAlex IDs of its others."""
        by_key: dict[str, list[Acc]] = {}
        for (_code, key), acc in sorted(self.entries.items()):
            by_key.setdefault(key, []).append(acc)
        for key, accs in by_key.items():
            ror = next((a for a in accs if a.ror), None)
            oids = sorted({o for a in accs for o in a.openalex_ids})
            for acc in accs:
                if ror is not None and not acc.ror:
                    acc.ror = ror.ror
                    acc.add("provenance", [f"ror {ror.ror}: from {ror.code}:{key}, the same "
                                           "institution"])
                    acc.add("licences", [LIC_ROR])
                new = [o for o in oids if o not in acc.openalex_ids]
                if new:
                    acc.add("openalex_ids", new)
                    acc.add("provenance", [f"openalex {', '.join(new)}: from another list's "
                                           f"entry of the same institution ({key})"])

    def _merge_acc(self, into: Acc, other: Acc, code: str, key: str) -> None:
        """Fold ``other`` (entry ``code:key``) into ``into``: one entry of one list."""
        into.merged_from.append(f"{code}:{key}")
        into.merged_from.extend(other.merged_from)
        if norm(other.name) != norm(into.name):
            into.add_alias(other.name)
        for a in other.aliases:
            into.add_alias(a)
        for attr in ("aliases_zh", "generic", "countries", "openalex_ids", "editions",
                     "citations", "source_urls", "provenance", "licences", "notes"):
            into.add(attr, getattr(other, attr))
        into.facts.extend(other.facts)
        if other.ror and not into.ror:
            into.ror = other.ror
        elif other.ror and other.ror != into.ror:
            self.warnings.append(f"{code}:{into.key}: merged entries carry RORs {into.ror} "
                                 f"and {other.ror}")
        into.covers_subunits = into.covers_subunits or other.covers_subunits
        if into.removed_on is None or other.removed_on is None:
            into.removed_on, into.removed_on_source = None, ""   # still listed under one
        into.add("notes", [f"one entry for the rows printed as '{into.name}' and "
                           f"'{other.name}' (same institution, see merged_from)"])

    # ---- output ---------------------------------------------------------------------------
    def finish(self) -> list[dict[str, Any]]:
        out = []
        for (code, key), a in sorted(self.entries.items()):
            facts = sorted(a.facts, key=lambda f: (f.on, f.basis, f.citation, f.source))
            seen: set[tuple[str, str, str, str]] = set()
            uniq = []
            for f in facts:
                k = (f.on.isoformat(), f.basis, f.citation, f.source)
                if k not in seen:
                    seen.add(k)
                    uniq.append(f)
            adds = [f for f in uniq if f.role == "addition"]
            first = adds[0] if adds else None
            kind = "addition"
            on_by = [f for f in uniq if f.role == "on_list_by"]
            if first is None and on_by:
                # only "on the list by" dates: listed_on is one, and says so
                first, kind = on_by[0], "on_list_by"
            eds = self.sorted_editions(code, a.editions)
            countries = [c for c in a.countries if c]
            country = countries[0] if countries else None
            notes = list(a.notes)
            if len(set(countries)) > 1:
                notes.append("also listed under: " + ", ".join(sorted(set(countries[1:]))))
            if first is None and code != "ASPI_UNITRACKER":
                notes.append("no sourced date of addition: listed_on unknown")
            if len({f.on for f in adds}) > 1:
                notes.append("sources disagree on the date of addition: "
                             + "; ".join(f"{f.on.isoformat()} ({f.citation})" for f in adds)
                             + "; listed_on is the earliest")
            generic = [g for g in a.generic if g in a.aliases]
            if is_generic(a.name):
                generic.append(a.name)
            out.append({
                "entry_id": f"{code}:{key}",
                "list": code,
                "name": a.name,
                "institution_key": key,
                "aliases": sorted(a.aliases, key=lambda s: (norm(s), s)),
                "aliases_zh": sorted(set(a.aliases_zh)),
                "generic_aliases": sorted(set(generic)),
                "country": country,
                "entry_type": a.entry_type,
                "ror": a.ror,
                "openalex_ids": sorted(set(a.openalex_ids)),
                "parent_key": a.parent_key if a.parent_key != key else None,
                "covers_subunits": a.covers_subunits and a.entry_type != "talent_program",
                "editions": eds,
                "listed_on": first.on.isoformat() if first else None,
                "listed_on_basis": first.basis if first else "",
                "listed_on_source": first.source if first else "",
                "dates": [f.to_json() for f in uniq],
                "removed_on": a.removed_on.isoformat() if a.removed_on else None,
                "removed_on_source": a.removed_on_source,
                "citations": a.citations,
                "source_url": a.source_urls[0] if a.source_urls else "",
                "provenance": " | ".join(a.provenance),
                "licence": "; ".join(sorted(set(a.licences))),
                "notes": " | ".join(n for n in dict.fromkeys(notes) if n),
                **({"listed_on_kind": kind} if kind != "addition" else {}),
                **({"merged_from": sorted(set(a.merged_from))} if a.merged_from else {}),
            })
        return out

    def sorted_editions(self, code: str, eds: Iterable[str]) -> list[str]:
        order = [ed for (c, ed) in sorted(self.editions) if c == code]
        return sorted(set(eds), key=lambda e: (order.index(e) if e in order else 99, e))


#: Canada's list: the date of its own document, not the web page's modification date.
NRO_DOCUMENT_DATE = date(2024, 1, 9)
NRO_DOCUMENT_BASIS = (
    "date of the list document: the page links "
    "'1082-named-research-organizations-list-09Jan2024.pdf' (09 Jan 2024 in the document's "
    "name; raw/canada_nro_page_modified-2024-04-18_downloaded-2024-09-09.html, see "
    "restricted/PROVENANCE.md); the list was announced on January 16, 2024 (shared/policy/"
    "policy-rules.md section 3, iran-times.com report)")
#: DoD 1286: the first list is the FY2022 edition (the source's date, see DOD_1286 notes).
DOD1286_FIRST = date(2023, 6, 29)
DOD1286_FIRST_BASIS = (
    "first edition (FY2022) of the Section 1286 list, published 2023-06-29 per its document "
    "URL https://media.defense.gov/2023/Jun/29/2003251160/-1/-1/1/COUNTERING-UNWANTED-"
    "INFLUENCE-IN-DEPARTMENT-FUNDED-RESEARCH-AT-INSTITUTIONS-OF-HIGHER-EDUCATION.PDF")

LISTS = [
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
    {"code": "OFAC_NS_CMIC", "name": "OFAC Non-SDN Chinese Military-Industrial Complex Companies "
     "List (NS-CMIC)", "authority": "U.S. Department of the Treasury, OFAC (E.O. 13959 as amended "
     "by E.O. 14032)", "is_designation": True, "data_date": "2026-07-09",
     "source_url": URL_NSCMIC, "licence": LIC_NSFREG,
     "notes": "Snapshot: the OFAC PDF as downloaded July 2026 (extracted 2026-07-09), which is "
              "the list of 2021-12-16 per the parser; whether "
              "OFAC changed it later was not verified."},
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
    {"code": "ASPI_UNITRACKER", "name": "ASPI China Defence Universities Tracker",
     "authority": "Australian Strategic Policy Institute (assessment, not a designation)",
     "is_designation": False, "data_date": "2020-08-21", "source_url": URL_ASPI,
     "licence": LIC_ASPI,
     "notes": "Scrape of 2020-08 (6 years old); context only, never a red flag on its own."},
]


class StageResult(Protocol):
    """What the shipped-official-files stage returns (see ``list_sources_stage`` in
    :mod:`tracker.registry_versions`): entries, lists and editions as registry JSON, and per
    list its counts and source file."""

    entries: list[dict[str, Any]]
    lists: list[dict[str, Any]]
    editions: list[dict[str, Any]]
    report: dict[str, Any]


#: The stage that adds the shipped official list files, called as
#: ``stage(entries, merge_file=..., links_file=...)``: the same identity work (reviewed
#: merges and reviewed ID links) as ``tracker lists update``.
Stage = Callable[..., StageResult]

#: What marks an entry as using a shipped file (default: the file's provenance string).
_CITED_AS = {
    F_INST: "institution row: ",
    F_WEB: "raw/web_evidence.csv E",
    F_ROR: "ror names: ",
    F_OPENALEX: "recorded OpenAlex institution record",
}


@dataclass(frozen=True, slots=True)
class BuildResult:
    """A built registry: the document, a summary for the maintainer, and the ID-link file
    regenerated from it (candidates found, reviewed statuses kept)."""

    document: dict[str, Any]
    summary: dict[str, Any]
    links_csv: str

    def text(self) -> str:
        """The document as ``registry.json`` holds it (see :func:`dumps`)."""
        return dumps(self.document)


def input_files(source: Traversable = SOURCES) -> dict[str, dict[str, Any]]:
    """Every shipped file the build reads: SHA-256 and size of its content (the recorded
    copy, gunzipped where shipped ``.gz``), where it was recorded, its provenance.

    Raises
    ------
    InputMissingError
        A file is not in the package.
    """
    out: dict[str, dict[str, Any]] = {}
    for f in INPUT_FILES:
        data = read_bytes(source / f)
        out[f] = {"sha256": sha256_hex(data), "bytes": len(data),
                  "provenance": FILE_PROVENANCE[f],
                  **({"recorded_as": RECORDED_AS[f]} if f in RECORDED_AS else {})}
    return out


def _bundled_sources(inputs: dict[str, dict[str, Any]], entries: list[dict[str, Any]],
                     stage: StageResult) -> list[dict[str, Any]]:
    """Version 0's record per source: the shipped file, its hash, and per list how many
    entries use it."""
    texts = [(e["list"], json.dumps(e, ensure_ascii=False)) for e in entries]
    out: list[dict[str, Any]] = []
    for f, info in inputs.items():
        needle = _CITED_AS.get(f, FILE_PROVENANCE[f])
        used = Counter(code for code, t in texts if needle in t)
        out.append({"source": "bundled", "origin": f"tracker/data/sources/{f}",
                    "recorded_copy": info["provenance"], "sha256": info["sha256"],
                    "bytes": info["bytes"], "entries": dict(sorted(used.items()))})
    by_origin: dict[str, dict[str, Any]] = {}
    for code, rep in sorted(stage.report.items()):
        src = by_origin.setdefault(rep["from"], {"source": "bundled", "origin": rep["from"],
                                                 "sha256": rep["sha256"], "entries": {}})
        src["entries"][code] = rep["entries"]
    out.extend(by_origin[k] for k in sorted(by_origin))
    return out


def build_registry(stage: Stage, *, source: Traversable = SOURCES,
                   data: Traversable = DATA) -> BuildResult:
    """Build the bundled registry (version 0) from the shipped files.

    Parameters
    ----------
    stage : callable
        Adds the official list files shipped in ``tracker/data/sources`` through the
        update's identity work (``tracker.registry_versions.list_sources_stage``).
    source : Traversable
        The folder of shipped inputs (default ``tracker/data/sources``).
    data : Traversable
        The folder holding ``institution_merges.csv`` and ``id_links.csv`` (default
        ``tracker/data``).

    Returns
    -------
    BuildResult

    Raises
    ------
    InputMissingError
        An input file is not in the package.
    """
    inputs = input_files(source)
    merges = data / MERGES_FILE
    b = Builder(source, source / F_OPENALEX)
    b.build_entity_list()
    b.build_meu()
    b.build_1286()
    b.build_1260h()
    b.build_nscmic()
    b.build_nro()
    b.build_aspi()
    b.propagate_ids()
    b.reject_cross_country_ids()   # before any ROR name becomes an alias
    b.apply_ror_records()
    oa_info = b.resolve_openalex()
    b.reject_cross_country_ids()
    merge_info = b.merge_institutions(merges)
    b.share_ids()
    b.reject_cross_country_ids()
    b.apply_ror_records()
    oa_info = b.resolve_openalex()   # again: RORs shared by merged entries
    link_info = b.link_ids(data / LINKS_FILE)
    b.reject_cross_country_ids()   # reviewed links too
    b.apply_ror_records()
    oa_info = b.resolve_openalex()   # RORs of reviewed links
    again = b.merge_institutions(merges, again=True)   # keys that reviewed links gave a shared ID
    merge_info["groups"] = sorted(merge_info["groups"] + again["groups"],
                                  key=lambda g: g["institution_key"])
    b.share_ids()
    b.reject_cross_country_ids()
    b.apply_ror_records()
    entries = b.finish()
    # ---- official list files shipped in tracker/data/sources (the update's stage) --------
    shipped = stage(entries, merge_file=merges, links_file=data / LINKS_FILE)
    entries.extend(shipped.entries)
    counts: dict[tuple[str, str], int] = {}
    for e in entries:
        for ed in e["editions"]:
            counts[(e["list"], ed)] = counts.get((e["list"], ed), 0) + 1
    editions = []
    for (code, ed), info in sorted(b.editions.items()):
        editions.append({**info, "entry_count": counts.get((code, ed), 0)})
    editions.extend({**ed, "entry_count": counts.get((ed["list"], ed["edition"]), 0)}
                    for ed in shipped.editions)
    per_list: dict[str, dict[str, int]] = {}
    for e in entries:
        d = per_list.setdefault(e["list"], {"entries": 0, "no_ror": 0, "no_openalex": 0,
                                            "no_listed_on": 0})
        d["entries"] += 1
        d["no_ror"] += e["ror"] is None
        d["no_openalex"] += not e["openalex_ids"]
        d["no_listed_on"] += e["listed_on"] is None
    merges_hash = sha256_hex(read_bytes(merges))[:16] if merges.is_file() else "absent"
    built_from = {
        "source_dir": "tracker/data/sources",
        "inputs": inputs,
        "openalex_inputs": {k: {"sha256": v} for k, v in oa_info["files"].items()},
        "openalex_recorded_in": sorted({f for fs in b.openalex_index().where.values()
                                        for f in fs}),
        "openalex_not_read": list(EVALUATION_FILES),
        "ror_to_openalex_pairs": oa_info["ror_to_openalex_pairs"],
        "entries_resolved_via_ror": oa_info["entries_resolved_via_ror"],
        "merged_institutions": merge_info["groups"],
        "id_links": {**link_info, "file": "tracker/data/id_links.csv"},
        "id_links_rejected_across_countries": [
            {"institution_key": k, "id": i, "why": why}
            for (k, i), why in sorted(b.cross_country.items())],
        "merge_file": f"tracker/data/institution_merges.csv (sha256 {merges_hash})",
        "per_list": per_list,
        "unresolved": {
            "entries_without_ror": sum(v["no_ror"] for v in per_list.values()),
            "entries_without_openalex_id": sum(v["no_openalex"] for v in per_list.values()),
            "entries_with_ror_but_no_openalex_id": sum(
                1 for e in entries if e["ror"] and not e["openalex_ids"]),
            "fr_1260h_2026_unmatched": sorted(b.fr_1260h_unmatched),
        },
        "builder": "tracker.listsources.build (tracker lists build)",
        "list_sources": {"folder": "tracker/data/sources (see its PROVENANCE.md)",
                         "per_list": shipped.report},
    }
    built_from["bundled_sources"] = _bundled_sources(inputs, entries, shipped)
    body = {"built_from": built_from, "lists": LISTS + shipped.lists, "editions": editions,
            "entries": entries}
    h = hashlib.sha256()
    for f in INPUT_FILES:
        h.update(f"{f}:{inputs[f]['sha256']}\n".encode())
    h.update(json.dumps(body, sort_keys=True, ensure_ascii=False).encode())
    doc = {"version": f"reg-{h.hexdigest()[:16]}", **body}
    summary = {"counts": counts, "per_list": per_list, "unresolved": built_from["unresolved"],
               "list_sources": shipped.report, "id_links": link_info,
               "warnings": sorted(set(b.warnings))}
    return BuildResult(doc, summary, b.links_csv)


def dumps(doc: dict[str, Any]) -> str:
    """Compact JSON with one list item per line (diff-friendly), keys sorted."""
    def one(x: Any) -> str:
        return json.dumps(x, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    parts = ["{"]
    keys = sorted(doc)
    for i, k in enumerate(keys):
        v = doc[k]
        comma = "," if i < len(keys) - 1 else ""
        if isinstance(v, list):
            parts.append(f"{one(k)}:[")
            parts.extend(f"{one(x)}{',' if j < len(v) - 1 else ''}" for j, x in enumerate(v))
            parts.append(f"]{comma}")
        else:
            parts.append(f"{one(k)}:{one(v)}{comma}")
    parts.append("}")
    return "\n".join(parts) + "\n"
