"""`python -m model.scenario FILE`: run a scenario file on the reference device and print the verdicts.

The command line sits above both the scenario format (model/scenario.py) and
the scheduler that runs it (model/scheduler.py), so the format never imports
the scheduler: model/scenario.py's `__main__` block only hands over to `main`.
"""
from __future__ import annotations

import argparse
import sys

from . import scenario
from .check import summarize
from .cli import nonneg_int
from .notifier import POLICIES, Policy
from .scenario import ScenarioError, load
from .scheduler import run_scenario_sync


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m model.scenario", description=scenario.__doc__.splitlines()[0])
    ap.add_argument("file")
    ap.add_argument("--policy", default="all", choices=["all"] + [p.value for p in POLICIES])
    ap.add_argument("--mode", default="script", choices=("script", "random"))
    ap.add_argument("--seed", type=nonneg_int, default=0)
    ap.add_argument("--timeline", action="store_true", help="print the trace as a timeline table")
    args = ap.parse_args(argv)
    try:
        sc = load(args.file)
        policies = [p.value for p in POLICIES] if args.policy == "all" else [Policy.parse(args.policy).value]
    except (ScenarioError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    status = 0
    for pol in policies:
        try:
            res = run_scenario_sync(sc, pol, args.seed, mode=args.mode)
        except ScenarioError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        bad = sorted(res.failed_rules)
        print(f"== {sc.name} [{pol}] seed {args.seed}, {args.mode}: "
              f"{'clean' if not bad else 'FAIL ' + ','.join(bad)}")
        print(summarize(res.verdicts))
        if args.timeline:
            print(res.timeline())
        exp = sc.expects.get(pol)
        if exp is not None and exp != frozenset(bad):
            print(f"   expected {'clean' if not exp else ','.join(sorted(exp))}")
            status = 1
        print()
    return status


if __name__ == "__main__":
    from model.cli import run_main

    run_main(main)
