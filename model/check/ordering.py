"""Total-store-order for the device (docs/INTENT.md, "Checkers: Ordering").

The device must behave as if it watched one monotone, possibly delayed,
prefix of the global write order: there is a non-decreasing view k(t) such that
every device read, performed at some instant inside its window, returns the
latest write to its address among the first k writes. Slow is allowed; seeing a
newer write and then an older value than one already overwritten is not.

Semantics fixed here (also in the module docstrings of `common`):

* Global write order: CPU stores in trace order, with committed device writes
  inserted at their memory time; inside one cycle, in the order their memory
  effects were recorded (`common.WriteOrder`). Device writes are
  writes like any other: a read returning a device-written value needs the view
  to have reached that write, and write-to-write coherence covers them.
* Device writes do not move the device's view by themselves (a device may write
  while its view lags), with one exception, read-own-write coherence: a device
  read whose window starts strictly after a device write to the same address
  reached memory must return that write or a later one.
* Initial values: write index 0 of every address. `initial[(pasid, va)]` is
  authoritative where given. An address it omits may start with any value no
  store or device write to it produced, and the trace passes if some choice
  explains the device reads; `infer_initial` makes that choice exactly (the
  one value device reads returned that no write produced; else 0 if reads
  returned a fill's 0; two different unwritten values: the read whose window
  starts first, then trace order, gives the initial value and the other is
  an unknown-value; CPU loads do not count). Callers that know memory's initial content should pass
  it: then a garbage value is always an unknown-value rather than possibly
  the inferred initial value.
* A read's window is [mem_time, mem_time] when the monitor recorded when it hit
  memory, else [issue, complete]. Reads whose windows overlap may be ordered
  either way; reads at the same instant too (ordering inside one cycle is not
  observable). A read ending at cycle b may see writes performed at cycles <= b.
* A read may not see a write performed after its window ended ("future-read"),
  nor a value never written to its address ("unknown-value").
* Zero fills (`model.trace.ZeroFill`) are writes of 0 to every address of the
  filled page, all at one position of the order (`common.WriteOrder`): a read
  of 0 after a refault of a discarded page is explained by the fill, and a
  view that has the fill at one address of the page has it at every other.
  0 is the one value that is not unique per address: a read of 0 may return
  any zero fill (or an initial 0) the view allows, and the lazy view takes
  the earliest, which keeps the decision exact. Fills do not hide an initial
  0 from inference.

Decision procedure (exact, O(n log n)): take the lazy view, the lowest
non-decreasing k(t) the reads force. Every feasible view is pointwise above it,
so if the lazy view cannot explain a read, nothing can. Process reads in order
of window end b; a read r is explained at the smallest k in its allowed set
that is >= L(a_r) = max{k_q : b_q < a_r} (and >= its own-write floor) and
<= the number of writes performed by b_r. The lazy view then rises to k_r at b_r.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Iterable, Mapping

from model.trace import DevAccess, Trace

from .common import Addr, TraceView, Write, WriteOrder, as_view, fmt_addr
from .verdict import Verdict, limit

ORDER_RULES = ("ordering", "coherence", "future-read", "unknown-value")


def read_window(d: DevAccess) -> tuple[int, int]:
    """The instants at which a device read may have sampled memory."""
    if d.mem_time is not None:
        return d.mem_time, d.mem_time
    return d.issue, d.complete


def device_reads(trace: Iterable | TraceView) -> list[tuple[int, DevAccess]]:
    """(trace index, event) of every device read that returned data."""
    return [(i, e) for i, e in as_view(trace).of(DevAccess) if not e.write and e.fault == 0]


@dataclass(slots=True)
class _Read:
    idx: int  # trace index
    ev: DevAccess
    addr: Addr
    a: int
    b: int


@dataclass
class OrderingAnalysis:
    """Everything the ordering pass decided, for verdicts and for tests.

    `view[trace_index]` is the prefix index the lazy view assigned to each
    explained read; `returned[trace_index]` the write index it returned
    (0 = initial value).
    """

    order: WriteOrder
    initial: dict[Addr, int]
    inferred: dict[Addr, int]
    view: dict[int, int] = field(default_factory=dict)
    returned: dict[int, int] = field(default_factory=dict)
    violations: list[Verdict] = field(default_factory=list)


def infer_initial(trace: list | TraceView, order: WriteOrder,
                  initial: Mapping[Addr, int] | None) -> tuple[dict, dict]:
    """Initial values: the given ones, plus chosen ones for the other addresses.

    An address `initial` omits may hold any value no store or device write to
    it produced (store values are unique). The choice is exact: it explains
    the device reads whenever some choice does. Choosing v only adds the
    prefixes before the address's first write to the reads that returned v,
    so, per address:

    1. a device read of a value no write to the address produced (not even a
       zero fill) can only be explained by the initial value: that value is
       chosen. Two different such values cannot both be: the one of the read
       whose window starts first (then the first in the trace) is chosen and
       the other is an unknown-value;
    2. else, if a device read returned 0 that only zero fills wrote, 0 (the
       zero page before the trace) explains at least as much as no choice;
    3. else the address has no known initial value (no read needs one).

    Only device reads count: the rule is about what the device observed, and
    CPU loads are the lost-write checker's. Earlier versions took the
    earliest unwritten observation, CPU loads and fill zeros included, which
    flagged reads an initial value explained (a read of 0 explained by a
    later fill, or a CPU load, starting before the read that showed the
    initial value).
    """
    given = dict(initial or {})
    view = as_view(trace)
    # values a store or device write produced (a zero fill does not hide an
    # initial 0: the zero page, or a page read before it was discarded)
    written = {key for key, js in order.pos_by_value.items()
               if any(order.by_addr[key[0]][j].source != "fill" for j in js)}
    needy: dict[Addr, tuple[tuple[int, int], int]] = {}
    zero: set[Addr] = set()
    for i, e in view.of(DevAccess):
        if e.write or e.fault != 0:
            continue
        addr = (e.pasid, e.va)
        if addr in given or (addr, e.value) in written:
            continue
        if (addr, e.value) in order.pos_by_value:  # 0, written by zero fills only
            zero.add(addr)
            continue
        key = (read_window(e)[0], i)
        if addr not in needy or key < needy[addr][0]:
            needy[addr] = (key, e.value)
    inferred = {addr: 0 for addr in zero}
    inferred.update({addr: value for addr, (_, value) in needy.items()})
    return {**given, **inferred}, inferred


def _candidates(addr: Addr, value: int, order: WriteOrder, initial: dict) -> list[tuple[int, int]]:
    """[lo, hi) prefix intervals in which `value` is the latest write to `addr`."""
    end = len(order) + 1
    ws = order.by_addr.get(addr, [])
    out = []
    if addr in initial and initial[addr] == value:
        out.append((0, ws[0].index if ws else end))
    for j in order.pos_by_value.get((addr, value), ()):
        out.append((ws[j].index, ws[j + 1].index if j + 1 < len(ws) else end))
    return out


def _desc_write(order: WriteOrder, index: int, addr: Addr) -> str:
    if index == 0:
        return f"the initial value of {fmt_addr(addr)}"
    w = order.write(index)
    return w.describe() if w else f"write #{index}"


def analyze_ordering(trace: Trace | Iterable | TraceView,
                     initial: Mapping[Addr, int] | None = None) -> OrderingAnalysis:
    """Run the lazy-view pass; every violation becomes a failing Verdict."""
    view = as_view(trace)
    order = view.write_order
    init, inferred = infer_initial(view, order, initial)
    res = OrderingAnalysis(order=order, initial=init, inferred=inferred)

    reads = [_Read(i, e, (e.pasid, e.va), *read_window(e)) for i, e in device_reads(view)]
    reads.sort(key=lambda r: (r.b, r.a, r.idx))

    # Device writes per address, by memory time, for the read-own-write floor.
    dev_writes: dict[Addr, list[Write]] = {}
    for w in order.writes:
        if w.source == "dev":
            dev_writes.setdefault(w.addr, []).append(w)
    dev_times = {a: [w.time for w in ws] for a, ws in dev_writes.items()}

    # Global lazy view: window ends of processed reads, running max of k and who set it.
    ends: list[int] = []
    pmax: list[int] = []
    parg: list[object] = []  # reason: (_Read, write index it returned) or Write (device floor)
    # Per address: window ends, running max of the write index actually returned
    # (coherence witness) and who set it.
    per_addr: dict[Addr, tuple[list[int], list[int], list[object]]] = {}
    bisect_left = bisect.bisect_left
    performed = order.times
    bisect_right = bisect.bisect_right
    view_of, returned = res.view, res.returned

    for r in reads:
        ra, rb, addr = r.a, r.b, r.addr
        n = bisect_left(ends, ra)
        lview = pmax[n - 1] if n else 0
        lreason = parg[n - 1] if n else None
        pa = per_addr.get(addr)
        if pa is None:
            pa = per_addr[addr] = ([], [], [])
        a_ends, a_max, a_arg = pa
        na = bisect_left(a_ends, ra)
        floor, floor_w = 0, None
        dts = dev_times.get(addr)
        if dts:
            m = bisect_left(dts, ra)  # device writes strictly before the window
            if m:
                floor_w = dev_writes[addr][m - 1]
                floor = floor_w.index
        lo_bound = lview if lview >= floor else floor
        perf = bisect_right(performed, rb)  # order.performed_by(rb)
        cands = _candidates(addr, r.ev.value, order, init)

        best = None
        for lo, hi in cands:
            k = lo if lo >= lo_bound else lo_bound
            if k < hi and k <= perf and (best is None or k < best[0]):
                best = (k, lo)
        if best is not None:
            k, lo = best
            if k == lo:
                reason = (r, lo)
            elif k == floor and floor >= lview:
                reason = floor_w
            else:
                reason = lreason
            view_of[r.idx] = k
            returned[r.idx] = lo
            # the lazy view rises to k at rb
            ends.append(rb)
            if pmax and pmax[-1] >= k:
                pmax.append(pmax[-1])
                parg.append(parg[-1])
            else:
                pmax.append(k)
                parg.append(reason)
            a_ends.append(rb)
            if a_max and a_max[-1] >= lo:
                a_max.append(a_max[-1])
                a_arg.append(a_arg[-1])
            else:
                a_max.append(lo)
                a_arg.append((r, lo))
            continue

        laddr = a_max[na - 1] if na else 0
        laddr_reason = a_arg[na - 1] if na else None
        res.violations.append(_explain(r, cands, perf, order, init, lview, lreason, laddr,
                                       laddr_reason, floor, floor_w))
        # a failed read does not move the lazy view
        ends.append(rb)
        if pmax and pmax[-1] >= lview:
            pmax.append(pmax[-1])
            parg.append(parg[-1])
        else:
            pmax.append(lview)
            parg.append(lreason)

    return res


def _explain(r: _Read, cands, perf: int, order: WriteOrder, init: dict, lview: int, lreason,
             laddr: int, laddr_reason, floor: int, floor_w: Write | None) -> Verdict:
    """Build the failing verdict for a read no view could explain."""
    ev, addr = r.ev, r.addr
    where = (f"device read of {fmt_addr(addr)} (dev-thread {ev.thread}, pa {ev.pa:#x}) "
             f"in [{r.a}, {r.b}] returned {ev.value:#x}")
    if not cands:
        iv = init.get(addr)
        ivs = "unknown" if iv is None else f"{iv:#x}"
        written = [f"{w.value:#x}@t={w.time}" for w in order.by_addr.get(addr, [])]
        return Verdict("unknown-value", False,
                       f"[unknown-value] {where}, a value no write to that address produced "
                       f"(initial value {ivs}; writes: {', '.join(written) or 'none'})",
                       [ev])
    past = [(lo, hi) for lo, hi in cands if lo <= perf]
    if not past:
        lo, _ = min(cands)
        w = order.write(lo)
        return Verdict("future-read", False,
                       f"[future-read] {where}, written by {w.describe()} at t={w.time}, after the "
                       f"read had completed (only writes #1..#{perf} were performed by t={r.b})",
                       [ev, w.event])
    lo, hi = max(past)  # the youngest write it could have returned
    over = order.write(hi)
    evs: list = [ev]
    if lo > 0:
        evs.append(order.write(lo).event)
    if over is not None:
        evs.append(over.event)
    got = _desc_write(order, lo, addr)
    over_s = over.describe() if over is not None else f"write #{hi}"
    coh_floor = max(laddr, floor)
    if all(h <= coh_floor for _, h in past):
        if floor >= laddr and floor_w is not None:
            evs.append(floor_w.event)
            why = (f"the device itself had written {floor_w.value:#x} there at t={floor_w.time} "
                   f"({floor_w.describe()}) before this read began")
        else:
            wr, wj = laddr_reason
            evs.append(wr.ev)
            ww = order.write(wj)
            if ww is not None:
                evs.append(ww.event)
            why = (f"an earlier device read of the same address in [{wr.a}, {wr.b}] had already "
                   f"returned {wr.ev.value:#x} ({_desc_write(order, wj, addr)})")
        return Verdict("coherence", False,
                       f"[coherence] {where} = {got}, older than {over_s} which replaced it; but {why}: "
                       f"the device observed two writes to {fmt_addr(addr)} in the opposite of their "
                       f"order", evs)
    # Ordering: the view had passed `hi` because of some other observation.
    if isinstance(lreason, Write):
        evs.append(lreason.event)
        why = (f"the device's view had already reached {lreason.describe()} (its own write, which "
               f"an earlier read of that address, begun after the write, had to include)")
    elif lreason is not None:
        wr, wj = lreason
        evs.append(wr.ev)
        ww = order.write(wj)
        if ww is not None:
            evs.append(ww.event)
        why = (f"earlier, in [{wr.a}, {wr.b}], the device read {fmt_addr(wr.addr)} = {wr.ev.value:#x} "
               f"({_desc_write(order, wj, wr.addr)}), so its view had already reached write "
               f"#{wj} >= #{hi}")
    else:
        why = f"the device's view had already reached write #{lview}"
    return Verdict("ordering", False,
                   f"[ordering] {where} = {got}, which {over_s} had replaced; {why}. No single "
                   f"non-decreasing prefix of the global write order explains both reads (the device "
                   f"saw a newer write before an older one that preceded it)", evs)


def check_ordering(trace: Trace | Iterable | TraceView, initial: Mapping[Addr, int] | None = None, *,
                   max_reports: int | None = 50) -> list[Verdict]:
    """Verdicts for the rules ordering, coherence, future-read, unknown-value."""
    res = analyze_ordering(trace, initial)
    out: list[Verdict] = []
    nreads = len(res.view) + len(res.violations)
    for rule in ORDER_RULES:
        bad = [v for v in res.violations if v.rule == rule]
        if bad:
            out.extend(limit(bad, rule, max_reports))
        else:
            out.append(Verdict.passed(rule, f"{nreads} device read(s) against {len(res.order)} write(s)",
                                      reads=nreads, writes=len(res.order)))
    return out
