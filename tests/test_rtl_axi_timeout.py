"""AXI requests never answered or answered late (tb/test_axi_timeout.py): walker reads, A/D
writes, DMA reads and writes end in FAULT BUS_TIMEOUT within AxiTimeout; late responses are
dropped; invalidations still complete (after the late response of an access they drain)."""
import pytest

from conftest import run_rtl

CASES = ["walk_read_unanswered", "ad_write_unanswered", "dma_unanswered", "dma_late", "port_stalled"]


@pytest.mark.rtl
@pytest.mark.parametrize("case", CASES)
def test_axi_timeout(case, request):
    run_rtl("tb.test_axi_timeout", {"PwcEntries": 8}, testcase=case, cases=CASES, seed=4200, nodeid=request.node.nodeid)
