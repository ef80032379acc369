"""Findings as a pandas DataFrame, for notebooks and scripts.

pandas is optional (``pip install 'tracker[frames]'``): it is imported
only when :func:`findings_frame` is called.  The frame holds exactly the findings.csv columns
(:data:`tracker.risk.FINDING_COLUMNS`, in that order), one row per finding, in the order
given.  Values are not reinterpreted: dates stay the strings the findings carry (a
year-only date stays ``"2011"``, an unknown one stays ``""``), so nothing is guessed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from tracker.risk import FINDING_COLUMNS, Finding

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["findings_frame"]


class PandasMissing(ImportError):
    """pandas is not installed, so no DataFrame can be built (the exports still work)."""


def findings_frame(findings: Iterable[Finding] | Any) -> pd.DataFrame:
    """One row per finding, with the findings.csv columns in order.

    Parameters
    ----------
    findings : iterable of Finding, or a ScreenResult
        A result (anything with a ``findings`` attribute) stands for its findings.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`tracker.risk.FINDING_COLUMNS`; ``match_score`` is float,
        ``is_designation`` bool, every other column str.  No findings: an empty frame with
        the same columns.

    Raises
    ------
    PandasMissing
        pandas is not installed.
    TypeError
        An item is not a :class:`~tracker.risk.Finding`.

    Examples
    --------
    >>> from tracker.risk import Finding
    >>> f = Finding(finding_id="f1", work_id="W1", doi="", title="T", publication_date="2011",
    ...             author_id="A1", author_name="X", author_position="first",
    ...             raw_affiliation="", institution_id="I1", institution_ror="",
    ...             institution_name="Univ", list="DOD_1286", list_entry_name="Univ",
    ...             listed_on="", listed_at_publication="unknown",
    ...             match_method="openalex_id", match_detail="", outcome="review")
    >>> df = findings_frame([f])
    >>> list(df.columns[:3]), df.loc[0, "publication_date"], df.loc[0, "listed_on"]
    (['finding_id', 'work_id', 'doi'], '2011', '')
    >>> bool(df.loc[0, "is_designation"])
    True
    >>> len(findings_frame([])), len(findings_frame([]).columns) == len(FINDING_COLUMNS)
    (0, True)
    """
    try:
        import pandas as pd
    except ImportError as exc:
        raise PandasMissing("findings_frame needs pandas (pip install pandas); the CSV, "
                            "JSON and XLSX exports do not") from exc
    items = getattr(findings, "findings", findings)
    rows: list[dict[str, Any]] = []
    for f in items:
        if not isinstance(f, Finding):
            raise TypeError(f"findings_frame takes Finding objects, got {type(f).__name__}")
        rows.append(f.row())
    frame = pd.DataFrame(rows, columns=list(FINDING_COLUMNS))
    types = {c: ("float64" if c == "match_score" else "bool" if c == "is_designation"
                 else "object") for c in FINDING_COLUMNS}
    frame = frame.astype(types)
    for c, t in types.items():
        if t == "object":
            frame[c] = frame[c].map(lambda v: "" if v is None else str(v)).astype(object)
    return frame
