"""`make sim`: a scenario on the RTL under each notifier policy, with every report.

    .venv/bin/python -m tb.sim --scenario scenarios/cow_timeline.scn --policy all --seed 1 --waves 1
    .venv/bin/python -m tb.sim --scenario random --seed 7 --policy deferred --out build/sim/seed7

For every policy the scenario runs on `ats_dev_top` in Verilator (host-model
scheduler + pyuvm environment, tb/env.py) and the command prints one verdict
table (failed rules, stale-window figures, scoreboard, agreement with the
reference device) followed by each violation with its addresses named as in
the scenario (addrA, addrB) and its cycle times. It writes, under --out
(default build/sim/<scenario file name>/, so scenarios do not overwrite each
other; give concurrent runs of one scenario their own --out):

    summary.json                 every run: verdicts, metrics, files, replay command
    <policy>/timeline.svg        the trace as the doc's table, violating reads highlighted
    <policy>/waves.fst|vcd       waveform (with --waves 1), FST when lz4 headers exist
    <policy>/waves.gtkw          GTKWave save file: the whole run, markers on violating reads
    <policy>/waves.filter.*.txt  state names for GTKWave, from rtl/*.sv
    <policy>/trace.json          the full event trace

`--scenario random` generates a scenario from the seed (tb.stress) and runs
it with the seeded random scheduler. The exit status is 1 when a run
contradicts the scenario's `expect` lines, the scoreboard, or the reference
device; every such failure prints the seed and the command that replays it.
"""
from __future__ import annotations

import argparse
import fcntl
import json
import re
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from model.check import verdicts_to_json
from model.cli import latency_range, nonneg_int, out_dir, python_cmd, repo_path, run_main
from model.notifier import POLICIES
from model.report import render_svg
from tb.rtldev import DEVICE_BUGS  # --device-bug VARIANT -> test-only RTL parameters

ROOT = Path(__file__).resolve().parent.parent


def name_addrs(text: str, names: dict[int, str]) -> str:
    """Append scenario labels (addrA, addrB, ...) to the virtual addresses a message mentions."""
    pages = {va: n for va, n in names.items() if not va & 0xFFF}

    def label(m: re.Match) -> str:
        va = int(m.group(1), 16)
        n = names.get(va)
        if n is None and (va & ~0xFFF) in pages:
            off = va & 0xFFF
            n = pages[va & ~0xFFF] + (f"+{off:#x}" if off else "")
        return m.group(0) + (f" ({n})" if n else "")

    return re.sub(r"\bva[ =](0x[0-9a-fA-F]+)", label, text)


def default_out(scenario: str) -> Path:
    """build/sim/<scenario file name>: one directory per scenario."""
    return ROOT / "build" / "sim" / ("random" if scenario == "random" else Path(scenario).stem)


def replay_cmd(args: argparse.Namespace, policy: str) -> str:
    """The command that replays one run, runnable as printed from the repository root."""
    scenario = args.scenario if args.scenario == "random" else repo_path(args.scenario)
    parts = ["-m", "tb.sim", "--scenario", scenario, "--policy", policy, "--seed", str(args.seed),
             "--waves", "1", "--out", repo_path(args.out)]
    if args.mode != "auto":
        parts += ["--mode", args.mode]
    if args.latency:
        parts += ["--latency", "{},{}".format(*args.latency)]
    if args.reorder is not None:
        parts += ["--reorder", str(args.reorder)]
    if args.device_bug:
        parts += ["--device-bug", args.device_bug]
    if not args.backpressure:
        parts += ["--backpressure", "0"]
    if getattr(args, "directed", False):
        parts += ["--directed"]
    return " ".join([python_cmd()] + [shlex.quote(p) for p in parts])


def axi_settings(args: argparse.Namespace) -> dict:
    """AXI slave latency/reordering: given on the command line, else the stress settings for
    --scenario random (so a stress seed replays exactly), else the slave's defaults."""
    out: dict = {}
    if args.latency:
        out["latency"] = tuple(args.latency)
    if args.reorder is not None:
        out["reorder"] = bool(args.reorder)
    if not args.backpressure:
        from tb.rtldev import NO_BACKPRESSURE

        out["bp"] = NO_BACKPRESSURE
    if args.scenario == "random":
        from tb.stress import STRESS_AXI

        out.setdefault("latency", STRESS_AXI["latency"])
        out.setdefault("reorder", STRESS_AXI["reorder"])
        out.setdefault("bp", STRESS_AXI["bp"])
        out["axi_seed"] = args.seed
    return out




def device_params(bug: str | None) -> dict | None:
    return dict(DEVICE_BUGS[bug]) if bug else None


def device_label(bug: str | None) -> str:
    if not bug:
        return "ats_dev_top (correct)"
    p = ", ".join(f"{k}={v}" for k, v in DEVICE_BUGS[bug].items())
    return f"ats_dev_top {bug} ({p}, TEST-ONLY BROKEN DEVICE)"


def load_scenario(args: argparse.Namespace) -> tuple[Any, str]:
    from model.scenario import load

    if args.scenario == "random":
        from model.random_scenario import random_scenario

        sc = random_scenario(args.seed)
        return sc, "random" if args.mode == "auto" else args.mode
    sc = load(args.scenario)
    return sc, "script" if args.mode == "auto" else args.mode


def stale_text(res: Any) -> tuple[str, dict]:
    for v in res.verdicts:
        if v.rule == "stale-window":
            m = v.metrics
            return (f"{m.get('max_window', 0)} cyc ({m.get('stale_changes', 0)}/{m.get('changes', 0)} PTEs, "
                    f"{m.get('stale_uses', 0)} stale use{'s' if m.get('stale_uses', 0) != 1 else ''})"), m
    return "-", {}


def run_all(args: argparse.Namespace) -> int:
    from tb.rtldev import CosimRemoteError, CosimServer, compare_with_ref
    from tb.toolchain import wave_format

    out = Path(args.out)
    sc, mode = load_scenario(args)
    policies = [p.value for p in POLICIES] if args.policy == "all" else [args.policy]
    names = sc.names()
    fmt = wave_format(announce=False) if args.waves else None
    runs: list[dict] = []
    servers: dict[str, CosimServer] = {}
    t_all = time.monotonic()
    shared = None
    try:
        for pol in policies:
            pdir = out / pol
            pdir.mkdir(parents=True, exist_ok=True)
            wave = pdir / f"waves.{fmt}" if fmt else None
            params = device_params(args.device_bug)
            if args.waves:  # one simulator per policy: one waveform file each
                srv = CosimServer(waves=True, wave_file=wave, out=pdir / "sim", seed=args.seed, params=params)
                servers[pol] = srv
            else:
                if shared is None:
                    shared = CosimServer(out=out / "sim", seed=args.seed, params=params)
                srv = shared
            t0 = time.monotonic()
            try:
                o = srv.call("scenario", scenario=sc, policy=pol, seed=args.seed, mode=mode,
                             repro=replay_cmd(args, pol), discover=bool(args.waves), directed=args.directed,
                             **axi_settings(args))
            except CosimRemoteError as e:  # a scenario that cannot run: one line, not the simulator's traceback
                se = e.scenario_error()
                if se is None:
                    raise
                raise se from None
            res = o["result"]
            ref = compare_with_ref(res, sc, pol, args.seed, mode=mode)
            if mode == "script":
                res.verdicts.append(ref)  # a scripted run must fail the same rules on both devices
            else:  # random interleavings depend on device timing: informational only
                res.metrics["rtl_vs_ref"] = ref.message
            if args.waves:
                srv.close()
            runs.append({"policy": pol, "out": o, "res": res, "dir": pdir, "wave": wave,
                         "wall": time.monotonic() - t0})
    finally:
        if shared is not None:
            shared.close()
        for s in servers.values():
            s.close()

    # -------------------------------------------------------------- report
    exp = sc.expects_for(args.device_bug)
    print(f"== {sc.name} on the RTL (ats_dev_top in Verilator), device {device_label(args.device_bug)}, "
          f"mode {mode}, seed {args.seed}")
    if sc.description:
        print(f"   {sc.description}")
    for r in runs:
        res, pol = r["res"], r["policy"]
        r["failed"] = failed = sorted(v for v in res.failed_rules if v not in ("rtl-vs-ref",))
        r["verdict"] = "clean" if not failed else ("VIOLATION: " + ",".join(failed))
        want = exp.get(pol)
        r["want_s"] = "-" if want is None else ("clean" if not want else ",".join(sorted(want)))
        r["stale"] = stale_text(res)
    # columns as wide as their widest cell (a verdict such as "VIOLATION: use-after-free" fits)
    wv = max([22] + [len(r["verdict"]) for r in runs])
    we = max([10] + [len(r["want_s"]) for r in runs])
    ws = max([30] + [len(r["stale"][0]) for r in runs])
    hdr = (f"{'policy':<22} {'verdict':<{wv}} {'expected':<{we}} {'stale window':<{ws}} {'cycles':>6}  "
           f"{'scoreboard':<10} vs ref")
    print(hdr)
    print("-" * len(hdr))
    bad_runs = []
    summary = {"scenario": sc.name, "path": args.scenario, "device": device_label(args.device_bug),
               "device_bug": args.device_bug or None, "mode": mode, "seed": args.seed,
               "waves": fmt, "runs": []}
    for r in runs:
        res, o, pol = r["res"], r["out"], r["policy"]
        failed, verdict, want_s = r["failed"], r["verdict"], r["want_s"]
        want = exp.get(pol)
        stale, stale_m = r["stale"]
        sb = o["scoreboard"]
        sb_s = "ok" if not sb.get("errors") else f"FAIL x{len(sb['errors'])}"
        # a broken device variant is meant to differ from the (correct) reference device
        ref_same = all(v.ok for v in res.verdicts if v.rule == "rtl-vs-ref")
        ref_ok = ref_same or bool(args.device_bug)
        ref_s = ("same" if ref_same else "differs (broken)" if args.device_bug else "DIFFERENT") \
            if mode == "script" else \
            ("same" if "fail the same" in res.metrics.get("rtl_vs_ref", "") else "differs (random mode)")
        # a broken device variant may also fail the golden scoreboard (it serves a stale translation)
        unexpected = (want is not None and set(failed) - {"scoreboard"} != set(want)) or \
            (sb.get("errors") and not args.device_bug) or not ref_ok
        print(f"{pol:<22} {verdict:<{wv}} {want_s:<{we}} {stale:<{ws}} {o['cycles']:>6}  {sb_s:<10} {ref_s}")
        if unexpected:
            bad_runs.append(r)
        # files
        bad_events = [e for v in res.failures for e in v.events]
        note = (f"policy {pol}; {verdict}; stale window {stale}; seed {args.seed}")
        svg = r["dir"] / "timeline.svg"
        svg.write_text(render_svg(res.trace, f"{sc.name} [{pol}] on the RTL", names, bad_events, note))
        res.trace.dump(str(r["dir"] / "trace.json"))
        files = {"timeline_svg": str(svg), "trace_json": str(r["dir"] / "trace.json")}
        if r["wave"] is not None:
            files["waves"] = str(r["wave"])
            gt = write_waves_gtkw(r, o, sc, names)
            if gt is not None:
                files["gtkw"] = str(gt)
        r["files"] = files
        summary["runs"].append({
            "policy": pol, "verdict": verdict, "failed_rules": failed, "expected": None if want is None else sorted(want),
            "as_expected": not unexpected, "stale_window": stale_m, "metrics": res.metrics,
            "scoreboard": sb, "device_stats": o["stats"], "backpressure": o.get("backpressure", {}), "cycles": o["cycles"], "wall_seconds": round(r["wall"], 3),
            "verdicts": verdicts_to_json(res.verdicts), "files": files, "replay": replay_cmd(args, pol)})
    print("stale window: longest time (cycles) the device kept using a translation after its PTE was repointed or "
          "removed; PTEs: changed PTEs used stale / all repointed. vs ref: same failed rules on the reference device.")
    for r in runs:
        res = r["res"]
        fails = [v for v in res.failures]
        if not fails:
            continue
        print(f"\n[{r['policy']}]")
        for v in fails[:6]:
            print("  " + name_addrs(v.message, names))
    print()
    for r in runs:
        f = r["files"]
        extra = f"; waves {f['waves']} (gtkwave {f.get('gtkw', '-')})" if "waves" in f else ""
        print(f"[{r['policy']}] timeline {f['timeline_svg']}{extra}")
    summary["coverage"] = race_coverage(out, runs)
    (out / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
    print(f"summary: {out / 'summary.json'}  ({time.monotonic() - t_all:.1f} s)")
    if bad_runs:
        print(f"\nFAILED: {len(bad_runs)} run(s) contradict the expectation, the scoreboard or the reference "
              f"device (seed {args.seed})")
        for r in bad_runs:
            print(f"  replay [{r['policy']}]: {replay_cmd(args, r['policy'])}")
        return 1
    return 0


def race_coverage(out: Path, runs: list[dict]) -> dict:
    """The runs' race-window bins (model.coverage) into coverage.xml/.yml/.txt under out."""
    from model import coverage

    for r in runs:
        coverage.collect(r["res"].trace, r["policy"])
    h = coverage.hits()
    files = coverage.write_report(out, h)
    c = coverage.summary(h)
    print(f"race-window coverage: {c['bins_hit']} bin(s) hit, table {files['txt']}")
    return {**c, "files": {k: str(v) for k, v in files.items()}}


def write_waves_gtkw(r: dict, o: dict, sc: Any, names: dict[int, str]) -> Path | None:
    from tb.gtkw import run_markers, write_gtkw

    sigs = o.get("signals")
    if not sigs:
        return None
    P, epoch = o["period"], o["epoch"]
    marks = run_markers(r["res"].failures, epoch, P)
    return write_gtkw([tuple(s) for s in sigs], r["wave"], r["dir"] / "waves.gtkw", start=epoch * P,
                      end=(epoch + o["cycles"]) * P, markers=marks, period=P,
                      comment=f"{sc.name} [{r['policy']}]: run starts at cycle {epoch} "
                              f"(trace time 0 = {epoch * P} steps); markers: violating device reads")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tb.sim", description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="scenarios/cow_timeline.scn", help="scenario file, or 'random'")
    ap.add_argument("--policy", default="all", choices=["all"] + [p.value for p in POLICIES])
    ap.add_argument("--seed", type=nonneg_int, default=1)
    ap.add_argument("--waves", type=int, default=0, choices=[0, 1])
    ap.add_argument("--mode", default="auto", choices=["auto", "script", "random"],
                    help="scheduler mode (auto: script for files, random for --scenario random)")
    ap.add_argument("--out", help="output directory (default: build/sim/<scenario file name>)")
    ap.add_argument("--latency", type=latency_range(2), default=None,
                    help="AXI response latency range lo,hi in cycles (lo >= 2)")
    ap.add_argument("--reorder", type=int, choices=[0, 1], default=None,
                    help="AXI responses may overtake across IDs (default: 1 for --scenario random, else 0)")
    ap.add_argument("--backpressure", type=int, choices=[0, 1], default=1,
                    help="seeded READY/VALID stalls and AXI latency tail (tb.rtldev.BACKPRESSURE); 0: every READY high")
    ap.add_argument("--directed", action="store_true",
                    help="random mode: the coverage director chooses the interleaving (model.director)")
    ap.add_argument("--device-bug", default="", choices=["", *DEVICE_BUGS],
                    help="run a test-only broken RTL: no-drain (DbgNoDrain) or no-poison (DbgNoPoison)")
    args = ap.parse_args(argv)
    try:  # checked before anything runs: a read-only build/ or a file as --out is one line
        out = out_dir(args.out or str(default_out(args.scenario))).resolve()
        args.out = out.relative_to(Path.cwd()) if out.is_relative_to(Path.cwd()) else out
    except argparse.ArgumentTypeError as e:
        ap.error(f"argument --out: {e}")
    from model.scenario import ScenarioError
    from tb.toolchain import BuildError

    with open(Path(args.out) / ".lock", "a") as lock:
        try:  # two runs writing one directory would mix their files: the second one stops
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            ap.error(f"argument --out: {args.out} is in use by another run; give this one its own OUT=/--out")
        try:
            return run_all(args)
        except (ScenarioError, BuildError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 2


if __name__ == "__main__":
    run_main(main)
