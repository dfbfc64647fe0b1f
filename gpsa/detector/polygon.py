"""Plane geometry kernels for convex polygons around the origin (the crystal axis).

* :func:`hexagon_contains` — vectorised point-in-convex-polygon test, one polygon per point.
* :func:`polygon_disk_area` — exact area of a polygon ∩ a disk centred on the origin.
* :func:`wedge_index` — which angular wedge (between consecutive corner directions) holds a point.
* :func:`as_points`, :func:`chunked` — point-array checks and chunked evaluation of kernels.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from gpsa.detector.tables import GeometryError

TWO_PI = 2.0 * np.pi
CHUNK = 1 << 16


def as_points(xyz: np.ndarray) -> np.ndarray:
    """``xyz`` as a float64 array of shape ``(..., 3)`` (no copy when already so)."""
    p = np.asarray(xyz, dtype=np.float64)
    if p.ndim == 0 or p.shape[-1] != 3:
        raise GeometryError(f"points must have shape (..., 3), got {p.shape}")
    return p


def chunked(xyz: np.ndarray, func: Callable[[np.ndarray], np.ndarray],
            dtype: type = bool) -> np.ndarray:
    """Apply ``func`` (``(n, 3)`` → ``(n,)``) to chunks of the flattened points; keep the shape."""
    p = as_points(xyz)
    flat = p.reshape(-1, 3)
    out = np.empty(flat.shape[0], dtype=dtype)
    for i in range(0, flat.shape[0], CHUNK):
        out[i:i + CHUNK] = func(flat[i:i + CHUNK])
    return out.reshape(p.shape[:-1])


def hexagon_contains(corners: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """``corners (n, k, 2)`` counter-clockwise convex polygons, ``pts (n, 2)`` → ``(n,)`` bool.

    A point is inside when it lies on the left of (or on) every edge.
    """
    edges = np.roll(corners, -1, axis=-2) - corners
    rel = pts[..., None, :] - corners
    cross = edges[..., 0] * rel[..., 1] - edges[..., 1] * rel[..., 0]
    return np.all(cross >= 0.0, axis=-1)


def wedge_index(corners: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Index ``s`` of the wedge between the directions of corner ``s`` and ``s + 1``.

    ``corners (n, k, 2)`` in increasing azimuth (one polygon per point), ``pts (n, 2)``. The
    wedge starting at a corner direction includes it. Works for points anywhere in the plane;
    a point on the axis falls in a definite but arbitrary wedge.
    """
    phi_c = np.arctan2(corners[..., 1], corners[..., 0])
    start = phi_c[..., :1]
    rel_c = np.mod(phi_c[..., 1:] - start, TWO_PI)
    rel_p = np.mod(np.arctan2(pts[..., 1], pts[..., 0]) - start[..., 0], TWO_PI)
    return np.sum(rel_c <= rel_p[..., None], axis=-1)


def polygon_disk_area(poly: np.ndarray, radius: float) -> float:
    """Exact area of the polygon ``poly (k, 2)`` (counter-clockwise) ∩ the disk of ``radius``.

    Sum over edges of the signed area of triangle (origin, a, b) ∩ disk: each edge is cut where it
    crosses the circle; a piece inside the disk adds its triangle, a piece outside adds the
    circular sector it subtends.
    """
    r2 = radius * radius
    total = 0.0
    k = poly.shape[0]
    for i in range(k):
        ax, ay = float(poly[i, 0]), float(poly[i, 1])
        bx, by = float(poly[(i + 1) % k, 0]), float(poly[(i + 1) % k, 1])
        total += _edge_area(ax, ay, bx, by, r2)
    return total


def _edge_area(ax: float, ay: float, bx: float, by: float, r2: float) -> float:
    dx, dy = bx - ax, by - ay
    qa = dx * dx + dy * dy
    ts = [0.0, 1.0]
    if qa > 0.0:
        qb = ax * dx + ay * dy
        qc = ax * ax + ay * ay - r2
        disc = qb * qb - qa * qc
        if disc > 0.0:
            root = math.sqrt(disc)
            ts[1:1] = sorted(t for t in ((-qb - root) / qa, (-qb + root) / qa) if 0.0 < t < 1.0)
    area = 0.0
    for t0, t1 in zip(ts[:-1], ts[1:], strict=True):
        px, py = ax + t0 * dx, ay + t0 * dy
        qx, qy = ax + t1 * dx, ay + t1 * dy
        cross = px * qy - py * qx
        mx, my = 0.5 * (px + qx), 0.5 * (py + qy)
        if mx * mx + my * my <= r2:
            area += 0.5 * cross
        else:
            area += 0.5 * r2 * math.atan2(cross, px * qx + py * qy)
    return area
