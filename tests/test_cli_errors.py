"""Bad input gets one clear line, never a traceback (issue: "Bad input").

Scenario files: a problem is `error: FILE:LINE: problem` and exit 2, on the
reference device (`python -m model.scenario`) and on the RTL (`python -m
tb.sim`). Command lines: argparse rejects a bad value before anything runs
(exit 2, `error: argument --x: ...`). Each case here failed before its fix:
a traceback, a wrong line number, a silent acceptance or a hang.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from model.scenario import MAX_FILE_BYTES, ScenarioError, load, parse
from model.scheduler import run_scenario_sync

ROOT = Path(__file__).resolve().parent.parent
SETUP = "vma 0x10000000 0x10010000 anon rw\npage A 0x10000000 present\npage B 0x10002000 cow\n"
ROW = "[Time 0]\nDEV-thread-0 {read A}\n"


#: a progress line of a build (model.progress without a terminal): "[what] started|running ...|done ..."
PROGRESS_LINE = re.compile(r"^\[[^\]\n]+\] (started|running |done |\d)")


def cli(module: str, *args: str, timeout: float = 120, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, **kw)


def one_error_line(r: subprocess.CompletedProcess, path: Path | str, line: int) -> str:
    """The single stderr line of a refused scenario; checks exit 2 and `error: FILE:LINE: `."""
    assert r.returncode == 2, (r.returncode, r.stdout[-2000:], r.stderr[-2000:])
    assert "Traceback" not in r.stdout + r.stderr, r.stderr[-3000:]
    # a first run may build the simulator: its progress lines (model.progress, plain
    # form) come first and are not part of the error
    lines = [ln for ln in r.stderr.splitlines() if not PROGRESS_LINE.match(ln)]
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith(f"error: {path}:{line}: "), (lines[0], line)
    return lines[0]


def argparse_error(r: subprocess.CompletedProcess, arg: str) -> str:
    assert r.returncode == 2, (r.returncode, r.stdout[-2000:], r.stderr[-2000:])
    assert "Traceback" not in r.stderr, r.stderr[-3000:]
    last = r.stderr.strip().splitlines()[-1]
    assert f"error: argument {arg}: " in last, r.stderr
    return last


def refused(text: str, line: int, words: str) -> None:
    with pytest.raises(ScenarioError) as e:
        parse(text, "t.scn")
    assert e.value.line == line and words in str(e.value), str(e.value)


# --------------------------------------------------------------------------- scenario files

def test_non_utf8_file_names_its_line_on_the_cli_and_on_the_rtl(tmp_path):
    f = tmp_path / "latin1.scn"
    f.write_bytes(SETUP.encode() + b"# caf\xe9 au lait\n" + ROW.encode())
    msg = one_error_line(cli("model.scenario", str(f)), f, 4)
    assert "not UTF-8" in msg and "0xe9" in msg
    # tb.sim reads the file before it builds or starts a simulator: the same line, no UnicodeDecodeError
    r = cli("tb.sim", "--scenario", str(f), "--waves", "0", "--out", str(tmp_path / "sim"))
    assert one_error_line(r, f, 4) == msg


def test_input_size_is_limited_so_random_bytes_fail_fast(tmp_path):
    t0 = time.monotonic()
    r = cli("model.scenario", "/dev/urandom", timeout=30)
    assert time.monotonic() - t0 < 20
    assert r.returncode == 2 and "Traceback" not in r.stderr and len(r.stderr.splitlines()) == 1, r.stderr
    assert re.match(r"^error: /dev/urandom:\d+: ", r.stderr), r.stderr
    big = tmp_path / "big.scn"
    big.write_text(SETUP + "#" * MAX_FILE_BYTES + "\n" + ROW)
    with pytest.raises(ScenarioError, match="larger than 1 MiB"):
        load(big)


@pytest.mark.parametrize("directive,first,second", [
    ("pasid", "pasid 1", "pasid 2"),
    ("cycles-per-step", "cycles-per-step 10", "cycles-per-step 20"),
    ("wp-fault", "wp-fault lock-wait", "wp-fault refcount"),
    ("scenario", "scenario a", "scenario b"),
    ("threads", "threads CPU-thread-0", "threads DEV-thread-0"),
])
def test_duplicate_singleton_lines_are_refused_at_the_second(directive, first, second):
    refused(f"{first}\n# between\n{second}\n" + SETUP + ROW, 3, f"'{directive}' given twice (first on line 1)")


@pytest.mark.parametrize("sep", ["\x0c", "\u2028", "\u2029", "\x1c", "\x85", "\x0b"])
def test_form_feed_and_unicode_separators_do_not_start_a_line(sep):
    text = f"# page one{sep}page two of the comment\n" + SETUP + "[Time 0]\nDEV-thread-0 {read Q}\n"
    refused(text, 6, "unknown address label 'Q'")
    # and a CRLF file keeps its numbering too
    refused(text.replace("\n", "\r\n"), 6, "unknown address label 'Q'")


@pytest.mark.parametrize("action,words", [
    ("store A =", "'=' must stand between the address and a value"),
    ("store = A 5", "'=' must stand between the address and a value"),
    ("store A = = 5", "'=' must stand between the address and a value"),
])
def test_store_equals_needs_a_value(action, words):
    refused(SETUP + f"[Time 0]\nCPU-thread-0 {{{action}}}\n", 5, words)
    sc = parse(SETUP + "[Time 0]\nCPU-thread-0 {store A = 7}\nDEV-thread-0 {write A = 8}\n", "t.scn")
    assert [a.value for a in sc.actions()] == [7, 8]


@pytest.mark.parametrize("action,words", [
    ("munmap A 0x800000000000", "runs past the user address space"),
    ("madv_dontneed A 0x7ffff0000001", "runs past the user address space"),
    ("mprotect A 0xffffffffffffffff ro", "runs past the user address space"),
])
def test_lengths_past_the_user_address_space_are_refused_when_read(action, words):
    refused(SETUP + f"[Time 0]\nCPU-thread-0 {{{action}}}\n", 5, words)


@pytest.mark.parametrize("text,line", [
    (SETUP + "[Time 0]\nDEV-thread-8 {read A}\n", 5),
    (SETUP + "threads CPU-thread-0 DEV-thread-9\n" + ROW, 4),
])
def test_device_threads_beyond_the_device_are_refused_when_read(text, line):
    refused(text, line, "the device has 8 threads (DEV-thread-0..DEV-thread-7)")


def test_long_lines_are_not_echoed_whole(tmp_path):
    f = tmp_path / "long.scn"
    f.write_text(SETUP + "[Time 0]\nDEV-thread-0 {read " + "x" * 20_000 + "}\n")
    msg = one_error_line(cli("model.scenario", str(f)), f, 5)
    assert len(msg) < 300 and "(20002 characters)" in msg, msg


def test_errors_at_the_end_of_the_file_name_its_last_line():
    refused(SETUP + "# only setup\n\n", 3, "no '[Time ...]' rows")  # the last line with content
    refused("", 1, "no 'vma' in the setup")


def test_limits_on_numbers_keep_runs_finite():
    refused(SETUP + "[Time 0]\nCPU-thread-0 {wait 99999999999999}\n", 5, "at most 10,000,000 cycles")
    refused("cycles-per-step 99999999999\n" + SETUP + ROW, 1, "cycles-per-step must be 1..1,000,000")
    refused("vma 0x10000000 0x20000000 anon rw\npage - 0x10000000 none count=99999999999\n" + ROW, 2,
            "count must be 1..16384")


# --------------------------------------------------------------------------- the stall detector

@pytest.mark.parametrize("text", [
    SETUP + "[Time 0]\nDEV-thread-0 {wait 250000; read A}\n",
    SETUP + "[Time 0]\nCPU-thread-0 {wait 250000; store B}\n",
    "cycles-per-step 250000\n" + SETUP + "[Time 0]\nCPU-thread-0 {store B}\nDEV-thread-0 {read B}\n",
])
@pytest.mark.parametrize("mode", ["script", "random"])
def test_long_waits_and_slow_steps_are_not_stalls(text, mode):
    res = run_scenario_sync(parse(text, "t.scn"), "deferred", 3, mode=mode)
    assert res.metrics["cycles"] >= 250_000 and not res.failed_rules - {"stale-window"}


def test_a_real_stall_says_what_stalled():
    text = SETUP + "[Time 0]\nCPU-thread-0 {store B until pt_lock}\n[Time 1]\nCPU-thread-1 {store B}\n"
    with pytest.raises(ScenarioError) as e:
        run_scenario_sync(parse(text, "t.scn"), "deferred", 0)
    assert e.value.line == 6, str(e.value)
    assert "cannot finish (no progress for 200000 cycles)" in str(e.value)
    assert "CPU-thread-1 ('store B', line 7) waits: pt_lock held by CPU-thread-0" in str(e.value)


# --------------------------------------------------------------------------- command lines

@pytest.mark.parametrize("module,args,arg", [
    ("tb.sim", ["--latency", "1,0"], "--latency"),
    ("tb.sim", ["--latency", "5"], "--latency"),
    ("tb.sim", ["--latency", "abc"], "--latency"),
    ("tb.sim", ["--latency", "0,0"], "--latency"),
    ("tb.sim", ["--latency", "6,3"], "--latency"),
    ("tb.stress", ["--latency", "1,0"], "--latency"),
    ("tb.stress", ["--seeds", "-1"], "--seeds"),
    ("tb.stress", ["--seeds", "0"], "--seeds"),
    ("tb.stress", ["--jobs", "0"], "--jobs"),
    ("tb.stress", ["--batch", "0"], "--batch"),
    ("tb.stress", ["--scheduler", "localhost:8786"], "--scheduler"),
    ("tb.figures", ["--mem-latency", "-5"], "--mem-latency"),
    ("tb.figures", ["--mem-latency", "0"], "--mem-latency"),
    ("tb.bench", ["--seeds", "0"], "--seeds"),
    ("tb.sim", ["--seed", "-3"], "--seed"),
])
def test_bad_numbers_on_the_command_line_are_refused(module, args, arg):
    argparse_error(cli(module, *args, timeout=60), arg)


@pytest.mark.parametrize("module,args", [
    ("tb.sim", ["--out", "/dev/null"]),
    ("tb.stress", ["--out", "/dev/null"]),
    ("tb.figures", ["--out", "/dev/null"]),
    ("tb.bench", ["--out", "/dev/null"]),
    ("model.matrix", ["--out", "/dev/null"]),
])
def test_an_output_directory_that_is_a_file_is_refused_up_front(module, args):
    t0 = time.monotonic()
    msg = argparse_error(cli(module, *args, timeout=60), "--out")
    assert "/dev/null: exists and is not a directory" in msg and time.monotonic() - t0 < 30


def test_matrix_doc_in_a_missing_directory_is_refused_before_the_run(tmp_path):
    r = cli("model.matrix", "--out", str(tmp_path / "m"), "--doc", str(tmp_path / "nope" / "MATRIX.md"))
    assert "does not exist" in argparse_error(r, "--doc")
    assert not (tmp_path / "m" / "matrix.json").exists(), "the matrix ran before the --doc path was checked"


def test_matrix_says_which_device_ran_and_writes_its_own_directory(tmp_path):
    r = cli("model.matrix", "--only", "cow")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0].startswith("== verdict matrix on the reference device"), r.stdout
    assert "wrote build/matrix/ref/matrix.json" in r.stdout
    import json

    assert json.loads((ROOT / "build" / "matrix" / "ref" / "matrix.json").read_text())["device"] == "ref"
    # `make matrix DEVICE=rtl` writes build/matrix/rtl: the reference results stay
    dry = subprocess.run(["make", "-n", "matrix", "DEVICE=rtl"], cwd=ROOT, capture_output=True, text=True)
    assert "tb.matrix --device rtl --out build/matrix/rtl" in dry.stdout, dry.stdout


def test_matrix_reads_its_toml_on_python_3_10_with_tomli():
    code = ("import sys; sys.modules['tomllib'] = None; sys.version_info = (3, 10, 0, 'final', 0)\n"
            "import model.matrix as m\nassert m.tomllib.__name__ == 'tomli', m.tomllib\n"
            "print(len(m.load_rows()))")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0 and int(r.stdout) >= 19, r.stderr
    assert re.search(r'^  "tomli>=2",', (ROOT / "pyproject.toml").read_text(), re.M)


@pytest.mark.parametrize("module,args", [
    ("model.scenario", ["scenarios/cow_timeline.scn", "--timeline"]),
    ("model.matrix", ["--out", "{tmp}"]),
])
def test_a_closed_stdout_ends_quietly(module, args, tmp_path):
    """`... | head`: the reader goes away; no BrokenPipeError traceback."""
    p = subprocess.Popen([sys.executable, "-m", module, *[a.format(tmp=tmp_path) for a in args]], cwd=ROOT,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdout.close()
    err = p.stderr.read().decode()
    assert p.wait(timeout=120) in (0, 1) and "Traceback" not in err and "BrokenPipe" not in err, err


def test_every_cli_ends_through_run_main():
    """The quiet ending of the previous test, for the CLIs that need a simulator to produce output."""
    for f in ("tb/sim.py", "tb/stress.py", "tb/figures.py", "tb/bench.py", "model/matrix.py", "model/scenario.py"):
        tail = (ROOT / f).read_text().split('if __name__ == "__main__":')[-1]
        assert "run_main(main)" in tail, f


# --------------------------------------------------------------------------- read-only build/

def as_other_user() -> list[str]:
    """A command prefix that runs as a user who cannot write build/ (root ignores permissions)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: cannot make build/ read-only for one process")
    return [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]


@pytest.fixture
def shared_tmp():
    """A directory the other user can write (pytest's own temporary directories are private)."""
    import tempfile

    d = Path(tempfile.mkdtemp(prefix="ats_ro_"))
    d.chmod(0o777)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_read_only_build_matrix_fails_in_one_line_or_writes_elsewhere(shared_tmp):
    pre = as_other_user()
    if not pre:
        pytest.skip("not root: build/ is writable by this user")
    out = shared_tmp / "m"
    r = subprocess.run([*pre, sys.executable, "-m", "model.matrix"], cwd=ROOT, capture_output=True, text=True)
    assert "cannot" in argparse_error(r, "--out")
    r = subprocess.run([*pre, sys.executable, "-m", "model.matrix", "--out", str(out)], cwd=ROOT,
                       capture_output=True, text=True)
    assert r.returncode == 0 and (out / "matrix.json").exists(), r.stderr


@pytest.mark.rtl
def test_read_only_build_sim_uses_the_finished_build(shared_tmp):
    from tb.rtldev import build

    pre = as_other_user()
    if not pre:
        pytest.skip("not root: build/ is writable by this user")
    build(waves=False)  # a complete build (cached; made now if missing)
    out = shared_tmp / "sim"
    r = subprocess.run([*pre, sys.executable, "-m", "tb.sim", "--policy", "deferred", "--waves", "0"], cwd=ROOT,
                       capture_output=True, text=True, timeout=300)
    assert "cannot" in argparse_error(r, "--out")
    r = subprocess.run([*pre, sys.executable, "-m", "tb.sim", "--policy", "deferred", "--waves", "0", "--out",
                        str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and "VIOLATION: ordering" in r.stdout, r.stdout[-2000:] + r.stderr[-3000:]
    assert "Traceback" not in r.stderr


# --------------------------------------------------------------------------- run-time errors on the RTL

@pytest.mark.rtl
def test_run_time_scenario_error_on_the_rtl_is_one_line(tmp_path):
    """A thread starts an operation while its previous one is still preempted."""
    f = tmp_path / "preempted.scn"
    f.write_text(SETUP + "[Time 0]\nCPU-thread-0 {store B until pt_unlock}\n[Time 1]\nCPU-thread-0 {store A}\n")
    ref = cli("model.scenario", str(f), "--policy", "deferred")
    msg = one_error_line(ref, f, 7)
    assert "still preempted" in msg
    for waves in ("0", "1"):
        r = cli("tb.sim", "--scenario", str(f), "--policy", "deferred", "--waves", waves, "--out",
                str(tmp_path / f"sim{waves}"), timeout=600)
        assert one_error_line(r, f, 7) == msg
