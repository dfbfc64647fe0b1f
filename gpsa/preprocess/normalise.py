"""Vertical normalisation: scale each channel whose energy is above ``threshold`` so that its
final amplitude (mean of the last ``tail`` samples) equals its energy. Channels below the
threshold, or with a tail too small to scale safely, are unchanged. Config example::

    normalise = true
    normalise_tail = 5
"""

from __future__ import annotations

import numpy as np


def normalise_traces(traces: np.ndarray, energies: np.ndarray, threshold: float,
                     tail: int = 5) -> np.ndarray:
    """float32 traces with hit channels rescaled (see the module docstring)."""
    t = np.asarray(traces, np.float32)
    c = min(t.shape[1], energies.shape[1])
    amp = t[:, :c, -tail:].mean(axis=2)
    e = energies[:, :c]
    ok = (e > threshold) & (amp > 0.5 * e) & (amp < 2.0 * e)
    scale = np.ones(t.shape[:2], np.float32)
    scale[:, :c] = np.where(ok, e / np.where(ok, amp, 1.0), 1.0)
    return (t * scale[:, :, None]).astype(np.float32)
