"""Zero fills and discarded device writes (model/check/common.py WriteOrder,
ordering.py, lost_write.py): hand-derived verdicts, known-good and known-bad."""
from __future__ import annotations

from model.check import check_all, check_lost_writes, check_ordering, failures
from model.check.common import WriteOrder
from model.scenario import parse
from model.scheduler import run_scenario_sync
from model.trace import CpuLoad, CpuStore, DevAccess, PteChange, Trace, ZeroFill

P, A = 1, 0x1000
OLD, NEW = 0x50000, 0x60000  # A's page before the zap / after the refault
INIT = 0x1000_0000_0000_0001


def st(t, va, value, pa=NEW):
    return CpuStore(time=t, thread="cpu0", pasid=P, va=va, pa=pa + (va & 0xfff), value=value)


def rd(va, value, mem, pa):
    return DevAccess(thread=0, write=False, pasid=P, va=va, pa=pa + (va & 0xfff), value=value,
                     issue=mem - 3, complete=mem + 2, mem_time=mem)


def dw(va, value, mem, pa):
    return DevAccess(thread=0, write=True, pasid=P, va=va, pa=pa + (va & 0xfff), value=value,
                     issue=mem - 3, complete=mem + 2, mem_time=mem)


ZAP = PteChange(time=10, pasid=P, va=A, size=0x1000, old_pa=OLD, new_pa=None)
FILL = ZeroFill(time=20, pasid=P, va=A, size=0x1000, thread="cpu0")
REFAULT = PteChange(time=20, pasid=P, va=A, size=0x1000, old_pa=None, new_pa=NEW, writable=True)


def rules(vs):
    return sorted({v.rule for v in failures(vs)})


# --------------------------------------------------------------------------- write order

def test_fill_is_a_write_of_zero_to_every_mentioned_address_of_the_page():
    tr = Trace([rd(A, INIT, 5, OLD), rd(A + 8, 7, 6, OLD), ZAP, FILL, REFAULT, st(30, A, 0xC1),
                rd(A + 0x1000, 9, 40, NEW)])
    order = WriteOrder(tr)
    got = [(w.addr, w.value, w.source) for w in order.writes]
    # both addresses of A's page get the fill (trace order), then the store; the next page does not
    assert got == [((P, A), 0, "fill"), ((P, A + 8), 0, "fill"), ((P, A), 0xC1, "cpu")]
    assert "ZeroFill(t=20" in order.writes[0].describe()


# --------------------------------------------------------------------------- known good

def test_read_of_zero_after_refault_is_explained_by_the_fill():
    # The brief's minimal repro: read A, MADV_DONTNEED A, refault (fill), read A = 0.
    tr = Trace([rd(A, INIT, 5, OLD), ZAP, FILL, REFAULT, rd(A, 0, 25, NEW), st(30, A, 0xC1),
                rd(A, 0xC1, 35, NEW)])
    assert rules(check_all(tr, {(P, A): INIT}, {(P, A): 0xC1})) == []


def test_lagging_read_of_an_older_zero_is_not_pinned_to_the_latest_fill():
    # A starts as the zero page (initial 0); CPU stores 1, zap, refault fills 0, CPU stores 2.
    # Device: read 0 at t=45 while its view lags before the store of 1 (allowed), then 1, then 2.
    # Pinning the first 0 to the latest fill (before the store of 2) would force the view
    # past the store of 1 and make the later read of 1 an ordering failure.
    tr = Trace([st(5, A, 1, OLD), ZAP, FILL, REFAULT, st(30, A, 2),
                rd(A, 0, 45, NEW), rd(A, 1, 50, OLD), rd(A, 2, 55, NEW)])
    assert rules(check_ordering(tr, {(P, A): 0})) == []


def test_initial_zero_still_inferred_when_a_fill_writes_zero_later():
    # no initial given: the first read of 0 (before any fill) is the inferred initial value
    tr = Trace([rd(A, 0, 5, OLD), ZAP, FILL, REFAULT, rd(A, 0, 25, NEW)])
    assert rules(check_ordering(tr)) == []


def test_device_write_after_the_pte_clear_is_discarded_not_lost():
    # A stale device write lands in the zapped page OLD at t=12, after the PTE clear at
    # t=10 (MADV_DONTNEED discarded the contents). The refault reads 0; a CPU load and
    # the final state see 0.
    tr = Trace([st(5, A, 1, OLD), ZAP, dw(A, 0xD1, 12, OLD), FILL, REFAULT,
                CpuLoad(time=25, thread="cpu0", pasid=P, va=A, pa=NEW, value=0)])
    assert rules(check_lost_writes(tr, {(P, A): 0})) == []
    # and with no refault recorded at all (say the new mapping holds older file content)
    tr2 = Trace([st(5, A, 1, OLD), ZAP, dw(A, 0xD1, 12, OLD),
                 PteChange(time=20, pasid=P, va=A, size=0x1000, old_pa=None, new_pa=NEW)])
    assert rules(check_lost_writes(tr2, {(P, A): 0x77})) == []


# --------------------------------------------------------------------------- known bad

def test_zero_from_a_page_never_filled_is_still_unknown_value():
    # a present page with a unique initial value, never zapped: a read of 0 is garbage
    tr = Trace([rd(A, INIT, 5, OLD), rd(A, 0, 25, OLD)])
    assert rules(check_ordering(tr, {(P, A): INIT})) == ["unknown-value"]


def test_zero_read_before_the_fill_is_a_future_read():
    tr = Trace([rd(A, 0, 15, OLD), ZAP, FILL, REFAULT])
    assert rules(check_ordering(tr, {(P, A): INIT})) == ["future-read"]


def test_old_value_after_zero_fill_seen_is_coherence():
    # device read the fill's 0, then the value the zap discarded: newer then older
    tr = Trace([st(5, A, 1, OLD), ZAP, FILL, REFAULT, rd(A, 0, 25, NEW), rd(A, 1, 30, OLD)])
    assert rules(check_ordering(tr, {(P, A): INIT})) == ["coherence"]


def test_device_write_before_the_pte_clear_is_judged():
    # the write landed in OLD at t=8, before the zap: the removal exemption covers it (no
    # judgement), but a write into OLD after a *remap* (no removal) is lost as before
    tr = Trace([st(5, A, 1, OLD), dw(A, 0xD1, 8, OLD), ZAP, FILL, REFAULT])
    assert rules(check_lost_writes(tr, {(P, A): 0})) == []
    remap = PteChange(time=10, pasid=P, va=A, size=0x1000, old_pa=OLD, new_pa=NEW, writable=True)
    tr2 = Trace([st(5, A, 1, OLD), remap, dw(A, 0xD1, 12, OLD)])
    assert rules(check_lost_writes(tr2, {(P, A): 1})) == ["lost-write"]


def test_device_write_into_the_old_page_after_the_refault_is_not_discarded():
    # the refault at t=20 is the latest change before the write (t=25): the write went
    # through a translation older than a live mapping; the fill's 0 is the last write
    # before it, the device write is the last write, but the page the CPU sees holds 0
    tr = Trace([st(5, A, 1, OLD), ZAP, FILL, REFAULT, dw(A, 0xD1, 25, OLD)])
    assert rules(check_lost_writes(tr, {(P, A): 0})) == ["lost-write"]


def test_cpu_load_missing_the_fill_is_lost_write():
    # after the refault the CPU must read 0, not the discarded value
    tr = Trace([st(5, A, 1, OLD), ZAP, FILL, REFAULT,
                CpuLoad(time=25, thread="cpu0", pasid=P, va=A, pa=NEW, value=1)])
    bad = failures(check_lost_writes(tr))
    assert [v.rule for v in bad] == ["lost-write"] and "zero fill" in bad[0].message


# --------------------------------------------------------------------------- host model

REPRO = """\
scenario zero_refault
vma 0x10000000 0x10010000 anon rw
page A 0x10000000 present
[Time 1] ----
DEV-thread-0 {read A}
[Time 2] ----
CPU-thread-0 {madv_dontneed A}
[Time 3] ----
CPU-thread-0 {store A until pt_unlock}
[Time 4] ----
DEV-thread-0 {read A}
"""


def test_host_records_the_zero_fill_of_a_refault():
    sc = parse(REPRO, "<zero_refault>")
    for pol in ("notify-inside-lock", "deferred", "secondary-with-flush"):
        res = run_scenario_sync(sc, pol, 0)
        assert [v.rule for v in res.failures] == [], pol
        fills = [e for e in res.trace.events if isinstance(e, ZeroFill)]
        assert len(fills) == 1 and fills[0].va == 0x10000000 and fills[0].size == 0x1000, pol
