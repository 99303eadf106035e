"""What a waveform viewer needs to know about the RTL source, read from rtl/*.sv.

The RTL keeps per-slot state in packed vectors (`st_q[NumWalks*2-1:0]`) and
names its states with localparams (`WIdle`, `WRead`, ...) or package enums
(`fault_e`). A waveform shows only numbers. This module reads the source so
the GTKWave save file (tb/gtkw.py) can show names and one trace per slot,
without a hand-kept copy that would go stale when the RTL changes:

* `state_sets`: every enum typedef and every run of adjacent
  `localparam logic [W-1:0] Name = W'dV;` lines, with the signals the
  source compares or assigns against its names (`st_q[..] == WIdle`);
* `slot_decls`: vectors declared `[Count*W-1:0]` (or `[Count-1:0]` where
  Count is such a multiplier), i.e. one W-bit field per slot;
* `instances`: instance name -> module name (`u_ptw` -> `ptw`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

RTL = Path(__file__).resolve().parent.parent / "rtl"

_KEYWORDS = {"input", "output", "inout", "logic", "wire", "reg", "signed", "unsigned"}
_LIT = re.compile(r"(\d+)?'([dDhHbBoO])([0-9a-fA-F_]+)")


@dataclass
class StateSet:
    """Named values of a field: an enum typedef or a run of localparams."""

    name: str                      # "fault_e", or "<module>.<first localparam>"
    width: int
    values: list[tuple[int, str]]  # (value, name) in source order
    module: str | None             # None: a package enum, usable in every module
    signals: set[str] = field(default_factory=set)  # base names (no _q/_d/_n/_i/_o) it is used with
    # package enums: the signals it is used with, per module (two state enums of one width,
    # e.g. the DMA thread and the walk slot state, both used with `st`, stay apart)
    module_signals: dict[str, set[str]] = field(default_factory=dict)


@dataclass
class SlotDecl:
    count: str        # parameter naming the number of slots (after localparam aliases)
    width: str        # bits per slot: a number or a parameter name
    names: list[str]
    # a packed array of a typedef (`ats_pkg::dma_st_e [NumThreads-1:0] st_q`): Verilator's
    # --trace-structs dumps one variable per element (`st_q.[k]`), not one vector
    array: bool = False


@dataclass
class RtlInfo:
    modules: dict[str, str]                 # module -> source without comments
    instances: dict[str, dict[str, str]]    # module -> {instance -> module}
    states: list[StateSet]
    slots: dict[str, dict[str, SlotDecl]]   # module -> {signal -> declaration}

    def module_of(self, scope: str, top: str) -> str | None:
        """Module of a dotted instance path below `top` (`u_dut.u_ptw` -> `ptw`)."""
        mod: str | None = top
        for part in [p for p in scope.split(".") if p]:
            if mod is None:
                return None
            mod = self.instances.get(mod, {}).get(part)
        return mod

    def state_set(self, module: str | None, signal: str, slot_width: int) -> StateSet | None:
        """The named values for `signal` of `module` whose fields are `slot_width` bits wide."""
        b = base_name(signal)
        for s in self.states:
            if s.module is not None and s.module == module and b in s.signals and s.width == slot_width:
                return s
        for s in self.states:
            if s.module is None and s.width == slot_width and module is not None and \
                    b in s.module_signals.get(module, set()):
                return s
        for s in self.states:
            if s.module is None and s.width == slot_width and any(b == u or b.endswith("_" + u) for u in s.signals):
                return s
        return None


def base_name(signal: str) -> str:
    """`st_q` -> `st`: the name shared by a register, its next value and a port."""
    return re.sub(r"_(q|d|n|i|o)$", "", signal)


def strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def _literal(text: str) -> int | None:
    m = _LIT.fullmatch(text.strip())
    if m:
        return int(m.group(3).replace("_", ""), {"d": 10, "h": 16, "b": 2, "o": 8}[m.group(2).lower()])
    return int(text) if text.strip().isdigit() else None


def _users(src: str, names: list[str], prefix: str = "") -> set[str]:
    """Identifiers compared with or assigned one of `names` in `src`."""
    alt = "|".join(re.escape(n) for n in names)
    pre = re.escape(prefix)
    got = set()
    for m in re.finditer(rf"\b(\w+)\s*(?:\[[^\]]*\])?\s*(?:==|!=|<=|=)\s*\(?\s*(?:{pre})?(?:{alt})\b", src):
        got.add(base_name(m.group(1)))
    for m in re.finditer(rf"(?:{pre})?\b(?:{alt})\s*(?:==|!=)\s*(\w+)", src):
        got.add(base_name(m.group(1)))
    return {g for g in got if not g[0].isupper() and g not in _KEYWORDS}


def parse(rtl: Path = RTL) -> RtlInfo:
    modules: dict[str, str] = {}
    packages: dict[str, str] = {}
    for f in sorted(rtl.glob("*.sv")):
        src = strip_comments(f.read_text())
        for m in re.finditer(r"^\s*module\s+(\w+)(.*?)^\s*endmodule", src, re.S | re.M):
            modules[m.group(1)] = m.group(0)
        for m in re.finditer(r"^\s*package\s+(\w+)\s*;(.*?)^\s*endpackage", src, re.S | re.M):
            packages[m.group(1)] = m.group(2)

    states: list[StateSet] = []
    # package enums: used as <pkg>::Name in any module
    for pkg, body in packages.items():
        for m in re.finditer(r"typedef\s+enum\s+logic\s*\[\s*(\d+)\s*:\s*0\s*\]\s*\{(.*?)\}\s*(\w+)\s*;", body, re.S):
            width, items, tname = int(m.group(1)) + 1, m.group(2), m.group(3)
            values, nxt = [], 0
            for it in [i.strip() for i in items.split(",") if i.strip()]:
                nm, _, val = (p.strip() for p in it.partition("="))
                v = _literal(val) if val else nxt
                if v is None:
                    continue
                values.append((v, nm))
                nxt = v + 1
            names = [n for _, n in values]
            by_mod = {mod: _users(src, names, f"{pkg}::") for mod, src in modules.items()}
            users = set().union(*by_mod.values())
            states.append(StateSet(tname, width, values, None, users, {m: u for m, u in by_mod.items() if u}))

    instances: dict[str, dict[str, str]] = {}
    slots: dict[str, dict[str, SlotDecl]] = {}
    lp = re.compile(r"^\s*localparam\s+logic\s*\[\s*(\d+)\s*:\s*0\s*\]\s*(\w+)\s*=\s*([0-9]*'[dDhHbBoO][0-9a-fA-F_]+)\s*;")
    for mod, src in modules.items():
        # runs of adjacent localparam lines of one width
        run: list[tuple[int, str, int]] = []
        lines = src.splitlines() + [""]
        for ln in lines:
            m = lp.match(ln)
            if m and (not run or run[-1][0] == int(m.group(1)) + 1):
                v = _literal(m.group(3))
                if v is not None:
                    run.append((int(m.group(1)) + 1, m.group(2), v))
                    continue
            if len(run) >= 2:
                names = [n for _, n, _ in run]
                states.append(StateSet(f"{mod}.{names[0]}", run[0][0], [(v, n) for _, n, v in run], mod,
                                       _users(src, names)))
            run = []
            m = lp.match(ln)
            if m and _literal(m.group(3)) is not None:
                run = [(int(m.group(1)) + 1, m.group(2), _literal(m.group(3)))]  # type: ignore[list-item]

        inst = {}
        for m in re.finditer(r"\b([A-Za-z_]\w*)\s*(?:#\s*\((?:[^()]|\([^()]*\))*\)\s*)?\b(u_\w+)\s*\(", src):
            if m.group(1) in modules:
                inst[m.group(2)] = m.group(1)
        instances[mod] = inst

        alias = dict(re.findall(r"localparam\s+int\s+unsigned\s+(\w+)\s*=\s*([A-Za-z_]\w*)\s*;", src))
        decls: dict[str, SlotDecl] = {}
        counts = set()
        names_rx = r"(\w+(?:\s*,\s*\w+)*)"
        for m in re.finditer(r"\[\s*(\w+)\s*\*\s*(\w+)\s*-\s*1\s*:\s*0\s*\]\s*" + names_rx, src):
            cnt = alias.get(m.group(1), m.group(1))
            names = [n.strip() for n in m.group(3).split(",") if n.strip() not in _KEYWORDS]
            decls.update({n: SlotDecl(cnt, m.group(2), names) for n in names})
            counts.add(cnt)
        enum_w = {st.name: st.width for st in states if st.module is None}
        for m in re.finditer(r"(\w+)\s*\[\s*(\w+)\s*-\s*1\s*:\s*0\s*\]\s*" + names_rx, src):
            typ, cnt = m.group(1).split("::")[-1], alias.get(m.group(2), m.group(2))
            names = [n.strip() for n in m.group(3).split(",") if n.strip() not in _KEYWORDS]
            if typ in enum_w:  # a packed array of a package enum: one enum per slot
                decls.update({n: SlotDecl(cnt, str(enum_w[typ]), names, array=True) for n in names})
            elif cnt in counts and typ in _KEYWORDS:  # one bit per slot
                decls.update({n: SlotDecl(cnt, "1", names) for n in names if n not in decls})
        slots[mod] = decls
    return RtlInfo(modules, instances, states, slots)


def slot_label(count: str) -> str:
    """`NumWalks` -> `walk`, `AtcEntries` -> `atc_entry`, `Depth` -> `slot`: the name of one slot."""
    words = [w.lower() for w in re.findall(r"[A-Z]+(?![a-z])|[A-Z][a-z]*|[a-z]+|\d+", count)]
    words = [w for w in words if w != "num"] or ["slot"]
    last = words[-1]
    if last.endswith("ies"):
        last = last[:-3] + "y"
    elif last.endswith("s") and not last.endswith("ss"):
        last = last[:-1]
    words[-1] = last
    label = "_".join(words)
    return "slot" if label in ("depth", "n", "count") else label
