"""Benchmark: OpenAlex list calls per 1,000 works, tracker's two strategies vs plain pyalex.

Measured against the local OpenAlex-compatible test server (``tests/oaserver``, serving
the recorded real OpenAlex records), counting the requests the *server* saw:

``pyalex plain``
    What a pyalex user writes by default:
    ``for page in Works().filter(authorships={"institutions": {"lineage": ...}})
    .paginate(): ...`` (cursor paging, default ``per_page`` 25, default ``n_max`` 10,000,
    no ``select``; truncated author lists are not re-fetched).
``full``
    tracker: cursor paging at 200 a page with ``select``, stops at ``meta.count``;
    author lists cut at 100 re-fetched whole as single works (free, counted apart).
``prefilter``
    tracker: only works of the subject that also have an authorship at a listed
    institution (OR-lists of <= 100 listed IDs / RORs): calls grow with the findings.
``warm rerun``
    ``full`` and ``prefilter`` again with the same cache: HTTP calls made (expected 0).

Subjects: the recorded organisation with the most works (Harvard University), and a
"consortium" subject of the 100 institutions with the most recorded works (one OR-list,
as a university system or a funder's portfolio would be).  Calls per 1,000 works divide
list calls by the subject's works in the server's count.

Usage::

    python benchmarks/bench_api_calls.py [--synthetic N]

Importable: :func:`run` returns the numbers as a dict.  The last line printed is one
JSON object (for the benchmark runner).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pyalex
import pyalex.api as pyalex_api
import requests

from tests.oaserver import OpenAlexServer, default_records, pyalex_session_for
from tracker.sources.openalex import OpenAlexSource, Subject, plan_queries
from tracker.sources.transport import LIST_CALL_USD
from tracker.watchlists import load_registry

HARVARD = "I136199984"


def _lists(server: OpenAlexServer) -> int:
    return sum(1 for r in server.requests.snapshot() if r.endpoint == "list")


def _singles(server: OpenAlexServer) -> int:
    return sum(1 for r in server.requests.snapshot() if r.endpoint == "single")


def _consortium(n: int = 100) -> tuple[str, ...]:
    counts: Counter[str] = Counter()
    for w in default_records("works"):
        ids = {i["id"].rsplit("/", 1)[-1] for a in w.get("authorships") or []
               for i in a.get("institutions") or [] if isinstance(i, dict) and i.get("id")}
        counts.update(ids)
    return tuple(sorted(i for i, _ in counts.most_common(n)))


def _pyalex_plain(server: OpenAlexServer, ids: tuple[str, ...]) -> dict[str, Any]:
    server.reset()
    original = pyalex_api._get_requests_session
    pyalex_api._get_requests_session = lambda: pyalex_session_for(server.url)
    try:
        works = 0
        for page in pyalex.Works().filter(
                authorships={"institutions": {"lineage": "|".join(ids)}}).paginate():
            works += len(page)
    finally:
        pyalex_api._get_requests_session = original
    return {"works": works, "list_calls": _lists(server), "single_calls": _singles(server)}


def _tracker(server: OpenAlexServer, subject: Subject, strategy: str, cache: Path,
             ids: list[str], rors: list[str]) -> dict[str, Any]:
    server.reset()
    src = OpenAlexSource(base_url=server.url, cache_dir=cache)
    queries = plan_queries([subject], strategy=strategy, restricted_ids=ids,
                           restricted_rors=rors)
    works = sum(1 for _ in src.fetch(queries))
    return {"works": works, "list_calls": _lists(server), "single_calls": _singles(server),
            "queries": len(queries)}


def _top_institution(records: list[dict[str, Any]]) -> str:
    counts: Counter[str] = Counter()
    for w in records:
        counts.update({i["id"].rsplit("/", 1)[-1] for a in w.get("authorships") or []
                       for i in a.get("institutions") or [] if isinstance(i, dict) and i.get("id")})
    return counts.most_common(1)[0][0]


def run(synthetic: int = 0) -> dict[str, Any]:
    """Measure every strategy on every subject; returns the numbers (no printing).

    ``synthetic`` > 0 adds a subject served from that many SYNTHETIC works
    (``benchmarks/generate.py``, labelled as such): the institution most of them name.
    The test server re-reads its whole corpus for every page, so this takes minutes.
    """
    reg = load_registry()
    ids = sorted({i for e in reg for i in e.openalex_ids if i.startswith("I")})
    rors = sorted({e.ror for e in reg if e.ror and not e.openalex_ids})
    out: dict[str, Any] = {"list_call_usd": LIST_CALL_USD, "listed_openalex_ids": len(ids),
                           "listed_rors_without_id": len(rors), "subjects": {}}
    corpora: list[tuple[list[dict[str, Any]] | None, dict[str, tuple[str, ...]]]] = [
        (None, {"Harvard University (1 org)": (HARVARD,),
                "consortium (100 orgs)": _consortium()})]
    if synthetic > 0:
        from benchmarks.generate import generate, load_pool

        records = list(generate(synthetic, 7, load_pool()))
        corpora.append((records, {f"SYNTHETIC {synthetic:,}: top org": (
            _top_institution(records),)}))
    for corpus, subjects in corpora:
        _measure(corpus, subjects, ids, rors, out)
    return out


def _measure(records: list[dict[str, Any]] | None, subjects: dict[str, tuple[str, ...]],
             ids: list[str], rors: list[str], out: dict[str, Any]) -> None:
    with OpenAlexServer(works=records) as server:
        for name, org_ids in subjects.items():
            params: dict[str, str | int] = {
                "filter": "authorships.institutions.lineage:" + "|".join(org_ids),
                "per-page": 1}
            total = int(requests.get(f"{server.url}/works", params=params,
                                     timeout=30).json()["meta"]["count"])
            subject = Subject("org", name, org_ids, label=name)
            row: dict[str, Any] = {"works": total}
            row["pyalex plain"] = _pyalex_plain(server, org_ids)
            with tempfile.TemporaryDirectory() as tmp:
                for strategy in ("full", "prefilter"):
                    row[strategy] = _tracker(server, subject, strategy, Path(tmp), ids, rors)
                for strategy in ("full", "prefilter"):
                    warm = _tracker(server, subject, strategy, Path(tmp), ids, rors)
                    row[f"{strategy} warm rerun"] = {**warm, "http_calls": len(server.requests)}
            for r in row.values():
                if isinstance(r, dict):
                    r["list_calls_per_1000_works"] = round(1000 * r["list_calls"] / total, 1)
                    r["estimated_cost_usd"] = round(r["list_calls"] * LIST_CALL_USD, 6)
            out["subjects"][name] = row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--synthetic", type=int, default=0, metavar="N",
                    help="also measure a subject served from N synthetic works (slow)")
    res = run(ap.parse_args(argv).synthetic)
    print(f"List calls per 1,000 works of the subject (local test server, recorded OpenAlex "
          f"records; {res['listed_openalex_ids']} listed OpenAlex IDs, "
          f"{res['listed_rors_without_id']} RORs without one)")
    head = f"{'subject':28} {'method':20} {'works':>7} {'list':>6} {'single':>7} {'per 1k':>8}"
    print(head)
    print("-" * len(head))
    for name, row in res["subjects"].items():
        for method in ("pyalex plain", "full", "prefilter", "full warm rerun",
                       "prefilter warm rerun"):
            r = row[method]
            print(f"{name[:28]:28} {method:20} {r['works']:>7} {r['list_calls']:>6} "
                  f"{r['single_calls']:>7} {r['list_calls_per_1000_works']:>8}")
        print(f"{'':28} {'(subject works)':20} {row['works']:>7}")
    print("single calls (free) re-fetch works whose author lists were cut at 100; warm reruns "
          "made " + ", ".join(str(row[f'{s} warm rerun']['http_calls'])
                              for row in res["subjects"].values()
                              for s in ("full", "prefilter")) + " HTTP calls")
    print(json.dumps(res, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
