"""Numpy twin of the anisotropic drift kernel (:mod:`~.anisotropy`), written the other way round.

The kernel works with direction cosines and flat arrays; this reference follows the published
formulation step by step — polar angles from ``arccos``/``arctan2``, explicit rotation matrices
for the holes, matrix products for the electrons' valleys — so that the two agree only if both
implement the same model. Used by the tests and the bench, never by the generator.
"""

from __future__ import annotations

import numpy as np

from gpsa.basis.fields.anisotropy import ELECTRON_ADL, HOLE_ADL, KIND_SLOT


def _curve(p: np.ndarray, o: int, e_cm: np.ndarray) -> np.ndarray:
    mu0, e0, beta, mun = p[o:o + 4]
    return (mu0 * e_cm / (1.0 + (e_cm / e0) ** beta) ** (1.0 / beta) - mun * e_cm) * 1e-8


def axis_speeds(params: np.ndarray, e_v_per_mm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(V100, V111)`` in mm/ns of a packed model for field magnitudes in V/mm."""
    e_cm = 10.0 * np.abs(np.asarray(e_v_per_mm, dtype=np.float64))
    return _curve(params, 0, e_cm), _curve(params, 4, e_cm)


def velocity_reference(params: np.ndarray, field: np.ndarray) -> np.ndarray:
    """Velocities ``(N, 3)`` mm/ns (positive-mobility sense) for fields ``(N, 3)`` V/mm."""
    field = np.atleast_2d(np.asarray(field, dtype=np.float64))
    mag = np.linalg.norm(field, axis=1)
    v100, v111 = axis_speeds(params, mag)
    out = np.zeros_like(field)
    ok = mag > 0
    unit = field[ok] / mag[ok, None]
    if params[KIND_SLOT] == ELECTRON_ADL:
        g0, g1, g2 = params[9:12]
        gam = params[12:48].reshape(4, 3, 3)
        a_e = g0 * v100[ok]
        r_e = g1 * v111[ok] / a_e + g2
        ge = np.einsum("jab,nb->nja", gam, unit)  # γ_j e
        w = 1.0 / np.sqrt(np.einsum("na,nja->nj", unit, ge))
        n_j = r_e[:, None] * (w / w.sum(axis=1, keepdims=True) - 0.25) + 0.25
        out[ok] = a_e[:, None] * np.einsum("nj,nja->na", n_j * w, ge)
        return out
    if params[KIND_SLOT] != HOLE_ADL:
        raise ValueError("not an anisotropic model")
    rot = params[9:18].reshape(3, 3)
    lat = unit @ rot.T
    theta = np.arccos(np.clip(lat[:, 2], -1.0, 1.0))
    phi = np.arctan2(lat[:, 1], lat[:, 0])
    x = 1.0 - v111[ok] / v100[ok]
    lam = params[22] * x
    om = sum(c * x ** (k + 1) for k, c in enumerate(params[18:22]))
    st, ct = np.sin(theta), np.cos(theta)
    vr = v100[ok] * (1 - lam * (st**4 * np.sin(2 * phi) ** 2 + np.sin(2 * theta) ** 2))
    vt = v100[ok] * om * 2 * (st**3 * ct * np.sin(2 * phi) ** 2
                              + np.sin(2 * theta) * np.cos(2 * theta))
    vp = v100[ok] * om * 2 * st**3 * np.sin(2 * phi) * np.cos(2 * phi)
    for n, (t, f) in enumerate(zip(theta, phi, strict=True)):
        ry = np.array([[np.cos(t), 0, np.sin(t)], [0, 1, 0], [-np.sin(t), 0, np.cos(t)]])
        rz = np.array([[np.cos(f), -np.sin(f), 0], [np.sin(f), np.cos(f), 0], [0, 0, 1]])
        local = np.array([vt[n], vp[n], vr[n]])
        out[np.flatnonzero(ok)[n]] = rot.T @ (rz @ (ry @ local))
    return out
