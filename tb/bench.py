"""`make bench`: co-simulation speed, with every check on.

    python -m tb.bench --out build/bench [--seeds 6] [--skip-cold]

Measures and prints (and writes bench.json):

* Verilator build time of the co-simulation model: cold (empty build
  directory, same options as tb.rtldev.build) and cached (nothing changed).
* Idle simulation speed: cycles per second with no Python activity (the
  clock is Verilog, the ports sleep).
* The stress workload (tb.stress: random catalogue interleavings, four
  device threads) on the RTL, through the pyuvm environment with the golden
  scoreboard on every response and every checker on every trace:
  device accesses per wall-second and simulated cycles per second, for
  - the `make stress` scenarios (16 device accesses per thread), and
  - the same generator with 250 accesses per device thread (device-bound),
    in one simulator process and in one process per core.
  Wall time is measured inside the simulator around the batch (scenario
  setup, scheduling, simulation, checking), so process start-up is not in it.
* The same device-bound workload on the reference device (pure Python), as a
  yardstick for what the host model and checkers cost without a simulator.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
POLICIES = ["notify-inside-lock", "deferred", "secondary-with-flush"]


def build_times(skip_cold: bool) -> dict:
    from tb import toolchain
    from tb.rtldev import build

    out: dict = {}
    if not skip_cold:
        d = toolchain.BUILD / "rtl" / "cosim_benchcold"
        shutil.rmtree(d, ignore_errors=True)
        t = time.monotonic()
        build(tag="cosim_benchcold")
        out["cold_seconds"] = round(time.monotonic() - t, 1)
        shutil.rmtree(d, ignore_errors=True)
    build()  # make sure the real one exists
    t = time.monotonic()
    build()
    out["cached_seconds"] = round(time.monotonic() - t, 2)
    return out


def stress_figures(srv, seeds: list[int], **gen) -> dict:
    rows = srv.call("stress_batch", seeds=seeds, policies=POLICIES, latency=(2, 5), reorder=True, **gen)
    bad = [r for r in rows if r.get("error")]
    if bad:
        raise RuntimeError(f"bench run failed: {bad[0]}")
    wall = rows[0]["batch"]["wall"]
    acc = sum(r["stats"]["responses"] for r in rows)
    cyc = sum(r["cycles"] for r in rows)
    cbs = rows[0]["batch"]["callbacks"]
    return {"runs": len(rows), "device_accesses": acc, "cycles": cyc, "seconds": round(wall, 3),
            "accesses_per_second": round(acc / wall), "cycles_per_second": round(cyc / wall),
            "python_wakes_per_access": round(cbs / acc, 2),
            "scoreboard_errors": sum(len(r["scoreboard"].get("errors", [])) for r in rows)}


def parallel_figures(seeds: list[int], jobs: int, **gen) -> dict:
    from concurrent.futures import ThreadPoolExecutor

    from tb.rtldev import CosimServer

    servers = [CosimServer(out=ROOT / "build" / "bench" / f"sim_par{i}") for i in range(jobs)]
    try:
        for s in servers:  # warm up (imports, first reset)
            s.call("ping", cycles=10)
        t0 = time.monotonic()
        with ThreadPoolExecutor(max_workers=jobs) as ex:
            parts = list(ex.map(lambda i: stress_figures(servers[i], seeds[i::jobs], **gen), range(jobs)))
        wall = time.monotonic() - t0
    finally:
        for s in servers:
            s.close()
    acc = sum(p["device_accesses"] for p in parts)
    cyc = sum(p["cycles"] for p in parts)
    return {"processes": jobs, "device_accesses": acc, "cycles": cyc, "seconds": round(wall, 3),
            "accesses_per_second": round(acc / wall), "cycles_per_second": round(cyc / wall)}


def ref_figures(seeds: list[int], **gen) -> dict:
    from model.scheduler import run_scenario_sync
    from tb.stress import random_scenario

    t0 = time.perf_counter()
    acc = cyc = 0
    for seed in seeds:
        sc = random_scenario(seed, **gen)
        for pol in POLICIES:
            r = run_scenario_sync(sc, pol, seed, mode="random")
            acc += r.metrics["dev_commands"]
            cyc += r.metrics["cycles"]
    wall = time.perf_counter() - t0
    return {"device_accesses": acc, "cycles": cyc, "seconds": round(wall, 3),
            "accesses_per_second": round(acc / wall)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tb.bench", description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="build/bench")
    ap.add_argument("--seeds", type=int, default=8, help="seeds of the device-bound workload")
    ap.add_argument("--skip-cold", action="store_true", help="do not measure a cold build")
    a = ap.parse_args(argv)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    from tb.rtldev import CosimServer

    res: dict = {"machine": {"cpus": os.cpu_count(), "load_average": list(os.getloadavg())}}
    print("[bench] Verilator build (cold and cached) ...", flush=True)
    res["build"] = build_times(a.skip_cold)
    heavy = {"dev_accesses": 250}
    with CosimServer(out=out / "sim") as srv:
        res["startup_seconds"] = round(srv.start_seconds, 2)
        srv.call("ping", cycles=10)
        idle = srv.call("ping", cycles=200_000)
        res["idle_cycles_per_second"] = round(200_000 / idle["seconds"])
        print("[bench] stress workload, make stress scenarios ...", flush=True)
        res["stress"] = stress_figures(srv, list(range(40)))
        print("[bench] stress workload, device-bound (250 accesses per device thread) ...", flush=True)
        res["stress_device_bound"] = stress_figures(srv, list(range(a.seeds)), **heavy)
    jobs = min(2, os.cpu_count() or 1)
    if jobs > 1:
        print(f"[bench] device-bound stress on {jobs} simulator processes ...", flush=True)
        res["stress_device_bound_parallel"] = parallel_figures(list(range(2 * a.seeds)), jobs, **heavy)
    res["reference_device_same_workload"] = ref_figures(list(range(a.seeds)), **heavy)
    res["machine"]["load_average_after"] = list(os.getloadavg())
    (out / "bench.json").write_text(json.dumps(res, indent=1))

    b, s, h = res["build"], res["stress"], res["stress_device_bound"]
    print("\nco-simulation benchmark (ats_dev_top in Verilator, all checking on)")
    print(f"  Verilator build            cold {b.get('cold_seconds', '-')} s, cached {b['cached_seconds']} s")
    print(f"  simulator start-up         {res['startup_seconds']} s")
    print(f"  idle simulation            {res['idle_cycles_per_second']:,} cycles/s")
    print(f"  stress (make stress)       {s['accesses_per_second']:,} device accesses/s, "
          f"{s['cycles_per_second']:,} cycles/s  ({s['runs']} runs, {s['device_accesses']} accesses)")
    print(f"  stress, device-bound       {h['accesses_per_second']:,} device accesses/s, "
          f"{h['cycles_per_second']:,} cycles/s, {h['python_wakes_per_access']} Python wakes per access")
    if "stress_device_bound_parallel" in res:
        p = res["stress_device_bound_parallel"]
        print(f"  device-bound, {p['processes']} processes  {p['accesses_per_second']:,} device accesses/s, "
              f"{p['cycles_per_second']:,} cycles/s")
    r = res["reference_device_same_workload"]
    print(f"  reference device (Python)  {r['accesses_per_second']:,} device accesses/s on the device-bound workload")
    print(f"  load average before/after  {res['machine']['load_average'][0]:.2f} / "
          f"{res['machine']['load_average_after'][0]:.2f} on {res['machine']['cpus']} CPUs")
    print(f"wrote {out / 'bench.json'}")
    errs = s["scoreboard_errors"] + h["scoreboard_errors"]
    if errs:
        print(f"FAILED: {errs} scoreboard error(s) during the benchmark", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
