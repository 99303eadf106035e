"""Pipeline hazards (tb/test_pipe.py): a lookup, a fill or a DMA access and an invalidation in the same or adjacent cycles."""
import pytest

from conftest import run_rtl

CASES = ["pipe_lookup_vs_inv", "pipe_fill_vs_inv", "pipe_dma_vs_inv"]


@pytest.mark.rtl
@pytest.mark.parametrize("case", CASES)
def test_pipe(case, request):
    run_rtl("tb.test_pipe", {"PwcEntries": 8}, testcase=case, seed=3100, nodeid=request.node.nodeid)
