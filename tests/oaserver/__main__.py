"""Run the test server by hand: ``.venv/bin/python -m tests.oaserver --port 8765``."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from .corpus import read_jsonl
from .server import OpenAlexServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.oaserver",
        description="OpenAlex-compatible test server on 127.0.0.1 (recorded real records).",
    )
    parser.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (0: any free)")
    parser.add_argument(
        "--works", type=Path, help="serve these works (.jsonl or .jsonl.gz) instead"
    )
    parser.add_argument("--require-api-key", choices=("never", "cursor", "always"), default="never")
    parser.add_argument(
        "--truncate-authors",
        action="store_true",
        help="list responses keep the first 100 authorships, as the API does",
    )
    parser.add_argument(
        "--enforce-budget", action="store_true", help="answer 429 once the daily credits are spent"
    )
    args = parser.parse_args(argv)
    works = read_jsonl(args.works) if args.works else None
    server = OpenAlexServer(
        works=works,
        port=args.port,
        require_api_key=args.require_api_key,
        truncate_authors=args.truncate_authors,
        enforce_budget=args.enforce_budget,
    )
    started = time.perf_counter()
    server.start()
    print(
        f"serving {len(server.store('works'))} works on {server.url} "
        f"(ready in {time.perf_counter() - started:.2f} s); Ctrl-C stops",
        flush=True,
    )
    try:
        while server.running:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
