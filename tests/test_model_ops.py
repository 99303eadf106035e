"""Kernel operations: step sequences per policy, and what each leaves behind.

Expected step sequences are the Linux 4.15 call sequences (docs/POLICIES.md):
where the secondary TLB is told is the only thing the policy may change.
"""
from __future__ import annotations

import pytest

from model import pagetable as pt
from model.memory import PAGE_SIZE
from model.mm import HPAGE_SIZE, SOFT_DIRTY, Blocked, Mm
from model.ops import (OPS, clear_soft_dirty, cpu_load, cpu_store, ksm_merge, ksm_replace_page,
                       ksm_replace_page_early_free, ksm_write_protect_page, madv_dontneed, madv_free,
                       migrate, migrate_vma, mprotect, munmap, replace_page_uprobe, thp_collapse, thp_split,
                       try_to_unmap, zap_early_free)
from model.trace import CpuStore, FrameEvent, OpStep
from tests.kernel_helpers import drive, make_host, names

NIL, DEF, SWF = "notify-inside-lock", "deferred", "secondary-with-flush"
A, B, Z, N, F, H = 0x10000000, 0x10002000, 0x10004000, 0x10005000, 0x20000000, 0x40000000


def step_time(host, op: str, step: str, nth: int = 1) -> int:
    got = [e.time for e in host.trace.of(OpStep) if e.op == op and e.step == step]
    return got[nth - 1]


def req_times(dev) -> list[int]:
    return [t for t, _ in dev.requests]


# --------------------------------------------------------------------------- case B: COW

COW_NIL = ["fault", "alloc", "copy", "range_start", "pt_lock", "pte_clear", "secondary_inval", "pte_set",
           "pt_unlock", "range_end", "page_put", "store"]
COW_DEF = [s for s in COW_NIL if s != "secondary_inval"]


@pytest.mark.parametrize("policy,seq", [(NIL, COW_NIL), (DEF, COW_DEF), (SWF, COW_NIL)])
def test_cow_step_sequence_per_policy(policy, seq):
    host, dev = make_host(policy)
    assert names(drive(host, cpu_store(host.kernel, "t", B, 1), dev)) == seq


@pytest.mark.parametrize("policy", [NIL, SWF])
def test_cow_invalidates_between_clear_and_set(policy):
    host, dev = make_host(policy)
    drive(host, cpu_store(host.kernel, "t", B, 1), dev)
    clear, set_ = step_time(host, "wp_page_copy", "pte_clear"), step_time(host, "wp_page_copy", "pte_set")
    # exactly one request, sent after the clear and before the set (range_only_end adds none)
    assert len(dev.requests) == 1 and clear < req_times(dev)[0] < set_


def test_cow_deferred_invalidates_only_after_the_lock_is_dropped():
    host, dev = make_host(DEF)
    drive(host, cpu_store(host.kernel, "t", B, 1), dev)
    assert len(dev.requests) == 1
    assert req_times(dev)[0] > step_time(host, "wp_page_copy", "pt_unlock")


def test_zero_page_write_allocates_a_zeroed_page_and_never_frees_the_zero_page():
    host, dev = make_host(NIL)
    steps = names(drive(host, cpu_store(host.kernel, "t", Z + 8, 5), dev))
    assert "copy" not in steps and "page_put" not in steps
    w = host.mm.translate(Z, True)
    assert host.mm.mem.read64(w.pa) == 0 and host.mm.mem.read64(w.pa + 8) == 5
    zero = host.mm.zero_pfn
    assert not any(e.pfn == zero and e.kind == "free" for e in host.trace.of(FrameEvent))


# --------------------------------------------------------------------------- uprobes

@pytest.mark.parametrize("policy,nreq", [(NIL, 2), (DEF, 1), (SWF, 1)])
def test_replace_page_installs_breakpoint_and_keeps_page_cache_page(policy, nreq):
    host, dev = make_host(policy)
    mm = host.mm
    old = mm.translate(F, False).pa
    drive(host, replace_page_uprobe(host.kernel, "t", F, 0xCC), dev)
    new = mm.translate(F, False)
    assert new.pa != old and not new.writable and mm.mem.read64(new.pa) == 0xCC
    assert mm.page_owner(old >> 12) == "file"  # still in the page cache
    st = host.trace.of(CpuStore)
    assert len(st) == 1 and st[0].value == 0xCC and st[0].time == step_time(host, "__replace_page", "pte_set")
    # 4.15 __replace_page: notify under the lock *and* a full range_end
    assert len(dev.requests) == nreq


# --------------------------------------------------------------------------- KSM

def test_write_protect_page_keeps_the_page_and_drops_write_permission():
    host, dev = make_host(NIL)
    mm = host.mm
    pfn = mm.translate(A, False).pa >> 12
    drive(host, ksm_write_protect_page(host.kernel, "t", A), dev)
    w = mm.translate(A, False)
    assert w.pa >> 12 == pfn and not w.writable
    assert mm.refcount(pfn) == 1 and not mm.page_locks.locked(pfn)
    # plain ptep_clear_flush: under 4.15 the only invalidation is range_end's
    assert req_times(dev)[0] > step_time(host, "ksm_write_protect_page", "pt_unlock")


def test_replace_page_frees_the_old_page_only_after_range_end():
    host, dev = make_host(DEF)
    mm = host.mm
    drive(host, ksm_write_protect_page(host.kernel, "t", A), dev)
    old = mm.translate(A, False).pa
    drive(host, ksm_replace_page(host.kernel, "t", A), dev)
    new = mm.translate(A, False).pa
    assert mm.page_owner(new >> 12) == "ksm" and mm.mem.read(new, PAGE_SIZE) == mm.mem.read(old, PAGE_SIZE)
    free_t = next(e.time for e in host.trace.of(FrameEvent) if e.pfn == old >> 12 and e.kind == "free")
    assert free_t > step_time(host, "ksm_replace_page", "range_end")


def test_replace_page_early_free_variant_frees_under_the_lock():
    host, dev = make_host(DEF)
    drive(host, ksm_write_protect_page(host.kernel, "t", A), dev)
    old = host.mm.translate(A, False).pa
    steps = names(drive(host, ksm_replace_page_early_free(host.kernel, "t", A), dev))
    assert steps.index("page_free") < steps.index("pt_unlock") < steps.index("range_end")
    free_t = next(e.time for e in host.trace.of(FrameEvent) if e.pfn == old >> 12 and e.kind == "free")
    assert free_t < step_time(host, "ksm_replace_page_early_free", "range_end")


def test_replace_page_refuses_a_writable_pte():
    host, dev = make_host(NIL)
    assert names(drive(host, ksm_replace_page(host.kernel, "t", A), dev)) == ["abort"]


def test_ksm_merge_does_not_merge_when_the_page_changed():
    host, dev = make_host(NIL)
    mm = host.mm
    gen = ksm_merge(host.kernel, "t", A)
    drive(host, gen, dev, until="ksm_page")
    mm.mem.write64(mm.translate(A, False).pa + 16, 42)  # a write after the stable page was chosen
    steps = drive(host, gen, dev)
    compare = [s for s in steps if s.name == "compare"][0]
    assert "differ" in compare.detail and mm.page_owner(mm.translate(A, False).pa >> 12) == "anon"


# --------------------------------------------------------------------------- zap

@pytest.mark.parametrize("policy", [NIL, DEF, SWF])
def test_munmap_frees_after_range_end_and_later_stores_segfault(policy):
    host, dev = make_host(policy)
    mm = host.mm
    pfn = mm.translate(A, False).pa >> 12
    steps = names(drive(host, munmap(host.kernel, "t", A, 0x2000), dev))
    assert steps.index("range_end") < steps.index("page_free")
    assert mm.page_owner(pfn) == "free" and mm.find_vma(A) is None
    assert names(drive(host, cpu_store(host.kernel, "u", A, 1), dev)) == ["fault", "segv"]


def test_madv_dontneed_keeps_the_vma_and_refaults_zero():
    host, dev = make_host(NIL)
    drive(host, madv_dontneed(host.kernel, "t", A), dev)
    assert host.mm.read_value(A) is None
    drive(host, cpu_load(host.kernel, "u", A), dev)
    assert host.mm.translate(A, False).pa >> 12 == host.mm.zero_pfn


@pytest.mark.parametrize("policy,inval_before_free", [(NIL, True), (DEF, False), (SWF, True)])
def test_zap_early_free_frees_before_range_end(policy, inval_before_free):
    host, dev = make_host(policy)
    steps = names(drive(host, zap_early_free(host.kernel, "t", A), dev))
    assert steps.index("page_free") < steps.index("range_end")
    free_t = step_time(host, "zap_early_free", "page_free")
    assert any(t < free_t for t in req_times(dev)) is inval_before_free


def test_madv_free_marks_clean_without_freeing():
    host, dev = make_host(NIL)
    mm = host.mm
    before = mm.translate(A, True)
    drive(host, madv_free(host.kernel, "t", A), dev)
    e = mm.pte(A)
    assert Mm.pte_pa(e) == before.pa & ~0xFFF and not e & pt.D and e & pt.RW
    assert before.pa >> 12 in mm.lazyfree and mm.page_owner(before.pa >> 12) == "anon"


# --------------------------------------------------------------------------- reclaim, migration

@pytest.mark.parametrize("policy,nreq", [(NIL, 2), (DEF, 1), (SWF, 1)])
def test_try_to_unmap_swaps_out_and_the_content_comes_back(policy, nreq):
    host, dev = make_host(policy)
    mm = host.mm
    value = mm.read_value(A)
    pfn = mm.translate(A, False).pa >> 12
    drive(host, try_to_unmap(host.kernel, "t", A), dev)
    assert Mm.is_swap(mm.pte(A)) and mm.page_owner(pfn) == "free"
    assert mm.read_value(A) == value  # final-state read goes to swap
    assert len(dev.requests) == nreq  # 4.15: explicit invalidate under the lock + full range_end
    drive(host, cpu_load(host.kernel, "u", A), dev)
    assert mm.translate(A, False).ok and mm.read_value(A) == value


def test_migration_moves_content_and_a_cpu_access_waits_for_it():
    host, dev = make_host(DEF)
    mm = host.mm
    value = mm.read_value(A)
    old = mm.translate(A, False).pa
    mig = migrate(host.kernel, "t", A)
    drive(host, mig, dev, until="range_end")
    assert Mm.is_migration(mm.pte(A))
    load = cpu_load(host.kernel, "u", A)
    assert next(load).name == "fault"
    blocked = next(load)
    assert isinstance(blocked, Blocked) and "migration" in blocked.reason and not blocked.ready()
    drive(host, mig, dev)
    assert blocked.ready()
    drive(host, load, dev)
    new = mm.translate(A, False).pa
    assert new != old and mm.mem.read64(new) == value and mm.page_owner(old >> 12) == "free"


def test_reclaim_refuses_a_page_shared_with_the_child():
    host, dev = make_host(NIL)
    assert names(drive(host, try_to_unmap(host.kernel, "t", B), dev)) == ["abort"]


# --------------------------------------------------------------------------- THP

@pytest.mark.parametrize("policy,nreq", [(NIL, 0), (DEF, 1), (SWF, 1)])
def test_thp_split_maps_the_same_subpages(policy, nreq):
    host, dev = make_host(policy)
    mm = host.mm
    base_pa = mm.translate(H, False).base
    drive(host, thp_split(host.kernel, "t", H), dev)
    for i in (0, 1, 511):
        w = mm.translate(H + i * PAGE_SIZE, False)
        assert w.page_size == PAGE_SIZE and w.pa == base_pa + i * PAGE_SIZE
    assert len(dev.requests) == nreq  # 4.15: range_only_end, nothing at all


@pytest.mark.parametrize("policy", [NIL, DEF, SWF])
def test_thp_collapse_copies_then_maps_huge_and_invalidates_before_the_copy(policy):
    setup = "vma 0x40000000 0x40200000 anon rw\npage R 0x40000000 present count=512\n[Time 0]\n"
    host, dev = make_host(policy, setup=setup)
    mm = host.mm
    vals = [mm.read_value(H + i * PAGE_SIZE) for i in (0, 7, 511)]
    smalls = [mm.translate(H + i * PAGE_SIZE, False).pa >> 12 for i in (0, 7, 511)]
    drive(host, thp_collapse(host.kernel, "t", H), dev)
    w = mm.translate(H, False)
    assert w.page_size == HPAGE_SIZE
    assert [mm.read_value(H + i * PAGE_SIZE) for i in (0, 7, 511)] == vals
    assert all(mm.page_owner(p) == "free" for p in smalls)
    assert len(dev.requests) == 1 and req_times(dev)[0] < step_time(host, "thp_collapse", "copy")


# --------------------------------------------------------------------------- protection changes

def test_mprotect_downgrade_then_upgrade_reuses_the_page():
    host, dev = make_host(NIL)
    mm = host.mm
    pfn = mm.translate(A, False).pa >> 12
    drive(host, mprotect(host.kernel, "t", A, PAGE_SIZE, "ro"), dev)
    assert not mm.translate(A, False).writable
    assert names(drive(host, cpu_store(host.kernel, "u", A, 3), dev))[-1] == "segv"
    drive(host, mprotect(host.kernel, "t", A, PAGE_SIZE, "rw"), dev)
    drive(host, cpu_store(host.kernel, "u", A, 3), dev)
    assert mm.translate(A, True).pa >> 12 == pfn  # exclusive page: reused, not copied


def test_soft_dirty_clear_write_protects_and_a_write_sets_it_again():
    host, dev = make_host(SWF)
    mm = host.mm
    assert mm.pte(A) & SOFT_DIRTY
    drive(host, clear_soft_dirty(host.kernel, "t"), dev)
    assert not mm.pte(A) & (SOFT_DIRTY | pt.RW)
    assert [inv for _, inv in dev.requests][0].range == (0, 1 << 64)  # flush_tlb_mm: the whole space
    pfn = mm.translate(A, False).pa >> 12
    drive(host, cpu_store(host.kernel, "u", A, 4), dev)
    assert mm.pte(A) & SOFT_DIRTY and mm.pte(A) & pt.RW and Mm.pte_pa(mm.pte(A)) >> 12 == pfn


# --------------------------------------------------------------------------- write-fault flavours

def test_lock_wait_fault_sleeps_on_a_page_locked_by_ksm():
    host, dev = make_host(NIL, wp_fault="lock-wait")
    ksm = ksm_merge(host.kernel, "k", A)
    drive(host, ksm, dev, until="pt_unlock")  # write_protect_page done, page still locked
    st = cpu_store(host.kernel, "u", A, 9)
    assert next(st).name == "fault"
    b = next(st)
    assert isinstance(b, Blocked) and "locked by k" in b.reason


def test_refcount_fault_copies_a_page_locked_by_ksm():
    host, dev = make_host(NIL, wp_fault="refcount")
    ksm = ksm_merge(host.kernel, "k", A)
    drive(host, ksm, dev, until="pt_unlock")
    old = host.mm.translate(A, False).pa
    steps = names(drive(host, cpu_store(host.kernel, "u", A, 9), dev))
    assert "copy" in steps and host.mm.translate(A, True).pa != old


def test_every_op_is_registered_with_its_arguments():
    assert {"store", "load", "__replace_page", "ksm_write_protect_page", "ksm_replace_page",
            "ksm_replace_page_early_free", "munmap", "madv_dontneed", "zap_early_free", "madv_free",
            "try_to_unmap", "migrate", "thp_split", "thp_collapse", "mprotect", "clear_soft_dirty"} <= set(OPS)
    assert OPS["munmap"].args == ("va", "len?")


# --------------------------------------------------------------------------- migrate_vma (6.0, 60bae7370896)

MIGRATE_VMA_BUG = "migrate-vma-flush-after-unlock"


@pytest.mark.parametrize("bug", [False, True])
def test_migrate_vma_flushes_under_the_lock_unless_the_6_0_switch_is_on(bug):
    host, dev = make_host(SWF)
    if bug:
        host.kernel.bugs = frozenset({MIGRATE_VMA_BUG})
    mm = host.mm
    value, old = mm.read_value(A), mm.translate(A, False).pa
    seq = names(drive(host, migrate_vma(host.kernel, "t", A), dev))
    flush, unlock = seq.index("secondary_inval"), seq.index("pt_unlock")
    assert (flush > unlock) if bug else (flush < unlock), seq
    assert len(dev.requests) == 1  # secondary-with-flush: range_end tells nobody
    new = mm.translate(A, False).pa
    assert new != old and mm.mem.read64(new) == value and mm.page_owner(old >> 12) == "free"


@pytest.mark.parametrize("policy,nreq", [(SWF, 0), (NIL, 1), (DEF, 1)])
def test_a_zap_that_meets_only_a_migration_entry_flushes_nothing(policy, nreq):
    host, dev = make_host(policy)
    host.kernel.bugs = frozenset({MIGRATE_VMA_BUG})
    mig = migrate_vma(host.kernel, "t", A)
    drive(host, mig, dev, until="pt_unlock")
    assert Mm.is_migration(host.mm.pte(A)) and not dev.requests  # the late flush has not run yet
    seq = names(drive(host, madv_dontneed(host.kernel, "u", A), dev))
    # tlb_finish_mmu with an empty gather range: no TLB_GATHER call; only a full range_end
    # (notify-inside-lock, deferred) reaches the device
    assert "tlb_flush" in seq and len(dev.requests) == nreq, seq
    drive(host, mig, dev)
    assert host.mm.pte(A) == 0  # remove_migration_ptes found nothing: the new page went unused
