"""Coverage-directed random scheduling: steer the random scheduler into race windows.

The random scheduler (model.scheduler, mode "random") preempts a CPU thread
with probability 1/4 after a step and delays each device access by 0..3
steps, whatever the threads are doing. A race window (`model.coverage`:
e.g. a COW between `pt_unlock` and `range_end`, or the time after
`ksm_replace_page_early_free` freed the old page) is open for a few cycles,
and a device access lands in it by luck.

A `Director` makes those choices from the run's own race-window coverage,
as the trace grows (`model.coverage` bins, per run):

* it follows every CPU thread's operation through the phases of the bins
  (`start..clear`, `clear..set`, ..., `freed`) from the steps, PTE changes and
  device accesses the trace records;
* after a step at which the thread may be preempted (it holds no page-table
  lock), if its operation is in a phase after the PTE change
  (`hold_phases`) whose bin this run has not hit yet for an access kind a
  device thread still has queued for that page, the thread is held there for
  `long_sleep` steps: the window stays open. An operation that would close
  a held window (another one on the same page, or on the whole mm) waits
  until it ends; a thread about to store is not held while another window
  waits for a write (below); anything else gets the usual 1/4 draw;
* a device access into a held window goes in once the device has read a
  value written (by a CPU store or a device write) since the window opened,
  or near the window's end (`margin` steps before the thread wakes): a stale
  use is observable by the ordering rule only after the device saw a newer
  write. A read of a page written since a window opened goes at once, an
  access queued in front of one into a window too; any other access is held
  back a little (`hold` steps) so that accesses are left when a window opens;
* a window is served when the trace shows a device access in it through the
  old translation (its bin is hit); the thread is then let go (once the
  window had its newer write, or no other thread has a store left).

Same catalogue, same scenarios, same seeds: only the interleaving is chosen
differently, and only from the run itself, so a directed seed replays alone.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from .coverage import ACCESSES, CLEAR_STEPS, OPERATIONS, PAGE, SET_STEPS
from .trace import CpuStore, DevAccess, OpStep, PteChange

#: phases a device access can only reach while the operation runs
LIVE_PHASES = ("start..clear", "clear..set", "set..unlock", "unlock..end", "end..done", "freed")


@dataclass
class _Live:
    """A CPU thread's current operation as the director follows it."""

    thread: str
    op: str
    phase: str
    page: int | None  # VA page number of the scenario action; None: the whole mm
    old: dict[int, int | None] = field(default_factory=dict)  # VA page -> old PA page of its PTE change
    until: int = 0  # held in this phase until then (0: not held)
    newer: set = field(default_factory=set)  # values written (by anyone) since the window opened
    newer_pages: set = field(default_factory=set)  # VA pages of those writes
    ripe: bool = False  # the device has read one of them: a stale use now is observable


class Director:
    """Coverage-directed choices for `model.scheduler._Run.run_random`.

    Its choices depend only on the run (its seed and what the trace shows as
    it grows), so a directed seed replays exactly, on its own."""

    def __init__(self, *, long_sleep: tuple[int, int] = (20, 60), hold: int = 6, margin: int = 3,
                 hold_phases: tuple[str, ...] = ("unlock..end", "end..done", "freed")) -> None:
        self.long_sleep = long_sleep  # steps a thread is held in a window
        self.hold = hold  # extra steps (at most) an access with no open window waits
        self.hold_phases = hold_phases  # phases a thread is held in (the others pass without it)
        self.margin = margin  # an access into a held window goes this many steps before the thread wakes
        self.windows = 0  # windows held, over all runs
        self.served_windows = 0  # ... of which a device access hit the bin before the thread woke
        # per run
        self.live: dict[str, _Live] = {}
        self.served: set[tuple[str, str, str]] = set()  # (op, phase, access) hit in this run
        self.rng = random.Random(0)
        self._seen = 0  # trace events already looked at
        self._changes: list[PteChange] = []  # PTE changes not yet claimed by a step

    # -- following the run ------------------------------------------------------------------
    def begin(self, run: Any) -> None:
        """A run starts: fresh per-run state, the run's seed mixed into the director's own draws."""
        self.live = {}
        self.served = set()
        self.rng = random.Random(run.rng.getrandbits(64))
        self._seen = len(run.host.trace.events)
        self._changes = []

    def _scan(self, run: Any) -> None:
        """Read the trace events recorded since the last look: steps move operations
        through their phases, device accesses serve windows."""
        events = run.host.trace.events
        for i in range(self._seen, len(events)):
            e = events[i]
            t = type(e)
            if t is PteChange:
                self._changes.append(e)
            elif t is OpStep:
                self._step(run, e)
            elif t is DevAccess:
                self._access(run, e)
            elif t is CpuStore:
                self._write(run, e.va, e.value)
        self._seen = len(events)

    def _step(self, run: Any, ev: OpStep) -> None:
        cur = self.live.get(ev.thread)
        if cur is None or cur.op != ev.op:
            a = run.cpus[ev.thread].gen_action if ev.thread in run.cpus else None
            page = None if a is None or a.va is None else a.va >> 12
            cur = self.live[ev.thread] = _Live(ev.thread, ev.op, "start..clear", page)
        for c in self._changes:
            for p in range(c.va // PAGE, (c.va + c.size) // PAGE):
                cur.old.setdefault(p, None if c.old_pa is None else c.old_pa // PAGE + p - c.va // PAGE)
        self._changes = []
        n, ph = ev.step, cur.phase
        cur.until = 0
        if n in CLEAR_STEPS:
            cur.phase = "clear..set"
        elif n in SET_STEPS:
            cur.phase = "set..unlock"
        elif n == "pt_unlock" and ph in ("clear..set", "set..unlock"):
            cur.phase = "unlock..end"
        elif n == "range_end" and ph in ("clear..set", "set..unlock", "unlock..end"):
            cur.phase = "end..done"
        elif n == "page_free" and ph != "start..clear":
            cur.phase = "freed"
        elif n == "range_start" and ph == "end..done":
            cur.phase = "start..clear"

    def _held(self, now: int) -> list[_Live]:
        return [c for c in self.live.values() if c.until > now]

    def _write(self, run: Any, va: int, value: int) -> None:
        for c in self._held(run.device.now):
            c.newer.add(value)
            c.newer_pages.add(va // PAGE)

    def _access(self, run: Any, d: DevAccess) -> None:
        kind = "write" if d.write else "read"
        if d.fault == 0:
            if d.write:
                self._write(run, d.va, d.value)
            else:
                for c in self._held(run.device.now):
                    if not c.ripe and d.value in c.newer:
                        c.ripe = True  # accesses into the window: decide again, now
                        for dd in run.devs.values():
                            if dd.outstanding is None:
                                dd.wake = None
        vp = d.va // PAGE
        for c in self.live.values():
            if c.phase not in LIVE_PHASES or (c.page is not None and c.page != vp):
                continue
            old = c.old.get(vp)
            if d.fault == 0 and old is not None and d.pa // PAGE != old:
                continue  # through the new translation: no race
            key = (c.op, c.phase, kind)
            if key not in self.served:
                self.served.add(key)
                if c.until > run.device.now and (c.ripe or not self._stores_pending(run, c.thread)):
                    # the window did its job: let the thread go
                    self.served_windows += 1
                    c.until = 0
                    t = run.cpus.get(c.thread)
                    if t is not None:
                        t.wake = run.device.now

    # -- decisions ----------------------------------------------------------------------------
    def _wanted(self, c: _Live, kind: str) -> bool:
        return c.op in OPERATIONS and c.phase in LIVE_PHASES and (c.op, c.phase, kind) not in self.served

    def _queued(self, run: Any, page: int | None) -> set[str]:
        """Access kinds some device thread still has queued for `page` (None: any page)."""
        kinds: set[str] = set()
        for d in run.devs.values():
            for a in d.queue:
                if a.va is not None and a.verb in ACCESSES and (page is None or a.va >> 12 == page):
                    kinds.add(a.verb)
        return kinds

    def stepped(self, run: Any, t: Any) -> None:
        """After a CPU step of t: hold t in a window worth opening, else the usual 1/4 draw."""
        self._scan(run)
        cur = self.live.get(t.name)
        if run.host.mm_of(t.name).ptl.owner == t.name:
            return  # preemption is disabled under the page-table spinlock
        rng, cps, now = self.rng, run.cps, run.device.now
        held = [c for c in self.live.values() if c is not cur and c.until > now]
        if cur is not None and any(c.page is None or cur.page is None or c.page == cur.page for c in held):
            # an operation on a held page would close its window (or disturb it): wait
            t.wake = max(c.until for c in held) + cps
            return
        # a thread whose store makes another window's stale use observable is not held itself
        storing = t.gen_action is not None and t.gen_action.verb == "store" and any(not c.ripe for c in held)
        if cur is not None and t.gen is not None and cur.phase in self.hold_phases and not storing:
            if any(self._wanted(cur, k) for k in self._queued(run, cur.page)):
                self.windows += 1
                t.wake = cur.until = now + rng.randint(*self.long_sleep) * cps
                cur.newer, cur.newer_pages, cur.ripe = set(), set(), False
                for d in run.devs.values():  # accesses already told to wait: decide again
                    if d.outstanding is None:
                        d.wake = None
                return
        if rng.random() < run.p_preempt:
            t.wake = now + rng.randint(1, run.max_sleep) * cps

    def _stores_pending(self, run: Any, but: str) -> bool:
        """Does a CPU thread other than `but` still have a store to run?"""
        for t in run.cpus.values():
            if t.name == but:
                continue
            if t.gen_action is not None and t.gen_action.verb == "store" and t.gen is not None:
                return True
            if any(a.verb == "store" for a in t.queue):
                return True
        return False

    def _open(self, run: Any, page: int, kind: str) -> list[_Live]:
        """Operations still running on `page` in a phase not yet served for `kind`."""
        return [c for c in self.live.values() if (c.page is None or c.page == page) and self._wanted(c, kind)
                and c.thread in run.cpus and run.cpus[c.thread].gen is not None]

    def dev_wait(self, run: Any, d: Any) -> int:
        """Cycles before d's next access is issued (see the module docstring)."""
        self._scan(run)
        now, cps = run.device.now, run.cps
        a = d.queue[0]
        if a.va is not None and a.verb in ACCESSES:
            win = self._open(run, a.va >> 12, a.verb)
            if win:
                ends = [c.until for c in win if c.until > now]
                if not ends or any(c.ripe for c in win):
                    return 0
                return max(0, min(ends) - self.margin * cps - now)
            if a.verb == "read" and any(a.va >> 12 in c.newer_pages and not c.ripe for c in self._held(now)):
                return 0  # a read that can observe a write made while a window is open
        if any(b.va is not None and b.verb in ACCESSES and any(c.until > now for c in self._open(run, b.va >> 12, b.verb))
               for b in list(d.queue)[1:]):
            return 0
        busy = any(not t.done for t in run.cpus.values())
        extra = self.rng.randint(0, self.hold) if busy else 0
        return (self.rng.randint(0, run.max_dev_wait) + extra) * cps
