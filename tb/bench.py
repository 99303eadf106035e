"""`make bench`: co-simulation speed, with every check on.

    python -m tb.bench --out build/bench [--seeds 8] [--reps 3] [--skip-cold]

Measures and prints (and writes bench.json):

* Verilator build time of the co-simulation model: cold (empty build
  directory, same options as tb.rtldev.build) and cached (nothing changed).
* Simulator start-up, and idle simulation speed: cycles per second with no
  Python activity (the clock is Verilog, the ports sleep).
* The stress workload (tb.stress: random catalogue interleavings, four
  device threads) on the RTL, through the pyuvm environment with the golden
  scoreboard on every response and every checker on every trace:
  device accesses per wall-second and simulated cycles per second, for
  - SINGLE PROCESS (one simulator): the `make stress` scenarios (16 device
    accesses per thread), and the same generator with 250 accesses per
    device thread (device-bound), the latter `--reps` times (each repetition
    listed; the figure is their median). Wall time is measured inside the
    simulator around the batch (scenario setup, scheduling, simulation,
    checking), so process start-up is not in it; the simulator process's CPU
    time over the same span is reported beside it, which tells a busy machine
    from a slow run.
  - MULTI PROCESS (one simulator per core, up to 2, each with its own share of
    twice the seeds): total device accesses over the wall time of the whole
    parallel batch, measured outside the simulators (so it includes handing
    the results back).
* The same device-bound workload on the reference device (pure Python, no
  simulator), as a yardstick for what the host model and checkers cost.
* CEILING (tb.rawbench): one device-bound workload of model.bench_workload on
  the project's path and on a bare Verilator C++ harness of ats_dev_top
  (tb/csrc/raw_bench.cpp), alternating, `--reps` times each: accesses and
  cycles per CPU-second of each and their ratio. Then the per-run overhead of
  the stress path (tiny stress runs; tb.rawbench.overhead says how).
  `--ceiling-only` measures just these two.
* Exploration (tb.bench_explore; --skip-explore leaves it out): the doc's COW
  scenario per policy and the whole matrix in exploration mode.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

from tb import rawbench

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
    """One stress batch in one simulator; its figures (wall and CPU time measured in the simulator)."""
    rows = srv.call("stress_batch", seeds=seeds, policies=POLICIES, latency=(2, 5), reorder=True, **gen)
    bad = [r for r in rows if r.get("error")]
    if bad:
        raise RuntimeError(f"bench run failed: {bad[0]}")
    batch = rows[0]["batch"]
    wall, cpu = batch["wall"], batch.get("cpu")
    acc = sum(r["stats"]["responses"] for r in rows)
    cyc = sum(r["cycles"] for r in rows)
    return {"runs": len(rows), "device_accesses": acc, "cycles": cyc, "seconds": round(wall, 3),
            "cpu_seconds": round(cpu, 3) if cpu is not None else None,
            "accesses_per_second": round(acc / wall), "cycles_per_second": round(cyc / wall),
            "python_wakes_per_access": round(batch["callbacks"] / acc, 2),
            "scoreboard_errors": sum(len(r["scoreboard"].get("errors", [])) for r in rows),
            "failed_runs": sum(bool(r["failed"]) for r in rows)}


def repeated(srv, seeds: list[int], reps: int, **gen) -> dict:
    """`reps` identical batches; the median repetition's figures, plus every repetition's rate."""
    runs = [stress_figures(srv, seeds, **gen) for _ in range(max(1, reps))]
    med = sorted(runs, key=lambda r: r["accesses_per_second"])[len(runs) // 2]
    return {**med, "repetitions": len(runs),
            "accesses_per_second_each": [r["accesses_per_second"] for r in runs],
            "accesses_per_cpu_second_each": [round(r["device_accesses"] / r["cpu_seconds"])
                                             for r in runs if r["cpu_seconds"]],
            "scoreboard_errors": sum(r["scoreboard_errors"] for r in runs)}


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
            "accesses_per_second": round(acc / wall), "cycles_per_second": round(cyc / wall),
            "per_process_accesses_per_second": [p["accesses_per_second"] for p in parts],
            "scoreboard_errors": sum(p["scoreboard_errors"] for p in parts)}


def ref_figures(seeds: list[int], **gen) -> dict:
    from model.scheduler import run_scenario_sync
    from model.random_scenario import random_scenario

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


def directed_figures(srv, ref_seeds: list[int], rtl_seeds: list[int]) -> dict:
    """Coverage-directed vs random stress schedules: the rate on the reference device over
    `ref_seeds` (tb.stress.ref_compare), and a smaller sample on the RTL under deferred."""
    from tb.stress import ref_compare

    ref = ref_compare(ref_seeds)
    for mode in ("random", "directed"):
        ref[mode].pop("hits")  # (bins as tuples: the figures are in "coverage")
    rtl: dict = {"seeds": len(rtl_seeds)}
    for mode in ("random", "directed"):
        rows = srv.call("stress_batch", seeds=rtl_seeds, policies=["deferred"], directed=mode == "directed")
        rtl[mode] = {"violating": sum(bool(r.get("failed")) for r in rows),
                     "seconds": round(rows[0]["batch"]["wall"], 2),
                     "coverage_seconds": round(rows[0]["batch"].get("coverage_seconds", 0.0), 3)}
    return {"reference_device": ref, "rtl": rtl}


def report(res: dict) -> str:
    b, sp, mp = res["build"], res["single_process"], res.get("multi_process")
    s, h = sp["stress"], sp["stress_device_bound"]
    lines = ["co-simulation benchmark: ats_dev_top in Verilator, stress workload, all checking on",
             "(pyuvm environment, golden scoreboard on every response, every checker on every trace)",
             f"  Verilator build                  cold {b.get('cold_seconds', '-')} s, cached {b['cached_seconds']} s",
             f"  simulator start-up               {res['startup_seconds']} s",
             f"  idle simulation                  {res['idle_cycles_per_second']:,} cycles/s",
             "  SINGLE PROCESS (one simulator)",
             f"    make-stress scenarios          {s['accesses_per_second']:,} device accesses/s, "
             f"{s['cycles_per_second']:,} simulated cycles/s  ({s['runs']} runs, {s['device_accesses']} accesses)",
             f"    device-bound (250/thread)      {h['accesses_per_second']:,} device accesses/s, "
             f"{h['cycles_per_second']:,} simulated cycles/s  (median of {h['repetitions']}: "
             f"{', '.join(f'{x:,}' for x in h['accesses_per_second_each'])}; "
             f"{h['python_wakes_per_access']} Python wakes per access)"]
    if h.get("accesses_per_cpu_second_each"):
        lines.append(f"    (the same per CPU-second of the simulator: "
                     f"{', '.join(f'{x:,}' for x in h['accesses_per_cpu_second_each'])})")
    if mp:
        lines += [f"  MULTI PROCESS ({mp['processes']} simulators in parallel)",
                  f"    device-bound (250/thread)      {mp['accesses_per_second']:,} device accesses/s in total, "
                  f"{mp['cycles_per_second']:,} simulated cycles/s  (per process: "
                  f"{', '.join(f'{x:,}' for x in mp['per_process_accesses_per_second'])})"]
    else:
        lines.append("  MULTI PROCESS                    skipped (one CPU)")
    r = res["reference_device_same_workload"]
    m = res["machine"]
    lines += [f"  reference device (pure Python)   {r['accesses_per_second']:,} device accesses/s on the device-bound "
              f"workload, no simulator",
              *directed_lines(res.get("directed")),
              f"  load average before/after        {m['load_average'][0]:.2f} / {m['load_average_after'][0]:.2f} "
              f"on {m['cpus']} CPUs"]
    return "\n".join(lines)


def directed_lines(d: dict | None) -> list[str]:
    if not d:
        return []
    from tb.stress import ref_compare_text

    r, rtl = d["reference_device"], d["rtl"]
    ratio = f"{rtl['directed']['violating'] / rtl['random']['violating']:.2f}x" if rtl["random"]["violating"] else "n/a"
    return ["  COVERAGE-DIRECTED STRESS (model.director; deferred violation exposed per seed)",
            *("  " + ln for ln in ref_compare_text(r).splitlines()),
            f"    RTL sample, {rtl['seeds']} seeds under deferred: random {rtl['random']['violating']}, "
            f"directed {rtl['directed']['violating']} (ratio {ratio}); coverage collection "
            f"{100 * rtl['directed']['coverage_seconds'] / max(rtl['directed']['seconds'], 1e-9):.1f}% of run time"]


def ceiling_figures(srv, out: Path, a: argparse.Namespace) -> dict:
    """The project's path against the bare harness (tb.rawbench), then the stress per-run overhead."""
    print(f"[bench] ceiling: the same device-bound workload on the project's path and on a bare Verilator "
          f"harness, {a.reps} repetitions each ...", flush=True)
    try:
        c = rawbench.ceiling(srv, out / "ceiling", list(range(a.ceiling_seeds)), 250, a.reps)
        print("[bench] per-run overhead of the stress path (tiny runs) ...", flush=True)
        o = rawbench.overhead(srv, device_rate=c["project"]["accesses_per_cpu_second"])
    except rawbench.CeilingError as e:  # a failed or disagreeing run: no figure is worth printing
        print(f"FAILED: {e}", file=sys.stderr)
        raise SystemExit(1) from None
    return {"ceiling": c, "stress_overhead": o}


def ceiling_only(res: dict, out: Path, a: argparse.Namespace) -> int:
    from tb.rtldev import CosimServer

    with CosimServer(out=out / "sim") as srv:
        srv.call("ping", cycles=10)
        res.update(ceiling_figures(srv, out, a))
    res["machine"]["load_average_after"] = list(os.getloadavg())
    (out / "bench.json").write_text(json.dumps(res, indent=1))
    print()
    print(rawbench.report(res["ceiling"]))
    print(rawbench.overhead_line(res["stress_overhead"]))
    m = res["machine"]
    print(f"  load average before/after        {m['load_average'][0]:.2f} / {m['load_average_after'][0]:.2f} "
          f"on {m['cpus']} CPUs")
    print(f"wrote {out / 'bench.json'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tb.bench", description=__doc__.splitlines()[0])
    from model.cli import out_dir, positive_int

    ap.add_argument("--out", type=out_dir, default="build/bench")
    ap.add_argument("--seeds", type=positive_int, default=8, help="seeds of the device-bound workload (per process)")
    ap.add_argument("--reps", type=positive_int, default=3,
                    help="repetitions of the single-process device-bound batch")
    ap.add_argument("--skip-cold", action="store_true", help="do not measure a cold build")
    ap.add_argument("--directed-seeds", type=positive_int, default=1000,
                    help="seeds of the random vs coverage-directed comparison on the reference device")
    ap.add_argument("--directed-rtl-seeds", type=positive_int, default=100,
                    help="seeds of the same comparison on the RTL (deferred only)")
    ap.add_argument("--skip-explore", action="store_true",
                    help="do not measure exploration (tb.bench_explore: COW per policy, the whole matrix)")
    ap.add_argument("--ceiling-seeds", type=positive_int, default=4,
                    help="seeds of the project-vs-bare-harness workload (model.bench_workload)")
    ap.add_argument("--ceiling-only", action="store_true",
                    help="only the project-vs-bare-harness comparison and the stress per-run overhead")
    a = ap.parse_args(argv)
    out = a.out
    from tb.rtldev import CosimServer

    res: dict = {"machine": {"cpus": os.cpu_count(), "load_average": list(os.getloadavg())}}
    if a.ceiling_only:
        return ceiling_only(res, out, a)
    print("[bench] Verilator build (cold and cached) ...", flush=True)
    res["build"] = build_times(a.skip_cold)
    heavy = {"dev_accesses": 250}
    with CosimServer(out=out / "sim") as srv:
        res["startup_seconds"] = round(srv.start_seconds, 2)
        srv.call("ping", cycles=10)
        idle = srv.call("ping", cycles=200_000)
        res["idle_cycles_per_second"] = round(200_000 / idle["seconds"])
        sp: dict = {"processes": 1}
        print("[bench] single process: stress workload, make stress scenarios ...", flush=True)
        sp["stress"] = stress_figures(srv, list(range(40)))
        print(f"[bench] single process: device-bound stress (250 accesses per device thread) x {a.reps} ...",
              flush=True)
        sp["stress_device_bound"] = repeated(srv, list(range(a.seeds)), a.reps, **heavy)
        res["single_process"] = sp
        res.update(ceiling_figures(srv, out, a))
        print(f"[bench] coverage-directed vs random stress: {a.directed_seeds} seeds on the reference device, "
              f"{a.directed_rtl_seeds} on the RTL ...", flush=True)
        res["directed"] = directed_figures(srv, list(range(a.directed_seeds)), list(range(a.directed_rtl_seeds)))
    jobs = min(2, os.cpu_count() or 1)
    if jobs > 1:
        print(f"[bench] multi process: device-bound stress on {jobs} simulators ...", flush=True)
        res["multi_process"] = parallel_figures(list(range(jobs * a.seeds)), jobs, **heavy)
    res["reference_device_same_workload"] = ref_figures(list(range(a.seeds)), **heavy)
    if not a.skip_explore:
        from tb.bench_explore import explore_figures
        print("[bench] exploration: cow_threads.scn per policy, the matrix in exploration mode ...", flush=True)
        res["explore"] = explore_figures()
    res["machine"]["load_average_after"] = list(os.getloadavg())
    (out / "bench.json").write_text(json.dumps(res, indent=1))
    print()
    print(report(res))
    print(rawbench.report(res["ceiling"]))
    print(rawbench.overhead_line(res["stress_overhead"]))
    if "explore" in res:
        from tb.bench_explore import report as explore_report
        print(explore_report(res["explore"]))
    print(f"wrote {out / 'bench.json'}")
    errs = (res["single_process"]["stress"]["scoreboard_errors"]
            + res["single_process"]["stress_device_bound"]["scoreboard_errors"]
            + res.get("multi_process", {}).get("scoreboard_errors", 0))
    if errs:
        print(f"FAILED: {errs} scoreboard error(s) during the benchmark", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    from model.cli import run_main

    run_main(main)
