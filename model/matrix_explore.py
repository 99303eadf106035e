"""The verdict matrix in exploration mode: every cell decided, not demonstrated.

Each cell of model/matrix.toml is a scenario built by hand to open one race
window. Here each row's scenario keeps its setup and its threads' actions
but loses its rows: `model.explore` chooses the schedule, within a
preemption bound, and the failed rules it finds are compared with the
hand-built expectation. A cell where they differ is reported: either the
hand-built window missed a race the explorer found (explored fails more), or
the bound or the time limit kept the explorer from reaching the hand-built
schedule (explored fails less; the cell says whether it was exhaustive).

    python -m model.matrix_explore [--method hybrid|dpor|bounded] [--bound 1] [--time-limit 8] [--ops cow,munmap]
    make matrix EXPLORE=1 [METHOD=hybrid] [BOUND=1]
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass

from .explore import Explorer, Result
from .matrix import MatrixRow, load_rows
from .notifier import POLICIES


@dataclass
class ExploredCell:
    op: str
    policy: str
    expect: frozenset[str]
    result: Result

    @property
    def got(self) -> frozenset[str]:
        return frozenset() if self.result.found is None else self.result.found.rules

    @property
    def status(self) -> str:
        """agree | differs | undecided (no violation but the search was not exhaustive)."""
        if not self.got and not self.result.exhaustive:
            return "undecided"
        return "agree" if self.got == self.expect else "differs"


def explore_row(row: MatrixRow, policy: str, bound: int, time_limit: float | None,
                method: str = "bounded") -> ExploredCell:
    sc = row.scenario()
    res = Explorer(sc, policy, preemptions=bound, time_limit=time_limit, method=method).explore()
    return ExploredCell(row.op, policy, row.expect[policy], res)


def _within(r: Result) -> str:
    """The bound the cell was explored to its end at with no violation ('-' if none)."""
    if r.found is not None:
        return "-"
    if r.exhaustive:
        return "any" if r.bound < 0 else f"{r.bound} preemption(s)"
    return "-" if r.decided_bound is None else f"{r.decided_bound} preemption(s)"


def _rules(r: frozenset[str]) -> str:
    return ",".join(sorted(r)) or "clean"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m model.matrix_explore", description=__doc__.splitlines()[0])
    ap.add_argument("--method", choices=("hybrid", "dpor", "bpor", "bounded"), default="hybrid",
                    help="hybrid (default): bpor, then dpor; dpor: any number of preemptions; bpor: DPOR within "
                         "--bound; bounded: every schedule within --bound")
    ap.add_argument("--bound", type=int, default=1, help="bounded: preemption bound per cell (default 1)")
    ap.add_argument("--time-limit", type=float, default=9.0,
                    help="seconds per cell (default 9: the 63 cells in under 10 minutes)")
    ap.add_argument("--ops", default="", help="comma-separated operations (default: every row)")
    args = ap.parse_args(argv)
    rows = load_rows()
    if args.ops:
        want = set(args.ops.split(","))
        unknown = want - {r.op for r in rows}
        if unknown:
            print(f"error: unknown operation(s) {', '.join(sorted(unknown))}", file=sys.stderr)
            return 2
        rows = [r for r in rows if r.op in want]
    t0 = time.monotonic()
    cells: list[ExploredCell] = []
    print(f"{'operation':<28} {'policy':<22} {'hand-built':<18} {'explored':<18} {'status':<10} schedules  states  "
          f"seconds  clean within")
    for row in rows:
        for p in POLICIES:
            c = explore_row(row, p.value, args.bound, args.time_limit, args.method)
            cells.append(c)
            r = c.result
            print(f"{row.op:<28} {p.value:<22} {_rules(c.expect):<18} {_rules(c.got):<18} {c.status:<10} "
                  f"{r.schedules:>9} {r.states:>7} {r.seconds:>8.1f}  {_within(r)}", flush=True)
    diff = [c for c in cells if c.status == "differs"]
    und = [c for c in cells if c.status == "undecided"]
    how = {"dpor": "any number of preemptions", "bounded": f"bound {args.bound}", "bpor": f"bound {args.bound}"}.get(
        args.method, f"bound {args.bound}, then any number of preemptions")
    print(f"\n{len(cells)} cells, {how}: {len(cells) - len(diff) - len(und)} agree, "
          f"{len(diff)} differ, {len(und)} undecided (time limit), {time.monotonic() - t0:.0f} s")
    for c in diff:
        print(f"  differs: {c.op} [{c.policy}]: hand-built {_rules(c.expect)}, explored {_rules(c.got)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
