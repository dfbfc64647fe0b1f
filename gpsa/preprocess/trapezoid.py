"""Trapezoidal energy filter (moving-window deconvolution) on the traces.

With a preamplifier decay ``tau`` (samples; 0 = no decay, e.g. an already step-like trace) the
trace is first deconvolved, ``y[n] = x[n] - a·x[n-1] + y[n-1]`` (a = exp(-1/tau)), then the
trapezoid is the difference of two moving averages of ``rise`` samples, ``gap`` samples apart::

    T[n] = (Σ y[n-rise+1..n] - Σ y[n-2·rise-gap+1..n-rise-gap]) / rise

For a step of height A the flat top of T equals A; the energy is the maximum of T (samples before
the trace start read as the first sample). Config example (``preprocess`` stage)::

    energy = "trapezoid"
    trapezoid_rise = 10
    trapezoid_gap = 5
    decay_samples = 0
"""

from __future__ import annotations

import math

import numba
import numpy as np

from gpsa._numba import jit_options


@numba.njit(**jit_options())
def _trapezoid_max(x: np.ndarray, rise: int, gap: int, a: float, out: np.ndarray
                   ) -> None:  # pragma: no cover - compiled
    n_ev, n_ch, n_s = x.shape
    y = np.empty(n_s, np.float64)
    c = np.empty(n_s + 1, np.float64)
    for e in range(n_ev):
        for ch in range(n_ch):
            acc = 0.0
            prev = x[e, ch, 0]
            for s in range(n_s):
                acc += x[e, ch, s] - a * prev if s > 0 else x[e, ch, 0]
                prev = x[e, ch, s]
                y[s] = acc
            c[0] = 0.0
            for s in range(n_s):
                c[s + 1] = c[s] + y[s]
            best = -math.inf
            for s in range(n_s):
                best = max(best, (_win(c, y, s, rise) - _win(c, y, s - rise - gap, rise)) / rise)
            out[e, ch] = best


@numba.njit(**jit_options(inline=True))
def _win(c: np.ndarray, y: np.ndarray, end: int, width: int) -> float:  # pragma: no cover
    """Σ y[end-width+1..end] with indices below 0 reading y[0]."""
    lo = end - width + 1
    if lo >= 0:
        return c[end + 1] - c[lo]
    if end < 0:
        return width * y[0]
    return c[end + 1] + (-lo) * y[0]


def trapezoid_energy(traces: np.ndarray, rise: int, gap: int, decay_samples: float = 0.0
                     ) -> np.ndarray:
    """(n, channels) float32 maximum of the trapezoid of every trace (see module docstring)."""
    if rise < 1 or gap < 0:
        raise ValueError(f"trapezoid: rise must be >= 1 and gap >= 0, got {rise}, {gap}")
    a = math.exp(-1.0 / decay_samples) if decay_samples > 0 else 1.0
    x = np.ascontiguousarray(traces, dtype=np.float32)
    out = np.empty(x.shape[:2], np.float32)
    _trapezoid_max(x, int(rise), int(gap), a, out)
    return out
