"""In-memory signal basis: positions, segments and the 37 simulated signals of every grid point.

Signals are ``(N, 37, S)``: 36 segments (in ``segment_order``) then the core, normalised so that
the hit segment's net charge ends at +1 and the core at +1 (positive polarity). The arrays are
held as given (never copied here): a 2 mm basis is ~50k × 37 × 56 values (~400 MB in float32).

Segment orders: ``sector-major`` labels a segment ``6·sector + ring`` (AGATA PSA code),
``ring-major`` labels it ``6·ring + sector`` (GRETINA/GRETA); sector 0..5 (A–F), ring 0..5
(front to back). :meth:`Basis.to_segment_order` converts between them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from gpsa.errors import BasisError

N_BASIS_CHANNELS = 37
N_SEGMENTS = 36
CORE_CHANNEL = 36
SEGMENT_ORDERS = ("sector-major", "ring-major")


def check_segment_order(order: str, source: str = "<memory>") -> str:
    """Return ``order`` if it is a known segment order, else raise :class:`BasisError`."""
    if order not in SEGMENT_ORDERS:
        raise BasisError(f"{source}: segment_order must be one of {SEGMENT_ORDERS}, got {order!r}")
    return order


def sector_ring(segment: np.ndarray | int, order: str) -> tuple[np.ndarray, np.ndarray]:
    """(sector, ring) of segment label(s) given in ``order``."""
    seg = np.asarray(segment)
    check_segment_order(order)
    if order == "sector-major":
        return seg // 6, seg % 6
    return seg % 6, seg // 6


def segment_label(sector: np.ndarray | int, ring: np.ndarray | int, order: str) -> np.ndarray:
    """Segment label(s) of (sector, ring) in ``order``."""
    check_segment_order(order)
    s, r = np.asarray(sector), np.asarray(ring)
    return 6 * s + r if order == "sector-major" else 6 * r + s


def segment_permutation(from_order: str, to_order: str) -> np.ndarray:
    """``perm[old_label] = new_label`` (int64, shape (36,)) converting labels between orders.

    Between the two different orders this is the 6×6 transpose, which is its own inverse, so
    the same array also gives ``new_channels = old_channels[perm]``."""
    old = np.arange(N_SEGMENTS)
    sector, ring = sector_ring(old, from_order)
    return segment_label(sector, ring, to_order).astype(np.int64)


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
            raise BasisError(f"{src}: /positions must have shape (N, 3), "
                             f"got {self.positions.shape}")
        if self.segment.shape != (n,):
            raise BasisError(f"{src}: /segment must have shape ({n},), got {self.segment.shape}")
        if self.signals.ndim != 3 or self.signals.shape[:2] != (n, N_BASIS_CHANNELS):
            raise BasisError(f"{src}: /signals must have shape ({n}, {N_BASIS_CHANNELS}, S), "
                             f"got {self.signals.shape}")
        check_segment_order(self.segment_order, src)
        if not 0 <= self.t0_sample < self.signals.shape[2]:
            raise BasisError(f"{src}: t0_sample {self.t0_sample} outside the "
                             f"{self.signals.shape[2]} samples")

    def __len__(self) -> int:
        return int(self.positions.shape[0])

    @property
    def n_samples(self) -> int:
        return int(self.signals.shape[2])

    @property
    def nbytes(self) -> int:
        """Bytes held by the three arrays (signals dominate: N·37·S·itemsize)."""
        return int(self.positions.nbytes + self.segment.nbytes + self.signals.nbytes)

    @cached_property
    def segment_counts(self) -> np.ndarray:
        """Number of basis points per segment, shape (36,) int64."""
        return np.bincount(self.segment.astype(np.int64), minlength=N_SEGMENTS)[:N_SEGMENTS]

    @cached_property
    def segment_indices(self) -> tuple[np.ndarray, ...]:
        """For each of the 36 segments, the (sorted) indices of its basis points."""
        order = np.argsort(self.segment, kind="stable")
        counts = np.bincount(self.segment.astype(np.int64), minlength=36)[:36]
        bounds = np.concatenate([[0], np.cumsum(counts)])
        return tuple(order[bounds[s]:bounds[s + 1]] for s in range(36))

    def replace(self, **changes: object) -> Basis:
        """A new basis with some fields changed (arrays are shared, not copied)."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def to_segment_order(self, order: str) -> Basis:
        """The same basis with segments labelled in ``order``: permutes the 36 segment channels
        of ``signals`` (one copy of the signals array) and the ``segment`` labels. Returns
        ``self`` when the order is already ``order``."""
        check_segment_order(order, self.source)
        if order == self.segment_order:
            return self
        perm = segment_permutation(self.segment_order, order)
        channels = np.concatenate([perm, [CORE_CHANNEL]])
        # perm is an involution: new channel c holds old channel perm[c].
        signals = np.take(self.signals, channels, axis=1)
        segment = perm[self.segment.astype(np.int64)].astype(np.int16)
        return self.replace(signals=signals, segment=segment, segment_order=order)
