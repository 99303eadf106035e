"""Scenario files: the mmu_notifier.rst timeline as an executable table.

The format (docs/SCENARIOS.md) mirrors the doc's table: a setup block, then
`[Time ...]` rows with one line per thread (`CPU-thread-N {...}`,
`DEV-thread-N {...}`) saying what that thread does in that row. Rows run in
order; inside a row the listed threads run concurrently, and the row ends
when every listed action has finished (a CPU operation reached its `until`
step or returned, a device access got its response).

Everything is checked when the file is read, so a malformed file fails with
one `ScenarioError` naming the file, the line and the problem before anything
runs. Problems that only show while running (a deadlock, starting an
operation while the thread's previous one is still preempted) raise
`ScenarioRunError` with the line of the row or action at fault.

`python -m model.scenario FILE [--policy P|all] [--mode script|random] [--seed S]`
runs a file on the reference device and prints the verdicts.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from .memory import PAGE_SIZE
from .mm import HPAGE_SIZE
from .notifier import POLICIES
from .ops import OPS, STEP_NAMES

# Test-only broken variants of the RTL device (rtl/ats_dev_top.sv DbgNoDrain / DbgNoPoison)
# that `expect ... device=VARIANT` lines may name.
DEVICE_VARIANTS = ("no-drain", "no-poison")
THREAD_RE = re.compile(r"^(CPU|DEV)-thread-(\d+)$")
ROW_RE = re.compile(r"^\[Time\s+([^\]]*?)\s*\]\s*-*\s*$")
CELL_RE = re.compile(r"^(\S+)\s*\{(.*)\}\s*$")
PAGE_STATES = ("present", "ro", "cow", "zero", "none", "file", "huge", "huge-cow")
HUGE_STATES = ("huge", "huge-cow")  # states that map a 2 MiB THP
KNOWN_RULES: tuple[str, ...] = (
    "ordering", "coherence", "future-read", "unknown-value", "lost-write", "lost-dirty", "use-after-free",
    "itag-reuse", "completion-without-request", "duplicate-completion", "lost-completion",
    "completion-before-drain", "livelock",
)
MAX_FILE_BYTES = 1 << 20  # a scenario is a page of text; /dev/urandom must fail fast, not hang
MAX_CYCLES = 10_000_000  # one 'wait' (about 10 s of RTL simulation)
MAX_CYCLES_PER_STEP = 1_000_000
MAX_PAGE_COUNT = 0x4000  # the host's frame pool (model.scheduler.Layout.pool_frames)
USER_TOP = 1 << 47  # end of the x86-64 user address space
SINGLETONS = ("scenario", "cycles-per-step", "wp-fault", "pri", "threads", "bug", "atc-write-upgrade",
              "atc-huge", "pwc-supervisor")  # `pasid`: once per mm
MAIN_MM = "main"  # the mm the setup describes before any `mm` line
MM_USAGE = "usage: mm NAME [pasid=N] [fork=PARENT] [threads=THREAD[,THREAD...]]"


def device_threads() -> int:
    """DMA threads of the device (the reference device's default, which is the RTL's NumThreads)."""
    from .refdev import RefConfig

    return RefConfig.num_threads


def _clip_message(msg: str) -> str:
    """No error echoes a whole long line: long words are cut, and so is the message."""
    from .cli import clip

    msg = re.sub(r"\S{81,}", lambda m: clip(m.group(0)), msg)
    return clip(msg, 600)


class ScenarioError(Exception):
    """A scenario that cannot be used, with the file and line at fault."""

    def __init__(self, path: str, line: int | None, message: str) -> None:
        message = _clip_message(message)
        self.path, self.line, self.message = path, line, message
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {message}")


class ScenarioRunError(ScenarioError):
    """The scenario parsed but cannot be carried out (deadlock, misuse of a thread)."""


@dataclass
class MmSpec:
    """One process: an mm bound to its own PASID (`mm NAME pasid=N ...`).

    `fork`: the mm it is forked from, at this line of the setup (copy_page_range:
    its VMAs and every page populated so far, private pages COW-shared).
    `threads`: the CPU and device threads that work in this mm; a thread no
    `mm` line names works in the first mm (MAIN_MM)."""

    line: int
    name: str
    pasid: int | None = None
    fork: str | None = None
    threads: tuple[str, ...] = ()


@dataclass(frozen=True)
class VmaSpec:
    line: int
    start: int
    end: int
    kind: str  # anon | file
    writable: bool
    mergeable: bool = False
    file: str = ""
    mm: str = MAIN_MM


@dataclass(frozen=True)
class PageSpec:
    line: int
    name: str | None
    va: int
    state: str
    value: int | None
    count: int = 1
    mm: str = MAIN_MM


@dataclass(frozen=True)
class KernelPageSpec:
    """`vmalloc NAME|- ADDRESS [value=V]`: a vmalloc'd page in the kernel half."""

    line: int
    name: str | None
    va: int
    value: int | None


@dataclass(frozen=True)
class Action:
    """One thing a thread does in a row."""

    line: int
    thread: str
    verb: str  # an op name (model.ops.OPS), resume, wait, read, write
    text: str
    va: int | None = None
    length: int | None = None
    value: int | None = None
    prot: str | None = None
    until: str | None = None
    until_n: int = 1
    nowait: bool = False
    cycles: int = 0  # wait

    @property
    def is_cpu(self) -> bool:
        return self.thread.startswith("CPU-")


@dataclass
class Row:
    label: str
    line: int
    cells: dict[str, list[Action]] = field(default_factory=dict)


@dataclass
class Scenario:
    name: str
    path: str
    description: str = ""
    pasid: int = 1
    cycles_per_step: int = 10
    wp_fault: str = "lock-wait"
    # `bug NAME...`: kernel bug switches on in this scenario's kernel
    # (model.kernel_bugs.SWITCHES); `expect` lines judge the run with them on
    bugs: frozenset[str] = frozenset()
    # `pri on|off|noop`: device page requests (PCIe PRI). off: a translation fault ends
    # the access at once; on: the host services each Page Request through its fault
    # path (handle_mm_fault) and answers with a PRG Response; noop (test only): the
    # host answers Success without servicing, so the device retries until its livelock fault.
    pri: str = "off"
    # `atc-write-upgrade walk|fault`: a device write that hits a read-only ATC entry
    # walks again (walk, the default) or faults WRITE_PROTECT from the cached entry
    # (fault: an SMMU-like device; a Page Request when `pri on`)
    atc_write_upgrade: str = "walk"
    # `atc-huge whole|split`: the device caches a 2 MiB / 1 GiB translation as one
    # entry of its size (whole, the default) or as the 4 KiB entry holding the access
    # (split: an ATC that stores only 4 KiB pages; RTL parameter AtcSplitHuge, so the
    # co-simulation runs such a scenario on a build with AtcSplitHuge=1)
    atc_huge: str = "whole"
    # `pwc-supervisor skip|keep`: a device walk through a non-leaf entry with U/S clear
    # faults there and caches nothing of it (skip, the default), or goes on, caches it in
    # the page-walk cache and decides U/S at the leaf (keep: an IOMMU paging-structure cache)
    pwc_supervisor: str = "skip"
    # `vmalloc` lines: pages of the kernel half (model.kernel_space), held by every mm
    kpages: list[KernelPageSpec] = field(default_factory=list)
    # `device-timing KEY=VALUE...`: bench timing of the RTL co-simulation for this
    # scenario (tb/cosim/config.py CosimConfig); the reference device ignores it.
    device_timing: dict = field(default_factory=dict)
    vmas: list[VmaSpec] = field(default_factory=list)
    pages: list[PageSpec] = field(default_factory=list)
    labels: dict[str, int] = field(default_factory=dict)
    threads: list[str] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    expects: dict[str, frozenset[str]] = field(default_factory=dict)  # policy -> failing rules
    # `expect ... device=VARIANT`: the same for a test-only broken RTL (DEVICE_VARIANTS)
    device_expects: dict[str, dict[str, frozenset[str]]] = field(default_factory=dict)
    # the processes: MAIN_MM (PASID `pasid`) first, then each `mm` line in file order
    mms: dict[str, MmSpec] = field(default_factory=lambda: {MAIN_MM: MmSpec(0, MAIN_MM)})

    def mm_pasid(self, name: str) -> int:
        """The PASID mm `name` is bound to."""
        p = self.pasid if name == MAIN_MM else self.mms[name].pasid
        assert p is not None
        return p

    def mm_of(self, thread: str) -> str:
        """The mm a thread works in (MAIN_MM unless an `mm` line names it)."""
        for m in self.mms.values():
            if thread in m.threads:
                return m.name
        return MAIN_MM

    def pasid_of(self, thread: str) -> int:
        return self.mm_pasid(self.mm_of(thread))

    def expects_for(self, variant: str | None) -> dict[str, frozenset[str]]:
        """Expectations for the correct device (None) or a test-only variant (none given: {})."""
        return self.expects if not variant else self.device_expects.get(variant, {})

    @property
    def cpu_threads(self) -> list[str]:
        return [t for t in self.threads if t.startswith("CPU-")]

    @property
    def dev_threads(self) -> list[str]:
        return [t for t in self.threads if t.startswith("DEV-")]

    def actions(self) -> list[Action]:
        return [a for r in self.rows for acts in r.cells.values() for a in acts]

    def names(self) -> dict[int, str]:
        """va -> label, for rendering."""
        return {va: n for n, va in self.labels.items()}


def dev_index(thread: str) -> int:
    m = THREAD_RE.match(thread)
    assert m and m.group(1) == "DEV"
    return int(m.group(2))


# --------------------------------------------------------------------------- parsing

class _Parser:
    def __init__(self, text: str, path: str) -> None:
        self.text, self.path = text, path
        self.sc = Scenario(name=Path(path).stem, path=path)
        self.line = 0
        self.last_line = 1  # last line with content: where end-of-file problems are reported
        self.started: set[str] = set()  # CPU threads that have run an operation
        self.in_rows = False
        self.singleton_line: dict[str, int] = {}
        self.dev_threads = device_threads()
        # The mm `vma` and `page` lines describe, and per mm what its setup holds so
        # far (a forked mm starts with its parent's): for the overlap checks.
        self.cur_mm = MAIN_MM
        self.vmas_of: dict[str, list[VmaSpec]] = {MAIN_MM: []}
        self.pages_of: dict[str, list[PageSpec]] = {MAIN_MM: []}
        self.pasid_line: dict[str, int] = {}

    def err(self, msg: str, line: int | None = None) -> ScenarioError:
        return ScenarioError(self.path, self.line if line is None else line, msg)

    # -- numbers and addresses -------------------------------------------------------
    def num(self, tok: str, what: str) -> int:
        try:
            v = int(tok.replace("_", ""), 0)
        except ValueError:
            raise self.err(f"{what}: {tok!r} is not a number") from None
        if v < 0:
            raise self.err(f"{what}: {tok!r} is negative")
        return v

    def addr(self, tok: str) -> int:
        m = re.match(r"^([A-Za-z_][\w]*)?\s*(?:([+-])\s*(\S+))?$", tok)
        if m and m.group(1) is not None:
            name = m.group(1)
            if name not in self.sc.labels:
                raise self.err(f"unknown address label {name!r} (define it with 'page' or 'label')")
            base = self.sc.labels[name]
            if m.group(2):
                off = self.num(m.group(3), "address offset")
                base = base + off if m.group(2) == "+" else base - off
            return base
        return self.num(tok, "address")

    # -- top level -----------------------------------------------------------------------
    def parse(self) -> Scenario:
        row: Row | None = None
        # Lines end at "\n" only (a "\r" before it is dropped): a form feed or U+2028
        # inside a comment must not start a line, or every later line number is off.
        for self.line, raw in enumerate(self.text.split("\n"), start=1):
            line = re.sub(r"(^|\s)#.*$", "", raw.removesuffix("\r")).strip()
            if not line:
                continue
            self.last_line = self.line
            m = ROW_RE.match(line)
            if m:
                if not self.in_rows:
                    self._finish_setup()
                self.in_rows = True
                row = Row(label=m.group(1) or "?", line=self.line)
                self.sc.rows.append(row)
                continue
            if line.startswith("[Time"):
                raise self.err("malformed row header; expected '[Time LABEL]' (dashes after it are allowed)")
            if line == "[setup]":
                if self.in_rows:
                    raise self.err("[setup] after the timeline began")
                continue
            words = line.split()
            if words[0] == "expect":
                self._expect(words[1:])
                continue
            m = CELL_RE.match(line)
            if m or THREAD_RE.match(words[0]):
                if m is None:
                    raise self.err(f"thread line needs its actions in braces: '{words[0]} {{...}}'")
                self._thread_name(m.group(1))
                if row is None:
                    raise self.err("thread line before the first '[Time ...]' row")
                self._cell(row, m.group(1), m.group(2))
                continue
            if self.in_rows:
                raise self.err(f"unexpected {words[0]!r} in the timeline (setup directives come before "
                               f"the first '[Time ...]' row)")
            self._directive(words)
        self.line = self.last_line
        if not self.in_rows:
            self._finish_setup()
        if not self.sc.rows:
            raise self.err("no '[Time ...]' rows: nothing to run")
        # column order: explicit 'threads' first, then first appearance
        seen = list(self.sc.threads)
        for r in self.sc.rows:
            for t in r.cells:
                if t not in seen:
                    seen.append(t)
        self.sc.threads = seen
        return self.sc

    # -- setup -----------------------------------------------------------------------------
    def _thread_name(self, t: str) -> str:
        m = THREAD_RE.match(t)
        if not m:
            raise self.err(f"bad thread name {t!r}; expected CPU-thread-N or DEV-thread-N")
        if m.group(1) == "DEV" and int(m.group(2)) >= self.dev_threads:
            raise self.err(f"{t}: the device has {self.dev_threads} threads "
                           f"(DEV-thread-0..DEV-thread-{self.dev_threads - 1})")
        return t

    def _directive(self, w: list[str]) -> None:
        d, args = w[0], w[1:]
        sc = self.sc
        if d in SINGLETONS:
            first = self.singleton_line.get(d)
            if first is not None:
                raise self.err(f"'{d}' given twice (first on line {first}); give it once")
            self.singleton_line[d] = self.line
        if d == "scenario":
            if len(args) != 1:
                raise self.err("usage: scenario NAME")
            sc.name = args[0]
        elif d == "description":
            sc.description = " ".join(args)
        elif d == "pasid":
            if len(args) != 1:
                raise self.err("usage: pasid N")
            self._pasid(self.cur_mm, args[0])
        elif d == "mm":
            self._mm(args)
        elif d == "cycles-per-step":
            if len(args) != 1:
                raise self.err("usage: cycles-per-step N")
            sc.cycles_per_step = self.num(args[0], "cycles-per-step")
            if not 1 <= sc.cycles_per_step <= MAX_CYCLES_PER_STEP:
                raise self.err(f"cycles-per-step must be 1..{MAX_CYCLES_PER_STEP:,}")
        elif d == "wp-fault":
            if args not in (["lock-wait"], ["refcount"]):
                raise self.err("usage: wp-fault lock-wait|refcount")
            sc.wp_fault = args[0]
        elif d == "pri":
            if args not in (["on"], ["off"], ["noop"]):
                raise self.err("usage: pri on|off|noop")
            sc.pri = args[0]
        elif d == "atc-write-upgrade":
            if args not in (["walk"], ["fault"]):
                raise self.err("usage: atc-write-upgrade walk|fault")
            sc.atc_write_upgrade = args[0]
        elif d == "atc-huge":
            if args not in (["whole"], ["split"]):
                raise self.err("usage: atc-huge whole|split")
            sc.atc_huge = args[0]
        elif d == "pwc-supervisor":
            if args not in (["skip"], ["keep"]):
                raise self.err("usage: pwc-supervisor skip|keep")
            sc.pwc_supervisor = args[0]
        elif d == "vmalloc":
            self._vmalloc(args)
        elif d == "device-timing":
            self._device_timing(args)
        elif d == "bug":
            from .kernel_bugs import parse_switches
            if not args:
                raise self.err("usage: bug NAME... (a switch of model/kernel_bugs.py)")
            try:
                sc.bugs = parse_switches(args)
            except ValueError as e:
                raise self.err(str(e)) from None
        elif d == "threads":
            for t in args:
                self._thread_name(t)
            sc.threads = list(dict.fromkeys(args))
        elif d == "vma":
            self._vma(args)
        elif d == "page":
            self._page(args)
        elif d == "label":
            if len(args) != 2:
                raise self.err("usage: label NAME ADDRESS")
            self._define(args[0], self.addr(args[1]))
        else:
            raise self.err(f"unknown setup directive {d!r} (known: scenario, description, pasid, mm, "
                           f"cycles-per-step, wp-fault, pri, atc-write-upgrade, atc-huge, pwc-supervisor, bug, device-timing, "
                           f"threads, vma, page, vmalloc, label)")

    def _pasid(self, mm: str, tok: str) -> None:
        """`pasid N` (for the mm being described) or `mm ... pasid=N`: once per mm,
        and no two mms share a PASID."""
        first = self.pasid_line.get(mm)
        if first is not None:
            raise self.err(f"'pasid' given twice (first on line {first}) for mm {mm!r}; each mm has one "
                           f"(another process is an 'mm' line: {MM_USAGE})")
        n = self.num(tok, "pasid")
        if not 0 < n < (1 << 20):
            raise self.err(f"pasid {n} outside 1..2^20-1")
        for name in self.sc.mms:
            other = self.sc.pasid if name == MAIN_MM else self.sc.mms[name].pasid
            if name != mm and other == n:
                raise self.err(f"pasid {n} is already the PASID of mm {name!r}; each mm has its own")
        self.pasid_line[mm] = self.line
        if mm == MAIN_MM:
            self.sc.pasid = n
        else:
            self.sc.mms[mm].pasid = n

    def _mm(self, args: list[str]) -> None:
        """`mm NAME [pasid=N] [fork=PARENT] [threads=T,T...]`: a further process."""
        if not args or "=" in args[0]:
            raise self.err(MM_USAGE)
        name = args[0]
        if not re.match(r"^[A-Za-z_]\w*$", name):
            raise self.err(f"bad mm name {name!r}")
        if name in self.sc.mms:
            where = "the first mm's name" if name == MAIN_MM else f"declared on line {self.sc.mms[name].line}"
            raise self.err(f"mm {name!r} is {where}")
        spec = MmSpec(self.line, name)
        opts: dict[str, str] = {}
        for a in args[1:]:
            key, eq, val = a.partition("=")
            if key not in ("pasid", "fork", "threads") or not eq or not val:
                raise self.err(f"mm: unknown option {a!r}; {MM_USAGE}")
            if key in opts:
                raise self.err(f"mm: {key}= given twice")
            opts[key] = val
        parent = opts.get("fork")
        if parent is not None:
            if parent not in self.sc.mms:
                raise self.err(f"mm: fork={parent}: no mm {parent!r} declared above (known: "
                               f"{', '.join(self.sc.mms)})")
            huge = next((p for p in self.pages_of[parent] if p.state in HUGE_STATES), None)
            if huge is not None:
                raise self.err(f"mm: fork={parent}: the 2 MiB page of line {huge.line} cannot be forked "
                               f"(a fork of a THP is written as state huge-cow in one mm)")
            spec.fork = parent
        threads: list[str] = []
        for t in (opts["threads"].split(",") if "threads" in opts else []):
            self._thread_name(t)
            owner = next((m for m in self.sc.mms.values() if t in m.threads), None)
            if owner is not None or t in threads:
                raise self.err(f"mm: {t} already works in mm {(owner.name if owner else name)!r}; "
                               f"a thread belongs to one mm")
            threads.append(t)
        spec.threads = tuple(threads)
        self.sc.mms[name] = spec
        self.vmas_of[name] = list(self.vmas_of[parent]) if parent else []
        self.pages_of[name] = list(self.pages_of[parent]) if parent else []
        if "pasid" in opts:
            self._pasid(name, opts["pasid"])
        self.cur_mm = name

    def _device_timing(self, args: list[str]) -> None:
        """latency=LO[..HI] walk-latency=LO[..HI] (AXI response cycles, LO >= 2),
        ar-hold=N (cycles each DMA read waits at the AXI port), ar-hold-threads=T[,T...]."""
        usage = "usage: device-timing KEY=VALUE... (latency=LO[..HI], walk-latency=LO[..HI], ar-hold=N, " \
                "ar-hold-threads=T[,T...])"
        if not args:
            raise self.err(usage)
        for a in args:
            key, eq, val = a.partition("=")
            if not eq or not val:
                raise self.err(f"device-timing: {a!r} is not KEY=VALUE; {usage}")
            if key in ("latency", "walk-latency"):
                lo_s, _, hi_s = val.partition("..")
                lo = self.num(lo_s, key)
                hi = self.num(hi_s, key) if hi_s else lo
                if not 2 <= lo <= hi:
                    raise self.err(f"device-timing {key}={val}: need 2 <= LO <= HI")
                self.sc.device_timing[key] = (lo, hi)
            elif key == "ar-hold":
                n = self.num(val, key)
                if n >= 1 << 16:
                    raise self.err(f"device-timing ar-hold={val}: at most 65535 cycles")
                self.sc.device_timing[key] = n
            elif key == "ar-hold-threads":
                mask = 0
                for t in val.split(","):
                    i = self.num(t, key)
                    if i > 7:
                        raise self.err(f"device-timing ar-hold-threads: thread {i} outside 0..7")
                    mask |= 1 << i
                self.sc.device_timing[key] = mask
            else:
                raise self.err(f"device-timing: unknown key {key!r}; {usage}")

    def _define(self, name: str, va: int) -> None:
        if not re.match(r"^[A-Za-z_]\w*$", name):
            raise self.err(f"bad label name {name!r}")
        if name in self.sc.labels:
            raise self.err(f"label {name!r} defined twice")
        if name in OPS or name in ("resume", "wait", "read", "write", "until", "nowait", "expect"):
            raise self.err(f"label {name!r} is a reserved word")
        self.sc.labels[name] = va

    def _vma(self, args: list[str]) -> None:
        if len(args) < 4:
            raise self.err("usage: vma START END anon|file rw|ro [mergeable] [file=NAME]")
        start, end = self.num(args[0], "vma start"), self.num(args[1], "vma end")
        kind, prot = args[2], args[3]
        if start % PAGE_SIZE or end % PAGE_SIZE or end <= start:
            raise self.err(f"vma [{start:#x}, {end:#x}) must be page aligned and non-empty")
        if end > USER_TOP:
            raise self.err(f"vma end {end:#x} beyond the user address space (2^47)")
        if kind not in ("anon", "file"):
            raise self.err(f"vma kind {kind!r}: expected anon or file")
        if prot not in ("rw", "ro"):
            raise self.err(f"vma protection {prot!r}: expected rw or ro")
        mergeable, fname = False, ""
        for f in args[4:]:
            if f == "mergeable":
                mergeable = True
            elif f.startswith("file="):
                fname = f[5:]
            else:
                raise self.err(f"unknown vma flag {f!r} (known: mergeable, file=NAME)")
        if kind == "file" and not fname:
            fname = f"file@{start:#x}"
        for v in self.vmas_of[self.cur_mm]:
            if v.start < end and start < v.end:
                raise self.err(f"vma [{start:#x}, {end:#x}) overlaps the vma of line {v.line}")
        spec = VmaSpec(self.line, start, end, kind, prot == "rw", mergeable, fname, self.cur_mm)
        self.sc.vmas.append(spec)
        self.vmas_of[self.cur_mm].append(spec)

    def _page(self, args: list[str]) -> None:
        if len(args) < 3:
            raise self.err("usage: page NAME|- ADDRESS STATE [value=V] [count=N]")
        name = None if args[0] == "-" else args[0]
        va = self.addr(args[1])
        state = args[2]
        if state not in PAGE_STATES:
            raise self.err(f"page state {state!r}: expected one of {', '.join(PAGE_STATES)}")
        value, count = None, 1
        for f in args[3:]:
            if f.startswith("value="):
                value = self.num(f[6:], "value")
                if value >= 1 << 64:
                    raise self.err("value wider than 64 bits")
            elif f.startswith("count="):
                count = self.num(f[6:], "count")
                if not 1 <= count <= MAX_PAGE_COUNT:
                    raise self.err(f"count must be 1..{MAX_PAGE_COUNT} (the host's frame pool)")
            else:
                raise self.err(f"unknown page option {f!r} (known: value=V, count=N)")
        if va % 8:
            raise self.err(f"page address {va:#x} is not 8-byte aligned")
        size = HPAGE_SIZE if state in HUGE_STATES else PAGE_SIZE
        base = va & ~(size - 1)
        vma = next((v for v in self.vmas_of[self.cur_mm] if v.start <= base and base + size * count <= v.end),
                   None)
        if vma is None:
            raise self.err(f"page {va:#x} (+{size * count:#x}) is not inside one vma declared above")
        anon_states = ("present", "ro", "cow", "zero", "none", *HUGE_STATES)
        if vma.kind == "anon" and state not in anon_states:
            raise self.err(f"state {state!r} needs a file vma (vma of line {vma.line} is anon)")
        if vma.kind == "file" and state not in ("file", "none"):
            raise self.err(f"state {state!r} needs an anon vma (vma of line {vma.line} is a file mapping)")
        if state == "zero" and value not in (None, 0):
            raise self.err("a page mapped to the zero page reads 0; drop value=")
        if state == "none" and value is not None:
            raise self.err("a 'none' page has no content; drop value=")
        for p in self.pages_of[self.cur_mm]:
            psize = HPAGE_SIZE if p.state in HUGE_STATES else PAGE_SIZE
            pbase = p.va & ~(psize - 1)
            if pbase < base + size * count and base < pbase + psize * p.count:
                raise self.err(f"page {va:#x} overlaps the page of line {p.line}")
        if name is not None:
            self._define(name, va)
        spec = PageSpec(self.line, name, va, state, value, count, self.cur_mm)
        self.sc.pages.append(spec)
        self.pages_of[self.cur_mm].append(spec)

    def _vmalloc(self, args: list[str]) -> None:
        from .kernel_space import VMALLOC_START
        usage = f"usage: vmalloc NAME|- ADDRESS [value=V] (a page in the vmalloc area, >= {VMALLOC_START:#x})"
        if len(args) not in (2, 3):
            raise self.err(usage)
        name = None if args[0] == "-" else args[0]
        va = self.addr(args[1])
        if not VMALLOC_START <= va < 1 << 64 or va % PAGE_SIZE:
            raise self.err(f"vmalloc address {va:#x}: not a page in the vmalloc area; {usage}")
        value = None
        if len(args) == 3:
            if not args[2].startswith("value="):
                raise self.err(f"unknown vmalloc option {args[2]!r}; {usage}")
            value = self._value(args[2][6:])
        for k in self.sc.kpages:
            if k.va == va:
                raise self.err(f"vmalloc page {va:#x} given twice (first on line {k.line})")
        if name is not None:
            self._define(name, va)
        self.sc.kpages.append(KernelPageSpec(self.line, name, va, value))

    def _finish_setup(self) -> None:
        if not self.sc.vmas:
            raise self.err("no 'vma' in the setup: nothing for the threads to access")
        for m in self.sc.mms.values():
            if m.name != MAIN_MM and m.pasid is None:
                raise self.err(f"mm {m.name!r} has no PASID: give it 'pasid=N' or a 'pasid N' line after it",
                               line=m.line)

    # -- expectations ---------------------------------------------------------------------
    def _expect(self, args: list[str]) -> None:
        variant = None
        if args and args[-1].startswith("device="):
            variant = args.pop()[len("device="):]
            if variant not in DEVICE_VARIANTS:
                raise self.err(f"expect: unknown device variant {variant!r} (known: {', '.join(DEVICE_VARIANTS)})")
        if len(args) < 2:
            raise self.err("usage: expect POLICY|all clean|RULE[,RULE...] [device=VARIANT]")
        pol = args[0]
        names = [p.value for p in POLICIES]
        if pol != "all" and pol not in names:
            raise self.err(f"expect: unknown policy {pol!r} (known: {', '.join(names)}, all)")
        rules = [r for a in args[1:] for r in a.split(",") if r]
        if rules == ["clean"]:
            got: frozenset[str] = frozenset()
        else:
            for r in rules:
                if r not in KNOWN_RULES:
                    raise self.err(f"expect: unknown rule {r!r} (known: clean, {', '.join(KNOWN_RULES)})")
            got = frozenset(rules)
        table = self.sc.expects if variant is None else self.sc.device_expects.setdefault(variant, {})
        for p in (names if pol == "all" else [pol]):
            if p in table:
                raise self.err(f"expect: policy {p} given twice" + (f" for device={variant}" if variant else ""))
            table[p] = got

    # -- rows -------------------------------------------------------------------------------
    def _cell(self, row: Row, thread: str, body: str) -> None:
        if thread in row.cells:
            raise self.err(f"{thread} appears twice in the row of line {row.line}")
        acts: list[Action] = []
        for part in body.split(";"):
            text = part.strip()
            if text in ("", "-", "preempted"):
                continue
            acts.append(self._action(thread, text))
        row.cells[thread] = acts

    def _action(self, thread: str, text: str) -> Action:
        w = text.split()
        cpu = thread.startswith("CPU-")
        until, until_n, nowait = None, 1, False
        if "until" in w:
            i = w.index("until")
            if not cpu:
                raise self.err(f"'until' is for CPU threads; a device access always runs to its response")
            if len(w) != i + 2:
                raise self.err("usage: ... until STEP[:N] (at the end of the action)")
            step = w[i + 1]
            if ":" in step:
                step, n = step.split(":", 1)
                until_n = self.num(n, "until count")
                if until_n < 1:
                    raise self.err("until count must be at least 1")
            if step not in STEP_NAMES:
                raise self.err(f"unknown step {step!r} (known: {', '.join(sorted(STEP_NAMES))})")
            until = step
            w = w[:i]
        if w and w[-1] == "nowait":
            if cpu:
                raise self.err("'nowait' is for device accesses")
            nowait = True
            w = w[:-1]
        if not w:
            raise self.err(f"empty action in {text!r}")
        verb, args = w[0], w[1:]
        line = self.line
        if verb == "wait":
            if len(args) != 1:
                raise self.err("usage: wait CYCLES")
            cycles = self.num(args[0], "wait cycles")
            if cycles > MAX_CYCLES:
                raise self.err(f"wait {cycles}: at most {MAX_CYCLES:,} cycles")
            return Action(line, thread, "wait", text, cycles=cycles)
        if not cpu:
            if verb == "read":
                if len(args) != 1:
                    raise self.err("usage: read ADDRESS [nowait]")
                return Action(line, thread, "read", text, va=self._va8(args[0], kernel=True), nowait=nowait)
            if verb == "write":
                args = self._drop_equals(verb, args)
                if len(args) not in (1, 2):
                    raise self.err("usage: write ADDRESS [VALUE] [nowait]")
                value = self._value(args[1]) if len(args) == 2 else None
                return Action(line, thread, "write", text, va=self._va8(args[0], kernel=True), value=value,
                              nowait=nowait)
            raise self.err(f"unknown device action {verb!r} (known: read, write, wait)")
        if verb == "resume":
            if args:
                raise self.err("usage: resume [until STEP]")
            if thread not in self.started:
                raise self.err(f"{thread} has no operation to resume")
            return Action(line, thread, "resume", text, until=until, until_n=until_n)
        spec = OPS.get(verb)
        if spec is None:
            raise self.err(f"unknown CPU action {verb!r} (known: resume, wait, {', '.join(sorted(OPS))})")
        fields: dict = {}
        rest = self._drop_equals(verb, args)
        for p in spec.args:
            opt = p.endswith("?")
            p = p.rstrip("?")
            if not rest:
                if opt:
                    continue
                raise self.err(f"{verb}: missing {p} (usage: {verb} {' '.join(spec.args)})")
            tok = rest.pop(0)
            if p == "va":
                fields["va"] = self._va8(tok, kernel=spec.kernel)
            elif p == "len":
                fields["length"] = self.num(tok, "length")
                if fields["length"] < 1:
                    raise self.err("length must be at least 1")
                va = fields.get("va", 0)
                if va + fields["length"] > USER_TOP:
                    raise self.err(f"{verb}: length {fields['length']:#x} from {va:#x} runs past the user "
                                   f"address space (2^47)")
            elif p == "prot":
                if tok not in ("ro", "rw"):
                    raise self.err(f"{verb}: protection {tok!r}: expected ro or rw")
                fields["prot"] = tok
            elif p == "value":
                fields["value"] = self._value(tok)
        if rest:
            raise self.err(f"{verb}: unexpected {' '.join(rest)!r} (usage: {verb} {' '.join(spec.args)})")
        self.started.add(thread)
        return Action(line, thread, verb, text, until=until, until_n=until_n, **fields)

    def _drop_equals(self, verb: str, args: list[str]) -> list[str]:
        """`ADDRESS = VALUE`: the '=' is optional, but one needs a value after it."""
        if "=" in args:
            i = args.index("=")
            if i != 1 or len(args) < 3 or args.count("=") > 1:
                raise self.err(f"{verb}: '=' must stand between the address and a value ({verb} ADDRESS = VALUE)")
        return [a for a in args if a != "="]

    def _va8(self, tok: str, kernel: bool = False) -> int:
        """An 8-byte aligned user address; with `kernel` also one in the kernel half
        (a device access to a kernel address, `vfree`)."""
        from .kernel_space import is_kernel_va
        va = self.addr(tok)
        if va % 8:
            raise self.err(f"address {va:#x} is not 8-byte aligned (accesses are 8 bytes)")
        if va >= 1 << 47 and not (kernel and is_kernel_va(va)):
            raise self.err(f"address {va:#x} beyond the user address space"
                           + (" and not in the kernel half" if kernel else ""))
        return va

    def _value(self, tok: str) -> int:
        v = self.num(tok, "value")
        if v >= 1 << 64:
            raise self.err("value wider than 64 bits")
        return v


def parse(text: str, path: str = "<scenario>") -> Scenario:
    """Parse scenario text; raises ScenarioError (file:line: problem)."""
    return _Parser(text, path).parse()


def load(path: str | Path) -> Scenario:
    """Read and parse a scenario file: UTF-8 text of at most MAX_FILE_BYTES."""
    p = Path(path)
    try:
        with open(p, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as e:
        raise ScenarioError(str(path), None, f"cannot read: {e.strerror or e}") from None
    if len(data) > MAX_FILE_BYTES:
        line = data.count(b"\n") + 1
        raise ScenarioError(str(path), line, f"file larger than {MAX_FILE_BYTES >> 20} MiB: not a scenario")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        col = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise ScenarioError(str(path), line, f"not UTF-8 text (byte {data[e.start]:#04x} at column {col})") \
            from None
    return parse(text, str(path))


# --------------------------------------------------------------------------- CLI

if __name__ == "__main__":
    # `python -m model.scenario`: the command line lives in model/scenario_cli.py, which
    # runs the file on the scheduler (a module that imports this one, not the reverse).
    from model.cli import run_main
    from model.scenario_cli import main

    run_main(main)
