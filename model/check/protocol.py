"""ATS invalidation protocol (docs/INTENT.md, "Checkers: Protocol").

Rules, over InvReq/InvCpl taken in (time, trace order):

* itag-reuse: an Invalidate Request carries an ITag that is still outstanding.
* completion-without-request: a completion for an ITag never requested, or
  completed before any request for it.
* duplicate-completion: a second completion for an ITag whose request was
  already completed (and no new request reused it).
* lost-completion: a request still outstanding at the end of the trace.
  Completions pair with requests of the same ITag first-in, first-out.
* completion-before-drain (ATS rule 2, ARCHITECTURE.md 5): a completion C of
  request R is early if some device access D that used a translation R covers
  reached memory after C. Precisely, D is a successful `DevAccess` with
    - D.issue < R.time (issued before the request arrived), and
    - memory time (mem_time, else complete) > C.time, and
    - R's PASID matches (or R is for all PASIDs), and
    - R's range overlaps the page D's translation covers (the page size the
      mapping had at R.time per `PteChange`, 4 KiB when unknown), and
    - D had passed ATC lookup before R: D hit in the ATC (a hit is looked up
      at issue), or, for a miss, D's PA (or, for a write, its permission) is
      one the page table did not give D's VA at any time from R.time until D
      reached memory, so the translation must come from a walk made before
      R. A miss whose walk was in flight at R is re-walked (ATS rule 1) and may
      legitimately reach memory after C with the new translation; without
      PteChange evidence such a miss is not judged.
  Equal cycles are lenient (an access reaching memory in C's cycle counts as
  drained).
"""
from __future__ import annotations

import heapq
from typing import Iterable

from model.trace import DevAccess, InvCpl, InvReq, Trace

from .common import PAGE, UNKNOWN, MappingHistory, TraceView, as_view, fmt_addr
from .verdict import Verdict, limit

PROTOCOL_RULES = ("itag-reuse", "completion-without-request", "duplicate-completion",
                  "lost-completion", "completion-before-drain")


def fmt_req(r: InvReq) -> str:
    p = "all PASIDs" if r.pasid is None else f"pasid {r.pasid}"
    return f"InvReq(t={r.time} itag={r.itag} {p} [{r.start:#x}, {r.start + r.size:#x}))"


def fmt_cpl(c: InvCpl) -> str:
    return f"InvCpl(t={c.time} itag={c.itag})"


def pair_invalidations(trace: Trace | Iterable | TraceView) -> tuple[list[tuple[InvReq, InvCpl]], list[Verdict]]:
    """Match completions to requests; report the bookkeeping rules."""
    view = as_view(trace)
    evs = [(e.time, i, e) for i, e in view.of(InvReq) + view.of(InvCpl)]
    evs.sort(key=lambda x: (x[0], x[1]))
    outstanding: dict[int, list[InvReq]] = {}
    last_done: dict[int, tuple[InvReq, InvCpl]] = {}
    pairs: list[tuple[InvReq, InvCpl]] = []
    bad: list[Verdict] = []
    for _, _, e in evs:
        if isinstance(e, InvReq):
            q = outstanding.setdefault(e.itag, [])
            if q:
                bad.append(Verdict("itag-reuse", False,
                                   f"[itag-reuse] {fmt_req(e)} reuses ITag {e.itag}, still outstanding "
                                   f"since {fmt_req(q[0])}", [q[0], e]))
            q.append(e)
            continue
        q = outstanding.get(e.itag)
        if q:
            req = q.pop(0)
            pairs.append((req, e))
            last_done[e.itag] = (req, e)
        elif e.itag in last_done:
            req, first = last_done[e.itag]
            bad.append(Verdict("duplicate-completion", False,
                               f"[duplicate-completion] {fmt_cpl(e)} completes ITag {e.itag} again: its "
                               f"request {fmt_req(req)} was already completed by {fmt_cpl(first)}",
                               [req, first, e]))
        else:
            bad.append(Verdict("completion-without-request", False,
                               f"[completion-without-request] {fmt_cpl(e)}: no request with ITag "
                               f"{e.itag} was outstanding", [e]))
    for itag, q in sorted(outstanding.items()):
        for req in q:
            bad.append(Verdict("lost-completion", False,
                               f"[lost-completion] {fmt_req(req)} never completed (ITag {itag} still "
                               f"outstanding at the end of the trace)", [req]))
    return pairs, bad


def _mem_time(d: DevAccess) -> int:
    return d.mem_time if d.mem_time is not None else d.complete


def _stale_translation(hist: MappingHistory, d: DevAccess, since: int, until: int) -> bool | None:
    """True: no page-table state in [since, until] gives d's VA d's PA (and
    write permission for a write). None: no PteChange history for the VA."""
    st = hist.state_at(d.pasid, d.va, since)
    if st is UNKNOWN:
        return None
    page = d.pa & ~(PAGE - 1)
    states = [(st[0], st[1])]
    for c in hist.covering(d.pasid, d.va):
        if since < c.time <= until:
            states.append((hist.page_of(c.new_pa, c, d.va), c.writable))
    return not any(p == page and (w or not d.write) for p, w in states)


def check_drain(trace: Trace | Iterable | TraceView, pairs: list[tuple[InvReq, InvCpl]]) -> list[Verdict]:
    """Rule completion-before-drain (see module docstring)."""
    view = as_view(trace)
    if not pairs:
        return []
    hist = view.mappings
    # Sweep requests in time order keeping the accesses in flight at the request
    # (issued before it, not yet at memory): only those can break its drain.
    acc = sorted((e for _, e in view.of(DevAccess) if e.fault == 0), key=lambda d: d.issue)
    inflight: list[tuple[int, int, DevAccess]] = []  # heap by memory time
    nxt = 0
    bad = []
    for req, cpl in sorted(pairs, key=lambda p: p[0].time):
        while nxt < len(acc) and acc[nxt].issue < req.time:
            heapq.heappush(inflight, (_mem_time(acc[nxt]), nxt, acc[nxt]))
            nxt += 1
        while inflight and inflight[0][0] <= req.time:  # done before this (and every later) request
            heapq.heappop(inflight)
        for mt, _, d in sorted(inflight, key=lambda x: x[1]):
            if mt <= cpl.time:
                continue
            if req.pasid is not None and req.pasid != d.pasid:
                continue
            size = hist.mapping_size(d.pasid, d.va, req.time)
            base = d.va & ~(size - 1)
            if not (base < req.start + req.size and req.start < base + size):
                continue
            if d.atc_hit:
                how = "its translation came from an ATC hit at issue"
            else:
                stale = _stale_translation(hist, d, req.time, mt)
                if not stale:
                    continue
                how = ("its PA/permission is one the page table no longer gave that VA at or after the "
                       "request, so it was translated before the request")
            kind = "write" if d.write else "read"
            bad.append(Verdict(
                "completion-before-drain", False,
                f"[completion-before-drain] {fmt_cpl(cpl)} for {fmt_req(req)} left before the device "
                f"{kind} of {fmt_addr((d.pasid, d.va))} at pa {d.pa:#x} (issued t={d.issue}, before the "
                f"request; {how}) reached memory at t={mt}", [req, d, cpl]))
    return bad


def check_protocol(trace: Trace | Iterable | TraceView, *, max_reports: int | None = 50) -> list[Verdict]:
    """Verdicts for the five protocol rules."""
    view = as_view(trace)
    pairs, bad = pair_invalidations(view)
    bad += check_drain(view, pairs)
    nreq = len(view.of(InvReq))
    out: list[Verdict] = []
    for rule in PROTOCOL_RULES:
        mine = [v for v in bad if v.rule == rule]
        if mine:
            out.extend(limit(mine, rule, max_reports))
        else:
            out.append(Verdict.passed(rule, f"{nreq} invalidation request(s), {len(pairs)} completed",
                                      requests=nreq, completed=len(pairs)))
    return out

