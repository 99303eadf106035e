"""Stress throughput on a Dask LocalCluster against the in-process path, side by side in one run.

    .venv/bin/python -m tb.bench_cluster --ref-seeds 200 --rtl-seeds 40 --out build/bench_cluster

The same seeds run four ways through `tb.stress.run_stress` (shards, tally
and all): the reference device and the RTL, each on this process's threads
(`--in-process`, the path `make stress` took before Dask: one thread for the
reference device, one simulator per thread for the RTL) and on a fresh
LocalCluster (one worker process per core, one simulator per worker).
Each way first runs one seed per worker thread (the warm-up: module imports
in the workers, one simulator start each), then the measured seeds. Printed
per way: seeds/s and wall time of the measured seeds, the cluster's start-up
(scheduler, nannies, workers), the warm-up, seeds/s end to end (start-up and
warm-up included) and the CPU time per measured seed summed over every
process of the run (driver, scheduler,
nannies, workers, simulators: on a machine shared with other work the
wall-clock figures move with the load, the CPU figures much less); then the
ratios LocalCluster / in-process. The Dask overhead per task is measured on
the same cluster with empty tasks, and given per run (a run is one seed
under one policy) at the batch size stress uses.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

from model.cli import out_dir, positive_int, run_main
from tb.stress import BATCH, open_engine, run_stress

POLICIES = ["notify-inside-lock", "deferred", "secondary-with-flush"]


def noop() -> None:
    """An empty task: what Dask costs around a batch."""


def task_overhead(engine, n: int = 200) -> dict:
    """Mean wall time of an empty task on the cluster: one at a time (latency), and `n` at once (throughput)."""
    c = engine.client
    c.submit(noop, pure=False).result()
    t0 = time.perf_counter()
    for _ in range(20):
        c.submit(noop, pure=False).result()
    one = (time.perf_counter() - t0) / 20
    t0 = time.perf_counter()
    c.gather([c.submit(noop, pure=False) for _ in range(n)])
    many = (time.perf_counter() - t0) / n
    return {"latency_ms": round(1000 * one, 2), "per_task_ms_in_bulk": round(1000 * many, 2)}


def tree_cpu() -> dict[int, float]:
    """CPU seconds (user + system) of this process and each of its descendants (worker
    processes, nannies, the scheduler, simulators), by pid."""
    import psutil

    me = psutil.Process()
    out = {}
    for p in [me, *me.children(recursive=True)]:
        try:
            t = p.cpu_times()
            out[p.pid] = t.user + t.system
        except psutil.Error:
            pass
    return out


def one_way(device: str, kind: str, seeds: range, out: Path, jobs: int) -> dict:
    t0 = time.monotonic()
    eng = open_engine(kind, jobs=jobs if kind == "dask" else (1 if device == "ref" else jobs),
                      sim_out=out / "sims")
    try:
        # warm-up: a one-seed batch per worker thread imports the modules and starts the simulators,
        # so the measured run is the steady state (the warm-up is reported as start-up)
        w0 = time.monotonic()
        run_stress(range(10**6, 10**6 + eng.slots), POLICIES, out=out / "warmup", device=device, engine=eng,
                   quiet=True, batch=1)
        warm = time.monotonic() - w0
        c0 = tree_cpu()
        s = run_stress(seeds, POLICIES, out=out, device=device, engine=eng, quiet=True)
        c1 = tree_cpu()  # before the simulators and workers end
        over = task_overhead(eng) if kind == "dask" else None
    finally:
        eng.close()
    cpu = sum(v - c0.get(pid, 0.0) for pid, v in c1.items())
    total = time.monotonic() - t0
    r = s["run"]
    return {"device": device, "engine": kind, "where": eng.where, "seeds": len(seeds),
            "seeds_per_second": r["seeds_per_second"], "run_seconds": r["wall_seconds"],
            "startup_seconds": round(eng.start_seconds, 2), "warmup_seconds": round(warm, 2),
            "first_result_seconds": r["first_result_seconds"],
            "total_seconds": round(total, 2), "cpu_seconds": round(cpu, 2),
            "cpu_ms_per_seed": round(1000 * cpu / len(seeds), 1), "end_to_end_seeds_per_second": round(len(seeds) / total, 2),
            "violating": {p: v["violating"] for p, v in s["policies"].items()}, "task_overhead": over,
            "problems": s["n_problems"] + s["duplicates"] + (s.get("missing") or 0)}


def median_of(runs: list[dict]) -> dict:
    """The first run's record with each number replaced by the median over `runs`."""
    out = dict(runs[0])
    for k, v in runs[0].items():
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            out[k] = round(statistics.median(r[k] for r in runs), 2)
    out["task_overhead"] = runs[0]["task_overhead"] and {
        k: round(statistics.median(r["task_overhead"][k] for r in runs), 2) for k in runs[0]["task_overhead"]}
    out["problems"] = sum(r["problems"] for r in runs)
    out["runs"] = len(runs)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tb.bench_cluster", description=__doc__.splitlines()[0])
    ap.add_argument("--ref-seeds", type=positive_int, default=200)
    ap.add_argument("--rtl-seeds", type=positive_int, default=40)
    ap.add_argument("--jobs", type=positive_int, default=os.cpu_count() or 1,
                    help="LocalCluster workers, and simulators of the in-process RTL path (default: cores)")
    ap.add_argument("--out", type=out_dir, default="build/bench_cluster")
    ap.add_argument("--reps", type=positive_int, default=1,
                    help="repetitions, in-process and LocalCluster alternating; each figure is the median")
    a = ap.parse_args(argv)
    res = []
    for device, n in (("ref", a.ref_seeds), ("rtl", a.rtl_seeds)):
        reps: dict[str, list[dict]] = {"local": [], "dask": []}
        for k in range(a.reps):
            for kind in ("local", "dask") if k % 2 == 0 else ("dask", "local"):
                print(f"[bench] {device} {kind}: {n} seeds ({k + 1}/{a.reps}) ...", flush=True)
                reps[kind].append(one_way(device, kind, range(n), a.out / f"{device}_{kind}", a.jobs))
        for kind in ("local", "dask"):
            res.append(median_of(reps[kind]))
    lines = [f"stress throughput, same seeds, {os.cpu_count()} core(s), load average "
             f"{os.getloadavg()[0]:.1f} at the end:",
             f"  {'device':<6} {'path':<36} {'seeds':>5} {'seeds/s':>8} {'run s':>7} {'cluster s':>9} "
             f"{'warm-up s':>9} {'end-to-end seeds/s':>18} {'CPU ms/seed':>11}"]
    for r in res:
        lines.append(f"  {r['device']:<6} {r['where']:<36} {r['seeds']:>5} {r['seeds_per_second']:>8} "
                     f"{r['run_seconds']:>7} {r['startup_seconds']:>9} {r['warmup_seconds']:>9} "
                     f"{r['end_to_end_seeds_per_second']:>18} {r['cpu_ms_per_seed']:>11}")
    ratios = {}
    for device in ("ref", "rtl"):
        loc, dsk = (next(r for r in res if r["device"] == device and r["engine"] == k) for k in ("local", "dask"))
        ratios[device] = {"run": round(dsk["seeds_per_second"] / loc["seeds_per_second"], 2),
                          "end_to_end": round(dsk["end_to_end_seeds_per_second"]
                                              / loc["end_to_end_seeds_per_second"], 2),
                          "cpu_per_seed": round(dsk["cpu_ms_per_seed"] / loc["cpu_ms_per_seed"], 2)}
        same = dsk["violating"] == loc["violating"]
        lines.append(f"  {device}: LocalCluster / in-process = {ratios[device]['run']}x seeds/s while running, "
                     f"{ratios[device]['end_to_end']}x end to end, {ratios[device]['cpu_per_seed']}x the CPU "
                     f"per seed (all processes); same verdicts: {same}")
        ov = dsk["task_overhead"]
        runs = BATCH[device] * len(POLICIES)
        lines.append(f"  {device}: Dask overhead per task {ov['latency_ms']} ms one at a time, "
                     f"{ov['per_task_ms_in_bulk']} ms in bulk; per run ({BATCH[device]} seeds x "
                     f"{len(POLICIES)} policies a task) {ov['latency_ms'] / runs:.3f} ms")
    print("\n".join(lines))
    (a.out / "bench_cluster.json").write_text(json.dumps({"ways": res, "ratios": ratios}, indent=1) + "\n")
    print(f"wrote {a.out / 'bench_cluster.json'}")
    return 1 if any(r["problems"] for r in res) else 0


if __name__ == "__main__":
    run_main(main)
