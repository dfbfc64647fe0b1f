"""numba kernels of the least-squares refinement (private; the readable reference is
:mod:`gpsa.psa.fit`, see its module docstring for the algorithm).

* :func:`fit_positions`: per hit of one rank (parallel over chunks of hits), Levenberg–Marquardt
  steps on the continuous position (x, y, z) of the trilinearly interpolated, time-shifted basis
  signal, from the hit's grid point (or its previous refined position);
* :func:`fit_t0`: per event (parallel over events), a short scan then Gauss–Newton steps on the
  sub-sample time shift δ of the event's model.

The basis is read as ``sig`` (N, 37, S) float32 with the compared window starting at sample
``first``; sample indices are clamped to ``[0, S - 1]`` as the reference clamps them. Sums are
float64 (the reference's order of summation differs: results agree to float rounding, and a
rounding difference can flip a step's acceptance, see the tests' tolerance).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from gpsa._numba import jit_options
from gpsa.psa.kernels.refine_common import (
    channel_fom,
    cubic_weights,
    event_model,
    hit_target,
    shifted_node,
    signal_at,
)
from gpsa.psa.refine import MIN_SEGMENT_WEIGHT


@numba.njit(**jit_options(fastmath=False))
def _axis(x: float, origin: float, spacing: float, dim: int) -> tuple[int, float, float]:
    """Lower cell node, fraction and d(fraction)/dx (0 where the fraction is clamped)."""
    u = (x - origin) / spacing
    lo = min(max(math.floor(u), 0), max(dim - 2, 0))
    if dim == 1:
        return lo, 0.0, 0.0
    f = u - lo
    if f < 0.0:
        return lo, 0.0, 0.0
    if f > 1.0:
        return lo, 1.0, 0.0
    return lo, f, 1.0 / spacing


@numba.njit(**jit_options(fastmath=False))
def cell_weights(x: float, y: float, z: float, index: np.ndarray, origin: np.ndarray,
                 spacing: np.ndarray, seg_of: np.ndarray, seg: int, nodes: np.ndarray,
                 wt: np.ndarray, dwt: np.ndarray) -> bool:
    """Trilinear weights of (x, y, z) over its cell's 8 nodes restricted to segment ``seg`` and
    renormalised (as :func:`gpsa.psa.kernels.refine_common.segment_corners`), and their
    derivatives (8, 3) per mm. ``nodes`` (8,): basis point of each corner (-1 = unused). False
    when the segment's nodes carry less than MIN_SEGMENT_WEIGHT."""
    i0, f0, g0 = _axis(x, origin[0], spacing[0], index.shape[0])
    i1, f1, g1 = _axis(y, origin[1], spacing[1], index.shape[1])
    i2, f2, g2 = _axis(z, origin[2], spacing[2], index.shape[2])
    total = 0.0
    dt0 = dt1 = dt2 = 0.0
    q = 0
    for ci in range(2):
        a0, s0 = (f0, 1.0) if ci else (1.0 - f0, -1.0)
        for cj in range(2):
            a1, s1 = (f1, 1.0) if cj else (1.0 - f1, -1.0)
            for ck in range(2):
                a2, s2 = (f2, 1.0) if ck else (1.0 - f2, -1.0)
                ni = min(i0 + ci, index.shape[0] - 1)
                nj = min(i1 + cj, index.shape[1] - 1)
                nk = min(i2 + ck, index.shape[2] - 1)
                j = index[ni, nj, nk]
                if j < 0 or seg_of[j] != seg:
                    nodes[q] = -1
                    wt[q] = 0.0
                    dwt[q, 0] = dwt[q, 1] = dwt[q, 2] = 0.0
                else:
                    nodes[q] = j
                    wt[q] = a0 * a1 * a2
                    dwt[q, 0] = s0 * g0 * a1 * a2
                    dwt[q, 1] = a0 * s1 * g1 * a2
                    dwt[q, 2] = a0 * a1 * s2 * g2
                    total += wt[q]
                    dt0 += dwt[q, 0]
                    dt1 += dwt[q, 1]
                    dt2 += dwt[q, 2]
                q += 1
    if total < MIN_SEGMENT_WEIGHT:
        return False
    for q in range(8):  # d(w/T) = (dw·T − w·dT) / T²
        w = wt[q]
        dwt[q, 0] = (dwt[q, 0] * total - w * dt0) / (total * total)
        dwt[q, 1] = (dwt[q, 1] * total - w * dt1) / (total * total)
        dwt[q, 2] = (dwt[q, 2] * total - w * dt2) / (total * total)
        wt[q] = w / total
    return True


@numba.njit(**jit_options(fastmath=True))
def _normal_equations(target, wch, n_ch, e, cache, wt, dwt, normal, scratch):  # pragma: no cover
    """χ² = Σ_c wch_c Σ_k (target − e·model)² at the cell weights, and the Gauss–Newton normal
    equations ``normal`` (3, 4): [JᵀWJ | JᵀW·r] with J = e·∂model/∂x. ``scratch`` (4, K)
    float32: the model and its 3 derivatives of one channel (sample loops innermost: SIMD)."""
    K = target.shape[1]
    for a in range(3):
        for b in range(4):
            normal[a, b] = 0.0
    chi2 = 0.0
    v, d0, d1, d2 = scratch[0], scratch[1], scratch[2], scratch[3]
    for c in range(n_ch):
        if wch[c] == 0.0:
            continue
        for k in range(K):
            v[k] = 0.0
            d0[k] = 0.0
            d1[k] = 0.0
            d2[k] = 0.0
        for q in range(8):
            w = np.float32(wt[q])
            g0 = np.float32(dwt[q, 0] * e)
            g1 = np.float32(dwt[q, 1] * e)
            g2 = np.float32(dwt[q, 2] * e)
            if w == 0.0 and g0 == 0.0 and g1 == 0.0 and g2 == 0.0:
                continue
            row = cache[q, c]
            for k in range(K):
                sk = row[k]
                v[k] += w * sk
                d0[k] += g0 * sk
                d1[k] += g1 * sk
                d2[k] += g2 * sk
        rr = a00 = a01 = a02 = a11 = a12 = a22 = b0 = b1 = b2 = np.float32(0.0)
        tc = target[c]
        for k in range(K):
            r = tc[k] - e * v[k]
            rr += r * r
            a00 += d0[k] * d0[k]
            a01 += d0[k] * d1[k]
            a02 += d0[k] * d2[k]
            a11 += d1[k] * d1[k]
            a12 += d1[k] * d2[k]
            a22 += d2[k] * d2[k]
            b0 += d0[k] * r
            b1 += d1[k] * r
            b2 += d2[k] * r
        chi2 += rr
        normal[0, 0] += a00
        normal[0, 1] += a01
        normal[0, 2] += a02
        normal[1, 1] += a11
        normal[1, 2] += a12
        normal[2, 2] += a22
        normal[0, 3] += b0
        normal[1, 3] += b1
        normal[2, 3] += b2
    normal[1, 0] = normal[0, 1]
    normal[2, 0] = normal[0, 2]
    normal[2, 1] = normal[1, 2]
    return chi2


@numba.njit(**jit_options(fastmath=False))
def solve3(normal: np.ndarray, lam: float, step: np.ndarray) -> bool:
    """step = (A + lam·diag(A))⁻¹ g for normal = [A | g] (Cramer's rule); False if singular."""
    a00 = normal[0, 0] * (1.0 + lam)
    a11 = normal[1, 1] * (1.0 + lam)
    a22 = normal[2, 2] * (1.0 + lam)
    a01, a02, a12 = normal[0, 1], normal[0, 2], normal[1, 2]
    g0, g1, g2 = normal[0, 3], normal[1, 3], normal[2, 3]
    c00 = a11 * a22 - a12 * a12
    c01 = a02 * a12 - a01 * a22
    c02 = a01 * a12 - a02 * a11
    det = a00 * c00 + a01 * c01 + a02 * c02
    scale = a00 * a11 * a22
    if not (scale > 0.0) or abs(det) <= 1e-12 * scale:
        return False
    c11 = a00 * a22 - a02 * a02
    c12 = a01 * a02 - a00 * a12
    c22 = a00 * a11 - a01 * a01
    step[0] = (c00 * g0 + c01 * g1 + c02 * g2) / det
    step[1] = (c01 * g0 + c11 * g1 + c12 * g2) / det
    step[2] = (c02 * g0 + c12 * g1 + c22 * g2) / det
    return True


@numba.njit(**jit_options(fastmath=False))
def _load_nodes(sig, nodes, cached, ch, n_ch, b, c0, c1, c2, c3, cache):  # pragma: no cover
    """Shifted signals of the cell's nodes into ``cache`` (8, C, K); ``cached`` (8,) remembers
    which basis point each slot holds so an unchanged cell costs nothing."""
    for q in range(8):
        j = nodes[q]
        if j >= 0 and cached[q] != j:
            shifted_node(sig, j, ch, n_ch, b, c0, c1, c2, c3, cache[q])
            cached[q] = j


@numba.njit(**jit_options(parallel=True))
def fit_positions(resid, signal, sel, event, segment, energy, xyz, delta_ev, chans, n_chans,
                  hit_set, mask_other, index, origin, spacing, seg_of, sig, first, max_iter,
                  limit, tol_mm, mode, p, n_chunks, out_off, out_fom):  # pragma: no cover
    """Least-squares positions of the hits ``sel`` (one rank: distinct events), starting at
    ``xyz`` (m, 3) and staying within ``limit`` grid steps of it per axis. Updates ``resid``
    (n, 37, K) and ``signal`` (m, 37, K) in place; writes ``out_off`` (m, 3) mm offsets from
    ``xyz`` and ``out_fom`` (m,) (the search's fom, exponent p, at the final position)."""
    n_sel = sel.size
    K = resid.shape[2]
    c_max = chans.shape[1]
    n_chunks = max(1, min(n_sel, n_chunks))
    all_ch = np.arange(resid.shape[1])
    pf = np.float32(p)
    for chunk in numba.prange(n_chunks):
        cache = np.empty((8, c_max, K), np.float32)
        cached = np.full(8, -1, np.int64)
        target = np.empty((c_max, K), np.float32)
        wch = np.empty(c_max, np.float32)
        nodes = np.empty(8, np.int64)
        wt = np.empty(8, np.float64)
        dwt = np.empty((8, 3), np.float64)
        normal = np.empty((3, 4), np.float64)
        trial_n = np.empty((3, 4), np.float64)
        step = np.empty(3, np.float64)
        scratch = np.empty((4, K), np.float32)
        v = np.empty(K, np.float32)
        new = np.empty((resid.shape[1], K), np.float32)
        node_buf = np.empty((resid.shape[1], K), np.float32)
        for t in range(chunk * n_sel // n_chunks, (chunk + 1) * n_sel // n_chunks):
            h = sel[t]
            ev = event[h]
            seg = segment[h]
            e = np.float32(energy[h])
            n_ch = n_chans[seg]
            ch = chans[seg]
            hit_target(resid, signal, h, ev, seg, e, ch, n_ch, hit_set, mask_other, target, wch)
            b, c0, c1, c2, c3 = cubic_weights(delta_ev[ev], first)
            cached[:] = -1
            x0, y0, z0 = xyz[h, 0], xyz[h, 1], xyz[h, 2]
            px, py, pz = x0, y0, z0
            ok = cell_weights(px, py, pz, index, origin, spacing, seg_of, seg, nodes, wt, dwt)
            if ok:
                _load_nodes(sig, nodes, cached, ch, n_ch, b, c0, c1, c2, c3, cache)
                chi2 = _normal_equations(target, wch, n_ch, e, cache, wt, dwt, normal, scratch)
                lam = 0.0
                for _ in range(max_iter):
                    if not solve3(normal, lam, step):
                        break
                    tx = min(max(px + step[0], x0 - limit * spacing[0]), x0 + limit * spacing[0])
                    ty = min(max(py + step[1], y0 - limit * spacing[1]), y0 + limit * spacing[1])
                    tz = min(max(pz + step[2], z0 - limit * spacing[2]), z0 + limit * spacing[2])
                    moved = math.sqrt((tx - px) ** 2 + (ty - py) ** 2 + (tz - pz) ** 2)
                    if moved < tol_mm:
                        break
                    accepted = False
                    if cell_weights(tx, ty, tz, index, origin, spacing, seg_of, seg, nodes, wt,
                                    dwt):
                        _load_nodes(sig, nodes, cached, ch, n_ch, b, c0, c1, c2, c3, cache)
                        chi2_t = _normal_equations(target, wch, n_ch, e, cache, wt, dwt,
                                                   trial_n, scratch)
                        if chi2_t < chi2:
                            accepted = True
                            px, py, pz, chi2 = tx, ty, tz, chi2_t
                            normal[:, :] = trial_n
                            lam = 0.1 * lam
                    if not accepted:
                        lam = max(10.0 * lam, 1e-2)
            out_off[h, 0], out_off[h, 1], out_off[h, 2] = px - x0, py - y0, pz - z0
            signal_at(sig, px, py, pz, seg, index, origin, spacing, seg_of, delta_ev[ev], first,
                      all_ch, node_buf, new)
            fom = 0.0
            for c in range(n_ch):
                if wch[c] == 0.0:
                    continue
                for k in range(K):
                    v[k] = new[ch[c], k]
                fom += channel_fom(target[c], v, e, mode, pf)
            out_fom[h] = fom
            for c in range(resid.shape[1]):
                for k in range(K):
                    resid[ev, c, k] += e * (signal[h, c, k] - new[c, k])
                    signal[h, c, k] = new[c, k]


@numba.njit(**jit_options(fastmath=False))
def cubic_slopes(delta: float, first: int) -> tuple[np.float32, np.float32, np.float32,
                                             np.float32]:
    """d/dδ of the Catmull-Rom weights of :func:`cubic_weights` (x = first − δ, so −d/df)."""
    f = (first - delta) - math.floor(first - delta)
    f2 = f * f
    return (np.float32(-(-1.5 * f2 + 2.0 * f - 0.5)), np.float32(-(4.5 * f2 - 5.0 * f)),
            np.float32(-(-4.5 * f2 + 4.0 * f + 0.5)), np.float32(-(1.5 * f2 - f)))


@numba.njit(**jit_options(fastmath=True))
def _t0_chi2(window_ev, uch, model, b, c0, c1, c2, c3, d0, d1, d2, d3):  # pragma: no cover
    """χ², Σ r·∂m/∂δ and Σ (∂m/∂δ)² of the event model shifted by the weights (c) and their
    slopes (d), over the union channels ``uch``; ``b`` indexes the model's padded samples."""
    K = window_ev.shape[1]
    chi2 = g = a = 0.0
    for u in range(uch.size):
        row = model[u]
        obs = window_ev[uch[u]]
        for k in range(K):
            r0, r1, r2, r3 = row[b - 1 + k], row[b + k], row[b + 1 + k], row[b + 2 + k]
            r = obs[k] - (r0 * c0 + r1 * c1 + r2 * c2 + r3 * c3)
            s = r0 * d0 + r1 * d1 + r2 * d2 + r3 * d3
            chi2 += r * r
            g += r * s
            a += s * s
    return chi2, g, a


@numba.njit(**jit_options(fastmath=False))
def _t0_at(window_ev, uch, model, d, first, pad):  # pragma: no cover - compiled
    """(χ², Σ r·∂m/∂δ, Σ (∂m/∂δ)²) of the padded event model shifted by ``d``."""
    b, c0, c1, c2, c3 = cubic_weights(d, first)
    d0, d1, d2, d3 = cubic_slopes(d, first)
    return _t0_chi2(window_ev, uch, model, b - (first - pad), c0, c1, c2, c3, d0, d1, d2, d3)


@numba.njit(**jit_options(parallel=True))
def fit_t0(window, hit_ptr, xyz, segment, energy, mask, index, origin, spacing, seg_of, sig,
           first, pad, scan, t0_range, max_iter, tol, delta):  # pragma: no cover
    """δ per event (``delta`` (n,), 0 for events without hits): the best of the shifts ``scan``
    (ordered by |δ|), then Gauss–Newton steps on χ² of the event model (all its hits, union of
    their mask channels), each step kept only if χ² falls. Hits sorted by event: ``hit_ptr``."""
    n, n_chan, K = window.shape
    for ev in numba.prange(n):
        delta[ev] = 0.0
        h0, h1 = hit_ptr[ev], hit_ptr[ev + 1]
        if h1 == h0:
            continue
        uch, model = event_model(h0, h1, xyz, segment, energy, mask, index, origin, spacing,
                                 seg_of, sig, first, pad, K)
        best = 1e300
        best_d = 0.0
        g_best = a_best = 0.0
        for q in range(scan.size):
            d = min(max(scan[q], -t0_range), t0_range)
            chi2, g, a = _t0_at(window[ev], uch, model, d, first, pad)
            if chi2 < best:
                best, best_d, g_best, a_best = chi2, d, g, a
        for _ in range(max_iter):
            if not (a_best > 0.0):
                break
            d = min(max(best_d + g_best / a_best, -t0_range), t0_range)
            if abs(d - best_d) < tol:
                break
            chi2, g, a = _t0_at(window[ev], uch, model, d, first, pad)
            if chi2 >= best:
                break
            best, best_d, g_best, a_best = chi2, d, g, a
        delta[ev] = best_d
