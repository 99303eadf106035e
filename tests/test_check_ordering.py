"""Ordering checker (model/check/ordering.py): hand-derived verdicts.

Notation in the comments: W#k is the k-th write of the global write order
(CPU stores in trace order, device writes at their memory time); W#0 is the
initial content. A read "needs k in [lo, hi)" when its value is the latest
write to its address exactly for prefixes lo..hi-1.
"""
from __future__ import annotations

from model.check import check_ordering
from model.check.ordering import analyze_ordering
from model.trace import CpuStore, DevAccess, Trace

P = 1
A, B = 0x1000, 0x3000          # two VAs at least a page apart (the doc's addrA, addrB)
DATA, FLAG = 0x5000, 0x6000


def st(t: int, va: int, value: int, thread: str = "cpu0") -> CpuStore:
    return CpuStore(time=t, thread=thread, pasid=P, va=va, pa=0x100000 + va, value=value)


def rd(va: int, value: int, issue: int, complete: int | None = None, mem: int | None = None,
       thread: int = 0) -> DevAccess:
    """A device read; with `mem`, the window is that instant, else [issue, complete]."""
    return DevAccess(thread=thread, write=False, pasid=P, va=va, pa=0x100000 + va, value=value,
                     issue=issue, complete=complete if complete is not None else issue + 4,
                     mem_time=mem)


def wr(va: int, value: int, mem: int, thread: int = 1, fault: int = 0) -> DevAccess:
    return DevAccess(thread=thread, write=True, pasid=P, va=va, pa=0x200000 + va, value=value,
                     issue=mem - 2, complete=mem + 2, mem_time=None if fault else mem, fault=fault)


def failed(verdicts, rule: str | None = None):
    return [v for v in verdicts if not v.ok and (rule is None or v.rule == rule)]


def run(events, initial=None):
    return check_ordering(Trace(list(events)), initial)


# ---------------------------------------------------------------- message passing

INIT_MP = {(P, DATA): 0, (P, FLAG): 0}
MP_STORES = [st(10, DATA, 0x10), st(20, FLAG, 0x20)]  # W#1 data=0x10, W#2 flag=0x20


def test_message_passing_new_flag_old_data_is_violation():
    # flag=0x20 is W#2, needs k in [2, 3): the lazy view is 2 after t=30.
    # data=0 is W#0 (initial), needs k in [0, 1), and starts at 40 > 30: L=2 >= 1.
    v = run(MP_STORES + [rd(FLAG, 0x20, 28, mem=30), rd(DATA, 0, 38, mem=40)], INIT_MP)
    bad = failed(v)
    assert [x.rule for x in bad] == ["ordering"]
    msg = bad[0].message
    assert "va 0x5000" in msg and "va 0x6000" in msg and "write #2" in msg and "write #1" in msg
    # Events: the bad read, the overwriting store, the witness read and its store.
    assert bad[0].events[0].va == DATA and any(getattr(e, "value", None) == 0x20 for e in bad[0].events)


def test_message_passing_new_flag_new_data_is_fine():
    # flag: k in [2,3) at 30; data=0x10: k in [1,3) at 40 -> k=2 works.
    v = run(MP_STORES + [rd(FLAG, 0x20, 28, mem=30), rd(DATA, 0x10, 38, mem=40)], INIT_MP)
    assert not failed(v)


def test_message_passing_old_data_then_new_flag_is_fine():
    # data=0 at 15 (k=0, even though W#1 was performed at 10: slow is allowed), flag new at 30.
    v = run(MP_STORES + [rd(DATA, 0, 13, mem=15), rd(FLAG, 0x20, 28, mem=30)], INIT_MP)
    assert not failed(v)


# ---------------------------------------------------------------- the doc's COW timeline

# Time N+3: CPU-thread-2 writes addrA on its new page (W#1); CPU-thread-3 writes
# addrB on its new page (W#2). Old content of both pages: 0xA0 and 0xB0.
INIT_COW = {(P, A): 0xA0, (P, B): 0xB0}
COW_STORES = [st(3, A, 0xA1, "cpu2"), st(4, B, 0xB1, "cpu3")]


def test_cow_timeline_new_b_then_old_a_is_violation():
    # DEV-thread-2 reads addrB from the new page in [10,12]: needs k in [2,3) -> view 2 by 12.
    # DEV-thread-0 then reads addrA from the old page in [15,17]: needs k in [0,1); 2 >= 1.
    v = run(COW_STORES + [rd(B, 0xB1, 10, 12, thread=2), rd(A, 0xA0, 15, 17, thread=0)], INIT_COW)
    bad = failed(v)
    assert [x.rule for x in bad] == ["ordering"]
    assert "va 0x1000" in bad[0].message and "[15, 17]" in bad[0].message and "[10, 12]" in bad[0].message


def test_cow_timeline_overlapping_reads_are_not_a_violation():
    # Windows [10,16] and [12,18] overlap: the old-A read may be placed first (k=0 at 12)
    # and the new-B read after it (k=2 at 16). The same holds when both hit memory in
    # the same cycle (the doc's "Time N+5" row): order inside one cycle is not observable.
    v = run(COW_STORES + [rd(B, 0xB1, 10, 16, thread=2), rd(A, 0xA0, 12, 18, thread=0)], INIT_COW)
    assert not failed(v)
    v = run(COW_STORES + [rd(B, 0xB1, 20, mem=25, thread=2), rd(A, 0xA0, 20, mem=25, thread=0)], INIT_COW)
    assert not failed(v)


def test_cow_timeline_one_cycle_apart_is_a_violation():
    v = run(COW_STORES + [rd(B, 0xB1, 20, mem=25, thread=2), rd(A, 0xA0, 21, mem=26, thread=0)], INIT_COW)
    assert [x.rule for x in failed(v)] == ["ordering"]


# ---------------------------------------------------------------- slow device

def test_slow_device_old_values_for_long_then_new_in_order_is_fine():
    # W#1..W#4 alternate A, B. The device reads the initial values until t=1000,
    # then A=0xA1 (k in [1,3)), B=0xB1 (k in [2,4)), A=0xA2 (k in [3,5)), B=0xB2 (k >= 4).
    stores = [st(10, A, 0xA1), st(11, B, 0xB1), st(12, A, 0xA2), st(13, B, 0xB2)]
    reads = [rd(A if i % 2 else B, 0xA0 if i % 2 else 0xB0, 100 * i, mem=100 * i + 1) for i in range(1, 10)]
    reads += [rd(A, 0xA1, 1000, mem=1001), rd(B, 0xB1, 1010, mem=1011),
              rd(A, 0xA2, 1020, mem=1021), rd(B, 0xB2, 1030, mem=1031)]
    res = analyze_ordering(Trace(stores + reads), INIT_COW)
    assert not res.violations
    views = [res.view[i] for i in sorted(res.view)]
    assert views == sorted(views) and views[-4:] == [1, 2, 3, 4]


# ---------------------------------------------------------------- coherence

def test_write_to_write_coherence_opposite_order_is_violation():
    # W#1 A=1, W#2 A=2. Read A=2 (k in [2,3)) then A=1 (k in [1,2)): same address -> coherence.
    v = run([st(10, A, 1), st(20, A, 2), rd(A, 2, 30, mem=31), rd(A, 1, 40, mem=41)], {(P, A): 0})
    bad = failed(v)
    assert [x.rule for x in bad] == ["coherence"]
    assert "same address" in bad[0].message


def test_write_to_write_coherence_in_order_is_fine():
    v = run([st(10, A, 1), st(20, A, 2), rd(A, 1, 30, mem=31), rd(A, 2, 40, mem=41)], {(P, A): 0})
    assert not failed(v)


def test_device_write_joins_the_order_at_mem_time():
    # CPU A=1 at 10 (W#1); device writes A=0xD at 20 (W#2, after W#1 since 10 <= 20).
    # Device reads A=0xD (k in [2,3)) at 25, then A=1 (k in [1,2)) at 30: the device saw
    # the two writes to A in the opposite of their order.
    ev = [st(10, A, 1), wr(A, 0xD, 20), rd(A, 0xD, 24, mem=25), rd(A, 1, 29, mem=30)]
    assert [x.rule for x in failed(run(ev, {(P, A): 0}))] == ["coherence"]
    assert not failed(run(ev[:3], {(P, A): 0}))


def test_read_own_write_coherence():
    # Device wrote A=0xD at 20 (W#2). A read whose window starts after 20 must see W#2
    # or later; returning the CPU's A=1 (W#1, replaced by W#2) is a coherence failure.
    base = [st(10, A, 1), wr(A, 0xD, 20)]
    bad = failed(run(base + [rd(A, 1, 30, mem=32)], {(P, A): 0}))
    assert [x.rule for x in bad] == ["coherence"] and "device itself had written 0xd" in bad[0].message
    assert not failed(run(base + [rd(A, 0xD, 30, mem=32)], {(P, A): 0}))
    # A read overlapping the write (window [18, 22]) may have come first: fine.
    assert not failed(run(base + [rd(A, 1, 18, 22)], {(P, A): 0}))
    # A faulted device write changed nothing and constrains nothing.
    assert not failed(run([st(10, A, 1), wr(A, 0xD, 20, fault=2), rd(A, 1, 30, mem=32)], {(P, A): 0}))


def test_device_writes_do_not_drag_the_view_forward():
    # A lagging device may write B at 20 and still read A's old value at 30 (k=0 is
    # allowed for the A read; the B write alone does not move the view).
    ev = [st(10, A, 0xA1), wr(B, 0xD, 20), rd(A, 0xA0, 29, mem=30)]
    assert not failed(run(ev, INIT_COW))
    # ...but once it reads its own B back (view >= W#2, placed after W#1), old A is a violation.
    ev2 = [st(10, A, 0xA1), wr(B, 0xD, 20), rd(B, 0xD, 24, mem=25), rd(A, 0xA0, 29, mem=30)]
    assert [x.rule for x in failed(run(ev2, INIT_COW))] == ["ordering"]


# ---------------------------------------------------------------- future-read and unknown-value

def test_future_read_is_violation():
    # W#1 A=1 is performed at 50; a read that hit memory at 40 cannot have returned it.
    bad = failed(run([st(50, A, 1), rd(A, 1, 38, mem=40)], {(P, A): 0}))
    assert [x.rule for x in bad] == ["future-read"] and "t=50" in bad[0].message


def test_read_window_ending_at_the_store_may_see_it():
    # Window [30, 50] (no mem_time) ends in the store's cycle: allowed (lenient tie).
    assert not failed(run([st(50, A, 1), rd(A, 1, 30, 50)], {(P, A): 0}))


def test_unknown_value_is_violation():
    bad = failed(run([st(10, A, 1), rd(A, 0x999, 20, mem=21)], {(P, A): 0}))
    assert [x.rule for x in bad] == ["unknown-value"] and "0x999" in bad[0].message


def test_unknown_value_fine_when_value_was_written():
    assert not failed(run([st(10, A, 1), rd(A, 1, 20, mem=21)], {(P, A): 0}))


def test_initial_value_inferred_from_first_unwritten_observation():
    # No `initial`: 7 is the first value returned for A that no write produced -> initial.
    res = analyze_ordering(Trace([st(10, A, 1), rd(A, 7, 5, mem=6), rd(A, 1, 20, mem=21)]))
    assert res.inferred == {(P, A): 7} and not res.violations
    # A second, different unwritten value is garbage.
    v = run([rd(A, 7, 5, mem=6), rd(A, 8, 20, mem=21)])
    assert [x.rule for x in failed(v)] == ["unknown-value"]
    # Given `initial` wins: 7 is then garbage too.
    assert [x.rule for x in failed(run([rd(A, 7, 5, mem=6)], {(P, A): 0}))] == ["unknown-value"]


def test_ok_verdicts_cover_every_rule_and_reports_are_capped():
    v = run([st(10, A, 1)], {(P, A): 0})
    assert sorted(x.rule for x in v) == sorted(["ordering", "coherence", "future-read", "unknown-value"])
    assert all(x.ok for x in v)
    many = [st(10, A, 1)] + [rd(A, 0x1000 + i, 20 + i, mem=20 + i) for i in range(60)]
    bad = failed(check_ordering(Trace(many), {(P, A): 0}, max_reports=5))
    assert len(bad) == 6 and bad[-1].metrics == {"unlisted": 55}


def test_same_cycle_cpu_store_and_device_write_follow_the_memory_port_record():
    # CPU A=1 and a device write A=0xD both at cycle 20. With the device's DMA MemAccess
    # recorded before the CpuStore, the device write came first: order W#1=0xD, W#2=1,
    # so reading 1 after the device's own write is fine. Without the port record the
    # DevAccess (appended at completion) places the device write after the store, and
    # reading 1 after it is a coherence failure.
    from model.trace import MemAccess
    d = wr(A, 0xD, 20)
    port = MemAccess(time=20, source="dma", pa=d.pa, write=True, value=0xD, tag=1)
    read = rd(A, 1, 30, mem=31)
    assert not failed(run([port, st(20, A, 1), d, read], {(P, A): 0}))
    assert [x.rule for x in failed(run([st(20, A, 1), d, read], {(P, A): 0}))] == ["coherence"]
