"""Net-charge segments: segments whose energy is above ``threshold`` (keV) carry net charge and
are searched by PSA; the energies of the others are set to 0 in ``energies[:, :36]`` (so that a
noise fluctuation is not searched) and events with more than ``max_segments`` hit segments are
flagged REJECTED.

The threshold is fixed, or per event and segment from the measured noise
(:func:`noise_threshold`): ``max(netcharge_threshold_kev, k·σ_E)`` with σ_E the noise of the
segment's energy estimate, propagated from the rms of its baseline samples
(:func:`gpsa.preprocess.baseline.baseline_sigma`, :func:`gpsa.preprocess.tail.tail_sigma`,
:func:`gpsa.preprocess.trapezoid.trapezoid_sigma`). Config example::

    netcharge_threshold_kev = 15.0
    noise_threshold_sigma = 5.0     # k; 0: the fixed threshold only
    max_segments = 12
"""

from __future__ import annotations

import numpy as np

from gpsa.block import N_SEGMENTS
from gpsa.status import EventStatus


def noise_threshold(sigma_e: np.ndarray, k: float, threshold: float) -> np.ndarray:
    """(n, 36) float32 ``max(threshold, k·sigma_e)`` of the segments (``sigma_e`` (n, >= 36))."""
    s = np.asarray(sigma_e, np.float32)[:, :N_SEGMENTS]
    return np.maximum(np.float32(threshold), np.float32(k) * s).astype(np.float32)


def net_charge(energies: np.ndarray, status: np.ndarray, threshold: float | np.ndarray,
               max_segments: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(energies with sub-threshold segments zeroed, new status, number of hit segments);
    ``threshold``: one value, or (n, 36) per event and segment (:func:`noise_threshold`)."""
    e = np.asarray(energies, np.float32).copy()
    seg = e[:, :N_SEGMENTS]
    hit = seg > threshold
    seg[~hit] = 0.0
    n_hit = hit.sum(axis=1)
    st = np.asarray(status, np.uint16) | np.where(
        n_hit > max_segments, np.uint16(EventStatus.REJECTED), np.uint16(0)).astype(np.uint16)
    return e, st, n_hit
