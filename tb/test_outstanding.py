"""Several outstanding accesses per DMA thread (DmaOutstanding > 1), one named test each.

Each thread has a command queue (rtl/dma.sv): commands are looked up,
walked and performed while older ones of the thread still wait, and answered
in command order per thread.

oq_hit_throughput: every thread keeps its queue full of reads that hit; the
rate (accesses per cycle, from handshakes counted over 2000 cycles) must reach
OQ_MIN_RATE at memory latency 10.

oq_hit_under_miss: a thread's first command misses (its walk is slow), the
second hits; the hit's memory access is performed before the miss's, and the
responses still come in command order.

oq_miss_under_miss: two misses of one thread walk at the same time: both
Translation Requests are issued before the first one completes.

oq_order_mixed: random reads and writes on every thread (hits and misses,
the same word written then read again, random AXI latency, responses of
different IDs reordered): every response comes in command order and every
read returns the last value its thread wrote there (no read passes an older
write, no write passes an older read of its thread).

oq_fault_mid_queue: a queue with a translation fault, a misaligned VA and a
bus error between good accesses: every command gets its defined response, in
order, and the later ones complete normally; then an access answered after
AxiTimeout: it and the reads queued behind it on the thread's AXI ID answer
BUS_TIMEOUT, and the next commands complete normally once the late
responses have drained.

oq_drain: an access held in flight by the memory; an Invalidate Request of
another page of the same PASID, then one of the access's own page. With
DmaDrainExact = 1 the first completion leaves while the access is still in
flight and the second waits for its response; with 0 (conservative) both
wait. The same test runs on both builds (tests/test_rtl_outstanding.py).
"""
from __future__ import annotations

import os
import random

import cocotb

from model.ats import Fault, encode_range
from model.pagetable import va_of
from tb.atsbench import TB, Host, rtl_params

OQ_MIN_RATE = float(os.environ.get("OQ_MIN_RATE", "0.9"))


def new_host() -> Host:
    return Host(pa_bits=rtl_params()["PaWidth"])


def depth() -> int:
    return int(rtl_params().get("DmaOutstanding", 1))


async def stream_hits(tb: TB, pasid: int, vas: list[int], cycles: int, warm: int = 200) -> float:
    """Every thread keeps `depth()` reads of its page in flight; returns responses per cycle."""
    n = tb.num_threads
    d = depth()
    stop = False
    count = [0]

    async def spin(t: int) -> None:
        th = tb.threads[t]
        q = []
        while not stop or q:
            while not stop and len(q) < d:
                q.append(th.issue(False, pasid, vas[t]))
            r = await q.pop(0).wait()
            if r.fault or not r.atc_hit:
                tb.fail(f"stream: {r}")
            count[0] += 1

    tasks = [cocotb.start_soon(spin(t)) for t in range(n)]
    await tb.cycles(warm)
    c0, n0 = tb.now, count[0]
    await tb.cycles(cycles)
    rate = (count[0] - n0) / (tb.now - c0)
    stop = True
    for t in tasks:
        await t
    return rate


@cocotb.test()
async def oq_hit_throughput(dut):
    """Back-to-back hits with full command queues reach OQ_MIN_RATE accesses per cycle."""
    host = new_host()
    pasid = 0x31
    sp = host.new_space(pasid)
    tb = TB(dut, host.mem, test_name="oq_hit_throughput", axi=dict(latency=(10, 10)))
    await tb.start(pasid_tbl_base=host.pasid_tbl_base, budget=200_000)
    vas = [va_of(1, 2, 3, 16 + t) for t in range(tb.num_threads)]
    for t, va in enumerate(vas):
        sp.map(va, host.data_pa())
        await tb.read(t, pasid, va)
    rate = await stream_hits(tb, pasid, vas, 2000)
    tb.log("hit throughput %.3f accesses/cycle (%d threads, %d outstanding each, memory latency 10)",
           rate, tb.num_threads, depth())
    if rate < OQ_MIN_RATE:
        tb.fail(f"hit throughput {rate:.3f} accesses/cycle < {OQ_MIN_RATE}")
    tb.check_protocol()


@cocotb.test()
async def oq_hit_under_miss(dut):
    """A hit queued behind a miss of the same thread is performed first, answered second."""
    host = new_host()
    pasid = 0x32
    sp = host.new_space(pasid)
    tb = TB(dut, host.mem, test_name="oq_hit_under_miss", axi=dict(latency=(10, 10)))
    await tb.start(pasid_tbl_base=host.pasid_tbl_base, budget=100_000)
    hot, cold = va_of(2, 0, 0, 1), va_of(3, 1, 1, 1)
    pa_hot, pa_cold = host.data_pa(), host.data_pa()
    sp.map(hot, pa_hot)
    sp.map(cold, pa_cold)
    host.mem.write(pa_hot, (0x1111).to_bytes(8, "little"))
    host.mem.write(pa_cold, (0x2222).to_bytes(8, "little"))
    await tb.read(0, pasid, hot)
    th = tb.threads[0]
    a = th.issue(False, pasid, cold)
    b = th.issue(False, pasid, hot)
    ra, rb = await a.wait(), await b.wait()
    if ra.fault or rb.fault or ra.pa != pa_cold or rb.pa != pa_hot or ra.rdata != 0x2222 or rb.rdata != 0x1111:
        tb.fail(f"wrong results: {ra}; {rb}")
    if ra.atc_hit or not rb.atc_hit:
        tb.fail(f"expected a miss then a hit: {ra}; {rb}")
    if not (rb.mem_time < ra.mem_time):
        tb.fail(f"the hit's access (@{rb.mem_time}) was not performed under the miss (@{ra.mem_time})")
    if not (ra.cycle < rb.cycle):
        tb.fail(f"responses out of command order: miss @{ra.cycle}, hit @{rb.cycle}")
    tb.log("hit performed @%d, miss performed @%d; responses @%d, @%d", rb.mem_time, ra.mem_time, ra.cycle, rb.cycle)
    tb.check_protocol()


@cocotb.test()
async def oq_miss_under_miss(dut):
    """Two misses of one thread walk at the same time."""
    host = new_host()
    pasid = 0x33
    sp = host.new_space(pasid)
    tb = TB(dut, host.mem, test_name="oq_miss_under_miss", axi=dict(latency=(10, 10)))
    await tb.start(pasid_tbl_base=host.pasid_tbl_base, budget=100_000)
    xreq = tb.high_cycles(tb.rtl.xreq_valid)
    xcpl = tb.high_cycles(tb.rtl.xcpl_valid)
    v1, v2 = va_of(4, 1, 1, 1), va_of(5, 2, 2, 2)
    sp.map(v1, host.data_pa())
    sp.map(v2, host.data_pa())
    th = tb.threads[0]
    a = th.issue(False, pasid, v1)
    b = th.issue(True, pasid, v2, 0x55)
    ra, rb = await a.wait(), await b.wait()
    if ra.fault or rb.fault or ra.atc_hit or rb.atc_hit:
        tb.fail(f"expected two misses without fault: {ra}; {rb}")
    if len(xreq) < 2 or len(xcpl) < 1 or not (xreq[1] < xcpl[0]):
        tb.fail(f"the second walk did not start before the first completed: requests @{xreq}, completions @{xcpl}")
    tb.log("Translation Requests @%s, Completions @%s", xreq[:2], xcpl[:2])
    tb.check_protocol()


@cocotb.test()
async def oq_order_mixed(dut):
    """Random reads and writes per thread: in-order responses, per-thread program order on memory."""
    rng = random.Random(cocotb.RANDOM_SEED)
    host = new_host()
    pasid = 0x34
    sp = host.new_space(pasid)
    tb = TB(dut, host.mem, test_name="oq_order_mixed",
            axi=dict(latency=(1, 12), reorder=True, stall_prob=0.2), rsp_stall_prob=0.1)
    await tb.start(pasid_tbl_base=host.pasid_tbl_base, budget=400_000)
    n = tb.num_threads
    d = depth()
    # per thread: its own pages (some shared 2 MiB table, some far apart: hits and misses)
    pages = {t: [va_of(6 + t, k % 3, k, 0) for k in range(12)] for t in range(n)}
    for t in range(n):
        for va in pages[t]:
            sp.map(va, host.data_pa())
    checked = [0, 0]

    async def run(t: int) -> None:
        th = tb.threads[t]
        trng = random.Random(rng.getrandbits(32))
        q: list = []
        mine: dict[int, int] = {}
        for i in range(150):
            va = trng.choice(pages[t][:4] if trng.random() < 0.7 else pages[t]) + trng.randrange(4) * 8
            write = trng.random() < 0.4
            data = trng.getrandbits(64)
            if write:
                mine[va] = data
                exp = None
            else:
                # never written by its thread (the only writer of its pages): as initialised
                exp = mine[va] if va in mine else int.from_bytes(
                    host.mem.read(host.golden(pasid, va, False).pa, 8), "little")
            q.append((th.issue(write, pasid, va, data), write, va, exp))
            while len(q) >= trng.randint(1, d):
                p, w, v, e = q.pop(0)
                r = await p.wait()
                if r.fault:
                    tb.fail(f"t{t}: unexpected fault {r}")
                if not w:
                    checked[0] += 1
                    if r.rdata != e:
                        tb.fail(f"t{t}: read of {v:#x} returned {r.rdata:#x}, program order gives {e:#x}: {r}")
                else:
                    checked[1] += 1
        for p, w, v, e in q:
            r = await p.wait()
            if not w and r.rdata != e:
                tb.fail(f"t{t}: read of {v:#x} returned {r.rdata:#x}, program order gives {e:#x}: {r}")

    tasks = [cocotb.start_soon(run(t)) for t in range(n)]
    for x in tasks:
        await x
    if checked[0] < 100 or checked[1] < 100:
        tb.fail(f"too few accesses checked: {checked}")
    tb.log("reads checked %d, writes %d", *checked)
    tb.check_protocol()


@cocotb.test()
async def oq_fault_mid_queue(dut):
    """Faults inside a queue end in their defined responses; later commands complete in order."""
    from tb.axi_mem import Resp
    host = new_host()
    pasid = 0x35
    sp = host.new_space(pasid)
    tb = TB(dut, host.mem, test_name="oq_fault_mid_queue", axi=dict(latency=(3, 6)))
    await tb.start(pasid_tbl_base=host.pasid_tbl_base, budget=200_000)
    tmo = int(rtl_params().get("AxiTimeout", 4096))
    good = [va_of(8, 0, 0, k) for k in range(4)]
    for va in good:
        sp.map(va, host.data_pa())
    bad_bus = va_of(8, 0, 1, 0)
    slow = va_of(8, 0, 1, 1)
    sp.map(bad_bus, host.data_pa())
    sp.map(slow, host.data_pa())
    unmapped = va_of(8, 0, 2, 0)
    for va in good + [slow]:   # cached: the slow read is issued first in its round
        await tb.read(0, pasid, va)
    tb.axi.inject_error(host.golden(pasid, bad_bus, False).pa, resp=Resp.DECERR, source="dma", count=1)
    slow_pa = host.golden(pasid, slow, False).pa
    # answered AxiTimeout + 40 cycles late: the responses of the reads issued behind it on the
    # thread's ID queue behind it (AXI order), so they time out too; then the thread recovers
    tb.axi.delay(lambda a: a.source == "dma" and a.addr == slow_pa, tmo + 40)
    th = tb.threads[0]
    rounds = [
        [(False, good[0], Fault.NONE), (False, unmapped, Fault.NOT_PRESENT), (True, good[1], Fault.NONE),
         (False, good[2] + 4, Fault.MISALIGNED), (False, bad_bus, Fault.BUS_DATA), (False, good[3], Fault.NONE),
         (True, good[0], Fault.NONE), (False, good[0], Fault.NONE)],
        [(False, slow, Fault.BUS_TIMEOUT), (False, good[1], Fault.BUS_TIMEOUT), (False, good[2], Fault.BUS_TIMEOUT)],
        [(False, good[3], Fault.NONE), (True, good[1], Fault.NONE), (False, good[1], Fault.NONE)],
    ]
    last = -1
    for plan in rounds:
        pend = [(th.issue(w, pasid, va, 0x77), w, va, c) for w, va, c in plan]
        for p, w, va, c in pend:
            r = await p.wait()
            if r.cause != int(c):
                tb.fail(f"{'W' if w else 'R'} {va:#x}: cause {r.cause}, expected {c!r}: {r}; DMA accesses "
                        f"{[str(a) for a in tb.axi.log + tb.axi.inflight if a.source == 'dma'][-8:]}")
            if r.cycle <= last:
                tb.fail(f"responses out of order at {r}")
            last = r.cycle
        if plan is rounds[-1] and pend[-1][0].response.rdata != 0x77:
            tb.fail(f"the read after the write returned {pend[-1][0].response}")
    tb.log("queues with faults answered in order by @%d", last)


@cocotb.test()
async def oq_drain(dut):
    """Exact drain: a completion waits only for accesses whose translation it covers."""
    exact = bool(rtl_params().get("DmaDrainExact", 0))
    host = new_host()
    pasid = 0x36
    sp = host.new_space(pasid)
    tb = TB(dut, host.mem, test_name="oq_drain", axi=dict(latency=(2, 2)))
    await tb.start(pasid_tbl_base=host.pasid_tbl_base, budget=100_000)
    p_va, q_va = va_of(9, 1, 1, 1), va_of(9, 1, 1, 2)
    pa = host.data_pa()
    sp.map(p_va, pa)
    sp.map(q_va, host.data_pa())
    await tb.read(0, pasid, p_va)
    await tb.read(1, pasid, q_va)
    results = {}
    for name, target in (("other page", q_va), ("own page", p_va)):
        hold = tb.axi.hold(lambda a: a.source == "dma" and a.addr == pa and not a.write)
        rd = tb.threads[0].issue(False, pasid, p_va)
        await hold.wait()
        addr, s = encode_range(target, 4096)
        h = await tb.inv.request(addr, s, pasid=pasid)
        await tb.cycles(40)
        early = h.complete is not None
        hold.release()
        r = await rd.wait()
        await h.wait()
        results[name] = (early, h.complete - h.accept, r.mem.done)
        waited = h.complete > r.mem.done
        if name == "own page" and not waited:
            tb.fail(f"{name}: completion @{h.complete} before the access's response @{r.mem.done}")
        if name == "other page" and exact and (not early or waited):
            tb.fail(f"{name}: exact drain, yet the completion (@{h.complete}) waited for the access "
                    f"answered @{r.mem.done}")
        if name == "other page" and not exact and not waited:
            tb.fail(f"{name}: conservative drain, yet the completion @{h.complete} left before the access "
                    f"answered @{r.mem.done}")
        sp.map(target, host.data_pa())  # remapped: the next round walks again
        await tb.read(1, pasid, target)
        await tb.cycles(5)
    tb.log("exact=%d: %s", exact, results)
    tb.check_protocol()
