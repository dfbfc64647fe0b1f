"""Geometry of the outer contact's dead layer: depth of points below the contacted surface.

The outer (segmented) contact covers the front face, the cylinder and the six hexagon sides of
a :class:`~gpsa.detector.shape.CrystalShape`; the back face is passivated. A layer of thickness
``t`` of it is dead (no field, no signal): the points whose :func:`outer_depth` is below ``t``.
The active region of a convex body less such a layer is the intersection of the half-spaces
(and the cylinder) moved inwards by ``t``, so the minimum over the surfaces is exact.
"""

from __future__ import annotations

import numpy as np

from gpsa.detector.polygon import as_points
from gpsa.detector.shape import CrystalShape


def edge_distances(shape: CrystalShape) -> tuple[np.ndarray, np.ndarray]:
    """Distances (mm) of the 6 hexagon edge lines from the axis at the front and the back."""
    out = []
    for face in (shape.front, shape.back):
        edge = np.roll(face, -1, axis=0) - face
        out.append((edge[:, 0] * face[:, 1] - edge[:, 1] * face[:, 0]) * -1.0
                   / np.hypot(edge[:, 0], edge[:, 1]))
    return out[0], out[1]


def outer_depth(shape: CrystalShape, xyz: np.ndarray) -> np.ndarray:
    """Distance (mm) of points inside ``shape`` from its contacted outer surface: the front face,
    the cylinder and the six hexagon sides (each side taken as the plane of its front and back
    edges, exact for gpsa's shapes; the passivated back face does not count)."""
    p = as_points(xyz).reshape(-1, 3)
    front, back = edge_distances(shape)
    cos_tilt = shape.length / np.hypot(shape.length, back - front)
    corners = shape.hexagon_at(p[:, 2])
    edge = np.roll(corners, -1, axis=-2) - corners
    rel = p[:, None, :2] - corners
    cross = (edge[..., 0] * rel[..., 1] - edge[..., 1] * rel[..., 0]) / np.hypot(
        edge[..., 0], edge[..., 1])
    sides = np.min(cross * cos_tilt, axis=1)
    cylinder = shape.radius - np.hypot(p[:, 0], p[:, 1])
    return np.minimum(np.minimum(sides, cylinder), p[:, 2]).reshape(np.shape(xyz)[:-1])
