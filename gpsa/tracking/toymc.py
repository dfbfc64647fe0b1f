"""A toy Compton-chain generator for tracking tests and the bench — *not* the transport
simulation of the array (``gpsa.simulate.transport``).

Photons leave a point source isotropically and cross a full spherical shell of germanium
(radii ``inner_mm`` < r < ``outer_mm``, no gaps, no other material). Free paths follow the
total attenuation; at each interaction the process is drawn from the coefficients
(photo-absorption ends the photon; Compton scattering samples the Klein–Nishina angle by
rejection; pair production, when the coefficients have it, deposits E − 2 m c² and ends the
photon, i.e. the annihilation quanta are not followed). Each interaction is one hit:
no merging of close points, no energy threshold.

    truth = generate(200, [1332.5], seed=1)            # one gamma per event
    truth = generate(200, [1173.2, 1332.5], seed=1)    # a cascade: two gammas per event
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numba
import numpy as np

from gpsa.tracking.physics import MEC2_KEV, AttenuationGrid, analytic_attenuation


@dataclass(frozen=True, eq=False)
class ToyEvents:
    """Interactions of the toy, event by event (CSR), each gamma's in time order.

    positions: (m, 3) lab mm; energies: (m,) keV; crystal: (m,) int64 "crystal" of the hit, one
    of :data:`N_TILES` tiles of equal solid angle (6 bands in cos θ × 12 in φ) standing in for
    the crystals; gamma: (m,) int64 gamma id (global);
    step: (m,) int64 index of the interaction within its gamma (0 = first);
    offsets: (n + 1,) int64 CSR of events; emitted: (n_gammas,) keV, gamma_event: (n_gammas,)
    int64 event of each gamma."""

    positions: np.ndarray
    energies: np.ndarray
    crystal: np.ndarray
    gamma: np.ndarray
    step: np.ndarray
    offsets: np.ndarray
    emitted: np.ndarray
    gamma_event: np.ndarray

    def __len__(self) -> int:
        return int(self.offsets.shape[0] - 1)


@numba.njit(cache=True)
def _lerp(x: float, xs: np.ndarray, ys: np.ndarray) -> float:
    return math.exp(np.interp(math.log(x), xs, ys))


@numba.njit(cache=True)
def _kn_cos(k: float) -> float:
    """cos θ of a Compton scattering (k = E / m c²): Klein–Nishina by rejection (f ≤ 2)."""
    while True:
        c = 2.0 * np.random.random() - 1.0
        p = 1.0 / (1.0 + k * (1.0 - c))
        if 2.0 * np.random.random() <= p * p * (p + 1.0 / p - (1.0 - c * c)):
            return c


@numba.njit(cache=True)
def _kn_batch(k: float, n: int, seed: int) -> np.ndarray:
    np.random.seed(seed)
    out = np.empty(n)
    for i in range(n):
        out[i] = _kn_cos(k)
    return out


def sample_klein_nishina(energy_kev: float, n: int, seed: int = 0) -> np.ndarray:
    """``n`` values of cos θ drawn as the toy draws them."""
    return _kn_batch(energy_kev / MEC2_KEV, n, seed)


@numba.njit(cache=True)
def _chains(dirs: np.ndarray, e0: np.ndarray, inner: float, outer: float, grid_e: np.ndarray,
            grid_p: np.ndarray, grid_c: np.ndarray, grid_t: np.ndarray, seed: int,
            max_steps: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    np.random.seed(seed)
    n = e0.shape[0]
    pos = np.empty((n * max_steps, 3))
    dep = np.empty(n * max_steps)
    gam = np.empty(n * max_steps, np.int64)
    stp = np.empty(n * max_steps, np.int64)
    m = 0
    for g in range(n):
        e = e0[g]
        u = dirs[g].copy()
        x = u * inner
        for s in range(max_steps):
            mu = _lerp(e, grid_e, grid_t)
            x = x + u * (-math.log(1.0 - np.random.random()) / mu)
            if x[0] * x[0] + x[1] * x[1] + x[2] * x[2] > outer * outer:
                break
            pr = np.random.random() * mu
            photo = _lerp(e, grid_e, grid_p)
            compton = _lerp(e, grid_e, grid_c)
            pos[m] = x
            gam[m] = g
            stp[m] = s
            if pr < photo or (pr >= photo + compton and e <= 2.0 * MEC2_KEV):
                dep[m] = e
                m += 1
                break
            if pr >= photo + compton:  # pair production
                dep[m] = e - 2.0 * MEC2_KEV
                m += 1
                break
            c = _kn_cos(e / MEC2_KEV)
            e_out = e / (1.0 + e / MEC2_KEV * (1.0 - c))
            dep[m] = e - e_out
            m += 1
            e = e_out
            sn = math.sqrt(max(0.0, 1.0 - c * c))
            phi = 2.0 * math.pi * np.random.random()
            # any unit vector perpendicular to u, then rotate
            if abs(u[2]) < 0.9:
                ax, ay, az = -u[1], u[0], 0.0
            else:
                ax, ay, az = 0.0, -u[2], u[1]
            na = math.sqrt(ax * ax + ay * ay + az * az)
            ax, ay, az = ax / na, ay / na, az / na
            bx, by, bz = u[1] * az - u[2] * ay, u[2] * ax - u[0] * az, u[0] * ay - u[1] * ax
            cp, sp = math.cos(phi), math.sin(phi)
            u = np.array([c * u[0] + sn * (cp * ax + sp * bx), c * u[1] + sn * (cp * ay + sp * by),
                          c * u[2] + sn * (cp * az + sp * bz)])
            u = u / math.sqrt(u[0] * u[0] + u[1] * u[1] + u[2] * u[2])
    return pos[:m], dep[:m], gam[:m], stp[:m]


def generate(n_events: int, lines_kev: Sequence[float], *, seed: int = 0,
             inner_mm: float = 150.0, outer_mm: float = 240.0,
             grid: AttenuationGrid | None = None, max_steps: int = 30) -> ToyEvents:
    """``n_events`` events, each emitting one gamma of every energy in ``lines_kev``
    (isotropic, independent directions); see the module docstring."""
    if grid is None:
        grid = AttenuationGrid.sample(analytic_attenuation, "analytic")
    rng = np.random.default_rng(seed)
    lines = np.asarray(lines_kev, np.float64)
    e0 = np.tile(lines, n_events)
    n = e0.shape[0]
    v = rng.normal(size=(n, 3))
    dirs = v / np.linalg.norm(v, axis=1)[:, None]
    pos, dep, gam, stp = _chains(dirs, e0, float(inner_mm), float(outer_mm), grid.log_e,
                                 grid.log_photo, grid.log_compton, grid.log_total,
                                 int(rng.integers(2**31 - 1)), max_steps)
    gamma_event = np.repeat(np.arange(n_events, dtype=np.int64), lines.shape[0])
    ev = gamma_event[gam]
    offsets = np.concatenate([[0], np.cumsum(np.bincount(ev, minlength=n_events))])
    return ToyEvents(pos, dep, tiles(pos), gam, stp, offsets.astype(np.int64), e0, gamma_event)


N_TILES = 72


def tiles(positions: np.ndarray) -> np.ndarray:
    """Tile (0..71) of each position: 6 bands of cos θ × 12 sectors of φ, equal solid angle."""
    r = np.linalg.norm(positions, axis=1)
    cos_t = np.clip(positions[:, 2] / np.where(r > 0, r, 1.0), -1.0, 1.0 - 1e-12)
    phi = np.mod(np.arctan2(positions[:, 1], positions[:, 0]), 2 * np.pi)
    band = np.floor((cos_t + 1.0) / 2.0 * 6).astype(np.int64)
    sector = np.minimum(np.floor(phi / (2 * np.pi) * 12).astype(np.int64), 11)
    return band * 12 + sector


def with_noise(positions: np.ndarray, sigma_mm: float, seed: int = 0) -> np.ndarray:
    """``positions`` with Gaussian noise of ``sigma_mm`` on every coordinate (a new array)."""
    if sigma_mm <= 0:
        return positions.copy()
    return positions + np.random.default_rng(seed).normal(0.0, sigma_mm, positions.shape)
