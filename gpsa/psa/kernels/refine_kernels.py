"""numba kernels of the refinement (private; the readable reference is :mod:`gpsa.psa.refine`).

Same algorithm and order as the numpy :class:`~gpsa.psa.refine.Refiner`, parallel over hits
(positions) or events (T0), with no per-hit Python and no temporaries beyond one scratch set per
chunk of hits:

* :func:`refine_positions`: for every hit of one rank, the sub-grid lattices around its grid
  point. The time-shifted signals of the lattice nodes it touches are computed once per hit into a
  node cache (6³ slots around the hit's cell); every lattice position is then the trilinear
  combination of ≤ 8 cached nodes, and its figure of merit stops accumulating as soon as it
  exceeds the best so far (channels visited own segment first, then the core, then the rest).
* :func:`gpsa.psa.kernels.t0_kernel.refine_t0`: the T0 scan;
* :mod:`gpsa.psa.kernels.refine_common`: what both use (corners, shifts, model signals).

The basis is read as ``sig`` (N, 37, S) float32 with the compared window starting at sample
``first``; sample indices are clamped to ``[0, S - 1]`` exactly as the reference clamps them.
Figures of merit are float32 per channel and float64 over channels (the reference: float64 over
all terms), so results equal the reference to float rounding (ties may break differently).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from gpsa._numba import jit_options
from gpsa.psa.kernels.refine_common import (
    channel_fom,
    cubic_weights,
    hit_target,
    segment_corners,
    shifted_node,
    signal_at,
)

#: Node-cache box per axis (lattice nodes from floor(u) - 2 to floor(u) + 3 around a hit).
BOX = 6


@numba.njit(**jit_options(parallel=True))
def refine_positions(resid, signal, sel, event, segment, energy, xyz, delta_ev, chans, n_chans,
                     hit_set, mask_other, index, origin, spacing, seg_of, sig, first, lattice,
                     stage_ptr, mode, p, n_chunks, out_off, out_fom):  # pragma: no cover
    """Sub-grid positions of the hits ``sel`` (one rank: distinct events). Updates ``resid``
    (n, 37, K) and ``signal`` (m, 37, K) in place; writes ``out_off`` (m, 3) mm offsets from
    ``xyz`` and ``out_fom`` (m,) for the hits of ``sel``. ``n_chunks``: parallel chunks of
    hits, each with its own scratch (node cache)."""
    n_sel = sel.size
    K = resid.shape[2]
    c_max = chans.shape[1]
    n_chunks = max(1, min(n_sel, n_chunks))
    all_ch = np.arange(resid.shape[1])
    pf = np.float32(p)
    for chunk in numba.prange(n_chunks):
        cache = np.empty((BOX * BOX * BOX + 8, c_max, K), np.float32)  # + 8 rows: outside
        stamp = np.full(BOX * BOX * BOX, -1, np.int64)
        target = np.empty((c_max, K), np.float32)
        wch = np.empty(c_max, np.float32)
        node = np.empty((8, 3), np.int64)
        wt = np.empty(8, np.float64)
        slot = np.empty(8, np.int64)
        ws = np.empty(8, np.float32)
        v = np.empty(K, np.float32)
        new = np.empty((resid.shape[1], K), np.float32)
        node_buf = np.empty((resid.shape[1], K), np.float32)
        lo = np.empty(3, np.int64)
        for t in range(chunk * n_sel // n_chunks, (chunk + 1) * n_sel // n_chunks):
            h = sel[t]
            ev = event[h]
            seg = segment[h]
            e = np.float32(energy[h])
            n_ch = n_chans[seg]
            ch = chans[seg]
            hit_target(resid, signal, h, ev, seg, e, ch, n_ch, hit_set, mask_other, target, wch)
            b, c0, c1, c2, c3 = cubic_weights(delta_ev[ev], first)
            for a in range(3):
                lo[a] = math.floor((xyz[h, a] - origin[a]) / spacing[a]) - 2
            best = 1e300
            bx = by = bz = 0.0
            for st in range(stage_ptr.size - 1):
                cx, cy, cz = bx, by, bz
                for q in range(stage_ptr[st], stage_ptr[st + 1]):
                    ox = cx + lattice[q, 0] * spacing[0]
                    oy = cy + lattice[q, 1] * spacing[1]
                    oz = cz + lattice[q, 2] * spacing[2]
                    if not segment_corners(xyz[h, 0] + ox, xyz[h, 1] + oy, xyz[h, 2] + oz, index,
                                    origin, spacing, seg_of, seg, node, wt):
                        continue
                    nv = 0
                    for r in range(8):  # the corners' shifted signals, from the node cache
                        if wt[r] == 0.0:
                            continue
                        ii = node[r, 0] - lo[0]
                        jj = node[r, 1] - lo[1]
                        kk = node[r, 2] - lo[2]
                        j = index[node[r, 0], node[r, 1], node[r, 2]]
                        if 0 <= ii < BOX and 0 <= jj < BOX and 0 <= kk < BOX:
                            s = (ii * BOX + jj) * BOX + kk
                            if stamp[s] != h:
                                shifted_node(sig, j, ch, n_ch, b, c0, c1, c2, c3, cache[s])
                                stamp[s] = h
                        else:  # outside the box (cannot happen for the built-in lattices)
                            s = BOX * BOX * BOX + r
                            shifted_node(sig, j, ch, n_ch, b, c0, c1, c2, c3, cache[s])
                        slot[nv] = s
                        ws[nv] = np.float32(wt[r])
                        nv += 1
                    fom = 0.0
                    done = True
                    for c in range(n_ch):
                        if wch[c] == 0.0:
                            continue
                        s0 = slot[0]
                        w0 = ws[0]
                        for k in range(K):
                            v[k] = w0 * cache[s0, c, k]
                        for i in range(1, nv):
                            si = slot[i]
                            w = ws[i]
                            for k in range(K):
                                v[k] += w * cache[si, c, k]
                        fom += channel_fom(target[c], v, e, mode, pf)
                        if fom >= best:
                            done = False
                            break
                    if done and fom < best:
                        best = fom
                        bx, by, bz = ox, oy, oz
            out_off[h, 0], out_off[h, 1], out_off[h, 2] = bx, by, bz
            out_fom[h] = best
            signal_at(sig, xyz[h, 0] + bx, xyz[h, 1] + by, xyz[h, 2] + bz, seg, index, origin,
                       spacing, seg_of, delta_ev[ev], first, all_ch, node_buf, new)
            for c in range(resid.shape[1]):
                for k in range(K):
                    resid[ev, c, k] += e * (signal[h, c, k] - new[c, k])
                    signal[h, c, k] = new[c, k]
