"""Build logs: compiler and tool output goes to a file, and a failure shows the file's tail.

Verilator and the C++ compiler (tb/toolchain.py build_rtl), Yosys and nextpnr
(tb/fpga.py) write everything to a log beside their outputs; the console
gets a progress line (model/progress.py, whose note is the log's latest
line) and, when a build fails, the last
`TAIL_LINES` lines of its log and the log's path, which is where the first
error usually is not but the reason it stopped is.
"""
from __future__ import annotations

from pathlib import Path

TAIL_LINES = 40


def log_tail(log: Path, n: int = TAIL_LINES) -> str:
    """The last `n` lines of `log` ("" when it cannot be read)."""
    try:
        lines = Path(log).read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(lines[-n:])


def failure_text(what: str, log: Path, detail: str = "") -> str:
    """`what failed (detail); last 40 lines of LOG:` + the tail + the log's path again."""
    head = f"{what} failed" + (f" ({detail})" if detail else "")
    return f"{head}; last {TAIL_LINES} lines of {log}:\n{log_tail(log)}\n{head}: full log {log}"
