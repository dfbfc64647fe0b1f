"""Trace windows and time shifts.

The search compares ``trace[c, t0i + sample_offset + k]`` with
``basis.signals[j, c, basis.t0_sample + sample_offset + k]`` for ``k < samples``, where
``t0i = round(t0)`` is the integer alignment of the event's T0 (``block.t0``; NaN → the
``default_t0`` setting). Indices outside the trace are clamped to its first/last sample.

Sub-sample T0 refinement shifts the *model* (the basis signals, which are noise-free) rather than
the measured trace: interpolating a noisy trace smooths its noise and would bias the figure of
merit towards half-sample shifts. A shift δ (samples) means the interaction happened at
``t0i + δ`` in the trace, so the model sample ``k`` is the basis at ``first + k − δ``, computed by
cubic (Catmull-Rom) interpolation; basis indices are clamped at both ends.
"""

from __future__ import annotations

import numpy as np


def integer_t0(t0: np.ndarray, default_t0: float) -> tuple[np.ndarray, np.ndarray]:
    """(T0 with NaN replaced by the default as float64, its rounded integer alignment int64)."""
    t = np.where(np.isfinite(t0), t0.astype(np.float64), float(default_t0))
    return t, np.floor(t + 0.5).astype(np.int64)


def measured_window(traces: np.ndarray, t0i: np.ndarray, offset: int, samples: int,
                    channels: int = 37) -> np.ndarray:
    """(n, channels, samples) float32 window of the traces starting at ``t0i + offset`` (a view
    of float32 traces when every event has the same alignment: do not write to it)."""
    n_samples = traces.shape[2]
    starts = np.unique(t0i)
    if starts.size == 1 and 0 <= starts[0] + offset <= n_samples - samples:
        a = int(starts[0]) + offset
        view = traces[:, :channels, a:a + samples]  # a view (read-only use) when float32
        return view if view.dtype == np.float32 else view.astype(np.float32)
    out = np.empty((traces.shape[0], channels, samples), np.float32)
    for start in starts:  # usually a few distinct alignments: plain slices
        sel = np.flatnonzero(t0i == start)
        a = int(start) + offset
        if 0 <= a and a + samples <= n_samples:
            out[sel] = traces[sel, :channels, a:a + samples]
        else:
            idx = np.clip(a + np.arange(samples), 0, n_samples - 1)
            out[sel] = traces[sel, :channels][:, :, idx]
    return out


def catmull_rom(frac: np.ndarray) -> np.ndarray:
    """Cubic (Catmull-Rom) weights of the samples at -1, 0, 1, 2 for offsets ``frac``, (..., 4)."""
    f = np.asarray(frac, dtype=np.float64)[..., None]
    f2, f3 = f * f, f * f * f
    w = np.concatenate([
        -0.5 * f3 + f2 - 0.5 * f,
        1.5 * f3 - 2.5 * f2 + 1.0,
        -1.5 * f3 + 2.0 * f2 + 0.5 * f,
        0.5 * f3 - 0.5 * f2,
    ], axis=-1)
    return w.astype(np.float32)


def shifted_signals(signals: np.ndarray, points: np.ndarray, first: int, samples: int,
                    delta: np.ndarray, channels: np.ndarray | None = None) -> np.ndarray:
    """Basis signals of ``points`` (m,) at samples ``first + k − delta[m]``, (m, C, samples).

    ``delta == 0`` reproduces the plain window exactly.
    """
    x = first - np.asarray(delta, dtype=np.float64)  # position of k = 0, per point
    base = np.floor(x).astype(np.int64)
    w = catmull_rom(x - base)  # (m, 4)
    n_s = signals.shape[2]
    sig = signals[points] if channels is None else signals[points][:, channels]
    out = None
    for j in range(4):
        idx = np.clip(base[:, None] + (j - 1) + np.arange(samples), 0, n_s - 1)  # (m, K)
        part = np.take_along_axis(sig, idx[:, None, :], axis=2).astype(np.float32)
        part *= w[:, j, None, None]
        out = part if out is None else out + part
    assert out is not None
    return out
