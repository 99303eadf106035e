"""The cases of a cocotb module share one simulator launch, and each is still judged alone
(tests/rtl_batch.py, run_rtl in tests/conftest.py).

An inner pytest run (pytester) has one case per cocotb test of a small module against
the real build: the cases must run in ONE simulator process, the deliberately failing
cocotb test must fail its own pytest case, and only that one, with its own message and
a reproduce line naming that case and the seed (SEED= overrides it). When a test ends
the simulator itself, the cases it never reached are run alone and keep their verdicts.
"""
from __future__ import annotations

import re
import uuid

import pytest

pytest_plugins = ["pytester"]

MODULE = '''
import os

import cocotb
from cocotb.triggers import Timer


def note(what):
    with open(os.environ["BATCH_LOG"], "a") as f:
        f.write(f"{os.getpid()} {os.environ['COCOTB_RANDOM_SEED']} {what}\\n")


@cocotb.test()
async def first_passes(dut):
    note("first_passes")
    await Timer(10, "ns")


@cocotb.test()
async def second_fails(dut):
    note("second_fails")
    if os.environ.get("BATCH_CRASH"):
        os._exit(3)  # the simulator ends here: no results for anything after
    total = 2 + 2
    assert total == 5, f"total is {total}, wanted 5"


@cocotb.test()
async def third_passes(dut):
    note("third_passes")
    await Timer(10, "ns")
'''

INNER = '''
import pytest
from conftest import run_rtl

CASES = ["first_passes", "second_fails", "third_passes"]


@pytest.mark.parametrize("case", CASES)
def test_case(case, request):
    run_rtl("{module}", {{}}, testcase=case, cases=CASES, seed=4343, nodeid=request.node.nodeid,
            extra_env={{"BATCH_LOG": "{log}", "BATCH_CRASH": "{crash}"}})
'''


def _inner(pytester, tmp_path, monkeypatch, crash: bool):
    module = f"batch_demo_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))  # the cocotb runner passes sys.path to the simulator
    log = tmp_path / "launches.log"
    pytester.makepyfile(test_inner=INNER.format(module=module, log=log, crash="1" if crash else ""))
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-n", "0")
    lines = [ln.split() for ln in log.read_text().splitlines()]
    return result, module, lines


@pytest.mark.rtl
def test_one_launch_and_the_failing_case_fails_alone(pytester, tmp_path, monkeypatch):
    monkeypatch.delenv("SEED", raising=False)
    result, module, lines = _inner(pytester, tmp_path, monkeypatch, crash=False)
    result.assert_outcomes(passed=2, failed=1)
    # all three cocotb tests ran in one simulator process, with the caller's seed
    assert [w for _, _, w in lines] == ["first_passes", "second_fails", "third_passes"], lines
    assert len({pid for pid, _, _ in lines}) == 1, lines
    assert {seed for _, seed, _ in lines} == {"4343"}, lines
    out = result.stdout.str()
    assert re.search(r"FAILED test_inner\.py::test_case\[second_fails\]", out), out
    assert not re.search(r"FAILED test_inner\.py::test_case\[(first|third)_passes\]", out), out
    assert f"{module}.second_fails failed: total is 4, wanted 5" in out, out
    assert "reproduce: SEED=4343 .venv/bin/python -m pytest 'test_inner.py::test_case[second_fails]'" in out, out


@pytest.mark.rtl
def test_seed_variable_overrides_the_launch_seed(pytester, tmp_path, monkeypatch):
    monkeypatch.setenv("SEED", "99")
    result, _module, lines = _inner(pytester, tmp_path, monkeypatch, crash=False)
    result.assert_outcomes(passed=2, failed=1)
    assert {seed for _, seed, _ in lines} == {"99"}, lines
    assert "reproduce: SEED=99 .venv/bin/python -m pytest 'test_inner.py::test_case[second_fails]'" in \
        result.stdout.str()


@pytest.mark.rtl
def test_cases_after_a_simulator_crash_run_alone(pytester, tmp_path, monkeypatch):
    monkeypatch.delenv("SEED", raising=False)
    result, module, lines = _inner(pytester, tmp_path, monkeypatch, crash=True)
    result.assert_outcomes(passed=2, failed=1)
    launched = [w for _, _, w in lines]
    # the shared launch died in second_fails; every case then ran alone for its own verdict
    assert launched[:2] == ["first_passes", "second_fails"], lines
    assert sorted(launched[2:]) == ["first_passes", "second_fails", "third_passes"], lines
    assert len({pid for pid, _, _ in lines}) == 4, lines
    out = result.stdout.str()
    assert re.search(r"FAILED test_inner\.py::test_case\[second_fails\]", out), out
    assert f"cocotb {module}.second_fails: the simulator ended without its result" in out, out
    assert "run alone" in out, out
