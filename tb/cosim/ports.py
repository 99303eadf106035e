"""`Ports`: reset, clocking and every bus functional model of `ats_dev_top` as raw GPI callbacks.

Works on the generated wrapper `cosim_top` (tb/cosim/wrapper.py): clock in
Verilog, the RTL as `u_dut`, AXI response slots, command and Invalidate
Request queues, handshake capture rings and the C++ AXI slave. `Ports` is
assembled from one part per concern, each in its own module:

* tb/cosim/axi_port.py: the AXI4 memory slave (C++ in the simulator) and its access log;
* tb/cosim/command_driver.py: the command queue (`send_cmd`);
* tb/cosim/invalidation_driver.py: Invalidate Requests and Completions;
* tb/cosim/pri_responder.py: Page Requests and PRG Responses.

This module keeps what they share: the simulator's time and the cycle
arithmetic, reset, the seeded back-pressure (`CosimConfig.stall`,
`ar_hold`; `apply_bp`), the value-change callback plumbing, and the
response monitor (`poll`). READY inputs are held high (`rsp_ready_i`,
`invc_ready_i`; the slave's `m_axi_*ready`) except where the wrapper's
back-pressure refuses for a stretch; the capture rings and the slave see
the READY the RTL sees. The RTL's RREADY/BREADY are constant 1 (checked at
start).

How monitors see transfers without a wake per clock: AXI accesses wake
nobody, the C++ slave logs them and `drain()` reads the log once per
scheduler step. For the other channels the wrapper counts the handshakes
and stores their payloads in a ring. Completions wake Python once per
transfer, at the handshake edge, through a value-change callback on the
channel's counter; so does each Invalidate Request handshake (on the
queue's read pointer). Responses wake nobody: `poll()`, called by the
device binding at each quiet point, reads them in bulk from the wrapper's
response log (tb/csrc/cosim_rsp.cpp, filled through DPI at each response
handshake), each with its handshake cycle and the cycle its command was
taken. A
counter that jumps further than its ring can hold is reported as a lost
transfer.

Observers: `on_mem(acc)` for each access the slave performed (from `drain`),
`on_rsp(thread, fields, edge, issue)` for every response handshake (from
`poll`), `on_cpl(itag, edge)` for every completion, `on_inv(rec)` when a
request's handshake edge is known.
"""
from __future__ import annotations

import ctypes
import struct
from typing import Any, Callable

from model.memory import PhysMem
from tb.cosim.axi_port import AxiAcc, AxiPort
from tb.cosim.command_driver import CommandDriver
from tb.cosim.config import BP_PORTS, CosimConfig, DeviceError
from tb.cosim.gpi import M32, Sig, Words, simulator
from tb.cosim.invalidation_driver import InvalidationDriver, InvRec
from tb.cosim.pri_responder import PriResponder
from tb.cosim.wrapper import CAP, WRAP_TOP


# tb/csrc/cosim_rsp.cpp CosRsp: rdata, pa, meta, handshake cycle, issue cycle (+ padding)
_RSP = struct.Struct("=QQIII4x")
_RSP_N = 32  # responses read per call


class Ports(AxiPort, CommandDriver, InvalidationDriver, PriResponder):
    """Reset and every bus functional model of `ats_dev_top` (see the module docstring)."""

    _CH = ("invc", "inv")  # channels that wake Python

    def __init__(self, dut: Any, cfg: CosimConfig | None = None, mem: PhysMem | None = None) -> None:
        from cocotb.utils import get_sim_steps

        self._sim = simulator()
        self.dut = dut
        self.cfg = cfg or CosimConfig()
        self.mem = mem
        self.P = get_sim_steps(self.cfg.period_ns, "ns")
        if self.P % 4:
            raise ValueError("clock period must be a multiple of 4 simulator steps")
        self.Q = self.P // 4
        self.H = self.P // 2
        self.T0 = 0
        # the wrapper (tb.cosim.wrapper.clock_wrapper): the C++ slave answers AXI, commands and
        # Invalidate Requests go through its queues, handshakes are read from its capture rings
        if not hasattr(dut, "cq_wp") or not hasattr(dut, "invc_n"):
            raise DeviceError(f"{dut._name}: the co-simulation needs the {WRAP_TOP} wrapper (tb.cosim.build)")
        s = lambda n: Sig(dut, n)  # noqa: E731
        self.rsp_ready, self.invc_ready = s("rsp_ready_i"), s("invc_ready_i")
        a = lambda n: Sig(dut, "m_axi_" + n)  # noqa: E731
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

        def arr(name: str, n: int) -> list[Sig]:
            h = getattr(dut, name)
            return [Sig.of(h[i], f"{name}[{i}]") for i in range(n)]

        # capture rings: raw GPI handles (read in the callbacks)
        ring = lambda name: [sig.h for sig in arr(name, CAP)]  # noqa: E731
        self._bind_slave(dut)
        self._bind_commands(dut, s, arr)
        self._bind_invalidations(dut, s, ring)
        # the response log (tb/csrc/cosim_rsp.cpp, read by poll)
        lib = self._lib
        if not hasattr(lib, "cos_rsp_drain"):
            raise DeviceError(f"{dut._name}: this simulator has no response log (cos_rsp_drain): rebuild it "
                              f"(tb.cosim.build)")
        lib.cos_rsp_drain.restype = ctypes.c_size_t
        lib.cos_rsp_drain.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
        lib.cos_rsp_clear.restype = None
        lib.cos_rsp_clear.argtypes = []
        self._rsp_buf = ctypes.create_string_buffer(_RSP.size * _RSP_N)
        self._rsp_view = memoryview(self._rsp_buf).cast("B")
        self._cnt = {"rsp": s("rsp_n"), "invc": s("invc_n"), "inv": self.iq_rp}
        self._cb = {"invc": self._invc_cb, "inv": self._inv_cb}
        self.seen = {ch: 0 for ch in self._cnt}
        self._h_kick = s("py_kick").h
        self.bp_cfg = Words(dut, "bp_cfg", len(BP_PORTS))
        self.bp_seed, self.bp_hold = s("bp_seed"), s("bp_hold")
        self._bp_sn = [sig.h for sig in arr("bp_sn", len(BP_PORTS))]
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
        hi, lo = self._sim.get_sim_time()
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
        for sig, v in ((self.rsp_ready, 1), (self.invc_ready, 1), (self.rst, 0), (self.tbl_base, pasid_tbl_base)):
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
        self._stop_slave()
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
        self._start_slave()
        self._kick()
        if self.cq_rp.get() != self._cq_w or self.iq_rp.get() != self._iq_w:
            raise DeviceError("the wrapper's command / invalidation queues did not empty in reset")
        for ch in self._cnt:  # resynchronise with the capture counters (they never reset)
            self.seen[ch] = self._cnt[ch].get()
        self._lib.cos_rsp_clear()  # responses of before the reset are never reported
        for ch in self._CH:
            self._arm(ch)
        self._live = True
        return k

    def _reset_state(self) -> None:
        self._reset_commands()
        self._reset_invalidations()
        self._reset_slave()

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
        self._sim.register_value_change_callback(self._cnt[ch].h, self._cb[ch], self._sim.VALUE_CHANGE)

    def _next(self, ch: str) -> int:
        """The counter of `ch` stepped at this edge: its ring index (exactly one new transfer)."""
        n = self._cnt[ch].get()
        seen = self.seen[ch]
        if n != (seen + 1) & M32:
            raise DeviceError(f"{ch}: capture counter jumped from {seen} to {n} (a handshake was missed)")
        self.seen[ch] = n
        return seen

    # ------------------------------------------------------------------ response monitor

    def poll(self) -> None:
        """At a quiet point: hand every response since the last poll to `on_rsp`, in handshake
        order (read from the wrapper's response log in bulk)."""
        lib, buf, view = self._lib, self._rsp_buf, self._rsp_view
        k = lib.cos_rsp_drain(buf, _RSP_N)
        if not k:
            return
        tb = self.thread_bits
        tmask = (1 << tb) - 1
        obs = self.on_rsp
        while True:
            for rdata, pa, m, edge, iss in _RSP.iter_unpack(view[:k * _RSP.size]):
                thread = m & tmask
                fields = (thread, (m >> (tb + 4)) & 1, (m >> tb) & 0xF, rdata, pa, m >> (tb + 5))
                for f in obs:
                    f(thread, fields, edge, iss)
            if k < _RSP_N:
                break
            k = lib.cos_rsp_drain(buf, _RSP_N)
            if not k:
                break

    # ------------------------------------------------------------------ configuration inputs

    def atc_wp_fault(self, on: bool) -> None:
        """atc_wp_fault_i (scenario `atc-write-upgrade fault`)."""
        Sig(self.dut, "atc_wp_fault_i").set(int(on))
        self._kick()

    def pwc_keep_sup(self, on: bool) -> None:
        """pwc_keep_sup_i (scenario `pwc-supervisor keep`)."""
        Sig(self.dut, "pwc_keep_sup_i").set(int(on))
        self._kick()


    def state(self) -> str:
        """What is queued and in flight, for a failure message."""
        lines = [f"cycle {self.cycle()} (live={self._live})"]
        if self.cmd_q:
            lines.append(f"  commands queued or in flight {len(self.cmd_q)} (wrapper queue: written "
                         f"{self._cq_w}, taken {self.cq_rp.get()})")
        if self.inv_q or self.inv_sent:
            lines.append(f"  Invalidate Requests not yet taken: {len(self.inv_sent)} in the wrapper, "
                         f"{len(self.inv_q)} waiting for room (inv_ready_o={self.inv_ready.get()})")
        lines += self.slave_state()
        return "\n".join(lines)
