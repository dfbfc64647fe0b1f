"""Segmentation of a crystal into 6 sectors × 6 rings = 36 segments.

Sector labelling (gpsa's convention, used for every shape):

* sector ``s`` (0..5, letters A..F) is the azimuthal wedge from the line joining the axis to
  hexagon corner ``s`` to the line joining the axis to corner ``s + 1`` (corner 6 = corner 0),
  both corners interpolated at the point's depth; the wedge includes its starting line.
* sectors therefore follow increasing azimuth ``atan2(y, x)``: counter-clockwise in the usual
  x-y plot, i.e. seen from behind the crystal looking towards −z (towards the target); seen from
  the front looking along +z (into the crystal, the beam direction) they run clockwise.
  Sector 0 (A) starts at corner 0; for the A180 shapes and gpsa's synthetic shapes that is the
  +x axis (azimuth ≈ 0°).

Two settings change this (the defaults above are AGATA's, and gpsa's before the settings):

* ``sector_boundary = "edges"``: the boundary lines join the axis to the **midpoints** of the
  hexagon's edges instead of its corners (GRETA); sector ``s`` starts at the midpoint of edge
  ``s`` (from corner ``s`` to corner ``s + 1``), so it is centred on corner ``s + 1``;
* ``sector_direction = "decreasing"``: sectors are numbered the other way round: sector ``s`` is
  the wedge numbered ``5 − s`` by increasing azimuth, so sector 0 still starts at boundary 0 but
  runs towards decreasing azimuth (sector ``s`` then ends, rather than starts, on its line).

Rings ``r`` (0..5, labelled 1..6) are slabs in ``z`` of thicknesses ``ring_depths``, front to back:
6 numbers, a preset name of :data:`RING_DEPTH_PRESETS` (``"agata"``, ``"greta"``), or a mapping
from crystal type (the shape's name, e.g. ``"A"``) to either, for crystals whose types differ.

The electrodes are contacts of finite thickness, dead layers in which there is no field and no
signal: ``outer_contact_mm`` on the segmented outer surface (the hexagonal sides, the round back
and the front face; the back face is passivated and has none) and ``core_contact_mm`` around the
bore. In the n-type crystals of AGATA and GRETA the outer contact is boron-implanted p+ (well
under a µm) and the core contact lithium-diffused n+ (of order a mm); in a p-type crystal the
roles swap. :meth:`CrystalGeometry.contains` is the active germanium, without these layers, and
:meth:`CrystalGeometry.in_bore` is the core electrode, the bore with its dead layer.

Segment index: ``seg = 6·sector + ring`` ("sector-major", AGATA PSA code) or ``seg = 6·ring +
sector`` ("ring-major", GRETINA/GRETA); segment name ``<sector letter><ring number>``, e.g. "A1".
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, fields
from dataclasses import replace as dc_replace
from functools import lru_cache
from typing import Any

import numpy as np

from gpsa.detector import neighbours as _nb
from gpsa.detector.contacts import edge_distances, outer_depth
from gpsa.detector.polygon import as_points, chunked, wedge_index
from gpsa.detector.shape import CrystalShape, default_shape, load_asolid
from gpsa.detector.tables import GeometryError, PathLike
from gpsa.errors import ConfigError

log = logging.getLogger(__name__)

N_SECTORS = 6
N_RINGS = 6
N_SEGMENTS = N_SECTORS * N_RINGS
SECTOR_LETTERS = "ABCDEF"
SEGMENT_ORDERS = ("sector-major", "ring-major")
#: AGATA ring thicknesses front to back (mm), a recollection: keep it a setting.
AGATA_RING_DEPTHS = (8.0, 13.0, 15.0, 18.0, 18.0, 18.0)
#: GRETA's ring thicknesses front to back (mm), as published for its 36-segment crystals.
GRETA_RING_DEPTHS = (8.0, 14.0, 16.0, 17.0, 21.0, 14.0)
RING_DEPTH_PRESETS = {"agata": AGATA_RING_DEPTHS, "greta": GRETA_RING_DEPTHS}
SECTOR_BOUNDARIES = ("corners", "edges")
SECTOR_DIRECTIONS = ("increasing", "decreasing")


def _check_order(order: str, what: str = "order") -> None:
    if order not in SEGMENT_ORDERS:
        raise ConfigError(f"segment {what} must be one of {', '.join(SEGMENT_ORDERS)}, "
                          f"got {order!r}")


def convert_segment_order(seg: Any, from_order: str, to_order: str) -> np.ndarray:
    """Segment indices converted between orders (int16). Negative values (no segment) are kept."""
    _check_order(from_order, "from_order")
    _check_order(to_order, "to_order")
    s = np.asarray(seg)
    if s.size and (not np.issubdtype(s.dtype, np.integer) or s.max() >= N_SEGMENTS):
        raise GeometryError(f"segment indices must be integers < {N_SEGMENTS}")
    out = s.astype(np.int16, copy=True)
    if from_order != to_order:
        ok = out >= 0
        out[ok] = (out[ok] % 6) * 6 + out[ok] // 6
    return out


@dataclass(frozen=True)
class CrystalGeometry:
    """A crystal shape with its segmentation and contacts. Hashable; methods take ``(..., 3)``
    points (mm). ``ring_depths`` may be given as a preset name or a table by crystal type (see
    :func:`resolve_ring_depths`); it is stored as 6 numbers."""

    shape: CrystalShape
    ring_depths: tuple[float, ...] = AGATA_RING_DEPTHS
    order: str = "sector-major"
    sector_boundary: str = "corners"  # boundary lines through hexagon "corners" or "edges"
    sector_direction: str = "increasing"  # sector numbers follow increasing azimuth or not
    outer_contact_mm: float = 0.0  # dead layer of the outer (segment) contact
    core_contact_mm: float = 0.0  # dead layer of the core contact around the bore
    core_shape: CrystalShape = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        depths = resolve_ring_depths(self.ring_depths, self.shape.name)
        object.__setattr__(self, "ring_depths", depths)
        if abs(sum(depths) - self.shape.length) > 1e-6:
            raise ConfigError(f"ring_depths sum to {sum(depths):g} mm, but crystal "
                              f"{self.shape.name!r} is {self.shape.length:g} mm long")
        _check_order(self.order)
        for name, choices in (("sector_boundary", SECTOR_BOUNDARIES),
                              ("sector_direction", SECTOR_DIRECTIONS)):
            if getattr(self, name) not in choices:
                raise ConfigError(f"{name} must be one of {', '.join(choices)}, "
                                  f"got {getattr(self, name)!r}")
        for name in ("outer_contact_mm", "core_contact_mm"):
            value = getattr(self, name)
            if (isinstance(value, bool) or not isinstance(value, int | float)
                    or not np.isfinite(value) or value < 0):
                raise ConfigError(f"{name} must be a finite thickness >= 0 mm, got {value!r}")
            object.__setattr__(self, name, float(value))
        try:
            core = self.shape.dilated_bore(self.core_contact_mm)
        except GeometryError as exc:
            raise ConfigError(f"core_contact_mm {self.core_contact_mm:g} does not fit around the "
                              f"bore: {exc}") from None
        object.__setattr__(self, "core_shape", core)
        inner = min(self.shape.radius, float(np.min(edge_distances(self.shape)[0])))
        if self.outer_contact_mm >= inner - self.core_shape.hole_radius:
            raise ConfigError(f"outer_contact_mm {self.outer_contact_mm:g} leaves no active "
                              f"germanium between the outer surface and the core contact")

    def replace(self, **changes: Any) -> CrystalGeometry:
        """A copy with geometry fields or shape fields (``hole_radius``, ``length``…) changed."""
        shape_kw, own_kw = _split_changes(changes)
        return dc_replace(self, shape=_replace_shape(self.shape, shape_kw), **own_kw)

    @classmethod
    def default(cls, name: str = "A", **kw: Any) -> CrystalGeometry:
        """gpsa's synthetic shape ``name`` (see :func:`default_shape`) with its segmentation;
        ``kw``: geometry fields and bore fields of the shape (see :meth:`replace`)."""
        return cls._build(default_shape(name), kw)

    @classmethod
    def from_asolid(cls, path: PathLike, name: str = "A", **kw: Any) -> CrystalGeometry:
        """Shape ``name`` ("A", "B" or "C") read from an A180 ``asolid`` file."""
        shapes = load_asolid(path)
        if name not in shapes:
            raise ConfigError(f"{path}: no crystal shape {name!r} (has {', '.join(shapes)})")
        return cls._build(shapes[name], kw)

    @classmethod
    def _build(cls, shape: CrystalShape, kw: dict[str, Any]) -> CrystalGeometry:
        shape_kw, own_kw = _split_changes(kw)
        return cls(_replace_shape(shape, shape_kw), **own_kw)

    @property
    def ring_edges(self) -> np.ndarray:
        """``(7,)`` ring boundaries in z (mm), 0 … length."""
        return np.concatenate([[0.0], np.cumsum(self.ring_depths)])

    def contains(self, xyz: np.ndarray) -> np.ndarray:
        """Inside the active germanium: the shape, less the contacts' dead layers."""
        if self.outer_contact_mm == 0 and self.core_contact_mm == 0:
            return self.shape.contains(xyz)
        p = as_points(xyz)
        ok = np.asarray(self.shape.contains(p) & ~self.core_shape.in_bore(p))
        if self.outer_contact_mm > 0 and ok.any():
            ok[ok] = outer_depth(self.shape, p[ok]) >= self.outer_contact_mm
        return ok

    def in_bore(self, xyz: np.ndarray) -> np.ndarray:
        """Inside the core electrode: the bore and the core contact's dead layer around it."""
        return self.core_shape.in_bore(xyz)

    def sector_boundaries_at(self, z: float | np.ndarray) -> np.ndarray:
        """``(..., 6, 2)`` points at depth ``z`` whose directions start sectors 0..5 by increasing
        azimuth: the hexagon corners, or the midpoints of its edges."""
        corners = self.shape.hexagon_at(z)
        if self.sector_boundary == "corners":
            return corners
        return 0.5 * (corners + np.roll(corners, -1, axis=-2))

    def sector_of(self, xyz: np.ndarray) -> np.ndarray:
        """Sector 0..5 of every point, inside the crystal or not (z is clipped to the crystal)."""
        def kernel(p: np.ndarray) -> np.ndarray:
            bounds = self.sector_boundaries_at(np.clip(p[:, 2], 0.0, self.shape.length))
            wedge = wedge_index(bounds, p[:, :2])
            return wedge if self.sector_direction == "increasing" else N_SECTORS - 1 - wedge

        return chunked(xyz, kernel, dtype=np.int16)

    def ring_of(self, xyz: np.ndarray) -> np.ndarray:
        """Ring 0..5 of every point by its z, clipped to [0, 5]."""
        z = as_points(xyz)[..., 2]
        ring = np.searchsorted(self.ring_edges[1:-1], z, side="right")
        return np.clip(ring, 0, N_RINGS - 1).astype(np.int16)

    def segment_of(self, xyz: np.ndarray, inside_only: bool = True) -> np.ndarray:
        """Segment index (int16, in ``order``); -1 outside the germanium when ``inside_only``."""
        p = as_points(xyz)
        seg = self.segment_index(self.sector_of(p), self.ring_of(p))
        if inside_only:
            seg[~self.contains(p)] = -1
        return seg

    def segment_index(self, sector: Any, ring: Any) -> np.ndarray:
        """Segment index (int16) of ``sector``, ``ring`` (arrays broadcast) in ``order``."""
        s, r = np.asarray(sector), np.asarray(ring)
        if np.any((s < 0) | (s >= N_SECTORS)) or np.any((r < 0) | (r >= N_RINGS)):
            raise GeometryError("sector and ring must be in 0..5")
        seg = 6 * s + r if self.order == "sector-major" else 6 * r + s
        return np.asarray(seg, dtype=np.int16)

    def sector_ring(self, seg: Any) -> tuple[np.ndarray, np.ndarray]:
        """``(sector, ring)`` of segment indices in ``order``."""
        s = np.asarray(seg)
        if np.any((s < 0) | (s >= N_SEGMENTS)):
            raise GeometryError(f"segment index outside 0..{N_SEGMENTS - 1}")
        major, minor = np.divmod(s.astype(np.int16), 6)
        return (major, minor) if self.order == "sector-major" else (minor, major)

    def segment_name(self, seg: int) -> str:
        """``"A1"`` … ``"F6"``: sector letter and ring number (1 = front)."""
        sector, ring = self.sector_ring(seg)
        return f"{SECTOR_LETTERS[int(sector)]}{int(ring) + 1}"

    def segment_volumes_cm3(self, step: float = 1.0) -> np.ndarray:
        """``(36,)`` segment volumes (cm³), counted on a grid of ``step`` mm cells."""
        return _segment_moments(self, float(step))[0].copy()

    def segment_centres(self, step: float = 1.0) -> np.ndarray:
        """``(36, 3)`` centre of mass of every segment's volume (mm), on a grid of ``step`` mm."""
        return _segment_moments(self, float(step))[1].copy()

    def neighbours(self, seg: int, kind: str = "agata") -> np.ndarray:
        """Sorted segment indices compared with hit segment ``seg`` (itself included).

        ``"agata"``: the 3×3 block |Δsector| ≤ 1 (cyclic) × |Δring| ≤ 1 — 9 segments, 6 at the
        first and last ring. ``"gretina"``: see :func:`gpsa.detector.neighbours.ring_window`.
        """
        sector, ring = self.sector_ring(seg)
        sectors = _nb.sector_window(int(sector))
        rings = _nb.ring_window(int(ring), kind, self.ring_depths)
        s, r = np.meshgrid(sectors, rings, indexing="ij")
        return np.sort(self.segment_index(s.ravel(), r.ravel()))

    def neighbour_mask(self, kind: str = "agata") -> np.ndarray:
        """``(36, 36)`` bool: row ``seg`` marks :meth:`neighbours` of ``seg``."""
        mask = np.zeros((N_SEGMENTS, N_SEGMENTS), dtype=bool)
        for seg in range(N_SEGMENTS):
            mask[seg, self.neighbours(seg, kind)] = True
        return mask


def _split_changes(changes: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``changes`` split into shape fields and :class:`CrystalGeometry` fields."""
    shape_keys = {f.name for f in fields(CrystalShape)} - {"name", "front", "back"}
    own = {f.name for f in fields(CrystalGeometry) if f.init} - {"shape"}
    bad = sorted(set(changes) - shape_keys - own)
    if bad:
        raise ConfigError(f"unknown geometry setting {bad[0]!r}")
    return ({k: v for k, v in changes.items() if k in shape_keys},
            {k: v for k, v in changes.items() if k in own})


def _replace_shape(shape: CrystalShape, changes: dict[str, Any]) -> CrystalShape:
    if not changes:
        return shape
    try:
        return dc_replace(shape, **changes)
    except GeometryError as exc:
        raise ConfigError(str(exc)) from None


def resolve_ring_depths(value: Any, crystal_type: str = "") -> tuple[float, ...]:
    """Ring thicknesses (mm) from 6 numbers, a preset name or a mapping by crystal type."""
    if isinstance(value, dict):
        if crystal_type not in value:
            raise ConfigError(f"ring_depths has no entry for crystal type {crystal_type!r} "
                              f"(has {', '.join(map(str, value)) or 'none'})")
        value = value[crystal_type]
    if isinstance(value, str):
        if value.lower() not in RING_DEPTH_PRESETS:
            raise ConfigError(f"ring_depths preset {value!r} unknown: expected 6 thicknesses "
                              f"or one of {', '.join(RING_DEPTH_PRESETS)}")
        value = RING_DEPTH_PRESETS[value.lower()]
    try:
        depths = tuple(float(d) for d in value)
    except (TypeError, ValueError):
        raise ConfigError(f"ring_depths must be {N_RINGS} thicknesses (mm), a preset "
                          f"({', '.join(RING_DEPTH_PRESETS)}) or a table by crystal type, "
                          f"got {value!r}") from None
    if len(depths) != N_RINGS or not all(np.isfinite(depths)) or min(depths) <= 0:
        raise ConfigError(f"ring_depths must be {N_RINGS} positive thicknesses, got {depths}")
    return depths


@lru_cache(maxsize=16)
def _segment_moments(geom: CrystalGeometry, step: float) -> tuple[np.ndarray, np.ndarray]:
    """Volumes (cm³) and centres (mm) of the 36 segments from cell centres of a ``step`` grid."""
    if not step > 0:
        raise GeometryError(f"grid step must be > 0, got {step}")
    lo, hi = geom.shape.bounding_box()
    axes = [lo[i] + step * (np.arange(int(np.ceil((hi[i] - lo[i]) / step))) + 0.5)
            for i in range(3)]
    gx, gy = np.meshgrid(axes[0], axes[1], indexing="ij")
    count = np.zeros(N_SEGMENTS)
    moment = np.zeros((N_SEGMENTS, 3))
    for z in axes[2]:
        pts = np.stack([gx.ravel(), gy.ravel(), np.full(gx.size, z)], axis=1)
        seg = geom.segment_of(pts)
        ok = seg >= 0
        seg, pts = seg[ok], pts[ok]
        count += np.bincount(seg, minlength=N_SEGMENTS)
        for i in range(3):
            moment[:, i] += np.bincount(seg, weights=pts[:, i], minlength=N_SEGMENTS)
    if np.any(count == 0):
        empty = [geom.segment_name(s) for s in np.flatnonzero(count == 0)]
        raise GeometryError(f"segments {', '.join(empty)} are empty on a {step:g} mm grid")
    log.debug("segment moments of %s on a %g mm grid: %d cells", geom.shape.name, step,
              int(count.sum()))
    return count * step**3 / 1000.0, moment / count[:, None]
