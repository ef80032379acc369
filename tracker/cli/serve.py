"""``tracker serve``: the review workspace, a local web app over the case file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tracker.cli.common import fail, out
from tracker.store import Store, StoreError, default_db_path

__all__ = ["serve_cmd"]


def serve_cmd(
    case: Annotated[Path | None, typer.Option(
        "--case", "--db", help="Case-file database (default $TRACKER_HOME/tracker.db).")] = None,
    host: Annotated[str, typer.Option(
        help="Address to listen on. Anything but this machine (127.0.0.1, ::1, localhost) "
        "needs an access token (--new-token).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    new_token: Annotated[bool, typer.Option(
        "--new-token", help="Make a new access token, print it once (only its hash is "
        "kept, beside the case file) and require it from then on.")] = False,
) -> None:
    """Start the review workspace: runs, findings with filters, evidence, review decisions
    with an audit trail, the flagged network, run-to-run diffs, a JSON API (/openapi.json) and a
    reconciliation service for OpenRefine (/reconcile).

    Open the printed address and sign in with your name; decisions are recorded under it.
    Two reviewers on the same finding never overwrite each other: a decision based on an
    older version is refused and the current one shown.

    Examples:

        tracker serve        # http://127.0.0.1:8000, this machine only

        tracker serve --case case.db --port 8080

        tracker serve --host 0.0.0.0 --new-token   # token required
    """
    import uvicorn

    from tracker.web.app import create_app
    from tracker.web.security import is_loopback, read_token_hash
    from tracker.web.security import new_token as make_token

    path = case if case is not None else default_db_path()
    if not path.is_file():
        fail(f"--case: no case file at {path}; run `tracker demo` or `tracker screen` first")
    try:
        Store(path).close()   # migrates an older case file before serving it
    except StoreError as exc:
        fail(f"--case: {exc}")
    if not 0 < port < 65536:
        fail(f"--port: {port} is not a port number")
    if new_token:
        token = make_token(path)
        out.print(f"access token (shown once, keep it safe): {token}", markup=False,
                  soft_wrap=True)
    token_hash = read_token_hash(path)
    if not is_loopback(host) and token_hash is None:
        fail(f"--host {host}: listening beyond this machine needs an access token; start "
             f"once with --new-token", 2)
    app = create_app(path, token_hash=token_hash)
    where = f"[{host}]" if ":" in host else host
    out.print(f"review workspace on http://{where}:{port}/ (case file {path}); Ctrl-C stops",
              markup=False, soft_wrap=True)
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning")
    except OSError as exc:
        fail(f"--port {port}: cannot listen on {host} ({exc.strerror})")
