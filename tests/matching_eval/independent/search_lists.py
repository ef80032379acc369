"""The labeller's search aid: list entries that look related to each candidate institution.

A plain text search of the designation lists' source files (``../PROTOCOL.md``, section 6),
written for labelling, not a matcher: it over-generates on purpose and every candidate it
prints is judged by hand (``decisions.csv``).  For each OpenAlex institution in
``candidates.csv`` it prints the list entries that

* share two or more distinctive words with any of the institution's strings, or one
  distinctive word when the entry's country is the institution's country;
* are contained in one of its strings or contain one (normalised, at word boundaries);
* print one of its acronyms, or share a CJK name by containment.

Run: ``.venv/bin/python tests/matching_eval/independent/search_lists.py > /tmp/hits.txt``.
"""

from __future__ import annotations

import csv
import json
import re
import sys
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
sys.path.insert(0, str(REPO))

from tests._paths import RESTRICTED  # noqa: E402

RAW = RESTRICTED / "raw"
_STOP_TEXT = """a an and the of for in at on de la le du des el y und der die das fur
university universities universite universidad universidade universitat universita college
institute institut instituto istituto institution academy academie academia school schools
technology technological technical science sciences scientific research center centre centro
national state federal central international china chinese peoples republic prc russia
russian russian federation iran islamic co ltd limited company corporation corp group
inc llc jsc ojsc pjsc ao oao zao ooo gmbh sa srl plc holding holdings industry industries
industrial engineering laboratory laboratories lab key department ministry of
hospital medical medicine military army air force naval navy defense defence
design development develop scientific production enterprise branch association society
foundation agency office bureau service services system systems trading new high tech
general public open joint stock all named after no number first second third
city province provincial municipal district region regional north south east west
northern southern eastern western northwestern southwestern northeastern southeastern
beijing shanghai united kingdom germany hong kong taiwan japan france singapore states
america korea india italy spain canada australia netherlands switzerland sweden capital
medical health care pharmaceuticals pharma electronics electronic information communication
communications data digital global world trade import export"""
STOP = set(_STOP_TEXT.split())
COUNTRY_ISO = {"china": "CN", "people’s republic of china": "CN", "russia": "RU",
               "iran": "IR", "hong kong": "HK", "pakistan": "PK", "united arab emirates": "AE",
               "belarus": "BY", "taiwan": "TW", "india": "IN", "turkey": "TR",
               "singapore": "SG", "germany": "DE", "united kingdom": "GB", "france": "FR",
               "japan": "JP", "syria": "SY", "lebanon": "LB", "israel": "IL",
               "north korea": "KP", "korea, north": "KP", "cayman islands": "KY",
               "british virgin islands": "VG", "burma": "MM", "venezuela": "VE",
               "ukraine": "UA", "kazakhstan": "KZ", "armenia": "AM", "georgia": "GE",
               "uzbekistan": "UZ", "kyrgyzstan": "KG", "egypt": "EG", "iraq": "IQ"}


@dataclass(frozen=True)
class Entry:
    """One list entry as its source prints it."""

    list_code: str
    name: str
    aliases: tuple[str, ...]
    country: str
    where: str


def norm(text: str) -> str:
    """Lower case, accents and punctuation removed, spaces collapsed.

    Examples
    --------
    >>> norm("Université  d'Été (UdE)")
    'universite d ete ude'
    """
    t = unicodedata.normalize("NFKD", text)
    t = "".join(c for c in t if not unicodedata.combining(c)).lower()
    return " ".join(re.sub(r"[^\w]+", " ", t).split())


def words(text: str) -> set[str]:
    """Distinctive words of a name (stop words and short tokens dropped)."""
    return {w for w in norm(text).split() if w not in STOP and len(w) > 2
            and not w.isdigit()}


def acronyms(text: str) -> set[str]:
    """All-capital tokens of 2–8 letters, e.g. in parentheses."""
    return set(re.findall(r"\b[A-Z][A-Z0-9&-]{1,7}\b", text))


def has_cjk(text: str) -> bool:
    return any("\u4e00" <= c <= "\u9fff" for c in text)


def _iso(country: str | None) -> str:
    return COUNTRY_ISO.get((country or "").strip().lower(), (country or "").strip())


def load_entries() -> list[Entry]:
    """Every entry of the designation lists' sources (and ASPI, marked context)."""
    out: list[Entry] = []

    def js(path: str, code: str) -> None:
        for e in json.loads((RAW / path).read_text("utf-8"))["entities"]:
            out.append(Entry(code, e["name"], tuple(e.get("aliases") or ()),
                             _iso(e.get("country")), path))

    js("bis_entity_list_ecfr_2026-07-09_nsfreg.json", "BIS_ENTITY_LIST")
    cn = json.loads((RAW / "bis_entity_list_cn_universities_2026-03-30.json").read_text("utf-8"))
    for e in cn["entries"]:
        out.append(Entry("BIS_ENTITY_LIST", e["name"], (e["raw"],), "CN",
                         "bis_entity_list_cn_universities_2026-03-30.json"))
    zh = json.loads((RAW / "bis_entity_list_cn_universities_zh_names.json").read_text("utf-8"))
    for e in zh:
        out.append(Entry("BIS_ENTITY_LIST", e["name"], (e["zh"],), "CN",
                         "bis_entity_list_cn_universities_zh_names.json "
                         "(repo author's Chinese name)"))
    js("bis_meu_list_ecfr_2026-07-09_nsfreg.json", "BIS_MEU")
    js("dod_section1260h_fr-2026-06-10_nsfreg.json", "DOD_1260H")
    js("dod_section1286_fy24_nsfreg.json", "DOD_1286")
    js("ofac_nscmic_list_nsfreg_extracted_2026-07-09.json", "OFAC_NS_CMIC")
    js("ofac_eo14032_annex_2021-06-03_nsfreg.json", "OFAC_NS_CMIC")
    with (RAW / "dod_section1260h_full_opensanctions.csv").open(encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            al = tuple(a for a in re.split(r";", r["Alias"] + ";" + r["Previous Name"])
                       if a.strip())
            out.append(Entry("DOD_1260H", r["Name"], al, "CN",
                             f"dod_section1260h_full_opensanctions.csv ({r['Start date']}"
                             f"–{r['End date']}; parent {r['Parent Name']})"))
    with (RAW / "dod_section1286_lists_opensanctions.csv").open(encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            al = tuple(a.strip() for a in r["aliases"].split(";") if a.strip())
            out.append(Entry("DOD_1286", r["name"], al, _iso(r["country"]),
                             f"dod_section1286_lists_opensanctions.csv (FY{r['report-date']})"))
    with (RAW / "canada_nro_list_2024-04-18.csv").open(encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            al = tuple(a.strip() for a in re.split(r";", r["known_aliases_as_printed"])
                       if a.strip())
            out.append(Entry("CA_NRO", r["name"], al, _iso(r["country_as_printed"]),
                             "canada_nro_list_2024-04-18.csv"))
    aspi = json.loads((RAW / "aspi_unitracker_misp_galaxy_2020-08-21.json").read_text("utf-8"))
    for v in aspi.get("values") or []:
        syn = tuple((v.get("meta") or {}).get("alias") or ())
        out.append(Entry("ASPI(context)", v.get("value", ""), syn, "CN", "aspi"))
    return out


def main() -> int:
    entries = load_entries()
    by_word: dict[str, set[int]] = defaultdict(set)
    names: list[list[str]] = []
    for i, e in enumerate(entries):
        ns = [e.name, *e.aliases]
        names.append(ns)
        for n in ns:
            for w in words(n):
                by_word[w].add(i)
    by_tok: dict[str, set[tuple[int, str, str]]] = defaultdict(set)
    freq: dict[str, int] = defaultdict(int)
    for nl in names:
        for n in nl:
            for t in set(norm(n).split()):
                freq[t] += 1
    by_rare: dict[str, set[tuple[int, str, str]]] = defaultdict(set)
    for i, nl in enumerate(names):
        for n in nl:
            nn = norm(n)
            if not nn:
                continue
            for t in set(nn.split()):
                by_tok[t].add((i, nn, n))
            by_rare[min(nn.split(), key=lambda t: freq[t])].add((i, nn, n))
    inst: dict[str, list[dict[str, str]]] = defaultdict(list)
    with (HERE / "candidates.csv").open(encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            inst[r["openalex_id"]].append(r)
    for oid, rows in inst.items():
        country = rows[0]["country"]
        hits: dict[int, str] = {}
        for r in rows:
            s = r["raw_string"]
            ws = words(s)
            cnt: dict[int, int] = defaultdict(int)
            for w in ws:
                if len(by_word.get(w, ())) > 60:
                    continue
                for i in by_word.get(w, ()):
                    cnt[i] += 1
            for i, c in cnt.items():
                if c >= 2 or (c >= 1 and entries[i].country == country):
                    hits.setdefault(i, f"{c} word(s) of {s!r}")
            nstr = norm(s)
            if len(nstr) >= 6 and not has_cjk(s):
                toks = nstr.split()
                pool: set[tuple[int, str, str]] = set()
                for t in toks:
                    pool |= by_rare.get(t, set())
                rare = min(toks, key=lambda t: len(by_tok.get(t, ())))
                pool |= by_tok.get(rare, set())
                for i, nn, n in pool:
                    if len(nn) >= 6 and (f" {nn} " in f" {nstr} " or f" {nstr} " in f" {nn} "):
                        hits.setdefault(i, f"containment {s!r} ~ {n!r}")
            if has_cjk(s) and len(s) >= 3:
                for i, nl in enumerate(names):
                    for n in nl:
                        if has_cjk(n) and (s in n or (len(n) >= 4 and n in s)):
                            hits.setdefault(i, f"cjk {s!r} ~ {n!r}")
            if (r["string_kind"] == "acronym" or re.fullmatch(r"[A-Z]{2,6}", s)) and len(s) >= 3:
                for i, nl in enumerate(names):
                    if any(s in acronyms(n) or n == s for n in nl):
                        hits.setdefault(i, f"acronym {s!r}")
        if not hits:
            continue
        print(f"== {oid} {country} {rows[0]['institution_type']} {rows[0]['raw_string']!r} "
              f"[{rows[0]['source_path']}]")
        for i in sorted(hits, key=lambda i: (entries[i].list_code, entries[i].name)):
            e = entries[i]
            print(f"   {e.list_code:16} {e.country:3} {e.name[:110]!r}  <- {hits[i]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
