"""T0 by digital constant-fraction discrimination (CFD) on the core trace.

``y[k] = fraction · x[k] - x[k - delay]`` (samples before the trace start read as the first
sample). The discriminator arms at the first sample where ``x`` exceeds ``threshold`` (keV, on a
baseline-subtracted trace) and fires at the next crossing of ``y`` from positive to non-positive,
linearly interpolated. For a linear leading edge starting at ``t_s`` the crossing is at
``t_s + delay / (1 - fraction)``; the returned T0 is that start estimate (crossing minus
``delay / (1 - fraction)``) plus ``offset``. No arming or no crossing gives NaN.

Config example (``preprocess`` stage)::

    cfd_fraction = 0.3
    cfd_delay = 4
    cfd_threshold_kev = 20.0
"""

from __future__ import annotations

import math

import numba
import numpy as np

from gpsa._numba import jit_options


@numba.njit(**jit_options())
def _cfd(x: np.ndarray, fraction: float, delay: int, threshold: float,
         out: np.ndarray) -> None:  # pragma: no cover - compiled
    n_ev, n_s = x.shape
    for e in range(n_ev):
        out[e] = math.nan
        arm = -1
        for k in range(n_s):
            if x[e, k] > threshold:
                arm = k
                break
        if arm < 0:
            continue
        prev = fraction * x[e, arm] - x[e, max(arm - delay, 0)]
        if prev <= 0.0:
            continue
        for k in range(arm + 1, n_s):
            cur = fraction * x[e, k] - x[e, max(k - delay, 0)]
            if cur <= 0.0:
                out[e] = (k - 1) + prev / (prev - cur)
                break
            prev = cur


def cfd_t0(core: np.ndarray, fraction: float = 0.3, delay: int = 4, threshold: float = 20.0,
           offset: float = 0.0) -> np.ndarray:
    """(n,) float32 T0 estimates (samples) of baseline-subtracted core traces ``core`` (n, S)."""
    if not 0.0 < fraction < 1.0 or delay < 1:
        raise ValueError(f"cfd: need 0 < fraction < 1 and delay >= 1, got {fraction}, {delay}")
    x = np.ascontiguousarray(core, dtype=np.float32)
    out = np.empty(x.shape[0], np.float64)
    _cfd(x, float(fraction), int(delay), float(threshold), out)
    return (out - delay / (1.0 - fraction) + offset).astype(np.float32)
