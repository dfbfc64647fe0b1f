"""Batch mode's worker side: one ``gpsa batch work`` process (:class:`BatchWorker`) and the
final step. The run's set-up and the workload payload are :mod:`gpsa.runtime.batch`.

* :class:`BatchWorker` claims a workload, runs the crystal with
  :func:`gpsa.runtime.runner.run_crystal` in a staging folder of its own
  (``OUT/.gpsa-batch/CRYSTAL.WORKER.DELIVERY``, so a zombie never writes into another attempt's
  files), commits through the fence and only then renames the folder to ``OUT/CRYSTAL``
  (:func:`publish`; an older ``OUT/CRYSTAL`` is moved to ``OUT/.gpsa-batch/replaced/``). A failed
  attempt is given back with its error (another worker tries, up to ``max_reassign`` times), a
  refused commit's folder is deleted, SIGTERM releases the workload at once and stops the chain.
* the **final step** (the run's global step) starts when every crystal is done or dead-lettered:
  it publishes what a crash may have left unpublished, writes ``OUT/run-complete.json`` (done
  crystals, dead-lettered ones; ``flushed: true`` and ``missing`` when some were dead-lettered),
  deletes the attempt folders of exited workers that done crystals' outputs supersede
  (:func:`tidy_staging`; others are kept and listed as ``kept_attempts``),
  runs the run's global chain when it has ``[[global]]`` stages (:mod:`gpsa.runtime.global_run`,
  over the published crystal files; its result under ``global`` in the record),
  then runs the ``--then`` command of init, if any, in ``OUT`` with ``GPSA_BATCH_RUN``,
  ``GPSA_BATCH_RECORD`` and ``GPSA_BATCH_FLUSHED`` set. It is a workload like the others (leased,
  reclaimed, retried), so it runs at least once; the command must tolerate a rerun.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import logging
import os
import platform
import secrets
import shutil
import subprocess
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from gpsa import __version__
from gpsa.central.lease import Lease
from gpsa.central.workqueue import Claim, WorkQueue
from gpsa.errors import GpsaError
from gpsa.runtime.batch import rebuild

log = logging.getLogger(__name__)

FINAL_RECORD = "run-complete.json"
STAGING = ".gpsa-batch"
#: seconds between two claims when nothing is free
POLL = 0.5


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, GpsaError):
        return str(exc)
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()


def publish(staged: Path, final: Path, batch: dict[str, Any]) -> bool:
    """Rename a committed attempt's folder to the crystal's output folder (an older one is
    moved aside) and point its provenance file at the new place; False if already done."""
    from gpsa.runtime.runner import PROVENANCE_NAME, write_json_atomic

    if not staged.is_dir():
        return False
    if final.exists() and not (final.is_dir() and not any(final.iterdir())):
        # an empty folder (made by the checks) is simply replaced; an older output is kept
        aside = final.parent / STAGING / "replaced" / f"{final.name}.{time.time():.0f}"
        aside.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(final, aside)
        except FileNotFoundError:
            pass
    try:
        os.rename(staged, final)
    except FileNotFoundError:
        return False  # another publisher was first
    prov = final / PROVENANCE_NAME
    try:
        record = json.loads(prov.read_text())
    except (OSError, ValueError):
        return True

    def moved(v: Any) -> Any:
        if isinstance(v, str):
            return v.replace(str(staged), str(final))
        if isinstance(v, dict):
            return {k: moved(x) for k, x in v.items()}
        if isinstance(v, list):
            return [moved(x) for x in v]
        return v

    write_json_atomic(prov, {**moved(record), "batch": batch})
    return True


@dataclass
class WorkSummary:
    """What one worker did."""

    worker: str
    done: int = 0
    failed: int = 0
    released: int = 0
    refused: int = 0
    finished: bool = False


def _attempt_gone(attempt: str) -> bool:
    """Whether the worker of an attempt folder (``CRYSTAL.HOST-PID-HEX.DELIVERIES``) has
    provably exited: it ran on this host and its pid is gone. A stalled worker (SIGSTOP) may
    still wake up and must find its folder to reach the fence, which refuses its commit."""
    try:
        worker = attempt.split(".", 1)[1].rsplit(".", 1)[0]
        host, pid, _ = worker.rsplit("-", 2)
        pid_n = int(pid)
    except (IndexError, ValueError):
        return False
    if host != (platform.node() or "host"):
        return False
    try:
        os.kill(pid_n, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return _zombie(pid_n)  # killed but not yet reaped by its parent: it will not run again


def _zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[:1] == ["Z"]


def tidy_staging(out: Path, done: set[str], dead: set[str]) -> list[str]:
    """Delete the attempt folders in ``OUT/.gpsa-batch`` that a done crystal's published output
    supersedes and whose worker has exited (a killed worker's partial files); keep those of
    dead-lettered crystals (for inspection) and of workers that may still run, and return the
    kept ones (relative to ``OUT``). Older outputs moved aside (``replaced/``) are kept; an
    empty staging folder is removed."""
    staging = out / STAGING
    if not staging.is_dir():
        return []
    kept = []
    for attempt in sorted(staging.iterdir()):
        if attempt.name == "replaced" or not attempt.is_dir():
            continue
        crystal = attempt.name.split(".", 1)[0]
        if crystal in done and crystal not in dead and _attempt_gone(attempt.name):
            shutil.rmtree(attempt, ignore_errors=True)
            log.info("removed superseded attempt folder %s", attempt)
        else:
            kept.append(str(attempt.relative_to(out)))
    with contextlib.suppress(OSError):
        staging.rmdir()  # only when empty
    return kept


class BatchWorker:
    """One ``gpsa batch work`` process (see module docstring). ``say``: one line per step."""

    def __init__(self, queue: WorkQueue, *, stop: threading.Event, device: str | None = None,
                 say: Callable[[str], None] | None = None, poll: float = POLL) -> None:
        self.queue, self.stop, self.device, self.poll = queue, stop, device, poll
        self.say = say or (lambda text: log.info("%s", text))
        host = platform.node() or "host"
        self.id = f"{host}-{os.getpid()}-{secrets.token_hex(2)}"
        self.info = {"host": host, "pid": os.getpid(), "device": device or "",
                     "started": round(time.time(), 1), "gpsa_version": __version__}
        self.summary = WorkSummary(worker=self.id)
        self.lease = Lease(queue, self.id, self.info, stop)
        #: this worker's monitoring (:mod:`gpsa.monitor.session`), opened at its first crystal
        self.monitor: Any = None
        #: this worker's number among the workers of its host (its GPU, round-robin)
        self.slot: int | None = None

    def run(self) -> WorkSummary:
        """Claim and run workloads until the run is finished or a stop is requested."""
        self.queue.meta()
        self.lease.start()
        self.say(f"{self.id}: working on batch run {self.queue.run}")
        try:
            while not self.stop.is_set():
                if self.queue.finished():
                    self.summary.finished = True
                    break
                claim = self.queue.claim(self.id)
                if claim is None:
                    self.stop.wait(self.poll)
                    continue
                self.say(f"{self.id}: {claim.workload}: {claim.how}"
                         + (f" from {claim.previous}" if claim.previous else "")
                         + f" (delivery {claim.deliveries})")
                self.lease.hold(claim)
                outcome = "failed"
                try:
                    outcome = self._run_one(claim)
                finally:
                    self.lease.drop(outcome)
                setattr(self.summary, outcome, getattr(self.summary, outcome) + 1)
                if outcome == "failed":
                    self.stop.wait(self.poll)  # leave the next try to another worker first
        finally:
            if self.monitor is not None:
                self.monitor.close()
            self.lease.close()
            self.queue.deregister_worker(self.id)
        return self.summary

    def _monitoring(self, cfg: Any) -> Any:
        """The worker's monitoring session: a free port for /metrics when the run file sets a
        ``metrics_port`` (several workers may share a host; the URL is announced here and in
        the worker's registry entry), snapshots on the batch run's channel."""
        if self.monitor is None:
            from gpsa.monitor.session import MonitorSession

            port = 0 if cfg.monitor.metrics_port else None
            self.monitor = MonitorSession(cfg.monitor, worker=self.id, port=port,
                                          redis=self.queue.client, device=cfg.device,
                                          run_name=self.queue.run,
                                          last_beat=lambda: self.lease.last_beat).__enter__()
            if self.monitor.url:
                self.lease.info["metrics"] = self.monitor.url
                self.say(f"{self.id}: metrics on {self.monitor.url}")
        return self.monitor

    def _token(self, claim: Claim) -> str:
        return f"{self.id}.{claim.deliveries}"

    def _run_one(self, claim: Claim) -> str:
        payload = json.loads(claim.payload)
        if claim.kind == "final":
            return self._run_final(claim, payload)
        return self._run_crystal(claim, payload)

    def _fail(self, claim: Claim, error: str, stage: Path | None = None) -> str:
        self.lease.settling()
        what = self.queue.fail(claim, error)
        if what == "lost" and stage is not None:  # not the attempt of record: discard it
            shutil.rmtree(stage, ignore_errors=True)
        self.say(f"{self.id}: {claim.workload}: failed ({what}): {error}")
        return "failed"

    def _stopped(self, claim: Claim, stage: Path | None = None) -> str:
        self.lease.release_now("stopped before the end")
        if stage is not None:
            shutil.rmtree(stage, ignore_errors=True)
        self.say(f"{self.id}: {claim.workload}: released")
        return "released"

    def _run_crystal(self, claim: Claim, payload: dict[str, Any]) -> str:
        from gpsa.runtime.runner import run_crystal

        try:
            if self.slot is None:
                self.slot = self.queue.host_slot(self.info["host"])
            cfg, warnings = rebuild(payload, self.device, self.slot)
        except GpsaError as exc:
            return self._fail(claim, f"crystal {payload['crystal']}: {exc}")
        for w in warnings:
            log.warning("crystal %s: %s", cfg.crystal, w)
        self.lease.info["device"] = cfg.device
        final = cfg.output_dir
        stage = final.parent / STAGING / f"{cfg.crystal}.{self._token(claim)}"
        monitor = self._monitoring(cfg)
        try:
            res = run_crystal(replace(cfg, output_dir=stage), stop_event=self.stop,
                              on_progress=self.lease.progress,
                              observer=monitor.observer if monitor.active else None)
        except Exception as exc:  # noqa: BLE001 - any failure of the crystal is the workload's
            if self.stop.is_set():
                return self._stopped(claim, stage)
            return self._fail(claim, _one_line(exc), stage)
        if not res.complete:
            return self._stopped(claim, stage)
        batch = {"run": self.queue.run, "workload": claim.workload, "entry": claim.entry,
                 "worker": self.id, "deliveries": claim.deliveries,
                 # the stored configuration version it ran (rebuild() checked the digest)
                 "config_version": {"run": self.queue.run,
                                    "version": payload.get("config_version"),
                                    "hash": payload.get("config_hash")}}
        record = {**batch, "kind": "crystal", "host": self.info["host"], "device": cfg.device,
                  "events": res.events_out, "events_in": res.events_in,
                  "seconds": round(res.wall_seconds, 3), "rate": round(res.rate, 1),
                  "staged": str(stage), "output": str(final), "committed": _now()}
        alarms = [e for e in monitor.alarms.entries() if e["crystal"] == cfg.crystal]
        if alarms:
            record["alarms"] = alarms
        self.lease.settling()
        if not self.queue.commit(claim, self._token(claim), record):
            shutil.rmtree(stage, ignore_errors=True)
            self.say(f"{self.id}: {claim.workload}: commit refused by the fence (lease lost); "
                     "outputs discarded")
            return "refused"
        publish(stage, final, batch)
        self.say(f"{self.id}: {claim.workload}: done, {res.events_out} events in "
                 f"{res.wall_seconds:.1f} s -> {final}")
        return "done"

    def _run_final(self, claim: Claim, payload: dict[str, Any]) -> str:
        from gpsa.runtime.runner import write_json_atomic

        snap = self.queue.snapshot()
        done = {w: r for w, r in snap.done.items() if r.get("kind") == "crystal"}
        for rec in done.values():
            publish(Path(rec["staged"]), Path(rec["output"]),
                    {k: rec[k] for k in ("run", "workload", "entry", "worker", "deliveries")})
        dead = [d for d in snap.dead if d.get("kind") == "crystal"]
        out = Path(payload["output"])
        kept = tidy_staging(out, set(done), {d["workload"] for d in dead})
        record = {
            "run": self.queue.run, "written": _now(), "complete": not dead,
            "flushed": bool(dead), "crystals": payload["crystals"],
            "done": [{"crystal": w, "output": r["output"], "events": r["events"],
                      "worker": r["worker"], "deliveries": r["deliveries"]}
                     for w, r in sorted(done.items())],
            "dead": [{"crystal": d["workload"], "reason": d["reason"], "error": d["error"],
                      "deliveries": int(d["deliveries"]), "worker": d["worker"]} for d in dead],
            "missing": sorted(d["workload"] for d in dead), "then": payload.get("then"),
            "kept_attempts": kept}
        glob = None
        if payload.get("global"):  # the run's global chain, over the published outputs
            from gpsa.runtime.global_run import final_step_global

            self.say(f"{self.id}: final step: global chain over {len(done)} crystal(s)")
            glob = final_step_global(payload, set(done), {d["workload"] for d in dead},
                                     stop=self.stop)
            record["global"] = glob
        out.mkdir(parents=True, exist_ok=True)
        write_json_atomic(out / FINAL_RECORD, record)
        if glob is not None and glob["status"] in ("interrupted", "not-run"):
            return self._stopped(claim)
        if glob is not None and glob["status"] != "complete":
            return self._fail(claim, f"final step: {glob['error']}")
        then = payload.get("then")
        if then:
            rc = self._run_then(then, out, record)
            if rc is None:
                return self._stopped(claim)
            if rc != 0:
                return self._fail(claim, f"final step: `{then}` exited with code {rc}")
        token = self._token(claim)
        self.lease.settling()
        if not self.queue.commit(claim, token, {"kind": "final", "worker": self.id,
                                                "deliveries": claim.deliveries,
                                                "record": str(out / FINAL_RECORD),
                                                "flushed": record["flushed"],
                                                "missing": record["missing"],
                                                "committed": _now()}):
            self.say(f"{self.id}: final step: commit refused by the fence (lease lost)")
            return "refused"
        how = (f"flushed without {', '.join(record['missing'])}" if record["flushed"]
               else "every crystal done")
        self.say(f"{self.id}: final step done ({how}) -> {out / FINAL_RECORD}")
        return "done"

    def _run_then(self, command: str, cwd: Path, record: dict[str, Any]) -> int | None:
        """Run the final command; its exit code, or None when a stop ended it."""
        env = {**os.environ, "GPSA_BATCH_RUN": self.queue.run,
               "GPSA_BATCH_RECORD": str(cwd / FINAL_RECORD),
               "GPSA_BATCH_FLUSHED": "1" if record["flushed"] else "0"}
        self.say(f"{self.id}: final step: {command}")
        proc = subprocess.Popen(command, shell=True, cwd=cwd, env=env,
                                stdin=subprocess.DEVNULL)
        while proc.poll() is None:
            if self.stop.wait(0.2):
                proc.terminate()
                proc.wait()
                return None
        return proc.returncode
