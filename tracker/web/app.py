"""The review workspace: a local web app over the case file (``tracker serve``).

Server-rendered pages (Jinja2, autoescaped; no build step, works offline; plotly served from
the package) and a JSON API (OpenAPI at ``/docs``).  Every decision write carries the
version of the decision it was based on; a stale write is refused with the current decision
(HTTP 409), so two reviewers never lose each other's work.  See :mod:`tracker.web.security`
for who may read and write.

Examples
--------
>>> import tempfile
>>> from pathlib import Path
>>> from fastapi.testclient import TestClient
>>> with tempfile.TemporaryDirectory() as d:
...     app = create_app(Path(d) / "tracker.db")
...     with TestClient(app, base_url="http://127.0.0.1:8000") as client:
...         (client.get("/runs").status_code, client.get("/api/runs").json())
(200, [])
"""


import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib import resources
from operator import itemgetter
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit

import jinja2
import orjson
from fastapi import Depends, FastAPI, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field

from tracker import __version__
from tracker.store import (
    REVIEW_STATUSES,
    ReviewConflict,
    ReviewConflictError,
    Store,
    StoreError,
    run_ended_text,
    save_page,
    saved_page,
)
from tracker.watchlists import Registry, load_registry
from tracker.web.findings import FILTERS, SORTS, FindingQuery
from tracker.web.reconcile import manifest, memberships, reconcile_batch
from tracker.web.security import (
    SESSION_COOKIE,
    Session,
    SessionStore,
    csrf_matches,
    token_matches,
)

__all__ = ["DecisionIn", "create_app"]

HERE = Path(__file__).parent
#: Runs whose network page is kept drawn (each a few MB of figure JSON at most).
_NETWORK_PAGES = 4
#: The decisions a reviewer makes in the workspace (``unreviewed`` resets).
WEB_STATUSES = ("confirmed", "dismissed", "needs_follow_up", "unreviewed")
STATUS_LABELS = {"unreviewed": "unreviewed", "confirmed": "confirmed",
                 "dismissed": "dismissed", "needs_follow_up": "needs follow-up"}
CSP = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data: blob:; connect-src 'self'; font-src 'none'; object-src 'none'; "
       "frame-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
#: The Host names a workspace without a token answers to.
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
SAFEGUARD = ("A flag is evidence for human review, not a determination. tracker matches "
             "institutions only, never people's names, ethnicity or nationality, and ranks "
             "no people. \u201cNo findings\u201d never means \u201ccleared\u201d: see the "
             "data gaps below.")
GAP_LABELS = {
    "authorships_without_institution": "authorships without any institution",
    "works_without_date": "works without any publication date",
    "works_year_only": "works with only a publication year",
    "works_authors_truncated": "works whose author list OpenAlex truncated",
    "entries_without_listing_date": "list entries without a listing date",
    "unresolved_affiliations": "unresolved affiliations",
}


class DecisionIn(BaseModel):
    """A review decision sent to the JSON API."""

    status: str = Field(description="confirmed, dismissed, needs_follow_up or unreviewed")
    reason: str = Field("", description="why; required for a dismissal")
    based_on: int = Field(ge=0, description="the decision version the reviewer saw "
                                             "(0: never reviewed)")


class BulkDecisionIn(BaseModel):
    """The same decision on several findings, each with the version the reviewer saw."""

    status: str
    reason: str = ""
    findings: dict[str, int] = Field(description="finding_id -> based_on version")


class SignIn(BaseModel):
    reviewer: str
    token: str = ""


def _gaps(run: dict[str, Any]) -> list[tuple[str, str]]:
    """The run's data gaps as (label, value) lines; skipped records are counted."""
    out = []
    for k, v in (run.get("data_gaps") or {}).items():
        if isinstance(v, list):
            v = len(v)
        if isinstance(v, dict):
            v = sum(x for x in v.values() if isinstance(x, int)) if v else 0
        out.append((GAP_LABELS.get(k, k.replace("_", " ")), str(v)))
    return out


def create_app(case: Path, *, token_hash: str | None = None,
               registry: Registry | None = None) -> FastAPI:
    """The review workspace over the case file ``case``.

    Parameters
    ----------
    case : Path
        The SQLite case file (created if missing).
    token_hash : str, optional
        SHA-256 hex of the access token (:func:`tracker.web.security.new_token`).  When
        given, every page needs a session signed in with the token, or
        ``Authorization: Bearer``; give it whenever the server listens beyond loopback.
    registry : Registry, optional
        For list memberships and reconciliation (default: the bundled registry).

    Without a token, only requests addressed to this machine by name (``Host``
    127.0.0.1, localhost or [::1]) are answered: a web page elsewhere cannot reach the
    case file by pointing its own domain name at 127.0.0.1 (DNS rebinding).
    """
    # no Swagger/ReDoc pages: they load their scripts from a CDN, and no request may leave
    # the machine; the schema itself is at /openapi.json
    app = FastAPI(title="tracker review workspace", version=__version__,
                  description="Review decisions on screening findings. " + SAFEGUARD,
                  docs_url=None, redoc_url=None)
    templates = Jinja2Templates(env=jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True))
    templates.env.globals["run_ended"] = run_ended_text
    sessions = SessionStore()
    state: dict[str, Any] = {"registry": registry, "matcher": None}
    lock = threading.Lock()
    #: the network page of the last runs drawn: run ID -> (stamp, figures, note)
    network_pages: dict[int, tuple[str, list[dict[str, str]], str]] = {}
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    def get_registry() -> Registry:
        with lock:
            if state["registry"] is None:
                state["registry"] = load_registry()
            reg: Registry = state["registry"]
            return reg

    def get_matcher() -> Any:
        from tracker.names import NameMatcher

        reg = get_registry()
        with lock:
            if state["matcher"] is None:
                state["matcher"] = NameMatcher(reg)
            return state["matcher"]

    def open_store() -> Store:
        try:
            return Store(case)
        except StoreError as exc:
            raise HTTPException(500, str(exc)) from None

    # ------------------------------------------------------------------ security
    def session_of(request: Request) -> Session | None:
        return sessions.get(request.cookies.get(SESSION_COOKIE))

    def bearer_ok(request: Request) -> bool:
        auth = request.headers.get("authorization", "")
        return auth.lower().startswith("bearer ") and token_matches(auth[7:].strip(),
                                                                     token_hash)

    def same_origin(request: Request) -> bool:
        """A write's Origin (or Referer) must be this server, when the browser sends one."""
        origin = request.headers.get("origin") or request.headers.get("referer")
        if not origin:
            return True
        host = request.headers.get("host", "")
        return urlsplit(origin).netloc == host

    @app.middleware("http")
    async def guard(request: Request, call_next: Any) -> Response:
        path = request.url.path
        public = path.startswith("/static/") or path in ("/signin", "/favicon.ico")
        host = urlsplit("//" + request.headers.get("host", "")).hostname or ""
        if token_hash is None and host not in LOCAL_HOSTS:
            resp: Response = JSONResponse(
                {"detail": f"refused: this workspace answers to 127.0.0.1 or localhost, not "
                           f"{host!r}"}, status_code=421)
        elif token_hash is not None and not public and not (
                session_of(request) is not None or bearer_ok(request)):
            if path.startswith(("/api/", "/reconcile")) or request.method != "GET":
                resp = JSONResponse(
                    {"detail": "sign in with the access token first (or send "
                               "Authorization: Bearer TOKEN)"}, status_code=401)
            else:
                resp = RedirectResponse("/signin?" + urlencode({"next": path}), 303)
        else:
            resp = await call_next(request)
        resp.headers["Content-Security-Policy"] = CSP
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["Referrer-Policy"] = "same-origin"
        resp.headers["X-Frame-Options"] = "DENY"
        resp.headers.setdefault("Cache-Control", "no-store")
        return resp

    def writer(request: Request) -> Session:
        """The signed-in reviewer allowed to write, or 401/403."""
        s = session_of(request)
        if s is None:
            raise HTTPException(401, "sign in with your name first: decisions are recorded "
                                     "under the session's name")
        if not same_origin(request):
            raise HTTPException(403, "refused: the request came from another site")
        return s

    async def form_writer(request: Request) -> Session:
        s = writer(request)
        form = await request.form()
        sent = form.get("csrf")
        if not csrf_matches(s, sent if isinstance(sent, str) else None):
            raise HTTPException(403, "refused: missing or wrong CSRF token; reload the page")
        return s

    def api_writer(request: Request) -> Session:
        s = writer(request)
        if not csrf_matches(s, request.headers.get("x-csrf-token")):
            raise HTTPException(403, "refused: missing or wrong X-CSRF-Token header (GET "
                                     "/api/session gives it)")
        return s

    # ------------------------------------------------------------------ rendering
    def page(request: Request, name: str, status_code: int = 200, **ctx: Any) -> Response:
        s = session_of(request)
        with open_store() as st:
            runs = st.runs()
            run_id = ctx.get("run_id") or (runs[-1]["id"] if runs else None)
            record = st.run_record(run_id) if run_id is not None else {}
        # a page of a run that did not finish says so: its findings may be incomplete
        shown = next((r for r in runs if ctx.get("run_id") and r["id"] == run_id), None)
        unfinished = ("" if shown is None or shown["status"] == "finished" else
                      run_ended_text(shown["status"], shown["status_reason"]))
        base = {"request": request, "session": s, "csrf": s.csrf if s else "",
                "safeguard": SAFEGUARD, "gaps": _gaps(record), "gap_run": run_id,
                "unfinished": unfinished,
                "labels": STATUS_LABELS, "version": __version__,
                "token_required": token_hash is not None}
        return templates.TemplateResponse(request, name, {**base, **ctx},
                                          status_code=status_code)

    def run_or_latest(st: Store, run: int | None) -> int:
        if run is not None:
            return run
        latest = st.latest_run_id()
        if latest is None:
            raise HTTPException(404, "no runs in the case file yet: run `tracker demo` or "
                                     "`tracker screen` first")
        return latest

    def finding_row(st: Store, fid: str, run: int | None) -> tuple[int, dict[str, Any]]:
        """The run and the finding's row (the latest run that has it), looked up by key."""
        rid = run_or_latest(st, run)
        for cand in ([rid] if run is not None else
                     [r["id"] for r in reversed(st.runs())]):
            if run is not None and not any(r["id"] == cand for r in st.runs()):
                raise HTTPException(404, f"no run {cand} in the case file")
            row = st.finding(cand, fid)
            if row is not None:
                return cand, row
        raise HTTPException(404, f"no finding {fid} in the case file")

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        accept = request.headers.get("accept", "")
        if request.url.path.startswith(("/api/", "/reconcile")) or (
                "json" in accept and "html" not in accept):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)
        return page(request, "error.html", exc.status_code, message=str(exc.detail),
                    code=exc.status_code)

    # ------------------------------------------------------------------ sign-in
    @app.get("/signin", response_class=HTMLResponse, include_in_schema=False)
    def signin_form(request: Request, next: str = "/runs") -> Response:
        return templates.TemplateResponse(request, "signin.html", {
            "request": request, "next": next if next.startswith("/") else "/runs",
            "token_required": token_hash is not None, "safeguard": SAFEGUARD,
            "session": session_of(request), "error": "", "gaps": [], "labels": STATUS_LABELS,
            "version": __version__})

    def start_session(reviewer: str, token: str) -> Session:
        if not reviewer.strip():
            raise HTTPException(400, "your name is required: decisions are recorded under it")
        if token_hash is not None and not token_matches(token.strip(), token_hash):
            raise HTTPException(401, "wrong access token")
        return sessions.create(reviewer)

    def with_cookie(resp: Response, s: Session) -> Response:
        resp.set_cookie(SESSION_COOKIE, s.sid, httponly=True, samesite="strict",
                        path="/")
        return resp

    @app.post("/signin", include_in_schema=False)
    def signin(request: Request, reviewer: Annotated[str, Form()],
               token: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "/runs"
               ) -> Response:
        if not same_origin(request):
            raise HTTPException(403, "refused: the request came from another site")
        s = start_session(reviewer, token)
        return with_cookie(RedirectResponse(next if next.startswith("/") and
                                            not next.startswith("//") else "/runs", 303), s)

    @app.post("/signout", include_in_schema=False)
    def signout(request: Request, s: Annotated[Session, Depends(form_writer)]) -> Response:
        sessions.drop(s.sid)
        resp = RedirectResponse("/signin", 303)
        resp.delete_cookie(SESSION_COOKIE, path="/")
        return resp

    @app.post("/api/session", tags=["session"])
    def api_signin(body: SignIn, request: Request) -> Response:
        """Sign in for API writes: the reviewer's name (and the access token when the
        server needs one).  Send the returned ``csrf`` as ``X-CSRF-Token`` with every
        write, with the session cookie this sets."""
        if not same_origin(request):
            raise HTTPException(403, "refused: the request came from another site")
        s = start_session(body.reviewer, body.token)
        return with_cookie(JSONResponse({"reviewer": s.reviewer, "csrf": s.csrf}), s)

    @app.get("/api/session", tags=["session"])
    def api_session(request: Request) -> dict[str, str]:
        """Who is signed in, and the CSRF token for writes."""
        s = session_of(request)
        if s is None:
            raise HTTPException(401, "not signed in")
        return {"reviewer": s.reviewer, "csrf": s.csrf}

    # ------------------------------------------------------------------ pages
    @app.get("/", include_in_schema=False)
    def home() -> Response:
        return RedirectResponse("/runs", 303)

    @app.get("/runs", response_class=HTMLResponse, include_in_schema=False)
    def runs_page(request: Request) -> Response:
        with open_store() as st:
            runs = st.runs()
            records = {r["id"]: st.run_record(r["id"]) for r in runs}
        rows = []
        for r in reversed(runs):
            rec = records[r["id"]]
            rows.append({**r, "inputs": rec.get("inputs") or [],
                         "previous": (rec.get("case_file") or {}).get("previous_run_id")})
        return page(request, "runs.html", runs=rows)

    @app.get("/findings", response_class=HTMLResponse, include_in_schema=False)
    def findings_page(request: Request, run: int | None = None) -> Response:
        q = FindingQuery.from_params(dict(request.query_params))
        with open_store() as st:
            rid = run_or_latest(st, run)
            try:  # one page, filtered and sorted by the case file: never every finding
                got = q.page_in(st, rid)
            except StoreError as exc:
                raise HTTPException(404, str(exc)) from None
            total_run = st.findings_count(rid)
            seen = st.finding_values(rid, ("list", "listed_at_publication", "relation",
                                           "confidence", "outcome_kind"))
        # the facets hold the outcome's kind already (as the filter compares it)
        options = {name: sorted({str(v[i] or "") for v in seen} - {""}) for i, name in
                   enumerate(("list", "listed", "relation", "confidence", "outcome"))}
        options["status"] = list(REVIEW_STATUSES)
        return page(request, "findings.html", run_id=rid, q=q, result=got, options=options,
                    sorts=SORTS, filters=FILTERS, total_run=total_run,
                    statuses=WEB_STATUSES, base_params=q.params(page=1),
                    link=lambda **kw: "/findings?" + urlencode({"run": rid, **q.params(**kw)}))

    @app.get("/findings/{fid}", response_class=HTMLResponse, include_in_schema=False)
    def finding_page(request: Request, fid: str, run: int | None = None,
                     msg: str = "") -> Response:
        with open_store() as st:
            rid, row = finding_row(st, fid, run)
            history = st.review_history(fid)
            same_work, _ = st.findings_where(  # the finding_keys_work index, then a sort
                rid, "k.work_id = ? AND k.finding_id != ?", [row["work_id"], fid])
        same_work.sort(key=lambda r: (str(r.get("author_position")), r["finding_id"]))
        reg = get_registry()
        entry = reg.entry_index.get(str(row.get("entry_id") or ""))
        mem = memberships(reg, entry.institution_key or entry.entry_id) if entry else ()
        gaps = [g for g in str(row.get("data_gaps") or "").split(";") if g.strip()]
        return page(request, "finding.html", run_id=rid, f=row, history=history,
                    memberships=mem, entry_known=entry is not None, row_gaps=gaps,
                    same_work=same_work,
                    statuses=WEB_STATUSES, msg=msg, registry_version=reg.version)

    def conflict_page(request: Request, conflicts: list[ReviewConflict], run: int | None
                      ) -> Response:
        return page(request, "conflict.html", 409, conflicts=conflicts, run_id=run)

    @app.post("/findings/{fid}/review", include_in_schema=False)
    def review_form(request: Request, fid: str, s: Annotated[Session, Depends(form_writer)],
                    status: Annotated[str, Form()], based_on: Annotated[int, Form()],
                    reason: Annotated[str, Form()] = "",
                    run: Annotated[int | None, Form()] = None) -> Response:
        with open_store() as st:
            try:
                v = st.set_review(fid, status, s.reviewer, reason, based_on=based_on,
                                  source="web")
            except ReviewConflictError as exc:
                return conflict_page(request, exc.conflicts, run)
            except StoreError as exc:
                raise HTTPException(400, str(exc)) from None
        q = urlencode({**({"run": run} if run else {}),
                       "msg": f"recorded: {STATUS_LABELS.get(status, status)} (version {v})"})
        return RedirectResponse(f"/findings/{fid}?{q}", 303)

    @app.post("/reviews/bulk", include_in_schema=False)
    async def bulk_form(request: Request, s: Annotated[Session, Depends(form_writer)]
                        ) -> Response:
        form = await request.form()
        status = str(form.get("status") or "")
        reason = str(form.get("reason") or "")
        back = str(form.get("back") or "/findings")
        picked = [str(v) for v in form.getlist("pick")]
        if not picked:
            raise HTTPException(400, "no findings were ticked")
        decisions: list[tuple[str, str, str, int | None]] = []
        for p in picked:
            fid, _, ver = p.partition(":")
            try:
                decisions.append((fid, status, reason, int(ver)))
            except ValueError:
                raise HTTPException(400, f"bad finding reference {p!r}") from None
        with open_store() as st:
            try:
                st.set_reviews(decisions, s.reviewer, source="web bulk")
            except ReviewConflictError as exc:
                return conflict_page(request, exc.conflicts, None)
            except StoreError as exc:
                raise HTTPException(400, str(exc)) from None
        sep = "&" if "?" in back else "?"
        target = back if back.startswith("/findings") else "/findings"
        return RedirectResponse(target + sep + urlencode(
            {"msg": f"recorded {len(decisions)} decisions: {STATUS_LABELS.get(status)}"}), 303)

    def remember(rid: int, drawn: tuple[str, list[dict[str, str]], str]
                 ) -> tuple[str, list[dict[str, str]], str]:
        """Hold a run's drawn network page (the last :data:`_NETWORK_PAGES` runs')."""
        with lock:
            network_pages[rid] = drawn
            while len(network_pages) > _NETWORK_PAGES:
                network_pages.pop(next(iter(network_pages)))
        return drawn

    @app.get("/network", response_class=HTMLResponse, include_in_schema=False)
    def network_page(request: Request, run: int | None = None) -> Response:
        import plotly.io as pio

        from tracker.graph import flagged_network_of_groups
        from tracker.report import TimelineMarks, capped_timeline, network_figure, safe_json
        from tracker.risk import Finding

        with open_store() as st:
            rid = run_or_latest(st, run)
            n = st.findings_count(rid)
            finished = st.run_status(rid)[0] == "finished"
            record = st.run_record(rid)
        # a finished run's finding rows never change, and the page shows no review
        # decision: drawn once per run (788,020 findings: 15-23 s to draw) and kept in
        # the case file, so drawn once per case file, not once per start; the run's times
        # and count tell it from a run of a case file made anew, tracker's version a
        # drawing by another tracker
        stamp = (f"{n} {record.get('started_at')} {record.get('finished_at')} "
                 f"tracker {__version__}")
        drawn = network_pages.get(rid)
        if finished and (drawn is None or drawn[0] != stamp):
            with open_store() as st:
                kept = saved_page(st, rid, "network", stamp)
            if kept is not None:
                figs_kept, note_kept = orjson.loads(kept)
                drawn = remember(rid, (stamp, figs_kept, note_kept))
        if finished and drawn is not None and drawn[0] == stamp:
            return page(request, "network.html", run_id=rid, figs=drawn[1], note=drawn[2])
        order = [k for k in Finding.__dataclass_fields__ if k != "extra"]
        names, values = set(order), itemgetter(*order)
        marks = TimelineMarks()  # the timeline's, gathered in the network's planning pass

        def finding(r: dict[str, Any]) -> Finding:
            # by position: by name, each of 788,020 findings took 20 µs (38 keywords)
            try:
                return Finding(*values(r))
            except KeyError:  # a row of an older case file, without a later column
                return Finding(**{k: v for k, v in r.items() if k in names})

        def groups(only: set[str] | None) -> Iterator[list[Finding]]:
            # read from the case file as drawn: a run of a million findings is never held
            # whole (the network plans on each work's node keys, then reads the works it
            # draws); the planning pass, which reads every finding, also gathers the
            # timeline's marks (a second pass over 788,020 findings took 24 s)
            count = only is None
            with open_store() as st:
                for rows in st.findings_by_work(rid, only):
                    if count:
                        for r in rows:
                            marks.add(r)
                    yield [finding(r) for r in rows]

        def rows() -> Iterator[dict[str, Any]]:
            with open_store() as st:
                for group in st.findings_by_work(rid):
                    yield from group

        figs: list[dict[str, str]] = []
        note = "No flagged ties to draw. This is not clearance."
        if n:
            g, note = flagged_network_of_groups(groups, max_nodes=400)
            timeline, _, left = capped_timeline(rows(), marks=marks)
            note = f"{note} {left}".strip()
            figs = [{"div": "fig-network", "json": safe_json(pio.to_json(
                        network_figure(g), validate=False))},
                    {"div": "fig-timeline", "json": safe_json(pio.to_json(
                        timeline, validate=False))}]
        if finished:
            remember(rid, (stamp, figs, note))
            try:
                with open_store() as st:
                    save_page(st, rid, "network", stamp, orjson.dumps([figs, note]))
            except (sqlite3.Error, StoreError, HTTPException):
                pass  # (a case file this server cannot write) drawn again next start
        return page(request, "network.html", run_id=rid, figs=figs, note=note)

    @app.get("/plotly.min.js", include_in_schema=False)
    def plotly_js() -> Response:
        text = resources.files("tracker").joinpath("data/vendor/plotly-basic.min.js")
        return Response(text.read_bytes(), media_type="text/javascript",
                        headers={"Cache-Control": "max-age=86400"})

    @app.get("/diff", response_class=HTMLResponse, include_in_schema=False)
    def diff_page(request: Request, a: int | None = None, b: int | None = None) -> Response:
        with open_store() as st:
            runs = st.runs()
            # by default the last two finished runs: an unfinished run's findings may be
            # incomplete (chosen anyway, the page says so)
            done = [r["id"] for r in runs if r["status"] == "finished"]
            if b is None and runs:
                b = done[-1] if done else runs[-1]["id"]
            if a is None and b is not None:
                a = max((i for i in done if i < b), default=None)
            d = None
            if a is not None and b is not None:
                try:
                    d = st.changes(a, b)
                except StoreError as exc:
                    raise HTTPException(404, str(exc)) from None
        return page(request, "diff.html", run_id=b, d=d, a=a, b=b, runs=runs)

    @app.get("/audit", response_class=HTMLResponse, include_in_schema=False)
    def audit_page(request: Request) -> Response:
        with open_store() as st:
            log = st.review_log(500)
        return page(request, "audit.html", log=log)

    @app.get("/institutions/{key}", response_class=HTMLResponse, include_in_schema=False)
    def institution_page(request: Request, key: str) -> Response:
        reg = get_registry()
        mem = memberships(reg, key)
        if not mem:
            raise HTTPException(404, f"no institution {key!r} in registry {reg.version}")
        return page(request, "institution.html", key=key, memberships=mem,
                    registry_version=reg.version)

    # ------------------------------------------------------------------ reconciliation
    def base_url(request: Request) -> str:
        return str(request.base_url).rstrip("/")

    async def reconcile_any(request: Request) -> Response:
        import json

        params = dict(request.query_params)
        if request.method == "POST":
            form = await request.form()
            params.update({k: str(v) for k, v in form.items()})
        raw = params.get("queries")
        if raw is None:
            body: Any = manifest(base_url(request), __version__)
        else:
            try:
                body = reconcile_batch(get_matcher(), json.loads(raw))
            except ValueError as exc:   # json.JSONDecodeError is a ValueError
                return JSONResponse({"detail": f"bad queries: {exc}"}, status_code=400)
        resp = JSONResponse(body)
        resp.headers["Access-Control-Allow-Origin"] = "*"   # OpenRefine reads it from JS
        return resp

    for method in ("GET", "POST"):
        app.add_api_route("/reconcile", reconcile_any, methods=[method],
                          tags=["reconciliation"], operation_id=f"reconcile_{method.lower()}",
                          summary="W3C Reconciliation Service API 0.2: the service manifest, "
                                  "or answers to ``queries``")

    # ------------------------------------------------------------------ JSON API
    @app.get("/api/runs", tags=["runs"])
    def api_runs() -> list[dict[str, Any]]:
        """Every run in the case file, oldest first."""
        with open_store() as st:
            return st.runs()

    @app.get("/api/runs/{run_id}/findings", tags=["findings"])
    def api_findings(run_id: int, request: Request) -> dict[str, Any]:
        """A run's findings, filtered and paged like the findings page
        (``list``, ``outcome``, ``listed``, ``status``, ``relation``, ``confidence``,
        ``since``, ``until``, ``institution``, ``sort``, ``page``, ``per_page``)."""
        q = FindingQuery.from_params(dict(request.query_params))
        with open_store() as st:
            try:
                got = q.page_in(st, run_id)
            except StoreError as exc:
                raise HTTPException(404, str(exc)) from None
            record = st.run_record(run_id)
            ended, why = st.run_status(run_id)
        # a run that did not finish (failed, interrupted, running): its findings may be
        # incomplete, which a client reads here
        return {"run": run_id, "run_status": ended, "run_status_reason": why,
                "total": got.total, "page": got.page, "pages": got.pages,
                "findings": got.rows, "data_gaps": record.get("data_gaps") or {},
                "note": SAFEGUARD}

    @app.get("/api/findings/{fid}", tags=["findings"])
    def api_finding(fid: str, run: int | None = None) -> dict[str, Any]:
        """One finding's evidence (from the given run, else the latest run that has it),
        its current decision and its audit trail."""
        with open_store() as st:
            rid, row = finding_row(st, fid, run)
            return {"run": rid, "finding": row, "review": st.review_of(fid),
                    "history": st.review_history(fid)}

    @app.get("/api/findings/{fid}/reviews", tags=["reviews"])
    def api_reviews(fid: str) -> list[dict[str, Any]]:
        """The finding's audit trail: who, when, old -> new, reason, version."""
        with open_store() as st:
            return st.review_history(fid)

    def conflict_json(conflicts: list[ReviewConflict]) -> JSONResponse:
        return JSONResponse({"detail": "not recorded: the decision changed since it was "
                                       "read; nothing was recorded",
                             "conflicts": [{"finding_id": c.finding_id,
                                            "based_on": c.based_on, "current": c.current}
                                           for c in conflicts]}, status_code=409)

    @app.post("/api/findings/{fid}/review", tags=["reviews"],
              responses={409: {"description": "the decision changed since based_on; the "
                                              "current one is returned"}})
    def api_review(fid: str, body: DecisionIn,
                   s: Annotated[Session, Depends(api_writer)]) -> Response:
        """Record a decision, based on the version the reviewer saw."""
        with open_store() as st:
            try:
                v = st.set_review(fid, body.status, s.reviewer, body.reason,
                                  based_on=body.based_on, source="web api")
            except ReviewConflictError as exc:
                return conflict_json(exc.conflicts)
            except StoreError as exc:
                raise HTTPException(400, str(exc)) from None
            return JSONResponse({"finding_id": fid, "version": v,
                                 "review": st.review_of(fid)})

    @app.post("/api/reviews", tags=["reviews"],
              responses={409: {"description": "some decisions changed; none recorded"}})
    def api_bulk(body: BulkDecisionIn, s: Annotated[Session, Depends(api_writer)]
                 ) -> Response:
        """The same decision on several findings: all recorded, or none."""
        with open_store() as st:
            try:
                vs = st.set_reviews([(f, body.status, body.reason, v)
                                     for f, v in body.findings.items()], s.reviewer,
                                    source="web api bulk")
            except ReviewConflictError as exc:
                return conflict_json(exc.conflicts)
            except StoreError as exc:
                raise HTTPException(400, str(exc)) from None
        return JSONResponse({"versions": dict(zip(body.findings, vs, strict=True))})

    app.state.sessions = sessions
    app.state.case = case
    app.state.started = datetime.now(UTC).isoformat(timespec="seconds")
    return app
