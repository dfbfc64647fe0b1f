"""Array rules of the basis format (see ``bases/README.md``), shared by the loader and writers.

Every check raises :class:`gpsa.errors.BasisError` with one line ``"<file>: <rule>: <detail>"``.
Checks stream over the signals in row chunks so a memory-mapped basis is never materialised.
"""

from __future__ import annotations

import logging

import numpy as np

from gpsa.errors import BasisError

from .model import CORE_CHANNEL, N_BASIS_CHANNELS, N_SEGMENTS

log = logging.getLogger(__name__)

#: A net charge "ends near ±1" when the last sample is within this distance of ±1.
POLARITY_TOLERANCE = 0.25
#: Positions closer than this (mm, per coordinate after rounding) count as duplicates.
DUPLICATE_RESOLUTION_MM = 1e-3
#: Rows of signals checked at once (bounds the temporary of the NaN/inf check to a few MB).
CHUNK_ROWS = 2048


def fail(source: str, rule: str, detail: str) -> BasisError:
    """The error for a broken rule (returned, so callers write ``raise fail(...)``)."""
    return BasisError(f"{source}: {rule}: {detail}")


def check_shapes(source: str, positions_shape: tuple[int, ...], segment_shape: tuple[int, ...],
                 signals_shape: tuple[int, ...]) -> tuple[int, int]:
    """Check the three dataset shapes against each other; returns (N, S)."""
    if len(positions_shape) != 2 or positions_shape[1] != 3:
        raise fail(source, "shape", f"/positions must be (N, 3), got {positions_shape}")
    n = positions_shape[0]
    if n == 0:
        raise fail(source, "shape", "/positions is empty (N = 0)")
    if segment_shape != (n,):
        raise fail(source, "shape", f"/segment must be ({n},) like /positions, got {segment_shape}")
    if len(signals_shape) != 3 or signals_shape[:2] != (n, N_BASIS_CHANNELS):
        raise fail(source, "shape",
                   f"/signals must be ({n}, {N_BASIS_CHANNELS}, S), got {signals_shape}")
    if signals_shape[2] < 2:
        raise fail(source, "shape", f"/signals needs at least 2 samples, got {signals_shape[2]}")
    return n, signals_shape[2]


def check_dtypes(source: str, positions: np.dtype, segment: np.dtype, signals: np.dtype) -> None:
    if signals.name not in ("float32", "float16"):
        raise fail(source, "dtype", f"/signals must be float32 or float16, got {signals}")
    if positions.kind != "f":
        raise fail(source, "dtype", f"/positions must be floating point, got {positions}")
    if segment.kind not in "iu":
        raise fail(source, "dtype", f"/segment must be an integer type, got {segment}")


def check_segment(source: str, segment: np.ndarray) -> None:
    bad = (segment < 0) | (segment >= N_SEGMENTS)
    if bad.any():
        i = int(np.argmax(bad))
        raise fail(source, "segment range",
                   f"/segment must lie in 0..{N_SEGMENTS - 1}; point {i} has {segment[i]} "
                   f"({int(bad.sum())} bad)")


def check_positions(source: str, positions: np.ndarray) -> None:
    finite = np.isfinite(positions).all(axis=1)
    if not finite.all():
        i = int(np.argmin(finite))
        raise fail(source, "finite", f"/positions has NaN/inf at point {i}")
    keys = np.round(positions.astype(np.float64) / DUPLICATE_RESOLUTION_MM).astype(np.int64)
    order = np.lexsort(keys.T[::-1])
    same = np.all(keys[order[1:]] == keys[order[:-1]], axis=1)
    if same.any():
        k = int(np.argmax(same))
        a, b = sorted((int(order[k]), int(order[k + 1])))
        raise fail(source, "duplicate positions",
                   f"points {a} and {b} share position {positions[a].tolist()} "
                   f"({int(same.sum())} duplicates)")


def check_signals_finite(source: str, signals: np.ndarray) -> None:
    for start in range(0, signals.shape[0], CHUNK_ROWS):
        chunk = signals[start:start + CHUNK_ROWS]
        ok = np.isfinite(chunk).all(axis=(1, 2))
        if not ok.all():
            i = start + int(np.argmin(ok))
            raise fail(source, "finite", f"/signals has NaN/inf at point {i}")


#: A net charge still rising by more than this over the last sample is still being collected
#: when the trace ends (a slow carrier in a weak-field corner): kept, with a warning.
SETTLING = 0.002


def _classify(end: np.ndarray, rising: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points whose net charge ends near +1 / near -1, or is still moving towards it."""
    pos = (np.abs(end - 1.0) <= POLARITY_TOLERANCE) | ((end > 0) & (rising > SETTLING))
    neg = (np.abs(end + 1.0) <= POLARITY_TOLERANCE) | ((end < 0) & (rising < -SETTLING))
    return pos, neg


def _ends(signals: np.ndarray, rows: np.ndarray, channels: np.ndarray | int
          ) -> tuple[np.ndarray, np.ndarray]:
    """Last sample and last-minus-previous sample of one channel per point."""
    last = np.asarray(signals[rows, channels, -1], dtype=np.float32)
    prev = np.asarray(signals[rows, channels, -2], dtype=np.float32)
    return last, last - prev


def detect_polarity(source: str, signals: np.ndarray, segment: np.ndarray) -> int:
    """+1 if every hit segment's and core's net charge (last sample) ends near +1, -1 if all end
    near -1; otherwise raise. A net charge still rising towards ±1 at the last sample (charge
    collection longer than the trace) counts as ending there, with one warning giving the count.
    Reads only the last two samples of two channels per point."""
    rows = np.arange(signals.shape[0])
    seg_end, seg_rise = _ends(signals, rows, segment.astype(np.int64))
    pos, neg = _classify(seg_end, seg_rise)
    if pos.all():
        sign = 1
    elif neg.all():
        sign = -1
    else:
        bad = ~(pos | neg)
        i = int(np.argmax(bad)) if bad.any() else int(np.argmax(neg))
        raise fail(source, "polarity",
                   f"hit-segment net charge must end near +1 at every point ({int(pos.sum())} "
                   f"near +1, {int(neg.sum())} near -1, {int(bad.sum())} neither; point {i} "
                   f"ends at {float(seg_end[i]):.3g})")
    core_end, core_rise = _ends(signals, rows, CORE_CHANNEL)
    core_ok = _classify(core_end * sign, core_rise * sign)[0]
    if not core_ok.all():
        i = int(np.argmin(core_ok))
        raise fail(source, "polarity",
                   f"core net charge must end near {sign:+d} like the hit segment; point {i} "
                   f"ends at {float(core_end[i]):.3g}")
    late = (np.abs(core_end * sign - 1.0) > POLARITY_TOLERANCE) | (
        np.abs(seg_end * sign - 1.0) > POLARITY_TOLERANCE)
    if late.any():
        log.warning("%s: %d of %d points are still collecting charge at the last sample "
                    "(drift longer than the trace; e.g. point %d, core at %.3g)", source,
                    int(late.sum()), rows.size, int(np.argmax(late)),
                    float(core_end[int(np.argmax(late))]))
    return sign
