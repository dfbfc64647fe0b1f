"""Analytic geometries for the field-solver and drift tests (not a test module).

* a coaxial cylinder ``r1 ≤ r ≤ r2``, ``0 ≤ z ≤ L``: inner electrode (label 1) in the bore,
  outer electrode (label 0), passivated ends, so the exact solution does not depend on z;
* a parallel-plate slab ``z0 ≤ z ≤ z1``: bottom plate label 0, top plate label 1, passivated
  sides; the Laplace solution is linear in z and the field uniform.
"""

from __future__ import annotations

import numpy as np

from gpsa.basis.fields.grid import FieldGrid, build_grid

R1, R2, LENGTH = 5.0, 40.0, 24.0
Z0, Z1, HALF = 0.3, 9.7, 4.0


def coax_grid(spacing: float) -> FieldGrid:
    def contains(p: np.ndarray) -> np.ndarray:
        r = np.hypot(p[:, 0], p[:, 1])
        return (r >= R1) & (r <= R2) & (p[:, 2] >= 0) & (p[:, 2] <= LENGTH)

    return build_grid(contains, lambda p: np.hypot(p[:, 0], p[:, 1]) < R1,
                      lambda p: np.zeros(len(p), dtype=int), np.array([-R2, -R2, 0.0]),
                      np.array([R2, R2, LENGTH]), spacing, core_label=1,
                      passive=lambda p: (p[:, 2] < 0) | (p[:, 2] > LENGTH))


def coax_exact(r: np.ndarray, bias: float, rho_over_eps: float = 0.0) -> np.ndarray:
    """φ(r) with φ(R1) = bias, φ(R2) = 0 and ∇²φ = −ρ/ε (uniform)."""
    s = rho_over_eps
    a = (bias + s * (R1**2 - R2**2) / 4.0) / np.log(R1 / R2)
    b = s * R2**2 / 4.0 - a * np.log(R2)
    return -s * r**2 / 4.0 + a * np.log(r) + b


def plate_grid(spacing: float) -> FieldGrid:
    def contains(p: np.ndarray) -> np.ndarray:
        return ((p[:, 2] >= Z0) & (p[:, 2] <= Z1) & (np.abs(p[:, 0]) <= HALF)
                & (np.abs(p[:, 1]) <= HALF))

    def electrode(p: np.ndarray) -> np.ndarray:
        return (p[:, 2] > Z1).astype(int)

    def passive(p: np.ndarray) -> np.ndarray:
        return (np.abs(p[:, 0]) > HALF) | (np.abs(p[:, 1]) > HALF)

    return build_grid(contains, lambda p: np.zeros(len(p), dtype=bool), electrode,
                      np.array([-HALF, -HALF, Z0]), np.array([HALF, HALF, Z1]), spacing,
                      core_label=1, passive=passive)
