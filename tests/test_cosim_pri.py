"""Device page requests on the RTL: the co-simulation passes each Page Request
(pr_*) to the host model's iopf handler (model/iopf.py, through handle_mm_fault)
and drives its PRG Response (prgr_*); the RTL re-walks and completes, or faults.
The reference device must agree, line for line."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from model.ats import Fault
from tb.rtldev import CosimServer
from tests.cosim_helpers import run_checked

ROOT = Path(__file__).resolve().parent.parent
FAULT_IN = ROOT / "scenarios" / "pri_fault_in.scn"
LIVELOCK = ROOT / "scenarios" / "pri_livelock.scn"
SEED = int(os.environ.get("SEED", "1"))


@pytest.fixture(scope="module")
def srv():
    s = CosimServer(out=ROOT / "build" / "cosim" / "test_pri", seed=SEED)
    yield s
    s.close()


def run(srv, scn: Path, policy: str):
    return run_checked(srv, scn, policy, SEED)


@pytest.mark.parametrize("policy", ["notify-inside-lock", "deferred", "secondary-with-flush"])
def test_page_requests_serviced_by_the_host_on_the_rtl(srv, policy):
    res = run(srv, FAULT_IN, policy)
    assert res.ok, [v.message for v in res.verdicts if not v.ok]
    faults = {line: r.fault for line, r in res.responses}
    assert faults == {29: 0, 30: 0, 32: 0, 33: 0, 35: 0, 36: Fault.PRG_INVALID, 38: Fault.PRG_INVALID}
    assert res.final[(1, 0x10003000)] == 0xA3 and res.final[(1, 0x10004000)] == 0xA4


def test_livelock_on_the_rtl(srv):
    res = run(srv, LIVELOCK, "notify-inside-lock")
    assert res.failed_rules == frozenset({"livelock"})
    assert [r.fault for _, r in res.responses] == [Fault.LIVELOCK]


def test_pri_is_off_again_for_the_next_scenario(srv):
    """The server's RTL ran `pri on` scenarios above; one without `pri` must fault at once."""
    text = FAULT_IN.read_text().replace("pri on", "pri off")
    o = srv.call("scenario", scenario=text, policy="notify-inside-lock", seed=SEED)
    faults = {line: r.fault for line, r in o["result"].responses}
    assert faults[29] == Fault.NOT_PRESENT and faults[33] == Fault.WRITE_PROTECT
