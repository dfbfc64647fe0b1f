"""Run modes: ``simple`` (crystals one after the other, in this process) and ``parallel``
(``jobs`` spawned worker processes, each taking the next crystal from a queue).

Both report progress to a :class:`ProgressSink` and return a :class:`RunReport` of per-crystal
outcomes. A stop request (Ctrl-C, SIGTERM) ends reading in the running crystals, lets them
finish what they read within the run's ``stop_timeout`` and skips the crystals not started yet.

Parallel mode never leaves a process behind: the parent kills the workers still running when
``stop_timeout`` has passed after a stop, or at once on a second Ctrl-C; a worker whose parent
died (even by ``kill -9``) stops its crystal as after SIGTERM and exits within ``stop_timeout``;
a worker that dies is reported as a failed crystal naming its exit code or signal.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import multiprocessing as mp
import os
import queue as _queue
import signal
import threading
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol

from gpsa.config.resolve import CrystalConfig, RunConfig
from gpsa.errors import ConfigError, GpsaError
from gpsa.runtime.placement import on_device, worker_devices
from gpsa.runtime.runner import mark_not_finished, run_crystal
from gpsa.runtime.stats import ChainResult

if TYPE_CHECKING:  # pragma: no cover
    from gpsa.monitor.session import MonitorSession

log = logging.getLogger(__name__)


class ProgressSink(Protocol):
    def advance(self, crystal: str, events: int, total: int | None) -> None: ...
    def finish(self, crystal: str, status: str) -> None: ...


class NoProgress:
    def advance(self, crystal: str, events: int, total: int | None) -> None:
        pass

    def finish(self, crystal: str, status: str) -> None:
        pass


@dataclass
class Outcome:
    """What happened to one crystal: status is complete, interrupted, failed or not-run."""

    crystal: str
    status: str
    result: ChainResult | None = None
    error: str | None = None
    exit_code: int = 0


@dataclass
class RunReport:
    outcomes: list[Outcome] = field(default_factory=list)
    wall_seconds: float = 0.0
    #: the alarms that fired (:mod:`gpsa.monitor.alarms` entries), in firing order
    alarms: list[dict[str, Any]] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """The first failing crystal's exit code, else 0."""
        return next((o.exit_code for o in self.outcomes if o.status == "failed"), 0)


def _run_one(cfg: CrystalConfig, stop: Any, progress: ProgressSink,
             session: MonitorSession | None = None) -> Outcome:
    if stop.is_set():
        return Outcome(cfg.crystal, "not-run")
    observer = session.observer if session is not None and session.active else None
    try:
        res = run_crystal(cfg, stop_event=stop, observer=observer,
                          on_progress=lambda n, t: progress.advance(cfg.crystal, n, t))
    except GpsaError as exc:  # a ChainError carries what was done before the failure
        return Outcome(cfg.crystal, "failed", error=str(exc), exit_code=exc.exit_code,
                       result=getattr(exc, "result", None))
    except Exception as exc:  # noqa: BLE001 - reported per crystal, the others go on
        log.debug("crystal %s failed", cfg.crystal, exc_info=exc)
        return Outcome(cfg.crystal, "failed", error="".join(
            traceback.format_exception_only(type(exc), exc)).strip(), exit_code=1)
    return Outcome(cfg.crystal, "complete" if res.complete else "interrupted", result=res)


def run_simple(config: RunConfig, *, stop: threading.Event,
               progress: ProgressSink | None = None) -> RunReport:
    """Run each crystal in turn, in this process (monitored on ``[run] metrics_port``)."""
    progress = progress or NoProgress()
    t0 = time.perf_counter()
    report = RunReport()
    first = next(iter(config.crystals.values()), None)
    device = worker_devices(first, 1)[0] if first is not None else "cpu"
    with _session(first, worker="main") as session:
        for cfg in config.crystals.values():
            out = _run_one(on_device(cfg, device), stop, progress, session)
            progress.finish(cfg.crystal, out.status)
            report.outcomes.append(out)
    report.alarms = session.alarms.entries()
    report.wall_seconds = time.perf_counter() - t0
    return report


def _session(cfg: CrystalConfig | None, *, worker: str, port: int | None = None,
             on_alarm: Any = None) -> MonitorSession:
    """The monitoring of this process for a run (see :mod:`gpsa.monitor.session`)."""
    from gpsa.monitor.session import MonitorSession
    from gpsa.monitor.settings import MonitorConfig

    if cfg is None:
        return MonitorSession(MonitorConfig(), worker=worker)
    return MonitorSession(cfg.monitor, worker=worker, port=port, redis=cfg.redis,
                          device=cfg.device, on_alarm=on_alarm)


# --- parallel ---------------------------------------------------------------------------------
#: seconds between the parent's checks of its workers, and the workers' checks of their parent
_TICK = 0.1
_WATCH = 0.5


class _QueueProgress:
    def __init__(self, q: Any) -> None:
        self.q = q

    def advance(self, crystal: str, events: int, total: int | None) -> None:
        self.q.put(("advance", crystal, events, total))

    def finish(self, crystal: str, status: str) -> None:
        pass


def usable_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


def effective_jobs(requested: int, n_crystals: int) -> tuple[int, str | None]:
    """Worker processes to start for ``--jobs requested``, and a note when fewer are used.
    Raises :class:`ConfigError` below 1."""
    if requested < 1:
        raise ConfigError(f"--jobs {requested}: must be at least 1")
    cores = usable_cores()
    jobs = min(requested, cores, max(1, n_crystals))
    if requested > cores:
        return jobs, (f"--jobs {requested} is more than the {cores} CPU cores here; "
                      f"running {jobs} worker process{'es' if jobs > 1 else ''}")
    return jobs, None


def _plugin_setup() -> dict[str, Any]:
    """How to rebuild this process's plugin set in a spawned child."""
    from gpsa.plugins.manager import BUILTIN_PLUGINS, get_plugin_manager

    pm = get_plugin_manager()
    extra, blocked = [], []
    for name, plugin in pm.list_name_plugin():
        if plugin is None:
            blocked.append(name)
        elif (isinstance(plugin, ModuleType) and name not in BUILTIN_PLUGINS
              and name not in pm.distributions):
            extra.append(plugin.__name__)
    return {"extra": extra, "blocked": blocked}


def _watch_parent(parent_pid: int, stop: Any, stop_timeout: float) -> None:
    """In a worker: when the parent is gone, stop like after SIGTERM, and exit for sure within
    ``stop_timeout`` (nobody is left to read the results)."""
    while os.getppid() == parent_pid:
        time.sleep(_WATCH)
    log.warning("worker %d: parent process %d is gone; stopping", os.getpid(), parent_pid)
    stop.set()
    time.sleep(stop_timeout)
    os._exit(1)


def _worker_main(tasks: Any, results: Any, stop: Any, setup: dict[str, Any], parent_pid: int,
                 stop_timeout: float, index: int = 0, device: str | None = None) -> None:
    """A worker process (number ``index``): run crystals from ``tasks`` until the None
    sentinel, on ``device`` (:mod:`gpsa.runtime.placement`; None: the crystal's). Its metrics
    are served on ``metrics_port + index`` when the port is set; the alarms that fire are sent
    to the parent."""
    from gpsa.plugins.manager import create_plugin_manager, reset_plugin_manager

    signal.signal(signal.SIGINT, lambda *_: stop.set())  # the parent decides; finish reading
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    threading.Thread(target=_watch_parent, args=(parent_pid, stop, stop_timeout),
                     name="gpsa-watch-parent", daemon=True).start()
    code = 0
    session: MonitorSession | None = None
    try:
        extra = [importlib.import_module(m) for m in setup["extra"]]
        reset_plugin_manager(create_plugin_manager(extra=extra, blocked=setup["blocked"]))
        while True:
            cfg = tasks.get()
            if cfg is None:
                break
            cfg = on_device(cfg, device or cfg.device)
            if stop.is_set():
                results.put(("done", cfg.crystal, {"status": "not-run"}))
                continue
            if session is None:
                base = cfg.monitor.metrics_port
                session = _session(cfg, worker=f"w{index}", port=base + index if base else None,
                                   on_alarm=lambda e: results.put(("alarm", e["crystal"], e)))
                session.__enter__()
            results.put(("start", cfg.crystal, os.getpid()))
            out = _run_one(cfg, stop, _QueueProgress(results), session)
            results.put(("done", out.crystal, {
                "status": out.status, "error": out.error, "exit_code": out.exit_code,
                "result": out.result.to_dict() if out.result is not None else None}))
    except BaseException:  # noqa: BLE001 - the parent reports the crystal as failed
        log.exception("worker %d failed", os.getpid())
        code = 1
    finally:
        if session is not None:
            session.close()
        results.close()
        results.join_thread()  # the messages reach the parent before the exit
        logging.shutdown()
        os._exit(code)  # daemon threads still inside an abandoned actor must not block the exit


@contextlib.contextmanager
def _blas_threads(n: int) -> Iterator[None]:
    """Limit BLAS threads of the children (inherited environment) unless the user set them:
    ``jobs`` processes each with as many BLAS threads as cores oversubscribe the machine."""
    names = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
    added = [k for k in names if k not in os.environ]
    os.environ.update({k: str(n) for k in added})
    try:
        yield
    finally:
        for k in added:
            os.environ.pop(k, None)


def run_parallel(config: RunConfig, *, jobs: int, stop: threading.Event,
                 progress: ProgressSink | None = None) -> RunReport:
    """``jobs`` spawned worker processes (at most the cores and the crystals), each running one
    crystal at a time."""
    jobs, _ = effective_jobs(jobs, len(config.crystals))
    with _blas_threads(max(1, usable_cores() // jobs)):
        return _Pool(config, jobs, stop, progress or NoProgress()).run()


class _Pool:
    """The parent's side of parallel mode: hands out crystals, relays progress, watches the
    workers, enforces the stop bound."""

    def __init__(self, config: RunConfig, jobs: int, stop: threading.Event,
                 progress: ProgressSink) -> None:
        self.config, self.jobs, self.stop, self.progress = config, jobs, stop, progress
        first = next(iter(config.crystals.values()), None)
        self.stop_timeout = first.stop_timeout if first is not None else 5.0
        self.outcomes: dict[str, Outcome] = {}
        self.running: dict[str, int] = {}  # crystal -> worker pid
        self.reaped: set[int] = set()  # pids of workers seen dead
        self.alarms: list[dict[str, Any]] = []  # sent by the workers as they fire

    def run(self) -> RunReport:
        t0 = time.perf_counter()
        ctx = mp.get_context("spawn")
        tasks, results, child_stop = ctx.Queue(), ctx.Queue(), ctx.Event()
        for cfg in self.config.crystals.values():
            tasks.put(cfg)
        for _ in range(self.jobs):
            tasks.put(None)
        setup = _plugin_setup()
        first = next(iter(self.config.crystals.values()), None)
        devices = worker_devices(first, self.jobs) if first is not None else [None] * self.jobs
        procs = [ctx.Process(target=_worker_main, name=f"gpsa-worker-{i}", daemon=True,
                             args=(tasks, results, child_stop, setup, os.getpid(),
                                   self.stop_timeout, i, devices[i]))
                 for i in range(self.jobs)]
        try:
            for p in procs:
                p.start()
            self._loop(procs, results, child_stop)
        except BaseException:  # a second Ctrl-C: the workers are killed below
            for crystal in self.running:
                mark_not_finished(self.config.crystals[crystal], "aborted",
                                  f"crystal {crystal}: worker killed by a second Ctrl-C")
            raise
        finally:
            for p in procs:  # normally all gone; after a second Ctrl-C or the bound: killed
                if p.is_alive():
                    p.kill()
            for p in procs:
                p.join(1.0)
            for q in (tasks, results):
                q.cancel_join_thread()
                q.close()
        for name in self.config.crystals:
            self.outcomes.setdefault(name, Outcome(name, "not-run"))
        return RunReport(outcomes=[self.outcomes[n] for n in self.config.crystals],
                         wall_seconds=time.perf_counter() - t0, alarms=self.alarms)

    def _loop(self, procs: list[Any], results: Any, child_stop: Any) -> None:
        stop_seen: float | None = None
        while len(self.outcomes) < len(self.config.crystals):
            try:  # a steady flow of progress messages must not delay the checks below
                self._handle(results.get(timeout=_TICK))
            except _queue.Empty:
                pass
            if self.stop.is_set() and stop_seen is None:
                stop_seen = time.monotonic()
                child_stop.set()
            if stop_seen is not None and time.monotonic() - stop_seen > self.stop_timeout - 0.3:
                self._give_up(procs)
                return
            dead = [p for p in procs if not p.is_alive() and p.pid not in self.reaped]
            if dead:  # its last messages may still be in the queue: read them first
                self._drain(results)
                self._lost(dead)
            if len(self.reaped) == len(procs):
                return

    def _handle(self, msg: tuple[Any, ...]) -> None:
        kind, crystal = msg[0], msg[1]
        if kind == "advance":
            self.progress.advance(crystal, msg[2], msg[3])
        elif kind == "start":
            self.running[crystal] = msg[2]
        elif kind == "alarm":
            self.alarms.append(msg[2])
        elif kind == "done":
            self.running.pop(crystal, None)
            d = msg[2]
            res = d.get("result")
            self.outcomes[crystal] = Outcome(
                crystal, d["status"], error=d.get("error"), exit_code=d.get("exit_code", 0),
                result=ChainResult.from_dict(res) if res is not None else None)
            self.progress.finish(crystal, d["status"])

    def _drain(self, results: Any) -> None:
        while True:
            try:
                self._handle(results.get(timeout=_TICK))
            except _queue.Empty:
                return

    def _lost(self, dead: list[Any]) -> None:
        """Crystals whose worker died without reporting: failed, naming the exit."""
        pids = {p.pid: p.exitcode for p in dead if p.exitcode is not None}
        self.reaped |= set(pids)
        for crystal, pid in list(self.running.items()):
            if pid in pids:
                code = pids[pid]
                how = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
                why = (f"crystal {crystal}: worker process {pid} died ({how}); its outputs are "
                       ".partial")
                self.outcomes[crystal] = Outcome(crystal, "failed", exit_code=1, error=why)
                mark_not_finished(self.config.crystals[crystal], "failed", why)
                self.running.pop(crystal)
                self.progress.finish(crystal, "failed")

    def _give_up(self, procs: list[Any]) -> None:
        """The stop bound has passed: kill the workers still running a crystal."""
        for p in procs:
            if p.is_alive():
                p.kill()
        for crystal, pid in self.running.items():
            why = (f"crystal {crystal}: worker {pid} killed, not finished within stop_timeout = "
                   f"{self.stop_timeout:g} s; its outputs are .partial")
            self.outcomes[crystal] = Outcome(crystal, "interrupted", error=why, exit_code=0)
            mark_not_finished(self.config.crystals[crystal], "interrupted", why)
            self.progress.finish(crystal, "interrupted")
        self.running.clear()
