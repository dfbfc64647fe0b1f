"""Numba kernel of :func:`gpsa.simulate.traces.place_in_trace` (the numpy version there is the
reference it is tested against)."""

from __future__ import annotations

import numba
import numpy as np

from gpsa._numba import jit_options


@numba.njit(**jit_options(fastmath=False))
def _place(sig, t0, scale, basis_t0, out):  # pragma: no cover - compiled
    n, nc, nb = sig.shape
    nt = out.shape[2]
    for e in range(n):
        for j in range(nt):
            tau = (j - t0[e]) * scale + basis_t0
            if tau < 0.0:
                tau = 0.0
            elif tau > nb - 1:
                tau = nb - 1.0
            i0 = int(np.floor(tau))
            if i0 > nb - 2:
                i0 = nb - 2
            f = np.float32(tau - i0)
            for c in range(nc):
                lo = sig[e, c, i0]
                out[e, c, j] = lo + f * (sig[e, c, i0 + 1] - lo)


def place_numba(sig: np.ndarray, t0: np.ndarray, scale: float, basis_t0: int,
                n_samples: int) -> np.ndarray:
    """(n, C, S_basis) float32 → (n, C, n_samples) float32, linear interpolation in time."""
    out = np.empty((sig.shape[0], sig.shape[1], n_samples), np.float32)
    if sig.shape[0]:
        _place(np.ascontiguousarray(sig, np.float32), np.ascontiguousarray(t0, np.float64),
               float(scale), float(basis_t0), out)
    return out
