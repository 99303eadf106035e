"""The fast checkers against brute-force references of their definitions.

tests/bruteforce.py implements each rule by exhaustive search, straight from
the definition; here hypothesis generates small random traces (a few
addresses on two pages, CPU stores and loads, zaps, refaults with zero fills,
remaps, device reads and writes through current or stale translations, frame
events, invalidations) and every fast checker's verdict, rule by rule, must
equal the brute force's. The explicit traces first are the disagreements a
bulk comparison found, kept as regressions.
"""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from model.check import check_lost_writes, check_ordering, check_uaf, failures
from model.check.ordering import analyze_ordering
from model.trace import CpuLoad, CpuStore, DevAccess, FrameEvent, MemAccess, PteChange, Trace, ZeroFill
from tests import bruteforce as bf

P = 1
A0, A1 = 0x1000, 0x1008  # two addresses on one page
OLD, NEW = 0x50000, 0x60000


def rd(va, value, mem=None, issue=None, complete=None, pa=NEW):
    lo = issue if issue is not None else mem - 1
    hi = complete if complete is not None else mem + 1
    return DevAccess(thread=0, write=False, pasid=P, va=va, pa=pa + (va & 0xfff), value=value,
                     issue=lo, complete=hi, mem_time=mem)


def dw(va, value, mem, pa):
    return DevAccess(thread=1, write=True, pasid=P, va=va, pa=pa + (va & 0xfff), value=value,
                     issue=mem - 2, complete=mem + 2, mem_time=mem)


def rules(verdicts):
    return sorted({v.rule for v in failures(verdicts)})


ZAP = PteChange(time=10, pasid=P, va=A0, size=0x1000, old_pa=OLD, new_pa=None)
FILL = ZeroFill(time=20, pasid=P, va=A0, size=0x1000, thread="cpu0")
REFAULT = PteChange(time=20, pasid=P, va=A0, size=0x1000, old_pa=None, new_pa=NEW, writable=True)
INIT = {(P, A0): 0xA0, (P, A1): 0xA1}


# --------------------------------------------------------------------------- class 1: one fill, one index

def test_zero_fill_is_one_write_for_every_address_of_the_page():
    # The device reads the fill's 0 at one address, then the pre-fill value at the other:
    # the fill replaced both at once, so no single view explains the pair, whichever
    # address comes first in the page.
    for new_va, old_va in ((A0, A1), (A1, A0)):
        tr = Trace([ZAP, FILL, REFAULT, rd(new_va, 0, mem=25), rd(old_va, INIT[(P, old_va)], mem=30, pa=OLD)])
        assert rules(check_ordering(tr, INIT)) == ["ordering"], hex(new_va)
        assert bf.ordering_bad(list(tr), INIT)["any"]
    # in the other order (old value first) it is fine
    tr = Trace([ZAP, FILL, REFAULT, rd(A1, 0xA1, mem=25, pa=OLD), rd(A0, 0, mem=30)])
    assert rules(check_ordering(tr, INIT)) == []


# --------------------------------------------------------------------------- class 2: exact initial values

def test_initial_value_that_explains_a_read_is_found_even_when_zero_is_seen_first():
    # No initial value given. A read of 0 whose window starts first is explained by the
    # fill at 20 (performed inside its window); the read of 7 at t=3 by an initial 7.
    tr = Trace([rd(A0, 0, issue=0, complete=25), rd(A0, 7, mem=3, pa=OLD), ZAP, FILL, REFAULT])
    res = analyze_ordering(tr)
    assert res.inferred == {(P, A0): 7} and not res.violations
    assert not bf.ordering_bad(list(tr), None)["any"]
    # with two different never-written values one of them is garbage, whichever is initial
    tr2 = Trace([rd(A0, 0, issue=0, complete=25), rd(A0, 7, mem=3, pa=OLD), rd(A0, 8, mem=4, pa=OLD),
                 ZAP, FILL, REFAULT])
    assert rules(check_ordering(tr2)) == ["unknown-value"]


def test_initial_value_tie_break_is_window_start_then_trace_order():
    # Two never-written values (one is garbage whatever the choice): the initial value
    # is the one of the read whose window starts first, then the first in the trace;
    # the end of the window does not matter.
    tr = Trace([rd(A0, 7, issue=5, complete=9), rd(A0, 8, issue=5, complete=6)])
    assert analyze_ordering(tr).inferred == {(P, A0): 7}
    tr = Trace([rd(A0, 8, issue=5, complete=6), rd(A0, 7, issue=5, complete=9)])
    assert analyze_ordering(tr).inferred == {(P, A0): 8}


def test_cpu_loads_do_not_choose_the_initial_value():
    # The rule is about what the device read: an initial value of 6 explains the
    # device's read, whatever a CPU load returned (that is the lost-write checker's).
    # Before, the earliest unwritten observation won, here the CPU load of 5.
    load = CpuLoad(time=2, thread="cpu0", pasid=P, va=A0, pa=NEW, value=5)
    assert rules(check_ordering(Trace([load, rd(A0, 6, mem=4)]))) == []
    assert analyze_ordering(Trace([load, rd(A0, 6, mem=4)])).inferred == {(P, A0): 6}
    assert rules(check_ordering(Trace([load, rd(A0, 6, mem=4), rd(A0, 7, mem=5)]))) == ["unknown-value"]


# ------------------------------------------------------------- class 3: a discarded write in a refault's cycle

def test_write_discarded_in_the_refault_cycle_does_not_hide_the_fill():
    # A stale device write lands in the zapped page OLD in the refault's cycle (t=20),
    # recorded after the fill. It is discarded, so the fill's 0 is what the address must
    # hold: an unrelated final value, or a CPU load of it, is a lost write.
    base = [CpuStore(time=5, thread="cpu0", pasid=P, va=A0, pa=OLD, value=1), ZAP, FILL, REFAULT,
            dw(A0, 0xD1, 20, OLD)]
    assert rules(check_lost_writes(Trace(base), {(P, A0): 0x77})) == ["lost-write"]
    assert rules(check_lost_writes(Trace(base), {(P, A0): 0})) == []
    load = CpuLoad(time=25, thread="cpu0", pasid=P, va=A0, pa=NEW, value=0x77)
    assert rules(check_lost_writes(Trace(base + [load]))) == ["lost-write"]
    assert bf.lost_write_bad(base, {(P, A0): 0x77}) and not bf.lost_write_bad(base, {(P, A0): 0})


# ------------------------------------------------------------- class 4: a walk as its frame changes hands

def test_walk_in_the_cycle_a_page_table_frame_becomes_data_is_not_judged():
    # The frame held a page table; at t=4 it is freed and handed out as anon data. A walk
    # read at t=4 may have come before both (lenient ties); one at t=5 read data.
    life = [FrameEvent(time=0, pfn=0x50, kind="alloc", owner="pagetable"),
            FrameEvent(time=4, pfn=0x50, kind="free"),
            FrameEvent(time=4, pfn=0x50, kind="alloc", owner="anon")]

    def walk(t):
        return MemAccess(time=t, source="walk", pa=OLD + 8, write=False, value=0, tag=0)

    assert rules(check_uaf(Trace(life + [walk(4)]))) == []
    assert rules(check_uaf(Trace(life + [walk(5)]))) == ["use-after-free"]
    assert not bf.uaf_bad(life + [walk(4)]) and bf.uaf_bad(life + [walk(5)])


# --------------------------------------------------------------------------- property: fast == brute force

class HypDraw:
    def __init__(self, data) -> None:
        self.data = data

    def int(self, lo: int, hi: int) -> int:
        return self.data.draw(st.integers(lo, hi))


def bf_settings(examples: int) -> settings:
    """Deterministic (derandomize: the same examples on every run and in CI), no deadline."""
    return settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _compare(data, rules_: tuple[str, ...]) -> None:
    case = bf.gen_trace(HypDraw(data))
    fast, brute = bf.fast_verdicts(case), bf.brute_verdicts(case)
    for rule in rules_:
        assert fast[rule] == brute[rule], (rule, fast[rule], brute[rule], case)


@given(st.data())
@bf_settings(800)
def test_ordering_agrees_with_brute_force(data):
    _compare(data, ("ordering", "unknown-value", "future-read"))


@given(st.data())
@bf_settings(500)
def test_lost_write_agrees_with_brute_force(data):
    _compare(data, ("lost-write",))


@given(st.data())
@bf_settings(250)
def test_use_after_free_and_protocol_agree_with_brute_force(data):
    _compare(data, ("use-after-free", "itag-reuse", "completion-without-request", "duplicate-completion",
                    "lost-completion", "completion-before-drain"))


def test_brute_force_references_fire():
    """Each reference can say yes and no (so the comparisons above are not vacuous)."""
    import random
    seen: dict[str, set[bool]] = {}
    rng = random.Random(7)
    for _ in range(2000):
        for rule, bad in bf.brute_verdicts(bf.gen_trace(bf.RandomDraw(rng))).items():
            seen.setdefault(rule, set()).add(bad)
    assert all(v == {True, False} for v in seen.values()), seen
