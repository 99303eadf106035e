"""AXI SLVERR/DECERR at walk and data stages (tb/test_axi_errors.py), per parameter set."""
import pytest

from conftest import run_rtl

PARAMS = [
    pytest.param({"PwcEntries": 8}, id="pwc8"),
    pytest.param({"PwcEntries": 0}, id="pwc0"),
]


@pytest.mark.rtl
@pytest.mark.parametrize("params", PARAMS)
def test_axi_errors(params, request):
    run_rtl("tb.test_axi_errors", params, seed=4000 + params["PwcEntries"], nodeid=request.node.nodeid)
