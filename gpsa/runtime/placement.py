"""Which compute device each worker of a run uses (parallel-mode processes, batch workers).

The crystals of a run share its ``[run] device``. ``cpu`` and ``cuda:N`` are used as they are;
``cuda`` (``auto`` is resolved to ``cuda`` or ``cpu`` by ``gpsa run`` before this) spreads the
workers over ``[run] gpus`` (default: every visible CUDA device) round-robin
(:func:`gpsa.device.assign_devices`): worker ``i`` runs its crystals on ``cuda:gpus[i % len]``.
Each crystal's configuration then names its device (``cuda:N``), so its provenance file
(``gpsa-run.json``, ``config.device``) and the batch run's records say where it ran.
"""

from __future__ import annotations

from dataclasses import replace

from gpsa.config.resolve import CrystalConfig
from gpsa.device import assign_devices, parse_device, visible_cuda_devices


def worker_devices(cfg: CrystalConfig, n: int) -> list[str]:
    """The device of each of ``n`` workers running crystals configured like ``cfg``."""
    kind, index = parse_device(cfg.device)
    if kind != "cuda" or index is not None:
        return [cfg.device] * n
    return assign_devices(cfg.device, n, cfg.gpus, visible_cuda_devices())


def on_device(cfg: CrystalConfig, device: str) -> CrystalConfig:
    """``cfg`` run on ``device`` (a copy; the same object when nothing changes)."""
    return cfg if cfg.device == device else replace(cfg, device=device)
