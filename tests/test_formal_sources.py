"""The formal flow's source preparation (tb/formal.py) stays in step with rtl/.

`make formal` places the bound checkers inside copies of their modules (Yosys
has no `bind`) and breaks single lines for the `break_*` tasks. These tests
run without a solver: every bind of rtl/assert/ats_bind.sv that the formal
jobs need is placed, every mutation finds exactly one line, and every
`break_*` task of rtl/formal/*.sby names a mutation and the properties that
must fail, which exist in the checkers.
"""
from __future__ import annotations

import re

import pytest

from tb import formal


@pytest.fixture(scope="module")
def src(tmp_path_factory):
    keep = formal.OUT
    formal.OUT = tmp_path_factory.mktemp("formal")
    try:
        yield formal.prepare_sources()
    finally:
        formal.OUT = keep


@pytest.mark.parametrize("module,checker", [("atc", "atc_assert"), ("inv", "inv_assert"),
                                            ("dma", "dma_assert"), ("ptw", "ptw_assert")])
def test_checker_placed(src, module, checker):
    text = (src / f"{module}.sv").read_text()
    body = text[text.index(f"module {module}"):]
    assert re.search(rf"^\s*{checker}\s*#\(", body[:body.index("endmodule")], re.M), f"{checker} not placed in {module}"


def test_every_mutation_applies(src):
    for name, (fname, old, new) in formal.MUTATIONS.items():
        text = (src / fname).read_text()
        assert f"`ifdef FORMAL_BREAK_{name}" in text, name
        i = text.index(f"`ifdef FORMAL_BREAK_{name}")
        assert new in text[i:i + 400], name


def test_mutation_missing_is_one_line_error(tmp_path, monkeypatch):
    monkeypatch.setitem(formal.MUTATIONS, "NOPE", ("atc.sv", "this line does not exist", "x"))
    monkeypatch.setattr(formal, "OUT", tmp_path)
    with pytest.raises(formal.FormalError, match=r"rtl/atc.sv: FORMAL_BREAK_NOPE expects exactly one line"):
        formal.prepare_sources()


def test_break_tasks_name_mutations_and_properties():
    labels = set()
    for p in formal.ASSERT.glob("*_assert.sv"):
        labels |= set(re.findall(r"`ATS_(?:ASSERT|ENV|LEMMA)\((\w+)", p.read_text()))
    for sby in sorted(formal.FORMAL.glob("*.sby")):
        tasks, expect, _ = formal._sby_tasks(sby)
        text = sby.read_text()
        assert "prove" in tasks and "cover" in tasks, sby.name
        for t in tasks:
            if not t.startswith("break_"):
                continue
            macro = "FORMAL_BREAK_" + t[len("break_"):].upper()
            assert macro[len("FORMAL_BREAK_"):] in formal.MUTATIONS, f"{sby.name}:{t}: no mutation {macro}"
            assert f"{t}: verilog_defines -D{macro}" in text, f"{sby.name}:{t} does not define {macro}"
            unknown = [e for e in expect[t] if e not in labels]
            assert not unknown, f"{sby.name}:{t}: expects unknown properties {unknown}"
