"""ATC fill size of huge translations (tb/test_atc_split.py): AtcSplitHuge 1 and the default 0."""
import pytest

from conftest import run_rtl

PARAMS = [
    pytest.param({"PwcEntries": 8}, id="whole"),
    pytest.param({"PwcEntries": 8, "AtcSplitHuge": 1}, id="split"),
]


@pytest.mark.rtl
@pytest.mark.parametrize("params", PARAMS)
def test_atc_huge_fill_size(params, request):
    run_rtl("tb.test_atc_split", params, seed=5100 + params.get("AtcSplitHuge", 0), nodeid=request.node.nodeid)
