"""Load the labelled evaluation set and score a matcher on it.

Shared by ``tests/test_names.py`` (asserts the targets) and
``benchmarks/bench_matching.py`` (prints the numbers).  Each ``openalex`` row is scored on
a faithful restriction of its real authorship: the one raw string, the institutions
OpenAlex attached to that string, and the authorship's countries.  Other rows are scored
on an authorship holding only the string.
"""

from __future__ import annotations

import csv
import glob
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from tracker.matching import Matcher
from tracker.records import Authorship, Work
from tracker.sources.files import read_works
from tracker.watchlists import Registry

HERE = Path(__file__).resolve().parent
LABELS = HERE / "labels.csv"
SHARED = HERE.parents[2] / "shared" / "data"
OPENALEX = SHARED / "openalex"
RESTRICTED = SHARED / "restricted"
ID_METHODS = ("openalex_id", "ror", "lineage")


def works_files() -> list[str]:
    """The recorded works files, in a fixed order (the fixtures' works are in them)."""
    files = sorted(glob.glob(str(OPENALEX / "works_*.jsonl*")))
    return [f for f in files if "sources" not in f]


def load_works() -> dict[str, Work]:
    """Every recorded work by ID (first copy in file order)."""
    out: dict[str, Work] = {}
    for f in works_files():
        for w in read_works(f):
            if isinstance(w, Work):
                out.setdefault(w.id, w)
    return out


def restrict(auth: Authorship, raw: str) -> tuple[Authorship, tuple[str, ...]]:
    """The authorship reduced to one raw string and what OpenAlex attached to it."""
    aff = dict(auth.affiliations)
    if raw in aff:
        ids = aff[raw]
    elif len(auth.raw_affiliations) == 1:
        ids = tuple(i.id for i in auth.institutions if i.id)
    else:
        ids = ()
    insts = tuple(i for i in auth.institutions if i.id in ids)
    return (Authorship(index=auth.index, raw_affiliations=(raw,),
                       affiliations=((raw, ids),) if ids or raw in aff else (),
                       institutions=insts, countries=auth.countries), ids)


@dataclass(frozen=True)
class OpenAlexRow:
    raw: str
    work_id: str
    index: int
    openalex_ids: tuple[str, ...]
    authorship: Authorship


def load_openalex_rows(works: dict[str, Work] | None = None) -> Iterator[OpenAlexRow]:
    """Distinct (raw string, attached institutions) pairs, at their first occurrence."""
    seen: set[tuple[str, tuple[str, ...]]] = set()
    for w in (works or load_works()).values():
        for a in w.authorships:
            for raw in a.raw_affiliations:
                sub, ids = restrict(a, raw)
                if (raw, ids) in seen:
                    continue
                seen.add((raw, ids))
                yield OpenAlexRow(raw, w.id, a.index, ids, sub)


def id_keys_for(reg: Registry, auth: Authorship) -> set[str]:
    """Keys of entries OpenAlex's attached institutions resolve to by ID, ROR or covering
    lineage (computed from the registry, not from the matcher)."""
    keys: set[str] = set()
    for inst in auth.institutions:
        found = list(reg.by_openalex_id(inst.id)) if inst.id else []
        if inst.ror:
            found += reg.by_ror(inst.ror)
        for anc in inst.lineage:
            if anc != inst.id:
                found += [e for e in reg.by_openalex_id(anc) if e.covers_subunits]
        keys |= {e.institution_key or e.entry_id for e in found}
    return keys


@dataclass(frozen=True)
class Label:
    row_id: int
    source: str
    label_kind: str
    raw: str
    work_id: str
    authorship_index: int | None
    expected: frozenset[str]
    id_keys: frozenset[str]
    confusable: frozenset[str]
    context: frozenset[str]
    justification: str


def load_labels(path: Path = LABELS) -> list[Label]:
    def ks(v: str) -> frozenset[str]:
        return frozenset(v.split())
    with path.open(encoding="utf-8") as fh:
        return [Label(int(r["row_id"]), r["source"], r["label_kind"], r["raw_affiliation"],
                      r["work_id"], int(r["authorship_index"]) if r["authorship_index"] else None,
                      ks(r["expected_keys"]), ks(r["id_keys"]), ks(r["confusable_keys"]),
                      ks(r["context_keys"]), r["justification"])
                for r in csv.DictReader(fh)]


@dataclass
class Scores:
    """Counts behind precision and recall, overall and per method."""

    rows: int = 0
    id_total: int = 0
    id_found: int = 0
    raw_total: int = 0
    raw_found: int = 0
    raw_total_by_source: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    raw_found_by_source: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    tp: int = 0
    fp: int = 0
    tp_by_method: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    fp_by_method: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    found_by_method: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    false_positives: list[tuple[int, str, str]] = field(default_factory=list)
    missed: list[tuple[int, str, str]] = field(default_factory=list)
    hard_negative_hits: list[tuple[int, str]] = field(default_factory=list)
    generic_hits: list[tuple[int, str]] = field(default_factory=list)
    unsupported_generic: list[tuple[int, str]] = field(default_factory=list)
    disagreement_notes: dict[int, list[str]] = field(default_factory=dict)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def id_recall(self) -> float:
        return self.id_found / self.id_total if self.id_total else 1.0

    @property
    def raw_recall(self) -> float:
        return self.raw_found / self.raw_total if self.raw_total else 1.0

    def method_precision(self, method: str) -> float:
        t, f = self.tp_by_method[method], self.fp_by_method[method]
        return t / (t + f) if t + f else float("nan")


#: The lists the labels were made for (the registry of 2026-11).  Lists added to the registry
#: later (the Appendix A lists read from official files) were never labelled here: a tie on
#: one of them is neither right nor wrong for this set, so it is not scored.  The independent
#: set (``independent/``) is scored on its own list set.
LABELLED_LISTS = frozenset({"BIS_ENTITY_LIST", "BIS_MEU", "DOD_1286", "DOD_1260H",
                            "OFAC_NS_CMIC", "CA_NRO", "ASPI_UNITRACKER"})


def _current_keys(registry: Registry) -> dict[str, str]:
    """Former institution key -> the key now holding it (from the entries' merged_from)."""
    out: dict[str, str] = {}
    for e in registry:
        for old in e.merged_from:
            key = old.split(":", 1)[-1]
            if key != e.institution_key and not registry.by_institution_key(key):
                out[key] = e.institution_key
    return out


def _relabel(lab: Label, now: dict[str, str]) -> Label:
    def m(keys: frozenset[str]) -> frozenset[str]:
        return frozenset(now.get(k, k) for k in keys)

    if not now:
        return lab
    return replace(lab, expected=m(lab.expected), id_keys=m(lab.id_keys),
                   confusable=m(lab.confusable), context=m(lab.context))


def evaluate(matcher: Matcher, labels: list[Label] | None = None,
             works: dict[str, Work] | None = None) -> Scores:
    """Score ``matcher`` (identifiers plus its name matcher) on the labelled rows.

    Labels name institution keys of the registry they were made with; a key that a reviewed
    merge has since folded into another (``merged_from``) is read as the key now holding
    it.  A tie labelled for the raw string (the registry had no identifier for it then)
    that is now found through an identifier the registry has gained counts as found, by
    identifier.
    """
    labels = labels if labels is not None else load_labels()
    works = works if works is not None else load_works()
    now = _current_keys(matcher.registry)
    labels = [_relabel(lab, now) for lab in labels]
    sc = Scores()
    for lab in labels:
        if lab.work_id:
            auth, _ = restrict(works[lab.work_id].authorships[lab.authorship_index or 0],
                               lab.raw)
        else:
            auth = Authorship(index=0, raw_affiliations=(lab.raw,))
        matches = matcher.match_authorship(auth)
        sc.rows += 1
        methods: dict[str, set[str]] = defaultdict(set)
        for m in matches:
            key = m.entry.institution_key or m.entry.entry_id
            if m.context_only or m.entry.list not in LABELLED_LISTS:
                continue
            methods[key].add(m.method)
            weak = ("acronym '", "generic alias '", "ambiguous name '")
            if (m.method in ("name", "fuzzy") and any(w in m.detail for w in weak)
                    and "supported by" not in m.detail and "parent '" not in m.detail):
                sc.unsupported_generic.append((lab.row_id, key))
            if "disagree" in m.detail:
                sc.disagreement_notes.setdefault(lab.row_id, []).append(key)
        for key, ms in methods.items():
            good = key in lab.expected
            if good:
                sc.tp += 1
            else:
                sc.fp += 1
                sc.false_positives.append((lab.row_id, key, ",".join(sorted(ms))))
            for meth in ms:
                if good:
                    sc.tp_by_method[meth] += 1
                else:
                    sc.fp_by_method[meth] += 1
            if key in lab.confusable:
                if lab.label_kind == "generic_alias_negative":
                    sc.generic_hits.append((lab.row_id, key))
                else:
                    sc.hard_negative_hits.append((lab.row_id, key))
        for key in lab.id_keys:
            sc.id_total += 1
            if methods.get(key, set()) & set(ID_METHODS):
                sc.id_found += 1
                sc.found_by_method["identifier"] += 1
            else:
                sc.missed.append((lab.row_id, key, "identifier"))
        for key in lab.expected - lab.id_keys:
            sc.raw_total += 1
            sc.raw_total_by_source[lab.source] += 1
            found = methods.get(key, set())
            got = found & {"name", "fuzzy"} or (
                {"identifier"} if found & set(ID_METHODS) else set())
            if got:
                sc.raw_found += 1
                sc.raw_found_by_source[lab.source] += 1
                for meth in got:
                    sc.found_by_method[meth] += 1
            else:
                sc.missed.append((lab.row_id, key, "name"))
    return sc
