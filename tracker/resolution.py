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
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from tracker.sources.transport import RequestRejected
from tracker.watchlists import Registry

__all__ = ["ResolutionCache", "Resolver", "apply_resolutions", "default_cache_path",
           "resolve_missing"]


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
