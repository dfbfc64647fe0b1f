"""Numba kernels of the photon physics: random numbers, attenuation look-up, Klein–Nishina
sampling, direction rotations. Public wrappers and references are in :mod:`.physics`.

Random numbers: one SplitMix64 stream per primary gamma, seeded from ``(seed, gamma index)``,
so results do not depend on the number of threads or on how the gammas are split into chunks.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from gpsa._numba import jit_options

_OPTS = jit_options(fastmath=False)
GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_TO_UNIT = 1.0 / 9007199254740992.0  # 2**-53
TWO_PI = 2.0 * math.pi


@numba.njit(**_OPTS)
def mix64(z: np.uint64) -> np.uint64:
    """SplitMix64 finaliser."""
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@numba.njit(**_OPTS)
def stream_seed(seed: np.uint64, index: np.uint64) -> np.uint64:
    """Start state of stream ``index`` of run ``seed``."""
    return mix64(mix64(seed + GOLDEN) ^ (index * _M2 + GOLDEN))


@numba.njit(**_OPTS)
def uniform(state: np.ndarray) -> float:
    """Next uniform in (0, 1) from the 1-element uint64 ``state`` (advanced in place)."""
    state[0] += GOLDEN
    return (float(mix64(state[0]) >> _S11) + 0.5) * _TO_UNIT


@numba.njit(**_OPTS)
def mu_at(mu: np.ndarray, log_e0: float, inv_dlog: float, e: float, k: int) -> float:
    """Column ``k`` of the (n, 4) coefficient table at energy ``e`` keV (linear on log E)."""
    x = (math.log(e) - log_e0) * inv_dlog
    n = mu.shape[0]
    i = int(math.floor(x))
    if i < 0:
        i = 0
    elif i > n - 2:
        i = n - 2
    f = x - i
    return mu[i, k] * (1.0 - f) + mu[i + 1, k] * f


@numba.njit(**_OPTS)
def klein_nishina(k: float, state: np.ndarray) -> float:
    """Sample ``eps = E'/E`` of a Compton scattering on a free electron at rest, ``k = E/mc²``.

    The Geant4 "standard" method (G4KleinNishinaCompton, after Butcher & Messel): ``eps`` from
    a mixture of ``1/eps`` on [eps0, 1] and ``eps`` on [eps0, 1] (eps0 = 1/(1+2k)), accepted with
    ``g = 1 − eps·sin²θ/(1 + eps²)``; together ∝ (1/eps + eps)(1 − eps sin²θ/(1 + eps²)), the
    Klein–Nishina cross section dσ/d eps.
    """
    eps0 = 1.0 / (1.0 + 2.0 * k)
    eps0sq = eps0 * eps0
    alpha1 = -math.log(eps0)
    alpha2 = alpha1 + 0.5 * (1.0 - eps0sq)
    while True:
        if alpha1 > alpha2 * uniform(state):
            eps = math.exp(-alpha1 * uniform(state))
            epssq = eps * eps
        else:
            epssq = eps0sq + (1.0 - eps0sq) * uniform(state)
            eps = math.sqrt(epssq)
        onecost = (1.0 - eps) / (eps * k)
        sint2 = onecost * (2.0 - onecost)
        if 1.0 - eps * sint2 / (1.0 + epssq) >= uniform(state):
            return eps


@numba.njit(**_OPTS)
def thomson_cos(state: np.ndarray) -> float:
    """cos θ from (1 + cos²θ) (Rayleigh scattering without atomic form factor)."""
    while True:
        c = 2.0 * uniform(state) - 1.0
        if 2.0 * uniform(state) <= 1.0 + c * c:
            return c


@numba.njit(**_OPTS)
def isotropic(out: np.ndarray, state: np.ndarray) -> None:
    """A uniform direction on the sphere into ``out`` (3,)."""
    c = 2.0 * uniform(state) - 1.0
    s = math.sqrt(max(0.0, 1.0 - c * c))
    phi = TWO_PI * uniform(state)
    out[0] = s * math.cos(phi)
    out[1] = s * math.sin(phi)
    out[2] = c


@numba.njit(**_OPTS)
def deflect(d: np.ndarray, cost: float, phi: float) -> None:
    """Turn the unit vector ``d`` (in place) by polar angle acos(cost) and azimuth ``phi``
    about itself (Geant4's ``rotateUz``)."""
    sint = math.sqrt(max(0.0, 1.0 - cost * cost))
    px, py, pz = sint * math.cos(phi), sint * math.sin(phi), cost
    ux, uy, uz = d[0], d[1], d[2]
    up = ux * ux + uy * uy
    if up > 0.0:
        up = math.sqrt(up)
        d[0] = (ux * uz * px - uy * py) / up + ux * pz
        d[1] = (uy * uz * px + ux * py) / up + uy * pz
        d[2] = -up * px + uz * pz
    elif uz < 0.0:
        d[0], d[1], d[2] = -px, py, -pz
    else:
        d[0], d[1], d[2] = px, py, pz
    norm = math.sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2])
    d[0] /= norm
    d[1] /= norm
    d[2] /= norm


@numba.njit(**_OPTS)
def sample_compton_batch(k: float, n: int, seed: np.uint64) -> np.ndarray:
    """``n`` samples of eps at ``k = E/mc²`` (streams 0..n-1 of ``seed``); for the tests."""
    out = np.empty(n)
    state = np.zeros(1, np.uint64)
    for i in range(n):
        state[0] = stream_seed(seed, np.uint64(i))
        out[i] = klein_nishina(k, state)
    return out
