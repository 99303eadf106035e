"""Race-window coverage (model.coverage) and the coverage director (model.director).

* bins of hand-written traces, the expected bins written out by hand from
  the phase definitions (docs/COVERAGE.md), not produced by the code;
* two processes each export their cocotb-coverage database; the merge adds
  their hits;
* on a fixed seed budget of `make stress` scenarios on the reference device,
  the directed scheduler hits a race-window bin the random one never does,
  replays alone, and keeps the safe policies clean.
"""
from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from model import coverage
from model.coverage import Bin
from model.trace import DevAccess, FrameEvent, OpStep, PteChange, Trace

ROOT = Path(__file__).resolve().parent.parent
V, W, X = 0x1000_0000, 0x1000_2000, 0x1000_4000


def step(t: int, thread: str, op: str, name: str) -> OpStep:
    return OpStep(time=t, thread=thread, op=op, step=name)


def acc(mem: int | None, va: int, pa: int, *, write: bool = False, hit: bool = True, fault: int = 0,
        complete: int | None = None) -> DevAccess:
    return DevAccess(thread=0, write=write, pasid=1, va=va, pa=pa, value=0, issue=(mem or complete) - 4,
                     complete=complete if complete is not None else mem + 2, fault=fault, atc_hit=hit,
                     mem_time=mem)


def hand_trace() -> Trace:
    """A COW (wp_page_copy) of V, an mprotect of W, a zap (madv_dontneed) of X."""
    c = "wp_page_copy"
    evs = [
        acc(5, V, 0x101000),  # before
        acc(10, V, 0x101000, hit=False),  # at the op's first step: counts as before
        step(10, "CPU-thread-0", c, "alloc"), step(20, "CPU-thread-0", c, "copy"),
        step(30, "CPU-thread-0", c, "range_start"), step(40, "CPU-thread-0", c, "pt_lock"),
        acc(45, V + 8, 0x101008),  # start..clear
        step(50, "CPU-thread-0", c, "pte_clear"),
        acc(None, V, 0, hit=False, fault=1, complete=55),  # clear..set: walked, found nothing
        PteChange(time=60, pasid=1, va=V, size=0x1000, old_pa=0x101000, new_pa=0x103000, writable=True),
        step(60, "CPU-thread-0", c, "pte_set"),
        acc(65, V, 0x101000, write=True),  # set..unlock
        step(70, "CPU-thread-0", c, "pt_unlock"),
        acc(75, V, 0x101000),  # unlock..end: the stale entry
        acc(77, V, 0x103000, hit=False),  # through the new PTE: no race, not binned
        step(80, "CPU-thread-0", c, "range_end"),
        acc(85, V, 0x101000),  # end..done
        FrameEvent(time=90, pfn=0x101, kind="free", owner="anon"),
        step(90, "CPU-thread-0", c, "page_free"),
        acc(95, V, 0x101000),  # freed
        # mprotect of W: no pte_clear step, same page before and after
        step(100, "CPU-thread-1", "mprotect", "mmap_lock"), step(110, "CPU-thread-1", "mprotect", "vma_prot"),
        step(120, "CPU-thread-1", "mprotect", "range_start"), step(130, "CPU-thread-1", "mprotect", "pt_lock"),
        acc(135, W, 0x102000),  # start..clear
        PteChange(time=140, pasid=1, va=W, size=0x1000, old_pa=0x102000, new_pa=0x102000, writable=False),
        step(140, "CPU-thread-1", "mprotect", "pte_set"),
        acc(145, W, 0x102000, write=True),  # set..unlock
        step(150, "CPU-thread-1", "mprotect", "pt_unlock"), step(160, "CPU-thread-1", "mprotect", "range_end"),
        step(170, "CPU-thread-1", "mprotect", "tlb_flush"),
        acc(175, W, 0x102000, hit=False),  # end..done
        step(180, "CPU-thread-1", "mprotect", "mmap_unlock"),
        acc(200, W, 0x102000),  # after
        # a zap of X: the PTE is removed at pte_clear, nothing set, the page freed at the end
        step(300, "CPU-thread-2", "madv_dontneed", "range_start"),
        step(310, "CPU-thread-2", "madv_dontneed", "pt_lock"),
        PteChange(time=320, pasid=1, va=X, size=0x1000, old_pa=0x104000, new_pa=None, writable=False),
        step(320, "CPU-thread-2", "madv_dontneed", "pte_clear"),
        acc(325, X, 0x104000),  # clear..set (cleared, lock held)
        step(330, "CPU-thread-2", "madv_dontneed", "pt_unlock"),
        acc(335, X, 0x104000),  # unlock..end
        step(340, "CPU-thread-2", "madv_dontneed", "range_end"),
        step(350, "CPU-thread-2", "madv_dontneed", "tlb_flush"),
        FrameEvent(time=360, pfn=0x104, kind="free", owner="anon"),
        step(360, "CPU-thread-2", "madv_dontneed", "page_free"),
        acc(365, X, 0x104000),  # freed: a use-after-free
    ]
    return Trace(evs)


def expected(policy: str) -> Counter:
    rows = [
        ("wp_page_copy", "before", "read", "hit"), ("wp_page_copy", "before", "read", "walk"),
        ("wp_page_copy", "start..clear", "read", "hit"), ("wp_page_copy", "clear..set", "read", "walk"),
        ("wp_page_copy", "set..unlock", "write", "hit"), ("wp_page_copy", "unlock..end", "read", "hit"),
        ("wp_page_copy", "end..done", "read", "hit"), ("wp_page_copy", "freed", "read", "hit"),
        ("mprotect", "start..clear", "read", "hit"), ("mprotect", "set..unlock", "write", "hit"),
        ("mprotect", "end..done", "read", "walk"), ("mprotect", "after", "read", "hit"),
        ("madv_dontneed", "clear..set", "read", "hit"), ("madv_dontneed", "unlock..end", "read", "hit"),
        ("madv_dontneed", "freed", "read", "hit"),
    ]
    return Counter({Bin(o, ph, policy, a, h): 1 for o, ph, a, h in rows})


def test_bins_of_a_hand_written_trace():
    assert coverage.bins_of(hand_trace(), "deferred") == expected("deferred")


def test_an_access_through_the_new_translation_is_not_a_race():
    t = hand_trace()
    only_new = Trace([e for e in t if not (type(e) is DevAccess and e.pa != 0x103000)])
    assert coverage.bins_of(only_new, "deferred") == Counter()


def test_phase_boundaries_are_strict_after_a_step():
    """A step and an access in the same cycle: the access counts as before the step."""
    (w,) = [w for w in coverage.windows(hand_trace()) if w.op == "wp_page_copy"]
    assert (w.start, w.clear, w.set, w.unlock, w.end, w.done, w.freed) == (10, 50, 60, 70, 80, 90, 90)
    assert [w.phase(t) for t in (10, 11, 50, 51, 60, 61, 70, 71, 80, 81, 90, 91)] == [
        "before", "start..clear", "start..clear", "clear..set", "clear..set", "set..unlock", "set..unlock",
        "unlock..end", "unlock..end", "end..done", "end..done", "freed"]


def test_database_round_trip_xml_and_yaml(tmp_path):
    coverage.reset()
    try:
        coverage.collect(hand_trace(), "deferred")
        coverage.collect(hand_trace(), "deferred")  # a second run: every bin has two hits
        want = Counter({b: 2 for b in expected("deferred")})
        assert coverage.hits() == want
        files = coverage.write_report(tmp_path)
        assert coverage.load(files["xml"]) == want and coverage.load(files["yml"]) == want
        text = files["txt"].read_text()
        assert "race-window coverage [deferred]: 15/928 bins hit" in text
        block = text[text.index("race-window coverage [deferred]"):]
        row = next(ln for ln in block.splitlines() if ln.strip().startswith("wp_page_copy"))
        assert row.split()[1:] == ["rH", "rW", "rH", "rW", "wH", "rH", "rH", "rH", "."]
    finally:
        coverage.reset()


_CHILD = """
import sys
from model import coverage
from model.trace import Trace
import json
trace = Trace.from_json(json.load(open(sys.argv[1])))
for pol in sys.argv[3:]:
    coverage.collect(trace, pol)
coverage.export(sys.argv[2])
"""


def test_merge_across_two_processes(tmp_path):
    tj = tmp_path / "trace.json"
    hand_trace().dump(str(tj))
    a, b = tmp_path / "a" / "coverage.xml", tmp_path / "b" / "coverage.xml"
    for out, pols in ((a, ["deferred"]), (b, ["deferred", "notify-inside-lock"])):
        r = subprocess.run([sys.executable, "-c", _CHILD, str(tj), str(out), *pols], cwd=ROOT,
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
    merged = coverage.merge(tmp_path / "merged.xml", a, b)
    want = Counter({bn: 2 for bn in expected("deferred")})
    want.update({bn: 1 for bn in expected("notify-inside-lock")})
    assert coverage.load(merged) == want
    # cocotb-coverage's own totals: 15 + 15 distinct bins covered in the merged tree
    from xml.etree import ElementTree as et

    race = et.parse(merged).getroot().find("race")
    assert race is not None
    assert int(race.find("deferred").get("coverage")) >= 15


# --------------------------------------------------------------------------- the director

SEEDS = range(30)
WINDOW_BIN = Bin("ksm_write_protect_page", "unlock..end", "deferred", "read", "hit")


def _campaign(directed: bool, policy: str = "deferred") -> tuple[set, list]:
    from model.director import Director
    from model.scheduler import run_scenario_sync
    from tb.stress import random_scenario

    got: set = set()
    failed = []
    for s in SEEDS:
        r = run_scenario_sync(random_scenario(s), policy, s, mode="random",
                              director=Director() if directed else None)
        got |= set(coverage.bins_of(r.trace, policy))
        if r.failures:
            failed.append((s, sorted(r.failed_rules)))
    return got, failed


def test_directed_scheduler_hits_a_window_the_random_one_misses():
    """Seeds 0..29 of `make stress` under deferred: a stale translation used between a
    KSM write_protect_page's pt_unlock and its range_end is reached only with the director,
    and the director reaches more of the stale-use windows overall."""
    rnd, _ = _campaign(False)
    drc, _ = _campaign(True)
    assert WINDOW_BIN in drc and WINDOW_BIN not in rnd

    def stale(bins: set) -> set:
        return {b for b in bins if b.outcome == "hit" and b.phase in ("unlock..end", "end..done", "freed")}

    assert len(stale(drc)) > len(stale(rnd)), (sorted(stale(drc)), sorted(stale(rnd)))


def test_directed_seed_replays_alone():
    from model.director import Director
    from model.scheduler import run_scenario_sync
    from tb.stress import random_scenario

    def run(seed: int):
        return run_scenario_sync(random_scenario(seed), "deferred", seed, mode="random", director=Director())

    a = run(6)
    run(7)  # another seed in between changes nothing
    b = run(6)
    assert a.trace.to_json() == b.trace.to_json()
    plain = run_scenario_sync(random_scenario(6), "deferred", 6, mode="random")
    assert plain.trace.to_json() != a.trace.to_json()  # the director did choose differently


@pytest.mark.parametrize("policy", ["notify-inside-lock", "secondary-with-flush"])
def test_directed_schedules_keep_the_safe_policies_clean(policy):
    _, failed = _campaign(True, policy)
    assert failed == []


def test_every_operation_that_changes_a_pte_is_a_bin():
    """OPERATIONS lists the op names model.ops gives the kernel paths (a new path
    without a bin would be collected nowhere)."""
    import re

    text = (ROOT / "model" / "ops.py").read_text()
    names = set(re.findall(r'Op\(k, thread, "([a-z_]+)"\)', text))
    names |= set(re.findall(r'name: str = "([a-z_]+)"', text)) | set(re.findall(r'name="([a-z_]+)"', text))
    no_pte = {"store", "load", "migration_entry_wait"}  # their own steps change no PTE
    assert names - no_pte == set(coverage.OPERATIONS)
