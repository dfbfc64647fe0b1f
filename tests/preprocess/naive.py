"""Deliberately naive references of the preprocessing kernels (STUMPY habit)."""

from __future__ import annotations

import math

import numpy as np


def trapezoid(x: np.ndarray, rise: int, gap: int, tau: float) -> list[float]:
    """T[n] of every sample n (see gpsa.preprocess.trapezoid)."""
    a = math.exp(-1.0 / tau) if tau > 0 else 1.0
    y = []
    acc = 0.0
    for s, v in enumerate(x):
        acc += float(v) - (a * float(x[s - 1]) if s > 0 else 0.0)
        y.append(acc)

    def at(i: int) -> float:
        return y[max(i, 0)]

    out = []
    for n in range(len(x)):
        lead = sum(at(j) for j in range(n - rise + 1, n + 1))
        lag = sum(at(j) for j in range(n - 2 * rise - gap + 1, n - rise - gap + 1))
        out.append((lead - lag) / rise)
    return out


def trapezoid_max(x: np.ndarray, rise: int, gap: int, tau: float) -> float:
    return max(trapezoid(x, rise, gap, tau))


def trapezoid_at(x: np.ndarray, rise: int, gap: int, tau: float, t0: float) -> float:
    """T at the end of the flat top for a step at ``t0`` (clipped), the maximum for NaN."""
    if math.isnan(t0):
        return trapezoid_max(x, rise, gap, tau)
    n = min(max(math.floor(t0 + 0.5) + rise + gap - 1, 0), len(x) - 1)
    return trapezoid(x, rise, gap, tau)[n]


def cfd(x: np.ndarray, fraction: float, delay: int, threshold: float) -> float:
    arm = next((k for k, v in enumerate(x) if v > threshold), None)
    if arm is None:
        return math.nan

    def y(k: int) -> float:
        return fraction * float(x[k]) - float(x[max(k - delay, 0)])

    def crossing(k: int) -> float:  # between k - 1 (y > 0) and k (y <= 0)
        return (k - 1) + y(k - 1) / (y(k - 1) - y(k)) - delay / (1 - fraction)

    start = arm if y(arm) > 0 else next(
        (k for k in range(arm + 1, min(arm + delay + 1, len(x))) if y(k) > 0), None)
    if start is None:  # crossed before arming: the last positive y before it
        return next((crossing(k) for k in range(arm, 0, -1) if y(k - 1) > 0), math.nan)
    return next((crossing(k) for k in range(start + 1, len(x)) if y(k) <= 0), math.nan)
