"""Walk forward progress under a continuous invalidation stream (tb/test_walk_progress.py).

With the hold (WalkMaxRetries, default 4) every walk completes while the
stream runs. With WalkMaxRetries = 0 (no hold: the walker before the bound)
the same test must fail: the walk starves, the known-bad case that shows the
test can fail.
"""
import pytest

from conftest import run_rtl

CASES = ["walk_under_inval_stream", "all_threads_under_inval_stream"]


@pytest.mark.rtl
@pytest.mark.parametrize("params", [pytest.param({}, id="default"), pytest.param({"WalkMaxRetries": 1}, id="retries1")])
@pytest.mark.parametrize("case", CASES)
def test_walk_completes_under_stream(case, params, request):
    run_rtl("tb.test_walk_progress", params, testcase=case, seed=6100, nodeid=request.node.nodeid)


@pytest.mark.rtl
@pytest.mark.parametrize("case", CASES)
def test_walk_starves_without_hold(case, request):
    with pytest.raises(AssertionError) as e:
        run_rtl("tb.test_walk_progress", {"WalkMaxRetries": 0}, testcase=case, seed=6100,
                nodeid=request.node.nodeid)
    assert "walk starved" in str(e.value), str(e.value)[-2000:]
