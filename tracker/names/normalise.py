"""Reading affiliation strings: normalisation, tokens, parts, qualifiers and the
word tables the matcher uses (see :mod:`tracker.names`)."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Sequence
from functools import cache
from importlib import resources

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
    # the bundled country table (tracker/data/country_names.csv, as tables.load_country_names
    # reads it), read here because the table's names are read through normalize
    text = resources.files("tracker").joinpath("data/country_names.csv").read_text("utf-8")
    places = {key: row["code"].strip().upper() for row in csv.DictReader(io.StringIO(text))
              if (key := normalize(row["name"]))}
    return {**places, **QUALIFIER_PLACES}


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


#: Legal forms printed before a (Russian) organisation's name: ``OAO``, ``JSC`` ...
_LEGAL_PREFIXES = frozenset({"oao", "ojsc", "jsc", "ao", "pao", "pjsc", "zao", "cjsc", "ooo",
                             "fgup", "fsue", "fgbu", "fgbou"})


def _name_form(tokens: list[str]) -> list[str]:
    """The form a name is usually cited in: leading legal forms dropped, ``All-Russia``
    read as ``All-Russian``.

    Examples
    --------
    >>> _name_form("oao all russia research institute of radio equipment".split())
    ['all', 'russian', 'research', 'institute', 'of', 'radio', 'equipment']
    >>> _name_form(["jsc"])
    ['jsc']
    """
    out = _without_legal_prefix(tokens)
    return [("russian" if t == "russia" and i and out[i - 1] == "all" else t)
            for i, t in enumerate(out)]


def _without_legal_prefix(tokens: list[str]) -> list[str]:
    """Leading legal forms dropped (at least two words kept).

    Examples
    --------
    >>> _without_legal_prefix(["oao", "all", "russia", "institute"])
    ['all', 'russia', 'institute']
    """
    out = list(tokens)
    while len(out) > 2 and out[0] in _LEGAL_PREFIXES:
        out = out[1:]
    return out


#: Combining forms written joined or hyphenated ("Optoelectronics", "Opto-Electronics").
_COMPOUND_PREFIXES = ("opto", "electro", "micro", "nano", "radio", "photo", "thermo", "hydro",
                      "aero", "geo", "bio")


def _split_compounds(tokens: list[str]) -> list[str]:
    """Joined compounds split at a combining form, as a hyphenated spelling tokenises.

    Examples
    --------
    >>> _split_compounds(["academy", "of", "optoelectronics"])
    ['academy', 'of', 'opto', 'electronics']
    >>> _split_compounds(["biology", "institute"])
    ['biology', 'institute']
    """
    out: list[str] = []
    for t in tokens:
        pre = next((p for p in _COMPOUND_PREFIXES
                    if t.startswith(p) and len(t) - len(p) >= 5), None)
        out.extend((pre, t[len(pre):]) if pre else (t,))
    return out


def _initialism(tokens: Sequence[str]) -> str:
    return "".join(t[0] for t in tokens if t not in _STOP)
