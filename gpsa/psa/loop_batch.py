"""One residual-loop step of every hit segment as a single :class:`~gpsa.psa.backend.HitBatch`.

For a backend that searches all segments of a step at once (the GPU backend), the loop gathers
the hits of one rank sorted by segment, their targets on their own table's mask channels padded
to the widest mask (zero targets and weights beyond a table's channels), the add-back of each
multi-segment hit's own signal and the channel switches of :func:`~gpsa.psa.loop.channel_weights`,
all as per-segment steps would, in one set of arrays.
"""

from __future__ import annotations

import numpy as np

from gpsa.psa.backend import HitBatch
from gpsa.psa.segments import SegmentTable


def channel_table(tables: list[SegmentTable | None]) -> tuple[np.ndarray, np.ndarray]:
    """(S, C_max) int64 mask channels of each table (padded with 0) and (S, C_max) bool valid."""
    c_max = max((t.channels.size for t in tables if t is not None), default=1)
    chan = np.zeros((len(tables), c_max), np.int64)
    valid = np.zeros((len(tables), c_max), bool)
    for s, t in enumerate(tables):
        if t is not None:
            chan[s, :t.channels.size] = t.channels
            valid[s, :t.channels.size] = True
    return chan, valid


def build_batch(sel: np.ndarray, segment: np.ndarray, event: np.ndarray, energy: np.ndarray,
                signal: np.ndarray, back: np.ndarray, resid: np.ndarray, hit_set: np.ndarray,
                chan_valid: tuple[np.ndarray, np.ndarray], mask_other_hits: bool,
                coarse_only: np.ndarray) -> HitBatch:
    """The batch of hits ``sel`` (sorted by segment): ``back`` (per selected hit) adds the hit's
    own ``signal`` back to its event's residual; the other arguments are the loop's hit columns
    (full length) and the (n, 37, K) residual."""
    chan_all, valid_all = chan_valid
    seg, ev, e = segment[sel], event[sel], energy[sel]
    chan, valid = chan_all[seg], valid_all[seg]  # (m, C_max)
    targets = resid[ev[:, None], chan]
    if back.any():
        b = np.flatnonzero(back)
        targets[b] += e[b, None, None] * signal[sel[b][:, None], chan[b]]
    targets[~valid] = 0.0
    weights = valid.astype(np.float32)
    if mask_other_hits:
        other = hit_set[ev[:, None], chan] & (chan != seg[:, None])
        weights[other] = 0.0
    return HitBatch(segment=seg, targets=np.ascontiguousarray(targets, np.float32),
                    energies=np.ascontiguousarray(e, np.float32), weights=weights,
                    coarse_only=coarse_only[sel])
