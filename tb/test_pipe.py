"""Pipelined ATC lookup hazards (cocotb module), one named test each.

The ATC compares in the lookup cycle (L0) and the thread takes the registered
result one cycle later (L1). An Invalidate Request is applied (inv.sv) the
cycle after its acceptance. An invalidation applied in L0 that drops the
entry read kills the result (the thread looks up again); one applied in L1
finds the translation held by the thread, so its completion waits for the
access (rule 2). A lookup in the acceptance cycle is therefore one before the
invalidation.

pipe_lookup_vs_inv: a cached page is remapped by the host; a read hits it
while an invalidation of the page is accepted at every offset from two cycles
before the lookup to three after. Applied no later than the lookup (L0): the
read must get the new page. Later: the old page is allowed, and then the
Invalidate Completion must leave after that access's AXI response.

pipe_fill_vs_inv: thread 0's walk fills the ATC; thread 1 reads the same page
so that its lookup lands around the fill, while an invalidation of the page is
accepted at offsets around the fill. The invalidation is accepted after the
walk read the PTE, so the walk's result is allowed for thread 0 only if the
completion came before the invalidation was applied; thread 1 must get the
new page whenever its lookup is not earlier than the application, and no
later access may see the old page.

pipe_dma_vs_inv: a read hits a cached page (the host has remapped it) and
its DMA access starts while an invalidation of the page is accepted around
the access's AR handshake; then, with the access's R held back, around its R
handshake. Whenever the read used the old page, the Invalidate Completion
must leave after the access's R (rule 2), and a later access must see the new
page (rule 1).

The lookup and application cycles are read from the top-level lkp_valid /
xcpl_valid / ap_valid nets; each test fails if the application did not follow
the acceptance by one cycle, or if its sweep missed the same-cycle and
adjacent-cycle cases (of the application, and of the acceptance).
With a set-associative ATC (AtcWays > 0) the compare of a 4 KiB entry runs in
L1 on the valid bits as the L0 invalidation (its application) left them: the
same-cycle case is a miss rather than a kill.
"""
from __future__ import annotations

import random

import cocotb

from model.pagetable import make_pte
from tb.atsbench import TB, Host, rtl_params


def new_host() -> Host:
    return Host(pa_bits=rtl_params()["PaWidth"])


@cocotb.test()
async def pipe_lookup_vs_inv(dut):
    """Invalidation of a cached page at every offset around a hitting lookup."""
    rng = random.Random(cocotb.RANDOM_SEED)
    host = new_host()
    pasid = 0x47
    sp = host.new_space(pasid)
    tb = TB(dut, host.mem, test_name="pipe_lookup_vs_inv", axi=dict(latency=(1, 1)))
    await tb.start(pasid_tbl_base=host.pasid_tbl_base, budget=100_000)
    lkp = tb.high_cycles(tb.rtl.lkp_valid)
    aps = tb.high_cycles(tb.rtl.ap_valid)
    seen: set[int] = set()
    seen_acc: set[int] = set()
    killed = same_miss = 0
    for k in range(-2, 4):
        for rep in range(3):
            va = 0x4400_0000_0000 + (k + 2) * 0x40_0000 + rep * 0x20_0000 + rng.randrange(512) * 0x1000
            pa_old, pa_new = host.data_pa(), host.data_pa()
            sp.map(va, pa_old)
            r0 = await tb.read(0, pasid, va)
            r1 = await tb.read(0, pasid, va)
            if r0.fault or r0.pa != pa_old or not r1.atc_hit:
                tb.fail(f"warm-up of va {va:#x}: {r0} then {r1}")
            sp.set_leaf(va, make_pte(pa_new))
            base = await tb.cycles(2)
            n0 = len(lkp)
            # command presented from base+1 (handshake base+2), lookup in the next cycle, so that an
            # invalidation accepted at the earliest (base+1) is applied in the cycle before the lookup
            t_lkp = base + 3

            async def read_later(base=base, va=va):
                await tb.cc.qp(base + 1)
                return await tb.read(0, pasid, va)

            rd = cocotb.start_soon(read_later())
            h = await tb.inv.request(va >> 12, False, pasid=pasid, at=t_lkp + k)
            r = await rd
            await h.wait()
            lk = lkp[n0] if len(lkp) > n0 else None
            if lk is None:
                tb.fail(f"k={k}: no lookup seen")
            ap = next((c for c in aps if c >= h.accept), None)
            if ap != h.accept + 1:
                tb.fail(f"k={k}: invalidation accepted @{h.accept}, applied @{ap}: expected the next cycle")
            off = ap - lk
            seen.add(off)
            seen_acc.add(h.accept - lk)
            killed += len(lkp) - n0 - 1
            same_miss += off == 0 and not r.atc_hit
            where = f"k={k}: lookup @{lk}, invalidation accepted @{h.accept}, applied @{ap} (offset {off}): {r}"
            if r.fault or r.pa not in (pa_old, pa_new):
                tb.fail(f"{where}: expected pa {pa_new:#x} (or {pa_old:#x} if used before the invalidation)")
            if off <= 0 and r.pa != pa_new:
                tb.fail(f"{where}: invalidation applied no later than the compare cycle, the old translation "
                        f"{pa_old:#x} must not be used")
            if r.pa == pa_old and (r.mem is None or r.mem.done is None or r.mem.done >= h.complete):
                tb.fail(f"{where}: old translation used, but the Invalidate Completion @{h.complete} did not "
                        f"wait for its access ({r.mem})")
            r2 = await tb.read(1, pasid, va)
            if r2.fault or r2.pa != pa_new:
                tb.fail(f"{where}; later access {r2}: the old translation survived the invalidation")
            tb.log("%s -> ok", where)
            await tb.cycles(3)
    for need in (-1, 0, 1):
        if need not in seen:
            tb.fail(f"the sweep never applied the invalidation at offset {need} from the lookup (seen {sorted(seen)})")
        if need not in seen_acc:
            tb.fail(f"the sweep never accepted the invalidation at offset {need} from the lookup "
                    f"(seen {sorted(seen_acc)})")
    if rtl_params().get("AtcWays"):
        # set-associative: the L1 compare already sees the entry dropped in L0, a miss (no kill)
        if same_miss == 0:
            tb.fail("no lookup in its invalidation's cycle missed: the same-cycle case did not exercise the pipeline")
    elif killed == 0:
        tb.fail("no lookup was killed and repeated: the same-cycle case did not exercise the pipeline")
    tb.log("offsets seen %s, lookups repeated after a kill: %d", sorted(seen), killed)
    tb.check_protocol()


@cocotb.test()
async def pipe_fill_vs_inv(dut):
    """A fill, a lookup of the filled page by another thread and an invalidation in adjacent cycles."""
    rng = random.Random(cocotb.RANDOM_SEED)
    host = new_host()
    pasid = 0x48
    sp = host.new_space(pasid)
    tb = TB(dut, host.mem, test_name="pipe_fill_vs_inv", axi=dict(latency=(1, 1)))
    await tb.start(pasid_tbl_base=host.pasid_tbl_base, budget=200_000)
    xcpl = tb.high_cycles(tb.rtl.xcpl_valid)
    lkp = tb.high_cycles(tb.rtl.lkp_valid)
    aps = tb.high_cycles(tb.rtl.ap_valid)
    seen: set[tuple[int, int]] = set()
    seen_acc: set[int] = set()
    for k in range(-2, 3):          # invalidation vs fill
        for j in range(0, 3):       # thread 1's command vs the fill
            va = 0x4800_0000_0000 + ((k + 2) * 3 + j) * 0x20_0000 + rng.randrange(512) * 0x1000
            pa_old, pa_new = host.data_pa(), host.data_pa()
            sp.map(va, pa_old)
            old = host.golden(pasid, va, False)
            hold = tb.axi.hold(lambda a, e=old.reads[-1]: a.source == "walk" and a.addr == e)
            rd0 = cocotb.start_soon(tb.read(0, pasid, va))
            await hold.wait()
            sp.set_leaf(va, make_pte(pa_new))
            base = await tb.cycles(2)
            n_x = len(xcpl)
            t_rel = base + 4      # the held R beat's handshake; completion (fill) shortly after

            async def release(hold=hold, t_rel=t_rel):
                await tb.cc.qp(t_rel - 1)
                hold.release()

            rel = cocotb.start_soon(release())
            t_fill = t_rel + 1
            n_l = len(lkp)

            async def second(t_cmd=t_fill - 2 + j):
                await tb.cc.qp(t_cmd - 1)
                return await tb.read(1, pasid, va)

            rd1 = cocotb.start_soon(second())
            h = await tb.inv.request(va >> 12, False, pasid=pasid, at=t_fill + k)
            await rel
            r0, r1 = await rd0, await rd1
            await h.wait()
            fill = xcpl[n_x] if len(xcpl) > n_x else None
            t1_lkps = [c for c in lkp[n_l:] if c < r1.cycle]
            lk1 = t1_lkps[0] if t1_lkps else None
            ap = next((c for c in aps if c >= h.accept), None)
            where = (f"k={k} j={j}: fill @{fill}, thread 1 lookup(s) {t1_lkps}, invalidation accepted "
                     f"@{h.accept}, applied @{ap}: t0 {r0}; t1 {r1}")
            if fill is None or lk1 is None:
                tb.fail(f"{where}: fill or lookup not seen")
            if ap != h.accept + 1:
                tb.fail(f"{where}: expected the application the cycle after the acceptance")
            seen.add((ap - fill, lk1 - fill))
            seen_acc.add(h.accept - fill)
            for r in (r0, r1):
                if r.fault or r.pa not in (pa_old, pa_new):
                    tb.fail(f"{where}: expected pa {pa_new:#x} (or {pa_old:#x})")
            if ap <= fill and r0.pa != pa_new:
                tb.fail(f"{where}: invalidation applied no later than the completion, the walk must be poisoned")
            if ap <= lk1 and r1.pa != pa_new:
                tb.fail(f"{where}: thread 1 looked up no earlier than the application, it must get the new page")
            for r in (r0, r1):
                if r.pa == pa_old and (r.mem is None or r.mem.done is None or r.mem.done >= h.complete):
                    tb.fail(f"{where}: old translation used by t{r.thread}, but the completion @{h.complete} did "
                            f"not wait for its access")
            r2 = await tb.read(2 % tb.num_threads, pasid, va)
            if r2.fault or r2.pa != pa_new:
                tb.fail(f"{where}; later access {r2}: the old translation was cached after the invalidation")
            tb.log("%s -> ok", where)
            await tb.cycles(5)
    inv_offs = {a for a, _ in seen}
    lkp_offs = {b for _, b in seen}
    for need in (-1, 0, 1):
        if need not in inv_offs:
            tb.fail(f"the invalidation was never applied at offset {need} from the fill (seen {sorted(seen)})")
        if need not in seen_acc:
            tb.fail(f"the invalidation was never accepted at offset {need} from the fill (seen {sorted(seen_acc)})")
    if not lkp_offs & {0, 1}:
        tb.fail(f"thread 1's lookup never landed in or right after the fill cycle (seen {sorted(seen)})")
    tb.log("(invalidation, lookup) offsets from the fill: %s", sorted(seen))
    tb.check_protocol()


@cocotb.test()
async def pipe_dma_vs_inv(dut):
    """An invalidation accepted around a DMA access's AR handshake, then around its R handshake."""
    rng = random.Random(cocotb.RANDOM_SEED)
    host = new_host()
    pasid = 0x49
    sp = host.new_space(pasid)
    tb = TB(dut, host.mem, test_name="pipe_dma_vs_inv", axi=dict(latency=(1, 1)))
    await tb.start(pasid_tbl_base=host.pasid_tbl_base, budget=200_000)
    aps = tb.high_cycles(tb.rtl.ap_valid)
    seen_ar: set[int] = set()
    seen_r: set[int] = set()
    n = 0

    async def one(k: int, hold_r: bool) -> None:
        nonlocal n
        n += 1
        va = 0x4c00_0000_0000 + n * 0x20_0000 + rng.randrange(512) * 0x1000
        pa_old, pa_new = host.data_pa(), host.data_pa()
        sp.map(va, pa_old)
        r0 = await tb.read(0, pasid, va)
        r1 = await tb.read(0, pasid, va)
        if r0.fault or r0.pa != pa_old or not r1.atc_hit:
            tb.fail(f"warm-up of va {va:#x}: {r0} then {r1}")
        sp.set_leaf(va, make_pte(pa_new))
        hold = tb.axi.hold(lambda a: a.source == "dma" and a.addr >> 12 == pa_old >> 12) if hold_r else None
        base = await tb.cycles(2)
        rd = cocotb.start_soon(tb.read(0, pasid, va))
        if hold is not None:
            await hold.wait()
            base = await tb.cycles(2)
            t_rel = base + 4          # the held R beat's handshake

            async def release(hold=hold, t_rel=t_rel):
                await tb.cc.qp(t_rel - 1)
                hold.release()

            rel = cocotb.start_soon(release())
            h = await tb.inv.request(va >> 12, False, pasid=pasid, at=t_rel + k)
            await rel
        else:
            # command handshake base+1, lookup base+2, result base+3, AR a few cycles later
            h = await tb.inv.request(va >> 12, False, pasid=pasid, at=base + 2 + k)
        r = await rd
        await h.wait()
        ap = next((c for c in aps if c >= h.accept), None)
        where = f"k={k} R held={hold_r}: invalidation accepted @{h.accept}, applied @{ap}, completed @{h.complete}: {r}"
        if ap != h.accept + 1:
            tb.fail(f"{where}: expected the application the cycle after the acceptance")
        if r.fault or r.pa not in (pa_old, pa_new) or r.mem is None or r.mem.done is None:
            tb.fail(f"{where}: expected pa {pa_new:#x} (or {pa_old:#x}) and its access")
        if r.pa == pa_old:
            (seen_r if hold_r else seen_ar).add(h.accept - (r.mem.done if hold_r else r.mem.accept))
            if r.mem.done >= h.complete:
                tb.fail(f"{where}: old translation used, but the Invalidate Completion did not wait for its "
                        f"access (R @{r.mem.done})")
        r2 = await tb.read(1, pasid, va)
        if r2.fault or r2.pa != pa_new:
            tb.fail(f"{where}; later access {r2}: the old translation survived the invalidation")
        tb.log("%s -> ok", where)
        await tb.cycles(3)

    for k in range(0, 9):
        await one(k, False)
    for k in range(-2, 3):
        await one(k, True)
    for name, seen in (("AR", seen_ar), ("R", seen_r)):
        for need in (-1, 0, 1):
            if need not in seen:
                tb.fail(f"no invalidation accepted at offset {need} from the old page's {name} handshake "
                        f"(seen {sorted(seen)})")
    tb.log("acceptance offsets from AR %s, from R %s", sorted(seen_ar), sorted(seen_r))
    tb.check_protocol()
