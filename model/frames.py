"""Page-frame allocator with refcounts, owners and a shared zero page.

The use-after-free checker needs to know, for any instant, whether a frame
was free or belonged to someone else; so every allocation and free is a
`FrameEvent` in the trace, stamped by the caller's clock. Freed frames are
reused last-in first-out (like the kernel's hot per-CPU lists) so a stale
device access to a freed page tends to land on a page that already has a new
owner, which is the corruption case the project wants to expose.

Page-table pages come from a pool of their own (`model.mm.Mm`), but a freed
page-table page goes back to the data allocator (`lend_to`), on top of its
free list: in Linux both come from the one buddy allocator, and the next data
page allocated is then the old page-table page. A device walk through a stale
page-walk-cache entry reads that data as page-table entries.
"""
from __future__ import annotations

from typing import Callable

from .memory import PAGE_SHIFT
from .trace import FrameEvent, Trace

FREE = "free"
ZERO = "zero"


class FrameAllocator:
    """Frames `first_pfn .. first_pfn + num_frames - 1`; the first is the zero page."""

    def __init__(self, mem, first_pfn: int, num_frames: int, trace: Trace | None = None,
                 clock: Callable[[], int] = lambda: 0) -> None:
        if num_frames < 2:
            raise ValueError("need at least two frames (one is the zero page)")
        if first_pfn < 0 or (first_pfn + num_frames) << PAGE_SHIFT > mem.limit:
            raise ValueError("frame range outside physical memory")
        self.mem = mem
        self.first_pfn = first_pfn
        self.num_frames = num_frames
        self.trace = trace
        self.clock = clock
        self._owner: dict[int, str] = {}
        self._ref: dict[int, int] = {}
        #: where freed frames go instead of this allocator's own free list
        self.lend_to: FrameAllocator | None = None
        self._lent: set[int] = set()  # frames of this range handed to `lend_to`
        self._foreign: set[int] = set()  # frames of another range adopted here
        # Lowest PFNs come out first on a fresh allocator (reverse stack).
        self._free: list[int] = list(range(first_pfn + num_frames - 1, first_pfn, -1))
        self.zero_pfn: int = first_pfn
        mem.zero_page(first_pfn << PAGE_SHIFT)
        self._owner[first_pfn] = ZERO
        self._ref[first_pfn] = 1
        self._record(first_pfn, "alloc", ZERO)

    def _record(self, pfn: int, kind: str, owner: str) -> None:
        if self.trace is not None:
            self.trace.add(FrameEvent(time=self.clock(), pfn=pfn, kind=kind, owner=owner))

    def _live(self, pfn: int) -> None:
        if pfn not in self._ref:
            raise ValueError(f"pfn {pfn:#x} is not allocated")

    def alloc(self, owner: str) -> int:
        if not owner or owner == FREE:
            raise ValueError(f"bad owner {owner!r}")
        if not self._free:
            raise MemoryError("frame allocator exhausted")
        pfn = self._free.pop()
        self.mem.zero_page(pfn << PAGE_SHIFT)
        self._owner[pfn] = owner
        self._ref[pfn] = 1
        self._record(pfn, "alloc", owner)
        return pfn

    def get(self, pfn: int) -> None:
        self._live(pfn)
        if pfn != self.zero_pfn:  # the zero page is not refcounted (as in Linux)
            self._ref[pfn] += 1

    def put(self, pfn: int) -> bool:
        self._live(pfn)
        if pfn == self.zero_pfn:
            return False
        self._ref[pfn] -= 1
        if self._ref[pfn]:
            return False
        owner = self._owner.pop(pfn)
        del self._ref[pfn]
        self._record(pfn, "free", owner)
        if self.lend_to is not None:
            self._lent.add(pfn)
            self.lend_to.adopt(pfn)
        else:
            self._free.append(pfn)
        return True

    def adopt(self, pfn: int) -> None:
        """Take a free frame of another allocator; it is the next one handed out."""
        if self.contains(pfn) or pfn in self._ref:
            raise ValueError(f"pfn {pfn:#x} is already this allocator's")
        self._foreign.add(pfn)
        self._free.append(pfn)

    def owner(self, pfn: int) -> str:
        return self._owner.get(pfn, FREE)

    def refcount(self, pfn: int) -> int:
        return self._ref.get(pfn, 0)

    # -- additive helpers --------------------------------------------------
    def set_owner(self, pfn: int, owner: str) -> None:
        """Retag a live frame (e.g. an anon page merged into a KSM page)."""
        self._live(pfn)
        if pfn == self.zero_pfn:
            raise ValueError("the zero page keeps its owner")
        self._owner[pfn] = owner

    def contains(self, pfn: int) -> bool:
        if pfn in self._foreign:
            return True
        return self.first_pfn <= pfn < self.first_pfn + self.num_frames and pfn not in self._lent

    @property
    def free_count(self) -> int:
        return len(self._free)
