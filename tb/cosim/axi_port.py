"""The co-simulation's AXI4 memory: the C++ slave inside the simulator, serving the host's PhysMem.

The slave is the one every testbench uses (tb/csrc/axi_slave.cpp, called at
each rising edge through the DPI shim the wrapper instantiates,
tb/cosim/wrapper.py `_SLAVE_HDL`; front end of the block tests
tb/axi_mem.py). It reads and writes the host model's own PhysMem pages by
pointer (`PhysMem.page_hook` keeps the registration current), so the walker
reads the very page-table bytes the kernel model wrote and DMA lands in the
memory the CPU side uses. No Python runs per access: the slave logs what it
accepts and what it answered, and `drain()` reads both logs once per
scheduler step (RtlDevice.run), handing each access to `on_mem`.

Python is called from inside the simulator only where the host model must
decide: exclusive accesses (ARLOCK/AWLOCK, the walker's accessed/dirty
updates) go to PhysMem's exclusive monitor (a host store to a reserved
granule makes the next exclusive write fail, OKAY; a held reservation
answers EXOKAY); a write to a page the host never allocated asks PhysMem for
it; and with `CosimConfig.bus_error` set, every access asks that predicate
whether to answer SLVERR (memory untouched, reads give 0).

Configuration comes from CosimConfig at every reset (`_start_slave`):
latency (and `walk_latency` for walker IDs) and its seeded tail, reordering
across IDs, and the deliberate faults of `CosimConfig.tamper` as slave
ranges (flip a bit of DMA or walker read data on R while the log keeps the
value served; never answer the first DMA read). Back-pressure stays in the
wrapper (seeded, `_BP_HDL`): the slave sees VALID only when the wrapper lets
a transfer through.

Timing: an access whose address handshake is at edge e is performed on
memory at that edge (the C++ slave's `accept`), after the host's actions at
the quiet point of cycle e-1 and before those of cycle e. It is stamped e-1
(`perform`, the cycle its request was VALID), the co-simulation's
convention (tb/cosim/__init__.py). `CosimConfig.latency` L counts from that
cycle to the response handshake, so the slave is given L-1 from acceptance:
the R/B beat is presented in cycle e+L-2 and taken at edge e+L-1.

`AxiPort` is a part of `tb.cosim.ports.Ports`; it is not used alone.
"""
from __future__ import annotations

import ctypes
import struct
from dataclasses import dataclass
from typing import Any

from tb.cosim.config import DeviceError

DMA_ID = 8  # AXI ID bit 3: the device's DMA (else the walker); bits 2:0 the thread


@dataclass(slots=True)
class AxiAcc:
    """One AXI transaction as the slave performed it (cycles absolute)."""

    write: bool
    id: int
    addr: int
    accept: int  # address handshake edge (memory read or written then)
    data: int = 0  # read: the value served (before any tamper flip); write: the value written
    strb: int = 0xFF
    error: bool = False  # answered SLVERR / DECERR, memory untouched
    due: int = 0  # earliest response handshake
    perform: int = 0  # cycle the request was VALID (accept - 1): the access's time in the trace
    done: int | None = None  # response handshake edge
    seq: int = 0
    lock: bool = False  # exclusive (ARLOCK/AWLOCK): served by PhysMem's exclusive monitor
    exok: bool = False  # answered EXOKAY

    @property
    def source(self) -> str:
        return "dma" if self.id & DMA_ID else "walk"

    @property
    def tag(self) -> int:
        return self.id & 7


# ------------------------------------------------------------------ callbacks from the C++ slave

_current: Any = None  # the Ports the slave serves (one slave per simulator)


def _cb_page(pfn: int) -> None:
    p = _current
    if p is not None and p.mem is not None:
        try:
            p.mem.page_buffer(pfn)
        except BaseException as e:  # noqa: BLE001 - the C++ side then keeps a page of its own
            p._fail(e)


def _cb_excl(kind: int, id_: int, pa: int, v: Any, strb: int) -> int:
    p = _current
    if p is None or p.mem is None:
        return 0
    try:
        return p.mem.slave_exclusive(kind, id_, pa, v, strb)
    except BaseException as e:  # noqa: BLE001 - reported by RtlDevice.run
        p._fail(e)
        return 0


def _cb_err(write: int, id_: int, addr: int) -> int:
    p = _current
    be = p.cfg.bus_error if p is not None else None
    if be is None:
        return 0
    try:
        return 2 if be(addr, "dma" if id_ & DMA_ID else "walk") else 0  # SLVERR
    except BaseException as e:  # noqa: BLE001
        p._fail(e)
        return 0


_CBS: tuple | None = None  # ctypes callback objects, alive as long as the module (the slave keeps their addresses)


def _callbacks() -> tuple:
    global _CBS
    if _CBS is None:
        from tb.axi_mem import ACC_CB, EXCL_CB, ERR_CB, PAGE_CB

        # (NULL callbacks are the types called with no argument)
        _CBS = (PAGE_CB(_cb_page), EXCL_CB(_cb_excl), ERR_CB(_cb_err), ACC_CB(), ERR_CB())
    return _CBS


TAMPER = ("rdata", "walk", "drop")
_DRAIN = 64  # log entries read per call
# tb/csrc/axi_slave.h AxsAcc: seq, addr, data, accept, due, perform, done, id, write, strb, lock, resp,
# held, drop (+ padding); unpacked in one C loop per drain instead of a ctypes field read per value
_ACC = struct.Struct("=7QI6B6x")


class AxiPort:
    """The slave side of `Ports` (see the module docstring). From `Ports` it uses `cfg`, `mem`,
    `on_mem`, `cycle`, `_fail`."""

    def _bind_slave(self, dut: Any) -> None:
        from tb.axi_mem import _Acc, slave_lib

        try:
            self._lib = slave_lib()
        except RuntimeError as e:
            raise DeviceError(f"{dut._name}: {e}") from None
        self._accbuf = (_Acc * _DRAIN)()
        if ctypes.sizeof(_Acc) != _ACC.size:
            raise DeviceError(f"AxsAcc is {ctypes.sizeof(_Acc)} bytes, the unpacker expects {_ACC.size}")
        self._accview = memoryview(self._accbuf).cast("B")
        self._seqbuf = (ctypes.c_uint64 * _DRAIN)()
        self._cycbuf = (ctypes.c_uint64 * _DRAIN)()
        self._pages: Any = None
        self.axi_seed = self.cfg.seed  # the slave's latency draws (CosimServer's configure sets it per run)
        self._lib.axs_reset(self.cycle(), self.axi_seed, 0)

    def _reset_slave(self) -> None:
        self.inflight: dict[int, AxiAcc] = {}
        self.lat_hist: dict[int, int] = {}  # cycle the request was VALID -> response handshake, cycles

    def _stop_slave(self) -> None:
        """Reset starts: the slave forgets every access in flight (never answered) and its pages; READYs low."""
        global _current
        self._lib.axs_reset(self.cycle(), self.axi_seed, 0)
        if self._pages is not None:
            self._pages.detach()
            self._pages = None
        if _current is self:
            _current = None

    def _start_slave(self) -> None:
        """Reset over: serve `mem` with the settings of `cfg`, READYs up from the next edge."""
        global _current
        from tb.axi_mem import FLIP, NO_ANSWER, _Pages

        cfg, lib = self.cfg, self._lib
        if cfg.tamper is not None and cfg.tamper not in TAMPER:
            raise ValueError(f"CosimConfig.tamper {cfg.tamper!r}: one of {', '.join(TAMPER)} or None")
        lib.axs_reset(self.cycle(), self.axi_seed & (2**64 - 1), 0)
        page_cb, excl_cb, err_cb, no_acc, no_err = _callbacks()
        _current = self
        if self.mem is not None:
            self._pages = _Pages(lib, self.mem)
            lib.axs_set_callbacks(no_acc, no_acc, page_cb, excl_cb)
        lib.axs_set_error_cb(err_cb if cfg.bus_error is not None else no_err)
        lo, hi = cfg.latency
        p, tlo, thi = cfg.latency_tail or (0.0, 1, 1)
        lib.axs_set_timing(lo - 1, hi - 1, p, tlo - 1, thi - 1, int(cfg.reorder))
        if cfg.walk_latency is not None:
            lib.axs_set_id_latency(DMA_ID, 0, cfg.walk_latency[0] - 1, cfg.walk_latency[1] - 1)
        for ch in range(3):
            lib.axs_set_stall(ch, 0.0, 1, 1)  # back-pressure: the wrapper's (_BP_HDL)
        top = 2**64 - 1
        if cfg.tamper == "rdata":  # bit 0 of DMA read data on R
            lib.axs_add_range(0, top, FLIP, 0, 1, 0, DMA_ID, DMA_ID, -1)
        elif cfg.tamper == "walk":  # bit 13 of every walker read on R
            lib.axs_add_range(0, top, FLIP, 13, 1, 0, DMA_ID, 0, -1)
        elif cfg.tamper == "drop":  # the first DMA read is never answered (a hung command)
            lib.axs_add_range(0, top, NO_ANSWER, 0, 1, 0, DMA_ID, DMA_ID, 1)
        lib.axs_set_log(1)
        lib.axs_start(self.cycle())

    # ------------------------------------------------------------------ once per scheduler step

    def drain(self) -> None:
        """Hand every access the slave accepted since the last call to `on_mem`, in acceptance
        order, then retire the answered ones (called once per scheduler step, RtlDevice.run)."""
        lib, buf, view = self._lib, self._accbuf, self._accview
        inflight, obs = self.inflight, self.on_mem
        dirty = getattr(self.mem, "dirty", None)
        while True:
            k = lib.axs_drain(buf, _DRAIN)
            if not k:
                break
            for seq, addr, data, accept, due, _, _, id_, write, strb, lock, resp, _, _ in \
                    _ACC.iter_unpack(view[:k * _ACC.size]):
                acc = AxiAcc(write == 1, id_, addr, accept, data, strb, resp >= 2, due, accept - 1, None, seq,
                             lock == 1, resp == 1)
                if write and resp < 2 and dirty is not None:  # written in place: the scoreboard must re-walk
                    dirty.add(addr >> 12)
                inflight[acc.seq] = acc
                for f in obs:
                    f(acc)
            if k < _DRAIN:
                break
        seqs, cycs = self._seqbuf, self._cycbuf
        hist = self.lat_hist
        while True:
            k = lib.axs_drain_done(seqs, cycs, _DRAIN)
            for i in range(k):
                acc = inflight.pop(seqs[i], None)
                if acc is not None:
                    acc.done = cycs[i]
                    lat = acc.done - acc.perform
                    hist[lat] = hist.get(lat, 0) + 1
            if k < _DRAIN:
                break
        if lib.axs_protocol_errors():
            errs = [lib.axs_protocol_error(i).decode() for i in range(lib.axs_protocol_errors())]
            raise DeviceError(f"AXI protocol: {'; '.join(errs[:4])}")

    def busy(self) -> bool:
        """An AXI access is still waiting for its response."""
        return self._lib.axs_inflight() > 0

    def slave_state(self) -> list[str]:
        """What the slave holds, for a failure message."""
        lines = [f"  AXI accesses in flight in the slave: {self._lib.axs_inflight()}"]
        for a in self.inflight.values():
            lines.append(f"  AXI in flight: {'W' if a.write else 'R'} id={a.id:#x} pa={a.addr:#x} "
                         f"accept={a.accept} due={a.due}")
        return lines
