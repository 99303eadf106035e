"""Seeded fuzz of the scenario reader and runner: every mutant of a shipped scenario
either runs (exit 0 or 1) or stops with exactly one line `error: FILE:LINE: problem`
(exit 2); never a traceback, never a hang.

The mutants come from the shipped files (scenarios/*.scn) and the verdict
matrix's generated scenarios (model/matrix.py): lines deleted, duplicated and
swapped, random bytes inserted (often not UTF-8), the file cut short, numbers
made huge, names replaced by unknown ones, one to three edits each. They run
through the `python -m model.scenario` CLI in this process on the reference
device (a policy and a scheduler mode drawn per mutant), and a small sample
runs on the RTL through `python -m tb.sim`.

    FUZZ_SEED=N FUZZ_MUTANTS=M .venv/bin/python -m pytest -q tests/test_scenario_fuzz.py

replays a run; a failing mutant is also written to build/fuzz/ with the
command that replays it alone.
"""
from __future__ import annotations

import contextlib
import io
import os
import random
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from model import scenario_cli as scenario_mod  # `python -m model.scenario`
from model.matrix import load_rows

ROOT = Path(__file__).resolve().parent.parent
SEED = int(os.environ.get("FUZZ_SEED", "12"))
MUTANTS = int(os.environ.get("FUZZ_MUTANTS", "600"))
TIME_LIMIT = 10.0  # seconds per mutant on the reference device (a normal one takes milliseconds)
RTL_SAMPLE = 5
RTL_TIME_LIMIT = 300.0
ERROR_LINE = re.compile(r"^error: (?P<path>.+?):(?P<line>\d+): (?=\S)")

HUGE = ["18446744073709551616", "0xffffffffffffffffffffffff", "99999999999999999999999999", "-1", "0x800000000000",
        "0x7ffffffff000", "250000", "10000001", "1_000_000_000", "0"]
NAMES = ["frobnicate", "DEV-thread-9", "DEV-thread-8", "CPU-thread-x", "addrZ", "munmapp", "until", "[Time",
         "expect", "=", "{", "}", "resume", "nowait", "zero", "huge", "count=99999", "value=", "pasid", "wait"]


def sources() -> list[tuple[str, str]]:
    out = [(p.stem, p.read_text()) for p in sorted((ROOT / "scenarios").glob("*.scn"))]
    out += [(f"matrix_{r.op}", r.scenario_text()) for r in load_rows()]
    return out


def mutate(text: str, rng: random.Random) -> tuple[bytes, list[str]]:
    """One mutant of `text` and the edits made."""
    lines = text.split("\n")
    data: bytes | None = None
    edits = []
    for _ in range(rng.randint(1, 3)):
        kind = rng.choice(["delete", "duplicate", "swap", "bytes", "truncate", "huge", "name", "name"])
        edits.append(kind)
        if data is not None and kind not in ("bytes", "truncate"):
            kind = rng.choice(["bytes", "truncate"])  # already bytes: byte-level edits only
        i = rng.randrange(len(lines)) if lines else 0
        if kind == "delete" and lines:
            del lines[i]
        elif kind == "duplicate" and lines:
            lines.insert(i, lines[i])
        elif kind == "swap" and len(lines) > 1:
            j = rng.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
        elif kind == "huge" and lines:
            nums = list(re.finditer(r"\b(0x[0-9a-fA-F_]+|\d+)\b", lines[i]))
            if nums:
                m = rng.choice(nums)
                lines[i] = lines[i][:m.start()] + rng.choice(HUGE) + lines[i][m.end():]
        elif kind == "name" and lines:
            words = list(re.finditer(r"[^\s{};]+", lines[i]))
            if words:
                m = rng.choice(words)
                lines[i] = lines[i][:m.start()] + rng.choice(NAMES) + lines[i][m.end():]
        elif kind in ("bytes", "truncate"):
            if data is None:
                data = "\n".join(lines).encode()
            pos = rng.randrange(len(data) + 1)
            if kind == "bytes":
                data = data[:pos] + rng.randbytes(rng.randint(1, 8)) + data[pos:]
            else:
                data = data[:pos]
    return (data if data is not None else "\n".join(lines).encode()), edits


@dataclass
class Outcome:
    status: int
    out: str
    err: str
    seconds: float


class _Timeout(Exception):
    pass


def _alarm(signum, frame):  # noqa: ARG001
    raise _Timeout()


def run_cli(path: Path, args: list[str], limit: float = TIME_LIMIT) -> Outcome:
    """`python -m model.scenario PATH ARGS` in this process, under a time limit."""
    out, err = io.StringIO(), io.StringIO()
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, limit)
    t0 = time.monotonic()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                status = scenario_mod.main([str(path), *args])
            except SystemExit as e:  # argparse
                status = e.code if isinstance(e.code, int) else 1
            except _Timeout:
                status = -1
                err.write(f"(no result within {limit} s)\n")
            except Exception:  # noqa: BLE001 - the finding this test looks for
                import traceback

                status = -2
                err.write(traceback.format_exc())
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    return Outcome(status, out.getvalue(), err.getvalue(), time.monotonic() - t0)


def problem(o: Outcome, path: Path) -> str | None:
    """What is wrong with an outcome (None: acceptable)."""
    if o.status not in (0, 1, 2):
        return f"exit {o.status}"
    if "Traceback" in o.out + o.err:
        return "traceback"
    if o.status == 2:
        lines = o.err.splitlines()
        if len(lines) != 1:
            return f"{len(lines)} lines on stderr, expected one"
        m = ERROR_LINE.match(lines[0])
        if m is None or m.group("path") != str(path):
            return f"not 'error: {path}:LINE: problem'"
    return None


def keep(path: Path, data: bytes, why: str, args: list[str]) -> str:
    """Save a failing mutant under build/fuzz/ and say how to replay it."""
    d = ROOT / "build" / "fuzz"
    d.mkdir(parents=True, exist_ok=True)
    (d / path.name).write_bytes(data)
    return (f"{path.name}: {why}\n    replay: .venv/bin/python -m model.scenario build/fuzz/{path.name} "
            f"{' '.join(args)}")


def mutants(tmp: Path) -> list[tuple[Path, bytes, list[str], list[str]]]:
    rng = random.Random(SEED)
    srcs = sources()
    out = []
    for i in range(MUTANTS):
        name, text = srcs[i % len(srcs)]
        data, edits = mutate(text, rng)
        pol = rng.choice(["all", "notify-inside-lock", "deferred", "secondary-with-flush"])
        args = ["--policy", pol] + (["--mode", "random", "--seed", str(rng.randrange(1000))]
                                    if rng.random() < 0.3 else [])
        path = tmp / f"fuzz{SEED}_{i:04d}_{name}.scn"
        path.write_bytes(data)
        out.append((path, data, edits, args))
    return out


@pytest.fixture(scope="module")
def reference_runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fuzz")
    t0 = time.monotonic()
    runs = []
    for path, data, edits, args in mutants(tmp):
        runs.append((path, data, edits, args, run_cli(path, args)))
    return runs, time.monotonic() - t0


def test_mutants_on_the_reference_device_exit_cleanly(reference_runs, record_property):
    runs, seconds = reference_runs
    record_property("mutants", len(runs))
    record_property("seconds", round(seconds, 1))
    status = [o.status for *_, o in runs]
    print(f"fuzz seed {SEED}: {len(runs)} mutants in {seconds:.1f} s; exit 0: {status.count(0)}, "
          f"1: {status.count(1)}, 2: {status.count(2)}; slowest {max(o.seconds for *_, o in runs):.2f} s")
    bad = []
    for path, data, edits, args, o in runs:
        why = problem(o, path)
        if why:
            bad.append(keep(path, data, f"{why} after {'+'.join(edits)}; stderr: {o.err[-600:]!r}", args))
    assert len(runs) >= 500
    assert not bad, f"{len(bad)} of {len(runs)} mutants (seed {SEED}) misbehaved:\n" + "\n".join(bad[:10])
    # the mutants exercise both sides: some still run, most are refused with their line
    assert status.count(2) > len(runs) // 4 and status.count(0) + status.count(1) > 20, status


def test_the_checks_of_this_test_fire():
    """A traceback, a second stderr line, an error without a line and a bad exit are each caught."""
    p = Path("x.scn")
    assert problem(Outcome(2, "", "error: x.scn:3: bad\n", 0), p) is None
    assert problem(Outcome(0, "", "", 0), p) is None
    assert problem(Outcome(2, "", "error: x.scn: bad\n", 0), p) == "not 'error: x.scn:LINE: problem'"
    assert problem(Outcome(2, "", "error: x.scn:3: bad\nreplay: ...\n", 0), p).startswith("2 lines")
    assert problem(Outcome(1, "", "Traceback (most recent call last):\n", 0), p) == "traceback"
    assert problem(Outcome(-1, "", "", 0), p) == "exit -1"
    # the runner reports an escaping exception and a hang as such
    slow = Path(__file__)  # not a scenario: any run of it would be refused, so patch main instead
    real = scenario_mod.main
    try:
        scenario_mod.main = lambda argv: 1 // 0
        assert run_cli(slow, []).status == -2
        scenario_mod.main = lambda argv: time.sleep(5) or 0
        t0 = time.monotonic()
        assert run_cli(slow, [], limit=0.5).status == -1 and time.monotonic() - t0 < 2
    finally:
        scenario_mod.main = real


def test_mutation_kinds_are_all_used():
    rng = random.Random(SEED)
    kinds: set[str] = set()
    text = sources()[0][1]
    for _ in range(200):
        data, edits = mutate(text, rng)
        kinds |= set(edits)
    assert kinds == {"delete", "duplicate", "swap", "bytes", "truncate", "huge", "name"}


def _parses(path: Path) -> bool:
    try:
        scenario_mod.load(path)
    except scenario_mod.ScenarioError:
        return False
    return True


@pytest.mark.rtl
def test_a_sample_of_mutants_on_the_rtl(reference_runs, tmp_path):
    """A few mutants through `python -m tb.sim` (the RTL): the same rules hold, and a file
    refused on the reference device (when read, or when run) is refused at the same line."""
    runs, _ = reference_runs
    ran = [r for r in runs if r[4].status in (0, 1)][:3]
    run_time = [r for r in runs if r[4].status == 2 and _parses(r[0])][:1]
    not_utf8 = [r for r in runs if r[4].status == 2 and "not UTF-8" in r[4].err][:1]
    sample = (ran + run_time + not_utf8 + [r for r in runs if r[4].status == 2])[:RTL_SAMPLE]
    assert len(sample) == RTL_SAMPLE
    bad = []
    for path, data, edits, args, ref in sample:
        t0 = time.monotonic()
        # the same policy, mode and seed as the reference run, so a run-time refusal is the same run's
        r = subprocess.run([sys.executable, "-m", "tb.sim", "--scenario", str(path), *args,
                            "--waves", "0", "--out", str(tmp_path / path.stem)], cwd=ROOT, capture_output=True,
                           text=True, timeout=RTL_TIME_LIMIT)
        o = Outcome(r.returncode, r.stdout, r.stderr, time.monotonic() - t0)
        why = problem(o, path)
        if why is None and ref.status == 2:
            where = ERROR_LINE.match(ref.err).group(0)  # "error: FILE:LINE: "
            why = None if o.status == 2 and o.err.startswith(where) else \
                f"the reference device said {ref.err.strip()!r}"
        if why:
            bad.append(f"{path.name}: {why} after {'+'.join(edits)}\n    stdout: {o.out[-800:]}\n"
                       f"    stderr: {o.err[-1500:]}")
    assert not bad, "\n".join(bad)
