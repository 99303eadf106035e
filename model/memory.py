"""Host physical memory: sparse, byte-exact, little-endian.

The RTL's AXI slave calls `read64`/`write64` once per beat and the reference
device once per access, so the aligned 8-byte path is the hot one: it is a dict
lookup plus `int.from_bytes` on one page. Pages that were never written read as
zero without being allocated, so a walk through an empty table costs no memory.

The memory also holds the AXI exclusive monitor the device's page walker
relies on for its accessed/dirty updates (docs/ARCHITECTURE.md section 3): an
exclusive read reserves the 8-byte granule for its AXI ID, and *every* write
to those bytes, whoever makes it (a CPU store of the host model, a DMA write,
another ID's exclusive write, a page copy or zeroing), clears the reservation.
An exclusive write succeeds only while its ID still holds the reservation.
Keeping the monitor inside the one memory object means no writer can bypass it.

`page_hook`, when set, is told of every page that appears, is replaced or goes
away (`page_hook(pfn, bytearray_or_None)`): a simulator-side AXI slave serves
the pages in place, by pointer, and must know where they live
(tb/axi_mem.py). Pages never change size, so a pointer stays valid until the
hook says the page went away.
"""
from __future__ import annotations

from typing import Any, Callable

PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT
_OFF_MASK = PAGE_SIZE - 1
_ZERO_PAGE = bytes(PAGE_SIZE)


class PhysMem:
    """Sparse physical memory of `2**pa_bits` bytes in 4 KiB bytearray pages."""

    __slots__ = ("pa_bits", "limit", "_pages", "_resv", "page_hook")

    def __init__(self, pa_bits: int = 48) -> None:
        if not 12 <= pa_bits <= 64:
            raise ValueError(f"pa_bits {pa_bits} outside 12..64")
        self.pa_bits = pa_bits
        self.limit = 1 << pa_bits
        self._pages: dict[int, bytearray] = {}
        self._resv: dict[int, int] = {}  # exclusive monitor: AXI ID -> reserved 8-byte granule (pa >> 3)
        self.page_hook: Callable[[int, bytearray | None], None] | None = None

    # -- checks ------------------------------------------------------------
    def _check(self, pa: int, n: int) -> None:
        # An address outside the physical space is a model bug (the RTL port is
        # only PaWidth wide), so fail loudly instead of wrapping.
        if pa < 0 or n < 0 or pa + n > self.limit:
            raise ValueError(f"access [{pa:#x}, +{n}) outside {self.pa_bits}-bit physical space")

    def _page(self, pfn: int) -> bytearray:
        page = self._pages.get(pfn)
        if page is None:
            page = self._pages[pfn] = bytearray(PAGE_SIZE)
            if self.page_hook is not None:
                self.page_hook(pfn, page)
        return page

    # -- byte access -------------------------------------------------------
    def read(self, pa: int, n: int) -> bytes:
        self._check(pa, n)
        out = bytearray()
        while n > 0:
            off = pa & _OFF_MASK
            chunk = min(n, PAGE_SIZE - off)
            page = self._pages.get(pa >> PAGE_SHIFT)
            out += page[off:off + chunk] if page is not None else bytes(chunk)
            pa += chunk
            n -= chunk
        return bytes(out)

    def write(self, pa: int, data: bytes) -> None:
        n = len(data)
        self._check(pa, n)
        if self._resv and n:
            self._unreserve(pa, n)
        pos = 0
        while pos < n:
            off = pa & _OFF_MASK
            chunk = min(n - pos, PAGE_SIZE - off)
            self._page(pa >> PAGE_SHIFT)[off:off + chunk] = data[pos:pos + chunk]
            pa += chunk
            pos += chunk

    # -- qword access (hot path) ------------------------------------------
    def read64(self, pa: int) -> int:
        off = pa & _OFF_MASK
        if off > PAGE_SIZE - 8 or pa < 0 or pa + 8 > self.limit:
            return int.from_bytes(self.read(pa, 8), "little")
        page = self._pages.get(pa >> PAGE_SHIFT)
        if page is None:
            return 0
        return int.from_bytes(page[off:off + 8], "little")

    def write64(self, pa: int, value: int) -> None:
        if not 0 <= value < (1 << 64):
            raise ValueError(f"value {value:#x} is not a 64-bit unsigned integer")
        off = pa & _OFF_MASK
        if off > PAGE_SIZE - 8 or pa < 0 or pa + 8 > self.limit:
            self.write(pa, value.to_bytes(8, "little"))
            return
        if self._resv:
            self._unreserve(pa, 8)
        self._page(pa >> PAGE_SHIFT)[off:off + 8] = value.to_bytes(8, "little")

    # -- page operations ---------------------------------------------------
    def copy_page(self, dst_pa: int, src_pa: int) -> None:
        if (dst_pa | src_pa) & _OFF_MASK:
            raise ValueError(f"copy_page needs page-aligned addresses ({dst_pa:#x} <- {src_pa:#x})")
        self._check(dst_pa, PAGE_SIZE)
        self._check(src_pa, PAGE_SIZE)
        if self._resv:
            self._unreserve(dst_pa, PAGE_SIZE)
        src = self._pages.get(src_pa >> PAGE_SHIFT)
        dst = dst_pa >> PAGE_SHIFT
        if src is None:
            if self._pages.pop(dst, None) is not None and self.page_hook is not None:
                self.page_hook(dst, None)
        else:
            page = self._pages[dst] = bytearray(src)
            if self.page_hook is not None:
                self.page_hook(dst, page)

    def zero_page(self, pa: int) -> None:
        if pa & _OFF_MASK:
            raise ValueError(f"zero_page needs a page-aligned address ({pa:#x})")
        self._check(pa, PAGE_SIZE)
        if self._resv:
            self._unreserve(pa, PAGE_SIZE)
        # Dropping the page is the same as zeroing it: absent pages read as 0.
        if self._pages.pop(pa >> PAGE_SHIFT, None) is not None and self.page_hook is not None:
            self.page_hook(pa >> PAGE_SHIFT, None)

    # -- exclusive monitor (AXI ARLOCK/AWLOCK) ------------------------------
    def _unreserve(self, pa: int, n: int) -> None:
        """A write to [pa, pa+n) clears every reservation on a granule it touches."""
        lo, hi = pa >> 3, (pa + n - 1) >> 3
        for tag in [t for t, g in self._resv.items() if lo <= g <= hi]:
            del self._resv[tag]

    def read_exclusive(self, tag: int, pa: int) -> int:
        """Exclusive read of the qword at pa by AXI ID `tag`: its value, and a reservation
        (replacing any earlier one of `tag`)."""
        value = self.read64(pa)
        self._resv[tag] = pa >> 3
        return value

    def write_exclusive(self, tag: int, pa: int, value: int) -> bool:
        """Exclusive write: performed (True, EXOKAY) only if `tag` still holds the
        reservation of pa's granule; otherwise memory is untouched (False, OKAY).
        Either way the reservation of `tag` is used up."""
        if self._resv.pop(tag, None) != pa >> 3:
            return False
        self.write64(pa, value)
        return True

    def slave_exclusive(self, kind: int, tag: int, pa: int, value: Any, strb: int) -> int:
        """The AXI slave's exclusive-monitor callback (tb/csrc/axi_slave.cpp `axs_excl_cb`),
        one place for both testbenches: kind 0 = exclusive read (its value into value[0]),
        1 = exclusive write of value[0] (1 if performed), 2 = a plain write of a granule
        that may be reserved (value[0] under byte mask `strb`). Returns the slave's answer."""
        if kind == 0:
            value[0] = self.read_exclusive(tag, pa)
            return 1
        if kind == 1:
            return int(self.write_exclusive(tag, pa, value[0]))
        if strb == 0xFF:
            self.write64(pa, value[0])
        else:
            raw = value[0].to_bytes(8, "little")
            for i in range(8):
                if strb >> i & 1:
                    self.write(pa + i, raw[i:i + 1])
        return 1

    def reserved(self, tag: int) -> int | None:
        """PA of the granule `tag` holds a reservation on (tests), or None."""
        g = self._resv.get(tag)
        return None if g is None else g << 3

    def page_buffer(self, pfn: int) -> bytearray:
        """The backing page of `pfn`, created (zero) if absent (an AXI slave about to write it)."""
        self._check(pfn << PAGE_SHIFT, PAGE_SIZE)
        return self._page(pfn)

    def page_items(self) -> list[tuple[int, bytearray]]:
        """(PFN, backing page) of every allocated page (for `page_hook` users joining late)."""
        return list(self._pages.items())

    # -- introspection (tests, dumps) --------------------------------------
    def touched_pages(self) -> list[int]:
        """PFNs that hold a backing page (were written since last zeroed)."""
        return sorted(self._pages)

    def page_is_zero(self, pa: int) -> bool:
        page = self._pages.get(pa >> PAGE_SHIFT)
        return page is None or page == _ZERO_PAGE
