"""The co-simulation against a bare Verilator harness, on the same workload, in one run.

    .venv/bin/python -m tb.rawbench --out build/bench/ceiling [--seeds 4] [--accesses 250] [--reps 3]

`make bench` calls `ceiling()`: the device-bound workload of
model/bench_workload.py (one PASID, mapped pages, 4 device threads x N
reads/writes, no CPU operation) runs

* through the project's path: a CosimServer (tb/cosim_server.py), each seed a
  scenario run of the pyuvm environment with the golden scoreboard on every
  response and every checker on the trace (`tb.cosim_server.devbench_batch`, the same
  make_job / run_jobs path as stress and scenario runs); wall and CPU time
  are measured inside the simulator process around the batch, as for stress
  (tb/bench.py: stress_figures); and
* through tb/csrc/raw_bench.cpp: ats_dev_top built by `verilator --cc --exe
  --build` with the co-simulation's RTL parameters (tb.rtldev.COSIM_PARAMS),
  the same Verilator options (tb.toolchain.build_rtl: X handling, bound
  assertions unless ATS_ASSERTS=0) and the same C++ optimisation (-O2 for the
  model), no tracing, no VPI; a C++ clock loop and the project's one C++ AXI
  slave (tb/csrc/axi_slave.cpp, the co-simulation's and the block tests',
  called directly instead of through DPI) over the memory image the model
  exported after the scenario's set-up, checking every
  response against the expected values the model computed
  (model.bench_workload.expected).

Both use one fixed AXI latency (`LATENCY`, the co-simulation's default
CosimConfig latency (2, 2)), no back-pressure, no reordering, and hand
commands to the device on the scheduler's step grid (cycles-per-step 10).
The harness reproduces the co-simulation's timing to the cycle: every
response is taken on the same cycle in both (tests/test_rawbench.py checks
it). The project's path must return exactly the expected responses too, so
both runs are checked against the same independent expectation.
"""
from __future__ import annotations

import argparse
import fcntl
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from model import bench_workload as bw

ROOT = Path(__file__).resolve().parent.parent
CSRC = ROOT / "tb" / "csrc" / "raw_bench.cpp"
SLAVE = (ROOT / "tb" / "csrc" / "axi_slave.cpp", ROOT / "tb" / "csrc" / "axi_slave.h")  # the one C++ AXI slave
LATENCY = 2  # AXI address handshake -> response handshake, cycles: CosimConfig's default (2, 2)
RAW_REPS = 5  # the bare harness runs the batch this many times per measurement (else it is over in ~0.1 s)
NO_BP = {"stall": {}, "latency_tail": None}  # no back-pressure, no latency tail (tb.rtldev.NO_BACKPRESSURE)
WATCHDOG = 50_000  # cycles without a response before the harness gives up (CosimConfig.cmd_timeout)


class CeilingError(RuntimeError):
    """The comparison cannot be trusted: a path failed or answered other than expected (message for the user)."""


class RawBenchError(CeilingError):
    """The bare harness failed: build error, response mismatch, watchdog or assertion (message: its output)."""


# --------------------------------------------------------------------------- the bare harness


def raw_command(build_dir: Path) -> list[str]:
    """The Verilator invocation of the bare harness (options as tb.toolchain.build_rtl)."""
    from tb import toolchain
    from tb.rtldev import COSIM_PARAMS

    args = ["verilator", "--cc", "--exe", "--build", "-j", "2", "--top-module", toolchain.TOPLEVEL,
            "-Mdir", str(build_dir), "-o", "raw_bench",
            "-Wno-fatal", "--x-assign", "unique", "--x-initial", "unique",
            "--timescale", "1ns/1ps", "-Wno-TIMESCALEMOD"]
    args += [f"-G{k}={v}" for k, v in sorted(COSIM_PARAMS.items())]
    srcs = [str(s) for s in toolchain.rtl_sources()]
    if toolchain.asserts_enabled(COSIM_PARAMS):
        args += ["--assert", f"-I{toolchain.ASSERT_DIR}"]
        srcs += [str(s) for s in toolchain.assert_sources(blocks=True)]
    return args + srcs + [str(CSRC), str(SLAVE[0])]


def build_raw() -> Path:
    """Build (cached) the bare harness under build/rtl/raw_bench[_noassert]; returns the executable.

    Rebuilt when the executable is missing, older than an RTL, checker or
    harness source, or was built with another command line."""
    from tb import toolchain

    env = toolchain.setup_env()
    flags = env.get("MAKEFLAGS", "")
    if "OPT_FAST" not in flags:  # the co-simulation's model is compiled with -O2 too (tb.rtldev.build)
        env["MAKEFLAGS"] = (flags + " OPT_FAST=-O2").strip()
    name = "raw_bench" + ("" if toolchain.asserts_enabled() else "_noassert")
    build_dir = toolchain.BUILD / "rtl" / name
    cmd = raw_command(build_dir)
    exe = build_dir / "raw_bench"
    stamp = build_dir / "raw_bench.cmd"
    build_dir.mkdir(parents=True, exist_ok=True)
    with open(toolchain.BUILD / "rtl" / f".{name}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        srcs = [Path(c) for c in cmd if c.endswith((".sv", ".cpp"))] + [SLAVE[1]]
        fresh = (exe.is_file() and stamp.is_file() and stamp.read_text() == "\n".join(cmd)
                 and all(s.stat().st_mtime <= exe.stat().st_mtime for s in srcs))
        if fresh:
            return exe
        log = build_dir / "build.log"
        with open(log, "w") as f:
            r = subprocess.run(cmd, cwd=build_dir, env=env, stdout=f, stderr=subprocess.STDOUT)
        if r.returncode or not exe.is_file():
            tail = "\n".join(log.read_text().splitlines()[-20:])
            raise RawBenchError(f"building the bare harness failed (exit {r.returncode}; log {log}):\n{tail}")
        stamp.write_text("\n".join(cmd))
    return exe


def run_raw(workload_file: Path, reps: int = 1, exe: Path | None = None, timeout: float = 600) -> dict:
    """Run the bare harness on an exported workload; its JSON figures (raises RawBenchError on failure)."""
    exe = exe or build_raw()
    alog = Path(workload_file).with_suffix(".assert.log")
    alog.unlink(missing_ok=True)
    r = subprocess.run([str(exe), str(workload_file), str(reps), f"+ats_assert_log={alog}"],
                       capture_output=True, text=True, timeout=timeout)
    fired = alog.read_text().strip() if alog.exists() else ""
    if r.returncode or fired:
        msg = (r.stderr.strip() or r.stdout.strip() or f"exit {r.returncode}")
        if fired:
            msg += "\nassertion failed in simulation:\n  " + "\n  ".join(fired.splitlines()[:5])
        raise RawBenchError(f"{exe.name} {workload_file}: {msg}")
    try:
        return json.loads(r.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise RawBenchError(f"{exe.name}: no JSON figures in its output: {r.stdout[-400:]!r}") from None


# --------------------------------------------------------------------------- the project's path


def check_responses(w: bw.Workload, got: dict[int, list[tuple[int, int]]],
                    exp: list[list[tuple[int, int | None]]]) -> list[str]:
    """Differences between a run's responses per thread and the model's expectation (empty: all match)."""
    bad = []
    for t, want in enumerate(exp):
        have = got.get(t, [])
        if len(have) != len(want):
            bad.append(f"{w.name} thread {t}: {len(have)} responses, expected {len(want)}")
            continue
        for i, ((f, d), (ef, ed)) in enumerate(zip(have, want)):
            if f != ef or (ed is not None and d != ed):
                a = w.commands[t][i]
                bad.append(f"{w.name} thread {t} command {i} ({'write' if a.write else 'read'} {a.va:#x}): "
                           f"fault {f} data {d:#x}, expected fault {ef} data {ed if ed is None else hex(ed)}")
    return bad


# --------------------------------------------------------------------------- side by side


def ceiling(srv: Any, out: Path, seeds: list[int], accesses: int = 250, reps: int = 3,
            latency: int = LATENCY, log: Any = print) -> dict:
    """The same workload through the project's path (`srv`, a CosimServer) and the bare harness,
    `reps` times each, alternating; accesses per CPU-second of each, their ratio, cycles per second."""
    out.mkdir(parents=True, exist_ok=True)
    wls = [bw.generate(s, accesses=accesses) for s in seeds]
    exps = []
    for w in wls:
        mem, base = bw.host_image(w)
        exps.append(bw.expected(w, mem, base))
    wfile = out / "workload.bin"
    bw.export(wfile, wls, latency=latency, watchdog=WATCHDOG)
    log("[bench] building the bare Verilator harness (tb/csrc/raw_bench.cpp) ...")
    t = time.monotonic()
    exe = build_raw()
    build_s = time.monotonic() - t
    texts = [w.text() for w in wls]
    proj, raw = [], []
    for k in range(reps):
        log(f"[bench] same workload, repetition {k + 1}/{reps}: project path, then bare harness ...")
        p = srv.call("devbench_batch", texts=texts, seeds=seeds, latency=latency)
        errs = [r for r in p["runs"] if "error" in r]
        if errs:
            raise CeilingError(f"project path failed on the bench workload: {errs[0]}")
        bad = [m for w, e, r in zip(wls, exps, p["runs"]) for m in check_responses(w, r["responses"], e)]
        fails = [(r["seed"], r["failed"]) for r in p["runs"] if r["failed"] or r["scoreboard_errors"]]
        if bad or fails:
            raise CeilingError(f"project path disagrees with the expected responses: {(bad or fails)[:3]}")
        acc = sum(r["accesses"] for r in p["runs"])
        proj.append({"accesses": acc, "cycles": sum(r["cycles"] for r in p["runs"]),
                     "cpu_seconds": p["cpu"], "wall_seconds": p["wall"], "python_wakes": p["callbacks"],
                     "reps": 1})
        raw.append(run_raw(wfile, RAW_REPS, exe))
    c = summarise(proj, raw, {"seeds": len(seeds), "threads": wls[0].threads, "accesses_per_thread": accesses,
                              "pages": wls[0].pages, "cycles_per_step": wls[0].cycles_per_step,
                              "axi_latency": latency, "backpressure": "none", "reorder": False,
                              "raw_build_seconds": round(build_s, 1), "raw_executable": str(exe)})
    # For scale only (no project counterpart): the same commands on the bare harness with
    # each thread's next command queued in the cycle its response arrives (step 1), so no
    # cycle is spent waiting for the host's step grid.
    fast = out / "workload_step1.bin"
    bw.export(fast, [bw.generate(s, accesses=accesses, cycles_per_step=1) for s in seeds], latency=latency,
              watchdog=WATCHDOG)
    c["raw_issue_at_once"] = _rates([run_raw(fast, RAW_REPS, exe)])
    return c


def _rates(runs: list[dict]) -> dict:
    each = [round(r["accesses"] / r["cpu_seconds"]) for r in runs]
    med = sorted(range(len(runs)), key=lambda i: each[i])[len(runs) // 2]
    r = runs[med]
    return {"accesses": r["accesses"], "cycles": r["cycles"], "batches": r["reps"],
            "cycles_per_batch": r["cycles"] // r["reps"], "cpu_seconds": round(r["cpu_seconds"], 4),
            "wall_seconds": round(r["wall_seconds"], 4),
            "accesses_per_cpu_second": each[med], "accesses_per_cpu_second_each": each,
            "accesses_per_wall_second": round(r["accesses"] / r["wall_seconds"]),
            "cycles_per_cpu_second": round(r["cycles"] / r["cpu_seconds"]),
            "accesses_per_wall_second_each": [round(x["accesses"] / x["wall_seconds"]) for x in runs]}


def summarise(proj: list[dict], raw: list[dict], workload: dict) -> dict:
    p, r = _rates(proj), _rates(raw)
    ratios = [round((a["accesses"] / a["cpu_seconds"]) / (b["accesses"] / b["cpu_seconds"]), 4)
              for a, b in zip(proj, raw)]
    return {"workload": workload, "project": p, "raw": r,
            "ratio": round(p["accesses_per_cpu_second"] / r["accesses_per_cpu_second"], 4),
            "ratio_each": ratios, "target": 0.25, "moonshot": 0.4}


def report(c: dict) -> str:
    w, p, r = c["workload"], c["project"], c["raw"]
    lines = [f"  CEILING: the same workload on the project's path and on a bare Verilator harness "
             f"({w['seeds']} seeds x {w['threads']} device threads x {w['accesses_per_thread']} accesses, "
             f"{w['pages']} pages, AXI latency {w['axi_latency']}, no back-pressure; median of "
             f"{len(p['accesses_per_cpu_second_each'])})",
             f"    project (pyuvm env, scoreboard, checkers)  {p['accesses_per_cpu_second']:>9,} accesses/CPU-s  "
             f"{p['cycles_per_cpu_second']:>11,} cycles/CPU-s  {p['accesses_per_wall_second']:>9,} accesses/wall-s "
             f"({p['cycles_per_batch']:,} cycles per batch)",
             f"    bare harness (tb/csrc/raw_bench.cpp)       {r['accesses_per_cpu_second']:>9,} accesses/CPU-s  "
             f"{r['cycles_per_cpu_second']:>11,} cycles/CPU-s  {r['accesses_per_wall_second']:>9,} accesses/wall-s "
             f"({r['cycles_per_batch']:,} cycles per batch, batch run {r['batches']}x)",
             f"    ratio project / bare                        {c['ratio']:.3f}  (each repetition: "
             f"{', '.join(f'{x:.3f}' for x in c['ratio_each'])}; target >= {c['target']}, "
             f"moonshot {c['moonshot']}: {'met' if c['ratio'] >= c['target'] else 'MISSED'})"]
    f = c.get("raw_issue_at_once")
    if f:
        lines.append(f"    (bare harness issuing each command as soon as the last is answered, no step grid: "
                     f"{f['accesses_per_cpu_second']:,} accesses/CPU-s, {f['cycles_per_cpu_second']:,} cycles/CPU-s, "
                     f"{f['cycles_per_batch']:,} cycles per batch)")
    return "\n".join(lines)


# --------------------------------------------------------------------------- per-run overhead of `make stress`


TINY = {"pages": 1, "cpus": 1, "ops_per_cpu": 0, "devs": 1, "dev_accesses": 0}  # tb.stress generator: one read


def overhead(srv: Any, runs: int = 50, device_rate: float | None = None) -> dict:
    """Per-run cost of the stress path that is not simulated work.

    `runs` tiny stress scenarios (tb.stress generator: one page, one device
    thread with one read, one CPU thread with nothing to do) run as one
    `stress_batch` under one policy. Measured: the simulator process's CPU
    time over the batch (per run: environment and host set-up, scheduling,
    reset, simulation, scoreboard, checkers, coverage), plus generating and
    parsing the scenarios, which stress_batch does in the simulator before
    its clock starts (timed here, in this process, on the same seeds). The
    work is what the run's accesses cost at the device-bound rate
    `device_rate` (accesses per CPU-second of the project's path); what is
    left is the overhead."""
    from model.random_scenario import random_scenario

    c0 = time.process_time()
    for s in range(runs):
        random_scenario(s, **TINY)
    gen = (time.process_time() - c0) / runs
    rows = srv.call("stress_batch", seeds=list(range(runs)), policies=[bw.POLICY], **TINY)
    bad = [x for x in rows if x.get("error")]
    if bad:
        raise CeilingError(f"tiny stress runs failed: {bad[0]}")
    b = rows[0]["batch"]
    acc = sum(x["stats"]["responses"] for x in rows)
    per = b["cpu"] / len(rows) + gen
    work = acc / len(rows) / device_rate if device_rate else 0.0
    return {"runs": len(rows), "accesses": acc, "cpu_seconds": round(b["cpu"], 4),
            "wall_seconds": round(b["wall"], 4), "generate_parse_ms_per_run": round(1000 * gen, 3),
            "cpu_ms_per_run": round(1000 * per, 3),
            "work_ms_per_run": round(1000 * work, 3), "overhead_ms_per_run": round(1000 * (per - work), 3),
            "target_ms": 2.0}


def overhead_line(o: dict) -> str:
    return (f"  PER-RUN OVERHEAD of the stress path ({o['runs']} tiny stress runs of one read in one batch): "
            f"{o['cpu_ms_per_run']} ms CPU per run (of which {o['generate_parse_ms_per_run']} ms generating and "
            f"parsing the scenario), minus {o['work_ms_per_run']} ms for its access at the device-bound rate = "
            f"{o['overhead_ms_per_run']} ms (target <= {o['target_ms']} ms: "
            f"{'met' if o['overhead_ms_per_run'] <= o['target_ms'] else 'MISSED'})")


def main(argv: list[str] | None = None) -> int:
    from model.cli import out_dir, positive_int

    ap = argparse.ArgumentParser(prog="python -m tb.rawbench", description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=out_dir, default="build/bench/ceiling")
    ap.add_argument("--seeds", type=positive_int, default=4)
    ap.add_argument("--accesses", type=positive_int, default=250, help="accesses per device thread")
    ap.add_argument("--reps", type=positive_int, default=3)
    a = ap.parse_args(argv)
    from tb.rtldev import CosimServer

    try:
        with CosimServer(out=a.out / "sim") as srv:
            srv.call("ping", cycles=10)
            c = ceiling(srv, a.out, list(range(a.seeds)), a.accesses, a.reps)
            c["stress_overhead"] = overhead(srv, device_rate=c["project"]["accesses_per_cpu_second"])
    except CeilingError as e:
        print(f"FAILED: {e}", file=sys.stderr)
        return 1
    (a.out / "ceiling.json").write_text(json.dumps(c, indent=1))
    print(report(c))
    print(overhead_line(c["stress_overhead"]))
    return 0


if __name__ == "__main__":
    from model.cli import run_main

    run_main(main)
