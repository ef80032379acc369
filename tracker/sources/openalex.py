"""Fetch works from the OpenAlex API with pyalex: complete, frugal, resumable.

This is the only module that imports pyalex.  Every call goes through :func:`routed`,
which hands pyalex our :class:`~tracker.sources.transport.OpenAlexSession` (host
rewrite, retries, error classes, HTTP cache; see that module for why).

Completeness
    Works are paged by cursor at the largest page size the API accepts (200) with no
    cap (pyalex's ``paginate`` stops at 10,000 by default; we page ourselves).  Works
    whose author list the list endpoint cut at 100 (``is_authors_truncated``) are
    fetched again whole as single works, which are free.
Frugality
    ``select`` asks only for the fields tracker reads (:data:`WORK_FIELDS`).  Paging
    stops when the server's ``meta.count`` is reached, without the empty extra page.
    Topic and keyword *IDs* become server-side filters (``topics.id`` / ``keywords.id``).
    Two strategies (:data:`STRATEGIES`):

    ``full``
        Every work of the subject in the window; matching happens locally, so ties
        visible only in raw affiliation strings are found too.  Calls grow with the
        subject's output (one list call per 200 works).
    ``prefilter``
        Only works of the subject that *also* have an authorship at a listed
        institution: the subject's filter AND ``authorships.institutions.lineage`` over
        the registry's OpenAlex IDs (OR-lists of at most 100), plus
        ``authorships.institutions.ror`` over the RORs of entries without an OpenAlex
        ID.  Calls grow with the findings, not with the subject's output.  It cannot
        see what :func:`prefilter_blind_spots` lists.
Resumability
    Each query's pages are saved as they arrive (:class:`~tracker.sources.cache.
    QueryCheckpoint`); a rerun replays what was saved and goes on from the cursor.
"""

from __future__ import annotations

import contextlib
import itertools
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pyalex
import pyalex.api as pyalex_api
import requests
from stdnum.iso7064 import mod_11_2

from tracker.records import parse_work, short_id, short_ror
from tracker.sources.cache import HttpCache, QueryCheckpoint, query_key
from tracker.sources.transport import (
    DEFAULT_BASE_URL,
    LIST_CALL_USD,
    CallStats,
    OpenAlexSession,
    RequestRejected,
)

__all__ = [
    "AUTHOR_FIELDS",
    "MAX_COUNTRIES_IN_ONE_YEAR",
    "MAX_OR_VALUES",
    "MAX_PLAUSIBLE_WORKS",
    "STRATEGIES",
    "WORK_FIELDS",
    "FetchProgress",
    "InputError",
    "OpenAlexSource",
    "Subject",
    "TopicFilter",
    "WorksQuery",
    "merged_profile_signals",
    "parse_author_id",
    "parse_org_id",
    "plan_queries",
    "prefilter_blind_spots",
    "public_url",
    "routed",
]

#: The work fields tracker reads; everything else is left on the server.
WORK_FIELDS: tuple[str, ...] = (
    "id", "doi", "title", "display_name", "publication_date", "publication_year", "type",
    "authorships", "is_authors_truncated", "primary_topic", "topics", "keywords",
    "created_date",
)
#: Added when topic *words* are matched locally (``concepts`` names feed the text).
TOPIC_TEXT_FIELDS: tuple[str, ...] = ("concepts",)
#: The author fields read to resolve people and to spot merged-looking profiles.
AUTHOR_FIELDS: tuple[str, ...] = (
    "id", "display_name", "orcid", "works_count", "affiliations", "last_known_institutions",
)
PER_PAGE = 200
#: List responses cut author lists at this many authorships.
AUTHORS_CAP = 100
#: The API takes at most this many values in one OR filter.
MAX_OR_VALUES = 100
STRATEGIES: tuple[str, ...] = ("full", "prefilter")
_MAX_QUERIES_LISTED = 200


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


#: More works than one person plausibly writes: the profile may merge several people.
MAX_PLAUSIBLE_WORKS = 2000
#: Affiliations in more countries than this in one year suggest a merged profile.
MAX_COUNTRIES_IN_ONE_YEAR = 4


def merged_profile_signals(author: dict[str, Any]) -> list[str]:
    """Signs that an OpenAlex author profile merges several people, in words.

    Examples
    --------
    >>> merged_profile_signals({"works_count": 45000})
    ['45,000 works: more than one person plausibly writes (limit 2,000)']
    >>> a = {"works_count": 10, "affiliations": [{"institution": {"country_code": c},
    ...      "years": [2020]} for c in "AT BE CN DE ES".split()]}
    >>> merged_profile_signals(a)
    ['affiliations in 5 countries in 2020 (AT, BE, CN, DE, ES)']
    """
    out: list[str] = []
    wc = author.get("works_count")
    if isinstance(wc, int) and wc > MAX_PLAUSIBLE_WORKS:
        out.append(f"{wc:,} works: more than one person plausibly writes "
                   f"(limit {MAX_PLAUSIBLE_WORKS:,})")
    by_year: dict[int, set[str]] = {}
    for aff in author.get("affiliations") or []:
        if not isinstance(aff, dict):
            continue
        cc = (aff.get("institution") or {}).get("country_code")
        if not isinstance(cc, str) or not cc:
            continue
        for y in aff.get("years") or []:
            if isinstance(y, int):
                by_year.setdefault(y, set()).add(cc.upper())
    worst = max(by_year.items(), key=lambda kv: (len(kv[1]), kv[0]), default=None)
    if worst and len(worst[1]) > MAX_COUNTRIES_IN_ONE_YEAR:
        year, ccs = worst
        out.append(f"affiliations in {len(ccs)} countries in {year} ({', '.join(sorted(ccs))})")
    return out


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


# -- topics ------------------------------------------------------------------------------
_TOPIC_ID = re.compile(r"^(?:https?://(?:api\.)?openalex\.org/)?(?:topics/)?(T\d+)$",
                       re.IGNORECASE)
_KEYWORD_ID = re.compile(r"^(?:https?://(?:api\.)?openalex\.org/)?keywords/([a-z0-9-]+)$",
                         re.IGNORECASE)


def _ids_of(items: object) -> set[str]:
    out: set[str] = set()
    for t in items if isinstance(items, list) else []:
        if isinstance(t, dict) and isinstance(t.get("id"), str):
            out.add(t["id"].rstrip("/").rsplit("/", 1)[-1].lower())
    return out


@dataclass(frozen=True)
class TopicFilter:
    """``--topic`` values split into OpenAlex topic IDs, keyword IDs and plain words.

    IDs alone become server-side filters; words are matched locally against title,
    topic, concept and keyword names (as for saved files).  A mix of both is applied
    locally (the server cannot OR a text match with an ID filter).

    Examples
    --------
    >>> f = TopicFilter.parse(["T10203", "https://openalex.org/keywords/deep-learning"])
    >>> f.topic_ids, f.keyword_ids, f.server_side
    (('T10203',), ('deep-learning',), True)
    >>> TopicFilter.parse(["quantum"]).words, TopicFilter.parse(["quantum"]).server_side
    (('quantum',), False)
    """

    topic_ids: tuple[str, ...] = ()
    keyword_ids: tuple[str, ...] = ()
    words: tuple[str, ...] = ()

    @classmethod
    def parse(cls, values: Iterable[str]) -> TopicFilter:
        topics: list[str] = []
        keywords: list[str] = []
        words: list[str] = []
        for v in (x.strip() for x in values):
            if not v:
                continue
            if m := _TOPIC_ID.match(v):
                topics.append(m.group(1).upper())
            elif m := _KEYWORD_ID.match(v):
                keywords.append(m.group(1).lower())
            else:
                words.append(v)
        return cls(tuple(dict.fromkeys(topics)), tuple(dict.fromkeys(keywords)),
                   tuple(dict.fromkeys(words)))

    @property
    def has_ids(self) -> bool:
        return bool(self.topic_ids or self.keyword_ids)

    @property
    def active(self) -> bool:
        return self.has_ids or bool(self.words)

    @property
    def server_side(self) -> bool:
        """True when the filter is applied by the server (IDs only)."""
        return self.has_ids and not self.words

    @property
    def local_ids(self) -> bool:
        """True when IDs must be checked locally (a mix of IDs and words)."""
        return self.has_ids and bool(self.words)

    def keeps(self, raw: dict[str, Any]) -> bool:
        """Whether a work record is on one of the topics (for the local, mixed case)."""
        if not self.active:
            return True
        if self.topic_ids and _ids_of([raw.get("primary_topic"), *(raw.get("topics") or [])]
                                      ) & {t.lower() for t in self.topic_ids}:
            return True
        if self.keyword_ids and _ids_of(raw.get("keywords")) & set(self.keyword_ids):
            return True
        if self.words:
            text = parse_work(raw).subject_text()
            return any(w.lower() in text for w in self.words)
        return False

    def server_variants(self) -> list[tuple[str, str] | None]:
        """Filter clauses to OR (as separate queries); ``[None]`` when none applies."""
        if not self.server_side:
            return [None]
        out: list[tuple[str, str] | None] = []
        for chunk in _chunks(self.topic_ids, MAX_OR_VALUES):
            out.append(("topics.id", "|".join(chunk)))
        for chunk in _chunks(self.keyword_ids, MAX_OR_VALUES):
            out.append(("keywords.id",
                        "|".join(f"https://openalex.org/keywords/{k}" for k in chunk)))
        return out

    def to_json(self) -> dict[str, Any]:
        where = "server" if self.server_side else "local" if self.active else "none"
        return {"topic_ids": list(self.topic_ids), "keyword_ids": list(self.keyword_ids),
                "words": list(self.words), "applied": where}


def _chunks(items: Sequence[str], size: int) -> list[tuple[str, ...]]:
    """Consecutive chunks of at most ``size`` items.

    Examples
    --------
    >>> _chunks(["a", "b", "c"], 2)
    [('a', 'b'), ('c',)]
    """
    return [tuple(items[i:i + size]) for i in range(0, len(items), size)]


# -- queries -----------------------------------------------------------------------------
def public_url(url: str) -> str:
    """A server URL fit for records: no user, password, query or fragment.

    Examples
    --------
    >>> public_url("https://user:pw@api.openalex.org/?api_key=x")
    'https://api.openalex.org'
    """
    parts = urlsplit(url)
    netloc = (parts.hostname or "") + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


@dataclass(frozen=True)
class WorksQuery:
    """One cursor-paged works query: filter clauses (ANDed, each value an OR-list of at
    most 100), the fields selected, and a label for people.

    Examples
    --------
    >>> q = WorksQuery((("authorships.author.id", "A1|A2"),
    ...                 ("from_publication_date", "2020-01-01")), ("id",), "A1")
    >>> q.filter_text()
    'authorships.author.id:A1|A2,from_publication_date:2020-01-01'
    """

    filters: tuple[tuple[str, str], ...]
    select: tuple[str, ...]
    label: str
    subject: str = ""
    part: str = "all works"

    def filter_text(self) -> str:
        return ",".join(f"{k}:{v}" for k, v in self.filters)

    def description(self, base_url: str, per_page: int) -> dict[str, Any]:
        """The query's identity on disk (server without credentials; no key)."""
        return {"server": public_url(base_url),
                "endpoint": "works", "filter": [list(f) for f in self.filters],
                "select": list(self.select), "per_page": per_page}

    def to_json(self) -> dict[str, Any]:
        return {"label": self.label, "subject": self.subject, "part": self.part,
                "filter": self.filter_text()}


def _compositions(parts: list[str]) -> Iterator[list[str]]:
    """Ways to group dotted components, fewest groups first.

    Examples
    --------
    >>> list(_compositions(["a", "b", "c"]))
    [['a.b.c'], ['a', 'b.c'], ['a.b', 'c'], ['a', 'b', 'c']]
    """
    n = len(parts)
    cuts = range(1, n)
    for k in range(n):
        for chosen in itertools.combinations(cuts, k):
            bounds = [0, *chosen, n]
            yield [".".join(parts[a:b]) for a, b in itertools.pairwise(bounds)]


def _filter_kwargs(filters: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """Filter clauses as keyword arguments for ``pyalex.Works().filter(**...)``.

    pyalex keeps filters in a dict and writes ``a.b.c:v`` for both ``{"a.b.c": v}`` and
    ``{"a": {"b": {"c": v}}}``; a field used twice (an organisation's lineage AND a
    listed institution's lineage) is written in a second form so both clauses survive.

    Examples
    --------
    >>> from pyalex.api import _flatten_kv
    >>> kw = _filter_kwargs([("authorships.institutions.lineage", "I1"),
    ...                      ("authorships.institutions.lineage", "I2|I3"),
    ...                      ("from_publication_date", "2020-01-01")])
    >>> _flatten_kv(kw)
    'authorships.institutions.lineage:I1,authorships.institutions.lineage:I2%7CI3,from_publication_date:2020-01-01'
    """
    out: dict[str, Any] = {}
    for key, value in filters:
        for path in _compositions(key.split(".")):
            node = out
            ok = True
            for p in path[:-1]:
                nxt = node.setdefault(p, {})
                if not isinstance(nxt, dict):
                    ok = False
                    break
                node = nxt
            if ok and path[-1] not in node:
                node[path[-1]] = value
                break
        else:  # pragma: no cover - more repeats of one field than dotted forms
            raise ValueError(f"filter field {key!r} repeated too often")
    return out


def plan_queries(
    subjects: Sequence[Subject],
    *,
    since: date | None = None,
    until: date | None = None,
    strategy: str = "full",
    restricted_ids: Sequence[str] = (),
    restricted_rors: Sequence[str] = (),
    topics: TopicFilter | None = None,
) -> list[WorksQuery]:
    """The works queries a run asks, in order.

    Parameters
    ----------
    subjects : sequence of Subject
    since, until : date, optional
        Publication-date window (``from_/to_publication_date``).
    strategy : {"full", "prefilter"}
    restricted_ids, restricted_rors : sequence of str
        For ``prefilter``: listed OpenAlex institution IDs, and RORs of listed entries
        without an OpenAlex ID.
    topics : TopicFilter, optional

    Examples
    --------
    >>> s = Subject("org", "I1", ("I1",))
    >>> [q.filter_text() for q in plan_queries([s], since=date(2020, 1, 1))]
    ['authorships.institutions.lineage:I1,from_publication_date:2020-01-01']
    >>> ids = [f"I{n}" for n in range(150)]
    >>> qs = plan_queries([s], strategy="prefilter", restricted_ids=ids,
    ...                   restricted_rors=["00f54p054"])
    >>> [q.part for q in qs]
    ['listed IDs 1-100', 'listed IDs 101-150', 'listed RORs 1-1']
    """
    if strategy not in STRATEGIES:
        raise InputError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
    topics = topics or TopicFilter()
    select = WORK_FIELDS + (TOPIC_TEXT_FIELDS if topics.words else ())
    window: list[tuple[str, str]] = []
    if since:
        window.append(("from_publication_date", since.isoformat()))
    if until:
        window.append(("to_publication_date", until.isoformat()))
    parts: list[tuple[str, tuple[str, str] | None]] = []
    if strategy == "full":
        parts.append(("all works", None))
    else:
        ids = sorted({i for i in restricted_ids if i.startswith("I")})
        rors = sorted(set(restricted_rors))
        for n, chunk in enumerate(_chunks(ids, MAX_OR_VALUES)):
            first = n * MAX_OR_VALUES + 1
            parts.append((f"listed IDs {first}-{first + len(chunk) - 1}",
                          ("authorships.institutions.lineage", "|".join(chunk))))
        for n, chunk in enumerate(_chunks(rors, MAX_OR_VALUES)):
            first = n * MAX_OR_VALUES + 1
            parts.append((f"listed RORs {first}-{first + len(chunk) - 1}",
                          ("authorships.institutions.ror", "|".join(chunk))))
    out: list[WorksQuery] = []
    for s in subjects:
        key = "authorships.institutions.lineage" if s.kind == "org" else "authorships.author.id"
        for sub in _chunks(list(s.ids), MAX_OR_VALUES):
            for part, restricted in parts:
                for topic in topics.server_variants():
                    clauses = [(key, "|".join(sub))]
                    if restricted:
                        clauses.append(restricted)
                    if topic:
                        clauses.append(topic)
                    out.append(WorksQuery(tuple(clauses + window), select,
                                          label=s.label or s.given, subject=s.given,
                                          part=part + (f", {topic[0]}" if topic else "")))
    return out


def prefilter_blind_spots(n_entries_without_ids: int, n_entries_ror_only: int) -> list[str]:
    """What the ``prefilter`` strategy cannot see, in words for the report.

    Examples
    --------
    >>> prefilter_blind_spots(3, 1)[0].startswith("ties visible only in raw affiliation")
    True
    """
    return [
        "ties visible only in raw affiliation strings (no OpenAlex institution attached "
        "to the authorship): prefilter asks the server only for works with an identified "
        "listed institution; name matching runs on those works only",
        "co-authors at institutions OpenAlex has not resolved (no institution ID or ROR on "
        "the authorship)",
        f"{n_entries_without_ids:,} list entries with neither an OpenAlex ID nor a ROR: "
        "found by name only, which prefilter cannot ask the server for",
        f"{n_entries_ror_only:,} entries known by ROR only are asked for by "
        "authorships.institutions.ror; their sub-units (lineage) are not",
        "use --strategy full for a complete screen of the subject's works",
    ]


# -- pyalex routing ----------------------------------------------------------------------
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


_PYALEX_ERRORS = (requests.HTTPError, pyalex_api.QueryError)


@dataclass(frozen=True)
class FetchProgress:
    """Where fetching stands, for progress displays.

    ``expected_works`` sums the server's counts of the queries started so far (None
    before the first page); ``estimated_cost_usd`` is list calls x $0.0001.
    """

    works: int
    calls: int
    list_calls: int
    estimated_cost_usd: float
    queries_done: int
    queries_total: int
    expected_works: int | None
    query: str

    def describe(self) -> str:
        """One line for a progress display.

        Examples
        --------
        >>> FetchProgress(400, 5, 2, 0.0002, 1, 3, 1234, "works of I1").describe()
        'works fetched: 400 of ~1,234; 5 calls (2 list), est. $0.0002; query 2 of 3'
        """
        of = f" of ~{self.expected_works:,}" if self.expected_works is not None else ""
        q = (f"; query {min(self.queries_done + 1, self.queries_total)} of "
             f"{self.queries_total}" if self.queries_total else "")
        return (f"works fetched: {self.works:,}{of}; {self.calls:,} calls "
                f"({self.list_calls:,} list), est. ${self.estimated_cost_usd:.4f}{q}")


@dataclass
class _QueryRecord:
    query: WorksQuery
    key: str
    status: str = "pending"
    pages_fetched: int = 0
    works_saved: int = 0
    server_count: int | None = None
    fetched_at: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {**self.query.to_json(), "key": self.key, "status": self.status,
                "pages_fetched_now": self.pages_fetched, "works_saved": self.works_saved,
                "server_count": self.server_count, "completed_at": self.fetched_at}


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
    cache_dir : Path, optional
        Where answers and query checkpoints are kept (see :mod:`tracker.sources.cache`);
        None keeps nothing (every run asks again and cannot resume).
    refresh : bool
        Ask the server again for everything (and replace what is kept).
    per_page : int
        Works per page, 1..200 (200 is the cheapest; smaller only for tests).
    progress : callable, optional
        Called with a :class:`FetchProgress` after each page.
    """

    base_url: str = DEFAULT_BASE_URL
    api_key: str | None = None
    on_call: Callable[[str, str, int], None] | None = None
    session: OpenAlexSession | None = None
    cache_dir: Path | None = None
    refresh: bool = False
    per_page: int = PER_PAGE
    progress: Callable[[FetchProgress], None] | None = None
    refetched_truncated: int = field(default=0, init=False)
    notes: list[str] = field(default_factory=list, init=False)
    _records: list[_QueryRecord] = field(default_factory=list, init=False)
    _works_seen: int = field(default=0, init=False)
    _works_from_disk: int = field(default=0, init=False)
    _duplicates: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if not 1 <= self.per_page <= PER_PAGE:
            raise ValueError(f"per_page must be 1..{PER_PAGE}")
        if self.session is None:
            cache = HttpCache(self.cache_dir / "http.sqlite") if self.cache_dir else None
            self.session = OpenAlexSession(self.base_url, api_key=self.api_key,
                                           on_call=self.on_call, cache=cache,
                                           refresh=self.refresh)

    @property
    def _session(self) -> OpenAlexSession:
        assert self.session is not None
        return self.session

    @property
    def stats(self) -> CallStats:
        return self._session.stats

    # -- resolution ---------------------------------------------------------------------
    def resolve_org(self, given: str) -> Subject:
        """Resolve a ROR or OpenAlex institution ID to the institution's OpenAlex record.

        A merged ID (HTTP 301) is followed; the subject carries the new ID and a note.
        """
        kind, value = parse_org_id(given)
        key = f"ror:{value}" if kind == "ror" else value
        with routed(self._session):
            try:
                inst = pyalex.Institutions()[key]
            except _PYALEX_ERRORS as exc:
                raise _http_error(exc, f"institution {given}") from exc
        iid = short_id(inst.get("id"))
        if not iid:
            raise RequestRejected(f"OpenAlex returned no institution for {given}", 404)
        notes = []
        if kind == "openalex" and iid != value:
            notes.append(f"OpenAlex merged {value} into {iid}; screening {iid}")
        return Subject(kind="org", given=given, ids=(iid,),
                       label=str(inst.get("display_name") or iid),
                       ror=short_ror(inst.get("ror")), notes=tuple(notes))

    def authors_by_orcid(self, orcid: str) -> list[dict[str, Any]]:
        """Every OpenAlex author profile that carries this ORCID (one list call)."""
        with routed(self._session):
            try:
                return [dict(p) for p in pyalex.Authors().filter(
                    orcid=f"https://orcid.org/{orcid}").select(list(AUTHOR_FIELDS)).get(
                    per_page=PER_PAGE)]
            except _PYALEX_ERRORS as exc:
                raise _http_error(exc, f"author profiles for ORCID {orcid}") from exc

    def author(self, author_id: str) -> dict[str, Any]:
        """One author profile by OpenAlex ID (free; a merged ID is followed)."""
        with routed(self._session):
            try:
                return dict(pyalex.Authors()[author_id])
            except _PYALEX_ERRORS as exc:
                raise _http_error(exc, f"author {author_id}") from exc

    def search_authors(self, name: str, institution: tuple[str, str] | None,
                       limit: int = 10) -> list[dict[str, Any]]:
        """Candidate profiles for a person known by name only, for a human to pick.

        ``display_name.search`` (a filter: one list call, not the 10x ``search=``),
        narrowed to profiles with an affiliation at ``institution`` (``("openalex",
        "I…")`` by lineage, or ``("ror", "…")``).  Nothing is screened on a name.
        """
        clean = re.sub(r"[^\w\s.'-]", " ", name).strip()
        if not clean:
            return []
        flt: dict[str, Any] = {"display_name.search": clean}
        if institution is not None:
            kind, value = institution
            flt["affiliations.institution.lineage" if kind == "openalex"
                else "affiliations.institution.ror"] = value
        with routed(self._session):
            try:
                return [dict(p) for p in pyalex.Authors().filter(**flt).select(
                    list(AUTHOR_FIELDS)).get(per_page=limit)]
            except _PYALEX_ERRORS as exc:
                raise _http_error(exc, f"author candidates for {clean!r}") from exc

    def resolve_author(self, given: str) -> Subject:
        """Resolve an ORCID or OpenAlex author ID to OpenAlex author profile(s)."""
        kind, value = parse_author_id(given)
        notes: list[str] = []
        profiles = [self.author(value)] if kind == "openalex" else self.authors_by_orcid(value)
        ids = tuple(x for x in (short_id(p.get("id")) for p in profiles) if x)
        if not ids:
            raise RequestRejected(f"OpenAlex has no author profile for {given}", 404)
        if kind == "openalex" and ids[0] != value:
            notes.append(f"OpenAlex merged {value} into {ids[0]}; screening {ids[0]}")
        if len(ids) > 1:
            notes.append(f"{len(ids)} OpenAlex profiles share ORCID {value}: confirm they are "
                         f"one person")
        for p in profiles:
            notes += [f"{short_id(p.get('id'))} may merge several people: {s}"
                      for s in merged_profile_signals(p)]
        label = str(profiles[0].get("display_name") or ids[0])
        return Subject(kind="author", given=given, ids=ids, label=label, notes=tuple(notes))

    # -- works --------------------------------------------------------------------------
    def count_works(self, subject: Subject, since: date | None, until: date | None) -> int:
        """The server's count of the subject's works in the window (one list call)."""
        total = 0
        for q in plan_queries([subject], since=since, until=until):
            with routed(self._session):
                try:
                    total += int(pyalex.Works().filter(**_filter_kwargs(q.filters)).count())
                except _PYALEX_ERRORS as exc:
                    raise _http_error(exc, "the works count") from exc
        return total

    def iter_works(
        self, subject: Subject, since: date | None = None, until: date | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every work of the subject in the window, as plain dicts, whole author lists."""
        yield from self.fetch(plan_queries([subject], since=since, until=until))

    def fetch(self, queries: Sequence[WorksQuery]) -> Iterator[dict[str, Any]]:
        """Run the queries in order; each work once, however many queries return it."""
        seen: set[str] = set()
        self._records = [_QueryRecord(q, query_key(q.description(self.base_url, self.per_page)))
                         for q in queries]
        expected: list[int] = []
        for n, rec in enumerate(self._records):
            for work in self._run_query(rec, n, len(queries), expected):
                wid = short_id(work.get("id")) or str(work.get("id"))
                if wid in seen:
                    self._duplicates += 1
                    continue
                seen.add(wid)
                self._works_seen += 1
                yield work

    def _checkpoint(self, q: WorksQuery) -> QueryCheckpoint | None:
        if self.cache_dir is None:
            return None
        return QueryCheckpoint(self.cache_dir, q.description(self.base_url, self.per_page))

    def _report_progress(self, done: int, total: int, expected: list[int], label: str) -> None:
        if self.progress is None:
            return
        st = self.stats
        self.progress(FetchProgress(
            works=self._works_seen, calls=st.calls, list_calls=st.list_calls,
            estimated_cost_usd=st.cost_usd, queries_done=done, queries_total=total,
            expected_works=sum(expected) if expected else None, query=label))

    def _run_query(self, rec: _QueryRecord, n: int, total: int,
                   expected: list[int]) -> Iterator[dict[str, Any]]:
        q = rec.query
        label = f"{q.label}: {q.part}"
        cp = self._checkpoint(q)
        if cp is not None and self.refresh:
            cp.reset()
        cursor = "*"
        if cp is not None and (cp.complete or cp.resuming):
            rec.status = "from cache" if cp.complete else "resumed"
            rec.server_count = cp.state.count
            if cp.state.count is not None:
                expected.append(cp.state.count)
            for work in cp.iter_works():
                self._works_from_disk += 1
                yield work
            rec.works_saved = cp.state.works
            if cp.complete:
                rec.fetched_at = cp.state.completed_at
                self._report_progress(n + 1, total, expected, label)
                return
            cursor = cp.state.next_cursor or "*"
        else:
            rec.status = "fetched"
        saved = cp.state.works if cp is not None else 0
        restarted = False
        while True:
            try:
                with routed(self._session):
                    page = pyalex.Works().filter(**_filter_kwargs(q.filters)).select(
                        list(q.select)).get(per_page=self.per_page, cursor=cursor)
            except _PYALEX_ERRORS as exc:
                err = _http_error(exc, f"works ({q.filter_text()})")
                if cursor != "*" and err.status == 400 and not restarted and cp is not None:
                    # the server no longer takes the saved cursor: start the query over;
                    # works already passed on are not passed on twice (see fetch)
                    self.notes.append(f"{label}: the saved cursor was refused; the query was "
                                      f"fetched again from the start")
                    cp.reset()
                    cursor, saved, restarted = "*", 0, True
                    continue
                raise err from exc
            meta = page.meta or {}
            count = meta.get("count")
            if rec.server_count is None and isinstance(count, int):
                rec.server_count = count
                expected.append(count)
            works = [self._whole(dict(w), q.select) for w in page]
            saved += len(works)
            nxt = meta.get("next_cursor")
            done = (not works or not nxt
                    or (isinstance(rec.server_count, int) and saved >= rec.server_count))
            if cp is not None:
                cp.append_page(works, next_cursor=None if done else nxt, count=rec.server_count)
                rec.fetched_at = cp.state.updated_at
            rec.pages_fetched += 1
            rec.works_saved = saved
            yield from works
            self._report_progress(n + (1 if done else 0), total, expected, label)
            if done:
                break
            cursor = str(nxt)
        if isinstance(rec.server_count, int) and saved != rec.server_count:
            self.notes.append(f"{label}: the server counted {rec.server_count:,} works but "
                              f"returned {saved:,} (the data changed while paging)")

    def _whole(self, work: dict[str, Any], select: Sequence[str]) -> dict[str, Any]:
        """The work with its whole author list (a free single-work call if it was cut)."""
        auths = work.get("authorships") or []
        truncated = work.get("is_authors_truncated")
        if not (truncated is True or (truncated is None and len(auths) >= AUTHORS_CAP)):
            return work
        wid = short_id(work.get("id"))
        if not wid:
            return work
        try:
            with routed(self._session):
                full = dict(pyalex.Works()[wid])
        except _PYALEX_ERRORS as exc:
            err = _http_error(exc, f"work {wid}")
            self.notes.append(f"{wid}: its author list is cut at {len(auths)} and the whole "
                              f"work could not be fetched ({err}); screened as cut")
            return work
        self.refetched_truncated += 1
        return {k: full[k] for k in select if k in full}

    # -- the run record -----------------------------------------------------------------
    def report(self) -> dict[str, Any]:
        """What fetching did, for ``run.json`` (no secrets)."""
        recs = self._records
        by_status: dict[str, int] = {}
        for r in recs:
            by_status[r.status] = by_status.get(r.status, 0) + 1
        fetched_at = sorted(r.fetched_at for r in recs if r.fetched_at)
        return {
            "server": public_url(self.base_url),
            "authenticated": self._session.has_api_key,
            **self.stats.to_json(),
            "queries": len(recs),
            "queries_by_status": by_status,
            "query_list": [r.to_json() for r in recs[:_MAX_QUERIES_LISTED]],
            "works_received": self._works_seen,
            "works_replayed_from_cache": self._works_from_disk,
            "works_returned_by_several_queries": self._duplicates,
            "refetched_truncated_works": self.refetched_truncated,
            "oldest_data_fetched_at": fetched_at[0] if fetched_at else None,
            "cache_dir": str(self.cache_dir) if self.cache_dir else None,
            "refresh": self.refresh,
            "per_page": self.per_page,
            "notes": list(self.notes),
            "list_call_usd": LIST_CALL_USD,
        }
