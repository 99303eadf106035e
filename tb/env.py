"""pyuvm environment around the co-simulation BFMs (tb.rtldev.Ports / RtlDevice).

Roles follow the pyuvm TinyALU example, kept pragmatic: the components hold
the same raw-callback BFMs the device binding uses (no second implementation)
and pass events through analysis ports.

    CosimTest (uvm_test)                  runs the host-model scheduler on the RTL
      CosimEnv (uvm_env)
        cmd   CmdAgent   driver: command port      monitor: responses    -> DevAccess
        inv   InvAgent   driver: Invalidate Req.   monitor: req + cpl     -> InvReq, InvCpl
        axi   AxiAgent   slave: AXI4 over PhysMem  monitor: accesses      -> MemAccess
        trace TraceWriter      subscriber: every monitored event into the one Trace
        sb    Scoreboard       every response vs. the golden walk (model.pagetable.translate)
                               on the page tables of its access window; every read value
                               vs. the data the slave served; every DMA vs. its response
        chk   CheckerSubscriber  the model/check checkers over the trace (verdicts)

Everything is configured through ConfigDB ("JOB": a `CosimJob`). The monitors
time-stamp events at the cycle of their handshake (see tb.rtldev); the trace
the checkers read is exactly what the analysis ports carried plus the host
model's own events.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

from pyuvm import (ConfigDB, uvm_agent, uvm_analysis_port, uvm_component, uvm_env, uvm_monitor,
                   uvm_subscriber, uvm_test)

from model.ats import PRI_FAULTS, Fault
from model.check import Verdict, check_all
from model.memory import PAGE_SHIFT, PAGE_SIZE, PhysMem
from model.pagetable import is_canonical, translate
from model.trace import DevAccess, InvCpl, InvReq, MemAccess, Trace

# outcomes of a Page Request: each stands for the NOT_PRESENT / WRITE_PROTECT walk that sent it
PRI_OUTCOMES = (Fault.PRG_INVALID, Fault.PRG_FAILURE, Fault.PRI_TIMEOUT, Fault.LIVELOCK)

_BUS_WALK, _BUS_DATA, _BUS_TIMEOUT = int(Fault.BUS_WALK), int(Fault.BUS_DATA), int(Fault.BUS_TIMEOUT)

# pyuvm's ObjectionHandler.raise_objection records its caller with inspect.stack(),
# which reads source files for every frame (about 25 ms per call here). It only
# needs the caller's frame, so give that module a stack() that walks frames.
class _FrameStack:
    @staticmethod
    def stack(context: int = 1) -> list:
        import sys
        from types import SimpleNamespace

        f = sys._getframe(1)
        out = []
        while f is not None:
            out.append(SimpleNamespace(frame=f))
            f = f.f_back
        return out


def _speed_up_pyuvm() -> None:
    import pyuvm._utility_classes as uc

    if getattr(uc, "inspect", None) is not _FrameStack:
        uc.inspect = _FrameStack


_speed_up_pyuvm()

# --------------------------------------------------------------------------- watched memory


class WatchedMem(PhysMem):
    """PhysMem that notes which 4 KiB pages were written since the last look.

    The scoreboard recomputes a golden walk only when a page it read from
    changed, so checking costs a set lookup per run step, not a walk.
    """

    __slots__ = ("dirty",)

    def __init__(self, pa_bits: int = 48) -> None:
        super().__init__(pa_bits)
        self.dirty: set[int] = set()

    def write(self, pa: int, data: bytes) -> None:
        super().write(pa, data)
        for p in range(pa >> PAGE_SHIFT, (pa + max(len(data), 1) - 1 >> PAGE_SHIFT) + 1):
            self.dirty.add(p)

    def write64(self, pa: int, value: int) -> None:
        super().write64(pa, value)
        self.dirty.add(pa >> PAGE_SHIFT)
        if (pa & (PAGE_SIZE - 1)) > PAGE_SIZE - 8:
            self.dirty.add((pa >> PAGE_SHIFT) + 1)

    def copy_page(self, dst_pa: int, src_pa: int) -> None:
        super().copy_page(dst_pa, src_pa)
        self.dirty.add(dst_pa >> PAGE_SHIFT)

    def zero_page(self, pa: int) -> None:
        super().zero_page(pa)
        self.dirty.add(pa >> PAGE_SHIFT)


# --------------------------------------------------------------------------- golden translations


@dataclass
class Version:
    """The golden walk of (pasid, page, write) while the page tables stayed the same."""

    pasid: int
    write: bool
    t_from: int
    t_to: int | None  # first cycle it no longer held (None: still holds)
    fault: int
    vbase: int
    size: int
    pbase: int
    writable: bool

    def holds_in(self, lo: int, hi: int) -> bool:
        """Valid at some instant of (lo, hi]."""
        return self.t_from <= hi and (self.t_to is None or self.t_to > lo)

    def pa_of(self, va: int) -> int:
        return self.pbase + (va - self.vbase)


class Golden:
    """Golden translations for every page a command used, versioned over time.

    A version is computed with `model.pagetable.translate` (the PASID entry,
    then the 4-level walk: what the RTL walker does) on the host's memory at a
    scheduler step. When a page the walk read is written, the version is
    closed at the next step and the walk recomputed; a new version is kept
    only if the result changed.
    """

    def __init__(self, mem: WatchedMem, tbl_base: int, pa_bits: int = 48,
                 keep_sup: Callable[[], bool] = lambda: False) -> None:
        self.mem = mem
        self.base = tbl_base
        self.pa_bits = pa_bits
        # the device's pwc_keep_sup_i: U/S decided at the leaf (the fault cause of a user
        # walk of a kernel address is then that of the first entry that fails otherwise)
        self.keep_sup = keep_sup
        self.current: dict[tuple[int, int, bool], Version] = {}
        self.page_keys: dict[int, set[tuple[int, int, bool]]] = {}
        self.small: dict[tuple[int, int], list[Version]] = {}  # 4 KiB versions by (pasid, page)
        self.large: dict[int, list[Version]] = {}  # 2 MiB / 1 GiB versions by pasid
        self.walks = 0

    def _add(self, v: Version) -> None:
        if v.size == PAGE_SIZE:
            self.small.setdefault((v.pasid, v.vbase >> PAGE_SHIFT), []).append(v)
        else:
            self.large.setdefault(v.pasid, []).append(v)

    def _walk(self, key: tuple[int, int, bool], t: int) -> tuple[Version, list[int]]:
        pasid, vpn, write = key
        va = vpn << PAGE_SHIFT
        w = translate(self.mem, self.base, pasid, va, write, self.pa_bits, keep_sup=self.keep_sup())
        self.walks += 1
        if w.fault == Fault.NONE:
            vbase = va & ~(w.page_size - 1)
            v = Version(pasid, write, t, None, 0, vbase, w.page_size, w.pa - (va - vbase), w.writable)
        else:
            v = Version(pasid, write, t, None, int(w.fault), va, PAGE_SIZE, 0, False)
        return v, w.reads

    def _index(self, key, reads: list[int]) -> None:
        for pa in reads:
            self.page_keys.setdefault(pa >> PAGE_SHIFT, set()).add(key)

    def get(self, pasid: int, va: int, write: bool, t: int) -> Version:
        key = (pasid, va >> PAGE_SHIFT, write)
        v = self.current.get(key)
        if v is None:
            v, reads = self._walk(key, t)
            self.current[key] = v
            self._add(v)
            self._index(key, reads)
        return v

    def refresh(self, t: int) -> None:
        """The host may have changed memory before cycle t: re-walk what it touched."""
        d = self.mem.dirty
        if not d:
            return
        stale: set = set()
        for p in d:
            ks = self.page_keys.pop(p, None)
            if ks:
                stale |= ks
        d.clear()
        for key in stale:
            old = self.current.get(key)
            new, reads = self._walk(key, t)
            self._index(key, reads)
            if old is not None and (old.fault, old.vbase, old.size, old.pbase, old.writable) == \
                    (new.fault, new.vbase, new.size, new.pbase, new.writable):
                continue
            if old is not None:
                old.t_to = t
            self.current[key] = new
            self._add(new)

    def candidates(self, pasid: int, va: int, lo: int, hi: int) -> list[Version]:
        """Versions covering va that held at some instant of (lo, hi]."""
        # v.holds_in(lo, hi), written out: this runs for every response
        out = [v for v in self.small.get((pasid, va >> PAGE_SHIFT), ())
               if v.t_from <= hi and (v.t_to is None or v.t_to > lo)]
        for v in self.large.get(pasid, ()):
            if v.vbase <= va < v.vbase + v.size and v.t_from <= hi and (v.t_to is None or v.t_to > lo):
                out.append(v)
        return out


# --------------------------------------------------------------------------- job description


@dataclass
class CosimJob:
    """One scenario run on the RTL: what to run and where results go."""

    scenario: Any
    policy: str
    seed: int
    device: Any  # tb.rtldev.RtlDevice (begin() not yet awaited)
    mode: str = "script"
    cycles_per_step: int | None = None
    bus_errors: bool = False  # BUS_WALK / BUS_DATA are legal outcomes (error injection on)
    bus_timeouts: bool = False  # BUS_TIMEOUT is a legal outcome (the slave answers late or never)
    run_kwargs: dict = field(default_factory=dict)
    setup: Any = None  # called right before the job starts (slave settings for this run)
    body: Any = None  # instead of a scenario: async body(device) -> result (awaits only device.run)
    result: Any = None
    error: BaseException | None = None
    scoreboard: dict = field(default_factory=dict)
    checker: dict = field(default_factory=dict)
    seconds: float = 0.0
    backpressure: dict = field(default_factory=dict)  # Ports.bp_stats() at the end of the run


# --------------------------------------------------------------------------- agents
#
# Components take the current job from the env (`bind`): one uvm run_test serves
# a batch of jobs (a stress batch, the matrix), so the component tree is built
# once per batch, and each job rebinds the device, the trace and the scoreboard.


class _Bound:
    job: CosimJob | None = None

    def bind(self, job: CosimJob) -> None:
        self.job = job


class _Monitor(uvm_monitor, _Bound):
    """Base monitor: publishes what the device binding observed, with its cycle."""

    def build_phase(self) -> None:
        self.ap = uvm_analysis_port("ap", self)
        self.count = 0

    def publish(self, ev: Any) -> None:
        self.count += 1
        self.ap.write(ev)


class RspMonitor(_Monitor):
    """rsp_*: one DevAccess per response (issue, memory time, completion)."""


class InvMonitor(_Monitor):
    """inv_* acceptance and invc_*: InvReq / InvCpl."""


class AxiMonitor(_Monitor):
    """m_axi_*: one MemAccess per walker read or DMA access (cycle it was performed)."""


class CmdDriver(uvm_component, _Bound):
    """Command port driver: `submit` presents the command (tb.rtldev.Ports.send_cmd)."""

    def submit(self, cmd) -> None:
        self.job.device.submit(cmd)


class InvDriver(uvm_component, _Bound):
    """Invalidate Request driver (tb.rtldev.Ports.send_inv)."""

    def invalidate(self, req) -> None:
        self.job.device.invalidate(req)


class AxiSlave(uvm_component, _Bound):
    """AXI4 slave over the host PhysMem (tb.rtldev.Ports: latency, reordering, errors)."""

    @property
    def config(self):
        return self.job.device.ports.cfg


class CmdAgent(uvm_agent):
    def build_phase(self) -> None:
        self.driver = CmdDriver("driver", self)
        self.monitor = RspMonitor("monitor", self)


class InvAgent(uvm_agent):
    def build_phase(self) -> None:
        self.driver = InvDriver("driver", self)
        self.monitor = InvMonitor("monitor", self)


class AxiAgent(uvm_agent):
    def build_phase(self) -> None:
        self.slave = AxiSlave("slave", self)
        self.monitor = AxiMonitor("monitor", self)


# --------------------------------------------------------------------------- subscribers


class TraceWriter(uvm_subscriber, _Bound):
    """Every monitored device event, in the one trace the host model also writes."""

    def bind(self, job: CosimJob) -> None:
        self.job = job
        self._add = job.device.trace.add

    def write(self, ev: Any) -> None:
        self._add(ev)


class Scoreboard(uvm_component, _Bound):
    """Each RTL response against the reference expectation.

    * Translation: the response (PA and permission, or fault cause) must be
      the golden walk's result for some page-table state the device may
      legitimately have used: one that held after the last Invalidate Request
      covering the address whose completion came before the command was
      issued, and no later than the access (memory time for a success, the
      response for a fault). MISALIGNED and NONCANONICAL are decided from the
      VA alone. BUS_* only when error injection is on.
    * Data: a read returns exactly the value the AXI slave served for that
      thread's DMA access; a DMA access goes to the response's PA; a write
      carries the command's data.
    """

    def build_phase(self) -> None:
        self.inv_export = _Export("inv_export", self, self._inv)
        self.totals: dict[str, int] = {"checked": 0, "errors": 0}

    def bind(self, job: CosimJob) -> None:
        self.job = job
        self.errors: list[str] = []
        self.checked = self.hits = self.walked = self.faults = 0
        self._reqs: dict[int, list[InvReq]] = {}
        self._done: list[tuple] = []  # completed requests, see _inv
        dev = job.device
        self.golden = (Golden(dev.mem, dev.pasid_tbl_base, keep_sup=lambda: getattr(dev, "pwc_keep_sup", False))
                       if isinstance(dev.mem, WatchedMem) else None)
        if self.golden is None:
            self.errors.append("scoreboard needs a WatchedMem")
        dev.on_submit.append(self._submit)
        dev.pre_run.append(self._step)
        dev.on_response.append(self._response)

    # host state is final for this cycle when the scheduler advances time
    def _step(self, dev) -> None:
        if self.golden is not None:
            self.golden.refresh(dev.now)

    def _submit(self, rec) -> None:
        g = self.golden
        if g is None:
            return
        c = rec.cmd
        t = self.job.device.now
        g.refresh(t)
        if not c.va & 7 and is_canonical(c.va):
            g.get(c.pasid, c.va, c.write, t)

    def _inv(self, ev: Any) -> None:
        if isinstance(ev, InvReq):
            self._reqs.setdefault(ev.itag, []).append(ev)
        elif isinstance(ev, InvCpl):
            q = self._reqs.get(ev.itag)
            if q:
                req = q.pop(0)
                # (completion time, request time, pasid or None, range start, range end)
                self._done.append((ev.time, req.time, req.pasid, req.start, req.start + req.size))

    def _bound(self, pasid: int, va: int, issue: int) -> int:
        """Request time of the last covering invalidation completed before `issue` (-1: none)."""
        lo = -1
        for cpl, t, p, start, end in self._done:
            if cpl < issue and t > lo and (p is None or p == pasid) and start <= va < end:
                lo = t
        return lo

    def _err(self, msg: str) -> None:
        if len(self.errors) < 50:
            self.errors.append(msg)

    @staticmethod
    def _what(c, r) -> str:
        kind = "write" if c.write else "read"
        return (f"dev-thread {c.thread} {kind} pasid {c.pasid} va {c.va:#x} issued t={r.issue} "
                f"completed t={r.complete}")

    def _response(self, rec) -> None:
        # Runs for every response: messages are built only for a mismatch.
        c, r = rec.cmd, rec.rsp
        self.checked += 1
        va = c.va
        if va & 7 or not is_canonical(va):
            want = Fault.MISALIGNED if va & 7 else Fault.NONCANONICAL
            if r.fault != want or r.mem_time is not None:
                self._err(f"{self._what(c, r)}: expected fault {want.name} before memory, got fault {r.fault} "
                          f"mem_time {r.mem_time}")
            return
        m = rec.mem
        fault = r.fault
        if fault == _BUS_TIMEOUT:
            # the memory did not answer within AxiTimeout: says nothing about the page tables
            if not self.job.bus_timeouts:
                self._err(f"{self._what(c, r)}: BUS_TIMEOUT but the slave answers every access in time")
            if r.pa != 0 or r.rdata != 0:
                self._err(f"{self._what(c, r)}: BUS_TIMEOUT with pa {r.pa:#x} rdata {r.rdata:#x} (expected 0)")
            return
        if fault == _BUS_WALK or fault == _BUS_DATA:
            if not self.job.bus_errors:
                self._err(f"{self._what(c, r)}: bus error {Fault(fault).name} with no error injection")
            if fault == _BUS_DATA and (m is None or not m.error or m.addr != r.pa):
                self._err(f"{self._what(c, r)}: BUS_DATA without a matching AXI error response (pa {r.pa:#x})")
            return
        g = self.golden
        if g is None:
            return
        lo = self._bound(c.pasid, va, r.issue) if self._done else -1
        if fault:
            self.faults += 1
            hi = r.complete
            cands = [v for v in g.candidates(c.pasid, va, lo, hi) if v.write == c.write and v.fault]
            if m is not None:
                self._err(f"{self._what(c, r)}: translation fault {fault} but a DMA access reached memory "
                          f"(pa {m.addr:#x})")
            # a Page Request's outcome (refused, unanswered, livelock) stands for the walk fault
            # that sent it: some walk in the window must have faulted NOT_PRESENT / WRITE_PROTECT
            ok = (any(v.fault in PRI_FAULTS for v in cands) if fault in PRI_OUTCOMES
                  else any(v.fault == fault for v in cands))
            if not ok:
                seen = sorted({Fault(v.fault).name for v in cands}) or ["none"]
                self._err(f"{self._what(c, r)}: fault {Fault(fault).name} is not what the page tables gave in "
                          f"({lo}, {hi}] (golden faults there: {', '.join(seen)}; "
                          f"now: {self._now_str(c)})")
            return
        if r.atc_hit:
            self.hits += 1
        else:
            self.walked += 1
        if m is None:
            self._err(f"{self._what(c, r)}: OK response without a DMA access at the memory port")
            return
        pa, write = r.pa, c.write
        if m.addr != pa or m.write != write:
            self._err(f"{self._what(c, r)}: response PA {pa:#x} but the DMA went to {m.addr:#x} "
                      f"({'write' if m.write else 'read'})")
        if write:
            if m.data != c.wdata:
                self._err(f"{self._what(c, r)}: wrote {m.data:#x} to memory, command data {c.wdata:#x}")
        elif r.rdata != m.data:
            self._err(f"{self._what(c, r)}: returned {r.rdata:#x} but the slave served {m.data:#x} at pa "
                      f"{m.addr:#x} (t={r.mem_time})")
        hi = r.mem_time
        cands = g.candidates(c.pasid, va, lo, hi)
        for v in cands:
            if not v.fault and v.pbase + (va - v.vbase) == pa and (v.writable or not write):
                return
        cands = [v for v in cands if not v.fault]
        legal = sorted({f"{v.pa_of(va):#x}{' rw' if v.writable else ' ro'}" for v in cands}) or ["none"]
        self._err(f"{self._what(c, r)}: translated to pa {pa:#x} ({'ATC hit' if r.atc_hit else 'walk'}); the "
                  f"page tables gave {', '.join(legal)} in ({lo}, {hi}] (after the last completed covering "
                  f"invalidation); now: {self._now_str(c)}")

    def _now_str(self, c) -> str:
        dev = self.job.device
        w = translate(dev.mem, dev.pasid_tbl_base, c.pasid, c.va, c.write)
        return f"pa {w.pa:#x}" if w.ok else f"fault {Fault(w.fault).name}"

    def finish(self) -> dict:
        res = {"checked": self.checked, "hits": self.hits, "walks": self.walked, "faults": self.faults,
               "golden_walks": self.golden.walks if self.golden else 0, "errors": list(self.errors)}
        self.job.scoreboard = res
        self.totals["checked"] += self.checked
        self.totals["errors"] += len(self.errors)
        for e in self.errors[:3]:
            self.logger.error(e)
        return res

    def check_phase(self) -> None:
        if self.totals["errors"]:
            self.logger.error(f"scoreboard: {self.totals['errors']} mismatch(es) over {self.totals['checked']} "
                              f"response(s) in this batch")


class _Export:
    """Minimal analysis export with a callback (uvm_subscriber does the same for one export)."""

    def __init__(self, name: str, parent: uvm_component, fn) -> None:
        from pyuvm import uvm_analysis_export

        class _Imp(uvm_analysis_export):
            def write(self, tt):
                fn(tt)

        self.imp = _Imp(name, parent)

    def write(self, tt) -> None:
        self.imp.write(tt)


class CheckerSubscriber(uvm_subscriber, _Bound):
    """The model/check checkers as a subscriber.

    It counts the device events the monitors published (the invalidation
    events through their analysis ports, responses and memory accesses as
    `CosimEnv.bind`'s emit appends them to the trace); when a job ends it
    takes the verdicts of `check_all` over the run's trace (the scheduler
    computes them when the run ends; they are recomputed here only if the
    run did not produce them) and checks that the trace holds exactly what
    the analysis ports carried.
    """

    def build_phase(self) -> None:
        self.failed_runs = 0

    def bind(self, job: CosimJob) -> None:
        self.job = job
        self._by_type: dict[type, int] = {}

    def write(self, ev: Any) -> None:
        c = self._by_type
        t = type(ev)
        c[t] = c.get(t, 0) + 1

    @property
    def counts(self) -> dict[str, int]:
        """Events published, by event type name."""
        return {t.__name__: n for t, n in self._by_type.items()}

    def finish(self) -> dict:
        res = self.job.result
        if res is None:
            return {}
        trace: Trace = res.trace
        seen: dict[str, int] = {}
        for e in trace:
            k = type(e).__name__
            if k in ("DevAccess", "MemAccess", "InvReq", "InvCpl"):
                seen[k] = seen.get(k, 0) + 1
        counts = self.counts
        mismatch = {k: (counts.get(k, 0), v) for k, v in seen.items() if counts.get(k, 0) != v}
        verdicts = res.verdicts if res.verdicts else check_all(trace, res.initial, res.final)
        failed = sorted({v.rule for v in verdicts if not v.ok})
        self.failed_runs += bool(failed)
        self.job.checker = {"events": counts, "trace_mismatch": mismatch, "failed": failed}
        return self.job.checker


# --------------------------------------------------------------------------- env and test


class CosimEnv(uvm_env):
    def build_phase(self) -> None:
        self.cmd = CmdAgent("cmd", self)
        self.inv = InvAgent("inv", self)
        self.axi = AxiAgent("axi", self)
        self.trace = TraceWriter("trace", self)
        self.sb = Scoreboard("sb", self)
        self.chk = CheckerSubscriber("chk", self)

    def connect_phase(self) -> None:
        for mon in (self.cmd.monitor, self.inv.monitor, self.axi.monitor):
            mon.ap.connect(self.trace.analysis_export)
            mon.ap.connect(self.chk.analysis_export)
        self.inv.monitor.ap.connect(self.sb.inv_export.imp)
        self._route = {DevAccess: self.cmd.monitor.publish, MemAccess: self.axi.monitor.publish,
                       InvReq: self.inv.monitor.publish, InvCpl: self.inv.monitor.publish}

    def bind(self, job: CosimJob) -> None:
        """Point every component at this job's device, trace and memory."""
        for c in (self.cmd.driver, self.cmd.monitor, self.inv.driver, self.inv.monitor, self.axi.slave,
                  self.axi.monitor, self.trace, self.sb, self.chk):
            c.bind(job)
        # Responses and memory accesses (one or two per device access) go straight into the
        # trace, counted for the checker's trace comparison (`CheckerSubscriber.finish`):
        # the analysis ports stay the structure, and carry the invalidation events, which
        # the scoreboard subscribes to, but a port write per event costs more than the event.
        route = self._route
        add = job.device.trace.add
        counts = self.chk._by_type
        mons = {DevAccess: self.cmd.monitor, MemAccess: self.axi.monitor}

        def emit(ev: Any) -> None:
            t = type(ev)
            m = mons.get(t)
            if m is None:
                route[t](ev)
                return
            m.count += 1
            counts[t] = counts.get(t, 0) + 1
            add(ev)

        job.device.emit = emit

    def finish(self, job: CosimJob) -> None:
        """Per-job check: scoreboard and checker summaries become verdicts of the result."""
        sb = self.sb.finish()
        res = job.result
        if res is None or not hasattr(res, "verdicts"):
            return
        chk = self.chk.finish()
        if sb.get("errors"):
            n = len(sb["errors"])
            res.verdicts.append(Verdict("scoreboard", False,
                                        f"[scoreboard] {n} RTL response(s) disagree with the golden model; first: "
                                        f"{sb['errors'][0]}", metrics={"unlisted": n}))
        else:
            res.verdicts.append(Verdict.passed("scoreboard", f"{sb.get('checked', 0)} response(s) match the golden "
                                                             f"walk and the served data",
                                               **{k: v for k, v in sb.items() if k != "errors"}))
        mm = chk.get("trace_mismatch")
        if mm:
            res.verdicts.append(Verdict("monitor", False, f"[monitor] analysis ports and trace disagree: {mm}"))


class CosimTest(uvm_test):
    """Run each job's scenario under its policy with the host-model scheduler on the RTL."""

    jobs: list[CosimJob] = []  # set by run_jobs before run_test

    def build_phase(self) -> None:
        ConfigDB().set(None, "*", "JOBS", type(self).jobs)
        self.env = CosimEnv("env", self)

    async def run_phase(self) -> None:
        from model.scheduler import run_scenario

        self.raise_objection()
        try:
            for job in ConfigDB().get(self, "", "JOBS"):
                t0 = time.perf_counter()
                self.env.bind(job)
                try:
                    if job.setup is not None:
                        job.setup()
                    await job.device.begin()
                    if job.body is not None:
                        coro = job.body(job.device)
                    else:
                        coro = run_scenario(job.scenario, job.device, job.policy, job.seed, mode=job.mode,
                                            cycles_per_step=job.cycles_per_step, **job.run_kwargs)
                    # the scheduler only awaits device.run(): step it from raw GPI callbacks
                    job.result = await job.device.drive(coro)
                except Exception as e:  # noqa: BLE001 - reported per job, the batch goes on
                    job.error = e
                job.seconds = time.perf_counter() - t0
                bp = getattr(getattr(job.device, "ports", None), "bp_stats", None)
                if bp is not None:
                    job.backpressure = bp()
                self.env.finish(job)
        finally:
            self.drop_objection()


async def run_jobs(jobs: list[CosimJob]) -> list[CosimJob]:
    """Build the env once, run every job through it, return the jobs with results filled in."""
    import logging

    from pyuvm import uvm_report_object, uvm_root

    CosimTest.jobs = list(jobs)
    uvm_report_object.set_default_logging_level(logging.WARNING)
    await uvm_root().run_test(CosimTest, keep_singletons=True)
    return jobs


async def run_job(job: CosimJob) -> CosimJob:
    await run_jobs([job])
    if job.error is not None:
        raise job.error
    return job


__all__ = ["WatchedMem", "Golden", "Version", "CosimJob", "CosimEnv", "CosimTest", "Scoreboard", "run_job",
           "run_jobs"]
