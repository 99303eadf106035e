"""Set-associative ATC (tb/test_atc_sa.py), and the pipeline hazards (tb/test_pipe.py) on it."""
import json

import pytest

from conftest import run_rtl

# 16 entries in 4 sets of 4 ways; two huge entries (so a third huge leaf evicts one)
SA = {"PwcEntries": 8, "AtcEntries": 16, "AtcWays": 4, "AtcHugeEntries": 2}
CASES = ["sa_plru_conflicts", "sa_inval_sets", "sa_huge"]
PIPE_CASES = ["pipe_lookup_vs_inv", "pipe_fill_vs_inv"]


@pytest.mark.rtl
@pytest.mark.parametrize("case", CASES)
def test_atc_sa(case, request):
    run_rtl("tb.test_atc_sa", SA, testcase=case, cases=CASES, seed=5300, nodeid=request.node.nodeid)


@pytest.mark.rtl
@pytest.mark.parametrize("case", PIPE_CASES)
def test_pipe_hazards_set_associative(case, request):
    """Lookup, fill and invalidation in the same or adjacent cycles, the 4 KiB entries in sets."""
    run_rtl("tb.test_pipe", SA, testcase=case, cases=PIPE_CASES, seed=3100, nodeid=request.node.nodeid)


@pytest.mark.rtl
def test_the_replacement_test_fails_on_another_organisation(request):
    """The expectations are the model's: told 2 ways while the RTL has 4, the model
    evicts where the RTL still holds the page, and the read's atc_hit differs."""
    from tb.atsbench import DEFAULT_PARAMS

    wrong = json.dumps({**DEFAULT_PARAMS, **SA, "AtcWays": 2})
    with pytest.raises(AssertionError, match=r"atc_hit 1, expected 0"):
        run_rtl("tb.test_atc_sa", SA, testcase="sa_plru_conflicts", seed=5300, nodeid=request.node.nodeid,
                extra_env={"ATS_PARAMS": wrong})
