"""The kernel half of the address space, as every SVA-bound mm's page tables hold it.

On x86-64 a process's page tables (the ones a PASID entry points the IOMMU
at) hold the kernel half too: `pgd_alloc` copies init_mm's kernel PML4
entries into every new PGD (`clone_pgd_range`), and a new kernel PML4 entry
is copied into every PGD (`sync_global_pgds`). Below the PML4 the kernel's
page-table pages (PDPT, PD, PTE tables) are one set, shared by every mm.
Their entries have U/S clear (_KERNPG_TABLE, PAGE_KERNEL), so a user
PASID's walk of a kernel address faults SUPERVISOR; a walker that caches
supervisor entries (`pwc-supervisor keep`) still keeps the upper ones.

`KernelSpace` is that kernel half: init_mm's tables (page-table pages from
the host's page-table pool, so a freed one becomes the next data page, as
for user tables), the vmalloc areas mapped in it, and the mms it is copied
into. `model.ops.vfree` frees a kernel page-table page; before it is reused,
the 6.19 kernel tells every SVA-bound mm's secondary TLB
(`iommu_sva_invalidate_kva_range`, docs/HISTORY.md).
"""
from __future__ import annotations

from typing import Any

from . import pagetable as pt
from .memory import PAGE_SHIFT, PAGE_SIZE

#: x86-64 (4-level): the kernel half starts here; PAGE_OFFSET and VMALLOC_START
KERNEL_HALF = 0xFFFF_8000_0000_0000
PAGE_OFFSET = 0xFFFF_8880_0000_0000
VMALLOC_START = 0xFFFF_C900_0000_0000
#: the first PML4 index of the kernel half
KERNEL_PML4 = 256

#: PAGE_KERNEL: P RW A D G, U/S clear
PAGE_KERNEL = pt.P | pt.RW | pt.A | pt.D | pt.G


def is_kernel_va(va: int) -> bool:
    return KERNEL_HALF <= va < 1 << 64


class KernelSpace:
    """init_mm's kernel half: its tables, its vmalloc pages, the mms holding it.

    `kernels` are the model.ops.Kernel of every SVA-bound mm (the mms whose
    PASID entries point at tables holding this kernel half): the ones
    `iommu_sva_invalidate_kva_range` invalidates.
    """

    OWNER = "vmalloc"

    def __init__(self, mem, table_frames, frames) -> None:
        self.mem = mem
        self.frames = frames
        self.table_frames = table_frames
        self.tables = pt.PageTables(mem, table_frames, user=False)  # init_mm.pgd
        self.roots: list[int] = []  # PGDs of the mms holding the kernel half
        self.kernels: list[Any] = []
        self.pages: dict[int, int] = {}  # vmalloc'd page va -> pfn

    def attach(self, root_pa: int, kernel: Any = None) -> None:
        """pgd_alloc -> pgd_ctor: copy the kernel PML4 entries into an mm's PGD."""
        self.roots.append(root_pa)
        if kernel is not None:
            self.kernels.append(kernel)
        self._sync(root_pa)

    def _sync(self, root_pa: int) -> None:
        for i in range(KERNEL_PML4, pt.ENTRIES):
            e = self.mem.read64(self.tables.root_pa + 8 * i)
            if e:
                self.mem.write64(root_pa + 8 * i, e)

    def vmalloc_page(self, va: int, value: int) -> int:
        """A vmalloc'd page at va (setup): a frame mapped PAGE_KERNEL, tables
        made as needed, the new kernel PML4 entries copied into every mm
        (sync_global_pgds). Returns its pfn."""
        if not is_kernel_va(va) or va % PAGE_SIZE:
            raise ValueError(f"vmalloc address {va:#x} is not a page in the kernel half")
        if va in self.pages:
            raise ValueError(f"{va:#x} is already a vmalloc page")
        pfn = self.frames.alloc(self.OWNER)
        self.mem.write64(pfn << PAGE_SHIFT, value)
        epa = self.tables._slot(va, 4, alloc=True)  # noqa: SLF001 - the tables' own walk
        assert epa is not None
        self.mem.write64(epa, (pfn << PAGE_SHIFT) | PAGE_KERNEL)
        self.pages[va] = pfn
        for r in self.roots:
            self._sync(r)
        return pfn

    def unmap(self, va: int) -> int | None:
        """vunmap of one page: clear its kernel PTE; the pfn it mapped (None: no vmalloc page there)."""
        pfn = self.pages.pop(va, None)
        if pfn is not None:
            self.tables.unmap(va)
        return pfn

    def span_empty(self, va: int) -> bool:
        """No PTE of the 2 MiB span around va maps anything (its PTE table may go)."""
        base = va & ~(pt.SIZE_2M - 1)
        return not any(base <= v < base + pt.SIZE_2M for v in self.pages)
