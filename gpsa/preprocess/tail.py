"""Tail energy: the net charge at the trace's end, the mean of its last ``samples`` samples.

On a baseline-subtracted trace (:mod:`.baseline`) the mean of the last ``samples`` samples is
the channel's net charge once the charge collection and the transient signals it induces in the
neighbour segments are over; it needs no T0. With a preamplifier decay ``tau`` (samples) the
trace is first deconvolved as for the trapezoid (:mod:`.trapezoid`):
``y[n] = x[n] + (1 - a)·Σ x[0..n-1]``, a = exp(-1/tau).

Noise: for white noise of σ per sample the tail mean minus a baseline mean of ``baseline``
samples has σ·sqrt(1/samples + 1/baseline) (:func:`tail_sigma`). Config example (``preprocess``
stage)::

    energy = "tail"
    tail_samples = 20
"""

from __future__ import annotations

import math

import numpy as np


def tail_energy(traces: np.ndarray, samples: int, decay_samples: float = 0.0) -> np.ndarray:
    """(n, channels) float32 mean of the last ``samples`` samples of every (deconvolved) trace."""
    if samples < 1:
        raise ValueError(f"tail: samples must be >= 1, got {samples}")
    x = np.asarray(traces, np.float32)
    n = min(samples, x.shape[-1])
    if decay_samples > 0:
        a = math.exp(-1.0 / decay_samples)
        before = np.cumsum(x, axis=-1, dtype=np.float64) - x
        x = x + (1.0 - a) * before
    return x[..., -n:].mean(axis=-1, dtype=np.float64).astype(np.float32)


def tail_sigma(sigma: np.ndarray, samples: int, baseline: int) -> np.ndarray:
    """σ of the tail mean for white noise of ``sigma`` per sample, the baseline mean of
    ``baseline`` samples subtracted: ``sigma·sqrt(1/samples + 1/baseline)``."""
    f = 1.0 / samples + (1.0 / baseline if baseline > 0 else 0.0)
    return (np.asarray(sigma, np.float32) * np.float32(math.sqrt(f))).astype(np.float32)
