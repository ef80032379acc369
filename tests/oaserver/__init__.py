"""OpenAlex-compatible HTTP server for tests: real recorded records, the API's query
semantics, error bodies, rate-limit headers and injectable faults.  See README.md.

Examples
--------
>>> FaultKind("budget_exhausted").value
'budget_exhausted'
"""

from .corpus import DATA_DIR, EntityStore, dedupe, default_records
from .faults import Fault, FaultKind, FaultQueue, FiredFault
from .pyalex_session import RewritingSession, pyalex_session_for
from .query import ApiError
from .server import OpenAlexServer, RequestLog, RequestRecord, ServerSettings

__all__ = [
    "DATA_DIR",
    "ApiError",
    "EntityStore",
    "Fault",
    "FaultKind",
    "FaultQueue",
    "FiredFault",
    "OpenAlexServer",
    "RequestLog",
    "RequestRecord",
    "RewritingSession",
    "ServerSettings",
    "dedupe",
    "default_records",
    "pyalex_session_for",
]
