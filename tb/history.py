"""`python -m tb.history` (`make history`): the kernel history rows on the RTL and the reference device.

model.history runs the rows; the RTL runner (tb.rtldev.run_scenario_rtl) is
handed to it from here, since model/ never imports tb/.
"""
from __future__ import annotations

from model import history
from model.cli import run_main


def main(argv: list[str] | None = None) -> int:
    from tb.rtldev import run_scenario_rtl

    return history.main(argv, rtl=run_scenario_rtl, prog="python -m tb.history")


if __name__ == "__main__":
    run_main(main)
