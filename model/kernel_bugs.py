"""Kernel bug switches: one historical omission each, in one declarative line.

A *kernel profile* is a notifier policy (`model.notifier.Policy`: which call
sites reach the secondary TLB) plus a set of named bug switches. Each switch
changes exactly one call of one kernel path in `model.ops`, named by its
*point*: the string a path passes to `Op.site(..., point=...)`. Nothing else
of the path changes, so a run with the switch on and a run with it off differ
only in that one call, which is what "the fix" of the historical commit did.

Effects (what happens to the call at `point` when the switch is on):

* `drop`: the call is gone (the secondary TLB is not told there at all). On a
  point given to `Op.range_start`, the range_start/range_end pair is gone.
* `narrow`: the call covers only the first 4 KiB page of its range (an
  `invalidate_page(mm, address)` where the range was a 2 MiB THP).
* `after-unlock`: the call runs right after the path's next `pt_unlock`
  instead of under the page-table lock.
* `move:NAME`: the call runs where the path marks the point NAME
  (`Op.point(NAME)`), later in the same path (for example after the copy).
* `policy:NAME`: not one call but the whole binding: the kernel of the bug
  tells the secondary TLB only where notifier policy NAME does (for example
  `deferred`, before `->invalidate_range` existed). It has no point; the
  row runs under NAME with the bug and under the switch's `policy` with the
  fix (model.history). A plain run (`make sim`) ignores it: choose the
  policy there with POLICY=.

A path may also test a `drop` switch itself where the call is not one call
site (`clear_refs_write:notifier`: the whole invalidate_range_start/end
pair of `clear_soft_dirty`).

The policy still decides whether a call reaches the device: a switch only
moves, narrows or removes the call. To add a switch: give the call in
model/ops.py a `point=` (if it has none yet), add one `BugSwitch` line here,
and a scenario under scenarios/history/ whose `bug NAME` line turns it on
(docs/HISTORY.md, "Adding a row").
"""
from __future__ import annotations

from dataclasses import dataclass

EFFECTS = ("drop", "narrow", "after-unlock", "move", "policy")


@dataclass(frozen=True)
class BugSwitch:
    """One historical omission on one call of one kernel path."""

    name: str
    point: str  # "function:call" as passed to Op.site(point=...)
    effect: str  # one of EFFECTS; "move" as "move:POINT"
    versions: str  # Linux versions that had the bug
    fixed_by: str  # commit id and subject of the fix
    summary: str
    #: the notifier policy of the kernels that had the bug (model.notifier.Policy value)
    policy: str = "notify-inside-lock"

    @property
    def kind(self) -> str:
        return self.effect.split(":", 1)[0]

    @property
    def target(self) -> str | None:
        """The point a `move:` switch moves the call to, or the policy of a `policy:` switch."""
        return self.effect.split(":", 1)[1] if self.kind in ("move", "policy") else None


SWITCHES: dict[str, BugSwitch] = {s.name: s for s in (
    BugSwitch(
        name="secondary-tlb-range-end-only",
        point="",
        effect="policy:deferred",
        versions="up to 3.18 (no ->invalidate_range)",
        fixed_by="1897bdc4d331 mmu_notifier: add mmu_notifier_invalidate_range(), 0f0a327fa12c (its "
                 "callback), 34ee645e83b6 mmu_notifier: call mmu_notifier_invalidate_range() from VMM (3.19)",
        summary="a device TLB is told only by invalidate_range_start/end: nothing reaches it "
                "between the PTE change under the lock and range_end after the unlock",
    ),
    BugSwitch(
        name="thp-numa-invalidate-after-copy",
        point="do_huge_pmd_numa_page:invalidate_before_copy",
        effect="move:migrate_misplaced_transhuge_page:clear_flush_notify",
        versions="up to 4.19",
        fixed_by="7066f0f933a1 mm: thp: fix mmu_notifier in migrate_misplaced_transhuge_page() (4.20)",
        summary="the secondary TLB is invalidated only by pmdp_huge_clear_flush_notify after "
                "migrate_page_copy, not before the copy",
    ),
    BugSwitch(
        name="tlb-end-vma-no-notify",
        point="tlb_end_vma:flush_tlbonly",
        effect="drop",
        versions="4.18 and earlier (generic tlb_end_vma: arm64)",
        fixed_by="fd1102f0aade mm: mmu_notifier fix for tlb_end_vma (4.19)",
        summary="tlb_end_vma flushes the CPU TLB and resets the mmu_gather range without "
                "mmu_notifier_invalidate_range: a later flush of the gather misses the first VMA",
    ),
    BugSwitch(
        name="retract-page-tables-no-notifier",
        point="retract_page_tables:notifier",
        effect="drop",
        versions="up to 6.1",
        fixed_by="f268f6cf875f mm/khugepaged: invoke MMU notifiers in shmem/file collapse paths (6.1)",
        summary="retract_page_tables frees the PTE table with no mmu_notifier call: a device "
                "page-walk cache still points into it",
    ),
    BugSwitch(
        name="page-mkclean-invalidate-after-unlock",
        point="page_mkclean_one:invalidate",
        effect="after-unlock",
        versions="up to 4.10",
        fixed_by="mm: convert page_mkclean_one() to page_check_walk() (4.11, callback under the lock); "
                 "369ea8242c0f mm/rmap: update to new mmu_notifier semantic v2 (4.13)",
        summary="page_mkclean_one calls mmu_notifier_invalidate_page after pte_unmap_unlock: a device "
                "write in between lands in a page just judged clean",
    ),
    BugSwitch(
        name="page-mkclean-thp-invalidate-page",
        point="page_mkclean_one:invalidate",
        effect="narrow",
        versions="4.11 to 4.12 (page_mkclean_one's PMD branch)",
        fixed_by="369ea8242c0f mm/rmap: update to new mmu_notifier semantic v2 (4.13)",
        summary="page_mkclean_one cleans a PMD-mapped THP and calls mmu_notifier_invalidate_page(mm, "
                "address): one 4 KiB page; a device TLB holding other 4 KiB pages of the THP keeps "
                "writing through them",
    ),
    BugSwitch(
        name="clear-refs-no-notifier",
        point="clear_refs_write:notifier",
        effect="drop",
        versions="3.11-rc (0f8975ec4db2)",
        fixed_by="6733f9cb30ae soft-dirty: call mmu notifiers when write-protecting ptes (3.11)",
        summary="clear_refs_write write-protects every PTE and clears soft-dirty without "
                "mmu_notifier_invalidate_range_start/end: the device keeps writing without a fault",
    ),
    BugSwitch(
        name="clear-refs-elided-flush",
        point="clear_refs_write:flush",
        effect="drop",
        versions="0758cd830494 to early 2021 (5.11)",
        fixed_by="mm: proc: Invalidate TLB after clearing soft-dirty page state (Will Deacon, 2021, "
                 "Fixes: 0758cd830494)",
        summary="tlb_finish_mmu elides the flush when nothing was batched: clear_refs' write-protect is "
                "never flushed; a secondary TLB bound to the flush (6.6+) is never told",
        policy="secondary-with-flush",
    ),
    BugSwitch(
        name="migrate-vma-flush-after-unlock",
        point="migrate_vma_collect_pmd:flush",
        effect="after-unlock",
        versions="up to 6.0 (migrate_vma_collect_pmd)",
        fixed_by="60bae7370896 mm/migrate_device.c: flush TLB while holding PTL (6.0)",
        summary="migrate_vma_collect_pmd installs migration entries without a flush and calls "
                "flush_tlb_range only after pte_unmap_unlock: a MADV_DONTNEED in between finds no "
                "present PTE, flushes nothing and returns while the stale translation lives on",
        policy="secondary-with-flush",
    ),
    BugSwitch(
        name="sva-kva-no-invalidate",
        point="kernel_pgtable_work_func:invalidate_kva",
        effect="drop",
        versions="up to 6.18.6 (x86 SVA; CVE-2025-71202)",
        fixed_by="e37d5a2d60a3 iommu/sva: invalidate stale IOTLB entries for kernel address space "
                 "(6.19; 9f0a7ab700f8 in 6.18.7)",
        summary="a kernel page-table page is freed and reused with no secondary-TLB call: an IOMMU "
                "paging-structure cache still points into it",
        policy="secondary-with-flush",
    ),
    BugSwitch(
        name="arm64-set-access-flags",
        point="wp_page_reuse:set_access_flags",
        effect="drop",
        versions="up to 6.5 (arm64, SMMU without broadcast TLB maintenance)",
        fixed_by="6bbd42e2df8f mmu_notifiers: call invalidate_range() when invalidating TLBs (6.6)",
        summary="ptep_set_access_flags upgrades read-only to writable and flushes only the CPU TLB: "
                "a device that faults on its cached read-only entry retries it forever",
        policy="secondary-with-flush",
    ),
)}


def parse_switches(names: "list[str] | tuple[str, ...] | frozenset[str]") -> frozenset[str]:
    """Validate switch names; ValueError naming the unknown one."""
    for n in names:
        if n not in SWITCHES:
            raise ValueError(f"unknown bug switch {n!r} (known: {', '.join(sorted(SWITCHES))})")
    return frozenset(names)


def switches_at(bugs: frozenset[str], point: str) -> list[BugSwitch]:
    """The switches of `bugs` that act on the call at `point` (in name order)."""
    return [SWITCHES[n] for n in sorted(bugs) if SWITCHES[n].point == point]


def _check_table() -> None:
    for s in SWITCHES.values():
        if s.kind not in EFFECTS or (s.kind in ("move", "policy")) != bool(s.target) \
                or (s.kind == "policy") != (not s.point):
            raise AssertionError(f"bug switch {s.name}: bad effect {s.effect!r}")


_check_table()
