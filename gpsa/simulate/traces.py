"""From interactions to digitised traces: signal sums, cross-talk, time placement, noise, ADC.

All steps work on whole batches ``(n, channels, samples)``; no per-event Python loops. Signals
are in keV until :func:`digitise` turns them into int16 ADC units (see :mod:`.config`).
"""

from __future__ import annotations

import numpy as np

from gpsa.basis._interp_kernels import gather_weighted
from gpsa.basis.grid import BasisGrid
from gpsa.basis.model import CORE_CHANNEL, N_BASIS_CHANNELS, N_SEGMENTS
from gpsa.block import CORE, CORE_HIGH_GAIN, N_CHANNELS

from ._kernels import place_numba
from .config import SimConfig
from .interactions import Interactions

FWHM_PER_SIGMA = 2.0 * np.sqrt(2.0 * np.log(2.0))


def event_signals(grid: BasisGrid, inter: Interactions) -> np.ndarray:
    """Sum over each event's interactions of ``energy × interpolated basis signal``:
    (n, 37, S_basis) float32 keV. One gather over the 8·k corners of the event's k interactions
    (weights scaled by the energies), so no (interactions, 37, S) temporary is made."""
    idx, w = grid.weights(inter.xyz)  # (M, 8)
    w = w * inter.energy.astype(np.float32)[:, None]
    k = int(inter.counts.max()) if len(inter.counts) else 1
    n = len(inter.counts)
    ev_idx = np.full((n, k, 8), -1, np.int64)
    ev_w = np.zeros((n, k, 8), np.float32)
    ev_idx[inter.event, inter.index] = idx
    ev_w[inter.event, inter.index] = w
    return gather_weighted(grid.basis.signals, ev_idx.reshape(n, 8 * k), ev_w.reshape(n, 8 * k),
                           np.arange(N_BASIS_CHANNELS))


def crosstalk_matrix(eps: float) -> np.ndarray:
    """(37, 37) float32 ``I + C`` with ``C[i, j] = eps`` between different segments (i, j < 36);
    the core is neither source nor receiver. ``measured = M @ true`` per sample."""
    m = np.eye(N_BASIS_CHANNELS, dtype=np.float32)
    m[:N_SEGMENTS, :N_SEGMENTS] += np.float32(eps) * (1 - np.eye(N_SEGMENTS, dtype=np.float32))
    return m


def apply_crosstalk(sig: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """``matrix @ sig`` over the channel axis: (n, 37, S) → (n, 37, S) float32."""
    return np.matmul(matrix.astype(np.float32), sig)


def place_in_trace(sig: np.ndarray, t0: np.ndarray, *, basis_t0: int, basis_ns: float,
                   config: SimConfig) -> np.ndarray:
    """Resample basis-time signals onto the trace clock so the interaction sits at trace sample
    ``t0`` (per event, fractional): linear interpolation in time; before the basis starts the
    first basis sample is held, after it ends the last one (the preamp decay, ~50 µs, is
    neglected over one trace). (n, C, S_basis) → (n, C, n_samples) float32 (numba kernel;
    :func:`place_in_trace_numpy` is the reference)."""
    return place_numba(sig, np.asarray(t0, np.float64), config.trace_sampling_ns / basis_ns,
                       basis_t0, config.n_samples)


def place_in_trace_numpy(sig: np.ndarray, t0: np.ndarray, *, basis_t0: int, basis_ns: float,
                         config: SimConfig) -> np.ndarray:
    """Reference implementation of :func:`place_in_trace` in numpy."""
    n_b = sig.shape[2]
    j = np.arange(config.n_samples, dtype=np.float64)
    tau = (j[None, :] - t0[:, None]) * (config.trace_sampling_ns / basis_ns) + basis_t0
    tau = np.clip(tau, 0.0, n_b - 1)
    i0 = np.minimum(np.floor(tau).astype(np.int64), n_b - 2)
    frac = (tau - i0).astype(np.float32)[:, None, :]
    lo = np.take_along_axis(sig, i0[:, None, :], axis=2)
    hi = np.take_along_axis(sig, i0[:, None, :] + 1, axis=2)
    return lo + frac * (hi - lo)


def add_noise(traces: np.ndarray, sigma_kev: float, rng: np.random.Generator) -> np.ndarray:
    """White Gaussian noise of ``sigma_kev`` rms on every sample (in place; returns traces)."""
    if sigma_kev > 0:
        traces += np.float32(sigma_kev) * rng.standard_normal(traces.shape, dtype=np.float32)
    return traces


def channel_energies(final_kev: np.ndarray, config: SimConfig,
                     rng: np.random.Generator) -> np.ndarray:
    """Per-channel energies (n, 38) float32 keV: the net charge of each of the 37 channels (last
    noiseless sample) smeared with the segment / core resolution; channels 36 and 37 both hold
    the core, with independent smearing (two gains, two energy filters)."""
    n = final_kev.shape[0]
    out = np.empty((n, N_CHANNELS), np.float32)
    out[:, :N_SEGMENTS] = final_kev[:, :N_SEGMENTS]
    out[:, CORE] = final_kev[:, CORE_CHANNEL]
    out[:, CORE_HIGH_GAIN] = final_kev[:, CORE_CHANNEL]
    sigma = np.full(N_CHANNELS, config.segment_fwhm_kev / FWHM_PER_SIGMA, np.float32)
    sigma[[CORE, CORE_HIGH_GAIN]] = config.core_fwhm_kev / FWHM_PER_SIGMA
    out += sigma * rng.standard_normal((n, N_CHANNELS), dtype=np.float32)
    return out


def digitise(traces_kev: np.ndarray, config: SimConfig) -> tuple[np.ndarray, np.ndarray]:
    """(n, 37, T) keV → (n, 38, T) int16 ADC and a (n,) bool "a sample was clipped" flag.
    Channel 36 is the core at the low gain, 37 the core at the high gain."""
    n, _, t = traces_kev.shape
    gain = np.full(N_CHANNELS, 1.0 / config.kev_per_adc, np.float32)
    gain[CORE] = 1.0 / config.core_low_gain_kev_per_adc
    src = np.r_[np.arange(N_BASIS_CHANNELS), CORE_CHANNEL]
    adc = np.empty((n, N_CHANNELS, t), np.float32)
    np.multiply(traces_kev[:, src], gain[None, :, None], out=adc)
    adc += np.float32(config.baseline_adc)
    np.rint(adc, out=adc)
    lo, hi = config.adc_range
    clipped = ((adc < lo) | (adc > hi)).any(axis=(1, 2))
    np.clip(adc, lo, hi, out=adc)
    return adc.astype(np.int16), clipped
