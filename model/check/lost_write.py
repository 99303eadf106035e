"""Lost writes (docs/INTENT.md, "Checkers: Lost device write").

A write that completed must stay visible at its virtual address until a later
write to that address replaces it. The classic loss: the device writes through
a stale translation into the old page after COW or migration copied it, so the
program, which now reads the new page, never sees the write.

Evidence used:

* the final state: `final[(pasid, va)]` (or `final(pasid, va)`) is what the
  host reads at each VA through the final page tables; None or a missing key
  means "not mapped at the end" and is not judged. The last write to an
  address in the global write order (`common.WriteOrder`) must be the final
  value.
* CPU loads during the run: a CPU load at cycle t must return the latest write
  to its address placed strictly before t (writes in the same cycle as the load
  may or may not be included).

Both checks cover CPU stores as well as device writes: a CPU store that
vanishes was overwritten by something outside the write order, typically a
device write through a stale translation into a frame that now backs another
address.

Zero fills (`ZeroFill`, see `common.WriteOrder`) are writes of 0 like any
other: after a zap and a refault the address must read 0 until the next write.

Discarded writes: a device write whose memory time is strictly after a
removal of its address's mapping (`PteChange` with `new_pa=None`: munmap,
MADV_DONTNEED, zap) that was the latest change of that address before the
write, and that lands in the page the removal unmapped, went through a stale
translation into a page whose contents the kernel had already discarded
(MADV_DONTNEED semantics). It is not a lost write, and it is not a write of
the address either: the final state and CPU loads are judged against the
latest write that was not discarded (so a discarded write in the cycle of a
refault, placed after the zero fill, leaves the fill's 0 to be checked).
(Whether the device was allowed to use that translation so late is the
policy's business: `stale`, `use-after-free`, and ordering/coherence against
the zero fill of a refault.) A write at the same cycle as the removal may have
preceded it and falls under the exemption below instead.

Exemption: a mapping removal (`PteChange` with `new_pa=None`) covering the
address at or after the write and before the observation (munmap,
MADV_DONTNEED, swap-out) legitimately ends what the device trace can say about
the content, so the write is not judged there. A remap to another page
(COW, migration, KSM) is not an exemption: its content must carry the write.
"""
from __future__ import annotations

from typing import Callable, Iterable, Mapping, Optional, Union

from model.trace import CpuLoad, PteChange, Trace

from .common import PAGE, Addr, MappingHistory, TraceView, Write, as_view, fmt_addr, fmt_event
from .verdict import Verdict, limit

# Content at each address through the final page tables (None: unmapped).
FinalState = Union[Mapping[Addr, Optional[int]], Callable[[int, int], Optional[int]]]


def _getter(final: FinalState | None) -> Callable[[int, int], int | None] | None:
    if final is None:
        return None
    if callable(final) and not isinstance(final, Mapping):
        return final
    return lambda pasid, va: final.get((pasid, va))


def _removed_between(hist: MappingHistory, addr: Addr, lo: int, hi: int | None) -> PteChange | None:
    """A removal of addr's mapping at lo <= time (<= hi when hi is given)."""
    for c in hist.covering(*addr):
        if c.new_pa is None and c.time >= lo and (hi is None or c.time <= hi):
            return c
    return None


def _who(w: Write) -> str:
    return {"dev": "device write", "fill": "zero fill"}.get(w.source, "CPU store")


def discarded(hist: MappingHistory, w: Write) -> PteChange | None:
    """The removal that discarded device write `w` (see the module docstring), or None."""
    if w.source != "dev":
        return None
    pasid, va = w.addr
    last = None
    for c in hist.covering(pasid, va):
        if c.time >= w.time:
            break
        last = c
    if last is None or last.new_pa is not None or last.old_pa is None:
        return None
    page = MappingHistory.page_of(last.old_pa, last, va)
    pa = getattr(w.event, "pa", None)
    return last if pa is not None and pa & ~(PAGE - 1) == page else None


def check_lost_writes(trace: Trace | Iterable | TraceView, final: FinalState | None = None, *,
                      max_reports: int | None = 50) -> list[Verdict]:
    """Verdicts for rule lost-write."""
    view = as_view(trace)
    order = view.write_order
    hist = view.mappings
    get = _getter(final)
    bad: list[Verdict] = []
    checked_final = checked_loads = 0

    def last_live(ws: list[Write], j: int) -> Write | None:
        """The latest of ws[:j] that was not discarded."""
        while j and discarded(hist, ws[j - 1]):
            j -= 1
        return ws[j - 1] if j else None

    # CPU loads: each must see the latest live write placed strictly before it.
    for _, ld in view.of(CpuLoad):
        addr = (ld.pasid, ld.va)
        ws = order.by_addr.get(addr)
        if not ws:
            continue
        w = last_live(ws, order.count_before(addr, ld.time))
        if w is None or _removed_between(hist, addr, w.time, ld.time) is not None:
            continue
        same_cycle = {x.value for x in order.writes_at(addr, ld.time) if not discarded(hist, x)}
        checked_loads += 1
        if ld.value == w.value or ld.value in same_cycle:
            continue
        bad.append(Verdict(
            "lost-write", False,
            f"[lost-write] CPU load of {fmt_addr(addr)} at t={ld.time} returned {ld.value:#x}, but the "
            f"latest write to that address was the {_who(w)} of {w.value:#x} at t={w.time} "
            f"({w.describe()}); the write did not reach the page the CPU reads "
            f"(CPU load pa {ld.pa:#x}, " + (f"write pa {w.event.pa:#x})" if w.source != "fill" else "zero fill)"),
            [w.event, ld]))

    # Final state: the last live write to each address must be its final value.
    if get is not None:
        for addr, ws in sorted(order.by_addr.items()):
            w = last_live(ws, len(ws))
            if w is None or _removed_between(hist, addr, w.time, None) is not None:
                continue
            got = get(*addr)
            if got is None:
                continue
            checked_final += 1
            if got == w.value:
                continue
            tail = (" (a write outside the global write order replaced it: a device write through a "
                    "stale translation into a reused frame?)" if w.source in ("cpu", "fill") else
                    f" (write pa {w.event.pa:#x}; the final page tables map the address elsewhere or "
                    f"the page content was copied before the write)")
            bad.append(Verdict(
                "lost-write", False,
                f"[lost-write] the {_who(w)} of {w.value:#x} to {fmt_addr(addr)} at t={w.time} "
                f"({fmt_event(w.event)}) is the last write to that address, but the final content "
                f"there is {got:#x}{tail}",
                [w.event]))

    if bad:
        return limit(bad, "lost-write", max_reports)
    note = "" if get is not None else " (no final state given: only CPU loads checked)"
    return [Verdict.passed("lost-write",
                           f"{checked_final} final value(s) and {checked_loads} CPU load(s) match the "
                           f"write order{note}", final_checked=checked_final, loads_checked=checked_loads)]
