"""Baseline subtraction: each channel minus the mean of its first ``samples`` samples.

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
