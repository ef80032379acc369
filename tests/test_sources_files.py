"""tracker.sources.files: every accepted form, and bad input reported, not fatal."""

from __future__ import annotations

import gzip
import json
import shutil

import pytest

from tests._paths import OPENALEX
from tracker.records import Work
from tracker.sources.files import (
    SkippedRecord,
    TruncatedWorksFile,
    WorksFileError,
    WorksPart,
    read_works,
    split_works,
)


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
    ("[1, 2", "the download looks truncated"),
    ("[1, 2}", "not JSON"),
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
    with pytest.raises(TruncatedWorksFile, match="download looks truncated"):
        list(read_works(f))


@pytest.mark.parametrize("compress", [False, True])
def test_jsonl_whose_first_record_is_longer_than_any_peek(tmp_path, compress):
    # W3008827533 is a real 300k-character record: format detection must read to the first
    # newline, not a fixed number of bytes, or the file is taken for one JSON document.
    with gzip.open(OPENALEX / "works_bibgraph_2025-10.jsonl.gz", "rt", encoding="utf-8") as fh:
        lines = [line for line in fh if line.strip()]
    big = next(line for line in lines if '"https://openalex.org/W3008827533"' in line[:200])
    other = next(line for line in lines if line is not big)
    assert len(big) > 1 << 16
    data = (big.rstrip("\n") + "\n" + other).encode("utf-8")
    path = tmp_path / ("big.jsonl.gz" if compress else "big.jsonl")
    path.write_bytes(gzip.compress(data) if compress else data)
    works, skipped = _works(path)
    assert works[0].id == "W3008827533"
    assert len(works) == 2 and not skipped
    assert len(works[0].authorships) == len(json.loads(big)["authorships"])


def test_invalid_utf8_in_a_line_is_replaced_not_fatal(tmp_path):
    with gzip.open(OPENALEX / "works_openalexpro_2025-11_to_2026-03.jsonl.gz", "rt",
                   encoding="utf-8") as fh:
        rec = json.loads(fh.readline())
    line = json.dumps(rec, ensure_ascii=False).encode("utf-8")
    title = (rec.get("title") or "").encode("utf-8")
    assert title and title in line
    broken = line.replace(title, title + b"\xff", 1)
    path = tmp_path / "bad-bytes.jsonl"
    path.write_bytes(broken + b"\n")
    works, skipped = _works(path)
    assert len(works) == 1 and not skipped
    assert works[0].title is not None and works[0].title.endswith("\ufffd")


def _many_works(path, n):
    with gzip.open(path, "wt") as fh:
        for i in range(n):
            fh.write(json.dumps({"id": f"https://openalex.org/W{i + 1}",
                                 "authorships": [{"author": {"id": f"A{i}"}}]}) + "\n")


def test_the_collector_is_on_whenever_the_caller_runs(tmp_path):
    # read_works pauses the cyclic garbage collector while it parses a batch; the caller's
    # code between records must always run with it as it was
    import gc

    f = tmp_path / "w.jsonl.gz"
    _many_works(f, 2_500)
    seen = 0
    for item in read_works(f):
        assert gc.isenabled()
        seen += isinstance(item, Work)
    assert seen == 2_500
    it = read_works(f)
    next(it)
    it.close()  # a caller that stops early
    assert gc.isenabled()


def test_records_before_a_truncated_gzip_are_yielded_then_the_error(tmp_path, monkeypatch):
    import gc

    import tracker.sources.files as files

    monkeypatch.setattr(files, "_CHUNK", 1 << 16)  # so that the file spans many chunks
    f = tmp_path / "w.jsonl.gz"
    _many_works(f, 20_000)
    data = f.read_bytes()
    f.write_bytes(data[: len(data) * 3 // 4])
    got = []
    with pytest.raises(TruncatedWorksFile, match="download looks truncated"):
        for item in read_works(f):
            got.append(item)
    assert gc.isenabled()
    raw = []  # what the unbatched reader gets out of the same file before it fails
    with pytest.raises(WorksFileError):
        for item in files.iter_raw_works(f):
            raw.append(item)
    assert len(got) == len(raw) > 5_000 and all(isinstance(w, Work) for w in got)
    assert [w.id for w in got] == [f"W{i + 1}" for i in range(len(got))]


def _real_lines() -> list[bytes]:
    """Real OpenAlex records (the 71-work subset), one per line."""
    return [x for x in (OPENALEX / "works_china_msra_subset.jsonl").read_bytes().split(b"\n")
            if x.strip()]


def _located(items):
    return [(x.id, None) if isinstance(x, Work) else (x.location, x.reason) for x in items]


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("parts", [2, 3, 7])
def test_shares_of_a_file_are_its_records_in_order(tmp_path, compress, parts):
    # real records with a broken line, a blank line, a record without id and a list
    # response line among them; no trailing newline
    lines = _real_lines()
    lines[10:10] = [b"{broken", b"", json.dumps({"title": "no id"}).encode()]
    page = {"meta": {}, "results": [json.loads(lines[0]), json.loads(lines[1])]}
    lines[40:40] = [json.dumps(page).encode()]
    data = b"\n".join(lines)
    f = tmp_path / ("w.jsonl.gz" if compress else "w.jsonl")
    f.write_bytes(gzip.compress(data) if compress else data)
    whole = _located(read_works(f))
    shares = split_works(f, parts, min_bytes=0)
    assert len(shares) == parts
    got = [_located(share()) for share in shares]
    assert [x for part in got for x in part] == whole
    assert all(got), "every share has records at this size"
    skipped = [loc for loc, reason in whole if reason]
    assert skipped == ["line 11", "line 13"]  # numbered from the top in every share
    assert len(whole) == 71 + 2 + 2  # 71 works, the two skipped, the page's two works


def test_a_cut_inside_a_long_line_gives_that_line_to_one_share(tmp_path):
    lines = _real_lines()[:3]
    f = tmp_path / "w.jsonl"
    f.write_bytes(b"\n".join(lines) + b"\n")
    middle = len(lines[0]) // 2  # inside the first record
    first = WorksPart(f, 0, middle)
    rest = WorksPart(f, middle, None)
    assert [w.id for w in first()] == [_located(read_works(f))[0][0]]
    assert len(list(rest())) == 2


def test_files_that_cannot_be_cut_are_one_share(tmp_path):
    small = tmp_path / "small.jsonl"
    small.write_bytes(b"\n".join(_real_lines()) + b"\n")
    assert split_works(small, 2) == [WorksPart(small)]  # under MIN_SPLIT_BYTES
    assert split_works(small, 1, min_bytes=0) == [WorksPart(small)]
    listed = OPENALEX / "fixture_works_list_select_beihang_msra_2025-10-29.json"
    assert split_works(listed, 2, min_bytes=0) == [WorksPart(listed)]  # one JSON document
    missing = tmp_path / "missing.jsonl"
    assert split_works(missing, 2, min_bytes=0) == [WorksPart(missing)]
    with pytest.raises(WorksFileError, match="no such file"):
        list(split_works(missing, 2, min_bytes=0)[0]())


def test_a_byte_order_mark_does_not_move_the_cuts(tmp_path):
    f = tmp_path / "bom.jsonl"
    f.write_bytes(b"\xef\xbb\xbf" + b"\n".join(_real_lines()) + b"\n")
    whole = _located(read_works(f))
    assert [x for s in split_works(f, 4, min_bytes=0) for x in _located(s())] == whole


def test_a_share_says_how_much_of_it_is_read_as_it_is_read(tmp_path):
    """``seen(n)``: the content bytes of the share read so far, never going back, from none
    to about the share's size (a chunk at a time), for plain and gzip files."""
    import gzip as gz

    from tracker.sources import files

    lines = b"".join(b'{"id": "https://openalex.org/W%d", "authorships": [], "x": "%s"}\n'
                     % (i, b"y" * 300) for i in range(1, 40_001))
    plain = tmp_path / "w.jsonl"
    plain.write_bytes(lines)
    packed = tmp_path / "w.jsonl.gz"
    packed.write_bytes(gz.compress(lines))
    for path in (plain, packed):
        shares = files.split_works(path, 2, min_bytes=0)
        assert len(shares) == 2
        for share in shares:
            said: list[int] = []
            works = [w for w in share(seen=said.append) if not isinstance(w, SkippedRecord)]
            assert works and said == sorted(said) and said[0] == 0
            size = (share.stop or len(lines)) - share.start
            assert size - files._CHUNK <= said[-1] <= size, (said[-1], size)
        whole = [w.id for w in files.read_works(path)]
        assert [w.id for s in shares for w in s()] == whole
