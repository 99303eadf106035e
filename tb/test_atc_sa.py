"""Set-associative ATC (AtcWays > 0): replacement, invalidation across sets, huge pages (cocotb module).

The expected hit or miss of every access comes from `SaModel` below, a model of
the organisation written from its definition (docs/ARCHITECTURE.md, "ATC
organisation"), not from the RTL:

  - a 4 KiB entry lives in set VPN mod Sets; a set holds Ways entries;
  - a fill takes the way of an entry with the same key (the low 4 PASID bits
    and the VPN bits from the set index up to VPN[17]), else the first invalid
    way, else the tree pseudo-LRU victim; the entry of the same key is dropped
    (at most one entry per address);
  - tree PLRU per set: node n has children 2n+1 (lower half) and 2n+2 (upper
    half); a node's bit set means the victim is in the upper half; a hit and a
    fill point every node on the way's path away from it;
  - an invalidation drops every entry whose set index, key bits and low PASID
    bits may lie in the range (a superset of the overlapping entries).

sa_plru_conflicts: a random stream of reads over more pages of one set than it
has ways, plus pages of another set and a pair of pages with the same key:
every read's hit/miss and PA is checked against the model.
sa_inval_sets: pages across all sets are cached and remapped by the host; a
range invalidation of part of them drops exactly those (new PA), the others
keep the old PA; an entry of another PASID with other low bits survives, one
whose low 4 PASID bits match is dropped too (the documented superset).
sa_huge: 2 MiB and 1 GiB leaves are cached once in the huge array and hit from
4 KiB pages of every set; a 4 KiB invalidation inside the 2 MiB leaf drops it;
a third huge leaf evicts the pseudo-LRU one of two.
"""
from __future__ import annotations

import random

import cocotb

from model.ats import encode_range
from model.pagetable import SIZE_1G, SIZE_2M
from tb.atsbench import TB, Host, rtl_params

PAGE = 4096
KEY_PASID_BITS = 4   # rtl/atc_sa.sv KeyPasidW
KNOWN_VPN_BITS = 18  # rtl/atc_sa.sv KnownW


class PlruTree:
    """Tree pseudo-LRU over `ways` leaves, from the definition above."""

    def __init__(self, ways: int):
        self.levels = ways.bit_length() - 1
        self.bits = [0] * (ways - 1)

    def touch(self, way: int) -> None:
        n = 0
        for lvl in range(self.levels):
            b = (way >> (self.levels - 1 - lvl)) & 1
            self.bits[n] = 1 - b
            n = 2 * n + 1 + b

    def victim(self) -> int:
        n, way = 0, 0
        for _ in range(self.levels):
            b = self.bits[n]
            way = way << 1 | b
            n = 2 * n + 1 + b
        return way


class SaModel:
    """The 4 KiB part of a set-associative ATC: entries are (pasid, vpn) or None."""

    def __init__(self, entries: int, ways: int):
        self.sets, self.ways = entries // ways, ways
        self.set_bits = self.sets.bit_length() - 1
        self.ent: list[list[tuple[int, int] | None]] = [[None] * ways for _ in range(self.sets)]
        self.plru = [PlruTree(ways) for _ in range(self.sets)]
        self.evictions = 0

    def key(self, pasid: int, vpn: int) -> tuple[int, int]:
        return pasid % (1 << KEY_PASID_BITS), (vpn % (1 << KNOWN_VPN_BITS)) >> self.set_bits

    def access(self, pasid: int, vpn: int) -> bool:
        """A read: True on a hit; a miss fills."""
        s = vpn % self.sets
        row = self.ent[s]
        for w, e in enumerate(row):
            if e == (pasid, vpn):
                self.plru[s].touch(w)
                return True
        same = [w for w, e in enumerate(row) if e is not None and self.key(*e) == self.key(pasid, vpn)]
        free = [w for w, e in enumerate(row) if e is None]
        for w in same:
            row[w] = None
        if same:
            way = same[0]
        elif free:
            way = free[0]
        else:
            way = self.plru[s].victim()
            self.evictions += 1
        row[way] = (pasid, vpn)
        self.plru[s].touch(way)
        return False

    def invalidate(self, pasid: int, first_vpn: int, pages: int) -> None:
        """Drop what an invalidation of [first_vpn, first_vpn + pages) of `pasid` drops (the superset)."""
        keep = ~(pages - 1) % (1 << KNOWN_VPN_BITS)
        for s, row in enumerate(self.ent):
            for w, e in enumerate(row):
                if e is None:
                    continue
                p, v = e
                if (p - pasid) % (1 << KEY_PASID_BITS) == 0 and ((v ^ first_vpn) & keep) == 0:
                    row[w] = None


async def start(dut, name: str) -> tuple[TB, Host, dict]:
    params = rtl_params()
    if not params.get("AtcWays"):
        raise AssertionError(f"{name}: needs AtcWays > 0 (got {params})")
    host = Host(pa_bits=params["PaWidth"])
    tb = TB(dut, host.mem, test_name=name, axi=dict(latency=(1, 3)))
    await tb.start(pasid_tbl_base=host.pasid_tbl_base, budget=400_000)
    return tb, host, params


async def check_read(tb: TB, pasid: int, va: int, pa: int, hit: bool, why: str, thread: int = 0) -> None:
    r = await tb.read(thread, pasid, va)
    if r.fault or r.pa != pa:
        tb.fail(f"{why}: va {va:#x}: {r}, expected pa {pa:#x}")
    if r.atc_hit != hit:
        tb.fail(f"{why}: va {va:#x}: atc_hit {int(r.atc_hit)}, expected {int(hit)}")


@cocotb.test()
async def sa_plru_conflicts(dut):
    """Conflict misses in a set and PLRU victims, against the model."""
    tb, host, p = await start(dut, "sa_plru_conflicts")
    rng = random.Random(cocotb.RANDOM_SEED)
    model = SaModel(p["AtcEntries"], p["AtcWays"])
    pasid = 0x21
    sp = host.new_space(pasid)
    base = 0x1200_0000_0000 >> 12            # a VPN of set 0
    vpns = [base + i * model.sets for i in range(p["AtcWays"] + 3)]       # one set, more pages than ways
    vpns += [base + 1 + i * model.sets for i in range(2)]                 # another set
    vpns.append(vpns[0] + (1 << KNOWN_VPN_BITS))                          # same set and key as vpns[0]
    pa = {v: host.data_pa() for v in vpns}
    for v in vpns:
        sp.map(v << 12, pa[v])
    hits = misses = 0
    for n in range(160):
        v = rng.choice(vpns)
        want = model.access(pasid, v)
        off = 8 * rng.randrange(512)
        await check_read(tb, pasid, (v << 12) + off, pa[v] + off, want, f"read {n} of vpn {v:#x}")
        hits += want
        misses += not want
    tb.log("%d hits, %d misses, %d PLRU evictions", hits, misses, model.evictions)
    if model.evictions < 20 or hits < 40:
        tb.fail(f"stream too weak: {hits} hits, {model.evictions} PLRU evictions")
    tb.check_protocol()


@cocotb.test()
async def sa_inval_sets(dut):
    """A range invalidation across sets drops every entry in it."""
    tb, host, p = await start(dut, "sa_inval_sets")
    model = SaModel(p["AtcEntries"], p["AtcWays"])
    a, b, c = 0x31, 0x32, 0x31 + (1 << KEY_PASID_BITS)   # c: the low PASID bits of a
    spaces = {x: host.new_space(x) for x in (a, b, c)}
    base = 0x2300_0000_0000 >> 12                         # 8-page aligned
    # (c, base + 6) has the key of (a, base + 6), which is therefore left out (a fill drops its key's entry)
    pages = [(a, base + i) for i in range(8) if i != 6] + [(b, base + 5), (c, base + 6)]
    if len(pages) > p["AtcEntries"] or 3 > p["AtcWays"]:
        raise AssertionError(f"sa_inval_sets needs >= 16 entries of >= 4 ways, got {p}")
    pa = {}
    for x, v in pages:
        pa[(x, v)] = host.data_pa()
        spaces[x].map(v << 12, pa[(x, v)])
        await check_read(tb, x, v << 12, pa[(x, v)], model.access(x, v), "warm-up")
    for x, v in pages:
        await check_read(tb, x, v << 12, pa[(x, v)], model.access(x, v), "cached")
    # the host remaps every page of PASID a and invalidates the aligned 4-page range 4..7
    new = {}
    for x, v in pages:
        if x == a:
            new[(x, v)] = host.data_pa()
            spaces[x].map(v << 12, new[(x, v)])
    first, n = base + 4, 4
    addr, s = encode_range(first << 12, n * PAGE)
    await tb.inv.invalidate(addr, s, pasid=a)
    model.invalidate(a, first, n)
    sets_hit = set()
    for x, v in pages:
        inside = x == a and first <= v < first + n
        cached = model.access(x, v)
        if inside and cached:
            tb.fail(f"model: {v:#x} inside the range is still cached")
        if inside:
            sets_hit.add(v % model.sets)
        # a kept entry gives the old PA (the host did not invalidate it); a walk the new one
        await check_read(tb, x, v << 12, pa[(x, v)] if cached else new.get((x, v), pa[(x, v)]), cached,
                         f"after the invalidation of {n} pages at {first:#x} ({'inside' if inside else 'outside'})")
    if len(sets_hit) < 3:
        tb.fail(f"the range covered only sets {sorted(sets_hit)}")
    tb.check_protocol()


@cocotb.test()
async def sa_huge(dut):
    """2 MiB / 1 GiB entries hit from every set; a 4 KiB invalidation drops the leaf; PLRU in the huge array."""
    tb, host, p = await start(dut, "sa_huge")
    if p.get("AtcSplitHuge") or p.get("AtcHugeEntries", 4) != 2:
        raise AssertionError(f"sa_huge needs AtcSplitHuge=0 and AtcHugeEntries=2, got {p}")
    pasid = 0x44
    sp = host.new_space(pasid)
    sets = p["AtcEntries"] // p["AtcWays"]
    for n, size in enumerate((SIZE_2M, SIZE_1G)):
        base = 0x3400_0000_0000 + n * 4 * SIZE_1G
        pa0 = host.data_pa(size)
        sp.map(base, pa0, size)
        for i in range(sets + 2):  # pages of every set
            va = base + (7 + i) * PAGE
            await check_read(tb, pasid, va, pa0 + (va - base), i > 0, f"{size:#x} leaf, page {i}")
        pa1 = host.data_pa(size)
        sp.map(base, pa1, size)
        await tb.inv.invalidate((base >> 12) + 9, False, pasid=pasid)  # one 4 KiB page of the leaf
        for i in range(sets + 2):
            va = base + (7 + i) * PAGE
            await check_read(tb, pasid, va, pa1 + (va - base), i > 0, f"{size:#x} leaf after a 4 KiB invalidation, page {i}")
    # three 2 MiB leaves, two huge entries: C evicts the PLRU one (A), B stays
    leaves = [0x3500_0000_0000 + i * SIZE_1G for i in range(3)]
    pas = [host.data_pa(SIZE_2M) for _ in leaves]
    for va, pa_ in zip(leaves, pas):
        sp.map(va, pa_, SIZE_2M)
    for va, pa_ in zip(leaves, pas):
        await check_read(tb, pasid, va + PAGE, pa_ + PAGE, False, "huge leaf first read")
    await check_read(tb, pasid, leaves[2] + 2 * PAGE, pas[2] + 2 * PAGE, True, "leaf C again")
    await check_read(tb, pasid, leaves[1] + 2 * PAGE, pas[1] + 2 * PAGE, True, "leaf B again")
    await check_read(tb, pasid, leaves[0] + 2 * PAGE, pas[0] + 2 * PAGE, False, "leaf A, evicted")
    tb.check_protocol()
