"""The C++ AXI4 slave (tb/csrc/axi_slave.cpp) on its own: every feature against a scripted master.

The slave is compiled into a small shared library and driven through
`axs_tick` exactly as the DPI shim drives it at each rising edge: the
master's signals before the edge in, the slave's registered outputs for
the next cycle out. Expected cycles come from the AXI rules and the
configured numbers, never from the slave.
"""
from __future__ import annotations

import ctypes
import os
import subprocess
from collections import deque
from pathlib import Path

import pytest

from tb import toolchain
from tb.axi_mem import ERR_CB, EXCL_CB, FLIP, NO_ANSWER, PAGE_CB, ACC_CB, Resp, _Acc, slave_lib

CPP = Path(__file__).resolve().parent.parent / "tb" / "csrc" / "axi_slave.cpp"
U8, U32, U64 = ctypes.c_uint8, ctypes.c_uint32, ctypes.c_uint64
WALK, DMA = 0x0, 0x8  # AXI ID bit 3: the device's DMA (tb/axi_mem.py AxiAccess.source)


@pytest.fixture(scope="module")
def lib():
    out = toolchain.BUILD / "axs" / "libaxs.so"
    out.parent.mkdir(parents=True, exist_ok=True)
    if not out.exists() or out.stat().st_mtime < CPP.stat().st_mtime:
        # built beside, then renamed: two pytest-xdist workers may build it at once
        tmp = out.with_name(f"libaxs.{os.getpid()}.so")
        subprocess.run(["g++", "-std=c++17", "-O1", "-Wall", "-Werror", "-shared", "-fPIC", "-o", str(tmp), str(CPP)],
                       check=True)
        os.replace(tmp, out)
    lib = slave_lib(str(out))
    lib.axs_tick.restype = None
    lib.axs_tick.argtypes = [U8, U32, U64, U32, U32, U8, U8, U32, U64, U32, U32, U8, U8, U64, U32, U8, U8, U8,
                             *[ctypes.POINTER(t) for t in (U8, U8, U8, U8, U32, U64, U32, U8, U32, U32)]]
    return lib


class Master:
    """A scripted AXI master: queued requests presented in order, every handshake stamped by edge."""

    def __init__(self, lib, *, latency=(1, 1), reorder=False, seed=1, tail=(0.0, 0, 0)):
        self.lib = lib
        lib.axs_reset(0, seed, 0)
        lib.axs_set_timing(latency[0], latency[1], tail[0], tail[1], tail[2], int(reorder))
        for ch in range(3):
            lib.axs_set_stall(ch, 0.0, 1, 1)
        lib.axs_start(0)
        self.o = [t() for t in (U8, U8, U8, U8, U32, U64, U32, U8, U32, U32)]
        self.ar: deque = deque()   # (id, addr, lock)
        self.aw: deque = deque()   # (id, addr, lock)
        self.w: deque = deque()    # (data, strb)
        self.rready = 1
        self.bready = 1
        self.ar_fire: list[tuple[int, int, int]] = []  # (edge, id, addr)
        self.aw_fire: list[int] = []
        self.r: list[tuple[int, int, int, int]] = []   # (edge, id, data, resp)
        self.b: list[tuple[int, int, int]] = []        # (edge, id, resp)
        self.ar_valid_cycles = 0
        self.step()  # one idle edge: the slave's registered READYs are up

    @property
    def edge(self) -> int:
        return self.lib.axs_cycle()

    def read(self, id_: int, addr: int, lock: bool = False) -> None:
        self.ar.append((id_, addr, int(lock)))

    def write(self, id_: int, addr: int, data: int, strb: int = 0xFF, lock: bool = False) -> None:
        self.aw.append((id_, addr, int(lock)))
        self.w.append((data, strb))

    def step(self, n: int = 1) -> None:
        for _ in range(n):
            arready, awready, wready, rvalid, rid, rdata, rresp, bvalid, bid, bresp = (x.value for x in self.o)
            ar = self.ar[0] if self.ar else None
            aw = self.aw[0] if self.aw else None
            w = self.w[0] if self.w else None
            self.ar_valid_cycles += ar is not None
            self.lib.axs_tick(ar is not None, ar[0] if ar else 0, ar[1] if ar else 0, 0, 3, ar[2] if ar else 0,
                              aw is not None, aw[0] if aw else 0, aw[1] if aw else 0, 0, 3, aw[2] if aw else 0,
                              w is not None, w[0] if w else 0, w[1] if w else 0, 1, self.rready, self.bready,
                              *[ctypes.byref(x) for x in self.o])
            e = self.edge
            if ar is not None and arready:
                self.ar.popleft()
                self.ar_fire.append((e, ar[0], ar[1]))
            if aw is not None and awready:
                self.aw.popleft()
                self.aw_fire.append(e)
            if w is not None and wready:
                self.w.popleft()
            if rvalid and self.rready:
                self.r.append((e, rid, rdata, rresp))
            if bvalid and self.bready:
                self.b.append((e, bid, bresp))

    def run_until(self, cond, limit: int = 500) -> None:
        for _ in range(limit):
            if cond():
                return
            self.step()
        raise AssertionError(f"condition not met within {limit} cycles (edge {self.edge})")


def page(lib, pfn: int) -> tuple[bytearray, object]:
    buf = bytearray(4096)
    c = (ctypes.c_uint8 * 4096).from_buffer(buf)
    lib.axs_map_page(pfn, ctypes.addressof(c))
    return buf, c


@pytest.mark.parametrize("lat", [1, 3, 7])
def test_fixed_latency(lib, lat):
    """The R and B handshakes are exactly `lat` cycles after the address handshake."""
    m = Master(lib, latency=(lat, lat))
    m.read(WALK, 0x1000)
    m.write(DMA, 0x2000, 5)
    m.run_until(lambda: m.r and m.b)
    (ea, _, _), = m.ar_fire
    assert m.r[0][0] == ea + lat
    assert m.b[0][0] == m.aw_fire[0] + lat


def test_latency_uniform_and_tail(lib):
    """Latencies stay inside [lo, hi] and cover it; a tail of probability 1 lifts every one to its range."""
    m = Master(lib, latency=(2, 6), seed=3)
    for i in range(200):
        m.read(i % 16, 0x1000 + 8 * i)
    m.run_until(lambda: len(m.r) == 200, limit=5000)
    assert all(r[0] - a[0] >= 2 for a, r in zip(m.ar_fire, m.r))  # in order: never earlier than lo
    m = Master(lib, latency=(2, 2), tail=(1.0, 40, 40))
    m.read(WALK, 0x1000)
    m.run_until(lambda: m.r)
    assert m.r[0][0] - m.ar_fire[0][0] == 40
    # a tail never shortens: a tail range below the latency leaves it unchanged
    m = Master(lib, latency=(9, 9), tail=(1.0, 2, 2))
    m.read(WALK, 0x1000)
    m.run_until(lambda: m.r)
    assert m.r[0][0] - m.ar_fire[0][0] == 9


def test_latency_distribution_covers_range(lib):
    """Independent reads (reordering on, all IDs distinct): every latency in [lo, hi] occurs, none outside."""
    seen = set()
    m = Master(lib, latency=(2, 6), reorder=True, seed=5)
    for i in range(400):
        m.read(i % 16, 0x1000 + 8 * (i % 16))
        m.run_until(lambda: len(m.r) == i + 1)
        seen.add(m.r[-1][0] - m.ar_fire[-1][0])
    assert seen == {2, 3, 4, 5, 6}


def test_reorder_across_ids_keeps_per_id_order(lib):
    """A slow access of ID 1 is overtaken by ID 2 only with reordering on; ID 1's later access never overtakes."""
    for reorder, first in ((True, 2), (False, 1)):
        m = Master(lib, latency=(1, 1), reorder=reorder)
        lib.axs_add_range(0x9000, 0x9008, 5, 30, 1, 0, 0, 0, -1)  # reads of 0x9000: answered 30 cycles late
        m.read(1, 0x9000)
        m.read(1, 0x1000)  # same ID, fast: must wait behind the slow one
        m.read(2, 0x1008)
        m.run_until(lambda: len(m.r) == 3)
        order = [r[1] for r in m.r]
        assert order[0] == first, (reorder, m.r)
        assert [r for r in m.r if r[1] == 1][0][0] == m.ar_fire[0][0] + 30
        id1 = [r for r in m.r if r[1] == 1]
        assert id1[0][0] < id1[1][0]


def test_back_pressure(lib):
    """stall_prob 1, stall (5, 5): each AR waits exactly 5 cycles of VALID; stall_prob 0: no wait."""
    m = Master(lib)
    lib.axs_set_stall(0, 1.0, 5, 5)
    m.step()  # READY is registered: the new pattern shows from the next cycle
    m.read(WALK, 0x1000)
    m.read(WALK, 0x1008)
    m.run_until(lambda: len(m.ar_fire) == 2)
    assert m.ar_valid_cycles == 2 * 6  # 5 stalled cycles and the handshake cycle, per transfer
    m = Master(lib)
    m.read(WALK, 0x1000)
    m.read(WALK, 0x1008)
    m.run_until(lambda: len(m.ar_fire) == 2)
    assert m.ar_valid_cycles == 2
    # W stalled, AW not: the write is performed once both were accepted
    m = Master(lib)
    buf, keep = page(lib, 2)
    lib.axs_set_stall(2, 1.0, 4, 4)
    m.step()
    m.write(DMA, 0x2000, 0x1234)
    m.run_until(lambda: m.b)
    assert m.aw_fire[0] + 4 <= m.b[0][0] - 1
    assert int.from_bytes(buf[0:8], "little") == 0x1234


def test_rready_low_holds_the_beat(lib):
    """The master's RREADY low keeps the beat on the bus; it completes the cycle RREADY comes back."""
    m = Master(lib, latency=(1, 1))
    m.rready = 0
    m.read(WALK, 0x1000)
    m.step(10)
    assert not m.r and lib.axs_inflight() == 1
    m.rready = 1
    m.step()
    assert len(m.r) == 1 and lib.axs_inflight() == 0


@pytest.mark.parametrize("resp", [Resp.SLVERR, Resp.DECERR])
def test_error_ranges(lib, resp):
    """An error range answers its resp, reads 0, leaves memory alone; direction, ID class and budget count."""
    m = Master(lib, latency=(2, 2))
    buf, keep = page(lib, 1)
    buf[0:16] = (0x1111).to_bytes(8, "little") + (0x2222).to_bytes(8, "little")
    r = lib.axs_add_range(0x1000, 0x1008, int(resp), 0, 1, 1, DMA, DMA, 2)  # DMA only, two hits
    m.read(DMA, 0x1000)       # error
    m.write(DMA, 0x1000, 0x99)  # error, memory untouched
    m.read(DMA, 0x1000)       # budget spent: OKAY
    m.read(WALK, 0x1000)      # walker: not in the ID class
    m.read(DMA, 0x1008)       # outside the range
    m.run_until(lambda: len(m.r) == 4 and len(m.b) == 1)
    assert [(x[2], x[3]) for x in m.r] == [(0, resp), (0x1111, 0), (0x1111, 0), (0x2222, 0)]
    assert m.b[0][2] == resp
    assert int.from_bytes(buf[0:8], "little") == 0x1111
    assert lib.axs_range_hits(r) == 2 and lib.axs_range_count(r) == 0
    # reads-only range: a write goes through
    lib.axs_add_range(0x1000, 0x1008, int(resp), 0, 1, 0, 0, 0, -1)
    m.write(WALK, 0x1000, 0x77)
    m.run_until(lambda: len(m.b) == 2)
    assert m.b[1][2] == Resp.OKAY and int.from_bytes(buf[0:8], "little") == 0x77


def test_flip_range_changes_the_beat_not_the_log(lib):
    """A flip range flips one bit of the R beat of its ID class; memory and the access log keep the value
    served (the co-simulation's tamper faults: the scoreboard must see the difference)."""
    m = Master(lib, latency=(1, 1))
    lib.axs_set_log(1)
    buf, keep = page(lib, 1)
    buf[0:8] = (0x1000).to_bytes(8, "little")
    lib.axs_add_range(0, 2**64 - 1, FLIP, 13, 1, 0, DMA, 0, -1)  # walker reads: bit 13
    m.read(WALK, 0x1000)
    m.read(DMA, 0x1000)
    m.run_until(lambda: len(m.r) == 2)
    assert [(x[1], x[2]) for x in m.r] == [(WALK, 0x1000 ^ (1 << 13)), (DMA, 0x1000)]
    out = (_Acc * 4)()
    assert lib.axs_drain(out, 4) == 2
    assert [out[i].data for i in range(2)] == [0x1000, 0x1000]
    assert int.from_bytes(buf[0:8], "little") == 0x1000


def test_error_classifier_callback(lib):
    """The error callback is asked before memory is touched: SLVERR / DECERR answers leave memory alone
    and read 0; 0 answers normally; a range that decided first is not overridden."""
    m = Master(lib, latency=(1, 1))
    buf, keep = page(lib, 1)
    buf[0:16] = (0x1111).to_bytes(8, "little") + (0x2222).to_bytes(8, "little")
    asked = []

    def classify(write, id_, addr):
        asked.append((write, id_, addr))
        return int(Resp.DECERR) if addr == 0x1000 else int(Resp.SLVERR) if write else 0

    cb = ERR_CB(classify)
    lib.axs_set_error_cb(cb)
    m.read(DMA, 0x1000)
    m.read(DMA, 0x1008)
    m.write(DMA, 0x1008, 0x99)
    m.run_until(lambda: len(m.r) == 2 and m.b)
    assert [(x[2], x[3]) for x in m.r] == [(0, Resp.DECERR), (0x2222, Resp.OKAY)]
    assert m.b[0][2] == Resp.SLVERR and int.from_bytes(buf[8:16], "little") == 0x2222
    assert sorted(asked) == [(0, DMA, 0x1000), (0, DMA, 0x1008), (1, DMA, 0x1008)]  # AR and AW side by side
    lib.axs_set_error_cb(ERR_CB())  # off again
    m.write(DMA, 0x1008, 0x99)
    m.run_until(lambda: len(m.b) == 2)
    assert m.b[1][2] == Resp.OKAY and int.from_bytes(buf[8:16], "little") == 0x99


def test_id_class_latency_and_seed(lib):
    """One ID class (here the walker, DMA bit clear) has its own latency; axs_set_seed replays the draws."""
    m = Master(lib, latency=(2, 2), reorder=True)
    lib.axs_set_id_latency(DMA, 0, 6, 6)
    m.read(WALK, 0x1000)
    m.read(DMA | 1, 0x1008)
    m.run_until(lambda: len(m.r) == 2)
    acc = {a[1]: a[0] for a in m.ar_fire}
    assert {r[1]: r[0] - acc[r[1]] for r in m.r} == {WALK: 6, DMA | 1: 2}
    lib.axs_set_id_latency(DMA, 0, 0, 0)  # off: the common latency again
    m.read(WALK, 0x1010)
    m.run_until(lambda: len(m.r) == 3)
    assert m.r[2][0] - m.ar_fire[2][0] == 2

    def draws(seed):
        m = Master(lib, latency=(2, 9), seed=1)
        lib.axs_set_seed(seed)
        for i in range(12):
            m.read(WALK, 0x1000 + 8 * i)
        m.run_until(lambda: len(m.r) == 12, limit=2000)
        return [r[0] - a[0] for a, r in zip(m.ar_fire, m.r)]

    assert draws(7) == draws(7) != draws(8)


def test_no_answer(lib):
    """A no-answer range leaves the access in flight for ever; another ID is still answered (reordering)."""
    m = Master(lib, latency=(1, 1), reorder=True)
    lib.axs_add_range(0x3000, 0x3008, NO_ANSWER, 0, 1, 1, 0, 0, 1)
    m.read(DMA | 1, 0x3000)
    m.read(DMA | 2, 0x3008)
    m.step(2000)
    assert [r[1] for r in m.r] == [DMA | 2]
    assert lib.axs_inflight() == 1


def test_memory_by_pointer(lib):
    """The slave reads and writes the registered page in place: no copy either way."""
    m = Master(lib)
    buf, keep = page(lib, 5)
    buf[8:16] = (0xDEAD_BEEF).to_bytes(8, "little")  # written after registration
    m.read(WALK, 0x5008)
    m.write(DMA, 0x5010, 0x1122_3344_5566_7788, strb=0x0F)
    m.run_until(lambda: m.r and m.b)
    assert m.r[0][2] == 0xDEAD_BEEF
    assert buf[16:24] == bytes([0x88, 0x77, 0x66, 0x55, 0, 0, 0, 0])
    # an unmapped page reads 0; a write to one asks the page callback, which maps a buffer
    made = {}

    def on_page(pfn):
        made[pfn] = page(lib, pfn)

    cbs = (ACC_CB(), ACC_CB(), PAGE_CB(on_page), EXCL_CB())
    lib.axs_set_callbacks(*cbs)
    m.read(WALK, 0x7000)
    m.write(DMA, 0x7008, 42)
    m.run_until(lambda: len(m.r) == 2 and len(m.b) == 2)
    assert m.r[1][2] == 0 and list(made) == [7]
    assert int.from_bytes(made[7][0][8:16], "little") == 42


def test_exclusive_monitor(lib):
    """Exclusive read EXOKAY; exclusive write EXOKAY while reserved; any write in between makes it OKAY."""
    m = Master(lib)
    buf, keep = page(lib, 1)
    m.read(WALK, 0x1000, lock=True)
    m.run_until(lambda: m.r)
    m.write(WALK, 0x1000, 5, lock=True)
    m.run_until(lambda: m.b)
    assert m.r[0][3] == Resp.EXOKAY and m.b[0][2] == Resp.EXOKAY and buf[0] == 5
    m.read(WALK, 0x1000, lock=True)
    m.run_until(lambda: len(m.r) == 2)
    m.write(DMA, 0x1000, 7)  # another writer clears the reservation
    m.run_until(lambda: len(m.b) == 2)
    m.write(WALK, 0x1000, 9, lock=True)
    m.run_until(lambda: len(m.b) == 3)
    assert m.b[2][2] == Resp.OKAY and buf[0] == 7


def test_without_exclusive_monitor(lib):
    """axs_set_exclusive(0): exclusive reads answer OKAY, exclusive writes are plain writes (OKAY)."""
    m = Master(lib)
    lib.axs_set_exclusive(0)
    buf, keep = page(lib, 1)
    m.read(WALK, 0x1000, lock=True)
    m.write(WALK, 0x1008, 3, lock=True)  # never reserved: still performed
    m.run_until(lambda: m.r and m.b)
    assert m.r[0][3] == Resp.OKAY and m.b[0][2] == Resp.OKAY and buf[8] == 3


def test_hold_from_accept_callback(lib):
    """The accept callback can hold an access (answered only after axs_release) and move a due cycle."""
    m = Master(lib, latency=(1, 1), reorder=True)
    seen = []

    def on_accept(p):
        a = p.contents
        seen.append(a.seq)
        if a.addr == 0x1000:
            a.held = 1
        if a.addr == 0x1010:
            a.due = a.accept + 25

    cbs = (ACC_CB(on_accept), ACC_CB(), PAGE_CB(), EXCL_CB())
    lib.axs_set_callbacks(*cbs)
    m.read(1, 0x1000)
    m.read(2, 0x1008)
    m.read(3, 0x1010)
    m.step(100)
    assert [r[1] for r in m.r] == [2, 3]
    assert m.r[1][0] == m.ar_fire[2][0] + 25
    assert lib.axs_release(seen[0]) == 1
    m.step(3)
    assert [r[1] for r in m.r] == [2, 3, 1]


def test_access_log_drained_in_bulk(lib):
    """The access log holds every access in acceptance order with its data; the done log its cycles."""
    m = Master(lib, latency=(3, 3))
    lib.axs_set_log(1)
    buf, keep = page(lib, 1)
    buf[0:8] = (77).to_bytes(8, "little")
    m.read(WALK, 0x1000)
    m.write(DMA, 0x1008, 5)
    m.run_until(lambda: m.r and m.b)
    out = (_Acc * 8)()
    n = lib.axs_drain(out, 8)
    assert n == 2 and (out[0].write, out[0].data) == (0, 77) and (out[1].write, out[1].data) == (1, 5)
    seqs, cyc = (U64 * 8)(), (U64 * 8)()
    assert lib.axs_drain_done(seqs, cyc, 8) == 2
    assert sorted(cyc[:2]) == sorted([m.r[0][0], m.b[0][0]])
    assert lib.axs_drain(out, 8) == 0
    lib.axs_set_log(0)


def test_protocol_errors_recorded(lib):
    """Unaligned addresses are recorded as protocol errors."""
    m = Master(lib)
    m.read(WALK, 0x1004)
    m.run_until(lambda: m.r)
    assert lib.axs_protocol_errors() == 1
    assert b"not 8-byte aligned" in lib.axs_protocol_error(0)
