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
