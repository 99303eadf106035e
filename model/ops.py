"""Kernel operations split into named, preemptible steps.

Each operation is a generator that performs one step's effect, then yields a
`Step` (a preemption point; the step is recorded as `trace.OpStep`), or yields
`Blocked` when it must wait (a held lock, ITags, invalidation completions).
Call sites that may tell the secondary TLB go through `Notifier`, which
applies the policy; nothing in here knows which policy is active.

The steps follow the Linux 4.15 code paths (the version mmu_notifier.rst was
written against) and name the call that each step stands for. Two historic
variants are separate operations:

* `ksm_replace_page_early_free`: replace_page as in the August 2017 patch
  discussed on LKML: `ptep_clear_flush_notify`, and the old page's last
  reference dropped under the lock, before `invalidate_range_end`.
* `zap_early_free`: a zap whose mmu_gather fills up (force flush), so the
  gathered pages are freed before `invalidate_range_end`; safe only when the
  gather's own flush invalidates the secondary TLB (Andrea Arcangeli,
  2017-08-31: "zap_page_range tlb gather freeing strictly requires an
  explicit mmu_notifier_invalidate_range before the page is actually freed").

Step names shared by the operations (usable in a scenario's `until`):
see `STEP_NAMES`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Generator, Iterator, Union

from . import pagetable as pt
from .ats import Fault
from .kernel_bugs import switches_at
from .memory import PAGE_SHIFT, PAGE_SIZE
from .mm import (HPAGE_NR, HPAGE_SIZE, SOFT_DIRTY, SWP_MIGRATION, SWP_SWAP, SWP_WRITE, Blocked, Mm,
                 SegmentationFault, Step)
from .notifier import FULL_RANGE, Event, MmuNotifierRange, Notifier, Site
from .trace import CpuStore, OpStep

Yield = Union[Step, Blocked]
OpGen = Generator[Yield, None, None]

STEP_NAMES: frozenset[str] = frozenset({
    "fault", "segv", "store", "load", "alloc", "copy", "range_start", "pt_lock", "pte_clear",
    "secondary_inval", "pte_set", "pt_unlock", "range_end", "page_put", "page_free", "page_lock",
    "page_unlock", "ksm_page", "compare", "abort", "tlb_flush", "detach_vmas", "mmap_lock",
    "mmap_unlock", "add_to_swap", "swap_write", "swap_read", "pmd_clear", "pmd_populate", "pmd_set",
    "migration_wait", "vma_prot",
})


@dataclass
class Kernel:
    """What every kernel path needs: the mm, its notifier chain, and the
    write-fault flavour `wp_fault`: "lock-wait" (Linux 4.15 do_wp_page: a
    locked anonymous page makes the fault sleep on the page lock, then reuse
    it if it is mapped once) or "refcount" (do_wp_page after the 2020
    simplification, Linux 5.9+: copy unless this is the only reference and the
    trylock succeeds; never sleep)."""

    mm: Mm
    notifier: Notifier
    wp_fault: str = "lock-wait"
    steps: int = field(default=0)
    #: bug switches on (model.kernel_bugs.SWITCHES names): the kernel profile's
    #: historical omissions; empty for the kernel as the policy describes it
    bugs: frozenset[str] = frozenset()
    #: calls a switch moved: thread -> [(target point, site, start, end)]
    moved: dict[str, list[tuple[str, Site, int, int]]] = field(default_factory=dict)
    #: the kernel half every mm of the host holds (model.kernel_space.KernelSpace; None: not modelled)
    kspace: Any = None

    def step(self, thread: str, op: str, name: str, detail: str = "") -> Step:
        if name not in STEP_NAMES:
            raise AssertionError(f"undeclared step name {name!r}")
        self.steps += 1
        self.mm.trace.add(OpStep(time=self.mm.clock(), thread=thread, op=op, step=name, detail=detail))
        return Step(op, name, detail)


class Op:
    """One running kernel path: a thread, an op name and step helpers."""

    def __init__(self, k: Kernel, thread: str, name: str) -> None:
        self.k, self.mm, self.thread, self.name = k, k.mm, thread, name

    def step(self, name: str, detail: str = "") -> Step:
        return self.k.step(self.thread, self.name, name, detail)

    # -- page-table lock ----------------------------------------------------------
    def lock(self) -> OpGen:
        yield from self.mm.ptl.acquire(self.thread)
        yield self.step("pt_lock")

    def unlock(self) -> OpGen:
        self.mm.ptl.release(self.thread)
        yield self.step("pt_unlock")
        yield from self.point("pt_unlock")

    # -- notifier -------------------------------------------------------------------
    def range_start(self, start: int, end: int, event: Event, *,
                    point: str | None = None) -> Generator[Yield, None, MmuNotifierRange | None]:
        """mmu_notifier_invalidate_range_start. `point` names the start/end pair
        for the bug switches: a `drop` switch there removes both calls (the
        path had no notifier at all); the range is then None."""
        if point is not None and any(sw.kind == "drop" for sw in switches_at(self.k.bugs, point)):
            self.k.notifier.log.append(("range_start", start, end, False))
            return None
        rng = self.k.notifier.make_range(start, end, event)
        self.k.notifier.range_start(rng)
        yield self.step("range_start", rng.describe())
        return rng

    def range_end(self, rng: MmuNotifierRange | None, *, only_end: bool = False) -> OpGen:
        if rng is None:  # its range_start was dropped by a bug switch
            return
        reaches = self.k.notifier.range_end_reaches_device(only_end)
        yield from self.k.notifier.range_end(rng, only_end=only_end)
        yield self.step("range_end", ("only_end " if only_end else "") + rng.describe()
                        + (", secondary TLB invalidated" if reaches else ""))

    def site(self, site: Site, start: int, end: int, *, point: str | None = None) -> OpGen:
        """A call site that may invalidate the secondary TLB (policy decides).

        `point` names the call ("function:call") for the kernel's bug
        switches (model.kernel_bugs): a switch on this point drops the call,
        narrows it to one 4 KiB page, or moves it to a later point of the path."""
        if point is not None:
            for sw in switches_at(self.k.bugs, point):
                if sw.kind == "drop":
                    self.k.notifier.log.append((site.value, start, end, False))
                    return
                if sw.kind == "narrow":
                    end = min(end, start + PAGE_SIZE)
                else:  # after-unlock, move: the call happens later in this path
                    target = "pt_unlock" if sw.kind == "after-unlock" else sw.target
                    assert target is not None
                    self.k.moved.setdefault(self.thread, []).append((target, site, start, end))
                    return
        yield from self._site(site, start, end)

    def point(self, name: str) -> OpGen:
        """A place calls moved by a bug switch (`move:NAME`, `after-unlock`) run at."""
        todo = self.k.moved.get(self.thread, [])
        now = [c for c in todo if c[0] == name]
        if not now:
            return
        self.k.moved[self.thread] = [c for c in todo if c[0] != name]
        for _, site, start, end in now:
            yield from self._site(site, start, end)

    def _site(self, site: Site, start: int, end: int) -> OpGen:
        invalidates = self.k.notifier.invalidates_at(site)
        yield from self.k.notifier.at_site(site, start, end)  # logs the site either way
        if invalidates:
            yield self.step("secondary_inval", f"{site.value} [{start:#x}, {end:#x})")

    # -- page locks -------------------------------------------------------------------
    def page_lock(self, pfn: int) -> OpGen:
        yield from self.mm.page_locks.lock(pfn, self.thread)
        yield self.step("page_lock", f"pfn {pfn:#x}")

    def page_unlock(self, pfn: int) -> None:
        self.mm.page_locks.unlock(pfn, self.thread)

    def put(self, pfn: int, what: str = "") -> Step:
        freed = self.mm.put_page(pfn)
        return self.step("page_free" if freed else "page_put", f"pfn {pfn:#x}" + (f" ({what})" if what else ""))


def _page(va: int) -> int:
    return va & ~(PAGE_SIZE - 1)


def _pa(pfn: int) -> int:
    return pfn << PAGE_SHIFT


def _pfn_of(value: int, size: int = PAGE_SIZE) -> int | None:
    pa = Mm.pte_pa(value, size)
    return None if pa is None else pa >> PAGE_SHIFT


# =========================================================================== CPU accesses and faults

def cpu_store(k: Kernel, thread: str, va: int, value: int | None = None) -> OpGen:
    """A user store: fault until the translation is writable, then store.

    The store itself is atomic with its last translation (one step), so a
    store can never land through a PTE that changed since it was checked.
    """
    o = Op(k, thread, "store")
    if value is None:
        value = k.mm.values.cpu()
    while True:
        fault = k.mm.access_fault(va, True)
        if fault == Fault.NONE:
            k.mm.cpu_store_at(thread, va, value)
            yield o.step("store", f"{va:#x} = {value:#x}")
            return
        yield o.step("fault", f"write {va:#x}: {fault.name}")
        try:
            yield from handle_mm_fault(k, thread, va, write=True)
        except SegmentationFault as e:
            yield o.step("segv", str(e))
            return


def cpu_load(k: Kernel, thread: str, va: int) -> OpGen:
    o = Op(k, thread, "load")
    while True:
        fault = k.mm.access_fault(va, False)
        if fault == Fault.NONE:
            ev = k.mm.cpu_load_at(thread, va)
            yield o.step("load", f"{va:#x} -> {ev.value:#x}")
            return
        yield o.step("fault", f"read {va:#x}: {fault.name}")
        try:
            yield from handle_mm_fault(k, thread, va, write=False)
        except SegmentationFault as e:
            yield o.step("segv", str(e))
            return


def handle_mm_fault(k: Kernel, thread: str, va: int, *, write: bool) -> OpGen:
    """Dispatch a CPU page fault the way handle_pte_fault does (under mmap_lock read)."""
    mm = k.mm
    yield from mm.mmap_lock.down_read(thread)
    try:
        # find_vma under mmap_lock: a munmap or mprotect that ran while this
        # thread waited for the lock is visible here
        vma = mm.find_vma(va)
        if vma is None:
            raise SegmentationFault(f"no VMA at {va:#x}")
        if write and not vma.writable:
            raise SegmentationFault(f"write to read-only VMA at {va:#x}")
        hit = mm.leaf(va)
        value = 0 if hit is None else hit[1]
        size = PAGE_SIZE if hit is None else hit[2]
        if size == HPAGE_SIZE and Mm.is_protnone(value):
            yield from do_huge_pmd_numa_page(k, thread, va, value)
            return
        if size == HPAGE_SIZE and value & pt.P:
            if write and not value & pt.RW:
                yield from do_huge_pmd_wp_page(k, thread, va)
            return
        if value == 0:
            if vma.kind == "anon":
                yield from do_anonymous_page(k, thread, va, write=write)
            else:
                yield from do_file_fault(k, thread, va, write=write)
        elif Mm.is_swap(value):
            yield from do_swap_page(k, thread, va, value)
        elif Mm.is_migration(value):
            o = Op(k, thread, "migration_entry_wait")
            yield Blocked(f"migration entry at {va:#x}", lambda: mm.pte(va) != value)
            yield o.step("migration_wait", f"{va:#x}")
        elif value & pt.P and write and not value & pt.RW:
            yield from do_wp_page(k, thread, va)
        # else: spurious (another thread fixed it first); retry the access
    finally:
        mm.mmap_lock.up_read(thread)


def do_anonymous_page(k: Kernel, thread: str, va: int, *, write: bool) -> OpGen:
    """First touch of an anonymous page: a read maps the zero page, a write a new page.
    The PTE was none, so nothing can be cached for it: no notifier."""
    mm = k.mm
    o = Op(k, thread, "do_anonymous_page")
    if write:
        pfn = mm.frames.alloc("anon")
        yield o.step("alloc", f"pfn {pfn:#x}")
    else:
        pfn = mm.zero_pfn
    yield from o.lock()
    if mm.pte(va) != 0:  # raced with another fault
        yield from o.unlock()
        if write:
            yield o.put(pfn, "lost race")
        return
    mm.write_leaf(va, mm.make_pte(pfn, writable=write))
    mm.add_map(pfn)
    mm.record_zero_fill(_page(va), PAGE_SIZE, thread)  # zero page or a zeroed page: reads 0 from now
    mm.record_change(_page(va), PAGE_SIZE, None, _pa(pfn), write)
    yield o.step("pte_set", f"{_page(va):#x} -> {'new page' if write else 'zero page'} pfn {pfn:#x}")
    yield from o.unlock()


def do_file_fault(k: Kernel, thread: str, va: int, *, write: bool) -> OpGen:
    """Fault on a file mapping: map the page-cache page read-only, or for a
    write to a private writable mapping copy it into a new anon page
    (do_cow_fault). The PTE was none: no notifier."""
    mm = k.mm
    vma = mm.find_vma(va)
    assert vma is not None and vma.file is not None
    o = Op(k, thread, "do_file_fault")
    idx = vma.file_index(va)
    if idx not in vma.file.pages:
        vma.file.pages[idx] = mm.frames.alloc("file")
    cache_pfn = vma.file.pages[idx]
    if write:
        pfn = mm.frames.alloc("anon")
        mm.mem.copy_page(_pa(pfn), _pa(cache_pfn))
        yield o.step("copy", f"page cache pfn {cache_pfn:#x} -> pfn {pfn:#x}")
    else:
        pfn = cache_pfn
        mm.get_page(pfn)
    yield from o.lock()
    if mm.pte(va) != 0:
        yield from o.unlock()
        yield o.put(pfn, "lost race")
        return
    mm.write_leaf(va, mm.make_pte(pfn, writable=write))
    mm.add_map(pfn)
    mm.record_change(_page(va), PAGE_SIZE, None, _pa(pfn), write)
    yield o.step("pte_set", f"{_page(va):#x} -> pfn {pfn:#x}")
    yield from o.unlock()


def do_swap_page(k: Kernel, thread: str, va: int, entry: int) -> OpGen:
    """Swap-in. A page still in the swap cache is mapped again (same frame);
    if reclaim still holds it locked the fault sleeps on the page lock."""
    mm = k.mm
    o = Op(k, thread, "do_swap_page")
    slot_no = Mm.swp_index(entry)
    slot = mm.swap.slots[slot_no]
    if slot.cache_pfn is not None:
        pfn = slot.cache_pfn
        if mm.page_locks.locked(pfn):
            yield Blocked(f"swap cache page {pfn:#x} locked", lambda: not mm.page_locks.locked(pfn))
            return  # retry the fault: the page may have left the swap cache
        mm.get_page(pfn)
    else:
        assert slot.data is not None
        pfn = mm.frames.alloc("anon")
        mm.mem.write(_pa(pfn), slot.data)
        yield o.step("swap_read", f"slot {slot_no} -> pfn {pfn:#x}")
    yield from o.lock()
    if mm.pte(va) != entry:
        yield from o.unlock()
        yield o.put(pfn, "lost race")
        return
    vma = mm.find_vma(va)
    writable = bool(vma and vma.writable)
    mm.write_leaf(va, mm.make_pte(pfn, writable=writable))
    mm.add_map(pfn)
    mm.record_change(_page(va), PAGE_SIZE, None, _pa(pfn), writable)
    mm.swap.free_entry(slot_no)
    yield o.step("pte_set", f"{_page(va):#x} -> pfn {pfn:#x} (swap-in)")
    yield from o.unlock()


def do_wp_page(k: Kernel, thread: str, va: int) -> OpGen:
    """Write fault on a present read-only PTE of a writable VMA: reuse or copy.

    Linux decides under the PTE lock, with the page locked: 4.15 trylocks the
    page (or drops the PTE lock, sleeps on the page lock and re-checks the
    PTE) and reuses if reuse_swap_page finds it mapped once; 5.9+ reuses only
    if page_count is 1 and trylock_page succeeds. The model makes the cheap
    decision first (copy right away when it is clearly shared), then
    `wp_page_reuse` repeats the check under the page-table lock, where
    nothing (a KSM scanner, reclaim or migration taking its reference) can
    slip in between the check and the PTE update.
    """
    mm = k.mm
    value = mm.pte(va)
    pfn = _pfn_of(value)
    assert pfn is not None
    vma = mm.find_vma(va)
    assert vma is not None
    # PageAnon && !PageKsm: an anonymous page may be reused in place, also
    # the private copy of a file page (do_cow_fault); page-cache, KSM and
    # zero pages are always copied
    if pfn == mm.zero_pfn or mm.page_owner(pfn) != "anon":
        yield from wp_page_copy(k, thread, va, value)
        return
    if k.wp_fault == "refcount":
        # 5.9+: copy unless this is the only reference; never sleep on the lock.
        if mm.refcount(pfn) != 1 or not mm.page_locks.trylock(pfn, thread):
            yield from wp_page_copy(k, thread, va, value)
            return
    else:
        # 4.15: trylock, else sleep on the page lock and recheck the PTE.
        if not mm.page_locks.trylock(pfn, thread):
            mm.get_page(pfn)
            yield from mm.page_locks.lock(pfn, thread)
            mm.put_page(pfn)
            if mm.pte(va) != value:
                mm.page_locks.unlock(pfn, thread)
                return  # changed meanwhile (e.g. KSM merged it): retry the fault
        if mm.map_count(pfn) != 1:
            mm.page_locks.unlock(pfn, thread)
            yield from wp_page_copy(k, thread, va, value)
            return
    outcome = yield from wp_page_reuse(k, thread, va, value)
    if outcome == "copy":
        yield from wp_page_copy(k, thread, va, value)


def wp_page_reuse(k: Kernel, thread: str, va: int, orig: int) -> Generator[Yield, None, str]:
    """Make the PTE writable in place (same page): a permission upgrade.

    `ptep_set_access_flags` flushes the page on arm64; only a policy that
    reaches the secondary TLB from CPU flushes (6.6+) tells the device. Before
    that a device whose ATC faults on its cached read-only entry (instead of
    walking again) faults forever (bug switch arm64-set-access-flags).

    Called with the page locked by this thread; under the page-table lock the
    PTE must still be `orig` and the page still reusable (mapped once for
    4.15, referenced once for 5.9+), else the fault copies ("copy") or is
    retried ("retry"). The page lock is dropped under the page-table lock."""
    mm = k.mm
    o = Op(k, thread, "wp_page_reuse")
    pfn = _pfn_of(orig)
    assert pfn is not None
    yield from o.lock()
    outcome = "retry"
    if mm.pte(va) == orig:
        reusable = mm.refcount(pfn) == 1 if k.wp_fault == "refcount" else mm.map_count(pfn) == 1
        outcome = "reuse" if reusable else "copy"
    mm.page_locks.unlock(pfn, thread)
    if outcome == "reuse":
        mm.write_leaf(va, mm.make_pte(pfn, writable=True))
        mm.lazyfree.discard(pfn)
        mm.record_change(_page(va), PAGE_SIZE, _pa(pfn), _pa(pfn), True)
        yield o.step("pte_set", f"{_page(va):#x} writable (reuse pfn {pfn:#x})")
        # ptep_set_access_flags: on arm64 a permission upgrade flushes the page
        # (flush_tlb_page); 6.6+ reaches the secondary TLB from that flush.
        yield from o.site(Site.TLB_FLUSH_RANGE, _page(va), _page(va) + PAGE_SIZE,
                          point="wp_page_reuse:set_access_flags")
    yield from o.unlock()
    return outcome


def _huge_pfn(value: int) -> int:
    """First frame of the THP a huge PMD maps, present or protnone."""
    return (value & pt.addr_mask(HPAGE_SIZE)) >> PAGE_SHIFT


def _get_huge(mm: Mm, first: int) -> None:
    """get_page on a THP: a reference on the compound page (every subframe here)."""
    for i in range(HPAGE_NR):
        mm.get_page(first + i)


def _put_huge(mm: Mm, first: int) -> int:
    """put_page on a THP; the number of subframes freed (0 or 512)."""
    return sum(mm.put_page(first + i) for i in range(HPAGE_NR))


def _huge_ro(mm: Mm, base: int) -> int | None:
    """The PMD at base if it maps a THP present and read-only, else None."""
    hit = mm.leaf(base)
    if hit is not None and hit[2] == HPAGE_SIZE and hit[1] & pt.P and not hit[1] & pt.RW:
        return hit[1]
    return None


def do_huge_pmd_wp_page(k: Kernel, thread: str, va: int) -> OpGen:
    """Write fault on a read-only huge PMD (mm/huge_memory.c, Linux 4.15).

    Under the PMD lock, with the head page locked: a THP mapped once is
    reused in place (reuse_swap_page; a permission upgrade, no notifier).
    Otherwise the fault takes a reference, drops the lock, allocates a new THP
    and copies all 512 subpages (copy_user_huge_page), then under
    invalidate_range_start and the lock drops its reference, re-checks the PMD
    (pmd_same), clears it with `pmdp_huge_clear_flush_notify` (the doc's case
    B for a 2 MiB page: the secondary TLB is invalidated between the clear
    and the set), sets the new writable PMD, removes the old page's mapping
    and drops the mapping's reference (page_remove_rmap, put_page), and ends
    with `invalidate_range_only_end`. The old THP survives while another
    mapping (a forked child) still holds it.

    This copying form lived up to Linux 5.7; 5.8 (3917c80280c9 "thp: change
    CoW semantics for anon-THP") splits the PMD instead and copies one 4 KiB
    page through the ordinary do_wp_page.
    """
    mm = k.mm
    o = Op(k, thread, "do_huge_pmd_wp_page")
    base = va & ~(HPAGE_SIZE - 1)
    yield from o.lock()
    orig = _huge_ro(mm, base)
    if orig is None:  # changed meanwhile: retry the access
        yield from o.unlock()
        return
    old = _huge_pfn(orig)
    if not mm.page_locks.trylock(old, thread):
        # 4.15: get_page, drop the lock, lock_page, retake it, pmd_same
        _get_huge(mm, old)
        yield from o.unlock()
        yield from mm.page_locks.lock(old, thread)
        yield from o.lock()
        _put_huge(mm, old)
        if mm.pte(base) != orig:
            mm.page_locks.unlock(old, thread)
            yield from o.unlock()
            return
    if mm.map_count(old) == 1:  # reuse_swap_page: nobody else maps the THP
        mm.tables.set_entry(base, 3, mm.make_pte(old, writable=True, huge=True))
        mm.record_change(base, HPAGE_SIZE, _pa(old), _pa(old), True)
        yield o.step("pmd_set", f"{base:#x} huge writable (reuse pfn {old:#x})")
        mm.page_locks.unlock(old, thread)
        yield from o.unlock()
        return
    mm.page_locks.unlock(old, thread)
    _get_huge(mm, old)
    yield from o.unlock()
    new = mm.huge.alloc("anon")
    yield o.step("alloc", f"huge page pfn {new:#x}")
    for i in range(HPAGE_NR):
        mm.mem.copy_page(_pa(new + i), _pa(old + i))
    yield o.step("copy", f"huge page pfn {old:#x} -> pfn {new:#x} (copy_user_huge_page, 512 subpages)")
    rng = yield from o.range_start(base, base + HPAGE_SIZE, Event.CLEAR)
    yield from o.lock()
    _put_huge(mm, old)  # the fault's reference
    if mm.pte(base) != orig:
        yield from o.unlock()
        yield from o.range_end(rng, only_end=True)
        freed = _put_huge(mm, new)
        yield o.step("page_free" if freed else "page_put", f"huge page pfn {new:#x} (PMD changed, fault retried)")
        return
    mm.tables.set_entry(base, 3, 0)
    yield o.step("pmd_clear", f"{base:#x} (pmdp_huge_clear_flush_notify)")
    yield from o.site(Site.CLEAR_FLUSH_NOTIFY, base, base + HPAGE_SIZE, point="do_huge_pmd_wp_page:clear_flush_notify")
    mm.tables.set_entry(base, 3, mm.make_pte(new, writable=True, huge=True))
    for i in range(HPAGE_NR):
        mm.add_map(new + i)
    mm.record_change(base, HPAGE_SIZE, _pa(old), _pa(new), True)
    yield o.step("pmd_set", f"{base:#x} -> new huge page pfn {new:#x}")
    for i in range(HPAGE_NR):
        mm.remove_map(old + i)
    freed = _put_huge(mm, old)
    yield o.step("page_free" if freed else "page_put",
                 f"huge page pfn {old:#x}: mapping's reference" + (", freed" if freed else " (still mapped elsewhere)"))
    yield from o.unlock()
    yield from o.range_end(rng, only_end=True)


def wp_page_copy(k: Kernel, thread: str, va: int, orig: int) -> OpGen:
    """COW (and the write fault on the zero page), mm/memory.c wp_page_copy.

    The doc's case B: the PTE is repointed to a new page, so the secondary TLB
    must be invalidated between the clear and the set, under the lock
    (`ptep_clear_flush_notify`), and range_end is `only_end`.
    """
    mm = k.mm
    o = Op(k, thread, "wp_page_copy")
    old = _pfn_of(orig)
    assert old is not None
    new = mm.frames.alloc("anon")
    if old == mm.zero_pfn:
        yield o.step("alloc", f"zeroed pfn {new:#x} for the zero page")
    else:
        yield o.step("alloc", f"pfn {new:#x}")
        mm.mem.copy_page(_pa(new), _pa(old))
        yield o.step("copy", f"pfn {old:#x} -> pfn {new:#x}")
    page = _page(va)
    rng = yield from o.range_start(page, page + PAGE_SIZE, Event.CLEAR)
    yield from o.lock()
    if mm.pte(va) != orig:
        yield from o.unlock()
        yield from o.range_end(rng, only_end=True)
        yield o.put(new, "PTE changed, fault retried")
        return
    mm.write_leaf(va, 0)
    yield o.step("pte_clear", f"{page:#x} (ptep_clear_flush_notify)")
    yield from o.site(Site.CLEAR_FLUSH_NOTIFY, page, page + PAGE_SIZE)
    mm.write_leaf(va, mm.make_pte(new, writable=True))
    mm.add_map(new)
    mm.record_change(page, PAGE_SIZE, _pa(old), _pa(new), True)
    yield o.step("pte_set", f"{page:#x} -> new page pfn {new:#x}")
    mm.remove_map(old)
    yield from o.unlock()
    yield from o.range_end(rng, only_end=True)
    if old != mm.zero_pfn:
        yield o.put(old, "old page")


# =========================================================================== uprobes

def replace_page_uprobe(k: Kernel, thread: str, va: int, value: int | None = None) -> OpGen:
    """kernel/events/uprobes.c __replace_page: install a breakpoint by mapping
    a modified anonymous copy of a file page (case B: repoint to a new page).

    The breakpoint write is recorded as a `CpuStore` at the instant the new
    PTE is set, since that is when the new content becomes what the address
    holds. The old page stays in the page cache, so dropping the mapping's
    reference before range_end frees nothing.

    Around it, uprobe_write_opcode: uprobes apply only to file mappings
    without write permission (valid_vma); get_user_pages(FOLL_FORCE) faults
    the page in and holds a reference on it until __replace_page has returned
    (so an old page that is itself an earlier breakpoint copy is not freed
    before range_end either); if the PTE changed meanwhile (-EAGAIN), the
    whole thing is retried, and a mapping that has gone away ends it.
    """
    mm = k.mm
    o = Op(k, thread, "__replace_page")
    if value is None:
        value = mm.values.cpu()
    page = _page(va)
    off = va & (PAGE_SIZE - 1)
    while True:
        # get_user_pages_remote(FOLL_FORCE): fault in until a page is mapped
        while True:
            vma = mm.find_vma(va)
            if vma is None or vma.kind != "file" or vma.writable:
                yield o.step("abort", f"{va:#x} is not in a read-only file mapping (valid_vma)")
                return
            hit = mm.leaf(va)
            if hit is not None and hit[2] == PAGE_SIZE and hit[1] & pt.P:
                break
            try:
                yield from handle_mm_fault(k, thread, va, write=False)
            except SegmentationFault as e:
                yield o.step("abort", f"get_user_pages: {e}")
                return
        orig = mm.pte(va)
        old = _pfn_of(orig)
        assert old is not None
        mm.get_page(old)  # FOLL_GET
        new = mm.frames.alloc("anon")
        yield o.step("alloc", f"pfn {new:#x}")
        mm.mem.copy_page(_pa(new), _pa(old))
        mm.mem.write64(_pa(new) + off, value)
        yield o.step("copy", f"pfn {old:#x} -> pfn {new:#x} with breakpoint {value:#x} at +{off:#x}")
        rng = yield from o.range_start(page, page + PAGE_SIZE, Event.CLEAR)
        yield from o.lock()
        if mm.pte(va) != orig:  # page_vma_mapped_walk failed: -EAGAIN
            yield from o.unlock()
            yield from o.range_end(rng)
            yield o.put(new, "PTE changed, retry")
            mm.put_page(old)
            continue
        mm.write_leaf(va, 0)
        yield o.step("pte_clear", f"{page:#x} (ptep_clear_flush_notify)")
        yield from o.site(Site.CLEAR_FLUSH_NOTIFY, page, page + PAGE_SIZE)
        mm.write_leaf(va, mm.make_pte(new, writable=False))
        mm.add_map(new)
        mm.record_change(page, PAGE_SIZE, _pa(old), _pa(new), False)
        mm.trace.add(CpuStore(time=mm.clock(), thread=thread, pasid=mm.bound_pasid, va=va,
                              pa=_pa(new) + off, value=value))
        yield o.step("pte_set", f"{page:#x} -> new page pfn {new:#x} (breakpoint visible)")
        mm.remove_map(old)
        yield o.put(old, "mapping's reference (page cache or get_user_pages keeps it)")
        yield from o.unlock()
        yield from o.range_end(rng)
        mm.put_page(old)  # put_page(old_page) in uprobe_write_opcode
        return


# =========================================================================== KSM

def _write_protect_page(o: Op, va: int, pfn: int) -> Generator[Yield, None, bool]:
    """mm/ksm.c write_protect_page: plain ptep_clear_flush, set read-only,
    full range_end ("No need to notify as we are downgrading page table to
    read only not changing it to point to a new page")."""
    mm = o.mm
    page = _page(va)
    rng = yield from o.range_start(page, page + PAGE_SIZE, Event.CLEAR)
    yield from o.lock()
    orig = mm.pte(va)
    ok = _pfn_of(orig) == pfn
    if ok:
        mm.write_leaf(va, 0)
        yield o.step("pte_clear", f"{page:#x} (ptep_clear_flush)")
        yield from o.site(Site.CLEAR_FLUSH, page, page + PAGE_SIZE)
        protected = mm.make_pte(pfn, writable=False, dirty=False, soft_dirty=bool(orig & SOFT_DIRTY))
        mm.write_leaf(va, protected)
        mm.ksm_orig_pte[pfn] = protected
        mm.record_change(page, PAGE_SIZE, _pa(pfn), _pa(pfn), False)
        yield o.step("pte_set", f"{page:#x} read-only")
    yield from o.unlock()
    yield from o.range_end(rng)
    return ok


def _replace_page(o: Op, va: int, pfn: int, kpfn: int, *, early_free: bool) -> OpGen:
    """mm/ksm.c replace_page: point the read-only PTE at the KSM page.

    4.15: plain `ptep_clear_flush`, the mapping's reference dropped under the
    lock but the page survives because the KSM scanner still holds its own
    reference until after range_end. `early_free`: the August 2017 code path,
    `ptep_clear_flush_notify` and the last reference dropped under the lock.
    """
    mm = o.mm
    page = _page(va)
    rng = yield from o.range_start(page, page + PAGE_SIZE, Event.CLEAR)
    yield from o.lock()
    orig = mm.pte(va)
    if _pfn_of(orig) != pfn or orig & pt.RW or mm.ksm_orig_pte.get(pfn) != orig:  # pte_same(orig_pte)
        yield from o.unlock()
        yield from o.range_end(rng)
        yield o.step("abort", "PTE changed since write_protect_page")
        return
    mm.write_leaf(va, 0)
    if early_free:
        yield o.step("pte_clear", f"{page:#x} (ptep_clear_flush_notify)")
        yield from o.site(Site.CLEAR_FLUSH_NOTIFY, page, page + PAGE_SIZE)
    else:
        yield o.step("pte_clear", f"{page:#x} (ptep_clear_flush)")
        yield from o.site(Site.CLEAR_FLUSH, page, page + PAGE_SIZE)
    mm.get_page(kpfn)
    mm.write_leaf(va, mm.make_pte(kpfn, writable=False, dirty=False))
    mm.add_map(kpfn)
    mm.record_change(page, PAGE_SIZE, _pa(pfn), _pa(kpfn), False)
    yield o.step("pte_set", f"{page:#x} -> KSM page pfn {kpfn:#x}")
    mm.remove_map(pfn)
    if early_free:
        o.page_unlock(pfn)  # no PTE reaches the page any more; unlocked before its last put
    yield o.put(pfn, "mapping's reference" + (", last one: freed before range_end" if early_free else ""))
    yield from o.unlock()
    yield from o.range_end(rng)


def _ksm_prepare(o: Op, va: int, *, need_ro: bool) -> Generator[Yield, None, int | None]:
    mm = o.mm
    vma = mm.find_vma(va)
    value = mm.pte(va)
    pfn = _pfn_of(value)
    why = None
    if vma is None or vma.kind != "anon":
        why = "not an anonymous mapping"
    elif pfn is None or pfn == mm.zero_pfn or mm.leaf(va)[2] != PAGE_SIZE:  # type: ignore[index]
        why = "no anonymous 4 KiB page mapped"
    elif need_ro and value & pt.RW:
        why = "PTE not write-protected (run ksm_write_protect_page first)"
    if why:
        yield o.step("abort", f"{va:#x}: {why}")
        return None
    return pfn


def _stable_page(o: Op, pfn: int) -> Generator[Yield, None, int]:
    """The stable-tree KSM page with identical content (the tree holds its reference)."""
    kpfn = o.mm.frames.alloc("ksm")
    o.mm.mem.copy_page(_pa(kpfn), _pa(pfn))
    yield o.step("ksm_page", f"stable KSM page pfn {kpfn:#x} = copy of pfn {pfn:#x}")
    return kpfn


def _ksmd(fn: Callable[[Kernel, str, int], OpGen]) -> Callable[[Kernel, str, int], OpGen]:
    """Run a KSM operation as ksmd does: under ksm_thread_mutex, so KSM
    operations of different scenario threads take turns (there is one ksmd),
    and with mmap_lock held for read (try_to_merge_with_ksm_page), so no
    munmap, mprotect or khugepaged collapse runs in the middle of a merge."""
    def op(k: Kernel, thread: str, va: int) -> OpGen:
        yield from k.mm.ksm_mutex.acquire(thread)
        try:
            yield from k.mm.mmap_lock.down_read(thread)
            try:
                yield from fn(k, thread, va)
            finally:
                k.mm.mmap_lock.up_read(thread)
        finally:
            k.mm.ksm_mutex.release(thread)
    op.__name__, op.__qualname__, op.__doc__ = fn.__name__, fn.__qualname__, fn.__doc__
    return op


@_ksmd
def ksm_write_protect_page(k: Kernel, thread: str, va: int) -> OpGen:
    """KSM's first half of try_to_merge_one_page: pin, lock, write-protect."""
    o = Op(k, thread, "ksm_write_protect_page")
    pfn = yield from _ksm_prepare(o, va, need_ro=False)
    if pfn is None:
        return
    k.mm.get_page(pfn)  # follow_page(FOLL_GET) by the scanner
    yield from o.page_lock(pfn)
    yield from _write_protect_page(o, va, pfn)
    o.page_unlock(pfn)
    yield o.step("page_unlock", f"pfn {pfn:#x}")
    yield o.put(pfn, "scanner's reference")


@_ksmd
def ksm_replace_page(k: Kernel, thread: str, va: int) -> OpGen:
    """KSM's second half: map the stable page instead of the (write-protected) page."""
    o = Op(k, thread, "ksm_replace_page")
    pfn = yield from _ksm_prepare(o, va, need_ro=True)
    if pfn is None:
        return
    k.mm.get_page(pfn)  # the scanner's reference, dropped after range_end
    yield from o.page_lock(pfn)
    kpfn = yield from _stable_page(o, pfn)
    yield from _replace_page(o, va, pfn, kpfn, early_free=False)
    o.page_unlock(pfn)
    yield o.step("page_unlock", f"pfn {pfn:#x}")
    yield o.put(pfn, "scanner's reference, after range_end")


@_ksmd
def ksm_replace_page_early_free(k: Kernel, thread: str, va: int) -> OpGen:
    """Historic variant (LKML, 2017-08-31): the old page is freed under the
    lock, before range_end; only the in-lock notify protects the device.

    As in try_to_merge_one_page the page is locked from before the stable
    copy until the PTE points at the KSM page (so no write fault can reuse
    the page and store into it in between); it holds no other reference, so
    dropping the mapping's reference frees it."""
    mm = k.mm
    o = Op(k, thread, "ksm_replace_page_early_free")
    pfn = yield from _ksm_prepare(o, va, need_ro=True)
    if pfn is None:
        return
    mm.get_page(pfn)  # follow_page(FOLL_GET), dropped once the page is locked and re-checked
    yield from o.page_lock(pfn)
    mm.put_page(pfn)
    if not mm.maps_page(va, pfn):
        o.page_unlock(pfn)
        yield o.step("abort", f"{_page(va):#x} no longer maps pfn {pfn:#x}")
        return
    kpfn = yield from _stable_page(o, pfn)
    yield from _replace_page(o, va, pfn, kpfn, early_free=True)
    if mm.page_locks.owner.get(pfn) == thread:  # aborted: the PTE had changed
        o.page_unlock(pfn)


@_ksmd
def ksm_merge(k: Kernel, thread: str, va: int) -> OpGen:
    """try_to_merge_one_page in full: write-protect, compare, replace."""
    mm = k.mm
    o = Op(k, thread, "ksm_merge")
    pfn = yield from _ksm_prepare(o, va, need_ro=False)
    if pfn is None:
        return
    mm.get_page(pfn)
    yield from o.page_lock(pfn)
    kpfn = yield from _stable_page(o, pfn)
    ok = yield from _write_protect_page(o, va, pfn)
    same = ok and mm.mem.read(_pa(pfn), PAGE_SIZE) == mm.mem.read(_pa(kpfn), PAGE_SIZE)
    yield o.step("compare", "identical" if same else "pages differ: no merge")
    if same:
        yield from _replace_page(o, va, pfn, kpfn, early_free=False)
    o.page_unlock(pfn)
    yield o.step("page_unlock", f"pfn {pfn:#x}")
    yield o.put(pfn, "scanner's reference")
    if not same:
        yield o.put(kpfn, "unused KSM candidate")


# =========================================================================== zap: munmap, MADV_DONTNEED

def _leaves(mm: Mm, start: int, end: int) -> Iterator[tuple[int, tuple[int, int, int]]]:
    """(va, leaf) of every populated leaf slot in [start, end), found lazily by
    skipping empty table subtrees (a 1 TiB range does not visit 2^28 pages)."""
    a: int | None = _page(start)
    while a is not None and a < end:
        a = mm.next_leaf(a, end)
        if a is None:
            return
        hit = mm.leaf(a)
        assert hit is not None
        yield a, hit
        a = (a & ~(hit[2] - 1)) + hit[2]


def _zap_range(o: Op, start: int, end: int, *, batch: int | None, free_tables: bool = False,
               vma_ends: "list[int] | None" = None) -> OpGen:
    """unmap_vmas/zap_page_range with an mmu_gather of `batch` pages (None:
    never fills). 4.15 zap_pte_range: get_and_clear without notify; when the
    batch is full, tlb_flush_mmu_tlbonly under the lock, the pages freed after
    unlock (force_flush), i.e. before range_end.

    `vma_ends`: where VMAs inside [start, end) end. After each VMA,
    `tlb_end_vma` (4.19, fd1102f0aade) flushes the gather range so far with
    `tlb_flush_mmu_tlbonly` (the secondary TLB included) and resets it; the
    switch `tlb-end-vma-no-notify` is the generic 4.18 macro, which reset the
    range after a CPU-only flush. The gather range of a later flush then
    starts at the reset."""
    mm = o.mm
    gathered: list[int] = []
    bounds = sorted({b for b in (vma_ends or ()) if start < b < end})

    def free_gathered(why: str) -> Iterator[Step]:
        freed = 0
        for pfn in gathered:
            freed += mm.put_page(pfn)
        n = len(gathered)
        gathered.clear()
        if n:
            yield o.step("page_free", f"{n} gathered page(s), {freed} freed ({why})")

    rng = yield from o.range_start(start, end, Event.UNMAP)
    yield from _split_partial_huge(o, _page(start), end)
    va = _page(start)
    g_start = start  # the mmu_gather range starts here (tlb_end_vma resets it)
    # tlb_remove_tlb_entry widens the gather range only for present entries; a
    # zap that met only swap or migration entries leaves it empty, and
    # tlb_flush_mmu_tlbonly then flushes nothing ("if (!tlb->end) return")
    widened = False
    for seg_end in bounds + [end]:
        touched = False
        while va < seg_end:
            yield from o.lock()
            force = False
            while va < seg_end:
                nxt = mm.next_leaf(va, seg_end)  # skip empty page-table subtrees
                if nxt is None:
                    va = seg_end
                    break
                va = nxt
                touched = True
                hit = mm.leaf(va)
                value = 0 if hit is None else hit[1]
                size = PAGE_SIZE if hit is None else hit[2]
                if size == HPAGE_SIZE and (value & pt.P or Mm.is_protnone(value)):
                    if va % HPAGE_SIZE or va + HPAGE_SIZE > end:
                        raise AssertionError(f"zap of [{start:#x}, {end:#x}) meets an unsplit THP at {va:#x}")
                    first = _huge_pfn(value)
                    mm.write_leaf(va, 0)
                    mm.record_change(va, size, _pa(first), None, False)
                    for i in range(HPAGE_NR):
                        mm.remove_map(first + i)
                        gathered.append(first + i)
                    yield o.step("pte_clear", f"{va:#x} huge")
                    widened = True
                    va += size
                elif value & pt.P:
                    pfn = _pfn_of(value)
                    assert pfn is not None
                    mm.write_leaf(va, 0)
                    mm.record_change(va, PAGE_SIZE, _pa(pfn), None, False)
                    mm.remove_map(pfn)
                    if pfn != mm.zero_pfn:
                        gathered.append(pfn)
                    yield o.step("pte_clear", f"{va:#x} (ptep_get_and_clear_full)")
                    widened = True
                    va += PAGE_SIZE
                else:
                    if Mm.is_swap(value):
                        # free_swap_and_cache: the slot goes with its last entry; a page
                        # still in the swap cache belongs to reclaim (it holds the page
                        # locked and frees it after pageout), not to this zap
                        mm.write_leaf(va, 0)
                        mm.record_change(va, PAGE_SIZE, None, None, False)
                        mm.swap.free_entry(Mm.swp_index(value))
                    elif Mm.is_migration(value):
                        # a migration entry is cleared like any other entry; the page
                        # under migration already dropped this mapping, and
                        # remove_migration_ptes finds nothing to restore
                        mm.write_leaf(va, 0)
                        mm.record_change(va, PAGE_SIZE, _pa(Mm.swp_index(value)), None, False)
                    va += PAGE_SIZE
                if batch is not None and len(gathered) >= batch:
                    force = True
                    break
            if force:
                yield from o.site(Site.TLB_GATHER, g_start, end)
                yield o.step("tlb_flush", "force flush: mmu_gather batch full")
            yield from o.unlock()
            if force:
                yield from free_gathered("force flush, before range_end")
        if seg_end < end and touched:  # tlb_end_vma
            yield from o.site(Site.TLB_GATHER, g_start, seg_end, point="tlb_end_vma:flush_tlbonly")
            yield o.step("tlb_flush", f"tlb_end_vma [{g_start:#x}, {seg_end:#x}), range reset")
            g_start = seg_end
    yield from o.range_end(rng)
    # free_pgtables (munmap only): PTE tables no VMA uses any more are unhooked
    # now and freed with the pages, after the mmu_gather flush
    tables = _free_pgtables(o, start, end) if free_tables else []
    for base, pfn in tables:
        yield o.step("pmd_clear", f"{base:#x} -> PTE table pfn {pfn:#x} unhooked (free_pgtables)")
    lo = min([g_start] + [b for b, _ in tables])
    hi = max([end] + [b + HPAGE_SIZE for b, _ in tables])
    # tlb_finish_mmu (pte_free_tlb widened the gather range to the tables' spans)
    if widened or tables:
        yield from o.site(Site.TLB_GATHER, lo, hi, point="tlb_finish_mmu:flush")
        yield o.step("tlb_flush", "tlb_finish_mmu")
    else:
        yield o.step("tlb_flush", "tlb_finish_mmu: no present entry cleared, gather range empty, no flush")
    yield from free_gathered("tlb_finish_mmu")
    for base, pfn in tables:
        freed = mm.table_frames.put(pfn)
        yield o.step("page_free" if freed else "page_put", f"pfn {pfn:#x} (PTE table of [{base:#x}, "
                     f"{base + HPAGE_SIZE:#x}), tlb_remove_table)")


def _free_pgtables(o: Op, start: int, end: int) -> list[tuple[int, int]]:
    """free_pgtables -> free_pte_range for the PTE tables of [start, end) whose
    2 MiB span no VMA intersects any more (the floor/ceiling of the neighbouring
    VMAs): pmd_clear, the table gathered (pte_free_tlb). Returns (span base,
    table pfn) of each. Upper-level tables are kept (a simplification: the
    device's walk cache then only ever holds a stale PDE, never a stale PDPTE)."""
    mm = o.mm
    out: list[tuple[int, int]] = []
    base = start & ~(HPAGE_SIZE - 1)
    while base < end:
        if not any(v.start < base + HPAGE_SIZE and base < v.end for v in mm.vmas):
            pfn = mm.tables.detach_table(base, 4)
            if pfn is not None:
                out.append((base, pfn))
        base += HPAGE_SIZE
    return out


def _vma_ends(mm: Mm, start: int, end: int) -> list[int]:
    return [v.end for v in mm.vmas if start < v.end < end]


def munmap(k: Kernel, thread: str, va: int, length: int = PAGE_SIZE, *, batch: int | None = None,
           name: str = "munmap") -> OpGen:
    """do_munmap: detach the VMAs (mmap_lock held for write), then unmap_region."""
    o = Op(k, thread, name)
    start, end = _page(va), _page(va + length + PAGE_SIZE - 1)
    yield from k.mm.mmap_lock.down_write(thread)
    yield o.step("mmap_lock", "write")
    ends = _vma_ends(k.mm, start, end)
    k.mm.remove_vma_range(start, end)
    yield o.step("detach_vmas", f"[{start:#x}, {end:#x})")
    yield from _zap_range(o, start, end, batch=batch, free_tables=True, vma_ends=ends)
    k.mm.mmap_lock.up_write(thread)
    yield o.step("mmap_unlock")


def munmap_force_flush(k: Kernel, thread: str, va: int, length: int = PAGE_SIZE) -> OpGen:
    """munmap whose mmu_gather batch is full after two pages: the force flush
    frees the gathered pages before range_end (the 4.19 tlb_end_vma row)."""
    yield from munmap(k, thread, va, length, batch=2, name="munmap_force_flush")


def madv_dontneed(k: Kernel, thread: str, va: int, length: int = PAGE_SIZE) -> OpGen:
    """MADV_DONTNEED: zap_page_range; the VMA stays (next touch faults in zero).
    madvise holds mmap_lock for read (so no khugepaged collapse or mprotect
    runs in the middle of the zap)."""
    o = Op(k, thread, "madv_dontneed")
    start, end = _page(va), _page(va + length + PAGE_SIZE - 1)
    yield from k.mm.mmap_lock.down_read(thread)
    yield from _zap_range(o, start, end, batch=None, vma_ends=_vma_ends(k.mm, start, end))
    k.mm.mmap_lock.up_read(thread)


def zap_early_free(k: Kernel, thread: str, va: int, length: int = PAGE_SIZE) -> OpGen:
    """MADV_DONTNEED whose mmu_gather is full after one page (force flush):
    gathered pages are freed before range_end."""
    o = Op(k, thread, "zap_early_free")
    start, end = _page(va), _page(va + length + PAGE_SIZE - 1)
    yield from k.mm.mmap_lock.down_read(thread)
    yield from _zap_range(o, start, end, batch=1, vma_ends=_vma_ends(k.mm, start, end))
    k.mm.mmap_lock.up_read(thread)


# =========================================================================== MADV_FREE

def madv_free(k: Kernel, thread: str, va: int, length: int = PAGE_SIZE) -> OpGen:
    """madvise_free_pte_range: mark exclusively mapped anon pages clean and
    old, same page, no TLB flush under the lock; range_end (full) and the
    mmu_gather flush afterwards. Nothing is freed here (reclaim may later)."""
    mm = k.mm
    o = Op(k, thread, "madv_free")
    start, end = _page(va), _page(va + length + PAGE_SIZE - 1)
    yield from mm.mmap_lock.down_read(thread)  # madvise
    rng = yield from o.range_start(start, end, Event.CLEAR)
    yield from o.lock()
    n = 0
    judged: list[tuple[int, int, int, bool]] = []
    for a, hit in _leaves(mm, start, end):
        if hit[2] != PAGE_SIZE or not hit[1] & pt.P:
            continue
        pfn = _pfn_of(hit[1])
        assert pfn is not None
        if pfn == mm.zero_pfn or mm.map_count(pfn) != 1:
            continue
        writable = bool(hit[1] & pt.RW)
        mm.write_leaf(a, mm.make_pte(pfn, writable=writable, dirty=False,
                                     soft_dirty=bool(hit[1] & SOFT_DIRTY)) & ~pt.A)
        mm.lazyfree.add(pfn)
        mm.record_change(a, PAGE_SIZE, _pa(pfn), _pa(pfn), writable)
        judged.append((a, PAGE_SIZE, _pa(pfn), bool(hit[1] & pt.D)))
        n += 1
    yield o.step("pte_set", f"{n} PTE(s) clean+old (lazyfree)")
    yield from o.unlock()
    yield from o.range_end(rng)
    yield from o.site(Site.TLB_GATHER, start, end)
    yield o.step("tlb_flush", "tlb_finish_mmu")
    _judged_clean(mm, judged, "dirty", "madv_free")
    mm.mmap_lock.up_read(thread)


def _judged_clean(mm: Mm, judged: list[tuple[int, int, int, bool]], bit: str, why: str) -> None:
    """Record the clean judgements of a path whose TLB flush comes after the
    PT unlock (MADV_FREE, clear_refs) when the path returns: a write racing
    with the call (through a translation the call has not flushed yet) may
    count as before it, for the CPU's TLB as for the device's."""
    for va, size, pa, was_set in judged:
        mm.record_clean(va, size, pa, bit, was_set, why=why)


# =========================================================================== reclaim and migration

def _exclusive_anon(o: Op, va: int) -> Generator[Yield, None, int | None]:
    mm = o.mm
    hit = mm.leaf(va)
    vma = mm.find_vma(va)
    why = None
    pfn = None if hit is None else _pfn_of(hit[1], hit[2])
    if vma is None or vma.kind != "anon":
        why = "not an anonymous mapping"
    elif hit is None or pfn is None or hit[2] != PAGE_SIZE or pfn == mm.zero_pfn:
        why = "no anonymous 4 KiB page mapped"
    elif mm.map_count(pfn) != 1:
        why = "page mapped more than once (rmap walk of other mms not modelled)"
    elif not mm.isolate_lru_page(pfn):
        why = f"pfn {pfn:#x} already isolated by another thread (isolate_lru_page: -EBUSY)"
    if why:
        yield o.step("abort", f"{va:#x}: {why}")
        return None
    mm.get_page(pfn)  # isolate_lru_page's reference
    return pfn


def _not_mapped(o: Op, va: int, pfn: int, rng: MmuNotifierRange) -> OpGen:
    """The rmap walk found no PTE mapping the page (page_vma_mapped_walk
    skipped it): drop the lock and end the (empty) range."""
    yield from o.unlock()
    yield from o.range_end(rng)
    yield o.step("abort", f"{_page(va):#x} no longer maps pfn {pfn:#x} (page_vma_mapped_walk: nothing to unmap)")


def try_to_unmap(k: Kernel, thread: str, va: int) -> OpGen:
    """Reclaim (shrink_page_list) of the anon page at va: add_to_swap,
    try_to_unmap_one, pageout, free.

    4.15 try_to_unmap_one: `ptep_clear_flush`, set the swap entry, then an
    explicit `mmu_notifier_invalidate_range()` under the lock ("Invalidate as
    we cleared the pte"), full range_end. The page is freed only after
    pageout, long after range_end (LKML: "as long as the page that use to be
    pointed by the pte is not free before the IOMMU tlb flush then we are fine").

    Concurrency as in Linux: the page is isolated from the LRU first (a page
    another thread already isolated, for reclaim or migration, is skipped),
    then locked; the PTE is re-checked under the page-table lock and skipped
    if it no longer maps the page (zapped, copied by a write fault, merged by
    KSM while this thread waited), and the swap slot is then given back.

    A MADV_FREE'd page (`mm.lazyfree`, !PageSwapBacked) gets no swap slot. The
    PTE value taken by ptep_clear_flush decides: dirty (a CPU store, or a
    device walk that set D, since MADV_FREE cleaned it) -> the PTE is put
    back and the page is swap-backed again; clean -> explicit invalidate and
    the page is discarded (freed, not written anywhere): its contents are
    gone. A device write that reached the page without setting D (through a
    translation cached dirty before MADV_FREE) is lost this way; the discard
    is a `PageClean` judgement, and such a write after MADV_FREE returned is
    rule `lost-dirty`.
    """
    mm = k.mm
    o = Op(k, thread, "try_to_unmap")
    pfn = yield from _exclusive_anon(o, va)
    if pfn is None:
        return
    yield from o.page_lock(pfn)
    lazy = pfn in mm.lazyfree
    slot_no = -1
    if not lazy:
        slot_no = mm.swap.alloc(pfn)
        yield o.step("add_to_swap", f"pfn {pfn:#x} -> slot {slot_no}")
    page = _page(va)
    rng = yield from o.range_start(page, page + PAGE_SIZE, Event.CLEAR)
    yield from o.lock()
    if not mm.maps_page(va, pfn):
        yield from _not_mapped(o, va, pfn, rng)
        if not lazy:
            mm.swap.drop_cache(slot_no)
        o.page_unlock(pfn)
        mm.putback_lru_page(pfn)
        yield o.put(pfn, "isolation reference")
        return
    orig = mm.pte(va)
    writable = bool(orig & pt.RW)
    mm.write_leaf(va, 0)
    yield o.step("pte_clear", f"{page:#x} (ptep_clear_flush)")
    yield from o.site(Site.CLEAR_FLUSH, page, page + PAGE_SIZE)
    if lazy:
        if orig & pt.D:
            mm.write_leaf(va, orig)
            mm.lazyfree.discard(pfn)  # SetPageSwapBacked: reclaimed the normal way next time
            yield o.step("pte_set", f"{page:#x} restored: written since MADV_FREE (dirty)")
            yield from o.unlock()
            yield from o.range_end(rng)
        else:
            yield from o.site(Site.EXPLICIT, page, page + PAGE_SIZE)
            mm.record_change(page, PAGE_SIZE, _pa(pfn), None, writable)
            mm.record_clean(page, PAGE_SIZE, _pa(pfn), "dirty", False, discard=True,
                            why="reclaim (try_to_unmap_one, MADV_FREE page)")
            mm.remove_map(pfn)
            mm.lazyfree.discard(pfn)
            yield o.put(pfn, "mapping's reference (clean MADV_FREE page discarded)")
            yield from o.unlock()
            yield from o.range_end(rng)
        o.page_unlock(pfn)
        mm.putback_lru_page(pfn)
        yield o.put(pfn, "isolation reference")
        return
    slot = mm.swap.slots[slot_no]
    mm.write_leaf(va, Mm.swp_entry(SWP_SWAP, slot_no))
    slot.count += 1  # swap_duplicate
    mm.record_change(page, PAGE_SIZE, _pa(pfn), None, writable)
    yield o.step("pte_set", f"{page:#x} -> swap entry {slot_no}")
    yield from o.site(Site.EXPLICIT, page, page + PAGE_SIZE)
    mm.remove_map(pfn)
    yield o.put(pfn, "mapping's reference")
    yield from o.unlock()
    yield from o.range_end(rng)
    slot.data = mm.mem.read(_pa(pfn), PAGE_SIZE)
    yield o.step("swap_write", f"pfn {pfn:#x} -> slot {slot_no} (pageout)")
    mm.swap.drop_cache(slot_no)  # __remove_mapping: the slot lives on if the swap entry still refers to it
    o.page_unlock(pfn)
    mm.putback_lru_page(pfn)  # (the page is freed here unless someone else still holds it)
    yield o.put(pfn, "removed from swap cache")


def _set_migration_entry(o: Op, va: int, pfn: int, orig: int) -> OpGen:
    """Under the PT lock, after the PTE was cleared: a migration entry for pfn
    (remembering whether `orig` was writable) and the mapping's reference dropped."""
    mm = o.mm
    entry = Mm.swp_entry(SWP_MIGRATION, pfn) | (SWP_WRITE if orig & pt.RW else 0)
    mm.write_leaf(va, entry)
    yield o.step("pte_set", f"{_page(va):#x} -> migration entry")
    mm.remove_map(pfn)
    yield o.put(pfn, "mapping's reference")


def _remove_migration_ptes(o: Op, va: int, pfn: int, new: int, old_why: str) -> OpGen:
    """remove_migration_ptes, then the end of the migration: map `new` only where
    the migration entry for pfn still is (a zap may have removed it: then `new`
    is freed unused), unlock the old page and drop its last references."""
    mm = o.mm
    page = _page(va)
    yield from o.lock()
    cur = mm.pte(va)
    mapped = Mm.is_migration(cur) and Mm.swp_index(cur) == pfn and mm.leaf(va)[2] == PAGE_SIZE  # type: ignore[index]
    if mapped:
        writable = bool(cur & SWP_WRITE)
        mm.write_leaf(va, mm.make_pte(new, writable=writable))
        mm.add_map(new)
        mm.record_change(page, PAGE_SIZE, _pa(pfn), _pa(new), writable)
        yield o.step("pte_set", f"{page:#x} -> new page pfn {new:#x} (remove_migration_ptes)")
    yield from o.unlock()
    o.page_unlock(pfn)
    if not mapped:
        yield o.put(new, "migration entry gone (zapped): new page unused")
    mm.putback_lru_page(pfn)
    yield o.put(pfn, old_why)


def migrate(k: Kernel, thread: str, va: int) -> OpGen:
    """migrate_pages of the anon page at va (unmap_and_move).

    try_to_unmap(TTU_MIGRATION): `ptep_clear_flush`, a migration entry, no
    explicit invalidate ("it will synchronize on against the special swap
    migration pte"), full range_end; only then the copy, the new PTE
    (remove_migration_ptes) and the free of the old page. The secondary TLB
    is therefore clean before the new page is mapped under every policy.

    Isolation, page lock and the re-check under the page-table lock as in
    `try_to_unmap`. The migration entry remembers whether the PTE was
    writable (mprotect may downgrade it meanwhile); remove_migration_ptes maps
    the new page only where a migration entry for the old page still is (a
    zap may have removed it), otherwise the new page is freed.
    """
    mm = k.mm
    o = Op(k, thread, "migrate")
    pfn = yield from _exclusive_anon(o, va)
    if pfn is None:
        return
    yield from o.page_lock(pfn)
    new = mm.frames.alloc("anon")
    yield o.step("alloc", f"pfn {new:#x}")
    page = _page(va)
    rng = yield from o.range_start(page, page + PAGE_SIZE, Event.MIGRATE)
    yield from o.lock()
    if not mm.maps_page(va, pfn):
        yield from _not_mapped(o, va, pfn, rng)
        yield o.put(new, "unused target page")
        o.page_unlock(pfn)
        mm.putback_lru_page(pfn)
        yield o.put(pfn, "isolation reference")
        return
    orig = mm.pte(va)
    mm.write_leaf(va, 0)
    yield o.step("pte_clear", f"{page:#x} (ptep_clear_flush)")
    yield from o.site(Site.CLEAR_FLUSH, page, page + PAGE_SIZE)
    yield from _set_migration_entry(o, va, pfn, orig)
    yield from o.unlock()
    yield from o.range_end(rng)
    mm.mem.copy_page(_pa(new), _pa(pfn))
    yield o.step("copy", f"pfn {pfn:#x} -> pfn {new:#x}")
    yield from _remove_migration_ptes(o, va, pfn, new, "old page")


def migrate_vma(k: Kernel, thread: str, va: int) -> OpGen:
    """Device memory migration of the anon page at va (mm/migrate_device.c):
    migrate_vma_setup -> migrate_vma_collect -> migrate_vma_collect_pmd, the
    driver's copy, migrate_vma_pages, migrate_vma_finalize.

    migrate_vma_collect: invalidate_range_start (MMU_NOTIFY_MIGRATE), the
    page walk, invalidate_range_end (full). migrate_vma_collect_pmd under the
    PT lock: get_page, trylock_page, `ptep_get_and_clear` (no flush) and a
    migration entry; then one `flush_tlb_range` for the PTEs it unmapped. 6.0
    (60bae7370896, "mm/migrate_device.c: flush TLB while holding PTL") moved
    that flush before `pte_unmap_unlock` (point
    `migrate_vma_collect_pmd:flush`; the switch `migrate-vma-flush-after-unlock`
    puts it back after the unlock). The destination is an ordinary frame
    mapped by a normal PTE, as device-coherent memory is (6.0); device-private
    pages, which the CPU cannot map, are not modelled. The isolation of
    migrate_vma_unmap is taken before the walk (a simplification: nothing
    else of this model isolates the page in between). As in `migrate`, the
    new page is mapped only where the migration entry still is
    (remove_migration_ptes); a zap in between leaves it unused.
    """
    mm = k.mm
    o = Op(k, thread, "migrate_vma")
    yield from mm.mmap_lock.down_read(thread)  # the driver holds mmap_lock around migrate_vma_setup
    pfn = yield from _exclusive_anon(o, va)
    if pfn is None:
        mm.mmap_lock.up_read(thread)
        return
    yield from o.page_lock(pfn)  # trylock_page in migrate_vma_collect_pmd
    page = _page(va)
    rng = yield from o.range_start(page, page + PAGE_SIZE, Event.MIGRATE)
    yield from o.lock()
    if not mm.maps_page(va, pfn):
        yield from _not_mapped(o, va, pfn, rng)
        o.page_unlock(pfn)
        mm.putback_lru_page(pfn)
        yield o.put(pfn, "isolation reference")
        mm.mmap_lock.up_read(thread)
        return
    orig = mm.pte(va)
    mm.write_leaf(va, 0)
    yield o.step("pte_clear", f"{page:#x} (ptep_get_and_clear, no flush)")
    yield from _set_migration_entry(o, va, pfn, orig)
    yield from o.site(Site.TLB_FLUSH_RANGE, page, page + PAGE_SIZE, point="migrate_vma_collect_pmd:flush")
    yield from o.unlock()
    yield from o.range_end(rng)
    mm.mmap_lock.up_read(thread)
    new = mm.frames.alloc("anon")
    yield o.step("alloc", f"pfn {new:#x} (the driver's destination page)")
    mm.mem.copy_page(_pa(new), _pa(pfn))
    yield o.step("copy", f"pfn {pfn:#x} -> pfn {new:#x} (the driver's copy)")
    yield from _remove_migration_ptes(o, va, pfn, new, "old page (migrate_vma_finalize)")


# =========================================================================== THP

def _split_huge_pmd(o: Op, base: int) -> OpGen:
    """__split_huge_pmd of the anonymous THP at base: pmdp_invalidate (plain),
    a PTE table pointing at the same subpages, range_only_end (4.15: "Split a
    huge pmd into pte pointing to the same page. No need to invalidate
    secondary tlb entry they are all still valid"). The PMD is re-checked
    under the lock: if it is no longer a huge mapping (another thread split or
    zapped it first), there is nothing to do."""
    mm = o.mm
    rng = yield from o.range_start(base, base + HPAGE_SIZE, Event.CLEAR)
    yield from o.lock()
    old = mm.leaf(base)
    if old is None or old[2] != HPAGE_SIZE or not (old[1] & pt.P or Mm.is_protnone(old[1])):
        yield from o.unlock()
        yield from o.range_end(rng, only_end=True)
        return
    first = _huge_pfn(old[1])
    writable = bool(old[1] & pt.RW)  # a protnone PMD has RW clear: its PTEs are read-only
    mm.tables.set_entry(base, 3, old[1] & ~(pt.P | pt.PROTNONE))  # pmd_mknotpresent
    yield o.step("pmd_clear", f"{base:#x} (pmdp_invalidate)")
    yield from o.site(Site.CLEAR_FLUSH, base, base + HPAGE_SIZE)
    table = mm.table_frames.alloc("pagetable")
    mm.tables.table_pfns.add(table)
    for i in range(HPAGE_NR):
        mm.mem.write64(_pa(table) + 8 * i, mm.make_pte(first + i, writable=writable))
    mm.tables.set_entry(base, 3, pt.make_pte(_pa(table)))
    mm.record_change(base, HPAGE_SIZE, _pa(first), _pa(first), writable)
    yield o.step("pmd_populate", f"{base:#x} -> PTE table pfn {table:#x} (same subpages)")
    yield from o.unlock()
    yield from o.range_end(rng, only_end=True)


def _split_partial_huge(o: Op, start: int, end: int) -> OpGen:
    """zap_pmd_range / change_pmd_range: a THP only partly inside [start, end)
    is split first (`next - addr != HPAGE_PMD_SIZE`), so the operation acts on
    the 4 KiB pages in the range and leaves the rest of the huge page alone."""
    for base in sorted({start & ~(HPAGE_SIZE - 1), (end - 1) & ~(HPAGE_SIZE - 1)}):
        hit = o.mm.leaf(base)  # lockless, like pmd_trans_huge(): _split_huge_pmd re-checks under the lock
        if hit is not None and hit[2] == HPAGE_SIZE and (base < start or base + HPAGE_SIZE > end):
            yield from _split_huge_pmd(o, base)


def thp_split(k: Kernel, thread: str, va: int) -> OpGen:
    """split_huge_pmd of an anonymous THP (`_split_huge_pmd`)."""
    mm = k.mm
    o = Op(k, thread, "thp_split")
    base = va & ~(HPAGE_SIZE - 1)
    hit = mm.leaf(base)
    if hit is None or hit[2] != HPAGE_SIZE:
        yield o.step("abort", f"{base:#x}: no huge PMD mapped")
        return
    yield from _split_huge_pmd(o, base)


def _collapse_isolate(mm: Mm, thread: str, ptes: list[int]) -> tuple[str | None, list[int]]:
    """khugepaged __collapse_huge_page_isolate over the old PTEs: every
    present small page is locked (trylock) and taken off the LRU, and must be
    referenced by this one mapping only. Returns (why it failed | None, pages
    locked and isolated). On failure nothing stays locked or isolated."""
    got: list[int] = []
    why = None
    writable = False
    for e in ptes:
        if e == 0:
            continue  # pte_none (max_ptes_none: any number)
        pfn = _pfn_of(e)
        if pfn is None:
            why = "non-present PTE (swap or migration entry): SCAN_PTE_NON_PRESENT"
            break
        if pfn == mm.zero_pfn:
            continue
        if not mm.page_locks.trylock(pfn, thread):
            why = f"pfn {pfn:#x} locked: SCAN_PAGE_LOCK"
            break
        if mm.refcount(pfn) != 1 or mm.map_count(pfn) != 1:
            mm.page_locks.unlock(pfn, thread)
            why = f"pfn {pfn:#x} has other references: SCAN_PAGE_COUNT"
            break
        if not mm.isolate_lru_page(pfn):
            mm.page_locks.unlock(pfn, thread)
            why = f"pfn {pfn:#x} isolated by another thread: SCAN_DEL_PAGE_LRU"
            break
        got.append(pfn)
        writable |= bool(e & pt.RW)
    if why is None and not got:
        why = "only none or zero-page PTEs (more than max_ptes_none): SCAN_EXCEED_NONE_PTE"
    elif why is None and not writable:
        why = "no writable PTE: SCAN_PAGE_RO"
    if why is not None:
        for pfn in got:
            mm.putback_lru_page(pfn)
            mm.page_locks.unlock(pfn, thread)
        got = []
    return why, got


def _pte_table_span(mm: Mm, base: int, kind: str, what: str) -> str | None:
    """Why the 2 MiB span at base cannot be collapsed/retracted (None: it can):
    one `kind` VMA must cover it and its PMD must point at a PTE table."""
    vma = mm.find_vma(base)
    if vma is None or vma.kind != kind or not (vma.start <= base and base + HPAGE_SIZE <= vma.end):
        extra = " (retract_page_tables is for file/shmem VMAs)" if kind == "file" else ""
        return f"{base:#x}: no {'anonymous' if kind == 'anon' else kind} VMA covers the 2 MiB span{extra}"
    pmd = mm.tables.entry(base, 3)
    if pmd is None or not pmd[1] & pt.P or pmd[1] & pt.PS:
        return f"{base:#x}: no PTE table to {what}"
    return None



def _mmap_write_revalidated(o: Op, thread: str, check: Callable[[], str | None]) -> Generator[Yield, None, bool]:
    """khugepaged's pattern: check, take mmap_lock for writing, check again
    (hugepage_vma_revalidate: things may have changed while waiting for the
    lock). False after an `abort` step (the lock not held); True with it held."""
    mm = o.mm
    why = check()
    if why:
        yield o.step("abort", why)
        return False
    yield from mm.mmap_lock.down_write(thread)
    yield o.step("mmap_lock", "write")
    why = check()
    if why:
        mm.mmap_lock.up_write(thread)
        yield o.step("abort", why)
        return False
    return True

def thp_collapse(k: Kernel, thread: str, va: int) -> OpGen:
    """khugepaged collapse_huge_page: with mmap_lock held for write,
    pmdp_collapse_flush (plain) under the lock, full range_end, *then* copy the
    small pages into the huge page, free them, and set the huge PMD. The
    invalidation sits between the clear and the set under every policy.

    The small pages are isolated under the lock first (`_collapse_isolate`:
    locked, off the LRU, no other reference, no swap or migration entry, at
    least one writable PTE); if any is not, the PTE table is put back
    (pmd_populate) and the collapse gives up, as in Linux. So a page that
    reclaim, migration or KSM is working on is never copied from under them.
    """
    mm = k.mm
    o = Op(k, thread, "thp_collapse")
    base = va & ~(HPAGE_SIZE - 1)

    def check() -> str | None:
        return _pte_table_span(mm, base, "anon", "collapse")

    if not (yield from _mmap_write_revalidated(o, thread, check)):
        return
    vma = mm.find_vma(base)
    assert vma is not None
    hfirst = mm.huge.alloc("anon")
    yield o.step("alloc", f"huge page pfn {hfirst:#x}")
    rng = yield from o.range_start(base, base + HPAGE_SIZE, Event.CLEAR)
    yield from o.lock()
    old_pmd = mm.tables.entry(base, 3)[1]  # type: ignore[index]
    table_pa = old_pmd & pt.addr_mask(PAGE_SIZE)
    ptes = [mm.mem.read64(table_pa + 8 * i) for i in range(HPAGE_NR)]
    mm.tables.set_entry(base, 3, 0)
    yield o.step("pmd_clear", f"{base:#x} (pmdp_collapse_flush)")
    yield from o.site(Site.CLEAR_FLUSH, base, base + HPAGE_SIZE)
    why, isolated = _collapse_isolate(mm, thread, ptes)
    if why:
        mm.tables.set_entry(base, 3, old_pmd)
        yield o.step("pmd_populate", f"{base:#x} -> the old PTE table again (isolation failed)")
        yield from o.unlock()
        yield from o.range_end(rng)
        for i in range(HPAGE_NR):
            mm.put_page(hfirst + i)
        yield o.step("abort", f"{base:#x}: {why}")
        mm.mmap_lock.up_write(thread)
        yield o.step("mmap_unlock")
        return
    yield from o.unlock()
    yield from o.range_end(rng)
    olds: list[tuple[int, int | None]] = []
    for i, e in enumerate(ptes):
        pfn = _pfn_of(e)
        if pfn is not None:
            mm.mem.copy_page(_pa(hfirst + i), _pa(pfn))
        olds.append((i, pfn))
    yield o.step("copy", f"{sum(p is not None for _, p in olds)} small page(s) -> huge page")
    freed = 0
    for pfn in isolated:
        mm.remove_map(pfn)
        mm.page_locks.unlock(pfn, thread)
        mm.putback_lru_page(pfn)
        freed += mm.put_page(pfn)
    yield o.step("page_free", f"{freed} small page(s) freed")
    yield from o.lock()
    mm.tables.set_entry(base, 3, mm.make_pte(hfirst, writable=vma.writable, huge=True))
    for i, pfn in olds:
        mm.add_map(hfirst + i)
        if pfn is None:  # a none PTE becomes a zeroed subpage
            mm.record_zero_fill(base + i * PAGE_SIZE, PAGE_SIZE, thread)
        mm.record_change(base + i * PAGE_SIZE, PAGE_SIZE, None if pfn is None else _pa(pfn),
                         _pa(hfirst + i), vma.writable)
    yield o.step("pmd_set", f"{base:#x} -> huge page pfn {hfirst:#x}")
    yield from o.unlock()
    mm.mmap_lock.up_write(thread)
    yield o.step("mmap_unlock")


def retract_page_tables(k: Kernel, thread: str, va: int) -> OpGen:
    """khugepaged collapse_file -> retract_page_tables (Linux 6.1) for the 2 MiB
    span of a file VMA at va, once the small page-cache pages are no longer
    mapped there ("assume page table is clear"): mmap_write_trylock,
    [range_start], pmd_lock, pmdp_collapse_flush, unlock, pte_free (the PTE
    table is freed at once), [range_end], mmap_write_unlock. The notifier pair
    is f268f6cf875f ("mm/khugepaged: invoke MMU notifiers in shmem/file collapse
    paths"); the bug switch `retract-page-tables-no-notifier` removes it. The
    huge page is mapped by the next fault (not modelled: the span is left
    without a PTE table)."""
    mm = k.mm
    o = Op(k, thread, "retract_page_tables")
    base = va & ~(HPAGE_SIZE - 1)

    def check() -> str | None:
        why = _pte_table_span(mm, base, "file", "retract")
        if why:
            return why
        if mm.next_leaf(base, base + HPAGE_SIZE) is not None:
            return f"{base:#x}: the PTE table still maps pages (collapse_file unmaps them first)"
        return None

    if not (yield from _mmap_write_revalidated(o, thread, check)):
        return
    rng = yield from o.range_start(base, base + HPAGE_SIZE, Event.CLEAR, point="retract_page_tables:notifier")
    yield from o.lock()
    pfn = mm.tables.detach_table(base, 4)
    assert pfn is not None
    yield o.step("pmd_clear", f"{base:#x} -> PTE table pfn {pfn:#x} (pmdp_collapse_flush)")
    yield from o.site(Site.CLEAR_FLUSH, base, base + HPAGE_SIZE)
    yield from o.unlock()
    freed = mm.table_frames.put(pfn)
    yield o.step("page_free" if freed else "page_put", f"pfn {pfn:#x} (PTE table, pte_free)")
    yield from o.range_end(rng)
    mm.mmap_lock.up_write(thread)
    yield o.step("mmap_unlock")


# =========================================================================== kernel page tables

def vfree(k: Kernel, thread: str, va: int) -> OpGen:
    """vfree of the vmalloc page at va (a kernel address), and the freeing of
    the kernel PTE table of its 2 MiB span once that maps nothing.

    vunmap clears the kernel PTE and flushes the CPU TLBs
    (`flush_tlb_kernel_range`); mmu notifiers belong to user mms, so nothing
    reaches a secondary TLB there. The page goes back to the allocator. The
    empty kernel PTE table is unhooked from the kernel PD (shared by every mm)
    and handed to `pagetable_free` -> `pagetable_free_kernel`, which queues it
    for `kernel_pgtable_work_func`: since e37d5a2d60a3 ("iommu/sva: invalidate
    stale IOTLB entries for kernel address space", 6.19; 9f0a7ab700f8 in
    6.18.7) that calls `iommu_sva_invalidate_kva_range(PAGE_OFFSET,
    TLB_FLUSH_ALL)`, i.e. `mmu_notifier_arch_invalidate_secondary_tlbs` for
    every SVA-bound mm (a 6.6+ secondary-TLB call: the site reaches the
    device under secondary-with-flush), then `__pagetable_free`. The bug
    switch `sva-kva-no-invalidate` drops that call (docs/HISTORY.md)."""
    from .kernel_space import PAGE_OFFSET

    o = Op(k, thread, "vfree")
    ks = k.kspace
    if ks is None or va & ~(PAGE_SIZE - 1) not in ks.pages:
        yield o.step("abort", f"{va:#x}: no vmalloc page there")
        return
    page = va & ~(PAGE_SIZE - 1)
    pfn = ks.unmap(page)
    assert pfn is not None
    yield o.step("pte_clear", f"{page:#x} (vunmap: kernel PTE cleared)")
    yield o.step("tlb_flush", "flush_tlb_kernel_range (CPU TLBs; no mm, no notifier)")
    freed = k.mm.frames.put(pfn)
    yield o.step("page_free" if freed else "page_put", f"pfn {pfn:#x} (vmalloc page)")
    if not ks.span_empty(page):
        return
    base = page & ~(HPAGE_SIZE - 1)
    tpfn = ks.tables.detach_table(base, 4)
    if tpfn is None:
        return
    yield o.step("pmd_clear", f"kernel PDE of {base:#x} -> PTE table pfn {tpfn:#x} unhooked "
                              f"(pagetable_free_kernel: queued for kernel_pgtable_work_func)")
    # kernel_pgtable_work_func: iommu_sva_invalidate_kva_range, then __pagetable_free
    for kk in ks.kernels:
        yield from Op(kk, thread, "vfree").site(Site.TLB_FLUSH_RANGE, PAGE_OFFSET, 1 << 64,
                                                point="kernel_pgtable_work_func:invalidate_kva")
    freed = ks.table_frames.put(tpfn)
    yield o.step("page_free" if freed else "page_put", f"pfn {tpfn:#x} (kernel PTE table, __pagetable_free)")


# =========================================================================== NUMA balancing of a THP

def change_prot_numa(k: Kernel, thread: str, va: int) -> OpGen:
    """task_numa_work -> change_prot_numa -> change_protection(MM_CP_PROT_NUMA)
    on the THP at va: change_huge_pmd makes the PMD protnone (a NUMA hinting
    PMD: any CPU or device walk faults on it, the page stays mapped for the
    kernel), under mmap_lock held for read.

    Linux 4.15..4.19 order (change_protection_range, change_pmd_range,
    change_huge_pmd): inc_tlb_flush_pending; invalidate_range_start;
    under the PMD lock `pmdp_invalidate` (a plain flush site) and set_pmd_at
    of the protnone PMD; unlock; invalidate_range_end (full); flush_tlb_range;
    dec_tlb_flush_pending. Between the unlock and range_end a device that
    still caches the 2 MiB translation keeps using it (7066f0f933a1 draws the
    race). 4 KiB PTEs are left alone (their NUMA migration goes through
    migrate_pages: `migrate`)."""
    mm = k.mm
    o = Op(k, thread, "change_prot_numa")
    base = va & ~(HPAGE_SIZE - 1)
    yield from mm.mmap_lock.down_read(thread)
    try:
        hit = mm.leaf(base)
        if hit is None or hit[2] != HPAGE_SIZE or not hit[1] & pt.P:
            yield o.step("abort", f"{base:#x}: no huge PMD mapped")
            return
        mm.tlb_flush_pending += 1
        rng = yield from o.range_start(base, base + HPAGE_SIZE, Event.PROTECTION_VMA)
        yield from o.lock()
        hit = mm.leaf(base)
        changed = hit is None or hit[2] != HPAGE_SIZE or not hit[1] & pt.P
        if not changed:
            assert hit is not None
            mm.tables.set_entry(base, 3, hit[1] & ~pt.P)
            yield o.step("pmd_clear", f"{base:#x} (pmdp_invalidate)")
            yield from o.site(Site.CLEAR_FLUSH, base, base + HPAGE_SIZE)
            mm.tables.set_entry(base, 3, (hit[1] & ~(pt.P | pt.RW)) | pt.PROTNONE)
            yield o.step("pmd_set", f"{base:#x} protnone (change_huge_pmd: NUMA hinting)")
        yield from o.unlock()
        yield from o.range_end(rng)
        if not changed:
            yield from o.site(Site.TLB_FLUSH_RANGE, base, base + HPAGE_SIZE)
            yield o.step("tlb_flush", "flush_tlb_range")
        mm.tlb_flush_pending -= 1
        if changed:
            yield o.step("abort", f"{base:#x}: PMD changed while waiting for the lock")
    finally:
        mm.mmap_lock.up_read(thread)


def do_huge_pmd_numa_page(k: Kernel, thread: str, va: int, orig: int) -> OpGen:
    """NUMA hinting fault on a protnone huge PMD (mm/huge_memory.c, Linux 4.20).

    Under the PMD lock (pmd_same): lock the page, take a reference, and
    because change_protection may not have flushed yet
    (mm_tlb_flush_pending), `flush_tlb_range` and, since 7066f0f933a1, an
    explicit `mmu_notifier_invalidate_range` of the 2 MiB range *before* the
    copy; then migrate_misplaced_transhuge_page. The model always finds the
    page misplaced. Bug switch `thp-numa-invalidate-after-copy` moves the
    explicit call to where 4.19 notified: pmdp_huge_clear_flush_notify after
    the copy (model.kernel_bugs)."""
    mm = k.mm
    o = Op(k, thread, "do_huge_pmd_numa_page")
    base = va & ~(HPAGE_SIZE - 1)
    yield from o.lock()
    if mm.pte(base) != orig:
        yield from o.unlock()
        return
    first = _huge_pfn(orig)
    if not mm.page_locks.trylock(first, thread):  # a migration is under way: wait for it
        yield from o.unlock()
        yield Blocked(f"THP pfn {first:#x} locked", lambda: not mm.page_locks.locked(first))
        return
    _get_huge(mm, first)
    yield o.step("page_lock", f"pfn {first:#x}")
    if mm.tlb_flush_pending:
        yield from o.site(Site.TLB_FLUSH_RANGE, base, base + HPAGE_SIZE)
        yield o.step("tlb_flush", "flush_tlb_range (mm_tlb_flush_pending)")
        yield from o.site(Site.EXPLICIT, base, base + HPAGE_SIZE, point="do_huge_pmd_numa_page:invalidate_before_copy")
    yield from o.unlock()
    yield from migrate_misplaced_transhuge_page(k, thread, base, orig, first)


def migrate_misplaced_transhuge_page(k: Kernel, thread: str, base: int, orig: int, first: int) -> OpGen:
    """mm/migrate.c (Linux 4.20): allocate the target THP, isolate the old one,
    copy it (migrate_page_copy) while the PMD stays protnone, then under the
    lock, if the PMD is unchanged and only the mapping and the fault hold the
    page (page_ref_freeze(page, 2)), set the new PMD (set_pmd_at over the
    protnone entry: nothing to flush, nobody can use it) and free the old
    THP. On failure the PMD gets its protection back on the old page.
    Called with the old page locked and referenced by the fault."""
    mm = k.mm
    o = Op(k, thread, "migrate_misplaced_transhuge_page")
    vma = mm.find_vma(base)
    writable = bool(vma and vma.writable)
    new = mm.huge.alloc("anon")
    yield o.step("alloc", f"huge page pfn {new:#x}")
    isolated = mm.isolate_lru_page(first)
    if isolated:
        for i in range(HPAGE_NR):
            mm.mem.copy_page(_pa(new + i), _pa(first + i))
        yield o.step("copy", f"huge page pfn {first:#x} -> pfn {new:#x} (migrate_page_copy)")
    yield from o.lock()
    if not isolated or mm.pte(base) != orig or mm.refcount(first) != 2:
        why = ("isolated by another thread" if not isolated else
               "PMD changed" if mm.pte(base) != orig else "page has other references (page_ref_freeze)")
        yield from o.point("migrate_misplaced_transhuge_page:clear_flush_notify")
        if mm.pte(base) == orig:  # out_fail: pmd_modify(entry, vm_page_prot): read-only (x86
            # has no saved write bit), the next write fault reuses or copies the THP
            mm.tables.set_entry(base, 3, mm.make_pte(first, writable=False, huge=True))
            yield o.step("pmd_set", f"{base:#x} -> pfn {first:#x} again, read-only (migration failed)")
        yield from o.unlock()
        if isolated:
            mm.putback_lru_page(first)
        mm.page_locks.unlock(first, thread)
        _put_huge(mm, first)
        _put_huge(mm, new)
        yield o.step("abort", f"{base:#x}: {why}")
        return
    yield from o.point("migrate_misplaced_transhuge_page:clear_flush_notify")
    mm.tables.set_entry(base, 3, mm.make_pte(new, writable=writable, huge=True))
    for i in range(HPAGE_NR):
        mm.add_map(new + i)
        mm.remove_map(first + i)
    mm.record_change(base, HPAGE_SIZE, _pa(first), _pa(new), writable)
    yield o.step("pmd_set", f"{base:#x} -> new huge page pfn {new:#x}")
    yield from o.unlock()
    mm.putback_lru_page(first)
    mm.page_locks.unlock(first, thread)
    _put_huge(mm, first)  # the fault's reference
    freed = _put_huge(mm, first)  # the mapping's
    yield o.step("page_free" if freed else "page_put", f"huge page pfn {first:#x}" + (" freed" if freed else ""))


# =========================================================================== protection changes

def mprotect(k: Kernel, thread: str, va: int, length: int = PAGE_SIZE, prot: str = "ro") -> OpGen:
    """mprotect: change_protection. A downgrade rewrites PTEs read-only under
    the lock without a flush, full range_end, then flush_tlb_range (4.15
    change_protection_range). An upgrade only changes the VMA (PTEs are made
    writable by the next write fault)."""
    mm = k.mm
    o = Op(k, thread, "mprotect")
    start, end = _page(va), _page(va + length + PAGE_SIZE - 1)
    writable = prot == "rw"
    yield from mm.mmap_lock.down_write(thread)
    yield o.step("mmap_lock", "write")
    _set_vma_prot(mm, start, end, writable)
    yield o.step("vma_prot", f"[{start:#x}, {end:#x}) {prot}")
    if not writable:
        rng = yield from o.range_start(start, end, Event.PROTECTION_VMA)
        yield from _split_partial_huge(o, start, end)
        yield from o.lock()
        n = 0
        for a, hit in _leaves(mm, start, end):
            size = hit[2]
            if hit[1] & pt.P and hit[1] & pt.RW:
                mm.write_leaf(a, hit[1] & ~pt.RW)
                pa = Mm.pte_pa(hit[1], size)
                mm.record_change(a & ~(size - 1), size, pa, pa, False)
                n += 1
            elif Mm.is_migration(hit[1]) and hit[1] & SWP_WRITE:
                # make_migration_entry_read: the page is restored read-only
                mm.write_leaf(a, hit[1] & ~SWP_WRITE)
                n += 1
        yield o.step("pte_set", f"{n} PTE(s) read-only")
        yield from o.unlock()
        yield from o.range_end(rng)
        yield from o.site(Site.TLB_FLUSH_RANGE, start, end)
        yield o.step("tlb_flush", "flush_tlb_range")
    mm.mmap_lock.up_write(thread)
    yield o.step("mmap_unlock")


def _set_vma_prot(mm: Mm, start: int, end: int, writable: bool) -> None:
    from .mm import Vma
    out = []
    for v in mm.vmas:
        if v.end <= start or end <= v.start:
            out.append(v)
            continue
        lo, hi = max(v.start, start), min(v.end, end)
        if v.start < lo:
            out.append(Vma(v.start, lo, v.kind, v.writable, v.mergeable, v.file, v.pgoff))
        out.append(Vma(lo, hi, v.kind, writable, v.mergeable, v.file, v.file_index(lo)))
        if hi < v.end:
            out.append(Vma(hi, v.end, v.kind, v.writable, v.mergeable, v.file, v.file_index(hi)))
    mm.vmas = sorted(out, key=lambda v: v.start)


def clear_soft_dirty(k: Kernel, thread: str) -> OpGen:
    """echo 4 > /proc/pid/clear_refs: write-protect every PTE and clear its
    soft-dirty bit (same pages), notifier range 0..-1, flush_tlb_mm after.

    mmap_lock: read in 4.15. The write-protect is flushed only after the
    walk, so a write fault that *copies* a page inside that window leaves
    stale writable TLB entries (CPU and device) writing into the old page.
    4.15's do_wp_page cannot do that to a writable page (it reuses a page
    mapped once), but the refcount-based do_wp_page of 5.9+ copies whenever
    someone else holds a reference; Linux 5.11 fixed the race by taking
    mmap_lock for write in clear_refs ("mm: fix clear_refs_write locking",
    with Will Deacon's and Nadav Amit's soft-dirty TLB fixes). The model
    follows the kernel that goes with the write-fault flavour: read with
    `wp-fault lock-wait`, write with `wp-fault refcount` (no fault runs
    inside the window).
    """
    mm = k.mm
    o = Op(k, thread, "clear_soft_dirty")
    exclusive = k.wp_fault == "refcount"
    # bug switch clear-refs-no-notifier: Linux 3.11's first soft-dirty code had no notifier range
    notify = not any(s.kind == "drop" for s in switches_at(k.bugs, "clear_refs_write:notifier"))
    if exclusive:
        yield from mm.mmap_lock.down_write(thread)
    else:
        yield from mm.mmap_lock.down_read(thread)
    rng = (yield from o.range_start(*FULL_RANGE, Event.SOFT_DIRTY)) if notify else None
    yield from o.lock()
    n = 0
    judged: list[tuple[int, int, int, bool]] = []
    for v in list(mm.vmas):
        for a, hit in _leaves(mm, v.start, v.end):
            size = hit[2]
            if hit[1] & pt.P:
                new = hit[1] & ~(pt.RW | SOFT_DIRTY)
                if new != hit[1]:
                    mm.write_leaf(a, new)
                    pa = Mm.pte_pa(hit[1], size)
                    mm.record_change(a & ~(size - 1), size, pa, pa, False)
                    n += 1
                judged.append((a, size, Mm.pte_pa(hit[1], size), bool(hit[1] & SOFT_DIRTY)))
    yield o.step("pte_set", f"{n} PTE(s) write-protected, soft-dirty cleared")
    yield from o.unlock()
    if rng is not None:
        yield from o.range_end(rng)
    yield from o.site(Site.TLB_FLUSH_RANGE, *FULL_RANGE, point="clear_refs_write:flush")
    yield o.step("tlb_flush", "flush_tlb_mm")
    _judged_clean(mm, judged, "soft-dirty", "clear_refs (clear_soft_dirty)")
    if exclusive:
        mm.mmap_lock.up_write(thread)
    else:
        mm.mmap_lock.up_read(thread)


def page_mkclean(k: Kernel, thread: str, va: int) -> OpGen:
    """Writeback's clean judgement: clear_page_dirty_for_io -> page_mkclean ->
    page_mkclean_one for the page mapped at va, as in Linux 4.13 after
    369ea8242c0f: page locked; invalidate_range_start; under the PT lock
    `ptep_clear_flush`, `pte_wrprotect`, `pte_mkclean`, `set_pte_at`, and an
    explicit `mmu_notifier_invalidate_range` (point
    `page_mkclean_one:invalidate`); unlock; invalidate_range_end. The page's
    dirty bit as read here is the kernel's judgement (`PageClean`): a later
    write must fault (write-protect) and dirty the page again, or writeback
    never sees it.

    The model has no shared file mappings: the page is whatever 4 KiB page is
    mapped at va (an anonymous page stands in for the shared page-cache page).
    A THP mapped by a huge PMD is cleaned as a whole (`_page_mkclean_pmd`).
    """
    mm = k.mm
    o = Op(k, thread, "page_mkclean")
    page = _page(va)
    hit = mm.leaf(va)
    if hit is not None and hit[1] & pt.P and hit[2] == HPAGE_SIZE:
        yield from _page_mkclean_pmd(o, va)
        return
    pfn = None if hit is None or not hit[1] & pt.P or hit[2] != PAGE_SIZE else _pfn_of(hit[1])
    if pfn is None or pfn == mm.zero_pfn:
        yield o.step("abort", f"{page:#x}: no 4 KiB page mapped")
        return
    yield from o.page_lock(pfn)
    rng = yield from o.range_start(page, page + PAGE_SIZE, Event.PROTECTION_PAGE)
    yield from o.lock()
    if not mm.maps_page(va, pfn):
        yield from _not_mapped(o, va, pfn, rng)
        o.page_unlock(pfn)
        return
    yield from _mkclean_locked(o, page, PAGE_SIZE, pfn, mm.pte(va), lambda v: mm.write_leaf(va, v), rng)


def _page_mkclean_pmd(o: Op, va: int) -> OpGen:
    """page_mkclean_one on a PMD-mapped THP (the walk's `pvmw.pmd` branch), as
    in Linux 4.13 after 369ea8242c0f: head page locked; invalidate_range_start
    over the THP; under the PMD lock `pmdp_huge_clear_flush`, `pmd_wrprotect`,
    `pmd_mkclean`, `set_pmd_at`, and `mmu_notifier_invalidate_range(mm,
    cstart, cend)` with cstart = address & PMD_MASK, cend = cstart +
    PMD_SIZE (point `page_mkclean_one:invalidate`, the call the 4 KiB branch
    makes too); unlock; invalidate_range_end. 4.11 and 4.12 made the same
    call as `mmu_notifier_invalidate_page(mm, address)`: one 4 KiB page (the
    switch `page-mkclean-thp-invalidate-page`, effect `narrow`). The whole
    THP is one clean judgement (`PageClean` of 2 MiB): its PMD has one dirty bit.
    """
    mm = o.mm
    base = va & ~(HPAGE_SIZE - 1)
    orig = mm.pte(base)
    first = _huge_pfn(orig)
    yield from o.page_lock(first)
    rng = yield from o.range_start(base, base + HPAGE_SIZE, Event.PROTECTION_PAGE)
    yield from o.lock()
    cur = mm.leaf(base)
    if cur is None or cur[2] != HPAGE_SIZE or not cur[1] & pt.P or _huge_pfn(cur[1]) != first:
        yield from o.unlock()
        yield from o.range_end(rng)
        yield o.step("abort", f"{base:#x} no longer maps huge page pfn {first:#x} (page_vma_mapped_walk)")
        o.page_unlock(first)
        return
    yield from _mkclean_locked(o, base, HPAGE_SIZE, first, cur[1], lambda v: mm.tables.set_entry(base, 3, v), rng)


def _mkclean_locked(o: Op, start: int, size: int, pfn: int, orig: int, write: Callable[[int], Any],
                    rng: Any) -> OpGen:
    """page_mkclean_one from its clean judgement on, for a PTE (4 KiB) or a huge PMD
    (one entry, one dirty bit, either way): with the PT lock held, judge the page
    by its D bit (`PageClean`), write-protect and clean the entry (`write`), flush
    and make the explicit secondary-TLB call over the whole page; then PT unlock,
    invalidate_range_end and the page unlock."""
    mm = o.mm
    huge = size == HPAGE_SIZE
    entry, noun = ("pmd", "huge ") if huge else ("pte", "")
    mm.record_clean(start, size, _pa(pfn), "dirty", bool(orig & pt.D),
                    why="page_mkclean (writeback, THP)" if huge else "page_mkclean (writeback)")
    if orig & (pt.RW | pt.D):
        write(orig & ~(pt.RW | pt.D))
        mm.record_change(start, size, _pa(pfn), _pa(pfn), False)
        yield o.step(f"{entry}_set",
                     f"{start:#x} {noun}write-protected and clean (was {'dirty' if orig & pt.D else 'clean'})")
        yield from o.site(Site.CLEAR_FLUSH, start, start + size)
        yield from o.site(Site.EXPLICIT, start, start + size, point="page_mkclean_one:invalidate")
    else:
        yield o.step(f"{entry}_set", f"{start:#x} {noun}already clean and read-only")
    yield from o.unlock()
    yield from o.range_end(rng)
    o.page_unlock(pfn)
    yield o.step("page_unlock", f"{'huge page ' if huge else ''}pfn {pfn:#x} (the page goes to writeback)")


# =========================================================================== registry

@dataclass(frozen=True)
class OpSpec:
    """How a scenario names an operation and what arguments it takes.

    `args` lists the parameters after the thread: "va" (an address), "len"
    (bytes, optional, default one page), "prot" ("ro" | "rw", optional) and
    "value" (optional 64-bit value).
    """

    name: str
    fn: Callable[..., OpGen]
    args: tuple[str, ...]
    summary: str
    kernel: bool = False  # its address may be in the kernel half


OPS: dict[str, OpSpec] = {s.name: s for s in (
    OpSpec("store", cpu_store, ("va", "value?"), "CPU store (faults as needed: COW, zero page, swap-in...)"),
    OpSpec("load", cpu_load, ("va",), "CPU load (faults as needed)"),
    OpSpec("__replace_page", replace_page_uprobe, ("va", "value?"), "uprobes breakpoint install"),
    OpSpec("ksm_write_protect_page", ksm_write_protect_page, ("va",), "KSM write_protect_page"),
    OpSpec("ksm_replace_page", ksm_replace_page, ("va",), "KSM replace_page (4.15)"),
    OpSpec("ksm_replace_page_early_free", ksm_replace_page_early_free, ("va",),
           "KSM replace_page freeing the old page before range_end (2017)"),
    OpSpec("ksm_merge", ksm_merge, ("va",), "KSM try_to_merge_one_page"),
    OpSpec("munmap", munmap, ("va", "len?"), "munmap (zap with mmu_gather)"),
    OpSpec("munmap_force_flush", munmap_force_flush, ("va", "len?"),
           "munmap whose mmu_gather is full after two pages (force flush before range_end)"),
    OpSpec("madv_dontneed", madv_dontneed, ("va", "len?"), "MADV_DONTNEED (zap_page_range)"),
    OpSpec("zap_early_free", zap_early_free, ("va", "len?"),
           "zap whose mmu_gather frees pages before range_end (force flush)"),
    OpSpec("madv_free", madv_free, ("va", "len?"), "MADV_FREE"),
    OpSpec("try_to_unmap", try_to_unmap, ("va",), "reclaim: swap-out of the page"),
    OpSpec("migrate", migrate, ("va",), "page migration"),
    OpSpec("migrate_vma", migrate_vma, ("va",),
           "device memory migration: migrate_vma_setup, the driver's copy, migrate_vma_pages/finalize"),
    OpSpec("thp_split", thp_split, ("va",), "split a huge PMD"),
    OpSpec("thp_collapse", thp_collapse, ("va",), "khugepaged collapse into a huge PMD"),
    OpSpec("retract_page_tables", retract_page_tables, ("va",),
           "khugepaged: free the empty PTE table of a file VMA's 2 MiB span (6.1)"),
    OpSpec("change_prot_numa", change_prot_numa, ("va",),
           "NUMA balancing: make a huge PMD protnone (the next access migrates the THP)"),
    OpSpec("vfree", vfree, ("va",),
           "vfree of a vmalloc page; its empty kernel PTE table freed (kernel_pgtable_work_func)", kernel=True),
    OpSpec("mprotect", mprotect, ("va", "len?", "prot?"), "mprotect (ro: downgrade)"),
    OpSpec("clear_soft_dirty", clear_soft_dirty, (), "clear_refs soft-dirty reset"),
    OpSpec("page_mkclean", page_mkclean, ("va",), "writeback: write-protect and clean a page (page_mkclean)"),
)}
