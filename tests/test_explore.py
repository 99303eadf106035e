"""model.explore decides a scenario within a bound, and its counterexamples replay.

* A rowless scenario (scenarios/zap_threads.scn) is decided under every policy:
  `deferred` gives a use-after-free counterexample, the other two are clean
  in every schedule within the bound (and the exploration was exhaustive).
* The counterexample file parses, replays in script mode on the reference
  device with the same failed rule, and was minimised.
* The reduction is sound on small scenarios: sleep sets and state hashing
  reach the same verdicts and the same set of final states as enumerating
  every schedule.
* A model bug planted by the test (no invalidation ever reaches the device
  under notify-inside-lock) is found, with a counterexample that replays.
"""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from model.counterexample import ddmin, fails
from model.explore import Explorer, load_threads, parse_threads
from model.notifier import Policy
from model.scenario import load
from model.scheduler import run_scenario_sync

ROOT = Path(__file__).resolve().parent.parent
ZAP = ROOT / "scenarios" / "zap_threads.scn"

COW_ONE = """
scenario cow_one
pasid 1
vma  0x10000000 0x10010000 anon rw
page addrA 0x10000000 cow
CPU-thread-0  {store addrA}
DEV-thread-0  {read addrA}
"""


def _write_cex(tmp_path: Path, sc, policy: str, found) -> Path:
    from model.explore import write_counterexample
    path, msg = write_counterexample(sc, Policy.parse(policy), found, tmp_path)
    assert path is not None, msg
    return path


def test_zap_threads_decided_under_every_policy(tmp_path):
    sc = load_threads(ZAP)
    assert not any(r.label != "-" for r in sc.rows)  # the file has no [Time] rows
    t0 = time.monotonic()
    got = {}
    for pol in ("notify-inside-lock", "deferred", "secondary-with-flush"):
        res = Explorer(sc, pol, preemptions=1).explore()
        print(res.summary())
        got[pol] = res
    print(f"zap_threads, three policies: {time.monotonic() - t0:.1f} s")
    for pol in ("notify-inside-lock", "secondary-with-flush"):
        r = got[pol]
        assert r.found is None and r.exhaustive and r.schedules > 1, r.summary()
        assert "no violation in all" in r.summary()
    d = got["deferred"]
    assert d.found is not None and d.found.rules == {"use-after-free"}, d.summary()
    # the expectations written in the file agree with the explorer
    assert sc.expects["deferred"] == d.found.rules
    assert sc.expects["notify-inside-lock"] == frozenset()


def test_counterexample_parses_replays_and_is_minimal(tmp_path):
    sc = load_threads(ZAP)
    res = Explorer(sc, "deferred", preemptions=1).explore()
    path = _write_cex(tmp_path, sc, "deferred", res.found)
    text = path.read_text()
    cex = load(path)  # an ordinary scenario file: [Time] rows
    assert cex.rows and all(r.label.startswith("N") for r in cex.rows)
    assert cex.expects["deferred"] == {"use-after-free"}
    rerun = run_scenario_sync(cex, "deferred")
    assert "use-after-free" in rerun.failed_rules, rerun.failures
    # the same file under a safe policy is clean: the failure is the policy's
    assert not run_scenario_sync(cex, "notify-inside-lock").failed_rules
    # 1-minimal: dropping any single action loses the failure
    lines = text.splitlines()
    acts = [i for i, ln in enumerate(lines) if ln.startswith(("CPU-thread", "DEV-thread"))]
    assert 2 <= len(acts) <= len(sc.actions()) + 4
    for i in acts:
        assert not fails("\n".join(lines[:i] + lines[i + 1:]), Policy.DEFERRED, "use-after-free"), lines[i]


def test_ddmin_finds_a_minimal_subset():
    calls = []

    def test(xs):
        calls.append(xs)
        return 3 in xs and 7 in xs

    assert sorted(ddmin(list(range(10)), test)) == [3, 7]


@pytest.mark.parametrize("text,policy,bound", [
    (ZAP.read_text(), "deferred", 0),
    (ZAP.read_text(), "deferred", 1),
    (ZAP.read_text(), "notify-inside-lock", 0),
    (COW_ONE, "deferred", 1),
    (COW_ONE, "notify-inside-lock", 1),
])
def test_reduction_is_sound(text, policy, bound):
    sc = parse_threads(text, "small.scn")
    runs = {}
    for name, kw in (("full", dict(reduce=False)), ("sleep", dict(hashing=False)), ("sleep+hash", {})):
        r = Explorer(sc, policy, preemptions=bound, deepen=False, keep_finals=True, **kw).explore()
        assert r.exhaustive, r.summary()
        runs[name] = r
    full = runs["full"]
    assert full.pruned == 0
    for name in ("sleep", "sleep+hash"):
        r = runs[name]
        assert r.verdict_sets == full.verdict_sets, (name, r.verdict_sets, full.verdict_sets)
        assert r.finals == full.finals, name
        assert r.schedules < full.schedules, (name, r.schedules, full.schedules)


def test_reduction_soundness_check_can_fail():
    """The comparison above fails when a schedule class is lost (here: the violating one)."""
    sc = parse_threads(ZAP.read_text(), "zap.scn")
    full = Explorer(sc, "deferred", preemptions=0, deepen=False, keep_finals=True, reduce=False).explore()
    ex = Explorer(sc, "deferred", preemptions=0, deepen=False, keep_finals=True)
    leaf = ex._leaf
    ex._leaf = lambda w, prefix: None if w.verdicts() and any(not v.ok for v in w.verdicts()) else leaf(w, prefix)
    lossy = ex.explore()
    assert lossy.verdict_sets != full.verdict_sets


def test_planted_bug_is_found_with_a_replaying_counterexample(planted_bug, tmp_path):
    sc = load_threads(ZAP)
    res = Explorer(sc, "notify-inside-lock", preemptions=1).explore()
    assert res.found is not None, res.summary()
    rule = sorted(res.found.rules)[0]
    path = _write_cex(tmp_path, sc, "notify-inside-lock", res.found)
    rerun = run_scenario_sync(load(path), "notify-inside-lock")
    assert rule in rerun.failed_rules


def test_without_the_planted_bug_the_same_search_is_clean():
    res = Explorer(load_threads(ZAP), "notify-inside-lock", preemptions=1).explore()
    assert res.found is None and res.exhaustive


def test_rowless_file_errors_name_file_and_line(tmp_path):
    p = tmp_path / "bad.scn"
    p.write_text("vma 0x10000000 0x10010000 anon rw\nCPU-thread-0 {stor 0x10000000}\n")
    from model.scenario import ScenarioError
    with pytest.raises(ScenarioError, match=r"bad.scn:2: unknown CPU action"):
        load_threads(p)


def test_cli_exit_status_and_output(tmp_path, capsys):
    from model.explore import main
    assert main([str(ZAP), "--policy", "deferred", "--bound", "1", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "VIOLATION use-after-free" in out and "counterexample:" in out
    assert list(tmp_path.glob("*_cex.scn"))
    assert main([str(tmp_path / "missing.scn")]) == 2


@pytest.mark.parametrize("op,policy", [("zap_early_free", "deferred"), ("madv_dontneed_vs_fault", "deferred")])
def test_matrix_cell_explored_agrees_with_hand_built(op, policy):
    """Exploration mode of the matrix (make matrix EXPLORE=1), reduced to two fast cells."""
    from model.matrix import load_rows
    from model.matrix_explore import explore_row
    row = next(r for r in load_rows() if r.op == op)
    cell = explore_row(row, policy, bound=1, time_limit=120)
    assert cell.expect, "a failing cell: the explorer must find the failure itself"
    assert cell.status == "agree", (cell.got, cell.expect, cell.result.summary())


def test_matrix_explore_reports_a_difference():
    """A cell whose explored verdict contradicts the hand-built one is reported as such."""
    from model.matrix import load_rows
    from model.matrix_explore import ExploredCell, explore_row
    row = next(r for r in load_rows() if r.op == "zap_early_free")
    cell = explore_row(row, "deferred", bound=1, time_limit=120)
    wrong = ExploredCell(cell.op, cell.policy, frozenset(), cell.result)  # as if the table said clean
    assert wrong.status == "differs"


def _drive(w, actor: str, until: str | None = None) -> None:
    """Run `actor`'s moves (and invalidation moves) until its access returns or it reaches `until`."""
    from model.trace import OpStep
    for _ in range(200):
        en = [m for m in w.enabled() if m.thread == actor]
        if not en:
            en = [m for m in w.enabled() if m.kind == "inv"]
            if not en:
                return
        n0 = len(w.trace.events)
        w.do(en[0])
        if until and any(type(e) is OpStep and e.thread == actor and e.step == until for e in w.trace.events[n0:]):
            return
        if actor.startswith("DEV") and w.run.devs[actor].outstanding is None:
            return
    raise AssertionError(f"{actor} did not finish")


def test_cow_threads_race_in_explorer_moves_gives_a_short_counterexample(tmp_path):
    """The doc's COW race is a schedule of the explorer's moves, within bound 2, and its
    counterexample file is no longer than the doc's table (9 rows) and replays.

    (Exhaustive exploration of cow_threads.scn itself does not finish within minutes;
    docs/SCENARIOS.md, "Cost".)
    """
    from model.counterexample import build
    sc = load_threads(ROOT / "scenarios" / "cow_threads.scn")
    ex = Explorer(sc, "deferred", preemptions=2)
    w = ex.world()
    _drive(w, "DEV-thread-0")
    _drive(w, "DEV-thread-2")
    _drive(w, "CPU-thread-0", "pt_unlock")
    _drive(w, "CPU-thread-1", "pt_unlock")
    _drive(w, "CPU-thread-2")
    _drive(w, "CPU-thread-3")
    _drive(w, "CPU-thread-1")
    _drive(w, "DEV-thread-2")
    _drive(w, "DEV-thread-0")
    while w.enabled():
        w.do(w.enabled()[0])
    assert w.preemptions <= 2
    failed = {v.rule for v in w.verdicts() if not v.ok}
    assert failed == {"ordering"}, failed
    cex = build((ROOT / "scenarios" / "cow_threads.scn").read_text(), sc, Policy.DEFERRED, w.history,
                frozenset(failed), ex.world, ex.progs)
    assert cex is not None and cex.rule == "ordering"
    table_rows = len(load(ROOT / "scenarios" / "cow_timeline.scn").rows)
    assert cex.rows <= table_rows, (cex.rows, table_rows)
    p = tmp_path / "cow_cex.scn"
    p.write_text(cex.text)
    assert "ordering" in run_scenario_sync(load(p), "deferred").failed_rules
    assert not run_scenario_sync(load(p), "notify-inside-lock").failed_rules


def test_matrix_cell_clean_for_any_number_of_preemptions():
    """A safe cell decided by DPOR (make matrix EXPLORE=1's second stage): clean, exhaustive, unbounded."""
    from model.matrix import load_rows
    from model.matrix_explore import explore_row
    row = next(r for r in load_rows() if r.op == "zap_early_free")
    cell = explore_row(row, "notify-inside-lock", bound=-1, time_limit=120, method="dpor")
    assert cell.status == "agree" and cell.result.exhaustive, cell.result.summary()
    assert "any number of preemptions" in cell.result.summary()


def test_hybrid_reports_the_bounded_violation_first():
    res = Explorer(load_threads(ZAP), "deferred", preemptions=1, method="hybrid", time_limit=60).explore()
    assert res.found is not None and res.found.rules == {"use-after-free"}
    assert res.found.preemptions <= 1
