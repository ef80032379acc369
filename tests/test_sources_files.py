"""tracker.sources.files: every accepted form, and bad input reported, not fatal."""

from __future__ import annotations

import gzip
import json
import shutil

import pytest

from tests._paths import OPENALEX
from tracker.records import Work
from tracker.sources.files import SkippedRecord, WorksFileError, read_works


def _works(path) -> tuple[list[Work], list[SkippedRecord]]:
    items = list(read_works(path))
    return ([x for x in items if isinstance(x, Work)],
            [x for x in items if isinstance(x, SkippedRecord)])


def test_gzip_jsonl_snapshot_style():
    works, skipped = _works(OPENALEX / "works_openalexpro_2025-11_to_2026-03.jsonl.gz")
    assert len(works) == 340 and not skipped


def test_plain_jsonl():
    works, skipped = _works(OPENALEX / "works_china_msra_subset.jsonl")
    assert len(works) == 71 and not skipped


def test_saved_list_response():
    works, _ = _works(OPENALEX / "fixture_works_list_select_beihang_msra_2025-10-29.json")
    assert len(works) == 20


def test_gzip_list_response():
    works, _ = _works(OPENALEX / "fixture_works_list_global_south_msra_2025-10-29.json.gz")
    assert len(works) == 50


def test_single_work_object():
    works, _ = _works(OPENALEX / "fixture_work_single_W2162348455_2026-03-02.json")
    assert [w.id for w in works] == ["W2162348455"]


def test_empty_last_page_is_not_an_error():
    works, skipped = _works(OPENALEX / "fixture_works_list_keypaper_page_2_2025.json")
    assert works == [] and skipped == []


def test_bad_records_are_skipped_and_the_rest_read(tmp_path):
    # A copy of real records with one line broken and one non-work object inserted.
    lines = (OPENALEX / "works_china_msra_subset.jsonl").read_text("utf-8").splitlines()
    lines.insert(3, '{"id": "https://openalex.org/W1", "authorships": ')
    lines.insert(7, json.dumps({"not": "a work"}))
    f = tmp_path / "mixed.jsonl"
    f.write_text("\n".join(lines) + "\n", "utf-8")
    works, skipped = _works(f)
    assert len(works) == 71
    assert [s.location for s in skipped] == ["line 4", "line 8"]
    assert "not valid JSON" in skipped[0].reason
    assert "no OpenAlex work id" in skipped[1].reason


def test_gzip_detected_by_content_not_name(tmp_path):
    f = tmp_path / "works.data"
    with open(OPENALEX / "works_china_msra_subset.jsonl", "rb") as src, gzip.open(f, "wb") as dst:
        shutil.copyfileobj(src, dst)
    works, _ = _works(f)
    assert len(works) == 71


@pytest.mark.parametrize("content, message", [
    ("", "empty"),
    ("name,doi\nx,y\n", "no OpenAlex records"),
    ('{"foo": 1}', "not OpenAlex JSON"),
    ("[1, 2", "not JSON"),
])
def test_files_that_are_not_openalex_raise(tmp_path, content, message):
    f = tmp_path / "bad.json"
    f.write_text(content, "utf-8")
    with pytest.raises(WorksFileError, match=message):
        list(read_works(f))


def test_missing_file(tmp_path):
    with pytest.raises(WorksFileError, match="no such file"):
        list(read_works(tmp_path / "nope.jsonl"))


def test_corrupt_gzip(tmp_path):
    f = tmp_path / "w.jsonl.gz"
    f.write_bytes(gzip.compress(b'{"id": "W1"}\n' * 100)[:40])
    with pytest.raises(WorksFileError, match="cannot read"):
        list(read_works(f))
