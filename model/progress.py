"""Progress of long runs: a live bar on a terminal, a few plain lines in a log.

Used by the exploration search (model/explore.py), synthesis and
place-and-route (tb/fpga.py). rich draws the bar: what is done, the rate, the
time elapsed and, when the total is known, the time left.

rich (15.0) alone prints a single final frame into a file or a pipe, but it
animates whenever it believes it writes to a terminal, which it also believes
when FORCE_COLOR or TTY_COMPATIBLE=1 is set, as CI systems often do; every
refresh then lands in the log as another carriage-return frame (it ignores
CI=true). So the bar is live only on a real terminal (isatty) that rich finds
interactive, and CI is not set. Otherwise (CI=true, output to a file or a
pipe) the same progress prints one line when it starts, one at most every
`every` seconds, and one when it ends.

Counting is cheap (`advance` adds to a number); a background thread reads it
for the display, so the hot loop of a search pays for no rendering.
"""
from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

CI_VALUES = ("1", "true", "yes")


def live_allowed(stream: IO[str] | None = None) -> bool:
    """A live bar only on an interactive terminal that really is one, and never under CI
    (rich alone would animate into a file or pipe when FORCE_COLOR / TTY_COMPATIBLE=1 is set)."""
    if os.environ.get("CI", "").strip().lower() in CI_VALUES:
        return False
    stream = stream or sys.stderr
    try:
        if not stream.isatty():
            return False
    except (AttributeError, ValueError):  # no isatty, or closed
        return False
    from rich.console import Console

    return Console(file=stream).is_interactive


def last_line(log: Path, width: int = 80) -> str:
    """The log's latest non-empty line, clipped: what the tool is doing now, for a progress note."""
    try:
        with open(log, "rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - 4096))
            chunk = f.read().decode(errors="replace")
    except OSError:
        return ""
    lines = [ln.strip() for ln in chunk.splitlines() if ln.strip()]
    return lines[-1][:width] if lines else ""


def _fmt_rate(r: float) -> str:
    """A rate with a decimal below 10 (three cells in nine seconds is 0.3/s, not 0/s)."""
    return f"{r:,.0f}" if r >= 10 else f"{r:.1f}"


def _fmt_time(s: float) -> str:
    s = int(round(s))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


class Progress:
    """One task's progress (a context manager).

    `total` None: no ETA (the number of schedules of a search is not known in
    advance). `clock=True`: the task is a tool run whose progress is its time;
    `completed` follows the elapsed seconds and `total` is the expected
    duration (the last run's, when known), so the ETA is an estimate.
    `after`: seconds before anything is shown (nothing at all for a task done
    sooner). `watch`: a log file whose latest line is shown as the note.
    """

    def __init__(self, what: str, total: float | None = None, unit: str = "", *, clock: bool = False,
                 stream: IO[str] | None = None, every: float = 30.0, live: bool | None = None,
                 after: float = 0.0, watch: Path | None = None) -> None:
        self.what = what
        self.total = total
        self.unit = unit
        self.clock = clock
        self.completed: float = 0
        self.note = ""
        self.stream = stream or sys.stderr
        self.every = every
        self.live = live_allowed(self.stream) if live is None else live
        self.t0 = time.monotonic()
        self.seconds = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._bar: Any = None
        self._task: Any = None
        self.after = after  # show nothing unless the task runs longer than this (a cached build)
        self._shown = False
        self.watch = watch  # a log file: its latest line is the note (what the tool is doing)

    # ------------------------------------------------------------------ counting

    def advance(self, n: float = 1) -> None:
        self.completed += n

    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    def rate(self) -> float:
        e = self.elapsed()
        return self.completed / e if e > 0 else 0.0

    # ------------------------------------------------------------------ display

    def line(self, final: bool = False) -> str:
        """The plain-text form: `[what] 1234 schedules, 410/s, 0:03 elapsed, 0:10 left (note)`."""
        e = self.elapsed()
        if self.clock:
            parts = [f"{'done in' if final else 'running'} {_fmt_time(e)}"]
            if not final and self.total:
                parts.append(f"about {_fmt_time(max(0.0, self.total - e))} left (last run {_fmt_time(self.total)})")
        else:
            done = f"{int(self.completed)}" + (f"/{int(self.total)}" if self.total else "")
            parts = [f"{done} {self.unit}".rstrip(), f"{_fmt_rate(self.rate())} {self.unit or 'items'}/s",
                     f"{_fmt_time(e)} elapsed"]
            if not final and self.total and self.completed:
                parts.append(f"{_fmt_time((self.total - self.completed) / self.rate())} left")
        note = f" ({self.note})" if self.note and not final else ""
        return f"[{self.what}] " + ", ".join(parts) + note

    def _columns(self) -> list:
        from rich.progress import (BarColumn, ProgressColumn, SpinnerColumn, TextColumn, TimeElapsedColumn,
                                   TimeRemainingColumn)
        from rich.markup import escape
        from rich.text import Text

        unit = self.unit

        class Rate(ProgressColumn):
            def render(self, task: Any) -> Text:
                speed = task.finished_speed or task.speed
                return Text(f"{_fmt_rate(speed)} {unit or 'items'}/s" if speed else f"? {unit or 'items'}/s")

        cols: list = [SpinnerColumn(), TextColumn(f"[bold]{escape(self.what)}[/]"), BarColumn(bar_width=20)]
        if self.clock:
            cols += [TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(elapsed_when_finished=True)]
        else:
            count = "{task.completed:.0f}" + ("/{task.total:.0f}" if self.total else "") + f" {unit}"
            cols += [TextColumn(count), Rate(), TimeElapsedColumn()]
            if self.total:
                cols += [TextColumn("ETA"), TimeRemainingColumn()]
        cols.append(TextColumn("{task.description}"))
        return cols

    def _sync(self) -> None:
        if self.watch is not None:
            self.note = last_line(self.watch)
        if self.clock:
            self.completed = self.elapsed()
            if self.total is not None and self.completed > self.total:
                self.total = self.completed * 1.1  # longer than last time: keep the bar short of full
        from rich.markup import escape

        self._bar.update(self._task, completed=self.completed, total=self.total, description=escape(self.note[-60:]))

    def _begin(self) -> None:
        """Start showing: the live bar, or the plain start line."""
        self._shown = True
        if self.live:
            from rich.console import Console
            from rich.progress import Progress as Bar

            self._bar = Bar(*self._columns(), console=Console(file=self.stream), transient=True,
                            refresh_per_second=5)
            self._bar.start()
            self._task = self._bar.add_task("", total=self.total)
        else:
            start = f"last run {_fmt_time(self.total)}" if self.clock and self.total else \
                f"{self.total:.0f} {self.unit}" if self.total else ""
            print(f"[{self.what}] started" + (f" ({start})" if start else ""), file=self.stream, flush=True)

    def _run(self) -> None:
        if not self._shown:
            if self._stop.wait(self.after):
                return  # done before it was worth showing
            self._begin()
        if self.live:
            while not self._stop.wait(0.2):
                self._sync()
        else:
            while not self._stop.wait(self.every):
                if self.watch is not None:
                    self.note = last_line(self.watch)
                print(self.line(), file=self.stream, flush=True)

    def __enter__(self) -> "Progress":
        self.t0 = time.monotonic()
        if self.after <= 0:
            self._begin()
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"progress-{self.what}")
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.seconds = self.elapsed()
        if not self._shown:
            return
        if self._bar is not None:
            self._bar.stop()
        print(self.line(final=True) + (" (failed)" if exc[0] is not None else ""), file=self.stream, flush=True)
