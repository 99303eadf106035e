"""The GTKWave save file `make sim` writes, read against the real waveform.

One short co-simulation with waves (the doc's COW scenario under `deferred`,
which has a violating read). The checks read the dump itself (pywellen), not
the code that wrote the save file:

* the view: GTKWave shows 2**-zoom dump time units per 200 pixels
  (currenttime.c, calczoom); with the wave pane the save file's window and
  pane widths leave, the run (reset release to the dump's last time) must fit
  on screen and fill at least half of it;
* the markers: each violating device read's response on the device port
  (its thread's n-th rsp handshake, checked for the read's address and data)
  and the AXI read of its physical address before it (AR handshake) are
  found in the dump; a marker must lie between the cycle the read address
  is on the bus and the response;
* every signal the save file names, and every bit index it takes, exists in
  the dump;
* translate filter files list the state names of the RTL source and per-slot
  vectors are split into one aliased trace per slot.
"""
from __future__ import annotations

import bisect
import json
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCN = ROOT / "scenarios" / "cow_timeline.scn"
BORDERS_PX = 80  # pane borders and the scrollbar: the least width GTKWave keeps for the waves


@dataclass
class Gtkw:
    timestart: int
    zoom: float
    primary: int
    markers: list[int]
    size: tuple[int, int]
    sst_width: int
    signals_width: int
    traces: list[dict] = field(default_factory=list)  # {"flags", "filter", "alias", "names": [(bit|None, name)]}

    def visible(self, pixels: float) -> float:
        return 2.0 ** -self.zoom * pixels / 200


def parse_gtkw(text: str) -> Gtkw:
    head: dict = {}
    traces = []
    flags, filt = 0, None
    for ln in text.splitlines():
        if ln.startswith("[timestart]"):
            head["timestart"] = int(ln.split()[1])
        elif ln.startswith("[size]"):
            head["size"] = tuple(int(x) for x in ln.split()[1:3])
        elif ln.startswith("[sst_width]"):
            head["sst_width"] = int(ln.split()[1])
        elif ln.startswith("[signals_width]"):
            head["signals_width"] = int(ln.split()[1])
        elif ln.startswith("*"):
            parts = ln[1:].split()
            head["zoom"], head["primary"] = float(parts[0]), int(parts[1])
            head["markers"] = [int(x) for x in parts[2:] if int(x) >= 0]
        elif ln.startswith("@"):
            flags, filt = int(ln[1:], 16), None
        elif ln.startswith("^"):
            filt = ln.split(None, 1)[1]
        elif ln.startswith(("[", "-")) or not ln.strip():
            continue
        else:
            alias = None
            m = re.match(r"([+#:])\{([^}]*)\}\s*(.*)", ln)
            body = ln
            if m:
                alias, body = m.group(2), m.group(3)
            names = []
            for tok in body.split():
                b = re.match(r"\((\d+)\)(.*)", tok)
                names.append((int(b.group(1)), b.group(2)) if b else (None, tok))
            traces.append({"flags": flags, "filter": filt, "alias": alias, "names": names})
    return Gtkw(traces=traces, **head)


class Dump:
    """Names, widths and value changes of a VCD/FST, through pywellen."""

    def __init__(self, path: Path) -> None:
        import pywellen

        self.w = pywellen.Waveform(str(path))
        self.vars = {v.full_name: v for v in self.w.all_vars()}
        self._tv: dict[str, tuple[list[int], list]] = {}

    def declared(self) -> dict[str, int]:
        """Name as GTKWave spells it (vectors with their range) -> width."""
        return {(n + f"[{v.bitwidth - 1}:0]" if v.bitwidth > 1 else n): v.bitwidth for n, v in self.vars.items()}

    def changes(self, name: str) -> tuple[list[int], list]:
        if name not in self._tv:
            tv = list(self.vars[name].tv)
            self._tv[name] = ([t for t, _ in tv], [v for _, v in tv])
        return self._tv[name]

    def at(self, name: str, t: int):
        """Value just before time t (what a flop samples at an edge at t)."""
        ts, vs = self.changes(name)
        i = bisect.bisect_left(ts, t) - 1
        return vs[i] if i >= 0 else None

    def rising(self, name: str) -> list[int]:
        ts, vs = self.changes(name)
        return [t for t, v, p in zip(ts[1:], vs[1:], vs) if v == 1 and p == 0]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("sim")
    r = subprocess.run([sys.executable, "-m", "tb.sim", "--scenario", str(SCN), "--policy", "deferred", "--seed", "1",
                        "--waves", "1", "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    d = out / "deferred"
    (wave,) = [p for p in d.iterdir() if p.suffix in (".fst", ".vcd")]
    summary = json.loads((out / "summary.json").read_text())
    trace = json.loads((d / "trace.json").read_text())
    return {"dir": d, "wave": wave, "gtkw": d / "waves.gtkw", "summary": summary, "trace": trace}


@pytest.fixture(scope="module")
def dump(run):
    return Dump(run["wave"])


def check_view(g: Gtkw, dump: Dump) -> None:
    """The whole run is on screen and fills at least half of it."""
    top = "cosim_top"
    run_start = max(dump.rising(f"{top}.rst_ni"))        # last reset release
    run_end = max(dump.changes(f"{top}.clk_i")[0])       # the dump's last time
    pane = g.size[0] - g.sst_width - g.signals_width
    assert g.timestart <= run_start, f"view starts at {g.timestart}, after the run's start {run_start}"
    shown = g.visible(pane - BORDERS_PX)
    assert g.timestart + shown >= run_end, \
        f"view [{g.timestart}, {g.timestart + shown:.0f}] ends before the run's end {run_end} (zoom {g.zoom})"
    assert g.visible(pane) <= 2 * (run_end - g.timestart), \
        f"view of {g.visible(pane):.0f} units for a run of {run_end - run_start}: zoomed too far out"


def violating_reads(summary: dict, trace: list[dict]) -> list[dict]:
    """The failed verdicts' device reads, each with `nth`: its place among its thread's responses."""
    (r,) = summary["runs"]
    bad = [e for v in r["verdicts"] if not v["ok"] for e in v["events"] if e["type"] == "DevAccess"]
    out = []
    for e in bad:
        mine = sorted((a for a in trace if a["type"] == "DevAccess" and a["thread"] == e["thread"]),
                      key=lambda a: a["complete"])
        out.append({**e, "nth": mine.index(e)})
    return out


def check_markers(g: Gtkw, dump: Dump, reads: list[dict]) -> None:
    """Each violating read has a marker between its AXI read and its device response, all on screen."""
    u = "cosim_top.u_dut"
    edges = dump.rising("cosim_top.clk_i")
    assert reads
    pane = g.size[0] - g.sst_width - g.signals_width
    for m in g.markers + ([g.primary] if g.primary >= 0 else []):
        assert g.timestart <= m <= g.timestart + g.visible(pane - BORDERS_PX), f"marker {m} off screen"
    for e in reads:
        rsp = [t for t in edges if dump.at(f"{u}.rsp_valid_o", t) == 1 and dump.at(f"{u}.rsp_ready_i", t) == 1
               and dump.at(f"{u}.rsp_thread_o", t) == e["thread"]]
        assert len(rsp) > e["nth"], f"thread {e['thread']}: {len(rsp)} responses in the dump, need #{e['nth']}"
        t_rsp = rsp[e["nth"]]
        assert dump.at(f"{u}.rsp_pa_o", t_rsp) == e["pa"] and dump.at(f"{u}.rsp_rdata_o", t_rsp) == e["value"]
        ar = [t for t in edges if t <= t_rsp and dump.at(f"{u}.m_axi_arvalid", t) == 1
              and dump.at(f"{u}.m_axi_arready", t) == 1 and dump.at(f"{u}.m_axi_araddr", t) == e["pa"]]
        assert ar, f"no AXI read of pa {e['pa']:#x} before its response"
        lo, hi = ar[-1] - (edges[1] - edges[0]), t_rsp  # from the cycle the read address is on the bus
        assert any(lo <= m <= hi for m in g.markers), \
            f"no marker in [{lo}, {hi}] (AXI read to response of pa {e['pa']:#x}); markers {g.markers}"


def check_names(g: Gtkw, dump: Dump) -> list[str]:
    """Names (and bit indices) the save file uses that the dump does not have."""
    declared = dump.declared()
    bad = []
    for t in g.traces:
        for bit, name in t["names"]:
            if name not in declared:
                bad.append(name)
            elif bit is not None and not 0 <= bit < declared[name]:
                bad.append(f"({bit}){name}")
    return bad


def test_gtkw_opens_on_the_whole_run(run, dump):
    g = parse_gtkw(run["gtkw"].read_text())
    assert dump.w.timescale is not None
    check_view(g, dump)


def test_gtkw_markers_sit_on_the_violating_reads(run, dump):
    g = parse_gtkw(run["gtkw"].read_text())
    reads = violating_reads(run["summary"], run["trace"])
    assert len(reads) == 2  # the stale read of addrA and the newer read of addrB
    check_markers(g, dump, reads)
    assert g.primary in g.markers


def test_every_signal_the_gtkw_names_is_in_the_waveform(run, dump):
    g = parse_gtkw(run["gtkw"].read_text())
    assert len(g.traces) > 50
    assert check_names(g, dump) == []


def test_checks_fire_on_a_bad_save_file(run, dump):
    """The old zoom (log2 of 200 cycles / 1400 px, read as if per pixel), a marker off the read, a
    misspelt name and an out-of-range bit are each caught."""
    text = run["gtkw"].read_text()
    g = parse_gtkw(text)
    old_zoom = re.sub(r"^\*(\S+)", "*-10.480357", text, count=1, flags=re.M)
    with pytest.raises(AssertionError, match="ends before the run's end"):
        check_view(parse_gtkw(old_zoom), dump)
    far_out = re.sub(r"^\*(\S+)", f"*{g.zoom - 3:.6f}", text, count=1, flags=re.M)
    with pytest.raises(AssertionError, match="zoomed too far out"):
        check_view(parse_gtkw(far_out), dump)
    shifted = parse_gtkw(text)
    shifted.markers = [m + 40 * 10000 for m in shifted.markers]
    with pytest.raises(AssertionError, match="no marker in"):
        check_markers(shifted, dump, violating_reads(run["summary"], run["trace"]))
    broken = text.replace("u_ptw.lvl_q[", "u_ptw.lvl_qq[", 1).replace("(0)cosim_top", "(999)cosim_top", 1)
    bad = check_names(parse_gtkw(broken), dump)
    assert any("lvl_qq" in b for b in bad) and any(b.startswith("(999)") for b in bad), bad



def _rtl_names(enum_type: str) -> list[str]:
    """State names of a package enum as written in rtl/ats_pkg.sv (a plain grep, not tb.rtlinfo)."""
    src = (ROOT / "rtl" / "ats_pkg.sv").read_text()
    body = re.search(rf"typedef\s+enum\s+logic\s*\[[^\]]*\]\s*\{{([^}}]*)\}}\s*{enum_type}\s*;", src)
    assert body, f"no enum {enum_type} in rtl/ats_pkg.sv"
    return re.findall(r"^\s*(\w+)\s*=", body.group(1), re.M)



def test_state_names_come_from_the_rtl_through_filter_files(run):
    g = parse_gtkw(run["gtkw"].read_text())
    by_alias = {t["alias"]: t for t in g.traces if t["alias"]}
    # the walker's per-slot state: one trace per walk, decimal + translate filter
    for k in (0, 1):
        t = by_alias[f"ptw.walk{k}.st_q"]
        assert t["flags"] & 0x2000 and t["filter"], t
        text = Path(t["filter"]).read_text()
        assert Path(t["filter"]).parent == run["gtkw"].parent
        for name in _rtl_names("walk_st_e"):
            assert re.search(rf"^\d+ {name}$", text, re.M), (name, text)
    # the DMA command slot state
    t = by_alias["dma.slot0.st_q"]  # a DMA command slot (with DmaOutstanding 1, slot k is thread k)
    text = Path(t["filter"]).read_text()
    names = _rtl_names("dma_st_e")
    assert len(names) >= 5 and all(re.search(rf"^\d+ {n}$", text, re.M) for n in names), text
    # fault causes: the package enum
    pkg = (ROOT / "rtl" / "ats_pkg.sv").read_text()
    faults = re.findall(r"^\s*(Fault\w+)\s*=", pkg, re.M)
    causes = [t for t in g.traces if t["filter"] and "fault" in Path(t["filter"]).name]
    assert causes and faults
    text = Path(causes[0]["filter"]).read_text()
    assert all(re.search(rf"^\d+ {n}$", text, re.M) for n in faults), text


def test_per_slot_vectors_are_split_into_one_trace_per_slot(run, dump):
    g = parse_gtkw(run["gtkw"].read_text())
    by_alias = {t["alias"]: t for t in g.traces if t["alias"]}
    declared = dump.declared()
    for sig, per in (("lvl_q", 3), ("ar_addr_o", None)):
        full = next(n for n in declared if n.startswith(f"cosim_top.u_dut.u_ptw.{sig}["))
        width = declared[full]
        per = per or width // 2
        seen = set()
        for k in range(width // per):
            t = by_alias[f"ptw.walk{k}.{sig}"]
            bits = [b for b, n in t["names"]]
            assert all(n == full for _, n in t["names"])
            # GTKWave numbers a vector's bits from its MSB: slot k holds [k*per+per-1 : k*per]
            assert bits == [width - 1 - (k * per + j) for j in reversed(range(per))], (sig, k, bits)
            seen.update(bits)
        assert seen == set(range(width))
    # state arrays of a package enum: one dumped variable per slot, named by the enum in the dump
    for scope, label, n in (("u_ptw", "ptw.walk", 2), ("u_dma", "dma.slot", 8)):
        for k in range(n):
            t = by_alias[f"{label}{k}.st_q"]
            full = f"cosim_top.u_dut.{scope}.st_q.[{k}][2:0]"
            assert t["names"] == [(None, full)] and full in declared, (t, k)
            assert dump.vars[full[:-len("[2:0]")]].enum_type is not None


def test_filters_follow_the_rtl_source(tmp_path):
    """Renaming a state in (a copy of) the RTL renames it in the filter file: nothing is hand-copied."""
    from tb.gtkw import write_filters
    from tb.rtlinfo import parse

    rtl = tmp_path / "rtl"
    rtl.mkdir()
    for f in (ROOT / "rtl").glob("*.sv"):
        (rtl / f.name).write_text(f.read_text().replace("WDone", "WFinished"))
    files = write_filters(parse(rtl), tmp_path)
    text = files["walk_st_e"].read_text()
    assert re.search(r"^3 WFinished$", text, re.M) and "WDone" not in text, text
    assert "st" in text.splitlines()[0]  # the comment names the signals the set is used with


def test_times_are_converted_to_the_dump_timescale(run, dump, tmp_path):
    """Times given in another unit (ns, period 10) land in the dump's units (ps here), measured on its clock."""
    from tb.gtkw import write_gtkw

    g0 = parse_gtkw(run["gtkw"].read_text())
    signals = [(n[len("cosim_top."):], v.bitwidth) for n, v in dump.vars.items()
               if n.startswith("cosim_top.u_dut.") and "." not in n[len("cosim_top.u_dut."):]]
    edges = dump.rising("cosim_top.clk_i")
    per_ns = (edges[1] - edges[0]) / 10  # dump units per ns (clock period 10 ns)
    start = max(dump.rising("cosim_top.rst_ni")) / per_ns
    end = max(dump.changes("cosim_top.clk_i")[0]) / per_ns
    out = write_gtkw(signals, run["wave"], tmp_path / "ns.gtkw", start=round(start), end=round(end),
                     markers=[m / per_ns for m in g0.markers], period=10)
    g = parse_gtkw(out.read_text())
    check_view(g, dump)
    assert [round(m) for m in g.markers] == g0.markers
    assert "dump time unit 1ps" in out.read_text() or per_ns != 1000


def test_rtl_reader_handles_enum_typed_slot_arrays(tmp_path):
    """A per-slot packed array of a package enum gets the enum's width per slot and its names."""
    from tb.gtkw import TR_FTRANSLATED, write_gtkw
    from tb.rtlinfo import parse

    rtl = tmp_path / "rtl"
    rtl.mkdir()
    (rtl / "ats_pkg.sv").write_text("package ats_pkg;\n  typedef enum logic [1:0] {\n    SIdle = 2'd0,\n"
                                    "    SBusy = 2'd1,\n    SDone = 2'd2\n  } slot_st_e;\nendpackage\n")
    (rtl / "ats_dev_top.sv").write_text(
        "module ats_dev_top #(parameter int unsigned NumSlots = 3) (input logic clk_i);\n"
        "  blk #(.NumSlots(NumSlots)) u_blk (.clk_i);\nendmodule\n")
    (rtl / "blk.sv").write_text(
        "module blk #(parameter int unsigned NumSlots = 3) (input logic clk_i);\n"
        "  ats_pkg::slot_st_e [NumSlots-1:0] st_q;  // one state per slot\n"
        "  logic [NumSlots*8-1:0] data_q;\n"
        "  always_ff @(posedge clk_i) if (st_q[0] == ats_pkg::SBusy) st_q[0] <= ats_pkg::SDone;\n"
        "endmodule\n")
    info = parse(rtl)
    assert info.module_of("u_blk", "ats_dev_top") == "blk"
    assert info.slots["blk"]["st_q"].width == "2" and info.slots["blk"]["data_q"].width == "8"
    assert info.state_set("blk", "st_q", 2).name == "slot_st_e"
    sigs = [("u_dut.u_blk.st_q", 6), ("u_dut.u_blk.data_q", 24)]
    import tb.gtkw as gt

    groups = gt.GROUPS
    try:
        gt.GROUPS = [("Block", [("u_dut.u_blk", r".")])]
        out = write_gtkw(sigs, tmp_path / "none.fst", tmp_path / "w.gtkw", start=0, end=1000, period=10, rtl=rtl)
    finally:
        gt.GROUPS = groups
    g = parse_gtkw(out.read_text())
    st = {t["alias"]: t for t in g.traces if t["alias"] and t["alias"].endswith("st_q")}
    assert sorted(st) == ["blk.slot0.st_q", "blk.slot1.st_q", "blk.slot2.st_q"], sorted(st)
    assert all(t["flags"] & TR_FTRANSLATED and "SBusy" in Path(t["filter"]).read_text() for t in st.values())
    # Verilator's --trace-structs dumps a packed array of an enum as one variable per element
    assert st["blk.slot2.st_q"]["names"] == [(None, "cosim_top.u_dut.u_blk.st_q.[2][1:0]")]


def test_rtl_reader_keeps_two_state_enums_of_one_width_apart(tmp_path):
    """Two package enums of one width, each used with `st_q` in its own module, name each module's states."""
    from tb.rtlinfo import parse

    rtl = tmp_path / "rtl"
    rtl.mkdir()
    (rtl / "ats_pkg.sv").write_text("package ats_pkg;\n"
                                    "  typedef enum logic [1:0] {\n    AIdle = 2'd0,\n    ABusy = 2'd1\n  } a_st_e;\n"
                                    "  typedef enum logic [1:0] {\n    BIdle = 2'd0,\n    BBusy = 2'd1\n  } b_st_e;\n"
                                    "endpackage\n")
    for mod, enum, item in (("blk_a", "a_st_e", "ABusy"), ("blk_b", "b_st_e", "BBusy")):
        (rtl / f"{mod}.sv").write_text(
            f"module {mod} #(parameter int unsigned N = 2) (input logic clk_i);\n"
            f"  ats_pkg::{enum} [N-1:0] st_q;\n"
            f"  always_ff @(posedge clk_i) if (st_q[0] == ats_pkg::{item}) st_q[0] <= ats_pkg::{item};\n"
            "endmodule\n")
    info = parse(rtl)
    assert info.state_set("blk_a", "st_q", 2).name == "a_st_e"
    assert info.state_set("blk_b", "st_q", 2).name == "b_st_e"
