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

Rings ``r`` (0..5, labelled 1..6) are slabs in ``z`` of thicknesses ``ring_depths``, front to back.
Segment index: ``seg = 6·sector + ring`` ("sector-major", AGATA PSA code) or ``seg = 6·ring +
sector`` ("ring-major", GRETINA/GRETA); segment name ``<sector letter><ring number>``, e.g. "A1".
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from gpsa.detector import neighbours as _nb
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
    """A crystal shape with its segmentation. Hashable; methods take ``(..., 3)`` points (mm)."""

    shape: CrystalShape
    ring_depths: tuple[float, ...] = AGATA_RING_DEPTHS
    order: str = "sector-major"

    def __post_init__(self) -> None:
        depths = tuple(float(d) for d in self.ring_depths)
        object.__setattr__(self, "ring_depths", depths)
        if len(depths) != N_RINGS or min(depths) <= 0:
            raise ConfigError(f"ring_depths must be {N_RINGS} positive thicknesses, got {depths}")
        if abs(sum(depths) - self.shape.length) > 1e-6:
            raise ConfigError(f"ring_depths sum to {sum(depths):g} mm, but crystal "
                              f"{self.shape.name!r} is {self.shape.length:g} mm long")
        _check_order(self.order)

    @classmethod
    def default(cls, name: str = "A", **kw: Any) -> CrystalGeometry:
        """gpsa's synthetic shape ``name`` (see :func:`default_shape`) with its segmentation."""
        return cls(default_shape(name), **kw)

    @classmethod
    def from_asolid(cls, path: PathLike, name: str = "A", **kw: Any) -> CrystalGeometry:
        """Shape ``name`` ("A", "B" or "C") read from an A180 ``asolid`` file."""
        shapes = load_asolid(path)
        if name not in shapes:
            raise ConfigError(f"{path}: no crystal shape {name!r} (has {', '.join(shapes)})")
        return cls(shapes[name], **kw)

    @property
    def ring_edges(self) -> np.ndarray:
        """``(7,)`` ring boundaries in z (mm), 0 … length."""
        return np.concatenate([[0.0], np.cumsum(self.ring_depths)])

    def contains(self, xyz: np.ndarray) -> np.ndarray:
        return self.shape.contains(xyz)

    def in_bore(self, xyz: np.ndarray) -> np.ndarray:
        return self.shape.in_bore(xyz)

    def sector_of(self, xyz: np.ndarray) -> np.ndarray:
        """Sector 0..5 of every point, inside the crystal or not (z is clipped to the crystal)."""
        def kernel(p: np.ndarray) -> np.ndarray:
            corners = self.shape.hexagon_at(np.clip(p[:, 2], 0.0, self.shape.length))
            return wedge_index(corners, p[:, :2])

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
