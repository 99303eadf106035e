"""Rule lost-dirty: a device write into a page after the kernel judged the page
clean, which the kernel then drops or never writes back (model/check/lost_dirty.py)."""
from __future__ import annotations

import pytest

from model.check import check_all, check_lost_dirty
from model.scenario import parse
from model.scheduler import run_scenario_sync
from model.trace import DevAccess, PageClean, PteChange, Trace

P, VA, PA = 1, 0x1000_0000, 0x40_0000


def _clean(t: int, was_set: bool, *, discard: bool = False, bit: str = "dirty") -> PageClean:
    return PageClean(time=t, pasid=P, va=VA, pa=PA, size=0x1000, bit=bit, was_set=was_set, discard=discard,
                     why="test")


def _write(t: int, *, fault: int = 0, off: int = 0x10, pasid: int = P) -> DevAccess:
    return DevAccess(thread=0, write=True, pasid=pasid, va=VA + off, pa=PA + off, value=0x55, issue=t - 2,
                     complete=t + 2, fault=fault, atc_hit=True, mem_time=None if fault else t)


def _rules(events) -> list[str]:
    return [v.rule for v in check_lost_dirty(Trace(list(events))) if not v.ok]


def test_write_after_a_clean_judgement_then_judged_clean_again_is_lost():
    bad = check_lost_dirty(Trace([_clean(10, True), _write(20), _clean(30, False)]))
    assert [v.rule for v in bad if not v.ok] == ["lost-dirty"]
    assert "t=20" in bad[0].message and "page_mkclean" not in bad[0].message and "without setting dirty" in bad[0].message


def test_write_into_a_discarded_page_is_lost():
    assert _rules([_clean(10, False, discard=True), _write(20)]) == ["lost-dirty"]
    # a write after the clean and before the discard: the discard read D clear
    assert _rules([_clean(10, True), _write(20), _clean(30, False, discard=True)]) == ["lost-dirty"]


@pytest.mark.parametrize("events", [
    [_write(5), _clean(10, True), _clean(30, False)],          # the write came before the judgement
    [_clean(10, True), _write(20), _clean(30, True)],           # the write set the bit (a walk, a fault)
    [_clean(10, True), _write(20)],                             # nothing judged the page after the write
    [_clean(10, True), _write(10), _clean(30, False)],          # same cycle as the judgement: either order
    [_clean(10, True), _write(20), _clean(20, False)],          # same cycle as the next judgement
    [_clean(10, True), _write(20, fault=2), _clean(30, False)],  # the write faulted: nothing reached memory
    [_clean(10, True), _write(20, off=0x2000), _clean(30, False)],  # another page
    [_clean(10, True, bit="soft-dirty"), _write(20), _clean(30, True)],  # another bit's judgement
    [_clean(10, True), _write(20, pasid=2), _clean(30, False)],  # the frame written through another mm
    # the address was remapped between the judgement and the write (a COW, a zap and refault): the
    # judgement says nothing about the new mapping
    [_clean(10, True), PteChange(15, P, VA, 0x1000, PA, PA + 0x5000, True), _write(20), _clean(30, False)],
    [_clean(10, True), _write(20), PteChange(25, P, VA, 0x1000, PA, None), _clean(30, False)],
    # after a discard, a refault mapped the address again (possibly the same frame)
    [_clean(10, False, discard=True), PteChange(15, P, VA, 0x1000, None, PA, True), _write(20)],
])
def test_quiet_cases(events):
    assert _rules(events) == []


def test_the_rule_is_in_check_all():
    got = [v.rule for v in check_all(Trace([_clean(10, True), _write(20), _clean(30, False)])) if not v.ok]
    assert "lost-dirty" in got


# --------------------------------------------------------------------------- MADV_FREE on the model

MADV = """
scenario madv_free_lost_dirty
cycles-per-step 10
vma 0x10000000 0x10001000 anon rw
page A 0x10000000 present
[Time 0]
DEV-thread-0 {write A}
[Time 1]
CPU-thread-0 {madv_free A%s}
[Time 2]
DEV-thread-0 {write A}
[Time 3]
CPU-thread-0 {%s}
[Time 4]
CPU-thread-1 {try_to_unmap A}
"""


def _madv(until: bool, policy: str = "notify-inside-lock"):
    text = MADV % ((" until pt_unlock", "resume") if until else ("", "load A"))
    return run_scenario_sync(parse(text, "m.scn"), policy, 0)


def test_a_device_write_racing_with_madv_free_counts_as_before_it():
    """The device writes through its dirty cached translation between
    madvise_free_pte_range's unlock and its range_end: D stays clear and
    reclaim discards the page with the write in it. A CPU store through a
    TLB entry madvise has not flushed yet does the same; a write racing with
    the call may count as before it, which MADV_FREE allows to discard. The
    judgement is recorded when madvise returns, after the write, so the rule
    stays quiet (the known-bad discard is a write after the judgement:
    test_write_into_a_discarded_page_is_lost and the history rows)."""
    res = _madv(True)
    assert not res.failed_rules
    cleans = res.trace.of(PageClean)
    assert [c.discard for c in cleans] == [False, True], "the racing write did not set D: reclaim discards"
    dev = res.trace.of(DevAccess)
    assert dev[1].atc_hit and not dev[1].fault and dev[1].mem_time < cleans[0].time


def test_madv_free_with_the_device_invalidated_first_is_clean():
    """After madv_free returned, the device's entry is gone: its write walks,
    sets D, and reclaim keeps the page."""
    res = _madv(False)
    assert not res.failed_rules
    assert [c.discard for c in res.trace.of(PageClean)] == [False], "reclaim must not discard a dirty page"
    assert not res.trace.of(DevAccess)[1].atc_hit


RECLAIM_IN_WINDOW = """
scenario madv_free_reclaim_in_window
cycles-per-step 10
vma 0x10000000 0x10001000 anon rw
page A 0x10000000 present
[Time 0]
DEV-thread-0 {write A}
[Time 1]
CPU-thread-0 {madv_free A until pt_unlock}
[Time 2]
CPU-thread-1 {try_to_unmap A until pt_unlock}
[Time 3]
DEV-thread-0 {write A}
[Time 4]
CPU-thread-0 {resume}
CPU-thread-1 {resume}
"""


@pytest.mark.parametrize("policy, want", [("deferred", {"lost-dirty"}),
                                          ("notify-inside-lock", set())])
def test_reclaim_inside_the_madv_free_window_then_a_device_write(policy, want):
    """Reclaim runs while madvise's range_end is still pending: it reads D
    clear and discards the page. A device still holding its dirty entry
    (deferred: nothing told it under the reclaim's lock, and neither range_end
    has run) then writes into the discarded page, which reclaim's isolation
    reference still holds: lost-dirty. With the invalidation under the
    reclaim's lock the write walks, finds no PTE and faults."""
    res = run_scenario_sync(parse(RECLAIM_IN_WINDOW, "r.scn"), policy, 0)
    assert res.failed_rules == want
    assert [c.discard for c in res.trace.of(PageClean)][0] is True, "the reclaim's discard is the first judgement"
