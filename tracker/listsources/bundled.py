"""The official list files shipped in ``tracker/data/sources`` and the registry-build stage
that adds their lists to the bundled registry (version 0).

The files are read through the same parsers as ``tracker lists update`` and their entries
pass through the same identity work (:func:`tracker.registry_versions.compose_registry`
with the reviewed ``institution_merges.csv``): an entry whose normalised name + country
equals an existing institution joins it as a further list membership; any other entry is
a new institution.  See ``tracker/data/sources/PROVENANCE.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tracker.listsources import parse_bytes
from tracker.listsources.model import ParsedSource, SourceFileError

__all__ = ["BUNDLED_SOURCES", "SOURCES_DIR", "BundledSource", "ListSourcesStage",
           "list_sources_stage", "read_bundled"]

#: Where the shipped official list files are.
SOURCES_DIR = Path(__file__).resolve().parents[1] / "data" / "sources"


@dataclass(frozen=True, slots=True)
class BundledSource:
    """One shipped official file and the lists taken from it.

    ``retrieved_at`` is the recorded copy's date (its commit date, see PROVENANCE.md),
    fixed so that the build gives the same bytes on every machine.
    """

    path: str
    source: str
    lists: tuple[str, ...]
    retrieved_at: str
    recorded_copy: str


BUNDLED_SOURCES: tuple[BundledSource, ...] = (
    BundledSource("trade_csl/2022-05-06/consolidated.csv.gz", "csl",
                  ("BIS_UVL", "STATE_ISN", "STATE_DDTC_DEBARRED"), "2022-05-06",
                  "moov-io/watchman@cb4dc141c8d7d3c58e3d17c7ea6bd4b1da1e6102:"
                  "pkg/csl/testdata/consolidated.csv.gz"),
    BundledSource("bis_dpl/2022-09-07/dpl.txt", "dpl", ("BIS_DPL",), "2022-09-07",
                  "moov-io/watchman@47c1703b39dde3a939d91346c8c74f58fdb69861:"
                  "test/testdata/bench/dpl.txt"),
    BundledSource("fcc_covered_list/2026-08-20/table.csv", "fcc", ("FCC_COVERED",),
                  "2026-08-20", "opensanctions/opensanctions@"
                  "a930a9d6d0171f32be3ad8376d1339349e113e29:datasets/us/fcc_covered_list/"
                  "table.csv"),
    BundledSource("dhs_uflpa/2026-07-09/source-uflpa-2026-07-09.html", "uflpa",
                  ("DHS_UFLPA",), "2026-07-09", "phagehunter/nsfreg@"
                  "02787e87e65d9452d34e1413859cbea1b0a94b00:data/source-uflpa-2026-07-09.html"),
)


def read_bundled(folder: Path | None = None) -> list[ParsedSource]:
    """Parse every shipped file, keeping only the lists it is shipped for.

    Raises
    ------
    SourceFileError
        A shipped file is missing or no longer parses.
    """
    root = folder or SOURCES_DIR
    out: list[ParsedSource] = []
    for bs in BUNDLED_SOURCES:
        p = root / bs.path
        try:
            data = p.read_bytes()
        except OSError as exc:
            raise SourceFileError(f"{p}: cannot read the shipped list file: "
                                  f"{exc.strerror or exc}") from exc
        parsed = parse_bytes(data, origin=f"tracker/data/sources/{bs.path} (recorded copy "
                             f"{bs.recorded_copy})", retrieved_at=bs.retrieved_at,
                             source=bs.source)
        missing = [c for c in bs.lists if c not in parsed.lists]
        if missing:
            raise SourceFileError(f"{p}: holds no {', '.join(missing)} rows")
        parsed.lists = {c: parsed.lists[c] for c in bs.lists}
        parsed.data_date = {c: parsed.data_date.get(c) for c in bs.lists}
        out.append(parsed)
    return out


@dataclass(slots=True)
class ListSourcesStage:
    """What the stage adds to the build: entries, lists and editions as registry JSON,
    and per list the counts it reports (``entries``, ``joined``, ``new_institutions``)."""

    entries: list[dict[str, Any]]
    lists: list[dict[str, Any]]
    editions: list[dict[str, Any]]
    report: dict[str, Any]


def list_sources_stage(entries: list[dict[str, Any]], *, merge_file: Path | None = None,
                       folder: Path | None = None) -> ListSourcesStage:
    """Add the shipped official lists to built registry entries (JSON dicts).

    Parameters
    ----------
    entries : list of dict
        The registry entries built so far (``registry.json`` form); not changed.
    merge_file : Path, optional
        Reviewed merge decisions (default: the shipped ``institution_merges.csv``).
    folder : Path, optional
        Folder of the shipped files (default :data:`SOURCES_DIR`).

    Returns
    -------
    ListSourcesStage
        New entries sorted by ``entry_id``; nothing for lists the build already has.

    Raises
    ------
    SourceFileError
        A shipped file is missing or no longer parses.
    """
    from tracker.registry_versions import (
        MergeDecisions,
        _list_info_json,
        compose_registry,
        list_updates,
    )
    from tracker.watchlists import ListEntry, Registry

    base = Registry([ListEntry.from_json(e) for e in entries], lists=[], editions=[],
                    version="build")
    have = {e["list"] for e in entries}
    parsed = read_bundled(folder)
    updates = {c: u for c, u in list_updates(parsed).items() if c not in have}
    new = compose_registry(base, updates, version="build",
                           merges=MergeDecisions.read(merge_file))
    added = sorted((e.to_json() for e in new.entries if e.list in updates),
                   key=lambda d: d["entry_id"])
    upd = new.built_from.get("update", {})
    report: dict[str, Any] = {}
    for code in sorted(updates):
        n = sum(1 for e in added if e["list"] == code)
        report[code] = {"entries": n, "joined": int(upd.get("joined", {}).get(code, 0)),
                        "new_institutions": int(upd.get("new_institutions", {}).get(code, 0)),
                        "from": updates[code].source.origin,
                        "sha256": updates[code].source.sha256}
    lists = [_list_info_json(new.lists[c]) for c in sorted(updates)]
    editions = [ed.to_json() for ed in new.editions if ed.list in updates]
    return ListSourcesStage(added, lists, editions, report)
