"""Kernel paths racing each other on one page (regressions of the model fuzz).

Each test interleaves two or more operations by hand, at the points where
Linux has to re-check what it decided before it took a lock:

* rmap walkers (reclaim, migration, KSM) isolate and lock the page, then
  re-check under the page-table lock that the PTE still maps it
  (page_vma_mapped_walk) and skip it otherwise; a page isolated by one of
  them is refused to the next (isolate_lru_page -EBUSY);
* a page fault looks its VMA up under mmap_lock;
* zap clears swap and migration entries; a swap slot lives while the swap
  cache or a swap entry uses it; mprotect downgrades migration entries;
* khugepaged refuses to collapse pages someone else is working on;
* a zap or mprotect over part of a THP splits it first;
* ksmd is one thread; clear_refs excludes faults when faults may copy.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from model import pagetable as pt
from model.memory import PAGE_SIZE
from model.mm import HPAGE_SIZE, SWP_WRITE, Blocked, Mm
from model.ops import (clear_soft_dirty, cpu_load, cpu_store, ksm_replace_page_early_free,
                       ksm_write_protect_page, madv_dontneed, migrate, mprotect, munmap, replace_page_uprobe,
                       thp_collapse, try_to_unmap)
from model.scenario import parse
from model.scheduler import run_scenario_sync
from model.trace import FrameEvent, OpStep
from tests.kernel_helpers import drive, make_host, names

NIL, DEF, SWF = "notify-inside-lock", "deferred", "secondary-with-flush"
A, B, F, H = 0x10000000, 0x10002000, 0x20000000, 0x40000000
ROOT = Path(__file__).resolve().parents[1]

MINIMAL = """\
vma 0x10000000 0x10010000 anon rw
page A 0x10000000 present
[Time 0]
CPU-thread-0 {try_to_unmap A}
CPU-thread-1 {migrate A}
DEV-thread-0 {read A; read A}
"""


def advance(host, dev, gen, *, until: str | None = None) -> tuple[str, list[str]]:
    """Run gen until it returns ("done"), yields step `until` ("step") or blocks
    on something an invalidation completion cannot clear ("blocked")."""
    steps: list[str] = []
    while True:
        try:
            y = next(gen)
        except StopIteration:
            return "done", steps
        if isinstance(y, Blocked):
            for tag in dev.take_completions():
                host.secondary.complete(tag)
            if not y.ready():
                return "blocked", steps  # the operation re-checks when it is resumed
            continue
        steps.append(y.name)
        dev.now += 1
        if until is not None and y.name == until:
            return "step", steps


def details(host, op: str, step: str) -> list[str]:
    return [e.detail for e in host.trace.of(OpStep) if e.op == op and e.step == step]


def freed(host, pfn: int) -> bool:
    return any(e.pfn == pfn and e.kind == "free" for e in host.trace.of(FrameEvent))


# --------------------------------------------------------------------------- the reported crash

@pytest.mark.parametrize("seed", range(12))
def test_try_to_unmap_and_migrate_on_one_page_in_random_mode(seed):
    sc = parse(MINIMAL, "<minimal>")
    for pol in (NIL, DEF, SWF):
        res = run_scenario_sync(sc, pol, seed, mode="random")  # used to raise: mapcount below zero
        if pol != DEF:
            assert res.ok, [v.message for v in res.failures]


def test_the_reported_command_line_runs_clean(tmp_path):
    f = tmp_path / "min.scn"
    f.write_text(MINIMAL)
    r = subprocess.run([sys.executable, "-m", "model.scenario", str(f), "--mode", "random", "--seed", "0"],
                       cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    assert r.stdout.count("clean") == 3


def test_a_page_isolated_by_migration_is_refused_to_reclaim():
    host, dev = make_host(NIL)
    mm = host.mm
    pfn = mm.translate(A, False).pa >> 12
    mig = migrate(host.kernel, "m", A)
    assert advance(host, dev, mig, until="page_lock")[0] == "step"
    state, steps = advance(host, dev, try_to_unmap(host.kernel, "r", A))
    assert state == "done" and steps == ["abort"]
    assert "isolate_lru_page" in details(host, "try_to_unmap", "abort")[0]
    assert advance(host, dev, mig)[0] == "done"
    new = mm.translate(A, False).pa >> 12
    assert new != pfn and mm.map_count(new) == 1 and mm.map_count(pfn) == 0 and freed(host, pfn)
    assert not mm.isolated and not mm.swap.slots


def test_reclaim_skips_a_pte_zapped_while_it_waited_for_the_page_lock():
    host, dev = make_host(DEF)
    mm = host.mm
    pfn = mm.translate(A, False).pa >> 12
    ksm = ksm_write_protect_page(host.kernel, "k", A)
    assert advance(host, dev, ksm, until="page_lock")[0] == "step"  # KSM holds the page lock
    rec = try_to_unmap(host.kernel, "r", A)
    assert advance(host, dev, rec)[0] == "blocked"  # isolated, waits for the page lock
    drive(host, madv_dontneed(host.kernel, "z", A), dev)  # the mapping goes away meanwhile
    assert advance(host, dev, ksm)[0] == "done"  # write_protect_page finds nothing to protect
    state, steps = advance(host, dev, rec)
    assert state == "done" and "pte_clear" not in steps and "abort" in steps
    assert "no longer maps" in details(host, "try_to_unmap", "abort")[0]
    assert mm.pte(A) == 0 and freed(host, pfn) and not mm.swap.slots and not mm.isolated
    assert mm.map_count(pfn) == 0


def test_migration_whose_entry_was_zapped_frees_the_new_page_and_maps_nothing():
    host, dev = make_host(NIL)
    mm = host.mm
    mig = migrate(host.kernel, "m", A)
    assert advance(host, dev, mig, until="pt_unlock")[0] == "step"  # migration entry installed
    new = next(int(d.split()[1], 16) for d in details(host, "migrate", "alloc"))
    assert Mm.is_migration(mm.pte(A))
    drive(host, madv_dontneed(host.kernel, "z", A), dev)
    assert mm.pte(A) == 0
    assert advance(host, dev, mig)[0] == "done"
    assert mm.pte(A) == 0 and freed(host, new) and not mm.mapcount.get(new)


def test_mprotect_makes_a_writable_migration_entry_read_only():
    host, dev = make_host(NIL)
    mm = host.mm
    mig = migrate(host.kernel, "m", A)
    assert advance(host, dev, mig, until="pt_unlock")[0] == "step"
    assert mm.pte(A) & SWP_WRITE
    drive(host, mprotect(host.kernel, "p", A, PAGE_SIZE, "ro"), dev)
    assert Mm.is_migration(mm.pte(A)) and not mm.pte(A) & SWP_WRITE
    assert advance(host, dev, mig)[0] == "done"
    w = mm.translate(A, False)
    assert w.ok and not w.writable  # not restored writable inside a read-only VMA


def test_zap_of_a_swap_entry_leaves_the_slot_to_reclaim_until_pageout():
    host, dev = make_host(DEF)
    mm = host.mm
    pfn = mm.translate(A, False).pa >> 12
    rec = try_to_unmap(host.kernel, "r", A)
    assert advance(host, dev, rec, until="pt_unlock")[0] == "step"  # swap entry set, page in the swap cache
    slot = Mm.swp_index(mm.pte(A))
    drive(host, madv_dontneed(host.kernel, "z", A), dev)
    assert mm.pte(A) == 0 and mm.swap.slots[slot].count == 0 and mm.swap.slots[slot].cache_pfn == pfn
    assert not freed(host, pfn)  # the zap does not drop reclaim's reference
    assert advance(host, dev, rec)[0] == "done"  # pageout; used to raise KeyError
    assert not mm.swap.slots and freed(host, pfn)
    drive(host, cpu_load(host.kernel, "c", A), dev)  # a new zero-filled mapping
    assert mm.read_value(A) == 0


def test_a_fault_that_waited_for_mmap_lock_sees_the_munmap():
    host, dev = make_host(NIL)
    un = munmap(host.kernel, "u", B)
    assert advance(host, dev, un, until="detach_vmas")[0] == "step"
    st = cpu_store(host.kernel, "c", B, 1)  # B is COW-shared: the store faults
    assert advance(host, dev, st)[0] == "blocked"  # waits for mmap_lock
    assert advance(host, dev, un)[0] == "done"
    state, steps = advance(host, dev, st)
    assert state == "done" and steps[-1] == "segv"  # used to run do_wp_page without a VMA


# --------------------------------------------------------------------------- uprobes

def test_replace_page_needs_a_read_only_file_mapping_and_survives_munmap():
    setup = "vma 0x20000000 0x20002000 file rw file=data\npage W 0x20000000 file\n" \
            "vma 0x20002000 0x20004000 file ro file=text\n[Time 0]\n"
    host, dev = make_host(NIL, setup=setup)
    steps = names(drive(host, replace_page_uprobe(host.kernel, "u", 0x20000000, 0xCC), dev))
    assert steps == ["abort"]  # uprobes' valid_vma: no VM_WRITE
    rp = replace_page_uprobe(host.kernel, "u", 0x20002000, 0xCC)  # not populated: faults it in
    un = munmap(host.kernel, "m", 0x20002000)
    assert advance(host, dev, un, until="mmap_lock")[0] == "step"
    assert advance(host, dev, rp)[0] == "blocked"
    assert advance(host, dev, un)[0] == "done"
    state, steps = advance(host, dev, rp)
    assert state == "done" and steps == ["abort"]  # used to fail an assertion


def test_replacing_a_breakpoint_copy_frees_it_only_after_range_end():
    host, dev = make_host(DEF)
    mm = host.mm
    drive(host, replace_page_uprobe(host.kernel, "u", F, 0xCC), dev)
    first = mm.translate(F, False).pa >> 12
    drive(host, replace_page_uprobe(host.kernel, "u", F + 8, 0xDD), dev)
    t_free = next(e.time for e in host.trace.of(FrameEvent) if e.pfn == first and e.kind == "free")
    ends = [e.time for e in host.trace.of(OpStep) if e.op == "__replace_page" and e.step == "range_end"]
    assert t_free > ends[-1]  # get_user_pages' reference keeps the old page (case A avoided)
    new = mm.translate(F, False).pa
    assert mm.mem.read64(new) == 0xCC and mm.mem.read64(new + 8) == 0xDD


# --------------------------------------------------------------------------- THP

COLLAPSE = """\
wp-fault {wp}
vma 0x40000000 0x40200000 anon rw mergeable
page R 0x40000000 present
page S 0x40001000 present
[Time 0]
"""


def test_collapse_refuses_a_swapped_out_page_and_restores_the_table():
    host, dev = make_host(NIL, setup=COLLAPSE.format(wp="lock-wait"))
    mm = host.mm
    s_old = mm.read_value(H + 0x1000)
    drive(host, try_to_unmap(host.kernel, "r", H + 0x1000), dev)
    assert Mm.is_swap(mm.pte(H + 0x1000))
    steps = names(drive(host, thp_collapse(host.kernel, "k", H), dev))
    assert "abort" in steps and "pmd_set" not in steps and "copy" not in steps
    assert "SCAN_PTE_NON_PRESENT" in details(host, "thp_collapse", "abort")[0]
    assert Mm.is_swap(mm.pte(H + 0x1000)) and mm.leaf(H)[2] == PAGE_SIZE  # the PTE table is back
    drive(host, cpu_load(host.kernel, "c", H + 0x1000), dev)  # swap-in: the content survived
    assert mm.read_value(H + 0x1000) == s_old
    assert not mm.page_locks.owner and not mm.isolated


def test_collapse_refuses_a_page_locked_by_another_path():
    host, dev = make_host(NIL, setup=COLLAPSE.format(wp="lock-wait"))
    rec = try_to_unmap(host.kernel, "r", H)
    assert advance(host, dev, rec, until="page_lock")[0] == "step"  # reclaim holds the page lock
    steps = names(drive(host, thp_collapse(host.kernel, "c", H), dev))
    assert "abort" in steps and "SCAN_PAGE_LOCK" in details(host, "thp_collapse", "abort")[0]
    assert host.mm.leaf(H)[2] == PAGE_SIZE
    assert advance(host, dev, rec)[0] == "done"
    assert Mm.is_swap(host.mm.pte(H))  # reclaim finished its job on the small page


def test_khugepaged_waits_for_ksmd_mmap_lock():
    host, dev = make_host(NIL, setup=COLLAPSE.format(wp="lock-wait"))
    ksm = ksm_write_protect_page(host.kernel, "k", H)
    assert advance(host, dev, ksm, until="pt_unlock")[0] == "step"
    col = thp_collapse(host.kernel, "c", H)
    assert advance(host, dev, col) == ("blocked", [])  # mmap_lock for write vs ksmd's read
    assert advance(host, dev, ksm)[0] == "done"
    state, steps = advance(host, dev, col)
    assert state == "done" and "pmd_set" in steps  # R read-only now, S still writable: collapses


def test_collapse_of_exclusive_writable_pages_still_works():
    host, dev = make_host(NIL, setup=COLLAPSE.format(wp="lock-wait"))
    mm = host.mm
    r, s = mm.read_value(H), mm.read_value(H + 0x1000)
    steps = names(drive(host, thp_collapse(host.kernel, "c", H), dev))
    assert "pmd_set" in steps and mm.leaf(H)[2] == HPAGE_SIZE
    assert (mm.read_value(H), mm.read_value(H + 0x1000)) == (r, s)
    assert not mm.page_locks.owner and not mm.isolated


@pytest.mark.parametrize("op", ["madv_dontneed", "mprotect"])
def test_an_operation_on_part_of_a_thp_splits_it_first(op):
    host, dev = make_host(NIL)  # H: a THP at 0x40000000
    mm = host.mm
    mm.mem.write64(mm.translate(H + 0x3000, False).pa, 0x33)
    fn = madv_dontneed if op == "madv_dontneed" else mprotect
    steps = names(drive(host, fn(host.kernel, "t", H + 0x1000, 0x1000), dev))
    assert "pmd_populate" in steps and mm.leaf(H)[2] == PAGE_SIZE
    assert mm.read_value(H + 0x3000) == 0x33  # the rest of the huge page is untouched
    if op == "madv_dontneed":
        assert mm.pte(H + 0x1000) == 0 and mm.translate(H + 0x2000, True).ok
    else:
        assert not mm.translate(H + 0x1000, True).ok and mm.translate(H + 0x2000, True).ok
        assert names(drive(host, cpu_store(host.kernel, "c", H + 0x1000, 1), dev))[-1] == "segv"


# --------------------------------------------------------------------------- KSM, clear_refs, write faults

def test_ksm_operations_take_turns_like_the_one_ksmd_thread():
    setup = "vma 0x10000000 0x10010000 anon rw mergeable\npage A 0x10000000 present\n[Time 0]\n"
    host, dev = make_host(NIL, setup=setup)
    wp = ksm_write_protect_page(host.kernel, "k0", A)
    assert advance(host, dev, wp, until="pt_unlock")[0] == "step"  # range_end still pending
    rp = ksm_replace_page_early_free(host.kernel, "k1", A)
    assert advance(host, dev, rp) == ("blocked", [])  # ksm_thread_mutex
    assert advance(host, dev, wp)[0] == "done"
    state, steps = advance(host, dev, rp)
    assert state == "done" and steps[:2] == ["page_lock", "ksm_page"] and "page_free" in steps
    assert host.mm.page_owner(host.mm.translate(A, False).pa >> 12) == "ksm"


@pytest.mark.parametrize("wp,blocks", [("refcount", True), ("lock-wait", False)])
def test_clear_soft_dirty_excludes_faults_when_faults_may_copy(wp, blocks):
    host, dev = make_host(NIL, wp_fault=wp)
    cs = clear_soft_dirty(host.kernel, "s")
    assert advance(host, dev, cs, until="pt_unlock")[0] == "step"  # write-protected, flush pending
    st = cpu_store(host.kernel, "c", A, 1)
    state, _ = advance(host, dev, st)
    assert (state == "blocked") is blocks
    assert advance(host, dev, cs)[0] == "done"
    assert advance(host, dev, st)[0] == "done" and host.mm.read_value(A) == 1


def test_write_fault_reuses_the_private_copy_in_a_file_mapping():
    setup = "vma 0x20000000 0x20002000 file rw file=data\npage W 0x20000000 file\n[Time 0]\n"
    host, dev = make_host(NIL, setup=setup)
    mm = host.mm
    drive(host, cpu_store(host.kernel, "c", 0x20000000, 1), dev)  # do_cow_fault: anon copy
    copy = mm.translate(0x20000000, True).pa
    drive(host, clear_soft_dirty(host.kernel, "s"), dev)
    steps = names(drive(host, cpu_store(host.kernel, "c", 0x20000000, 2), dev))
    assert "copy" not in steps and mm.translate(0x20000000, True).pa == copy  # PageAnon: reuse


def test_cli_reports_a_run_error_in_one_line(tmp_path):
    f = tmp_path / "dead.scn"
    f.write_text("vma 0x10000000 0x10010000 anon rw mergeable\npage A 0x10000000 present\n"
                 "[Time 0]\nCPU-thread-0 {ksm_merge A until pt_unlock}\n[Time 1]\nCPU-thread-1 {store A}\n")
    r = subprocess.run([sys.executable, "-m", "model.scenario", str(f), "--policy", "deferred"],
                       cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.startswith(f"error: {f}:5: row [Time 1] cannot finish") and "locked by CPU-thread-0" in r.stderr


def test_reuse_is_decided_under_the_page_table_lock():
    # the write fault has decided to reuse (one reference, trylock) and waits for
    # the page-table lock when another path pins the page: under the lock the
    # fault sees two references and copies instead of writing into the pinned page
    host, dev = make_host(NIL, wp_fault="refcount")
    mm = host.mm
    drive(host, mprotect(host.kernel, "p", A, PAGE_SIZE, "ro"), dev)
    drive(host, mprotect(host.kernel, "p", A, PAGE_SIZE, "rw"), dev)  # PTE read-only, VMA writable
    pfn = mm.translate(A, False).pa >> 12
    before = mm.mem.read64(pfn << 12)
    assert mm.ptl.try_acquire("other")
    st = cpu_store(host.kernel, "c", A, 7)
    assert advance(host, dev, st) == ("blocked", ["fault"])  # do_wp_page chose reuse, waits for the lock
    mm.get_page(pfn)  # e.g. KSM's follow_page reference
    mm.ptl.release("other")
    state, steps = advance(host, dev, st)
    assert state == "done" and "copy" in steps and steps[-1] == "store"
    assert mm.translate(A, True).pa >> 12 != pfn and mm.read_value(A) == 7
    assert mm.mem.read64(pfn << 12) == before  # the pinned page was not written


KSM_AFTER_CLEAR_REFS = """\
vma 0x10000000 0x10010000 anon rw mergeable
page A 0x10000000 present
[Time 0]
DEV-thread-0 {write A}                              # writable translation cached
[Time 1]
CPU-thread-0 {clear_soft_dirty until pt_unlock}     # read-only now, flush pending
[Time 2]
CPU-thread-1 {ksm_replace_page A until ksm_page}    # would copy the page inside that window
[Time 3]
DEV-thread-0 {write A}                              # stale writable entry
[Time 4]
CPU-thread-1 {resume}
[Time 5]
CPU-thread-0 {resume}
[Time 6]
DEV-thread-0 {read A}
"""


def test_ksm_replaces_only_a_pte_its_own_write_protect_left():
    sc = parse(KSM_AFTER_CLEAR_REFS, "<ksm>")
    for pol in (NIL, DEF, SWF):
        res = run_scenario_sync(sc, pol, 0)  # used to lose the device write: coherence, lost-write
        assert res.ok, [v.message for v in res.failures]
        aborts = [e.detail for e in res.trace.of(OpStep) if e.op == "ksm_replace_page" and e.step == "abort"]
        assert aborts and ("not write-protected" in aborts[0] or "changed since" in aborts[0])


# Seeds of tests/test_model_fuzz.py that once failed (crash or checker failure), kept
# as a regression set whatever range the in-suite fuzz runs.
FUZZ_REGRESSIONS = (25, 91, 124, 137, 149, 162, 235, 243, 263, 1797, 4748, 6320, 7029)


@pytest.mark.parametrize("seed", FUZZ_REGRESSIONS)
def test_fuzz_seed_that_once_failed(seed):
    from tests.test_model_fuzz import run_case
    assert not run_case(seed)
