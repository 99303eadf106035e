"""Stale-window metric: how long the device kept using an old PA.

Semantics: docs/INTENT.md, "Checkers: Stale window".

Not a failure by itself (an invalidation always takes some cycles, and for a
write-protect or KSM change the doc says a delay is harmless); it is the number
that shows the difference between the notifier policies.

For every `PteChange` that repointed or removed a mapping (old_pa present and
new_pa absent or different), a stale use is a successful `DevAccess` of the
same PASID inside the changed range whose PA lies in the old page and whose
memory time is strictly after the change, up to (not including) a later change
that maps that VA back to the same page. Per change the window is
max(stale memory time) - change time (0 when the device never used the old
PA afterwards).
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Iterable

from model.trace import DevAccess, PteChange, Trace

from .common import PAGE, TraceView, as_view, fmt_event
from .verdict import Verdict


@dataclass
class StaleEntry:
    change: PteChange
    uses: int = 0  # stale accesses
    last_use: int | None = None  # latest stale memory time
    last_access: DevAccess | None = None

    @property
    def window(self) -> int:
        return 0 if self.last_use is None else self.last_use - self.change.time

    def to_json(self) -> dict:
        c = self.change
        return {"time": c.time, "pasid": c.pasid, "va": hex(c.va), "size": c.size,
                "old_pa": None if c.old_pa is None else hex(c.old_pa),
                "new_pa": None if c.new_pa is None else hex(c.new_pa),
                "uses": self.uses, "last_use": self.last_use, "window": self.window}


@dataclass
class StaleReport:
    entries: list[StaleEntry] = field(default_factory=list)

    @property
    def changes(self) -> int:
        return len(self.entries)

    @property
    def stale_changes(self) -> int:
        return sum(1 for e in self.entries if e.uses)

    @property
    def stale_uses(self) -> int:
        return sum(e.uses for e in self.entries)

    @property
    def total_window(self) -> int:
        return sum(e.window for e in self.entries)

    @property
    def max_window(self) -> int:
        return max((e.window for e in self.entries), default=0)

    def totals(self) -> dict:
        return {"changes": self.changes, "stale_changes": self.stale_changes,
                "stale_uses": self.stale_uses, "total_window": self.total_window,
                "max_window": self.max_window}


def _mem_time(d: DevAccess) -> int:
    return d.mem_time if d.mem_time is not None else d.complete


def stale_windows(trace: Trace | Iterable | TraceView) -> StaleReport:
    view = as_view(trace)
    events = view.events
    hist = view.mappings
    changes = [(e.time, i, e) for i, e in view.of(PteChange) if e.old_pa is not None and e.new_pa != e.old_pa]
    changes.sort(key=lambda x: (x[0], x[1]))
    # Index successful accesses by (pasid, PA page), each list sorted by memory time:
    # a change then looks only at uses of its old pages after it.
    by_page: dict[tuple[int, int], list[tuple[int, int, DevAccess]]] = {}
    for i, e in view.of(DevAccess):
        if e.fault == 0:
            by_page.setdefault((e.pasid, e.pa & ~(PAGE - 1)), []).append((_mem_time(e), i, e))
    pages: dict[int, list[int]] = {}
    for (pasid, page), lst in by_page.items():
        lst.sort(key=lambda x: (x[0], x[1]))
        pages.setdefault(pasid, []).append(page)
    for lst in pages.values():
        lst.sort()
    report = StaleReport()
    for _, _, c in changes:
        ent = StaleEntry(c)
        plist = pages.get(c.pasid, [])
        lo, hi = c.old_pa & ~(PAGE - 1), c.old_pa + c.size
        for page in plist[bisect.bisect_left(plist, lo):bisect.bisect_left(plist, hi)]:
            uses = by_page[(c.pasid, page)]
            for mt, _, d in uses[bisect.bisect_right(uses, (c.time, len(events))):]:
                if not c.va <= d.va < c.va + c.size:
                    continue
                old_page = hist.page_of(c.old_pa, c, d.va)
                if page != old_page:
                    continue
                restored = [c2.time for c2 in hist.covering(c.pasid, d.va)
                            if c2.time > c.time and hist.page_of(c2.new_pa, c2, d.va) == old_page]
                if restored and mt >= restored[0]:
                    continue
                ent.uses += 1
                if ent.last_use is None or mt > ent.last_use:
                    ent.last_use, ent.last_access = mt, d
        report.entries.append(ent)
    return report


def check_stale(trace: Trace | Iterable | TraceView) -> list[Verdict]:
    """The stale-window metric as an (always ok) verdict with its numbers."""
    rep = stale_windows(trace)
    tot = rep.totals()
    evs: list = []
    worst = ""
    if rep.stale_changes:
        w = max(rep.entries, key=lambda e: e.window)
        evs = [w.change, w.last_access]
        worst = (f"; longest {w.window} cycle(s): {fmt_event(w.change)} was still used by "
                 f"{fmt_event(w.last_access)}")
    msg = (f"[stale-window] {tot['changes']} PTE change(s) repointed or removed a mapping; "
           f"{tot['stale_changes']} still used by the device afterwards ({tot['stale_uses']} access(es)), "
           f"total {tot['total_window']} cycle(s), max {tot['max_window']}{worst}")
    return [Verdict("stale-window", True, msg, evs,
                    metrics={**tot, "per_change": [e.to_json() for e in rep.entries]})]
