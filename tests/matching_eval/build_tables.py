"""Build the name-matching data tables shipped in ``tracker/data``.

* ``lookalikes.csv``: names that contain, or equal, a listed institution's name but are
  not that institution (hard negatives), or are one of its units.  From ROR relationship
  names (``shared/data/restricted/raw/ror_records_selected.jsonl``, CC0) and the OpenAlex
  institutions attached in the recorded works (``shared/data/openalex``, CC0), plus the
  rows in ``_SOURCED`` below, each with its citation.
* ``country_names.csv``: country names as they appear in affiliations → ISO 3166-1
  alpha-2, from OpenAlex institution ``geo`` records, the destinations as printed on the
  BIS Entity List and Canada's NRO list (joined to the registry's country codes), and
  the trailing parts of recorded raw affiliation strings that always go with one OpenAlex
  ``countries`` code.

Deterministic: ``.venv/bin/python tests/matching_eval/build_tables.py`` rewrites both files
byte-identically from the same inputs.
"""

from __future__ import annotations

import csv
import gzip
import json
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.matching_eval.evaluate import load_works  # noqa: E402
from tracker.names import NameMatcher, normalize  # noqa: E402
from tracker.watchlists import load_registry  # noqa: E402

SHARED = REPO.parent / "shared" / "data"
OPENALEX = SHARED / "openalex"
RESTRICTED = SHARED / "restricted"
OUT = REPO / "tracker" / "data"

# Rows no ROR/OpenAlex record in the shared data gives; each cites a public source.
_SOURCED = [
    {
        "name": "Beijing Institute of Technology, Zhuhai",
        "relation": "unit",
        "related_key": "bit",
        "country": "CN",
        "source": ("public GitHub code-search index, file id 50404203651 (an English–Chinese "
                   "university-name table: 'Beijing Institute of Technology, Zhuhai' = "
                   "北京理工大学珠海学院, BIT's Zhuhai college); file id 57953041964 (a 2026 "
                   "paper draft: 'Faculty of Marine Science and Technology, Beijing Institute "
                   "of Technology, Zhuhai')"),
        "basis": ("BIT's Zhuhai college (北京理工大学珠海学院), founded by BIT, and the name "
                  "also used by BIT's Zhuhai campus: a unit of BIT, not BIT itself; the BIS "
                  "entry's aliases name BIT's branch institutes but not Zhuhai"),
    },
    {
        "name": "北京理工大学珠海学院",
        "relation": "unit",
        "related_key": "bit",
        "country": "CN",
        "source": "public GitHub code-search index, file id 50404203651 (as above)",
        "basis": "Chinese name of Beijing Institute of Technology, Zhuhai (as above)",
    },
]


def _registry_aliases(reg, countries):
    """institution key -> normalised full names as the matcher reads them, and key facts."""
    nm = NameMatcher(reg, lookalikes=(), country_names=countries, fuzzy=False)
    info: dict[str, dict[str, object]] = {}
    for e in reg.entries:
        key = e.institution_key or e.entry_id
        d = info.setdefault(key, {"name": e.name, "country": e.country, "oa": set(),
                                  "ror": set()})
        d["oa"].update(e.openalex_ids)  # type: ignore[attr-defined]
        if e.ror:
            d["ror"].add(e.ror)  # type: ignore[attr-defined]
    return nm.listed_names, info


def _contains(hay: str, needle: str) -> int:
    """Token position of ``needle`` in ``hay`` (both normalised), or -1."""
    h, n = hay.split(), needle.split()
    for i in range(len(h) - len(n) + 1):
        if h[i:i + len(n)] == n:
            return i
    return -1


def _oa_institutions() -> dict[str, dict[str, object]]:
    out: dict[str, dict[str, object]] = {}
    for w in load_works().values():
        for a in w.authorships:
            for i in a.institutions:
                if i.id and i.display_name and i.id not in out:
                    out[i.id] = {"name": i.display_name, "country": i.country_code,
                                 "lineage": set(i.lineage), "ror": i.ror,
                                 "file": "recorded works in shared/data/openalex"}
    for f in ("institutions_bibgraph_2025-10.jsonl.gz",
              "snapshot_institutions_updated_date_2023-09-04_part_000.jsonl.gz"):
        with gzip.open(OPENALEX / f, "rt", encoding="utf-8") as fh:
            for line in fh:
                d = json.loads(line)
                iid = str(d.get("id", "")).rsplit("/", 1)[-1]
                if iid and iid not in out and d.get("display_name"):
                    out[iid] = {"name": d["display_name"], "country": d.get("country_code"),
                                "lineage": {str(x).rsplit("/", 1)[-1]
                                            for x in d.get("lineage") or []},
                                "ror": str(d.get("ror") or "").rsplit("/", 1)[-1] or None,
                                "file": f}
    return out


def build_lookalikes(countries: dict[str, str]) -> list[dict[str, str]]:
    reg = load_registry()
    names, info = _registry_aliases(reg, countries)
    by_first: dict[str, set[str]] = defaultdict(set)
    for key, ns in names.items():
        for n in ns:
            by_first[n.split()[0]].add(key)
    listed_ror = {r: k for k, d in info.items() for r in d["ror"]}
    listed_oa = {o: k for k, d in info.items() for o in d["oa"]}
    rows: dict[tuple[str, str], dict[str, str]] = {}

    def add(name: str, relation: str, key: str, country: str | None, source: str,
            basis: str) -> None:
        k = (normalize(name), key)
        if k in rows:
            return
        rows[k] = {"name": name, "relation": relation, "related_key": key,
                   "related_name": str(info[key]["name"]), "country": country or "",
                   "source": source, "basis": basis}

    def keys_in(name: str) -> list[str]:
        return sorted({k for t in normalize(name).split() for k in by_first.get(t, ())})

    def classify(name: str, key: str) -> tuple[str, str] | None:
        n = normalize(name)
        for alias in sorted(names.get(key, ()), key=len, reverse=True):
            pos = _contains(n, alias)
            if pos < 0:
                continue
            if n == alias:
                return ("same", alias)
            toks = n.split()
            end = pos + len(alias.split())
            if end < len(toks) and toks[end] == "of" and alias.split()[-1] in (
                    "university", "institute", "college", "academy"):
                return ("continues", alias)
            return ("embeds", alias)
        return None

    # (1) ROR relationships of listed institutions' ROR records; and of unlisted parents
    # whose units are listed (CAS), so that "University of Chinese Academy of Sciences"
    # is not read as naming the parent
    parents = {normalize(p): p for p in NameMatcher(reg, lookalikes=(), country_names=countries,
                                                     fuzzy=False)._parents.values()}
    with (RESTRICTED / "raw" / "ror_records_selected.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            d = json.loads(line)
            rid = d["ror_id"].rsplit("/", 1)[-1]
            key = listed_ror.get(rid)
            pname = normalize(d["display"])
            if key is None and pname in parents:
                for rtype, rname, rurl in d["relationships"]:
                    rrid = rurl.rsplit("/", 1)[-1]
                    n = normalize(rname)
                    if rrid in listed_ror or n == pname or _contains(n, pname) < 0:
                        continue
                    rows.setdefault((n, ""), {
                        "name": rname, "relation": "unit", "related_key": "",
                        "related_name": d["display"], "country": "",
                        "source": (f"ROR {rrid} '{rname}', a {rtype.lower()} of ROR {rid} in "
                                   f"ror-community/ror-records@{d['commit'][:12]}:{d['path']} "
                                   "(CC0)"),
                        "basis": (f"an organisation of {d['display']} (not listed itself), "
                                  "named with it"),
                    })
                continue
            if key is None:
                continue
            if key not in names:
                continue
            for rtype, rname, rurl in d["relationships"]:
                rrid = rurl.rsplit("/", 1)[-1]
                if rrid in listed_ror:
                    continue  # listed itself
                got = classify(rname, key)
                if got is None or got[0] == "same":
                    continue
                src = (f"ROR {rrid} '{rname}', a {rtype.lower()} of ROR {rid} in "
                       f"ror-community/ror-records@{d['commit'][:12]}:{d['path']} (CC0)")
                if got[0] == "continues":
                    add(rname, "distinct", key, "", src, "its name continues the listed "
                        f"name '{got[1]}' with 'of ...'")
                else:
                    add(rname, "unit", key, "", src, f"ROR records it as a {rtype.lower()} "
                        "organisation of the listed institution")
    # (2) OpenAlex institutions attached in the recorded works / institution files
    for iid, d in sorted(_oa_institutions().items()):
        if iid in listed_oa or (d["ror"] and d["ror"] in listed_ror):
            continue
        oname = re.sub(r"\s*\((?:[A-Z][\w .&-]*)\)\s*$", "", str(d["name"]))
        for key in keys_in(oname):
            got = classify(oname, key)
            if got is None:
                continue
            kind, alias = got
            src = f"OpenAlex institution {iid} '{d['name']}' ({d['file']}, CC0)"
            kcountry = info[key]["country"]
            if kind == "same":
                if d["country"] and kcountry and d["country"] != kcountry:
                    add(oname, "same_name", key, str(d["country"]), src,
                        f"another institution in {d['country']} with the listed name")
                continue
            lineage_keys = {listed_oa.get(x) for x in d["lineage"]}  # type: ignore[attr-defined]
            if key in lineage_keys:
                add(oname, "unit", key, str(d["country"] or ""), src,
                    "OpenAlex lineage places it under the listed institution")
            elif kind == "continues":
                add(oname, "distinct", key, str(d["country"] or ""), src,
                    f"its name continues the listed name '{alias}' with 'of ...'")
            else:
                add(oname, "unit", key, str(d["country"] or ""), src,
                    "a separate OpenAlex institution whose name embeds the listed name "
                    "(affiliate or unit)")
    for r in _SOURCED:
        add(r["name"], r["relation"], r["related_key"], r["country"], r["source"],
            r["basis"])
    return sorted(rows.values(), key=lambda r: (r["related_key"], r["relation"], r["name"]))


_AMBIGUOUS_PLACE = {"georgia", "jordan", "chad", "niger", "guinea", "mexico", "turkey",
                    "lebanon", "panama", "cuba", "peru", "china grove"}


def build_country_names() -> list[dict[str, str]]:
    reg = load_registry()
    out: dict[str, dict[str, str]] = {}

    def add(name: str, code: str, source: str) -> None:
        n = normalize(name)
        if not n or len(n) <= 2 or n in _AMBIGUOUS_PLACE or not re.fullmatch(r"[A-Z]{2}",
                                                                               code):
            return
        out.setdefault(n, {"name": name, "code": code, "source": source})

    # (1) OpenAlex institution geo records
    for f in ("institutions_bibgraph_2025-10.jsonl.gz",
              "snapshot_institutions_updated_date_2023-09-04_part_000.jsonl.gz"):
        with gzip.open(OPENALEX / f, "rt", encoding="utf-8") as fh:
            for line in fh:
                g = json.loads(line).get("geo") or {}
                if g.get("country") and g.get("country_code"):
                    add(g["country"], g["country_code"], f"OpenAlex institution geo ({f}, CC0)")
    # (2) destinations as printed on the BIS Entity List / Canada NRO, joined to the registry
    by_name: dict[str, Counter[str]] = defaultdict(Counter)
    bis = json.loads((RESTRICTED / "raw" / "bis_entity_list_ecfr_2026-07-09_nsfreg.json")
                     .read_text("utf-8"))["entities"]
    reg_country = {(e.list, normalize(e.name)): e.country for e in reg.entries if e.country}
    for ent in bis:
        c = reg_country.get(("BIS_ENTITY_LIST", normalize(ent["name"])))
        if c and ent.get("country"):
            by_name[ent["country"]][c] += 1
    with (RESTRICTED / "raw" / "canada_nro_list_2024-04-18.csv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            c = reg_country.get(("CA_NRO", normalize(row["name"])))
            if c:
                by_name[row["country_as_printed"]][c] += 1
    for name, codes in sorted(by_name.items()):
        (code, n), = codes.most_common(1)
        if n >= 0.8 * sum(codes.values()) and n >= 2:
            add(name, code, "destination as printed on the BIS Entity List (nsfreg eCFR copy) "
                f"or Canada's NRO list, joined to the registry's country codes ({n} of "
                f"{sum(codes.values())} entries)")
    # (3) trailing parts of recorded raw affiliation strings vs OpenAlex `countries`:
    # written-out variants of a known country name ("PR China", "Republic of Korea") and
    # country abbreviations in capitals ("USA", "UK")
    known = dict(out)
    tails: dict[str, Counter[str]] = defaultdict(Counter)
    shown: dict[str, str] = {}
    for w in load_works().values():
        for a in w.authorships:
            if len(a.countries) != 1 or len(a.raw_affiliations) != 1:
                continue
            tail = re.split(r"[,;]", a.raw_affiliations[0])[-1]
            tail = re.sub(r"[\d#]+|\bTAB\b", " ", tail).strip(" .")
            norm = normalize(tail)
            if not norm:
                continue
            caps = re.sub(r"[\W_]", "", tail)
            extra = set(norm.split())
            for k in known:
                if len(k) > 3 and f" {k} " in f" {norm} ":
                    extra -= set(k.split())
                    break
            else:
                extra = {"?"}
            variant = extra <= {"the", "pr", "p", "r", "people", "republic", "of"}
            abbrev = bool(re.fullmatch(r"[A-Z](?:\.?[A-Z]){1,3}\.?", tail)) and (
                len(caps) >= 3 or caps == "UK")
            if variant or abbrev:
                tails[norm][a.countries[0]] += 1
                shown.setdefault(norm, tail)
    for tail, codes in sorted(tails.items()):
        (code, n), = codes.most_common(1)
        share = n / sum(codes.values())
        if n >= 3 and share >= 0.95 and tail not in out:
            out[tail] = {"name": shown[tail], "code": code,
                         "source": f"trailing part of {n} recorded OpenAlex raw affiliation "
                                   f"strings ({share:.0%} with OpenAlex countries = [{code}]; "
                                   "shared/data/openalex works, CC0)"}
    return sorted(out.values(), key=lambda r: (r["code"], r["name"]))


def _write(path: Path, rows: list[dict[str, str]], cols: list[str]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=cols, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


def main() -> None:
    cn = build_country_names()
    _write(OUT / "country_names.csv", cn, ["name", "code", "source"])
    la = build_lookalikes({normalize(r["name"]): r["code"] for r in cn})
    _write(OUT / "lookalikes.csv", la,
           ["name", "relation", "related_key", "related_name", "country", "source", "basis"])
    print(f"lookalikes.csv: {len(la)} rows; country_names.csv: {len(cn)} rows")


if __name__ == "__main__":
    main()
