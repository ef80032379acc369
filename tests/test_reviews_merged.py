"""A review decision saved on a finding whose registry entry was later merged into another
carries over to the finding's new ID (rerun and rescreen), with an audit entry."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests._paths import OPENALEX
from tracker.names import cached_name_matcher
from tracker.rescreen import rescreen_runs
from tracker.screening import ScreenSettings, screen
from tracker.store import Store, former_finding_ids, store_run_works
from tracker.watchlists import Registry, load_registry

pytestmark = pytest.mark.skipif(not OPENALEX.is_dir(),
                                reason="shared reference data not present")

#: DoD 1286 FY2024 printed 'Moscow State University' and 'Lomonosov Moscow State
#: University' as two rows; a reviewed merge made them one entry.
NOW = "DOD_1286:auto_lomonosov_moscow_state_university"
BEFORE = "DOD_1286:auto_moscow_state_university"
WORK = "W1982752276"   # a recorded work with a Lomonosov Moscow State University authorship


@pytest.fixture(scope="module")
def registries() -> tuple[Registry, Registry]:
    """The bundled registry, and the same registry as it was before the merge (the merged
    entry under its former ID, as a saved review names it)."""
    reg = load_registry()
    entry = reg.entry_index[NOW]
    assert BEFORE in entry.merged_from
    old = replace(entry, entry_id=BEFORE, institution_key="auto_moscow_state_university",
                  merged_from=())
    before = Registry([old if e.entry_id == NOW else e for e in reg], lists=reg.lists.values(),
                      editions=reg.editions, version="before-the-merge")
    return before, reg


@pytest.fixture(scope="module")
def work():
    from tests.matching_eval.evaluate import load_works

    return load_works()[WORK]


def _screen(work, reg: Registry):
    return screen([work], registry=reg, settings=ScreenSettings(),
                  name_matcher=cached_name_matcher(reg))


def _tie(result, entry_id: str):
    (f,) = [f for f in result.findings if f.entry_id == entry_id]
    return f


def test_former_finding_id_is_the_id_the_tie_had(registries, work) -> None:
    before, now = registries
    old = _tie(_screen(work, before), BEFORE)
    new = _tie(_screen(work, now), NOW)
    assert old.finding_id != new.finding_id
    assert (old.finding_id, BEFORE) in former_finding_ids(new, now)


def test_a_decision_on_the_former_id_shows_on_the_new_finding(registries, work,
                                                                tmp_path) -> None:
    before, now = registries
    with Store(tmp_path / "case.db") as st:
        first = _screen(work, before)
        st.record_run(first)
        old_id = _tie(first, BEFORE).finding_id
        st.set_review(old_id, "dismissed", "A. Officer", "checked: a physics department")
        again = _screen(work, now)
        run2 = st.record_run(again, registry=now)
        new = _tie(again, NOW)
        assert new.review_status == "dismissed"          # the report of this run shows it
        (row,) = [r for r in st.findings(run2) if r["finding_id"] == new.finding_id]
        assert (row["review_status"], row["reviewer"], row["review_reason"]) == (
            "dismissed", "A. Officer", "checked: a physics department")
        (carried,) = st.review_history(new.finding_id)
        assert carried["source"].startswith(f"carried over from {old_id}")
        assert BEFORE in carried["source"] and NOW in carried["source"]
        assert st.review_of(old_id)["status"] == "dismissed"   # the old tie keeps its own


def test_the_registry_is_found_from_the_run_record(registries, work, tmp_path,
                                                   monkeypatch) -> None:
    """Without ``registry=``, the version the run record names is loaded (here the bundled
    one): a plain rerun carries the decision too."""
    monkeypatch.setenv("TRACKER_HOME", str(tmp_path))
    before, now = registries
    with Store(tmp_path / "case.db") as st:
        first = _screen(work, before)
        st.record_run(first)
        st.set_review(_tie(first, BEFORE).finding_id, "confirmed", "A. Officer")
        again = _screen(work, now)
        assert again.run["registry"]["version"] == now.version
        st.record_run(again)
        assert _tie(again, NOW).review_status == "confirmed"


def test_rescreen_carries_the_decision_to_the_merged_entry(registries, work,
                                                           tmp_path) -> None:
    before, now = registries
    with Store(tmp_path / "case.db") as st:
        first = _screen(work, before)
        run1 = st.record_run(first)
        store_run_works(st, run1, [work])
        old_id = _tie(first, BEFORE).finding_id
        st.set_review(old_id, "dismissed", "A. Officer", "checked: a physics department")
        (rep,) = rescreen_runs(st, now)
        assert rep.reviews_carried >= 1
        new_ids = [n["finding_id"] for n in rep.new if n["entry_id"] == NOW]
        assert len(new_ids) == 1 and new_ids[0] in rep.dismissed_kept
        assert rep.new_run_id is not None
        (row,) = [r for r in st.findings(rep.new_run_id) if r["entry_id"] == NOW]
        assert row["review_status"] == "dismissed"
