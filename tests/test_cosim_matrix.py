"""The operation x policy verdict matrix on the RTL, cell by cell.

Every cell of model/matrix.toml runs on ats_dev_top (one co-simulation
process for all cells) and must (1) fail exactly the expected rules, (2) fail
the same rules as the same scenario on the reference device, and (3) pass the
golden scoreboard. A disagreement names its cell and the replay command.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from model.matrix import POLICIES, fmt_rules, load_rows, run_matrix
from tb.rtldev import CosimServer, run_scenario_rtl

ROOT = Path(__file__).resolve().parent.parent
SEED = int(os.environ.get("SEED", "0"))


@pytest.fixture(scope="module")
def srv():
    s = CosimServer(out=ROOT / "build" / "cosim" / "test_matrix", seed=SEED)
    yield s
    s.close()


def test_rtl_matrix_matches_expectations_and_reference(srv):
    rows = load_rows()
    cells = run_matrix(rows, lambda sc, pol, seed: run_scenario_rtl(sc, pol, seed, srv=srv), SEED)
    assert len(cells) == len(rows) * len(POLICIES)
    bad = []
    for c in cells:
        if not c.ok:
            why = "; ".join(c.details or []) or c.error
            bad.append(f"{c.op} [{c.policy}]: expected {fmt_rules(c.expected)}, RTL observed "
                       f"{fmt_rules(c.observed)} ({why[:400]})\n    replay: .venv/bin/python -m model.matrix --device rtl "
                       f"--only {c.op} --seed {SEED}")
    assert not bad, f"{len(bad)} of {len(cells)} RTL matrix cell(s) disagree:\n" + "\n".join(bad)
    # every cell really ran on the RTL and was scoreboarded
    assert all(c.metrics and c.metrics.get("cycles", 0) > 0 for c in cells)
