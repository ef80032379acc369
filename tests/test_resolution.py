"""ROR → OpenAlex ID resolution through the API (local OpenAlex-compatible server), cached."""

from __future__ import annotations

from dataclasses import replace

from tracker.cli import main
from tracker.resolution import ResolutionCache, resolve_missing
from tracker.sources.openalex import OpenAlexSource
from tracker.watchlists import Registry, load_registry


def _stripped(reg: Registry, rors: set[str]) -> Registry:
    """The registry with the OpenAlex IDs of these RORs' entries removed."""
    return Registry([replace(e, openalex_ids=()) if e.ror in rors else e for e in reg],
                    lists=reg.lists.values(), editions=reg.editions, version="test")


def test_resolves_through_the_api_once_and_matches_the_bundled_ids(oa, tmp_path):
    bundled = load_registry()
    known = {"03cve4549", "02v51f717", "0220qvk04"}  # Tsinghua, Peking, SJTU: served
    expected = {e.entry_id: e.openalex_ids for e in bundled if e.ror in known}
    assert expected
    reg = _stripped(bundled, known)
    source = OpenAlexSource(base_url=oa.url)

    def one(ror: str) -> str | None:
        return source.resolve_org(f"https://ror.org/{ror}").ids[0]

    cache = ResolutionCache.load(tmp_path / "ids.json")
    resolved, report = resolve_missing(reg, one, cache)
    got = {e.entry_id: e.openalex_ids for e in resolved if e.entry_id in expected}
    assert got == expected  # the API agrees with what the build found in recorded works
    # RORs the server does not know are asked, answered 404 and reported, not guessed.
    assert report["not_found_now"] == report["asked"] - len(known) > 0
    assert report["entries_with_ror_unresolved"]
    calls = len(oa.requests.snapshot())
    # A second run asks nothing: every answer, found or not, was kept.
    again, report2 = resolve_missing(reg, one, ResolutionCache.load(tmp_path / "ids.json"))
    assert report2["asked"] == 0 and len(oa.requests.snapshot()) == calls
    assert {e.entry_id: e.openalex_ids for e in again if e.entry_id in expected} == expected


def test_lists_resolve_command(oa, capsys):
    code = main(["lists", "resolve", "--openalex-url", oa.url])
    out = capsys.readouterr().out
    assert code == 0
    assert "asked OpenAlex about" in out and "entries have no OpenAlex ID" in out
    assert ResolutionCache.load().answers  # kept under TRACKER_HOME
