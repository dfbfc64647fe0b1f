"""numba.cuda throughput kernels of the batched grid search, ``gpu_kernel = "tiled"`` (private;
host code in :mod:`gpsa.psa.gpu_tiled`).

**Layout (candidate-minor).** Every segment table's resident signals transposed to (C, K, Ns),
the tables one after the other in one flat array: table ``t``'s sample (c, k) of point ``j`` is
``sig_t[t_off[t] + (c·K + k)·Ns_t + j]`` (``t_pts[t]`` = Ns_t). Thread i of a warp scores
candidate list entry ``lo + i``, so on the all-points list neighbouring threads read
neighbouring addresses (the coarse lattice is a gather within a small range).

**Tiles.** One thread block per *tile*: up to ``tile_hits.shape[1]`` (at most :data:`TILE_HITS`)
hits of one table that scan the same candidate group (``tile_hits[b, :]``, -1 padded, the valid
entries first; ``tile_group[b]``, ``tile_tab[b]``). The tile's targets (scaled to keV) sit in
shared memory; each thread scores its candidates for every hit of the tile from one load of each
basis sample (per-hit float32 channel sums and float64 foms in local arrays). There is **no
early termination**: the hits of a tile have different bounds, and a per-hit exit would cost a
branch per hit and sample, so every fom is complete (the result is the same: the existing
kernel's exit only drops candidates that cannot win). A channel is skipped when every hit of the
tile has weight 0 on it (its contribution is 0 either way).

**Reduction.** Each (fom, position) pair is reduced within a warp with ``shfl_down_sync``, the
warps' results through a small shared array, then again with shuffles in every warp; ties go to
the earlier position in the list (the existing kernel's and the numpy reference's rule). The
block size is a multiple of 32 up to :data:`THREADS` (every warp full). numba 0.68's CUDA
simulator has no warp shuffles: there (``NUMBA_ENABLE_CUDASIM=1``) the shuffle is emulated with
block barriers (same results; every thread of the block reaches every shuffle).

**Power.** p = 2, 1 and 0.5 keep their exact branches (d·d, d, sqrt); any other p uses
``exp2(p·log2(d))`` (0 for d = 0) instead of ``d ** p``. numba.cuda lowers ``math.log2``
(``__nv_log2f``) but not ``math.exp2``: on a device the kernel calls libdevice's ``exp2f``,
under the simulator Python's ``math.exp2``. Products and per-channel sums are float32, the sum
over channels and the fom float64, as in :mod:`gpsa.psa.kernels.cuda_kernels`.

``tiled_search_kernel`` writes the best local index (-1 for an empty list) and fom (inf);
``tiled_fom_kernel`` every fom of the group into ``out[h, :]`` (inf beyond the list).

This module imports ``numba.cuda`` at import time (after ``NUMBA_ENABLE_CUDASIM`` is set, for
the simulator).
"""

from __future__ import annotations

import math

import numpy as np
from numba import config, cuda, float32, float64, int64

from gpsa.psa.gpu_tiled import SHARED_TERMS, TILE_HITS, WARP
from gpsa.psa.kernels.cuda_kernels import wrap_arrays

#: Largest block; a block is a multiple of the warp size.
THREADS = 256
MAX_WARPS = THREADS // WARP
FULL_MASK = 0xFFFFFFFF
SIMULATED = bool(config.ENABLE_CUDASIM)

if SIMULATED:
    _exp2 = math.exp2

    @cuda.jit(device=True)
    def _shfl_tile(v, q, hn, delta, ov, oq):  # noqa: ANN001, ANN202
        """ov[hh], oq[hh] = v[hh], q[hh] of lane + delta (own value past the warp's end)."""
        buf_v = cuda.shared.array(shape=(TILE_HITS, THREADS), dtype=float64)
        buf_q = cuda.shared.array(shape=(TILE_HITS, THREADS), dtype=int64)
        tid = cuda.threadIdx.x
        for hh in range(hn):
            buf_v[hh, tid] = v[hh]
            buf_q[hh, tid] = q[hh]
        cuda.syncthreads()
        src = tid + delta if tid % WARP + delta < WARP else tid
        for hh in range(hn):
            ov[hh] = buf_v[hh, src]
            oq[hh] = buf_q[hh, src]
        cuda.syncthreads()
else:  # pragma: no cover - compiled by NVVM (tests/psa/test_gpu_tiled.py), run on a GPU only
    from numba.cuda import libdevice

    _exp2 = libdevice.exp2f

    @cuda.jit(device=True)
    def _shfl_tile(v, q, hn, delta, ov, oq):  # noqa: ANN001, ANN202
        """ov[hh], oq[hh] = v[hh], q[hh] of lane + delta (own value past the warp's end)."""
        for hh in range(hn):
            ov[hh] = cuda.shfl_down_sync(FULL_MASK, v[hh], delta)
            oq[hh] = cuda.shfl_down_sync(FULL_MASK, q[hh], delta)


@cuda.jit(device=True)
def _power(d, mode, p):  # noqa: ANN001, ANN202
    """|d|^p: exact for p = 2, 1, 0.5; exp2(p·log2 d) otherwise."""
    if mode == 0:
        return d * d
    if mode == 1:
        return d
    if mode == 2:
        return math.sqrt(d)
    if d == float32(0.0):
        return float32(0.0)
    return _exp2(p * math.log2(d))


@cuda.jit(device=True)
def _warp_argmin(v, q, hn, ov, oq):  # noqa: ANN001, ANN202
    """Least (fom, position) of the warp for every hit of the tile into lane 0's ``v``, ``q``;
    position -1 is no candidate; ties: the earlier position."""
    delta = WARP // 2
    while delta > 0:
        _shfl_tile(v, q, hn, delta, ov, oq)
        for hh in range(hn):
            if oq[hh] >= 0 and (q[hh] < 0 or ov[hh] < v[hh]
                                or (ov[hh] == v[hh] and oq[hh] < q[hh])):
                v[hh] = ov[hh]
                q[hh] = oq[hh]
        delta //= 2


@cuda.jit(device=True)
def _load_tile(target, targets, scale, energies, tile_hits, b, hit, e_loc, stride, n_k,  # noqa: ANN001, ANN202
               tid, nthreads):
    """The tile's hit indices and energies (local) and targets (shared); returns the hit count."""
    hn = 0
    for i in range(tile_hits.shape[1]):
        if tile_hits[b, i] >= 0:
            hit[hn] = tile_hits[b, i]
            e_loc[hn] = float32(energies[hit[hn]])
            hn += 1
    for i in range(tid, hn * stride, nthreads):
        r = i % stride
        target[i] = float32(targets[hit[i // stride], r // n_k, r % n_k]) * scale
    cuda.syncthreads()
    return hn


@cuda.jit(device=True)
def _score(target, stride, e_loc, hit, hn, weights, sig_t, base, n_pts, j, n_ch, n_k,  # noqa: ANN001, ANN202
           order, t, mode, p, acc, part):
    """acc[hh] = Σ_c w Σ_k |t − E·b|^p of candidate ``j`` for every hit of the tile."""
    for hh in range(hn):
        acc[hh] = 0.0
    for ci in range(n_ch):
        c = order[t, ci]
        on = False
        for hh in range(hn):
            if weights[hit[hh], c] != 0.0:
                on = True
        if not on:
            continue
        for hh in range(hn):
            part[hh] = float32(0.0)
        row = base + c * n_k * n_pts + j
        for k in range(n_k):
            s = float32(sig_t[row + k * n_pts])
            tk = c * n_k + k
            for hh in range(hn):
                part[hh] += _power(abs(target[hh * stride + tk] - e_loc[hh] * s), mode, p)
        for hh in range(hn):
            acc[hh] += weights[hit[hh], c] * part[hh]


@cuda.jit
def tiled_search_kernel(targets, scale, energies, weights, sig_t, t_off, t_pts, tab_nch,  # noqa: ANN001
                        order, tile_hits, tile_group, tile_tab, cand_ptr, cand_idx, mode, p,
                        best, fom):
    """Best candidate of every hit of tile ``blockIdx.x`` (module docstring)."""
    b = cuda.blockIdx.x
    tid = cuda.threadIdx.x
    nthreads = cuda.blockDim.x
    t = tile_tab[b]
    n_ch = tab_nch[t]
    n_k = targets.shape[2]
    stride = n_ch * n_k
    target = cuda.shared.array(shape=SHARED_TERMS, dtype=float32)
    warp_v = cuda.shared.array(shape=(MAX_WARPS, TILE_HITS), dtype=float64)
    warp_q = cuda.shared.array(shape=(MAX_WARPS, TILE_HITS), dtype=int64)
    hit = cuda.local.array(TILE_HITS, dtype=int64)
    e_loc = cuda.local.array(TILE_HITS, dtype=float32)
    acc = cuda.local.array(TILE_HITS, dtype=float64)
    part = cuda.local.array(TILE_HITS, dtype=float32)
    best_v = cuda.local.array(TILE_HITS, dtype=float64)
    best_q = cuda.local.array(TILE_HITS, dtype=int64)
    hn = _load_tile(target, targets, scale, energies, tile_hits, b, hit, e_loc, stride, n_k,
                    tid, nthreads)
    for hh in range(hn):
        best_v[hh] = math.inf
        best_q[hh] = -1
    g = tile_group[b]
    lo, hi = cand_ptr[g], cand_ptr[g + 1]
    for q in range(lo + tid, hi, nthreads):
        _score(target, stride, e_loc, hit, hn, weights, sig_t, t_off[t], t_pts[t], cand_idx[q],
               n_ch, n_k, order, t, mode, p, acc, part)
        for hh in range(hn):
            if best_q[hh] < 0 or acc[hh] < best_v[hh]:
                best_v[hh] = acc[hh]
                best_q[hh] = q - lo
    lane = tid % WARP
    warp = tid // WARP
    ov = cuda.local.array(TILE_HITS, dtype=float64)
    oq = cuda.local.array(TILE_HITS, dtype=int64)
    _warp_argmin(best_v, best_q, hn, ov, oq)
    if lane == 0:
        for hh in range(hn):
            warp_v[warp, hh] = best_v[hh]
            warp_q[warp, hh] = best_q[hh]
    cuda.syncthreads()
    n_warps = nthreads // WARP
    for hh in range(hn):  # every warp reduces the warps' results (uniform control flow)
        best_v[hh] = warp_v[lane, hh] if lane < n_warps else math.inf
        best_q[hh] = warp_q[lane, hh] if lane < n_warps else -1
    _warp_argmin(best_v, best_q, hn, ov, oq)
    if tid == 0:
        for hh in range(hn):
            found = best_q[hh] >= 0
            best[hit[hh]] = cand_idx[lo + best_q[hh]] if found else -1
            fom[hit[hh]] = best_v[hh] if found else math.inf


@cuda.jit
def tiled_fom_kernel(targets, scale, energies, weights, sig_t, t_off, t_pts, tab_nch,  # noqa: ANN001
                     order, tile_hits, tile_group, tile_tab, cand_ptr, cand_idx, mode, p, out):
    """Every fom of the tile's group for every hit of tile ``blockIdx.x`` (inf beyond it)."""
    b = cuda.blockIdx.x
    tid = cuda.threadIdx.x
    nthreads = cuda.blockDim.x
    t = tile_tab[b]
    n_ch = tab_nch[t]
    n_k = targets.shape[2]
    stride = n_ch * n_k
    target = cuda.shared.array(shape=SHARED_TERMS, dtype=float32)
    hit = cuda.local.array(TILE_HITS, dtype=int64)
    e_loc = cuda.local.array(TILE_HITS, dtype=float32)
    acc = cuda.local.array(TILE_HITS, dtype=float64)
    part = cuda.local.array(TILE_HITS, dtype=float32)
    hn = _load_tile(target, targets, scale, energies, tile_hits, b, hit, e_loc, stride, n_k,
                    tid, nthreads)
    g = tile_group[b]
    lo, hi = cand_ptr[g], cand_ptr[g + 1]
    for q in range(tid, out.shape[1], nthreads):
        if lo + q < hi:
            _score(target, stride, e_loc, hit, hn, weights, sig_t, t_off[t], t_pts[t],
                   cand_idx[lo + q], n_ch, n_k, order, t, mode, p, acc, part)
            for hh in range(hn):
                out[hit[hh], q] = acc[hh]
        else:
            for hh in range(hn):
                out[hit[hh], q] = math.inf


def check_launch(targets, tile_hits, threads: int) -> None:  # noqa: ANN001
    """Refuse a block size or a tile the kernels cannot hold."""
    if threads < WARP or threads > THREADS or threads % WARP:
        raise ValueError(f"threads={threads}: a multiple of {WARP} up to {THREADS}")
    per = int(tile_hits.shape[1])
    if per < 1 or per > TILE_HITS:
        raise ValueError(f"{per} hits per tile: 1 to TILE_HITS={TILE_HITS}")
    terms = per * int(targets.shape[1]) * int(targets.shape[2])
    if terms > SHARED_TERMS:
        raise ValueError(f"a tile of {per} targets of {targets.shape[1]}x{targets.shape[2]} "
                         f"terms exceeds SHARED_TERMS={SHARED_TERMS}")


def launch_tiled(targets, scale: float, energies, weights, sig_t, t_off, t_pts,  # noqa: ANN001
                 tab_nch, order, tile_hits, tile_group, tile_tab, cand_ptr, cand_idx,
                 mode: int, p: float, best, fom, stream=0, threads: int = 128) -> None:  # noqa: ANN001
    """Launch ``tiled_search_kernel``, one block of ``threads`` threads per tile, on ``stream``
    (CuPy's current stream; 0 on the simulator)."""
    n_tiles = int(tile_hits.shape[0])
    if n_tiles == 0:
        return
    check_launch(targets, tile_hits, threads)
    a = wrap_arrays([targets, energies, weights, sig_t, t_off, t_pts, tab_nch, order, tile_hits,
               tile_group, tile_tab, cand_ptr, cand_idx, best, fom], stream)
    tiled_search_kernel[n_tiles, threads, stream](a[0], np.float32(scale), *a[1:13],
                                                  np.int64(mode), np.float32(p), a[13], a[14])


def launch_tiled_foms(targets, scale: float, energies, weights, sig_t, t_off, t_pts,  # noqa: ANN001
                      tab_nch, order, tile_hits, tile_group, tile_tab, cand_ptr, cand_idx,
                      mode: int, p: float, out, stream=0, threads: int = 128) -> None:  # noqa: ANN001
    """Launch ``tiled_fom_kernel`` (one block per tile) on ``stream``."""
    n_tiles = int(tile_hits.shape[0])
    if n_tiles == 0:
        return
    check_launch(targets, tile_hits, threads)
    a = wrap_arrays([targets, energies, weights, sig_t, t_off, t_pts, tab_nch, order, tile_hits,
               tile_group, tile_tab, cand_ptr, cand_idx, out], stream)
    tiled_fom_kernel[n_tiles, threads, stream](a[0], np.float32(scale), *a[1:13],
                                               np.int64(mode), np.float32(p), a[13])
