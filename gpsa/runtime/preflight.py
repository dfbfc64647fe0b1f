"""Checks of a run before any data is read: what ``gpsa config check`` reports and what
``gpsa run`` does first, so that a run that passes the check does not fail at start for these
reasons.

For every crystal and stage (:func:`preflight`):

* the device is usable (``--device cuda`` without CUDA: one line, exit 2);
* every output folder can be written (the crystal's folder and each ``kind="output"`` path);
* each actor's own :meth:`gpsa.runtime.actor.Actor.check`: its input files are of the right kind
  (the ADF reader decodes the first frame; the PSA stage loads the basis and checks that it fits
  the crystal and the algorithm's settings; calibration, cross-talk, gain-drift and lab-transform
  tables parse), and optional dependencies are installed (uproot for the ROOT writer).

Problems raise :class:`gpsa.errors.ConfigError` (exit 2) naming the crystal, stage and file;
doubts that do not stop a run (a basis made for another crystal shape) come back as warnings.
"""

from __future__ import annotations

import logging
from pathlib import Path

from gpsa.config.resolve import CrystalConfig, RunConfig
from gpsa.errors import ConfigError, GpsaError
from gpsa.paths import check_writable
from gpsa.runtime.actor import RunContext

log = logging.getLogger(__name__)


def preflight(config: RunConfig) -> list[str]:
    """Check every crystal of ``config`` (see the module docstring); returns warnings."""
    from gpsa.device import select_device
    from gpsa.runtime.placement import worker_devices

    warnings: list[str] = []
    # raises DeviceError (exit 2) naming the device; "auto" becomes what the run would use
    kinds = {request: select_device(request).kind
             for request in sorted({c.device for c in config.crystals.values()})}
    for cfg in config.crystals.values():
        if kinds[cfg.device] == "cuda":
            worker_devices(cfg, 1)  # ConfigError naming [run] gpus for a device not visible
        warnings += check_crystal(cfg, kinds[cfg.device])
    return warnings


def check_crystal(cfg: CrystalConfig, device: str) -> list[str]:
    """The checks of one crystal's chain on ``device`` (``cpu`` or ``cuda``); returns warnings,
    raises ConfigError."""
    warnings: list[str] = []
    where = f"crystal {cfg.crystal}"
    try:
        check_writable(cfg.output_dir)
    except GpsaError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    context = RunContext(crystal=cfg.crystal, output_dir=cfg.output_dir,
                         config_dir=cfg.config_dir, device=device,
                         extra={"redis_url": cfg.redis} if cfg.redis else {})
    for actor in cfg.build():
        stage = f"{where}: stage {actor.label!r}"
        for name, param in actor.params_for(actor.settings).items():
            value = actor.settings.get(name)
            if param.kind == "output" and value:
                folder = context.output_path(Path(value)).parent
                try:
                    check_writable(folder)
                except GpsaError as exc:
                    raise ConfigError(f"{stage}.{name}: {exc}") from None
        try:
            warnings += [f"{stage}: {w}" for w in actor.check(context)]
        except ConfigError as exc:
            raise ConfigError(f"{stage}: {exc}") from None
        except GpsaError as exc:  # e.g. a basis or ADF file that does not load
            raise ConfigError(f"{stage}: {exc}") from None
        except OSError as exc:
            raise ConfigError(f"{stage}: {exc.filename or ''}: {exc.strerror or exc}") from None
    return warnings
