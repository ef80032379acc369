"""Extract the candidate rows of the independent matching set from recorded OpenAlex files.

One row per affiliation string OpenAlex records for an institution (see ``../PROTOCOL.md``,
section 2): a top-level institution record's display name, alternatives, acronyms and
international names, and the display name of every nested institution object (in
``associated_institutions`` and in author records' affiliations) that is not itself a
top-level record.  Deterministic: the same input files give the same ``candidates.csv``.

Run: ``.venv/bin/python tests/matching_eval/independent/extract_candidates.py``
(``--openalex`` defaults to the project's ``shared/data/openalex``).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
sys.path.insert(0, str(REPO))

from tests._paths import OPENALEX  # noqa: E402

INSTITUTION_FILES = (
    "institutions_bibgraph_2025-10.jsonl.gz",
    "snapshot_institutions_updated_date_2023-09-04_part_000.jsonl.gz",
)
AUTHOR_FILE = "authors_bibgraph_2025-10.jsonl.gz"
COLUMNS = ("row_id", "source_file", "source_path", "openalex_id", "ror", "country",
           "institution_type", "string_kind", "languages", "raw_string")


@dataclass(frozen=True)
class Candidate:
    """One affiliation string of one OpenAlex institution."""

    source_file: str
    source_path: str
    openalex_id: str
    ror: str
    country: str
    institution_type: str
    string_kind: str
    languages: str
    raw_string: str


def short_id(url: object) -> str:
    """``https://openalex.org/I123`` → ``I123``; anything else → ``""``.

    Examples
    --------
    >>> short_id("https://openalex.org/I19820366")
    'I19820366'
    >>> short_id(None)
    ''
    """
    return url.rsplit("/", 1)[-1] if isinstance(url, str) and url else ""


def bare_ror(url: object) -> str:
    """``https://ror.org/034t30j35`` → ``034t30j35``.

    Examples
    --------
    >>> bare_ror("https://ror.org/034t30j35")
    '034t30j35'
    """
    return url.rstrip("/").rsplit("/", 1)[-1] if isinstance(url, str) and url else ""


def _records(path: Path) -> Iterator[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def _base(obj: dict[str, Any], source_file: str, source_path: str) -> dict[str, str]:
    return {"source_file": source_file, "source_path": source_path,
            "openalex_id": short_id(obj.get("id")), "ror": bare_ror(obj.get("ror")),
            "country": str(obj.get("country_code") or ""),
            "institution_type": str(obj.get("type") or "")}


def _top_level_rows(rec: dict[str, Any], source_file: str) -> Iterator[Candidate]:
    base = _base(rec, source_file, "record")
    seen: set[str] = set()

    def emit(kind: str, text: object, languages: str = "") -> Iterator[Candidate]:
        if isinstance(text, str) and text and text not in seen:
            seen.add(text)
            yield Candidate(**base, string_kind=kind, languages=languages, raw_string=text)

    yield from emit("display_name", rec.get("display_name"))
    for alt in rec.get("display_name_alternatives") or []:
        yield from emit("alternative", alt)
    for acr in rec.get("display_name_acronyms") or []:
        yield from emit("acronym", acr)
    intl = (rec.get("international") or {}).get("display_name") or {}
    by_text: dict[str, list[str]] = {}
    for lang in sorted(intl):
        if isinstance(intl[lang], str) and intl[lang]:
            by_text.setdefault(intl[lang], []).append(lang)
    for lang in sorted(intl):
        text = intl[lang]
        if isinstance(text, str) and text and by_text.get(text, [""])[0] == lang:
            yield from emit(f"international:{lang}", text, ",".join(by_text[text]))


def candidates(openalex: Path) -> list[Candidate]:
    """Every candidate row, in file order (see the module docstring).

    Parameters
    ----------
    openalex
        The folder holding the recorded OpenAlex files.

    Returns
    -------
    list[Candidate]
        Top-level rows first (file by file), then the nested institution objects.
    """
    top: list[dict[str, Any]] = []
    for name in INSTITUTION_FILES:
        for rec in _records(openalex / name):
            top.append({"file": name, "rec": rec})
    top_ids = {short_id(t["rec"].get("id")) for t in top}
    rows: list[Candidate] = []
    for t in top:
        rows.extend(_top_level_rows(t["rec"], t["file"]))
    nested_seen: set[str] = set()

    def nested(obj: object, source_file: str, source_path: str) -> None:
        if not isinstance(obj, dict):
            return
        oid = short_id(obj.get("id"))
        name = obj.get("display_name")
        if not oid or oid in top_ids or oid in nested_seen or not isinstance(name, str) \
                or not name:
            return
        nested_seen.add(oid)
        rows.append(Candidate(**_base(obj, source_file, source_path),
                              string_kind="display_name", languages="", raw_string=name))

    for t in top:
        rid = short_id(t["rec"].get("id"))
        for assoc in t["rec"].get("associated_institutions") or []:
            nested(assoc, t["file"], f"associated_institutions of {rid}")
    for author in _records(openalex / AUTHOR_FILE):
        aid = short_id(author.get("id"))
        for aff in author.get("affiliations") or []:
            nested((aff or {}).get("institution"), AUTHOR_FILE, f"affiliations of {aid}")
        for inst in author.get("last_known_institutions") or []:
            nested(inst, AUTHOR_FILE, f"last_known_institutions of {aid}")
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--openalex", type=Path, default=OPENALEX)
    parser.add_argument("--out", type=Path, default=HERE / "candidates.csv")
    args = parser.parse_args()
    rows = candidates(args.openalex)
    with args.out.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(COLUMNS)
        for i, c in enumerate(rows, 1):
            w.writerow([i, c.source_file, c.source_path, c.openalex_id, c.ror, c.country,
                        c.institution_type, c.string_kind, c.languages, c.raw_string])
    print(f"{len(rows)} rows -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
