"""tracker.frames: findings as a pandas DataFrame, on the bundled real works."""

from __future__ import annotations

import pytest

pd = pytest.importorskip("pandas")

import tracker  # noqa: E402
from tracker.frames import findings_frame  # noqa: E402
from tracker.risk import FINDING_COLUMNS  # noqa: E402


@pytest.fixture(scope="module")
def result() -> tracker.ScreenResult:
    works = tracker.read_works(tracker.demo_works_path())
    return tracker.screen(works, registry=tracker.load_registry(),
                          settings=tracker.ScreenSettings(name_matching=False))


def test_one_row_per_finding_in_order_with_the_csv_columns(result: tracker.ScreenResult) -> None:
    df = findings_frame(result.findings)
    assert list(df.columns) == list(FINDING_COLUMNS)
    assert list(df["finding_id"]) == [f.finding_id for f in result.findings]
    assert df.to_dict("records") == [f.row() for f in result.findings]


def test_a_result_stands_for_its_findings(result: tracker.ScreenResult) -> None:
    assert findings_frame(result).equals(findings_frame(result.findings))


def test_dates_are_not_reinterpreted(result: tracker.ScreenResult) -> None:
    df = findings_frame(result)
    year_only = df[df["date_basis"] == "publication_year"]
    assert not year_only.empty  # the bundle has year-only works with findings
    assert all(len(d) == 4 and d.isdigit() for d in year_only["publication_date"])
    undated = df[df["listed_on"] == ""]
    # an undated entry is "unknown", unless the work predates the list itself ("no")
    def predates(row) -> bool:
        pub, since = row["publication_date"], row["list_since"]
        if not since or not pub:
            return False
        return pub < since if len(pub) == 10 else pub < since[:4]

    before_list = undated.apply(predates, axis=1).astype(bool)
    assert not undated.empty
    assert set(undated[~before_list]["listed_at_publication"]) == {"unknown"}
    assert set(undated[before_list]["listed_at_publication"]) <= {"no"}


def test_types(result: tracker.ScreenResult) -> None:
    df = findings_frame(result)
    assert df["is_designation"].dtype == bool
    assert df["match_score"].dtype == float
    assert (~df["is_designation"]).sum() == sum(1 for f in result.findings
                                                 if not f.is_designation)


def test_empty_and_wrong_input() -> None:
    empty = findings_frame([])
    assert empty.empty and list(empty.columns) == list(FINDING_COLUMNS)
    with pytest.raises(TypeError, match="Finding objects"):
        findings_frame([{"finding_id": "x"}])
