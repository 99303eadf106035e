"""Race-window functional coverage: when, relative to a kernel operation's
steps, did the device use a translation of the page the operation changed.

A checker says whether a run broke a rule; coverage says which race windows
the run exercised at all. A clean run under `deferred` means little if no
device access ever fell between `pt_unlock` and `range_end` of a COW; the
bins below make that visible, and `model.director` uses them to steer the
random scheduler towards the windows that were not yet hit.

A bin is (operation, phase, policy, access, outcome):

* operation: the kernel path that changed the page's PTE, as its `OpStep`s
  name it (`wp_page_copy` is the COW of a `store`, `migrate`,
  `ksm_replace_page_early_free`, ...; `OPERATIONS`);
* phase: where the device access fell among that operation's steps (`PHASES`):

  ==============  =================================================================
  before          the operation had not started (at or before its first step)
  start..clear    started, the page's PTE not yet cleared
  clear..set      after `pte_clear`/`pmd_clear`, before the new PTE was set (a
                  removal that sets nothing: until `pt_unlock`)
  set..unlock     new PTE set, page-table lock still held
  unlock..end     lock dropped, `invalidate_range_end` not reached
  end..done       after `range_end`, the operation still running
  freed           the page the PTE used to map was freed (by anyone, while the
                  operation ran) before the access
  after           the operation had finished
  ==============  =================================================================

  A phase whose two steps coincide is empty (e.g. `clear..set` of an
  `mprotect`, which has no `pte_clear`);
* policy: the notifier policy of the run;
* access: `read` or `write`, the device command;
* outcome: `hit` (the ATC answered) or `walk` (the device walked the page
  table; a faulting access counts here: it walked and found no translation).

Derivation, from the trace alone (`bins_of`), so stress on the RTL, the
reference device and the explorer are measured the same way:

* Host effects (`PteChange`, `FrameEvent`) are recorded by a CPU step before
  the step's `OpStep`, with no device event in between (a step is atomic to
  the scheduler), so each `PteChange` belongs to the next `OpStep`.
* An operation instance is a maximal run of one thread's consecutive steps
  with one op name (two back-to-back calls of the same operation by one
  thread merge; their windows on each page are still told apart by the
  steps around each `PteChange`).
* For each `PteChange` of an instance, the steps around it give the phase
  boundaries: the nearest `pte_clear`/`pmd_clear` before it (not beyond a
  `range_start`), then the first `pte_set`/`pmd_set`/`pmd_populate`,
  `pt_unlock` and `range_end` after that. `freed` is the first `free`
  `FrameEvent` of the old frame after the clear and not after the
  operation's last step.
* Every device access (`DevAccess`) of the changed range that used the
  translation the change replaced is binned at its memory time (its
  completion when it faulted): its PA lies in the old page, or it faulted
  (it walked and found nothing), or nothing was mapped before (a fault-in:
  then every access counts, so a walk racing the fill shows). An access
  through the new PTE is no race and is not binned; so `hit` in a phase
  after the change is a stale ATC entry in use, and `freed` + `hit` is a
  use-after-free. Ties follow the checkers'
  lenient rule: a step and an access in the same cycle count the access as
  earlier (only a strict difference in time puts it after the step).

Hit counts in the collected database are runs, not accesses: a bin gets one
hit per run (trace) that reached it at least once.

Collection uses cocotb-coverage (`cocotb_coverage.coverage`: a `CoverCross`
of five `CoverPoint`s in the process's `coverage_db`, exported to XML and
YAML, merged across processes with its `merge_coverage`); that module needs
no simulator, so the model can import it.
"""
from __future__ import annotations

import ast
import bisect
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, NamedTuple

from .notifier import POLICIES
from .trace import DevAccess, FrameEvent, OpStep, PteChange

PAGE = 4096

#: operations whose steps change a PTE (the op names `model.ops.Op` gives them)
OPERATIONS: tuple[str, ...] = (
    "wp_page_copy", "wp_page_reuse", "do_huge_pmd_wp_page", "do_anonymous_page", "do_file_fault",
    "do_swap_page", "__replace_page", "ksm_write_protect_page", "ksm_replace_page",
    "ksm_replace_page_early_free", "ksm_merge", "munmap", "madv_dontneed", "zap_early_free", "madv_free",
    "try_to_unmap", "migrate", "thp_split", "thp_collapse", "mprotect", "clear_soft_dirty",
    "change_prot_numa", "do_huge_pmd_numa_page", "migrate_misplaced_transhuge_page",
    "retract_page_tables", "munmap_force_flush", "page_mkclean", "migrate_vma", "vfree",
)
PHASES: tuple[str, ...] = ("before", "start..clear", "clear..set", "set..unlock", "unlock..end", "end..done",
                           "freed", "after")
POLICY_NAMES: tuple[str, ...] = tuple(p.value for p in POLICIES)
ACCESSES: tuple[str, ...] = ("read", "write")
OUTCOMES: tuple[str, ...] = ("hit", "walk")

CLEAR_STEPS = frozenset({"pte_clear", "pmd_clear"})
SET_STEPS = frozenset({"pte_set", "pmd_set", "pmd_populate"})

#: name of the coverage tree in cocotb-coverage's coverage_db
ROOT = "race"
CROSS = "window"  # race.<policy>.<operation>.window: the cross of phase, access, outcome


class Bin(NamedTuple):
    op: str
    phase: str
    policy: str
    access: str
    outcome: str


def all_bins() -> list[Bin]:
    """Every bin, in the order the database lists them."""
    return [Bin(o, ph, p, a, h) for o in OPERATIONS for ph in PHASES for p in POLICY_NAMES
            for a in ACCESSES for h in OUTCOMES]


# --------------------------------------------------------------------------- windows from a trace

@dataclass(frozen=True)
class Window:
    """One PTE change of one operation instance and the times of its steps."""

    op: str
    thread: str
    pasid: int
    va: int  # the changed range [va, va + size)
    size: int
    start: int  # first step of the instance
    clear: int
    set: int
    unlock: int
    end: int
    done: int  # last step of the instance
    freed: int | None  # first free of the old frame, if within the operation
    old_pa: int | None = None  # what the range mapped before the change (None: nothing)

    def uses_old(self, d: DevAccess) -> bool:
        """Did access d use the translation this change replaced (or find none)?

        A faulting access walked and found no translation; with nothing mapped
        before, every access counts (a walk racing a fill); otherwise the
        access's PA must lie in the old page at the access's offset."""
        if d.fault or self.old_pa is None:
            return True
        return d.pa - (d.va - self.va) - self.old_pa in range(0, PAGE)

    def phase(self, t: int) -> str:
        """The phase of an access performed at time t (a step at t counts as later)."""
        if t <= self.start:
            return "before"
        if self.freed is not None and t > self.freed:
            return "freed"
        if t <= self.clear:
            return "start..clear"
        if t <= self.set:
            return "clear..set"
        if t <= self.unlock:
            return "set..unlock"
        if t <= self.end:
            return "unlock..end"
        if t <= self.done:
            return "end..done"
        return "after"


def _instances(events: list) -> list[list[tuple[int, OpStep, list[PteChange]]]]:
    """Operation instances: per thread, runs of consecutive steps with one op
    name; each step with the PteChanges recorded just before it."""
    pending: list[PteChange] = []
    by_thread: dict[str, list[list[tuple[int, OpStep, list[PteChange]]]]] = {}
    for i, e in enumerate(events):
        t = type(e)
        if t is PteChange:
            pending.append(e)
        elif t is OpStep:
            runs = by_thread.setdefault(e.thread, [])
            if not runs or runs[-1][-1][1].op != e.op:
                runs.append([])
            runs[-1].append((i, e, pending))
            pending = []
    return [run for runs in by_thread.values() for run in runs]


def _first_after(steps: list[tuple[int, OpStep, list]], k: int, names: frozenset[str] | str) -> int | None:
    for j in range(k, len(steps)):
        n = steps[j][1].step
        if (n == names) if isinstance(names, str) else (n in names):
            return j
    return None


def windows(trace: Iterable) -> list[Window]:
    """Every PTE change of every operation instance, with its phase boundaries."""
    events = list(trace)
    frees: dict[int, list[int]] = {}
    for e in events:
        if type(e) is FrameEvent and e.kind == "free":
            frees.setdefault(e.pfn, []).append(e.time)
    for lst in frees.values():
        lst.sort()
    out: list[Window] = []
    for steps in _instances(events):
        t_start, t_done = steps[0][1].time, steps[-1][1].time
        for k, (_, st, changes) in enumerate(steps):
            for c in changes:
                # the clear: nearest clear step at or before this one, not beyond a range_start
                ci = k
                for j in range(k, -1, -1):
                    n = steps[j][1].step
                    if n in CLEAR_STEPS:
                        ci = j
                        break
                    if n == "range_start":
                        break
                si = _first_after(steps, ci, SET_STEPS)
                if si is not None and si > k:
                    si = None
                ui = _first_after(steps, ci, "pt_unlock")
                if si is None:
                    # no set step between the clear and the change: a removal (zap) stays
                    # cleared until the lock is dropped; a change recorded under another
                    # step name is set at that step
                    si = ui if (ci == k and steps[k][1].step in CLEAR_STEPS and ui is not None) else k
                if ui is None or ui < si:
                    ui = si
                ei = _first_after(steps, ui, "range_end")
                t_clear = steps[ci][1].time
                t_set = steps[si][1].time
                t_unlock = steps[ui][1].time
                t_end = t_unlock if ei is None else steps[ei][1].time
                freed = None
                if c.old_pa is not None and c.old_pa != c.new_pa:
                    for pfn in range(c.old_pa >> 12, (c.old_pa + c.size) >> 12):
                        ts = frees.get(pfn)
                        if not ts:
                            continue
                        j = bisect.bisect_left(ts, t_clear)
                        if j < len(ts) and ts[j] <= t_done and (freed is None or ts[j] < freed):
                            freed = ts[j]
                out.append(Window(st.op, st.thread, c.pasid, c.va, c.size, t_start, t_clear, t_set, t_unlock,
                                  t_end, t_done, freed, c.old_pa))
    return out


def access_time(d: DevAccess) -> int:
    """When the access used its translation: at memory, or at completion if it faulted."""
    return d.mem_time if d.mem_time is not None else d.complete


def bins_of(trace: Iterable, policy: str) -> Counter[Bin]:
    """The bins one run hit, with how many (access, window) pairs hit each."""
    events = list(trace)
    by_page: dict[tuple[int, int], list[DevAccess]] = {}
    # (only accesses through the old translation: one through the new PTE is no race)
    for e in events:
        if type(e) is DevAccess:
            by_page.setdefault((e.pasid, e.va >> 12), []).append(e)
    out: Counter[Bin] = Counter()
    for w in windows(events):
        for page in range(w.va >> 12, (w.va + w.size) >> 12):
            for d in by_page.get((w.pasid, page), ()):
                if not w.uses_old(d):
                    continue
                out[Bin(w.op, w.phase(access_time(d)), policy, "write" if d.write else "read",
                        "hit" if d.atc_hit else "walk")] += 1
    return out


# --------------------------------------------------------------------------- collection (cocotb-coverage)

def _group(policy: str, op: str) -> str:
    return f"{ROOT}.{policy}.{op}"


def _samplers() -> dict[tuple[str, str], object]:
    """This process's sampling functions, one per (policy, operation), built once.

    One cross per (policy, operation) over (phase, access, outcome) rather than
    one cross of all five: cocotb-coverage recomputes a cross's coverage over
    all its bins at every sample, so small crosses keep a sample cheap, and the
    tree race.<policy>.<operation> gives per-policy and per-operation figures.
    """
    global _SAMPLERS
    if _SAMPLERS is None:
        from cocotb_coverage import coverage as cc

        out: dict[tuple[str, str], object] = {}
        for pol in POLICY_NAMES:
            for op in OPERATIONS:
                g = _group(pol, op)
                decorators = [cc.CoverPoint(f"{g}.{name}", xf=(lambda b, i=i: b[i]), bins=list(values))
                              for name, i, values in (("phase", 1, PHASES), ("access", 3, ACCESSES),
                                                      ("outcome", 4, OUTCOMES))]
                decorators.append(cc.CoverCross(f"{g}.{CROSS}",
                                                items=[f"{g}.{n}" for n in ("phase", "access", "outcome")]))

                def race_window_sample(b: Bin) -> None:
                    """One hit of bin b."""

                f = race_window_sample
                for dec in reversed(decorators):  # the cross innermost: it reads the points' new hits
                    f = dec(f)
                out[(pol, op)] = f
        _SAMPLERS = out
    return _SAMPLERS


_SAMPLERS: dict | None = None


def reset() -> None:
    """Forget every hit collected in this process (the bins stay defined)."""
    global _SAMPLERS
    from cocotb_coverage.coverage import coverage_db

    for name in [n for n in coverage_db if n == ROOT or n.startswith(ROOT + ".")]:
        del coverage_db[name]
    _SAMPLERS = None


def sample(bins: Iterable[Bin]) -> None:
    """Record one hit of each bin (each distinct bin once: a hit is a run).
    Bins outside the universe (an operation not in `OPERATIONS`) are ignored."""
    fs = _samplers()
    for b in set(bins):
        f = fs.get((b.policy, b.op))
        if f is not None:
            f(b)


def collect(trace: Iterable, policy: str) -> Counter[Bin]:
    """Bin one run's trace and record it; returns the run's bins."""
    got = bins_of(trace, policy)
    sample(got)
    return got


def bin_key(b: Bin) -> str:
    """A bin without its policy as one short string, `op|phase|access|outcome` (for result
    files that group a run's bins under its policy)."""
    return f"{b.op}|{b.phase}|{b.access}|{b.outcome}"


def bin_of_key(key: str, policy: str) -> Bin:
    """The inverse of `bin_key`; ValueError on anything that is not a bin of the universe."""
    parts = key.split("|")
    if len(parts) != 4:
        raise ValueError(f"bin {key!r}: want op|phase|access|outcome")
    op, ph, a, oc = parts
    for what, v, known in (("operation", op, OPERATIONS), ("phase", ph, PHASES), ("access", a, ACCESSES),
                           ("outcome", oc, OUTCOMES), ("policy", policy, POLICY_NAMES)):
        if v not in known:
            raise ValueError(f"bin {key!r}: unknown {what} {v!r}")
    return Bin(op, ph, policy, a, oc)


def add_hits(h: Counter[Bin]) -> None:
    """Record `h[b]` hits of each bin, as if `sample` had been called that many times.

    Merging result files of many runs needs counts, and sampling each hit
    one by one costs a coverage recomputation per sample (millions at 10^5
    seeds). Each bin is sampled once through cocotb-coverage (which marks it
    covered and updates the coverage figures), then the rest of its count is
    added to the hit tables of its cross and of the cross's three points,
    exactly what the remaining samples would have added."""
    from cocotb_coverage.coverage import coverage_db

    fs = _samplers()
    for b, n in h.items():
        f = fs.get((b.policy, b.op))
        if f is None or n <= 0:
            continue
        f(b)
        if n > 1:
            g = _group(b.policy, b.op)
            coverage_db[f"{g}.{CROSS}"]._hits[(b.phase, b.access, b.outcome)] += n - 1  # noqa: SLF001
            for name, v in (("phase", b.phase), ("access", b.access), ("outcome", b.outcome)):
                coverage_db[f"{g}.{name}"]._hits[v] += n - 1  # noqa: SLF001


def hits() -> Counter[Bin]:
    """Hits per bin collected in this process (runs that reached it)."""
    from cocotb_coverage.coverage import coverage_db

    _samplers()
    out: Counter[Bin] = Counter()
    for pol in POLICY_NAMES:
        for op in OPERATIONS:
            for (ph, a, oc), n in coverage_db[f"{_group(pol, op)}.{CROSS}"].detailed_coverage.items():
                if n:
                    out[Bin(op, ph, pol, a, oc)] = n
    return out


def export(path: str | Path) -> Path:
    """Write this process's coverage_db (the race tree) as cocotb-coverage XML (.xml) or YAML (.yml)."""
    from cocotb_coverage.coverage import coverage_db

    _samplers()
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    if p.suffix in (".yml", ".yaml"):
        coverage_db.export_to_yaml(str(p))
    else:
        coverage_db.export_to_xml(str(p))
    return p


def merge(out: str | Path, *files: str | Path) -> Path:
    """Merge exported databases (all XML or all YAML) with cocotb-coverage's merge_coverage."""
    from cocotb_coverage.coverage import merge_coverage

    if not files:
        raise ValueError("coverage merge: no files")
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    merge_coverage(lambda _msg: None, str(out), *[str(f) for f in files])
    return Path(out)


def _cross_of(name: str) -> tuple[str, str] | None:
    """(policy, operation) of a cross's name race.<policy>.<operation>.window (with or without `top.`)."""
    parts = name.split(".")
    if parts and parts[0] == "top":
        parts = parts[1:]
    if len(parts) == 4 and parts[0] == ROOT and parts[3] == CROSS:
        return parts[1], parts[2]
    return None


def load(path: str | Path) -> Counter[Bin]:
    """Hits per bin from an exported (or merged) XML or YAML database."""
    p = Path(path)
    text = p.read_text()
    out: Counter[Bin] = Counter()
    if p.suffix in (".yml", ".yaml"):
        import yaml

        db = yaml.safe_load(text) or {}
        for name, item in db.items():
            po = _cross_of(name)
            if po is None:
                continue
            for key, n in (item.get("bins:_hits") or {}).items():
                if n:
                    ph, a, oc = ast.literal_eval(key)
                    out[Bin(po[1], ph, po[0], a, oc)] += int(n)
        return out
    from xml.etree import ElementTree as et

    for el in et.fromstring(text).iter():
        if "bin" not in el.attrib:
            continue
        po = _cross_of(el.attrib.get("abs_name", "").rsplit(".", 1)[0])
        n = int(el.attrib.get("hits", "0"))
        if po is not None and n:
            ph, a, oc = ast.literal_eval(el.attrib["bin"])
            out[Bin(po[1], ph, po[0], a, oc)] += n
    return out


# --------------------------------------------------------------------------- the report

def table(h: Counter[Bin], policies: Iterable[str] = POLICY_NAMES, *, only_hit_ops: bool = True) -> str:
    """Operation x phase, one block per policy. A cell gives the (access, outcome)
    pairs hit as letters: r/w = read/write, H/W = ATC hit/walk (e.g. `rH rW`),
    `.` for none; each block ends with bins hit / total."""
    lines: list[str] = []
    ops = [o for o in OPERATIONS if not only_hit_ops or any(b.op == o for b in h)] or list(OPERATIONS)
    colw = 13
    for pol in policies:
        mine = {b for b in h if b.policy == pol and h[b]}
        if not mine and only_hit_ops and any(h.values()):
            continue  # a policy that did not run
        total = len(OPERATIONS) * len(PHASES) * len(ACCESSES) * len(OUTCOMES)
        lines.append(f"race-window coverage [{pol}]: {len(mine)}/{total} bins hit "
                     f"(cells: r/w read/write, H/W ATC hit/walk)")
        lines.append(f"  {'operation':<28}" + "".join(f"{ph:<{colw}}" for ph in PHASES))
        for o in ops:
            cells = []
            for ph in PHASES:
                got = [f"{a[0]}{'H' if oc == 'hit' else 'W'}" for a in ACCESSES for oc in OUTCOMES
                       if Bin(o, ph, pol, a, oc) in mine]
                cells.append(f"{' '.join(got) or '.':<{colw}}")
            lines.append(f"  {o:<28}" + "".join(cells))
    return "\n".join(lines)


#: phases after the PTE change: an ATC hit there is a stale translation in use
STALE_PHASES = ("set..unlock", "unlock..end", "end..done", "freed", "after")


def summary(h: Counter[Bin]) -> dict:
    """Bins hit / total, overall and per policy, and how many of the hit bins are
    stale uses (an ATC hit after the change), per policy (for JSON reports)."""
    per = {p: len({b for b in h if b.policy == p and h[b]}) for p in POLICY_NAMES}
    stale = {p: len({b for b in h if b.policy == p and h[b] and b.outcome == "hit" and b.phase in STALE_PHASES})
             for p in POLICY_NAMES}
    total = len(OPERATIONS) * len(PHASES) * len(ACCESSES) * len(OUTCOMES)
    return {"bins_hit": sum(per.values()), "bins_total": total * len(POLICY_NAMES),
            "per_policy": {p: {"hit": n, "total": total, "stale_hit": stale[p]} for p, n in per.items()}}


def write_report(out_dir: str | Path, h: Counter[Bin] | None = None, *, xml: Path | None = None) -> dict[str, Path]:
    """coverage.xml (this process's database unless `xml` names a merged one),
    coverage.yml and coverage.txt (the table) under out_dir."""
    d = Path(out_dir)
    d.mkdir(parents=True, exist_ok=True)
    files = {"xml": d / "coverage.xml", "txt": d / "coverage.txt"}
    if xml is None:
        export(files["xml"])
        export(d / "coverage.yml")
        files["yml"] = d / "coverage.yml"
    elif Path(xml).resolve() != files["xml"].resolve():
        files["xml"].write_text(Path(xml).read_text())
    h = load(files["xml"]) if h is None else h
    files["txt"].write_text(table(h) + "\n")
    return files
