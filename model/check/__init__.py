"""Checkers: decide from what the device observed whether it broke the rules.

Input is one `model.trace.Trace`; output is a list of `Verdict`, one failing
verdict per violation and one passing verdict for each rule that held, so a
verdict table always shows every rule (docs/INTENT.md, "Checkers: Verdicts").
Semantics of each rule are in the module docstrings: `ordering`, `lost_write`, `lost_dirty`, `uaf`, `protocol`,
`stale`; the conventions they share (addresses are (pasid, va), the global
write order, lenient same-cycle ties) are in `common`.

Choices a reader of a verdict needs to know:

* The global write order is the CPU stores in trace order with every committed
  device write inserted at its memory time (same-cycle writes: in the order
  their memory effects were recorded). Device reads are judged against it:
  one monotone, possibly lagging view; device writes do not drag the view
  forward, but a device read begun after the device's own write to the same
  address must see that write or a later one.
* Initial memory content is write #0 of every address: from `initial`, else
  chosen exactly (`ordering.infer_initial`): a trace passes if some initial
  content no store or device write produced explains it.
* A zero fill is one write of 0 to every address of its page, at one
  position of the order; a device write discarded with its page (into a
  zapped page, see `lost_write`) is not judged as a write of the address.
* A read is performed somewhere in [mem_time, mem_time] (or [issue, complete]
  without a memory time); reads whose windows overlap, or that share a cycle,
  may be ordered either way.
"""
from __future__ import annotations

from typing import Iterable, Mapping

from model.trace import Trace

from .common import Addr, TraceView, as_view
from .lost_dirty import check_lost_dirty
from .livelock import check_livelock
from .lost_write import FinalState, check_lost_writes
from .ordering import analyze_ordering, check_ordering
from .protocol import check_protocol
from .stale import check_stale, stale_windows
from .uaf import check_uaf
from .verdict import RULES, Verdict, dumps, verdicts_to_json

__all__ = [
    "RULES", "Verdict", "check_all", "summarize", "failures", "verdicts_to_json", "dumps",
    "check_ordering", "analyze_ordering", "check_lost_writes", "check_lost_dirty", "check_uaf", "check_protocol",
    "check_stale", "stale_windows", "check_livelock", "TraceView",
]


def check_all(trace: Trace | Iterable | TraceView, initial: Mapping[Addr, int] | None = None,
              final: FinalState | None = None, *, max_reports: int | None = 50) -> list[Verdict]:
    """Run every checker. Verdicts come in `RULES` order; within a rule, in trace time.

    `initial[(pasid, va)]`: memory content before the trace (missing addresses
    are inferred, see `ordering`). `final[(pasid, va)]` or `final(pasid, va)`:
    content through the final page tables (None = unmapped; omit to skip the
    final-state part of lost-write).
    """
    view = as_view(trace)  # one pass over the trace; write order and histories shared
    out = (check_ordering(view, initial, max_reports=max_reports)
           + check_lost_writes(view, final, max_reports=max_reports)
           + check_lost_dirty(view, max_reports=max_reports)
           + check_uaf(view, max_reports=max_reports)
           + check_protocol(view, max_reports=max_reports)
           + check_livelock(view, max_reports=max_reports)
           + check_stale(view))
    rank = {r: i for i, r in enumerate(RULES)}
    return sorted(out, key=lambda v: rank.get(v.rule, len(rank)))  # stable: keeps per-rule order


def failures(verdicts: list[Verdict]) -> list[Verdict]:
    return [v for v in verdicts if not v.ok]


def summarize(verdicts: list[Verdict], *, details: int = 3) -> str:
    """A console table: one row per rule (status, count), then the first
    `details` failure messages of each failing rule."""
    rules = list(RULES) + sorted({v.rule for v in verdicts} - set(RULES))
    rows, notes = [], []
    for rule in rules:
        mine = [v for v in verdicts if v.rule == rule]
        if not mine:
            continue
        bad = [v for v in mine if not v.ok]
        count = sum(v.metrics.get("unlisted", 1) if not v.ok else 0 for v in mine)
        if rule == "stale-window":
            m = mine[0].metrics
            status = f"max {m.get('max_window', 0)} cyc, {m.get('stale_changes', 0)}/{m.get('changes', 0)} changes"
        else:
            status = "ok" if not bad else f"FAIL x{count}"
        rows.append((rule, status))
        notes += [v.message for v in bad[:details]]
    width = max((len(r) for r, _ in rows), default=4)
    lines = [f"{'rule'.ljust(width)}  result", f"{'-' * width}  ------"]
    lines += [f"{r.ljust(width)}  {s}" for r, s in rows]
    if notes:
        lines.append("")
        lines += notes
    return "\n".join(lines)
