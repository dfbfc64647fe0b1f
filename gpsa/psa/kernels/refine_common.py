"""Shared pieces of the refinement kernels (private; see :mod:`gpsa.psa.refine_numba`): the
cubic time-shift weights, the trilinear corners restricted to a segment, time-shifted node
signals, and the 37-channel model signals and residual of a block.

The basis is read as ``sig`` (N, 37, S) float32 with the compared window starting at sample
``first``; sample indices are clamped to ``[0, S - 1]`` exactly as the numpy reference
(:mod:`gpsa.psa.refine`, :mod:`gpsa.psa.window`) clamps them.

The bodies of :func:`cubic_weights`, :func:`_axis` and :func:`segment_corners` are also compiled
as numba.cuda device functions (:mod:`gpsa.psa.kernels.cuda_refine`, from their ``py_func``), so
they avoid what this numba's CUDA target cannot type (the ``min``/``max`` builtins) and cast
``math.floor`` (a float there) to int.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from gpsa._numba import jit_options
from gpsa.psa.kernels.cpu_kernels import channel_sum
from gpsa.psa.refine import MIN_SEGMENT_WEIGHT

#: Σ_k |t - E·s|^p over one channel: the search's kernel, compiled as a function of its own here
#: (not inlined into the parallel loops: inlining made them take ~1 min to compile).
channel_fom = numba.njit(**jit_options())(channel_sum.py_func)



@numba.njit(**jit_options(fastmath=False))
def cubic_weights(delta: float, first: int) -> tuple[int, np.float32, np.float32, np.float32,
                                              np.float32]:
    """Start index and Catmull-Rom weights of a shift by ``delta`` samples (as
    :func:`gpsa.psa.window.catmull_rom`: float64 weights rounded to float32)."""
    x = first - delta
    b = math.floor(x)
    f = x - b
    f2 = f * f
    f3 = f2 * f
    return (int(b), np.float32(-0.5 * f3 + f2 - 0.5 * f), np.float32(1.5 * f3 - 2.5 * f2 + 1.0),
            np.float32(-1.5 * f3 + 2.0 * f2 + 0.5 * f), np.float32(0.5 * f3 - 0.5 * f2))


@numba.njit(**jit_options(fastmath=False))
def _axis(x: float, origin: float, spacing: float, dim: int) -> tuple[int, float]:
    """Lower cell node and fraction along one axis (as :meth:`BasisGrid.corners` clamps them).
    Comparisons, not min/max: this body is compiled for CUDA too (module docstring)."""
    u = (x - origin) / spacing
    lo = int(math.floor(u))  # int(): math.floor is a float on the CUDA target
    top = dim - 2 if dim > 2 else 0
    lo = 0 if lo < 0 else lo
    lo = top if lo > top else lo
    f = u - lo
    f = 0.0 if f < 0.0 else f
    f = 1.0 if f > 1.0 else f
    return lo, (0.0 if dim == 1 else f)


@numba.njit(**jit_options(fastmath=False))
def segment_corners(x: float, y: float, z: float, index: np.ndarray, origin: np.ndarray,
                    spacing: np.ndarray, seg_of: np.ndarray, seg: int, node: np.ndarray,
                    wt: np.ndarray) -> bool:
    """Trilinear corners of (x, y, z) restricted to segment ``seg`` (as
    :meth:`gpsa.basis.grid.BasisGrid.corners` then the reference's segment rule): fills ``node``
    (8, 3) lattice coordinates and ``wt`` (8,) renormalised weights (0 = unused); False when the
    segment's nodes carry less than MIN_SEGMENT_WEIGHT. No allocation: called per position."""
    total = 0.0
    i0, f0 = _axis(x, origin[0], spacing[0], index.shape[0])
    i1, f1 = _axis(y, origin[1], spacing[1], index.shape[1])
    i2, f2 = _axis(z, origin[2], spacing[2], index.shape[2])
    q = 0
    for ci in range(2):
        for cj in range(2):
            for ck in range(2):
                w = ((f0 if ci else 1.0 - f0) * (f1 if cj else 1.0 - f1)
                     * (f2 if ck else 1.0 - f2))
                ni = i0 + ci if i0 + ci < index.shape[0] else index.shape[0] - 1
                nj = i1 + cj if i1 + cj < index.shape[1] else index.shape[1] - 1
                nk = i2 + ck if i2 + ck < index.shape[2] else index.shape[2] - 1
                node[q, 0], node[q, 1], node[q, 2] = ni, nj, nk
                j = index[ni, nj, nk]
                if j < 0 or w == 0.0 or seg_of[j] != seg:
                    w = 0.0
                wt[q] = w
                total += w
                q += 1
    if total < MIN_SEGMENT_WEIGHT:
        return False
    for q in range(8):
        wt[q] = wt[q] / total
    return True


@numba.njit(**jit_options(fastmath=False))
def shifted_node(sig: np.ndarray, j: int, chans: np.ndarray, n_ch: int, b: int,
                  c0: np.float32, c1: np.float32, c2: np.float32, c3: np.float32,
                  out: np.ndarray) -> None:
    """out[c, k] = basis point j, channel chans[c], shifted (4 taps from sample b - 1 + k)."""
    last = sig.shape[2] - 1
    n_k = out.shape[1]
    if c1 == 1.0 and c0 == 0.0 and c2 == 0.0 and c3 == 0.0 and 0 <= b and b + n_k - 1 <= last:
        for c in range(n_ch):  # no shift: a copy
            row = sig[j, chans[c]]
            for k in range(n_k):
                out[c, k] = row[b + k]
    elif 1 <= b and b + n_k + 1 <= last:  # no sample clamped: a plain 4-tap filter
        for c in range(n_ch):
            row = sig[j, chans[c]]
            for k in range(n_k):
                out[c, k] = (row[b - 1 + k] * c0 + row[b + k] * c1 + row[b + 1 + k] * c2
                             + row[b + 2 + k] * c3)
    else:
        for c in range(n_ch):
            row = sig[j, chans[c]]
            for k in range(n_k):
                s = b + k
                out[c, k] = (row[min(max(s - 1, 0), last)] * c0 + row[min(max(s, 0), last)] * c1
                             + row[min(max(s + 1, 0), last)] * c2
                             + row[min(max(s + 2, 0), last)] * c3)


@numba.njit(**jit_options(fastmath=False))
def signal_at(sig: np.ndarray, x: float, y: float, z: float, seg: int, index: np.ndarray,
               origin: np.ndarray, spacing: np.ndarray, seg_of: np.ndarray, delta: float,
               first: int, all_ch: np.ndarray, node_buf: np.ndarray, out: np.ndarray) -> None:
    """out (37, K): the unit signal at (x, y, z), shifted by delta (0 where not allowed)."""
    node = np.empty((8, 3), np.int64)
    wt = np.empty(8, np.float64)
    out[:] = 0.0
    if not segment_corners(x, y, z, index, origin, spacing, seg_of, seg, node, wt):
        return
    b, c0, c1, c2, c3 = cubic_weights(delta, first)
    for q in range(8):
        if wt[q] == 0.0:
            continue
        j = index[node[q, 0], node[q, 1], node[q, 2]]
        shifted_node(sig, j, all_ch, all_ch.size, b, c0, c1, c2, c3, node_buf)
        w = np.float32(wt[q])
        for c in range(out.shape[0]):
            for k in range(out.shape[1]):
                out[c, k] += w * node_buf[c, k]


@numba.njit(**jit_options(parallel=True))
def model_signals(sig, xyz, segment, delta, index, origin, spacing, seg_of, first,
                  out):  # pragma: no cover - compiled
    """out (m, 37, K): every hit's unit signal at xyz (m, 3), shifted by delta (m,)."""
    m = xyz.shape[0]
    all_ch = np.arange(out.shape[1])
    for h in numba.prange(m):
        buf = np.empty((out.shape[1], out.shape[2]), np.float32)
        signal_at(sig, xyz[h, 0], xyz[h, 1], xyz[h, 2], segment[h], index, origin, spacing,
                   seg_of, delta[h], first, all_ch, buf, out[h])


@numba.njit(**jit_options(parallel=True))
def residual(window, hit_ptr, energy, signal, out):  # pragma: no cover - compiled
    """out (n, 37, K) = window − Σ E·signal over each event's hits (sorted by event)."""
    n, n_ch, K = window.shape
    for ev in numba.prange(n):
        for c in range(n_ch):
            for k in range(K):
                out[ev, c, k] = window[ev, c, k]
        for h in range(hit_ptr[ev], hit_ptr[ev + 1]):
            e = np.float32(energy[h])
            for c in range(n_ch):
                for k in range(K):
                    out[ev, c, k] -= e * signal[h, c, k]


@numba.njit(**jit_options(fastmath=False))
def hit_target(resid, signal, h, ev, seg, e, ch, n_ch, hit_set, mask_other, target,
               wch):  # pragma: no cover - compiled
    """The hit's target (its own signal back in the residual) on its mask channels ``ch`` and
    their weights (0 for another masked hit segment of the event with ``mask_other``)."""
    K = target.shape[1]
    for c in range(n_ch):
        cc = ch[c]
        wch[c] = 0.0 if (mask_other and hit_set[ev, cc] and cc != seg) else 1.0
        for k in range(K):
            target[c, k] = resid[ev, cc, k] + e * signal[h, cc, k]


@numba.njit(**jit_options(fastmath=False))
def event_model(h0, h1, xyz, segment, energy, mask, index, origin, spacing, seg_of, sig, first,
                pad, K):  # pragma: no cover - compiled
    """(union channels, model): Σ E·signal of hits h0..h1 at their positions, unshifted, on the
    union of their mask channels, samples first − pad … first + K + pad − 1 (clamped)."""
    n_chan = mask.shape[1]
    width = K + 2 * pad
    last = sig.shape[2] - 1
    union = np.zeros(n_chan, np.bool_)
    for h in range(h0, h1):
        for c in range(n_chan):
            union[c] = union[c] or mask[segment[h], c]
    uch = np.flatnonzero(union)
    model = np.zeros((uch.size, width), np.float32)
    node = np.empty((8, 3), np.int64)
    wt = np.empty(8, np.float64)
    for h in range(h0, h1):
        if not segment_corners(xyz[h, 0], xyz[h, 1], xyz[h, 2], index, origin, spacing, seg_of,
                               segment[h], node, wt):
            continue
        for r in range(8):
            if wt[r] == 0.0:
                continue
            j = index[node[r, 0], node[r, 1], node[r, 2]]
            w = np.float32(wt[r]) * np.float32(energy[h])
            for u in range(uch.size):
                row = sig[j, uch[u]]
                for s in range(width):
                    model[u, s] += w * row[min(max(first - pad + s, 0), last)]
    return uch, model
