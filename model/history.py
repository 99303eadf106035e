"""Kernel history rows: a historical bug, run with its switch on and off.

Every scenario file under scenarios/history/ is one row. Its `bug` line turns
on the switches (model.kernel_bugs) that reproduce the omission; the row runs
under the policy of the kernels that had the bug, once as written (the bug:
it must fail exactly the rules of the file's `expect` line for that policy)
and once with no switch on (the fix: it must be clean). docs/HISTORY.md has
one paragraph per row.

`python -m model.history` runs the rows on the reference device;
`python -m tb.history [--device ref|rtl|both]` (`make history`) adds the RTL.
Both print the table and write build/history/history.json and history.md.
"""
from __future__ import annotations

import dataclasses
import re
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
    bug_policy: str = ""  # the policy of the run with the bug ("" = `policy`; a `policy:` switch sets it)

    @property
    def ok(self) -> bool:
        return bool(self.expected) and self.bug == self.expected and not self.fix


def _by_version(p: Path) -> tuple:
    """Rows in Linux order: a file named NAME_X.Y.scn sorts by (X, Y), then by name."""
    m = re.search(r"_(\d+)\.(\d+)$", p.stem)
    return ((int(m[1]), int(m[2])) if m else (999, 0), p.stem)


def rows(directory: Path = HISTORY_DIR) -> list[Row]:
    """Every row file, checked: a `bug` line, one policy for its switches, an
    `expect` line for that policy naming at least one rule."""
    out = []
    for p in sorted(directory.glob("*.scn"), key=_by_version):
        sc = load(p)
        if not sc.bugs:
            raise ValueError(f"{p}: a history row needs a 'bug NAME' line")
        sws = [SWITCHES[b] for b in sorted(sc.bugs)]
        policies = {s.policy for s in sws}
        if len(policies) != 1:
            raise ValueError(f"{p}: switches of different policies: {sorted(policies)}")
        pol = policies.pop()
        prof = [s.target for s in sws if s.kind == "policy"]
        if len(prof) > 1:
            raise ValueError(f"{p}: more than one policy: switch ({', '.join(prof)})")
        bug_pol = prof[0] if prof else pol
        exp = sc.expects.get(bug_pol)
        if not exp:
            raise ValueError(f"{p}: needs 'expect {bug_pol} RULE...' (the violation the bug gives)")
        out.append(Row(p, sc, pol, exp, "; ".join(dict.fromkeys(s.versions for s in sws)),
                       "; ".join(dict.fromkeys(s.fixed_by for s in sws)), bug_policy=bug_pol))
    return out


def run_row(row: Row, runner: Runner, seed: int = 0) -> Row:
    """Fill in the failed rules with the bug and with the fix."""
    call_bugs = frozenset(b for b in row.scenario.bugs if SWITCHES[b].kind != "policy")
    row.bug = frozenset(runner(dataclasses.replace(row.scenario, bugs=call_bugs), row.bug_policy or row.policy,
                               seed).failed_rules)
    row.fix = frozenset(runner(dataclasses.replace(row.scenario, bugs=frozenset()), row.policy, seed).failed_rules)
    return row


def row_path(r: Row) -> str:
    """The kernel functions a row's switches act on; for a `policy:` switch, the row's CPU operations."""
    points = {SWITCHES[b].point.split(":")[0] for b in r.scenario.bugs if SWITCHES[b].point}
    if not points:
        points = {a.verb for row in r.scenario.rows for t, acts in row.cells.items() for a in acts
                  if t.startswith("CPU") and a.verb not in ("resume", "wait")}
        points = (points - {"store", "load"}) or {"store (write fault)" if "store" in points else "load"}
    return ", ".join(sorted(points))


def fmt(rules: frozenset[str]) -> str:
    return ",".join(sorted(rules)) or "clean"


def table(results: list[dict]) -> str:
    """The rows as a Markdown table (the columns of docs/HISTORY.md)."""
    out = ["| row | Linux | path | with the bug | with the fix | reference device agrees | source |",
           "|---|---|---|---|---|---|---|"]
    for r in results:
        agree = {True: "yes", False: "**no**", None: "-"}[r["ref_agrees"]]
        out.append(f"| `{r['row']}` | {r['versions']} | {r['path']} | {r['bug']} | {r['fix']} | {agree} | "
                   f"{r['fixed_by']} |")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None, rtl: Callable[..., Any] | None = None,
         prog: str = "python -m model.history") -> int:
    """`rtl` is run_scenario_rtl(scenario, policy, seed); tb.history passes it (model/ never imports tb/)."""
    import argparse
    import json
    import sys

    from .cli import nonneg_int
    from .scenario import ScenarioError

    ap = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    ap.add_argument("--device", choices=("ref", "rtl", "both"), default="both" if rtl else "ref",
                    help="where the verdict columns come from (both: the RTL, compared with the reference)")
    ap.add_argument("--seed", type=nonneg_int, default=0)
    ap.add_argument("--rows", default=str(HISTORY_DIR), help="directory of row scenario files")
    ap.add_argument("--out", default=str(ROOT / "build" / "history"), help="directory for history.json/.md")
    args = ap.parse_args(argv)
    if args.device != "ref" and rtl is None:
        ap.error(f"argument --device: {args.device} runs on the RTL, which is bound in tb/: "
                 f"python -m tb.history --device {args.device}")
    from .scheduler import run_scenario_sync
    results, bad = [], 0
    try:
        all_rows = rows(Path(args.rows))
    except (ScenarioError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for r in all_rows:
        ref = run_row(dataclasses.replace(r), run_scenario_sync, args.seed)
        main_row, agrees = ref, None
        if args.device != "ref":
            on_rtl = run_row(dataclasses.replace(r), rtl, args.seed)
            main_row = on_rtl
            agrees = (on_rtl.bug, on_rtl.fix) == (ref.bug, ref.fix) if args.device == "both" else None
        ok = main_row.ok and agrees is not False
        bad += not ok
        results.append({"row": r.scenario.name, "file": str(r.path), "versions": r.versions,
                        "path": row_path(r),
                        "policy": r.policy, "bug_policy": r.bug_policy, "device": "rtl" if args.device != "ref" else "ref",
                        "expected": fmt(r.expected), "bug": fmt(main_row.bug), "fix": fmt(main_row.fix),
                        "ref_agrees": agrees, "fixed_by": r.fixed_by, "ok": ok})
    md = table(results)
    print(md, end="")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "history.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "history.md").write_text(md)
    print(f"{len(results) - bad} of {len(results)} rows as expected; {out / 'history.json'}, {out / 'history.md'}")
    return 1 if bad else 0


if __name__ == "__main__":
    from model.cli import run_main

    run_main(main)
