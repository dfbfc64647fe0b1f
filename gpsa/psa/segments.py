"""Per-segment search tables: the basis points of a segment, their mask-channel signals cropped to
the compared samples, and the Adaptive Grid Search lattice.

AGS lattice (gpsa's construction, after the public description):

* grid coordinates ``g = round((position - min) / grid_mm)``; the coarse points of a segment are its
  basis points with every coordinate a multiple of ``coarse_step`` (3 → a 6 mm lattice on a 2 mm
  grid);
* the fine list of a coarse point holds every basis point of the segment within a Chebyshev
  distance ``fine_radius_mm`` (±6 mm cube: up to 7³ = 343 points);
* a point not covered by any fine list (segment corners cut by the lattice) becomes a coarse point
  itself, so the coarse-then-fine search can reach every basis point.

Candidate lists are CSR: ``(ptr, idx)`` with local indices into the segment's points.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gpsa.basis.model import Basis


@dataclass(frozen=True, eq=False)
class SegmentTable:
    """Search data of one hit segment."""

    segment: int
    channels: np.ndarray  # (C,) int64 mask channels
    points: np.ndarray  # (Ns,) int64 basis indices
    signals: np.ndarray  # (Ns, C, K) float32, C-contiguous
    norm2: np.ndarray  # (Ns, C) float32, per-channel squared norms (p = 2 matrix form)
    centre: int  # local index of the point nearest the segment's centroid
    coarse: np.ndarray  # (Nc,) int64 local indices of the coarse lattice
    fine_ptr: np.ndarray  # (Nc + 1,) int64
    fine_idx: np.ndarray  # local indices of the fine list of each coarse point

    @property
    def n_points(self) -> int:
        return int(self.points.shape[0])

    @property
    def flat(self) -> np.ndarray:
        """Signals as (Ns, C*K), a view."""
        return self.signals.reshape(self.signals.shape[0], -1)

    def all_points(self) -> tuple[np.ndarray, np.ndarray]:
        """CSR candidate list holding every point of the segment (one group)."""
        return np.array([0, self.n_points], np.int64), np.arange(self.n_points, dtype=np.int64)

    def coarse_points(self) -> tuple[np.ndarray, np.ndarray]:
        """CSR candidate list holding the coarse lattice (one group)."""
        return np.array([0, self.coarse.size], np.int64), self.coarse


def grid_coordinates(positions: np.ndarray, grid_mm: float) -> np.ndarray:
    """Integer grid coordinates of positions (mm) on a ``grid_mm`` lattice, (N, 3) int64."""
    origin = positions.min(axis=0)
    return np.rint((positions - origin) / grid_mm).astype(np.int64)


def ags_lattice(grid: np.ndarray, coarse_step: int, radius_steps: int
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Coarse local indices and CSR fine lists for one segment's integer grid coordinates."""
    n = grid.shape[0]
    coarse_mask = np.all(grid % coarse_step == 0, axis=1)
    coarse = list(np.flatnonzero(coarse_mask))
    covered = np.zeros(n, dtype=bool)
    for c in coarse:
        covered |= np.max(np.abs(grid - grid[c]), axis=1) <= radius_steps
    while not covered.all():  # add uncovered corners as coarse points
        c = int(np.flatnonzero(~covered)[0])
        coarse.append(c)
        covered |= np.max(np.abs(grid - grid[c]), axis=1) <= radius_steps
    coarse_arr = np.asarray(sorted(coarse), dtype=np.int64)
    lists = [np.flatnonzero(np.max(np.abs(grid - grid[c]), axis=1) <= radius_steps)
             for c in coarse_arr]
    ptr = np.concatenate([[0], np.cumsum([len(x) for x in lists])]).astype(np.int64)
    idx = np.concatenate(lists).astype(np.int64) if lists else np.zeros(0, np.int64)
    return coarse_arr, ptr, idx


def build_segment_tables(basis: Basis, mask: np.ndarray, first_sample: int, samples: int,
                         coarse_step: int, fine_radius_mm: float) -> list[SegmentTable | None]:
    """One :class:`SegmentTable` per segment (None for a segment without basis points)."""
    grid = grid_coordinates(np.asarray(basis.positions, np.float64), basis.grid_mm)
    radius_steps = int(np.floor(fine_radius_mm / basis.grid_mm + 1e-9))
    window = slice(first_sample, first_sample + samples)
    tables: list[SegmentTable | None] = []
    for seg, points in enumerate(basis.segment_indices):
        if points.size == 0:
            tables.append(None)
            continue
        points = np.asarray(points, dtype=np.int64)
        channels = np.flatnonzero(mask[seg]).astype(np.int64)
        sig = np.ascontiguousarray(
            np.asarray(basis.signals[points][:, channels, window], dtype=np.float32))
        pos = np.asarray(basis.positions[points], np.float64)
        centre = int(np.argmin(np.sum((pos - pos.mean(axis=0)) ** 2, axis=1)))
        coarse, fptr, fidx = ags_lattice(grid[points], coarse_step, radius_steps)
        tables.append(SegmentTable(
            segment=seg, channels=channels, points=points, signals=sig,
            norm2=np.einsum("nck,nck->nc", sig, sig).astype(np.float32),
            centre=centre, coarse=coarse, fine_ptr=fptr, fine_idx=fidx))
    return tables
