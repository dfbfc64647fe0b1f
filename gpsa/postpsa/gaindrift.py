"""Time-evolution gain correction from a ``TimeEvoCC.conf`` table.

One line per time bin, ``TS_start TS_end gain`` (timestamps in 10 ns ticks, ``#`` comments);
an event whose timestamp lies in ``[TS_start, TS_end)`` has its energies multiplied by ``gain``;
events outside every bin keep gain 1. Bins must not overlap. Config example (``post-psa``)::

    gain_drift = "TimeEvoCC.conf"
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gpsa.errors import ConfigError
from gpsa.textfile import read_records


@dataclass(frozen=True)
class GainTable:
    start: np.ndarray  # (k,) uint64, sorted
    end: np.ndarray  # (k,) uint64
    gain: np.ndarray  # (k,) float64

    def gains_at(self, timestamps: np.ndarray) -> np.ndarray:
        """(n,) float32 gain of each timestamp (1 outside the bins)."""
        ts = np.asarray(timestamps, np.uint64)
        i = np.searchsorted(self.start, ts, side="right") - 1
        inside = (i >= 0) & (ts < self.end[np.maximum(i, 0)])
        return np.where(inside, self.gain[np.maximum(i, 0)], 1.0).astype(np.float32)


def read_gain_table(path: Path) -> GainTable:
    rows = []
    for lineno, text, line in read_records(path, "gain-drift table"):
        try:
            a, b, g = int(text[0]), int(text[1]), float(text[2])
        except (IndexError, ValueError):
            raise ConfigError(f"{path}:{lineno}: expected 'TS_start TS_end gain', got "
                              f"{line!r}") from None
        if b <= a or a < 0 or not g > 0:
            raise ConfigError(f"{path}:{lineno}: need 0 <= TS_start < TS_end and gain > 0")
        rows.append((a, b, g))
    if not rows:
        raise ConfigError(f"{path}: no 'TS_start TS_end gain' lines")
    rows.sort()
    start = np.array([r[0] for r in rows], np.uint64)
    end = np.array([r[1] for r in rows], np.uint64)
    if np.any(start[1:] < end[:-1]):
        raise ConfigError(f"{path}: time bins overlap")
    return GainTable(start, end, np.array([r[2] for r in rows], np.float64))
