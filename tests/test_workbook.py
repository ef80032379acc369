"""tracker.workbook: the findings sheet's cell types, read back with openpyxl."""

from __future__ import annotations

from datetime import datetime

import orjson
import pytest
from openpyxl import load_workbook

from tracker.workbook import write_workbook

COLUMNS = ["work_id", "doi", "publication_date", "listed_on", "match_score", "is_designation",
           "title"]


@pytest.mark.parametrize("streamed", [False, True], ids=["xlsxwriter", "streamed"])
def test_cells_are_typed_and_empty_values_left_blank(tmp_path, streamed):
    rows = [
        {"work_id": "W1", "doi": "", "publication_date": "2021-03-04", "listed_on": "2019",
         "match_score": 0.875, "is_designation": True, "title": "=HYPERLINK(\"x\")\x07"},
        {"work_id": "W2", "doi": None, "publication_date": "", "listed_on": "not a date",
         "match_score": 1, "is_designation": False, "title": "-1 plain"},
    ]
    path = write_workbook(rows, COLUMNS, {"counts": {"findings": 2}}, tmp_path / "f.xlsx",
                          constant_memory=streamed)
    ws = load_workbook(path)["findings"]
    first = [c.value for c in ws[2]]
    second = [c.value for c in ws[3]]
    # a full date is an Excel date, a year alone stays text (never a guessed 1 January)
    assert first[:5] == ["W1", None, datetime(2021, 3, 4), "2019", 0.875]
    assert first[5] is True
    # formula-like text is kept exactly, as text with the quote prefix; a control character
    # a workbook cannot hold is replaced
    assert first[6] == "=HYPERLINK(\"x\")\ufffd"
    assert ws["G2"].data_type == "s" and ws["G2"].quotePrefix
    assert second == ["W2", None, None, "not a date", 1, False, "-1 plain"]
    assert ws["G3"].quotePrefix and ws["G3"].data_type == "s"
    assert ws["C2"].number_format == "yyyy-mm-dd" and ws["E2"].number_format == "0.000"


@pytest.mark.parametrize("remembered", [None, (3, 2)])
def test_constant_memory_workbook_from_an_iterator_has_the_same_cells(tmp_path, monkeypatch,
                                                                      remembered):
    """Large workbooks are written row by row from an iterator (each row to disk as it
    comes): the cells, types, filter range and run sheet are those of the default mode,
    whether a column's cells are remembered or not (``remembered``: a column judged
    after 3 values, at most 2 values remembered a column)."""
    import tracker
    from tracker import workbook
    from tracker.exports import write_findings_jsonl
    from tracker.workbook import jsonl_rows

    if remembered:
        monkeypatch.setattr(workbook, "_TRIAL", remembered[0])
        monkeypatch.setattr(workbook, "_CACHED_CELLS", remembered[1])

    res = tracker.screen(tracker.read_works(tracker.demo_works_path()),
                         registry=tracker.load_registry())
    rows = [f.row() for f in res.findings]
    from tracker.risk import FINDING_COLUMNS

    write_findings_jsonl(res.findings, tmp_path / "f.jsonl")
    a = write_workbook(rows, FINDING_COLUMNS, {"counts": {"findings": len(rows)}},
                       tmp_path / "a.xlsx", constant_memory=False)
    b = write_workbook(jsonl_rows(tmp_path / "f.jsonl"), FINDING_COLUMNS,
                       {"counts": {"findings": len(rows)}}, tmp_path / "b.xlsx")

    def cells(p):
        wb = load_workbook(p)
        return ({ws.title: [[(c.value, c.data_type, c.number_format) for c in row]
                            for row in ws.iter_rows()] for ws in wb.worksheets},
                wb["findings"].auto_filter.ref)

    got_a, got_b = cells(a), cells(b)
    assert got_b == got_a
    assert len(got_b[0]["findings"]) == len(rows) + 1 > 2
    assert got_b[1] is not None and got_b[1].endswith(str(len(rows) + 1))


def test_a_sheet_past_the_plain_zip_limit_is_still_written(tmp_path, monkeypatch):
    """A findings sheet of hundreds of thousands of rows is an XML part over 2 GB: the
    workbook uses ZIP64 for it (here the limit is lowered so a small sheet passes it)."""
    import zipfile

    rows = [{"work_id": f"W{i}", "doi": "", "publication_date": "2021-03-04",
             "listed_on": "", "match_score": 0.5, "is_designation": True, "title": "t" * 50}
            for i in range(300)]
    monkeypatch.setattr(zipfile, "ZIP64_LIMIT", 4096)
    path = write_workbook(iter(rows), COLUMNS, {"counts": {"findings": 300}},
                          tmp_path / "f.xlsx")
    monkeypatch.undo()
    ws = load_workbook(path, read_only=True)["findings"]
    got = [r[0] for r in ws.iter_rows(min_row=2, values_only=True)]
    assert got == [f"W{i}" for i in range(300)]


def test_the_streamed_workbook_escapes_text_as_xlsxwriter_does(tmp_path):
    """Text a hand-written sheet could get wrong reads back as xlsxwriter's does: markup
    characters, a literal ``_xHHHH_`` (Excel would decode it), a carriage return, edge
    spaces, non-Latin text, a formula and control characters; the header, the quote prefix,
    the frozen pane and the run sheet too."""
    texts = ["a & b < c > d", "line\r\nbreak", "  edge  ", "北京航空航天大学",
             "=1+1", "@SUM(A1)", "\x00\x1f", "\ufffe", "tab\tinside", "plain"]
    rows = [{"work_id": f"W{i}", "title": t, "match_score": i / 7, "is_designation": i % 2 == 0,
             "publication_date": "2020-02-29" if i % 3 else "1900-02-28", "doi": "",
             "listed_on": "2019"} for i, t in enumerate(texts)]
    run = {"tool": {"version": "1"}, "note": "=not a formula", "empty": [], "n": 3}
    a = write_workbook(rows, COLUMNS, run, tmp_path / "a.xlsx", constant_memory=False)
    b = write_workbook(iter(rows), COLUMNS, run, tmp_path / "b.xlsx", constant_memory=True)

    def cells(p):
        wb = load_workbook(p)
        return ({ws.title: [[(c.value, c.data_type, c.number_format, c.quotePrefix,
                              c.font.b) for c in row] for row in ws.iter_rows()]
                 for ws in wb.worksheets},
                wb["findings"].auto_filter.ref, wb["findings"].freeze_panes,
                wb["run"].freeze_panes, wb.sheetnames)

    got_a, got_b = cells(a), cells(b)
    assert got_b == got_a
    titles = [r[6][0] for r in got_b[0]["findings"][1:]]
    assert (titles[0], titles[2], titles[3]) == (texts[0], texts[2], texts[3])


def test_the_streamed_workbook_keeps_a_literal_excel_escape(tmp_path):
    """Text holding ``_xHHHH_`` would be decoded by Excel: it is written with ``_x005F``
    before it, as xlsxwriter writes it (openpyxl reads inline strings without decoding, so
    this is checked in the sheet's XML)."""
    import zipfile

    rows = [{"work_id": "W1", "title": "_x0041_ stays"}]
    path = write_workbook(iter(rows), COLUMNS, {}, tmp_path / "f.xlsx")
    with zipfile.ZipFile(path) as zf:
        sheet = zf.read("xl/worksheets/sheet1.xml").decode()
    assert "<t>_x005F_x0041_ stays</t>" in sheet


def test_the_streamed_findings_sheet_is_deflated_by_isal(tmp_path, monkeypatch):
    """The findings sheet of a streamed workbook is deflated by ISA-L (same format, several
    times faster than zlib), and the workbook reads back."""
    from isal import isal_zlib

    made = []
    real = isal_zlib.compressobj

    def counted(*a, **k):
        made.append(a)
        return real(*a, **k)

    monkeypatch.setattr(isal_zlib, "compressobj", counted)
    rows = [{"work_id": f"W{i}", "title": "t" * (i % 7), "match_score": 0.5} for i in range(50)]
    path = write_workbook(iter(rows), COLUMNS, {"counts": {"findings": 50}},
                          tmp_path / "f.xlsx")
    assert made == [(1, isal_zlib.DEFLATED, -15)]
    ws = load_workbook(path)["findings"]
    assert [c.value for c in next(ws.iter_rows(min_row=50, max_row=50))] == [
        "W48", None, None, None, 0.5, None, "tttttt"]


def test_following_rows_reads_a_file_as_it_is_written_and_stops_when_its_writer_is_gone(
        tmp_path):
    """The workbook's process reads findings.jsonl while the report's process writes it:
    each row once its line is complete, whatever the pieces it is written in; if the
    writer is gone before the last row, it stops with WriterGone rather than wait."""
    import threading
    import time

    from tracker.workbook import WriterGone, following_rows

    path = tmp_path / "f.jsonl"
    rows = [{"i": i, "text": "x" * (i * 37 % 500)} for i in range(300)]
    data = b"".join(orjson.dumps(r) + b"\n" for r in rows)
    def write():  # in pieces that cut lines anywhere, with pauses
        time.sleep(0.05)  # the file does not exist yet when the reader starts
        with path.open("wb") as fh:
            for at in range(0, len(data), 997):
                fh.write(data[at:at + 997])
                fh.flush()
                time.sleep(0.001)

    writer = threading.Thread(target=write)
    writer.start()
    got = list(following_rows(path, len(rows), lambda: True, poll=0.001))
    writer.join()
    assert got == rows

    gone = tmp_path / "g.jsonl"
    gone.write_bytes(data[:5000])  # cut inside a row, and the writer has ended
    with pytest.raises(WriterGone, match=r"ended after \d+ of 300 rows"):
        list(following_rows(gone, len(rows), lambda: False, poll=0.001))
    with pytest.raises(WriterGone, match="never written"):
        list(following_rows(tmp_path / "none.jsonl", 1, lambda: False))
    # a writer whose end cannot be seen: a file that stops growing
    with pytest.raises(WriterGone, match=r"ended after \d+ of 300 rows"):
        list(following_rows(gone, len(rows), lambda: True, poll=0.001, stall=0.05))


def test_waited_run_stops_when_its_writer_is_gone(tmp_path):
    """The workbook's process waits for the run record only while the process that will
    write it is there (or for ``stall`` seconds): never for ever."""
    from tracker.workbook import WriterGone, waited_run

    with pytest.raises(WriterGone, match="never written"):
        waited_run(tmp_path / "run.json", lambda: False)
    with pytest.raises(WriterGone):
        waited_run(tmp_path / "run.json", lambda: True, poll=0.01, stall=0.05)
    (tmp_path / "run.json").write_bytes(b'{"diff": {"previous_run": 3}}')
    assert waited_run(tmp_path / "run.json", lambda: False) == {"diff": {"previous_run": 3}}
