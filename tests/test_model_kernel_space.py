"""Supervisor entries in the page-walk cache, the kernel half of every mm, and vfree.

The reference device's `pwc-supervisor keep` mode (the RTL's pwc_keep_sup_i):
a walk of a kernel address still faults SUPERVISOR at the leaf, but its upper
entries stay in the PWC, with the U/S of their path. The kernel half
(model/kernel_space.py) is one set of tables below the PML4, shared by every
mm; `vfree` frees its PTE table and, with the 6.19 fix, tells every SVA-bound
mm's secondary TLB first (docs/HISTORY.md, the CVE-2025-71202 row).
"""
from __future__ import annotations

import dataclasses

import pytest

from model.ats import Fault
from model.device import DevCommand, run_sync
from model.frames import FrameAllocator
from model.kernel_space import PAGE_KERNEL, VMALLOC_START
from model.memory import PhysMem
from model.pagetable import P, US, PageTables, translate, translate_steps
from model.pasid import PasidTable
from model.refdev import RefConfig, RefDevice
from model.scenario import ScenarioError, load, parse
from model.scheduler import run_scenario_sync
from model.trace import InvReq, OpStep, Trace

PTBL = 0x10000
PASID = 1
KVA = VMALLOC_START | (5 << 21)
UVA = 0x4000_0000
DATA = 0x80_0000_0000
ROW = "scenarios/history/sva_kernel_pgtable_free_6.18.scn"


class Env:
    """One address space with kernel pages (U/S clear on the leaf and on every table entry
    of the kernel half, as Linux writes them) and a user page, and a reference device."""

    def __init__(self, keep: bool) -> None:
        self.mem = PhysMem()
        self.trace = Trace()
        frames = FrameAllocator(self.mem, 0x200, 64, self.trace)
        self.pt = PageTables(self.mem, frames)
        for i in range(3):
            self.pt.map(KVA + i * 0x1000, DATA + i * 0x1000, user=False)
        self.pt.map(KVA + 0x3000, DATA + 0x3000)  # a U/S=1 leaf below the kernel's upper entries
        for lvl in (1, 2, 3):
            epa, e = self.pt.entry(KVA, lvl)
            self.mem.write64(epa, e & ~US)
        self.pt.map(UVA, DATA + 0x10000)
        PasidTable(self.mem, PTBL).set(PASID, self.pt.root_pa)
        self.dev = RefDevice(self.mem, PTBL, self.trace, RefConfig())
        self.dev.set_pwc_keep_supervisor(keep)

    def read(self, va: int) -> int:
        self.dev.submit(DevCommand(0, False, PASID, va, 0))
        run_sync(self.dev.run_until_idle())
        (rsp,) = self.dev.take_responses()
        return rsp.fault

    def reads(self) -> int:
        return self.dev.stats["walk_reads"]


def test_default_mode_faults_at_the_first_supervisor_entry_and_caches_only_the_pasid_entry():
    e = Env(keep=False)
    assert e.read(KVA) == Fault.SUPERVISOR
    assert e.reads() == 2  # PASID entry, PML4E
    assert [p.level for p in e.dev.pwc] == [0]


def test_keep_mode_walks_to_the_leaf_faults_there_and_keeps_the_upper_entries():
    e = Env(keep=True)
    assert e.read(KVA) == Fault.SUPERVISOR
    assert e.reads() == 5  # PASID entry, PML4E, PDPTE, PDE, PTE
    assert sorted((p.level, p.user) for p in e.dev.pwc) == [(0, True), (1, False), (2, False), (3, False)]
    assert e.read(KVA + 0x1000) == Fault.SUPERVISOR
    assert e.reads() == 6  # the neighbour reads its PTE only: the PDE came from the PWC


def test_a_user_leaf_below_a_supervisor_entry_faults_walked_or_from_the_pwc():
    e = Env(keep=True)
    assert e.read(KVA + 0x3000) == Fault.SUPERVISOR  # walked: U/S clear above it
    e.read(KVA)
    e.dev.pwc = [p for p in e.dev.pwc if p.level == 3]
    n = e.reads()
    assert e.read(KVA + 0x3000) == Fault.SUPERVISOR  # from the cached PDE, whose path was supervisor
    assert e.reads() == n + 1


def test_keep_mode_leaves_user_pages_alone():
    e = Env(keep=True)
    assert e.read(UVA) == 0
    assert all(p.user for p in e.dev.pwc)


def test_golden_walk_keep_sup_decides_us_at_the_leaf():
    e = Env(keep=True)
    assert translate(e.mem, PTBL, PASID, KVA).level == 1  # default: the PML4E decides
    w = translate(e.mem, PTBL, PASID, KVA, keep_sup=True)
    assert (w.fault, w.level) == (Fault.SUPERVISOR, 4)
    w = translate(e.mem, PTBL, PASID, KVA + 0x3000, keep_sup=True)
    assert (w.fault, w.level) == (Fault.SUPERVISOR, 4)
    assert translate(e.mem, PTBL, PASID, UVA, keep_sup=True).ok
    # a walk started from a PWC entry with a supervisor path faults at a U/S=1 leaf
    pde = e.pt.entry(KVA, 3)[1]
    gen = translate_steps(PTBL, PASID, KVA + 0x3000, pwc_hit=(3, pde & ~0xFFF & ((1 << 48) - 1), False),
                          keep_sup=True)
    pa = next(gen)
    try:
        gen.send(e.mem.read64(pa))
    except StopIteration as stop:
        assert stop.value.fault == Fault.SUPERVISOR
    else:
        raise AssertionError("the walk did not end at the leaf")


# ----------------------------------------------------------------------------- the kernel half

TWO_MMS = """
scenario two
pwc-supervisor keep
vma 0x40000000 0x40200000 anon rw
page A 0x40000000 none
vmalloc K 0xffffc90000000000
mm other pasid=2 threads=DEV-thread-1,CPU-thread-1
vma 0x40000000 0x40200000 anon rw
[Time 0]
DEV-thread-0 {read K}
DEV-thread-1 {read K}
[Time 1]
CPU-thread-0 {vfree K}
"""


def test_every_mm_holds_the_same_kernel_half_and_vfree_tells_every_bound_mm():
    sc = parse(TWO_MMS, "two.scn")
    fix = run_scenario_sync(sc, "secondary-with-flush", 0)
    # the fix: iommu_sva_invalidate_kva_range reaches both PASIDs before the table is freed
    invs = fix.trace.of(InvReq)
    assert {i.pasid for i in invs} == {1, 2}
    free = next(s for s in fix.trace.of(OpStep) if s.op == "vfree" and "kernel PTE table" in s.detail)
    assert all(i.time <= free.time for i in invs)
    bug = run_scenario_sync(dataclasses.replace(sc, bugs=frozenset({"sva-kva-no-invalidate"})),
                            "secondary-with-flush", 0)
    assert not bug.trace.of(InvReq)
    assert not fix.failed_rules and not bug.failed_rules  # nothing walks the span again here


def test_kernel_tables_are_shared_below_the_pml4():
    from model.frames import FrameAllocator as FA
    from model.kernel_space import KernelSpace
    mem, trace = PhysMem(), Trace()
    frames, tables = FA(mem, 0x100, 64, trace), FA(mem, 0x200, 64, trace)
    a, b = PageTables(mem, tables), PageTables(mem, tables)
    ks = KernelSpace(mem, tables, frames)
    ks.attach(a.root_pa)
    pfn = ks.vmalloc_page(KVA, 0x1234)
    ks.attach(b.root_pa)  # an mm made later copies the kernel PML4 entries (pgd_ctor)
    for t in (a, b):
        epa, pml4e = t.entry(KVA, 1)
        assert pml4e == ks.tables.entry(KVA, 1)[1] and pml4e & P and not pml4e & US
        assert t.leaf(KVA)[1] == (pfn << 12) | PAGE_KERNEL
    with pytest.raises(ValueError, match="kernel half"):
        ks.vmalloc_page(UVA, 0)


def test_vfree_of_no_vmalloc_page_aborts():
    sc = parse("vma 0x40000000 0x40200000 anon rw\npage A 0x40000000 present\n[Time 0]\nCPU-thread-0 {vfree A}\n",
               "x.scn")
    res = run_scenario_sync(sc, "secondary-with-flush", 0)
    assert [s.step for s in res.trace.of(OpStep) if s.op == "vfree"] == ["abort"]


@pytest.mark.parametrize("text,msg", [
    ("pwc-supervisor sometimes\n", "x.scn:1: usage: pwc-supervisor skip|keep"),
    ("vmalloc K 0x40000000\n", "x.scn:1: vmalloc address 0x40000000: not a page in the vmalloc area"),
    ("vmalloc K 0xffffc90000000000\nvmalloc L 0xffffc90000000000\n", "x.scn:2: vmalloc page 0xffffc90000000000 "
                                                                       "given twice (first on line 1)"),
    ("vmalloc K 0xffffc90000000000 colour=red\n", "x.scn:1: unknown vmalloc option 'colour=red'"),
    ("vma 0x40000000 0x40200000 anon rw\n[Time 0]\nCPU-thread-0 {store 0xffffc90000000000}\n",
     "x.scn:3: address 0xffffc90000000000 beyond the user address space"),
])
def test_directive_errors_name_file_and_line(text, msg):
    with pytest.raises(ScenarioError) as ei:
        parse(text, "x.scn")
    assert str(ei.value).startswith(msg)


def test_a_walker_that_keeps_no_supervisor_entries_never_sees_the_cve():
    """Like a device whose walk faults at the first U/S-clear entry: nothing of the
    kernel half is cached, the freed table is never read, bug or fix."""
    sc = load(ROW)
    assert sc.pwc_supervisor == "keep"
    skip = dataclasses.replace(sc, pwc_supervisor="skip")
    for pol in ("secondary-with-flush", "notify-inside-lock", "deferred"):
        assert run_scenario_sync(sc, pol, 0).failed_rules == {"use-after-free"}, pol
        assert not run_scenario_sync(skip, pol, 0).failed_rules, pol
