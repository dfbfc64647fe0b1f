"""numba CPU backend of the grid search (the :class:`~gpsa.psa.backend.ThreadedBackend` contract).

Two paths, chosen from ``p`` and ``shortlist``:

* **exact** (p != 2, ``shortlist == 0``): :func:`~gpsa.psa.kernels.cpu_kernels.search_csr`,
  parallel over hits, early termination of partial sums, vectorised ``|x|^p``;
* **matrix product** (p = 2, or ``shortlist = K > 0``, when candidate groups hold at least
  ``MIN_HITS_PER_GROUP`` hits on average): all hits of a candidate group share the candidates
  (and the channel mask), so Σ_c w_c ‖t_c - E·b_c‖² = ‖t‖² - 2E·(t·b) + E²·Σ_c w_c‖b_c‖²
  is one BLAS GEMM ``(hits, C·K) x (C·K, points)`` per group. With ``rank = r > 0`` the product
  is taken in the r leading principal directions of the segment's signals (``(hits, C·K) x
  (C·K, r)`` then ``(hits, r) x (r, points)``: ~5x fewer flops at r = 64, C·K = 400). The ranking
  is in float32 (and approximate with a rank); the best ``rescore`` points (p = 2, 8) or the best
  K points (p != 2, shortlist) are then scored exactly by the exact kernel, so the best point and
  the reported fom are exact whenever the optimum ranks among them.

For p != 2 the shortlist is an approximation: the exact-p optimum is found only if it ranks among
the K best by p = 2 (agreement measured by ``bench/bench_psa.py``).
"""

from __future__ import annotations

import threading

import numpy as np

from gpsa.psa.backend import TableCache
from gpsa.psa.kernels.cpu_kernels import (
    PARALLEL_MIN_TERMS,
    all_foms,
    all_foms_serial,
    p_mode,
    search_csr,
    search_csr_serial,
    top_k_p2,
    top_k_p2_serial,
)
from gpsa.psa.segments import SegmentTable


def channel_order(table: SegmentTable) -> np.ndarray:
    """Mask-channel positions ordered for early termination: own segment, core, then the rest."""
    ch = table.channels
    first = [int(np.flatnonzero(ch == table.segment)[0])] if table.segment in ch else []
    first += [int(np.flatnonzero(ch == 36)[0])] if 36 in ch else []
    rest = [i for i in range(ch.size) if i not in first]
    return np.asarray(first + rest, dtype=np.int64)


def group_hits(hit_group: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """(group, hit indices) for every group that has hits."""
    order = np.argsort(hit_group, kind="stable")
    groups, starts = np.unique(hit_group[order], return_index=True)
    bounds = np.append(starts, order.size)
    return [(int(g), order[bounds[i]:bounds[i + 1]]) for i, g in enumerate(groups)]


def low_rank(table: SegmentTable, rank: int) -> tuple[np.ndarray, np.ndarray]:
    """(U (C·K, r), coefficients transposed (r, Ns)) float32: the r leading principal directions
    of the segment's signals (eigenvectors of the Gram matrix) and every point's coordinates."""
    gram = (table.flat.T @ table.flat).astype(np.float64)
    _, vecs = np.linalg.eigh(gram)
    u = np.ascontiguousarray(vecs[:, ::-1][:, :rank], dtype=np.float32)
    return u, np.ascontiguousarray((table.flat @ u).T)


def p2_dots(table: SegmentTable, targets: np.ndarray, weights: np.ndarray, cands: np.ndarray,
            basis_lr: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """(w·t)·b for hits × candidates, float32 (BLAS). With ``basis_lr`` the product is taken in
    the low-rank subspace, (tU)·(bU), an approximation used for ranking only. The p = 2 score
    E²·Σ_c w_c‖b_c‖² − 2E·(w·t)·b (the fom up to the per-hit constant ‖w·t‖²) is formed by the
    top-K kernel."""
    m, n_ch, n_k = targets.shape
    a = (targets * weights[:, :, None]).reshape(m, n_ch * n_k)
    full = cands.size == table.n_points and np.array_equal(cands, np.arange(table.n_points))
    if basis_lr is not None:
        u, coef_t = basis_lr
        return (a @ u) @ (coef_t if full else coef_t[:, cands])
    return a @ (table.flat if full else table.flat[cands]).T


#: The matrix-product path is used when candidate groups hold this many hits on average; per-hit
#: lists (the AGS fine stage with several coarse points kept) are searched exactly instead.
MIN_HITS_PER_GROUP = 4


class NumbaBackend:
    """numba CPU search (see module docstring)."""

    name = "numba"

    def __init__(self, p: float, shortlist: int = 0, rank: int = 0, rescore: int = 8) -> None:
        self.p = float(p)
        self.shortlist = int(shortlist)
        self.rank = int(rank)
        self.rescore = int(rescore)
        self._orders: TableCache[np.ndarray] = TableCache(channel_order)
        self._low_rank: TableCache[tuple[np.ndarray, np.ndarray]] = TableCache(
            lambda table: low_rank(table, self.rank))
        #: Use the single-threaded kernels (one-thread runs); worker threads of the search
        #: driver set it for themselves only (thread-local), so concurrent runs do not interfere.
        self.serial_default = False
        self._tls = threading.local()

    @property
    def serial(self) -> bool:
        return bool(getattr(self._tls, "serial", self.serial_default))

    def serial_in_this_thread(self) -> None:
        """Single-threaded kernels from now on in the calling thread (a driver worker)."""
        self._tls.serial = True

    def prepare(self, tables: list[SegmentTable | None]) -> None:
        """Per-segment setup (low-rank bases) ahead of the first search."""
        for table in tables:
            if table is not None:
                self._basis_lr(table)
                self._order(table)

    def _basis_lr(self, table: SegmentTable) -> tuple[np.ndarray, np.ndarray] | None:
        if self.rank <= 0 or self.rank >= table.flat.shape[1]:
            return None
        return self._low_rank.get(table)

    def _order(self, table: SegmentTable) -> np.ndarray:
        return self._orders.get(table)

    def search(self, table: SegmentTable, targets: np.ndarray, energies: np.ndarray,
               weights: np.ndarray, cand_ptr: np.ndarray, cand_idx: np.ndarray,
               hit_group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        targets = np.ascontiguousarray(targets, dtype=np.float32)
        weights = np.ascontiguousarray(weights, dtype=np.float32)
        energies = np.ascontiguousarray(energies, dtype=np.float32)
        hit_group = np.ascontiguousarray(hit_group, dtype=np.int64)
        keep = self.rescore if self.p == 2.0 else self.shortlist
        if keep > 0 and targets.shape[0] >= MIN_HITS_PER_GROUP * (cand_ptr.size - 1):
            cand_ptr, cand_idx = self.shortlists(table, targets, energies, weights, cand_ptr,
                                                 cand_idx, hit_group, keep)
            hit_group = np.arange(targets.shape[0], dtype=np.int64)
        return self.exact(table, targets, energies, weights, cand_ptr, cand_idx, hit_group)

    def exact(self, table: SegmentTable, targets: np.ndarray, energies: np.ndarray,
              weights: np.ndarray, cand_ptr: np.ndarray, cand_idx: np.ndarray,
              hit_group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Exact exhaustive search over the given candidate lists (numba kernel)."""
        m = targets.shape[0]
        best = np.empty(m, np.int64)
        fom = np.empty(m, np.float64)
        terms = int(np.diff(cand_ptr)[hit_group].sum()) * targets.shape[1] * targets.shape[2]
        kernel = (search_csr if terms >= PARALLEL_MIN_TERMS and not self.serial
                  else search_csr_serial)
        kernel(targets, energies, weights, table.signals, self._order(table),
                   np.ascontiguousarray(cand_ptr, np.int64),
                   np.ascontiguousarray(cand_idx, np.int64), hit_group,
                   p_mode(self.p), self.p, best, fom)
        return best, fom

    def all_foms(self, table: SegmentTable, targets: np.ndarray, energies: np.ndarray,
                 weights: np.ndarray, cands: np.ndarray) -> np.ndarray:
        """(m, L) foms of every hit against the shared candidates (the AGS coarse stage)."""
        out = np.empty((targets.shape[0], cands.size), np.float64)
        terms = targets.size * cands.size
        kernel = all_foms if terms >= PARALLEL_MIN_TERMS and not self.serial else all_foms_serial
        kernel(np.ascontiguousarray(targets, np.float32), np.asarray(energies, np.float32),
               np.ascontiguousarray(weights, np.float32), table.signals,
               np.ascontiguousarray(cands, np.int64), p_mode(self.p), self.p, out)
        return out

    def shortlists(self, table: SegmentTable, targets: np.ndarray, energies: np.ndarray,
                   weights: np.ndarray, cand_ptr: np.ndarray, cand_idx: np.ndarray,
                   hit_group: np.ndarray, keep: int) -> tuple[np.ndarray, np.ndarray]:
        """Per-hit CSR lists of the ``keep`` best candidates by the p = 2 matrix product."""
        sizes = np.minimum(np.diff(cand_ptr)[hit_group], keep)
        ptr = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        idx = np.empty(int(ptr[-1]), np.int64)
        for g, hits in group_hits(hit_group):
            cands = cand_idx[cand_ptr[g]:cand_ptr[g + 1]]
            k = min(keep, cands.size)
            top = np.empty((hits.size, k), np.int64)
            w = weights[hits]
            norm2 = table.norm2[cands]
            n2 = (norm2.sum(axis=1)[None, :] if np.all(w == 1.0)
                  else np.ascontiguousarray(w @ norm2.T))
            big = not self.serial and hits.size * cands.size >= 1_000_000
            dot = p2_dots(table, targets[hits], w, cands, self._basis_lr(table))
            # the top-K lists come sorted, best first: the exact kernel's early exit bites at once
            (top_k_p2 if big else top_k_p2_serial)(dot, energies[hits], n2, k, top)
            idx[ptr[hits][:, None] + np.arange(k)] = cands[top]
        return ptr, idx
