"""Invalidation semantics (cocotb module).

inval_sizes: for every S-bit range size from 4 KiB to the whole 2^64 space,
in the lower and the upper canonical half, a PASID-specific, an all-PASID
(pasid_valid=0) and a global request. Before the request the ATC holds
translations inside and just outside the range, for the target PASID and for
another one; the host then changes the PTE of every translation the request
must drop (model.ats.InvalidateRequest.matches decides, not the RTL). After
the completion, a dropped translation must be walked again (atc_hit 0, walker
reads seen, the new PA), a surviving one must still hit (atc_hit 1, old PA,
no walker read).

itags_32_outstanding: a held DMA read keeps every completion back (rule 2)
while all 32 ITags are issued; inv_ready_o must then be low; releasing the
read lets exactly one completion per ITag out, each after the read's
response. A random phase follows: traffic on every thread and invalidations
as fast as ITags free up, each ITag completed exactly once.

inval_stress_remap: traffic on every thread while the host remaps or unmaps
random pages and invalidates them (4 KiB .. 2 MiB ranges, PASID-specific,
all-PASID, global); every response is checked against the page's mapping
history: a command accepted after an invalidation was accepted must not use
the translation it removed.
"""
from __future__ import annotations

import random

import cocotb

from model.ats import Fault, InvalidateRequest, encode_range, inv_range
from model.pagetable import is_canonical, make_pte
from tb.atsbench import TB, Host, rtl_params

TOP = 1 << 64
UPPER = 0xFFFF_8000_0000_0000


async def flush_all(tb: TB) -> None:
    """Invalidate everything (all PASIDs, whole space) and wait for the completion."""
    addr, s = encode_range(0, TOP)
    await tb.inv.invalidate(addr, s, pasid=None)


def range_and_pages(b: int, upper: bool) -> tuple[int, int, list[int], list[int]]:
    """Range [start, start+2^b) and 4K pages just inside and just outside it (canonical only)."""
    size = 1 << b
    if b <= 46:
        start = (UPPER + size) if upper else size
    elif b < 64:
        start = (TOP - size) if upper else 0
    else:
        start = 0
    inside = [start, start + size - 4096]
    outside = [start - 4096, start + size]
    if b >= 47:
        # the range covers a whole canonical half (or more): probe the other half
        inside = [max(start, UPPER) if upper else 0, TOP - 4096 if upper else (1 << 47) - 4096]
        outside = [0x1000, (1 << 47) - 4096] if upper else [UPPER, TOP - 4096]
        if b == 64:
            inside += outside
            outside = []
    inside = [v & (TOP - 1) for v in inside if is_canonical(v & (TOP - 1))]
    outside = [v & (TOP - 1) for v in outside if is_canonical(v & (TOP - 1))]
    return start & (TOP - 1), size, inside, outside


@cocotb.test()
async def inval_sizes(dut):
    """Every S-bit size 4 KiB .. 2^64, both halves, PASID-specific / all-PASID / global."""
    rng = random.Random(cocotb.RANDOM_SEED)
    params = rtl_params()
    host = Host(pa_bits=params["PaWidth"])
    pa_a, pa_b = rng.sample(range(1, 1 << 20), 2)
    sp_a = host.new_space(pa_a)
    sp_b = host.new_space(pa_b)
    tb = TB(dut, host.mem, test_name="inval_sizes", axi=dict(latency=(1, 6), stall_prob=0.1, reorder=True))
    await tb.start(pasid_tbl_base=host.pasid_tbl_base, budget=2_000_000)
    mapped: dict[tuple[int, int], int] = {}

    def ensure(pasid: int, sp, va: int) -> None:
        if (pasid, va) not in mapped:
            pa = host.data_pa()
            sp.map(va, pa)
            mapped[(pasid, va)] = pa

    rounds = 0
    for b in range(12, 65):
        for upper in (False, True):
            if b == 64 and upper:
                continue
            start, size, inside, outside = range_and_pages(b, upper)
            if b == 64:
                addr, s = encode_range(0, TOP)
            else:
                addr, s = encode_range(start, size)
            assert inv_range(addr, s) == (start, size if b < 64 else TOP), (b, upper)
            kinds = ["pasid", "all", "global"] if (b + upper) % 2 == 0 or b in (12, 13, 21, 30, 64) else ["pasid"]
            for kind in kinds:
                # warm set: target PASID inside + outside, other PASID one inside and one outside
                warm = [(pa_a, sp_a, va) for va in inside + outside]
                warm += [(pa_b, sp_b, va) for va in (inside[:1] + outside[-1:])]
                warm = list({(p, va): (p, sp, va) for p, sp, va in warm}.values())
                for pasid, sp, va in warm:
                    ensure(pasid, sp, va)
                await flush_all(tb)
                for t, (pasid, sp, va) in enumerate(warm):
                    r = await tb.read(t % tb.num_threads, pasid, va)
                    r2 = await tb.read(t % tb.num_threads, pasid, va)
                    exp = host.golden(pasid, va, False)
                    if r.fault or r.pa != exp.pa or r2.pa != exp.pa or not r2.atc_hit:
                        tb.fail(f"warm-up of pasid {pasid:#x} va {va:#x}: {r} then {r2}, expected pa {exp.pa:#x}"
                                " and a hit the second time")
                req = InvalidateRequest(itag=0, addr=addr, s=s, pasid=None if kind == "all" else pa_a,
                                        global_=kind == "global")
                drop = {(p, va): req.matches(p, va, 4096) for p, _, va in warm}
                # the host changes every translation the request must drop
                for (p, va), d in drop.items():
                    if d:
                        sp = sp_a if p == pa_a else sp_b
                        new = host.data_pa()
                        sp.set_leaf(va, make_pte(new))
                        mapped[(p, va)] = new
                h = await tb.inv.request(addr, s, pasid=req.pasid, global_=req.global_)
                await h.wait()
                for t, (pasid, sp, va) in enumerate(warm):
                    c0 = tb.now
                    r = await tb.read(t % tb.num_threads, pasid, va)
                    walks = tb.walk_reads(c0, r.cycle)
                    what = (f"b={b} {'upper' if upper else 'lower'} range [{start:#x}, +{size:#x}) {kind} "
                            f"(addr {addr:#x} s={int(s)}): pasid {pasid:#x} va {va:#x}: {r}")
                    exp_pa = mapped[(pasid, va)]
                    if r.fault or r.pa != exp_pa:
                        tb.fail(f"{what}: expected pa {exp_pa:#x}")
                    if drop[(pasid, va)]:
                        if r.atc_hit or not walks:
                            tb.fail(f"{what}: must be dropped, but hit={int(r.atc_hit)} walker reads={len(walks)}")
                    elif not r.atc_hit or walks:
                        tb.fail(f"{what}: outside the request, must survive (hit=1, no walk); "
                                f"hit={int(r.atc_hit)} walker reads={[hex(a.addr) for a in walks]}")
                rounds += 1
    tb.check_protocol()
    tb.log("%d invalidation rounds checked in %d cycles", rounds, tb.now)


@cocotb.test()
async def itags_32_outstanding(dut):
    """All 32 ITags outstanding at once (drain held by a DMA read), each completed exactly once."""
    rng = random.Random(cocotb.RANDOM_SEED)
    params = rtl_params()
    host = Host(pa_bits=params["PaWidth"])
    pasid = 7
    sp = host.new_space(pasid)
    vas = [0x4000_0000 + i * 0x1000 for i in range(16)]
    for va in vas:
        sp.map(va, host.data_pa())
    tb = TB(dut, host.mem, test_name="itags_32_outstanding", axi=dict(latency=(1, 8), stall_prob=0.1, reorder=True))
    await tb.start(pasid_tbl_base=host.pasid_tbl_base, budget=400_000)

    r = await tb.read(0, pasid, vas[0])
    hold = tb.axi.hold(lambda a: a.source == "dma")
    rd = cocotb.start_soon(tb.read(0, pasid, vas[0]))
    await hold.wait()
    handles = []
    for i in range(32):
        size = 4096 << rng.randrange(4)
        addr, s = encode_range(rng.randrange(1 << 35) * size, size)
        handles.append(await tb.inv.request(addr, s, pasid=rng.choice([None, pasid, 99])))
    assert sorted(h.req.itag for h in handles) == list(range(32))
    await tb.cycles(2)
    if tb.inv.s["ready_o"].get() != 0:
        tb.fail("inv_ready_o high with 32 requests outstanding")
    await tb.cycles(100)
    if tb.invc.log:
        tb.fail(f"completions {tb.invc.log} left while the DMA read accepted before them is held")
    if tb.inv.s["ready_o"].get() != 0:
        tb.fail("inv_ready_o high with 32 requests outstanding")
    hold.release()
    rsp = await rd
    for h in handles:
        await h.wait()
    if rsp.fault or rsp.pa != r.pa:
        tb.fail(f"held read answered {rsp}")
    done = [itag for _, itag in tb.invc.log]
    if sorted(done) != list(range(32)):
        tb.fail(f"completions {done}: expected each of the 32 ITags once")
    # completions leave in request order (FIFO) - not required by the contract, only logged
    axi_done = hold.matched[0].done
    tb.log("first batch: held read's AXI response @%d, completions @%d..%d, order %s", axi_done,
           min(h.complete for h in handles), max(h.complete for h in handles),
           "FIFO" if done == [h.req.itag for h in handles] else "reordered")
    if any(h.complete <= axi_done for h in handles):
        tb.fail("a completion left before the held DMA read's AXI response")

    # random phase: traffic on every thread, invalidations in bursts (as fast as
    # ITags free up) and gaps. Back-to-back overlapping requests poison every
    # walk in flight, so the traffic makes progress in the gaps.
    inv_stop = False
    issued = []

    async def traffic(t: int) -> None:
        trng = random.Random(rng.getrandbits(32))
        for _ in range(150):
            va = trng.choice(vas) + trng.randrange(512) * 8
            write = trng.random() < 0.3
            r = await tb.threads[t].access(write, pasid, va, trng.getrandbits(64))
            exp = host.golden(pasid, va, write)
            if r.fault or r.pa != exp.pa:
                tb.fail(f"traffic: {r}, expected pa {exp.pa:#x}")

    async def invals() -> None:
        i = 0
        while not inv_stop:
            if i % 20 >= 12:
                await tb.cycles(rng.randrange(10, 120))
            i += 1
            va = rng.choice(vas)
            size = 4096 << rng.randrange(3)
            addr, s = encode_range(va & ~(size - 1), size)
            issued.append(await tb.inv.request(addr, s, pasid=rng.choice([None, pasid])))

    inv_task = cocotb.start_soon(invals())
    tasks = [cocotb.start_soon(traffic(t)) for t in range(tb.num_threads)]
    for t in tasks:
        await t
    inv_stop = True
    await inv_task
    for h in issued:
        await h.wait()
    await tb.drain()
    n_req = 32 + len(issued)
    if len(tb.invc.log) != n_req:
        tb.fail(f"{n_req} requests, {len(tb.invc.log)} completions")
    tb.check_protocol()
    n_rsp = len(tb.rsp.log)
    if len(issued) < 60 or tb.drain_check.checked < 64:
        tb.fail(f"random phase too weak: {len(issued)} requests, {n_rsp} responses, "
                f"{tb.drain_check.checked} drain checks")
    tb.log("random phase: %d invalidations, all completed once; %d device responses in total; drain checks %d",
           len(issued), n_rsp, tb.drain_check.checked)


@cocotb.test()
async def inval_stress_remap(dut):
    """Random remaps/unmaps with invalidations under traffic: no stale translation after acceptance.

    The host changes a PTE, then sends an invalidation covering it (4 KiB up to
    2 MiB, PASID-specific, all-PASID or global). A command accepted after the
    invalidation was accepted must not use the old translation (its lookup
    comes after the drop, and any walk in flight is poisoned); commands accepted
    before may. Unmapped pages must fault NOT_PRESENT once the rule applies.
    """
    rng = random.Random(cocotb.RANDOM_SEED)
    params = rtl_params()
    host = Host(pa_bits=params["PaWidth"])
    pasids = [0x101, 0x202]
    spaces = {p: host.new_space(p) for p in pasids}
    base = 0x5000_0000_0000
    pages = [(p, base + i * 0x1000 + (i // 4) * 0x20_0000) for p in pasids for i in range(8)]
    recent: list[tuple[int, int]] = []
    # history per page: list of [pa or None, forbidden for commands accepted after this cycle or None]
    hist: dict[tuple[int, int], list] = {}
    for p, va in pages:
        pa = host.data_pa()
        spaces[p].map(va, pa)
        hist[(p, va)] = [[pa, None]]
    tb = TB(dut, host.mem, test_name="inval_stress_remap",
            axi=dict(latency=(1, 10), stall_prob=0.1, reorder=True), rsp_stall_prob=0.05)
    await tb.start(pasid_tbl_base=host.pasid_tbl_base, budget=400_000)
    stop = False
    inflight: list = [None] * tb.num_threads
    checked = [0, 0]   # responses checked, responses that used an older translation legitimately

    async def traffic(t: int) -> None:
        trng = random.Random(rng.getrandbits(32))
        while not stop:
            # half of the accesses go to pages remapped lately: races with the invalidation
            p, va = trng.choice(recent) if recent and trng.random() < 0.5 else trng.choice(pages)
            write = trng.random() < 0.3
            off = trng.randrange(512) * 8
            inflight[t] = (p, va)
            r = await tb.threads[t].access(write, p, va + off, trng.getrandbits(64))
            inflight[t] = None
            issue = r.cmd.issue
            allowed = [pa for pa, until in hist[(p, va)] if until is None or issue <= until]
            got = None if r.fault else r.pa - off
            if r.fault and r.cause != Fault.NOT_PRESENT:
                tb.fail(f"{r}: unexpected fault cause")
            if got not in allowed:
                tb.fail(f"{r} (accepted @{issue}): translation {got if got is None else hex(got)} not allowed; "
                        f"history of pasid {p:#x} va {va:#x}: "
                        f"{[(hex(a) if a is not None else None, u) for a, u in hist[(p, va)]]}")
            checked[0] += 1
            if got != hist[(p, va)][-1][0]:
                checked[1] += 1

    tasks = [cocotb.start_soon(traffic(t)) for t in range(tb.num_threads)]
    n_inv = 0
    for _ in range(120):
        await tb.cycles(rng.randrange(10, 150))
        # mostly a page some thread is accessing right now: its walk races the change
        busy = [x for x in inflight if x is not None]
        p, va = rng.choice(busy) if busy and rng.random() < 0.7 else rng.choice(pages)
        recent[:] = ([(p, va)] + recent)[:3]
        h_ = hist[(p, va)]
        new = None if rng.random() < 0.2 and h_[-1][0] is not None else host.data_pa()
        spaces[p].set_leaf(va, make_pte(new) if new is not None else 0)
        size = 4096 << rng.choice([0, 0, 1, 3, 9])
        addr, s = encode_range(va & ~(size - 1), size)
        kind = rng.choice(["pasid", "pasid", "all", "global"])
        old = h_[-1]
        h_.append([new, None])
        h = await tb.inv.request(addr, s, pasid=None if kind == "all" else p, global_=kind == "global")
        old[1] = h.accept
        n_inv += 1
    stop = True
    for t in tasks:
        await t
    await tb.drain()
    tb.check_protocol()
    if checked[0] < 200:
        tb.fail(f"only {checked[0]} responses checked")
    tb.log("%d invalidations with remaps, %d responses checked, %d used a translation in its stale window",
           n_inv, checked[0], checked[1])
