"""Shared pytest helpers for the RTL tests.

`run_rtl(module, params, ...)` builds (cached, one build dir per parameter
set under build/rtl/, behind an fcntl lock so two pytest-xdist workers asking
for the same parameter set build it once) and runs a cocotb test module from
tb/ against it: the whole module in one launch, or, for a pytest case per
cocotb test, all the cases the test groups in one launch with each case judged
on its own test's result (tests/rtl_batch.py). The seed is the SEED environment
variable when set, else the caller's fixed default; a failure prints
`SEED=<n> .venv/bin/python -m pytest '<test id>'`, which reproduces it.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable

import pytest

from tb import axi_top, toolchain
from tb.atsbench import DEFAULT_PARAMS
from tests import rtl_batch


def seed_for(default: int) -> int:
    s = os.environ.get("SEED")
    return int(s, 0) if s else default


_builds: dict[str, Path] = {}


def session_build(build: Callable[..., Path], *args, **kw) -> Path:
    """`build(*args, **kw)` once per pytest process: the runner's up-to-date check of a
    finished build (Verilator and make) costs about a second, more than many cases run."""
    key = json.dumps([build.__module__, build.__qualname__, args, kw], sort_keys=True, default=str)
    if key not in _builds:
        _builds[key] = build(*args, **kw)
    return _builds[key]


def run_rtl(module: str, params: dict | None = None, *, testcase: str | None = None,
            cases: list[str] | tuple[str, ...] | None = None, seed: int = 1, nodeid: str = "",
            extra_env: dict | None = None, waves: bool = False) -> Path:
    """Build for `params` and run cocotb module `module`; raise with the reproduce line on failure.

    Without `testcase` the whole module runs in one launch. With it, only that cocotb
    test is judged, and it runs in one launch with the other `cases` the caller groups
    with it (same module, parameters, seed and environment; tests/rtl_batch.py): the
    first of them to run launches the simulator for all, the others read their result.
    """
    missing = [p.name for p in toolchain.rtl_sources() if not p.exists()]
    assert not missing, f"rtl/ sources missing: {missing}"
    params = dict(params or {})
    build = session_build(axi_top.build, params, waves=waves)  # ats_dev_top beside the C++ AXI slave
    seed = seed_for(seed)
    repro = f"SEED={seed} .venv/bin/python -m pytest '{nodeid}'" if nodeid else f"SEED={seed}"
    env = {"ATS_PARAMS": json.dumps({**DEFAULT_PARAMS, **params}), "ATS_REPRO": repro}
    if testcase is not None:
        # the launch is shared by the cases of one test file: its reproduce line names the file
        # (the pytest failure ends with the case's own line)
        where = nodeid.split("::")[0]
        env["ATS_REPRO"] = f"SEED={seed} .venv/bin/python -m pytest '{where}'" if where else f"SEED={seed}"
        env.update(extra_env or {})
        v = rtl_batch.case_verdict(module, build, testcase, [*(cases or []), testcase], toplevel=axi_top.TOP,
                                   seed=seed, env=env, waves=waves)
        if v.failure is not None:
            raise AssertionError(f"{v.failure}\nreproduce: {repro}")
        return v.xml
    env.update(extra_env or {})
    xml = toolchain.BUILD / "rtl" / "results" / f"{module}_{toolchain.param_tag(params)}_all.xml"
    xml.parent.mkdir(parents=True, exist_ok=True)
    try:
        return toolchain.run_cocotb(module, build, toplevel=axi_top.TOP, extra_env=env, seed=seed,
                                    results_xml=str(xml), waves=waves)[0]
    except AssertionError as e:
        raise AssertionError(f"{e}\nreproduce: {repro}") from None


def pytest_xdist_make_scheduler(config, log):
    """With `-n N` (xdist's default `--dist load`): the cases of one parametrized test of
    tests/test_rtl_*.py go to one worker. Cases of one cocotb module share a simulator
    launch (run_rtl), and a second worker given one of them would only wait for the first
    worker's launch; each other test is a unit of its own, as under `load`."""
    if config.getoption("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class OneWorkerPerRtlTest(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return rtl_test_scope(nodeid)

    return OneWorkerPerRtlTest(config, log)


def rtl_test_scope(nodeid: str) -> str:
    """`tests/test_rtl_x.py::test_y[...]` -> `tests/test_rtl_x.py::test_y`; any other test: itself."""
    path, _, rest = nodeid.partition("::")
    if Path(path).name.startswith("test_rtl_") and "[" in rest:
        return f"{path}::{rest.split('[', 1)[0]}"
    return nodeid


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
