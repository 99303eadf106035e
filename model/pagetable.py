"""x86-64 4-level page tables in host memory and the golden software walk.

The walk here is the reference the RTL walker is checked against bit for bit,
so it implements docs/ARCHITECTURE.md sections 2 and 3 literally: canonical
check first, then the PASID entry, then PML4E, PDPTE, PDE, PTE; inside one
entry P, reserved bits, US, RW. The first failing entry decides the cause.

The walk is written once, as a generator that yields the PA of each entry it
wants and receives the entry's value (`walk_steps`, `translate_steps`). The
immediate walk (`walk`, `translate`) feeds it from memory at once; the
reference device feeds it one read at a time at the cycle its memory port
performs that read, so a PTE change in the middle of a walk is seen or not
depending on time, with exactly the same fault rules.

With `ad=True` the walk also sets accessed and dirty bits the way the RTL
walker does (docs/ARCHITECTURE.md section 3): an entry that passed its checks
and lacks A (every level), or D (leaf of a write walk), is updated by an
atomic compare-and-swap: the generator yields an `AdUpdate` instead of a PA
and is sent the entry's value at the moment of the update. Equal to the
value the walk decided on: the update was made and the walk goes on with it.
Different: another agent changed the entry in between (the RTL's exclusive
reservation was lost), and the entry is decided afresh from the value sent,
at most `AD_RETRIES` times per walk (then Fault.AD_UPDATE).
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Generator

from .ats import Fault
from .memory import PAGE_SHIFT, PAGE_SIZE

P = 1 << 0
RW = 1 << 1
US = 1 << 2
PWT = 1 << 3
PCD = 1 << 4
A = 1 << 5
D = 1 << 6
PS = 1 << 7
G = 1 << 8
XD = 1 << 63
#: x86 _PAGE_PROTNONE (the G bit's position, meaningful only with P clear): a
#: PROT_NONE or NUMA-hinting entry. Hardware walkers fault on it (P=0); the
#: kernel still counts it as a mapping of its page (pmd_present).
PROTNONE = G

SIZE_4K = 1 << 12
SIZE_2M = 1 << 21
SIZE_1G = 1 << 30
MASK64 = (1 << 64) - 1
ENTRIES = 512

#: page size of a leaf at each level (1 PML4E: never a leaf)
LEVEL_SIZE = {2: SIZE_1G, 3: SIZE_2M, 4: SIZE_4K}
SIZE_LEVEL = {v: k for k, v in LEVEL_SIZE.items()}
#: VA bit where each level's 9-bit index starts
LEVEL_SHIFT = {1: 39, 2: 30, 3: 21, 4: 12}


def _bits(hi: int, lo: int) -> int:
    """Mask of bits [hi:lo] (empty when hi < lo)."""
    return 0 if hi < lo else ((1 << (hi + 1)) - 1) & ~((1 << lo) - 1)


def rsvd_common(pa_bits: int = 48) -> int:
    """Bits [51:PaWidth], reserved in every entry."""
    return _bits(51, pa_bits)


def rsvd_mask(level: int, huge: bool, pa_bits: int = 48) -> int:
    """Reserved bits of an entry at `level` (1 PML4E .. 4 PTE); `huge` = its PS bit."""
    m = rsvd_common(pa_bits)
    if level == 1:
        m |= PS
    elif level == 2 and huge:
        m |= _bits(29, 13)
    elif level == 3 and huge:
        m |= _bits(20, 13)
    return m


def addr_mask(page_size: int, pa_bits: int = 48) -> int:
    """Address field of an entry pointing at a table (4 KiB) or a leaf of `page_size`."""
    return _bits(pa_bits - 1, page_size.bit_length() - 1)


def huge_slot(e: int) -> bool:
    """A PDPTE/PDE that is a huge page's slot for the kernel: PS set, present
    or not. x86 pmd_present() counts PSE for the same reason: a protnone (NUMA
    hinting) PMD, and a PMD that pmdp_invalidate made not-present under the
    lock, still belong to their huge page (a lockless look must not take
    them for a missing page table)."""
    return bool(e & PS)


def is_canonical(va: int) -> bool:
    top = (va & MASK64) >> 47
    return top == 0 or top == (1 << 17) - 1


def canonical(va: int) -> int:
    """Sign-extend bit 47 into bits 63:48 (build VAs from table indices)."""
    va &= (1 << 48) - 1
    return va | _bits(63, 48) if va >> 47 else va


def va_of(i1: int, i2: int = 0, i3: int = 0, i4: int = 0, off: int = 0) -> int:
    """Canonical VA from the four table indices and a page offset."""
    return canonical((i1 << 39) | (i2 << 30) | (i3 << 21) | (i4 << 12) | off)


def index(va: int, level: int) -> int:
    return (va >> LEVEL_SHIFT[level]) & (ENTRIES - 1)


def make_pte(pa: int, *, writable: bool = True, user: bool = True, huge: bool = False,
             present: bool = True) -> int:
    """Entry value as the host writes it: A and D set (the walker has nothing to update)."""
    if pa & (PAGE_SIZE - 1) or not 0 <= pa < (1 << 52):
        raise ValueError(f"pa {pa:#x} is not a 4 KiB aligned 52-bit address")
    v = pa | A | D
    if present:
        v |= P
    if writable:
        v |= RW
    if user:
        v |= US
    if huge:
        v |= PS
    return v


@dataclass
class Walk:
    fault: Fault  # Fault.NONE when ok
    pa: int  # translated PA of va (0 on fault)
    page_size: int  # 4096, 2 MiB or 1 GiB (0 on fault)
    writable: bool  # effective RW over all levels
    level: int  # level that decided: 0 PASID, 1 PML4E, 2 PDPTE, 3 PDE, 4 PTE
    reads: list[int] = field(default_factory=list)  # PAs of the entries read, in order
    dirty: bool = False  # the leaf's D bit (after the walk's own update): a write may use it cached

    @property
    def ok(self) -> bool:
        return self.fault == Fault.NONE

    @property
    def base(self) -> int:
        """PA of the start of the translated page (0 on fault)."""
        return self.pa & ~(self.page_size - 1) if self.page_size else 0


#: lost reservations (changed entries at update time) per walk before Fault.AD_UPDATE (ats_dev_top AdRetries)
AD_RETRIES = 4


@dataclass(frozen=True)
class AdUpdate:
    """An A/D update the walk asks for: set `new` at `pa` if the entry still holds `old`."""

    pa: int
    old: int
    new: int


def ad_bits(e: int, leaf: bool, write: bool) -> int:
    """Bits a walker sets in an entry it translates through: A always, D in the leaf of a write."""
    return (A | (D if leaf and write else 0)) & ~e


def _fault(cause: Fault, level: int, reads: list[int]) -> Walk:
    return Walk(fault=cause, pa=0, page_size=0, writable=False, level=level, reads=reads)


def walk_steps(root_pa: int, va: int, write: bool = False, pa_bits: int = 48,
               ad: bool = False, ad_retries: int = AD_RETRIES,
               start_level: int = 1, keep_sup: bool = False,
               user: bool = True) -> Generator[int | AdUpdate, int, Walk]:
    """The walk as a generator: yields entry PAs (and, with `ad`, AdUpdates), is sent
    their values, returns a Walk.

    `start_level` > 1 starts below the root, `root_pa` being the table of that
    level (a page-walk-cache hit; the cached path had RW set throughout).

    `keep_sup` (the RTL's pwc_keep_sup_i): a non-leaf entry with US clear
    does not fault; the walk goes on and US is decided at the leaf, for the
    leaf and every entry above it. `user` is US over the levels above
    `start_level` (False: the page-walk-cache entry it starts from had a
    supervisor entry on its path)."""
    va &= MASK64
    reads: list[int] = []
    if not is_canonical(va):
        return _fault(Fault.NONCANONICAL, 0, reads)
    if start_level not in (1, 2, 3, 4):
        raise ValueError(f"start level {start_level} outside 1..4")
    table = root_pa & addr_mask(SIZE_4K, pa_bits)
    writable = True
    common = rsvd_common(pa_bits)
    lost = 0
    for level in range(start_level, 5):
        epa = table + 8 * index(va, level)
        reads.append(epa)
        e = (yield epa) & MASK64
        while True:
            is_leaf = level == 4 or (level in (2, 3) and bool(e & PS))
            sup = (not e & US and (is_leaf or not keep_sup)) or (is_leaf and not user)
            if not e & P or e & rsvd_mask(level, bool(e & PS), pa_bits) or sup or (write and not e & RW):
                break  # decided below
            bits = ad_bits(e, level == 4 or (level in (2, 3) and bool(e & PS)), write) if ad else 0
            if not bits:
                break
            now = (yield AdUpdate(epa, e, e | bits)) & MASK64
            if now == e:
                e |= bits
                break
            lost += 1
            if lost >= ad_retries:
                return _fault(Fault.AD_UPDATE, level, reads)
            e = now
        if not e & P:
            return _fault(Fault.NOT_PRESENT, level, reads)
        huge = level in (2, 3) and bool(e & PS)
        rsvd = common
        if level == 1:
            rsvd |= PS
        elif huge:
            rsvd |= _bits(29, 13) if level == 2 else _bits(20, 13)
        if e & rsvd:
            return _fault(Fault.RESERVED, level, reads)
        if (not e & US and (huge or level == 4 or not keep_sup)) or ((huge or level == 4) and not user):
            return _fault(Fault.SUPERVISOR, level, reads)
        user = user and bool(e & US)
        if not e & RW:
            if write:
                return _fault(Fault.WRITE_PROTECT, level, reads)
            writable = False
        if huge or level == 4:
            size = LEVEL_SIZE[level]
            pa = (e & addr_mask(size, pa_bits)) | (va & (size - 1))
            return Walk(fault=Fault.NONE, pa=pa, page_size=size, writable=writable,
                        level=level, reads=reads, dirty=bool(e & D))
        table = e & addr_mask(SIZE_4K, pa_bits)
    raise AssertionError("unreachable")


def translate_steps(pasid_tbl_base: int, pasid: int, va: int, write: bool = False,
                    pa_bits: int = 48, ad: bool = False, ad_retries: int = AD_RETRIES,
                    pwc_hit: tuple[int, int] | tuple[int, int, bool] | None = None,
                    keep_sup: bool = False) -> Generator[int | AdUpdate, int, Walk]:
    """PASID entry, then `walk_steps`; the canonical check comes before any read.

    `pwc_hit` = (level, table PA[, user]): a page-walk-cache entry of that level (0 the
    PASID entry, 1 PML4E, 2 PDPTE, 3 PDE) gave the next table; the walk starts
    there without reading the levels above (`user`: US on its path, default
    True). `keep_sup`: see `walk_steps`."""
    if not 0 <= pasid < (1 << 20):
        raise ValueError(f"pasid {pasid:#x} wider than 20 bits")
    if not is_canonical(va):
        return _fault(Fault.NONCANONICAL, 0, [])
    if pwc_hit is not None:
        user = bool(pwc_hit[2]) if len(pwc_hit) > 2 else True  # type: ignore[misc]
        return (yield from walk_steps(pwc_hit[1], va, write, pa_bits, ad, ad_retries,
                                      start_level=pwc_hit[0] + 1, keep_sup=keep_sup, user=user))
    epa = pasid_tbl_base + 8 * pasid
    e = yield epa
    if not e & P:
        return _fault(Fault.PASID, 0, [epa])
    w = yield from walk_steps(e & addr_mask(SIZE_4K, pa_bits), va, write, pa_bits, ad, ad_retries,
                              keep_sup=keep_sup)
    w.reads.insert(0, epa)
    return w


def _drive(mem, gen: Generator[int | AdUpdate, int, Walk]) -> Walk:
    try:
        req = next(gen)
        while True:
            if isinstance(req, AdUpdate):
                now = mem.read64(req.pa)
                if now == req.old:
                    mem.write64(req.pa, req.new)
                req = gen.send(now)
            else:
                req = gen.send(mem.read64(req))
    except StopIteration as stop:
        return stop.value


def walk(mem, root_pa: int, va: int, write: bool = False, pa_bits: int = 48) -> Walk:
    return _drive(mem, walk_steps(root_pa, va, write, pa_bits))


def translate(mem, pasid_tbl_base: int, pasid: int, va: int, write: bool = False,
              pa_bits: int = 48, ad: bool = False, keep_sup: bool = False) -> Walk:
    """The golden walk at once; with `ad` it also sets A/D in memory as the device walker does."""
    return _drive(mem, translate_steps(pasid_tbl_base, pasid, va, write, pa_bits, ad, keep_sup=keep_sup))


class PageTables:
    """One address space. Table frames are allocated from `frames` with owner "pagetable".

    Non-leaf entries are written as Linux writes them (_PAGE_TABLE: P RW US A D),
    so permissions are decided at the leaf unless a test damages a table entry.
    With `user=False` (the kernel half, `model.kernel_space`) they are
    _KERNPG_TABLE: P RW A D, US clear.
    """

    OWNER = "pagetable"

    def __init__(self, mem, frames, *, user: bool = True) -> None:
        self.mem = mem
        self.frames = frames
        self.user = user
        self.pa_bits: int = mem.pa_bits
        self.table_pfns: set[int] = set()
        self.root_pa: int = self._new_table()

    def _new_table(self) -> int:
        pfn = self.frames.alloc(self.OWNER)
        self.table_pfns.add(pfn)
        return pfn << PAGE_SHIFT

    def _check_va(self, va: int) -> int:
        va &= MASK64
        if not is_canonical(va):
            raise ValueError(f"va {va:#x} is not canonical")
        return va

    def _slot(self, va: int, level: int, alloc: bool) -> int | None:
        """PA of the entry for `va` at `level`, following present table entries.

        None if a table on the way is missing (and not `alloc`). A present huge
        leaf above `level` is an error: the caller asked for a finer slot than
        the mapping has.
        """
        table = self.root_pa
        amask = addr_mask(SIZE_4K, self.pa_bits)
        for lv in range(1, level):
            epa = table + 8 * index(va, lv)
            e = self.mem.read64(epa)
            if not e & P:
                if not alloc:
                    return None
                new = self._new_table()
                self.mem.write64(epa, make_pte(new, user=self.user))
                table = new
                continue
            if lv in (2, 3) and e & PS:
                raise ValueError(f"va {va:#x}: level {lv} holds a huge leaf")
            table = e & amask
        return table + 8 * index(va, level)

    def detach_table(self, va: int, level: int = 4) -> int | None:
        """Clear the entry that points at the level-`level` table covering va
        (`pmd_clear` for a PTE table, level 4) and return that table's pfn, or
        None if there is no such table (missing or a huge leaf).

        The frame is not freed here: like `pte_free_tlb`, the caller frees it
        once the TLBs that may still cache a pointer to it are flushed."""
        if level not in (2, 3, 4):
            raise ValueError(f"level {level}: only PDPT, PD and PTE tables can be detached")
        va = self._check_va(va)
        epa = self._slot(va, level - 1, alloc=False)
        if epa is None:
            return None
        e = self.mem.read64(epa)
        if not e & P or (level - 1 in (2, 3) and e & PS):
            return None
        pfn = (e & addr_mask(SIZE_4K, self.pa_bits)) >> PAGE_SHIFT
        self.mem.write64(epa, 0)
        self.table_pfns.discard(pfn)
        return pfn

    def map(self, va: int, pa: int, size: int = 4096, writable: bool = True, user: bool = True) -> None:
        va = self._check_va(va)
        if size not in SIZE_LEVEL:
            raise ValueError(f"page size {size:#x} not 4K/2M/1G")
        if va & (size - 1) or pa & (size - 1):
            raise ValueError(f"va {va:#x} / pa {pa:#x} not aligned to {size:#x}")
        level = SIZE_LEVEL[size]
        epa = self._slot(va, level, alloc=True)
        assert epa is not None
        old = self.mem.read64(epa)
        if level < 4 and old & P and not old & PS:
            raise ValueError(f"va {va:#x}: a page table is mapped where a {size:#x} leaf goes")
        self.mem.write64(epa, make_pte(pa, writable=writable, user=user, huge=level < 4))

    def leaf(self, va: int) -> tuple[int, int, int] | None:
        """(entry PA, value, page size) of the leaf slot for va; None if no such slot.

        A not-present PTE still has a slot (its value is returned, maybe 0); a
        not-present PML4E/PDPTE/PDE means no slot, except a huge one (PS set:
        a protnone NUMA hinting PMD, or one invalidated under the lock by a
        THP operation), which is the slot of its huge page (`huge_slot`).
        """
        va = self._check_va(va)
        table = self.root_pa
        amask = addr_mask(SIZE_4K, self.pa_bits)
        for lv in (1, 2, 3, 4):
            epa = table + 8 * index(va, lv)
            e = self.mem.read64(epa)
            if lv == 4 or (lv in (2, 3) and huge_slot(e)):
                return epa, e, LEVEL_SIZE[lv]
            if not e & P:
                return None
            table = e & amask
        return None

    def next_leaf(self, start: int, end: int) -> int | None:
        """The first va in [start, end) whose leaf slot holds a non-zero entry, else None.

        Range operations (zap, mprotect, MADV_FREE, soft-dirty clearing) visit
        only the entries that exist: a missing PML4E, PDPTE or PDE skips its
        whole subtree, so a 1 TiB range with a few pages mapped costs a few
        table reads, not 2^28 leaf look-ups. Entries are read afresh on each
        call, so a caller that releases the page-table lock between calls sees
        changes made meanwhile. A huge leaf covering `start` yields `start`
        itself (as `leaf(start)` would find it).
        """
        start, end = max(start, 0), min(end, 1 << 47)
        amask = addr_mask(SIZE_4K, self.pa_bits)
        read64 = self.mem.read64

        def scan(table: int, level: int, base: int) -> int | None:
            span = 1 << LEVEL_SHIFT[level]
            first = max(0, (start - base) // span)
            last = min(ENTRIES, -(-(end - base) // span))
            for i in range(first, last):
                e = read64(table + 8 * i)
                va = base + i * span
                if level == 4:
                    if e:
                        return max(va, start)
                elif level in (2, 3) and huge_slot(e):
                    return max(va, start)
                elif e & P:
                    got = scan(e & amask, level + 1, va)
                    if got is not None:
                        return got
            return None

        return scan(self.root_pa, 1, 0) if start < end else None

    def unmap(self, va: int) -> int | None:
        """Clear the leaf for va; the old value if it was present, else None.

        Tables are kept (as zap does), so a later map of a neighbour reuses them.
        """
        hit = self.leaf(va)
        if hit is None:
            return None
        epa, old, _ = hit
        self.mem.write64(epa, 0)
        return old if old & P else None

    def set_leaf(self, va: int, value: int) -> int:
        """Raw write of the leaf slot (tables down to the PTE level made if missing)."""
        hit = self.leaf(va)
        if hit is None:
            epa = self._slot(self._check_va(va), 4, alloc=True)
            assert epa is not None
            old = 0
        else:
            epa, old, _ = hit
        self.mem.write64(epa, value & MASK64)
        return old

    # -- additive: entry access at a chosen level (PMD-level ops, tests) -----
    def entry(self, va: int, level: int) -> tuple[int, int] | None:
        """(entry PA, value) at `level` (1..4); None if a table above is missing."""
        epa = self._slot(self._check_va(va), level, alloc=False)
        return None if epa is None else (epa, self.mem.read64(epa))

    def set_entry(self, va: int, level: int, value: int) -> int:
        """Raw write at `level` (tables above made if missing); returns the old value."""
        epa = self._slot(self._check_va(va), level, alloc=True)
        assert epa is not None
        old = self.mem.read64(epa)
        self.mem.write64(epa, value & MASK64)
        return old

    def walk(self, va: int, write: bool = False) -> Walk:
        return walk(self.mem, self.root_pa, va, write, self.pa_bits)


# ---------------------------------------------------------------------------
# Random address spaces for walker tests


@dataclass
class RandomMapping:
    va: int
    pa: int
    size: int
    writable: bool
    user: bool
    entries: list[int]  # entry PAs on the path, PML4E first (leaf last)
    damage: list[tuple[int, str, int]] = field(default_factory=list)  # (level, kind, bit)


def _damage_entry(e: int, level: int, is_leaf: bool, kind: str, rng: random.Random,
                  pa_bits: int) -> tuple[int, int]:
    """Apply one damage kind to an entry; returns (new value, bit touched or -1)."""
    if kind == "notpresent":
        return e & ~P, 0
    if kind == "readonly":
        return e & ~RW, 1
    if kind == "supervisor":
        return e & ~US, 2
    if kind == "reserved":
        choices = list(range(pa_bits, 52))
        if level == 1:
            choices.append(7)
        elif is_leaf and level == 2:
            choices += list(range(13, 30))
        elif is_leaf and level == 3:
            choices += list(range(13, 21))
        if not choices:
            return e, -1
        bit = rng.choice(choices)
        return e | (1 << bit), bit
    if kind == "ignored":
        # Bits a correct walker must not look at: XD, 62:52, 11:9 (and G).
        bit = rng.choice([63, 62, 58, 52, 11, 10, 9, 8])
        return e | (1 << bit), bit
    if kind == "set_ps":
        return e | PS, 7  # a table pointer reinterpreted as a huge leaf
    raise ValueError(kind)


def random_space(mem, frames, rng: random.Random, n_mappings: int, *, pa_bits: int | None = None,
                 damage: float = 0.35, regions: int = 3, noncanonical: bool = True,
                 mappings_out: list | None = None) -> tuple[PageTables, list[int]]:
    """Mixed 4K/2M/1G mappings, some damaged at every level; returns (tables, VAs to probe).

    Mappings are clustered into a few 4 GiB regions so paths share tables (a
    damaged upper entry then affects its neighbours too) while regions may sit
    in different PML4 slots, both halves of the canonical space. Damage kinds:
    not-present (with the rest of the entry left intact), read-only,
    supervisor, a reserved bit for that level, an ignored bit (XD, 62:52,
    available bits: must not fault), and PS set on a table pointer. Several
    kinds can land on one entry, which exercises the priority P > reserved >
    US > RW. Target PAs lie above the frame pool, so DMA to them never hits a
    page table. VAs are 8-byte aligned; a few non-canonical ones are added.
    Pass a list as `mappings_out` to receive the `RandomMapping` records.
    """
    pa_bits = mem.pa_bits if pa_bits is None else pa_bits
    pt = PageTables(mem, frames)
    pool_end = (frames.first_pfn + frames.num_frames) << PAGE_SHIFT
    data_lo = (pool_end + SIZE_1G - 1) & ~(SIZE_1G - 1)
    data_hi = 1 << pa_bits
    if data_hi - data_lo < 4 * SIZE_1G:
        raise ValueError("physical space too small above the frame pool for random mappings")

    bases: list[int] = []
    for _ in range(max(1, regions)):
        if bases and rng.random() < 0.5:
            i1 = index(rng.choice(bases), 1)  # share a PML4 slot with an earlier region
        else:
            i1 = rng.randrange(ENTRIES)
        bases.append(va_of(i1, rng.randrange(ENTRIES - 4)))

    maps: list[RandomMapping] = []
    attempts = 0
    while len(maps) < n_mappings and attempts < 8 * n_mappings + 16:
        attempts += 1
        size = rng.choices([SIZE_4K, SIZE_2M, SIZE_1G], weights=[6, 3, 1])[0]
        va = rng.choice(bases) + rng.randrange(4) * SIZE_1G
        if size <= SIZE_2M:
            va += rng.randrange(8) * SIZE_2M
        if size == SIZE_4K:
            va += rng.randrange(16) * SIZE_4K
        pa = data_lo + rng.randrange((data_hi - data_lo) // size) * size
        try:
            if pt.leaf(va) is not None and pt.leaf(va)[1] & P:
                continue
            pt.map(va, pa, size, writable=rng.random() < 0.75, user=rng.random() < 0.92)
        except ValueError:
            continue  # a huge leaf or a table already covers this slot
        level = SIZE_LEVEL[size]
        path = [pt._slot(va, lv, alloc=False) for lv in range(1, level + 1)]
        e = mem.read64(path[-1])
        maps.append(RandomMapping(va, pa, size, bool(e & RW), bool(e & US), path))  # type: ignore[arg-type]

    # Damage after every mapping exists, so map() never walks a damaged path.
    kinds = ["notpresent", "readonly", "supervisor", "reserved", "ignored", "set_ps"]
    for m in maps:
        if rng.random() >= damage:
            continue
        for _ in range(rng.choice([1, 1, 1, 2])):
            # Upper entries cover many mappings: damage them rarely, or one bad
            # PML4E would turn the whole space into the same fault.
            depth = len(m.entries)
            level = rng.choices(range(1, depth + 1), weights=[0.4, 1, 3, 12][4 - depth:])[0]
            is_leaf = level == depth
            kind = rng.choice(kinds if is_leaf else kinds + ["ignored"] * 3)
            if kind == "set_ps" and (is_leaf or level not in (2, 3)):
                kind = "reserved"
            epa = m.entries[level - 1]
            new, bit = _damage_entry(mem.read64(epa), level, is_leaf, kind, rng, pa_bits)
            mem.write64(epa, new)
            m.damage.append((level, kind, bit))

    vas: list[int] = []
    for m in maps:
        vas += [m.va, m.va + rng.randrange(m.size // 8) * 8, m.va + m.size - 8]
        for nb in (m.va - SIZE_4K, m.va + m.size):
            if is_canonical(nb) and 0 <= nb <= MASK64:
                vas.append(nb)
    for b in bases:
        vas.append(b + rng.randrange(4 * SIZE_1G // 8) * 8)
    vas.append(va_of(rng.randrange(ENTRIES), rng.randrange(ENTRIES), off=rng.randrange(512) * 8))
    if noncanonical:
        vas += [1 << 47, 0xFFFF_0000_0000_1000, 0x8000_7FFF_FFFF_F000 | (rng.randrange(512) * 8)]
    if mappings_out is not None:
        mappings_out.extend(maps)
    return pt, list(dict.fromkeys(vas))
