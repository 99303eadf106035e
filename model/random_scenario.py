"""Seeded random scenarios: the operation catalogue against device threads.

Every seed gives one scenario (`random_scenario_text`): a few pages in states
the catalogue's kernel paths act on (COW, zero page, file page, KSM
candidates, plain anonymous pages), CPU threads running random operations
from the catalogue on them plus CPU stores, and several device threads
hammering the same pages with reads (and writes where no kernel path races
with them by design). The text depends on the seed alone, so a seed names
its scenario on every device (the RTL through `make stress`, the reference
device, `make sim --scenario random`). Generation needs no simulator, so it
lives with the host model.

The catalogue leaves out two races the host model treats as userspace races
or as a separate 4.15 bug (docs/MATRIX.md: `madv_dontneed_vs_fault`,
`ksm_merge_vs_cow`), since they fail under every policy by construction.
"""
from __future__ import annotations

import random
from typing import Any

from model.scenario import Scenario, parse

ANON = 0x1000_0000
FILEVA = 0x2000_0000

# (operation template, page states it applies to); {X} is a page label
CATALOGUE: list[tuple[str, tuple[str, ...]]] = [
    ("store {X}", ("cow", "zero", "present", "ro")),           # COW, write fault on the zero page, reuse
    ("store {X}", ("cow", "zero")),                            # (weighted: the doc's case B)
    ("load {X}", ("cow", "zero", "present", "ro")),
    ("migrate {X}", ("present", "cow", "ro")),
    ("ksm_write_protect_page {X}", ("present",)),
    ("ksm_replace_page {X}", ("ro",)),
    ("mprotect {X} 0x1000 ro", ("present",)),
    ("try_to_unmap {X}", ("present", "ro")),
    ("madv_free {X}", ("present",)),
    ("ksm_replace_page_early_free {X}", ("ro",)),             # the 2017 early put_page variant
    ("clear_soft_dirty", ("present", "cow", "zero", "ro")),   # whole mm; X only picks the row
]
FILE_OPS = ["__replace_page F"]
STATES = ("cow", "cow", "zero", "present", "ro")


def random_scenario_text(seed: int, *, pages: int = 4, cpus: int = 3, ops_per_cpu: int = 3,
                         devs: int = 4, dev_accesses: int = 10) -> str:
    """The scenario file text for `seed` (deterministic)."""
    rng = random.Random(seed * 7919 + 17)
    lines = [f"scenario stress_{seed}",
             f"description random catalogue interleaving, seed {seed}",
             "pasid 1", "cycles-per-step 10",
             f"vma {ANON:#x} {ANON + 0x10000:#x} anon rw mergeable",
             f"vma {FILEVA:#x} {FILEVA + 0x4000:#x} file ro file=text",
             f"page F {FILEVA:#x} file"]
    labels = []
    states: dict[str, str] = {}
    for i in range(pages):
        name = f"P{i}"
        st = rng.choice(STATES)
        states[name] = st
        labels.append(name)
        lines.append(f"page {name} {ANON + 0x2000 * i:#x} {st}")
    rows: list[list[str]] = []
    # device threads first touch every page (cache translations), then hammer
    row0 = []
    for d in range(devs):
        first = [f"read {labels[(d + j) % len(labels)]}" for j in range(min(2, len(labels)))]
        row0.append(f"DEV-thread-{d} {{{'; '.join(first)}}}")
    rows.append(row0)
    row1 = []
    busy: set[str] = set()  # pages some kernel path changes: device writes there would race by design
    for c in range(cpus):
        acts = []
        for _ in range(ops_per_cpu):
            if rng.random() < 0.12:
                acts.append(rng.choice(FILE_OPS))
                continue
            x = rng.choice(labels)
            choices = [t for t, sts in CATALOGUE if states[x] in sts]
            t = rng.choice(choices)
            if not t.startswith(("store", "load")):
                busy.add(x)  # kernel paths may race each other on x; the device only reads it
            acts.append(t.format(X=x))
        row1.append(f"CPU-thread-{c} {{{'; '.join(acts)}}}")
    rows.append(row1)
    row2 = []
    for d in range(devs):
        acts = []
        for _ in range(dev_accesses):
            x = rng.choice(labels + ["F"])
            if x != "F" and x not in busy and states[x] in ("present",) and rng.random() < 0.25:
                acts.append(f"write {x}")
            else:
                acts.append(f"read {x}")
        row2.append(f"DEV-thread-{d} {{{'; '.join(acts)}}}")
    rows.append(row2)
    for i, r in enumerate(rows):
        lines.append(f"[Time {i}] " + "-" * 40)
        lines += r
    lines.append("expect notify-inside-lock   clean")
    lines.append("expect secondary-with-flush clean")
    return "\n".join(lines) + "\n"


def random_scenario(seed: int, **kw: Any) -> Scenario:
    """The parsed scenario for `seed` (its source is `<random:SEED>`)."""
    return parse(random_scenario_text(seed, **kw), f"<random:{seed}>")
