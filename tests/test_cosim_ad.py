"""Accessed/dirty bits end to end: a scenario on the RTL and on the reference device.

MADV_FREE leaves the PTE clean and old; the device reads (its walk sets A
through the exclusive read/write pair), then writes (the clean translation it
cached is not writable, so it walks again and sets D), then reclaim finds the
PTE dirty and keeps the page, so the device's write is still there when the
device reads it back. The RTL and the reference device write the same PTE
values at the same steps and reach the same verdicts.
"""
from __future__ import annotations

import pytest

from model.matrix import POLICIES
from model.pagetable import A, D
from model.scenario import parse
from model.scheduler import run_scenario_sync
from model.trace import MemAccess, OpStep
from tb.rtldev import run_scenario_rtl

SCN = """\
threads CPU-thread-0 DEV-thread-0
vma 0x10000000 0x10010000 anon rw
page A 0x10000000 present
[Time 0]
CPU-thread-0 {madv_free A 0x1000}
[Time 1]
DEV-thread-0 {read A}
[Time 2]
DEV-thread-0 {write A}
[Time 3]
CPU-thread-0 {try_to_unmap A}
[Time 4]
DEV-thread-0 {read A}
"""


def _walk_writes(res) -> list[int]:
    return [e.value for e in res.trace.of(MemAccess) if e.source == "walk" and e.write and not e.error]


@pytest.mark.parametrize("policy", POLICIES)
def test_device_walks_set_a_then_d_and_reclaim_keeps_the_dirty_page(policy):
    sc = parse(SCN, "<madv_free_device_dirty>")
    ref = run_scenario_sync(sc, policy, 0)
    rtl = run_scenario_rtl(sc, policy, 0)
    for name, res in (("reference device", ref), ("RTL", rtl)):
        ww = _walk_writes(res)
        assert len(ww) == 2 and ww[0] & (A | D) == A and ww[1] == ww[0] | D, \
            f"{name}: walker writes {[hex(v) for v in ww]} (expected A by the read, then D by the write)"
        (_, rd1), (_, wr), (_, rd2) = res.responses
        assert rd1.ok and wr.ok and not wr.atc_hit, f"{name}: the write must walk again (clean read translation)"
        written = next(e.value for e in res.trace.of(MemAccess) if e.source == "dma" and e.write)
        assert rd2.ok and rd2.rdata == written, f"{name}: reclaim dropped the device's write ({rd2})"
        assert any(e.op == "try_to_unmap" and "restored" in e.detail for e in res.trace.of(OpStep)), \
            f"{name}: reclaim did not keep the dirty MADV_FREE page"
        assert not res.failures, f"{name}: {[str(v) for v in res.failures]}"
    assert _walk_writes(ref) == _walk_writes(rtl)
