"""Filtering, sorting and paging a run's findings for the review workspace.

Nothing here ranks people: the default order puts ties that were listed at publication
("yes") first, then the newest works; every other order is by a finding's own fields.

:meth:`FindingQuery.page_in` asks the case file for one page (SQL ``WHERE``, ``ORDER BY``,
``LIMIT``/``OFFSET``): a run of hundreds of thousands of findings is never loaded whole.
:meth:`FindingQuery.apply` does the same on rows in memory (same filters, same order).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any, Protocol

from tracker.risk import outcome_kind
from tracker.store import LISTED_RANK

__all__ = ["FILTERS", "SORTS", "FindingQuery", "Page", "outcome_kind"]

#: Filter name -> the finding field it compares (``institution`` is a substring search).
FILTERS = ("list", "outcome", "listed", "status", "relation", "confidence", "since", "until",
           "institution")
SORTS = {
    "listed": "listed at publication (yes first), then newest",
    "newest": "publication date, newest first",
    "oldest": "publication date, oldest first",
    "list": "list, then newest",
    "institution": "institution name",
    "status": "review status",
}
Rows = list[dict[str, Any]]
_Params = list[Any]


class FindingsSource(Protocol):
    """What :meth:`FindingQuery.page_in` needs of the case file (:class:`tracker.store.Store`)."""

    def findings_where(self, run_id: int, where: str = "", params: Any = (), *,
                       order: str = "f.rowid", limit: int | None = None, offset: int = 0,
                       text: str = "") -> tuple[Rows, int]: ...


#: The sorts' ORDER BY over a run's keys (:data:`tracker.store.KEY_COLUMNS`):
#: :meth:`FindingQuery.apply`'s stable sorts, read from last to first.  ``listed`` is the
#: order the keys are stored in (a page is read in place); the others read the run's keys
#: with a top-N sort.
_ORDER = {
    "listed": "k.listed_rank, k.publication_date DESC, k.finding_id",
    "newest": "k.publication_date DESC, k.finding_id",
    "oldest": ("CASE WHEN k.publication_date = '' THEN '9999' ELSE k.publication_date END,"
               " k.finding_id"),
    "list": "k.list, k.publication_date DESC, k.finding_id",
    "institution": "k.institution_key, k.finding_id",
    "status": "review_status, k.finding_id",
}


@dataclass(frozen=True)
class FindingQuery:
    """What the findings page was asked for; every field is optional.

    Examples
    --------
    >>> rows = [{"finding_id": "a", "listed_at_publication": "no", "publication_date":
    ...          "2024-01-01", "list": "L", "institution_name": "X Univ", "outcome": "review: x",
    ...          "review_status": "unreviewed"},
    ...         {"finding_id": "b", "listed_at_publication": "yes", "publication_date":
    ...          "2020-01-01", "list": "L", "institution_name": "Y Inst", "outcome": "flag: y",
    ...          "review_status": "confirmed"}]
    >>> [r["finding_id"] for r in FindingQuery().apply(rows)]
    ['b', 'a']
    >>> [r["finding_id"] for r in FindingQuery(outcome="review", since="2023").apply(rows)]
    ['a']
    >>> [r["finding_id"] for r in FindingQuery(institution="inst").apply(rows)]
    ['b']
    """

    list: str = ""
    outcome: str = ""
    listed: str = ""
    status: str = ""
    relation: str = ""
    confidence: str = ""
    since: str = ""
    until: str = ""
    institution: str = ""
    sort: str = "listed"
    page: int = 1
    per_page: int = 50

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> FindingQuery:
        """From query parameters; unknown values are kept as given (they match nothing),
        a bad page number becomes 1, an unknown sort the default."""
        names = {f.name for f in fields(cls)}
        got: dict[str, Any] = {k: str(v).strip() for k, v in params.items()
                               if k in names and k not in ("page", "per_page")}
        if got.get("sort") not in SORTS:
            got["sort"] = "listed"
        for k, default, top in (("page", 1, 10**6), ("per_page", 50, 500)):
            try:
                got[k] = min(max(int(params.get(k, default)), 1), top)
            except (TypeError, ValueError):
                got[k] = default
        return cls(**got)

    def params(self, **change: Any) -> dict[str, str]:
        """The query as parameters (empty ones left out), with ``change`` applied."""
        d = {**asdict(self), **change}
        return {k: str(v) for k, v in d.items()
                if v not in ("", None) and not (k == "per_page" and v == 50)
                and not (k == "sort" and v == "listed") and not (k == "page" and v == 1)}

    def keep(self, r: Mapping[str, Any]) -> bool:
        date = str(r.get("publication_date") or "")
        checks = (
            (self.list, lambda: r.get("list") == self.list),
            (self.outcome, lambda: outcome_kind(str(r.get("outcome", ""))) == self.outcome),
            (self.listed, lambda: r.get("listed_at_publication") == self.listed),
            (self.status, lambda: r.get("review_status") == self.status),
            (self.relation, lambda: r.get("relation") == self.relation),
            (self.confidence, lambda: r.get("confidence") == self.confidence),
            (self.since, lambda: bool(date) and date >= self.since),
            (self.until, lambda: bool(date) and date[:len(self.until)] <= self.until),
            (self.institution, lambda: self.institution.lower() in (
                f"{r.get('institution_name', '')} {r.get('list_entry_name', '')} "
                f"{r.get('raw_affiliation', '')}").lower()),
        )
        return all(test() for wanted, test in checks if wanted)

    def apply(self, rows: Rows) -> Rows:
        """The rows that pass every filter, in the chosen order."""
        kept = [r for r in rows if self.keep(r)]

        def newest(r: Mapping[str, Any]) -> str:
            return str(r.get("publication_date") or "")

        kept.sort(key=lambda r: str(r.get("finding_id")))
        if self.sort in ("listed", "newest", "list"):
            kept.sort(key=newest, reverse=True)
        if self.sort == "listed":
            kept.sort(key=lambda r: LISTED_RANK.get(str(r.get("listed_at_publication")), 3))
        elif self.sort == "oldest":
            kept.sort(key=lambda r: newest(r) or "9999")
        elif self.sort == "list":
            kept.sort(key=lambda r: str(r.get("list")))
        elif self.sort == "institution":
            kept.sort(key=lambda r: str(r.get("institution_name") or r.get("list_entry_name")))
        elif self.sort == "status":
            kept.sort(key=lambda r: str(r.get("review_status")))
        return kept

    def sql(self) -> tuple[str, _Params, str]:
        """The filters as an SQL ``WHERE`` (values as parameters) and the sort as an
        ``ORDER BY``, for :meth:`tracker.store.Store.findings_where`: the rows and order of
        :meth:`apply`.

        Every filter and sort reads the run's typed keys (``finding_keys``), never its JSON
        rows.  ``institution`` (a substring of the institution's name, the list entry's name
        or the raw affiliation) is not part of it: :meth:`page_in` hands it to the case
        file, which searches the run's distinct texts (``text`` of
        :meth:`tracker.store.Store.findings_where`).

        Examples
        --------
        >>> where, params, order = FindingQuery(list="L", since="2020").sql()
        >>> params
        ['L', '2020']
        """
        where: _Params = []
        params: _Params = []
        if self.listed:  # a range of the default order's index
            where.append("k.listed_rank = ? AND k.listed_at_publication = ?")
            params += [LISTED_RANK.get(self.listed, 3), self.listed]
        for wanted, column in ((self.list, "list"), (self.relation, "relation"),
                               (self.confidence, "confidence")):
            if wanted:
                where.append(f"k.{column} = ?")
                params.append(wanted)
        if self.outcome:
            if self.outcome in ("flag", "review", "context"):
                where.append("k.outcome_kind = ?")
                params.append(self.outcome)
            else:
                where.append("0")  # outcome_kind() never gives it: nothing matches
        if self.status:
            where.append("review_status = ?")
            params.append(self.status)
            if self.status != "unreviewed":  # only ties with such a decision: by their IDs
                where.append("k.finding_id IN (SELECT finding_id FROM reviews"
                             " WHERE status = ?)")
                params.append(self.status)
        if self.since:
            where.append("k.publication_date != '' AND k.publication_date >= ?")
            params.append(self.since)
        if self.until:
            where.append("k.publication_date != '' AND substr(k.publication_date, 1, ?) <= ?")
            params += [len(self.until), self.until]
        return " AND ".join(where), params, _ORDER.get(self.sort, _ORDER["listed"])

    def page_in(self, store: FindingsSource, run_id: int) -> Page:
        """This page of a run's findings, filtered, sorted and cut by the case file (SQL):
        the same page as :meth:`page_of` on every row, without loading them."""
        where, params, order = self.sql()
        rows, total = store.findings_where(run_id, where, params, order=order,
                                           limit=self.per_page,
                                           offset=(self.page - 1) * self.per_page,
                                           text=self.institution)
        pages = max(1, -(-total // self.per_page))
        if self.page > pages:  # past the end: the last page, as page_of gives it
            rows, total = store.findings_where(run_id, where, params, order=order,
                                               limit=self.per_page,
                                               offset=(pages - 1) * self.per_page,
                                               text=self.institution)
        return Page(rows, total, min(self.page, pages), pages)

    def page_of(self, rows: Rows) -> Page:
        kept = self.apply(rows)
        pages = max(1, -(-len(kept) // self.per_page))
        page = min(self.page, pages)
        start = (page - 1) * self.per_page
        return Page(kept[start:start + self.per_page], len(kept), page, pages)


@dataclass(frozen=True)
class Page:
    """One page of filtered findings: the rows, how many matched, which page of how many."""

    rows: Rows
    total: int
    page: int
    pages: int
