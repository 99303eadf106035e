"""The RTL as a `model.device.Device`: `ats_dev_top` in Verilator, driven from cocotb.

`RtlDevice` lets the host-model scheduler (`model.scheduler.run_scenario`) run
a scenario on the RTL exactly as it runs one on the reference device: `now` is
the current cycle, `submit`/`invalidate` queue to the command and invalidation
drivers, `run(n)` advances simulated time with one `Timer` (or, under `drive`,
one raw timed callback), and responses and completions come from the monitors
(tb/cosim/monitors.py). Watchdogs fail a command or an Invalidate Request left
unanswered (`CosimConfig.cmd_timeout`, `inv_timeout`) with a description of
everything outstanding. The timing convention is in tb/cosim/__init__.py.
"""
from __future__ import annotations

import traceback
from typing import Any, Callable

from model.ats import InvalidateRequest, PageRequest
from model.device import DevCommand, DevResponse, check_command
from model.memory import PhysMem
from model.trace import Trace
from tb.cosim.build import scenario_params_of_build
from tb.cosim.command_driver import CmdRec
from tb.cosim.config import DeviceError
from tb.cosim.invalidation_driver import InvRec
from tb.cosim.monitors import DeviceMonitors
from tb.cosim.ports import Ports

INF = float("inf")


class _RawWait:
    """What RtlDevice.run yields under RtlDevice.drive: wake me at qp(end)."""

    __slots__ = ("end",)

    def __init__(self, end: int) -> None:
        self.end = end

    def __await__(self):
        yield self


class RtlDevice(DeviceMonitors):
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
            p._sim.register_timed_callback(dt, step)

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
        check_command(cmd, self._busy)
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
            p.drain()  # the slave's accesses first: a response's DMA access is known before it
            p.poll()
        except DeviceError as e:
            self._raise(e)
        if p.error is not None:  # raised in a callback of the slave (host memory, bus_error)
            self._raise(p.error)
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

    def set_atc_split_huge(self, on: bool) -> None:
        """Scenario `atc-huge split`: the RTL parameter AtcSplitHuge of this build
        must match (the co-simulation picks the build: run_scenario_rtl)."""
        built = bool(scenario_params_of_build().get("AtcSplitHuge", 0))
        if built != on:
            raise ValueError(f"this RTL build has AtcSplitHuge={int(built)}, the scenario needs "
                             f"'atc-huge {'split' if on else 'whole'}' (AtcSplitHuge={int(on)}): run it through "
                             f"tb.rtldev.run_scenario_rtl, which picks the build")

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

