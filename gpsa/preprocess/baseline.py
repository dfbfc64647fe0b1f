"""Baseline subtraction: each channel minus the mean of its first ``samples`` samples; the rms
noise of the same samples (:func:`baseline_sigma`), from which the ``preprocess`` stage derives a
noise threshold of the net-charge segments (:mod:`.netcharge`).

Config example (``preprocess`` stage)::

    baseline_samples = 15
"""

from __future__ import annotations

import numpy as np


def subtract_baseline(traces: np.ndarray, samples: int) -> np.ndarray:
    """float32 ``traces - mean(traces[..., :samples])`` per event and channel (``samples`` = 0:
    only the conversion to float32)."""
    out = np.asarray(traces, dtype=np.float32).copy()
    if samples > 0:
        n = min(samples, out.shape[-1])
        out -= out[..., :n].mean(axis=-1, keepdims=True, dtype=np.float64).astype(np.float32)
    return out


def baseline_sigma(traces: np.ndarray, samples: int) -> np.ndarray:
    """(n, channels) float32 standard deviation (ddof 1) of the first ``samples`` samples of
    every trace: the noise per sample where there is no signal yet; zeros for ``samples`` < 2."""
    x = np.asarray(traces)
    n = min(samples, x.shape[-1])
    if n < 2:
        return np.zeros(x.shape[:2], np.float32)
    return x[..., :n].std(axis=-1, ddof=1, dtype=np.float64).astype(np.float32)
