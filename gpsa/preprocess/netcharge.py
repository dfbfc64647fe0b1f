"""Net-charge segments: segments whose energy is above ``threshold`` (keV) carry net charge and
are searched by PSA; the energies of the others are set to 0 in ``energies[:, :36]`` (so that a
noise fluctuation is not searched) and events with more than ``max_segments`` hit segments are
flagged REJECTED. Config example::

    netcharge_threshold_kev = 15.0
    max_segments = 12
"""

from __future__ import annotations

import numpy as np

from gpsa.block import N_SEGMENTS
from gpsa.status import EventStatus


def net_charge(energies: np.ndarray, status: np.ndarray, threshold: float, max_segments: int
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(energies with sub-threshold segments zeroed, new status, number of hit segments)."""
    e = np.asarray(energies, np.float32).copy()
    seg = e[:, :N_SEGMENTS]
    hit = seg > threshold
    seg[~hit] = 0.0
    n_hit = hit.sum(axis=1)
    st = np.asarray(status, np.uint16) | np.where(
        n_hit > max_segments, np.uint16(EventStatus.REJECTED), np.uint16(0)).astype(np.uint16)
    return e, st, n_hit
