"""The bound assertions (rtl/assert/) fire on known-bad input, and a firing one fails the test readably.

* tb/test_assert_neg.py drives every checker of rtl/assert/ alone (harness of
  tb/assert_harness.py) with sequences that break one rule each: each named
  assertion must fire, and legal sequences must fire nothing.
* tb/test_assert_surface.py breaks the Invalidate Request contract on the real
  ats_dev_top: the pytest failure must carry the assertion's name, its cycle
  and the replay command.
"""
from __future__ import annotations

import re

import pytest

from conftest import run_rtl, session_build
from tb import assert_harness
from tests import rtl_batch

NEG_CASES = ["hs", "top", "atc_rule1", "atc_sa_checks", "ptw_checks", "dma_checks", "dma_exact_checks",
             "dma_queue_checks", "inv_checks", "drain_and_walk", "pri_checks"]


@pytest.mark.rtl
@pytest.mark.parametrize("case", NEG_CASES)
def test_assertion_fires(case):
    """All cases in one launch of the harness (tests/rtl_batch.py), each judged on its own result."""
    build = session_build(assert_harness.build)
    # Verilator exits non-zero once an assertion has failed, even with the error limit raised:
    # only each case's own result counts
    v = rtl_batch.case_verdict("tb.test_assert_neg", build, case, NEG_CASES, toplevel=assert_harness.TOP, seed=1,
                               test_args=["+verilator+error+limit+100000"])
    assert v.failure is None, f"tb.test_assert_neg.{case}: {v.failure}"


@pytest.mark.rtl
def test_failure_names_assertion_cycle_and_replay(request):
    with pytest.raises(AssertionError) as e:
        run_rtl("tb.test_assert_surface", {"PwcEntries": 8}, nodeid=request.node.nodeid)
    text = str(e.value)
    assert re.search(r"ASSERT (inv_env_itag_free|itag_unique) cycle \d+ ", text), text
    assert "reproduce: SEED=" in text and request.node.nodeid in text, text
