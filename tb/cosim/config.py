"""Bench-side knobs of the co-simulation: latency, reordering, bus errors, back-pressure, watchdogs.

The RTL's own parameters are Verilog parameters (tb/cosim/build.py selects
them); everything here is decided by the testbench and seeded, so a run
replays.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "build"  # the co-simulation's builds, wrapper and run directories


# The co-simulation's default back-pressure (CosimConfig.stall / latency_tail; also
# `make stress`): each port refuses for short random stretches (a few per cent of the
# cycles) and 1 AXI response in 16 takes 8..40 cycles. Chosen so every expectation
# of the matrix and the shipped scenarios holds on the RTL (checked over several
# seeds) while accesses wait at the AXI port after their lookup and walks and
# completions are late.
BACKPRESSURE: dict = {
    "stall": {"ar": (0.08, 8), "aw": (0.08, 8), "rsp": (0.08, 4), "invc": (0.1, 16), "cmd": (0.05, 4),
              "inv": (0.05, 8)},
    "latency_tail": (1 / 16, 8, 40),
}
NO_BACKPRESSURE: dict = {"stall": {}, "latency_tail": None}


@dataclass
class CosimConfig:
    """Bench-side knobs (the RTL's own parameters are Verilog parameters)."""

    period_ns: int = 10
    # Cycle the AXI request was VALID (its access's time) -> response handshake, cycles
    # (uniform). At least 2: the C++ slave answers at the earliest in the cycle after the
    # address handshake (tb/cosim/axi_port.py gives it latency - 1 from acceptance).
    latency: tuple[int, int] = (2, 2)
    reorder: bool = False  # responses of different AXI IDs may overtake each other
    seed: int = 0
    # (pa, "walk" | "dma") -> True to answer that access with SLVERR
    bus_error: Callable[[int, str], bool] | None = None
    # Deliberate faults in the slave, to prove the scoreboard and the watchdog can fail:
    # "rdata" flips bit 0 of DMA read data on R (the log keeps the served value),
    # "walk" flips bit 13 of every walker read (wrong tables/pages),
    # "drop" never answers the first DMA read (a hung command).
    tamper: str | None = None
    cmd_timeout: int = 50_000  # cycles a command may stay unanswered before the watchdog fires
    inv_timeout: int = 50_000  # cycles an Invalidate Request may stay uncompleted
    num_threads: int = 8  # COSIM_PARAMS["NumThreads"]: the co-simulation builds the RTL with 8
    # Back-pressure and latency spread (all seeded by `seed`, so a run replays).
    # stall: port -> (p, n): each cycle a stretch of 1..n cycles (n rounded up to a power
    # of two, at most 256) starts with probability p, during which the port refuses:
    #   "ar", "aw" (AW and W together: the slave takes them as a pair), "rsp", "invc"
    #   hold the RTL's READY low; "cmd", "inv" delay presenting the next queued command /
    #   Invalidate Request (a VALID already up stays up until its handshake).
    # Generated in Verilog by the wrapper (`_BP_HDL`), so it costs no Python wakes.
    # Default: BACKPRESSURE (every port); stall={} and latency_tail=None turn it off.
    stall: dict = field(default_factory=lambda: dict(BACKPRESSURE["stall"]))
    # latency_tail (p, lo, hi): with probability p an AXI response takes lo..hi cycles
    # (if that is longer than its latency: a spread with a long tail; with `reorder`
    # later IDs overtake).
    latency_tail: tuple[float, int, int] | None = field(default_factory=lambda: BACKPRESSURE["latency_tail"])
    walk_latency: tuple[int, int] | None = None  # latency of walker reads (default: `latency`)
    # ar_hold: every DMA read of a thread in ar_hold_threads (bit mask) waits this many
    # cycles at the AXI port after it first raises ARVALID (deterministic: scenarios use it
    # to keep an access that passed its ATC lookup in front of the port).
    ar_hold: int = 0
    ar_hold_threads: int = 0xFF

    def __post_init__(self) -> None:
        self.latency = tuple(self.latency)
        lo, hi = self.latency
        if not 2 <= lo <= hi:
            raise ValueError("latency must satisfy 2 <= lo <= hi")
        for name in ("walk_latency", "latency_tail"):
            v = getattr(self, name)
            if v is not None:
                setattr(self, name, tuple(v))
        if self.walk_latency is not None and not 2 <= self.walk_latency[0] <= self.walk_latency[1]:
            raise ValueError("walk_latency must satisfy 2 <= lo <= hi")
        if self.latency_tail is not None:
            p, lo, hi = self.latency_tail
            if not (0 <= p <= 1 and 2 <= lo <= hi):
                raise ValueError("latency_tail must be (p in [0, 1], lo, hi) with 2 <= lo <= hi")
        self.stall = {k: tuple(v) for k, v in (self.stall or {}).items()}
        for k, (p, n) in self.stall.items():
            if k not in BP_PORTS:
                raise ValueError(f"stall: unknown port {k!r} (known: {', '.join(BP_PORTS)})")
            if not (0 <= p <= 1 and 1 <= n <= 256):
                raise ValueError(f"stall[{k}]: need 0 <= p <= 1 and 1 <= n <= 256, got {(p, n)}")
        if not 0 <= self.ar_hold < 1 << 16:
            raise ValueError("ar_hold must be below 65536 cycles")

    def bp_words(self) -> list[int]:
        """The wrapper's bp_cfg words: {stretch mask, start threshold (of 256)} per port."""
        out = []
        for k in BP_PORTS:
            p, n = self.stall.get(k, (0.0, 1))
            thr = min(255, round(p * 256))
            mask = (1 << max(0, (n - 1).bit_length())) - 1
            out.append((min(mask, 255) << 8) | thr)
        return out


BP_PORTS = ("ar", "aw", "rsp", "invc", "cmd", "inv")  # order of the wrapper's bp_cfg / bp_sn


class DeviceError(RuntimeError):
    """The RTL broke the port protocol or the watchdog fired."""

