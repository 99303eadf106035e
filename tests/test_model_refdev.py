"""Reference device: timing and rules checked against hand-computed cycle numbers.

Default RefConfig latencies: lookup 1, walker read performed 6 after issue
and its data back 2 later, DMA 8, response 2, fault 1, invalidation apply 1,
completion 1. A cold 4 KiB access submitted at cycle 0 therefore goes:
lookup @1, walker reads performed at memory: PASID entry @7, PML4E @15,
PDPTE @23, PDE @31, PTE @39; PTE data back @41 (walk done), DMA at memory
@49, response @51.
"""
import random

import pytest

from model.ats import Fault, InvalidateRequest, encode_range
from model.device import DevCommand, DevResponse, Device, run_sync
from model.frames import FrameAllocator
from model.memory import PhysMem
from model.pagetable import SIZE_1G, SIZE_2M, PageTables, make_pte, random_space, translate
from model.pasid import PasidTable
from model.refdev import RefConfig, RefDevice
from model.trace import DevAccess, InvCpl, InvReq, MemAccess, Trace

PTBL = 0x10000
PASID = 1
VA = 0x4000_0000  # PML4 0, PDPT 1, PD 0, PT 0
DATA = 0x80_0000_0000  # data pages live far above the frame pool


class Env:
    def __init__(self, **cfg):
        self.mem = PhysMem()
        self.frames = FrameAllocator(self.mem, 0x100, 256)
        self.pt = PageTables(self.mem, self.frames)
        self.pasids = PasidTable(self.mem, PTBL)
        self.pasids.set(PASID, self.pt.root_pa)
        self.trace = Trace()
        self.dev = RefDevice(self.mem, PTBL, self.trace, RefConfig(**cfg))

    def run(self, n):
        run_sync(self.dev.run(n))

    def settle(self):
        run_sync(self.dev.run_until_idle())

    def access(self, va, write=False, wdata=0, thread=0, pasid=PASID) -> DevResponse:
        self.dev.submit(DevCommand(thread, write, pasid, va, wdata))
        self.settle()
        (rsp,) = self.dev.take_responses()
        return rsp

    def inv(self, va, size=4096, itag=0, pasid=PASID):
        addr, s = encode_range(va, size)
        self.dev.invalidate(InvalidateRequest(itag=itag, addr=addr, s=s, pasid=pasid))


def test_is_a_device():
    assert isinstance(Env().dev, Device)


def test_cold_miss_then_hit_timing_and_trace():
    e = Env()
    e.pt.map(VA, DATA)
    e.mem.write64(DATA + 0x18, 0x1122334455667788)
    r = e.access(VA + 0x18)
    assert r == DevResponse(thread=0, fault=0, rdata=0x1122334455667788, pa=DATA + 0x18, atc_hit=False,
                            issue=0, complete=51, mem_time=49)
    walk_reads = [(m.time, m.pa) for m in e.trace.of(MemAccess) if m.source == "walk"]
    root = e.pt.root_pa
    pdpt = e.mem.read64(root) & ~0xFFF
    pd = e.mem.read64(pdpt + 8) & ~0xFFF
    pt = e.mem.read64(pd) & ~0xFFF
    assert walk_reads == [(7, PTBL + 8), (15, root), (23, pdpt + 8), (31, pd), (39, pt)]
    assert [m for m in e.trace.of(MemAccess) if m.source == "dma"] == [
        MemAccess(49, "dma", DATA + 0x18, False, 0x1122334455667788, tag=0)]
    assert e.trace.of(DevAccess) == [DevAccess(0, False, PASID, VA + 0x18, DATA + 0x18, 0x1122334455667788,
                                               0, 51, 0, False, 49)]
    assert e.dev.now == 52 and e.dev.thread_idle(0)
    # hit: lookup @53, memory @61, response @63; no walker read
    r = e.access(VA + 0xFF8, thread=2)
    assert (r.atc_hit, r.pa, r.issue, r.mem_time, r.complete, r.thread) == (True, DATA + 0xFF8, 52, 61, 63, 2)
    assert sum(m.source == "walk" for m in e.trace.of(MemAccess)) == 5


def test_write_lands_at_mem_time_not_before():
    e = Env()
    e.pt.map(VA, DATA)
    e.dev.submit(DevCommand(1, True, PASID, VA + 8, 0xABCD))
    e.run(49)  # cycles 0..48
    assert e.mem.read64(DATA + 8) == 0
    e.run(1)  # cycle 49
    assert e.mem.read64(DATA + 8) == 0xABCD
    assert not e.dev.thread_idle(1)
    e.run(2)
    (r,) = e.dev.take_responses()
    assert (r.rdata, r.mem_time, r.complete) == (0, 49, 51)
    assert e.trace.of(DevAccess)[0].value == 0xABCD


def test_write_hit_on_read_only_entry_rewalks():
    e = Env()
    e.pt.map(VA, DATA, writable=False)
    assert e.access(VA).atc_hit is False
    assert e.access(VA).atc_hit is True  # cached read-only
    w = e.access(VA, write=True, wdata=5)
    assert (w.fault, w.atc_hit, w.pa, w.mem_time) == (Fault.WRITE_PROTECT, False, 0, None)
    assert e.mem.read64(DATA) == 0
    # host upgrades the PTE (no invalidation needed for an upgrade): the re-walk sees it
    e.pt.set_leaf(VA, make_pte(DATA))
    w = e.access(VA, write=True, wdata=5)
    assert (w.fault, w.atc_hit, w.pa) == (0, False, DATA)
    assert e.mem.read64(DATA) == 5
    assert e.access(VA, write=True, wdata=6).atc_hit is True


def test_fault_causes_and_their_timing():
    e = Env()
    e.pt.map(VA, DATA, user=False)
    # misaligned is decided at lookup (@1), response @2, before the canonical check
    r = e.access((1 << 47) | 4)
    assert (r.fault, r.issue, r.complete, r.mem_time, r.pa) == (Fault.MISALIGNED, 0, 2, None, 0)
    t = e.dev.now
    r = e.access(1 << 47)
    assert (r.fault, r.complete - t) == (Fault.NONCANONICAL, 2)
    t = e.dev.now
    r = e.access(VA, pasid=7)  # PASID entry read @+7, back @+9, response @+10
    assert (r.fault, r.complete - t) == (Fault.PASID, 10)
    assert e.access(VA).fault == Fault.SUPERVISOR
    assert e.access(VA + SIZE_1G).fault == Fault.NOT_PRESENT
    e.pt.set_leaf(VA + 0x1000, make_pte(DATA) | (1 << 50))
    assert e.access(VA + 0x1000).fault == Fault.RESERVED
    faults = [d.fault for d in e.trace.of(DevAccess)]
    assert faults == [9, 8, 5, 3, 1, 4]
    assert e.dev.atc == []  # faults are never cached


def test_invalidation_drops_matching_entries_only():
    e = Env()
    e.pt.map(VA, DATA)
    e.pt.map(VA + SIZE_2M, DATA + SIZE_2M, SIZE_2M)
    assert e.access(VA).atc_hit is False
    assert e.access(VA + SIZE_2M + 0x1000).atc_hit is False
    assert len(e.dev.atc) == 2
    e.inv(VA, itag=4, pasid=2)  # other PASID: nothing dropped
    e.settle()
    assert e.dev.take_completions() == [4]
    assert e.access(VA).atc_hit is True
    e.inv(VA + SIZE_2M + 0x3000, itag=5)  # one 4 KiB page inside the 2 MiB entry drops it
    e.settle()
    assert e.dev.take_completions() == [5]
    assert e.access(VA).atc_hit is True
    assert e.access(VA + SIZE_2M).atc_hit is False
    t = e.dev.now
    e.dev.invalidate(InvalidateRequest(itag=6, addr=(1 << 51) - 1, s=True, pasid=None))  # everything
    e.settle()
    assert e.dev.atc == []
    # nothing in flight: applied @t+1, completion @t+2
    assert e.trace.of(InvReq)[-1] == InvReq(t, 6, None, 0, 1 << 64)
    assert e.trace.of(InvCpl)[-1] == InvCpl(t + 2, 6)


@pytest.mark.parametrize("split", [False, True])
def test_split_huge_fill_caches_4k_entries_of_a_huge_leaf(split):
    """set_atc_split_huge (the RTL's AtcSplitHuge): a 2 MiB leaf is cached as the
    4 KiB entry of each access (PA = frame + offset); a 4 KiB invalidation at the
    leaf's base leaves the other pages' entries, a 2 MiB one drops them all.
    Without it one 2 MiB entry serves every page and any overlap drops it."""
    e = Env()
    e.dev.set_atc_split_huge(split)
    base = VA + SIZE_2M
    e.pt.map(base, DATA, SIZE_2M)
    pages = [base + 0x3000, base + 0x5000]
    hits = [e.access(va).atc_hit for va in pages] + [e.access(va).atc_hit for va in pages]
    assert hits == ([False, False, True, True] if split else [False, True, True, True])
    assert [(x.vbase, x.size, x.pbase) for x in e.dev.atc] == (
        [(va, 0x1000, DATA + va - base) for va in pages] if split else [(base, SIZE_2M, DATA)])
    e.inv(base, itag=1)  # the 4 KiB page at the base: invalidate_page(mm, address) of a THP
    e.settle()
    assert len(e.dev.atc) == (2 if split else 0)
    e.inv(base, SIZE_2M, itag=2)
    e.settle()
    assert e.dev.atc == []
    assert [e.access(va).atc_hit for va in pages] == [False, not split]


def _poison_setup(invalidate: bool, inv_va: int = VA):
    e = Env()
    e.pt.map(VA, DATA)
    e.mem.write64(DATA + 0x40, 111)
    e.mem.write64(DATA + SIZE_2M * 3 + 0x40, 222)
    e.dev.submit(DevCommand(0, False, PASID, VA + 0x40))
    e.run(36)  # the PDE was read @31 (data back @33); the PTE read is due @39
    # Host collapses the 4 KiB mapping into a 2 MiB page (PMD-level change)
    e.pt.set_entry(VA, 3, make_pte(DATA + SIZE_2M * 3, huge=True))
    if invalidate:
        e.inv(inv_va, SIZE_2M, itag=9)
    e.settle()
    (r,) = e.dev.take_responses()
    return e, r


def test_poison_rule_rewalks_after_overlapping_invalidation():
    e, r = _poison_setup(invalidate=True)
    # invalidation applied @37 poisons the walk; its PTE read @39 (old table)
    # is discarded when the data is back @41; the re-walk reads @47,55,63,71
    # (the PDE is now the 2 MiB leaf, back @73), DMA @81, response @83.
    assert (r.fault, r.pa, r.rdata, r.mem_time, r.complete) == (0, DATA + SIZE_2M * 3 + 0x40, 222, 81, 83)
    walk_times = [m.time for m in e.trace.of(MemAccess) if m.source == "walk"]
    assert walk_times == [7, 15, 23, 31, 39, 47, 55, 63, 71]
    assert e.dev.stats["rewalks"] == 1
    (ent,) = e.dev.atc
    assert (ent.vbase, ent.size, ent.pbase) == (VA, SIZE_2M, DATA + SIZE_2M * 3)
    # the walk was in flight, no DMA was: completion right after apply
    assert e.trace.of(InvCpl) == [InvCpl(38, 9)]


def test_without_invalidation_the_stale_walk_is_used_and_cached():
    e, r = _poison_setup(invalidate=False)
    assert (r.pa, r.rdata, r.complete) == (DATA + 0x40, 111, 51)  # old PT read @39
    assert e.dev.atc[0].size == 4096


def test_invalidation_outside_the_1g_region_does_not_poison():
    e, r = _poison_setup(invalidate=True, inv_va=VA + SIZE_1G)
    assert (r.pa, r.complete) == (DATA + 0x40, 51)
    assert e.dev.stats["rewalks"] == 0


def test_drain_rule_completion_waits_for_dma_in_flight():
    e = Env(dma_latency=30)
    e.pt.map(VA, DATA)
    e.access(VA)  # fill: lookup 1, walk done 41, memory 71, response 73
    assert e.dev.now == 74
    e.dev.submit(DevCommand(0, True, PASID, VA, 0x77))  # hit @75, memory @105
    e.run(2)  # now 76
    e.inv(VA, itag=3)  # applied @77 with the write still in flight
    e.dev.submit(DevCommand(1, False, PASID, VA))  # lookup @77 after the drop: misses
    e.settle()
    rsps = {r.thread: r for r in e.dev.take_responses()}
    assert (rsps[0].atc_hit, rsps[0].mem_time) == (True, 105)
    assert rsps[1].atc_hit is False
    (cpl,) = e.trace.of(InvCpl)
    assert cpl == InvCpl(106, 3)  # last drained DMA @105 + 1
    assert cpl.time > rsps[0].mem_time
    # thread 1's walk (@77..117) and DMA (@147) passed lookup after the apply: not waited for
    assert rsps[1].mem_time == 147 and cpl.time < rsps[1].mem_time
    assert e.dev.take_completions() == [3]


def test_drain_includes_dma_from_a_walk_that_finished_before_apply():
    e = Env()
    e.pt.map(VA, DATA)
    e.dev.submit(DevCommand(0, False, PASID, VA))
    e.run(42)  # walk done @41, DMA due @49
    e.inv(VA, itag=1)  # apply @43
    e.settle()
    assert e.trace.of(InvCpl) == [InvCpl(50, 1)]
    assert e.dev.atc == []


def test_completions_in_request_order():
    e = Env(dma_latency=20)
    e.pt.map(VA, DATA)
    e.access(VA)
    e.dev.submit(DevCommand(0, False, PASID, VA))
    e.inv(VA + 0x5000, itag=7)
    e.run(1)
    e.inv(VA + 0x6000, itag=2)
    e.settle()
    assert [c.itag for c in e.trace.of(InvCpl)] == [7, 2]
    assert e.dev.take_completions() == [7, 2]


def test_walk_slots_limit_concurrent_walks():
    e = Env(num_walks=1, pwc_entries=0)  # every walk reads all five entries
    e.pt.map(VA, DATA)
    e.pt.map(VA + 0x1000, DATA + 0x1000)
    e.dev.submit(DevCommand(0, False, PASID, VA))
    e.dev.submit(DevCommand(1, False, PASID, VA + 0x1000))
    e.settle()
    rs = {r.thread: r.complete for r in e.dev.take_responses()}
    # second walk starts when the first is done @41: done @81, memory @89, response @91
    assert rs == {0: 51, 1: 91}


def test_atc_lru_replacement():
    e = Env(atc_entries=2)
    for i in range(3):
        e.pt.map(VA + i * 0x1000, DATA + i * 0x1000)
    a, b, c = VA, VA + 0x1000, VA + 0x2000
    assert [e.access(v).atc_hit for v in (a, b, a, c)] == [False, False, True, False]
    assert [e.access(v).atc_hit for v in (a, b)] == [True, False]  # c evicted b (LRU)
    assert e.dev.stats["evictions"] == 2


def test_atc_set_associative_capacity_per_set():
    """AtcWays=2 over 8 entries: 4 sets; three pages of one set evict there, another set keeps its page."""
    e = Env(atc_entries=8, atc_ways=2)
    pages = [VA + i * 4 * 0x1000 for i in range(3)] + [VA + 0x1000]  # set 0 three times, then set 1
    for i, v in enumerate(pages):
        e.pt.map(v, DATA + i * 0x1000)
    assert [e.access(v).atc_hit for v in pages] == [False, False, False, False]
    assert e.dev.stats["evictions"] == 1  # the fully associative ATC of 8 would keep all four
    assert [e.access(v).atc_hit for v in (pages[3], pages[2], pages[1], pages[0])] == [True, True, True, False]


def test_bus_errors():
    bad = {DATA + 0x1000}
    e = Env(bus_error=lambda pa, src: (src == "dma" and pa & ~0xFFF in bad))
    e.pt.map(VA, DATA)
    e.pt.map(VA + 0x1000, DATA + 0x1000)
    r = e.access(VA + 0x1008)
    assert (r.fault, r.pa, r.mem_time, r.rdata) == (Fault.BUS_DATA, DATA + 0x1008, 49, 0)
    assert e.access(VA).fault == 0  # the next command works normally
    pte_pa = e.pt.leaf(VA + 0x1000)[0]
    e2 = Env(bus_error=lambda pa, src: src == "walk" and pa == pte_pa)
    e2.pt.map(VA, DATA)
    e2.pt.map(VA + 0x1000, DATA + 0x1000)
    assert e2.pt.leaf(VA + 0x1000)[0] == pte_pa  # same layout in a fresh Env
    r = e2.access(VA + 0x1000)
    assert (r.fault, r.pa, r.mem_time, r.complete) == (Fault.BUS_WALK, 0, None, 42)


def test_submit_to_busy_thread_rejected():
    e = Env()
    e.dev.submit(DevCommand(0, False, PASID, VA))
    assert not e.dev.thread_idle(0) and e.dev.thread_idle(1)
    with pytest.raises(RuntimeError):
        e.dev.submit(DevCommand(0, False, PASID, VA))
    e.dev.submit(DevCommand(7, False, PASID, VA))  # the last of its 8 threads
    with pytest.raises(ValueError):
        e.dev.submit(DevCommand(8, False, PASID, VA))


def test_run_sync():
    async def fine():
        return 42

    assert run_sync(fine()) == 42

    class Suspend:
        def __await__(self):
            yield "real wait"

    async def suspends():
        await Suspend()

    with pytest.raises(RuntimeError):
        run_sync(suspends())


def test_random_space_agrees_with_golden_translate_and_jitter_is_seeded():
    """Quiescent memory: every device answer equals the golden walk, with any latencies."""
    def one(seed):
        mem = PhysMem()
        fa = FrameAllocator(mem, 0x100, 2048)
        pt, vas = random_space(mem, fa, random.Random(seed), 30)
        PasidTable(mem, PTBL).set(3, pt.root_pa)
        tr = Trace()
        dev = RefDevice(mem, PTBL, tr, RefConfig(jitter=5, seed=seed, atc_entries=8))
        rng = random.Random(seed)
        pending = [(v, rng.random() < 0.4) for v in vas for _ in range(2)]
        out = []
        while pending or not dev.idle:
            for th in range(4):
                if pending and dev.thread_idle(th) and rng.random() < 0.5:
                    va, wr = pending.pop()
                    dev.submit(DevCommand(th, wr, 3, va, 0x1234))
            run_sync(dev.run(rng.randint(1, 6)))
            out += dev.take_responses()
        for d in tr.of(DevAccess):
            g = translate(mem, PTBL, 3, d.va, d.write)
            exp = Fault.MISALIGNED if d.va & 7 else g.fault
            assert d.fault == exp, hex(d.va)
            assert d.pa == (g.pa if exp == Fault.NONE else 0)
        assert len(tr.of(DevAccess)) == len(vas) * 2
        return [(r.thread, r.fault, r.pa, r.complete) for r in out]

    a = one(11)
    assert a == one(11)
    assert any(f == 0 for _, f, _, _ in a) and any(f != 0 for _, f, _, _ in a)


def test_poison_catches_a_pte_read_whose_data_is_still_on_the_way():
    """PTE performed @39, cleared and invalidated @40 (applied @41, before the data is used @41)."""
    for invalidate, expect in ((True, (Fault.NOT_PRESENT, 0, 82)), (False, (0, DATA, 51))):
        e = Env()
        e.pt.map(VA, DATA)
        e.dev.submit(DevCommand(0, False, PASID, VA))
        e.run(40)
        e.pt.unmap(VA)
        if invalidate:
            e.inv(VA, itag=1)
        e.settle()
        (r,) = e.dev.take_responses()
        # re-walk: reads performed @47,55,63,71,79, PTE data back @81, fault response @82
        assert (r.fault, r.pa, r.complete) == expect


class NoPoison(RefDevice):
    def _inv_apply(self, inv):
        slots = list(self._walk_slots)
        self._walk_slots = [None] * len(slots)  # hide walks in flight from the poison step
        super()._inv_apply(inv)
        self._walk_slots = slots


class NoDrain(RefDevice):
    def _inv_apply(self, inv):
        pending, self._dma_pending = self._dma_pending, set()
        super()._inv_apply(inv)
        self._dma_pending = pending


def remap_storm(dev_cls, seed, changes=25):
    """Host repoints one page P0 -> P1 -> ... with clear, invalidate, wait, set.

    That is the notify-inside-lock discipline, so after the k-th completion no
    device access may reach memory through page P_k or older: any such access
    is a use of a translation the host already revoked.
    Returns the number of violations.
    """
    mem = PhysMem()
    fa = FrameAllocator(mem, 0x100, 64)
    pt = PageTables(mem, fa)
    PasidTable(mem, PTBL).set(PASID, pt.root_pa)
    for k in range(changes + 1):
        for off in range(0, 4096, 8):
            mem.write64(DATA + k * 4096 + off, k)
    pt.map(VA, DATA)
    tr = Trace()
    dev = dev_cls(mem, PTBL, tr, RefConfig(jitter=6, seed=seed, dma_latency=6, atc_entries=4))
    rng = random.Random(seed)
    cpl_times: list[int] = []

    def step(n=1):
        for th in range(4):
            if dev.thread_idle(th) and rng.random() < 0.6:
                dev.submit(DevCommand(th, False, PASID, VA + rng.randrange(512) * 8))
        run_sync(dev.run(n))
        dev.take_responses()

    for k in range(changes):
        # long enough for a walk (about 40 cycles) to finish and ATC hits to follow
        for _ in range(rng.randint(0, 120)):
            step()
        pt.unmap(VA)
        dev.invalidate(InvalidateRequest(itag=k % 32, addr=VA >> 12, s=False, pasid=PASID))
        while not dev.take_completions():
            step()
        cpl_times.append(dev.now)  # completion seen by the host no later than now
        for _ in range(rng.randint(0, 5)):
            step()
        pt.set_leaf(VA, make_pte(DATA + (k + 1) * 4096))
    run_sync(dev.run_until_idle())

    bad = 0
    for d in tr.of(DevAccess):
        if d.fault:
            continue
        idx = (d.pa - DATA) >> 12
        assert d.value == idx  # the data really came from page P_idx
        revoked = sum(c <= d.mem_time for c in cpl_times)  # pages P_0..P_{revoked-1} are gone
        bad += idx < revoked
    return bad


def test_remap_storm_never_uses_a_revoked_translation():
    assert sum(remap_storm(RefDevice, s) for s in range(12)) == 0


def test_remap_storm_detects_a_device_without_either_rule():
    """The property above has teeth: dropping either ATS rule breaks it."""
    assert sum(remap_storm(NoPoison, s) for s in range(12)) > 0
    assert sum(remap_storm(NoDrain, s) for s in range(12)) > 0


def test_unanswered_walker_access_ends_in_bus_timeout_and_orphans_the_slot():
    t = 500
    probe = Env()
    probe.pt.map(VA, DATA)
    probe.pt.map(VA + 0x1000, DATA + 0x1000)
    pte_pa = probe.pt.leaf(VA + 0x1000)[0]
    e = Env(axi_timeout=t, no_answer=lambda pa, src: src == "walk" and pa == pte_pa)
    for off in (0, 0x1000, 0x2000):
        e.pt.map(VA + off, DATA + off)
    assert e.pt.leaf(VA + 0x1000)[0] == pte_pa  # same layout in a fresh Env
    r = e.access(VA + 0x1000)
    assert (r.fault, r.pa, r.mem_time) == (Fault.BUS_TIMEOUT, 0, None) and t < r.complete <= t + 60
    assert e.access(VA).fault == 0  # the clean slot walks
    assert e.access(VA + 0x1000).fault == Fault.BUS_TIMEOUT  # and is orphaned by the same PTE
    # every slot orphaned: a walk of a good page is faulted after axi_timeout, reading nothing
    reads = len(e.trace.of(MemAccess))
    t0 = e.dev.now
    r = e.access(VA + 0x2000)
    assert r.fault == Fault.BUS_TIMEOUT and t <= r.complete - t0 <= t + 5
    assert len(e.trace.of(MemAccess)) == reads


def test_unanswered_dma_orphans_the_thread_and_holds_the_completion():
    t = 300
    e = Env(axi_timeout=t, no_answer=lambda pa, src: src == "dma" and pa & ~0xFFF == DATA + 0x1000)
    e.pt.map(VA, DATA)
    e.pt.map(VA + 0x1000, DATA + 0x1000)
    e.dev.submit(DevCommand(0, True, PASID, VA + 0x1008, 5))
    e.run(60)  # walk done @41, the write at the memory port @49: never answered
    e.inv(VA + 0x1000, itag=4)
    e.settle()
    (r,) = e.dev.take_responses()
    assert (r.fault, r.pa, r.mem_time) == (Fault.BUS_TIMEOUT, 0, None) and 49 + t <= r.complete <= 49 + t + 5
    assert e.mem.read64(DATA + 0x1008) == 0
    # rule 2: the write may still land, so the completion is never sent
    assert e.dev.take_completions() == [] and e.trace.of(InvCpl) == []
    assert e.dev.atc == []  # the invalidation itself was applied
    assert e.access(VA, thread=1).fault == 0  # other threads work
    t0 = e.dev.now
    r = e.access(VA, thread=0)  # the orphaned thread: faulted after axi_timeout, no access
    assert r.fault == Fault.BUS_TIMEOUT and r.mem_time is None and t <= r.complete - t0 <= t + 5


def _stream(walk_max_retries, period=5, cycles=2000):
    """Invalidate VA's page every `period` cycles while thread 0 reads it (a walk takes ~40)."""
    e = Env(walk_max_retries=walk_max_retries)
    e.pt.map(VA, DATA)
    e.dev.submit(DevCommand(0, False, PASID, VA))
    rsp, sent = None, 0
    for k in range(cycles // period):
        e.inv(VA, itag=k % 32)
        sent += 1
        e.run(period)
        e.dev.take_completions()
        rs = e.dev.take_responses()
        if rs:
            (rsp,) = rs
            break
    return e, rsp, sent


def test_walk_under_invalidation_stream_completes_under_the_hold():
    e, r, sent = _stream(walk_max_retries=4)
    assert r is not None and (r.fault, r.pa) == (0, DATA)
    assert e.dev.stats["walks"] == 5 and e.dev.stats["rewalks"] == 4  # WalkMaxRetries + 1 walks
    assert e.dev.stats["holds"] == 1 and e.dev.stats["held_invalidations"] >= 1
    # no request accepted while the armed (fifth) walk ran: its reads follow the last acceptance before it
    walk_times = [m.time for m in e.trace.of(MemAccess) if m.source == "walk"]
    armed_reads = walk_times[-5:]
    accepts = [i.time for i in e.trace.of(InvReq)]
    assert not [t for t in accepts if armed_reads[0] - 6 <= t < armed_reads[-1]], (accepts, armed_reads)
    e.settle()
    assert len(e.trace.of(InvReq)) == sent  # every held request accepted afterwards


def test_walk_under_invalidation_stream_starves_without_the_hold():
    e, r, _ = _stream(walk_max_retries=0)
    assert r is None and e.dev.stats["rewalks"] > 40 and e.dev.stats["holds"] == 0
