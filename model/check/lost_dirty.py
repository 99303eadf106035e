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

A write with no later judgement is not judged (what the kernel will decide
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

from .common import TraceView, as_view, committed_dev_write, dev_write_time, fmt_event
from .verdict import Verdict, limit


def _covers(c: PageClean, pa: int) -> bool:
    return c.pa <= pa < c.pa + c.size


def _fmt(c: PageClean) -> str:
    what = "discarded as clean" if c.discard else (f"cleaned ({c.bit} was {'set' if c.was_set else 'clear'})")
    return f"{c.why or 'kernel'} at t={c.time} {what} pasid {c.pasid} va {c.va:#x} (page {c.pa:#x})"


def check_lost_dirty(trace: Trace | Iterable | TraceView, *, max_reports: int | None = 50) -> list[Verdict]:
    """Verdicts for rule lost-dirty."""
    view = as_view(trace)
    cleans = [c for _, c in view.of(PageClean)]
    bad: list[Verdict] = []
    judged = 0
    for _, d in view.of(DevAccess):
        if not committed_dev_write(d):
            continue
        t = dev_write_time(d)
        mine = [c for c in cleans if _covers(c, d.pa)]
        for bit in sorted({c.bit for c in mine}):
            seq = [c for c in mine if c.bit == bit]
            before = [c for c in seq if c.time < t]
            if not before:
                continue
            last = before[-1]
            if last.discard:
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
            judged += 1
            nxt = after[0]
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
