"""The two ATS rules shown by breaking them: test-only RTL switches in a COW scenario,
and back-pressure that really reaches the corners.

* `DbgNoDrain` (rule 2) and `DbgNoPoison` (rule 1) turn the clean verdicts of
  the safe policies (notify-inside-lock, secondary-with-flush) on
  scenarios/cow_no_drain.scn and cow_no_poison.scn into named violations; the
  correct RTL runs the same scenarios clean, and deferred keeps its ordering
  violation everywhere. Run through model.matrix's rows (the two extra
  device columns) so the expectations come from model/matrix.toml.
* The seeded back-pressure of the co-simulation (tb.rtldev.CosimConfig.stall,
  latency_tail) refuses on every port and spreads the AXI latency, and a
  seed replays the same refusals.

Each RTL variant is built once (build/rtl/cosim_Dbg*) and served by one
co-simulation process for the module.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from model.matrix import POLICIES, fmt_rules, load_rows, run_matrix
from model.random_scenario import random_scenario
from model.scenario import ScenarioError, load, parse
from tb.rtldev import DEVICE_BUGS, NO_BACKPRESSURE, CosimServer, run_scenario_rtl
from tb.stress import STRESS_AXI

ROOT = Path(__file__).resolve().parent.parent
SEED = int(os.environ.get("SEED", "1"))
ROWS = {"no-drain": "cow_held_read", "no-poison": "cow_walk_race"}
SCN = {"no-drain": ROOT / "scenarios" / "cow_no_drain.scn", "no-poison": ROOT / "scenarios" / "cow_no_poison.scn"}
SAFE = ("notify-inside-lock", "secondary-with-flush")


@pytest.fixture(scope="module")
def servers():
    made: dict[str, CosimServer] = {}

    def get(bug: str) -> CosimServer:
        if bug not in made:
            made[bug] = CosimServer(out=ROOT / "build" / "cosim" / f"test_bugs_{bug or 'correct'}", seed=SEED,
                                    params=DEVICE_BUGS.get(bug))
        return made[bug]

    yield get
    for s in made.values():
        s.close()


def _cells(servers, bug: str, device: str):
    rows = [r for r in load_rows() if r.op in ROWS.values()]
    srv = servers(bug)
    runner = (lambda sc, pol, seed: run_scenario_rtl(sc, pol, seed, srv=srv, device_bug=bug)) if bug else \
        (lambda sc, pol, seed: run_scenario_rtl(sc, pol, seed, srv=srv))
    return run_matrix(rows, runner, SEED, device)


def _bad(cells) -> list[str]:
    return [f"{c.op} [{c.policy}]: expected {fmt_rules(c.expected)}, RTL observed {fmt_rules(c.observed)} "
            f"({'; '.join(c.details or [])[:300] or c.error})" for c in cells if not c.ok]


@pytest.mark.parametrize("bug", sorted(DEVICE_BUGS))
def test_switch_turns_safe_policies_into_named_violation(servers, bug):
    cells = _cells(servers, bug, f"rtl-{bug}")
    bad = _bad(cells)
    assert not bad, f"device {bug}:\n" + "\n".join(bad) + f"\nreplay: python -m model.matrix --device rtl-{bug} " \
                                                         f"--only {ROWS[bug]} --seed {SEED}"
    by = {(c.op, c.policy): c for c in cells}
    want = "completion-before-drain" if bug == "no-drain" else "ordering"
    for pol in SAFE:
        # the row that opens this switch's window fails, with the rule named in the message
        c = by[(ROWS[bug], pol)]
        assert want in c.observed, (pol, c.observed)
        assert any(f"[{want}]" in d for d in c.details), c.details
    # the other row's window is the other rule's: this switch alone does not break it
    other = ROWS["no-poison" if bug == "no-drain" else "no-drain"]
    assert all(not by[(other, pol)].observed for pol in SAFE)


def test_correct_device_is_clean_on_both_windows(servers):
    cells = _cells(servers, "", "rtl")
    bad = _bad(cells)
    assert not bad, "\n".join(bad)
    for c in cells:
        assert (c.observed == frozenset({"ordering"})) == (c.policy == "deferred"), (c.op, c.policy, c.observed)
    assert len(cells) == 2 * len(POLICIES)


def test_sim_cli_names_the_device_variant(servers, capsys):
    """`make sim DEVICE_BUG=no-drain`: the table says which device ran and the run meets the
    scenario's `expect ... device=no-drain` lines (exit 0)."""
    from tb import sim

    out = ROOT / "build" / "test_bugs_sim"
    rc = sim.main(["--scenario", str(SCN["no-drain"]), "--policy", "notify-inside-lock", "--out", str(out),
                   "--device-bug", "no-drain"])
    text = capsys.readouterr().out
    assert rc == 0, text
    assert "no-drain (DbgNoDrain=1, TEST-ONLY BROKEN DEVICE)" in text, text
    assert "VIOLATION: completion-before-drain" in text, text


def test_held_read_waits_at_the_axi_port(servers):
    """ar-hold really keeps the DMA read in front of the port: at least 200 refused AR cycles."""
    o = servers("").call("scenario", scenario=str(SCN["no-drain"]), policy="notify-inside-lock", seed=SEED)
    assert o["backpressure"]["stalled"]["ar"] >= 200, o["backpressure"]
    o = servers("").call("scenario", scenario=str(SCN["no-poison"]), policy="notify-inside-lock", seed=SEED)
    assert o["backpressure"]["axi_latency"]["max"] >= 200, o["backpressure"]


def _bp_run(srv: CosimServer, seed: int, bp: dict) -> dict:
    sc = random_scenario(seed)
    o = srv.call("scenario", scenario=sc, policy="notify-inside-lock", seed=seed, mode="random",
                 latency=STRESS_AXI["latency"], reorder=True, axi_seed=seed, bp=bp)
    assert not o["scoreboard"]["errors"], o["scoreboard"]["errors"][:3]
    assert not o["result"].failures, [v.message for v in o["result"].failures][:3]
    return o


def test_backpressure_reaches_every_port_and_replays(servers):
    srv = servers("")
    total: dict[str, int] = {}
    lat: set[int] = set()
    first = None
    for seed in (3, 4, 5):
        o = _bp_run(srv, seed, STRESS_AXI["bp"])
        b = o["backpressure"]
        first = first or (seed, b, o["cycles"])
        for k, v in b["stalled"].items():
            total[k] = total.get(k, 0) + v
        lat |= {b["axi_latency"]["min"], b["axi_latency"]["max"]}
        # the tail of the spread: some response took longer than the base range
        assert b["axi_latency"]["max"] > STRESS_AXI["latency"][1], b
    # these random scenarios do no device write (a matrix row has one): AW/W over the
    # matrix rows with a device write, a few seeds
    writes = [r for r in load_rows() if "{write" in r.scenario_text()]
    for seed in range(4):
        for r in writes:
            o = srv.call("scenario", scenario=r.scenario(), policy="notify-inside-lock", seed=seed)
            total["aw"] += o["backpressure"]["stalled"]["aw"]
        if total["aw"]:
            break
    # every port refused at some point, for the command/invalidation queues too
    assert all(total[k] > 0 for k in ("ar", "aw", "rsp", "invc", "cmd", "inv")), total
    assert len(lat) >= 3, lat
    # the same seed replays the same refusals and the same run length
    seed, b, cycles = first
    again = _bp_run(srv, seed, STRESS_AXI["bp"])
    assert again["backpressure"] == b and again["cycles"] == cycles
    # and without back-pressure nothing is refused (the counters are real)
    quiet = _bp_run(srv, seed, NO_BACKPRESSURE)
    assert sum(quiet["backpressure"]["stalled"].values()) == 0, quiet["backpressure"]


def test_device_timing_and_variant_expectations_parse():
    sc = load(SCN["no-drain"])
    assert sc.device_timing == {"ar-hold": 200, "ar-hold-threads": 0b10}
    assert sc.expects_for("no-drain")["notify-inside-lock"] == frozenset({"completion-before-drain"})
    assert sc.expects_for(None)["notify-inside-lock"] == frozenset()
    base = "pasid 1\nvma 0x10000000 0x10010000 anon rw\npage A 0x10000000 present\n"
    rows = "[Time 0]\nDEV-thread-0 {read A}\n"
    for bad, why in (("device-timing ar-hold=x", "is not a number"), ("device-timing speed=3", "unknown key"),
                     ("device-timing latency=1..4", "2 <= LO <= HI"), ("device-timing", "usage"),
                     ("expect deferred clean device=no-fence", "unknown device variant")):
        with pytest.raises(ScenarioError) as e:
            parse(base + bad + "\n" + rows, "t.scn")
        assert "t.scn:4:" in str(e.value) and why in str(e.value), str(e.value)
