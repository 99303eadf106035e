"""Page Request Interface of the RTL (tb/test_pri.py): success, refusals, timeout, livelock, fields."""
import pytest

from conftest import run_rtl

# small limits keep the timeout and livelock cases short
PARAMS = [
    pytest.param({"PriTimeout": 200, "PriRetries": 3}, id="t200r3"),
]


@pytest.mark.rtl
@pytest.mark.parametrize("params", PARAMS)
def test_pri(params, request):
    run_rtl("tb.test_pri", params, seed=7000, nodeid=request.node.nodeid)
