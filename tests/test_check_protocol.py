"""Protocol checker (model/check/protocol.py): hand-derived verdicts."""
from __future__ import annotations

from model.check import check_protocol
from model.trace import DevAccess, InvCpl, InvReq, PteChange, Trace

P, VA = 1, 0x7000
OLD, NEW = 0x50000, 0x60000


def req(t, itag, start=VA, size=0x1000, pasid=P):
    return InvReq(time=t, itag=itag, pasid=pasid, start=start, size=size)


def cpl(t, itag):
    return InvCpl(time=t, itag=itag)


def acc(issue, mem, pa=OLD, hit=True, pasid=P, va=VA + 8, write=False):
    return DevAccess(thread=0, write=write, pasid=pasid, va=va, pa=pa, value=1, issue=issue,
                     complete=mem + 1, atc_hit=hit, mem_time=mem)


def rules(events):
    return [x.rule for x in check_protocol(Trace(events)) if not x.ok]


def test_clean_exchange():
    # ITag 3 used twice, but only after its first completion; access drained (mem 14 < 15).
    assert rules([req(10, 3), acc(5, 14), cpl(15, 3), req(20, 3), cpl(25, 3), req(21, 4), cpl(26, 4)]) == []


def test_itag_reuse_while_outstanding():
    bad = check_protocol(Trace([req(10, 3), req(12, 3), cpl(15, 3), cpl(16, 3)]))
    assert [x.rule for x in bad if not x.ok] == ["itag-reuse"]
    assert "t=12" in [x for x in bad if not x.ok][0].message


def test_completion_without_request():
    assert rules([cpl(5, 7)]) == ["completion-without-request"]


def test_duplicate_completion():
    assert rules([req(10, 3), cpl(15, 3), cpl(16, 3)]) == ["duplicate-completion"]


def test_lost_completion():
    assert rules([req(10, 3), req(11, 4), cpl(15, 4)]) == ["lost-completion"]


def test_completion_before_drain_atc_hit():
    # An ATC hit issued at 5 (< request at 10), same page, reaches memory at 20 > completion 15.
    v = [x for x in check_protocol(Trace([req(10, 3), acc(5, 20), cpl(15, 3)])) if not x.ok]
    assert [x.rule for x in v] == ["completion-before-drain"]
    assert "t=20" in v[0].message and "InvCpl(t=15 itag=3)" in v[0].message and "0x7008" in v[0].message


def test_drain_rule_boundaries_are_fine():
    base = [req(10, 3), cpl(15, 3)]
    assert rules(base + [acc(5, 15)]) == []                      # same cycle as the completion
    assert rules(base + [acc(10, 20)]) == []                     # issued with the request, not before
    assert rules(base + [acc(5, 20, pasid=2)]) == []             # other PASID
    assert rules(base + [acc(5, 20, va=0x9008)]) == []           # outside the range
    assert rules([req(10, 3, pasid=None), cpl(15, 3), acc(5, 20, pasid=2)]) == ["completion-before-drain"]


def test_drain_rule_for_misses_uses_the_page_table():
    # The PTE was repointed OLD -> NEW at 8, the request came at 10. A miss that reached
    # memory at 20 with NEW was (re)walked after the request: fine. With OLD, it must have
    # been translated before the change, hence before the request: not drained.
    change = PteChange(time=8, pasid=P, va=VA, size=0x1000, old_pa=OLD, new_pa=NEW, writable=True)
    base = [change, req(10, 3), cpl(15, 3)]
    assert rules(base + [acc(5, 20, pa=NEW, hit=False)]) == []
    assert rules(base + [acc(5, 20, pa=OLD, hit=False)]) == ["completion-before-drain"]
    # Without PteChange evidence a miss is not judged.
    assert rules([req(10, 3), cpl(15, 3), acc(5, 20, hit=False)]) == []


def test_drain_rule_write_protect():
    # mprotect-like downgrade at 8 (same PA, now read-only): a write that missed and still
    # reached memory after the completion used the old writable translation.
    change = PteChange(time=8, pasid=P, va=VA, size=0x1000, old_pa=OLD, new_pa=OLD, writable=False)
    base = [change, req(10, 3), cpl(15, 3)]
    assert rules(base + [acc(5, 20, hit=False, write=True)]) == ["completion-before-drain"]
    assert rules(base + [acc(5, 20, hit=False, write=False)]) == []
