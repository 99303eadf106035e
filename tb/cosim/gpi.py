"""Raw signal access through the GPI, without the cocotb scheduler.

The co-simulation never runs Python per clock; when it does run, it reads and
writes the wrapper's ports, slots, queues and rings through these handles
directly (an integer per access, not a binary string, wherever the field fits
in 32 bits), which is several times cheaper than cocotb's handle objects.
"""
from __future__ import annotations

from typing import Any

M32 = 0xFFFFFFFF


def simulator() -> Any:
    """cocotb.simulator (importable only inside a simulation)."""
    from cocotb import simulator as sim

    return sim


class Sig:
    """A port handle written and read through the GPI directly (no cocotb scheduler)."""

    __slots__ = ("h", "w", "name", "_fmt", "last")

    def __init__(self, dut: Any, name: str) -> None:
        obj = getattr(dut, name)
        self.h = obj._handle
        self.w = len(obj)
        self.name = name
        self._fmt = f"0{self.w}b"
        self.last: int | None = None  # last value written (inputs are written only from here)

    @classmethod
    def of(cls, obj: Any, name: str) -> "Sig":
        self = cls.__new__(cls)
        self.h = obj._handle
        self.w = len(obj)
        self.name = name
        self._fmt = f"0{self.w}b"
        self.last = None
        return self

    def get(self) -> int:
        if self.w <= 32:
            v = self.h.get_signal_val_long()
            return v + (1 << self.w) if v < 0 else v
        s = self.h.get_signal_val_binstr()
        try:
            return int(s, 2)
        except ValueError:  # X/Z bits: read them as 0 (only seen before reset)
            return int("".join(c if c in "01" else "0" for c in s), 2)

    def set(self, v: int) -> None:
        if v == self.last:
            return
        self.last = v
        if self.w <= 32:
            self.h.set_signal_val_int(0, v)
        else:
            self.h.set_signal_val_binstr(0, format(v, self._fmt))


class Words:
    """An unpacked array of at most 32-bit words in the wrapper, written through the
    GPI as integers (the last value written to each element is remembered, so an
    unchanged element is not written again)."""

    __slots__ = ("h", "last", "name")

    def __init__(self, dut: Any, name: str, n: int) -> None:
        arr = getattr(dut, name)
        self.h = [arr[i]._handle for i in range(n)]
        self.last: list[int | None] = [None] * n
        self.name = name

    def set(self, i: int, v: int) -> None:
        if self.last[i] != v:
            self.last[i] = v
            self.h[i].set_signal_val_int(0, v)

    def get(self, i: int) -> int:
        return self.h[i].get_signal_val_long() & M32

