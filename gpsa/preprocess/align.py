"""Alignment of the traces so that T0 falls on a fixed sample.

Each event's traces are shifted by the integer ``round(t0) - target`` (samples beyond the trace
edge repeat the edge sample); the new ``t0`` keeps the sub-sample remainder:
``target + (t0 - round(t0))``. Events without T0 (NaN) are left unshifted. Config example::

    align_t0 = 20        # -1: no alignment
"""

from __future__ import annotations

import numpy as np


def align_traces(traces: np.ndarray, t0: np.ndarray, target: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(shifted float32 traces, new t0) — see the module docstring."""
    t0 = np.asarray(t0, np.float64)
    ok = np.isfinite(t0)
    rounded = np.where(ok, np.floor(t0 + 0.5), float(target))
    shift = (rounded - target).astype(np.int64)
    n_s = traces.shape[-1]
    idx = np.clip(np.arange(n_s)[None, :] + shift[:, None], 0, n_s - 1)
    out = np.take_along_axis(np.asarray(traces, np.float32), idx[:, None, :], axis=2)
    new_t0 = np.where(ok, target + (t0 - rounded), np.nan).astype(np.float32)
    return np.ascontiguousarray(out), new_t0
