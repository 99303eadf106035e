"""Stress on Dask (tb.stress_cluster), result shards (tb.shards) and their tally (tb.stress_tally).

The cluster tests start a real LocalCluster of two worker processes and run
the reference device (no simulator, so a seed costs milliseconds): one kills
a worker in the middle of a run, one interrupts the driver and resumes. Both
compare the merged summary with totals computed here, seed by seed, straight
from the host model (model.scheduler.run_scenario_sync), so neither the
distribution, the shards nor the tally can hide a lost or doubled seed.
"""
from __future__ import annotations

import json
import os
import threading
import tracemalloc
from collections import Counter
from pathlib import Path

import pytest

from model import coverage
from tb import shards
from tb.stress import main, open_engine, run_stress
from tb.stress_tally import Tally

POLICIES = ["notify-inside-lock", "deferred", "secondary-with-flush"]
N = 40


def expected_totals(seeds: range) -> dict:
    """Per policy: seeds with a violation, device accesses; and the coverage hits (runs per bin)."""
    from model.random_scenario import random_scenario
    from model.scheduler import run_scenario_sync

    viol: Counter[str] = Counter()
    acc: Counter[str] = Counter()
    hits: Counter = Counter()
    for seed in seeds:
        sc = random_scenario(seed)
        for pol in POLICIES:
            r = run_scenario_sync(sc, pol, seed, mode="random")
            viol[pol] += bool(r.failures)
            acc[pol] += r.metrics["dev_commands"]
            hits.update(set(coverage.bins_of(r.trace, pol)))
    return {"violating": dict(viol), "accesses": dict(acc), "hits": hits}


def totals_of(s: dict) -> dict:
    return {"violating": {p: v["violating"] for p, v in s["policies"].items()},
            "accesses": {p: v["accesses"] for p, v in s["policies"].items()},
            "hits": coverage.load(s["coverage"]["files"]["xml"])}


def shard_seeds(out: Path) -> Counter[int]:
    return Counter(line["seed"] for _f, _n, line in shards.read(out))


@pytest.fixture(scope="module")
def expected():
    return expected_totals(range(N))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    eng = open_engine("dask", jobs=2, sim_out=tmp_path_factory.mktemp("workers"))
    yield eng
    eng.close()


def test_a_worker_killed_mid_run_loses_no_seed_and_counts_none_twice(cluster, expected, tmp_path):
    client = cluster.client
    killed: dict = {}

    def kill_one(line: dict) -> None:
        if killed:
            return
        busy = [w for w, keys in client.processing().items() if keys]
        assert busy, "no worker had a batch in flight after the first result"
        killed["addr"] = busy[0]
        killed["after"] = line["seed"]
        # the worker process ends itself right after answering (os._exit: no clean-up, as on a crash)
        client.run(lambda: threading.Timer(0.05, os._exit, (1,)).start(), workers=[busy[0]])

    s = run_stress(range(N), POLICIES, out=tmp_path, device="ref", batch=2, engine=cluster, quiet=True,
                   on_line=kill_one)
    assert killed, "the run ended before a worker could be killed"
    per_seed = shard_seeds(tmp_path)
    assert sorted(per_seed) == list(range(N)), "a seed is missing from the shards"
    assert set(per_seed.values()) == {1}, f"seeds written twice: {[k for k, v in per_seed.items() if v > 1]}"
    assert s["n_seeds"] == N and s["duplicates"] == 0 and s["missing"] == 0 and s["run"]["n_not_run"] == 0
    assert killed["addr"] not in client.scheduler_info()["workers"], "the killed worker is still there"
    after = [ln["worker"] for _f, _n, ln in shards.read(tmp_path)][-3:]
    assert killed["addr"] not in after, "lines from the killed worker after it died"
    assert totals_of(s) == expected


def test_an_interrupted_run_resumes_to_the_totals_of_one_full_run(cluster, expected, tmp_path):
    k = 9
    seen: list[int] = []

    def stop_after_k(line: dict) -> None:
        seen.append(line["seed"])
        if len(seen) == k:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_stress(range(N), POLICIES, out=tmp_path, device="ref", batch=3, engine=cluster, quiet=True,
                   on_line=stop_after_k)
    assert sum(shard_seeds(tmp_path).values()) == k, "the interrupted run did not leave exactly its k lines"
    s = run_stress(range(N), POLICIES, out=tmp_path, device="ref", batch=3, engine=cluster, quiet=True,
                   resume=True)
    assert s["run"]["new_seeds"] == N - k, s["run"]
    assert set(shard_seeds(tmp_path).values()) == {1} and len(shard_seeds(tmp_path)) == N
    assert s["shards"] == 2 and s["duplicates"] == 0 and s["missing"] == 0
    assert totals_of(s) == expected
    # --merge alone gives the same summary
    assert main(["--merge", "--out", str(tmp_path), "--quiet"]) == 0
    merged = json.loads((tmp_path / "stress.json").read_text())
    assert {p: v["violating"] for p, v in merged["policies"].items()} == expected["violating"]


# --------------------------------------------------------------------------- no cluster


def line(seed: int, **runs) -> dict:
    base = {"failed": [], "accesses": 10, "cycles": 100, "bins": []}
    return {"seed": seed, "mode": "random", "device": "ref",
            "runs": {p: {**base, **runs.get(p.replace("-", "_"), {})} for p in POLICIES}}


def write_shard(d: Path, texts: list[str]) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    f = d / "shard-20260101T000000-1.jsonl"
    f.write_text("".join(texts))
    (d / shards.MANIFEST).write_text(json.dumps({"device": "ref", "mode": "random", "policies": POLICIES}))
    return f


@pytest.mark.parametrize("bad, field", [
    ('{"seed": 2, "runs": {}', "not JSON"),
    ('[1, 2]\n', "field 'seed'"),
    ('{"seed": "x", "runs": {}}\n', "field 'seed'"),
    ('{"seed": 2, "runs": []}\n', "field 'runs'"),
    ('{"seed": 2, "runs": {"lazy": {}}}\n', "field 'runs'"),
    ('{"seed": 2, "runs": {"deferred": {"bins": ["nope|x|read|hit"]}}}\n', "field 'bins'"),
])
def test_a_corrupt_shard_line_is_one_line_naming_file_and_line(tmp_path, capsys, bad, field):
    f = write_shard(tmp_path, [json.dumps(line(0)) + "\n", json.dumps(line(1)) + "\n", bad])
    assert main(["--merge", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith(f"error: {f}:3: ") and field in err, err


def test_resuming_with_other_settings_is_refused(tmp_path, capsys):
    run_stress(range(2), POLICIES, out=tmp_path, device="ref", engine_kind="local", quiet=True)
    with pytest.raises(shards.ShardError, match=r"run.json: field 'policies'"):
        run_stress(range(3), ["deferred"], out=tmp_path, device="ref", engine_kind="local", quiet=True, resume=True)
    s = run_stress(range(3), POLICIES, out=tmp_path, device="ref", engine_kind="local", quiet=True, resume=True)
    assert s["run"]["new_seeds"] == 1 and s["n_seeds"] == 3


def test_the_tally_counts_a_duplicate_once_and_flags_it(tmp_path):
    write_shard(tmp_path, [json.dumps(line(s, deferred={"failed": ["ordering"]})) + "\n" for s in (0, 1, 1, 2)])
    t = Tally(POLICIES, lambda *a: "r", lambda *a: "w").read_dir(tmp_path)
    s = t.summary()
    assert s["n_seeds"] == 3 and s["duplicates"] == 1
    assert s["policies"]["deferred"]["violating"] == 3 and s["policies"]["deferred"]["violating_seeds"] == [0, 1, 2]
    assert s["n_problems"] == 0  # deferred violations are expected, not problems
    write_shard(tmp_path, [json.dumps(line(0, notify_inside_lock={"failed": ["stale"]})) + "\n"])
    s = Tally(POLICIES, lambda *a: "r", lambda *a: "w").read_dir(tmp_path).summary()
    assert s["n_problems"] == 1 and s["problems"][0]["policy"] == "notify-inside-lock"


def retained_bytes(tally_cls: type, n: int) -> int:
    """Memory a tally holds after `n` seed lines (a tenth of them violating under deferred):
    what is still allocated by the tally's modules or by this file's `line` once the lines are
    tallied (other threads of the process, such as a Dask client's, do not count)."""
    import tb.shards
    import tb.stress_tally

    tracemalloc.start()
    t = tally_cls(POLICIES, lambda *a: "r", lambda *a: "w")
    for s in range(n):
        t.add(line(s, deferred={"failed": ["ordering"] if s % 10 == 0 else []}), "x")
    snap = tracemalloc.take_snapshot().filter_traces(
        [tracemalloc.Filter(True, f) for f in (__file__, tb.stress_tally.__file__, tb.shards.__file__)])
    tracemalloc.stop()
    assert t.n_seeds == n
    return sum(st.size for st in snap.statistics("filename"))


class RowKeepingTally(Tally):
    """Known-bad: keeps every line, like the summary before shards did."""

    def add(self, line: dict, where: str = "") -> bool:
        self.__dict__.setdefault("rows", []).append(line)
        return super().add(line, where)


def test_tally_memory_is_flat_in_the_number_of_seeds():
    small, big = retained_bytes(Tally, 300), retained_bytes(Tally, 3_000)
    assert big < small + 20_000, f"tallying 10x the seeds kept {big - small} more bytes"
    small, big = retained_bytes(RowKeepingTally, 300), retained_bytes(RowKeepingTally, 3_000)
    assert big > small + 1_000_000, "the memory check does not see a tally that keeps every line"


def test_coverage_add_hits_matches_sampling_one_hit_at_a_time(tmp_path):
    from model.random_scenario import random_scenario
    from model.scheduler import run_scenario_sync

    coverage.reset()
    total: Counter = Counter()
    for seed in range(4):
        r = run_scenario_sync(random_scenario(seed), "deferred", seed, mode="random")
        got = set(coverage.bins_of(r.trace, "deferred"))
        coverage.sample(got)
        total.update(got)
    one_by_one = coverage.export(tmp_path / "a.xml").read_text()
    coverage.reset()
    coverage.add_hits(total)
    at_once = coverage.export(tmp_path / "b.xml").read_text()
    coverage.reset()
    assert max(total.values()) > 1 and at_once == one_by_one


def test_progress_is_a_bar_on_a_terminal_and_sparse_lines_elsewhere(monkeypatch, capsys):
    from tb.stress_cluster import SeedProgress

    monkeypatch.setenv("TTY_COMPATIBLE", "1")  # rich treats the console as a terminal
    monkeypatch.delenv("CI", raising=False)
    with SeedProgress(10, "t") as p:
        assert p.live and not p.plain
    monkeypatch.setenv("CI", "true")
    with SeedProgress(10, "t") as p:
        assert not p.live and p.plain
    monkeypatch.setenv("TTY_COMPATIBLE", "0")
    monkeypatch.delenv("CI")
    capsys.readouterr()
    with SeedProgress(1000, "t", every=3600) as p:
        for _ in range(1000):
            p.advance()
    out = capsys.readouterr().out.splitlines()
    assert out == [out[0]] and out[0].startswith("[t] 1000/1000 seeds"), out  # one line, not a thousand
    with SeedProgress(10, "t", quiet=True) as p:
        p.advance(10)
    assert capsys.readouterr().out == ""


def test_seed_set_counts_each_seed_once():
    s = shards.SeedSet()
    assert [s.add(x) for x in (0, 5, 5, 1 << 20, 0)] == [True, True, False, True, False]
    assert len(s) == 3 and 5 in s and 6 not in s and (1 << 20) in s
