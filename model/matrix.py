"""The verdict matrix: every kernel operation under every notifier policy.

Each row is one operation and one scenario built to open that operation's
race window: the device caches a translation, the operation is preempted
right after it drops the page-table lock (before `invalidate_range_end`),
and the device and other CPU threads act inside that window. The expected
failing rules per cell are data (model/matrix.toml), each with the reasoning
from mmu_notifier.rst and the 2017 LKML thread; this module generates the
scenarios, runs them and compares.

    .venv/bin/python -m model.matrix --device ref      (writes build/matrix/ref/)
    .venv/bin/python -m tb.matrix --device rtl         (writes build/matrix/rtl/)

prints which device ran, expected vs observed per cell, writes matrix.json and
matrix.md (and the generated scenarios) to the output folder (default
build/matrix/<device>/, so an RTL run never overwrites the reference
results), and exits non-zero on any mismatch. `--device rtl` runs the same scenarios through `tb.rtldev`
(imported only then).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .cli import nonneg_int, out_dir, out_file, run_main
from .notifier import POLICIES
from .scenario import Scenario, ScenarioError, parse

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, from PyPI (requirements.txt)
    import tomli as tomllib

TOML = Path(__file__).with_name("matrix.toml")

# --------------------------------------------------------------------------- scenario text

_HEAD = """\
scenario {name}
description {title}
pasid 1
cycles-per-step 10
threads CPU-thread-0 CPU-thread-1 DEV-thread-0 DEV-thread-1
{extra}vma 0x10000000 0x10010000 anon rw{flags}
page B 0x10002000 present
"""


def _head(name: str, title: str, a_setup: str, *, mergeable: bool = False, extra: str = "") -> str:
    return (_HEAD.format(name=name, title=title, extra=extra, flags=" mergeable" if mergeable else "")
            + a_setup.strip() + "\n")


def _rows(*cells: str) -> str:
    """One row per cell: 'THREAD {action}  # comment' -> '[Time k]' blocks."""
    out = []
    for i, c in enumerate(cells):
        out.append(f"[Time {i}] " + "-" * 40)
        for part in c.split(" | "):
            out.append(part.strip())
    return "\n".join(out) + "\n"


def _case_b(op: str, *, store_a: bool) -> str:
    """Repoint-to-new-page template (the doc's case B, one address instead of two).

    The device caches A; the op on A is preempted after dropping the lock;
    a CPU store to A (if the op does not write A itself) then to B; the device
    reads B (new value), then A. With the secondary TLB still holding the old
    page for A, that read returns A's old value: newer B before older A.
    """
    cells = ["DEV-thread-0 {read A}                 # cache the old translation",
             f"CPU-thread-0 {{{op} until pt_unlock}}  # preempted before range_end"]
    if store_a:
        cells.append("CPU-thread-1 {store A}                # lands in the new page")
    cells += ["CPU-thread-1 {store B}                # later in the global write order",
              "DEV-thread-1 {read B}                 # the device sees the new B",
              "DEV-thread-0 {read A}                 # old page => ordering violation",
              "CPU-thread-0 {resume}"]
    return _rows(*cells)


def _window(op: str, until: str, inside: list[str], after: list[str]) -> str:
    """Generic window: device caches A, op preempted at `until`, `inside` rows, resume, `after` rows."""
    cells = ["DEV-thread-0 {read A}", f"CPU-thread-0 {{{op} until {until}}}", *inside,
             "CPU-thread-0 {resume}", *after]
    return _rows(*cells)


_B_NOISE = ["CPU-thread-1 {store B}", "DEV-thread-1 {read B}"]


def sc_cpu_store(name: str, title: str) -> str:
    return _head(name, title, "page A 0x10000000 present") + _rows(
        "DEV-thread-0 {read A}", "CPU-thread-0 {store A}", *_B_NOISE, "DEV-thread-0 {read A}",
        "CPU-thread-1 {load A}")


def sc_cow(name: str, title: str) -> str:
    return _head(name, title, "page A 0x10000000 cow") + _case_b("store A", store_a=True)


def sc_zero_page(name: str, title: str) -> str:
    return _head(name, title, "page A 0x10000000 zero") + _case_b("store A", store_a=True)


def sc_replace_page(name: str, title: str) -> str:
    a = "vma 0x20000000 0x20004000 file ro file=text\npage A 0x20000000 file"
    return _head(name, title, a) + _case_b("__replace_page A", store_a=False)


def sc_ksm_wp(name: str, title: str) -> str:
    return _head(name, title, "page A 0x10000000 present", mergeable=True) + _window(
        "ksm_write_protect_page A", "pt_unlock",
        ["DEV-thread-0 {write A}     # stale writable entry (unless invalidated under the lock)",
         *_B_NOISE, "DEV-thread-0 {read A}"],
        ["DEV-thread-0 {read A}", "DEV-thread-0 {write A}     # read-only now: faults"])


def _ksm_replace(op: str) -> Callable[[str, str], str]:
    def gen(name: str, title: str) -> str:
        return _head(name, title, "page A 0x10000000 ro", mergeable=True) + _window(
            f"{op} A", "pt_unlock",
            [*_B_NOISE, "DEV-thread-0 {read A}      # stale: old page, same content"],
            ["DEV-thread-0 {read A}      # the KSM page"])
    return gen


def sc_munmap(name: str, title: str) -> str:
    return _head(name, title, "page A 0x10000000 present") + _window(
        "munmap A 0x1000", "pt_unlock",
        ["DEV-thread-0 {read A}      # stale, old page still allocated",
         "DEV-thread-0 {write A}     # stale, discarded with the mapping", *_B_NOISE],
        ["DEV-thread-0 {read A}      # unmapped: fault"])


def sc_dontneed(name: str, title: str) -> str:
    return _head(name, title, "page A 0x10000000 present") + _window(
        "madv_dontneed A 0x1000", "pt_unlock",
        ["DEV-thread-0 {read A}", "DEV-thread-0 {write A}", *_B_NOISE],
        ["DEV-thread-0 {read A}      # none: fault", "CPU-thread-1 {store A}     # new zero-filled page",
         "DEV-thread-0 {read A}"])


def sc_dontneed_vs_fault(name: str, title: str) -> str:
    """A store to A while MADV_DONTNEED on A is in progress: the fault maps a
    new page while the device (like any CPU with a stale TLB entry) may still
    use the old one; a userspace race with the discard, not a kernel bug."""
    return _head(name, title, "page A 0x10000000 present") + _case_b("madv_dontneed A 0x1000", store_a=True)


def sc_zap_early_free(name: str, title: str) -> str:
    return _head(name, title, "page A 0x10000000 present") + _window(
        "zap_early_free A 0x1000", "page_free",
        ["DEV-thread-0 {read A}      # freed frame if the ATC kept the old entry"],
        ["DEV-thread-0 {read A}"])


def sc_madv_free(name: str, title: str) -> str:
    return _head(name, title, "page A 0x10000000 present") + _window(
        "madv_free A 0x1000", "pt_unlock",
        ["DEV-thread-0 {write A}", *_B_NOISE, "DEV-thread-0 {read A}"],
        ["DEV-thread-0 {read A}"])


def sc_try_to_unmap(name: str, title: str) -> str:
    return _head(name, title, "page A 0x10000000 present") + _window(
        "try_to_unmap A", "pt_unlock",
        ["DEV-thread-0 {write A}     # stale entry: into the page before pageout", *_B_NOISE],
        ["CPU-thread-1 {load A}      # swap-in", "DEV-thread-0 {read A}"])


def sc_migrate(name: str, title: str) -> str:
    return _head(name, title, "page A 0x10000000 present") + _window(
        "migrate A", "pt_unlock",
        ["DEV-thread-0 {write A}     # stale entry: into the old page before the copy", *_B_NOISE],
        ["DEV-thread-0 {read A}      # the new page", "CPU-thread-1 {load A}"])


def sc_thp_split(name: str, title: str) -> str:
    a = "vma 0x40000000 0x40200000 anon rw\npage H 0x40000000 huge\nlabel A H"
    return _head(name, title, a) + _window(
        "thp_split H", "pt_unlock",
        ["CPU-thread-1 {store H+0x1000}  # through the new 4K PTE: same physical page", *_B_NOISE,
         "DEV-thread-0 {read H+0x1000}   # 2 MiB ATC entry, still the same page"],
        ["DEV-thread-0 {read H+0x1000}", "CPU-thread-1 {store H+0x2000}", "DEV-thread-0 {read H+0x2000}"])


def sc_thp_collapse(name: str, title: str) -> str:
    a = "vma 0x40000000 0x40200000 anon rw\npage R 0x40000000 present count=512\nlabel A R"
    return _head(name, title, a) + _window(
        "thp_collapse R", "pt_unlock",
        ["DEV-thread-0 {write R}     # stale 4K entry: into the small page before the copy", *_B_NOISE],
        ["DEV-thread-0 {read R}      # the huge page carries the write", "DEV-thread-0 {read R+0x3000}",
         "CPU-thread-1 {load R+0x1000}"])


def sc_mprotect(name: str, title: str) -> str:
    return _head(name, title, "page A 0x10000000 present") + _window(
        "mprotect A 0x1000 ro", "pt_unlock",
        ["DEV-thread-0 {write A}     # stale writable entry: same page", *_B_NOISE, "DEV-thread-0 {read A}"],
        ["DEV-thread-0 {write A}     # read-only now: faults", "DEV-thread-0 {read A}"])


def sc_soft_dirty(name: str, title: str) -> str:
    return _head(name, title, "page A 0x10000000 present") + _window(
        "clear_soft_dirty", "pt_unlock",
        ["DEV-thread-0 {write A}     # stale writable entry: same page",
         "CPU-thread-1 {store B}     # write-protected now: wp fault, reuse", "DEV-thread-1 {read B}"],
        ["DEV-thread-0 {write A}     # faults", "CPU-thread-1 {store A}", "DEV-thread-0 {read A}"])


def sc_ksm_merge_vs_cow(name: str, title: str) -> str:
    """KSM write_protect_page preempted before range_end while another thread's
    write fault copies the page (refcount-based do_wp_page): a device write
    through the stale writable entry lands in the old page after the copy."""
    head = _head(name, title, "page A 0x10000000 present", mergeable=True, extra="wp-fault refcount\n")
    return head + _rows(
        "DEV-thread-0 {read A}            # writable translation cached",
        "CPU-thread-0 {ksm_merge A until pt_unlock}    # write_protect_page: lock dropped, range_end pending",
        "CPU-thread-1 {store A until copy}  # write fault: extra reference -> copy",
        "DEV-thread-0 {write A+8}         # stale writable entry: lands in the old page, after the copy",
        "CPU-thread-1 {resume}            # new page mapped; the device write is not in it",
        "CPU-thread-0 {resume}",
        "DEV-thread-0 {read A+8}")


GENERATORS: dict[str, Callable[[str, str], str]] = {
    "cpu_store": sc_cpu_store,
    "cow": sc_cow,
    "zero_page_write": sc_zero_page,
    "replace_page": sc_replace_page,
    "ksm_write_protect_page": sc_ksm_wp,
    "ksm_replace_page": _ksm_replace("ksm_replace_page"),
    "ksm_replace_page_early_free": _ksm_replace("ksm_replace_page_early_free"),
    "munmap": sc_munmap,
    "madv_dontneed": sc_dontneed,
    "madv_dontneed_vs_fault": sc_dontneed_vs_fault,
    "zap_early_free": sc_zap_early_free,
    "madv_free": sc_madv_free,
    "try_to_unmap": sc_try_to_unmap,
    "migrate": sc_migrate,
    "thp_split": sc_thp_split,
    "thp_collapse": sc_thp_collapse,
    "mprotect": sc_mprotect,
    "clear_soft_dirty": sc_soft_dirty,
    "ksm_merge_vs_cow": sc_ksm_merge_vs_cow,
}


# --------------------------------------------------------------------------- expectations

def _scenario_file(rel: str) -> Callable[[str, str], str]:
    """A row whose scenario is a shipped file (its `expect` lines are replaced by the TOML's)."""
    def gen(name: str, title: str) -> str:
        text = (Path(__file__).resolve().parent.parent / rel).read_text()
        lines = [ln for ln in text.splitlines() if not ln.startswith(("scenario ", "description ", "expect "))]
        return f"scenario {name}\ndescription {title}\n" + "\n".join(lines) + "\n"
    return gen


# Rows that open the windows of the two ATS rules with device timing (`device-timing`,
# honoured by the RTL co-simulation only): they tell a correct device from the
# test-only broken ones (DEVICES rtl-no-drain / rtl-no-poison).
GENERATORS["cow_held_read"] = _scenario_file("scenarios/cow_no_drain.scn")
GENERATORS["cow_walk_race"] = _scenario_file("scenarios/cow_no_poison.scn")

# --device: the reference device, the RTL, and the RTL built with a test-only switch
# that breaks one ATS rule (rtl/ats_dev_top.sv DbgNoDrain / DbgNoPoison)
DEVICES = ("ref", "rtl", "rtl-no-drain", "rtl-no-poison")


def device_variant(device: str) -> str | None:
    """'rtl-no-drain' -> 'no-drain' (the key of `[ops.X.device]` tables); None for a correct device."""
    return device[4:] if device.startswith("rtl-") else None


@dataclass(frozen=True)
class MatrixRow:
    op: str
    title: str
    expect: dict[str, frozenset[str]]  # policy -> failing rules
    reason: str
    variant: bool = False
    # test-only device variant -> policy -> failing rules (policies not given: as `expect`)
    device_expect: dict[str, dict[str, frozenset[str]]] = None  # type: ignore[assignment]

    def expect_for(self, device: str | None) -> dict[str, frozenset[str]]:
        v = device_variant(device or "ref")
        return {**self.expect, **((self.device_expect or {}).get(v, {}) if v else {})}

    def scenario_text(self) -> str:
        return GENERATORS[self.op](f"matrix_{self.op}", self.title)

    def scenario(self) -> Scenario:
        return parse(self.scenario_text(), f"<matrix:{self.op}>")


def load_rows(path: Path = TOML) -> list[MatrixRow]:
    data = tomllib.loads(path.read_text())
    rows = []
    for op, r in data["ops"].items():
        if op not in GENERATORS:
            raise ValueError(f"{path}: no scenario generator for operation {op!r}")
        exp = {}
        for p in POLICIES:
            if p.value not in r:
                raise ValueError(f"{path}: [ops.{op}] lacks an expectation for {p.value}")
            exp[p.value] = frozenset(r[p.value])
        dev = {}
        for v, table in r.get("device", {}).items():
            if "rtl-" + v not in DEVICES:
                raise ValueError(f"{path}: [ops.{op}.device.{v}]: unknown device variant")
            dev[v] = {p: frozenset(table[p]) for p in (q.value for q in POLICIES) if p in table}
        rows.append(MatrixRow(op, r["title"], exp, textwrap.dedent(r["reason"]).strip(),
                              bool(r.get("variant", False)), dev))
    return rows


def load_intro(path: Path = TOML) -> str:
    return textwrap.dedent(tomllib.loads(path.read_text()).get("intro", "")).strip()


def load_disagreements(path: Path = TOML) -> str:
    return textwrap.dedent(tomllib.loads(path.read_text()).get("disagreements", "")).strip()


# --------------------------------------------------------------------------- running

Runner = Callable[[Scenario, str, int], Any]  # -> RunResult


def ref_runner(sc: Scenario, policy: str, seed: int) -> Any:
    from .scheduler import run_scenario_sync
    return run_scenario_sync(sc, policy, seed)


# The RTL runner is handed in from above (tb.matrix): model/ never imports tb/.
RtlFactory = Callable[[str], Runner]  # device name ("rtl", "rtl-no-drain", ...) -> runner


@dataclass
class Cell:
    op: str
    policy: str
    expected: frozenset[str]
    observed: frozenset[str] | None
    error: str = ""
    details: list[str] | None = None
    metrics: dict | None = None

    @property
    def ok(self) -> bool:
        return self.observed is not None and self.observed == self.expected


def fmt_rules(rules: frozenset[str] | None) -> str:
    if rules is None:
        return "ERROR"
    return "clean" if not rules else ",".join(sorted(rules))


def run_matrix(rows: list[MatrixRow], runner: Runner, seed: int = 0, device: str | None = None) -> list[Cell]:
    cells = []
    for r in rows:
        sc = r.scenario()
        exp = r.expect_for(device)
        for p in POLICIES:
            try:
                res = runner(sc, p.value, seed)
            except ScenarioError as e:
                cells.append(Cell(r.op, p.value, exp[p.value], None, error=str(e)))
                continue
            cells.append(Cell(r.op, p.value, exp[p.value], res.failed_rules,
                              details=[v.message for v in res.failures][:4], metrics=res.metrics))
    return cells


def render_table(rows: list[MatrixRow], cells: list[Cell], *, markdown: bool) -> str:
    by = {(c.op, c.policy): c for c in cells}
    pols = [p.value for p in POLICIES]
    if markdown:
        out = ["| operation | " + " | ".join(pols) + " |", "|---|" + "---|" * len(pols)]
        for r in rows:
            tds = []
            for p in pols:
                c = by[(r.op, p)]
                mark = "" if c.ok else " **MISMATCH** (expected " + fmt_rules(c.expected) + ")"
                tds.append(fmt_rules(c.observed) + mark)
            name = f"`{r.op}`" + (" (variant)" if r.variant else "")
            out.append(f"| {name} | " + " | ".join(tds) + " |")
        return "\n".join(out)
    w0 = max(len(r.op) for r in rows) + 2
    w = 34
    out = ["operation".ljust(w0) + "".join(p.ljust(w) for p in pols),
           "-" * (w0 + w * len(pols))]
    for r in rows:
        line = r.op.ljust(w0)
        for p in pols:
            c = by[(r.op, p)]
            if c.ok:
                txt = fmt_rules(c.observed) + " ok"
            else:
                txt = f"{fmt_rules(c.observed)} != {fmt_rules(c.expected)}"
            line += txt.ljust(w)
        out.append(line)
    return "\n".join(out)


def render_doc(rows: list[MatrixRow], cells: list[Cell], intro: str, device: str) -> str:
    out = ["# The verdict matrix", "",
           f"Generated by `python -m model.matrix --device {device} --out build/matrix` from "
           "`model/matrix.toml` (expectations and reasoning) and the scenario generators in "
           "`model/matrix.py`. Each cell lists the rules the checkers failed (`clean`: none); "
           "a mismatch with the expectation would be marked **MISMATCH**.", "", intro, "",
           render_table(rows, cells, markdown=True), "", "## Where reasoning and a scenario disagreed", "",
           load_disagreements(), "", "## Reasoning per operation", ""]
    for r in rows:
        exp = ", ".join(f"{p}: {fmt_rules(r.expect[p])}" for p in (q.value for q in POLICIES))
        out += [f"### `{r.op}`: {r.title}", "", f"Expected: {exp}.", ""]
        for v in sorted(r.device_expect or {}):
            e = r.expect_for("rtl-" + v)
            out += [f"Expected on the test-only broken RTL `--device rtl-{v}`: "
                    + ", ".join(f"{p}: {fmt_rules(e[p])}" for p in (q.value for q in POLICIES)) + ".", ""]
        out += [r.reason, ""]
        out += ["<details><summary>scenario</summary>", "", "```", r.scenario_text().rstrip(), "```", "",
                "</details>", ""]
    return "\n".join(out).rstrip() + "\n"


DEVICE_TEXT = {"ref": "the reference device (model.refdev, transaction level)",
               "rtl": "the RTL (ats_dev_top in Verilator)",
               "rtl-no-drain": "the RTL with DbgNoDrain=1 (TEST-ONLY BROKEN DEVICE: no drain, ATS rule 2 off)",
               "rtl-no-poison": "the RTL with DbgNoPoison=1 (TEST-ONLY BROKEN DEVICE: no poison, ATS rule 1 off)"}
ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None, rtl: RtlFactory | None = None, prog: str = "python -m model.matrix") -> int:
    """`rtl` builds the runner of an RTL device column; tb.matrix passes it (model/ never imports tb/)."""
    ap = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    ap.add_argument("--device", choices=DEVICES, default="ref",
                    help="rtl-no-drain / rtl-no-poison: the RTL with a test-only switch that breaks ATS rule 2 / 1")
    ap.add_argument("--out", help="output directory (default: build/matrix/<device>)")
    ap.add_argument("--seed", type=nonneg_int, default=0)
    ap.add_argument("--only", action="append", default=[], help="run only these operations")
    ap.add_argument("--doc", type=out_file,
                    help="also write the rendered reasoning document here (docs/MATRIX.md)")
    args = ap.parse_args(argv)
    try:  # every output path is checked before the (long) run, not after it
        out = out_dir(args.out or str(ROOT / "build" / "matrix" / args.device))
    except argparse.ArgumentTypeError as e:
        ap.error(f"argument --out: {e}")
    rows = load_rows()
    if args.only:
        unknown = set(args.only) - {r.op for r in rows}
        if unknown:
            ap.error(f"argument --only: unknown operation(s) {', '.join(sorted(unknown))} "
                     f"(known: {', '.join(r.op for r in rows)})")
        rows = [r for r in rows if r.op in args.only]
    if args.device != "ref" and rtl is None:
        ap.error(f"argument --device: {args.device} runs on the RTL, which is bound in tb/: "
                 f"python -m tb.matrix --device {args.device}")
    runner = ref_runner if args.device == "ref" else rtl(args.device)
    print(f"== verdict matrix on {DEVICE_TEXT[args.device]}, seed {args.seed}")
    t0 = time.monotonic()
    cells = run_matrix(rows, runner, args.seed, args.device)
    dt = time.monotonic() - t0
    print(render_table(rows, cells, markdown=False))
    bad = [c for c in cells if not c.ok]
    for c in bad:
        print(f"\nMISMATCH {c.op} [{c.policy}]: expected {fmt_rules(c.expected)}, "
              f"observed {fmt_rules(c.observed)}")
        if c.error:
            print(f"  {c.error}")
        for d in c.details or []:
            print(f"  {d}")
    (out / "scenarios").mkdir(exist_ok=True)
    for r in rows:
        (out / "scenarios" / f"{r.op}.scn").write_text(r.scenario_text())
    (out / "matrix.json").write_text(json.dumps({
        "device": args.device, "seed": args.seed, "seconds": round(dt, 3),
        "cells": [{"op": c.op, "policy": c.policy, "expected": sorted(c.expected),
                   "observed": None if c.observed is None else sorted(c.observed), "ok": c.ok,
                   "error": c.error, "failures": c.details or [], "metrics": c.metrics or {}}
                  for c in cells]}, indent=1, sort_keys=True, default=str))
    (out / "matrix.md").write_text(render_table(rows, cells, markdown=True) + "\n")
    if args.doc:
        Path(args.doc).write_text(render_doc(rows, cells, load_intro(), args.device))
    shown = os.path.relpath(out) if out.resolve().is_relative_to(Path.cwd()) else str(out)
    print(f"\n{len(cells) - len(bad)}/{len(cells)} cells as expected on {args.device} ({dt:.1f} s); "
          f"wrote {shown}/matrix.json, {shown}/matrix.md")
    return 1 if bad else 0


if __name__ == "__main__":
    run_main(main)
