"""Use-after-free checker (model/check/uaf.py): hand-derived verdicts."""
from __future__ import annotations

from model.check import check_uaf
from model.trace import DevAccess, FrameEvent, MemAccess, PteChange, Trace

P, VA = 1, 0x400000
X, Y = 0x5000, 0x6000  # frames pfn 5 and 6


def acc(pa, mem, write=False, va=VA):
    return DevAccess(thread=2, write=write, pasid=P, va=va, pa=pa, value=0x77, issue=mem - 3,
                     complete=mem + 2, mem_time=mem)


def failed(v):
    return [x for x in v if not x.ok]


LIFE = [FrameEvent(time=0, pfn=5, kind="alloc", owner="anon"),
        FrameEvent(time=20, pfn=5, kind="free")]


def test_access_to_free_frame():
    # pfn 5 is free from t=20 (exclusive); a DMA read at 25 and its memory-port record
    # are one finding.
    ev = LIFE + [acc(X + 8, 25), MemAccess(time=25, source="dma", pa=X + 8, write=False, value=0x77, tag=2)]
    bad = failed(check_uaf(Trace(ev)))
    assert len(bad) == 1 and bad[0].rule == "use-after-free"
    assert "pfn 0x5" in bad[0].message and "t=25" in bad[0].message and "free since" in bad[0].message
    assert {type(e).__name__ for e in bad[0].events} == {"DevAccess", "MemAccess", "FrameEvent"}


def test_access_before_free_or_in_the_same_cycle_is_fine():
    assert not failed(check_uaf(Trace(LIFE + [acc(X, 15), acc(X, 20)])))


def test_access_before_first_alloc_is_to_a_free_frame():
    ev = [FrameEvent(time=10, pfn=5, kind="alloc", owner="anon"), acc(X, 5)]
    assert [x.rule for x in failed(check_uaf(Trace(ev)))] == ["use-after-free"]


def test_reassigned_frame():
    # VA mapped X until the change at 10 (X -> Y); X freed at 12, reallocated at 14
    # for another owner; the device writes through the stale translation at 16:
    # X is allocated, but not to this mapping any more.
    ev = [FrameEvent(time=0, pfn=5, kind="alloc", owner="anon"),
          FrameEvent(time=0, pfn=6, kind="alloc", owner="anon"),
          PteChange(time=10, pasid=P, va=VA, size=0x1000, old_pa=X, new_pa=Y, writable=True),
          FrameEvent(time=12, pfn=5, kind="free"),
          FrameEvent(time=14, pfn=5, kind="alloc", owner="pagetable"),
          acc(X + 0x10, 16, write=True, va=VA + 0x10)]
    bad = failed(check_uaf(Trace(ev)))
    assert len(bad) == 1 and "reallocated" in bad[0].message and "removed by PteChange(t=10" in bad[0].message


def test_stale_translation_without_free_is_not_uaf():
    # Same remap, but X is not freed (e.g. KSM keeps it, or COW before the put):
    # a stale use is a stale window, not a use-after-free.
    ev = [FrameEvent(time=0, pfn=5, kind="alloc", owner="anon"),
          PteChange(time=10, pasid=P, va=VA, size=0x1000, old_pa=X, new_pa=Y, writable=True),
          acc(X, 16), acc(Y, 17)]
    assert not failed(check_uaf(Trace(ev)))


def test_huge_page_mapping_offsets():
    # 2 MiB mapping of VA at 0x200000..; the 4 KiB frame at offset 0x3000 is freed after
    # the mapping went away; an access to it via the stale translation is reported.
    base_pa = 0x40000000
    ev = [PteChange(time=10, pasid=P, va=0x200000, size=0x200000, old_pa=base_pa, new_pa=None),
          FrameEvent(time=0, pfn=(base_pa + 0x3000) >> 12, kind="alloc", owner="anon"),
          FrameEvent(time=12, pfn=(base_pa + 0x3000) >> 12, kind="free"),
          FrameEvent(time=13, pfn=(base_pa + 0x3000) >> 12, kind="alloc", owner="anon"),
          acc(base_pa + 0x3008, 16, va=0x203008)]
    assert len(failed(check_uaf(Trace(ev)))) == 1


def test_walker_reads():
    pt = [FrameEvent(time=0, pfn=9, kind="alloc", owner="pagetable"),
          FrameEvent(time=0, pfn=5, kind="alloc", owner="pagetable")]
    good = [MemAccess(time=5, source="walk", pa=0x9ff8, write=False, value=0, tag=1)]
    assert not failed(check_uaf(Trace(pt + good)))
    # A page-table page freed at 20 and read by the walker at 30: free.
    freed = pt + [FrameEvent(time=20, pfn=9, kind="free"),
                  MemAccess(time=30, source="walk", pa=0x9ff8, write=False, value=0, tag=1)]
    assert "page walk read" in failed(check_uaf(Trace(freed)))[0].message
    # Freed at 20 and reused as anon data at 25: the walker follows garbage.
    reused = freed[:-1] + [FrameEvent(time=25, pfn=9, kind="alloc", owner="anon"),
                           MemAccess(time=30, source="walk", pa=0x9ff8, write=False, value=0, tag=1)]
    bad = failed(check_uaf(Trace(reused)))
    assert len(bad) == 1 and "anon data" in bad[0].message
