"""Ghost values: extend a solved potential beyond the germanium for interpolation.

A solved potential is exact only on free nodes; electrode nodes hold the electrode value, which
lies on the surface (a fraction ``t`` of the link away), not at the node. For trilinear
interpolation and finite-difference gradients near the surface, every node touching the
germanium gets a *ghost* value instead:

* an electrode node: the linear extrapolation through the surface value,
  ``φ_f + (φ_b − φ_f)/t``, averaged over the links that reach it;
* a passivated node: the mirror value ``φ_f`` (zero normal gradient), averaged likewise;
* other outside nodes: filled by two passes of neighbour averaging (they are read only when a
  point sits in a cell that straddles a sharp corner).

With ghosts, interpolating along a link returns exactly the electrode value at the surface.
"""

from __future__ import annotations

import numpy as np

from gpsa.basis.fields.grid import DIRECTIONS, FREE, PASSIVE, FieldGrid


def extend_ghosts(grid: FieldGrid, phi: np.ndarray) -> np.ndarray:
    """``phi (n_nodes, K)`` (electrode nodes hold electrode values) → a new ghost-filled array."""
    labels = grid.labels.ravel()
    out = phi.copy()
    acc = np.zeros_like(phi, dtype=np.float64)
    cnt = np.zeros(labels.size, dtype=np.int64)
    strides = grid.strides
    for d in range(len(DIRECTIONS)):
        f = grid.free
        o = f + strides[d]
        lab = labels[o]
        sel = lab != FREE
        if not sel.any():
            continue
        f, o, t = f[sel], o[sel], grid.frac[sel, d]
        phi_f = phi[f].astype(np.float64)
        passive = (lab[sel] == PASSIVE)[:, None]
        ghost = np.where(passive, phi_f, phi_f + (phi[o] - phi_f) / t[:, None])
        # Within one direction every outside node is reached at most once.
        acc[o] += ghost
        cnt[o] += 1
    hit = cnt > 0
    out[hit] = (acc[hit] / cnt[hit, None]).astype(phi.dtype)
    _fill_rest(grid, out, known=hit | (labels == FREE))
    return out


def _fill_rest(grid: FieldGrid, out: np.ndarray, known: np.ndarray, passes: int = 2) -> None:
    """Give unknown nodes next to known ones the mean of their known neighbours."""
    shape = grid.shape
    vals = out.reshape(*shape, -1)
    known3 = known.reshape(shape).copy()
    for _ in range(passes):
        acc = np.zeros(vals.shape, dtype=np.float64)
        cnt = np.zeros(shape, dtype=np.int64)
        for d in DIRECTIONS:
            src = tuple(slice(max(s, 0), n + min(s, 0)) for s, n in zip(d, shape, strict=True))
            dst = tuple(slice(max(-s, 0), n + min(-s, 0)) for s, n in zip(d, shape, strict=True))
            acc[dst] += np.where(known3[src][..., None], vals[src], 0.0)
            cnt[dst] += known3[src]
        new = ~known3 & (cnt > 0)
        if not new.any():
            break
        vals[new] = (acc[new] / cnt[new][:, None]).astype(vals.dtype)
        known3 |= new
