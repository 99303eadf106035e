"""Host side of the Page Request Interface of `ats_dev_top` for block tests (cocotb).

`PriPort` accepts every Page Request (`pr_*`, READY always high or stalled at
random) and answers each one as its `handler` says: a handler returns
`(delay_cycles, PrgResponse)` or None (never answer: the device must time
out). Responses are driven on `prgr_*` for one cycle each, in due order.
Every request seen is logged as a `model.ats.PageRequest` with its cycle.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable

import cocotb
from cocotb.triggers import ReadOnly

from model.ats import PageRequest, PrgResponse
from tb.axi_mem import CycleClock, fast

Handler = Callable[[PageRequest], "tuple[int, int] | None"]


@dataclass
class SeenRequest:
    req: PageRequest
    cycle: int


class PriPort:
    """Drives pr_ready_i / prgr_*, samples pr_* each cycle."""

    def __init__(self, dut, cc: CycleClock, handler: Handler, rng: random.Random | None = None,
                 stall_prob: float = 0.0):
        self.dut = dut
        self.cc = cc
        self.handler = handler
        self.rng = rng or random.Random(1)
        self.stall_prob = stall_prob
        self.log: list[SeenRequest] = []
        self.answered: list[tuple[int, int, int]] = []  # (cycle, prg index, code)
        self._due: list[tuple[int, int, int]] = []  # (cycle, prg index, code)

    def enable(self, on: bool = True) -> None:
        fast(self.dut, "pri_en_i").set(int(on))

    def respond(self, prgi: int, code: int, at: int) -> None:
        """Queue a PRG Response (also one nobody asked for) for cycle `at`."""
        self._due.append((at, prgi, int(code)))
        self._due.sort()

    def start(self):
        d = self.dut
        self.s = {n: fast(d, n) for n in ("pr_valid_o", "pr_ready_i", "pr_pasid_o", "pr_addr_o", "pr_read_o",
                                          "pr_write_o", "pr_prgi_o", "pr_last_o", "prgr_valid_i", "prgr_prgi_i",
                                          "prgr_code_i")}
        for n in ("pr_ready_i", "prgr_valid_i", "prgr_prgi_i", "prgr_code_i"):
            self.s[n].set(0)
        return cocotb.start_soon(self._run())

    async def _run(self) -> None:
        cc = self.cc
        x = self.s
        k = await cc.sync()
        while True:
            if self._due and self._due[0][0] <= k:
                _, prgi, code = self._due.pop(0)
                x["prgr_valid_i"].set(1)
                x["prgr_prgi_i"].set(prgi)
                x["prgr_code_i"].set(code)
                self.answered.append((k, prgi, code))
            else:
                x["prgr_valid_i"].set(0)
            ready = self.rng.random() >= self.stall_prob
            x["pr_ready_i"].set(int(ready))
            await ReadOnly()
            if ready and x["pr_valid_o"].get() == 1:
                addr = x["pr_addr_o"].get()
                req = PageRequest(pasid=x["pr_pasid_o"].get(), va=(addr << 12) & ((1 << 64) - 1),
                                  r=bool(x["pr_read_o"].get()), w=bool(x["pr_write_o"].get()),
                                  prg_index=x["pr_prgi_o"].get(), last=bool(x["pr_last_o"].get()))
                self.log.append(SeenRequest(req, k))
                ans = self.handler(req)
                if ans is not None:
                    delay, code = ans
                    self.respond(req.prg_index, code, k + 1 + max(0, delay))
            k += 1
            await cc.qp(k)


SUCCESS, INVALID, FAILURE = PrgResponse.SUCCESS, PrgResponse.INVALID, PrgResponse.FAILURE
