"""Stale-window metric (model/check/stale.py): hand-derived numbers."""
from __future__ import annotations

from model.check import check_stale, stale_windows
from model.trace import DevAccess, PteChange, Trace

P = 1
X, Y = 0x50000, 0x60000


def acc(va, pa, mem, fault=0):
    return DevAccess(thread=0, write=False, pasid=P, va=va, pa=pa, value=0, issue=mem - 2,
                     complete=mem + 1, mem_time=mem, fault=fault)


def test_stale_window_numbers():
    # Change 1 at 100: 0x1000 X -> Y. Old PA used at 105 and 130, new at 140:
    #   2 stale uses, window 130 - 100 = 30.
    # Change 2 at 200: 0x3000 removed. Never used afterwards: window 0.
    # Change 3 at 300: 0x1000 permission only (Y -> Y): not a repoint, not counted.
    # Access at 100 (same cycle as change 1) is not stale; a faulted access is not a use.
    ev = [PteChange(time=100, pasid=P, va=0x1000, size=0x1000, old_pa=X, new_pa=Y),
          PteChange(time=200, pasid=P, va=0x3000, size=0x1000, old_pa=0x70000, new_pa=None),
          PteChange(time=300, pasid=P, va=0x1000, size=0x1000, old_pa=Y, new_pa=Y),
          acc(0x1008, X + 8, 100), acc(0x1008, X + 8, 105), acc(0x1010, X + 0x10, 130),
          acc(0x1008, Y + 8, 140), acc(0x3000, 0x70000, 150), acc(0x1008, X + 8, 160, fault=1)]
    rep = stale_windows(Trace(ev))
    # (the access to 0x3000 at 150 is before its removal at 200: not stale)
    assert [(e.change.time, e.uses, e.window) for e in rep.entries] == [(100, 2, 30), (200, 0, 0)]
    assert rep.totals() == {"changes": 2, "stale_changes": 1, "stale_uses": 2, "total_window": 30,
                            "max_window": 30}
    v = check_stale(Trace(ev))
    assert len(v) == 1 and v[0].ok and v[0].rule == "stale-window"
    assert "max 30" in v[0].message and v[0].metrics["max_window"] == 30


def test_no_stale_use_and_restore():
    # X -> Y at 10, back to X at 20: a use of X at 25 is current again, not stale.
    ev = [PteChange(time=10, pasid=P, va=0x1000, size=0x1000, old_pa=X, new_pa=Y),
          PteChange(time=20, pasid=P, va=0x1000, size=0x1000, old_pa=Y, new_pa=X),
          acc(0x1000, Y, 15), acc(0x1000, X, 25)]
    rep = stale_windows(Trace(ev))
    assert rep.totals()["stale_uses"] == 0 and rep.max_window == 0


def test_huge_page_change():
    # 2 MiB page repointed at 50; access at offset 0x1234 through the old page at 80.
    ev = [PteChange(time=50, pasid=P, va=0x200000, size=0x200000, old_pa=0x40000000, new_pa=0x80000000),
          acc(0x201230, 0x40001230, 80), acc(0x201230, 0x80001230, 90)]
    assert stale_windows(Trace(ev)).max_window == 30
