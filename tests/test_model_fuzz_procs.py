"""Seeded fuzz of several processes: the scenarios of tests/test_model_fuzz.py
(every operation, random mode, all three policies) with a forked child.

The parent's setup (without the THP, which cannot be forked) is forked into
an mm `child` with PASID 2; half of the CPU threads and device threads work
in the child, so the two mms run operations on pages they share
copy-on-write while both PASIDs have translations in the device TLB. Pass
criteria are those of test_model_fuzz: no exception and no ScenarioRunError
under any policy, and under the two safe policies no checker failure beyond
the rules the matrix expects for the rows the scenario contains. Shared
state the mms must agree on (mapcounts, page locks, ITags) is what a bug here
would break. `FUZZ_PROC_SEEDS` (default 60) seeds from `FUZZ_PROC_FIRST`.
"""
from __future__ import annotations

import os
import random

import pytest

from model.scenario import parse
from tests.test_model_fuzz import FuzzCase, _page_setup, fuzz_rows
from tests.test_model_fuzz import run_case as fuzz_run_case


def fuzz_case(seed: int) -> FuzzCase:
    rng = random.Random(seed * 7_000_003 + 0xF0C)
    wp = rng.choice(("lock-wait", "refcount"))
    setup, kinds, labels = _page_setup(rng)
    setup = [ln for ln in setup if not ln.startswith("page H ")]
    del kinds["H"]
    labels = [lb for lb in labels if lb != "H"]
    hot = rng.sample(labels, rng.randint(1, 3))
    ncpu, ndev = rng.randint(2, 4), rng.randint(2, 4)
    child = [f"CPU-thread-{c}" for c in range(ncpu) if c % 2] + [f"DEV-thread-{d}" for d in range(ndev) if d % 2]
    lines = [f"scenario fuzz_procs_{seed}", f"wp-fault {wp}", f"cycles-per-step {rng.choice((5, 10, 20))}",
             "pasid 1", *setup, f"mm child pasid=2 fork=main threads={','.join(child)}"]
    ops = fuzz_rows(rng, lines, hot, labels, kinds, ncpu, ndev)
    return FuzzCase(seed, "\n".join(lines) + "\n", ops, wp)


def run_case(seed: int) -> list[str]:
    return fuzz_run_case(seed, fuzz_case, "fuzz-procs")


FIRST = int(os.environ.get("FUZZ_PROC_FIRST", "0"))
NSEEDS = int(os.environ.get("FUZZ_PROC_SEEDS", "60"))
CHUNK = 20


def test_the_generated_scenarios_have_two_mms_with_threads_in_each():
    sc = parse(fuzz_case(3).text, "<f>")
    assert list(sc.mms) == ["main", "child"] and sc.mms["child"].fork == "main"
    assert {sc.pasid_of(t) for t in sc.threads} == {1, 2}


@pytest.mark.parametrize("first", range(FIRST, FIRST + NSEEDS, CHUNK))
def test_fuzz_procs_seeds(first):
    problems = []
    for seed in range(first, min(first + CHUNK, FIRST + NSEEDS)):
        got = run_case(seed)
        if got:
            problems += got + [f"--- scenario of seed {seed}:\n{fuzz_case(seed).text}",
                               f"FUZZ_PROC_FIRST={seed} FUZZ_PROC_SEEDS=1 .venv/bin/python -m pytest -q "
                               f"tests/test_model_fuzz_procs.py"]
    assert not problems, "\n".join(problems)
