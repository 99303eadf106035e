"""Device page requests (PCIe PRI) on the reference device, the host's iopf handler and the livelock rule.

Expected cycles and values are computed here from RefConfig and the
scenario text, never read back from the code under test.
"""
from pathlib import Path

import pytest

from model.ats import Fault, PageRequest, PrgResponse
from model.check import check_livelock
from model.device import DevCommand, run_sync
from model.frames import FrameAllocator
from model.memory import PhysMem
from model.pagetable import PageTables
from model.pasid import PasidTable
from model.refdev import RefConfig, RefDevice
from model.scenario import ScenarioError, parse
from model.scheduler import run_scenario_sync
from model.trace import DevAccess, Trace

ROOT = Path(__file__).resolve().parent.parent
PTBL, PASID, VA, DATA = 0x10000, 1, 0x4000_0000, 0x80_0000_0000
POLICIES = ("deferred", "notify-inside-lock", "secondary-with-flush")


class Env:
    def __init__(self, **cfg):
        self.mem = PhysMem()
        self.pt = PageTables(self.mem, FrameAllocator(self.mem, 0x100, 256))
        PasidTable(self.mem, PTBL).set(PASID, self.pt.root_pa)
        self.dev = RefDevice(self.mem, PTBL, Trace(), RefConfig(**cfg))
        self.dev.enable_pri()

    def run(self, n):
        run_sync(self.dev.run(n))

    def until_request(self, limit=500):
        for _ in range(limit):
            got = self.dev.take_page_requests()
            if got:
                return got
            self.run(1)
        raise AssertionError("no Page Request")

    def until_response(self, limit=10_000):
        for _ in range(limit):
            got = self.dev.take_responses()
            if got:
                return got[0]
            self.run(1)
        raise AssertionError("no response")


def test_request_fields_then_success_retranslates():
    e = Env()
    e.dev.submit(DevCommand(thread=3, write=True, pasid=PASID, va=VA + 0x18, wdata=0x55))
    reqs = e.until_request()
    assert reqs == [PageRequest(pasid=PASID, va=VA, r=False, w=True, prg_index=3, last=True)]
    e.pt.map(VA, DATA)
    e.dev.prg_response(3, PrgResponse.SUCCESS)
    r = e.until_response()
    assert r.fault == 0 and r.pa == DATA + 0x18 and e.mem.read64(DATA + 0x18) == 0x55
    assert e.dev.stats["page_requests"] == 1


@pytest.mark.parametrize("code,fault", [(PrgResponse.INVALID, Fault.PRG_INVALID),
                                        (PrgResponse.FAILURE, Fault.PRG_FAILURE), (0x5, Fault.PRG_FAILURE)])
def test_refusals_fault(code, fault):
    e = Env()
    e.dev.submit(DevCommand(thread=0, write=False, pasid=PASID, va=VA))
    e.until_request()
    e.dev.prg_response(0, code)
    r = e.until_response()
    assert (r.fault, r.pa) == (fault, 0)


def test_unanswered_times_out_and_a_late_answer_is_ignored():
    e = Env(pri_timeout=300)
    e.dev.submit(DevCommand(thread=1, write=False, pasid=PASID, va=VA))
    e.until_request()
    sent = e.dev.now
    r = e.until_response()
    assert r.fault == Fault.PRI_TIMEOUT
    # the request was made in the cycle before it was seen; the fault leaves fault_latency after the timeout
    assert r.complete - (sent - 1) == 300 + RefConfig().fault_latency
    e.dev.prg_response(1, PrgResponse.SUCCESS)  # stray: nothing waits
    e.run(50)
    assert e.dev.take_responses() == [] and e.dev.idle


def test_success_without_a_fix_ends_in_livelock_after_the_retries():
    e = Env(pri_retries=3)
    e.dev.submit(DevCommand(thread=0, write=False, pasid=PASID, va=VA))
    n = 0
    for _ in range(5000):
        for q in e.dev.take_page_requests():
            n += 1
            e.dev.prg_response(q.prg_index, PrgResponse.SUCCESS)
        rs = e.dev.take_responses()
        if rs:
            break
        e.run(1)
    assert n == 3 and rs[0].fault == Fault.LIVELOCK


def test_pri_off_faults_at_once():
    e = Env()
    e.dev.enable_pri(False)
    e.dev.submit(DevCommand(thread=0, write=False, pasid=PASID, va=VA))
    r = e.until_response()
    assert r.fault == Fault.NOT_PRESENT and e.dev.take_page_requests() == []


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("mode", ["script", "random"])
def test_host_services_page_requests_through_its_fault_path(policy, mode):
    res = run_scenario_sync(ROOT / "scenarios/pri_fault_in.scn", policy, mode=mode, seed=5)
    assert res.ok, [v.message for v in res.verdicts if not v.ok]
    faults = {line: r.fault for line, r in res.responses}
    # the device lines of the scenario: 29 read none, 30 write none, 32 write zero, 33 write cow,
    # 35 write ro (upgrade), 36 write into a read-only VMA, 38 read with no VMA
    assert faults == {29: 0, 30: 0, 32: 0, 33: 0, 35: 0, 36: Fault.PRG_INVALID, 38: Fault.PRG_INVALID}
    assert res.response_at(29).rdata == 0
    va = {"wr_none": 0x10001000, "wr_zero": 0x10002000, "wr_cow": 0x10003000, "wr_ro": 0x10004000,
          "ro_vma": 0x20000000}
    want = {"wr_none": 0xA1, "wr_zero": 0xA2, "wr_cow": 0xA3, "wr_ro": 0xA4, "ro_vma": 0x3333}
    assert {k: res.final[(1, v)] for k, v in va.items()} == want


def test_the_same_accesses_without_pri_fault():
    text = (ROOT / "scenarios/pri_fault_in.scn").read_text().replace("pri on", "pri off")
    res = run_scenario_sync(parse(text, "pri_off.scn"), "notify-inside-lock")
    faults = {line: r.fault for line, r in res.responses}
    assert faults[29] == Fault.NOT_PRESENT and faults[33] == Fault.WRITE_PROTECT


@pytest.mark.parametrize("policy", POLICIES)
def test_livelock_rule_fires_on_a_host_that_never_services(policy):
    res = run_scenario_sync(ROOT / "scenarios/pri_livelock.scn", policy)
    assert res.failed_rules == frozenset({"livelock"})
    assert [r.fault for _, r in res.responses] == [Fault.LIVELOCK]


def test_livelock_checker_on_hand_made_traces():
    ok = DevAccess(thread=0, write=False, pasid=1, va=0x1000, pa=0x2000, value=0, issue=0, complete=9)
    bad = DevAccess(thread=2, write=True, pasid=1, va=0x3000, pa=0, value=7, issue=4, complete=99,
                    fault=int(Fault.LIVELOCK))
    assert [v.ok for v in check_livelock([ok])] == [True]
    vs = check_livelock([ok, bad])
    assert [v.ok for v in vs] == [False] and "DEV-thread-2" in vs[0].message and "0x3000" in vs[0].message


def test_bad_pri_directive_names_file_and_line():
    with pytest.raises(ScenarioError) as ei:
        parse("scenario x\npri maybe\nthreads DEV-thread-0\n", "bad.scn")
    assert "bad.scn:2" in str(ei.value) and "pri on|off|noop" in str(ei.value)
