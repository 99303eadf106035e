"""Two processes on the RTL: the device TLB is tagged by PASID
(rtl/atc.sv pasid_q), so the child's COW, which invalidates PASID 2, leaves
the parent's entry for the same frame (PASID 1) in place; the stale read of a
child's page after the parent's COW is judged as on the reference device."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from model.trace import DevAccess, InvReq
from tb.rtldev import CosimServer
from tests.cosim_helpers import run_checked

ROOT = Path(__file__).resolve().parent.parent
TWO = ROOT / "scenarios" / "fork_two_pasids.scn"
STALE = ROOT / "scenarios" / "fork_stale_read.scn"
SEED = int(os.environ.get("SEED", "1"))
A = 0x1000_0000


@pytest.fixture(scope="module")
def srv():
    s = CosimServer(out=ROOT / "build" / "cosim" / "test_fork", seed=SEED)
    yield s
    s.close()


def run(srv, scn: Path, policy: str):
    return run_checked(srv, scn, policy, SEED)


@pytest.mark.parametrize("policy", ["notify-inside-lock", "deferred", "secondary-with-flush"])
def test_the_childs_invalidation_leaves_the_parents_entry_on_the_rtl(srv, policy):
    res = run(srv, TWO, policy)
    assert not res.failed_rules, [v.message for v in res.failures]
    assert {e.pasid for e in res.trace if isinstance(e, InvReq) and e.start <= A < e.start + e.size} == {2}
    par = [e for e in res.trace if isinstance(e, DevAccess) and (e.pasid, e.va) == (1, A)]
    chi = [e for e in res.trace if isinstance(e, DevAccess) and (e.pasid, e.va) == (2, A)]
    assert par[1].atc_hit and par[1].pa == par[0].pa and par[1].value == par[0].value
    assert not chi[1].atc_hit and chi[1].pa != par[0].pa


@pytest.mark.parametrize("policy,expect", [("deferred", {"use-after-free", "unknown-value"}),
                                           ("notify-inside-lock", set())])
def test_a_stale_read_of_the_childs_page_on_the_rtl(srv, policy, expect):
    res = run(srv, STALE, policy)
    assert set(res.failed_rules) == expect, [v.message for v in res.failures]


RTL_FUZZ_SEEDS = int(os.environ.get("FUZZ_PROC_RTL_SEEDS", "10"))


@pytest.mark.parametrize("policy", ["notify-inside-lock", "secondary-with-flush"])
def test_two_mm_fuzz_cases_on_the_rtl_are_clean_under_the_safe_policies(srv, policy):
    """The first seeds of tests/test_model_fuzz_procs.py (a forked child, every operation, random
    mode) on the RTL: both PASIDs busy in the device TLB, nothing beyond the matrix's known rows."""
    from tests.test_model_fuzz import allowed
    from tests.test_model_fuzz_procs import fuzz_case

    problems = []
    for seed in range(RTL_FUZZ_SEEDS):
        case = fuzz_case(seed)
        o = srv.call("scenario", scenario=case.text, policy=policy, seed=seed, mode="random")
        res = o["result"]
        assert {e.pasid for e in res.trace if isinstance(e, DevAccess)} == {1, 2}
        bad = [v for v in res.failures if v.rule not in allowed(case, policy)]
        if bad or o["scoreboard"]["errors"]:
            problems.append(f"seed {seed}: {[v.message for v in bad[:2]]} {o['scoreboard']['errors'][:2]}")
    assert not problems, "\n".join(problems)
