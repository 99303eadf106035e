"""Shared pytest helpers for the RTL tests.

`run_rtl(module, params, ...)` builds (cached, one build dir per parameter
set under build/rtl/, behind an fcntl lock so two pytest-xdist workers asking
for the same parameter set build it once) and runs a cocotb test module from
tb/ against it. The seed is the SEED environment variable when set, else the
caller's fixed default; a failure prints `SEED=<n> .venv/bin/python -m
pytest '<test id>'`, which reproduces it.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tb import axi_top, toolchain
from tb.atsbench import DEFAULT_PARAMS


def seed_for(default: int) -> int:
    s = os.environ.get("SEED")
    return int(s, 0) if s else default


def run_rtl(module: str, params: dict | None = None, *, testcase: str | None = None, seed: int = 1,
            nodeid: str = "", extra_env: dict | None = None, waves: bool = False) -> Path:
    """Build for `params` and run cocotb module `module`; raise with the reproduce line on failure."""
    missing = [p.name for p in toolchain.rtl_sources() if not p.exists()]
    assert not missing, f"rtl/ sources missing: {missing}"
    params = dict(params or {})
    build = axi_top.build(params, waves=waves)  # ats_dev_top beside the C++ AXI slave
    seed = seed_for(seed)
    repro = f"SEED={seed} .venv/bin/python -m pytest '{nodeid}'" if nodeid else f"SEED={seed}"
    env = {"ATS_PARAMS": json.dumps({**DEFAULT_PARAMS, **params}), "ATS_REPRO": repro}
    env.update(extra_env or {})
    xml = toolchain.BUILD / "rtl" / "results" / f"{module}_{toolchain.param_tag(params)}_{testcase or 'all'}.xml"
    xml.parent.mkdir(parents=True, exist_ok=True)
    try:
        return toolchain.run_cocotb(module, build, toplevel=axi_top.TOP, testcase=testcase, extra_env=env, seed=seed,
                                    results_xml=str(xml), waves=waves)[0]
    except AssertionError as e:
        raise AssertionError(f"{e}\nreproduce: {repro}") from None


@pytest.fixture
def planted_bug(monkeypatch):
    """A planted model bug (tests/test_explore.py, tests/test_dpor.py): notify-inside-lock
    with its invalidations cut off, so nothing reaches the device."""
    from model import notifier
    from model.notifier import Policy

    table = dict(notifier.POLICY_TABLE)
    table[Policy.NOTIFY_INSIDE_LOCK] = frozenset()
    monkeypatch.setattr(notifier, "POLICY_TABLE", table)
    real = notifier.range_end_invalidates
    monkeypatch.setattr(notifier, "range_end_invalidates",
                        lambda p, only_end: False if p is Policy.NOTIFY_INSIDE_LOCK else real(p, only_end))
