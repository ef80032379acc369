"""Issue 3 contract: fetching an organisation through pyalex from an OpenAlex-compatible
server gives the same findings as screening the same records saved to a file."""

from __future__ import annotations

import json

import requests

from tracker.cli import main

ORG = "I19820366"  # Chinese Academy of Sciences: its institution record is served
SINCE = "2000-01-01"


def _served_records(url: str) -> list[dict]:
    """What the server serves for the org, fetched independently with plain requests."""
    works, cursor = [], "*"
    while cursor:
        page = requests.get(f"{url}/works", params={
            "filter": f"authorships.institutions.lineage:{ORG},from_publication_date:{SINCE}",
            "per-page": 200, "cursor": cursor}, timeout=30).json()
        works.extend(page["results"])
        cursor = page["meta"]["next_cursor"] if page["results"] else None
    whole = []
    for w in works:  # list responses cut author lists at 100: take single records whole
        if w.get("is_authors_truncated"):
            w = requests.get(f"{url}/works/{w['id'].rsplit('/', 1)[-1]}", timeout=30).json()
        whole.append(w)
    return whole


def _findings(path) -> list[dict]:
    return json.loads((path / "findings.json").read_text("utf-8"))["findings"]


def test_org_fetch_equals_saved_records(oa, tmp_path, capsys):
    oa.configure(truncate_authors=True)
    records = _served_records(oa.url)
    assert records
    saved = tmp_path / "org_works.jsonl"
    saved.write_text("\n".join(json.dumps(r) for r in records) + "\n", "utf-8")
    oa.reset()
    oa.configure(truncate_authors=True)

    api_out, file_out = tmp_path / "api", tmp_path / "file"
    assert main(["screen", "--org", ORG, "--since", SINCE, "--openalex-url", oa.url,
                 "-o", str(api_out), "--no-progress"]) == 0
    assert main(["screen", "--works", str(saved), "--org", ORG, "--since", SINCE,
                 "-o", str(file_out), "--no-progress"]) == 0
    capsys.readouterr()
    api, files = _findings(api_out), _findings(file_out)
    assert api, "the org has flagged co-authorships in the recorded data"
    assert api == files
    run = json.loads((api_out / "run.json").read_text("utf-8"))
    assert run["counts"]["works_read"] == len(records)
    assert run["api"]["list_calls"] >= 1
    # pyalex really went through our transport to the local server, with select= and 200/page.
    log = [r for r in oa.requests.snapshot() if r.path == "/works"]
    assert log and all("select" in r.query for r in log)


def test_unknown_org_is_one_line_exit_2(oa, tmp_path, capsys):
    code = main(["screen", "--org", "I1", "--openalex-url", oa.url, "-o", str(tmp_path),
                 "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "404" in err


def test_spent_daily_allowance_stops_cleanly_exit_3(oa, tmp_path, capsys):
    oa.add_fault("budget_exhausted", times=5)
    code = main(["screen", "--org", ORG, "--openalex-url", oa.url, "-o", str(tmp_path),
                 "--no-progress"])
    err = capsys.readouterr().err
    assert code == 3 and "daily allowance" in err and "Traceback" not in err
