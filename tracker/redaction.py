"""Secrets out of everything tracker writes: the run record, reports and exports.

A run record holds the command line and the settings of a run, and a user may have typed a
key into either.  Before the record is written anywhere (run.json, findings.json,
findings.xlsx, report.html, the case file), :func:`clean_run_record` scrubs it:

- a key named like a secret (``api_key``, ``authorization``, ``token``, ``secret``,
  ``password``, ``cookie``...) keeps no value;
- ``?api_key=...``, ``--api-key ...``, ``Bearer ...`` and ``Authorization: ...`` inside text
  are replaced with ``"[redacted]"``, and so is the argument after such a flag in a list;
- :func:`find_secrets` checks the result, and a record that still holds one is refused.

This module imports nothing from tracker, so every writer can use it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["REDACTED", "ScrubbedRecord", "clean_run_record", "find_secrets", "scrub_secrets"]

_SECRET_KEY = re.compile(
    r"(api[_-]?key|apikey|authori[sz]ation|token|secret|password|passwd|credential|cookie|"
    r"private[_-]?key|bearer)", re.IGNORECASE)
_SECRET_FLAG = re.compile(
    r"^--?(api[_-]?key|apikey|token|access[_-]?token|secret|password|authorization)$",
    re.IGNORECASE)
_SECRET_IN_TEXT = (
    (re.compile(r"(?i)([?&;](?:api[_-]?key|apikey|token|access_token|secret|password)=)"
                r"[^&#;\s]+"), r"\1[redacted]"),
    (re.compile(r"(?i)(--?(?:api[_-]?key|apikey|token|access[_-]?token|secret|password)"
                r"(?:=|\s+))(?!\[redacted\])\S+"), r"\1[redacted]"),
    (re.compile(r"(?i)\b(bearer\s+)(?!\[redacted\])[A-Za-z0-9._~+/=-]+"), r"\1[redacted]"),
    (re.compile(r"(?i)(authorization\s*[:=]\s*)(?!\[redacted\])\S+"), r"\1[redacted]"),
)
#: What a secret is replaced with.
REDACTED = "[redacted]"


def _scrub_text(text: str) -> str:
    for pattern, repl in _SECRET_IN_TEXT:
        text = pattern.sub(repl, text)
    return text


def scrub_secrets(obj: Any) -> Any:
    """A copy of a run record (any JSON-like value) with every secret redacted.

    A key named like a secret (``api_key``, ``authorization``, ``token``, ``secret``,
    ``password``...) keeps no value; secrets inside strings (``?api_key=...``,
    ``--api-key ...``, ``Bearer ...``) and the argument after such a flag in a list are
    replaced with ``"[redacted]"``.  Empty values (None, "") stay as they are.

    Examples
    --------
    >>> run = scrub_secrets({"settings": {"api_key": "abc", "mailto": None},
    ...                      "command": "tracker screen --api-key abc --org I1"})
    >>> run["settings"], run["command"]
    ({'api_key': '[redacted]', 'mailto': None}, 'tracker screen --api-key [redacted] --org I1')
    >>> scrub_secrets(["tracker", "--token", "xyz", "https://x.org/?api_key=abc&q=1"])
    ['tracker', '--token', '[redacted]', 'https://x.org/?api_key=[redacted]&q=1']
    """
    if isinstance(obj, Mapping):
        out: dict[str, Any] = {}
        for k, v in obj.items():
            if _SECRET_KEY.search(str(k)) and v not in (None, "", [], {}):
                out[str(k)] = REDACTED
            else:
                out[str(k)] = scrub_secrets(v)
        return out
    if isinstance(obj, list | tuple):
        items: list[Any] = []
        redact_next = False
        for v in obj:
            if redact_next and isinstance(v, str):
                items.append(REDACTED)
            else:
                items.append(scrub_secrets(v))
            redact_next = isinstance(v, str) and bool(_SECRET_FLAG.match(v))
        return items
    if isinstance(obj, str):
        return _scrub_text(obj)
    return obj


def find_secrets(obj: Any, path: str = "") -> list[str]:
    """Paths of keys named like a secret that still hold a value (other than "[redacted]").

    Examples
    --------
    >>> find_secrets({"a": {"Authorization": "Bearer x"}, "token": None})
    ['a.Authorization']
    >>> find_secrets(scrub_secrets({"a": {"Authorization": "Bearer x"}}))
    []
    """
    found: list[str] = []
    if isinstance(obj, Mapping):
        for k, v in obj.items():
            p = f"{path}.{k}" if path else str(k)
            if _SECRET_KEY.search(str(k)) and v not in (None, "", [], {}, REDACTED):
                found.append(p)
            found.extend(find_secrets(v, p))
    elif isinstance(obj, list | tuple):
        for i, v in enumerate(obj):
            found.extend(find_secrets(v, f"{path}[{i}]"))
    return found


class ScrubbedRecord(dict[str, Any]):
    """A run record :func:`clean_run_record` made: passing it again costs nothing."""


def clean_run_record(run: Mapping[str, Any] | None) -> ScrubbedRecord:
    """The run record as it may be written anywhere: :func:`scrub_secrets`, then checked.

    A :class:`ScrubbedRecord` (what this returns) is returned as it is, so the writers of
    one report folder scrub the record once between them.

    Raises
    ------
    ValueError
        If a key named like a secret still holds a value (cannot happen after
        :func:`scrub_secrets`; the run record is then not written rather than leaked).

    Examples
    --------
    >>> clean_run_record({"settings": {"token": "t0k"}, "tool": "tracker"})
    {'settings': {'token': '[redacted]'}, 'tool': 'tracker'}
    >>> clean_run_record(None)
    {}
    >>> once = clean_run_record({"a": 1})
    >>> clean_run_record(once) is once
    True
    """
    if isinstance(run, ScrubbedRecord):
        return run
    cleaned = scrub_secrets(dict(run or {}))
    left = find_secrets(cleaned)
    if left:  # cannot happen after scrub_secrets; refuse rather than leak
        raise ValueError(f"the run record still holds a secret at {left[0]}; refusing to write")
    return ScrubbedRecord(cleaned)


