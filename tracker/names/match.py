"""The name matcher: finds listed institutions in raw affiliation strings and says why
(see :mod:`tracker.names` for how a string is read)."""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace

from rapidfuzz import fuzz

from tracker.matching import Match
from tracker.names.index import (
    _NOTHING,
    _TERM,
    _Alias,
    _Cand,
    _deletions,
    _Hit,
    _label,
    _looks_like_person,
    _Scan,
    _short,
    _tokens_align,
    _Trie,
    _trie_add,
    _trie_walk,
    _vocab_of,
)
from tracker.names.normalise import (
    _CN_COMPAT,
    _COMMON,
    _COMPOSITE,
    _FUZZY_HEADS,
    _HEAD_PREFIXES,
    _HEADS,
    _LEGAL_WORDS,
    _OTHER_ORG,
    _SEG_SPLIT,
    _STOP,
    _UNIT_START,
    QUALIFIER_PLACES,
    _acronym_like,
    _drop_parens,
    _initialism,
    _is_cjk,
    _name_form,
    _seg_tokens,
    _segment_in_capitals,
    _split_compounds,
    _tokens,
    _without_legal_prefix,
    _without_legal_suffix,
    normalize,
)
from tracker.names.places import Place, load_places
from tracker.names.tables import (
    Lookalike,
    load_country_names,
    load_lookalikes,
)
from tracker.records import Authorship, InstitutionRef
from tracker.watchlists import ListEntry, Registry

DEFAULT_FUZZY_THRESHOLD = 92.0

class NameMatcher:
    """Match listed institutions' names and aliases in raw affiliation strings.

    Parameters
    ----------
    registry : Registry
        The entries to find (all lists).
    fuzzy_threshold : float, default 92.0
        Minimum rapidfuzz ``ratio`` (0–100) for a fuzzy match.
    fuzzy : bool, default True
        Also look for near-miss spellings of full names.
    lookalikes : iterable of Lookalike, optional
        Known look-alikes (default: the bundled table).
    country_names : dict, optional
        Country names → ISO codes (default: the bundled table).
    cache_size : int, default 500000
        Distinct raw strings kept in the cache (cleared when full).

    Examples
    --------
    >>> from tracker.watchlists import ListEntry, Registry
    >>> from tracker.records import Authorship
    >>> hit = ListEntry(entry_id="L:hit", list="L", name="Harbin Institute of Technology",
    ...                 institution_key="hit", aliases=("HIT",), generic_aliases=("HIT",),
    ...                 country="CN")
    >>> nm = NameMatcher(Registry([hit], lists=[], editions=[], version="t"))
    >>> a = Authorship(index=0, raw_affiliations=("Sch. of Astronautics, Harbin Inst. "
    ...                "Technol., Harbin 150001, China",))
    >>> [(m.method, m.entry.entry_id) for m in nm.match_raw(a, [])]
    [('name', 'L:hit')]
    >>> b = Authorship(index=0, raw_affiliations=("Harbin Engineering University",))
    >>> nm.match_raw(b, [])
    []
    """

    def __init__(
        self,
        registry: Registry,
        *,
        fuzzy_threshold: float = DEFAULT_FUZZY_THRESHOLD,
        fuzzy: bool = True,
        lookalikes: Iterable[Lookalike] | None = None,
        country_names: dict[str, str] | None = None,
        cache_size: int = 500_000,
        places: dict[tuple[str, str], tuple[Place, ...]] | None = None,
    ) -> None:
        if not 0.0 <= fuzzy_threshold <= 100.0:
            raise ValueError(f"fuzzy_threshold must be between 0 and 100, not {fuzzy_threshold}")
        self.registry = registry
        self.fuzzy_threshold = float(fuzzy_threshold)
        self.fuzzy = fuzzy
        self.cache_size = cache_size
        self._cache: dict[str, _Scan] = {}
        self._token_cache: dict[tuple[str, tuple[int, ...]], _Scan] = {}
        self._part_cache: dict[tuple[str, ...], tuple[tuple[_Alias, int, int, float, str],
                                                      ...]] = {}
        self._part_cands: dict[tuple[str, ...], tuple[tuple[_Cand, ...], frozenset[str]]] = {}
        self._token_memo: dict[str, tuple[str, ...]] = {}
        self._entry_parents: dict[str, frozenset[tuple[str, ...]]] = {}
        self.lookalikes = tuple(load_lookalikes() if lookalikes is None else lookalikes)
        countries = load_country_names() if country_names is None else country_names
        self._country_words = frozenset(name for name in countries if " " not in name)
        self.excluded: dict[str, str] = {}   # entry_id -> why it is not name-matched
        self._entries: dict[str, list[ListEntry]] = defaultdict(list)
        for e in registry.entries:
            why = self._exclusion(e)
            if why:
                self.excluded[e.entry_id] = why
                continue
            self._entries[e.institution_key or e.entry_id].append(e)
        self._trie: _Trie = {}         # names within one comma-separated part
        self._trie_cross: _Trie = {}   # names printed with a comma or parenthesis
        self._trie_abbr: _Trie = {}    # the small-words-dropped readings
        self._zh: dict[str, list[tuple[str, _Alias]]] = defaultdict(list)
        self._country_trie: _Trie = {}
        #: institution key -> normalised full names (>= 2 tokens, not generic)
        self.listed_names: dict[str, set[str]] = {}
        for name, code in countries.items():
            _trie_add(self._country_trie, name.split(), _Alias(name, code, "country"))
        self._place_trie: _Trie = {}
        for name, code in {**countries, **QUALIFIER_PLACES}.items():
            _trie_add(self._place_trie, name.split(), _Alias(name, code, "country"))
        self._parents = self._find_parents()
        #: institution key -> places its lists print in its addresses (city support)
        self._places: dict[str, tuple[Place, ...]] = {}
        table = load_places() if places is None else places
        for key, entries in self._entries.items():
            found = {pl.name: pl for e in entries for n in (e.name, *e.aliases)
                     for pl in table.get((e.list, normalize(n)), ())}
            if found:
                self._places[key] = tuple(sorted(found.values(),
                                                 key=lambda p: (p.kind != "city", p.name)))
        #: normalised printed name -> the institution keys that print it
        self._name_owners: dict[str, set[str]] = defaultdict(set)
        for key, entries in self._entries.items():
            for e in entries:
                for n in (e.name, *e.aliases):
                    for piece in (n, *_COMPOSITE.split(_drop_parens(n) or n)):
                        toks = _tokens(piece)
                        while toks and toks[0] in _STOP:
                            toks = toks[1:]
                        self._name_owners[" ".join(toks)].add(key)
        self._unit_of_parent: dict[tuple[str, ...], set[str]] = defaultdict(set)
        self._fuzzy_names: list[tuple[str, _Alias]] = []
        same_names = {normalize(x.name): x for x in self.lookalikes if x.relation == "same_name"}
        self._same_names = same_names
        for key, entries in self._entries.items():
            self._register_key(key, entries, same_names)
        for la in self.lookalikes:
            self._register_lookalike(la)
        self._block: dict[str, list[int]] = self._blocking_index()
        self._fuzzy_toks = [tuple(t.split()) for t, _ in self._fuzzy_names]
        self._vocab = frozenset(t for toks in self._fuzzy_toks for t in toks) | frozenset(
            _vocab_of(self._trie)) | frozenset(_vocab_of(self._trie_cross))
        self._head_near = frozenset(v for h in _FUZZY_HEADS for v in (h, *_deletions(h)))
        # rare word, and each of its one-letter deletions -> the rare words it comes from
        self._near: dict[str, set[str]] = defaultdict(set)
        for t in self._block:
            if len(t) >= 5:
                for v in (t, *_deletions(t)):
                    self._near[v].add(t)
        # rare token -> (alias index, position of the token in the alias)
        self._block_pos: dict[str, list[tuple[int, int]]] = {
            t: [(ix, self._fuzzy_names[ix][0].split().index(t)) for ix in ixs]
            for t, ixs in self._block.items()}

    # ------------------------------------------------------------------ building

    def _exclusion(self, e: ListEntry) -> str:
        if e.entry_type == "address":
            return "an address, not an institution"
        if e.entry_type == "talent_program":
            return "a talent programme, not an institution"
        if _looks_like_person(e, self._country_words):
            return "reads as an individual's name: people are never matched"
        return ""

    def _find_parents(self) -> dict[tuple[str, ...], str]:
        """Parent phrases: name parts shared by units of several listed institutions
        (``Chinese Academy of Sciences``, ``Russian Academy of Sciences``)."""
        seen: dict[tuple[str, ...], set[str]] = defaultdict(set)
        text: dict[tuple[str, ...], str] = {}
        for key, entries in self._entries.items():
            for e in entries:
                for n in (e.name, *e.aliases):
                    parts = _COMPOSITE.split(_drop_parens(n))
                    if len(parts) < 2:
                        continue
                    for p in parts:
                        toks = tuple(_tokens(p))
                        if len(toks) >= 2 and toks[-1] in ("academy", "science", "university",
                                                           "corporation", "group"):
                            seen[toks].add(key)
                            text.setdefault(toks, p.strip())
        return {t: text[t] for t, keys in seen.items() if len(keys) >= 3}

    def _parent_phrases(self, tokens: Sequence[str]) -> list[tuple[str, ...]]:
        """The known parents contained in a name, with their initialisms (``CAS``)."""
        out: list[tuple[str, ...]] = []
        joined = " " + " ".join(tokens) + " "
        for p in self._parents:
            if " " + " ".join(p) + " " in joined:
                out.append(p)
        return out

    def _distinct_units(self, name: str, key: str, generic_texts: set[str]
                        ) -> list[tuple[str, ...]]:
        """Unit names printed with their parent that are distinctive enough to stand alone.

        A name that starts or ends with a known parent (``Chinese Academy of Sciences`` or
        its initialism ``CAS``) gives its unit part (a leading ``the`` dropped) when that part
        has at least four words besides ``of``/``and``/``the`` ..., is not one of the
        entry's generic aliases and no other listed institution prints it.  Shorter unit
        names (``Institute of Computing Technology``, ``Institute of Electronics``) keep
        needing the parent or the country as context.
        """
        toks = _tokens(name)
        out: list[tuple[str, ...]] = []
        for par in self._parents:
            for form in (par, (_initialism(par),)):
                k = len(form)
                if len(toks) <= k:
                    continue
                if tuple(toks[:k]) == form:
                    unit = tuple(toks[k:])
                elif tuple(toks[-k:]) == form:
                    unit = tuple(toks[:-k])
                else:
                    continue
                while unit and unit[0] in _STOP:
                    unit = unit[1:]
                while unit and unit[-1] in _STOP:
                    unit = unit[:-1]
                text = " ".join(unit)
                if (len([t for t in unit if t not in _STOP]) >= 4
                        and text not in generic_texts
                        and self._name_owners.get(text, {key}) == {key}
                        and unit not in out):
                    out.append(unit)
        return out

    def _register_key(self, key: str, entries: list[ListEntry],
                      same_names: dict[str, Lookalike]) -> None:
        generic_texts = {normalize(g) for e in entries for g in e.generic_aliases}
        # every name remembers the lists whose entries print it: an alias one list prints
        # (e.g. an acronym of a context list) never matches for another list
        names: dict[str, set[str]] = {}
        zh: dict[str, set[str]] = {}
        for e in entries:
            for n in (e.name, *e.aliases):
                names.setdefault(n, set()).add(e.list)
            for z in e.aliases_zh:
                zh.setdefault(z, set()).add(e.list)
        # parents named anywhere in this institution's names, and their initialisms
        parents: set[tuple[str, ...]] = set()
        for n in names:
            parents.update(self._parent_phrases(_tokens(n)))
        parent_list = sorted(parents)
        for p in parent_list:
            ini = _initialism(p)
            if any(ini in _tokens(n) for n in names):
                parents.add((ini,))
        support = tuple(sorted(parents))
        done: set[tuple[tuple[str, ...], str, frozenset[str]]] = set()
        lists: frozenset[str] = frozenset()

        def add(text: str, toks: list[str], kind: str, sup: tuple[tuple[str, ...], ...],
                *, unit_named_with_parent: bool = False) -> None:
            if not toks or len("".join(toks)) < 2:
                return
            if (tuple(toks), kind, lists) in done:
                return
            done.add((tuple(toks), kind, lists))
            head = toks[0] in _UNIT_START
            content = [t for t in toks if t not in _STOP]
            if kind == "name" and not unit_named_with_parent and (head or (
                    len(content) <= 3 and all(
                    t in _COMMON or t in self._country_words for t in content))):
                kind = "generic"
            if kind == "name" and " ".join(toks) in same_names:
                kind = "weak"
            if kind == "name" and len(toks) == 1:
                kind = "weak"
            alias = _Alias(text, key, kind, sup, None, head, lists)
            # a name printed with a comma or parenthesis may span parts of a raw string
            _trie_add(self._trie_cross if _SEG_SPLIT.search(text) else self._trie, toks, alias)
            if kind == "name" and len(toks) >= 2:
                self.listed_names.setdefault(key, set()).add(" ".join(toks))
            short = [t for t in toks if t not in _STOP]
            if short != toks and len(short) >= 2:
                _trie_add(self._trie_abbr, short,
                          _Alias(text, key, kind, sup, None, head, lists))
            if (kind == "name" and len(toks) >= 2 and len(" ".join(toks)) >= 12
                    and any(t in _FUZZY_HEADS for t in toks)):
                self._fuzzy_names.append((" ".join(toks), alias))

        for n, printed_by in names.items():
            lists = frozenset(printed_by)
            base = _drop_parens(n) or n
            for variant in dict.fromkeys((n, base)):
                toks = _tokens(variant)
                if not toks:
                    continue
                if all(_is_cjk(t) for t in toks):
                    zh.setdefault(variant, set()).update(printed_by)
                    continue
                is_generic = " ".join(toks) in generic_texts
                if _acronym_like(variant, toks):
                    add(variant, toks, "acronym", support)
                    continue
                add(variant, toks, "generic" if is_generic else "name", support)
                bare = _without_legal_suffix(toks)
                if bare != toks and len(bare) >= 2:
                    add(variant, bare, "generic" if is_generic else "name", support)
                formed = bare
                for form in (_without_legal_prefix(bare), _name_form(bare)):
                    if form != bare and len(form) >= 2:
                        formed = form
                        add(variant, form, "generic" if is_generic else "name", support)
                split = _split_compounds(formed)
                if split != formed:
                    add(variant, split, "generic" if is_generic else "name", support)
            # composite "Parent, Unit" / "Unit, Parent": the unit part needs the parent
            parts = [p for p in _COMPOSITE.split(base) if p.strip()]
            if len(parts) == 2:
                p0, p1 = (tuple(_tokens(p)) for p in parts)
                for par, unit in ((p0, p1), (p1, p0)):
                    while unit and unit[0] in _STOP:   # "The Institute of Electronics, CAS"
                        unit = unit[1:]
                    if par in self._parents and len(unit) >= 2:
                        usup = (par, (_initialism(par),))
                        self._unit_of_parent[par].add(key)
                        for uform in dict.fromkeys((unit, tuple(_split_compounds(list(unit))))):
                            add(f"{' '.join(unit)} ({self._parents[par]})", list(uform),
                                "generic", usup)
                        add(base, list(unit) + list(par), "name", support)
        # a long unit name the list prints with its parent ("Aerospace Information Research
        # Institute, Chinese Academy of Sciences") is a name on its own; registered after the
        # printed names, so that a name printed with a comma keeps its place in the trie of
        # names read across parts (the unit's text is the printed name it comes from)
        for n, printed_by in names.items():
            lists = frozenset(printed_by)
            for unit in self._distinct_units(_drop_parens(n) or n, key, generic_texts):
                add(n, list(unit), "name", support, unit_named_with_parent=True)
        for z, printed_by in zh.items():
            toks = _tokens(z)
            text = "".join(toks)
            if not text or not all(_is_cjk(t) for t in toks):
                continue
            kind = "zh" if len(text) >= 4 else "generic"
            self._zh[text[:2]].append((text, _Alias(z, key, kind, support, None, False,
                                                    frozenset(printed_by))))

    def _register_lookalike(self, la: Lookalike) -> None:
        if la.relation == "same_name":
            return
        toks = _tokens(la.name)
        if not toks:
            return
        alias = _Alias(la.name, "", "lookalike", (), la)
        if all(_is_cjk(t) for t in toks):
            text = "".join(toks)
            self._zh[text[:2]].append((text, alias))
            return
        _trie_add(self._trie_cross if _SEG_SPLIT.search(la.name) else self._trie, toks, alias)
        short = [t for t in toks if t not in _STOP]
        if short != toks and len(short) >= 2:
            _trie_add(self._trie_abbr, short, _Alias(la.name, "", "lookalike", (), la))
        if len(toks) >= 2:
            self._fuzzy_names.append((" ".join(toks), alias))

    def _blocking_index(self) -> dict[str, list[int]]:
        df: dict[str, set[int]] = defaultdict(set)
        for i, (text, _) in enumerate(self._fuzzy_names):
            for t in set(text.split()):
                if len(t) >= 4 and t not in _STOP and t not in _HEADS:
                    df[t].add(i)
        return {t: sorted(ix) for t, ix in df.items() if len(ix) <= 40}

    # ------------------------------------------------------------------ scanning

    def _scan(self, raw: str) -> _Scan:
        """The scan of a raw string, cached per distinct string and per distinct reading
        (strings that differ only in case, punctuation or abbreviations share one)."""
        got = self._cache.get(raw)
        if got is not None:
            return got
        if len(self._cache) >= self.cache_size:
            self._cache.clear()
            self._token_cache.clear()
            self._part_cache.clear()
            self._part_cands.clear()
            self._token_memo.clear()
        text = unicodedata.normalize("NFKC", raw)
        toks, seg = _seg_tokens(text)
        tkey = (" ".join(toks), tuple(seg))
        got = self._token_cache.get(tkey)
        if got is None or got.case_sensitive:
            got = self._scan_tokens(text, toks, seg)
            self._token_cache[tkey] = got
        self._cache[raw] = got
        return got

    def _toks(self, text: str) -> tuple[str, ...]:
        """``_tokens(text)`` remembered per string: the notes written for each match
        normalise the same display names and raw strings again and again (a third of
        the name matcher's time at 100,000 works before this memo)."""
        got = self._token_memo.get(text)
        if got is None:
            got = self._token_memo[text] = tuple(_tokens(text))
        return got

    def _parents_of(self, e: ListEntry) -> frozenset[tuple[str, ...]]:
        """The known parents named in an entry's name or aliases, once per entry."""
        got = self._entry_parents.get(e.entry_id)
        if got is None:
            got = self._entry_parents[e.entry_id] = frozenset(
                p for n in (e.name, *e.aliases) for p in self._parent_phrases(self._toks(n)))
        return got

    def _scan_uncached(self, raw: str) -> _Scan:
        text = unicodedata.normalize("NFKC", raw)
        toks, seg = _seg_tokens(text)
        return self._scan_tokens(text, toks, seg)

    def _scan_tokens(self, text: str, toks: list[str], seg: list[int]) -> _Scan:
        n = len(toks)
        cands: list[_Cand] = []   # (start, end, char start, char end, alias, form)
        append = cands.append
        found_countries: set[str] = set()
        part_cands = self._part_cands
        lo = 0
        while lo < n:   # one comma-separated part at a time, each part cached
            hi = lo + 1
            s0 = seg[lo]
            while hi < n and seg[hi] == s0:
                hi += 1
            part = tuple(toks[lo:hi])
            got = part_cands.get(part)
            if got is None:
                got = part_cands[part] = self._scan_part(part)
            for s, e, cs, ce, a, form in got[0]:
                append((s + lo, e + lo, cs, ce, a, form))
            found_countries |= got[1]
            lo = hi
        _walk_trie(self._trie_cross, toks, append)   # names printed across parts
        countries = frozenset(found_countries)
        if not cands:
            fuzzy_hits = self._fuzzy(toks, seg, []) if self.fuzzy else []
            parents = self._parent_context(toks, [], fuzzy_hits)
            if not fuzzy_hits and not parents:
                return _NOTHING   # most strings: one shared result, nothing to keep
            return _Scan(tuple(fuzzy_hits), countries, parents)
        loose = frozenset(a.key for *_, a, _f in cands if a.key)
        hits = self._resolve(text, toks, seg, cands)
        if self.fuzzy:
            hits.extend(self._fuzzy(toks, seg, cands))
        parents = self._parent_context(toks, cands, hits)
        case = any(c[4].kind == "acronym" for c in cands)   # capitals were read
        return _Scan(tuple(hits), countries, parents, loose, case)

    def _scan_part(self, toks: tuple[str, ...]) -> tuple[tuple[_Cand, ...], frozenset[str]]:
        """Names found inside one comma-separated part (positions relative to it), and
        the countries it names."""
        n = len(toks)
        out: list[_Cand] = []
        append = out.append
        _walk_trie(self._trie, toks, append)
        # abbreviated reading: small words dropped, where the string itself drops them
        abbr = self._trie_abbr
        content = [i for i in range(n) if toks[i] not in _STOP]
        ctoks = [toks[i] for i in content]
        for ci in range(len(ctoks)):
            if ctoks[ci] not in abbr:
                continue
            for cend, aliases in _trie_walk(abbr, ctoks, ci, len(ctoks)):
                s, e = content[ci], content[cend - 1] + 1
                if any(toks[j] in ("of", "the") for j in range(s, e)):
                    continue
                for a in aliases:
                    append((s, e, -1, -1, a, "abbreviated"))
        for i, t in enumerate(toks):
            if not _is_cjk(t):
                continue
            for j in range(len(t) - 1):
                for ztext, a in self._zh.get(t[j:j + 2], ()):
                    if t.startswith(ztext, j):
                        append((i, i + 1, j, j + len(ztext), a, "chinese"))
        return tuple(out), self._countries(toks)

    def _countries(self, toks: Sequence[str]) -> frozenset[str]:
        found: set[str] = set()
        n = len(toks)
        trie = self._country_trie
        for i in range(n):
            if toks[i] not in trie:
                continue
            for _end, vals in _trie_walk(trie, toks, i, n):
                found.update(v.key for v in vals)
        return frozenset(found)

    @staticmethod
    def _contains(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
        """Does span ``a`` strictly contain span ``b``?"""
        if a[2] >= 0 or b[2] >= 0:
            if a[2] < 0 or b[2] < 0 or a[0] != b[0]:
                return False
            return a[2] <= b[2] and a[3] >= b[3] and (a[3] - a[2]) > (b[3] - b[2])
        return a[0] <= b[0] and a[1] >= b[1] and (a[1] - a[0]) > (b[1] - b[0])

    def _resolve(self, text: str, toks: list[str], seg: list[int],
                 cands: list[tuple[int, int, int, int, _Alias, str]]) -> list[_Hit]:
        spans = [(c[0], c[1], c[2], c[3]) for c in cands]
        out: dict[tuple[str, frozenset[str]], _Hit] = {}
        for idx, (s, e, cs, _ce, a, form) in enumerate(cands):
            if not a.key:
                continue
            span = spans[idx]
            unit: Lookalike | None = None
            dropped = False
            for jdx, other in enumerate(cands):
                if jdx == idx or not self._contains(spans[jdx], span):
                    continue
                oa = other[4]
                if oa.key == a.key:
                    continue
                if oa.lookalike is not None:
                    la = oa.lookalike
                    if la.relation == "unit" and la.related_key == a.key:
                        unit = la if unit is None or len(la.name) > len(unit.name) else unit
                        continue
                    dropped = True
                    break
                dropped = True   # inside a longer name of another listed institution
                break
            if dropped:
                continue
            latin = cs < 0
            if latin and unit is None:
                # head of a longer name: "Sichuan University of Science & Engineering"
                if (e < len(toks) and toks[e - 1] in _HEADS and toks[e] == "of"
                        and e + 1 < len(toks)):
                    continue
                # tail of a longer name: "Helsinki Institute of Physics"
                if a.head_start and s > 0 and seg[s - 1] == seg[s] and toks[s - 1] not in _STOP:
                    continue
            whole = (s == 0 or seg[s - 1] != seg[s]) and (e == len(toks) or seg[e] != seg[s])
            if a.kind == "weak" and e - s == 1 and latin and unit is None and not whole:
                continue   # a one-word name ("Sugon", "Shuguang") must be a whole part
            if a.kind == "acronym" and not (whole and _segment_in_capitals(text, seg[s])):
                continue   # an acronym must be a whole comma-separated part, in capitals
            parent_found = ""
            if a.kind in ("acronym", "generic", "weak") and a.parents:
                joined = " " + " ".join([*toks[:s], "|", *toks[e:]]) + " "
                for p in a.parents:
                    if " " + " ".join(p) + " " in joined:
                        parent_found = " ".join(p)
                        break
            if a.kind == "generic" and not parent_found and any(
                    t in _OTHER_ORG for k, t in enumerate(toks) if not s <= k < e):
                continue   # country support only if no other organisation is named
            score = {"exact": 1.0, "abbreviated": 0.97, "chinese": 1.0}[form]
            if a.kind in ("acronym", "generic", "weak"):
                score = 0.9 if parent_found else 0.8
            if unit is not None:
                score = min(score, 0.85)
            formtxt = {"exact": "after normalisation",
                       "abbreviated": "in abbreviated form (small words dropped)",
                       "chinese": "as a Chinese name"}[form]
            hit = _Hit(a.key, a.text, s, e, "name", score, a.kind, formtxt, parent_found, unit,
                       a.lists, self._qualifier_after(toks, seg, e) if latin else "")
            slot = (a.key, a.lists)
            prev = out.get(slot)
            if prev is None or (hit.score, hit.end - hit.start) > (prev.score,
                                                                  prev.end - prev.start):
                out[slot] = hit
        return list(out.values())

    def _qualifier_after(self, toks: Sequence[str], seg: Sequence[int], e: int) -> str:
        """What qualifies the name ending at token ``e``: ``branch`` (a later word of the
        same comma-separated part or its legal form: "X Co., Ltd. Beijing Branch"), or
        the ISO code of a place followed by a legal form or ending the string ("X (UK)
        Co., Ltd.", "X Co., Ltd. (Hong Kong)"); "" when nothing does."""
        n = len(toks)
        if e >= n or e == 0:
            return ""
        k, cur = e, seg[e - 1]
        while k < n:
            if seg[k] != cur:   # "X Co., Ltd. Beijing Branch": the legal form goes on
                if toks[k] not in _LEGAL_WORDS:
                    break
                cur = seg[k]
            if toks[k] == "branch":
                return "branch"
            k += 1
        if toks[e] not in self._place_trie:
            return ""
        for end, vals in _trie_walk(self._place_trie, toks, e, n):
            if end == n or any(t in _LEGAL_WORDS for t in toks[end:end + 2]):
                return next(iter(vals)).key
        return ""

    def _fuzzy(self, toks: list[str], seg: list[int],
               cands: list[tuple[int, int, int, int, _Alias, str]]) -> list[_Hit]:
        """Near-miss spellings of full listed names, one comma-separated part at a time
        (a part's result is cached: parts repeat across strings far more than strings)."""
        vocab = self._vocab
        if all(t in vocab for t in toks):
            return []
        # parts already read as a full listed name or a known look-alike are not re-read
        covered = {k for c in cands if c[2] < 0 and c[4].kind in ("name", "lookalike")
                   for k in range(c[0], c[1])} if cands else set()
        best: dict[tuple[str, frozenset[str]], _Hit] = {}
        threshold = self.fuzzy_threshold
        n = len(toks)
        part_cache = self._part_cache
        empty: frozenset[int] = frozenset()
        lo = 0
        while lo < n:
            hi = lo + 1
            s0 = seg[lo]
            while hi < n and seg[hi] == s0:
                hi += 1
            part = tuple(toks[lo:hi])
            cov = frozenset(k - lo for k in range(lo, hi) if k in covered) if covered else empty
            if cov:
                found = self._fuzzy_part(part, cov)
            else:
                got = part_cache.get(part)
                if got is None:
                    got = part_cache[part] = self._fuzzy_part(part, cov)
                found = got
            for alias, s, e, sc, window in found:
                hit = _Hit(alias.key, alias.text, lo + s, lo + e, "fuzzy", sc / 100.0,
                           alias.kind, f"as a near-miss spelling '{window}' (rapidfuzz ratio "
                                       f"{sc:.1f} ≥ {threshold:g})", lists=alias.lists)
                slot = (alias.key, alias.lists)
                if slot not in best or hit.score > best[slot].score:
                    best[slot] = hit
            lo = hi
        return list(best.values())

    def _fuzzy_part(self, toks: tuple[str, ...], covered: frozenset[int]
                    ) -> tuple[tuple[_Alias, int, int, float, str], ...]:
        # a near-miss spelling has a word no listed name uses, in a part that names a kind
        # of organisation (or misspells one: "Univeristy")
        vocab = self._vocab
        oov = {i for i, t in enumerate(toks)
               if t not in vocab and len(t) >= 4 and t.isalpha() and i not in covered}
        if not oov:
            return ()
        heads = [i for i, t in enumerate(toks) if t in _FUZZY_HEADS]
        near_head = self._head_near
        for i in oov:
            t = toks[i]
            if len(t) >= 5 and t[:2] in _HEAD_PREFIXES and (
                    t in near_head or any(v in near_head for v in _deletions(t))):
                heads.append(i)
        if not heads:
            return ()
        n = len(toks)
        starts: dict[int, set[int]] = defaultdict(set)   # alias index -> window starts
        block = self._block_pos
        near = self._near
        near_oov = {k for j in oov for k in range(j - 5, j + 6)}
        for i, t in enumerate(toks):
            if i in covered or i not in near_oov:
                continue
            anchors: Iterable[str] = (t,)
            if i in oov and len(t) >= 5 and any(abs(i - h) <= 3 for h in heads):
                # one edit away from a rare word of a listed name ("Beihnag" -> "beihang")
                anchors = {w for v in (t, *_deletions(t)) for w in near.get(v, ())}
            for a in anchors:
                for ix, pos in block.get(a, ()):
                    s0 = i - pos
                    if s0 >= 0:
                        starts[ix].add(s0)
        if not starts:
            return ()
        threshold = self.fuzzy_threshold
        slack = 1.0 - threshold / 100.0
        cum = [0]
        for t in toks:
            cum.append(cum[-1] + len(t))
        fuzzy_names = self._fuzzy_names
        fuzzy_toks = self._fuzzy_toks
        best: dict[tuple[str, frozenset[str]], tuple[_Alias, int, int, float, str]] = {}
        for ix, svals in starts.items():
            atext, alias = fuzzy_names[ix]
            if not alias.key:
                continue
            atoks = fuzzy_toks[ix]
            m = len(atoks)
            alen = len(atext)
            top = (0.0, 0, 0, "")
            for s in svals:
                e = s + m
                if e > n:
                    continue
                wl = cum[e] - cum[s] + m - 1
                if abs(wl - alen) > slack * (wl + alen) + 0.5:
                    continue
                if covered and any(k in covered for k in range(s, e)):
                    continue
                if not _tokens_align(toks[s:e], atoks):
                    continue
                window = " ".join(toks[s:e])
                sc = fuzz.ratio(window, atext, score_cutoff=threshold)
                if sc > top[0]:
                    top = (sc, s, e, window)
            sc, s, e, window = top
            if sc < threshold or sc >= 100.0:
                continue
            if e < n and toks[e - 1] in _HEADS and toks[e] == "of":
                continue
            # a look-alike or another listed institution that reads as well wins
            rival = False
            for t in set(window.split()):
                for jx in self._block.get(t, ()):
                    otext, other = fuzzy_names[jx]
                    if other.key == alias.key or (otext == atext and other.key):
                        continue   # the same name printed under another key is no rival
                    if fuzz.ratio(window, otext) >= sc:
                        rival = True
                        break
                if rival:
                    break
            if rival:
                continue
            slot = (alias.key, alias.lists)
            if slot not in best or sc > best[slot][3]:
                best[slot] = (alias, s, e, sc, window)
        return tuple(best.values())

    def _parent_context(self, toks: list[str],
                        cands: list[tuple[int, int, int, int, _Alias, str]],
                        hits: list[_Hit]) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """Unlisted parents named in the string whose units are listed (context only)."""
        if not self._unit_of_parent:
            return ()
        tokset = set(toks)
        todo = [(par, keys) for par, keys in self._unit_of_parent.items()
                if all(t in tokset for t in par)]
        if not todo:
            return ()
        hit_keys = {h.key for h in hits}
        spans = [(c[0], c[1], c[2], c[3]) for c in cands]
        out = []
        for par, unit_keys in todo:
            if hit_keys & unit_keys:
                continue   # a listed unit of this parent is named: its match says so
            if any(tuple(_tokens(e.name)) == par for k in hit_keys
                   for e in self._entries.get(k, ())):
                continue   # the parent is listed itself and named
            plen = len(par)
            starts = [i for i in range(len(toks) - plen + 1) if tuple(toks[i:i + plen]) == par]
            # the parent must stand on its own, not inside a longer name (University of CAS)
            free = [i for i in starts
                    if not any(self._contains(sp, (i, i + plen, -1, -1)) for sp in spans)]
            if free:
                out.append((self._parents[par], tuple(sorted(unit_keys))))
        return tuple(out)

    # ------------------------------------------------------------------ matching

    def names_key(self, raw: str, key: str) -> bool:
        """Does ``raw`` name the institution ``key`` at all (any alias, any context)?"""
        scan = self._scan(raw)
        return key in scan.loose_keys or any(h.key == key for h in scan.hits)

    def match_raw(self, auth: Authorship, already: list[Match]) -> list[Match]:
        """Name and fuzzy matches for one authorship's raw affiliation strings.

        Parameters
        ----------
        auth : Authorship
        already : list of Match
            Matches found by identifier for this authorship.  Entries matched there (not
            context-only) are not repeated.

        Returns
        -------
        list of Match
            Method ``"name"`` or ``"fuzzy"``; ``institution`` is None when the tie rests on
            the raw string, or the OpenAlex institution whose *name* is a listed name when
            the registry has no identifier for it (e.g. an Entity List entry without ROR);
            ``detail`` says which alias, where, on what context, and whether OpenAlex's
            institution for that string agrees.
        """
        scan_of = self._scan
        cached = self._cache.get
        todo = [(r, sc) for r in auth.raw_affiliations
                if (sc := cached(r) or scan_of(r)).hits or sc.parents]
        insts = [(i, sc) for i in auth.institutions
                 if i.display_name and (sc := cached(i.display_name) or scan_of(
                     i.display_name)).hits]
        if not todo and not insts:
            return []   # the common case: nothing listed is named anywhere
        skip = {m.entry.entry_id for m in already if not m.context_only}
        by_id = {i.id: i for i in auth.institutions if i.id}
        aff = dict(auth.affiliations)
        single = len(auth.raw_affiliations) == 1
        found: dict[str, Match] = {}
        for raw, scan in todo:
            oa = [by_id[i] for i in aff.get(raw, ()) if i in by_id]
            if raw not in aff and single:
                oa = list(auth.institutions)
            oa_countries = {i.country_code for i in oa if i.country_code}
            for hit in scan.hits:
                for e in self._entries.get(hit.key, ()):
                    if e.entry_id in skip or (hit.lists and e.list not in hit.lists):
                        continue
                    m = self._judge(hit, e, raw, scan, oa, oa_countries, auth, single)
                    if m is None:
                        continue
                    prev = found.get(e.entry_id)
                    if prev is None or (not m.context_only, m.score) > (not prev.context_only,
                                                                        prev.score):
                        found[e.entry_id] = m
            for parent, unit_keys in scan.parents:
                m = self._parent_note(parent, unit_keys, raw, scan, oa_countries)
                if m is not None and m.entry.entry_id not in found:
                    found[m.entry.entry_id] = m
        # the names of the institutions OpenAlex attached: a listed name there is a tie
        # even when the registry has no identifier for the entry
        for inst, scan in insts:
            assert inst.display_name is not None
            cc = {inst.country_code} if inst.country_code else set()
            raw_of = next((r for r, ids in auth.affiliations if inst.id in ids), None)
            if raw_of is None and len(auth.raw_affiliations) == 1:
                raw_of = auth.raw_affiliations[0]
            for hit in scan.hits:
                if hit.method != "name":
                    continue
                for e in self._entries.get(hit.key, ()):
                    if (e.entry_id in skip or e.entry_id in found
                            or (hit.lists and e.list not in hit.lists)):
                        continue
                    m = self._judge(hit, e, inst.display_name, scan, [inst], cc, auth, True,
                                    institution=inst, raw_of=raw_of)
                    if m is not None:
                        found[e.entry_id] = m
        return list(found.values())

    def _judge(self, hit: _Hit, e: ListEntry, raw: str, scan: _Scan,
               oa: list[InstitutionRef], oa_countries: set[str], auth: Authorship,
               single: bool, *, institution: InstitutionRef | None = None,
               raw_of: str | None = None) -> Match | None:
        ok = _CN_COMPAT.get(e.country or "", frozenset({e.country})) if e.country else None
        weak = hit.kind in ("acronym", "generic", "weak") or hit.method == "fuzzy"
        context: list[str] = []
        # a qualified name is another entity: "X (UK) Co., Ltd." is not X, a branch not its
        # company (the qualified entity, where listed, is found under its own name)
        if hit.qualifier == "branch" or (hit.qualifier and e.country
                                         and hit.qualifier != e.country):
            return None
        # country conflict: the string (or, for weak names, OpenAlex) points elsewhere
        if ok is not None and hit.unit is None:
            if scan.countries and not (scan.countries & ok):
                return None
            if weak and not scan.countries:
                other = oa_countries or (set(auth.countries) if single else set())
                if other and not (other & ok):
                    return None
        weak_kind = hit.kind in ("acronym", "generic", "weak")
        place = self._place_named(e, raw) if weak_kind else None
        if place is not None:
            context.append(f"{place.kind} {place.name} named in the string (the "
                           f"{place.list} address of the entry)")
        if weak_kind and not hit.parent_found:
            if ok is not None and scan.countries & ok:
                context.append(f"country {e.country} named in the string")
            elif place is not None:
                pass   # the city (or region) of the entry's own address supports it
            elif ok is None:
                return None
            elif oa_countries & ok:
                context.append(f"country {e.country} of the institution OpenAlex attached "
                               "to the string")
            elif set(auth.countries) & ok:
                context.append(f"country {e.country} in the authorship's countries")
            else:
                return None
        if hit.parent_found:
            context.append(f"parent '{hit.parent_found}' named in the same string")
        what = {"acronym": "acronym", "generic": "generic alias", "weak": "ambiguous name",
                "zh": "Chinese name", "name": "name"}.get(hit.kind, "name")
        if hit.method == "fuzzy":
            head = f"'{hit.alias}' ({e.list} entry '{e.name}') found {hit.form}"
        else:
            head = f"{what} '{hit.alias}' ({e.list} entry '{e.name}') found {hit.form}"
        if institution is None:
            parts = [head + f" in the raw affiliation '{_short(raw)}'"]
        else:
            parts = [head + f" in the name of the institution OpenAlex attached, "
                     f"'{_label(institution)}'"]
        if context:
            label = "supported by " if hit.kind in ("acronym", "generic", "weak") else ""
            parts.append(label + "; ".join(context))
        context_only = False
        score = hit.score
        if hit.unit is not None:
            u = hit.unit
            src = f" ({u.basis}; {u.source})" if u.basis or u.source else ""
            if e.covers_subunits:
                parts.append(f"it is part of '{u.name}', a unit of the listed institution"
                             f"{src}; this entry covers subordinate units")
            else:
                parts.append(f"it is part of '{u.name}', a unit of the listed institution"
                             f"{src}; this entry does not say it covers units: context only")
                context_only = True
                score = 0.0
        support = "; ".join(context)
        if institution is None:
            note, agreement = self._openalex_note(e, oa, raw, auth)
            parts.append(note)
            return Match(e, hit.method, score, "; ".join(p for p in parts if p), None, raw,
                         context_only=context_only,
                         attached=tuple(oa) if oa else tuple(auth.institutions),
                         agreement=agreement, support=support, alias=hit.alias)
        ids = ", ".join(x for x in (institution.id, institution.ror) if x)
        parts.append(f"the registry holds no identifier for this entry matching {ids}: the "
                     "tie rests on the institution's name")
        agreement = ""
        if raw_of:
            if self.names_key(raw_of, e.institution_key or e.entry_id):
                agreement = "agree"
            else:
                agreement = "disagree"
                parts.append(f"the raw affiliation '{_short(raw_of)}' does not name "
                             f"'{e.name}': OpenAlex's institution and the raw string disagree")
                if _acronym_like(raw_of.strip(), _tokens(raw_of)):
                    # OpenAlex read the institution from a bare acronym: no more evidence
                    # than the acronym itself, which is never a flag on its own
                    parts.append("OpenAlex attached it to a bare acronym: context only")
                    context_only = True
                    score = 0.0
        return Match(e, hit.method, min(score, 0.95), "; ".join(p for p in parts if p),
                     institution, raw_of, context_only=context_only, attached=(institution,),
                     agreement=agreement, support=support, alias=hit.alias)

    def _place_named(self, e: ListEntry, raw: str) -> Place | None:
        """The first place of the entry's addresses that the string names, or None."""
        places = self._places.get(e.institution_key or e.entry_id)
        if not places or not raw:
            return None
        toks = self._toks(raw)
        for pl in places:
            pt = pl.tokens
            k = len(pt)
            if k and any(tuple(toks[i:i + k]) == pt for i in range(len(toks) - k + 1)):
                return pl
        return None

    def _openalex_note(self, e: ListEntry, oa: list[InstitutionRef], raw: str,
                       auth: Authorship) -> tuple[str, str]:
        """What OpenAlex attached to the string, in words, and ``agree`` / ``partial``
        (OpenAlex attached other institutions the string also names) / ``disagree`` /
        ``none attached``."""
        if not oa:
            if auth.institutions:
                return ("OpenAlex attached no institution to this string (it attached "
                        + ", ".join(_label(i) for i in auth.institutions)
                        + " to the authorship): the tie rests on the raw string",
                        "none attached")
            return ("OpenAlex attached no institution to this string: raw-string-only tie",
                    "none attached")
        ids = set(e.openalex_ids)
        key = e.institution_key or e.entry_id
        same = [i for i in oa if i.display_name and any(
            h.key == key for h in self._scan(i.display_name).hits)]
        if same:
            return ("OpenAlex attached " + ", ".join(_label(i) for i in same)
                    + ", whose name is this entry's name; the entry holds no identifier "
                    "matching it, so the tie rests on the name (OpenAlex and the raw string "
                    "agree)", "agree")
        parents = self._parents_of(e)
        above = [i for i in oa if i.display_name and self._toks(i.display_name) in parents]
        if above:
            return ("OpenAlex attached " + ", ".join(_label(i) for i in above)
                    + f", the parent institution named in '{e.name}', not the listed unit the "
                    "string names: OpenAlex resolved the string only to the parent", "partial")
        under = [i for i in oa if ids & set(i.lineage)]
        if under:
            return ("OpenAlex attached " + ", ".join(_label(i) for i in under)
                    + ", which sits under the listed institution; the string names the "
                    "institution itself", "agree")
        text = f" {' '.join(self._toks(raw))} "
        named = [i for i in oa if i.display_name
                 and len(norm := " ".join(self._toks(i.display_name))) >= 4
                 and f" {norm} " in text]
        if named:
            return ("OpenAlex attached " + ", ".join(_label(i) for i in oa)
                    + f" to this string, not '{e.name}'; the string names several "
                    "institutions (" + ", ".join(repr(i.display_name) for i in named)
                    + " too) and OpenAlex attached nothing for this one", "partial")
        return ("OpenAlex attached " + ", ".join(_label(i) for i in oa)
                + f" to this string, not '{e.name}': OpenAlex's institution and the raw "
                "string disagree", "disagree")

    def _parent_note(self, parent: str, unit_keys: tuple[str, ...], raw: str, scan: _Scan,
                     oa_countries: set[str]) -> Match | None:
        units = [e for k in unit_keys for e in self._entries.get(k, ())]
        if not units:
            return None
        units.sort(key=lambda e: (not e.is_designation, e.entry_id))
        rep = units[0]
        if rep.country and scan.countries and not (scan.countries & {rep.country, "HK", "MO"}):
            return None
        per_key: dict[str, str] = {}
        for e in units:
            per_key.setdefault(e.institution_key or e.entry_id, e.name)
        shown = sorted(per_key.values())[:3]
        more = f" and {len(per_key) - len(shown)} more" if len(per_key) > len(shown) else ""
        detail = (f"the raw affiliation '{_short(raw)}' names '{parent}', which is not listed "
                  f"itself; some of its units are listed ({', '.join(repr(x) for x in shown)}"
                  f"{more}; e.g. on {rep.list}), but the string does not name a listed unit: "
                  f"context only, not a flag on '{parent}'")
        return Match(rep, "name", 0.0, detail, None, raw, context_only=True)

    def review_identifier_matches(self, auth: Authorship,
                                  matches: Sequence[Match]) -> list[Match]:
        """Say so in the detail when OpenAlex attached a listed institution that the raw
        string does not name.

        Identifier matches (``openalex_id``, ``ror``) are returned with a note appended
        when none of the authorship's raw strings (the one OpenAlex matched the
        institution from, where known) names the entry under any alias; everything else
        is returned unchanged.
        """
        if not auth.raw_affiliations:
            return list(matches)
        out: list[Match] = []
        for m in matches:
            if m.method not in ("openalex_id", "ror") or m.context_only:
                out.append(m)
                continue
            key = m.entry.institution_key or m.entry.entry_id
            raws = [m.raw_affiliation] if m.raw_affiliation else list(auth.raw_affiliations)
            if key not in self._entries:
                out.append(m)
                continue
            if any(self.names_key(r, key) for r in raws):
                out.append(replace(m, agreement="agree"))
                continue
            where = f"'{_short(raws[0])}'" if len(raws) == 1 else "the raw affiliation strings"
            note = (f"; {where} does not name '{m.entry.name}' or any of its aliases: "
                    "OpenAlex's institution and the raw string disagree (check the record)")
            out.append(replace(m, detail=m.detail + note, agreement="disagree"))
        return out


def _walk_trie(trie: _Trie, toks: Sequence[str],
               append: Callable[[_Cand], None]) -> None:
    """Every name of ``trie`` found in ``toks`` (token positions ``[i, k)``), as exact
    candidates passed to ``append``."""
    n = len(toks)
    trie_get = trie.get
    for i in range(n):
        node = trie_get(toks[i])
        k = i
        while node is not None:
            k += 1
            term = node.get(_TERM)
            if term:
                for a in term:
                    append((i, k, -1, -1, a, "exact"))
            if k >= n:
                break
            node = node.get(toks[k])
