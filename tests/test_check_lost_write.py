"""Lost-write checker (model/check/lost_write.py): hand-derived verdicts."""
from __future__ import annotations

from model.check import check_lost_writes
from model.trace import CpuLoad, CpuStore, DevAccess, PteChange, Trace

P, A, B = 1, 0x1000, 0x2000
OLD, NEW = 0x50000, 0x60000  # A's page before / after a COW


def st(t, va, value, pa=None):
    return CpuStore(time=t, thread="cpu0", pasid=P, va=va, pa=pa if pa is not None else NEW + (va & 0xfff), value=value)


def dw(va, value, mem, pa):
    return DevAccess(thread=0, write=True, pasid=P, va=va, pa=pa, value=value, issue=mem - 3,
                     complete=mem + 2, mem_time=mem)


def ld(t, va, value):
    return CpuLoad(time=t, thread="cpu0", pasid=P, va=va, pa=NEW, value=value)


def failed(v):
    return [x for x in v if not x.ok]


# COW of A at t=5 (copied old page to NEW), the CPU stores A=1 at t=10 into NEW.
COW = [PteChange(time=5, pasid=P, va=A, size=0x1000, old_pa=OLD, new_pa=NEW, writable=True),
       st(10, A, 1)]


def test_device_write_into_old_page_is_lost():
    # Order: W#1 CPU A=1 (t=10), W#2 device A=0xD (mem 20, via the stale translation OLD).
    # W#2 is the last write to A, but the final page tables read NEW, holding 1.
    v = check_lost_writes(Trace(COW + [dw(A, 0xD, 20, OLD)]), {(P, A): 1})
    bad = failed(v)
    assert len(bad) == 1 and bad[0].rule == "lost-write"
    assert "device write of 0xd" in bad[0].message and "va 0x1000" in bad[0].message
    assert "0x50000" in bad[0].message and "t=20" in bad[0].message


def test_device_write_visible_at_end_is_fine():
    assert not failed(check_lost_writes(Trace(COW + [dw(A, 0xD, 20, NEW)]), {(P, A): 0xD}))


def test_device_write_replaced_by_later_cpu_store_is_fine():
    # W#2 device A=0xD (20) is replaced by W#3 CPU A=2 (30); final 2 matches W#3.
    ev = COW + [dw(A, 0xD, 20, OLD), st(30, A, 2)]
    assert not failed(check_lost_writes(Trace(ev), {(P, A): 2}))


def test_cpu_load_that_misses_a_device_write_is_lost_write():
    # The CPU loads A at 25 > 20 and gets 1 (W#1), older than the device's W#2: the
    # write went to a page the CPU no longer reads. Even though W#3 replaces it later
    # (so the final state alone would not show it), the load proves the loss.
    ev = COW + [dw(A, 0xD, 20, OLD), ld(25, A, 1), st(30, A, 2)]
    bad = failed(check_lost_writes(Trace(ev), {(P, A): 2}))
    assert len(bad) == 1 and "CPU load" in bad[0].message and "t=25" in bad[0].message


def test_cpu_load_in_the_same_cycle_as_the_write_is_not_judged():
    ev = COW + [dw(A, 0xD, 20, NEW), ld(20, A, 1), ld(21, A, 0xD)]
    assert not failed(check_lost_writes(Trace(ev), {(P, A): 0xD}))


def test_mapping_removal_exempts_the_write():
    # MADV_DONTNEED-like: the mapping is removed at 30, so A reads zero at the end.
    ev = COW + [dw(A, 0xD, 20, NEW),
                PteChange(time=30, pasid=P, va=A, size=0x1000, old_pa=NEW, new_pa=None)]
    assert not failed(check_lost_writes(Trace(ev), {(P, A): 0}))
    # Unmapped at the end (None) or not in `final`: not judged.
    assert not failed(check_lost_writes(Trace(COW + [dw(A, 0xD, 20, OLD)]), {(P, A): None}))
    assert not failed(check_lost_writes(Trace(COW + [dw(A, 0xD, 20, OLD)]), {}))


def test_cpu_store_clobbered_through_a_reused_frame():
    # The CPU stored B=5; at the end B holds 0xD (a device write to another VA landed
    # in B's frame). The last write to B is the CPU store, so it was lost.
    ev = [st(10, B, 5, pa=0x70000), dw(A, 0xD, 20, 0x70000)]
    bad = failed(check_lost_writes(Trace(ev), {(P, B): 0xD, (P, A): 0xD}))
    assert len(bad) == 1 and "CPU store of 0x5" in bad[0].message


def test_final_may_be_a_function():
    ev = Trace(COW + [dw(A, 0xD, 20, OLD)])
    assert failed(check_lost_writes(ev, lambda pasid, va: 1))
    assert not failed(check_lost_writes(ev, lambda pasid, va: 0xD))
