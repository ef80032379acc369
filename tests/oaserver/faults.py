"""Deterministic, bounded fault injection for the test server.

A :class:`Fault` fires on the next ``times`` requests that match it (after skipping the
first ``skip`` matches), then is gone.  Faults are checked in the order they were added;
a request consumes at most one fault.  Nothing is random and nothing persists: a fault
with ``times=3`` fires exactly three times.

What each kind sends, and why (sources in README.md):

``rate_limit``
    429, ``Retry-After: retry_after`` (default 1), body ``{"error": "Rate limit
    exceeded", "message": "Rate limit exceeded: 100 requests per second. Please slow
    down.", ...}`` and a non-zero ``X-RateLimit-Remaining``: the per-second limit.
``budget_exhausted``
    429, ``Retry-After`` = seconds to midnight UTC (or ``retry_after``),
    ``X-RateLimit-Remaining: 0``, ``X-RateLimit-Credits-Required``, body message
    "Insufficient budget. ... Resets at midnight UTC. ...": the daily allowance is spent.
``service_unavailable`` / ``server_error``
    503 / 500 with an HTML body (what the API's hosting returns), ``Retry-After`` only
    when ``retry_after`` is given.
``forbidden``
    403 ``{"error": "Forbidden", "message": ...}``.
``slow``
    Waits ``delay`` seconds (default 2.0, at most 60), then answers normally: longer
    than a short client timeout.
``drop``
    Closes the connection without sending a response.
``malformed_json``
    200 with ``Content-Type: application/json`` and the real response body cut in half.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from enum import StrEnum


class FaultKind(StrEnum):
    """The kinds of fault the server can inject."""

    RATE_LIMIT = "rate_limit"
    BUDGET_EXHAUSTED = "budget_exhausted"
    SERVICE_UNAVAILABLE = "service_unavailable"
    SERVER_ERROR = "server_error"
    FORBIDDEN = "forbidden"
    SLOW = "slow"
    DROP = "drop"
    MALFORMED_JSON = "malformed_json"


MAX_TIMES = 1000
MAX_DELAY = 60.0


@dataclass(frozen=True)
class Fault:
    """One fault to inject.

    Parameters
    ----------
    kind : FaultKind
    times : int
        How many matching requests it applies to (1..1000).
    skip : int
        Matching requests to let through untouched before the first firing.
    path : str, optional
        Only requests whose path starts with this (e.g. ``/works``).
    endpoint : {"list", "single"}, optional
        Only list requests (``/works?...``) or only single-entity GETs.
    retry_after : int, optional
        Seconds for ``Retry-After`` (429/503).
    delay : float
        Seconds a ``slow`` fault waits before answering (0..60).

    Examples
    --------
    >>> Fault(FaultKind.RATE_LIMIT, times=2, retry_after=1).times
    2
    >>> Fault("drop").kind is FaultKind.DROP
    True
    """

    kind: FaultKind
    times: int = 1
    skip: int = 0
    path: str | None = None
    endpoint: str | None = None
    retry_after: int | None = None
    delay: float = 2.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", FaultKind(self.kind))
        if not 1 <= self.times <= MAX_TIMES:
            raise ValueError(f"times must be 1..{MAX_TIMES}, got {self.times}")
        if self.skip < 0:
            raise ValueError(f"skip must be >= 0, got {self.skip}")
        if self.endpoint not in (None, "list", "single"):
            raise ValueError(f"endpoint must be 'list', 'single' or None, got {self.endpoint!r}")
        if not 0 <= self.delay <= MAX_DELAY:
            raise ValueError(f"delay must be 0..{MAX_DELAY} s, got {self.delay}")
        if self.retry_after is not None and self.retry_after < 0:
            raise ValueError(f"retry_after must be >= 0, got {self.retry_after}")

    def matches(self, path: str, endpoint: str) -> bool:
        """Whether a request to ``path`` of kind ``endpoint`` is one this fault targets."""
        if self.path is not None and not path.startswith(self.path):
            return False
        return self.endpoint is None or self.endpoint == endpoint


@dataclass
class _Slot:
    fault: Fault
    skips_left: int
    fires_left: int


@dataclass(frozen=True)
class FiredFault:
    """A fault that fired: which kind, on which request path."""

    kind: FaultKind
    path: str


class FaultQueue:
    """Thread-safe queue of faults, exposed as ``server.faults``.

    Examples
    --------
    >>> q = FaultQueue()
    >>> _ = q.rate_limit(times=2)
    >>> [q.take("/works", "list").kind.value for _ in range(3) if q.pending()]
    ['rate_limit', 'rate_limit']
    >>> q.take("/works", "list") is None
    True
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: list[_Slot] = []
        self.fired: list[FiredFault] = []

    def add(self, fault: Fault) -> Fault:
        """Queue ``fault``; returns it."""
        with self._lock:
            self._queue.append(_Slot(fault, fault.skip, fault.times))
        return fault

    def _add(self, kind: FaultKind, **options: object) -> Fault:
        return self.add(Fault(kind, **options))  # type: ignore[arg-type]

    def rate_limit(self, **options: object) -> Fault:
        """Per-second 429 with a short ``Retry-After`` (default 1 s)."""
        return self._add(FaultKind.RATE_LIMIT, **options)

    def budget_exhausted(self, **options: object) -> Fault:
        """Daily-allowance 429: ``X-RateLimit-Remaining: 0``, long ``Retry-After``."""
        return self._add(FaultKind.BUDGET_EXHAUSTED, **options)

    def service_unavailable(self, **options: object) -> Fault:
        """503."""
        return self._add(FaultKind.SERVICE_UNAVAILABLE, **options)

    def server_error(self, **options: object) -> Fault:
        """500."""
        return self._add(FaultKind.SERVER_ERROR, **options)

    def forbidden(self, **options: object) -> Fault:
        """403."""
        return self._add(FaultKind.FORBIDDEN, **options)

    def slow(self, delay: float = 2.0, **options: object) -> Fault:
        """Answer normally after ``delay`` seconds."""
        return self._add(FaultKind.SLOW, delay=delay, **options)

    def drop(self, **options: object) -> Fault:
        """Close the connection without a response."""
        return self._add(FaultKind.DROP, **options)

    def malformed_json(self, **options: object) -> Fault:
        """200 with a truncated JSON body."""
        return self._add(FaultKind.MALFORMED_JSON, **options)

    def take(self, path: str, endpoint: str) -> Fault | None:
        """The fault to apply to this request, if any (consumes one use)."""
        with self._lock:
            for slot in self._queue:
                if not slot.fault.matches(path, endpoint):
                    continue
                if slot.skips_left > 0:
                    slot.skips_left -= 1
                    continue
                slot.fires_left -= 1
                if slot.fires_left == 0:
                    self._queue.remove(slot)
                self.fired.append(FiredFault(slot.fault.kind, path))
                return slot.fault
        return None

    def pending(self) -> list[tuple[Fault, int]]:
        """Queued faults with the number of firings each has left."""
        with self._lock:
            return [(slot.fault, slot.fires_left) for slot in self._queue]

    def clear(self) -> None:
        """Drop every queued fault and forget the fired ones."""
        with self._lock:
            self._queue.clear()
            self.fired = []
