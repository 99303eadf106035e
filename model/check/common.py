"""Shared views of a trace used by several checkers.

* the global write order (CPU stores and device writes merged; see
  `WriteOrder` for why device writes sit where they do),
* the mapping history of each virtual page (from `PteChange`),
* the life of each physical frame (from `FrameEvent`),
* one-line event descriptions with hex addresses for verdict messages,
* `TraceView`: the trace indexed by event type in one pass, with the views
  above built once and shared by every checker `check_all` runs.

Conventions shared by all checkers:

* An "address" is `(pasid, va)`: the checkers reason about what a program sees
  at a virtual address, because that is what a remapping (COW, migration, KSM)
  must preserve. Two VAs aliasing one frame are two addresses.
* Time ties are resolved leniently: when two events carry the same cycle and
  the trace cannot say which came first inside that cycle, a checker assumes
  the order that does not produce a failure. Only a strict difference in
  cycles can convict a device. The one exception is the order of two writes
  in the same cycle, which must be total: it follows the order in which their
  memory effects were recorded (see `WriteOrder`).
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Iterable, TypeVar

from model.trace import CpuLoad, CpuStore, DevAccess, FrameEvent, MemAccess, PteChange, Trace, ZeroFill

PAGE = 4096
Addr = tuple[int, int]  # (pasid, va)
E = TypeVar("E")


# --------------------------------------------------------------------------- one pass over a trace

class TraceView:
    """A trace read once: its events in order and, per event type, the
    (trace index, event) pairs, plus the shared views below, each built on
    first use. `check_all` makes one and hands it to every checker; a checker
    called with a plain trace makes its own (`as_view`), so both give the
    same verdicts. The view is a snapshot: events added to the trace later
    are not in it.
    """

    __slots__ = ("events", "_by_type", "_of", "_order", "_hist", "_frames")

    def __init__(self, trace: "Trace | Iterable") -> None:
        self.events: list = list(trace)
        by: dict[type, list[tuple[int, object]]] = {}
        for i, e in enumerate(self.events):
            lst = by.get(type(e))
            if lst is None:
                lst = by[type(e)] = []
            lst.append((i, e))
        self._by_type = by
        self._of: dict[type, list] = {}
        self._order: WriteOrder | None = None
        self._hist: MappingHistory | None = None
        self._frames: FrameHistory | None = None

    def __len__(self) -> int:
        return len(self.events)

    def __iter__(self):
        return iter(self.events)

    def of(self, kind: type[E]) -> list[tuple[int, E]]:
        """(trace index, event) of every event that is a `kind` (subclasses too), in trace order."""
        got = self._of.get(kind)
        if got is None:
            keys = [t for t in self._by_type if issubclass(t, kind)]
            if len(keys) == 1:
                got = self._by_type[keys[0]]
            else:
                got = sorted((x for t in keys for x in self._by_type[t]), key=lambda x: x[0])
            self._of[kind] = got
        return got

    @property
    def write_order(self) -> "WriteOrder":
        if self._order is None:
            self._order = WriteOrder(self)
        return self._order

    @property
    def mappings(self) -> "MappingHistory":
        if self._hist is None:
            self._hist = MappingHistory(self)
        return self._hist

    @property
    def frames(self) -> "FrameHistory":
        if self._frames is None:
            self._frames = FrameHistory(self)
        return self._frames


def as_view(trace: "Trace | Iterable | TraceView") -> TraceView:
    """The trace as a TraceView (itself if it is one already)."""
    return trace if isinstance(trace, TraceView) else TraceView(trace)


# --------------------------------------------------------------------------- formatting

def fmt_event(ev: object) -> str:
    """One-line, hex-addressed description of a trace event."""
    if isinstance(ev, CpuStore):
        return (f"CpuStore(t={ev.time} {ev.thread} pasid={ev.pasid} va={ev.va:#x} "
                f"pa={ev.pa:#x} value={ev.value:#x})")
    if isinstance(ev, CpuLoad):
        return (f"CpuLoad(t={ev.time} {ev.thread} pasid={ev.pasid} va={ev.va:#x} "
                f"pa={ev.pa:#x} value={ev.value:#x})")
    if isinstance(ev, DevAccess):
        kind = "write" if ev.write else "read"
        mem = f" mem={ev.mem_time}" if ev.mem_time is not None else ""
        flt = f" fault={ev.fault}" if ev.fault else ""
        hit = " atc-hit" if ev.atc_hit else ""
        return (f"DevAccess({kind} dev-thread={ev.thread} pasid={ev.pasid} va={ev.va:#x} "
                f"pa={ev.pa:#x} value={ev.value:#x} issue={ev.issue}{mem} complete={ev.complete}"
                f"{hit}{flt})")
    if isinstance(ev, MemAccess):
        kind = "write" if ev.write else "read"
        err = " bus-error" if ev.error else ""
        return (f"MemAccess(t={ev.time} {ev.source} {kind} pa={ev.pa:#x} value={ev.value:#x} "
                f"tag={ev.tag}{err})")
    if isinstance(ev, PteChange):
        old = "none" if ev.old_pa is None else f"{ev.old_pa:#x}"
        new = "none" if ev.new_pa is None else f"{ev.new_pa:#x}"
        return (f"PteChange(t={ev.time} pasid={ev.pasid} va={ev.va:#x} size={ev.size:#x} "
                f"{old} -> {new}{' rw' if ev.writable else ''})")
    if isinstance(ev, ZeroFill):
        who = f" {ev.thread}" if ev.thread else ""
        return f"ZeroFill(t={ev.time}{who} pasid={ev.pasid} va={ev.va:#x} size={ev.size:#x})"
    if isinstance(ev, FrameEvent):
        own = f" owner={ev.owner}" if ev.owner else ""
        return f"FrameEvent(t={ev.time} pfn={ev.pfn:#x} {ev.kind}{own})"
    return repr(ev)


def fmt_addr(a: Addr) -> str:
    return f"pasid {a[0]} va {a[1]:#x}"


# --------------------------------------------------------------------------- write order

def dev_write_time(d: DevAccess) -> int:
    """When a device write reached memory: `mem_time`, else its completion.

    Monitors give `mem_time` for every access that reached memory; the
    completion is the latest instant the write can have committed, used only
    if a producer left it out.
    """
    return d.mem_time if d.mem_time is not None else d.complete


def committed_dev_write(d: DevAccess) -> bool:
    """A device write that changed memory (a faulted write changed nothing)."""
    return d.write and d.fault == 0


@dataclass(frozen=True)
class Write:
    """One write in the global order, at one address. `index` is its 1-based
    position (0 = initial content); the writes of one zero fill share it."""

    index: int
    addr: Addr
    value: int
    time: int  # CPU store time, the device write's memory time, or the zero fill's time
    event: object  # CpuStore, DevAccess or ZeroFill
    source: str  # "cpu" | "dev" | "fill"

    def describe(self) -> str:
        return f"write #{self.index} ({fmt_event(self.event)})"


class WriteOrder:
    """The global write order and the per-address write sequences.

    Order: CPU stores in trace order (the host's CPU side is sequential, so this
    is its store order). A committed device write joins the order at its memory
    time: after every write of an earlier cycle. Inside one cycle, writes keep
    the order in which their memory effect was recorded in the trace: for a CPU
    store its `CpuStore`, for a device write the DMA `MemAccess` of the same
    cycle and PA when the monitor recorded one (it is appended when the data
    reaches memory), else the `DevAccess` itself (appended at completion, so a
    same-cycle CPU store then comes first). CPU store times used for placement
    are their running maximum, so an out-of-order timestamp cannot split the
    CPU's order.

    Zero fills (`ZeroFill`: a fault mapped the zero page or a zeroed page where
    nothing was mapped, e.g. after MADV_DONTNEED or munmap discarded the
    contents) are writes too: one write of 0 (source "fill") to every address
    the trace mentions (CPU store or load, device access) inside the filled
    range, placed at the fill's time (same cycle: trace order; the host records
    the fill just before the mapping's `PteChange`, so before any store through
    it). A fill is one position of the order, shared by all its addresses: the
    page becomes zero at once, so a view that includes the fill at one address
    includes it at every other (`writes` lists one `Write` per address, all
    with the fill's index; `len` and `times` count positions). Unlike stores,
    whose values are unique per address, 0 can be written by several fills
    (and be the initial value): a read of 0 may be explained by any of them.
    The ordering checker's lazy view takes the earliest one the view still
    allows, which is exact (the value cannot tell them apart, and a
    lower view constrains later reads least); pinning such a read to the
    latest fill before it would convict a device whose view merely lags.
    """

    def __init__(self, trace: Trace | Iterable | TraceView) -> None:
        view = as_view(trace)
        port: dict[tuple[int, int], list[int]] = {}
        for i, ev in view.of(MemAccess):
            if ev.source == "dma" and ev.write and not ev.error:
                port.setdefault((ev.time, ev.pa), []).append(i)
        keyed: list[tuple[int, int, object]] = []
        run_max = None
        for i, ev in view.of(CpuStore):
            run_max = ev.time if run_max is None or ev.time > run_max else run_max
            keyed.append((run_max, i, ev))
        # (CPU stores and device writes are keyed independently; the sort below
        # orders them by (time, index), indices being unique.)
        for i, ev in view.of(DevAccess):
            if ev.write and ev.fault == 0:  # committed_dev_write
                t = ev.mem_time if ev.mem_time is not None else ev.complete  # dev_write_time
                seen = port.get((t, ev.pa))
                keyed.append((t, seen.pop(0) if seen else i, ev))
        fills = view.of(ZeroFill)
        if fills:
            # the addresses the trace mentions, by (pasid, 4 KiB page)
            pages: dict[tuple[int, int], set[int]] = {}
            for kind in (CpuStore, CpuLoad, DevAccess):
                for _, ev in view.of(kind):
                    pages.setdefault((ev.pasid, ev.va & ~(PAGE - 1)), set()).add(ev.va)
            for i, ev in fills:
                vas = [va for page in range(ev.va & ~(PAGE - 1), ev.va + ev.size, PAGE)
                       for va in sorted(pages.get((ev.pasid, page), ())) if ev.va <= va < ev.va + ev.size]
                if vas:
                    keyed.append((ev.time, i, (ev, vas)))
        keyed.sort(key=lambda k: (k[0], k[1]))
        self.writes: list[Write] = []  # every (write, address), in order; a fill has one per address
        self._first: list[Write] = []  # the write at position k, at k-1 (a fill's first address)
        self.times: list[int] = []  # placement time of write k at position k-1 (non-decreasing)
        self.by_addr: dict[Addr, list[Write]] = {}
        for pos, (t, _, ev) in enumerate(keyed, start=1):
            if isinstance(ev, tuple):  # a zero fill: one position, every address of its range
                fill, vas = ev
                ws = [Write(pos, (fill.pasid, va), 0, t, fill, "fill") for va in vas]
            else:
                ws = [Write(pos, (ev.pasid, ev.va), ev.value, t, ev,
                            "cpu" if isinstance(ev, CpuStore) else "dev")]
            self._first.append(ws[0])
            self.times.append(t)
            for w in ws:
                self.writes.append(w)
                self.by_addr.setdefault(w.addr, []).append(w)
        self._idx_by_addr = {a: [w.index for w in ws] for a, ws in self.by_addr.items()}
        self._times_by_addr = {a: [w.time for w in ws] for a, ws in self.by_addr.items()}
        # (addr, value) -> positions in by_addr[addr]: values are unique per store, so a
        # read's value finds its write without scanning the address's history (0 may
        # have several positions: zero fills, see above).
        self.pos_by_value: dict[tuple[Addr, int], list[int]] = {}
        for a, ws in self.by_addr.items():
            for j, w in enumerate(ws):
                self.pos_by_value.setdefault((a, w.value), []).append(j)

    def __len__(self) -> int:
        """Number of positions in the order (a zero fill counts once)."""
        return len(self._first)

    def performed_by(self, t: int) -> int:
        """Largest prefix of the order performed at or before instant t."""
        return bisect.bisect_right(self.times, t)

    def write(self, index: int) -> Write | None:
        """The write at position `index` (for a zero fill, at its first address)."""
        return self._first[index - 1] if index >= 1 else None

    def next_write_to(self, addr: Addr, index: int) -> Write | None:
        """The first write to `addr` later in the order than position `index`."""
        idx = self._idx_by_addr.get(addr)
        if not idx:
            return None
        j = bisect.bisect_right(idx, index)
        return self.by_addr[addr][j] if j < len(idx) else None

    def writes_at(self, addr: Addr, t: int) -> list[Write]:
        """Writes to `addr` placed exactly at instant t."""
        ws = self.by_addr.get(addr)
        if not ws:
            return []
        times = self._times_by_addr[addr]
        return ws[bisect.bisect_left(times, t):bisect.bisect_right(times, t)]

    def count_before(self, addr: Addr, t: int) -> int:
        """How many writes to `addr` are placed strictly before instant t."""
        times = self._times_by_addr.get(addr)
        return bisect.bisect_left(times, t) if times else 0

    def last_write_before(self, addr: Addr, t: int, *, strict: bool = True) -> Write | None:
        """Latest write to `addr` placed before instant t (strictly, or at/before)."""
        ws = self.by_addr.get(addr)
        if not ws:
            return None
        times = self._times_by_addr[addr]  # non-decreasing: placement follows the order
        j = bisect.bisect_left(times, t) if strict else bisect.bisect_right(times, t)
        return ws[j - 1] if j else None


# --------------------------------------------------------------------------- mappings

UNKNOWN = object()  # no PteChange ever covered this VA: the checker cannot judge


class MappingHistory:
    """What each virtual page mapped to over time, from the PteChange events.

    Before the first change that covers a VA, the VA mapped to that change's
    `old_pa`. A VA no change ever covered has an UNKNOWN mapping, and checkers
    stay silent about it rather than guess.
    """

    def __init__(self, trace: Trace | Iterable | TraceView) -> None:
        self.changes: dict[int, list[tuple[int, int, PteChange]]] = {}
        # 4 KiB changes indexed by page; larger ones (2 MiB, 1 GiB) kept per PASID and
        # scanned, as they are few.
        self._small: dict[tuple[int, int], list[tuple[int, int, PteChange]]] = {}
        self._large: dict[int, list[tuple[int, int, PteChange]]] = {}
        for i, ev in as_view(trace).of(PteChange):
            item = (ev.time, i, ev)
            self.changes.setdefault(ev.pasid, []).append(item)
            if ev.size <= PAGE:
                self._small.setdefault((ev.pasid, ev.va & ~(PAGE - 1)), []).append(item)
            else:
                self._large.setdefault(ev.pasid, []).append(item)
        for lst in self.changes.values():
            lst.sort(key=lambda x: (x[0], x[1]))
        self._cover: dict[tuple[int, int], tuple[list[PteChange], list[int]]] = {}

    def covering(self, pasid: int, va: int) -> list[PteChange]:
        """Changes covering va's 4 KiB page, in time order."""
        return self._covering(pasid, va)[0]

    def _covering(self, pasid: int, va: int) -> tuple[list[PteChange], list[int]]:
        key = (pasid, va & ~(PAGE - 1))
        got = self._cover.get(key)
        if got is None:
            items = list(self._small.get(key, []))
            items += [x for x in self._large.get(pasid, []) if x[2].va <= va < x[2].va + x[2].size]
            items.sort(key=lambda x: (x[0], x[1]))
            cs = [c for (_, _, c) in items]
            got = self._cover[key] = (cs, [c.time for c in cs])
        return got

    @staticmethod
    def page_of(pa_base: int | None, change: PteChange, va: int) -> int | None:
        """4 KiB-page PA that `change`'s mapping gives `va` (None: not present)."""
        if pa_base is None:
            return None
        return (pa_base + (va - change.va)) & ~(PAGE - 1)

    def possible_pages(self, pasid: int, va: int, t: int) -> set | object:
        """Page PAs va may have mapped to at instant t (None = not present).

        The state after all changes strictly before t, plus the state after
        each change made at exactly t (same-cycle ties are lenient).
        """
        cs, times = self._covering(pasid, va)
        if not cs:
            return UNKNOWN
        nb = bisect.bisect_left(times, t)  # changes strictly before t
        if nb:
            last = cs[nb - 1]
            out = {self.page_of(last.new_pa, last, va)}
        else:
            out = {self.page_of(cs[0].old_pa, cs[0], va)}
        for c in cs[nb:bisect.bisect_right(times, t)]:
            out.add(self.page_of(c.new_pa, c, va))
        return out

    def state_at(self, pasid: int, va: int, t: int) -> tuple[int | None, bool, PteChange | None] | object:
        """(page PA or None, writable, deciding change) after all changes at or before t."""
        cs, times = self._covering(pasid, va)
        if not cs:
            return UNKNOWN
        n = bisect.bisect_right(times, t)
        if n:
            last = cs[n - 1]
            return self.page_of(last.new_pa, last, va), last.writable, last
        first = cs[0]
        # Before the first change: old mapping; its permission is not recorded.
        return self.page_of(first.old_pa, first, va), True, None

    def mapping_size(self, pasid: int, va: int, t: int) -> int:
        """Size of the page that mapped va around t (4 KiB when unknown)."""
        cs = self.covering(pasid, va)
        upto = [c for c in cs if c.time <= t and c.new_pa is not None]
        if upto:
            return upto[-1].size
        olds = [c for c in cs if c.old_pa is not None]
        return olds[0].size if olds else PAGE


# --------------------------------------------------------------------------- frames

class FrameHistory:
    """Life of each physical frame, from FrameEvent.

    Same-cycle ties are lenient: a free at cycle f affects accesses after f; an
    alloc at cycle a covers accesses at a. A frame whose first event is an
    alloc was free before it (the allocator hands out free frames); a frame
    whose first event is a free was allocated before it; a frame with no events
    is not judged.
    """

    def __init__(self, trace: Trace | Iterable | TraceView) -> None:
        self.events: dict[int, list[tuple[int, int, FrameEvent]]] = {}
        for i, ev in as_view(trace).of(FrameEvent):
            self.events.setdefault(ev.pfn, []).append((ev.time, i, ev))
        for lst in self.events.values():
            lst.sort(key=lambda x: (x[0], x[1]))
        self._times = {pfn: [x[0] for x in lst] for pfn, lst in self.events.items()}

    def state_at(self, pfn: int, t: int) -> tuple[str, FrameEvent | None] | None:
        """("free" | "alloc", the deciding event) at instant t; None if never seen."""
        evs = self.events.get(pfn)
        if not evs:
            return None
        # applied: every event before t, and the allocs at exactly t (the last of
        # them decides; events are in (time, trace order))
        times = self._times[pfn]
        j = bisect.bisect_left(times, t)
        last = None
        for k in range(bisect.bisect_right(times, t, j) - 1, j - 1, -1):
            if evs[k][2].kind == "alloc":
                last = evs[k][2]
                break
        if last is None and j:
            last = evs[j - 1][2]
        if last is not None:
            return ("free" if last.kind == "free" else "alloc"), last
        first = evs[0][2]
        return ("free" if first.kind == "alloc" else "alloc"), None

    def points_in_cycle(self, pfn: int, t: int) -> list[tuple[str, FrameEvent | None]]:
        """("free" | "alloc", the deciding event) at every point of cycle t at which a
        same-cycle access may have happened: before the frame's events of cycle t, and
        after each of them. Empty if the frame was never seen."""
        evs = self.events.get(pfn)
        if not evs:
            return []
        times = self._times[pfn]
        j = bisect.bisect_left(times, t)
        if j:
            last = evs[j - 1][2]
            out = [("free" if last.kind == "free" else "alloc", last)]
        else:
            out = [("free" if evs[0][2].kind == "alloc" else "alloc", None)]
        for k in range(j, bisect.bisect_right(times, t, j)):
            e = evs[k][2]
            out.append(("free" if e.kind == "free" else "alloc", e))
        return out

    def frees_between(self, pfn: int, lo: int, hi: int) -> list[FrameEvent]:
        """Frees at lo <= time < hi."""
        return [e for (tt, _, e) in self.events.get(pfn, []) if e.kind == "free" and lo <= tt < hi]
