"""The C++ AXI slave inside the block-test simulator (tb/test_axi_slave_rtl.py); the slave alone is
tests/test_axi_slave.py."""
import pytest

from conftest import run_rtl


@pytest.mark.rtl
@pytest.mark.parametrize("case", ["no_answer_range", "pages_by_pointer"])
def test_axi_slave_rtl(case, request):
    run_rtl("tb.test_axi_slave_rtl", {"PwcEntries": 8}, testcase=case, seed=4300, nodeid=request.node.nodeid)


@pytest.mark.rtl
def test_accept_hook_failure_fails_the_test(request):
    """Known-bad: an exception raised in an accept hook (called from inside the simulator) fails the test."""
    with pytest.raises(AssertionError) as e:
        run_rtl("tb.test_axi_slave_rtl", {"PwcEntries": 8}, testcase="hook_failure", seed=4300,
                nodeid=request.node.nodeid)
    assert "planted hook failure on R id=0x8" in str(e.value), str(e.value)
