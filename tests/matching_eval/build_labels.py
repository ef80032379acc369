"""Build ``labels.csv``: the labelled evaluation set for name matching.

Rows come from two sources, never mixed up (column ``source``):

* ``openalex``: every distinct (raw affiliation string, institutions OpenAlex attached to
  it) pair in the recorded OpenAlex works of ``shared/data/openalex`` (works_*.jsonl*,
  which include the works of the fixtures), located by ``work_id`` and
  ``authorship_index`` (its first occurrence).  Keys OpenAlex resolves to a listed
  institution's ID or ROR are labelled automatically from the record and the registry
  (``id_keys``).  Every other candidate (any registry alias, acronym or Chinese name found
  at token boundaries by a deliberately loose scan, and anything the matcher reports) must
  carry a hand verdict in ``VERDICTS`` below, with its justification: the build fails on a
  candidate without one.
* ``list alias table`` / ``named look-alike``: strings taken from the lists' own texts
  (the BIS entry text with its printed address, Canada's NRO names and aliases, ASPI's
  Chinese names) and a few cited look-alike names.  They are not OpenAlex data.

Run: ``.venv/bin/python tests/matching_eval/build_labels.py`` (deterministic).
"""

from __future__ import annotations

import csv
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.matching_eval.evaluate import (  # noqa: E402
    LABELS,
    RESTRICTED,
    id_keys_for,
    load_openalex_rows,
)
from tracker.matching import Matcher  # noqa: E402
from tracker.names import NameMatcher, load_lookalikes, normalize  # noqa: E402
from tracker.watchlists import load_registry  # noqa: E402

# (substring of the raw string, {institution_key: verdict}, justification)
# verdicts: "+" named (expected), "x" look-alike (must not match), "g" generic alias or
# acronym without support (must not match), "-" loose-scan artefact (must not match),
# "c" named only as a unit/context (must not be flagged; a context-only match is right).
HIT = ("hit", "auto_harbin_institute_of_technology")
VERDICTS: list[tuple[str, dict[str, str], str]] = [
    ("Sch. of ", {"auto_shenzhen_sch_technology_co_ltd": "g"},
     "'Sch.' abbreviates 'School'; it is not the acronym SCH of Shenzhen SCH Technology "
     "(BIS); non-Chinese (UK/US) affiliation"),
    ("Shanxi Medical University No. 56", {
        "auto_china_aerospace_science_and_technology_corporation_98b9661d": "-"},
     "'No.' (street number) matches the parsing artefact alias 'No' of a CASC institute"),
    ("Tongji Medical College Huazhong University of Science and Technology No. 13", {
        "auto_china_aerospace_science_and_technology_corporation_98b9661d": "-",
        "auto_huazhong_university_of_science_and_technology": "+"},
     "names Huazhong University of Science and Technology; 'No.' is a street number"),
    ("Beijing University of Posts and Telecommunications, Beijing", {
        "bupt": "+", "auto_peking_university": "x"},
     "names BUPT (listed); 'Beijing University' (a Peking University alias) is only the head "
     "of the longer name"),
    ("Institute of Computing Technology, CAS, Beijing", {"cas_ict": "+"},
     "names ICT with its parent CAS; OpenAlex attached only the parent CAS (I19820366)"),
    ("[Institute of Computing Technology, Chinese Academy of Sciences", {"cas_ict": "+"},
     "names ICT of the Chinese Academy of Sciences; OpenAlex attached only CAS"),
    ("Moscow State University", {"auto_lomonosov_moscow_state_university": "+",
                                 "auto_moscow_state_university": "+"},
     "names Moscow State University (Lomonosov MSU; listed on DoD 1286 under both names)"),
    ("Nanjing University of Information Science and Technology",
     {"auto_nanjing_university": "x"},
     "NUIST is a different university; 'Nanjing University' is the head of its name"),
    ("CSIC", {"auto_china_shipbuilding_industry_corporation": "g"},
     "CSIC here is Spain's Consejo Superior de Investigaciones Cientificas (Spanish "
     "address), not China Shipbuilding Industry Corporation"),
    ("Inserm CIC-EC 7", {"auto_engineering_center_ltd": "g"},
     "'EC' (Inserm clinical-epidemiology unit) is not Engineering Center Ltd. (BIS acronym)"),
    ("USC ", {"auto_university_of_south_china": "g"},
     "USC here is the University of Southern California, not the University of South China"),
    ("West China Hospital, Sichuan University", {"scu": "+"},
     "names Sichuan University as the affiliation"),
    ("Shahid Beheshti University", {"auto_shahid_beheshti_university": "+"},
     "names Shahid Beheshti University"),
    ("Tsinghua University", {"auto_tsinghua_university": "+"}, "names Tsinghua University"),
    ("Xidian University", {"xidian": "+"}, "names Xidian University"),
    ("Zhejiang University, China", {"auto_zhejiang_university": "+"},
     "names Zhejiang University"),
    ("BGI-Shenzhen", {"auto_beijing_graphene_institute_co_ltd": "x",
                      "auto_bgi_genomics_co_ltd": "-", "auto_bgi_group": "+",
                      "auto_bgi_research": "-"},
     "BGI here is the genomics organisation; OpenAlex attached 'BGI Group (China)', whose "
     "name is the DoD 1260H entry 'BGI Group' (no identifier in the registry); 'BGI' is an "
     "ambiguous acronym (BGI Genomics, Beijing Graphene Institute) and does not say which "
     "company"),
    ("BGI PathoGenesis", {"auto_beijing_graphene_institute_co_ltd": "x",
                          "auto_bgi_genomics_co_ltd": "-", "auto_bgi_group": "+"},
     "OpenAlex attached 'BGI Group (China)' (the 1260H entry 'BGI Group'); 'BGI' alone is "
     "ambiguous"),
    ("Beijing Genomics Institute", {"auto_bgi_group": "+"},
     "Beijing Genomics Institute is BGI's original name; OpenAlex attached 'BGI Group "
     "(China)' (the 1260H entry 'BGI Group')"),
    ("Fudan University", {"auto_fudan_university": "+"}, "names Fudan University"),
    ("Dalian University of Technology", {"auto_dalian_university_of_technology": "+"},
     "names Dalian University of Technology"),
    ("Moscow State University of Medicine and Dentistry", {
        "auto_lomonosov_moscow_state_university": "x", "auto_moscow_state_university": "x"},
     "a different university; 'Moscow State University' is the head of its name"),
    ("Northeastern University", {"auto_northeastern_university": "x"},
     "Northeastern University in Boston (US); the listed one is in Shenyang, China"),
    ("Helsinki Institute of Physics", {"cas_iop": "g"},
     "'Institute of Physics' (a generic alias of CAS IOP) is the tail of the Finnish "
     "Helsinki Institute of Physics"),
    ("University of Science and Technology Beijing", {
        "auto_university_of_science_and_technology_beijing": "+", "ustc": "x"},
     "names USTB (listed by ASPI), not the University of Science and Technology of China"),
    ("Supported by the National Institutes of Health", {
        "auto_china_aerospace_science_and_technology_corporation_98b9661d": "-"},
     "'No.' is a grant number"),
    ("Nanjing University, Nanjing", {"auto_nanjing_university": "+"},
     "names Nanjing University"),
    ("Shanghai Jiao Tong University", {"auto_shanghai_jiao_tong_university": "+"},
     "names Shanghai Jiao Tong University"),
    ("Shanghai Jiaotong University", {"auto_shanghai_jiao_tong_university": "+"},
     "names Shanghai Jiaotong University (its School of Medicine)"),
    ("Jilin University", {"auto_jilin_university": "+"}, "names Jilin University"),
    ("MIT Teaching Systems Lab", {"auto_moscow_institute_of_thermal_technology": "+"},
     "OpenAlex attached Moscow Institute of Thermal Technology (listed), most likely a "
     "mis-resolution of 'MIT' (Massachusetts); an identifier tie all the same, whose finding "
     "must say the raw string does not name it"),
    ("Beihang University", {"beihang": "+"}, "names Beihang University"),
    ("Shenzhen Institutes of Advanced Technology, Chinese Academy of Sciences", {
        "auto_oriental_engineers": "g"},
     "'Advanced Technologies' (alias of Oriental Engineers, Pakistan) is a generic phrase "
     "inside the name of the CAS Shenzhen institute; CAS itself is not listed"),
    ("Fourth Military Medical University", {"auto_air_force_medical_university": "+"},
     "names the Fourth Military Medical University (Air Force Medical University)"),
    ("Huazhong University of Science and Technology", {
        "auto_huazhong_university_of_science_and_technology": "+"},
     "names Huazhong University of Science and Technology"),
    ("Wuhan University, Wuhan", {"auto_wuhan_university": "+"}, "names Wuhan University"),
    ("Zhongnan Hospital of Wuhan University", {"auto_wuhan_university": "+"},
     "OpenAlex attached Wuhan University to this string"),
    ("Renmin Hospital of Wuhan University", {"auto_wuhan_university": "+"},
     "OpenAlex attached Wuhan University to this string"),
    ("Peking University First Hospital", {"auto_peking_university": "+"},
     "OpenAlex attached Peking University to this string"),
    ("Peking University People's Hospital", {"auto_peking_university": "+"},
     "OpenAlex attached Peking University to this string"),
    ("Tsinghua University-Peking University Joint Center", {
        "auto_peking_university": "+", "auto_tsinghua_university": "+"},
     "OpenAlex attached the joint centre (lineage: Peking and Tsinghua); the string names both"),
    ("From the State Key Laboratory of Respiratory Disease", {
        "auto_china_aerospace_science_and_technology_corporation_98b9661d": "-",
        "auto_huazhong_university_of_science_and_technology": "+",
        "auto_sun_yat_sen_university": "+", "auto_wuhan_university": "x",
        "auto_zhejiang_university": "+"},
     "multi-institution string naming HUST (Union Hospital, Tongji Medical College), "
     "Zhejiang University (College of Medicine) and Sun Yat-sen University (OpenAlex "
     "attached it); 'Wuhan University' occurs only as the head of 'Wuhan University of "
     "Science and Technology'; 'No.' is a hospital number"),
    ("Institute Pasteur & CNRS", {"auto_pasteur_institute_of_iran": "x"},
     "Institut Pasteur in Paris, France, not the Pasteur Institute of Iran"),
    ("Shanghai Pudong New Area Gongli Hospital", {"auto_navy_medical_university": "+"},
     "OpenAlex attached Second Military Medical University (Naval Medical University) to "
     "this authorship; the string does not name it, so the finding must say they disagree"),
    ("Hefei University of Technology", {"auto_hefei_university_of_technology": "+"},
     "names Hefei University of Technology"),
    ("SDU, The Faculty of Health Sciences", {"auto_shandong_university": "g"},
     "SDU here is the University of Southern Denmark (Odense, DK), not Shandong University"),
    ("Xiamen University, Xiamen", {"auto_xiamen_university": "+"}, "names Xiamen University"),
    ("Xiamen University Malaysia", {"auto_xiamen_university": "c"},
     "Xiamen University Malaysia is a unit (ROR child, OpenAlex lineage) of Xiamen "
     "University, whose ASPI entry does not say it covers units: context only"),
    ("Higher School of Economics", {"auto_moscow_higher_school_of_economics": "+"},
     "names HSE (National Research University Higher School of Economics)"),
    ("Skolkovo Innovation Center", {"auto_skolkovo_foundation": "+"},
     "OpenAlex attached Skolkovo Foundation; the string names the Skolkovo Innovation Center "
     "it runs, not the foundation by a listed name"),
    ("New Technologies Research Centre, University of West Bohemia", {
        "auto_nova_technologies": "g"},
     "'New Technologies' is a generic alias of Nova Technologies (BIS), here the name of a "
     "Czech university centre"),
    ("University of Science and Technology of China", {"ustc": "+"},
     "names the University of Science and Technology of China"),
    ("Xian Jiaotong University", {"auto_xi_an_jiaotong_university": "+"},
     "names Xi'an Jiaotong University"),
    ("Xi'an Jiaotong University", {"auto_xi_an_jiaotong_university": "+"},
     "names Xi'an Jiaotong University"),
    ("Sun Yat-sen University, 2 Daxue Rd", {"auto_sun_yat_sen_university": "+"},
     "names Sun Yat-sen University"),
    ("University of Oslo, NO,", {
        "auto_china_aerospace_science_and_technology_corporation_98b9661d": "-"},
     "'NO' is Norway's code, not the artefact alias 'No'"),
    ("China University of Mining and Technology", {
        "auto_china_university_of_mining_and_technology": "+"},
     "names China University of Mining and Technology"),
    ("Hebei University of Economic and Business", {"auto_hebei_university": "x"},
     "a different university; 'Hebei University' is the head of its name"),
    ("Grupo de Ecología y Conservación de Islas", {
        "auto_china_aerospace_science_and_technology_corporation_98b9661d": "-"},
     "'No.' is a street number"),
    ("Fundación CIPAV", {
        "auto_china_aerospace_science_and_technology_corporation_98b9661d": "-"},
     "'No.' is a street number"),
    ("Shanghai Public Health Clinical Center, Fudan University", {"auto_fudan_university": "+"},
     "names Fudan University; OpenAlex attached only the clinical centre"),
    ("Institute for Microelectronics Technology, 142432 Chernogolovka", {"cas_ime": "g"},
     "OpenAlex attached the Russian 'Institute of Microelectronics Technology and High Purity "
     "Materials'; 'Institute of Microelectronics' (a DoD 1286 alias of CAS IME) is a generic "
     "phrase at the head of that name"),
    # near-miss spellings found by a rapidfuzz partial_ratio >= 88 sweep (hard negatives)
    ("Hubei University of Technology", {"auto_hebei_university": "x",
                                        "auto_hefei_university_of_technology": "x"},
     "Hubei University of Technology is neither Hebei University nor Hefei University of "
     "Technology (one letter apart)"),
    ("Yunnan University", {"auto_hunan_university": "x"},
     "Yunnan University is not Hunan University (near-miss spelling)"),
    ("Yangzhou University", {"auto_lanzhou_university": "x"},
     "Yangzhou University is not Lanzhou University (near-miss spelling)"),
    ("Shanxi University, Taiyuan", {"auto_shanghai_university": "x"},
     "Shanxi University is not Shanghai University (near-miss spelling)"),
    ("Beijing Jiaotong University", {"auto_xi_an_jiaotong_university": "x"},
     "Beijing Jiaotong University is not Xi'an Jiaotong University"),
    ("Southwest Jiaotong University", {"auto_xi_an_jiaotong_university": "x",
                                       "auto_tongji_university": "x"},
     "Southwest Jiaotong University is not Xi'an Jiaotong or Tongji University"),
    ("University of South Africa", {"auto_university_of_south_china": "x"},
     "University of South Africa is not the University of South China"),
    ("University of South Australia", {"auto_university_of_south_china": "x"},
     "University of South Australia is not the University of South China"),
    ("Univ. of Southern California", {"auto_university_of_south_china": "x"},
     "University of Southern California is not the University of South China"),
    ("Poznan Univ. of Technology", {"auto_xi_an_technological_university": "x"},
     "Poznan University of Technology is not Xi'an University of Technology"),
    ("Delft University of Technology", {"auto_hefei_university_of_technology": "x"},
     "Delft University of Technology is not Hefei University of Technology"),
    ("National University of Singapore", {"nudt": "x"},
     "National University of Singapore is not the National University of Defense Technology"),
    ("National University of Ireland", {"nudt": "x"},
     "National University of Ireland is not the National University of Defense Technology"),
    ("Northwestern University", {"nwpu": "x"},
     "Northwestern University (Evanston, US) is not Northwestern Polytechnical University"),
]

# Cited look-alike names and published affiliation strings (not OpenAlex records)
NAMED: list[tuple[str, dict[str, str], str, str]] = [
    ("Harbin Medical University", {k: "x" for k in HIT},
     "named look-alike: public English–Chinese university-name table (code-search index "
     "file 50404203651: 'Harbin Medical University' = 哈尔滨医科大学)",
     "a different university in Harbin; not Harbin Institute of Technology"),
    ("School of Mechanical Engineering, Sichuan University of Science and Engineering, Yibin "
     "64400, China", {"scu": "x"},
     "published affiliation string: code-search index file 52677281120 (paper author block)",
     "Sichuan University of Science and Engineering (四川轻化工大学) is not Sichuan University; "
     "'Sichuan University' is the head of its name"),
    ("Faculty of Marine Science and Technology, Beijing Institute of Technology, Zhuhai "
     "519000, China", {"bit": "+"},
     "published affiliation string: code-search index file 57953041964 (paper draft)",
     "BIT's Zhuhai college/campus, a unit of BIT (tracker/data/lookalikes.csv): the BIS entry "
     "covers BIT's units (flag); ASPI/DoD/NRO entries do not (context only)"),
]


def _verdicts_for(raw: str) -> tuple[dict[str, str], list[str]]:
    """Hand verdicts for a raw string: per key, the longest matching pattern wins."""
    best: dict[str, tuple[int, str, str]] = {}
    for pat, verdicts, justification in VERDICTS:
        if pat in raw:
            for k, v in verdicts.items():
                if k not in best or len(pat) > best[k][0]:
                    best[k] = (len(pat), v, justification)
    got = {k: v for k, (_, v, _j) in best.items()}
    why = list(dict.fromkeys(j for _, _v, j in best.values()))
    return got, why


def _loose_scan(reg, nm):
    alias: dict[str, set[str]] = defaultdict(set)
    for e in reg.entries:
        if e.entry_id in nm.excluded:
            continue
        for s in (e.name, *e.aliases, *e.aliases_zh):
            n = normalize(s)
            if len(n.replace(" ", "")) >= 2:
                alias[n].add(e.institution_key)
    first: dict[str, list[str]] = defaultdict(list)
    zh = [a for a in alias if re.match(r"[\u4e00-\u9fff]", a)]
    for a in alias:
        first[a.split()[0]].append(a)

    def scan(raw: str) -> set[str]:
        n = normalize(raw)
        j = f" {n} "
        out: set[str] = set()
        for t in set(n.split()):
            for a in first.get(t, ()):
                if f" {a} " in j:
                    out |= alias[a]
        for a in zh:
            if a in n.replace(" ", ""):
                out |= alias[a]
        return out
    return scan


def _kind(exp: set[str], ids: set[str], verdicts: dict[str, str], via_name: bool) -> str:
    if "x" in verdicts.values():
        return "hard_negative"
    if "g" in verdicts.values():
        return "generic_alias_negative"
    if ids:
        return "id_resolved_positive"
    if exp:
        return "openalex_name_positive" if via_name else "raw_only_positive"
    return "negative"


def _openalex_rows(reg, nm, matcher) -> list[dict[str, str]]:
    loose = _loose_scan(reg, nm)
    rows = []
    missing: list[str] = []
    for r in load_openalex_rows():
        raw = r.raw
        ids = id_keys_for(reg, r.authorship)
        cands = loose(raw) | ids
        for m in matcher.match_authorship(r.authorship):
            if not m.context_only:
                cands.add(m.entry.institution_key)
        for inst in r.authorship.institutions:
            if inst.display_name:
                cands |= {h.key for h in nm._scan(inst.display_name).hits}
        verdicts, why = _verdicts_for(raw)
        for k in sorted(cands - ids - set(verdicts)):
            missing.append(f"{k!r} in {raw[:120]!r}")
        exp = ids | {k for k, v in verdicts.items() if v == "+"}
        conf = {k for k, v in verdicts.items() if v in "xg-"} - exp
        ctx = {k for k, v in verdicts.items() if v == "c"} - exp
        names = {i.id: i.display_name for i in r.authorship.institutions}
        parts = []
        if ids:
            attached = ", ".join(f"{names.get(i) or '?'} ({i})" for i in r.openalex_ids)
            parts.append(f"OpenAlex attached {attached}; the registry lists that ID/ROR "
                         f"for {', '.join(sorted(ids))}")
        parts.extend(why)
        via_name = bool(exp - ids) and any("OpenAlex attached 'BGI" in w for w in why)
        if not parts:
            parts.append("no listed name, alias, acronym or Chinese name occurs in the "
                         "string at token boundaries (loose scan of every registry alias), "
                         "and OpenAlex attached no listed institution")
        rows.append({
            "source": "openalex", "raw_affiliation": raw, "work_id": r.work_id,
            "authorship_index": str(r.index),
            "openalex_institution_ids": " ".join(r.openalex_ids),
            "expected_keys": " ".join(sorted(exp)), "id_keys": " ".join(sorted(ids)),
            "confusable_keys": " ".join(sorted(conf)), "context_keys": " ".join(sorted(ctx)),
            "label_kind": _kind(exp, ids, verdicts, via_name),
            "justification": "; ".join(parts),
        })
    if missing:
        raise SystemExit("candidates without a hand verdict:\n  " + "\n  ".join(missing))
    return rows


def _list_rows(reg) -> list[dict[str, str]]:
    """Alias strings from the lists' own texts, labelled from the list entry they belong to.

    Labelling policy (the brief's definition of generic, not the matcher's rules): an
    acronym of at most 4 letters, an entry's ``generic_aliases``, or a name another
    institution in another country also carries (``same_name`` in lookalikes.csv) is a
    generic alias: alone it must not match.  Anything else names its entry.
    """
    same = {normalize(x.name) for x in load_lookalikes() if x.relation == "same_name"}
    by_list_name: dict[tuple[str, str], str] = {}
    generic: dict[str, set[str]] = defaultdict(set)
    carriers: dict[str, set[str]] = defaultdict(set)   # alias -> keys whose entries print it
    for e in reg.entries:
        by_list_name[(e.list, normalize(e.name))] = e.institution_key
        generic[e.institution_key] |= {normalize(g) for g in e.generic_aliases}
        for a in (e.name, *e.aliases, *e.aliases_zh):
            carriers[normalize(a)].add(e.institution_key)
            carriers[normalize(re.sub(r"\s*\([^)]*\)", "", a))].add(e.institution_key)
    rows: list[dict[str, str]] = []
    seen: set[str] = set()

    def add(text: str, key: str, src: str, country: str = "", name: str = "") -> None:
        text = " ".join(text.split()).strip(" .;")
        if not text:
            return
        n = normalize(name or text)
        letters = re.sub(r"[\W_]", "", text)
        is_generic = (len(letters) <= 4 or n in generic[key] or n in same
                      or (len(n.split()) == 1 and not re.search(r"[\u4e00-\u9fff]", n)))
        if re.search(r"[\u4e00-\u9fff]", text) and len(n.replace(" ", "")) < 4:
            is_generic = True
        # a name alone is printed bare; with its printed country when the list gives one
        shown = text if is_generic or not country else f"{text} ({country})"
        if shown in seen:
            return
        seen.add(shown)
        keys = {key} | carriers.get(n, set())
        how = ("the same name is printed for " + ", ".join(sorted(keys))
               if len(keys) > 1 else "names the listed institution")
        extra, why = _verdicts_for(shown)   # e.g. an address naming another institution
        plus = {k for k, v in extra.items() if v == "+"} - keys
        if plus and not is_generic:
            keys |= plus
            how += "; " + "; ".join(why)
        rows.append({
            "source": "list alias table", "raw_affiliation": shown, "work_id": "",
            "authorship_index": "", "openalex_institution_ids": "",
            "expected_keys": "" if is_generic else " ".join(sorted(keys)), "id_keys": "",
            "confusable_keys": " ".join(sorted(keys)) if is_generic else "",
            "context_keys": "",
            "label_kind": "generic_alias_negative" if is_generic else "raw_only_positive",
            "justification": (f"{src}; " + ("a generic alias or acronym printed alone, "
                                            "without country or parent: must not match"
                                            if is_generic else how)),
        })

    raw = RESTRICTED / "raw"
    bis = json.loads((raw / "bis_entity_list_cn_universities_2026-03-30.json")
                     .read_text("utf-8"))["entries"]
    for ent in bis:
        key = by_list_name.get(("BIS_ENTITY_LIST", normalize(ent["name"])))
        if not key:
            continue
        address = _bis_address(ent["name"], ent["raw"])
        add(f"{ent['name']}, {address}", key,
            "BIS Entity List entry text (name and printed address; kaixinol scrape "
            "2026-03-30)", name=ent["name"])
    with (raw / "canada_nro_list_2024-04-18.csv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            key = by_list_name.get(("CA_NRO", normalize(row["name"])))
            if not key:
                continue
            c = row["country_as_printed"]
            add(row["name"], key, "Canada NRO list name with its printed country "
                "(2024-04-18)", c)
            for a in (row["known_aliases_as_printed"] or "").split(";"):
                if a.strip():
                    add(a, key, "Canada NRO known alias as printed, with the entry's printed "
                        "country (2024-04-18)", c)
    aspi = json.loads((raw / "aspi_unitracker_misp_galaxy_2020-08-21.json").read_text("utf-8"))
    for v in aspi["values"]:
        key = by_list_name.get(("ASPI_UNITRACKER", normalize(v["value"])))
        if not key:
            continue
        for a in (v.get("meta") or {}).get("alias") or []:
            if re.search(r"[\u4e00-\u9fff]", a):
                add(a, key, "ASPI Unitracker Chinese name (MISP galaxy, 2020-08-21)")
    return rows


def _bis_address(name: str, text: str) -> str:
    """The printed address of a BIS entry: what follows the name, or its last alias."""
    if "a.k.a" not in text:
        return text[len(name):].lstrip(" ,")
    tail = text[text.rfind("—") + 1:]
    for m in re.finditer(r"\.\s+(?=[A-Z0-9])", tail):
        word = re.findall(r"[\w-]+$", tail[:m.start()])
        if not word or word[0] not in ("Co", "Ltd", "No", "St", "Inc", "Corp", "Rd"):
            return tail[m.end():]
    return ""


def _named_rows() -> list[dict[str, str]]:
    out = []
    for text, verdicts, src, why in NAMED:
        exp = {k for k, v in verdicts.items() if v == "+"}
        conf = {k for k, v in verdicts.items() if v == "x"}
        out.append({
            "source": "named look-alike" if not exp else "published affiliation",
            "raw_affiliation": text, "work_id": "", "authorship_index": "",
            "openalex_institution_ids": "", "expected_keys": " ".join(sorted(exp)),
            "id_keys": "", "confusable_keys": " ".join(sorted(conf)), "context_keys": "",
            "label_kind": "hard_negative" if conf else "raw_only_positive",
            "justification": f"{src}; {why}",
        })
    return out


COLUMNS = ["row_id", "source", "label_kind", "raw_affiliation", "work_id", "authorship_index",
           "openalex_institution_ids", "expected_keys", "id_keys", "confusable_keys",
           "context_keys", "justification"]


def main() -> None:
    reg = load_registry()
    nm = NameMatcher(reg)
    matcher = Matcher(reg, name_matcher=nm)
    rows = _openalex_rows(reg, nm, matcher) + _named_rows() + _list_rows(reg)
    with LABELS.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=COLUMNS, lineterminator="\n")
        w.writeheader()
        for i, r in enumerate(rows, start=1):
            w.writerow({"row_id": str(i), **r})
    kinds: dict[str, int] = defaultdict(int)
    for r in rows:
        kinds[f"{r['source']}/{r['label_kind']}"] += 1
    print(f"{len(rows)} rows -> {LABELS}")
    for k in sorted(kinds):
        print(f"  {k}: {kinds[k]}")


if __name__ == "__main__":
    main()
