"""`make sim`: a scenario on the RTL under each notifier policy, with every report.

    python -m tb.sim --scenario scenarios/cow_timeline.scn --policy all --seed 1 --waves 1 --out build/sim
    python -m tb.sim --scenario random --seed 7 --policy deferred

For every policy the scenario runs on `ats_dev_top` in Verilator (host-model
scheduler + pyuvm environment, tb/env.py) and the command prints one verdict
table (failed rules, stale-window figures, scoreboard, agreement with the
reference device) followed by each violation with its addresses named as in
the scenario (addrA, addrB) and its cycle times. It writes, under --out:

    summary.json                 every run: verdicts, metrics, files, replay command
    <policy>/timeline.svg        the trace as the doc's table, violating reads highlighted
    <policy>/waves.fst|vcd       waveform (with --waves 1), FST when lz4 headers exist
    <policy>/waves.gtkw          GTKWave save file: signal groups and markers
    <policy>/trace.json          the full event trace

`--scenario random` generates a scenario from the seed (tb.stress) and runs
it with the seeded random scheduler. The exit status is 1 when a run
contradicts the scenario's `expect` lines, the scoreboard, or the reference
device; every such failure prints the seed and the command that replays it.
"""
from __future__ import annotations

import argparse
import json
import re
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from model.check import verdicts_to_json
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


def replay_cmd(args: argparse.Namespace, policy: str) -> str:
    parts = ["python", "-m", "tb.sim", "--scenario", args.scenario, "--policy", policy, "--seed", str(args.seed),
             "--waves", "1", "--out", args.out]
    if args.mode != "auto":
        parts += ["--mode", args.mode]
    if args.latency:
        parts += ["--latency", args.latency]
    if args.reorder is not None:
        parts += ["--reorder", str(args.reorder)]
    if args.device_bug:
        parts += ["--device-bug", args.device_bug]
    if not args.backpressure:
        parts += ["--backpressure", "0"]
    return " ".join(shlex.quote(p) for p in parts)


def axi_settings(args: argparse.Namespace) -> dict:
    """AXI slave latency/reordering: given on the command line, else the stress settings for
    --scenario random (so a stress seed replays exactly), else the slave's defaults."""
    out: dict = {}
    if args.latency:
        out["latency"] = tuple(int(x) for x in args.latency.split(","))
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
        from tb.stress import random_scenario

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
    from tb.rtldev import CosimServer, compare_with_ref
    from tb.toolchain import wave_format

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    sc, mode = load_scenario(args)
    policies = [p.value for p in POLICIES] if args.policy == "all" else [args.policy]
    names = sc.names()
    fmt = wave_format() if args.waves else None
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
            o = srv.call("scenario", scenario=sc, policy=pol, seed=args.seed, mode=mode,
                         repro=replay_cmd(args, pol), discover=bool(args.waves), **axi_settings(args))
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
    hdr = (f"{'policy':<22} {'verdict':<22} {'expected':<10} {'stale window':<30} {'cycles':>6}  {'scoreboard':<10} "
           f"vs ref")
    print(hdr)
    print("-" * len(hdr))
    bad_runs = []
    summary = {"scenario": sc.name, "path": args.scenario, "device": device_label(args.device_bug),
               "device_bug": args.device_bug or None, "mode": mode, "seed": args.seed,
               "waves": fmt, "runs": []}
    for r in runs:
        res, o, pol = r["res"], r["out"], r["policy"]
        failed = sorted(v for v in res.failed_rules if v not in ("rtl-vs-ref",))
        verdict = "clean" if not failed else ("VIOLATION: " + ",".join(failed))
        want = exp.get(pol)
        want_s = "-" if want is None else ("clean" if not want else ",".join(sorted(want)))
        stale, stale_m = stale_text(res)
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
        print(f"{pol:<22} {verdict:<22} {want_s:<10} {stale:<30} {o['cycles']:>6}  {sb_s:<10} {ref_s}")
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
    (out / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
    print(f"summary: {out / 'summary.json'}  ({time.monotonic() - t_all:.1f} s)")
    if bad_runs:
        print(f"\nFAILED: {len(bad_runs)} run(s) contradict the expectation, the scoreboard or the reference "
              f"device (seed {args.seed})")
        for r in bad_runs:
            print(f"  replay [{r['policy']}]: {replay_cmd(args, r['policy'])}")
        return 1
    return 0


def write_waves_gtkw(r: dict, o: dict, sc: Any, names: dict[int, str]) -> Path | None:
    from tb.gtkw import write_gtkw

    sigs = o.get("signals")
    if not sigs:
        return None
    P = o["period"]
    epoch = o["epoch"]
    res = r["res"]
    marks = []
    for v in res.failures:
        for e in v.events:
            t = getattr(e, "mem_time", None)
            if t is None:
                t = getattr(e, "time", None)
            if t is not None:
                marks.append((epoch + t) * P + P // 2)
    marks = sorted(set(marks))
    return write_gtkw([tuple(s) for s in sigs], r["wave"], r["dir"] / "waves.gtkw", start=epoch * P,
                      markers=marks, primary=marks[-1] if marks else None, period=P,
                      comment=f"{sc.name} [{r['policy']}]: run starts at cycle {epoch} "
                              f"(trace time 0 = {epoch * P} steps); markers: violating events")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tb.sim", description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="scenarios/cow_timeline.scn", help="scenario file, or 'random'")
    ap.add_argument("--policy", default="all", choices=["all"] + [p.value for p in POLICIES])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--waves", type=int, default=0, choices=[0, 1])
    ap.add_argument("--mode", default="auto", choices=["auto", "script", "random"],
                    help="scheduler mode (auto: script for files, random for --scenario random)")
    ap.add_argument("--out", default="build/sim")
    ap.add_argument("--latency", default="", help="AXI response latency range lo,hi in cycles (lo >= 2)")
    ap.add_argument("--reorder", type=int, choices=[0, 1], default=None,
                    help="AXI responses may overtake across IDs (default: 1 for --scenario random, else 0)")
    ap.add_argument("--backpressure", type=int, choices=[0, 1], default=1,
                    help="seeded READY/VALID stalls and AXI latency tail (tb.rtldev.BACKPRESSURE); 0: every READY high")
    ap.add_argument("--device-bug", default="", choices=["", *DEVICE_BUGS],
                    help="run a test-only broken RTL: no-drain (DbgNoDrain) or no-poison (DbgNoPoison)")
    args = ap.parse_args(argv)
    from model.scenario import ScenarioError

    try:
        return run_all(args)
    except ScenarioError as e:
        print(f"error: {e}", file=sys.stderr)
        print(f"replay: {replay_cmd(args, args.policy)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
