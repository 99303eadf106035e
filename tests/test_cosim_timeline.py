"""The doc's COW timeline on the RTL under the three policies, plus proof that
the scoreboard and the watchdog can fail.

One co-simulation process (tb.rtldev.CosimServer) serves the module. Every
failure message carries the seed and the command that replays it.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from model.trace import DevAccess
from tb.rtldev import CosimRemoteError, CosimServer, compare_with_ref

ROOT = Path(__file__).resolve().parent.parent
SCN = ROOT / "scenarios" / "cow_timeline.scn"
SEED = int(os.environ.get("SEED", "1"))
ADDR_A, ADDR_B = 0x1000_0000, 0x1000_2000
EXPECT = {"deferred": {"ordering"}, "notify-inside-lock": set(), "secondary-with-flush": set()}


def replay(policy: str) -> str:
    return f"replay: .venv/bin/python -m tb.sim --scenario {SCN.relative_to(ROOT)} --policy {policy} --seed {SEED} --waves 1"


@pytest.fixture(scope="module")
def srv():
    s = CosimServer(out=ROOT / "build" / "cosim" / "test_timeline", seed=SEED)
    yield s
    s.close()


@pytest.mark.parametrize("policy", sorted(EXPECT))
def test_cow_timeline_on_rtl(srv, policy):
    o = srv.call("scenario", scenario=str(SCN), policy=policy, seed=SEED)
    res = o["result"]
    failed = set(res.failed_rules)
    msgs = "\n".join(v.message for v in res.failures)
    assert failed == EXPECT[policy], (f"[{policy}] seed {SEED}: expected {sorted(EXPECT[policy]) or 'clean'}, "
                                      f"RTL failed {sorted(failed) or 'nothing'}\n{msgs}\n{replay(policy)}")
    assert not o["scoreboard"]["errors"], f"[{policy}] scoreboard: {o['scoreboard']['errors'][:3]}\n{replay(policy)}"
    assert o["scoreboard"]["checked"] == 4
    ref = compare_with_ref(res, SCN, policy, SEED)
    assert ref.ok, f"{ref.message}\n{replay(policy)}"
    reads = [e for e in res.trace if isinstance(e, DevAccess)]
    assert len(reads) == 4 and all(r.fault == 0 for r in reads)
    if policy == "deferred":
        (v,) = [v for v in res.failures if v.rule == "ordering"]
        # the violation names addrA (stale read) and addrB (newer value seen first), with times
        assert f"va {ADDR_A:#x}" in v.message and f"va {ADDR_B:#x}" in v.message, v.message
        bad = [e for e in v.events if isinstance(e, DevAccess) and e.va == ADDR_A]
        newer = [e for e in v.events if isinstance(e, DevAccess) and e.va == ADDR_B]
        assert bad and newer and newer[0].mem_time < bad[0].mem_time, v.message
        assert bad[0].atc_hit, "the stale read of addrA must come from the device TLB"
        assert o["result"].metrics["stale_window"]["max_window"] > 0
    else:
        assert res.metrics["stale_window"]["stale_uses"] == 0


def test_scoreboard_catches_wrong_read_data(srv):
    """Flip one bit of DMA read data on R: the scoreboard must name the read."""
    o = srv.call("scenario", scenario=str(SCN), policy="notify-inside-lock", seed=SEED, tamper="rdata")
    errs = o["scoreboard"]["errors"]
    assert errs and "but the slave served" in errs[0], errs
    assert "scoreboard" in o["result"].failed_rules


def test_scoreboard_catches_wrong_translation(srv):
    """Corrupt every walker read: translations (or faults) disagree with the golden walk."""
    o = srv.call("scenario", scenario=str(SCN), policy="notify-inside-lock", seed=SEED, tamper="walk",
                 stall_limit=20_000, cmd_timeout=5_000)
    errs = o["scoreboard"]["errors"]
    assert errs and ("golden" in errs[0] or "page tables gave" in errs[0] or "is not what" in errs[0]), errs


def test_watchdog_names_the_hung_command(srv):
    """Never answer a DMA read: the watchdog fires with the state and the replay line."""
    with pytest.raises(CosimRemoteError) as ei:
        srv.call("scenario", scenario=str(SCN), policy="deferred", seed=SEED, tamper="drop", cmd_timeout=2_000,
                 repro=".venv/bin/python -m tb.sim --scenario scenarios/cow_timeline.scn --policy deferred")
    text = str(ei.value)
    assert "watchdog" in text and "unanswered" in text and "replay:" in text, text[:2000]
    # the server survives and the next run is clean
    o = srv.call("scenario", scenario=str(SCN), policy="secondary-with-flush", seed=SEED)
    assert not o["result"].failed_rules - {"rtl-vs-ref"}


def test_sim_cli_writes_every_report(tmp_path):
    """`make sim` path for one policy with waves: table, FST/VCD + .gtkw, SVG, JSON; exit 0."""
    import json
    import subprocess
    import sys

    out = tmp_path / "sim"
    r = subprocess.run([sys.executable, "-m", "tb.sim", "--scenario", str(SCN), "--policy", "deferred",
                        "--seed", str(SEED), "--waves", "1", "--out", str(out)], cwd=ROOT, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "VIOLATION: ordering" in r.stdout and "(addrA)" in r.stdout and "(addrB)" in r.stdout, r.stdout
    d = out / "deferred"
    waves = [p for p in d.iterdir() if p.suffix in (".fst", ".vcd")]
    assert waves and waves[0].stat().st_size > 1000
    gtkw = (d / "waves.gtkw").read_text()
    for group in ("Device commands", "Device responses", "ATC lookups and fills", "Walker",
                  "Invalidations and completions", "AXI"):
        assert f"-{group}" in gtkw, group
    assert "cosim_top.u_dut.cmd_va_i[63:0]" in gtkw
    svg = (d / "timeline.svg").read_text()
    assert svg.startswith("<svg") and "#ffd0d0" in svg  # the violating read is highlighted
    summary = json.loads((out / "summary.json").read_text())
    (run,) = summary["runs"]
    assert run["failed_rules"] == ["ordering"] and run["as_expected"] and run["replay"].startswith(".venv/bin/python -m tb.sim")
    # race-window coverage: the doc's stale read of addrA falls between the COW's pt_unlock and range_end
    from model.coverage import Bin, load

    assert (out / "coverage.txt").exists() and summary["coverage"]["bins_hit"] >= 1
    assert Bin("wp_page_copy", "unlock..end", "deferred", "read", "hit") in load(out / "coverage.xml")
