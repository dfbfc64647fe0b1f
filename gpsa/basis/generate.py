"""Generate a signal basis from physics: fields → drift → Shockley–Ramo → detector response.

gpsa cannot ship AGATA's ADL bases, so it makes its own. For a crystal geometry:

1. solve the electric potential (Poisson, impurity space charge, core bias) and the 37 weighting
   potentials (Laplace) on a finite-difference grid (:mod:`gpsa.basis.fields.solve`, cached);
2. take the basis points — the centres of a regular ``grid_mm`` lattice, ``(k + ½)·grid_mm``,
   that lie inside the germanium;
3. drift the hole and the electron from every point to the electrodes
   (:mod:`~gpsa.basis.fields.drift`; along ±E, or with the lattice anisotropy of
   :mod:`~gpsa.basis.fields.anisotropy` when ``anisotropic``), sum the charges they induce
   on the 37 electrodes (:mod:`~gpsa.basis.fields.induction`) every ``drift_step_ns``;
   with ``cloud_sigma_mm`` > 0 or ``diffusion``, each carrier's part is spread in time by its
   cloud's longitudinal size (:mod:`~gpsa.basis.fields.diffusion`);
4. apply the preamplifier, the optional extra RC shaping (``shaping_ns``, ``shaping_stages``),
   a measured impulse response (``impulse_response``, :mod:`~gpsa.basis.fields.impulse`),
   smoothing and cross-talk, and sample 56 × 10 ns with the
   interaction at ``t0_sample`` (:mod:`~gpsa.basis.fields.response`): by default each sample
   is the mean over the 10 ns that end at its time (``sampling = "integrated"``), or the value
   at that time (``"point"``);
5. label each point with its hit segment: the segment its hole reaches (the one with the net
   charge, ``segment_from = "collection"``) or ``segment_of`` of the point (``"geometry"``).

The geometry settings (ring depths, sector rule and numbering, bore, contact dead layers; see
:data:`~gpsa.basis.fields.settings.GEOMETRY_KEYS`) are applied to ``geometry`` first
(:meth:`GeneratorSettings.geometry_of`); the basis records the resulting geometry
(``generator`` attribute, key ``geometry``), and :mod:`gpsa.basis.provenance` reads it back.
With an ``impulse_response`` file the attribute also has a key ``impulse_response``: the file's
name, sha256, sampling period and length, so bases made with different files differ. The file
is read (and any problem with it reported) before the fields are solved.

Usage::

    from gpsa.detector.segmentation import CrystalGeometry
    from gpsa.basis.generate import GeneratorSettings, generate_basis
    basis = generate_basis(CrystalGeometry.default("A"), grid_mm=2.0,
                           settings=GeneratorSettings(field_grid_mm=1.0), cache_dir="bases/cache")
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from gpsa import __version__
from gpsa.basis.fields.anisotropy import ELECTRON_ADL, HOLE_ADL, carrier_model
from gpsa.basis.fields.crystal import CORE_LABEL, GeometryLike, geometry_fingerprint
from gpsa.basis.fields.diffusion import spread_signals
from gpsa.basis.fields.drift import ELECTRON_SIGN, HOLE_SIGN, drift_all
from gpsa.basis.fields.impulse import ImpulseResponse, load_impulse_response
from gpsa.basis.fields.induction import induce_all
from gpsa.basis.fields.mobility import EXPONENTS, CarrierMobility
from gpsa.basis.fields.response import apply_response
from gpsa.basis.fields.settings import GeneratorSettings
from gpsa.basis.fields.solve import CrystalFields, solve_fields
from gpsa.basis.model import Basis
from gpsa.errors import ConfigError

__all__ = ["GeneratorSettings", "GenerationReport", "basis_points", "generate_basis",
           "generate_basis_with_report", "compute_signals", "carrier_params",
           "impulse_response_of"]

log = logging.getLogger(__name__)

#: What sample ``s`` holds, per ``sampling`` (``t_s = (s − t0_sample)·sampling_ns``).
SAMPLING_CONVENTION = {
    "point": "sample s = signal at t_s = (s - t0_sample) * sampling_ns",
    "integrated": "sample s = mean of the signal over [t_s - sampling_ns, t_s), "
                  "t_s = (s - t0_sample) * sampling_ns (trapezoid on the drift_step_ns grid)"}

#: ``progress(done, total, message)``: points done so far out of ``total`` (0 while solving).
Progress = Callable[[int, int, str], None]


@dataclass
class GenerationReport:
    """Diagnostics of one generation (per basis point arrays in basis order)."""

    hole_time_ns: np.ndarray  # collection time, -1 if not collected
    electron_time_ns: np.ndarray
    hole_electrode: np.ndarray  # electrode reached (0–35 segments, 36 core), -1 if none
    electron_electrode: np.ndarray
    timings_s: dict[str, float] = field(default_factory=dict)
    fields_key: str = ""
    fields_from_cache: bool = False
    geometry_mismatch: int = 0  # points whose hole reaches another segment than segment_of

    @property
    def drift_time_ns(self) -> np.ndarray:
        """Time until both carriers are collected (NaN if one is not)."""
        t = np.maximum(self.hole_time_ns, self.electron_time_ns).astype(np.float64)
        t[(self.hole_time_ns < 0) | (self.electron_time_ns < 0)] = np.nan
        return t

    @property
    def n_not_collected(self) -> int:
        return int(np.sum((self.hole_electrode < 0) | (self.electron_electrode < 0)))

    def summary(self) -> dict[str, object]:
        t = self.drift_time_ns
        ok = np.isfinite(t)
        pct = np.percentile(t[ok], [0, 50, 99, 100]).round(1).tolist() if ok.any() else []
        return {"n_points": int(t.size), "not_collected": self.n_not_collected,
                "electron_not_at_core": int(np.sum(self.electron_electrode != CORE_LABEL)),
                "hole_not_in_geometric_segment": self.geometry_mismatch,
                "drift_time_ns_min_median_p99_max": pct,
                "timings_s": {k: round(v, 2) for k, v in self.timings_s.items()}}


def basis_points(geometry: GeometryLike, grid_mm: float) -> tuple[np.ndarray, np.ndarray]:
    """Centres ``(k + ½)·grid_mm`` inside the germanium: positions ``(N, 3)`` float32 (mm,
    sorted x, y, z) and their segment ``(N,)`` int16."""
    if not grid_mm > 0:
        raise ConfigError(f"basis grid must be > 0 mm, got {grid_mm}")
    lo, hi = geometry.shape.bounding_box()
    axes = [(np.arange(np.floor(lo[a] / grid_mm), np.ceil(hi[a] / grid_mm)) + 0.5) * grid_mm
            for a in range(3)]
    pts = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    pts = pts[np.asarray(geometry.contains(pts), dtype=bool)]
    seg = np.asarray(geometry.segment_of(pts, inside_only=False), dtype=np.int16)
    return pts.astype(np.float32), seg


def carrier_params(settings: GeneratorSettings, hole: bool) -> np.ndarray:
    """Drift-kernel parameters of one carrier at the settings' temperature: the 4 numbers of
    the <100> curve (isotropic) or the packed lattice model (``anisotropic``)."""
    s = settings
    exponent = EXPONENTS["hole" if hole else "electron"]
    c100 = CarrierMobility(*(s.hole if hole else s.electron)).at_temperature(
        s.temperature_k, exponent)
    if not s.anisotropic:
        return c100.as_array()
    c111 = CarrierMobility(*(s.hole_111 if hole else s.electron_111)).at_temperature(
        s.temperature_k, exponent)
    return carrier_model(HOLE_ADL if hole else ELECTRON_ADL, c100, c111, s.lattice_angle_deg)


def impulse_response_of(settings: GeneratorSettings) -> ImpulseResponse | None:
    """The settings' measured impulse response, read and checked (None when not set)."""
    if settings.impulse_response is None:
        return None
    return load_impulse_response(settings.impulse_response, settings.impulse_response_period_ns)


def compute_signals(fields: CrystalFields, positions: np.ndarray, settings: GeneratorSettings,
                    order: str = "sector-major", progress: Progress | None = None,
                    impulse: ImpulseResponse | None = None
                    ) -> tuple[np.ndarray, GenerationReport]:
    """Signals ``(N, 37, n_samples)`` of the points ``positions (N, 3)`` (mm) and diagnostics.
    ``impulse``: the settings' impulse response already read (None: read it here)."""
    s = settings
    if impulse is None:
        impulse = impulse_response_of(s)
    kernel = None if impulse is None else impulse.kernel(s.drift_step_ns)
    grid = fields.grid
    step = int(round(s.sampling_ns / s.drift_step_ns))
    n_keep = (s.n_samples - s.t0_sample) * step
    n_fine = s.n_samples * step
    max_steps = int(np.ceil(s.max_drift_ns / s.drift_step_ns))
    efield = np.ascontiguousarray(fields.electric.field)
    wext = np.ascontiguousarray(fields.weighting.extended(), dtype=np.float32)
    origin, inv_h = grid.origin, 1.0 / grid.spacing
    params = {sign: carrier_params(s, hole=sign > 0) for sign in (HOLE_SIGN, ELECTRON_SIGN)}
    n = positions.shape[0]
    out = np.empty((n, wext.shape[3], s.n_samples), dtype=np.dtype(s.dtype))
    times = {HOLE_SIGN: np.empty(n, np.float32), ELECTRON_SIGN: np.empty(n, np.float32)}
    labels = {HOLE_SIGN: np.empty(n, np.int16), ELECTRON_SIGN: np.empty(n, np.int16)}
    for a in range(0, n, s.chunk_points):
        b = min(n, a + s.chunk_points)
        starts = np.ascontiguousarray(positions[a:b], dtype=np.float64)
        paths = {}
        for sign in (HOLE_SIGN, ELECTRON_SIGN):
            paths[sign] = np.empty((b - a, n_keep, 3), dtype=np.float64)
            drift_all(starts, sign, params[sign], efield, grid.sdf, grid.labels, origin, inv_h,
                      s.drift_step_ns, max_steps, paths[sign], times[sign][a:b],
                      labels[sign][a:b])
        raw = np.zeros((b - a, wext.shape[3], n_fine), dtype=np.float32)
        induce_all(paths[HOLE_SIGN], paths[ELECTRON_SIGN], times[HOLE_SIGN][a:b],
                   times[ELECTRON_SIGN][a:b], labels[HOLE_SIGN][a:b],
                   labels[ELECTRON_SIGN][a:b], wext, origin, inv_h, s.drift_step_ns,
                   CORE_LABEL, s.t0_sample * step, raw)
        if s.cloud_sigma_mm > 0 or s.diffusion:
            pair = (HOLE_SIGN, ELECTRON_SIGN)
            raw = spread_signals(raw, starts, tuple(paths[c] for c in pair),
                                 tuple(times[c][a:b] for c in pair),
                                 tuple(labels[c][a:b] for c in pair), wext, efield, origin,
                                 grid.spacing, s.drift_step_ns, s.t0_sample * step, CORE_LABEL,
                                 s.cloud_sigma_mm, s.diffusion, s.temperature_k)
        out[a:b] = apply_response(raw, dt_ns=s.drift_step_ns, sampling_ns=s.sampling_ns,
                                  n_samples=s.n_samples, tau_ns=s.preamp_tau_ns,
                                  smoothing_ns=s.smoothing_ns, crosstalk_fraction=s.crosstalk,
                                  order=order, sampling=s.sampling, shaping_ns=s.shaping_ns,
                                  shaping_stages=s.shaping_stages, kernel=kernel)
        if progress is not None:
            progress(b, n, "drifting charges")
    report = GenerationReport(times[HOLE_SIGN], times[ELECTRON_SIGN], labels[HOLE_SIGN],
                              labels[ELECTRON_SIGN])
    return out, report


def generate_basis_with_report(geometry: GeometryLike, grid_mm: float = 2.0,
                               settings: GeneratorSettings | None = None,
                               progress: Progress | None = None,
                               cache_dir: str | os.PathLike[str] | None = None
                               ) -> tuple[Basis, GenerationReport]:
    """:func:`generate_basis` that also returns the drift diagnostics."""
    s = settings or GeneratorSettings()
    impulse = impulse_response_of(s)  # a bad file stops here, before any work
    if impulse is not None:
        impulse.kernel(s.drift_step_ns)
    geometry = s.geometry_of(geometry)
    positions, segment = basis_points(geometry, grid_mm)
    say = (lambda msg: progress(0, len(positions), msg)) if progress else None
    t0 = time.perf_counter()
    fields = solve_fields(geometry, s, cache_dir=cache_dir, report=say)
    t_fields = time.perf_counter() - t0
    if not fields.electric.depleted():
        raise ConfigError(f"crystal not fully depleted at bias {s.bias_v:g} V with impurity "
                          f"{s.impurity_a:g} + {s.impurity_b:g}/cm ×1e10 cm^-3 (potential "
                          f"inside reaches {fields.electric.max_inside:.0f} V): raise 'bias_v' "
                          f"or lower the impurity")
    t1 = time.perf_counter()
    signals, report = compute_signals(fields, positions, s, geometry.order, progress,
                                      impulse)
    reached = (report.hole_electrode >= 0) & (report.hole_electrode < CORE_LABEL)
    report.geometry_mismatch = int(np.sum(reached & (report.hole_electrode != segment)))
    if s.segment_from == "collection":
        segment = np.where(reached, report.hole_electrode, segment).astype(np.int16)
    report.timings_s = {"fields": t_fields, "signals": time.perf_counter() - t1}
    report.fields_key, report.fields_from_cache = fields.key, fields.from_cache
    if report.n_not_collected:
        log.warning("%d of %d basis points have a carrier that is not collected",
                    report.n_not_collected, len(positions))
    provenance = {"generator": "gpsa.basis.generate", "gpsa_version": __version__,
                  "settings": s.to_dict(), "geometry": geometry_fingerprint(geometry),
                  "basis_grid_mm": grid_mm, "fields_key": fields.key,
                  "sampling_convention": SAMPLING_CONVENTION[s.sampling],
                  "fields_levels": [[lv.spacing, lv.sweeps] for lv in fields.electric.levels],
                  "drift": report.summary()}
    if impulse is not None:
        provenance["impulse_response"] = impulse.describe()
    basis = Basis(positions=positions, segment=segment, signals=signals,
                  sampling_ns=s.sampling_ns, t0_sample=s.t0_sample,
                  segment_order=geometry.order, grid_mm=float(grid_mm),
                  crystal_type=str(getattr(geometry.shape, "name", "")),
                  preamp_tau_ns=s.preamp_tau_ns, generator=json.dumps(provenance, sort_keys=True))
    log.info("basis of %d points generated: fields %.1f s, signals %.1f s", len(positions),
             t_fields, report.timings_s["signals"])
    return basis, report


def generate_basis(geometry: GeometryLike, grid_mm: float = 2.0,
                   settings: GeneratorSettings | None = None, progress: Progress | None = None,
                   cache_dir: str | os.PathLike[str] | None = None) -> Basis:
    """A :class:`~gpsa.basis.model.Basis` of ``geometry`` on a ``grid_mm`` lattice (see the
    module docstring). ``cache_dir``: where solved fields are cached (None = no cache)."""
    return generate_basis_with_report(geometry, grid_mm, settings, progress, cache_dir)[0]
