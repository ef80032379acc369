"""The matching targets of issue 20 on the independent, blind-labelled set.

Targets: precision >= 0.99 and recall >= 0.97 on the designation lists, and no flag from a
lone acronym.  The set (``tests/matching_eval/independent/labels.csv``) was labelled by the
written protocol before the evaluation existed; a target the matcher does not meet yet is
marked ``xfail`` (not strict) with the figure measured when it was written, so that a fix
shows up as XPASS.
"""

from __future__ import annotations

import csv
import filecmp
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tests._paths import OPENALEX, RESTRICTED
from tests.matching_eval import evaluate_independent as ev

pytestmark = pytest.mark.skipif(not (OPENALEX.is_dir() and RESTRICTED.is_dir()),
                                reason="shared reference data not present")

INDEPENDENT = Path(ev.__file__).resolve().parent / "independent"


@pytest.fixture(scope="module")
def results() -> dict[str, Any]:
    return ev.evaluate()


def _overall(results: dict[str, Any], variant: str) -> dict[str, Any]:
    return results["original"][variant]["overall"]


def test_every_row_is_screened_and_every_label_is_known(results: dict[str, Any]) -> None:
    comp = results["composition"]
    assert comp["rows"] == 9965
    assert set(comp["by_label"]) == {"positive", "negative", "hard_negative", "uncertain"}
    for variant in ("name_only", "id_attached"):
        ov = _overall(results, variant)
        assert ov["rows_scored"] + ov["rows_uncertain_excluded"] == comp["rows"]


def test_name_only_precision_meets_target(results: dict[str, Any]) -> None:
    ov = _overall(results, "name_only")
    assert ov["tp"] + ov["fp"] > 0
    assert ov["precision"] >= ev.TARGET_PRECISION, ov["false_positives"]


@pytest.mark.xfail(strict=False, reason="measured 0.382 (29/76); 0.906 (29/32) without the "
                   "44 international names of Shanghai Jiao Tong University, which name-only "
                   "matching does not support; bare 'Institute of Computing Technology' needs "
                   "its parent or country")
def test_name_only_recall_meets_target(results: dict[str, Any]) -> None:
    ov = _overall(results, "name_only")
    assert ov["recall"] >= ev.TARGET_RECALL, ov["misses"]


def test_id_attached_precision_meets_target(results: dict[str, Any]) -> None:
    ov = _overall(results, "id_attached")
    assert ov["precision"] >= ev.TARGET_PRECISION, ov["false_positives"]


def test_id_attached_recall_meets_target(results: dict[str, Any]) -> None:
    ov = _overall(results, "id_attached")
    assert ov["recall"] >= ev.TARGET_RECALL, ov["misses"]


@pytest.mark.parametrize("variant", ["name_only", "id_attached"])
def test_no_flag_from_a_lone_acronym(results: dict[str, Any], variant: str) -> None:
    la = results["original"][variant]["lone_acronyms"]
    assert la["rows"] > 250
    assert la["flagged_by_name"] == 0, la["examples"]


def _row(row_id: int, expected: str, label: str = "positive", kind: str = "display_name",
         text: str = "Some Institute") -> ev.Row:
    lists = frozenset(x for x in expected.split(";") if x)
    return ev.Row(row_id, "I1", kind, text, lists, label, lists, label, "record")


def test_scoring_counts_hits_false_alarms_misses_and_leaves_out_uncertain_rows() -> None:
    rows = [_row(1, "DOD_1286"), _row(2, "BIS_ENTITY_LIST;CA_NRO"), _row(3, "", "negative"),
            _row(4, "", "uncertain"), _row(5, "", "hard_negative", "acronym", "ICT")]
    flag = SimpleNamespace
    flags = {1: [flag(list="DOD_1286", match_method="name")],
             2: [flag(list="CA_NRO", match_method="openalex_id")],
             3: [flag(list="BIS_MEU", match_method="fuzzy")],
             4: [flag(list="DOD_1260H", match_method="name")],
             5: [flag(list="BIS_ENTITY_LIST", match_method="name")]}
    s = ev.score(rows, flags, attached=False)
    ov = s["overall"]
    assert (ov["tp"], ov["fp"], ov["fn"]) == (2, 2, 1)
    assert (ov["rows_scored"], ov["rows_uncertain_excluded"]) == (4, 1)
    assert s["by_list"]["BIS_ENTITY_LIST"]["fn"] == 1 and s["by_list"]["BIS_MEU"]["fp"] == 1
    assert s["by_method"]["openalex_id"] == {"flags": 1, "right": 1, "wrong": 0,
                                             "precision": 1.0, "share_of_expected_found": 1 / 3}
    assert s["lone_acronyms"]["flagged_by_name"] == 1


def test_adjudication_changes_copies_not_the_frozen_labels(tmp_path: Path) -> None:
    rows = [_row(1, "DOD_1286"), _row(2, "", "negative")]
    adj = tmp_path / "adjudication.csv"
    adj.write_text("row_id,field,value,reason\n2,label,uncertain,example\n"
                   "2,expected,CA_NRO,example\n", encoding="utf-8")
    new, changed = ev.adjudicate(rows, adj)
    assert changed == 1
    assert new[1].label == "uncertain" and new[1].expected == frozenset({"CA_NRO"})
    assert rows[1].label == "negative"


def test_labels_are_rebuilt_byte_for_byte_from_candidates_and_decisions(
        tmp_path: Path) -> None:
    """The frozen labels are what the protocol's rules give from the recorded decisions."""
    cands, labels = tmp_path / "candidates.csv", tmp_path / "labels.csv"
    for args in (["extract_candidates.py", "--out", str(cands)],
                 ["label_rows.py", "--candidates", str(cands), "--out", str(labels)]):
        subprocess.run([sys.executable, str(INDEPENDENT / args[0]), *args[1:]], check=True,
                       capture_output=True)
    assert filecmp.cmp(cands, INDEPENDENT / "candidates.csv", shallow=False)
    assert filecmp.cmp(labels, INDEPENDENT / "labels.csv", shallow=False)
    with labels.open(encoding="utf-8") as fh:
        assert all(r["justification"] for r in csv.DictReader(fh))
