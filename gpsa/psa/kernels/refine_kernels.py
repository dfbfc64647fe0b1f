"""numba kernels of the refinement (private; the readable reference is :mod:`gpsa.psa.refine`).

Same algorithm and order as the numpy :class:`~gpsa.psa.refine.Refiner`, parallel over hits
(positions) or events (T0), with no per-hit Python and no temporaries beyond one scratch set per
chunk of hits:

* :func:`refine_positions`: for every hit of one rank, the sub-grid lattices around its grid
  point. The time-shifted signals of the lattice nodes it touches are computed once per hit into a
  node cache (6³ slots around the hit's cell); every lattice position is then the trilinear
  combination of ≤ 8 cached nodes, and its figure of merit stops accumulating as soon as it
  exceeds the best so far (channels visited own segment first, then the core, then the rest).
* :func:`refine_t0`: per event, the model of all its hits on the union of their mask channels is
  interpolated once over the padded sample range; each trial shift δ is then a 4-tap cubic
  (Catmull-Rom) filter of that model, again with early termination.
* :func:`model_signals`: the 37-channel unit signal of each hit at its position, shifted by δ.

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
from gpsa.psa.kernels.cpu_kernels import channel_sum

#: Node-cache box per axis (lattice nodes from floor(u) - 2 to floor(u) + 3 around a hit).
BOX = 6
#: A position is allowed when its nodes of the hit segment carry at least this much weight.
MIN_SEGMENT_WEIGHT = 0.5


@numba.njit(**jit_options(inline=True, fastmath=False))
def _cubic(delta: float, first: int) -> tuple[int, np.float32, np.float32, np.float32,
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


@numba.njit(**jit_options(inline=True, fastmath=False))
def _corners(x: float, y: float, z: float, index: np.ndarray, origin: np.ndarray,
             spacing: np.ndarray, seg_of: np.ndarray, seg: int, node: np.ndarray,
             wt: np.ndarray) -> bool:
    """Trilinear corners of (x, y, z) restricted to segment ``seg`` (as
    :meth:`gpsa.basis.grid.BasisGrid.corners` then the reference's segment rule): fills ``node``
    (8, 3) lattice coordinates and ``wt`` (8,) renormalised weights (0 = unused); False when the
    segment's nodes carry less than MIN_SEGMENT_WEIGHT."""
    total = 0.0
    i0 = np.empty(3, np.int64)
    fr = np.empty(3, np.float64)
    xyz = (x, y, z)
    for a in range(3):
        dim = index.shape[a]
        u = (xyz[a] - origin[a]) / spacing[a]
        lo = math.floor(u)
        hi = max(dim - 2, 0)
        lo = min(max(lo, 0), hi)
        f = min(max(u - lo, 0.0), 1.0)
        i0[a] = lo
        fr[a] = 0.0 if dim == 1 else f
    q = 0
    for ci in range(2):
        for cj in range(2):
            for ck in range(2):
                w = ((fr[0] if ci else 1.0 - fr[0]) * (fr[1] if cj else 1.0 - fr[1])
                     * (fr[2] if ck else 1.0 - fr[2]))
                ni = min(i0[0] + ci, index.shape[0] - 1)
                nj = min(i0[1] + cj, index.shape[1] - 1)
                nk = min(i0[2] + ck, index.shape[2] - 1)
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


@numba.njit(**jit_options(inline=True, fastmath=False))
def _shifted_node(sig: np.ndarray, j: int, chans: np.ndarray, n_ch: int, b: int,
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


@numba.njit(**jit_options(inline=True, fastmath=False))
def _signal_at(sig: np.ndarray, x: float, y: float, z: float, seg: int, index: np.ndarray,
               origin: np.ndarray, spacing: np.ndarray, seg_of: np.ndarray, delta: float,
               first: int, all_ch: np.ndarray, node_buf: np.ndarray, out: np.ndarray) -> None:
    """out (37, K): the unit signal at (x, y, z), shifted by delta (0 where not allowed)."""
    node = np.empty((8, 3), np.int64)
    wt = np.empty(8, np.float64)
    out[:] = 0.0
    if not _corners(x, y, z, index, origin, spacing, seg_of, seg, node, wt):
        return
    b, c0, c1, c2, c3 = _cubic(delta, first)
    for q in range(8):
        if wt[q] == 0.0:
            continue
        j = index[node[q, 0], node[q, 1], node[q, 2]]
        _shifted_node(sig, j, all_ch, all_ch.size, b, c0, c1, c2, c3, node_buf)
        w = np.float32(wt[q])
        for c in range(out.shape[0]):
            for k in range(out.shape[1]):
                out[c, k] += w * node_buf[c, k]


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
            for c in range(n_ch):
                cc = ch[c]
                wch[c] = 0.0 if (mask_other and hit_set[ev, cc] and cc != seg) else 1.0
                for k in range(K):
                    target[c, k] = resid[ev, cc, k] + e * signal[h, cc, k]
            b, c0, c1, c2, c3 = _cubic(delta_ev[ev], first)
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
                    if not _corners(xyz[h, 0] + ox, xyz[h, 1] + oy, xyz[h, 2] + oz, index,
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
                                _shifted_node(sig, j, ch, n_ch, b, c0, c1, c2, c3, cache[s])
                                stamp[s] = h
                        else:  # outside the box (cannot happen for the built-in lattices)
                            s = BOX * BOX * BOX + r
                            _shifted_node(sig, j, ch, n_ch, b, c0, c1, c2, c3, cache[s])
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
                        fom += channel_sum(target[c], v, e, mode, pf)
                        if fom >= best:
                            done = False
                            break
                    if done and fom < best:
                        best = fom
                        bx, by, bz = ox, oy, oz
            out_off[h, 0], out_off[h, 1], out_off[h, 2] = bx, by, bz
            out_fom[h] = best
            _signal_at(sig, xyz[h, 0] + bx, xyz[h, 1] + by, xyz[h, 2] + bz, seg, index, origin,
                       spacing, seg_of, delta_ev[ev], first, all_ch, node_buf, new)
            for c in range(resid.shape[1]):
                for k in range(K):
                    resid[ev, c, k] += e * (signal[h, c, k] - new[c, k])
                    signal[h, c, k] = new[c, k]


@numba.njit(**jit_options(parallel=True))
def model_signals(sig, xyz, segment, delta, index, origin, spacing, seg_of, first,
                  out):  # pragma: no cover - compiled
    """out (m, 37, K): every hit's unit signal at xyz (m, 3), shifted by delta (m,)."""
    m = xyz.shape[0]
    all_ch = np.arange(out.shape[1])
    for h in numba.prange(m):
        buf = np.empty((out.shape[1], out.shape[2]), np.float32)
        _signal_at(sig, xyz[h, 0], xyz[h, 1], xyz[h, 2], segment[h], index, origin, spacing,
                   seg_of, delta[h], first, all_ch, buf, out[h])


@numba.njit(**jit_options(parallel=True))
def refine_t0(window, hit_ptr, xyz, segment, energy, mask, index, origin, spacing, seg_of, sig,
              first, pad, steps, n_coarse, t0_range, mode, p, delta):  # pragma: no cover
    """δ per event (``delta`` (n,), 0 for events without hits). Hits sorted by event:
    ``hit_ptr`` (n + 1,). ``steps``: the coarse scan (first ``n_coarse``, around 0) then the fine
    one (around the coarse best), each ordered by |step| (ties prefer the smallest |δ|)."""
    n, n_chan, K = window.shape
    width = K + 2 * pad
    last = sig.shape[2] - 1
    pf = np.float32(p)
    one = np.float32(1.0)
    for ev in numba.prange(n):
        delta[ev] = 0.0
        h0, h1 = hit_ptr[ev], hit_ptr[ev + 1]
        if h1 == h0:
            continue
        union = np.zeros(n_chan, np.bool_)
        for h in range(h0, h1):
            for c in range(n_chan):
                union[c] = union[c] or mask[segment[h], c]
        uch = np.flatnonzero(union)
        nu = uch.size
        model = np.zeros((nu, width), np.float32)  # Σ E·signal, samples first - pad + s
        node = np.empty((8, 3), np.int64)
        wt = np.empty(8, np.float64)
        for h in range(h0, h1):
            if not _corners(xyz[h, 0], xyz[h, 1], xyz[h, 2], index, origin, spacing, seg_of,
                            segment[h], node, wt):
                continue
            for r in range(8):
                if wt[r] == 0.0:
                    continue
                j = index[node[r, 0], node[r, 1], node[r, 2]]
                w = np.float32(wt[r]) * np.float32(energy[h])
                for u in range(nu):
                    row = sig[j, uch[u]]
                    for s in range(width):
                        model[u, s] += w * row[min(max(first - pad + s, 0), last)]
        v = np.empty(K, np.float32)
        best = 1e300
        best_d = 0.0
        centre = 0.0
        for q in range(steps.size):
            if q == n_coarse:
                centre = best_d
            d = min(max(centre + steps[q], -t0_range), t0_range)
            b, c0, c1, c2, c3 = _cubic(d, first)
            b = b - (first - pad)  # into the model's samples
            fom = 0.0
            done = True
            for u in range(nu):
                row = model[u]
                for k in range(K):  # b - 1 >= 0 and b + K + 1 < width: pad >= t0_range + 2
                    v[k] = (row[b - 1 + k] * c0 + row[b + k] * c1 + row[b + 1 + k] * c2
                            + row[b + 2 + k] * c3)
                fom += channel_sum(window[ev, uch[u]], v, one, mode, pf)
                if fom >= best:
                    done = False
                    break
            if done and fom < best:
                best = fom
                best_d = d
        delta[ev] = best_d


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
