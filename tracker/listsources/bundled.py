"""The official list files shipped in ``tracker/data/sources``, read through the same
parsers as ``tracker lists update``.

The registry build adds their lists to the bundled registry (version 0) with
:func:`tracker.registry_versions.list_sources_stage`, through the same identity work as an
update.  See ``tracker/data/sources/PROVENANCE.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tracker.listsources import parse_bytes
from tracker.listsources.model import ParsedSource, SourceFileError

__all__ = ["BUNDLED_SOURCES", "SOURCES_DIR", "BundledSource", "read_bundled"]

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
