"""Directed block tests for corners the random and race tests do not reach (cocotb module).

Each test pins down one behaviour that a single-point bug in rtl/ breaks
without any other test noticing (tb/mutants.toml names the mutants):

walk_issue_same_cycle_as_inv: a Translation Request leaves for the walker in
the very cycle an invalidation is applied (inv.sv: the cycle after its
acceptance), while the page-walk cache still
holds an upper-level entry the host has just replaced. The walk started from
that stale entry (the PWC lookup sees the pre-flush state), so it must be
poisoned and must not fill the PWC; the access must use the new tables.

huge_leaf_walk_poison: a walk for one 4 KiB page whose leaf turns out to be
2 MiB / 1 GiB races an invalidation of another 4 KiB page inside that leaf
(PASID-specific, all-PASID). Rule 1 at the leaf's full size: the old huge
translation is neither used nor cached.

drain_waits_for_port: rule 2 for an access that has passed the ATC lookup
but is still waiting for the AXI port (AR back-pressure), and for an access
whose ATC hit the thread takes (the cycle after the pipelined compare) in the
invalidation's own cycle: the Invalidate Completion leaves only after their
AXI responses.

response_payload_stable: every valid/ready port of the device (responses,
Invalidate Completions, AXI AR/AW/W) keeps VALID and its payload while
stalled, under heavy response back-pressure and AXI stalls.

plru_replacement_order: ATC replacement against a reference tree-PLRU model
(invalid entries first, lookup hits and fills touch): every access's
atc_hit must match the model.

write_upgrade_refills_in_place: a write that hits a read-only entry walks
again; the writable fill replaces the old entry, so the next write hits.

pwc_starts_at_deepest_hit: with the PWC warm, a walk reads only the levels
below the deepest cached entry (1 read for a neighbour page, 2 for another
2 MiB region, ...), and entries below a read-only upper level are not cached.

pwc_keeps_supervisor_entries: pwc_keep_sup_i clear, a walk of a kernel
address faults SUPERVISOR at the first U/S-clear entry and caches nothing
below the PASID entry; set, the walk reaches the leaf, still faults
SUPERVISOR there, and its upper entries stay in the PWC (a neighbour's walk
reads the PTE only), carrying the supervisor path with them: a user leaf
below a supervisor entry faults SUPERVISOR whether the walk read that entry
or started below it from the PWC. A user page walks as before.

huge_leaf_reserved_alignment: 2 MiB / 1 GiB leaves with a frame address bit
set below the page size (bit 20, bit 13) fault RESERVED.
"""
from __future__ import annotations

import random

import cocotb
from cocotb.triggers import ReadOnly

from model.ats import Fault, encode_range
from model.pagetable import RW, SIZE_1G, SIZE_2M, US, PageTables, make_pte
from tb.atsbench import TB, Host, rtl_params
from tb.axi_mem import fast

PAGE = 4096

# valid/ready ports of ats_dev_top and the payload that must hold while stalled
CHANNELS = {
    "rsp": ("rsp_valid_o", "rsp_ready_i", ("rsp_thread_o", "rsp_fault_o", "rsp_cause_o", "rsp_rdata_o",
                                           "rsp_pa_o", "rsp_atc_hit_o")),
    "invc": ("invc_valid_o", "invc_ready_i", ("invc_itag_o",)),
    "ar": ("m_axi_arvalid", "m_axi_arready", ("m_axi_arid", "m_axi_araddr", "m_axi_arlen", "m_axi_arsize")),
    "aw": ("m_axi_awvalid", "m_axi_awready", ("m_axi_awid", "m_axi_awaddr", "m_axi_awlen", "m_axi_awsize")),
    "w": ("m_axi_wvalid", "m_axi_wready", ("m_axi_wdata", "m_axi_wstrb", "m_axi_wlast")),
}


class CycleMonitor:
    """Samples the ports (and two internal handshakes) at every cycle's quiet point.

    Handshake rule, per channel: after a cycle with VALID && !READY, VALID
    stays high and the payload is unchanged. Events are recorded with the
    index of the rising edge that takes them (the convention of InvHandle.accept
    and Command.issue): `xreq` (Translation Request accepted by the walker,
    with its id) and `lkp` (ATC lookup result: thread, hit, at the edge where
    the thread takes it, the cycle after the pipelined compare).
    """

    def __init__(self, tb: TB):
        self.tb = tb
        d = tb.rtl  # the device's own signals (internal ones too), read only
        self.ch = {n: (fast(d, v), fast(d, r), [fast(d, p) for p in ps]) for n, (v, r, ps) in CHANNELS.items()}
        self.xreq = (fast(d, "xreq_valid"), fast(d, "xreq_ready"), fast(d, "xreq_id"))
        self.lkp = (fast(d, "lkp_rvalid"), fast(d, "lkp_hit"), fast(d, "lkp_rthread"))
        self.errors: list[str] = []
        self.xreq_fires: list[tuple[int, int]] = []   # (edge, id)
        self.lookups: list[tuple[int, int, bool]] = []  # (edge, thread, hit)
        self.stalls = {n: 0 for n in CHANNELS}
        self._prev: dict[str, tuple | None] = {n: None for n in CHANNELS}
        self.task = cocotb.start_soon(self._run())

    async def _run(self) -> None:
        cc = self.tb.cc
        k = await cc.sync()
        while True:
            await cc.qp(k)
            await ReadOnly()
            for n, (v, r, ps) in self.ch.items():
                valid, ready = v.get(), r.get()
                pay = tuple(p.get() for p in ps)
                prev = self._prev[n]
                if prev is not None and (not valid or pay != prev):
                    self.errors.append(f"cycle {k}: {n} {'dropped VALID' if not valid else 'changed its payload'} "
                                       f"while stalled (VALID && !READY): {prev} -> {pay if valid else '-'}")
                self._prev[n] = pay if valid and not ready else None
                if valid and not ready:
                    self.stalls[n] += 1
            if self.xreq[0].get() and self.xreq[1].get():
                self.xreq_fires.append((k + 1, self.xreq[2].get()))
            if self.lkp[0].get():
                self.lookups.append((k + 1, self.lkp[2].get(), bool(self.lkp[1].get())))
            k += 1

    def check(self) -> None:
        if self.errors:
            self.tb.fail("handshake violations:\n  " + "\n  ".join(self.errors[:10]))


def new_host() -> Host:
    return Host(pa_bits=rtl_params()["PaWidth"])


async def start(dut, name: str, budget: int = 50_000, **kw) -> tuple[TB, Host, CycleMonitor]:
    host = new_host()
    tb = TB(dut, host.mem, test_name=name, **kw)
    await tb.start(pasid_tbl_base=host.pasid_tbl_base, budget=budget)
    return tb, host, CycleMonitor(tb)


def expect_pa(tb: TB, r, pa: int, what: str) -> None:
    if r.fault or r.pa != pa:
        tb.fail(f"{what}: {r}, expected pa {pa:#x}")


def need_pwc(tb: TB) -> None:
    if tb.params["PwcEntries"] < 8:
        tb.fail(f"this test needs the default page-walk cache (PwcEntries >= 8), got {tb.params['PwcEntries']}")


# --------------------------------------------------------------------------- rule 1


@cocotb.test()
async def walk_issue_same_cycle_as_inv(dut):
    """A request leaving for the walker in the invalidation's cycle, walking from a stale PWC entry."""
    tb, host, mon = await start(dut, "walk_issue_same_cycle_as_inv", axi=dict(latency=(1, 1)))
    need_pwc(tb)
    pasid = 0x21
    sp = host.new_space(pasid)
    hits_same_cycle = 0
    for trial, j in enumerate((0, 1, 2, 3, 4, 5)):   # invalidation j cycles after the command
        va1 = ((trial + 1) << 39) | (0x1F << 21) | (0x33 << 12)
        va2 = va1 + SIZE_1G                        # same PML4E, another PDPTE
        pa1, pa_old, pa_new = host.data_pa(), host.data_pa(), host.data_pa()
        sp.map(va1, pa1)
        sp.map(va2, pa_old)
        expect_pa(tb, await tb.read(0, pasid, va1), pa1, f"trial {trial}: warm-up")  # PWC: PASID, PML4E, PDPTE, PDE
        # the host moves everything below the PML4E (old tables stay in memory, as before a free)
        pt2 = PageTables(host.mem, host.frames)
        pt2.map(va1, pa1)
        pt2.map(va2, pa_new)
        sp.set_entry(va2, 1, pt2.entry(va2, 1)[1])
        assert host.golden(pasid, va2, False).pa == pa_new
        k = await tb.cc.sync()
        rd = cocotb.start_soon(tb.read(1, pasid, va2))            # command handshake at k+1
        inv = cocotb.start_soon(tb.inv.request(va2 >> 12, False, pasid=pasid, at=k + 1 + j))
        h = await inv
        r = await rd
        await h.wait()
        fires = [e for e, x in mon.xreq_fires if x == 1 and e >= r.cmd.issue]
        fire = fires[0] if fires else None
        if fire == h.accept + 1:      # applied (inv.sv) the cycle after its acceptance
            hits_same_cycle += 1
        where = (f"trial {trial}: command @{r.cmd.issue}, request to the walker @{fire}, "
                 f"invalidation accepted @{h.accept}, applied @{h.accept + 1}")
        expect_pa(tb, r, pa_new + (va2 & 0xFFF), f"{where}: the walk from the stale PWC entry was used")
        r2 = await tb.read(2, pasid, va2)
        expect_pa(tb, r2, pa_new, f"{where}: later access (stale translation or PWC entry kept)")
        tb.log("%s -> new pa (later access hit=%d)", where, r2.atc_hit)
    if hits_same_cycle == 0:
        tb.fail("no trial applied the invalidation in the cycle the request left for the walker: adjust the sweep")
    mon.check()
    tb.check_protocol()


@cocotb.test()
async def huge_leaf_walk_poison(dut):
    """A 4 KiB request whose leaf is 2 MiB / 1 GiB races an invalidation elsewhere inside the leaf."""
    rng = random.Random(cocotb.RANDOM_SEED)
    tb, host, mon = await start(dut, "huge_leaf_walk_poison", axi=dict(latency=(2, 5)))
    pasid = 0x2B
    sp = host.new_space(pasid)
    cases = [(SIZE_2M, "pasid"), (SIZE_2M, "all"), (SIZE_1G, "pasid"), (SIZE_1G, "all")]
    for n, (size, kind) in enumerate(cases):
        base = 0x2000_0000_0000 + n * 4 * SIZE_1G
        pa_old, pa_new = host.data_pa(size), host.data_pa(size)
        sp.map(base, pa_old, size)
        req = base + rng.randrange(16) * PAGE                     # first 64 KiB of the leaf
        other = base + size - PAGE                                 # last 4 KiB page: another 2 MiB for 1 GiB
        leaf_pa = host.golden(pasid, req, False).reads[-1]
        hold = tb.axi.hold(lambda a, e=leaf_pa: a.source == "walk" and a.addr == e)
        rd = cocotb.start_soon(tb.read(0, pasid, req))
        (held,) = await hold.wait()
        sp.set_leaf(base, make_pte(pa_new, huge=True))
        h = await tb.inv.request(other >> 12, False, pasid=None if kind == "all" else pasid)
        await tb.cycles(2)
        hold.release()
        r = await rd
        await h.wait()
        what = (f"{size:#x} leaf, walk for {req:#x} (leaf read accepted @{held.accept}), {kind} invalidation of "
                f"{other:#x} accepted @{h.accept}")
        expect_pa(tb, r, pa_new + (req - base), f"{what}: the raced walk was used")
        for t, va in ((1, other), (2, req + PAGE)):
            expect_pa(tb, await tb.read(t, pasid, va), pa_new + (va - base),
                      f"{what}: later access to {va:#x} (the old leaf was cached)")
    mon.check()
    tb.check_protocol()


# --------------------------------------------------------------------------- rule 2


@cocotb.test()
async def drain_waits_for_port(dut):
    """Accesses waiting for the AXI port, or taking an ATC hit in the invalidation's cycle, are drained."""
    tb, host, mon = await start(dut, "drain_waits_for_port", budget=100_000,
                                axi=dict(latency=(1, 1), stall_prob=1.0, stall=(12, 12)))
    pasid = 0x2D
    sp = host.new_space(pasid)
    vas = [0x4444_0000_0000 + t * 0x10_0000 for t in range(tb.num_threads)]
    pas = [host.data_pa() for _ in vas]
    for t, (va, pa) in enumerate(zip(vas, pas)):
        sp.map(va, pa)
        expect_pa(tb, await tb.read(t, pasid, va), pa, "warm-up")
    # (a) two hits in a row: the second waits in front of the stalled AR channel
    for rnd in range(2):
        k = await tb.cc.sync()
        rds = [cocotb.start_soon(tb.read(t, pasid, vas[t])) for t in (0, 1)]
        addr, s = encode_range(vas[0], 1 << 21)
        h = await tb.inv.request(addr, s, pasid=pasid, at=k + 6)
        rs = [await x for x in rds]
        await h.wait()
        for r in rs:
            if not r.atc_hit or r.mem is None:
                tb.fail(f"round {rnd}: expected an ATC hit with an AXI access: {r}")
            if r.cmd.issue < h.accept and r.mem.done >= h.complete:
                tb.fail(f"round {rnd}: Invalidate Completion @{h.complete} (accepted @{h.accept}) before the "
                        f"AXI response @{r.mem.done} of an access looked up before it (AR accepted "
                        f"@{r.mem.accept}): {r}")
        tb.log("round %d: accesses answered on AXI @%s, completion @%d", rnd, [r.mem.done for r in rs], h.complete)
        for t in (0, 1):
            expect_pa(tb, await tb.read(t, pasid, vas[t]), pas[t], "re-warm")
    # (b) the lookup hits in the invalidation's own cycle; the access is held on AXI
    tb.axi.set_timing(stall_prob=0.0)
    same = 0
    for j in range(4):
        t = 2
        hold = tb.axi.hold(lambda a, t=t: a.source == "dma" and a.tag == t)
        k = await tb.cc.sync()
        rd = cocotb.start_soon(tb.read(t, pasid, vas[t]))          # command @k+1, lookup @k+2, result @k+3
        h = await tb.inv.request(vas[t] >> 12, False, pasid=pasid, at=k + 1 + j)
        await tb.cycles(25)
        hold.release()
        r = await rd
        await h.wait()
        lk = [(e, hit) for e, th, hit in mon.lookups if th == t and e > r.cmd.issue]
        e, hit = lk[0]
        tb.log("lookup @%d hit=%d, invalidation accepted @%d, AXI response @%s, completion @%d",
               e, hit, h.accept, r.mem.done if r.mem else None, h.complete)
        if hit and e <= h.accept:
            same += e == h.accept
            if r.mem.done >= h.complete:
                tb.fail(f"lookup hit @{e}, invalidation accepted @{h.accept}: completion @{h.complete} left "
                        f"before the access's AXI response @{r.mem.done}")
        expect_pa(tb, await tb.read(t, pasid, vas[t]), pas[t], "re-warm")
    if same == 0:
        tb.fail("no trial put the lookup hit in the invalidation's cycle: adjust the sweep")
    mon.check()
    tb.check_protocol()


# --------------------------------------------------------------------------- handshakes


@cocotb.test()
async def response_payload_stable(dut):
    """VALID and payload hold while stalled, on every port, under heavy back-pressure."""
    rng = random.Random(cocotb.RANDOM_SEED)
    tb, host, mon = await start(dut, "response_payload_stable", budget=200_000,
                                axi=dict(latency=(1, 12), stall_prob=0.3, stall=(1, 6), reorder=True),
                                rsp_stall_prob=0.9)
    tb.rsp.stall = (3, 15)
    pasid = 0x2F
    sp = host.new_space(pasid)
    vas = [0x5555_0000_0000 + i * 0x1000 for i in range(12)]
    for va in vas:
        sp.map(va, host.data_pa())

    async def worker(t: int) -> None:
        wr = random.Random(rng.getrandbits(32))
        for _ in range(40):
            va = wr.choice(vas) + wr.randrange(512) * 8
            exp = host.golden(pasid, va, False).pa
            if wr.random() < 0.3:
                r = await tb.write(t, pasid, va, wr.getrandbits(64))
            else:
                r = await tb.read(t, pasid, va)
            expect_pa(tb, r, exp, f"thread {t}")

    async def invalidator() -> None:
        wr = random.Random(rng.getrandbits(32))
        for _ in range(10):
            await tb.cycles(wr.randrange(20, 80))
            await tb.inv.invalidate(wr.choice(vas) >> 12, False, pasid=pasid)

    tasks = [cocotb.start_soon(worker(t)) for t in range(tb.num_threads)] + [cocotb.start_soon(invalidator())]
    for x in tasks:
        await x
    tb.log("stalled cycles per channel: %s", mon.stalls)
    if mon.stalls["rsp"] < 100:
        tb.fail(f"the response port was stalled only {mon.stalls['rsp']} cycles: no back-pressure")
    mon.check()
    tb.check_protocol()


# --------------------------------------------------------------------------- ATC replacement


class PlruModel:
    """Reference ATC occupancy: invalid entries first (lowest index), else the tree-PLRU victim.

    Tree of n-1 nodes over n leaves (n a power of two); node bit 1 = the
    victim is in the upper half; a touch sets every node on the leaf's path
    to point away from it. Hits and fills touch.
    """

    def __init__(self, n: int):
        self.w = max(1, (n - 1).bit_length())
        self.n = n
        self.tree = [0] * ((1 << self.w) - 1)
        self.ent: list[int | None] = [None] * n

    def touch(self, idx: int) -> None:
        for lv in range(self.w):
            self.tree[(1 << lv) - 1 + (idx >> (self.w - lv))] = 1 - ((idx >> (self.w - 1 - lv)) & 1)

    def victim(self) -> int:
        v = 0
        for lv in range(self.w):
            v = (v << 1) | self.tree[(1 << lv) - 1 + v]
        return min(v, self.n - 1)

    def access(self, page: int) -> bool:
        if page in self.ent:
            self.touch(self.ent.index(page))
            return True
        idx = self.ent.index(None) if None in self.ent else self.victim()
        self.ent[idx] = page
        self.touch(idx)
        return False

    def drop(self, page: int) -> None:
        if page in self.ent:
            self.ent[self.ent.index(page)] = None


@cocotb.test()
async def plru_replacement_order(dut):
    """Every access's ATC hit/miss matches the reference tree-PLRU model."""
    rng = random.Random(cocotb.RANDOM_SEED)
    tb, host, mon = await start(dut, "plru_replacement_order", budget=100_000, axi=dict(latency=(1, 3)))
    n = tb.params["AtcEntries"]
    if n & (n - 1):
        tb.fail(f"the reference model assumes a power-of-two ATC (AtcEntries={n})")
    pasid = 0x31
    sp = host.new_space(pasid)
    pages = [0x6600_0000_0000 + i * 0x20_1000 for i in range(n + 8)]
    pas = {}
    for va in pages:
        pas[va] = host.data_pa()
        sp.map(va, pas[va])
    model = PlruModel(n)
    history: list[str] = []

    async def access(va: int) -> None:
        want = model.access(va)
        r = await tb.read(0, pasid, va)
        history.append(f"{pages.index(va)}{'h' if r.atc_hit else 'm'}")
        expect_pa(tb, r, pas[va], "access")
        if r.atc_hit != want:
            tb.fail(f"page {pages.index(va)}: atc_hit {int(r.atc_hit)}, the PLRU model expects {int(want)}; "
                    f"model entries {[pages.index(p) if p is not None else None for p in model.ent]}; "
                    f"history {' '.join(history)}")

    for va in pages[:n]:                                   # fill the free entries in order
        await access(va)
    for i in (0, 5, n - 1, 3, 0):                          # hits reorder the tree
        await access(pages[i])
    for va in pages[n:n + 4]:                              # four evictions
        await access(va)
    present = [p for p in model.ent if p is not None]
    hole = present[len(present) // 2]
    await tb.inv.invalidate(hole >> 12, False, pasid=pasid)  # one hole: the next fill must take it
    model.drop(hole)
    await access(pages[n + 4])
    order = pages[:n + 5]
    rng.shuffle(order)
    for va in order:
        await access(va)
    tb.log("history %s", " ".join(history))
    mon.check()
    tb.check_protocol()


@cocotb.test()
async def write_upgrade_refills_in_place(dut):
    """Read-only entry, PTE upgraded without invalidation: the write walks once, then hits."""
    tb, host, mon = await start(dut, "write_upgrade_refills_in_place", axi=dict(latency=(1, 3)))
    pasid = 0x35
    sp = host.new_space(pasid)
    for i in range(3):
        va = 0x7700_0000_0000 + i * SIZE_2M
        pa = host.data_pa()
        sp.map(va, pa, writable=False)
        expect_pa(tb, await tb.read(0, pasid, va), pa, "read of the read-only page")
        sp.set_leaf(va, make_pte(pa, writable=True))
        w1 = await tb.write(0, pasid, va, 0x1111)
        expect_pa(tb, w1, pa, "first write after the upgrade")
        if w1.atc_hit:
            tb.fail(f"a write hit a read-only ATC entry: {w1}")
        w2 = await tb.write(1, pasid, va + 8, 0x2222)
        expect_pa(tb, w2, pa + 8, "second write")
        if not w2.atc_hit:
            tb.fail(f"the second write missed: the writable fill did not replace the read-only entry ({w2})")
        r = await tb.read(2, pasid, va)
        if not r.atc_hit or r.rdata != 0x1111:
            tb.fail(f"read after the writes: {r}")
    mon.check()
    tb.check_protocol()


# --------------------------------------------------------------------------- page-walk cache


@cocotb.test()
async def pwc_starts_at_deepest_hit(dut):
    """Walker reads per access with a warm PWC; nothing below a read-only entry is cached."""
    tb, host, mon = await start(dut, "pwc_starts_at_deepest_hit", axi=dict(latency=(1, 2)))
    need_pwc(tb)
    pasid = 0x37
    sp = host.new_space(pasid)
    va1 = (5 << 39) | (7 << 30) | (9 << 21) | (11 << 12)
    steps = [  # (va, walker reads expected)
        (va1, 5),                    # cold: PASID entry, PML4E, PDPTE, PDE, PTE
        (va1 + PAGE, 1),             # same PT: PTE only
        (va1 + SIZE_2M, 2),          # same PD: PDE, PTE
        (va1 ^ (1 << 30), 3),        # same PDPT, another PD: PDPTE, PDE, PTE
        (va1 ^ (1 << 39), 4),        # another PML4E: PML4E .. PTE
    ]
    for va, _ in steps:
        sp.map(va, host.data_pa())
    for i, (va, n) in enumerate(steps):
        c0 = tb.now
        r = await tb.read(i % tb.num_threads, pasid, va)
        reads = tb.walk_reads(c0, r.cycle)
        expect_pa(tb, r, host.golden(pasid, va, False).pa, f"step {i}")
        if len(reads) != n:
            tb.fail(f"step {i}: access to {va:#x} made {len(reads)} walker reads, expected {n} "
                    f"(the walk must start below the deepest page-walk-cache hit): {[hex(a.addr) for a in reads]}")
    # a 1 GiB region whose PDPTE is read-only: a read walk must not cache the PDE below it
    va_ro = (6 << 39) | (3 << 30) | (4 << 21)
    sp.map(va_ro, host.data_pa())
    sp.map(va_ro + PAGE, host.data_pa())
    epa, e = sp.entry(va_ro, 2)
    sp.set_entry(va_ro, 2, e & ~RW)
    expect_pa(tb, await tb.read(0, pasid, va_ro), host.golden(pasid, va_ro, False).pa, "read below a read-only PDPTE")
    for va in (va_ro + PAGE, va_ro):   # another page (walks from the PWC), the page just read (ATC entry)
        w = await tb.write(1, pasid, va, 0x55)
        if not w.fault or w.cause != Fault.WRITE_PROTECT:
            tb.fail(f"write to {va:#x} below a read-only PDPTE (after a read walk there): {w}, "
                    "expected WRITE_PROTECT")
    mon.check()
    tb.check_protocol()


@cocotb.test()
async def pwc_keeps_supervisor_entries(dut):
    """Supervisor upper entries: not cached by default; cached, checked at the leaf, with pwc_keep_sup_i."""
    tb, host, mon = await start(dut, "pwc_keeps_supervisor_entries", axi=dict(latency=(1, 2)))
    need_pwc(tb)
    keep = fast(dut, "pwc_keep_sup_i")
    pasid = 0x39
    sp = host.new_space(pasid)
    kva = 0xFFFF_C900_0000_0000 | (5 << 21)  # the vmalloc area (PML4 index 402)
    user_va = (7 << 39) | (2 << 30)
    for va in (kva, kva + PAGE, kva + 2 * PAGE):
        sp.map(va, host.data_pa(), user=False)
    sp.map(kva + 3 * PAGE, host.data_pa())  # a U/S=1 leaf below the kernel upper entries
    sp.map(user_va, host.data_pa())
    for lvl in (1, 2, 3):  # _KERNPG_TABLE: U/S clear on the kernel's table entries
        sp.set_entry(kva, lvl, sp.entry(kva, lvl)[1] & ~US)

    async def probe(va: int, what: str, reads: int, fault: Fault | None) -> None:
        c0 = tb.now
        r = await tb.read(0, pasid, va)
        got = tb.walk_reads(c0, r.cycle)
        if fault is None:
            expect_pa(tb, r, host.golden(pasid, va, False).pa, what)
        elif not r.fault or r.cause != fault:
            tb.fail(f"{what}: {r}, expected fault {fault.name}")
        if len(got) != reads:
            tb.fail(f"{what}: {len(got)} walker reads, expected {reads}: {[hex(a.addr) for a in got]}")

    keep.set(0)
    await probe(kva, "default: kernel page", 2, Fault.SUPERVISOR)            # PASID entry, PML4E
    await probe(kva + PAGE, "default: its neighbour", 1, Fault.SUPERVISOR)   # PML4E again: nothing cached
    keep.set(1)
    await probe(kva, "keep: kernel page", 4, Fault.SUPERVISOR)               # PML4E (PWC: PASID) .. PTE
    await probe(kva + PAGE, "keep: its neighbour", 1, Fault.SUPERVISOR)      # PTE only: the PDE is cached
    await probe(kva + 3 * PAGE, "keep: U/S=1 leaf below kernel entries (PWC)", 1, Fault.SUPERVISOR)
    await probe(user_va, "keep: a user page", 4, None)                       # PML4E .. PTE (PWC: PASID)
    # the same U/S=1 leaf reached by a full walk (the PWC flushed by an invalidation)
    await tb.inv.invalidate(user_va >> 12, False, pasid=pasid)
    await probe(kva + 3 * PAGE, "keep: U/S=1 leaf below kernel entries (walked)", 5, Fault.SUPERVISOR)
    keep.set(0)
    mon.check()
    tb.check_protocol()


# --------------------------------------------------------------------------- reserved bits


@cocotb.test()
async def huge_leaf_reserved_alignment(dut):
    """A huge leaf's frame address bits below its size are reserved: each set bit faults RESERVED."""
    tb, host, mon = await start(dut, "huge_leaf_reserved_alignment", axi=dict(latency=(1, 2)))
    pasid = 0x39
    sp = host.new_space(pasid)
    n = 0
    for size, bits in ((SIZE_2M, (13, 16, 20)), (SIZE_1G, (13, 21, 29))):
        for b in bits:
            va = 0x1100_0000_0000 + n * 2 * SIZE_1G
            pa = host.data_pa(size)
            sp.map(va, pa, size)
            sp.set_leaf(va, make_pte(pa, huge=True) | (1 << b))
            exp = host.golden(pasid, va, False)
            if exp.fault != Fault.RESERVED:
                tb.fail(f"reference walk of the {size:#x} leaf with bit {b} set: {exp.fault!r}, expected RESERVED")
            r = await tb.read(n % tb.num_threads, pasid, va + 8)
            if not r.fault or r.cause != Fault.RESERVED:
                tb.fail(f"{size:#x} leaf with frame bit {b} set: {r}, expected fault RESERVED")
            n += 1
    mon.check()
    tb.check_protocol()
