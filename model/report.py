"""Reports: the rendered timeline in the layout of mmu_notifier.rst's table.

The doc explains the race as a table of time rows and CPU/DEV thread columns;
rendering every run the same way (with real cycle numbers instead of N+k)
lets a reader put a simulated run next to the doc and compare line by line.
Violating device reads are highlighted so the failure can be read without a
waveform.

The SVG fixes its font (a monospace face, `FONT`) and lays text out by the
font's advance width (`CHAR_W`): every line is wrapped to fit its cell and
carries `textLength`, so a renderer that substitutes another monospace face
still draws it at the width the layout reserved. No text crosses a cell
border (tests/test_report_svg.py renders the SVG and checks the pixels).
"""
from __future__ import annotations

import html
import textwrap
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Iterable

from model.trace import CpuLoad, CpuStore, DevAccess, InvCpl, InvReq, OpStep, PteChange, Trace

FONT = "DejaVu Sans Mono, Menlo, Consolas, monospace"
FONT_SIZE = 11
TITLE_SIZE = 14
ADVANCE = 1233 / 2048  # advance width of DejaVu Sans Mono / Menlo glyphs, in em
LINE_H = 15            # baseline to baseline, px
PAD = 4                # text inset from a cell border, px
COL_W = 250            # width of a thread column, px


@dataclass
class Cell:
    lines: list[str] = field(default_factory=list)
    bad: bool = False


def text_width(text: str, size: float = FONT_SIZE) -> float:
    """Rendered width of `text` in the SVG's monospace font (what textLength pins it to)."""
    return len(text) * ADVANCE * size


def fit_chars(width: float, size: float = FONT_SIZE) -> int:
    """How many characters fit on one line `width` px wide."""
    return max(1, int(width / (ADVANCE * size)))


def wrap(text: str, chars: int) -> list[str]:
    """Lines of at most `chars` characters; long tokens (hex values) are broken too."""
    out: list[str] = []
    for para in text.splitlines() or [""]:
        out += textwrap.wrap(para, chars, subsequent_indent="  " if chars > 8 else "",
                             break_long_words=True, break_on_hyphens=False) or [""]
    return out


def _name(va: int, names: dict[int, str]) -> str:
    page = va & ~0xFFF
    if va in names:
        return names[va]
    if page in names:
        off = va - page
        return names[page] + (f"+{off:#x}" if off else "")
    return f"{va:#x}"


def _dev_col(thread: int) -> str:
    return f"DEV-thread-{thread}"


class FrameHistory:
    """Which frame a virtual page mapped, and when: "old page" / "new page" labels.

    A device access is labelled by the frame identity at the instant it
    reached memory: "new page" when it used the frame the page's PTE points
    at after the latest repoint before that instant, "old page" when it used
    a frame the page was repointed away from. A PTE change that keeps the
    frame (write-protect, permission change) is no repoint and names nothing,
    so a stale read of a page KSM write-protected and then replaced still
    reads "from old page".
    """

    def __init__(self, trace: Iterable) -> None:
        self._changes: dict[int, list[PteChange]] = defaultdict(list)
        for ev in trace:
            if isinstance(ev, PteChange) and ev.old_pa != ev.new_pa:
                self._changes[ev.pasid].append(ev)
        for lst in self._changes.values():
            lst.sort(key=lambda c: c.time)

    def label(self, pasid: int, va: int, pa: int, time: int) -> str:
        frame = pa & ~0xFFF
        before = [c for c in self._changes.get(pasid, ()) if c.va <= va < c.va + c.size and c.time <= time]
        if not before:
            return ""
        off = (va - before[-1].va) & ~0xFFF
        latest = before[-1]
        if latest.new_pa is not None and frame == (latest.new_pa & ~0xFFF) + off:
            return "new page"
        for c in before:
            if c.old_pa is not None and frame == (c.old_pa & ~0xFFF) + ((va - c.va) & ~0xFFF):
                return "old page"
        return ""


def timeline_rows(trace: Trace, names: dict[int, str] | None = None,
                  bad_events: Iterable = ()) -> tuple[list[str], list[tuple[int, dict[str, Cell]]]]:
    """Group trace events into (time, {column: cell}) rows, CPU columns first."""
    names = names or {}
    bad_events = list(bad_events)
    bad = {id(e) for e in bad_events}
    bad_keys = {repr(e) for e in bad_events}
    rows: dict[int, dict[str, Cell]] = defaultdict(lambda: defaultdict(Cell))
    cpu_cols: list[str] = []
    dev_cols: set[int] = set()
    frames = FrameHistory(trace)
    # several processes (PASIDs): say which one each invalidation is for
    multi = len({ev.pasid for ev in trace if isinstance(ev, (DevAccess, InvReq))}) > 1

    def cpu(thread: str) -> str:
        if thread not in cpu_cols:
            cpu_cols.append(thread)
        return thread

    for ev in trace:
        if isinstance(ev, OpStep):
            c = rows[ev.time][cpu(ev.thread)]
            c.lines.append(f"{ev.op}: {ev.step}" + (f" ({ev.detail})" if ev.detail else ""))
        elif isinstance(ev, CpuStore):
            rows[ev.time][cpu(ev.thread)].lines.append(f"write {_name(ev.va, names)} = {ev.value:#x}")
        elif isinstance(ev, CpuLoad):
            rows[ev.time][cpu(ev.thread)].lines.append(f"read {_name(ev.va, names)} -> {ev.value:#x}")
        elif isinstance(ev, DevAccess):
            dev_cols.add(ev.thread)
            t = ev.mem_time if ev.mem_time is not None else ev.complete
            what = "write" if ev.write else "read"
            arrow = "=" if ev.write else "->"
            text = f"{what} {_name(ev.va, names)} {arrow} {ev.value:#x}"
            if ev.fault:
                text = f"{what} {_name(ev.va, names)} FAULT({ev.fault})"
            else:
                where = frames.label(ev.pasid, ev.va, ev.pa, t)
                if where:
                    text += f" from {where}" if not ev.write else f" to {where}"
            text += f" [{ev.issue}..{ev.complete}]" + (" hit" if ev.atc_hit else " walk")
            cell = rows[t][_dev_col(ev.thread)]
            cell.lines.append(text)
            if id(ev) in bad or repr(ev) in bad_keys:
                cell.bad = True
        elif isinstance(ev, InvReq):
            who = (" all pasids" if ev.pasid is None else f" pasid {ev.pasid}") if multi else ""
            rows[ev.time]["IOMMU"].lines.append(
                f"inval{who} itag {ev.itag} [{ev.start:#x}, +{ev.size:#x})")
        elif isinstance(ev, InvCpl):
            rows[ev.time]["IOMMU"].lines.append(f"inval completion itag {ev.itag}")
    cols = cpu_cols + [_dev_col(t) for t in sorted(dev_cols)]
    if any("IOMMU" in r for r in rows.values()):
        cols.append("IOMMU")
    return cols, sorted(rows.items())


def _text(x: float, y: float, s: str, *, size: int = FONT_SIZE, fill: str = "black", bold: bool = False,
          title: str | None = None) -> str:
    weight = ' font-weight="bold"' if bold else ""
    size_attr = f' font-size="{size}"' if size != FONT_SIZE else ""
    tip = f"<title>{html.escape(title)}</title>" if title else ""
    return (f'<text x="{x:g}" y="{y:g}"{size_attr}{weight} fill="{fill}" textLength="{text_width(s, size):.2f}" '
            f'lengthAdjust="spacingAndGlyphs" xml:space="preserve">{tip}{html.escape(s)}</text>')


def render_svg(trace: Trace, title: str, names: dict[int, str] | None = None,
               bad_events: Iterable = (), note: str = "") -> str:
    """An SVG table: time rows, one column per thread, violating reads in red.

    Every cell is a `<g class="cell">` holding its border rectangle and its
    text lines; a line is wrapped to the cell's inner width.
    """
    bad_events = list(bad_events)
    cols, rows = timeline_rows(trace, names, bad_events)
    inner = COL_W - 2 * PAD
    chars = fit_chars(inner)
    labels = [f"[{t}]" for t, _ in rows] + ["cycle"]
    time_w = max(text_width(s) for s in labels) + 2 * PAD
    time_w = max(60.0, float(int(time_w + 0.999)))
    width = int(time_w + COL_W * max(1, len(cols)))
    title_lines = wrap(title, fit_chars(width - 2 * PAD, TITLE_SIZE))
    note_lines = wrap(note, fit_chars(width - 2 * PAD)) if note else []
    head_lines = {c: wrap(c, chars) for c in cols}
    head_h = max([1] + [len(v) for v in head_lines.values()]) * LINE_H + 2 * PAD
    cells = {t: {c: Cell([w for line in cell.lines for w in wrap(line, chars)], cell.bad) for c, cell in r.items()}
             for t, r in rows}
    heights = [max(1, max((len(c.lines) for c in cells[t].values()), default=1)) * LINE_H + 2 * PAD
               for t, _ in rows]
    y = PAD
    out_top: list[str] = []
    for s in title_lines:
        y += TITLE_SIZE + 2
        out_top.append(_text(PAD, y, s, size=TITLE_SIZE, bold=True))
    for s in note_lines:
        y += LINE_H
        out_top.append(_text(PAD, y, s, fill="#444"))
    top = int(y + 2 * PAD)
    table_top = top + head_h
    height = table_top + sum(heights) + 2 * PAD
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="{FONT}" font-size="{FONT_SIZE}">',
           f'<rect width="{width}" height="{height}" fill="white"/>', *out_top]

    def cell_svg(x: float, y0: float, w: float, h: float, lines: list[str], *, fill: str = "none",
                 stroke: str = "none", color: str = "black", bold: bool = False, tip: str | None = None) -> None:
        out.append('<g class="cell">')
        out.append(f'<rect class="cell-box" x="{x:g}" y="{y0:g}" width="{w:g}" height="{h:g}" fill="{fill}" '
                   f'stroke="{stroke}"/>')
        for j, s in enumerate(lines):
            out.append(_text(x + PAD, y0 + PAD + FONT_SIZE + j * LINE_H, s, fill=color, bold=bold, title=tip))
        out.append("</g>")

    # header row
    cell_svg(0, top, time_w, head_h, ["cycle"], bold=True)
    for i, c in enumerate(cols):
        cell_svg(time_w + i * COL_W, top, COL_W, head_h, head_lines[c], bold=True)
    y = table_top
    for (t, _), h in zip(rows, heights):
        out.append(f'<line x1="0" y1="{y}" x2="{width}" y2="{y}" stroke="#bbb"/>')
        cell_svg(0, y, time_w, h, [f"[{t}]"])
        for i, c in enumerate(cols):
            cell = cells[t].get(c)
            if not cell or not cell.lines:
                continue
            x = time_w + i * COL_W
            if cell.bad:
                cell_svg(x, y, COL_W, h, cell.lines, fill="#ffd0d0", stroke="#d00", color="#b00000")
            else:
                cell_svg(x, y, COL_W, h, cell.lines)
        y += h
    out.append(f'<line x1="0" y1="{y}" x2="{width}" y2="{y}" stroke="#bbb"/>')
    for i in range(len(cols) + 1):
        x = time_w + i * COL_W
        out.append(f'<line x1="{x:g}" y1="{top}" x2="{x:g}" y2="{y}" stroke="#ddd"/>')
    out.append("</svg>")
    return "\n".join(out)
