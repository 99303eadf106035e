"""Use-after-free: device accesses to frames that are not theirs.

Semantics: docs/INTENT.md, "Checkers: Use-after-free".

The doc's case A: if the page behind a mapping is freed before the secondary
TLB is invalidated, the device can read or write a page that "might now be used
by some completely different task". Two shapes are reported:

* free: any device access (DMA or page walk, `MemAccess`, and `DevAccess` by
  its memory time) to a frame that is free at that instant (`FrameEvent`
  history; see `common.FrameHistory` for ties and for frames seen only
  partially).
* reassigned: a device data access whose PA is no longer what its VA maps to
  (`PteChange` history), where the frame was freed after that mapping was
  removed and before the access, even if it has been allocated again since
  (then it belongs to someone else). A walker read from a frame now allocated
  as data (owner in `DATA_OWNERS`) is the page-table flavour of the same bug: a
  freed page-table page reused for data while the walker still follows it.
  Same-cycle ties are lenient here too: a walk in the cycle of its frame's
  events is judged only if the frame was free or held data at every point of
  that cycle. A walk read of a free frame that was last a page table says so:
  the walker started from a page-walk-cache entry (or a table pointer) that
  points into a freed page-table page.
* another's: the same stale access where the frame was never freed but has
  been handed to another address as its writable page after the access's
  own mapping was removed (a `PteChange` of that address to the frame with
  write permission, at or after the removal and strictly before the access;
  the address maps the frame at every point of the access's cycle). That is
  another mm after a fork whose COW left it the frame's only mapping and
  which then reused it in place. Judged by the frame, not by the address:
  the device read or wrote a private page of someone else, which the (pasid,
  va) view of the other checkers can only call an unknown value. Until the
  frame is handed over writable it still holds what the stale translation
  mapped (a zap or COW of one side of a fork leaves the frame read-only to
  the other): a late use then is the ordinary invalidation delay, as for a
  frame not yet freed. Page-cache and KSM pages are shared by design and are
  not judged this way.

A `DevAccess` and the DMA `MemAccess` of the same access (same cycle and PA)
are reported once, with both events.
"""
from __future__ import annotations

from typing import Iterable

from model.trace import DevAccess, FrameEvent, MemAccess, PteChange, Trace

from .common import PAGE, UNKNOWN, TraceView, as_view, fmt_addr, fmt_event
from .verdict import Verdict, limit

# Owners that never hold page-table entries: a walk reading one is a UAF.
DATA_OWNERS = frozenset({"anon", "ksm", "zero", "file"})


def _free_msg(what: str, pfn: int, t: int, ev: FrameEvent | None) -> str:
    since = f" since {fmt_event(ev)}" if ev is not None else " (allocated only later)"
    return f"[use-after-free] {what} at t={t} touched frame pfn {pfn:#x}, which was free{since}"


def _mapped_pages(view: TraceView) -> dict[int, list[tuple[int, int]]]:
    """Physical 4 KiB page -> every address (pasid, 4 KiB va) a `PteChange` ever
    mapped to it or from it, in trace order."""
    out: dict[int, list[tuple[int, int]]] = {}
    for _, c in view.of(PteChange):
        for pa in {c.old_pa, c.new_pa} - {None}:
            base = pa & ~(PAGE - 1)
            for off in range(0, c.size, PAGE):
                lst = out.setdefault(base + off, [])
                a = (c.pasid, (c.va + off) & ~(PAGE - 1))
                if a not in lst:
                    lst.append(a)
    return out


def _other_mapping(index: dict[int, list[tuple[int, int]]], hist, page: int, own: tuple[int, int],
                   since: int, t: int) -> tuple[tuple[int, int], PteChange] | None:
    """Another address (pasid, 4 KiB va) than `own` that maps physical page `page` at
    every point of instant t, by a writable mapping set at `since` <= time < t; with
    that change. None if there is none."""
    for a in index.get(page, ()):
        if a == own:
            continue
        pages = hist.possible_pages(a[0], a[1], t)
        if pages is UNKNOWN or pages != {page}:
            continue
        for c in hist.covering(a[0], a[1]):
            if (since <= c.time < t and c.writable and c.new_pa is not None
                    and hist.page_of(c.new_pa, c, a[1]) == page):
                return a, c
    return None


def check_uaf(trace: Trace | Iterable | TraceView, *, max_reports: int | None = 50) -> list[Verdict]:
    """Verdicts for rule use-after-free."""
    view = as_view(trace)
    frames = view.frames
    hist = view.mappings
    bad: list[Verdict] = []
    n = 0

    dma_by_key: dict[tuple[int, int], list[MemAccess]] = {}
    for _, e in view.of(MemAccess):
        if e.source == "dma":
            dma_by_key.setdefault((e.time, e.pa), []).append(e)
    claimed: set[int] = set()  # id() of MemAccess events reported with their DevAccess
    index: dict[int, list[tuple[int, int]]] | None = None  # page -> addresses (built when first needed)

    def what_dev(d: DevAccess) -> str:
        kind = "write" if d.write else "read"
        return f"device {kind} of {fmt_addr((d.pasid, d.va))} (dev-thread {d.thread}) at pa {d.pa:#x}"

    for _, d in view.of(DevAccess):
        if d.mem_time is None:
            continue
        n += 1
        t, pfn = d.mem_time, d.pa // PAGE
        mem = dma_by_key.get((t, d.pa), ())
        for m in mem:
            claimed.add(id(m))
        st = frames.state_at(pfn, t)
        if st is not None and st[0] == "free":
            evs: list = [d, *mem]
            if st[1] is not None:
                evs.append(st[1])
            bad.append(Verdict("use-after-free", False, _free_msg(what_dev(d), pfn, t, st[1]), evs))
            continue
        pages = hist.possible_pages(d.pasid, d.va, t)
        page = d.pa & ~(PAGE - 1)
        if pages is UNKNOWN or page in pages:
            continue
        removals = [c for c in hist.covering(d.pasid, d.va)
                    if c.time < t and hist.page_of(c.old_pa, c, d.va) == page]
        if not removals:
            continue
        r = removals[-1]
        frees = frames.frees_between(pfn, r.time, t)
        if not frees:
            if index is None:
                index = _mapped_pages(view)
            other = _other_mapping(index, hist, page, (d.pasid, d.va & ~(PAGE - 1)), r.time, t)
            if other is not None and st is not None and st[1] is not None and st[1].owner == "anon":
                c = other[1]
                bad.append(Verdict(
                    "use-after-free", False,
                    f"[use-after-free] {what_dev(d)} at t={t} used a translation removed by {fmt_event(r)}; "
                    f"frame pfn {pfn:#x} was not freed but has since been handed to {fmt_addr(other[0])} as "
                    f"its writable page ({fmt_event(c)}): the device touched another mapping's private page",
                    [d, *mem, r, c]))
            continue
        f = frees[0]
        evs = [d, *mem]
        now = ""
        if st is not None and st[1] is not None:
            now = f"; it has since been reallocated ({fmt_event(st[1])})"
            evs.append(st[1])
        bad.append(Verdict(
            "use-after-free", False,
            f"[use-after-free] {what_dev(d)} at t={t} used a translation removed by {fmt_event(r)}; "
            f"frame pfn {pfn:#x} was then freed ({fmt_event(f)}) before the access{now}",
            evs + [r, f]))

    for _, m in view.of(MemAccess):
        if id(m) in claimed:
            continue
        n += 1
        pfn = m.pa // PAGE
        st = frames.state_at(pfn, m.time)
        if st is None:
            continue
        if m.source == "walk" and st[0] != "free":
            # a walk into data: at no point of its cycle did the frame hold anything else
            # (same-cycle ties are lenient, as everywhere)
            pts = frames.points_in_cycle(pfn, m.time)
            data = [e for kind, e in pts if kind == "alloc" and e is not None and e.owner in DATA_OWNERS]
            if len(data) == sum(kind == "alloc" for kind, _ in pts):
                st = ("alloc", data[-1])
            else:
                continue
        if st[0] == "free" or (m.source == "walk" and st[1] is not None and st[1].owner in DATA_OWNERS):
            who = "page walk" if m.source == "walk" else "DMA"
            kind = "write" if m.write else "read"
            what = f"{who} {kind} (tag {m.tag}) of pa {m.pa:#x}"
            if st[0] == "free":
                evs = [m] + ([st[1]] if st[1] is not None else [])
                msg = _free_msg(what, pfn, m.time, st[1])
                if m.source == "walk" and st[1] is not None and st[1].owner == "pagetable":
                    msg += ": the walker followed a freed page-table page (a stale page-walk-cache entry)"
                bad.append(Verdict("use-after-free", False, msg, evs))
            else:
                bad.append(Verdict(
                    "use-after-free", False,
                    f"[use-after-free] {what} at t={m.time} read a page-table entry from frame pfn "
                    f"{pfn:#x}, which now holds {st[1].owner} data ({fmt_event(st[1])}): the walker "
                    f"followed a freed page-table page", [m, st[1]]))

    if bad:
        bad.sort(key=lambda v: (v.time if v.time is not None else -1))
        return limit(bad, "use-after-free", max_reports)
    return [Verdict.passed("use-after-free", f"{n} device/memory-port access(es) hit frames that were theirs",
                           accesses=n)]
