"""PhysMem and PasidTable: byte layout checked against hand-written byte strings."""
import pytest

from model.memory import PhysMem
from model.pasid import PasidTable


def test_unwritten_memory_reads_zero_without_allocating():
    m = PhysMem()
    assert m.read64(0x1234_5000) == 0
    assert m.read(0xFFF_FFF8, 16) == bytes(16)
    assert m.touched_pages() == []


def test_write64_is_little_endian():
    m = PhysMem()
    m.write64(0x1000, 0x0102030405060708)
    assert m.read(0x1000, 8) == bytes([8, 7, 6, 5, 4, 3, 2, 1])
    assert m.read(0x1003, 2) == bytes([5, 4])
    assert m.read64(0x1000) == 0x0102030405060708
    assert m.touched_pages() == [1]


def test_access_crossing_a_page_boundary():
    m = PhysMem()
    m.write(0x1FFC, b"abcdefgh")
    assert m.read(0x1FFC, 4) == b"abcd"
    assert m.read(0x2000, 4) == b"efgh"
    # 'a'=0x61 is the least significant byte
    assert m.read64(0x1FFC) == 0x6867666564636261
    m.write64(0x2FFD, 0xAABBCCDDEEFF1122)
    assert m.read(0x2FFD, 3) == bytes([0x22, 0x11, 0xFF])
    assert m.read(0x3000, 5) == bytes([0xEE, 0xDD, 0xCC, 0xBB, 0xAA])


def test_copy_and_zero_page():
    m = PhysMem()
    m.write64(0x5008, 0xDEAD)
    m.copy_page(0x9000, 0x5000)
    assert m.read64(0x9008) == 0xDEAD
    m.write64(0x9008, 1)
    assert m.read64(0x5008) == 0xDEAD, "copy must not alias the source page"
    m.copy_page(0x5000, 0x7000)  # copying a never-written page zeroes the destination
    assert m.read64(0x5008) == 0
    m.zero_page(0x9000)
    assert m.read64(0x9008) == 0 and m.page_is_zero(0x9000)
    with pytest.raises(ValueError):
        m.zero_page(0x9008)
    with pytest.raises(ValueError):
        m.copy_page(0x9000, 0x5004)


def test_bounds_and_value_range():
    m = PhysMem(pa_bits=40)
    m.write64((1 << 40) - 8, 7)
    assert m.read64((1 << 40) - 8) == 7
    with pytest.raises(ValueError):
        m.read64((1 << 40) - 4)
    with pytest.raises(ValueError):
        m.write64(1 << 40, 0)
    with pytest.raises(ValueError):
        m.write64(0, 1 << 64)
    with pytest.raises(ValueError):
        m.write64(0, -1)


def test_pasid_table_layout():
    m = PhysMem()
    t = PasidTable(m, 0x10000)
    t.set(5, 0x7000)
    assert m.read64(0x10028) == 0x7001  # base + 8*5, bit 0 present
    assert t.get(5) == 0x7000
    assert t.get(4) is None
    t.set((1 << 20) - 1, 0xABC000)
    assert m.read64(0x10000 + 8 * 0xFFFFF) == 0xABC001
    t.clear(5)
    assert m.read64(0x10028) == 0 and t.get(5) is None
    with pytest.raises(ValueError):
        t.set(1 << 20, 0x7000)
    with pytest.raises(ValueError):
        t.set(1, 0x7008)
    with pytest.raises(ValueError):
        PasidTable(m, 0x10008)


def test_page_hook_sees_every_page_change():
    """page_hook: a page created, replaced by copy_page, dropped by zero_page or a copy of an absent page."""
    mem = PhysMem()
    seen = []
    mem.page_hook = lambda pfn, page: seen.append((pfn, None if page is None else id(page)))
    mem.write64(0x3008, 5)                      # creates page 3
    mem.write64(0x3010, 6)                      # same page: no event
    assert [p for p, _ in seen] == [3] and seen[0][1] == id(mem.page_items()[0][1])
    mem.copy_page(0x5000, 0x3000)               # page 5 appears (a new buffer)
    mem.copy_page(0x3000, 0x9000)               # source absent: page 3 goes away
    mem.zero_page(0x5000)                       # page 5 goes away
    mem.zero_page(0x7000)                       # never existed: no event
    assert [(p, b is None) for p, b in seen] == [(3, False), (5, False), (3, True), (5, True)]
    assert mem.page_items() == [] and mem.read64(0x5008) == 0
    page = mem.page_buffer(0xA)                 # created on request, zero
    assert seen[-1] == (0xA, id(page)) and page == bytes(4096)
