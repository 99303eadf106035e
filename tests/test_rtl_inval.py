"""RTL invalidation semantics (tb/test_inval.py), per parameter set."""
import pytest

from conftest import run_rtl

PARAMS = [
    pytest.param({"PwcEntries": 8}, id="pwc8"),
    pytest.param({"PwcEntries": 0}, id="pwc0"),
]

CASES = ["inval_sizes", "itags_32_outstanding", "inval_stress_remap"]


@pytest.mark.rtl
@pytest.mark.parametrize("params", PARAMS)
@pytest.mark.parametrize("case", CASES)
def test_inval(case, params, request):
    run_rtl("tb.test_inval", params, testcase=case, cases=CASES, seed=2000 + params["PwcEntries"],
            nodeid=request.node.nodeid)
