"""Where stress batches run: Dask distributed tasks, or threads of this process.

`make stress` hands batches of seeds to Dask (distributed): by default an
embedded LocalCluster (worker processes on this machine, no set-up, one
thread per worker), or an existing cluster given as `--scheduler
tcp://HOST:PORT`. Each worker keeps one long-lived simulator
(`SimulatorPlugin`: a co-simulation server, tb/cosim_server.py, started on
the worker's first RTL batch and closed with the worker), so a batch costs
no simulator start; the reference device needs none. A worker that dies
takes its simulator with it: its unfinished batches are rescheduled on the
others (nothing was written for them), and the nanny starts a replacement.

The driver (`run_batches`) keeps a bounded window of batches in flight and
appends each seed's line to the run's shard as its batch completes, so
memory stays flat in the number of seeds and an interrupt loses at most the
batches in flight.

`LocalEngine` runs the same batches on threads of this process, each with
its own simulator (the path `make stress` took before Dask); it is kept for
the side-by-side figures (tb.bench_cluster) and for debugging without a
cluster.

Running on Slurm or LSF: dask-jobqueue (docs/STRESS.md) starts the workers
as batch jobs and gives a scheduler address for `--scheduler`.
"""
from __future__ import annotations

import os
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor
from concurrent.futures import wait as cf_wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from distributed import WorkerPlugin

DEVICES = ("rtl", "ref")
# LocalCluster settings for batch work without a dashboard. By default each of its processes
# (scheduler, nannies, workers) wakes every 20 ms (event-loop watchdog) and 100 ms (memory
# monitor) and every worker samples its threads every 10 ms (statistical profiler): about a
# tenth of a core with nothing to do, measured; with these, under 2 %.
QUIET = {"distributed.worker.profile.enabled": False, "distributed.worker.memory.monitor-interval": "1s",
         "distributed.admin.tick.interval": "1s", "distributed.admin.system-monitor.interval": "2s"}


@dataclass(frozen=True)
class Work:
    """What every batch of one run needs besides its seeds (sent with each task; small)."""

    device: str  # rtl | ref
    mode: str  # random | directed
    policies: tuple[str, ...]
    latency: tuple[int, int] = (2, 5)
    reorder: bool = True
    bp: dict | None = None
    repro: str = ""  # replay command template ({seed}, {policy})
    gen: dict = field(default_factory=dict)  # model.random_scenario knobs


# --------------------------------------------------------------------------- one batch (on a worker)


def ref_lines(work: Work, seeds: Iterable[int]) -> list[dict]:
    """One line per seed on the reference device (model.refdev, no simulator)."""
    from model import coverage
    from model.director import Director
    from model.random_scenario import random_scenario
    from model.scheduler import run_scenario_sync

    out = []
    for seed in seeds:
        t0 = time.perf_counter()
        sc = random_scenario(seed, **work.gen)
        runs = {}
        for pol in work.policies:
            try:
                r = run_scenario_sync(sc, pol, seed, mode="random",
                                      director=Director() if work.mode == "directed" else None)
            except Exception as e:  # noqa: BLE001 - a run that raised is a result (an error row), not a lost seed
                runs[pol] = {"error": f"{type(e).__name__}: {e}"}
                continue
            t1 = time.perf_counter()
            bins = coverage.bins_of(r.trace, pol)
            fails = r.failures
            runs[pol] = {"failed": sorted({v.rule for v in fails}), "messages": [v.message for v in fails][:3],
                         "accesses": r.metrics["dev_commands"], "cycles": r.metrics["cycles"],
                         "bins": sorted(coverage.bin_key(b) for b in bins),
                         "coverage_seconds": round(time.perf_counter() - t1, 6)}
        out.append({"seed": seed, "mode": work.mode, "device": "ref", "runs": runs,
                    "seconds": round(time.perf_counter() - t0, 6)})
    return out


def rtl_lines(work: Work, seeds: list[int], server: Any) -> list[dict]:
    """One line per seed on the RTL: one `stress_batch` request to the simulator `server`."""
    t0 = time.perf_counter()
    rows = server.call("stress_batch", seeds=list(seeds), policies=list(work.policies), latency=work.latency,
                       reorder=work.reorder, bp=work.bp, directed=work.mode == "directed", repro=work.repro,
                       **work.gen)
    per_seed = (time.perf_counter() - t0) / max(1, len(seeds))
    lines = {s: {"seed": s, "mode": work.mode, "device": "rtl", "runs": {}, "seconds": round(per_seed, 6)}
             for s in seeds}
    for r in rows:
        if r.get("error"):
            run = {"error": r["error"]}
        else:
            bp = r.get("bp") or {}
            lat = bp.get("axi_latency") or {}
            run = {"failed": r["failed"], "messages": r["messages"],
                   "scoreboard": (r.get("scoreboard") or {}).get("errors", [])[:3],
                   "accesses": r["stats"].get("responses", 0), "cycles": r["cycles"], "bins": r["bin_list"],
                   "coverage_seconds": r.get("coverage_seconds", 0.0), "stalled": bp.get("stalled") or {},
                   "axi_latency": {"n": lat.get("n"), "max": lat.get("max"), "mean": lat.get("mean")}}
        lines[r["seed"]]["runs"][r["policy"]] = run
    return [lines[s] for s in seeds]


class SimulatorPlugin(WorkerPlugin):
    """One long-lived simulator per Dask worker, started by the worker's first RTL batch.

    Batches on one worker share it one at a time (a lock, for workers with
    several threads). A batch that loses the simulator (it crashed) drops it,
    so the next batch starts a new one; Dask retries the failed batch."""

    name = "ats-stress-simulator"
    idempotent = True

    def __init__(self, out: str) -> None:
        self.out = out

    def setup(self, worker: Any) -> None:
        self.worker_name = str(worker.name)
        self.lock = threading.Lock()
        self.server: Any = None

    def simulator(self) -> Any:
        if self.server is None:
            from tb.rtldev import CosimServer

            out = Path(self.out) / f"worker-{self.worker_name}"
            try:
                out.mkdir(parents=True, exist_ok=True)
            except OSError:  # a remote worker without the driver's file system: its own temporary directory
                import tempfile

                out = Path(tempfile.mkdtemp(prefix="ats-stress-"))
            self.server = CosimServer(out=out)
        return self.server

    def drop(self) -> None:
        if self.server is not None:
            try:
                self.server.close()
            finally:
                self.server = None

    def teardown(self, worker: Any) -> None:
        self.drop()


def dask_batch(work: Work, seeds: list[int]) -> list[dict]:
    """A Dask task: one batch on this worker (its simulator for the RTL)."""
    from distributed import get_worker

    w = get_worker()
    if work.device == "ref":
        lines = ref_lines(work, seeds)
    else:
        plugin = w.plugins[SimulatorPlugin.name]
        with plugin.lock:
            try:
                lines = rtl_lines(work, seeds, plugin.simulator())
            except Exception:
                plugin.drop()
                raise
    for ln in lines:
        ln["worker"] = w.address
    return lines


# --------------------------------------------------------------------------- engines


class DaskEngine:
    """Batches as Dask tasks: an embedded LocalCluster (`scheduler` None) or an existing cluster."""

    kind = "dask"

    def __init__(self, scheduler: str | None = None, n_workers: int | None = None, sim_out: Path | None = None,
                 quiet: bool = True) -> None:
        import copy
        import logging

        import dask
        from distributed import Client, LocalCluster

        t0 = time.monotonic()
        self.cluster = None
        if scheduler:
            self.client = Client(scheduler, timeout="30s")
        else:
            n = n_workers or os.cpu_count() or 1
            with dask.config.set(QUIET):
                self.cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                            dashboard_address=None, silence_logs=logging.CRITICAL,
                                            config=copy.deepcopy(dask.config.config))  # QUIET for the workers too
            self.client = Client(self.cluster)
        self.client.register_plugin(SimulatorPlugin(str(Path(sim_out or "build/stress/workers").resolve())))
        self.start_seconds = time.monotonic() - t0
        self.where = scheduler or f"LocalCluster, {len(self.client.nthreads())} worker process(es)"

    @property
    def slots(self) -> int:
        return max(1, sum(self.client.nthreads().values()))

    def submit(self, work: Work, seeds: list[int]) -> Any:
        return self.client.submit(dask_batch, work, seeds, pure=False, retries=1)

    @staticmethod
    def wait(fs: list) -> set:
        from distributed import wait

        return set(wait(fs, return_when="FIRST_COMPLETED").done)

    @staticmethod
    def cancel(fs: list) -> None:
        for f in fs:
            f.cancel()

    def close(self) -> None:
        try:
            self.client.close()
        finally:
            if self.cluster is not None:
                self.cluster.close()


class LocalEngine:
    """Batches on `jobs` threads of this process, each thread with its own simulator for the RTL."""

    kind = "local"

    def __init__(self, jobs: int = 1, sim_out: Path | None = None) -> None:
        t0 = time.monotonic()
        self.jobs = max(1, jobs)
        self.sim_out = Path(sim_out or "build/stress")
        self.pool = ThreadPoolExecutor(max_workers=self.jobs, thread_name_prefix="stress")
        self._local = threading.local()
        self._servers: list[Any] = []
        self._lock = threading.Lock()
        self.start_seconds = time.monotonic() - t0
        self.where = f"this process, {self.jobs} thread(s)"

    @property
    def slots(self) -> int:
        return self.jobs

    def _server(self) -> Any:
        srv = getattr(self._local, "server", None)
        if srv is None:
            from tb.rtldev import CosimServer

            with self._lock:
                i = len(self._servers)
                srv = CosimServer(out=self.sim_out / f"sim{i}")
                self._servers.append(srv)
            self._local.server, self._local.index = srv, i
        return srv

    def _batch(self, work: Work, seeds: list[int]) -> list[dict]:
        lines = ref_lines(work, seeds) if work.device == "ref" else rtl_lines(work, seeds, self._server())
        for ln in lines:
            ln["worker"] = f"local-{threading.current_thread().name}"
        return lines

    def submit(self, work: Work, seeds: list[int]) -> Any:
        return self.pool.submit(self._batch, work, seeds)

    @staticmethod
    def wait(fs: list) -> set:
        return set(cf_wait(fs, return_when=FIRST_COMPLETED).done)

    @staticmethod
    def cancel(fs: list) -> None:
        for f in fs:
            f.cancel()

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        for srv in self._servers:
            srv.close()
        self._servers.clear()


# --------------------------------------------------------------------------- the driver


def batches(seeds: Iterable[int], size: int) -> Iterator[list[int]]:
    chunk: list[int] = []
    for s in seeds:
        chunk.append(s)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@dataclass
class RunStats:
    """What one run of the driver did (the shards hold the results)."""

    submitted: int = 0  # seeds handed out
    written: int = 0  # seed lines appended to the shard
    failed: list[tuple[list[int], str]] = field(default_factory=list)  # (seeds, error) of batches that failed
    first_result_seconds: float | None = None
    wall_seconds: float = 0.0
    workers: set[str] = field(default_factory=set)


def run_batches(engine: Any, work: Work, seeds: Iterable[int], *, batch: int, write: Callable[[dict], None],
                progress: Any = None, window: int | None = None,
                on_line: Callable[[dict], None] | None = None) -> RunStats:
    """Hand `seeds` out in batches, at most `window` batches in flight (default: two per
    worker thread, so a worker always has its next batch), and `write` each seed's line as
    its batch completes. A batch that raised (after Dask's retry) is reported in
    `failed` and not written, so a resume runs it again. An exception in `write`,
    `on_line` or a KeyboardInterrupt cancels what is in flight and propagates."""
    st = RunStats()
    window = window or 2 * engine.slots
    todo = batches(seeds, batch)
    in_flight: dict[Any, list[int]] = {}
    t0 = time.monotonic()

    def fill() -> None:
        while len(in_flight) < window:
            chunk = next(todo, None)
            if chunk is None:
                return
            in_flight[engine.submit(work, chunk)] = chunk
            st.submitted += len(chunk)

    try:
        fill()
        while in_flight:
            for f in engine.wait(list(in_flight)):
                chunk = in_flight.pop(f)
                try:
                    lines = f.result()
                except Exception as e:  # noqa: BLE001 - reported with its seeds; a resume reruns them
                    st.failed.append((chunk, f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"))
                    continue
                if st.first_result_seconds is None:
                    st.first_result_seconds = time.monotonic() - t0
                for ln in lines:
                    write(ln)
                    st.written += 1
                    st.workers.add(str(ln.get("worker")))
                    if progress is not None:
                        progress.advance(1)
                    if on_line is not None:
                        on_line(ln)
            fill()
    finally:
        if in_flight:
            engine.cancel(list(in_flight))
        st.wall_seconds = time.monotonic() - t0
    return st


# --------------------------------------------------------------------------- progress


class SeedProgress:
    """A progress bar over seeds with rate and ETA (rich) on an interactive terminal; elsewhere
    (a pipe, a log file, CI=true) a plain line at most every `every` seconds, so a long run
    does not flood a log; nothing at all when `quiet`."""

    def __init__(self, total: int, label: str, *, quiet: bool = False, every: float = 60.0) -> None:
        from rich.console import Console

        self.total, self.label, self.every = total, label, every
        self.done = 0
        self.t0 = self._last = time.monotonic()
        self.console = Console(stderr=True)
        self.live = not quiet and self.console.is_terminal and os.environ.get("CI", "").lower() not in ("1", "true")
        self.plain = not quiet and not self.live
        self._bar = None
        if self.live:
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn,
                                       TimeElapsedColumn, TimeRemainingColumn)

            self._bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TaskProgressColumn(), TextColumn("{task.fields[rate]}"), TimeElapsedColumn(),
                                 TextColumn("ETA"), TimeRemainingColumn(), console=self.console,
                                 speed_estimate_period=60.0)
            self._task = self._bar.add_task(label, total=total, rate="")
            self._bar.start()

    def advance(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if self._bar is not None:
            speed = self._bar.tasks[0].speed
            self._bar.update(self._task, advance=n, rate=f"{speed:.1f} seeds/s" if speed else "")
        elif self.plain and (now - self._last >= self.every or self.done == self.total):
            self._last = now
            rate = self.done / max(1e-9, now - self.t0)
            eta = (self.total - self.done) / rate if rate else float("nan")
            print(f"[{self.label}] {self.done}/{self.total} seeds, {rate:.1f} seeds/s, ETA {eta:.0f} s",
                  flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def __enter__(self) -> "SeedProgress":
        return self

    def __exit__(self, *a: Any) -> None:
        self.close()
