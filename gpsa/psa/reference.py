"""The numpy reference search: written for reading, exhaustive, vectorised per hit.

For each hit ``h`` with candidate list ``L`` (basis points of its segment) it computes

    fom[j] = Σ_c w[h, c] Σ_k |target[h, c, k] - E[h] * B[j, c, k]|^p     for j in L

over the mask channels ``c`` and the compared samples ``k`` and returns the first ``j`` of least
fom. This is the truth the numba and GPU backends are tested against.

It implements the :class:`~gpsa.psa.backend.SearchBackend` contract (arguments and return
values described there), as the numba and GPU backends do.
"""

from __future__ import annotations

import numpy as np

from gpsa.psa.segments import SegmentTable


def term_power(d: np.ndarray, p: float) -> np.ndarray:
    """``|d|^p`` in place on a float32 array of absolute differences (exact for p = 1, 2)."""
    if p == 2.0:
        np.multiply(d, d, out=d)
    elif p == 0.5:
        np.sqrt(d, out=d)
    elif p != 1.0:
        np.power(d, np.float32(p), out=d)
    return d


def fom_many(target: np.ndarray, energy: float, signals: np.ndarray, weights: np.ndarray,
             p: float) -> np.ndarray:
    """Figures of merit of one target (C, K) against signals (L, C, K), (L,) float64.

    float32 throughout (numpy's pairwise sums keep ~1e-7 relative error over 400 terms); a
    float64 accumulation (``sum(dtype=float64)``) was measured 8x slower and would flatter
    every speed-up quoted against this reference."""
    d = np.abs(target[None] - np.float32(energy) * signals)
    term_power(d, p)
    if np.all(weights == 1):
        return d.reshape(d.shape[0], -1).sum(axis=1).astype(np.float64)
    return np.einsum("lck,c->l", d, weights.astype(np.float32)).astype(np.float64)


class ReferenceBackend:
    """Exhaustive numpy search (see module docstring)."""

    name = "reference"

    def __init__(self, p: float) -> None:
        self.p = float(p)

    def prepare(self, tables: list[SegmentTable | None]) -> None:
        """Nothing to set up: every search reads the tables as they are."""

    def all_foms(self, table: SegmentTable, targets: np.ndarray, energies: np.ndarray,
                 weights: np.ndarray, cands: np.ndarray) -> np.ndarray:
        """(m, L) foms of every hit against the shared candidates ``cands``."""
        return np.stack([fom_many(targets[h], float(energies[h]), table.signals[cands],
                                  weights[h], self.p) for h in range(targets.shape[0])]
                        ) if targets.shape[0] else np.zeros((0, cands.size))

    def search(self, table: SegmentTable, targets: np.ndarray, energies: np.ndarray,
               weights: np.ndarray, cand_ptr: np.ndarray, cand_idx: np.ndarray,
               hit_group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        m = targets.shape[0]
        best = np.zeros(m, np.int64)
        fom = np.zeros(m, np.float64)
        for h in range(m):
            g = int(hit_group[h])
            cands = cand_idx[cand_ptr[g]:cand_ptr[g + 1]]
            f = fom_many(targets[h], float(energies[h]), table.signals[cands], weights[h], self.p)
            j = int(np.argmin(f))
            best[h] = cands[j]
            fom[h] = f[j]
        return best, fom
