"""The COW timeline of mmu_notifier.rst, as scenarios/cow_timeline.scn scripts it.

The doc's outcome under `deferred`: "DEV-thread-0 {read addrA from old page}"
while "DEV-thread-2 {read addrB from new page}", and "the device see the new
value for addrB before seing the new value for addrA". Under the two policies
that invalidate under the lock, the device's second read of addrA must come
from the new page.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from model.scenario import load, parse
from model.scheduler import run_scenario_sync
from model.trace import CpuStore, DevAccess

ROOT = Path(__file__).resolve().parents[1]
SCN = ROOT / "scenarios" / "cow_timeline.scn"
A, B = 0x10000000, 0x10002000


def lines_of(text: str, prefix: str) -> list[int]:
    return [i for i, ln in enumerate(text.splitlines(), 1) if ln.strip().startswith(prefix)]


@pytest.fixture(scope="module")
def sc():
    return load(SCN)


@pytest.fixture(scope="module")
def reads(sc):
    """Scenario lines of the four device reads: A first, B first, B last, A last."""
    text = SCN.read_text()
    a = lines_of(text, "DEV-thread-0  {read addrA}")
    b = lines_of(text, "DEV-thread-2  {read addrB}")
    assert len(a) == 2 and len(b) == 2
    return {"a1": a[0], "b1": b[0], "b2": b[1], "a2": a[1]}


@pytest.fixture(scope="module")
def deferred(sc):
    return run_scenario_sync(sc, "deferred", 0)


def test_deferred_reproduces_the_docs_outcome(deferred, reads):
    res = deferred
    a1, b2, a2 = (res.response_at(reads[k]) for k in ("a1", "b2", "a2"))
    st = {e.thread: e for e in res.trace.of(CpuStore)}
    # DEV-thread-2 reads addrB from the new page: CPU-thread-3's store
    assert b2.rdata == st["CPU-thread-3"].value and b2.pa == st["CPU-thread-3"].pa
    # DEV-thread-0 reads addrA from the old page, through the entry it cached at Time N
    assert a2.atc_hit and a2.pa == a1.pa and a2.rdata == res.initial[(1, A)]
    assert a2.pa != st["CPU-thread-2"].pa  # CPU-thread-2 wrote addrA in the new page
    # and CPU-thread-2's store to addrA came before CPU-thread-3's store to addrB
    assert st["CPU-thread-2"].time < st["CPU-thread-3"].time


def test_deferred_violation_is_an_ordering_verdict_naming_both_addresses(deferred):
    assert deferred.failed_rules == frozenset({"ordering"})
    (v,) = deferred.failures
    assert f"va {A:#x}" in v.message and f"va {B:#x}" in v.message
    dev_reads = [e for e in v.events if isinstance(e, DevAccess)]
    assert {e.va for e in dev_reads} == {A, B}


def test_the_reads_are_ordered_in_real_time(deferred, reads):
    b2, a2 = deferred.response_at(reads["b2"]), deferred.response_at(reads["a2"])
    assert b2.complete < a2.issue


@pytest.mark.parametrize("policy", ["notify-inside-lock", "secondary-with-flush"])
def test_in_lock_policies_read_addrA_from_the_new_page(sc, reads, policy):
    res = run_scenario_sync(sc, policy, 0)
    assert res.ok
    a1, a2 = res.response_at(reads["a1"]), res.response_at(reads["a2"])
    st = {e.thread: e for e in res.trace.of(CpuStore)}
    assert not a2.atc_hit and a2.pa != a1.pa
    assert a2.rdata == st["CPU-thread-2"].value and a2.pa == st["CPU-thread-2"].pa


def test_the_file_states_its_own_expectations(sc):
    for policy, rules in sc.expects.items():
        assert run_scenario_sync(sc, policy, 0).failed_rules == rules


def test_the_docs_literal_last_row_overlapping_reads_is_not_a_detectable_violation():
    """The doc puts both reads in one row (N+5). Issued together, the hit on the
    stale addrA entry finishes long before the walk for addrB, so a view that
    reads addrA first (old) and addrB later (new) explains both: still the old
    page, but no broken ordering anyone could observe."""
    text = SCN.read_text()
    cut = text.index("[Time N+5'")
    end = text.index("expect deferred")
    literal = text[:cut].replace("DEV-thread-2  {read addrB}                        # read addrB from the new page",
                                 "DEV-thread-2  {read addrB}\nDEV-thread-0  {read addrA}") + text[end:]
    literal = literal.replace("expect deferred             ordering", "expect deferred clean")
    sc = parse(literal, "literal.scn")
    res = run_scenario_sync(sc, "deferred", 0)
    a_line = lines_of(literal, "DEV-thread-0  {read addrA}")[-1]
    b_line = lines_of(literal, "DEV-thread-2  {read addrB}")[-1]
    a, b = res.response_at(a_line), res.response_at(b_line)
    assert a.atc_hit and a.rdata == res.initial[(1, A)]  # the old page, as the doc says
    assert a.complete < b.complete and a.issue == b.issue  # overlapping: A finished first
    assert res.ok
