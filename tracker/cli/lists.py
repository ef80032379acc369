"""``tracker lists``: what the bundled registry holds, one entry, an edition diff, and a
check of a user watchlist.

Errors print one line on stderr (``tracker: error: ...``) and exit with code 2; no
traceback is ever shown.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Annotated, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from tracker.cli import APP_SETTINGS
from tracker.watchlists import (
    STALE_AFTER_DAYS,
    Institution,
    ListEntry,
    Registry,
    RegistryError,
    data_age_days,
    diff_editions,
    find,
    is_stale,
    load_registry,
    load_user_watchlist,
)

__all__ = ["EXIT_BAD_INPUT", "lists_app"]

EXIT_BAD_INPUT = 2

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

lists_app = typer.Typer(
    help=(
        "The bundled restricted-institution lists: editions, entry counts, data age; "
        "one entry; an edition diff; a check of your own watchlist.\n\n"
        "Examples:\n\n"
        "  tracker lists\n\n"
        "  tracker lists show 'Harbin Institute of Technology'\n\n"
        "  tracker lists diff DOD_1286 FY2024 FY2025\n\n"
        "  tracker lists check-user my_watchlist.csv"
    ),
    invoke_without_command=True,
    no_args_is_help=False,
    **APP_SETTINGS,
)

T = TypeVar("T")

RegistryOpt = Annotated[Path | None, typer.Option(
    "--registry", help="Use this registry.json instead of the bundled one.")]


def _fail(message: str) -> NoReturn:
    err.print(f"tracker: error: {message}", markup=False)
    raise typer.Exit(EXIT_BAD_INPUT)


def _guard(fn: Callable[[], T]) -> T:
    """Run ``fn``; turn every failure into one line on stderr and exit code 2."""
    try:
        return fn()
    except typer.Exit:
        raise
    except RegistryError as exc:
        _fail(str(exc))
    except Exception as exc:  # never a traceback in front of a user
        _fail(f"{type(exc).__name__}: {exc}")


def _registry(path: Path | None) -> Registry:
    return _guard(lambda: load_registry(path))


def _today(value: str | None) -> date:
    if not value:
        return date.today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        _fail(f"--today: not a date in the form YYYY-MM-DD: {value!r}")


@lists_app.callback()
def lists_overview(
    ctx: typer.Context,
    max_age_days: Annotated[int, typer.Option(
        help="Warn when a list's data is older than this many days.")] = STALE_AFTER_DAYS,
    registry: RegistryOpt = None,
    today: Annotated[str | None, typer.Option(
        help="Compute data ages as of this date (YYYY-MM-DD; default: today).")] = None,
) -> None:
    """Each list with its editions, entry counts, data date and age.

    A warning is printed for every list whose data is older than --max-age-days (or of
    unknown date): re-check it against the primary source before relying on it.

    Examples:

        tracker lists

        tracker lists --max-age-days 180
    """
    if ctx.invoked_subcommand is not None:
        return
    if max_age_days < 0:
        _fail("--max-age-days must be 0 or more")
    reg = _registry(registry)
    now = _today(today)
    cover = id_coverage(reg)
    lists_t = Table(title=f"Lists in registry {reg.version}")
    for col in ("list", "kind", "data date", "age (days)", "entries", "ROR", "OpenAlex",
                "any ID", "dated"):
        lists_t.add_column(col, no_wrap=True)
    eds_t = Table(title="Editions (published: sourced date, else unknown)")
    for col in ("list", "edition", "published", "entries"):
        eds_t.add_column(col, no_wrap=True)
    stale: list[str] = []
    for code, info in sorted(reg.lists.items()):
        age = data_age_days(info.data_date, now)
        if is_stale(info.data_date, max_age_days, now):
            stale.append(code)
        c = cover.get(code, {})
        lists_t.add_row(code, "designation" if info.is_designation else "context",
                        info.data_date.isoformat() if info.data_date else "unknown",
                        str(age) if age is not None else "unknown", str(c.get("entries", 0)),
                        str(c.get("ror", 0)), str(c.get("openalex", 0)),
                        str(c.get("any_id", 0)), str(c.get("dated", 0)))
        eds = [ed for ed in reg.editions if ed.list == code]
        for i, ed in enumerate(eds):
            eds_t.add_row(code if i == 0 else "", ed.edition,
                          ed.published_on.isoformat() if ed.published_on else "unknown",
                          str(ed.entry_count), end_section=i == len(eds) - 1)
    out.print(lists_t)
    out.print(eds_t)
    for code in stale:
        info = reg.lists[code]
        age = data_age_days(info.data_date, now)
        when = f"{age} days old" if age is not None else "of unknown date"
        err.print(f"warning: {code} data is {when} (more than {max_age_days} days): re-check "
                  f"against {info.source_url or 'the primary source'}", markup=False)
    out.print("A list hit is evidence for review, not a determination; an entry without a "
              "sourced date stays undated.", markup=False)


@lists_app.command("show")
def show(
    query: Annotated[str, typer.Argument(
        help="Entry ID, institution key, ROR, OpenAlex ID, or a name or alias.")],
    registry: RegistryOpt = None,
) -> None:
    """Show each institution matching a name, alias, ROR, OpenAlex ID or entry ID, with
    all its list memberships and identifiers (one institution, several lists).

    Examples:

        tracker lists show 'Harbin Institute of Technology'

        tracker lists show https://ror.org/01yqg2h08

        tracker lists show BIS_ENTITY_LIST:beihang
    """
    reg = _registry(registry)
    if not query.strip():
        _fail("give a name, alias, ROR, OpenAlex ID or entry ID")
    hits = _guard(lambda: find(reg, query))
    if not hits:
        _fail(f"no list entry matches {query!r} (this is not a clearance: try another "
              "spelling, the ROR ID or the OpenAlex ID)")
    # one institution at a time, with all its memberships (whichever one matched)
    keys = list(dict.fromkeys(e.institution_key or e.entry_id for e in hits))
    links = _institution_links()
    for key in keys:
        inst = reg.institution(key)
        if inst is None:   # an entry without an institution key
            for e in hits:
                if e.entry_id == key:
                    _print_entry(e)
            continue
        former = {m.split(":", 1)[1] for m in inst.merged_from}
        _print_institution(inst, [x for k in (key, *sorted(former)) for x in links.get(k, [])])
        for e in inst.memberships:
            _print_entry(e)


def id_coverage(reg: Registry) -> dict[str, dict[str, int]]:
    """Per list: entries, with a ROR, with an OpenAlex ID, with either, with a listing date.

    Examples
    --------
    >>> c = id_coverage(load_registry())
    >>> c["CA_NRO"]["entries"], c["CA_NRO"]["dated"]
    (103, 103)
    """
    out: dict[str, dict[str, int]] = {}
    for e in reg.entries:
        c = out.setdefault(e.list, {"entries": 0, "ror": 0, "openalex": 0, "any_id": 0,
                                    "dated": 0})
        c["entries"] += 1
        c["ror"] += e.ror is not None
        c["openalex"] += bool(e.openalex_ids)
        c["any_id"] += bool(e.ror or e.openalex_ids)
        c["dated"] += e.listed_on is not None
    return out


def _when(e: ListEntry) -> str:
    if e.listed_on is None:
        return "undated"
    if e.listed_on_kind == "on_list_by":
        return f"on the list by {e.listed_on.isoformat()}"
    return f"listed on {e.listed_on.isoformat()}"


def _institution_links() -> dict[str, list[str]]:
    """Institution key → its ID links in words (bundled, with this user's decisions)."""
    from tracker.resolution import LinkDecisions, effective_links, load_links

    try:
        links = effective_links(load_links(), LinkDecisions.load())
    except (OSError, ValueError) as exc:
        err.print(f"warning: ID links not shown ({exc})", markup=False)
        return {}
    out: dict[str, list[str]] = {}
    for x in links:
        ident = ", ".join(i for i in (x.openalex_id, f"ror {x.ror}" if x.ror else "") if i)
        out.setdefault(x.institution_key, []).append(
            f"{x.link_id}: {ident} ({x.method}, {x.confidence}; {x.status}"
            f"{': ' + x.review_note if x.review_note else ''})")
    return out


def _print_institution(inst: Institution, links: list[str] | None = None) -> None:
    t = Table(title=f"institution {inst.key}: {inst.name}", show_header=False)
    t.add_column("field", style="bold")
    t.add_column("value", overflow="fold")
    lists = "; ".join(
        f"{e.list} ({_when(e)}"
        f"{'' if e.is_designation else ', context'})" for e in inst.memberships)
    for k, v in (("country", inst.country or ""), ("memberships", lists),
                 ("ROR", ", ".join(inst.rors) or "none"),
                 ("OpenAlex IDs", ", ".join(inst.openalex_ids) or "none"),
                 ("merged records", ", ".join(inst.merged_from)),
                 ("ID links", "; ".join(links or []))):
        if v:
            t.add_row(k, v)
    out.print(t)


def _print_entry(e: ListEntry) -> None:
    t = Table(title=e.entry_id, show_header=False)
    t.add_column("field", style="bold")
    t.add_column("value", overflow="fold")
    rows: list[tuple[str, str]] = [
        ("list", e.list + ("" if e.is_designation else " (context, not a designation)")),
        ("name", e.name),
        ("aliases", "; ".join(e.aliases)),
        ("Chinese names", "; ".join(e.aliases_zh)),
        ("generic aliases (need context)", "; ".join(e.generic_aliases)),
        ("country", e.country or ""),
        ("type", e.entry_type),
        ("ROR", e.ror or "none"),
        ("OpenAlex IDs", ", ".join(e.openalex_ids) or "none"),
        ("merged from", ", ".join(e.merged_from)),
        ("parent", e.parent_key or ""),
        ("covers sub-units", "yes" if e.covers_subunits else "no"),
        ("editions", ", ".join(e.editions)),
        ("listed on", f"{e.listed_on.isoformat()} ({e.listed_on_basis}; {e.listed_on_source})"
         if e.listed_on else "unknown (no sourced date)"),
        ("list exists since", f"{e.list_since.isoformat()} ({e.list_since_basis})"
         if e.list_since else ""),
        ("removed on", f"{e.removed_on.isoformat()} ({e.removed_on_source})"
         if e.removed_on else "no removal date sourced"),
        ("citations", "; ".join(e.citations)),
        ("source", e.source_url),
        ("provenance", e.provenance),
        ("licence", e.licence),
        ("notes", e.notes),
    ]
    for k, v in rows:
        if v:
            t.add_row(k, v)
    out.print(t)
    if e.dates:
        d = Table(title=f"{e.entry_id}: every sourced date")
        for col in ("date", "basis", "citation", "source"):
            d.add_column(col, overflow="fold")
        for f in e.dates:
            d.add_row(f.date.isoformat(), f.basis, f.citation, f.source)
        out.print(d)


@lists_app.command("diff")
def diff(
    list_code: Annotated[str, typer.Argument(metavar="LIST", help="List code, e.g. DOD_1286.")],
    edition_a: Annotated[str, typer.Argument(help="Older edition, e.g. FY2024.")],
    edition_b: Annotated[str, typer.Argument(help="Newer edition, e.g. FY2025.")],
    registry: RegistryOpt = None,
) -> None:
    """Entries added and removed between two editions of a list.

    Examples:

        tracker lists diff DOD_1286 FY2024 FY2025

        tracker lists diff DOD_1260H 2025-01-07 2026-06-08
    """
    reg = _registry(registry)
    added, removed = _guard(lambda: diff_editions(reg, list_code.strip().upper(), edition_a,
                                                  edition_b))
    for title, rows in ((f"added in {edition_b}", added), (f"removed since {edition_a}",
                                                           removed)):
        t = Table(title=f"{list_code.upper()}: {len(rows)} {title}")
        t.add_column("name", overflow="fold", ratio=3)
        t.add_column("country", no_wrap=True)
        t.add_column("type", no_wrap=True)
        t.add_column("entry", overflow="fold", ratio=2)
        for e in rows:
            t.add_row(e.name, e.country or "", e.entry_type, e.entry_id)
        out.print(t)
    out.print("Not printed in an edition is not proof of removal: check the edition's basis "
              "(`tracker lists`) and the primary source.", markup=False)


@lists_app.command("check-user")
def check_user(
    file: Annotated[Path, typer.Argument(help="Your watchlist: .csv, .yaml or .yml.")],
) -> None:
    """Validate your own watchlist (CSV or YAML) and summarise it.

    Problems are reported as one line naming the file, line and field.

    Examples:

        tracker lists check-user my_watchlist.csv

        tracker lists check-user my_watchlist.yaml
    """
    reg = _guard(lambda: load_user_watchlist(file))
    t = Table(title=f"{file}: {len(reg)} entries, valid")
    for col in ("entry", "name", "ROR", "OpenAlex IDs", "listed on"):
        t.add_column(col, overflow="fold")
    for e in reg.entries:
        t.add_row(e.entry_id, e.name, e.ror or "", ", ".join(e.openalex_ids),
                  e.listed_on.isoformat() if e.listed_on else "unknown")
    out.print(t)


@lists_app.command("resolve")
def resolve(
    openalex_url: Annotated[str, typer.Option(
        envvar="TRACKER_OPENALEX_URL",
        help="OpenAlex-compatible server. The API key is read from OPENALEX_API_KEY.")]
    = "https://api.openalex.org",
    refresh: Annotated[bool, typer.Option(help="Ask again for RORs asked before.")] = False,
    by_name: Annotated[bool, typer.Option(
        "--by-name", help="Also search OpenAlex by name (and country) for institutions with "
        "no ROR and no OpenAlex ID; what is found is a candidate link to review.")] = False,
    limit: Annotated[int | None, typer.Option(
        help="With --by-name: ask about at most this many institutions (one list call "
        "each).")] = None,
    registry: RegistryOpt = None,
) -> None:
    """Look up OpenAlex IDs for list entries that have a ROR ID but no OpenAlex ID.

    Each ROR is asked once (``/institutions/ror:...``, a free single-entity call); the
    answers are kept in $TRACKER_HOME/resolved_openalex_ids.json and used by every later
    screen. Entries still unresolved are listed. With --by-name, institutions without any
    ID are searched by name and country; exact-name records become candidate links
    (tracker lists links), used only once you accept them.

    Examples:

        tracker lists resolve

        tracker lists resolve --by-name --limit 50
    """
    import os

    from tracker.resolution import ResolutionCache, resolve_missing
    from tracker.sources.openalex import OpenAlexSource

    reg = _registry(registry)
    source = _guard(lambda: OpenAlexSource(base_url=openalex_url,
                                           api_key=os.environ.get("OPENALEX_API_KEY")))

    def one(ror: str) -> str | None:
        subject = source.resolve_org(f"https://ror.org/{ror}")
        return subject.ids[0] if subject.ids else None

    cache = _guard(ResolutionCache.load)
    cache.source = openalex_url
    _, report = _guard(lambda: resolve_missing(reg, one, cache, refresh=refresh))
    out.print(f"asked OpenAlex about {report['asked']} ROR IDs: {report['resolved_now']} "
              f"resolved, {report['not_found_now']} not found ({source.stats.calls} calls); "
              f"answers kept in {cache.path}")
    still = report["entries_with_ror_unresolved"]
    assert isinstance(still, list)
    if by_name:
        import pyalex

        from tracker.resolution import LinkDecisions, search_name_links
        from tracker.sources.openalex import routed

        if limit is not None and limit < 1:
            _fail("--limit must be 1 or more")

        def search(name: str, country: str) -> list[dict[str, object]]:
            clean = " ".join(re.sub(r"[^\w\s.'-]", " ", name).split())
            flt: dict[str, str] = {"display_name.search": clean}
            if country:
                flt["country_code"] = country
            assert source.session is not None
            with routed(source.session):
                return [dict(x) for x in pyalex.Institutions().filter(**flt).get(per_page=10)]

        decisions = _guard(LinkDecisions.load)
        found = _guard(lambda: search_name_links(reg, search, decisions, limit=limit))
        _guard(decisions.save)
        out.print(f"searched OpenAlex by name for {found['asked']} of "
                  f"{found['keys_without_id']} institutions without any ID: "
                  f"{found['candidates']} new candidate links (review them: tracker lists "
                  f"links); kept in {decisions.path}")
    out.print(f"{report['entries_without_openalex_id']} entries have no OpenAlex ID "
              f"(matched by ROR or name only); {len(still)} of them have a ROR that OpenAlex "
              f"did not resolve" + (": " + ", ".join(still[:20]) + (" ..." if len(still) > 20
                                                                     else "") if still else ""))


@lists_app.command("links")
def links(
    status: Annotated[str, typer.Option(
        help="Show links with this status: candidate, accepted, rejected or all.")]
    = "candidate",
) -> None:
    """ID links between listed institutions and OpenAlex / ROR records, with their review.

    Only accepted links (reviewed) and exact identifier pairs are used for matching;
    candidates wait for a decision (tracker lists accept-link / reject-link). Your
    decisions are kept in $TRACKER_HOME/id_link_decisions.json.

    Examples:

        tracker lists links

        tracker lists links --status all
    """
    from tracker.resolution import LINK_STATUSES, LinkDecisions, effective_links, load_links

    if status not in (*LINK_STATUSES, "all"):
        _fail(f"--status must be one of {', '.join(LINK_STATUSES)} or all, not {status!r}")
    rows = _guard(lambda: effective_links(load_links(), LinkDecisions.load()))
    shown = [x for x in rows if status == "all" or x.status == status]
    t = Table(title=f"{len(shown)} ID links ({status}) of {len(rows)}")
    for col in ("link", "institution", "OpenAlex", "ROR", "method", "confidence", "status",
                "evidence / review"):
        t.add_column(col, overflow="fold")
    for x in shown:
        t.add_row(x.link_id, f"{x.name} ({x.country})", x.openalex_id, x.ror, x.method,
                  x.confidence, x.status, x.review_note or x.evidence)
    out.print(t)


def _decide(link_id: str, status: str, note: str) -> None:
    from tracker.resolution import LinkDecisions, load_links

    known = {x.link_id for x in _guard(load_links)}
    if link_id not in known:
        _fail(f"no ID link {link_id!r} (see `tracker lists links --status all`)")
    decisions = _guard(LinkDecisions.load)
    _guard(lambda: decisions.decide(link_id, status, note))
    _guard(decisions.save)
    out.print(f"{link_id}: {status} ({note}); kept in {decisions.path}", markup=False)


@lists_app.command("accept-link")
def accept_link(
    link_id: Annotated[str, typer.Argument(help="The link, as `tracker lists links` shows.")],
    note: Annotated[str, typer.Option(help="What you checked (required).")],
) -> None:
    """Accept an ID link after checking it: its IDs are then used for matching.

    Example:

        tracker lists accept-link 'auto_soochow_university=I3923682' --note 'Suzhou, CN'
    """
    _decide(link_id, "accepted", note)


@lists_app.command("reject-link")
def reject_link(
    link_id: Annotated[str, typer.Argument(help="The link, as `tracker lists links` shows.")],
    note: Annotated[str, typer.Option(help="Why it is not the same institution (required).")],
) -> None:
    """Reject an ID link: its IDs are not used (a bundled accepted link is withdrawn).

    Example:

        tracker lists reject-link 'auto_soochow_university=I3923682' --note 'Taipei campus'
    """
    _decide(link_id, "rejected", note)
