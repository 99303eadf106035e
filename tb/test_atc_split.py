"""ATC fill size of huge translations, AtcSplitHuge 0 and 1 (cocotb module).

Many ATS devices cache a 2 MiB or 1 GiB translation as 4 KiB entries (the
Translation Completion may report a smaller size, or the ATC stores only 4 KiB
pages). With AtcSplitHuge=1 the ATC caches the 4 KiB page of the access
(PA = huge frame + the page's offset); with 0 (the default) one entry of the
leaf's size. The expected hit/miss of every access below follows from the
mode alone (the test's own bookkeeping, not the RTL):

huge_fill_size: for a 2 MiB and a 1 GiB leaf, three 4 KiB pages P1, P2 (the
same 2 MiB region) and P3 (another 2 MiB region of the 1 GiB leaf) are read.
Split: each page misses once and then hits; the PA is the huge frame plus the
page offset. Whole: only the first access misses. The host then repoints the
leaf to a new frame without telling anyone and invalidates the 4 KiB page at
the leaf's base: whole mode loses its one entry (every page walks to the new
frame); split mode keeps P1, P2, P3 (each hits with the old PA: the entries an
invalidate_page(mm, address) of a THP leaves behind), and only the base page
walks. A 2 MiB invalidation of the first region then drops P1 and P2 in split
mode (new PA), but P3 of the 1 GiB leaf, outside it, still hits.
"""
from __future__ import annotations

import cocotb

from model.ats import encode_range
from model.pagetable import SIZE_1G, SIZE_2M, make_pte
from tb.atsbench import TB, Host, rtl_params

PAGE = 4096


async def start(dut, name: str) -> tuple[TB, Host]:
    host = Host(pa_bits=rtl_params()["PaWidth"])
    tb = TB(dut, host.mem, test_name=name, axi=dict(latency=(1, 3)))
    await tb.start(pasid_tbl_base=host.pasid_tbl_base, budget=100_000)
    return tb, host


@cocotb.test()
async def huge_fill_size(dut):
    """Split mode caches 4 KiB entries of a huge leaf; a 4 KiB invalidation at the base leaves the others."""
    tb, host = await start(dut, "huge_fill_size")
    split = bool(tb.params.get("AtcSplitHuge", 0))
    pasid = 0x3A
    sp = host.new_space(pasid)
    checked = 0
    for n, size in enumerate((SIZE_2M, SIZE_1G)):
        base = 0x3000_0000_0000 + n * 4 * SIZE_1G
        pa0, pa1, pa2 = host.data_pa(size), host.data_pa(size), host.data_pa(size)
        sp.map(base, pa0, size)
        pages = {"P1": base + 0x3000, "P2": base + 0x5000}
        if size == SIZE_1G:
            pages["P3"] = base + 3 * SIZE_2M + 0x7000       # another 2 MiB region of the leaf
        cached: set[str] = set()                            # the test's view of the ATC

        async def access(name: str, pa_base: int, want_hit: bool, why: str) -> None:
            nonlocal checked
            va = pages[name] if name in pages else base
            r = await tb.read(int(name == "P3"), pasid, va + 8)
            what = f"{size:#x} leaf, {'split' if split else 'whole'} ATC, {name} ({va:#x}) {why}"
            if r.fault or r.pa != pa_base + (va - base) + 8:
                tb.fail(f"{what}: {r}, expected pa {pa_base + (va - base) + 8:#x}")
            if r.atc_hit != want_hit:
                tb.fail(f"{what}: atc_hit {int(r.atc_hit)}, expected {int(want_hit)}")
            checked += 1

        # fills: whole mode caches the leaf on the first miss; split mode one 4 KiB page per miss
        for name in pages:
            want = (name in cached) if split else bool(cached)
            await access(name, pa0, want, "first read")
            cached.add(name)
            await access(name, pa0, True, "second read")

        # the leaf moves to pa1 with no invalidation yet, then the 4 KiB page at the base is invalidated
        sp.set_leaf(base, make_pte(pa1, huge=True))
        await tb.inv.invalidate(base >> 12, False, pasid=pasid)
        for name in pages:
            if split:  # kept: the old frame, no walk
                await access(name, pa0, True, "after a 4 KiB invalidation of the base")
            else:      # the one entry is gone: the first access walks and caches the leaf again
                await access(name, pa1, name != "P1", "after a 4 KiB invalidation of the base")
        await access("base", pa1, not split, "after a 4 KiB invalidation of the base")

        # the leaf moves to pa2; a 2 MiB invalidation of the first 2 MiB region drops all its entries
        sp.set_leaf(base, make_pte(pa2, huge=True))
        addr, s = encode_range(base, SIZE_2M)
        await tb.inv.invalidate(addr, s, pasid=pasid)
        for name in ("P1", "P2", "base"):
            await access(name, pa2, not split and name != "P1", "after a 2 MiB invalidation")
        if "P3" in pages:  # split: outside the invalidated 2 MiB, its entry keeps the old frame
            await access("P3", pa0 if split else pa2, True, "after a 2 MiB invalidation of another region")
    tb.log("checked %d accesses (AtcSplitHuge=%d)", checked, split)
    if checked < 20:
        tb.fail(f"only {checked} accesses checked")
    tb.check_protocol()
