"""FrameAllocator: refcounts, owners, zero page, LIFO reuse, FrameEvent history."""
import pytest

from model.frames import FrameAllocator
from model.memory import PhysMem
from model.trace import FrameEvent, Trace


def make(n=4, now=None):
    m = PhysMem()
    tr = Trace()
    clock = (lambda: now[0]) if now is not None else (lambda: 0)
    return m, tr, FrameAllocator(m, 0x100, n, trace=tr, clock=clock)


def test_zero_page_is_first_frame_and_never_freed():
    m, tr, fa = make()
    assert fa.zero_pfn == 0x100
    assert fa.owner(0x100) == "zero"
    assert tr.of(FrameEvent) == [FrameEvent(0, 0x100, "alloc", "zero")]
    fa.get(0x100)
    assert fa.put(0x100) is False
    assert fa.put(0x100) is False
    assert fa.owner(0x100) == "zero"


def test_alloc_order_refcount_and_free_events():
    now = [10]
    m, tr, fa = make(now=now)
    a = fa.alloc("anon")
    b = fa.alloc("pagetable")
    assert (a, b) == (0x101, 0x102)
    assert fa.owner(a) == "anon" and fa.owner(b) == "pagetable"
    assert fa.refcount(a) == 1
    fa.get(a)
    assert fa.refcount(a) == 2
    now[0] = 25
    assert fa.put(a) is False
    assert fa.owner(a) == "anon"
    assert fa.put(a) is True
    assert fa.owner(a) == "free" and fa.refcount(a) == 0
    assert tr.of(FrameEvent)[1:] == [
        FrameEvent(10, 0x101, "alloc", "anon"),
        FrameEvent(10, 0x102, "alloc", "pagetable"),
        FrameEvent(25, 0x101, "free", "anon"),
    ]
    with pytest.raises(ValueError):
        fa.put(a)  # double free
    with pytest.raises(ValueError):
        fa.get(a)


def test_freed_frame_is_reused_first_and_zero_filled():
    m, tr, fa = make(n=8)
    a = fa.alloc("anon")
    fa.alloc("anon")
    m.write64(a << 12, 0x5555)
    fa.put(a)
    c = fa.alloc("ksm")
    assert c == a, "LIFO: the page just freed is handed out next"
    assert m.read64(a << 12) == 0
    assert fa.owner(c) == "ksm"


def test_exhaustion_and_set_owner():
    m, tr, fa = make(n=3)
    a = fa.alloc("anon")
    fa.alloc("anon")
    with pytest.raises(MemoryError):
        fa.alloc("anon")
    fa.set_owner(a, "ksm")
    assert fa.owner(a) == "ksm"
    assert fa.put(a) is True
    assert tr.events[-1] == FrameEvent(0, a, "free", "ksm")
    assert fa.free_count == 1
    assert fa.contains(0x102) and not fa.contains(0x103)
