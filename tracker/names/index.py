"""The alias index: aliases, hits and scans, the token trie, and small helpers of
the matcher."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz import fuzz

from tracker.names.normalise import (
    _ORG_WORDS,
    _drop_parens,
    normalize,
)
from tracker.names.tables import (
    Lookalike,
)
from tracker.records import InstitutionRef
from tracker.watchlists import ListEntry


@dataclass(frozen=True, slots=True)
class _Alias:
    text: str                      # as printed on the list (or the look-alike's name)
    key: str                       # institution key, or "" for a look-alike
    kind: str                      # name | zh | acronym | generic | weak
    parents: tuple[tuple[str, ...], ...] = ()   # parent phrases that support it
    lookalike: Lookalike | None = None
    head_start: bool = False       # starts like a unit ("Institute of ...")
    lists: frozenset[str] = frozenset()   # the lists whose entries print this name

    def __reduce__(self) -> tuple[Any, ...]:
        # positional constructor call: unpickling the cached matcher (thousands of aliases)
        # without the slow generic dataclass __setstate__
        return (_Alias, (self.text, self.key, self.kind, self.parents, self.lookalike,
                         self.head_start, self.lists))


@dataclass(frozen=True, slots=True)
class _Hit:
    key: str
    alias: str
    start: int
    end: int
    method: str                    # name | fuzzy
    score: float
    kind: str
    form: str                      # how it was found, in words
    parent_found: str = ""         # parent phrase found in the string ("" if none)
    unit: Lookalike | None = None
    lists: frozenset[str] = frozenset()   # only entries of these lists print the alias
    qualifier: str = ""            # place code or "branch" right after the name in the string


@dataclass(frozen=True, slots=True)
class _Scan:
    hits: tuple[_Hit, ...]
    countries: frozenset[str]
    parents: tuple[tuple[str, tuple[str, ...]], ...] = ()   # (parent text, unit keys)
    loose_keys: frozenset[str] = field(default_factory=frozenset)
    case_sensitive: bool = False   # the result read capitals (acronyms): not shareable


_NOTHING = _Scan((), frozenset())
_Cand = tuple[int, int, int, int, _Alias, str]
_TERM = "\x00"


_Trie = dict[str, Any]


def _trie_add(trie: _Trie, tokens: Sequence[str], value: _Alias) -> None:
    node = trie
    for t in tokens:
        node = node.setdefault(t, {})
    node.setdefault(_TERM, []).append(value)


def _trie_walk(trie: _Trie, toks: Sequence[str], start: int,
               stop: int) -> Iterable[tuple[int, list[_Alias]]]:
    node = trie
    for k in range(start, stop):
        nxt = node.get(toks[k])
        if nxt is None:
            return
        node = nxt
        term = node.get(_TERM)
        if term:
            yield k + 1, term


def _looks_like_person(e: ListEntry, places: frozenset[str]) -> bool:
    """Entity List entries that read as an individual's name (kept out of name matching).

    Two to six words, none of them an organisation word, an acronym in capitals, a
    number or a country name.
    """
    if e.list not in ("BIS_ENTITY_LIST", "BIS_MEU"):
        return False
    names = (e.name, *e.aliases)
    if any(_ORG_WORDS.search(n) for n in names):
        return False
    for n in names:
        for w in re.findall(r"[\w.-]+", n):
            letters = re.sub(r"[\W\d_]", "", w)
            if (len(letters) >= 2 and letters.isupper()) or any(c.isdigit() for c in w):
                return False
            if normalize(w) in places:
                return False
    words = re.sub(r"[^\w\s.-]", " ", _drop_parens(e.name)).split()
    return 2 <= len(words) <= 6


def _deletions(word: str) -> list[str]:
    """The word with one letter deleted, at each position."""
    return [word[:i] + word[i + 1:] for i in range(len(word))]


def _vocab_of(trie: _Trie) -> Iterable[str]:
    stack = [trie]
    while stack:
        node = stack.pop()
        for k, v in node.items():
            if k != _TERM:
                yield k
                stack.append(v)


def _tokens_align(window: Sequence[str], alias: Sequence[str]) -> bool:
    """Token by token, a near-miss spelling: short tokens equal, long ones close."""
    for w, a in zip(window, alias, strict=True):
        if w == a:
            continue
        if len(a) <= 3 or len(w) <= 3 or fuzz.ratio(w, a) < 75.0:
            return False
    return True


def _short(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _label(inst: InstitutionRef) -> str:
    name = inst.display_name or "institution"
    return f"{name} ({inst.id})" if inst.id else name
