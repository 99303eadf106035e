"""The lockstep comparison (tb/lockstep.py) passes on identical RTL and catches a one-line change.

The old design here is a renamed copy of the working tree's rtl/, so the test
holds on any checkout (a shallow clone has no other revision to compare with);
`make lockstep REV=<rev>` compares against a git revision.
"""
from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tb import lockstep, toolchain

PARAMS = lockstep.PARAM_SETS["small"]  # smallest build of the regression's parameter sets
SEEDS, CYCLES = [1, 2, 3], 8500  # long enough for the floors below (each ATC lookup takes two cycles)
MUTANT = "drain_skips_issued"  # dma.sv: the drain snapshot misses accesses already on the bus


def _stats(out: str) -> dict[str, int]:
    tot: dict[str, int] = {}
    for ln in out.splitlines():
        if " ok: " in ln:
            for k, v in re.findall(r"(\w+) (\d+)", ln.split(";", 1)[1]):
                tot[k] = tot.get(k, 0) + int(v)
    return tot


@pytest.fixture(scope="module")
def out_dir():
    """Builds kept in build/ between runs: lockstep.build rebuilds when the old or new RTL,
    the parameters, the harness or tb/lockstep.py change (its key), else reuses the model."""
    return toolchain.BUILD / "lockstep_test"


def test_copy_of_the_working_tree_runs_identical(out_dir):
    exe = lockstep.build(lockstep.WORKTREE, PARAMS, out=out_dir, cflags="-O0")
    res = lockstep.run(exe, SEEDS, CYCLES, timeout=120)
    assert res.ok, res.output[-3000:]
    assert f"PASS {len(SEEDS)} seed(s), {len(SEEDS) * CYCLES} cycles" in res.output
    # the stimulus reaches what the comparison is for: commands, hits, walks, faults,
    # invalidations, page requests, exclusive A/D writes
    s = _stats(res.output)
    for k, least in (("cmds", 500), ("hits", 10), ("ok", 100), ("faults", 100), ("invs", 100), ("prs", 10),
                     ("ar_excl", 500), ("exokay_w", 20)):
        assert s.get(k, 0) >= least, (k, s)


def test_a_one_line_change_is_caught_with_signal_cycle_and_values(out_dir):
    exe = lockstep.build(lockstep.WORKTREE, PARAMS, mutant=MUTANT, out=out_dir, cflags="-O0")
    res = lockstep.run(exe, SEEDS, CYCLES, timeout=120)
    assert not res.ok, res.output[-2000:]
    m = re.search(r"MISMATCH seed (\d+) cycle (\d+)", res.output)
    assert m, res.output[-2000:]
    lines = re.findall(r"^lockstep:   (\w+) old=0x([0-9a-f]+) new=0x([0-9a-f]+)$", res.output, re.M)
    assert lines and all(old != new for _, old, new in lines), res.output[-2000:]
    assert {name for name, _, _ in lines} <= {p.name for p in lockstep.top_interface(
        (lockstep.toolchain.RTL / "ats_dev_top.sv").read_text())[2] if p.direction == "output"}


def test_rename_prefixes_modules_packages_and_references():
    texts = {"ats_pkg.sv": "package ats_pkg;\n  localparam int X = 1;\nendpackage\n",
             "blk.sv": "module blk (input logic [ats_pkg::X-1:0] a_i);\n  // blk of the inv path\nendmodule\n",
             "ats_dev_top.sv": "module ats_dev_top #(parameter int N = 1) (input logic a_i);\n"
                               "  blk u_blk (.a_i(a_i));\n  logic blk_q;\nendmodule\n"}
    out = lockstep.rename(texts)
    assert set(out) == {"old_ats_pkg.sv", "old_blk.sv", "old_ats_dev_top.sv"}
    assert "package old_ats_pkg;" in out["old_ats_pkg.sv"]
    assert "[old_ats_pkg::X-1:0]" in out["old_blk.sv"] and "module old_blk" in out["old_blk.sv"]
    assert "old_blk u_blk" in out["old_ats_dev_top.sv"] and "logic blk_q;" in out["old_ats_dev_top.sv"]


def test_unknown_revision_is_one_line():
    r = subprocess.run([sys.executable, "-m", "tb.lockstep", "--rev", "no-such-rev-xyz", "--params", "small"],
                       cwd=lockstep.ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "no-such-rev-xyz" in r.stderr and "Traceback" not in r.stderr
