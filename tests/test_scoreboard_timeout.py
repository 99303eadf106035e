"""The co-simulation scoreboard (tb/env.py) on FAULT BUS_TIMEOUT: legal only in a job whose
AXI slave may answer late or never, and then with no translation (pa 0, rdata 0)."""
from types import SimpleNamespace

import pytest

from model.ats import Fault
from tb.env import Scoreboard


def judge(fault: int, *, timeouts: bool, pa: int = 0, rdata: int = 0) -> list[str]:
    """Run Scoreboard._response on one response record; the error messages it gives."""
    sb = SimpleNamespace(checked=0, errors=[], golden=None, _done=[],
                         job=SimpleNamespace(bus_timeouts=timeouts, bus_errors=False))
    sb._err = lambda m: Scoreboard._err(sb, m)
    sb._what = Scoreboard._what
    sb._bound = lambda *a: -1
    rec = SimpleNamespace(cmd=SimpleNamespace(va=0x4000_1008, write=False, thread=2, pasid=1),
                          rsp=SimpleNamespace(fault=fault, pa=pa, rdata=rdata, issue=10, complete=4200), mem=None)
    Scoreboard._response(sb, rec)
    return sb.errors


def test_timeout_legal_when_the_job_allows_it():
    assert judge(Fault.BUS_TIMEOUT, timeouts=True) == []


@pytest.mark.parametrize("kw", [dict(timeouts=False), dict(timeouts=True, pa=0x1000), dict(timeouts=True, rdata=7)],
                         ids=["no-slow-slave", "carries-pa", "carries-data"])
def test_timeout_flagged(kw):
    (err,) = judge(Fault.BUS_TIMEOUT, **kw)
    assert "dev-thread 2 read" in err and "BUS_TIMEOUT" in err
