"""Command-line plumbing shared by every `python -m ...` entry point.

Bad input must end in one argparse-style line and exit status 2, never a
traceback, and it must be caught before any run starts (a typo in `--doc`
should not cost a whole matrix run). The argparse `type=` validators here do
that for numbers, latency ranges and output paths; `run_main` makes a CLI
piped into `head` exit quietly instead of printing a BrokenPipeError.
"""
from __future__ import annotations

import argparse
import os
import shlex
import sys
import tempfile
from pathlib import Path
from typing import Callable

MAX_LINE_ECHO = 80
ROOT = Path(__file__).resolve().parent.parent


def python_cmd() -> str:
    """How a printed command starts, so that it runs as printed from the repository root
    in a fresh shell (no activated venv): the project's `.venv/bin/python`."""
    if os.path.lexists(ROOT / ".venv" / "bin" / "python"):
        return ".venv/bin/python"
    return shlex.quote(sys.executable)


def repo_path(p: str | Path) -> str:
    """`p` as a printed command needs it from the repository root: relative inside it, else absolute."""
    a = Path(p).resolve()
    try:
        return str(a.relative_to(ROOT))
    except ValueError:
        return str(a)


def clip(text: str, n: int = MAX_LINE_ECHO) -> str:
    """`text` cut to about `n` characters, so an error never echoes a 20 KB line."""
    return text if len(text) <= n else text[:n] + f"... ({len(text)} characters)"


def int_at_least(lo: int) -> Callable[[str], int]:
    """argparse type: an integer >= lo (decimal, 0x.. or 0b..)."""

    def conv(s: str) -> int:
        try:
            v = int(s, 0)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{clip(s)!r} is not an integer") from None
        if v < lo:
            raise argparse.ArgumentTypeError(f"{v} is less than {lo}")
        return v

    conv.__name__ = f"integer >= {lo}"
    return conv


positive_int = int_at_least(1)
nonneg_int = int_at_least(0)


def latency_range(lo_min: int = 2) -> Callable[[str], tuple[int, int]]:
    """argparse type: 'LO,HI' cycles with lo_min <= LO <= HI (the AXI slave's response latency)."""

    def conv(s: str) -> tuple[int, int]:
        parts = s.split(",")
        if len(parts) != 2:
            raise argparse.ArgumentTypeError(f"{clip(s)!r}: expected LO,HI (two integers, e.g. 2,5)")
        try:
            lo, hi = (int(p.strip(), 0) for p in parts)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{clip(s)!r}: expected LO,HI (two integers, e.g. 2,5)") from None
        if lo < lo_min:
            raise argparse.ArgumentTypeError(f"{s!r}: LO must be at least {lo_min} cycles")
        if hi < lo:
            raise argparse.ArgumentTypeError(f"{s!r}: HI must not be below LO")
        return lo, hi

    conv.__name__ = "latency range"
    return conv


def probe_writable(d: Path) -> str | None:
    """Why a file cannot be created in `d` (the OS's reason), or None when it can.

    Creating a file is the only reliable test: permission bits say nothing for
    root, a read-only mount or a full disk."""
    try:
        with tempfile.TemporaryFile(dir=d):
            pass
    except OSError as e:
        return e.strerror or str(e)
    return None


def out_dir(s: str) -> Path:
    """argparse type: an output directory, created if missing, that can be written."""
    p = Path(s)
    try:
        if os.path.lexists(p) and not p.is_dir():
            raise argparse.ArgumentTypeError(f"{s}: exists and is not a directory")
        p.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise argparse.ArgumentTypeError(f"{s}: cannot create the directory ({e.strerror or e})") from None
    why = probe_writable(p)
    if why:
        raise argparse.ArgumentTypeError(f"{s}: cannot write there ({why})")
    return p


def out_file(s: str) -> Path:
    """argparse type: a file to write whose directory already exists and can be written."""
    p = Path(s)
    parent = p.parent if str(p.parent) else Path(".")
    try:
        if p.is_dir():
            raise argparse.ArgumentTypeError(f"{s}: is a directory")
        if not parent.is_dir():
            raise argparse.ArgumentTypeError(f"{s}: directory {parent} does not exist")
        if os.path.lexists(p) and not os.access(p, os.W_OK):
            raise argparse.ArgumentTypeError(f"{s}: not writable")
    except OSError as e:
        raise argparse.ArgumentTypeError(f"{s}: cannot check the path ({e.strerror or e})") from None
    why = probe_writable(parent)
    if why:
        raise argparse.ArgumentTypeError(f"{s}: cannot write in {parent} ({why})")
    return p


def run_main(main: Callable[[], int]) -> None:
    """Run a CLI's main and exit with its status; a closed stdout (`| head`) ends it quietly."""
    try:
        status = main()
        sys.stdout.flush()
    except BrokenPipeError:
        # Python flushes stdout again at exit; point it at /dev/null so that flush is silent.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        status = 0  # the reader went away (`| head`): not an error of this program
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        status = 130
    raise SystemExit(status)
