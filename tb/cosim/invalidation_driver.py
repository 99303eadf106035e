"""The invalidation driver: sends the host's ATS Invalidate Requests and watches their Invalidate Completions.

`send_inv` queues a request in the wrapper's invalidation queue
(tb/cosim/wrapper.py `_QUEUE_HDL`); more than the wrapper holds wait here
(`inv_q`) and follow as room frees. Each request's handshake (the queue's
read pointer steps, `_inv_cb`) and each Invalidate Completion (`_invc_cb`)
wakes Python once, at its edge, and is handed to the observers `on_inv` /
`on_cpl`.

`InvalidationDriver` is a part of `tb.cosim.ports.Ports`; it is not used alone.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from model.ats import InvalidateRequest
from tb.cosim.gpi import M32, Words
from tb.cosim.wrapper import CAP, INVQ


@dataclass
class InvRec:
    req: InvalidateRequest
    submitted: int
    edge: int | None = None
    complete: int | None = None



class InvalidationDriver:
    """The invalidation side of `Ports` (see the module docstring). From `Ports` it uses
    `itag_bits`, `P`, `armed`, `on_inv`, `on_cpl`, `callbacks`, `_live`, `time`, `_arm`, `_next`, `_kick`,
    `_fail`."""

    def _bind_invalidations(self, dut: Any, s: Any, ring: Any) -> None:
        """The wrapper's invalidation queue, its pointers and the completion capture ring."""
        self.inv_ready = s("inv_ready_o")
        self.iq = (Words(dut, "iq_meta", INVQ), Words(dut, "iq_a0", INVQ), Words(dut, "iq_a1", INVQ))
        self.iq_wp, self.iq_rp = s("iq_wp"), s("iq_rp")
        self._invc_citag = ring("invc_citag")
        self._iq_w = 0

    def _reset_invalidations(self) -> None:
        self.inv_q: deque[InvRec] = deque()  # waiting for room in the wrapper's queue
        self.inv_sent: deque[InvRec] = deque()  # in the wrapper's queue, not yet taken

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

