"""Mutation gate: plant single-point bugs in rtl/ and check that the fast checks catch each.

The mutants and the checks live in one declarative file (tb/mutants.toml).
A mutant names a file under rtl/, an exact snippet of it (which must occur
exactly once: a mutant whose snippet moved or vanished is stale, an error,
never silently skipped) and its replacement, plus what it breaks and a
category. A mutant that cannot change any observable behaviour carries
`equivalent = "reason"` and is reported apart from the score.

For every mutant, a copy of rtl/ with the one edit is built in its own build
tree (tb.toolchain honours ATS_RTL_DIR / ATS_BUILD_DIR) and the checks run in
file order until one fails: that check killed the mutant. A mutant no check
kills survives. The unmutated RTL runs the same checks first (the baseline):
a check that fails on the real design would "kill" every mutant.

    python -m tb.mutants [-j 2] [--only id,id] [--all-checks] [--list]

Writes build/mutants/results.json and build/mutants/report.md; exits 1 when a
non-equivalent mutant survives or anything went wrong (stale snippet, a
mutant that does not build, a failing baseline).
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import dataclasses
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "tb" / "mutants.toml"
RTL = ROOT / "rtl"
OUT = ROOT / "build" / "mutants"
ORIGINAL = "_original"


class ConfigError(Exception):
    """A malformed or stale entry of the mutant file (message names file:line and field)."""


@dataclasses.dataclass(frozen=True)
class Mutant:
    id: str
    file: str          # path under rtl/
    find: str          # exact original text, occurs exactly once in the file
    replace: str
    breaks: str        # what the mutant breaks (why it is a realistic bug)
    category: str
    equivalent: str | None = None   # reason, when no behaviour can change
    line: int = 0      # line of its `id =` in the mutant file


@dataclasses.dataclass(frozen=True)
class Check:
    name: str
    module: str | None = None        # cocotb test module (tb.*)
    params: tuple = ()               # RTL parameters, sorted (key, value) pairs
    testcase: str | None = None
    seed: int = 1
    env: tuple = ()                  # extra environment, sorted (key, value) pairs
    command: tuple = ()              # or: a command run in the repository root
    make_target: str | None = None   # or: `make <target>` (skipped while the Makefile lacks it)
    requires: str | None = None      # a path under the repository root; the check is skipped while it is missing
    timeout: int = 900
    line: int = 0


@dataclasses.dataclass
class Config:
    path: Path
    checks: list[Check]
    mutants: list[Mutant]


# --------------------------------------------------------------------------- config

_MUTANT_FIELDS = {"id", "file", "find", "replace", "breaks", "category", "equivalent"}
_CHECK_FIELDS = {"name", "module", "params", "testcase", "seed", "env", "command", "make_target", "timeout",
                 "requires"}


def _lines_of(text: str, key: str, values: list[str]) -> dict[str, int]:
    """Line numbers of `key = "value"` entries (TOML parsers do not keep positions)."""
    out: dict[str, int] = {}
    for n, ln in enumerate(text.splitlines(), 1):
        m = re.match(rf'\s*{key}\s*=\s*"([^"]*)"', ln)
        if m and m.group(1) in values and m.group(1) not in out:
            out[m.group(1)] = n
    return out


def _rel(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def load(path: Path = CONFIG) -> Config:
    """Parse and validate the mutant file; raises ConfigError with file:line and field."""
    name = _rel(path)
    try:
        text = path.read_text()
        data = tomllib.loads(text)
    except FileNotFoundError:
        raise ConfigError(f"{name}: not found") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{name}: {e}") from None
    raw_m = data.get("mutant", [])
    raw_c = data.get("check", [])
    if not isinstance(raw_m, list) or not isinstance(raw_c, list):
        raise ConfigError(f"{name}: [[mutant]] and [[check]] must be arrays of tables")
    mlines = _lines_of(text, "id", [str(m.get("id")) for m in raw_m])
    clines = _lines_of(text, "name", [str(c.get("name")) for c in raw_c])

    checks: list[Check] = []
    for i, c in enumerate(raw_c):
        ln = clines.get(str(c.get("name")), 0)
        where = f"{name}:{ln}: check #{i + 1}"
        bad = set(c) - _CHECK_FIELDS
        if bad:
            raise ConfigError(f"{where}: unknown field(s) {sorted(bad)}")
        if not isinstance(c.get("name"), str) or not c["name"]:
            raise ConfigError(f"{where}: field 'name' missing or not a string")
        kinds = [k for k in ("module", "command", "make_target") if k in c]
        if len(kinds) != 1:
            raise ConfigError(f"{where} ({c['name']}): exactly one of 'module', 'command', 'make_target' needed")
        for k, typ in (("params", dict), ("env", dict), ("seed", int), ("timeout", int), ("testcase", str),
                       ("command", list), ("requires", str)):
            if k in c and not isinstance(c[k], typ):
                raise ConfigError(f"{where} ({c['name']}): field '{k}' must be a {typ.__name__}")
        if any(x.name == c["name"] for x in checks):
            raise ConfigError(f"{where}: duplicate check name {c['name']!r}")
        checks.append(Check(
            name=c["name"], module=c.get("module"), params=tuple(sorted(c.get("params", {}).items())),
            testcase=c.get("testcase"), seed=c.get("seed", 1),
            env=tuple(sorted((k, str(v)) for k, v in c.get("env", {}).items())),
            command=tuple(str(x) for x in c.get("command", [])), make_target=c.get("make_target"),
            requires=c.get("requires"), timeout=c.get("timeout", 900), line=ln))
    if not checks:
        raise ConfigError(f"{name}: no [[check]] entries")

    mutants: list[Mutant] = []
    seen: set[str] = set()
    for i, m in enumerate(raw_m):
        ln = mlines.get(str(m.get("id")), 0)
        where = f"{name}:{ln}: mutant #{i + 1}"
        bad = set(m) - _MUTANT_FIELDS
        if bad:
            raise ConfigError(f"{where}: unknown field(s) {sorted(bad)}")
        for k in ("id", "file", "find", "replace", "breaks", "category"):
            if not isinstance(m.get(k), str) or (k != "replace" and not m[k].strip()):
                raise ConfigError(f"{where}: field '{k}' missing or not a (non-empty) string")
        where = f"{name}:{ln}: mutant {m['id']}"
        if not re.fullmatch(r"[a-z0-9_]+", m["id"]):
            raise ConfigError(f"{where}: field 'id' must match [a-z0-9_]+")
        if m["id"] in seen:
            raise ConfigError(f"{where}: duplicate id")
        seen.add(m["id"])
        if m["find"] == m["replace"]:
            raise ConfigError(f"{where}: field 'replace' equals 'find' (no mutation)")
        eq = m.get("equivalent")
        if eq is not None and (not isinstance(eq, str) or not eq.strip()):
            raise ConfigError(f"{where}: field 'equivalent' must be the reason (a non-empty string)")
        mutants.append(Mutant(m["id"], m["file"], m["find"], m["replace"], m["breaks"], m["category"], eq, ln))
    return Config(path, checks, mutants)


def apply(m: Mutant, rtl: Path, cfg_name: str = "tb/mutants.toml") -> dict[str, str]:
    """The mutated text of m.file (one file) read from `rtl`; raises ConfigError when stale."""
    src = rtl / m.file
    where = f"{cfg_name}:{m.line}: mutant {m.id}"
    if not src.is_file():
        raise ConfigError(f"{where}: field 'file': rtl/{m.file} does not exist")
    text = src.read_text()
    n = text.count(m.find)
    if n != 1:
        raise ConfigError(f"{where}: field 'find': snippet occurs {n} times in rtl/{m.file} "
                          f"(must be exactly once; stale mutant?): {m.find.strip()[:80]!r}")
    return {m.file: text.replace(m.find, m.replace)}


def validate(cfg: Config, rtl: Path = RTL) -> None:
    """Every mutant applies to `rtl` (raises ConfigError on the first stale one)."""
    for m in cfg.mutants:
        apply(m, rtl, _rel(cfg.path))


# --------------------------------------------------------------------------- one mutant (worker process)


def _sync_tree(src: Path, dst: Path, edits: dict[str, str]) -> None:
    """Copy src to dst, writing only files whose content changed (keeps mtimes, so builds stay cached)."""
    want: dict[str, bytes] = {}
    for p in src.rglob("*"):
        if p.is_file():
            rel = str(p.relative_to(src))
            want[rel] = edits[rel].encode() if rel in edits else p.read_bytes()
    for p in list(dst.rglob("*")) if dst.exists() else []:
        if p.is_file() and str(p.relative_to(dst)) not in want:
            p.unlink()
    for rel, data in want.items():
        q = dst / rel
        if q.is_file() and q.read_bytes() == data:
            continue
        q.parent.mkdir(parents=True, exist_ok=True)
        q.write_bytes(data)


def _failed_tests(xml: Path) -> list[str]:
    try:
        root = ET.parse(xml).getroot()
    except (OSError, ET.ParseError):
        return []
    return [tc.get("name", "?") for tc in root.iter("testcase")
            if tc.find("failure") is not None or tc.find("error") is not None]


def _build(params: dict, top: str) -> Path:
    """Build the RTL under ATS_RTL_DIR for `params` with toplevel `top` (ats_dev_top, or the block
    tests' ats_tb_top with the C++ AXI slave); skipped when the stamp says it is current.

    The stamp hashes the sources and the parameters; the 140 MB of precompiled
    headers are removed after a build (the simulator binary is all a run needs).
    """
    from tb import axi_top, toolchain

    h = hashlib.sha256(json.dumps(sorted(params.items())).encode())
    for p in sorted(toolchain.RTL.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(toolchain.RTL)).encode() + p.read_bytes())
    name = f"{top}_{toolchain.param_tag(params)}_nowave"
    bdir = toolchain.BUILD / "rtl" / name
    stamp = bdir / ".mutant_stamp"
    if stamp.is_file() and stamp.read_text() == h.hexdigest() and (bdir / top).exists():
        return bdir
    if bdir.exists():
        shutil.rmtree(bdir)
    # the build tree is <out>/work/<mutant>/build; runtime objects are shared in <out>/seed
    seed = seed_dir(toolchain.BUILD.parent.parent.parent, name) if "ATS_BUILD_DIR" in os.environ else None
    if seed is not None and seed.is_dir():
        bdir.mkdir(parents=True)
        # every object depends on the generated Vtop.mk; dated an hour ahead, the copies
        # stay newer than it (make may warn about clock skew; harmless in this private tree)
        later = time.time() + 3600
        for f in seed.iterdir():
            shutil.copy2(f, bdir / f.name)
            os.utime(bdir / f.name, (later, later))
    bdir = (axi_top.build(params, tag=name) if top == axi_top.TOP
            else toolchain.build_rtl(params, tag=name, toplevel=top))
    for g in bdir.glob("*.gch"):
        g.unlink()
    if seed is not None and not seed.exists():
        _store_seed(bdir, seed)
    stamp.write_text(h.hexdigest())
    return bdir


# Verilator runtime objects: the same for every mutant of one parameter set (they do
# not include the generated model), about half of a build's compile time.
_RUNTIME = ("verilated", "verilated_dpi", "verilated_vpi", "verilated_threads")


def seed_dir(out: Path, name: str) -> Path:
    """Where the runtime objects of build `name` are kept, per Verilator installation and build mode."""
    from tb import toolchain

    src = toolchain.verilator_root() / "include" / "verilated.cpp"
    key = f"{src}:{src.stat().st_mtime_ns}:{os.environ.get('ATS_ASSERTS', '')}"
    tag = hashlib.sha256(key.encode()).hexdigest()[:10]
    return out / "seed" / f"{name}_{tag}"


def _store_seed(bdir: Path, seed: Path) -> None:
    """Keep the runtime objects of a finished build for the next mutant builds (atomic rename)."""
    files = [bdir / f"{n}{ext}" for n in _RUNTIME for ext in (".o", ".d")]
    if not all(f.is_file() for f in files):
        return
    tmp = seed.parent / f".{seed.name}.{os.getpid()}"
    tmp.mkdir(parents=True, exist_ok=True)
    for f in files:
        shutil.copy2(f, tmp / f.name)
    try:
        tmp.rename(seed)
    except OSError:  # another worker stored it first
        shutil.rmtree(tmp, ignore_errors=True)


def _toplevel(module: str) -> str:
    """The smoke test drives ats_dev_top's AXI port itself; the block tests run on ats_tb_top."""
    from tb import axi_top, toolchain

    return toolchain.TOPLEVEL if module == "tb.smoke_test" else axi_top.TOP


def _has_make_target(target: str) -> bool:
    mk = ROOT / "Makefile"
    return mk.is_file() and re.search(rf"^{re.escape(target)}\s*:", mk.read_text(), re.M) is not None


def run_checks(cfg: Config, work: Path, all_checks: bool) -> dict:
    """Run the checks against the RTL in ATS_RTL_DIR; stop at the first failure unless all_checks."""
    from tb import toolchain
    from tb.atsbench import DEFAULT_PARAMS

    res: dict = {"checks": [], "killed_by": None, "failed_tests": [], "detail": ""}
    builds: dict[tuple, Path] = {}
    logs = work / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    for c in cfg.checks:
        t0 = time.time()
        entry = {"name": c.name, "result": "pass", "seconds": 0.0}
        res["checks"].append(entry)
        try:
            if c.requires and not (ROOT / c.requires).exists():
                entry["result"] = f"skipped ({c.requires} missing)"
                continue
            if c.module:
                params = dict(c.params)
                top = _toplevel(c.module)
                if (c.params, top) not in builds:
                    try:
                        builds[(c.params, top)] = _build(params, top)
                    except (Exception, SystemExit) as e:  # a mutant that does not build is not a kill
                        entry["result"] = "build-error"
                        res["error"] = f"build failed for {params}: {str(e).splitlines()[0] if str(e) else e!r}"
                        return res
                xml = work / "results" / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', c.name)}.xml"
                xml.parent.mkdir(parents=True, exist_ok=True)
                env = {"ATS_PARAMS": json.dumps({**DEFAULT_PARAMS, **params}),
                       "ATS_REPRO": f"python -m tb.mutants --only {work.name} (check {c.name})", **dict(c.env)}
                try:
                    toolchain.run_cocotb(c.module, builds[(c.params, top)], toplevel=top, testcase=c.testcase, extra_env=env,
                                         seed=c.seed, results_xml=str(xml),
                                         log_file=logs / f"{xml.stem}.log")
                except (Exception, SystemExit) as e:  # the runner exits when the simulator itself fails
                    entry["result"] = "fail"
                    res["failed_tests"] = _failed_tests(xml)
                    res["detail"] = str(e).splitlines()[0] if str(e) else repr(e)
            else:
                if c.make_target and not _has_make_target(c.make_target):
                    entry["result"] = "skipped (no make target)"
                    continue
                # ${PYTHON}, ${ATS_RTL_DIR}, ${ATS_BUILD_DIR} (and any other variable) are expanded
                env = dict(os.environ, PYTHON=sys.executable)
                cmd = [re.sub(r"\$\{(\w+)\}", lambda m: env.get(m.group(1), m.group(0)), x)
                       for x in c.command] or ["make", c.make_target]
                with open(logs / f"{c.name}.log", "w") as f:
                    try:
                        r = subprocess.run(cmd, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT, timeout=c.timeout)
                        rc = r.returncode
                    except subprocess.TimeoutExpired:
                        rc = "timeout"
                if rc != 0:
                    entry["result"] = "fail"
                    res["detail"] = f"{' '.join(cmd)}: exit {rc}"
        finally:
            entry["seconds"] = round(time.time() - t0, 1)
        if entry["result"] == "fail":
            res["killed_by"] = res["killed_by"] or c.name
            if not all_checks:
                break
    return res


def worker(cfg: Config, mid: str, work: Path, all_checks: bool) -> int:
    """Entry of the per-mutant process: ATS_RTL_DIR / ATS_BUILD_DIR are already set."""
    t0 = time.time()
    res = run_checks(cfg, work, all_checks)
    res["seconds"] = round(time.time() - t0, 1)
    (work / "result.json").write_text(json.dumps(res, indent=1))
    return 0


# --------------------------------------------------------------------------- driver


_lock = threading.Lock()
_procs: set[subprocess.Popen] = set()


def _run_one(cfg: Config, mid: str, edits: dict[str, str], out: Path, all_checks: bool, timeout: int) -> dict:
    work = out / "work" / mid
    (work / "logs").mkdir(parents=True, exist_ok=True)
    _sync_tree(RTL, work / "rtl", edits)
    (work / "result.json").unlink(missing_ok=True)
    env = dict(os.environ, ATS_RTL_DIR=str(work / "rtl"), ATS_BUILD_DIR=str(work / "build"))
    env.pop("PYTEST_CURRENT_TEST", None)   # else the cocotb runner exits the worker on a failing test
    # workers read the snapshot taken at the start, so editing the mutant file mid-run changes nothing
    cmd = [sys.executable, "-m", "tb.mutants", "--config", str(out / "mutants.toml"), "--worker", mid,
           "--work", str(work)]
    if all_checks:
        cmd.append("--all-checks")
    t0 = time.time()
    with open(work / "logs" / "worker.log", "w") as f:
        p = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=f, stderr=subprocess.STDOUT, start_new_session=True)
        with _lock:
            _procs.add(p)
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
        finally:
            with _lock:
                _procs.discard(p)
    secs = round(time.time() - t0, 1)
    rf = work / "result.json"
    if rf.is_file():
        res = json.loads(rf.read_text())
    elif p.returncode == -signal.SIGKILL:
        res = {"checks": [], "killed_by": "timeout", "failed_tests": [],
               "detail": f"no verdict within {timeout} s (hang)"}
    else:
        tail = (work / "logs" / "worker.log").read_text()[-400:]
        res = {"checks": [], "killed_by": None, "error": f"worker exit {p.returncode}: {tail}"}
    res["seconds"] = secs
    res["work"] = _rel(work)
    return res


def _status(m: Mutant | None, res: dict) -> str:
    if res.get("error"):
        return "error"
    if res.get("killed_by"):
        return "killed"
    return "survived"


def _fmt_by(res: dict) -> str:
    by = res.get("killed_by") or ""
    tests = res.get("failed_tests") or []
    return f"{by}:{','.join(tests)}" if by and tests else by


def report(cfg: Config, results: dict[str, dict], out: Path, wall: float, jobs: int) -> dict:
    rows = []
    for m in cfg.mutants:
        r = results.get(m.id)
        if r is None:
            status = "equivalent (not run)" if m.equivalent else "not run"
        else:
            status = _status(m, r)
            if m.equivalent:
                status = "equivalent" if status == "survived" else f"equivalent but {status}"
        rows.append({"id": m.id, "category": m.category, "file": m.file, "status": status,
                     "killed_by": _fmt_by(r) if r else "", "seconds": r.get("seconds") if r else None,
                     "breaks": m.breaks, "equivalent": m.equivalent,
                     "detail": (r or {}).get("error") or (r or {}).get("detail", ""),
                     "checks": (r or {}).get("checks", [])})
    ne = [r for r in rows if not r["equivalent"] and r["status"] != "not run"]
    killed = [r for r in ne if r["status"] == "killed"]
    survived = [r for r in ne if r["status"] == "survived"]
    errors = [r for r in rows if r["status"].endswith("error") or r["status"] == "equivalent but killed"]
    summary = {
        "mutants": len(cfg.mutants), "run": len(results) - (ORIGINAL in results),
        "non_equivalent_run": len(ne), "killed": len(killed), "survived": len(survived),
        "equivalent": sum(1 for r in rows if r["equivalent"]), "errors": len(errors),
        "kill_rate": round(len(killed) / len(ne), 4) if ne else None,
        "wall_seconds": round(wall, 1), "jobs": jobs,
        "checks": [c.name for c in cfg.checks],
    }
    if ORIGINAL in results:
        summary["baseline"] = _status(None, results[ORIGINAL])
        summary["baseline_seconds"] = results[ORIGINAL].get("seconds")
    rate = summary["kill_rate"]
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps({"summary": summary, "mutants": rows}, indent=1))
    md = ["# Mutation gate", "",
          f"{summary['killed']} of {summary['non_equivalent_run']} non-equivalent mutants killed "
          f"({'n/a' if rate is None else f'{100 * rate:.1f} %'}), {summary['survived']} survived, "
          f"{summary['equivalent']} equivalent, {summary['errors']} errors; "
          f"{summary['wall_seconds']:.0f} s wall with -j {jobs}.", "",
          "Checks, in order (the first that fails kills): " + ", ".join(f"`{c}`" for c in summary["checks"]), "",
          "| mutant | category | file | result | killed by | s | breaks |",
          "|---|---|---|---|---|---|---|"]
    for r in rows:
        if r["equivalent"]:
            continue
        md.append(f"| `{r['id']}` | {r['category']} | {r['file']} | {r['status']} | {r['killed_by']} | "
                  f"{r['seconds'] if r['seconds'] is not None else ''} | {r['breaks']} |")
    eq = [r for r in rows if r["equivalent"]]
    if eq:
        md += ["", "## Equivalent mutants", "", "| mutant | file | result | reason |", "|---|---|---|---|"]
        md += [f"| `{r['id']}` | {r['file']} | {r['status']} | {r['equivalent']} |" for r in eq]
    (out / "report.md").write_text("\n".join(md) + "\n")
    return summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tb.mutants", description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", type=Path, default=CONFIG)
    ap.add_argument("-j", "--jobs", type=int, default=2, help="mutants built and checked at once (default 2)")
    ap.add_argument("--only", default="", help="comma-separated mutant ids (default: all non-equivalent)")
    ap.add_argument("--equivalent", action="store_true",
                    help="also run the mutants marked equivalent (each must survive)")
    ap.add_argument("--all-checks", action="store_true", help="run every check, not only up to the first kill")
    ap.add_argument("--no-baseline", action="store_true", help="skip the checks on the unmutated RTL")
    ap.add_argument("--timeout", type=int, default=1800, help="seconds per mutant before it counts as hung")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--list", action="store_true", help="validate the mutant file, list the mutants, exit")
    ap.add_argument("--keep-builds", action="store_true", help="keep each mutant's build tree (default: removed "
                    "after its verdict unless it survived)")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)

    try:
        cfg = load(a.config)
        if a.worker:
            return worker(cfg, a.worker, a.work.resolve(), a.all_checks)
        validate(cfg)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if a.list:
        for m in cfg.mutants:
            print(f"{m.id:32s} {m.category:14s} rtl/{m.file:16s} {'EQUIVALENT: ' + m.equivalent if m.equivalent else m.breaks}")
        print(f"{len(cfg.mutants)} mutants, {sum(1 for m in cfg.mutants if m.equivalent)} marked equivalent; "
              f"checks: {', '.join(c.name for c in cfg.checks)}")
        return 0

    ids = [x for x in a.only.split(",") if x]
    unknown = [x for x in ids if x not in {m.id for m in cfg.mutants}]
    if unknown:
        print(f"error: unknown mutant id(s) {unknown} (see --list)", file=sys.stderr)
        return 2
    todo = [m for m in cfg.mutants if (m.id in ids if ids else (a.equivalent or not m.equivalent))]
    out = a.out.resolve()   # the cocotb runner takes relative result paths as relative to the build
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(cfg.path, out / "mutants.toml")
    t_start = time.time()
    results: dict[str, dict] = {}
    print(f"[mutants] {len(todo)} mutants, checks: {', '.join(c.name for c in cfg.checks)}; -j {a.jobs}", flush=True)

    if not a.no_baseline:
        res = _run_one(cfg, ORIGINAL, {}, out, True, a.timeout)
        results[ORIGINAL] = res
        st = _status(None, res)
        print(f"[mutants] baseline (unmutated rtl/): {'all checks pass' if st == 'survived' else st + ' ' + _fmt_by(res)}"
              f" ({res['seconds']:.0f} s)", flush=True)
        if st != "survived":
            print(f"error: the checks fail on the unmutated RTL ({_fmt_by(res) or res.get('error')}); "
                  f"see {res['work']}/logs", file=sys.stderr)
            report(cfg, results, out, time.time() - t_start, a.jobs)
            return 1

    done = 0
    with cf.ThreadPoolExecutor(max_workers=max(1, a.jobs)) as ex:
        futs = {ex.submit(_run_one, cfg, m.id, apply(m, RTL), out, a.all_checks, a.timeout): m for m in todo}
        try:
            for f in cf.as_completed(futs):
                m = futs[f]
                res = f.result()
                results[m.id] = res
                done += 1
                st = _status(m, res)
                extra = _fmt_by(res) if st == "killed" else (res.get("error", "")[:120] if st == "error" else "")
                flag = "" if (st == "killed") != bool(m.equivalent) else "  <--"
                print(f"[{done:>3}/{len(todo)}] {m.id:34s} {st:8s} {extra:48s} {res['seconds']:6.0f} s{flag}",
                      flush=True)
                if not a.keep_builds and st == "killed":
                    shutil.rmtree(out / "work" / m.id / "build", ignore_errors=True)
        except KeyboardInterrupt:
            with _lock:
                for p in _procs:
                    os.killpg(p.pid, signal.SIGKILL)
            raise
    summary = report(cfg, results, out, time.time() - t_start, a.jobs)
    rate = summary["kill_rate"]
    print(f"[mutants] killed {summary['killed']}/{summary['non_equivalent_run']} non-equivalent "
          f"({'n/a' if rate is None else f'{100 * rate:.1f} %'}), survived {summary['survived']}, equivalent {summary['equivalent']}, "
          f"errors {summary['errors']}; {summary['wall_seconds']:.0f} s; {_rel(out / 'report.md')}", flush=True)
    bad = [r for r in json.loads((out / "results.json").read_text())["mutants"]
           if r["status"] in ("survived", "error", "equivalent but killed", "equivalent but error")]
    for r in bad:
        print(f"[mutants] {r['status'].upper()}: {r['id']} ({r['file']}): {r['breaks'] if not r['equivalent'] else r['equivalent']}"
              + (f" -- {r['detail'][:200]}" if r["status"].endswith("error") else ""), file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
