"""A measured electronics impulse response, convolved with the basis signals after the preamp.

``GeneratorSettings.impulse_response`` names a file of samples of the impulse response
``h(t)`` of the electronics after the preamp's single pole (a shaper, cables, the digitiser's
anti-alias filter…), ``h(k·P)`` for ``k = 0, 1, …`` at the period ``P`` in ns. Formats:

* ``.npy``: a 1-D float array of the samples (``P`` = ``impulse_response_period_ns``), or a
  2-D array of 2 columns ``(t_ns, h)``;
* anything else, text: one number per line (``P`` = ``impulse_response_period_ns``) or two
  columns ``t_ns, h`` separated by commas, semicolons or blanks; ``#`` starts a comment, and
  one header line of names (e.g. ``time_ns,value``) may open the file.

With a time column, the times must be evenly spaced and **start at 0**: ``P`` is their spacing
(``impulse_response_period_ns``, if also given, must agree). The response's ``t = 0`` is its
first sample, the moment the impulse enters: the convolution is causal, a delta at ``t = 0``
leaves a signal unchanged and a response that peaks at ``d`` ns delays the signals by about
``d``, as the real electronics would. Trim a pulser measurement's pre-trigger baseline (and
subtract its baseline) before giving it. gpsa normalises the response to unit area
(``∫h dt = 1``), so only its shape matters and the final value of a settled signal is kept.

On the generator's fine grid (``drift_step_ns = dt``) the response becomes a discrete kernel
``k[j]`` with ``Σ k = 1`` and ``y[i] = Σ_j k[j]·x[i − j]``: the samples themselves when
``P = dt``, the response linearly interpolated at ``j·dt`` when ``P > dt``, and its integral
over ``[(j − ½)·dt, (j + ½)·dt) ∩ [0, ∞)`` when ``P < dt`` (no aliasing of a finely sampled
response). The convolution keeps the trace length (the response's tail past the trace's end
is cut, after the normalisation). The basis records the file, its sha256 and ``P``.

Example (TOML)::

    [generator]
    impulse_response = "electronics/ir_00A.csv"   # t_ns,h rows from t = 0
"""

from __future__ import annotations

import hashlib
import io
import os
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.signal import fftconvolve

from gpsa.errors import ConfigError

#: Rows of the flattened traces convolved per FFT block (memory ~ rows × 2·T × 16 B).
BLOCK_ROWS = 4096
_SPLIT = re.compile(r"[,;\s]+")


@dataclass(frozen=True)
class ImpulseResponse:
    """The samples ``h`` of a response file at ``period_ns`` (as read, not normalised)."""

    path: str
    sha256: str
    period_ns: float
    samples: np.ndarray

    @property
    def area(self) -> float:
        """``Σ h·P``, the response's integral as read (gpsa divides by it)."""
        return float(self.samples.sum() * self.period_ns)

    def kernel(self, dt_ns: float) -> np.ndarray:
        """The unit-sum causal kernel on the ``dt_ns`` grid (see the module docstring)."""
        try:
            return kernel_on_grid(self.samples, self.period_ns, dt_ns)
        except ValueError as exc:
            raise ConfigError(f"impulse response {self.path}: {exc}") from None

    def describe(self) -> dict[str, Any]:
        """What the basis records (``generator`` attribute, key ``impulse_response``)."""
        return {"file": self.path, "sha256": self.sha256, "period_ns": self.period_ns,
                "n_samples": int(self.samples.size), "area_as_read": self.area,
                "peak_ns": float(np.argmax(np.abs(self.samples)) * self.period_ns),
                "t0": "first sample (causal), normalised to unit area"}


def load_impulse_response(path: str | os.PathLike[str], period_ns: float | None = None
                          ) -> ImpulseResponse:
    """Read and check a response file; any problem is a one-line :class:`ConfigError` that
    names the file."""
    name = os.fspath(path)
    try:
        with open(name, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise ConfigError(f"impulse response {name}: cannot read: "
                          f"{exc.strerror or exc}") from None
    try:
        table = _read_npy(data) if name.endswith(".npy") else _read_text(data)
        samples, period = _samples_and_period(table, period_ns)
    except ValueError as exc:
        raise ConfigError(f"impulse response {name}: {exc}") from None
    return ImpulseResponse(name, hashlib.sha256(data).hexdigest(), period, samples)


def _read_npy(data: bytes) -> np.ndarray:
    try:
        arr = np.load(io.BytesIO(data), allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        why = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise ValueError(f"not a readable .npy array ({why})") from None
    if arr.dtype.kind not in "iuf":
        raise ValueError(f"expected numbers, got an array of dtype {arr.dtype}")
    return np.asarray(arr, dtype=np.float64)


def _read_text(data: bytes) -> np.ndarray:
    try:
        text = data.decode()
    except UnicodeDecodeError:
        raise ValueError("not a text file (and not .npy)") from None
    rows: list[list[float]] = []
    header_allowed = True  # one line of column names may open the file
    for number, line in enumerate(text.splitlines(), start=1):
        words = [w for w in _SPLIT.split(line.split("#", 1)[0].strip()) if w]
        if not words:
            continue
        if header_allowed and not any(_is_number(w) for w in words):
            header_allowed = False
            continue
        header_allowed = False
        try:
            rows.append([float(w) for w in words])
        except ValueError:
            raise ValueError(f"line {number}: not a number in {line.strip()!r}") from None
        if len(rows[-1]) != len(rows[0]):
            raise ValueError(f"line {number}: {len(rows[-1])} columns, expected {len(rows[0])}")
    if not rows:
        raise ValueError("no samples")
    return np.array(rows, dtype=np.float64)


def _is_number(word: str) -> bool:
    try:
        float(word)
    except ValueError:
        return False
    return True


def _samples_and_period(table: np.ndarray, period_ns: float | None) -> tuple[np.ndarray, float]:
    if table.ndim == 2 and table.shape[1] == 1:
        table = table[:, 0]
    if table.ndim == 1:
        if period_ns is None:
            raise ValueError("one column of samples needs the setting "
                             "'impulse_response_period_ns' (or give a time column t_ns, h)")
        samples, period = table, float(period_ns)
    elif table.ndim == 2 and table.shape[1] == 2:
        times, samples = table[:, 0], table[:, 1]
        period = _period_of(times)
        if period_ns is not None and abs(period - period_ns) > 1e-3 * period:
            raise ValueError(f"time column spacing {period:g} ns disagrees with "
                             f"'impulse_response_period_ns' = {period_ns:g}")
    else:
        raise ValueError(f"expected 1 column (h) or 2 columns (t_ns, h), got shape "
                         f"{table.shape}")
    if samples.size == 0:
        raise ValueError("no samples")
    if not np.all(np.isfinite(samples)):
        raise ValueError("samples must be finite (found NaN or inf)")
    if not samples.sum() > 0:
        raise ValueError(f"area must be > 0 to normalise it (sum of samples "
                         f"{samples.sum():g}); is the polarity inverted?")
    return np.ascontiguousarray(samples), period


def _period_of(times: np.ndarray) -> float:
    if times.size < 2:
        raise ValueError("a time column needs at least 2 rows")
    steps = np.diff(times)
    period = float(steps.mean())
    if not np.all(np.isfinite(times)) or not period > 0 or \
            np.max(np.abs(steps - period)) > 1e-3 * period:
        raise ValueError("time column must be evenly spaced and increasing")
    if abs(times[0]) > 1e-3 * period:
        raise ValueError(f"time column must start at 0 ns (the response's t = 0, where the "
                         f"impulse enters), got {times[0]:g}")
    return period


def kernel_on_grid(samples: np.ndarray, period_ns: float, dt_ns: float) -> np.ndarray:
    """Unit-sum kernel ``k[j]`` at ``t = j·dt_ns`` from ``samples`` at ``period_ns``."""
    h = np.asarray(samples, dtype=np.float64)
    if h.size == 1:
        return np.ones(1)
    span = (h.size - 1) * period_ns  # last sample's time
    if abs(period_ns - dt_ns) <= 1e-9 * dt_ns:
        k = h.copy()
    elif period_ns > dt_ns:
        k = np.interp(np.arange(int(np.floor(span / dt_ns + 1e-9)) + 1) * dt_ns,
                      np.arange(h.size) * period_ns, h)
    else:
        n = int(np.floor(span / dt_ns + 0.5 + 1e-9)) + 1
        edges = np.clip((np.arange(n + 1) - 0.5) * dt_ns, 0.0, span)
        k = np.diff(_cumulative(h, period_ns, edges))
    total = k.sum()
    if not total > 0:
        raise ValueError(f"no positive area on the {dt_ns:g} ns grid of the drift step")
    return k / total


def _cumulative(h: np.ndarray, period: float, t: np.ndarray) -> np.ndarray:
    """``∫_0^t h`` of the piecewise-linear ``h`` (nodes ``i·period``), exact."""
    if h.size == 1:
        return np.zeros_like(t)
    nodes = np.concatenate([[0.0], np.cumsum(0.5 * (h[:-1] + h[1:]) * period)])
    i = np.minimum((t / period).astype(np.int64), h.size - 2)
    u = t - i * period
    return nodes[i] + h[i] * u + (h[i + 1] - h[i]) * u * u / (2.0 * period)


def convolve_causal(y: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """``y (..., T)`` convolved with ``kernel`` along the last axis, the first ``T`` samples
    (causal, zeros before the trace), as a new array of ``y``'s dtype."""
    k = np.asarray(kernel, dtype=np.float64)[: y.shape[-1]]
    if k.size == 1:
        return (y * y.dtype.type(k[0])).astype(y.dtype, copy=False)
    n = y.shape[-1]
    flat = np.asarray(y, dtype=np.float64).reshape(-1, n)
    out = np.empty(flat.shape, dtype=y.dtype)
    lag = int(np.argmax(k != 0))  # the kernel's first non-zero tap
    idx = np.arange(n)
    for a in range(0, flat.shape[0], BLOCK_ROWS):
        block = flat[a:a + BLOCK_ROWS]
        conv = fftconvolve(block, k[None, :], axes=-1)[:, :n]
        # exact causality: FFT round-off (~1e-17) must not lift the baseline before the
        # first non-zero input sample plus the kernel's first non-zero tap
        nonzero = block != 0
        start = np.where(nonzero.any(axis=-1), np.argmax(nonzero, axis=-1) + lag, n)
        conv[idx[None, :] < start[:, None]] = 0.0
        out[a:a + BLOCK_ROWS] = conv
    return out.reshape(y.shape)
