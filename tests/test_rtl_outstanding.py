"""Several outstanding accesses per DMA thread (tb/test_outstanding.py): command queues, hit under
miss, miss under miss, in-order responses, faults inside a queue, exact and conservative drain."""
import pytest

from conftest import run_rtl

CASES = ["oq_hit_throughput", "oq_hit_under_miss", "oq_miss_under_miss", "oq_order_mixed", "oq_fault_mid_queue",
         "oq_drain"]
# AxiTimeout small enough for the no-answer access of oq_fault_mid_queue
PARAMS = {"DmaOutstanding": 4, "AxiTimeout": 256}


@pytest.mark.rtl
@pytest.mark.parametrize("case", CASES)
def test_outstanding(case, request):
    run_rtl("tb.test_outstanding", PARAMS, testcase=case, cases=CASES, seed=3300, nodeid=request.node.nodeid)


@pytest.mark.rtl
def test_outstanding_drain_exact(request):
    """The same drain test on the exact-drain build: the non-matching access does not delay the completion."""
    run_rtl("tb.test_outstanding", {**PARAMS, "DmaDrainExact": 1}, testcase="oq_drain", seed=3300,
            nodeid=request.node.nodeid)
