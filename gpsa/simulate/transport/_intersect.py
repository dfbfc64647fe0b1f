"""Numba kernels: where a ray runs through the germanium of one crystal, and of the array.

Crystal frame (see :mod:`gpsa.detector.shape`): germanium = ``0 <= z <= L`` ∩ ``r <= R`` ∩ the
hexagon interpolated linearly in z between the front and back corners, minus the bore
(``r < r_hole`` and ``z >= z_bore``). The hexagon's side faces are ruled surfaces (A180 front
and back edges are not parallel): along a ray ``p + t·d`` the edge test
``cross(edge(z), p − c(z))`` is a quadratic in ``t``. Every boundary crossing is therefore a
root of a linear or quadratic function (2 end planes, the bore's bottom plane, 2 cylinders,
6 faces); the roots cut the ray into pieces and the piece whose midpoint passes the exact point
test (:func:`inside`, the same rule as :meth:`CrystalShape.contains`) is germanium. Exact up to
rounding, whatever the face twist.

Geometry arrays (built by :func:`pack` in :mod:`.engine`): per shape ``front (6, 2)``,
``grad (6, 2)`` = (back − front)/L, ``par (4,)`` = L, R, r_hole, z_bore; per crystal ``rot``,
``trans`` (crystal → lab), shape index, bounding-sphere centre (lab) and radius².
"""

from __future__ import annotations

import math

import numba
import numpy as np

from gpsa._numba import jit_options

_OPTS = jit_options(fastmath=False)
MAX_ROOTS = 24
#: A piece of germanium that ends within this distance (mm) of the ray start is the one the
#: photon just left: ignored.
EPS_MM = 1e-6


@numba.njit(**_OPTS)
def inside(front: np.ndarray, grad: np.ndarray, par: np.ndarray, s: int,
           x: float, y: float, z: float) -> bool:
    length, radius, rhole, zbore = par[s, 0], par[s, 1], par[s, 2], par[s, 3]
    if z < 0.0 or z > length:
        return False
    r2 = x * x + y * y
    if r2 > radius * radius:
        return False
    if r2 < rhole * rhole and z >= zbore:
        return False
    for k in range(6):
        j = (k + 1) % 6
        cx = front[s, k, 0] + z * grad[s, k, 0]
        cy = front[s, k, 1] + z * grad[s, k, 1]
        ex = front[s, j, 0] + z * grad[s, j, 0] - cx
        ey = front[s, j, 1] + z * grad[s, j, 1] - cy
        if ex * (y - cy) - ey * (x - cx) < 0.0:
            return False
    return True


@numba.njit(**_OPTS)
def _add(buf: np.ndarray, n: int, t: float, lo: float, hi: float) -> int:
    if lo < t < hi and n < MAX_ROOTS:
        buf[n] = t
        n += 1
    return n


@numba.njit(**_OPTS)
def _quadratic(a: float, b: float, c: float, buf: np.ndarray, n: int, lo: float,
               hi: float) -> int:
    """Roots of a t² + b t + c in (lo, hi), appended to buf."""
    if a == 0.0:
        if b != 0.0:
            n = _add(buf, n, -c / b, lo, hi)
        return n
    disc = b * b - 4.0 * a * c
    if disc < 0.0:
        return n
    q = -0.5 * (b + math.copysign(math.sqrt(disc), b))
    n = _add(buf, n, q / a, lo, hi)
    if q != 0.0:
        n = _add(buf, n, c / q, lo, hi)
    return n


@numba.njit(**_OPTS)
def crystal_interval(front: np.ndarray, grad: np.ndarray, par: np.ndarray, s: int,
                     o: np.ndarray, d: np.ndarray, lo: float, hi: float,
                     buf: np.ndarray, out: np.ndarray) -> bool:
    """First piece ``[out[0], out[1]]`` of germanium along ``o + t·d`` (crystal frame) within
    ``[lo, hi]`` that ends beyond ``EPS_MM``; False if there is none."""
    length, radius, rhole, zbore = par[s, 0], par[s, 1], par[s, 2], par[s, 3]
    ox, oy, oz, dx, dy, dz = o[0], o[1], o[2], d[0], d[1], d[2]
    buf[0] = lo
    n = 1
    if dz != 0.0:
        n = _add(buf, n, -oz / dz, lo, hi)
        n = _add(buf, n, (length - oz) / dz, lo, hi)
        n = _add(buf, n, (zbore - oz) / dz, lo, hi)
    a = dx * dx + dy * dy
    b = 2.0 * (ox * dx + oy * dy)
    c = ox * ox + oy * oy
    n = _quadratic(a, b, c - radius * radius, buf, n, lo, hi)
    n = _quadratic(a, b, c - rhole * rhole, buf, n, lo, hi)
    for k in range(6):
        j = (k + 1) % 6
        gkx, gky = grad[s, k, 0], grad[s, k, 1]
        e0x = front[s, j, 0] - front[s, k, 0] + oz * (grad[s, j, 0] - gkx)
        e0y = front[s, j, 1] - front[s, k, 1] + oz * (grad[s, j, 1] - gky)
        e1x = dz * (grad[s, j, 0] - gkx)
        e1y = dz * (grad[s, j, 1] - gky)
        q0x = ox - front[s, k, 0] - oz * gkx
        q0y = oy - front[s, k, 1] - oz * gky
        q1x = dx - dz * gkx
        q1y = dy - dz * gky
        n = _quadratic(e1x * q1y - e1y * q1x,
                       e0x * q1y - e0y * q1x + e1x * q0y - e1y * q0x,
                       e0x * q0y - e0y * q0x, buf, n, lo, hi)
    buf[n] = hi
    n += 1
    # insertion sort (n <= MAX_ROOTS + 1)
    for i in range(1, n):
        v = buf[i]
        j = i - 1
        while j >= 0 and buf[j] > v:
            buf[j + 1] = buf[j]
            j -= 1
        buf[j + 1] = v
    found = False
    for i in range(n - 1):
        t0, t1 = buf[i], buf[i + 1]
        if t1 <= t0:
            continue
        tm = 0.5 * (t0 + t1)
        ok = inside(front, grad, par, s, ox + tm * dx, oy + tm * dy, oz + tm * dz)
        if ok and not found:
            if t1 <= EPS_MM:
                continue
            out[0], out[1] = t0, t1
            found = True
        elif ok:
            out[1] = t1
        elif found:
            break
    return found


@numba.njit(**_OPTS)
def next_crystal(p: np.ndarray, d: np.ndarray, rot: np.ndarray, trans: np.ndarray,
                 sidx: np.ndarray, centre: np.ndarray, rad2: np.ndarray, front: np.ndarray,
                 grad: np.ndarray, par: np.ndarray, o: np.ndarray, dl: np.ndarray,
                 buf: np.ndarray, seg: np.ndarray, out: np.ndarray) -> int:
    """Nearest germanium piece along the lab ray ``p + t·d`` (t >= 0) among all crystals:
    its crystal row (or -1) and ``out = [t_in, t_out]``."""
    best = -1
    best_in = math.inf
    for c in range(rot.shape[0]):
        wx = centre[c, 0] - p[0]
        wy = centre[c, 1] - p[1]
        wz = centre[c, 2] - p[2]
        bp = wx * d[0] + wy * d[1] + wz * d[2]
        disc = bp * bp - (wx * wx + wy * wy + wz * wz) + rad2[c]
        if disc < 0.0:
            continue
        sq = math.sqrt(disc)
        ts0, ts1 = bp - sq, bp + sq
        if ts1 <= EPS_MM or ts0 >= best_in:
            continue
        for i in range(3):
            o[i] = (rot[c, 0, i] * (p[0] - trans[c, 0]) + rot[c, 1, i] * (p[1] - trans[c, 1])
                    + rot[c, 2, i] * (p[2] - trans[c, 2]))
            dl[i] = rot[c, 0, i] * d[0] + rot[c, 1, i] * d[1] + rot[c, 2, i] * d[2]
        if crystal_interval(front, grad, par, sidx[c], o, dl, max(ts0, 0.0), ts1, buf, seg):
            if seg[0] < best_in:
                best, best_in = c, seg[0]
                out[0], out[1] = seg[0], seg[1]
    return best
