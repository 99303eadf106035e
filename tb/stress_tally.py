"""The stress summary, tallied line by line from result shards (tb.shards).

A shard line is one seed: `{"seed", "mode", "device", "worker", "seconds",
"runs": {policy: run}}`, a run being `{"failed": [rules], "messages",
"scoreboard": [errors], "error", "accesses", "cycles", "bins": ["op|phase|
access|outcome"], "coverage_seconds", "stalled": {port: cycles},
"axi_latency": {"n", "max", "mean"}}`.

`Tally` keeps counters per policy and a bounded sample of seeds (the
smallest violating seeds, the first problems), never the lines themselves,
so merging a million seeds takes as much memory as merging ten. A seed
found twice (two shards of an interrupted and a resumed run that both
finished it) counts once and is reported as a duplicate.

From a tally: the summary (stress.json), JUnit XML (one test case per
policy; a failure lists the problems with their replay commands) and the
race-window coverage database (model.coverage, hit counts = runs).
"""
from __future__ import annotations

import heapq
import json
from collections import Counter
from pathlib import Path
from typing import Any, Callable
from xml.etree import ElementTree as et

from model import coverage
from tb.shards import SeedSet, ShardError, read

SAMPLE = 100  # violating / error seeds kept per policy (the smallest)
PROBLEMS = 50  # problems kept with their details


class Smallest:
    """The `k` smallest seeds added (a bounded max-heap), and how many were added."""

    def __init__(self, k: int = SAMPLE) -> None:
        self.k, self.n, self._h = k, 0, []

    def add(self, seed: int) -> None:
        self.n += 1
        if len(self._h) < self.k:
            heapq.heappush(self._h, -seed)
        elif seed < -self._h[0]:
            heapq.heapreplace(self._h, -seed)

    def sorted(self) -> list[int]:
        return sorted(-s for s in self._h)


class PolicyTally:
    def __init__(self) -> None:
        self.seeds = 0
        self.violating = Smallest()
        self.scoreboard = Smallest()
        self.errors = Smallest()
        self.rules: Counter[str] = Counter()
        self.accesses = 0
        self.cycles = 0


class Tally:
    """Counters over shard lines (one mode of one device). `replay(seed, policy, directed)`
    and `waves(...)` give the commands printed with a problem."""

    def __init__(self, policies: list[str], replay: Callable[..., str], waves: Callable[..., str]) -> None:
        self.policies = list(policies)
        self.replay, self.waves = replay, waves
        self.per = {p: PolicyTally() for p in self.policies}
        self.seen = SeedSet()
        self.duplicates = 0
        self.first: int | None = None
        self.last: int | None = None
        self.problems: list[dict] = []
        self.n_problems = 0
        self.hits: Counter[coverage.Bin] = Counter()
        self.stalled: Counter[str] = Counter()
        self.lat_max = 0
        self.lat_sum = 0.0
        self.lat_n = 0
        self.seconds = 0.0
        self.coverage_seconds = 0.0
        self.devices: set[str] = set()
        self.directed = False

    @property
    def n_seeds(self) -> int:
        return len(self.seen)

    def add(self, line: dict, where: str = "") -> bool:
        """Count one seed's line; False (and counted as a duplicate) if the seed was counted before.
        ShardError (`where`: the file:line) on a line whose fields are unusable."""
        seed = line["seed"]
        if not self.seen.add(seed):
            self.duplicates += 1
            return False
        self.first = seed if self.first is None else min(self.first, seed)
        self.last = seed if self.last is None else max(self.last, seed)
        runs = line.get("runs")
        if not isinstance(runs, dict):
            raise ShardError(f"{where}: field 'runs': want an object of policy -> run")
        directed = line.get("mode") == "directed"
        self.directed |= directed
        self.devices.add(str(line.get("device", "?")))
        self.seconds += float(line.get("seconds") or 0.0)
        for pol, r in runs.items():
            if pol not in self.per:
                raise ShardError(f"{where}: field 'runs': policy {pol!r} is not one of this run's "
                                 f"({', '.join(self.policies)})")
            self._add_run(seed, pol, r, directed, where)
        return True

    def _add_run(self, seed: int, pol: str, r: dict, directed: bool, where: str) -> None:
        p = self.per[pol]
        p.seeds += 1
        failed = r.get("failed") or []
        sb = r.get("scoreboard") or []
        err = r.get("error")
        if set(failed) - {"scoreboard"}:
            p.violating.add(seed)
        if sb:
            p.scoreboard.add(seed)
        if err:
            p.errors.add(seed)
        p.rules.update(failed)
        p.accesses += int(r.get("accesses") or 0)
        p.cycles += int(r.get("cycles") or 0)
        for k in r.get("bins") or []:
            try:
                self.hits[coverage.bin_of_key(k, pol)] += 1
            except ValueError as e:
                raise ShardError(f"{where}: field 'bins': {e}") from None
        self.coverage_seconds += float(r.get("coverage_seconds") or 0.0)
        for k, v in (r.get("stalled") or {}).items():
            self.stalled[k] += int(v)
        lat = r.get("axi_latency") or {}
        if lat.get("max") is not None:
            self.lat_max = max(self.lat_max, int(lat["max"]))
            self.lat_sum += float(lat["mean"])
            self.lat_n += 1
        if (pol != "deferred" and failed) or err or sb:
            self.n_problems += 1
            if len(self.problems) < PROBLEMS:
                self.problems.append({"seed": seed, "policy": pol, "failed": failed, "error": err,
                                      "messages": list(r.get("messages") or [])[:3], "scoreboard": list(sb)[:3],
                                      "replay": self.replay(seed, pol, directed),
                                      "waves": self.waves(seed, pol, directed)})

    def read_dir(self, d: Path) -> "Tally":
        """Add every line of the shards of `d`."""
        for f, n, line in read(d):
            self.add(line, f"{f}:{n}")
        return self

    def summary(self) -> dict:
        per = {}
        for pol, p in self.per.items():
            per[pol] = {"seeds": p.seeds, "violating": p.violating.n, "violating_seeds": p.violating.sorted(),
                        "fraction": p.violating.n / max(1, p.seeds), "rules": dict(sorted(p.rules.items())),
                        "scoreboard_errors": p.scoreboard.n, "scoreboard_error_seeds": p.scoreboard.sorted(),
                        "errors": p.errors.n, "error_seeds": p.errors.sorted(),
                        "accesses": p.accesses, "cycles": p.cycles}
        acc = sum(p.accesses for p in self.per.values())
        cov = {**coverage.summary(self.hits), "collection_seconds": round(self.coverage_seconds, 3),
               "run_seconds": round(self.seconds, 3),
               "overhead": round(self.coverage_seconds / self.seconds, 4) if self.seconds else None}
        problems = sorted(self.problems, key=lambda pr: (pr["seed"], self.policies.index(pr["policy"])))
        return {"n_seeds": self.n_seeds, "seeds": [self.first, self.last] if self.first is not None else [],
                "policies": per, "problems": problems, "n_problems": self.n_problems,
                "duplicates": self.duplicates, "directed": self.directed, "device": "+".join(sorted(self.devices)),
                "device_accesses": acc, "compute_seconds": round(self.seconds, 3),
                "backpressure": {"stalled_cycles": dict(self.stalled), "axi_latency_max": self.lat_max,
                                 "axi_latency_mean": round(self.lat_sum / self.lat_n, 2) if self.lat_n else None},
                "coverage": cov}


def junit(summaries: dict[str, dict], path: Path) -> Path:
    """JUnit XML: a test suite per mode, a test case per policy. A safe policy fails on any
    violation; every policy fails on a scoreboard error or a run that raised; the deferred
    fraction is a property."""
    root = et.Element("testsuites", name="stress")
    for mode, s in summaries.items():
        suite = et.SubElement(root, "testsuite", name=f"stress.{mode}", tests=str(len(s["policies"])),
                              time=str(s.get("wall_seconds") or s.get("compute_seconds") or 0))
        nfail = 0
        for pol, p in s["policies"].items():
            case = et.SubElement(suite, "testcase", classname=f"stress.{mode}", name=pol,
                                 time=str(round(s.get("compute_seconds", 0) / max(1, len(s["policies"])), 3)))
            props = et.SubElement(case, "properties")
            for k, v in (("seeds", p["seeds"]), ("violating", p["violating"]),
                         ("fraction", round(p["fraction"], 4)), ("accesses", p["accesses"])):
                et.SubElement(props, "property", name=k, value=str(v))
            mine = [pr for pr in s["problems"] if pr["policy"] == pol]
            bad = (p["violating"] if pol != "deferred" else 0) + p["scoreboard_errors"] + p["errors"]
            if bad:
                nfail += 1
                text = "\n".join(f"seed {pr['seed']}: {pr['failed'] or ''} {pr['error'] or ''}\n"
                                 + "".join(f"    {m[:300]}\n" for m in (pr["messages"] + pr["scoreboard"])[:2])
                                 + f"    replay: {pr['replay']}" for pr in mine)
                f = et.SubElement(case, "failure", message=f"{bad} seed(s) with a problem under {pol}")
                f.text = text
        suite.set("failures", str(nfail))
    path.parent.mkdir(parents=True, exist_ok=True)
    et.indent(root)
    et.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
    return path


def write_coverage(out: Path, hits: Counter) -> dict[str, str]:
    """coverage.xml/.yml/.txt under `out` from hit counts (a fresh database in this process)."""
    coverage.reset()
    coverage.add_hits(hits)
    files = coverage.write_report(out)
    coverage.reset()
    return {k: str(v) for k, v in files.items()}


def write_summary(out: Path, s: dict, **extra: Any) -> Path:
    p = Path(out) / "stress.json"
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps({**s, **extra}, indent=1, default=str) + "\n")
    return p
