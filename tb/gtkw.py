"""GTKWave save files generated from the signal names the simulator reports.

`discover(dut)` runs inside the simulation and walks the design hierarchy
through VPI (the waves build keeps every signal public), returning
`(path, width)` for every signal. `write_gtkw` groups them by role (device
commands and responses, ATC lookups and fills, walker, invalidations and
completions, AXI) and writes a .gtkw that opens the waveform with those
groups, the run's start as the left edge and markers on the events a report
points at. The simulated top is the co-simulation wrapper (tb.rtldev:
clock and AXI response slots) with the RTL as `u_dut`, so names follow
Verilator's trace hierarchy: `TOP.cosim_top.u_dut.<port>` and
`TOP.cosim_top.u_dut.<instance>.<sig>`; vectors carry their range
(`cmd_va_i[63:0]`), as in the dump itself.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterable

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


def write_gtkw(signals: list[tuple[str, int]], wave_file: Path, out: Path, *, start: int = 0,
               markers: Iterable[int] = (), primary: int | None = None, period: int = 10000,
               comment: str = "") -> Path:
    """Write `out` (.gtkw) for `wave_file`; times are simulator steps (the dump's units)."""
    markers = [m for m in markers if m is not None][:26]
    named = [str(m) for m in markers] + ["-1"] * (26 - len(markers))
    lines = ["[*]", f"[*] {comment}" if comment else "[*] ats_dev_top co-simulation", "[*]",
             f'[dumpfile] "{Path(wave_file).resolve()}"', f'[savefile] "{Path(out).resolve()}"',
             f"[timestart] {max(0, start)}", "[size] 1600 900", "[pos] -1 -1",
             f"*-{_zoom(period):.6f} {primary if primary is not None else -1} " + " ".join(named),
             "[sst_width] 260", "[signals_width] 300", "[sst_expanded] 1", "[sst_vpaned_height] 300"]
    for title, sel in groups_for(signals):
        lines += ["@800200", f"-{title}"]
        for path, w in sel:
            lines.append("@28" if w == 1 else "@22")
            lines.append(trace_name(path, w))
        lines += ["@1000200", f"-{title}"]
    out.write_text("\n".join(lines) + "\n")
    return out


def _zoom(period: int) -> float:
    # GTKWave's zoom is -log2(time units per pixel); show about 200 cycles.
    import math

    return max(1.0, math.log2(max(1, period * 200 / 1400)))


def check_against_vcd(gtkw: Path, vcd: Path) -> list[str]:
    """Names in a .gtkw that the VCD header does not declare (empty: all found)."""
    declared: set[str] = set()
    scope: list[str] = []
    with open(vcd) as f:
        for line in f:
            t = line.split()
            if not t:
                continue
            if t[0] == "$scope":
                scope.append(t[2])
            elif t[0] == "$upscope":
                scope.pop()
            elif t[0] == "$var":
                name = t[4]
                rng = t[5] if len(t) > 6 and t[5].startswith("[") else ""
                declared.add(".".join(scope + [name]) + rng)
            elif t[0] == "$enddefinitions":
                break
    missing = []
    for line in gtkw.read_text().splitlines():
        if line.startswith(TOP) and line not in declared:
            missing.append(line)
    return missing
