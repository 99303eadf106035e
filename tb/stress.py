"""Seeded random stress on the RTL: the operation catalogue against device threads.

    .venv/bin/python -m tb.stress --seeds 200 --out build/stress          (make stress SEEDS=200)
    .venv/bin/python -m tb.stress --seeds 5 --first 40 --policy deferred  (seeds 40..44, one policy)

Every seed generates a scenario (`random_scenario`): a few pages in states the
catalogue's kernel paths act on (COW, zero page, file page, KSM candidates,
plain anonymous pages), CPU threads running random operations from the
catalogue on them plus CPU stores, and several device threads hammering the
same pages with reads (and writes where no kernel path races with them by
design). The seeded random scheduler (model.scheduler, mode "random")
interleaves everything; the seed replays it exactly. Each seed runs under all
three notifier policies on the RTL, through the pyuvm environment (golden
scoreboard on every response, every checker on the trace), in one
co-simulation process.

Pass criteria: zero violations (and zero scoreboard errors) under
`notify-inside-lock` and `secondary-with-flush`; under `deferred` the
fraction of seeds that expose a violation is reported. A failing seed prints
the command that replays it and the one that shows its waveform and timeline
(`.venv/bin/python -m tb.sim --scenario random --seed N --policy P --waves 1`).

`--mode directed` runs the same seeds with coverage-directed schedules
(model.director: CPU threads held in race windows the run has not hit yet,
device accesses placed inside them); `--mode both` (what `make stress`
runs) does both and prints the fraction of seeds exposing the deferred
violation under each and their ratio. Every run's race-window bins
(model.coverage) are collected in its simulator process and merged into
coverage.xml, with the table in coverage.txt (docs/COVERAGE.md).

The catalogue leaves out two races the host model treats as userspace races
or as a separate 4.15 bug (docs/MATRIX.md: `madv_dontneed_vs_fault`,
`ksm_merge_vs_cow`), since they fail under every policy by construction.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

from model.cli import latency_range, nonneg_int, out_dir, positive_int, python_cmd, run_main
from model.notifier import POLICIES
from tb.rtldev import BACKPRESSURE, NO_BACKPRESSURE

# AXI slave settings of the stress runs (random latency per access, reordering across IDs);
# `python -m tb.sim --scenario random --seed N` uses the same, so it replays a stress seed.
# `bp`: back-pressure on every port and a latency tail (tb.rtldev.CosimConfig.stall /
# latency_tail), so accesses wait in front of the AXI port after their ATC lookup and
# walks stay in flight across invalidations; seeded by the stress seed.
STRESS_AXI = {"latency": (2, 5), "reorder": True, "bp": BACKPRESSURE}

ANON = 0x1000_0000
FILEVA = 0x2000_0000

# (operation template, page states it applies to); {X} is a page label
CATALOGUE: list[tuple[str, tuple[str, ...]]] = [
    ("store {X}", ("cow", "zero", "present", "ro")),           # COW, write fault on the zero page, reuse
    ("store {X}", ("cow", "zero")),                            # (weighted: the doc's case B)
    ("load {X}", ("cow", "zero", "present", "ro")),
    ("migrate {X}", ("present", "cow", "ro")),
    ("ksm_write_protect_page {X}", ("present",)),
    ("ksm_replace_page {X}", ("ro",)),
    ("mprotect {X} 0x1000 ro", ("present",)),
    ("try_to_unmap {X}", ("present", "ro")),
    ("madv_free {X}", ("present",)),
    ("ksm_replace_page_early_free {X}", ("ro",)),             # the 2017 early put_page variant
    ("clear_soft_dirty", ("present", "cow", "zero", "ro")),   # whole mm; X only picks the row
]
FILE_OPS = ["__replace_page F"]
STATES = ("cow", "cow", "zero", "present", "ro")


def random_scenario_text(seed: int, *, pages: int = 4, cpus: int = 3, ops_per_cpu: int = 3,
                         devs: int = 4, dev_accesses: int = 10) -> str:
    """The scenario file text for `seed` (deterministic)."""
    rng = random.Random(seed * 7919 + 17)
    lines = [f"scenario stress_{seed}",
             f"description random catalogue interleaving, seed {seed}",
             "pasid 1", "cycles-per-step 10",
             f"vma {ANON:#x} {ANON + 0x10000:#x} anon rw mergeable",
             f"vma {FILEVA:#x} {FILEVA + 0x4000:#x} file ro file=text",
             f"page F {FILEVA:#x} file"]
    labels = []
    states: dict[str, str] = {}
    for i in range(pages):
        name = f"P{i}"
        st = rng.choice(STATES)
        states[name] = st
        labels.append(name)
        lines.append(f"page {name} {ANON + 0x2000 * i:#x} {st}")
    rows: list[list[str]] = []
    # device threads first touch every page (cache translations), then hammer
    row0 = []
    for d in range(devs):
        first = [f"read {labels[(d + j) % len(labels)]}" for j in range(min(2, len(labels)))]
        row0.append(f"DEV-thread-{d} {{{'; '.join(first)}}}")
    rows.append(row0)
    row1 = []
    busy: set[str] = set()  # pages some kernel path changes: device writes there would race by design
    for c in range(cpus):
        acts = []
        for _ in range(ops_per_cpu):
            if rng.random() < 0.12:
                acts.append(rng.choice(FILE_OPS))
                continue
            x = rng.choice(labels)
            choices = [t for t, sts in CATALOGUE if states[x] in sts]
            t = rng.choice(choices)
            if not t.startswith(("store", "load")):
                busy.add(x)  # kernel paths may race each other on x; the device only reads it
            acts.append(t.format(X=x))
        row1.append(f"CPU-thread-{c} {{{'; '.join(acts)}}}")
    rows.append(row1)
    row2 = []
    for d in range(devs):
        acts = []
        for _ in range(dev_accesses):
            x = rng.choice(labels + ["F"])
            if x != "F" and x not in busy and states[x] in ("present",) and rng.random() < 0.25:
                acts.append(f"write {x}")
            else:
                acts.append(f"read {x}")
        row2.append(f"DEV-thread-{d} {{{'; '.join(acts)}}}")
    rows.append(row2)
    for i, r in enumerate(rows):
        lines.append(f"[Time {i}] " + "-" * 40)
        lines += r
    lines.append("expect notify-inside-lock   clean")
    lines.append("expect secondary-with-flush clean")
    return "\n".join(lines) + "\n"


def random_scenario(seed: int, **kw: Any):
    from model.scenario import parse

    return parse(random_scenario_text(seed, **kw), f"<random:{seed}>")


# --------------------------------------------------------------------------- in the simulator


async def stress_batch(ctx, seeds: list[int], policies: list[str], latency=STRESS_AXI["latency"],
                       reorder=STRESS_AXI["reorder"], bp: dict | None = STRESS_AXI["bp"],
                       keep_traces: bool = False, directed: bool = False, coverage_out: str | None = None,
                       **gen: Any) -> list[dict]:
    """Run each seed under each policy on the RTL (one env build for the batch); summaries only.

    Every run's race-window bins (model.coverage) go into this simulator
    process's coverage database, exported to `coverage_out` after the batch
    (cumulative over the process's batches). `directed`: the coverage
    director (model.director) chooses the interleaving instead of the plain
    random draws."""
    from model import coverage
    from tb.cosim_server import job_output, make_job
    from tb.env import run_jobs

    specs = []
    for seed in seeds:
        sc = random_scenario(seed, **gen)
        for pol in policies:
            specs.append((seed, pol, make_job(ctx, sc, pol, seed, mode="random", latency=latency, reorder=reorder,
                                              axi_seed=seed, repro=replay(seed, pol, directed), bp=bp,
                                              directed=directed)))
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
        cov_seconds += time.perf_counter() - t1
        out.append({
            "bins": len(bins), "directed": directed,
            "seed": seed, "policy": pol, "failed": sorted({v.rule for v in fails}),
            "messages": [v.message for v in fails][:3], "scoreboard": o["scoreboard"],
            "stats": o["stats"], "cycles": o["cycles"], "sim_seconds": o["seconds"],
            "events": len(res.trace), "trace": res.trace if keep_traces else None, "bp": job.backpressure,
        })
    if coverage_out:
        t1 = time.perf_counter()
        coverage.export(coverage_out)
        cov_seconds += time.perf_counter() - t1
    if out:
        out[0]["batch"] = {"wall": wall, "cpu": cpu, "callbacks": ctx.ports.callbacks - cb0,
                           "coverage_seconds": cov_seconds}
    return out


# --------------------------------------------------------------------------- on the reference device


def ref_compare(seeds: list[int], policies: list[str] | None = None, **gen: Any) -> dict:
    """Random vs coverage-directed schedules of the same seeds on the reference device
    (no simulator, so enough seeds for a rate): per mode and policy the seeds whose run
    broke a rule, the race-window bins hit, and the time spent collecting coverage
    (bins of every trace into cocotb-coverage) against the time spent running."""
    from model import coverage
    from model.director import Director
    from model.scheduler import run_scenario_sync

    pols = policies or [p.value for p in POLICIES]
    out: dict = {"seeds": len(seeds), "policies": pols}
    for mode in ("random", "directed"):
        coverage.reset()
        run_s = cov_s = 0.0
        viol: dict[str, list[int]] = {p: [] for p in pols}
        for seed in seeds:
            sc = random_scenario(seed, **gen)
            for pol in pols:
                t0 = time.perf_counter()
                r = run_scenario_sync(sc, pol, seed, mode="random", director=Director() if mode == "directed" else None)
                t1 = time.perf_counter()
                coverage.collect(r.trace, pol)
                cov_s += time.perf_counter() - t1
                run_s += t1 - t0
                if r.failures:
                    viol[pol].append(seed)
        h = coverage.hits()
        out[mode] = {"violating": {p: len(v) for p, v in viol.items()},
                     "fraction": {p: round(len(v) / len(seeds), 4) for p, v in viol.items()},
                     "violating_seeds": {p: v[:50] for p, v in viol.items()},
                     "coverage": coverage.summary(h), "hits": h,
                     "run_seconds": round(run_s, 2), "collection_seconds": round(cov_s, 3),
                     "overhead": round(cov_s / run_s, 4) if run_s else None}
    coverage.reset()
    if "deferred" in pols:
        r, d = out["random"]["fraction"]["deferred"], out["directed"]["fraction"]["deferred"]
        out["ratio"] = round(d / r, 2) if r else None
    return out


def ref_compare_text(c: dict) -> str:
    lines = [f"random vs coverage-directed schedules, {c['seeds']} `make stress` seeds on the reference device:"]
    for mode in ("random", "directed"):
        m = c[mode]
        v = ", ".join(f"{p} {m['violating'][p]} ({100 * m['fraction'][p]:.1f}%)" for p in c["policies"])
        cv = m["coverage"]
        st = cv["per_policy"].get("deferred", {}).get("stale_hit")
        lines.append(f"  {mode:<9} seeds with a violation: {v}; bins hit {cv['bins_hit']}/{cv['bins_total']} "
                     f"(stale uses under deferred: {st}); "
                     f"coverage collection {100 * (m['overhead'] or 0):.1f}% of run time")
    if "ratio" in c:
        lines.append(f"  deferred exposed {c['directed']['violating']['deferred']} vs "
                     f"{c['random']['violating']['deferred']} seeds: ratio "
                     f"{c['ratio'] if c['ratio'] is not None else 'n/a'}x")
    return "\n".join(lines)


def ref_ceiling(seeds: list[int], tries: int, policy: str = "deferred", **gen: Any) -> dict:
    """How many seeds' scenarios expose a violation under `policy` in at least one of
    `tries` random schedules (schedule seeds seed*1000+k): what any single schedule per
    seed can reach at most, as far as `tries` schedules tell."""
    from model.scheduler import run_scenario_sync

    found = []
    for seed in seeds:
        sc = random_scenario(seed, **gen)
        for k in range(tries):
            if run_scenario_sync(sc, policy, seed if k == 0 else seed * 1000 + k, mode="random").failures:
                found.append(seed)
                break
    return {"seeds": len(seeds), "tries": tries, "policy": policy, "exposable": len(found),
            "fraction": round(len(found) / len(seeds), 4)}


# --------------------------------------------------------------------------- outside


def replay(seed: int, policy: str, directed: bool = False) -> str:
    """The command that replays one seed under one policy, runnable as printed from the repository root."""
    return (f"{python_cmd()} -m tb.stress --first {seed} --seeds 1 --policy {policy} "
            f"--out build/stress/seed{seed}" + (" --mode directed" if directed else ""))


def waves_cmd(seed: int, policy: str, directed: bool = False) -> str:
    """The command that reruns one seed with a waveform and a timeline (tb.sim)."""
    return (f"{python_cmd()} -m tb.sim --scenario random --seed {seed} --policy {policy} --waves 1 "
            f"--out build/sim/random_seed{seed}" + (" --directed" if directed else ""))


def run_stress(seeds: list[int], policies: list[str], *, out: Path | None = None, latency=STRESS_AXI["latency"],
               reorder: bool = STRESS_AXI["reorder"], bp: dict | None = STRESS_AXI["bp"], batch: int = 25,
               jobs: int = 1, quiet: bool = False, directed: bool = False, **gen: Any) -> dict:
    """Run the seeds on `jobs` co-simulation processes in parallel (seeds dealt round-robin).

    Race-window coverage: each process exports its database (sim<i>/coverage.xml),
    merged into out/coverage.xml (table in out/coverage.txt, figures in the summary)."""
    from concurrent.futures import ThreadPoolExecutor

    from tb.rtldev import CosimServer

    out = out or Path("build/stress")
    jobs = max(1, min(jobs, len(seeds) or 1))
    t_start = time.monotonic()
    servers = [CosimServer(out=out / f"sim{i}") for i in range(jobs)]
    t0 = time.monotonic()
    rows: list[dict] = []
    done = [0]

    def shard(i: int) -> list[dict]:
        mine = seeds[i::jobs]
        got: list[dict] = []
        for k in range(0, len(mine), batch):
            chunk = mine[k:k + batch]
            last = k + batch >= len(mine)  # the process's coverage database is exported once, at its end
            got += servers[i].call("stress_batch", seeds=chunk, policies=policies, latency=latency,
                                   reorder=reorder, bp=bp, directed=directed,
                                   coverage_out=str((out / f"sim{i}" / "coverage.xml").resolve()) if last else None,
                                   **gen)
            done[0] += len(chunk)
            if not quiet:
                print(f"[stress] {done[0]}/{len(seeds)} seeds ({time.monotonic() - t0:.0f} s)", flush=True)
        return got

    try:
        with ThreadPoolExecutor(max_workers=jobs) as ex:
            for part in ex.map(shard, range(jobs)):
                rows += part
    finally:
        for srv in servers:
            srv.close()
    wall = time.monotonic() - t0
    rows.sort(key=lambda r: (r["seed"], policies.index(r["policy"])))
    s = summarize(rows, seeds, policies, wall)
    s["jobs"] = jobs
    s["startup_seconds"] = round(t0 - t_start, 2)
    s["directed"] = directed
    s["coverage"] = merge_coverage(out, [out / f"sim{i}" / "coverage.xml" for i in range(jobs)], rows)
    return s


def merge_coverage(out: Path, files: list[Path], rows: list[dict]) -> dict:
    """Merge the processes' coverage databases (cocotb-coverage merge) into out/coverage.xml,
    write the table, and return the figures (bins hit/total, collection time against run time)."""
    from model import coverage

    files = [f for f in files if f.exists()]
    if not files:
        return {}
    merged = coverage.merge(out / "coverage.xml", *files)
    h = coverage.load(merged)
    written = coverage.write_report(out, h, xml=merged)
    batches = [r["batch"] for r in rows if r.get("batch")]
    run_s = sum(b["wall"] for b in batches)
    cov_s = sum(b.get("coverage_seconds", 0.0) for b in batches)
    return {**coverage.summary(h), "files": {k: str(v) for k, v in written.items()},
            "collection_seconds": round(cov_s, 3), "run_seconds": round(run_s, 3),
            "overhead": round(cov_s / run_s, 4) if run_s else None}


def summarize(rows: list[dict], seeds: list[int], policies: list[str], wall: float) -> dict:
    per: dict[str, dict] = {}
    problems: list[dict] = []
    for pol in policies:
        mine = [r for r in rows if r["policy"] == pol]
        viol = sorted({r["seed"] for r in mine if r.get("failed") and set(r["failed"]) - {"scoreboard"}})
        sb = sorted({r["seed"] for r in mine if r.get("scoreboard", {}).get("errors")})
        err = sorted({r["seed"] for r in mine if r.get("error")})
        rules: dict[str, int] = {}
        for r in mine:
            for rule in r.get("failed", []):
                rules[rule] = rules.get(rule, 0) + 1
        per[pol] = {"seeds": len(mine), "violating_seeds": viol, "fraction": len(viol) / max(1, len(mine)),
                    "rules": rules, "scoreboard_error_seeds": sb, "error_seeds": err,
                    "accesses": sum(r.get("stats", {}).get("responses", 0) for r in mine),
                    "cycles": sum(r.get("cycles", 0) for r in mine)}
        for r in mine:
            bad_policy = pol != "deferred" and r.get("failed")
            if bad_policy or r.get("error") or r.get("scoreboard", {}).get("errors"):
                problems.append({"seed": r["seed"], "policy": pol, "failed": r.get("failed"),
                                 "error": r.get("error"), "messages": r.get("messages", []),
                                 "scoreboard": (r.get("scoreboard") or {}).get("errors", [])[:3],
                                 "replay": replay(r["seed"], pol, r.get("directed", False)),
                                 "waves": waves_cmd(r["seed"], pol, r.get("directed", False))})
    acc = sum(p["accesses"] for p in per.values())
    stalled: dict[str, int] = {}
    lat_max, lat_means = 0, []
    for r in rows:
        b = r.get("bp") or {}
        for k, v in (b.get("stalled") or {}).items():
            stalled[k] = stalled.get(k, 0) + v
        al = b.get("axi_latency") or {}
        if al.get("max") is not None:
            lat_max = max(lat_max, al["max"])
            lat_means.append(al["mean"])
    bp_sum = {"stalled_cycles": stalled, "axi_latency_max": lat_max,
              "axi_latency_mean": round(sum(lat_means) / len(lat_means), 2) if lat_means else None}
    return {"backpressure": bp_sum, "seeds": seeds[:1] + seeds[-1:] if seeds else [], "n_seeds": len(seeds), "policies": per,
            "problems": problems, "wall_seconds": round(wall, 2), "device_accesses": acc,
            "accesses_per_second": round(acc / wall) if wall else None,
            "rows": [{k: v for k, v in r.items() if k != "trace"} for r in rows]}


def report(s: dict) -> str:
    how = "coverage-directed" if s.get("directed") else "random"
    lines = [f"stress ({how} schedules): {s['n_seeds']} seed(s) x {len(s['policies'])} policies, "
             f"{s['device_accesses']} device accesses "
             f"on the RTL in {s['wall_seconds']} s on {s.get('jobs', 1)} process(es) "
             f"({s['accesses_per_second']} accesses/s, all checking on)"]
    c = s.get("coverage") or {}
    if c:
        pp = ", ".join(f"{p} {v['hit']}" for p, v in c["per_policy"].items())
        lines.append(f"  race-window coverage: {c['bins_hit']}/{c['bins_total']} bins hit ({pp}; "
                     f"{c['bins_total'] // max(1, len(c['per_policy']))} per policy); collection "
                     f"{c['collection_seconds']} s = {100 * (c['overhead'] or 0):.1f}% of run time; "
                     f"table {c['files'].get('txt')}")
    b = s.get("backpressure") or {}
    if b.get("stalled_cycles"):
        st = ", ".join(f"{k} {v}" for k, v in b["stalled_cycles"].items())
        lines.append(f"  back-pressure: refused cycles {st}; AXI latency mean {b['axi_latency_mean']}, "
                     f"max {b['axi_latency_max']} cycles")
    for pol, p in s["policies"].items():
        frac = f"{len(p['violating_seeds'])}/{p['seeds']} seeds ({100 * p['fraction']:.1f}%)"
        rules = ", ".join(f"{k} x{v}" for k, v in sorted(p["rules"].items())) or "-"
        lines.append(f"  {pol:<22} violations in {frac:<22} rules: {rules}")
        if p["violating_seeds"]:
            lines.append(f"  {'':<22} seeds: {p['violating_seeds'][:20]}{' ...' if len(p['violating_seeds']) > 20 else ''}")
    if s["problems"]:
        lines.append(f"FAILED: {len(s['problems'])} problem(s)")
        for pr in s["problems"][:10]:
            lines.append(f"  seed {pr['seed']} [{pr['policy']}]: {pr['failed'] or ''} {pr['error'] or ''}")
            for m in (pr["messages"] + pr["scoreboard"])[:2]:
                lines.append(f"      {m[:300]}")
            lines.append(f"      replay: {pr['replay']}")
            lines.append(f"      waves:  {pr['waves']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tb.stress", description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=positive_int, default=200, help="how many seeds (at least 1)")
    ap.add_argument("--first", type=nonneg_int, default=0)
    ap.add_argument("--policy", default="all", choices=["all"] + [p.value for p in POLICIES])
    ap.add_argument("--out", type=out_dir, default="build/stress")
    ap.add_argument("--latency", type=latency_range(2), default=STRESS_AXI["latency"],
                    help="AXI latency range lo,hi (cycles, lo >= 2)")
    ap.add_argument("--no-reorder", action="store_true")
    ap.add_argument("--no-backpressure", action="store_true",
                    help="hold every READY high and answer within --latency (the settings before back-pressure)")
    ap.add_argument("--jobs", type=positive_int, default=min(2, os.cpu_count() or 1),
                    help="co-simulation processes in parallel (default: up to 2, one per core)")
    ap.add_argument("--mode", choices=["random", "directed", "both"], default="random",
                    help="random schedules, coverage-directed ones (model.director), or both side by side "
                         "(make stress: both)")
    a = ap.parse_args(argv)
    seeds = list(range(a.first, a.first + a.seeds))
    pols = [p.value for p in POLICIES] if a.policy == "all" else [a.policy]
    lat = tuple(a.latency)
    out = a.out
    kw = dict(latency=lat, reorder=not a.no_reorder, jobs=a.jobs,
              bp=NO_BACKPRESSURE if a.no_backpressure else STRESS_AXI["bp"])
    if a.mode != "both":
        s = run_stress(seeds, pols, out=out, directed=a.mode == "directed", **kw)
        (out / "stress.json").write_text(json.dumps(s, indent=1, default=str))
        print(report(s))
        if s.get("coverage"):
            print(Path(s["coverage"]["files"]["txt"]).read_text().rstrip())
        print(f"wrote {out / 'stress.json'}")
        return 1 if s["problems"] else 0
    both = {m: run_stress(seeds, pols, out=out / m, directed=m == "directed", **kw) for m in ("random", "directed")}
    for s in both.values():
        print(report(s))
    cmp = compare(both["random"], both["directed"])
    files = [out / m / "coverage.xml" for m in both if (out / m / "coverage.xml").exists()]
    if files:
        from model import coverage

        h = coverage.load(coverage.merge(out / "coverage.xml", *files))
        coverage.write_report(out, h, xml=out / "coverage.xml")
        cmp["coverage"] = coverage.summary(h)
        print(coverage.table(h))
    print(compare_text(cmp))
    (out / "stress.json").write_text(json.dumps({**both, "compare": cmp}, indent=1, default=str))
    print(f"wrote {out / 'stress.json'} and {out / 'coverage.xml'} (both modes merged)")
    return 1 if any(s["problems"] for s in both.values()) else 0


def compare(rnd: dict, dirc: dict, policy: str = "deferred") -> dict:
    """Side by side: the fraction of seeds exposing a violation under `policy`, random vs directed."""
    out: dict = {"policy": policy}
    for name, s in (("random", rnd), ("directed", dirc)):
        p = s["policies"].get(policy)
        if p is not None:
            out[name] = {"violating": len(p["violating_seeds"]), "seeds": p["seeds"],
                         "fraction": round(p["fraction"], 4), "seconds": s["wall_seconds"]}
    if "random" in out and "directed" in out:
        r, d = out["random"]["fraction"], out["directed"]["fraction"]
        out["ratio"] = round(d / r, 2) if r else None
    return out


def compare_text(c: dict) -> str:
    if "random" not in c or "directed" not in c:
        return f"(no {c['policy']} runs to compare)"
    r, d = c["random"], c["directed"]
    ratio = f"{c['ratio']}x" if c.get("ratio") is not None else "n/a (random found none)"
    return (f"{c['policy']} violation exposed: random {r['violating']}/{r['seeds']} seeds "
            f"({100 * r['fraction']:.1f}%), coverage-directed {d['violating']}/{d['seeds']} seeds "
            f"({100 * d['fraction']:.1f}%): ratio {ratio}")


if __name__ == "__main__":
    run_main(main)
