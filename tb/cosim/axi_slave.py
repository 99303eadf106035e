"""The AXI4 memory slave of the co-simulation: serves the RTL's walker and DMA reads and writes from the host's PhysMem.

A request is performed on the host's PhysMem in the cycle it is VALID
(`_request`/`_perform`), so the walker reads the very page-table bytes the
kernel model wrote and DMA lands in the memory the CPU side uses. Its
response beat is booked for the cycle before it is due (`latency` after the
address handshake, per-ID order, optionally reordered across IDs, one beat
per cycle, a seeded latency tail), and the wrapper presents it for exactly
that cycle (`_book`; tb/cosim/wrapper.py `_SLOT_HDL`). Bus errors
(`CosimConfig.bus_error`) give SLVERR and touch no memory; exclusive accesses
go through PhysMem's exclusive monitor (EXOKAY); `CosimConfig.tamper` plants
deliberate faults to prove the scoreboard and the watchdog can fail.

AR and AW+W wake Python once per transfer, at the handshake edge, through a
value-change callback on the wrapper's capture counter (`_ar_cb`, `_aw_cb`):
the slave must act on a request at once.

`AxiSlave` is a part of `tb.cosim.ports.Ports` (which binds the clock,
reset and callbacks); it is not used alone.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tb.cosim.config import DeviceError
from tb.cosim.gpi import M32, Words
from tb.cosim.wrapper import CAP, SLOTS


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



class AxiSlave:
    """The slave side of `Ports` (see the module docstring). From `Ports` it uses `cfg`, `mem`,
    `rng`, `P`, `T0`, `pa_bits`, `id_bits`, `seen`, `callbacks`, `on_mem`, `_sim`, `_live`, `time`,
    `cycle`, `_kick`, `_fail`."""

    def _bind_slave(self, dut: Any, ring: Any) -> None:
        """The wrapper's response slots and AR / AW+W capture rings."""
        # response slots, R and B: (cycle, {resp, id}, data bits 31:0, data bits 63:32)
        self.rs = (Words(dut, "rs_cyc", SLOTS), Words(dut, "rs_meta", SLOTS), Words(dut, "rs_d0", SLOTS),
                   Words(dut, "rs_d1", SLOTS))
        self.bs = (Words(dut, "bs_cyc", SLOTS), Words(dut, "bs_meta", SLOTS), None, None)
        self._ar_c0, self._ar_c1 = ring("ar_c0"), ring("ar_c1")
        self._aw_c0, self._aw_c1, self._aw_cd0, self._aw_cd1 = ring("aw_c0"), ring("aw_c1"), ring("aw_cd0"), \
            ring("aw_cd1")

    def _reset_slave(self) -> None:
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

    def _forget_beats(self) -> None:
        """Beats booked before a reset are never presented."""
        for cyc_words in (self.rs[0], self.bs[0]):
            for i in range(SLOTS):
                cyc_words.set(i, M32)

    # ------------------------------------------------------------------ address handshakes

    def _ar_cb(self) -> None:
        """AR handshake at this edge: perform the read and book its R beat."""
        self._sim.register_value_change_callback(self._h_ar_n, self._ar_cb, self._sim.VALUE_CHANGE)
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
            hi, lo = self._sim.get_sim_time()
            self._request(False, (v >> pb) & ((1 << ib) - 1), v & ((1 << pb) - 1), (((hi << 32) | lo) - self.T0) // self.P,
                          lock=bool(v >> (pb + ib) & 1))
        except BaseException as e:  # noqa: BLE001 - reported by RtlDevice.run
            self._fail(e)

    def _aw_cb(self) -> None:
        """AW+W handshake at this edge: perform the write and book its B beat."""
        self._sim.register_value_change_callback(self._h_aw_n, self._aw_cb, self._sim.VALUE_CHANGE)
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
