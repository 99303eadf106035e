"""Huge pages that change frames: the THP write fault that copies
(do_huge_pmd_wp_page), NUMA hinting of a THP (change_prot_numa,
do_huge_pmd_numa_page, migrate_misplaced_transhuge_page), and the kernel bug
switches (model.kernel_bugs) that move, narrow or drop one notifier call.

Frame bookkeeping is checked on all 512 subframes: references and mappings
of the old and the new THP, which frames are freed and when.
"""
from __future__ import annotations

import dataclasses

import pytest

from model import kernel_bugs
from model import pagetable as pt
from model.ats import Fault
from model.memory import PAGE_SIZE
from model.mm import HPAGE_NR, HPAGE_SIZE, Mm
from model.ops import change_prot_numa, cpu_store, munmap, thp_split
from model.scenario import ScenarioError, parse
from model.trace import FrameEvent, OpStep
from tests.kernel_helpers import SETUP, drive, make_host, names

NIL, DEF, SWF = "notify-inside-lock", "deferred", "secondary-with-flush"
H = 0x40000000
HUGE_COW = SETUP.replace("page H 0x40000000 huge", "page H 0x40000000 huge-cow")


def pmd(host) -> int:
    return host.mm.tables.entry(H, 3)[1]


def frames_of(value: int) -> int:
    return (value & pt.addr_mask(HPAGE_SIZE)) >> 12


def step_time(host, op: str, step: str, nth: int = 1) -> int:
    return [e.time for e in host.trace.of(OpStep) if e.op == op and e.step == step][nth - 1]


def freed(host) -> set[int]:
    """Data frames freed (munmap's free_pgtables also frees PTE tables)."""
    return {e.pfn for e in host.trace.of(FrameEvent) if e.kind == "free" and e.owner != "pagetable"}


# --------------------------------------------------------------------------- huge COW

HUGE_COW_NIL = ["fault", "pt_lock", "pt_unlock", "alloc", "copy", "range_start", "pt_lock", "pmd_clear",
                "secondary_inval", "pmd_set", "page_put", "pt_unlock", "range_end", "store"]


@pytest.mark.parametrize("policy,seq", [(NIL, HUGE_COW_NIL), (SWF, HUGE_COW_NIL),
                                        (DEF, [s for s in HUGE_COW_NIL if s != "secondary_inval"])])
def test_huge_cow_step_sequence(policy, seq):
    host, dev = make_host(policy, HUGE_COW)
    assert names(drive(host, cpu_store(host.kernel, "t", H + 0x3000, 7), dev)) == seq


def test_huge_cow_invalidates_2m_between_clear_and_set():
    host, dev = make_host(NIL, HUGE_COW)
    drive(host, cpu_store(host.kernel, "t", H + 0x3000, 7), dev)
    op = "do_huge_pmd_wp_page"
    assert len(dev.requests) == 1
    t, req = dev.requests[0]
    assert step_time(host, op, "pmd_clear") < t < step_time(host, op, "pmd_set")
    assert req.range == (H, HPAGE_SIZE)


def test_huge_cow_deferred_invalidates_after_unlock():
    host, dev = make_host(DEF, HUGE_COW)
    drive(host, cpu_store(host.kernel, "t", H, 7), dev)
    assert len(dev.requests) == 1
    assert dev.requests[0][0] > step_time(host, "do_huge_pmd_wp_page", "pt_unlock", 2)


def test_huge_cow_copies_and_keeps_the_childs_frames():
    host, dev = make_host(NIL, HUGE_COW)
    mm = host.mm
    old = frames_of(pmd(host))
    mm.mem.write64((old + 5) * PAGE_SIZE + 8, 0xABCD)  # content in another 4 KiB of the THP
    assert all(mm.refcount(old + i) == 2 and mm.map_count(old + i) == 2 for i in range(HPAGE_NR))
    drive(host, cpu_store(host.kernel, "t", H + 0x3000, 7), dev)
    new = frames_of(pmd(host))
    assert new != old and pmd(host) & pt.RW and pmd(host) & pt.PS
    # the child's mapping keeps the old THP: one reference, one mapping per subframe
    assert all(mm.refcount(old + i) == 1 and mm.map_count(old + i) == 1 for i in range(HPAGE_NR))
    assert all(mm.refcount(new + i) == 1 and mm.map_count(new + i) == 1 for i in range(HPAGE_NR))
    assert not freed(host)
    assert mm.read_value(H + 0x5008) == 0xABCD  # copied
    assert mm.read_value(H + 0x3000) == 7 and mm.mem.read64((old + 3) * PAGE_SIZE) != 7


def test_huge_cow_frees_the_old_thp_when_the_other_mapping_went_away_during_the_copy():
    host, dev = make_host(NIL, HUGE_COW)
    mm = host.mm
    old = frames_of(pmd(host))
    gen = cpu_store(host.kernel, "t", H, 7)
    drive(host, gen, dev, until="copy")
    for i in range(HPAGE_NR):  # the forked child exits meanwhile
        mm.remove_map(old + i)
        mm.put_page(old + i)
    drive(host, gen, dev)
    assert freed(host) == set(range(old, old + HPAGE_NR))
    frees = [e for e in host.trace.of(OpStep) if e.op == "do_huge_pmd_wp_page" and e.step == "page_free"]
    assert len(frees) == 1 and frees[0].time < step_time(host, "do_huge_pmd_wp_page", "pt_unlock", 2)


def test_huge_write_fault_reuses_a_thp_mapped_once():
    host, dev = make_host(NIL)
    mm = host.mm
    mm.tables.set_entry(H, 3, pmd(host) & ~pt.RW)
    first = frames_of(pmd(host))
    steps = drive(host, cpu_store(host.kernel, "t", H, 7), dev)
    assert "alloc" not in names(steps) and not dev.requests
    assert frames_of(pmd(host)) == first and pmd(host) & pt.RW
    assert all(mm.refcount(first + i) == 1 for i in range(HPAGE_NR))


def test_huge_cow_retries_when_the_pmd_changed_and_frees_its_copy():
    host, dev = make_host(NIL, HUGE_COW)
    gen = cpu_store(host.kernel, "t", H, 7)
    drive(host, gen, dev, until="copy")
    new = host.mm.huge.allocators[-1].first_pfn + 1
    drive(host, thp_split(host.kernel, "u", H), dev)  # the PMD is now a PTE table
    drive(host, gen, dev)
    assert set(range(new, new + HPAGE_NR)) <= freed(host)


# --------------------------------------------------------------------------- NUMA hinting of a THP

def test_change_prot_numa_makes_the_pmd_protnone_for_every_walker():
    host, dev = make_host(NIL)
    mm = host.mm
    first = frames_of(pmd(host))
    steps = drive(host, change_prot_numa(host.kernel, "t", H), dev)
    v = pmd(host)
    assert Mm.is_protnone(v) and not v & pt.P and frames_of(v) == first
    assert mm.translate(H + 0x1000, False).fault == Fault.NOT_PRESENT
    assert mm.tlb_flush_pending == 0 and "abort" not in names(steps)
    assert mm.read_value(H) is not None  # still mapped for the kernel
    # notify-inside-lock: only the full range_end reaches the device, after the unlock
    assert len(dev.requests) == 1 and dev.requests[0][0] > step_time(host, "change_prot_numa", "pt_unlock")


def test_numa_fault_migrates_the_thp_and_frees_the_old_one():
    host, dev = make_host(NIL)
    mm = host.mm
    old = frames_of(pmd(host))
    mm.mem.write64((old + 9) * PAGE_SIZE, 0x5555)
    drive(host, change_prot_numa(host.kernel, "t", H), dev)
    drive(host, cpu_store(host.kernel, "u", H + 0x1000, 7), dev)
    new = frames_of(pmd(host))
    assert new != old and pmd(host) & pt.P and pmd(host) & pt.RW
    assert freed(host) == set(range(old, old + HPAGE_NR))
    assert all(mm.refcount(new + i) == 1 and mm.map_count(new + i) == 1 for i in range(HPAGE_NR))
    assert mm.read_value(H + 0x9000) == 0x5555 and mm.read_value(H + 0x1000) == 7
    assert not mm.page_locks.owner and not mm.isolated


def _race(host, dev):
    """change_prot_numa stopped after its unlock, then the NUMA fault of another thread."""
    cpn = change_prot_numa(host.kernel, "t", H)
    drive(host, cpn, dev, until="pt_unlock")
    assert host.mm.tlb_flush_pending == 1
    drive(host, cpu_store(host.kernel, "u", H + 0x1000, 7), dev)
    drive(host, cpn, dev)


def test_numa_fault_invalidates_before_the_copy_while_a_flush_is_pending():
    host, dev = make_host(NIL)
    _race(host, dev)
    copy = step_time(host, "migrate_misplaced_transhuge_page", "copy")
    assert dev.requests[0][0] < copy and dev.requests[0][1].range == (H, HPAGE_SIZE)


def test_bug_switch_moves_the_invalidation_after_the_copy():
    host, dev = make_host(NIL)
    host.kernel.bugs = kernel_bugs.parse_switches(["thp-numa-invalidate-after-copy"])
    _race(host, dev)
    copy = step_time(host, "migrate_misplaced_transhuge_page", "copy")
    pmd_set = step_time(host, "migrate_misplaced_transhuge_page", "pmd_set")
    assert [t for t, _ in dev.requests if t < copy] == []
    assert any(copy < t < pmd_set for t, _ in dev.requests)
    assert not host.kernel.moved.get("u")


def test_numa_migration_of_a_shared_thp_fails_and_restores_the_pmd_read_only():
    host, dev = make_host(NIL, HUGE_COW)
    old = frames_of(pmd(host))
    drive(host, change_prot_numa(host.kernel, "t", H), dev)
    steps = drive(host, cpu_store(host.kernel, "u", H + 0x1000, 7), dev)
    assert "abort" in names(steps)  # page_ref_freeze(page, 2) fails: the child's reference
    # restored read-only, then the store's write fault copied the THP (huge COW)
    assert frames_of(pmd(host)) != old and host.mm.read_value(H + 0x1000) == 7
    assert all(host.mm.refcount(old + i) == 1 for i in range(HPAGE_NR))
    assert not host.mm.page_locks.owner and not host.mm.isolated


def test_zap_and_split_handle_a_protnone_pmd():
    host, dev = make_host(NIL)
    old = frames_of(pmd(host))
    drive(host, change_prot_numa(host.kernel, "t", H), dev)
    drive(host, thp_split(host.kernel, "t", H), dev)
    hit = host.mm.leaf(H + 0x2000)
    assert hit[2] == PAGE_SIZE and hit[1] & pt.P and not hit[1] & pt.RW  # NUMA hint dropped, read-only
    drive(host, munmap(host.kernel, "t", H, HPAGE_SIZE), dev)
    assert freed(host) == set(range(old, old + HPAGE_NR))
    host2, dev2 = make_host(NIL)
    drive(host2, change_prot_numa(host2.kernel, "t", H), dev2)
    drive(host2, munmap(host2.kernel, "t", H, HPAGE_SIZE), dev2)
    assert len(freed(host2)) == HPAGE_NR and host2.mm.tables.entry(H, 3)[1] == 0


# --------------------------------------------------------------------------- bug switch mechanics

def _with_switch(monkeypatch, effect: str) -> str:
    sw = kernel_bugs.BugSwitch("test-switch", "do_huge_pmd_wp_page:clear_flush_notify", effect, "-", "-", "-")
    monkeypatch.setitem(kernel_bugs.SWITCHES, sw.name, sw)
    return sw.name


@pytest.mark.parametrize("effect", ["drop", "narrow", "after-unlock"])
def test_switch_effects_on_the_huge_cow_notify(monkeypatch, effect):
    host, dev = make_host(NIL, HUGE_COW)
    host.kernel.bugs = frozenset({_with_switch(monkeypatch, effect)})
    drive(host, cpu_store(host.kernel, "t", H, 7), dev)
    op = "do_huge_pmd_wp_page"
    if effect == "drop":
        assert dev.requests == []
    elif effect == "narrow":
        assert [r.range for _, r in dev.requests] == [(H, PAGE_SIZE)]
        assert step_time(host, op, "pmd_clear") < dev.requests[0][0] < step_time(host, op, "pmd_set")
    else:
        assert [r.range for _, r in dev.requests] == [(H, HPAGE_SIZE)]
        assert step_time(host, op, "pt_unlock", 2) < dev.requests[0][0] < step_time(host, op, "range_end")


def test_switch_table_is_well_formed_and_names_are_checked():
    for s in kernel_bugs.SWITCHES.values():
        assert s.kind in kernel_bugs.EFFECTS and s.fixed_by and s.versions
    with pytest.raises(ValueError, match="unknown bug switch 'nope'"):
        kernel_bugs.parse_switches(["nope"])
    with pytest.raises(AssertionError, match="bad effect"):
        bad = kernel_bugs.BugSwitch("x", "p", "sideways", "-", "-", "-")
        kernel_bugs.SWITCHES["x"] = bad
        try:
            kernel_bugs._check_table()
        finally:
            del kernel_bugs.SWITCHES["x"]


def test_scenario_bug_directive():
    sc = parse("bug thp-numa-invalidate-after-copy\nvma 0x40000000 0x40200000 anon rw\n[Time 0]\n", "f.scn")
    assert sc.bugs == {"thp-numa-invalidate-after-copy"}
    assert dataclasses.replace(sc, bugs=frozenset()).bugs == frozenset()
    with pytest.raises(ScenarioError, match=r"^f.scn:2: unknown bug switch 'nope'"):
        parse("vma 0x40000000 0x40200000 anon rw\nbug nope\n[Time 0]\n", "f.scn")
    with pytest.raises(ScenarioError, match=r"^f.scn:1: usage: bug NAME"):
        parse("bug\nvma 0x40000000 0x40200000 anon rw\n[Time 0]\n", "f.scn")


RANDOM_MIX = """\
vma  0x40000000 0x40200000 anon rw
vma  0x40200000 0x40400000 anon rw
page H 0x40000000 huge-cow
page G 0x40200000 huge
[Time 0]
DEV-thread-0  {read H+0x3000; read G+0x4000}
[Time 1]
CPU-thread-0  {change_prot_numa H; store H+0x2000; change_prot_numa G; thp_split G}
CPU-thread-1  {store H+0x1000; load H+0x3000; change_prot_numa H; store G+0x8}
CPU-thread-2  {store G+0x5000; change_prot_numa G; munmap H 0x200000}
DEV-thread-0  {read H+0x3000; write G+0x3000; read H+0x2000; read G+0x3000}
DEV-thread-1  {write G+0x7000; read H+0x1000; read G+0x7000; read H+0x5000}
DEV-thread-2  {read G+0x5000; write G+0x9000; read G+0x9000}
"""


@pytest.mark.parametrize("policy", [NIL, SWF])
def test_random_mixes_of_huge_cow_numa_split_and_munmap_stay_clean(policy):
    """Random interleavings (model/scheduler random mode) of the new THP
    paths with each other, a split and a munmap: every schedule finishes and
    the safe policies stay clean. Under notify-inside-lock a failure here
    means a THP path left the device a stale translation."""
    from model.scheduler import run_scenario_sync
    sc = parse(RANDOM_MIX, "mix.scn")
    paths = set()
    for seed in range(40):
        res = run_scenario_sync(sc, policy, seed, mode="random")
        assert not res.failed_rules, f"seed {seed}: {sorted(res.failed_rules)}"
        paths |= {e.op for e in res.trace.of(OpStep)}
    assert {"do_huge_pmd_wp_page", "do_huge_pmd_numa_page", "migrate_misplaced_transhuge_page"} <= paths
