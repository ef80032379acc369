"""tracker.records on real OpenAlex records, old snapshot fields and oddities."""

from __future__ import annotations

import gzip
import json

import pytest

from tests._paths import OPENALEX
from tracker.records import PARSE_WORK_FIELDS, RecordError, parse_work, short_id, short_ror


def _jsonl(name: str) -> list[dict]:
    path = OPENALEX / name
    opener = gzip.open if name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def test_every_recorded_work_parses_and_keeps_its_authorships():
    raws = _jsonl("works_bibgraph_2025-10.jsonl.gz") + _jsonl(
        "works_openalexpro_2025-11_to_2026-03.jsonl.gz")
    works = [parse_work(r) for r in raws]
    assert len(works) == len(raws) == 1210
    assert sum(len(w.authorships) for w in works) == sum(
        len(r.get("authorships") or []) for r in raws)
    # Institutions survive with ID, ROR and lineage.
    insts = [i for w in works for a in w.authorships for i in a.institutions]
    assert insts and all(i.id is None or i.id.startswith("I") for i in insts)
    assert any(len(i.lineage) > 1 for i in insts)


def test_parse_work_reads_only_its_named_fields():
    """A reader that decodes only PARSE_WORK_FIELDS (the DuckDB engine's candidate works)
    gets the Work a whole record gives, on every recorded work: a field parse_work reads
    that the set leaves out would read as None there, and a work would differ."""
    raws = _jsonl("works_bibgraph_2025-10.jsonl.gz") + _jsonl(
        "works_openalexpro_2025-11_to_2026-03.jsonl.gz")
    for raw in raws:
        # display_name repeats the title, which it stands in for: told apart here
        for record in (raw, {**raw, "display_name": "not the title"}):
            skimmed = {k: (v if k in PARSE_WORK_FIELDS else None) for k, v in record.items()}
            assert parse_work(skimmed) == parse_work(record)
    # every field of the set is in the recorded works (a field none holds tests nothing)
    assert set().union(*raws) >= PARSE_WORK_FIELDS


def test_msra_lineage_and_beihang_ids_from_real_record():
    raw = json.loads((OPENALEX / "fixture_works_list_select_beihang_msra_2025-10-29.json")
                     .read_text("utf-8"))
    works = [parse_work(r) for r in raw["results"]]
    insts = {i.id: i for w in works for a in w.authorships for i in a.institutions}
    assert insts["I82880672"].ror == "00wk2mp56"  # Beihang
    assert "I1290206253" in insts["I4210113369"].lineage  # MSRA under Microsoft


def test_partial_select_record_has_no_date_but_parses():
    raw = json.loads((OPENALEX / "fixture_works_list_select_beihang_msra_2025-10-29.json")
                     .read_text("utf-8"))
    w = parse_work(raw["results"][0])
    assert w.publication_date is None
    assert "publication_date" not in w.fields_present
    assert w.publication_year is not None


def test_null_title_record():
    raw = json.loads((OPENALEX / "fixture_work_single_null_title_W4234567890_2026-03-02.json")
                     .read_text("utf-8"))
    w = parse_work(raw)
    assert w.id == "W4234567890"
    assert w.title is None


def test_old_snapshot_records_with_empty_authorships():
    raws = _jsonl("snapshot_works_updated_date_2023-05-16_part_000.jsonl.gz")
    works = [parse_work(r) for r in raws]
    assert len(works) == 27
    assert all(w.authorships == () for w in works)


def test_html_entities_are_unescaped():
    # Find a real record whose title carries an HTML entity, if any; else the doctest covers it.
    raws = _jsonl("works_bibgraph_2025-10.jsonl.gz")
    with_entity = [r for r in raws if isinstance(r.get("title"), str) and "&amp;" in r["title"]]
    for r in with_entity:
        assert "&amp;" not in (parse_work(r).title or "")


@pytest.mark.parametrize("bad", [None, [], "W1", {"title": "x"}, {"id": "A123"},
                                 {"id": "W1", "authorships": "oops"}])
def test_unreadable_records_raise_record_error(bad):
    with pytest.raises(RecordError):
        parse_work(bad)


def test_id_helpers():
    assert short_id("https://openalex.org/works/W2162348455") == "W2162348455"
    assert short_ror("https://ror.org/00wk2mp56") == "00wk2mp56"
    assert short_id(None) is None and short_ror(42) is None


def test_packed_works_on_disk_past_a_size_read_the_same(tmp_path):
    import multiprocessing
    import sys

    import orjson

    from tracker.records import PackedWorks, parse_work

    recs = [{"id": f"https://openalex.org/W{i}", "publication_date": "2021-05-01",
             "authorships": [{"author": {"id": f"A{i}"}, "institutions": [],
                              "raw_affiliation_strings": [f"Dept {i}"]}]} for i in range(50)]
    packed = {f"W{i}": PackedWorks.pack(orjson.dumps(r)) for i, r in enumerate(recs)}
    held = PackedWorks(packed)
    disk = PackedWorks(in_memory=200, folder=tmp_path)
    items = list(packed.items())
    for i in range(0, 50, 7):  # batches, as the engines add them
        disk.add_packed(dict(items[i:i + 7]))
    assert disk.on_disk and not held.on_disk
    assert list(tmp_path.iterdir()) == []  # unlinked as created
    assert disk == held == {f"W{i}": parse_work(r) for i, r in enumerate(recs)}
    ordered = disk.sorted()
    assert list(ordered) == sorted(packed) and ordered["W7"] == held["W7"]
    assert "W49" in disk and "W50" not in disk and len(disk) == 50
    if sys.platform.startswith("linux"):  # a forked process reads the same file
        ctx = multiprocessing.get_context("fork")
        q = ctx.Queue()
        p = ctx.Process(target=_author_of, args=(ordered, "W33", q))  # inherited, not pickled
        p.start()
        assert q.get(timeout=60) == "A33"
        p.join(60)


def _author_of(works, wid, q):
    q.put(works[wid].authorships[0].author_id)
