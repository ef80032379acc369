"""Write ``labels.csv`` from ``candidates.csv`` and the hand decisions in ``decisions.csv``.

The rules are the protocol's (``../PROTOCOL.md``, sections 3–4); this script only applies
them so that every row is labelled the same way:

* an institution with a ``record`` decision gets that label, lists and entry; one without
  gets a default with its reason: a unit of a listed institution (``associated_institutions``
  of a positive record) is ``uncertain`` (rule 4), an institute of the Chinese Academy of
  Sciences that no list prints is ``hard_negative`` (siblings of the listed CAS institutes,
  rule 6), anything else is ``negative`` (no list source prints it; the search aid's
  candidates for it were read and none is the same institution);
* every string of the institution inherits the institution's label, except a ``string``
  decision (rule 9) and a lone acronym (rule 7: must not flag alone; ``hard_negative`` when
  the record is listed or a list prints the same acronym, else ``negative``).

Run: ``.venv/bin/python tests/matching_eval/independent/label_rows.py`` (deterministic).
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))

from tests.matching_eval.independent.search_lists import (  # noqa: E402
    acronyms,
    load_entries,
)

DESIGNATION = ("BIS_ENTITY_LIST", "BIS_MEU", "DOD_1260H", "DOD_1286", "OFAC_NS_CMIC", "CA_NRO")
CAS = "I19820366"
COLUMNS = ("row_id", "source_file", "source_path", "openalex_id", "ror", "country",
           "string_kind", "languages", "raw_string", "expected_lists", "expected_entry",
           "label", "record_lists", "record_label", "justification")


@dataclass(frozen=True)
class Decision:
    """A hand decision about one institution or one of its strings."""

    label: str
    lists: str
    entry: str
    justification: str


def is_lone_acronym(kind: str, text: str) -> bool:
    """Rule 7: the acronym kind, or a single all-capital token of at most 6 letters.

    Examples
    --------
    >>> is_lone_acronym("alternative", "SJTU"), is_lone_acronym("alternative", "Zheda")
    (True, False)
    """
    return kind == "acronym" or re.fullmatch(r"[A-Z]{2,6}", text.strip()) is not None


def printed_acronyms() -> set[str]:
    """Acronyms the designation lists print (as a name, an a.k.a. or in parentheses)."""
    out: set[str] = set()
    for e in load_entries():
        if e.list_code not in DESIGNATION:
            continue
        for n in (e.name, *e.aliases):
            out |= acronyms(n)
            if re.fullmatch(r"[A-Z][A-Z0-9&-]{1,9}", n.strip()):
                out.add(n.strip())
    return out


def load_decisions() -> tuple[dict[str, Decision], dict[tuple[str, str], Decision]]:
    records: dict[str, Decision] = {}
    strings: dict[tuple[str, str], Decision] = {}
    with (HERE / "decisions.csv").open(encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            d = Decision(r["label"], r["lists"], r["entry"], r["justification"])
            if r["label"] not in ("positive", "negative", "hard_negative", "uncertain"):
                raise ValueError(f"bad label in decisions.csv: {r}")
            if any(x not in DESIGNATION for x in filter(None, r["lists"].split(";"))):
                raise ValueError(f"bad list in decisions.csv: {r}")
            if r["scope"] == "record":
                records[r["openalex_id"]] = d
            else:
                strings[(r["openalex_id"], r["raw_string"])] = d
    return records, strings


def default_decision(row: dict[str, str], records: dict[str, Decision]) -> Decision:
    path = row["source_path"]
    parent = path.rsplit(" of ", 1)[-1] if path.startswith("associated_institutions") else ""
    if parent and parent in records and records[parent].label == "positive":
        return Decision("uncertain", "", "",
                        f"OpenAlex unit/affiliate of {parent}, which is listed "
                        f"({records[parent].lists}); the lists do not name this body and do "
                        "not say whether they cover it (rule 4).")
    if parent == CAS:
        return Decision("hard_negative", "", "",
                        "Institute or body of the Chinese Academy of Sciences that no list "
                        "prints; sibling of the CAS institutes BIS/1286/Canada NRO print "
                        "(rule 6).")
    where = row["country"] or "no country recorded"
    return Decision("negative", "", "",
                    f"{where}, {row['institution_type'] or 'type unknown'}: no designation "
                    "list prints it (text search of every list source; candidates read, "
                    "none is this institution).")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--candidates", type=Path, default=HERE / "candidates.csv")
    parser.add_argument("--out", type=Path, default=HERE / "labels.csv")
    args = parser.parse_args()
    records, strings = load_decisions()
    acr = printed_acronyms()
    out: list[list[str]] = []
    with args.candidates.open(encoding="utf-8") as fh:
        cands = list(csv.DictReader(fh))
    known = {r["openalex_id"] for r in cands}
    missing = [k for k in [*records, *(k for k, _ in strings)] if k not in known]
    if missing:
        raise ValueError(f"decisions for institutions not in candidates.csv: {missing}")
    used_strings: set[tuple[str, str]] = set()
    for row in cands:
        rec = records.get(row["openalex_id"]) or default_decision(row, records)
        key = (row["openalex_id"], row["raw_string"])
        text = row["raw_string"]
        if key in strings:
            used_strings.add(key)
            d = strings[key]
            label, lists, entry, why = d.label, d.lists, d.entry, d.justification
        elif is_lone_acronym(row["string_kind"], text):
            listed = bool(rec.lists) or text.strip() in acr
            label = "hard_negative" if listed else "negative"
            lists, entry = "", ""
            why = ("Lone acronym: must not flag on its own (rule 7)"
                   + (f"; the record is {rec.label} ({rec.lists})" if rec.lists else "")
                   + ("; a list prints the same acronym" if text.strip() in acr else "")
                   + ".")
        else:
            label, lists, entry, why = rec.label, rec.lists, rec.entry, rec.justification
            if row["string_kind"].startswith("international:") and rec.label == "positive":
                why = f"Name of the same institution in another language (rule 8). {why}"
        out.append([row["row_id"], row["source_file"], row["source_path"], row["openalex_id"],
                    row["ror"], row["country"], row["string_kind"], row["languages"], text,
                    lists, entry, label, rec.lists if rec.label != "uncertain" else "",
                    rec.label, why])
    unused = set(strings) - used_strings
    if unused:
        raise ValueError(f"string decisions matching no candidate row: {sorted(unused)}")
    with args.out.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(COLUMNS)
        w.writerows(out)
    print(f"{len(out)} rows -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
