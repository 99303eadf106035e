"""The translation/DMA command driver: queues the device commands in the wrapper, tracks each to its response.

`send_cmd` writes a command into the wrapper's command queue (tb/cosim/wrapper.py
`_QUEUE_HDL`) at a quiet point; the queue presents it on the RTL's `cmd_*`
inputs until its handshake, so raising, holding and dropping VALID costs no
Python wake. The cycle a command was taken is read back from the wrapper
(`issue_of`, and with each response from its capture ring).

`CommandDriver` is a part of `tb.cosim.ports.Ports`; it is not used alone.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from model.device import DevCommand, DevResponse
from tb.cosim.axi_port import AxiAcc
from tb.cosim.config import DeviceError
from tb.cosim.gpi import M32, Words
from tb.cosim.wrapper import CMDQ


@dataclass
class CmdRec:
    """One command from submit to response."""

    cmd: DevCommand
    uid: int
    submitted: int  # absolute cycle of submit()
    edge: int | None = None  # absolute handshake cycle (issue), known once the response is read
    mem: AxiAcc | None = None  # the DMA access the slave performed for it
    rsp: DevResponse | None = None
    sb: Any = None  # scoreboard state
    qidx: int = -1  # position in the wrapper's command queue (Ports.send_cmd)


class CommandDriver:
    """The command side of `Ports` (see the module docstring). From `Ports` it uses
    `thread_bits` and `_kick`."""

    def _bind_commands(self, dut: Any, s: Any, arr: Any) -> None:
        """The wrapper's command queue and its pointers."""
        self.cq = (Words(dut, "cq_meta", CMDQ), Words(dut, "cq_va0", CMDQ), Words(dut, "cq_va1", CMDQ),
                   Words(dut, "cq_wd0", CMDQ), Words(dut, "cq_wd1", CMDQ))
        self.cq_wp, self.cq_rp = s("cq_wp"), s("cq_rp")
        self.cq_issue = arr("cq_issue", len(dut.cq_issue))
        self._h_cq_wp = self.cq_wp.h
        self._cq_w = 0  # commands written to the queue (cq_wp); never reset, like the wrapper's pointers

    def _reset_commands(self) -> None:
        self.cmd_q: deque[CmdRec] = deque()  # in the wrapper's queue or in flight, oldest first

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
