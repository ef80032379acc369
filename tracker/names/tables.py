"""The bundled data tables of name matching: look-alikes and country names, each row
with its source (``tracker/data/lookalikes.csv``, ``country_names.csv``)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from tracker.names.normalise import (
    normalize,
)


class LookalikeError(ValueError):
    """The look-alike or country table cannot be read.  Name matching would then drop its
    hard-negative guard, so the matcher refuses to start."""



@dataclass(frozen=True, slots=True)
class Lookalike:
    """A name that contains, or equals, a listed name but is not that listed institution.

    ``relation`` is ``"distinct"`` (another institution: drop the listed name found inside
    it), ``"unit"`` (a unit, campus, college or affiliated hospital of the listed
    institution ``related_key``: it counts only where the entry covers subordinate units)
    or ``"same_name"`` (another institution with exactly the listed name, in ``country``:
    the listed name then needs country context).  ``source`` cites where the name comes
    from.
    """

    name: str
    relation: str
    related_key: str
    related_name: str = ""
    country: str | None = None
    source: str = ""
    basis: str = ""

    def __reduce__(self) -> tuple[Any, ...]:
        return (Lookalike, (self.name, self.relation, self.related_key, self.related_name,
                            self.country, self.source, self.basis))


def _read_data_csv(path: str | Path | None, default: str) -> list[dict[str, str]]:
    try:
        if path is None:
            text = resources.files("tracker").joinpath(f"data/{default}").read_text("utf-8")
        else:
            text = Path(path).read_text("utf-8")
    except OSError as exc:
        raise LookalikeError(f"cannot read {path or default}: {exc}") from exc
    return list(csv.DictReader(io.StringIO(text)))


def load_lookalikes(path: str | Path | None = None) -> tuple[Lookalike, ...]:
    """Load the look-alike table (bundled ``tracker/data/lookalikes.csv`` by default).

    Raises
    ------
    LookalikeError
        The file is missing or a row has an unknown relation.

    Examples
    --------
    >>> rows = load_lookalikes()
    >>> any(r.name == "Xiamen University Malaysia" and r.relation == "unit" for r in rows)
    True
    """
    out = []
    for i, row in enumerate(_read_data_csv(path, "lookalikes.csv"), start=2):
        rel = (row.get("relation") or "").strip()
        if rel not in ("distinct", "unit", "same_name"):
            raise LookalikeError(f"lookalikes.csv line {i}: unknown relation {rel!r}")
        out.append(Lookalike(
            name=row["name"].strip(), relation=rel, related_key=row["related_key"].strip(),
            related_name=(row.get("related_name") or "").strip(),
            country=(row.get("country") or "").strip().upper() or None,
            source=(row.get("source") or "").strip(), basis=(row.get("basis") or "").strip(),
        ))
    return tuple(out)


def load_country_names(path: str | Path | None = None) -> dict[str, str]:
    """Country names as written in affiliations → ISO 3166-1 alpha-2 code.

    Bundled table: ``tracker/data/country_names.csv`` (each row cites its source).

    Examples
    --------
    >>> names = load_country_names()
    >>> names["pr china"], names["usa"]
    ('CN', 'US')
    """
    out: dict[str, str] = {}
    for row in _read_data_csv(path, "country_names.csv"):
        key = normalize(row["name"])
        if key:
            out[key] = row["code"].strip().upper()
    return out
