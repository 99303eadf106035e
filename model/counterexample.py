"""A schedule the explorer found, as an ordinary scenario file, minimised.

`model.explore` reports a violating schedule as a list of moves. Nobody can
rerun a list of moves on the RTL, but anyone can rerun a scenario file: this
module writes the schedule in the layout of the doc's table (`[Time ...]`
rows, one line per thread, `until STEP:N` where a thread is preempted), checks
that the file replays on the reference device in script mode with the same
failed rule, and shrinks it by delta debugging (Zeller's ddmin) over its
actions, keeping only files that still parse and still fail that rule. The
result runs unchanged with `make sim SCENARIO=... POLICY=...`.

How moves become rows: each maximal run of moves by one thread is one row.
A CPU run is `OPERATION ... until STEP:N` when its operation started there and
was left unfinished (N counts STEP within the run), `resume until STEP:N` when
it continues one, without `until` when the operation returns. A device access
is `read/write ADDRESS` (the row waits for its response); an access that was
still in flight when another thread moved is written `nowait`. Invalidations
need no row: the script scheduler delivers them as device time passes.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from .notifier import Policy
from .scenario import ROW_RE, THREAD_RE, Scenario, ScenarioError, parse
from .trace import OpStep


@dataclass
class Unit:
    """One action of one row of the written scenario."""

    row: int
    thread: str
    text: str


def _strip(text: str) -> str:
    """An action's text without the scheduling suffixes the explorer ignores."""
    t = re.split(r"\s+until\s+", text)[0]
    return re.sub(r"\s+nowait$", "", t).strip()


def schedule_units(sc: Scenario, progs: dict, schedule: list, world_factory: Callable) -> list[Unit]:
    """Replay `schedule` and cut it into rows of actions (see the module docstring)."""
    w = world_factory()
    units: list[Unit] = []
    row = -1
    cur: str | None = None
    seg_steps: list[str] = []
    seg_started = False
    issued_row: dict[str, int] = {}  # device thread -> unit index of its in-flight access

    def close_cpu() -> None:
        nonlocal seg_steps, seg_started
        if cur is None or not cur.startswith("CPU-"):
            return
        t = w.run.cpus[cur]
        act = t.gen_action if t.gen is not None else None
        text = units[-1].text if units and units[-1].row == row and units[-1].thread == cur else None
        if text is None:
            return
        if act is not None and seg_steps:  # left unfinished: preempted after its last step
            last = seg_steps[-1]
            n = seg_steps.count(last)
            units[-1].text = text + f" until {last}" + (f":{n}" if n > 1 else "")
        seg_steps, seg_started = [], False

    for m in schedule:
        actor = None if m.kind == "inv" else m.thread
        if actor is not None and actor != cur:
            close_cpu()
            cur = actor
            row += 1
            if actor.startswith("CPU-"):
                t = w.run.cpus[actor]
                if t.gen is not None:
                    units.append(Unit(row, actor, "resume"))
                else:
                    nxt = t.queue[0] if t.queue else None
                    units.append(Unit(row, actor, _strip(nxt.text) if nxt is not None else "resume"))
        if m.kind == "issue":
            d = w.run.devs[m.thread]
            a = d.queue[0]
            units.append(Unit(row, m.thread, _strip(a.text)))
            issued_row[m.thread] = len(units) - 1
        n0 = len(w.trace.events)
        w.do(m)
        if m.kind == "cpu":
            seg_steps += [e.step for e in w.trace.events[n0:] if type(e) is OpStep and e.thread == m.thread]
        # an access still in flight when another thread moves does not hold its row
        for dname, i in list(issued_row.items()):
            if w.run.devs[dname].outstanding is None:
                del issued_row[dname]
            elif actor is not None and actor != dname and not units[i].text.endswith(" nowait"):
                units[i].text += " nowait"
    close_cpu()
    return units


def render(sc_text: str, sc: Scenario, units: list[Unit], policy: Policy, rule: str, note: str) -> str:
    """The scenario text: the original setup, then the rows."""
    setup = []
    for ln in sc_text.splitlines():
        s = ln.strip()
        w = s.split(None, 1)
        if ROW_RE.match(s) or (w and THREAD_RE.match(w[0]) and "{" in s):
            break
        if s.startswith("expect ") or s.startswith("#"):
            continue
        if s.startswith("scenario "):
            ln = f"scenario {sc.name}_cex"
        setup.append(ln)
    while setup and not setup[-1].strip():
        setup.pop()
    out = [f"# Counterexample found by model.explore under {policy.value}: fails rule '{rule}'.",
           f"# {note}", ""] + setup + [""]
    rows: dict[int, dict[str, list[str]]] = {}
    for u in units:
        rows.setdefault(u.row, {}).setdefault(u.thread, []).append(u.text)
    width = max((len(t) for t in sc.threads), default=12) + 2
    for i, r in enumerate(sorted(rows)):
        out.append(f"[Time N+{i}] " + "-" * 50 if i else "[Time N] " + "-" * 52)
        for t, acts in rows[r].items():
            out.append(f"{t:<{width}}{{{'; '.join(acts)}}}")
    out.append("")
    out.append(f"expect {policy.value} {rule}")
    return "\n".join(out) + "\n"


def fails(text: str, policy: Policy, rule: str) -> bool:
    """Does this scenario text parse, run, and fail `rule` on the reference device?"""
    from .scheduler import run_scenario_sync
    try:
        sc = parse(text, "<counterexample>")
        res = run_scenario_sync(sc, policy, 0, stall_limit=20_000)
    except ScenarioError:
        return False
    return rule in res.failed_rules


def ddmin(items: list, test: Callable[[list], bool]) -> list:
    """Zeller's delta debugging: a 1-minimal sublist of `items` for which `test` holds."""
    n = 2
    while len(items) >= 2:
        chunk = max(1, len(items) // n)
        subsets = [items[i:i + chunk] for i in range(0, len(items), chunk)]
        reduced = False
        for i in range(len(subsets)):
            complement = [x for j, s in enumerate(subsets) if j != i for x in s]
            if test(complement):
                items, n, reduced = complement, max(n - 1, 2), True
                break
        if not reduced:
            if n >= len(items):
                break
            n = min(len(items), n * 2)
    return items


@dataclass
class Counterexample:
    text: str
    rule: str
    rows: int
    actions: int
    tests: int  # replays run while minimising

    def __str__(self) -> str:
        return f"rule {self.rule}, {self.rows} rows, {self.actions} actions, minimised in {self.tests} replays"


def build(sc_text: str, sc: Scenario, policy: Policy, schedule: list, rules: frozenset[str],
          world_factory: Callable, progs: dict) -> Counterexample | None:
    """Write, check and minimise. None when no rendering of the schedule replays the failure."""
    units = schedule_units(sc, progs, schedule, world_factory)
    count = 0
    for rule in sorted(rules, key=lambda r: (r != "ordering", r)):
        note = f"explored schedule: {len(schedule)} moves; rows written from it, then minimised"

        def test(us: list[Unit]) -> bool:
            nonlocal count
            count += 1
            return fails(render(sc_text, sc, us, policy, rule, note), policy, rule)

        if not test(units):
            continue
        small = ddmin(list(units), test)
        text = render(sc_text, sc, small, policy, rule, note)
        return Counterexample(text, rule, len({u.row for u in small}), len(small), count)
    return None
