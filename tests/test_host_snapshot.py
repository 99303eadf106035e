"""A host restored from its setup's snapshot (model.host_snapshot) runs exactly as one built for the run.

Expected values are the runs with the host built the ordinary way
(`snapshots=None`); the restored runs must give the same trace, verdicts,
initial and final values and metrics, seed by seed and policy by policy,
with one template per distinct setup. Two known-bad restores (memory not
written back, the policy of the template kept) are seen to differ.
"""
from __future__ import annotations

import pytest

from model.host_snapshot import HostSnapshots, Template
from model.random_scenario import random_scenario
from model.scenario import ScenarioError
from model.scheduler import run_scenario_sync

POLICIES = ("notify-inside-lock", "deferred", "secondary-with-flush")
SEEDS = range(30)


def outcome(r) -> tuple:
    return (r.trace.events, [(v.rule, v.ok, v.message) for v in r.verdicts], r.initial, r.final, r.metrics)


def differing(snaps: HostSnapshots, seeds=SEEDS) -> list[tuple[int, str]]:
    bad = []
    for seed in seeds:
        sc = random_scenario(seed)
        for pol in POLICIES:
            a = run_scenario_sync(sc, pol, seed, mode="random")
            b = run_scenario_sync(sc, pol, seed, mode="random", snapshots=snaps)
            if outcome(a) != outcome(b):
                bad.append((seed, pol))
    return bad


def test_restored_hosts_run_exactly_as_built_ones():
    snaps = HostSnapshots()
    assert differing(snaps) == []
    assert snaps.unpicklable == 0
    assert snaps.built + snaps.restored == len(SEEDS) * len(POLICIES)
    assert snaps.built <= len(SEEDS)  # one host built per distinct setup, restored for the other runs


def test_tiny_scenarios_share_their_setup():
    snaps = HostSnapshots()
    tiny = {"pages": 1, "cpus": 1, "ops_per_cpu": 0, "devs": 1, "dev_accesses": 0}
    for s in range(40):
        run_scenario_sync(random_scenario(s, **tiny), "deferred", s, mode="random", snapshots=snaps)
    assert snaps.built + snaps.restored == 40 and snaps.built < 10, (snaps.built, snaps.restored)


def test_a_restore_without_the_memory_or_with_the_templates_policy_differs(monkeypatch):
    restore = Template.restore

    def no_memory(self, sc, device, mem, trace, policy):
        pages, self.pages = self.pages, []
        try:
            return restore(self, sc, device, mem, trace, policy)
        finally:
            self.pages = pages

    monkeypatch.setattr(Template, "restore", no_memory)
    assert differing(HostSnapshots(), range(3))
    monkeypatch.setattr(Template, "restore", restore)

    def template_policy(self, sc, device, mem, trace, policy):
        from model.notifier import POLICIES as P

        return restore(self, sc, device, mem, trace, P[0])

    monkeypatch.setattr(Template, "restore", template_policy)
    assert any(pol == "deferred" for _s, pol in differing(HostSnapshots(), range(10)))


def test_a_setup_that_fails_fails_the_same_way():
    from model.scheduler import Layout

    sc = random_scenario(3, pages=4)
    small = Layout(pool_frames=3)  # fewer frames than the setup's pages: the allocator runs out
    errs = []
    for snaps in (None, HostSnapshots()):
        with pytest.raises(ScenarioError) as e:
            run_scenario_sync(sc, "deferred", 0, snapshots=snaps, layout=small)
        errs.append(str(e.value))
    assert errs[0] == errs[1] and "cannot set up this page" in errs[0], errs


def test_rtl_stress_rows_are_the_same_with_and_without_snapshots(tmp_path):
    """The RTL stress path (tb.cosim_server.stress_batch: pyuvm environment, golden scoreboard,
    checkers): every row equal with the hosts built and with them restored."""
    from tb.rtldev import CosimServer

    keys = ("seed", "policy", "failed", "messages", "scoreboard", "stats", "cycles", "bin_list", "events", "error")
    with CosimServer(out=tmp_path / "sim") as srv:
        rows = {snap: srv.call("stress_batch", seeds=list(range(6)), policies=list(POLICIES), snapshot=snap)
                for snap in (False, True)}
    built, restored = ([{k: r.get(k) for k in keys} for r in rows[s]] for s in (False, True))
    assert len(built) == 6 * len(POLICIES) and not any(r["error"] for r in built)
    assert restored == built
    hosts = rows[True][0]["batch"]["hosts"]  # this process's counts, after the second batch
    assert hosts["restored"] >= 2 * 6 and hosts["built"] <= 6, hosts
