"""Dead or missing segments, rebuilt from the core.

The core sees the sum of the segment signals, so a single dead segment's trace is
``core - Σ(other segments)`` and its energy ``E_core - Σ E_other`` (not below 0). With several
dead segments the remainder is shared equally between them (their traces can then not be told
apart, which PSA must live with). Events where a dead segment gets more than ``threshold`` keV
are flagged DEAD_SEGMENT. Config example::

    dead_segments = [13]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gpsa.block import CORE, N_SEGMENTS
from gpsa.status import EventStatus


def rebuild_dead_segments(traces: np.ndarray, energies: np.ndarray, status: np.ndarray,
                          dead: Sequence[int], threshold: float = 15.0
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(traces, energies, status) with the ``dead`` segments rebuilt (new arrays)."""
    t = np.asarray(traces, np.float32).copy()
    e = np.asarray(energies, np.float32).copy()
    st = np.asarray(status, np.uint16).copy()
    dead = sorted(set(int(d) for d in dead))
    if not dead:
        return t, e, st
    alive = np.setdiff1d(np.arange(N_SEGMENTS), dead)
    share = 1.0 / len(dead)
    rest_t = (t[:, CORE] - t[:, alive].sum(axis=1)) * share
    rest_e = np.maximum(e[:, CORE] - e[:, alive].sum(axis=1), 0.0) * share
    for d in dead:
        t[:, d] = rest_t
        e[:, d] = rest_e
    st[rest_e > threshold] |= np.uint16(EventStatus.DEAD_SEGMENT)
    return t, e, st
