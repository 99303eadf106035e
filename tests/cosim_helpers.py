"""Shared steps of the co-simulation tests: one scenario on the RTL server, checked.

A run counts only if the scoreboard saw no protocol error and the reference
device gives the same verdicts and values (tb.rtldev.compare_with_ref).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from tb.rtldev import CosimServer, compare_with_ref


def run_checked(srv: CosimServer, scn: Path, policy: str, seed: int) -> Any:
    """The RunResult of `scn` under `policy` on the RTL, after both checks."""
    o = srv.call("scenario", scenario=str(scn), policy=policy, seed=seed)
    assert not o["scoreboard"]["errors"], o["scoreboard"]["errors"][:3]
    res = o["result"]
    cmp = compare_with_ref(res, scn, policy, seed)
    assert cmp.ok, cmp.message
    return res
