"""mm_struct: VMAs, locks, PASID binding, CPU accesses through the tables."""
from __future__ import annotations

import pytest

from model import pagetable as pt
from model.ats import Fault
from model.memory import PAGE_SIZE
from model.mm import (HPAGE_NR, HPAGE_SIZE, Blocked, PageLocks, PtLock, RwSem, ValueSource, Vma)
from model.ops import cpu_load, cpu_store
from model.trace import CpuLoad, CpuStore, FrameEvent, PteChange
from tests.kernel_helpers import drive, make_host, names


def test_pasid_binding_points_the_device_walker_at_the_mm_tables():
    host, _ = make_host()
    mm = host.mm
    assert mm.pasid_table.get(1) == mm.tables.root_pa
    # The walk the device does (PASID entry first) lands where the CPU's does.
    for va in (0x10000000, 0x20000000, 0x40000000 + 0x1238):
        dev = pt.translate(mm.mem, 0x1000, 1, va)
        cpu = mm.translate(va, False)
        assert dev.ok and cpu.ok and dev.pa == cpu.pa
    # Another PASID is not bound: the device faults at the PASID entry.
    assert pt.translate(mm.mem, 0x1000, 2, 0x10000000).fault == Fault.PASID


def test_vmas_must_not_overlap_and_lookup_finds_the_right_one():
    host, _ = make_host()
    mm = host.mm
    with pytest.raises(ValueError, match="overlaps"):
        mm.add_vma(Vma(0x1000F000, 0x10011000, "anon", True))
    assert mm.find_vma(0x1000FFF8).start == 0x10000000
    assert mm.find_vma(0x10010000) is None
    mm.remove_vma_range(0x10002000, 0x10004000)  # munmap splits the VMA in two
    assert mm.find_vma(0x10002000) is None
    assert mm.find_vma(0x10001000).end == 0x10002000
    assert mm.find_vma(0x10004000).start == 0x10004000


def test_pt_lock_blocks_a_second_thread_until_released():
    lock = PtLock()
    assert list(lock.acquire("CPU-thread-0")) == []  # free: taken without waiting
    waiter = lock.acquire("CPU-thread-1")
    b = next(waiter)
    assert isinstance(b, Blocked) and "CPU-thread-0" in b.reason and not b.ready()
    lock.release("CPU-thread-0")
    assert b.ready()
    assert list(waiter) == [] and lock.owner == "CPU-thread-1"
    with pytest.raises(RuntimeError):
        lock.release("CPU-thread-0")


def test_mmap_lock_readers_share_writers_exclude():
    sem = RwSem()
    assert list(sem.down_read("a")) == [] and list(sem.down_read("b")) == []
    w = sem.down_write("c")
    b = next(w)
    assert not b.ready()
    sem.up_read("a")
    sem.up_read("b")
    assert b.ready() and list(w) == [] and sem.writer == "c"
    r = sem.down_read("a")
    assert not next(r).ready()


def test_page_lock_is_per_frame():
    locks = PageLocks()
    assert locks.trylock(5, "x") and not locks.trylock(5, "y") and locks.trylock(6, "y")
    locks.unlock(5, "x")
    assert locks.trylock(5, "y")


def test_values_are_unique_per_source():
    v = ValueSource()
    got = [v.cpu(), v.cpu(), v.dev(), v.initial(), v.dev()]
    assert len(set(got)) == len(got)
    assert got[0] >> 60 == 0xC and got[2] >> 60 == 0xD and got[3] >> 60 == 0x1


def test_cpu_store_goes_through_the_current_tables_and_is_recorded():
    host, dev = make_host()
    mm = host.mm
    steps = drive(host, cpu_store(host.kernel, "CPU-thread-0", 0x10000008, 0x1234), dev)
    assert names(steps) == ["store"]  # present and writable: no fault
    st = host.trace.of(CpuStore)
    pa = mm.translate(0x10000008, True).pa
    assert st == [CpuStore(time=0, thread="CPU-thread-0", pasid=1, va=0x10000008, pa=pa, value=0x1234)]
    assert mm.mem.read64(pa) == 0x1234
    drive(host, cpu_load(host.kernel, "CPU-thread-1", 0x10000008), dev)
    assert host.trace.of(CpuLoad)[-1].value == 0x1234


def test_store_to_a_cow_page_copies_and_leaves_the_childs_page_alone():
    host, dev = make_host()
    mm = host.mm
    old_pa = mm.translate(0x10002000, False).pa
    initial = mm.mem.read64(old_pa)
    old_pfn = old_pa >> 12
    assert mm.refcount(old_pfn) == 2 and mm.map_count(old_pfn) == 2  # the forked child maps it too
    steps = drive(host, cpu_store(host.kernel, "CPU-thread-0", 0x10002000, 0x77), dev)
    assert names(steps)[0] == "fault" and names(steps)[-1] == "store"
    new = mm.translate(0x10002000, True)
    assert new.ok and new.pa != old_pa
    assert mm.mem.read64(old_pa) == initial  # the child's copy is untouched
    assert mm.mem.read64(new.pa) == 0x77
    assert mm.refcount(old_pfn) == 1 and mm.map_count(old_pfn) == 1


def test_store_to_read_only_vma_is_a_segfault_and_stores_nothing():
    host, dev = make_host()
    steps = drive(host, cpu_store(host.kernel, "CPU-thread-0", 0x20000000, 5), dev)
    assert names(steps) == ["fault", "segv"]  # the CPU faults; the handler finds no permission
    assert host.trace.of(CpuStore) == []


def test_first_touch_maps_zero_page_on_read_and_a_new_page_on_write():
    host, dev = make_host()
    mm = host.mm
    drive(host, cpu_load(host.kernel, "t", 0x10005000), dev)
    assert mm.translate(0x10005000, False).pa == mm.zero_pfn << 12
    assert not mm.translate(0x10005000, False).writable
    drive(host, cpu_store(host.kernel, "t", 0x10005000, 9), dev)  # zero-page write fault
    w = mm.translate(0x10005000, True)
    assert w.ok and w.pa >> 12 != mm.zero_pfn
    ch = host.trace.of(PteChange)
    assert ch[0].old_pa is None and ch[0].new_pa == mm.zero_pfn << 12
    assert ch[1].old_pa == mm.zero_pfn << 12 and ch[1].new_pa == w.pa and ch[1].writable


def test_final_read_of_unmapped_address_is_none():
    host, _ = make_host()
    assert host.mm.read_value(0x10005000) is None  # never touched
    assert host.mm.read_value(0x30000000) is None  # no VMA
    assert host.mm.read_value(0x10004000) == 0  # zero page


def test_huge_pages_are_contiguous_aligned_and_tracked_as_frames():
    host, _ = make_host()
    mm = host.mm
    w = mm.translate(0x40000000 + 0x3008, False)
    assert w.ok and w.page_size == HPAGE_SIZE and w.base % HPAGE_SIZE == 0
    first = w.base >> 12
    assert all(mm.refcount(first + i) == 1 for i in range(HPAGE_NR))
    allocs = [e.pfn for e in host.trace.of(FrameEvent) if e.kind == "alloc" and e.owner == "anon"]
    assert set(range(first, first + HPAGE_NR)) <= set(allocs)
    second = mm.huge.alloc()
    assert second % (HPAGE_SIZE // PAGE_SIZE) == 0 and second != first
