"""Proportional cross-talk correction.

Measured signals of the 36 segments and the core are ``m = X · s`` with ``X = I + C`` (37 × 37,
row = receiving channel); the correction applies ``X⁻¹`` to every sample of the traces and to the
channel energies. Matrix file: 37 lines of 37 numbers (``#`` comments), the matrix ``X`` itself.

Config example (``preprocess`` stage)::

    crosstalk = "xtalk/{crystal}.txt"
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gpsa.errors import ConfigError
from gpsa.textfile import read_records

N = 37


def read_matrix(path: Path) -> np.ndarray:
    """The (37, 37) cross-talk matrix ``X = I + C`` of a text file."""
    rows = [rec.fields for rec in read_records(path, "cross-talk matrix")]
    try:
        m = np.array(rows, dtype=np.float64)
    except ValueError:
        raise ConfigError(f"{path}: expected {N} rows of {N} numbers") from None
    if m.shape != (N, N):
        raise ConfigError(f"{path}: expected a {N}x{N} matrix, got shape {m.shape}")
    if abs(np.linalg.det(m)) < 1e-6:
        raise ConfigError(f"{path}: cross-talk matrix is singular")
    return m


def correct_crosstalk(traces: np.ndarray, energies: np.ndarray, matrix: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray]:
    """(traces, energies) with ``X⁻¹`` applied over channels 0..36 (channel 37 unchanged)."""
    inv = np.linalg.inv(matrix).astype(np.float32)
    t = np.asarray(traces, np.float32).copy()
    e = np.asarray(energies, np.float32).copy()
    t[:, :N] = np.einsum("ij,njs->nis", inv, t[:, :N], optimize=True)
    e[:, :N] = e[:, :N] @ inv.T
    return t, e
