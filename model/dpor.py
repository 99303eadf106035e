"""Dynamic partial-order reduction for `model.explore`: one schedule per ordering of conflicts.

The explorer's first search (`Explorer(method="bounded")`) enumerates
schedules within a preemption bound, with sleep sets and state hashing. A
preemption bound and sleep sets do not combine well: a sleeping move must
wake wherever running it would cost a preemption, so in practice every CPU
step wakes every other thread's, and the search runs every interleaving of
whole operations. This search needs no preemption bound at all:

* Each move has a footprint (`explore.Footprint`: memory words, kernel
  bookkeeping per lock / frame / mapcount (`model.footprint`), device
  resources, checker-visible events per page and the global orders the
  ordering checker compares). Two moves of different processes conflict when
  one writes what the other touches. A process is a CPU thread, a device
  thread (its issues and its access's events) or an invalidation (per ITag).
* Happens-before is program order plus the order of conflicting moves
  (vector clocks). After each move `e` of process p, every earlier move e'
  of another process that conflicts with `e` and does not already happen
  before p's previous move is a race: the schedule that runs what does not
  depend on e' first and then `e` before e' may behave differently. Then
  some process that can start that reordering (an *initial*: a process whose
  first move after e' depends on nothing after e') must be tried at the
  state before e' (a backtrack point), unless one already is (source sets,
  Abdulla et al., POPL 2014). If p itself could not run there (blocked), the
  race is reversed through an earlier one (p's own acquisition races the
  holder's) and needs no point of its own.
* Sleep sets: at a backtrack point, the processes already explored there
  sleep in the new branch until a conflicting move wakes them; a state where
  every enabled process sleeps ends the branch (counted as pruned).

Bounded (`Explorer(method="bpor")`, `bound` preemptions as `World.preempts`
counts them): the same search over the schedules within the bound only
(bounded partial-order reduction, Coons, Musuvathi and McKinley, OOPSLA
2013). A process is not run where it would exceed the bound; where reversing
a race would cost a preemption at its node (the last thread is in the
middle of an operation or an access), the reordering is also tried from the
latest earlier node where switching was free (`_add`); a sleeping process
wakes where running it would preempt (the schedule that ran it earlier may
have been beyond the bound). No state caching: a move the bound kept from
running below a cached state would race with nothing, and the prefix would
miss the backtrack point it needs. tests/test_dpor.py checks that it reaches
exactly the final states and verdicts of enumerating every schedule within
the bound, and that it does not without the free-switch backtrack points.

Every explored schedule runs to its end (re-executed from the initial state
up to the backtrack point: kernel operations are generators, which cannot be
copied). `schedules` counts complete schedules, `states` the distinct states
(`World.key`) met, `pruned` the branches ended by sleep sets.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .explore import Explorer, Footprint, Move, Result, World


def proc_of(m: "Move") -> str:
    """The process a move belongs to (issue and dev moves of one device thread are one process)."""
    return "inv " + m.thread if m.kind == "inv" else m.thread


@dataclass
class _Node:
    """The state before one move of the current schedule."""

    enabled: dict[str, "Move"]  # process -> its next move
    sleep: dict[str, "Footprint"]  # asleep here: process -> footprint of its next move
    backtrack: set[str] = field(default_factory=set)
    done: dict[str, "Footprint"] = field(default_factory=dict)  # explored here: process -> footprint
    summ: set = field(default_factory=set)  # (process, footprint) of every move explored from here on
    key: int | None = None  # the state's key (state caching)
    pending: str = ""  # the process to run next when the schedule is replayed to here
    cost: dict[str, int] = field(default_factory=dict)  # bounded: 1 where running the process preempts
    budget: int = -1  # bounded: preemptions left here (-1: no bound)
    last: str | None = None  # the thread of the last CPU or device move before this node
    mid: bool = False  # bounded: switching from `last` to another thread here is a preemption

    def feasible(self, p: str) -> bool:
        """Can `p` run here within the preemption bound?"""
        return self.budget < 0 or self.cost.get(p, 0) <= self.budget


@dataclass
class _Ev:
    proc: str
    move: "Move"
    fp: "Footprint"
    idx: int  # the how-manieth move of its process (1-based)
    clock: dict[str, int]  # vector clock: process -> moves of it that happen before or are this one


@dataclass(frozen=True)
class _AnyOther:
    """A CPU move of a thread that is never the last actor: does switching threads preempt?
    (`World.preempts` reads only `kind` and `thread`.)"""

    kind: str = "cpu"
    thread: str = ""


def explore_dpor(ex: "Explorer", res: "Result", bound: int | None = None) -> None:
    """Explore every schedule up to reordering of independent moves; fills `res`.

    `bound`: explore only schedules with at most that many preemptions
    (`World.preempts`), bounded partial-order reduction (see the module docstring).
    """
    other: Move = _AnyOther()  # type: ignore[assignment]
    t0 = time.monotonic()
    deadline = None if ex.time_limit is None else t0 + ex.time_limit
    nodes: list[_Node] = []
    evs: list[_Ev] = []
    # bounded: no state caching. A state met again is not explored again, and what was run
    # below it stands for what could run there; but below it a move the bound kept from
    # running races with nothing, so the prefix would miss the backtrack point it needs
    # (the states are still hashed, to count the distinct ones)
    hashing = ex.hashing
    cache = hashing and bound is None
    seen: dict[int, tuple[frozenset[str], int]] = {}  # state key -> (asleep, budget) at its first full visit
    summary: dict[int, set] = {}  # state key -> (process, footprint) of every move explored below it
    w = ex.world()

    def enabled_map(w: "World") -> dict[str, "Move"]:
        return {proc_of(m): m for m in w.enabled()}

    while True:
        # ---- run one schedule to its end (the first move already chosen when the node exists)
        while True:
            if deadline is not None and time.monotonic() > deadline:
                res.timed_out = True
                res.states = len(seen)
                return
            n = len(evs)
            if n == len(nodes):  # a new state: no choice made here yet
                en = enabled_map(w)
                sleep = _child_sleep(nodes[-1], evs[-1]) if nodes else {}
                cost: dict[str, int] = {}
                budget = -1
                if bound is not None:
                    cost = {p: 1 if w.preempts(m) else 0 for p, m in en.items()}
                    budget = bound - w.preemptions
                    # a process stays asleep only where it could run without a preemption:
                    # the schedule that ran it earlier may have been beyond the bound
                    sleep = {p: f for p, f in sleep.items() if not cost.get(p, 0)}
                # (bounded: the last actor decides what preempts, so it is part of the state)
                key = w.key(actor=bound is not None) if hashing else None
                if key is not None:
                    old = seen.get(key)
                    if cache and old is not None and old[0] <= sleep.keys() and old[1] >= budget and key in summary:
                        # explored before with no more asleep (and no smaller budget): reuse it,
                        # but what was run below it may race with this schedule's prefix
                        res.pruned += 1
                        below = summary[key]
                        _summary_races(nodes, evs, below)
                        nodes[-1].summ |= below
                        break
                    seen[key] = (frozenset(sleep), budget)
                mid = bound is not None and w.preempts(other)
                node = _Node(en, sleep, cost=cost, budget=budget, last=w.last_actor, mid=mid)
                node.key = key
                nodes.append(node)
                if not en:
                    ex._leaf(w, [e.move for e in evs])
                    if ex.stop_at_first and res.found is not None:
                        res.states = len(seen)
                        return
                    break
                if n >= ex.depth:
                    res.cut += 1
                    break
                choice = _pick(node, w.last_actor)
                if choice is None:  # every enabled process sleeps: a schedule already explored
                    res.pruned += 1
                    break
                node.backtrack.add(choice)
            else:
                node = nodes[n]
                choice = node.pending
            m = node.enabled[choice]
            fp = w.do(m)
            res.moves += 1
            node.done[choice] = fp
            node.summ.add((choice, fp))
            ev, conf = _event(evs, choice, m, fp)
            evs.append(ev)
            _races(nodes, evs, conf)
        # ---- backtrack: the deepest node with a process still to try
        while nodes:
            node = nodes[-1]
            todo = [p for p in sorted(node.backtrack)
                    if p not in node.done and p not in node.sleep and node.feasible(p)]
            if todo:
                break
            nodes.pop()
            if node.key is not None:
                summary[node.key] = node.summ
            if nodes:
                nodes[-1].summ |= node.summ
            if len(evs) > len(nodes):
                evs.pop()
        if not nodes:
            res.states = len(seen)
            return
        i = len(nodes) - 1
        del evs[i:]
        node = nodes[i]
        node.pending = todo[0]
        w = ex.world([e.move for e in evs], fast=True, keep_hist=hashing)
        res.moves += len(evs)


def _summary_races(nodes: list[_Node], evs: list[_Ev], below: set) -> None:
    """Races of moves explored below a state met again with this schedule's prefix.

    Their order relative to the prefix is not known, so every conflicting
    pair counts (an over-approximation of stateful DPOR, Yang et al. 2008).
    """
    for p, fp in below:
        for j, ej in enumerate(evs):
            if ej.proc == p or not ej.fp.conflicts(fp):
                continue
            node = nodes[j]
            if p in node.enabled and p not in node.backtrack and p not in node.sleep:
                _add(nodes, evs, j, p, p)


def _child_sleep(node: _Node, ev: _Ev) -> dict[str, "Footprint"]:
    """Sleep set after `ev`: what slept or was explored before it at its node and commutes with it."""
    out = {}
    for p, fp in list(node.sleep.items()) + list(node.done.items()):
        if p != ev.proc and not fp.conflicts(ev.fp):
            out[p] = fp
    return out


def _pick(node: _Node, last: str | None) -> str | None:
    """The first process to run at a new node: the last actor if it can go on (few switches)."""
    cands = [p for p in node.enabled if p not in node.sleep and node.feasible(p)]
    if not cands:
        return None
    if last is not None and last in cands:
        return last
    return cands[0]


def _event(evs: list[_Ev], proc: str, m: "Move", fp: "Footprint") -> tuple[_Ev, list[int]]:
    """The event of move `m` with its vector clock, and the earlier moves of other processes it conflicts with."""
    prev = next((e for e in reversed(evs) if e.proc == proc), None)
    clock = dict(prev.clock) if prev is not None else {}
    conf = []
    for j, e in enumerate(evs):
        if e.proc != proc and e.fp.conflicts(fp):
            conf.append(j)
            for p, c in e.clock.items():
                if clock.get(p, 0) < c:
                    clock[p] = c
    idx = (prev.idx if prev is not None else 0) + 1
    clock[proc] = idx
    return _Ev(proc, m, fp, idx, clock), conf


def _hb(a: _Ev, b: _Ev) -> bool:
    """Does `a` happen before `b` (or is it `b`)?"""
    return b.clock.get(a.proc, 0) >= a.idx


def _races(nodes: list[_Node], evs: list[_Ev], conf: list[int]) -> None:
    """Backtrack points for the races of the last move (see the module docstring)."""
    e = evs[-1]
    n = len(evs) - 1
    prev = next((x for x in reversed(evs[:n]) if x.proc == e.proc), None)
    for j in reversed(conf):
        ej = evs[j]
        if prev is not None and _hb(ej, prev):
            continue  # already ordered through e's process
        node = nodes[j]
        # v: the moves after ej that do not depend on it, then e; its initials are the
        # processes whose first move in v depends on no earlier move of v
        first: dict[str, _Ev] = {}
        for x in evs[j + 1:n]:
            if x.proc not in first and not _hb(ej, x):
                first[x.proc] = x
        first.setdefault(e.proc, e)
        inits = [q for q, x in first.items()
                 if all(x.clock.get(r, 0) < y.idx for r, y in first.items() if r != q)]
        if any((p in node.backtrack and node.feasible(p)) or p in node.sleep for p in inits):
            continue
        if e.proc in inits and e.proc not in node.enabled:
            # e's process would have to go first but could not run there (it waits for
            # what ej releases): the race of its acquisition with the holder's reverses it
            continue
        runnable = [p for p in inits if p in node.enabled]
        if runnable:
            ok = [p for p in runnable if node.feasible(p)]
            q = e.proc if e.proc in (ok or runnable) else (ok or runnable)[0]
            _add(nodes, evs, j, q, e.proc)
        else:
            for p in node.enabled:
                _add(nodes, evs, j, p, e.proc)


def _add(nodes: list[_Node], evs: list[_Ev], j: int, q: str, p: str | None = None) -> None:
    """Try `q` at node j to run `p`'s racing move earlier; bounded, also where the running thread began.

    Bounded partial-order reduction (Coons, Musuvathi and McKinley, OOPSLA
    2013): at j the thread that ran last may be in the middle of an
    operation, so reversing the race there costs a preemption (for q, or for
    p once q has run) that the bound may not allow, while the same reordering
    started where that thread was switched to (a free switch, or one already
    paid for) fits. So where j preempts, p (else q, else every enabled
    process) is also tried at the start of that thread's run.
    """
    node = nodes[j]
    node.backtrack.add(q)
    if node.budget < 0 or not node.mid:
        return  # unbounded, or no switch preempts at j
    if not node.cost.get(q, 0) and (p is None or p == node.last):
        return
    i = _run_start(nodes, j)
    if i == j:
        return
    start = nodes[i]
    for r in (p, q):
        if r is not None and r in start.enabled:
            start.backtrack.add(r)
            return
    start.backtrack.update(start.enabled)


def _run_start(nodes: list[_Node], j: int) -> int:
    """The latest node before j where switching threads is free (the last actor was at a boundary)."""
    for i in range(j - 1, -1, -1):
        if not nodes[i].mid:
            return i
    return j
