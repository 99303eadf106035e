"""Accessed and dirty bits in the host model: the exclusive monitor, the golden walk's
A/D updates (what the reference device and the RTL walker do), and the kernel's use
of D (MADV_FREE reclaim discards only clean pages)."""
from __future__ import annotations

import pytest

from model import pagetable as pt
from model.ats import Fault
from model.frames import FrameAllocator
from model.memory import PhysMem
from model.ops import cpu_load, cpu_store, madv_free, try_to_unmap
from model.pagetable import A, D, P, RW, AdUpdate, PageTables, walk_steps
from model.pasid import PasidTable
from model.refdev import RefConfig, RefDevice
from model.device import DevCommand, run_sync
from model.trace import FrameEvent, Trace
from tests.kernel_helpers import drive, make_host, names

VA = 0x7000_0000_1000


# --------------------------------------------------------------------------- exclusive monitor

def test_exclusive_write_succeeds_only_while_the_reservation_holds():
    m = PhysMem()
    m.write64(0x1000, 5)
    assert m.read_exclusive(1, 0x1000) == 5 and m.reserved(1) == 0x1000
    assert m.write_exclusive(1, 0x1000, 6) and m.read64(0x1000) == 6
    assert not m.write_exclusive(1, 0x1000, 7), "a reservation is used up by its write"
    for store in (lambda: m.write64(0x1000, 9), lambda: m.write(0x1004, b"\x01"),
                  lambda: m.zero_page(0x1000), lambda: m.copy_page(0x1000, 0x5000)):
        m.read_exclusive(1, 0x1000)
        store()
        after = m.read64(0x1000)
        assert not m.write_exclusive(1, 0x1000, 0xAA) and m.read64(0x1000) == after, "store did not clear"
    # a store to the neighbouring qword, or an exclusive write of another ID elsewhere, leaves it alone
    m.read_exclusive(1, 0x1000)
    m.write64(0x1008, 1)
    m.read_exclusive(2, 0x2000)
    assert m.write_exclusive(2, 0x2000, 3)
    assert m.write_exclusive(1, 0x1000, 0x11) and m.read64(0x1000) == 0x11
    # another ID's exclusive write to the same entry takes the reservation away
    m.read_exclusive(1, 0x1000)
    m.read_exclusive(2, 0x1000)
    assert m.write_exclusive(2, 0x1000, 0x22)
    assert not m.write_exclusive(1, 0x1000, 0x33) and m.read64(0x1000) == 0x22


# --------------------------------------------------------------------------- golden walk with A/D

def _space():
    mem = PhysMem()
    frames = FrameAllocator(mem, 0x100, 64)
    pts = PageTables(mem, frames)
    pts.map(VA, 0x4000_0000)
    path = [pts.entry(VA, lv)[0] for lv in (1, 2, 3, 4)]
    for e in path:
        mem.write64(e, mem.read64(e) & ~(A | D))
    return mem, pts, path


@pytest.mark.parametrize("write", [False, True])
def test_walk_sets_a_on_every_level_and_d_on_the_leaf_of_a_write(write):
    mem, pts, path = _space()
    before = [mem.read64(e) for e in path]
    w = pt.walk(mem, pts.root_pa, VA, write=write)
    assert w.ok and [mem.read64(e) for e in path] == before, "the plain golden walk never writes"
    w = pt._drive(mem, walk_steps(pts.root_pa, VA, write, ad=True))
    want = [v | A for v in before]
    if write:
        want[-1] |= D
    assert w.ok and [mem.read64(e) for e in path] == want and w.dirty == write


def test_a_changed_entry_is_decided_again_and_retries_are_bounded():
    mem, pts, path = _space()
    gen = walk_steps(pts.root_pa, VA, True, ad=True, ad_retries=3)
    req = next(gen)
    for lv in range(4):  # feed reads; every update answered "unchanged"
        assert req == path[lv]
        req = gen.send(mem.read64(req))
        assert isinstance(req, AdUpdate) and req.pa == path[lv]
        if lv == 3:
            break
        req = gen.send(req.old)
    # the PTE changed under the update: RW cleared -> WRITE_PROTECT, decided on the new value
    with pytest.raises(StopIteration) as stop:
        gen.send(req.old & ~RW)
    assert stop.value.value.fault == Fault.WRITE_PROTECT and stop.value.value.level == 4
    # a PTE that keeps changing: AD_UPDATE after ad_retries attempts
    gen = walk_steps(pts.root_pa, VA, False, ad=True, ad_retries=3)
    req = next(gen)
    tries = 0
    while True:
        try:
            if isinstance(req, AdUpdate):
                tries += req.pa == path[3]
                req = gen.send(req.old if req.pa != path[3] else req.old ^ (1 << 9))
            else:
                req = gen.send(mem.read64(req))
        except StopIteration as stop:
            w = stop.value
            break
    assert w.fault == Fault.AD_UPDATE and tries == 3


def test_reference_device_sets_bits_and_caches_writable_only_when_dirty():
    mem, pts, path = _space()
    PasidTable(mem, 0x10_0000).set(7, pts.root_pa)
    trace = Trace()
    dev = RefDevice(mem, 0x10_0000, trace, RefConfig())
    dev.submit(DevCommand(0, False, 7, VA))
    run_sync(dev.run_until_idle())
    assert mem.read64(path[-1]) & (A | D) == A and dev.atc[0].writable is False
    dev.submit(DevCommand(1, True, 7, VA, 5))
    run_sync(dev.run_until_idle())
    r = dev.take_responses()
    assert [x.atc_hit for x in r] == [False, False], "a write through a clean cached translation walks again"
    assert mem.read64(path[-1]) & D and dev.atc[0].writable and dev.stats["ad_updates"] == 5


# --------------------------------------------------------------------------- MADV_FREE reclaim

A_VA = 0x10000000


def test_clean_madv_free_page_is_discarded_not_swapped():
    host, dev = make_host("notify-inside-lock")
    mm = host.mm
    pfn = mm.translate(A_VA, False).pa >> 12
    drive(host, madv_free(host.kernel, "t", A_VA), dev)
    steps = names(drive(host, try_to_unmap(host.kernel, "t", A_VA), dev))
    assert "add_to_swap" not in steps and "swap_write" not in steps, steps
    assert mm.pte(A_VA) == 0 and mm.page_owner(pfn) == "free" and pfn not in mm.lazyfree
    drive(host, cpu_load(host.kernel, "u", A_VA), dev)
    assert mm.read_value(A_VA) == 0, "a discarded MADV_FREE page refaults as zeros"


def test_a_store_after_madv_free_keeps_the_page():
    host, dev = make_host("notify-inside-lock")
    mm = host.mm
    pfn = mm.translate(A_VA, False).pa >> 12
    drive(host, madv_free(host.kernel, "t", A_VA), dev)
    assert not mm.pte(A_VA) & D
    drive(host, cpu_store(host.kernel, "t", A_VA, 0x1234), dev)
    assert mm.pte(A_VA) & D, "the CPU's MMU sets D on a store"
    drive(host, try_to_unmap(host.kernel, "t", A_VA), dev)
    assert mm.pte(A_VA) & P and mm.translate(A_VA, False).pa >> 12 == pfn and mm.read_value(A_VA) == 0x1234
    assert mm.page_owner(pfn) == "anon" and pfn not in mm.lazyfree


def test_a_device_write_that_walks_keeps_the_page_and_one_that_does_not_is_lost():
    host, dev = make_host("notify-inside-lock")
    mm = host.mm
    tbl = 0x1000  # kernel_helpers.make_host: Host(..., pasid_tbl_base=0x1000, ...)
    pasid = mm.bound_pasid
    drive(host, madv_free(host.kernel, "t", A_VA), dev)
    # a device write through a walk: the walker sets D (translate(..., ad=True) is what it does)
    w = pt.translate(mm.mem, tbl, pasid, A_VA, write=True, ad=True)
    assert w.ok and w.dirty
    mm.mem.write64(w.pa, 0xD0D0)
    drive(host, try_to_unmap(host.kernel, "t", A_VA), dev)
    assert mm.read_value(A_VA) == 0xD0D0, "a walked device write made the page dirty: kept"
    # again, but the device writes through a translation it cached dirty before MADV_FREE
    # (no walk, no D): reclaim judges the page clean and drops it with the write
    drive(host, madv_free(host.kernel, "t", A_VA), dev)
    mm.mem.write64(mm.translate(A_VA, False).pa, 0xBEEF)
    drive(host, try_to_unmap(host.kernel, "t", A_VA), dev)
    assert mm.pte(A_VA) == 0
    frees = [e for e in host.trace.of(FrameEvent) if e.kind == "free"]
    assert frees, "the page was freed with the device's write in it"
