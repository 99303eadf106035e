"""Accessed/dirty bits on the RTL walker (tb/test_ad.py): every level, CPU races on the
exclusive reservation, AXI errors, retry exhaustion, no monitor, unanswered writes."""
import pytest

from conftest import run_rtl

CASES = ["ad_levels", "ad_cpu_race", "ad_bus_errors", "ad_retry_exhaustion", "ad_no_monitor", "ad_unanswered"]


@pytest.mark.rtl
@pytest.mark.parametrize("case", CASES)
def test_ad(case, request):
    run_rtl("tb.test_ad", {"PwcEntries": 8}, testcase=case, cases=CASES, seed=4100, nodeid=request.node.nodeid)


@pytest.mark.rtl
def test_ad_retry_bound_parameter(request):
    """AdRetries is honoured: with 2, the walk gives up after two lost reservations."""
    run_rtl("tb.test_ad", {"PwcEntries": 0, "AdRetries": 2}, testcase="ad_retry_exhaustion", seed=4101,
            nodeid=request.node.nodeid)
