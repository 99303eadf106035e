"""Walk forward progress under a continuous invalidation stream (cocotb module).

The ATC poisons a walk that an overlapping invalidation races and sends its
Translation Request again (rule 1). A host that keeps invalidating the page a
thread is walking could restart that walk for ever. The walker bounds it
(rtl/ptw.sv, WalkMaxRetries): after WalkMaxRetries raced walks of one
Translation Request ID, the next one runs while inv.sv accepts no new
Invalidate Request, so it completes unraced.

walk_under_inval_stream: the host remaps the page of thread 0 and invalidates
it every STREAM_PERIOD cycles, shorter than one walk, so every walk attempt
is raced. The command must be answered while the stream runs, within
(WalkMaxRetries + 1) walk attempts, and with a translation that no accepted
invalidation had removed when the walker delivered it (its completion
cycle). The stream must go on afterwards: every invalidation is accepted
and completed, none inside a hold, and each hold lasts at most one clean
walk. With WalkMaxRetries = 0 (no hold) the walk starves: the same test fails,
the known-bad case (tests/test_rtl_walk_progress.py).

all_threads_under_inval_stream: every thread misses on a page of the same
1 GiB region (each overlapped by every invalidation, the ATC's poison
region) with fewer walk slots than threads, so an armed request may wait for
a slot while the hold is up; all commands are answered.

Numbers (walk latency alone and under the stream, attempts, hold cycles) are
logged with the prefix `progress:`; WALK_PROGRESS_LATENCY=<n> runs them at
AXI latency n instead of 3 (a measurement, not a test setting).
"""
from __future__ import annotations

import os
import random
from dataclasses import dataclass, field

import cocotb

from model.pagetable import SIZE_1G, make_pte
from tb.atsbench import TB, Host, Response, rtl_params
from tb.axi_mem import FastSig

STREAM_PERIOD = 6       # cycles between Invalidate Requests (a walk takes ~40 at the latency below)
_LAT = int(os.environ.get("WALK_PROGRESS_LATENCY", "3"))
AXI = dict(latency=(_LAT, _LAT))
WAIT = 3000             # cycles the command may take under the stream before it counts as starved


@dataclass
class Monitor:
    """Per-cycle samples of the walker interface and the hold (top-level wires of ats_dev_top)."""
    tb: TB
    xreq: list[tuple[int, int]] = field(default_factory=list)   # (handshake cycle, id)
    xcpl: list[tuple[int, int]] = field(default_factory=list)   # (handshake cycle, id)
    hold: list[int] = field(default_factory=list)               # cycles with the hold up

    def start(self) -> None:
        d = self.tb.rtl  # ats_dev_top (inside the block-test top)
        names = ("xreq_valid", "xreq_ready", "xreq_id", "xcpl_valid", "xcpl_ready", "xcpl_id", "walk_hold")
        missing = [n for n in names if getattr(d, n, None) is None]
        assert not missing, f"ats_dev_top wires not visible to the test: {missing}"
        self.s = {n: FastSig(getattr(d, n)) for n in names}
        cocotb.start_soon(self._run())

    async def _run(self) -> None:
        cc = self.tb.cc
        k = await cc.sync()
        s = self.s
        while True:
            # values at the quiet point of cycle k are sampled by edge k + 1: that is the handshake cycle
            if s["xreq_valid"].get() and s["xreq_ready"].get():
                self.xreq.append((k + 1, s["xreq_id"].get()))
            if s["xcpl_valid"].get() and s["xcpl_ready"].get():
                self.xcpl.append((k + 1, s["xcpl_id"].get()))
            if s["walk_hold"].get():
                self.hold.append(k + 1)
            k += 1
            await cc.qp(k)

    def holds(self) -> list[tuple[int, int]]:
        """Hold intervals [first, last] (cycles)."""
        out: list[tuple[int, int]] = []
        for c in self.hold:
            if out and out[-1][1] == c - 1:
                out[-1] = (out[-1][0], c)
            else:
                out.append((c, c))
        return out


@dataclass
class Mapping:
    pa: int
    data: int
    replaced_at: int | None = None   # application cycle of the invalidation that removed it


class Stream:
    """Remaps `va` to a fresh page and invalidates it every `period` cycles until stopped."""

    def __init__(self, tb: TB, host: Host, sp, pasid: int, va: int, period: int, rng: random.Random):
        self.tb, self.host, self.sp, self.pasid, self.va, self.period = tb, host, sp, pasid, va, period
        self.rng = rng
        self.maps: list[Mapping] = []
        self.handles: list = []
        self.running = True
        self.remap()

    def remap(self) -> Mapping:
        pa = self.host.data_pa()
        m = Mapping(pa, self.rng.getrandbits(64))
        self.host.mem.write64(pa + (self.va & 0xFFF), m.data)
        self.sp.set_leaf(self.va, make_pte(pa))
        self.maps.append(m)
        return m

    async def run(self) -> None:
        t = self.tb.now + 2
        while self.running:
            old = self.maps[-1]
            self.remap()   # the PTE changes first, then the host invalidates (the old one is gone once accepted)
            h = await self.tb.inv.request(self.va >> 12, False, pasid=self.pasid, at=t)
            old.replaced_at = h.accept + 1   # inv.sv applies a request the cycle after its acceptance
            self.handles.append(h)
            t = max(h.accept + self.period, self.tb.now + 1)

    def legal_at(self, cycle: int) -> list[Mapping]:
        """Mappings no applied invalidation had removed by `cycle` (included)."""
        return [m for m in self.maps if m.replaced_at is None or m.replaced_at > cycle]


async def setup(dut, name: str):
    rng = random.Random(cocotb.RANDOM_SEED)
    host = Host(pa_bits=rtl_params()["PaWidth"])
    pasid = 0x2C
    sp = host.new_space(pasid)
    tb = TB(dut, host.mem, test_name=name, axi=AXI)
    await tb.start(pasid_tbl_base=host.pasid_tbl_base, budget=40_000)
    mon = Monitor(tb)
    mon.start()
    return rng, host, pasid, sp, tb, mon


async def clean_walk_latency(tb: TB, host: Host, sp, pasid: int, va: int) -> int:
    """Latency of one cold command (full walk, no invalidation) on thread 1."""
    sp.map(va, host.data_pa())
    c0 = tb.now
    r = await tb.read(1, pasid, va)
    if r.fault or r.atc_hit:
        tb.fail(f"warm-up walk {r}")
    return r.cycle - r.cmd.issue if r.cmd and r.cmd.issue is not None else r.cycle - c0


async def wait_or_starve(tb: TB, task, what: str, attempts) -> Response:
    t_end = tb.now + WAIT
    while not task.done():
        if tb.now >= t_end:
            tb.fail(f"walk starved: {what} not answered within {WAIT} cycles of a continuous invalidation "
                    f"stream ({attempts()} Translation Requests so far)")
        await tb.cycles(16)
    return task.result()


def check_holds(tb: TB, mon: Monitor, stream: Stream, bound: int) -> tuple[int, int]:
    """No invalidation accepted inside a hold; each hold at most `bound` cycles. Returns (holds, longest)."""
    holds = mon.holds()
    for h in stream.handles:
        for a, b in holds:
            if a <= h.accept <= b:
                tb.fail(f"invalidation ITag {h.req.itag} accepted @{h.accept} inside the hold [{a}, {b}]")
    longest = max((b - a + 1 for a, b in holds), default=0)
    if longest > bound:
        tb.fail(f"a hold lasted {longest} cycles, more than one clean walk ({bound}): {holds}")
    return len(holds), longest


@cocotb.test()
async def walk_under_inval_stream(dut):
    """One thread's walk under a remap + invalidate stream of its own page completes."""
    await walk_under_stream(dut, "walk_under_inval_stream", STREAM_PERIOD)


@cocotb.test()
async def walk_under_dense_stream(dut):
    """The same with an Invalidate Request offered every cycle: one is accepted in the cycle before the
    hold rises and applied in its first cycle, so the armed walk must be taken a cycle later
    (ptw.sv arm_wait, walk_armed_unraced)."""
    await walk_under_stream(dut, "walk_under_dense_stream", 1)


async def walk_under_stream(dut, name: str, period: int) -> None:
    rng, host, pasid, sp, tb, mon = await setup(dut, name)
    retries = rtl_params().get("WalkMaxRetries", 4)
    va = 0x4A_1230_0000 + rng.randrange(512) * 0x1000
    lat0 = clean_walk = await clean_walk_latency(tb, host, sp, pasid, va + 0x20_0000)
    stream = Stream(tb, host, sp, pasid, va, period, rng)
    st = cocotb.start_soon(stream.run())
    await tb.cycles(3 * STREAM_PERIOD)
    c0 = tb.now
    rd = cocotb.start_soon(tb.read(0, pasid, va))

    def attempts() -> int:
        return sum(1 for c, i in mon.xreq if i == 0 and c >= c0)

    r = await wait_or_starve(tb, rd, f"thread 0 read of {va:#x}", attempts)
    await tb.cycles(8 * STREAM_PERIOD)   # the stream goes on after the walk
    stream.running = False
    await st
    for h in stream.handles:
        await h.wait()
    n_att = attempts()
    fills = [c for c, i in mon.xcpl if i == 0 and c0 <= c <= r.cycle]
    if not fills:
        tb.fail(f"no Translation Completion for thread 0 before its response {r}")
    fill = fills[-1]
    legal = stream.legal_at(fill)
    got = [m for m in stream.maps if m.pa == r.pa]
    where = (f"response {r} after {n_att} Translation Requests; walker completion @{fill}; "
             f"legal pa then {[hex(m.pa) for m in legal]}")
    if r.fault or not got or got[0] not in legal:
        tb.fail(f"{where}: the translation used was removed by an invalidation applied no later than the "
                "walker's completion")
    if r.rdata != got[0].data:
        tb.fail(f"{where}: read data {r.rdata:#x}, expected {got[0].data:#x}")
    if n_att > retries + 1:
        tb.fail(f"{where}: more than WalkMaxRetries + 1 = {retries + 1} walks for one command")
    accepted_after = [h for h in stream.handles if h.accept > r.cycle]
    if not accepted_after:
        tb.fail("no invalidation accepted after the walk: the hold was not released")
    n_holds, longest = check_holds(tb, mon, stream, clean_walk)
    if period == 1 and not any(h.accept + 1 == a for h in stream.handles for a, _ in mon.holds()):
        tb.fail(f"no invalidation was applied in a hold's first cycle (holds {mon.holds()}): the dense "
                "stream did not exercise the case")
    r2 = await tb.read(2, pasid, va)
    if r2.fault or r2.pa != stream.maps[-1].pa:
        tb.fail(f"after the stream: {r2}, expected the last mapping {stream.maps[-1].pa:#x}")
    lat = r.cycle - r.cmd.issue
    tb.log("progress: WalkMaxRetries=%d period=%d: clean walk %d cycles; under the stream %d cycles, "
           "%d Translation Requests, %d invalidations accepted (%d after the response), %d hold(s), longest %d "
           "cycles", retries, period, lat0, lat, n_att, len(stream.handles), len(accepted_after), n_holds,
           longest)
    tb.check_protocol()


@cocotb.test()
async def all_threads_under_inval_stream(dut):
    """Every thread walks a page of the raced 1 GiB region (more threads than walk slots); all complete."""
    rng, host, pasid, sp, tb, mon = await setup(dut, "all_threads_under_inval_stream")
    base = 0x7_0000_0000 + rng.randrange(4) * SIZE_1G
    va0 = base + rng.randrange(512) * 0x1000
    clean_walk = await clean_walk_latency(tb, host, sp, pasid, base + 0x1000_0000)
    vas = [base + 0x20_0000 * (t + 1) + rng.randrange(512) * 0x1000 for t in range(1, tb.num_threads)]
    pas = []
    for v in vas:
        pas.append(host.data_pa())
        sp.map(v, pas[-1])
    stream = Stream(tb, host, sp, pasid, va0, STREAM_PERIOD, rng)
    st = cocotb.start_soon(stream.run())
    await tb.cycles(3 * STREAM_PERIOD)
    c0 = tb.now
    tasks = [cocotb.start_soon(tb.read(t, pasid, v)) for t, v in enumerate(vas, start=1)]

    def attempts() -> int:
        return sum(1 for c, _ in mon.xreq if c >= c0)

    rs = [await wait_or_starve(tb, t, f"thread {i + 1}", attempts) for i, t in enumerate(tasks)]
    stream.running = False
    await st
    for h in stream.handles:
        await h.wait()
    for r, v, pa in zip(rs, vas, pas):
        if r.fault or r.pa != pa:
            tb.fail(f"thread {r.thread} va {v:#x}: {r}, expected pa {pa:#x}")
    n_holds, longest = check_holds(tb, mon, stream, 2 * clean_walk)
    tb.log("progress: %d threads, %d walk slots: all answered after %d cycles, %d Translation Requests, "
           "%d hold(s), longest %d cycles", len(vas), rtl_params()["NumWalks"], max(r.cycle for r in rs) - c0,
           attempts(), n_holds, longest)
    tb.check_protocol()
