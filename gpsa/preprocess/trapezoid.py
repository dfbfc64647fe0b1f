"""Trapezoidal energy filter (moving-window deconvolution) on the traces, read at a fixed time.

With a preamplifier decay ``tau`` (samples; 0 = no decay, e.g. an already step-like trace) the
trace is first deconvolved, ``y[n] = x[n] - a·x[n-1] + y[n-1]`` (a = exp(-1/tau)), then the
trapezoid is the difference of two moving averages of ``rise`` samples, ``gap`` samples apart::

    T[n] = (Σ y[n-rise+1..n] - Σ y[n-2·rise-gap+1..n-rise-gap]) / rise

(samples before the trace start read as the first sample). For a step of height A at ``t0``
whose leading edge lasts at most ``gap`` samples, T at ``n = t0 + rise + gap - 1`` (the end of
the flat top) is A: its lead window lies after the charge collection, its lag window is the
``rise`` samples before ``t0``. :func:`trapezoid_energy` reads T there (``round(t0)``, clipped to
the trace; NaN T0: the maximum of T). The maximum of T (``t0=None``) reads a transient signal of
a neighbour segment, or noise, as energy; with a gap shorter than the charge collection (~40
samples in AGATA) it also reads a hit segment low.

Noise: for white noise of σ per sample (no decay) T has σ·sqrt(2/rise)
(:func:`trapezoid_sigma`). Config example (``preprocess`` stage; the defaults: a 46-sample gap
covers the collection of the bench's 2 mm AGATA-A signals, 99.9 % of the core's charge within
46 samples of T0, and with T0 at sample 20 of a 100-sample trace the readout is sample 85)::

    energy = "trapezoid"
    trapezoid_rise = 20
    trapezoid_gap = 46
    decay_samples = 0
"""

from __future__ import annotations

import math

import numba
import numpy as np

from gpsa._numba import jit_options


@numba.njit(**jit_options())
def _trapezoid(x: np.ndarray, rise: int, gap: int, a: float, at: np.ndarray, out: np.ndarray
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
            if at[e] >= 0:
                s = at[e]
                out[e, ch] = (_win(c, y, s, rise) - _win(c, y, s - rise - gap, rise)) / rise
                continue
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


def readout_samples(t0: np.ndarray, rise: int, gap: int, n_samples: int) -> np.ndarray:
    """(n,) int64 sample of the fixed-time readout ``round(t0) + rise + gap - 1`` clipped to
    ``0..n_samples - 1``; -1 where ``t0`` is NaN (read the maximum instead)."""
    t0 = np.asarray(t0, np.float64)
    ok = np.isfinite(t0)
    n = np.floor(np.where(ok, t0, 0.0) + 0.5) + rise + gap - 1
    return np.where(ok, np.clip(n, 0, n_samples - 1), -1).astype(np.int64)


def trapezoid_energy(traces: np.ndarray, rise: int, gap: int, decay_samples: float = 0.0,
                     t0: np.ndarray | None = None) -> np.ndarray:
    """(n, channels) float32 trapezoid of every trace read at :func:`readout_samples` of ``t0``
    (per event), or its maximum where ``t0`` is None or NaN (see the module docstring)."""
    if rise < 1 or gap < 0:
        raise ValueError(f"trapezoid: rise must be >= 1 and gap >= 0, got {rise}, {gap}")
    a = math.exp(-1.0 / decay_samples) if decay_samples > 0 else 1.0
    x = np.ascontiguousarray(traces, dtype=np.float32)
    at = (np.full(x.shape[0], -1, np.int64) if t0 is None
          else readout_samples(t0, rise, gap, x.shape[-1]))
    out = np.empty(x.shape[:2], np.float32)
    _trapezoid(x, int(rise), int(gap), a, at, out)
    return out


def trapezoid_sigma(sigma: np.ndarray, rise: int) -> np.ndarray:
    """σ of the trapezoid for white noise of ``sigma`` per sample: ``sigma·sqrt(2/rise)``."""
    return (np.asarray(sigma, np.float32) * np.float32(math.sqrt(2.0 / rise))).astype(np.float32)
