"""numba.cuda kernels of the exact grid search (private; host code in :mod:`gpsa.psa.gpu`).

Both kernels read the **concatenated layout**: the resident signals of every segment table one
after the other in one flat array (``signals[sig_off[t]:]`` holds table ``t``'s (Ns, C_t, K)
signals), ``tab_nch[t]`` its channel count C_t, ``order[t, :C_t]`` its channel visiting order, and
the candidate lists of every table as one CSR (``cand_ptr``, ``cand_idx``: local indices into the
table's points). Targets are (m, C_max, K) and weights (m, C_max), zero beyond C_t. Per hit
``info[:, h] = (table, base, step, n_sel)`` (info is (4, m)): the hit scans the groups
``base + step·sel[h, i]`` for ``i < n_sel`` one after the other (full search: ``step = 0``, one
group; AGS fine stage: ``base`` the table's first fine group, ``sel`` the best coarse
positions); with ``n_sel > 1`` the point ``group_lead[first group]`` (the best coarse point) is
scanned first, as the CPU's union lists lead with it. Targets are read in
their transfer dtype and multiplied by ``scale``.

``search_kernel``: one thread block per hit, the target (C x K samples) in shared memory, each
thread scores a strided subset of the candidates with early termination against its own best,
and a shared-memory tree reduction picks the least fom (ties: the earlier position in the scanned
list, as the numpy reference). An empty list gives best −1 and fom inf. ``fom_kernel``: every fom
of the hit's first group into ``out[h, :]`` (inf beyond the list; the AGS coarse stage). Products
and per-channel sums are float32 whatever the basis dtype (float16 storage is read as float32),
the sum over channels and the fom float64. The block size is a launch argument (a power of two up
to ``THREADS``), so the simulator tests run lists longer than a block with few threads. Arrays
may be numpy arrays (``NUMBA_ENABLE_CUDASIM=1``, tests) or CuPy arrays (real GPU).

This module imports ``numba.cuda`` at import time; import it only when the kernel is needed
(after ``NUMBA_ENABLE_CUDASIM`` is set, for the simulator).
"""

from __future__ import annotations

import math

import numpy as np
from numba import cuda, float32, float64, int64

#: Threads per block (one block per hit; also the size of the reduction arrays) and the largest
#: target (channels x samples) held in shared memory.
THREADS = 128
MAX_TERMS = 4096


@cuda.jit(device=True)
def _fom(target, e, weights, h, signals, base, n_ch, n_k, order, t, mode, p,  # noqa: ANN001
         bound):
    """Σ_c w_c Σ_k |t − E·b|^p of the candidate whose signals start at ``base``, stopping once
    the partial sum reaches ``bound``."""
    acc = 0.0
    for ci in range(n_ch):
        c = order[t, ci]
        w = weights[h, c]
        if w == 0.0:
            continue
        part = float32(0.0)
        row = base + c * n_k
        for k in range(n_k):
            d = abs(target[c * n_k + k] - e * float32(signals[row + k]))
            if mode == 0:
                part += d * d
            elif mode == 1:
                part += d
            elif mode == 2:
                part += math.sqrt(d)
            else:
                part += d ** p
        acc += w * part
        if acc >= bound:
            break
    return acc


@cuda.jit(device=True)
def _load_target(target, targets, scale, h, n_ch, n_k, tid, nthreads):  # noqa: ANN001
    for i in range(tid, n_ch * n_k, nthreads):
        target[i] = float32(targets[h, i // n_k, i % n_k]) * scale
    cuda.syncthreads()


@cuda.jit
def search_kernel(targets, scale, energies, weights, signals, sig_off, tab_nch,  # noqa: ANN001
                  order, info, sel, cand_ptr, cand_idx, group_lead, mode, p, best, fom):
    """Exact search of hit ``blockIdx.x`` over its scanned list (module docstring)."""
    h = cuda.blockIdx.x
    tid = cuda.threadIdx.x
    nthreads = cuda.blockDim.x
    t = info[0, h]
    n_ch = tab_nch[t]
    n_k = targets.shape[2]
    stride = n_ch * n_k
    target = cuda.shared.array(shape=MAX_TERMS, dtype=float32)
    red_val = cuda.shared.array(shape=THREADS, dtype=float64)
    red_pos = cuda.shared.array(shape=THREADS, dtype=int64)
    red_j = cuda.shared.array(shape=THREADS, dtype=int64)
    _load_target(target, targets, scale, h, n_ch, n_k, tid, nthreads)
    e = float32(energies[h])
    off = sig_off[t]
    best_val = 3.0e38  # float32-safe (the simulator compares in float32)
    best_pos = int64(-1)
    best_j = int64(-1)
    pos0 = int64(0)
    if info[3, h] > 1:
        lead = group_lead[info[1, h] + info[2, h] * sel[h, 0]]
        if lead >= 0:
            if tid == 0:
                best_val = _fom(target, e, weights, h, signals, off + lead * stride, n_ch, n_k,
                                order, t, mode, p, best_val)
                best_pos = 0
                best_j = lead
            pos0 = 1
    for i in range(info[3, h]):
        g = info[1, h] + info[2, h] * sel[h, i]
        lo = cand_ptr[g]
        for q in range(lo + tid, cand_ptr[g + 1], nthreads):
            j = cand_idx[q]
            acc = _fom(target, e, weights, h, signals, off + j * stride, n_ch, n_k, order, t,
                       mode, p, best_val)
            if acc < best_val:
                best_val = acc
                best_pos = pos0 + q - lo
                best_j = j
        pos0 += cand_ptr[g + 1] - lo
    red_val[tid] = best_val
    red_pos[tid] = best_pos
    red_j[tid] = best_j
    cuda.syncthreads()
    step = nthreads // 2
    while step > 0:
        if tid < step:
            ov, oq = red_val[tid + step], red_pos[tid + step]
            mv, mq = red_val[tid], red_pos[tid]
            if oq >= 0 and (mq < 0 or ov < mv or (ov == mv and oq < mq)):
                red_val[tid] = ov
                red_pos[tid] = oq
                red_j[tid] = red_j[tid + step]
        cuda.syncthreads()
        step //= 2
    if tid == 0:
        found = red_pos[0] >= 0
        fom[h] = red_val[0] if found else math.inf
        best[h] = red_j[0] if found else -1


@cuda.jit
def fom_kernel(targets, scale, energies, weights, signals, sig_off, tab_nch, order,  # noqa: ANN001
               info, sel, cand_ptr, cand_idx, mode, p, out):
    """Every fom of hit ``blockIdx.x`` against its first group (inf beyond the list)."""
    h = cuda.blockIdx.x
    tid = cuda.threadIdx.x
    nthreads = cuda.blockDim.x
    t = info[0, h]
    n_ch = tab_nch[t]
    n_k = targets.shape[2]
    target = cuda.shared.array(shape=MAX_TERMS, dtype=float32)
    _load_target(target, targets, scale, h, n_ch, n_k, tid, nthreads)
    e = float32(energies[h])
    g = info[1, h] + info[2, h] * sel[h, 0]
    lo, hi = cand_ptr[g], cand_ptr[g + 1]
    for q in range(tid, out.shape[1], nthreads):
        if lo + q < hi:
            j = cand_idx[lo + q]
            out[h, q] = _fom(target, e, weights, h, signals, sig_off[t] + j * n_ch * n_k, n_ch,
                             n_k, order, t, mode, p, math.inf)
        else:
            out[h, q] = math.inf


def _check(targets, threads: int) -> None:  # noqa: ANN001
    if threads < 1 or threads > THREADS or threads & (threads - 1):
        raise ValueError(f"threads={threads}: a power of two up to {THREADS}")
    if targets.shape[1] * targets.shape[2] > MAX_TERMS:
        raise ValueError(f"target of {targets.shape[1]}x{targets.shape[2]} terms exceeds "
                         f"MAX_TERMS={MAX_TERMS}")


def wrap_arrays(arrays: list, stream) -> list:  # noqa: ANN001
    """The arrays as numba device arrays for a launch on ``stream`` (as given on the simulator)."""
    if isinstance(stream, int):
        return arrays
    # CuPy arrays made on this very stream: no per-array synchronisation of their stream
    # (numba's __cuda_array_interface__ sync would block the host once per argument)
    return [cuda.as_cuda_array(a, sync=False) for a in arrays]


def launch(targets, scale: float, energies, weights, signals, sig_off, tab_nch,  # noqa: ANN001
           order, info, sel, cand_ptr, cand_idx, group_lead, mode: int, p: float, best,
           fom, stream=0, threads: int = THREADS) -> None:  # noqa: ANN001
    """Launch ``search_kernel``, one block of ``threads`` threads per hit, on ``stream`` (the
    host passes CuPy's current stream; 0 on the simulator, which is synchronous)."""
    m = targets.shape[0]
    if m == 0:
        return
    _check(targets, threads)
    a = wrap_arrays([targets, energies, weights, signals, sig_off, tab_nch, order, info, sel,
               cand_ptr, cand_idx, group_lead, best, fom], stream)
    search_kernel[m, threads, stream](a[0], np.float32(scale), *a[1:12], np.int64(mode),
                                      np.float32(p), a[12], a[13])


def launch_foms(targets, scale: float, energies, weights, signals, sig_off,  # noqa: ANN001
                tab_nch, order, info, sel, cand_ptr, cand_idx, mode: int, p: float, out,
                stream=0, threads: int = THREADS) -> None:  # noqa: ANN001
    """Launch ``fom_kernel`` (one block per hit) on ``stream``."""
    m = targets.shape[0]
    if m == 0:
        return
    _check(targets, threads)
    a = wrap_arrays([targets, energies, weights, signals, sig_off, tab_nch, order, info, sel,
               cand_ptr, cand_idx, out], stream)
    fom_kernel[m, threads, stream](a[0], np.float32(scale), *a[1:11], np.int64(mode),
                                   np.float32(p), a[11])
