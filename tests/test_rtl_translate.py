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


@pytest.mark.rtl
def test_random_translation_keeping_supervisor_entries(request):
    """pwc_keep_sup_i set: random_space's U/S-clear upper entries are walked through and
    cached, and every access must still match the golden walk that decides U/S at the leaf."""
    run_rtl("tb.test_translate", {"PwcEntries": 8}, seed=1108, nodeid=request.node.nodeid,
            extra_env={"ATS_KEEP_SUP": "1", "ATS_NACC": "4000"})
