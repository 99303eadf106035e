"""Directed invalidation races (tb/test_races.py), per parameter set."""
import pytest

from conftest import run_rtl

PARAMS = [
    pytest.param({"PwcEntries": 8}, id="pwc8"),
    pytest.param({"PwcEntries": 0}, id="pwc0"),
]

CASES = [
    "race_walk_level_pasid",
    "race_walk_level_pml4",
    "race_walk_level_pdpt",
    "race_walk_level_pd",
    "race_walk_level_pt",
    "race_inv_same_cycle_as_fill",
    "race_pwc_flushed_by_invalidation",
    "race_2m_entry_4k_inval",
    "race_1g_entry_small_inval",
    "race_inv_with_dma_in_flight",
]


@pytest.mark.rtl
@pytest.mark.parametrize("params", PARAMS)
@pytest.mark.parametrize("case", CASES)
def test_race(case, params, request):
    run_rtl("tb.test_races", params, testcase=case, cases=CASES, seed=3000 + params["PwcEntries"],
            nodeid=request.node.nodeid)
