"""Performance figures of the RTL, in clock cycles, measured in simulation.

    python -m tb.figures [--out build/figures] [--mem-latency 10]

writes <out>/figures.json and prints a table. Everything is measured on the
default parameter set (NumThreads 4, AtcEntries 16, NumWalks 2, PwcEntries 8,
PaWidth 48) through the block testbench (tb.atsbench), with a fixed AXI
memory latency (address handshake to response handshake, no back-pressure):

- ATC hit latency: command handshake -> response handshake of a read that
  hits, one thread alone (it includes the DMA's own AXI access);
- ATC hit throughput: every thread issuing back-to-back hits;
- walk latency for 4K/2M/1G leaves: miss latency minus hit latency (so only
  the translation), cold (PWC flushed: PASID entry + every level read) and
  with PWC hits (a neighbouring page of one just walked);
- Invalidate Request -> Completion with nothing in flight;
- with command queues (DmaOutstanding 4; measure_queue, one build per drain
  rule, exact and conservative): hit throughput with every queue full, the
  same under a stream of Invalidate Requests of other pages, and those
  requests' completion latency;
- Verilator build time, cold, into a fresh directory;
- testbench speed: device accesses and AXI transactions per wall-clock second.

This module is also the cocotb test module the measurement runs in.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path

FIG_ENV = "ATS_FIGURES_OUT"
LAT_ENV = "ATS_FIGURES_MEMLAT"

try:
    import cocotb
except ImportError:  # pragma: no cover - cocotb is a project dependency
    cocotb = None


def _median(xs: list[int]) -> float:
    xs = sorted(xs)
    n = len(xs)
    return float(xs[n // 2]) if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


if cocotb is not None:
    @cocotb.test()
    async def measure(dut):
        """Measure the figures; results go to $ATS_FIGURES_OUT (JSON)."""
        import random

        from model.ats import encode_range
        from model.pagetable import SIZE_1G, SIZE_2M, SIZE_4K, va_of
        from tb.atsbench import TB, Host, rtl_params

        lat = int(os.environ.get(LAT_ENV, "10"))
        params = rtl_params()
        host = Host(pa_bits=params["PaWidth"])
        pasid = 0x21
        sp = host.new_space(pasid)
        tb = TB(dut, host.mem, test_name="measure", axi=dict(latency=(lat, lat)))
        await tb.start(pasid_tbl_base=host.pasid_tbl_base, budget=2_000_000)
        figs: list[dict] = []

        def fig(name: str, value, unit: str, cond: str) -> None:
            figs.append({"name": name, "value": value, "unit": unit, "conditions": cond})

        async def flush() -> None:
            addr, s = encode_range(0, 1 << 64)
            await tb.inv.invalidate(addr, s, pasid=None)

        async def lat_of(thread: int, va: int) -> tuple[int, bool, int]:
            c0 = tb.now
            r = await tb.read(thread, pasid, va)
            assert not r.fault, r
            return r.cycle - r.cmd.issue, r.atc_hit, len(tb.walk_reads(c0, r.cycle))

        # --- ATC hit latency (at the stated latency and at latency 1)
        hit_va = va_of(1, 2, 3, 4)
        sp.map(hit_va, host.data_pa())
        hits = {}
        for l in (lat, 1):
            tb.axi.set_timing(latency=(l, l))
            await lat_of(0, hit_va)
            xs = []
            for _ in range(8):
                c, h, _ = await lat_of(0, hit_va)
                assert h
                xs.append(c)
            hits[l] = _median(xs)
        tb.axi.set_timing(latency=(lat, lat))
        fig("ATC hit latency", hits[lat], "cycles",
            f"command handshake to response handshake, read, memory latency {lat}")
        fig("ATC hit latency (memory latency 1)", hits[1], "cycles",
            "command handshake to response handshake, read, memory latency 1")

        # --- ATC hit throughput: all threads back to back
        n = tb.num_threads
        vas = [va_of(1, 2, 3, 16 + t) for t in range(n)]
        for t, va in enumerate(vas):
            sp.map(va, host.data_pa())
            await tb.read(t, pasid, va)
        for l in (1, lat):
            tb.axi.set_timing(latency=(l, l))
            stop = False
            count = [0]

            async def spin(t: int) -> None:
                while not stop:
                    r = await tb.read(t, pasid, vas[t])
                    assert r.atc_hit
                    count[0] += 1

            tasks = [cocotb.start_soon(spin(t)) for t in range(n)]
            await tb.cycles(200)
            c0, n0 = tb.now, count[0]
            await tb.cycles(2000)
            rate = (count[0] - n0) / (tb.now - c0)
            stop = True
            for t in tasks:
                await t
            fig(f"ATC hit throughput (memory latency {l})", round(rate, 3), "accesses/cycle",
                f"{n} threads issuing back-to-back reads that hit, memory latency {l}")
        tb.axi.set_timing(latency=(lat, lat))

        # --- walk latency, cold and with PWC hits, per leaf size
        base = {SIZE_4K: va_of(5, 1, 1, 0), SIZE_2M: va_of(6, 1, 0), SIZE_1G: va_of(7, 0)}
        names = {SIZE_4K: "4K", SIZE_2M: "2M", SIZE_1G: "1G"}
        for size, va in base.items():
            sp.map(va, host.data_pa(size), size)
            sp.map(va + size, host.data_pa(size), size)   # neighbour in the same table
            await flush()
            cold, h0, cold_reads = await lat_of(0, va)
            _, h1, _ = await lat_of(0, va)
            warm, h2, warm_reads = await lat_of(0, va + size)
            assert not h0 and h1 and not h2, (h0, h1, h2)
            fig(f"walk latency {names[size]} cold", cold - hits[lat], "cycles",
                f"miss minus hit latency, PWC flushed, {cold_reads} walker reads, memory latency {lat}")
            fig(f"walk latency {names[size]} PWC hit", warm - hits[lat], "cycles",
                f"neighbouring page of one just walked, {warm_reads} walker reads, memory latency {lat}")
            fig(f"miss latency {names[size]} cold", cold, "cycles",
                f"command to response of a read that walks, memory latency {lat}")

        # --- invalidation with nothing in flight
        await tb.drain()
        xs = []
        for i in range(8):
            addr, s = encode_range(0x7000_0000 + i * 0x1000, 4096)
            h = await tb.inv.invalidate(addr, s, pasid=pasid)
            xs.append(h.complete - h.accept)
            await tb.cycles(3)
        fig("Invalidate Request to Completion", _median(xs), "cycles",
            "request handshake to completion handshake, nothing in flight")

        # --- testbench speed (wall clock): mixed hits and misses on every thread
        tb.axi.set_timing(latency=(1, 4))
        pool = [va_of(9, 0, i // 64, i % 64) for i in range(256)]
        for va in pool:
            sp.map(va, host.data_pa())
        total = 2000 * n
        ax0 = tb.axi.count_reads + tb.axi.count_writes
        c0 = tb.now

        async def mix(t: int) -> None:
            trng = random.Random(t)
            hot = pool[t * 4:(t + 1) * 4]
            for _ in range(total // n):
                va = trng.choice(hot) if trng.random() < 0.9 else trng.choice(pool)
                await tb.threads[t].access(trng.random() < 0.3, pasid, va + trng.randrange(512) * 8, 5)

        t0 = time.perf_counter()
        tasks = [cocotb.start_soon(mix(t)) for t in range(n)]
        for t in tasks:
            await t
        wall = time.perf_counter() - t0
        axi = tb.axi.count_reads + tb.axi.count_writes - ax0
        fig("testbench device accesses per second", round(total / wall), "1/s (wall)",
            f"{n} threads, 90% ATC hits, 30% writes, memory latency 1-4; {total} accesses in {tb.now - c0} cycles")
        fig("testbench AXI transactions per second", round(axi / wall), "1/s (wall)",
            f"same run: {axi} AXI transactions (walker reads + DMA) through tb.axi_mem.AxiMem")
        tb.check_protocol()
        Path(os.environ[FIG_ENV]).write_text(json.dumps(figs, indent=1))


# Command queues (DmaOutstanding) and the drain rule, measured side by side on two builds
QUEUE_DEPTH = 4
QUEUE_BUILDS = {"exact": {"DmaOutstanding": QUEUE_DEPTH, "DmaDrainExact": 1},
                "conservative": {"DmaOutstanding": QUEUE_DEPTH, "DmaDrainExact": 0}}
INV_PERIOD = 32  # cycles between Invalidate Requests of the invalidation stream


if cocotb is not None:
    @cocotb.test()
    async def measure_queue(dut):
        """Hit throughput with full command queues, alone and under a stream of Invalidate
        Requests of other pages (their completion latency shows what the drain rule waits for)."""
        from model.ats import encode_range
        from model.pagetable import va_of
        from tb.atsbench import TB, Host, rtl_params
        from tb.test_outstanding import stream_hits

        lat = int(os.environ.get(LAT_ENV, "10"))
        params = rtl_params()
        rule = "exact" if params.get("DmaDrainExact") else "conservative"
        host = Host(pa_bits=params["PaWidth"])
        pasid = 0x21
        sp = host.new_space(pasid)
        tb = TB(dut, host.mem, test_name="measure_queue", axi=dict(latency=(lat, lat)))
        await tb.start(pasid_tbl_base=host.pasid_tbl_base, budget=2_000_000)
        n, d = tb.num_threads, params["DmaOutstanding"]
        vas = [va_of(1, 2, 3, 16 + t) for t in range(n)]
        for t, va in enumerate(vas):
            sp.map(va, host.data_pa())
            await tb.read(t, pasid, va)
        figs: list[dict] = []
        cond = f"{n} threads x {d} outstanding, back-to-back reads that hit, memory latency {lat}"
        for l in (1, lat):
            tb.axi.set_timing(latency=(l, l))
            rate = await stream_hits(tb, pasid, vas, 2000)
            figs.append({"name": f"ATC hit throughput, {d} outstanding (memory latency {l}, {rule} drain)",
                         "value": round(rate, 3), "unit": "accesses/cycle", "conditions": cond.replace(
                             f"latency {lat}", f"latency {l}")})
        tb.axi.set_timing(latency=(lat, lat))
        # the same stream while other pages of the PASID are invalidated every INV_PERIOD cycles
        stop = False
        handles = []

        async def inv_stream() -> None:
            k = 0
            while not stop:
                addr, s = encode_range(0x7000_0000 + (k % 64) * 0x1000, 4096)
                handles.append(await tb.inv.request(addr, s, pasid=pasid))
                k += 1
                await tb.cycles(INV_PERIOD)

        task = cocotb.start_soon(inv_stream())
        rate = await stream_hits(tb, pasid, vas, 2000)
        stop = True
        await task
        for h in handles:
            await h.wait()
        lats = [h.complete - h.accept for h in handles]
        figs.append({"name": f"ATC hit throughput under invalidations ({rule} drain)", "value": round(rate, 3),
                     "unit": "accesses/cycle",
                     "conditions": f"{cond}; an Invalidate Request of another page every {INV_PERIOD} cycles"})
        figs.append({"name": f"Invalidate Request to Completion under hits ({rule} drain)",
                     "value": _median(lats), "unit": "cycles",
                     "conditions": f"median of {len(lats)} (max {max(lats)}), other pages than the ones accessed; {cond}"})
        tb.check_protocol()
        Path(os.environ[FIG_ENV]).write_text(json.dumps(figs, indent=1))


def _table(figs: list[dict]) -> str:
    w = max(len(f["name"]) for f in figs)
    lines = [f"{'figure':{w}}  {'value':>10}  unit            conditions", "-" * (w + 60)]
    for f in figs:
        lines.append(f"{f['name']:{w}}  {f['value']:>10}  {f['unit']:15} {f['conditions']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from model.cli import int_at_least, out_dir

    ap = argparse.ArgumentParser(prog="python -m tb.figures", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=out_dir, default="build/figures")
    ap.add_argument("--mem-latency", type=int_at_least(1), default=10,
                    help="fixed AXI latency in cycles, at least 1 (default 10)")
    a = ap.parse_args(argv)

    from tb import axi_top, toolchain
    from tb.atsbench import DEFAULT_PARAMS

    out = a.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    tag = "figures_cold"
    cold_dir = toolchain.BUILD / "rtl" / tag
    shutil.rmtree(cold_dir, ignore_errors=True)
    t0 = time.perf_counter()
    build = axi_top.build(dict(DEFAULT_PARAMS), tag=tag)
    build_s = time.perf_counter() - t0
    raw = out / "measured.json"
    raw.unlink(missing_ok=True)
    toolchain.run_cocotb("tb.figures", build, toplevel=axi_top.TOP, testcase="measure", seed=1,
               results_xml=str(out / "results.xml"),
               extra_env={FIG_ENV: str(raw), LAT_ENV: str(a.mem_latency),
                          "ATS_PARAMS": json.dumps(DEFAULT_PARAMS)})
    figs = json.loads(raw.read_text())
    for rule, qp in QUEUE_BUILDS.items():
        qparams = {**DEFAULT_PARAMS, **qp}
        qbuild = axi_top.build(qparams, tag=f"figures_queue_{rule}")
        qraw = out / f"measured_queue_{rule}.json"
        qraw.unlink(missing_ok=True)
        toolchain.run_cocotb("tb.figures", qbuild, toplevel=axi_top.TOP, testcase="measure_queue", seed=1,
                             results_xml=str(out / f"results_queue_{rule}.xml"),
                             extra_env={FIG_ENV: str(qraw), LAT_ENV: str(a.mem_latency),
                                        "ATS_PARAMS": json.dumps(qparams)})
        figs += json.loads(qraw.read_text())
    figs.append({"name": "Verilator build time (cold)", "value": round(build_s, 1), "unit": "s (wall)",
                 "conditions": f"fresh build dir, default parameters, {os.cpu_count()} CPUs, make -j"})
    doc = {"parameters": DEFAULT_PARAMS, "clock": "cycles of clk_i", "memory_latency": a.mem_latency,
           "figures": figs}
    (out / "figures.json").write_text(json.dumps(doc, indent=1) + "\n")
    print(_table(figs))
    print(f"\nwritten {out / 'figures.json'}")
    return 0


if __name__ == "__main__":
    from model.cli import run_main

    run_main(main)
