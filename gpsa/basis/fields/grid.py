"""The finite-difference grid of the field solvers: node classification and curved boundaries.

Nodes sit on a regular Cartesian lattice of spacing ``h`` (mm) covering the crystal's bounding box
plus two layers. Every node gets a label:

* ``FREE`` (-1): inside the germanium; its potential is solved for.
* ``0 … n-1``: an electrode node, outside the germanium and touching it (a face neighbour of a free
  node). Its potential is fixed (Dirichlet). For a crystal, 0–35 are the segments (the outer
  surface, labelled by ``segment_of`` of the node) and 36 the core (nodes in the bore).
* ``PASSIVE`` (-2): outside the germanium behind a passivated surface (the back face): no contact
  and, as ε_Ge = 16 ≫ ε_vacuum, approximately no normal field (Neumann condition).
* ``UNUSED`` (-3): outside and not touching the germanium; never read by the solvers.

Curved boundaries (the round back, the bore, the tapered hexagon) are handled by the
**Shortley–Weller** scheme: for each link from a free node to a non-free neighbour, the fraction
``t`` ∈ (0, 1] of the link inside the germanium is found by bisection on ``contains``, and the
7-point stencil uses unequal arm lengths ``t·h`` (the boundary value is taken at the crossing, not
at the neighbour node). ``t`` is clamped to ≥ 0.01 (the surface is placed to 0.01·h).
Passivated links get weight 0 (a first-order Neumann condition). The electrode of a link is the
label of its outside node (``segment_of`` of that node), so segment borders are resolved to ``h``.

:func:`build_grid` works with any ``contains`` / ``in_bore`` / ``electrode_of`` callables (tests
use a coaxial cylinder); :mod:`gpsa.basis.fields.geometry` adapts a crystal geometry to it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)

FREE, PASSIVE, UNUSED = -1, -2, -3
#: Link order of the 7-point stencil: -x, +x, -y, +y, -z, +z.
DIRECTIONS = np.array([[-1, 0, 0], [1, 0, 0], [0, -1, 0], [0, 1, 0], [0, 0, -1], [0, 0, 1]])
T_MIN = 0.01
_BISECT_STEPS = 20

PointsFn = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True, eq=False)
class FieldGrid:
    """A classified grid. Node ``(i, j, k)`` is at ``origin + spacing·(i, j, k)`` (mm)."""

    origin: np.ndarray  # (3,) float64, mm
    spacing: float  # mm
    labels: np.ndarray  # (nx, ny, nz) int16
    free: np.ndarray  # (M,) int64 flat indices of free nodes, red (i+j+k even) first, then black
    n_red: int
    frac: np.ndarray  # (M, 6) float64: fraction t of each link inside the germanium (1 = free)
    weights: np.ndarray  # (M, 6) float64 Shortley–Weller weights, 0 on passivated links
    sdf: np.ndarray  # (nx, ny, nz) float32 signed distance to the surface, capped at ±h, >0 inside

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(int(n) for n in self.labels.shape)  # type: ignore[return-value]

    @property
    def strides(self) -> np.ndarray:
        """Flat-index offsets of the six neighbours, in :data:`DIRECTIONS` order."""
        _, ny, nz = self.shape
        sx, sy = ny * nz, nz
        return np.array([-sx, sx, -sy, sy, -1, 1], dtype=np.int64)

    @property
    def n_electrodes(self) -> int:
        return int(self.labels.max()) + 1

    def node_positions(self, flat_index: np.ndarray) -> np.ndarray:
        """Positions (mm) of nodes given by flat index, shape ``(n, 3)``."""
        ijk = np.stack(np.unravel_index(flat_index, self.shape), axis=-1)
        return self.origin + self.spacing * ijk

    def electrode_values(self, label_value: np.ndarray | dict[int, float]) -> np.ndarray:
        """A flat float64 array with each electrode node set to the value of its label."""
        lab = self.labels.ravel()
        out = np.zeros(lab.size, dtype=np.float64)
        items = (label_value.items() if isinstance(label_value, dict)
                 else enumerate(np.asarray(label_value, dtype=np.float64)))
        for label, value in items:
            out[lab == label] = value
        return out


def grid_nodes(lo: np.ndarray, hi: np.ndarray, spacing: float, pad: int = 2
               ) -> tuple[np.ndarray, tuple[int, int, int]]:
    """Origin and shape of a lattice aligned on ``(k + ½)·h`` covering ``[lo, hi]`` + ``pad``."""
    h = float(spacing)
    first = np.floor(np.asarray(lo, dtype=np.float64) / h - 0.5) - pad
    last = np.ceil(np.asarray(hi, dtype=np.float64) / h - 0.5) + pad
    origin = (first + 0.5) * h
    shape = tuple(int(n) for n in (last - first + 1))
    return origin, shape  # type: ignore[return-value]


def build_grid(contains: PointsFn, in_bore: PointsFn, electrode_of: PointsFn,
               lo: np.ndarray, hi: np.ndarray, spacing: float, *, core_label: int = 36,
               passive: PointsFn | None = None) -> FieldGrid:
    """Classify the lattice over ``[lo, hi]`` (mm) with node spacing ``spacing`` (mm).

    ``contains(p)``: inside the germanium; ``in_bore(p)``: inside the core contact's bore (label
    ``core_label``); ``electrode_of(p)``: the electrode label (int ≥ 0) of other outside nodes
    touching the germanium; ``passive(p)``: those outside nodes behind a passivated surface.
    All take ``(n, 3)`` points in mm and return ``(n,)`` arrays.
    """
    h = float(spacing)
    origin, shape = grid_nodes(lo, hi, h)
    axes = [origin[a] + h * np.arange(shape[a]) for a in range(3)]
    pts = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    inside = np.asarray(contains(pts), dtype=bool).reshape(shape)
    if not inside.any():
        raise ValueError(f"no grid node at spacing {h} mm lies inside the germanium")
    touching = np.zeros(shape, dtype=bool)
    for d in DIRECTIONS:
        touching |= _shift(inside, d, False)
    touching &= ~inside
    labels = np.full(shape, UNUSED, dtype=np.int16)
    labels[inside] = FREE
    idx = np.flatnonzero(touching)
    p = pts[idx]
    lab = np.asarray(electrode_of(p), dtype=np.int64)
    if passive is not None:
        lab = np.where(np.asarray(passive(p), dtype=bool), PASSIVE, lab)
    lab = np.where(np.asarray(in_bore(p), dtype=bool), core_label, lab)
    labels.ravel()[idx] = lab
    frac = _link_fractions(contains, pts, labels, h)
    return _assemble(origin, h, labels, frac)


def _shift(a: np.ndarray, d: np.ndarray, fill: object) -> np.ndarray:
    """``out[i] = a[i + d]`` (the neighbour in direction ``d``), ``fill`` beyond the edge."""
    out = np.full_like(a, fill)
    src = tuple(slice(max(s, 0), n + min(s, 0)) for s, n in zip(d, a.shape, strict=True))
    dst = tuple(slice(max(-s, 0), n + min(-s, 0)) for s, n in zip(d, a.shape, strict=True))
    out[dst] = a[src]
    return out


def _link_fractions(contains: PointsFn, pts: np.ndarray, labels: np.ndarray, h: float
                    ) -> np.ndarray:
    """``frac[node, dir]`` for every node (flat): 1 unless the link leaves the germanium."""
    frac = np.ones((labels.size, 6), dtype=np.float64)
    free = labels == FREE
    for n, d in enumerate(DIRECTIONS):
        leaving = np.flatnonzero(free & ~_shift(free, d, False))
        if leaving.size == 0:
            continue
        start = pts[leaving]
        lo_t, hi_t = np.zeros(leaving.size), np.ones(leaving.size)
        for _ in range(_BISECT_STEPS):
            mid = 0.5 * (lo_t + hi_t)
            ok = np.asarray(contains(start + (mid * h)[:, None] * d), dtype=bool)
            lo_t = np.where(ok, mid, lo_t)
            hi_t = np.where(ok, hi_t, mid)
        frac[leaving, n] = np.clip(0.5 * (lo_t + hi_t), T_MIN, 1.0)
    return frac


def _assemble(origin: np.ndarray, h: float, labels: np.ndarray, frac_all: np.ndarray
              ) -> FieldGrid:
    shape = labels.shape
    flat = labels.ravel()
    free_idx = np.flatnonzero(flat == FREE)
    i, j, k = np.unravel_index(free_idx, shape)
    red = (i + j + k) % 2 == 0
    order = np.concatenate([free_idx[red], free_idx[~red]])
    frac = frac_all[order]
    strides = np.array([-shape[1] * shape[2], shape[1] * shape[2], -shape[2], shape[2], -1, 1])
    nb_label = flat[order[:, None] + strides[None, :]]
    weights = np.zeros_like(frac)
    for axis in range(3):
        m, p = 2 * axis, 2 * axis + 1
        tm, tp = frac[:, m].copy(), frac[:, p].copy()
        # A passivated side is a mirror: the other arm keeps its own length.
        tm[nb_label[:, m] == PASSIVE] = 1.0
        tp[nb_label[:, p] == PASSIVE] = 1.0
        weights[:, m] = 2.0 / (tm * (tm + tp))
        weights[:, p] = 2.0 / (tp * (tm + tp))
    weights[nb_label == PASSIVE] = 0.0
    if np.any(nb_label == UNUSED):
        raise AssertionError("a free node touches an unused node")  # pragma: no cover
    sdf = _signed_distance(labels, frac_all, h)
    log.debug("field grid %s at %.3g mm: %d free nodes, %d electrode nodes", shape, h,
              order.size, int(np.sum(flat >= 0)))
    return FieldGrid(origin=np.asarray(origin, dtype=np.float64), spacing=h, labels=labels,
                     free=order.astype(np.int64), n_red=int(red.sum()), frac=frac,
                     weights=weights, sdf=sdf)


def _signed_distance(labels: np.ndarray, frac_all: np.ndarray, h: float) -> np.ndarray:
    """Signed distance to the surface along the links, capped at ±h (trilinear-interpolable).

    A free node holds ``min t·h`` over its links, an outside node ``-min (1 - t)·h`` over the
    links reaching it, so that linear interpolation along a link crosses zero at the surface.
    """
    shape = labels.shape
    inside = labels == FREE
    frac = frac_all.reshape(*shape, 6)
    sdf = np.where(inside, h, -h).astype(np.float64)
    sdf[inside] = h * frac[inside].min(axis=1)
    for n, d in enumerate(DIRECTIONS):
        # Outside node o reached from free node f = o - d along direction d.
        from_free = _shift(frac[..., n], -d, 1.0)
        src_free = _shift(inside, -d, False)
        outside_hit = ~inside & src_free
        sdf[outside_hit] = np.maximum(sdf[outside_hit], -(1.0 - from_free[outside_hit]) * h)
    return sdf.astype(np.float32)
