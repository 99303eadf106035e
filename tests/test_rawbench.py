"""The bare Verilator harness `make bench` measures the co-simulation against (tb/rawbench.py).

The harness (tb/csrc/raw_bench.cpp) is a checked run: every response is
compared with what the model expects (model/bench_workload.py). Here it runs a
tiny workload and must agree; a corrupted expectation, a watchdog shorter than
any access and a truncated input file must each make it fail with a message.
The expectation itself is checked against the reference device, and the
project's path must produce the same responses over about the same number of
cycles as the bare harness (the two run the same workload).
"""
from __future__ import annotations

from pathlib import Path

import pytest

from model import bench_workload as bw
from tb import rawbench

ROOT = Path(__file__).resolve().parent.parent
TINY = {"accesses": 30, "pages": 8}


@pytest.fixture(scope="module")
def exe() -> Path:
    return rawbench.build_raw()  # cached under build/rtl/raw_bench


def tiny(seeds=(0, 1)) -> list[bw.Workload]:
    return [bw.generate(s, **TINY) for s in seeds]


def test_raw_harness_answers_every_command_as_expected(exe, tmp_path):
    ws = tiny()
    n = bw.export(tmp_path / "w.bin", ws, latency=rawbench.LATENCY)
    r = rawbench.run_raw(tmp_path / "w.bin", 2, exe)
    assert n == 2 * 4 * TINY["accesses"]
    assert r["accesses"] == 2 * n and r["reps"] == 2 and r["runs"] == 2
    writes = sum(a.write for w in ws for c in w.commands for a in c)
    assert r["axi_writes"] >= 2 * writes and r["axi_reads"] >= 2 * (n - writes)  # plus the walker's
    assert r["cycles"] > 0 and r["cpu_seconds"] > 0


def test_raw_harness_fails_on_a_wrong_expected_value(exe, tmp_path):
    bw.export(tmp_path / "bad.bin", tiny(), latency=rawbench.LATENCY, corrupt=37)
    with pytest.raises(rawbench.RawBenchError, match=r"MISMATCH run \d+ rep 0 thread \d+ command \d+"):
        rawbench.run_raw(tmp_path / "bad.bin", 1, exe)


def test_raw_harness_watchdog_fires(exe, tmp_path):
    # no access is answered within 3 cycles of the last response (a walk alone takes longer)
    bw.export(tmp_path / "wd.bin", tiny((0,)), latency=rawbench.LATENCY, watchdog=3)
    with pytest.raises(rawbench.RawBenchError, match="WATCHDOG run 0 rep 0"):
        rawbench.run_raw(tmp_path / "wd.bin", 1, exe)


def test_raw_harness_refuses_a_truncated_file(exe, tmp_path):
    bw.export(tmp_path / "w.bin", tiny((0,)), latency=rawbench.LATENCY)
    data = (tmp_path / "w.bin").read_bytes()
    (tmp_path / "cut.bin").write_bytes(data[:-5])
    with pytest.raises(rawbench.RawBenchError, match=r"cut\.bin: truncated at byte \d+ \(expected rdata\)"):
        rawbench.run_raw(tmp_path / "cut.bin", 1, exe)


def test_expected_responses_match_the_reference_device():
    """model.bench_workload.expected (initial image + each thread's own writes) against the
    reference device running the workload's scenario; a flipped value is reported."""
    from model.scenario import parse
    from model.scheduler import run_scenario_sync

    w = bw.generate(3, **TINY)
    mem, base = bw.host_image(w)
    exp = bw.expected(w, mem, base)
    assert any(d not in (None, 0) for t in exp for _, d in t)  # some reads see a written or initial value
    r = run_scenario_sync(parse(w.text(), "<bench>"), bw.POLICY, 0)
    assert r.ok, [v.message for v in r.failures]
    got: dict[int, list] = {}
    for _, resp in r.responses:
        got.setdefault(resp.thread, []).append((int(resp.fault), resp.rdata))
    assert rawbench.check_responses(w, got, exp) == []
    t, i = next((t, i) for t, c in enumerate(exp) for i, (_, d) in enumerate(c) if d)
    f, d = got[t][i]
    got[t][i] = (f, d ^ 1)
    bad = rawbench.check_responses(w, got, exp)
    assert len(bad) == 1 and f"thread {t} command {i}" in bad[0]


def test_project_path_and_raw_harness_side_by_side(exe, tmp_path):
    """tb.rawbench.ceiling on a tiny workload: both paths answer every command as expected,
    every response on the same cycle (issue and response handshake, RAW_BENCH_LOG against
    the co-simulation's DevResponse); the stress overhead figure adds up."""
    import os
    import subprocess

    from tb.rtldev import CosimServer

    w = bw.generate(5, **TINY)
    bw.export(tmp_path / "one.bin", [w], latency=rawbench.LATENCY)
    env = dict(os.environ, RAW_BENCH_LOG=str(tmp_path / "rsp.log"))
    subprocess.run([str(exe), str(tmp_path / "one.bin")], env=env, check=True, capture_output=True)
    raw: dict[int, list] = {}
    for ln in (tmp_path / "rsp.log").read_text().splitlines():
        _, t, _, issue, done = map(int, ln.split())
        raw.setdefault(t, []).append((issue, done))
    with CosimServer(out=ROOT / "build" / "cosim" / "test_rawbench") as srv:
        one = srv.call("scenario", scenario=w.text(), policy=bw.POLICY, seed=0, mode="script",
                       latency=(rawbench.LATENCY,) * 2, reorder=False, bp=rawbench.NO_BP)
        c = rawbench.ceiling(srv, tmp_path, [0, 1], accesses=TINY["accesses"], reps=1, log=lambda *_: None)
        o = rawbench.overhead(srv, runs=3, device_rate=c["project"]["accesses_per_cpu_second"])
    proj: dict[int, list] = {}
    for _, x in one["result"].responses:
        proj.setdefault(x.thread, []).append((x.issue, x.complete))
    assert proj == raw and sum(map(len, raw.values())) == 4 * TINY["accesses"]
    p, r = c["project"], c["raw"]
    assert p["accesses"] == r["accesses"] // r["batches"] == 2 * 4 * TINY["accesses"]
    # the project's run also counts its last step and the drain after the last response
    assert 0 <= p["cycles"] - r["cycles_per_batch"] <= 2 * 2 * w.cycles_per_step, (p["cycles"], r["cycles"])
    assert 0 < c["ratio"] == round(p["accesses_per_cpu_second"] / r["accesses_per_cpu_second"], 4)
    assert "ratio project / bare" in rawbench.report(c)
    assert o["runs"] == 3 and o["accesses"] == 3
    assert o["overhead_ms_per_run"] == pytest.approx(o["cpu_ms_per_run"] - o["work_ms_per_run"], abs=0.002)
