"""Kernels for :mod:`gpsa.basis.grid`: weighted gathers of basis signals.

``out[p, c, t] = Σ_k w[p, k] · signals[idx[p, k], channels[c], t]`` over the corners ``k`` with
``idx >= 0``. Accumulation is float32. float16 signals are decoded through a 65,536-entry lookup
table (numba has no float16 on the CPU). :func:`gather_weighted_numpy` is the readable reference
the numba kernels are tested against.
"""

from __future__ import annotations

import numba
import numpy as np

from gpsa._numba import jit_options

_HALF_TABLE = np.arange(65536, dtype=np.uint32).astype(np.uint16).view(np.float16).astype(
    np.float32)


@numba.njit(**jit_options(fastmath=False))
def _gather_f32(signals, idx, w, channels, out):  # pragma: no cover - compiled
    n, k = idx.shape
    nc = channels.shape[0]
    ns = signals.shape[2]
    for p in range(n):
        for c in range(nc):
            for t in range(ns):
                out[p, c, t] = 0.0
        for j in range(k):
            i = idx[p, j]
            wt = w[p, j]
            if i < 0 or wt == 0.0:
                continue
            for c in range(nc):
                ch = channels[c]
                for t in range(ns):
                    out[p, c, t] += wt * signals[i, ch, t]


@numba.njit(**jit_options(fastmath=False))
def _gather_f16(bits, table, idx, w, channels, out):  # pragma: no cover - compiled
    n, k = idx.shape
    nc = channels.shape[0]
    ns = bits.shape[2]
    for p in range(n):
        for c in range(nc):
            for t in range(ns):
                out[p, c, t] = 0.0
        for j in range(k):
            i = idx[p, j]
            wt = w[p, j]
            if i < 0 or wt == 0.0:
                continue
            for c in range(nc):
                ch = channels[c]
                for t in range(ns):
                    out[p, c, t] += wt * table[bits[i, ch, t]]


def gather_weighted(signals: np.ndarray, idx: np.ndarray, w: np.ndarray,
                    channels: np.ndarray) -> np.ndarray:
    """Weighted sum of basis rows, (n, len(channels), S) float32 (numba)."""
    idx = np.ascontiguousarray(idx, dtype=np.int64)
    w = np.ascontiguousarray(w, dtype=np.float32)
    channels = np.ascontiguousarray(channels, dtype=np.int64)
    out = np.empty((idx.shape[0], channels.shape[0], signals.shape[2]), np.float32)
    if idx.shape[0] == 0:
        return out
    if signals.dtype == np.float16:
        _gather_f16(signals.view(np.uint16), _HALF_TABLE, idx, w, channels, out)
    elif signals.dtype == np.float32:
        _gather_f32(signals, idx, w, channels, out)
    else:
        raise TypeError(f"basis signals must be float32 or float16, got {signals.dtype}")
    return out


def gather_weighted_numpy(signals: np.ndarray, idx: np.ndarray, w: np.ndarray,
                          channels: np.ndarray) -> np.ndarray:
    """Reference implementation of :func:`gather_weighted` in plain numpy."""
    out = np.zeros((idx.shape[0], len(channels), signals.shape[2]), np.float32)
    for j in range(idx.shape[1]):
        ok = idx[:, j] >= 0
        rows = signals[idx[ok, j]][:, channels].astype(np.float32)
        out[ok] += w[ok, j, None, None].astype(np.float32) * rows
    return out
