"""GTKWave save files generated from the signal names the simulator reports.

`discover(dut)` runs inside the simulation and walks the design hierarchy
through VPI (the waves build keeps every signal public), returning
`(path, width)` for every signal. `write_gtkw` groups them by role (device
commands and responses, ATC lookups and fills, walker, invalidations and
completions, AXI) and writes a .gtkw that opens on the whole run, with
markers on the violating device reads. Per-slot vectors are split into one
aliased trace per slot (`ptw.walk1.st_q`), and fields with named values show
the names through translate filter files written beside the .gtkw
(tb/rtlinfo.py reads both from rtl/*.sv).

Times: GTKWave's zoom z shows 2**-z dump time units per 200 pixels
(currenttime.c, calczoom). The caller gives simulator steps; the dump's own
clock period fixes how many dump units one step is (`dump_scale`).

The simulated top is the co-simulation wrapper (tb.rtldev: clock and AXI
response slots) with the RTL as `u_dut`, so names follow Verilator's trace
hierarchy: `cosim_top.u_dut.<port>` and `cosim_top.u_dut.<instance>.<sig>`;
vectors carry their range (`cmd_va_i[63:0]`), as in the dump itself.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from tb import rtlinfo

TOP = "cosim_top"  # Verilator 5 trace scopes: $rootio, then the top module (no TOP prefix)
DUT = "u_dut"

# (group title, [(scope regex, name regex)], collapsed?)
GROUPS: list[tuple[str, list[tuple[str, str]]]] = [
    ("Clock and reset", [("u_dut", r"^(clk_i|rst_ni|pasid_tbl_base_i)$"), ("", r"^cyc_q$")]),
    ("Device commands", [("u_dut", r"^cmd_")]),
    ("Device responses", [("u_dut", r"^rsp_")]),
    ("ATC lookups and fills", [("u_dut.u_dma", r"^(lkp_|xres_)"), ("u_dut.u_atc", r"^(lkp_|xreq_|xcpl_|xres_)"),
                               ("u_dut.u_atc", r"(fill|hit|poison|pois|valid|lru|plru|tst_)")]),
    ("Walker", [("u_dut.u_ptw", r"^(xreq_|xcpl_|ar_|r_valid|r_err|pwc_flush)"),
                ("u_dut.u_ptw", r"(state|st_q|lvl|level|pwc|slot|busy|walk)")]),
    ("Invalidations and completions", [("u_dut", r"^(inv_|invc_)"),
                                       ("u_dut.u_inv", r"^(apply_|holds_xlat|mem_done|cnt_q|mask_q)"),
                                       ("u_dut.u_dma", r"^(holds_xlat|mem_done)")]),
    ("DMA threads", [("u_dut.u_dma", r"^(st_q|rd_req_o|wr_req_o|mem_gnt_i|r_valid_i|b_valid_i)$")]),
    ("Page requests", [("u_dut", r"^(pri_en_i|pr_|prgr_)")]),
    ("AXI", [("u_dut", r"^m_axi_(ar|r|aw|w|b)")]),
]

_AXI_ORDER = ["arvalid", "arready", "arid", "araddr", "rvalid", "rready", "rid", "rdata", "rresp", "awvalid",
              "awready", "awid", "awaddr", "wvalid", "wready", "wdata", "bvalid", "bready", "bid", "bresp"]


def discover(dut: Any) -> list[tuple[str, int]]:
    """(dotted path under the top, width) of every logic signal the simulator shows."""
    from cocotb.handle import HierarchyObject, IntegerObject, LogicObject, _LogicArrayObjectBase

    out: list[tuple[str, int]] = []

    def walk(h: Any, prefix: str, depth: int) -> None:
        try:
            children = list(h)
        except TypeError:
            return
        for c in children:
            name = c._name.split(".")[-1]
            if isinstance(c, (LogicObject, _LogicArrayObjectBase, IntegerObject)):
                try:
                    if c._handle.get_const():  # parameters are not in the waveform
                        continue
                except AttributeError:
                    pass
                out.append((prefix + name, len(c)))
            elif isinstance(c, HierarchyObject) and depth < 3 and name.startswith("u_"):
                walk(c, prefix + name + ".", depth + 1)

    walk(dut, "", 0)
    return sorted(out)


def _pick(signals: list[tuple[str, int]], scope: str, pat: str) -> list[tuple[str, int]]:
    rx = re.compile(pat)
    got = []
    for path, w in signals:
        sc, _, name = path.rpartition(".")
        if sc == scope and rx.search(name):
            got.append((path, w))
    return got


def groups_for(signals: list[tuple[str, int]]) -> list[tuple[str, list[tuple[str, int]]]]:
    used: set[str] = set()
    out = []
    for title, pats in GROUPS:
        sel: list[tuple[str, int]] = []
        for scope, pat in pats:
            for s in _pick(signals, scope, pat):
                if s[0] not in used:
                    used.add(s[0])
                    sel.append(s)
        if title == "AXI":
            key = {n: i for i, n in enumerate(_AXI_ORDER)}
            sel.sort(key=lambda s: key.get(s[0].rsplit("m_axi_", 1)[-1], 99))
        if sel:
            out.append((title, sel))
    return out


def trace_name(path: str, width: int) -> str:
    full = f"{TOP}.{path}"
    return f"{full}[{width - 1}:0]" if width > 1 else full


# GTKWave trace flags (analyzer.h TraceEntFlagBits) and view geometry
TR_HEX, TR_DEC, TR_BIN, TR_RJUSTIFY, TR_FTRANSLATED = 0x2, 0x4, 0x8, 0x20, 0x2000
TR_BLANK, TR_GRP_BEGIN, TR_GRP_END = 0x200, 0x800000, 0x1000000
WINDOW = (1600, 900)
SST_W, SIGNALS_W = 260, 300
WAVE_PX = WINDOW[0] - SST_W - SIGNALS_W - 100  # wave pane width, less borders and scrollbar (generous)
PIXELS_PER_FRAME = 200  # GTKWave's zoom unit: 2**-zoom dump time units per 200 pixels (currenttime.c calczoom)


def zoom_for(window: float, pixels: int = WAVE_PX) -> float:
    """GTKWave zoom that shows `window` dump time units across `pixels` pixels."""
    return -math.log2(max(1.0, window) * PIXELS_PER_FRAME / pixels)


def visible_window(zoom: float, pixels: int = WAVE_PX) -> float:
    """Dump time units shown across `pixels` pixels at GTKWave zoom `zoom`."""
    return 2.0 ** -zoom * pixels / PIXELS_PER_FRAME


@dataclass
class Trace:
    """One line of the save file: a whole signal, or the bits of one slot under an alias."""

    flags: int
    text: str                  # what follows the flags line
    filter_file: Path | None = None


def _slot_traces(path: str, width: int, info: rtlinfo.RtlInfo | None, slots: dict[str, int],
                 filters: dict[str, Path]) -> tuple[list[Trace], list[tuple[int, Trace]]]:
    """Whole-signal traces, and (slot, trace) for a per-slot vector split into slots."""
    scope, _, name = path.rpartition(".")
    module = _module(info, scope) if info else None
    decl = info.slots.get(module or "", {}).get(name) if info else None
    n = slots.get(f"{scope}:{decl.count}") if decl else None
    if decl is not None and n and n > 1 and width % n == 0:
        w = width // n
        sset = info.state_set(module, name, w) if info else None
        flt = filters.get(sset.name) if sset else None
        inst = scope.rpartition(".")[2].removeprefix("u_") or TOP
        label = rtlinfo.slot_label(decl.count)
        full = trace_name(path, width)
        out = []
        for k in range(n):
            alias = f"{inst}.{label}{k}.{name}"
            if decl.array:  # one dumped variable per element, named `<name>.[k]`
                elem = trace_name(f"{path}.[{k}]", w)
                flags = TR_DEC if flt is not None else TR_BIN if w == 1 else TR_HEX
                flags |= TR_RJUSTIFY | (TR_FTRANSLATED if flt is not None else 0)
                out.append((k, Trace(flags, f"+{{{alias}}} {elem}", flt)))
                continue
            # bit k*w+j of name[width-1:0] is GTKWave's expansion index width-1-(k*w+j); MSB first
            bits = " ".join(f"({width - 1 - (k * w + j)}){full}" for j in reversed(range(w)))
            if w == 1:
                out.append((k, Trace(TR_BIN | TR_RJUSTIFY, f"+{{{alias}}} {bits}")))
            elif flt is not None:
                out.append((k, Trace(TR_DEC | TR_RJUSTIFY | TR_FTRANSLATED, f"#{{{alias}}} {bits}", flt)))
            else:
                out.append((k, Trace(TR_HEX | TR_RJUSTIFY, f"#{{{alias}}} {bits}")))
        return [], out
    sset = info.state_set(module, name, width) if info and width > 1 else None
    if sset is not None and sset.name in filters:
        return [Trace(TR_DEC | TR_RJUSTIFY | TR_FTRANSLATED, trace_name(path, width), filters[sset.name])], []
    return [Trace(TR_BIN | TR_RJUSTIFY if width == 1 else TR_HEX | TR_RJUSTIFY, trace_name(path, width))], []


def _module(info: rtlinfo.RtlInfo, scope: str) -> str | None:
    if scope == DUT or scope.startswith(DUT + "."):
        return info.module_of(scope[len(DUT) + 1:], "ats_dev_top")
    return None


def slot_counts(signals: list[tuple[str, int]], info: rtlinfo.RtlInfo) -> dict[str, int]:
    """`<scope>:<count parameter>` -> number of slots, from the widths the simulator reports."""
    out: dict[str, int] = {}
    for path, w in signals:
        scope, _, name = path.rpartition(".")
        decl = info.slots.get(_module(info, scope) or "", {}).get(name)
        if decl is None:
            continue
        # a numeric field width gives the count; symbolic ones (PaWidth) then divide by it
        if decl.width.isdigit() and w % int(decl.width) == 0:
            out.setdefault(f"{scope}:{decl.count}", w // int(decl.width))
    return out


def write_filters(info: rtlinfo.RtlInfo, out_dir: Path, stem: str = "waves") -> dict[str, Path]:
    """One GTKWave translate filter file per named value set: `<value> <name>` lines, decimal."""
    files = {}
    for s in info.states:
        f = out_dir / f"{stem}.filter.{s.name.replace('.', '_')}.txt"
        scope = f"module {s.module}" if s.module else "package enum"
        lines = [f"# {s.name} ({scope}, {s.width} bits), from rtl/*.sv; used for: {', '.join(sorted(s.signals))}"]
        lines += [f"{v} {n}" for v, n in s.values]
        f.write_text("\n".join(lines) + "\n")
        files[s.name] = f
    return files


def write_gtkw(signals: list[tuple[str, int]], wave_file: Path, out: Path, *, start: int = 0,
               end: int | None = None, markers: Iterable[int] = (), primary: int | None = None,
               period: int = 10000, comment: str = "", rtl: Path | None = rtlinfo.RTL) -> Path:
    """Write `out` (.gtkw) for `wave_file`; times are in the dump's time units.

    The view opens on [start, end] (the whole run) with a small margin, so
    every marker in it is on screen. Per-slot vectors become one trace per
    slot under an alias (`ptw.walk1.st_q`), and fields with named values
    (RTL enums and state localparams) show the names through translate
    filter files written next to `out`.
    """
    markers = sorted({m for m in markers if m is not None})[:26]
    end = end if end is not None else (max(markers) + 20 * period if markers else start + 200 * period)
    scale, timescale = dump_scale(Path(wave_file), period)
    if scale != 1:
        start, end, period = round(start * scale), round(end * scale), round(period * scale)
        markers = [round(m * scale) for m in markers]
        primary = round(primary * scale) if primary is not None else None
    span = max(end - start, period)
    margin = span // 40
    left = max(0, start - margin)
    zoom = zoom_for(end + margin - left)
    named = [str(m) for m in markers] + ["-1"] * (26 - len(markers))
    info = rtlinfo.parse(rtl) if rtl is not None and Path(rtl).is_dir() else None
    filters = write_filters(info, Path(out).parent, Path(out).stem) if info else {}
    slots = slot_counts(signals, info) if info else {}
    if primary is None and markers:
        primary = markers[0]
    lines = ["[*]", f"[*] {comment}" if comment else "[*] ats_dev_top co-simulation",
             f"[*] dump time unit {timescale}; view {left}..{end + margin}, zoom for {WAVE_PX} px", "[*]",
             f'[dumpfile] "{Path(wave_file).resolve()}"', f'[savefile] "{Path(out).resolve()}"',
             f"[timestart] {left}", f"[size] {WINDOW[0]} {WINDOW[1]}", "[pos] -1 -1",
             f"*{zoom:.6f} {primary if primary is not None else -1} " + " ".join(named),
             f"[sst_width] {SST_W}", f"[signals_width] {SIGNALS_W}", "[sst_expanded] 1", "[sst_vpaned_height] 300"]
    filter_ids = {f: i + 1 for i, f in enumerate(sorted(set(filters.values())))}
    for title, sel in groups_for(signals):
        whole: list[Trace] = []
        per_slot: list[tuple[int, Trace]] = []
        for path, w in sel:
            a, b = _slot_traces(path, w, info, slots, filters)
            whole += a
            per_slot += b
        lines += [f"@{TR_GRP_BEGIN | TR_BLANK:x}", f"-{title}"]
        # per slot: the named state first, next-state (_d) values last
        rank = [(k, 0 if t.filter_file else 2 if re.search(r"_d\b", t.text.split("}")[0]) else 1, i)
                for i, (k, t) in enumerate(per_slot)]
        ordered = [per_slot[i][1] for _, _, i in sorted(rank)]
        for t in whole + ordered:
            lines.append(f"@{t.flags:x}")
            if t.filter_file is not None:
                lines.append(f"^{filter_ids[t.filter_file]} {t.filter_file.resolve()}")
            lines.append(t.text)
        lines += [f"@{TR_GRP_END | TR_BLANK:x}", f"-{title}"]
    out.write_text("\n".join(lines) + "\n")
    return out


def dump_scale(wave_file: Path, period: int) -> tuple[float, str]:
    """(dump time units per simulator step, the dump's timescale), measured on the dump's clock.

    Verilator writes the trace in the model's time precision, which is the
    simulator step the run's times are counted in; measuring the clock
    period in the dump checks that instead of assuming it. (1.0, "?") when
    the dump cannot be read.
    """
    if not wave_file.is_file() or wave_file.stat().st_size == 0:
        return 1.0, "?"
    try:
        import pywellen

        w = pywellen.Waveform(str(wave_file))
        clk = next(v for v in w.all_vars() if v.full_name in (f"{TOP}.clk_i", f"{TOP}.{DUT}.clk_i"))
        rises = [t for t, v in clk.tv if v == 1][1:4]
        ts = w.timescale
        unit = f"{ts.factor}{str(ts.unit).rsplit('.', 1)[-1]}" if ts is not None else "?"
    except BaseException as e:  # noqa: BLE001 - an unreadable dump (pywellen panics): keep simulator steps
        if isinstance(e, (KeyboardInterrupt, SystemExit)):
            raise
        return 1.0, "?"
    if len(rises) < 2 or rises[1] - rises[0] <= 0:
        return 1.0, unit
    return (rises[1] - rises[0]) / period, unit


def run_markers(failures: Iterable[Any], epoch: int, period: int) -> list[int]:
    """Dump times of the device accesses a failed verdict names, mid-cycle of the cycle each reached memory."""
    marks = set()
    for v in failures:
        for e in getattr(v, "events", ()):
            if type(e).__name__ != "DevAccess":
                continue
            t = e.mem_time if e.mem_time is not None else e.complete
            marks.add((epoch + t) * period + period // 2)
    return sorted(marks)
