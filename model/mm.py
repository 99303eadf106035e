"""mm_struct: VMAs, the page-table lock, PASID binding, CPU loads and stores.

This is the kernel side of one process address space as the device sees it:
the page tables live in the host's `PhysMem`, the PASID table entry points the
device's walker at them, and every leaf change is a `PteChange` in the shared
trace so the checkers can tell which page a virtual address meant at any
cycle.

Kernel operations (model.ops) are generators that yield at preemption points;
the pieces here that can make a thread wait (the page-table lock, mmap_lock,
page locks) are expressed the same way: a helper yields a `Blocked` whose
`ready()` says when the thread may try again. Nothing here knows about the
scheduler; `Step` and `Blocked` are the whole vocabulary between the two.

Conventions:

* One page-table lock per mm. Linux has split PTE locks (one per page-table
  page), but the rule under study ("what must happen before the lock is
  dropped") is the same for any lock that serializes updates of one PTE.
* `PteChange` records the net change of a leaf at the write that installs the
  new mapping. A not-present state that the operation itself replaces before
  it returns (the clear of clear-flush-set in COW, a migration entry, the
  cleared PMD of a THP collapse) is transient: it shows as the `OpStep`
  `pte_clear`/`pmd_clear`, not as a removal, so the lost-write checker still
  judges remaps (its exemption is for content that is really discarded).
  Removals that outlive the operation (munmap, MADV_DONTNEED, swap-out) are
  recorded with `new_pa=None`.
* CPU accesses go through the current page tables with no CPU TLB: the
  primary TLB is flushed synchronously wherever Linux flushes it, so the CPU
  side is the reference the device is compared against.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterator

from . import pagetable as pt
from .ats import Fault
from .frames import FrameAllocator
from .memory import PAGE_SHIFT, PAGE_SIZE, PhysMem
from .pasid import PasidTable
from .trace import CpuLoad, CpuStore, PageClean, PteChange, Trace, ZeroFill

HPAGE_SIZE = pt.SIZE_2M
HPAGE_NR = HPAGE_SIZE // PAGE_SIZE

#: x86 _PAGE_SOFT_DIRTY: a software bit the hardware walker ignores.
SOFT_DIRTY = 1 << 11
#: Non-present special entries (P=0, so any walker faults NOT_PRESENT):
#: the kind in bits 9..10, an index (swap slot, migration pfn) from bit 12.
SWP_SWAP = 1 << 9
SWP_MIGRATION = 1 << 10
_SWP_KIND = SWP_SWAP | SWP_MIGRATION
#: A writable migration entry (make_writable_migration_entry): the PTE that
#: remove_migration_ptes restores is writable. mprotect's change_pte_range
#: turns it into a read-only one, as Linux does.
SWP_WRITE = 1 << 1


class SegmentationFault(Exception):
    """A CPU access Linux would answer with SIGSEGV (no VMA, or no permission)."""


# --------------------------------------------------------------------------- scheduler vocabulary

@dataclass(frozen=True)
class Step:
    """A preemption point: thread `thread` has just completed step `name` of `op`."""

    op: str
    name: str
    detail: str = ""


@dataclass
class Blocked:
    """The thread cannot continue until `ready()` is true; then the op retries."""

    reason: str
    ready: Callable[[], bool]


# --------------------------------------------------------------------------- locks

class PtLock:
    """The page-table spinlock of one mm: an owner, no queue.

    A thread that finds it held yields `Blocked` and retries; that is all a
    spinlock means at the granularity of scheduler steps.
    """

    def __init__(self, name: str = "pt_lock") -> None:
        self.name = name
        self.owner: str | None = None

    def try_acquire(self, thread: str) -> bool:
        if self.owner is None:
            self.owner = thread
            return True
        if self.owner == thread:
            raise RuntimeError(f"{thread} takes {self.name} twice")
        return False

    def release(self, thread: str) -> None:
        if self.owner != thread:
            raise RuntimeError(f"{thread} releases {self.name} held by {self.owner}")
        self.owner = None

    def acquire(self, thread: str) -> Iterator[Blocked]:
        while not self.try_acquire(thread):
            yield Blocked(f"{self.name} held by {self.owner}", lambda: self.owner is None)

    @property
    def held(self) -> bool:
        return self.owner is not None


class RwSem:
    """mmap_lock: page faults read, munmap and THP collapse write."""

    def __init__(self, name: str = "mmap_lock") -> None:
        self.name = name
        self.readers: dict[str, int] = {}
        self.writer: str | None = None

    def down_read(self, thread: str) -> Iterator[Blocked]:
        while self.writer is not None and self.writer != thread:
            yield Blocked(f"{self.name} held for write by {self.writer}", lambda: self.writer is None)
        self.readers[thread] = self.readers.get(thread, 0) + 1

    def up_read(self, thread: str) -> None:
        n = self.readers.get(thread, 0)
        if n <= 0:
            raise RuntimeError(f"{thread} releases {self.name} it does not hold")
        if n == 1:
            del self.readers[thread]
        else:
            self.readers[thread] = n - 1

    def down_write(self, thread: str) -> Iterator[Blocked]:
        def free() -> bool:
            return self.writer is None and not (set(self.readers) - {thread})
        while not free():
            yield Blocked(f"{self.name} busy (writer {self.writer}, readers {sorted(self.readers)})", free)
        self.writer = thread

    def up_write(self, thread: str) -> None:
        if self.writer != thread:
            raise RuntimeError(f"{thread} releases {self.name} write lock held by {self.writer}")
        self.writer = None


class PageLocks:
    """PG_locked per frame: KSM, reclaim and migration hold it across the
    whole operation, and the 4.15 write-fault path sleeps on it."""

    def __init__(self) -> None:
        self.owner: dict[int, str] = {}

    def trylock(self, pfn: int, thread: str) -> bool:
        if pfn in self.owner:
            return False
        self.owner[pfn] = thread
        return True

    def lock(self, pfn: int, thread: str) -> Iterator[Blocked]:
        while not self.trylock(pfn, thread):
            yield Blocked(f"page {pfn:#x} locked by {self.owner.get(pfn)}", lambda: pfn not in self.owner)

    def unlock(self, pfn: int, thread: str) -> None:
        if self.owner.get(pfn) != thread:
            raise RuntimeError(f"{thread} unlocks page {pfn:#x} held by {self.owner.get(pfn)}")
        del self.owner[pfn]

    def locked(self, pfn: int) -> bool:
        return pfn in self.owner


# --------------------------------------------------------------------------- VMAs, files, swap

@dataclass
class FileObject:
    """A file's page cache: the cache holds one reference on each page."""

    name: str
    pages: dict[int, int] = field(default_factory=dict)  # page index -> pfn


@dataclass
class Vma:
    start: int
    end: int
    kind: str  # "anon" | "file"
    writable: bool
    mergeable: bool = False  # MADV_MERGEABLE: KSM may scan it
    file: FileObject | None = None
    pgoff: int = 0  # file page index of `start`

    def contains(self, va: int) -> bool:
        return self.start <= va < self.end

    def file_index(self, va: int) -> int:
        return self.pgoff + ((va - self.start) >> PAGE_SHIFT)


@dataclass
class SwapSlot:
    """One swap slot. `count` is the number of swap entries (PTEs) that refer
    to it (swap_map's count) and `cache_pfn` the swap cache page
    (SWAP_HAS_CACHE); the slot is freed when both are gone."""

    data: bytes | None = None  # written by pageout
    cache_pfn: int | None = None  # swap cache page while it still exists
    count: int = 0


class SwapSpace:
    """Swap slots with a swap cache: do_swap_page maps the cached page if it is
    still there (same frame, so no repointing), else reads the slot."""

    def __init__(self) -> None:
        self.slots: dict[int, SwapSlot] = {}
        self._next = 1

    def alloc(self, pfn: int) -> int:
        """add_to_swap: a slot whose only user is the swap cache page `pfn`."""
        slot = self._next
        self._next += 1
        self.slots[slot] = SwapSlot(cache_pfn=pfn)
        return slot

    def free_entry(self, slot: int) -> None:
        """swap_free of one swap entry (zap, swap-in): drop the PTE's count and
        free the slot if the swap cache no longer holds it either. A slot whose
        page is still in the swap cache (reclaim holds the page locked) stays
        until reclaim removes the page from the cache (`drop_cache`)."""
        s = self.slots[slot]
        s.count -= 1
        if s.count < 0:
            raise RuntimeError(f"swap slot {slot}: count below zero")
        if s.count == 0 and s.cache_pfn is None:
            del self.slots[slot]

    def drop_cache(self, slot: int) -> None:
        """delete_from_swap_cache: the page leaves the swap cache; free the slot
        if no swap entry refers to it."""
        s = self.slots[slot]
        s.cache_pfn = None
        if s.count == 0:
            del self.slots[slot]


class ValueSource:
    """Unique 64-bit values, so every write is identifiable by its value.

    CPU stores 0xc000..., device writes 0xd000..., initial contents 0x1000...
    (a page mapped to the zero page starts at 0, which is unique per address).
    """

    CPU, DEV, INIT = 0xC000_0000_0000_0000, 0xD000_0000_0000_0000, 0x1000_0000_0000_0000

    def __init__(self) -> None:
        self._n = {self.CPU: 0, self.DEV: 0, self.INIT: 0}

    def _next(self, base: int) -> int:
        self._n[base] += 1
        return base | self._n[base]

    def cpu(self) -> int:
        return self._next(self.CPU)

    def dev(self) -> int:
        return self._next(self.DEV)

    def initial(self) -> int:
        return self._next(self.INIT)


# --------------------------------------------------------------------------- huge pages

class HugePages:
    """Source of 2 MiB-aligned, physically contiguous frame runs for THP.

    `FrameAllocator` hands out single frames; a THP needs 512 contiguous,
    aligned ones. Each huge page gets its own small allocator over a 2 MiB
    aligned region (its obligatory zero-page frame sits just below the region
    in an otherwise unused gap), so the frames' alloc/free events still land in
    the shared trace and the use-after-free checker sees them like any other.
    """

    def __init__(self, mem: PhysMem, base_pa: int, trace: Trace, clock: Callable[[], int]) -> None:
        if base_pa % (2 * HPAGE_SIZE):
            raise ValueError("huge page region must be 4 MiB aligned")
        self.mem, self.base_pa, self.trace, self.clock = mem, base_pa, trace, clock
        self.allocators: list[FrameAllocator] = []

    def alloc(self, owner: str = "anon") -> int:
        """First pfn of a fresh THP (512 frames, each refcount 1)."""
        region = self.base_pa + len(self.allocators) * 2 * HPAGE_SIZE + HPAGE_SIZE
        fa = FrameAllocator(self.mem, (region >> PAGE_SHIFT) - 1, HPAGE_NR + 1, self.trace, self.clock)
        pfns = [fa.alloc(owner) for _ in range(HPAGE_NR)]
        first = region >> PAGE_SHIFT
        if pfns != list(range(first, first + HPAGE_NR)):
            raise RuntimeError("frame allocator did not hand out a contiguous run")
        self.allocators.append(fa)
        return first

    def allocator_of(self, pfn: int) -> FrameAllocator | None:
        for fa in self.allocators:
            if fa.contains(pfn):
                return fa
        return None


# --------------------------------------------------------------------------- mm_struct

#: Frames of the page-table pool (see `Mm`), just below the THP region.
TABLE_POOL_FRAMES = 0x1000


class Mm:
    """One process address space bound to one PASID.

    Page-table pages come from a pool of their own (`table_frames`, the 16 MiB
    below `huge_base_pa`), never from the data frames. A device access through
    a stale translation can then land in a freed data frame, or in one that
    was given to another owner (the use-after-free checker reports both), but
    never in a page table the kernel and the CPU still walk: in Linux that
    corruption is an oops ("Bad page map"), after which nothing the checkers
    judge means anything. A page-table page that is freed (munmap's
    free_pgtables, khugepaged's retract_page_tables) goes to the data frames
    (`FrameAllocator.lend_to`) and is the next data page handed out.
    """

    def __init__(self, mem: PhysMem, frames: FrameAllocator, pasid_table: PasidTable, trace: Trace,
                 clock: Callable[[], int], *, huge_base_pa: int = 0x4000_0000, share_with: "Mm | None" = None) -> None:
        """`share_with`: another mm of the same host (another process). What
        belongs to a page rather than to an address space is shared with it:
        the page-table frame pool, THP regions, mapcounts, page locks, LRU
        isolation, lazy-free marks, KSM state, swap and the unique-value
        source. The page tables, VMAs, page-table lock and mmap_lock are this
        mm's own."""
        self.mem = mem
        self.frames = frames
        self.pasid_table = pasid_table
        self.trace = trace
        self.clock = clock
        if share_with is None:
            table_pfn = (huge_base_pa >> PAGE_SHIFT) - TABLE_POOL_FRAMES
            if table_pfn < frames.first_pfn + frames.num_frames and frames.first_pfn < table_pfn + TABLE_POOL_FRAMES:
                raise ValueError(f"page-table pool at pfn {table_pfn:#x} overlaps the frame pool")
            self.table_frames = FrameAllocator(mem, table_pfn, TABLE_POOL_FRAMES, trace, clock)
            self.table_frames.lend_to = frames  # a freed page table becomes the next data page
        else:
            if share_with.frames is not frames:
                raise ValueError("two mms of one host share its frame allocator")
            self.table_frames = share_with.table_frames
        self.tables = pt.PageTables(mem, self.table_frames)
        self.vmas: list[Vma] = []
        self.ptl = PtLock()
        self.mmap_lock = RwSem()
        self.pasid: int | None = None
        if share_with is not None:
            o = share_with
            self.page_locks, self.ksm_mutex, self.swap, self.values = o.page_locks, o.ksm_mutex, o.swap, o.values
            self.huge, self.mapcount, self.lazyfree, self.isolated = o.huge, o.mapcount, o.lazyfree, o.isolated
            self.ksm_orig_pte = o.ksm_orig_pte
            return
        self.page_locks = PageLocks()
        # KSM merges are done by one kernel thread, ksmd, which holds
        # ksm_thread_mutex while it scans: two merges never overlap.
        self.ksm_mutex = PtLock("ksm_thread_mutex")
        self.swap = SwapSpace()
        self.values = ValueSource()
        self.huge = HugePages(mem, huge_base_pa, trace, clock)
        # Mappings of each frame by page tables: the PTEs of every mm of the
        # host (shared by `share_with`) plus mappings held by a (modelled, not
        # simulated) forked child. The 4.15 write-fault path reuses a page in
        # place only when it is mapped once.
        self.mapcount: dict[int, int] = {}
        self.lazyfree: set[int] = set()  # MADV_FREE'd frames
        # Frames taken off the LRU (PG_lru clear) by reclaim, migration or
        # khugepaged: isolate_lru_page fails for a page already isolated, so
        # two of them never work on one page at the same time.
        self.isolated: set[int] = set()
        # KSM's write_protect_page result per frame (replace_page's orig_pte):
        # replace_page maps the KSM page only while the PTE is still exactly
        # that, so nothing can have written the page since it was compared.
        # A read-only anonymous page of the initial state counts as
        # write-protected by KSM (the `ro` page state).
        self.ksm_orig_pte: dict[int, int] = {}
        # mm->tlb_flush_pending: change_protection raises it before changing
        # entries and lowers it after its flush_tlb_range, so a fault that finds
        # it raised knows TLBs (and secondary TLBs) may still hold the old entry.
        self.tlb_flush_pending = 0

    # -- frames (4K frames and THP subframes alike) ---------------------------
    def _fa(self, pfn: int) -> FrameAllocator:
        if self.frames.contains(pfn):
            return self.frames
        if self.table_frames.contains(pfn):
            return self.table_frames
        fa = self.huge.allocator_of(pfn)
        if fa is None:
            raise ValueError(f"pfn {pfn:#x} belongs to no allocator")
        return fa

    def get_page(self, pfn: int) -> None:
        self._fa(pfn).get(pfn)

    def put_page(self, pfn: int) -> bool:
        """Drop a reference; True if the frame was freed."""
        freed = self._fa(pfn).put(pfn)
        if freed:
            self.lazyfree.discard(pfn)
            self.isolated.discard(pfn)
            self.ksm_orig_pte.pop(pfn, None)
        return freed

    def isolate_lru_page(self, pfn: int) -> bool:
        """Take the page off the LRU; False (-EBUSY) if someone else already did."""
        if pfn in self.isolated:
            return False
        self.isolated.add(pfn)
        return True

    def putback_lru_page(self, pfn: int) -> None:
        self.isolated.discard(pfn)

    def refcount(self, pfn: int) -> int:
        return self._fa(pfn).refcount(pfn)

    def page_owner(self, pfn: int) -> str:
        return self._fa(pfn).owner(pfn)

    def map_count(self, pfn: int) -> int:
        return self.mapcount.get(pfn, 0)

    def add_map(self, pfn: int) -> None:
        if pfn != self.frames.zero_pfn:
            self.mapcount[pfn] = self.mapcount.get(pfn, 0) + 1

    def remove_map(self, pfn: int) -> None:
        if pfn == self.frames.zero_pfn:
            return
        n = self.mapcount.get(pfn, 0) - 1
        if n < 0:
            raise RuntimeError(f"mapcount of pfn {pfn:#x} below zero")
        if n:
            self.mapcount[pfn] = n
        else:
            self.mapcount.pop(pfn, None)

    @property
    def zero_pfn(self) -> int:
        return self.frames.zero_pfn

    # -- VMAs ------------------------------------------------------------------
    def add_vma(self, vma: Vma) -> Vma:
        if vma.start % PAGE_SIZE or vma.end % PAGE_SIZE or vma.end <= vma.start:
            raise ValueError(f"vma [{vma.start:#x}, {vma.end:#x}) not page aligned and non-empty")
        for v in self.vmas:
            if v.start < vma.end and vma.start < v.end:
                raise ValueError(f"vma [{vma.start:#x}, {vma.end:#x}) overlaps [{v.start:#x}, {v.end:#x})")
        self.vmas.append(vma)
        self.vmas.sort(key=lambda v: v.start)
        return vma

    def find_vma(self, va: int) -> Vma | None:
        for v in self.vmas:
            if v.contains(va):
                return v
        return None

    def remove_vma_range(self, start: int, end: int) -> None:
        """Detach [start, end) from the VMA list (munmap's first step), splitting VMAs."""
        out: list[Vma] = []
        for v in self.vmas:
            if v.end <= start or end <= v.start:
                out.append(v)
                continue
            if v.start < start:
                out.append(Vma(v.start, start, v.kind, v.writable, v.mergeable, v.file, v.pgoff))
            if end < v.end:
                out.append(Vma(end, v.end, v.kind, v.writable, v.mergeable, v.file, v.file_index(end)))
        self.vmas = out

    # -- PASID -------------------------------------------------------------------
    def bind_pasid(self, pasid: int) -> None:
        """iommu_sva_bind_device: the device may now walk these tables."""
        self.pasid_table.set(pasid, self.tables.root_pa)
        self.pasid = pasid

    @property
    def bound_pasid(self) -> int:
        if self.pasid is None:
            raise RuntimeError("mm is not bound to a PASID")
        return self.pasid

    # -- leaf access ---------------------------------------------------------------
    def leaf(self, va: int) -> tuple[int, int, int] | None:
        """(entry PA, value, page size) of the leaf slot for va (see PageTables.leaf)."""
        return self.tables.leaf(va)

    def next_leaf(self, start: int, end: int) -> int | None:
        """First va in [start, end) with a non-zero leaf entry (see PageTables.next_leaf)."""
        return self.tables.next_leaf(start, end)

    def pte(self, va: int) -> int:
        hit = self.tables.leaf(va)
        return 0 if hit is None else hit[1]

    def write_leaf(self, va: int, value: int) -> int:
        """Raw leaf write (the PteChange is recorded separately by the caller)."""
        return self.tables.set_leaf(va, value)

    def record_change(self, va: int, size: int, old_pa: int | None, new_pa: int | None,
                      writable: bool) -> None:
        self.trace.add(PteChange(time=self.clock(), pasid=self.bound_pasid, va=va & ~(size - 1), size=size,
                                 old_pa=old_pa, new_pa=new_pa, writable=writable))

    def record_clean(self, va: int, size: int, pa: int, bit: str, was_set: bool, *, discard: bool = False,
                     why: str = "") -> None:
        """The kernel judged the page at va clean (`PageClean`): it read `bit`
        ("dirty" | "soft-dirty") as `was_set` and cleared it, or (`discard`)
        dropped the page because it was clear."""
        self.trace.add(PageClean(time=self.clock(), pasid=self.bound_pasid, va=va & ~(size - 1),
                                 pa=pa & ~(size - 1), size=size, bit=bit, was_set=was_set, discard=discard,
                                 why=why))

    def record_zero_fill(self, va: int, size: int = PAGE_SIZE, thread: str = "") -> None:
        """The mapping about to be recorded makes [va, va + size) read as zeros
        where nothing was mapped (zero page, freshly zeroed page): a content
        change the checkers must know about (`ZeroFill`). Call it right before
        the `record_change` of that mapping."""
        self.trace.add(ZeroFill(time=self.clock(), pasid=self.bound_pasid, va=va & ~(size - 1), size=size,
                                thread=thread))

    @staticmethod
    def pte_pa(value: int, size: int = PAGE_SIZE) -> int | None:
        """PA a present leaf maps (None if not present)."""
        if not value & pt.P:
            return None
        return value & pt.addr_mask(size)

    def maps_page(self, va: int, pfn: int) -> bool:
        """page_vma_mapped_walk's check_pte: does the 4 KiB PTE of va map pfn now?

        Every rmap walker (reclaim, migration, KSM) decides which page to work on
        before it can take the page-table lock, and anything may happen to the
        PTE meanwhile (a zap, a COW, another walker): Linux re-checks under the
        lock and skips a PTE that no longer maps the page. Call it holding the
        page-table lock."""
        hit = self.leaf(va)
        return (hit is not None and hit[2] == PAGE_SIZE and bool(hit[1] & pt.P)
                and self.pte_pa(hit[1]) == pfn << PAGE_SHIFT)

    @staticmethod
    def is_protnone(value: int) -> bool:
        """A NUMA hinting entry (pmd_protnone): not present for any walker,
        still a mapping of its page for the kernel."""
        return not value & pt.P and bool(value & pt.PROTNONE) and bool(value & pt.PS)

    @staticmethod
    def is_swap(value: int) -> bool:
        return not value & pt.P and value & _SWP_KIND == SWP_SWAP

    @staticmethod
    def is_migration(value: int) -> bool:
        return not value & pt.P and value & _SWP_KIND == SWP_MIGRATION

    @staticmethod
    def swp_entry(kind: int, index: int) -> int:
        return (index << PAGE_SHIFT) | kind

    @staticmethod
    def swp_index(value: int) -> int:
        return value >> PAGE_SHIFT

    def make_pte(self, pfn: int, *, writable: bool, soft_dirty: bool = True, dirty: bool = True,
                 huge: bool = False) -> int:
        v = pt.make_pte(pfn << PAGE_SHIFT, writable=writable, huge=huge)
        if not dirty:
            v &= ~pt.D
        if soft_dirty:
            v |= SOFT_DIRTY
        return v

    # -- translation (the CPU side) -----------------------------------------------------
    def translate(self, va: int, write: bool) -> pt.Walk:
        return self.tables.walk(va, write)

    def read_value(self, va: int) -> int | None:
        """Content at va through the current tables; swapped-out pages read from
        swap; None when nothing is mapped there (the final-state read)."""
        w = self.translate(va, False)
        if w.ok:
            return self.mem.read64(w.pa)
        hit = self.leaf(va)
        if hit is not None and hit[2] > PAGE_SIZE and self.is_protnone(hit[1]):
            return self.mem.read64((hit[1] & pt.addr_mask(hit[2])) | (va & (hit[2] - 1)))
        if hit is not None and self.is_swap(hit[1]):
            slot = self.swap.slots[self.swp_index(hit[1])]
            if slot.cache_pfn is not None:
                return self.mem.read64((slot.cache_pfn << PAGE_SHIFT) | (va & (PAGE_SIZE - 1)))
            assert slot.data is not None
            off = va & (PAGE_SIZE - 1)
            return int.from_bytes(slot.data[off:off + 8], "little")
        return None

    def _mmu_access(self, va: int, write: bool) -> None:
        """The CPU's MMU sets A (and D for a store) in the leaf it used, as the device
        walker does; one step is atomic, so this is the hardware's locked update.
        Reclaim then sees a page stored to after MADV_FREE as dirty."""
        hit = self.tables.leaf(va)
        if hit is not None:
            bits = (pt.A | (pt.D if write else 0)) & ~hit[1]
            if bits:
                self.mem.write64(hit[0], hit[1] | bits)

    def cpu_store_at(self, thread: str, va: int, value: int) -> CpuStore:
        """Perform a store whose translation is known to be writable now."""
        w = self.translate(va, True)
        if not w.ok:
            raise RuntimeError(f"store to {va:#x} without a writable translation ({w.fault.name})")
        self._mmu_access(va, True)
        self.mem.write64(w.pa, value)
        ev = CpuStore(time=self.clock(), thread=thread, pasid=self.bound_pasid, va=va, pa=w.pa, value=value)
        self.trace.add(ev)
        return ev

    def cpu_load_at(self, thread: str, va: int) -> CpuLoad:
        w = self.translate(va, False)
        if not w.ok:
            raise RuntimeError(f"load from {va:#x} without a translation ({w.fault.name})")
        self._mmu_access(va, False)
        ev = CpuLoad(time=self.clock(), thread=thread, pasid=self.bound_pasid, va=va, pa=w.pa,
                     value=self.mem.read64(w.pa))
        self.trace.add(ev)
        return ev

    def access_fault(self, va: int, write: bool) -> Fault:
        """Why a CPU access at va would fault now (Fault.NONE if it would not)."""
        return self.translate(va, write).fault

    # -- setup helpers (initial state, before the run: no locking, no notifier) ---------
    def setup_map(self, va: int, pfn: int, *, writable: bool, record: bool = False) -> None:
        value = self.make_pte(pfn, writable=writable)
        self.write_leaf(va, value)
        self.add_map(pfn)
        if not writable and self.page_owner(pfn) == "anon":
            self.ksm_orig_pte[pfn] = value
        if record:
            self.record_change(va, PAGE_SIZE, None, pfn << PAGE_SHIFT, writable)

    def setup_map_huge(self, va: int, first_pfn: int, *, writable: bool) -> None:
        self.tables.set_entry(va, 3, self.make_pte(first_pfn, writable=writable, huge=True))
        for i in range(HPAGE_NR):
            self.add_map(first_pfn + i)

    def setup_fork(self, parent: "Mm") -> list[int]:
        """fork()'s copy_page_range at setup: this (empty, sharing) mm gets
        parent's VMAs and a copy of every present PTE. Private pages become
        COW-shared: both PTEs read-only, refcount and mapcount one higher; the
        zero page is mapped as it is. Both sides are recorded as `PteChange`s
        (the child's new mapping, the parent's write-protect), so the checkers
        know which frame each mm mapped from the start. Returns the VAs copied.
        A 2 MiB THP or a non-present entry (there are none at setup) is refused."""
        if self.vmas:
            raise ValueError("fork into an mm that already has mappings")
        if self.mapcount is not parent.mapcount:
            raise ValueError("a forked mm shares its parent's pages (Mm(..., share_with=parent))")
        copied: list[int] = []
        for v in parent.vmas:
            self.add_vma(Vma(v.start, v.end, v.kind, v.writable, v.mergeable, v.file, v.pgoff))
            va = parent.next_leaf(v.start, v.end)
            while va is not None:
                _, value, size = parent.leaf(va)
                if size != PAGE_SIZE:
                    raise ValueError(f"fork of the 2 MiB page at {va:#x}: huge-page COW is not modelled")
                pa = self.pte_pa(value)
                if pa is None:
                    raise ValueError(f"fork of the non-present entry at {va:#x}")
                pfn = pa >> PAGE_SHIFT
                ro = value & ~pt.RW
                if pfn != self.zero_pfn:
                    self.get_page(pfn)
                    self.add_map(pfn)
                parent.write_leaf(va, ro)
                self.write_leaf(va, ro)
                parent.record_change(va, PAGE_SIZE, pa, pa, False)
                self.record_change(va, PAGE_SIZE, None, pa, False)
                copied.append(va)
                va = parent.next_leaf(va + PAGE_SIZE, v.end)
        return copied
