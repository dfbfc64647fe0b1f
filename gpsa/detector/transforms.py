"""Crystal → lab transforms: ``x_lab = R[id] · x_crystal + T[id]`` (mm), one (R, T) per crystal.

Built either from the A180 Euler tables (``aeuler``: where each cluster sits; ``aclust``: where
each crystal sits in its cluster) or read from a ``*_AGATA_crmat.dat`` look-up table. Two tables
of the same array may differ by a global rotation about the beam (z) axis, which
:func:`fit_global_rotation_z` finds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from gpsa.detector.polygon import as_points
from gpsa.detector.tables import GeometryError, PathLike, read_rows


def _axis_rotation(deg: Any, axis: int) -> np.ndarray:
    a = np.radians(np.asarray(deg, dtype=np.float64))
    c, s = np.cos(a), np.sin(a)
    m = np.zeros((*a.shape, 3, 3))
    i, j = [(1, 2), (2, 0), (0, 1)][axis]
    m[..., axis, axis] = 1.0
    m[..., i, i], m[..., j, j] = c, c
    m[..., i, j], m[..., j, i] = -s, s
    return m


def rotation_z(deg: Any) -> np.ndarray:
    """Rotation by ``deg`` degrees about z (``(..., 3, 3)`` for array input)."""
    return _axis_rotation(deg, 2)


def rotation_y(deg: Any) -> np.ndarray:
    """Rotation by ``deg`` degrees about y (``(..., 3, 3)`` for array input)."""
    return _axis_rotation(deg, 1)


def euler_matrix(psi: Any, theta: Any, phi: Any) -> np.ndarray:
    """``R = Rz(phi) · Ry(theta) · Rz(psi)`` (degrees; arrays broadcast to ``(..., 3, 3)``)."""
    return rotation_z(phi) @ rotation_y(theta) @ rotation_z(psi)


@dataclass(frozen=True)
class LabTransform:
    """Per-crystal rotations ``(n, 3, 3)`` and translations ``(n, 3)`` (mm), crystal → lab.

    Arrays are stored as read-only float64 copies; the rotations must be orthonormal (to 1e-3,
    the precision of 5-decimal tables). Instances compare and hash by value.
    """

    rotations: np.ndarray
    translations: np.ndarray
    source: str = "<memory>"

    def __post_init__(self) -> None:
        rot = np.array(self.rotations, dtype=np.float64)
        tr = np.array(self.translations, dtype=np.float64)
        if rot.ndim != 3 or rot.shape[1:] != (3, 3) or tr.shape != (rot.shape[0], 3):
            raise GeometryError(f"{self.source}: rotations must be (n, 3, 3) and translations "
                                f"(n, 3), got {rot.shape} and {tr.shape}")
        if not (np.all(np.isfinite(rot)) and np.all(np.isfinite(tr))):
            raise GeometryError(f"{self.source}: non-finite rotation or translation")
        err = np.abs(rot @ np.swapaxes(rot, 1, 2) - np.eye(3)).max(axis=(1, 2))
        if np.any(err > 1e-3):
            bad = int(np.argmax(err))
            raise GeometryError(f"{self.source}: rotation of crystal {bad} is not orthonormal "
                                f"(|R·Rᵀ − 1| = {err[bad]:.2g})")
        for arr in (rot, tr):
            arr.setflags(write=False)
        object.__setattr__(self, "rotations", rot)
        object.__setattr__(self, "translations", tr)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LabTransform):
            return NotImplemented
        return (np.array_equal(self.rotations, other.rotations)
                and np.array_equal(self.translations, other.translations))

    def __hash__(self) -> int:
        return hash((self.rotations.tobytes(), self.translations.tobytes()))

    def __len__(self) -> int:
        return int(self.rotations.shape[0])

    def _ids(self, crystal_id: Any, shape: tuple[int, ...]) -> np.ndarray:
        ids = np.asarray(crystal_id)
        if not np.issubdtype(ids.dtype, np.integer):
            raise GeometryError(f"crystal ids must be integers, got dtype {ids.dtype}")
        if ids.size and (ids.min() < 0 or ids.max() >= len(self)):
            raise GeometryError(f"crystal id outside 0..{len(self) - 1} ({self.source})")
        try:
            return np.broadcast_to(ids, shape)
        except ValueError:
            raise GeometryError(f"crystal ids of shape {ids.shape} do not match points of "
                                f"shape {shape + (3,)}") from None

    def to_lab(self, crystal_id: Any, xyz: np.ndarray) -> np.ndarray:
        """Crystal-frame points ``(..., 3)`` of crystals ``crystal_id`` (broadcast) → lab."""
        p = as_points(xyz)
        ids = self._ids(crystal_id, p.shape[:-1])
        return np.einsum("...ij,...j->...i", self.rotations[ids], p) + self.translations[ids]

    def to_crystal(self, crystal_id: Any, xyz: np.ndarray) -> np.ndarray:
        """Lab points ``(..., 3)`` → the frame of crystals ``crystal_id`` (inverse of to_lab)."""
        p = as_points(xyz)
        ids = self._ids(crystal_id, p.shape[:-1])
        return np.einsum("...ji,...j->...i", self.rotations[ids], p - self.translations[ids])

    def rotated_z(self, deg: float) -> LabTransform:
        """This transform followed by a rotation of the lab by ``deg`` degrees about z."""
        g = rotation_z(deg)
        return LabTransform(g @ self.rotations, self.translations @ g.T,
                            source=f"{self.source} rotated {deg:g} deg about z")

    def deviation(self, other: LabTransform) -> tuple[float, float]:
        """Largest |ΔR| element and |ΔT| component (mm) against ``other``, crystal by crystal."""
        if len(other) != len(self):
            raise GeometryError(f"cannot compare {len(self)} crystals ({self.source}) with "
                                f"{len(other)} ({other.source})")
        return (float(np.abs(self.rotations - other.rotations).max()),
                float(np.abs(self.translations - other.translations).max()))


def fit_global_rotation_z(a: LabTransform, b: LabTransform) -> float:
    """Angle (degrees) of the rotation about z that best maps ``a`` onto ``b``.

    Least squares (2-D Procrustes, closed form) over the x-y parts of all rotation-matrix columns
    and of all translations; translations are scaled by their rms length so both kinds of vector
    weigh alike. ``a.rotated_z(angle)`` is then the closest such copy of ``a`` to ``b``.
    """
    if len(a) != len(b):
        raise GeometryError(f"cannot fit {len(a)} crystals ({a.source}) to {len(b)} ({b.source})")
    scale = float(np.sqrt(np.mean(np.sum(a.translations**2, axis=1)))) or 1.0
    u = np.concatenate([np.swapaxes(a.rotations, 1, 2).reshape(-1, 3),
                        a.translations / scale])[:, :2]
    v = np.concatenate([np.swapaxes(b.rotations, 1, 2).reshape(-1, 3),
                        b.translations / scale])[:, :2]
    cross = np.sum(u[:, 0] * v[:, 1] - u[:, 1] * v[:, 0])
    dot = np.sum(u[:, 0] * v[:, 0] + u[:, 1] * v[:, 1])
    return float(np.degrees(np.arctan2(cross, dot)))


def load_crmat(path: PathLike) -> LabTransform:
    """Read a ``*_AGATA_crmat.dat`` table: per crystal ``id 0 Tx Ty Tz`` then ``k rk1 rk2 rk3``
    for k = 1, 2, 3. Ids must cover 0..n-1 once each (any order)."""
    src = str(path)
    records: dict[int, tuple[np.ndarray, list[np.ndarray]]] = {}
    current: int | None = None
    for row in read_rows(path, min_fields=4):
        if len(row.values) == 5 and row.values[1] == 0:
            (cid,) = row.ints(1, src)
            if current is not None and len(records[current][1]) != 3:
                raise GeometryError(f"{src}:{row.line}: crystal {current} has "
                                    f"{len(records[current][1])} matrix rows, expected 3")
            if cid in records or cid < 0:
                raise GeometryError(f"{src}:{row.line}: duplicate or negative crystal id {cid}")
            records[cid] = (np.array(row.values[2:5]), [])
            current = cid
        elif len(row.values) == 4 and current is not None:
            rows = records[current][1]
            if row.values[0] != len(rows) + 1:
                raise GeometryError(f"{src}:{row.line}: expected matrix row {len(rows) + 1} of "
                                    f"crystal {current}, got {row.values[0]:g}")
            rows.append(np.array(row.values[1:4]))
        else:
            raise GeometryError(f"{src}:{row.line}: expected `id 0 Tx Ty Tz` or `k r1 r2 r3`")
    if not records:
        raise GeometryError(f"{src}: no crystal found")
    if current is not None and len(records[current][1]) != 3:
        raise GeometryError(f"{src}: crystal {current} (the last) has "
                            f"{len(records[current][1])} matrix rows, expected 3")
    missing = sorted(set(range(max(records) + 1)) - set(records))
    if missing:
        raise GeometryError(f"{src}: crystal ids missing: {missing[:10]}")
    ids = sorted(records)
    return LabTransform(np.array([np.stack(records[i][1]) for i in ids]),
                        np.array([records[i][0] for i in ids]), source=src)


@dataclass(frozen=True, eq=False)
class ClusterPlacements:
    """An ``aeuler`` table: ``cluster kind psi theta phi dx dy dz`` per line, sorted by cluster.

    ``kind`` is the cluster type, the first column of the ``aclust`` table (0 in A180)."""

    cluster: np.ndarray  # (n,) int
    kind: np.ndarray  # (n,) int
    angles_deg: np.ndarray  # (n, 3): psi, theta, phi
    shifts_mm: np.ndarray  # (n, 3)
    source: str = "<memory>"


@dataclass(frozen=True, eq=False)
class CrystalPlacements:
    """An ``aclust`` table: ``kind shape slot psi theta phi dx dy dz`` per line (crystal in its
    cluster; ``shape`` 0, 1, 2 = A, B, C)."""

    kind: np.ndarray  # (m,) int
    shape: np.ndarray  # (m,) int
    slot: np.ndarray  # (m,) int
    angles_deg: np.ndarray  # (m, 3)
    shifts_mm: np.ndarray  # (m, 3)
    source: str = "<memory>"


def _read_euler(path: PathLike, n_keys: int) -> tuple[np.ndarray, np.ndarray, list[int]]:
    keys, values, lines = [], [], []
    for row in read_rows(path, min_fields=n_keys + 6):
        keys.append(row.ints(n_keys, str(path)))
        values.append(row.values[n_keys:n_keys + 6])
        lines.append(row.line)
    if not keys:
        raise GeometryError(f"{path}: no placement found")
    return np.array(keys, dtype=np.int64), np.array(values), lines


def load_aeuler(path: PathLike) -> ClusterPlacements:
    """Read an A180 ``aeuler`` table (degrees, mm); clusters must be 0..n-1, once each."""
    keys, values, lines = _read_euler(path, 2)
    order = np.argsort(keys[:, 0], kind="stable")
    cl = keys[order, 0]
    dup = np.flatnonzero(np.diff(cl) == 0)
    if dup.size:
        raise GeometryError(f"{path}:{lines[order[dup[0] + 1]]}: cluster {cl[dup[0]]} "
                            f"placed twice")
    if cl[0] != 0 or cl[-1] != len(cl) - 1:
        raise GeometryError(f"{path}: clusters must be numbered 0..{len(cl) - 1}, got "
                            f"{cl[0]}..{cl[-1]}")
    return ClusterPlacements(cl, keys[order, 1], values[order, :3], values[order, 3:],
                             source=str(path))


def load_aclust(path: PathLike) -> CrystalPlacements:
    """Read an A180 ``aclust`` table (degrees, mm); shapes must be 0, 1 or 2, once per kind."""
    keys, values, lines = _read_euler(path, 3)
    seen: set[tuple[int, int]] = set()
    for (kind, shape, _slot), line in zip(keys.tolist(), lines, strict=True):
        if not 0 <= shape <= 2 or (kind, shape) in seen:
            raise GeometryError(f"{path}:{line}: shape {shape} of cluster type {kind} is not "
                                f"0, 1 or 2 or is given twice")
        seen.add((kind, shape))
    return CrystalPlacements(keys[:, 0], keys[:, 1], keys[:, 2], values[:, :3], values[:, 3:],
                             source=str(path))


def transform_from_euler(aeuler_path: PathLike, aclust_path: PathLike) -> LabTransform:
    """Compose cluster and crystal placements: ``x_w = R_cl (R_cr x + T_cr) + T_cl``.

    Crystal id = 3·cluster + shape (A: 0, B: 1, C: 2); every cluster's type must define all
    three shapes in the ``aclust`` table.
    """
    clusters, crystals = load_aeuler(aeuler_path), load_aclust(aclust_path)
    r_cr = euler_matrix(*crystals.angles_deg.T)
    by_kind = {(int(k), int(s)): i for i, (k, s) in enumerate(zip(crystals.kind, crystals.shape,
                                                                   strict=True))}
    n = len(clusters.cluster)
    rot = np.empty((3 * n, 3, 3))
    tr = np.empty((3 * n, 3))
    r_cl = euler_matrix(*clusters.angles_deg.T)
    for c, kind in enumerate(clusters.kind.tolist()):
        for shape in range(3):
            i = by_kind.get((kind, shape))
            if i is None:
                raise GeometryError(f"{aclust_path}: cluster type {kind} (used by cluster {c} in "
                                    f"{aeuler_path}) has no crystal of shape {'ABC'[shape]}")
            rot[3 * c + shape] = r_cl[c] @ r_cr[i]
            tr[3 * c + shape] = r_cl[c] @ crystals.shifts_mm[i] + clusters.shifts_mm[c]
    return LabTransform(rot, tr, source=f"{aeuler_path} + {aclust_path}")
