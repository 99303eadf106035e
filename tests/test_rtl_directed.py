"""Directed corner tests (tb/test_directed.py): one simulator run, default parameters (PWC on)."""
import pytest

from conftest import run_rtl


@pytest.mark.rtl
def test_directed(request):
    run_rtl("tb.test_directed", {"PwcEntries": 8}, seed=5008, nodeid=request.node.nodeid)
