"""Resolve list entries' ROR IDs to OpenAlex institution IDs, and remember the answers.

The bundled registry carries the OpenAlex IDs that the recorded OpenAlex data could
resolve (see ``tracker/data/REGISTRY.md``).  For the rest, OpenAlex answers
``/institutions/ror:<ROR>`` (a single-entity call, which costs nothing); this module asks
once per ROR, stores every answer (found or not) in a JSON file under ``TRACKER_HOME``,
and applies the stored answers to the registry on later runs without asking again.

Matching already works by ROR, because OpenAlex attaches RORs to authorship institutions;
OpenAlex IDs add the identifier route and let server-side filters use IDs.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from tracker.sources.failures import RequestRejected
from tracker.watchlists import ListEntry, Registry

__all__ = ["LINK_STATUSES", "IdLink", "LinkDecisions", "ResolutionCache", "Resolver",
           "apply_link_decisions", "apply_resolutions", "default_cache_path",
           "default_decisions_path", "effective_links", "load_links", "resolve_missing",
           "search_name_links"]


def default_cache_path() -> Path:
    """``$TRACKER_HOME/resolved_openalex_ids.json`` (default ``~/.local/share/tracker``)."""
    from tracker.home import resolved_ids_path

    return resolved_ids_path()


class Resolver(Protocol):
    """Anything that turns a ROR ID into OpenAlex IDs (e.g. OpenAlexSource.resolve_org)."""

    def __call__(self, ror: str) -> str | None: ...


@dataclass
class ResolutionCache:
    """ROR → OpenAlex ID answers, ``None`` meaning "OpenAlex has no such institution"."""

    path: Path
    answers: dict[str, str | None]
    source: str = ""

    @classmethod
    def load(cls, path: Path | None = None) -> ResolutionCache:
        p = path or default_cache_path()
        try:
            doc = json.loads(p.read_text("utf-8"))
            return cls(p, dict(doc.get("answers", {})), doc.get("source", ""))
        except FileNotFoundError:
            return cls(p, {})
        except (OSError, ValueError) as exc:
            raise ValueError(f"{p}: cannot read the resolution cache ({exc})") from exc

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({
            "source": self.source,
            "saved_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "answers": dict(sorted(self.answers.items())),
        }, indent=1), "utf-8")
        tmp.replace(self.path)


def apply_resolutions(registry: Registry, answers: dict[str, str | None]) -> Registry:
    """The registry with resolved OpenAlex IDs added to entries that lacked them.

    Examples
    --------
    >>> from tracker.watchlists import ListEntry, Registry
    >>> e = ListEntry(entry_id="X:a", list="X", name="A", ror="03cve4549")
    >>> reg = apply_resolutions(Registry([e], lists=[], editions=[], version="v"),
    ...                         {"03cve4549": "I99065089"})
    >>> reg.by_openalex_id("I99065089")[0].entry_id
    'X:a'
    """
    changed = False
    entries = []
    for e in registry:
        oid = answers.get(e.ror) if e.ror else None
        if oid and oid not in e.openalex_ids:
            e = replace(e, openalex_ids=(*e.openalex_ids, oid),
                        provenance=f"{e.provenance}; openalex {oid}: resolved from ROR "
                                   f"{e.ror} through the OpenAlex API")
            changed = True
        entries.append(e)
    if not changed:
        return registry
    return Registry(entries, lists=registry.lists.values(), editions=registry.editions,
                    version=f"{registry.version}+resolved", built_from=registry.built_from)


def resolve_missing(
    registry: Registry,
    resolver: Callable[[str], str | None],
    cache: ResolutionCache,
    *,
    refresh: bool = False,
) -> tuple[Registry, dict[str, int | list[str]]]:
    """Ask for every ROR that has no OpenAlex ID yet (once), then apply all answers.

    Returns
    -------
    (registry, report)
        ``report`` counts asked, resolved, not found, and lists the entry IDs still
        without an OpenAlex ID.
    """
    todo = sorted({e.ror for e in registry if e.ror and not e.openalex_ids
                   and (refresh or e.ror not in cache.answers)})
    asked = found = 0
    for ror in todo:
        asked += 1
        try:
            cache.answers[ror] = resolver(ror)
        except RequestRejected as exc:
            if exc.status != 404:
                raise
            cache.answers[ror] = None
        found += cache.answers[ror] is not None
        if asked % 20 == 0:
            cache.save()  # keep what was learnt if the run stops
    cache.save()
    resolved = apply_resolutions(registry, cache.answers)
    unresolved = [e.entry_id for e in resolved if not e.openalex_ids]
    return resolved, {"asked": asked, "resolved_now": found, "not_found_now": asked - found,
                      "entries_without_openalex_id": len(unresolved),
                      "entries_with_ror_unresolved": sorted(
                          e.entry_id for e in resolved if e.ror and not e.openalex_ids)}


# --------------------------------------------------------------------------- reviewed ID links

LINK_STATUSES = ("candidate", "accepted", "rejected")


@dataclass(frozen=True, slots=True)
class IdLink:
    """A proposed tie between a registry institution and an OpenAlex / ROR identifier.

    ``method`` says how it was found (``exact_name_country``: a printed name equals an
    OpenAlex record's name, same country; ``exact_name_ror_record``: it equals a ROR
    record's name), ``confidence`` how strong that is; only ``accepted`` links (reviewed)
    are used for matching, ``candidate`` links wait for a decision.
    """

    link_id: str
    institution_key: str
    name: str
    country: str
    openalex_id: str
    ror: str
    method: str
    confidence: str
    status: str
    review_note: str
    evidence: str


def load_links(path: Path | None = None) -> list[IdLink]:
    """The bundled reviewed-links file (``tracker/data/id_links.csv``), or one at ``path``.

    Examples
    --------
    >>> links = {x.link_id: x for x in load_links()}
    >>> links["auto_sensetime_group_limited=ror:049wsmj07"].status
    'accepted'
    """
    import csv
    import io
    from importlib import resources

    if path is None:
        text = resources.files("tracker").joinpath("data/id_links.csv").read_text("utf-8")
    else:
        text = path.read_text("utf-8")
    return [IdLink(**{k: (v or "") for k, v in row.items()})
            for row in csv.DictReader(io.StringIO(text))]


def default_decisions_path() -> Path:
    """``$TRACKER_HOME/id_link_decisions.json``: this user's accept/reject decisions."""
    return default_cache_path().with_name("id_link_decisions.json")


@dataclass
class LinkDecisions:
    """A user's decisions on ID links (link ID → ``{"status", "note", "at"}``), and the
    candidate links ``tracker lists resolve --by-name`` found through the API (``found``,
    link ID → the link's fields)."""

    path: Path
    decisions: dict[str, dict[str, str]]
    found: dict[str, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path | None = None) -> LinkDecisions:
        p = path or default_decisions_path()
        try:
            doc = json.loads(p.read_text("utf-8"))
            return cls(p, dict(doc.get("decisions", {})), dict(doc.get("found", {})))
        except FileNotFoundError:
            return cls(p, {})
        except (OSError, ValueError) as exc:
            raise ValueError(f"{p}: cannot read the ID-link decisions ({exc})") from exc

    def decide(self, link_id: str, status: str, note: str) -> None:
        """Record ``accepted`` or ``rejected`` (with the reviewer's note) for a link."""
        if status not in ("accepted", "rejected"):
            raise ValueError(f"a decision is accepted or rejected, not {status!r}")
        if not note.strip():
            raise ValueError("a decision needs a note saying what was checked")
        self.decisions[link_id] = {"status": status, "note": note.strip(),
                                   "at": datetime.now(UTC).isoformat(timespec="seconds")}

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"decisions": dict(sorted(self.decisions.items())),
                                   "found": dict(sorted(self.found.items()))},
                                  indent=1), "utf-8")
        tmp.replace(self.path)


def effective_links(links: list[IdLink], decisions: LinkDecisions) -> list[IdLink]:
    """The bundled links plus those found through the API, with this user's decisions
    applied over their statuses."""
    out = []
    known = {x.link_id for x in links}
    found = [IdLink(**v) for k, v in sorted(decisions.found.items()) if k not in known]
    for x in [*links, *found]:
        d = decisions.decisions.get(x.link_id)
        if d:
            x = replace(x, status=d["status"], review_note=f"{d['note']} (user decision, "
                                                           f"{d.get('at', '')})")
        out.append(x)
    return out


def apply_link_decisions(registry: Registry, decisions: LinkDecisions,
                         links: list[IdLink] | None = None) -> Registry:
    """The registry with the IDs of links this user accepted added to the institution's
    entries (and those of bundled links this user rejected removed).

    Bundled accepted links are already in the bundled registry; this applies only what
    the user changed.  Each added ID says so in the entry's provenance.
    """
    bundled = {x.link_id: x for x in (load_links() if links is None else links)}
    for k, v in decisions.found.items():
        bundled.setdefault(k, IdLink(**v))
    if not decisions.decisions:
        return registry
    add: dict[str, list[IdLink]] = {}
    drop: dict[str, list[IdLink]] = {}
    for link_id, d in decisions.decisions.items():
        x = bundled.get(link_id)
        if x is None or d["status"] == x.status:
            continue
        (add if d["status"] == "accepted" else drop).setdefault(x.institution_key,
                                                                []).append(x)
    if not add and not drop:
        return registry
    entries = []
    for e in registry:
        for x in add.get(e.institution_key, ()):
            oids = (*e.openalex_ids, x.openalex_id) if x.openalex_id and \
                x.openalex_id not in e.openalex_ids else e.openalex_ids
            e = replace(e, openalex_ids=oids, ror=e.ror or x.ror or None,
                        provenance=f"{e.provenance}; ID link {x.link_id} accepted by the "
                                   f"user: {decisions.decisions[x.link_id]['note']}")
        for x in drop.get(e.institution_key, ()):
            e = replace(e, openalex_ids=tuple(o for o in e.openalex_ids if o != x.openalex_id),
                        ror=None if x.ror and e.ror == x.ror else e.ror,
                        provenance=f"{e.provenance}; ID link {x.link_id} rejected by the "
                                   f"user: {decisions.decisions[x.link_id]['note']}")
        entries.append(e)
    return Registry(entries, lists=registry.lists.values(), editions=registry.editions,
                    version=f"{registry.version}+links", built_from=registry.built_from)


def search_name_links(
    registry: Registry,
    search: Callable[[str, str], list[dict[str, object]]],
    decisions: LinkDecisions,
    *,
    limit: int | None = None,
) -> dict[str, int]:
    """Ask OpenAlex for institutions named like the listed institutions that have no ID.

    For every institution key with no ROR and no OpenAlex ID on any list (and a country),
    ``search(name, country_code)`` returns OpenAlex institution records (e.g. the
    ``display_name.search`` filter with ``country_code``).  A record whose display name or
    alternative name equals one of the names the lists print, after normalisation, in the
    same country, is one *candidate* link (method ``api_name_country``): it is kept in
    ``decisions.found`` and used only once accepted (``tracker lists accept-link``).
    Several such records for one name: every one is a candidate (the reviewer picks).

    Returns counts: ``asked``, ``candidates`` (new), ``keys_without_id``.
    """
    from tracker.names import normalize

    keys: dict[str, list[ListEntry]] = {}
    for e in registry:
        keys.setdefault(e.institution_key or e.entry_id, []).append(e)
    todo = [(k, es) for k, es in sorted(keys.items())
            if not any(e.ror or e.openalex_ids for e in es)
            and any(e.country for e in es)
            and not any(e.entry_type in ("talent_program", "address") for e in es)]
    asked = new = 0
    for key, es in todo:
        if limit is not None and asked >= limit:
            break
        main = next((e for e in es if e.is_designation), es[0])
        cc = main.country or ""
        printed = {normalize(n) for e in es for n in (e.name, *e.aliases)} - {""}
        asked += 1
        for rec in search(main.name, cc):
            oid = str(rec.get("id") or "").rsplit("/", 1)[-1]
            alts = rec.get("display_name_alternatives")
            names = [str(rec.get("display_name") or "")] + (
                [str(x) for x in alts] if isinstance(alts, list) else [])
            same = [n for n in names if n and normalize(n) in printed]
            if not oid.startswith("I") or not same or (rec.get("country_code") or "") != cc:
                continue
            link_id = f"{key}={oid}"
            if link_id in decisions.found:
                continue
            ror = str(rec.get("ror") or "").rsplit("/", 1)[-1]
            decisions.found[link_id] = {
                "link_id": link_id, "institution_key": key, "name": main.name,
                "country": cc, "openalex_id": oid, "ror": ror,
                "method": "api_name_country", "confidence": "medium", "status": "candidate",
                "review_note": "",
                "evidence": f"OpenAlex institution {oid} is named {same[0]!r} ({cc}), a name "
                            f"{main.list} prints for '{main.name}'",
            }
            new += 1
    return {"asked": asked, "candidates": new, "keys_without_id": len(todo)}
