"""How a fetch from OpenAlex or an official list's site can fail, named by what to do next
(``resumable``: whether running the same command again goes on).

Kept apart from :mod:`tracker.sources.transport`, which raises them (and re-exports them):
the CLI names them on every run, for its messages and exit codes, and importing the
transport imports ``requests`` (0.04 s of a run on files, which fetches nothing).
"""

from __future__ import annotations

__all__ = ["AuthRequired", "BudgetExhausted", "FetchError", "RequestRejected",
           "TransientFailure"]


class FetchError(RuntimeError):
    """Base class for fetch failures.  ``resumable`` says whether a rerun can go on."""

    resumable = True


class BudgetExhausted(FetchError):
    """The daily allowance is spent.  Stop the run cleanly; resume tomorrow or with a key."""


class AuthRequired(FetchError):
    """The server wants an API key for this request.  Set OPENALEX_API_KEY and rerun."""


class TransientFailure(FetchError):
    """A transient fault (429/403 rate limit, 5xx, timeout, dropped connection,
    malformed body) outlived all retries."""


class RequestRejected(FetchError):
    """The server refused this request (400, 404...).  Retrying will not help."""

    resumable = False

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status
