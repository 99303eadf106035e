"""PCIe ATS vocabulary shared by the RTL binding, the reference device and the host.

The fault causes mirror `ats_pkg::fault_e` in rtl/ats_pkg.sv value for value, so a
scoreboard can compare an RTL response with the golden walk without a table.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass

PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT
NUM_ITAGS = 32
ADDR_MASK = (1 << 64) - 1


class Fault(enum.IntEnum):
    NONE = 0
    NOT_PRESENT = 1
    WRITE_PROTECT = 2
    SUPERVISOR = 3
    RESERVED = 4
    PASID = 5
    BUS_WALK = 6
    BUS_DATA = 7
    NONCANONICAL = 8
    MISALIGNED = 9
    AD_UPDATE = 10  # A/D update not atomic: no exclusive monitor, or the walker's retries used up
    PRG_INVALID = 11  # Page Request answered Invalid Request
    PRG_FAILURE = 12  # Page Request answered Response Failure
    PRI_TIMEOUT = 13  # Page Request never answered
    LIVELOCK = 14  # retries answered Success, translation still faults
    BUS_TIMEOUT = 15  # AXI request not granted or not answered within AxiTimeout cycles (walk or data)


class PrgResponse(enum.IntEnum):
    """PRG Response codes (PCIe Page Request Interface); values as on the link."""

    SUCCESS = 0x0
    INVALID = 0x1
    FAILURE = 0xF


# translation faults the host may fix through a Page Request
PRI_FAULTS = (Fault.NOT_PRESENT, Fault.WRITE_PROTECT)


@dataclass(frozen=True)
class PageRequest:
    """One Page Request message: the device asks the host to make `va` accessible."""

    pasid: int
    va: int  # page address (VA[63:12] << 12)
    r: bool
    w: bool
    prg_index: int
    last: bool = True


@dataclass(frozen=True)
class InvalidateRequest:
    """One ATS Invalidate Request as it crosses the link.

    `addr` holds address bits [63:12] exactly as the wire does, so the S-bit
    encoding is visible to tests instead of being hidden behind (start, size).
    """

    itag: int
    addr: int  # bits [63:12]
    s: bool
    pasid: int | None  # None: all PASIDs (pasid_valid = 0)
    global_: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.itag < NUM_ITAGS:
            raise ValueError(f"itag {self.itag} outside 0..{NUM_ITAGS - 1}")
        if not 0 <= self.addr < (1 << 52):
            raise ValueError(f"addr field {self.addr:#x} wider than 52 bits")
        if self.pasid is not None and not 0 <= self.pasid < (1 << 20):
            raise ValueError(f"pasid {self.pasid:#x} wider than 20 bits")

    @property
    def range(self) -> tuple[int, int]:
        return inv_range(self.addr, self.s)

    @property
    def all_pasids(self) -> bool:
        return self.pasid is None or self.global_

    def matches(self, pasid: int, base: int, size: int) -> bool:
        """Would an ATC entry for (pasid, [base, base+size)) be dropped?"""
        if not self.all_pasids and pasid != self.pasid:
            return False
        start, length = self.range
        return base < start + length and start < base + size


def inv_range(addr: int, s: bool) -> tuple[int, int]:
    """Decode (addr[63:12], S) into (start, size in bytes) per the ATS spec."""
    full = (addr << PAGE_SHIFT) & ADDR_MASK
    if not s:
        return full, PAGE_SIZE
    b = PAGE_SHIFT
    while b < 63 and (full >> b) & 1:
        b += 1
    if b >= 63:
        return 0, 1 << 64
    size = 1 << (b + 1)
    return full & ~(size - 1) & ADDR_MASK, size


def encode_range(start: int, size: int) -> tuple[int, bool]:
    """Encode an aligned power-of-two range (>= 4 KiB) as (addr[63:12], S)."""
    if size < PAGE_SIZE or size & (size - 1):
        raise ValueError(f"size {size:#x} is not a power of two >= 4 KiB")
    if size >= 1 << 64:
        return (1 << 51) - 1, True  # bits 62:12 ones, bit 63 clear
    if start & (size - 1):
        raise ValueError(f"start {start:#x} not aligned to size {size:#x}")
    if size == PAGE_SIZE:
        return start >> PAGE_SHIFT, False
    ones = (size >> 1) - 1  # bits [b-1:0] ones where size = 2^(b+1)
    return ((start | ones) >> PAGE_SHIFT) & ((1 << 52) - 1), True


def split_range(start: int, end: int) -> list[tuple[int, int]]:
    """Cover [start, end) with the fewest aligned power-of-two ranges (page granular)."""
    start &= ~(PAGE_SIZE - 1)
    end = (end + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1)
    out: list[tuple[int, int]] = []
    while start < end:
        size = PAGE_SIZE
        while start % (size * 2) == 0 and start + size * 2 <= end:
            size *= 2
        out.append((start, size))
        start += size
    return out
