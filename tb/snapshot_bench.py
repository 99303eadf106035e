"""The stress per-run overhead with the host built per run and restored from its snapshot, side by side.

    .venv/bin/python -m tb.snapshot_bench [--runs 50] [--reps 3] [--device-rate 8734]

The overhead is measured as `make bench` measures it (tb.rawbench.overhead:
tiny stress runs of one read in one `stress_batch`, CPU time of the
simulator process per run plus generating and parsing the scenario, minus
the run's access at the device-bound rate), once with every host built
(`snapshot=False`) and once restored from its setup's snapshot
(model.host_snapshot), alternating in one simulator, `--reps` times each;
medians. The same two ways on full `make stress` seeds follow, on the RTL and
on the reference device (no simulator).
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path


def rtl_overhead(srv, runs: int, snapshot: bool, device_rate: float, first: int) -> float:
    from model.random_scenario import random_scenario
    from tb.rawbench import TINY

    seeds = list(range(first, first + runs))
    c0 = time.process_time()
    for s in seeds:
        random_scenario(s, **TINY)
    gen = (time.process_time() - c0) / runs
    rows = srv.call("stress_batch", seeds=seeds, policies=["deferred"], snapshot=snapshot, **TINY)
    bad = [x for x in rows if x.get("error")]
    if bad:
        raise RuntimeError(f"tiny stress runs failed: {bad[0]}")
    acc = sum(x["stats"]["responses"] for x in rows)
    per = rows[0]["batch"]["cpu"] / len(rows) + gen
    return 1000 * (per - acc / len(rows) / device_rate)


def rtl_full_ms(srv, seeds: int, snapshot: bool, first: int) -> float:
    """CPU ms per run of `make stress` seeds on the RTL (three policies per seed, one batch)."""
    from model.notifier import POLICIES

    rows = srv.call("stress_batch", seeds=list(range(first, first + seeds)),
                    policies=[p.value for p in POLICIES], snapshot=snapshot)
    return 1000 * rows[0]["batch"]["cpu"] / len(rows)


def ref_ms(runs: int, snapshot: bool, policies: tuple[str, ...] = ("notify-inside-lock", "deferred",
                                                                    "secondary-with-flush")) -> float:
    """CPU ms per run of `make stress --device ref` seeds (three policies per seed)."""
    from model.host_snapshot import HostSnapshots
    from model.random_scenario import random_scenario
    from model.scheduler import run_scenario_sync

    snaps = HostSnapshots() if snapshot else None
    c0 = time.process_time()
    for s in range(runs):
        sc = random_scenario(s)
        for p in policies:
            run_scenario_sync(sc, p, s, mode="random", snapshots=snaps)
    return 1000 * (time.process_time() - c0) / (runs * len(policies))


def main(argv: list[str] | None = None) -> int:
    from model.cli import positive_int
    from tb.rtldev import CosimServer

    ap = argparse.ArgumentParser(prog="python -m tb.snapshot_bench", description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=positive_int, default=50)
    ap.add_argument("--reps", type=positive_int, default=3)
    ap.add_argument("--device-rate", type=float, default=8734.0,
                    help="accesses per CPU-second of the project's path (make bench; default: the README's)")
    ap.add_argument("--full-seeds", type=positive_int, default=20, help="make stress seeds per batch")
    ap.add_argument("--out", default="build/bench/snapshot")
    a = ap.parse_args(argv)
    got: dict[str, list[float]] = {"built": [], "snapshot": []}
    with CosimServer(out=Path(a.out) / "sim") as srv:
        srv.call("ping", cycles=10)
        rtl_overhead(srv, 10, True, a.device_rate, 10_000)  # warm-up
        for r in range(a.reps):
            for snap in (False, True):
                got["snapshot" if snap else "built"].append(
                    rtl_overhead(srv, a.runs, snap, a.device_rate, 1000 * r))
        full: dict[str, list[float]] = {"built": [], "snapshot": []}
        for r in range(a.reps):
            for snap in (False, True):
                full["snapshot" if snap else "built"].append(rtl_full_ms(srv, a.full_seeds, snap, 100 * r))
    ref = {"built": [], "snapshot": []}
    for _ in range(a.reps):
        for snap in (False, True):
            ref["snapshot" if snap else "built"].append(ref_ms(a.runs, snap))
    med = {k: statistics.median(v) for k, v in got.items()}
    rmed = {k: statistics.median(v) for k, v in ref.items()}
    print(f"stress per-run overhead, RTL ({a.runs} tiny runs x {a.reps}, medians): host built per run "
          f"{med['built']:.2f} ms, restored from its snapshot {med['snapshot']:.2f} ms (target <= 2 ms); "
          f"all: built {[round(x, 2) for x in got['built']]}, snapshot {[round(x, 2) for x in got['snapshot']]}")
    fmed = {k: statistics.median(v) for k, v in full.items()}
    print(f"RTL, CPU per run of make stress seeds ({a.full_seeds} seeds x 3 policies): built {fmed['built']:.2f} ms, "
          f"snapshot {fmed['snapshot']:.2f} ms")
    print(f"reference device, CPU per run of make stress seeds ({a.runs} seeds x 3 policies): built "
          f"{rmed['built']:.3f} ms, snapshot {rmed['snapshot']:.3f} ms")
    return 0


if __name__ == "__main__":
    from model.cli import run_main

    run_main(main)
