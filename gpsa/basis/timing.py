"""Timing of basis signals: threshold crossings (T10, T90, …), rise times, and the azimuthal
pattern of a per-point quantity.

Used to show what the drift model does to the signals (bench/bench_drift_anisotropy.py and
tests/basis/test_drift_*.py): the drift anisotropy of germanium shows as a 90°-periodic
pattern of the hit segment's T90 in the azimuth of the interaction.
"""

from __future__ import annotations

import math

import numpy as np


def crossing_times_ns(signals: np.ndarray, fractions: tuple[float, ...], t0_sample: int,
                      sampling_ns: float) -> np.ndarray:
    """``(N, len(fractions))`` times (ns after the interaction at ``t0_sample``) at which each
    signal of ``signals (N, S)`` first reaches ``fraction × its maximum``, linearly interpolated
    between samples; NaN for a signal whose maximum is not positive."""
    sig = np.asarray(signals, dtype=np.float64)
    amp = sig.max(axis=1)
    out = np.full((sig.shape[0], len(fractions)), np.nan)
    rows = np.flatnonzero(amp > 0)
    for c, frac in enumerate(fractions):
        level = frac * amp[rows]
        k = np.argmax(sig[rows] >= level[:, None], axis=1)
        prev = sig[rows, np.maximum(k - 1, 0)]
        here = sig[rows, k]
        step = np.where(here > prev, here - prev, 1.0)
        f = np.where(k > 0, np.clip((level - prev) / step, 0.0, 1.0), 0.0)
        out[rows, c] = (np.maximum(k - 1, 0) + f * (k > 0) - t0_sample) * sampling_ns
    return out


def hit_segment_timing(signals: np.ndarray, segment: np.ndarray, t0_sample: int,
                       sampling_ns: float) -> dict[str, np.ndarray]:
    """T10, T90 and the 10–90 % rise time (ns) of each point's hit-segment signal."""
    hit = np.asarray(signals)[np.arange(len(segment)), np.asarray(segment, dtype=np.int64)]
    t = crossing_times_ns(hit, (0.1, 0.9), t0_sample, sampling_ns)
    return {"t10_ns": t[:, 0], "t90_ns": t[:, 1], "rise_ns": t[:, 1] - t[:, 0]}


def azimuthal_harmonic(values: np.ndarray, phi_rad: np.ndarray, order: int
                       ) -> dict[str, float]:
    """Least-squares fit ``values ≈ c + A·cos(order·(φ − φ0))``: amplitude ``A``, phase
    ``φ0`` (degrees, in [0, 360/order)) and the fraction of the variance it explains."""
    v = np.asarray(values, dtype=np.float64)
    phi = np.asarray(phi_rad, dtype=np.float64)
    ok = np.isfinite(v)
    v, phi = v[ok], phi[ok]
    design = np.stack([np.ones_like(phi), np.cos(order * phi), np.sin(order * phi)], axis=1)
    coef, *_ = np.linalg.lstsq(design, v, rcond=None)
    amp = float(math.hypot(coef[1], coef[2]))
    period = 360.0 / order
    phase = float(np.degrees(math.atan2(coef[2], coef[1])) / order) % period
    resid = v - design @ coef
    var = float(np.var(v))
    return {"amplitude": amp, "phase_deg": phase,
            "explained": float(1.0 - np.var(resid) / var) if var > 0 else 0.0}


def correlation_cos(values: np.ndarray, phi_rad: np.ndarray, order: int, phase_deg: float
                    ) -> float:
    """Pearson correlation of ``values`` with ``cos(order·(φ − phase))``."""
    v = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(v)
    ref = np.cos(order * (np.asarray(phi_rad)[ok] - math.radians(phase_deg)))
    return float(np.corrcoef(v[ok], ref)[0, 1])
