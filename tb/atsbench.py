"""Block-level testbench for `ats_dev_top`: clock, reset, drivers and monitors.

Structure follows the cocotbext-axi / taxi style: one `TB` object owns the
clock, the reset and one BFM per interface. Every BFM is a plain class with a
driver (`send`/`request` coroutines) or a monitor (hooks + log) so a pyuvm
environment can wrap them unchanged (a uvm_driver calls `await bfm.send(...)`,
a uvm_monitor registers a hook that writes to its analysis port).

Interfaces (ARCHITECTURE.md section 2) and their BFMs:

    cmd_*   CommandDriver      queues commands per thread, drives the shared channel
    rsp_*   ResponseMonitor    rsp_ready (optional back-pressure), matches responses to threads
            DeviceThread       per-thread driver: `await tb.threads[t].read(pasid, va)`
    inv_*   InvalidationDriver ITag allocator (32 outstanding), `await tb.inv.request(...)`
    invc_*  CompletionMonitor  checks each outstanding ITag completes exactly once
    m_axi_* tb.axi_mem.AxiMem  AXI4 slave over the host PhysMem

All times are cycles (rising-edge indices of `tb.cc`, a `CycleClock`). A
watchdog ends any test that overruns its cycle budget, printing the seed and
the state of every BFM.

    tb = TB(dut, mem, seed=cocotb.RANDOM_SEED, axi=dict(latency=(1, 10), stall_prob=0.2))
    await tb.start(pasid_tbl_base=base, budget=200_000)
    rsp = await tb.threads[0].read(pasid=3, va=0x7f0000001000)
    h = await tb.inv.request(addr, s=True, pasid=3)   # accepted
    await h.wait()                                     # completed
"""
from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass, field
from typing import Any, Callable

import cocotb
from cocotb.triggers import Event, ReadOnly, RisingEdge, Timer

from model.ats import NUM_ITAGS, Fault, InvalidateRequest, inv_range
from model.frames import FrameAllocator
from model.memory import PhysMem
from model.pagetable import SIZE_1G, PageTables, Walk, translate
from model.pasid import PasidTable
from model.trace import DevAccess, InvCpl, InvReq, Trace
from tb.axi_mem import AxiMem, CycleClock, FastSig, Gpi, RawSink, fast

DEFAULT_PARAMS = {"NumThreads": 4, "AtcEntries": 16, "NumWalks": 2, "PwcEntries": 8, "PaWidth": 48}


def rtl_params() -> dict:
    """The RTL parameters of this run (the pytest wrapper passes them in ATS_PARAMS)."""
    p = dict(DEFAULT_PARAMS)
    p.update(json.loads(os.environ.get("ATS_PARAMS", "{}")))
    return p


class WatchdogTimeout(Exception):
    pass


# --------------------------------------------------------------------------- records


@dataclass
class Command:
    thread: int
    write: bool
    pasid: int
    va: int
    wdata: int = 0
    issue: int | None = None  # cycle the command handshake completed
    tag: Any = None           # free for the test (e.g. the expected result)


@dataclass
class Response:
    thread: int
    fault: bool
    cause: int
    rdata: int
    pa: int
    atc_hit: bool
    cycle: int                # response handshake cycle
    cmd: Command | None = None
    mem: Any = None           # the DMA's tb.axi_mem.AxiAccess (None when it faulted before memory)

    @property
    def mem_time(self) -> int | None:
        """Cycle the memory port performed the access (model.trace.DevAccess.mem_time)."""
        return self.mem.perform if self.mem is not None else None

    def __str__(self) -> str:
        c = self.cmd
        what = f"{'W' if c.write else 'R'} pasid={c.pasid:#x} va={c.va:#x}" if c else "?"
        return (f"t{self.thread} {what} -> fault={int(self.fault)} cause={self.cause} pa={self.pa:#x} "
                f"rdata={self.rdata:#x} hit={int(self.atc_hit)} @{self.cycle}")


@dataclass
class Pending:
    """A command queued with `DeviceThread.issue`: `await p.wait()` gives its response."""
    cmd: Command
    event: Event = field(default_factory=Event)
    response: Response | None = None

    async def wait(self) -> Response:
        await self.event.wait()
        return self.response


# --------------------------------------------------------------------------- command path


class CommandDriver:
    """Drives `cmd_*`. `submit(cmd)` queues (non-blocking); `await send(cmd)` returns the handshake cycle.

    Runs on raw GPI callbacks (tb.axi_mem.Gpi): a command is presented at a
    quiet point, READY is sampled in that time step's read-only phase
    (cmd_ready_o may depend on cmd_thread_i), and the next quiet point either
    presents the next command or drops VALID. Commands of different threads
    are offered in queue order, rotating past a thread whose context is busy.
    `cmd.issue` is set as soon as the handshake is known (before the edge).
    """

    def __init__(self, dut, cc: CycleClock):
        self.dut = dut
        self.cc = cc
        self.gpi: Gpi | None = None
        self._q: list[tuple[Command, Event | None]] = []
        self._busy = False
        self.sent = 0
        self.hooks: list[Callable[[Command], Any]] = []
        self.s_valid = fast(dut, "cmd_valid_i")
        self.s_ready = fast(dut, "cmd_ready_o")
        self.s_thread = fast(dut, "cmd_thread_i")
        self.s_write = fast(dut, "cmd_write_i")
        self.s_pasid = fast(dut, "cmd_pasid_i")
        self.s_va = fast(dut, "cmd_va_i")
        self.s_wdata = fast(dut, "cmd_wdata_i")

    def start(self, gpi: Gpi) -> None:
        self.gpi = gpi
        self.s_valid.set(0)

    def submit(self, cmd: Command, done: Event | None = None) -> Command:
        self._q.append((cmd, done))
        if not self._busy:
            self._busy = True
            cc = self.cc
            t = cc.time()
            k = t // cc.period
            if t > k * cc.period + cc.quarter:
                k += 1
            self.gpi.at_qp(k, self._drive, k)
        return cmd

    async def send(self, cmd: Command) -> int:
        done = Event()
        self.submit(cmd, done)
        await done.wait()
        return cmd.issue

    @property
    def idle(self) -> bool:
        return not self._q

    def _drive(self, k: int) -> None:
        cmd, _ = self._q[0]
        self.s_thread.set(cmd.thread)
        self.s_write.set(int(cmd.write))
        self.s_pasid.set(cmd.pasid)
        self.s_va.set(cmd.va)
        self.s_wdata.set(cmd.wdata)
        self.s_valid.set(1)
        self.gpi.on_readonly(self._sample, k)

    def _sample(self, k: int) -> None:
        ok = self.s_ready.get() == 1
        if ok:
            self._q[0][0].issue = k + 1   # known before the edge: monitors may see its effects at the edge
        self.gpi.at_qp(k + 1, self._after, k + 1, ok)

    def _after(self, k: int, ok: bool) -> None:
        if ok:
            cmd, done = self._q.pop(0)
            self.sent += 1
            for h in self.hooks:
                h(cmd)
            if done is not None:
                done.set()
        elif len(self._q) > 1:
            blocked = self._q[0][0].thread
            if sum(c.thread == blocked for c, _ in self._q) == 1:
                self._q.append(self._q.pop(0))  # let another thread try
            else:
                # several commands of the blocked thread queued (a command queue per
                # thread): offer the first command of another thread, keeping the
                # order of each thread's commands
                for j in range(1, len(self._q)):
                    if self._q[j][0].thread != blocked:
                        self._q.insert(0, self._q.pop(j))
                        break
        if self._q:
            self._drive(k)
        else:
            self.s_valid.set(0)
            self._busy = False


class ResponseMonitor:
    """Samples `rsp_*`; hooks get every `Response` (with its command attached)."""

    def __init__(self, dut, cc: CycleClock, rng: random.Random, stall_prob: float = 0.0,
                 stall: tuple[int, int] = (1, 3)):
        self.dut = dut
        self.cc = cc
        self.rng = rng
        self.stall_prob = stall_prob
        self.stall = stall
        self.hooks: list[Callable[[Response], Any]] = []
        self.log: list[Response] = []
        self.keep_log = True
        self.errors: list[str] = []
        self.pending: dict[int, list[Command]] = {}

    def expect(self, cmd: Command) -> None:
        self.pending.setdefault(cmd.thread, []).append(cmd)

    def start(self, gpi: Gpi) -> None:
        d = self.dut
        self._sig = [fast(d, n) for n in ("rsp_thread_o", "rsp_fault_o", "rsp_cause_o", "rsp_rdata_o",
                                          "rsp_pa_o", "rsp_atc_hit_o")]
        self._last: Response | None = None
        RawSink(gpi, fast(d, "rsp_valid_o"), fast(d, "rsp_ready_i"), self._take, self.rng,
                lambda: self.stall_prob, lambda: self.stall, after=self._deliver).start()

    def _take(self, cycle: int) -> None:
        th, fault, cause, rdata, pa, hit = (x.get() for x in self._sig)
        r = Response(thread=th, fault=bool(fault), cause=cause, rdata=rdata, pa=pa, atc_hit=bool(hit), cycle=cycle)
        q = self.pending.get(r.thread)
        if q:
            r.cmd = q.pop(0)
        else:
            self.errors.append(f"cycle {cycle}: response for thread {r.thread} with no command outstanding")
            raise AssertionError(self.errors[-1])
        if self.keep_log:
            self.log.append(r)
        self._last = r

    def _deliver(self, cycle: int) -> None:
        """Hooks run at the quiet point after the handshake: the thread is idle again, and a
        command submitted from a hook is driven at once."""
        r, self._last = self._last, None
        for h in self.hooks:
            h(r)


class DeviceThread:
    """Per-thread driver: `access` one command at a time, in order, like a device thread
    context; `issue` queues several (the device's command queue, DmaOutstanding), each
    answered in order through its `Pending`."""

    def __init__(self, tb: "TB", thread: int):
        self.tb = tb
        self.thread = thread
        self._resp: list[Response] = []
        self._evt = Event()
        self.busy = False
        self._issued: list[Pending] = []

    def _on_response(self, r: Response) -> None:
        if self._issued:
            p = self._issued.pop(0)
            if p.cmd is not r.cmd:
                raise AssertionError(f"cycle {r.cycle}: thread {self.thread} answered {r} before {p.cmd}")
            self.tb._record(r)
            p.response = r
            p.event.set()
            return
        self._resp.append(r)
        self._evt.set()

    @property
    def in_flight(self) -> int:
        """Commands issued with `issue` and not answered yet."""
        return len(self._issued)

    def issue(self, write: bool, pasid: int, va: int, wdata: int = 0, tag: Any = None) -> "Pending":
        """Queue a command without waiting (several may be outstanding); responses come in order."""
        if self.busy:
            raise RuntimeError(f"thread {self.thread} has an `access` in flight")
        cmd = Command(self.thread, bool(write), pasid, va, wdata if write else 0, tag=tag)
        p = Pending(cmd)
        self._issued.append(p)
        self.tb.rsp.expect(cmd)
        self.tb.cmd.submit(cmd)
        return p

    async def access(self, write: bool, pasid: int, va: int, wdata: int = 0, tag: Any = None) -> Response:
        if self.busy or self._issued:
            raise RuntimeError(f"thread {self.thread} already has a command in flight")
        self.busy = True
        try:
            cmd = Command(self.thread, bool(write), pasid, va, wdata if write else 0, tag=tag)
            self.tb.rsp.expect(cmd)
            self.tb.cmd.submit(cmd)
            while not self._resp:
                self._evt.clear()
                await self._evt.wait()
            r = self._resp.pop(0)
            self.tb._record(r)
            return r
        finally:
            self.busy = False

    async def read(self, pasid: int, va: int, tag: Any = None) -> Response:
        return await self.access(False, pasid, va, 0, tag)

    async def write(self, pasid: int, va: int, data: int, tag: Any = None) -> Response:
        return await self.access(True, pasid, va, data, tag)


# --------------------------------------------------------------------------- invalidation


class ItagAllocator:
    """The 32 ITags; `alloc()` waits for a free one."""

    def __init__(self, n: int = NUM_ITAGS, rng: random.Random | None = None):
        self.free = list(range(n))
        self.rng = rng
        self._evt = Event()

    def try_alloc(self, itag: int | None = None) -> int | None:
        if itag is not None:
            if itag not in self.free:
                return None
            self.free.remove(itag)
            return itag
        if not self.free:
            return None
        i = self.rng.randrange(len(self.free)) if self.rng else 0
        return self.free.pop(i)

    async def alloc(self, itag: int | None = None) -> int:
        while True:
            t = self.try_alloc(itag)
            if t is not None:
                return t
            self._evt.clear()
            await self._evt.wait()

    def release(self, itag: int) -> None:
        if itag in self.free:
            raise AssertionError(f"ITag {itag} released twice")
        self.free.append(itag)
        self._evt.set()


@dataclass
class InvHandle:
    req: InvalidateRequest
    accept: int | None = None
    complete: int | None = None
    done: Event = field(default_factory=Event)
    at: int | None = None          # earliest handshake cycle asked for
    dma_inflight: list = field(default_factory=list)  # DMA AxiAccesses in flight at acceptance

    async def wait(self) -> int:
        await self.done.wait()
        return self.complete


class InvalidationDriver:
    """Drives `inv_*`. `await request(...)` returns an `InvHandle` once accepted."""

    def __init__(self, dut, cc: CycleClock, rng: random.Random, trace: Trace | None = None):
        self.dut = dut
        self.cc = cc
        self.itags = ItagAllocator(rng=rng)
        self.trace = trace
        self.outstanding: dict[int, InvHandle] = {}
        self.log: list[InvHandle] = []
        self._q: list[InvHandle] = []
        self._evt = Event()
        self._accepted = Event()
        self.accept_hooks: list[Callable[[InvHandle], Any]] = []  # called as the handshake is known

    def start(self):
        d = self.dut
        self.s = {n: fast(d, f"inv_{n}") for n in ("valid_i", "ready_o", "itag_i", "pasid_valid_i", "pasid_i",
                                                   "addr_i", "s_i", "global_i")}
        for n, x in self.s.items():
            if n != "ready_o":
                x.set(0)
        return cocotb.start_soon(self._run())

    async def request(self, addr: int, s: bool = False, pasid: int | None = None, global_: bool = False,
                      itag: int | None = None, at: int | None = None) -> InvHandle:
        """Send an Invalidate Request (addr = address bits [63:12]); returns when accepted.

        `at`: do not present it before cycle at-1, so the handshake is at cycle
        `at` when inv_ready_o is high (directed same-cycle races).
        """
        t = await self.itags.alloc(itag)
        h = InvHandle(InvalidateRequest(itag=t, addr=addr, s=bool(s), pasid=pasid, global_=global_), at=at)
        self.outstanding[t] = h
        self._q.append(h)
        self._evt.set()
        while h.accept is None:
            self._accepted.clear()
            await self._accepted.wait()
        return h

    async def invalidate(self, addr: int, s: bool = False, pasid: int | None = None,
                         global_: bool = False) -> InvHandle:
        """Request and wait for the completion."""
        h = await self.request(addr, s, pasid, global_)
        await h.wait()
        return h

    async def _run(self) -> None:
        cc = self.cc
        driving = False
        while True:
            if not self._q:
                if driving:
                    self.s["valid_i"].set(0)
                    driving = False
                self._evt.clear()
                await self._evt.wait()
                continue
            k = await cc.sync()
            h = self._q[0]
            if h.at is not None and k < h.at - 1:
                if driving:
                    self.s["valid_i"].set(0)
                    driving = False
                await cc.qp(h.at - 1)
                k = h.at - 1
            r = h.req
            x = self.s
            x["itag_i"].set(r.itag)
            x["pasid_valid_i"].set(int(r.pasid is not None))
            x["pasid_i"].set(r.pasid or 0)
            x["addr_i"].set(r.addr)
            x["s_i"].set(int(r.s))
            x["global_i"].set(int(r.global_))
            x["valid_i"].set(1)
            driving = True
            await ReadOnly()
            ok = x["ready_o"].get() == 1
            if ok:
                h.accept = k + 1    # set before the edge: a completion may follow at once
                for f in self.accept_hooks:
                    f(h)
            await cc.qp(k + 1)
            if ok:
                self._q.pop(0)
                self.log.append(h)
                if self.trace is not None:
                    start, size = inv_range(r.addr, r.s)
                    self.trace.add(InvReq(time=h.accept, itag=r.itag,
                                          pasid=None if r.all_pasids else r.pasid, start=start, size=size))
                self._accepted.set()


class CompletionMonitor:
    """Samples `invc_*`; every completion must name an outstanding ITag, once."""

    def __init__(self, dut, cc: CycleClock, inv: InvalidationDriver, trace: Trace | None = None):
        self.dut = dut
        self.cc = cc
        self.inv = inv
        self.trace = trace
        self.errors: list[str] = []
        self.log: list[tuple[int, int]] = []  # (cycle, itag)
        self.hooks: list[Callable[[InvHandle], Any]] = []

    def start(self, gpi: Gpi) -> None:
        d = self.dut
        self._itag = fast(d, "invc_itag_o")
        RawSink(gpi, fast(d, "invc_valid_o"), fast(d, "invc_ready_i"), self._take).start()

    def _take(self, cycle: int) -> None:
        itag = self._itag.get()
        self.log.append((cycle, itag))
        h = self.inv.outstanding.pop(itag, None)
        if h is None or h.accept is None:
            self.errors.append(f"cycle {cycle}: completion for ITag {itag} that is not outstanding "
                               "(never requested, or completed twice)")
            raise AssertionError(self.errors[-1])
        h.complete = cycle
        if self.trace is not None:
            self.trace.add(InvCpl(time=cycle, itag=itag))
        self.inv.itags.release(itag)
        h.done.set()
        for f in self.hooks:
            f(h)


class DrainChecker:
    """Rule 2 from timestamps: a completion leaves after every DMA access in flight at acceptance.

    At the moment an Invalidate Request's handshake is known, the DMA accesses
    already accepted on AXI (address handshake at or before the request's) are
    snapshotted; their commands passed ATC lookup before the request, so each
    must have its R/B handshake strictly before the Invalidate Completion.

    With the exact drain (DmaDrainExact = 1) a completion may leave before an
    access whose translation does not overlap it; such an access is judged when
    its command answers: it must not have been to a page (PASID, VA) in the
    invalidated range (a translation holds at least the access's page, so this
    is a necessary condition of the exact rule; drain_assert checks the rule
    itself with the translation's size).
    """

    def __init__(self, tb: "TB"):
        self.tb = tb
        self.checked = 0
        self.max_wait: list[int] = []
        self.exact = bool(tb.params.get("DmaDrainExact", 0))
        self.suspects: list[tuple[Any, InvHandle]] = []  # (access, invalidation it did not delay)
        tb.inv.accept_hooks.append(self._on_accept)
        tb.invc.hooks.append(self._on_complete)

    def _on_accept(self, h: InvHandle) -> None:
        h.dma_inflight = [a for a in self.tb.axi.inflight if a.source == "dma" and a.accept <= h.accept]

    def _on_complete(self, h: InvHandle) -> None:
        waited = []
        for a in h.dma_inflight:
            self.checked += 1
            if a.done is None or a.done >= h.complete:
                if self.exact:
                    self.suspects.append((a, h))
                    continue
                self.tb.fail(f"Invalidate Completion ITag {h.req.itag} (accepted @{h.accept}) left @{h.complete} "
                             f"before the DMA access in flight at acceptance answered: {a}")
            waited.append(a.done)
        if waited:
            self.max_wait.append(h.complete - max(waited))

    def on_response(self, r: Response) -> None:
        """Exact drain: an access a completion did not wait for must not be to its range."""
        if not self.suspects or r.mem is None or r.cmd is None:
            return
        keep = []
        for a, h in self.suspects:
            if a is not r.mem:
                keep.append((a, h))
                continue
            q = h.req
            start, size = inv_range(q.addr, q.s)
            page = r.cmd.va & ~0xFFF & ((1 << 64) - 1)
            if (q.pasid is None or q.global_ or q.pasid == r.cmd.pasid) and start <= page < start + size:
                self.tb.fail(f"Invalidate Completion ITag {q.itag} (accepted @{h.accept}) left @{h.complete} "
                             f"before the DMA access to a page it invalidates answered: {r} ({a})")
        self.suspects = keep


# --------------------------------------------------------------------------- host side


class Host:
    """The host memory the device sees: PhysMem, page-table frames, PASID table, spaces.

    The PASID table (8 MiB for all 2^20 PASIDs) sits below the frame pool
    (checked), page-table frames come from the pool at `first_pfn`; data pages handed out by
    `data_pa()` lie above the pool (1 GiB aligned start), so DMA never lands on
    a page table. `golden()` is the expected result of one device command.
    """

    def __init__(self, pa_bits: int = 48, pasid_tbl_base: int = 0x10000, first_pfn: int = 0x1000,
                 num_frames: int = 16384, trace: Trace | None = None):
        self.pa_bits = pa_bits
        self.keep_sup = False  # the device's pwc_keep_sup_i: golden() decides U/S at the leaf
        self.mem = PhysMem(pa_bits)
        self.frames = FrameAllocator(self.mem, first_pfn, num_frames, trace=trace)
        if pasid_tbl_base + 8 * (1 << 20) > first_pfn << 12:
            raise ValueError("the PASID table would overlap the page-table frame pool")
        self.pasid_tbl_base = pasid_tbl_base
        self.pasids = PasidTable(self.mem, pasid_tbl_base)
        self.spaces: dict[int, PageTables] = {}
        self.pool_lo = first_pfn << 12
        self.pool_hi = (first_pfn + num_frames) << 12
        self._data_next = (self.pool_hi + SIZE_1G - 1) & ~(SIZE_1G - 1)

    def new_space(self, pasid: int) -> PageTables:
        pt = PageTables(self.mem, self.frames)
        self.bind(pasid, pt)
        return pt

    def bind(self, pasid: int, pt: PageTables) -> None:
        self.spaces[pasid] = pt
        self.pasids.set(pasid, pt.root_pa)

    def data_pa(self, size: int = 4096) -> int:
        """A fresh, size-aligned data region above the page-table pool."""
        pa = (self._data_next + size - 1) & ~(size - 1)
        self._data_next = pa + size
        return pa

    def is_table_pa(self, pa: int) -> bool:
        return self.pool_lo <= pa < self.pool_hi or (
            self.pasid_tbl_base <= pa < self.pasid_tbl_base + 8 * (1 << 20))

    def golden(self, pasid: int, va: int, write: bool) -> Walk:
        """Expected translation: MISALIGNED first, then the golden walk (NONCANONICAL, PASID, levels)."""
        if va & 7:
            return Walk(fault=Fault.MISALIGNED, pa=0, page_size=0, writable=False, level=0)
        return translate(self.mem, self.pasid_tbl_base, pasid, va, write, self.pa_bits, keep_sup=self.keep_sup)


# --------------------------------------------------------------------------- TB


class TB:
    """Clock, reset and the BFMs around `ats_dev_top`.

    `mem` is the host model's PhysMem (the AXI slave serves it). `axi` holds
    AxiMem keyword arguments (latency, tail, stall_prob, stall, reorder).
    """

    def __init__(self, dut, mem, *, seed: int | None = None, period_ns: int = 10, axi: dict | None = None,
                 rsp_stall_prob: float = 0.0, trace: Trace | None = None, params: dict | None = None,
                 test_name: str = "", repro: str = ""):
        self.dut = dut
        # the device itself (ats_tb_top's u_dut): its internal signals, for monitors that look inside
        self.rtl = getattr(dut, "u_dut", dut)
        self.mem = mem
        # cocotb.RANDOM_SEED is the per-test seed derived from COCOTB_RANDOM_SEED
        # (the one to reproduce with) and the test name
        self.seed = cocotb.RANDOM_SEED if seed is None else seed
        self.base_seed = os.environ.get("COCOTB_RANDOM_SEED", str(self.seed))
        self.params = params or rtl_params()
        self.num_threads = self.params["NumThreads"]
        self.trace = trace
        self.test_name = test_name
        self.repro = repro or os.environ.get("ATS_REPRO", "")
        self.rng = random.Random(self.seed)
        self.cc = CycleClock(dut.clk_i, period_ns)
        self.axi = AxiMem(dut, self.cc, mem, seed=self.rng.getrandbits(32), trace=trace, **(axi or {}))
        self.cmd = CommandDriver(dut, self.cc)
        self.rsp = ResponseMonitor(dut, self.cc, random.Random(self.rng.getrandbits(32)), rsp_stall_prob)
        self.inv = InvalidationDriver(dut, self.cc, random.Random(self.rng.getrandbits(32)), trace)
        self.invc = CompletionMonitor(dut, self.cc, self.inv, trace)
        self.threads = [DeviceThread(self, t) for t in range(self.num_threads)]
        self._dma: dict[int, list] = {}
        self.axi.accept_hooks.append(self._on_axi_accept)
        self.rsp.hooks.append(self._attach_mem)
        self.rsp.hooks.append(lambda r: self.drain_check.on_response(r))
        self.rsp.hooks.append(lambda r: self.threads[r.thread]._on_response(r))
        self.drain_check = DrainChecker(self)
        self.devaccess_hooks: list[Callable[[Response], Any]] = []
        self._tasks: list = []
        self.budget: int | None = None

    def high_cycles(self, sig) -> list[int]:
        """Edges at which the 1-bit `sig` is high, one entry per cycle, appended as the run
        goes: an internal handshake (a lookup, a walker completion) as a list of cycles
        that a test compares with the cycles of its own stimulus."""
        cycles: list[int] = []
        fs = FastSig(sig)

        async def run() -> None:
            edge = RisingEdge(sig)
            while True:
                if not fs.get():
                    await edge
                cycles.append(self.cc.next_edge())
                await self.cc.qp(self.cc.next_edge())

        cocotb.start_soon(run())
        return cycles

    def log(self, msg: str, *args) -> None:
        self.dut._log.info(msg, *args)

    @property
    def now(self) -> int:
        return self.cc.now()

    async def start(self, pasid_tbl_base: int = 0, budget: int = 100_000, reset_cycles: int = 4) -> None:
        """Start the clock, reset, start every BFM and the watchdog (budget in cycles)."""
        d = self.dut
        rst = fast(d, "rst_ni")
        rst.set(0)
        fast(d, "pasid_tbl_base_i").set(pasid_tbl_base)
        for n in ("cmd_valid_i", "rsp_ready_i", "inv_valid_i", "invc_ready_i"):
            fast(d, n).set(0)
        self.cc.start()
        await self.cc.qp(reset_cycles)
        rst.set(1)
        await self.cc.qp(reset_cycles + 1)
        self.budget = budget
        self.gpi = Gpi(self.cc)
        self._tasks = [self.inv.start(), cocotb.start_soon(self._watchdog(budget))]
        self.cmd.start(self.gpi)
        self.rsp.start(self.gpi)
        self.invc.start(self.gpi)
        self.axi.start(self.gpi)
        await self.cc.qp(reset_cycles + 2)

    async def _watchdog(self, budget: int) -> None:
        start = self.cc.now()
        await Timer(budget * self.cc.period, "step")
        raise WatchdogTimeout(f"watchdog: {budget} cycles elapsed since cycle {start}\n{self.state()}\n"
                              f"{self.repro_line()}")

    def repro_line(self) -> str:
        return (f"reproduce: COCOTB_RANDOM_SEED={self.base_seed}"
                + (f"; {self.repro}" if self.repro else "") + (f" (cocotb test {self.test_name})" if self.test_name else ""))

    def fail(self, msg: str) -> None:
        """Raise an AssertionError carrying the cycle, the reproduce line and the BFM state."""
        raise AssertionError(f"cycle {self.now}: {msg}\n{self.repro_line()}")

    def state(self) -> str:
        lines = [f"cycle {self.now}; COCOTB_RANDOM_SEED {self.base_seed}"]
        for t, th in enumerate(self.threads):
            if th.busy:
                lines.append(f"  thread {t} busy: pending {self.rsp.pending.get(t)}")
        lines.append(f"  commands queued: {[c for c, _ in self.cmd._q]}")
        lines.append(f"  ITags outstanding: {sorted(self.inv.outstanding)}")
        for a in self.axi.inflight:
            lines.append(f"  AXI in flight: {a} held={a.held} due={a.due}")
        return "\n".join(lines)

    def _on_axi_accept(self, a) -> None:
        if a.source == "dma":
            self._dma.setdefault(a.tag, []).append(a)

    def _attach_mem(self, r: Response) -> None:
        if self.rsp.pending.get(r.thread) or self.params.get("DmaOutstanding", 1) > 1:
            # later commands of the thread are in flight: their accesses may be in the
            # queue already (issued in another order); this command's is the one to its PA
            q = self._dma.get(r.thread, [])
            for i, a in enumerate(q):
                if a.write == r.cmd.write and a.addr == r.pa:
                    r.mem = q.pop(i)
                    break
            return
        q = self._dma.pop(r.thread, None)
        if q:
            r.mem = q[-1]
            if len(q) > 1:
                raise AssertionError(f"cycle {r.cycle}: thread {r.thread} made {len(q)} DMA accesses for one "
                                     f"command: {[str(a) for a in q]}")

    def take_unclaimed_dma(self) -> list:
        """DMA accesses the slave accepted after their thread's last response (call with no command
        in flight). Such an access belongs to no later command: a command answered BUS_TIMEOUT while
        its request still sat in the device's AXI output register (port stalled) reaches the slave
        only after that response."""
        out = [a for q in self._dma.values() for a in q]
        self._dma.clear()
        return out

    def _record(self, r: Response) -> None:
        if self.trace is not None and r.cmd is not None:
            c = r.cmd
            self.trace.add(DevAccess(thread=r.thread, write=c.write, pasid=c.pasid, va=c.va, pa=r.pa,
                                     value=c.wdata if c.write else r.rdata, issue=c.issue, complete=r.cycle,
                                     fault=r.cause if r.fault else 0, atc_hit=r.atc_hit, mem_time=r.mem_time))
        for h in self.devaccess_hooks:
            h(r)

    def check_protocol(self) -> None:
        errs = self.axi.protocol_errors + self.rsp.errors + self.invc.errors
        assert not errs, "protocol errors:\n  " + "\n  ".join(errs[:20])

    async def cycles(self, n: int) -> int:
        return await self.cc.cycles(n)

    async def read(self, thread: int, pasid: int, va: int) -> Response:
        return await self.threads[thread].read(pasid, va)

    async def write(self, thread: int, pasid: int, va: int, data: int) -> Response:
        return await self.threads[thread].write(pasid, va, data)

    def walk_reads(self, first: int, last: int) -> list:
        """Walker reads whose address handshake lies in cycles [first, last]."""
        return [a for a in self.axi.log + self.axi.inflight
                if a.source == "walk" and not a.write and first <= a.accept <= last]

    async def drain(self, timeout: int = 5000) -> None:
        """Wait until no command, invalidation or AXI access is in flight."""
        t_end = self.now + timeout
        while (any(th.busy for th in self.threads) or self.inv.outstanding or self.axi.inflight
               or self.cmd._q):
            if self.now > t_end:
                raise WatchdogTimeout(f"drain: still busy after {timeout} cycles\n{self.state()}")
            await self.cc.cycles(8)
