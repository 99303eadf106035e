"""AXI4 slave BFM serving a `model.memory.PhysMem`, plus the cycle clock it runs on.

The RTL's AXI4 master port (`m_axi_*`, ARCHITECTURE.md section 2) reads and
writes exactly the bytes the host model wrote, because this slave serves the
host model's own `PhysMem` object.

Why a custom slave rather than cocotbext-axi's `AxiRam`:

* Speed. cocotbext-axi channels sample their handshakes on every clock edge
  while busy, and a Python wake per edge costs 5-10 us under Verilator. This
  slave wakes Python per transaction, not per cycle: READY is held high, a
  transfer is found by a value-change callback on VALID, latency is a single
  timed callback, and an idle port costs nothing (the clock is the C++ GPI
  clock). The channel engines are state machines on raw GPI callbacks (`Gpi`),
  not cocotb tasks: about 0.5 us per wake instead of about 2.5 us. Signals are
  read and written through `FastSig` (0.1 us instead of 2 us for `.value`).
  Measured with the whole testbench around the RTL (4 threads, mostly ATC
  hits): about 22,000 AXI transactions and 18,000 device accesses per
  wall-clock second (`python -m tb.figures`).
* DECERR as well as SLVERR injection, by PA range, per direction and per
  source (walker or DMA), with hit counters.
* Holds: a response (and, for reads, the data sampled at acceptance) can be
  held back until the test releases it, so a test can change memory and
  invalidate while a walker read or a DMA access is in flight. A hold never
  released is a slave that never answers; `delay` answers chosen accesses
  a fixed number of cycles after acceptance (a slave that answers late).
* Every access is logged with its cycle numbers (address accept, memory
  perform, response handshake), so ordering checks work from timestamps.

Timing discipline (see `CycleClock`): rising edge k is at `t0 + k*P`. The BFM
only drives at the quarter-phase point `t0 + k*P + P/4` ("qp(k)"), or right
after the design settled from an edge; it never writes at an edge instant, so
there is no race with the clock. A transfer whose VALID and READY are both
high during cycle k completes at edge k+1 and is stamped cycle k+1.

Exclusive accesses (ARLOCK/AWLOCK, the walker's accessed/dirty updates): the
exclusive monitor is the PhysMem's own (`read_exclusive`/`write_exclusive`,
model/memory.py), keyed by AXI ID, so any write to the reserved bytes (a CPU
store made by the test or the host model, a DMA write) makes the next
exclusive write of that ID fail with OKAY; a reservation held answers EXOKAY.
`exclusive=False` makes a slave without a monitor: OKAY on exclusive reads,
and exclusive writes performed as plain writes (what the AXI spec allows).

Memory semantics: a read samples memory when its AR handshake happens (cycle
of acceptance), a write is committed when both AW and W have been accepted;
the response follows `latency` cycles later (`perform="response"` moves the
memory access to the response instead). An access that hits an error range
reads zero / writes nothing and answers SLVERR or DECERR.

    mem = AxiMem(dut, cc, physmem, seed=7, latency=(1, 12), stall_prob=0.2, reorder=True)
    mem.start()                 # after reset (TB.start passes its shared Gpi)
    err = mem.inject_error(pa, pa + 8, resp=Resp.DECERR, reads=True, writes=False)
    hold = mem.hold(lambda a: a.source == "walk" and a.addr == pte_pa)
    await hold.wait()           # the walker read of that PTE has been accepted
    ...                         # change memory, invalidate
    hold.release()
"""
from __future__ import annotations

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


@dataclass
class ErrorRange:
    """PAs in [lo, hi) answer `resp` (SLVERR or DECERR)."""

    lo: int
    hi: int
    resp: Resp = Resp.SLVERR
    reads: bool = True
    writes: bool = True
    source: str | None = None   # "walk" | "dma" | None (both)
    count: int | None = None    # remaining hits; None = unlimited
    hits: int = 0

    def matches(self, write: bool, addr: int, source: str) -> bool:
        if self.count is not None and self.count <= 0:
            return False
        if write and not self.writes or not write and not self.reads:
            return False
        if self.source is not None and self.source != source:
            return False
        return self.lo <= addr < self.hi


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
        self.released = True
        for a in self.matched:
            a.held = False
        self._owner._holds = [h for h in self._owner._holds if h is not self]
        self._owner._kick()


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


# --------------------------------------------------------------------------- slave


class _AxiSignals:
    def __init__(self, dut, prefix: str):
        def sig(name, optional=False):
            h = getattr(dut, f"{prefix}_{name}", None)
            if h is None and not optional:
                raise AttributeError(f"{dut._name} has no port {prefix}_{name}")
            return FastSig(h) if h is not None else None

        for ch, names in {
            "ar": ("valid", "ready", "id", "addr", "len?", "size?", "lock?"),
            "aw": ("valid", "ready", "id", "addr", "len?", "size?", "lock?"),
            "w": ("valid", "ready", "data", "strb?", "last?"),
            "r": ("valid", "ready", "id", "data", "resp", "last?"),
            "b": ("valid", "ready", "id", "resp"),
        }.items():
            for n in names:
                opt = n.endswith("?")
                n = n.rstrip("?")
                setattr(self, ch + n, sig(ch + n, opt))


class AxiMem:
    """AXI4 slave (single-beat, 64-bit) over a PhysMem; see the module docstring.

    Parameters
    ----------
    latency:     (lo, hi) cycles from address accept to response handshake, uniform,
                 or a callable(AxiAccess) -> cycles. Minimum 1.
    stall_prob:  probability that READY is dropped for a transfer (back-pressure),
    stall:       (lo, hi) cycles of such a stall.
    reorder:     allow responses of different IDs to overtake each other (per-ID
                 order is always kept). False: strict acceptance order per channel.
    perform:     "accept" (default) or "response": when memory is read/written.
    trace:       a model.trace.Trace receiving MemAccess events (time = perform cycle).
    keep_log:    keep every completed AxiAccess in `self.log`.
    exclusive:   serve ARLOCK/AWLOCK with the PhysMem's exclusive monitor (EXOKAY / OKAY);
                 False: a slave without a monitor (OKAY, exclusive writes always performed).
    """

    def __init__(self, dut, cc: CycleClock, mem, *, prefix: str = "m_axi", seed: int = 0,
                 latency: tuple[int, int] | Callable[[AxiAccess], int] = (1, 1),
                 stall_prob: float = 0.0, stall: tuple[int, int] = (1, 4), reorder: bool = False,
                 perform: str = "accept", trace=None, keep_log: bool = True, exclusive: bool = True):
        self.dut = dut
        self.cc = cc
        self.mem = mem
        self.s = _AxiSignals(dut, prefix)
        self.rng = random.Random(seed)
        self.latency = latency
        self.stall_prob = stall_prob
        self.stall = stall
        self.reorder = reorder
        if perform not in ("accept", "response"):
            raise ValueError("perform must be 'accept' or 'response'")
        self.perform = perform
        self.trace = trace
        self.keep_log = keep_log
        self.exclusive = exclusive
        self.log: list[AxiAccess] = []
        self.hooks: list[Callable[[AxiAccess], Any]] = []         # on completion
        self.accept_hooks: list[Callable[[AxiAccess], Any]] = []  # on acceptance
        self.errors: list[ErrorRange] = []
        self.protocol_errors: list[str] = []
        self.inflight: list[AxiAccess] = []
        self._holds: list[Hold] = []
        self._rq: list[AxiAccess] = []
        self._bq: list[AxiAccess] = []
        self._awq: list[tuple[int, int, int, bool]] = []   # (id, addr, cycle, lock)
        self._wq: list[tuple[int, int, int]] = []    # (data, strb, cycle)
        self.gpi: Gpi | None = None
        self._rsrc: _Source | None = None
        self._bsrc: _Source | None = None
        self._seq = 0
        self.count_reads = 0
        self.count_writes = 0
        self._rready_trusted = False
        self._bready_trusted = False

    # -------------------------------------------------------------- public API

    def start(self, gpi: Gpi | None = None) -> None:
        """Drive the idle values and start the channel engines (call after reset)."""
        s = self.s
        s.rvalid.set(0)
        s.bvalid.set(0)
        if s.rlast is not None:
            s.rlast.set(1)
        self.gpi = gpi or Gpi(self.cc)
        sp, st = (lambda: self.stall_prob), (lambda: self.stall)
        for valid, ready, take in ((s.arvalid, s.arready, self._take_ar), (s.awvalid, s.awready, self._take_aw),
                                   (s.wvalid, s.wready, self._take_w)):
            RawSink(self.gpi, valid, ready, take, self.rng, sp, st).start()
        self._rsrc = _Source(self, False)
        self._bsrc = _Source(self, True)
        for sig, attr in ((s.rready, "_rready_trusted"), (s.bready, "_bready_trusted")):
            if sig.get() == 1:   # READY trusted constant-high until it is ever seen low
                setattr(self, attr, True)
                self.gpi.on_edge(sig, simulator.FALLING, setattr, self, attr, False)

    def stop(self) -> None:
        if self.gpi is not None:
            self.gpi.active = False

    def inject_error(self, lo: int, hi: int | None = None, resp: Resp = Resp.SLVERR, *, reads: bool = True,
                     writes: bool = True, source: str | None = None, count: int | None = None) -> ErrorRange:
        """Answer accesses to PAs [lo, hi) (default one 8-byte word) with `resp`."""
        if resp not in (Resp.SLVERR, Resp.DECERR):
            raise ValueError("error response must be SLVERR or DECERR")
        e = ErrorRange(lo, hi if hi is not None else lo + 8, Resp(resp), reads, writes, source, count)
        self.errors.append(e)
        return e

    def remove_error(self, e: ErrorRange) -> None:
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

    def set_timing(self, *, latency=None, stall_prob=None, stall=None, reorder=None) -> None:
        if latency is not None:
            self.latency = latency
        if stall_prob is not None:
            self.stall_prob = stall_prob
        if stall is not None:
            self.stall = stall
        if reorder is not None:
            self.reorder = reorder

    def outstanding(self, source: str | None = None) -> list[AxiAccess]:
        return [a for a in self.inflight if source is None or a.source == source]

    # -------------------------------------------------------------- internals

    def _draw_latency(self, a: AxiAccess) -> int:
        lat = self.latency(a) if callable(self.latency) else self.rng.randint(*self.latency)
        return max(1, int(lat))

    def _error_for(self, write: bool, addr: int, source: str) -> int:
        for e in self.errors:
            if e.matches(write, addr, source):
                e.hits += 1
                if e.count is not None:
                    e.count -= 1
                return int(e.resp)
        return 0

    def _kick(self) -> None:
        if self._rsrc is not None:
            self._rsrc.kick()
            self._bsrc.kick()

    def _check_beat(self, what: str, len_sig, size_sig, addr: int) -> None:
        if len_sig is not None and len_sig.get() != 0:
            self.protocol_errors.append(f"{what} addr {addr:#x}: len {len_sig.get()} != 0")
        if size_sig is not None and size_sig.get() != 3:
            self.protocol_errors.append(f"{what} addr {addr:#x}: size {size_sig.get()} != 3")
        if addr & 7:
            self.protocol_errors.append(f"{what} addr {addr:#x} not 8-byte aligned")

    def _new(self, write: bool, id_: int, addr: int, cycle: int) -> AxiAccess:
        self._seq += 1
        a = AxiAccess(write=write, id=id_, addr=addr, accept=cycle, seq=self._seq)
        a.due = cycle + self._draw_latency(a)
        for h in self._holds:
            if h.offer(a):
                break
        return a

    def _take_ar(self, c: int) -> None:
        s = self.s
        id_ = s.arid.get()
        addr = s.araddr.get()
        self._check_beat("AR", s.arlen, s.arsize, addr)
        a = self._new(False, id_, addr, c)
        a.lock = bool(s.arlock.get()) if s.arlock is not None else False
        a.resp = self._error_for(False, addr, a.source)
        if self.perform == "accept":
            self._do_read(a, c)
        self.count_reads += 1
        self.inflight.append(a)
        self._rq.append(a)
        for h in self.accept_hooks:
            h(a)
        self._rsrc.kick()

    def _take_aw(self, c: int) -> None:
        s = self.s
        addr = s.awaddr.get()
        self._check_beat("AW", s.awlen, s.awsize, addr)
        self._awq.append((s.awid.get(), addr, c, bool(s.awlock.get()) if s.awlock is not None else False))
        self._pair_writes()

    def _take_w(self, c: int) -> None:
        s = self.s
        if s.wlast is not None and s.wlast.get() != 1:
            self.protocol_errors.append("W beat without WLAST on a single-beat burst")
        strb = s.wstrb.get() if s.wstrb is not None else 0xFF
        self._wq.append((s.wdata.get(), strb, c))
        self._pair_writes()

    def _pair_writes(self) -> None:
        while self._awq and self._wq:
            id_, addr, ca, lock = self._awq.pop(0)
            data, strb, cw = self._wq.pop(0)
            c = max(ca, cw)
            a = self._new(True, id_, addr, c)
            a.lock = lock
            a.data = data
            a.strb = strb
            a.resp = self._error_for(True, addr, a.source)
            if self.perform == "accept":
                self._do_write(a, c)
            self.count_writes += 1
            self.inflight.append(a)
            self._bq.append(a)
            for h in self.accept_hooks:
                h(a)
            self._bsrc.kick()

    def _do_read(self, a: AxiAccess, cycle: int) -> None:
        a.perform = cycle
        if a.error:
            a.data = 0
        elif a.lock and self.exclusive:
            a.data = self.mem.read_exclusive(a.id, a.addr & ~7)
            a.resp = Resp.EXOKAY
        else:
            a.data = self.mem.read64(a.addr & ~7)

    def _do_write(self, a: AxiAccess, cycle: int) -> None:
        a.perform = cycle
        if a.error:
            return
        base = a.addr & ~7
        if a.lock and self.exclusive:
            if a.strb != 0xFF:
                self.protocol_errors.append(f"exclusive write with WSTRB {a.strb:#x}: {a}")
            ok = self.mem.write_exclusive(a.id, base, a.data)
            a.resp = Resp.EXOKAY if ok else Resp.OKAY
            return
        if a.strb == 0xFF:
            self.mem.write64(base, a.data)
        else:
            raw = a.data.to_bytes(8, "little")
            for i in range(8):
                if a.strb >> i & 1:
                    self.mem.write(base + i, raw[i:i + 1])

    def _pick(self, q: list[AxiAccess]) -> AxiAccess | None:
        """Next response to send: per-ID order always, global order unless reordering."""
        if not q:
            return None
        if not self.reorder:
            a = q[0]
            return None if a.held else a
        best = None
        seen: set[int] = set()
        for a in q:
            if a.id in seen:
                continue
            seen.add(a.id)
            if a.held:
                continue
            if best is None or a.due < best.due:
                best = a
        return best

    def _complete(self, a: AxiAccess) -> None:
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


class _Source:
    """R (or B) channel engine of AxiMem on raw callbacks: one wake per beat, one to go idle.

    Beats leave in `AxiMem._pick` order once due (latency counted from the
    address handshake); a beat accepted while the engine sleeps towards a later
    one is picked up by a second, earlier wake.
    """

    def __init__(self, mem: AxiMem, is_b: bool):
        s = mem.s
        self.mem = mem
        self.gpi = mem.gpi
        self.cc = mem.cc
        self.is_b = is_b
        self.q = mem._bq if is_b else mem._rq
        self.valid = s.bvalid if is_b else s.rvalid
        self.ready = s.bready if is_b else s.rready
        self.sid = s.bid if is_b else s.rid
        self.sresp = s.bresp if is_b else s.rresp
        self.sdata = None if is_b else s.rdata
        self.trusted = "_bready_trusted" if is_b else "_rready_trusted"
        self.presenting: AxiAccess | None = None
        self.timer_at: int | None = None

    def _qp_cycle(self) -> int:
        """The quiet point we can drive at next (now, if we are at one)."""
        cc = self.cc
        t = cc.time()
        k = t // cc.period
        return k + 1 if t > k * cc.period + cc.quarter else k

    def kick(self) -> None:
        """Something may have become eligible: make sure a wake is scheduled for it."""
        if self.presenting is not None:
            return                       # the end of the current beat picks the next one
        a = self.mem._pick(self.q)
        if a is None:
            return
        target = max(a.due - 1, self._qp_cycle())
        if self.timer_at is not None and self.timer_at <= target:
            return
        self.timer_at = target
        self.gpi.at_qp(target, self._wake, target)

    def _wake(self, k: int) -> None:
        if self.timer_at != k:
            return                       # superseded by an earlier wake
        self.timer_at = None
        if self.presenting is None:      # else the end of that beat picks the next one
            self._present(k)

    def _present(self, k: int) -> None:
        """At qp(k): drive the next due beat (handshake at edge k+1), or go idle."""
        a = self.mem._pick(self.q)
        if a is None or a.due - 1 > k:
            self.valid.set(0)
            self.kick()
            return
        if self.mem.perform == "response":
            (self.mem._do_write if self.is_b else self.mem._do_read)(a, k + 1)
        self.sid.set(a.id)
        self.sresp.set(a.resp)
        if self.sdata is not None:
            self.sdata.set(a.data)
        self.valid.set(1)
        self.presenting = a
        self._offer(k)

    def _offer(self, k: int) -> None:
        if getattr(self.mem, self.trusted):
            self.presenting.done = k + 1     # stamped before the edge: the DUT may react at once
            self.gpi.at_qp(k + 1, self._beat_done, k + 1)
        else:
            self.gpi.on_readonly(self._sample, k)

    def _sample(self, k: int) -> None:
        if self.ready.get() == 1:
            self.presenting.done = k + 1
            self.gpi.at_qp(k + 1, self._beat_done, k + 1)
        else:
            self.gpi.at_qp(k + 1, self._offer, k + 1)

    def _beat_done(self, k: int) -> None:
        a = self.presenting
        self.presenting = None
        self.q.remove(a)
        self.mem._complete(a)
        self._present(k)
