"""The DuckDB engine gives the Python path's findings, row for row, and its counts.

Corpora: the bundled demo works, every real recorded works file in the shared data, and
SYNTHETIC generated works (benchmarks/generate.py) with a work repeated (once as the same
record, once changed: the first record wins), a broken line, a blank line and a record
without a work ID.  No timing is asserted.
"""

from __future__ import annotations

import gzip
import json
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

pytest.importorskip("duckdb")

import tracker
from tests._messy import messy_lines, odd_authorship_lines
from tests._paths import OPENALEX
from tracker.engine import (
    EngineSettingError,
    WorksInputError,
    expand_inputs,
    parquet_works,
    screen_files,
)
from tracker.exports import write_report_folder
from tracker.findings import FAN_IN
from tracker.names import cached_name_matcher
from tracker.screening import ScreenSettings, screen
from tracker.sources.files import read_works
from tracker.store import Store

GAP_KEYS = ("records_skipped", "skipped", "works_without_authorships", "works_without_date",
            "works_year_only", "works_authors_truncated", "works_partial_record",
            "authorships_without_institution", "authorships_without_institution_with_raw",
            "authorships_without_anything")


@pytest.fixture(scope="module")
def reg():
    return tracker.load_registry()


@pytest.fixture(scope="module")
def nm(reg, tmp_path_factory):
    return cached_name_matcher(reg, cache_dir=tmp_path_factory.mktemp("nm"))


def _python(paths, reg, nm, settings=None):
    def works():
        for p in paths:
            yield from read_works(p)
    return screen(works(), registry=reg, settings=settings, name_matcher=nm)


def assert_same(a, b):
    """Findings (every column, in order), flagged works, counts and data gaps."""
    assert [f.row() for f in b.findings] == [f.row() for f in a.findings]
    assert [f.extra for f in b.findings] == [f.extra for f in a.findings]
    assert b.works == a.works
    assert b.run["counts"] == a.run["counts"]
    for k in GAP_KEYS:
        assert b.run["data_gaps"][k] == a.run["data_gaps"][k], k


def test_demo_works_same_findings_names_on_and_off(reg, nm):
    path = tracker.demo_works_path()
    for matcher, processes in ((nm, 1), (None, 2)):  # screened here, or in two workers
        a = _python([path], reg, matcher)
        b = screen_files(path, registry=reg, name_matcher=matcher, threads=1,
                         processes=processes)
        assert a.findings  # a corpus with ties, or the comparison proves nothing
        assert_same(a, b)
        assert b.run["engine"] == "duckdb"


REAL = sorted(p for p in OPENALEX.glob("*") if p.name.startswith(("works_", "fixture_work",
                                                                    "snapshot_works")))


@pytest.mark.skipif(not REAL, reason="needs the shared recorded OpenAlex works")
@pytest.mark.parametrize("path", REAL, ids=lambda p: p.name)
def test_real_recorded_works_same_findings(reg, nm, path):
    a = _python([path], reg, nm)
    b = screen_files(path, registry=reg, name_matcher=nm, threads=1)
    assert_same(a, b)


@pytest.mark.skipif(not REAL, reason="needs the shared recorded OpenAlex works")
def test_all_real_files_at_once_with_a_window_and_two_lists(reg, nm):
    settings = ScreenSettings(since=date(2019, 1, 1), until=date(2024, 6, 30),
                              lists=("BIS_ENTITY_LIST", "DOD_1260H"))
    a = _python(REAL, reg, nm, settings)
    b = screen_files(REAL, registry=reg, name_matcher=nm, settings=settings, threads=1)
    assert a.run["counts"]["works_out_of_window"] > 0
    assert a.run["counts"]["works_duplicate"] > 0  # the recorded files overlap
    assert a.findings
    assert_same(a, b)


@pytest.mark.skipif(not REAL, reason="needs the shared recorded OpenAlex works")
def test_the_plan_names_the_authorships_that_may_tie(reg, nm, monkeypatch):
    """Each candidate work comes from the plan with the places of its authorships that hold
    a key found listed or named: every authorship that may tie as parsed is among them (or
    its ties would be lost), and none that the record's text shows no key in (or parsing
    them is wasted)."""
    import orjson

    from tracker.engine import duck
    from tracker.records import Authorship

    seen = []
    real = duck._parse_lines

    def spy(rows, keys):
        rows = list(rows)
        seen.append((rows, keys))
        return real(rows, keys)

    monkeypatch.setattr(duck, "_parse_lines", spy)
    screen_files(REAL, registry=reg, name_matcher=nm, threads=2, processes=1)
    works = parsed = 0
    for rows, keys in seen:
        for _rn, line, _wid, places in rows:
            auths = orjson.loads(line)["authorships"]
            tie = [i for i, a in enumerate(auths)
                   if keys.may_tie(Authorship.from_openalex(a, i))]
            assert set(tie) <= set(places)
            assert set(places) <= {i for i, a in enumerate(auths) if keys.may_tie_raw(a)}
            assert places == sorted(set(places))
            works += 1
            parsed += len(places) < len(auths)
    assert works > 50 and parsed > 10  # candidates with authorships left unparsed


@pytest.fixture(scope="module")
def messy(tmp_path_factory) -> Path:
    """Generated works plus a repeated work (same record, and changed), a broken line, a
    blank line, a record without a work ID, a date that is a number, a record without
    authorships and one with null authorships, as plain JSON Lines."""
    lines = messy_lines()
    out = tmp_path_factory.mktemp("messy") / "works.jsonl"
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


@pytest.mark.skipif(not OPENALEX.is_dir(), reason="needs the shared recorded OpenAlex works")
def test_generated_works_with_duplicates_and_a_broken_line(reg, nm, messy):
    a = _python([messy], reg, nm)
    assert a.run["counts"]["works_duplicate"] == 2
    assert a.run["counts"]["works_skipped"] == 2
    b = screen_files(messy, registry=reg, name_matcher=nm, threads=2)
    assert_same(a, b)
    assert [s["location"] for s in b.run["data_gaps"]["skipped"]] == ["line 701", "line 703"]
    assert b.run["engine_reader"].startswith("DuckDB typed JSON reader")


@pytest.mark.skipif(not OPENALEX.is_dir(), reason="needs the shared recorded OpenAlex works")
@pytest.mark.parametrize("together", [True, False], ids=["one-statement", "each-alone"])
def test_several_files_read_at_once_keep_each_record_at_its_place(reg, nm, messy, tmp_path,
                                                                   monkeypatch, together):
    """Small files are read by one statement (each row's file from the reader's file name),
    larger ones each alone, two at a time, the first file's typed rows becoming the table
    the plan reads: either way each record keeps its own place (a record counted at
    another's place would be read again from the text, and the run would say so)."""
    from tracker.engine import duck

    if not together:
        monkeypatch.setattr(duck, "_GROUP_BYTES", 1)
    lines = messy.read_text(encoding="utf-8").splitlines()
    parts = [tmp_path / f"part_{k}.jsonl" for k in range(3)]
    for k, part in enumerate(parts):
        part.write_text("\n".join(lines[k::3]) + "\n", encoding="utf-8")
    calls: list[int] = []
    real = duck.recs_typed_sql

    def counted(files, *args, **kw):
        calls.append(len(files))
        return real(files, *args, **kw)

    monkeypatch.setattr(duck, "recs_typed_sql", counted)
    a = _python(parts, reg, nm)
    b = screen_files(parts, registry=reg, name_matcher=nm, threads=2)
    assert_same(a, b)
    assert b.run["engine_reader"].startswith("DuckDB typed JSON reader")
    assert calls == ([3] if together else [1, 1, 1])
    assert a.findings


def _rewritten(auth: dict, form: int) -> None:
    """One authorship's keys written in another form the readers accept, each alone (the
    authorship's other keys removed): short IDs, a bare ROR, raw strings with an entity and
    padding, the older ``raw_affiliation_string`` (joined by ';'), a listed ID only in a
    made-up sub-unit's lineage."""
    insts = auth.get("institutions") or []
    raws = auth.get("raw_affiliation_strings") or []
    if form in (0, 1, 4):
        auth["raw_affiliation_strings"], auth["affiliations"] = [], []
        for i in insts:
            i["display_name"] = None
    if form == 0:
        for i in insts:
            i["id"] = (i.get("id") or "").rsplit("/", 1)[-1] or None
            i["lineage"] = [x.rsplit("/", 1)[-1] for x in i.get("lineage") or []]
            i["ror"] = None
    elif form == 1:
        for i in insts:
            i["ror"] = (i.get("ror") or "").rsplit("/", 1)[-1] or None
            i["id"], i["lineage"] = None, []
    elif form == 4:
        for i in insts:
            i["lineage"] = [x for x in [i.get("id"), *(i.get("lineage") or [])] if x]
            i["id"], i["ror"] = "https://openalex.org/I9999999999", None
    else:
        auth["institutions"], auth["affiliations"] = [], []
        if form == 2:
            auth["raw_affiliation_strings"] = [f"  {r.replace('&', '&amp;')}  " for r in raws]
        elif raws:
            auth.pop("raw_affiliation_strings", None)
            auth["raw_affiliation_string"] = ";".join(raws)


@pytest.mark.skipif(not OPENALEX.is_dir(), reason="needs the shared recorded OpenAlex works")
def test_keys_written_in_every_form_the_readers_take_give_the_same_findings(
        reg, nm, tmp_path):
    """The engine parses only the authorships whose keys, as written, were found listed or
    named: every way a record may write them must still reach the Python path's findings."""
    recs = [json.loads(line) for line in messy_lines()[:700]]
    n = 0
    for rec in recs:
        for auth in rec.get("authorships") or []:
            _rewritten(auth, n % 5)
            n += 1
    path = tmp_path / "forms.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in recs) + "\n", encoding="utf-8")
    a = _python([path], reg, nm)
    assert {"openalex_id", "ror", "lineage", "name"} <= {f.match_method for f in a.findings}
    assert_same(a, screen_files(path, registry=reg, name_matcher=nm, threads=1))


@pytest.mark.skipif(not OPENALEX.is_dir(), reason="needs the shared recorded OpenAlex works")
def test_findings_spilled_to_disk_give_the_same_result_folder_and_case_file(
        reg, nm, messy, tmp_path, monkeypatch):
    a = _python([messy], reg, nm)
    held = screen_files(messy, registry=reg, name_matcher=nm, threads=2)
    (tmp_path / "t").mkdir()
    monkeypatch.setattr("tracker.engine.duck._WORKS_IN_MEMORY", 1000)  # works to disk too
    spilled = screen_files(messy, registry=reg, name_matcher=nm, threads=2,
                           findings_in_memory=5, temp_dir=tmp_path / "t")
    assert not held.findings.spilled and spilled.findings.spilled
    assert not held.works.on_disk and spilled.works.on_disk
    assert len(spilled.findings) > 5 * FAN_IN  # merged in rounds
    assert_same(a, spilled)
    # the case file sets review decisions on both; the folders read them back in order
    with Store(tmp_path / "case.db") as st:
        st.record_run(held)
        fid = held.findings[3].finding_id
        st.set_review(fid, "needs_follow_up", "reviewer one", "checked by hand")
        one, two = st.record_run(spilled), st.record_run(held)
        assert spilled.findings[3].review_status == "needs_follow_up"
        assert held.findings[3].review_status == "needs_follow_up"
        assert st.findings(one) == st.findings(two)
    write_report_folder(held, tmp_path / "held")
    write_report_folder(spilled, tmp_path / "spilled")
    for name in ("findings.csv", "findings.jsonl", "network.graphml"):
        assert (tmp_path / "held" / name).read_bytes() == (
            tmp_path / "spilled" / name).read_bytes(), name
    assert b"needs_follow_up" in (tmp_path / "spilled" / "findings.csv").read_bytes()


def test_the_run_record_counts_spilled_findings_without_reading_them_back(
        reg, nm, messy, tmp_path, monkeypatch):
    """The counts of findings, flagged works, lists and methods are taken as the findings
    come in: the engine reads no finding back from disk for them (two million generated
    works: a pass of about 6 s), and they are the counts of the findings it returns."""
    from collections import Counter

    from tracker.findings import SpooledFindings

    passes = []
    real = SpooledFindings.__iter__

    def counted(self):
        passes.append(self.spilled)
        return real(self)

    monkeypatch.setattr(SpooledFindings, "__iter__", counted)
    res = screen_files(messy, registry=reg, name_matcher=nm, threads=2,
                       findings_in_memory=5, temp_dir=tmp_path)
    assert res.findings.spilled and passes == []
    fs = list(res.findings)
    c = res.run["counts"]
    assert c["findings"] == len(fs) > 5
    assert c["works_flagged"] == len({f.work_id for f in fs})
    assert c["findings_by_list"] == dict(sorted(Counter(f.list for f in fs).items()))
    assert c["findings_by_method"] == dict(sorted(
        Counter(f.match_method for f in fs).items()))


def test_when_typed_rows_and_lines_do_not_pair_every_record_is_read_from_text(
        reg, nm, monkeypatch):
    """The safety net: typed rows shifted by one line against the text are noticed (the
    records read again are other works) and the run is read from the text alone."""
    from tracker.engine import duck

    real = duck.recs_typed_sql

    def shifted(*a, **k):
        sql = real(*a, **k)
        assert "+ rowid + 1" in sql
        return sql.replace("+ rowid + 1", "+ rowid + 2")

    monkeypatch.setattr(duck, "recs_typed_sql", shifted)
    path = tracker.demo_works_path()
    a = _python([path], reg, nm)
    b = screen_files(path, registry=reg, name_matcher=nm, threads=1)
    assert b.run["engine_reader"] == "DuckDB, each record from its text"
    assert_same(a, b)


def _dates_lines() -> list[str]:
    """The messy works with runs of four records rewritten: no ``publication_date`` (a
    partial record), null (written ``: null``), null (written ``:null``), and absent at the
    top but named with a value inside an authorship."""
    lines = messy_lines()
    for k, line in enumerate(lines):
        if not line.startswith('{"id"') or k % 50 not in (1, 2, 3, 4):
            continue
        rec = json.loads(line)
        if k % 50 in (1, 4):
            rec.pop("publication_date", None)
        else:
            rec["publication_date"] = None
        if k % 50 == 4 and rec["authorships"]:
            rec["authorships"][0] = {"publication_date": "2001-01-01", **rec["authorships"][0]}
        lines[k] = (json.dumps(rec, separators=(",", ":")) if k % 50 == 3
                    else json.dumps(rec))
    return lines


@pytest.mark.skipif(not OPENALEX.is_dir(), reason="needs the shared recorded OpenAlex works")
def test_a_partial_record_and_a_null_date_are_told_apart_after_the_typed_read(
        reg, nm, tmp_path, monkeypatch):
    """The typed reader reads an absent ``publication_date`` and a null one alike; the pass
    that reads the candidates again tells them apart from the text (absent: a partial
    record).  Its rows carry the work ID: counted one line off, none is taken for its
    neighbour (the runs of four put a null date after each absent one), and the records
    are read again from their text."""
    from tracker.engine import duck

    path = tmp_path / "dates.jsonl.gz"
    path.write_bytes(gzip.compress(("\n".join(_dates_lines()) + "\n").encode()))
    a = _python([path], reg, nm)
    assert a.run["data_gaps"]["works_partial_record"] > 60
    real = duck._date_row
    again = []
    for shift in (0, 1):
        def shifted(n, line, shift=shift):
            return real(n + shift, line)

        monkeypatch.setattr(duck, "_date_row", shifted)
        b = screen_files(path, registry=reg, name_matcher=nm, threads=2)
        assert_same(a, b)
        # "...; N records read again from their text"
        again.append(int(b.run["engine_reader"].split("; ")[1].split()[0].replace(",", "")))
    assert again[1] > again[0] + 60  # shifted, the pass resolved none of them


@pytest.mark.skipif(not OPENALEX.is_dir(), reason="needs the shared recorded OpenAlex works")
@pytest.mark.parametrize("gz", [False, True])
def test_candidate_lines_read_directly_pair_with_the_plans_lines(reg, nm, messy, tmp_path,
                                                                 monkeypatch, gz):
    """The candidate works' lines are read by tracker itself (not DuckDB) from JSON Lines
    files: CRLF line ends, blank and whitespace-only lines and a last line without a line
    break are counted as the plan counts them, so the findings are the Python path's."""
    from tracker.engine import duck

    lines = messy.read_bytes().split(b"\n")[:-1]
    text = b"\r\n".join(line if k % 97 else b"  \t " + b"\r\n" + line
                        for k, line in enumerate(lines)) + b"\r\n\r\n" + lines[0]
    path = tmp_path / ("crlf.jsonl.gz" if gz else "crlf.jsonl")
    path.write_bytes(gzip.compress(text) if gz else text)
    read = []
    real = duck._direct_lines
    monkeypatch.setattr(duck, "_direct_lines", lambda con, files, dates: (
        read.append(row[0]) or row for row in real(con, files, dates)))
    a = _python([path], reg, nm)
    b = screen_files(path, registry=reg, name_matcher=nm, threads=2)
    assert b.run["engine_reader"].startswith("DuckDB typed JSON reader")
    assert len(read) > 100  # the candidates came from the direct reader
    assert_same(a, b)


@pytest.mark.skipif(not OPENALEX.is_dir(), reason="needs the shared recorded OpenAlex works")
def test_a_file_that_ends_before_its_last_candidate_is_read_again_by_duckdb(
        reg, nm, messy, tmp_path, monkeypatch):
    """The safety net of the direct reader: a file it finds shorter than the plan did (here
    it is handed a copy cut in half) is noticed at its end, and the run is read again with
    DuckDB's readers alone, with the Python path's findings."""
    from tracker.engine import duck

    half = tmp_path / "half.jsonl"
    lines = messy.read_bytes().split(b"\n")
    half.write_bytes(b"\n".join(lines[:len(lines) // 2]) + b"\n")
    real = duck._direct_lines
    monkeypatch.setattr(duck, "_direct_lines", lambda con, files, dates: real(
        con, [(i, half) for i, _p in files], dates))
    a = _python([messy], reg, nm)
    b = screen_files(messy, registry=reg, name_matcher=nm, threads=2)
    assert b.run["engine_reader"] == "DuckDB, each record from its text"
    assert_same(a, b)


@pytest.mark.skipif(not OPENALEX.is_dir(), reason="needs the shared recorded OpenAlex works")
def test_many_files_a_glob_and_gzip_under_any_name(reg, nm, messy, tmp_path):
    lines = messy.read_text(encoding="utf-8").splitlines()
    (tmp_path / "a.jsonl").write_text("\n".join(lines[:900]) + "\n", encoding="utf-8")
    with gzip.open(tmp_path / "b.data", "wt", encoding="utf-8") as fh:  # gzip, no .gz
        fh.write("\n".join(lines[900:]) + "\n")
    parts = [tmp_path / "a.jsonl", tmp_path / "b.data"]
    a = _python(parts, reg, nm)
    assert_same(a, screen_files(parts, registry=reg, name_matcher=nm, threads=2))
    assert_same(a, screen_files(str(tmp_path / "[ab].*"), registry=reg, name_matcher=nm))


def _manifest(works: Path, parts: list[Path]) -> None:
    """``works/manifest`` listing ``parts`` as OpenAlex writes it (Amazon Redshift's
    manifest format: each part's S3 URL, size and record count), written by the test for
    the parts it wrote."""
    entries = [{"url": f"s3://openalex/data/works/{p.relative_to(works).as_posix()}",
                "meta": {"content_length": p.stat().st_size,
                         "record_count": len(gzip.decompress(p.read_bytes()).splitlines())}}
               for p in parts]
    (works / "manifest").write_text(json.dumps({"entries": entries}), encoding="utf-8")


def test_snapshot_folder_layout(reg, nm, tmp_path):
    """The snapshot's works folder, its manifest listing each part at its size: the
    parts newest partition first, screened as the Python path screens them."""
    src = tracker.demo_works_path()
    lines = gzip.decompress(src.read_bytes()).decode("utf-8").splitlines()
    parts = []
    for i, (day, name) in enumerate((("2024-01-02", "part_000.gz"),
                                     ("2024-03-04", "part_000.gz"),
                                     ("2024-03-04", "part_001.gz"))):
        folder = tmp_path / "works" / f"updated_date={day}"
        folder.mkdir(parents=True, exist_ok=True)
        with gzip.open(folder / name, "wt", encoding="utf-8") as fh:
            fh.write("\n".join(lines[i::3]) + "\n")
        parts.append(folder / name)
    _manifest(tmp_path / "works", parts)
    files = expand_inputs([tmp_path])
    assert [f.path.relative_to(tmp_path / "works").as_posix() for f in files] == [
        "updated_date=2024-03-04/part_000.gz", "updated_date=2024-03-04/part_001.gz",
        "updated_date=2024-01-02/part_000.gz"]
    b = screen_files(tmp_path, registry=reg, name_matcher=nm, threads=1)
    a = _python([f.path for f in files], reg, nm)
    assert_same(a, b)
    assert b.run["counts"]["works_read"] == 71


#: The manifest entries of two works parts of a real OpenAlex snapshot, as OpenAlex wrote
#: them (go-openalex keeps a copy of that manifest: sample/openalex/works/manifest at commit
#: dc0a2cfd9a7609b5a07a4a945de3837868f5e129); the first part is in the shared data, byte for
#: byte (its PROVENANCE.md: 6,937 bytes, 27 records, as this entry says).
REAL_ENTRIES = [
    {"url": "s3://openalex/data/works/updated_date=2023-05-16/part_000.gz",
     "meta": {"content_length": 6937, "record_count": 27}},
    {"url": "s3://openalex/data/works/updated_date=2023-07-17/part_000.gz",
     "meta": {"content_length": 12227, "record_count": 24}},
]
REAL_PART = OPENALEX / "snapshot_works_updated_date_2023-05-16_part_000.jsonl.gz"


@pytest.mark.skipif(not REAL_PART.is_file(), reason="needs the shared snapshot part")
def test_a_snapshot_download_that_does_not_match_its_manifest_is_refused_in_one_line(
        capsys, tmp_path):
    """A part the manifest lists that is missing or of another size (a download not
    complete), or a part it does not list (not of this snapshot): one line saying which
    and how to screen the parts at hand (a glob), exit 2, with either engine."""
    works = tmp_path / "snap" / "works"
    part = works / "updated_date=2023-05-16" / "part_000.gz"
    part.parent.mkdir(parents=True)
    part.write_bytes(REAL_PART.read_bytes())
    manifest = works / "manifest"
    manifest.write_text(json.dumps({"entries": REAL_ENTRIES[:1]}), encoding="utf-8")
    assert [f.path for f in expand_inputs([tmp_path / "snap"])] == [part]
    code, _, err = _cli(capsys, "screen", "--works", str(tmp_path / "snap"), "--no-record",
                        "--no-progress", "-o", str(tmp_path / "ok"))
    assert code == 0, err
    run = json.loads((tmp_path / "ok" / "run.json").read_text("utf-8"))
    checked = [i for i in run["inputs"] if i["kind"] == "snapshot manifest"]
    assert [(i["path"], i["parts"], i["records"]) for i in checked] == [
        (str(manifest), 1, 27)]
    assert run["counts"]["works_read"] == 27

    def refused(why: str, *, glob_reads: bool = True) -> None:
        for engine in ("duckdb", "python"):
            code, _, err = _cli(capsys, "screen", "--works", str(tmp_path / "snap"),
                                "--engine", engine, "--no-record", "--no-progress",
                                "-o", str(tmp_path / "out"))
            lines = [ln for ln in err.splitlines() if ln.strip()]
            assert code == 2 and len(lines) == 1, lines
            assert why in lines[0] and "updated_date=*/part_*" in lines[0], lines[0]
        # the glob: the parts at hand, whatever the manifest says
        code, _, err = _cli(capsys, "screen", "--works", str(works / "updated_date=*/part_*"),
                            "--no-record", "--no-progress", "-o", str(tmp_path / "out"))
        assert code == (0 if glob_reads else 2), err

    manifest.write_text(json.dumps({"entries": REAL_ENTRIES}), encoding="utf-8")
    refused("1 of the 2 parts its manifest lists are missing or of another size "
            "(updated_date=2023-07-17/part_000.gz): the download is not complete")
    manifest.write_text(json.dumps({"entries": REAL_ENTRIES[:1]}), encoding="utf-8")
    part.write_bytes(REAL_PART.read_bytes()[:-100])
    refused("(updated_date=2023-05-16/part_000.gz): the download is not complete",
            glob_reads=False)  # the part itself is cut off
    part.write_bytes(REAL_PART.read_bytes())
    other = works / "updated_date=2022-01-01" / "part_000.gz"
    other.parent.mkdir()
    other.write_bytes(REAL_PART.read_bytes())
    refused("1 part files are not in its manifest (updated_date=2022-01-01/part_000.gz)")
    other.unlink()
    for text, why in (("{}", 'it has no "entries" list'), ("[1]", "it is not a JSON object"),
                      ("not json", "it is not a JSON object"),
                      ('{"entries": [{"meta": {}}]}', 'an entry has no "url"')):
        manifest.write_text(text, encoding="utf-8")
        with pytest.raises(WorksInputError) as caught:
            expand_inputs([tmp_path / "snap"])
        # what is wrong in words, and the way on (no Python exception's name)
        assert f"not a snapshot manifest ({why}). Download it again" in str(caught.value)
        assert "Error" not in str(caught.value)


def test_a_work_in_two_snapshot_partitions_is_read_from_the_newest(reg, tmp_path):
    """A download caught between OpenAlex moving a record to a newer partition and
    rewriting the older part holds the work twice: the newest copy is the one screened
    (the other counted as a duplicate), whichever engine reads it."""
    recs = _demo_records()
    a = _python([tracker.demo_works_path()], reg, None)
    wid = a.findings[0].work_id
    rec = next(r for r in recs if r["id"].endswith("/" + wid))
    newer = {**rec, "title": "the newer copy"}
    for day, rows in (("2024-01-01", recs), ("2024-06-01", [newer])):
        folder = tmp_path / "works" / f"updated_date={day}"
        folder.mkdir(parents=True)
        with gzip.open(folder / "part_000.gz", "wt", encoding="utf-8") as fh:
            fh.write("\n".join(json.dumps(r) for r in rows) + "\n")
    glob = str(tmp_path / "works" / "updated_date=*" / "part_*")
    for given in (tmp_path, glob):  # the folder, or its parts named by a glob
        for engine in ("duckdb", "python"):
            if engine == "duckdb":
                b = screen_files(given, registry=reg, threads=1)
            else:
                b = _python([f.path for f in expand_inputs([given])], reg, None)
            assert b.run["counts"]["works_duplicate"] == 1
            assert {f.title for f in b.findings if f.work_id == wid} == {"the newer copy"}


def _demo_records(*, quirks: bool = False) -> list[dict]:
    """The demo works as dicts; ``quirks``: the first five changed to test the reading (no
    ID, null authorships, no date nor year, a year only, authors truncated)."""
    import orjson

    recs = [orjson.loads(x) for x in gzip.decompress(
        tracker.demo_works_path().read_bytes()).splitlines() if x.strip()]
    if quirks:
        recs[0]["id"] = None
        recs[1]["authorships"] = None
        recs[2]["publication_date"] = recs[2]["publication_year"] = None
        recs[3]["publication_date"], recs[3]["publication_year"] = None, 2020
        recs[4]["is_authors_truncated"] = True
    return recs


def _demo_parquet(tmp_path, select="*", more="", row_group_size=20000):
    """The demo works written to Parquet by DuckDB: ``SELECT {select} FROM`` them (``w``)
    ``{more}``, in row groups of ``row_group_size`` rows."""
    import duckdb

    plain = tmp_path / "works.jsonl"
    plain.write_bytes(gzip.decompress(tracker.demo_works_path().read_bytes()))
    pq = tmp_path / "works.parquet"
    con = duckdb.connect()
    con.execute(f"COPY (SELECT {select} FROM read_json('{plain}', "
                f"format='newline_delimited') w{more}) TO '{pq}' "
                f"(FORMAT parquet, ROW_GROUP_SIZE {int(row_group_size)})")
    con.close()
    return pq


def test_parquet_input_same_findings(reg, nm, tmp_path):
    src = tracker.demo_works_path()
    pq = _demo_parquet(tmp_path)
    a = _python([src], reg, nm)
    b = screen_files(pq, registry=reg, name_matcher=nm, threads=1)
    assert [f.row() for f in b.findings] == [f.row() for f in a.findings]
    assert b.run["counts"]["works_read"] == a.run["counts"]["works_read"]


def test_parquet_read_for_the_plan_by_its_columns_gives_what_whole_rows_give(
        reg, nm, tmp_path, monkeypatch):
    """The plan turns only the columns it reads into JSON text; with rows that test them
    (no ID, null authorships, no date, a year only, authors truncated) and a JSON Lines
    file beside the Parquet one, findings, counts and data gaps are those of whole rows."""
    import duckdb
    import orjson

    from tracker.engine import duck

    recs = _demo_records(quirks=True)
    plain = tmp_path / "works.jsonl"
    plain.write_bytes(b"\n".join(orjson.dumps(r) for r in recs[:60]) + b"\n")
    pq = tmp_path / "works.parquet"
    con = duckdb.connect()
    con.execute(f"COPY (SELECT * FROM read_json('{plain}', format='newline_delimited')) "
                f"TO '{pq}' (FORMAT parquet)")
    con.close()
    rest = tmp_path / "rest.jsonl"
    rest.write_bytes(b"\n".join(orjson.dumps(r) for r in recs[60:]) + b"\n")
    narrow = [screen_files(files, registry=reg, name_matcher=nm, threads=1)
              for files in ([pq], [pq, rest])]
    assert all(r.run["counts"]["works_read"] for r in narrow)
    monkeypatch.setattr(duck._Staging, "narrow_parquet", lambda self, con: None)
    for files, a in zip(([pq], [pq, rest]), narrow, strict=True):
        b = screen_files(files, registry=reg, name_matcher=nm, threads=1)
        assert a.findings and [f.row() for f in a.findings] == [f.row() for f in b.findings]
        assert a.run["counts"] == b.run["counts"]
        assert a.run["data_gaps"] == b.run["data_gaps"]
        gaps = a.run["data_gaps"]
        assert gaps["works_without_date"] >= 1 and gaps["works_year_only"] >= 1
        assert gaps["works_authors_truncated"] >= 1 and gaps["works_without_authorships"] >= 1
        assert a.run["counts"]["works_skipped"] >= 1


def test_a_parquet_candidate_s_text_is_its_row_as_the_file_holds_it(reg, nm, tmp_path,
                                                                     monkeypatch):
    """A candidate work read from Parquet comes to the workers as its row's columns only
    (not the reader's row number; a column named with a double quote too), so its text is
    kept for the flagged works as it is, parsed once; the findings and flagged works are
    the JSON Lines file's."""
    import orjson

    from tracker.engine import duck

    recs = _demo_records()
    pq = _parquet_of(recs, tmp_path / "works.parquet", select='*, 1 AS "odd ""name"""')
    seen = []
    real = duck._parse_lines

    def spy(rows, keys):
        rows = list(rows)
        seen.extend(rows)
        return real(rows, keys)

    monkeypatch.setattr(duck, "_parse_lines", spy)
    b = screen_files(pq, registry=reg, name_matcher=nm, threads=1, processes=1)
    import duckdb

    columns = duckdb.sql(f"SELECT * FROM read_parquet('{pq}') LIMIT 0").columns
    assert columns[-1] == 'odd "name"' and len(seen) > 10
    assert all(list(orjson.loads(line)) == columns for _rn, line, _wid, _p in seen)
    a = _python([tmp_path / "works.jsonl"], reg, nm)
    assert a.findings and [f.row() for f in b.findings] == [f.row() for f in a.findings]
    assert set(b.works) == set(a.works)


def _parquet_of(recs, path, select="*"):
    import duckdb
    import orjson

    plain = path.with_suffix(".jsonl")
    plain.write_bytes(b"\n".join(orjson.dumps(r) for r in recs) + b"\n")
    con = duckdb.connect()
    con.execute(f"COPY (SELECT {select} FROM read_json('{plain}', format='newline_delimited')) "
                f"TO '{path}' (FORMAT parquet)")
    con.close()
    return path


@pytest.mark.parametrize("select, by_columns", [
    ("*", True),
    # a column the plan reads missing: every record partial, and read so by both
    ("* EXCLUDE (publication_date)", True),
    ("* EXCLUDE (authorships)", True),
    # the work ID as JSON, a raw string as a float: their text is not their JSON's
    ("* REPLACE (to_json(id) AS id)", False),
    ("* REPLACE (list_transform(authorships, lambda a: struct_insert(a, "
     "raw_affiliation_string := 1.5::DOUBLE)) AS authorships)", False),
    # a field named as the plan's in other letter case: JSON would not read it
    ("* REPLACE (list_transform(authorships, lambda a: struct_insert(a, "
     "Raw_Affiliation_String := 'Beihang University')) AS authorships)", False),
    # a list response's envelope column: told apart by the text
    ("*, [] AS results", False),
])
def test_parquet_read_by_its_columns_gives_what_its_text_gives(reg, nm, tmp_path, monkeypatch,
                                                              select, by_columns):
    """A Parquet file is read by its columns where their cast reads as their JSON text
    does, from its rows' text otherwise; either way, with rows that test the reading (no
    ID, an ID not a work's, null authorships, no date, a date with a time, a year only, a
    year as text, authors truncated), findings, counts, data gaps and skipped rows are
    those of the text path."""

    from tracker.engine import duck

    recs = _demo_records(quirks=True)
    recs[5]["id"] = "https://openalex.org/A5000000001"
    recs[6]["publication_date"], recs[6]["publication_year"] = "2021-06-01T12:00:00", None
    pq = _parquet_of(recs, tmp_path / "works.parquet", select)
    a = screen_files(pq, registry=reg, name_matcher=nm, threads=1)
    n = "1" if by_columns else "0"
    assert f"; Parquet: {n} of 1 files read by their columns" in a.run["engine_reader"]
    monkeypatch.setattr(duck, "_fits", lambda kind, shape: False)
    b = screen_files(pq, registry=reg, name_matcher=nm, threads=1)
    assert "; Parquet: 0 of 1 files read by their columns" in b.run["engine_reader"]
    assert [f.row() for f in a.findings] == [f.row() for f in b.findings]
    assert a.run["counts"] == b.run["counts"] and a.run["counts"]["works_read"] > 0
    assert a.run["data_gaps"] == b.run["data_gaps"]
    assert a.run["data_gaps"]["skipped"] == b.run["data_gaps"]["skipped"]
    if select == "*":
        assert a.findings
        assert a.run["counts"]["works_skipped"] == 2
        gaps = a.run["data_gaps"]
        assert gaps["works_without_date"] >= 1 and gaps["works_year_only"] >= 1
        assert gaps["works_authors_truncated"] >= 1 and gaps["works_without_authorships"] >= 1
    if "EXCLUDE" in select:
        assert a.run["data_gaps"]["works_partial_record"] == a.run["counts"]["works_read"]


def test_parquet_parts_of_the_same_columns_are_read_together(reg, nm, tmp_path, monkeypatch):
    """A snapshot's Parquet parts: those of the same columns are read by one statement,
    wherever they are in the input (a row's place is its file's and its row number), and
    give what each part's text gives; a group whose cast fails is read again file by
    file."""
    import duckdb
    import orjson

    from tracker.engine import duck

    recs = _demo_records(quirks=True)
    plain = tmp_path / "all.jsonl"
    plain.write_bytes(b"\n".join(orjson.dumps(r) for r in recs) + b"\n")
    con = duckdb.connect()
    con.execute(f"CREATE TABLE t AS SELECT * FROM read_json('{plain}', "
                "format='newline_delimited')")
    parts = []
    for k in range(4):  # the same columns in parts 0 and 2; 1 and 3 lack the date column
        part = tmp_path / f"part_{k}.parquet"
        cols = "*" if k % 2 == 0 else "* EXCLUDE (publication_date)"
        con.execute(f"COPY (SELECT {cols} FROM t WHERE rowid % 4 = {k}) TO '{part}' "
                    "(FORMAT parquet)")
        parts.append(part)
    con.close()
    calls: list[list[int]] = []
    real = duck.recs_parquet_sql

    def counted(files, *args, **kw):
        calls.append([i for i, _ in files])
        return real(files, *args, **kw)

    monkeypatch.setattr(duck, "recs_parquet_sql", counted)
    a = screen_files(parts, registry=reg, name_matcher=nm, threads=1)
    assert "; Parquet: 4 of 4 files read by their columns" in a.run["engine_reader"]
    assert sorted(calls) == [[0, 2], [1, 3]]

    def refused(files, *args, **kw):  # as if a value of one of them failed its cast
        calls.append([i for i, _ in files])
        if len(files) > 1:
            raise duckdb.ConversionException("could not convert")
        return real(files, *args, **kw)

    calls.clear()
    monkeypatch.setattr(duck, "recs_parquet_sql", refused)
    b = screen_files(parts, registry=reg, name_matcher=nm, threads=1)
    assert "; Parquet: 4 of 4 files read by their columns" in b.run["engine_reader"]
    assert sorted(calls) == [[0], [0, 2], [1], [1, 3], [2], [3]]
    monkeypatch.setattr(duck, "_fits", lambda kind, shape: False)
    c = screen_files(parts, registry=reg, name_matcher=nm, threads=1)
    assert "; Parquet: 0 of 4 files read by their columns" in c.run["engine_reader"]
    for r in (a, b):
        assert [f.row() for f in r.findings] == [f.row() for f in c.findings]
        assert r.run["counts"] == c.run["counts"] and r.run["data_gaps"] == c.run["data_gaps"]
    assert a.findings and 0 < a.run["data_gaps"]["works_partial_record"] < len(recs)


def test_parquet_columns_that_fail_their_cast_are_read_from_text(reg, nm, tmp_path,
                                                                 monkeypatch):
    """Authorships that are not a list (here a number) fail the cast: the file is read
    from its rows' text, where those records are skipped as the Python reader skips them."""

    from tracker.engine import duck

    recs = _demo_records()[:5]
    pq = _parquet_of(recs, tmp_path / "works.parquet", "* REPLACE (1 AS authorships)")
    monkeypatch.setattr(duck, "_fits", lambda kind, shape: True)
    b = screen_files(pq, registry=reg, name_matcher=nm, threads=1)
    assert "; Parquet: 0 of 1 files read by their columns" in b.run["engine_reader"]
    assert b.run["counts"]["works_skipped"] == 5


def test_inputs_that_cannot_be_used(reg, tmp_path):
    with pytest.raises(WorksInputError, match="no such file"):
        screen_files(tmp_path / "missing.jsonl", registry=reg)
    with pytest.raises(WorksInputError, match="no file matches"):
        screen_files(str(tmp_path / "*.jsonl.gz"), registry=reg)
    (tmp_path / "empty.jsonl").write_bytes(b"")
    with pytest.raises(WorksInputError, match="empty"):
        screen_files(tmp_path / "empty.jsonl", registry=reg)
    with pytest.raises(EngineSettingError, match="topic"):
        screen_files(tracker.demo_works_path(), registry=reg,
                     settings=ScreenSettings(topics=("graphene",)))


@pytest.mark.skipif(not OPENALEX.is_dir(), reason="needs the shared recorded OpenAlex works")
def test_skipped_records_listed_as_the_python_reader_lists_them(reg, messy, tmp_path):
    """Windows line ends and blank lines do not move the line numbers."""
    text = messy.read_text(encoding="utf-8").replace("\n", "\r\n")
    crlf = tmp_path / "crlf.jsonl"
    crlf.write_text(text, encoding="utf-8", newline="")
    a = _python([crlf], reg, None)
    b = screen_files(crlf, registry=reg, threads=1)
    assert b.run["data_gaps"]["skipped"] == a.run["data_gaps"]["skipped"]
    assert len(a.run["data_gaps"]["skipped"]) == 2


def test_a_line_broken_inside_a_string_is_skipped_for_the_python_readers_reason(reg, tmp_path):
    """The reason is the one the Python reader gives for the line without its line break
    (the engine gave "unexpected control character in string", the break read as part of
    the unterminated string, where the Python reader says "unexpected end of data")."""
    lines = gzip.decompress(tracker.demo_works_path().read_bytes()).splitlines(keepends=True)
    path = tmp_path / "works.jsonl.gz"
    path.write_bytes(gzip.compress(b"".join(
        [*lines[:5], b'{"id": "https://openalex.org/W1", "broken\n', *lines[5:]])))
    a = _python([path], reg, None)
    b = screen_files(path, registry=reg, threads=1, processes=1)
    assert b.run["data_gaps"]["skipped"] == a.run["data_gaps"]["skipped"]
    assert [s["reason"] for s in a.run["data_gaps"]["skipped"]] == [
        "not valid JSON (unexpected end of data)"]


def test_a_file_cut_off_mid_record_is_refused_as_the_python_reader_refuses_it(reg, tmp_path):
    from tracker.sources.files import TruncatedWorksFile

    data = gzip.decompress(tracker.demo_works_path().read_bytes())
    cut = tmp_path / "cut.jsonl"
    cut.write_bytes(data[: len(data) - 500])  # the last line loses its end and its newline
    with pytest.raises(TruncatedWorksFile):
        list(read_works(cut))
    with pytest.raises(TruncatedWorksFile, match="cut off mid-record"):
        screen_files(cut, registry=reg, threads=1)
    gz = tmp_path / "cut.jsonl.gz"
    whole = tracker.demo_works_path().read_bytes()
    gz.write_bytes(whole[: len(whole) // 2])  # the compressed stream ends early
    with pytest.raises(TruncatedWorksFile):
        screen_files(gz, registry=reg, threads=1)


def _cli(capsys, *args: str) -> tuple[int, str, str]:
    from tracker.cli import main

    code = main(list(args))
    cap = capsys.readouterr()
    return code, cap.out, cap.err


@pytest.mark.parametrize("engine", ["duckdb", "python"])
def test_a_small_gzip_file_cut_off_is_refused_in_one_line(capsys, tmp_path, engine):
    """A gzip file cut off within the first megabyte its first line is looked for in (a
    small download cut short) is refused as truncated, exit code 2, not taken for Ctrl-C
    (the CLI framework reads an EOFError as the end of input)."""
    whole = tracker.demo_works_path().read_bytes()
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(whole[: len(whole) // 5])  # about 0.6 MB of text
    with gzip.open(cut) as fh, pytest.raises(EOFError):
        fh.read(1 << 20)
    code, _out, err = _cli(capsys, "screen", "--works", str(cut), "--engine", engine,
                           "--no-record", "--no-progress", "-o", str(tmp_path / "out"))
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2 and len(lines) == 1, lines
    assert "download looks truncated" in lines[0]


def _damaged_gzip(reg, tmp_path) -> Path:
    """The demo works (real records), flagged works first, gzip with its checksum changed:
    the text reads whole, and only the check at the file's end finds the damage."""
    text = gzip.decompress(tracker.demo_works_path().read_bytes()).decode("utf-8")
    flagged = {f.work_id for f in _python([tracker.demo_works_path()], reg, None).findings}
    lines = sorted(text.splitlines(),
                   key=lambda ln: json.loads(ln)["id"].rsplit("/", 1)[-1] not in flagged)
    data = bytearray(gzip.compress(("\n".join(lines) + "\n").encode("utf-8")))
    data[-8] ^= 0xFF  # the trailer's CRC-32
    path = tmp_path / "damaged.jsonl.gz"
    path.write_bytes(data)
    return path


def test_a_damaged_gzip_file_is_refused_as_the_python_reader_refuses_it(
        reg, capsys, tmp_path):
    """DuckDB verifies no gzip checksum: a file damaged where its text still reads is
    refused all the same, with the Python reader's message and exit code (2), whichever
    reader of the engine reads it."""
    from tracker.engine import duck
    from tracker.sources.files import WorksFileError

    path = _damaged_gzip(reg, tmp_path)
    with pytest.raises(WorksFileError) as py:
        _python([path], reg, None)
    assert "CRC check failed" in str(py.value)
    real = duck.recs_typed_sql

    def shifted(*args, **kw):  # typed rows that do not pair with the lines: text only
        return real(*args, **kw).replace("+ rowid + 1", "+ rowid + 2")

    for text_only in (False, True):
        with pytest.MonkeyPatch.context() as mp:
            if text_only:
                mp.setattr(duck, "recs_typed_sql", shifted)
            with pytest.raises(WorksFileError) as eng:
                screen_files(path, registry=reg, threads=1, processes=1)
        assert str(eng.value) == str(py.value).replace(str(path), str(path.resolve()))
    code, _out, err = _cli(capsys, "screen", "--works", str(path), "--engine", "duckdb",
                           "--no-record", "--no-progress", "-o", str(tmp_path / "out"))
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2 and len(lines) == 1, lines
    assert "cannot read the file (CRC check failed" in lines[0]


def test_candidate_lines_are_read_to_the_end_of_a_gzip_file(reg, monkeypatch, tmp_path):
    """Past its last candidate a gzip file is read on, to its end, where its checksum is
    verified (a file read only up to its last candidate was never checked)."""
    from tracker.engine import duck

    path = tmp_path / "works.jsonl.gz"
    data = bytearray(_damaged_gzip(reg, tmp_path).read_bytes())
    data[-8] ^= 0xFF  # the checksum mended
    path.write_bytes(data)
    ended: list[bool] = []
    real = duck._lines

    def watched(p):
        yield from real(p)
        ended.append(True)

    monkeypatch.setattr(duck, "_lines", watched)
    b = screen_files(path, registry=reg, threads=1, processes=1)
    assert b.findings and b.run["engine_reader"].startswith("DuckDB typed JSON reader")
    assert ended == [True]

def test_cli_screens_a_snapshot_folder_and_a_glob_with_either_engine(capsys, tmp_path):
    """--works takes a folder in the snapshot layout or a glob; the DuckDB and the Python
    engine give the same findings.csv for them."""
    data = gzip.decompress(tracker.demo_works_path().read_bytes()).decode().splitlines()
    part = tmp_path / "snap" / "works" / "updated_date=2025-01-01"
    part.mkdir(parents=True)
    with gzip.open(part / "part_000.gz", "wt", encoding="utf-8") as fh:
        fh.write("\n".join(data) + "\n")
    common = ("--no-progress", "--no-keep-works", "--db", str(tmp_path / "case.db"))
    code, _, err = _cli(capsys, "screen", "--works", str(tmp_path / "snap"), "--engine",
                        "duckdb", "-o", str(tmp_path / "a"), *common)
    assert code == 0, err
    code, _, err = _cli(capsys, "screen", "--works", str(tmp_path / "snap/works/*/part_*"),
                        "-o", str(tmp_path / "b"), *common)
    assert code == 0, err
    code, _, err = _cli(capsys, "screen", "--works", str(tmp_path / "snap"), "--engine",
                        "python", "-o", str(tmp_path / "c"), *common)
    assert code == 0, err
    csv = [(tmp_path / d / "findings.csv").read_bytes() for d in "abc"]
    assert csv[0] == csv[1] == csv[2]
    run = json.loads((tmp_path / "a" / "run.json").read_text("utf-8"))
    assert run["engine"] == "duckdb" and run["counts"]["works_read"] == 71


def test_cli_screens_parquet_with_every_engine_and_keeps_its_works(capsys, tmp_path):
    """A Parquet works file through ``tracker screen`` as a user runs it (case file, works
    kept for ``tracker rescreen``): each engine gives the same findings.csv and skipped
    rows, and the case file holds the works.  (The works kept had been read by the Python
    reader as JSON Lines, and the run stopped: "line N ... is cut off mid-record".)"""
    import sqlite3

    pq = _parquet_of(_demo_records(quirks=True), tmp_path / "works.parquet")
    for e in ("auto", "duckdb", "python"):
        code, _out, err = _cli(capsys, "screen", "--works", str(pq), "--engine", e,
                              "--no-progress", "-o", str(tmp_path / e),
                              "--db", str(tmp_path / f"{e}.db"))
        assert code == 0, err
        with sqlite3.connect(tmp_path / f"{e}.db") as db:
            assert db.execute("SELECT n_works FROM run_works").fetchall() == [(70,)]
    csv = {e: (tmp_path / e / "findings.csv").read_bytes() for e in ("auto", "duckdb", "python")}
    assert csv["auto"] == csv["duckdb"] == csv["python"] and csv["python"].count(b"\n") > 1
    runs = {e: json.loads((tmp_path / e / "run.json").read_text("utf-8"))
            for e in ("duckdb", "python")}
    assert runs["duckdb"]["data_gaps"]["skipped"] == runs["python"]["data_gaps"]["skipped"] == [
        {"source": str(pq), "location": "row 0", "reason": "record has no OpenAlex work id"}]
    code, _out, err = _cli(capsys, "rescreen", "--db", str(tmp_path / "auto.db"))
    assert code == 0, err


@pytest.mark.parametrize("engine", ["duckdb", "python"])
def test_a_cut_off_parquet_file_is_refused_in_one_line(capsys, tmp_path, engine):
    """A Parquet download cut off before its footer: one line naming the file and exit 2
    (it was an internal error with both engines)."""
    pq = _parquet_of(_demo_records(), tmp_path / "works.parquet")
    cut = tmp_path / "cut.parquet"
    cut.write_bytes(pq.read_bytes()[:20_000])
    code, _out, err = _cli(capsys, "screen", "--works", str(cut), "--engine", engine,
                          "--no-progress", "-o", str(tmp_path / "r"),
                          "--db", str(tmp_path / "c.db"))
    assert code == 2
    assert err.strip().splitlines() == [
        f"tracker: error: {cut}: cannot be read as Parquet (no Parquet footer: the file "
        "looks cut off; download it again)"]


def test_cli_refuses_what_the_duckdb_engine_cannot_do_in_one_line(capsys, tmp_path):
    code, _, err = _cli(capsys, "screen", "--works", str(tracker.demo_works_path()),
                        "--engine", "duckdb", "--topic", "graphene", "--no-progress",
                        "--db", str(tmp_path / "case.db"), "-o", str(tmp_path / "r"))
    assert code == 2
    assert "use --engine python" in err and "Traceback" not in err
    code, _, err = _cli(capsys, "screen", "--works", str(tmp_path / "none" / "*.gz"),
                        "--no-progress", "--db", str(tmp_path / "case.db"),
                        "-o", str(tmp_path / "r"))
    assert code == 2 and "no file matches" in err
    code, _, err = _cli(capsys, "screen", "--works", str(tracker.demo_works_path()),
                        "--engine", "hadoop", "--no-progress", "--db",
                        str(tmp_path / "case.db"), "-o", str(tmp_path / "r"))
    assert code == 2 and "engine must be one of" in err


@pytest.mark.skipif(not OPENALEX.is_dir(), reason="needs the shared recorded OpenAlex works")
def test_records_larger_than_the_readers_take_are_set_aside_and_give_the_python_findings(
        reg, nm, messy, monkeypatch, tmp_path):
    """Ten million generated works held a 17.6 MB record, past the readers' 16 MB: the file
    is copied with such records set aside and read from their text (here with the limit
    scaled down, over a plain file and a gzip one), giving the Python path's findings."""
    import tracker.engine.duck as duck

    sizes = [len(line.encode("utf-8")) + 1 for line in messy.read_text("utf-8").splitlines()]
    limit = sorted(sizes)[-3]  # two records past it
    monkeypatch.setattr(duck, "_MAX_LINE", limit)
    monkeypatch.setattr(duck, "_PARSE_ALONE", limit // 2)  # each parsed on its own
    large = sum(n > limit // 2 for n in sizes)
    assert large >= 3
    gz = tmp_path / "again.jsonl.gz"
    gz.write_bytes(gzip.compress(messy.read_bytes()))

    def not_again(files):
        raise AssertionError("the files were read again to explain an error")

    monkeypatch.setattr(duck, "_reader_error", not_again)
    a = _python([messy, gz], reg, nm)
    b = screen_files([messy, gz], registry=reg, name_matcher=nm, threads=2)
    assert_same(a, b)
    assert f"; {2 * large:,} records larger than" in b.run["engine_reader"]
    big_ids = {json.loads(line).get("id") for line in messy.read_text("utf-8").splitlines()
               if len(line.encode("utf-8")) + 1 > limit // 2}
    assert {f.work_id for f in b.findings} & {str(i).rsplit("/", 1)[-1] for i in big_ids}


@pytest.mark.skipif(not OPENALEX.is_dir(), reason="needs the shared recorded OpenAlex works")
@pytest.mark.parametrize("reader", ["text", "typed"])
def test_a_part_with_a_record_too_large_is_read_again_alone(reg, nm, messy, monkeypatch,
                                                             tmp_path, reader):
    """A folder of parts, two of them holding a record past the readers' limit: where a
    reader stops at one, that part is copied with it set aside and read again, and no other
    part is read twice (the whole read used to start again, every part read again for each
    such part: a snapshot's folder of hundreds of parts, once per part that holds one); the
    findings are the Python path's.  The text reader stops at such a record here; the
    typed reader reads records past its limit up to its buffer's size (ten million
    generated works: one of 17.6 MB at 16 MB), so its stop is made here by DuckDB's
    ``error()`` in its first read of the second part, as the reader words it."""
    import tracker.engine.duck as duck

    lines = messy.read_text("utf-8").splitlines()
    sizes = [len(line.encode("utf-8")) + 1 for line in lines]
    limit = sorted(sizes)[-2] * 3 // 4  # the two largest records well past it
    monkeypatch.setattr(duck, "_MAX_LINE", limit)
    monkeypatch.setattr(duck, "_PARSE_ALONE", limit // 2)
    monkeypatch.setattr(duck, "_GROUP_BYTES", 1)  # each part read by a statement of its own
    big = [k for k, n in enumerate(sizes) if n > limit]
    assert len(big) == 2
    small = [line for k, line in enumerate(lines) if sizes[k] <= limit // 2]
    parts = []
    for k in range(5):  # the large records in the second and fourth parts
        part = tmp_path / f"part_{k}.jsonl"
        body = small[k::5] + ([lines[big[k // 2]]] if k in (1, 3) else [])
        part.write_text("\n".join(body) + "\n", encoding="utf-8")
        parts.append(part)
    reads: list[int] = []
    real = duck.recs_typed_sql

    def counted(files, *args, **kw):
        reads.extend(i for i, _ in files)
        if reader == "typed" and [i for i, _ in files] == [1] and reads.count(1) == 1:
            (path,) = (p for _, p in files)
            return ("SELECT error('\"maximum_object_size\" of "
                    f"{limit} bytes exceeded while reading file \"{path}\"')")
        return real(files, *args, **kw)

    monkeypatch.setattr(duck, "recs_typed_sql", counted)
    b = screen_files(parts, registry=reg, name_matcher=nm, threads=2)
    times = Counter(reads)
    assert [times[k] for k in (0, 2, 3, 4)] == [1, 1, 1, 1], reads
    assert times[1] == (2 if reader == "typed" else 1), reads
    assert "; 1 record larger than" in b.run["engine_reader"]  # the other: read by type
    assert_same(_python(parts, reg, nm), b)


@pytest.mark.skipif(not OPENALEX.is_dir(), reason="needs the shared recorded OpenAlex works")
def test_a_record_still_too_large_stops_the_run_at_once_in_one_line(
        reg, messy, monkeypatch, capsys):
    """Were a record still too large for the readers once set aside (here: nothing is set
    aside), the run stops at once, naming the Python engine, without reading every file
    again to explain it."""
    import tracker.engine.duck as duck
    from tracker.cli import main

    biggest = max(len(line.encode("utf-8")) for line in messy.read_text("utf-8").splitlines())
    monkeypatch.setattr(duck, "_MAX_LINE", biggest // 2)
    monkeypatch.setattr(duck, "_ASIDE_FRACTION", 0.25)  # set aside only past 4x the limit

    def not_again(files):
        raise AssertionError("the files were read again to explain the error")

    monkeypatch.setattr(duck, "_reader_error", not_again)
    with pytest.raises(duck.EngineError, match="--engine python"):
        screen_files(messy, registry=reg, threads=2)
    code = main(["screen", "--works", str(messy), "--engine", "duckdb", "--no-record",
                 "--no-progress", "-o", str(messy.parent / "out")])
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert code != 0 and len(lines) == 1 and "--engine python" in lines[0], lines


def test_a_killed_runs_temporary_folder_is_removed_by_the_next_run(reg, tmp_path):
    """A run killed before it could clean up (SIGKILL, the out-of-memory killer) leaves its
    folder, tens of GB at ten million works: the next run removes it when the process that
    made it has ended on this machine, and leaves a running one's and any unowned folder."""
    import os
    import socket
    import subprocess
    import sys

    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)
    dead_pid = int(ended.stdout)
    host = socket.gethostname()
    folders = {}
    for name, owner in (("dead", {"pid": dead_pid, "host": host}),
                        ("alive", {"pid": os.getppid(), "host": host}),
                        ("elsewhere", {"pid": dead_pid, "host": host + ".other"}),
                        ("unowned", None)):
        d = tmp_path / f"tracker-engine-{name}"
        (d / "spill").mkdir(parents=True)
        (d / "plan.duckdb").write_bytes(b"x" * 1000)
        if owner is not None:
            (d / "owner.json").write_text(json.dumps(owner), "utf-8")
        folders[name] = d
    got = screen_files(tracker.demo_works_path(), registry=reg, threads=1, temp_dir=tmp_path)
    assert got.run["counts"]["works_read"] == 71
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "tracker-engine-alive", "tracker-engine-elsewhere", "tracker-engine-unowned"]


def test_duckdb_out_of_memory_says_so_at_once_without_reading_the_files_again(
        reg, monkeypatch, capsys, tmp_path):
    """DuckDB past its memory limit is not a fault of the files: one message naming
    --engine-memory, not an hour of reading ten million works again to explain it."""
    import tracker.engine.duck as duck
    from tracker.cli import main

    def not_again(files):
        raise AssertionError("the files were read again to explain the error")

    monkeypatch.setattr(duck, "_reader_error", not_again)
    with pytest.raises(duck.EngineMemoryError, match="--engine-memory"):
        screen_files(tracker.demo_works_path(), registry=reg, threads=1, memory_limit="4MB")
    code = main(["screen", "--works", str(tracker.demo_works_path()), "--engine", "duckdb",
                 "--engine-memory", "4MB", "--no-record", "--no-progress",
                 "-o", str(tmp_path / "out")])
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert code == 5 and len(lines) == 1, lines  # the machine's settings, not a bug
    assert "--engine-memory" in lines[0] and "internal error" not in lines[0]



def test_a_full_disk_under_the_engine_says_so_in_one_line_without_reading_the_files_again(
        monkeypatch, capsys, tmp_path):
    """DuckDB's working folder on a full disk: one line naming the folder and TMPDIR, the
    environment's exit code (5), not "internal error".  The full disk is DuckDB's own
    message, as it gave it when its working folder was a 40 MB tmpfs that filled up
    (``Could not write file ".../plan.duckdb.wal": No space left on device``): it is raised
    here by DuckDB from the plan's first statement."""
    import tracker.engine.duck as duck
    from tracker.cli import main

    def not_again(files):
        raise AssertionError("the files were read again to explain the error")

    real = duck.macros_sql
    monkeypatch.setattr(duck, "_reader_error", not_again)
    monkeypatch.setattr(duck, "macros_sql", lambda: real() + (
        "SELECT error('Failed to commit: Could not write file \"x/plan.duckdb.wal\": "
        "No space left on device');"))
    code = main(["screen", "--works", str(tracker.demo_works_path()), "--engine", "duckdb",
                 "--no-record", "--no-progress", "-o", str(tmp_path / "out")])
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert code == 5 and len(lines) == 1, lines
    assert "disk space" in lines[0] and "TMPDIR" in lines[0]
    assert "internal error" not in lines[0]
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())

AUTHORSHIPS_FOR_THE_MACROS = [
    {},
    {"institutions": None, "raw_affiliation_strings": None},
    {"institutions": [], "raw_affiliation_strings": []},
    {"institutions": [{"id": None, "ror": None, "display_name": " "}]},
    {"institutions": [{"id": None, "ror": None, "display_name": None},
                      {"id": "https://openalex.org/I1", "lineage": []}]},
    {"institutions": [{"id": None, "ror": "https://ror.org/00wk2mp56"}]},
    {"institutions": [{"display_name": "Beihang University"}]},
    {"institutions": [{"id": "https://openalex.org/I2"}]},
    {"raw_affiliation_strings": [" ", "Harbin Institute of Technology"]},
    {"raw_affiliation_strings": ["\t"]},
    {"raw_affiliation_strings": [], "raw_affiliation_string": "USTC, Hefei"},
    {"raw_affiliation_strings": None, "raw_affiliation_string": "USTC, Hefei; ; "},
    {"raw_affiliation_string": " ; "},
    {"affiliations": [{"raw_affiliation_string": "Beihang University"}]},
    {"affiliations": [{"raw_affiliation_string": "  "}], "raw_affiliation_strings": []},
]


@pytest.mark.parametrize("auth", AUTHORSHIPS_FOR_THE_MACROS)
def test_plan_macros_count_authorships_as_the_records_read_them(auth):
    """``no_inst`` and ``has_raw`` (each with shortcuts before its lambda) say what
    :class:`tracker.records.Authorship` keeps: no institution, and a raw string."""
    import duckdb
    import orjson

    from tracker.engine.plan import macros_sql, recs_sql
    from tracker.records import Authorship

    line = orjson.dumps({"id": "https://openalex.org/W1", "publication_date": "2024-01-01",
                         "authorships": [auth]}).decode()
    con = duckdb.connect()
    con.execute(macros_sql())
    con.execute(recs_sql(f"SELECT 1::BIGINT AS rn, 0::BIGINT AS fidx, {_sql(line)} AS line"))
    no_inst, has_raw = con.execute(
        "SELECT no_inst(a), has_raw(a) FROM (SELECT unnest(auths) AS a FROM recs)").fetchone()
    rec = Authorship.from_openalex(auth, 0)
    assert (no_inst, has_raw) == (not rec.institutions, bool(rec.raw_affiliations))


@pytest.mark.parametrize("text", [
    None, "", " ", "\t", "\x0b\x0c", "a", " a", "a ", "a\r\n", "\ta\t", "\u00e9 ", " \u00e9",
    "\u4e2d", "e\u0301", "\xa0a\xa0", "\x01a", "a\x1f", "  a  b  ", "\r",
])
def test_plan_strip_trims_what_it_trimmed_before_its_shortcut(text):
    """``strip`` looks at the first and last character before trimming (trimming with a
    set of characters is slow in DuckDB): it gives what trimming every string gave."""
    import duckdb

    from tracker.engine.plan import macros_sql

    con = duckdb.connect()
    con.execute(macros_sql())
    got, want = con.execute(
        "SELECT strip($1), trim($1, chr(32) || chr(9) || chr(10) || chr(11) || chr(12) "
        "|| chr(13))", [text]).fetchone()
    assert got == want == (None if text is None else text.strip(" \t\n\x0b\x0c\r"))


def _sql(text):
    return "'" + text.replace("'", "''") + "'"


class _ThreadsCon:
    """A stand-in for a DuckDB connection whose Parquet query runs out of memory on more
    than one thread (as a million works in row groups of 100,000 did at 1 GB)."""

    def __init__(self, threads):
        self.threads, self.ran, self._row = threads, [], None

    def execute(self, sql):
        import duckdb

        if sql.startswith("SET threads"):
            self.threads = int(sql.split("=")[1])
        elif sql.startswith("SELECT current_setting('threads')"):
            self._row = (str(self.threads),)
        else:
            self.ran.append((sql, self.threads))
            if self.threads > 1:
                raise duckdb.OutOfMemoryException("Out of Memory Error: failed to allocate")
        return self

    def fetchone(self):
        return self._row


def test_parquet_read_out_of_memory_on_several_threads_is_read_again_on_one(tmp_path):
    import duckdb

    from tracker.engine import duck

    staging = duck._Staging(tmp_path, [])
    con = _ThreadsCon(2)
    duck._reading_parquet(con, staging, "READ A")
    assert con.ran == [("READ A", 2), ("READ A", 1)]
    assert staging.parquet_threads == 1 and con.threads == 2  # put back for other reads
    duck._reading_parquet(con, staging, "READ B")  # Parquet on one thread from then on
    assert con.ran[2:] == [("READ B", 1)] and con.threads == 2
    with pytest.raises(duckdb.OutOfMemoryException):  # one thread already: the error stands
        duck._reading_parquet(_FailingCon(), duck._Staging(tmp_path, []), "READ C")


def test_parquet_threads_are_those_its_largest_row_group_fits_in_the_memory_limit(tmp_path):
    """The threads a Parquet read starts on: the memory limit over the largest row group of
    the columns the plan reads (times :data:`_PARQUET_GROUP_FACTOR`), at most the
    connection's threads, at least one; a column the plan does not read is not counted."""
    import duckdb

    from tracker.engine import duck

    # the 71 demo works 60 times: 3 row groups
    pq = _demo_parquet(tmp_path, "w.*, repeat(md5(w.id || range), 60) AS abstract",
                       ", range(60)", row_group_size=2048)
    con = duckdb.connect()
    groups = con.execute(f"SELECT row_group_id, split_part(path_in_schema, ', ', 1) AS col, "
                         f"total_uncompressed_size FROM parquet_metadata('{pq}')").fetchall()
    per_group: dict = {}
    with_abstract: dict = {}
    for g, col, size in groups:
        if col == "abstract":
            with_abstract[g] = with_abstract.get(g, 0) + size
        if col in duck._PLAN_FIELDS:
            with_abstract[g] = with_abstract.get(g, 0) + size
            per_group[g] = per_group.get(g, 0) + size
    largest = duck._row_group_bytes(con, [pq], duck._PLAN_FIELDS)
    assert len(per_group) == 3 and largest == max(per_group.values())
    assert duck._row_group_bytes(con, [pq], (*duck._PLAN_FIELDS, "abstract")) == max(
        with_abstract.values()) > largest + 2048 * 1920
    need = duck._PARQUET_GROUP_FACTOR * 10**6
    for limit, threads, fit in ((10 * 2**20, 4, 1), (3 * 2**20, 4, 1), (25 * 2**20, 4, 4),
                                (17 * 2**20, 4, 17 * 2**20 // need), (25 * 2**20, 2, 2)):
        con.execute(f"SET memory_limit = '{limit}B'")
        con.execute(f"SET threads = {threads}")
        assert duck._memory_limit_bytes(con) == pytest.approx(limit, rel=0.01)
        assert duck._parquet_threads_fitting(con, 10**6) == fit
    assert duck._parquet_threads_fitting(con, 0) is None


def test_a_parquet_read_starts_on_the_threads_its_row_groups_fit(reg, nm, tmp_path,
                                                                 monkeypatch):
    """A Parquet file whose row groups need more memory than two threads have is read on
    one from the start (not tried on two first), with the findings of a read on two, and
    the run record says so."""

    from tracker.engine import duck

    pq = _demo_parquet(tmp_path)
    ran: list[int] = []
    real = duck._interruptible

    def spy(con, sql, *a, **k):
        if "read_parquet" in sql and "CREATE OR REPLACE TABLE" in sql:
            ran.append(int(con.execute("SELECT current_setting('threads')").fetchone()[0]))
        return real(con, sql, *a, **k)

    monkeypatch.setattr(duck, "_interruptible", spy)
    two = screen_files(pq, registry=reg, name_matcher=nm, threads=2)
    assert ran == [2] and "thread" not in two.run["engine_reader"]
    ran.clear()
    # row groups that would need 600 GB a thread: one thread, from the first read
    monkeypatch.setattr(duck, "_PARQUET_GROUP_FACTOR", 600 * 2**30)
    one = screen_files(pq, registry=reg, name_matcher=nm, threads=2)
    assert ran == [1]
    assert "(on one thread: on more, its row groups need more than the memory limit, 1GB)" \
        in one.run["engine_reader"]
    assert [f.row() for f in one.findings] == [f.row() for f in two.findings]
    assert len(one.findings) > 0


class _FailingCon(_ThreadsCon):
    def __init__(self):
        super().__init__(1)

    def execute(self, sql):
        import duckdb

        super().execute(sql)
        if not sql.startswith(("SET", "SELECT current_setting")):
            raise duckdb.OutOfMemoryException("Out of Memory Error")
        return self


def test_the_run_record_says_when_the_engine_started_and_what_it_read(reg, tmp_path):
    """``started_at`` is when the run began, not when its record was made at the end; a
    run of Parquet alone does not name the JSON reader."""
    import time
    from datetime import datetime


    recs = _demo_records()[:5]
    pq = _parquet_of(recs, tmp_path / "works.parquet")
    slept = []

    def slow(stage, done, total):
        if not slept:
            slept.append(stage)
            time.sleep(1.1)

    for path in (tracker.demo_works_path(), pq):
        slept.clear()
        res = screen_files(path, registry=reg, threads=1, progress=slow)
        started = datetime.fromisoformat(res.run["started_at"])
        finished = datetime.fromisoformat(res.run["finished_at"])
        assert slept and (finished - started).total_seconds() >= 1
    assert res.run["engine_reader"].startswith("DuckDB; Parquet: 1 of 1 files read by their")


def test_records_with_an_authorship_that_is_not_an_object_are_skipped_as_python_skips_them(
        reg, tmp_path):
    """The Python reader skips a record with an authorship that is not an object (a number,
    null, a string, a list) and reads one with an empty object; so does each engine reader
    (typed, text, Parquet), whether the record is a candidate (its lines read again) or
    not, in one process or two."""
    import duckdb

    lines, skipped = odd_authorship_lines()
    path = tmp_path / "works.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    a = _python([path], reg, None)
    assert a.run["counts"]["works_skipped"] == len(skipped) == 4
    assert not skipped & {f.work_id for f in a.findings}
    assert a.findings
    from tracker.engine import duck

    real = duck.recs_typed_sql

    def shifted(*args, **kw):  # typed rows that do not pair with the lines: text only
        return real(*args, **kw).replace("+ rowid + 1", "+ rowid + 2")

    for reader in ("DuckDB typed JSON reader", "DuckDB, each record from its text"):
        with pytest.MonkeyPatch.context() as mp:
            if "text" in reader:
                mp.setattr(duck, "recs_typed_sql", shifted)
            for processes in (1, 2):
                b = screen_files(path, registry=reg, threads=1, processes=processes)
                assert b.run["engine_reader"].startswith(reader)
                assert_same(a, b)
    pq = tmp_path / "works.parquet"
    con = duckdb.connect()
    con.execute(f"COPY (SELECT * FROM read_json('{path}', format='newline_delimited', "
                f"ignore_errors=true)) TO '{pq}' (FORMAT parquet)")
    con.close()
    c = screen_files(pq, registry=reg, threads=1)
    d = tracker.screen(parquet_works(pq), registry=reg)
    assert c.run["counts"] == d.run["counts"]
    assert [f.row() for f in c.findings] == [f.row() for f in d.findings]


def test_progress_counts_the_read_in_bytes_of_the_input_and_the_candidates_of_a_total(
        reg, tmp_path):
    """While DuckDB reads, ``read input`` counts bytes of the input files, from none to all
    of them, never going back; the candidate works are counted against their number (the
    bar can say how far it has got), for JSON Lines in groups and for Parquet."""
    recs = _demo_records()
    pq = _parquet_of(recs[:20], tmp_path / "works.parquet")
    parts = []
    for i, chunk in enumerate((recs[20:40], recs[40:])):
        p = tmp_path / f"part{i}.jsonl.gz"
        p.write_bytes(gzip.compress(b"".join(json.dumps(r).encode() + b"\n" for r in chunk)))
        parts.append(p)
    for paths in ([tracker.demo_works_path()], [*parts, pq], [pq]):
        events: list[tuple] = []
        res = screen_files(paths if len(paths) > 1 else paths[0], registry=reg, threads=2,
                           progress=lambda *e, into=events: into.append(e))
        size = sum(p.stat().st_size for p in paths)
        read = [(done, total) for stage, done, total in events if stage == "read input"]
        assert read[0] == (0, size) and read[-1] == (size, size), (paths, read)
        assert [d for d, _ in read] == sorted(d for d, _ in read)
        screened = [(done, total) for stage, done, total in events if stage == "screen"]
        *candidates, last = screened
        n = res.run["counts"]["works_read"]
        assert last == (n, n)  # at the end: every work read
        total = candidates[-1][1]
        assert isinstance(total, int) and candidates[-1] == (total, total), candidates
        assert {t for _, t in candidates} == {total}
        assert len({f.work_id for f in res.findings}) <= total < n


class _Cursor:
    def __init__(self, pct):
        self.pct = pct

    def query_progress(self):
        if self.pct is None:
            raise RuntimeError("connection closed")
        return self.pct


def test_read_meter_adds_each_running_read_by_its_progress_and_never_goes_back():
    from tracker.engine.duck import _ReadMeter

    said = []
    meter = _ReadMeter(lambda *e: said.append(e), 1000)
    a, b = _Cursor(50.0), _Cursor(-1.0)  # -1: DuckDB cannot say yet
    meter.report()
    meter.watch(a, 600)
    meter.watch(b, 400)
    meter.report()
    assert said == [("read input", 0, 1000), ("read input", 300, 1000)]
    a.pct = 10.0  # a lower figure (another pipeline of the statement): not shown
    meter.report()
    assert said[-1] == ("read input", 300, 1000) and len(said) == 2
    b.pct = None  # ended meanwhile: counted when it says it has finished
    meter.finished(b)
    meter.report()
    assert said[-1] == ("read input", 460, 1000)
    meter.finished(a)
    meter.report()
    assert said[-1] == ("read input", 1000, 1000)
    quiet = _ReadMeter(None, 10)  # no progress asked for: nothing asked of DuckDB
    quiet.watch(_Cursor(None), 10)
    quiet.report()


def test_read_meter_counts_a_read_that_failed_and_is_tried_again_once():
    """A Parquet read that ran out of memory on two threads is read again on one: its
    bytes count once, when the second read has read them."""
    from tracker.engine.duck import _ReadMeter

    said = []
    meter = _ReadMeter(lambda *e: said.append(e), 100)
    first = _Cursor(-1.0)
    meter.watch(first, 100)
    meter.finished(first, read=False)
    meter.report()
    assert said == [("read input", 0, 100)]
    again = _Cursor(40.0)
    meter.watch(again, 100)
    meter.report()
    meter.finished(again)
    meter.report()
    assert said[1:] == [("read input", 40, 100), ("read input", 100, 100)]


def test_parquet_works_read_in_row_ranges_are_the_whole_file_s_in_order(tmp_path):
    """Two row ranges of a Parquet file give its records as one read does, in order, a
    skipped row named by its place in the file; the row count comes from the footer."""
    from tracker.engine import parquet_rows
    from tracker.skipped import SkippedRecord

    recs = _demo_records(quirks=True)
    pq = _parquet_of(recs, tmp_path / "works.parquet")

    def seen(items):
        return [(w.location, w.reason) if isinstance(w, SkippedRecord) else w.id
                for w in items]

    n = parquet_rows(pq)
    assert n == len(recs) == 71
    whole = seen(parquet_works(pq))
    assert seen(parquet_works(pq, rows=(0, 3))) + seen(parquet_works(pq, rows=(3, n))) == whole
    assert any(isinstance(x, tuple) and x[0] == "row 0" for x in whole)
    assert seen(parquet_works(pq, rows=(5, 5))) == []


def test_parquet_works_stopped_early_leave_no_reader_thread(tmp_path):
    """A caller that stops after the first work (or Ctrl-C) stops the thread that fetches
    the rows, whose query is stopped; an error of the query is raised to the caller."""
    import threading

    pq = _parquet_of(_demo_records() * 20, tmp_path / "works.parquet")
    works = parquet_works(pq)
    first = next(works)
    assert first.id
    works.close()
    assert not [t for t in threading.enumerate() if t.name == "tracker-parquet-rows"]
    with pytest.raises(tracker.sources.files.WorksFileError):
        list(parquet_works(tmp_path / "missing.parquet"))
    assert not [t for t in threading.enumerate() if t.name == "tracker-parquet-rows"]


def test_candidate_batches_cross_to_the_workers_in_shared_memory_or_whole(
        reg, nm, monkeypatch):
    """A batch of candidate records reaches a worker process through the shared slots
    (:mod:`tracker.engine.slots`); one larger than a slot goes through the pipe whole.
    Either way, the Python path's findings."""
    from tracker.engine import duck
    from tracker.engine.slots import SharedSlots

    path = tracker.demo_works_path()
    a = _python([path], reg, nm)
    monkeypatch.setattr(duck, "_BATCH_BYTES", 1)  # a record a batch
    monkeypatch.setattr(duck, "_SLOT_BYTES", 30_000)  # the demo's records: 2 kB to 300 kB
    put = SharedSlots.put
    crossed: list[bool] = []

    def counted(self, texts):
        got = put(self, texts)
        crossed.append(got is not None)
        return got

    monkeypatch.setattr(SharedSlots, "put", counted)
    b = screen_files(path, registry=reg, name_matcher=nm, threads=1, processes=2)
    assert a.findings
    assert_same(a, b)
    assert True in crossed and False in crossed


def test_the_worker_processes_screen_with_the_cyclic_collector_off(reg):
    """Each worker process runs with Python's cyclic collector off for its whole life,
    between batches too (turned on there, it traced what the worker keeps and freed
    nothing); the process that starts them keeps its own."""
    import gc
    import sys

    from tracker.engine import duck
    from tracker.matching import Matcher

    if not sys.platform.startswith("linux"):
        pytest.skip("worker processes are forked on Linux only")
    workers = duck._start_pool(duck._Screening(Matcher(reg), ScreenSettings(), None), 2)
    assert workers is not None
    try:
        assert workers.pool.starmap(gc.isenabled, [()] * 6) == [False] * 6
    finally:
        workers.close()
    assert gc.isenabled()


def test_a_worker_failing_while_the_feeder_waits_for_a_slot_ends_the_run(reg, monkeypatch):
    """A worker process's error ends the run with that error, even while the process
    feeding the workers waits for a free slot (every slot holds a batch): no process or
    thread is left behind."""
    import multiprocessing
    import threading

    from tracker.engine import duck

    real = duck._screen_batch
    calls = {"n": 0}

    def failing(rows, job, keys):  # in a worker (inherited by fork): the third batch fails
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("boom in a worker")
        return real(rows, job, keys)

    monkeypatch.setattr(duck, "_screen_batch", failing)
    monkeypatch.setattr(duck, "_BATCH_BYTES", 1)  # a record a batch: the slots fill up
    before = set(threading.enumerate())
    with pytest.raises(RuntimeError, match="boom in a worker"):
        screen_files(tracker.demo_works_path(), registry=reg, threads=1, processes=2)
    assert not multiprocessing.active_children()
    assert not [t for t in set(threading.enumerate()) - before if t.is_alive()]


def test_parquet_candidates_are_read_by_the_workers_in_parts_of_their_row_groups(
        reg, nm, tmp_path, monkeypatch):
    """With worker processes, a Parquet file's candidate rows are read by the workers
    themselves, in parts within one row group each, about two parts a worker (row groups
    of fewer than ``_PART_ROWS`` candidates read together), every candidate in one part;
    the process feeding them makes no Parquet text; findings and flagged works are those
    of one process, which makes the text itself."""
    from tracker.engine import duck

    # the 71 demo works 60 times, each time under other IDs: 3 row groups
    pq = _demo_parquet(tmp_path, "w.* REPLACE (w.id || lpad(range::VARCHAR, 2, '0') AS id)",
                       ", range(60)", row_group_size=2048)
    parts, fed = [], []
    real_parts, real_file = duck._parquet_parts, duck._file_candidates

    def spy_parts(con, staging, memory_limit, most):
        for part in real_parts(con, staging, memory_limit, most):
            parts.append(part)
            yield part

    def spy_file(con, staging, jsonl, *, parquet=True):
        fed.append(parquet)
        return real_file(con, staging, jsonl, parquet=parquet)

    monkeypatch.setattr(duck, "_parquet_parts", spy_parts)
    monkeypatch.setattr(duck, "_file_candidates", spy_file)
    one = screen_files(pq, registry=reg, name_matcher=nm, threads=1, processes=1)
    assert fed == [True] and not parts
    for at_least in (1, 10**6):
        monkeypatch.setattr(duck, "_PART_ROWS", at_least)
        fed.clear()
        parts.clear()
        two = screen_files(pq, registry=reg, name_matcher=nm, threads=1, processes=2)
        assert fed == [] and parts
        assert one.findings and [f.row() for f in two.findings] == [f.row() for f in one.findings]
        assert list(two.works) == list(one.works)
        rows = [rn - p.base for p in parts for rn, _wid, _pos in p.wanted]
        assert rows == sorted(set(rows)) and len(rows) > len(one.works)  # each once, in order
        groups = [sorted({(rn - p.base) // 2048 for rn, _w, _p in p.wanted}) for p in parts]
        assert all(p.memory_limit == "1GB" for p in parts)
        if at_least == 1:  # parts within a row group, at most a quarter of the candidates
            assert all(len(g) == 1 for g in groups) and {g[0] for g in groups} == {0, 1, 2}
            assert all(len(p.wanted) <= -(-len(rows) // 4) for p in parts)
            assert len(parts) >= 4
        else:  # every row group has fewer: read together
            assert groups == [[0, 1, 2]]


def test_parquet_candidates_stay_in_the_feeding_process_without_workers(reg, nm, tmp_path,
                                                                       monkeypatch):
    """With one process there is no worker to read a part: the candidates' text is made
    by the feeding process's DuckDB, and the findings are the same."""
    from tracker.engine import duck

    pq = _demo_parquet(tmp_path)
    made = []
    monkeypatch.setattr(duck, "_parquet_parts", lambda *a: made.append(a) or iter(()))
    b = screen_files(pq, registry=reg, name_matcher=nm, threads=1, processes=1)
    a = _python([tracker.demo_works_path()], reg, nm)
    assert not made
    assert a.findings and [f.row() for f in b.findings] == [f.row() for f in a.findings]


def test_a_parquet_part_missing_a_candidate_row_fails_the_run(reg, tmp_path, monkeypatch):
    """A part read by a worker must give every candidate row asked of it: a row the file
    does not hold is an error, not a quiet gap in the findings."""
    import pickle

    import duckdb

    from tracker.engine import duck
    from tracker.matching import Matcher
    from tracker.screening import ScreenSettings

    pq = _demo_parquet(tmp_path)
    src = (f"SELECT {duck._PARQUET_BASE} + file_row_number AS rn, "
           f"to_json(struct_pack(id := t.id))::VARCHAR AS line "
           f"FROM read_parquet('{pq}', file_row_number=true) t "
           "WHERE file_row_number IN (SELECT unnest(?::BIGINT[]))")
    sql = f"SELECT rn, encode(line) AS line FROM ({src})"
    keys_at = tmp_path / "keys.pickle"
    keys_at.write_bytes(pickle.dumps(duck._Keys()))
    monkeypatch.setattr(duck, "_SCREENING", duck._Screening(Matcher(reg), ScreenSettings(),
                                                            None))
    monkeypatch.setattr(duck, "_WORKER_DUCK", None)  # this process's, made by the part
    ((ids,),) = duckdb.sql(f"SELECT list(id ORDER BY file_row_number) "
                           f"FROM read_parquet('{pq}', file_row_number=true)").fetchall()
    base = duck._PARQUET_BASE
    wids = [i.rsplit("/", 1)[-1] for i in ids]
    whole = duck._ParquetPart(sql, base, [(base, wids[0], []), (base + 1, wids[1], [])],
                              "256MB", str(tmp_path / "spill"))
    assert duck._pool_batch((str(keys_at), None, whole, ()))[1] == 2
    short = duck._ParquetPart(sql, base, [*whole.wanted, (base + 10_000, "W1", [])],
                              "256MB", str(tmp_path / "spill"))
    with pytest.raises(duck.EngineError, match="gave 2 of the 3 candidate rows"):
        duck._pool_batch((str(keys_at), None, short, ()))


def test_a_candidate_line_is_skimmed_to_the_authorships_at_its_places():
    """A candidate work's line is read for its places only (``duck._skim``: msgspec leaves
    the other authorships undecoded): the works are those a whole parse gives; a byte that
    is not UTF-8 in an authorship left undecoded changes nothing (the whole parse refused
    the line, though the Python path reads it, its bytes replaced); one in a part that is
    decoded is refused as before; a line without an authorships list is parsed whole."""
    from dataclasses import replace

    import orjson

    from tracker.engine import duck
    from tracker.records import parse_work

    recs = [r for r in _demo_records() if len(r["authorships"]) >= 3]
    assert len(recs) > 10
    keys = duck._Keys(any_text=True)

    def whole(rec, places):
        w = parse_work(rec)
        return replace(w, authorships=tuple(w.authorships[i] for i in places))

    rows = [(n, orjson.dumps(r), r["id"].rsplit("/", 1)[-1], [0, len(r["authorships"]) - 1])
            for n, r in enumerate(recs)]
    assert list(duck._parse_lines(rows, keys)) == [
        whole(r, places) for r, (_n, _line, _wid, places) in zip(recs, rows, strict=True)]
    # a stray byte in the middle authorship (left undecoded), then in the title (decoded)
    rec, (n, line, wid, places) = recs[0], rows[0]
    middle = orjson.dumps(rec["authorships"][1])
    stray = line.replace(middle, middle.replace(b'"', b'"\xff', 1), 1)
    assert stray != line
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(stray)
    assert list(duck._parse_lines([(n, stray, wid, places)], keys)) == [whole(rec, places)]
    title = orjson.dumps(rec["title"])
    bad = line.replace(title, title[:-1] + b'\xff"', 1)
    with pytest.raises(duck._Misaligned):
        list(duck._parse_lines([(n, bad, wid, places)], keys))
    # authorships null: parsed whole, as before (the work has none)
    empty = {**rec, "authorships": None}
    assert list(duck._parse_lines([(n, orjson.dumps(empty), wid, [])], keys)) == [
        parse_work(empty)]
