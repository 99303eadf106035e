"""AXI requests never answered, or answered late (cocotb module).

The walker and the DMA threads wait at most AxiTimeout cycles for the AXI
port and then for each R/B (docs/ARCHITECTURE.md section 3). The slave holds
a chosen response back (`AxiMem.hold`: never answered until released) or
answers it a fixed number of cycles late (`AxiMem.delay`). Cases:

* `walk_read_unanswered`: the walker read of a PTE is never answered: the
  command ends in FAULT BUS_TIMEOUT (pa 0, rdata 0) AxiTimeout cycles after
  the read; other threads and walks go on, invalidations complete. With
  every walk slot waiting for a late R, a new walk is faulted after
  AxiTimeout cycles without reading memory (no slot may reuse its AXI ID).
  Released, the late R is dropped and the same access walks again and works.
* `ad_write_unanswered`: the B of an A/D update write never comes: FAULT
  BUS_TIMEOUT; then a B answered AxiTimeout + 100 cycles late: the same; both
  late B are dropped and the write command then works, D set.
* `dma_unanswered`: a DMA read and a DMA write never answered: FAULT
  BUS_TIMEOUT within the bound; the thread's next command finds its AXI ID
  still busy and ends in FAULT BUS_TIMEOUT after AxiTimeout cycles without an
  access; other threads work; an Invalidate Request for that page is
  accepted and applied (the ATC entry is gone) but its completion waits for
  the late response (ATS rule 2: the access may still land), and leaves once
  the slave answers. Then the thread works again.
* `dma_late`: a DMA access answered AxiTimeout + 100 cycles late: FAULT
  BUS_TIMEOUT; the thread's next command waits for the late response, which
  is dropped, and then completes normally. One answered AxiTimeout - 100
  cycles late is no fault at all.
* `port_stalled`: ARREADY and AWREADY low for longer than AxiTimeout: the
  requests in the device's AXI output registers time out waiting for R/B,
  every other walk and DMA request is withdrawn at the timeout (never
  issued); all end in FAULT BUS_TIMEOUT within the bound, and once the port
  comes back every thread works again.

Expected values come from the page tables (`Host.golden`) and from the
AxiTimeout parameter, never from the device.
"""
from __future__ import annotations

import random

import cocotb

from model.ats import Fault
from model.pagetable import A, D, SIZE_1G, SIZE_LEVEL, SIZE_4K
from tb.atsbench import TB, Host, Response, rtl_params

PASID = 0x3C
AXI_TIMEOUT = 4096  # ats_dev_top's default AxiTimeout
SLACK = 40          # cycles from the timeout to the response handshake (completion, ATC, arbiters)


class Bench:
    def __init__(self, dut, name: str):
        self.rng = random.Random(cocotb.RANDOM_SEED)
        self.host = Host(pa_bits=rtl_params()["PaWidth"])
        self.sp = self.host.new_space(PASID)
        self.tb = TB(dut, self.host.mem, test_name=name, axi=dict(latency=(1, 6), reorder=True))
        self.timeout = rtl_params().get("AxiTimeout", AXI_TIMEOUT)
        self.n = 0

    async def start(self) -> None:
        await self.tb.start(pasid_tbl_base=self.host.pasid_tbl_base, budget=300_000)

    def fresh(self) -> int:
        """A qword in a newly mapped 4 KiB page under its own PML4E (its walk reads every level)."""
        self.n += 1
        va = 0x4000_0000_0000 + self.n * SIZE_1G * 512
        self.sp.map(va, self.host.data_pa())
        return va + self.rng.randrange(512) * 8

    def expect(self, ok: bool, msg: str) -> None:
        if not ok:
            self.tb.fail(msg)

    def timed_out(self, r: Response, since: int, what: str) -> None:
        """FAULT BUS_TIMEOUT, no translation, AxiTimeout cycles (+ pipeline) after `since`."""
        self.expect(r.fault and r.cause == Fault.BUS_TIMEOUT and r.pa == 0 and r.rdata == 0,
                    f"{what}: expected FAULT BUS_TIMEOUT with pa 0 and rdata 0, got {r}")
        lo, hi = since + self.timeout - 2, since + self.timeout + SLACK
        self.expect(lo <= r.cycle <= hi, f"{what}: BUS_TIMEOUT at cycle {r.cycle}, expected in [{lo}, {hi}] "
                                         f"(AxiTimeout {self.timeout} after cycle {since})")

    async def ok(self, thread: int, va: int, write: bool, what: str) -> Response:
        """The access works: the golden PA, the data read or written."""
        exp = self.host.golden(PASID, va, write)
        data = self.rng.getrandbits(64)
        if not write:
            self.host.mem.write64(exp.pa, data)
        r = await self.tb.threads[thread].access(write, PASID, va, data)
        good = not r.fault and r.pa == exp.pa and (r.rdata == data if not write else self.host.mem.read64(exp.pa) == data)
        self.expect(good, f"{what}: expected the access to work (pa {exp.pa:#x}), got {r}")
        return r

    async def completes(self, h, within: int) -> bool:
        end = self.tb.now + within
        while h.complete is None and self.tb.now < end:
            await self.tb.cycles(4)
        return h.complete is not None

    def dma_accepted(self, thread: int, first: int, last: int) -> list:
        return [a for a in self.tb.axi.log + self.tb.axi.inflight
                if a.source == "dma" and a.tag == thread and first <= a.accept <= last]


@cocotb.test()
async def walk_read_unanswered(dut):
    b = Bench(dut, "walk_read_unanswered")
    tb = b.tb
    await b.start()
    va = b.fresh()
    leaf = b.host.golden(PASID, va, False).reads[-1]
    hold = tb.axi.hold(lambda a: a.source == "walk" and not a.write and a.addr == leaf)
    r = await tb.threads[0].access(False, PASID, va)
    b.expect(len(hold.matched) == 1, f"the walker never read the PTE at {leaf:#x}: {r}")
    held = hold.matched[0]
    b.timed_out(r, held.accept, "walker read of the PTE never answered")
    # the device goes on: the other walk slot, other threads, invalidations
    for t in (1, 2):
        await b.ok(t, b.fresh(), t == 2, f"thread {t} while a walker read is unanswered")
    h = await tb.inv.request(0x7_0000, pasid=0x1234)
    b.expect(await b.completes(h, 200), "an invalidation did not complete while a walker read is unanswered")
    # the late R arrives and is dropped; the access walks again and works
    hold.release()
    await tb.cycles(20)
    b.expect(held.done is not None, f"released read not answered: {held}")
    r = await b.ok(0, va, False, "the same access after the late R")
    b.expect(not r.atc_hit, f"a timed-out walk was cached: {r}")

    # every walk slot waits for a late R: a new walk is faulted, not stalled, and reads nothing
    vas = [b.fresh() for _ in range(rtl_params()["NumWalks"])]
    leaves = [b.host.golden(PASID, v, False).reads[-1] for v in vas]
    hold = tb.axi.hold(lambda a: a.source == "walk" and not a.write and a.addr in leaves, count=len(vas))
    tasks = [cocotb.start_soon(tb.threads[t].access(False, PASID, v)) for t, v in enumerate(vas)]
    for t, task in enumerate(tasks):
        r = await task
        held = [a for a in hold.matched if a.addr == leaves[t]]
        b.expect(len(held) == 1, f"walk {t}: its PTE read was not held: {r}")
        b.timed_out(r, held[0].accept, f"walk {t}'s PTE read never answered")
    va2 = b.fresh()
    thread = len(vas) % tb.num_threads
    c0 = tb.now
    r = await tb.threads[thread].access(True, PASID, va2, 1)
    b.timed_out(r, c0, "a walk while every slot waits for a late R")
    b.expect(not tb.walk_reads(c0, r.cycle), f"a walk slot read memory while its last read is unanswered: "
                                              f"{[str(a) for a in tb.walk_reads(c0, r.cycle)]}")
    hold.release()
    await tb.cycles(20)
    for t, v in enumerate([*vas, va2]):
        await b.ok(t % tb.num_threads, v, t % 2 == 1, f"access {t} after the late responses")
    await tb.drain()
    tb.check_protocol()


@cocotb.test()
async def ad_write_unanswered(dut):
    b = Bench(dut, "ad_write_unanswered")
    tb = b.tb
    mem = b.host.mem
    await b.start()
    for late in (None, b.timeout + 100):
        va = b.fresh()
        pte = b.sp.entry(va, SIZE_LEVEL[SIZE_4K])[0]
        mem.write64(pte, mem.read64(pte) & ~(A | D))
        match = (lambda a, e=pte: a.source == "walk" and a.write and a.addr == e)
        hold = tb.axi.hold(match) if late is None else tb.axi.delay(match, late)
        what = "A/D write never answered" if late is None else f"A/D write answered {late} cycles late"
        r = await tb.threads[0].access(True, PASID, va, 5)
        b.expect(len(hold.matched) == 1, f"{what}: no A/D write of the PTE at {pte:#x}: {r}")
        held = hold.matched[0]
        b.timed_out(r, held.accept, what)
        await b.ok(1, b.fresh(), False, f"{what}: another thread meanwhile")
        h = await tb.inv.request(va >> 12, pasid=PASID)
        b.expect(await b.completes(h, 200), f"{what}: an invalidation did not complete")
        if late is None:
            hold.release()
        while held.done is None:
            await tb.cycles(8)
        # the exclusive write itself landed (the slave performs it at acceptance): A and D set,
        # nothing else changed; the late B was dropped and the write command now works
        got = mem.read64(pte)
        b.expect(got & (A | D) == A | D, f"{what}: PTE {got:#x} after the late B")
        await b.ok(0, va, True, f"{what}: the write command again")
    await tb.drain()
    tb.check_protocol()


@cocotb.test()
async def dma_unanswered(dut):
    b = Bench(dut, "dma_unanswered")
    tb = b.tb
    await b.start()
    for write in (False, True):
        t = 1 if write else 0
        kind = "write" if write else "read"
        va = b.fresh()
        await b.ok(t, va, False, "warm-up")   # the ATC now holds the translation
        hold = tb.axi.hold(lambda a, t=t: a.source == "dma" and a.tag == t)
        r = await tb.threads[t].access(write, PASID, va, 0xDEAD)
        b.expect(len(hold.matched) == 1, f"DMA {kind}: no access reached the slave: {r}")
        held = hold.matched[0]
        b.timed_out(r, held.accept, f"DMA {kind} never answered")
        # the thread's AXI ID is still busy: its next command is faulted after AxiTimeout, no access
        c0 = tb.now
        r = await tb.threads[t].access(False, PASID, b.fresh(), 0)
        b.timed_out(r, c0, f"next command on thread {t} while its DMA {kind} is unanswered")
        b.expect(not b.dma_accepted(t, c0 + 1, r.cycle), f"thread {t} issued an access while its last one is "
                                                         f"unanswered: {b.dma_accepted(t, c0 + 1, r.cycle)}")
        await b.ok(2, b.fresh(), write, f"thread 2 while thread {t}'s DMA {kind} is unanswered")
        # an invalidation of that page is accepted and applied at once (the ATC entry goes) ...
        h = await tb.inv.request(va >> 12, pasid=PASID)
        r = await b.ok(3, va, False, "lookup after the invalidation")
        b.expect(not r.atc_hit, f"the invalidated entry was still used: {r}")
        # ... but completes only after the late response: the access may still land in memory
        await tb.cycles(300)
        b.expect(h.complete is None, f"Invalidate Completion @{h.complete} while the DMA {kind} it must drain "
                                     f"is unanswered: {held}")
        hold.release()
        b.expect(await b.completes(h, 100), f"no Invalidate Completion after the late response of the DMA {kind}")
        b.expect(held.done is not None and held.done < h.complete, f"completion @{h.complete}, late response {held}")
        await b.ok(t, va, write, f"thread {t} after the late response")
    await tb.drain()
    tb.check_protocol()


@cocotb.test()
async def dma_late(dut):
    b = Bench(dut, "dma_late")
    tb = b.tb
    await b.start()
    for write in (False, True):
        kind = "write" if write else "read"
        va = b.fresh()
        await b.ok(0, va, False, "warm-up")
        late = tb.axi.delay(lambda a: a.source == "dma" and a.tag == 0, b.timeout - 100)
        await b.ok(0, va, write, f"DMA {kind} answered {b.timeout - 100} cycles late (inside AxiTimeout)")
        b.expect(len(late.matched) == 1, f"DMA {kind}: the delayed access was not seen")
        late = tb.axi.delay(lambda a: a.source == "dma" and a.tag == 0, b.timeout + 100)
        r = await tb.threads[0].access(write, PASID, va, 0xBEEF)
        b.timed_out(r, late.matched[0].accept, f"DMA {kind} answered {b.timeout + 100} cycles late")
        # the next command waits for the late response (dropped), then completes normally
        c0 = tb.now
        r = await b.ok(0, va, not write, f"thread 0 after the late DMA {kind}")
        due = late.matched[0].accept + b.timeout + 100
        b.expect(r.cycle > due and r.mem.accept > due,
                 f"thread 0's next access @{r.mem.accept} did not wait for the late response due @{due} "
                 f"(issued @{c0})")
    await tb.drain()
    tb.check_protocol()


@cocotb.test()
async def port_stalled(dut):
    b = Bench(dut, "port_stalled")
    tb = b.tb
    await b.start()
    hits = [b.fresh() for _ in range(3)]
    for t, v in enumerate(hits):
        await b.ok(t, v, False, "warm-up")
    walks = [b.fresh()]
    # ARREADY and AWREADY stay low for longer than AxiTimeout: one read and one write enter
    # the device's AXI output registers, every other requester waits for the port
    stall = b.timeout + 300
    tb.axi.set_timing(stall_prob=1.0, stall=(stall, stall))
    c0 = tb.now
    # two DMA reads and a DMA write (ATC hits: at the port at once), one walk
    tasks = [cocotb.start_soon(tb.threads[0].access(False, PASID, hits[0])),
             cocotb.start_soon(tb.threads[1].access(False, PASID, hits[1])),
             cocotb.start_soon(tb.threads[2].access(True, PASID, hits[2], 9)),
             cocotb.start_soon(tb.threads[3].access(False, PASID, walks[0]))]
    rs = [await task for task in tasks]
    tb.axi.set_timing(stall_prob=0.0)
    for r in rs:
        b.expect(r.fault and r.cause == Fault.BUS_TIMEOUT and r.cycle <= c0 + b.timeout + SLACK,
                 f"AXI port stalled since cycle {c0}: expected FAULT BUS_TIMEOUT by cycle "
                 f"{c0 + b.timeout + SLACK}, got {r}")
    # the port comes back: the requests that were in the output registers go out, their late
    # responses are dropped, and every thread works again
    while tb.now < c0 + stall + 50:
        await tb.cycles(16)
    late = tb.take_unclaimed_dma()
    b.expect(len([a for a in late if a.write]) <= 1 and len([a for a in late if not a.write]) <= 1
             and all(a.accept >= c0 + stall - 10 for a in late),
             f"accesses after the timed-out commands other than the one read and one write in the output "
             f"registers: {[str(a) for a in late]}")
    for t, v in enumerate(hits + walks):
        await b.ok(t, v, t % 2 == 1, f"thread {t} after the stall")
    b.expect(len(late) == 2 and sum(a.write for a in late) == 1,
             f"expected one read and one write to reach the slave late, got {[str(a) for a in late]}")
    await tb.drain()
    tb.check_protocol()
