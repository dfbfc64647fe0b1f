"""All fields of one crystal — grid, electric potential and field, 37 weighting potentials — with
an on-disk cache.

Solving takes ~15 s on a 1 mm grid (2 cores), so solved fields are cached as ``.npz`` files
named by :meth:`GeneratorSettings.field_key` (a hash of the geometry, the field settings and
:data:`FIELDS_VERSION`) in a cache directory (the CLI uses ``bases/cache/``, git-ignored). The
grid itself is rebuilt (it is cheap and deterministic) and checked against the cached labels.
"""

from __future__ import annotations

import logging
import os
import tempfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gpsa.basis.fields.crystal import GeometryLike, crystal_grid, geometry_fingerprint
from gpsa.basis.fields.grid import FieldGrid
from gpsa.basis.fields.multilevel import usable_levels
from gpsa.basis.fields.poisson import ElectricField, field_from_potential, solve_potential
from gpsa.basis.fields.settings import GeneratorSettings
from gpsa.basis.fields.weighting import WeightingPotentials, solve_weighting

log = logging.getLogger(__name__)

#: Bump when a change of the solver changes the solved fields (invalidates caches).
FIELDS_VERSION = "1"

Report = Callable[[str], None]


@dataclass(frozen=True, eq=False)
class CrystalFields:
    grid: FieldGrid
    electric: ElectricField
    weighting: WeightingPotentials
    key: str = ""
    from_cache: bool = False


def _labels_crc(grid: FieldGrid) -> int:
    return zlib.crc32(np.ascontiguousarray(grid.labels).tobytes())


def solve_fields(geometry: GeometryLike, settings: GeneratorSettings,
                 cache_dir: str | os.PathLike[str] | None = None,
                 report: Report | None = None) -> CrystalFields:
    """Solve (or load from ``cache_dir``) the fields of ``geometry`` for ``settings`` (with the
    settings' geometry values applied, :meth:`GeneratorSettings.geometry_of`)."""
    say = report or (lambda _msg: None)
    geometry = settings.geometry_of(geometry)
    key = settings.field_key(geometry_fingerprint(geometry), FIELDS_VERSION)
    h = settings.field_grid_mm
    grid = crystal_grid(geometry, h, passivated_back=settings.passivated_back)
    path = Path(cache_dir) / f"fields-{key}.npz" if cache_dir is not None else None
    if path is not None and path.exists():
        cached = _load(path, grid)
        if cached is not None:
            say(f"fields loaded from {path}")
            potential, wvalues = cached
            electric = ElectricField(grid, potential.reshape(grid.shape),
                                     field_from_potential(grid, potential.reshape(-1, 1)),
                                     settings.bias_v)
            return CrystalFields(grid, electric, WeightingPotentials(grid, wvalues), key, True)
    coarse = usable_levels(
        grid, lambda s: crystal_grid(geometry, s, passivated_back=settings.passivated_back),
        settings.coarsest_grid_mm)
    omega = settings.sor_omega or None
    say(f"solving the potential on {grid.shape} nodes ({h:g} mm)")
    electric = solve_potential(grid, bias=settings.bias_v, impurity_a=settings.impurity_a,
                               impurity_b=settings.impurity_b, tol=settings.sor_tol,
                               coarse=coarse, omega=omega)
    say("solving 37 weighting potentials")
    weighting = solve_weighting(grid, tol=settings.sor_tol, coarse=coarse, omega=omega)
    if path is not None:
        _save(path, grid, electric, weighting)
        say(f"fields cached in {path}")
    return CrystalFields(grid, electric, weighting, key, False)


def _save(path: Path, grid: FieldGrid, electric: ElectricField,
          weighting: WeightingPotentials) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.stem, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, potential=electric.potential, weighting=weighting.values,
                     labels_crc=np.int64(_labels_crc(grid)), shape=np.array(grid.shape))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _load(path: Path, grid: FieldGrid) -> tuple[np.ndarray, np.ndarray] | None:
    try:
        with np.load(path) as data:
            if (tuple(data["shape"]) != grid.shape
                    or int(data["labels_crc"]) != _labels_crc(grid)):
                log.warning("%s: cached fields do not match the grid; solving again", path)
                return None
            return data["potential"], data["weighting"]
    except (OSError, KeyError, ValueError) as exc:
        log.warning("%s: unreadable field cache (%s); solving again", path, exc)
        return None
