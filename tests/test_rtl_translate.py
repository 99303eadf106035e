"""RTL translation against the golden walk (tb/test_translate.py), per parameter set."""
import pytest

from conftest import run_rtl

PARAMS = [
    pytest.param({"PwcEntries": 8}, id="pwc8"),
    pytest.param({"PwcEntries": 0}, id="pwc0"),
]


@pytest.mark.rtl
@pytest.mark.parametrize("params", PARAMS)
def test_random_translation(params, request):
    run_rtl("tb.test_translate", params, seed=1000 + params["PwcEntries"], nodeid=request.node.nodeid)
