"""The field grid of a segmented crystal: electrodes from a :class:`CrystalGeometry`.

Electrodes (see :mod:`gpsa.basis.fields.grid` for the node labels):

* the **core** (label 36): nodes in the bore — the core contact covers the bore surface;
* **segment k** (labels 0–35, in the geometry's segment order): outside nodes touching the
  germanium through the side surfaces or the front face, labelled by
  ``geometry.segment_of(node, inside_only=False)``;
* the **back face** (``z > length``, outside the bore) is passivated by default (Neumann);
  ``passivated_back=False`` makes it part of the ring-6 segments instead.

Only the small protocol :class:`GeometryLike` is used, so any object with the same methods works.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from gpsa.basis.fields.grid import FieldGrid, build_grid

N_SEGMENTS = 36
CORE_LABEL = 36
N_ELECTRODES = 37
#: Shape attributes recorded by :func:`geometry_fingerprint` (besides the corners).
SHAPE_NUMBERS = ("name", "length", "radius", "hole_radius", "hole_depth", "hole_bottom_radius",
                 "hole_opening_radius", "hole_opening_depth")
#: Geometry attributes recorded by :func:`geometry_fingerprint` (besides the order and rings).
SEGMENTATION_KEYS = ("sector_boundary", "sector_direction", "outer_contact_mm",
                     "core_contact_mm")


class ShapeLike(Protocol):
    length: float

    def bounding_box(self) -> tuple[np.ndarray, np.ndarray]: ...


class GeometryLike(Protocol):
    shape: Any
    order: str

    def contains(self, xyz: np.ndarray) -> np.ndarray: ...

    def in_bore(self, xyz: np.ndarray) -> np.ndarray: ...

    def segment_of(self, xyz: np.ndarray, inside_only: bool = ...) -> np.ndarray: ...


def crystal_grid(geometry: GeometryLike, spacing: float, *, passivated_back: bool = True
                 ) -> FieldGrid:
    """Classify a grid of ``spacing`` mm over ``geometry`` (electrodes as described above)."""
    lo, hi = geometry.shape.bounding_box()
    length = float(geometry.shape.length)

    def electrode_of(p: np.ndarray) -> np.ndarray:
        return np.asarray(geometry.segment_of(p, inside_only=False), dtype=np.int64)

    def passive(p: np.ndarray) -> np.ndarray:
        return p[:, 2] > length

    grid = build_grid(geometry.contains, geometry.in_bore, electrode_of, np.asarray(lo),
                      np.asarray(hi), spacing, core_label=CORE_LABEL,
                      passive=passive if passivated_back else None)
    missing = sorted(set(range(N_ELECTRODES)) - set(np.unique(grid.labels).tolist()))
    if missing:
        raise ValueError(f"field grid of {spacing} mm is too coarse: electrodes {missing} have "
                         f"no node (36 = core)")
    return grid


def geometry_fingerprint(geometry: GeometryLike) -> dict[str, Any]:
    """A JSON-able description of the geometry for cache keys and provenance."""
    shape = geometry.shape
    out: dict[str, Any] = {"order": geometry.order}
    for attr in SHAPE_NUMBERS:
        if hasattr(shape, attr):
            value = getattr(shape, attr)
            out[attr] = value if isinstance(value, str) else float(value)
    for attr in ("front", "back"):
        if hasattr(shape, attr):
            out[attr] = np.round(np.asarray(getattr(shape, attr), dtype=float), 6).tolist()
    if hasattr(geometry, "ring_depths"):
        out["ring_depths"] = [float(d) for d in geometry.ring_depths]
    for attr in SEGMENTATION_KEYS:
        if hasattr(geometry, attr):
            value = getattr(geometry, attr)
            out[attr] = value if isinstance(value, str) else float(value)
    return out
