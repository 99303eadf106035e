"""mmu_notifier: ranges, events, the secondary-TLB hook and the three policies.

The secondary TLB here is a PCIe ATS device TLB behind an IOMMU doing shared
virtual addressing (Intel SVM / Arm SMMU SVA): its driver registers an
mmu_notifier on the mm and, when told, sends ATS Invalidate Requests for the
mm's PASID and waits for every Invalidate Completion before returning (like
Intel `qi_submit_sync` or an SMMU `CMD_SYNC`). The CPU thread that called the
hook is blocked meanwhile: that wait is what makes "clear, invalidate, set"
an ordering guarantee rather than a hint.

What differs between the policies is *where* that hook runs. Every kernel
path in model.ops reports its call sites to `Notifier` by kind (`Site`), and
the policy decides whether the secondary TLB is invalidated there. The table
(`POLICY_TABLE`) is the whole difference; docs/POLICIES.md explains each entry
with the reference texts.

* `notify-inside-lock` (Linux 4.15 .. 6.5): `*_clear_flush_notify` and the
  explicit `mmu_notifier_invalidate_range()` calls invalidate under the
  page-table lock, the mmu_gather flush invalidates before freeing pages, and
  `invalidate_range_end` invalidates again unless the path used
  `invalidate_range_only_end`.
* `deferred`: the secondary TLB is told only at `invalidate_range_end`
  (`*_clear_flush_notify` degraded to `*_clear_flush`, no explicit calls, no
  invalidation in the mmu_gather flush). This is what mmu_notifier.rst warns
  against for case B and what the 2017 thread says breaks case A.
* `secondary-with-flush` (Linux 6.6+): `arch_invalidate_secondary_tlbs()`
  runs wherever the CPU TLB is flushed (`ptep_clear_flush`, `flush_tlb_range`,
  the mmu_gather flush); `invalidate_range_end` no longer touches it.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Iterator

from .ats import NUM_ITAGS, InvalidateRequest, encode_range, split_range
from .mm import Blocked, Mm

FULL_RANGE = (0, 1 << 64)  # mmu_notifier_range_init(..., 0, -1)


class Event(enum.Enum):
    """enum mmu_notifier_event (Linux 5.2+): why the range is invalidated."""

    UNMAP = "unmap"
    CLEAR = "clear"
    PROTECTION_VMA = "protection_vma"
    PROTECTION_PAGE = "protection_page"
    SOFT_DIRTY = "soft_dirty"
    MIGRATE = "migrate"
    RELEASE = "release"


@dataclass(frozen=True)
class MmuNotifierRange:
    """struct mmu_notifier_range: [start, end) of one mm, and the event."""

    mm: Mm
    start: int
    end: int
    event: Event

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.end <= 1 << 64:
            raise ValueError(f"bad notifier range [{self.start:#x}, {self.end:#x})")

    def describe(self) -> str:
        if (self.start, self.end) == FULL_RANGE:
            return f"all, {self.event.value}"
        return f"[{self.start:#x}, {self.end:#x}) {self.event.value}"


class Policy(str, enum.Enum):
    NOTIFY_INSIDE_LOCK = "notify-inside-lock"
    DEFERRED = "deferred"
    SECONDARY_WITH_FLUSH = "secondary-with-flush"

    @classmethod
    def parse(cls, name: "str | Policy") -> "Policy":
        if isinstance(name, Policy):
            return name
        for p in cls:
            if p.value == name:
                return p
        raise ValueError(f"unknown policy {name!r} (known: {', '.join(p.value for p in cls)})")


POLICIES: tuple[Policy, ...] = tuple(Policy)


class Site(enum.Enum):
    """Kinds of call site where a kernel path may tell the secondary TLB."""

    #: ptep_clear_flush_notify / pmdp_huge_clear_flush_notify under the PT lock
    CLEAR_FLUSH_NOTIFY = "clear_flush_notify"
    #: plain ptep_clear_flush / pmdp_invalidate / pmdp_collapse_flush under the lock
    CLEAR_FLUSH = "clear_flush"
    #: an explicit mmu_notifier_invalidate_range() under the lock (4.15 try_to_unmap_one)
    EXPLICIT = "explicit_invalidate_range"
    #: mmu_gather tlb_flush_mmu_tlbonly(), before gathered pages are freed
    TLB_GATHER = "tlb_gather_flush"
    #: flush_tlb_range()/flush_tlb_mm() after a protection change
    TLB_FLUSH_RANGE = "flush_tlb_range"


#: policy -> sites at which the secondary TLB is invalidated (range_end aside).
POLICY_TABLE: dict[Policy, frozenset[Site]] = {
    Policy.NOTIFY_INSIDE_LOCK: frozenset({Site.CLEAR_FLUSH_NOTIFY, Site.EXPLICIT, Site.TLB_GATHER}),
    Policy.DEFERRED: frozenset(),
    Policy.SECONDARY_WITH_FLUSH: frozenset({Site.CLEAR_FLUSH_NOTIFY, Site.CLEAR_FLUSH, Site.TLB_GATHER,
                                            Site.TLB_FLUSH_RANGE}),
}


def range_end_invalidates(policy: Policy, only_end: bool) -> bool:
    """Does mmu_notifier_invalidate_range_end() reach the secondary TLB?

    4.15..6.5 call ->invalidate_range from range_end unless the caller used
    `invalidate_range_only_end` (because it already notified under the lock).
    Under `deferred` the lock-side notify is gone, so every range_end must
    invalidate. 6.6 removed ->invalidate_range: range_end never does.
    """
    if policy is Policy.SECONDARY_WITH_FLUSH:
        return False
    if policy is Policy.DEFERRED:
        return True
    return not only_end


# --------------------------------------------------------------------------- the device side

class ItagPool:
    """The 32 ATS ITags: one per outstanding Invalidate Request."""

    def __init__(self, n: int = NUM_ITAGS) -> None:
        self.free: list[int] = list(range(n))
        self.outstanding: dict[int, int] = {}  # itag -> request serial
        # Several mms (one SecondaryTlb per PASID) share the device's ITags, so
        # request serials are numbered here, once per device, and the serials
        # completed are kept here too: a completion finds its request whichever
        # binding sent it.
        self.serials = 0
        self.done: set[int] = set()

    def next_serial(self) -> int:
        self.serials += 1
        return self.serials

    def available(self) -> bool:
        return bool(self.free)

    def alloc(self, serial: int) -> int:
        tag = self.free.pop(0)
        self.outstanding[tag] = serial
        return tag

    def complete(self, tag: int) -> int | None:
        """Return the serial the tag belonged to (None for a stray completion)."""
        serial = self.outstanding.pop(tag, None)
        if serial is not None:
            self.free.append(tag)
        return serial


@dataclass
class SecondaryTlb:
    """The IOMMU SVA binding of an mm: invalidates the device TLB for one PASID.

    `invalidate` is a generator so the calling CPU thread can be blocked until
    completions arrive; the scheduler feeds completions with `complete()`.
    """

    device: object  # model.device.Device
    pasid: int
    itags: ItagPool = field(default_factory=ItagPool)  # the device's; shared by every binding of a host
    stray: list[int] = field(default_factory=list)  # completions for no outstanding tag
    requests: int = 0  # Invalidate Requests sent
    calls: int = 0  # hook invocations

    @property
    def done(self) -> set[int]:
        """Serials completed (of every binding sharing the ITags)."""
        return self.itags.done

    def invalidate(self, start: int, end: int) -> Iterator[Blocked]:
        """Send ATS invalidations covering [start, end) and wait for all completions."""
        self.calls += 1
        serials: list[int] = []
        for base, size in split_range(start, end):
            while not self.itags.available():
                yield Blocked("no free ITag", self.itags.available)
            serial = self.itags.next_serial()
            tag = self.itags.alloc(serial)
            addr, s = encode_range(base, size)
            self.device.invalidate(InvalidateRequest(itag=tag, addr=addr, s=s, pasid=self.pasid))
            self.requests += 1
            serials.append(serial)
        pending = set(serials)

        def all_done() -> bool:
            return pending <= self.done

        if not all_done():
            yield Blocked(f"invalidation completions ({len(pending)} request(s))", all_done)

    def complete(self, tag: int) -> None:
        serial = self.itags.complete(tag)
        if serial is None:
            self.stray.append(tag)
        else:
            self.done.add(serial)

    @property
    def outstanding(self) -> int:
        return len(self.itags.outstanding)


class Notifier:
    """The mm's notifier chain (one subscriber: the SVA binding) under a policy.

    Methods are generators that the kernel paths `yield from`; they yield only
    `Blocked` (while waiting for ITags or completions). `log` keeps (site,
    range, invalidated?) so tests can check the policy table was applied.
    """

    def __init__(self, mm: Mm, policy: Policy | str, secondary: SecondaryTlb | None) -> None:
        self.mm = mm
        self.policy = Policy.parse(policy)
        self.secondary = secondary
        self.log: list[tuple[str, int, int, bool]] = []
        self.active: list[MmuNotifierRange] = []  # ranges between start and end

    def make_range(self, start: int, end: int, event: Event) -> MmuNotifierRange:
        return MmuNotifierRange(self.mm, start, end, event)

    def _invalidate(self, start: int, end: int) -> Iterator[Blocked]:
        if self.secondary is not None:
            yield from self.secondary.invalidate(start, end)

    def invalidates_at(self, site: Site) -> bool:
        return site in POLICY_TABLE[self.policy]

    def range_start(self, rng: MmuNotifierRange) -> None:
        """invalidate_range_start: the SVA binding has no start callback
        (intel-svm, arm-smmu-v3-sva register ->invalidate_range / 6.6
        ->arch_invalidate_secondary_tlbs only), so nothing reaches the device."""
        self.active.append(rng)
        self.log.append(("range_start", rng.start, rng.end, False))

    def range_end_reaches_device(self, only_end: bool) -> bool:
        return self.secondary is not None and range_end_invalidates(self.policy, only_end)

    def range_end(self, rng: MmuNotifierRange, *, only_end: bool = False) -> Iterator[Blocked]:
        inv = range_end_invalidates(self.policy, only_end)
        self.log.append(("range_only_end" if only_end else "range_end", rng.start, rng.end, inv))
        if inv:
            yield from self._invalidate(rng.start, rng.end)
        self.active.remove(rng)

    def at_site(self, site: Site, start: int, end: int) -> Iterator[Blocked]:
        """A call site of kind `site` for [start, end): invalidate if the policy says so."""
        inv = self.invalidates_at(site)
        self.log.append((site.value, start, end, inv))
        if inv:
            yield from self._invalidate(start, end)
