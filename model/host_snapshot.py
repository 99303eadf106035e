"""Snapshots of a scenario's initial host state, restored per run instead of rebuilt.

A stress seed runs its scenario under each policy, and many seeds share a
setup (the same VMAs, pages and processes, different threads). Building the
host (`model.scheduler.Host`: the frame pools, page tables, PASID table,
mms, their kernels) is a fixed cost of every run. `HostSnapshots` builds it
once per distinct setup, on memory and a trace of its own with a stand-in
device, and keeps it as a pickle; a run restores it: the setup's memory
pages written into the run's memory (through its `write`, so a watching
memory or a page hook sees them as it would the setup's own writes), the
setup's trace events appended to the run's trace, and the object graph
unpickled with the run's memory, trace, device, clock and scenario in place
of the template's (pickle's persistent ids). The notifier policy is set
after the restore (nothing of the setup depends on it).

What the setup depends on is the key (`setup_key`): the scenario's mms,
VMAs, pages, vmalloc pages, PASID, fault handling and kernel bug switches,
and the memory layout. A host the pickle cannot hold (an object it cannot
pickle) is built the ordinary way, every time.
"""
from __future__ import annotations

import io
import pickle
from collections import OrderedDict
from typing import Any

from .memory import PAGE_SHIFT, PhysMem
from .trace import Trace


class _Stand:
    """The device while a template host is built: its clock reads 0 (setup events are at time 0)."""

    now = 0


def setup_key(sc: Any, layout: Any, pa_bits: int) -> bytes:
    """Everything the host's setup reads, as bytes (two scenarios with equal keys build equal hosts)."""
    parts = (sorted((m.name, m.line, m.pasid, m.fork) for m in sc.mms.values()), sc.vmas, sc.pages, sc.kpages,
             sc.pasid, sc.wp_fault, sorted(sc.bugs), [sc.mm_pasid(n) for n in sc.mms],
             (layout.pasid_tbl_base, layout.pool_first_pfn, layout.pool_frames, layout.huge_base), pa_bits)
    return pickle.dumps(parts, protocol=pickle.HIGHEST_PROTOCOL)


BIG = 64  # a list or set of plain values this long is kept aside and copied per run


def _plain(c: Any) -> bool:
    return all(type(x) in (int, str, bool) or x is None for x in c)


class _Out(pickle.Pickler):
    """Leaves the run's objects out (persistent ids) and keeps long lists and sets of plain
    values (the frame pools' free lists) aside: a C-level copy of one costs far less than
    unpickling it element by element."""

    def __init__(self, f: io.BytesIO, ext: dict[int, str]) -> None:
        super().__init__(f, protocol=pickle.HIGHEST_PROTOCOL)
        self.ext = ext
        self.big: list[Any] = []

    def persistent_id(self, obj: Any) -> Any:
        pid = self.ext.get(id(obj))
        if pid is None and type(obj) in (list, set) and len(obj) >= BIG and _plain(obj):
            pid = self.ext[id(obj)] = len(self.big)  # each object once, however often it is referred to
            self.big.append(obj.copy())
        return pid


class _In(pickle.Unpickler):
    def __init__(self, f: io.BytesIO, ext: dict[str, Any], big: list[Any]) -> None:
        super().__init__(f)
        self.ext, self.big = ext, big
        self.copies: dict[int, Any] = {}

    def persistent_load(self, pid: Any) -> Any:
        if type(pid) is not int:
            return self.ext[pid]
        c = self.copies.get(pid)
        if c is None:
            c = self.copies[pid] = self.big[pid].copy()  # one copy per run, shared as in the template
        return c


class Template:
    """One setup's host: its pickle (run objects left out), its memory pages and its trace events."""

    def __init__(self, sc: Any, layout: Any, pa_bits: int) -> None:
        from .notifier import POLICIES
        from .scheduler import Host

        mem, trace, dev = PhysMem(pa_bits), Trace(), _Stand()
        host = Host(sc, dev, mem, layout.pasid_tbl_base, trace, POLICIES[0], layout)
        ext = {id(mem): "mem", id(trace): "trace", id(dev): "device", id(host.frames.clock): "clock",
               id(sc): "scenario"}
        f = io.BytesIO()
        out = _Out(f, ext)
        out.dump(host)
        self.blob, self.big = f.getvalue(), out.big
        self.pages = [(pfn << PAGE_SHIFT, bytes(page)) for pfn, page in mem._pages.items()]  # noqa: SLF001
        self.events = list(trace)

    def restore(self, sc: Any, device: Any, mem: Any, trace: Any, policy: Any) -> Any:
        for pa, data in self.pages:
            mem.write(pa, data)
        for e in self.events:
            trace.add(e)
        ext = {"mem": mem, "trace": trace, "device": device, "clock": lambda: device.now, "scenario": sc}
        host = _In(io.BytesIO(self.blob), ext, self.big).load()
        for k in host.kernels.values():
            k.notifier.policy = policy
        return host


class HostSnapshots:
    """Templates of the last `size` distinct setups (least recently used dropped)."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._t: OrderedDict[bytes, Template | None] = OrderedDict()
        self.built = self.restored = self.unpicklable = 0

    def host(self, sc: Any, device: Any, mem: Any, base: int, trace: Any, policy: Any, layout: Any) -> Any:
        """The run's host: restored from the setup's template, or built (first time, or unpicklable).
        A setup that fails raises as `Host` would (it is built the ordinary way first)."""
        from .scheduler import Host

        if base != layout.pasid_tbl_base or len(trace) or getattr(mem, "_pages", None):
            return Host(sc, device, mem, base, trace, policy, layout)  # not a fresh run: no template fits
        key = setup_key(sc, layout, mem.pa_bits)
        if key in self._t:
            self._t.move_to_end(key)
        else:
            try:
                tpl: Template | None = Template(sc, layout, mem.pa_bits)
            except (pickle.PicklingError, TypeError, AttributeError):
                tpl = None
                self.unpicklable += 1
            except (ValueError, RuntimeError, MemoryError):
                return Host(sc, device, mem, base, trace, policy, layout)  # the same error, from the run's host
            self._t[key] = tpl
            self.built += 1
            if len(self._t) > self.size:
                self._t.popitem(last=False)
        tpl = self._t[key]
        if tpl is None:
            return Host(sc, device, mem, base, trace, policy, layout)
        self.restored += 1
        return tpl.restore(sc, device, mem, trace, policy)
