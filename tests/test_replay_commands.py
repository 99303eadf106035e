"""Commands the project prints run as printed, and failures say what failed.

A replay command printed by `make sim` (tb.sim) or `make stress` (tb.stress)
is run here exactly as printed, from the repository root, in a fresh shell:
no activated virtualenv, no .venv/bin on PATH, none of this process's
toolchain variables. It must run and give the same verdict. An RTL test that
fails must show the cocotb test's own message, its seed and the command that
reproduces it, not `SystemExit: 1`.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tb import sim

ROOT = Path(__file__).resolve().parent.parent
SCN = ROOT / "scenarios" / "cow_timeline.scn"


def fresh_shell_env() -> dict[str, str]:
    """What a new login shell has: system PATH only, no VIRTUAL_ENV, no toolchain variables."""
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": os.environ.get("HOME", "/tmp"), "LANG": "C.UTF-8"}
    assert not any(".venv" in p for p in env["PATH"].split(":"))
    return env


def run_printed(cmd: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", cmd], cwd=ROOT, env=fresh_shell_env(), capture_output=True, text=True,
                          timeout=timeout)


def verdict_rows(stdout: str) -> dict[str, str]:
    """policy -> verdict cell of the `make sim` table."""
    out = {}
    for line in stdout.splitlines():
        m = re.match(r"^(notify-inside-lock|deferred|secondary-with-flush)\s+(clean|VIOLATION: \S+)", line)
        if m:
            out[m.group(1)] = m.group(2)
    return out


# --------------------------------------------------------------------------- no simulator needed

def test_printed_commands_start_with_the_project_interpreter(tmp_path):
    from tb.stress import replay, waves_cmd

    args = argparse.Namespace(scenario=str(SCN), seed=3, out=tmp_path, mode="auto", latency=(2, 5), reorder=1,
                              device_bug=None, backpressure=1)
    cmd = sim.replay_cmd(args, "deferred")
    assert cmd.startswith(".venv/bin/python -m tb.sim --scenario scenarios/cow_timeline.scn --policy deferred")
    assert f"--out {tmp_path}" in cmd and "--latency 2,5" in cmd and "--reorder 1" in cmd
    for c in (replay(7, "deferred"), waves_cmd(7, "deferred")):
        assert c.startswith(".venv/bin/python -m tb.") and "(" not in c, c
    # the printed form is a command the shell can run: it parses to an argv of the CLI
    r = run_printed(replay(7, "deferred").replace("--policy deferred", "--policy deferred --jobs 0"))
    assert r.returncode == 2 and "argument --jobs" in r.stderr, r.stderr  # reached tb.stress's own argparse


def test_sim_writes_one_directory_per_scenario_and_make_passes_out(tmp_path):
    assert sim.default_out("scenarios/cow_timeline.scn") == ROOT / "build" / "sim" / "cow_timeline"
    assert sim.default_out("/x/y/cow_random.scn") == ROOT / "build" / "sim" / "cow_random"
    assert sim.default_out("random") == ROOT / "build" / "sim" / "random"
    dry = subprocess.run(["make", "--no-print-directory", "-n", "sim", f"OUT={tmp_path}/a"], cwd=ROOT,
                         capture_output=True, text=True)
    assert f"--out {tmp_path}/a" in dry.stdout.splitlines()[-1], dry.stdout
    dry = subprocess.run(["make", "--no-print-directory", "-n", "sim"], cwd=ROOT, capture_output=True, text=True)
    assert "--out" not in dry.stdout.splitlines()[-1], dry.stdout  # tb.sim picks build/sim/<scenario>


def test_a_second_sim_run_into_the_same_directory_is_refused(tmp_path):
    import fcntl

    out = tmp_path / "busy"
    out.mkdir()
    with open(out / ".lock", "a") as held:  # a run in progress holds this lock
        fcntl.flock(held, fcntl.LOCK_EX)
        r = subprocess.run([sys.executable, "-m", "tb.sim", "--out", str(out), "--waves", "0"], cwd=ROOT,
                           capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "is in use by another run" in r.stderr.splitlines()[-1], r.stderr
    assert not (out / "summary.json").exists()


# --------------------------------------------------------------------------- on the RTL

@pytest.mark.rtl
def test_sim_replay_runs_as_printed_and_reproduces_the_verdict(tmp_path):
    scn = tmp_path / "cow_wrong_expect.scn"
    scn.write_text(SCN.read_text().replace("expect deferred             ordering", "expect deferred clean"))
    first = subprocess.run([sys.executable, "-m", "tb.sim", "--scenario", str(scn), "--policy", "deferred",
                            "--waves", "0", "--out", str(tmp_path / "first")], cwd=ROOT, capture_output=True,
                           text=True, timeout=600)
    assert first.returncode == 1, first.stdout[-3000:] + first.stderr[-3000:]
    printed = re.search(r"^  replay \[deferred\]: (.+)$", first.stdout, re.M)
    assert printed, first.stdout
    cmd = printed.group(1)
    summary = json.loads((tmp_path / "first" / "summary.json").read_text())
    assert summary["runs"][0]["replay"] == cmd
    again = run_printed(cmd)
    assert "ModuleNotFoundError" not in again.stderr and "Traceback" not in again.stderr, again.stderr[-3000:]
    assert again.returncode == 1, again.stdout[-3000:] + again.stderr[-3000:]
    assert verdict_rows(again.stdout) == verdict_rows(first.stdout) == {"deferred": "VIOLATION: ordering"}


@pytest.mark.rtl
def test_stress_replay_runs_as_printed_and_reproduces_the_verdict(tmp_path):
    from tb.stress import replay, run_stress

    from tb.shards import read

    seed, pol = 3, "deferred"
    run_stress([seed], [pol], out=tmp_path / "batch", jobs=1, quiet=True, engine_kind="local")
    ((_f, _n, line),) = read(tmp_path / "batch")
    again = run_printed(replay(seed, pol))
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    ((_f, _n, line2),) = read(ROOT / "build" / "stress" / f"seed{seed}")
    run, run2 = line["runs"][pol], line2["runs"][pol]
    assert (line2["seed"], list(line2["runs"]), run2["failed"]) == (seed, [pol], run["failed"])
    assert run2["accesses"] == run["accesses"] > 0


FAILING_MODULE = '''
import cocotb


@cocotb.test()
async def adds_wrongly(dut):
    total = 2 + 2
    assert total == 5, f"total is {total}, wanted 5"
'''


@pytest.mark.rtl
def test_rtl_test_failure_shows_the_tests_own_message_seed_and_replay(tmp_path, monkeypatch, request):
    from conftest import run_rtl

    (tmp_path / "deliberately_failing.py").write_text(FAILING_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))  # the cocotb runner passes sys.path to the simulator
    with pytest.raises(AssertionError) as e:
        run_rtl("deliberately_failing", {}, seed=4242, nodeid=request.node.nodeid)
    text = str(e.value)
    assert "SystemExit" not in text
    assert "deliberately_failing.adds_wrongly failed: total is 4, wanted 5" in text, text
    assert "1 of 1 cocotb test(s) failed; seed 4242" in text, text
    assert f"reproduce: SEED=4242 .venv/bin/python -m pytest '{request.node.nodeid}'" in text, text


@pytest.mark.rtl
def test_sim_table_columns_fit_their_widest_cell(tmp_path):
    """`VIOLATION: use-after-free` (and longer verdicts) no longer push the row out of its columns."""
    from model.matrix import load_rows

    (row,) = [r for r in load_rows() if r.op == "ksm_replace_page_early_free"]
    scn = tmp_path / "uaf.scn"
    scn.write_text(row.scenario_text())
    r = subprocess.run([sys.executable, "-m", "tb.sim", "--scenario", str(scn), "--waves", "0", "--out",
                        str(tmp_path / "sim")], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    lines = r.stdout.splitlines()
    hdr = next(ln for ln in lines if ln.startswith("policy "))
    rows = [ln for ln in lines if re.match(r"^(notify-inside-lock|deferred|secondary-with-flush) ", ln)]
    assert "VIOLATION: use-after-free" in "\n".join(rows)
    for col in ("expected", "stale window", "scoreboard"):
        at = hdr.index(col)
        for ln in rows:
            assert ln[at - 1] == " " and ln[at] != " ", f"{col!r} column broken:\n{hdr}\n{ln}"


@pytest.mark.rtl
def test_rtl_matrix_names_its_device_and_keeps_its_own_directory(tmp_path):
    r = subprocess.run([sys.executable, "-m", "tb.matrix", "--device", "rtl", "--only", "cow", "--out",
                        str(tmp_path / "rtl")], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert r.stdout.splitlines()[0] == "== verdict matrix on the RTL (ats_dev_top in Verilator), seed 0", r.stdout
    assert "cells as expected on rtl" in r.stdout
    assert json.loads((tmp_path / "rtl" / "matrix.json").read_text())["device"] == "rtl"
