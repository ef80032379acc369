"""What every list parser returns, and the errors they raise."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

__all__ = [
    "ParsedEntry",
    "ParsedSource",
    "SourceFileError",
    "TruncatedFileError",
    "WrongListError",
    "is_organisation_name",
    "sha256_hex",
]


class SourceFileError(ValueError):
    """A list file cannot be read as its format: nothing from it is applied.

    The message names the file, and where known the line and field.
    """


class TruncatedFileError(SourceFileError):
    """The file stops before its end (a cut download): applying it would read its missing
    tail as removals, so it is refused."""


class WrongListError(SourceFileError):
    """The file is of another list than the one asked for (``--source``)."""


@dataclass(frozen=True, slots=True)
class ParsedEntry:
    """One institution on one list, as one official file gives it.

    ``listed_on`` is the file's own date of addition (``start_date``, effective date or
    date of inclusion) and ``listed_on_basis`` says which; None when the file gives none.
    """

    list: str
    name: str
    aliases: tuple[str, ...] = ()
    country: str | None = None
    entry_type: str = "institution"
    listed_on: date | None = None
    listed_on_basis: str = ""
    ends_on: date | None = None
    ends_on_basis: str = ""
    citations: tuple[str, ...] = ()
    source_id: str = ""
    source_url: str = ""
    notes: str = ""


@dataclass(slots=True)
class ParsedSource:
    """One parsed file: the lists it carries and what was left out.

    Parameters
    ----------
    source : str
        The parser's name (``csl_csv``, ``bis_dpl``, ``fcc_covered``, ``dhs_uflpa``,
        ``os_targets``).
    origin : str
        The file path or URL read.
    sha256 : str
        Hash of the bytes read (after decompression of a ``.gz``).
    lists : dict
        List code -> entries.
    data_date : dict
        List code -> the newest date the file itself gives (None: the file gives none).
    rows : int
        Data rows read.
    left_out_individuals : int
        Rows about a person (not used: institutions only).
    left_out_other : dict
        Rows of lists the registry does not carry, by the file's list name.
    """

    source: str
    origin: str
    sha256: str
    retrieved_at: str
    licence: str
    source_url: str
    lists: dict[str, list[ParsedEntry]] = field(default_factory=dict)
    data_date: dict[str, date | None] = field(default_factory=dict)
    rows: int = 0
    left_out_individuals: int = 0
    left_out_other: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {code: len(entries) for code, entries in sorted(self.lists.items())}

    def to_json(self) -> dict[str, object]:
        return {
            "source": self.source,
            "origin": self.origin,
            "sha256": self.sha256,
            "retrieved_at": self.retrieved_at,
            "licence": self.licence,
            "source_url": self.source_url,
            "rows": self.rows,
            "entries": self.counts(),
            "data_date": {k: (v.isoformat() if v else None)
                          for k, v in sorted(self.data_date.items())},
            "left_out_individuals": self.left_out_individuals,
            "left_out_other": dict(sorted(self.left_out_other.items())),
            "warnings": list(self.warnings),
        }


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_time(path: Path) -> str:
    """A file's modification time (UTC ISO), the retrieval time of a hand download."""
    return datetime.fromtimestamp(path.stat().st_mtime).astimezone().isoformat(timespec="seconds")


# A name is kept as an organisation only when it carries a legal-form or organisation
# word.  This decides whether an entry is an institution at all; it never infers
# anything about a person (rows without such a word are left out and counted).
_ORG_WORDS = re.compile(
    r"\b(?:LTD|LIMITED|INC|INCORPORATED|CORP|CORPORATION|CO|COMPANY|LLC|L\.L\.C|LLP|LP|"
    r"GMBH|S\.?A|S\.?A\.?R\.?L|S\.?R\.?L|S\.?L|AG|B\.?V|N\.?V|PLC|PTE|PVT|FZE|FZC|FZCO|JSC|"
    r"OOO|OAO|ZAO|PJSC|TRADING|INDUSTRIES|INDUSTRIAL|INDUSTRY|ENTERPRISES?|INTERNATIONAL|"
    r"GROUP|TECHNOLOG(?:Y|IES)|UNIVERSITY|INSTITUTE|ACADEMY|LABORATOR(?:Y|IES)|CENT(?:ER|RE)|"
    r"SERVICES?|SYSTEMS?|ELECTRONICS?|AVIATION|AIRLINES?|AEROSPACE|SHIPPING|HOLDINGS?|"
    r"ASSOCIATES|EXPORTS?|IMPORTS?|IMPEX|SUPPL(?:Y|IES)|LOGISTICS|BUREAU|MINISTRY|"
    r"ORGANI[SZ]ATION|AGENCY|FACTORY|PLANT|WORKS|BANK|FOUNDATION|FIRM|DEPARTMENT)\b",
    re.IGNORECASE,
)


def is_organisation_name(name: str) -> bool:
    """True when ``name`` has a legal-form or organisation word.

    Examples
    --------
    >>> is_organisation_name("BALLI AEROSPACE & MARINE LTD")
    True
    >>> is_organisation_name("AARON ABRAHAM VILLA")
    False
    """
    return bool(_ORG_WORDS.search(name))
