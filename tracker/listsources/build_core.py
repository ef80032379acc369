"""The registry under construction (:class:`Builder`): one accumulator per (list,
institution key), editions and members, and the identity work every list goes through:
IDs from the curated table and ROR records, OpenAlex IDs from the shipped extract, the
cross-country guard, reviewed merges and reviewed ID links, and the finished entries.

Each list's own format is read by its module (``build_bis``, ``build_dod``, ``build_ofac``,
``build_nro``, ``build_aspi``); :func:`tracker.listsources.build.build_registry` runs them.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from importlib.resources.abc import Traversable
from typing import Any

from tracker.listsources.build_inputs import (
    F_INST,
    F_OPENALEX,
    F_ROR,
    F_WEB,
    INSTITUTIONS,
    LIC_OPENALEX,
    LIC_ROR,
    RECORDED_AS,
    ROR_REPO,
    bare_ror,
    read_bytes,
    read_csv,
    read_jsonl,
    rests_on_evaluation_set,
    sha256_hex,
    short_oa,
)
from tracker.listsources.build_text import (
    CSV_LIST_CODES,
    has_cjk,
    is_generic,
    norm,
    slug,
    split_aliases,
    variants,
)

# --------------------------------------------------------------------------- accumulator

@dataclass
class Fact:
    on: date
    basis: str
    citation: str
    source: str
    role: str  # addition | revision | removal | edition | other

    def to_json(self) -> dict[str, str]:
        return {"date": self.on.isoformat(), "basis": self.basis, "citation": self.citation,
                "source": self.source}


@dataclass
class Acc:
    code: str
    key: str
    name: str
    aliases: list[str] = field(default_factory=list)
    aliases_zh: list[str] = field(default_factory=list)
    generic: list[str] = field(default_factory=list)
    countries: list[str] = field(default_factory=list)
    entry_type: str = "institution"
    ror: str | None = None
    openalex_ids: list[str] = field(default_factory=list)
    parent_key: str | None = None
    covers_subunits: bool = False
    editions: list[str] = field(default_factory=list)
    facts: list[Fact] = field(default_factory=list)
    removed_on: date | None = None
    removed_on_source: str = ""
    citations: list[str] = field(default_factory=list)
    source_urls: list[str] = field(default_factory=list)
    provenance: list[str] = field(default_factory=list)
    licences: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    merged_from: list[str] = field(default_factory=list)

    def add(self, attr: str, values: Iterable[str]) -> None:
        cur: list[str] = getattr(self, attr)
        for v in values:
            if v and v not in cur:
                cur.append(v)

    def add_alias(self, alias: str) -> None:
        alias = " ".join(alias.split()).strip(" ,;")
        if not alias or norm(alias) == norm(self.name):
            return
        if has_cjk(alias) and not re.search(r"[A-Za-z]", alias):
            self.add("aliases_zh", [alias])
            return
        if norm(alias) in {norm(a) for a in self.aliases}:
            return
        self.add("aliases", [alias])
        if is_generic(alias):
            self.add("generic", [alias])


@dataclass
class OpenAlexIndex:
    """What the recorded OpenAlex files say about institutions (see ``openalex_index``)."""

    files: dict[str, str] = field(default_factory=dict)
    r2o: dict[str, set[str]] = field(default_factory=dict)
    where: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    named: dict[tuple[str, str | None], dict[str, tuple[str | None, str]]] = field(
        default_factory=dict)
    country: dict[str, set[str]] = field(default_factory=dict)


class Builder:
    """The registry under construction: one :class:`Acc` per (list, institution key).

    Parameters
    ----------
    source : Traversable
        The folder of shipped input files (``tracker/data/sources``).
    openalex_objects : Traversable, optional
        The extract of OpenAlex institution objects (None: no OpenAlex links).
    """

    def __init__(self, source: Traversable, openalex_objects: Traversable | None) -> None:
        self.src = source
        self.oa_objects = openalex_objects
        self.entries: dict[tuple[str, str], Acc] = {}
        self.editions: dict[tuple[str, str], dict[str, Any]] = {}
        self.edition_members: dict[tuple[str, str], set[str]] = {}
        self.inst_rows = read_csv(source / F_INST)
        self.web = {r["evidence_id"]: r for r in read_csv(source / F_WEB)}
        self.warnings: list[str] = []
        #: merge rows whose keys this stage does not hold: the shipped official files' stage
        #: may create them; :func:`tracker.listsources.build.build_registry` warns about those
        #: no stage applied
        self.deferred_merges: list[tuple[str, str]] = []
        self.named_records: dict[tuple[str, str | None], dict[str, tuple[str | None, str]]] = {}
        self.row_names: dict[tuple[str, str, str], str] = {}
        self._oa_index: OpenAlexIndex | None = None
        self._ror_records: dict[str, dict[str, Any]] | None = None
        self.links_csv = ""
        self.fr_1260h_unmatched: list[str] = []
        self.parent_in_latest: dict[str, str] = {}
        #: (institution key, ROR or OpenAlex ID) -> why the ID is not applied (countries differ)
        self.cross_country: dict[tuple[str, str], str] = {}
        # institutions.csv indexes
        self.inst_by_key: dict[str, list[dict[str, str]]] = {}
        self.inst_name_index: dict[str, dict[str, str]] = {}  # list -> norm name -> key
        self.inst_global_names: dict[str, set[str]] = {}
        for row in self.inst_rows:
            self.inst_by_key.setdefault(row["institution_key"], []).append(row)
            code = CSV_LIST_CODES.get(row["list"], row["list"])
            idx = self.inst_name_index.setdefault(code, {})
            for full in [*split_aliases(row["list_entry_name"], " / "), row["canonical_name"]]:
                for n in variants(re.split(r",? and the following", full)[0]):
                    idx.setdefault(norm(n), row["institution_key"])
            for n in [row["canonical_name"], *split_aliases(row["list_entry_name"], " / ")]:
                self.inst_global_names.setdefault(norm(n), set()).add(row["institution_key"])
        # second pass, lowest priority: comma-prefixes of scraped BIS names, whose tail is
        # often address text ("National Supercomputing Center Guangzhou (NSCC-GZ), Sun Yat-Sen
        # University")
        for row in self.inst_rows:
            if row["list"] != "BIS_ENTITY_LIST":
                continue
            idx = self.inst_name_index["BIS_ENTITY_LIST"]
            parts = row["list_entry_name"].split(", ")
            for i in range(len(parts) - 1, 0, -1):
                idx.setdefault(norm(", ".join(parts[:i])), row["institution_key"])

    # ---- keys -------------------------------------------------------------------
    def key_for(self, code: str, names: Iterable[str], *, csv_list: str | None = None) -> str:
        """The institutions.csv key for a list entry (by normalised name), else an auto slug."""
        names = [n for n in names if n]
        idx = self.inst_name_index.get(csv_list or code, {})
        for n in names:
            k = idx.get(norm(n))
            if k:
                return k
        for n in names:
            keys = self.inst_global_names.get(norm(n), set())
            if len(keys) == 1:
                return next(iter(keys))
        return slug(names[0])

    def free_key(self, code: str, edition: str, key: str, name: str) -> str:
        """``key``, unless another row of the same edition already holds it (then the slug of
        this row's own name): two rows printed separately in one edition stay two entries."""
        seen = self.row_names.get((code, edition, key))
        if seen is not None and norm(seen) != norm(name):
            return slug(name)
        return key

    def acc(self, code: str, key: str, name: str) -> Acc:
        a = self.entries.get((code, key))
        if a is None:
            a = Acc(code=code, key=key, name=name)
            self.entries[(code, key)] = a
        return a

    def member(self, code: str, edition: str, acc: Acc, row_name: str = "") -> None:
        """Record that ``acc`` is in ``edition``; warn when two source rows of one edition
        land on the same entry (the edition count would then differ from the source)."""
        acc.add("editions", [edition])
        self.edition_members.setdefault((code, edition), set()).add(acc.key)
        seen = self.row_names.setdefault((code, edition, acc.key), row_name)
        if row_name and norm(seen) != norm(row_name):
            self.warnings.append(f"{code} {edition}: rows {seen!r} and {row_name!r} merged "
                                 f"into {acc.key}")

    def edition(self, code: str, edition: str, *, published_on: date | None, basis: str,
                source_url: str, provenance: str, licence: str) -> None:
        self.editions[(code, edition)] = {
            "list": code, "edition": edition,
            "published_on": published_on.isoformat() if published_on else None,
            "basis": basis, "source_url": source_url, "provenance": provenance,
            "licence": licence,
        }

    def evidence_source(self, list_provenance: str) -> str:
        ids = re.findall(r"\bE\d+\b", list_provenance)
        if not ids:
            return list_provenance
        parts = [f"raw/web_evidence.csv {i}: {self.web[i]['url']}" for i in ids if i in self.web]
        return "; ".join(parts)

    # ---- institutions.csv -------------------------------------------------------
    def inst_row(self, key: str, csv_list: str) -> dict[str, str] | None:
        for r in self.inst_by_key.get(key, []):
            if r["list"] == csv_list:
                return r
        return None

    def apply_institution_facts(self, acc: Acc, row: dict[str, str]) -> None:
        """Names, IDs and (BIS) dates from the hand-curated institutions.csv row."""
        acc.add_alias(row["canonical_name"])
        bases = [norm(n) for n in (acc.name, row["canonical_name"]) if n]
        for a in split_aliases(row["aliases"]):
            # institutions.csv pools aliases over all lists; skip sub-unit names ("X, Y
            # Research Institute") so that one list's coverage does not leak into another
            if any(norm(a).startswith(b + " ") for b in bases):
                continue
            acc.add_alias(a)
        if row["name_zh"]:
            acc.add("aliases_zh", [row["name_zh"]])
        if row["country"]:
            acc.add("countries", [row["country"]])
        if row["parent_institution_key"] and not acc.parent_key:
            acc.parent_key = row["parent_institution_key"]
        ror = bare_ror(row["ror_id"])
        if ror and not acc.ror:
            acc.ror = ror
            acc.add("provenance", [f"ror: {row['ror_match_method']}; {row['ror_provenance']}"])
            acc.add("licences", [LIC_ROR])
        oa = short_oa(row["openalex_id"])
        if oa:
            acc.add("openalex_ids", [oa])
            acc.add("provenance",
                    [f"openalex {oa}: institutions.csv ({row['openalex_provenance']})"])
        acc.add("provenance", [f"institution row: {INSTITUTIONS}"])
        if row["institution_notes"]:
            acc.add("notes", [f"institutions.csv: {row['institution_notes']}"])

    # ---- IDs ----------------------------------------------------------------------------
    def propagate_ids(self) -> None:
        """Give every entry of an institution the ROR/OpenAlex IDs known for its key."""
        ror_by_key: dict[str, tuple[str, str]] = {}
        for row in self.inst_rows:
            ror = bare_ror(row["ror_id"])
            if ror:
                ror_by_key.setdefault(row["institution_key"], (
                    ror, f"ror: {row['ror_match_method']}; {row['ror_provenance']} "
                         f"(via institutions.csv key {row['institution_key']})"))
        oa_by_key: dict[str, set[tuple[str, str]]] = {}
        for row in self.inst_rows:
            oa = short_oa(row["openalex_id"])
            if oa and not row["parent_institution_key"]:
                oa_by_key.setdefault(row["institution_key"], set()).add(
                    (oa, f"openalex {oa}: institutions.csv ({row['openalex_provenance']})"))
        for acc in self.entries.values():
            if not acc.ror and acc.key in ror_by_key:
                acc.ror, p = ror_by_key[acc.key]
                acc.add("provenance", [p])
                acc.add("licences", [LIC_ROR])
            for oa, p in sorted(oa_by_key.get(acc.key, ())):
                acc.add("openalex_ids", [oa])
                acc.add("provenance", [p])

    def apply_ror_records(self) -> None:
        """ROR names as aliases, and the ROR parent as a note, for entries with a ROR ID."""
        records = {bare_ror(r["ror_id"]): r for r in
                   read_jsonl(self.src / F_ROR)}
        for acc in self.entries.values():
            rec = records.get(acc.ror) if acc.ror else None
            if rec is None:
                continue
            prov = f"ror names: {ROR_REPO}:{rec['path']}"
            for n in rec.get("names", []):
                acc.add_alias(n)
            acc.add("provenance", [prov])
            acc.add("licences", [LIC_ROR])
            if rec.get("status") != "active":
                acc.add("notes", [f"ROR record {acc.ror} is {rec.get('status')}"])
            parents = sorted(f"{name} ({bare_ror(url)})" for kind, name, url in
                             rec.get("relationships", []) if kind.lower() == "parent")
            if parents:
                acc.add("notes", ["ROR parent: " + "; ".join(parents)])

    def openalex_index(self) -> OpenAlexIndex:
        """The recorded OpenAlex institution objects, read once (ROR pairs, names, countries)."""
        if self._oa_index is not None:
            return self._oa_index
        idx = OpenAlexIndex()
        if self.oa_objects is None:
            self._oa_index = idx
            return idx
        rows = list(read_jsonl(self.oa_objects))
        idx.files[F_OPENALEX] = sha256_hex(read_bytes(self.oa_objects))
        recorded = sorted({f for r in rows for f in r.get("recorded_in", ())})
        for fname in recorded:   # the files in the order the objects were recorded
            for r in rows:
                if fname not in r.get("recorded_in", ()):
                    continue
                oid, ror, cc = r.get("id"), r.get("ror"), r.get("country_code")
                if not oid:
                    continue
                if ror:
                    idx.r2o.setdefault(ror, set()).add(oid)
                    idx.where.setdefault((ror, oid), set()).add(fname)
                names = [r.get("display_name"), *r.get("display_name_alternatives", ())]
                for name in (n for n in names if isinstance(n, str) and n):
                    idx.named.setdefault((norm(name), cc), {}).setdefault(oid, (ror, fname))
                    if isinstance(cc, str) and cc:
                        idx.country.setdefault(oid, set()).add(cc.upper())
        self._oa_index = idx
        return idx

    def ror_records(self) -> dict[str, dict[str, Any]]:
        """The shipped ROR records by bare ROR ID, read once."""
        if self._ror_records is None:
            self._ror_records = {r: rec for rec in read_jsonl(self.src / F_ROR)
                                 if (r := bare_ror(rec.get("ror_id")))}
        return self._ror_records

    def ror_countries(self, ror: str) -> tuple[set[str], str]:
        """The countries of a ROR ID, and how they are known.

        The countries of the recorded OpenAlex institutions that carry the ROR; failing
        those, the countries of its ROR parents' OpenAlex institutions (a unit is in its
        parent's country: the CAS institutes and university units the lists print).
        Empty when neither is recorded.
        """
        idx = self.openalex_index()
        own = {c for o in idx.r2o.get(ror, ()) for c in idx.country.get(o, ())}
        if own:
            return own, "is recorded in"
        rec = self.ror_records().get(ror, {})
        parents = sorted(r for kind, _name, url in rec.get("relationships", [])
                         if kind.lower() == "parent" and (r := bare_ror(url)))
        via = {c for p in parents for o in idx.r2o.get(p, ()) for c in idx.country.get(o, ())}
        if via:
            return via, f"has its ROR parent ({', '.join(parents)}) recorded in"
        return set(), ""

    def reject_cross_country_ids(self) -> None:
        """Drop every ROR / OpenAlex ID whose institution is in another country than the entry.

        An institution's countries are those its list entries print (all entries sharing its
        key).  An OpenAlex ID is in the country its recorded institution object gives; a ROR
        ID in the countries of the OpenAlex institutions recorded with that ROR.  An ID whose
        countries are known and share none with the institution's is never applied, however
        it was proposed (institutions.csv, a ROR name match, a merge or a reviewed link): an
        ID link across countries is a name collision, not the same institution.  Each drop is
        recorded in ``self.cross_country`` and reported in the build summary.
        """
        idx = self.openalex_index()
        by_key: dict[str, list[Acc]] = {}
        for (_code, key), acc in sorted(self.entries.items()):
            by_key.setdefault(key, []).append(acc)
        for key, accs in by_key.items():
            home = {c.upper() for a in accs for c in a.countries if c}
            if not home:
                continue
            for acc in accs:
                if acc.ror:
                    ror_cc, where = self.ror_countries(acc.ror)
                    if ror_cc and not ror_cc & home:
                        self.cross_country[(key, acc.ror)] = (
                            f"ROR {acc.ror} {where} {'/'.join(sorted(ror_cc))}; the "
                            f"list prints {'/'.join(sorted(home))}")
                        acc.ror = None
                for oid in list(acc.openalex_ids):
                    oa_cc = idx.country.get(oid, set())
                    if oa_cc and not oa_cc & home:
                        self.cross_country[(key, oid)] = (
                            f"OpenAlex {oid} is in {'/'.join(sorted(oa_cc))}; the list prints "
                            f"{'/'.join(sorted(home))}")
                        acc.openalex_ids.remove(oid)
                        acc.provenance = [p for p in acc.provenance
                                          if not p.startswith(f"openalex {oid}")]
            for (k, ident), why in sorted(self.cross_country.items()):
                if k == key:
                    for acc in accs:
                        acc.add("notes", [f"ID {ident} not applied (countries differ): {why}"])

    def resolve_openalex(self) -> dict[str, Any]:
        """Fill openalex_ids from the ROR IDs via the recorded OpenAlex records."""
        idx = self.openalex_index()
        files, r2o, where, named = idx.files, idx.r2o, idx.where, idx.named
        resolved = 0
        for acc in self.entries.values():
            if acc.ror and acc.ror in r2o:
                for oid in sorted(r2o[acc.ror]):
                    if (acc.key, oid) in self.cross_country:
                        continue
                    if oid not in acc.openalex_ids:
                        acc.add("openalex_ids", [oid])
                    fs = sorted(where[(acc.ror, oid)])
                    acc.add("provenance", [f"openalex {oid}: recorded OpenAlex institution record "
                                           f"with ror {acc.ror} in shared/data/openalex/{fs[0]}"
                                           + (f" (+{len(fs) - 1} more files)" if len(fs) > 1
                                              else "")])
                    acc.add("licences", [LIC_OPENALEX])
                resolved += 1
        # entries with no ID at all: an exact normalised-name match (same country) to exactly
        # one recorded OpenAlex institution record is a *candidate* link (see link_ids): it
        # is used only once reviewed (tracker/data/id_links.csv, status accepted)
        self.named_records = named
        return {"files": files, "ror_to_openalex_pairs": sum(len(v) for v in r2o.values()),
                "entries_resolved_via_ror": resolved}

    # ---- one institution, one key --------------------------------------------------------
    def merge_institutions(self, merges: Traversable, *, again: bool = False) -> dict[str, Any]:
        """One institution key per institution: keys that share a ROR or OpenAlex ID are
        merged automatically; keys with the same name and country only where the reviewed
        merge file says so (``decision`` merge), each with its reason.  Two entries of one
        list that become one institution become one entry (editions, dates, aliases kept).

        Returns what was merged: ``{"groups": [...], "keep_apart": n}``.
        """
        parent: dict[str, str] = {}

        def find(k: str) -> str:
            while parent.get(k, k) != k:
                k = parent[k]
            return k

        reasons: dict[str, list[str]] = {}
        apart: set[frozenset[str]] = set()
        preferred: dict[str, str] = {}
        rows = read_csv(merges) if merges.is_file() else []
        for r in rows:
            if r["decision"] == "keep_apart":
                apart.add(frozenset((r["key"], r["into"])))
        known = {k for (_c, k) in self.entries}

        def union(a: str, b: str, why: str) -> None:
            if frozenset((a, b)) in apart:
                self.warnings.append(f"merge of {a} and {b} ({why}) refused: the merge file "
                                     "says keep apart")
                return
            ra, rb = find(a), find(b)
            if ra == rb:
                return
            parent[rb] = ra
            reasons.setdefault(ra, []).extend(reasons.pop(rb, []))
            reasons[ra].append(why)

        by_id: dict[str, set[str]] = {}
        for (_code, key), acc in sorted(self.entries.items()):
            ids = ([f"ror {acc.ror}"] if acc.ror else []) + [f"OpenAlex {o}"
                                                            for o in acc.openalex_ids]
            for i in ids:
                by_id.setdefault(i, set()).add(key)
        for ident, keys in sorted(by_id.items()):
            ks = sorted(keys)
            for k in ks[1:]:
                union(ks[0], k, f"{k} and {ks[0]}: same {ident}")
        for r in rows:
            if r["decision"] != "merge":
                continue
            if r["key"] not in known or r["into"] not in known:
                if again:   # merged by the first pass
                    continue
                self.deferred_merges.append((r["key"], r["into"]))
                continue
            union(r["into"], r["key"], f"{r['key']} into {r['into']}: {r['reason']} "
                                       "(reviewed merge, tracker/data/institution_merges.csv)")
            preferred[r["key"]] = r["into"]
        groups: dict[str, set[str]] = {}
        for k in known:
            groups.setdefault(find(k), set()).add(k)

        def canonical(keys: set[str]) -> str:
            targets = {preferred[k] for k in keys if k in preferred} - set(preferred)
            if len(targets) == 1:
                return next(iter(targets))
            return sorted(keys, key=lambda k: (k.startswith("auto_"), k))[0]

        canon = {k: canonical(ks) for ks in groups.values() for k in ks}
        merged: dict[tuple[str, str], Acc] = {}
        for (code, key), acc in sorted(self.entries.items(),
                                       key=lambda kv: (kv[0][0], kv[0][1] != canon[kv[0][1]],
                                                       kv[0][1])):
            ck = canon[key]
            into = merged.get((code, ck))
            if into is None:
                if key != ck:
                    acc.merged_from.append(f"{code}:{key}")
                    acc.key = ck
                merged[(code, ck)] = acc
                continue
            self._merge_acc(into, acc, code, key)
        self.entries = merged
        out = []
        for root, members in sorted(groups.items()):
            if len(members) > 1:
                out.append({"institution_key": canon[root], "keys": sorted(members),
                            "reasons": sorted(set(reasons.get(root, [])))})
        return {"groups": out, "keep_apart": len(apart)}

    def link_ids(self, links: Traversable) -> dict[str, Any]:
        """Candidate ID links by exact name + country, and the reviewed decisions on them.

        Every institution key still without an OpenAlex ID whose printed name (or a printed
        alias of two words or more, not generic) equals, after normalisation, the display
        name or an alternative name of exactly one recorded OpenAlex institution of the same
        country gets a candidate link (method ``exact_name_country``, confidence
        ``medium``).  ``links_path`` keeps one row per link with its ``status``:
        ``candidate`` (not used), ``accepted`` (reviewed: its IDs are applied, with the
        review note as provenance) or ``rejected``.  Statuses already in the file are kept.
        An accepted link whose only evidence is a file of the independent evaluation set
        (:data:`EVALUATION_FILES`) is not applied: the registry must not depend on the
        records that score it.  The file is never written here: the regenerated rows
        (sorted, deterministic) are kept in ``self.links_csv`` for ``tracker lists build
        --links-out``.
        """
        old: dict[str, dict[str, str]] = {}
        if links.is_file():
            old = {r["link_id"]: r for r in read_csv(links)}
        by_key: dict[str, list[Acc]] = {}
        for (_code, key), acc in sorted(self.entries.items()):
            by_key.setdefault(key, []).append(acc)
        rows: dict[str, dict[str, str]] = {}
        for key, accs in sorted(by_key.items()):
            if any(a.openalex_ids for a in accs):
                continue
            for acc in accs:
                if not acc.countries:
                    continue
                for n in [acc.name, *acc.aliases]:
                    if is_generic(n) or len(norm(n).split()) < 2:
                        continue
                    cands = self.named_records.get((norm(n), acc.countries[0]), {})
                    if len(cands) != 1:
                        continue
                    oid, (oror, fname) = next(iter(cands.items()))
                    link_id = f"{key}={oid}"
                    if link_id in rows or (key, oid) in self.cross_country:
                        continue
                    prev = old.get(link_id, {})
                    rows[link_id] = {
                        "link_id": link_id, "institution_key": key, "name": acc.name,
                        "country": acc.countries[0], "openalex_id": oid, "ror": oror or "",
                        "method": "exact_name_country", "confidence": "medium",
                        "evidence": f"{acc.code} prints {n!r}; the recorded OpenAlex "
                                    f"institution {oid} has this name, country "
                                    f"{acc.countries[0]} (shared/data/openalex/{fname})",
                        "status": prev.get("status", "candidate"),
                        "review_note": prev.get("review_note", ""),
                    }
        # ROR records (raw/ror_records_selected.jsonl; they carry no country): exact name
        ror_names: dict[str, set[str]] = {}
        for rec in read_jsonl(self.src / F_ROR):
            for rn in rec.get("names", []):
                r = bare_ror(rec["ror_id"])
                if r:
                    ror_names.setdefault(norm(rn), set()).add(r)
        for key, accs in sorted(by_key.items()):
            if any(a.ror for a in accs):
                continue
            for acc in accs:
                for n in [acc.name, *acc.aliases]:
                    found = ror_names.get(norm(n), set())
                    if is_generic(n) or len(norm(n).split()) < 2 or len(found) != 1:
                        continue
                    ror = next(iter(found))
                    link_id = f"{key}=ror:{ror}"
                    if link_id in rows or (key, ror) in self.cross_country:
                        continue
                    prev = old.get(link_id, {})
                    rows[link_id] = {
                        "link_id": link_id, "institution_key": key, "name": acc.name,
                        "country": acc.countries[0] if acc.countries else "",
                        "openalex_id": "", "ror": ror, "method": "exact_name_ror_record",
                        "confidence": "medium",
                        "evidence": f"{acc.code} prints {n!r}; ROR record {ror} has this name "
                                    f"({RECORDED_AS[F_ROR]}; ROR records carry no country here)",
                        "status": prev.get("status", "candidate"),
                        "review_note": prev.get("review_note", ""),
                    }
        for link_id, prev in old.items():   # decisions on links no longer generated stay
            if link_id not in rows and prev.get("status") in ("accepted", "rejected"):
                self.warnings.append(f"id link {link_id}: no longer generated (kept)")
                rows[link_id] = prev
        applied = 0
        unjustified: list[str] = []
        for row in rows.values():
            if row["status"] != "accepted":
                continue
            if rests_on_evaluation_set(row.get("evidence", "")):
                unjustified.append(row["link_id"])
                self.warnings.append(f"id link {row['link_id']}: accepted, but its only evidence "
                                     "is a file of the independent evaluation set: not applied")
                continue
            for acc in by_key.get(row["institution_key"], []):
                if row["openalex_id"]:
                    acc.add("openalex_ids", [row["openalex_id"]])
                    acc.add("provenance", [
                        f"openalex {row['openalex_id']}: reviewed link {row['link_id']} "
                        f"({row['method']}; {row['review_note']})"])
                    acc.add("licences", [LIC_OPENALEX])
                if row["ror"] and not acc.ror:
                    acc.ror = row["ror"]
                    acc.add("provenance", [f"ror {row['ror']}: reviewed link {row['link_id']} "
                                           f"({row['method']}; {row['review_note']})"])
                    acc.add("licences", [LIC_ROR])
            applied += 1
        cols = ["link_id", "institution_key", "name", "country", "openalex_id", "ror",
                "method", "confidence", "status", "review_note", "evidence"]
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
        w.writeheader()
        for link_id in sorted(rows):
            w.writerow({c: rows[link_id].get(c, "") for c in cols})
        self.links_csv = buf.getvalue()
        status = Counter(r["status"] for r in rows.values())
        return {"links": len(rows), "accepted": status["accepted"],
                "candidates": status["candidate"], "rejected": status["rejected"],
                "applied": applied,
                "not_applied_evaluation_evidence": sorted(unjustified)}

    def share_ids(self) -> None:
        """Every entry of an institution carries the ROR and OpenAlex IDs of its others."""
        by_key: dict[str, list[Acc]] = {}
        for (_code, key), acc in sorted(self.entries.items()):
            by_key.setdefault(key, []).append(acc)
        for key, accs in by_key.items():
            ror = next((a for a in accs if a.ror), None)
            oids = sorted({o for a in accs for o in a.openalex_ids})
            for acc in accs:
                if ror is not None and not acc.ror:
                    acc.ror = ror.ror
                    acc.add("provenance", [f"ror {ror.ror}: from {ror.code}:{key}, the same "
                                           "institution"])
                    acc.add("licences", [LIC_ROR])
                new = [o for o in oids if o not in acc.openalex_ids]
                if new:
                    acc.add("openalex_ids", new)
                    acc.add("provenance", [f"openalex {', '.join(new)}: from another list's "
                                           f"entry of the same institution ({key})"])

    def _merge_acc(self, into: Acc, other: Acc, code: str, key: str) -> None:
        """Fold ``other`` (entry ``code:key``) into ``into``: one entry of one list."""
        into.merged_from.append(f"{code}:{key}")
        into.merged_from.extend(other.merged_from)
        if norm(other.name) != norm(into.name):
            into.add_alias(other.name)
        for a in other.aliases:
            into.add_alias(a)
        for attr in ("aliases_zh", "generic", "countries", "openalex_ids", "editions",
                     "citations", "source_urls", "provenance", "licences", "notes"):
            into.add(attr, getattr(other, attr))
        into.facts.extend(other.facts)
        if other.ror and not into.ror:
            into.ror = other.ror
        elif other.ror and other.ror != into.ror:
            self.warnings.append(f"{code}:{into.key}: merged entries carry RORs {into.ror} "
                                 f"and {other.ror}")
        into.covers_subunits = into.covers_subunits or other.covers_subunits
        if into.removed_on is None or other.removed_on is None:
            into.removed_on, into.removed_on_source = None, ""   # still listed under one
        into.add("notes", [f"one entry for the rows printed as '{into.name}' and "
                           f"'{other.name}' (same institution, see merged_from)"])

    # ---- output ---------------------------------------------------------------------------
    def finish(self) -> list[dict[str, Any]]:
        out = []
        for (code, key), a in sorted(self.entries.items()):
            facts = sorted(a.facts, key=lambda f: (f.on, f.basis, f.citation, f.source))
            seen: set[tuple[str, str, str, str]] = set()
            uniq = []
            for f in facts:
                k = (f.on.isoformat(), f.basis, f.citation, f.source)
                if k not in seen:
                    seen.add(k)
                    uniq.append(f)
            adds = [f for f in uniq if f.role == "addition"]
            first = adds[0] if adds else None
            kind = "addition"
            on_by = [f for f in uniq if f.role == "on_list_by"]
            if first is None and on_by:
                # only "on the list by" dates: listed_on is one, and says so
                first, kind = on_by[0], "on_list_by"
            eds = self.sorted_editions(code, a.editions)
            countries = [c for c in a.countries if c]
            country = countries[0] if countries else None
            notes = list(a.notes)
            if len(set(countries)) > 1:
                notes.append("also listed under: " + ", ".join(sorted(set(countries[1:]))))
            if first is None and code != "ASPI_UNITRACKER":
                notes.append("no sourced date of addition: listed_on unknown")
            if len({f.on for f in adds}) > 1:
                notes.append("sources disagree on the date of addition: "
                             + "; ".join(f"{f.on.isoformat()} ({f.citation})" for f in adds)
                             + "; listed_on is the earliest")
            generic = [g for g in a.generic if g in a.aliases]
            if is_generic(a.name):
                generic.append(a.name)
            out.append({
                "entry_id": f"{code}:{key}",
                "list": code,
                "name": a.name,
                "institution_key": key,
                "aliases": sorted(a.aliases, key=lambda s: (norm(s), s)),
                "aliases_zh": sorted(set(a.aliases_zh)),
                "generic_aliases": sorted(set(generic)),
                "country": country,
                "entry_type": a.entry_type,
                "ror": a.ror,
                "openalex_ids": sorted(set(a.openalex_ids)),
                "parent_key": a.parent_key if a.parent_key != key else None,
                "covers_subunits": a.covers_subunits and a.entry_type != "talent_program",
                "editions": eds,
                "listed_on": first.on.isoformat() if first else None,
                "listed_on_basis": first.basis if first else "",
                "listed_on_source": first.source if first else "",
                "dates": [f.to_json() for f in uniq],
                "removed_on": a.removed_on.isoformat() if a.removed_on else None,
                "removed_on_source": a.removed_on_source,
                "citations": a.citations,
                "source_url": a.source_urls[0] if a.source_urls else "",
                "provenance": " | ".join(a.provenance),
                "licence": "; ".join(sorted(set(a.licences))),
                "notes": " | ".join(n for n in dict.fromkeys(notes) if n),
                **({"listed_on_kind": kind} if kind != "addition" else {}),
                **({"merged_from": sorted(set(a.merged_from))} if a.merged_from else {}),
            })
        return out

    def sorted_editions(self, code: str, eds: Iterable[str]) -> list[str]:
        order = [ed for (c, ed) in sorted(self.editions) if c == code]
        return sorted(set(eds), key=lambda e: (order.index(e) if e in order else 99, e))
