"""AXI4 memory slave over a `model.memory.PhysMem` (front end of the C++ slave), plus the cycle clock.

The RTL's AXI4 master port (`m_axi_*`, ARCHITECTURE.md section 2) reads and
writes exactly the bytes the host model wrote: the slave serves the host
model's own `PhysMem` pages, by pointer.

The slave itself is C++ inside the simulator (tb/csrc/axi_slave.cpp, called
through DPI at every rising edge by tb/csrc/axi_slave_dpi.sv; the block-test
top `ats_tb_top` of tb/axi_top.py instantiates it beside the device). This
module is its Python front end: `AxiMem` configures it through ctypes (the
simulator is linked with -rdynamic, so `ctypes.CDLL(None)` finds its C
functions), registers the PhysMem pages (`PhysMem.page_hook` keeps the
registration current when pages appear, are copied or dropped), and keeps
the API the block tests use. docs/ARCHITECTURE.md ("The AXI memory slave")
says why C++ and not Python or cocotbext-axi.

What runs where:

* C++, per edge, no Python: handshakes, back-pressure (`stall_prob`,
  `stall`: READY low for a few cycles of VALID), latency (uniform, plus an
  optional seeded tail), per-ID order and reordering across IDs, memory
  reads and writes in place, SLVERR / DECERR / no-answer ranges.
* Python, once per access and only because the block tests ask for it:
  `accept_hooks` and holds (`hold`, `delay`) see each access at its
  acceptance, from a C callback (the access's read data is already
  sampled, and a hook may change memory before later accesses); the
  completion callback stamps `done`, keeps `log` and `inflight`, and feeds
  the trace. Exceptions raised there (a scoreboard's `tb.fail`) fail the
  test through `Gpi`'s funnel.
* Exclusive accesses (ARLOCK/AWLOCK, the walker's accessed/dirty updates)
  go to the PhysMem's own exclusive monitor (`read_exclusive` /
  `write_exclusive`, model/memory.py), keyed by AXI ID, so any write to the
  reserved bytes (a CPU store of the test or the host model, a DMA write)
  makes the next exclusive write of that ID fail with OKAY; a reservation
  held answers EXOKAY. A plain AXI write to a granule an AXI exclusive read
  reserved goes through PhysMem too, so the monitor sees it.

Timing: rising edge k is at `t0 + k*P` (`CycleClock`). A transfer whose
VALID and READY are both high during cycle k completes at edge k+1 and is
stamped cycle k+1. A read samples memory when its AR handshake happens, a
write is committed when both AW and W have been accepted; the response
handshake is `latency` cycles after acceptance at the earliest. An access
that hits an error range reads zero / writes nothing and answers SLVERR or
DECERR; one that hits a no-answer range is never answered (the device's AXI
timeout must end it).

    mem = AxiMem(dut, cc, physmem, seed=7, latency=(1, 12), stall_prob=0.2, reorder=True)
    mem.start(gpi)              # after reset (TB.start passes its shared Gpi)
    err = mem.inject_error(pa, pa + 8, resp=Resp.DECERR, reads=True, writes=False)
    hold = mem.hold(lambda a: a.source == "walk" and a.addr == pte_pa)
    await hold.wait()           # the walker read of that PTE has been accepted
    ...                         # change memory, invalidate
    hold.release()
"""
from __future__ import annotations

import ctypes
import enum
import random
from dataclasses import dataclass
from typing import Any, Callable

import cocotb
from cocotb import simulator
from cocotb.clock import Clock
from cocotb.simtime import get_sim_time
from cocotb.utils import get_sim_steps
from cocotb.triggers import Event, Timer

from model.trace import MemAccess


# --------------------------------------------------------------------------- signals


class FastSig:
    """Direct GPI access to one signal: ~0.1 us per read instead of ~2 us for `.value`.

    Writes are inertial deposits (Verilator applies them after the current
    evaluation, which is what the scheduled `.value =` write achieves, without
    a ReadWrite callback per timestep). Values are plain ints (no X/Z: the
    simulator is two-state).
    """

    __slots__ = ("handle", "_h", "width", "_wide", "_mask", "_fmt")

    def __init__(self, handle):
        self.handle = handle
        self._h = handle._handle
        self.width = len(handle)
        self._wide = self.width > 31
        self._mask = (1 << self.width) - 1
        self._fmt = f"0{self.width}b"

    def get(self) -> int:
        if self._wide:
            return int(self._h.get_signal_val_binstr(), 2)
        return self._h.get_signal_val_long() & self._mask

    def set(self, v: int) -> None:
        v = int(v) & self._mask
        if self._wide:
            self._h.set_signal_val_binstr(0, format(v, self._fmt))
        else:
            self._h.set_signal_val_int(0, v)


def fast(dut, name: str, optional: bool = False) -> FastSig | None:
    h = getattr(dut, name, None) if optional else getattr(dut, name)
    return FastSig(h) if h is not None else None


# --------------------------------------------------------------------------- clock


class CycleClock:
    """A free-running clock with cycle arithmetic and no Python wake per edge.

    `now()` is the index of the last rising edge; `next_edge()` the index of the
    edge that will sample what is driven now; `qp(k)` waits for the quiet point
    of cycle k (a quarter period after edge k), where drivers write and monitors
    read settled values.
    """

    def __init__(self, clk, period_ns: int = 10):
        self.clk = clk
        self.period = get_sim_steps(period_ns, "ns")
        self.period_ns = period_ns
        if self.period % 4:
            raise ValueError("clock period must be a multiple of 4 simulator steps")
        self.quarter = self.period // 4
        self.t0 = 0
        self._clock: Clock | None = None

    def start(self) -> None:
        """Start toggling (first rising edge now, at cycle 0)."""
        self.t0 = get_sim_time("step")
        self._clock = Clock(self.clk, self.period, unit="step", impl="gpi")
        self._clock.start(start_high=True)

    def time(self) -> int:
        return get_sim_time("step") - self.t0

    def now(self) -> int:
        """Index of the most recent rising edge (the current cycle)."""
        return self.time() // self.period

    def next_edge(self) -> int:
        """Index of the rising edge that samples values driven now."""
        return self.time() // self.period + 1

    def qp_time(self, cycle: int) -> int:
        return cycle * self.period + self.quarter

    async def qp(self, cycle: int) -> None:
        """Wait until the quiet point of `cycle` (no wait if already there)."""
        dt = self.qp_time(cycle) - self.time()
        if dt > 0:
            await Timer(dt, "step")

    async def sync(self) -> int:
        """Move to the nearest quiet point at or after now; return its cycle."""
        t = self.time()
        k = t // self.period
        if t > k * self.period + self.quarter:
            k += 1
        await self.qp(k)
        return k

    async def cycles(self, n: int) -> int:
        """Wait n cycles from the current quiet point (one Timer); return the new cycle."""
        k = await self.sync()
        await self.qp(k + n)
        return k + n

    def at_qp(self) -> bool:
        return self.time() % self.period == self.quarter


class Gpi:
    """Raw GPI callbacks for the hot paths: ~0.5 us per wake instead of ~2.5 us for a task.

    A cocotb task resumed by a trigger pays for Trigger objects, the task
    machinery and the scheduler; a plain function registered with
    `cocotb.simulator` does not. The channel engines below (sinks, R/B
    sources, response and completion monitors) are state machines on such
    callbacks. When a callback sets a cocotb Event (a test waiting for a
    response), the cocotb event loop is run right there so the waiting task
    resumes in the same time step; exceptions raised in callbacks (checkers
    calling `tb.fail`) are handed to a task that re-raises them, failing the
    test. Every callback still registered when that task is cancelled (end of
    test) is deregistered, so nothing leaks into the next test.

    Private cocotb names used (cocotb is pinned to 2.1.*):
    `cocotb._event_loop._inst` and `cocotb._gpi_triggers._current_gpi_trigger`.
    """

    def __init__(self, cc: CycleClock):
        import cocotb._event_loop as _el
        import cocotb._gpi_triggers as _gt

        self.cc = cc
        self._el = _el
        self._gt = _gt
        self._neutral = Timer(1, "step")
        self._handles: dict[int, Any] = {}
        self._next = 0
        self._error: BaseException | None = None
        self._err_evt = Event()
        self.active = True
        self._task = cocotb.start_soon(self._funnel())

    async def _funnel(self) -> None:
        try:
            await self._err_evt.wait()
            raise self._error
        finally:
            self.active = False
            for h in list(self._handles.values()):
                try:
                    h.deregister()
                except Exception:  # already fired or gone
                    pass
            self._handles.clear()

    def _run(self, key: int, fn: Callable, args: tuple) -> None:
        self._handles.pop(key, None)
        if not self.active:
            return
        try:
            fn(*args)
        except BaseException as e:  # hand it to the funnel task
            if self._error is None:
                self._error = e
                self._err_evt.set()
        if self._el._inst._callbacks:
            self._gt._current_gpi_trigger = self._neutral
            self._el._inst.run()

    def at_qp(self, cycle: int, fn: Callable, *args) -> None:
        """Call fn(*args) at the quiet point of `cycle` (at once when already there)."""
        dt = self.cc.qp_time(cycle) - self.cc.time()
        if dt <= 0:
            fn(*args)
            return
        key = self._next
        self._next += 1
        self._handles[key] = simulator.register_timed_callback(dt, self._run, key, fn, args)

    def on_rise(self, sig: FastSig, fn: Callable, *args) -> None:
        """Call fn(*args) once when `sig` next rises (after the design settled)."""
        self.on_edge(sig, simulator.RISING, fn, *args)

    def on_edge(self, sig: FastSig, edge: int, fn: Callable, *args) -> None:
        """Call fn(*args) once on the next `edge` (simulator.RISING/FALLING/VALUE_CHANGE) of `sig`."""
        key = self._next
        self._next += 1
        self._handles[key] = simulator.register_value_change_callback(sig._h, self._run, edge, key, fn, args)

    def on_readonly(self, fn: Callable, *args) -> None:
        """Call fn(*args) in this time step's read-only phase (sample only, no writes)."""
        key = self._next
        self._next += 1
        self._handles[key] = simulator.register_readonly_callback(self._run, key, fn, args)


class RawSink:
    """Accept transfers on a VALID/READY channel with one or two raw callbacks per transfer.

    `valid`/`ready` are FastSig. READY is held high; a transfer is found by a
    value-change callback on VALID (or VALID still high at the quiet point
    after the previous handshake). `take(cycle)` reads the payload as soon as
    it is valid and gets the handshake cycle; `after(cycle)`, if given, runs at
    the quiet point just after the handshake edge (a good place to let other
    tasks react: they can drive at once). With probability `stall_prob()`
    READY is dropped for `stall()` cycles first.
    """

    def __init__(self, gpi: Gpi, valid: FastSig, ready: FastSig, take: Callable[[int], None],
                 rng: random.Random | None = None, stall_prob: Callable[[], float] = lambda: 0.0,
                 stall: Callable[[], tuple[int, int]] = lambda: (1, 4), after: Callable[[int], None] | None = None):
        self.gpi = gpi
        self.cc = gpi.cc
        self.valid = valid
        self.ready = ready
        self.take = take
        self.after = after
        self.rng = rng
        self.stall_prob = stall_prob
        self.stall = stall

    def start(self) -> None:
        self.ready.set(1)
        self._check()

    def _check(self) -> None:
        if self.valid.get():
            self._begin()
        else:
            self.gpi.on_rise(self.valid, self._begin)

    def _begin(self) -> None:
        c = self.cc.next_edge()
        p = self.stall_prob()
        if p and self.rng is not None and self.rng.random() < p:
            n = self.rng.randint(*self.stall())
            self.ready.set(0)
            self.gpi.at_qp(c + n - 1, self._unstall, c + n)
            return
        self._handshake(c)

    def _unstall(self, c: int) -> None:
        self.ready.set(1)
        self._handshake(c)

    def _handshake(self, c: int) -> None:
        self.take(c)
        self.gpi.at_qp(c, self._done, c)

    def _done(self, c: int) -> None:
        if self.after is not None:
            self.after(c)
        self._check()


# --------------------------------------------------------------------------- records


class Resp(enum.IntEnum):
    OKAY = 0
    EXOKAY = 1
    SLVERR = 2
    DECERR = 3


# the C++ slave's no-answer range kind (tb/csrc/axi_slave.cpp `Kind`; 2, 3 are SLVERR, DECERR)
NO_ANSWER = 4
FLIP = 6  # a range kind that flips bit `cycles` of the R beat (the co-simulation's tamper faults)


@dataclass
class AxiAccess:
    """One AXI transaction as the slave saw it (cycles are rising-edge indices)."""

    write: bool
    id: int
    addr: int
    data: int = 0          # read data returned, or write data (after strobes)
    strb: int = 0xFF
    resp: int = 0
    accept: int = 0        # address (and for writes, data) handshake cycle
    perform: int = 0       # cycle memory was read / written
    done: int | None = None  # R / B handshake cycle; None while in flight
    due: int = 0
    held: bool = False
    seq: int = 0
    lock: bool = False     # exclusive (ARLOCK/AWLOCK)
    dropped: bool = False  # hit a no-answer range: never answered

    @property
    def source(self) -> str:
        return "dma" if self.id & 0x8 else "walk"

    @property
    def tag(self) -> int:
        return self.id & 0x7

    @property
    def error(self) -> bool:
        return self.resp >= Resp.SLVERR

    def __str__(self) -> str:
        kind = "W" if self.write else "R"
        return (f"{kind} id={self.id:#x}({self.source}{self.tag}) pa={self.addr:#x} data={self.data:#x} "
                f"resp={Resp(self.resp).name} accept={self.accept} done={self.done}")


_SOURCE_ID = {None: (0, 0), "walk": (0x8, 0), "dma": (0x8, 0x8)}  # AXI ID bit 3: DMA


class ErrorRange:
    """PAs in [lo, hi) answer `resp` (SLVERR or DECERR), or never (`NO_ANSWER`); held in the C++ slave."""

    def __init__(self, lib, lo: int, hi: int, resp: int, reads: bool, writes: bool, source: str | None,
                 count: int | None, cycles: int = 0):
        if source not in _SOURCE_ID:
            raise ValueError(f"source must be 'walk', 'dma' or None, got {source!r}")
        if hi <= lo:
            raise ValueError(f"empty PA range [{lo:#x}, {hi:#x})")
        self._lib = lib
        self.lo, self.hi, self.resp = lo, hi, resp
        self.reads, self.writes, self.source = reads, writes, source
        mask, match = _SOURCE_ID[source]
        self.idx = lib.axs_add_range(lo, hi, int(resp), cycles, int(reads), int(writes), mask, match,
                                     -1 if count is None else count)

    @property
    def hits(self) -> int:
        return self._lib.axs_range_hits(self.idx)

    @property
    def count(self) -> int | None:
        """Hits left; None: unlimited."""
        n = self._lib.axs_range_count(self.idx)
        return None if n < 0 else n


class Hold:
    """Holds back the responses of matching accesses until `release()`.

    `match(access)` sees each newly accepted `AxiAccess`; the first `count`
    matches (None: all while the hold is active) are held. `wait()` returns
    once `n` matches were accepted. Later accesses with the same AXI ID queue
    behind a held one (AXI ordering), so do not hold forever.
    """

    def __init__(self, owner: "AxiMem", match: Callable[[AxiAccess], bool], count: int | None = 1):
        self._owner = owner
        self.match = match
        self.count = count
        self.matched: list[AxiAccess] = []
        self.released = False
        self._event = Event()

    def offer(self, a: AxiAccess) -> bool:
        if self.released or (self.count is not None and len(self.matched) >= self.count):
            return False
        if not self.match(a):
            return False
        a.held = True
        self.matched.append(a)
        self._event.set()
        return True

    async def wait(self, n: int = 1) -> list[AxiAccess]:
        while len(self.matched) < n:
            self._event.clear()
            await self._event.wait()
        return self.matched

    def release(self) -> None:
        """Let the held responses go: a due one is presented from the next edge (the slave's
        outputs are registered), so released at the quiet point of cycle k it handshakes at k+2
        at the earliest."""
        self.released = True
        self._owner._holds = [h for h in self._owner._holds if h is not self]
        for a in self.matched:
            a.held = False
            self._owner._lib.axs_release(a.seq)


class Delay(Hold):
    """Answers the first `count` matching accesses `cycles` after their address handshake.

    The response is not held: it leaves on its own once due (other responses
    with the same AXI ID queue behind it, as for any slow access).
    """

    def __init__(self, owner: "AxiMem", match: Callable[[AxiAccess], bool], cycles: int, count: int | None = 1):
        if cycles < 1:
            raise ValueError(f"delay: cycles must be >= 1, got {cycles}")
        super().__init__(owner, match, count)
        self.cycles = cycles

    def offer(self, a: AxiAccess) -> bool:
        if self.count is not None and len(self.matched) >= self.count:
            return False
        if not self.match(a):
            return False
        a.due = a.accept + self.cycles
        self.matched.append(a)
        self._event.set()
        return True


# --------------------------------------------------------------------------- the C++ slave


class _Acc(ctypes.Structure):
    """tb/csrc/axi_slave.cpp `AxsAcc`."""

    _fields_ = [("seq", ctypes.c_uint64), ("addr", ctypes.c_uint64), ("data", ctypes.c_uint64),
                ("accept", ctypes.c_uint64), ("due", ctypes.c_uint64), ("perform", ctypes.c_uint64),
                ("done", ctypes.c_uint64), ("id", ctypes.c_uint32), ("write", ctypes.c_uint8),
                ("strb", ctypes.c_uint8), ("lock", ctypes.c_uint8), ("resp", ctypes.c_uint8),
                ("held", ctypes.c_uint8), ("drop", ctypes.c_uint8), ("pad", ctypes.c_uint8 * 2)]


ACC_CB = ctypes.CFUNCTYPE(None, ctypes.POINTER(_Acc))
PAGE_CB = ctypes.CFUNCTYPE(None, ctypes.c_uint64)
EXCL_CB = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.c_uint32, ctypes.c_uint64,
                           ctypes.POINTER(ctypes.c_uint64), ctypes.c_uint32)
ERR_CB = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.c_uint32, ctypes.c_uint64)

_SIGS = {
    "axs_reset": (None, [ctypes.c_uint64, ctypes.c_uint64, ctypes.c_int]),
    "axs_start": (None, [ctypes.c_uint64]),
    "axs_set_active": (None, [ctypes.c_int]),
    "axs_set_exclusive": (None, [ctypes.c_int]),
    "axs_set_seed": (None, [ctypes.c_uint64]),
    "axs_set_id_latency": (None, [ctypes.c_uint32, ctypes.c_uint32, ctypes.c_uint32, ctypes.c_uint32]),
    "axs_set_error_cb": (None, [ERR_CB]),
    "axs_cycle": (ctypes.c_uint64, []),
    "axs_set_timing": (None, [ctypes.c_uint32, ctypes.c_uint32, ctypes.c_double, ctypes.c_uint32, ctypes.c_uint32,
                              ctypes.c_int]),
    "axs_set_stall": (None, [ctypes.c_int, ctypes.c_double, ctypes.c_uint32, ctypes.c_uint32]),
    "axs_add_range": (ctypes.c_int, [ctypes.c_uint64, ctypes.c_uint64, ctypes.c_int, ctypes.c_uint32, ctypes.c_int,
                                     ctypes.c_int, ctypes.c_uint32, ctypes.c_uint32, ctypes.c_int64]),
    "axs_range_hits": (ctypes.c_uint64, [ctypes.c_int]),
    "axs_range_count": (ctypes.c_int64, [ctypes.c_int]),
    "axs_range_remove": (None, [ctypes.c_int]),
    "axs_release": (ctypes.c_int, [ctypes.c_uint64]),
    "axs_inflight": (ctypes.c_size_t, []),
    "axs_map_page": (None, [ctypes.c_uint64, ctypes.c_void_p]),
    "axs_set_callbacks": (None, [ACC_CB, ACC_CB, PAGE_CB, EXCL_CB]),
    "axs_set_log": (None, [ctypes.c_int]),
    "axs_drain": (ctypes.c_size_t, [ctypes.POINTER(_Acc), ctypes.c_size_t]),
    "axs_drain_done": (ctypes.c_size_t, [ctypes.POINTER(ctypes.c_uint64), ctypes.POINTER(ctypes.c_uint64),
                                         ctypes.c_size_t]),
    "axs_count": (ctypes.c_uint64, [ctypes.c_int]),
    "axs_protocol_errors": (ctypes.c_size_t, []),
    "axs_protocol_error": (ctypes.c_char_p, [ctypes.c_size_t]),
    "axs_peek": (ctypes.c_uint64, [ctypes.c_uint64]),
}

_libs: dict[str | None, ctypes.CDLL] = {}


def slave_lib(path: str | None = None) -> ctypes.CDLL:
    """The C++ slave's functions: in this simulator (path None) or in a shared library (tests)."""
    lib = _libs.get(path)
    if lib is not None:
        return lib
    lib = ctypes.CDLL(path)
    if not hasattr(lib, "axs_tick"):
        raise RuntimeError("this simulator has no C++ AXI slave (axs_tick): build it with tb.axi_top.build "
                           "and run toplevel ats_tb_top")
    for name, (res, args) in _SIGS.items():
        f = getattr(lib, name)
        f.restype = res
        f.argtypes = args
    _libs[path] = lib
    return lib


class _Pages:
    """The PhysMem pages registered with the C++ slave, kept alive (and unresizable) while registered."""

    def __init__(self, lib, mem) -> None:
        self.lib = lib
        self.mem = mem
        self.bufs: dict[int, Any] = {}
        for pfn, page in mem.page_items():
            self.map(pfn, page)
        mem.page_hook = self.map

    def map(self, pfn: int, page: bytearray | None) -> None:
        if page is None:
            self.lib.axs_map_page(pfn, None)
            self.bufs.pop(pfn, None)
            return
        buf = (ctypes.c_uint8 * len(page)).from_buffer(page)
        self.lib.axs_map_page(pfn, ctypes.addressof(buf))
        self.bufs[pfn] = buf

    def detach(self) -> None:
        """Unregister every page (the C++ side forgets them first, then the buffers are let go)."""
        if self.mem.page_hook == self.map:
            self.mem.page_hook = None
        for pfn in self.bufs:
            self.lib.axs_map_page(pfn, None)
        self.bufs.clear()


_current: "AxiMem | None" = None  # the slave the C callbacks report to (one per simulator)


def _noop() -> None:
    pass


def _cb_accept(p) -> None:
    m = _current
    if m is not None:
        m._on_accept(p.contents)


def _cb_done(p) -> None:
    m = _current
    if m is not None:
        m._on_done(p.contents)


def _cb_page(pfn: int) -> None:
    m = _current
    if m is not None:
        try:
            m.mem.page_buffer(pfn)
        except BaseException as e:  # noqa: BLE001 - the C++ side then keeps a page of its own
            m._fail(e)


def _cb_excl(kind: int, id_: int, pa: int, v, strb: int) -> int:
    m = _current
    if m is None:
        return 0
    try:
        return m.mem.slave_exclusive(kind, id_, pa, v, strb)
    except BaseException as e:  # noqa: BLE001
        m._fail(e)
        return 0


# ctypes callback objects live as long as the module (the C++ side keeps their addresses)
_CBS = (ACC_CB(_cb_accept), ACC_CB(_cb_done), PAGE_CB(_cb_page), EXCL_CB(_cb_excl))


class AxiMem:
    """AXI4 slave (single-beat, 64-bit) over a PhysMem: the C++ slave, configured from Python.

    Parameters
    ----------
    latency:     (lo, hi) cycles from address accept to response handshake, uniform. Minimum 1.
    tail:        (p, lo, hi) or None: with probability p the latency is at least a draw from [lo, hi].
    stall_prob:  probability that READY is low when a transfer's VALID comes (back-pressure),
    stall:       (lo, hi) cycles of such a stall.
    reorder:     allow responses of different IDs to overtake each other (per-ID
                 order is always kept). False: strict acceptance order per channel.
    trace:       a model.trace.Trace receiving MemAccess events (time = perform cycle).
    keep_log:    keep every completed AxiAccess in `self.log`.
    exclusive:   serve ARLOCK/AWLOCK with the PhysMem's exclusive monitor (EXOKAY / OKAY);
                 False: a slave without a monitor (OKAY, exclusive writes always performed).
    """

    def __init__(self, dut, cc: CycleClock, mem, *, prefix: str = "m_axi", seed: int = 0,
                 latency: tuple[int, int] = (1, 1), tail: tuple[float, int, int] | None = None,
                 stall_prob: float = 0.0, stall: tuple[int, int] = (1, 4), reorder: bool = False,
                 perform: str = "accept", trace=None, keep_log: bool = True, exclusive: bool = True,
                 lib: str | None = None):
        global _current
        if perform != "accept":
            raise ValueError("perform: the C++ slave performs every access at acceptance ('accept')")
        if callable(latency):
            raise TypeError("latency: a (lo, hi) pair (the C++ slave draws it)")
        self.dut = dut
        self.cc = cc
        self.mem = mem
        self.seed = seed
        self.latency = tuple(latency)
        self.tail = tail
        self.stall_prob = stall_prob
        self.stall = tuple(stall)
        self.reorder = reorder
        self.trace = trace
        self.keep_log = keep_log
        self.exclusive = exclusive
        self.log: list[AxiAccess] = []
        self.hooks: list[Callable[[AxiAccess], Any]] = []         # on completion
        self.accept_hooks: list[Callable[[AxiAccess], Any]] = []  # on acceptance
        self.errors: list[ErrorRange] = []
        self.inflight: list[AxiAccess] = []
        self._by_seq: dict[int, AxiAccess] = {}
        self._holds: list[Hold] = []
        self.gpi: Gpi | None = None
        self._lib = slave_lib(lib)
        if _current is not None:
            _current._detach()
        self._lib.axs_reset(0, seed & (2**64 - 1), 0)
        self._pages = _Pages(self._lib, mem)
        _current = self
        self._lib.axs_set_callbacks(*_CBS)
        self._lib.axs_set_exclusive(int(exclusive))
        self._apply_timing()

    # -------------------------------------------------------------- public API

    def start(self, gpi: Gpi | None = None) -> None:
        """Start answering (call after reset, at a quiet point): READYs up from the next edge."""
        self.gpi = gpi or Gpi(self.cc)
        self._lib.axs_start(self.cc.now())

    def stop(self) -> None:
        self._lib.axs_set_active(0)
        if self.gpi is not None:
            self.gpi.active = False

    def inject_error(self, lo: int, hi: int | None = None, resp: Resp = Resp.SLVERR, *, reads: bool = True,
                     writes: bool = True, source: str | None = None, count: int | None = None) -> ErrorRange:
        """Answer accesses to PAs [lo, hi) (default one 8-byte word) with `resp` (SLVERR or DECERR)."""
        if resp not in (Resp.SLVERR, Resp.DECERR):
            raise ValueError("error response must be SLVERR or DECERR")
        e = ErrorRange(self._lib, lo, hi if hi is not None else lo + 8, Resp(resp), reads, writes, source, count)
        self.errors.append(e)
        return e

    def no_answer(self, lo: int, hi: int | None = None, *, reads: bool = True, writes: bool = True,
                  source: str | None = None, count: int | None = None) -> ErrorRange:
        """Never answer accesses to PAs [lo, hi) (a slave that hangs; the device's timeout must act)."""
        e = ErrorRange(self._lib, lo, hi if hi is not None else lo + 8, NO_ANSWER, reads, writes, source, count)
        self.errors.append(e)
        return e

    def remove_error(self, e: ErrorRange) -> None:
        self._lib.axs_range_remove(e.idx)
        self.errors = [x for x in self.errors if x is not e]

    def hold(self, match: Callable[[AxiAccess], bool], count: int | None = 1) -> Hold:
        h = Hold(self, match, count)
        self._holds.append(h)
        return h

    def delay(self, match: Callable[[AxiAccess], bool], cycles: int, count: int | None = 1) -> Delay:
        """Answer the first `count` matching accesses `cycles` after acceptance (`Delay`)."""
        d = Delay(self, match, cycles, count)
        self._holds.append(d)
        return d

    def set_timing(self, *, latency=None, stall_prob=None, stall=None, reorder=None, tail=None) -> None:
        if latency is not None:
            if callable(latency):
                raise TypeError("latency: a (lo, hi) pair (the C++ slave draws it)")
            self.latency = tuple(latency)
        if stall_prob is not None:
            self.stall_prob = stall_prob
        if stall is not None:
            self.stall = tuple(stall)
        if reorder is not None:
            self.reorder = reorder
        if tail is not None:
            self.tail = tail or None
        self._apply_timing()

    def outstanding(self, source: str | None = None) -> list[AxiAccess]:
        return [a for a in self.inflight if source is None or a.source == source]

    @property
    def count_reads(self) -> int:
        return self._lib.axs_count(0)

    @property
    def count_writes(self) -> int:
        return self._lib.axs_count(1)

    @property
    def protocol_errors(self) -> list[str]:
        lib = self._lib
        return [lib.axs_protocol_error(i).decode() for i in range(lib.axs_protocol_errors())]

    # -------------------------------------------------------------- internals

    def _apply_timing(self) -> None:
        lo, hi = self.latency
        if not 1 <= lo <= hi:
            raise ValueError(f"latency {self.latency}: need 1 <= lo <= hi")
        p, tlo, thi = self.tail or (0.0, 0, 0)
        self._lib.axs_set_timing(lo, hi, p, tlo, thi, int(self.reorder))
        slo, shi = self.stall
        for ch in range(3):
            self._lib.axs_set_stall(ch, self.stall_prob, slo, shi)

    def _detach(self) -> None:
        """Another slave takes over the simulator (the next test): forget this one's pages."""
        global _current
        self._lib.axs_set_active(0)
        self._pages.detach()
        if _current is self:
            _current = None

    def _live(self) -> bool:
        return self.gpi is None or self.gpi.active

    def _fail(self, e: BaseException) -> None:
        """An exception in a C callback: fail the test through the Gpi funnel."""
        g = self.gpi
        if g is None:
            raise e
        if g._error is None:
            g._error = e
            g._err_evt.set()
        self._wake()

    def _wake(self) -> None:
        """Tasks were scheduled from inside the simulator's evaluation: run them in this step's read-only phase."""
        g = self.gpi
        if g is not None and g.active and g._el._inst._callbacks:
            g.on_readonly(_noop)

    def _on_accept(self, c: _Acc) -> None:
        if not self._live():
            return
        try:
            a = AxiAccess(write=bool(c.write), id=c.id, addr=c.addr, data=c.data, strb=c.strb, resp=c.resp,
                          accept=c.accept, perform=c.perform, due=c.due, seq=c.seq, lock=bool(c.lock),
                          dropped=bool(c.drop))
            for h in self._holds:
                if h.offer(a):
                    break
            c.held = int(a.held)
            c.due = a.due
            self.inflight.append(a)
            self._by_seq[a.seq] = a
            for h in self.accept_hooks:
                h(a)
        except BaseException as e:  # noqa: BLE001 - handed to the test
            self._fail(e)
            return
        self._wake()

    def _on_done(self, c: _Acc) -> None:
        a = self._by_seq.pop(c.seq, None)
        if a is None or not self._live():
            return
        try:
            a.done = c.done
            a.held = False
            try:
                self.inflight.remove(a)
            except ValueError:
                pass
            if self.keep_log:
                self.log.append(a)
            if self.trace is not None:
                self.trace.add(MemAccess(time=a.perform, source=a.source, pa=a.addr, write=a.write,
                                         value=a.data, tag=a.tag, error=a.error))
            for h in self.hooks:
                h(a)
        except BaseException as e:  # noqa: BLE001
            self._fail(e)
            return
        self._wake()
