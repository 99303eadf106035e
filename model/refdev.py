"""Transaction-level reference device: ATC, page walker, DMA threads, invalidation.

It plays the RTL's role without a simulator, so scenarios and checkers can be
developed and regression-tested in pure Python, and so an RTL run can be
compared with a run whose behaviour is easy to read. It is a discrete-event
model on the one global clock: every memory access (each walker read, each
DMA) happens on `PhysMem` at its own cycle, never earlier, so a host PTE
change made while the device clock stands at `now` is seen by exactly the
reads scheduled at or after `now`.

Pipeline of one command (latencies from `RefConfig`):

    submit @t -> lookup @t+lookup_latency
        misaligned / non-canonical -> fault response
        ATC hit (a write needs a writable entry) -> DMA passes lookup
        miss -> walk (waits for one of num_walks slots); one memory read per
                level, performed walk_latency after it is issued, its data back
                walk_return later; fault -> fault response;
                ok -> fill the ATC, DMA passes lookup
    DMA passes lookup @u -> memory port @u+dma_latency -> response +rsp_latency

The two ATS rules (docs/ARCHITECTURE.md section 5) are modelled as stated:
an invalidation, when applied, drops matching ATC entries, poisons every
walk in flight whose PASID matches and whose 1 GiB region overlaps the range
(the walk's result is neither cached nor used: it is walked again from the
PASID entry), and snapshots the DMAs that have passed lookup but not reached
the memory port; its completion leaves `cpl_latency` after the last of them.
The page-walk cache (PWC) is the RTL walker's (rtl/ptw.sv, docs/ARCHITECTURE.md
section 5): `pwc_entries` non-leaf entries (level 0 the PASID entry, 1 PML4E,
2 PDPTE, 3 PDE), each the next table's address for one PASID and the VA bits
above that level, filled by a walk for every entry it passed whose whole path
so far had RW set, replaced round robin; a walk starts below the deepest hit.
With `set_pwc_keep_supervisor` (the RTL's pwc_keep_sup_i) a non-leaf entry
with US clear is walked through and cached too, with the US of its path, and
US is decided at the leaf (`translate_steps(..., keep_sup=True)`).
Every applied invalidation, whatever its range or PASID, flushes the whole
PWC and marks every walk in flight so that it fills nothing (the RTL's
`pwc_flush_i` and Rocket's `invalidated`). ATS has no separate PWC
invalidation; a device with a PWC must at least drop the entries whose VA span
overlaps the invalidated range, and both devices do more: they drop them all.

ATC fill size: a translation is cached as one entry of its leaf's size, or,
with `set_atc_split_huge` (the RTL's AtcSplitHuge), a 2 MiB / 1 GiB leaf as the
4 KiB entry of the access only.

Accessed and dirty bits are set as the RTL walker sets them
(`translate_steps(..., ad=True)`): an entry that lacks A (or, in the leaf of
a write walk, D) is updated walk_latency after its data came back, by an
atomic compare-and-swap at memory (the RTL's exclusive read/write pair,
performed at one instant here); a changed entry is decided again, bounded by
`ad_retries`. An ATC entry is writable only if its leaf is dirty, so a write
through a clean read translation misses and walks again as a write.

Page requests (PCIe PRI, `enable_pri`), as the RTL's dma.sv: a walk that ends
in NOT_PRESENT or WRITE_PROTECT sends a `PageRequest` (PRG index = thread,
last set; `take_page_requests`) and the command waits for `prg_response`.
Success looks the ATC up again (a new walk); Invalid Request and Response
Failure end the command in PRG_INVALID / PRG_FAILURE; no answer within
`pri_timeout` cycles ends it in PRI_TIMEOUT; a walk that still faults after
`pri_retries` Success answers ends it in LIVELOCK.

Unanswered memory accesses (`no_answer`), as the RTL's AxiTimeout: a walker
read or A/D update, or a DMA access, that memory never answers ends its
command in BUS_TIMEOUT `axi_timeout` cycles later (PA 0). AXI cannot cancel
the access, so its walk slot or thread stays orphaned: a walk given to an
orphaned slot (only when no clean slot is free) and a new command on an
orphaned thread end in BUS_TIMEOUT after `axi_timeout` cycles without
touching memory, and every invalidation that snapshotted the unanswered DMA
keeps waiting for it (rule 2: it may still land), so its completion is
never sent. Here "never answered" is for ever; the RTL drops a response
that comes late and frees the slot or thread again.

Walk forward progress, as the RTL's WalkMaxRetries (docs/ARCHITECTURE.md
section 2): after `walk_max_retries` poisoned walks in a row of one command
its next walk is armed, and while an armed walk is in flight the device
accepts no Invalidate Request: `invalidate()` then queues the request, which
is accepted (traced as InvReq, applied inv_latency later) when the last armed
walk completes. Requests accepted before still apply, so an armed walk they
poison is walked again, still armed. 0 never holds (a walk may starve under
a continuous stream of overlapping invalidations).

Within one cycle events run in this order: invalidations applied, walker
reads, lookups, DMA at the memory port, responses, completions. An
invalidation and a lookup in the same cycle therefore never race.
"""
from __future__ import annotations

import heapq
import random
from dataclasses import dataclass, field
from typing import Callable, Generator

from .ats import PRI_FAULTS, Fault, InvalidateRequest, PageRequest, PrgResponse
from .device import DevCommand, DevResponse, check_command
from .pagetable import AD_RETRIES, RW, SIZE_1G, SIZE_4K, US, AdUpdate, Walk, addr_mask, is_canonical, translate_steps
from .trace import DevAccess, InvCpl, InvReq, MemAccess, Trace


# event priorities inside one cycle
_P_INV, _P_WALK, _P_LOOKUP, _P_DMA, _P_RSP, _P_CPL = range(6)


@dataclass
class RefConfig:
    num_threads: int = 8  # the RTL's NumThreads as the co-simulation builds it (tb.rtldev.COSIM_PARAMS)
    atc_entries: int = 16
    # the RTL's AtcWays / AtcHugeEntries: 0 fully associative; N: 4 KiB entries in
    # atc_entries / N sets of N (set = VPN mod sets), 2 MiB / 1 GiB ones in atc_huge_entries
    atc_ways: int = 0
    atc_huge_entries: int = 4
    pwc_entries: int = 8  # the RTL's PwcEntries (0: no page-walk cache)
    num_walks: int = 2
    pa_bits: int = 48
    lookup_latency: int = 1  # command accepted -> ATC lookup
    walk_latency: int = 6  # walker read issued -> performed at memory (one per level)
    walk_return: int = 2  # performed at memory -> data back at the walker
    dma_latency: int = 8  # DMA passes lookup -> performed at the memory port
    rsp_latency: int = 2  # memory port (or walk done) -> response leaves the device
    fault_latency: int = 1  # fault decided -> response leaves the device
    inv_latency: int = 1  # Invalidate Request accepted -> ATC drop, poison, drain snapshot
    cpl_latency: int = 1  # last drained DMA at the memory port -> Invalidate Completion
    jitter: int = 0  # each memory access takes 0..jitter extra cycles (seeded)
    seed: int = 0
    # (pa, "walk" | "dma") -> True to answer that access with an AXI error
    bus_error: Callable[[int, str], bool] | None = None
    ad_retries: int = AD_RETRIES  # changed entries at A/D update time per walk before Fault.AD_UPDATE
    pri_timeout: int = 4096  # the RTL's PriTimeout: cycles a Page Request may stay unanswered
    pri_retries: int = 4  # the RTL's PriRetries: Page Requests per command at most
    axi_timeout: int = 4096  # the RTL's AxiTimeout: cycles an access may stay unanswered
    # (pa, "walk" | "dma") -> True: memory never answers that access (BUS_TIMEOUT)
    no_answer: Callable[[int, str], bool] | None = None
    walk_max_retries: int = 4  # the RTL's WalkMaxRetries: poisoned walks in a row before the hold (0: never)

    def __post_init__(self) -> None:
        if not 1 <= self.num_threads <= 8:
            raise ValueError("num_threads must be 1..8")
        if self.pwc_entries < 0:
            raise ValueError("pwc_entries must be >= 0")
        if self.atc_entries < 1 or self.num_walks < 1:
            raise ValueError("atc_entries and num_walks must be >= 1")
        if self.atc_ways and (self.atc_entries % self.atc_ways or self.atc_huge_entries < 1):
            raise ValueError("atc_entries must be a multiple of atc_ways, atc_huge_entries >= 1")
        lat = (self.lookup_latency, self.walk_latency, self.walk_return, self.dma_latency, self.rsp_latency,
               self.fault_latency, self.inv_latency, self.cpl_latency, self.jitter)
        if min(lat) < 0:
            raise ValueError("latencies must be >= 0")
        if self.axi_timeout < 1:
            raise ValueError("axi_timeout must be >= 1")
        if self.walk_max_retries < 0:
            raise ValueError("walk_max_retries must be >= 0")
        if self.lookup_latency > self.inv_latency:
            # A command issued before an Invalidate Request must look up the ATC
            # before the request is applied; the protocol checker relies on it
            # (an ATC hit counts as translated at issue).
            raise ValueError("lookup_latency must not exceed inv_latency")


@dataclass
class AtcEntry:
    pasid: int
    vbase: int
    size: int
    pbase: int
    writable: bool
    used: int = 0  # LRU stamp


#: VA[47:21] tag bits that an entry of each PWC level compares (ats_pkg::pwc_lvl_mask)
PWC_TAG_MASK = {0: 0, 1: 0x7FC0000, 2: 0x7FFFE00, 3: 0x7FFFFFF}


def pwc_tag(va: int) -> int:
    return (va >> 21) & 0x7FFFFFF


@dataclass
class PwcEntry:
    level: int  # 0 PASID entry, 1 PML4E, 2 PDPTE, 3 PDE
    pasid: int
    tag: int  # VA[47:21]
    base: int  # PA of the next-level table
    user: bool = True  # US set on every entry of the path down to this one

    def matches(self, pasid: int, va: int) -> bool:
        return self.pasid == pasid and not (self.tag ^ pwc_tag(va)) & PWC_TAG_MASK[self.level]


@dataclass
class _Cmd:
    cmd: DevCommand
    issue: int
    uid: int
    atc_hit: bool = False
    pa: int = 0
    walks: int = 0  # walks started (re-walks after poison count)
    raced: int = 0  # poisoned walks in a row
    page_requests: int = 0  # Page Requests sent for this command
    pri_wait: int = 0  # serial of the Page Request it waits for (0: none)


@dataclass
class _WalkCtx:
    c: _Cmd
    slot: int
    gen: Generator[int, int, Walk] | None = None
    poisoned: bool = False
    next_pa: int = 0
    level: int = 0  # level of the entry being read (0 the PASID entry)
    wrbl: bool = True  # RW on every entry of the path so far
    user: bool = True  # US on every entry of the path so far (False only in keep-supervisor mode)
    pwc_inval: bool = False  # an invalidation flushed the PWC during this walk: fill nothing
    armed: bool = False  # runs under the invalidation hold (walk_max_retries poisoned walks before it)


@dataclass
class _Inv:
    req: InvalidateRequest
    accepted: int
    applied: bool = False
    waiting: set[int] = field(default_factory=set)  # uids of DMAs that must reach memory first
    done: bool = False


class RefDevice:
    """Implements the `model.device.Device` protocol."""

    def __init__(self, mem, pasid_tbl_base: int, trace: Trace | None = None,
                 config: RefConfig | None = None) -> None:
        self.mem = mem
        self.pasid_tbl_base = pasid_tbl_base
        self.trace = trace if trace is not None else Trace()
        self.cfg = config or RefConfig()
        self.now: int = 0
        self._rng = random.Random(self.cfg.seed)
        self._heap: list[tuple[int, int, int, Callable, tuple]] = []
        self._seq = 0
        self._uid = 0
        self._busy: list[_Cmd | None] = [None] * self.cfg.num_threads
        self._responses: list[DevResponse] = []
        self._completions: list[int] = []
        self.atc: list[AtcEntry] = []
        self._lru = 0
        self.pwc: list[PwcEntry] = []
        self._pwc_ptr = 0
        self._walk_slots: list[_WalkCtx | None] = [None] * self.cfg.num_walks
        self._walk_queue: list[_Cmd] = []
        self._dma_pending: set[int] = set()  # uid of DMAs past lookup, not yet at memory
        self._orphan_slots: set[int] = set()  # walk slots whose last access memory never answered
        self._orphan_threads: set[int] = set()  # threads whose last DMA memory never answered
        self._invs: list[_Inv] = []
        self._armed = 0  # armed walks in flight: Invalidate Requests are held while > 0
        self._held_invs: list[InvalidateRequest] = []
        self.stats: dict[str, int] = {
            "hits": 0, "misses": 0, "walks": 0, "rewalks": 0, "walk_reads": 0,
            "evictions": 0, "dropped": 0, "faults": 0, "invalidations": 0, "ad_updates": 0,
            "pwc_hits": 0, "pwc_fills": 0, "page_requests": 0, "holds": 0, "held_invalidations": 0,
        }
        self.pri = False
        self.atc_wp_fault = False
        self.atc_split_huge = False
        self.pwc_keep_sup = False
        self._page_requests: list[PageRequest] = []
        self._pri_serial = 0

    # -- Page Request Interface ----------------------------------------------
    def enable_pri(self, on: bool = True) -> None:
        """Send Page Requests on translation faults (the RTL's pri_en_i)."""
        self.pri = on

    def set_atc_write_fault(self, on: bool) -> None:
        """A write hitting a read-only ATC entry faults WRITE_PROTECT from the
        cached entry (a Page Request under PRI) instead of walking again: the
        RTL's atc_wp_fault_i. An SMMU-like device; ATS allows either."""
        self.atc_wp_fault = on

    def set_atc_split_huge(self, on: bool) -> None:
        """Cache a 2 MiB / 1 GiB translation as the 4 KiB entry holding the
        access (PA = huge frame + the page's offset) instead of one entry of the
        leaf's size: an ATC that stores only 4 KiB pages. An invalidation of one
        4 KiB page of a huge page then leaves the entries of its other pages.
        The RTL's AtcSplitHuge parameter (scenario `atc-huge split`)."""
        self.atc_split_huge = on
    def set_pwc_keep_supervisor(self, on: bool) -> None:
        """Keep non-leaf entries with US clear in the PWC and decide US at the
        leaf (the RTL's pwc_keep_sup_i), as an IOMMU paging-structure cache may;
        off (the default) a walk faults SUPERVISOR at the first such entry."""
        self.pwc_keep_sup = on

    def take_page_requests(self) -> list[PageRequest]:
        out, self._page_requests = self._page_requests, []
        return out

    def prg_response(self, prg_index: int, code: int) -> None:
        """A PRG Response arrives now; one naming no waiting request is ignored (as the RTL does)."""
        c = self._busy[prg_index] if 0 <= prg_index < len(self._busy) else None
        if c is None or not c.pri_wait:
            return
        c.pri_wait = 0
        # drop its timeout event, so an answered request does not keep the device busy
        self._heap = [e for e in self._heap if not (e[3] == self._pri_timeout and e[4][0] is c)]
        heapq.heapify(self._heap)
        if code == PrgResponse.SUCCESS:
            self._at(self.now + self.cfg.lookup_latency, _P_LOOKUP, self._lookup, c)
        else:
            self._fault(c, Fault.PRG_INVALID if code == PrgResponse.INVALID else Fault.PRG_FAILURE)

    def _page_request(self, c: _Cmd) -> None:
        cmd = c.cmd
        c.page_requests += 1
        self._pri_serial += 1
        c.pri_wait = self._pri_serial
        self.stats["page_requests"] += 1
        self._page_requests.append(PageRequest(pasid=cmd.pasid, va=cmd.va & ~0xFFF, r=not cmd.write,
                                               w=cmd.write, prg_index=cmd.thread, last=True))
        self._at(self.now + self.cfg.pri_timeout, _P_RSP, self._pri_timeout, c, c.pri_wait)

    def _pri_timeout(self, c: _Cmd, serial: int) -> None:
        if c.pri_wait == serial:
            c.pri_wait = 0
            self._fault(c, Fault.PRI_TIMEOUT)

    # -- event queue -------------------------------------------------------
    def _at(self, t: int, prio: int, fn: Callable, *args) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (t, prio, self._seq, fn, args))

    def _mem_lat(self, base: int) -> int:
        return base + (self._rng.randint(0, self.cfg.jitter) if self.cfg.jitter else 0)

    # -- Device protocol ---------------------------------------------------
    def thread_idle(self, thread: int) -> bool:
        return self._busy[thread] is None

    def submit(self, cmd: DevCommand) -> None:
        check_command(cmd, self._busy)
        self._uid += 1
        c = _Cmd(cmd, self.now, self._uid)
        self._busy[cmd.thread] = c
        self._at(self.now + self.cfg.lookup_latency, _P_LOOKUP, self._lookup, c)

    def invalidate(self, req: InvalidateRequest) -> None:
        if self._armed:
            # an armed walk is in flight: the request waits to be accepted
            self._held_invs.append(req)
            self.stats["held_invalidations"] += 1
            return
        self._accept_inv(req)

    def _accept_inv(self, req: InvalidateRequest) -> None:
        inv = _Inv(req, self.now)
        self._invs.append(inv)
        start, size = req.range
        self.trace.add(InvReq(time=self.now, itag=req.itag,
                              pasid=None if req.all_pasids else req.pasid, start=start, size=size))
        self.stats["invalidations"] += 1
        self._at(self.now + self.cfg.inv_latency, _P_INV, self._inv_apply, inv)

    async def run(self, cycles: int) -> None:
        if cycles < 0:
            raise ValueError("cycles must be >= 0")
        end = self.now + cycles
        heap = self._heap
        while heap and heap[0][0] < end:
            t, _, _, fn, args = heapq.heappop(heap)
            self.now = t
            fn(*args)
        self.now = end

    def take_responses(self) -> list[DevResponse]:
        out, self._responses = self._responses, []
        return out

    def take_completions(self) -> list[int]:
        out, self._completions = self._completions, []
        return out

    # -- additive helpers ----------------------------------------------------
    @property
    def idle(self) -> bool:
        """Nothing in flight: no command, walk, DMA or invalidation outstanding."""
        return not self._heap and all(b is None for b in self._busy)

    def next_event_time(self) -> int | None:
        """Cycle of the next internal event (lets a scheduler skip dead time)."""
        return self._heap[0][0] if self._heap else None

    async def run_until_idle(self, limit: int = 1_000_000) -> None:
        """Advance until idle (then one more cycle so `now` is past the last event)."""
        stop = self.now + limit
        while not self.idle:
            nxt = self.next_event_time()
            if nxt is None or nxt >= stop:
                raise RuntimeError("device did not go idle within the cycle limit")
            await self.run(nxt + 1 - self.now)

    # -- ATC ---------------------------------------------------------------
    def _atc_find(self, pasid: int, va: int) -> AtcEntry | None:
        for e in self.atc:
            if e.pasid == pasid and e.vbase <= va < e.vbase + e.size:
                return e
        return None

    def _atc_fill(self, pasid: int, va: int, w: Walk) -> None:
        # split mode: a huge leaf is cached as the 4 KiB page of the access (the RTL's AtcSplitHuge)
        size = SIZE_4K if self.atc_split_huge else w.page_size
        vbase = va & ~(size - 1)
        pbase = w.pa & ~(size - 1)
        # One translation per address: a fill replaces anything it overlaps.
        self.atc = [e for e in self.atc
                    if not (e.pasid == pasid and e.vbase < vbase + size and vbase < e.vbase + e.size)]
        group, cap = self.atc, self.cfg.atc_entries
        if self.cfg.atc_ways:  # the victim comes from the fill's set, or from the huge entries
            sets = self.cfg.atc_entries // self.cfg.atc_ways
            if size == SIZE_4K:
                group = [e for e in self.atc if e.size == SIZE_4K and (e.vbase >> 12) % sets == (vbase >> 12) % sets]
                cap = self.cfg.atc_ways
            else:
                group, cap = [e for e in self.atc if e.size != SIZE_4K], self.cfg.atc_huge_entries
        if len(group) >= cap:
            victim = min(group, key=lambda e: e.used)
            self.atc.remove(victim)
            self.stats["evictions"] += 1
        self._lru += 1
        # a write may use the entry only if the leaf is dirty (x86: the TLB caches D)
        self.atc.append(AtcEntry(pasid, vbase, size, pbase, w.writable and w.dirty, self._lru))

    # -- page-walk cache -----------------------------------------------------
    def _pwc_lookup(self, pasid: int, va: int) -> PwcEntry | None:
        """The deepest entry for (pasid, va), or None."""
        best = None
        for e in self.pwc:
            if e.matches(pasid, va) and (best is None or e.level > best.level):
                best = e
        return best

    def _pwc_fill(self, level: int, pasid: int, va: int, base: int, user: bool = True) -> None:
        if self.cfg.pwc_entries == 0:
            return
        tag = pwc_tag(va)
        if any(e.level == level and e.matches(pasid, va) for e in self.pwc):
            return  # already present (the RTL skips a duplicate)
        entry = PwcEntry(level, pasid, tag, base, user)
        if len(self.pwc) < self.cfg.pwc_entries:
            self.pwc.append(entry)
        else:
            self.pwc[self._pwc_ptr] = entry
        self._pwc_ptr = (self._pwc_ptr + 1) % self.cfg.pwc_entries
        self.stats["pwc_fills"] += 1

    # -- command pipeline ----------------------------------------------------
    def _lookup(self, c: _Cmd) -> None:
        cmd = c.cmd
        if cmd.va & 7:
            self._fault(c, Fault.MISALIGNED)
            return
        if not is_canonical(cmd.va):
            self._fault(c, Fault.NONCANONICAL)
            return
        if cmd.thread in self._orphan_threads:
            # the thread's last DMA was never answered: its AXI ID is not free
            self._at(self.now + self.cfg.axi_timeout, _P_RSP, self._fault, c, Fault.BUS_TIMEOUT)
            return
        e = self._atc_find(cmd.pasid, cmd.va)
        if e is not None and (e.writable or not cmd.write):
            self._lru += 1
            e.used = self._lru
            self.stats["hits"] += 1
            c.atc_hit = True
            self._dma_pass(c, e.pbase + (cmd.va - e.vbase))
            return
        if e is not None and self.atc_wp_fault:  # a write on a cached read-only entry
            self.stats["hits"] += 1
            self._translation_fault(c, Fault.WRITE_PROTECT)
            return
        self.stats["misses"] += 1
        self._walk_queue.append(c)
        self._walk_dispatch()

    def _walk_dispatch(self) -> None:
        # a clean free slot first; an orphaned one only when no clean slot is free
        order = sorted(range(len(self._walk_slots)), key=lambda s: s in self._orphan_slots)
        for slot in order:
            if not self._walk_queue:
                return
            if self._walk_slots[slot] is None:
                ctx = _WalkCtx(self._walk_queue.pop(0), slot)
                self._walk_slots[slot] = ctx
                if slot in self._orphan_slots:
                    # its AXI ID still waits for an answer: nothing can be issued
                    self._at(self.now + self.cfg.axi_timeout, _P_WALK, self._walk_timeout, ctx, False)
                else:
                    self._walk_start(ctx)

    def _walk_timeout(self, ctx: _WalkCtx, issued: bool) -> None:
        """The walk's access was never answered (`issued`), or its slot never became free."""
        if ctx.gen is not None:
            ctx.gen.close()
        if issued:
            self._orphan_slots.add(ctx.slot)
        self._walk_done(ctx, Walk(Fault.BUS_TIMEOUT, 0, 0, False, -1, []))

    def _arm(self, ctx: _WalkCtx, on: bool) -> None:
        """Raise (on) or release the invalidation hold of an armed walk."""
        if on == ctx.armed:
            return
        ctx.armed = on
        if on:
            self._armed += 1
            self.stats["holds"] += 1
            return
        self._armed -= 1
        if not self._armed:
            held, self._held_invs = self._held_invs, []
            for req in held:
                self._accept_inv(req)

    def _walk_start(self, ctx: _WalkCtx) -> None:
        cmd = ctx.c.cmd
        ctx.c.walks += 1
        if self.cfg.walk_max_retries and ctx.c.raced >= self.cfg.walk_max_retries:
            self._arm(ctx, True)
        ctx.poisoned = False
        ctx.pwc_inval = False
        ctx.wrbl = True
        self.stats["walks"] += 1
        hit = self._pwc_lookup(cmd.pasid, cmd.va) if is_canonical(cmd.va) else None
        ctx.level = 0 if hit is None else hit.level + 1
        ctx.user = True if hit is None else hit.user
        if hit is not None:
            self.stats["pwc_hits"] += 1
        ctx.gen = translate_steps(self.pasid_tbl_base, cmd.pasid, cmd.va, cmd.write, self.cfg.pa_bits,
                                  ad=True, ad_retries=self.cfg.ad_retries,
                                  pwc_hit=None if hit is None else (hit.level, hit.base, hit.user),
                                  keep_sup=self.pwc_keep_sup)
        try:
            ctx.next_pa = next(ctx.gen)
        except StopIteration as stop:  # decided without a read (non-canonical)
            self._walk_done(ctx, stop.value)
            return
        self._at(self.now + self._mem_lat(self.cfg.walk_latency), _P_WALK, self._walk_read, ctx)

    def _walk_read(self, ctx: _WalkCtx) -> None:
        """The read is performed at memory now; its data reaches the walker later."""
        req = ctx.next_pa
        if isinstance(req, AdUpdate):
            self._walk_ad(ctx, req)
            return
        pa = req
        self.stats["walk_reads"] += 1
        if self.cfg.no_answer is not None and self.cfg.no_answer(pa, "walk"):
            self._at(self.now + self.cfg.axi_timeout, _P_WALK, self._walk_timeout, ctx, True)
            return
        if self.cfg.bus_error is not None and self.cfg.bus_error(pa, "walk"):
            self.trace.add(MemAccess(self.now, "walk", pa, False, 0, tag=ctx.slot, error=True))
            self._at(self.now + self.cfg.walk_return, _P_WALK, self._walk_data, ctx, None)
            return
        value = self.mem.read64(pa)
        self.trace.add(MemAccess(self.now, "walk", pa, False, value, tag=ctx.slot))
        self._at(self.now + self.cfg.walk_return, _P_WALK, self._walk_data, ctx, value)

    def _walk_ad(self, ctx: _WalkCtx, req: AdUpdate) -> None:
        """The A/D update is performed at memory now: set the bits if the entry is unchanged."""
        if self.cfg.no_answer is not None and self.cfg.no_answer(req.pa, "walk"):
            self._at(self.now + self.cfg.axi_timeout, _P_WALK, self._walk_timeout, ctx, True)
            return
        if self.cfg.bus_error is not None and self.cfg.bus_error(req.pa, "walk"):
            self.trace.add(MemAccess(self.now, "walk", req.pa, True, req.new, tag=ctx.slot, error=True))
            self._at(self.now + self.cfg.walk_return, _P_WALK, self._walk_data, ctx, None)
            return
        now = self.mem.read64(req.pa)
        if now == req.old:
            self.mem.write64(req.pa, req.new)
            self.trace.add(MemAccess(self.now, "walk", req.pa, True, req.new, tag=ctx.slot))
        self.stats["ad_updates"] += now == req.old
        self._at(self.now + self.cfg.walk_return, _P_WALK, self._walk_data, ctx, now)

    def _walk_data(self, ctx: _WalkCtx, value: int | None) -> None:
        assert ctx.gen is not None
        if value is None:  # AXI error response
            ctx.gen.close()
            self._walk_done(ctx, Walk(Fault.BUS_WALK, 0, 0, False, -1, []))
            return
        try:
            ctx.next_pa = ctx.gen.send(value)
        except StopIteration as stop:
            self._walk_done(ctx, stop.value)
            return
        if isinstance(ctx.next_pa, AdUpdate):  # the same entry's A/D update comes first
            self._at(self.now + self._mem_lat(self.cfg.walk_latency), _P_WALK, self._walk_read, ctx)
            return
        # the entry passed every check and points at the next table
        if ctx.level > 0:
            ctx.wrbl = ctx.wrbl and bool(value & RW)
            ctx.user = ctx.user and bool(value & US)  # clears only in keep-supervisor mode
        if not ctx.pwc_inval and ctx.wrbl:
            self._pwc_fill(ctx.level, ctx.c.cmd.pasid, ctx.c.cmd.va, value & addr_mask(SIZE_4K, self.cfg.pa_bits),
                           ctx.user)
        ctx.level += 1
        self._at(self.now + self._mem_lat(self.cfg.walk_latency), _P_WALK, self._walk_read, ctx)

    def _walk_done(self, ctx: _WalkCtx, w: Walk) -> None:
        if ctx.poisoned:
            # Rule 1: a walk that overlapped an invalidation is neither cached
            # nor used; the request is translated again from the PASID entry.
            self.stats["rewalks"] += 1
            ctx.c.raced += 1
            if ctx.slot in self._orphan_slots:
                self._arm(ctx, False)  # the walk that takes the request over arms again
                # that slot cannot issue: the request queues for another one
                self._walk_slots[ctx.slot] = None
                self._walk_queue.insert(0, ctx.c)
                self._walk_dispatch()
            else:
                self._walk_start(ctx)
            return
        self._arm(ctx, False)
        self._walk_slots[ctx.slot] = None
        c = ctx.c
        if w.fault != Fault.NONE:
            self._translation_fault(c, w.fault)
        else:
            self._atc_fill(c.cmd.pasid, c.cmd.va, w)
            self._dma_pass(c, w.pa)
        self._walk_dispatch()

    def _translation_fault(self, c: _Cmd, cause: Fault) -> None:
        """A walk's (or a read-only ATC entry's) fault: a Page Request under PRI, bounded by pri_retries."""
        if self.pri and cause in PRI_FAULTS:
            if c.page_requests >= self.cfg.pri_retries:
                self._fault(c, Fault.LIVELOCK)
            else:
                self._page_request(c)
        else:
            self._fault(c, cause)

    def _fault(self, c: _Cmd, cause: Fault) -> None:
        self.stats["faults"] += 1
        self._at(self.now + self.cfg.fault_latency, _P_RSP, self._respond, c, int(cause), 0, None)

    def _dma_pass(self, c: _Cmd, pa: int) -> None:
        c.pa = pa
        self._dma_pending.add(c.uid)
        self._at(self.now + self._mem_lat(self.cfg.dma_latency), _P_DMA, self._dma_mem, c)

    def _dma_mem(self, c: _Cmd) -> None:
        cmd = c.cmd
        if self.cfg.no_answer is not None and self.cfg.no_answer(c.pa, "dma"):
            # never answered: the access may still land, so it stays pending for
            # every drain that snapshotted it, and the thread is orphaned
            self._orphan_threads.add(cmd.thread)
            self._at(self.now + self.cfg.axi_timeout, _P_RSP, self._fault, c, Fault.BUS_TIMEOUT)
            return
        self._dma_pending.discard(c.uid)
        if self.cfg.bus_error is not None and self.cfg.bus_error(c.pa, "dma"):
            self.trace.add(MemAccess(self.now, "dma", c.pa, cmd.write, 0, tag=cmd.thread, error=True))
            self._at(self.now + self.cfg.rsp_latency, _P_RSP, self._respond, c, int(Fault.BUS_DATA), 0, self.now)
        else:
            if cmd.write:
                self.mem.write64(c.pa, cmd.wdata)
                value, rdata = cmd.wdata, 0
            else:
                value = rdata = self.mem.read64(c.pa)
            self.trace.add(MemAccess(self.now, "dma", c.pa, cmd.write, value, tag=cmd.thread))
            self._at(self.now + self.cfg.rsp_latency, _P_RSP, self._respond, c, 0, rdata, self.now)
        self._inv_progress(c.uid)

    def _respond(self, c: _Cmd, fault: int, rdata: int, mem_time: int | None) -> None:
        cmd = c.cmd
        # A translation fault reports PA 0; a bus error on the data access keeps the PA.
        pa = c.pa if fault in (0, Fault.BUS_DATA) else 0
        rsp = DevResponse(thread=cmd.thread, fault=fault, rdata=rdata, pa=pa, atc_hit=c.atc_hit,
                          issue=c.issue, complete=self.now, mem_time=mem_time)
        self.trace.add(DevAccess(thread=cmd.thread, write=cmd.write, pasid=cmd.pasid, va=cmd.va, pa=pa,
                                 value=cmd.wdata if cmd.write else rdata, issue=c.issue,
                                 complete=self.now, fault=fault, atc_hit=c.atc_hit, mem_time=mem_time))
        self._responses.append(rsp)
        self._busy[cmd.thread] = None

    # -- invalidation --------------------------------------------------------
    def _inv_apply(self, inv: _Inv) -> None:
        req = inv.req
        keep = [e for e in self.atc if not req.matches(e.pasid, e.vbase, e.size)]
        self.stats["dropped"] += len(self.atc) - len(keep)
        self.atc = keep
        for ctx in self._walk_slots:
            if ctx is not None and req.matches(ctx.c.cmd.pasid, ctx.c.cmd.va & ~(SIZE_1G - 1), SIZE_1G):
                ctx.poisoned = True
        # The whole PWC goes, whatever the range: a superset of the entries whose
        # VA span overlaps it (the least a device with a PWC must drop).
        self.pwc.clear()
        for ctx in self._walk_slots:
            if ctx is not None:
                ctx.pwc_inval = True
        # Rule 2: wait for every DMA that already passed lookup (it may hold a
        # translation this request removes) to reach the memory port.
        inv.waiting = set(self._dma_pending)
        inv.applied = True
        self._inv_check(inv)

    def _inv_progress(self, dma_id: int) -> None:
        for inv in self._invs:
            if inv.applied and not inv.done and dma_id in inv.waiting:
                inv.waiting.discard(dma_id)
                self._inv_check(inv)

    def _inv_check(self, inv: _Inv) -> None:
        if inv.applied and not inv.waiting and not inv.done:
            inv.done = True
            self._at(self.now + self.cfg.cpl_latency, _P_CPL, self._inv_complete, inv)

    def _inv_complete(self, inv: _Inv) -> None:
        self._invs.remove(inv)
        self._completions.append(inv.req.itag)
        self.trace.add(InvCpl(time=self.now, itag=inv.req.itag))
