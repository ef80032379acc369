"""Match authorship affiliations against the registry, each match with its reason.

Order of evidence (strongest first), each tagged with its ``method``:

1. ``openalex_id``: an institution OpenAlex attached to the authorship has a listed ID.
2. ``ror``: its ROR ID is a listed entry's ROR ID.
3. ``lineage``: an ancestor in its lineage is listed *and* that entry covers subordinate
   units; the detail names both.
4. ``name`` / ``fuzzy``: a listed name or alias found in a raw affiliation string (see
   :mod:`tracker.names`).

Only institutions are matched.  No person's name is ever an input here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tracker.records import Authorship, InstitutionRef
from tracker.watchlists import ListEntry, Registry

__all__ = ["AGREEMENTS", "METHODS", "Match", "MatchMemo", "Matcher", "attached_to"]

METHODS = ("openalex_id", "ror", "lineage", "name", "fuzzy")


@dataclass(frozen=True, slots=True)
class Match:
    """One tie between an authorship's affiliation and one list entry.

    ``score`` is in [0, 1] (1.0 for identifier matches); ``detail`` says why, in words.
    ``institution`` is the OpenAlex institution that matched (None for a raw-string-only
    match); ``raw_affiliation`` the raw string behind it where one is known.

    ``attached`` holds the institutions OpenAlex attached to that raw string (or, when
    OpenAlex does not say which string, to the authorship), whatever the method, so an
    evidence row can always show them.  ``agreement`` says whether OpenAlex's institution
    and the raw string agree: ``agree``, ``partial`` (OpenAlex attached other institutions
    the string also names), ``disagree``, ``none attached`` or ``""`` (not checked, e.g.
    identifier matching without a name matcher).  ``support`` names the
    context a short or generic alias needed (e.g. ``country CN named in the string``).
    """

    entry: ListEntry
    method: str
    score: float
    detail: str
    institution: InstitutionRef | None
    raw_affiliation: str | None
    context_only: bool = False  # e.g. a listed sub-unit of this institution: context, not a flag
    attached: tuple[InstitutionRef, ...] = ()
    agreement: str = ""
    support: str = ""
    alias: str = ""   # the listed name or alias found (name matching), as the list prints it


AGREEMENTS = ("agree", "partial", "disagree", "none attached", "")


def attached_to(auth: Authorship, raw: str | None) -> tuple[InstitutionRef, ...]:
    """The institutions OpenAlex attached to ``raw`` in this authorship.

    Where OpenAlex says which string an institution came from (``affiliations``), only
    those; where it does not, and the authorship has one raw string (or none), all the
    authorship's institutions.

    Examples
    --------
    >>> from tracker.records import parse_work
    >>> w = parse_work({"id": "W1", "authorships": [{
    ...     "raw_affiliation_strings": ["Dept. of Physics, MIT, Cambridge, MA"],
    ...     "institutions": [{"id": "https://openalex.org/I63966007",
    ...                       "display_name": "Massachusetts Institute of Technology"}]}]})
    >>> [i.id for i in attached_to(w.authorships[0], "Dept. of Physics, MIT, Cambridge, MA")]
    ['I63966007']
    """
    by_id = {i.id: i for i in auth.institutions if i.id}
    for r, ids in auth.affiliations:
        if r == raw:
            got = tuple(by_id[i] for i in ids if i in by_id)
            if got:
                return got
    if len(auth.raw_affiliations) <= 1:
        return tuple(auth.institutions)
    return ()


def _raw_for(auth: Authorship, inst: InstitutionRef) -> str | None:
    """The raw affiliation string OpenAlex matched this institution from, if it says."""
    if inst.id:
        for raw, ids in auth.affiliations:
            if inst.id in ids:
                return raw
    if len(auth.raw_affiliations) == 1:
        return auth.raw_affiliations[0]
    return None


class Matcher:
    """Match authorships against a registry by identifier, then by name.

    Parameters
    ----------
    registry : Registry
    name_matcher : object, optional
        Anything with ``match_raw(auth, already) -> list[Match]`` (see
        :class:`tracker.names.NameMatcher`).  None disables name matching.

    Examples
    --------
    >>> from tracker.watchlists import ListEntry, Registry
    >>> from tracker.records import parse_work
    >>> hit = ListEntry(entry_id="BIS_ENTITY_LIST:hit", list="BIS_ENTITY_LIST",
    ...                 name="Harbin Institute of Technology", ror="01yqg2h08")
    >>> m = Matcher(Registry([hit], lists=[], editions=[], version="t"))
    >>> w = parse_work({"id": "W1", "authorships": [{"institutions": [
    ...     {"id": "https://openalex.org/I204983213", "ror": "https://ror.org/01yqg2h08",
    ...      "display_name": "Harbin Institute of Technology"}]}]})
    >>> [(x.method, x.entry.entry_id) for x in m.match_authorship(w.authorships[0])]
    [('ror', 'BIS_ENTITY_LIST:hit')]
    """

    def __init__(self, registry: Registry, name_matcher: object | None = None) -> None:
        self.registry = registry
        self.name_matcher = name_matcher

    def _id_matches(self, auth: Authorship, inst: InstitutionRef) -> Iterable[Match]:
        reg = self.registry
        if not ((inst.id and reg.by_openalex_id(inst.id)) or (inst.ror and reg.by_ror(inst.ror))
                or any(reg.by_openalex_id(a) for a in inst.lineage)):
            return   # the common case: nothing listed; skip building labels and raw strings
        seen: set[str] = set()
        raw = _raw_for(auth, inst)
        att = (inst,)
        label = inst.display_name or inst.id or inst.ror or "institution"
        if inst.id:
            for e in self.registry.by_openalex_id(inst.id):
                seen.add(e.entry_id)
                yield Match(e, "openalex_id", 1.0,
                            f"OpenAlex attached {label} ({inst.id}); that ID is listed as "
                            f"'{e.name}'", inst, raw, attached=att)
        if inst.ror:
            for e in self.registry.by_ror(inst.ror):
                if e.entry_id in seen:
                    continue
                seen.add(e.entry_id)
                yield Match(e, "ror", 1.0,
                            f"OpenAlex attached {label} with ROR {inst.ror}; that ROR is listed "
                            f"as '{e.name}'", inst, raw, attached=att)
        for anc in inst.lineage:
            if anc == inst.id:
                continue
            for e in self.registry.by_openalex_id(anc):
                if e.entry_id in seen:
                    continue
                seen.add(e.entry_id)
                if e.covers_subunits:
                    yield Match(e, "lineage", 0.9,
                                f"{label} ({inst.id}) sits under {anc}, listed as '{e.name}', "
                                f"whose entry covers subordinate units", inst, raw, attached=att)
                else:
                    yield Match(e, "lineage", 0.0,
                                f"{label} ({inst.id}) sits under {anc}, listed as '{e.name}', "
                                f"but that entry does not say it covers subordinate units: "
                                f"context only", inst, raw, context_only=True, attached=att)

    def match_authorship(self, auth: Authorship) -> list[Match]:
        """All matches for one authorship, identifier evidence first."""
        out: list[Match] = []
        for inst in auth.institutions:
            out.extend(self._id_matches(auth, inst))
        if self.name_matcher is not None:
            found = self.name_matcher.match_raw(auth, out)  # type: ignore[attr-defined]
            review = getattr(self.name_matcher, "review_identifier_matches", None)
            if callable(review):
                # identifier ties whose raw string does not name the institution say so
                out = list(review(auth, out))
            # a name matcher built on a larger registry (all lists) reports only entries of
            # this one (e.g. the lists a screening run is restricted to)
            known = self.registry.entry_index
            out.extend(m for m in found if m.entry.entry_id in known)
        return out


class MatchMemo:
    """:meth:`Matcher.match_authorship`, each distinct authorship matched once.

    An authorship's matches depend only on its institutions, its raw affiliation strings,
    their pairing (``affiliations``) and its countries, never on its author or its place
    in the work, and the same ones recur on thousands of authorships (15,000 generated
    works: 123,145 authorships, 4,328 distinct; matched with names, 1.07 s one by one and
    0.22 s remembered).  Up to ``held`` are remembered, then it begins afresh.  Each call
    returns a list of its own.

    Parameters
    ----------
    matcher : Matcher
    held : int, default 65,536
        Distinct authorships remembered at most.

    Examples
    --------
    >>> from tracker.watchlists import ListEntry, Registry
    >>> hit = ListEntry(entry_id="BIS_ENTITY_LIST:hit", list="BIS_ENTITY_LIST",
    ...                 name="Harbin Institute of Technology", ror="01yqg2h08")
    >>> match = MatchMemo(Matcher(Registry([hit], lists=[], editions=[], version="t")))
    >>> inst = InstitutionRef(id="I204983213", ror="01yqg2h08")
    >>> one = Authorship(index=0, author_id="A1", institutions=(inst,))
    >>> two = Authorship(index=4, author_id="A2", institutions=(inst,))
    >>> [m.method for m in match(one)], match(two) == match(one), len(match)
    (['ror'], True, 1)
    """

    __slots__ = ("_found", "held", "matcher")

    def __init__(self, matcher: Matcher, *, held: int = 1 << 16) -> None:
        self.matcher = matcher
        self.held = held
        self._found: dict[tuple[object, ...], tuple[Match, ...]] = {}

    def __len__(self) -> int:
        return len(self._found)

    def __call__(self, auth: Authorship) -> list[Match]:
        key = (auth.institutions, auth.raw_affiliations, auth.affiliations, auth.countries)
        found = self._found.get(key)
        if found is None:
            found = tuple(self.matcher.match_authorship(auth))
            if len(self._found) >= self.held:
                self._found.clear()
            self._found[key] = found
        return list(found)
