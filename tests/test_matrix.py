"""The verdict matrix: one test per operation x policy cell (expectations in model/matrix.toml).

A clean cell only means something if the race window was open, so a second
test per row checks the device's first access inside the window: it must hit
the stale ATC entry under the policies that leave it there, and miss (walk or
fault) under those that invalidate before that point.
"""
from __future__ import annotations

import json
import sys
from functools import lru_cache
from pathlib import Path

import pytest

from model.matrix import GENERATORS, load_rows, main
from model.notifier import POLICIES
from model.scheduler import run_scenario_sync

ROOT = Path(__file__).resolve().parents[1]
ROWS = {r.op: r for r in load_rows()}
CELLS = [(op, p.value) for op in ROWS for p in POLICIES]
NIL, DEF, SWF = "notify-inside-lock", "deferred", "secondary-with-flush"
ALL = {NIL, DEF, SWF}


@lru_cache(maxsize=None)
def result(op: str, policy: str):
    return run_scenario_sync(ROWS[op].scenario(), policy, 0)


@pytest.mark.parametrize("op,policy", CELLS, ids=[f"{o}[{p}]" for o, p in CELLS])
def test_cell(op, policy):
    res = result(op, policy)
    expected = ROWS[op].expect[policy]
    assert res.failed_rules == expected, "\n".join(v.message for v in res.failures)


# Where the device's first access inside the window finds the stale entry, by
# the call sites of each path (docs/POLICIES.md): in-lock invalidation at
# *_clear_flush_notify (NIL, SWF), at plain ptep_clear_flush/pmdp_* (SWF only),
# at 4.15 try_to_unmap's explicit call (NIL) or the gather flush (NIL, SWF);
# zap, MADV_FREE, mprotect and clear_refs have nothing before unlock under any policy.
WINDOW_HIT = {
    "cow": {DEF}, "zero_page_write": {DEF}, "replace_page": {DEF},
    "ksm_write_protect_page": {NIL, DEF}, "ksm_replace_page": {NIL, DEF},
    "ksm_replace_page_early_free": {DEF},
    "munmap": ALL, "madv_dontneed": ALL, "madv_dontneed_vs_fault": ALL, "zap_early_free": {DEF},
    "madv_free": ALL, "try_to_unmap": {DEF}, "migrate": {NIL, DEF},
    "thp_split": {NIL, DEF}, "thp_collapse": {NIL, DEF},
    "mprotect": ALL, "clear_soft_dirty": ALL, "ksm_merge_vs_cow": {NIL, DEF},
}


def window_line(op: str) -> int:
    """Line of DEV-thread-0's first access after the operation is preempted."""
    lines = ROWS[op].scenario_text().splitlines()
    start = next(i for i, ln in enumerate(lines) if "CPU-thread-0" in ln and " until " in ln)
    return next(i + 1 for i in range(start + 1, len(lines)) if lines[i].startswith("DEV-thread-0"))


def test_every_row_with_a_window_is_covered():
    # cow_held_read / cow_walk_race open their windows with device timing (ATS rules),
    # not with a preempted operation: tests/test_cosim_device_bugs.py covers them
    assert set(WINDOW_HIT) == set(ROWS) - {"cpu_store", "cow_held_read", "cow_walk_race"}


@pytest.mark.parametrize("op", sorted(WINDOW_HIT))
def test_window_was_open_where_the_policy_leaves_it_open(op):
    line = window_line(op)
    for p in (q.value for q in POLICIES):
        rsp = result(op, p).response_at(line)
        assert rsp.atc_hit is (p in WINDOW_HIT[op]), f"{op} [{p}] line {line}: {rsp}"


def test_expectations_cover_every_generator_and_policy():
    assert set(ROWS) == set(GENERATORS)
    for r in ROWS.values():
        assert set(r.expect) == {p.value for p in POLICIES} and r.reason and r.title


def test_case_b_rows_fail_ordering_only_under_deferred():
    # the doc's case B list: "COW, write fault on zero page, __replace_page()"
    for op in ("cow", "zero_page_write", "replace_page"):
        assert {p: ROWS[op].expect[p] for p in ALL} == {NIL: frozenset(), DEF: frozenset({"ordering"}),
                                                        SWF: frozenset()}


def test_cli_writes_json_and_markdown_and_exits_zero(tmp_path):
    assert main(["--device", "ref", "--out", str(tmp_path), "--only", "cow", "--only", "zap_early_free"]) == 0
    data = json.loads((tmp_path / "matrix.json").read_text())
    assert len(data["cells"]) == 6 and all(c["ok"] for c in data["cells"])
    md = (tmp_path / "matrix.md").read_text()
    assert "| `cow` | clean | ordering | clean |" in md
    assert (tmp_path / "scenarios" / "cow.scn").exists()


def test_cli_exits_nonzero_on_a_mismatch(tmp_path, monkeypatch):
    import model.matrix as m
    real = m.load_rows

    def wrong():
        rows = real()
        return [type(r)(r.op, r.title, {**r.expect, "deferred": frozenset()}, r.reason, r.variant)
                if r.op == "cow" else r for r in rows]

    monkeypatch.setattr(m, "load_rows", wrong)
    assert main(["--out", str(tmp_path), "--only", "cow"]) == 1


def test_docs_matrix_is_the_rendered_table_of_the_current_expectations():
    from model.matrix import load_intro, ref_runner, render_doc, run_matrix
    rows = load_rows()
    doc = render_doc(rows, run_matrix(rows, ref_runner), load_intro(), "ref")
    assert (ROOT / "docs" / "MATRIX.md").read_text() == doc, \
        "regenerate: .venv/bin/python -m model.matrix --device ref --doc docs/MATRIX.md"
