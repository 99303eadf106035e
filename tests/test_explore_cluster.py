"""Exploration as Dask tasks (tb.explore_cluster) on a real LocalCluster of two workers.

The expected values come from the explorer run in this process
(model.explore.Explorer), never from the cluster code: the split
enumeration must give the same verdict, the same violating schedule and
the same numbers of schedules, cut schedules and states; the per-policy
units the same results; and a worker killed in the middle of a split run
must neither lose a subtree nor count one twice.
"""
from __future__ import annotations

import os
import threading
from collections import Counter
from pathlib import Path

import pytest

from model.explore import Explorer, load_threads
from tb import shards
from tests.test_explore import COW_ONE, ZAP  # the scenarios the single-process explorer tests use
from tb.explore_cluster import Subtree, enumerate_subtree, explore_policies, explore_split, main, open_engine



def counts(r) -> tuple:
    f = r.found
    return (r.schedules, r.cut, r.states, r.exhaustive, None if f is None else
            (sorted(f.rules), [str(m) for m in f.schedule], f.preemptions))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    eng = open_engine("dask", jobs=2, out=tmp_path_factory.mktemp("workers"))
    yield eng
    eng.close()


@pytest.fixture(scope="module")
def cow_one(tmp_path_factory) -> Path:
    f = tmp_path_factory.mktemp("scn") / "cow_one.scn"
    f.write_text(COW_ONE)
    return f


@pytest.fixture(scope="module")
def single(cow_one):
    """The single-process enumerations (no reduction) the split runs must match: zap_threads
    under deferred at bound 0 (a violation), cow_one under notify-inside-lock at bound 1 (clean,
    two levels of iterative deepening)."""
    return {"deferred": Explorer(load_threads(ZAP), "deferred", preemptions=0, reduce=False).explore(),
            "notify-inside-lock": Explorer(load_threads(cow_one), "notify-inside-lock", preemptions=1,
                                           reduce=False).explore()}


def test_a_split_enumeration_has_the_single_process_verdict_and_counts(cluster, single, tmp_path):
    want = single["deferred"]
    assert want.found is not None and want.found.rules == {"use-after-free"}
    got = explore_split(cluster, ZAP, "deferred", tmp_path, split=8, bound=0, quiet=True)
    assert counts(got) == counts(want)
    lines = [ln for _f, _n, ln in shards.read(tmp_path)]
    assert len(lines) == 4 and len({ln["worker"] for ln in lines}) >= 1  # four subtrees 8 moves deep


def test_a_worker_killed_mid_split_loses_no_subtree_and_counts_none_twice(cluster, single, cow_one, tmp_path):
    client = cluster.client
    killed: dict = {}

    def kill_one(line: dict) -> None:
        if killed:
            return
        busy = [w for w, keys in client.processing().items() if keys]
        assert busy, "no worker had a subtree in flight after the first result"
        killed["addr"] = busy[0]
        client.run(lambda: threading.Timer(0.05, os._exit, (1,)).start(), workers=[busy[0]])

    got = explore_split(cluster, cow_one, "notify-inside-lock", tmp_path, split=6, bound=1, quiet=True,
                        on_line=kill_one)
    assert killed, "the run ended before a worker could be killed"
    per_unit = Counter(ln["seed"] for _f, _n, ln in shards.read(tmp_path))
    assert set(per_unit.values()) == {1}, f"units written twice: {per_unit}"
    assert killed["addr"] not in client.scheduler_info()["workers"], "the killed worker is still there"
    want = single["notify-inside-lock"]
    assert want.found is None and want.bound == 1 and want.schedules > 100
    assert counts(got) == counts(want) and got.bound == 1
    # known-bad: the same sum without one subtree (a lost unit) does not match
    last = [ln["subtree"] for _f, _n, ln in shards.read(tmp_path) if ln["bound"] == 1]
    assert len(last) > 4 and sum(s["schedules"] for s in last) <= want.schedules
    assert sum(s["schedules"] for s in last[1:]) != want.schedules


def test_the_driver_and_its_subtrees_partition_the_tree(single):
    """Without a cluster: above the split the driver counts, below it the subtrees; the sum is the tree."""
    ex = Explorer(load_threads(ZAP), "deferred", preemptions=0, reduce=False)
    top, units = Subtree(), []
    enumerate_subtree(ex, [], 0, None, top, stop_at=6, emit=lambda pre, bud: units.append((pre, bud)))
    subs = []
    for pre, bud in units:
        s = Subtree()
        enumerate_subtree(ex, pre, bud, None, s)
        subs.append(s)
    assert top.states + sum(s.states for s in subs) == single["deferred"].states
    assert sum(s.schedules for s in subs) + top.schedules == single["deferred"].schedules
    assert len({tuple(map(str, pre)) for pre, _ in units}) == len(units) == 3


def test_policies_as_units_give_the_explorers_results_and_resume(cluster, tmp_path):
    sc = load_threads(ZAP)
    want = Explorer(sc, "deferred", preemptions=1, method="hybrid").explore()
    res, hits = explore_policies(cluster, ZAP, ["deferred"], tmp_path, method="hybrid", bound=1, coverage=True,
                                 quiet=True)
    assert counts(res["deferred"]) == counts(want)
    assert hits and all(p == "deferred" and n >= 1 for (_k, p), n in hits.items())
    # a rerun resumes: nothing new is run, the same result comes back from the shards
    seen: list = []
    again, _ = explore_policies(cluster, ZAP, ["deferred"], tmp_path, bound=1, coverage=True, quiet=True,
                                resume=True, on_line=seen.append)
    assert seen == [] and counts(again["deferred"]) == counts(want)
    with pytest.raises(shards.ShardError, match="field 'bound'"):
        explore_policies(cluster, ZAP, ["deferred"], tmp_path, bound=0, coverage=True, quiet=True, resume=True)


def test_cli_errors_are_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.scn"
    bad.write_text("scenario x\nnonsense line\n")
    assert main([str(bad), "--in-process", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error:") and "bad.scn" in err, err
    with pytest.raises(SystemExit):
        main([str(ZAP), "--split", "3"])  # --split without --no-reduce
