"""Several processes in one scenario (`mm NAME pasid=N fork=PARENT threads=...`):
what the parser accepts, what it refuses (one line: file, line, problem), and
that files without `mm` lines keep their meaning."""
from __future__ import annotations

from pathlib import Path

import pytest

from model.scenario import MAIN_MM, ScenarioError, load, parse

ROOT = Path(__file__).resolve().parent.parent
BASE = """pasid 1
vma 0x10000000 0x10010000 anon rw
page A 0x10000000 present
"""
ROW = "[Time 0]\nDEV-thread-0 {read A}\n"


def refused(text: str, line: int, words: str) -> None:
    with pytest.raises(ScenarioError) as e:
        parse(text, "m.scn")
    msg = str(e.value)
    assert e.value.line == line and words in msg and "\n" not in msg, msg
    assert msg.startswith(f"m.scn:{line}: "), msg


def test_existing_scenarios_have_one_mm():
    from model.explore import load_threads

    for p in sorted((ROOT / "scenarios").glob("*.scn")):
        if p.stem.startswith("fork_"):
            continue
        try:
            sc = load(p)
        except ScenarioError:  # a threads-only file (model.explore's input)
            sc = load_threads(p)
        assert list(sc.mms) == [MAIN_MM], p
        assert all(v.mm == MAIN_MM for v in sc.vmas) and all(pg.mm == MAIN_MM for pg in sc.pages), p
        assert {sc.pasid_of(t) for t in sc.threads} == {sc.pasid}, p


def test_an_mm_line_declares_a_process_with_its_pasid_threads_and_fork():
    sc = parse(BASE + "mm child pasid=2 fork=main threads=CPU-thread-1,DEV-thread-1\n"
               "vma 0x20000000 0x20001000 anon rw\npage B 0x20000000 present\n" + ROW, "m.scn")
    assert list(sc.mms) == [MAIN_MM, "child"]
    child = sc.mms["child"]
    assert (child.line, child.pasid, child.fork, child.threads) == (4, 2, "main", ("CPU-thread-1", "DEV-thread-1"))
    assert sc.mm_of("DEV-thread-1") == "child" and sc.pasid_of("DEV-thread-1") == 2
    assert sc.mm_of("DEV-thread-0") == MAIN_MM and sc.pasid_of("CPU-thread-3") == 1
    # vma and page lines after an mm line describe that mm
    assert [v.mm for v in sc.vmas] == [MAIN_MM, "child"] and [p.mm for p in sc.pages] == [MAIN_MM, "child"]


def test_a_pasid_line_after_an_mm_line_is_that_mms_pasid():
    sc = parse(BASE + "mm other\npasid 7\nvma 0x10000000 0x10001000 anon rw\n" + ROW, "m.scn")
    assert sc.pasid == 1 and sc.mm_pasid("other") == 7
    # the same VA range in another mm (no fork) is no overlap
    assert [(v.start, v.mm) for v in sc.vmas] == [(0x10000000, MAIN_MM), (0x10000000, "other")]


@pytest.mark.parametrize("text,line,words", [
    (BASE + "pasid 2\n" + ROW, 4, "'pasid' given twice (first on line 1) for mm 'main'"),
    (BASE + "mm c pasid=1\n" + ROW, 4, "pasid 1 is already the PASID of mm 'main'"),
    (BASE + "mm c pasid=2\nmm d\npasid 2\n" + ROW, 6, "pasid 2 is already the PASID of mm 'c'"),
    (BASE + "mm c pasid=2\npasid 3\n" + ROW, 5, "'pasid' given twice (first on line 4) for mm 'c'"),
    (BASE + "mm c\nvma 0x30000000 0x30001000 anon rw\n" + ROW, 4, "mm 'c' has no PASID"),
    (BASE + "mm c pasid=2 fork=nobody\n" + ROW, 4, "fork=nobody: no mm 'nobody' declared above"),
    (BASE + "mm main pasid=2\n" + ROW, 4, "mm 'main' is the first mm's name"),
    (BASE + "mm c pasid=2\nmm c pasid=3\n" + ROW, 5, "mm 'c' is declared on line 4"),
    (BASE + "mm c pasid=2 colour=red\n" + ROW, 4, "mm: unknown option 'colour=red'"),
    (BASE + "mm pasid=2\n" + ROW, 4, "usage: mm NAME"),
    (BASE + "mm c pasid=2 threads=DEV-thread-1\nmm d pasid=3 threads=DEV-thread-1\n" + ROW, 5,
     "DEV-thread-1 already works in mm 'c'"),
    (BASE + "mm c pasid=2 threads=DEV-thread-8\n" + ROW, 4, "the device has 8 threads"),
    (BASE + "mm c pasid=2 fork=main\npage B 0x10000000 present\n" + ROW, 5, "overlaps the page of line 3"),
    (BASE + "mm c pasid=2\npage B 0x10000000 present\n" + ROW, 5, "is not inside one vma declared above"),
    ("vma 0x10000000 0x10400000 anon rw\npage H 0x10200000 huge\nmm c pasid=2 fork=main\n" + ROW, 3,
     "the 2 MiB page of line 2 cannot be forked"),
])
def test_bad_mm_lines_are_one_line_errors(text, line, words):
    refused(text, line, words)


def test_the_explorer_refuses_several_mms_at_the_mm_line():
    from model.explore import explore

    sc = parse(BASE + "mm c pasid=2 fork=main threads=DEV-thread-1\n[Time 0]\nDEV-thread-1 {read A}\n", "m.scn")
    with pytest.raises(ScenarioError) as e:
        explore(sc, "deferred")
    assert e.value.line == 4 and "handles one mm" in str(e.value)
