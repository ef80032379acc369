"""The one reader of dates for the package: ISO ``YYYY-MM-DD`` in, :class:`date` out.

An unknown date stays unknown: empty input gives None, never a guess.

Examples
--------
>>> parse_date("2024-05-01"), parse_date(""), parse_date(None)
(datetime.date(2024, 5, 1), None, None)
>>> parse_date("2024-05-01T10:00:00Z", prefix=True)
datetime.date(2024, 5, 1)
>>> parse_date("2024-13-01")
Traceback (most recent call last):
...
ValueError: not a date in the form YYYY-MM-DD: '2024-13-01'
"""

from __future__ import annotations

from datetime import date

__all__ = ["parse_date"]


def parse_date(value: str | date | None, *, prefix: bool = False) -> date | None:
    """Read an ISO date; None or blank gives None.

    Parameters
    ----------
    value : str, date or None
    prefix : bool, default False
        Read only the first ten characters (a timestamp such as ``2024-05-01T10:00``).

    Raises
    ------
    ValueError
        The text is not a date in the form ``YYYY-MM-DD``.
    """
    if value is None or isinstance(value, date):
        return value
    text = str(value).strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text[:10] if prefix else text)
    except ValueError:
        raise ValueError(f"not a date in the form YYYY-MM-DD: {text!r}") from None
