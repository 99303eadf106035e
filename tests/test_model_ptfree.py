"""Page-table pages as frames, the reference device's page-walk cache, and the
use-after-free of a freed page-table page through a stale walk-cache entry.

A PTE table unhooked and freed by the kernel goes back to the data frames and
is the next data page handed out; a device walk that starts from a cached PDE
pointing at it then reads that data as page-table entries. The checker names
it; an invalidation (any range: the PWC is dropped whole) before the free
keeps it quiet.
"""
from __future__ import annotations

import pytest

from model.ats import Fault, InvalidateRequest, encode_range
from model.check.uaf import check_uaf
from model.device import DevCommand, run_sync
from model.frames import FrameAllocator
from model.memory import PAGE_SHIFT, PhysMem
from model.mm import Mm
from model.pagetable import SIZE_2M, PageTables, make_pte
from model.pasid import PasidTable
from model.refdev import RefConfig, RefDevice
from model.scenario import parse
from model.scheduler import run_scenario_sync
from model.trace import FrameEvent, MemAccess, Trace

PTBL = 0x10000
PASID = 1
VA = 0x4000_0000  # PML4 0, PDPT 1, PD 0, PT 0
DATA = 0x80_0000_0000


class Env:
    """A device over one address space whose PTE tables come from a pool that
    lends freed tables to the data frames, as in `Mm`."""

    def __init__(self, **cfg):
        self.mem = PhysMem()
        self.trace = Trace()
        self.t = 0
        clock = lambda: self.dev.now if hasattr(self, "dev") else 0  # noqa: E731
        self.data = FrameAllocator(self.mem, 0x100, 64, self.trace, clock)
        self.tables = FrameAllocator(self.mem, 0x200, 64, self.trace, clock)
        self.tables.lend_to = self.data
        self.pt = PageTables(self.mem, self.tables)
        PasidTable(self.mem, PTBL).set(PASID, self.pt.root_pa)
        self.dev = RefDevice(self.mem, PTBL, self.trace, RefConfig(**cfg))

    def access(self, va, write=False):
        self.dev.submit(DevCommand(0, write, PASID, va, 0))
        run_sync(self.dev.run_until_idle())
        (rsp,) = self.dev.take_responses()
        return rsp

    def walk_reads(self):
        return [m for m in self.trace.of(MemAccess) if m.source == "walk"]

    def inv(self, va, size=4096):
        addr, s = encode_range(va, size)
        self.dev.invalidate(InvalidateRequest(itag=0, addr=addr, s=s, pasid=PASID))
        run_sync(self.dev.run_until_idle())
        self.dev.take_completions()


# ----------------------------------------------------------------------------- page tables as frames

def test_detach_table_clears_the_pde_and_returns_the_table():
    e = Env()
    e.pt.map(VA, DATA)
    pde_pa, pde = e.pt.entry(VA, 3)
    table = (pde & ((1 << 48) - 1) & ~0xFFF) >> PAGE_SHIFT
    assert e.pt.detach_table(VA + 0x5000, 4) == table
    assert e.mem.read64(pde_pa) == 0 and table not in e.pt.table_pfns
    assert e.pt.detach_table(VA, 4) is None  # nothing left to detach
    assert e.tables.owner(table) == "pagetable"  # not freed: the caller frees it after the flush
    with pytest.raises(ValueError, match="level 1"):
        e.pt.detach_table(VA, 1)


def test_a_freed_table_is_the_next_data_page():
    e = Env()
    e.pt.map(VA, DATA)
    table = e.pt.detach_table(VA, 4)
    assert e.tables.put(table)
    assert not e.tables.contains(table) and e.data.contains(table)
    assert e.data.alloc("anon") == table
    assert e.data.owner(table) == "anon"
    frees = [(f.pfn, f.owner) for f in e.trace.of(FrameEvent) if f.kind == "free"]
    assert frees == [(table, "pagetable")]
    assert e.data.put(table) and e.data.alloc("anon") == table  # stays a data frame


def test_mm_routes_a_lent_table_frame_to_the_data_frames():
    mem, trace = PhysMem(), Trace()
    frames = FrameAllocator(mem, 0x100, 64, trace)
    mm = Mm(mem, frames, PasidTable(mem, PTBL), trace, lambda: 0)
    mm.tables.map(VA, DATA)
    table = mm.tables.detach_table(VA, 4)
    assert mm.table_frames.put(table)
    pfn = frames.alloc("anon")
    assert pfn == table and mm.page_owner(pfn) == "anon"
    assert mm.put_page(pfn)  # freed through the data allocator, not the table pool


# ----------------------------------------------------------------------------- the page-walk cache

def test_second_walk_in_the_span_reads_only_the_pte():
    e = Env()
    e.pt.map(VA, DATA)
    e.pt.map(VA + 0x1000, DATA + 0x1000)
    assert e.access(VA).fault == 0
    assert len(e.walk_reads()) == 5  # PASID entry, PML4E, PDPTE, PDE, PTE
    assert e.access(VA + 0x1000).fault == 0
    assert len(e.walk_reads()) == 6  # PDE hit in the PWC: one read
    assert e.dev.stats["pwc_hits"] == 1


def test_no_pwc_reads_every_level():
    e = Env(pwc_entries=0)
    e.pt.map(VA, DATA)
    e.pt.map(VA + 0x1000, DATA + 0x1000)
    e.access(VA)
    e.access(VA + 0x1000)
    assert len(e.walk_reads()) == 10 and e.dev.stats["pwc_hits"] == 0


def test_any_invalidation_drops_the_whole_pwc():
    """ATS has no PWC invalidation: an Invalidate Request far away from the
    cached span (another 1 GiB region) still drops it."""
    e = Env()
    e.pt.map(VA, DATA)
    e.pt.map(VA + 0x1000, DATA + 0x1000)
    e.access(VA)
    e.inv(0x7000_0000_0000)
    assert e.dev.pwc == []
    e.access(VA + 0x1000)
    assert len(e.walk_reads()) == 10


def test_a_readonly_pde_is_not_cached_below():
    e = Env()
    e.pt.map(VA, DATA)
    e.pt.map(VA + 0x1000, DATA + 0x1000)
    pde_pa, pde = e.pt.entry(VA, 3)
    e.mem.write64(pde_pa, pde & ~2)  # RW clear on the PDE
    e.access(VA)
    assert {p.level for p in e.dev.pwc} == {0, 1, 2}
    e.access(VA + 0x1000)
    assert len(e.walk_reads()) == 7  # PDE and PTE read again


def test_a_walk_during_an_invalidation_fills_nothing():
    e = Env(walk_latency=20)
    e.pt.map(VA, DATA)
    e.dev.submit(DevCommand(0, False, PASID, VA, 0))
    run_sync(e.dev.run(30))  # PASID entry read, PML4E on its way
    addr, s = encode_range(0x7000_0000_0000, 4096)
    e.dev.invalidate(InvalidateRequest(itag=0, addr=addr, s=s, pasid=PASID))
    run_sync(e.dev.run_until_idle())
    assert e.dev.take_responses()[0].fault == 0
    assert e.dev.pwc == []


# ----------------------------------------------------------------------------- the use-after-free

def _stale_walk(e: Env, invalidate_first: bool) -> list:
    e.pt.map(VA, DATA)
    assert e.access(VA).fault == 0  # PWC: PDE -> the PTE table
    table = e.pt.detach_table(VA, 4)
    if invalidate_first:
        e.inv(VA)
    e.tables.put(table)
    data = e.data.alloc("anon")
    assert data == table
    e.mem.write64((data << PAGE_SHIFT) + 8 * 3, make_pte(DATA + 0x5000))  # garbage that looks like a PTE
    rsp = e.access(VA + 0x3000)  # not in the ATC: a walk, from the cached PDE if there is one
    return [rsp, check_uaf(e.trace)]


def test_stale_pwc_walk_into_a_reused_table_is_a_use_after_free():
    e = Env()
    rsp, verdicts = _stale_walk(e, invalidate_first=False)
    assert rsp.fault == 0 and rsp.pa == DATA + 0x5000  # the garbage translated
    (v,) = verdicts
    assert v.rule == "use-after-free" and not v.ok
    assert "freed page-table page" in v.message and "anon data" in v.message


def test_stale_pwc_walk_into_a_free_table_is_a_use_after_free():
    e = Env()
    e.pt.map(VA, DATA)
    e.access(VA)
    e.tables.put(e.pt.detach_table(VA, 4))
    e.access(VA + 0x1000)
    (v,) = check_uaf(e.trace)
    assert not v.ok and "which was free" in v.message and "page-table page" in v.message


def test_invalidation_before_the_free_keeps_the_checker_quiet():
    e = Env()
    rsp, verdicts = _stale_walk(e, invalidate_first=True)
    assert rsp.fault == Fault.NOT_PRESENT  # a full walk finds the PDE cleared
    assert [v.ok for v in verdicts] == [True]


# ----------------------------------------------------------------------------- kernel paths

MUNMAP = """
scenario munmap_pt
vma 0x40000000 0x40001000 anon rw
vma 0x40200000 0x40400000 anon rw
page A 0x40000000 present
page B 0x40200000 none
[Time 0]
DEV-thread-0 {read A}
[Time 1]
CPU-thread-0 {munmap A until range_end}
[Time 2]
DEV-thread-0 {read A}
[Time 3]
CPU-thread-0 {resume}
[Time 4]
CPU-thread-0 {store B 0}
[Time 5]
DEV-thread-0 {read A}
"""


def test_munmap_frees_the_pte_table_only_after_the_gather_flush():
    """free_pgtables unhooks the table after range_end; a device walk in
    between caches the PDE again. The table is freed after tlb_finish_mmu's
    flush, which reaches the device under notify-inside-lock and 6.6+ but
    not under `deferred`: there the next data page is walked as a table."""
    sc = parse(MUNMAP)
    got = {pol: run_scenario_sync(sc, pol).failed_rules
           for pol in ("notify-inside-lock", "secondary-with-flush", "deferred")}
    assert got == {"notify-inside-lock": frozenset(), "secondary-with-flush": frozenset(),
                   "deferred": frozenset({"use-after-free"})}


def test_munmap_frees_the_table_and_keeps_one_still_used():
    sc = parse(MUNMAP.replace("vma 0x40200000 0x40400000 anon rw", "vma 0x40001000 0x40400000 anon rw")
               .replace("page B 0x40200000 none", "page B 0x40001000 none"))
    r = run_scenario_sync(sc, "deferred")
    frees = [f for f in r.trace.of(FrameEvent) if f.kind == "free" and f.owner == "pagetable"]
    assert frees == [] and not r.failed_rules  # the table still maps B: kept
    r = run_scenario_sync(parse(MUNMAP), "notify-inside-lock")
    frees = [f for f in r.trace.of(FrameEvent) if f.kind == "free" and f.owner == "pagetable"]
    assert len(frees) == 1


RETRACT_WINDOW = """
scenario retract_window
vma  0x40000000 0x40200000 file rw file=shm
page F 0x40000000 file
[Time 0]
DEV-thread-0 {read F}
[Time 1]
CPU-thread-0 {madv_dontneed F}
[Time 2]
DEV-thread-0 {read F}
[Time 3]
CPU-thread-1 {retract_page_tables F until page_free}
[Time 4]
DEV-thread-0 {read F}
[Time 5]
CPU-thread-1 {resume}
"""


def test_retract_fix_still_frees_before_range_end():
    """f268f6cf875f puts pte_free before mmu_notifier_invalidate_range_end in
    retract_page_tables; under the 4.15..6.5 hook only range_end reaches an
    ATS device, so a walk between the two still reads the freed table. 6.6's
    flush-side hook (pmdp_collapse_flush) closes it."""
    sc = parse(RETRACT_WINDOW)
    assert not sc.bugs  # the fixed kernel
    assert run_scenario_sync(sc, "notify-inside-lock").failed_rules == {"use-after-free"}
    assert run_scenario_sync(sc, "secondary-with-flush").failed_rules == frozenset()


def test_retract_refuses_a_table_that_still_maps_pages():
    from model.trace import OpStep

    sc = parse("""
scenario r
vma 0x40000000 0x40200000 file rw file=f
page F 0x40000000 file
[Time 0]
CPU-thread-0 {retract_page_tables F}
""")
    r = run_scenario_sync(sc, "notify-inside-lock")
    aborts = [s.detail for s in r.trace.of(OpStep) if s.step == "abort"]
    assert len(aborts) == 1 and "still maps pages" in aborts[0]
    assert not [f for f in r.trace.of(FrameEvent) if f.kind == "free" and f.owner == "pagetable"]


# ----------------------------------------------------------------------------- mmu_gather across VMAs

TWO_VMAS = """
scenario two_vmas
vma 0x10000000 0x10001000 anon rw
vma 0x10001000 0x10002000 anon ro
page A 0x10000000 present
page B 0x10001000 present
[Time 0]
CPU-thread-0 {munmap A 0x2000}
"""


def _flushes(r):
    from model.trace import OpStep

    return [s.detail for s in r.trace.of(OpStep) if s.step == "tlb_flush"]


def test_tlb_end_vma_flushes_and_resets_the_gather_range():
    r = run_scenario_sync(parse(TWO_VMAS), "notify-inside-lock")
    assert _flushes(r) == ["tlb_end_vma [0x10000000, 0x10001000), range reset", "tlb_finish_mmu"]
    from model.trace import InvReq

    starts = sorted(i.start for i in r.trace.of(InvReq))
    assert starts[0] == 0x10000000  # tlb_end_vma told the device about the first VMA
    one = run_scenario_sync(parse(TWO_VMAS.replace("0x2000", "0x1000")), "notify-inside-lock")
    assert _flushes(one) == ["tlb_finish_mmu"]  # one VMA: no tlb_end_vma flush


def test_tlb_end_vma_bug_drops_only_the_device_call():
    import dataclasses

    sc = parse(TWO_VMAS)
    fixed = run_scenario_sync(sc, "notify-inside-lock")
    bug = run_scenario_sync(dataclasses.replace(sc, bugs=frozenset({"tlb-end-vma-no-notify"})), "notify-inside-lock")
    assert _flushes(bug) == _flushes(fixed)  # the CPU flush and the range reset stay
    from model.trace import InvReq

    assert len(bug.trace.of(InvReq)) < len(fixed.trace.of(InvReq))
