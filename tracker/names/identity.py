"""Likely duplicate institutions in a registry: the check behind "no institution twice".

Two institution keys are a *likely duplicate* when they share a ROR or an OpenAlex ID, or
when one of their printed names (the entry's name, or an alias a designation list prints,
generic aliases left out) reads the same after :func:`identity_name` and their countries
agree (equal, or one of them unknown: several official files print no country).  Such a
pair must be decided by a person, with the reason, in ``tracker/data/institution_merges.csv``
(``merge`` or ``keep_apart``); :func:`likely_duplicates` lists the pairs neither merged nor
kept apart.

A name never decides identity on its own: the pairs are candidates for review, and the
review reads the list sources (names, addresses, countries).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass

from tracker.names.normalise import (
    _drop_parens,
    _name_form,
    _tokens,
    _without_legal_suffix,
)
from tracker.watchlists import Registry

__all__ = ["DuplicatePair", "identity_name", "likely_duplicates"]

#: Phrases official files print after a name to say the listing reaches further; they do
#: not make it another institution ("X and its subsidiaries" lists X).
_REACH_SUFFIXES: tuple[tuple[str, ...], ...] = tuple(tuple(s.split()) for s in (
    "and its sub units and successors", "and its subordinate and affiliated entities",
    "and its subordinate entities", "and its subsidiaries", "and subsidiaries",
    "and its affiliates", "and affiliates", "and its successors",
    "and any successor sub unit or subsidiary thereof",
    "and any successor subunit or subsidiary thereof",
))
#: Words of a legal or group form at a name's end ("X Group", "X Corporation"): dropped
#: for the comparison, so that "Changhe Aircraft Industries Group" meets "Changhe Aircraft
#: Industries (Group) Co., Ltd." (the pair is then reviewed, never merged by this).
_FORM_WORDS = frozenset({"group", "corporation", "company", "incorporated", "limited",
                         "inc", "llc", "jsc", "ojsc", "pjsc", "oao", "ao", "holding",
                         "holdings", "private", "pvt", "gmbh", "sa"})
#: Ordinals spelt out and written with digits read the same ("First Academy", "1st Academy").
_ORDINALS = {"first": "1st", "second": "2nd", "third": "3rd", "fourth": "4th",
             "fifth": "5th", "sixth": "6th", "seventh": "7th", "eighth": "8th",
             "ninth": "9th", "tenth": "10th"}
#: The shortest identity name (in letters) that counts: shorter ones are acronyms.
MIN_LETTERS = 6


def identity_name(name: str) -> str:
    """A printed name in the form two records of one institution share.

    Parenthesised acronyms and notes dropped (qualifiers such as "(UK)" or "(Shanshan)"
    kept: they name another legal entity), tokens normalised, "and its subsidiaries"
    style phrases, leading and trailing legal forms and "the" dropped.

    Parameters
    ----------
    name : str

    Returns
    -------
    str

    Examples
    --------
    >>> identity_name("Poly Technologies Incorporated (PTI), and its sub-units and successors")
    'poly technology'
    >>> identity_name("Hoshine Silicon Industry (Shanshan) Co., Ltd and subsidiaries")
    'hoshine silicon industry shanshan'
    >>> identity_name("Huawei Global Finance (UK) Limited")
    'huawei global finance uk'
    """
    toks = _tokens(_drop_parens(name))
    changed = True
    while changed and toks:
        changed = False
        for suf in _REACH_SUFFIXES:
            if len(toks) > len(suf) and toks[-len(suf):] == list(suf):
                toks, changed = toks[:-len(suf)], True
        shorter = _without_legal_suffix(toks)
        if len(toks) > 1 and toks[-1] in _FORM_WORDS:
            shorter = toks[:-1]
        if len(shorter) < len(toks) and shorter:
            toks, changed = shorter, True
    toks = [_ORDINALS.get(t, t) for t in _name_form(toks) if t != "the"]
    return " ".join(toks)


@dataclass(frozen=True, slots=True)
class DuplicatePair:
    """Two institution keys that look like one institution, and what they share."""

    key_a: str
    key_b: str
    shared: str

    def describe(self, registry: Registry) -> str:
        """One line for a reviewer: both institutions with their lists, and the reason."""
        def one(key: str) -> str:
            inst = registry.institution(key)
            if inst is None:
                return key
            return (f"{key} [{', '.join(inst.lists)}] {inst.name!r} "
                    f"({inst.country or 'no country'})")
        return f"{one(self.key_a)} <> {one(self.key_b)}: {self.shared}"


def likely_duplicates(registry: Registry,
                      decided: Iterable[frozenset[str]] = ()) -> list[DuplicatePair]:
    """Pairs of institutions that look like one, neither merged nor kept apart.

    Parameters
    ----------
    registry : Registry
    decided : iterable of frozenset of two keys
        Pairs reviewed as two institutions (``keep_apart`` rows); a reviewed merge shows
        as one key once it is applied.

    Returns
    -------
    list of DuplicatePair
        Sorted by keys; each pair once, with the first shared ID or name found.

    Examples
    --------
    >>> from tracker.watchlists import ListEntry
    >>> a = ListEntry(entry_id="X:a", list="X", name="Poly Technologies Inc.",
    ...               institution_key="a", country="CN")
    >>> b = ListEntry(entry_id="Y:b", list="Y", institution_key="b",
    ...               name="Poly Technologies Incorporated (PTI), and its sub-units")
    >>> reg = Registry([a, b], lists=[], editions=[], version="t")
    >>> [(p.key_a, p.key_b) for p in likely_duplicates(reg)]
    []
    >>> c = ListEntry(entry_id="Y:c", list="Y", name="Poly Technologies, Inc.",
    ...               institution_key="c")
    >>> reg = Registry([a, c], lists=[], editions=[], version="t")
    >>> [(p.key_a, p.key_b) for p in likely_duplicates(reg)]
    [('a', 'c')]
    >>> likely_duplicates(reg, [frozenset({"a", "c"})])
    []
    """
    done = set(decided)
    by_id: dict[str, set[str]] = {}
    by_name: dict[str, dict[str | None, set[str]]] = {}
    for e in registry:
        if not e.institution_key:
            continue
        for ident in ([f"ROR {e.ror}"] if e.ror else []) + [f"OpenAlex {o}"
                                                           for o in e.openalex_ids]:
            by_id.setdefault(ident, set()).add(e.institution_key)
        names = [e.name]
        if e.is_designation:
            names += [a for a in e.aliases if a not in e.generic_aliases]
        for n in names:
            key = identity_name(n)
            if sum(c.isalnum() for c in key) < MIN_LETTERS or len(key.split()) < 2:
                continue
            by_name.setdefault(key, {}).setdefault(e.country, set()).add(e.institution_key)
    found: dict[tuple[str, str], str] = {}

    def add(keys: Iterable[str], why: str) -> None:
        for a, b in itertools.combinations(sorted(set(keys)), 2):
            if frozenset((a, b)) not in done:
                found.setdefault((a, b), why)

    for ident, keys in sorted(by_id.items()):
        add(keys, f"same {ident}")
    for name, per_country in sorted(by_name.items()):
        unknown = per_country.get(None, set())
        for country, keys in sorted(per_country.items(), key=lambda kv: kv[0] or ""):
            if country is None:
                add(keys, f"same name {name!r}, no country printed")
            else:
                add(keys | unknown, f"same name {name!r} and country {country}"
                    + (" (or none printed)" if unknown else ""))
    return [DuplicatePair(a, b, why) for (a, b), why in sorted(found.items())]
