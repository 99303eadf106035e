"""Exploration as Dask tasks: policies, matrix cells and subtrees of one search.

    .venv/bin/python -m tb.explore_cluster scenarios/zap_threads.scn --bound 1       (make explore)
    .venv/bin/python -m tb.explore_cluster --matrix --method hybrid --bound 1         (make matrix EXPLORE=1)
    .venv/bin/python -m tb.explore_cluster scenarios/zap_threads.scn --no-reduce --split 4 --policy deferred
    ... --scheduler tcp://HOST:8786                                                    (an existing cluster)

The explorer (model.explore) decides one scenario under one policy in one
process. Its independent units run here as Dask tasks, on the same engines
as stress (tb.stress_cluster: an embedded LocalCluster by default, an
existing cluster with `--scheduler`, threads of this process with
`--in-process`):

* `make explore`: one unit per policy (`Explorer.explore`, unchanged);
* `make matrix EXPLORE=1`: one unit per operation x policy cell (63);
* `--split K` (with `--no-reduce`, the enumeration of every schedule within
  the bound): one unit per node K moves deep in the schedule tree, so one
  big search spreads over the workers. The driver walks the first K levels
  itself and each worker enumerates one subtree below them, with the
  explorer's public world (`Explorer.world(prefix)`, `World.enabled`,
  `preempts`, `do`, `verdicts`) and the same rules as its search: the same
  order of moves, the same preemption budget, the same depth cut. The
  subtrees are disjoint and cover the tree, so schedules, cut schedules and
  states add up to exactly the single-process counts, and the violation
  reported is the one the single process reports (fewest preemptions, then
  shortest, then first in the search's order). Iterative deepening runs
  bound by bound, as the explorer does. The reduced searches (sleep sets,
  state hashing, DPOR) share state across the whole tree, so they are not
  split: a split of those would decide the same but count differently.

Each finished unit is one line of a JSON Lines shard (tb.shards; the line's
`seed` is the unit's number), so a rerun with the same settings resumes
and a lost worker loses nothing: Dask reruns its unit elsewhere, and a line
is written only when a unit completes.
"""
from __future__ import annotations

import argparse
import io
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from tb import shards
from tb.stress_cluster import DaskEngine, LocalEngine, run_batches

ROOT = Path(__file__).resolve().parent.parent
LEVEL = 1_000_000  # unit number = bound * LEVEL + index (split runs, iterative deepening)


@dataclass(frozen=True)
class Unit:
    """One task: a whole search (`prefix` None) or the subtree below `prefix` with `budget` preemptions left."""

    policy: str
    op: str = ""  # matrix cell's operation ("" for the scenario of the run)
    prefix: tuple[tuple[str, str], ...] | None = None
    budget: int = 0
    bound: int = 0


@dataclass(frozen=True)
class Job:
    """What every unit of one run needs (sent with each task; small)."""

    text: str = ""  # the scenario's text (workers need not share the driver's file system)
    path: str = ""
    method: str = "hybrid"
    bound: int = 1
    depth: int = 400
    reduce: bool = True
    time_limit: float | None = None
    coverage: bool = False
    units: dict[int, Unit] = field(default_factory=dict)

    def scenario(self, op: str = "") -> Any:
        if op:
            from model.matrix import load_rows

            return next(r for r in load_rows() if r.op == op).scenario()
        from model.explore import parse_threads

        return parse_threads(self.text, self.path)


# --------------------------------------------------------------------------- results as JSON lines


def found_json(f: Any) -> dict | None:
    if f is None:
        return None
    return {"schedule": [[m.kind, m.thread] for m in f.schedule], "rules": sorted(f.rules),
            "preemptions": f.preemptions, "messages": [v.message for v in f.verdicts][:3]}


def found_of(d: dict | None) -> Any:
    from model.explore import Found, Move

    if d is None:
        return None
    return Found([Move(k, t) for k, t in d["schedule"]], frozenset(d["rules"]), [], d["preemptions"])


COUNTS = ("schedules", "cut", "states", "pruned", "moves")


def result_json(r: Any) -> dict:
    return {"scenario": r.scenario, "policy": r.policy, "bound": r.bound, "depth": r.depth,
            **{k: getattr(r, k) for k in COUNTS}, "seconds": round(r.seconds, 3), "timed_out": r.timed_out,
            "levels": [list(x) for x in r.levels], "found": found_json(r.found)}


def result_of(d: dict) -> Any:
    from model.explore import Result

    r = Result(d["scenario"], d["policy"], d["bound"], d["depth"], **{k: d[k] for k in COUNTS},
               seconds=d["seconds"], timed_out=d["timed_out"], levels=[tuple(x) for x in d["levels"]])
    r.found = found_of(d["found"])
    return r


# --------------------------------------------------------------------------- one unit (on a worker)


@dataclass
class Subtree:
    """Counts of one enumerated subtree (the explorer's `Result` fields that add up)."""

    schedules: int = 0
    cut: int = 0
    states: int = 0
    moves: int = 0
    found: Any = None
    timed_out: bool = False


def enumerate_subtree(ex: Any, prefix: list, budget: int, deadline: float | None, acc: Subtree,
                      on_leaf: Any = None, stop_at: int | None = None, emit: Any = None) -> None:
    """Every schedule below `prefix` within `budget` preemptions, as `Explorer(reduce=False)`
    runs them: a node is a state (counted), a node without a move is a schedule (its
    verdict), a node at the depth bound is cut; the first child continues in place and
    each other child replays its prefix. `stop_at`/`emit`: at that many moves, hand the
    node (prefix, budget) to `emit` instead of going on (the driver's split)."""
    from model.explore import Found

    def dfs(w: Any, pre: list, bud: int) -> None:
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError
        if stop_at is not None and len(pre) == stop_at:
            emit(list(pre), bud)
            return
        acc.states += 1
        moves = w.enabled()
        if not moves:
            acc.schedules += 1
            if on_leaf is not None:
                on_leaf(w)
            verdicts = w.verdicts()
            failed = frozenset(v.rule for v in verdicts if not v.ok)
            f = acc.found
            if failed and (f is None or (w.preemptions, len(pre)) < (f.preemptions, len(f.schedule))):
                acc.found = Found(list(pre), failed, [v for v in verdicts if not v.ok], w.preemptions)
            return
        if len(pre) >= ex.depth:
            acc.cut += 1
            return
        fresh = True
        costs = [1 if w.preempts(m) else 0 for m in moves]  # w changes once the first child runs
        for m, cost in zip(moves, costs):
            if cost > bud:
                continue
            cur = w if fresh else ex.world(pre)
            if not fresh:
                acc.moves += len(pre)
            fresh = False
            cur.do(m)
            acc.moves += 1
            dfs(cur, pre + [m], bud - cost)

    try:
        dfs(ex.world(prefix), list(prefix), budget)
    except TimeoutError:
        acc.timed_out = True


def run_unit(job: Job, uid: int) -> dict:
    """One unit's line: its result (whole search) or its subtree's counts, and its coverage hits."""
    from model import coverage
    from model.explore import Explorer, Move

    u = job.units[uid]
    sc = job.scenario(u.op)
    hits: Counter[str] = Counter()
    def collect(w: Any) -> None:
        hits.update({coverage.bin_key(b) for b in coverage.bins_of(w.trace, u.policy)})

    hook = collect if job.coverage else None
    t0 = time.monotonic()
    line: dict = {"seed": uid, "policy": u.policy, "op": u.op}
    if u.prefix is None:
        ex = Explorer(sc, u.policy, preemptions=job.bound, depth=job.depth, reduce=job.reduce,
                      time_limit=job.time_limit, on_leaf=hook, method=job.method)
        line["result"] = result_json(ex.explore())
    else:
        ex = Explorer(sc, u.policy, preemptions=job.bound, depth=job.depth, reduce=False)
        acc = Subtree()
        deadline = None if job.time_limit is None else t0 + job.time_limit
        enumerate_subtree(ex, [Move(k, t) for k, t in u.prefix], u.budget, deadline, acc, on_leaf=hook)
        line.update(bound=u.bound, prefix=[list(m) for m in u.prefix],
                    subtree={"schedules": acc.schedules, "cut": acc.cut, "states": acc.states, "moves": acc.moves,
                             "timed_out": acc.timed_out, "found": found_json(acc.found)})
    line["bins"] = dict(hits)
    line["seconds"] = round(time.monotonic() - t0, 3)
    return line


def _batch(job: Job, uids: Iterable[int]) -> list[dict]:
    return [run_unit(job, u) for u in uids]


def dask_units(job: Job, uids: list[int]) -> list[dict]:
    """A Dask task: some units on this worker."""
    from distributed import get_worker

    lines = _batch(job, uids)
    for ln in lines:
        ln["worker"] = get_worker().address
    return lines


class ExploreDaskEngine(DaskEngine):
    """tb.stress_cluster's Dask engine with exploration units as its tasks."""

    def submit(self, job: Job, uids: list[int]) -> Any:
        return self.client.submit(dask_units, job, uids, pure=False, retries=1)


class ExploreLocalEngine(LocalEngine):
    """Units on threads of this process (no Dask)."""

    def _batch(self, job: Job, uids: list[int]) -> list[dict]:  # type: ignore[override]
        import threading

        lines = _batch(job, uids)
        for ln in lines:
            ln["worker"] = f"local-{threading.current_thread().name}"
        return lines


def open_engine(kind: str = "dask", *, scheduler: str | None = None, jobs: int | None = None,
                out: Path | None = None) -> Any:
    if kind == "local":
        return ExploreLocalEngine(jobs or 1, sim_out=out)
    return ExploreDaskEngine(scheduler, jobs, sim_out=out)


# --------------------------------------------------------------------------- the driver


def settings(job: Job, kind: str, split: int | None) -> dict:
    """What the lines of a shard directory depend on (its manifest): a resume must match."""
    import hashlib

    return {"kind": kind, "scenario": job.path, "text": hashlib.sha256(job.text.encode()).hexdigest()[:16],
            "method": job.method, "bound": job.bound, "depth": job.depth, "reduce": job.reduce,
            "time_limit": job.time_limit, "coverage": job.coverage, "split": split,
            "policies": sorted({u.policy for u in job.units.values()}),
            "sources": shards.sources_digest(ROOT, ("model",))}


def run_units(engine: Any, job: Job, out: Path, *, resume: bool, what: str, quiet: bool = False,
              on_line: Any = None, manifest: dict | None = None) -> dict[int, dict]:
    """Run every unit of `job` not yet in the shards of `out` (all of them unless `resume`);
    returns every unit's line, from the shards (those of earlier runs included)."""
    from model.progress import Progress

    if manifest is not None:
        if not resume:
            shards.clear(out)
        shards.check_manifest(out, manifest)
    have = {ln["seed"]: ln for _f, _n, ln in shards.read(out) if ln["seed"] in job.units}
    todo = [u for u in sorted(job.units) if u not in have]
    if not todo:
        return have
    sched = [0]
    with shards.ShardWriter(out) as w, Progress(what, total=len(todo), unit="units",
                                                live=False if quiet else None,
                                                stream=io.StringIO() if quiet else None) as bar:
        def got(ln: dict) -> None:
            have[ln["seed"]] = ln
            sched[0] += (ln.get("result") or ln.get("subtree") or {}).get("schedules", 0)
            bar.note = f"{sched[0]} schedules, {sched[0] / max(1e-9, bar.elapsed()):.0f} schedules/s"
            if on_line is not None:
                on_line(ln)

        st = run_batches(engine, job, todo, batch=1, write=w.write, progress=bar, on_line=got,
                         window=2 * engine.slots)
    if not quiet:
        print(f"[{what}] {sched[0]} schedules in {bar.seconds:.1f} s, {sched[0] / max(1e-9, bar.seconds):.1f} "
              f"schedules/s, on {len(st.workers)} worker(s)", file=sys.stderr, flush=True)
    if st.failed:
        uids, err = st.failed[0]
        raise RuntimeError(f"{len(st.failed)} unit(s) failed (first: unit {uids[0]}: {err}); rerun to resume")
    return have


def explore_policies(engine: Any, sc_path: Path, policies: list[str], out: Path, *, method: str = "hybrid",
                     bound: int = 1, depth: int = 400, reduce: bool = True, time_limit: float | None = 600.0,
                     coverage: bool = False, resume: bool = False, quiet: bool = False,
                     on_line: Any = None) -> tuple[dict[str, Any], Counter]:
    """One unit per policy; returns policy -> model.explore.Result and the coverage hits (bin key, policy)."""
    job = Job(text=Path(sc_path).read_text(), path=str(sc_path), method=method, bound=bound, depth=depth,
              reduce=reduce, time_limit=time_limit, coverage=coverage,
              units={i: Unit(p) for i, p in enumerate(policies)})
    job.scenario()  # a bad file: one line naming it, before any task
    lines = run_units(engine, job, out, resume=resume, what=f"explore {Path(sc_path).stem}", quiet=quiet,
                      on_line=on_line, manifest=settings(job, "policies", None))
    hits: Counter = Counter()
    res = {}
    for i, p in enumerate(policies):
        res[p] = result_of(lines[i]["result"])
        hits.update({(k, p): n for k, n in lines[i]["bins"].items()})
    return res, hits


def explore_matrix(engine: Any, out: Path, *, method: str = "hybrid", bound: int = 1,
                   time_limit: float | None = 9.0, ops: list[str] | None = None, resume: bool = False,
                   quiet: bool = False, on_line: Any = None) -> list[Any]:
    """One unit per operation x policy cell; returns model.matrix_explore.ExploredCell per cell, in table order."""
    from model.matrix import load_rows
    from model.matrix_explore import ExploredCell
    from model.notifier import POLICIES

    rows = [r for r in load_rows() if not ops or r.op in ops]
    cells = [(r, p.value) for r in rows for p in POLICIES]
    job = Job(path="model/matrix.toml", method=method, bound=bound, time_limit=time_limit,
              units={i: Unit(p, op=r.op) for i, (r, p) in enumerate(cells)})
    lines = run_units(engine, job, out, resume=resume, what="matrix explore", quiet=quiet, on_line=on_line,
                      manifest={**settings(job, "matrix", None), "ops": [r.op for r in rows]})
    return [ExploredCell(r.op, p, r.expect[p], result_of(lines[i]["result"])) for i, (r, p) in enumerate(cells)]


def explore_split(engine: Any, sc_path: Path, policy: str, out: Path, *, split: int, bound: int = 1,
                  depth: int = 400, deepen: bool = True, time_limit: float | None = None, resume: bool = False,
                  quiet: bool = False, on_line: Any = None) -> Any:
    """The enumeration of every schedule within `bound` preemptions (`Explorer(reduce=False)`),
    split `split` moves deep into subtrees that run as units; returns a model.explore.Result
    with the single-process counts (`moves` excepted: a subtree replays its prefix)."""
    from model.explore import Explorer, Result

    if not 0 < split < depth:
        raise ValueError(f"--split {split}: want 0 < split < depth ({depth})")
    text = Path(sc_path).read_text()
    base = Job(text=text, path=str(sc_path), method="bounded", bound=bound, depth=depth, reduce=False,
               time_limit=time_limit)
    sc = base.scenario()
    ex = Explorer(sc, policy, preemptions=bound, depth=depth, reduce=False)
    t0 = time.monotonic()
    res = Result(sc.name, policy, 0, depth)
    man = {**settings(base, "split", split), "policies": [policy], "deepen": deepen}
    first = True
    for b in range(0 if deepen else bound, bound + 1):
        res.bound = b
        order: list[tuple[str, Any]] = []  # the driver's leaves and the units, in the search's order
        units: dict[int, Unit] = {}

        def emit(pre: list, bud: int, b: int = b) -> None:
            uid = b * LEVEL + len(units)
            units[uid] = Unit(policy, prefix=tuple((m.kind, m.thread) for m in pre), budget=bud, bound=b)
            order.append(("unit", uid))

        class Leaves(Subtree):
            """The driver's own leaves above the split, in order."""

            def __setattr__(self, k: str, v: Any) -> None:
                if k == "found" and v is not None:
                    order.append(("leaf", v))
                object.__setattr__(self, k, v)

        top = Leaves()
        enumerate_subtree(ex, [], b, None, top, stop_at=split, emit=emit)
        job = Job(**{**base.__dict__, "units": units})
        lines = run_units(engine, job, out, resume=resume or not first, what=f"explore {sc.name} [{policy}] "
                          f"bound {b}, {len(units)} subtrees", quiet=quiet, on_line=on_line,
                          manifest=man if first else None)
        first = False
        res.schedules, res.cut, res.states = top.schedules, top.cut, top.states
        res.found, timed_out = None, False
        for kind, x in order:
            if kind == "unit":
                s = lines[x]["subtree"]
                res.schedules += s["schedules"]
                res.cut += s["cut"]
                res.states += s["states"]
                res.moves += s["moves"]
                timed_out |= s["timed_out"]
                f = found_of(s["found"])
            else:
                f = x
            if f is not None and (res.found is None or (f.preemptions, len(f.schedule)) <
                                  (res.found.preemptions, len(res.found.schedule))):
                res.found = f
        res.timed_out = timed_out
        res.levels.append((b, res.schedules, res.states, round(time.monotonic() - t0, 2)))
        if res.found is not None or res.timed_out:
            break
    res.seconds = time.monotonic() - t0
    return res


# --------------------------------------------------------------------------- CLI


def _rules(r: frozenset[str]) -> str:
    return ",".join(sorted(r)) or "clean"


def main(argv: list[str] | None = None) -> int:
    from model.cli import out_dir, positive_int
    from model.notifier import POLICIES, Policy
    from tb.stress import scheduler_addr

    ap = argparse.ArgumentParser(prog="python -m tb.explore_cluster", description=__doc__.splitlines()[0])
    ap.add_argument("scenario", nargs="?", help="a scenario file (not with --matrix)")
    ap.add_argument("--matrix", action="store_true", help="every cell of model/matrix.toml (make matrix EXPLORE=1)")
    ap.add_argument("--ops", default="", help="--matrix: comma-separated operations (default: every row)")
    ap.add_argument("--policy", default="all", help="notify-inside-lock | deferred | secondary-with-flush | all")
    ap.add_argument("--method", choices=("hybrid", "bpor", "dpor", "bounded"), default="hybrid")
    ap.add_argument("--bound", type=int, default=None, help="preemption bound (default 2; --matrix: 1)")
    ap.add_argument("--depth", type=int, default=400)
    ap.add_argument("--no-reduce", action="store_true", help="enumerate every schedule (no sleep sets, no hashing)")
    ap.add_argument("--split", type=positive_int, default=None,
                    help="with --no-reduce: run the subtrees this many moves deep as separate tasks")
    ap.add_argument("--time-limit", type=float, default=None,
                    help="seconds per unit (default: 600 per policy; 9 per matrix cell; none per subtree)")
    ap.add_argument("--out", type=out_dir, default="build/explore")
    ap.add_argument("--no-cex", action="store_true")
    ap.add_argument("--no-coverage", action="store_true")
    ap.add_argument("--jobs", type=positive_int, default=None, help="LocalCluster workers (default: one per core)")
    ap.add_argument("--scheduler", type=scheduler_addr, default=None,
                    help="an existing Dask cluster, tcp://HOST:PORT (default: an embedded LocalCluster)")
    ap.add_argument("--in-process", action="store_true", help="no Dask: threads of this process")
    ap.add_argument("--fresh", action="store_true", help="discard the shards of an earlier run (default: resume)")
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args(argv)
    if a.matrix == bool(a.scenario):
        ap.error("give a scenario file or --matrix (not both)")
    if a.split and not a.no_reduce:
        ap.error("--split needs --no-reduce (a reduced search shares its state across the tree)")
    if a.in_process and a.scheduler:
        ap.error("--in-process and --scheduler exclude each other")
    from model.scenario import ScenarioError

    try:
        pols = [p.value for p in POLICIES] if a.policy == "all" else [Policy.parse(a.policy).value]
        if a.scenario:
            from model.explore import load_threads

            sc = load_threads(a.scenario)
    except (ScenarioError, ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    engine = open_engine("local" if a.in_process else "dask", scheduler=a.scheduler, jobs=a.jobs,
                         out=a.out / "workers")
    if not a.quiet:
        print(f"[explore] {engine.where} (started in {engine.start_seconds:.1f} s)", flush=True)
    try:
        if a.matrix:
            return _matrix(engine, a)
        status = 0
        if a.split:
            res = {p: explore_split(engine, Path(a.scenario), p, a.out / f"{sc.name}_{p}_split{a.split}",
                                    split=a.split, bound=2 if a.bound is None else a.bound, depth=a.depth,
                                    time_limit=a.time_limit, resume=not a.fresh, quiet=a.quiet) for p in pols}
            hits: Counter = Counter()
        else:
            res, hits = explore_policies(engine, Path(a.scenario), pols, a.out / f"{sc.name}_units",
                                         method=a.method, bound=2 if a.bound is None else a.bound,
                                         depth=a.depth, reduce=not a.no_reduce,
                                         time_limit=600.0 if a.time_limit is None else a.time_limit,
                                         coverage=not a.no_coverage, resume=not a.fresh, quiet=a.quiet)
        for p, r in res.items():
            print(f"== {r.summary()}")
            exp = sc.expects.get(p)
            got = frozenset() if r.found is None else r.found.rules
            if r.found is not None and not a.no_cex:
                from model.explore import write_counterexample

                path, cres = write_counterexample(sc, Policy.parse(p), r.found, a.out)
                print(f"   counterexample: {path} ({cres})")
            if exp is not None and exp != got:
                print(f"   expected {'clean' if not exp else ','.join(sorted(exp))}")
                status = 1
            print()
        if hits:
            from model import coverage

            coverage.reset()
            coverage.add_hits(Counter({coverage.bin_of_key(k, p): n for (k, p), n in hits.items()}))
            files = coverage.write_report(a.out)
            print(coverage.table(coverage.hits(), pols))
            print(f"race-window coverage of the explored schedules: {files['xml']}, {files['txt']}")
        return status
    except (shards.ShardError, RuntimeError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"interrupted; the units finished so far are in the shards under {a.out}: rerun the same "
              f"command to resume", file=sys.stderr)
        return 130
    finally:
        engine.close()


def _matrix(engine: Any, a: argparse.Namespace) -> int:
    from model.matrix import load_rows

    ops = [o for o in a.ops.split(",") if o]
    unknown = set(ops) - {r.op for r in load_rows()}
    if unknown:
        print(f"error: unknown operation(s) {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    bound = 1 if a.bound is None else a.bound
    t0 = time.monotonic()
    cells = explore_matrix(engine, a.out / "matrix_units", method=a.method, bound=bound,
                           time_limit=9.0 if a.time_limit is None else a.time_limit, ops=ops, resume=not a.fresh,
                           quiet=a.quiet)
    print(f"{'operation':<28} {'policy':<22} {'hand-built':<18} {'explored':<18} {'status':<10} "
          f"schedules  states  seconds")
    for c in cells:
        r = c.result
        print(f"{c.op:<28} {c.policy:<22} {_rules(c.expect):<18} {_rules(c.got):<18} {c.status:<10} "
              f"{r.schedules:>9} {r.states:>7} {r.seconds:>8.1f}")
    diff = [c for c in cells if c.status == "differs"]
    und = [c for c in cells if c.status == "undecided"]
    how = {"dpor": "any number of preemptions", "bounded": f"bound {bound}",
           "bpor": f"bound {bound} (partial-order reduced)"}.get(
        a.method, f"bound {bound}, then any number of preemptions")
    print(f"\n{len(cells)} cells, {how}: {len(cells) - len(diff) - len(und)} agree, {len(diff)} differ, "
          f"{len(und)} undecided (time limit), {time.monotonic() - t0:.0f} s on {engine.where}")
    for c in diff:
        print(f"  differs: {c.op} [{c.policy}]: hand-built {_rules(c.expect)}, explored {_rules(c.got)}")
    return 0


if __name__ == "__main__":
    from model.cli import run_main

    run_main(main)
