"""The RTL as a `model.device.Device`: `ats_dev_top` in Verilator, driven from cocotb.

`RtlDevice` lets the host-model scheduler (`model.scheduler.run_scenario`) run
a scenario on the RTL exactly as it runs one on the reference device: `now` is
the current cycle, `submit`/`invalidate` queue to the command and invalidation
drivers, `run(n)` advances simulated time with one `Timer`, and responses and
completions come from the monitors. The AXI slave serves the host model's own
`PhysMem`, so the walker reads the very page-table bytes the kernel model
wrote, and DMA reads/writes land in the same memory the CPU side uses.

Speed (docs/INTENT.md, "Toolchain facts"): Python never runs per clock. The simulated top is a
generated wrapper (`clock_wrapper`, build/rtl/cosim_top.sv) around
ats_dev_top that makes the clock in Verilog (Verilator --timing), feeds the
command and Invalidate Request ports from small queues the drivers fill,
captures every handshake (AR, AW+W, response, completion, Invalidate Request)
into small rings with a counter per channel, and presents AXI R/B beats from
slots the Python slave books. The bus functional models (`Ports`) are raw
GPI callbacks, not cocotb coroutines: a value-change callback per AXI request
(the slave must act at once) and per Invalidate Request / Completion
handshake; responses wake nobody (they are read from their ring at the next
quiet point, with their handshake and issue cycles). The scheduler's
coroutine is stepped from raw timed callbacks too (`RtlDevice.drive`). An
idle device costs no Python at all. The RTL reads copies of what Python
writes, taken when Python raises the wrapper's `py_kick` after its writes
(`Ports._kick`), so Verilator evaluates the RTL's combinational logic only
after clock edges and kicks, not on every evaluation of the model.

Timing convention (one global clock, cycle k = rising edge k):

    edge k ........ qp(k) = k*P + P/4 ........ h(k) = k*P + P/2 ........ edge k+1
    handshakes      the scheduler acts:          (timed port actions)
    at edge k       host writes, submit,
                    invalidate, take_*

* A transfer with VALID and READY high during cycle k-1 happens at edge k and
  is stamped k (command `issue`, response `complete`, `InvReq`/`InvCpl` time).
* The AXI slave performs an access (reads or writes `PhysMem`) at its
  address handshake edge and stamps it with the cycle before, the cycle its
  request was VALID (`MemAccess.time`, `DevAccess.mem_time`): the host's
  actions of that cycle are visible, those of the next are not. So host
  changes made while the scheduler stands at cycle t are seen by every device
  access stamped >= t, and a device write stamped t is visible to the host
  from t+1: the same rule as the reference device. The response handshake
  comes `latency` (>= 2) cycles after the address handshake.
* Monitors buffer what they see; `run()` hands events to the trace (and the
  scheduler) only once they have happened, in time order.

    eng = Ports(dut, CosimConfig(seed=7))
    await eng.start()
    dev = RtlDevice(eng, PhysMem(), pasid_tbl_base=0x1000, trace=Trace())
    await dev.begin()                      # reset, epoch = cycle 0 of this run
    result = await run_scenario(scenario, dev, "deferred", seed=1)

Outside the simulator, `run_scenario_rtl(scenario, policy, seed)` (used by
`python -m tb.matrix --device rtl`) sends the run to a co-simulation server:
one Verilator process (tb/cosim_server.py) that stays up and serves every
request, so a matrix of 57 cells pays the simulator start-up once.
"""
from __future__ import annotations

import atexit
import heapq
import json
import os
import random
import re
import sys
import threading
import time
import traceback
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from model.ats import InvalidateRequest, PageRequest, inv_range
from model.device import DevCommand, DevResponse
from model.memory import PhysMem
from model.trace import DevAccess, InvCpl, InvReq, MemAccess, Trace

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build"
MASK64 = (1 << 64) - 1

# --------------------------------------------------------------------------- configuration


# The co-simulation's default back-pressure (CosimConfig.stall / latency_tail; also
# `make stress`): each port refuses for short random stretches (a few per cent of the
# cycles) and 1 AXI response in 16 takes 8..40 cycles. Chosen so every expectation
# of the matrix and the shipped scenarios holds on the RTL (checked over several
# seeds) while accesses wait at the AXI port after their lookup and walks and
# completions are late.
BACKPRESSURE: dict = {
    "stall": {"ar": (0.08, 8), "aw": (0.08, 8), "rsp": (0.08, 4), "invc": (0.1, 16), "cmd": (0.05, 4),
              "inv": (0.05, 8)},
    "latency_tail": (1 / 16, 8, 40),
}
NO_BACKPRESSURE: dict = {"stall": {}, "latency_tail": None}


@dataclass
class CosimConfig:
    """Bench-side knobs (the RTL's own parameters are Verilog parameters)."""

    period_ns: int = 10
    # AXI address handshake -> response handshake, cycles (uniform). At least 2: the
    # slave books a beat from the handshake edge's callback for a later cycle (a
    # slot written for the current cycle would not be seen by the model this cycle).
    latency: tuple[int, int] = (2, 2)
    reorder: bool = False  # responses of different AXI IDs may overtake each other
    seed: int = 0
    # (pa, "walk" | "dma") -> True to answer that access with SLVERR
    bus_error: Callable[[int, str], bool] | None = None
    # Deliberate faults in the slave, to prove the scoreboard and the watchdog can fail:
    # "rdata" flips bit 0 of DMA read data on R (the log keeps the served value),
    # "walk" flips bit 13 of every walker read (wrong tables/pages),
    # "drop" never answers the first DMA read (a hung command).
    tamper: str | None = None
    cmd_timeout: int = 50_000  # cycles a command may stay unanswered before the watchdog fires
    inv_timeout: int = 50_000  # cycles an Invalidate Request may stay uncompleted
    num_threads: int = 8  # COSIM_PARAMS["NumThreads"]: the co-simulation builds the RTL with 8
    # Back-pressure and latency spread (all seeded by `seed`, so a run replays).
    # stall: port -> (p, n): each cycle a stretch of 1..n cycles (n rounded up to a power
    # of two, at most 256) starts with probability p, during which the port refuses:
    #   "ar", "aw" (AW and W together: the slave takes them as a pair), "rsp", "invc"
    #   hold the RTL's READY low; "cmd", "inv" delay presenting the next queued command /
    #   Invalidate Request (a VALID already up stays up until its handshake).
    # Generated in Verilog by the wrapper (`_BP_HDL`), so it costs no Python wakes.
    # Default: BACKPRESSURE (every port); stall={} and latency_tail=None turn it off.
    stall: dict = field(default_factory=lambda: dict(BACKPRESSURE["stall"]))
    # latency_tail (p, lo, hi): with probability p an AXI response takes lo..hi cycles
    # (if that is longer than its latency: a spread with a long tail; with `reorder`
    # later IDs overtake).
    latency_tail: tuple[float, int, int] | None = field(default_factory=lambda: BACKPRESSURE["latency_tail"])
    walk_latency: tuple[int, int] | None = None  # latency of walker reads (default: `latency`)
    # ar_hold: every DMA read of a thread in ar_hold_threads (bit mask) waits this many
    # cycles at the AXI port after it first raises ARVALID (deterministic: scenarios use it
    # to keep an access that passed its ATC lookup in front of the port).
    ar_hold: int = 0
    ar_hold_threads: int = 0xFF

    def __post_init__(self) -> None:
        self.latency = tuple(self.latency)
        lo, hi = self.latency
        if not 2 <= lo <= hi:
            raise ValueError("latency must satisfy 2 <= lo <= hi")
        for name in ("walk_latency", "latency_tail"):
            v = getattr(self, name)
            if v is not None:
                setattr(self, name, tuple(v))
        if self.walk_latency is not None and not 2 <= self.walk_latency[0] <= self.walk_latency[1]:
            raise ValueError("walk_latency must satisfy 2 <= lo <= hi")
        if self.latency_tail is not None:
            p, lo, hi = self.latency_tail
            if not (0 <= p <= 1 and 2 <= lo <= hi):
                raise ValueError("latency_tail must be (p in [0, 1], lo, hi) with 2 <= lo <= hi")
        self.stall = {k: tuple(v) for k, v in (self.stall or {}).items()}
        for k, (p, n) in self.stall.items():
            if k not in BP_PORTS:
                raise ValueError(f"stall: unknown port {k!r} (known: {', '.join(BP_PORTS)})")
            if not (0 <= p <= 1 and 1 <= n <= 256):
                raise ValueError(f"stall[{k}]: need 0 <= p <= 1 and 1 <= n <= 256, got {(p, n)}")
        if not 0 <= self.ar_hold < 1 << 16:
            raise ValueError("ar_hold must be below 65536 cycles")

    def bp_words(self) -> list[int]:
        """The wrapper's bp_cfg words: {stretch mask, start threshold (of 256)} per port."""
        out = []
        for k in BP_PORTS:
            p, n = self.stall.get(k, (0.0, 1))
            thr = min(255, round(p * 256))
            mask = (1 << max(0, (n - 1).bit_length())) - 1
            out.append((min(mask, 255) << 8) | thr)
        return out


BP_PORTS = ("ar", "aw", "rsp", "invc", "cmd", "inv")  # order of the wrapper's bp_cfg / bp_sn


class DeviceError(RuntimeError):
    """The RTL broke the port protocol or the watchdog fired."""


# --------------------------------------------------------------------------- raw signal access


class _Sig:
    """A port handle written and read through the GPI directly (no cocotb scheduler)."""

    __slots__ = ("h", "w", "name", "_fmt", "last")

    def __init__(self, dut: Any, name: str) -> None:
        obj = getattr(dut, name)
        self.h = obj._handle
        self.w = len(obj)
        self.name = name
        self._fmt = f"0{self.w}b"
        self.last: int | None = None  # last value written (inputs are written only from here)

    @classmethod
    def of(cls, obj: Any, name: str) -> "_Sig":
        self = cls.__new__(cls)
        self.h = obj._handle
        self.w = len(obj)
        self.name = name
        self._fmt = f"0{self.w}b"
        self.last = None
        return self

    def get(self) -> int:
        if self.w <= 32:
            v = self.h.get_signal_val_long()
            return v + (1 << self.w) if v < 0 else v
        s = self.h.get_signal_val_binstr()
        try:
            return int(s, 2)
        except ValueError:  # X/Z bits: read them as 0 (only seen before reset)
            return int("".join(c if c in "01" else "0" for c in s), 2)

    def set(self, v: int) -> None:
        if v == self.last:
            return
        self.last = v
        if self.w <= 32:
            self.h.set_signal_val_int(0, v)
        else:
            self.h.set_signal_val_binstr(0, format(v, self._fmt))


class _Words:
    """An unpacked array of at most 32-bit words in the wrapper, written through the
    GPI as integers (the last value written to each element is remembered, so an
    unchanged element is not written again)."""

    __slots__ = ("h", "last", "name")

    def __init__(self, dut: Any, name: str, n: int) -> None:
        arr = getattr(dut, name)
        self.h = [arr[i]._handle for i in range(n)]
        self.last: list[int | None] = [None] * n
        self.name = name

    def set(self, i: int, v: int) -> None:
        if self.last[i] != v:
            self.last[i] = v
            self.h[i].set_signal_val_int(0, v)

    def get(self, i: int) -> int:
        return self.h[i].get_signal_val_long() & M32


_sim = None  # cocotb.simulator, bound when the first Ports is built (only inside a simulation)


# --------------------------------------------------------------------------- records


@dataclass
class CmdRec:
    """One command from submit to response."""

    cmd: DevCommand
    uid: int
    submitted: int  # absolute cycle of submit()
    edge: int | None = None  # absolute handshake cycle (issue), known once the response is read
    mem: "AxiAcc | None" = None  # the DMA access the slave performed for it
    rsp: DevResponse | None = None
    sb: Any = None  # scoreboard state
    qidx: int = -1  # position in the wrapper's command queue (Ports.send_cmd)


@dataclass(slots=True)
class AxiAcc:
    """One AXI transaction as the slave performed it (cycles absolute)."""

    write: bool
    id: int
    addr: int
    accept: int
    data: int = 0
    strb: int = 0xFF
    error: bool = False
    due: int = 0  # response handshake cycle (at the earliest)
    perform: int = 0  # cycle memory was read/written (VALID cycle, accept - 1)
    done: int | None = None
    seq: int = 0
    lock: bool = False  # exclusive (ARLOCK/AWLOCK): served by PhysMem's exclusive monitor
    exok: bool = False  # answered EXOKAY

    @property
    def source(self) -> str:
        return "dma" if self.id & 8 else "walk"

    @property
    def tag(self) -> int:
        return self.id & 7


@dataclass
class InvRec:
    req: InvalidateRequest
    submitted: int
    edge: int | None = None
    complete: int | None = None


M32 = 0xFFFFFFFF
INF = float("inf")


# --------------------------------------------------------------------------- the ports


class Ports:
    """Reset and every bus functional model of `ats_dev_top` as raw GPI callbacks.

    Works on the generated wrapper `cosim_top` (see `clock_wrapper`): clock
    in Verilog, the RTL as `u_dut`, AXI response slots, command and
    Invalidate Request queues and handshake capture rings. Drivers: command
    (`send_cmd`) and Invalidate Request (`send_inv`) write the wrapper's
    queues, which present each entry on the RTL's `cmd_*` / `inv_*` inputs
    until its handshake; AXI slave responses (R and B beats are booked into
    the wrapper's slots: `_book`). Monitors: AXI requests (AR, AW+W),
    responses (`rsp_*`), Invalidate Request handshakes and Invalidate
    Completions (`invc_*`). READY inputs are held high (`rsp_ready_i`,
    `invc_ready_i`, `m_axi_*ready`) except where the wrapper's seeded
    back-pressure (`CosimConfig.stall`, `ar_hold`; `apply_bp`) refuses for a
    stretch; the capture rings see the READY the RTL sees. The RTL's
    RREADY/BREADY are constant 1 (checked at start).

    The AXI slave: a request is performed on the host's PhysMem in the cycle
    it is VALID (`_request`/`_perform`), its response beat is booked for the
    cycle before it is due (`latency` after the address handshake, per-ID
    order, optionally reordered across IDs, one beat per cycle), and the
    wrapper presents it for exactly that cycle. Bus errors (`bus_error`) give
    SLVERR and touch no memory.

    How monitors see transfers without a wake per clock: the wrapper counts
    the handshakes of each channel and stores their payloads in a ring. AR,
    AW and completions wake Python once per transfer, at the handshake edge,
    through a value-change callback on the channel's counter (the slave must
    act on a request at once); so does each Invalidate Request handshake (on
    the queue's read pointer). Responses wake nobody: `poll()`, called by the
    device binding at each quiet point, reads the ring, where every entry
    carries its handshake cycle and the cycle its command was taken. A
    counter that jumps further than its ring can hold is reported as a lost
    transfer.

    Observers: `on_mem(acc)` when the slave performs an access,
    `on_rsp(thread, fields, edge, issue)` for every response handshake (from
    `poll`), `on_cpl(itag, edge)` for every completion, `on_inv(rec)` when a
    request's handshake edge is known.
    """

    _CH = ("ar", "aw", "invc", "inv")  # channels that wake Python

    def __init__(self, dut: Any, cfg: CosimConfig | None = None, mem: PhysMem | None = None) -> None:
        global _sim
        from cocotb import simulator
        from cocotb.utils import get_sim_steps

        _sim = simulator
        self.dut = dut
        self.cfg = cfg or CosimConfig()
        self.mem = mem
        self.P = get_sim_steps(self.cfg.period_ns, "ns")
        if self.P % 4:
            raise ValueError("clock period must be a multiple of 4 simulator steps")
        self.Q = self.P // 4
        self.H = self.P // 2
        self.T0 = 0
        self.rng = random.Random(self.cfg.seed)
        # the wrapper (tb.rtldev.clock_wrapper): R/B beats are booked into its slots,
        # commands and Invalidate Requests go through its queues, handshakes are read
        # from its capture rings
        if not hasattr(dut, "rs_cyc") or not hasattr(dut, "cq_wp") or not hasattr(dut, "rsp_ccyc"):
            raise DeviceError(f"{dut._name}: the co-simulation needs the {WRAP_TOP} wrapper (tb.rtldev.build)")
        s = lambda n: _Sig(dut, n)  # noqa: E731
        self.rsp_ready, self.invc_ready = s("rsp_ready_i"), s("invc_ready_i")
        self.inv_ready = s("inv_ready_o")
        a = lambda n: _Sig(dut, "m_axi_" + n)  # noqa: E731
        self.arready, self.awready, self.wready = a("arready"), a("awready"), a("wready")
        self.wlast = a("wlast")
        self.rready, self.bready = a("rready"), a("bready")
        self.arlen, self.arsize, self.awlen, self.awsize = a("arlen"), a("arsize"), a("awlen"), a("awsize")
        self.rst = s("rst_ni")
        self.tbl_base = s("pasid_tbl_base_i")
        # field widths of the packed queue and capture entries
        self.pa_bits = len(dut.m_axi_araddr)
        self.id_bits = len(dut.m_axi_arid)
        self.thread_bits = len(dut.rsp_thread_o)
        self.itag_bits = len(dut.invc_itag_o)

        def arr(name: str, n: int) -> list[_Sig]:
            h = getattr(dut, name)
            return [_Sig.of(h[i], f"{name}[{i}]") for i in range(n)]

        # response slots, R and B: (cycle, {resp, id}, data bits 31:0, data bits 63:32)
        self.rs = (_Words(dut, "rs_cyc", SLOTS), _Words(dut, "rs_meta", SLOTS), _Words(dut, "rs_d0", SLOTS),
                   _Words(dut, "rs_d1", SLOTS))
        self.bs = (_Words(dut, "bs_cyc", SLOTS), _Words(dut, "bs_meta", SLOTS), None, None)
        # queues
        self.cq = (_Words(dut, "cq_meta", CMDQ), _Words(dut, "cq_va0", CMDQ), _Words(dut, "cq_va1", CMDQ),
                   _Words(dut, "cq_wd0", CMDQ), _Words(dut, "cq_wd1", CMDQ))
        self.iq = (_Words(dut, "iq_meta", INVQ), _Words(dut, "iq_a0", INVQ), _Words(dut, "iq_a1", INVQ))
        self.cq_wp, self.cq_rp, self.iq_wp, self.iq_rp = s("cq_wp"), s("cq_rp"), s("iq_wp"), s("iq_rp")
        self.cq_issue = arr("cq_issue", len(dut.cq_issue))
        # capture rings: raw GPI handles (read in the callbacks)
        ring = lambda name: [sig.h for sig in arr(name, CAP)]  # noqa: E731
        self._ar_c0, self._ar_c1 = ring("ar_c0"), ring("ar_c1")
        self._aw_c0, self._aw_c1, self._aw_cd0, self._aw_cd1 = ring("aw_c0"), ring("aw_c1"), ring("aw_cd0"), \
            ring("aw_cd1")
        self._rsp_cmeta, self._rsp_ccyc, self._rsp_cissue = ring("rsp_cmeta"), ring("rsp_ccyc"), ring("rsp_cissue")
        self._rsp_crd0, self._rsp_crd1 = ring("rsp_crd0"), ring("rsp_crd1")
        self._rsp_cpa0, self._rsp_cpa1 = ring("rsp_cpa0"), ring("rsp_cpa1")
        self._invc_citag = ring("invc_citag")
        self._cnt = {"ar": s("ar_n"), "aw": s("aw_n"), "rsp": s("rsp_n"), "invc": s("invc_n"), "inv": self.iq_rp}
        self._cb = {"ar": self._ar_cb, "aw": self._aw_cb, "invc": self._invc_cb, "inv": self._inv_cb}
        self.seen = {ch: 0 for ch in self._cnt}
        self._h_ar_n, self._h_aw_n = self._cnt["ar"].h, self._cnt["aw"].h
        self._h_rsp_n = self._cnt["rsp"].h
        self._h_cq_wp = self.cq_wp.h
        self._h_kick = s("py_kick").h
        self.bp_cfg = _Words(dut, "bp_cfg", len(BP_PORTS))
        self.bp_seed, self.bp_hold = s("bp_seed"), s("bp_hold")
        self._bp_sn = [sig.h for sig in arr("bp_sn", len(BP_PORTS))]
        self._cq_w = 0  # commands written to the queue (cq_wp); never reset, like the wrapper's pointers
        self._iq_w = 0
        # observers
        self.on_mem: list[Callable[[AxiAcc], None]] = []
        self.on_rsp: list[Callable[[int, tuple, int, int], None]] = []
        self.on_cpl: list[Callable[[int, int], None]] = []
        self.on_inv: list[Callable[[InvRec], None]] = []
        self.error: BaseException | None = None
        self.callbacks = 0  # Python wakes of the port callbacks, for the bench
        self._live = False
        self.armed: dict[str, bool] = {}
        self._reset_state()

    # ------------------------------------------------------------------ time

    def time(self) -> int:
        hi, lo = _sim.get_sim_time()
        return ((hi << 32) | lo) - self.T0

    def cycle(self) -> int:
        """Index of the most recent rising edge."""
        return self.time() // self.P

    async def to_qp(self, k: int) -> None:
        from cocotb.triggers import Timer

        dt = k * self.P + self.Q - self.time()
        if dt > 0:
            await Timer(dt, "step")
        elif dt < 0:
            raise DeviceError(f"to_qp({k}): already past it (t={self.time()})")

    # ------------------------------------------------------------------ start / reset

    async def start(self, pasid_tbl_base: int = 0) -> None:
        """Hold the READY inputs high and reset; afterwards the ports are live."""
        for sig, v in ((self.rsp_ready, 1), (self.invc_ready, 1), (self.arready, 1), (self.awready, 1),
                       (self.wready, 1), (self.rst, 0), (self.tbl_base, pasid_tbl_base)):
            sig.set(v)
        self.apply_bp()
        self._kick()
        self.T0 = 0  # the wrapper's clock: rising edges at k * P
        await self.reset(pasid_tbl_base)
        if self.rready.get() != 1 or self.bready.get() != 1:
            raise DeviceError("the slave assumes the RTL holds RREADY and BREADY high")
        # Single 8-byte beats are constant in this RTL (checked once, not per beat).
        shape = (self.arlen.get(), self.arsize.get(), self.awlen.get(), self.awsize.get(), self.wlast.get())
        if shape != (0, 3, 0, 3, 1):
            raise DeviceError(f"AXI (arlen, arsize, awlen, awsize, wlast) = {shape}: the slave serves single "
                              "8-byte beats only")

    async def reset(self, pasid_tbl_base: int | None = None, cycles: int = 3) -> int:
        """Pulse rst_ni, drop everything in flight (the wrapper's queues empty too);
        return the first live cycle (at its qp)."""
        self._live = False
        k = self.cycle()
        await self.to_qp(k + 1)
        self.rst.set(0)
        if pasid_tbl_base is not None:
            self.tbl_base.set(pasid_tbl_base)
        self._kick()
        await self.to_qp(k + 1 + cycles)
        self.rst.set(1)
        self._kick()
        await self.to_qp(k + 2 + cycles)
        self._reset_state()
        k = self.cycle()
        for cyc_words in (self.rs[0], self.bs[0]):  # forget beats booked before the reset
            for i in range(SLOTS):
                cyc_words.set(i, M32)
        self._kick()
        if self.cq_rp.get() != self._cq_w or self.iq_rp.get() != self._iq_w:
            raise DeviceError("the wrapper's command / invalidation queues did not empty in reset")
        for ch in self._cnt:  # resynchronise with the capture counters (they never reset)
            self.seen[ch] = self._cnt[ch].get()
        for ch in self._CH:
            self._arm(ch)
        self._live = True
        return k

    def _reset_state(self) -> None:
        self.cmd_q: deque[CmdRec] = deque()  # in the wrapper's queue or in flight, oldest first
        self.inv_q: deque[InvRec] = deque()  # waiting for room in the wrapper's queue
        self.inv_sent: deque[InvRec] = deque()  # in the wrapper's queue, not yet taken
        self.inflight: dict[int, AxiAcc] = {}
        self.log_reads = 0
        self.log_writes = 0
        self._seq = 0
        self._dropped = False
        self._booked: tuple[dict[int, int], dict[int, int]] = ({}, {})  # R, B: cycle -> slot index
        self._slot_until = ([-1] * SLOTS, [-1] * SLOTS)
        self._id_last: dict[tuple[bool, int], int] = {}
        self._ch_last = [-1, -1]
        self.lat_hist: dict[int, int] = {}  # AXI address handshake -> response handshake, cycles

    def apply_bp(self, seed: int | None = None) -> None:
        """Write the back-pressure settings of `cfg` into the wrapper (taken at the next
        kick; the generators reload their seed while reset is low, so a run that starts
        with a reset replays)."""
        cfg = self.cfg
        for i, w in enumerate(cfg.bp_words()):
            self.bp_cfg.set(i, w)
        seed = cfg.seed if seed is None else seed
        self.bp_seed.set((seed * 0x9E3779B1 + 0x7F4A7C15) & M32)
        mask = cfg.ar_hold_threads & 0xFF if cfg.ar_hold else 0
        self.bp_hold.set((mask << 16) | (cfg.ar_hold & 0xFFFF))
        self._kick()

    def bp_stats(self) -> dict:
        """Refused cycles per port since the last reset, and the AXI latency spread."""
        stalled = {k: self._bp_sn[i].get_signal_val_long() & M32 for i, k in enumerate(BP_PORTS)}
        h = self.lat_hist
        n = sum(h.values())
        return {"stalled": stalled,
                "axi_latency": {"n": n, "min": min(h) if h else None, "max": max(h) if h else None,
                                "distinct": len(h), "mean": round(sum(k * v for k, v in h.items()) / n, 2) if n else None}}

    # ------------------------------------------------------------------ callback plumbing

    def _kick(self) -> None:
        """Hand what was just written to the RTL's side of the wrapper (see its "inputs of
        the RTL"): every write is followed by a kick in the same callback."""
        self._h_kick.set_signal_val_int(0, 1)

    def _fail(self, e: BaseException) -> None:
        if self.error is None:
            self.error = e
        self._live = False

    def _arm(self, ch: str) -> None:
        """Register the channel's value-change callback (one-shot: each callback re-arms)."""
        if self.armed.get(ch):
            return
        self.armed[ch] = True
        _sim.register_value_change_callback(self._cnt[ch].h, self._cb[ch], _sim.VALUE_CHANGE)

    def _next(self, ch: str) -> int:
        """The counter of `ch` stepped at this edge: its ring index (exactly one new transfer)."""
        n = self._cnt[ch].get()
        seen = self.seen[ch]
        if n != (seen + 1) & M32:
            raise DeviceError(f"{ch}: capture counter jumped from {seen} to {n} (a handshake was missed)")
        self.seen[ch] = n
        return seen

    def _ar_cb(self) -> None:
        """AR handshake at this edge: perform the read and book its R beat."""
        _sim.register_value_change_callback(self._h_ar_n, self._ar_cb, _sim.VALUE_CHANGE)
        if not self._live:
            return
        self.callbacks += 1
        try:
            n = self._h_ar_n.get_signal_val_long() & M32
            seen = self.seen["ar"]
            if n != (seen + 1) & M32:
                raise DeviceError(f"ar: capture counter jumped from {seen} to {n} (a handshake was missed)")
            self.seen["ar"] = n
            i = seen % CAP
            v = ((self._ar_c1[i].get_signal_val_long() & M32) << 32) | (self._ar_c0[i].get_signal_val_long() & M32)
            pb, ib = self.pa_bits, self.id_bits
            hi, lo = _sim.get_sim_time()
            self._request(False, (v >> pb) & ((1 << ib) - 1), v & ((1 << pb) - 1), (((hi << 32) | lo) - self.T0) // self.P,
                          lock=bool(v >> (pb + ib) & 1))
        except BaseException as e:  # noqa: BLE001 - reported by RtlDevice.run
            self._fail(e)

    def _aw_cb(self) -> None:
        """AW+W handshake at this edge: perform the write and book its B beat."""
        _sim.register_value_change_callback(self._h_aw_n, self._aw_cb, _sim.VALUE_CHANGE)
        if not self._live:
            return
        self.callbacks += 1
        try:
            n = self._h_aw_n.get_signal_val_long() & M32
            seen = self.seen["aw"]
            if n != (seen + 1) & M32:
                raise DeviceError(f"aw: capture counter jumped from {seen} to {n} (a handshake was missed)")
            self.seen["aw"] = n
            i = seen % CAP
            v = ((self._aw_c1[i].get_signal_val_long() & M32) << 32) | (self._aw_c0[i].get_signal_val_long() & M32)
            pb, ib = self.pa_bits, self.id_bits
            edge = self.time() // self.P
            if v >> (pb + ib + 8) & 1:
                raise DeviceError(f"AW and W handshakes apart (edge {edge}): the slave takes them together")
            data = ((self._aw_cd1[i].get_signal_val_long() & M32) << 32) | (self._aw_cd0[i].get_signal_val_long() & M32)
            self._request(True, (v >> pb) & ((1 << ib) - 1), v & ((1 << pb) - 1), edge, data,
                          (v >> (pb + ib)) & 0xFF, lock=bool(v >> (pb + ib + 9) & 1))
        except BaseException as e:  # noqa: BLE001
            self._fail(e)

    def _invc_cb(self) -> None:
        """Invalidate Completion handshake at this edge."""
        self.armed["invc"] = False
        self._arm("invc")
        if not self._live:
            return
        self.callbacks += 1
        try:
            i = self._next("invc") % CAP
            itag = self._invc_citag[i].get_signal_val_long()
            edge = self.time() // self.P
            for f in self.on_cpl:
                f(itag, edge)
        except BaseException as e:  # noqa: BLE001
            self._fail(e)

    def _inv_cb(self) -> None:
        """The wrapper's invalidation queue handed its head to the RTL at this edge."""
        self.armed["inv"] = False
        self._arm("inv")
        if not self._live:
            return
        self.callbacks += 1
        try:
            self._next("inv")
            rec = self.inv_sent.popleft()
            rec.edge = self.time() // self.P
            for f in self.on_inv:
                f(rec)
            if self.inv_q:  # room again in the wrapper's queue: the next one is presented this cycle
                self._push_inv()
        except BaseException as e:  # noqa: BLE001
            self._fail(e)

    def poll(self) -> None:
        """At a quiet point: hand every response captured since the last poll to `on_rsp`,
        in handshake order (raises DeviceError on a lost one)."""
        n = self._h_rsp_n.get_signal_val_long() & M32
        seen = self.seen["rsp"]
        if n == seen:
            return
        k = (n - seen) & M32
        if k > CAP:
            raise DeviceError(f"rsp: {k} responses since the last quiet point, more than the ring holds ({CAP})")
        tb = self.thread_bits
        tmask = (1 << tb) - 1
        meta, cyc, issue = self._rsp_cmeta, self._rsp_ccyc, self._rsp_cissue
        rd0, rd1, pa0, pa1 = self._rsp_crd0, self._rsp_crd1, self._rsp_cpa0, self._rsp_cpa1
        obs = self.on_rsp
        for j in range(k):
            i = (seen + j) % CAP
            m = meta[i].get_signal_val_long() & M32
            thread = m & tmask
            rdata = ((rd1[i].get_signal_val_long() & M32) << 32) | (rd0[i].get_signal_val_long() & M32)
            pa = ((pa1[i].get_signal_val_long() & M32) << 32) | (pa0[i].get_signal_val_long() & M32)
            fields = (thread, (m >> (tb + 4)) & 1, (m >> tb) & 0xF, rdata, pa, m >> (tb + 5))
            edge = cyc[i].get_signal_val_long() & M32
            iss = issue[i].get_signal_val_long() & M32
            self.seen["rsp"] = (seen + j + 1) & M32
            for f in obs:
                f(thread, fields, edge, iss)

    # ------------------------------------------------------------------ AXI requests

    def _request(self, write: bool, id_: int, addr: int, edge: int, data: int = 0, strb: int = 0xFF,
                 lock: bool = False) -> AxiAcc:
        """An AR or AW+W whose handshake is at `edge` (now).

        Memory is accessed right away and stamped edge-1, the cycle the
        request was VALID: the host's actions of that cycle (at its quiet
        point) are done, those of cycle `edge` are not yet. A request cannot
        be withdrawn once VALID is up, so this is a legal slave that reads
        or writes as soon as the request appears.
        """
        self._seq += 1
        cfg = self.cfg
        lo, hi = cfg.walk_latency if (cfg.walk_latency is not None and not id_ & 8) else cfg.latency
        lat = lo if lo == hi else self.rng.randint(lo, hi)
        tail = cfg.latency_tail
        if tail is not None and self.rng.random() < tail[0]:
            lat = max(lat, self.rng.randint(tail[1], tail[2]))  # the tail only ever lengthens
        if addr & 7:
            raise DeviceError(f"AXI {'AW' if write else 'AR'} address {addr:#x} not 8-byte aligned")
        acc = AxiAcc(write, id_, addr, edge, data, strb, False, edge + lat, edge - 1, None, self._seq, lock)
        self._perform(acc)
        return acc

    def _perform(self, acc: AxiAcc) -> None:
        be = self.cfg.bus_error
        if be is not None:
            acc.error = bool(be(acc.addr, "dma" if acc.id & 8 else "walk"))
        mem = self.mem
        if acc.write:
            self.log_writes += 1
            if acc.lock and not acc.error:  # exclusive write: performed only if the reservation holds
                acc.exok = mem.write_exclusive(acc.id, acc.addr, acc.data)
            elif not acc.error:
                if acc.strb == 0xFF:
                    mem.write64(acc.addr, acc.data)
                else:
                    raw = acc.data.to_bytes(8, "little")
                    for i in range(8):
                        if acc.strb >> i & 1:
                            mem.write(acc.addr + i, raw[i:i + 1])
        else:
            self.log_reads += 1
            acc.data = 0 if acc.error else mem.read_exclusive(acc.id, acc.addr) if acc.lock else mem.read64(acc.addr)
            acc.exok = acc.lock and not acc.error
        self.inflight[acc.seq] = acc
        for f in self.on_mem:
            f(acc)
        self._book(acc)

    def _book(self, acc: AxiAcc) -> None:
        """Book the cycle acc's R/B beat is presented in (handshake at the edge after it).

        At the earliest in the cycle before `due`; after the previous beat of
        the same ID (AXI per-ID order); after every earlier booking of the
        channel unless reordering is on; one beat per cycle.
        """
        is_b = acc.write
        ch = 1 if is_b else 0
        book = self._booked[ch]
        key = (is_b, acc.id)
        want = acc.due - 1
        if acc.accept + 1 > want:
            want = acc.accept + 1
        last = self._id_last.get(key, -1) + 1
        if last > want:
            want = last
        if not self.cfg.reorder and self._ch_last[ch] + 1 > want:
            want = self._ch_last[ch] + 1
        while want in book:
            want += 1
        now = acc.accept  # booked during the handshake edge's timestep
        until = self._slot_until[ch]
        for idx in range(SLOTS):
            if until[idx] < now:
                break
        else:
            raise DeviceError(f"all {SLOTS} AXI {'B' if is_b else 'R'} slots busy at cycle {now}")
        tp = self.cfg.tamper
        data = acc.data
        if tp is not None:
            src = "dma" if acc.id & 8 else "walk"
            if tp == "rdata" and not is_b and src == "dma":
                data ^= 1
            elif tp == "walk" and src == "walk":
                data ^= 1 << 13
            elif tp == "drop" and not is_b and src == "dma" and not self._dropped:
                self._dropped = True
                return  # never answered: stays in flight
        if len(book) > 4 * SLOTS:
            for c in [c for c in book if c < now]:
                del book[c]
        book[want] = idx
        until[idx] = want
        self._id_last[key] = want
        if want > self._ch_last[ch]:
            self._ch_last[ch] = want
        cyc, meta, d0, d1 = self.bs if is_b else self.rs
        meta.set(idx, (2 << 4 if acc.error else 1 << 4 if acc.exok else 0) | acc.id)
        if d0 is not None:
            d0.set(idx, data & M32)
            d1.set(idx, data >> 32)
        cyc.set(idx, want & M32)
        self._kick()
        acc.done = want + 1
        lat = acc.done - acc.accept
        self.lat_hist[lat] = self.lat_hist.get(lat, 0) + 1

    def busy(self) -> bool:
        """An AXI access is still waiting for its response."""
        now = self.cycle()
        for k in [k for k, a in self.inflight.items() if a.done is not None and a.done <= now]:
            del self.inflight[k]
        return bool(self.inflight)

    # ------------------------------------------------------------------ command / invalidation drivers

    def send_cmd(self, rec: CmdRec) -> None:
        """Queue a command in the wrapper (called at a quiet point, cycle c): it is
        presented from this cycle on, after the ones queued before it, and taken at
        the first edge its thread is ready (c+1 when nothing is ahead of it)."""
        w = self._cq_w
        if len(self.cmd_q) >= CMDQ:
            raise DeviceError(f"more than {CMDQ} commands queued or in flight")
        cmd = rec.cmd
        i = w % CMDQ
        meta, va0, va1, wd0, wd1 = self.cq
        meta.set(i, ((1 << (self.thread_bits + 20)) if cmd.write else 0) | (cmd.thread << 20) | cmd.pasid)
        va = cmd.va
        va0.set(i, va & M32)
        va1.set(i, va >> 32)
        if cmd.write:
            wd0.set(i, cmd.wdata & M32)
            wd1.set(i, cmd.wdata >> 32)
        rec.qidx = w
        self.cmd_q.append(rec)
        self._cq_w = w = (w + 1) & M32
        self._h_cq_wp.set_signal_val_int(0, w)
        self._kick()

    def cmd_done(self, rec: CmdRec) -> None:
        """Its response was read: the command left the queue long ago."""
        q = self.cmd_q
        if q and q[0] is rec:
            q.popleft()
        else:
            q.remove(rec)

    def issue_of(self, rec: CmdRec) -> int | None:
        """Handshake cycle of a command whose response has not come yet (None: still queued)."""
        taken = (self.cq_rp.get() - rec.qidx) & M32
        if taken == 0 or taken > CMDQ:
            return None
        return self.cq_issue[rec.cmd.thread].get()

    # ------------------------------------------------------------------ Page Requests

    def pri_enable(self, on: bool) -> None:
        """pri_en_i and pr_ready_i (the host takes every Page Request at once)."""
        d = self.dut
        self._pr = (_Sig(d, "pri_en_i"), _Sig(d, "pr_ready_i"), _Sig(d, "pr_n"), _Words(d, "pr_c0", CAP),
                    _Words(d, "pr_c1", CAP), _Words(d, "pr_c2", CAP), _Words(d, "pq_meta", PRQ), _Sig(d, "pq_wp"))
        self._pr_seen = self._pr[2].get()
        self._pq_w = self._pr[7].get()
        self._pr[0].set(int(on))
        self._pr[1].set(int(on))
        self._kick()

    def atc_wp_fault(self, on: bool) -> None:
        """atc_wp_fault_i (scenario `atc-write-upgrade fault`)."""
        _Sig(self.dut, "atc_wp_fault_i").set(int(on))
        self._kick()

    def pwc_keep_sup(self, on: bool) -> None:
        """pwc_keep_sup_i (scenario `pwc-supervisor keep`)."""
        _Sig(self.dut, "pwc_keep_sup_i").set(int(on))
        self._kick()

    def take_prs(self) -> list[tuple[int, int, int, bool, bool, bool]]:
        """Page Requests handshaken since the last call: (pasid, page address, PRG index, r, w, last)."""
        if not hasattr(self, "_pr"):
            return []
        _, _, n_sig, c0, c1, c2, _, _ = self._pr
        n = n_sig.get()
        k = (n - self._pr_seen) & M32
        if k > CAP:
            raise DeviceError(f"pr: {k} Page Requests since the last quiet point, more than the ring holds ({CAP})")
        out = []
        for j in range(k):
            i = (self._pr_seen + j) % CAP
            m = c0.get(i)
            addr = (c2.get(i) << 32) | c1.get(i)
            out.append((m >> 12, (addr << 12) & MASK64, m & 0x1FF, bool(m >> 10 & 1), bool(m >> 11 & 1),
                        bool(m >> 9 & 1)))
        self._pr_seen = n
        return out

    def send_prgr(self, prg_index: int, code: int) -> None:
        """Queue a PRG Response (at a quiet point): presented for one cycle, in order."""
        meta, wp = self._pr[6], self._pr[7]
        meta.set(self._pq_w % PRQ, ((code & 0xF) << 9) | (prg_index & 0x1FF))
        self._pq_w = (self._pq_w + 1) & M32
        wp.set(self._pq_w)
        self._kick()

    def send_inv(self, rec: InvRec) -> None:
        """Queue an Invalidate Request (called at a quiet point): presented from this
        cycle on, after the ones queued before it, taken when the RTL is ready."""
        self.inv_q.append(rec)
        self._push_inv()

    def _push_inv(self) -> None:
        meta, a0, a1 = self.iq
        pb = self.itag_bits
        while self.inv_q and len(self.inv_sent) < INVQ:
            rec = self.inv_q.popleft()
            r = rec.req
            i = self._iq_w % INVQ
            meta.set(i, (int(r.global_) << (pb + 22)) | (int(r.s) << (pb + 21))
                     | (int(r.pasid is not None) << (pb + 20)) | ((r.pasid or 0) << pb) | r.itag)
            a0.set(i, r.addr & M32)
            a1.set(i, r.addr >> 32)
            self.inv_sent.append(rec)
            self._iq_w = (self._iq_w + 1) & M32
            self.iq_wp.set(self._iq_w)
            self._kick()

    def state(self) -> str:
        lines = [f"cycle {self.cycle()} (live={self._live})"]
        if self.cmd_q:
            lines.append(f"  commands queued or in flight {len(self.cmd_q)} (wrapper queue: written "
                         f"{self._cq_w}, taken {self.cq_rp.get()})")
        if self.inv_q or self.inv_sent:
            lines.append(f"  Invalidate Requests not yet taken: {len(self.inv_sent)} in the wrapper, "
                         f"{len(self.inv_q)} waiting for room (inv_ready_o={self.inv_ready.get()})")
        for a in self.inflight.values():
            lines.append(f"  AXI in flight: {'W' if a.write else 'R'} id={a.id:#x} pa={a.addr:#x} "
                         f"accept={a.accept} due={a.due}")
        booked = sorted(c for c in self._booked[0]) + sorted(c for c in self._booked[1])
        lines.append(f"  AXI beats booked for cycles: {booked[-8:]}")
        return "\n".join(lines)


# --------------------------------------------------------------------------- the Device


class _RawWait:
    """What RtlDevice.run yields under RtlDevice.drive: wake me at qp(end)."""

    __slots__ = ("end",)

    def __init__(self, end: int) -> None:
        self.end = end

    def __await__(self):
        yield self


class RtlDevice:
    """`model.device.Device` over `Ports` (see the module docstring for the timing).

    Exposes `mem`, `pasid_tbl_base` and `trace` so `run_scenario` uses them
    (the host model is built on this very memory and trace). Trace events
    (`MemAccess`, `DevAccess`, `InvReq`, `InvCpl`) go through `emit`, which
    by default appends to the trace; the pyuvm environment points it at its
    monitors' analysis ports instead.
    """

    def __init__(self, ports: Ports, mem: PhysMem, pasid_tbl_base: int, trace: Trace | None = None,
                 *, num_threads: int | None = None, repro: str = "") -> None:
        self.ports = ports
        self.mem = mem
        self.pasid_tbl_base = pasid_tbl_base
        self.pwc_keep_sup = False  # pwc_keep_sup_i as last set (the scoreboard's golden walk follows it)
        self.trace = trace if trace is not None else Trace()
        self.num_threads = num_threads or ports.cfg.num_threads
        if self.num_threads > 1 << ports.thread_bits:  # the RTL was built with fewer (NumThreads)
            raise ValueError(f"{self.num_threads} threads, but the RTL's thread ids have {ports.thread_bits} "
                             f"bit(s): build it with NumThreads >= {self.num_threads} (COSIM_PARAMS)")
        self.repro = repro
        self.epoch = 0
        self._abs = 0  # absolute cycle of `now`
        self.now = 0  # current cycle of this run (Device protocol); = _abs - epoch
        self._uid = 0
        self._busy: list[CmdRec | None] = [None] * self.num_threads
        self._nbusy = 0  # threads with a command
        self._wd_at = INF  # no watchdog can fire at or before this absolute cycle (see _watchdog)
        self._pend: list[tuple[int, int, Any]] = []  # (phys steps, seq, item) heap, not yet visible
        self._pseq = 0
        self._responses: list[DevResponse] = []
        self._completions: list[int] = []
        self._itags: dict[int, InvRec] = {}
        self.inv_log: list[InvRec] = []
        self.emit: Callable[[Any], None] = self.trace.add
        self.pre_run: list[Callable[["RtlDevice"], None]] = []  # before time advances (host state final)
        self.on_submit: list[Callable[[CmdRec], None]] = []
        self.on_response: list[Callable[[CmdRec], None]] = []
        self.stats: dict[str, int] = {"commands": 0, "responses": 0, "hits": 0, "faults": 0, "invalidations": 0,
                                      "completions": 0, "mem_reads": 0, "mem_writes": 0, "walk_reads": 0}
        self._bound = False
        self._raw = False

    async def drive(self, coro: Any) -> Any:
        """Run `coro` (a coroutine that awaits nothing but this device's run())
        from raw timed callbacks instead of cocotb's scheduler.

        Each `await device.run(n)` then costs one GPI timed callback, not a
        cocotb Timer plus a task switch (about 16 us less per step). Returns
        the coroutine's value or raises its exception.
        """
        import cocotb._event_loop as event_loop
        from cocotb.triggers import Event

        p = self.ports
        done = Event()
        box: dict[str, Any] = {}
        first = [True]

        def finish() -> None:
            done.set()
            if not first[0]:
                event_loop._inst.run()  # wake the waiting cocotb task now, as a GPI trigger would

        def step(*_: Any) -> None:
            try:
                req = coro.send(None)
            except StopIteration as e:
                box["value"] = e.value
                finish()
                return
            except BaseException as e:  # noqa: BLE001
                box["error"] = e
                finish()
                return
            if not isinstance(req, _RawWait):
                coro.close()
                box["error"] = RuntimeError(f"RtlDevice.drive: the coroutine awaited {req!r}, not device.run()")
                finish()
                return
            dt = req.end * p.P + p.Q - p.time()
            if dt <= 0:
                coro.close()
                box["error"] = DeviceError(f"RtlDevice.drive: wake at cycle {req.end} is in the past")
                finish()
                return
            _sim.register_timed_callback(dt, step)

        self._raw = True
        try:
            step()
            first[0] = False
            if not done.is_set():
                await done.wait()
        finally:
            self._raw = False
        if "error" in box:
            raise box["error"]
        return box.get("value")

    # ------------------------------------------------------------------ lifecycle

    async def begin(self, reset: bool = True) -> None:
        """Reset the RTL and start this device's clock at 0 (call before run_scenario)."""
        p = self.ports
        p.mem = self.mem
        if reset:
            k = await p.reset(self.pasid_tbl_base)
        else:
            k = p.cycle()
            await p.to_qp(k + 1)
            k += 1
        self.epoch = k
        self._abs = k
        self.now = 0
        p.on_mem[:] = [self._on_mem]
        p.on_rsp[:] = [self._on_rsp]
        p.on_cpl[:] = [self._on_cpl]
        p.on_inv[:] = [self._on_inv]
        self._bound = True

    def t(self, abs_cycle: int) -> int:
        return abs_cycle - self.epoch

    # ------------------------------------------------------------------ Device protocol

    def thread_idle(self, thread: int) -> bool:
        if not 0 <= thread < self.num_threads:
            raise IndexError(f"thread {thread} outside 0..{self.num_threads - 1}")
        return self._busy[thread] is None

    def submit(self, cmd: DevCommand) -> None:
        if not self._bound:
            raise RuntimeError("RtlDevice.begin() was not awaited")
        if not 0 <= cmd.thread < self.num_threads:
            raise ValueError(f"thread {cmd.thread} outside 0..{self.num_threads - 1}")
        if self._busy[cmd.thread] is not None:
            raise RuntimeError(f"thread {cmd.thread} is busy")
        if not (0 <= cmd.va <= MASK64 and 0 <= cmd.wdata <= MASK64 and 0 <= cmd.pasid < (1 << 20)):
            raise ValueError(f"command field out of range: {cmd}")
        self._uid += 1
        rec = CmdRec(cmd, self._uid, self._abs)
        self._busy[cmd.thread] = rec
        self._nbusy += 1
        deadline = self._abs + self.ports.cfg.cmd_timeout
        if deadline < self._wd_at:
            self._wd_at = deadline
        self.stats["commands"] += 1
        for f in self.on_submit:
            f(rec)
        self.ports.send_cmd(rec)

    def invalidate(self, req: InvalidateRequest) -> None:
        if req.itag in self._itags:
            # The protocol checker reports ITag reuse from the trace; the port still sends it.
            pass
        rec = InvRec(req, self._abs)
        deadline = self._abs + self.ports.cfg.inv_timeout
        if deadline < self._wd_at:
            self._wd_at = deadline
        self._itags[req.itag] = rec
        self.inv_log.append(rec)
        self.stats["invalidations"] += 1
        self.ports.send_inv(rec)

    async def run(self, cycles: int) -> None:
        if cycles < 0:
            raise ValueError("cycles must be >= 0")
        for f in self.pre_run:
            f(self)
        p = self.ports
        if p.error is not None:
            self._raise(p.error)
        if cycles:
            end = self._abs + cycles
            if self._raw:
                await _RawWait(end)
            else:
                await p.to_qp(end)
            self._abs = end
            self.now = end - self.epoch
        if p.error is not None:
            self._raise(p.error)
        try:
            p.poll()
        except DeviceError as e:
            self._raise(e)
        self._collect()
        if self._abs > self._wd_at:
            self._watchdog()

    def take_responses(self) -> list[DevResponse]:
        out, self._responses = self._responses, []
        return out

    def take_completions(self) -> list[int]:
        out, self._completions = self._completions, []
        return out

    # ------------------------------------------------------------------ Page Requests (PCIe PRI)

    def enable_pri(self, on: bool = True) -> None:
        """Send Page Requests on translation faults (pri_en_i); the host answers with prg_response."""
        self.ports.pri_enable(on)

    def set_atc_write_fault(self, on: bool) -> None:
        """atc_wp_fault_i: a write on a read-only ATC entry faults WRITE_PROTECT instead of walking."""
        self.ports.atc_wp_fault(on)

    def set_pwc_keep_supervisor(self, on: bool) -> None:
        """pwc_keep_sup_i: the walker caches U/S-clear non-leaf entries and decides U/S at the leaf."""
        self.pwc_keep_sup = on
        self.ports.pwc_keep_sup(on)

    def take_page_requests(self) -> list[PageRequest]:
        return [PageRequest(pasid=pasid, va=va, r=r, w=w, prg_index=prgi, last=last)
                for pasid, va, prgi, r, w, last in self.ports.take_prs()]

    def prg_response(self, prg_index: int, code: int) -> None:
        self.ports.send_prgr(prg_index, code)

    # ------------------------------------------------------------------ extras

    @property
    def idle(self) -> bool:
        p = self.ports
        return all(b is None for b in self._busy) and not self._itags and not self._pend and not p.busy()

    async def run_until_idle(self, limit: int = 100_000, step: int = 16) -> None:
        stop = self._abs + limit
        while not self.idle:
            if self._abs >= stop:
                raise DeviceError(f"device did not go idle within {limit} cycles\n{self.describe()}")
            await self.run(step)

    def describe(self) -> str:
        lines = [f"device now {self.now} (absolute cycle {self._abs}, epoch {self.epoch})"]
        for t, b in enumerate(self._busy):
            if b is not None:
                edge = b.edge if b.edge is not None else self.ports.issue_of(b)
                issued = "not yet issued" if edge is None else f"issued t={self.t(edge)}"
                lines.append(f"  thread {t} busy since t={self.t(b.submitted)} ({issued}): {b.cmd}")
        for itag, r in sorted(self._itags.items()):
            lines.append(f"  ITag {itag} outstanding since t={self.t(r.submitted)}: {r.req}")
        lines.append(self.ports.state())
        if self.repro:
            lines.append(f"replay: {self.repro}")
        return "\n".join(lines)

    def _raise(self, e: BaseException) -> None:
        if isinstance(e, DeviceError):
            raise DeviceError(f"{e}\n{self.describe()}") from e
        raise DeviceError(f"port callback failed: {e!r}\n{''.join(traceback.format_exception(e))}"
                          f"{self.describe()}") from e

    def _watchdog(self) -> None:
        """Fail a command or an Invalidate Request outstanding longer than its timeout.

        run() calls this only once time has passed `_wd_at`, the earliest deadline
        of what was outstanding when it last looked (submit / invalidate lower it)."""
        cfg = self.ports.cfg
        nxt = INF
        for b in self._busy:
            if b is not None:
                if self._abs - b.submitted > cfg.cmd_timeout:
                    raise DeviceError(f"watchdog: command {b.cmd} unanswered for {cfg.cmd_timeout} cycles\n"
                                      f"{self.describe()}")
                nxt = min(nxt, b.submitted + cfg.cmd_timeout)
        for r in self._itags.values():
            if self._abs - r.submitted > cfg.inv_timeout:
                raise DeviceError(f"watchdog: Invalidate Request {r.req} not completed after "
                                  f"{cfg.inv_timeout} cycles\n{self.describe()}")
            nxt = min(nxt, r.submitted + cfg.inv_timeout)
        self._wd_at = nxt

    # ------------------------------------------------------------------ monitors

    def _later(self, edge: int, item: Any, mid: bool = False) -> None:
        """Make `item` visible once the handshake at absolute edge `edge` (or, with
        `mid`, the memory access at h(edge)) has happened."""
        self._pseq += 1
        p = self.ports
        heapq.heappush(self._pend, (edge * p.P + (p.H if mid else 0), self._pseq, item))

    def _first_at(self, edge: int, item: Any) -> None:
        """Like _later, but ahead of every other item of the same edge."""
        self._pseq += 1
        heapq.heappush(self._pend, (edge * self.ports.P, -self._pseq, item))

    def _collect(self) -> None:
        pend = self._pend
        if not pend:
            return
        limit = self._abs * self.ports.P + self.ports.Q
        if pend[0][0] > limit:
            return
        emit = self.emit
        pop = heapq.heappop
        while pend and pend[0][0] <= limit:
            item = pop(pend)[2]
            kind = type(item)
            if kind is CmdRec:
                rsp = item.rsp
                c = item.cmd
                self._busy[c.thread] = None
                self._nbusy -= 1
                self.ports.cmd_done(item)
                self._responses.append(rsp)
                emit(DevAccess(c.thread, c.write, c.pasid, c.va, rsp.pa, c.wdata if c.write else rsp.rdata,
                               rsp.issue, rsp.complete, rsp.fault, rsp.atc_hit, rsp.mem_time))
                for f in self.on_response:
                    f(item)
            elif kind is InvCpl:
                self._completions.append(item.itag)
                emit(item)
            else:
                emit(item)

    def _on_mem(self, acc: AxiAcc) -> None:
        st = self.stats
        tag = acc.id & 7
        if acc.id & 8:
            source = "dma"
            rec = self._busy[tag] if tag < self.num_threads else None
            if rec is None or rec.rsp is not None:
                raise DeviceError(f"DMA access for thread {tag} with no command in flight: pa {acc.addr:#x}")
            if rec.mem is not None:
                raise DeviceError(f"second DMA access for one command on thread {tag}: pa {acc.addr:#x}")
            rec.mem = acc
            st["mem_writes" if acc.write else "mem_reads"] += 1
        else:
            source = "walk"
            st["walk_reads"] += 1
        # performed now (h(accept)): visible to the trace right away, stamped with its cycle
        self._pseq += 1
        p = self.ports
        heapq.heappush(self._pend, (acc.perform * p.P + p.H, self._pseq,
                                    MemAccess(acc.perform - self.epoch, source, acc.addr, acc.write, acc.data, tag,
                                              acc.error)))

    def _on_rsp(self, thread: int, f: tuple, edge: int, issue: int) -> None:
        _, fault_bit, cause, rdata, pa, hit = f
        rec = self._busy[thread] if thread < self.num_threads else None
        if rec is None or rec.rsp is not None or not rec.submitted < issue < edge:
            raise DeviceError(f"response at edge {edge} for thread {thread} with no command outstanding"
                              + (f" (its command was submitted at {rec.submitted}, last taken at {issue})"
                                 if rec is not None and rec.rsp is None else ""))
        if bool(fault_bit) != (cause != 0):
            raise DeviceError(f"response thread {thread}: rsp_fault_o={fault_bit} but cause {cause}")
        rec.edge = issue
        m = rec.mem
        ep = self.epoch
        rsp = DevResponse(thread, cause, rdata, pa, bool(hit), issue - ep, edge - ep,
                          m.perform - ep if m is not None else None)
        rec.rsp = rsp
        st = self.stats
        st["responses"] += 1
        st["hits"] += bool(hit)
        st["faults"] += bool(cause)
        self._later(edge, rec)

    def _on_cpl(self, itag: int, edge: int) -> None:
        rec = self._itags.pop(itag, None)
        if rec is not None:
            rec.complete = edge
        self.stats["completions"] += 1
        # a completion for an unknown ITag is still recorded: the protocol checker names it
        self._later(edge, InvCpl(time=self.t(edge), itag=itag))

    def _on_inv(self, rec: InvRec) -> None:
        r = rec.req
        start, size = inv_range(r.addr, r.s)
        self._first_at(rec.edge, InvReq(time=self.t(rec.edge), itag=r.itag,
                                        pasid=None if r.all_pasids else r.pasid, start=start, size=size))


# --------------------------------------------------------------------------- build and launch


LEAN_VLT = """`verilator_config
// Only what the co-simulation touches is VPI-visible (an all-public model,
// --public-flat-rw, is slower). Writable: the wrapper's input ports, the AXI
// response slots, the command / invalidation queues and py_kick; the RTL sees
// copies of them taken on py_kick (k_*, not VPI-visible), so no externally
// written variable reaches the RTL's combinational logic (which Verilator
// would otherwise re-evaluate on every evaluation). Readable: handshake
// counters, capture rings and the few outputs the ports check at start-up.
public_flat_rw -module "cosim_top" -var "rst_ni"
public_flat_rw -module "cosim_top" -var "pasid_tbl_base_i"
public_flat_rw -module "cosim_top" -var "rsp_ready_i"
public_flat_rw -module "cosim_top" -var "invc_ready_i"
public_flat_rw -module "cosim_top" -var "m_axi_arready"
public_flat_rw -module "cosim_top" -var "m_axi_awready"
public_flat_rw -module "cosim_top" -var "m_axi_wready"
public_flat_rw -module "cosim_top" -var "rs_*"
public_flat_rw -module "cosim_top" -var "bs_*"
public_flat_rw -module "cosim_top" -var "cq_wp"
public_flat_rw -module "cosim_top" -var "cq_meta"
public_flat_rw -module "cosim_top" -var "cq_va*"
public_flat_rw -module "cosim_top" -var "cq_wd*"
public_flat_rw -module "cosim_top" -var "iq_wp"
public_flat_rw -module "cosim_top" -var "iq_meta"
public_flat_rw -module "cosim_top" -var "iq_a*"
public_flat_rw -module "cosim_top" -var "py_kick"
public_flat_rw -module "cosim_top" -var "bp_cfg"
public_flat_rw -module "cosim_top" -var "bp_seed"
public_flat_rw -module "cosim_top" -var "bp_hold"
public_flat_rd -module "cosim_top" -var "bp_sn"
public_flat_rd -module "cosim_top" -var "cq_rp"
public_flat_rd -module "cosim_top" -var "cq_issue"
public_flat_rd -module "cosim_top" -var "iq_rp"
public_flat_rd -module "cosim_top" -var "*_n"
public_flat_rd -module "cosim_top" -var "ar_c*"
public_flat_rd -module "cosim_top" -var "aw_c*"
public_flat_rd -module "cosim_top" -var "rsp_c*"
public_flat_rd -module "cosim_top" -var "invc_c*"
public_flat_rd -module "cosim_top" -var "*_o"
public_flat_rd -module "cosim_top" -var "m_axi_arid"
public_flat_rd -module "cosim_top" -var "m_axi_araddr"
public_flat_rd -module "cosim_top" -var "m_axi_arlen"
public_flat_rd -module "cosim_top" -var "m_axi_arsize"
public_flat_rd -module "cosim_top" -var "m_axi_awlen"
public_flat_rd -module "cosim_top" -var "m_axi_awsize"
public_flat_rd -module "cosim_top" -var "m_axi_wlast"
public_flat_rd -module "cosim_top" -var "m_axi_rready"
public_flat_rd -module "cosim_top" -var "m_axi_bready"
public_flat_rd -module "cosim_top" -var "cyc_q"
public_flat_rw -module "cosim_top" -var "pri_en_i"
public_flat_rw -module "cosim_top" -var "atc_wp_fault_i"
public_flat_rw -module "cosim_top" -var "pwc_keep_sup_i"
public_flat_rw -module "cosim_top" -var "pr_ready_i"
public_flat_rw -module "cosim_top" -var "pq_wp"
public_flat_rw -module "cosim_top" -var "pq_meta"
public_flat_rd -module "cosim_top" -var "pr_c*"
"""

WRAP_TOP = "cosim_top"


SLOTS = 16  # AXI response slots per channel in the wrapper

_SLOT_HDL = """
  // ---- AXI R and B beats, booked by the co-simulation's slave (tb/rtldev.py, Ports._book).
  // The slave reads or writes the host memory itself when a request shows up and
  // books the cycle its response is presented in; a booked beat is on R (or B) for
  // exactly that cycle, so it needs no Python wake to be raised or dropped.
  // Only the co-simulation writes rs_* / bs_*; cyc_q is the rising-edge count. The
  // clock's first rise is at time 0 and counts too, so at edge k the NBA reads cyc_q = k
  // and during cycle k (after edge k) cyc_q = k + 1.
  localparam int unsigned Slots = {slots};
  logic [31:0] cyc_q;
  initial cyc_q = '0;
  always @(posedge clk_i) cyc_q <= cyc_q + 32'd1;

  // Fields wider than 32 bits are split into 32-bit words (<name>0 = bits 31:0,
  // <name>1 = the rest): the GPI moves a 32-bit integer several times faster than
  // a binary string. This holds for the queues and capture rings below too.
  // (k_<name>: the copy the RTL's side reads, see "inputs of the RTL")
  logic [31:0] rs_cyc  [Slots], k_rs_cyc  [Slots];
  logic [5:0]  rs_meta [Slots], k_rs_meta [Slots];  // {{resp, id}}
  logic [31:0] rs_d0   [Slots], k_rs_d0   [Slots];
  logic [31:0] rs_d1   [Slots], k_rs_d1   [Slots];
  logic [31:0] bs_cyc  [Slots], k_bs_cyc  [Slots];
  logic [5:0]  bs_meta [Slots], k_bs_meta [Slots];  // {{resp, id}}
  initial begin
    for (int i = 0; i < Slots; i++) begin
      rs_cyc[i] = '1;
      bs_cyc[i] = '1;
      k_rs_cyc[i] = '1;
      k_bs_cyc[i] = '1;
    end
  end

  logic                         m_axi_rvalid, m_axi_rlast, m_axi_bvalid;
  logic [ats_pkg::AxiIdW-1:0]   m_axi_rid, m_axi_bid;
  logic [63:0]                  m_axi_rdata;
  logic [1:0]                   m_axi_rresp, m_axi_bresp;
  assign m_axi_rlast = 1'b1;

  always_comb begin
    m_axi_rvalid = 1'b0;
    m_axi_rid    = '0;
    m_axi_rdata  = '0;
    m_axi_rresp  = '0;
    for (int i = 0; i < Slots; i++) begin
      if (k_rs_cyc[i] == cyc_q) begin
        m_axi_rvalid = 1'b1;
        {{m_axi_rresp, m_axi_rid}} = k_rs_meta[i];
        m_axi_rdata  = {{k_rs_d1[i], k_rs_d0[i]}};
      end
    end
  end

  always_comb begin
    m_axi_bvalid = 1'b0;
    m_axi_bid    = '0;
    m_axi_bresp  = '0;
    for (int i = 0; i < Slots; i++) begin
      if (k_bs_cyc[i] == cyc_q) begin
        m_axi_bvalid = 1'b1;
        {{m_axi_bresp, m_axi_bid}} = k_bs_meta[i];
      end
    end
  end
"""

_BP_HDL = """
  // ---- back-pressure (tb/rtldev.py, CosimConfig.stall / ar_hold), seeded so a run
  // replays. Per port p (0 ar, 1 aw+w, 2 rsp, 3 invc, 4 cmd, 5 inv) an xorshift32
  // generator, reloaded from bp_seed while reset is low, starts a refusal stretch of
  // 1 + (x[15:8] & mask) cycles with probability thr/256 per cycle
  // (bp_cfg[p] = {mask, thr}). READY ports are held low during a stretch; the command
  // and Invalidate Request queues do not present a new head during one (a VALID already
  // up is held until its handshake). bp_hold = {thread mask, cycles}: a DMA read (ARID
  // {1, thread}) of a thread in the mask waits that many cycles after it first raises
  // ARVALID. bp_sn[p] counts the cycles port p refused (reset with the RTL).
  localparam int unsigned BpN = 6;
  logic [15:0] bp_cfg [BpN], k_bp_cfg [BpN];
  logic [31:0] bp_seed, k_bp_seed, bp_hold, k_bp_hold;
  logic [31:0] bp_x_q [BpN];
  logic [8:0]  bp_n_q [BpN];
  logic [31:0] bp_sn [BpN];
  logic [BpN-1:0] bp_stall;
  logic [15:0] arh_n_q;
  logic        arh_started_q;
  initial begin
    for (int p = 0; p < BpN; p++) begin
      bp_cfg[p] = '0;
      k_bp_cfg[p] = '0;
      bp_n_q[p] = '0;
      bp_sn[p] = '0;
      bp_x_q[p] = 32'h1;
    end
    bp_seed = '0;
    k_bp_seed = '0;
    bp_hold = '0;
    k_bp_hold = '0;
    arh_n_q = '0;
    arh_started_q = 1'b0;
  end
  always_comb begin
    for (int p = 0; p < BpN; p++) bp_stall[p] = bp_n_q[p] != '0;
  end
  wire arh_new = m_axi_arvalid && m_axi_arid[ats_pkg::AxiIdW-1] && !arh_started_q &&
                 k_bp_hold[15:0] != '0 && k_bp_hold[16 + 32'(m_axi_arid[2:0])];
  wire arh_hold = arh_new || arh_n_q != '0;
  wire e_m_axi_arready = k_m_axi_arready && !bp_stall[0] && !arh_hold;
  wire e_m_axi_awready = k_m_axi_awready && !bp_stall[1];
  wire e_m_axi_wready  = k_m_axi_wready && !bp_stall[1];
  wire e_rsp_ready_i   = k_rsp_ready_i && !bp_stall[2];
  wire e_invc_ready_i  = k_invc_ready_i && !bp_stall[3];
  always @(posedge clk_i) begin
    if (!k_rst_ni) begin
      for (int p = 0; p < BpN; p++) begin
        bp_x_q[p] <= (k_bp_seed ^ (32'h9e3779b9 * 32'(p + 1))) | 32'h1;
        bp_n_q[p] <= '0;
      end
      arh_n_q <= '0;
      arh_started_q <= 1'b0;
    end else begin
      for (int p = 0; p < BpN; p++) begin
        if (k_bp_cfg[p][7:0] != '0) begin
          logic [31:0] x;
          x = bp_x_q[p];
          x = x ^ (x << 13);
          x = x ^ (x >> 17);
          x = x ^ (x << 5);
          bp_x_q[p] <= x;
          if (bp_n_q[p] != '0) bp_n_q[p] <= bp_n_q[p] - 9'd1;
          else if (x[7:0] < k_bp_cfg[p][7:0]) bp_n_q[p] <= 9'd1 + 9'(x[15:8] & k_bp_cfg[p][15:8]);
        end
      end
      if (arh_new) begin
        arh_started_q <= 1'b1;
        arh_n_q <= k_bp_hold[15:0] - 16'd1;
      end else if (arh_n_q != '0) begin
        arh_n_q <= arh_n_q - 16'd1;
      end
      if (m_axi_arvalid && e_m_axi_arready) arh_started_q <= 1'b0;
    end
  end
"""

_CAP_HDL = """
  // ---- handshake capture for the co-simulation's monitors (tb/rtldev.py).
  // At every AR, AW+W, response and completion handshake the payload is stored
  // in a ring of Cap entries and the channel's counter steps. A value-change
  // callback on ar_n / aw_n / invc_n wakes Python once per such transfer, at
  // its handshake edge, with the payload still there to read (Ports._ar_cb,
  // _aw_cb, _invc_cb). Responses wake nobody: the device binding reads rsp_n
  // and the ring at its next quiet point (Ports.poll); each entry carries its
  // handshake cycle and the cycle its command was taken. At most one response
  // per device thread can arrive between two quiet points (a thread gets its
  // next command only after its response was read), so the ring cannot wrap.
  localparam int unsigned Cap = {cap};
  logic [31:0] ar_n, aw_n, rsp_n, invc_n;
  logic        aw_w_apart;  // sticky: an AW handshake without its W in the same cycle (or the reverse)
  initial begin
    ar_n = '0;
    aw_n = '0;
    rsp_n = '0;
    invc_n = '0;
    aw_w_apart = 1'b0;
  end
  // (64-bit captures in two 32-bit words, 0 = low)
  logic [31:0]               ar_c0      [Cap];  // {{lock, id, addr}}
  logic [31:0]               ar_c1      [Cap];
  logic [31:0]               aw_c0      [Cap];  // {{lock, AW/W apart so far, strb, id, addr}}
  logic [31:0]               aw_c1      [Cap];
  logic [31:0]               aw_cd0     [Cap];  // write data
  logic [31:0]               aw_cd1     [Cap];
  logic [ThreadW+5:0]        rsp_cmeta  [Cap];  // {{atc hit, fault, cause, thread}}
  logic [31:0]               rsp_crd0   [Cap];  // read data
  logic [31:0]               rsp_crd1   [Cap];
  logic [31:0]               rsp_cpa0   [Cap];  // PA
  logic [31:0]               rsp_cpa1   [Cap];
  logic [31:0]               rsp_ccyc   [Cap];  // handshake cycle
  logic [31:0]               rsp_cissue [Cap];  // cycle its command was taken
  logic [ats_pkg::ItagW-1:0] invc_citag [Cap];

  wire aw_fire = m_axi_awvalid && e_m_axi_awready;
  wire w_fire  = m_axi_wvalid && e_m_axi_wready;
  always @(posedge clk_i) begin
    if (!k_rst_ni) begin
      for (int p = 0; p < BpN; p++) bp_sn[p] <= '0;
    end else begin
      if (m_axi_arvalid && !e_m_axi_arready) bp_sn[0] <= bp_sn[0] + 32'd1;
      if (m_axi_awvalid && !e_m_axi_awready) bp_sn[1] <= bp_sn[1] + 32'd1;
      if (rsp_valid_o && !e_rsp_ready_i) bp_sn[2] <= bp_sn[2] + 32'd1;
      if (invc_valid_o && !e_invc_ready_i) bp_sn[3] <= bp_sn[3] + 32'd1;
      if (cq_rp != k_cq_wp && !cmd_valid_i) bp_sn[4] <= bp_sn[4] + 32'd1;
      if (iq_rp != k_iq_wp && !inv_valid_i) bp_sn[5] <= bp_sn[5] + 32'd1;
    end
    if (m_axi_arvalid && e_m_axi_arready) begin
      {{ar_c1[ar_n[$clog2(Cap)-1:0]], ar_c0[ar_n[$clog2(Cap)-1:0]]}} <= 64'({{m_axi_arlock, m_axi_arid, m_axi_araddr}});
      ar_n <= ar_n + 32'd1;
    end
    if (aw_fire) begin
      {{aw_c1[aw_n[$clog2(Cap)-1:0]], aw_c0[aw_n[$clog2(Cap)-1:0]]}}
          <= 64'({{m_axi_awlock, aw_w_apart || !w_fire, m_axi_wstrb, m_axi_awid, m_axi_awaddr}});
      {{aw_cd1[aw_n[$clog2(Cap)-1:0]], aw_cd0[aw_n[$clog2(Cap)-1:0]]}} <= m_axi_wdata;
      aw_n <= aw_n + 32'd1;
    end
    if (aw_fire != w_fire) aw_w_apart <= 1'b1;
    if (rsp_valid_o && e_rsp_ready_i) begin
      rsp_cmeta[rsp_n[$clog2(Cap)-1:0]]  <= {{rsp_atc_hit_o, rsp_fault_o, rsp_cause_o, rsp_thread_o}};
      {{rsp_crd1[rsp_n[$clog2(Cap)-1:0]], rsp_crd0[rsp_n[$clog2(Cap)-1:0]]}} <= rsp_rdata_o;
      {{rsp_cpa1[rsp_n[$clog2(Cap)-1:0]], rsp_cpa0[rsp_n[$clog2(Cap)-1:0]]}} <= 64'(rsp_pa_o);
      rsp_ccyc[rsp_n[$clog2(Cap)-1:0]]   <= cyc_q;  // = k at edge k (see cyc_q)
      rsp_cissue[rsp_n[$clog2(Cap)-1:0]] <= cq_issue[rsp_thread_o];
      rsp_n <= rsp_n + 32'd1;
    end
    if (invc_valid_o && e_invc_ready_i) begin
      invc_citag[invc_n[$clog2(Cap)-1:0]] <= invc_itag_o;
      invc_n <= invc_n + 32'd1;
    end
  end
"""
CAP = 16

_QUEUE_HDL = """
  // ---- command and Invalidate Request queues, filled by the co-simulation
  // (tb/rtldev.py, Ports.send_cmd / send_inv). Python writes an entry, then
  // steps the write pointer (cq_wp, iq_wp), at a quiet point; the queue
  // presents its head on the RTL's port until the handshake, one entry per
  // cycle, in order, so raising, replacing and dropping VALID costs no Python
  // wake. cq_rp / iq_rp count the handshakes (a value-change callback on iq_rp
  // stamps each Invalidate Request with its handshake cycle). Reset empties
  // both queues.
  localparam int unsigned CmdQ = {cmdq};
  localparam int unsigned InvQ = {invq};
  logic [31:0] cq_wp, k_cq_wp, cq_rp, iq_wp, k_iq_wp, iq_rp;
  initial begin
    cq_wp = '0;
    k_cq_wp = '0;
    cq_rp = '0;
    iq_wp = '0;
    k_iq_wp = '0;
    iq_rp = '0;
  end
  logic [ThreadW+ats_pkg::PasidW:0]          cq_meta [CmdQ], k_cq_meta [CmdQ];  // {{write, thread, pasid}}
  logic [31:0]                               cq_va0  [CmdQ], k_cq_va0  [CmdQ];
  logic [31:0]                               cq_va1  [CmdQ], k_cq_va1  [CmdQ];
  logic [31:0]                               cq_wd0  [CmdQ], k_cq_wd0  [CmdQ];
  logic [31:0]                               cq_wd1  [CmdQ], k_cq_wd1  [CmdQ];
  logic [31:0]                               cq_issue [NumThreads];  // cycle each thread's last command was taken
  logic [ats_pkg::ItagW+ats_pkg::PasidW+2:0] iq_meta [InvQ], k_iq_meta [InvQ];  // {{global, s, pasid valid, pasid, itag}}
  logic [31:0]                               iq_a0   [InvQ], k_iq_a0   [InvQ];  // address bits [63:12], split
  logic [19:0]                               iq_a1   [InvQ], k_iq_a1   [InvQ];
  // the RTL's command and Invalidate Request inputs: the queues' heads
{decls}
  wire [$clog2(CmdQ)-1:0] cq_head = cq_rp[$clog2(CmdQ)-1:0];
  wire [$clog2(InvQ)-1:0] iq_head = iq_rp[$clog2(InvQ)-1:0];
  logic cmd_shown_q, inv_shown_q;  // VALID was up without a handshake: hold it (back-pressure)
  initial begin
    cmd_shown_q = 1'b0;
    inv_shown_q = 1'b0;
  end
  always_comb begin
    cmd_valid_i = cq_rp != k_cq_wp && (cmd_shown_q || !bp_stall[4]);
    {{cmd_write_i, cmd_thread_i, cmd_pasid_i}} = k_cq_meta[cq_head];
    cmd_va_i    = {{k_cq_va1[cq_head], k_cq_va0[cq_head]}};
    cmd_wdata_i = cmd_write_i ? {{k_cq_wd1[cq_head], k_cq_wd0[cq_head]}} : 64'd0;
    inv_valid_i = iq_rp != k_iq_wp && (inv_shown_q || !bp_stall[5]);
    {{inv_global_i, inv_s_i, inv_pasid_valid_i, inv_pasid_i, inv_itag_i}} = k_iq_meta[iq_head];
    inv_addr_i  = {{k_iq_a1[iq_head], k_iq_a0[iq_head]}};
  end
  always @(posedge clk_i) begin
    cmd_shown_q <= k_rst_ni && cmd_valid_i && !cmd_ready_o;
    inv_shown_q <= k_rst_ni && inv_valid_i && !inv_ready_o;
    if (!k_rst_ni) begin
      cq_rp <= k_cq_wp;
      iq_rp <= k_iq_wp;
    end else begin
      if (cmd_valid_i && cmd_ready_o) begin
        cq_issue[cmd_thread_i] <= cyc_q;  // = k at edge k (see cyc_q)
        cq_rp <= cq_rp + 32'd1;
      end
      if (inv_valid_i && inv_ready_o) iq_rp <= iq_rp + 32'd1;
    end
  end
"""
CMDQ = 16  # >= NumThreads: a thread has at most one command queued or in flight

_PRI_HDL = """
  // ---- Page Requests (PCIe PRI) for the co-simulation (tb/rtldev.py, Ports.take_prs /
  // send_prgr). Every Page Request handshake is stored in a ring and pr_n steps; Python
  // reads them at its quiet points (a device thread has at most one request outstanding,
  // so the ring cannot wrap). PRG Responses go through a queue Python fills (pq_wp): the
  // head is presented for one cycle (the RTL always takes it), in order.
  localparam int unsigned PrQ = {prq};
  logic [31:0] pr_n, pq_wp, k_pq_wp, pq_rp;
  initial begin
    pr_n = '0;
    pq_wp = '0;
    k_pq_wp = '0;
    pq_rp = '0;
  end
  logic [31:0] pr_c0 [Cap];  // {{pasid, write, read, last, PRG index}}
  logic [31:0] pr_c1 [Cap];  // address bits [43:12]
  logic [31:0] pr_c2 [Cap];  // address bits [63:44]
  logic [12:0] pq_meta [PrQ], k_pq_meta [PrQ];  // {{response code, PRG index}}
  always_comb begin
    prgr_valid_i = pq_rp != k_pq_wp;
    {{prgr_code_i, prgr_prgi_i}} = k_pq_meta[pq_rp[$clog2(PrQ)-1:0]];
  end
  always @(posedge clk_i) begin
    if (!k_rst_ni) begin
      pq_rp <= k_pq_wp;
    end else if (prgr_valid_i) begin
      pq_rp <= pq_rp + 32'd1;
    end
    if (pr_valid_o && k_pr_ready_i) begin
      pr_c0[pr_n[$clog2(Cap)-1:0]] <= {{pr_pasid_o, pr_write_o, pr_read_o, pr_last_o, pr_prgi_o}};
      pr_c1[pr_n[$clog2(Cap)-1:0]] <= pr_addr_o[31:0];
      pr_c2[pr_n[$clog2(Cap)-1:0]] <= 32'(pr_addr_o[51:32]);
      pr_n <= pr_n + 32'd1;
    end
  end
"""
PRQ = 16  # PRG Responses the wrapper holds (>= NumThreads: one group per thread)
INVQ = 32  # Invalidate Requests the wrapper holds; more wait in Python (Ports.inv_q)

# what the co-simulation writes besides the wrapper's ports (copied to k_<name> on py_kick)
_KICKED = ("rs_cyc", "rs_meta", "rs_d0", "rs_d1", "bs_cyc", "bs_meta", "cq_wp", "cq_meta", "cq_va0", "cq_va1",
           "cq_wd0", "cq_wd1", "iq_wp", "iq_meta", "iq_a0", "iq_a1", "bp_cfg", "bp_seed", "bp_hold",
           "pq_wp", "pq_meta")

# the RTL inputs the queues drive (not wrapper ports)
_QUEUE_PORTS = ("cmd_valid_i", "cmd_thread_i", "cmd_write_i", "cmd_pasid_i", "cmd_va_i", "cmd_wdata_i",
                "inv_valid_i", "inv_itag_i", "inv_pasid_valid_i", "inv_pasid_i", "inv_addr_i", "inv_s_i",
                "inv_global_i", "prgr_valid_i", "prgr_prgi_i", "prgr_code_i")

# READY inputs the wrapper gates with its back-pressure (e_<name>, `_BP_HDL`)
_BP_READY = ("m_axi_arready", "m_axi_awready", "m_axi_wready", "rsp_ready_i", "invc_ready_i")

_SLOT_PORTS = ("m_axi_rvalid", "m_axi_rid", "m_axi_rdata", "m_axi_rresp", "m_axi_rlast", "m_axi_bvalid",
               "m_axi_bid", "m_axi_bresp")


def clock_wrapper(period_ns: int = 10) -> Path:
    """Generate build/rtl/cosim_top.sv: ats_dev_top with its clock, AXI beats and input queues in Verilog.

    * The clock toggles with `always #` (Verilator --timing) instead of the
      cocotb GPI clock, which costs a VPI callback per edge. Rising edges are
      at k * period (k >= 1), so Python's cycle arithmetic is unchanged.
    * R and B beats come from response slots the Python slave books (see
      `_SLOT_HDL`); the slave still performs every access on the host's
      PhysMem and decides every response's cycle, ID, data and status.
    * Commands and Invalidate Requests go through small queues (`_QUEUE_HDL`)
      that present them on the RTL's ports; handshakes are captured into
      rings (`_CAP_HDL`).
    The wrapper's ports are the RTL's ports minus clk_i, the R/B inputs and
    the command / Invalidate Request inputs, copied from rtl/ats_dev_top.sv.
    """
    from tb import toolchain

    src = (toolchain.RTL / "ats_dev_top.sv").read_text()
    start = src.index("module ats_dev_top")
    lines = src[start:].splitlines()
    end = next(i for i, ln in enumerate(lines) if ln.strip() == ");")
    port = r"\s*input\s+logic\s*(\[[^\]]*\])?\s*({names})\s*,?\s*(//.*)?$"
    drop = re.compile(port.format(names="|".join(("clk_i",) + _SLOT_PORTS + _QUEUE_PORTS)))
    queued = re.compile(port.format(names="|".join(_QUEUE_PORTS)))
    head = [ln for ln in lines[:end + 1] if not drop.match(ln)]
    decls = {}
    for ln in lines[:end + 1]:
        m = queued.match(ln)
        if m:
            decls[m.group(2)] = f"  logic {m.group(1) + ' ' if m.group(1) else ''}{m.group(2)};"
    missing = [p for p in _QUEUE_PORTS if p not in decls]
    if missing:
        raise RuntimeError(f"clock_wrapper: rtl/ats_dev_top.sv has no input port(s) {missing}")
    # every input left on the wrapper (reset, configuration, READYs) reaches the RTL
    # through a register taken at the falling edge
    inp = re.compile(r"\s*input\s+logic\s*(\[[^\]]*\])?\s*(\w+)\s*,?\s*(//.*)?$")
    latched = [m.groups()[:2] for m in map(inp.match, head) if m]
    for want in ("rst_ni", "rsp_ready_i", "invc_ready_i", "m_axi_arready", "m_axi_awready", "m_axi_wready"):
        if want not in [n for _, n in latched]:
            raise RuntimeError(f"clock_wrapper: rtl/ats_dev_top.sv has no input port {want}")
    latch = [*[f"  logic {w + ' ' if w else ''}k_{n};" for w, n in latched],
             "  initial begin", *[f"    k_{n} = '0;" for _, n in latched], "  end", ""]
    kick = ["  // ---- inputs of the RTL. Everything the co-simulation writes (these ports, the",
            "  // response slots, the queues) reaches the RTL through a copy (k_<name>) taken when",
            "  // the co-simulation raises py_kick, which it does after each batch of writes (a",
            "  // command or Invalidate Request queued, a beat booked, reset); the copy drops",
            "  // py_kick again, so several kicks before one evaluation make one copy. A write",
            "  // and its kick happen before the same evaluation, so the RTL sees what it saw",
            "  // before; but no externally written variable feeds the RTL's combinational",
            "  // logic, so the model evaluates that logic only after clock edges and kicks",
            "  // (otherwise: on every evaluation).",
            "  logic py_kick;",
            "  initial py_kick = 1'b0;",
            "  always @(posedge py_kick) begin",
            *[f"    k_{n} <= {n};" for _, n in latched],
            *[f"    k_{n} <= {n};" for n in _KICKED], "    py_kick <= 1'b0;", "  end", ""]
    # the port list must not end with a comma once trailing inputs were removed
    last = max(i for i, ln in enumerate(head) if re.search(r"\w\s*,?\s*$", ln) and ("input" in ln or "output" in ln))
    head[last] = re.sub(r",\s*$", "", head[last])
    head[0] = head[0].replace("module ats_dev_top", f"module {WRAP_TOP}")
    params = re.findall(r"^\s*parameter\s+(?:int\s+unsigned|bit)\s+(\w+)\s*=", "\n".join(head), re.M)
    half = period_ns / 2
    body = ["", "  // generated by tb/rtldev.py (clock_wrapper): the clock lives in the simulator",
            "  logic clk_i;", "  initial clk_i = 1'b1;  // rising edges at k * period (k >= 1)",
            f"  always #({half}ns) clk_i = ~clk_i;", "", *latch, _SLOT_HDL.format(slots=SLOTS), _BP_HDL,
            _QUEUE_HDL.format(cmdq=CMDQ, invq=INVQ, decls="\n".join(decls[p] for p in _QUEUE_PORTS)),
            _CAP_HDL.format(cap=CAP), _PRI_HDL.format(prq=PRQ), *kick,
            f"  ats_dev_top #({', '.join(f'.{p}({p})' for p in params)}) u_dut (",
            *[f"    .{n}({'e' if n in _BP_READY else 'k'}_{n})," for _, n in latched], "    .*", "  );", "",
            "endmodule", ""]
    text = "\n".join(["// Co-simulation wrapper of ats_dev_top (generated; do not edit)", *head, *body])
    out = BUILD / "rtl" / "cosim_top.sv"
    out.parent.mkdir(parents=True, exist_ok=True)
    if not out.exists() or out.read_text() != text:
        out.write_text(text)
    return out


# RTL parameters of every co-simulation build (ahead of a caller's own): scenarios may
# use DEV-thread-0..7, so the device is built with the most threads it allows (ThreadW
# 3 bits: AXI ids and Translation Request ids carry 3 bits of thread).
COSIM_PARAMS = {"NumThreads": 8}


def build(waves: bool = False, params: dict | None = None, tag: str | None = None) -> Path:
    """Build (cached; tb.toolchain.build_rtl locks and fixes the PCH flag) the co-simulation model.

    Both builds simulate the generated wrapper (cosim_top: Verilog clock, AXI
    response slots) around ats_dev_top, so a run with waves behaves exactly
    like one without. Without waves only the wrapper's ports and slots are
    VPI-visible (a faster model); with waves every signal is, so the GTKWave
    save file is generated from the names the simulator reports.
    """
    from tb import toolchain

    params = {**COSIM_PARAMS, **(params or {})}
    tag = tag or ("cosim_waves" if waves else "cosim")
    if params:
        tag += "_" + toolchain.param_tag(params)
    wrap = clock_wrapper()
    # verilated.mk compiles the model with -Os; -O2 is a little faster per cycle.
    flags = os.environ.get("MAKEFLAGS", "")
    if "OPT_FAST" not in flags:
        os.environ["MAKEFLAGS"] = (flags + " OPT_FAST=-O2").strip()
    # --timing needs C++20 coroutines; this wheel's verilated.mk leaves their flags empty.
    extra = ["--timing", "--timescale", "1ns/1ps", "-Wno-TIMESCALEMOD", "-CFLAGS", "-std=c++20",
             "-CFLAGS", "-fcoroutines"]
    if not waves:
        vlt = BUILD / "rtl" / "cosim_ports.vlt"
        vlt.parent.mkdir(parents=True, exist_ok=True)
        if not vlt.exists() or vlt.read_text() != LEAN_VLT:
            vlt.write_text(LEAN_VLT)
        extra = ["--no-public-flat-rw", str(vlt)] + extra
    return toolchain.build_rtl(params, waves=waves, tag=tag, toplevel=WRAP_TOP,
                               sources=toolchain.rtl_sources() + [wrap], extra_args=extra)


def run_sim(module: str, build_dir: Path, *, env: dict | None = None, waves: bool = False,
            wave_file: Path | None = None, seed: int = 1, test_dir: Path | None = None,
            results_xml: Path | None = None, log_file: Path | None = None) -> Path:
    """Run cocotb test module `module` (tb/) on a build; raise AssertionError on failure."""
    from tb import toolchain

    e = {"COCOTB_TRUST_INERTIAL_WRITES": "1", "COCOTB_LOG_LEVEL": os.environ.get("COCOTB_LOG_LEVEL", "WARNING")}
    e.update({k: str(v) for k, v in (env or {}).items()})
    test_dir = Path(test_dir or build_dir).resolve()
    test_dir.mkdir(parents=True, exist_ok=True)
    args = ["--trace-file", str(Path(wave_file).resolve())] if (waves and wave_file) else []
    xml, _ = toolchain.run_cocotb(module, build_dir, toplevel=WRAP_TOP, extra_env=e, waves=waves, seed=seed,
                                  results_xml=str(results_xml or (test_dir / f"{module}.xml")),
                                  test_dir=test_dir, test_args=args, log_file=log_file)
    return xml


# --------------------------------------------------------------------------- co-simulation server


class CosimServer:
    """One simulator process serving requests: `call("scenario", ...)` -> result.

    The simulator runs tb/cosim_server.py, which connects back over a Unix
    socket and executes each request (a function of tb.cosim_server's
    HANDLERS) in simulated time, returning its picklable result. The
    simulator is paused while Python waits for the next request, so the
    socket read costs no simulated time.
    """

    def __init__(self, *, waves: bool = False, wave_file: Path | None = None, out: Path | None = None,
                 seed: int = 1, params: dict | None = None, cfg: dict | None = None, quiet: bool = True) -> None:
        from multiprocessing.connection import Listener

        self.waves = waves
        self.t_build0 = time.monotonic()
        self.build_dir = build(waves=waves, params=params)
        self.build_seconds = time.monotonic() - self.t_build0
        self.out = Path(out or (BUILD / "cosim" / ("waves" if waves else "run")))
        self.out.mkdir(parents=True, exist_ok=True)
        sock = Path(f"/tmp/cosim_{os.getpid()}_{id(self):x}.sock")
        if sock.exists():
            sock.unlink()
        self.authkey = os.urandom(16)
        self.listener = Listener(str(sock), family="AF_UNIX", authkey=self.authkey)
        self.sock = sock
        self.exc: BaseException | None = None
        self.conn = None
        env = {"COSIM_ADDR": str(sock), "COSIM_AUTHKEY": self.authkey.hex(),
               "COSIM_CFG": json.dumps(cfg or {}), "ATS_PARAMS": json.dumps(params or {})}
        log = self.out / "sim.log"
        self.log_path = log

        def target() -> None:
            try:
                run_sim("tb.cosim_server", self.build_dir, env=env, waves=waves, wave_file=wave_file, seed=seed,
                        test_dir=self.out, log_file=log if quiet else None)
            except BaseException as e:  # noqa: BLE001
                self.exc = e

        self.t_start0 = time.monotonic()
        self.thread = threading.Thread(target=target, daemon=True, name="cosim-sim")
        self.thread.start()
        self._accept()
        self.start_seconds = time.monotonic() - self.t_start0
        atexit.register(self.close)

    def _accept(self) -> None:
        import socket

        self.listener._listener._socket.settimeout(1.0)  # noqa: SLF001 - poll so a dead simulator is noticed
        deadline = time.monotonic() + 300
        while self.conn is None:
            try:
                self.conn = self.listener.accept()
            except (socket.timeout, TimeoutError):
                if not self.thread.is_alive() or time.monotonic() > deadline:
                    raise RuntimeError(f"co-simulation did not start (see {self.log_path}): {self.exc!r}")

    def call(self, handler: str, **kw: Any) -> Any:
        if self.conn is None:
            raise RuntimeError("co-simulation server is closed")
        try:
            self.conn.send((handler, kw))
            while not self.conn.poll(1.0):
                if not self.thread.is_alive():
                    raise RuntimeError(f"simulator exited during {handler!r} (see {self.log_path})")
            ok, value = self.conn.recv()
        except (EOFError, OSError, BrokenPipeError) as e:
            self.conn = None
            raise RuntimeError(f"co-simulation connection lost during {handler!r}: {e!r} (see {self.log_path})") \
                from None
        if not ok:
            raise CosimRemoteError(value)
        return value

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.send(None)
                self.conn.close()
            except OSError:
                pass
            self.conn = None
        self.thread.join(timeout=120)
        try:
            self.listener.close()
        except OSError:
            pass
        if self.sock.exists():
            self.sock.unlink()
        if self.exc is not None and not isinstance(self.exc, AssertionError):
            print(f"[cosim] simulator ended with {self.exc!r} (see {self.log_path})", file=sys.stderr)

    def __enter__(self) -> "CosimServer":
        return self

    def __exit__(self, *a: Any) -> None:
        self.close()


class CosimRemoteError(RuntimeError):
    """A request failed inside the simulator; the message carries its traceback."""

    def scenario_error(self) -> Any:
        """The ScenarioError (file, line, problem) the simulator raised, or None for any other failure."""
        from model.scenario import ScenarioError, ScenarioRunError

        first = (str(self).splitlines() or [""])[0]
        m = re.match(r"^(ScenarioRunError|ScenarioError): (.+?)(?::(\d+))?: (.*)$", first)
        if m is None:
            return None
        cls = ScenarioRunError if m.group(1) == "ScenarioRunError" else ScenarioError
        return cls(m.group(2), int(m.group(3)) if m.group(3) else None, m.group(4))


_server: CosimServer | None = None
_variant_servers: dict[str, CosimServer] = {}

# Test-only broken devices (docs/ARCHITECTURE.md 5): variant -> RTL parameters. Each
# parameter set is built in its own directory (tb.toolchain.param_tag).
DEVICE_BUGS = {"no-drain": {"DbgNoDrain": 1}, "no-poison": {"DbgNoPoison": 1}}


def _portable(scenario: Any) -> Any:
    """Scenario objects and texts travel as they are; a path becomes absolute (the
    simulator runs in its own directory)."""
    if isinstance(scenario, Path) or (isinstance(scenario, str) and "\n" not in scenario):
        return str(Path(scenario).resolve())
    return scenario


def server() -> CosimServer:
    """The process-wide co-simulation server (started on first use)."""
    global _server
    if _server is None or _server.conn is None:
        _server = CosimServer()
    return _server


def variant_server(bug: str) -> CosimServer:
    """The process-wide co-simulation server of a test-only broken device (DEVICE_BUGS)."""
    s = _variant_servers.get(bug)
    if s is None or s.conn is None:
        if bug not in DEVICE_BUGS:
            raise ValueError(f"unknown device bug {bug!r} (known: {', '.join(DEVICE_BUGS)})")
        s = _variant_servers[bug] = CosimServer(params=DEVICE_BUGS[bug], out=BUILD / "cosim" / f"run-{bug}")
    return s


def run_scenario_rtl(scenario: Any, policy: str, seed: int = 0, *, compare_ref: bool = True,
                     srv: CosimServer | None = None, device_bug: str | None = None, **kw: Any) -> Any:
    """`model.scheduler.run_scenario` on the RTL; returns its RunResult.

    This is the entry point `python -m tb.matrix --device rtl` uses. A
    `Scenario` object, a path or scenario text is accepted. With
    `compare_ref` the same scenario, policy and seed also run on the
    reference device, and a verdict `rtl-vs-ref` (failing when the two runs
    fail different rules) is added, so a disagreement shows in the matrix
    cell it belongs to. `device_bug` ("no-drain", "no-poison") runs the
    test-only broken RTL instead (no comparison: it is meant to differ).
    """
    from model.scenario import ScenarioRunError

    payload = _portable(scenario)
    if device_bug:
        compare_ref = False
        srv = srv or variant_server(device_bug)
    try:
        out = (srv or server()).call("scenario", scenario=payload, policy=policy, seed=seed, **kw)
    except CosimRemoteError as e:
        se = e.scenario_error()
        if se is not None:
            raise ScenarioRunError(se.path, se.line, f"on the RTL: {se.message}") from None
        raise
    res = out["result"]
    if compare_ref:
        res.verdicts.append(compare_with_ref(res, scenario, policy, seed, mode=kw.get("mode", "script")))
    return res


def compare_with_ref(res: Any, scenario: Any, policy: str, seed: int, mode: str = "script") -> Any:
    """A verdict `rtl-vs-ref`: the RTL run and the reference-device run fail the same rules."""
    from model.check import Verdict
    from model.scheduler import run_scenario_sync

    sc = scenario if not isinstance(scenario, (str, Path)) else _load_any(scenario)
    ref = run_scenario_sync(sc, policy, seed, mode=mode)
    rtl_rules = {v.rule for v in res.verdicts if not v.ok and v.rule not in ("rtl-vs-ref",)}
    ref_rules = set(ref.failed_rules)
    if rtl_rules == ref_rules:
        return Verdict.passed("rtl-vs-ref", f"RTL and reference device fail the same rules "
                                            f"({', '.join(sorted(rtl_rules)) or 'none'})")
    return Verdict("rtl-vs-ref", False,
                   f"[rtl-vs-ref] {getattr(sc, 'name', sc)} [{policy}] seed {seed}: the RTL fails "
                   f"{', '.join(sorted(rtl_rules)) or 'nothing'} but the reference device fails "
                   f"{', '.join(sorted(ref_rules)) or 'nothing'}")


def _load_any(scenario: Any) -> Any:
    from model.scenario import load, parse

    if isinstance(scenario, str) and "\n" in scenario:
        return parse(scenario, "<text>")
    return load(scenario)


__all__ = ["CosimConfig", "BP_PORTS", "BACKPRESSURE", "NO_BACKPRESSURE", "Ports", "RtlDevice", "DeviceError", "build", "run_sim", "CosimServer", "server",
           "run_scenario_rtl", "CosimRemoteError", "ScenarioErrorTypes", "DEVICE_BUGS", "variant_server"]

ScenarioErrorTypes = ("ScenarioError", "ScenarioRunError")
