"""Streamed findings files: the same rows as the report folder's, in every format."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("duckdb")

import duckdb
import openpyxl

import tracker
from tracker.engine import outputs
from tracker.exports import write_csv
from tracker.risk import FINDING_COLUMNS


@pytest.fixture(scope="module")
def findings():
    reg = tracker.load_registry()
    res = tracker.screen(tracker.read_works(tracker.demo_works_path()), registry=reg)
    assert len(res.findings) > 250
    return res.findings


def test_streamed_csv_is_the_report_folders_csv(findings, tmp_path):
    n = outputs.write_findings_csv(iter(findings), tmp_path / "a.csv")
    write_csv(findings, tmp_path / "b.csv")
    assert n == len(findings)
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()


def test_jsonl_and_parquet_hold_every_row_typed(findings, tmp_path):
    jl = tmp_path / "f.jsonl"
    assert outputs.write_findings_jsonl(iter(findings), jl) == len(findings)
    rows = [json.loads(line) for line in jl.read_text("utf-8").splitlines()]
    assert rows == [{c: f.row()[c] for c in FINDING_COLUMNS} for f in findings]
    pq = outputs.write_findings_parquet(jl, tmp_path / "f.parquet")
    rel = duckdb.sql(f"SELECT * FROM '{pq}'")
    assert tuple(rel.columns) == FINDING_COLUMNS
    got = rel.fetchall()
    assert [dict(zip(FINDING_COLUMNS, r, strict=True)) for r in got] == rows
    assert {type(r[FINDING_COLUMNS.index("is_designation")]) for r in got} == {bool}


def test_workbook_split_across_sheets_past_the_row_limit(findings, tmp_path, monkeypatch):
    monkeypatch.setattr(outputs, "XLSX_MAX_ROWS", 100)
    path = tmp_path / "f.xlsx"
    names = outputs.write_findings_xlsx(iter(findings[:250]), 250, path)
    assert names == ["findings", "findings 2", "findings 3"]
    wb = openpyxl.load_workbook(path, read_only=True)
    sizes = [sum(1 for _ in wb[n].iter_rows()) - 1 for n in names]
    assert sizes == [100, 100, 50]
    first = next(wb["findings 2"].iter_rows(min_row=2, max_row=2, values_only=True))
    assert first[0] == findings[100].finding_id
    with pytest.raises(outputs.WorkbookTooLarge, match="not written"):
        outputs.write_findings_xlsx(iter(findings), 100 * outputs.XLSX_MAX_SHEETS + 1,
                                    tmp_path / "g.xlsx")
    assert not (tmp_path / "g.xlsx").exists()
