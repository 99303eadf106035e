"""cocotb module: the co-simulation server (one Verilator process, many runs).

`tb.rtldev.CosimServer` starts the simulator on this module with COSIM_ADDR
set; the test connects back, then executes requests `(handler, kwargs)` until
it receives None. Each handler is an async function of (ctx, **kwargs) run in
simulated time; its return value (or the traceback of its exception) is sent
back. The simulator is paused while waiting for a request.

Handlers: `scenario` (one run through the pyuvm env, tb/env.py),
`scenarios` (several runs, one env build), `ping` (liveness, idle cycles),
`walks` and `stress_batch` (the seeds of `make stress`, scenarios from
model.random_scenario). The server needs nothing from the tools that call
it (tb.stress, tb.bench): they name a handler and pass plain arguments.
"""
from __future__ import annotations

import json
import os
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

import cocotb

from model.host_snapshot import HostSnapshots
from model.scheduler import Layout
from model.trace import Trace
from tb.env import CosimJob, WatchedMem, run_jobs
from tb.rtldev import BACKPRESSURE, NO_BACKPRESSURE, CosimConfig, Ports, RtlDevice


@dataclass
class Ctx:
    dut: Any
    ports: Ports
    cfg: CosimConfig
    base: CosimConfig
    runs: int = 0
    info: dict = field(default_factory=dict)


HANDLERS: dict[str, Callable[..., Awaitable[Any]]] = {}


def handler(fn):
    HANDLERS[fn.__name__] = fn
    return fn


def _scenario_obj(scenario: Any):
    from model.scenario import Scenario, load, parse

    if isinstance(scenario, Scenario):
        return scenario
    if isinstance(scenario, str) and "\n" in scenario:
        return parse(scenario, "<text>")
    return load(scenario)


BP_FIELDS = ("stall", "latency_tail", "walk_latency", "ar_hold", "ar_hold_threads")
# a scenario's `device-timing` keys (model.scenario) -> CosimConfig fields
TIMING_KEYS = {"latency": "latency", "walk-latency": "walk_latency", "ar-hold": "ar_hold",
               "ar-hold-threads": "ar_hold_threads"}


def configure(ctx: Ctx, latency=None, reorder=None, seed=None, tamper=None, cmd_timeout=None,
              bp: dict | None = None, timing: dict | None = None) -> None:
    """Per-request slave settings; anything not given returns to the server's start-up value.

    `bp` overrides the back-pressure fields of CosimConfig (BP_FIELDS) for this run;
    `timing` is the scenario's `device-timing` line, applied last (the scenario
    arranges its own window)."""
    cfg, base = ctx.ports.cfg, ctx.base
    cfg.latency = tuple(latency) if latency is not None else base.latency
    cfg.reorder = bool(reorder) if reorder is not None else base.reorder
    cfg.tamper = tamper
    cfg.cmd_timeout = cmd_timeout or base.cmd_timeout
    for f in BP_FIELDS:
        setattr(cfg, f, getattr(base, f))
    for k, v in (bp or {}).items():
        if k not in BP_FIELDS:
            raise ValueError(f"bp: unknown field {k!r} (known: {', '.join(BP_FIELDS)})")
        setattr(cfg, k, v)
    for k, v in (timing or {}).items():
        setattr(cfg, TIMING_KEYS[k], v)
    cfg.__post_init__()  # validates and normalises (tuples)
    s = seed if seed is not None else base.seed
    ctx.ports.axi_seed = s
    ctx.ports.apply_bp(s)


@handler
async def ping(ctx: Ctx, cycles: int = 0, step: int = 0, **kw: Any) -> dict:
    """Liveness; with `cycles`, also let that many idle cycles pass (in `step`-cycle Timers)."""
    t0 = time.perf_counter()
    k = ctx.ports.cycle()
    n = 0
    while n < cycles:
        d = min(step or cycles, cycles - n)
        await ctx.ports.to_qp(k + n + d)
        n += d
    return {"cycle": ctx.ports.cycle(), "runs": ctx.runs, "seconds": time.perf_counter() - t0}


def make_job(ctx: Ctx, scenario: Any, policy: str, seed: int = 0, mode: str = "script",
             cycles_per_step: int | None = None, latency=None, reorder=None, axi_seed=None, repro: str = "",
             stall_limit: int | None = None, tamper: str | None = None, cmd_timeout: int | None = None,
             bp: dict | None = None, directed: bool = False, snapshots: Any = None) -> CosimJob:
    sc = _scenario_obj(scenario)
    timing = dict(getattr(sc, "device_timing", None) or {})
    layout = Layout()
    dev = RtlDevice(ctx.ports, WatchedMem(), layout.pasid_tbl_base, Trace(), repro=repro)
    kw: dict[str, Any] = {"stall_limit": stall_limit} if stall_limit else {}
    if snapshots is not None:  # the host restored from its setup's snapshot (model.host_snapshot)
        kw["snapshots"] = snapshots
    if directed:  # coverage-directed random schedule (model.director)
        from model.director import Director

        kw["director"] = Director()
    aseed = axi_seed if axi_seed is not None else seed
    return CosimJob(scenario=sc, policy=policy, seed=seed, device=dev, mode=mode, cycles_per_step=cycles_per_step,
                    run_kwargs=kw, setup=lambda: configure(ctx, latency, reorder, aseed, tamper, cmd_timeout, bp,
                                                            timing))


def job_output(ctx: Ctx, job: CosimJob, discover: bool = False) -> dict:
    dev = job.device
    out = {"result": job.result, "scoreboard": job.scoreboard, "checker": job.checker, "stats": dict(dev.stats),
           "seconds": job.seconds, "epoch": dev.epoch, "cycles": dev.now, "period": ctx.ports.P,
           "t0": ctx.ports.T0, "backpressure": job.backpressure}
    if discover:
        from tb.gtkw import discover as disc

        out["signals"] = disc(ctx.dut)
    return out


@handler
async def scenario(ctx: Ctx, discover: bool = False, **kw: Any) -> dict:
    """One scenario run through the pyuvm environment; returns the RunResult and the scoreboard."""
    cb0 = ctx.ports.callbacks
    job = make_job(ctx, **kw)
    await run_jobs([job])
    ctx.runs += 1
    if job.error is not None:
        raise job.error
    out = job_output(ctx, job, discover)
    out["callbacks"] = ctx.ports.callbacks - cb0
    return out


@handler
async def scenarios(ctx: Ctx, specs: list[dict], keep: bool = True) -> list[dict]:
    """Several runs through one environment build; per run the output of `scenario` (or its error)."""
    jobs = [make_job(ctx, **sp) for sp in specs]
    await run_jobs(jobs)
    ctx.runs += len(jobs)
    outs = []
    for job in jobs:
        if job.error is not None:
            outs.append({"error": f"{type(job.error).__name__}: {job.error}"})
            continue
        o = job_output(ctx, job)
        if not keep:
            o["result"] = None
        outs.append(o)
    return outs


@handler
async def walks(ctx: Ctx, seed: int, n_mappings: int = 60, commands: int = 400, threads: int = 4,
                bus_errors: int = 0, latency=None, reorder=None) -> dict:
    """Random page tables (model.pagetable.random_space: 4K/2M/1G, damage at every
    level, non-canonical and misaligned VAs), random reads/writes on several
    device threads straight through RtlDevice, every response scoreboarded.

    With `bus_errors` that many pages (data and page-table frames) answer
    SLVERR. Returns the responses per thread in order, with the command list,
    so the caller can replay the same commands on the reference device.
    """
    import random as _random

    from model.device import DevCommand
    from model.frames import FrameAllocator
    from model.pagetable import random_space
    from model.pasid import PasidTable

    rng = _random.Random(seed)
    mem = WatchedMem()
    layout = Layout()
    frames = FrameAllocator(mem, 0x100, 0x400)
    pt, probes = random_space(mem, frames, rng, n_mappings)
    PasidTable(mem, layout.pasid_tbl_base).set(1, pt.root_pa)
    probes = probes + [va | 4 for va in probes[:3]]  # misaligned too
    err_pages = set()
    if bus_errors:
        cands = sorted({w.pa >> 12 for w in [pt.walk(v) for v in probes] if w.ok} | set(pt.table_pfns))
        err_pages = set(rng.sample(cands, min(bus_errors, len(cands))))
    cmds = [DevCommand(thread=i % threads, write=rng.random() < 0.3, pasid=1 if rng.random() < 0.95 else 2,
                       va=rng.choice(probes), wdata=rng.getrandbits(64)) for i in range(commands)]
    dev = RtlDevice(ctx.ports, mem, layout.pasid_tbl_base, Trace())

    async def body(d: RtlDevice) -> dict:
        queues = {t: [c for c in cmds if c.thread == t] for t in range(threads)}
        got: dict[int, list] = {t: [] for t in range(threads)}
        while any(queues.values()) or any(not d.thread_idle(t) for t in range(threads)):
            for t in range(threads):
                if queues[t] and d.thread_idle(t):
                    d.submit(queues[t].pop(0))
            await d.run(rng.randint(1, 6))
            for r in d.take_responses():
                got[r.thread].append(r)
        await d.run(4)
        return {"responses": got}

    def setup() -> None:
        configure(ctx, latency, reorder, seed)
        ctx.ports.cfg.bus_error = (lambda pa, src: (pa >> 12) in err_pages) if err_pages else None

    job = CosimJob(scenario=None, policy="-", seed=seed, device=dev, setup=setup, body=body,
                   bus_errors=bool(err_pages))
    try:
        await run_jobs([job])
    finally:
        ctx.ports.cfg.bus_error = None
    if job.error is not None:
        raise job.error
    return {"responses": job.result["responses"], "commands": cmds, "scoreboard": job.scoreboard,
            "err_pages": sorted(err_pages), "stats": dict(dev.stats), "trace": dev.trace}


SNAPSHOTS = HostSnapshots()  # this simulator process's host snapshots (stress_batch)


@handler
async def stress_batch(ctx: Ctx, seeds: list[int], policies: list[str], latency=(2, 5), reorder: bool = True,
                       bp: dict | None = BACKPRESSURE, keep_traces: bool = False, directed: bool = False,
                       coverage_out: str | None = None, repro: str = "", snapshot: bool = True,
                       **gen: Any) -> list[dict]:
    """Run each seed's random scenario (model.random_scenario) under each policy (one env build
    for the batch); summaries only, one row per (seed, policy).

    Every run's race-window bins (model.coverage) are in its row (`bin_list`,
    `op|phase|access|outcome`) and in this simulator process's coverage
    database, exported to `coverage_out` after the batch (cumulative over the
    process's batches). `directed`: the coverage director (model.director)
    chooses the interleaving instead of the plain random draws. `repro`: the
    replay command, with `{seed}` and `{policy}` filled in per run. The AXI
    defaults are tb.stress.STRESS_AXI's. `snapshot`: each run's host is restored
    from its setup's snapshot (model.host_snapshot, kept for the process's
    life) instead of built (False: built, for the side-by-side figure)."""
    from model import coverage
    from model.random_scenario import random_scenario

    specs = []
    for seed in seeds:
        sc = random_scenario(seed, **gen)
        for pol in policies:
            specs.append((seed, pol, make_job(ctx, sc, pol, seed, mode="random", latency=latency, reorder=reorder,
                                              axi_seed=seed, repro=repro.format(seed=seed, policy=pol), bp=bp,
                                              directed=directed, snapshots=SNAPSHOTS if snapshot else None)))
    cb0 = ctx.ports.callbacks
    t0, c0 = time.perf_counter(), time.process_time()
    await run_jobs([j for _, _, j in specs])
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    out = []
    cov_seconds = 0.0
    for seed, pol, job in specs:
        if job.error is not None:
            out.append({"seed": seed, "policy": pol, "error": f"{type(job.error).__name__}: {job.error}"})
            continue
        o = job_output(ctx, job)
        res = o["result"]
        fails = res.failures
        t1 = time.perf_counter()
        bins = coverage.collect(res.trace, pol)
        t_cov = time.perf_counter() - t1
        cov_seconds += t_cov
        out.append({
            "bins": len(bins), "bin_list": sorted(coverage.bin_key(b) for b in bins), "directed": directed,
            "coverage_seconds": round(t_cov, 6),
            "seed": seed, "policy": pol, "failed": sorted({v.rule for v in fails}),
            "messages": [v.message for v in fails][:3], "scoreboard": o["scoreboard"],
            "stats": o["stats"], "cycles": o["cycles"], "sim_seconds": o["seconds"],
            "events": len(res.trace), "trace": res.trace if keep_traces else None, "bp": job.backpressure,
        })
    ctx.runs += len(specs)
    if coverage_out:
        t1 = time.perf_counter()
        coverage.export(coverage_out)
        cov_seconds += time.perf_counter() - t1
    if out:
        out[0]["batch"] = {"wall": wall, "cpu": cpu, "callbacks": ctx.ports.callbacks - cb0,
                           "coverage_seconds": cov_seconds,
                           "hosts": {"built": SNAPSHOTS.built, "restored": SNAPSHOTS.restored}}
    return out


@handler
async def devbench_batch(ctx: Ctx, texts: list[str], seeds: list[int], latency: int = 2) -> dict:
    """`make bench`'s ceiling workload (model.bench_workload, tb.rawbench): each scenario once
    through the pyuvm environment (scoreboard, checkers), fixed AXI latency, no back-pressure;
    wall and CPU time around the batch, and every response for the comparison with the bare harness."""
    from model import bench_workload as bw

    jobs = [make_job(ctx, text, bw.POLICY, seed, mode="script", latency=(latency, latency), reorder=False,
                     axi_seed=seed, bp=NO_BACKPRESSURE) for text, seed in zip(texts, seeds)]
    cb0 = ctx.ports.callbacks
    t0, c0 = time.perf_counter(), time.process_time()
    await run_jobs(jobs)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    runs = []
    for seed, job in zip(seeds, jobs):
        if job.error is not None:
            runs.append({"seed": seed, "error": f"{type(job.error).__name__}: {job.error}"})
            continue
        res = job.result
        per: dict[int, list[tuple[int, int]]] = {}
        for _, r in res.responses:
            per.setdefault(r.thread, []).append((int(r.fault), r.rdata))
        runs.append({"seed": seed, "cycles": job.device.now, "responses": per,
                     "accesses": res.metrics["dev_commands"], "failed": sorted(res.failed_rules),
                     "scoreboard_errors": len((job.scoreboard or {}).get("errors", []))})
    return {"wall": wall, "cpu": cpu, "callbacks": ctx.ports.callbacks - cb0, "runs": runs}


def _tune_gc() -> None:
    """Keep the cyclic garbage collector off the hot path.

    A run allocates a few small objects per device access (events, records)
    and keeps most of them (the trace) until the run ends, so with CPython's
    default thresholds (a young collection every 700 allocations) full
    collections, over everything the process holds (cocotb, pyuvm, the
    traces of the batch), come several times per stress batch and cost
    about a tenth of its time. The objects alive after start-up are moved
    out of the collector's view for good (gc.freeze) and young collections
    run ten times less often. Garbage is still collected; COSIM_GC=default
    keeps CPython's settings.
    """
    import gc

    if os.environ.get("COSIM_GC", "") == "default":
        return
    gc.collect()
    gc.freeze()
    t0, t1, t2 = gc.get_threshold()
    gc.set_threshold(t0 * 10, t1, t2)


@cocotb.test()
async def serve(dut):
    """Serve requests from tb.rtldev.CosimServer until told to stop."""
    from multiprocessing.connection import Client

    cfg = CosimConfig(**json.loads(os.environ.get("COSIM_CFG", "{}") or "{}"))
    ports = Ports(dut, cfg)
    await ports.start(Layout().pasid_tbl_base)
    import copy

    ctx = Ctx(dut, ports, cfg, copy.copy(cfg))
    _tune_gc()
    conn = Client(os.environ["COSIM_ADDR"], family="AF_UNIX", authkey=bytes.fromhex(os.environ["COSIM_AUTHKEY"]))
    try:
        while True:
            req = conn.recv()
            if req is None:
                break
            name, kw = req
            t0 = time.perf_counter()
            prof = os.environ.get("COSIM_PROFILE")
            try:
                fn = HANDLERS[name]
                if prof:
                    import cProfile

                    pr = cProfile.Profile()
                    pr.enable()
                    out = await fn(ctx, **kw)
                    pr.disable()
                    pr.dump_stats(prof)
                else:
                    out = await fn(ctx, **kw)
                conn.send((True, out))
            except Exception as e:  # noqa: BLE001 - sent back to the caller with its traceback
                text = "".join(traceback.format_exception(e))
                conn.send((False, f"{type(e).__name__}: {e}\n{text}"))
                if ports.error is not None:  # the ports are unusable: restart them
                    ports.error = None
            ctx.info.setdefault("wall", 0.0)
            ctx.info["wall"] += time.perf_counter() - t0
    finally:
        conn.close()
