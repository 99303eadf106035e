"""Short seeded random stress on the RTL (the long run is `make stress SEEDS=N`).

Random interleavings of the operation catalogue with four device threads
hammering the same pages, every seed under all three policies, with the
golden scoreboard on every response and every checker on the trace. No
violation, scoreboard error or device error is allowed under
notify-inside-lock and secondary-with-flush; under deferred the fraction of
seeds that expose a violation is reported, and at least one of the seeds
must expose one: runs are deterministic per seed, and over the default 200
seeds about 2-3 % do (`make stress SEEDS=2000` gives 54/2000), so a checker
or host model that stopped seeing the deferred races fails here. Each failure
prints its seed and replay command.
"""
from __future__ import annotations

import os
from pathlib import Path

from tb.stress import report, run_stress

ROOT = Path(__file__).resolve().parent.parent
FIRST = int(os.environ.get("SEED", "0"))
N = int(os.environ.get("STRESS_SEEDS", "200"))
POLICIES = ["notify-inside-lock", "deferred", "secondary-with-flush"]


def test_short_stress_on_rtl(record_property):
    """Through the default path: a Dask LocalCluster (one worker, one simulator), shards, tally."""
    seeds = list(range(FIRST, FIRST + N))
    out = ROOT / "build" / "cosim" / "test_stress"
    s = run_stress(seeds, POLICIES, out=out, jobs=1, quiet=True)
    text = report(s)
    print(text)
    d = s["policies"]["deferred"]
    record_property("deferred_violation_fraction", round(d["fraction"], 3))
    record_property("accesses_per_second", s["accesses_per_second"])
    assert s["n_seeds"] == N and all(p["seeds"] == N for p in s["policies"].values())
    assert s["run"]["engine"] == "dask" and s["duplicates"] == 0 and s["missing"] == 0
    assert s["device_accesses"] > 20 * N * len(POLICIES)
    assert not s["problems"], text
    assert d["fraction"] > 0, f"no seed exposed a violation under deferred\n{text}"
    # race-window coverage, from the simulator process's database (model.coverage)
    from model.coverage import load

    c = s["coverage"]
    h = load(c["files"]["xml"])
    assert Path(c["files"]["txt"]).exists() and c["bins_hit"] == len(h) > 0
    assert {b.policy for b in h} == set(POLICIES)
    from tb.shards import read

    lines = [ln for _f, _n, ln in read(out)]
    assert len(lines) == N and all(ln["device"] == "rtl" for ln in lines)
    assert max(h.values()) <= N and sum(len(r["bins"]) for ln in lines for r in ln["runs"].values()) > 0  # a hit is a run


def test_directed_stress_on_rtl():
    """`make stress` with coverage-directed schedules (model.director) on the RTL: the safe
    policies stay clean, the runs are marked directed and the coverage file is written."""
    from model.coverage import load

    from tb.shards import read

    seeds = list(range(FIRST, FIRST + 20))
    out = ROOT / "build" / "cosim" / "test_stress_directed"
    s = run_stress(seeds, POLICIES, out=out, jobs=1, quiet=True, directed=True, engine_kind="local")
    text = report(s)
    assert not s["problems"], text
    assert s["directed"] and all(ln["mode"] == "directed" for _f, _n, ln in read(out)) and "coverage-directed" in text
    assert load(s["coverage"]["files"]["xml"])


def test_stress_generator_is_deterministic():
    from model.random_scenario import random_scenario_text

    assert random_scenario_text(5) == random_scenario_text(5)
    assert random_scenario_text(5) != random_scenario_text(6)
