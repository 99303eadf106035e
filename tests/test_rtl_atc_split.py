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


@pytest.mark.rtl
def test_the_block_test_fails_on_the_other_fill_mode(request):
    """The expectations are the test's own: told split while the RTL caches whole
    2 MiB entries, the first read of P2 hits where a split ATC must miss."""
    import json

    from tb.atsbench import DEFAULT_PARAMS

    wrong = json.dumps({**DEFAULT_PARAMS, "PwcEntries": 8, "AtcSplitHuge": 1})
    with pytest.raises(AssertionError, match=r"P2 \(0x300000005000\) first read: atc_hit 1, expected 0"):
        run_rtl("tb.test_atc_split", {"PwcEntries": 8}, seed=5100, nodeid=request.node.nodeid,
                extra_env={"ATS_PARAMS": wrong})
