"""RTL smoke test: runs the directed cocotb cases of tb/smoke_test.py (walk +
ATC hit + PWC, every fault cause, invalidation + completion, the poison and
drain rules) end to end against

* rtl/ as Verilator reads it, with default parameters;
* a small variant (no PWC, one walk slot, 4 ATC entries);
* rtl/ as Yosys 0.23 reads it (`read_verilog -sv`, proc, flatten, written back
  as Verilog), so a construct the synthesis frontend understands differently
  from Verilator fails here instead of silently in `make synth`.
"""
from __future__ import annotations

import shutil
import subprocess

import pytest

from tb import toolchain

def _run(params: dict, tag: str, extra_env: dict, sources=None) -> int:
    """Build and run the smoke cases; returns how many ran (any failure raises)."""
    extra = ["-Wno-lint", "-Wno-style"] if sources else None
    build = toolchain.build_rtl(params, tag=tag, sources=sources, extra_args=extra)
    _, tests = toolchain.run_cocotb("tb.smoke_test", build, extra_env=extra_env, seed=1,
                                    results_xml=str(build / "smoke_results.xml"))
    return tests


def _check(tests: int, tag: str) -> None:
    assert tests == 5, f"expected 5 cocotb tests, ran {tests} (build/rtl/{tag}/smoke_results.xml)"


@pytest.mark.parametrize("params,tag", [
    ({}, "rtl_smoke"),
    ({"PwcEntries": 0, "NumWalks": 1, "AtcEntries": 4}, "rtl_smoke_nopwc"),
])
def test_rtl_smoke(params, tag):
    _check(_run(params, tag, {"SMOKE_PWC": int(params.get("PwcEntries", 8) > 0)}), tag)


def test_rtl_smoke_yosys_frontend():
    assert shutil.which("yosys"), "yosys missing: `make` installs it (Debian yosys) when run as root"
    tag = "rtl_smoke_yosys"
    out = toolchain.BUILD / "rtl" / f"{tag}_src"
    out.mkdir(parents=True, exist_ok=True)
    net = out / "ats_dev_top_yosys.v"
    fresh = out / "fresh.v"
    srcs = " ".join(str(s) for s in toolchain.rtl_sources())
    script = (f"read_verilog -sv {srcs}; hierarchy -check -top {toolchain.TOPLEVEL}; "
              f"proc; flatten; opt -fast; write_verilog -noattr {fresh}")
    r = subprocess.run(["yosys", "-q", "-p", script], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    # an identifier Yosys had to declare implicitly is a construct it did not understand
    assert "implicitly declared" not in r.stdout + r.stderr, r.stdout + r.stderr
    # keep the old file (and so the cached Verilator build) when nothing changed
    if not net.exists() or net.read_bytes() != fresh.read_bytes():
        fresh.replace(net)
    _check(_run({}, tag, {"SMOKE_PWC": 1}, sources=[net]), tag)
