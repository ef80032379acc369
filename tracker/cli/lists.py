"""``tracker lists``: what the registry version in force holds, one entry, an edition diff, and a
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
from rich import box
from rich.console import Console
from rich.table import Table

from tracker.cli.common import (
    APP_SETTINGS,
    EXIT_CHANGED,
    EXIT_INPUT,
    EXIT_REGISTRY,
    EXIT_RESUMABLE,
    OutputConsole,
)
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

__all__ = ["list_format", "lists_app", "markdown_table", "overview_rows"]

out = OutputConsole(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

lists_app = typer.Typer(
    help=(
        "The bundled restricted-institution lists: editions, entry counts, data age; "
        "one entry; an edition diff; a check of your own watchlist.\n\n"
        "Examples:\n\n"
        "  tracker lists\n\n"
        "  tracker lists show 'Harbin Institute of Technology'\n\n"
        "  tracker lists diff DOD_1286 FY2024 FY2025\n\n"
        "  tracker lists check-user my_watchlist.csv\n\n"
        "  tracker lists build --out tracker/data/registry.json   # maintainers"
    ),
    invoke_without_command=True,
    no_args_is_help=False,
    **APP_SETTINGS,
)

T = TypeVar("T")

RegistryOpt = Annotated[Path | None, typer.Option(
    "--registry", help="Use this registry.json instead of the version in force.")]
FromVersionOpt = Annotated[str | None, typer.Option(
    "--from-version", help="Registry version (number or ID; 0 is the bundled one).")]
ToVersionOpt = Annotated[str | None, typer.Option(
    "--to-version", help="Registry version (number or ID; default: the one in force).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _fail(message: str) -> NoReturn:
    err.print(f"tracker: error: {message}", markup=False)
    raise typer.Exit(EXIT_INPUT)


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
    """The registry at ``path``, else the version in force (``tracker lists versions``;
    version 0 is the bundled one).  A version that cannot be loaded exits with code 4."""
    if path is not None:
        return _guard(lambda: load_registry(path))
    from tracker.registry_versions import VersionStore

    return _versions_guard(lambda: VersionStore().load())


def _version_label(reg: Registry, path: Path | None) -> str:
    if path is not None:
        return f"registry {reg.version} ({path})"
    from tracker.registry_versions import VersionStore

    info = _versions_guard(lambda: VersionStore().current())
    return f"registry version {info.number} ({reg.version}, in force)"


#: How each list reaches the registry: the file format read (lists of the bundled build;
#: lists added by an update or the shipped official files say it in their edition).
BUILD_FORMATS: dict[str, str] = {
    "BIS_ENTITY_LIST": "eCFR text, parsed (nsfreg JSON)",
    "BIS_MEU": "eCFR text, parsed (nsfreg JSON)",
    "DOD_1286": "OpenSanctions CSV transcription of the PDFs",
    "DOD_1260H": "OpenSanctions CSV transcription of the FR/PDF lists",
    "OFAC_NS_CMIC": "OFAC PDF, extracted (nsfreg JSON)",
    "CA_NRO": "Government of Canada page, tabulated (CSV)",
    "ASPI_UNITRACKER": "MISP galaxy JSON (ASPI scrape)",
}
SOURCE_FORMATS: dict[str, str] = {
    "csl_csv": "ITA Consolidated Screening List CSV",
    "bis_dpl": "BIS dpl.txt (tab-separated)",
    "fcc_covered": "FCC Covered List table",
    "dhs_uflpa": "DHS UFLPA Entity List page (HTML)",
    "os_targets": "OpenSanctions CSV",
    "opensanctions": "OpenSanctions CSV (CC BY-NC 4.0)",
}


def list_format(reg: Registry, code: str) -> str:
    """The format a list was read from: the parser of its newest edition when it came
    from an official file, else the bundled build's input.

    Examples
    --------
    >>> reg = load_registry()
    >>> list_format(reg, "DHS_UFLPA"), list_format(reg, "DOD_1286")
    ('DHS UFLPA Entity List page (HTML)', 'OpenSanctions CSV transcription of the PDFs')
    """
    eds = [ed for ed in reg.editions if ed.list == code]
    for ed in reversed(eds):
        parser = ed.edition.rsplit("-", 3)[0] if ed.edition.count("-") >= 3 else ""
        if parser in SOURCE_FORMATS:
            return SOURCE_FORMATS[parser]
        if ed.edition.endswith("-undated") and ed.edition[:-8] in SOURCE_FORMATS:
            return SOURCE_FORMATS[ed.edition[:-8]]
    return BUILD_FORMATS.get(code, "unknown")


def overview_rows(reg: Registry, now: date, max_age_days: int = STALE_AFTER_DAYS
                  ) -> list[dict[str, object]]:
    """Per list: source, format, entries, with IDs, dated, data date and age on ``now``.

    Examples
    --------
    >>> rows = {r["list"]: r for r in overview_rows(load_registry(), date(2026, 12, 4))}
    >>> rows["FCC_COVERED"]["data_date"], rows["FCC_COVERED"]["age_days"]
    ('2026-07-28', 129)
    """
    cover = id_coverage(reg)
    rows: list[dict[str, object]] = []
    for code, info in sorted(reg.lists.items()):
        c = cover.get(code, {})
        rows.append({
            "list": code, "name": info.name, "authority": info.authority,
            "kind": "designation" if info.is_designation else "context",
            "source_url": info.source_url, "format": list_format(reg, code),
            "entries": c.get("entries", 0), "with_ids": c.get("any_id", 0),
            "ror": c.get("ror", 0), "openalex": c.get("openalex", 0),
            "dated": c.get("dated", 0),
            "data_date": info.data_date.isoformat() if info.data_date else None,
            "age_days": data_age_days(info.data_date, now),
            "stale": is_stale(info.data_date, max_age_days, now),
            "licence": info.licence,
        })
    return rows


def markdown_table(rows: list[dict[str, object]], as_of: date) -> str:
    """The overview as a Markdown table (for a README)."""
    head = ("| list | source | format | entries | with IDs | dated | data date | "
            f"age on {as_of.isoformat()} (days) |")
    lines = [head, "|---|---|---|---:|---:|---:|---|---:|"]
    for r in rows:
        src = str(r["name"])
        if r["source_url"]:
            src = f"[{src}]({r['source_url']})"
        age = r["age_days"] if r["age_days"] is not None else "unknown"
        lines.append(f"| `{r['list']}` | {src} | {r['format']} | {r['entries']} | "
                     f"{r['with_ids']} | {r['dated']} | {r['data_date'] or 'unknown'} | "
                     f"{age} |")
    return "\n".join(lines) + "\n"


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
    as_json: JsonOpt = False,
    markdown: Annotated[bool, typer.Option(
        "--markdown", help="Print the lists as a Markdown table (source, format, entries, "
        "with IDs, dated, data date, age).")] = False,
) -> None:
    """Each list of the registry version in force with its source, format, editions,
    entries (with IDs, dated), data date and age.

    A warning is printed for every list whose data is older than --max-age-days (or of
    unknown date): re-check it against the primary source before relying on it.

    Examples:

        tracker lists

        tracker lists --max-age-days 180

        tracker lists --markdown --today 2026-12-04
    """
    if ctx.invoked_subcommand is not None:
        return
    if max_age_days < 0:
        _fail("--max-age-days must be 0 or more")
    reg = _registry(registry)
    now = _today(today)
    label = _version_label(reg, registry)
    rows = overview_rows(reg, now, max_age_days)
    if as_json:
        import json

        out.print(json.dumps({"registry": label, "version": reg.version,
                              "as_of": now.isoformat(), "lists": rows}, indent=2),
                  markup=False)
        return
    if markdown:
        out.print(markdown_table(rows, now), markup=False, end="")
        return
    cover = id_coverage(reg)
    # fits an 80-column terminal: light borders, context lists marked rather than a column
    lists_t = Table(title=f"Lists in {label}", box=box.SIMPLE_HEAD, show_edge=False,
                    padding=(0, 1, 0, 0),
                    caption="* a context list, not a designation.  age: days since the data date.\n"
                    "ROR, OpenAlex, any ID: entries with that identifier.",
                    caption_justify="left")
    for col in ("list", "data date", "age", "entries", "ROR", "OpenAlex", "any ID",
                "dated"):
        lists_t.add_column(col, no_wrap=True, justify="left" if col in ("list", "data date")
                           else "right")
    eds_t = Table(title="Editions (published: sourced date, else unknown)")
    for col in ("list", "edition", "published", "entries"):
        eds_t.add_column(col, no_wrap=True)
    stale: list[str] = []
    for code, info in sorted(reg.lists.items()):
        age = data_age_days(info.data_date, now)
        if is_stale(info.data_date, max_age_days, now):
            stale.append(code)
        c = cover.get(code, {})
        lists_t.add_row(code if info.is_designation else f"{code} *",
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
    non_commercial = sorted(c for c, i in reg.lists.items() if "BY-NC" in (i.licence or ""))
    if non_commercial:
        out.print(f"Licence: {', '.join(non_commercial)} rest on OpenSanctions data, CC BY-NC "
                  "4.0 (non-commercial use; https://www.opensanctions.org/licensing/).",
                  markup=False)
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
    list_code: Annotated[str | None, typer.Argument(
        metavar="LIST", help="List code, e.g. DOD_1286.")] = None,
    edition_a: Annotated[str | None, typer.Argument(help="Older edition, e.g. FY2024.")] = None,
    edition_b: Annotated[str | None, typer.Argument(help="Newer edition, e.g. FY2025.")] = None,
    registry: RegistryOpt = None,
    from_version: FromVersionOpt = None,
    to_version: ToVersionOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Entries added and removed between two editions of a list, or (with
    --from-version/--to-version) added, removed and changed between two registry versions.

    Examples:

        tracker lists diff DOD_1286 FY2024 FY2025

        tracker lists diff DOD_1260H 2025-01-07 2026-06-08

        tracker lists diff --from-version 1 --to-version 2 --json
    """
    if from_version is not None or to_version is not None:
        version_diff(from_version, to_version, list_code, as_json)
        return
    if list_code is None or edition_a is None or edition_b is None:
        _fail("give LIST EDITION_A EDITION_B, or --from-version/--to-version")
    reg = _registry(registry)
    added, removed = _guard(lambda: diff_editions(reg, list_code.strip().upper(), edition_a,
                                                  edition_b))
    for title, rows in ((f"added in {edition_b}", added), (f"removed since {edition_a}",
                                                           removed)):
        t = Table(title=f"{list_code.upper()}: {len(rows):,} {title}")
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
    t = Table(title=f"{file}: {len(reg):,} entries, valid")
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
              f"(matched by ROR or name only); {len(still):,} of them have a ROR that OpenAlex "
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
    reg = _registry(None)
    held: dict[str, list[str]] = {}
    for e in reg.entries:
        held.setdefault(e.institution_key, []).append(e.list)
    shown = [x for x in rows if status == "all" or x.status == status]
    t = Table(title=f"{len(shown):,} ID links ({status}) of {len(rows):,}; lists as of "
                    f"{_version_label(reg, None)}")
    for col in ("link", "institution", "lists", "OpenAlex", "ROR", "method", "confidence",
                "status", "evidence / review"):
        t.add_column(col, overflow="fold")
    for x in shown:
        on = ", ".join(sorted(set(held.get(x.institution_key, [])))) or \
            "not in this version"
        t.add_row(x.link_id, f"{x.name} ({x.country})", on, x.openalex_id, x.ror, x.method,
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


# --------------------------------------------------------------------------- list updates
# ``tracker lists update``, ``versions`` and the version diff: registry versions under
# $TRACKER_HOME/registry (see tracker.registry_versions).


def _stop(message: str, code: int) -> NoReturn:
    err.print(f"tracker: error: {message}", markup=False)
    raise typer.Exit(code)


def _versions_guard(fn: Callable[[], T]) -> T:
    from tracker.listsources import SourceFileError
    from tracker.registry_versions import UpdateRefused
    from tracker.sources.lists import ListFetchFailed

    try:
        return fn()
    except typer.Exit:
        raise
    except (SourceFileError, UpdateRefused) as exc:
        _stop(f"{exc} (the registry version in force is unchanged)", EXIT_INPUT)
    except ListFetchFailed as exc:  # (its message already says to run the update later)
        _stop(f"{exc} (the registry version in force is unchanged)", EXIT_RESUMABLE)
    except RegistryError as exc:
        _stop(str(exc), EXIT_REGISTRY)
    except Exception as exc:  # never a traceback in front of a user
        _stop(f"{type(exc).__name__}: {exc}", 1)


@lists_app.command("update")
def update(
    from_path: Annotated[list[Path] | None, typer.Option(
        "--from", help="A list file or folder downloaded by hand (repeatable); "
        "without it, each list's official publication is fetched.")] = None,
    source: Annotated[str | None, typer.Option(
        "--source", help="Read --from files as this format: csl, dpl, fcc, uflpa, "
        "opensanctions[:LIST], fr (default: recognised from content).")] = None,
    only: Annotated[list[str] | None, typer.Option(
        "--only", help="Live: fetch only these sources (csl, dpl, fcc, uflpa).")] = None,
    url: Annotated[list[str] | None, typer.Option(
        "--url", help="Live: NAME=URL, fetch a source from this URL (a mirror).")] = None,
    retries: Annotated[int, typer.Option(
        help="Live: retries of a failed or cut download before giving up.")] = 3,
    allow_older: Annotated[bool, typer.Option(
        help="Apply a file even when the registry holds newer data for its list.")] = False,
    allow_shrink: Annotated[bool, typer.Option(
        help="Apply a file even when a list would lose more than half its entries.")] = False,
    signal_changes: Annotated[bool, typer.Option(
        help="Exit 10 when a new registry version was made.")] = False,
    home: Annotated[Path | None, typer.Option(
        "--home", help="Where versions are kept (default $TRACKER_HOME).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Update the lists from their official publications and make a new registry version.

    Every file is read and checked before anything is applied: a cut, empty or
    wrong file, an HTML error page or a network failure changes nothing (exit 2, or 3
    for a fetch failure).  Individuals are left out (counted).

    Examples:

        tracker lists update

        tracker lists update --from ~/Downloads/dpl.txt --from ~/Downloads/csl/

        tracker lists update --from table.csv --source fcc
    """
    import json

    from tracker.listsources import ParsedSource, read_source, source_files
    from tracker.listsources.fr import notice_changes
    from tracker.registry_versions import VersionStore, update_registry
    from tracker.sources.lists import fetch_sources

    store = VersionStore(home)

    def parsed() -> list[ParsedSource]:
        if from_path:
            files = source_files(list(from_path))
            if not files:
                raise FileNotFoundError("no file in the --from paths")
            return [read_source(f, source=source) for f in files]
        urls = dict(u.split("=", 1) for u in (url or []) if "=" in u)
        names = only or ["csl", "dpl", "fcc", "uflpa"]
        def shown(name: str, done: int, total: int) -> None:
            err.print(f"fetching {name} ({done + 1}/{total})", markup=False)

        return fetch_sources(names, urls=urls, retries=max(0, retries),
                             progress=shown if err.is_terminal else None)

    files = _versions_guard(parsed)
    outcome = _versions_guard(lambda: update_registry(
        store, files, allow_older=allow_older, allow_shrink=allow_shrink))
    if as_json:
        out.print(json.dumps(outcome.to_json(), indent=2, default=str), markup=False)
    else:
        for p in files:
            out.print(f"read {p.origin}: {p.source}, {p.rows} rows, "
                      f"{sum(p.counts().values())} institution entries; left out "
                      f"{p.left_out_individuals} individuals"
                      + (f", {sum(p.left_out_other.values())} other rows"
                         if p.left_out_other else "")
                      + (f"; {len(p.warnings):,} warnings (first: {p.warnings[0]})"
                         if p.warnings else "") + (f"; licence: {p.licence}"
                                                  if "BY-NC" in p.licence else ""),
                      markup=False)
        for line in notice_changes(files):  # Federal Register notice indexes read
            out.print(line, markup=False)
        for code, info in sorted(outcome.per_list.items()):
            if info["status"] == "kept":
                out.print(f"{code}: kept ({info['reason']})", markup=False)
            elif info["status"] == "no change":
                out.print(f"{code}: no change", markup=False)
            else:
                out.print(f"{code}: +{info['added']} added, -{info['removed']} removed, "
                          f"~{info['changed']} changed; {info.get('joined', 0)} joined an "
                          f"existing institution (same name and country, or a reviewed "
                          f"merge), {info['new_institutions']} new institution(s), needs "
                          "linking", markup=False)
                dups = info.get("possible_duplicates", [])
                if dups:
                    out.print(f"{code}: {len(dups):,} new institution(s) look like one already "
                              "held; review each in tracker/data/institution_merges.csv "
                              "(merge or keep_apart):", markup=False)
                    for line in dups:
                        out.print(f"  {line}", markup=False)
        v = outcome.version
        out.print(f"registry version {v.number} ({v.version_id})"
                  + (" made and in force" if outcome.changed else ": no change"),
                  markup=False)
    if outcome.changed and signal_changes:
        raise typer.Exit(EXIT_CHANGED)


@lists_app.command("build")
def build(
    out_path: Annotated[Path, typer.Option(
        "--out", help="Write the registry here (maintainers: tracker/data/registry.json).")],
    links_out: Annotated[Path | None, typer.Option(
        "--links-out", help="Also write the ID-link file regenerated by the build "
        "(candidate links found, reviewed statuses kept), e.g. tracker/data/id_links.csv.")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="Print only errors.")] = False,
) -> None:
    """Build the bundled registry (version 0) from the files shipped in the package.

    For maintainers: every input is a file in tracker/data/sources (see its
    PROVENANCE.md) plus the reviewed institution_merges.csv and id_links.csv; nothing
    is fetched and nothing outside the package is read.  The same inputs give the same
    bytes, so a rebuild of an unchanged package equals tracker/data/registry.json.
    Exit 4 when a shipped input is missing or no longer parses.

    Examples:

        tracker lists build --out tracker/data/registry.json

        tracker lists build --out /tmp/registry.json --links-out /tmp/id_links.csv
    """
    from tracker.listsources import SourceFileError
    from tracker.listsources.build import InputMissingError
    from tracker.registry_versions import build_version_zero

    try:
        result = build_version_zero()
    except (InputMissingError, SourceFileError) as exc:
        _stop(f"the registry cannot be built: {exc}", EXIT_REGISTRY)
    except Exception as exc:  # never a traceback in front of a user
        _stop(f"{type(exc).__name__}: {exc}", 1)
    try:
        out_path.write_text(result.text(), encoding="utf-8")
        if links_out is not None:
            links_out.write_text(result.links_csv, encoding="utf-8")
    except OSError as exc:
        _fail(f"{exc.filename}: cannot write: {exc.strerror}")
    if quiet:
        return
    doc, summary = result.document, result.summary
    out.print(f"wrote {out_path}: registry {doc['version']}, {len(doc['entries']):,} entries",
              markup=False)
    for code, d in sorted(summary["per_list"].items()):
        out.print(f"  {code:20} {d['entries']:5d} entries; without ROR {d['no_ror']}, "
                  f"without OpenAlex ID {d['no_openalex']}, without listing date "
                  f"{d['no_listed_on']}", markup=False)
    links = summary["id_links"]
    out.print(f"  ID links: {links['applied']} applied of {links['accepted']} accepted, "
              f"{links['candidates']} candidates waiting for review", markup=False)
    for w in summary["warnings"]:
        err.print(f"warning: {w}", markup=False)


@lists_app.command("versions")
def versions(
    home: Annotated[Path | None, typer.Option(
        "--home", help="Where versions are kept (default $TRACKER_HOME).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """The registry versions: number, ID, when, from which files, entries per list.

    Examples:

        tracker lists versions

        tracker lists versions --json
    """
    import json

    from tracker.registry_versions import VersionStore

    store = VersionStore(home)
    vs = _versions_guard(store.versions)
    cur = _versions_guard(store.current)
    if as_json:
        out.print(json.dumps({"current": cur.version_id, "versions": [v.to_json() for v in vs]},
                             indent=2), markup=False)
        return
    t = Table(title="Registry versions")
    for c in ("", "no.", "ID", "made at", "from", "entries"):
        t.add_column(c, overflow="fold")
    for v in vs:
        src = "; ".join(s.get("origin") or s.get("bundled", "") for s in v.sources)
        if v.number == 0 and len(v.sources) > 1:   # the bundled build's shipped files
            src = (f"tracker/data/registry.json, built from {len(v.sources)} files shipped in "
                   "tracker/data/sources (--json lists each with its hash)")
        t.add_row("*" if v.version_id == cur.version_id else "", str(v.number), v.version_id,
                  v.created_at or "(bundled)", src, str(sum(v.counts.values())))
    out.print(t)


def version_diff(from_version: str | None, to_version: str | None, list_code: str | None,
                 as_json: bool, home: Path | None = None) -> None:
    """Print the per-list diff of two registry versions."""
    import json

    from tracker.registry_versions import VersionStore, diff_registries

    store = VersionStore(home)
    a = _versions_guard(lambda: store.load(from_version or 0))
    b = _versions_guard(lambda: store.load(to_version))
    d = diff_registries(a, b)
    if list_code:
        d = {k: v for k, v in d.items() if k == list_code.strip().upper()}
    if as_json:
        out.print(json.dumps({"from": a.version, "to": b.version,
                              "lists": [x.to_json() for x in d.values()]}, indent=2),
                  markup=False)
        return
    if not d:
        out.print(f"no change between {a.version} and {b.version}", markup=False)
        return
    for code, ld in d.items():
        out.print(f"{code}: +{len(ld.added):,} added, -{len(ld.removed):,} removed, "
                  f"~{len(ld.changed):,} changed", markup=False)
        for e in ld.added:
            out.print(f"  + {e.name} ({e.entry_id})", markup=False)
        for e in ld.removed:
            out.print(f"  - {e.name} ({e.entry_id})", markup=False)
        for c in ld.changed:
            fields = ", ".join(f"{k}: {va!s} -> {vb!s}" for k, (va, vb) in c.fields.items())
            out.print(f"  ~ {c.entry_id}: {fields}", markup=False)
