"""Who may use the review workspace: the access token, sign-in sessions and CSRF tokens.

- Bound to the loopback interface (the default), anyone on this machine may read; writing a
  decision needs a signed-in session (a reviewer's name) and that session's CSRF token.
- Bound to any other address, an access token is required: :func:`new_token` makes one,
  which is shown once and stored only as its SHA-256 hash beside the case file
  (``<case>.serve-token``, readable by its owner only); every page then needs a session
  signed in with the token, or ``Authorization: Bearer <token>``.

Sessions live in the server's memory only: restarting the server signs everyone out.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

__all__ = [
    "Session",
    "SessionStore",
    "TokenMissingError",
    "is_loopback",
    "new_token",
    "read_token_hash",
    "token_matches",
    "token_path",
]

SESSION_COOKIE = "tracker_session"


class TokenMissingError(RuntimeError):
    """The server would listen beyond this machine without an access token: not started."""


def is_loopback(host: str) -> bool:
    """Is ``host`` this machine only?

    Examples
    --------
    >>> is_loopback("127.0.0.1"), is_loopback("localhost"), is_loopback("::1")
    (True, True, True)
    >>> is_loopback("0.0.0.0"), is_loopback("192.168.1.5")
    (False, False)
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def token_path(case: Path) -> Path:
    """Where the access token's hash is kept for a case file."""
    return case.with_name(case.name + ".serve-token")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token(case: Path) -> str:
    """Make a new access token for ``case``, store its hash (replacing any earlier one) and
    return the token itself: it is not kept anywhere, so show it once.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     case = Path(d) / "tracker.db"
    ...     tok = new_token(case)
    ...     (token_matches(tok, read_token_hash(case)), tok in token_path(case).read_text())
    (True, False)
    """
    token = secrets.token_urlsafe(32)
    path = token_path(case)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(f"sha256:{_digest(token)}\n")
    return token


def read_token_hash(case: Path) -> str | None:
    """The stored token hash for ``case``, or None when no token was made."""
    path = token_path(case)
    if not path.is_file():
        return None
    text = path.read_text("utf-8").strip()
    return text.removeprefix("sha256:") or None


def token_matches(token: str | None, stored_hash: str | None) -> bool:
    """Does ``token`` hash to ``stored_hash`` (compared in constant time)?"""
    if not token or not stored_hash:
        return False
    return hmac.compare_digest(_digest(token), stored_hash)


@dataclass
class Session:
    """A signed-in reviewer: the name decisions are recorded under, and the CSRF token
    every write from this session must carry."""

    sid: str
    reviewer: str
    csrf: str
    created: str = field(default_factory=lambda: datetime.now(UTC).isoformat(
        timespec="seconds"))


class SessionStore:
    """Sessions in memory, shared by the server's worker threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sessions: dict[str, Session] = {}

    def create(self, reviewer: str) -> Session:
        s = Session(secrets.token_urlsafe(32), reviewer.strip(), secrets.token_urlsafe(32))
        with self._lock:
            self._sessions[s.sid] = s
        return s

    def get(self, sid: str | None) -> Session | None:
        if not sid:
            return None
        with self._lock:
            return self._sessions.get(sid)

    def drop(self, sid: str | None) -> None:
        with self._lock:
            self._sessions.pop(sid or "", None)


def csrf_matches(session: Session | None, sent: str | None) -> bool:
    """Does the CSRF token sent with a write belong to the session?"""
    if session is None or not sent:
        return False
    return hmac.compare_digest(session.csrf, sent)
