"""Where the tests find the project's shared reference data (real, with provenance)."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
OPENALEX = SHARED / "data" / "openalex"
RESTRICTED = SHARED / "data" / "restricted"
