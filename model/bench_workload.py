"""A device-bound workload both the co-simulation and a bare simulator can run exactly.

`make bench` compares the project's co-simulation (scheduler, pyuvm
environment, scoreboard, checkers) with a bare Verilator harness
(tb/csrc/raw_bench.cpp) that has nothing but a clock loop and an AXI slave in
C++. The comparison is only worth something on the same work, so the workload
is one the bare harness can reproduce without a host model:

* one mm bound to PASID 1, `pages` 4 KiB anonymous pages mapped (present,
  writable), no CPU thread: nothing changes a page table during the run;
* `threads` device threads, each with `accesses` reads and writes at seeded
  random 8-byte words of those pages: `slots` words per page and thread, word
  j * threads + t of a page for thread t (so the threads share every page and
  its translation, and a read often finds a value written earlier). No two
  threads touch the same word, so every response is known in advance from the
  initial memory and the thread's own earlier writes, whatever the
  interleaving: each read returns the thread's last write there, or the
  initial contents (the page's first word holds its unique initial value,
  the rest are zero); no access faults.

`generate` gives the scenario text (docs/SCENARIOS.md) with the per-thread
command lists and their expected responses; `host_image` sets the scenario's
host up exactly as a run does (model.scheduler.Host) and returns the memory
image the device starts from; `export` writes everything the bare harness
needs to one binary file (format below).
"""
from __future__ import annotations

import random
import struct
from dataclasses import dataclass, field
from pathlib import Path

from .memory import PAGE_SIZE, PhysMem

VA_BASE = 0x1000_0000
PASID = 1
POLICY = "notify-inside-lock"  # no CPU operation runs, so the policy changes nothing

# The bare harness's input file, little-endian:
#   header  MAGIC, u32 runs, u32 latency, u32 step, u32 watchdog
#   per run u64 pasid_tbl_base, u32 frames, u32 commands,
#           frames x (u64 pfn, 4096 bytes), commands x CMD
MAGIC = b"ATSRAW1\0"
HEADER = struct.Struct("<8sIIII")
RUN = struct.Struct("<QII")
FRAME = struct.Struct("<Q")
# thread, write, expected fault, check the read data, pasid, va, write data, expected read data
CMD = struct.Struct("<BBBBIQQQ")


@dataclass(frozen=True)
class Access:
    thread: int
    write: bool
    va: int
    wdata: int  # the value written (0 for a read)


@dataclass
class Workload:
    seed: int
    threads: int
    accesses: int
    pages: int
    cycles_per_step: int
    commands: list[list[Access]] = field(default_factory=list)  # per thread, program order

    @property
    def name(self) -> str:
        return f"devbench_{self.seed}"

    @property
    def total(self) -> int:
        return sum(len(c) for c in self.commands)

    def text(self) -> str:
        """The scenario file text: one row in which every device thread runs its list."""
        end = VA_BASE + self.pages * PAGE_SIZE
        lines = [f"scenario {self.name}",
                 f"description device-bound benchmark: {self.threads} device threads x {self.accesses} "
                 f"accesses over {self.pages} pages, no CPU operation",
                 f"pasid {PASID}", f"cycles-per-step {self.cycles_per_step}",
                 f"vma {VA_BASE:#x} {end:#x} anon rw",
                 f"page - {VA_BASE:#x} present count={self.pages}",
                 "[Time 0] " + "-" * 40]
        for t, cmds in enumerate(self.commands):
            acts = [f"write {a.va:#x} {a.wdata:#x}" if a.write else f"read {a.va:#x}" for a in cmds]
            lines.append(f"DEV-thread-{t} {{{'; '.join(acts)}}}")
        lines.append("expect all clean")
        return "\n".join(lines) + "\n"


def generate(seed: int, *, threads: int = 4, accesses: int = 250, pages: int = 32, slots: int = 4,
             write_fraction: float = 0.25, cycles_per_step: int = 10) -> Workload:
    """The workload of `seed` (deterministic)."""
    if not 1 <= threads <= 8:
        raise ValueError(f"threads {threads}: the device has 1..8 threads")
    if accesses < 1 or pages < 1 or not 1 <= slots * threads <= PAGE_SIZE // 8:
        raise ValueError("accesses and pages must be at least 1, slots * threads at most 512")
    rng = random.Random(seed * 104729 + 3)
    used: set[int] = set()
    w = Workload(seed, threads, accesses, pages, cycles_per_step)
    for t in range(threads):
        mine = [p * PAGE_SIZE // 8 + j * threads + t for p in range(pages) for j in range(slots)]
        cmds = []
        for _ in range(accesses):
            va = VA_BASE + 8 * rng.choice(mine)
            if rng.random() < write_fraction:
                v = rng.getrandbits(64)
                while v in used or v < 1 << 32:  # unique, and never a small initial-looking value
                    v = rng.getrandbits(64)
                used.add(v)
                cmds.append(Access(t, True, va, v))
            else:
                cmds.append(Access(t, False, va, 0))
        w.commands.append(cmds)
    return w


def host_image(w: Workload) -> tuple[PhysMem, int]:
    """The host memory right after the scenario's set-up (page tables, PASID table,
    data pages), as the device sees it when the run starts, and the PASID table base."""
    from .notifier import Policy
    from .refdev import RefDevice
    from .scenario import parse
    from .scheduler import Host, Layout
    from .trace import Trace

    layout = Layout()
    mem, trace = PhysMem(), Trace()
    dev = RefDevice(mem, layout.pasid_tbl_base, trace)
    Host(parse(w.text(), f"<{w.name}>"), dev, mem, layout.pasid_tbl_base, trace, Policy.parse(POLICY), layout)
    return mem, layout.pasid_tbl_base


def expected(w: Workload, mem: PhysMem, tbl_base: int) -> list[list[tuple[int, int | None]]]:
    """Per thread, per command: (fault bit, read data or None for a write), from the
    initial image and the thread's own earlier writes (the model's page walk)."""
    from .pagetable import translate

    out = []
    for cmds in w.commands:
        mine: dict[int, int] = {}
        got = []
        for a in cmds:
            if a.write:
                mine[a.va] = a.wdata
                got.append((0, None))
                continue
            if a.va in mine:
                got.append((0, mine[a.va]))
                continue
            walk = translate(mem, tbl_base, PASID, a.va)
            if not walk.ok:
                raise ValueError(f"{w.name}: va {a.va:#x} does not translate ({walk.fault})")
            got.append((0, mem.read64(walk.pa)))
        out.append(got)
    return out


def export(path: Path, workloads: list[Workload], *, latency: int, watchdog: int = 50_000,
           corrupt: int | None = None) -> int:
    """Write the bare harness's input for `workloads`; returns the number of commands.

    `corrupt` (tests only): flip bit 0 of the expected data of that command index
    (counted over all runs, reads only), so the harness must report a mismatch."""
    steps = {w.cycles_per_step for w in workloads}
    if len(steps) != 1:
        raise ValueError("all workloads of one file need the same cycles-per-step")
    buf = bytearray(HEADER.pack(MAGIC, len(workloads), latency, steps.pop(), watchdog))
    k = 0
    for w in workloads:
        mem, base = host_image(w)
        exp = expected(w, mem, base)
        pfns = mem.touched_pages()
        buf += RUN.pack(base, len(pfns), w.total)
        for pfn in pfns:
            buf += FRAME.pack(pfn) + mem.read(pfn * PAGE_SIZE, PAGE_SIZE)
        for t, cmds in enumerate(w.commands):
            for a, (fault, data) in zip(cmds, exp[t]):
                d = data if data is not None else 0
                if corrupt is not None and k >= corrupt and data is not None:
                    d ^= 1
                    corrupt = None
                buf += CMD.pack(t, a.write, fault, data is not None, PASID, a.va, a.wdata, d)
                k += 1
    Path(path).write_bytes(bytes(buf))
    return k
