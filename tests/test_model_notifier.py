"""mmu_notifier ranges, the SVA secondary-TLB hook, ITags and the policy table."""
from __future__ import annotations

import pytest

from model.ats import NUM_ITAGS, inv_range
from model.mm import Blocked
from model.notifier import (FULL_RANGE, Event, MmuNotifierRange, Notifier, Policy, SecondaryTlb, Site,
                            range_end_invalidates)
from tests.kernel_helpers import InstantDevice, make_host

NIL, DEF, SWF = Policy.NOTIFY_INSIDE_LOCK, Policy.DEFERRED, Policy.SECONDARY_WITH_FLUSH


class HoldingDevice(InstantDevice):
    """Accepts requests but completes them only when told."""

    def invalidate(self, req):
        self.requests.append((self.now, req))

    def complete(self, *tags: int) -> None:
        self._cpl.extend(tags)


def test_events_are_the_kernel_enum():
    assert {e.name for e in Event} == {"UNMAP", "CLEAR", "PROTECTION_VMA", "PROTECTION_PAGE", "SOFT_DIRTY",
                                       "MIGRATE", "RELEASE"}


def test_range_must_be_non_empty_and_inside_the_address_space():
    host, _ = make_host()
    with pytest.raises(ValueError):
        MmuNotifierRange(host.mm, 0x2000, 0x2000, Event.CLEAR)
    assert MmuNotifierRange(host.mm, *FULL_RANGE, Event.SOFT_DIRTY).describe().startswith("all")


def test_policy_names_parse_and_unknown_names_are_refused():
    assert Policy.parse("deferred") is DEF
    with pytest.raises(ValueError, match="unknown policy"):
        Policy.parse("lazy")


@pytest.mark.parametrize("policy,only_end,expected", [
    # 4.15..6.5: range_end calls ->invalidate_range unless the path used the _only_end form
    (NIL, False, True), (NIL, True, False),
    # deferred: the in-lock notify is gone, so every range_end must invalidate
    (DEF, False, True), (DEF, True, True),
    # 6.6 removed ->invalidate_range; range_end never reaches the SVA binding
    (SWF, False, False), (SWF, True, False),
])
def test_range_end_reaches_the_device_per_policy(policy, only_end, expected):
    assert range_end_invalidates(policy, only_end) is expected


# Derived from the call sites, not from the table in notifier.py:
#  NIL = 4.15: *_clear_flush_notify, explicit invalidate_range, and tlb_flush_mmu_tlbonly call it;
#        plain ptep_clear_flush and flush_tlb_range do not.
#  DEF = nothing before range_end.
#  SWF = 6.6: every CPU TLB flush calls arch_invalidate_secondary_tlbs; the explicit
#        invalidate_range calls were removed (the preceding ptep_clear_flush already did it).
SITE_EXPECT = {
    NIL: {Site.CLEAR_FLUSH_NOTIFY: True, Site.CLEAR_FLUSH: False, Site.EXPLICIT: True, Site.TLB_GATHER: True,
          Site.TLB_FLUSH_RANGE: False},
    DEF: {s: False for s in Site},
    SWF: {Site.CLEAR_FLUSH_NOTIFY: True, Site.CLEAR_FLUSH: True, Site.EXPLICIT: False, Site.TLB_GATHER: True,
          Site.TLB_FLUSH_RANGE: True},
}


@pytest.mark.parametrize("policy", [NIL, DEF, SWF])
@pytest.mark.parametrize("site", list(Site))
def test_call_sites_invalidate_per_policy(policy, site):
    host, dev = make_host(policy)
    n = Notifier(host.mm, policy, SecondaryTlb(dev, 1))
    list(n.at_site(site, 0x10000000, 0x10001000))  # InstantDevice: no waiting needed
    sent = bool(dev.requests)
    assert sent is SITE_EXPECT[policy][site]
    assert n.log[-1] == (site.value, 0x10000000, 0x10001000, sent)


def test_invalidation_covers_exactly_the_range_with_aligned_requests():
    dev = InstantDevice()
    sec = SecondaryTlb(dev, 7)
    list(sec.invalidate(0x10001000, 0x10005000))  # 16 KiB starting at an odd page
    got = [inv_range(r.addr, r.s) for _, r in dev.requests]
    assert got == [(0x10001000, 0x1000), (0x10002000, 0x2000), (0x10004000, 0x1000)]
    assert all(r.pasid == 7 for _, r in dev.requests)
    assert len({r.itag for _, r in dev.requests}) == 3


def test_full_range_is_one_request_for_the_whole_space():
    dev = InstantDevice()
    list(SecondaryTlb(dev, 1).invalidate(*FULL_RANGE))
    assert [inv_range(r.addr, r.s) for _, r in dev.requests] == [(0, 1 << 64)]


def test_hook_blocks_until_every_completion_arrived():
    dev = HoldingDevice()
    sec = SecondaryTlb(dev, 1)
    g = sec.invalidate(0x10000000, 0x10003000)  # 8 KiB + 4 KiB: two requests
    b = next(g)
    assert isinstance(b, Blocked) and not b.ready()
    tags = [r.itag for _, r in dev.requests]
    assert len(tags) == 2
    sec.complete(tags[1])
    assert not b.ready()  # one of two is not enough (qi_submit_sync waits for all)
    sec.complete(tags[0])
    assert b.ready()
    assert list(g) == []
    assert sec.outstanding == 0


def test_itags_are_shared_and_exhaustion_blocks_until_one_is_freed():
    dev = HoldingDevice()
    sec = SecondaryTlb(dev, 1)
    gens = [sec.invalidate(0x1000 * (i + 1), 0x1000 * (i + 2)) for i in range(NUM_ITAGS + 1)]
    waits = [next(g) for g in gens]
    assert len(dev.requests) == NUM_ITAGS  # the 33rd request could not be sent
    assert waits[-1].reason == "no free ITag" and not waits[-1].ready()
    first_tag = dev.requests[0][1].itag
    sec.complete(first_tag)
    assert waits[-1].ready() and waits[0].ready()
    b = next(gens[-1])  # now it sends, reusing the freed tag, and waits for its completion
    assert dev.requests[-1][1].itag == first_tag and not b.ready()


def test_stray_completion_is_remembered_not_fatal():
    sec = SecondaryTlb(InstantDevice(), 1)
    sec.complete(3)
    assert sec.stray == [3]


def test_range_start_sends_nothing_and_range_end_closes_the_range():
    host, dev = make_host(DEF)
    n = host.notifier
    r = n.make_range(0x10000000, 0x10001000, Event.CLEAR)
    n.range_start(r)
    assert dev.requests == [] and n.active == [r]
    list(n.range_end(r, only_end=True))
    assert len(dev.requests) == 1 and n.active == []
