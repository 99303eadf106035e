"""Lockstep equivalence run: the working tree's RTL against another revision's.

A refactor of the RTL (types, naming, structure) must not change behaviour by
one cycle. This builds both designs into one Verilator model: the RTL of a git
revision (or a copy of rtl/, optionally with a mutant of tb/mutants.toml
applied) has its modules and package renamed with a prefix, a generated
wrapper instantiates the old and the new ``ats_dev_top`` side by side on the
same inputs, and a C++ harness (tb/lockstep.cpp) drives constrained-random
stimulus and compares every output every cycle. The first difference names
the signal, the cycle and both values, and the run fails.

    python -m tb.lockstep --rev 85d92ac [--seeds 1-10] [--cycles 20000] [--params all]
    python -m tb.lockstep --rev WORKTREE --mutant poison_never_set   # must fail

Both designs start from all-zero flops (--x-initial 0): registers without a
reset hold whatever the other design would hold too, so an output muxing a
not-yet-written register compares equal instead of two random values.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tb import toolchain

ROOT = toolchain.ROOT
HARNESS = Path(__file__).with_name("lockstep.cpp")
PREFIX = "old_"
# RTL files an older revision may lack (its design does not use them)
OPTIONAL_SOURCES = ("atc_sa.sv",)
WORKTREE = "WORKTREE"  # --rev value: a copy of the working tree's rtl/ (with --mutant: the known-bad case)

# Top-level parameter sets of the regression (tests/test_rtl_*.py, tb/rtldev.py COSIM_PARAMS).
PARAM_SETS: dict[str, dict[str, int]] = {
    "default": {},
    "threads8": {"NumThreads": 8},                                  # co-simulation (COSIM_PARAMS)
    "pri": {"PriTimeout": 200, "PriRetries": 3},                    # tests/test_rtl_pri.py
    "small": {"AtcEntries": 4, "NumWalks": 1, "PwcEntries": 0},     # tests/test_rtl_smoke.py
    "ad2": {"PwcEntries": 0, "AdRetries": 2},                       # tests/test_rtl_ad.py
}


class LockstepError(RuntimeError):
    """A setup problem (unknown revision, stale mutant, build failure): one line for the user."""


# --------------------------------------------------------------------------- sources


def old_sources(rev: str, mutant: str | None = None) -> dict[str, str]:
    """rtl/ file texts of `rev` (a git revision, or WORKTREE), with `mutant` applied."""
    texts: dict[str, str] = {}
    for name in toolchain.RTL_SOURCES:
        if rev == WORKTREE:
            texts[name] = (toolchain.RTL / name).read_text()
            continue
        r = subprocess.run(["git", "show", f"{rev}:rtl/{name}"], cwd=ROOT, capture_output=True, text=True)
        if r.returncode and name in OPTIONAL_SOURCES:
            continue  # added after `rev`: the old design does not instantiate it
        if r.returncode:
            why = (r.stderr.strip().splitlines() or ["git failed"])[-1]
            raise LockstepError(f"cannot read rtl/{name} at revision {rev!r}: {why}")
        texts[name] = r.stdout
    if mutant:
        from tb import mutants

        cfg = mutants.load()
        found = [m for m in cfg.mutants if m.id == mutant]
        if not found:
            raise LockstepError(f"tb/mutants.toml: no mutant {mutant!r}")
        m = found[0]
        if m.file not in texts:
            raise LockstepError(f"tb/mutants.toml:{m.line}: mutant {m.id}: rtl/{m.file} is not an RTL source")
        if texts[m.file].count(m.find) != 1:
            raise LockstepError(f"tb/mutants.toml:{m.line}: mutant {m.id}: field 'find' does not occur exactly "
                                f"once in rtl/{m.file} of {rev}")
        texts[m.file] = texts[m.file].replace(m.find, m.replace)
    return texts


def design_names(texts: dict[str, str]) -> list[str]:
    """Module and package names declared in the sources."""
    names = []
    for t in texts.values():
        names += re.findall(r"^\s*(?:module|package)\s+(\w+)", t, flags=re.M)
    return names


def rename(texts: dict[str, str], prefix: str = PREFIX) -> dict[str, str]:
    """Every module and package name (declarations, instances, `pkg::` references) gets `prefix`."""
    names = design_names(texts)
    pat = re.compile(r"\b(" + "|".join(map(re.escape, sorted(names, key=len, reverse=True))) + r")\b")
    return {f"{prefix}{k}": pat.sub(lambda m: prefix + m.group(1), v) for k, v in texts.items()}


# --------------------------------------------------------------------------- wrapper


@dataclass
class Port:
    direction: str
    rng: str       # "[..]" or ""
    name: str


def _header(text: str, module: str) -> tuple[str, str]:
    """Parameter list and port list text of `module` (ANSI header)."""
    m = re.search(rf"\bmodule\s+{module}\s*#\s*\(", text)
    if not m:
        raise LockstepError(f"module {module}: no ANSI header with parameters found")
    i, depth, start = m.end(), 1, m.end()
    while depth:
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        i += 1
    params = text[start:i - 1]
    j = text.index("(", i)
    k, depth = j + 1, 1
    while depth:
        depth += {"(": 1, ")": -1}.get(text[k], 0)
        k += 1
    return params, text[j + 1:k - 1]


def top_interface(text: str, module: str = toolchain.TOPLEVEL) -> tuple[str, list[str], list[Port]]:
    """(parameter list text, overridable parameter names, ports) of the top module."""
    params, ports_text = _header(text, module)
    params_nc = re.sub(r"//[^\n]*", "", params)
    pnames = re.findall(r"\bparameter\s+(?:int\s+unsigned|int|bit|logic)?\s*(?:\[[^\]]*\])?\s*(\w+)\s*=", params_nc)
    ports = [Port(d, r.strip(), n) for d, r, n in re.findall(
        r"\b(input|output)\s+logic\s*(\[[^\]]*\])?\s*(\w+)", re.sub(r"//[^\n]*", "", ports_text))]
    return params_nc, pnames, ports


def wrapper(new_top: str, old_top: str) -> tuple[str, list[str], list[str]]:
    """lockstep_top: both designs on the same inputs; returns (text, compared outputs, overridable params)."""
    params, pnames, ports = top_interface(new_top)
    _, old_pnames, old_ports = top_interface(old_top, PREFIX + toolchain.TOPLEVEL)
    old_by = {p.name: p for p in old_ports}
    # a parameter the old top lacks is new behaviour behind a switch: the old
    # instance simply has none (the run compares the new one at its value)
    missing = [p for p in pnames if p not in old_pnames]  # new parameters: compared at their defaults
    decl = []
    new_conn, old_conn, outs = [], [], []
    for p in ports:
        if p.direction == "input":
            decl.append(f"  input  logic {p.rng} {p.name}")
            new_conn.append(f"    .{p.name}({p.name})")
            if p.name in old_by:
                old_conn.append(f"    .{p.name}({p.name})")
        else:
            decl.append(f"  output logic {p.rng} new_{p.name}")
            new_conn.append(f"    .{p.name}(new_{p.name})")
            if p.name in old_by and old_by[p.name].direction == "output":
                decl.append(f"  output logic {p.rng} old_{p.name}")
                old_conn.append(f"    .{p.name}(old_{p.name})")
                outs.append(p.name)
    for p in old_ports:
        if p.name not in {q.name for q in ports} and p.direction == "input":
            raise LockstepError(f"input {p.name} of the old top is not in the new one")
    pover = ", ".join(f".{n}({n})" for n in pnames)
    pover_old = ", ".join(f".{n}({n})" for n in pnames if n in old_pnames)
    text = (
        "// generated by tb/lockstep.py: the new and the old design on the same inputs\n"
        f"module lockstep_top #(\n{params}\n) (\n" + ",\n".join(decl) + "\n);\n"
        f"  {toolchain.TOPLEVEL} #({pover}) u_new (\n" + ",\n".join(new_conn) + "\n  );\n"
        f"  {PREFIX}{toolchain.TOPLEVEL} #({pover_old}) u_old (\n" + ",\n".join(old_conn) + "\n  );\n"
        "endmodule\n")
    return text, outs, [n for n in pnames if n not in missing]


def param_defaults(top_text: str) -> dict[str, int]:
    """Integer defaults of the top's parameters (the harness needs NumThreads and PaWidth)."""
    params, _ = _header(top_text, toolchain.TOPLEVEL)
    out = {}
    for n, v in re.findall(r"\bparameter\s+(?:int\s+unsigned|int|bit)?\s*(\w+)\s*=\s*([0-9']+\w*)", params):
        v = v.split("'")[-1]
        out[n] = int(v[1:], 2) if v.startswith("b") else int(v.lstrip("d") or 0)
    return out


# --------------------------------------------------------------------------- build and run


def _write(path: Path, text: str) -> None:
    """Write only on change (keeps mtimes, so Verilator's identical-input skip and make stay cached)."""
    if not path.exists() or path.read_text() != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def build(rev: str, params: dict[str, int], mutant: str | None = None, trace: bool = False,
          out: Path | None = None, cflags: str = "-O1") -> Path:
    """Build the lockstep model of the working tree against `rev`; returns the executable.

    `cflags`: C++ optimisation (-O0 builds fastest, for short runs in tests)."""
    toolchain.setup_env()
    old = rename(old_sources(rev, mutant))
    new = {n: (toolchain.RTL / n).read_text() for n in toolchain.RTL_SOURCES}
    wrap, outs, pnames = wrapper(new[f"{toolchain.TOPLEVEL}.sv"], old[f"{PREFIX}{toolchain.TOPLEVEL}.sv"])
    unknown = [k for k in params if k not in pnames]
    if unknown:
        raise LockstepError(f"unknown top-level parameter(s): {', '.join(unknown)} (known: {', '.join(pnames)})")
    eff = {**param_defaults(new[f"{toolchain.TOPLEVEL}.sv"]), **params}
    key = hashlib.sha1(json.dumps([sorted(old.items()), sorted(new.items()), sorted(params.items()), trace,
                                   cflags, HARNESS.read_text(), Path(__file__).read_text()]).encode()).hexdigest()[:10]
    tag = f"{toolchain.param_tag(params)}_{re.sub(r'[^A-Za-z0-9]', '', rev)[:12]}{'_' + mutant if mutant else ''}"
    bdir = ((out or toolchain.BUILD / "lockstep") / tag).resolve()  # Verilator runs in bdir
    src = bdir / "src"
    for n, t in old.items():
        _write(src / "old" / n, t)
    _write(src / "lockstep_top.sv", wrap)
    _write(src / "ls_ports.h", "// generated by tb/lockstep.py\n#define LS_OUTPUTS(X) " +
           " ".join(f"X({o})" for o in outs) + "\n" +
           "".join(f"#define LS_P_{k} {v}\n" for k, v in sorted(eff.items())))
    exe = bdir / "obj" / "lockstep"
    stamp = bdir / "obj" / ".key"
    if exe.exists() and stamp.exists() and stamp.read_text() == key:
        return exe
    srcs = [toolchain.RTL / n for n in toolchain.RTL_SOURCES]
    srcs += [src / "old" / f"{PREFIX}{n}" for n in toolchain.RTL_SOURCES if f"{PREFIX}{n}" in old]
    cmd = ["verilator", "--cc", "--exe", "--build", "-j", "2", "--top-module", "lockstep_top",
           "-Wno-fatal", "-Wno-lint", "-Wno-style", "--x-assign", "0", "--x-initial", "0",
           "-O3", "--Mdir", str(bdir / "obj"), "-o", "lockstep", "-CFLAGS", f"{cflags} -I{src}",
           *[f"-G{k}={v}" for k, v in sorted(params.items())],
           *(["--trace-fst", "--trace-structs"] if trace else []),
           *map(str, srcs), str(src / "lockstep_top.sv"), str(HARNESS)]
    log = bdir / "build.log"
    t0 = time.time()
    with open(log, "w") as f:
        r = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=bdir)
    if r.returncode or not exe.exists():
        tail = [ln for ln in log.read_text(errors="replace").splitlines() if "%Error" in ln or "error" in ln]
        raise LockstepError(f"lockstep build failed (log {log}): " + (tail[0] if tail else f"exit {r.returncode}"))
    stamp.write_text(key)
    print(f"[lockstep] built {tag} in {time.time() - t0:.0f} s ({len(outs)} outputs compared)", file=sys.stderr)
    return exe


@dataclass
class Result:
    ok: bool
    output: str
    seconds: float

    def mismatch(self) -> str:
        """The mismatch report lines (empty when the run passed)."""
        return "\n".join(ln for ln in self.output.splitlines() if "MISMATCH" in ln or ln.startswith("lockstep:   ")
                         and "=" in ln)


def run(exe: Path, seeds: list[int], cycles: int, trace: Path | None = None, timeout: int = 3600) -> Result:
    args = [str(exe), f"+seeds={','.join(map(str, seeds))}", f"+cycles={cycles}"]
    if trace:
        args.append(f"+trace={trace}")
    t0 = time.time()
    r = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    out = r.stdout + r.stderr
    ok = r.returncode == 0 and "lockstep: PASS" in out
    return Result(ok, out, time.time() - t0)


def _seeds(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        if "-" in part:
            a, b = part.split("-", 1)
            out += list(range(int(a), int(b) + 1))
        elif part:
            out.append(int(part))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tb.lockstep", description=__doc__.splitlines()[0])
    ap.add_argument("--rev", default="HEAD", help=f"git revision of the old design, or {WORKTREE} (a copy of rtl/)")
    ap.add_argument("--mutant", default=None, help="apply this tb/mutants.toml mutant to the old design")
    ap.add_argument("--params", default="all",
                    help=f"comma-separated parameter sets ({', '.join(PARAM_SETS)}) or 'all'")
    ap.add_argument("--seeds", default="1-10", help="seeds, e.g. 1-10 or 3,7")
    ap.add_argument("--cycles", type=int, default=20000, help="cycles per seed")
    ap.add_argument("--trace", action="store_true", help="build with FST tracing; waves in the build directory")
    ap.add_argument("--out", type=Path, default=toolchain.BUILD / "lockstep")
    a = ap.parse_args(argv)
    names = list(PARAM_SETS) if a.params == "all" else a.params.split(",")
    bad = [n for n in names if n not in PARAM_SETS]
    if bad:
        print(f"tb.lockstep: unknown parameter set(s) {', '.join(bad)} (known: {', '.join(PARAM_SETS)})",
              file=sys.stderr)
        return 2
    try:
        seeds = _seeds(a.seeds)
    except ValueError:
        print(f"tb.lockstep: --seeds {a.seeds!r}: expected e.g. 1-10 or 3,7", file=sys.stderr)
        return 2
    failed = 0
    for n in names:
        try:
            exe = build(a.rev, PARAM_SETS[n], a.mutant, trace=a.trace, out=a.out)
        except LockstepError as e:
            print(f"tb.lockstep: {e}", file=sys.stderr)
            return 2
        res = run(exe, seeds, a.cycles, trace=exe.parent.parent / "lockstep.fst" if a.trace else None)
        last = [ln for ln in res.output.splitlines() if ln.startswith("lockstep: PASS")]
        if res.ok:
            print(f"[lockstep] {n} {PARAM_SETS[n]}: {last[0][len('lockstep: '):]} identical "
                  f"({res.seconds:.0f} s)")
        else:
            failed += 1
            print(f"[lockstep] {n} {PARAM_SETS[n]}: FAIL against {a.rev}"
                  f"{' with mutant ' + a.mutant if a.mutant else ''}\n{res.mismatch() or res.output[-2000:]}")
        (exe.parent.parent / "run.log").write_text(res.output)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
