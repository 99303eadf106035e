"""CPU threads and device threads on one clock, scripted or seeded-random.

The scheduler owns the global clock, which is the device's cycle counter: a
CPU thread advances one step (one `Step` of a kernel operation) at a time and
every CPU step costs `cycles_per_step` device cycles (`await device.run(n)`).
Device threads issue the accesses a scenario lists, one outstanding command
per thread, in order. Invalidation completions are handed to the mm's
`SecondaryTlb`, which wakes the CPU thread waiting in the notifier hook.

Two ways to interleave:

* "script": the scenario's `[Time ...]` rows in order. Inside a row the listed
  CPU threads step round-robin while the listed device accesses run; the row
  ends when each listed action has finished (`until` reached, operation
  returned, response received). Threads not listed are preempted.
* "random": each thread's actions in file order, `until`/`resume` ignored.
  A `random.Random(seed)` picks which awake thread moves next; after each
  step a CPU thread that holds no spinlock (preemption is disabled under the
  page-table lock) is preempted with probability 1/4 for 1..30 steps' worth
  of cycles, and each device access waits 0..3 steps before it is issued. Long preemptions are what the doc's timeline is about, and
  uniform choice alone almost never keeps a thread away long enough to open
  such a window. The same seed gives the same run.

Either way, after the last row every operation still preempted is resumed to
completion and the device is allowed to go quiet, so the final state the
lost-write checker reads is the state after all the kernel paths finished.

The only awaited call is `device.run()`, so the same coroutine runs under
cocotb against the RTL (tb.cosim.device.RtlDevice) and, through
`model.device.run_sync`, against the reference device.
"""
from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .check import Verdict, check_all
from .device import DevCommand, DevResponse, run_sync
from .frames import FrameAllocator
from .iopf import IopfHandler
from .kernel_space import KernelSpace
from .memory import PAGE_SIZE, PhysMem
from .mm import HPAGE_SIZE, Blocked, FileObject, Mm, SegmentationFault, Step, Vma
from .notifier import ItagPool, Notifier, Policy, SecondaryTlb
from .ops import OPS, Kernel
from .pasid import PasidTable
from .scenario import HUGE_STATES, MAIN_MM, Action, Scenario, ScenarioError, ScenarioRunError, dev_index, load
from .trace import Trace

Addr = tuple[int, int]


@dataclass(frozen=True)
class Layout:
    """Where the host puts things in physical memory."""

    pasid_tbl_base: int = 0x1000
    pool_first_pfn: int = 0x100  # 1 MiB
    pool_frames: int = 0x4000  # 64 MiB of 4 KiB frames (the first is the zero page)
    huge_base: int = 0x4000_0000  # THP regions from 1 GiB


@dataclass
class RunResult:
    """Everything one run produced."""

    scenario: str
    policy: str
    seed: int
    mode: str
    trace: Trace
    verdicts: list[Verdict]
    initial: dict[Addr, int]
    final: dict[Addr, int | None]
    metrics: dict[str, Any]
    names: dict[int, str] = field(default_factory=dict)  # va -> label
    responses: list[tuple[int, DevResponse]] = field(default_factory=list)  # (scenario line, response)

    @property
    def failures(self) -> list[Verdict]:
        return [v for v in self.verdicts if not v.ok]

    @property
    def failed_rules(self) -> frozenset[str]:
        return frozenset(v.rule for v in self.failures)

    @property
    def ok(self) -> bool:
        return not self.failures

    def response_at(self, line: int) -> DevResponse:
        """The device response of the access written on scenario line `line`."""
        got = [r for ln, r in self.responses if ln == line]
        if len(got) != 1:
            raise KeyError(f"{len(got)} device responses for line {line}")
        return got[0]

    def timeline(self) -> str:
        """The trace as text rows in the layout of the doc's table."""
        from .report import timeline_rows
        cols, rows = timeline_rows(self.trace, self.names, [e for v in self.failures for e in v.events])
        out = []
        for t, cells in rows:
            out.append(f"[{t}] " + "-" * 60)
            for c in cols:
                cell = cells.get(c)
                if cell and cell.lines:
                    mark = "  <-- VIOLATION" if cell.bad else ""
                    out.append(f"  {c:<14} " + " | ".join(cell.lines) + mark)
        return "\n".join(out)


# --------------------------------------------------------------------------- the host

class Host:
    """The kernel side of one run: memory layout, the mms, their notifiers, initial state.

    One mm per process of the scenario (`Scenario.mms`), each bound to its own
    PASID with its own notifier chain and SVA binding; they share the frames,
    the page-table pool and the device's ITags. `mm`, `kernel`, `notifier` and
    `secondary` are the first mm's (MAIN_MM); `mm_of(thread)` and
    `kernel_of(thread)` the ones a thread works in.
    """

    def __init__(self, scenario: Scenario, device: Any, mem: PhysMem, pasid_tbl_base: int, trace: Trace,
                 policy: Policy, layout: Layout = Layout()) -> None:
        self.scenario, self.device, self.mem, self.trace = scenario, device, mem, trace
        clock: Callable[[], int] = lambda: device.now
        first, n = layout.pool_first_pfn, layout.pool_frames
        tbl_pfn = pasid_tbl_base >> 12
        if first <= tbl_pfn < first + n:
            raise ValueError(f"PASID table at {pasid_tbl_base:#x} lies inside the frame pool")
        self.frames = FrameAllocator(mem, first, n, trace, clock)
        table = PasidTable(mem, pasid_tbl_base)
        itags = ItagPool()
        self.mms: dict[str, Mm] = {}
        self.kernels: dict[str, Kernel] = {}
        self.secondaries: dict[str, SecondaryTlb] = {}
        for name in scenario.mms:
            share = self.mms.get(MAIN_MM)
            mm = Mm(mem, self.frames, table, trace, clock, huge_base_pa=layout.huge_base, share_with=share)
            sec = SecondaryTlb(device, scenario.mm_pasid(name), itags=itags)
            self.mms[name], self.secondaries[name] = mm, sec
            self.kernels[name] = Kernel(mm, Notifier(mm, policy, sec), wp_fault=scenario.wp_fault,
                                        bugs=scenario.bugs)
        self.mm = self.mms[MAIN_MM]
        self.secondary = self.secondaries[MAIN_MM]
        self.kernel = self.kernels[MAIN_MM]
        self.notifier = self.kernel.notifier
        self.by_pasid = {scenario.mm_pasid(name): mm for name, mm in self.mms.items()}
        self.initial: dict[Addr, int] = {}
        # the kernel half (`vmalloc` lines): one set of kernel tables in every mm's PGD
        self.kspace: KernelSpace | None = None
        if scenario.kpages:
            self.kspace = KernelSpace(mem, self.mm.table_frames, self.frames)
            for name, mm in self.mms.items():
                self.kspace.attach(mm.tables.root_pa, self.kernels[name])
                self.kernels[name].kspace = self.kspace
        self._setup()

    def mm_of(self, thread: str) -> Mm:
        return self.mms[self.scenario.mm_of(thread)]

    def kernel_of(self, thread: str) -> Kernel:
        return self.kernels[self.scenario.mm_of(thread)]

    def _setup(self) -> None:
        """The setup lines in file order: each mm's VMAs and pages, a fork where its `mm` line stands."""
        sc = self.scenario
        files: dict[str, FileObject] = {}
        for name, mm in self.mms.items():
            mm.bind_pasid(sc.mm_pasid(name))
        items: list[tuple[int, str, Any]] = [(v.line, "vma", v) for v in sc.vmas]
        items += [(p.line, "page", p) for p in sc.pages]
        items += [(m.line, "fork", m) for m in sc.mms.values() if m.fork]
        items += [(k.line, "vmalloc", k) for k in sc.kpages]
        for line, kind, spec in sorted(items, key=lambda x: x[0]):
            if kind == "vma":
                v = spec
                f = files.setdefault(v.file, FileObject(v.file)) if v.kind == "file" else None
                self.mms[v.mm].add_vma(Vma(v.start, v.end, v.kind, v.writable, v.mergeable, f,
                                           0 if f is None else v.start >> 12))
            elif kind == "fork":
                self._fork(spec.fork, spec.name, line)
            elif kind == "vmalloc":
                assert self.kspace is not None
                try:
                    self.kspace.vmalloc_page(spec.va, spec.value if spec.value is not None
                                             else self.mm.values.initial())
                except (ValueError, MemoryError) as e:
                    raise ScenarioRunError(sc.path, line, f"cannot set up this vmalloc page: {e}") from None
            else:
                p = spec
                mm = self.mms[p.mm]
                size = HPAGE_SIZE if p.state in HUGE_STATES else PAGE_SIZE
                try:
                    for i in range(p.count):
                        va = p.va + i * size
                        value = p.value if (p.value is not None and i == 0) else mm.values.initial()
                        self._setup_page(va, p.state, value, mm)
                except (ValueError, RuntimeError, MemoryError) as e:
                    raise ScenarioRunError(sc.path, p.line, f"cannot set up this page: {e}") from None

    def _fork(self, parent_name: str, child_name: str, line: int) -> None:
        parent, child = self.mms[parent_name], self.mms[child_name]
        try:
            copied = child.setup_fork(parent)
        except (ValueError, RuntimeError, MemoryError) as e:
            raise ScenarioRunError(self.scenario.path, line, f"cannot fork mm {parent_name!r}: {e}") from None
        pages = {va & ~(PAGE_SIZE - 1) for va in copied}
        src = parent.bound_pasid
        for (pasid, va), value in list(self.initial.items()):
            if pasid == src and va & ~(PAGE_SIZE - 1) in pages:
                self.initial[(child.bound_pasid, va)] = value

    def _setup_page(self, va: int, state: str, value: int, mm: Mm | None = None) -> None:
        mm = mm or self.mm
        frames = self.frames
        vma = mm.find_vma(va)
        assert vma is not None
        off = va & (PAGE_SIZE - 1)
        if state == "none":
            return
        if state == "zero":
            mm.setup_map(va, frames.zero_pfn, writable=False)
            self.initial[(mm.bound_pasid, va)] = 0
            return
        if state in HUGE_STATES:
            base = va & ~(HPAGE_SIZE - 1)
            first = mm.huge.alloc("anon")
            self.mem.write64((first << 12) + (va - base), value)
            cow = state == "huge-cow"
            mm.setup_map_huge(base, first, writable=vma.writable and not cow)
            if cow:  # also mapped by a forked child: every subframe referenced and mapped twice
                for i in range(HPAGE_SIZE // PAGE_SIZE):
                    mm.get_page(first + i)
                    mm.add_map(first + i)
        elif state == "file":
            assert vma.file is not None
            idx = vma.file_index(va)
            pfn = vma.file.pages.get(idx)
            if pfn is None:
                pfn = vma.file.pages[idx] = frames.alloc("file")
            frames.get(pfn)  # the mapping's reference; the page cache keeps the first
            self.mem.write64((pfn << 12) + off, value)
            mm.setup_map(va, pfn, writable=False)
        else:
            pfn = frames.alloc("anon")
            self.mem.write64((pfn << 12) + off, value)
            mm.setup_map(va, pfn, writable=vma.writable and state == "present")
            if state == "cow":  # also mapped by a forked child: refcount and mapcount 2
                frames.get(pfn)
                mm.add_map(pfn)
        self.initial[(mm.bound_pasid, va)] = value

    def addresses(self, trace: Trace) -> set[Addr]:
        """Every address the run touched or the scenario named (labels in every mm,
        an action's address in its thread's mm)."""
        sc = self.scenario
        out: set[Addr] = set(self.initial)
        for pasid in self.by_pasid:
            out |= {(pasid, va) for va in sc.labels.values()}
        out |= {(sc.pasid_of(a.thread), a.va) for a in sc.actions() if a.va is not None}
        names = ("CpuStore", "CpuLoad", "DevAccess")
        for e in trace:  # (the type test first: it is the cheap one)
            if type(e).__name__ in names and hasattr(e, "va") and hasattr(e, "pasid"):
                if e.pasid in self.by_pasid:
                    out.add((e.pasid, e.va))
        return out

    def values(self, addrs: set[Addr]) -> dict[Addr, int | None]:
        return {a: self.by_pasid[a[0]].read_value(a[1]) for a in sorted(addrs) if a[0] in self.by_pasid}


# --------------------------------------------------------------------------- threads

@dataclass
class _Cpu:
    name: str
    queue: deque = field(default_factory=deque)
    gen: Any = None
    gen_action: Action | None = None
    active: Action | None = None
    target: tuple[str, int] | None = None
    seen: int = 0
    blocked: Blocked | None = None
    wait_until: int = 0
    steps: int = 0
    wake: int = 0  # random mode: preempted until this cycle

    @property
    def done(self) -> bool:
        return self.active is None and not self.queue


@dataclass
class _Dev:
    name: str
    index: int
    queue: deque = field(default_factory=deque)
    outstanding: Action | None = None
    waiting: Action | None = None
    wait_until: int = 0
    wake: int | None = None  # random mode: cycle its next access may be issued (None: not drawn yet)

    @property
    def done(self) -> bool:
        return (not self.queue and self.waiting is None
                and (self.outstanding is None or self.outstanding.nowait))


class RandomPolicy:
    """The random scheduler's own choices (random mode): after a step, a CPU thread that holds
    no page-table spinlock is preempted with probability `p_preempt` for 1..`max_sleep` steps;
    each device access waits 0..`max_dev_wait` steps; actions start in file order.

    A schedule policy is any object with these four methods (`model.director.Director` is
    the other one); the random loop asks it and nothing else, so a policy only chooses among
    the interleavings the threads, locks and the device allow. Draws come from the run's
    seeded `rng`, so a seed replays."""

    def begin(self, run: "_Run") -> None:
        """A random-mode run starts."""

    def defer(self, run: "_Run", t: "_Cpu") -> bool:
        """Before t starts its next queued action: True to start it later (the policy sets t.wake)."""
        return False

    def stepped(self, run: "_Run", t: "_Cpu") -> None:
        """After a CPU step of t: set t.wake to preempt it (never under the page-table lock)."""
        if run.host.mm_of(t.name).ptl.owner != t.name and run.rng.random() < run.p_preempt:
            t.wake = run.device.now + run.rng.randint(1, run.max_sleep) * run.cps

    def dev_wait(self, run: "_Run", d: "_Dev") -> int:
        """Cycles d's next access waits before it is issued."""
        return run.rng.randint(0, run.max_dev_wait) * run.cps


class _Run:
    def __init__(self, host: Host, device: Any, mode: str, seed: int, cycles_per_step: int,
                 stall_limit: int) -> None:
        self.host, self.device, self.mode = host, device, mode
        self.sc = host.scenario
        self.rng = random.Random(seed)
        self.cps = cycles_per_step
        # "No progress" is measured in cycles, but a scenario's own time scale sets what
        # is plausible: a step of cycles-per-step must not count as a stall by itself, and
        # time spent in a 'wait' or asleep (random mode) is never a stall (timed()).
        self.stall_limit = max(stall_limit, 20 * cycles_per_step)
        self.cpus = {t: _Cpu(t) for t in self.sc.cpu_threads}
        self.devs = {t: _Dev(t, dev_index(t)) for t in self.sc.dev_threads}
        self.by_index = {d.index: d for d in self.devs.values()}
        self.responses: list[tuple[int, DevResponse]] = []
        self.progress = False
        self.dev_commands = 0
        # random mode: after a step, a CPU thread holding no spinlock is preempted
        # with probability p_preempt for 1..max_sleep steps; a device access
        # waits 0..max_dev_wait steps before it is issued
        self.p_preempt = 0.25
        self.max_sleep = 30
        self.max_dev_wait = 3
        # random mode: the schedule policy that makes those choices (RandomPolicy: the draws
        # above; a coverage director, model.director.Director, aims them); None outside run_random
        self.director: Any = None
        self.policy: Any = None
        # device page requests (scenario `pri`): serviced by the host's iopf handler
        self.iopf: IopfHandler | None = None
        if self.sc.pri != "off":
            if not hasattr(device, "enable_pri"):
                raise self.err(None, "this device has no Page Request Interface (scenario 'pri')")
            device.enable_pri(True)
            kernels = {host.scenario.mm_pasid(n): k for n, k in host.kernels.items()}
            self.iopf = IopfHandler(kernels.get, noop=self.sc.pri == "noop")
        elif hasattr(device, "enable_pri"):
            device.enable_pri(False)  # a device reused across runs (the RTL server) keeps no earlier setting
        if hasattr(device, "set_atc_write_fault"):
            device.set_atc_write_fault(self.sc.atc_write_upgrade == "fault")  # reset too, as for pri
        elif self.sc.atc_write_upgrade == "fault":
            raise self.err(None, "this device cannot fault on a read-only ATC entry (scenario 'atc-write-upgrade')")
        if hasattr(device, "set_atc_split_huge"):
            try:
                device.set_atc_split_huge(self.sc.atc_huge == "split")
            except ValueError as e:  # a device whose fill size is fixed (an RTL parameter)
                raise self.err(None, str(e)) from None
        elif self.sc.atc_huge == "split":
            raise self.err(None, "this device cannot cache huge pages as 4 KiB entries (scenario 'atc-huge')")
        if hasattr(device, "set_pwc_keep_supervisor"):
            device.set_pwc_keep_supervisor(self.sc.pwc_supervisor == "keep")  # reset too, as for pri
        elif self.sc.pwc_supervisor == "keep":
            raise self.err(None, "this device cannot keep supervisor entries in its walk cache "
                                 "(scenario 'pwc-supervisor')")

    @property
    def now(self) -> int:
        return self.device.now

    def err(self, line: int | None, msg: str) -> ScenarioRunError:
        return ScenarioRunError(self.sc.path, line, msg)

    # -- device ------------------------------------------------------------------------
    async def tick(self, n: int) -> None:
        await self.device.run(n)
        self.poll()

    def poll(self) -> None:
        for r in self.device.take_responses():
            d = self.by_index.get(r.thread)
            if d is None or d.outstanding is None:
                raise self.err(None, f"device response for thread {r.thread} that has nothing outstanding")
            self.responses.append((d.outstanding.line, r))
            d.outstanding = None
            self.progress = True
        for tag in self.device.take_completions():
            self.host.secondary.complete(tag)
            self.progress = True
        if self.iopf is not None and self.iopf.service(self.device):
            self.progress = True

    def dev_try(self, d: _Dev) -> bool:
        if d.waiting is not None:
            if self.now < d.wait_until:
                return False
            d.waiting = None
            return True
        if not d.queue or d.outstanding is not None:
            return False
        a: Action = d.queue[0]
        if a.verb == "wait":
            d.queue.popleft()
            d.waiting, d.wait_until = a, self.now + a.cycles
            return True
        try:
            idle = self.device.thread_idle(d.index)
        except (IndexError, ValueError) as e:
            raise self.err(a.line, f"{d.name}: {a.text}: the device refused the thread ({e!r})") from None
        if not idle:
            return False
        d.queue.popleft()
        mm = self.host.mm_of(d.name)
        write = a.verb == "write"
        value = (a.value if a.value is not None else mm.values.dev()) if write else 0
        assert a.va is not None
        try:
            self.device.submit(DevCommand(thread=d.index, write=write, pasid=mm.bound_pasid, va=a.va,
                                          wdata=value))
        except (ValueError, RuntimeError) as e:
            raise self.err(a.line, f"{d.name}: {a.text}: the device refused the command ({e})") from None
        d.outstanding = a
        self.dev_commands += 1
        return True

    # -- CPU ------------------------------------------------------------------------------
    def start(self, t: _Cpu, a: Action) -> None:
        t.active, t.seen = a, 0
        t.target = (a.until, a.until_n) if a.until else None
        if a.verb == "wait":
            t.wait_until = self.now + a.cycles
            return
        if a.verb == "resume":
            return
        if t.gen is not None:
            prev = t.gen_action
            raise self.err(a.line, f"{t.name} starts {a.verb!r} while its {prev.verb!r} (line {prev.line}) "
                                   f"is still preempted; 'resume' it first")
        spec = OPS[a.verb]
        kwargs: dict[str, Any] = {}
        for p in spec.args:
            p = p.rstrip("?")
            v = {"va": a.va, "len": a.length, "prot": a.prot, "value": a.value}[p]
            if v is not None:
                kwargs["length" if p == "len" else p] = v
        t.gen = spec.fn(self.host.kernel_of(t.name), t.name, **kwargs)
        t.gen_action = a

    def can_move(self, t: _Cpu) -> bool:
        if t.done:
            return False
        if t.active is not None and t.active.verb == "wait":
            return self.now >= t.wait_until
        return t.blocked is None or t.blocked.ready()

    def cpu_try(self, t: _Cpu) -> str:
        """Advance t by at most one step: "step", "blocked" or "idle"."""
        for _ in range(10_000):
            if t.active is None:
                if not t.queue:
                    return "idle"
                if self.policy is not None and self.policy.defer(self, t):
                    return "blocked"  # random mode: the policy starts t's next action later (t.wake)
                self.start(t, t.queue.popleft())
                continue
            a = t.active
            if a.verb == "wait":
                if self.now < t.wait_until:
                    return "blocked"
                t.active = None
                continue
            if t.gen is None:  # resume of an operation that already returned
                t.active = t.target = None
                continue
            if t.blocked is not None:
                if not t.blocked.ready():
                    return "blocked"
                t.blocked = None
            try:
                y = next(t.gen)
            except StopIteration:
                t.gen = t.gen_action = None
                t.active = t.target = None
                continue
            except (RuntimeError, ValueError, AssertionError, KeyError, MemoryError) as e:
                line = t.gen_action.line if t.gen_action else a.line
                raise self.err(line, f"{t.name}: {a.text}: {type(e).__name__}: {e}") from e
            if isinstance(y, Blocked):
                t.blocked = y
                continue
            assert isinstance(y, Step)
            t.steps += 1
            if t.target is not None and y.name == t.target[0]:
                t.seen += 1
                if t.seen >= t.target[1]:
                    t.active = t.target = None
            return "step"
        raise self.err(t.active.line if t.active else None, f"{t.name} spins without progress")

    def timed(self, cpus: list[_Cpu], devs: list[_Dev]) -> bool:
        """Some thread is sleeping for a known time (a 'wait', or preempted in random
        mode): the run is not stalled, only waiting for the clock."""
        now = self.now
        for t in cpus:
            if t.wake > now or (t.active is not None and t.active.verb == "wait" and t.wait_until > now):
                return True
        for d in devs:
            if (d.waiting is not None and d.wait_until > now) or (d.wake is not None and d.wake > now):
                return True
        return False

    def stuck_line(self, cpus: list[_Cpu], devs: list[_Dev]) -> int | None:
        """The scenario line of the first action that cannot finish."""
        for t in cpus:
            a = t.gen_action or t.active or (t.queue[0] if t.queue else None)
            if not t.done and a is not None and a.line:
                return a.line
        for d in devs:
            a = d.outstanding or (d.queue[0] if d.queue else None)
            if a is not None and a.line:
                return a.line
        return self.sc.rows[-1].line if self.sc.rows else None

    def describe_blocked(self, cpus: list[_Cpu], devs: list[_Dev]) -> str:
        parts = []
        for t in cpus:
            if t.done:
                continue
            op = t.gen_action or t.active
            what = f"{t.name} ({op.text!r}, line {op.line})" if op is not None and op.line else t.name
            if t.blocked is not None:
                parts.append(f"{what} waits: {t.blocked.reason}")
            else:
                parts.append(f"{what} cannot proceed")
        for d in devs:
            if d.outstanding is not None:
                a = d.outstanding
                parts.append(f"{d.name} gets no response to {a.text!r} (line {a.line}) from the device")
            elif d.queue:
                a = d.queue[0]
                parts.append(f"{d.name} cannot issue {a.text!r} (line {a.line}): the device thread stays busy")
        if self.host.secondary.outstanding:
            parts.append(f"{self.host.secondary.outstanding} invalidation(s) without a completion")
        return "; ".join(parts) or "nothing to do"

    # -- loops ------------------------------------------------------------------------------
    async def drive(self, cpus: list[_Cpu], devs: list[_Dev], done: Callable[[], bool], line: int | None,
                    what: str) -> None:
        """Script mode: step until `done()`; round-robin over `cpus`."""
        last = self.now
        while not done():
            self.progress = False
            for d in devs:
                if self.dev_try(d):
                    self.progress = True
            stepped = False
            for t in cpus:
                if self.cpu_try(t) == "step":
                    stepped = True
                    await self.tick(self.cps)
            if not stepped:
                await self.tick(self.cps)
            if stepped or self.progress or self.timed(cpus, devs):
                last = self.now
            elif self.now - last > self.stall_limit:
                raise self.err(line or self.stuck_line(cpus, devs),
                               f"{what} cannot finish (no progress for {self.stall_limit} cycles): "
                               f"{self.describe_blocked(cpus, devs)}")

    async def run_script(self) -> None:
        for row in self.sc.rows:
            cpus, devs = [], []
            for thread, acts in row.cells.items():
                if thread in self.cpus:
                    self.cpus[thread].queue.extend(acts)
                    cpus.append(self.cpus[thread])
                else:
                    self.devs[thread].queue.extend(acts)
                    devs.append(self.devs[thread])
            await self.drive(cpus, devs, lambda: all(t.done for t in cpus) and all(d.done for d in devs),
                             row.line, f"row [Time {row.label}]")

    async def run_random(self) -> None:
        for row in self.sc.rows:
            for thread, acts in row.cells.items():
                for a in acts:
                    if a.verb == "resume":
                        continue
                    if thread in self.cpus:
                        self.cpus[thread].queue.append(Action(a.line, a.thread, a.verb, a.text, a.va, a.length,
                                                              a.value, a.prot, None, 1, a.nowait, a.cycles))
                    else:
                        self.devs[thread].queue.append(a)
        cpus, devs = list(self.cpus.values()), list(self.devs.values())
        # Each thread's wake-up cycle (preempted until then) is kept on the thread:
        # _Cpu.wake (0: awake), _Dev.wake (None: not yet decided for its next access).
        # The loop below is the hot path of a device-bound run: it is written out
        # (no generators or lambdas, the candidate test of can_move inlined), but
        # it makes exactly the same choices and the same rng calls, in the same
        # order, as the plain version: candidates are the awake CPU threads that
        # can move, in thread order, then the device threads whose access is due.
        device, rng, cps = self.device, self.rng, self.cps
        choice = rng.choice
        stall_limit = self.stall_limit
        policy = self.policy = self.director if self.director is not None else RandomPolicy()
        policy.begin(self)
        dev_wait, stepped = policy.dev_wait, policy.stepped

        def finished() -> bool:
            for t in cpus:
                if t.active is not None or t.queue:
                    return False
            for d in devs:
                if d.queue or d.waiting is not None or (d.outstanding is not None and not d.outstanding.nowait):
                    return False
            return True

        last = device.now
        while not finished():
            self.progress = False
            now = device.now
            cands: list[tuple[str, Any]] = []
            for t in cpus:
                if now < t.wake:
                    continue
                a = t.active
                if a is None and not t.queue:
                    continue  # done
                if a is not None and a.verb == "wait":
                    if now >= t.wait_until:
                        cands.append(("cpu", t))
                elif t.blocked is None or t.blocked.ready():
                    cands.append(("cpu", t))
            for d in devs:
                if d.queue and d.outstanding is None and (d.waiting is None or now >= d.wait_until):
                    w = d.wake
                    if w is None:  # decide once per access how long it waits
                        w = d.wake = now + dev_wait(self, d)
                    if now >= w:
                        cands.append(("dev", d))
            if cands:
                kind, obj = choice(cands)
                if kind == "cpu":
                    if self.cpu_try(obj) == "step":
                        self.progress = True
                        stepped(self, obj)  # may set obj.wake (never inside the page-table spinlock)
                        await self.tick(cps)
                elif self.dev_try(obj):
                    self.progress = True
                    obj.wake = None
            else:
                await self.tick(cps)
            if self.progress:
                last = device.now
            elif device.now - last > stall_limit:
                if self.timed(cpus, devs):
                    last = device.now
                    continue
                raise self.err(self.stuck_line(cpus, devs),
                               f"random schedule cannot finish (no progress for {stall_limit} cycles): "
                               f"{self.describe_blocked(cpus, devs)}")
        self.policy = None  # the drain that follows resumes in file order

    async def drain(self) -> None:
        """Resume every preempted operation to completion, then let the device go quiet."""
        cpus = list(self.cpus.values())
        for t in cpus:
            if t.gen is not None and t.active is None:
                t.queue.append(Action(0, t.name, "resume", "resume (end of scenario)"))
        devs = list(self.devs.values())
        sec = self.host.secondary
        await self.drive(cpus, devs,
                         lambda: all(t.done for t in cpus) and all(d.done and d.outstanding is None for d in devs)
                         and sec.outstanding == 0,
                         None, "the end of the scenario (resuming preempted operations)")
        await self.tick(self.cps)


# --------------------------------------------------------------------------- entry points

DeviceFactory = Callable[[PhysMem, int, Trace], Any]


async def run_scenario(scenario: Scenario | str | Path, device: Any, policy: Policy | str, seed: int = 0, *,
                       mode: str = "script", cycles_per_step: int | None = None,
                       layout: Layout | None = None, stall_limit: int = 200_000,
                       director: Any = None, snapshots: Any = None) -> RunResult:
    """Run one scenario under one notifier policy on `device`; check the trace.

    `device` is either a Device already bound to host memory (it must expose
    `mem`, `pasid_tbl_base` and `trace`, as RefDevice does) or a factory
    `(mem, pasid_tbl_base, trace) -> Device` that builds one on fresh memory.
    `seed` drives the random mode (and is recorded in every result).
    `director` (random mode only): a schedule policy (`RandomPolicy`'s four methods), e.g. a
    `model.director.Director` that makes the preemption, action-start and device-delay choices
    from race-window coverage; None: `RandomPolicy`.
    `snapshots` (a `model.host_snapshot.HostSnapshots`): restore the host from
    its setup's snapshot instead of building it (stress: many runs per setup).
    """
    sc = load(scenario) if isinstance(scenario, (str, Path)) else scenario
    pol = Policy.parse(policy)
    if mode not in ("script", "random"):
        raise ValueError(f"mode {mode!r}: expected script or random")
    layout = layout or Layout()
    if callable(device) and not hasattr(device, "submit"):
        mem, trace = PhysMem(), Trace()
        device = device(mem, layout.pasid_tbl_base, trace)
        base = layout.pasid_tbl_base
    else:
        mem, trace, base = device.mem, device.trace, device.pasid_tbl_base
    try:
        host = (Host(sc, device, mem, base, trace, pol, layout) if snapshots is None else
                snapshots.host(sc, device, mem, base, trace, pol, layout))
    except (ValueError, RuntimeError, MemoryError) as e:
        raise ScenarioRunError(sc.path, None, f"setup failed: {e}") from e
    initial = {a: v for a, v in host.values(host.addresses(trace)).items() if v is not None}
    initial.update(host.initial)
    run = _Run(host, device, mode, seed, cycles_per_step or sc.cycles_per_step, stall_limit)
    run.director = director
    if mode == "script":
        await run.run_script()
    else:
        await run.run_random()
    await run.drain()
    final = host.values(host.addresses(trace))
    verdicts = check_all(trace, initial, final)
    metrics: dict[str, Any] = {
        "cycles": device.now,
        "cpu_steps": sum(k.steps for k in host.kernels.values()),
        "dev_commands": run.dev_commands,
        "dev_faults": sum(1 for _, r in run.responses if r.fault),
        "inv_hook_calls": sum(s.calls for s in host.secondaries.values()),
        "inv_requests": sum(s.requests for s in host.secondaries.values()),
        "stray_completions": len(host.secondary.stray),
    }
    for v in verdicts:
        if v.rule == "stale-window":
            metrics["stale_window"] = v.metrics
    return RunResult(scenario=sc.name, policy=pol.value, seed=seed, mode=mode, trace=trace, verdicts=verdicts,
                     initial=initial, final=final, metrics=metrics, names=sc.names(), responses=run.responses)


def run_scenario_sync(scenario: Scenario | str | Path, policy: Policy | str, seed: int = 0, *,
                      config: Any = None, **kw: Any) -> RunResult:
    """`run_scenario` on a fresh reference device (model.refdev.RefDevice)."""
    from .refdev import RefConfig, RefDevice

    cfg = config or RefConfig()

    def factory(mem: PhysMem, base: int, trace: Trace) -> RefDevice:
        return RefDevice(mem, base, trace, cfg)

    return run_sync(run_scenario(scenario, factory, policy, seed, **kw))


__all__ = ["Layout", "RunResult", "Host", "RandomPolicy", "run_scenario", "run_scenario_sync", "ScenarioError",
           "SegmentationFault"]
