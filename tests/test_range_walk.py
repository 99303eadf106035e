"""Range operations visit the page-table entries that exist, not every 4 KiB page.

munmap of a 1 TiB VMA used to look up 2^28 leaves (about 15 minutes); the
walk now skips empty PML4/PDPT/PD subtrees (PageTables.next_leaf), so the
cost follows what is mapped, and every mapped leaf is still found.
"""
from __future__ import annotations

import pytest

from model.frames import FrameAllocator
from model.memory import PhysMem
from model.pagetable import SIZE_1G, SIZE_2M, SIZE_4K, PageTables
from model.scenario import parse
from model.scheduler import run_scenario_sync
from model.trace import PteChange

TIB = 1 << 40


class CountingMem(PhysMem):
    reads = 0

    def read64(self, pa: int) -> int:
        self.reads += 1
        return super().read64(pa)


def test_next_leaf_finds_every_leaf_in_order_and_skips_empty_subtrees():
    mem = CountingMem()
    pt = PageTables(mem, FrameAllocator(mem, 0x100, 64))
    leaves = [(0x1000, SIZE_4K), (0x5000, SIZE_4K), (0x4020_0000, SIZE_2M), (0x80_0000_0000, SIZE_1G),
              (0x7FFF_FFFF_F000, SIZE_4K)]
    for i, (va, size) in enumerate(leaves):
        pt.map(va, (16 + i) * SIZE_1G if size == SIZE_1G else 0x4000_0000 + i * SIZE_2M, size)
    pt.set_leaf(0x9000, 0x1234_5000 << 1)  # a non-present, non-zero PTE (a swap entry) is a leaf too
    found, va = [], 0
    mem.reads = 0
    while (va := pt.next_leaf(va, 1 << 47)) is not None:
        hit = pt.leaf(va)
        found.append(va)
        va = (va & ~(hit[2] - 1)) + hit[2]
    assert found == sorted([v for v, _ in leaves] + [0x9000])
    assert mem.reads < 20_000, mem.reads  # a few tables of 512 entries, not 2^35 pages
    # a start inside a huge leaf finds that leaf at the start; an empty range finds nothing
    assert pt.next_leaf(0x4020_3000, 0x4040_0000) == 0x4020_3000
    assert pt.next_leaf(0x6000, 0x9000) is None and pt.next_leaf(0x9000, 0x9000) is None


#: page-table lookups a range operation over the 1 TiB VMA may make: what is mapped
#: plus the empty subtrees skipped, far below the 2^28 leaves a page-by-page walk visits
LOOKUP_BUDGET = 100_000


def test_munmap_of_a_1_tib_vma_is_fast_and_unmaps_everything(monkeypatch: pytest.MonkeyPatch):
    text = f"""vma 0x10000000 {0x10000000 + TIB:#x} anon rw
page A 0x10000000 present
page B 0x10002000 present count=3
page H 0x10200000 huge
page Z {0x10000000 + TIB - 0x1000:#x} present
[Time 0]
DEV-thread-0 {{read A}}
DEV-thread-1 {{read Z}}
[Time 1]
CPU-thread-0 {{munmap A {TIB:#x}}}
[Time 2]
DEV-thread-0 {{read A}}
CPU-thread-1 {{mprotect A {TIB:#x} ro; madv_free A {TIB:#x}; madv_dontneed A {TIB:#x}; clear_soft_dirty}}
"""
    # the cost is counted in page-table lookups, not seconds (a loaded machine
    # must not fail it); past the budget the walk stops at once
    calls = {"n": 0}
    for name in ("leaf", "next_leaf", "entry"):
        orig = getattr(PageTables, name)

        def counted(self, *a, _orig=orig, **k):
            calls["n"] += 1
            if calls["n"] > LOOKUP_BUDGET:
                raise AssertionError(f"more than {LOOKUP_BUDGET} page-table lookups: a page-by-page walk")
            return _orig(self, *a, **k)
        monkeypatch.setattr(PageTables, name, counted)
    res = run_scenario_sync(parse(text, "tib.scn"), "deferred", 0)
    assert 0 < calls["n"] <= LOOKUP_BUDGET
    cleared = sorted(e.va for e in res.trace.of(PteChange) if e.new_pa is None)
    assert cleared == [0x10000000, 0x10002000, 0x10003000, 0x10004000, 0x10200000, 0x10000000 + TIB - 0x1000]
    assert res.final[(1, 0x10000000)] is None  # unmapped: the last device read faulted


def test_the_lookup_budget_catches_a_page_by_page_walk(monkeypatch: pytest.MonkeyPatch):
    """Known-bad case: a next_leaf that steps 4 KiB at a time runs out of the
    budget at once (the scheduler reports it as a scenario error)."""
    def page_by_page(self, start, end):
        va = start
        while va < end:
            if PageTables.leaf(self, va) is not None:
                return va
            va += SIZE_4K
        return None
    monkeypatch.setattr(PageTables, "next_leaf", page_by_page)
    with pytest.raises(Exception, match="page-by-page walk"):
        test_munmap_of_a_1_tib_vma_is_fast_and_unmaps_everything(monkeypatch)
