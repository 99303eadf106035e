"""Lost dirty state (docs/INTENT.md, "Checkers: Lost dirty state"), rule `lost-dirty`.

The kernel decides what to keep, write back or report from a page's dirty
bits: reclaim discards a MADV_FREE page whose PTE is clean, writeback
(`page_mkclean`) cleans and write-protects a page and writes it only while it
is dirty, and soft-dirty tracking (`clear_refs`) reports only pages whose
soft-dirty bit was set again since it was cleared. A write must therefore set
the bit (through a walk that sets D, or a write fault) once the kernel has
cleared it. A device that keeps a writable translation across the clean
judgement writes without walking: the page changes, the bit stays clear, and
the kernel trusts the bit.

Evidence: `trace.PageClean` events (the kernel read the bit, then cleared it
or dropped the page) and committed device writes (`DevAccess`, by memory
time and physical page). For each device write to a page after a clean
judgement of that page (strictly later memory time: a write in the same
cycle may have preceded the judgement):

* the judgement discarded the page (`discard`: a clean MADV_FREE page freed
  by reclaim): the write landed in a page whose content was already thrown
  away -- lost;
* the next judgement of the page (strictly after the write) read the bit
  clear (`was_set` false): the kernel judged clean a page the device had
  written -- the write is lost to writeback, reclaim or soft-dirty tracking.
  A discarding judgement reads the bit clear by definition.

Judgements and writes are matched by address and page: the write's
(pasid, va) must lie in the judged page and its physical address in the
judged frame, and the mapping must hold in between: a change of that
address's PTE to another page, or a removal (other than the discard itself),
between the judgement and the write, or between the write and the next
judgement, ends what the judgement says (a COW, a zap and refault, a frame
reused elsewhere). A write with no later judgement is not judged (what the kernel will decide
is unknown); a scenario that wants the verdict ends with the consumer
(reclaim, a second writeback, a second clear_refs). The bit the write had to
set is the judgement's (`dirty` for MADV_FREE and writeback, `soft-dirty`
for clear_refs); judgements of the other bit are ignored.

`lost-write` excuses a device write into a page its mapping's removal
discarded (MADV_DONTNEED semantics); a MADV_FREE discard is such a removal
there, and is judged here instead.
"""
from __future__ import annotations

from typing import Iterable

from model.trace import DevAccess, PageClean, Trace

from .common import PAGE, MappingHistory, TraceView, as_view, committed_dev_write, dev_write_time, fmt_event
from .verdict import Verdict, limit


def _covers(c: PageClean, d: DevAccess) -> bool:
    return c.pasid == d.pasid and c.va <= d.va < c.va + c.size and c.pa <= d.pa < c.pa + c.size


def _held(hist: MappingHistory, c: PageClean, d: DevAccess, lo: int, hi: int) -> bool:
    """No change of d's address to another page, and no removal, in (lo, hi]."""
    want = (c.pa + (d.va - c.va)) & ~(PAGE - 1)
    for ch in hist.covering(d.pasid, d.va):
        if lo < ch.time <= hi and MappingHistory.page_of(ch.new_pa, ch, d.va) != want:
            return False
    return True


def _fmt(c: PageClean) -> str:
    what = "discarded as clean" if c.discard else (f"cleaned ({c.bit} was {'set' if c.was_set else 'clear'})")
    return f"{c.why or 'kernel'} at t={c.time} {what} pasid {c.pasid} va {c.va:#x} (page {c.pa:#x})"


def _held_after_discard(hist: MappingHistory, d: DevAccess, lo: int, hi: int) -> bool:
    """Nothing mapped d's address again in (lo, hi] (a refault may reuse the frame)."""
    return not any(lo < ch.time <= hi and ch.new_pa is not None for ch in hist.covering(d.pasid, d.va))


def check_lost_dirty(trace: Trace | Iterable | TraceView, *, max_reports: int | None = 50) -> list[Verdict]:
    """Verdicts for rule lost-dirty."""
    view = as_view(trace)
    cleans = [c for _, c in view.of(PageClean)]
    hist = view.mappings
    bad: list[Verdict] = []
    judged = 0
    for _, d in view.of(DevAccess):
        if not committed_dev_write(d):
            continue
        t = dev_write_time(d)
        mine = [c for c in cleans if _covers(c, d)]
        for bit in sorted({c.bit for c in mine}):
            seq = [c for c in mine if c.bit == bit]
            before = [c for c in seq if c.time < t]
            if not before:
                continue
            last = before[-1]
            if last.discard:
                if not _held_after_discard(hist, d, last.time, t):
                    continue
                judged += 1
                bad.append(Verdict(
                    "lost-dirty", False,
                    f"[lost-dirty] device write of {d.value:#x} to pasid {d.pasid} va {d.va:#x} (pa {d.pa:#x}) "
                    f"reached memory at t={t}, after {_fmt(last)}: the write went into a page whose content "
                    f"the kernel had dropped ({fmt_event(d)})", [last, d]))
                continue
            after = [c for c in seq if c.time >= t]
            if not after or after[0].time == t:
                continue  # no later judgement, or one in the same cycle (either order)
            nxt = after[0]
            if not _held(hist, last, d, last.time, nxt.time):
                continue
            judged += 1
            if nxt.was_set:
                continue
            bad.append(Verdict(
                "lost-dirty", False,
                f"[lost-dirty] device write of {d.value:#x} to pasid {d.pasid} va {d.va:#x} (pa {d.pa:#x}) "
                f"reached memory at t={t}, after {_fmt(last)}, without setting {bit}: then "
                f"{_fmt(nxt)} -- the kernel judged the page clean although the device had written it "
                f"({fmt_event(d)})", [last, d, nxt]))
    if bad:
        return limit(bad, "lost-dirty", max_reports)
    return [Verdict.passed("lost-dirty", f"{judged} device write(s) after a clean judgement were recorded "
                                         f"as dirty", judged=judged)]
