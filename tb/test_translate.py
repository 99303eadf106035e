"""Translation against the golden walk on random page tables (cocotb module).

Random address spaces (model.pagetable.random_space: mixed 4K/2M/1G leaves,
damage at every level: not present, read-only, supervisor-only, reserved
bits, ignored bits, PS on a table pointer) for several PASIDs, plus PASIDs
whose table entry is not present and one whose entry carries ignored bits.
Every device thread runs its own random command stream (reads and writes,
canonical, non-canonical and misaligned VAs, a hot set for ATC hits) while
the AXI slave adds random latency, back-pressure and reordering across IDs.

Every response is compared with `model.pagetable.translate` (fault cause,
PA, read data), every DMA access seen on AXI is matched to its command
(address, direction, data; none for a fault), writes are checked in memory.

Environment: ATS_NACC (accesses per run, default 10000).
"""
from __future__ import annotations

import os
import random

import cocotb

from model.ats import Fault
from model.pagetable import P, random_space
from tb.atsbench import TB, Host, rtl_params
from tb.axi_mem import fast


class Scoreboard:
    """Checks responses and DMA traffic against the golden model."""

    def __init__(self, tb: TB, host: Host):
        self.tb = tb
        self.host = host
        self.shadow: dict[int, int] = {}       # PA (8-aligned) -> value the host expects there
        self.busy_pa: set[int] = set()          # PAs with a command in flight (no aliasing races)
        self.dma: dict[int, list] = {t: [] for t in range(tb.num_threads)}  # per thread, AXI DMA accesses
        self.counts: dict[str, int] = {}
        self.hits = 0
        tb.axi.accept_hooks.append(self._on_axi)

    def _on_axi(self, a) -> None:
        if a.source == "dma":
            if self.host.is_table_pa(a.addr) and a.write:
                self.tb.fail(f"DMA write to page-table memory: {a}")
            self.dma[a.tag].append(a)

    def value_at(self, pa: int, rng: random.Random) -> int:
        if pa not in self.shadow:
            v = rng.getrandbits(64)
            self.host.mem.write64(pa, v)
            self.shadow[pa] = v
        return self.shadow[pa]

    def check(self, r, exp, write: bool, wdata: int, expect_rdata: int | None) -> None:
        c = r.cmd
        what = (f"thread {r.thread} {'WRITE' if write else 'READ'} pasid {c.pasid:#x} va {c.va:#x}"
                f" issued @{c.issue} answered @{r.cycle}")
        fault_exp = exp.fault != Fault.NONE
        name = Fault(exp.fault).name
        self.counts[name] = self.counts.get(name, 0) + 1
        if r.fault != fault_exp or r.cause != int(exp.fault):
            self.tb.fail(f"{what}: got fault={int(r.fault)} cause={r.cause}, expected cause {int(exp.fault)} "
                         f"({name}, decided at level {exp.level}, reads {[hex(x) for x in exp.reads]})")
        dma = self.dma[r.thread]
        if fault_exp:
            if r.pa != 0 or r.rdata != 0:
                self.tb.fail(f"{what}: fault response with pa {r.pa:#x} rdata {r.rdata:#x} (both must be 0)")
            if dma:
                self.tb.fail(f"{what}: faulting command made DMA access(es) {[str(a) for a in dma]}")
            return
        if r.atc_hit:
            self.hits += 1
        if r.pa != exp.pa:
            self.tb.fail(f"{what}: pa {r.pa:#x}, expected {exp.pa:#x} (page size {exp.page_size:#x})")
        if len(dma) != 1:
            self.tb.fail(f"{what}: expected exactly one DMA access, saw {[str(a) for a in dma]}")
        a = dma.pop()
        if a.addr != exp.pa or a.write != write:
            self.tb.fail(f"{what}: DMA access {a} does not match pa {exp.pa:#x}")
        if write:
            if a.data != wdata or a.strb != 0xFF:
                self.tb.fail(f"{what}: DMA wrote {a.data:#x} strb {a.strb:#x}, command data {wdata:#x}")
            got = self.host.mem.read64(exp.pa)
            if got != wdata:
                self.tb.fail(f"{what}: memory at {exp.pa:#x} holds {got:#x} after the write of {wdata:#x}")
            if r.rdata != 0:
                self.tb.fail(f"{what}: write response carries rdata {r.rdata:#x}")
            self.shadow[exp.pa] = wdata
        elif r.rdata != expect_rdata:
            self.tb.fail(f"{what}: read data {r.rdata:#x}, memory holds {expect_rdata:#x}")


def build_world(rng: random.Random, pa_bits: int):
    host = Host(pa_bits=pa_bits)
    probes: list[tuple[int, int]] = []       # (pasid, va)
    pasids = rng.sample(range(1, 1024), 9)
    for p in pasids[:6]:
        pt, vas = random_space(host.mem, host.frames, rng, 24, damage=0.35, regions=2)
        host.bind(p, pt)
        probes += [(p, va) for va in vas]
    # PASID entry with ignored bits set (bits 11:1 and 63:PaWidth)
    p = pasids[6]
    pt, vas = random_space(host.mem, host.frames, rng, 8, damage=0.0, regions=1, noncanonical=False)
    host.bind(p, pt)
    host.mem.write64(host.pasids.entry_pa(p), pt.root_pa | P | 0x0FFE | (0x7FFF << pa_bits))
    probes += [(p, va) for va in vas]
    # PASIDs not present: a cleared entry, and an entry with P=0 but a valid-looking root
    for p in pasids[7:]:
        host.mem.write64(host.pasids.entry_pa(p), 0 if p == pasids[7] else pt.root_pa)
        probes += [(p, va) for va in vas[:4]]
    # misaligned variants
    for _ in range(len(probes) // 12):
        p, va = rng.choice(probes)
        probes.append((p, va | rng.randrange(1, 8)))
    return host, probes


@cocotb.test()
async def random_translation(dut):
    """>= 10,000 random accesses over several threads and PASIDs, checked against the golden walk."""
    nacc = int(os.environ.get("ATS_NACC", "10000"))
    seed = cocotb.RANDOM_SEED
    rng = random.Random(seed)
    params = rtl_params()
    host, probes = build_world(rng, params["PaWidth"])
    # ATS_KEEP_SUP=1: the walker keeps U/S-clear entries and decides U/S at the leaf (pwc_keep_sup_i);
    # the damaged supervisor entries of random_space then stay in the PWC and the golden walk follows
    host.keep_sup = os.environ.get("ATS_KEEP_SUP") == "1"
    tb = TB(dut, host.mem, seed=seed, test_name="random_translation",
            axi=dict(latency=(1, 14), stall_prob=0.15, stall=(1, 3), reorder=True), rsp_stall_prob=0.05)
    sb = Scoreboard(tb, host)
    await tb.start(pasid_tbl_base=host.pasid_tbl_base, budget=400 * nacc)
    fast(dut, "pwc_keep_sup_i").set(int(host.keep_sup))
    per_thread = (nacc + tb.num_threads - 1) // tb.num_threads

    async def worker(t: int) -> None:
        wrng = random.Random(rng.getrandbits(64))
        hot: list[tuple[int, int]] = []
        for _ in range(per_thread):
            for _try in range(20):
                if hot and wrng.random() < 0.6:
                    pasid, va = wrng.choice(hot)
                    # another word of the same page: still an ATC hit
                    if wrng.random() < 0.5 and not va & 7:
                        va = (va & ~0xFFF) | (wrng.randrange(512) * 8)
                else:
                    pasid, va = wrng.choice(probes)
                write = wrng.random() < 0.35
                exp = host.golden(pasid, va, write)
                if exp.fault != Fault.NONE or exp.pa not in sb.busy_pa:
                    break
            else:
                await tb.cycles(5)
                continue
            if exp.fault == Fault.NONE:
                hot.append((pasid, va))
                if len(hot) > 6:
                    hot.pop(0)
                sb.busy_pa.add(exp.pa)
            wdata = wrng.getrandbits(64) if write else 0
            expect_rdata = sb.value_at(exp.pa, wrng) if exp.fault == Fault.NONE and not write else None
            r = await tb.threads[t].access(write, pasid, va, wdata)
            sb.busy_pa.discard(exp.pa)
            sb.check(r, exp, write, wdata, expect_rdata)

    tasks = [cocotb.start_soon(worker(t)) for t in range(tb.num_threads)]
    for t in tasks:
        await t
    await tb.drain()
    tb.check_protocol()
    total = sum(sb.counts.values())
    tb.log("%d accesses in %d cycles; ATC hits %d; outcomes %s; AXI reads %d writes %d",
           total, tb.now, sb.hits, dict(sorted(sb.counts.items())), tb.axi.count_reads, tb.axi.count_writes)
    assert total >= nacc
    # the stimulus must have reached every fault class it is meant to cover
    for need in ("NONE", "NOT_PRESENT", "WRITE_PROTECT", "SUPERVISOR", "RESERVED", "PASID", "NONCANONICAL",
                 "MISALIGNED"):
        assert sb.counts.get(need, 0) > 0, f"stimulus never produced {need}: {sb.counts}"
    assert sb.hits > nacc // 10, f"only {sb.hits} ATC hits: the hot set does not work"
