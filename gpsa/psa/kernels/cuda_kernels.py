"""numba.cuda kernel of the exact grid search (private; host code in :mod:`gpsa.psa.gpu`).

One thread block per hit: the block copies the hit's target (C x K samples) to shared memory,
each thread scores a strided subset of the hit's candidates with early termination against its
own best, and a shared-memory tree reduction picks the least fom (ties: the earlier candidate in
the list, as the numpy reference). An empty candidate list gives best −1 and fom inf. Products
and per-channel sums are float32 whatever the basis dtype (float16 storage is read as float32),
the sum over channels and the fom float64. The block size is a launch argument (a power of two
up to ``THREADS``), so the simulator tests can run lists longer than a block with few threads.
Arrays may be numpy arrays (``NUMBA_ENABLE_CUDASIM=1``, tests) or CuPy arrays
(``__cuda_array_interface__``, real GPU). The CUDA C twin is ``grid_search.cu``.

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


@cuda.jit
def search_kernel(targets, energies, weights, signals, order, cand_ptr, cand_idx,  # noqa: ANN001
                  hit_group, mode, p, best, fom):
    """Exact Σ_c w_c Σ_k |t − E·b|^p search of hit ``blockIdx.x`` over its candidate list."""
    h = cuda.blockIdx.x
    tid = cuda.threadIdx.x
    nthreads = cuda.blockDim.x
    n_ch = targets.shape[1]
    n_k = targets.shape[2]
    target = cuda.shared.array(shape=MAX_TERMS, dtype=float32)
    red_val = cuda.shared.array(shape=THREADS, dtype=float64)
    red_pos = cuda.shared.array(shape=THREADS, dtype=int64)
    for i in range(tid, n_ch * n_k, nthreads):
        target[i] = targets[h, i // n_k, i % n_k]
    cuda.syncthreads()
    e = float32(energies[h])
    g = hit_group[h]
    best_val = 3.0e38  # float32-safe (the simulator compares in float32)
    best_q = int64(-1)
    for q in range(cand_ptr[g] + tid, cand_ptr[g + 1], nthreads):
        j = cand_idx[q]
        acc = 0.0
        for ci in range(n_ch):
            c = order[ci]
            w = weights[h, c]
            if w == 0.0:
                continue
            part = float32(0.0)
            for k in range(n_k):
                d = abs(target[c * n_k + k] - e * float32(signals[j, c, k]))
                if mode == 0:
                    part += d * d
                elif mode == 1:
                    part += d
                elif mode == 2:
                    part += math.sqrt(d)
                else:
                    part += d ** p
            acc += w * part
            if acc >= best_val:
                break
        if acc < best_val:
            best_val = acc
            best_q = q
    red_val[tid] = best_val
    red_pos[tid] = best_q
    cuda.syncthreads()
    step = nthreads // 2
    while step > 0:
        if tid < step:
            ov, oq = red_val[tid + step], red_pos[tid + step]
            mv, mq = red_val[tid], red_pos[tid]
            if oq >= 0 and (mq < 0 or ov < mv or (ov == mv and oq < mq)):
                red_val[tid] = ov
                red_pos[tid] = oq
        cuda.syncthreads()
        step //= 2
    if tid == 0:
        found = red_pos[0] >= 0
        fom[h] = red_val[0] if found else math.inf
        best[h] = cand_idx[red_pos[0]] if found else -1


def launch(targets, energies, weights, signals, order, cand_ptr, cand_idx,  # noqa: ANN001
           hit_group, mode: int, p: float, best, fom, stream=0,  # noqa: ANN001
           threads: int = THREADS) -> None:
    """Launch one block of ``threads`` threads per hit on ``stream`` (the host passes CuPy's
    current stream; 0 on the simulator, which is synchronous)."""
    m = targets.shape[0]
    if m == 0:
        return
    if threads < 1 or threads > THREADS or threads & (threads - 1):
        raise ValueError(f"threads={threads}: a power of two up to {THREADS}")
    if targets.shape[1] * targets.shape[2] > MAX_TERMS:
        raise ValueError(f"target of {targets.shape[1]}x{targets.shape[2]} terms exceeds "
                         f"MAX_TERMS={MAX_TERMS}")
    arrays = [targets, energies, weights, signals, order, cand_ptr, cand_idx, hit_group]
    if not isinstance(stream, int):
        # CuPy arrays made on this very stream: no per-array synchronisation of their stream
        # (numba's __cuda_array_interface__ sync would block the host once per argument)
        arrays = [cuda.as_cuda_array(a, sync=False) for a in arrays]
        best, fom = cuda.as_cuda_array(best, sync=False), cuda.as_cuda_array(fom, sync=False)
    search_kernel[m, threads, stream](*arrays, np.int64(mode), np.float32(p), best, fom)
