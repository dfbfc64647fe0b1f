"""A toy physical-ish signal model for PSA tests and benchmarks (not a field calculation).

A true-coaxial n-type crystal (radius ``radius``, bore ``bore``, length ``length``, 6 sectors of 60°
starting at φ = 0, rings between ``ring_edges``). An interaction at (r, φ, z) makes holes drift
radially out at ``v_holes`` and electrons in at ``v_electrons`` (mm/ns). The charge induced on
segment (sector, ring) is ``w(hole position) − w(electron position)`` with the weighting potential

    w = f(r) · G_sector(φ; r) · H_ring(z; r),   f(r) = ((r − bore) / (radius − bore))^1.5

where G and H are the weighting potentials of a strip electrode in a plane at distance
``d = 0.02 mm + (radius − r)`` (``(arctan((x + a)/d) − arctan((x − a)/d))/π`` over the arc length
and over z): smooth with long tails inside the crystal and sharp at the surface, so the hit
segment ends at exactly +1, its neighbours carry transients that return to 0, and the
core (Σ of the segments) ends at +1. Signals go through a single-pole preamplifier (``tau_ns``),
computed on ``substeps`` sub-samples per 10 ns sample. Everything is smooth in position, so a basis
made on a 2 mm grid (:func:`toy_basis`) and events at continuous positions and fractional times
(:func:`simulate_events`) are a fair test of a grid search: the events are *not* basis signals.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.signal import lfilter

from gpsa.basis.model import Basis
from gpsa.block import CrystalBlock
from gpsa.psa.masks import segment_index


@dataclass(frozen=True)
class ToyCrystal:
    radius: float = 40.0
    bore: float = 5.0
    length: float = 90.0
    ring_edges: tuple[float, ...] = (0.0, 8.0, 22.0, 36.0, 54.0, 72.0, 90.0)
    v_holes: float = 0.09  # mm/ns
    v_electrons: float = 0.11
    tau_ns: float = 35.0
    sampling_ns: float = 10.0
    substeps: int = 5
    segment_order: str = "sector-major"
    edge_width: tuple[float, float] = field(default=(0.02, 1.0))  # d at r=R, growth per mm

    @classmethod
    def small(cls) -> ToyCrystal:
        """A 32 mm x 24 mm crystal for fast tests (~2,300 points on a 2 mm grid)."""
        return cls(radius=16.0, bore=3.0, length=24.0,
                   ring_edges=(0.0, 4.0, 8.0, 12.0, 16.0, 20.0, 24.0))

    def segment_of(self, pos: np.ndarray) -> np.ndarray:
        phi = np.mod(np.arctan2(pos[:, 1], pos[:, 0]), 2 * np.pi)
        sector = np.minimum((phi / (np.pi / 3)).astype(np.int64), 5)
        ring = np.clip(np.searchsorted(self.ring_edges, pos[:, 2], side="right") - 1, 0, 5)
        return segment_index(sector, ring, self.segment_order).astype(np.int64)

    def _weighting(self, r: np.ndarray, phi: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Segment weighting potentials (..., 36) at radius r (and the point's phi, z)."""
        width = self.edge_width[0] + self.edge_width[1] * (self.radius - r)
        f = np.clip((r - self.bore) / (self.radius - self.bore), 0, 1) ** np.float32(1.5)
        centres = ((np.arange(6) + 0.5) * (np.pi / 3)).astype(np.float32)
        pi, sixth = np.float32(np.pi), np.float32(np.pi / 6)
        dphi = np.mod(phi[..., None] - centres + pi, 2 * pi) - pi  # (..., 6)
        arc = r[..., None] / width[..., None]
        g = (np.arctan((dphi + sixth) * arc) - np.arctan((dphi - sixth) * arc)) / pi
        lo = np.array(self.ring_edges[:-1], np.float32)
        hi = np.array(self.ring_edges[1:], np.float32)
        lo[0], hi[-1] = -1e3, 1e3
        wz = width[..., None]
        h = (np.arctan((z[..., None] - lo) / wz) - np.arctan((z[..., None] - hi) / wz)) / pi
        w = f[..., None, None] * g[..., :, None] * h[..., None, :]  # (..., sector, ring)
        out = np.empty(w.shape[:-2] + (36,), np.float32)
        sec, ring = np.meshgrid(np.arange(6), np.arange(6), indexing="ij")
        out[..., segment_index(sec, ring, self.segment_order).ravel()] = w.reshape(
            w.shape[:-2] + (36,))
        return out

    def signals(self, pos: np.ndarray, n_samples: int, t0: np.ndarray | float,
                chunk: int = 512) -> np.ndarray:
        """(n, 37, n_samples) float32 unit-charge signals of interactions at ``pos`` (mm) that
        happen at (fractional) sample ``t0``."""
        pos = np.atleast_2d(np.asarray(pos, np.float64))
        t0 = np.broadcast_to(np.asarray(t0, np.float64), (pos.shape[0],))
        out = np.empty((pos.shape[0], 37, n_samples), np.float32)
        for a in range(0, pos.shape[0], chunk):
            out[a:a + chunk] = self._signals_chunk(pos[a:a + chunk], n_samples, t0[a:a + chunk])
        return out

    def _signals_chunk(self, pos: np.ndarray, n_samples: int, t0: np.ndarray) -> np.ndarray:
        sub = self.substeps
        tf = (np.arange(n_samples * sub) / sub)[None, :] - t0[:, None]  # samples after T0
        t_ns = (np.maximum(tf, 0.0) * self.sampling_ns).astype(np.float32)
        r = np.hypot(pos[:, 0], pos[:, 1]).astype(np.float32)[:, None]
        phi = np.broadcast_to(np.arctan2(pos[:, 1], pos[:, 0]).astype(np.float32)[:, None],
                              t_ns.shape)
        z = np.broadcast_to(pos[:, 2].astype(np.float32)[:, None], t_ns.shape)
        r_h = np.minimum(r + self.v_holes * t_ns, self.radius)
        r_e = np.maximum(r - self.v_electrons * t_ns, self.bore)
        q = self._weighting(r_h, phi, z) - self._weighting(r_e, phi, z)  # (n, T, 36)
        q = np.concatenate([q, q.sum(axis=2, keepdims=True)], axis=2)
        q = np.moveaxis(q, 1, 2)  # (n, 37, T)
        a = np.exp(-self.sampling_ns / sub / self.tau_ns)
        q = lfilter([1 - a], [1, -a], q, axis=2)
        return q[:, :, sub - 1::sub].astype(np.float32)

    def lattice(self, grid_mm: float) -> np.ndarray:
        """Grid points (k + 1/2)·grid inside the crystal, (N, 3) float32 (ring edges and sector
        boundaries must not fall on lattice planes)."""
        xy = (np.arange(-np.ceil(self.radius / grid_mm), np.ceil(self.radius / grid_mm)) + 0.5)
        zz = np.arange(0, np.floor(self.length / grid_mm)) + 0.5
        g = np.stack(np.meshgrid(xy, xy, zz, indexing="ij"), axis=-1).reshape(-1, 3) * grid_mm
        rr = np.hypot(g[:, 0], g[:, 1])
        return g[(rr <= self.radius) & (rr > self.bore)].astype(np.float32)

    def random_positions(self, n: int, rng: np.random.Generator) -> np.ndarray:
        out = np.empty((0, 3))
        while out.shape[0] < n:
            p = rng.uniform([-self.radius, -self.radius, 0], [self.radius, self.radius,
                                                               self.length], (2 * n, 3))
            rr = np.hypot(p[:, 0], p[:, 1])
            out = np.concatenate([out, p[(rr < self.radius - 0.1) & (rr > self.bore + 0.1)]])
        return out[:n]


def toy_basis(crystal: ToyCrystal | None = None, grid_mm: float = 2.0, n_samples: int = 56,
              t0_sample: int = 10) -> Basis:
    """A basis of the toy crystal on a ``grid_mm`` lattice."""
    crystal = crystal or ToyCrystal()
    pos = crystal.lattice(grid_mm)
    return Basis(positions=pos, segment=crystal.segment_of(pos).astype(np.int16),
                 signals=crystal.signals(pos, n_samples, float(t0_sample)),
                 t0_sample=t0_sample, grid_mm=grid_mm, segment_order=crystal.segment_order,
                 preamp_tau_ns=crystal.tau_ns, generator="gpsa.bench.toy.toy_basis")


@dataclass(frozen=True)
class Truth:
    event: np.ndarray  # (m,) event of each interaction
    segment: np.ndarray
    position: np.ndarray  # (m, 3) mm
    energy: np.ndarray
    t0: np.ndarray  # (n,) true T0 of each event (samples)


def simulate_events(crystal: ToyCrystal, n: int, *, n_samples: int = 80, t0: float = 20.0,
                    t0_jitter: float = 0.5, noise: float = 0.01, interactions: int = 1,
                    energy: tuple[float, float] = (150.0, 1500.0), seed: int = 0,
                    ) -> tuple[CrystalBlock, Truth]:
    """Events of ``interactions`` interactions in distinct segments, white noise of ``noise`` ×
    the largest interaction energy (keV rms per sample), true T0 = t0 + U(±t0_jitter) given to
    the block exactly (fractional)."""
    rng = np.random.default_rng(seed)
    m = n * interactions
    pos = crystal.random_positions(4 * m + 16, rng)
    seg = crystal.segment_of(pos)
    ev = np.repeat(np.arange(n), interactions)
    chosen = np.zeros(m, np.int64)
    used = 0
    for i in range(n):  # distinct segments within an event
        seen: set[int] = set()
        for k in range(interactions):
            while int(seg[used]) in seen:
                used += 1
            chosen[i * interactions + k] = used
            seen.add(int(seg[used]))
            used += 1
    pos, seg = pos[chosen], seg[chosen]
    e = rng.uniform(*energy, m).astype(np.float32)
    t_true = t0 + rng.uniform(-t0_jitter, t0_jitter, n)
    sig = crystal.signals(pos, n_samples, t_true[ev])
    traces = np.zeros((n, 38, n_samples), np.float32)
    np.add.at(traces[:, :37], ev, e[:, None, None] * sig)
    e_max = np.zeros(n, np.float32)
    np.maximum.at(e_max, ev, e)
    traces[:, :37] += (noise * e_max)[:, None, None] * rng.standard_normal(
        (n, 37, n_samples)).astype(np.float32)
    traces[:, 37] = traces[:, 36]
    energies = np.zeros((n, 38), np.float32)
    np.add.at(energies, (ev, seg), e)
    energies[:, 36] = energies[:, 37] = energies[:, :36].sum(axis=1)
    block = CrystalBlock.from_traces(traces, energies=energies, t0=t_true.astype(np.float32))
    return block, Truth(event=ev, segment=seg, position=pos.astype(np.float32), energy=e,
                        t0=t_true)
