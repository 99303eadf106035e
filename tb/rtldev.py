"""The RTL as a `model.device.Device`: `ats_dev_top` in Verilator, driven from cocotb.

`RtlDevice` lets the host-model scheduler (`model.scheduler.run_scenario`) run
a scenario on the RTL exactly as it runs one on the reference device: `now` is
the current cycle, `submit`/`invalidate` queue to the command and invalidation
drivers, `run(n)` advances simulated time with one `Timer`, and responses and
completions come from the monitors. The AXI slave serves the host model's own
`PhysMem`, so the walker reads the very page-table bytes the kernel model
wrote, and DMA reads/writes land in the same memory the CPU side uses.

Speed (DESIGN.md 7): Python never runs per clock. The simulated top is a
generated wrapper (`clock_wrapper`, build/rtl/cosim_top.sv) around
ats_dev_top that makes the clock in Verilog (Verilator --timing), captures
every handshake (AR, AW+W, response, completion) into small rings with a
counter per channel, and presents AXI R/B beats from slots the Python slave
books. The bus functional models (`Ports`) are raw GPI callbacks, not
cocotb coroutines: one value-change callback per transfer (on the channel's
counter), and a timed callback only when a driver must act in a later cycle
(a second command queued in the same cycle, dropping an Invalidate Request).
The scheduler's coroutine is stepped from raw timed callbacks too
(`RtlDevice.drive`). An idle device costs no Python at all.

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
`python -m model.matrix --device rtl`) sends the run to a co-simulation server:
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

from model.ats import InvalidateRequest, inv_range
from model.device import DevCommand, DevResponse
from model.memory import PhysMem
from model.trace import DevAccess, InvCpl, InvReq, MemAccess, Trace

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build"
MASK64 = (1 << 64) - 1

# --------------------------------------------------------------------------- configuration


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
    num_threads: int = 4

    def __post_init__(self) -> None:
        lo, hi = self.latency
        if not 2 <= lo <= hi:
            raise ValueError("latency must satisfy 2 <= lo <= hi")


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


_sim = None  # cocotb.simulator, bound when the first Ports is built (only inside a simulation)


def _sim_steps() -> int:
    hi, lo = _sim.get_sim_time()
    return (hi << 32) | lo


# --------------------------------------------------------------------------- records


@dataclass
class CmdRec:
    """One command from submit to response."""

    cmd: DevCommand
    uid: int
    submitted: int  # absolute cycle of submit()
    edge: int | None = None  # absolute handshake cycle (issue)
    mem: "AxiAcc | None" = None  # the DMA access the slave performed for it
    rsp: DevResponse | None = None
    sb: Any = None  # scoreboard state


@dataclass
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


# --------------------------------------------------------------------------- the ports


class Ports:
    """Reset and every bus functional model of `ats_dev_top` as raw GPI callbacks.

    Works on the generated wrapper `cosim_top` (see `clock_wrapper`): clock
    in Verilog, the RTL as `u_dut`, and AXI response slots. Drivers: command
    (`cmd_*`), Invalidate Request (`inv_*`), AXI slave responses (R and B
    beats are booked into the wrapper's slots: `_book`). Monitors: response
    (`rsp_*`), Invalidate Completion (`invc_*`), AXI requests (AR, AW+W).
    READY inputs are held high (`rsp_ready_i`, `invc_ready_i`,
    `m_axi_*ready`); the RTL's RREADY/BREADY are constant 1 (checked at
    start), so every cycle with VALID high is a transfer at the next edge.

    The AXI slave: a request is performed on the host's PhysMem in the cycle
    it is VALID (`_request`/`_perform`), its response beat is booked for the
    cycle before it is due (`latency` after the address handshake, per-ID
    order, optionally reordered across IDs, one beat per cycle), and the
    wrapper presents it for exactly that cycle. Bus errors (`bus_error`) give
    SLVERR and touch no memory.

    How a monitor sees transfers without a wake per clock: the wrapper counts
    the handshakes of each channel and stores their payloads in a ring; a
    value-change callback on the counter wakes Python once per transfer, at
    its handshake edge, and the payload is read from the ring (`_count_cb`).
    A counter that jumps by more than one is reported as a lost transfer.

    Observers: `on_mem(acc)` when the slave performs an access,
    `on_rsp(thread, fields, edge)` for every response handshake,
    `on_cpl(itag, edge)` for every completion, `on_inv(rec)` when a request's
    handshake edge is known.
    """

    _CH = ("ar", "aw", "rsp", "invc")
    _CAP = ("ar_cid", "ar_caddr", "aw_cid", "aw_caddr", "aw_cdata", "aw_cstrb", "rsp_cthread", "rsp_cfault",
            "rsp_ccause", "rsp_crdata", "rsp_cpa", "rsp_chit", "invc_citag")

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
        s = lambda n: _Sig(dut, n)  # noqa: E731
        # command / response
        self.cmd_valid, self.cmd_thread, self.cmd_write = s("cmd_valid_i"), s("cmd_thread_i"), s("cmd_write_i")
        self.cmd_pasid, self.cmd_va, self.cmd_wdata = s("cmd_pasid_i"), s("cmd_va_i"), s("cmd_wdata_i")
        self.rsp_valid, self.rsp_ready, self.rsp_thread = s("rsp_valid_o"), s("rsp_ready_i"), s("rsp_thread_o")
        self.rsp_fault, self.rsp_cause, self.rsp_rdata = s("rsp_fault_o"), s("rsp_cause_o"), s("rsp_rdata_o")
        self.rsp_pa, self.rsp_hit = s("rsp_pa_o"), s("rsp_atc_hit_o")
        # invalidation
        self.inv_valid, self.inv_ready, self.inv_itag = s("inv_valid_i"), s("inv_ready_o"), s("inv_itag_i")
        self.inv_pv, self.inv_pasid, self.inv_addr = s("inv_pasid_valid_i"), s("inv_pasid_i"), s("inv_addr_i")
        self.inv_s, self.inv_global = s("inv_s_i"), s("inv_global_i")
        self.invc_valid, self.invc_ready, self.invc_itag = s("invc_valid_o"), s("invc_ready_i"), s("invc_itag_o")
        # AXI
        a = lambda n: _Sig(dut, "m_axi_" + n)  # noqa: E731
        self.arvalid, self.arready, self.arid, self.araddr = a("arvalid"), a("arready"), a("arid"), a("araddr")
        self.awvalid, self.awready, self.awid, self.awaddr = a("awvalid"), a("awready"), a("awid"), a("awaddr")
        self.wvalid, self.wready, self.wdata, self.wstrb = a("wvalid"), a("wready"), a("wdata"), a("wstrb")
        self.wlast = a("wlast")
        self.rready, self.bready = a("rready"), a("bready")
        self.arlen, self.arsize, self.awlen, self.awsize = a("arlen"), a("arsize"), a("awlen"), a("awsize")
        self.rst = s("rst_ni")
        self.tbl_base = s("pasid_tbl_base_i")
        # the wrapper (tb.rtldev.clock_wrapper): R/B beats are booked into its slots,
        # handshakes are read from its capture rings
        if not hasattr(dut, "rs_cyc") or not hasattr(dut, "ar_n"):
            raise DeviceError(f"{dut._name}: the co-simulation needs the {WRAP_TOP} wrapper (tb.rtldev.build)")

        def arr(name: str, n: int) -> list[_Sig]:
            h = getattr(dut, name)
            return [_Sig.of(h[i], f"{name}[{i}]") for i in range(n)]

        self.rs = (arr("rs_cyc", SLOTS), arr("rs_id", SLOTS), arr("rs_data", SLOTS), arr("rs_resp", SLOTS))
        self.bs = (arr("bs_cyc", SLOTS), arr("bs_id", SLOTS), None, arr("bs_resp", SLOTS))
        self.cap = {n: arr(n, CAP) for n in self._CAP}
        self._cnt = {ch: s(f"{ch}_n") for ch in self._CH}
        self.aw_w_apart = s("aw_w_apart")
        self.seen = {ch: 0 for ch in self._CH}
        # observers
        self.on_mem: list[Callable[[AxiAcc], None]] = []
        self.on_rsp: list[Callable[[int, tuple, int], None]] = []
        self.on_cpl: list[Callable[[int, int], None]] = []
        self.on_inv: list[Callable[[InvRec], None]] = []
        self.error: BaseException | None = None
        self.callbacks = 0  # Python wakes (edge callbacks + ticks), for the bench
        self.ticks = 0
        self._live = False
        self.armed: dict[str, bool] = {}
        self.gen = 0
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
        """Start the clock (unless the wrapper makes it) and reset; afterwards the ports are live."""
        from cocotb.clock import Clock

        for sig, v in ((self.cmd_valid, 0), (self.inv_valid, 0), (self.rsp_ready, 1), (self.invc_ready, 1),
                       (self.arready, 1), (self.awready, 1), (self.wready, 1), (self.rst, 0),
                       (self.tbl_base, pasid_tbl_base)):
            sig.set(v)
        if os.environ.get("COSIM_CLOCK") == "rtl":
            self.T0 = 0  # the wrapper's clock: rising edges at k * P
        else:
            self.T0 = _sim_steps()
            Clock(self.dut.clk_i, self.P, unit="step", impl="gpi").start(start_high=True)
        await self.reset(pasid_tbl_base)
        if self.rready.get() != 1 or self.bready.get() != 1:
            raise DeviceError("the slave assumes the RTL holds RREADY and BREADY high")
        # Single 8-byte beats are constant in this RTL (checked once, not per beat).
        shape = (self.arlen.get(), self.arsize.get(), self.awlen.get(), self.awsize.get(), self.wlast.get())
        if shape != (0, 3, 0, 3, 1):
            raise DeviceError(f"AXI (arlen, arsize, awlen, awsize, wlast) = {shape}: the slave serves single "
                              "8-byte beats only")

    async def reset(self, pasid_tbl_base: int | None = None, cycles: int = 3) -> int:
        """Pulse rst_ni, drop everything in flight; return the first live cycle (at its qp)."""
        self._live = False
        k = self.cycle()
        await self.to_qp(k + 1)
        self.rst.set(0)
        for sig in (self.cmd_valid, self.inv_valid):
            sig.set(0)
        if pasid_tbl_base is not None:
            self.tbl_base.set(pasid_tbl_base)
        await self.to_qp(k + 1 + cycles)
        self.rst.set(1)
        await self.to_qp(k + 2 + cycles)
        self._reset_state()
        k = self.cycle()
        for cyc_sigs in (self.rs[0], self.bs[0]):  # forget beats booked before the reset
            for sig in cyc_sigs:
                sig.set(0xFFFFFFFF)
        self._last_tick = k
        for ch in self._CH:  # resynchronise with the capture counters (they never reset)
            self.seen[ch] = self._cnt[ch].get()
            self._arm(ch)
        self._live = True
        return k

    def _reset_state(self) -> None:
        self.cmd_q: deque[CmdRec] = deque()
        self.cmd_cur: CmdRec | None = None
        self.inv_q: deque[InvRec] = deque()
        self.inv_cur: InvRec | None = None
        self.inv_driving = False
        self.inflight: dict[int, AxiAcc] = {}
        self.log_reads = 0
        self.log_writes = 0
        self._ticks_reg: set[int] = set()
        self._last_tick = -1
        self._seq = 0
        self.gen += 1  # timed callbacks registered before a reset are ignored
        self._dropped = False
        self._booked: tuple[dict[int, int], dict[int, int]] = ({}, {})  # R, B: cycle -> slot index
        self._slot_until = ([-1] * SLOTS, [-1] * SLOTS)
        self._id_last: dict[tuple[bool, int], int] = {}
        self._ch_last = [-1, -1]

    # ------------------------------------------------------------------ callback plumbing

    def _fail(self, e: BaseException) -> None:
        if self.error is None:
            self.error = e
        self._live = False

    def _need(self, k: int) -> None:
        """Make sure tick(k) runs at h(k)."""
        if k in self._ticks_reg:
            return
        hi, lo = _sim.get_sim_time()
        dt = k * self.P + self.H - ((hi << 32) | lo) + self.T0
        if dt <= 0:
            self._fail(DeviceError(f"internal: tick for cycle {k} requested at t={self.time()}"))
            return
        self._ticks_reg.add(k)
        _sim.register_timed_callback(dt, self._tick, k, self.gen)

    def _arm(self, ch: str) -> None:
        if self.armed.get(ch):
            return
        self.armed[ch] = True
        _sim.register_value_change_callback(self._cnt[ch].h, self._count_cb, _sim.VALUE_CHANGE, ch)

    def _count_cb(self, ch: str) -> None:
        """The wrapper counted a handshake on `ch` at this edge: take its captured payload."""
        self.armed[ch] = False
        self._arm(ch)
        if not self._live:
            return
        self.callbacks += 1
        try:
            n = self._cnt[ch].get()
            seen = self.seen[ch]
            if n != (seen + 1) & 0xFFFFFFFF:
                raise DeviceError(f"{ch}: capture counter jumped from {seen} to {n} (a handshake was missed)")
            self.seen[ch] = n
            self._take(ch, seen % CAP, self.time() // self.P)
        except BaseException as e:  # noqa: BLE001 - reported by RtlDevice.run
            self._fail(e)

    def _take(self, ch: str, i: int, edge: int) -> None:
        """Handshake at `edge` (this edge), payload in capture entry i."""
        c = self.cap
        if ch == "ar":
            self._request(False, c["ar_cid"][i].get(), c["ar_caddr"][i].get(), edge)
        elif ch == "aw":
            if self.aw_w_apart.get():
                raise DeviceError(f"AW and W handshakes apart (edge {edge}): the slave takes them together")
            self._request(True, c["aw_cid"][i].get(), c["aw_caddr"][i].get(), edge, c["aw_cdata"][i].get(),
                          c["aw_cstrb"][i].get())
        elif ch == "rsp":
            thread = c["rsp_cthread"][i].get()
            fields = (thread, c["rsp_cfault"][i].get(), c["rsp_ccause"][i].get(), c["rsp_crdata"][i].get(),
                      c["rsp_cpa"][i].get(), c["rsp_chit"][i].get())
            cur = self.cmd_cur
            if cur is not None and cur.edge <= edge:
                # The presented command was taken already; a thread is idle again
                # from this edge, so replace the command by the next queued one or
                # drop VALID before the next edge.
                if self.cmd_q:
                    self._pump_cmd(edge)
                else:
                    self.cmd_valid.set(0)
                    self.cmd_cur = None
            for f in self.on_rsp:
                f(thread, fields, edge)
        else:
            itag = c["invc_citag"][i].get()
            for f in self.on_cpl:
                f(itag, edge)

    # ------------------------------------------------------------------ AXI requests

    def _request(self, write: bool, id_: int, addr: int, edge: int, data: int = 0, strb: int = 0xFF) -> AxiAcc:
        """An AR or AW+W whose handshake is at `edge` (now).

        Memory is accessed right away and stamped edge-1, the cycle the
        request was VALID: the host's actions of that cycle (at its quiet
        point) are done, those of cycle `edge` are not yet. A request cannot
        be withdrawn once VALID is up, so this is a legal slave that reads
        or writes as soon as the request appears.
        """
        self._seq += 1
        lo, hi = self.cfg.latency
        lat = lo if lo == hi else self.rng.randint(lo, hi)
        if addr & 7:
            raise DeviceError(f"AXI {'AW' if write else 'AR'} address {addr:#x} not 8-byte aligned")
        acc = AxiAcc(write, id_, addr, edge, data=data, strb=strb, due=edge + lat, seq=self._seq)
        acc.perform = edge - 1
        self._perform(acc)
        return acc

    def _perform(self, acc: AxiAcc) -> None:
        be = self.cfg.bus_error
        acc.error = bool(be and be(acc.addr, acc.source))
        mem = self.mem
        if acc.write:
            self.log_writes += 1
            if not acc.error:
                if acc.strb == 0xFF:
                    mem.write64(acc.addr, acc.data)
                else:
                    raw = acc.data.to_bytes(8, "little")
                    for i in range(8):
                        if acc.strb >> i & 1:
                            mem.write(acc.addr + i, raw[i:i + 1])
        else:
            self.log_reads += 1
            acc.data = 0 if acc.error else mem.read64(acc.addr)
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
        ch = int(is_b)
        book = self._booked[ch]
        want = max(acc.due - 1, acc.accept + 1, self._id_last.get((is_b, acc.id), -1) + 1)
        if not self.cfg.reorder:
            want = max(want, self._ch_last[ch] + 1)
        while want in book:
            want += 1
        now = acc.accept  # booked during the handshake edge's timestep
        until = self._slot_until[ch]
        idx = next((i for i in range(SLOTS) if until[i] < now), None)
        if idx is None:
            raise DeviceError(f"all {SLOTS} AXI {'B' if is_b else 'R'} slots busy at cycle {now}")
        tp = self.cfg.tamper
        data = acc.data
        if tp is not None:
            if tp == "rdata" and not is_b and acc.source == "dma":
                data ^= 1
            elif tp == "walk" and acc.source == "walk":
                data ^= 1 << 13
            elif tp == "drop" and not is_b and acc.source == "dma" and not self._dropped:
                self._dropped = True
                return  # never answered: stays in flight
        if len(book) > 4 * SLOTS:
            for c in [c for c in book if c < now]:
                del book[c]
        book[want] = idx
        until[idx] = want
        self._id_last[(is_b, acc.id)] = want
        if want > self._ch_last[ch]:
            self._ch_last[ch] = want
        cyc, ids, datas, resps = self.bs if is_b else self.rs
        ids[idx].set(acc.id)
        resps[idx].set(2 if acc.error else 0)
        if datas is not None:
            datas[idx].set(data)
        cyc[idx].set(want)
        acc.done = want + 1

    def busy(self) -> bool:
        """An AXI access is still waiting for its response."""
        now = self.cycle()
        for k in [k for k, a in self.inflight.items() if a.done is not None and a.done <= now]:
            del self.inflight[k]
        return bool(self.inflight)

    # ------------------------------------------------------------------ the tick

    def _tick(self, k: int, gen: int) -> None:
        if gen != self.gen:
            return
        self._ticks_reg.discard(k)
        if not self._live or k <= self._last_tick:
            return
        self._last_tick = k
        self.callbacks += 1
        self.ticks += 1
        try:
            if self.cmd_q:
                self._pump_cmd(k)
            if self.inv_cur is not None or self.inv_q:
                self._pump_inv(k)
        except BaseException as e:  # noqa: BLE001
            self._fail(e)

    # ------------------------------------------------------------------ command / invalidation drivers

    def send_cmd(self, rec: CmdRec) -> None:
        """Queue a command; present it now if the channel is free (called at a quiet point)."""
        self.cmd_q.append(rec)
        self._pump_cmd(self.cycle())

    def _pump_cmd(self, c: int) -> None:
        """Present the next queued command for edge c+1 (called in cycle c).

        After its handshake a command stays on the port: cmd_ready_o is low
        while its thread is busy, so it cannot be taken twice, and it is
        dropped when that thread's response shows up (before the thread is
        idle again). So a command costs no wake of its own.
        """
        cur = self.cmd_cur
        if cur is not None and cur.edge > c:
            if self.cmd_q:
                self._need(cur.edge)  # present the next one right after this handshake
            return
        if not self.cmd_q:
            return
        rec = self.cmd_q.popleft()
        cmd = rec.cmd
        self.cmd_thread.set(cmd.thread)
        self.cmd_write.set(int(cmd.write))
        self.cmd_pasid.set(cmd.pasid)
        self.cmd_va.set(cmd.va)
        self.cmd_wdata.set(cmd.wdata if cmd.write else 0)
        self.cmd_valid.set(1)
        rec.edge = c + 1
        self.cmd_cur = rec
        if self.cmd_q:
            self._need(c + 1)

    def send_inv(self, rec: InvRec) -> None:
        self.inv_q.append(rec)
        self._pump_inv(self.cycle())

    def _pump_inv(self, c: int) -> None:
        cur = self.inv_cur
        if cur is not None:
            if cur.edge > c:
                return
            self.inv_cur = None
        if self.inv_q:
            if not self.inv_ready.get():  # registered (queue full): try again next cycle
                if self.inv_driving:
                    self.inv_valid.set(0)
                    self.inv_driving = False
                self._need(c + 1)
                return
            rec = self.inv_q.popleft()
            r = rec.req
            self.inv_itag.set(r.itag)
            self.inv_pv.set(int(r.pasid is not None))
            self.inv_pasid.set(r.pasid or 0)
            self.inv_addr.set(r.addr)
            self.inv_s.set(int(r.s))
            self.inv_global.set(int(r.global_))
            self.inv_valid.set(1)
            self.inv_driving = True
            rec.edge = c + 1
            self.inv_cur = rec
            for f in self.on_inv:
                f(rec)
            self._need(c + 1)
        elif self.inv_driving:
            self.inv_valid.set(0)
            self.inv_driving = False

    def state(self) -> str:
        lines = [f"cycle {self.cycle()} (live={self._live})"]
        if self.cmd_q or self.cmd_cur:
            lines.append(f"  commands queued {len(self.cmd_q)}, presenting {self.cmd_cur and self.cmd_cur.cmd}")
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
        self.trace = trace if trace is not None else Trace()
        self.num_threads = num_threads or ports.cfg.num_threads
        self.repro = repro
        self.epoch = 0
        self._abs = 0  # absolute cycle of `now`
        self.now = 0  # current cycle of this run (Device protocol); = _abs - epoch
        self._uid = 0
        self._busy: list[CmdRec | None] = [None] * self.num_threads
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
        self.stats["commands"] += 1
        for f in self.on_submit:
            f(rec)
        self.ports.send_cmd(rec)

    def invalidate(self, req: InvalidateRequest) -> None:
        if req.itag in self._itags:
            # The protocol checker reports ITag reuse from the trace; the port still sends it.
            pass
        rec = InvRec(req, self._abs)
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
        self._collect()
        self._watchdog()

    def take_responses(self) -> list[DevResponse]:
        out, self._responses = self._responses, []
        return out

    def take_completions(self) -> list[int]:
        out, self._completions = self._completions, []
        return out

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
                issued = "not yet issued" if b.edge is None else f"issued t={self.t(b.edge)}"
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
        cfg = self.ports.cfg
        for b in self._busy:
            if b is not None and self._abs - b.submitted > cfg.cmd_timeout:
                raise DeviceError(f"watchdog: command {b.cmd} unanswered for {cfg.cmd_timeout} cycles\n"
                                  f"{self.describe()}")
        for r in self._itags.values():
            if self._abs - r.submitted > cfg.inv_timeout:
                raise DeviceError(f"watchdog: Invalidate Request {r.req} not completed after "
                                  f"{cfg.inv_timeout} cycles\n{self.describe()}")

    # ------------------------------------------------------------------ monitors

    def _later(self, edge: int, item: Any, mid: bool = False) -> None:
        """Make `item` visible once the handshake at absolute edge `edge` (or, with
        `mid`, the memory access at h(edge)) has happened."""
        self._pseq += 1
        p = self.ports
        heapq.heappush(self._pend, (edge * p.P + (p.H if mid else 0), self._pseq, item))

    def _collect(self) -> None:
        limit = self._abs * self.ports.P + self.ports.Q
        pend = self._pend
        emit = self.emit
        while pend and pend[0][0] <= limit:
            _, _, item = heapq.heappop(pend)
            if isinstance(item, CmdRec):
                rsp = item.rsp
                self._busy[item.cmd.thread] = None
                self._responses.append(rsp)
                c = item.cmd
                emit(DevAccess(thread=c.thread, write=c.write, pasid=c.pasid, va=c.va, pa=rsp.pa,
                               value=c.wdata if c.write else rsp.rdata, issue=rsp.issue, complete=rsp.complete,
                               fault=rsp.fault, atc_hit=rsp.atc_hit, mem_time=rsp.mem_time))
                for f in self.on_response:
                    f(item)
            elif isinstance(item, InvCpl):
                self._completions.append(item.itag)
                emit(item)
            else:
                emit(item)

    def _on_mem(self, acc: AxiAcc) -> None:
        st = self.stats
        if acc.source == "dma":
            rec = self._busy[acc.tag] if acc.tag < self.num_threads else None
            if rec is None or rec.rsp is not None:
                raise DeviceError(f"DMA access for thread {acc.tag} with no command in flight: pa {acc.addr:#x}")
            if rec.mem is not None:
                raise DeviceError(f"second DMA access for one command on thread {acc.tag}: pa {acc.addr:#x}")
            rec.mem = acc
            st["mem_writes" if acc.write else "mem_reads"] += 1
        else:
            st["walk_reads"] += 1
        # performed now (h(accept)): visible to the trace right away, stamped with its cycle
        self._later(acc.perform, MemAccess(time=self.t(acc.perform), source=acc.source, pa=acc.addr,
                                          write=acc.write, value=acc.data, tag=acc.tag, error=acc.error),
                    mid=True)

    def _on_rsp(self, thread: int, f: tuple, edge: int) -> None:
        _, fault_bit, cause, rdata, pa, hit = f
        rec = self._busy[thread] if thread < self.num_threads else None
        if rec is None or rec.rsp is not None or rec.edge is None or rec.edge >= edge:
            raise DeviceError(f"response at edge {edge} for thread {thread} with no command outstanding")
        if bool(fault_bit) != (cause != 0):
            raise DeviceError(f"response thread {thread}: rsp_fault_o={fault_bit} but cause {cause}")
        m = rec.mem
        mem_time = self.t(m.perform) if m is not None else None
        rsp = DevResponse(thread=thread, fault=cause, rdata=rdata, pa=pa, atc_hit=bool(hit),
                          issue=self.t(rec.edge), complete=self.t(edge), mem_time=mem_time)
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
        self._later(rec.edge, InvReq(time=self.t(rec.edge), itag=r.itag,
                                     pasid=None if r.all_pasids else r.pasid, start=start, size=size))


# --------------------------------------------------------------------------- build and launch


LEAN_VLT = """`verilator_config
// Only the wrapper's ports are VPI-visible: the co-simulation drives and
// samples ports only, and an all-public model (--public-flat-rw) is slower.
public_flat_rw -module "cosim_top" -var "*"
"""

WRAP_TOP = "cosim_top"


SLOTS = 16  # AXI response slots per channel in the wrapper

_SLOT_HDL = """
  // ---- AXI R and B beats, booked by the co-simulation's slave (tb/rtldev.py, Ports._book).
  // The slave reads or writes the host memory itself when a request shows up and
  // books the cycle its response is presented in; a booked beat is on R (or B) for
  // exactly that cycle, so it needs no Python wake to be raised or dropped.
  // Only the co-simulation writes rs_* / bs_*; cyc_q is the rising-edge count.
  localparam int unsigned Slots = {slots};
  logic [31:0] cyc_q;
  initial cyc_q = '0;
  always @(posedge clk_i) cyc_q <= cyc_q + 32'd1;

  logic [31:0] rs_cyc  [Slots];
  logic [3:0]  rs_id   [Slots];
  logic [63:0] rs_data [Slots];
  logic [1:0]  rs_resp [Slots];
  logic [31:0] bs_cyc  [Slots];
  logic [3:0]  bs_id   [Slots];
  logic [1:0]  bs_resp [Slots];
  initial begin
    for (int i = 0; i < Slots; i++) begin
      rs_cyc[i] = '1;
      bs_cyc[i] = '1;
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
      if (rs_cyc[i] == cyc_q) begin
        m_axi_rvalid = 1'b1;
        m_axi_rid    = rs_id[i];
        m_axi_rdata  = rs_data[i];
        m_axi_rresp  = rs_resp[i];
      end
    end
  end

  always_comb begin
    m_axi_bvalid = 1'b0;
    m_axi_bid    = '0;
    m_axi_bresp  = '0;
    for (int i = 0; i < Slots; i++) begin
      if (bs_cyc[i] == cyc_q) begin
        m_axi_bvalid = 1'b1;
        m_axi_bid    = bs_id[i];
        m_axi_bresp  = bs_resp[i];
      end
    end
  end
"""

_CAP_HDL = """
  // ---- handshake capture for the co-simulation's monitors (tb/rtldev.py, Ports._count_cb).
  // At every AR, AW+W, response and completion handshake the payload is stored
  // in a ring of Cap entries and the channel's counter steps; a value-change
  // callback on the counter wakes Python exactly once per transfer, at the
  // handshake edge, with the payload still there to read.
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
  logic [ats_pkg::AxiIdW-1:0] ar_cid   [Cap];
  logic [PaWidth-1:0]         ar_caddr [Cap];
  logic [ats_pkg::AxiIdW-1:0] aw_cid   [Cap];
  logic [PaWidth-1:0]         aw_caddr [Cap];
  logic [63:0]                aw_cdata [Cap];
  logic [7:0]                 aw_cstrb [Cap];
  logic [ThreadW-1:0]         rsp_cthread [Cap];
  logic                       rsp_cfault  [Cap];
  logic [3:0]                 rsp_ccause  [Cap];
  logic [63:0]                rsp_crdata  [Cap];
  logic [PaWidth-1:0]         rsp_cpa     [Cap];
  logic                       rsp_chit    [Cap];
  logic [ats_pkg::ItagW-1:0]  invc_citag  [Cap];

  always @(posedge clk_i) begin
    if (m_axi_arvalid && m_axi_arready) begin
      ar_cid[ar_n[$clog2(Cap)-1:0]]   <= m_axi_arid;
      ar_caddr[ar_n[$clog2(Cap)-1:0]] <= m_axi_araddr;
      ar_n <= ar_n + 32'd1;
    end
    if (m_axi_awvalid && m_axi_awready) begin
      aw_cid[aw_n[$clog2(Cap)-1:0]]   <= m_axi_awid;
      aw_caddr[aw_n[$clog2(Cap)-1:0]] <= m_axi_awaddr;
      aw_cdata[aw_n[$clog2(Cap)-1:0]] <= m_axi_wdata;
      aw_cstrb[aw_n[$clog2(Cap)-1:0]] <= m_axi_wstrb;
      aw_n <= aw_n + 32'd1;
    end
    if ((m_axi_awvalid && m_axi_awready) != (m_axi_wvalid && m_axi_wready)) aw_w_apart <= 1'b1;
    if (rsp_valid_o && rsp_ready_i) begin
      rsp_cthread[rsp_n[$clog2(Cap)-1:0]] <= rsp_thread_o;
      rsp_cfault[rsp_n[$clog2(Cap)-1:0]]  <= rsp_fault_o;
      rsp_ccause[rsp_n[$clog2(Cap)-1:0]]  <= rsp_cause_o;
      rsp_crdata[rsp_n[$clog2(Cap)-1:0]]  <= rsp_rdata_o;
      rsp_cpa[rsp_n[$clog2(Cap)-1:0]]     <= rsp_pa_o;
      rsp_chit[rsp_n[$clog2(Cap)-1:0]]    <= rsp_atc_hit_o;
      rsp_n <= rsp_n + 32'd1;
    end
    if (invc_valid_o && invc_ready_i) begin
      invc_citag[invc_n[$clog2(Cap)-1:0]] <= invc_itag_o;
      invc_n <= invc_n + 32'd1;
    end
  end
"""
CAP = 16

_SLOT_PORTS = ("m_axi_rvalid", "m_axi_rid", "m_axi_rdata", "m_axi_rresp", "m_axi_rlast", "m_axi_bvalid",
               "m_axi_bid", "m_axi_bresp")


def clock_wrapper(period_ns: int = 10) -> Path:
    """Generate build/rtl/cosim_top.sv: ats_dev_top with its clock and AXI beats made in Verilog.

    * The clock toggles with `always #` (Verilator --timing) instead of the
      cocotb GPI clock, which costs a VPI callback per edge. Rising edges are
      at k * period (k >= 1), so Python's cycle arithmetic is unchanged.
    * R and B beats come from response slots the Python slave books (see
      `_SLOT_HDL`); the slave still performs every access on the host's
      PhysMem and decides every response's cycle, ID, data and status.
    The wrapper's ports are the RTL's ports minus clk_i and the R/B inputs,
    copied from rtl/ats_dev_top.sv, so the other port BFMs are unchanged.
    """
    from tb import toolchain

    src = (toolchain.RTL / "ats_dev_top.sv").read_text()
    start = src.index("module ats_dev_top")
    lines = src[start:].splitlines()
    end = next(i for i, ln in enumerate(lines) if ln.strip() == ");")
    drop = re.compile(r"\s*input\s+logic\s*(\[[^\]]*\])?\s*(clk_i|" + "|".join(_SLOT_PORTS) + r")\s*,?\s*$")
    head = [ln for ln in lines[:end + 1] if not drop.match(ln)]
    # the port list must not end with a comma once trailing inputs were removed
    last = max(i for i, ln in enumerate(head) if re.search(r"\w\s*,?\s*$", ln) and ("input" in ln or "output" in ln))
    head[last] = re.sub(r",\s*$", "", head[last])
    head[0] = head[0].replace("module ats_dev_top", f"module {WRAP_TOP}")
    params = re.findall(r"^\s*parameter\s+int\s+unsigned\s+(\w+)\s*=", "\n".join(head), re.M)
    half = period_ns / 2
    body = ["", "  // generated by tb/rtldev.py (clock_wrapper): the clock lives in the simulator",
            "  logic clk_i;", "  initial clk_i = 1'b1;  // rising edges at k * period (k >= 1)",
            f"  always #({half}ns) clk_i = ~clk_i;", _SLOT_HDL.format(slots=SLOTS), _CAP_HDL.format(cap=CAP),
            f"  ats_dev_top #({', '.join(f'.{p}({p})' for p in params)}) u_dut (.*);", "", "endmodule", ""]
    text = "\n".join(["// Co-simulation wrapper of ats_dev_top (generated; do not edit)", *head, *body])
    out = BUILD / "rtl" / "cosim_top.sv"
    out.parent.mkdir(parents=True, exist_ok=True)
    if not out.exists() or out.read_text() != text:
        out.write_text(text)
    return out


def build(waves: bool = False, params: dict | None = None, tag: str | None = None) -> Path:
    """Build (cached; tb.toolchain.build_rtl locks and fixes the PCH flag) the co-simulation model.

    Both builds simulate the generated wrapper (cosim_top: Verilog clock, AXI
    response slots) around ats_dev_top, so a run with waves behaves exactly
    like one without. Without waves only the wrapper's ports and slots are
    VPI-visible (a faster model); with waves every signal is, so the GTKWave
    save file is generated from the names the simulator reports.
    """
    from tb import toolchain

    params = dict(params or {})
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


def toplevel_of(build_dir: Path) -> str:
    return WRAP_TOP


def run_sim(module: str, build_dir: Path, *, env: dict | None = None, waves: bool = False,
            wave_file: Path | None = None, seed: int = 1, test_dir: Path | None = None,
            results_xml: Path | None = None, log_file: Path | None = None) -> Path:
    """Run cocotb test module `module` (tb/) on a build; raise AssertionError on failure."""
    from cocotb_tools.runner import get_results, get_runner

    from tb import toolchain

    toolchain.setup_env()
    runner = get_runner("verilator")
    e = {"PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
         "COCOTB_TRUST_INERTIAL_WRITES": "1", "COCOTB_LOG_LEVEL": os.environ.get("COCOTB_LOG_LEVEL", "WARNING")}
    e.update({k: str(v) for k, v in (env or {}).items()})
    test_dir = Path(test_dir or build_dir).resolve()
    test_dir.mkdir(parents=True, exist_ok=True)
    args = ["--trace-file", str(Path(wave_file).resolve())] if (waves and wave_file) else []
    top = toplevel_of(build_dir)
    e["COSIM_CLOCK"] = "rtl" if top == WRAP_TOP else "gpi"
    xml = runner.test(hdl_toplevel=top, hdl_toplevel_lang="verilog", test_module=module,
                      build_dir=str(build_dir), test_dir=str(test_dir), extra_env=e, waves=waves, seed=seed,
                      test_args=args, results_xml=str(results_xml or (test_dir / f"{module}.xml")),
                      log_file=str(log_file) if log_file else None)
    tests, fails = get_results(xml)
    if tests == 0 or fails:
        raise AssertionError(f"cocotb {module}: {fails} of {tests} failed (see {xml})")
    return Path(xml)


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


_server: CosimServer | None = None


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


def run_scenario_rtl(scenario: Any, policy: str, seed: int = 0, *, compare_ref: bool = True,
                     srv: CosimServer | None = None, **kw: Any) -> Any:
    """`model.scheduler.run_scenario` on the RTL; returns its RunResult.

    This is the entry point `python -m model.matrix --device rtl` uses. A
    `Scenario` object, a path or scenario text is accepted. With
    `compare_ref` the same scenario, policy and seed also run on the
    reference device, and a verdict `rtl-vs-ref` (failing when the two runs
    fail different rules) is added, so a disagreement shows in the matrix
    cell it belongs to.
    """
    from model.scenario import ScenarioRunError

    payload = _portable(scenario)
    try:
        out = (srv or server()).call("scenario", scenario=payload, policy=policy, seed=seed, **kw)
    except CosimRemoteError as e:
        msg = str(e)
        if msg.startswith(ScenarioErrorTypes):
            name = getattr(scenario, "path", str(scenario))
            raise ScenarioRunError(name, None, f"on the RTL: {msg.splitlines()[0]}") from None
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


__all__ = ["CosimConfig", "Ports", "RtlDevice", "DeviceError", "build", "run_sim", "CosimServer", "server",
           "run_scenario_rtl", "CosimRemoteError", "ScenarioErrorTypes"]

ScenarioErrorTypes = ("ScenarioError", "ScenarioRunError")
