"""Directed end-to-end smoke test of rtl/ats_dev_top (cocotb module).

Self-contained on purpose: a dict-backed single-beat AXI4 slave and a
hand-built 4-level page table, one Python coroutine stepping every cycle.
It is a quick sanity check of the whole RTL (walk, ATC hit, PWC, faults,
invalidation + completion, poison and drain rules), not the block suite.

Timing: inputs are driven just after the falling edge, the design settles,
then handshakes are decided; they take effect at the next rising edge.
"""
from __future__ import annotations

import os
from collections import deque

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, Timer

PWC = os.environ.get("SMOKE_PWC", "1") == "1"

# PTE bits
P, RW, US, A, D, PS = 1, 2, 4, 0x20, 0x40, 0x80

# faults (model.ats.Fault / ats_pkg::fault_e)
NONE, NOT_PRESENT, WRITE_PROTECT, SUPERVISOR, RESERVED, PASID_F, BUS_WALK, BUS_DATA, NONCANON, MISALIGNED = range(10)

PASID_TBL = 0x10_0000
PML4, PDPT, PD, PT = 0x2000, 0x3000, 0x4000, 0x5000
PASID = 5
PASID_NOTPRESENT = 6
PASID_BADWALK = 7          # its PML4 lives in a bus-error region
ERR_BASE = 0xDEAD_0000      # accesses to [ERR_BASE, ERR_BASE + 64 KiB) answer SLVERR

VA_RW = 0x4000_1000         # 4K, writable      -> PA 0x8_0000
VA_RW2 = 0x4000_5000        # 4K, writable      -> PA 0x8_1000 (same PT as VA_RW)
VA_RO = 0x4000_2000         # 4K, read-only     -> PA 0x9_0000
VA_NP = 0x4000_3000         # PTE not present
VA_BUS = 0x4000_4000        # 4K, data page in the error region
VA_SUP = 0x4000_6000        # 4K, US=0
VA_HUGE = 0x4020_0000       # 2M page (PDE PS)  -> PA 0x20_0000
VA_GIG = 0x8000_0000        # 1G page (PDPTE PS) -> PA 0x4000_0000


def idx(va: int, level: int) -> int:
    return (va >> {1: 39, 2: 30, 3: 21, 4: 12}[level]) & 0x1FF


def pte(pa: int, writable: bool = True, user: bool = True, huge: bool = False, present: bool = True) -> int:
    return pa | A | D | (P if present else 0) | (RW if writable else 0) | (US if user else 0) | (PS if huge else 0)


class Bench:
    def __init__(self, dut, rlat: int = 3, blat: int = 3):
        self.dut = dut
        self.mem: dict[int, int] = {}
        self.rlat = rlat
        self.blat = blat
        self.cycle = 0
        self.cmd_q: deque = deque()          # (thread, write, pasid, va, wdata)
        self.rsps: list[dict] = []
        self.inv_q: deque = deque()          # dicts of inv_* fields
        self.cpls: list[tuple[int, int]] = []  # (itag, cycle)
        self.reads_pending: list[list] = []  # [due, id, data, err]
        self.bresp_pending: list[list] = []
        self.aw_q: deque = deque()
        self.w_q: deque = deque()
        self.log: list[tuple] = []           # (cycle, kind, id, addr)
        self.r_done: list[tuple[int, int]] = []  # (cycle, id) R handshakes
        self.on_ar = None                    # callback(id, addr) at AR acceptance
        self.hold_walk_addr: int | None = None  # delay R for this walker address
        self.hold_cycles = 0

    # -- memory helpers -------------------------------------------------------
    def rd(self, pa: int) -> int:
        return self.mem.get(pa & ~7, 0)

    def wr(self, pa: int, v: int) -> None:
        self.mem[pa & ~7] = v & (1 << 64) - 1

    @staticmethod
    def err(pa: int) -> bool:
        return ERR_BASE <= pa < ERR_BASE + 0x1_0000

    def build_tables(self) -> None:
        self.wr(PASID_TBL + 8 * PASID, PML4 | 1)
        self.wr(PASID_TBL + 8 * PASID_BADWALK, ERR_BASE | 1)
        self.wr(PML4 + 8 * idx(VA_RW, 1), pte(PDPT))
        self.wr(PDPT + 8 * idx(VA_RW, 2), pte(PD))
        self.wr(PDPT + 8 * idx(VA_GIG, 2), pte(0x4000_0000, huge=True))
        self.wr(PD + 8 * idx(VA_RW, 3), pte(PT))
        self.wr(PD + 8 * idx(VA_HUGE, 3), pte(0x20_0000, huge=True))
        self.wr(PT + 8 * idx(VA_RW, 4), pte(0x8_0000))
        self.wr(PT + 8 * idx(VA_RW2, 4), pte(0x8_1000))
        self.wr(PT + 8 * idx(VA_RO, 4), pte(0x9_0000, writable=False))
        self.wr(PT + 8 * idx(VA_NP, 4), pte(0xA_0000, present=False))
        self.wr(PT + 8 * idx(VA_BUS, 4), pte(ERR_BASE + 0x1000))
        self.wr(PT + 8 * idx(VA_SUP, 4), pte(0xB_0000, user=False))

    # -- the per-cycle loop -----------------------------------------------------
    async def run(self) -> None:
        d = self.dut
        while True:
            await FallingEdge(d.clk_i)
            self.cycle += 1
            # drive
            if self.cmd_q:
                th, w, pasid, va, wdata = self.cmd_q[0]
                d.cmd_valid_i.value = 1
                d.cmd_thread_i.value = th
                d.cmd_write_i.value = int(w)
                d.cmd_pasid_i.value = pasid
                d.cmd_va_i.value = va
                d.cmd_wdata_i.value = wdata
            else:
                d.cmd_valid_i.value = 0
            if self.inv_q:
                for k, v in self.inv_q[0].items():
                    getattr(d, k).value = v
                d.inv_valid_i.value = 1
            else:
                d.inv_valid_i.value = 0
            due = [r for r in self.reads_pending if r[0] <= self.cycle]
            if due:
                r = due[0]
                d.m_axi_rvalid.value = 1
                d.m_axi_rid.value = r[1]
                d.m_axi_rdata.value = r[2]
                d.m_axi_rresp.value = 2 if r[3] else 0
                d.m_axi_rlast.value = 1
            else:
                d.m_axi_rvalid.value = 0
            bdue = [b for b in self.bresp_pending if b[0] <= self.cycle]
            if bdue:
                b = bdue[0]
                d.m_axi_bvalid.value = 1
                d.m_axi_bid.value = b[1]
                d.m_axi_bresp.value = 2 if b[2] else 0
            else:
                d.m_axi_bvalid.value = 0
            await Timer(1, "ns")
            # handshakes (complete at the next rising edge)
            if self.cmd_q and int(d.cmd_ready_o.value):
                self.cmd_q.popleft()
            if self.inv_q and int(d.inv_ready_o.value):
                self.inv_q.popleft()
            if int(d.rsp_valid_o.value):
                self.rsps.append(dict(
                    thread=int(d.rsp_thread_o.value), fault=int(d.rsp_fault_o.value),
                    cause=int(d.rsp_cause_o.value), rdata=int(d.rsp_rdata_o.value),
                    pa=int(d.rsp_pa_o.value), hit=int(d.rsp_atc_hit_o.value), cycle=self.cycle))
            if int(d.invc_valid_o.value):
                self.cpls.append((int(d.invc_itag_o.value), self.cycle))
            if due:
                assert int(d.m_axi_rready.value) == 1
                self.reads_pending.remove(due[0])
                self.r_done.append((self.cycle, due[0][1]))
            if bdue:
                assert int(d.m_axi_bready.value) == 1
                self.bresp_pending.remove(bdue[0])
                self.r_done.append((self.cycle, bdue[0][1]))
            if int(d.m_axi_arvalid.value):
                aid, addr = int(d.m_axi_arid.value), int(d.m_axi_araddr.value)
                assert int(d.m_axi_arlen.value) == 0 and int(d.m_axi_arsize.value) == 3
                assert addr % 8 == 0
                self.log.append((self.cycle, "ar", aid, addr))
                lat = self.rlat
                if self.hold_walk_addr == addr and not aid & 8:
                    lat += self.hold_cycles
                # memory sampled at acceptance
                self.reads_pending.append([self.cycle + lat, aid, 0 if self.err(addr) else self.rd(addr),
                                           self.err(addr)])
                if self.on_ar:
                    self.on_ar(aid, addr)
            if int(d.m_axi_awvalid.value):
                assert int(d.m_axi_awlen.value) == 0 and int(d.m_axi_awsize.value) == 3
                self.aw_q.append((int(d.m_axi_awid.value), int(d.m_axi_awaddr.value)))
            if int(d.m_axi_wvalid.value):
                assert int(d.m_axi_wstrb.value) == 0xFF and int(d.m_axi_wlast.value) == 1
                self.w_q.append(int(d.m_axi_wdata.value))
            while self.aw_q and self.w_q:
                aid, addr = self.aw_q.popleft()
                data = self.w_q.popleft()
                self.log.append((self.cycle, "aw", aid, addr))
                if not self.err(addr):
                    self.wr(addr, data)
                self.bresp_pending.append([self.cycle + self.blat, aid, self.err(addr)])

    # -- API ---------------------------------------------------------------------
    async def reset(self) -> None:
        d = self.dut
        d.rst_ni.value = 0
        d.pasid_tbl_base_i.value = PASID_TBL
        for s in ("cmd_valid_i", "inv_valid_i", "m_axi_rvalid", "m_axi_bvalid"):
            getattr(d, s).value = 0
        d.rsp_ready_i.value = 1
        d.invc_ready_i.value = 1
        d.m_axi_arready.value = 1
        d.m_axi_awready.value = 1
        d.m_axi_wready.value = 1
        for k in ("inv_itag_i", "inv_pasid_valid_i", "inv_pasid_i", "inv_addr_i", "inv_s_i", "inv_global_i",
                  "cmd_thread_i", "cmd_write_i", "cmd_pasid_i", "cmd_va_i", "cmd_wdata_i",
                  "m_axi_rid", "m_axi_rdata", "m_axi_rresp", "m_axi_rlast", "m_axi_bid", "m_axi_bresp"):
            getattr(d, k).value = 0
        await Timer(25, "ns")
        d.rst_ni.value = 1
        cocotb.start_soon(self.run())

    async def wait_for(self, cond, limit: int = 2000, what: str = "condition") -> None:
        start = self.cycle
        while not cond():
            assert self.cycle - start < limit, f"timeout waiting for {what}"
            await FallingEdge(self.dut.clk_i)

    async def access(self, write: bool, va: int, wdata: int = 0, pasid: int = PASID, thread: int = 0) -> dict:
        n = len([r for r in self.rsps if r["thread"] == thread])
        self.cmd_q.append((thread, write, pasid, va, wdata))
        await self.wait_for(lambda: len([r for r in self.rsps if r["thread"] == thread]) > n,
                            what=f"response thread {thread} va {va:#x}")
        return [r for r in self.rsps if r["thread"] == thread][-1]

    def walker_reads(self) -> int:
        return sum(1 for e in self.log if e[1] == "ar" and not e[2] & 8)

    async def invalidate(self, itag: int, addr: int, s: int = 0, pasid: int | None = PASID,
                         glob: int = 0) -> int:
        """Send a request; return the cycle it was accepted (roughly) and wait for its completion."""
        n = len(self.cpls)
        self.inv_q.append(dict(inv_itag_i=itag, inv_pasid_valid_i=int(pasid is not None),
                               inv_pasid_i=pasid or 0, inv_addr_i=addr, inv_s_i=s, inv_global_i=glob))
        await self.wait_for(lambda: len(self.cpls) > n, what=f"completion itag {itag}")
        assert self.cpls[-1][0] == itag, f"completion for itag {self.cpls[-1][0]}, expected {itag}"
        return self.cpls[-1][1]


async def setup(dut, **kw) -> Bench:
    cocotb.start_soon(Clock(dut.clk_i, 10, unit="ns").start())
    tb = Bench(dut, **kw)
    tb.build_tables()
    await tb.reset()
    return tb


def ok(r: dict, pa: int, hit: int | None = None) -> None:
    assert r["fault"] == 0 and r["cause"] == NONE, f"unexpected fault {r}"
    assert r["pa"] == pa, f"pa {r['pa']:#x} != {pa:#x}"
    if hit is not None:
        assert r["hit"] == hit, f"atc_hit {r['hit']} != {hit}"


def fault(r: dict, cause: int) -> None:
    assert r["fault"] == 1 and r["cause"] == cause, f"expected cause {cause}, got {r}"
    assert r["rdata"] == 0


@cocotb.test()
async def read_write_walk_hit_pwc(dut):
    """4K map: write misses (5 walker reads), read hits; a neighbour page uses the PWC."""
    tb = await setup(dut)
    r = await tb.access(True, VA_RW + 0x18, 0x1122_3344_5566_7788)
    ok(r, 0x8_0018, hit=0)
    assert r["rdata"] == 0
    assert tb.rd(0x8_0018) == 0x1122_3344_5566_7788
    assert tb.walker_reads() == 5  # PASID entry, PML4E, PDPTE, PDE, PTE
    r = await tb.access(False, VA_RW + 0x18)
    ok(r, 0x8_0018, hit=1)
    assert r["rdata"] == 0x1122_3344_5566_7788
    assert tb.walker_reads() == 5
    # same page table: with a PWC only the PTE is read
    tb.wr(0x8_1000, 0xCAFE)
    r = await tb.access(False, VA_RW2)
    ok(r, 0x8_1000, hit=0)
    assert r["rdata"] == 0xCAFE
    assert tb.walker_reads() == (6 if PWC else 10)
    # 2M and 1G leaves
    tb.wr(0x20_0000 + 0x1_2340, 0xB16)
    r = await tb.access(False, VA_HUGE + 0x1_2340)
    ok(r, 0x20_0000 + 0x1_2340, hit=0)
    assert r["rdata"] == 0xB16
    r = await tb.access(False, VA_HUGE + 0x1F_F000)
    ok(r, 0x20_0000 + 0x1F_F000, hit=1)
    r = await tb.access(True, VA_GIG + 0x1234_5678, 7)
    ok(r, 0x4000_0000 + 0x1234_5678, hit=0)
    assert tb.rd(0x4000_0000 + 0x1234_5678) == 7
    r = await tb.access(False, VA_GIG + 0x3FFF_FFF8)
    ok(r, 0x4000_0000 + 0x3FFF_FFF8, hit=1)


@cocotb.test()
async def faults(dut):
    """Every fault ends in a FAULT response and the next command works."""
    tb = await setup(dut)
    fault(await tb.access(False, VA_NP), NOT_PRESENT)
    fault(await tb.access(False, VA_RW + 4), MISALIGNED)
    fault(await tb.access(False, 0x0000_8000_0000_0000), NONCANON)
    fault(await tb.access(False, 0x0000_8000_0000_0004), MISALIGNED)  # alignment checked first
    fault(await tb.access(False, VA_RW, pasid=PASID_NOTPRESENT), PASID_F)
    fault(await tb.access(False, VA_SUP), SUPERVISOR)
    r = await tb.access(False, VA_RW, pasid=PASID_BADWALK)
    fault(r, BUS_WALK)
    assert r["pa"] == 0
    r = await tb.access(False, VA_BUS)
    assert r["fault"] == 1 and r["cause"] == BUS_DATA and r["pa"] == ERR_BASE + 0x1000
    r = await tb.access(True, VA_BUS, 5)
    assert r["fault"] == 1 and r["cause"] == BUS_DATA
    # read-only page: read ok (cached read-only), write faults WRITE_PROTECT after a re-walk
    tb.wr(0x9_0000, 0x99)
    r = await tb.access(False, VA_RO)
    ok(r, 0x9_0000, hit=0)
    assert r["rdata"] == 0x99
    n = tb.walker_reads()
    r = await tb.access(True, VA_RO, 1)
    fault(r, WRITE_PROTECT)
    assert r["hit"] == 0 and tb.walker_reads() > n
    assert tb.rd(0x9_0000) == 0x99
    # faults are not cached: map the page, no invalidation needed
    tb.wr(PT + 8 * idx(VA_NP, 4), pte(0xA_0000))
    r = await tb.access(True, VA_NP, 0xAB)
    ok(r, 0xA_0000, hit=0)
    # upgrade without invalidation: the cached read-only entry re-walks on a write
    tb.wr(PT + 8 * idx(VA_RO, 4), pte(0x9_0000))
    r = await tb.access(True, VA_RO, 0x77)
    ok(r, 0x9_0000, hit=0)
    assert tb.rd(0x9_0000) == 0x77
    r = await tb.access(True, VA_RO, 0x78)
    ok(r, 0x9_0000, hit=1)
    # everything still works after the faults
    r = await tb.access(False, VA_RW)
    ok(r, 0x8_0000)


@cocotb.test()
async def invalidate_and_complete(dut):
    """An overlapping invalidation drops the entry; a disjoint one keeps it; completions per ITag."""
    tb = await setup(dut)
    ok(await tb.access(False, VA_RW), 0x8_0000, hit=0)
    ok(await tb.access(False, VA_RW), 0x8_0000, hit=1)
    # disjoint range (another 4K page), other PASID: entry stays
    await tb.invalidate(1, VA_RO >> 12)
    await tb.invalidate(2, VA_RW >> 12, pasid=9)
    ok(await tb.access(False, VA_RW), 0x8_0000, hit=1)
    # repoint the PTE and invalidate it (Linux: clear, flush, set)
    tb.wr(PT + 8 * idx(VA_RW, 4), pte(0xC_0000))
    await tb.invalidate(3, VA_RW >> 12)
    tb.wr(0xC_0000, 0x5EED)
    r = await tb.access(False, VA_RW)
    ok(r, 0xC_0000, hit=0)
    assert r["rdata"] == 0x5EED
    ok(await tb.access(False, VA_RW), 0xC_0000, hit=1)
    # S=1 ranges: 8 KiB covering VA_RW (addr bit 12 = 0 -> [VA & ~0x1fff, +8K))
    tb.wr(PT + 8 * idx(VA_RW, 4), pte(0xD_0000))
    await tb.invalidate(4, (VA_RW >> 12) & ~1, s=1)
    ok(await tb.access(False, VA_RW), 0xD_0000, hit=0)
    # whole address space, all PASIDs (bits 62:12 ones)
    ok(await tb.access(False, VA_HUGE), 0x20_0000)
    await tb.invalidate(5, (1 << 51) - 1, s=1, pasid=None)
    ok(await tb.access(False, VA_HUGE), 0x20_0000, hit=0)
    # global bit with a PASID: still all PASIDs
    await tb.invalidate(6, VA_HUGE >> 12, pasid=123, glob=1)
    ok(await tb.access(False, VA_HUGE), 0x20_0000, hit=0)
    assert [c[0] for c in tb.cpls] == [1, 2, 3, 4, 5, 6]


@cocotb.test()
async def poison_rule(dut):
    """A walk in flight when an overlapping invalidation arrives is re-walked."""
    tb = await setup(dut)
    pte_pa = PT + 8 * idx(VA_RW, 4)
    tb.hold_walk_addr = pte_pa
    tb.hold_cycles = 30
    tb.wr(0x8_0000, 0x01D)
    tb.wr(0xE_0000, 0x0E0)
    fired = []

    def on_ar(aid, addr):
        # the walker read the old PTE (sampled now); the host repoints the PTE
        # and invalidates while the data is still on its way back
        if addr == pte_pa and not aid & 8 and not fired:
            fired.append(tb.cycle)
            tb.wr(pte_pa, pte(0xE_0000))
            tb.inv_q.append(dict(inv_itag_i=9, inv_pasid_valid_i=1, inv_pasid_i=PASID,
                                 inv_addr_i=VA_RW >> 12, inv_s_i=0, inv_global_i=0))
    tb.on_ar = on_ar
    r = await tb.access(False, VA_RW)
    assert fired, "walker never read the PTE"
    ok(r, 0xE_0000, hit=0)
    assert r["rdata"] == 0x0E0
    await tb.wait_for(lambda: tb.cpls, what="completion")
    assert tb.cpls[0][0] == 9
    tb.hold_walk_addr = None
    ok(await tb.access(False, VA_RW), 0xE_0000, hit=1)


@cocotb.test()
async def drain_rule(dut):
    """The completion waits for a DMA access that had passed lookup; concurrent threads."""
    tb = await setup(dut, rlat=25)
    ok(await tb.access(False, VA_RW), 0x8_0000, hit=0)
    # thread 1 hits, its read takes 25 cycles; the invalidation arrives meanwhile
    tb.cmd_q.append((1, False, PASID, VA_RW, 0))
    await tb.wait_for(lambda: any(e[1] == "ar" and e[2] == 8 | 1 for e in tb.log), what="thread 1 AR")
    n = len(tb.rsps)
    cpl_cycle = await tb.invalidate(11, VA_RW >> 12)
    r_cycles = [c for c, i in tb.r_done if i == 8 | 1]
    assert r_cycles, f"completion at {cpl_cycle} before thread 1's read data came back"
    assert cpl_cycle > max(r_cycles), f"completion at {cpl_cycle} before the access finished at {max(r_cycles)}"
    await tb.wait_for(lambda: len(tb.rsps) > n, what="thread 1 response")
    assert tb.rsps[-1]["hit"] == 1
    # all threads at once, mixed reads and writes
    for t in range(4):
        tb.cmd_q.append((t, t % 2 == 1, PASID, VA_RW2 + 8 * t, 0x100 + t))
    await tb.wait_for(lambda: len(tb.rsps) >= n + 5, what="4 responses")
    got = {r["thread"]: r for r in tb.rsps[n + 1:]}
    assert sorted(got) == [0, 1, 2, 3]
    for t, r in got.items():
        ok(r, 0x8_1000 + 8 * t)
        if t % 2:
            assert tb.rd(0x8_1000 + 8 * t) == 0x100 + t
