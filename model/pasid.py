"""PASID table in host memory: one qword per PASID (docs/ARCHITECTURE.md section 3).

A real VT-d PASID entry is 64 bytes; one qword (bit 0 present, bits
[PaWidth-1:12] PML4 base) keeps the walk one read shorter and the rule the
same: the device reads the root per PASID from memory the host owns.
"""
from __future__ import annotations

from .memory import PAGE_SIZE

PASID_BITS = 20


class PasidTable:
    def __init__(self, mem, base_pa: int) -> None:
        if base_pa & (PAGE_SIZE - 1):
            raise ValueError(f"PASID table base {base_pa:#x} not 4 KiB aligned")
        self.mem = mem
        self.base_pa = base_pa

    def entry_pa(self, pasid: int) -> int:
        if not 0 <= pasid < (1 << PASID_BITS):
            raise ValueError(f"pasid {pasid:#x} wider than {PASID_BITS} bits")
        return self.base_pa + 8 * pasid

    def set(self, pasid: int, root_pa: int) -> None:
        if root_pa & (PAGE_SIZE - 1) or not 0 <= root_pa < (1 << self.mem.pa_bits):
            raise ValueError(f"root {root_pa:#x} not a 4 KiB aligned physical address")
        self.mem.write64(self.entry_pa(pasid), root_pa | 1)

    def clear(self, pasid: int) -> None:
        self.mem.write64(self.entry_pa(pasid), 0)

    def get(self, pasid: int) -> int | None:
        """Root PA bound to pasid, None if the entry is not present."""
        e = self.mem.read64(self.entry_pa(pasid))
        return e & ((1 << self.mem.pa_bits) - 1) & ~(PAGE_SIZE - 1) if e & 1 else None
