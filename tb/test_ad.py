"""Accessed and dirty bits set by the walker (cocotb module).

The walker sets A in every paging-structure entry it uses and D in the leaf
of a write walk, with an AXI exclusive read and exclusive write of the entry
(docs/ARCHITECTURE.md section 3). The AXI slave serves the exclusive accesses
from the PhysMem's own monitor, so a store the test makes to a PTE between
the walker's exclusive read and its exclusive write (the "CPU") loses the
walker's reservation. Cases:

* `ad_levels`: A set at every level of 4K, 2M and 1G walks, D not set by a
  read walk, set by a write walk (leaf only); a write through a clean read
  translation cached in the ATC walks again and sets D; a write through a
  dirty one hits the ATC; entries already A/D are never written.
* `ad_cpu_race`: a CPU store between the exclusive read and write: the
  write fails (OKAY), the walker reads the entry again and decides it afresh,
  so the CPU's update is never lost: an extra software bit, the same value
  again, a new frame (the walk goes to the new frame), P cleared
  (NOT_PRESENT, nothing written), RW cleared under a write walk
  (WRITE_PROTECT, nothing written).
* `ad_bus_errors`: SLVERR/DECERR on the exclusive read of an entry that needs
  an update, on the A/D write, and on the re-read after a lost reservation:
  FAULT BUS_WALK, the entry unchanged, the next command works.
* `ad_retry_exhaustion`: the CPU stores to the PTE after every exclusive read:
  after AdRetries lost reservations the walk faults AD_UPDATE (no A/D lost,
  none set), and the next command works.
* `ad_no_monitor`: a slave without an exclusive monitor (OKAY on exclusive
  reads) makes an update impossible to do atomically: FAULT AD_UPDATE with no
  write issued; walks that need no update work.
* `ad_unanswered`: the B response of an A/D write is held for 3000 cycles,
  less than AxiTimeout (4096): the command stays pending, other walks go on
  meanwhile, and when the response is released the walk completes. Held past
  AxiTimeout it ends in FAULT BUS_TIMEOUT (tb/test_axi_timeout.py,
  `ad_write_unanswered`).
"""
from __future__ import annotations

import random

import cocotb

from model.ats import Fault
from model.pagetable import A, D, RW, SIZE_1G, SIZE_2M, SIZE_4K, SIZE_LEVEL, AD_RETRIES, va_of
from tb.atsbench import TB, Host, rtl_params
from tb.axi_mem import Resp

PASID = 0x5A
SW_BIT = 1 << 9  # an ignored ("available") bit the kernel uses for software state


class Bench:
    def __init__(self, dut, name: str, **axi):
        self.rng = random.Random(cocotb.RANDOM_SEED)
        self.host = Host(pa_bits=rtl_params()["PaWidth"])
        self.sp = self.host.new_space(PASID)
        self.tb = TB(dut, self.host.mem, test_name=name,
                     axi=dict(latency=(1, 6), stall_prob=0.1, reorder=True, **axi))
        self.n = 0
        self.retries = rtl_params().get("AdRetries", AD_RETRIES)

    async def start(self) -> None:
        await self.tb.start(pasid_tbl_base=self.host.pasid_tbl_base, budget=400_000)

    def fresh(self, size: int = SIZE_4K, clear: bool = True) -> tuple[int, list[int]]:
        """Map a new page under its own PML4E (no PWC hit); with `clear`, A and D cleared at
        every level. Returns (VA of a qword in it, entry PAs PML4E..leaf)."""
        self.n += 1
        va = va_of(self.n + 1, 1, 1, 1) & ~(size - 1)
        self.sp.map(va, self.host.data_pa(size), size)
        path = [self.sp.entry(va, lv)[0] for lv in range(1, SIZE_LEVEL[size] + 1)]
        if clear:
            for epa in path:
                self.host.mem.write64(epa, self.host.mem.read64(epa) & ~(A | D))
        return va + self.rng.randrange(size // 8) * 8, path

    def values(self, path: list[int]) -> list[int]:
        return [self.host.mem.read64(e) for e in path]

    def walk_writes(self, first: int, last: int | None = None) -> list:
        return [a for a in self.tb.axi.log + self.tb.axi.inflight
                if a.source == "walk" and a.write and a.accept >= first and (last is None or a.accept <= last)]

    async def access(self, write: bool, va: int, thread: int = 0, data: int = 0x1234_5678):
        return await self.tb.threads[thread].access(write, PASID, va, data)

    def expect(self, cond: bool, msg: str) -> None:
        if not cond:
            self.tb.fail(msg)


def fmt(vals: list[int]) -> str:
    return "[" + ", ".join(f"{v:#x}" for v in vals) + "]"


@cocotb.test()
async def ad_levels(dut):
    b = Bench(dut, "ad_levels")
    await b.start()
    for size in (SIZE_4K, SIZE_2M, SIZE_1G):
        va, path = b.fresh(size)
        before = b.values(path)
        exp = b.host.golden(PASID, va, False)
        c0 = b.tb.now
        r = await b.access(False, va)
        b.expect(not r.fault and r.pa == exp.pa, f"{size:#x} read: {r}, expected pa {exp.pa:#x}")
        after = b.values(path)
        want = [v | A for v in before]
        b.expect(after == want, f"{size:#x} read walk: entries {fmt(after)}, expected A on every level {fmt(want)}")
        ws = b.walk_writes(c0)
        b.expect(len(ws) == len(path) and all(a.lock and a.resp == Resp.EXOKAY for a in ws),
                 f"{size:#x} read walk: expected one exclusive EXOKAY write per level, saw {[str(a) for a in ws]}")
        rd = [a for a in b.tb.walk_reads(c0, r.cycle) if a.addr in path]
        b.expect(all(a.lock for a in rd), f"entry reads not exclusive: {[str(a) for a in rd]}")
        # a write through the clean (read) translation must not use the ATC: it walks and sets D
        c1 = b.tb.now
        r = await b.access(True, va, thread=1)
        b.expect(not r.fault and not r.atc_hit, f"{size:#x} write after read: {r} (must walk again: leaf clean)")
        after = b.values(path)
        want[-1] |= D
        b.expect(after == want, f"{size:#x} write walk: entries {fmt(after)}, expected D on the leaf only {fmt(want)}")
        ws = b.walk_writes(c1)
        b.expect([a.addr for a in ws] == [path[-1]] and ws[0].data == want[-1],
                 f"{size:#x} write walk: expected one write of {want[-1]:#x} to the leaf, saw {[str(a) for a in ws]}")
        # now dirty: a write hits the ATC, and nothing is written
        c2 = b.tb.now
        r = await b.access(True, va, thread=2)
        b.expect(not r.fault and r.atc_hit and not b.walk_writes(c2), f"{size:#x} write on a dirty entry: {r}")
    # a leaf already dirty: a read walk caches it writable, the write hits the ATC; no entry written
    va, path = b.fresh(SIZE_4K, clear=False)
    c0 = b.tb.now
    r = await b.access(False, va)
    r2 = await b.access(True, va, thread=3)
    b.expect(not r.fault and not r2.fault and r2.atc_hit, f"dirty leaf: read {r}, then write {r2} (ATC hit expected)")
    b.expect(not b.walk_writes(c0), f"A/D already set, yet the walker wrote {[str(a) for a in b.walk_writes(c0)]}")
    # a write walk on a fully clean path sets A everywhere and D on the leaf in one walk
    va, path = b.fresh(SIZE_2M)
    before = b.values(path)
    r = await b.access(True, va)
    want = [v | A for v in before]
    want[-1] |= D
    b.expect(not r.fault and b.values(path) == want, f"write walk on a clean path: {r}, entries {fmt(b.values(path))}, "
             f"expected {fmt(want)}")
    await b.tb.drain()
    b.tb.check_protocol()


@cocotb.test()
async def ad_cpu_race(dut):
    b = Bench(dut, "ad_cpu_race")
    await b.start()
    mem = b.host.mem

    for kind in ("swbit", "same", "newframe", "unmap", "readonly"):
        write = kind == "readonly"
        va, path = b.fresh(SIZE_4K)
        pte = path[-1]
        new_pa = b.host.data_pa()
        # upper levels already accessed: only the PTE needs an update
        for e in path[:-1]:
            mem.write64(e, mem.read64(e) | A)
        old = mem.read64(pte)
        cpu = {"swbit": old | SW_BIT, "same": old, "newframe": (old & ~0xFFFF_FFFF_F000) | new_pa,
               "unmap": 0, "readonly": old & ~RW}[kind]
        fired = []

        def hook(a, pte=pte, cpu=cpu, fired=fired):
            # right after the walker's first exclusive read of the PTE: the CPU stores to it
            if a.source == "walk" and not a.write and a.lock and a.addr == pte and not fired:
                fired.append(a)
                mem.write64(pte, cpu)

        b.tb.axi.accept_hooks.append(hook)
        c0 = b.tb.now
        r = await b.access(write, va)
        b.tb.axi.accept_hooks.remove(hook)
        ws = b.walk_writes(c0)
        lost = [a for a in ws if a.resp == Resp.OKAY]
        final = mem.read64(pte)
        what = f"{kind}: CPU stored {cpu:#x} over {old:#x} between the exclusive read and write"
        b.expect(bool(fired), f"{kind}: the walker never read the PTE exclusively")
        if kind in ("unmap", "readonly"):
            # the entry changed under the walk: it faults on the new value and sets nothing in it
            want_fault = Fault.NOT_PRESENT if kind == "unmap" else Fault.WRITE_PROTECT
            b.expect(r.fault and r.cause == want_fault, f"{what}: expected FAULT {want_fault.name}, got {r}")
            b.expect(final == cpu, f"{what}: PTE now {final:#x}: the walker wrote into an entry it did not translate")
            b.expect(len(lost) == 1 and len(ws) == 1, f"{what}: expected one failed write, saw {[str(a) for a in ws]}")
        else:
            want = cpu | A
            exp_pa = (new_pa if kind == "newframe" else old & 0xFFFF_FFFF_F000) | (va & 0xFFF)
            b.expect(not r.fault and r.pa == exp_pa, f"{what}: {r}, expected pa {exp_pa:#x}")
            b.expect(final == want, f"{what}: PTE now {final:#x}, expected the CPU's value with A: {want:#x}")
            b.expect(len(lost) == 1 and ws[-1].resp == Resp.EXOKAY and ws[-1].data == want,
                     f"{what}: expected a failed write, then {want:#x} with EXOKAY: {[str(a) for a in ws]}")
    await b.tb.drain()
    b.tb.check_protocol()


@cocotb.test()
async def ad_bus_errors(dut):
    b = Bench(dut, "ad_bus_errors")
    await b.start()
    mem = b.host.mem
    for resp in (Resp.SLVERR, Resp.DECERR):
        for where in ("read", "write", "reread"):
            for write in (False, True):
                va, path = b.fresh(SIZE_4K)
                pte = path[-1]
                for e in path[:-1]:
                    mem.write64(e, mem.read64(e) | A)
                old = mem.read64(pte)
                hook = None
                if where == "read":
                    err = b.tb.axi.inject_error(pte, resp=resp, reads=True, writes=False, source="walk", count=1)
                elif where == "write":
                    err = b.tb.axi.inject_error(pte, resp=resp, reads=False, writes=True, source="walk", count=1)
                else:
                    # lose the reservation once, then the re-read errors
                    err = None
                    state = {"n": 0}

                    def reread_hook(a, pte=pte, state=state):
                        if a.source == "walk" and not a.write and a.lock and a.addr == pte:
                            state["n"] += 1
                            if state["n"] == 1:
                                mem.write64(pte, mem.read64(pte) | SW_BIT)
                                b.tb.axi.inject_error(pte, resp=resp, reads=True, writes=False, source="walk",
                                                      count=1)
                    hook = reread_hook
                    b.tb.axi.accept_hooks.append(hook)
                what = f"{resp.name} on the A/D {where} ({'write' if write else 'read'} command)"
                r = await b.access(write, va, data=0x55)
                if hook is not None:
                    b.tb.axi.accept_hooks.remove(hook)
                b.expect(err is None or err.hits == 1, f"{what}: the error was never hit: {r}")
                b.expect(r.fault and r.cause == Fault.BUS_WALK and r.pa == 0 and r.rdata == 0,
                         f"{what}: expected FAULT BUS_WALK (pa 0, rdata 0), got {r}")
                now = mem.read64(pte)
                want = old | SW_BIT if where == "reread" else old
                b.expect(now == want, f"{what}: PTE {now:#x}, expected it unchanged at {want:#x}")
                # the next command works and sets the bits
                r2 = await b.access(write, va, thread=1, data=0x66)
                want |= A | (D if write else 0)
                b.expect(not r2.fault and mem.read64(pte) == want,
                         f"{what}: next command {r2}, PTE {mem.read64(pte):#x}, expected {want:#x}")
    await b.tb.drain()
    b.tb.check_protocol()


@cocotb.test()
async def ad_retry_exhaustion(dut):
    b = Bench(dut, "ad_retry_exhaustion")
    await b.start()
    mem = b.host.mem
    for write in (False, True):
        va, path = b.fresh(SIZE_4K)
        pte = path[-1]
        for e in path[:-1]:
            mem.write64(e, mem.read64(e) | A)
        stores = []

        def hook(a, pte=pte, stores=stores):
            # the CPU stores to the PTE after every exclusive read of it (a new software-bit value each time)
            if a.source == "walk" and not a.write and a.lock and a.addr == pte:
                v = (mem.read64(pte) & ~(7 << 9)) | ((len(stores) % 7 + 1) << 9)
                stores.append(v)
                mem.write64(pte, v)

        b.tb.axi.accept_hooks.append(hook)
        c0 = b.tb.now
        r = await b.access(write, va)
        b.tb.axi.accept_hooks.remove(hook)
        ws = b.walk_writes(c0)
        what = f"{'write' if write else 'read'} command, every reservation lost"
        b.expect(r.fault and r.cause == Fault.AD_UPDATE and r.pa == 0, f"{what}: expected FAULT AD_UPDATE, got {r}")
        b.expect(len(ws) == b.retries and all(a.resp == Resp.OKAY for a in ws),
                 f"{what}: expected {b.retries} failed exclusive writes, saw {[str(a) for a in ws]}")
        b.expect(mem.read64(pte) == stores[-1], f"{what}: PTE {mem.read64(pte):#x}, the CPU's last store was "
                 f"{stores[-1]:#x}")
        r2 = await b.access(write, va, thread=1)
        b.expect(not r2.fault and mem.read64(pte) == stores[-1] | A | (D if write else 0),
                 f"{what}: next command {r2}, PTE {mem.read64(pte):#x}")
    await b.tb.drain()
    b.tb.check_protocol()


@cocotb.test()
async def ad_no_monitor(dut):
    b = Bench(dut, "ad_no_monitor", exclusive=False)
    await b.start()
    mem = b.host.mem
    va, path = b.fresh(SIZE_4K)
    before = b.values(path)
    c0 = b.tb.now
    r = await b.access(False, va)
    b.expect(r.fault and r.cause == Fault.AD_UPDATE, f"no exclusive monitor: expected FAULT AD_UPDATE, got {r}")
    b.expect(not b.walk_writes(c0) and b.values(path) == before,
             f"no exclusive monitor: the walker wrote {[str(a) for a in b.walk_writes(c0)]}")
    va2, path2 = b.fresh(SIZE_4K, clear=False)
    r = await b.access(True, va2, thread=1)
    b.expect(not r.fault, f"no exclusive monitor, nothing to update: {r}")
    for e in path:  # the host sets the bits itself: the walk works
        mem.write64(e, mem.read64(e) | A | D)
    r = await b.access(True, va, thread=2)
    b.expect(not r.fault and not b.walk_writes(c0), f"no exclusive monitor, bits set by the host: {r}")
    await b.tb.drain()
    b.tb.check_protocol()


@cocotb.test()
async def ad_unanswered(dut):
    b = Bench(dut, "ad_unanswered")
    await b.start()
    va, path = b.fresh(SIZE_4K)
    before = b.values(path)
    hold = b.tb.axi.hold(lambda a: a.source == "walk" and a.write, count=1)
    task = cocotb.start_soon(b.access(True, va))
    await hold.wait()
    held = hold.matched[0]
    # the other walk slot and the ATC keep working while this walk waits for its B
    other, _ = b.fresh(SIZE_4K, clear=False)
    for t in (1, 2):
        r = await b.access(t == 2, other, thread=t)
        b.expect(not r.fault, f"thread {t} while an A/D write is unanswered: {r}")
    await b.tb.cycles(3000)
    b.expect(not task.done(), "the command whose A/D write is unanswered got a response")
    b.expect(held.done is None, f"held write answered: {held}")
    hold.release()
    r = await task
    want = [v | A for v in before]
    want[-1] |= D
    b.expect(not r.fault and b.values(path) == want, f"after the release: {r}, entries {fmt(b.values(path))}")
    await b.tb.drain()
    b.tb.check_protocol()
