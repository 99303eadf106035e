"""Build output goes to a log file; a failed build prints the log's tail and path; progress
stays readable in CI logs (tb/buildlog.py, tb/toolchain.py, tb/fpga.py, model/progress.py)."""
from __future__ import annotations

import io
import re
import sys
from pathlib import Path

import pytest

from model.progress import Progress, live_allowed
from tb import buildlog, fpga, toolchain

# 60 lines, each a syntax error Verilator reports with its line number: more than the
# 40 lines of tail a failure shows, so the first errors must not be in it.
BROKEN_SV = "module broken (input logic a_i);\n" + "".join(f"  wire w{i} = ;\n" for i in range(60)) + "endmodule\n"


@pytest.mark.rtl
def test_failed_verilator_build_prints_the_log_tail_and_path(tmp_path, monkeypatch, capfd):
    src = tmp_path / "broken.sv"
    src.write_text(BROKEN_SV)
    monkeypatch.setattr(toolchain, "BUILD", tmp_path / "build")
    monkeypatch.setenv("ATS_ASSERTS", "0")
    with pytest.raises(toolchain.BuildError) as ei:
        toolchain.build_rtl(toplevel="broken", sources=[src], tag="broken")
    msg = str(ei.value)
    log = tmp_path / "build" / "rtl" / "broken_noassert" / "build.log"
    lines = log.read_text().splitlines()
    assert len(lines) > buildlog.TAIL_LINES, "the known-bad file must make a log longer than the tail"
    assert f"last {buildlog.TAIL_LINES} lines of {log}" in msg
    assert msg.rstrip().endswith(f"full log {log}")
    assert "\n".join(lines[-buildlog.TAIL_LINES:]) in msg
    first = next(ln for ln in lines if "broken.sv:2:" in ln)  # the first error, far above the tail
    assert first not in msg, "more than the tail was printed"
    assert "broken.sv:" in msg  # the compiler's own words
    out, err = capfd.readouterr()
    assert "broken.sv:" not in out + err, "compiler output reached the console instead of the log"


def test_failed_tool_prints_the_log_tail_and_path(tmp_path):
    """The synthesis / place-and-route runner (tb/fpga.py): same rule, with a tool that fails."""
    log = tmp_path / "tool.log"
    cmd = [sys.executable, "-c", "import sys\nfor i in range(100): print(f'line {i}')\nsys.exit(3)"]
    with pytest.raises(fpga.FlowError) as ei:
        fpga._run(cmd, log, "fake-tool")
    msg = str(ei.value)
    assert msg.startswith("fake-tool failed (exit 3); last 40 lines of ")
    assert "line 60\n" in msg and "line 99" in msg and "line 59\n" not in msg
    assert str(log) in msg.splitlines()[-1]
    assert not log.with_suffix(".seconds").exists(), "a failed run is no duration estimate"


def test_tool_run_remembers_its_duration_for_the_next_eta(tmp_path):
    log = tmp_path / "ok.log"
    fpga._run([sys.executable, "-c", "print('done')"], log, "ok-tool")
    assert log.read_text() == "done\n"
    assert float(log.with_suffix(".seconds").read_text()) >= 0


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("env", [{"CI": "true", "FORCE_COLOR": "1"}, {"CI": "1", "TTY_COMPATIBLE": "1"}])
def test_ci_gets_no_live_bar_even_when_colour_is_forced(monkeypatch, env):
    """rich alone would animate under FORCE_COLOR / TTY_COMPATIBLE (one frame per refresh in the log)."""
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("TTY_INTERACTIVE", "1")
    assert not live_allowed(FakeTty())
    monkeypatch.delenv("CI")
    assert live_allowed(FakeTty()), "the known-good case: without CI the same terminal is live"
    assert not live_allowed(io.StringIO()), "a file is never live, even with colour forced"


def test_plain_progress_is_a_few_lines_without_carriage_returns():
    out = io.StringIO()
    with Progress("search", unit="schedules", stream=out, live=False, every=0.05) as bar:
        for _ in range(500):
            bar.advance()
        import time
        time.sleep(0.2)
    text = out.getvalue()
    lines = text.splitlines()
    assert "\r" not in text and "\x1b" not in text
    assert lines[0] == "[search] started"
    assert lines[-1].startswith("[search] 500 schedules, ") and "schedules/s" in lines[-1]
    assert 3 <= len(lines) <= 10, lines


def test_plain_progress_with_a_total_gives_an_eta():
    p = Progress("build", total=100, unit="files", stream=io.StringIO(), live=False)
    p.t0 -= 10  # 10 s in, 25 done: 75 more at 2.5/s
    p.completed = 25
    assert p.line().endswith("0:30 left")


def test_a_short_task_shows_nothing_with_after():
    out = io.StringIO()
    with Progress("cached build", clock=True, stream=out, live=False, after=5.0):
        pass
    assert out.getvalue() == ""


def test_explore_cli_reports_schedules_per_second_on_stderr(tmp_path, capsys, monkeypatch):
    """`make explore` under CI: a start line and a final count with its rate, results on stdout."""
    from model.explore import main

    monkeypatch.setenv("CI", "true")
    zap = Path(__file__).resolve().parent.parent / "scenarios" / "zap_threads.scn"
    assert main([str(zap), "--policy", "deferred", "--bound", "1", "--out", str(tmp_path), "--no-cex",
                 "--no-coverage"]) == 0
    cap = capsys.readouterr()
    lines = cap.err.splitlines()
    assert lines[0] == "[explore zap_threads [deferred]] started", lines
    m = re.match(r"\[explore zap_threads \[deferred\]\] (\d+) schedules, [\d,]+(\.\d)? schedules/s, ", lines[-1])
    assert m and int(m.group(1)) >= 1, lines
    assert "\r" not in cap.err and "schedules" not in cap.out.split("==", 1)[0]


def test_a_rate_below_ten_keeps_a_decimal():
    from model.progress import _fmt_rate

    assert [_fmt_rate(r) for r in (0.33, 9.96, 12.4, 12345.6)] == ["0.3", "10.0", "12", "12,346"]
