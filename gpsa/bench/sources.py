"""Bases and events for the PSA benchmark.

* ``real``: a basis made by gpsa's physics generator (:mod:`gpsa.basis.generate`, default AGATA
  shape A, 2 mm grid, default :class:`GeneratorSettings`; cached as
  ``bases/cache/gpsa_A_2mm.h5``). Events are computed by the same field/drift/induction code at
  *continuous* positions (not basis points) but with **different generator settings**
  (:data:`EVENT_SETTINGS_CHANGES`: finer field grid, impurity +10 %, preamp τ 38 ns instead of
  35), then placed at a fractional T0 by a cubic time shift — not an inverse crime: neither the
  events' positions, nor their fields, nor their response are those of the searched basis.
* ``toy`` / ``toy-small``: :mod:`gpsa.bench.toy`'s analytic coaxial model, events at continuous
  positions and fractional T0 computed from the model itself.
* a basis *file*: events interpolated (trilinear) from that basis — fine for speed, flagged as
  not independent for accuracy.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from gpsa.basis.model import Basis
from gpsa.bench.toy import ToyCrystal, Truth, simulate_events, toy_basis
from gpsa.block import CrystalBlock
from gpsa.errors import BasisError
from gpsa.psa.window import shifted_signals

if TYPE_CHECKING:
    from gpsa.basis.generate import GeneratorSettings
    from gpsa.detector.segmentation import CrystalGeometry

log = logging.getLogger(__name__)

CACHE = Path("bases/cache")
EventMaker = Callable[[int, float, int], tuple[CrystalBlock, Truth]]  # (n, noise, seed)
TRACE_SAMPLES = 100
TRACE_T0 = 30.0

#: How the ``real`` source's events differ from its searched basis: ``GeneratorSettings.replace``
#: arguments applied to the basis settings (the defaults) to compute the events.
#:
#: * ``field_grid_mm`` 1.0 → 0.75: a finer finite-difference grid for the electric and weighting
#:   fields (different discretisation error; solved once, ~1 min on 2 cores, then cached in
#:   ``bases/cache``);
#: * ``impurity_a`` 0.45 → 0.495 and ``impurity_b`` 0.05 → 0.055 (×1e10 cm⁻³, /cm): the space
#:   charge +10 %, i.e. a slightly different electric field and drift velocities;
#: * ``preamp_tau_ns`` 35 → 38: a slower preamplifier than the one the basis assumes.
EVENT_SETTINGS_CHANGES: dict[str, float] = {
    "field_grid_mm": 0.75,
    "impurity_a": 0.495,
    "impurity_b": 0.055,
    "preamp_tau_ns": 38.0,
}


@dataclass(frozen=True)
class Source:
    basis: Basis
    description: str
    make_events: EventMaker
    independent_events: bool
    #: Generator settings of the events that differ from the basis' ({name: [basis, events]});
    #: empty when the events are not made by the generator.
    event_settings: dict[str, list[Any]] = field(default_factory=dict)


def have_generator() -> bool:
    try:
        import gpsa.basis.generate  # noqa: F401
    except ImportError:
        return False
    return True


def _block(sig: np.ndarray, seg: np.ndarray, pos: np.ndarray, t0_sample: int, noise: float,
           rng: np.random.Generator) -> tuple[CrystalBlock, Truth]:
    """Single-interaction events from unit signals (n, 37, S) with T0 at ``t0_sample``."""
    n = sig.shape[0]
    t_true = TRACE_T0 + rng.uniform(-0.5, 0.5, n)
    first = t0_sample - int(TRACE_T0)
    unit = shifted_signals(sig, np.arange(n), first, TRACE_SAMPLES, t_true - int(TRACE_T0))
    e = rng.uniform(150.0, 1500.0, n).astype(np.float32)
    tr = np.zeros((n, 38, TRACE_SAMPLES), np.float32)
    tr[:, :37] = e[:, None, None] * unit + (noise * e)[:, None, None] * rng.standard_normal(
        (n, 37, TRACE_SAMPLES)).astype(np.float32)
    tr[:, 37] = tr[:, 36]
    energies = np.zeros((n, 38), np.float32)
    energies[np.arange(n), seg] = e
    energies[:, 36] = energies[:, 37] = e
    block = CrystalBlock.from_traces(tr, energies=energies, t0=t_true.astype(np.float32))
    return block, Truth(event=np.arange(n), segment=seg.astype(np.int64),
                        position=pos.astype(np.float32), energy=e, t0=t_true)


def file_source(path: str) -> Source:
    from gpsa.basis.grid import BasisGrid
    from gpsa.basis.io import load_basis

    basis = load_basis(path)
    grid = BasisGrid.from_basis(basis)

    def make(n: int, noise: float, seed: int) -> tuple[CrystalBlock, Truth]:
        rng = np.random.default_rng(seed)
        base = rng.integers(0, len(basis), n)
        pos = basis.positions[base] + rng.uniform(-0.5, 0.5, (n, 3)) * basis.grid_mm
        return _block(grid.interpolate(pos), basis.segment[base].astype(np.int64), pos,
                      basis.t0_sample, noise, rng)

    return Source(basis, f"{path} (events interpolated from it)", make, False)


def toy_source(size: str = "full") -> Source:
    if size == "small":
        crystal = ToyCrystal.small()
        basis = toy_basis(crystal, grid_mm=2.0, n_samples=40, t0_sample=5)
    else:
        from gpsa.bench.benchmark import toy_crystal_basis

        basis, crystal = toy_crystal_basis()

    def make(n: int, noise: float, seed: int) -> tuple[CrystalBlock, Truth]:
        return simulate_events(crystal, n, n_samples=TRACE_SAMPLES, t0=TRACE_T0, noise=noise,
                               seed=seed)

    return Source(basis, f"toy {size} (gpsa.bench.toy), events at continuous positions",
                  make, True)


def settings_diff(basis: GeneratorSettings, events: GeneratorSettings) -> dict[str, list[Any]]:
    """``{name: [basis value, event value]}`` of the generator settings that differ."""
    a, b = basis.to_dict(), events.to_dict()
    return {k: [a[k], b[k]] for k in a if a[k] != b[k]}


def describe_changes(diff: dict[str, list[Any]]) -> str:
    return ", ".join(f"{k} {a:g} -> {b:g}" if isinstance(a, float) else f"{k} {a} -> {b}"
                     for k, (a, b) in diff.items()) or "none"


def random_positions(geometry: CrystalGeometry, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` uniform random positions (mm, float64) inside the germanium of ``geometry``."""
    lo, hi = (np.asarray(v, np.float64) for v in geometry.shape.bounding_box())
    pos = np.zeros((0, 3))
    while pos.shape[0] < n:
        p = rng.uniform(lo, hi, (2 * n, 3))
        pos = np.concatenate([pos, p[np.asarray(geometry.contains(p), bool)]])
    return pos[:n]


def physics_events(geometry: CrystalGeometry, settings: GeneratorSettings, n: int, noise: float,
                   seed: int, cache_dir: str | Path | None = CACHE, fields: Any = None
                   ) -> tuple[CrystalBlock, Truth]:
    """``n`` single-interaction events computed by the generator with ``settings`` at continuous
    random positions inside ``geometry`` (T0 at :data:`TRACE_T0` ± ½ sample, energy 150–1500
    keV, ``noise`` × energy rms per sample), in ``geometry`` with the settings' geometry values
    applied (:meth:`GeneratorSettings.geometry_of`). Truth segment = the segment the hole
    reaches under ``settings``; positions whose hole reaches no segment are skipped.
    ``fields``: already solved fields for ``settings`` (else solved or loaded from
    ``cache_dir``)."""
    from gpsa.basis.fields.solve import solve_fields
    from gpsa.basis.generate import compute_signals

    rng = np.random.default_rng(seed)
    geometry = settings.geometry_of(geometry)
    if fields is None:
        fields = solve_fields(geometry, settings, cache_dir=cache_dir)
    pos = random_positions(geometry, 2 * n, rng)
    sig, report = compute_signals(fields, pos, settings, geometry.order)
    ok = (report.hole_electrode >= 0) & (report.hole_electrode < 36)
    keep = np.flatnonzero(ok)[:n]
    if keep.size < n:
        raise RuntimeError(f"only {keep.size} of {2 * n} event positions reach a segment")
    return _block(np.asarray(sig[keep], np.float32), report.hole_electrode[keep], pos[keep],
                  settings.t0_sample, noise, rng)


def same_generation(basis: Basis, geometry: CrystalGeometry,
                    settings: GeneratorSettings) -> bool:
    """Whether ``basis`` records the generator ``settings`` and ``geometry`` (a cached basis
    made before a default changed, e.g. the sampling convention, must not be reused)."""
    from gpsa.basis.fields.crystal import geometry_fingerprint

    try:
        made = json.loads(basis.generator)
    except ValueError:
        return False
    return (made.get("settings") == json.loads(settings.to_json())
            and made.get("geometry") == json.loads(json.dumps(
                geometry_fingerprint(settings.geometry_of(geometry)))))


def real_source(crystal: str = "A", grid_mm: float = 2.0, cache: Path = CACHE,
                event_changes: dict[str, Any] | None = None) -> Source:
    """gpsa's generated basis of AGATA shape ``crystal`` (default generator settings) and events
    from the generator with those settings changed by ``event_changes`` (default
    :data:`EVENT_SETTINGS_CHANGES`; ``{}`` = the basis' own physics)."""
    from gpsa.basis.fields.solve import solve_fields
    from gpsa.basis.generate import GeneratorSettings, generate_basis
    from gpsa.basis.io import load_basis, write_basis
    from gpsa.detector.segmentation import CrystalGeometry

    geometry = CrystalGeometry.default(crystal)
    settings = GeneratorSettings()
    changes = EVENT_SETTINGS_CHANGES if event_changes is None else event_changes
    event_settings = settings.replace(**changes)
    diff = settings_diff(settings, event_settings)
    path = cache / f"gpsa_{crystal}_{grid_mm:g}mm.h5"
    try:
        basis = load_basis(path) if path.exists() else None
    except BasisError as exc:
        log.info("%s: regenerating (%s)", path, exc)
        basis = None
    if basis is not None and not same_generation(basis, geometry, settings):
        log.info("%s was made with other generator settings or code: regenerating", path)
        basis = None
    if basis is None:
        log.info("generating the %s basis (about a minute)", path)
        basis = generate_basis(geometry, grid_mm, settings, cache_dir=cache)
        cache.mkdir(parents=True, exist_ok=True)
        write_basis(path, basis)
    solved: list[Any] = []  # the events' fields, solved or loaded once

    def make(n: int, noise: float, seed: int) -> tuple[CrystalBlock, Truth]:
        if not solved:
            log.info("event fields: %s", describe_changes(diff))
            solved.append(solve_fields(geometry, event_settings, cache_dir=cache))
        return physics_events(geometry, event_settings, n, noise, seed, fields=solved[0])

    how = (f"events at continuous positions from different generator settings "
           f"({describe_changes(diff)})" if diff else
           "events from the same physics (same generator settings) at continuous positions")
    return Source(basis, f"gpsa.basis.generate shape {crystal} {grid_mm:g} mm grid "
                  f"(field grid {settings.field_grid_mm:g} mm, impurity "
                  f"{settings.impurity_a:g} + {settings.impurity_b:g}/cm, "
                  f"tau {settings.preamp_tau_ns:g} ns); {how}", make, True, diff)


def get_source(name: str | None, basis_file: str | None) -> Source:
    """``basis_file`` if given, else ``name`` ("real", "toy", "toy-small"; None = real when the
    generator is installed, else toy)."""
    if basis_file:
        return file_source(basis_file)
    name = name or ("real" if have_generator() else "toy")
    if name == "real":
        return real_source()
    return toy_source("small" if name == "toy-small" else "full")
