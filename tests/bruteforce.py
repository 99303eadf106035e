"""Brute-force references of the checkers, written straight from their definitions.

Each `*_bad` function takes a small trace and returns the rules it finds
violated, by exhaustive search rather than by the fast checkers' clever
passes (lazy view, bisection, sweeps). Nothing here imports model.check: the
global write order, the mapping and frame histories are rebuilt from the
definitions in the checkers' docstrings, so a disagreement points at one side
or the other, never at shared code. Exponential; meant for a few addresses,
a dozen writes and a handful of reads.

`gen_trace(draw)` builds a random small trace from any source of choices
(`draw.int(lo, hi)`): hypothesis in tests/test_check_bruteforce.py, `random`
for the one-off bulk comparison:

    .venv/bin/python -m tests.bruteforce --n 100000 --seed 1

which prints, per rule, how many traces the fast checker and the brute force
judged differently, and the first few disagreeing traces.

Definitions used (the checkers' module docstrings say the same):

* Global write order. CPU stores in trace order, placed at the running
  maximum of their times; a committed device write (not faulted) at its
  memory time (completion without one); a zero fill at its time, as one write
  of 0 to every address of its range. Same cycle: the order the memory effect
  was recorded (a device write's first unclaimed DMA `MemAccess` of the same
  cycle and PA, else the `DevAccess` itself), i.e. by trace index.
* Ordering. Reads are device reads that returned data. There must be initial
  values (the given ones; for other addresses any value no store or device
  write to the address produced) and, for every read, an instant tau in its
  window ([mem_time, mem_time], else [issue, complete]) and a prefix k of the
  order such that: at most the writes placed at or before tau are in the
  prefix; k is at least the position of every device write to the address
  placed strictly before the window starts (read-own-write); the latest write
  to the address among the first k (else the initial value) is the value read;
  and reads at strictly earlier instants have no larger k (one monotone view;
  reads at one instant may be ordered either way). CPU loads do not count.
* Lost write. A device write is discarded when it lands, strictly after a
  removal (new_pa None) of its address's mapping that was the latest change
  before it, in the page that removal unmapped. Every other write is live. A
  CPU load at t must return the latest live write to its address placed
  strictly before t, or a live write placed at t; the final content of an
  address must be its latest live write. Not judged: no live write before
  the observation, a removal of the mapping at or after that write's time and
  at or before the observation, or an address unmapped at the end.
* Use-after-free. A frame is allocated at instant t if it was before the
  events of cycle t (a frame whose first event is an alloc was free before
  it, a free was allocated) or any event of cycle t allocates it. Frames with
  no events are not judged. A device access at its memory time (a DMA
  `MemAccess` of the same cycle and PA belongs to the `DevAccess`), and any
  other memory-port access, must hit an allocated frame. A device data access
  whose page is none of those its VA could map to at that instant (after the
  changes before it, or after any change in its cycle) is a use-after-free
  if a change before it unmapped that page from the VA and the frame was
  freed between the latest such change and the access. A page walk must
  find its frame allocated, and not as data (owner anon, ksm, zero, file),
  at some point of its cycle.
* Protocol bookkeeping. Requests and completions in (time, trace order);
  completions pair first-in first-out per ITag. A request whose ITag is still
  outstanding reuses it; a completion with nothing outstanding is a duplicate
  if its ITag was ever completed, else one without a request; a request never
  completed is lost.
* Drain (ATS rule 2). A completion is early if a device access issued before
  its request, to the request's PASID and range, reached memory after the
  completion with a translation taken before the request: an ATC hit, or a
  PA (for a write, a permission) no page-table state from the request until
  the access's memory time gave its VA (accesses to VAs without page-table
  history are not judged).
"""
from __future__ import annotations

import argparse
import itertools
import random
import sys
from dataclasses import dataclass
from typing import Callable, Protocol

from model.trace import (CpuLoad, CpuStore, DevAccess, FrameEvent, InvCpl, InvReq, MemAccess, PteChange,
                         ZeroFill)

PAGE = 0x1000


# --------------------------------------------------------------------------- global write order

@dataclass(frozen=True)
class BWrite:
    pos: int  # 1-based position in the global order
    time: int
    pasid: int
    lo: int  # covers VAs [lo, hi)
    hi: int
    value: int
    kind: str  # "cpu" | "dev" | "fill"
    event: object

    def covers(self, addr: tuple[int, int]) -> bool:
        return addr[0] == self.pasid and self.lo <= addr[1] < self.hi


def write_order(events: list) -> list[BWrite]:
    keyed = []
    run = None
    claimed: set[int] = set()
    for i, e in enumerate(events):
        if isinstance(e, CpuStore):
            run = e.time if run is None else max(run, e.time)
            keyed.append((run, i, e.pasid, e.va, e.va + 1, e.value, "cpu", e))
        elif isinstance(e, ZeroFill):
            keyed.append((e.time, i, e.pasid, e.va, e.va + e.size, 0, "fill", e))
        elif isinstance(e, DevAccess) and e.write and e.fault == 0:
            t = e.mem_time if e.mem_time is not None else e.complete
            key = i
            for j, m in enumerate(events):
                if (j not in claimed and isinstance(m, MemAccess) and m.source == "dma" and m.write
                        and not m.error and m.time == t and m.pa == e.pa):
                    claimed.add(j)
                    key = j
                    break
            keyed.append((t, key, e.pasid, e.va, e.va + 1, e.value, "dev", e))
    keyed.sort(key=lambda x: (x[0], x[1]))
    return [BWrite(n, t, p, lo, hi, v, k, e) for n, (t, _, p, lo, hi, v, k, e) in enumerate(keyed, 1)]


def content(order: list[BWrite], init: dict, addr, k: int):
    """The value at addr after the first k writes (None: unknown initial value)."""
    for w in reversed(order[:k]):
        if w.covers(addr):
            return w.value
    return init.get(addr)


def performed(order: list[BWrite], t: int) -> int:
    return sum(1 for w in order if w.time <= t)


# --------------------------------------------------------------------------- ordering

def _window(d: DevAccess) -> tuple[int, int]:
    return (d.mem_time, d.mem_time) if d.mem_time is not None else (d.issue, d.complete)


def _views_exist(reads: list[tuple[int, int, list[int]]], perf: Callable[[int], int]) -> bool:
    """Some instants tau_r in [a_r, b_r] and views k_r in allowed_r with k_r <= perf(tau_r),
    non-decreasing over strictly increasing instants.

    Every vector of instants is tried. For fixed instants, going through them in
    increasing order and giving each read the smallest allowed view not below
    the views of strictly earlier instants decides feasibility: a smaller view
    at an instant only loosens the lower bound on later instants, and the
    upper bound perf(tau) does not depend on earlier choices.
    """
    if not reads:
        return True
    for taus in itertools.product(*(range(a, b + 1) for a, b, _ in reads)):
        cur, ok = 0, True
        for tau in sorted(set(taus)):
            nxt = cur
            for (_, _, allowed), t in zip(reads, taus):
                if t != tau:
                    continue
                ks = [k for k in allowed if cur <= k <= perf(tau)]
                if not ks:
                    ok = False
                    break
                nxt = max(nxt, min(ks))
            if not ok:
                break
            cur = nxt
        if ok:
            return True
    return False


def ordering_bad(events: list, initial: dict | None) -> dict[str, bool]:
    """{"any": some ordering-family rule is violated, "unknown-value": ..., "future-read": ...}.

    "unknown-value": under every choice of initial values some read returned a
    value no prefix gives its address. "future-read" (meaningful only without
    an unknown-value): under every choice that leaves no such read, some read's
    value is given only by prefixes longer than what was performed by the end
    of its window.
    """
    given = dict(initial or {})
    order = write_order(events)
    n = len(order)
    reads = [e for e in events if isinstance(e, DevAccess) and not e.write and e.fault == 0]
    written: dict[tuple[int, int], set[int]] = {}
    for w in order:
        if w.kind != "fill":
            written.setdefault((w.pasid, w.lo), set()).add(w.value)
    free = sorted({(r.pasid, r.va) for r in reads} - set(given))
    choices = [[None] + sorted({r.value for r in reads if (r.pasid, r.va) == a} - written.get(a, set()))
               for a in free]
    times = [w.time for w in order]

    def perf(t: int) -> int:
        return sum(1 for x in times if x <= t)

    any_ok = False
    all_unknown = True
    all_future = True
    for pick in itertools.product(*choices):
        init = {**given, **{a: v for a, v in zip(free, pick) if v is not None}}
        spec = []
        unknown = future = False
        for r in reads:
            addr = (r.pasid, r.va)
            a, b = _window(r)
            ks = [k for k in range(n + 1) if content(order, init, addr, k) == r.value]
            if not ks:
                unknown = True
            elif min(ks) > perf(b):
                future = True
            floor = max((w.pos for w in order if w.kind == "dev" and w.covers(addr) and w.time < a), default=0)
            spec.append((a, b, [k for k in ks if k >= floor]))
        all_unknown &= unknown
        if not unknown:
            all_future &= future
        if not unknown and not future and not any_ok:
            any_ok = _views_exist(spec, perf)
    return {"any": not any_ok, "unknown-value": all_unknown, "future-read": all_future and not all_unknown}


# --------------------------------------------------------------------------- mapping history

def _changes(events: list, addr) -> list[PteChange]:
    cs = [(e.time, i, e) for i, e in enumerate(events)
          if isinstance(e, PteChange) and e.pasid == addr[0] and e.va <= addr[1] < e.va + e.size]
    return [e for _, _, e in sorted(cs, key=lambda x: (x[0], x[1]))]


def _page_of(base: int | None, c: PteChange, va: int) -> int | None:
    return None if base is None else (base + (va - c.va)) & ~(PAGE - 1)


# --------------------------------------------------------------------------- lost write

def discarded(events: list, w: BWrite) -> bool:
    if w.kind != "dev":
        return False
    addr = (w.pasid, w.lo)
    before = [c for c in _changes(events, addr) if c.time < w.time]
    if not before:
        return False
    last = before[-1]
    return (last.new_pa is None and last.old_pa is not None
            and _page_of(last.old_pa, last, w.lo) == w.event.pa & ~(PAGE - 1))


def lost_write_bad(events: list, final: dict | None) -> bool:
    order = write_order(events)
    live = [w for w in order if not discarded(events, w)]

    def removed(addr, lo: int, hi: int | None) -> bool:
        return any(c.new_pa is None and lo <= c.time and (hi is None or c.time <= hi)
                   for c in _changes(events, addr))

    for ld in events:
        if not isinstance(ld, CpuLoad):
            continue
        addr = (ld.pasid, ld.va)
        prior = [w for w in live if w.covers(addr) and w.time < ld.time]
        if not prior or removed(addr, prior[-1].time, ld.time):
            continue
        ok = {prior[-1].value} | {w.value for w in live if w.covers(addr) and w.time == ld.time}
        if ld.value not in ok:
            return True
    for addr, got in (final or {}).items():
        mine = [w for w in live if w.covers(addr)]
        if got is None or not mine or removed(addr, mine[-1].time, None):
            continue
        if got != mine[-1].value:
            return True
    return False


# --------------------------------------------------------------------------- use-after-free

DATA_OWNERS = ("anon", "ksm", "zero", "file")


def _states(events: list, pfn: int, t: int) -> list[tuple[bool, str]] | None:
    """(allocated, owner) of a frame at each point of cycle t: before its events at t,
    and after each of them (same-cycle ties are lenient). None: the frame has no events."""
    evs = sorted(((e.time, i, e) for i, e in enumerate(events) if isinstance(e, FrameEvent) and e.pfn == pfn),
                 key=lambda x: (x[0], x[1]))
    if not evs:
        return None
    state = (evs[0][2].kind == "free", "")  # allocated before the first event iff that one frees it
    for tt, _, e in evs:
        if tt < t:
            state = (e.kind == "alloc", e.owner)
    out = [state]
    for tt, _, e in evs:
        if tt == t:
            out.append((e.kind == "alloc", e.owner))
    return out


def uaf_bad(events: list) -> bool:
    def free_at(pa: int, t: int) -> bool:
        st = _states(events, pa // PAGE, t)
        return st is not None and not any(a for a, _ in st)

    claimed: set[int] = set()
    for d in events:
        if not isinstance(d, DevAccess) or d.mem_time is None:
            continue
        t = d.mem_time
        for j, m in enumerate(events):
            if isinstance(m, MemAccess) and m.source == "dma" and m.time == t and m.pa == d.pa:
                claimed.add(j)
        if free_at(d.pa, t):
            return True
        cs = _changes(events, (d.pasid, d.va))
        if not cs:
            continue
        before = [c for c in cs if c.time < t]
        pages = {_page_of(before[-1].new_pa, before[-1], d.va)} if before else {_page_of(cs[0].old_pa, cs[0], d.va)}
        pages |= {_page_of(c.new_pa, c, d.va) for c in cs if c.time == t}
        page = d.pa & ~(PAGE - 1)
        if page in pages:
            continue
        gone = [c for c in before if _page_of(c.old_pa, c, d.va) == page]
        if gone and any(isinstance(f, FrameEvent) and f.pfn == d.pa // PAGE and f.kind == "free"
                        and gone[-1].time <= f.time < t for f in events):
            return True
    for j, m in enumerate(events):
        if not isinstance(m, MemAccess) or j in claimed:
            continue
        if free_at(m.pa, m.time):
            return True
        st = _states(events, m.pa // PAGE, m.time)
        # a walk must find a page-table page somewhere in its cycle, not data
        if m.source == "walk" and st is not None and not any(a and o not in DATA_OWNERS for a, o in st):
            return True
    return False


# --------------------------------------------------------------------------- protocol bookkeeping

def protocol_bad(events: list) -> dict[str, bool]:
    evs = sorted(((e.time, i, e) for i, e in enumerate(events) if isinstance(e, (InvReq, InvCpl))),
                 key=lambda x: (x[0], x[1]))
    out = dict.fromkeys(("itag-reuse", "completion-without-request", "duplicate-completion",
                         "lost-completion"), False)
    open_: dict[int, list[InvReq]] = {}
    ever_done: set[int] = set()
    pairs: list[tuple[InvReq, InvCpl]] = []
    for _, _, e in evs:
        if isinstance(e, InvReq):
            if open_.get(e.itag):
                out["itag-reuse"] = True
            open_.setdefault(e.itag, []).append(e)
        elif open_.get(e.itag):
            pairs.append((open_[e.itag].pop(0), e))
            ever_done.add(e.itag)
        elif e.itag in ever_done:
            out["duplicate-completion"] = True
        else:
            out["completion-without-request"] = True
    out["lost-completion"] = any(open_.values())
    out["completion-before-drain"] = any(_undrained(events, r, c) for r, c in pairs)
    return out


def _undrained(events: list, req: InvReq, cpl: InvCpl) -> bool:
    """Some device access that used a translation `req` covers, taken before `req`
    (an ATC hit at issue, or a PA/permission the page table never gave its VA from
    req.time until the access reached memory), reached memory after `cpl`.
    Translations are 4 KiB here (the generator maps nothing larger)."""
    for d in events:
        if not isinstance(d, DevAccess) or d.fault:
            continue
        mt = d.mem_time if d.mem_time is not None else d.complete
        if not (d.issue < req.time and mt > cpl.time):
            continue
        if req.pasid is not None and req.pasid != d.pasid:
            continue
        page = d.va & ~(PAGE - 1)
        if not (page < req.start + req.size and req.start < page + PAGE):
            continue
        if d.atc_hit:
            return True
        cs = _changes(events, (d.pasid, d.va))
        if not cs:
            continue
        upto = [c for c in cs if c.time <= req.time]
        states = [(_page_of(upto[-1].new_pa, upto[-1], d.va), upto[-1].writable) if upto
                  else (_page_of(cs[0].old_pa, cs[0], d.va), True)]
        states += [(_page_of(c.new_pa, c, d.va), c.writable) for c in cs if req.time < c.time <= mt]
        if not any(p == d.pa & ~(PAGE - 1) and (w or not d.write) for p, w in states):
            return True
    return False


# --------------------------------------------------------------------------- random small traces

class Draw(Protocol):
    def int(self, lo: int, hi: int) -> int: ...


class RandomDraw:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def int(self, lo: int, hi: int) -> int:
        return self.rng.randint(lo, hi)


P = 1
VAS = (0x1000, 0x1008, 0x2000)  # two addresses on page A, one on page B
FRAMES = (0x50000, 0x60000, 0x70000, 0x80000)


@dataclass
class Case:
    events: list
    initial: dict
    final: dict


def gen_trace(draw: Draw) -> Case:
    """A small random trace: CPU stores and loads, zaps, refaults with zero fills, COW-like
    remaps, device reads and writes through current or stale translations, frame frees
    and allocs, invalidation requests and completions. Memory is modelled per physical
    address, so a read returns, about half the time, what the frame it used holds (a
    stale translation sees the old frame), and otherwise any value the address ever
    had: both verdicts are common."""

    def pick(seq):
        seq = list(seq)
        return seq[draw.int(0, len(seq) - 1)]

    hidden = {(P, va): pick((0, 0xE00 + n, 0xE00 + n)) for n, va in enumerate(VAS)}
    initial = {a: v for a, v in hidden.items() if draw.int(0, 2)}
    mapping = {0x1000: FRAMES[0], 0x2000: FRAMES[1]}
    ever = {0x1000: {FRAMES[0]}, 0x2000: {FRAMES[1]}}
    # what each physical address holds (frames never written hold junk): device reads
    # through stale translations see the old frame, as real ones do
    phys = {mapping[va & ~(PAGE - 1)] + (va & 0xfff): v for (_, va), v in hidden.items()}
    offsets = sorted({va & 0xfff for va in VAS})

    def at(pa: int) -> int:
        return phys.get(pa, 0xBAD)
    events: list = []
    holes: list[tuple[int, int, int, bool]] = []  # (index, va, content now, always it): values set last
    t, val = 1, 0x100
    pending: list[tuple[int, int]] = []  # (time, itag) of completions to come

    def complete_until(now: int | None) -> None:
        for c in sorted(pending):
            if now is None or c[0] < now:
                pending.remove(c)
                events.append(InvCpl(time=c[0], itag=c[1]))

    for _ in range(draw.int(2, 12)):
        t += draw.int(0, 2)
        complete_until(t)
        va = pick(VAS)
        page = va & ~(PAGE - 1)
        cur = mapping[page]
        kind = draw.int(0, 11)
        if (kind <= 2 or kind == 8) and cur is None:
            kind = 9  # a store or load to an unmapped page faults it in first
        if kind <= 2:  # CPU store
            val += 1
            events.append(CpuStore(time=t, thread="cpu0", pasid=P, va=va, pa=cur + (va & 0xfff), value=val))
            phys[cur + (va & 0xfff)] = val
        elif kind <= 5:  # device read; or a scan of every address of the page, one cycle apart
            scan = [va]
            if kind == 5:
                scan = [v for v in VAS if v & ~(PAGE - 1) == page]
                if draw.int(0, 1):
                    scan.reverse()
            for n, v in enumerate(scan):
                tt = t + n
                pa = pick(sorted(ever[page])) + (v & 0xfff)
                lo, hi = tt - draw.int(0, 3), tt + draw.int(0, 2)
                mt = tt if draw.int(0, 2) else None
                fault = 1 if draw.int(0, 15) == 0 else 0
                if fault:
                    mt = None
                holes.append((len(events), v, at(pa), kind == 5))  # a scan reads what is there
                events.append(DevAccess(thread=draw.int(0, 1), write=False, pasid=P, va=v, pa=pa, value=0,
                                        issue=lo, complete=hi if mt is not None else max(hi, tt),
                                        fault=fault, mem_time=mt, atc_hit=bool(draw.int(0, 1))))
            t += len(scan) - 1
        elif kind <= 7:  # device write, through the current or a stale translation
            val += 1
            pa = pick(sorted(ever[page])) + (va & 0xfff)
            fault = 1 if draw.int(0, 15) == 0 else 0
            mt = None if fault or not draw.int(0, 3) else t
            d = DevAccess(thread=draw.int(0, 1), write=True, pasid=P, va=va, pa=pa, value=val,
                          issue=t - draw.int(0, 3), complete=t + (draw.int(0, 2) if mt is not None else 0),
                          fault=fault, mem_time=mt, atc_hit=bool(draw.int(0, 1)))
            port = MemAccess(time=t, source="dma", pa=pa, write=True, value=val, tag=d.thread)
            if fault == 0 and draw.int(0, 2) == 0:
                events.append(port)  # the port saw the data before the command completed
            events.append(d)
            if fault == 0:
                phys[pa] = val
        elif kind == 8:  # CPU load
            holes.append((len(events), va, at(cur + (va & 0xfff)), False))
            events.append(CpuLoad(time=t, thread="cpu0", pasid=P, va=va, pa=cur + (va & 0xfff), value=0))
        elif kind <= 10 and cur is None:  # refault: zero fill, then the new mapping
            new = pick(FRAMES)
            events.append(ZeroFill(time=t, pasid=P, va=page, size=PAGE, thread="cpu0"))
            events.append(PteChange(time=t, pasid=P, va=page, size=PAGE, old_pa=None, new_pa=new, writable=True))
            if draw.int(0, 1):
                events.append(FrameEvent(time=t, pfn=new // PAGE, kind="alloc", owner="anon"))
            mapping[page] = new
            for off in offsets:
                phys[new + off] = 0
            stale = sorted(ever[page] - {new})
            if stale and not draw.int(0, 2):  # a device write through a stale translation races the refault
                val += 1
                pa = pick(stale) + (va & 0xfff)
                events.append(DevAccess(thread=1, write=True, pasid=P, va=va, pa=pa,
                                        value=val, issue=t - 1, complete=t + 1, mem_time=t))
                phys[pa] = val
            ever[page].add(new)
        elif kind <= 10 and draw.int(0, 2):  # zap (MADV_DONTNEED), maybe freeing the frame
            events.append(PteChange(time=t, pasid=P, va=page, size=PAGE, old_pa=cur, new_pa=None))
            mapping[page] = None
            if draw.int(0, 1):
                events.append(FrameEvent(time=t + draw.int(0, 1), pfn=cur // PAGE, kind="free"))
        elif kind <= 10:  # COW-like remap to another frame (content copied)
            new = pick(f for f in FRAMES if f != cur)
            events.append(PteChange(time=t, pasid=P, va=page, size=PAGE, old_pa=cur, new_pa=new, writable=True))
            for off in offsets:
                if cur + off in phys:
                    phys[new + off] = phys[cur + off]
            mapping[page] = new
            ever[page].add(new)
        else:  # invalidation traffic, a page walk, or a frame changing hands
            itag, what = draw.int(0, 1), draw.int(0, 3)
            if what == 0:
                events.append(InvReq(time=t, itag=itag, pasid=P, start=page, size=PAGE))
                if draw.int(0, 3):
                    pending.append((t + draw.int(0, 3), itag))
            elif what == 1:
                events.append(InvCpl(time=t, itag=itag))
            elif what == 2:
                events.append(MemAccess(time=t, source="walk", pa=pick(FRAMES) + 8 * itag, write=False,
                                        value=0, tag=itag))
            else:
                free = bool(draw.int(0, 1))
                events.append(FrameEvent(time=t, pfn=pick(FRAMES) // PAGE, kind="free" if free else "alloc",
                                         owner="" if free else pick(("anon", "pagetable"))))
    complete_until(None)
    # every value each address ever held, plus a garbage value
    values = {a: {v, 0, 0xBAD} for a, v in hidden.items()}
    for e in events:
        if isinstance(e, (CpuStore, DevAccess)) and (e.write if isinstance(e, DevAccess) else True):
            values[(P, e.va)].add(e.value)
    for idx, va, now, real in holes:
        v = now if real or draw.int(0, 1) else pick(sorted(values[(P, va)]))
        e = events[idx]
        events[idx] = (DevAccess(**{**e.__dict__, "value": v}) if isinstance(e, DevAccess)
                       else CpuLoad(**{**e.__dict__, "value": v}))
    final = {}
    mentioned = {e.va for e in events if isinstance(e, (CpuStore, CpuLoad, DevAccess))}
    for va in VAS:
        c = draw.int(0, 3)
        if va not in mentioned:
            continue
        if c == 0:
            continue
        page = va & ~(PAGE - 1)
        final[(P, va)] = None if mapping[page] is None else (at(mapping[page] + (va & 0xfff)) if c > 1 else
                                                             pick(sorted(values[(P, va)])))
    return Case(events, initial, final)


# --------------------------------------------------------------------------- fast checkers' verdicts

def fast_verdicts(case: Case) -> dict[str, bool]:
    """The fast checkers' answers in the brute force's vocabulary."""
    from model.check import check_lost_writes, check_ordering, check_protocol, check_uaf

    ordv = {v.rule for v in check_ordering(case.events, case.initial, max_reports=None) if not v.ok}
    prot = {v.rule for v in check_protocol(case.events, max_reports=None) if not v.ok}
    return {
        "ordering": bool(ordv),
        "unknown-value": "unknown-value" in ordv,
        "future-read": "future-read" in ordv and "unknown-value" not in ordv,
        "lost-write": any(not v.ok for v in check_lost_writes(case.events, case.final, max_reports=None)),
        "use-after-free": any(not v.ok for v in check_uaf(case.events, max_reports=None)),
        **{r: r in prot for r in ("itag-reuse", "completion-without-request", "duplicate-completion",
                                  "lost-completion", "completion-before-drain")},
    }


def brute_verdicts(case: Case) -> dict[str, bool]:
    o = ordering_bad(case.events, case.initial)
    return {
        "ordering": o["any"],
        "unknown-value": o["unknown-value"],
        "future-read": o["future-read"],
        "lost-write": lost_write_bad(case.events, case.final),
        "use-after-free": uaf_bad(case.events),
        **protocol_bad(case.events),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Compare the fast checkers with the brute-force references "
                                             "on random small traces.")
    ap.add_argument("--n", type=int, default=10_000, help="number of traces")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--show", type=int, default=2, help="disagreeing traces to print per rule")
    ap.add_argument("--rule", action="append", help="print disagreements of this rule only (repeatable)")
    args = ap.parse_args(argv)
    rng = random.Random(args.seed)
    diff: dict[str, int] = {}
    alarms: dict[str, int] = {}  # the fast checker says violated, the brute force does not
    bad: dict[str, int] = {}
    shown: dict[str, int] = {}
    for n in range(args.n):
        case = gen_trace(RandomDraw(rng))
        f, b = fast_verdicts(case), brute_verdicts(case)
        for rule in b:
            bad[rule] = bad.get(rule, 0) + b[rule]
            if f[rule] != b[rule]:
                diff[rule] = diff.get(rule, 0) + 1
                alarms[rule] = alarms.get(rule, 0) + f[rule]
                if shown.get(rule, 0) < args.show and (not args.rule or rule in args.rule):
                    shown[rule] = shown.get(rule, 0) + 1
                    print(f"--- {rule}: fast={f[rule]} brute={b[rule]} (trace {n})")
                    print(f"initial={case.initial} final={case.final}")
                    for e in case.events:
                        print("   ", e)
    print(f"{args.n} traces, seed {args.seed}")
    print(f"{'rule':28} {'violated (brute)':>16} {'disagreements':>14} {'false alarms':>13} {'missed':>7}")
    for rule in bad:
        d, fa = diff.get(rule, 0), alarms.get(rule, 0)
        print(f"{rule:28} {bad[rule]:16d} {d:14d} {fa:13d} {d - fa:7d}")
    return 1 if diff else 0


if __name__ == "__main__":
    sys.exit(main())
