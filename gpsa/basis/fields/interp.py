"""Trilinear interpolation of node values (potentials, fields) at arbitrary points.

Node ``(i, j, k)`` sits at ``origin + h·(i, j, k)``. A point is located in the cell whose lower
corner is ``floor((p − origin)/h)`` (clamped to the grid, so points beyond the edge take the edge
cell and fractions are clamped to [0, 1]) and the 8 corner values are blended with the usual
weights ``(1−fx|fx)(1−fy|fy)(1−fz|fz)``. The numba helpers are reused inside the drift and
induction kernels; :func:`trilinear_reference` is the numpy twin used in tests.
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from gpsa.basis.fields._jit import JIT, PJIT


@JIT
def locate(origin: np.ndarray, inv_h: float, shape: tuple, x: float, y: float, z: float
           ) -> tuple:  # pragma: no cover - numba
    """``(i, j, k, fx, fy, fz)``: the cell holding the point and the fractions inside it."""
    u = (x - origin[0]) * inv_h
    v = (y - origin[1]) * inv_h
    w = (z - origin[2]) * inv_h
    i = min(max(int(math.floor(u)), 0), shape[0] - 2)
    j = min(max(int(math.floor(v)), 0), shape[1] - 2)
    k = min(max(int(math.floor(w)), 0), shape[2] - 2)
    fx = min(max(u - i, 0.0), 1.0)
    fy = min(max(v - j, 0.0), 1.0)
    fz = min(max(w - k, 0.0), 1.0)
    return i, j, k, fx, fy, fz


@JIT
def blend(values: np.ndarray, i: int, j: int, k: int, fx: float, fy: float, fz: float,
          out: np.ndarray) -> None:  # pragma: no cover - numba
    """``out[:] = `` trilinear blend of ``values[i:i+2, j:j+2, k:k+2, :]``."""
    n = values.shape[3]
    for b in range(n):
        out[b] = 0.0
    for di in range(2):
        wx = fx if di else 1.0 - fx
        for dj in range(2):
            wy = fy if dj else 1.0 - fy
            for dk in range(2):
                wgt = wx * wy * (fz if dk else 1.0 - fz)
                if wgt == 0.0:
                    continue
                for b in range(n):
                    out[b] += wgt * values[i + di, j + dj, k + dk, b]


@JIT
def blend_scalar(values: np.ndarray, i: int, j: int, k: int, fx: float, fy: float, fz: float
                 ) -> float:  # pragma: no cover - numba
    """Trilinear blend of a scalar grid ``values[nx, ny, nz]``."""
    c00 = values[i, j, k] * (1.0 - fz) + values[i, j, k + 1] * fz
    c01 = values[i, j + 1, k] * (1.0 - fz) + values[i, j + 1, k + 1] * fz
    c10 = values[i + 1, j, k] * (1.0 - fz) + values[i + 1, j, k + 1] * fz
    c11 = values[i + 1, j + 1, k] * (1.0 - fz) + values[i + 1, j + 1, k + 1] * fz
    return ((c00 * (1.0 - fy) + c01 * fy) * (1.0 - fx) + (c10 * (1.0 - fy) + c11 * fy) * fx)


@PJIT
def _interp_points(values: np.ndarray, origin: np.ndarray, inv_h: float, points: np.ndarray,
                   out: np.ndarray) -> None:  # pragma: no cover - numba
    shape = values.shape[:3]
    for p in prange(points.shape[0]):
        i, j, k, fx, fy, fz = locate(origin, inv_h, shape, points[p, 0], points[p, 1],
                                     points[p, 2])
        blend(values, i, j, k, fx, fy, fz, out[p])


def trilinear(values: np.ndarray, origin: np.ndarray, spacing: float, points: np.ndarray
              ) -> np.ndarray:
    """Interpolate ``values (nx, ny, nz, K)`` at ``points (n, 3)`` (mm) → ``(n, K)``."""
    pts = np.ascontiguousarray(points, dtype=np.float64).reshape(-1, 3)
    out = np.empty((pts.shape[0], values.shape[3]), dtype=values.dtype)
    _interp_points(values, np.asarray(origin, dtype=np.float64), 1.0 / spacing, pts, out)
    return out


def trilinear_reference(values: np.ndarray, origin: np.ndarray, spacing: float,
                        points: np.ndarray) -> np.ndarray:
    """Pure-numpy twin of :func:`trilinear`."""
    shape = np.array(values.shape[:3])
    u = (np.asarray(points, dtype=np.float64) - origin) / spacing
    ijk = np.clip(np.floor(u).astype(np.int64), 0, shape - 2)
    f = np.clip(u - ijk, 0.0, 1.0)
    out = np.zeros((u.shape[0], values.shape[3]))
    for corner in np.ndindex(2, 2, 2):
        c = np.array(corner)
        wgt = np.prod(np.where(c, f, 1.0 - f), axis=1)
        idx = ijk + c
        out += wgt[:, None] * values[idx[:, 0], idx[:, 1], idx[:, 2]]
    return out.astype(values.dtype)
