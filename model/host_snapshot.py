"""Snapshots of a scenario's initial host state, restored per run instead of rebuilt.

A stress seed runs its scenario under each policy, and many seeds share a
setup (the same VMAs, pages and processes, different threads). Building the
host (`model.scheduler.Host`: the frame pools, page tables, PASID table,
mms, their kernels) is a fixed cost of every run. `HostSnapshots` builds it
once per distinct setup, for that setup's first run, and keeps it, before
the run starts, as a pickle; a later run restores it: the setup's memory
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

from .frames import FrameAllocator
from .memory import PAGE_SHIFT


def setup_key(sc: Any, layout: Any, pa_bits: int) -> bytes:
    """Everything the host's setup reads, as bytes (two scenarios with equal keys build equal hosts)."""
    parts = (sorted((m.name, m.line, m.pasid, m.fork) for m in sc.mms.values()), sc.vmas, sc.pages, sc.kpages,
             sc.pasid, sc.wp_fault, sorted(sc.bugs), [sc.mm_pasid(n) for n in sc.mms],
             (layout.pasid_tbl_base, layout.pool_first_pfn, layout.pool_frames, layout.huge_base), pa_bits)
    return pickle.dumps(parts, protocol=pickle.HIGHEST_PROTOCOL)


_ATOMS = frozenset({int, str, bool, type(None), bytes, float, tuple, frozenset})


class _Out(pickle.Pickler):
    """Leaves the run's objects out (persistent ids) and keeps the frame pools' free lists
    aside (PFNs only, thousands of them): a C-level copy of one costs far less than
    unpickling it element by element."""

    def __init__(self, f: io.BytesIO, ext: dict[int, Any]) -> None:
        super().__init__(f, protocol=pickle.HIGHEST_PROTOCOL)
        self.ext = ext
        self.big: list[tuple[int, ...]] = []

    def persistent_id(self, obj: Any) -> Any:
        if type(obj) in _ATOMS:  # most of what is pickled: no run object, no free list
            return None
        pid = self.ext.get(id(obj))
        if pid is None and type(obj) is FrameAllocator and id(obj._free) not in self.ext:  # noqa: SLF001
            self.ext[id(obj._free)] = len(self.big)  # noqa: SLF001
            self.big.append(tuple(obj._free))  # noqa: SLF001 (a tuple of ints: the collector untracks it)
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
            c = self.copies[pid] = list(self.big[pid])  # one list per run, shared as in the template
        return c


class Template:
    """One setup's host: its pickle (run objects left out), its memory pages and its trace events."""

    def __init__(self, host: Any, device: Any) -> None:
        """Snapshot `host`, just built for a run on `device` and not yet run."""
        mem, trace = host.mem, host.trace
        ext = {id(mem): "mem", id(trace): "trace", id(device): "device", id(host.frames.clock): "clock",
               id(host.scenario): "scenario"}
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
        """The run's host: restored from its setup's template, or built (the setup's first run,
        whose host, before it runs, becomes the template; or a host the pickle cannot hold).
        A setup that fails raises as `Host` does: it is built the ordinary way the first time."""
        from .scheduler import Host

        if base != layout.pasid_tbl_base or len(trace) or getattr(mem, "_pages", None):
            return Host(sc, device, mem, base, trace, policy, layout)  # not a fresh run: no template fits
        key = setup_key(sc, layout, mem.pa_bits)
        if key in self._t:
            self._t.move_to_end(key)
            tpl = self._t[key]
            if tpl is None:
                return Host(sc, device, mem, base, trace, policy, layout)
            self.restored += 1
            return tpl.restore(sc, device, mem, trace, policy)
        host = Host(sc, device, mem, base, trace, policy, layout)
        try:
            self._t[key] = Template(host, device)
        except (pickle.PicklingError, TypeError, AttributeError):
            self._t[key] = None
            self.unpicklable += 1
        self.built += 1
        if len(self._t) > self.size:
            self._t.popitem(last=False)
        return host
