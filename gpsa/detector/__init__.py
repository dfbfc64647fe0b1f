"""Detector geometry: crystal shapes, 36-fold segmentation, crystal → lab transforms, naming.

* :mod:`~gpsa.detector.shape` — :class:`CrystalShape` (tapered hexagon ∩ cylinder − bore),
  gpsa's synthetic :func:`default_shape` and the A180 ``asolid`` reader :func:`load_asolid`.
* :mod:`~gpsa.detector.segmentation` — :class:`CrystalGeometry`: sectors, rings, segment indices
  in either order, segment volumes and centres, neighbour windows; ring-depth presets, sector
  boundary rule and numbering direction, contact dead layers (:mod:`~gpsa.detector.contacts`).
* :mod:`~gpsa.detector.transforms` — :class:`LabTransform` from Euler tables or a crmat table.
* :mod:`~gpsa.detector.naming` — crystal names ``NNL`` ↔ ids.

Public AGATA tables are read from paths the user gives; gpsa ships no copy of them.
"""

from gpsa.detector.naming import crystal_id, crystal_name, parse_crystal, shape_letter
from gpsa.detector.segmentation import (
    AGATA_RING_DEPTHS,
    N_SEGMENTS,
    SEGMENT_ORDERS,
    CrystalGeometry,
    convert_segment_order,
)
from gpsa.detector.shape import CrystalShape, default_shape, load_asolid
from gpsa.detector.tables import GeometryError
from gpsa.detector.transforms import (
    LabTransform,
    euler_matrix,
    fit_global_rotation_z,
    load_aclust,
    load_aeuler,
    load_crmat,
    rotation_z,
    transform_from_euler,
)

__all__ = [
    "AGATA_RING_DEPTHS",
    "N_SEGMENTS",
    "SEGMENT_ORDERS",
    "CrystalGeometry",
    "CrystalShape",
    "GeometryError",
    "LabTransform",
    "convert_segment_order",
    "crystal_id",
    "crystal_name",
    "default_shape",
    "euler_matrix",
    "fit_global_rotation_z",
    "load_aclust",
    "load_aeuler",
    "load_asolid",
    "load_crmat",
    "parse_crystal",
    "rotation_z",
    "shape_letter",
    "transform_from_euler",
]
