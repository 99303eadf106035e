"""The reductions of model.explore are sound: they reach every verdict and outcome enumeration reaches.

* DPOR (model.dpor, any number of preemptions), stateless and with state
  caching, reaches at least the verdicts and outcomes (final memory, what
  every device access returned, failed rules) of enumerating every schedule
  within one preemption (none for the larger ones), and exactly those of enumerating every schedule
  where that is small enough to run.
* The comparison can fail: DPOR without its race detection loses a verdict.
* The footprints behind the reduction: kernel bookkeeping per lock / frame,
  the ordering checker's cross-address orders (swapping two device reads of
  different pages changes its verdict, so they must conflict; a read and a
  store of different pages commute), page tokens for whole-page operations.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from model import dpor
from model.check import check_all
from model.explore import ORDER_R, ORDER_W, Explorer, Footprint, _tokens, parse_threads
from model.trace import CpuStore, DevAccess, Trace

HEAD = """
scenario small
pasid 1
vma  0x10000000 0x10010000 anon rw
"""
ZAP = HEAD + """page addrA 0x10000000 present
CPU-thread-0 {zap_early_free addrA}
DEV-thread-0 {read addrA}
"""
COW = HEAD + """page addrA 0x10000000 cow
CPU-thread-0 {store addrA}
DEV-thread-0 {read addrA}
"""
TWO_COW = HEAD + """page addrA 0x10000000 cow
page addrB 0x10002000 cow
CPU-thread-0 {store addrA}
CPU-thread-1 {store addrB}
"""
STORE_RACE = HEAD + """page addrA 0x10000000 present
CPU-thread-0 {store addrA}
DEV-thread-0 {read addrA}
DEV-thread-1 {write addrA}
"""


def _run(text: str, policy: str, **kw):
    r = Explorer(parse_threads(text, "small.scn"), policy, keep_finals=True, **kw).explore()
    assert r.exhaustive, r.summary()
    return r


@pytest.mark.parametrize("text,policy,bound", [
    (ZAP, "deferred", 1), (ZAP, "notify-inside-lock", 0), (COW, "deferred", 1), (COW, "secondary-with-flush", 1),
    (TWO_COW, "notify-inside-lock", 0), (STORE_RACE, "deferred", 1),
])
def test_unbounded_dpor_covers_bounded_enumeration(text, policy, bound):
    full = _run(text, policy, preemptions=bound, deepen=False, reduce=False)
    for hashing in (False, True):
        red = _run(text, policy, preemptions=-1, method="dpor", hashing=hashing)
        assert full.verdict_sets <= red.verdict_sets, hashing
        assert full.finals <= red.finals, hashing
        assert red.schedules < full.schedules


def test_unbounded_dpor_equals_unbounded_enumeration():
    """Small enough to enumerate with any number of preemptions."""
    text = HEAD + """page addrA 0x10000000 present
CPU-thread-0 {store addrA}
DEV-thread-0 {read addrA}
"""
    full = _run(text, "deferred", preemptions=99, deepen=False, reduce=False)
    assert len(full.finals) > 1  # the read sees the old or the new value
    for hashing in (False, True):
        red = _run(text, "deferred", preemptions=-1, method="dpor", hashing=hashing)
        assert red.finals == full.finals, hashing
        assert red.verdict_sets == full.verdict_sets


def test_dpor_soundness_check_can_fail(monkeypatch):
    """Without race detection DPOR runs one schedule per node and loses the use-after-free."""
    full = _run(ZAP, "deferred", preemptions=1, deepen=False, reduce=False)
    assert frozenset({"use-after-free"}) in full.verdict_sets
    monkeypatch.setattr(dpor, "_races", lambda *a, **k: None)
    monkeypatch.setattr(dpor, "_summary_races", lambda *a, **k: None)
    lossy = _run(ZAP, "deferred", method="dpor")
    assert lossy.verdict_sets != full.verdict_sets


def test_dpor_finds_the_zap_use_after_free_without_a_bound():
    r = Explorer(parse_threads(ZAP, "zap.scn"), "deferred", preemptions=-1, method="dpor").explore()
    assert r.found is not None and r.found.rules == {"use-after-free"}, r.summary()
    assert "any number of preemptions" not in r.summary()  # a violation, not a verdict of absence
    clean = Explorer(parse_threads(ZAP, "zap.scn"), "notify-inside-lock", preemptions=-1, method="dpor").explore()
    assert clean.found is None and "no violation in all" in clean.summary()
    assert "any number of preemptions" in clean.summary()


# --------------------------------------------------------------------------- the footprints

A, B = 0x1000_0000, 0x1000_2000
PA, PB = 0x20_0000, 0x20_2000


def _read(t: int, va: int, pa: int, value: int, thread: int = 0) -> DevAccess:
    return DevAccess(thread=thread, write=False, pasid=1, va=va, pa=pa, value=value, issue=t, complete=t,
                     mem_time=t)


def test_reads_of_different_pages_do_not_commute_for_the_ordering_checker():
    """Stores A then B; the device reads B new, then A old: a violation. Swap the reads: none.
    So device reads of different pages must conflict (ORDER_R), or a reduction could keep
    only the harmless order."""
    init = {(1, A): 1, (1, B): 2}
    stores = [CpuStore(time=1, thread="c0", pasid=1, va=A, pa=PA, value=11),
              CpuStore(time=2, thread="c1", pasid=1, va=B, pa=PB, value=22)]
    bad, good = Trace(), Trace()
    for e in stores + [_read(3, B, PB, 22, 1), _read(4, A, PA, 1, 0)]:
        bad.add(e)
    for e in stores + [_read(3, A, PA, 1, 0), _read(4, B, PB, 22, 1)]:
        good.add(e)
    assert "ordering" in {v.rule for v in check_all(bad, init) if not v.ok}
    assert not {v.rule for v in check_all(good, init) if not v.ok}
    rb, ra = _read(3, B, PB, 22, 1), _read(4, A, PA, 1, 0)
    assert ORDER_R in _tokens(rb) and ORDER_R in _tokens(ra)
    fb, fa = Footprint(frozenset(), frozenset(_tokens(rb))), Footprint(frozenset(), frozenset(_tokens(ra)))
    assert fb.conflicts(fa)
    # stores of different pages are ordered too; a read and a store of different pages commute
    s0, s1 = (Footprint(frozenset(), frozenset(_tokens(s))) for s in stores)
    assert ORDER_W in s0.writes and s0.conflicts(s1)
    assert not fb.conflicts(s0)


def test_kernel_footprints_follow_locks_and_frames():
    """Two COW faults on different pages: their allocations conflict (the free list), their
    page-table lock sections conflict, a copy into one's new page does not touch the other's."""
    ex = Explorer(parse_threads(TWO_COW, "two.scn"), "deferred", method="dpor")
    w = ex.world()
    steps: dict[str, list] = {"CPU-thread-0": [], "CPU-thread-1": []}
    from model.trace import OpStep
    for t in ("CPU-thread-0", "CPU-thread-1"):
        while any(m.thread == t for m in w.enabled()):
            n0 = len(w.trace.events)
            m = next(m for m in w.enabled() if m.thread == t)
            fp = w.do(m)
            names = [e.step for e in w.trace.events[n0:] if type(e) is OpStep]
            steps[t].append((names[0] if names else "", fp))
    by = {t: dict(s) for t, s in steps.items()}
    a, b = by["CPU-thread-0"], by["CPU-thread-1"]
    assert ("free-list",) in a["alloc"].writes
    assert a["alloc"].conflicts(b["alloc"])
    assert ("lock", "pt_lock") in a["pt_lock"].writes and a["pt_lock"].conflicts(b["pt_lock"])
    assert not a["copy"].conflicts(b["copy"])
    assert not a["range_start"].conflicts(b["pte_set"])


def test_page_tokens_for_whole_page_operations():
    """A word write conflicts with zeroing its page, not with a write of another word of it."""
    ex = Explorer(parse_threads(COW, "c.scn"), "deferred")
    mem = ex.world().mem
    mem.take()
    mem.write64(0x30_0008, 1)
    w1 = Footprint(*map(frozenset, mem.take()))
    mem.write64(0x30_0010, 2)
    w2 = Footprint(*map(frozenset, mem.take()))
    mem.zero_page(0x30_0000)
    z = Footprint(*map(frozenset, mem.take()))
    mem.read64(0x30_0010)
    r2 = Footprint(*map(frozenset, mem.take()))
    assert not w1.conflicts(w2)
    assert w1.conflicts(z) and z.conflicts(w2) and z.conflicts(r2)
    assert w2.conflicts(r2) and not w1.conflicts(r2)


def test_dpor_counterexample_replays_in_script_mode(tmp_path):
    from model.explore import write_counterexample
    from model.notifier import Policy
    from model.scenario import load
    from model.scheduler import run_scenario_sync
    from model.explore import load_threads
    sc = load_threads(Path(__file__).resolve().parent.parent / "scenarios" / "zap_threads.scn")
    r = Explorer(sc, "deferred", method="dpor").explore()
    assert r.found is not None and r.found.preemptions <= 1, r.summary()
    path, msg = write_counterexample(sc, Policy.DEFERRED, r.found, tmp_path)
    assert path is not None, msg
    assert "use-after-free" in run_scenario_sync(load(path), "deferred").failed_rules


def test_dpor_finds_the_planted_bug(planted_bug):
    """notify-inside-lock with its invalidations cut off (as in test_explore): DPOR finds it too."""
    r = Explorer(parse_threads(ZAP, "zap.scn"), "notify-inside-lock", method="dpor").explore()
    assert r.found is not None, r.summary()


# --------------------------------------------------------------------------- writes no device read can see

UNREAD_STORES = HEAD + """page addrA 0x10000000 present
page addrB 0x10002000 present
page addrC 0x10004000 present
CPU-thread-0 {store addrA}
CPU-thread-1 {store addrB}
DEV-thread-0 {read addrC}
"""


def test_stores_to_unread_addresses_leave_the_global_write_order():
    """Stores whose address no device thread reads are neither end of any read's interval in the
    ordering checker, so they carry no ORDER_W; a store to a read address still does."""
    store = CpuStore(time=1, thread="c0", pasid=1, va=A, pa=PA, value=11)
    assert ORDER_W in _tokens(store)  # no read set given: every address may be read
    assert ORDER_W in _tokens(store, frozenset({A}))
    assert ORDER_W not in _tokens(store, frozenset({B}))
    dev_write = DevAccess(thread=0, write=True, pasid=1, va=A, pa=PA, value=5, issue=1, complete=2, mem_time=2)
    assert ORDER_W in _tokens(dev_write, frozenset({A})) and ORDER_W not in _tokens(dev_write, frozenset())
    w = Explorer(parse_threads(UNREAD_STORES, "s.scn"), "deferred").world()
    assert w.read_vas == {0x1000_4000}


def test_stores_to_different_unread_pages_reordered_dpor_equals_enumeration(monkeypatch):
    """Two stores to different pages, neither read by the device: DPOR runs one order of them and
    still reaches exactly the final states and verdicts of enumerating every schedule; with the
    stores in the global write order (every address counted as read) it runs more schedules."""
    import model.explore as ex
    full = _run(UNREAD_STORES, "deferred", preemptions=99, deepen=False, reduce=False)
    assert full.schedules > 2  # the stores are interleaved with each other and with the read
    red = _run(UNREAD_STORES, "deferred", preemptions=-1, method="dpor", hashing=False)
    assert red.finals == full.finals and red.verdict_sets == full.verdict_sets
    orig = ex._tokens
    monkeypatch.setattr(ex, "_tokens", lambda e, read_vas=None: orig(e))
    ordered = _run(UNREAD_STORES, "deferred", preemptions=-1, method="dpor", hashing=False)
    assert ordered.finals == full.finals
    assert red.schedules < ordered.schedules, (red.schedules, ordered.schedules)



def test_an_issue_commutes_with_the_cpu_steps_of_its_page():
    """No checker compares a device access's issue with the CPU's events of its page (a successful
    access is judged at its memory time), so the issue writes no page token and commutes with
    the COW fault's PTE change; the DMA at the memory port still conflicts with it."""
    from model.explore import Move
    from model.trace import PteChange
    w = Explorer(parse_threads(COW, "cow.scn"), "deferred").world()
    issue = w.do(Move("issue", "DEV-thread-0"))
    assert not [t for t in issue.writes if isinstance(t, int) and t < 0]  # no page token
    cpu = []
    while not any(isinstance(e, PteChange) and e.new_pa is not None for e in w.trace.events):
        cpu.append(w.do(Move("cpu", "CPU-thread-0")))
    assert not any(issue.conflicts(f) for f in cpu)
    rest = []
    while any(m.thread == "DEV-thread-0" for m in w.enabled()):
        rest.append(w.do(Move("dev", "DEV-thread-0")))
    assert any(f.conflicts(c) for f in rest for c in cpu)  # the walk or the DMA reads what the fault wrote


def test_a_lock_wait_commutes_with_completions_an_invalidation_wait_does_not():
    """Under notify-inside-lock CPU-thread-0 waits for its completion holding the page-table lock
    and CPU-thread-1 waits for the lock. Thread 0's wake reads the ITag pool (ITAGS, written by
    every completion); thread 1's wake reads the lock (its owner), not ITAGS."""
    from model.explore import ITAGS, Move
    w = Explorer(parse_threads(TWO_COW, "two.scn"), "notify-inside-lock").world()
    c0, c1 = w.run.cpus["CPU-thread-0"], w.run.cpus["CPU-thread-1"]
    for _ in range(200):
        if c0.blocked is not None and c0.blocked.reason.startswith("invalidation"):
            break
        w.do(Move("cpu", "CPU-thread-0"))
    assert c0.blocked is not None and c0.blocked.reason.startswith("invalidation")
    for _ in range(200):
        if c1.blocked is not None:
            break
        w.do(Move("cpu", "CPU-thread-1"))
    assert c1.blocked is not None and "held by CPU-thread-0" in c1.blocked.reason, c1.blocked
    cpl = []
    while not w.cpu_enabled(c0):
        cpl.append(w.do(next(m for m in w.enabled() if m.kind == "inv")))
    wake0 = w.do(Move("cpu", "CPU-thread-0"))
    assert ITAGS in wake0.reads and any(wake0.conflicts(f) for f in cpl)
    steps0 = []
    while not w.cpu_enabled(c1):
        steps0.append(w.do(Move("cpu", "CPU-thread-0")))
    wake1 = w.do(Move("cpu", "CPU-thread-1"))
    assert ITAGS not in wake1.reads and not any(wake1.conflicts(f) for f in cpl)
    assert any(wake1.conflicts(f) for f in steps0)  # the unlock


def test_the_itag_wait_reasons_the_explorer_knows_are_the_notifiers():
    """The explorer tells ITag and completion waits from lock waits by their reason; a renamed
    reason would make a completion wait look like a lock wait (and commute with completions)."""
    import inspect
    from model import notifier
    from model.explore import _ITAG_WAITS
    src = inspect.getsource(notifier.SecondaryTlb.invalidate)
    for prefix in _ITAG_WAITS:
        assert f'Blocked("{prefix}' in src or f'Blocked(f"{prefix}' in src, prefix
    assert src.count("Blocked(") == len(_ITAG_WAITS)


# --------------------------------------------------------------------------- bounded partial-order reduction

COW_READS = HEAD + """page addrA 0x10000000 cow
CPU-thread-0 {store addrA}
DEV-thread-0 {read addrA; read addrA}
"""


@pytest.mark.parametrize("text,policy,bound", [
    (ZAP, "deferred", 0), (ZAP, "deferred", 1), (COW, "deferred", 0), (COW, "deferred", 1),
    (COW, "secondary-with-flush", 0), (STORE_RACE, "deferred", 1), (COW_READS, "deferred", 0),
    (COW_READS, "notify-inside-lock", 0), (COW_READS, "notify-inside-lock", 1),
])
def test_bpor_equals_bounded_enumeration(text, policy, bound):
    """Bounded DPOR runs only schedules within the bound, so it can reach no more than enumerating
    them; it must reach exactly as much: the same final states and the same verdicts."""
    full = _run(text, policy, preemptions=bound, deepen=False, reduce=False)
    red = _run(text, policy, preemptions=bound, deepen=False, method="bpor")
    assert red.finals == full.finals
    assert red.verdict_sets == full.verdict_sets
    assert red.schedules < full.schedules


def test_bpor_needs_the_free_switch_backtrack_points(monkeypatch):
    """Without trying a race's reordering from the last node where switching was free, bounded DPOR
    misses outcomes: the device's second read after the COW fault's store needs the invalidation
    to complete before the read is issued, which the race's own node cannot start within bound 0."""
    full = _run(COW_READS, "notify-inside-lock", preemptions=0, deepen=False, reduce=False)
    monkeypatch.setattr(dpor, "_run_start", lambda nodes, j: j)
    lossy = _run(COW_READS, "notify-inside-lock", preemptions=0, deepen=False, method="bpor")
    assert lossy.finals < full.finals


def test_bpor_stays_within_its_bound_and_says_so():
    seen: list[int] = []
    ex = Explorer(parse_threads(COW_READS, "c.scn"), "deferred", preemptions=1, method="bpor",
                  on_leaf=lambda w: seen.append(w.preemptions))
    r = ex.explore()
    assert r.exhaustive and seen and max(seen) == 1, (r.summary(), seen)
    assert "within bound B = at most 1 preemption(s)" in r.summary()
    z = Explorer(parse_threads(ZAP, "zap.scn"), "deferred", preemptions=1, method="bpor").explore()
    assert z.found is not None and z.found.rules == {"use-after-free"} and z.found.preemptions <= 1
