"""The timeline SVG as a reader sees it: rendered to PNG, no text past its cell.

Two checks on the doc's COW scenario and on a stress scenario (both on the
reference device, so no RTL build is needed):

* geometry: every text line's box (x, baseline, rendered width, font
  ascent/descent) lies inside the rectangle of the cell that holds it;
* pixels: the SVG is rendered with resvg, every cell's text in one of four
  colours chosen so that neighbouring cells (left/right, above/below) never
  share one; every strongly inked pixel must lie inside a cell of its own
  colour, i.e. no glyph reaches into a neighbour.

Also the "old page" / "new page" labels: decided by the frame the page
mapped when the access reached memory, never by a same-frame PTE change.
"""
from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import resvg_py
from PIL import Image

from model.report import render_svg, timeline_rows
from model.scheduler import run_scenario_sync
from model.trace import DevAccess, PteChange, Trace
from model.random_scenario import random_scenario

ROOT = Path(__file__).resolve().parent.parent
SVG_NS = "{http://www.w3.org/2000/svg}"
MONO_ADVANCE = 0.602      # DejaVu Sans Mono advance width, em (1233/2048)
ASCENT, DESCENT = 0.76, 0.24  # DejaVu Sans Mono ascender/descender, em
FONT_DIRS = [d for d in ("/usr/share/fonts", "/usr/local/share/fonts") if Path(d).is_dir()]


def _runs() -> dict[str, tuple]:
    cow = run_scenario_sync(ROOT / "scenarios" / "cow_timeline.scn", "deferred", 1, mode="script")
    assert cow.failed_rules == {"ordering"}
    stress = run_scenario_sync(random_scenario(3), "deferred", 3, mode="random")
    return {"cow": cow, "stress": stress}


@pytest.fixture(scope="module")
def svgs() -> dict[str, str]:
    out = {}
    for name, res in _runs().items():
        bad = [e for v in res.failures for e in v.events]
        note = (f"policy deferred; {'VIOLATION: ' + ','.join(sorted(res.failed_rules)) if bad else 'clean'}; "
                f"a long note that must wrap inside the picture rather than run past its right edge " * 3)
        out[name] = render_svg(res.trace, f"{res.scenario} [deferred] on the reference device", res.names, bad,
                               note)
    return out


def _num(el: ET.Element, attr: str, default: float = 0.0) -> float:
    v = el.get(attr)
    return float(v) if v is not None else default


def _font_size(el: ET.Element, root: ET.Element) -> float:
    return _num(el, "font-size", _num(root, "font-size", 16.0))


def _text_box(el: ET.Element, root: ET.Element) -> tuple[float, float, float, float, str]:
    """(x0, y0, x1, y1, text) of a <text>: its rendered width is textLength when given."""
    s = "".join(t for t in el.itertext() if t) if el.find(f"{SVG_NS}title") is None else \
        (el.find(f"{SVG_NS}title").tail or "")
    size = _font_size(el, root)
    natural = len(s) * MONO_ADVANCE * size
    w = _num(el, "textLength", natural)
    # textLength may squeeze a line only a little: it is a guard, not a way to hide overflow
    assert w >= 0.95 * natural, f"text {s!r} squeezed to {w:.1f} px from {natural:.1f} px"
    x, y = _num(el, "x"), _num(el, "y")
    return x, y - ASCENT * size, x + w, y + DESCENT * size, s


def _cells(svg: str) -> tuple[ET.Element, list[tuple[tuple[float, float, float, float], list[ET.Element]]]]:
    root = ET.fromstring(svg)
    cells = []
    for g in root.iter(f"{SVG_NS}g"):
        if g.get("class") != "cell":
            continue
        (r,) = [e for e in g if e.tag == f"{SVG_NS}rect"]
        box = (_num(r, "x"), _num(r, "y"), _num(r, "x") + _num(r, "width"), _num(r, "y") + _num(r, "height"))
        cells.append((box, [e for e in g if e.tag == f"{SVG_NS}text"]))
    return root, cells


@pytest.mark.parametrize("name", ["cow", "stress"])
def test_every_text_line_lies_inside_its_cell(svgs, name):
    root, cells = _cells(svgs[name])
    W, H = _num(root, "width"), _num(root, "height")
    assert len(cells) > 20, f"{name}: only {len(cells)} cells"
    in_cells = set()
    for (x0, y0, x1, y1), texts in cells:
        assert 0 <= x0 < x1 <= W and 0 <= y0 < y1 <= H, f"{name}: cell {(x0, y0, x1, y1)} outside the picture"
        for t in texts:
            in_cells.add(id(t))
            bx0, by0, bx1, by1, s = _text_box(t, root)
            assert x0 < bx0 and bx1 <= x1 and y0 <= by0 and by1 <= y1, \
                f"{name}: {s!r} box {(bx0, by0, bx1, by1)} leaves its cell {(x0, y0, x1, y1)}"
    loose = [t for t in root.iter(f"{SVG_NS}text") if id(t) not in in_cells]
    assert loose, "the title and note are drawn outside the table"
    for t in loose:  # title and note: inside the picture
        bx0, by0, bx1, by1, s = _text_box(t, root)
        assert 0 <= bx0 and bx1 <= W and 0 <= by0 and by1 <= H, f"{name}: {s!r} leaves the picture"
    # cells never overlap: a cell's text can only be covered by its own cell
    boxes = sorted(b for b, _ in cells)
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            if b[0] >= a[2]:
                break
            assert a[3] <= b[1] or b[3] <= a[1] or a[2] <= b[0] or b[2] <= a[0], f"{name}: cells {a} {b} overlap"


def _render(svg: str, png_out: Path | None = None) -> np.ndarray:
    png = bytes(resvg_py.svg_to_bytes(svg_string=svg, background="white", monospace_family="DejaVu Sans Mono",
                                      font_dirs=FONT_DIRS))
    if png_out is not None and png_out.parent.is_dir():
        png_out.write_bytes(png)  # left in pytest's tmp dir for a reader
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


COLOURS = {0: "#ff0000", 1: "#00a000", 2: "#0000ff", 3: "#000000"}


def _classify(px: np.ndarray) -> np.ndarray:
    """Colour class per pixel (0 red, 1 green, 2 blue, 3 black), -1 for background and faint edges."""
    lo, hi = px.min(axis=2).astype(np.int16), px.max(axis=2).astype(np.int16)
    cls = np.where(hi - lo < 60, 3, px.argmax(axis=2)).astype(np.int16)
    return np.where(lo < 110, cls, np.int16(-1))


@pytest.mark.parametrize("name", ["cow", "stress"])
def test_rendered_png_has_no_text_outside_its_cell(svgs, name, tmp_path):
    svg = svgs[name]
    real = _render(svg, tmp_path / f"{name}.png")
    assert real.shape[0] > 200 and real.shape[1] > 800
    assert (real.min(axis=2) < 110).sum() > 5000, f"{name}: the PNG is (nearly) empty: no text rendered"

    root, cells = _cells(svg)
    xs = sorted({b[0] for b, _ in cells})
    ys = sorted({b[1] for b, _ in cells})
    grid = np.full(real.shape[:2], -1, dtype=np.int16)
    for box, texts in cells:
        k = (xs.index(box[0]) % 2) + 2 * (ys.index(box[1]) % 2)
        grid[int(round(box[1])):int(round(box[3])), int(round(box[0])):int(round(box[2]))] = k
        for t in texts:
            t.set("fill", COLOURS[k])
            t.attrib.pop("textLength", None)  # as a renderer without textLength support would draw it
            t.attrib.pop("lengthAdjust", None)
    in_cells = {id(t) for _, ts in cells for t in ts}
    for parent in list(root.iter()):  # text only: no rectangles or lines
        for child in list(parent):
            if child.tag in (f"{SVG_NS}rect", f"{SVG_NS}line"):
                parent.remove(child)
        if parent.tag == f"{SVG_NS}text" and id(parent) not in in_cells:
            parent.set("fill", "#ffffff")  # title and note: checked by geometry
    px = _classify(_render(ET.tostring(root, encoding="unicode")))
    inked = px >= 0
    assert inked.sum() > 3000, f"{name}: no text rendered in the classified picture"
    for k in range(4):
        if (grid == k).any():
            assert (inked & (px == k)).any(), f"{name}: no pixel of colour class {k}"
    # an inked pixel must sit in a cell of its class; allow 1 px of antialiasing at a border
    wrong = inked & (px != grid)
    # its own class within 1 px: shift the cell map by -1..1 in x and y
    near = np.zeros_like(wrong)
    padded = np.pad(grid, 1, constant_values=-1)
    h, w = grid.shape
    for dy in (0, 1, 2):
        for dx in (0, 1, 2):
            near |= padded[dy:dy + h, dx:dx + w] == px
    ys_w, xs_w = np.nonzero(wrong & ~near)
    bad = [(int(x), int(y), int(px[y, x]), int(grid[y, x])) for y, x in zip(ys_w[:20], xs_w[:20])]
    assert not bad, f"{name}: {len(ys_w)} inked pixels outside their cell, e.g. (x, y, text class, cell class) " \
                    f"{bad[:5]}"


def test_overflowing_text_is_caught(svgs):
    """Both checks fail on a line that runs past its cell (the checkers can fire)."""
    svg = svgs["cow"]
    m = re.search(r'<text ([^>]*) textLength="[^"]*" lengthAdjust="[^"]*"([^>]*)>(read addrA[^<]*)</text>', svg)
    assert m, "no device read of addrA in the COW timeline"
    longer = f'<text {m.group(1)}{m.group(2)}>{m.group(3)} and a tail running on into the next column</text>'
    bad = svg.replace(m.group(0), longer, 1)
    with pytest.raises(AssertionError, match="leaves its cell"):
        test_every_text_line_lies_inside_its_cell({"cow": bad}, "cow")
    with pytest.raises(AssertionError, match="outside their cell"):
        test_rendered_png_has_no_text_outside_its_cell({"cow": bad}, "cow", Path("/nonexistent-not-written"))


# --------------------------------------------------------------------------- old page / new page

X, K, N = 0x200000, 0x300000, 0x400000  # frames: the page's own, the KSM page, another COW copy
VA = 0x1000_0000


def _read(t: int, pa: int, thread: int = 0) -> DevAccess:
    return DevAccess(thread=thread, write=False, pasid=1, va=VA, pa=pa, value=0x5, issue=t - 2, complete=t + 2,
                     fault=0, atc_hit=True, mem_time=t)


def _labels(trace: list) -> dict[int, str]:
    _, rows = timeline_rows(Trace(trace))
    return {t: " | ".join(line for c in r.values() for line in c.lines) for t, r in rows}


def test_ksm_stale_read_of_the_old_page_is_not_called_new_page():
    """KSM write-protects X (same frame), then replaces X by K: a later read of X is stale: "old page"."""
    trace = [
        _read(5, X),                                                          # before any change: no label
        PteChange(time=10, pasid=1, va=VA, size=0x1000, old_pa=X, new_pa=X),  # write-protect, same frame
        _read(15, X),                                                         # still the page's frame: no label
        PteChange(time=20, pasid=1, va=VA, size=0x1000, old_pa=X, new_pa=K),  # replace by the KSM page
        _read(25, X),                                                         # stale: old page
        _read(30, K, thread=1),                                               # the KSM page: new page
    ]
    got = _labels(trace)
    assert "page" not in got[5] and "page" not in got[15], got
    assert "from old page" in got[25] and "new page" not in got[25], got[25]
    assert "from new page" in got[30], got[30]


def test_labels_follow_the_mapping_at_the_time_of_the_read():
    """X -> N -> K: N is the new page between the changes and an old page after the second."""
    trace = [
        PteChange(time=10, pasid=1, va=VA, size=0x1000, old_pa=X, new_pa=N),
        _read(12, N),
        PteChange(time=20, pasid=1, va=VA, size=0x1000, old_pa=N, new_pa=K),
        _read(22, N),
        _read(24, X, thread=1),
        _read(26, 0x500000, thread=2),  # a frame this page never mapped: no label
    ]
    got = _labels(trace)
    assert "from new page" in got[12], got[12]
    assert "from old page" in got[22], got[22]
    assert "from old page" in got[24], got[24]
    assert "page" not in got[26], got[26]


@pytest.mark.parametrize("path", sorted((ROOT / "docs" / "img").glob("*.svg")), ids=lambda p: p.name)
def test_shipped_timelines_keep_text_inside_cells(path, tmp_path):
    """The pictures the README shows pass the same checks (regenerate them with `make sim` if not)."""
    svg = path.read_text()
    test_every_text_line_lies_inside_its_cell({path.name: svg}, path.name)
    test_rendered_png_has_no_text_outside_its_cell({path.name: svg}, path.name, tmp_path)
