"""AXI error responses (cocotb module).

SLVERR and DECERR on the walker read of every level (PASID entry, PML4E,
PDPTE, PDE, PTE) end the command with FAULT BUS_WALK (pa 0, rdata 0); on the
DMA read or write with FAULT BUS_DATA (pa = the translated PA, rdata 0; an
errored write leaves memory unchanged). Each time the next command works:
the same access again is translated (walked again: a failed walk must not be
cached) and performed normally, on every thread. Errors are injected by PA
range in the AXI slave, once each.
"""
from __future__ import annotations

import random

import cocotb

from model.ats import Fault
from model.pagetable import SIZE_1G, SIZE_2M
from tb.atsbench import TB, Host, rtl_params
from tb.axi_mem import Resp

LEVELS = ["PASID entry", "PML4E", "PDPTE", "PDE", "PTE"]


async def check_ok(tb: TB, host: Host, thread: int, pasid: int, va: int, write: bool, rng: random.Random, what: str):
    exp = host.golden(pasid, va, write)
    data = rng.getrandbits(64)
    if not write:
        host.mem.write64(exp.pa, data)
    r = await tb.threads[thread].access(write, pasid, va, data)
    if r.fault or r.pa != exp.pa or (not write and r.rdata != data) or (write and host.mem.read64(exp.pa) != data):
        tb.fail(f"{what}: the next command failed: {r} (expected pa {exp.pa:#x})")
    return r


@cocotb.test()
async def axi_errors(dut):
    """SLVERR/DECERR at every walk level and on DMA reads/writes; the next command still works."""
    rng = random.Random(cocotb.RANDOM_SEED)
    host = Host(pa_bits=rtl_params()["PaWidth"])
    pasid = 0x77
    sp = host.new_space(pasid)
    tb = TB(dut, host.mem, test_name="axi_errors", axi=dict(latency=(1, 6), stall_prob=0.1, reorder=True))
    await tb.start(pasid_tbl_base=host.pasid_tbl_base, budget=200_000)
    n = 0
    sizes = [4096, SIZE_2M, SIZE_1G]
    for resp in (Resp.SLVERR, Resp.DECERR):
        for level in range(5):
            for write in (False, True):
                # a leaf deep enough for the walk to reach this level
                size = rng.choice(sizes[:{4: 1, 3: 2}.get(level, 3)])
                va = (0x2000_0000_0000 + n * SIZE_1G * 2) + rng.randrange(size // 8) * 8
                base = va & ~(size - 1)
                sp.map(base, host.data_pa(size), size)
                exp = host.golden(pasid, va, write)
                if level >= len(exp.reads):
                    continue
                thread = n % tb.num_threads
                # any invalidation flushes the page-walk cache: the walk reads every level
                await tb.inv.invalidate(0x7_0000, pasid=0x1234)
                err = tb.axi.inject_error(exp.reads[level], resp=resp, reads=True, writes=False,
                                          source="walk", count=1)
                what = f"{resp.name} on the {LEVELS[level]} read ({'write' if write else 'read'} command, page {size:#x})"
                r = await tb.threads[thread].access(write, pasid, va, 0x1234)
                if err.hits != 1:
                    tb.fail(f"{what}: the walker never read {exp.reads[level]:#x}: {r}")
                if not r.fault or r.cause != Fault.BUS_WALK or r.pa != 0 or r.rdata != 0:
                    tb.fail(f"{what}: expected FAULT BUS_WALK with pa 0 and rdata 0, got {r}")
                deeper = [a for a in tb.walk_reads(r.cmd.issue, r.cycle) if a.addr in exp.reads[level + 1:]]
                if deeper:
                    tb.log("note: %s: the walk went on reading %s after the error", what,
                           [hex(a.addr) for a in deeper])
                # the next command (same access, other threads too) works: walked again, not cached
                c0 = tb.now
                r2 = await check_ok(tb, host, thread, pasid, va, write, rng, what)
                if r2.atc_hit or not tb.walk_reads(c0, r2.cycle):
                    tb.fail(f"{what}: the retry hit the ATC without a walk: a failed walk was cached ({r2})")
                await check_ok(tb, host, (thread + 1) % tb.num_threads, pasid, va, not write, rng, what)
                n += 1
        for write in (False, True):
            for hit in (False, True):
                va = 0x3000_0000_0000 + n * 0x10_0000 + rng.randrange(512) * 8
                sp.map(va & ~0xFFF, host.data_pa())
                thread = n % tb.num_threads
                if hit:
                    await check_ok(tb, host, thread, pasid, va, False, rng, "warm-up")
                exp = host.golden(pasid, va, write)
                before = rng.getrandbits(64)
                host.mem.write64(exp.pa, before)
                tb.axi.inject_error(exp.pa, resp=resp, reads=not write, writes=write, source="dma", count=1)
                what = (f"{resp.name} on the DMA {'write' if write else 'read'} "
                        f"({'ATC hit' if hit else 'after a walk'})")
                r = await tb.threads[thread].access(write, pasid, va, 0xDEAD_BEEF)
                if not r.fault or r.cause != Fault.BUS_DATA or r.rdata != 0 or r.pa != exp.pa:
                    tb.fail(f"{what}: expected FAULT BUS_DATA with pa {exp.pa:#x} and rdata 0, got {r}")
                if host.mem.read64(exp.pa) != before:
                    tb.fail(f"{what}: memory changed by an errored access")
                await check_ok(tb, host, thread, pasid, va, write, rng, what)
                await check_ok(tb, host, (thread + 1) % tb.num_threads, pasid, va, not write, rng, what)
                n += 1
    await tb.drain()
    tb.check_protocol()
    tb.log("%d error cases checked", n)
