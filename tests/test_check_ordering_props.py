"""Property tests for the ordering checker.

Generator of a coherent device: a random CPU store sequence over a few
addresses (strictly increasing times, unique values), then device reads that
sample a monotone prefix: instants tau_1 <= tau_2 <= ... and views
k_1 <= k_2 <= ... with k_i <= (writes performed by tau_i); each read returns
the latest write to its address among the first k_i writes. Its window is
either [tau, tau] (mem_time) or some [issue, complete] containing tau. Such a
trace must never be flagged.

Injection: pick a read q that returned W#j (j >= 1) and an address Y whose
value v was replaced by W#h with h <= j. A new read of Y returning v, placed
strictly after q's window, needs k < h <= j while the view is already >= j:
every such trace must be flagged (ordering, or coherence when Y is q's address).
"""
from __future__ import annotations

import bisect

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from model.check import check_ordering
from model.trace import CpuStore, DevAccess, Trace

P = 3
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def coherent_trace(draw, windows: bool):
    naddr = draw(st.integers(1, 4))
    addrs = [0x10000 + 0x1000 * i for i in range(naddr)]
    initial = {(P, a): 0xF00 + i for i, a in enumerate(addrs)}
    nst = draw(st.integers(0, 12))
    stores, t = [], 0
    for i in range(nst):
        t += draw(st.integers(1, 5))
        va = draw(st.sampled_from(addrs))
        stores.append(CpuStore(time=t, thread="cpu", pasid=P, va=va, pa=va, value=0x1000 + i))
    times = [s.time for s in stores]
    nrd = draw(st.integers(0, 14))
    taus = sorted(draw(st.lists(st.integers(0, t + 10), min_size=nrd, max_size=nrd)))
    reads, k = [], 0
    for tau in taus:
        perf = bisect.bisect_right(times, tau)
        k = draw(st.integers(k, perf))  # k_prev <= perf_prev <= perf: always a valid range
        va = draw(st.sampled_from(addrs))
        prior = [s for s in stores[:k] if s.va == va]
        value = prior[-1].value if prior else initial[(P, va)]
        if windows and draw(st.booleans()):
            lo = tau - draw(st.integers(0, 6))
            hi = tau + draw(st.integers(0, 6))
            ev = DevAccess(thread=0, write=False, pasid=P, va=va, pa=va, value=value, issue=lo, complete=hi)
        else:
            ev = DevAccess(thread=0, write=False, pasid=P, va=va, pa=va, value=value,
                           issue=tau - 1, complete=tau + 1, mem_time=tau)
        reads.append((ev, k, len(prior) and stores.index(prior[-1]) + 1))
    return stores, reads, initial


def _window(d: DevAccess) -> tuple[int, int]:
    return (d.mem_time, d.mem_time) if d.mem_time is not None else (d.issue, d.complete)


@given(coherent_trace(windows=False))
@SETTINGS
def test_coherent_device_point_reads_never_flagged(case):
    stores, reads, initial = case
    v = check_ordering(Trace(stores + [r for r, _, _ in reads]), initial)
    assert all(x.ok for x in v), [x.message for x in v if not x.ok]


@given(coherent_trace(windows=True))
@SETTINGS
def test_coherent_device_interval_reads_never_flagged(case):
    stores, reads, initial = case
    # Interleave reads and stores in the trace in any order: only times matter.
    v = check_ordering(Trace([r for r, _, _ in reads][::-1] + stores), initial)
    assert all(x.ok for x in v), [x.message for x in v if not x.ok]


@given(coherent_trace(windows=True), st.data())
@SETTINGS
def test_one_injected_reordering_is_flagged(case, data):
    stores, reads, initial = case
    # Candidate (q, address Y, stale value v): q returned W#j, Y's value v was replaced by W#h <= j.
    options = []
    for qi, (q, _, j) in enumerate(reads):
        if j < 1:
            continue
        for y in sorted({s.va for s in stores[:j]}):
            hist = [s for s in stores if s.va == y]
            for n, s in enumerate(hist):
                h = stores.index(s) + 1
                if h <= j:  # the value before s was replaced by W#h, within q's observed prefix
                    stale = hist[n - 1].value if n else initial[(P, y)]
                    options.append((qi, y, stale))
    assume(options)
    qi, y, stale = data.draw(st.sampled_from(options))
    q = reads[qi][0]
    after = _window(q)[1] + data.draw(st.integers(1, 5))
    bad = DevAccess(thread=1, write=False, pasid=P, va=y, pa=y, value=stale, issue=after - 1,
                    complete=after + 3, mem_time=after)
    v = check_ordering(Trace(stores + [r for r, _, _ in reads] + [bad]), initial)
    rules = {x.rule for x in v if not x.ok}
    assert rules & {"ordering", "coherence"}, (q, bad)


def _oracle_ok(stores, reads, initial) -> bool:
    """Brute force over every integer instant of every read window: does some
    choice of instants admit a non-decreasing view (same-instant reads in any
    order) with each read's view inside its allowed set and not in the future?"""
    import itertools

    times = [s.time for s in stores]
    n = len(stores)

    def allowed(d):
        seq = [(0, initial.get((P, d.va)))] + [(i + 1, s.value) for i, s in enumerate(stores) if s.va == d.va]
        out = []
        for j, (idx, val) in enumerate(seq):
            if val == d.value:
                out.append((idx, seq[j + 1][0] if j + 1 < len(seq) else n + 1))
        return out

    sets = [allowed(d) for d in reads]
    wins = [range(_window(d)[0], _window(d)[1] + 1) for d in reads]
    for taus in itertools.product(*wins):
        cur, ok = 0, True
        for tau in sorted(set(taus)):
            perf = bisect.bisect_right(times, tau)
            picks = []
            for i, t in enumerate(taus):
                if t != tau:
                    continue
                ks = [max(lo, cur) for lo, hi in sets[i] if max(lo, cur) < hi and max(lo, cur) <= perf]
                if not ks:
                    ok = False
                    break
                picks.append(min(ks))
            if not ok:
                break
            cur = max(picks)
        if ok:
            return True
    return False


@st.composite
def arbitrary_trace(draw):
    addrs = [0x1000, 0x2000]
    initial = {(P, a): 0xF00 + i for i, a in enumerate(addrs)}
    stores, t = [], 0
    for i in range(draw(st.integers(0, 5))):
        t += draw(st.integers(0, 3))
        va = draw(st.sampled_from(addrs))
        stores.append(CpuStore(time=t, thread="cpu", pasid=P, va=va, pa=va, value=0x1000 + i))
    reads = []
    for _ in range(draw(st.integers(1, 5))):
        va = draw(st.sampled_from(addrs))
        vals = [initial[(P, va)], 0xBAD] + [s.value for s in stores if s.va == va]
        value = draw(st.sampled_from(vals))
        lo = draw(st.integers(0, t + 3))
        hi = lo + draw(st.integers(0, 3))
        if draw(st.booleans()):
            reads.append(DevAccess(thread=0, write=False, pasid=P, va=va, pa=va, value=value,
                                   issue=lo, complete=hi + 2, mem_time=lo))
        else:
            reads.append(DevAccess(thread=0, write=False, pasid=P, va=va, pa=va, value=value,
                                   issue=lo, complete=hi))
    return stores, reads, initial


@given(arbitrary_trace())
@settings(max_examples=300, deadline=None)
def test_checker_is_exact_against_brute_force(case):
    """The lazy-view pass flags a trace exactly when no choice of instants and
    views explains it (CPU-only traces; arbitrary, mostly incoherent reads)."""
    stores, reads, initial = case
    v = check_ordering(Trace(stores + reads), initial)
    assert all(x.ok for x in v) == _oracle_ok(stores, reads, initial), [x.message for x in v if not x.ok]


@st.composite
def up_to_date_device(draw):
    """CPU stores and device writes/reads on one clock; every device read returns
    the latest write (CPU or device) performed at or before its memory time,
    which is what a device with a coherent, never-stale view does."""
    addrs = [0x1000, 0x2000, 0x3000]
    initial = {(P, a): 0xF00 + i for i, a in enumerate(addrs)}
    events, mem, t = [], dict(initial), 0
    for i in range(draw(st.integers(0, 25))):
        t += draw(st.integers(0, 2))  # same-cycle events allowed
        va = draw(st.sampled_from(addrs))
        kind = draw(st.sampled_from(["cpu", "dw", "rd"]))
        if kind == "cpu":
            events.append(CpuStore(time=t, thread="cpu", pasid=P, va=va, pa=va, value=0x1000 + i))
            mem[(P, va)] = 0x1000 + i
        elif kind == "dw":
            events.append(DevAccess(thread=1, write=True, pasid=P, va=va, pa=va, value=0x2000 + i,
                                    issue=t - 1, complete=t + 1, mem_time=t))
            mem[(P, va)] = 0x2000 + i
        else:
            events.append(DevAccess(thread=0, write=False, pasid=P, va=va, pa=va, value=mem[(P, va)],
                                    issue=t - 1, complete=t + 1, mem_time=t))
    return events, initial


@given(up_to_date_device())
@SETTINGS
def test_up_to_date_device_with_device_writes_never_flagged(case):
    events, initial = case
    v = check_ordering(Trace(events), initial)
    assert all(x.ok for x in v), [x.message for x in v if not x.ok]
