"""Charge-cloud size and diffusion: a Gaussian spread in time of each carrier's induced current.

The cloud of each carrier is modelled along its drift direction only, as the public generator
mjd_siggen (D. Radford, ``calc_signal.c``) does: a cloud of longitudinal size ``σ_x`` moving at
``v`` spreads the arrival of its charge over ``σ_t = σ_x / v``. Where the carriers accelerate or
slow down ``σ_x`` stretches or shrinks with ``v`` (siggen: ``size *= v1/v0``) and ``σ_t`` stays,
so only diffusion makes ``σ_t`` grow: ``dσ_x² = 2D·dt`` adds ``dσ_t² = 2D·dt / v²``. With the
Einstein relation ``D = μ·kT/q`` and the chord mobility ``μ = v/|E|`` (which falls at high field,
as the measured longitudinal diffusion does; Jacoboni et al., Phys. Rev. B 24 (1981) 1014)::

    σ_t²(t) = (cloud_sigma_mm / v(0))²  +  ∫₀ᵗ 2·(kT/q) / (|E|·v) dt'        (diffusion on)

``k = 8.617333262e-5 eV/K`` (CODATA 2018, exact since the 2019 SI), ``T = temperature_k``. At
77 K and low field (μ_h ≈ 4·10⁴ cm²/Vs) this gives D_h ≈ 265 cm²/s, the value quoted in
siggen's ``calc_signal.c``. ``v`` and ``|E|`` are taken along the drift path, step by step.

The current the carrier induces during fine step ``τ`` (centre ``c = τ − ½``) is spread over a
Gaussian of width ``σ_t(τ)`` (the spread reached by then), **reflected at the interaction
time**: what would land before ``t0`` lands as far after it. The signals stay 0 before ``t0``,
every increment of charge is kept (a settled signal keeps its final value), and the current
just after ``t0`` is unchanged to first order: the reflection is the mirror-image extension of
the current before ``t0``, i.e. the cloud's parts ahead and behind its centre all start moving
at once, as they do (a truncated, renormalised Gaussian would instead delay the early current
of a wide cloud). Holes and electrons are spread separately (each with its
own ``σ_t``). Not modelled: the transverse spread (charge shared between segments for points at
a boundary) and the cloud's self-repulsion (siggen's ``repulsion_fact``), which would need the
deposited energy; a basis is made for unit charge.
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from gpsa.basis.fields._jit import PJIT
from gpsa.basis.fields.interp import trilinear

#: Boltzmann constant, eV/K (CODATA 2018; exact in the 2019 SI).
BOLTZMANN_EV_PER_K = 8.617333262e-5
#: Half-width of the spreading window, in σ.
WINDOW_SIGMAS = 5.0
#: Spreads below this many fine steps are no spread at all.
MIN_SIGMA_STEPS = 1e-3


def time_spread(path: np.ndarray, t_end: np.ndarray, efield: np.ndarray, origin: np.ndarray,
                spacing: float, dt_ns: float, cloud_sigma_mm: float, diffusion: bool,
                temperature_k: float) -> np.ndarray:
    """``σ_t (n, n_keep)`` in ns of each carrier's cloud at the start of every fine step, from
    its ``path (n, n_keep, 3)`` (mm, every ``dt_ns``) and collection times ``t_end`` (ns; −1 or
    past the path: not collected, diffusion integrated over the whole path)."""
    n, n_keep = path.shape[:2]
    speed = np.zeros((n, n_keep))
    speed[:, :-1] = np.linalg.norm(np.diff(path, axis=1), axis=-1) / dt_ns
    ends = np.where(t_end >= 0, t_end, np.inf)
    full = (np.arange(1, n_keep + 1)[None, :] * dt_ns <= ends[:, None]) & (speed > 0)
    var = np.zeros((n, n_keep))
    if cloud_sigma_mm > 0:
        v0 = speed[:, 0]
        var += np.where(v0 > 0, (cloud_sigma_mm / np.where(v0 > 0, v0, 1.0)) ** 2, 0.0)[:, None]
    if diffusion:
        e = np.linalg.norm(trilinear(efield, origin, spacing, path.reshape(-1, 3)),
                           axis=-1).reshape(n, n_keep).astype(np.float64)
        kt = BOLTZMANN_EV_PER_K * temperature_k  # kT/q in V
        ok = full & (e > 0)
        rate = np.where(ok, 2.0 * kt / np.where(ok, e * speed, 1.0), 0.0)  # ns² per ns
        grown = np.cumsum(rate * dt_ns, axis=1)
        var[:, 1:] += grown[:, :-1]
    return np.sqrt(var)


@PJIT
def spread_all(sig: np.ndarray, sigma_steps: np.ndarray, offset: int, out: np.ndarray
               ) -> None:  # pragma: no cover - numba
    """``out (n, n_el, T)`` = ``sig`` with the increment of every fine step ``τ`` after
    ``offset`` spread over a Gaussian of ``sigma_steps[p, τ]`` steps, reflected at ``offset``
    (see the module docstring). ``out`` before ``offset`` is set to 0."""
    n, n_el, n_all = sig.shape
    n_keep = n_all - offset
    for p in prange(n):
        cur = np.zeros((n_el, n_keep))
        weights = np.zeros(n_keep)
        for tau in range(1, n_keep):
            s = sigma_steps[p, tau]
            if s < MIN_SIGMA_STEPS:
                for k in range(n_el):
                    cur[k, tau] += sig[p, k, offset + tau] - sig[p, k, offset + tau - 1]
                continue
            c = tau - 0.5
            lo = max(0, int(math.floor(c - WINDOW_SIGMAS * s)))
            hi = min(n_keep - 1, int(math.ceil(c + WINDOW_SIGMAS * s)))
            r = 1.0 / (s * math.sqrt(2.0))
            prev = 0.0
            for t in range(lo, hi + 1):
                # the CDF of the landing time, reflected at the interaction (t = 0)
                f = 0.5 * math.erfc(-(t - c) * r) - 0.5 * math.erfc((t + c) * r)
                if t == hi and hi >= c + WINDOW_SIGMAS * s:
                    f = 1.0  # the tail past 5 σ: every increment is kept in full
                weights[t] = max(f, 0.0) - prev
                prev = max(f, 0.0)
            for k in range(n_el):
                dq = sig[p, k, offset + tau] - sig[p, k, offset + tau - 1]
                if dq != 0.0:
                    for t in range(lo, hi + 1):
                        cur[k, t] += dq * weights[t]
        for k in range(n_el):
            for t in range(offset):
                out[p, k, t] = 0.0
            acc = 0.0
            for t in range(n_keep):
                acc += cur[k, t]
                out[p, k, offset + t] = acc


def spread_reference(sig: np.ndarray, sigma_steps: np.ndarray, offset: int) -> np.ndarray:
    """Pure-numpy twin of :func:`spread_all` (dense: every step's increment over all times)."""
    sig = np.asarray(sig, dtype=np.float64)
    n, n_el, n_all = sig.shape
    n_keep = n_all - offset
    dq = np.diff(sig[..., offset:], axis=-1)  # increments of steps 1..n_keep-1
    t = np.arange(n_keep, dtype=np.float64)
    out = np.zeros_like(sig)
    erfc = np.vectorize(math.erfc)
    for p in range(n):
        cdf = np.zeros((n_keep, n_keep - 1))  # [t, τ − 1]
        for tau in range(1, n_keep):
            s, c = sigma_steps[p, tau], tau - 0.5
            if s < MIN_SIGMA_STEPS:
                cdf[:, tau - 1] = t >= tau
                continue
            lo = max(0, math.floor(c - WINDOW_SIGMAS * s))
            hi = min(n_keep - 1, math.ceil(c + WINDOW_SIGMAS * s))
            r = 1.0 / (s * math.sqrt(2.0))
            f = np.maximum(0.5 * erfc(-(t - c) * r) - 0.5 * erfc((t + c) * r), 0.0)
            f[t < lo] = 0.0
            if hi >= c + WINDOW_SIGMAS * s:  # window inside the trace: the tail is kept
                f[t >= hi] = 1.0
            cdf[:, tau - 1] = f
        out[p, :, offset:] = dq[p] @ cdf.T
    return out


def spread_signals(raw: np.ndarray, starts: np.ndarray, paths: tuple[np.ndarray, np.ndarray],
                   times: tuple[np.ndarray, np.ndarray], labels: tuple[np.ndarray, np.ndarray],
                   wpot: np.ndarray, efield: np.ndarray, origin: np.ndarray, spacing: float,
                   dt_ns: float, offset: int, core: int, cloud_sigma_mm: float,
                   diffusion: bool, temperature_k: float) -> np.ndarray:
    """The induced charges ``raw (n, n_el, T)`` of the pairs started at ``starts (n, 3)`` with
    each carrier's part spread by its own cloud (``paths``, ``times``, ``labels``: hole, then
    electron, as from :func:`gpsa.basis.fields.drift.drift_all`). A new array."""
    from gpsa.basis.fields.induction import induce_all

    (path_h, path_e), (t_h, t_e), (lab_h, _) = paths, times, labels
    n = raw.shape[0]
    # the hole's part alone: the electron held at the start (not collected: interpolated)
    frozen = np.ascontiguousarray(np.broadcast_to(starts[:, None, :], path_e.shape))
    hole = np.zeros_like(raw)
    induce_all(path_h, frozen, t_h, np.zeros(n, np.float32), lab_h, np.full(n, -1, np.int16),
               wpot, origin, 1.0 / spacing, dt_ns, core, offset, hole)
    electron = raw - hole
    out_h, out_e = np.empty_like(raw), np.empty_like(raw)
    for part, path, t_end, out in ((hole, path_h, t_h, out_h), (electron, path_e, t_e, out_e)):
        sigma = time_spread(path, t_end, efield, origin, spacing, dt_ns, cloud_sigma_mm,
                            diffusion, temperature_k)
        spread_all(part, np.ascontiguousarray(sigma / dt_ns), offset, out)
    return out_h + out_e
