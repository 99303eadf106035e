"""The single event trace: every producer appends, every checker reads.

Producers are the host model (CPU stores/loads, PTE changes, frame life, op
steps), the device (reference or RTL monitors: device accesses, memory-port
accesses, invalidations). Times are device clock cycles on one global clock,
so an RTL run and a reference run produce comparable traces.
"""
from __future__ import annotations

import json
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Iterator, TypeVar

T = TypeVar("T")


def fast_init(cls: type[T]) -> type[T]:
    """Give a frozen dataclass a faster __init__ (same signature, same result).

    The __init__ a frozen dataclass generates sets every field through
    object.__setattr__, which costs about 1 us per event of ten fields; the
    trace gets a few events per device access, so that adds up. This one
    fills the instance dict directly. Equality, hashing, repr, asdict,
    pickling and the frozen __setattr__ are the dataclass's own.
    """
    fs = fields(cls)
    params = ", ".join(f.name if f.default is MISSING else f"{f.name}=_d_{f.name}" for f in fs)
    body = "".join(f"    d[{f.name!r}] = {f.name}\n" for f in fs) or "    pass\n"
    src = f"def __init__(self, {params}):\n    d = self.__dict__\n{body}"
    ns: dict = {f"_d_{f.name}": f.default for f in fs if f.default is not MISSING}
    exec(src, ns)  # noqa: S102 - generated from the class's own field names
    init = ns["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__doc__ = cls.__init__.__doc__
    cls.__init__ = init
    return cls


@fast_init
@dataclass(frozen=True)
class CpuStore:
    """A CPU store. Its index among all stores is the global write order."""

    time: int
    thread: str
    pasid: int
    va: int
    pa: int
    value: int


@fast_init
@dataclass(frozen=True)
class CpuLoad:
    time: int
    thread: str
    pasid: int
    va: int
    pa: int
    value: int


@fast_init
@dataclass(frozen=True)
class DevAccess:
    """One completed device command, with the instant it reached memory.

    `mem_time` is when the memory port performed the access (read data
    sampled / write data committed); None when the command faulted before it.
    """

    thread: int
    write: bool
    pasid: int
    va: int
    pa: int
    value: int  # read data, or write data
    issue: int
    complete: int
    fault: int = 0
    atc_hit: bool = False
    mem_time: int | None = None


@fast_init
@dataclass(frozen=True)
class MemAccess:
    """An access at the device's memory port (walker read or DMA)."""

    time: int
    source: str  # "walk" | "dma"
    pa: int
    write: bool
    value: int
    tag: int = 0  # walk slot or device thread
    error: bool = False


@fast_init
@dataclass(frozen=True)
class PteChange:
    """A leaf mapping change as the host wrote it to the page table."""

    time: int
    pasid: int
    va: int  # page base
    size: int
    old_pa: int | None  # None: not present before
    new_pa: int | None  # None: not present after
    writable: bool = False


@fast_init
@dataclass(frozen=True)
class FrameEvent:
    time: int
    pfn: int
    kind: str  # "alloc" | "free"
    owner: str = ""  # "anon", "pagetable", "ksm", "zero", ...


@fast_init
@dataclass(frozen=True)
class OpStep:
    """A kernel operation reached a named step (a preemption point)."""

    time: int
    thread: str
    op: str
    step: str
    detail: str = ""


@fast_init
@dataclass(frozen=True)
class InvReq:
    time: int
    itag: int
    pasid: int | None
    start: int
    size: int


@fast_init
@dataclass(frozen=True)
class InvCpl:
    time: int
    itag: int


@fast_init
@dataclass(frozen=True)
class ZeroFill:
    """The host made a page read as zeros at a virtual address: a fault that
    maps the zero page or a freshly zeroed anonymous page where nothing was
    mapped (first touch, or a refault after munmap/MADV_DONTNEED discarded the
    contents), or a THP collapse filling a none PTE with a zeroed subpage.

    Recorded at the instant the new mapping becomes visible (the time of its
    `PteChange`), just before it. The checkers treat it as a write of 0 to
    every address inside [va, va + size) (see `model.check.common.WriteOrder`).
    """

    time: int
    pasid: int
    va: int  # page base
    size: int
    thread: str = ""


@fast_init
@dataclass(frozen=True)
class PageClean:
    """The kernel judged a page clean: it read the page's dirty bit (`bit`:
    "dirty", the PTE's D, or "soft-dirty") and cleared it, or dropped the page
    because the bit was clear. `was_set` is the bit as the kernel read it;
    `discard` says the page's content is gone now (reclaim of a clean MADV_FREE
    page). Emitted by MADV_FREE, its reclaim, page_mkclean (writeback) and
    clear_refs (soft-dirty); judged by `model.check.lost_dirty`.
    """

    time: int
    pasid: int
    va: int  # page base
    pa: int  # frame base of the page
    size: int
    bit: str  # "dirty" | "soft-dirty"
    was_set: bool
    discard: bool = False
    why: str = ""


EVENT_TYPES = (CpuStore, CpuLoad, DevAccess, MemAccess, PteChange, FrameEvent, OpStep, InvReq, InvCpl,
               ZeroFill, PageClean)
_BY_NAME = {t.__name__: t for t in EVENT_TYPES}


@dataclass
class Trace:
    events: list = field(default_factory=list)

    def add(self, ev) -> None:
        self.events.append(ev)

    def of(self, kind: type[T]) -> list[T]:
        return [e for e in self.events if isinstance(e, kind)]

    def __iter__(self) -> Iterator:
        return iter(self.events)

    def __len__(self) -> int:
        return len(self.events)

    def to_json(self) -> list[dict]:
        return [{"type": type(e).__name__, **asdict(e)} for e in self.events]

    @classmethod
    def from_json(cls, rows: list[dict]) -> "Trace":
        out = cls()
        for i, row in enumerate(rows):
            row = dict(row)
            kind = _BY_NAME.get(row.pop("type", None))
            if kind is None:
                raise ValueError(f"trace row {i}: unknown event type")
            names = {f.name for f in fields(kind)}
            bad = set(row) - names
            if bad:
                raise ValueError(f"trace row {i}: unknown field(s) {sorted(bad)} for {kind.__name__}")
            out.add(kind(**row))
        return out

    def dump(self, path: str) -> None:
        with open(path, "w") as f:
            json.dump(self.to_json(), f)
