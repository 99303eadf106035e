"""Eight device threads end to end: a scenario that keeps DEV-thread-0..7 busy
runs on the reference device and on the RTL (built with NumThreads 8, the
co-simulation's parameter set) with the same verdicts; a ninth thread is a
one-line error naming the file and line.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from model.refdev import RefConfig
from model.scenario import ScenarioError, load, parse
from model.scheduler import run_scenario_sync
from model.trace import DevAccess
from tb.rtldev import COSIM_PARAMS, CosimServer
from tests.cosim_helpers import run_checked

ROOT = Path(__file__).resolve().parent.parent
SCN = ROOT / "scenarios" / "cow_threads8.scn"
SEED = int(os.environ.get("SEED", "1"))
EXPECT = {"deferred": {"ordering"}, "notify-inside-lock": set(), "secondary-with-flush": set()}


def test_both_devices_have_eight_threads():
    assert COSIM_PARAMS["NumThreads"] == 8
    assert RefConfig().num_threads == 8


@pytest.fixture(scope="module")
def srv():
    s = CosimServer(out=ROOT / "build" / "cosim" / "test_threads8", seed=SEED)
    yield s
    s.close()


def _threads(res) -> set[int]:
    return {e.thread for e in res.trace if isinstance(e, DevAccess)}


@pytest.mark.parametrize("policy", sorted(EXPECT))
def test_eight_threads_on_the_reference_device(policy):
    res = run_scenario_sync(SCN, policy, SEED)
    assert set(res.failed_rules) == EXPECT[policy], res.failed_rules
    assert _threads(res) == set(range(8))
    assert load(SCN).expects[policy] == frozenset(EXPECT[policy])


@pytest.mark.parametrize("policy", sorted(EXPECT))
def test_eight_threads_on_the_rtl_agree_with_the_reference(srv, policy):
    res = run_checked(srv, SCN, policy, SEED)
    assert set(res.failed_rules) == EXPECT[policy], "\n".join(v.message for v in res.failures)
    assert _threads(res) == set(range(8)), "every DEV thread 0..7 reached the RTL"
    assert all(e.fault == 0 for e in res.trace if isinstance(e, DevAccess))


def test_a_ninth_device_thread_is_a_one_line_error():
    text = SCN.read_text().replace("DEV-thread-6  {read H}", "DEV-thread-8  {read H}")
    line = next(i for i, ln in enumerate(text.split("\n"), 1) if ln.startswith("DEV-thread-8"))
    with pytest.raises(ScenarioError) as e:
        parse(text, "t8.scn")
    assert str(e.value) == (f"t8.scn:{line}: DEV-thread-8: the device has 8 threads "
                            f"(DEV-thread-0..DEV-thread-7)")


def test_a_device_with_more_threads_than_the_rtl_was_built_for_is_refused():
    from types import SimpleNamespace

    from model.memory import PhysMem
    from tb.rtldev import CosimConfig, RtlDevice

    ports = SimpleNamespace(cfg=CosimConfig(), thread_bits=2)  # an RTL built with NumThreads 4
    with pytest.raises(ValueError, match="thread ids have 2 bit"):
        RtlDevice(ports, PhysMem(), 0x1000)
    assert RtlDevice(ports, PhysMem(), 0x1000, num_threads=4).num_threads == 4
