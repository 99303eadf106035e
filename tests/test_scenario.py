"""Scenario files: the format parses the doc's table; every mistake is one error with its line."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from model.matrix import load_rows
from model.scenario import ScenarioError, ScenarioRunError, load, parse
from model.scheduler import run_scenario_sync

ROOT = Path(__file__).resolve().parents[1]
OK_SETUP = "vma 0x10000000 0x10004000 anon rw\npage A 0x10000000 present\n"


def test_shipped_cow_timeline_parses_into_the_docs_rows_and_columns():
    sc = load(ROOT / "scenarios" / "cow_timeline.scn")
    assert sc.name == "cow_timeline"
    assert sc.threads == ["CPU-thread-0", "CPU-thread-1", "CPU-thread-2", "CPU-thread-3", "DEV-thread-0",
                          "DEV-thread-2"]
    assert [r.label for r in sc.rows] == ["N", "N+1", "N+2", "N+3", "N+3", "N+4", "N+5", "N+5'"]
    assert sc.labels == {"addrA": 0x10000000, "addrB": 0x10002000}
    first = sc.rows[0].cells["CPU-thread-0"][0]
    assert (first.verb, first.va, first.until) == ("store", 0x10000000, "fault")
    assert sc.rows[3].cells["CPU-thread-0"] == []  # {preempted}: nothing to do
    assert sc.expects == {"deferred": frozenset({"ordering"}), "notify-inside-lock": frozenset(),
                          "secondary-with-flush": frozenset()}


def test_every_shipped_scenario_parses():
    files = sorted((ROOT / "scenarios").glob("*.scn"))
    assert len(files) >= 2
    from model.explore import load_threads, thread_programs

    for f in files:
        if "[Time" in f.read_text():
            assert load(f).rows, f
        else:  # threads and operations only: the explorer chooses the schedule (`make explore`)
            assert any(thread_programs(load_threads(f)).values()), f


def test_addresses_values_and_until_counts():
    sc = parse(OK_SETUP + "label X A+0x18\n[Time 0]\nCPU-thread-0 {store X = 0x5; munmap A 0x2000 until pte_clear:2}\n"
               "DEV-thread-3 {write A+8 0xff nowait}\n", "t.scn")
    store, unmap = sc.rows[0].cells["CPU-thread-0"]
    assert (store.va, store.value) == (0x10000018, 5)
    assert (unmap.verb, unmap.length, unmap.until, unmap.until_n) == ("munmap", 0x2000, "pte_clear", 2)
    w = sc.rows[0].cells["DEV-thread-3"][0]
    assert (w.va, w.value, w.nowait) == (0x10000008, 0xFF, True)


# (text, line at fault, words the message must contain)
MALFORMED = [
    (OK_SETUP + "frobnicate 1\n[Time 0]\n", 3, "unknown setup directive 'frobnicate'"),
    ("vma 0x10000000 0x1000zz anon rw\n[Time 0]\n", 1, "is not a number"),
    ("vma 0x10000001 0x10004000 anon rw\n[Time 0]\n", 1, "page aligned"),
    (OK_SETUP + "vma 0x10002000 0x10008000 anon rw\n[Time 0]\n", 3, "overlaps the vma of line 1"),
    (OK_SETUP + "page Q 0x30000000 present\n[Time 0]\n", 3, "not inside one vma"),
    (OK_SETUP + "page Z 0x10001000 zero value=5\n[Time 0]\n", 3, "zero page reads 0"),
    (OK_SETUP + "page A2 0x10000000 present\n[Time 0]\n", 3, "overlaps the page of line 2"),
    (OK_SETUP + "label A 0x10000008\n[Time 0]\n", 3, "defined twice"),
    (OK_SETUP + "page store 0x10001000 present\n[Time 0]\n", 3, "reserved word"),
    (OK_SETUP + "page F 0x10001000 file\n[Time 0]\n", 3, "needs a file vma"),
    ("[Time 0]\nCPU-thread-0 {store 0x10000000}\n", 1, "no 'vma'"),
    (OK_SETUP + "[Time 0\n", 3, "malformed row header"),
    (OK_SETUP + "CPU-thread-0 {store A}\n[Time 0]\n", 3, "before the first '[Time ...]' row"),
    (OK_SETUP + "[Time 0]\nCPU-thread-0 {store C}\n", 4, "unknown address label 'C'"),
    (OK_SETUP + "[Time 0]\nCPU-thrd-0 {store A}\n", 4, "bad thread name 'CPU-thrd-0'"),
    (OK_SETUP + "[Time 0]\nCPU-thread-0 store A\n", 4, "needs its actions in braces"),
    (OK_SETUP + "[Time 0]\nCPU-thread-0 {cow A}\n", 4, "unknown CPU action 'cow'"),
    (OK_SETUP + "[Time 0]\nCPU-thread-0 {store A until pt_unlok}\n", 4, "unknown step 'pt_unlok'"),
    (OK_SETUP + "[Time 0]\nDEV-thread-0 {read A until pte_set}\n", 4, "'until' is for CPU threads"),
    (OK_SETUP + "[Time 0]\nDEV-thread-0 {store A}\n", 4, "unknown device action 'store'"),
    (OK_SETUP + "[Time 0]\nCPU-thread-0 {read A}\n", 4, "unknown CPU action 'read'"),
    (OK_SETUP + "[Time 0]\nCPU-thread-1 {resume}\n", 4, "no operation to resume"),
    (OK_SETUP + "[Time 0]\nCPU-thread-0 {store A}\nCPU-thread-0 {store A}\n", 5, "appears twice in the row"),
    (OK_SETUP + "[Time 0]\nCPU-thread-0 {munmap}\n", 4, "munmap: missing va"),
    (OK_SETUP + "[Time 0]\nCPU-thread-0 {store A 1 2}\n", 4, "store: unexpected '2'"),
    (OK_SETUP + "[Time 0]\nCPU-thread-0 {mprotect A 0x1000 rx}\n", 4, "protection 'rx'"),
    (OK_SETUP + "[Time 0]\nDEV-thread-0 {read A+4}\n", 4, "not 8-byte aligned"),
    (OK_SETUP + "[Time 0]\nCPU-thread-0 {store A}\npasid 3\n", 5, "setup directives come before"),
    (OK_SETUP + "[Time 0]\nexpect lazy clean\n", 4, "unknown policy 'lazy'"),
    (OK_SETUP + "[Time 0]\nexpect deferred ordering,tlb-shootdown\n", 4, "unknown rule 'tlb-shootdown'"),
    (OK_SETUP + "[Time 0]\nexpect all clean\nexpect deferred ordering\n", 5, "given twice"),
]


@pytest.mark.parametrize("text,line,words", MALFORMED, ids=[m[2][:30] for m in MALFORMED])
def test_malformed_file_gives_one_error_with_file_and_line(text, line, words):
    with pytest.raises(ScenarioError) as e:
        parse(text, "scenarios/bad.scn")
    assert e.value.line == line
    assert words in e.value.message
    assert str(e.value).startswith(f"scenarios/bad.scn:{line}: ")


def test_a_file_without_rows_is_reported_at_its_last_line():
    with pytest.raises(ScenarioError) as e:
        parse(OK_SETUP + "\n# trailing comment\n\n", "x.scn")
    assert e.value.line == 2 and str(e.value) == "x.scn:2: no '[Time ...]' rows: nothing to run"


def test_comments_and_dashes_are_ignored():
    sc = parse("# header\n" + OK_SETUP + "[Time 0] -------------- # a row\n"
               "CPU-thread-0  {store A}   # comment\n", "c.scn")
    assert len(sc.rows) == 1 and sc.rows[0].cells["CPU-thread-0"][0].verb == "store"


def test_cli_prints_the_error_without_a_traceback(tmp_path):
    bad = tmp_path / "bad.scn"
    bad.write_text(OK_SETUP + "[Time 0]\nCPU-thread-0 {store A until nowhere}\n")
    p = subprocess.run([sys.executable, "-m", "model.scenario", str(bad)], cwd=ROOT, capture_output=True,
                       text=True)
    assert p.returncode == 2
    assert p.stderr == f"error: {bad}:4: unknown step 'nowhere' (known: " + p.stderr.split("(known: ", 1)[1]
    assert "Traceback" not in p.stderr and p.stderr.count("\n") == 1


def test_cli_runs_a_file_and_checks_its_expectations():
    p = subprocess.run([sys.executable, "-m", "model.scenario", "scenarios/cow_timeline.scn"], cwd=ROOT,
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "[deferred] seed 0, script: FAIL ordering" in p.stdout
    assert "[notify-inside-lock] seed 0, script: clean" in p.stdout


def test_ksm_vs_cow_cannot_be_scheduled_with_the_lock_waiting_fault_path():
    """With 4.15's do_wp_page the writer sleeps on the page lock KSM holds, so the
    window of the ksm_merge_vs_cow matrix row cannot open: the row is stuck."""
    row = next(r for r in load_rows() if r.op == "ksm_merge_vs_cow")
    text = row.scenario_text().replace("wp-fault refcount", "wp-fault lock-wait")
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if ln.startswith("[Time 2]"))
    with pytest.raises(ScenarioRunError) as e:
        run_scenario_sync(parse(text, "ksm.scn"), "notify-inside-lock", 0, stall_limit=3000)
    assert e.value.line == line and "locked by CPU-thread-0" in str(e.value)
