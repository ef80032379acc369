"""OpenSanctions files of several editions (DoD 1286 FY2022-FY2025, DoD 1260H 2021-2026):
the current edition's members dated by their first listing, former members with their end
dates, checked against a plain reading of the real files; their CC BY-NC licence shown
wherever the data is used."""

from __future__ import annotations

import contextlib
import csv
import json
from datetime import date

import pytest
from typer.testing import CliRunner

from tests._paths import RESTRICTED
from tracker.listsources import detect_format, read_source

F_1286 = RESTRICTED / "raw" / "dod_section1286_lists_opensanctions.csv"
F_1260H = RESTRICTED / "raw" / "dod_section1260h_full_opensanctions.csv"
pytestmark = pytest.mark.skipif(not F_1286.exists() or not F_1260H.exists(),
                                reason="shared reference data not present")


def _rows(path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _iso_dates(rows: list[dict[str, str]], cols: tuple[str, ...]) -> list[date]:
    out = []
    for r in rows:
        for c in cols:
            with contextlib.suppress(ValueError):
                out.append(date.fromisoformat(r[c]))
    return out


def test_1286_current_edition_members_dated_by_the_first_edition() -> None:
    rows = _rows(F_1286)
    newest = max(r["report-date"] for r in rows)
    current = {r["name"].strip() for r in rows if r["report-date"] == newest}
    fy2022 = {r["name"].strip() for r in rows if r["report-date"] == "2022"}
    p = read_source(F_1286)
    assert detect_format(F_1286.read_bytes()) == "opensanctions"
    es = p.lists["DOD_1286"]
    now = [e for e in es if e.ends_on is None]
    assert {e.name for e in now} == current and len(now) == len(current) == 156
    # FY2022's PDF URL path carries its release day (/2023/Jun/29/); the others do not
    for e in now:
        if e.name in fy2022:
            assert e.listed_on == date(2023, 6, 29), e
            assert "URL path" in e.listed_on_basis
        if e.listed_on is None:
            assert e.name not in fy2022 and "not given" in e.notes
    assert sum(1 for e in now if e.listed_on) >= len(current & fy2022)
    # former members: only with the end date the file gives
    for e in es:
        if e.ends_on is not None:
            assert e.name not in current
            assert any(r["name"].strip() == e.name and r["end-date"] == e.ends_on.isoformat()
                       for r in rows)
    assert p.data_date["DOD_1286"] == max(_iso_dates(rows, ("start-date", "end-date")))
    assert "CC BY-NC 4.0" in p.licence
    assert p.warnings[0].startswith("DOD_1286: 4 editions (FY2022, FY2023, FY2024, FY2025)")


def test_1260h_current_edition_members_dated_by_their_listing_in_force() -> None:
    rows = _rows(F_1260H)
    newest = max(r["Start date"] for r in rows)
    current = {r["Clean Name"].strip() for r in rows
               if r["Start date"] == newest and not r["End date"]}
    p = read_source(F_1260H)
    es = p.lists["DOD_1260H"]
    now = {e.name: e for e in es if e.ends_on is None}
    assert set(now) == current and len(current) == 188
    for name, e in now.items():
        mine = [r for r in rows if r["Clean Name"].strip() == name]
        assert e.listed_on is not None and e.listed_on <= date.fromisoformat(newest)
        if not any(r["End date"] for r in mine):  # never off the list: its first listing
            assert e.listed_on <= min(date.fromisoformat(r["Start date"]) for r in mine)
    assert now["China State Shipbuilding Corporation Limited"].listed_on == date(2021, 6, 3)
    # listed 2025-01-07, off on 2026-02-17, listed again 2026-06-08: dated by the listing
    # in force, the earlier period named in the notes
    cxmt = now["ChangXin Memory Technologies, Inc."]
    assert cxmt.listed_on == date(2026, 6, 8)
    assert "2025-01-07" in cxmt.notes and "2026-02-17" in cxmt.notes
    # former members: the end date the file gives; a name with no end date that the
    # newest edition does not print is off the list by that edition at the latest
    not_printed = 0
    for e in es:
        if e.ends_on is None:
            continue
        mine = [r for r in rows if r["Clean Name"].strip() == e.name]
        assert mine and e.name not in current
        ends = [date.fromisoformat(r["End date"]) for r in mine if r["End date"]]
        if all(r["End date"] for r in mine):
            assert e.ends_on == max(ends)
        elif "not printed" in e.ends_on_basis:
            not_printed += 1
            assert e.ends_on == date.fromisoformat(newest) and not ends
        else:  # its latest period ended, an earlier one has no end date
            assert e.ends_on == max(ends)
    assert not_printed == 9
    assert p.data_date["DOD_1260H"] == max(_iso_dates(rows, ("Start date", "End date")))
    assert "CC BY-NC 4.0" in p.licence


def test_update_from_the_editions_files_shows_the_licence_everywhere(tmp_path) -> None:
    from tracker.cli import app

    runner = CliRunner()
    env = {"TRACKER_HOME": str(tmp_path)}
    args = ["lists", "update", "--from", str(F_1286), "--from", str(F_1260H)]
    r = runner.invoke(app, args, env=env)
    # version 0 was built from later snapshots of the same transcriptions
    assert r.exit_code == 0, r.output
    assert "DOD_1286: kept" in r.output and "--allow-older" in r.output
    r = runner.invoke(app, [*args, "--allow-older"], env=env)
    assert r.exit_code == 0, r.output
    assert r.output.count("licence: CC BY-NC 4.0") == 2
    assert "registry version 1" in r.output and "DOD_1260H: +" in r.output
    r = runner.invoke(app, ["lists", "--json", "--today", "2026-12-04"], env=env)
    assert r.exit_code == 0, r.output
    lists = {x["list"]: x for x in json.loads(r.stdout)["lists"]}
    for code in ("DOD_1286", "DOD_1260H"):
        assert "CC BY-NC 4.0" in lists[code]["licence"]
    assert lists["DOD_1286"]["entries"] >= 156
    r = runner.invoke(app, ["lists", "versions", "--json"], env=env)
    sources = json.loads(r.stdout)["versions"][-1]["sources"]
    assert all("CC BY-NC 4.0" in s["licence"] for s in sources)
