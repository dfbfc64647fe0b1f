"""The germanium of the array for the transport: crystal shapes and their placements.

* :meth:`ArrayGeometry.from_tables` — AGATA's A180 set read from a folder the user gives
  (``asolid`` / ``aeuler`` / ``aclust`` tables; file names :data:`TABLE_NAMES`), composed as
  ``x_w = R_cl (R_cr x + T_cr) + T_cl`` with ``R = Rz(phi)·Ry(theta)·Rz(psi)``
  (:func:`gpsa.detector.transforms.transform_from_euler`); crystal id = 3·cluster + shape.
* :meth:`ArrayGeometry.shell` — gpsa's synthetic shapes A, B, C (:func:`default_shape`, by
  id mod 3) on a shell: crystal axes along a Fibonacci lattice of directions, front faces at
  ``radius_mm`` from the centre. Construction fails if two crystals could overlap (their bounding
  cones from the centre intersect).

A subset of the crystals is chosen with ``crystals`` (ids, see :func:`parse_crystals`); the
others are absent (vacuum). There is no passive material (capsules, cryostats, holders):
photons travel in vacuum between crystals.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gpsa.detector.naming import parse_crystal
from gpsa.detector.shape import CrystalShape, default_shape, load_asolid
from gpsa.detector.transforms import LabTransform, euler_matrix, transform_from_euler
from gpsa.errors import ConfigError

log = logging.getLogger(__name__)

#: Accepted file names per table, first found wins.
TABLE_NAMES = {"asolid": ("agata_capsule.geo", "asolid", "asolid.list"),
               "aeuler": ("agata_euler.geo", "aeuler", "aeuler.list"),
               "aclust": ("agata_cluster.geo", "aclust", "aclust.list")}
SHAPE_LETTERS = "ABC"
#: Inner radius of AGATA's 4π array (domain facts, 23.5 cm), the shell's default.
DEFAULT_SHELL_RADIUS_MM = 235.0


def parse_crystals(text: str | None, n_crystals: int) -> list[int] | None:
    """``"0-5,00B,12C,20"`` → sorted ids (names NNL or ids; ranges ``a-b`` inclusive, either
    end a name or an id). None or "all" → None (all crystals)."""
    if text is None or text.strip().lower() in ("", "all"):
        return None
    n_clusters = max(1, (n_crystals + 2) // 3)
    ids: set[int] = set()
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        lo, sep, hi = part.partition("-")
        a = parse_crystal(lo, n_clusters)
        b = parse_crystal(hi, n_clusters) if sep else a
        if b < a:
            raise ConfigError(f"crystal range {part!r} runs backwards")
        ids.update(range(a, b + 1))
    bad = sorted(i for i in ids if i >= n_crystals)
    if bad:
        raise ConfigError(f"crystal(s) {bad[:5]} not in the geometry ({n_crystals} crystals)")
    return sorted(ids)


def find_tables(directory: str | Path) -> dict[str, Path]:
    """The three A180 tables in ``directory`` (a clear error naming what is missing)."""
    d = Path(directory)
    if not d.is_dir():
        raise ConfigError(f"--geometry {d}: not a folder")
    found = {}
    for role, names in TABLE_NAMES.items():
        hit = next((d / n for n in names if (d / n).is_file()), None)
        if hit is None:
            raise ConfigError(f"{d}: no {role} table (looked for {', '.join(names)})")
        found[role] = hit
    return found


@dataclass(frozen=True, eq=False)
class ArrayGeometry:
    """Crystals of the array: ``shapes`` (distinct shapes), per crystal its shape index, its id
    and its crystal → lab transform (``transform[i]`` is crystal ``crystal_ids[i]``)."""

    shapes: tuple[CrystalShape, ...]
    shape_index: np.ndarray  # (n,) int64 into shapes
    crystal_ids: np.ndarray  # (n,) int64
    transform: LabTransform
    source: str

    def __post_init__(self) -> None:
        n = len(self.transform)
        if self.shape_index.shape != (n,) or self.crystal_ids.shape != (n,) or n == 0:
            raise ConfigError(f"{self.source}: need >= 1 crystal with a shape and an id each")
        if len(set(self.crystal_ids.tolist())) != n:
            raise ConfigError(f"{self.source}: crystal ids repeat")

    def __len__(self) -> int:
        return len(self.transform)

    def index_of(self, crystal_id: int) -> int:
        hits = np.flatnonzero(self.crystal_ids == crystal_id)
        if hits.size == 0:
            raise ConfigError(f"crystal {crystal_id} is not in the geometry ({self.source})")
        return int(hits[0])

    def shape_of(self, crystal_id: int) -> CrystalShape:
        return self.shapes[int(self.shape_index[self.index_of(crystal_id)])]

    def contains(self, crystal_id: int, xyz: np.ndarray) -> np.ndarray:
        """Crystal-frame points inside crystal ``crystal_id``'s germanium."""
        return self.shape_of(crystal_id).contains(xyz)

    def subset(self, ids: list[int] | None) -> ArrayGeometry:
        if ids is None:
            return self
        rows = np.array([self.index_of(i) for i in ids], np.int64)
        tf = LabTransform(self.transform.rotations[rows], self.transform.translations[rows],
                          source=self.transform.source)
        return ArrayGeometry(self.shapes, self.shape_index[rows], self.crystal_ids[rows], tf,
                             f"{self.source}, crystals {_ranges(ids)}")

    @classmethod
    def from_tables(cls, directory: str | Path, crystals: str | list[int] | None = None
                    ) -> ArrayGeometry:
        """A180 tables from ``directory``; ``crystals`` as for :func:`parse_crystals`."""
        t = find_tables(directory)
        shapes = load_asolid(t["asolid"])
        missing = [s for s in SHAPE_LETTERS if s not in shapes]
        if missing:
            raise ConfigError(f"{t['asolid']}: shapes {missing} missing")
        tf = transform_from_euler(t["aeuler"], t["aclust"])
        n = len(tf)
        geom = cls(tuple(shapes[s] for s in SHAPE_LETTERS), np.arange(n, dtype=np.int64) % 3,
                   np.arange(n, dtype=np.int64), tf, f"A180 tables in {directory}")
        ids = parse_crystals(crystals, n) if isinstance(crystals, str) or crystals is None \
            else sorted(crystals)
        return geom.subset(ids)

    @classmethod
    def shell(cls, n_crystals: int = 60, radius_mm: float = DEFAULT_SHELL_RADIUS_MM,
              crystals: str | list[int] | None = None) -> ArrayGeometry:
        """gpsa's synthetic shapes on a shell (see the module docstring)."""
        if n_crystals < 1 or not radius_mm > 0:
            raise ConfigError(f"shell: need >= 1 crystal and a radius > 0, got {n_crystals}, "
                              f"{radius_mm}")
        u = fibonacci_directions(n_crystals)
        theta = np.degrees(np.arccos(np.clip(u[:, 2], -1.0, 1.0)))
        phi = np.degrees(np.arctan2(u[:, 1], u[:, 0]))
        rot = euler_matrix(np.zeros(n_crystals), theta, phi)
        tf = LabTransform(rot, radius_mm * u, source=f"shell r={radius_mm:g} mm")
        shapes = tuple(default_shape(s) for s in SHAPE_LETTERS)
        geom = cls(shapes, np.arange(n_crystals, dtype=np.int64) % 3,
                   np.arange(n_crystals, dtype=np.int64), tf,
                   f"synthetic shell of {n_crystals} crystals at {radius_mm:g} mm")
        _check_shell(u, max(cone_half_angle(s, radius_mm) for s in shapes), geom.source)
        ids = parse_crystals(crystals, n_crystals) if isinstance(crystals, str) \
            or crystals is None else sorted(crystals)
        return geom.subset(ids)


def fibonacci_directions(n: int) -> np.ndarray:
    """``(n, 3)`` unit vectors of the Fibonacci (golden-angle) lattice, z from ~+1 to ~−1."""
    i = np.arange(n) + 0.5
    z = 1.0 - 2.0 * i / n
    golden = math.pi * (3.0 - math.sqrt(5.0))
    r = np.sqrt(np.clip(1.0 - z * z, 0.0, 1.0))
    return np.stack([r * np.cos(golden * i), r * np.sin(golden * i), z], axis=1)


def cone_half_angle(shape: CrystalShape, radius_mm: float, n: int = 721) -> float:
    """Largest angle (rad), seen from the centre, between the crystal axis and its germanium,
    for a crystal whose front face is at ``radius_mm`` (sampled every length/(n−1) in z; the
    farthest point of a slice is a hexagon corner, clipped to the cylinder)."""
    z = np.linspace(0.0, shape.length, n)
    corners = shape.hexagon_at(z)
    rmax = np.minimum(np.sqrt((corners**2).sum(axis=-1)).max(axis=-1), shape.radius)
    return float(np.max(np.arctan2(rmax, radius_mm + z)) * 1.001)


def _check_shell(u: np.ndarray, half_angle: float, where: str) -> None:
    if len(u) < 2:
        return
    cos = np.clip(u @ u.T, -1.0, 1.0)
    np.fill_diagonal(cos, -1.0)
    closest = float(np.arccos(cos.max()))
    if closest < 2.0 * half_angle:
        raise ConfigError(f"{where}: crystals would overlap (closest axes "
                          f"{math.degrees(closest):.1f} deg apart, need "
                          f"{math.degrees(2 * half_angle):.1f}); use fewer crystals or a larger "
                          f"radius")


def _ranges(ids: list[int]) -> str:
    out, start = [], None
    for i, v in enumerate(ids):
        if start is None:
            start = v
        if i + 1 == len(ids) or ids[i + 1] != v + 1:
            out.append(f"{start}" if start == v else f"{start}-{v}")
            start = None
    return ",".join(out)
