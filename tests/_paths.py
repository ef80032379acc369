"""Where the tests find the project's shared reference data (real, with provenance).

The data lives in a folder named ``shared`` beside the repository (``../shared`` from its
root): recorded OpenAlex works in ``data/openalex`` and the cited list files in
``data/restricted``, each with its PROVENANCE.md.  Tests that need it are skipped, with the
reason, when it is absent (``tests/conftest.py``).
"""

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
OPENALEX = SHARED / "data" / "openalex"
RESTRICTED = SHARED / "data" / "restricted"

#: Why a test that needs the shared data is skipped without it.
MISSING_SHARED_REASON = (
    f"needs the project's shared reference data (recorded OpenAlex works and list files) in "
    f"a folder 'shared' beside the repository, i.e. {SHARED}; not found")


def shared_data_present() -> bool:
    """Whether ``../shared/data`` holds the recorded OpenAlex works and the list files."""
    return OPENALEX.is_dir() and RESTRICTED.is_dir()

#: Recorded official list publications (see SOURCES / "PROVENANCE.md"), several dated versions.
SOURCES = RESTRICTED / "sources"
CSL_2019 = SOURCES / "trade_csl" / "2019-12-03_excerpt" / "csl.csv"
CSL_2022 = SOURCES / "trade_csl" / "2022-05-06" / "consolidated.csv.gz"
CSL_2023_CUT = SOURCES / "trade_csl" / "2023-11-30_truncated" / "csl.csv.gz"
DPL_2019 = SOURCES / "bis_dpl" / "2019-06-29" / "dpl.txt"
DPL_2022 = SOURCES / "bis_dpl" / "2022-09-07" / "dpl.txt"
FCC_HTML = SOURCES / "fcc_covered_list" / "2026-05-14_archive-capture" / "table.html"
FCC_0521 = SOURCES / "fcc_covered_list" / "2026-05-21" / "table.csv"
FCC_0820 = SOURCES / "fcc_covered_list" / "2026-08-20" / "table.csv"
UFLPA = SOURCES / "dhs_uflpa" / "2026-07-09" / "source-uflpa-2026-07-09.html"
INKSNA = SOURCES / "state_isn" / "inksna_2026-08-18" / "inksna.csv"
