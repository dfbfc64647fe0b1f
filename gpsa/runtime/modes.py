"""Run modes: ``simple`` (crystals one after the other, in this process) and ``parallel`` (one
process per crystal, ``jobs`` at a time, spawned).

Both report progress to a :class:`ProgressSink` and return a :class:`RunReport` of per-crystal
outcomes. A stop request (Ctrl-C) ends reading in the running crystals, lets them finish what
they read, and skips the crystals not started yet.
"""

from __future__ import annotations

import concurrent.futures as cf
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
from typing import Any, Protocol

from gpsa.config.resolve import CrystalConfig, RunConfig
from gpsa.errors import GpsaError
from gpsa.runtime.runner import run_crystal
from gpsa.runtime.stats import ChainResult

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

    @property
    def exit_code(self) -> int:
        """The first failing crystal's exit code, else 0."""
        return next((o.exit_code for o in self.outcomes if o.status == "failed"), 0)


def _run_one(cfg: CrystalConfig, stop: Any, progress: ProgressSink) -> Outcome:
    if stop.is_set():
        return Outcome(cfg.crystal, "not-run")
    try:
        res = run_crystal(cfg, stop_event=stop,
                          on_progress=lambda n, t: progress.advance(cfg.crystal, n, t))
    except GpsaError as exc:
        return Outcome(cfg.crystal, "failed", error=str(exc), exit_code=exc.exit_code)
    except Exception as exc:  # noqa: BLE001 - reported per crystal, the others go on
        log.debug("crystal %s failed", cfg.crystal, exc_info=exc)
        return Outcome(cfg.crystal, "failed", error="".join(
            traceback.format_exception_only(type(exc), exc)).strip(), exit_code=1)
    return Outcome(cfg.crystal, "interrupted" if res.interrupted else "complete", result=res)


def run_simple(config: RunConfig, *, stop: threading.Event,
               progress: ProgressSink | None = None) -> RunReport:
    """Run each crystal in turn, in this process."""
    progress = progress or NoProgress()
    t0 = time.perf_counter()
    report = RunReport()
    for cfg in config.crystals.values():
        out = _run_one(cfg, stop, progress)
        progress.finish(cfg.crystal, out.status)
        report.outcomes.append(out)
    report.wall_seconds = time.perf_counter() - t0
    return report


# --- parallel ---------------------------------------------------------------------------------
_child: dict[str, Any] = {}


class _QueueProgress:
    def __init__(self, q: Any) -> None:
        self.q = q

    def advance(self, crystal: str, events: int, total: int | None) -> None:
        self.q.put(("advance", crystal, events, total))

    def finish(self, crystal: str, status: str) -> None:
        pass


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


def _init_child(stop: Any, q: Any, setup: dict[str, Any]) -> None:
    from gpsa.plugins.manager import create_plugin_manager, reset_plugin_manager

    _child.update(stop=stop, queue=q)
    signal.signal(signal.SIGINT, lambda *_: stop.set())  # the parent decides; finish reading
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    extra = [importlib.import_module(m) for m in setup["extra"]]
    reset_plugin_manager(create_plugin_manager(extra=extra, blocked=setup["blocked"]))


def _child_run(cfg: CrystalConfig) -> dict[str, Any]:
    out = _run_one(cfg, _child["stop"], _QueueProgress(_child["queue"]))
    return {"crystal": out.crystal, "status": out.status, "error": out.error,
            "exit_code": out.exit_code,
            "result": out.result.to_dict() if out.result is not None else None}


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
    """One spawned process per crystal, ``jobs`` at a time."""
    jobs = max(1, min(jobs, len(config.crystals)))
    with _blas_threads(max(1, (os.cpu_count() or 1) // jobs)):
        return _run_parallel(config, jobs, stop, progress or NoProgress())


def _run_parallel(config: RunConfig, jobs: int, stop: threading.Event,
                  progress: ProgressSink) -> RunReport:
    t0 = time.perf_counter()
    ctx = mp.get_context("spawn")
    child_stop, q = ctx.Event(), ctx.Queue()
    done_listening = threading.Event()

    def listen() -> None:
        while not done_listening.is_set() or not q.empty():
            try:
                _, crystal, n, total = q.get(timeout=0.1)
            except _queue.Empty:
                continue
            progress.advance(crystal, n, total)

    listener = threading.Thread(target=listen, name="gpsa-progress", daemon=True)
    listener.start()
    outcomes: dict[str, Outcome] = {}
    with cf.ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_init_child,
                                initargs=(child_stop, q, _plugin_setup())) as ex:
        futures = {ex.submit(_child_run, cfg): name for name, cfg in config.crystals.items()}
        pending = set(futures)
        while pending:
            done, pending = cf.wait(pending, timeout=0.2)
            if stop.is_set() and not child_stop.is_set():
                child_stop.set()
                for f in pending:
                    f.cancel()
            for f in done:
                name = futures[f]
                if f.cancelled():
                    outcomes[name] = Outcome(name, "not-run")
                elif f.exception() is not None:
                    exc = f.exception()
                    outcomes[name] = Outcome(name, "failed", error=f"worker process: {exc}",
                                             exit_code=1)
                else:
                    d = f.result()
                    res = d["result"]
                    outcomes[name] = Outcome(
                        name, d["status"], error=d["error"], exit_code=d["exit_code"],
                        result=ChainResult.from_dict(res) if res is not None else None)
                progress.finish(name, outcomes[name].status)
    done_listening.set()
    listener.join()
    q.close()
    return RunReport(outcomes=[outcomes[n] for n in config.crystals],
                     wall_seconds=time.perf_counter() - t0)
