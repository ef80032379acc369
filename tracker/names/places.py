"""Places a list prints in an entry's address: context that supports an acronym or a short
alias found in a raw affiliation string ("NUDT, Changsha").

The table ``tracker/data/entry_places.csv`` (``list,name,place,kind,source``) holds, per
printed entry name, the cities (and regions) of its addresses as the list's own address
field gives them; see ``tracker/data/entry_places.md`` for sources and licence.  It is
rebuilt from the list files shipped in ``tracker/data/sources`` with::

    python -m tracker.names.places

An address part counts as a place when it has no digit and no street word ("Road",
"District", "Floor" ...), is not the country (nor the last part of the address, where the
country stands) and has at most three words; the first such part of an address is its
city, later ones (a province, an oblast) its region.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from tracker.names.normalise import normalize

__all__ = ["PLACES_FILE", "Place", "address_places", "build_rows", "load_places", "main"]

#: Where the table ships.
PLACES_FILE = Path(__file__).resolve().parents[1] / "data" / "entry_places.csv"

#: The recorded list files with an address field (nsfreg JSON, eCFR text).
_SOURCES: tuple[tuple[str, str, str], ...] = (
    ("BIS_ENTITY_LIST", "bis_entity_list/bis_entity_list_ecfr_2026-07-09_nsfreg.json.gz",
     "github:phagehunter/nsfreg@02787e87e65d9452d34e1413859cbea1b0a94b00:"
     "data/bis_entity_list.json"),
    ("BIS_MEU", "bis_meu/bis_meu_list_ecfr_2026-07-09_nsfreg.json",
     "github:phagehunter/nsfreg@02787e87e65d9452d34e1413859cbea1b0a94b00:data/bis_meu.json"),
)
_STREET_WORDS = """
road rd street st avenue ave av district floor fl building bldg zone park lane no room rm
block village county tower center centre industrial office box highway suite unit square
plaza campus gate dong lu jie xiang hao area estate complex hall apt apartment house
prospekt prospect pr ul ulitsa shosse pereulok naberezhnaya bulvar per str sector plot
warehouse mall market court ct boulevard blvd way drive dr development economic technology
technological hi tech high new science scientific free trade port harbor harbour airport
station base compound institute university company ltd co corporation group factory plant
the of and see alternate address addresses under also located at in limited"""
_STREET = frozenset(_STREET_WORDS.split())
_REGION_WORDS = ("province", "oblast", "krai", "region", "state", "prefecture", "republic",
                 "governorate", "emirate", "autonomous")
_SPLIT_ADDRESSES = re.compile(r";\s*(?:and\s+)?|\.\s+(?=\()|\s+and\s+(?=(?:No\.|\d))")


@dataclass(frozen=True, slots=True)
class Place:
    """A place of a listed entry's address."""

    name: str
    kind: str      # city | region
    list: str
    source: str

    @property
    def tokens(self) -> tuple[str, ...]:
        return tuple(normalize(self.name).split())


def _country_words() -> set[str]:
    from tracker.names.tables import load_country_names

    return set(load_country_names())


def address_places(address: str, country_words: Iterable[str] = ()) -> list[tuple[str, str]]:
    """``(place, kind)`` of every address in an address field, in order, each once.

    Parameters
    ----------
    address : str
        The list's address field (several addresses joined by "; and ").
    country_words : iterable of str
        Normalised country names (never a place).

    Examples
    --------
    >>> address_places("No. 92 West Dazhi Street, Nangang District, Harbin, Heilongjiang, "
    ...                "China; and No. 2 West Wenhua Road, Weihai City, China", {"china"})
    [('Harbin', 'city'), ('Heilongjiang', 'region'), ('Weihai', 'city')]
    >>> address_places("Tian Wang te Zi #1, Baqiao District, Xian, China", {"china"})
    [('Xian', 'city')]
    """
    countries = set(country_words) | {"china", "prc", "p r china", "pr china", "russia"}
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    for one in _SPLIT_ADDRESSES.split(address):
        found = 0
        parts = one.split(",")
        for part in parts[:-1] if len(parts) > 1 else parts:   # the last names the country
            text = re.sub(r"\s+", " ", part).strip(" .;:()")
            text = re.sub(r"(?i)\s+(city|shi)$", "", text)
            words = normalize(text).split()
            if (not words or len(words) > 3 or any(c.isdigit() for c in text)
                    or any(w in _STREET for w in words) or " ".join(words) in countries
                    or len(text) < 3 or not text[0].isupper()):
                continue
            kind = "region" if found or any(w in _REGION_WORDS for w in words) else "city"
            found += 1
            key = " ".join(words)
            if key not in seen:
                seen.add(key)
                out.append((text, kind))
    return out


def _shipped_sources() -> Traversable:
    return resources.files("tracker").joinpath("data/sources")


def build_rows(source: Traversable | Path | None = None) -> list[dict[str, str]]:
    """The table's rows from the list files under ``source`` (default: the copies shipped in
    ``tracker/data/sources``), sorted."""
    base = _shipped_sources() if source is None else source
    words = _country_words()
    rows: dict[tuple[str, str, str], dict[str, str]] = {}
    for code, rel, cite in _SOURCES:
        data = base.joinpath(rel).read_bytes()
        if rel.endswith(".gz"):
            data = gzip.decompress(data)
        doc = json.loads(data.decode("utf-8"))
        for ent in doc["entities"]:
            for place, kind in address_places(ent.get("address") or "", words):
                row = {"list": code, "name": ent["name"], "place": place, "kind": kind,
                       "source": f"{cite} (address of '{ent['name']}')"}
                rows.setdefault((code, ent["name"], place), row)
    return [rows[k] for k in sorted(rows)]


def _csv_text(rows: list[dict[str, str]]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=["list", "name", "place", "kind", "source"],
                       lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


@cache
def load_places() -> dict[tuple[str, str], tuple[Place, ...]]:
    """The shipped table: ``(list, normalised printed name) -> places``."""
    text = resources.files("tracker").joinpath("data/entry_places.csv").read_text("utf-8")
    out: dict[tuple[str, str], list[Place]] = {}
    for r in csv.DictReader(io.StringIO(text)):
        out.setdefault((r["list"], normalize(r["name"])), []).append(
            Place(r["place"], r["kind"], r["list"], r["source"]))
    return {k: tuple(v) for k, v in out.items()}


def main(argv: list[str] | None = None) -> int:
    """Rebuild ``tracker/data/entry_places.csv``; 2 when the sources are missing."""
    ap = argparse.ArgumentParser(description="Rebuild the entry places table from the "
                                 "list files shipped in tracker/data/sources.")
    ap.add_argument("--out", type=Path, default=PLACES_FILE)
    args = ap.parse_args(argv)
    base = _shipped_sources()
    missing = [rel for _c, rel, _s in _SOURCES if not base.joinpath(rel).is_file()]
    if missing:
        print(f"places: missing under tracker/data/sources: {', '.join(missing)}",
              file=sys.stderr)
        return 2
    rows = build_rows(base)
    args.out.write_text(_csv_text(rows), encoding="utf-8")
    print(f"wrote {args.out}: {len(rows)} places")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
