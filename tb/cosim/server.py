"""The co-simulation server: one simulator process that stays up and serves every request.

`run_scenario_rtl(scenario, policy, seed)` (used by `python -m tb.matrix
--device rtl`, tb.sim, the tests) sends a run to the process-wide
`CosimServer`: one Verilator process running tb/cosim_server.py, so a matrix
of 57 cells pays the simulator start-up once. `compare_with_ref` adds the
verdict `rtl-vs-ref` (the RTL and the reference device fail the same rules).
"""
from __future__ import annotations

import atexit
import json
import os
import re
import sys
import threading
import time
from pathlib import Path
from typing import Any

from tb.cosim.build import DEVICE_BUGS, build, run_sim, scenario_params
from tb.cosim.config import BUILD

class CosimServer:
    """One simulator process serving requests: `call("scenario", ...)` -> result.

    The simulator runs tb/cosim_server.py, which connects back over a Unix
    socket and executes each request (a function of tb.cosim_server's
    HANDLERS) in simulated time, returning its picklable result. The
    simulator is paused while Python waits for the next request, so the
    socket read costs no simulated time.
    """

    def __init__(self, *, waves: bool = False, wave_file: Path | None = None, out: Path | None = None,
                 seed: int = 1, params: dict | None = None, cfg: dict | None = None, quiet: bool = True) -> None:
        from multiprocessing.connection import Listener

        self.waves = waves
        self.params = dict(params or {})
        self.t_build0 = time.monotonic()
        self.build_dir = build(waves=waves, params=params)
        self.build_seconds = time.monotonic() - self.t_build0
        self.out = Path(out or (BUILD / "cosim" / ("waves" if waves else "run")))
        self.out.mkdir(parents=True, exist_ok=True)
        sock = Path(f"/tmp/cosim_{os.getpid()}_{id(self):x}.sock")
        if sock.exists():
            sock.unlink()
        self.authkey = os.urandom(16)
        self.listener = Listener(str(sock), family="AF_UNIX", authkey=self.authkey)
        self.sock = sock
        self.exc: BaseException | None = None
        self.conn = None
        env = {"COSIM_ADDR": str(sock), "COSIM_AUTHKEY": self.authkey.hex(),
               "COSIM_CFG": json.dumps(cfg or {}), "ATS_PARAMS": json.dumps(params or {})}
        log = self.out / "sim.log"
        self.log_path = log

        def target() -> None:
            try:
                run_sim("tb.cosim_server", self.build_dir, env=env, waves=waves, wave_file=wave_file, seed=seed,
                        test_dir=self.out, log_file=log if quiet else None)
            except BaseException as e:  # noqa: BLE001
                self.exc = e

        self.t_start0 = time.monotonic()
        self.thread = threading.Thread(target=target, daemon=True, name="cosim-sim")
        self.thread.start()
        self._accept()
        self.start_seconds = time.monotonic() - self.t_start0
        atexit.register(self.close)

    def _accept(self) -> None:
        import socket

        self.listener._listener._socket.settimeout(1.0)  # noqa: SLF001 - poll so a dead simulator is noticed
        deadline = time.monotonic() + 300
        while self.conn is None:
            try:
                self.conn = self.listener.accept()
            except (socket.timeout, TimeoutError):
                if not self.thread.is_alive() or time.monotonic() > deadline:
                    raise RuntimeError(f"co-simulation did not start (see {self.log_path}): {self.exc!r}")

    def call(self, handler: str, **kw: Any) -> Any:
        if self.conn is None:
            raise RuntimeError("co-simulation server is closed")
        try:
            self.conn.send((handler, kw))
            while not self.conn.poll(1.0):
                if not self.thread.is_alive():
                    raise RuntimeError(f"simulator exited during {handler!r} (see {self.log_path})")
            ok, value = self.conn.recv()
        except (EOFError, OSError, BrokenPipeError) as e:
            self.conn = None
            raise RuntimeError(f"co-simulation connection lost during {handler!r}: {e!r} (see {self.log_path})") \
                from None
        if not ok:
            raise CosimRemoteError(value)
        return value

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.send(None)
                self.conn.close()
            except OSError:
                pass
            self.conn = None
        self.thread.join(timeout=120)
        try:
            self.listener.close()
        except OSError:
            pass
        if self.sock.exists():
            self.sock.unlink()
        if self.exc is not None and not isinstance(self.exc, AssertionError):
            print(f"[cosim] simulator ended with {self.exc!r} (see {self.log_path})", file=sys.stderr)

    def __enter__(self) -> "CosimServer":
        return self

    def __exit__(self, *a: Any) -> None:
        self.close()


class CosimRemoteError(RuntimeError):
    """A request failed inside the simulator; the message carries its traceback."""

    def scenario_error(self) -> Any:
        """The ScenarioError (file, line, problem) the simulator raised, or None for any other failure."""
        from model.scenario import ScenarioError, ScenarioRunError

        first = (str(self).splitlines() or [""])[0]
        m = re.match(r"^(ScenarioRunError|ScenarioError): (.+?)(?::(\d+))?: (.*)$", first)
        if m is None:
            return None
        cls = ScenarioRunError if m.group(1) == "ScenarioRunError" else ScenarioError
        return cls(m.group(2), int(m.group(3)) if m.group(3) else None, m.group(4))


_server: CosimServer | None = None
_variant_servers: dict[str, CosimServer] = {}


def _portable(scenario: Any) -> Any:
    """Scenario objects and texts travel as they are; a path becomes absolute (the
    simulator runs in its own directory)."""
    if isinstance(scenario, Path) or (isinstance(scenario, str) and "\n" not in scenario):
        return str(Path(scenario).resolve())
    return scenario


def server() -> CosimServer:
    """The process-wide co-simulation server (started on first use)."""
    global _server
    if _server is None or _server.conn is None:
        _server = CosimServer()
    return _server


def variant_server(bug: str) -> CosimServer:
    """The process-wide co-simulation server of a test-only broken device (DEVICE_BUGS)."""
    s = _variant_servers.get(bug)
    if s is None or s.conn is None:
        if bug not in DEVICE_BUGS:
            raise ValueError(f"unknown device bug {bug!r} (known: {', '.join(DEVICE_BUGS)})")
        s = _variant_servers[bug] = CosimServer(params=DEVICE_BUGS[bug], out=BUILD / "cosim" / f"run-{bug}")
    return s


_param_servers: dict[str, CosimServer] = {}


def params_server(params: dict) -> CosimServer:
    """The process-wide co-simulation server of a build with these RTL parameters (scenario_params)."""
    from tb import toolchain

    tag = toolchain.param_tag(params)
    s = _param_servers.get(tag)
    if s is None or s.conn is None:
        s = _param_servers[tag] = CosimServer(params=params, out=BUILD / "cosim" / f"run-{tag}")
    return s


def run_scenario_rtl(scenario: Any, policy: str, seed: int = 0, *, compare_ref: bool = True,
                     srv: CosimServer | None = None, device_bug: str | None = None, **kw: Any) -> Any:
    """`model.scheduler.run_scenario` on the RTL; returns its RunResult.

    This is the entry point `python -m tb.matrix --device rtl` uses. A
    `Scenario` object, a path or scenario text is accepted. With
    `compare_ref` the same scenario, policy and seed also run on the
    reference device, and a verdict `rtl-vs-ref` (failing when the two runs
    fail different rules) is added, so a disagreement shows in the matrix
    cell it belongs to. `device_bug` ("no-drain", "no-poison") runs the
    test-only broken RTL instead (no comparison: it is meant to differ).
    """
    from model.scenario import ScenarioRunError

    payload = _portable(scenario)
    try:
        need = scenario_params(scenario if not isinstance(scenario, (str, Path)) else _load_any(scenario))
    except Exception:  # noqa: BLE001 - a bad scenario is reported by the simulator's run, as before
        need = {}
    if device_bug:
        compare_ref = False
        srv = srv or variant_server(device_bug)
    if need and (srv is None or {k: srv.params.get(k, 0) for k in need} != need):
        # the scenario needs another build (an RTL parameter): its own server
        srv = params_server({**(srv.params if srv is not None else {}), **need})
    try:
        out = (srv or server()).call("scenario", scenario=payload, policy=policy, seed=seed, **kw)
    except CosimRemoteError as e:
        se = e.scenario_error()
        if se is not None:
            raise ScenarioRunError(se.path, se.line, f"on the RTL: {se.message}") from None
        raise
    res = out["result"]
    if compare_ref:
        res.verdicts.append(compare_with_ref(res, scenario, policy, seed, mode=kw.get("mode", "script")))
    return res


def compare_with_ref(res: Any, scenario: Any, policy: str, seed: int, mode: str = "script") -> Any:
    """A verdict `rtl-vs-ref`: the RTL run and the reference-device run fail the same rules."""
    from model.check import Verdict
    from model.scheduler import run_scenario_sync

    sc = scenario if not isinstance(scenario, (str, Path)) else _load_any(scenario)
    ref = run_scenario_sync(sc, policy, seed, mode=mode)
    rtl_rules = {v.rule for v in res.verdicts if not v.ok and v.rule not in ("rtl-vs-ref",)}
    ref_rules = set(ref.failed_rules)
    if rtl_rules == ref_rules:
        return Verdict.passed("rtl-vs-ref", f"RTL and reference device fail the same rules "
                                            f"({', '.join(sorted(rtl_rules)) or 'none'})")
    return Verdict("rtl-vs-ref", False,
                   f"[rtl-vs-ref] {getattr(sc, 'name', sc)} [{policy}] seed {seed}: the RTL fails "
                   f"{', '.join(sorted(rtl_rules)) or 'nothing'} but the reference device fails "
                   f"{', '.join(sorted(ref_rules)) or 'nothing'}")


def _load_any(scenario: Any) -> Any:
    from model.scenario import load, parse

    if isinstance(scenario, str) and "\n" in scenario:
        return parse(scenario, "<text>")
    return load(scenario)


ScenarioErrorTypes = ("ScenarioError", "ScenarioRunError")  # what CosimRemoteError.scenario_error recognises
