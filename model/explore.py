"""Bounded exhaustive exploration of a scenario's interleavings on the reference device.

A scenario run in script or random mode is one interleaving; a clean run says
nothing about the others. The explorer decides: it enumerates every schedule
of the scenario's CPU steps and device events within a bound and either
reports that none breaks a checker rule or returns the shortest schedule that
does (`Found`), which `model.counterexample` turns into an ordinary
scenario file.

What is chosen
--------------
Each thread's actions are taken in file order (as in random mode: `until`,
`resume` and `wait` are ignored; a file may even leave its `[Time ...]` rows
out and list one line per thread, see `load_threads`). A *move* is one of

* `cpu T`   -- CPU thread T runs one step of its current kernel operation
  (`model.ops`: one `Step`, or it blocks on a lock / an invalidation wait,
  or its operation returns);
* `issue D` -- device thread D submits its next access (the ATC lookup is
  part of it: the device looks up before any later invalidation is applied);
* `dev D`   -- D's access advances by one event that another thread could
  tell apart: the page-directory read, the PTE read, the fill after the
  walk's last data returns, the DMA at the memory port (with the response);
* `inv N`   -- Invalidate Request N is applied (ATC drop, walks poisoned,
  drain snapshot) or completes.

The reference device's events are run one process at a time (each access
and each invalidation is a chain of events with one pending at a time), in
any order the explorer picks, so the device is neither faster nor slower
than the CPU and its accesses need not keep their latencies relative to each
other: an access can be issued before an invalidation and performed after
it, a walk can read a PTE before a `pte_set` and fill after it, a completion
can arrive anywhere. The one timing rule kept is the ATS rule the RTL obeys:
an invalidation is applied only after the lookups of the accesses issued
before it. Trace times are move numbers; the checkers only compare them.

Reduction
---------
Footprints. Each move records what it read and wrote: the 8-byte words of
physical memory (page tables, frames, the walker's and the DMA's reads;
whole-page copies and zeroing as page tokens), the kernel's bookkeeping per
lock, frame (refcount, owner), free list and mapcount (`model.footprint`,
which instruments those objects; the rest of the kernel state is one token
every CPU step reads and a step that changes it writes), ATC entries per
page, walks, DMAs and invalidations per device thread or ITag, and the
checker-visible events per virtual and physical page plus the two orders
the ordering checker compares across addresses: all writes (CPU stores,
device writes, zero fills) and all device reads (a write to an address no
device thread reads is in neither: it cannot change that checker's verdict).
A device access's issue is ordered against Invalidate Requests only (no
checker compares it with the CPU's events of its page). Two moves are
independent when neither writes what the other touches.

Three searches (`method`):

* `dpor` (`model.dpor`): dynamic partial-order reduction with source sets,
  sleep sets and state caching: one schedule per ordering of conflicting
  moves, any number of preemptions.
* `bounded`: every schedule within a preemption bound (iterative deepening,
  so a violation has the fewest preemptions and the shortest schedule among
  those), with sleep sets restricted so that a move stays asleep only where
  it could run without a preemption (plain sleep sets would lose schedules
  whose equivalent was beyond the bound), and state hashing: a visited
  state is skipped when it was already explored with at least the same
  remaining preemption budget and depth, and a sleep set no larger.
* `bpor` (`model.dpor` with a bound): `dpor` restricted to the schedules
  within a preemption bound (bounded partial-order reduction), by iterative
  deepening; a run stopped by its time limit still reports the largest bound
  it finished clean (`Result.decided_bound`).
* `hybrid` (the command line's default): `bpor` for half the time
  limit (shallow violations come out first, with short schedules), then
  `dpor` for a verdict with any number of preemptions.

The state (for hashing) is host memory, the kernel's bookkeeping (locks,
refcounts, frames, mapcounts), each thread's position (queue and the steps
of its current operation), the device (ATC, walks, pending events,
invalidations), the secondary TLB, and, because the checkers judge the
whole trace, the checker-visible history per token above, in order: the
trace up to swapping independent moves.

The model holds kernel operations as Python generators, which cannot be
copied, so a state is reached again by re-executing its schedule from the
initial state (the model is deterministic given a schedule); the first child
of every node continues in place.

Bounds: `preemptions` (switching away from a thread in the middle of an
operation or an access while it could go on; switches at operation or access
boundaries, away from a blocked thread, and invalidation moves are free),
explored by iterative deepening, so the first
violation found has the fewest preemptions, and among those the shortest
schedule is kept; `depth` cuts schedules longer than that many moves (counted
as `cut`, and then the verdict says the bound was not exhaustive).
"""
from __future__ import annotations

import argparse
import dataclasses
import heapq
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from .check import Verdict, check_all
from .counterexample import build as build_counterexample
from .footprint import REST, Sink, instrument, rest_digest
from .memory import PAGE_SHIFT, PAGE_SIZE, PhysMem
from .mm import ValueSource
from .notifier import POLICIES, Policy
from .progress import Progress
from .refdev import RefConfig, RefDevice, _Cmd, _Inv, _WalkCtx
from .scenario import THREAD_RE, Action, Scenario, ScenarioError, dev_index, parse
from .scheduler import Host, Layout, _Cpu, _Dev, _Run
from .trace import (CpuLoad, CpuStore, DevAccess, FrameEvent, InvCpl, InvReq, MemAccess, OpStep, PageClean, PteChange,
                    Trace, ZeroFill)

_WORDS_PER_PAGE = PAGE_SIZE // 8
#: pseudo-addresses of the non-memory resources in a footprint
# The ordering checker compares events across addresses: the global order of writes
# (CPU stores, device writes, zero fills) and the order of device reads (the device's
# view only grows). A read and a write of different addresses commute: moving the write
# across the read only changes how many writes the read could have seen, never which
# view explains it (model/check/ordering.py, the lazy view).
ORDER_W = ("order-w",)
ORDER_R = ("order-r",)
ATC_ALL = ("atc-all",)  # the whole ATC (an invalidation of a large range, an eviction)
INV_ORDER = ("inv-order",)  # Invalidate Requests relative to access issues (lookups before apply)
ITAGS = ("itags",)  # the ITag pool
#: the `Blocked` reasons of model.notifier whose wait tests the ITag pool (not instrumented)
_ITAG_WAITS = ("no free ITag", "invalidation completions")


# --------------------------------------------------------------------------- input

def load_threads(path: str | Path) -> Scenario:
    """Load a scenario for exploration; its `[Time ...]` rows may be absent.

    Without rows, each line `THREAD {ACTION; ...}` after the setup gives that
    thread's actions (a thread may have several such lines). They are read as
    one row per line, so the ordinary parser checks every field.
    """
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as e:
        raise ScenarioError(str(path), None, f"cannot read: {e.strerror or e}") from None
    return parse_threads(text, str(path))


def parse_threads(text: str, path: str = "<scenario>") -> Scenario:
    lines = text.splitlines()
    if any(re.match(r"^\s*\[Time\b", ln) for ln in lines):
        return parse(text, path)
    out: list[str] = []
    orig: dict[int, int] = {}  # line in the text parsed -> line in the file
    for n, ln in enumerate(lines, 1):
        w = ln.split(None, 1)
        if w and THREAD_RE.match(w[0]) and "{" in ln:
            out.append("[Time -]")
            orig[len(out)] = n
        out.append(ln)
        orig[len(out)] = n
    try:
        sc = parse("\n".join(out) + "\n", path)
    except ScenarioError as e:
        raise ScenarioError(e.path, orig.get(e.line, e.line) if e.line else e.line, e.message) from None
    for row in sc.rows:
        row.line = orig.get(row.line, row.line)
        for t, acts in row.cells.items():
            row.cells[t] = [dataclasses.replace(a, line=orig.get(a.line, a.line)) for a in acts]
    return sc


def thread_programs(sc: Scenario) -> dict[str, list[Action]]:
    """Each thread's actions in file order, as the explorer runs them.

    `until`, `resume`, `wait` and `nowait` are dropped (the explorer chooses
    the timing). CPU stores and device writes without a value get the value
    the model would give them, numbered in file order, so that the order in
    which operations start does not change the values (and with them the
    state) of otherwise equal schedules.
    """
    progs: dict[str, list[Action]] = {t: [] for t in sc.threads}
    n = {ValueSource.CPU: 0, ValueSource.DEV: 0}
    for row in sc.rows:
        for thread, acts in row.cells.items():
            for a in acts:
                if a.verb in ("resume", "wait"):
                    continue
                value = a.value
                base = ValueSource.CPU if a.verb == "store" else ValueSource.DEV if a.verb == "write" else None
                if base is not None and value is None:
                    n[base] += 1
                    value = base | n[base]
                progs[thread].append(dataclasses.replace(a, until=None, until_n=1, nowait=False, value=value))
    return progs


# --------------------------------------------------------------------------- footprints

class RecordingMem(PhysMem):
    """PhysMem that records which 8-byte words each move reads and writes.

    A word is its own token (pa >> 3). A whole-page operation (zeroing,
    copying) uses page tokens instead of 512 words: a word read also reads
    ("pr", page), a word write notes ("pw", page) in `wany`; a page read
    reads ("pg", page) and ("pw", page), a page write writes all three. So
    words of one page commute with each other and conflict with whole-page
    operations on it.
    """

    __slots__ = ("reads", "writes", "wany")

    def __init__(self, pa_bits: int = 48) -> None:
        super().__init__(pa_bits)
        self.reads: set = set()
        self.writes: set = set()
        self.wany: set = set()

    def read64(self, pa: int) -> int:
        self.reads.add(pa >> 3)
        self.reads.add(("pr", pa >> 12))
        return super().read64(pa)

    def write64(self, pa: int, value: int) -> None:
        self.writes.add(pa >> 3)
        self.wany.add(("pw", pa >> 12))
        super().write64(pa, value)

    def read(self, pa: int, n: int) -> bytes:
        self.reads.update(range(pa >> 3, (pa + n + 7) >> 3))
        self.reads.update(("pr", p) for p in range(pa >> 12, ((pa + n - 1) >> 12) + 1))
        return super().read(pa, n)

    def write(self, pa: int, data: bytes) -> None:
        n = len(data)
        self.writes.update(range(pa >> 3, (pa + n + 7) >> 3))
        self.wany.update(("pw", p) for p in range(pa >> 12, ((pa + n - 1) >> 12) + 1))
        super().write(pa, data)

    def _page_read(self, pa: int) -> None:
        self.reads.update((("pg", pa >> 12), ("pw", pa >> 12)))

    def _page_write(self, pa: int) -> None:
        self.writes.update((("pg", pa >> 12), ("pr", pa >> 12), ("pw", pa >> 12)))

    def copy_page(self, dst_pa: int, src_pa: int) -> None:
        self._page_read(src_pa)
        self._page_write(dst_pa)
        super().copy_page(dst_pa, src_pa)

    def zero_page(self, pa: int) -> None:
        self._page_write(pa)
        super().zero_page(pa)

    def take(self) -> tuple[set, set, set]:
        r, w, a = self.reads, self.writes, self.wany
        self.reads, self.writes, self.wany = set(), set(), set()
        return r, w, a

    def digest(self) -> int:
        return hash(tuple((pfn, bytes(pg)) for pfn, pg in sorted(self._pages.items())))


class Footprint:
    """What one move read and wrote: tokens (memory words, kernel and device resources, pages).

    `wany` holds container tokens of which some element was written (a word
    of a page, a key of a kernel dict): it conflicts with reads and writes of
    the whole container, not with writes of other elements.
    """

    __slots__ = ("reads", "writes", "wany", "_touch")

    def __init__(self, reads: frozenset, writes: frozenset, wany: frozenset = frozenset()) -> None:
        self.reads, self.writes, self.wany = reads, writes, wany
        self._touch = reads | writes | wany

    def conflicts(self, other: "Footprint") -> bool:
        return not (self.writes.isdisjoint(other._touch) and other.writes.isdisjoint(self._touch)
                    and self.wany.isdisjoint(other.reads) and other.wany.isdisjoint(self.reads))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Footprint) and (self.reads, self.writes, self.wany) == \
            (other.reads, other.writes, other.wany)

    def __hash__(self) -> int:
        return hash((self.reads, self.writes, self.wany))


@dataclass(frozen=True, order=True)
class Move:
    kind: str  # "cpu" | "issue" | "dev"
    thread: str = ""

    def __str__(self) -> str:
        return f"{self.kind} {self.thread}".strip()




# --------------------------------------------------------------------------- canonical state

def _canon(x: Any, depth: int = 6) -> Any:
    """A hashable, address-free image of plain model objects (for state hashing)."""
    if x is None or isinstance(x, (int, str, bool, float, bytes)):
        return x
    if depth == 0:
        return type(x).__name__
    if isinstance(x, dict):
        items = [(_canon(k, depth - 1), _canon(v, depth - 1)) for k, v in x.items()]
        try:
            return tuple(sorted(items))
        except TypeError:
            return tuple(sorted(items, key=repr))
    if isinstance(x, (list, tuple)):
        if len(x) > 32 and all(type(v) is int for v in x[:4]):
            return ("ints", len(x), hash(tuple(x)))  # the frame allocator's free list
        return tuple(_canon(v, depth - 1) for v in x)
    if isinstance(x, (set, frozenset)):
        vals = [_canon(v, depth - 1) for v in x]
        try:
            return tuple(sorted(vals))
        except TypeError:
            return tuple(sorted(vals, key=repr))
    if callable(x) and not hasattr(x, "__dict__"):
        return getattr(x, "__name__", "fn")
    d = getattr(x, "__dict__", None)
    if d is None:
        return type(x).__name__
    return (type(x).__name__,) + tuple((k, _canon(v, depth - 1)) for k, v in sorted(d.items())
                                       if k not in _SKIP and not callable(v))


_SKIP = frozenset({"mem", "trace", "clock", "pasid_table", "tables", "device", "table_frames", "frames",
                   "huge", "mm"})


# --------------------------------------------------------------------------- one run under control

class World:
    """The host, the reference device and the threads of one schedule."""

    def __init__(self, sc: Scenario, progs: dict[str, list[Action]], policy: Policy, config: RefConfig,
                 layout: Layout) -> None:
        self.sc = sc
        self.mem = mem = RecordingMem()
        self.trace = trace = Trace()
        self.device = dev = RefDevice(mem, layout.pasid_tbl_base, trace, config)
        self.host = host = Host(sc, dev, mem, layout.pasid_tbl_base, trace, policy, layout)
        self.sink = Sink()
        instrument(host, self.sink)
        self._rest = rest_digest(host)
        self.fast = False  # replaying moves whose footprints are known: skip computing them
        self.keep_hist = True  # the per-token histories of the state key (also while replaying)
        initial = {a: v for a, v in host.values(host.addresses(trace)).items() if v is not None}
        initial.update(host.initial)
        self.initial = initial
        self.run = run = _Run(host, dev, "random", 0, sc.cycles_per_step, 1 << 30)
        for t, acts in progs.items():
            q = run.cpus[t].queue if t in run.cpus else run.devs[t].queue
            q.extend(acts)
        self.cpus: list[_Cpu] = list(run.cpus.values())
        self.devs: list[_Dev] = list(run.devs.values())
        self.by_name = {**run.cpus, **run.devs}
        self.last_actor: str | None = None  # the thread of the last CPU or device move
        self._walk_level: dict[int, int] = {}  # device thread -> walker reads done in its current walk
        self.preemptions = 0
        self.history: list[Move] = []
        self.op_steps: dict[str, list[tuple[str, str, str]]] = {t.name: [] for t in self.cpus}
        # checker-visible events: per token (page, ITag, the global order) the moves that
        # produced them, in order: the trace up to swapping independent moves
        self.tok_hist: dict[Any, list] = {}
        self.must_lookup: dict[int, list[tuple[int, int]]] = {}  # itag -> commands to look up first
        self.dev_names = {d.index: d.name for d in self.devs}
        # the addresses device threads read (see _tokens: writes elsewhere stay out of ORDER_W)
        self.read_vas = frozenset(a.va for d in self.devs for a in d.queue
                                  if a.verb not in ("write", "wait", "resume") and a.va is not None)
        mem.take()

    # -- moves -------------------------------------------------------------------------------
    def cpu_enabled(self, t: _Cpu) -> bool:
        if t.done:
            return False
        return t.blocked is None or t.blocked.ready()

    def _pending(self) -> dict[tuple[str, int], int]:
        """Device process -> index of its pending event in the device's queue.

        Every command (one per device thread) and every invalidation is a
        chain of events with at most one pending at a time.
        """
        out: dict[tuple[str, int], int] = {}
        for i, (_, _, _, fn, args) in enumerate(self.device._heap):
            proc = _proc(args[0])
            if proc in out:
                raise RuntimeError(f"explorer: two pending events for {proc}")
            out[proc] = i
        return out

    def _inv_ready(self, itag: int) -> bool:
        """An invalidation is applied only after the lookups of the commands issued before it."""
        need = self.must_lookup.get(itag, ())
        busy = self.device._busy
        for th, uid in need:
            c = busy[th]
            if c is not None and c.uid == uid and not c.looked_up:
                return False
        return True

    def enabled(self) -> list[Move]:
        out = [Move("cpu", t.name) for t in self.cpus if self.cpu_enabled(t)]
        dev = self.device
        for d in self.devs:
            if d.queue and d.outstanding is None and dev.thread_idle(d.index):
                out.append(Move("issue", d.name))
        for (kind, n), _ in sorted(self._pending().items()):
            if kind == "cmd":
                out.append(Move("dev", self.dev_names[n]))
            elif self._inv_ready(n):
                out.append(Move("inv", str(n)))
        # continuing the current CPU thread first finds schedules with few preemptions early
        if self.last_actor is not None:
            out.sort(key=lambda m: m.thread != self.last_actor)
        return out

    def preempts(self, m: Move) -> bool:
        """Does `m` switch away from a thread in the middle of an operation or access that could go on?

        Switching at the boundary of an operation (CPU) or an access (device)
        is free, and so are invalidation moves (the device's own work).
        """
        last = self.last_actor
        if m.kind == "inv" or last is None or m.thread == last:
            return False
        if last in self.run.cpus:
            t = self.run.cpus[last]
            return t.gen is not None and self.cpu_enabled(t)
        d = self.run.devs[last]
        return d.outstanding is not None and ("cmd", d.index) in self._pending()

    def _run_chain(self, proc: tuple[str, int], prev: str, reads: set, writes: set) -> None:
        """Run the events of `proc` that no other move can tell apart from `prev`.

        Kept apart, each its own move: the page-directory and the PTE reads of
        a walk (a `pte_clear`/`pte_set` or a PMD change can land before or
        after either), the fill after the last read's data returns (a walk
        racing a fill), the DMA at the memory port. Merged into the move
        before them: the ATC lookup into the issue (the device looks up before
        any later invalidation is applied, docs/ARCHITECTURE.md), the reads of
        the upper levels (PASID entry, PML4, PDPT: the kernel model never
        changes them after setup), a read's data into the next level's read
        (nothing in between touches memory), the response into the DMA.
        """
        if proc[0] != "cmd":
            return
        th = proc[1]
        dev = self.device
        while True:
            i = self._pending().get(proc)
            if i is None:
                return
            nxt = dev._heap[i][3].__name__
            lvl = self._walk_level.get(th, 0)
            if nxt == "_lookup":
                pass
            elif nxt == "_walk_read":
                if prev == "_walk_read" or lvl == 3:
                    return
            elif nxt == "_walk_data":
                if lvl > 3:
                    return
            elif nxt == "_respond":
                pass
            else:
                return
            if nxt == "_lookup":
                self._walk_level[th] = 0
            prev = self._run_event(proc, reads, writes)


    def _run_event(self, proc: tuple[str, int], reads: set, writes: set) -> str:
        dev = self.device
        idx = self._pending()[proc]
        _, _, _, fn, args = dev._heap.pop(idx)
        heapq.heapify(dev._heap)
        name = fn.__name__
        if proc[0] == "cmd":
            c = args[0] if name in ("_lookup", "_dma_mem", "_respond") else args[0].c
            th = c.cmd.thread
            writes.add(("thr", th))
            vtok = ("atc", c.cmd.pasid, c.cmd.va >> PAGE_SHIFT)
            if name == "_lookup":
                reads.update((vtok, ATC_ALL))
                c.looked_up = True
                walks0 = c.walks
                fn(*args)
                if c.walks != walks0:
                    writes.add(("walk", th))
                if c.uid in dev._dma_pending:
                    writes.add(("dma", th))
                if len(dev.atc) >= dev.cfg.atc_entries - 1:
                    writes.add(ATC_ALL)  # LRU order decides the next eviction
            elif name == "_walk_data":
                ctx = args[0]
                busy0 = dev._walk_slots[ctx.slot] is ctx
                atc0 = [(e.pasid, e.vbase, e.size) for e in dev.atc]
                q0 = len(dev._walk_queue)
                walks0 = c.walks
                fn(*args)
                if dev._walk_slots[ctx.slot] is not ctx or not busy0 or c.walks != walks0:
                    writes.add(("walk", th))
                if c.walks != walks0:  # poisoned: walked again from the PASID entry
                    self._walk_level[th] = 0
                atc1 = [(e.pasid, e.vbase, e.size) for e in dev.atc]
                if atc1 != atc0:
                    for e in set(atc0) ^ set(atc1):
                        writes.add(ATC_ALL if e[2] != PAGE_SIZE else ("atc", e[0], e[1] >> PAGE_SHIFT))
                    if len(atc1) <= len(atc0):
                        writes.add(ATC_ALL)  # an eviction
                if c.uid in dev._dma_pending:
                    writes.add(("dma", th))
                if q0 or dev._walk_queue:
                    writes.add(("walkq",))
            elif name == "_dma_mem":
                pass  # an invalidation waits for this DMA through the ('inv', itag) token
                writes.add(("dma", th))
                for inv in dev._invs:
                    if c.uid in inv.waiting:
                        writes.add(("inv", inv.req.itag))
                fn(*args)
            else:  # _walk_read, _respond
                if name == "_respond":
                    pass
                else:
                    self._walk_level[th] = self._walk_level.get(th, 0) + 1
                fn(*args)
        else:
            inv = args[0]
            writes.add(("inv", inv.req.itag))
            if name == "_inv_apply":
                start, size = inv.req.range
                if inv.req.all_pasids or size > 16 * PAGE_SIZE:
                    writes.add(ATC_ALL)
                else:
                    writes.update(("atc", inv.req.pasid, (start >> PAGE_SHIFT) + k) for k in range(size >> PAGE_SHIFT))
                for th in range(len(dev._busy)):
                    reads.update((("walk", th), ("dma", th)))
            else:
                writes.add(ITAGS)
            fn(*args)
        return name

    def do(self, m: Move) -> Footprint:
        n0 = len(self.trace.events)
        reads: set = set()
        writes: set = set()
        dev = self.device
        dev.now += 1  # one logical cycle per move: trace times keep the order of the moves
        self.sink.clear()  # (what enabled() and key() looked at is not part of the move)
        self.mem.take()
        if m.kind == "cpu":
            t = self.run.cpus[m.thread]
            if self.preempts(m):
                self.preemptions += 1
            self.last_actor = m.thread
            invs0 = {id(i) for i in dev._invs}
            if t.blocked is not None and t.blocked.reason.startswith(_ITAG_WAITS):
                # woken by invalidation completions or a free ITag, which an inv move delivers
                # (it writes ITAGS): the wake depends on it. A thread woken from a lock or a PTE
                # wait reads the lock (instrumented) or the PTE (memory) when its wait is
                # tested again in this move, so it needs no ITAGS and commutes with completions
                reads.add(ITAGS)
            self.run.cpu_try(t)
            reads.add(REST)
            if not self.fast:
                rest = rest_digest(self.host)  # (only CPU moves change it)
                if rest != self._rest:
                    writes.add(REST)
                    self._rest = rest
            for inv in dev._invs:
                if id(inv) not in invs0:  # sent by this step
                    writes.update((INV_ORDER, ITAGS))  # issued before or after each access
                    self.must_lookup[inv.req.itag] = [(c.cmd.thread, c.uid) for c in dev._busy
                                                      if c is not None and not c.looked_up]
            steps = self.op_steps[m.thread]
            for e in self.trace.events[n0:]:
                if type(e) is OpStep and e.thread == m.thread:
                    steps.append((e.op, e.step, e.detail))
            if t.gen is None:  # the operation returned: its steps no longer matter
                steps.clear()
        elif m.kind == "issue":
            d = self.run.devs[m.thread]
            if self.preempts(m):
                self.preemptions += 1
            self.last_actor = m.thread
            if not self.run.dev_try(d):
                raise RuntimeError(f"explorer: {m} was not enabled")
            busy = dev._busy[d.index]
            busy.looked_up = False
            writes.add(("thr", d.index))
            reads.add(INV_ORDER)
            self._walk_level[d.index] = 0
            self._run_chain(("cmd", d.index), "issue", reads, writes)
            self.run.poll()
        else:
            if m.kind == "dev":
                if self.preempts(m):
                    self.preemptions += 1
                self.last_actor = m.thread
            proc = ("cmd", dev_index(m.thread)) if m.kind == "dev" else ("inv", int(m.thread))
            name = self._run_event(proc, reads, writes)
            self._run_chain(proc, name, reads, writes)
            self.run.poll()
        if self.fast:  # a replay: the footprint is known already
            self.history.append(m)
            if not self.keep_hist:
                return None  # type: ignore[return-value]
        per_tok: dict[Any, list] = {}
        if m.kind == "issue":
            a = self.run.devs[m.thread].outstanding
            assert a is not None and a.va is not None
            desc = ("issue", m.thread, a.va)
            # issues relative to Invalidate Requests (completion-before-drain compares them);
            # in the state's history only: issues commute with each other. Not in the page's
            # history: no checker compares an issue with the CPU's events of the page (a
            # successful access is judged at its memory time, `DevAccess.mem_time`; the issue
            # time only opens the window of one that has none, a fault, which ordering skips),
            # and the lookup at issue reads the ATC, which CPU steps do not touch
            self.tok_hist.setdefault(INV_ORDER, []).append((False, (desc,)))
        for e in self.trace.events[n0:]:
            toks = _tokens(e, self.read_vas)
            if toks:
                desc = _describe(e)
                for tk in toks:
                    per_tok.setdefault(tk, []).append(desc)
        for tk, descs in per_tok.items():
            self.tok_hist.setdefault(tk, []).append((m.kind == "cpu", tuple(descs)))
            writes.add(tk)
        if self.fast:
            return None  # type: ignore[return-value]
        self.history.append(m)
        r, w, a = self.mem.take()
        sink = self.sink
        return Footprint(frozenset(r | reads | sink.reads), frozenset(w | writes | sink.writes),
                         frozenset(a | sink.wany))

    # -- end of a schedule -------------------------------------------------------------------
    def stuck(self) -> list[str]:
        return [t.name for t in self.cpus if not t.done] + [d.name for d in self.devs if not d.done]

    def verdicts(self) -> list[Verdict]:
        final = self.host.values(self.host.addresses(self.trace))
        out = check_all(self.trace, self.initial, final)
        stuck = self.stuck()
        if stuck or self.host.secondary.outstanding:
            what = ", ".join(stuck) or f"{self.host.secondary.outstanding} invalidation(s)"
            out.append(Verdict(rule="deadlock", ok=False, message=f"no move possible, not finished: {what}"))
        return out

    # -- state hashing -----------------------------------------------------------------------
    def key(self, actor: bool = True) -> int:
        """The state's hash; `actor`: with the last actor (preemption bounds depend on it)."""
        dev, host = self.device, self.host
        th_of = {c.uid: c.cmd.thread for c in dev._busy if c is not None}
        pend = tuple(sorted((proc, dev._heap[i][3].__name__, _dev_args(dev._heap[i][4], th_of))
                            for proc, i in self._pending().items()))
        atc = sorted((e.pasid, e.vbase, e.size, e.pbase, e.writable) for e in dev.atc)
        lru = tuple(e.vbase for e in sorted(dev.atc, key=lambda e: e.used)) \
            if len(dev.atc) >= dev.cfg.atc_entries - 1 else ()
        devstate = (pend, tuple(atc), lru,
                    tuple(None if c is None else (c.cmd.va, c.cmd.write, c.cmd.wdata, c.atc_hit, c.pa, c.walks,
                                                  c.looked_up) for c in dev._busy),
                    tuple(sorted((w.c.cmd.thread, w.poisoned, w.next_pa) for w in dev._walk_slots if w is not None)),
                    tuple(c.cmd.thread for c in dev._walk_queue), tuple(sorted(th_of.get(u, -1) for u in dev._dma_pending)),
                    tuple(sorted((i.req.itag, i.req.range, i.applied, tuple(sorted(th_of.get(u, -1) for u in i.waiting)),
                                  i.done) for i in dev._invs)),
                    tuple(sorted((k, tuple(v)) for k, v in self.must_lookup.items())))
        kern = _kernel_digest(host)
        threads = tuple((t.name, len(t.queue), t.active.line if t.active else None,
                         None if t.blocked is None else t.blocked.reason, tuple(self.op_steps[t.name]))
                        for t in self.cpus)
        threads += tuple((d.name, len(d.queue), d.outstanding.line if d.outstanding else None) for d in self.devs)
        obs = tuple(sorted(((tk, tuple(h)) for tk, h in self.tok_hist.items()), key=lambda kv: repr(kv[0])))
        return hash((self.mem.digest(), devstate, kern, threads, self.last_actor if actor else None, obs))


def _frames_digest(fa: Any) -> tuple:
    return (tuple(sorted(fa._ref.items())), tuple(sorted(fa._owner.items())), len(fa._free), hash(tuple(fa._free)))


def _kernel_digest(host: Host) -> tuple:
    """The kernel's bookkeeping: locks, page state, frames, the secondary TLB binding."""
    mm, sec = host.mm, host.secondary
    return (mm.ptl.owner, mm.ksm_mutex.owner, tuple(sorted(mm.mmap_lock.readers.items())), mm.mmap_lock.writer,
            tuple(sorted(mm.page_locks.owner.items())), _canon(mm.swap.slots), mm.swap._next,
            tuple(sorted(mm.values._n.items())), mm.pasid, tuple(sorted(mm.mapcount.items())),
            tuple(sorted(mm.lazyfree)), tuple(sorted(mm.isolated)), tuple(sorted(mm.ksm_orig_pte.items())),
            _canon(mm.vmas), _frames_digest(host.frames), _frames_digest(mm.table_frames),
            tuple(_frames_digest(a) for a in mm.huge.allocators),
            tuple(sec.itags.free), tuple(sorted(sec.itags.outstanding.items())), tuple(sorted(sec.done)),
            tuple(sec.stray), sec.itags.serials)


def _proc(a: Any) -> tuple[str, int]:
    """The device process an event belongs to: a command (by device thread) or an invalidation (by ITag)."""
    if isinstance(a, _Cmd):
        return ("cmd", a.cmd.thread)
    if isinstance(a, _WalkCtx):
        return ("cmd", a.c.cmd.thread)
    if isinstance(a, _Inv):
        return ("inv", a.req.itag)
    raise RuntimeError(f"explorer: device event for {a!r}")


def _dev_args(args: tuple, th_of: dict[int, int]) -> tuple:
    out = []
    for a in args:
        if isinstance(a, _Cmd):
            out.append(("cmd", a.cmd.thread))
        elif isinstance(a, _WalkCtx):
            out.append(("walk", a.c.cmd.thread, a.poisoned, a.next_pa))
        elif hasattr(a, "req"):
            out.append(("inv", a.req.itag))
        else:
            out.append(a if isinstance(a, (int, type(None))) else repr(a))
    return tuple(out)


_TIME_FIELDS = frozenset({"time", "issue", "complete", "mem_time"})
_VTOK, _PTOK = -(1 << 62), -(1 << 61)


def _vtok(pasid: int, va: int) -> int:
    """Token of a virtual page (per PASID)."""
    return _VTOK - ((pasid << 36) | (va >> PAGE_SHIFT))


def _ptok(pa: int) -> int:
    """Token of a physical page."""
    return _PTOK - (pa >> PAGE_SHIFT)


def _tokens(e: Any, read_vas: frozenset[int] | None = None) -> tuple:
    """The pages whose checkers compare this event in time with events of the other side.

    The checkers relate an event to others of the same virtual page (write
    order per address, mapping history, stale translations) or of the same
    physical frame (frame life, DMA); the order of CPU events among
    themselves and of device events among themselves is kept whole.

    `read_vas`: the addresses some device thread of the scenario reads (None:
    any). The ordering checker compares a write's place in the global order
    only with writes a device read of its own address returned or saw
    replaced (model/check/ordering.py: every comparison is between the lower
    end of one read's interval and the upper end of another's, and both ends
    are writes to the read's address). A CPU store or device write to an
    address no device thread ever reads is neither, so its place in the
    global order cannot change the verdict, and it stays out of ORDER_W.
    """
    t = type(e)
    if t is CpuStore:
        if read_vas is not None and e.va not in read_vas:
            return (_vtok(e.pasid, e.va), _ptok(e.pa))
        return (_vtok(e.pasid, e.va), _ptok(e.pa), ORDER_W)
    if t is CpuLoad:  # judged against the writes to its own address only
        return (_vtok(e.pasid, e.va), _ptok(e.pa))
    if t is DevAccess:
        if e.write and read_vas is not None and e.va not in read_vas:
            return (_vtok(e.pasid, e.va), _ptok(e.pa))
        return (_vtok(e.pasid, e.va), _ptok(e.pa), ORDER_W if e.write else ORDER_R)
    if t is MemAccess:
        return (_ptok(e.pa), ORDER_W if e.write else ORDER_R) if e.source == "dma" else ()
    if t is ZeroFill:
        return _page_tokens(e) + (ORDER_W,)
    if t is PteChange:
        return _page_tokens(e)
    if t is FrameEvent:
        return (_ptok(e.pfn << PAGE_SHIFT),)
    if t is PageClean:
        return (_vtok(e.pasid, e.va), _ptok(e.pa))
    if t is InvReq:
        return (("inv", e.itag), INV_ORDER)
    if t is InvCpl:
        return (("inv", e.itag),)
    return ()


def _page_tokens(e: Any) -> tuple:
    """A PTE change or zero fill: its virtual pages and the physical pages it unmapped and mapped."""
    out = [_vtok(e.pasid, e.va + off) for off in range(0, min(e.size, 1 << 21), PAGE_SIZE)]
    for pa in (getattr(e, "old_pa", None), getattr(e, "new_pa", None)):
        if pa is not None:
            out.extend(_ptok(pa + off) for off in range(0, min(e.size, 1 << 21), PAGE_SIZE))
    return tuple(out)


def _describe(e: Any) -> tuple:
    """An event without its times (the order of events carries the timing)."""
    return (type(e).__name__,) + tuple(v for k, v in e.__dict__.items() if k not in _TIME_FIELDS)


# --------------------------------------------------------------------------- the search

@dataclass
class Found:
    """A schedule that breaks a rule."""

    schedule: list[Move]
    rules: frozenset[str]
    verdicts: list[Verdict]
    preemptions: int


@dataclass
class Result:
    scenario: str
    policy: str
    bound: int  # preemption bound reached
    depth: int
    schedules: int = 0  # complete schedules run (to a final state)
    cut: int = 0  # schedules cut at the depth bound
    states: int = 0  # distinct states
    pruned: int = 0  # moves skipped by sleep sets + states already explored
    moves: int = 0  # moves executed, replays included
    seconds: float = 0.0
    found: Found | None = None
    timed_out: bool = False
    levels: list = field(default_factory=list)  # (preemption bound, schedules, states, seconds so far)
    finals: set = field(default_factory=set)  # (final values, device responses, failed rules) per schedule
    verdict_sets: set = field(default_factory=set)
    decided_bound: int | None = None  # bpor: the largest preemption bound explored to its end, clean

    @property
    def exhaustive(self) -> bool:
        return self.cut == 0 and not self.timed_out

    def summary(self) -> str:
        head = (f"{self.scenario} [{self.policy}]: {self.schedules} schedules, {self.states} distinct states, "
                f"{self.pruned} pruned, {self.cut} cut, {self.moves} moves, {self.seconds:.2f} s")
        if self.found is None:
            pre = "any number of preemptions" if self.bound < 0 else f"at most {self.bound} preemption(s)"
            lim = f"{pre}, {self.depth} moves"
            if self.timed_out:
                done = "" if self.decided_bound is None else \
                    f" (clean and exhaustive within at most {self.decided_bound} preemption(s))"
                return (f"{head}\nUNDECIDED: time limit reached while exploring bound {self.bound}; "
                        f"no violation in the {self.schedules} schedules run at that bound{done}")
            note = "" if self.exhaustive else f" (NOT exhaustive: {self.cut} schedule(s) cut at depth {self.depth})"
            return f"{head}\nno violation in all {self.schedules} schedules within bound B = {lim}{note}"
        f = self.found
        return (f"{head}\nVIOLATION {','.join(sorted(f.rules))}: shortest schedule {len(f.schedule)} moves, "
                f"{f.preemptions} preemption(s):\n  " + " ; ".join(str(m) for m in f.schedule))


class Explorer:
    """Explores one scenario under one policy. `reduce=False` enumerates every schedule."""

    def __init__(self, sc: Scenario, policy: Policy | str, *, preemptions: int = 2, depth: int = 400,
                 reduce: bool = True, config: RefConfig | None = None, layout: Layout | None = None,
                 stop_at_first: bool = False, keep_finals: bool = False, time_limit: float | None = None,
                 hashing: bool = True, deepen: bool = True, shuffle: int | None = None,
                 on_leaf: Any = None, method: str = "bounded") -> None:
        self.on_leaf = on_leaf  # called with the World of every complete schedule (model.coverage)
        if method not in ("bounded", "dpor", "hybrid", "bpor"):
            raise ValueError(f"method {method!r}: expected bounded, dpor, bpor or hybrid")
        self.method = method  # bounded: preemption bound, sleep sets, state hashing; dpor: model.dpor
        self.deepen = deepen
        # shuffle=SEED tries the moves of each node in a seeded random order: the same
        # schedules in the end, but a violation that needs early choices is met sooner
        self.rng = None if shuffle is None else __import__("random").Random(shuffle)
        self.hashing = hashing and reduce
        self.sc = sc
        self.policy = Policy.parse(policy)
        self.max_preemptions = preemptions
        self.depth = depth
        self.reduce = reduce
        # No page-walk cache: the reduction above counts on every walk reading
        # every level (the PASID entry and upper levels merged into one move).
        self.config = config or RefConfig(pwc_entries=0)
        # a frame pool sized to the scenario: the same frames come out first (lowest
        # first), and the allocator's setup and state digest stay small
        self.layout = layout or Layout(pool_frames=min(Layout.pool_frames, 512 + 2 * sum(p.count for p in sc.pages)))
        self.progs = thread_programs(sc)
        self.stop_at_first = stop_at_first
        self.keep_finals = keep_finals
        self.time_limit = time_limit

    def world(self, schedule: Iterable[Move] = (), *, fast: bool = False, keep_hist: bool = True) -> World:
        """A fresh world after `schedule`; `fast`: without the footprints of the replayed moves."""
        w = World(self.sc, self.progs, self.policy, self.config, self.layout)
        if not self.reduce:  # enumeration needs no footprints and no state keys at all
            w.fast, w.keep_hist = True, False
            for m in schedule:
                w.do(m)
            return w
        w.fast, w.keep_hist = fast, keep_hist
        for m in schedule:
            w.do(m)
        if fast:
            w.fast, w.keep_hist = False, True
            w._rest = rest_digest(w.host)
        return w

    def explore(self) -> Result:
        if self.method == "hybrid" and self.reduce:
            return self._hybrid()
        t0 = time.monotonic()
        res = Result(self.sc.name, self.policy.value, 0, self.depth)
        if self.method in ("dpor", "bpor") and self.reduce:
            from .dpor import explore_dpor
            self._res = res
            if self.method == "dpor":
                bounds: list[int | None] = [None]
            else:  # iterative deepening: the first violation has the fewest preemptions
                bounds = list(range(0 if self.deepen else self.max_preemptions, self.max_preemptions + 1))
            for b in bounds:
                res.bound = -1 if b is None else b  # -1: any number of preemptions
                lim = None if self.time_limit is None else max(0.0, self.time_limit - (time.monotonic() - t0))
                sub = type(self).__new__(type(self))
                sub.__dict__.update(self.__dict__)
                sub.time_limit = lim
                res.schedules = res.cut = 0
                explore_dpor(sub, res, bound=b)
                res.levels.append((res.bound, res.schedules, res.states, round(time.monotonic() - t0, 2)))
                if res.found is not None or res.timed_out:
                    break
                if b is not None and res.cut == 0:
                    res.decided_bound = b
            if res.found is not None:
                res.found = self.fewer_switches(res.found)
            res.seconds = time.monotonic() - t0
            return res
        first = 0 if self.deepen else self.max_preemptions
        for bound in range(first, self.max_preemptions + 1):
            res.bound = bound
            self._visited: dict[int, tuple[int, int, frozenset[Move]]] = {}
            self._res = res
            self._deadline = None if self.time_limit is None else t0 + self.time_limit
            res.schedules = res.cut = 0
            try:
                self._dfs(self.world(), [], {}, bound)
            except TimeoutError:
                res.timed_out = True
            res.states = len(self._visited)
            res.levels.append((bound, res.schedules, res.states, round(time.monotonic() - t0, 2)))
            if res.timed_out:
                break
            if res.found is not None:
                break
        res.seconds = time.monotonic() - t0
        return res

    def fewer_switches(self, found: Found) -> Found:
        """The same violation as an equivalent schedule with fewer thread switches.

        DPOR runs one schedule per ordering of conflicting moves, not the one
        with the fewest preemptions, and a counterexample file needs few.
        Reorder the moves greedily (keep the last thread going while its next
        move's conflicting predecessors have run), which keeps every conflict
        in its order, so the verdict is the same; checked by running it.
        """
        from .dpor import proc_of
        w = self.world()
        fps = [w.do(m) for m in found.schedule]
        n = len(fps)
        procs = [proc_of(m) for m in found.schedule]
        preds = [{i for i in range(j) if procs[i] == procs[j] or fps[i].conflicts(fps[j])} for j in range(n)]
        def run_len(j: int, done: set[int]) -> int:
            """How many moves of j's process can run in a row from j."""
            d, k, p = set(done), 0, procs[j]
            while True:
                nxt = next((i for i in range(n) if i not in d and procs[i] == p), None)
                if nxt is None or not preds[nxt] <= d:
                    return k
                d.add(nxt)
                k += 1

        best = found
        for longest in (False, True):
            done: set[int] = set()
            order: list[int] = []
            last = None
            while len(order) < n:
                avail = [j for j in range(n) if j not in done and preds[j] <= done]
                same = [j for j in avail if procs[j] == last]
                if same:
                    j = same[0]
                elif longest:
                    j = max(avail, key=lambda i: (run_len(i, done), -i))
                else:
                    j = avail[0]
                order.append(j)
                done.add(j)
                if found.schedule[j].kind != "inv":
                    last = procs[j]
            sched = [found.schedule[j] for j in order]
            w2 = self.world()
            for m in sched:
                w2.do(m)
            verdicts = w2.verdicts()
            failed = frozenset(v.rule for v in verdicts if not v.ok)
            if failed >= found.rules and w2.preemptions < best.preemptions:
                best = Found(sched, failed, [v for v in verdicts if not v.ok], w2.preemptions)
        return best

    def _hybrid(self) -> Result:
        """Bounded first (a violation with few preemptions comes out early, and the
        shortest one), then DPOR for a verdict with any number of preemptions; half
        the time limit each, the second half with what the first left over."""
        t0 = time.monotonic()
        half = None if self.time_limit is None else self.time_limit / 2

        def run(method: str, limit: float | None) -> Result:
            sub = Explorer.__new__(Explorer)
            sub.__dict__.update(self.__dict__)
            sub.method, sub.time_limit = method, limit
            return sub.explore()

        b = run("bpor", half)
        if b.found is not None:
            return b
        left = None if self.time_limit is None else max(1.0, self.time_limit - (time.monotonic() - t0))
        d = run("dpor", left)
        for r in (b, d):
            r.seconds = time.monotonic() - t0
        if d.found is not None or d.exhaustive or not b.exhaustive:
            d.pruned += b.pruned
            return d
        return b  # clean within its bound; DPOR did not finish

    def _dfs(self, w: World, prefix: list[Move], sleep: dict[Move, Footprint], budget: int) -> None:
        res = self._res
        if self._deadline is not None and time.monotonic() > self._deadline:
            raise TimeoutError(f"exploration exceeded {self.time_limit} s")
        if self.stop_at_first and res.found is not None:
            return
        if self.hashing:
            key = w.key()
            rem = self.depth - len(prefix)
            old = self._visited.get(key)
            if old is not None and old[0] >= budget and old[1] >= rem and old[2] <= frozenset(sleep):
                res.pruned += 1
                return
            self._visited[key] = (budget, rem, frozenset(sleep))
        else:
            self._visited[len(self._visited)] = (0, 0, frozenset())
        moves = w.enabled()
        if self.rng is not None:
            self.rng.shuffle(moves)
        if not moves:
            self._leaf(w, prefix)
            return
        if len(prefix) >= self.depth:
            res.cut += 1
            return
        done: list[tuple[Move, Footprint]] = []
        fresh = True
        costs = [1 if w.preempts(m) else 0 for m in moves]  # w changes once the first child runs
        for m, cost in zip(moves, costs):
            if m in sleep:
                res.pruned += 1
                continue
            if cost > budget:
                continue
            cur = w if fresh else self.world(prefix)
            if not fresh:
                res.moves += len(prefix)
            fresh = False
            fp = cur.do(m)
            res.moves += 1
            child: dict[Move, Footprint] = {}
            if self.reduce:
                # A move stays asleep only while it could still run here without a
                # preemption: otherwise the schedule that ran it earlier may have
                # been beyond the bound, and sleeping would lose the equivalent one.
                for s, sfp in list(sleep.items()) + done:
                    if not sfp.conflicts(fp) and not cur.preempts(s):
                        child[s] = sfp
            self._dfs(cur, prefix + [m], child, budget - cost)
            done.append((m, fp))

    def _leaf(self, w: World, prefix: list[Move]) -> None:
        res = self._res
        res.schedules += 1
        if self.on_leaf is not None:
            self.on_leaf(w)
        verdicts = w.verdicts()
        failed = frozenset(v.rule for v in verdicts if not v.ok)
        if self.keep_finals:
            final = tuple(sorted(w.host.values(w.host.addresses(w.trace)).items()))
            # what the device saw: each access's data or fault, in each thread's order
            seen = tuple((ln, r.thread, r.fault, r.rdata) for ln, r in w.run.responses)
            res.finals.add((final, tuple(sorted(seen)), failed))
            res.verdict_sets.add(failed)
        if failed:
            f = res.found
            if f is None or (w.preemptions, len(prefix)) < (f.preemptions, len(f.schedule)):
                res.found = Found(list(prefix), failed, [v for v in verdicts if not v.ok], w.preemptions)


def explore(sc: Scenario | str | Path, policy: Policy | str, **kw: Any) -> Result:
    if not isinstance(sc, Scenario):
        sc = load_threads(sc)
    extra = [m for m in sc.mms.values() if m.line]
    if extra:  # its state digest and independence relation know one mm's locks and tables
        raise ScenarioError(sc.path, extra[0].line, "the explorer handles one mm; a scenario with 'mm' "
                                                    "lines runs in script or random mode (model.scenario)")
    return Explorer(sc, policy, **kw).explore()


def write_counterexample(sc: Scenario, policy: Policy, found: Found, out: Path) -> tuple[Path | None, str]:
    """Build the counterexample of `found` (a `Found`) and write it under `out` (model/counterexample.py
    writes and minimises it; the explorer gives it the scenario's world and programs)."""
    ex = Explorer(sc, policy)
    try:
        sc_text = Path(sc.path).read_text()
    except OSError:
        sc_text = ""
    cex = build_counterexample(sc_text, sc, policy, found.schedule, found.rules, ex.world, ex.progs)
    if cex is None:
        return None, "no row layout of the schedule replays the failure in script mode"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{sc.name}_{policy.value}_cex.scn"
    path.write_text(cex.text)
    return path, str(cex)


# --------------------------------------------------------------------------- CLI

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m model.explore", description=__doc__.splitlines()[0])
    ap.add_argument("scenario")
    ap.add_argument("--policy", default="all", help="notify-inside-lock | deferred | secondary-with-flush | all")
    ap.add_argument("--method", choices=("hybrid", "dpor", "bpor", "bounded"), default="hybrid",
                    help="dpor: every ordering of conflicting moves, any number of preemptions; "
                         "bpor: every ordering of conflicting moves within --bound preemptions; "
                         "bounded: every schedule within --bound preemptions; hybrid (default): bounded for "
                         "half the time limit, then dpor")
    ap.add_argument("--bound", type=int, default=2, help="bounded: maximum preemptions (default 2)")
    ap.add_argument("--depth", type=int, default=400, help="maximum moves per schedule (default 400)")
    ap.add_argument("--no-reduce", action="store_true", help="enumerate every schedule (no sleep sets, no hashing)")
    ap.add_argument("--out", default="build/explore", help="directory for counterexample scenario files")
    ap.add_argument("--no-cex", action="store_true", help="do not write counterexample files")
    ap.add_argument("--no-coverage", action="store_true",
                    help="do not collect race-window coverage (model.coverage) over the explored schedules")
    ap.add_argument("--time-limit", type=float, default=600.0,
                    help="seconds per policy (default 600); a run stopped by it says it was not exhaustive")
    args = ap.parse_args(argv)
    from . import coverage
    from .scenario import ScenarioError as Err
    try:
        sc = load_threads(args.scenario)
        pols = list(POLICIES) if args.policy == "all" else [Policy.parse(args.policy)]
    except (ScenarioError, Err, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    status = 0
    for pol in pols:
        try:
            with Progress(f"explore {sc.name} [{pol.value}]", unit="schedules") as bar:
                bar.note = f"{args.method}, time limit {args.time_limit:.0f} s"
                if args.no_coverage:
                    hook = lambda w: bar.advance()  # noqa: E731
                else:
                    def hook(w: World, p: str = pol.value) -> None:
                        bar.advance()
                        coverage.collect(w.trace, p)
                res = Explorer(sc, pol, preemptions=args.bound, depth=args.depth, reduce=not args.no_reduce,
                               time_limit=args.time_limit, on_leaf=hook, method=args.method).explore()
        except (ScenarioError, Err) as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        print(f"== {res.summary()}")
        exp = sc.expects.get(pol.value)
        got = frozenset() if res.found is None else res.found.rules
        if res.found is not None and not args.no_cex:
            path, cres = write_counterexample(sc, pol, res.found, Path(args.out))
            print(f"   counterexample: {path} ({cres})")
        if exp is not None and exp != got:
            print(f"   expected {'clean' if not exp else ','.join(sorted(exp))}")
            status = 1
        print()
    if not args.no_coverage:
        files = coverage.write_report(args.out)
        print(coverage.table(coverage.hits(), [p.value for p in pols]))
        print(f"race-window coverage of the explored schedules: {files['xml']}, {files['txt']}")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
