"""Crystal shape: a tapered hexagonal prism intersected with a cylinder, minus the central bore.

Crystal frame (the frame of PSA hit positions and of the basis grid), in mm:

* ``z`` is the crystal axis: the front face (towards the target) at ``z = 0``, the back face at
  ``z = length``; the bore of the core contact opens on the back face.
* ``x, y``: the frame of the hexagon corners given by the shape (for shapes read from an A180
  ``asolid`` file, the frame of that file; corner 0 lies on or near the +x axis).

The germanium is the set of points with ``0 <= z <= length`` that lie inside the hexagon whose
corners are interpolated linearly between the front and back corners at that ``z``, inside the
cylinder ``x² + y² <= radius²`` and outside the bore. The bore of the core contact is a cylinder
``x² + y² < hole_radius²``, ``z >= length - hole_depth``, open on the back face, with two optional
refinements (both off by default, which is the bore gpsa always had):

* ``hole_bottom_radius`` (mm): the edge between the bore's wall and its bottom is rounded with
  this radius (0: a flat bottom with a sharp edge; ``hole_radius``: a hemispherical bottom, the
  "bullet" of the public signal generators);
* ``hole_opening_radius`` (mm) and ``hole_opening_depth`` (mm): the bore widens linearly (a
  cone) from ``hole_radius`` at ``hole_opening_depth`` before the back face to
  ``hole_opening_radius`` on the back face (0, 0: no wider opening).

The AGATA simulation's 0.1 mm cone at the bore bottom is ignored. The corners must run
counter-clockwise in the x-y plane (increasing azimuth ``atan2(y, x)``) around the axis, which
must lie inside both faces.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import numpy as np

from gpsa.detector.polygon import as_points, chunked, hexagon_contains, polygon_disk_area
from gpsa.detector.tables import GeometryError, PathLike, read_rows
from gpsa.errors import ConfigError

log = logging.getLogger(__name__)

N_CORNERS = 6
SHAPE_NAMES = ("A", "B", "C")
#: The bore's parameters (mm), in :class:`CrystalShape` and in the generator settings alike.
BORE_ATTRS = ("hole_radius", "hole_depth", "hole_bottom_radius", "hole_opening_radius",
              "hole_opening_depth")


@dataclass(frozen=True)
class CrystalShape:
    """One crystal shape. Arrays are stored as read-only float64 copies; instances are hashable."""

    name: str
    front: np.ndarray  # (6, 2) corners at z = 0, mm
    back: np.ndarray  # (6, 2) corners at z = length, mm
    length: float = 90.0
    radius: float = 40.0
    hole_radius: float = 5.0
    hole_depth: float = 77.0  # from the back face
    hole_bottom_radius: float = 0.0  # rounding of the bore bottom's edge (0 = flat, sharp)
    hole_opening_radius: float = 0.0  # bore radius on the back face (0 = no wider opening)
    hole_opening_depth: float = 0.0  # length of the widening, from the back face

    def __post_init__(self) -> None:
        where = f"crystal shape {self.name!r}"
        for attr in ("front", "back"):
            arr = np.array(getattr(self, attr), dtype=np.float64)
            if arr.shape != (N_CORNERS, 2) or not np.all(np.isfinite(arr)):
                raise GeometryError(f"{where}: {attr} must be (6, 2) finite corners, "
                                    f"got shape {arr.shape}")
            _check_face(arr, f"{where}: {attr} face")
            arr.setflags(write=False)
            object.__setattr__(self, attr, arr)
        for attr in BORE_ATTRS + ("length", "radius"):
            value = getattr(self, attr)
            if isinstance(value, bool) or not isinstance(value, int | float | np.floating |
                                                         np.integer) or not np.isfinite(value):
                raise GeometryError(f"{where}: {attr} must be a finite number, got {value!r}")
            object.__setattr__(self, attr, float(value))
        if not (self.length > 0 and self.radius > 0):
            raise GeometryError(f"{where}: length and radius must be > 0")
        if not 0 <= self.hole_radius < self.radius:
            raise GeometryError(f"{where}: hole_radius {self.hole_radius} outside [0, radius)")
        if not 0 <= self.hole_depth <= self.length:
            raise GeometryError(f"{where}: hole_depth {self.hole_depth} outside [0, length]")
        _check_bore(self, where)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CrystalShape):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def _key(self) -> tuple:
        return (self.name, self.front.tobytes(), self.back.tobytes(), self.length, self.radius,
                *(getattr(self, a) for a in BORE_ATTRS))

    @property
    def plain_bore(self) -> bool:
        """A straight cylindrical bore with a flat bottom (no rounding, no wider opening)."""
        return self.hole_bottom_radius == 0 and self.hole_opening_radius == 0

    @property
    def bore_start(self) -> float:
        """Depth ``z`` (mm from the front) of the bottom of the bore."""
        return self.length - self.hole_depth

    def hexagon_at(self, z: float | np.ndarray) -> np.ndarray:
        """Corners ``(..., 6, 2)`` at depth ``z``, linear between front and back (and beyond)."""
        t = np.asarray(z, dtype=np.float64)[..., None, None] / self.length
        return self.front + t * (self.back - self.front)

    def in_hexagon(self, xyz: np.ndarray) -> np.ndarray:
        """Inside the (linearly extended) tapered hexagon at each point's own depth."""
        return chunked(xyz, lambda p: hexagon_contains(self.hexagon_at(p[:, 2]), p[:, :2]))

    def in_bore(self, xyz: np.ndarray) -> np.ndarray:
        """Inside the bore, the core electrode's hole (open on the back face)."""
        p = as_points(xyz)
        r2 = p[..., 0] ** 2 + p[..., 1] ** 2
        z = p[..., 2]
        if self.plain_bore:
            return (r2 < self.hole_radius**2) & (z >= self.bore_start) & (z <= self.length)
        return (r2 < self.bore_radius_at(z) ** 2) & (z >= self.bore_start) & (z <= self.length)

    def bore_radius_at(self, z: float | np.ndarray) -> np.ndarray:
        """Radius (mm) of the bore at depth ``z`` (0 above its bottom): ``hole_radius``, less
        the bottom rounding near the bottom, more in the wider opening near the back face."""
        z = np.asarray(z, dtype=np.float64)
        a, rb = self.hole_radius, self.hole_bottom_radius
        rise = np.clip(self.bore_start + rb - z, 0.0, rb)  # height left in the rounding
        wall = a - rb + np.sqrt(np.maximum(rb * rb - rise * rise, 0.0))
        wall = np.where(z >= self.bore_start, wall, 0.0)
        if self.hole_opening_radius > 0:
            d = self.hole_opening_depth
            frac = np.clip((z - (self.length - d)) / d, 0.0, 1.0)
            wall = np.maximum(wall, np.where(frac > 0, a + frac * (self.hole_opening_radius - a),
                                             0.0))
        return wall

    def dilated_bore(self, thickness: float) -> CrystalShape:
        """This shape with the bore grown by ``thickness`` mm: radius, opening and bottom
        rounding wider by it, bottom deeper by it (the exact offset of the rounded cylinder, the
        cone offset radially). The core contact's dead layer is that shell."""
        if thickness == 0:
            return self
        t = float(thickness)
        return replace(self, hole_radius=self.hole_radius + t,
                       hole_depth=self.hole_depth + t,
                       hole_bottom_radius=self.hole_bottom_radius + t,
                       hole_opening_radius=(self.hole_opening_radius + t
                                            if self.hole_opening_radius > 0 else 0.0))

    def contains(self, xyz: np.ndarray) -> np.ndarray:
        """Inside the germanium (boundaries included, the bore excluded)."""
        p = as_points(xyz)
        r2 = p[..., 0] ** 2 + p[..., 1] ** 2
        z = p[..., 2]
        ok = np.asarray((z >= 0) & (z <= self.length) & (r2 <= self.radius**2) & ~self.in_bore(p))
        if ok.any():
            ok[ok] = self.in_hexagon(p[ok])
        return ok

    def bounding_box(self) -> tuple[np.ndarray, np.ndarray]:
        """``(lo, hi)``: an axis-aligned box (mm) containing the whole crystal."""
        corners = np.concatenate([self.front, self.back])
        lo = np.maximum(corners.min(axis=0), -self.radius)
        hi = np.minimum(corners.max(axis=0), self.radius)
        return np.array([lo[0], lo[1], 0.0]), np.array([hi[0], hi[1], self.length])

    def area_at(self, z: float) -> float:
        """Germanium cross-section (mm²) at depth ``z``: hexagon ∩ disk, minus the bore."""
        if not 0 <= z <= self.length:
            return 0.0
        area = polygon_disk_area(self.hexagon_at(z), self.radius)
        if z >= self.bore_start:
            area -= np.pi * float(self.bore_radius_at(z)) ** 2
        return float(area)

    def volume_cm3(self, n: int = 1000) -> float:
        """Volume in cm³: exact cross-section areas integrated over ``n`` slices (midpoint rule).

        The hexagon ∩ disk area is computed in closed form for every slice; a plain bore is
        subtracted exactly, a rounded or widened one on 100 times finer slices. The error is far
        below 0.01 cm³ for the default ``n``.
        """
        if n < 1:
            raise GeometryError(f"volume_cm3: n must be >= 1, got {n}")
        dz = self.length / n
        zs = (np.arange(n) + 0.5) * dz
        solid = sum(polygon_disk_area(self.hexagon_at(z), self.radius) for z in zs) * dz
        if self.plain_bore:
            bore = np.pi * self.hole_radius**2 * self.hole_depth
        else:  # 100 bore slices per solid slice: the rounding's edge is steep
            fine = self.length / (100 * n)
            zf = (np.arange(100 * n) + 0.5) * fine
            bore = float(np.sum(np.pi * self.bore_radius_at(zf) ** 2)) * fine
        return float((solid - bore) / 1000.0)


def _check_bore(shape: CrystalShape, where: str) -> None:
    """The bore refinements must fit the bore: rounding <= radius and depth, opening wider than
    the bore, inside the cylinder and no longer than the bore."""
    a, rb = shape.hole_radius, shape.hole_bottom_radius
    if not 0 <= rb <= min(a, shape.hole_depth):
        raise GeometryError(f"{where}: hole_bottom_radius {rb:g} outside [0, min(hole_radius, "
                            f"hole_depth)] = [0, {min(a, shape.hole_depth):g}]")
    ro, d = shape.hole_opening_radius, shape.hole_opening_depth
    if ro == 0 and d == 0:
        return
    if not a < ro < shape.radius:
        raise GeometryError(f"{where}: hole_opening_radius {ro:g} must be > hole_radius "
                            f"({a:g}) and < radius ({shape.radius:g}), or 0 for none")
    if not 0 < d <= shape.hole_depth:
        raise GeometryError(f"{where}: hole_opening_depth {d:g} must be in (0, hole_depth = "
                            f"{shape.hole_depth:g}] with a hole_opening_radius")


def _check_face(corners: np.ndarray, where: str) -> None:
    """Corners must form a convex polygon, counter-clockwise, with the axis strictly inside."""
    edges = np.roll(corners, -1, axis=0) - corners
    turn = edges[:, 0] * np.roll(edges, -1, axis=0)[:, 1] - edges[:, 1] * np.roll(edges, -1,
                                                                                   axis=0)[:, 0]
    axis_side = edges[:, 0] * -corners[:, 1] - edges[:, 1] * -corners[:, 0]
    phi = np.unwrap(np.arctan2(corners[:, 1], corners[:, 0]))
    if np.any(turn <= 0) or np.any(axis_side <= 0) or np.any(np.diff(phi) <= 0):
        raise GeometryError(f"{where}: corners must form a convex hexagon around the axis, in "
                            f"counter-clockwise order (increasing azimuth)")


def default_shape(name: str = "A") -> CrystalShape:
    """gpsa's own SYNTHETIC crystal shapes "A", "B", "C" (or "default" = "A").

    These are not AGATA's shapes (read those with :func:`load_asolid` from a user-supplied file).
    Every variant is 90 mm long, front corners on a circle of 34 mm, back corners on a circle of
    48.5 mm, i.e. outside the 40 mm cylinder so that the back is round; bore 5 mm × 77 mm.
    "A" is a regular hexagon (corners at 0°, 60°, …, 300°); "B" moves the corners by
    (0, −3, −1, +2, +3, +1)° and "C" is the mirror image of "B" (corner 0 stays at 0°).
    Volume ≈ 378 cm³ ("A"), close to the AGATA shapes' 379–385 cm³ by the same model.
    """
    key = "A" if name == "default" else name
    deltas = {"A": np.zeros(6), "B": np.array([0.0, -3.0, -1.0, 2.0, 3.0, 1.0])}
    deltas["C"] = -deltas["B"][[0, 5, 4, 3, 2, 1]]
    if key not in deltas:
        raise ConfigError(f"unknown default crystal shape {name!r}: expected one of "
                            f"{', '.join((*SHAPE_NAMES, 'default'))}")
    phi = np.radians(60.0 * np.arange(6) + deltas[key])
    unit = np.stack([np.cos(phi), np.sin(phi)], axis=1)
    return CrystalShape(name=name, front=34.0 * unit, back=48.5 * unit)


def load_asolid(path: PathLike) -> dict[str, CrystalShape]:
    """Read an A180 ``asolid`` table; return the shapes by name ("A", "B", "C" for 0, 1, 2).

    Records (9 numbers): ``shape 6 k  x y z  X Y Z`` corner ``k`` of the front (z = 0) and back
    (z = cylinder length) faces; ``shape 0 0 holeR cylR cylL …``; ``shape 0 1 holeL …`` where
    ``holeL`` is the depth of the bore bottom from the front face (hole_depth = cylL − holeL);
    ``shape 0 2`` colour (ignored). Capsule and passive-layer values are ignored.
    """
    raw: dict[int, dict] = {}
    for row in read_rows(path, min_fields=6):
        shape, kind, item = row.ints(3, str(path))
        if not 0 <= shape < len(SHAPE_NAMES):
            raise GeometryError(f"{path}:{row.line}: shape index {shape} is not 0, 1 or 2")
        entry = raw.setdefault(shape, {"corners": {}, "params": {}})
        if kind == N_CORNERS:
            if len(row.values) < 9 or not 0 <= item < N_CORNERS:
                raise GeometryError(f"{path}:{row.line}: corner line needs `shape 6 k x y z X Y Z` "
                                    f"with k in 0..5")
            table = entry["corners"]
        elif kind == 0:
            table = entry["params"]
        else:
            raise GeometryError(f"{path}:{row.line}: unknown record type {kind} (expected 6 or 0)")
        if item in table:
            raise GeometryError(f"{path}:{row.line}: duplicate record `{shape} {kind} {item}`")
        table[item] = row
    if not raw:
        raise GeometryError(f"{path}: no crystal shape found")
    return {SHAPE_NAMES[i]: _shape_from_records(path, SHAPE_NAMES[i], raw[i]) for i in sorted(raw)}


def _shape_from_records(path: PathLike, name: str, entry: dict) -> CrystalShape:
    corners, params = entry["corners"], entry["params"]
    for item, what in ((0, "`0 0 holeR cylR cylL`"), (1, "`0 1 holeL …`")):
        if item not in params:
            raise GeometryError(f"{path}: shape {name}: missing the {what} record")
    if len(corners) != N_CORNERS:
        raise GeometryError(f"{path}: shape {name}: {len(corners)} corner records, expected 6")
    p0, p1 = params[0], params[1]
    hole_r, cyl_r, cyl_l = p0.values[3:6]
    if len(p0.values) >= 9 and any(p0.values[6:9]):
        log.warning("%s:%d: cylinder offset %s ignored", path, p0.line, p0.values[6:9])
    hole_l = p1.values[3]
    pts = np.array([corners[k].values[3:9] for k in range(N_CORNERS)])
    for k in range(N_CORNERS):
        if abs(pts[k, 2]) > 1e-3 or abs(pts[k, 5] - cyl_l) > 1e-3:
            raise GeometryError(f"{path}:{corners[k].line}: corner z must be 0 (front) and "
                                f"{cyl_l:g} (back), got {pts[k, 2]:g} and {pts[k, 5]:g}")
    if not 0 <= hole_l <= cyl_l:
        raise GeometryError(f"{path}:{p1.line}: hole start {hole_l:g} outside [0, {cyl_l:g}]")
    try:
        return CrystalShape(name=name, front=pts[:, 0:2], back=pts[:, 3:5], length=cyl_l,
                            radius=cyl_r, hole_radius=hole_r, hole_depth=cyl_l - hole_l)
    except GeometryError as exc:
        raise GeometryError(f"{path}: {exc}") from None
