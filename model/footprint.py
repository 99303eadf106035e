"""What each explorer move read and wrote in the kernel's bookkeeping.

The explorer (`model.explore`) prunes a schedule when it only swaps two
adjacent moves that commute. Physical memory already records its 8-byte
words (`explore.RecordingMem`); this module does the same for the kernel
state that lives in Python objects, so that two CPU steps commute when their
footprints on it are disjoint instead of always conflicting:

* locks: the page-table lock and ksm_thread_mutex (owner), mmap_lock (one
  token per reader thread, one for the writer), page locks (per frame);
* the frame allocator: refcount and owner per frame, the free list;
* mapcounts per frame.

Each is instrumented in place: the containers are swapped for subclasses
that note every key they are asked about (`RecDict`, `RecList`), the lock
owners become properties (`instrument`). A whole-container read (iteration,
`len`) is a read of every key: it conflicts with any write to the container
(the `wany` set of a `Sink`).

Everything else the kernel keeps (VMAs, swap, LRU isolation, KSM's
protected PTEs, page-table pages, huge-page allocators, file page caches,
the value counters) is summarised by `rest_digest`: a CPU step that changes
it writes the token `REST`, and every CPU step reads `REST`, so such a step
conflicts with all of them (sound, and rare: none of the COW paths touches
it). State that no step reads back (diagnostic counters, the notifier's log)
is left out.
"""
from __future__ import annotations

from typing import Any, Iterable

#: the kernel state not instrumented key by key (see the module docstring)
REST = ("kernel-rest",)


class Sink:
    """The footprint of the move being run: tokens read, written, and 'some key written'."""

    __slots__ = ("reads", "writes", "wany")

    def __init__(self) -> None:
        self.reads: set = set()
        self.writes: set = set()
        self.wany: set = set()  # (name, '*'): some key of container `name` was written

    def clear(self) -> None:
        self.reads.clear()
        self.writes.clear()
        self.wany.clear()


class RecDict(dict):
    """A dict that notes in a `Sink` which keys were read and written."""

    __slots__ = ("_sink", "_name", "_all")

    def __init__(self, data: dict, sink: Sink, name: str) -> None:
        super().__init__(data)
        self._sink, self._name, self._all = sink, name, (name, "*")

    def _r(self, k: Any) -> None:
        self._sink.reads.add((self._name, k))

    def _w(self, k: Any) -> None:
        s = self._sink
        s.writes.add((self._name, k))
        s.wany.add(self._all)

    def _ra(self) -> None:
        self._sink.reads.add(self._all)

    def __getitem__(self, k: Any) -> Any:
        self._r(k)
        return dict.__getitem__(self, k)

    def get(self, k: Any, default: Any = None) -> Any:
        self._r(k)
        return dict.get(self, k, default)

    def __contains__(self, k: Any) -> bool:
        self._r(k)
        return dict.__contains__(self, k)

    def __setitem__(self, k: Any, v: Any) -> None:
        self._w(k)
        dict.__setitem__(self, k, v)

    def __delitem__(self, k: Any) -> None:
        self._w(k)
        dict.__delitem__(self, k)

    def pop(self, k: Any, *default: Any) -> Any:
        self._w(k)
        return dict.pop(self, k, *default)

    def setdefault(self, k: Any, default: Any = None) -> Any:
        self._w(k)
        return dict.setdefault(self, k, default)

    def update(self, *a: Any, **kw: Any) -> None:
        for k in dict(*a, **kw):
            self._w(k)
        dict.update(self, *a, **kw)

    def clear(self) -> None:
        for k in dict.keys(self):
            self._w(k)
        dict.clear(self)

    def popitem(self) -> tuple:
        k, v = dict.popitem(self)
        self._w(k)
        return k, v

    def __iter__(self):  # type: ignore[override]
        self._ra()
        return dict.__iter__(self)

    def keys(self):  # type: ignore[override]
        self._ra()
        return dict.keys(self)

    def values(self):  # type: ignore[override]
        self._ra()
        return dict.values(self)

    def items(self):  # type: ignore[override]
        self._ra()
        return dict.items(self)

    def __len__(self) -> int:
        self._ra()
        return dict.__len__(self)

    def __bool__(self) -> bool:
        self._ra()
        return dict.__len__(self) > 0

    def copy(self) -> dict:
        self._ra()
        return dict(dict.items(self))

    def __reduce__(self):  # a plain dict when copied or pickled
        return (dict, (dict(dict.items(self)),))


class RecList(list):
    """A list used as one resource (the frame allocator's free list): any access is noted."""

    __slots__ = ("_sink", "_tok")

    def __init__(self, data: Iterable, sink: Sink, tok: tuple) -> None:
        super().__init__(data)
        self._sink, self._tok = sink, tok

    def pop(self, *a: Any) -> Any:
        self._sink.writes.add(self._tok)
        return list.pop(self, *a)

    def append(self, x: Any) -> None:
        self._sink.writes.add(self._tok)
        list.append(self, x)

    def insert(self, i: int, x: Any) -> None:
        self._sink.writes.add(self._tok)
        list.insert(self, i, x)

    def remove(self, x: Any) -> None:
        self._sink.writes.add(self._tok)
        list.remove(self, x)

    def extend(self, xs: Iterable) -> None:
        self._sink.writes.add(self._tok)
        list.extend(self, xs)

    def __setitem__(self, i: Any, x: Any) -> None:
        self._sink.writes.add(self._tok)
        list.__setitem__(self, i, x)

    def __delitem__(self, i: Any) -> None:
        self._sink.writes.add(self._tok)
        list.__delitem__(self, i)

    def __getitem__(self, i: Any) -> Any:
        self._sink.reads.add(self._tok)
        return list.__getitem__(self, i)

    def __len__(self) -> int:
        self._sink.reads.add(self._tok)
        return list.__len__(self)

    def __bool__(self) -> bool:
        self._sink.reads.add(self._tok)
        return list.__len__(self) > 0

    def __iter__(self):  # type: ignore[override]
        self._sink.reads.add(self._tok)
        return list.__iter__(self)

    def __contains__(self, x: Any) -> bool:
        self._sink.reads.add(self._tok)
        return list.__contains__(self, x)


def _recorded_attr(obj: Any, attr: str, tok: tuple, sink: Sink) -> None:
    """Make `obj.attr` a property that notes reads and writes of `tok` (one class per object)."""
    store = "_rec_" + attr

    def get(self: Any) -> Any:
        sink.reads.add(tok)
        return self.__dict__[store]

    def put(self: Any, v: Any) -> None:
        sink.writes.add(tok)
        self.__dict__[store] = v

    value = obj.__dict__.pop(attr)
    cls = obj.__class__
    if not getattr(cls, "_rec_class", False):
        cls = type(cls.__name__, (cls,), {"_rec_class": True})
        obj.__class__ = cls
    setattr(cls, attr, property(get, put))
    obj.__dict__[store] = value


def instrument(host: Any, sink: Sink) -> None:
    """Instrument the host's kernel bookkeeping (see the module docstring) in place."""
    mm = host.mm
    _recorded_attr(mm.ptl, "owner", ("lock", mm.ptl.name), sink)
    _recorded_attr(mm.ksm_mutex, "owner", ("lock", mm.ksm_mutex.name), sink)
    sem = mm.mmap_lock
    sem.readers = RecDict(sem.readers, sink, "mmap_r")
    _recorded_attr(sem, "writer", ("mmap_w",), sink)
    mm.page_locks.owner = RecDict(mm.page_locks.owner, sink, "page_lock")
    fa = host.frames
    fa._ref = RecDict(fa._ref, sink, "frame")
    fa._owner = RecDict(fa._owner, sink, "frame")
    fa._free = RecList(fa._free, sink, ("free-list",))
    mm.mapcount = RecDict(mm.mapcount, sink, "mapcount")


def _fa_digest(fa: Any) -> tuple:
    return (len(fa._free), tuple(sorted(dict.items(fa._ref))), tuple(sorted(dict.items(fa._owner))))


def rest_digest(host: Any) -> int:
    """A hash of the kernel state `instrument` does not follow key by key."""
    mm = host.mm
    files = {id(v.file): v.file for v in mm.vmas if v.file is not None}
    return hash((
        tuple(sorted(mm.lazyfree)), tuple(sorted(mm.isolated)), tuple(sorted(mm.ksm_orig_pte.items())),
        tuple((k, hash(s.data), s.cache_pfn, s.count) for k, s in sorted(mm.swap.slots.items())), mm.swap._next,
        tuple((v.start, v.end, v.kind, v.writable, v.mergeable, v.pgoff, id(v.file)) for v in mm.vmas),
        tuple(sorted(mm.tables.table_pfns)), _fa_digest(mm.table_frames),
        tuple(_fa_digest(a) for a in mm.huge.allocators),
        tuple(tuple(sorted(f.pages.items())) for f in files.values()),
        tuple(sorted(mm.values._n.items())), mm.pasid,
    ))
