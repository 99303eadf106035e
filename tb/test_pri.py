"""Page Request Interface of ats_dev_top (cocotb module; run by tests/test_rtl_pri.py).

The host side is tb.pri_port.PriPort: its handler plays the IOMMU driver's
page-fault handler (maps the page, or upgrades it to writable) and answers
with a PRG Response. Expected values come from the test's own host page
tables and from the RTL parameters (PriTimeout, PriRetries), never from
the device.
"""
from __future__ import annotations

import random

import cocotb

from model.ats import Fault, PageRequest, PrgResponse
from tb.atsbench import TB, Host, rtl_params
from tb.axi_mem import fast
from tb.pri_port import PriPort

PASID = 0x2A


class Env:
    """Bench + host + PRI port; `fix` decides what the host does for one Page Request."""

    def __init__(self, dut, name: str):
        self.p = rtl_params()
        self.host = Host(pa_bits=self.p["PaWidth"])
        self.sp = self.host.new_space(PASID)
        self.rng = random.Random(cocotb.RANDOM_SEED)
        self.tb = TB(dut, self.host.mem, test_name=name, axi=dict(latency=(1, 5), stall_prob=0.1))
        self.code = PrgResponse.SUCCESS
        self.delay = (0, 12)
        self.fix = True          # the handler repairs the page before answering
        self.answer = True       # False: requests are never answered
        self.pri = PriPort(dut, self.tb.cc, self.handle, random.Random(self.rng.getrandbits(32)), stall_prob=0.3)

    async def start(self, enable: bool = True) -> None:
        await self.tb.start(pasid_tbl_base=self.host.pasid_tbl_base, budget=400_000)
        self.pri.start()
        self.pri.enable(enable)

    def handle(self, req: PageRequest):
        if not self.answer:
            return None
        if self.fix and req.pasid == PASID:
            leaf = self.sp.leaf(req.va)
            if leaf is None or not leaf[1] & 1:
                self.sp.map(req.va, self.host.data_pa(), writable=req.w)
            elif req.w:
                self.sp.map(req.va, leaf[1] & 0xF_FFFF_FFFF_F000, writable=True)
        return self.rng.randint(*self.delay), self.code

    def fail(self, msg: str) -> None:
        self.tb.fail(msg)


def expect_request(env: Env, seen, thread: int, va: int, write: bool) -> None:
    r = seen.req
    want = PageRequest(pasid=PASID, va=va & ~0xFFF, r=not write, w=write, prg_index=thread, last=True)
    if r != want:
        env.fail(f"Page Request fields: got {r}, expected {want}")


@cocotb.test()
async def fault_request_success(dut):
    """Not present → Page Request → host maps → Success → re-walk → the access completes (every thread)."""
    env = Env(dut, "fault_request_success")
    await env.start()
    tb = env.tb
    for t in range(tb.num_threads):
        for write in (False, True):
            va = 0x5000_0000_0000 + (t * 2 + write) * 0x20_0000 + env.rng.randrange(512) * 8
            n0 = len(env.pri.log)
            data = env.rng.getrandbits(64)
            r = await tb.threads[t].access(write, PASID, va, data)
            reqs = env.pri.log[n0:]
            if len(reqs) != 1:
                env.fail(f"thread {t}: {len(reqs)} Page Requests for one not-present page, expected 1")
            expect_request(env, reqs[0], t, va, write)
            exp = env.host.golden(PASID, va, write)
            if r.fault or r.pa != exp.pa:
                env.fail(f"thread {t}: after Success the access should complete at {exp.pa:#x}: {r}")
            if write and env.host.mem.read64(exp.pa) != data:
                env.fail(f"thread {t}: the write did not land after the page request")
            if r.cycle <= reqs[0].cycle:
                env.fail("the access completed before its Page Request")
    await tb.drain()
    tb.check_protocol()


@cocotb.test()
async def write_upgrade(dut):
    """A read-only page: write → WRITE_PROTECT → Page Request with W → host upgrades → the write completes."""
    env = Env(dut, "write_upgrade")
    await env.start()
    tb = env.tb
    va = 0x5100_0000_0000 + 0x18
    pa = env.host.data_pa()
    env.sp.map(va & ~0xFFF, pa, writable=False)
    r = await tb.threads[1].read(PASID, va)
    if r.fault or env.pri.log:
        env.fail(f"a read of a read-only page needs no Page Request: {r}, {env.pri.log}")
    r = await tb.threads[1].write(PASID, va, 0xABCD)
    if len(env.pri.log) != 1:
        env.fail(f"{len(env.pri.log)} Page Requests for one write-protect fault")
    expect_request(env, env.pri.log[0], 1, va, True)
    if r.fault or r.pa != pa + (va & 0xFFF) or env.host.mem.read64(pa + 0x18) != 0xABCD:
        env.fail(f"the write after the upgrade should land at {pa + 0x18:#x}: {r}")
    await tb.drain()


@cocotb.test()
async def invalid_and_failure(dut):
    """Invalid Request → FAULT PRG_INVALID; Response Failure and a reserved code → FAULT PRG_FAILURE."""
    env = Env(dut, "invalid_and_failure")
    await env.start()
    tb = env.tb
    env.fix = False
    cases = [(PrgResponse.INVALID, Fault.PRG_INVALID), (PrgResponse.FAILURE, Fault.PRG_FAILURE),
             (0x7, Fault.PRG_FAILURE)]
    for i, (code, want) in enumerate(cases):
        env.code = code
        t = i % tb.num_threads
        va = 0x5200_0000_0000 + i * 0x1000
        n0 = len(env.pri.log)
        r = await tb.threads[t].read(PASID, va)
        if len(env.pri.log) - n0 != 1:
            env.fail(f"code {code:#x}: {len(env.pri.log) - n0} Page Requests, expected 1 (no retry after a refusal)")
        if not r.fault or r.cause != want or r.pa != 0:
            env.fail(f"code {code:#x}: expected FAULT {want.name} with pa 0, got {r}")
    # the thread works again afterwards
    env.code, env.fix = PrgResponse.SUCCESS, True
    r = await tb.threads[0].read(PASID, 0x5200_0000_0000)
    if r.fault:
        env.fail(f"after a refused request the next command failed: {r}")
    await tb.drain()
    tb.check_protocol()


@cocotb.test()
async def unanswered_times_out(dut):
    """A Page Request never answered → FAULT PRI_TIMEOUT after PriTimeout cycles; a stray late answer is ignored."""
    env = Env(dut, "unanswered_times_out")
    await env.start()
    tb = env.tb
    env.answer = False
    limit = env.p.get("PriTimeout", 4096)
    r = await tb.threads[2 % tb.num_threads].read(PASID, 0x5300_0000_0000)
    if len(env.pri.log) != 1:
        env.fail(f"{len(env.pri.log)} Page Requests, expected 1")
    waited = r.cycle - env.pri.log[0].cycle
    if not r.fault or r.cause != Fault.PRI_TIMEOUT:
        env.fail(f"expected FAULT PRI_TIMEOUT, got {r}")
    if not limit <= waited <= limit + 8:
        env.fail(f"timeout after {waited} cycles, expected PriTimeout = {limit} (+ response latency)")
    # the late answer to the timed-out request changes nothing; the thread works again
    env.pri.respond(2 % tb.num_threads, PrgResponse.SUCCESS, tb.now + 2)
    await tb.cycles(6)
    env.answer = True
    r = await tb.threads[2 % tb.num_threads].read(PASID, 0x5300_0000_0000)
    if r.fault:
        env.fail(f"after a timeout the next command failed: {r}")
    await tb.drain()


@cocotb.test()
async def retries_exhausted_livelock(dut):
    """Success answered but the page never fixed → PriRetries requests, then FAULT LIVELOCK (no hang)."""
    env = Env(dut, "retries_exhausted_livelock")
    await env.start()
    tb = env.tb
    env.fix = False
    va = 0x5400_0000_0000 + 0x40
    r = await tb.threads[0].write(PASID, va, 1)
    n = len(env.pri.log)
    retries = env.p.get("PriRetries", 4)
    if n != retries:
        env.fail(f"{n} Page Requests before giving up, expected PriRetries = {retries}")
    for s in env.pri.log:
        expect_request(env, s, 0, va, True)
    if not r.fault or r.cause != Fault.LIVELOCK:
        env.fail(f"expected FAULT LIVELOCK, got {r}")
    # the retry count is per command: a later command of the same thread gets its own retries
    env.fix = True
    r = await tb.threads[0].write(PASID, va, 2)
    if r.fault or len(env.pri.log) != n + 1:
        env.fail(f"the next command should succeed after one request: {r}, {len(env.pri.log) - n} requests")
    await tb.drain()


@cocotb.test()
async def concurrent_groups(dut):
    """All threads fault at once: one group per thread (PRG index = thread, last set), answered out of order."""
    env = Env(dut, "concurrent_groups")
    await env.start()
    tb = env.tb
    env.delay = (0, 60)
    vas = [0x5500_0000_0000 + t * 0x1000 + 8 * t for t in range(tb.num_threads)]
    rs = await cocotb.triggers.gather(*[tb.threads[t].read(PASID, vas[t]) for t in range(tb.num_threads)])
    by = {s.req.prg_index: s for s in env.pri.log}
    if sorted(by) != list(range(tb.num_threads)) or len(env.pri.log) != tb.num_threads:
        env.fail(f"PRG indexes {sorted(s.req.prg_index for s in env.pri.log)}, expected one per thread")
    for t, r in enumerate(rs):
        expect_request(env, by[t], t, vas[t], False)
        if r.fault:
            env.fail(f"thread {t}: {r}")
    await tb.drain()


@cocotb.test()
async def disabled_faults_at_once(dut):
    """pri_en_i clear: a not-present page faults NOT_PRESENT with no Page Request (the old behaviour)."""
    env = Env(dut, "disabled_faults_at_once")
    await env.start(enable=False)
    tb = env.tb
    for write in (False, True):
        r = await tb.threads[0].access(write, PASID, 0x5600_0000_0000, 3)
        if not r.fault or r.cause != Fault.NOT_PRESENT or env.pri.log:
            env.fail(f"PRI off: expected FAULT NOT_PRESENT and no request, got {r}, {env.pri.log}")
    await tb.drain()


@cocotb.test()
async def atc_write_fault_livelock(dut):
    """atc_wp_fault_i: a write on a cached read-only entry faults from the ATC (no walk).

    The host upgrades the PTE but does not invalidate (arm64 before 6.6):
    every retry hits the same stale entry → PriRetries requests → FAULT
    LIVELOCK. After an invalidation the write completes with no request. With
    atc_wp_fault_i clear the same stale entry is walked again instead."""
    env = Env(dut, "atc_write_fault_livelock")
    await env.start()
    tb = env.tb
    retries = env.p.get("PriRetries", 4)
    for i, fault_mode in enumerate((True, False)):
        va = 0x5700_0000_0000 + i * 0x1000 + 0x28
        pa = env.host.data_pa()
        env.sp.map(va & ~0xFFF, pa, writable=False)
        fast(dut, "atc_wp_fault_i").set(int(fault_mode))
        r = await tb.threads[0].read(PASID, va)  # caches the read-only translation
        n0 = len(env.pri.log)
        r = await tb.threads[0].write(PASID, va, 0x77 + i)
        reqs = env.pri.log[n0:]
        if fault_mode:
            if not r.fault or r.cause != Fault.LIVELOCK or len(reqs) != retries:
                env.fail(f"stale read-only entry: expected {retries} requests and FAULT LIVELOCK, "
                         f"got {len(reqs)} requests, {r}")
            for s in reqs:
                expect_request(env, s, 0, va, True)
            if env.sp.leaf(va)[1] & 2 == 0:
                env.fail("the host should have made the PTE writable")
            await tb.inv.invalidate(va >> 12, False, pasid=PASID)
            n0 = len(env.pri.log)
            r = await tb.threads[0].write(PASID, va, 0x99)
            if r.fault or len(env.pri.log) != n0 or env.host.mem.read64(pa + 0x28) != 0x99:
                env.fail(f"after the invalidation the write should walk and land: {r}")
        else:
            # the stale read-only entry is a miss: walk → WRITE_PROTECT → one
            # request → upgrade → the retry walks the writable PTE and completes
            if r.fault or len(reqs) != 1:
                env.fail(f"walk mode: expected one request and completion, got {len(reqs)}, {r}")
    fast(dut, "atc_wp_fault_i").set(0)
    await tb.drain()
    tb.check_protocol()
