"""Reports: the rendered timeline in the layout of mmu_notifier.rst's table.

The doc explains the race as a table of time rows and CPU/DEV thread columns;
rendering every run the same way (with real cycle numbers instead of N+k)
lets a reader put a simulated run next to the doc and compare line by line.
Violating device reads are highlighted so the failure can be read without a
waveform.
"""
from __future__ import annotations

import html
import textwrap
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Iterable

from model.trace import CpuLoad, CpuStore, DevAccess, InvCpl, InvReq, OpStep, PteChange, Trace


@dataclass
class Cell:
    lines: list[str] = field(default_factory=list)
    bad: bool = False


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


def timeline_rows(trace: Trace, names: dict[int, str] | None = None,
                  bad_events: Iterable = ()) -> tuple[list[str], list[tuple[int, dict[str, Cell]]]]:
    """Group trace events into (time, {column: cell}) rows, CPU columns first."""
    names = names or {}
    bad = {id(e) for e in bad_events}
    bad_keys = {repr(e) for e in bad_events}
    rows: dict[int, dict[str, Cell]] = defaultdict(lambda: defaultdict(Cell))
    cpu_cols: list[str] = []
    dev_cols: set[int] = set()
    frame_of: dict[int, str] = {}  # pa page -> "old page"/"new page" naming, filled from PteChange

    for ev in trace:
        if isinstance(ev, PteChange):
            if ev.old_pa is not None:
                frame_of.setdefault(ev.old_pa & ~0xFFF, "old page")
            if ev.new_pa is not None:
                frame_of[ev.new_pa & ~0xFFF] = "new page"

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
            where = frame_of.get(ev.pa & ~0xFFF, "")
            what = "write" if ev.write else "read"
            arrow = "=" if ev.write else "->"
            text = f"{what} {_name(ev.va, names)} {arrow} {ev.value:#x}"
            if ev.fault:
                text = f"{what} {_name(ev.va, names)} FAULT({ev.fault})"
            elif where:
                text += f" from {where}" if not ev.write else f" to {where}"
            text += f" [{ev.issue}..{ev.complete}]" + (" hit" if ev.atc_hit else " walk")
            cell = rows[t][_dev_col(ev.thread)]
            cell.lines.append(text)
            if id(ev) in bad or repr(ev) in bad_keys:
                cell.bad = True
        elif isinstance(ev, InvReq):
            rows[ev.time]["IOMMU"].lines.append(
                f"inval itag {ev.itag} [{ev.start:#x}, +{ev.size:#x})")
        elif isinstance(ev, InvCpl):
            rows[ev.time]["IOMMU"].lines.append(f"inval completion itag {ev.itag}")
    cols = cpu_cols + [_dev_col(t) for t in sorted(dev_cols)]
    if any("IOMMU" in r for r in rows.values()):
        cols.append("IOMMU")
    return cols, sorted(rows.items())


def render_svg(trace: Trace, title: str, names: dict[int, str] | None = None,
               bad_events: Iterable = (), note: str = "") -> str:
    """An SVG table: time rows, one column per thread, violating reads in red."""
    bad_events = list(bad_events)
    cols, rows = timeline_rows(trace, names, bad_events)
    col_w, time_w, line_h, pad, chars = 250, 80, 15, 4, 38
    for _, r in rows:  # wrap long cell lines instead of cutting them
        for cell in r.values():
            cell.lines = [w for line in cell.lines
                          for w in (textwrap.wrap(line, chars, subsequent_indent="  ") or [""])]
    width = time_w + col_w * max(1, len(cols))
    heights = [max(1, max((len(c.lines) for c in r.values()), default=1)) * line_h + 2 * pad for _, r in rows]
    top = 58
    height = top + sum(heights) + 30
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="monospace" font-size="11">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="6" y="18" font-size="14" font-weight="bold">{html.escape(title)}</text>',
           f'<text x="6" y="34" fill="#444">{html.escape(note)}</text>']
    y = top - 16
    out.append(f'<text x="6" y="{y + 12}" font-weight="bold">cycle</text>')
    for i, c in enumerate(cols):
        out.append(f'<text x="{time_w + i * col_w + 4}" y="{y + 12}" font-weight="bold">{html.escape(c)}</text>')
    y = top
    for (t, r), h in zip(rows, heights):
        out.append(f'<line x1="0" y1="{y}" x2="{width}" y2="{y}" stroke="#bbb"/>')
        out.append(f'<text x="6" y="{y + pad + 11}">[{t}]</text>')
        for i, c in enumerate(cols):
            cell = r.get(c)
            if not cell or not cell.lines:
                continue
            x = time_w + i * col_w
            if cell.bad:
                out.append(f'<rect x="{x}" y="{y + 1}" width="{col_w - 2}" height="{h - 2}" '
                           f'fill="#ffd0d0" stroke="#d00"/>')
            for j, line in enumerate(cell.lines):
                s = line
                color = "#b00000" if cell.bad else "black"
                out.append(f'<text x="{x + 4}" y="{y + pad + 11 + j * line_h}" fill="{color}">'
                           f'<title>{html.escape(line)}</title>{html.escape(s)}</text>')
        y += h
    out.append(f'<line x1="0" y1="{y}" x2="{width}" y2="{y}" stroke="#bbb"/>')
    for i in range(len(cols) + 1):
        x = time_w + i * col_w
        out.append(f'<line x1="{x}" y1="{top - 18}" x2="{x}" y2="{y}" stroke="#ddd"/>')
    out.append("</svg>")
    return "\n".join(out)
