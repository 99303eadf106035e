"""Several mms on the reference device: a setup fork shares pages copy-on-write
(refcounts, mapcounts, read-only PTEs on both sides, recorded as PteChanges),
each mm has its own page tables and PASID, an invalidation for one PASID
leaves the other's translations in the device TLB, and use-after-free judges
a stale access into another mapping's private page by its frame."""
from __future__ import annotations

from pathlib import Path

import pytest

from model import pagetable as pt
from model.check import check_uaf
from model.memory import PhysMem
from model.notifier import Policy
from model.refdev import RefConfig, RefDevice
from model.scenario import load, parse
from model.scheduler import Host, Layout, run_scenario_sync
from model.trace import DevAccess, FrameEvent, InvReq, PteChange

ROOT = Path(__file__).resolve().parent.parent
TWO = ROOT / "scenarios" / "fork_two_pasids.scn"
STALE = ROOT / "scenarios" / "fork_stale_read.scn"
A, B = 0x1000_0000, 0x1000_2000
POLICIES = ("notify-inside-lock", "deferred", "secondary-with-flush")


def host_of(path: Path) -> Host:
    mem, lay = PhysMem(), Layout()
    from model.trace import Trace

    trace = Trace()
    dev = RefDevice(mem, lay.pasid_tbl_base, trace, RefConfig())
    return Host(load(path), dev, mem, lay.pasid_tbl_base, trace, Policy.NOTIFY_INSIDE_LOCK, lay)


def test_fork_shares_each_page_copy_on_write():
    host = host_of(TWO)
    parent, child = host.mms["main"], host.mms["child"]
    assert parent.tables.root_pa != child.tables.root_pa
    assert parent.pasid_table.get(1) == parent.tables.root_pa and parent.pasid_table.get(2) == child.tables.root_pa
    for va in (A, B):
        pv, cv = parent.pte(va), child.pte(va)
        assert parent.pte_pa(pv) == child.pte_pa(cv) is not None
        assert not pv & pt.RW and not cv & pt.RW, "both sides write-protected for COW"
        pfn = parent.pte_pa(pv) >> 12
        assert host.frames.refcount(pfn) == 2 and parent.map_count(pfn) == 2 == child.map_count(pfn)
        assert host.initial[(2, va)] == host.initial[(1, va)] == parent.mem.read64(parent.pte_pa(pv))
    changes = [e for e in host.trace if isinstance(e, PteChange)]
    assert sorted((c.pasid, c.va, c.old_pa is None, c.writable) for c in changes) == \
        [(1, A, False, False), (1, B, False, False), (2, A, True, False), (2, B, True, False)]


def test_a_private_page_copied_by_one_mm_stays_with_the_other():
    res = run_scenario_sync(TWO, "notify-inside-lock")
    assert not res.failed_rules, res.failures
    # the child's COW of A invalidated PASID 2 only, the parent's of B PASID 1 only
    invs = [(e.pasid, e.start) for e in res.trace if isinstance(e, InvReq)]
    assert invs and {p for p, _ in invs} == {1, 2}
    assert {p for p, s in invs if s <= A < s + 0x1000} == {2}
    assert {p for p, s in invs if s <= B < s + 0x1000} == {1}


@pytest.mark.parametrize("policy", POLICIES)
def test_invalidating_one_pasid_leaves_the_others_translation(policy):
    res = run_scenario_sync(TWO, policy)
    assert not res.failed_rules
    reads = {(e.pasid, e.va): [] for e in res.trace if isinstance(e, DevAccess)}
    for e in res.trace:
        if isinstance(e, DevAccess):
            reads[(e.pasid, e.va)].append(e)
    first_a = reads[(1, A)][0]
    # after the child's COW of A: the parent's read hits its cached entry, same frame, same value
    again = reads[(1, A)][1]
    assert again.atc_hit and again.pa == first_a.pa and again.value == first_a.value
    # the child's read misses (its entry was invalidated) and finds the child's copy with its store
    child = reads[(2, A)][1]
    assert not child.atc_hit and child.pa != first_a.pa and child.value == res.final[(2, A)] != first_a.value
    # symmetric for B: the parent copied, the child keeps the original frame in its TLB
    assert reads[(2, B)][1].atc_hit and reads[(2, B)][1].pa == reads[(2, B)][0].pa
    assert not reads[(1, B)][1].atc_hit and reads[(1, B)][1].pa != reads[(1, B)][0].pa
    # the other mm's use of the shared frame after a COW is no stale use
    assert res.metrics["stale_window"]["stale_uses"] == 0


@pytest.mark.parametrize("policy,expect", [("deferred", {"use-after-free", "unknown-value"}),
                                           ("notify-inside-lock", set()), ("secondary-with-flush", set())])
def test_a_stale_read_of_the_childs_page_is_judged_by_its_frame(policy, expect):
    res = run_scenario_sync(STALE, policy)
    assert set(res.failed_rules) == expect, [v.message for v in res.failures]
    assert load(STALE).expects[policy] == frozenset(expect)
    # the stale window is the parent's (pasid 1, addrA), never the child's
    per = res.metrics["stale_window"]["per_change"]
    assert {(c["pasid"], c["va"]) for c in per if c["uses"]} == ({(1, hex(A))} if expect else set())
    if expect:
        (v,) = [v for v in res.failures if v.rule == "use-after-free"]
        assert "handed to pasid 2 va 0x10000000 as its writable page" in v.message, v.message
        assert "another mapping's private page" in v.message
        stale = [e for e in v.events if isinstance(e, DevAccess)]
        assert stale and stale[0].pasid == 1 and stale[0].atc_hit


# --------------------------------------------------------------------------- the checker on hand-made traces

PA_OLD, PA_NEW = 0x100_000, 0x200_000


def trace_of(other_maps: bool, owner: str = "anon", own_keeps: bool = False, reuse_at: int | None = 15) -> list:
    """pasid 1 va A moved from PA_OLD to PA_NEW at t=10; pasid 2 va A maps PA_OLD read-only from
    t=0 (if other_maps) and writable from `reuse_at` (do_wp_page's reuse); a device read through
    pasid 1 reads PA_OLD at t=20."""
    evs: list = [FrameEvent(time=0, pfn=PA_OLD >> 12, kind="alloc", owner=owner)]
    if other_maps:
        evs.append(PteChange(time=0, pasid=2, va=A, size=0x1000, old_pa=None, new_pa=PA_OLD, writable=False))
    if not own_keeps:
        evs.append(PteChange(time=10, pasid=1, va=A, size=0x1000, old_pa=PA_OLD, new_pa=PA_NEW, writable=True))
    else:
        evs.append(PteChange(time=10, pasid=1, va=A, size=0x1000, old_pa=PA_OLD, new_pa=PA_OLD, writable=False))
    if other_maps and reuse_at is not None:
        evs.append(PteChange(time=reuse_at, pasid=2, va=A, size=0x1000, old_pa=PA_OLD, new_pa=PA_OLD,
                             writable=True))
    evs.append(DevAccess(thread=0, write=False, pasid=1, va=A, pa=PA_OLD, value=5, issue=19, complete=22,
                         mem_time=20, atc_hit=True))
    evs.sort(key=lambda e: getattr(e, "time", 20))
    return evs


def test_uaf_fires_on_a_stale_access_into_another_mms_private_page():
    (v,) = check_uaf(trace_of(other_maps=True))
    assert not v.ok and "handed to pasid 2 va 0x10000000 as its writable page" in v.message, v.message


@pytest.mark.parametrize("kw", [dict(other_maps=False), dict(other_maps=True, owner="file"),
                                dict(other_maps=True, owner="ksm"), dict(other_maps=True, own_keeps=True),
                                dict(other_maps=True, reuse_at=None), dict(other_maps=True, reuse_at=20),
                                dict(other_maps=True, reuse_at=5)])
def test_uaf_stays_quiet_without_another_private_mapping(kw):
    # no one else maps it (a modelled child, as the `cow` page state), a page-cache or KSM page
    # (shared by design), the access's own address still maps the frame, the other side still
    # maps it read-only (not handed over: the ordinary invalidation delay), the hand-over in
    # the access's own cycle (lenient tie), or before the access's mapping was removed
    (v,) = check_uaf(trace_of(**kw))
    assert v.ok, v.message


def test_the_timeline_names_the_pasid_of_each_invalidation_when_there_are_several():
    text = run_scenario_sync(TWO, "deferred").timeline()
    assert "inval pasid 2 itag" in text and "inval pasid 1 itag" in text
    one = run_scenario_sync(ROOT / "scenarios" / "cow_timeline.scn", "deferred").timeline()
    assert "inval itag" in one and "inval pasid" not in one


def test_two_children_of_one_parent_share_its_page_three_ways():
    text = ("pasid 1\nvma 0x10000000 0x10010000 anon rw\npage A 0x10000000 present\n"
            "mm a pasid=2 fork=main threads=CPU-thread-1\nmm b pasid=3 fork=main threads=CPU-thread-2\n"
            "[Time 0]\nCPU-thread-1 {store A = 0x11}\nCPU-thread-2 {store A = 0x22}\nCPU-thread-0 {load A}\n")
    res = run_scenario_sync(parse(text, "three.scn"), "notify-inside-lock")
    assert not res.failed_rules
    init = res.initial[(1, A)]
    assert res.initial[(2, A)] == res.initial[(3, A)] == init
    assert (res.final[(1, A)], res.final[(2, A)], res.final[(3, A)]) == (init, 0x11, 0x22)
    # each child copied (refcount 3, then 2: the last writer still copies under lock-wait's mapcount 2)
    pas = {(e.pasid, e.new_pa) for e in res.trace if isinstance(e, PteChange) and e.time > 0}
    assert len({pa for _, pa in pas}) == 2 and {p for p, _ in pas} == {2, 3}
