"""Golden walk: every expectation below is derived by hand from the x86-64 layout.

Hand-built tree used by most tests (tables at fixed PAs, written raw):

    VA 0x0000_0181_40E0_9123 = (3 << 39) | (5 << 30) | (7 << 21) | (9 << 12) | 0x123
    PML4 @0x1000 [3] -> PDPT @0x2000 [5] -> PD @0x3000 [7] -> PT @0x4000 [9]
    entry PAs: 0x1018, 0x2028, 0x3038, 0x4048
"""
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from model.ats import Fault
from model.frames import FrameAllocator
from model.memory import PhysMem
from model.pagetable import (
    A, D, P, PS, RW, SIZE_1G, SIZE_2M, US, XD, PageTables, RandomMapping, make_pte, random_space,
    translate, translate_steps, walk,
)
from model.pasid import PasidTable

VA = 0x0000_0181_40E0_9123
E1, E2, E3, E4 = 0x1018, 0x2028, 0x3038, 0x4048
TABLE = 0x67  # P RW US A D


def tree(pte=0x8000_0000_0ABC_D067):
    m = PhysMem()
    m.write64(E1, 0x2000 | TABLE)
    m.write64(E2, 0x3000 | TABLE)
    m.write64(E3, 0x4000 | TABLE)
    m.write64(E4, pte)
    return m


def test_make_pte_bit_patterns():
    assert P == 1 and RW == 2 and US == 4 and A == 0x20 and D == 0x40 and PS == 0x80
    assert XD == 0x8000_0000_0000_0000
    assert make_pte(0x1234000) == 0x1234067
    # P US A D PS = 0x1 + 0x4 + 0x20 + 0x40 + 0x80 = 0xE5
    assert make_pte(0x200000, huge=True, writable=False) == 0x2000E5
    assert make_pte(0x5000, present=False, user=False) == 0x5062
    with pytest.raises(ValueError):
        make_pte(0x1234)


def test_4k_walk_ok():
    w = walk(tree(), 0x1000, VA)
    assert w.fault == Fault.NONE
    assert w.pa == 0xABCD123  # XD (bit 63) ignored, offset 0x123 kept
    assert w.page_size == 4096 and w.level == 4 and w.writable
    assert w.reads == [E1, E2, E3, E4]
    assert walk(tree(), 0x1000, VA, write=True).pa == 0xABCD123


def test_root_low_bits_ignored():
    assert walk(tree(), 0x1FFF, VA).pa == 0xABCD123


def test_read_only_pte():
    m = tree(0x0ABC_D065)  # RW clear
    r = walk(m, 0x1000, VA)
    assert r.fault == Fault.NONE and not r.writable
    w = walk(m, 0x1000, VA, write=True)
    assert (w.fault, w.level, w.pa, w.page_size) == (Fault.WRITE_PROTECT, 4, 0, 0)
    assert w.reads == [E1, E2, E3, E4]


def test_read_only_upper_level_makes_effective_read_only():
    m = tree()
    m.write64(E3, 0x4000 | 0x65)  # PDE RW=0
    assert walk(m, 0x1000, VA).writable is False
    w = walk(m, 0x1000, VA, write=True)
    assert (w.fault, w.level, w.reads) == (Fault.WRITE_PROTECT, 3, [E1, E2, E3])


def test_not_present_beats_reserved_and_stops_the_walk():
    m = tree()
    m.write64(E2, 0x000F_0000_0000_3066)  # P=0, bits 51:48 set
    w = walk(m, 0x1000, VA)
    assert (w.fault, w.level, w.reads) == (Fault.NOT_PRESENT, 2, [E1, E2])


def test_reserved_beats_supervisor_in_one_entry():
    m = tree()
    m.write64(E3, (1 << 50) | 0x4000 | 0x63)  # US=0 and bit 50
    w = walk(m, 0x1000, VA)
    assert (w.fault, w.level) == (Fault.RESERVED, 3)


def test_supervisor_beats_write_protect_in_one_entry():
    m = tree(0x0ABC_D061)  # US=0, RW=0
    w = walk(m, 0x1000, VA, write=True)
    assert (w.fault, w.level) == (Fault.SUPERVISOR, 4)


def test_first_failing_level_decides():
    m = tree(0)  # PTE not present
    m.write64(E1, 0x2000 | 0x65)  # PML4E read-only
    w = walk(m, 0x1000, VA, write=True)
    assert (w.fault, w.level, w.reads) == (Fault.WRITE_PROTECT, 1, [E1])
    assert walk(m, 0x1000, VA).fault == Fault.NOT_PRESENT  # read: goes on to the PTE
    m.write64(E1, 0x2000 | 0x63)  # PML4E supervisor
    m.write64(E3, 1 << 49 | 0x4067)  # PDE reserved
    assert (walk(m, 0x1000, VA).fault, walk(m, 0x1000, VA).level) == (Fault.SUPERVISOR, 1)


@pytest.mark.parametrize("level,entry,value,cause", [
    (1, E1, 0x2000 | TABLE | PS, Fault.RESERVED),           # PS in a PML4E
    (1, E1, (1 << 48) | 0x2000 | TABLE, Fault.RESERVED),
    (2, E2, (1 << 51) | 0x3000 | TABLE, Fault.RESERVED),
    (4, E4, (1 << 48) | 0x0ABC_D067, Fault.RESERVED),
])
def test_reserved_bits(level, entry, value, cause):
    m = tree()
    m.write64(entry, value)
    w = walk(m, 0x1000, VA)
    assert (w.fault, w.level) == (cause, level)


def test_ignored_bits_do_not_fault():
    # bits 62:52 (available/protection key), 11:9 (available), 8 (G), 7 in a PTE (PAT)
    m = tree((0x7FF << 52) | 0xE00 | 0x100 | 0x80 | 0x0ABC_D067)
    w = walk(m, 0x1000, VA)
    assert (w.fault, w.pa) == (Fault.NONE, 0xABCD123)


def test_pa_bits_narrower_reserves_more():
    m = tree((1 << 47) | 0x0ABC_D067)
    assert walk(m, 0x1000, VA).pa == (1 << 47) | 0xABCD123
    assert walk(m, 0x1000, VA, pa_bits=46).fault == Fault.RESERVED


def test_2m_leaf():
    m = tree()
    m.write64(E3, 0x4060_00E7)  # 2 MiB page at 0x40600000
    w = walk(m, 0x1000, VA)
    # offset in 2 MiB: VA & 0x1FFFFF = 0x9123
    assert (w.fault, w.pa, w.page_size, w.level, w.reads) == (Fault.NONE, 0x40609123, SIZE_2M, 3, [E1, E2, E3])
    m.write64(E3, 0x4060_10E7)  # bit 12 = PAT: not reserved, not address
    assert walk(m, 0x1000, VA).pa == 0x40609123
    m.write64(E3, 0x4060_20E7)  # bit 13: reserved in a 2 MiB PDE
    assert (walk(m, 0x1000, VA).fault, walk(m, 0x1000, VA).level) == (Fault.RESERVED, 3)
    m.write64(E3, 0x4070_00E7)  # bit 20: reserved in a 2 MiB PDE
    assert walk(m, 0x1000, VA).fault == Fault.RESERVED
    m.write64(E3, 0x4080_00E7)  # bit 23: address
    assert walk(m, 0x1000, VA).pa == 0x40809123


def test_1g_leaf():
    m = tree()
    m.write64(E2, 0xC0_0000_00E7)  # 1 GiB page at 768 GiB
    w = walk(m, 0x1000, VA)
    # offset in 1 GiB: VA & 0x3FFFFFFF = 0x00E09123
    assert (w.fault, w.pa, w.page_size, w.level, w.reads) == (Fault.NONE, 0xC0_00E0_9123, SIZE_1G, 2, [E1, E2])
    m.write64(E2, 0xC0_2000_00E7)  # bit 29: reserved in a 1 GiB PDPTE
    assert (walk(m, 0x1000, VA).fault, walk(m, 0x1000, VA).level) == (Fault.RESERVED, 2)
    m.write64(E2, 0xC0_0000_20E7)  # bit 13: reserved too
    assert walk(m, 0x1000, VA).fault == Fault.RESERVED
    m.write64(E2, 0xC0_0000_10E5)  # bit 12 PAT ok; RW=0
    w = walk(m, 0x1000, VA)
    assert (w.fault, w.pa, w.writable) == (Fault.NONE, 0xC0_00E0_9123, False)


@pytest.mark.parametrize("va", [1 << 47, 0xFFFF_0000_0000_0000, 0x8000_0000_0000_0000, 0x0001_0000_0000_0000])
def test_noncanonical_checked_before_any_read(va):
    w = walk(tree(), 0x1000, va)
    assert (w.fault, w.level, w.reads) == (Fault.NONCANONICAL, 0, [])
    w = translate(PhysMem(), 0x10000, 3, va)  # PASID entry absent: still NONCANONICAL
    assert (w.fault, w.reads) == (Fault.NONCANONICAL, [])


def test_upper_half_is_canonical():
    m = PhysMem()
    va = 0xFFFF_8000_0000_0000  # PML4 index 256
    m.write64(0x1000 + 256 * 8, 0)
    w = walk(m, 0x1000, va)
    assert (w.fault, w.level, w.reads) == (Fault.NOT_PRESENT, 1, [0x1800])


def test_translate_through_pasid_table():
    m = tree()
    w = translate(m, 0x10000, 5, VA)
    assert (w.fault, w.level, w.reads) == (Fault.PASID, 0, [0x10028])
    m.write64(0x10028, XD | (0x7FF << 52) | 0x1000 | 0xFFE | 1)  # only bit 0 and 47:12 count
    w = translate(m, 0x10000, 5, VA)
    assert (w.fault, w.pa, w.reads) == (Fault.NONE, 0xABCD123, [0x10028, E1, E2, E3, E4])
    m.write64(E4, 0)
    w = translate(m, 0x10000, 5, VA)
    assert (w.fault, w.level, w.reads) == (Fault.NOT_PRESENT, 4, [0x10028, E1, E2, E3, E4])


def test_translate_steps_sees_values_at_the_time_they_are_fed():
    """A PTE change between two reads of one walk is seen, one before it is not."""
    m = tree()
    g = translate_steps(0x10000, 0, VA)
    m.write64(0x10000, 0x1001)
    pa = next(g)
    assert pa == 0x10000
    for expect in (E1, E2, E3):
        pa = g.send(m.read64(pa))
        assert pa == expect
    pa = g.send(m.read64(pa))
    assert pa == E4
    m.write64(E4, 0x0DEF_0067)  # changes before the PTE read
    with pytest.raises(StopIteration) as stop:
        g.send(m.read64(pa))
    assert stop.value.value.pa == 0xDEF0123


# -- PageTables ---------------------------------------------------------------

def space(n=64):
    m = PhysMem()
    fa = FrameAllocator(m, 0x100, n)
    return m, fa, PageTables(m, fa)


def test_map_4k_builds_four_tables_and_hand_checked_entries():
    m, fa, pt = space()
    assert pt.root_pa == 0x101000  # first frame after the zero page
    pt.map(VA & ~0xFFF, 0x5555000, writable=False)
    # root, PDPT, PD, PT = pfns 0x101..0x104
    assert m.read64(0x101000 + 3 * 8) == 0x102000 | TABLE
    assert m.read64(0x102000 + 5 * 8) == 0x103000 | TABLE
    assert m.read64(0x103000 + 7 * 8) == 0x104000 | TABLE
    assert m.read64(0x104000 + 9 * 8) == 0x5555065
    assert pt.table_pfns == {0x101, 0x102, 0x103, 0x104}
    assert all(fa.owner(p) == "pagetable" for p in pt.table_pfns)
    w = pt.walk(VA)
    assert (w.pa, w.writable) == (0x5555123, False)
    assert pt.leaf(VA) == (0x104048, 0x5555065, 4096)
    assert pt.leaf(VA + 0x1000) == (0x104050, 0, 4096)  # slot exists, not present
    assert pt.leaf(VA + SIZE_1G) is None


def test_map_huge_and_conflicts():
    m, fa, pt = space()
    pt.map(0x4000_0000, 0x80_0000_0000, SIZE_1G)
    pt.map(0x20_0000, 0x60_0000, SIZE_2M, user=False)
    assert pt.leaf(0x4123_4567) == (0x102008, 0x80_0000_00E7, SIZE_1G)
    assert pt.walk(0x4123_4568).pa == 0x80_0123_4568
    assert pt.walk(0x20_0008).fault == Fault.SUPERVISOR
    with pytest.raises(ValueError):
        pt.map(0x4000_1000, 0x1000)  # under a 1 GiB leaf
    pt.map(0x1000, 0x9000)
    with pytest.raises(ValueError):
        pt.map(0, 0x20_0000, SIZE_2M)  # a page table already lives in that PDE
    with pytest.raises(ValueError):
        pt.map(0x1000, 0x9800)  # pa misaligned
    with pytest.raises(ValueError):
        pt.map(1 << 47, 0x9000)  # non-canonical


def test_unmap_set_leaf_and_set_entry():
    m, fa, pt = space()
    pt.map(0x7000, 0xA000)
    assert pt.unmap(0x7000) == 0xA067
    assert pt.unmap(0x7000) is None
    assert pt.walk(0x7000).fault == Fault.NOT_PRESENT
    assert pt.set_leaf(0x7000, 0xB065) == 0
    assert pt.walk(0x7008).pa == 0xB008
    assert pt.set_leaf(0x7000, 0xC067) == 0xB065
    assert pt.unmap(0x5_0000_0000) is None  # no tables there
    # set_leaf on an empty region builds the path down to a PTE
    assert pt.set_leaf(0x5_0000_0000, 0xD067) == 0
    assert pt.walk(0x5_0000_0010).pa == 0xD010
    # PMD-level edit (THP collapse style): replace the PDE that points at the PT
    pde_pa, pde = pt.entry(0x7000, 3)
    assert pde & P and not pde & PS
    assert pt.set_entry(0x7000, 3, 0x4000_00E7) == pde
    assert pt.leaf(0x7000) == (pde_pa, 0x4000_00E7, SIZE_2M)
    assert pt.walk(0x7008).pa == 0x4000_7008


# -- random spaces --------------------------------------------------------------

def test_random_space_is_deterministic_and_varied():
    outs = []
    for _ in range(2):
        m = PhysMem()
        fa = FrameAllocator(m, 0x100, 1024)
        maps: list[RandomMapping] = []
        pt, vas = random_space(m, fa, random.Random(7), 30, mappings_out=maps)
        outs.append((vas, [(pt.walk(v).fault, pt.walk(v).pa) for v in vas]))
    assert outs[0] == outs[1]
    causes = {f for f, _ in outs[0][1]}
    assert {Fault.NONE, Fault.NOT_PRESENT, Fault.NONCANONICAL} <= causes
    assert all(v % 8 == 0 for v in vas)


def test_random_space_undamaged_paths_translate_to_their_mapping():
    checked = 0
    sizes = set()
    causes = set()
    for seed in range(12):
        m = PhysMem()
        fa = FrameAllocator(m, 0x100, 1024)
        maps: list[RandomMapping] = []
        pt, vas = random_space(m, fa, random.Random(seed), 40, mappings_out=maps)
        damaged = {mm.entries[lv - 1] for mm in maps for lv, _, _ in mm.damage}
        for mm in maps:
            assert 0x100 + 1024 <= mm.pa >> 12, "data pages never overlap the frame pool"
            w = pt.walk(mm.va + 8)
            causes.add(w.fault)
            if damaged.isdisjoint(mm.entries):
                assert (w.fault, w.pa, w.page_size) == (
                    Fault.NONE if mm.user else Fault.SUPERVISOR,
                    mm.pa + 8 if mm.user else 0, mm.size if mm.user else 0)
                checked += 1
                sizes.add(mm.size)
    assert checked > 100 and sizes == {4096, SIZE_2M, SIZE_1G}
    assert {Fault.RESERVED, Fault.SUPERVISOR, Fault.NOT_PRESENT, Fault.NONE} <= causes


# -- an independent oracle on random entry chains --------------------------------

def oracle(entries, write):
    """Second, deliberately different formulation of sections 2 and 3 (no shared code)."""
    rsv_common = 0xF << 48
    leaf_rsv = {2: sum(1 << b for b in range(13, 30)), 3: sum(1 << b for b in range(13, 21))}
    wr = True
    for lv, e in enumerate(entries, start=1):
        ps = (e >> 7) & 1
        if e & 1 == 0:
            return Fault.NOT_PRESENT, lv, None
        bad = e & rsv_common or (lv == 1 and ps) or (lv in leaf_rsv and ps and e & leaf_rsv[lv])
        if bad:
            return Fault.RESERVED, lv, None
        if not e >> 2 & 1:
            return Fault.SUPERVISOR, lv, None
        if not e >> 1 & 1:
            if write:
                return Fault.WRITE_PROTECT, lv, None
            wr = False
        if lv == 4 or (lv in (2, 3) and ps):
            return Fault.NONE, lv, wr
    raise AssertionError


entry_st = st.builds(
    lambda base, flags, junk: base | flags | junk,
    st.sampled_from([0x2000, 0x3000, 0x4000, 0x4060_0000, 0xC0_4000_0000]),
    st.integers(0, 0xFF),
    st.sampled_from([0, 1 << 48, 1 << 51, 1 << 13, 1 << 20, 1 << 29, 1 << 63, 1 << 55, 1 << 12]),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(entry_st, min_size=4, max_size=4), st.booleans())
def test_walk_matches_independent_oracle(entries, write):
    m = PhysMem()
    # Put the chain at fixed places regardless of each entry's address field.
    for pa, e in zip((E1, E2, E3, E4), entries):
        m.write64(pa, e)
    # Redirect reads: each entry's table pointer must point to the next fixed table,
    # so overwrite the address field of non-leaf entries.
    fixed = list(entries)
    for i, nxt in enumerate((0x2000, 0x3000, 0x4000)):
        lv = i + 1
        if not (lv in (2, 3) and fixed[i] & PS):
            fixed[i] = (fixed[i] & ~0x0000_FFFF_FFFF_F000) | nxt
    for pa, e in zip((E1, E2, E3, E4), fixed):
        m.write64(pa, e)
    fault, level, wr = oracle(fixed, write)
    w = walk(m, 0x1000, VA, write)
    assert (w.fault, w.level) == (fault, level)
    if fault == Fault.NONE:
        assert w.writable == wr
        assert w.reads == [E1, E2, E3, E4][:level]
