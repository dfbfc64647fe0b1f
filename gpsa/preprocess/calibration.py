"""Per-channel calibration: trace gains (ADC → keV) and energy coefficients.

Coefficient file (text): one line per channel ``channel offset gain``, ``#`` starts a comment;
missing channels keep offset 0 and gain 1. Calibrated energy = ``offset + gain · raw``.

Config example (``preprocess`` stage)::

    calibration = "calib/{crystal}.cal"     # energy coefficients (optional)
    kev_per_adc = 0.25                      # trace gain of segments and core high gain
    core_low_gain_kev_per_adc = 1.0         # trace gain of channel 36
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gpsa.block import CORE, N_CHANNELS
from gpsa.errors import ConfigError
from gpsa.textfile import read_records


def read_coefficients(path: Path, channels: int = N_CHANNELS) -> tuple[np.ndarray, np.ndarray]:
    """(offset, gain) float32 arrays of ``channels`` values from a coefficient file."""
    offset = np.zeros(channels, np.float32)
    gain = np.ones(channels, np.float32)
    for lineno, text, line in read_records(path, "calibration file"):
        try:
            ch, off, g = int(text[0]), float(text[1]), float(text[2])
        except (IndexError, ValueError):
            raise ConfigError(f"{path}:{lineno}: expected 'channel offset gain', got "
                              f"{line!r}") from None
        if not 0 <= ch < channels:
            raise ConfigError(f"{path}:{lineno}: channel {ch} outside 0..{channels - 1}")
        offset[ch], gain[ch] = off, g
    return offset, gain


def trace_gains(kev_per_adc: float, core_low_gain_kev_per_adc: float,
                channels: int = N_CHANNELS) -> np.ndarray:
    """Per-channel trace gains: ``kev_per_adc`` everywhere but the core's low gain (36)."""
    g = np.full(channels, kev_per_adc, np.float32)
    if channels > CORE:
        g[CORE] = core_low_gain_kev_per_adc
    return g


def apply_trace_gains(traces: np.ndarray, gains: np.ndarray) -> np.ndarray:
    """float32 traces scaled per channel."""
    return (np.asarray(traces, np.float32) * gains[None, :traces.shape[1], None]).astype(
        np.float32)


def calibrate_energies(raw: np.ndarray, offset: np.ndarray, gain: np.ndarray) -> np.ndarray:
    """``offset + gain · raw`` per channel (float32, new array)."""
    c = raw.shape[1]
    return (offset[None, :c] + gain[None, :c] * raw).astype(np.float32)
