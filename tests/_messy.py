"""Generated works with the faults real files have, shared by the engine tests: a repeated
work (the same record, and a changed one), a broken line, a blank line, a record without a
work ID, a date that is a number, a record without authorships and one with null
authorships.  The records come from the project's seeded generator, fitted to the recorded
OpenAlex works; the faults are applied here, each named where it is made."""

from __future__ import annotations

import json

import pytest

from tests._paths import OPENALEX


def messy_lines(*, typed_quirks: bool = False) -> list[str]:
    """The JSON Lines text of 1,500 generated works plus the faults, one string a line.

    ``typed_quirks`` adds two values of the wrong type that the readers must take as
    OpenAlex's API would: ``is_authors_truncated`` as a string and ``publication_year`` as
    a padded string.
    """
    gen = pytest.importorskip("benchmarks.generate")
    pool = gen.load_pool(OPENALEX)
    recs = list(gen.generate(1500, 7, pool))
    changed = json.loads(json.dumps(recs[5]))
    changed["publication_date"] = "1999-01-01"
    changed["authorships"] = changed["authorships"][:1]
    recs[10]["publication_date"] = 20200101  # a date that is not a string: no date
    recs[11].pop("authorships")  # no authorships field: a partial record
    recs[12]["authorships"] = None
    if typed_quirks:
        recs[13]["is_authors_truncated"] = "true"  # a string: not a truncated list
        recs[14]["publication_year"] = " 2001 "
    lines = [json.dumps(r) for r in recs[:700]]
    lines += ["{broken", "", json.dumps({"title": "no id"}), json.dumps(recs[3]),
              json.dumps(changed)]
    lines += [json.dumps(r) for r in recs[700:]]
    return lines


def odd_authorship_lines() -> tuple[list[str], set[str]]:
    """The bundled demo works (real OpenAlex records) as JSON Lines, with authorships that
    are not objects added to some: a number to a flagged work, ``null`` to another, a
    string and a list to works without findings; and an empty object (an authorship:
    nothing to read) to one more.  Returns the lines and the IDs of the works the Python
    reader skips for it."""
    import gzip

    import tracker

    text = gzip.decompress(tracker.demo_works_path().read_bytes()).decode("utf-8")
    lines = text.splitlines()
    reg = tracker.load_registry()
    flagged = {f.work_id for f in tracker.screen(tracker.read_works(
        tracker.demo_works_path()), registry=reg, name_matcher=None).findings}
    recs = [json.loads(line) for line in lines]
    ids = [r["id"].rsplit("/", 1)[-1] for r in recs]
    hit = [k for k, w in enumerate(ids) if w in flagged]
    clear = [k for k, w in enumerate(ids) if w not in flagged]
    skipped: set[str] = set()
    for k, odd in ((hit[0], 7), (hit[1], None), (clear[0], "x"), (clear[1], [])):
        recs[k]["authorships"].insert(1, odd)
        skipped.add(ids[k])
    recs[hit[2]]["authorships"].append({})
    return [json.dumps(r) for r in recs], skipped
