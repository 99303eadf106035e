"""Kernel history rows (scenarios/history/) and the huge COW scenario, on the
reference device and on the RTL.

Each row must fail exactly its expected rules with its bug switch on and be
clean with it off, under the policy of the kernels that had the bug; the RTL
must agree with the reference device on every run (`rtl-vs-ref`).
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from model import kernel_bugs
from model.history import HISTORY_DIR, fmt, rows, run_row
from model.notifier import POLICIES
from model.scenario import load
from model.scheduler import run_scenario_sync
from model.trace import InvReq

ROOT = Path(__file__).resolve().parent.parent
SEED = int(os.environ.get("SEED", "0"))
HUGE_COW = ROOT / "scenarios" / "huge_cow.scn"
ROWS = sorted(p.name for p in HISTORY_DIR.glob("*.scn"))


def test_there_are_rows_and_each_names_a_known_switch():
    assert "thp_numa_migrate_4.19.scn" in ROWS
    for r in rows():
        assert r.scenario.bugs <= set(kernel_bugs.SWITCHES) and r.expected


@pytest.mark.parametrize("name", ROWS)
def test_row_on_the_reference_device(name):
    r = next(r for r in rows() if r.path.name == name)
    run_row(r, run_scenario_sync, SEED)
    assert r.bug == r.expected, f"with the bug: {fmt(r.bug)}, expected {fmt(r.expected)}"
    assert not r.fix, f"with the fix: {fmt(r.fix)}"
    assert r.ok


@pytest.mark.parametrize("name", ROWS)
def test_row_expect_lines_hold_under_every_policy(name):
    sc = load(HISTORY_DIR / name)
    for pol in POLICIES:
        if pol.value in sc.expects:
            got = run_scenario_sync(sc, pol, SEED).failed_rules
            assert got == sc.expects[pol.value], f"{pol.value}: {fmt(frozenset(got))}"


def test_a_row_whose_fix_still_fails_is_reported(tmp_path):
    """The row runner can fail: the deferred policy also loses the write with the fix."""
    text = (HISTORY_DIR / "thp_numa_migrate_4.19.scn").read_text()
    (tmp_path / "r.scn").write_text(text)
    r = rows(tmp_path)[0]
    r.policy = "deferred"
    r.expected = r.scenario.expects["deferred"]
    run_row(r, run_scenario_sync, SEED)
    assert r.bug == r.expected and r.fix and not r.ok


def test_row_files_are_checked(tmp_path):
    (tmp_path / "a.scn").write_text("vma 0x40000000 0x40200000 anon rw\n[Time 0]\n")
    with pytest.raises(ValueError, match="needs a 'bug NAME' line"):
        rows(tmp_path)
    (tmp_path / "a.scn").write_text("bug thp-numa-invalidate-after-copy\nvma 0x40000000 0x40200000 anon rw\n"
                                    "[Time 0]\nexpect deferred ordering\n")
    with pytest.raises(ValueError, match="needs 'expect notify-inside-lock RULE"):
        rows(tmp_path)


def test_huge_cow_scenario_on_the_reference_device():
    sc = load(HUGE_COW)
    for pol in POLICIES:
        assert run_scenario_sync(sc, pol, SEED).failed_rules == sc.expects[pol.value]


def test_a_device_that_walks_again_never_sees_the_arm64_upgrade_bug():
    """The arm64 row needs the SMMU-like ATC: with `atc-write-upgrade walk` the
    stale read-only entry is a miss, the retry walks the upgraded PTE, and the
    bug is harmless (clean under both bindings)."""
    sc = load(HISTORY_DIR / "arm64_set_access_flags_6.5.scn")
    assert sc.atc_write_upgrade == "fault"
    walk = dataclasses.replace(sc, atc_write_upgrade="walk")
    for pol in ("secondary-with-flush", "notify-inside-lock"):
        assert run_scenario_sync(sc, pol, SEED).failed_rules == {"livelock"}, pol
        assert not run_scenario_sync(walk, pol, SEED).failed_rules, pol


def test_atc_write_upgrade_directive_is_checked(tmp_path):
    from model.scenario import ScenarioError, parse
    with pytest.raises(ScenarioError, match="atc-write-upgrade walk\\|fault"):
        parse("scenario x\natc-write-upgrade sometimes\n", "x.scn")


def _huge_cow_with(monkeypatch, effect: str):
    sw = kernel_bugs.BugSwitch("probe", "do_huge_pmd_wp_page:clear_flush_notify", effect, "-", "-", "-")
    monkeypatch.setitem(kernel_bugs.SWITCHES, "probe", sw)
    return dataclasses.replace(load(HUGE_COW), bugs=frozenset({"probe"}))


def test_an_invalidation_narrowed_to_4k_still_drops_the_2m_entry(monkeypatch):
    """The 4.13 'THP invalidated as one 4 KiB page' is harmless to an ATS
    device that caches the THP as one 2 MiB entry (`atc-huge whole`, the
    default): a 4 KiB Invalidate Request inside it removes the whole entry
    (the overlap rule), so the huge COW stays clean."""
    sc = _huge_cow_with(monkeypatch, "narrow")
    res = run_scenario_sync(sc, "notify-inside-lock", SEED)
    assert not res.failed_rules
    # the one invalidation the device got was the narrowed 4 KiB one
    assert [(e.start, e.size) for e in res.trace.of(InvReq)] == [(0x40000000, 0x1000)]


def test_a_narrowed_huge_cow_breaks_a_device_that_splits_huge_pages(monkeypatch):
    """The same narrowed call on a device that caches the THP as 4 KiB entries
    (`atc-huge split`): its entry for A (20 KiB into the THP) survives the
    4 KiB request at the THP's base, and the device reads A from the old THP
    after it read C's newer value: ordering. With the call whole it is clean."""
    sc = dataclasses.replace(_huge_cow_with(monkeypatch, "narrow"), atc_huge="split")
    assert run_scenario_sync(sc, "notify-inside-lock", SEED).failed_rules == {"ordering"}
    assert not run_scenario_sync(dataclasses.replace(sc, bugs=frozenset()), "notify-inside-lock", SEED).failed_rules


def test_the_thp_row_needs_an_atc_that_splits_huge_pages():
    """page_mkclean_thp_4.12: the bug's one in-lock invalidation covers the THP's
    first 4 KiB, the fix's the whole 2 MiB; only a device caching 4 KiB entries
    of the THP keeps the entry of A (12 KiB in) and loses the dirty state."""
    r = next(r for r in rows() if r.path.name == "page_mkclean_thp_4.12.scn")
    assert r.scenario.atc_huge == "split" and r.policy == "notify-inside-lock"
    bug = run_scenario_sync(r.scenario, r.policy, SEED)
    fix = run_scenario_sync(dataclasses.replace(r.scenario, bugs=frozenset()), r.policy, SEED)
    base = 0x40000000
    assert [(e.start, e.size) for e in bug.trace.of(InvReq)][0] == (base, 0x1000)
    assert [(e.start, e.size) for e in fix.trace.of(InvReq)][0] == (base, 0x200000)
    assert bug.failed_rules == {"lost-dirty"} and not fix.failed_rules
    whole = dataclasses.replace(r.scenario, atc_huge="whole")
    assert not run_scenario_sync(whole, r.policy, SEED).failed_rules  # the 2 MiB entry overlaps the 4 KiB request


def test_atc_huge_directive_is_checked():
    from model.scenario import ScenarioError, parse
    body = "vma 0x40000000 0x40200000 anon rw\n[Time 0]\nDEV-thread-0 {read 0x40000000}\n"
    assert parse("scenario x\n" + body, "x.scn").atc_huge == "whole"
    assert parse("scenario x\natc-huge split\n" + body, "x.scn").atc_huge == "split"
    with pytest.raises(ScenarioError, match="x.scn:2: usage: atc-huge whole\\|split"):
        parse("scenario x\natc-huge 4k\n" + body, "x.scn")


def test_the_notify_after_the_unlock_breaks_the_huge_cow(monkeypatch):
    """The 4.13 'callback after the PT unlock' on a path that repoints the PMD
    is the doc's case B: ordering."""
    sc = _huge_cow_with(monkeypatch, "after-unlock")
    assert run_scenario_sync(sc, "notify-inside-lock", SEED).failed_rules == {"ordering"}


# --------------------------------------------------------------------------- the RTL

@pytest.fixture(scope="module")
def srv():
    from tb.rtldev import CosimServer
    s = CosimServer(out=ROOT / "build" / "cosim" / "test_history", seed=SEED)
    yield s
    s.close()


def test_rows_on_the_rtl(srv):
    from tb.rtldev import run_scenario_rtl

    bad = []
    for r in rows():
        run_row(r, lambda sc, pol, seed: run_scenario_rtl(sc, pol, seed, srv=srv), SEED)
        if not r.ok:  # rtl-vs-ref would appear in the failed rules if the devices disagreed
            bad.append(f"{r.path.name}: bug {fmt(r.bug)} (expected {fmt(r.expected)}), fix {fmt(r.fix)}")
    assert not bad, "\n".join(bad)


def test_a_split_scenario_on_a_whole_build_is_refused_in_one_line(srv):
    """`atc-huge split` is an RTL parameter: run_scenario_rtl picks a build with
    AtcSplitHuge=1; the default build, asked directly, names the mismatch."""
    from model.scenario import ScenarioRunError
    from tb.rtldev import CosimRemoteError, scenario_params

    path = HISTORY_DIR / "page_mkclean_thp_4.12.scn"
    assert scenario_params(load(path)) == {"AtcSplitHuge": 1} and scenario_params(load(HUGE_COW)) == {}
    with pytest.raises(CosimRemoteError) as e:
        srv.call("scenario", scenario=str(path), policy="notify-inside-lock", seed=SEED)
    se = e.value.scenario_error()
    assert isinstance(se, ScenarioRunError) and "AtcSplitHuge=0" in se.message and "atc-huge split" in se.message


def test_huge_cow_on_the_rtl(srv):
    from tb.rtldev import run_scenario_rtl

    sc = load(HUGE_COW)
    for pol in POLICIES:
        res = run_scenario_rtl(sc, pol.value, SEED, srv=srv)
        assert res.failed_rules == sc.expects[pol.value], f"{pol.value}: {fmt(frozenset(res.failed_rules))}"
        assert res.metrics.get("cycles", 0) > 0  # it really ran on the simulator


@pytest.mark.parametrize("off", [0x0, 0x1008, 0xff000, 0x1ff000, 0x1ffff8])
def test_a_device_write_anywhere_in_the_thp_during_the_copy_is_judged(off):
    """The write during migrate_page_copy may hit any 4 KiB of the 2 MiB page,
    the faulting one included (0x1008: the CPU stores to 0x1000): lost with the bug, a fault with the fix."""
    text = (HISTORY_DIR / "thp_numa_migrate_4.19.scn").read_text()
    text = text.replace("label W 0x40003000", f"label W {0x40000000 + off:#x}")
    from model.scenario import parse
    sc = parse(text, "w.scn")
    assert run_scenario_sync(sc, "notify-inside-lock", SEED).failed_rules >= {"lost-write"}
    assert not run_scenario_sync(dataclasses.replace(sc, bugs=frozenset()), "notify-inside-lock", SEED).failed_rules


def test_history_cli_writes_the_table_and_fails_in_one_line(tmp_path, capsys):
    import json

    from model.history import main
    assert main(["--device", "ref", "--out", str(tmp_path / "out")]) == 0
    got = json.loads((tmp_path / "out" / "history.json").read_text())
    names = [r["row"] for r in got]
    assert sorted(names) == sorted(Path(n).stem for n in ROWS) and all(r["ok"] for r in got)
    # in Linux order: the version each file name ends with never goes down
    versions = [tuple(int(x) for x in n.rsplit("_", 1)[1].split(".")) for n in names]
    assert versions == sorted(versions), names
    assert names.index("clear_refs_no_notifier_3.11") < names.index("arm64_set_access_flags_6.5")
    assert "| `thp_numa_migrate_4.19` |" in (tmp_path / "out" / "history.md").read_text()
    (tmp_path / "rows").mkdir()
    (tmp_path / "rows" / "x.scn").write_text("bug nope\nvma 0x40000000 0x40200000 anon rw\n[Time 0]\n")
    capsys.readouterr()
    assert main(["--device", "ref", "--rows", str(tmp_path / "rows"), "--out", str(tmp_path / "o2")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "x.scn:1: unknown bug switch 'nope'" in err


# --------------------------------------------------------------------------- dirty-tracking rows

DIRTY_ROWS = ["clear_refs_no_notifier_3.11.scn", "page_mkclean_after_unlock_4.10.scn",
              "page_mkclean_thp_4.12.scn", "clear_refs_elided_flush_5.11.scn"]


@pytest.mark.parametrize("name", DIRTY_ROWS)
def test_dirty_rows_bug_writes_through_the_cached_entry_fix_faults(name):
    """The mechanism, not only the verdict: with the bug the device's second
    write hits its cached writable entry (no walk, so no D, no soft-dirty);
    with the fix the entry is gone, the walk finds the PTE read-only and the
    write faults, so nothing reaches the page the kernel judged clean."""
    from model.trace import DevAccess, PageClean

    r = next(r for r in rows() if r.path.name == name)
    bug = run_scenario_sync(r.scenario, r.policy, SEED)
    fix = run_scenario_sync(dataclasses.replace(r.scenario, bugs=frozenset()), r.policy, SEED)
    b2, f2 = bug.trace.of(DevAccess)[1], fix.trace.of(DevAccess)[1]
    assert b2.atc_hit and not b2.fault and b2.mem_time is not None
    assert not f2.atc_hit and f2.fault and f2.mem_time is None
    # two judgements: the first read the bit set (the first write set it), the last read it clear
    for res in (bug, fix):
        assert [c.was_set for c in res.trace.of(PageClean)] == [True, False]
    assert bug.failed_rules == {"lost-dirty"} and not fix.failed_rules


def test_clear_refs_no_notifier_drops_the_range_and_nothing_else():
    r = next(r for r in rows() if r.path.name == "clear_refs_no_notifier_3.11.scn")
    bug = run_scenario_sync(r.scenario, r.policy, SEED)
    fix = run_scenario_sync(dataclasses.replace(r.scenario, bugs=frozenset()), r.policy, SEED)

    def steps(res):
        return [(e.op, e.step) for e in res.trace.of(OpStep) if e.op == "clear_soft_dirty"]
    from model.trace import OpStep
    got, want = steps(bug), steps(fix)
    assert ("clear_soft_dirty", "range_start") in want and ("clear_soft_dirty", "range_end") in want
    assert got == [s for s in want if s[1] not in ("range_start", "range_end", "secondary_inval")]


def test_a_policy_switch_runs_the_bug_under_its_policy_and_the_fix_under_the_switch_policy():
    """`policy:deferred` (secondary-tlb-range-end-only): the bug run is the deferred binding,
    the fix run notify-inside-lock; the switch itself reaches no call of the kernel."""
    sw = kernel_bugs.SWITCHES["secondary-tlb-range-end-only"]
    assert (sw.kind, sw.target, sw.policy, sw.point) == ("policy", "deferred", "notify-inside-lock", "")
    r = next(r for r in rows() if r.path.name == "doc_cow_3.18.scn")
    assert (r.bug_policy, r.policy, r.expected) == ("deferred", "notify-inside-lock", frozenset({"ordering"}))
    seen = []

    def runner(sc, pol, seed):
        seen.append((pol, sc.bugs))
        return run_scenario_sync(sc, pol, seed)

    run_row(r, runner, SEED)
    assert seen == [("deferred", frozenset()), ("notify-inside-lock", frozenset())]
    assert r.ok


def test_two_policy_switches_in_one_row_are_refused(tmp_path, monkeypatch):
    extra = kernel_bugs.BugSwitch("other-policy", "", "policy:secondary-with-flush", "x", "y", "z")
    monkeypatch.setitem(kernel_bugs.SWITCHES, extra.name, extra)
    text = (HISTORY_DIR / "doc_cow_3.18.scn").read_text().replace(
        "bug secondary-tlb-range-end-only", "bug secondary-tlb-range-end-only other-policy")
    (tmp_path / "r.scn").write_text(text)
    with pytest.raises(ValueError, match="more than one policy: switch"):
        rows(tmp_path)
