"""From induced charge to basis signals: preamplifier, smoothing, cross-talk, sampling.

Input: induced charges ``(n, 37, T)`` on a fine time grid of step ``dt`` (1 ns) whose sample
``t0_sample·sampling/dt`` is the interaction time (zeros before it). Steps, in order:

1. **Preamplifier**: a single-pole low-pass of time constant ``τ`` (rise time ≈ 2.2 τ),
   ``τ·dy/dt = x − y``, discretised exactly for a piecewise-constant input,
   ``y[i] = e^(−dt/τ)·y[i−1] + (1 − e^(−dt/τ))·x[i−1]``. ``τ = 0`` skips it. The preamp's long
   decay (~50 µs) is ignored over the 0.56 µs trace.
2. **Shaping** (optional, ``shaping_ns`` = θ > 0): ``shaping_stages`` = n further RC
   integrations of time constant θ, each the same exact single pole as the preamp: an
   (RC)^n shaper's integrating part, or, for n = 1, the second pole of a two-pole preamp. Its
   step response is ``1 − e^(−t/θ)·Σ_{k<n} (t/θ)^k/k!`` (10–90 % in 2.20 θ for n = 1, 3.36 θ
   for n = 2, 4.22 θ for n = 3). There is no CR differentiation: it would make the charge
   signals decay (the preamp's own ~50 µs decay is ignored too), and the basis is a charge
   signal whose final value is the net charge.
3. **Measured impulse response** (optional, ``impulse_response`` = a file): the causal
   convolution with the response, normalised to unit area, its ``t = 0`` at its first sample
   (:mod:`gpsa.basis.fields.impulse`). The trace length and the interaction sample stay; a
   response that peaks late delays the signals.
4. **Smoothing** (optional, ``smoothing_ns`` > 0): a Gaussian of that standard deviation.
5. **Differential cross-talk** (optional, ``crosstalk`` = c > 0): each segment gets
   ``c·Σ_j [S_j(t) − S_j(t − sampling)]`` from its 2–4 nearest neighbours ``j`` (same sector,
   ring ± 1; same ring, sector ± 1 cyclic), i.e. ``c`` times their derivative over one sample.
   The core is left alone. Net charges are unchanged (the derivative integrates to zero).
6. **Sampling**, ``n_samples`` samples, sample ``s`` belonging to the time
   ``t_s = (s − t0_sample)·T`` after the interaction (``T = sampling``):

   * ``"point"``: every ``T/dt``-th fine sample, the signal at ``t_s`` itself;
   * ``"integrated"``: the mean of the signal over the sample period that *ends* at ``t_s``,
     ``(1/T)·∫ y dt`` over ``[t_s − T, t_s)``, with ``y`` linear between the fine samples (the
     trapezoid rule on the ``dt`` grid, exact for a piecewise-linear signal). Sample 0, whose
     period lies before the fine grid, is the baseline ``y(t_0)``. The window is causal, as a
     digitiser's: the value read at clock ``s`` is what its anti-alias filter integrated before
     that clock, and the sample at the interaction (``t0_sample``) stays 0.

Steps 1–5 are linear and time-invariant, so their order does not change the result (up to
round-off); each keeps a settled signal's final value (unit gain at zero frequency). The
final values are not renormalised: a trace that has not settled by the last sample (slow
collection plus the preamp's lag) ends below 1.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.signal import lfilter

from gpsa.basis.fields.impulse import convolve_causal

N_SEGMENTS = 36
#: Sampling conventions of :func:`apply_response` (see the module docstring).
SAMPLING = ("point", "integrated")


def neighbour_matrix(order: str = "sector-major") -> np.ndarray:
    """``(36, 36)`` 0/1: ``[k, j] = 1`` when segments k and j are nearest neighbours."""
    seg = np.arange(N_SEGMENTS)
    if order == "sector-major":
        sector, ring = seg // 6, seg % 6
    elif order == "ring-major":
        sector, ring = seg % 6, seg // 6
    else:
        raise ValueError(f"unknown segment order {order!r}")
    ds = np.abs(sector[:, None] - sector[None, :])
    ds = np.minimum(ds, 6 - ds)
    dr = np.abs(ring[:, None] - ring[None, :])
    return (((ds == 1) & (dr == 0)) | ((ds == 0) & (dr == 1))).astype(np.float64)


def preamp(x: np.ndarray, tau_ns: float, dt_ns: float) -> np.ndarray:
    """Single-pole low-pass along the last axis (a new array)."""
    if tau_ns <= 0:
        return x.copy()
    decay = math.exp(-dt_ns / tau_ns)
    return lfilter([0.0, 1.0 - decay], [1.0, -decay], x, axis=-1).astype(x.dtype, copy=False)


def crosstalk(x: np.ndarray, fraction: float, step: int, order: str) -> np.ndarray:
    """Add ``fraction`` × the one-sample difference of the neighbour segments (a new array)."""
    out = x.copy()
    if fraction == 0.0:
        return out
    diff = np.zeros_like(x[:, :N_SEGMENTS])
    diff[..., step:] = x[:, :N_SEGMENTS, step:] - x[:, :N_SEGMENTS, :-step]
    mix = (fraction * neighbour_matrix(order)).astype(x.dtype)
    out[:, :N_SEGMENTS] += np.einsum("kj,njt->nkt", mix, diff)
    return out


def sample(y: np.ndarray, step: int, n_samples: int, sampling: str = "point") -> np.ndarray:
    """Fine signals ``y (..., ≥ (n_samples − 1)·step + 1)`` → ``(..., n_samples)`` samples, one
    per ``step`` fine points: the fine point itself (``"point"``) or the trapezoid mean over the
    ``step`` fine intervals that end there (``"integrated"``; sample 0 is ``y[..., 0]``)."""
    need = (n_samples - 1) * step + 1
    if sampling == "point":
        return y[..., :need:step]
    if sampling != "integrated":
        raise ValueError(f"unknown sampling {sampling!r}, expected one of {SAMPLING}")
    y = np.asarray(y[..., :need], dtype=np.float64)
    trap = 0.5 * (y[..., :-1] + y[..., 1:])  # mean over each fine interval
    means = trap.reshape(*y.shape[:-1], n_samples - 1, step).mean(axis=-1)
    return np.concatenate([y[..., :1], means], axis=-1)


def apply_response(raw: np.ndarray, *, dt_ns: float, sampling_ns: float, n_samples: int,
                   tau_ns: float, smoothing_ns: float = 0.0, crosstalk_fraction: float = 0.0,
                   order: str = "sector-major", sampling: str = "point",
                   shaping_ns: float = 0.0, shaping_stages: int = 1,
                   kernel: np.ndarray | None = None) -> np.ndarray:
    """Fine induced charges ``(n, 37, T)`` → basis signals ``(n, 37, n_samples)`` float32,
    sampled by the ``sampling`` convention (``"point"`` or ``"integrated"``). ``kernel``: the
    unit-sum impulse response on the ``dt_ns`` grid
    (:meth:`gpsa.basis.fields.impulse.ImpulseResponse.kernel`), None = none."""
    step = int(round(sampling_ns / dt_ns))
    if abs(step * dt_ns - sampling_ns) > 1e-9 or step < 1:
        raise ValueError(f"sampling {sampling_ns} ns is not a multiple of the step {dt_ns} ns")
    need = (n_samples - 1) * step + 1
    if raw.shape[-1] < need:
        raise ValueError(f"{raw.shape[-1]} fine samples < {need} needed for {n_samples} samples")
    y = preamp(raw[..., :need], tau_ns, dt_ns)
    if shaping_ns > 0:
        for _ in range(shaping_stages):
            y = preamp(y, shaping_ns, dt_ns)
    if kernel is not None:
        y = convolve_causal(y, kernel)
    if smoothing_ns > 0:
        y = gaussian_filter1d(y, smoothing_ns / dt_ns, axis=-1, mode="nearest")
    y = crosstalk(y, crosstalk_fraction, step, order)
    return np.ascontiguousarray(sample(y, step, n_samples, sampling), dtype=np.float32)
