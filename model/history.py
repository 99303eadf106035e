"""Kernel history rows: a historical bug, run with its switch on and off.

Every scenario file under scenarios/history/ is one row. Its `bug` line turns
on the switches (model.kernel_bugs) that reproduce the omission; the row runs
under the policy of the kernels that had the bug, once as written (the bug:
it must fail exactly the rules of the file's `expect` line for that policy)
and once with no switch on (the fix: it must be clean). docs/HISTORY.md has
one paragraph per row.

`python -m model.history [--device ref|rtl]` prints the table.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .kernel_bugs import SWITCHES
from .scenario import Scenario, load

ROOT = Path(__file__).resolve().parent.parent
HISTORY_DIR = ROOT / "scenarios" / "history"

Runner = Callable[[Scenario, str, int], Any]  # (scenario, policy, seed) -> RunResult


@dataclass
class Row:
    path: Path
    scenario: Scenario
    policy: str
    expected: frozenset[str]
    versions: str
    fixed_by: str
    bug: frozenset[str] = field(default_factory=frozenset)
    fix: frozenset[str] = field(default_factory=frozenset)

    @property
    def ok(self) -> bool:
        return self.bug == self.expected and self.expected and not self.fix


def rows(directory: Path = HISTORY_DIR) -> list[Row]:
    """Every row file, checked: a `bug` line, one policy for its switches, an
    `expect` line for that policy naming at least one rule."""
    out = []
    for p in sorted(directory.glob("*.scn")):
        sc = load(p)
        if not sc.bugs:
            raise ValueError(f"{p}: a history row needs a 'bug NAME' line")
        sws = [SWITCHES[b] for b in sorted(sc.bugs)]
        policies = {s.policy for s in sws}
        if len(policies) != 1:
            raise ValueError(f"{p}: switches of different policies: {sorted(policies)}")
        pol = policies.pop()
        exp = sc.expects.get(pol)
        if not exp:
            raise ValueError(f"{p}: needs 'expect {pol} RULE...' (the violation the bug gives)")
        out.append(Row(p, sc, pol, exp, "; ".join(dict.fromkeys(s.versions for s in sws)),
                       "; ".join(dict.fromkeys(s.fixed_by for s in sws))))
    return out


def run_row(row: Row, runner: Runner, seed: int = 0) -> Row:
    """Fill in the failed rules with the bug and with the fix."""
    row.bug = frozenset(runner(row.scenario, row.policy, seed).failed_rules)
    row.fix = frozenset(runner(dataclasses.replace(row.scenario, bugs=frozenset()), row.policy, seed).failed_rules)
    return row


def fmt(rules: frozenset[str]) -> str:
    return ",".join(sorted(rules)) or "clean"


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m model.history", description=__doc__.splitlines()[0])
    ap.add_argument("--device", choices=("ref", "rtl"), default="ref")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.device == "rtl":
        from tb.rtldev import run_scenario_rtl as runner  # noqa: the RTL binding lives in tb/
    else:
        from .scheduler import run_scenario_sync as runner
    bad = 0
    print(f"{'row':34} {'versions':12} {'policy':20} {'with the bug':24} {'with the fix':12} fixed by")
    for r in rows():
        run_row(r, runner, args.seed)
        bad += not r.ok
        print(f"{r.scenario.name:34} {r.versions:12} {r.policy:20} {fmt(r.bug):24} {fmt(r.fix):12} {r.fixed_by}"
              + ("" if r.ok else f"   <-- expected {fmt(r.expected)} / clean"))
    return 1 if bad else 0


if __name__ == "__main__":
    from model.cli import run_main

    run_main(main)
