"""Result shards: JSON Lines files a long run appends to as results arrive.

A run writes one object per line into a shard of its own
(`shard-<UTC time>-<pid>.jsonl` under the run's directory) and flushes after
each line, so whatever it finished survives an interrupt, a lost worker or a
crash of the driving process. A rerun with the same settings reads the
seeds already in the shards and skips them (resume); merging reads every
shard of the directory once, line by line, so neither keeps more than one
line in memory.

The run's settings are in `run.json` beside the shards. A resume with other
settings, or after the sources changed, would mix results that do not
belong together, so it is refused with one line naming the differing field.

A line that is not a JSON object with an integer `seed` stops the reader
with one line naming the file, the line and the problem (`ShardError`).
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any, Iterator

MANIFEST = "run.json"
PATTERN = "shard-*.jsonl"


class ShardError(ValueError):
    """A shard or manifest that cannot be used: `path:line: problem` in one line."""


class SeedSet:
    """Seeds seen so far, one bit each (pages of 2^16 seeds): memory stays flat in the
    number of seeds, about 125 kB per million."""

    PAGE_BITS = 16

    def __init__(self) -> None:
        self._pages: dict[int, bytearray] = {}
        self._n = 0

    def add(self, seed: int) -> bool:
        """Add `seed`; False if it was already there."""
        page, bit = divmod(seed, 1 << self.PAGE_BITS)
        b = self._pages.get(page)
        if b is None:
            b = self._pages[page] = bytearray(1 << (self.PAGE_BITS - 3))
        byte, mask = bit >> 3, 1 << (bit & 7)
        if b[byte] & mask:
            return False
        b[byte] |= mask
        self._n += 1
        return True

    def __contains__(self, seed: int) -> bool:
        page, bit = divmod(seed, 1 << self.PAGE_BITS)
        b = self._pages.get(page)
        return b is not None and bool(b[bit >> 3] & (1 << (bit & 7)))

    def __len__(self) -> int:
        return self._n


def shard_files(d: Path) -> list[Path]:
    return sorted(Path(d).glob(PATTERN))


def read(d: Path) -> Iterator[tuple[Path, int, dict]]:
    """Every line of every shard of `d` as (file, line number, object), in file order."""
    for f in shard_files(d):
        with open(f, encoding="utf-8") as fh:
            for n, text in enumerate(fh, 1):
                if not text.strip():
                    continue
                try:
                    obj = json.loads(text)
                except json.JSONDecodeError as e:
                    cut = "" if text.endswith("\n") else " (a line cut short by an interrupted write)"
                    raise ShardError(f"{f}:{n}: not JSON{cut}: {e.msg} at column {e.colno}; delete the line "
                                     f"to run its seed again") from None
                if not isinstance(obj, dict) or type(obj.get("seed")) is not int or obj["seed"] < 0:
                    raise ShardError(f"{f}:{n}: field 'seed': want a JSON object with a non-negative integer "
                                     f"seed, got {text.strip()[:80]!r}")
                yield f, n, obj


def done_seeds(d: Path) -> SeedSet:
    """The seeds the shards of `d` already hold."""
    s = SeedSet()
    for _f, _n, obj in read(d):
        s.add(obj["seed"])
    return s


class ShardWriter:
    """Appends lines to a new shard of `d`, flushing after each (and syncing to disk at
    most every `sync_seconds`)."""

    def __init__(self, d: Path, sync_seconds: float = 5.0) -> None:
        d = Path(d)
        d.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        self.path = d / f"shard-{stamp}-{os.getpid()}.jsonl"
        k = 1
        while self.path.exists():
            self.path = d / f"shard-{stamp}-{os.getpid()}-{k}.jsonl"
            k += 1
        self._fh = open(self.path, "a", encoding="utf-8")
        self._sync_seconds = sync_seconds
        self._synced = time.monotonic()
        self.lines = 0

    def write(self, obj: dict) -> None:
        self._fh.write(json.dumps(obj, separators=(",", ":"), default=str) + "\n")
        self._fh.flush()
        self.lines += 1
        if time.monotonic() - self._synced > self._sync_seconds:
            os.fsync(self._fh.fileno())
            self._synced = time.monotonic()

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()
        if self.lines == 0 and self.path.exists():
            self.path.unlink()  # nothing new: no empty shard

    def __enter__(self) -> "ShardWriter":
        return self

    def __exit__(self, *a: Any) -> None:
        self.close()


def sources_digest(root: Path, dirs: tuple[str, ...] = ("rtl", "model", "tb")) -> str:
    """A digest of the sources a result depends on (the RTL and every Python module of the
    host model and the testbench), so a resume after a change is noticed."""
    h = hashlib.sha256()
    for d in dirs:
        for p in sorted((Path(root) / d).rglob("*")):
            if p.is_file() and p.suffix in (".sv", ".svh", ".v", ".py", ".toml"):
                h.update(str(p.relative_to(root)).encode())
                h.update(p.read_bytes())
    return h.hexdigest()[:16]


def check_manifest(d: Path, settings: dict) -> None:
    """Write `settings` as the directory's manifest, or check that the one there matches
    (a resume). ShardError names the first differing field."""
    d = Path(d)
    m = d / MANIFEST
    if m.exists() and shard_files(d):
        try:
            old = json.loads(m.read_text())
        except json.JSONDecodeError as e:
            raise ShardError(f"{m}:{e.lineno}: not JSON: {e.msg}") from None
        norm = json.loads(json.dumps(settings, default=str))
        for k in sorted(set(old) | set(norm)):
            if old.get(k) != norm.get(k):
                raise ShardError(f"{m}: field {k!r}: the shards here were written with {old.get(k)!r}, this run "
                                 f"has {norm.get(k)!r}; use another --out, or --fresh (make stress FRESH=1) to start over")
        return
    d.mkdir(parents=True, exist_ok=True)
    m.write_text(json.dumps(settings, indent=1, sort_keys=True, default=str) + "\n")


def load_manifest(d: Path) -> dict:
    m = Path(d) / MANIFEST
    if not m.exists():
        raise ShardError(f"{m}: no such file (not a stress output directory)")
    try:
        return json.loads(m.read_text())
    except json.JSONDecodeError as e:
        raise ShardError(f"{m}:{e.lineno}: not JSON: {e.msg}") from None


def clear(d: Path) -> None:
    """Remove the shards and the manifest of `d` (a fresh start)."""
    for f in shard_files(d):
        f.unlink()
    m = Path(d) / MANIFEST
    if m.exists():
        m.unlink()
