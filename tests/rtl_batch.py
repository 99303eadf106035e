"""All the cases of a cocotb module in one simulator launch, each judged on its own.

A block test module (tb/test_inval.py, tb/test_races.py, ...) holds several cocotb
tests, and pytest has one case per cocotb test so that each passes, fails and is
reproduced by itself. Launching a simulator per case costs a second or more each
(Verilator model, Python, cocotb and the bench start-up), more than most cases run.

So the first pytest case to ask for a cocotb test of a launch key (module, build,
the cases the caller groups, seed, environment, plusargs) runs all the key's cases
in ONE launch, under a file lock so that pytest-xdist workers asking at the same time
wait for it, and leaves what each cocotb test did in build/rtl/results/batch/<key>.json,
stamped with the pytest run's id (a record from an earlier run is never used: the
code may have changed since). Every case reads its own cocotb test's verdict from
there: a failing cocotb test fails only its pytest case, with its own message.

cocotb seeds `random` per test from the regression seed and the test's name, and each
bench resets the design, so a test draws the same numbers in a shared launch as alone.
A case the simulator never reached (a bound assertion or a crash ended the launch in
an earlier case) is run again alone, so it still gets a verdict of its own.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import uuid
from pathlib import Path

from tb import toolchain

# one id per pytest run, shared by its xdist workers (pytest-xdist sets it in each worker)
RUN_ID = os.environ.get("PYTEST_XDIST_TESTRUNUID") or uuid.uuid4().hex
_memo: dict[str, dict] = {}


@dataclasses.dataclass(frozen=True)
class Verdict:
    """One cocotb test's result: `failure` None when it passed; `launch` how it ran."""

    case: str
    failure: str | None
    xml: Path
    launch: str


def batch_dir() -> Path:
    return toolchain.BUILD / "rtl" / "results" / "batch"


def launch_key(module: str, build: Path, cases: list[str], *, toplevel: str, seed: int, env: dict,
               test_args: list[str], waves: bool) -> str:
    text = json.dumps([module, str(build), toplevel, cases, seed, sorted((k, str(v)) for k, v in env.items()),
                       test_args, waves])
    return f"{module}_{build.name}_{hashlib.sha1(text.encode()).hexdigest()[:12]}"


def case_verdict(module: str, build: Path, case: str, cases: list[str] | tuple[str, ...], *,
                 toplevel: str = toolchain.TOPLEVEL, seed: int, env: dict | None = None,
                 test_args: list[str] | None = None, waves: bool = False) -> Verdict:
    """The verdict of cocotb test `case`, from the one launch of all `cases` (run here
    when no case of this pytest run has asked for it yet)."""
    cases = list(dict.fromkeys(cases))
    assert case in cases, f"cocotb test {case} is not among the launch's cases {cases}"
    env = dict(env or {})
    test_args = list(test_args or [])
    key = launch_key(module, build, cases, toplevel=toplevel, seed=seed, env=env, test_args=test_args, waves=waves)
    rec = _memo.get(key)
    if rec is None:
        rec = _memo[key] = _shared_launch(key, module, build, cases, toplevel=toplevel, seed=seed, env=env,
                                          test_args=test_args, waves=waves)
    where = f"results {rec['xml']}, {len(cases)} cocotb test(s) in one launch"
    if case in rec["cases"]:
        failure = rec["cases"][case]
        if failure is not None:
            failure += "".join(f"\n{t}" for t in (rec["asserted"], rec["ended"]) if t) + f"\n({where})"
        return Verdict(case, failure, Path(rec["xml"]), f"one launch of {len(cases)}")
    # the launch ended before this test reported: run it alone for a verdict of its own
    xml = batch_dir() / f"{key}.{case}.alone.xml"
    run = toolchain.run_cocotb_cases(module, build, toplevel=toplevel, testcase=[case], extra_env=env, waves=waves,
                                     seed=seed, results_xml=str(xml), test_args=test_args)
    first = ", ".join(n for n, f in rec["cases"].items() if f is not None) or "none"
    note = (f"(the launch of all {len(cases)} ended before {case} reported ({where}; failed there: {first}); "
            f"run alone: results {xml})")
    failure = run.cases.get(case, f"cocotb {module}.{case}: the simulator ended without its result")
    if failure is not None:
        ended = "" if run.code is None else f"simulator exit {run.code}"
        failure += "".join(f"\n{t}" for t in (run.asserted, ended) if t) + f"\n{note}"
    return Verdict(case, failure, xml, "alone")


def _shared_launch(key: str, module: str, build: Path, cases: list[str], **kw) -> dict:
    """The run's record for `key`: read when another worker made it in this pytest run, else made here."""
    out = batch_dir()
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{key}.json"
    with toolchain.file_lock(out / f".{key}.lock"):
        try:
            rec = json.loads(path.read_text())
            if rec.get("run") == RUN_ID:
                return rec
        except (OSError, ValueError):
            pass
        xml = out / f"{key}.xml"
        run = toolchain.run_cocotb_cases(module, build, testcase=cases, extra_env=kw["env"], waves=kw["waves"],
                                         seed=kw["seed"], results_xml=str(xml), test_args=kw["test_args"],
                                         toplevel=kw["toplevel"])
        rec = {"run": RUN_ID, "module": module, "xml": str(run.xml), "asserted": run.asserted,
               "ended": "" if run.code is None else f"simulator exit {run.code}", "cases": run.cases}
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(rec, indent=1))
        tmp.replace(path)
        return rec
