"""Coverage-directed random scheduling: steer the random scheduler into race windows.

The random scheduler (model.scheduler, mode "random") preempts a CPU thread
with probability 1/4 after a step and delays each device access by 0..3
steps, whatever the threads are doing. A race window (`model.coverage`:
e.g. a COW between `pt_unlock` and `range_end`, or the time after
`ksm_replace_page_early_free` freed the old page) is open for a few cycles,
and a device access lands in it by luck.

A `Director` makes those choices from the run's own race-window coverage,
as the trace grows (`model.coverage` bins, per run), and aims at the windows
in which the run can still break a rule (docs/COVERAGE.md, "Coverage-directed
stress"). A stale translation breaks one only if the device reads a page
freed while it still maps it, or reads the old page of a repointed PTE after
it read a write W2 that came after a write W1 through the new PTE. So:

* it follows every CPU thread's operation through the phases of the bins
  (`start..clear`, `clear..set`, ..., `freed`) from the steps, PTE changes and
  device accesses the trace records, which pages the device has a translation
  of (used since their last invalidation), and W1 (a uprobe breakpoint, or
  another thread's store through a COW's new PTE);
* warm-up: an operation about to clear a PTE the device has not cached waits
  (`warm_sleep`) while a queued device read of the page goes at once;
* aimed windows: after a step at which the thread may be preempted (it holds
  no page-table lock), an operation in `unlock..end` or `freed` whose page was
  cached at the clear and still has a device read queued, with W1 done or
  still possible and a W2 still possible (`_promising`), is held
  (`aim_sleep`); meanwhile nobody is preempted at random, device accesses
  wait for a W2, reads of pages written since go at once, then reads of the
  held page; the thread is let go after a stale use that follows a W2 read,
  or when nothing can come of the window any more;
* stores wait (`defer`, at most `defer_steps`) for a COW or uprobe breakpoint
  under way or queued (`look_past`: also behind that thread's stores) to open
  its window, and for another thread's COW of the same page to set its new
  PTE (`follow_cow`); a uprobe breakpoint waits to start (at most
  `stage_steps`) while every other thread's store is still behind other
  operations;
* an action on the page of a queued uprobe breakpoint or KSM early free (or on
  the whole mm) waits (`yield_steps`) until that action cleared the PTE: it
  gives up if the PTE changed first;
* device accesses are paced over the CPU work still to come (`pace`), and
  the last `reserve` reads of a page a queued breakpoint will repoint wait
  for its window, and the last `keep_w2` reads of a page a store will write;
* windows that cannot break a rule but whose bin neither this run nor an
  earlier one (`hit`, `learn`) has hit are held `long_sleep` steps, for
  coverage, unless a window is held for a violation (`yield_bins`); an
  operation that would close a held window (another one on the same page, or
  on the whole mm) waits.

`aim=False` keeps only the last point (the director as first written).

Same catalogue, same scenarios, same seeds: only the interleaving is chosen
differently, and only from the run itself (and `hit`, if given), so a
directed seed replays alone.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Iterable

from .coverage import ACCESSES, CLEAR_STEPS, OPERATIONS, PAGE, SET_STEPS, Bin
from .trace import CpuStore, DevAccess, InvReq, OpStep, PteChange

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
    warm: bool = False  # the device had used the page's translation (not invalidated since) at the clear
    new: str = "none"  # what the change left: "rw", "ro" (a present PTE) or "none"
    w1: bool = False  # a write reached the page through the new translation (the stale one is now old)
    aim: bool = False  # held for a violation (not only for a bin): see Director._promising
    warming: bool = False  # held once before its clear until the device cached the page


class Director:
    """Coverage-directed choices for `model.scheduler._Run.run_random`.

    Its choices depend only on the run (its seed and what the trace shows as
    it grows), so a directed seed replays exactly, on its own."""

    def __init__(self, *, long_sleep: tuple[int, int] = (20, 60), aim_sleep: tuple[int, int] = (150, 250),
                 warm_sleep: int = 25, spare: int = 2, hold: int = 6, margin: int = 3, pause: bool = True,
                 calm: bool = True, pace: float = 12.0, defer_steps: int = 120,
                 repoint: tuple[str, ...] = ("__replace_page", "wp_page_copy"), defer_queued: bool = True,
                 reserve: int = 2, reserve_wait: int = 400, aim: bool = True, stage_steps: int = 100,
                 hold_phases: tuple[str, ...] = ("unlock..end", "end..done", "freed"), look_past: bool = True,
                 yield_bins: bool = True, keep_w2: int = 2, spare_later: bool = True, yield_steps: int = 40,
                 attack_verbs: tuple[str, ...] = ("__replace_page", "ksm_replace_page_early_free"),
                 follow_cow: bool = True, hit: Iterable[Bin] = ()) -> None:
        self.hit: set[Bin] = set(hit)  # bins earlier runs hit (a campaign's coverage): not held for again
        self.follow_cow = follow_cow  # a store waits for another thread's COW of its page to set the new PTE
        self.look_past = look_past  # a store waits for a uprobe breakpoint queued behind the other thread's stores too
        self.yield_bins = yield_bins  # windows held for their bin give way to one held for a violation
        self.keep_w2 = keep_w2  # last reads of a page a store will write, kept while a breakpoint is to come
        self.spare_later = spare_later  # no bin hold for a thread with a breakpoint queued (stores wait for it)
        self.yield_steps = yield_steps  # steps (per thread and run) an action waits not to spoil attack_verbs
        self.attack_verbs = attack_verbs  # window-opening actions that give up if their PTE changed first
        self.aim = aim  # aim at violations (below); False: hold windows for their bins only
        self.long_sleep = long_sleep  # steps a thread is held in a window kept for its bin
        self.aim_sleep = aim_sleep  # steps (at most) a thread is held in a window that can break a rule
        self.warm_sleep = warm_sleep  # steps (at most) an operation waits before its clear for a warm-up access
        self.defer_steps = defer_steps  # steps (at most, per thread and run) a store waits for a window to open
        self.repoint = repoint  # operations whose window a store is worth waiting for
        self.repoint_verbs = ("__replace_page",)  # scenario actions that always repoint a page (and write it)
        self.defer_queued = defer_queued  # a store also waits for such an action still queued in another thread
        self.stage_steps = stage_steps  # steps (at most, per thread and run) a repointing action waits for a store
        self.reserve_wait = reserve_wait  # steps such a read waits (at most) before it is decided again
        self.reserve = reserve  # reads of a page such an action will repoint kept back for its window
        self.pace = pace  # CPU steps an operation takes, roughly: device accesses are spread over them (0: off)
        self.pause = pause  # device accesses wait while a held window waits for a newer write
        self.calm = calm  # no random preemption while a window is held for a violation
        self.spare = spare  # reads of a held page kept back for after the newer write was read
        self.hold = hold  # extra steps (at most) an access with no open window waits
        self.hold_phases = hold_phases  # phases a thread is held in (the others pass without it)
        self.margin = margin  # an access into a held window goes this many steps before the thread wakes
        self.windows = 0  # windows held, over all runs
        self.served_windows = 0  # ... of which a device access hit the bin before the thread woke
        self.aimed = 0  # windows held for a violation, over all runs
        # per run
        self.live: dict[str, _Live] = {}
        self.served: set[tuple[str, str, str]] = set()  # (op, phase, access) hit in this run
        self.rng = random.Random(0)
        self._seen = 0  # trace events already looked at
        self._changes: list[PteChange] = []  # PTE changes not yet claimed by a step
        self.warm: set[int] = set()  # VA pages the device used a translation of, not invalidated since
        self.want_warm: set[int] = set()  # VA pages an operation waits to see cached before its clear
        self._w1_pages: set[int] = set()  # pages written through a change not yet claimed by a step
        self._waits: dict[str, int] = {}  # CPU thread -> cycle it waits for a held window until
        self._deferred: dict[str, int] = {}  # CPU thread -> steps its stores waited in this run
        self._staged: dict[str, int] = {}  # CPU thread -> steps its repointing actions waited in this run
        self._yielded: dict[str, int] = {}  # CPU thread -> steps its actions waited for another's window-opening one
        self._redecide_run = False
        self._inv_at: dict[int, int] = {}  # VA page -> time of its last invalidation
        self._inv_all = -1  # time of the last invalidation of everything

    # -- following the run ------------------------------------------------------------------
    def begin(self, run: Any) -> None:
        """A run starts: fresh per-run state, the run's seed mixed into the director's own draws."""
        self.live = {}
        pol = run.host.notifier.policy.value
        # a bin an earlier run hit (`hit`, `learn`) is served already: only windows no run reached are held
        self.served = {(b.op, b.phase, b.access) for b in self.hit if b.policy == pol}
        self.rng = random.Random(run.rng.getrandbits(64))
        self._seen = len(run.host.trace.events)
        self._changes = []
        self.warm, self.want_warm, self._w1_pages = set(), set(), set()
        self._waits = {}
        self._deferred, self._staged, self._yielded = {}, {}, {}
        self._inv_at, self._inv_all = {}, -1

    def learn(self, bins: Iterable[Bin]) -> None:
        """Bins a run hit (`coverage.bins_of`): later runs of this director steer towards the others.
        A directed run then depends on the runs before it (replay it with the same `hit`)."""
        self.hit.update(bins)

    def _scan(self, run: Any) -> None:
        """Read the trace events recorded since the last look: steps move operations
        through their phases, device accesses serve windows and warm pages up,
        invalidations cool them down."""
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
                self._store(run, e)
            elif t is InvReq:
                if e.size > 64 * PAGE:
                    self.warm.clear()
                    self._inv_all = e.time
                else:
                    for p in range(e.start // PAGE, (e.start + e.size) // PAGE):
                        self.warm.discard(p)
                        self._inv_at[p] = e.time
        self._seen = len(events)
        if self._redecide_run:
            self._redecide_run = False
            self._redecide(run)

    def _step(self, run: Any, ev: OpStep) -> None:
        cur = self.live.get(ev.thread)
        if cur is None or cur.op != ev.op:
            a = run.cpus[ev.thread].gen_action if ev.thread in run.cpus else None
            page = None if a is None or a.va is None else a.va >> 12
            cur = self.live[ev.thread] = _Live(ev.thread, ev.op, "start..clear", page)
        for c in self._changes:
            for p in range(c.va // PAGE, (c.va + c.size) // PAGE):
                cur.old.setdefault(p, None if c.old_pa is None else c.old_pa // PAGE + p - c.va // PAGE)
            if cur.page is not None and c.va // PAGE <= cur.page < (c.va + c.size) // PAGE:
                cur.new = "none" if c.new_pa is None else "rw" if c.writable else "ro"
                if cur.page in self._w1_pages:
                    cur.w1 = True  # written at the change itself (a uprobe breakpoint)
        self._changes = []
        self._w1_pages = set()
        n, ph = ev.step, cur.phase
        cur.until = 0
        if n in CLEAR_STEPS:
            cur.phase = "clear..set"
            cur.warm = cur.page in self.warm
            self.want_warm.discard(cur.page)
        elif n in SET_STEPS:
            cur.phase = "set..unlock"
        elif n == "pt_unlock" and ph in ("clear..set", "set..unlock"):
            cur.phase = "unlock..end"
        elif n == "range_end" and ph in ("clear..set", "set..unlock", "unlock..end"):
            cur.phase = "end..done"
            if cur.op in self.repoint:
                self._redecide_run = True  # reads kept for this window may go now
        elif n == "page_free" and ph != "start..clear":
            cur.phase = "freed"
        elif n == "range_start" and ph == "end..done":
            cur.phase = "start..clear"

    def _held(self, now: int) -> list[_Live]:
        return [c for c in self.live.values() if c.until > now]

    def _store(self, run: Any, e: CpuStore) -> None:
        vp = e.va // PAGE
        for ch in self._changes:  # recorded with the change, before its step (__replace_page)
            if ch.va // PAGE <= vp < (ch.va + ch.size) // PAGE and ch.new_pa is not None \
                    and e.pa // PAGE == ch.new_pa // PAGE + vp - ch.va // PAGE:
                self._w1_pages.add(vp)
        self._write(run, e.va, e.value)
        for c in self.live.values():
            old = c.old.get(vp)
            if c.page == vp and c.phase in ("set..unlock", "unlock..end", "freed") \
                    and old is not None and e.pa // PAGE != old and not c.w1:
                c.w1 = True  # the stale translation now reads an overwritten value
                c.newer, c.newer_pages, c.ripe = set(), set(), False

    def _write(self, run: Any, va: int, value: int) -> None:
        for c in self._held(run.device.now):
            if c.w1 or not c.aim:
                if c.aim and not c.newer:
                    self._redecide(run)  # accesses kept for a newer write: it is there
                c.newer.add(value)
                c.newer_pages.add(va // PAGE)

    def _release(self, run: Any, c: _Live) -> None:
        """Let a held thread go; device accesses told to wait for it decide again."""
        c.until = 0
        now = run.device.now
        t = run.cpus.get(c.thread)
        if t is not None:
            t.wake = now
        if not self._held(now):
            for name, w in self._waits.items():
                if w > now:
                    run.cpus[name].wake = now
            self._waits = {}
        self._redecide(run)

    @staticmethod
    def _redecide(run: Any) -> None:
        for dd in run.devs.values():
            if dd.outstanding is None:
                dd.wake = None

    def _access(self, run: Any, d: DevAccess) -> None:
        kind = "write" if d.write else "read"
        vp = d.va // PAGE
        if d.fault == 0 and d.issue > max(self._inv_all, self._inv_at.get(vp, -1)):
            self.warm.add(vp)  # (an access issued before an invalidation may have used what it dropped)
        if d.fault == 0:
            if vp in self.want_warm:
                self.want_warm.discard(vp)
                for c in self.live.values():
                    if c.warming and c.page == vp and c.until > run.device.now:
                        self._release(run, c)
            if d.write:
                self._write(run, d.va, d.value)
            else:
                for c in self._held(run.device.now):
                    if not c.ripe and d.value in c.newer:
                        c.ripe = True  # accesses into the window: decide again, now
                        self._redecide(run)
        for c in self.live.values():
            if c.phase not in LIVE_PHASES or (c.page is not None and c.page != vp):
                continue
            old = c.old.get(vp)
            if d.fault == 0 and old is not None and d.pa // PAGE != old:
                continue  # through the new translation: no race
            key = (c.op, c.phase, kind)
            first = key not in self.served
            self.served.add(key)
            if c.until <= run.device.now or c.warming:
                continue
            if c.aim:
                if d.fault == 0 and d.atc_hit and (c.ripe or c.phase == "freed"):
                    self.served_windows += 1  # a stale use after a newer write was seen
                    self._release(run, c)
            elif first and (c.ripe or not self._stores_pending(run, c.thread)):
                # the window did its job: let the thread go
                self.served_windows += 1
                self._release(run, c)

    # -- what can still happen ------------------------------------------------------------------
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

    @staticmethod
    def _pending_actions(t: Any) -> list:
        """t's operation in progress and the ones queued after it."""
        out = [t.gen_action] if t.gen is not None and t.gen_action is not None else []
        return out + list(t.queue)

    def _free(self, run: Any, but: str) -> list[Any]:
        """The CPU threads other than `but` that are neither held in a window nor waiting for one."""
        now = run.device.now
        held = {c.thread for c in self.live.values() if c.until > now and (c.aim or not self.yield_bins)}
        return [t for t in run.cpus.values() if t.name != but and t.name not in held
                and self._waits.get(t.name, 0) <= now]

    def _store_to(self, run: Any, but: str, page: int) -> bool:
        """Does a free CPU thread other than `but` still have a store to `page` to run that has not
        faulted yet (a store that faults on the page closes the window with its own range_end)?"""
        for t in self._free(run, but):
            if t.gen is not None and t.gen_action is not None and t.gen_action.verb == "store" \
                    and t.gen_action.va is not None and t.gen_action.va >> 12 == page:
                c = self.live.get(t.name)
                if c is not None and c.op == "store" and c.phase == "start..clear":
                    return True
            if any(a.verb == "store" and a.va is not None and a.va >> 12 == page for a in t.queue):
                return True
        return False

    def _promising(self, run: Any, c: _Live) -> bool:
        """Can holding c's thread still expose a rule: the device cached the page before the
        clear and still reads it, and either the old page is freed (a use after free) or a
        write through the new translation happened or is still to come and some write after
        it can still be read by the device (the ordering rule then sees the stale value)."""
        if c.page is None or not c.warm or "read" not in self._queued(run, c.page):
            return False
        if c.phase == "freed":
            return True
        if c.phase != "unlock..end":
            return False
        if not c.w1 and not (c.new == "rw" and self._store_to(run, c.thread, c.page)):
            return False
        if c.ripe:
            return True
        if c.newer_pages and any(p in c.newer_pages for p in self._read_pages(run)):
            return True
        return self._stores_pending(run, c.thread) or "write" in self._queued(run, None)

    @staticmethod
    def _reads_of(run: Any, page: int) -> int:
        return sum(1 for d in run.devs.values() for a in d.queue
                   if a.verb == "read" and a.va is not None and a.va >> 12 == page)

    @staticmethod
    def _read_pages(run: Any) -> set[int]:
        return {a.va >> 12 for d in run.devs.values() for a in d.queue if a.verb == "read" and a.va is not None}

    # -- decisions ----------------------------------------------------------------------------
    def stepped(self, run: Any, t: Any) -> None:
        """After a CPU step of t: hold t in a window worth opening, else the usual 1/4 draw."""
        self._scan(run)
        cur = self.live.get(t.name)
        if run.host.mm_of(t.name).ptl.owner == t.name:
            return  # preemption is disabled under the page-table spinlock
        rng, cps, now = self.rng, run.cps, run.device.now
        for c in self._held(now):
            if c.aim and c is not cur and not self._promising(run, c):
                self._release(run, c)  # nothing can come of it any more
        aiming = self.yield_bins and any(c.aim and not c.ripe for c in self._held(now))
        if aiming:
            for c in self._held(now):
                if not c.aim and not c.warming and c is not cur:
                    self._release(run, c)  # a window kept for its bin gives way to one aimed at a violation
        held = [c for c in self.live.values() if c is not cur and c.until > now and not c.warming]
        if cur is not None and any(c.page is None or cur.page is None or c.page == cur.page for c in held):
            # an operation on a held page would close its window (or disturb it): wait; a store or
            # load through a writable new translation (or into a removed one) closes nothing
            if not (cur.op in ("store", "load") and all(c.page == cur.page and c.new != "ro" for c in held
                                                        if c.page is None or c.page == cur.page)):
                t.wake = self._waits[t.name] = max(c.until for c in held) + cps
                return
        # a thread whose store makes another window's stale use observable is not held itself
        storing = t.gen_action is not None and t.gen_action.verb == "store" and any(not c.ripe for c in held)
        if cur is not None and t.gen is not None and not storing:
            if self.aim and cur.phase == "start..clear" and cur.page is not None and not cur.warming \
                    and cur.op in OPERATIONS \
                    and cur.page not in self.warm and "read" in self._queued(run, cur.page):
                # a warm-up: the device caches the page's translation before the clear
                cur.warming = True
                self.want_warm.add(cur.page)
                t.wake = cur.until = now + self.warm_sleep * cps
                self._redecide(run)
                return
            if self.aim and cur.phase in self.hold_phases and self._promising(run, cur):
                self.windows += 1
                self.aimed += 1
                cur.aim, cur.warming = True, False
                t.wake = cur.until = now + rng.randint(*self.aim_sleep) * cps
                if cur.phase == "freed" or not cur.w1:
                    cur.newer, cur.newer_pages, cur.ripe = set(), set(), False
                self._redecide(run)
                return
            if cur.phase in self.hold_phases and not cur.aim and not aiming and \
                    not (self.aim and self.spare_later and any(x.verb in self.repoint_verbs for x in t.queue)) and \
                    any(self._wanted(cur, k) for k in self._queued(run, cur.page)):
                self.windows += 1
                cur.warming = False
                t.wake = cur.until = now + rng.randint(*self.long_sleep) * cps
                cur.newer, cur.newer_pages, cur.ripe = set(), set(), False
                self._redecide(run)
                return
        if self.calm and any(c.aim for c in held):
            return  # the other threads' stores are what the held window waits for
        if rng.random() < run.p_preempt:
            t.wake = now + rng.randint(1, run.max_sleep) * cps

    def defer(self, run: Any, t: Any) -> bool:
        """Before t starts its next action: a store waits (a few steps at a time, `defer_steps` in
        all per thread) while another thread's operation that repoints a page (a uprobe
        breakpoint, a COW) is under way and has not opened its window yet: the store then
        lands inside the window, where it is the newer write the device's stale read betrays
        (or, to the page itself, the write through the new translation)."""
        a = t.queue[0]
        if self.aim and self.yield_steps and a.verb != "load" and self._spoils(run, t, a):
            return True
        if a.verb in self.repoint_verbs and self.aim and self.stage_steps:
            return self._stage(run, t)
        if a.verb != "store" or self.defer_steps <= 0 or not self.aim:
            return False
        self._scan(run)
        now = run.device.now
        used = self._deferred.get(t.name, 0)
        if used >= self.defer_steps:
            return False
        coming = False
        for c in self.live.values():
            if c.thread == t.name or c.op not in self.repoint or c.phase not in ("start..clear", "clear..set",
                                                                                 "set..unlock"):
                continue
            u = run.cpus.get(c.thread)
            if u is None or u.gen is None or (c.phase != "start..clear" and not c.warm):
                continue
            coming = True
        if not coming and self.follow_cow and a.va is not None:
            coming = self._faulting_store(run, t.name, a.va >> 12)
        if not coming and self.defer_queued:
            coming = any(u.name != t.name and (u.wake <= now or self.spare_later) and self._repoint_next(u)
                         for u in run.cpus.values())
        if not coming:
            return False
        n = min(4, self.defer_steps - used)
        self._deferred[t.name] = used + n
        t.wake = now + n * run.cps
        return True

    def _faulting_store(self, run: Any, but: str, page: int) -> bool:
        """Is a thread other than `but` storing to `page` through a COW that has not set the new
        PTE yet? A second store to the page waits for it: started now it would fault too and
        lose the race under the page-table lock (retried after the window closed); after the
        set it lands through the new PTE, inside the window."""
        for u in run.cpus.values():
            a = u.gen_action
            if u.name == but or u.gen is None or a is None or a.verb != "store" or a.va is None \
                    or a.va >> 12 != page:
                continue
            c = self.live.get(u.name)
            if c is not None and c.op in ("store", "wp_page_copy") and c.phase in ("start..clear", "clear..set"):
                return True
        return False

    def _spoils(self, run: Any, t: Any, a: Any) -> bool:
        """Would t's next action `a` change the PTE of a page another thread's window-opening
        action (a uprobe breakpoint, a KSM early free) is still to clear? Then it waits (a few
        steps at a time, `yield_steps` in all per thread): such an action checks the PTE it
        found (pte_same) and gives up if anything changed it first."""
        used = self._yielded.get(t.name, 0)
        if used >= self.yield_steps:
            return False
        page = None if a.va is None else a.va >> 12
        for u in run.cpus.values():
            if u.name == t.name:
                continue
            for x in self._pending_actions(u):
                if x.verb not in self.attack_verbs or x.va is None or (page is not None and x.va >> 12 != page):
                    continue
                c = self.live.get(u.name)
                if x is u.gen_action and c is not None and c.phase != "start..clear":
                    continue  # cleared already
                n = min(4, self.yield_steps - used)
                self._yielded[t.name] = used + n
                t.wake = run.device.now + n * run.cps
                return True
        return False

    def _stage(self, run: Any, t: Any) -> bool:
        """Before t starts a repointing action: wait (a few steps at a time, `stage_steps` in all per
        thread) while the other threads' stores are all behind other operations: once the window
        is open those operations (a whole-mm one closes it) would hold the stores back."""
        used = self._staged.get(t.name, 0)
        if used >= self.stage_steps:
            return False
        later = False
        for u in run.cpus.values():
            if u.name == t.name:
                continue
            acts = self._pending_actions(u)
            if acts and acts[0].verb == "store" or (u.gen is not None and len(acts) > 1 and acts[1].verb == "store"):
                return False  # a store is at hand
            if any(x.verb == "store" for x in acts):
                later = True
        if not later:
            return False
        n = min(5, self.stage_steps - used)
        self._staged[t.name] = used + n
        t.wake = run.device.now + n * run.cps
        return True

    def _repoint_next(self, u: Any) -> bool:
        """Is a repointing operation (a uprobe breakpoint) among u's actions before its next store?"""
        for a in self._pending_actions(u):
            if a.verb == "store" and not self.look_past:
                return False
            if a.verb in self.repoint_verbs:
                return True
        return False

    def _repoint_pages(self, run: Any) -> set[int]:
        """Pages a repointing operation still to come (or not yet in its window) will change."""
        out = set()
        for u in run.cpus.values():
            for a in self._pending_actions(u):
                if a.verb in self.repoint_verbs and a.va is not None:
                    c = self.live.get(u.name)
                    if a is u.gen_action and c is not None and c.phase not in ("start..clear", "clear..set"):
                        continue
                    out.add(a.va >> 12)
        return out

    def _store_pages(self, run: Any) -> set[int]:
        """Pages a store still to come (in any CPU thread) will write."""
        return {a.va >> 12 for u in run.cpus.values() for a in self._pending_actions(u)
                if a.verb == "store" and a.va is not None}

    def _stores_pending(self, run: Any, but: str) -> bool:
        """Does a free CPU thread other than `but` still have a store to run?"""
        for t in self._free(run, but):
            if t.gen_action is not None and t.gen_action.verb == "store" and t.gen is not None:
                return True
            if any(a.verb == "store" for a in t.queue):
                return True
        return False

    def _open(self, run: Any, page: int, kind: str) -> list[_Live]:
        """Operations still running on `page` in a phase not yet served for `kind`, or held for a violation."""
        return [c for c in self.live.values() if (c.page is None or c.page == page)
                and (self._wanted(c, kind) or (c.aim and c.until > run.device.now and kind == "read"))
                and c.thread in run.cpus and run.cpus[c.thread].gen is not None]

    def dev_wait(self, run: Any, d: Any) -> int:
        """Cycles before d's next access is issued (see the module docstring)."""
        self._scan(run)
        now, cps = run.device.now, run.cps
        a = d.queue[0]
        held = self._held(now)
        if a.va is not None and a.verb in ACCESSES:
            vp = a.va >> 12
            if a.verb == "read" and vp in self.want_warm:
                return 0  # the warm-up an operation waits for
            win = [c for c in self._open(run, vp, a.verb) if not c.warming]
            if win:
                ends = [c.until for c in win if c.until > now]
                if not ends or any(c.ripe or (c.aim and c.phase == "freed") for c in win):
                    return 0
                if a.verb == "read" and all(c.aim for c in win if c.until > now) \
                        and self._reads_of(run, vp) > self.spare:
                    pass  # enough reads of the page are left for later: this one need not wait
                else:
                    return max(0, min(ends) - self.margin * cps - now)
            if a.verb == "read" and any(vp in c.newer_pages and not c.ripe for c in held):
                return 0  # a read that can observe a write made while a window is open
            if a.verb == "write" and any(c.aim and c.w1 and not c.ripe for c in held):
                return 0  # a newer write the device can read back
            if a.verb == "read" and self.aim and self.reserve and vp in self._repoint_pages(run) \
                    and self._reads_of(run, vp) <= self.reserve:
                return self.reserve_wait * cps  # kept for the window to come (decided again when one opens)
            if a.verb == "read" and self.aim and self.keep_w2 and self._reads_of(run, vp) <= self.keep_w2 \
                    and vp in self._store_pages(run) and self._repoint_pages(run):
                return self.reserve_wait * cps  # kept to read back a store that can come inside that window
        waiting = [c for c in held if c.aim and c.w1 and not c.ripe and not c.newer]
        if waiting and self.pause:
            # nothing newer to read yet: keep the accesses for after the next write
            return max(cps, min(c.until for c in waiting) - self.margin * cps - now)
        if a.va is not None and a.verb in ACCESSES:
            pass
        for b in list(d.queue)[1:]:
            if b.va is None or b.verb not in ACCESSES:
                continue
            if b.verb == "read" and b.va >> 12 in self.want_warm:
                return 0
            if any(c.until > now for c in self._open(run, b.va >> 12, b.verb)):
                return 0
        busy = any(not t.done for t in run.cpus.values())
        extra = self.rng.randint(0, self.hold) if busy else 0
        if busy and self.pace and self.aim:
            # spread this thread's accesses over the CPU work still to come, so that some are
            # left when the later operations open their windows
            ops = sum(len(t.queue) + (t.gen is not None) for t in run.cpus.values())
            mean = self.pace * ops / max(1, len(d.queue))
            extra = self.rng.randint(0, max(self.hold, int(2 * mean)))
        return (self.rng.randint(0, run.max_dev_wait) + extra) * cps
