"""Build the bundled restricted-institution registry (version 0) from the files shipped in
``tracker/data/sources``.

Every input is read from the package through :mod:`importlib.resources` (see
``tracker/data/sources/PROVENANCE.md`` for each file's origin, citation and licence); the
build reads nothing outside the package and fetches nothing.  Maintainers run it with
``tracker lists build --out tracker/data/registry.json``; a test checks that the result is
byte-identical to the committed ``registry.json``.

Modules: ``build_inputs`` (the shipped files, their provenance, the readers, the reviewed ID
links), ``build_text`` (name rules, FR citations), ``build_core`` (the :class:`Builder` and
the identity work), one module per source format (``build_bis``: eCFR JSON of the Entity
List and MEU; ``build_dod``: OpenSanctions CSV of 1286 and 1260H and the FR notice;
``build_ofac``: NS-CMIC; ``build_nro``: Canada's list; ``build_aspi``: MISP galaxy JSON), and
this entry, :func:`build_registry`.

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

import hashlib
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from typing import Any, Protocol

from tracker.listsources import build_aspi, build_bis, build_dod, build_nro, build_ofac
from tracker.listsources.build_core import Builder
from tracker.listsources.build_inputs import (
    DATA,
    EVALUATION_FILES,
    F_INST,
    F_OPENALEX,
    F_ROR,
    F_WEB,
    FILE_PROVENANCE,
    INPUT_FILES,
    LINKS_FILE,
    MERGES_FILE,
    RECORDED_AS,
    SOURCES,
    InputMissingError,
    ReviewedLink,
    accepted_links,
    read_bytes,
    sha256_hex,
)

__all__ = ["SOURCES", "BuildResult", "InputMissingError", "ReviewedLink", "accepted_links",
           "build_registry", "dumps", "input_files"]

#: Every list of the curated build, in the order registry.json lists them.
LISTS: list[dict[str, Any]] = [*build_bis.LISTS, *build_dod.LISTS, *build_ofac.LISTS,
                               *build_nro.LISTS, *build_aspi.LISTS]


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
    build_bis.entity_list(b)
    build_bis.military_end_users(b)
    build_dod.section_1286(b)
    build_dod.section_1260h(b)
    build_ofac.ns_cmic(b)
    build_nro.named_research_organizations(b)
    build_aspi.aspi_tracker(b)
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
    held = {e["institution_key"] for e in entries} | {
        former.split(":", 1)[-1] for e in entries for former in e.get("merged_from", ())}
    b.warnings.extend(f"merge file: {key} -> {into}: key not in the registry (stale row)"
                      for key, into in b.deferred_merges if key not in held or into not in held)
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
