"""Drive kernel operations without the scheduler (unit tests of mm, notifier, ops).

`InstantDevice` stands in for the device where only the invalidation
handshake matters: every request completes at once. `drive` runs one
operation to completion, delivering completions whenever the operation
blocks, and fails if it blocks on anything a completion cannot clear.
"""
from __future__ import annotations

from model.ats import InvalidateRequest
from model.memory import PhysMem
from model.mm import Blocked, Step
from model.notifier import Policy
from model.scenario import parse
from model.scheduler import Host
from model.trace import Trace

SETUP = """\
vma 0x10000000 0x10010000 anon rw mergeable
vma 0x20000000 0x20004000 file ro file=text
vma 0x40000000 0x40200000 anon rw
page A 0x10000000 present
page B 0x10002000 cow
page Z 0x10004000 zero
page N 0x10005000 none
page F 0x20000000 file
page H 0x40000000 huge
[Time 0]
"""


class InstantDevice:
    """Completes every Invalidate Request immediately; remembers them with the clock."""

    def __init__(self) -> None:
        self.now = 0
        self.requests: list[tuple[int, InvalidateRequest]] = []
        self._cpl: list[int] = []

    def invalidate(self, req: InvalidateRequest) -> None:
        self.requests.append((self.now, req))
        self._cpl.append(req.itag)

    def take_completions(self) -> list[int]:
        out, self._cpl = self._cpl, []
        return out

    def take_responses(self) -> list:
        return []

    def thread_idle(self, thread: int) -> bool:
        return True


def make_host(policy: str | Policy = "notify-inside-lock", setup: str = SETUP,
              device: InstantDevice | None = None, wp_fault: str | None = None) -> tuple[Host, InstantDevice]:
    dev = device or InstantDevice()
    text = setup if wp_fault is None else f"wp-fault {wp_fault}\n" + setup
    sc = parse(text, "<test>")
    host = Host(sc, dev, PhysMem(), 0x1000, Trace(), Policy.parse(policy))
    return host, dev


def drive(host: Host, gen, dev: InstantDevice, *, until: str | None = None) -> list[Step]:
    """Run gen until it returns (or has yielded step `until`); one cycle per step."""
    steps: list[Step] = []
    while True:
        try:
            y = next(gen)
        except StopIteration:
            return steps
        if isinstance(y, Blocked):
            for tag in dev.take_completions():
                host.secondary.complete(tag)
            if not y.ready():
                raise AssertionError(f"operation blocked: {y.reason}")
            continue
        steps.append(y)
        dev.now += 1
        if until is not None and y.name == until:
            return steps


def names(steps: list[Step]) -> list[str]:
    return [s.name for s in steps]
