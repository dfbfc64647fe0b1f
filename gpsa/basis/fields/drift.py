"""Drift of the electron–hole pair from each interaction point to the electrodes.

Holes move along ``+E``, electrons along ``−E`` (toward the positive core), with the field-
dependent speed of :mod:`gpsa.basis.fields.mobility` (isotropic: velocity parallel to the field,
``params`` the 4 numbers of one curve) or the velocity of the anisotropic lattice model of
:mod:`gpsa.basis.fields.anisotropy` (``params`` a packed model, longer than 4: the velocity
depends on the field's direction and is not parallel to it in general).
``E`` is trilinearly interpolated from the node field; the path is integrated with the midpoint
(RK2) rule in fixed steps of ``dt`` (1 ns by default; ≤ 0.13 mm per step, ≪ the grid spacing).

A carrier leaves the germanium when the interpolated signed distance (see
:mod:`gpsa.basis.fields.grid`) drops to ≤ 0. The crossing is located by linear interpolation of
the signed distance within the step, which gives the collection time to a fraction of ``dt``.
The electrode reached is the label of the nearest non-free node of the cell. At a passivated
surface the outward component of the step is removed and the carrier is kept just inside (it
slides along the surface, as the Neumann field does). A carrier whose speed vanishes or that
runs past ``max_steps`` is *not collected* (label −1): a sign of an undepleted or badly resolved
region.

All start points are drifted in parallel (numba ``prange``); each writes its positions at
``t = 0, dt, …, (n_keep − 1)·dt`` into ``path`` (the collection point is repeated after the
carrier is collected) and returns its collection time and electrode label.
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from gpsa.basis.fields._jit import JIT, PJIT
from gpsa.basis.fields.anisotropy import adl_velocity
from gpsa.basis.fields.grid import FREE
from gpsa.basis.fields.interp import blend, blend_scalar, locate
from gpsa.basis.fields.mobility import drift_speed

NOT_COLLECTED = -1
HOLE_SIGN, ELECTRON_SIGN = 1.0, -1.0
_STUCK_MM = 1e-7


@JIT
def _sdf(sdf: np.ndarray, origin: np.ndarray, inv_h: float, x: np.ndarray
         ) -> float:  # pragma: no cover - numba
    i, j, k, fx, fy, fz = locate(origin, inv_h, sdf.shape, x[0], x[1], x[2])
    return blend_scalar(sdf, i, j, k, fx, fy, fz)


@JIT
def _inward_normal(sdf: np.ndarray, origin: np.ndarray, inv_h: float, x: np.ndarray,
                   out: np.ndarray) -> None:  # pragma: no cover - numba
    """Unit gradient of the signed distance (pointing into the germanium)."""
    step = 0.1 / inv_h
    y = x.copy()
    norm = 0.0
    for a in range(3):
        y[a] = x[a] + step
        hi = _sdf(sdf, origin, inv_h, y)
        y[a] = x[a] - step
        lo = _sdf(sdf, origin, inv_h, y)
        y[a] = x[a]
        out[a] = hi - lo
        norm += out[a] * out[a]
    norm = math.sqrt(norm)
    for a in range(3):
        out[a] = out[a] / norm if norm > 0.0 else 0.0


@JIT
def _velocity(efield: np.ndarray, origin: np.ndarray, inv_h: float, params: np.ndarray,
              sign: float, x: np.ndarray, out: np.ndarray) -> float:  # pragma: no cover - numba
    """Drift velocity (mm/ns) at ``x`` into ``out``; returns the speed."""
    i, j, k, fx, fy, fz = locate(origin, inv_h, efield.shape, x[0], x[1], x[2])
    blend(efield, i, j, k, fx, fy, fz, out)
    if params.shape[0] > 4:  # packed anisotropic model (see anisotropy.carrier_model)
        speed = adl_velocity(params, out[0], out[1], out[2], out)
        for a in range(3):
            out[a] *= sign
        return speed
    mag = math.sqrt(out[0] * out[0] + out[1] * out[1] + out[2] * out[2])
    speed = drift_speed(params, mag)
    scale = sign * speed / mag if mag > 0.0 else 0.0
    for a in range(3):
        out[a] *= scale
    return speed


@JIT
def _exit_label(labels: np.ndarray, origin: np.ndarray, inv_h: float, x: np.ndarray
                ) -> int:  # pragma: no cover - numba
    """Label of the nearest non-free corner of the cell holding ``x``."""
    i, j, k, fx, fy, fz = locate(origin, inv_h, labels.shape, x[0], x[1], x[2])
    best, best_d = -3, 1e30
    for di in range(2):
        for dj in range(2):
            for dk in range(2):
                lab = labels[i + di, j + dj, k + dk]
                if lab == FREE:
                    continue
                d = (fx - di) ** 2 + (fy - dj) ** 2 + (fz - dk) ** 2
                if d < best_d:
                    best, best_d = lab, d
    return best


@JIT
def _nudge_inside(sdf: np.ndarray, origin: np.ndarray, inv_h: float, x: np.ndarray
                  ) -> None:  # pragma: no cover - numba
    """Move a start point that the interpolated surface leaves outside just inside it."""
    n = np.empty(3)
    margin = 0.02 / inv_h
    for _ in range(8):
        s = _sdf(sdf, origin, inv_h, x)
        if s > 0.0:
            return
        _inward_normal(sdf, origin, inv_h, x, n)
        for a in range(3):
            x[a] += (margin - s) * n[a]


@JIT
def drift_one(start: np.ndarray, sign: float, params: np.ndarray, efield: np.ndarray,
              sdf: np.ndarray, labels: np.ndarray, origin: np.ndarray, inv_h: float, dt: float,
              max_steps: int, path: np.ndarray) -> tuple:  # pragma: no cover - numba
    """Drift one carrier; fills ``path (n_keep, 3)``; returns ``(t_collect_ns, label)``."""
    n_keep = path.shape[0]
    x = start.copy()
    _nudge_inside(sdf, origin, inv_h, x)
    v1, v2, xm, xn, nrm = np.empty(3), np.empty(3), np.empty(3), np.empty(3), np.empty(3)
    path[0, :] = x
    s_old = _sdf(sdf, origin, inv_h, x)
    t_end, label, step, written = -1.0, NOT_COLLECTED, 0, 0
    while step < max_steps:
        step += 1
        speed = _velocity(efield, origin, inv_h, params, sign, x, v1)
        if speed * dt < _STUCK_MM:
            break
        for a in range(3):
            xm[a] = x[a] + 0.5 * dt * v1[a]
        if _sdf(sdf, origin, inv_h, xm) > 0.0:
            _velocity(efield, origin, inv_h, params, sign, xm, v2)
        else:
            v2[:] = v1
        for a in range(3):
            xn[a] = x[a] + dt * v2[a]
        s_new = _sdf(sdf, origin, inv_h, xn)
        if s_new <= 0.0:
            lab = _exit_label(labels, origin, inv_h, xn)
            if lab >= 0:
                f = s_old / (s_old - s_new) if s_old > s_new else 1.0
                for a in range(3):
                    x[a] += f * (xn[a] - x[a])
                t_end, label = (step - 1 + f) * dt, lab
                break
            _inward_normal(sdf, origin, inv_h, xn, nrm)
            dn = 0.0
            for a in range(3):
                dn += (xn[a] - x[a]) * nrm[a]
            for a in range(3):
                xn[a] -= min(dn, 0.0) * nrm[a]
            _nudge_inside(sdf, origin, inv_h, xn)
            s_new = _sdf(sdf, origin, inv_h, xn)
            if s_new <= 0.0:
                break
        x[:] = xn
        s_old = s_new
        if step < n_keep:
            path[step, :] = x
            written = step
    for s in range(written + 1, n_keep):
        path[s, :] = x
    return t_end, label


@PJIT
def drift_all(starts: np.ndarray, sign: float, params: np.ndarray, efield: np.ndarray,
              sdf: np.ndarray, labels: np.ndarray, origin: np.ndarray, inv_h: float, dt: float,
              max_steps: int, path: np.ndarray, t_end: np.ndarray, label: np.ndarray
              ) -> None:  # pragma: no cover - numba
    """Drift one carrier type from every start point (parallel over points)."""
    for p in prange(starts.shape[0]):
        t, lab = drift_one(starts[p], sign, params, efield, sdf, labels, origin, inv_h, dt,
                           max_steps, path[p])
        t_end[p] = t
        label[p] = lab
