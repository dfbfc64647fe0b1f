"""In-memory signal basis: positions, segments and the 37 simulated signals of every grid point.

Signals are ``(N, 37, S)``: 36 segments (in ``segment_order``) then the core, normalised so that
the hit segment's net charge ends at +1 and the core at +1 (positive polarity). The arrays are
held as given (never copied here): a 2 mm basis is ~50k × 37 × 56 values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from gpsa.errors import BasisError

N_BASIS_CHANNELS = 37
CORE_CHANNEL = 36
SEGMENT_ORDERS = ("sector-major", "ring-major")


@dataclass(frozen=True, eq=False)
class Basis:
    positions: np.ndarray  # (N, 3) float32, mm, crystal frame
    segment: np.ndarray  # (N,) int16, hit segment of each point, in segment_order
    signals: np.ndarray  # (N, 37, S) float32 or float16
    sampling_ns: float = 10.0
    t0_sample: int = 0
    segment_order: str = "sector-major"
    grid_mm: float = 2.0
    crystal_type: str = "A"
    preamp_tau_ns: float = 0.0
    generator: str = ""
    source: str = field(default="<memory>")

    def __post_init__(self) -> None:
        src = self.source
        n = self.positions.shape[0] if self.positions.ndim == 2 else -1
        if self.positions.ndim != 2 or self.positions.shape[1] != 3:
            raise BasisError(f"{src}: /positions must have shape (N, 3), got {self.positions.shape}")
        if self.segment.shape != (n,):
            raise BasisError(f"{src}: /segment must have shape ({n},), got {self.segment.shape}")
        if self.signals.ndim != 3 or self.signals.shape[:2] != (n, N_BASIS_CHANNELS):
            raise BasisError(f"{src}: /signals must have shape ({n}, {N_BASIS_CHANNELS}, S), "
                             f"got {self.signals.shape}")
        if self.segment_order not in SEGMENT_ORDERS:
            raise BasisError(f"{src}: segment_order must be one of {SEGMENT_ORDERS}, "
                             f"got {self.segment_order!r}")
        if not 0 <= self.t0_sample < self.signals.shape[2]:
            raise BasisError(f"{src}: t0_sample {self.t0_sample} outside the "
                             f"{self.signals.shape[2]} samples")

    def __len__(self) -> int:
        return int(self.positions.shape[0])

    @property
    def n_samples(self) -> int:
        return int(self.signals.shape[2])

    @cached_property
    def segment_indices(self) -> tuple[np.ndarray, ...]:
        """For each of the 36 segments, the (sorted) indices of its basis points."""
        order = np.argsort(self.segment, kind="stable")
        counts = np.bincount(self.segment.astype(np.int64), minlength=36)[:36]
        bounds = np.concatenate([[0], np.cumsum(counts)])
        return tuple(order[bounds[s]:bounds[s + 1]] for s in range(36))
