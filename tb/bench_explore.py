"""Exploration figures for `make bench`: the doc's COW scenario per policy, the whole matrix.

    python -m tb.bench_explore [--cow-limit 60] [--cell-limit 8] [--skip-matrix] [--out build/bench]

* scenarios/cow_threads.scn (the doc's threads and operations, no rows)
  explored by `model.explore` (DPOR with state caching, any number of
  preemptions) under each policy, with a time limit: schedules, distinct
  states, pruned, seconds, and the verdict (clean and exhaustive, a
  violation, or undecided when the limit stopped it).
* `make matrix EXPLORE=1`: every cell of model/matrix.toml explored from its
  threads, with the per-cell limit; total seconds, and how many cells agree
  with the hand-built verdict, differ, or stayed undecided.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COW = ROOT / "scenarios" / "cow_threads.scn"


def cow_figures(time_limit: float, method: str = "dpor", bound: int = -1) -> dict:
    from model.explore import Explorer, load_threads
    from model.notifier import POLICIES

    sc = load_threads(COW)
    out = {}
    for p in POLICIES:
        r = Explorer(sc, p.value, method=method, preemptions=bound, time_limit=time_limit).explore()
        out[p.value] = {
            "schedules": r.schedules, "states": r.states, "pruned": r.pruned, "seconds": round(r.seconds, 1),
            "verdict": ("violation " + ",".join(sorted(r.found.rules))) if r.found is not None
            else ("clean" if r.exhaustive else "undecided"),
            "moves": None if r.found is None else len(r.found.schedule),
            "clean_within": r.decided_bound,
        }
    return out


def matrix_figures(cell_limit: float) -> dict:
    from model.matrix import load_rows
    from model.matrix_explore import explore_row
    from model.notifier import POLICIES

    t0 = time.monotonic()
    status: dict[str, int] = {"agree": 0, "differs": 0, "undecided": 0}
    differ = []
    for row in load_rows():
        for p in POLICIES:
            c = explore_row(row, p.value, -1, cell_limit, "dpor")
            status[c.status] += 1
            if c.status == "differs":
                differ.append(f"{c.op} [{c.policy}]")
    return {"cells": sum(status.values()), **status, "differ_cells": differ, "cell_limit": cell_limit,
            "seconds": round(time.monotonic() - t0, 1)}


def report(res: dict) -> str:
    lines = ["exploration (model.explore, DPOR with state caching, any number of preemptions):"]
    for pol, f in res.get("cow", {}).items():
        lines.append(f"  cow_threads.scn {pol:<21} {f['schedules']:>6} schedules {f['states']:>7} distinct states "
                     f"{f['pruned']:>6} pruned {f['seconds']:>6.1f} s  {f['verdict']}")
    if "cow_bpor" in res:
        lines.append(f"  (bounded partial-order reduction, at most {res['bpor_bound']} preemption(s):)")
    for pol, f in res.get("cow_bpor", {}).items():
        lines.append(f"  cow_threads.scn {pol:<21} {f['schedules']:>6} schedules {f['states']:>7} distinct states "
                     f"{f['pruned']:>6} pruned {f['seconds']:>6.1f} s  {f['verdict']}")
    m = res.get("matrix")
    if m:
        lines.append(f"  matrix, exploration mode        {m['cells']} cells in {m['seconds']:.0f} s "
                     f"({m['cell_limit']:g} s limit per cell): {m['agree']} agree, {m['differs']} differ, "
                     f"{m['undecided']} undecided")
        for c in m["differ_cells"]:
            lines.append(f"    differs: {c}")
    return "\n".join(lines)


def explore_figures(cow_limit: float = 60.0, cell_limit: float = 8.0, matrix: bool = True,
                    bpor_bound: int | None = 0) -> dict:
    res: dict = {"cow": cow_figures(cow_limit)}
    if bpor_bound is not None:
        res["cow_bpor"] = cow_figures(cow_limit, "bpor", bpor_bound)
        res["bpor_bound"] = bpor_bound
    if matrix:
        res["matrix"] = matrix_figures(cell_limit)
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tb.bench_explore", description=__doc__.splitlines()[0])
    ap.add_argument("--cow-limit", type=float, default=60.0, help="seconds per policy for cow_threads.scn")
    ap.add_argument("--cell-limit", type=float, default=8.0, help="seconds per matrix cell")
    ap.add_argument("--skip-matrix", action="store_true")
    ap.add_argument("--bpor-bound", type=int, default=0,
                    help="also explore cow_threads.scn with bounded DPOR at this preemption bound (-1: skip)")
    ap.add_argument("--out", default="build/bench")
    a = ap.parse_args(argv)
    res = explore_figures(a.cow_limit, a.cell_limit, not a.skip_matrix, None if a.bpor_bound < 0 else a.bpor_bound)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "explore.json").write_text(json.dumps(res, indent=1))
    print(report(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
