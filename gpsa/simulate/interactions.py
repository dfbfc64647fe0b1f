"""Truth interactions: how many per event, where (inside the germanium) and how much energy.

Positions (mm, crystal frame): the first interaction of an event is uniform in the volume; each
further one is a step from the previous one in an isotropic direction with an exponential length
of mean ``step_mm`` (a gamma-like chain). Points are drawn inside the bounding box of the basis
positions (the germanium beyond the outermost grid planes, < 1 grid step, is not sampled) and
accepted when

* without a crystal geometry: all 8 basis grid points around it exist (interpolation is fully
  supported);
* with a geometry (anything with ``contains(xyz) -> bool``, e.g.
  :class:`gpsa.detector.segmentation.CrystalGeometry`): it lies in the germanium and at least
  ``min_support`` of its trilinear weight falls on existing basis points.

Rejected steps are redrawn (up to 20 times); an event whose next step never lands inside keeps
the interactions it has. The event energy (a line, or uniform) is split among its interactions
with Dirichlet(1, …, 1) fractions. The truth segment is the segment of the nearest basis point
(in the basis's segment order), i.e. the segment whose signal dominates the interpolation.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from gpsa.basis.grid import BasisGrid
from gpsa.errors import ConfigError

from .config import SimConfig

log = logging.getLogger(__name__)

MAX_STEP_TRIES = 20


class Volume(Protocol):
    def contains(self, xyz: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class Interactions:
    """Flat table of the interactions of a batch of ``n`` events, event-major."""

    event: np.ndarray  # (M,) int64, index of the event in the batch, non-decreasing
    index: np.ndarray  # (M,) int64, interaction number within its event (0 = first)
    xyz: np.ndarray  # (M, 3) float64, mm, crystal frame
    energy: np.ndarray  # (M,) float64, keV
    segment: np.ndarray  # (M,) int16, in the basis segment order
    counts: np.ndarray  # (n,) int64, interactions per event (>= 1)

    def __len__(self) -> int:
        return int(self.event.shape[0])

    def events(self, lo: int, hi: int) -> Interactions:
        """The interactions of events ``lo..hi-1``, renumbered from 0."""
        a, b = np.searchsorted(self.event, [lo, hi])
        return Interactions(event=self.event[a:b] - lo, index=self.index[a:b],
                            xyz=self.xyz[a:b], energy=self.energy[a:b],
                            segment=self.segment[a:b], counts=self.counts[lo:hi])


def given_interactions(event: np.ndarray, xyz: np.ndarray, energy: np.ndarray,
                       grid: BasisGrid) -> Interactions:
    """Interactions from given points (e.g. a gamma-ray transport): ``event`` (M,) with values
    0..n-1, non-decreasing, every event at least one point; ``xyz`` (M, 3) mm, crystal frame;
    ``energy`` (M,) keV. Segments as for drawn points (nearest basis point)."""
    ev = np.asarray(event, np.int64)
    pts = np.asarray(xyz, np.float64).reshape(-1, 3)
    e = np.asarray(energy, np.float64)
    if not (len(ev) == len(pts) == len(e)) or np.any(np.diff(ev) < 0) or (
            len(ev) and ev[0] < 0):
        raise ConfigError("given interactions: event, xyz and energy must have one row per "
                          "point, events non-negative and non-decreasing")
    counts = np.bincount(ev, minlength=int(ev[-1]) + 1 if len(ev) else 0).astype(np.int64)
    if np.any(counts == 0):
        raise ConfigError("given interactions: every event needs at least one point")
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    index = np.arange(len(ev), dtype=np.int64) - starts[ev]
    segment = grid.basis.segment[grid.nearest(pts)].astype(np.int16) if len(pts) else \
        np.zeros(0, np.int16)
    return Interactions(event=ev, index=index, xyz=pts, energy=e, segment=segment,
                        counts=counts)


class PointSampler:
    """Draws accepted points for one basis (and optionally a crystal geometry)."""

    def __init__(self, grid: BasisGrid, geometry: Volume | None = None,
                 min_support: float = 0.25) -> None:
        self.grid = grid
        self.geometry = geometry
        self.threshold = min_support if geometry is not None else 1.0 - 1e-9
        pos = np.asarray(grid.basis.positions, np.float64)
        self.lo, self.hi = pos.min(axis=0), pos.max(axis=0)

    def accept(self, xyz: np.ndarray) -> np.ndarray:
        inside = np.all((xyz >= self.lo) & (xyz <= self.hi), axis=1)
        ok = inside.copy()
        if ok.any():
            ok[ok] = self.grid.support(xyz[ok]) >= self.threshold
        if self.geometry is not None and ok.any():
            ok[ok] = np.asarray(self.geometry.contains(xyz[ok]), bool)
        return ok

    def uniform(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` accepted points uniform in the accepted volume, (n, 3) float64 mm."""
        out = np.empty((n, 3))
        filled, rate = 0, 0.5
        for _ in range(200):
            if filled == n:
                return out
            want = n - filled
            cand = rng.uniform(self.lo, self.hi, (int(want / rate) + 16, 3))
            ok = self.accept(cand)
            if not ok.any() and filled == 0 and len(cand) >= 1000:
                break
            rate = max(0.01, ok.mean()) if ok.any() else 0.01
            take = cand[ok][:want]
            out[filled:filled + len(take)] = take
            filled += len(take)
        raise ConfigError(f"{self.grid.basis.source}: cannot draw points inside the crystal: the "
                          f"basis grid and the crystal geometry hardly overlap (is the basis in "
                          f"gpsa's crystal frame? otherwise simulate without a geometry)")

    def step_from(self, start: np.ndarray, step_mm: float,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """One isotropic exponential step from each start point: (points, ok)."""
        out = start.copy()
        todo = np.arange(len(start))
        for _ in range(MAX_STEP_TRIES):
            if todo.size == 0:
                break
            d = rng.normal(size=(todo.size, 3))
            d /= np.linalg.norm(d, axis=1, keepdims=True)
            cand = start[todo] + d * rng.exponential(step_mm, (todo.size, 1))
            ok = self.accept(cand)
            out[todo[ok]] = cand[ok]
            todo = todo[~ok]
        good = np.ones(len(start), bool)
        good[todo] = False
        return out, good


def draw_interactions(n: int, sampler: PointSampler, config: SimConfig,
                      rng: np.random.Generator) -> Interactions:
    """Multiplicities, positions, energies and segments of ``n`` events (vectorised)."""
    p = config.multiplicity_p
    wanted = rng.choice(len(p), size=n, p=p) + 1
    pts = np.zeros((n, len(p), 3))
    valid = np.zeros((n, len(p)), bool)
    pts[:, 0] = sampler.uniform(n, rng)
    valid[:, 0] = True
    for k in range(1, len(p)):
        rows = np.flatnonzero(valid[:, k - 1] & (wanted > k))
        if rows.size:
            nxt, ok = sampler.step_from(pts[rows, k - 1], config.step_mm, rng)
            pts[rows, k] = nxt
            valid[rows[ok], k] = True
    counts = valid.sum(axis=1)
    if np.any(counts < wanted):
        log.debug("%d of %d events lost interactions that left the crystal",
                  int(np.sum(counts < wanted)), n)
    if config.energy_mode == "lines":
        total = np.asarray(config.lines_kev)[rng.choice(len(config.lines_kev), n, p=config.line_p)]
    else:
        total = rng.uniform(*config.uniform_kev, n)
    share = np.where(valid, rng.exponential(1.0, valid.shape), 0.0)
    share /= share.sum(axis=1, keepdims=True)
    event, index = np.nonzero(valid)  # row-major: event-major, interactions in order
    xyz = pts[event, index]
    energy = (share * total[:, None])[event, index]
    segment = sampler.grid.basis.segment[sampler.grid.nearest(xyz)].astype(np.int16)
    return Interactions(event=event.astype(np.int64), index=index.astype(np.int64), xyz=xyz,
                        energy=energy, segment=segment, counts=counts.astype(np.int64))
