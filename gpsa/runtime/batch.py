"""Batch mode: the crystals of a run as workloads of a Redis work queue, done by any number of
``gpsa batch work`` processes on any machines that share the file system of the run. This module
holds the set-up and the workload payload; the worker side (claim, run, fenced commit, publish,
final step) is :mod:`gpsa.runtime.batch_worker`.

* :func:`init_batch` resolves and checks the run (as ``gpsa config check`` does; the device is
  checked by each worker on its own machine) and adds one workload per crystal. The payload is
  what a worker needs to rebuild the same configuration from the shared run file: its path, the
  crystal, the output root, the ``--psa``, ``--device`` and ``--stop-timeout`` given at init, and
  the digest of the resolved configuration (``CrystalConfig.to_dict()`` less the device; the full
  dictionary is stored too, for the record).
* With ``[[global]]`` stages the final step's payload also says how to resolve the run again
  (``global``): the final step runs the global chain (:mod:`gpsa.runtime.global_run`).
* :func:`rebuild` reads a payload back on a worker's machine. A worker that resolves a different
  configuration (the run file changed after init) fails the workload, naming the crystal.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from gpsa import __version__
from gpsa.central.workqueue import DEFAULT_LEASE, DEFAULT_MAX_REASSIGN, WorkQueue
from gpsa.config.resolve import CrystalConfig, RunConfig, resolve_config
from gpsa.errors import ConfigError


def default_name(conf: Path | str) -> str:
    """A run name from the run file or folder: the folder's name, or the file's stem unless it
    is a generic one (``run.toml`` -> the folder's name)."""
    p = Path(conf).resolve()
    name = p.name if p.is_dir() else p.stem
    if not p.is_dir() and name in ("run", "conf", "config", "gpsa"):
        name = p.parent.name
    return re.sub(r"[^A-Za-z0-9._-]", "-", name)[:64] or "run"


def config_digest(config: dict[str, Any]) -> str:
    """Digest of a resolved crystal configuration, the device left out (a worker's own)."""
    body = {k: v for k, v in config.items() if k != "device"}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]


def init_batch(queue: WorkQueue, conf: Path | str, *, crystals: list[str] | None = None,
               output: str | None = None, device: str | None = None, psa: str | None = None,
               stop_timeout: float | None = None, lease: float = DEFAULT_LEASE,
               max_reassign: int = DEFAULT_MAX_REASSIGN, then: str | None = None,
               replace_run: bool = False) -> tuple[RunConfig, list[str]]:
    """Check the run and add its crystal workloads to ``queue``; returns the configuration and
    the checks' warnings. Raises ConfigError (exit 2) naming the problem."""
    from gpsa.runtime.preflight import check_crystal

    cfg = resolve_config(Path(conf).resolve(), crystals=crystals, output=output,
                         device=device, psa=psa, stop_timeout=stop_timeout)
    warnings: list[str] = []
    for c in cfg.crystals.values():
        warnings += check_crystal(c, "cpu")  # files, outputs, actors; the device: by workers
    if cfg.global_chain is not None:
        from gpsa.runtime.global_run import check_global

        warnings += check_global(cfg.global_chain)
    from gpsa.central import configstore

    out_root = str(cfg.settings["output"])
    # the configuration store's version of this run (the same as `gpsa config push` gives)
    version, vhash, _ = configstore.push(queue.client, queue.run,
                                         {n: c.to_dict() for n, c in cfg.crystals.items()},
                                         source=str(cfg.source))
    workloads = []
    for name, c in cfg.crystals.items():
        d = c.to_dict()
        workloads.append((name, json.dumps({
            "crystal": name, "source": str(cfg.source), "output": out_root, "psa": psa,
            "device": c.device, "stop_timeout": c.stop_timeout, "digest": config_digest(d),
            "config_version": version, "config_hash": vhash, "config": d})))
    final_payload: dict[str, Any] = {"run": queue.run, "output": out_root, "then": then,
                                     "crystals": list(cfg.crystals)}
    if cfg.global_chain is not None:  # the final step runs it: how to resolve it again
        final_payload["global"] = {"source": str(cfg.source), "psa": psa,
                                   "stop_timeout": stop_timeout}
    final = json.dumps(final_payload)
    queue.create(workloads, final=final, lease=lease, max_reassign=max_reassign,
                 replace=replace_run, info={"source": str(cfg.source), "output": out_root,
                                            "then": then, "gpsa_version": __version__})
    return cfg, warnings


def rebuild(payload: dict[str, Any], device: str | None,
            slot: int = 0) -> tuple[CrystalConfig, list[str]]:
    """The crystal configuration of a workload, checked on this machine with ``device`` (else
    the one of the payload). ``cuda`` (or ``auto`` that finds CUDA) becomes ``cuda:N``, the
    ``slot``-th device of ``[run] gpus`` (or of the visible ones) round-robin (``slot``: the
    worker's number on its host), so a host's workers spread over its GPUs."""
    from gpsa.device import parse_device, select_device
    from gpsa.runtime.placement import worker_devices
    from gpsa.runtime.preflight import check_crystal

    crystal = payload["crystal"]
    run = resolve_config(payload["source"], crystals=[crystal], output=payload["output"],
                         psa=payload.get("psa"), stop_timeout=payload.get("stop_timeout"))
    cfg = run.crystals[crystal]
    if config_digest(cfg.to_dict()) != payload["digest"]:
        raise ConfigError(f"{payload['source']}: crystal {crystal}: the configuration changed "
                          "since `gpsa batch init` (initialise the batch run again)")
    request = device or payload["device"]
    chosen = select_device(request)
    cfg.device = chosen.request
    if chosen.is_cuda and parse_device(request)[1] is None:
        cfg.device = "cuda"
        cfg.device = worker_devices(cfg, slot + 1)[slot]
        select_device(cfg.device)  # that device's own checks (one line when it fails)
    return cfg, check_crystal(cfg, chosen.kind)
