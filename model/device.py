"""What the scheduler sees of a device: commands, responses, the Device protocol.

Both the transaction-level reference device (`model.refdev.RefDevice`) and the
RTL binding (`tb.cosim.device.RtlDevice`) import these, so a scenario runs against
either without knowing which one it drives (docs/ARCHITECTURE.md section 6).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Coroutine, Protocol, Sequence, TypeVar, runtime_checkable

from .ats import Fault, InvalidateRequest
from .trace import fast_init

R = TypeVar("R")


@fast_init
@dataclass(frozen=True)
class DevCommand:
    """One 8-byte device access on a device thread (the RTL command port)."""

    thread: int
    write: bool
    pasid: int
    va: int
    wdata: int = 0


def check_command(cmd: DevCommand, busy: Sequence[object | None]) -> None:
    """What every device refuses in `submit` (the reference device and the RTL
    alike): a thread it does not have (`busy` has one slot per thread, None when
    idle), a thread still busy, a field wider than its port (VA and data 64 bits,
    PASID 20 bits)."""
    if not 0 <= cmd.thread < len(busy):
        raise ValueError(f"thread {cmd.thread} outside 0..{len(busy) - 1}")
    if busy[cmd.thread] is not None:
        raise RuntimeError(f"thread {cmd.thread} is busy")
    if not (0 <= cmd.va < 1 << 64 and 0 <= cmd.wdata < 1 << 64 and 0 <= cmd.pasid < 1 << 20):
        raise ValueError(f"command field out of range: {cmd}")


@fast_init
@dataclass(frozen=True)
class DevResponse:
    """The one response to a DevCommand, in order within its thread.

    `fault` is a `model.ats.Fault` value (0 = OK). `issue` is the cycle the
    command was accepted, `complete` the cycle the response left the device,
    `mem_time` the cycle the memory port performed the access (None when the
    command faulted before reaching memory).
    """

    thread: int
    fault: int
    rdata: int
    pa: int
    atc_hit: bool
    issue: int
    complete: int
    mem_time: int | None

    @property
    def ok(self) -> bool:
        return self.fault == Fault.NONE


@runtime_checkable
class Device(Protocol):
    now: int

    def thread_idle(self, thread: int) -> bool: ...

    def submit(self, cmd: DevCommand) -> None: ...

    def invalidate(self, req: InvalidateRequest) -> None: ...

    async def run(self, cycles: int) -> None: ...

    def take_responses(self) -> list[DevResponse]: ...

    def take_completions(self) -> list[int]: ...


def run_sync(coro: Coroutine[Any, Any, R]) -> R:
    """Drive a coroutine that never really suspends (the reference device's run()).

    The scheduler is written against `async def run` so it can await simulator
    time under cocotb; without a simulator there is nothing to wait for, and an
    event loop would only add cost and nondeterminism. A coroutine that does
    suspend here is a bug (it awaited something real), so it is closed and
    reported rather than silently dropped.
    """
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value
    coro.close()
    raise RuntimeError("run_sync: coroutine suspended; it awaited something that needs an event loop")
