"""Walk forward progress under a continuous invalidation stream (tb/test_walk_progress.py).

With the hold (WalkMaxRetries, default 4) every walk completes while the
stream runs. With WalkMaxRetries = 0 (no hold: the walker before the bound)
the same test must fail: the walk starves, the known-bad case that shows the
test can fail.
"""
import pytest

from conftest import run_rtl

CASES = ["walk_under_inval_stream", "walk_under_dense_stream", "all_threads_under_inval_stream"]


PARAMS = {"PwcEntries": 8}  # the build of tests/test_rtl_races.py (default parameters, WalkMaxRetries 4)


@pytest.mark.rtl
@pytest.mark.parametrize("case", CASES)
def test_walk_completes_under_stream(case, request):
    run_rtl("tb.test_walk_progress", PARAMS, testcase=case, seed=6100, nodeid=request.node.nodeid)


@pytest.mark.rtl
@pytest.mark.parametrize("case", CASES)
def test_walk_starves_without_hold(case, request):
    with pytest.raises(AssertionError) as e:
        run_rtl("tb.test_walk_progress", {**PARAMS, "WalkMaxRetries": 0}, testcase=case, seed=6100,
                nodeid=request.node.nodeid)
    assert "walk starved" in str(e.value), str(e.value)[-2000:]
