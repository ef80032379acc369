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

The package splits the work by job: :mod:`~tracker.names.normalise` (reading a string),
:mod:`~tracker.names.tables` (look-alikes, country names), :mod:`~tracker.names.index`
(aliases, the token trie), :mod:`~tracker.names.match` (:class:`NameMatcher`) and
:mod:`~tracker.names.cache` (the matcher kept on disk per registry version).  Import from
``tracker.names``.
"""

from __future__ import annotations

from tracker.names.cache import cached_name_matcher
from tracker.names.match import DEFAULT_FUZZY_THRESHOLD, NameMatcher
from tracker.names.normalise import ABBREVIATIONS, QUALIFIER_PLACES, normalize
from tracker.names.tables import (
    Lookalike,
    LookalikeError,
    load_country_names,
    load_lookalikes,
)

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
