"""Tiny analytic bases for tests and examples (no field calculation, not physics).

:func:`toy_basis` lays points on a regular lattice over a box (optionally cut to a cylinder)
and gives them 37 signals that are cheap and smooth in position:

* ``kind="smooth"``: the hit segment and the core rise from 0 to exactly +1 with a smoothstep
  of duration ``T(p) = 3 + 0.15·r + 0.1·z`` samples after ``t0_sample`` (r, z in mm); every other
  segment carries a transient ``-0.3·exp(-d/10 mm)·4u(1-u)`` that returns to 0, with ``d`` the
  distance to that segment's nominal centre. Obeys the format's net-charge rules.
* ``kind="linear"``: every value is an affine function of (x, y, z) with fixed coefficients,
  so trilinear interpolation must reproduce it exactly (breaks the net-charge rules).

Segments: sector by azimuth (6 wedges of 60° from +x), ring by z (6 equal slabs of the box).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .model import N_BASIS_CHANNELS, N_SEGMENTS, Basis, segment_label


def toy_positions(grid_mm: float, lo: Sequence[float], hi: Sequence[float],
                  radius: float | None = None) -> np.ndarray:
    """Lattice points ``lo + k·grid_mm`` inside the box [lo, hi] (and the cylinder of
    ``radius`` around the z axis when given), (N, 3) float32."""
    axes = [np.arange(lo[a], hi[a] + 1e-9, grid_mm) for a in range(3)]
    mesh = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    if radius is not None:
        mesh = mesh[np.hypot(mesh[:, 0], mesh[:, 1]) <= radius + 1e-9]
    return mesh.astype(np.float32)


def _smoothstep(u: np.ndarray) -> np.ndarray:
    u = np.clip(u, 0.0, 1.0)
    return u * u * (3.0 - 2.0 * u)


def toy_basis(*, grid_mm: float = 6.0, lo: Sequence[float] = (-12.0, -12.0, 0.0),
              hi: Sequence[float] = (12.0, 12.0, 24.0), radius: float | None = None,
              n_samples: int = 40, t0_sample: int = 4, kind: str = "smooth",
              segment_order: str = "sector-major", dtype: str = "float32",
              crystal_type: str = "A") -> Basis:
    """A small synthetic :class:`Basis` (see the module docstring)."""
    pos = toy_positions(grid_mm, lo, hi, radius)
    p = pos.astype(np.float64)
    phi = np.mod(np.arctan2(p[:, 1], p[:, 0]), 2 * np.pi)
    sector = np.minimum((phi / (np.pi / 3)).astype(np.int64), 5)
    depth = max(hi[2] - lo[2], 1e-9) / 6.0
    ring = np.clip(((p[:, 2] - lo[2]) / depth).astype(np.int64), 0, 5)
    segment = segment_label(sector, ring, segment_order).astype(np.int16)
    t = np.arange(n_samples, dtype=np.float64)
    n = len(pos)
    if kind == "linear":
        rng = np.random.default_rng(1234)
        coef = rng.normal(size=(4, N_BASIS_CHANNELS, n_samples))
        sig = (np.einsum("na,act->nct", p, coef[:3]) + coef[3][None]) / 20.0
    elif kind == "smooth":
        duration = 3.0 + 0.15 * np.hypot(p[:, 0], p[:, 1]) + 0.1 * (p[:, 2] - lo[2])
        u = (t[None, :] - t0_sample) / duration[:, None]
        ramp = _smoothstep(u)
        bump = 4.0 * ramp * (1.0 - ramp)
        seg_ids = np.arange(N_SEGMENTS)
        s_sec, s_ring = (seg_ids // 6, seg_ids % 6) if segment_order == "sector-major" else (
            seg_ids % 6, seg_ids // 6)
        ang = (s_sec + 0.5) * np.pi / 3
        centre = np.stack([10 * np.cos(ang), 10 * np.sin(ang), lo[2] + (s_ring + 0.5) * depth], 1)
        dist = np.linalg.norm(p[:, None, :] - centre[None], axis=2)  # (n, 36)
        sig = np.empty((n, N_BASIS_CHANNELS, n_samples))
        sig[:, :N_SEGMENTS] = -0.3 * np.exp(-dist / 10.0)[:, :, None] * bump[:, None, :]
        sig[np.arange(n), segment] = ramp
        sig[:, N_SEGMENTS] = ramp
    else:
        raise ValueError(f"toy_basis: kind must be 'smooth' or 'linear', got {kind!r}")
    return Basis(positions=pos, segment=segment, signals=sig.astype(dtype),
                 sampling_ns=10.0, t0_sample=t0_sample, segment_order=segment_order,
                 grid_mm=float(grid_mm), crystal_type=crystal_type,
                 generator=f"gpsa.basis.toy kind={kind}", source=f"<toy {kind} basis>")
