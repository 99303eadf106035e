"""Seeded fuzz of the host model: random scenarios over the whole operation catalogue.

Every seed builds one scenario (`fuzz_case`): anonymous pages in every
state, file pages, a THP and a collapsible PTE table, several CPU threads
running random operations of `model.ops.OPS` (every operation the scenario
format accepts, plus `wait`) on a few *hot* pages they share, and device
threads reading and writing the same pages. The seeded random scheduler
interleaves everything (seed = scheduler seed), and the scenario runs on the
reference device under all three policies.

Pass criteria:

* no Python exception escapes the run, and no `ScenarioRunError` either: the
  generated scenarios are schedulable by construction (no scripted `until`,
  every lock is eventually released), so a run error is a model bug;
* under `notify-inside-lock` and `secondary-with-flush`, no checker fails,
  except the rules `model/matrix.toml` expects to fail for the rows the
  scenario contains (`known_rows`): `madv_dontneed_vs_fault` (a zap and a
  fault on the same page: ordering under every policy) and
  `ksm_merge_vs_cow` (KSM write-protect preempted while a refcount-based
  write fault copies the page: coherence and lost-write under
  `notify-inside-lock`);
* no exemption for pages a zap discards: the zero fill of a page faulted
  in after munmap/MADV_DONTNEED is a write in the trace (`ZeroFill`), and a
  device write landing in the discarded page after its PTE was cleared is
  a discarded write, not a lost one (docs/POLICIES.md, "Zero fills and
  discarded writes");
* `deferred` is allowed to fail (that is what the policy is for), but it
  must not raise either.

The in-suite run is `FUZZ_SEEDS` seeds (default 150) from `FUZZ_FIRST`
(default 0); `FUZZ_SEEDS=3000 .venv/bin/python -m pytest -q tests/test_model_fuzz.py`
runs more. A failing seed prints its scenario text and the command that replays it.
"""
from __future__ import annotations

import os
import random
from dataclasses import dataclass
from typing import Callable

import pytest

from model.matrix import load_rows
from model.notifier import POLICIES
from model.ops import OPS
from model.scenario import ScenarioError, parse
from model.scheduler import run_scenario_sync

NIL, DEF, SWF = "notify-inside-lock", "deferred", "secondary-with-flush"

ANON, RO, FILE, FILEW, HUGE = 0x1000_0000, 0x1001_0000, 0x2000_0000, 0x2000_4000, 0x4000_0000
ANON_STATES = ("present", "present", "ro", "cow", "cow", "zero", "none")
ZAPS = ("munmap", "madv_dontneed", "zap_early_free")
KSM_WP = ("ksm_write_protect_page", "ksm_merge")


@dataclass
class FuzzCase:
    seed: int
    text: str
    ops: set[str]  # operation names used by CPU threads
    wp_fault: str


def _page_setup(rng: random.Random) -> tuple[list[str], dict[str, str], list[str]]:
    """Setup lines, label -> kind ("anon", "ro", "file", "filew", "huge", "small2m"), labels."""
    lines = [f"vma {ANON:#x} {ANON + 0x10000:#x} anon rw mergeable",
             f"vma {RO:#x} {RO + 0x2000:#x} anon ro",
             f"vma {FILE:#x} {FILE + 0x4000:#x} file ro file=text",
             f"vma {FILEW:#x} {FILEW + 0x2000:#x} file rw file=data",
             f"vma {HUGE:#x} {HUGE + 0x400000:#x} anon rw"]
    kinds: dict[str, str] = {}
    for i in range(6):
        lines.append(f"page P{i} {ANON + 0x2000 * i:#x} {rng.choice(ANON_STATES)}")
        kinds[f"P{i}"] = "anon"
    lines.append(f"page Q {RO:#x} {rng.choice(('present', 'zero', 'none'))}")
    kinds["Q"] = "ro"
    lines.append(f"page F0 {FILE:#x} file")
    lines.append(f"page F1 {FILE + 0x1000:#x} {rng.choice(('file', 'none'))}")
    kinds["F0"] = kinds["F1"] = "file"
    lines.append(f"page W {FILEW:#x} {rng.choice(('file', 'none'))}")
    kinds["W"] = "filew"
    lines.append(f"page H {HUGE:#x} huge")
    kinds["H"] = "huge"
    # a PTE table inside a 2 MiB range for thp_collapse (a few small pages, not all 512)
    lines.append(f"page R {HUGE + 0x200000:#x} {rng.choice(('present', 'cow', 'zero'))}")
    lines.append(f"page - {HUGE + 0x201000:#x} present count={rng.randint(1, 3)}")
    kinds["R"] = "small2m"
    return lines, kinds, list(kinds)


def _addr(rng: random.Random, label: str, kind: str) -> str:
    r = rng.random()
    if kind in ("huge", "small2m") and r < 0.3:
        return f"{label}+{rng.choice((0x1000, 0x2000, 0x1008)):#x}"
    if r < 0.15:
        return f"{label}+{rng.choice((0x8, 0x10, 0xff8)):#x}"
    return label


def _cpu_action(rng: random.Random, hot: list[str], labels: list[str], kinds: dict[str, str]) -> str:
    op = rng.choice(sorted(OPS) + ["store", "store", "load", "wait"])
    if op == "wait":
        return f"wait {rng.randint(1, 200)}"
    label = rng.choice(hot) if rng.random() < 0.8 else rng.choice(labels)
    a = _addr(rng, label, kinds[label])
    args = OPS[op].args
    parts = [op]
    if "va" in args:
        parts.append(a)
    if "len?" in args and rng.random() < 0.5:
        parts.append(f"{rng.choice((0x1000, 0x2000, 0x3000, 0x4000)):#x}")
        if "prot?" in args:
            parts.append(rng.choice(("ro", "rw")))
    if "value?" in args and rng.random() < 0.3:
        parts.append(f"{rng.getrandbits(64):#x}")
    return " ".join(parts)


def _dev_action(rng: random.Random, hot: list[str], labels: list[str], kinds: dict[str, str]) -> str:
    r = rng.random()
    if r < 0.08:
        return f"wait {rng.randint(1, 100)}"
    label = rng.choice(hot) if rng.random() < 0.8 else rng.choice(labels)
    a = _addr(rng, label, kinds[label])
    verb = "write" if rng.random() < 0.35 else "read"
    return f"{verb} {a}" + (" nowait" if rng.random() < 0.1 else "")


def fuzz_case(seed: int) -> FuzzCase:
    """The scenario of `seed` (deterministic)."""
    rng = random.Random(seed * 1_000_003 + 0xF022)
    wp = rng.choice(("lock-wait", "refcount"))
    setup, kinds, labels = _page_setup(rng)
    hot = rng.sample(labels, rng.randint(1, 3))
    lines = [f"scenario fuzz_{seed}", f"description model fuzz, seed {seed}",
             f"wp-fault {wp}", f"cycles-per-step {rng.choice((5, 10, 10, 20))}", *setup]
    ncpu, ndev = rng.randint(2, 4), rng.randint(1, 4)
    ops = fuzz_rows(rng, lines, hot, labels, kinds, ncpu, ndev)
    return FuzzCase(seed, "\n".join(lines) + "\n", ops, wp)


def fuzz_rows(rng: random.Random, lines: list[str], hot: list[str], labels: list[str], kinds: dict,
              ncpu: int, ndev: int) -> set[str]:
    """Append the three rows of a fuzz scenario to `lines` (warm the device TLB, the race of
    random CPU operations and device accesses, read back after); the CPU operations used."""
    lines.append("[Time warm] " + "-" * 30)
    for d in range(ndev):
        lines.append(f"DEV-thread-{d} {{read {rng.choice(hot)}}}")
    lines.append("[Time race] " + "-" * 30)
    ops: set[str] = set()
    for c in range(ncpu):
        acts = [_cpu_action(rng, hot, labels, kinds) for _ in range(rng.randint(1, 5))]
        ops |= {a.split()[0] for a in acts}
        lines.append(f"CPU-thread-{c} {{{'; '.join(acts)}}}")
    for d in range(ndev):
        acts = [_dev_action(rng, hot, labels, kinds) for _ in range(rng.randint(2, 10))]
        lines.append(f"DEV-thread-{d} {{{'; '.join(acts)}}}")
    lines.append("[Time after] " + "-" * 30)
    for d in range(ndev):
        lines.append(f"DEV-thread-{d} {{read {rng.choice(hot)}; read {rng.choice(labels)}}}")
    ops.discard("wait")
    return ops


# --------------------------------------------------------------------------- expectations

MATRIX = {r.op: r for r in load_rows()}


def known_rows(case: FuzzCase) -> set[str]:
    """Matrix rows with failing expectations that the scenario can reproduce."""
    rows = set()
    if case.ops & set(ZAPS) and case.ops & {"store", "load", "__replace_page"}:
        rows.add("madv_dontneed_vs_fault")
    if case.wp_fault == "refcount" and case.ops & set(KSM_WP) and "store" in case.ops:
        rows.add("ksm_merge_vs_cow")
    return rows


def allowed(case: FuzzCase, policy: str) -> frozenset[str]:
    out: set[str] = set()
    for r in known_rows(case):
        out |= MATRIX[r].expect[policy]
    return frozenset(out)


def replay(seed: int, policy: str) -> str:
    return (f"FUZZ_FIRST={seed} FUZZ_SEEDS=1 .venv/bin/python -m pytest -q tests/test_model_fuzz.py  "
            f"(policy {policy}; the scenario text is printed above)")


def run_case(seed: int, make_case: Callable[[int], FuzzCase] | None = None, tag: str = "fuzz") -> list[str]:
    """Problems of one seed under all three policies (empty: passed); `make_case`
    builds the scenario (default: fuzz_case; tests/test_model_fuzz_procs.py forks it)."""
    case = (make_case or fuzz_case)(seed)
    sc = parse(case.text, f"<{tag}:{seed}>")
    problems = []
    for p in POLICIES:
        pol = p.value
        try:
            res = run_scenario_sync(sc, pol, seed, mode="random")
        except ScenarioError as e:
            problems.append(f"seed {seed} [{pol}]: {type(e).__name__}: {e}")
            continue
        except Exception as e:  # noqa: BLE001 - the point of the fuzz
            problems.append(f"seed {seed} [{pol}]: uncaught {type(e).__name__}: {e}")
            continue
        if pol == DEF:
            continue
        bad = [v for v in res.failures if v.rule not in allowed(case, pol)]
        if bad:
            msgs = [v.message for v in bad][:3]
            problems.append(f"seed {seed} [{pol}]: {sorted({v.rule for v in bad})} "
                            f"(known rows {sorted(known_rows(case))}): " + " | ".join(msgs))
    return problems


FIRST = int(os.environ.get("FUZZ_FIRST", "0"))
NSEEDS = int(os.environ.get("FUZZ_SEEDS", "150"))
CHUNK = 25


def test_generator_covers_the_whole_catalogue():
    used: set[str] = set()
    for s in range(200):
        used |= fuzz_case(s).ops
    assert used == set(OPS)


def test_generated_scenarios_parse_and_replay():
    case = fuzz_case(7)
    assert case.text == fuzz_case(7).text and case.text != fuzz_case(8).text
    parse(case.text, "<fuzz>")


@pytest.mark.parametrize("first", range(FIRST, FIRST + NSEEDS, CHUNK))
def test_fuzz_seeds(first):
    problems = []
    for seed in range(first, min(first + CHUNK, FIRST + NSEEDS)):
        got = run_case(seed)
        if got:
            problems += got + [f"--- scenario of seed {seed}:\n{fuzz_case(seed).text}", replay(seed, "all")]
    assert not problems, "\n".join(problems)
