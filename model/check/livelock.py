"""Rule `livelock`: a device access made no forward progress.

With page requests on (scenario `pri`), a translation fault is sent to the
host, which services it and answers Success; the device then translates
again. If the translation still faults, the device asks again, a bounded
number of times (the RTL's PriRetries), and then ends the command with the
LIVELOCK fault. That fault is never a legal outcome: every Success answer
promised that the access could now proceed, so each one is a violation,
reported with the command. Typical causes: the host upgraded or mapped the
PTE but a stale translation (a secondary TLB never told) keeps faulting, or
the host answered Success without servicing the fault.
"""
from __future__ import annotations

from model.ats import Fault
from model.trace import DevAccess

from .common import TraceView, as_view, fmt_event
from .verdict import Verdict

RULE = "livelock"


def check_livelock(trace, *, max_reports: int | None = 50) -> list[Verdict]:
    view: TraceView = as_view(trace)
    out: list[Verdict] = []
    for _, e in view.of(DevAccess):
        if e.fault != Fault.LIVELOCK:
            continue
        if max_reports is not None and len(out) >= max_reports:
            break
        out.append(Verdict(rule=RULE, ok=False, events=[e],
                           message=(f"[{RULE}] DEV-thread-{e.thread} {'write' if e.write else 'read'} "
                                    f"pasid {e.pasid:#x} va {e.va:#x} issued @{e.issue}: the host answered "
                                    f"its page requests Success, yet the translation kept faulting; the device "
                                    f"gave up @{e.complete} ({fmt_event(e)})")))
    if not out:
        n = sum(1 for _, e in view.of(DevAccess))
        out.append(Verdict.passed(RULE, f"{n} device accesses, none ended without forward progress"))
    return out
