"""`python -m tb.matrix`: the verdict matrix (model.matrix) with the RTL device columns.

model/ never imports tb/, so the RTL runner is handed to model.matrix from
here: `--device rtl` runs each cell on ats_dev_top in Verilator, and
`rtl-no-drain` / `rtl-no-poison` on the test-only broken builds.
"""
from __future__ import annotations

from model import matrix
from model.cli import run_main


def rtl_runner(device: str) -> matrix.Runner:
    """The runner of one RTL column: tb.rtldev.run_scenario_rtl, with the device's test-only switch."""
    from tb.rtldev import run_scenario_rtl

    bug = matrix.device_variant(device)
    if bug:
        return lambda sc, policy, seed: run_scenario_rtl(sc, policy, seed, device_bug=bug)
    return run_scenario_rtl


def main(argv: list[str] | None = None) -> int:
    return matrix.main(argv, rtl=rtl_runner, prog="python -m tb.matrix")


if __name__ == "__main__":
    run_main(main)
