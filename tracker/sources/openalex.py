"""Fetch works from the OpenAlex API with pyalex.

This is the only module that imports pyalex.  Every call goes through
:func:`routed`, which hands pyalex our :class:`~tracker.sources.transport.OpenAlexSession`
(see that module for why).  Paging is by cursor at the largest page size the API accepts
(200), with ``select`` of only the fields tracker reads and no silent 10,000 cap; works
whose author list the list endpoint truncated are fetched again whole as single works
(single-entity calls are free).
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pyalex
import pyalex.api as pyalex_api
import requests
from stdnum.iso7064 import mod_11_2

from tracker.records import short_id, short_ror
from tracker.sources.transport import (
    DEFAULT_BASE_URL,
    OpenAlexSession,
    RequestRejected,
)

__all__ = [
    "WORK_FIELDS",
    "InputError",
    "OpenAlexSource",
    "Subject",
    "parse_author_id",
    "parse_org_id",
    "routed",
]

#: The work fields tracker reads; everything else is left on the server.
WORK_FIELDS: tuple[str, ...] = (
    "id", "doi", "title", "display_name", "publication_date", "publication_year", "type",
    "authorships", "is_authors_truncated", "primary_topic", "topics", "keywords",
    "created_date",
)
PER_PAGE = 200
#: List responses cut author lists at this many authorships.
AUTHORS_CAP = 100


class InputError(ValueError):
    """The user gave an identifier tracker cannot read.  Nothing was fetched."""


_ORCID = re.compile(r"^(?:https?://)?(?:orcid\.org/)?(\d{4})-?(\d{4})-?(\d{4})-?(\d{3}[\dX])$",
                    re.IGNORECASE)


def parse_org_id(text: str) -> tuple[str, str]:
    """Read an organisation identifier: a ROR ID or URL, or an OpenAlex institution ID.

    Returns
    -------
    (kind, value)
        ``("ror", "01yqg2h08")`` or ``("openalex", "I204983213")``.

    Raises
    ------
    InputError

    Examples
    --------
    >>> parse_org_id("https://ror.org/01yqg2h08")
    ('ror', '01yqg2h08')
    >>> parse_org_id("https://openalex.org/I204983213")
    ('openalex', 'I204983213')
    >>> parse_org_id("Harbin")
    Traceback (most recent call last):
    ...
    tracker.sources.openalex.InputError: not a ROR ID or OpenAlex institution ID: 'Harbin'
    """
    ror = short_ror(text)
    if ror:
        return "ror", ror
    oid = short_id(text)
    if oid and oid.startswith("I"):
        return "openalex", oid
    raise InputError(f"not a ROR ID or OpenAlex institution ID: {text!r}")


def parse_author_id(text: str) -> tuple[str, str]:
    """Read a person identifier: an ORCID (check digit validated) or OpenAlex author ID.

    Examples
    --------
    >>> parse_author_id("https://orcid.org/0000-0002-1825-0097")
    ('orcid', '0000-0002-1825-0097')
    >>> parse_author_id("A5023888391")
    ('openalex', 'A5023888391')
    >>> parse_author_id("0000-0002-1825-0098")
    Traceback (most recent call last):
    ...
    tracker.sources.openalex.InputError: ORCID check digit is wrong: '0000-0002-1825-0098'
    """
    m = _ORCID.match(text.strip())
    if m:
        digits = "".join(m.groups()).upper()
        if not mod_11_2.is_valid(digits):
            raise InputError(f"ORCID check digit is wrong: {text!r}")
        return "orcid", "-".join(digits[i:i + 4] for i in range(0, 16, 4))
    oid = short_id(text)
    if oid and oid.startswith("A"):
        return "openalex", oid
    raise InputError(f"not an ORCID or OpenAlex author ID: {text!r}")


@dataclass(frozen=True)
class Subject:
    """Who or what is screened, resolved to OpenAlex IDs.

    ``kind`` is ``org`` or ``author``; ``ids`` the OpenAlex IDs whose works are fetched
    (an ORCID can map to several author profiles); ``given`` is what the user typed.
    """

    kind: str
    given: str
    ids: tuple[str, ...]
    label: str = ""
    ror: str | None = None
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "given": self.given, "ids": list(self.ids),
                "label": self.label, "ror": self.ror, "notes": list(self.notes)}


_route_lock = threading.RLock()


@contextlib.contextmanager
def routed(session: OpenAlexSession) -> Iterator[OpenAlexSession]:
    """Make every pyalex call inside the block use ``session``.

    pyalex looks its session factory up as a module global on every call, so swapping
    that one function is enough; it is restored on exit.
    """
    with _route_lock:
        original = pyalex_api._get_requests_session
        pyalex_api._get_requests_session = lambda: session
        try:
            yield session
        finally:
            pyalex_api._get_requests_session = original


def _http_error(exc: Exception, what: str) -> RequestRejected:
    status = 0
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        status = exc.response.status_code
    if status == 404:
        return RequestRejected(f"OpenAlex has no {what} (HTTP 404)", 404)
    return RequestRejected(f"OpenAlex refused the request for {what}: {exc}", status or 400)


@dataclass
class OpenAlexSource:
    """Works of organisations and people, fetched through pyalex.

    Parameters
    ----------
    base_url : str
        The API (default) or any OpenAlex-compatible server.
    api_key : str, optional
        From ``OPENALEX_API_KEY``; never logged or recorded.
    on_call : callable, optional
        ``(kind, url, status)`` after each HTTP response, for progress display.
    session : OpenAlexSession, optional
        Supply a configured session (retries, cache) instead of a default one.
    """

    base_url: str = DEFAULT_BASE_URL
    api_key: str | None = None
    on_call: Callable[[str, str, int], None] | None = None
    session: OpenAlexSession | None = None
    refetched_truncated: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if self.session is None:
            self.session = OpenAlexSession(self.base_url, api_key=self.api_key,
                                           on_call=self.on_call)

    @property
    def stats(self) -> Any:
        assert self.session is not None
        return self.session.stats

    # -- resolution ---------------------------------------------------------------------
    def resolve_org(self, given: str) -> Subject:
        """Resolve a ROR or OpenAlex institution ID to the institution's OpenAlex record."""
        kind, value = parse_org_id(given)
        key = f"ror:{value}" if kind == "ror" else value
        assert self.session is not None
        with routed(self.session):
            try:
                inst = pyalex.Institutions()[key]
            except (requests.HTTPError, pyalex.api.QueryError) as exc:
                raise _http_error(exc, f"institution {given}") from exc
        iid = short_id(inst.get("id"))
        if not iid:
            raise RequestRejected(f"OpenAlex returned no institution for {given}", 404)
        return Subject(kind="org", given=given, ids=(iid,),
                       label=str(inst.get("display_name") or iid),
                       ror=short_ror(inst.get("ror")))

    def resolve_author(self, given: str) -> Subject:
        """Resolve an ORCID or OpenAlex author ID to OpenAlex author profile(s)."""
        kind, value = parse_author_id(given)
        assert self.session is not None
        notes: list[str] = []
        with routed(self.session):
            try:
                if kind == "openalex":
                    profiles = [pyalex.Authors()[value]]
                else:
                    profiles = list(pyalex.Authors().filter(
                        orcid=f"https://orcid.org/{value}").get(per_page=PER_PAGE))
            except (requests.HTTPError, pyalex.api.QueryError) as exc:
                raise _http_error(exc, f"author {given}") from exc
        ids = tuple(x for x in (short_id(p.get("id")) for p in profiles) if x)
        if not ids:
            raise RequestRejected(f"OpenAlex has no author profile for {given}", 404)
        if len(ids) > 1:
            notes.append(f"{len(ids)} OpenAlex profiles share ORCID {value}: confirm they are "
                         f"one person")
        label = str(profiles[0].get("display_name") or ids[0])
        return Subject(kind="author", given=given, ids=ids, label=label, notes=tuple(notes))

    # -- works --------------------------------------------------------------------------
    def _works_query(self, subject: Subject, since: date | None, until: date | None) -> Any:
        key = "authorships.institutions.lineage" if subject.kind == "org" \
            else "authorships.author.id"
        flt: dict[str, Any] = {key: "|".join(subject.ids)}
        if since:
            flt["from_publication_date"] = since.isoformat()
        if until:
            flt["to_publication_date"] = until.isoformat()
        # pyalex nests dotted keys itself only for dicts; pass the flat form via **.
        return pyalex.Works().filter(**_nest(flt)).select(list(WORK_FIELDS))

    def count_works(self, subject: Subject, since: date | None, until: date | None) -> int:
        assert self.session is not None
        with routed(self.session):
            try:
                return int(self._works_query(subject, since, until).count())
            except (requests.HTTPError, pyalex.api.QueryError) as exc:
                raise _http_error(exc, "the works count") from exc

    def iter_works(
        self, subject: Subject, since: date | None = None, until: date | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every work of the subject in the window, as plain dicts, whole author lists."""
        assert self.session is not None
        with routed(self.session):
            query = self._works_query(subject, since, until)
            try:
                for page in query.paginate(method="cursor", per_page=PER_PAGE, n_max=None):
                    for work in page:
                        yield self._whole(dict(work))
            except (requests.HTTPError, pyalex.api.QueryError) as exc:
                raise _http_error(exc, "works") from exc

    def _whole(self, work: dict[str, Any]) -> dict[str, Any]:
        auths = work.get("authorships") or []
        truncated = work.get("is_authors_truncated")
        if truncated is True or (truncated is None and len(auths) >= AUTHORS_CAP):
            wid = short_id(work.get("id"))
            if wid:
                full = dict(pyalex.Works()[wid])
                self.refetched_truncated += 1
                return full
        return work


def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    """Turn ``{"a.b.c": v}`` into ``{"a": {"b": {"c": v}}}`` (pyalex's filter form).

    Examples
    --------
    >>> _nest({"authorships.author.id": "A1", "from_publication_date": "2020-01-01"})
    {'authorships': {'author': {'id': 'A1'}}, 'from_publication_date': '2020-01-01'}
    """
    out: dict[str, Any] = {}
    for key, value in flat.items():
        node = out
        *parents, leaf = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return out
