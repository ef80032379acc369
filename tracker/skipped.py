"""A record that could not be read: reported, counted as a data gap, and skipped.

Sources (files, the OpenAlex API) make these; screening counts them.  It lives on its own
so that screening needs nothing from the sources.

Examples
--------
>>> SkippedRecord("works.jsonl", "line 12", "not valid JSON").to_json()["location"]
'line 12'
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SkippedRecord"]


@dataclass(frozen=True, slots=True)
class SkippedRecord:
    """A record that was reported and skipped: where it was and why."""

    source: str
    location: str  # "line 12" or "results[3]"
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"source": self.source, "location": self.location, "reason": self.reason}
