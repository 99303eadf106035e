"""Which RTL the co-simulation builds, and how it is built and launched.

The one place that selects build parameters: `COSIM_PARAMS` (every
co-simulation build) and `DEVICE_BUGS` (the test-only broken devices), merged
with a caller's own in `build`. The build compiles the generated wrapper
(tb/cosim/wrapper.py) through tb.toolchain.build_rtl; `run_sim` runs a
cocotb module on it.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from tb.cosim.config import BUILD
from tb.cosim.wrapper import LEAN_VLT, WRAP_TOP, clock_wrapper

# RTL parameters of every co-simulation build (ahead of a caller's own): scenarios may
# use DEV-thread-0..7, so the device is built with the most threads it allows (ThreadW
# 3 bits: AXI ids and Translation Request ids carry 3 bits of thread).
COSIM_PARAMS = {"NumThreads": 8}

# Test-only broken devices (docs/ARCHITECTURE.md 5): variant -> RTL parameters. Each
# parameter set is built in its own directory (tb.toolchain.param_tag).
DEVICE_BUGS = {"no-drain": {"DbgNoDrain": 1}, "no-poison": {"DbgNoPoison": 1}}


def scenario_params(sc: Any) -> dict:
    """RTL parameters a scenario's device needs beyond COSIM_PARAMS (a scenario
    directive that is an RTL parameter, not an input): `atc-huge split` -> AtcSplitHuge=1."""
    return {"AtcSplitHuge": 1} if getattr(sc, "atc_huge", "whole") == "split" else {}


def scenario_params_of_build() -> dict:
    """The caller's parameters of the running co-simulation build (CosimServer passes them in ATS_PARAMS)."""
    return json.loads(os.environ.get("ATS_PARAMS", "{}") or "{}")


def build(waves: bool = False, params: dict | None = None, tag: str | None = None) -> Path:
    """Build (cached; tb.toolchain.build_rtl locks and fixes the PCH flag) the co-simulation model.

    Both builds simulate the generated wrapper (cosim_top: Verilog clock, the
    C++ AXI slave) around ats_dev_top, so a run with waves behaves exactly
    like one without. Without waves only the wrapper's ports and slots are
    VPI-visible (a faster model); with waves every signal is, so the GTKWave
    save file is generated from the names the simulator reports.
    """
    from tb import toolchain

    params = {**COSIM_PARAMS, **(params or {})}
    tag = tag or ("cosim_waves" if waves else "cosim")
    if params:
        tag += "_" + toolchain.param_tag(params)
    from tb.axi_top import CSRC, SLAVE_CPP, SLAVE_SV

    RSP_CPP = CSRC / "cosim_rsp.cpp"  # the response log (tb/cosim/ports.py Ports.poll)

    wrap = clock_wrapper()
    # verilated.mk compiles the model with -Os; -O2 is a little faster per cycle.
    flags = os.environ.get("MAKEFLAGS", "")
    if "OPT_FAST" not in flags:
        os.environ["MAKEFLAGS"] = (flags + " OPT_FAST=-O2").strip()
    # --timing needs C++20 coroutines; this wheel's verilated.mk leaves their flags empty.
    # The AXI slave is C++ in the model (DPI; -rdynamic lets ctypes find its functions).
    extra = ["--timing", "--timescale", "1ns/1ps", "-Wno-TIMESCALEMOD", "-CFLAGS", "-std=c++20",
             "-CFLAGS", "-fcoroutines", str(SLAVE_CPP), str(RSP_CPP), "-LDFLAGS", "-rdynamic"]
    if not waves:
        vlt = BUILD / "rtl" / "cosim_ports.vlt"
        vlt.parent.mkdir(parents=True, exist_ok=True)
        if not vlt.exists() or vlt.read_text() != LEAN_VLT:
            vlt.write_text(LEAN_VLT)
        extra = ["--no-public-flat-rw", str(vlt)] + extra
    return toolchain.build_rtl(params, waves=waves, tag=tag, toplevel=WRAP_TOP,
                               sources=toolchain.rtl_sources() + [SLAVE_SV, wrap], extra_args=extra)


def run_sim(module: str, build_dir: Path, *, env: dict | None = None, waves: bool = False,
            wave_file: Path | None = None, seed: int = 1, test_dir: Path | None = None,
            results_xml: Path | None = None, log_file: Path | None = None) -> Path:
    """Run cocotb test module `module` (tb/) on a build; raise AssertionError on failure."""
    from tb import toolchain

    e = {"COCOTB_TRUST_INERTIAL_WRITES": "1", "COCOTB_LOG_LEVEL": os.environ.get("COCOTB_LOG_LEVEL", "WARNING")}
    e.update({k: str(v) for k, v in (env or {}).items()})
    test_dir = Path(test_dir or build_dir).resolve()
    test_dir.mkdir(parents=True, exist_ok=True)
    args = ["--trace-file", str(Path(wave_file).resolve())] if (waves and wave_file) else []
    xml, _ = toolchain.run_cocotb(module, build_dir, toplevel=WRAP_TOP, extra_env=e, waves=waves, seed=seed,
                                  results_xml=str(results_xml or (test_dir / f"{module}.xml")),
                                  test_dir=test_dir, test_args=args, log_file=log_file)
    return xml
