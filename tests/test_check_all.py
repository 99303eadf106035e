"""check_all, summarize and the JSON form (model/check/__init__.py)."""
from __future__ import annotations

import json

from model.check import RULES, check_all, dumps, failures, summarize, verdicts_to_json
from model.trace import CpuStore, DevAccess, FrameEvent, InvCpl, InvReq, PteChange, Trace

P, A, B = 1, 0x1000, 0x3000
OLDA, NEWA, NEWB = 0x50000, 0x60000, 0x70000


def cow_deferred() -> Trace:
    """The doc's timeline under a deferred policy, in device cycles.

    t=1 COW of A and of B repoint both PTEs (old pages OLDA, OLDB); t=3 CPU writes
    A=0xA1 (W#1), t=4 B=0xB1 (W#2); the device has A cached (stale), B freshly walked.
    t=10 reads B new (view 2), t=20 reads A from the old page (needs view 0): ordering.
    Old page of A freed at t=15 before range_end's invalidation (req 30, cpl 35): the
    read at 20 is also a use-after-free, and a stale use 19 cycles after the change.
    """
    return Trace([
        FrameEvent(time=0, pfn=OLDA >> 12, kind="alloc", owner="anon"),
        PteChange(time=1, pasid=P, va=A, size=0x1000, old_pa=OLDA, new_pa=NEWA, writable=True),
        PteChange(time=1, pasid=P, va=B, size=0x1000, old_pa=0x58000, new_pa=NEWB, writable=True),
        CpuStore(time=3, thread="cpu2", pasid=P, va=A, pa=NEWA, value=0xA1),
        CpuStore(time=4, thread="cpu3", pasid=P, va=B, pa=NEWB, value=0xB1),
        DevAccess(thread=2, write=False, pasid=P, va=B, pa=NEWB, value=0xB1, issue=8, complete=12, mem_time=10),
        FrameEvent(time=15, pfn=OLDA >> 12, kind="free"),
        DevAccess(thread=0, write=False, pasid=P, va=A, pa=OLDA, value=0xA0, issue=18, complete=21,
                  atc_hit=True, mem_time=20),
        InvReq(time=30, itag=0, pasid=P, start=A, size=0x1000),
        InvCpl(time=35, itag=0),
    ])


INITIAL = {(P, A): 0xA0, (P, B): 0xB0}
FINAL = {(P, A): 0xA1, (P, B): 0xB1}


def test_check_all_on_the_cow_timeline():
    v = check_all(cow_deferred(), INITIAL, FINAL)
    assert {x.rule for x in v} == set(RULES)  # every rule has a verdict
    assert sorted(x.rule for x in failures(v)) == ["ordering", "use-after-free"]
    stale = [x for x in v if x.rule == "stale-window"][0]
    assert stale.ok and stale.metrics["max_window"] == 19
    # Verdicts come in RULES order.
    order = [RULES.index(x.rule) for x in v]
    assert order == sorted(order)


def test_check_all_clean_trace():
    t = Trace([CpuStore(time=3, thread="c", pasid=P, va=A, pa=NEWA, value=0xA1),
               DevAccess(thread=0, write=False, pasid=P, va=A, pa=NEWA, value=0xA1, issue=5, complete=9,
                         mem_time=7)])
    v = check_all(t, INITIAL, {(P, A): 0xA1})
    assert not failures(v)


def test_summarize_and_json_are_readable_and_stable():
    v = check_all(cow_deferred(), INITIAL, FINAL)
    text = summarize(v)
    assert "ordering" in text and "FAIL x1" in text and "use-after-free" in text and "max 19 cyc" in text
    assert "[ordering] device read of pasid 1 va 0x1000" in text
    s1, s2 = dumps(v), dumps(check_all(cow_deferred(), INITIAL, FINAL))
    assert s1 == s2
    rows = json.loads(s1)
    assert rows == json.loads(json.dumps(verdicts_to_json(v), sort_keys=True))
    assert set(rows[0]) == {"rule", "ok", "message", "events", "metrics"}
    bad = [r for r in rows if r["rule"] == "ordering" and not r["ok"]][0]
    assert {e["type"] for e in bad["events"]} >= {"DevAccess", "CpuStore"}
