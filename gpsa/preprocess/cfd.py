"""T0 by digital constant-fraction discrimination (CFD) on the core trace.

``y[k] = fraction · x[k] - x[k - delay]`` (samples before the trace start read as the first
sample). The discriminator arms at the first sample where ``x`` exceeds ``threshold`` (keV, on a
baseline-subtracted trace) and fires at the pulse's crossing of ``y`` from positive to
non-positive, linearly interpolated:

* ``y > 0`` at arming: the next crossing after it;
* ``y <= 0`` at arming and ``y > 0`` within the next ``delay`` samples (a baseline sample a few σ
  high ``delay`` samples before arming): the next crossing after that positive sample;
* otherwise the crossing came before arming (a slow, small pulse): the last crossing before it.

For a linear leading edge starting at ``t_s`` the crossing is at ``t_s + delay / (1 - fraction)``;
the returned T0 is that start estimate (crossing minus ``delay / (1 - fraction)``) plus
``offset``. No arming or no crossing gives NaN (the ``preprocess`` stage flags such events
``NO_T0``, counts them and logs the count).

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


@numba.njit(**jit_options(fastmath=False))
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
        start = arm
        if fraction * x[e, arm] - x[e, max(arm - delay, 0)] <= 0.0:
            start = -1  # is the positive lobe still to come (within delay samples)?
            for k in range(arm + 1, min(arm + delay + 1, n_s)):
                if fraction * x[e, k] - x[e, max(k - delay, 0)] > 0.0:
                    start = k
                    break
        if start < 0:  # no: y crossed before arming; take the last positive y before it
            for k in range(arm, 0, -1):
                prev = fraction * x[e, k - 1] - x[e, max(k - 1 - delay, 0)]
                if prev > 0.0:
                    cur = fraction * x[e, k] - x[e, max(k - delay, 0)]
                    out[e] = (k - 1) + prev / (prev - cur)
                    break
            continue
        prev = fraction * x[e, start] - x[e, max(start - delay, 0)]
        for k in range(start + 1, n_s):
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
