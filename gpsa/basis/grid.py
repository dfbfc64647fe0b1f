"""Regular-grid index of a basis: grid detection, nearest point, neighbours, and trilinear
interpolation of signals between grid points.

Basis points sit on a regular lattice ``origin + ijk·spacing`` (spacing per axis, mm) that is
only partly filled (the crystal is not a box). :class:`BasisGrid` keeps a dense ``index`` array
over the bounding box, ``-1`` where the lattice has no basis point (~70 k int32 for a 2 mm
AGATA basis).

Interpolation at a position ``xyz`` (mm, crystal frame) uses the 8 lattice nodes of the cell
around it with trilinear weights. Points outside the bounding box are clamped to its faces
(constant extrapolation). Where some of the 8 nodes are missing (near the crystal surface or the
bore), their weights are dropped and the rest renormalised, provided the remaining weight is at
least ``min_weight`` (default 0.1); otherwise the signal of the nearest basis point is used.
Exact at grid points, linear along cell edges and trilinear inside full cells.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from gpsa.errors import BasisError

from ._interp_kernels import gather_weighted
from .model import N_BASIS_CHANNELS, Basis

log = logging.getLogger(__name__)

#: Allowed deviation of a coordinate from its lattice plane, as a fraction of the spacing.
GRID_TOLERANCE = 0.01
DEFAULT_MIN_WEIGHT = 0.1
_CORNERS = np.array([[i, j, k] for i in (0, 1) for j in (0, 1) for k in (0, 1)], np.int64)


def _axis_lattice(values: np.ndarray, fallback: float, src: str, axis: str) -> tuple[float, float]:
    """(origin, spacing) of the lattice planes along one axis."""
    v = np.sort(values.astype(np.float64))
    lo, hi = float(v[0]), float(v[-1])
    gaps = np.diff(v)
    resolution = max(1e-4, 1e-6 * max(abs(lo), abs(hi)))
    gaps = gaps[gaps > resolution]
    if gaps.size == 0:
        return lo, float(fallback)
    step = float(gaps.min())
    ratio = gaps / step
    misfit = np.abs(ratio - np.rint(ratio))
    if np.any(misfit > 2 * GRID_TOLERANCE):
        worst = float(gaps[np.argmax(misfit)])
        raise BasisError(f"{src}: grid: {axis} coordinates are not on a regular lattice "
                         f"(gaps of {step:.4g} and {worst:.4g} mm)")
    return lo, (hi - lo) / round((hi - lo) / step)


@dataclass(frozen=True, eq=False)
class BasisGrid:
    """Dense lattice index of a :class:`Basis`. Build it with :meth:`from_basis`."""

    basis: Basis
    origin: np.ndarray  # (3,) float64 mm, position of lattice node (0, 0, 0)
    spacing: np.ndarray  # (3,) float64 mm
    dims: tuple[int, int, int]  # lattice nodes per axis
    index: np.ndarray  # dims int32, basis point index or -1
    ijk: np.ndarray  # (N, 3) int64 lattice coordinates of every basis point

    @classmethod
    def from_basis(cls, basis: Basis) -> BasisGrid:
        """Detect the lattice of ``basis.positions`` (raises :class:`BasisError` if the points are
        not on a regular lattice or two share a node)."""
        pos = np.asarray(basis.positions, dtype=np.float64)
        lattice = [_axis_lattice(pos[:, a], basis.grid_mm, basis.source, "xyz"[a])
                   for a in range(3)]
        origin = np.array([o for o, _ in lattice])
        spacing = np.array([s for _, s in lattice])
        u = (pos - origin) / spacing
        ijk = np.rint(u).astype(np.int64)
        off = np.abs(u - ijk).max(axis=1)
        if np.any(off > GRID_TOLERANCE):
            i = int(np.argmax(off))
            raise BasisError(f"{basis.source}: grid: point {i} at {pos[i].tolist()} is "
                             f"{off[i]:.3g} spacings off the lattice")
        dims = tuple(int(d) for d in ijk.max(axis=0) + 1)
        index = np.full(dims, -1, np.int32)
        index[ijk[:, 0], ijk[:, 1], ijk[:, 2]] = np.arange(len(basis), dtype=np.int32)
        if np.count_nonzero(index >= 0) != len(basis):
            raise BasisError(f"{basis.source}: grid: two basis points share a lattice node")
        log.debug("%s: grid origin %s spacing %s dims %s", basis.source, origin, spacing, dims)
        return cls(basis=basis, origin=origin, spacing=spacing, dims=dims,  # type: ignore[arg-type]
                   index=index, ijk=ijk)

    @property
    def segment_indices(self) -> tuple[np.ndarray, ...]:
        """Basis point indices of each of the 36 segments (see :attr:`Basis.segment_indices`)."""
        return self.basis.segment_indices

    def to_lattice(self, xyz: np.ndarray) -> np.ndarray:
        """Continuous lattice coordinates of positions (mm → units of spacing), (n, 3) float64."""
        return (np.atleast_2d(np.asarray(xyz, np.float64)) - self.origin) / self.spacing

    def index_of(self, ijk: np.ndarray | Sequence[int]) -> np.ndarray:
        """Basis index at integer lattice coordinates ``(n, 3)`` (or one ``(3,)``); -1 where the
        node is empty or outside the lattice."""
        ijk = np.atleast_2d(np.asarray(ijk, dtype=np.int64))
        inside = np.all((ijk >= 0) & (ijk < np.array(self.dims)), axis=1)
        out = np.full(ijk.shape[0], -1, np.int64)
        c = ijk[inside]
        out[inside] = self.index[c[:, 0], c[:, 1], c[:, 2]]
        return out

    @cached_property
    def _tree(self):  # scipy.spatial.cKDTree, built on first need
        from scipy.spatial import cKDTree

        return cKDTree(np.asarray(self.basis.positions, np.float64))

    def nearest(self, xyz: np.ndarray) -> np.ndarray:
        """Index of the nearest basis point to each position, (n,) int64. The rounded lattice
        node is used when it holds a point (then it is the nearest); a k-d tree otherwise."""
        u = self.to_lattice(xyz)
        node = np.clip(np.rint(u), 0, np.array(self.dims) - 1).astype(np.int64)
        out = self.index[node[:, 0], node[:, 1], node[:, 2]].astype(np.int64)
        miss = out < 0
        if miss.any():
            xyz2 = np.atleast_2d(np.asarray(xyz, np.float64))
            out[miss] = self._tree.query(xyz2[miss])[1]
        return out

    def neighbours(self, point: int, radius: int = 1, *, include_self: bool = False) -> np.ndarray:
        """Basis indices within ±``radius`` lattice steps of basis point ``point`` on every axis
        (26 neighbours at most for radius 1), sorted."""
        lo = np.maximum(self.ijk[point] - radius, 0)
        hi = np.minimum(self.ijk[point] + radius + 1, np.array(self.dims))
        block = self.index[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]].ravel()
        found = np.sort(block[block >= 0]).astype(np.int64)
        return found if include_self else found[found != point]

    def corners(self, xyz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The 8 cell corners around each position and their raw trilinear weights:
        ``idx`` (n, 8) int64 (-1 = no basis point) and ``w`` (n, 8) float64 (0 where idx = -1).
        ``w.sum(1)`` is 1 inside full cells and less near the crystal surface."""
        u = self.to_lattice(xyz)
        dims = np.array(self.dims)
        i0 = np.clip(np.floor(u), 0, np.maximum(dims - 2, 0)).astype(np.int64)
        f = np.clip(u - i0, 0.0, 1.0)
        f[:, dims == 1] = 0.0
        node = np.minimum(i0[:, None, :] + _CORNERS[None], dims - 1)  # (n, 8, 3)
        w = np.prod(np.where(_CORNERS[None] == 1, f[:, None, :], 1.0 - f[:, None, :]), axis=2)
        idx = self.index[node[..., 0], node[..., 1], node[..., 2]].astype(np.int64)
        w[idx < 0] = 0.0
        idx[w == 0.0] = -1
        return idx, w

    def support(self, xyz: np.ndarray) -> np.ndarray:
        """Sum of the trilinear weights of the existing corners, (n,) in [0, 1]."""
        return self.corners(xyz)[1].sum(axis=1)

    def weights(self, xyz: np.ndarray, *, min_weight: float = DEFAULT_MIN_WEIGHT
                ) -> tuple[np.ndarray, np.ndarray]:
        """Interpolation corners and renormalised weights (n, 8) int64 / float32 (see module
        docstring for the fallback to the nearest point)."""
        idx, w = self.corners(xyz)
        total = w.sum(axis=1)
        ok = total >= min_weight
        w[ok] /= total[ok, None]
        bad = np.flatnonzero(~ok)
        if bad.size:
            xyz2 = np.atleast_2d(np.asarray(xyz, np.float64))
            idx[bad] = -1
            w[bad] = 0.0
            idx[bad, 0] = self.nearest(xyz2[bad])
            w[bad, 0] = 1.0
        return idx, w.astype(np.float32)

    def interpolate(self, xyz: np.ndarray, *, channels: Sequence[int] | np.ndarray | None = None,
                    min_weight: float = DEFAULT_MIN_WEIGHT) -> np.ndarray:
        """Signals at arbitrary positions ``xyz`` (n, 3) mm: (n, C, S) float32, C = 37 or
        ``len(channels)``. Numba kernel, ~n·8·C·S multiply-adds, no per-point Python."""
        idx, w = self.weights(xyz, min_weight=min_weight)
        ch = np.arange(N_BASIS_CHANNELS) if channels is None else np.asarray(channels, np.int64)
        return gather_weighted(self.basis.signals, idx, w, ch)
