"""ISN dates from the Federal Register: the notice index (federalregister.gov API field
names) in two dated versions, and the INKSNA transcription (CC BY-NC), against a plain
reading of the recorded files."""

from __future__ import annotations

import csv
import json
from datetime import date

import pytest
from typer.testing import CliRunner

from tests._paths import INKSNA, SOURCES
from tracker.listsources import (
    SourceFileError,
    TruncatedFileError,
    WrongListError,
    detect_format,
    parse_bytes,
    read_source,
)
from tracker.listsources.fr import NoticeIndex, notice_changes

FR_OLD = SOURCES / "state_isn" / "fr_notices_2026-03-18" / "fr_notices.csv"
FR_NEW = SOURCES / "state_isn" / "fr_notices_2026-08-07" / "fr_notices.csv"
pytestmark = pytest.mark.skipif(not FR_NEW.exists(), reason="shared reference data not present")


def _rows(path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_notice_index_reads_every_notice_with_its_date() -> None:
    for path in (FR_OLD, FR_NEW):
        rows = _rows(path)
        idx = read_source(path)
        assert detect_format(path.read_bytes()) == "fr"
        assert isinstance(idx, NoticeIndex) and idx.lists == {}
        assert {(n.document_number, n.publication_date.isoformat()) for n in idx.notices} == {
            (r["document_number"], r["publication_date"]) for r in rows}
        assert idx.data_date["STATE_ISN"].isoformat() == max(r["publication_date"]
                                                             for r in rows)


def test_the_newer_index_shows_exactly_the_added_notice() -> None:
    old, new = read_source(FR_OLD), read_source(FR_NEW)
    added = ({r["document_number"] for r in _rows(FR_NEW)}
             - {r["document_number"] for r in _rows(FR_OLD)})
    assert added == {"2026-15759"}
    lines = notice_changes([new, old])  # any order: oldest index first
    assert lines[-1].startswith("STATE_ISN notices added since the older index: "
                                "2026-15759 of 2026-08-04 (https://www.federalregister.gov/")
    assert "no longer" not in " ".join(lines)
    assert notice_changes([old, old])[-1].endswith("older index: none")


def test_bad_notice_index_is_one_clear_error() -> None:
    text = FR_NEW.read_text(encoding="utf-8")
    cut = text[: text.index("\n", 2000) + 20]  # stops inside a row
    with pytest.raises(TruncatedFileError, match=r"line \d+: fewer fields"):
        parse_bytes(cut.encode(), origin="fr.csv")
    bad = text.replace("2026-08-04,", "04/08/2026,", 1)
    with pytest.raises(SourceFileError, match="line 2: field publication_date: not a date"):
        parse_bytes(bad.encode(), origin="fr.csv")
    with pytest.raises(WrongListError, match="this is a fr file, not dpl"):
        parse_bytes(text.encode(), origin="fr.csv", source="dpl")


def test_inksna_entities_are_isn_memberships_dated_by_their_notice() -> None:
    rows = _rows(INKSNA)
    p = read_source(INKSNA)
    orgs = [r for r in rows if r["schema"] != "Person"]
    es = p.lists["STATE_ISN"]
    assert p.left_out_individuals == len(rows) - len(orgs) == 14
    assert sorted((e.name, e.listed_on) for e in es) == sorted(
        (r["name"].strip(), date.fromisoformat(r["start-date"])) for r in orgs)
    # each entry cites its notice, and the notice index gives the same publication day
    published = {r["document_number"]: r["publication_date"] for r in _rows(FR_NEW)}
    for e in es:
        doc = e.citations[0].removeprefix("FR Doc. ")
        number, day = doc.split(" ")
        assert published[number] == day.strip("()")
        assert number in e.listed_on_basis
    assert "CC BY-NC 4.0" in p.licence
    assert "not the whole list" in p.warnings[0]


runner = CliRunner()


def test_cli_update_from_the_two_indexes_and_from_inksna(tmp_path) -> None:
    from tracker.cli import app

    env = {"TRACKER_HOME": str(tmp_path)}
    r = runner.invoke(app, ["lists", "update", "--from", str(FR_OLD), "--from", str(FR_NEW)],
                      env=env)
    assert r.exit_code == 0, r.output
    assert "STATE_ISN notices added since the older index: 2026-15759 of 2026-08-04" in r.output
    assert "registry version 0" in r.output and "no change" in r.output  # no list changed
    # INKSNA holds two notices' entries, not the whole ISN list: a large loss is refused
    r = runner.invoke(app, ["lists", "update", "--from", str(INKSNA)], env=env)
    assert r.exit_code == 2, r.output
    err = r.stderr.strip()
    assert len(err.splitlines()) == 1 and "STATE_ISN would shrink" in err
    assert "unchanged" in err and not (tmp_path / "registry" / "CURRENT").exists()
    r = runner.invoke(app, ["lists", "update", "--from", str(INKSNA), "--allow-shrink"],
                      env=env)
    assert r.exit_code == 0, r.output
    assert "left out 14 individuals" in r.output and "licence: CC BY-NC 4.0" in r.output
    assert "registry version 1" in r.output
    r = runner.invoke(app, ["lists", "--json"], env=env)
    isn = next(x for x in json.loads(r.stdout)["lists"] if x["list"] == "STATE_ISN")
    assert isn["format"] == "OpenSanctions CSV (CC BY-NC 4.0)" and isn["entries"] == 14
    assert "CC BY-NC 4.0" in isn["licence"] and isn["data_date"] == "2026-08-04"
    r = runner.invoke(app, ["lists", "show", "Futech Co. Ltd"], env=env)
    assert r.exit_code == 0, r.output
    assert "2026-01-22" in r.stdout and "2026-01593" in r.stdout
