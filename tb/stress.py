"""Seeded random stress on the RTL: the operation catalogue against device threads.

    .venv/bin/python -m tb.stress --seeds 200 --out build/stress          (make stress SEEDS=200)
    .venv/bin/python -m tb.stress --seeds 5 --first 40 --policy deferred  (seeds 40..44, one policy)
    .venv/bin/python -m tb.stress --seeds 100000 --scheduler tcp://HOST:8786  (an existing Dask cluster)
    .venv/bin/python -m tb.stress --merge --out build/stress              (summary of the shards there)

Every seed generates a scenario (model.random_scenario): a few pages in
states the catalogue's kernel paths act on, CPU threads running random
operations from the catalogue, and several device threads hammering the
same pages. The seeded random scheduler (model.scheduler, mode "random")
interleaves everything; the seed replays it exactly. Each seed runs under
all three notifier policies on the RTL, through the pyuvm environment
(golden scoreboard on every response, every checker on the trace), or with
`--device ref` on the reference device (no simulator).

Where it runs (tb.stress_cluster): batches of seeds are Dask tasks on an
embedded LocalCluster (one worker process per core by default, `--jobs`),
or on an existing cluster (`--scheduler tcp://HOST:PORT`; docs/STRESS.md
has dask-jobqueue for Slurm and LSF), each worker with one long-lived
simulator. `--in-process` runs them on threads of this process instead.

Results stream to JSON Lines shards under the output directory, one line
per seed, appended as batches complete (tb.shards). Rerunning the same
command resumes: seeds already in the shards are skipped, so an
interrupted `make stress SEEDS=100000` continues where it stopped (`--fresh`
starts over). The summary (stress.json), JUnit XML (junit.xml) and the
race-window coverage (coverage.xml, table in coverage.txt; model.coverage,
docs/COVERAGE.md) are tallied from the shards line by line
(tb.stress_tally), at the end of every run or alone with `--merge`, so
memory stays flat in the number of seeds.

Pass criteria: zero violations (and zero scoreboard errors) under
`notify-inside-lock` and `secondary-with-flush`; under `deferred` the
fraction of seeds that expose a violation is reported. A failing seed prints
the command that replays it and the one that shows its waveform and timeline
(`.venv/bin/python -m tb.sim --scenario random --seed N --policy P --waves 1`).

`--mode directed` runs the same seeds with coverage-directed schedules
(model.director: CPU threads held in race windows the run has not hit yet,
device accesses placed inside them); `--mode both` (what `make stress`
runs) does both, each in its own subdirectory, and prints the fraction of
seeds exposing the deferred violation under each and their ratio.
"""
from __future__ import annotations

import argparse
import math
import os
import re
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Iterable

from model.cli import latency_range, nonneg_int, out_dir, positive_int, python_cmd, run_main
from model.notifier import POLICIES
from model.random_scenario import random_scenario
from tb import shards
from tb.rtldev import BACKPRESSURE, NO_BACKPRESSURE
from tb.stress_tally import Tally, junit, write_coverage, write_summary

# AXI slave settings of the stress runs (random latency per access, reordering across IDs);
# `python -m tb.sim --scenario random --seed N` uses the same, so it replays a stress seed.
# `bp`: back-pressure on every port and a latency tail (tb.rtldev.CosimConfig.stall /
# latency_tail), so accesses wait in front of the AXI port after their ATC lookup and
# walks stay in flight across invalidations; seeded by the stress seed.
STRESS_AXI = {"latency": (2, 5), "reorder": True, "bp": BACKPRESSURE}
ROOT = Path(__file__).resolve().parent.parent
BATCH = {"rtl": 25, "ref": 50}  # seeds per task: long enough to hide the task's overhead, short for progress
MODES = ("random", "directed")

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


def ref_ceiling(seeds: list[int], tries: int, policy: str = "deferred", directed: bool = True, **gen: Any) -> dict:
    """How many seeds' scenarios expose a violation under `policy` in at least one of
    `tries` random schedules and (`directed`) `tries` coverage-directed ones (schedule seeds
    seed*100003+k): a lower bound on the seeds any schedule exposes, so an upper bound, as
    far as the tries tell, on what one schedule per seed can reach."""
    from model.director import Director
    from model.scheduler import run_scenario_sync

    found: dict[str, list[int]] = {"random": [], "directed": [], "any": []}
    for seed in seeds:
        sc = random_scenario(seed, **gen)
        hit = {"random": False, "directed": False}
        for k in range(tries):
            s = seed if k == 0 else seed * 100003 + k
            for mode in ("random", "directed") if directed else ("random",):
                if not hit[mode] and run_scenario_sync(sc, policy, s, mode="random",
                                                       director=Director() if mode == "directed" else None).failures:
                    hit[mode] = True
            if all(hit.values()) or (not directed and hit["random"]):
                break
        for mode, h in hit.items():
            if h:
                found[mode].append(seed)
        if any(hit.values()):
            found["any"].append(seed)
    return {"seeds": len(seeds), "tries": tries, "policy": policy, "exposable": len(found["any"]),
            "fraction": round(len(found["any"]) / len(seeds), 4),
            "by_mode": {m: len(v) for m, v in found.items() if m != "any"}, "exposable_seeds": found["any"]}


# --------------------------------------------------------------------------- outside


def replay(seed: int | str, policy: str, directed: bool = False, device: str = "rtl") -> str:
    """The command that replays one seed under one policy, runnable as printed from the repository root
    (with seed "{seed}" and policy "{policy}": the template the simulator fills in per run)."""
    return (f"{python_cmd()} -m tb.stress --first {seed} --seeds 1 --policy {policy} "
            f"--out build/stress/seed{seed} --fresh" + (" --mode directed" if directed else "")
            + (f" --device {device}" if device != "rtl" else ""))


def waves_cmd(seed: int, policy: str, directed: bool = False) -> str:
    """The command that reruns one seed with a waveform and a timeline (tb.sim)."""
    return (f"{python_cmd()} -m tb.sim --scenario random --seed {seed} --policy {policy} --waves 1 "
            f"--out build/sim/random_seed{seed}" + (" --directed" if directed else ""))


def open_engine(kind: str = "dask", *, scheduler: str | None = None, jobs: int | None = None,
                sim_out: Path | None = None, quiet: bool = True) -> Any:
    """`dask` (a LocalCluster of `jobs` worker processes, or the cluster at `scheduler`) or
    `local` (threads of this process, tb.stress_cluster.LocalEngine)."""
    from tb.stress_cluster import DaskEngine, LocalEngine

    if kind == "local":
        return LocalEngine(jobs or 1, sim_out=sim_out)
    return DaskEngine(scheduler, jobs, sim_out=sim_out, quiet=quiet)


def batch_size(device: str, todo: int, slots: int) -> int:
    """Seeds per task: BATCH[device], or fewer when that would leave a worker with fewer than
    four tasks (a small run still spreads over every worker and shows progress)."""
    return max(1, min(BATCH[device], math.ceil(todo / (4 * slots))))


def settings(device: str, mode: str, policies: list[str], latency, reorder: bool, bp: dict | None,
             gen: dict) -> dict:
    """What the lines of a shard directory depend on (its manifest): a resume must match."""
    out = {"device": device, "mode": mode, "policies": list(policies), "generator": gen,
           "sources": shards.sources_digest(ROOT)}
    if device == "rtl":
        out.update(latency=list(latency), reorder=reorder, bp=bp)
    return out


def run_stress(seeds: Iterable[int], policies: list[str], *, out: Path | None = None, device: str = "rtl",
               latency=STRESS_AXI["latency"], reorder: bool = STRESS_AXI["reorder"],
               bp: dict | None = STRESS_AXI["bp"], batch: int | None = None, jobs: int | None = None,
               scheduler: str | None = None, engine: Any = None, engine_kind: str = "dask", resume: bool = False,
               quiet: bool = False, directed: bool = False, on_line: Callable[[dict], None] | None = None,
               **gen: Any) -> dict:
    """Run the seeds (those not yet in the shards of `out` when `resume`) and tally every seed
    of `seeds` found there into the summary; writes stress.json, junit.xml and coverage.*.

    `engine`: a started engine to reuse (open_engine), else one is opened for this run
    (Dask LocalCluster of `jobs` workers unless `scheduler` or `engine_kind="local"`) and
    closed at the end. `on_line` sees each new seed's line (tests interrupt with it)."""
    from tb.stress_cluster import SeedProgress, Work, run_batches

    out = Path(out or "build/stress")
    mode = "directed" if directed else "random"
    wanted = seeds if isinstance(seeds, range) else set(seeds)  # a range stays a range: O(1) memory and lookup
    order = wanted if isinstance(wanted, range) else sorted(wanted)
    gen = dict(gen)
    work = Work(device=device, mode=mode, policies=tuple(policies), latency=tuple(latency), reorder=reorder,
                bp=bp if device == "rtl" else None, gen=gen, repro=replay("{seed}", "{policy}", directed, device))
    if not resume:
        shards.clear(out)
    shards.check_manifest(out, settings(device, mode, policies, latency, reorder, bp, gen))
    done = shards.done_seeds(out) if resume else shards.SeedSet()
    todo = sum(1 for s in order if s not in done)
    run: dict = {"engine": None, "new_seeds": 0}
    if todo:
        own = engine is None
        if own:
            n = jobs or os.cpu_count() or 1
            engine = open_engine(engine_kind, scheduler=scheduler, jobs=min(n, todo),
                                 sim_out=out / ("workers" if engine_kind == "dask" else ""), quiet=quiet)
        batch = batch or batch_size(device, todo, engine.slots)
        acc = [0]

        def count(ln: dict) -> None:
            acc[0] += sum(int(r.get("accesses") or 0) for r in ln["runs"].values())
            if on_line is not None:
                on_line(ln)

        label = f"stress {mode} {device}"
        try:
            with shards.ShardWriter(out) as w, SeedProgress(todo, label, quiet=quiet) as bar:
                st = run_batches(engine, work, (s for s in order if s not in done), batch=batch, write=w.write,
                                 progress=bar, on_line=count)
        finally:
            if own:
                engine.close()
        wall = st.wall_seconds
        run = {"engine": engine.kind, "where": engine.where, "new_seeds": st.written,
               "startup_seconds": round(engine.start_seconds if own else 0.0, 2),
               "first_result_seconds": round(st.first_result_seconds or 0.0, 2),
               "wall_seconds": round(wall, 2), "seeds_per_second": round(st.written / wall, 2) if wall else None,
               "accesses_per_second": round(acc[0] / wall) if wall else None,
               "workers": len(st.workers), "batch": batch,
               "not_run": [{"seeds": [c[0], c[-1]], "n": len(c), "error": e} for c, e in st.failed[:20]],
               "n_not_run": sum(len(c) for c, _ in st.failed)}
    return finish(out, policies, wanted, run, device)


def finish(out: Path, policies: list[str], wanted: Any, run: dict, device: str = "rtl") -> dict:
    """Tally the shards of `out` (only the seeds in `wanted`, all when None) and write the outputs."""
    t = Tally(policies, lambda s, p, d: replay(s, p, d, device), waves_cmd)
    for f, n, line in shards.read(out):
        if wanted is None or line["seed"] in wanted:
            t.add(line, f"{f}:{n}")
    s = t.summary()
    s.update(run=run, wall_seconds=run.get("wall_seconds"), jobs=run.get("workers"),
             accesses_per_second=run.get("accesses_per_second"), shards=len(shards.shard_files(out)))
    if wanted is not None:
        missing = len(wanted) - s["n_seeds"]
        s["missing"] = missing
    s["coverage"]["files"] = write_coverage(out, t.hits)
    s["junit"] = str(junit({"random" if not s["directed"] else "directed": s}, out / "junit.xml"))
    write_summary(out, s)
    s["_hits"] = t.hits
    return s


def merge(out: Path) -> dict[str, dict]:
    """Tally an output directory's shards alone (no run): `out` itself, or its random/ and
    directed/ halves (`--mode both`). Returns mode -> summary."""
    dirs = {m: out / m for m in MODES if (out / m / shards.MANIFEST).exists()}
    if (out / shards.MANIFEST).exists():
        dirs = {shards.load_manifest(out)["mode"]: out}
    if not dirs:
        raise shards.ShardError(f"{out / shards.MANIFEST}: no such file (and no random/ or directed/ run "
                                f"directory under {out}); not a stress output directory")
    got = {}
    for m, d in dirs.items():
        man = shards.load_manifest(d)
        got[m] = finish(d, man["policies"], None, {"engine": None, "new_seeds": 0}, man.get("device", "rtl"))
    return got


def problems(s: dict) -> int:
    return s["n_problems"] + s["duplicates"] + (s.get("missing") or 0) + s["run"].get("n_not_run", 0)


def report(s: dict) -> str:
    how = "coverage-directed" if s.get("directed") else "random"
    run = s.get("run") or {}
    dev = {"rtl": "the RTL", "ref": "the reference device"}.get(s.get("device") or "", s.get("device") or "?")
    lines = [f"stress ({how} schedules): {s['n_seeds']} seed(s) x {len(s['policies'])} policies on {dev}, "
             f"{s['device_accesses']} device accesses, all checking on; shards: {s.get('shards')}"]
    if run.get("engine"):
        lines.append(f"  this run: {run['new_seeds']} new seed(s) in {run['wall_seconds']} s on {run['where']} "
                     f"({run['seeds_per_second']} seeds/s, {run['accesses_per_second']} accesses/s; "
                     f"start-up {run['startup_seconds']} s, first result after {run['first_result_seconds']} s)")
    else:
        lines.append("  this run: nothing new (every seed was in the shards)")
    c = s.get("coverage") or {}
    if c:
        pp = ", ".join(f"{p} {v['hit']}" for p, v in c["per_policy"].items())
        lines.append(f"  race-window coverage: {c['bins_hit']}/{c['bins_total']} bins hit ({pp}; "
                     f"{c['bins_total'] // max(1, len(c['per_policy']))} per policy); collection "
                     f"{c['collection_seconds']} s = {100 * (c['overhead'] or 0):.1f}% of run time; "
                     f"table {(c.get('files') or {}).get('txt')}")
    b = s.get("backpressure") or {}
    if b.get("stalled_cycles"):
        st = ", ".join(f"{k} {v}" for k, v in b["stalled_cycles"].items())
        lines.append(f"  back-pressure: refused cycles {st}; AXI latency mean {b['axi_latency_mean']}, "
                     f"max {b['axi_latency_max']} cycles")
    for pol, p in s["policies"].items():
        frac = f"{p['violating']}/{p['seeds']} seeds ({100 * p['fraction']:.1f}%)"
        rules = ", ".join(f"{k} x{v}" for k, v in sorted(p["rules"].items())) or "-"
        lines.append(f"  {pol:<22} violations in {frac:<22} rules: {rules}")
        if p["violating_seeds"]:
            more = " ..." if p["violating"] > min(20, len(p["violating_seeds"])) else ""
            lines.append(f"  {'':<22} seeds: {p['violating_seeds'][:20]}{more}")
    if s.get("duplicates"):
        lines.append(f"DUPLICATES: {s['duplicates']} seed line(s) found more than once in the shards")
    if s.get("missing"):
        lines.append(f"MISSING: {s['missing']} seed(s) of this run have no line in the shards"
                     + "".join(f"\n  seeds {x['seeds'][0]}..{x['seeds'][1]}: {x['error'][:200]}"
                               for x in run.get("not_run", [])[:5])
                     + "\n  rerun the same command to run them (a resume)")
    if s["n_problems"]:
        lines.append(f"FAILED: {s['n_problems']} problem(s)")
        for pr in s["problems"][:10]:
            lines.append(f"  seed {pr['seed']} [{pr['policy']}]: {pr['failed'] or ''} {pr['error'] or ''}")
            for m in (pr["messages"] + pr["scoreboard"])[:2]:
                lines.append(f"      {m[:300]}")
            lines.append(f"      replay: {pr['replay']}")
            lines.append(f"      waves:  {pr['waves']}")
    return "\n".join(lines)


SCHEDULER = re.compile(r"^(tcp|tls|ucx|ws|wss)://[^\s/:]+(:\d+)?$")


def scheduler_addr(s: str) -> str:
    """argparse type: a Dask scheduler address, PROTOCOL://HOST:PORT."""
    if not SCHEDULER.match(s):
        raise argparse.ArgumentTypeError(f"{s[:80]!r}: expected a Dask scheduler address such as "
                                         f"tcp://HOST:8786")
    return s


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tb.stress", description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=positive_int, default=200, help="how many seeds (at least 1)")
    ap.add_argument("--first", type=nonneg_int, default=0)
    ap.add_argument("--policy", default="all", choices=["all"] + [p.value for p in POLICIES])
    ap.add_argument("--out", type=out_dir, default="build/stress")
    ap.add_argument("--device", choices=["rtl", "ref"], default="rtl",
                    help="the RTL in Verilator (default) or the reference device (model.refdev, no simulator)")
    ap.add_argument("--latency", type=latency_range(2), default=STRESS_AXI["latency"],
                    help="AXI latency range lo,hi (cycles, lo >= 2)")
    ap.add_argument("--no-reorder", action="store_true")
    ap.add_argument("--no-backpressure", action="store_true",
                    help="hold every READY high and answer within --latency (the settings before back-pressure)")
    ap.add_argument("--jobs", type=positive_int, default=os.cpu_count() or 1,
                    help="LocalCluster worker processes (or --in-process threads), one simulator each "
                         "(default: one per core)")
    ap.add_argument("--scheduler", type=scheduler_addr, default=None,
                    help="an existing Dask cluster, tcp://HOST:PORT (default: an embedded LocalCluster)")
    ap.add_argument("--in-process", action="store_true",
                    help="no Dask: run the batches on --jobs threads of this process, one simulator each")
    ap.add_argument("--batch", type=positive_int, default=None,
                    help=f"seeds per task (default: {BATCH['rtl']} on the RTL, {BATCH['ref']} on the reference)")
    ap.add_argument("--fresh", action="store_true",
                    help="discard the shards already in --out (default: resume, skipping the seeds they hold)")
    ap.add_argument("--merge", action="store_true",
                    help="run nothing: tally the shards in --out into stress.json, junit.xml and coverage.*")
    ap.add_argument("--quiet", action="store_true", help="no progress output")
    ap.add_argument("--mode", choices=["random", "directed", "both"], default="random",
                    help="random schedules, coverage-directed ones (model.director), or both side by side "
                         "(make stress: both)")
    a = ap.parse_args(argv)
    if a.in_process and a.scheduler:
        ap.error("--in-process and --scheduler exclude each other")
    try:
        if a.merge:
            got = merge(a.out)
            return show(a.out, got)
        seeds = range(a.first, a.first + a.seeds)
        pols = [p.value for p in POLICIES] if a.policy == "all" else [a.policy]
        kw = dict(latency=tuple(a.latency), reorder=not a.no_reorder, device=a.device, batch=a.batch,
                  bp=NO_BACKPRESSURE if a.no_backpressure else STRESS_AXI["bp"], resume=not a.fresh,
                  quiet=a.quiet)
        modes = list(MODES) if a.mode == "both" else [a.mode]
        got = {}
        engine = None
        try:
            for m in modes:
                done = shards.done_seeds(a.out / m if a.mode == "both" else a.out) if not a.fresh else None
                if engine is None and (done is None or any(s not in done for s in seeds)):
                    n = min(a.jobs, a.seeds)
                    engine = open_engine("local" if a.in_process else "dask", scheduler=a.scheduler, jobs=n,
                                         sim_out=a.out / ("workers" if not a.in_process else ""), quiet=a.quiet)
                    if not a.quiet:
                        print(f"[stress] {engine.where} (started in {engine.start_seconds:.1f} s)", flush=True)
                got[m] = run_stress(seeds, pols, out=a.out / m if a.mode == "both" else a.out, engine=engine,
                                    directed=m == "directed", **kw)
                if engine is not None:
                    got[m]["run"]["startup_seconds"] = round(engine.start_seconds, 2)
        finally:
            if engine is not None:
                engine.close()
        return show(a.out, got)
    except shards.ShardError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # a scheduler that cannot be reached
        print(f"error: {a.scheduler or 'the cluster'}: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"interrupted; the seeds finished so far are in the shards under {a.out}: rerun the same "
              f"command to resume", file=sys.stderr)
        return 130


def show(out: Path, got: dict[str, dict]) -> int:
    """Print each mode's report; with both modes, the comparison and the coverage of both
    (coverage.* and junit.xml at `out`). Exit status 1 on any problem."""
    for s in got.values():
        print(report(s))
    if len(got) == 2:
        hits: Counter = Counter()
        for s in got.values():
            hits.update(s["_hits"])
        files = write_coverage(out, hits)
        from model import coverage

        cmp = compare(got["random"], got["directed"])
        cmp["coverage"] = coverage.summary(hits)
        print(coverage.table(hits))
        print(compare_text(cmp))
        junit(got, out / "junit.xml")
        write_summary(out, {m: {k: v for k, v in s.items() if k != "_hits"} for m, s in got.items()}, compare=cmp)
        print(f"wrote {out / 'stress.json'}, {out / 'junit.xml'} and {files['xml']} (both modes)")
    else:
        (s,) = got.values()
        if s["coverage"].get("files"):
            print(Path(s["coverage"]["files"]["txt"]).read_text().rstrip())
        print(f"wrote {out / 'stress.json'}, {out / 'junit.xml'} and {s['coverage']['files']['xml']}")
    return 1 if any(problems(s) for s in got.values()) else 0


def compare(rnd: dict, dirc: dict, policy: str = "deferred") -> dict:
    """Side by side: the fraction of seeds exposing a violation under `policy`, random vs directed."""
    out: dict = {"policy": policy}
    for name, s in (("random", rnd), ("directed", dirc)):
        p = s["policies"].get(policy)
        if p is not None:
            out[name] = {"violating": p["violating"], "seeds": p["seeds"],
                         "fraction": round(p["fraction"], 4), "seconds": s.get("wall_seconds")}
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
