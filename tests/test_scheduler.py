"""The scheduler: one clock, scripted rows, seeded random runs, the Device protocol only."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from model.device import run_sync
from model.memory import PhysMem
from model.refdev import RefConfig, RefDevice
from model.scenario import ScenarioError, ScenarioRunError, load, parse
from model.scheduler import Layout, run_scenario, run_scenario_sync
from model.trace import CpuStore, OpStep, Trace

ROOT = Path(__file__).resolve().parents[1]
POLICIES = ("notify-inside-lock", "deferred", "secondary-with-flush")

SMALL = """\
cycles-per-step 7
vma 0x10000000 0x10004000 anon rw
page A 0x10000000 cow value=0x1111
page B 0x10002000 present value=0x2222
[Time 0]
DEV-thread-0 {read A}
[Time 1]
CPU-thread-0 {store A = 0x77}
[Time 2]
CPU-thread-1 {store B}
DEV-thread-1 {read B}
"""


def trace_json(res) -> str:
    return json.dumps(res.trace.to_json(), sort_keys=True)


def test_script_runs_are_reproducible():
    sc = parse(SMALL, "small.scn")
    a, b = run_scenario_sync(sc, "deferred", 0), run_scenario_sync(sc, "deferred", 0)
    assert trace_json(a) == trace_json(b) and a.final == b.final


def test_random_runs_replay_from_their_seed_and_seeds_differ():
    sc = load(ROOT / "scenarios" / "cow_random.scn")
    one = run_scenario_sync(sc, "deferred", 11, mode="random")
    assert trace_json(one) == trace_json(run_scenario_sync(sc, "deferred", 11, mode="random"))
    assert len({trace_json(run_scenario_sync(sc, "deferred", s, mode="random")) for s in range(5)}) > 1
    assert one.seed == 11 and one.mode == "random"


def test_each_cpu_step_costs_cycles_per_step():
    text = SMALL.replace("page B 0x10002000 present value=0x2222", "page C 0x10003000 none").replace(
        "CPU-thread-1 {store B}", "CPU-thread-1 {store C}").replace("DEV-thread-1 {read B}", "")
    res = run_scenario_sync(parse(text, "small.scn"), "deferred", 0)
    steps = [e for e in res.trace.of(OpStep) if e.thread == "CPU-thread-1"]
    # first touch of an anonymous page: no notifier, nothing to wait for, one step every 7 cycles
    assert [e.step for e in steps] == ["fault", "alloc", "pt_lock", "pte_set", "pt_unlock", "store"]
    t = [e.time for e in steps]
    assert all(b - a == 7 for a, b in zip(t, t[1:]))


def test_result_carries_initial_final_values_and_metrics():
    res = run_scenario_sync(parse(SMALL, "small.scn"), "notify-inside-lock", 0)
    assert res.initial[(1, 0x10000000)] == 0x1111 and res.initial[(1, 0x10002000)] == 0x2222
    b_store = [e.value for e in res.trace.of(CpuStore) if e.va == 0x10002000]
    assert res.final[(1, 0x10000000)] == 0x77 and res.final[(1, 0x10002000)] == b_store[-1]
    assert res.metrics["inv_requests"] == 1 and res.metrics["dev_commands"] == 2
    assert res.names == {0x10000000: "A", 0x10002000: "B"}
    assert res.ok and res.failed_rules == frozenset()


class ProtocolOnly:
    """Exposes exactly the Device protocol (plus the host-memory binding), and
    counts awaits of run(): the scheduler must not rely on anything else."""

    def __init__(self, inner: RefDevice) -> None:
        self._d = inner
        self.mem, self.trace, self.pasid_tbl_base = inner.mem, inner.trace, inner.pasid_tbl_base
        self.runs = 0

    @property
    def now(self) -> int:
        return self._d.now

    def thread_idle(self, thread):
        return self._d.thread_idle(thread)

    def submit(self, cmd):
        self._d.submit(cmd)

    def invalidate(self, req):
        self._d.invalidate(req)

    async def run(self, cycles):
        self.runs += 1
        await self._d.run(cycles)

    def take_responses(self):
        return self._d.take_responses()

    def take_completions(self):
        return self._d.take_completions()


def test_runs_against_any_device_with_the_protocol():
    mem, trace = PhysMem(), Trace()
    dev = ProtocolOnly(RefDevice(mem, 0x1000, trace))
    res = run_sync(run_scenario(load(ROOT / "scenarios" / "cow_timeline.scn"), dev, "deferred", 0))
    assert res.failed_rules == frozenset({"ordering"}) and res.trace is trace
    assert dev.runs > 10 and res.metrics["cycles"] == dev.now


def test_frame_pool_must_not_cover_the_pasid_table():
    sc = parse(SMALL, "small.scn")
    with pytest.raises(ScenarioRunError, match="PASID table"):
        run_scenario_sync(sc, "deferred", 0, layout=Layout(pasid_tbl_base=0x200000))


def test_a_row_that_cannot_finish_names_its_line_and_the_lock_holder():
    text = SMALL.replace("[Time 2]", "[Time 2]\nCPU-thread-2 {store B}").replace(
        "CPU-thread-0 {store A = 0x77}", "CPU-thread-0 {store A until pt_lock}")
    # B is present and writable: CPU-thread-2's store needs no lock, so make it a COW page
    text = text.replace("page B 0x10002000 present", "page B 0x10002000 cow")
    with pytest.raises(ScenarioRunError) as e:
        run_scenario_sync(parse(text, "stuck.scn"), "deferred", 0, stall_limit=2000)
    assert e.value.line == 9 and "pt_lock held by CPU-thread-0" in str(e.value)  # the [Time 2] row
    assert str(e.value).startswith("stuck.scn:9:")


def test_starting_an_operation_while_the_previous_one_is_preempted_is_an_error():
    text = SMALL.replace("CPU-thread-0 {store A = 0x77}", "CPU-thread-0 {store A until range_start}") + \
        "[Time 3]\nCPU-thread-0 {store B}\n"
    with pytest.raises(ScenarioRunError) as e:
        run_scenario_sync(parse(text, "x.scn"), "deferred", 0)
    assert e.value.line == 13 and "still preempted" in str(e.value)


def test_device_thread_the_device_does_not_have_is_reported_at_its_line():
    # beyond the device's 8 threads: refused when the file is read
    text = SMALL.replace("DEV-thread-1 {read B}", "DEV-thread-8 {read B}")
    with pytest.raises(ScenarioError) as e:
        parse(text, "x.scn")
    assert e.value.line == 11 and "the device has 8 threads" in str(e.value)
    # a device built with fewer threads refuses it when the run reaches that line
    text = SMALL.replace("DEV-thread-1 {read B}", "DEV-thread-3 {read B}")
    with pytest.raises(ScenarioRunError) as e:
        run_scenario_sync(parse(text, "x.scn"), "deferred", 0, config=RefConfig(num_threads=2))
    assert e.value.line == 11 and "refused" in str(e.value)


def test_preempted_operations_finish_after_the_last_row():
    res = run_scenario_sync(load(ROOT / "scenarios" / "cow_timeline.scn"), "deferred", 0)
    last = {e.thread: e for e in res.trace.of(OpStep)}
    # CPU-thread-0 was left preempted in the timeline; its store still happens at the end
    assert last["CPU-thread-0"].step == "store" and last["CPU-thread-1"].step == "store"
    stores = {e.thread: e.value for e in res.trace.of(CpuStore)}
    assert res.final[(1, 0x10000000)] == stores["CPU-thread-0"]
    assert res.final[(1, 0x10002000)] == stores["CPU-thread-1"]


def test_nowait_lets_device_accesses_overlap():
    text = SMALL + "[Time 3]\nDEV-thread-0 {read A nowait}\nDEV-thread-1 {read B nowait}\n"
    res = run_scenario_sync(parse(text, "x.scn"), "deferred", 0)
    a, b = res.response_at(13), res.response_at(14)
    assert a.issue == b.issue and a.complete > b.issue and b.complete > a.issue


@pytest.mark.parametrize("policy", ["notify-inside-lock", "secondary-with-flush"])
def test_random_interleavings_of_the_cow_race_are_safe_under_in_lock_policies(policy):
    sc = load(ROOT / "scenarios" / "cow_random.scn")
    bad = [s for s in range(120) if run_scenario_sync(sc, policy, s, mode="random").failed_rules]
    assert bad == []


def test_random_interleavings_find_the_deferred_cow_race():
    sc = load(ROOT / "scenarios" / "cow_random.scn")
    found = {s: run_scenario_sync(sc, "deferred", s, mode="random").failed_rules for s in range(150)}
    bad = {s: r for s, r in found.items() if r}
    # the window is narrow (a COW thread preempted between unlock and range_end while the
    # other page's COW completes and the device reads both): a few seeds in a hundred hit it
    assert len(bad) >= 1 and all(r == frozenset({"ordering"}) for r in bad.values())
