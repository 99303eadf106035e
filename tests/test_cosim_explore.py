"""A counterexample written by the explorer replays on the RTL with the same failed rule.

The explorer runs on the reference device only; its counterexample is an
ordinary scenario file, so the co-simulation (tb.rtldev, the same path
`make sim` takes) runs it unchanged and must fail the same rule.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from model.explore import write_counterexample
from model.explore import Explorer, load_threads
from model.notifier import Policy
from tb.rtldev import CosimServer, compare_with_ref

ROOT = Path(__file__).resolve().parent.parent
ZAP = ROOT / "scenarios" / "zap_threads.scn"
SEED = int(os.environ.get("SEED", "1"))


@pytest.fixture(scope="module")
def srv():
    s = CosimServer(out=ROOT / "build" / "cosim" / "test_explore", seed=SEED)
    yield s
    s.close()


def test_explored_counterexample_fails_the_same_rule_on_the_rtl(srv, tmp_path):
    sc = load_threads(ZAP)
    res = Explorer(sc, "deferred", preemptions=1).explore()
    assert res.found is not None, res.summary()
    path, msg = write_counterexample(sc, Policy.DEFERRED, res.found, tmp_path)
    assert path is not None, msg
    replay = f"replay: make sim SCENARIO={path} POLICY=deferred SEED={SEED}"
    o = srv.call("scenario", scenario=str(path), policy="deferred", seed=SEED)
    rtl = o["result"]
    assert "use-after-free" in rtl.failed_rules, f"RTL failed {sorted(rtl.failed_rules)}\n{replay}"
    ref = compare_with_ref(rtl, path, "deferred", SEED)
    assert ref.ok, f"{ref.message}\n{replay}"
    # and the safe policy is clean on the RTL too
    clean = srv.call("scenario", scenario=str(path), policy="notify-inside-lock", seed=SEED)["result"]
    assert not clean.failed_rules, clean.failures
