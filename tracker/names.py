"""Find listed institutions named in raw affiliation strings, and say why.

OpenAlex does not resolve every affiliation: some strings get no institution, some get
the wrong one.  :class:`NameMatcher` reads the raw strings of an authorship and finds the
names and aliases (English, Chinese, other scripts) of listed institutions in them.
Every :class:`~tracker.matching.Match` it returns carries a ``detail`` that says which
alias was found, in which string, what context supported it, and whether OpenAlex's own
institution for that string agrees.

How a string is read (in this order):

1. **Normalise**: Unicode NFKC, casefold, accents dropped, apostrophes joined
   (``Xi'an`` → ``xian``), ``&`` → ``and``, punctuation → space, common abbreviations
   expanded (``Univ.`` → ``university``, ``Inst.`` → ``institute``, ``Technol`` →
   ``technology``, ``Sci.`` → ``science``, ``Natl`` → ``national`` ...; see
   :data:`ABBREVIATIONS`).  Chinese runs are kept as their own tokens.
2. **Exact names** (method ``"name"``): every alias is a token sequence in a trie; a
   walk from each token finds all aliases in one pass (Aho–Corasick-like, token
   boundaries only).  Aliases are also matched with the small words dropped (``of``,
   ``the``, ``and`` ...), so that ``Harbin Inst Technol`` is found, but only inside one
   comma-separated part of the string and only where the string itself drops them.
   Chinese names are found as substrings of Chinese runs.
3. **Longest match wins**: an alias found inside a longer name of a *different*
   institution at the same place is dropped: another listed institution (``Beijing
   University`` inside ``Beijing University of Posts and Telecommunications``) or a
   known look-alike (``tracker/data/lookalikes.csv``: ``Nanjing University of
   Information Science and Technology``).  A name followed by ``of ...`` is the head of
   a longer name (``Sichuan University of Science & Engineering``) and is dropped too.
   When the longer name is a *unit* of the listed institution (a campus, hospital,
   college or lab that ROR or OpenAlex records under it), the entry counts only where
   it says it covers subordinate units (``covers_subunits``); otherwise the match is
   ``context_only``.
4. **Generic aliases never match on their own**: acronyms (``HIT``, ``ICT``, ``BIT``,
   any alias of at most 4 letters, all-capital aliases), the entry's
   ``generic_aliases`` (``Institute of Physics``), phrases that start like a unit
   (``Institute of ...``, ``State Key Laboratory of ...``), Chinese names shorter than 4
   characters, and names that another institution in another country also carries
   (``Northeastern University``).  They need context: the parent's name in the same
   string (``Chinese Academy of Sciences`` / ``CAS`` for ``ICT``) or the entry's
   country (named in the string, or in the authorship's ``countries``); acronyms must
   also stand alone as one comma-separated part, in capitals.  The detail says which
   context supported the match.
5. **Country**: a name is dropped when the string names only other countries
   (``Northeastern University, Boston, MA, USA`` is not the listed Chinese university).
6. **Fuzzy** (method ``"fuzzy"``, rapidfuzz ``ratio``): only for full names (never
   generic aliases), only in a comma-separated part that holds a word no listed name
   uses and names a kind of organisation (``University``, ``Institute``, or a misspelling
   of one), and only against names that share a rare word (or a word one letter away
   from one) with that part: blocking first, then a token-by-token alignment, then the
   score 0–100 against ``fuzzy_threshold``.  A look-alike or another listed institution
   that scores as high wins.
7. **Units of unlisted parents**: a string naming a parent that is not listed itself
   (``Chinese Academy of Sciences``) but whose units are (its Institute of Computing
   Technology) gets one ``context_only`` match that says so; it is never a flag on the
   parent.
8. **Names of attached institutions**: the display name of an institution OpenAlex
   attached is read the same way (exact names only), so that an entry without an
   identifier in the registry (``BGI Group``) is still tied to ``BGI Group (China)``.

OpenAlex and the raw string: a name match says whether OpenAlex attached nothing to the
string (a raw-string-only tie), attached the same institution under its name, or
attached another institution (they disagree).  :meth:`NameMatcher.review_identifier_matches`
(called by :class:`~tracker.matching.Matcher`) adds a note to an identifier tie when the
raw string does not name the institution under any alias.

Results are cached per distinct raw string, per distinct normalised reading (strings that
differ only in case, punctuation or abbreviations) and, for the fuzzy step, per
comma-separated part.  Only raw affiliation strings, the institutions OpenAlex attached
and the authorship's countries are read: no person's name is ever an input, and list
entries that read as a person's name (the Entity List names individuals) are left out of
name matching (:attr:`NameMatcher.excluded` says which and why).
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import pickle
import re
import tempfile
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz

from tracker.matching import Match
from tracker.records import Authorship, InstitutionRef
from tracker.watchlists import ListEntry, Registry

__all__ = [
    "ABBREVIATIONS",
    "DEFAULT_FUZZY_THRESHOLD",
    "QUALIFIER_PLACES",
    "Lookalike",
    "LookalikeError",
    "NameMatcher",
    "cached_name_matcher",
    "load_country_names",
    "load_lookalikes",
    "normalize",
]

DEFAULT_FUZZY_THRESHOLD = 92.0

#: Token-level abbreviation expansions (applied after punctuation is stripped), plus a
#: few spelling unifications (``centre`` → ``center``) and ``sciences`` → ``science`` so
#: that "Chinese Acad. Sci." meets "Chinese Academy of Sciences".
ABBREVIATIONS: dict[str, str] = {
    "univ": "university", "universitv": "university", "uni": "university",
    "inst": "institute", "instit": "institute", "institue": "institute",
    "tech": "technology", "technol": "technology", "technologies": "technology",
    "sci": "science", "sciences": "science",
    "natl": "national", "nat": "national",
    "acad": "academy", "lab": "laboratory", "labs": "laboratory",
    "laboratories": "laboratory", "dept": "department", "coll": "college",
    "ctr": "center", "centre": "center", "engn": "engineering", "eng": "engineering",
    "polytech": "polytechnic", "aeronaut": "aeronautics", "astronaut": "astronautics",
    "def": "defense", "defence": "defense", "elect": "electronic", "phys": "physics",
    "med": "medical", "mil": "military", "res": "research", "hosp": "hospital",
    "corp": "corporation", "co": "company", "ltd": "limited", "grp": "group",
    "programme": "program", "organisation": "organization", "peoples": "people",
}

# Small words dropped in the abbreviated ("Harbin Inst Technol") reading.
_STOP = frozenset({"of", "the", "and", "for", "at", "in", "on"})
# A name followed by "of" and another word is the head of a longer name.
_HEADS = frozenset({"university", "institute", "college", "academy", "polytechnic",
                    "school", "conservatory"})
# Fuzzy matching only for names that say what kind of organisation they are.
_FUZZY_HEADS = frozenset({"university", "institute", "college", "academy", "polytechnic",
                          "school", "laboratory", "center", "corporation", "company", "group",
                          "limited", "hospital", "bureau", "factory", "technology",
                          "universite", "universidad", "universitat"})
_HEAD_PREFIXES = frozenset(h[:2] for h in _FUZZY_HEADS)
# Aliases starting with these words name a unit of something; they need context.
_UNIT_START = frozenset({"institute", "school", "college", "department", "laboratory",
                         "center", "key", "state", "research", "academy", "faculty",
                         "division", "office", "graduate", "engineering", "technology"})
# Descriptive words: a short alias made only of these (and country names) is generic
# ("Advanced Technologies", "Institute of Physics", "National University").
_COMMON = frozenset({
    "academy", "advanced", "aero", "aerospace", "aircraft", "alliance", "analytics", "applied",
    "associates", "association", "automation", "aviation", "biological", "biology",
    "biotechnology", "building", "bureau", "business", "capital", "center", "central", "chemical",
    "chemistry", "cloud", "college", "commercial", "communication", "communications", "company",
    "computer", "computing", "construction", "consultants", "consulting", "control", "corporation",
    "council", "data", "defense", "department", "design", "development", "digital", "division",
    "dynamics", "economic", "economics", "electrical", "electronic", "electronics", "energy",
    "engineering", "engineers", "enterprise", "enterprises", "equipment", "export", "faculty",
    "federal", "foundation", "future", "general", "global", "group", "health", "high", "holding",
    "holdings", "imaging", "import", "industrial", "industries", "industry", "information",
    "innovation", "innovative", "institute", "institutes", "instruments", "integrated",
    "intelligence", "intelligent", "international", "investment", "investments", "joint", "key",
    "laboratory", "laser", "limited", "logistics", "machinery", "management", "manufacturing",
    "marine", "material", "materials", "mechanical", "medical", "medicine", "metals",
    "microelectronics", "microsystems", "military", "mining", "ministry", "missile", "modern",
    "national", "network", "networks", "new", "nuclear", "ocean", "office", "oil", "optics",
    "partners", "people", "petroleum", "photonics", "physical", "physics", "polytechnic",
    "polytechnical", "power", "precision", "production", "products", "quantum", "radio",
    "republic", "research", "resources", "robotics", "school", "science", "scientific", "security",
    "semiconductor", "sensing", "service", "services", "shipping", "smart", "society", "software",
    "solutions", "space", "state", "supplies", "supply", "system", "systems", "technical",
    "technology", "telecom", "telecommunications", "trade", "trading", "transport", "union",
    "united", "university", "ventures", "vision", "weapons", "works"
})
# Words that show the string names another organisation (for generic phrases).
_OTHER_ORG = frozenset({"university", "college", "academy", "hospital", "corporation",
                        "company", "limited", "inc", "gmbh", "universidad", "universite",
                        "universitat", "universita", "universidade", "hochschule"})
_LEGAL = ("company limited", "co limited", "company ltd", "co ltd", "limited", "ltd",
          "inc", "llc", "jsc", "pjsc", "ojsc", "cjsc", "gmbh", "plc", "sa", "ag", "bv")
_ORG_WORDS = re.compile(
    r"(?i)(univ|institut|academ|college|school|lab|cent(er|re)|hospital|company|\bco\b|"
    r"ltd|limited|llc|inc\b|corp|group|bureau|factory|plant|ministry|enterprise|"
    r"trad|technolog|industr|electron|gmbh|fz|llp|sdn|bhd|ooo|\bao\b|jsc|zao|oao|"
    r"department|agency|office|organi[sz]ation|service|system|engineer|international|"
    r"holding|import|export|shipping|logistic|aviation|aero|defen[cs]e|research|design|"
    r"works|port|bank|force|army|navy|military|station|base|project|program|foundation|"
    r"association|council|committee|fund|partner|solution|global|general|network|team|"
    r"airline|air|motor|consult|supply|supplies|marine|energy|oil|gas|chemical|steel|"
    r"petro|telecom|communication|commun|media|press|capital|invest|venture|store|"
    r"shop|express|machin|equipment|instrument|optic|nuclear|space|satellite|power|"
    r"metal|mining|construct|build|develop|science|scientific|medical|health|pharm|"
    r"bio|gene|tech|soft|data|digital|cyber|intelligence|security|police|guard|"
    r"school|plc|s\.?a\.?\b|ag\b|sarl|srl|spa\b|kft|a\.?s\.?\b|as\b|ab\b|oy\b|sirketi|"
    r"ticaret|sanayi|pvt|private|public|joint|stock|branch|complex|establishment|"
    r"office|house|firm|line|link|trust|tower|plaza|building|road|street|city|"
    r"manufactur|shipyard|cloud|alloy|huawei|micro|nano|circuit|sons\b|makina|\btec\b|"
    r"rostekh|azimuth|"
    r"province|district|region|republic|state|national|federal|central|scientific)")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_NON_WORD = re.compile(r"[\W_]+")
_APOS = re.compile(r"['’`´ʼ]")
_PAREN = re.compile(r"\s*[(\[（【]([^)\]）】]*)[)\]）】]")
_SEG_SPLIT = re.compile(r"[,;:()\[\]{}|/\\（）【】，；]|\s[-–—]\s|#tab#", re.IGNORECASE)
_COMPOSITE = re.compile(r"\s*(?:,|\s[-–—]\s|[–—])\s*")
_CN_COMPAT = {"CN": frozenset({"CN", "HK", "MO"})}


class LookalikeError(ValueError):
    """The look-alike or country table cannot be read.  Name matching would then drop its
    hard-negative guard, so the matcher refuses to start."""


#: Place qualifiers the country table does not hold (ISO 3166-1 names and codes): a
#: "(HK)" or "(Hong Kong)" after a company name makes it another legal entity.
QUALIFIER_PLACES: dict[str, str] = {
    "hk": "HK", "h k": "HK", "hong kong": "HK", "hongkong": "HK", "macau": "MO",
    "macao": "MO", "bvi": "VG", "british virgin islands": "VG", "uk": "GB",
}
#: Words of a legal form, after normalisation: a place between a name and one of these
#: ("X (UK) Co., Ltd.") names a subsidiary, not X.
_LEGAL_WORDS = frozenset({"company", "limited", "corporation", "inc", "incorporated", "llc",
                          "ab", "gmbh", "pty", "pvt", "private", "plc", "ag", "bv", "oy",
                          "as", "sa", "srl", "kk", "ooo", "jsc", "pjsc"})


@cache
def _places() -> dict[str, str]:
    """Normalised place name → ISO code: the bundled country table plus
    :data:`QUALIFIER_PLACES`."""
    return {**load_country_names(), **QUALIFIER_PLACES}


def _is_qualifier(inner: str) -> bool:
    """A parenthesis that qualifies a name (a country, a branch, a campus): part of the
    name, never dropped ("X (UK) Co., Ltd." is not "X Co., Ltd.")."""
    words = normalize(inner)
    return words in _places() or bool(re.search(r"\b(branch|campus)\b", words))


def _drop_parens(text: str) -> str:
    """Drop parentheses that hold an acronym or a note ("(NUDT)", "(See alternate address
    under ...)"); keep the words of any other parenthesis, and always those of a
    qualifier ("(UK)", "(Hong Kong)", "(Sweden)", "(Beijing Branch)")."""
    def repl(m: re.Match[str]) -> str:
        inner = m.group(1).strip()
        letters = re.sub(r"[\W_]", "", inner)
        if _is_qualifier(inner):
            return " " + inner
        if (letters.isupper() and len(letters) <= 10) or re.match(
                r"(?i)(see |a\.?k\.?a|formerly|china|group|pvt|private)", inner) or not letters:
            return ""
        return " " + inner
    return " ".join(_PAREN.sub(repl, text).split())


_MARKS = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")


def _strip_marks(text: str) -> str:
    """Drop accents: decompose, remove combining marks (é → e, ā → a)."""
    return _MARKS.sub("", unicodedata.normalize("NFKD", text))


def _tokens(text: str) -> list[str]:
    """Normalised tokens of one piece of text (see :func:`normalize`)."""
    t = unicodedata.normalize("NFKC", text).casefold()
    if not t.isascii():
        t = unicodedata.normalize("NFKC", _strip_marks(t))
    t = _APOS.sub("", t).replace("&", " and ")
    t = _CJK.sub(lambda m: f" {m.group(0)} ", t)
    out: list[str] = []
    for tok in _NON_WORD.sub(" ", t).split():
        out.append(ABBREVIATIONS.get(tok, tok))
    return out


def normalize(text: str) -> str:
    """Normalise an affiliation string or a name for matching.

    Parameters
    ----------
    text : str

    Returns
    -------
    str
        Lower-case tokens separated by single spaces.

    Examples
    --------
    >>> normalize("Harbin Inst. of Tech. & Sci., Natl Univ.")
    'harbin institute of technology and science national university'
    >>> normalize("Xi’an Jiaotong Univ")
    'xian jiaotong university'
    >>> normalize("Hāěrbīn Gōngchéng Dàxué")
    'haerbin gongcheng daxue'
    >>> normalize("哈尔滨工业大学（深圳）")
    '哈尔滨工业大学 深圳'
    """
    return " ".join(_tokens(text))


_SEG_MARK = "\ue000"   # a private-use character: not a word, not whitespace
_NON_WORD_SEG = re.compile(r"[^\w\ue000]+|_")


_SEG_CHARS = ",;:()[]{}|/\\（）【】，；"
_SEG_TABLE = str.maketrans({
    **{c: f" {_SEG_MARK} " for c in _SEG_CHARS},
    **{c: "" for c in "'’‘`´ʼ"}, "&": " and "})
# pure-ASCII text: words, part separators and "&" in one C-level pass
_ASCII_WORDS = re.compile(r"[a-z0-9]+|[,;:()\[\]{}|/\\&]")
_SEG_WORDS = frozenset([_SEG_MARK, "&", *(c for c in _SEG_CHARS if c.isascii())])
_SEG_MULTI = re.compile(r"\s[-–—]\s|#tab#", re.IGNORECASE)


def _seg_tokens(text: str) -> tuple[list[str], list[int]]:
    """Normalised tokens of a whole raw string, and the comma-separated part of each.

    Produces the same tokens as :func:`normalize` (plus where the parts begin).
    """
    t = text.casefold()
    if "#" in t or " -" in t or " –" in t or " —" in t:
        t = _SEG_MULTI.sub(" , ", t)
    if t.isascii():
        words = _ASCII_WORDS.findall(t.replace("'", "").replace("`", ""))
    else:
        t = unicodedata.normalize("NFKC", _strip_marks(t))
        t = _CJK.sub(lambda m: f" {m.group(0)} ", t)
        words = _NON_WORD_SEG.sub(" ", t.translate(_SEG_TABLE)).split()
    toks: list[str] = []
    seg: list[int] = []
    si = 0
    get = ABBREVIATIONS.get
    for tok in words:
        if tok in _SEG_WORDS:
            if tok == "&":
                toks.append("and")
                seg.append(si)
            else:
                si += 1
            continue
        toks.append(get(tok, tok))
        seg.append(si)
    return toks, seg


def _segment_in_capitals(text: str, si: int) -> bool:
    parts = _SEG_SPLIT.split(text)
    if si >= len(parts):
        return False
    letters = re.sub(r"[\W\d_]", "", parts[si])
    return bool(letters) and letters.isupper()


def _is_cjk(token: str) -> bool:
    return bool(_CJK.fullmatch(token))


# --------------------------------------------------------------------------- data tables

@dataclass(frozen=True, slots=True)
class Lookalike:
    """A name that contains, or equals, a listed name but is not that listed institution.

    ``relation`` is ``"distinct"`` (another institution: drop the listed name found inside
    it), ``"unit"`` (a unit, campus, college or affiliated hospital of the listed
    institution ``related_key``: it counts only where the entry covers subordinate units)
    or ``"same_name"`` (another institution with exactly the listed name, in ``country``:
    the listed name then needs country context).  ``source`` cites where the name comes
    from.
    """

    name: str
    relation: str
    related_key: str
    related_name: str = ""
    country: str | None = None
    source: str = ""
    basis: str = ""

    def __reduce__(self) -> tuple[Any, ...]:
        return (Lookalike, (self.name, self.relation, self.related_key, self.related_name,
                            self.country, self.source, self.basis))


def _read_data_csv(path: str | Path | None, default: str) -> list[dict[str, str]]:
    try:
        if path is None:
            text = resources.files("tracker").joinpath(f"data/{default}").read_text("utf-8")
        else:
            text = Path(path).read_text("utf-8")
    except OSError as exc:
        raise LookalikeError(f"cannot read {path or default}: {exc}") from exc
    return list(csv.DictReader(io.StringIO(text)))


def load_lookalikes(path: str | Path | None = None) -> tuple[Lookalike, ...]:
    """Load the look-alike table (bundled ``tracker/data/lookalikes.csv`` by default).

    Raises
    ------
    LookalikeError
        The file is missing or a row has an unknown relation.

    Examples
    --------
    >>> rows = load_lookalikes()
    >>> any(r.name == "Xiamen University Malaysia" and r.relation == "unit" for r in rows)
    True
    """
    out = []
    for i, row in enumerate(_read_data_csv(path, "lookalikes.csv"), start=2):
        rel = (row.get("relation") or "").strip()
        if rel not in ("distinct", "unit", "same_name"):
            raise LookalikeError(f"lookalikes.csv line {i}: unknown relation {rel!r}")
        out.append(Lookalike(
            name=row["name"].strip(), relation=rel, related_key=row["related_key"].strip(),
            related_name=(row.get("related_name") or "").strip(),
            country=(row.get("country") or "").strip().upper() or None,
            source=(row.get("source") or "").strip(), basis=(row.get("basis") or "").strip(),
        ))
    return tuple(out)


def load_country_names(path: str | Path | None = None) -> dict[str, str]:
    """Country names as written in affiliations → ISO 3166-1 alpha-2 code.

    Bundled table: ``tracker/data/country_names.csv`` (each row cites its source).

    Examples
    --------
    >>> names = load_country_names()
    >>> names["pr china"], names["usa"]
    ('CN', 'US')
    """
    out: dict[str, str] = {}
    for row in _read_data_csv(path, "country_names.csv"):
        key = normalize(row["name"])
        if key:
            out[key] = row["code"].strip().upper()
    return out


# --------------------------------------------------------------------------- internals

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


def _acronym_like(text: str, tokens: Sequence[str]) -> bool:
    if len(tokens) != 1 or _is_cjk(tokens[0]):
        return False
    letters = re.sub(r"[\W_]", "", text)
    if len(letters) <= 4:
        return True
    return letters.isupper() and len(letters) <= 8


def _without_legal_suffix(tokens: list[str]) -> list[str]:
    text = " ".join(tokens)
    for suf in _LEGAL:
        if text.endswith(" " + suf):
            return text[: -len(suf) - 1].split()
    return tokens


def _initialism(tokens: Sequence[str]) -> str:
    return "".join(t[0] for t in tokens if t not in _STOP)


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

        def add(text: str, toks: list[str], kind: str, sup: tuple[tuple[str, ...], ...]) -> None:
            if not toks or len("".join(toks)) < 2:
                return
            if (tuple(toks), kind, lists) in done:
                return
            done.add((tuple(toks), kind, lists))
            head = toks[0] in _UNIT_START
            content = [t for t in toks if t not in _STOP]
            if kind == "name" and (head or (len(content) <= 3 and all(
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
            # composite "Parent, Unit" / "Unit, Parent": the unit part needs the parent
            parts = [p for p in _COMPOSITE.split(base) if p.strip()]
            if len(parts) == 2:
                p0, p1 = (tuple(_tokens(p)) for p in parts)
                for par, unit in ((p0, p1), (p1, p0)):
                    if par in self._parents and len(unit) >= 2:
                        usup = (par, (_initialism(par),))
                        self._unit_of_parent[par].add(key)
                        add(f"{' '.join(unit)} ({self._parents[par]})", list(unit),
                            "generic", usup)
                        add(base, list(unit) + list(par), "name", support)
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
        text = unicodedata.normalize("NFKC", raw)
        toks, seg = _seg_tokens(text)
        tkey = (" ".join(toks), tuple(seg))
        got = self._token_cache.get(tkey)
        if got is None or got.case_sensitive:
            got = self._scan_tokens(text, toks, seg)
            self._token_cache[tkey] = got
        self._cache[raw] = got
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
        trie_get = self._trie_cross.get   # names printed across parts
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
        trie_get = self._trie.get
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
        if hit.kind in ("acronym", "generic", "weak") and not hit.parent_found:
            if ok is None:
                return None
            if scan.countries & ok:
                context.append(f"country {e.country} named in the string")
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
        return Match(e, hit.method, min(score, 0.95), "; ".join(p for p in parts if p),
                     institution, raw_of, context_only=context_only, attached=(institution,),
                     agreement=agreement, support=support, alias=hit.alias)

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
        parents = {p for n in (e.name, *e.aliases) for p in self._parent_phrases(_tokens(n))}
        above = [i for i in oa if i.display_name and tuple(_tokens(i.display_name)) in parents]
        if above:
            return ("OpenAlex attached " + ", ".join(_label(i) for i in above)
                    + f", the parent institution named in '{e.name}', not the listed unit the "
                    "string names: OpenAlex resolved the string only to the parent", "partial")
        under = [i for i in oa if ids & set(i.lineage)]
        if under:
            return ("OpenAlex attached " + ", ".join(_label(i) for i in under)
                    + ", which sits under the listed institution; the string names the "
                    "institution itself", "agree")
        text = f" {normalize(raw)} "
        named = [i for i in oa if i.display_name and len(normalize(i.display_name)) >= 4
                 and f" {normalize(i.display_name)} " in text]
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


_CACHE_MAGIC = b"tracker-name-matcher-v3\n"   # v3: aliases carry their lists, hits qualifiers


def _default_cache_dir() -> Path:
    home = os.environ.get("TRACKER_HOME")
    base = Path(home) if home else Path.home() / ".local" / "share" / "tracker"
    return base / "cache"


def cached_name_matcher(registry: Registry, *,
                        fuzzy_threshold: float = DEFAULT_FUZZY_THRESHOLD,
                        cache_dir: str | Path | None = None) -> NameMatcher:
    """A :class:`NameMatcher` for ``registry``, loaded from a cache when one was built before.

    The cache file is named by a SHA-256 of everything the built matcher depends on: the
    registry's entries, the shipped look-alike and country-name tables, the threshold and the
    source of this module.  Any change makes a new key, so a stale matcher is never used.  A
    file that cannot be read back (truncated, corrupt, another Python) is rebuilt and
    replaced, never trusted.  If the cache folder cannot be written, the matcher is built
    and returned anyway.  The file is a pickle: keep the cache folder writable by you alone
    (the default under your home is), since whoever can write there can run code here.

    Parameters
    ----------
    registry : Registry
    fuzzy_threshold : float
    cache_dir : path, optional
        Default ``$TRACKER_HOME/cache`` (``~/.local/share/tracker/cache``).

    Returns
    -------
    NameMatcher
        Equal in behaviour to ``NameMatcher(registry, fuzzy_threshold=fuzzy_threshold)``.

    Examples
    --------
    >>> import tempfile
    >>> from tracker.watchlists import load_registry
    >>> reg = load_registry()
    >>> with tempfile.TemporaryDirectory() as d:
    ...     a = cached_name_matcher(reg, cache_dir=d)   # builds and stores
    ...     b = cached_name_matcher(reg, cache_dir=d)   # loads
    >>> a.excluded == b.excluded and b.registry is reg
    True
    """
    lookalikes = tuple(load_lookalikes())
    countries = load_country_names()
    h = hashlib.sha256(_CACHE_MAGIC)
    h.update(Path(__file__).read_bytes())
    h.update(pickle.dumps((registry.version, tuple(registry.entries), lookalikes,
                           sorted(countries.items()), float(fuzzy_threshold)), protocol=5))
    folder = Path(cache_dir) if cache_dir is not None else _default_cache_dir()
    path = folder / f"name_matcher_{h.hexdigest()[:32]}.pickle"
    digest = h.digest()
    try:
        data = path.read_bytes()
    except OSError:
        data = b""
    by_id = {e.entry_id: e for e in registry.entries}
    if data[:len(_CACHE_MAGIC) + 32] == _CACHE_MAGIC + digest:
        got = _thaw(data[len(_CACHE_MAGIC) + 32:], registry, by_id)
        if got is not None:
            return got
    nm = NameMatcher(registry, fuzzy_threshold=fuzzy_threshold, lookalikes=lookalikes,
                     country_names=countries)
    if len(by_id) != len(registry.entries):
        return nm   # entries told apart only by identity: not cached
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, delete=False, suffix=".tmp") as fh:
            fh.write(_CACHE_MAGIC + digest + _freeze(nm))
        os.replace(fh.name, path)   # atomic: a reader never sees a half-written file
    except OSError:
        pass
    return nm


def _freeze(nm: NameMatcher) -> bytes:
    """The matcher's state without the registry: entries are stored by ``entry_id``."""
    state = dict(vars(nm))
    state["registry"] = None
    state["_entries"] = {k: [e.entry_id for e in v] for k, v in nm._entries.items()}
    return pickle.dumps(state, protocol=5)


def _thaw(data: bytes, registry: Registry, by_id: dict[str, ListEntry]) -> NameMatcher | None:
    """A matcher from :func:`_freeze` output, or None when the data cannot be trusted."""
    try:
        state = pickle.loads(data)
        entries: defaultdict[str, list[ListEntry]] = defaultdict(list)
        for k, ids in state["_entries"].items():
            entries[k] = [by_id[i] for i in ids]
    except Exception:  # a corrupt cache is rebuilt, whatever the error
        return None
    nm = NameMatcher.__new__(NameMatcher)
    vars(nm).update(state)
    nm.registry = registry
    nm._entries = entries
    return nm


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
