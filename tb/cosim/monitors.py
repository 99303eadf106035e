"""The device monitors: turn what the ports saw into trace events and responses, in time order.

The ports report a transfer the moment its callback runs (a completion at
its edge) or at the next quiet point (AXI accesses, from the slave's log;
responses, from their ring). These monitors buffer each observation with
the simulated time it happened and hand it to the trace (through
`RtlDevice.emit`) and to the scheduler (`take_responses`,
`take_completions`) only once `run()` has passed that time, in time order
(`_collect`): `MemAccess` at h(perform cycle), `DevAccess` and `InvCpl` at
their handshake edge, `InvReq` at its handshake edge ahead of everything
else of that edge.

`DeviceMonitors` is a part of `tb.cosim.device.RtlDevice`; it is not used alone.
"""
from __future__ import annotations

import heapq
from typing import Any

from model.ats import inv_range
from model.device import DevResponse
from model.trace import DevAccess, InvCpl, InvReq, MemAccess
from tb.cosim.axi_port import AxiAcc
from tb.cosim.command_driver import CmdRec
from tb.cosim.config import DeviceError
from tb.cosim.invalidation_driver import InvRec


class DeviceMonitors:
    """The monitor side of `RtlDevice` (see the module docstring). From `RtlDevice` it uses
    `ports`, `epoch`, `_abs`, `_busy`, `_nbusy`, `_pend`, `_pseq`, `_itags`, `_responses`,
    `_completions`, `stats`, `num_threads`, `emit`, `on_response`, `t`."""

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
        # performed at its address handshake; in the trace at h(perform), perform = accept - 1
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
