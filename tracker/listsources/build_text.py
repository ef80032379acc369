"""Text rules of the registry build: normalised names, keys, generic aliases, the wording
that says an entry covers sub-units, company forms and Federal Register citations.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from datetime import date

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
