"""Settings of the event simulator (:class:`SimConfig`), checked on construction.

Units: energies keV, distances mm, times in trace samples (10 ns at AGATA's 100 MHz) unless the
name says otherwise, rates Hz, ADC gains keV per ADC unit.

ADC conventions (gpsa's choice; the AGATA digitiser settings are not public):

* segments (channels 0–35) and the core's high gain (channel 37): ``kev_per_adc`` (0.25 keV/ADC,
  ~8 MeV over the int16 range, like a 5 MeV range on 14 bits);
* the core's low gain (channel 36): ``core_low_gain_kev_per_adc`` (1 keV/ADC, ~20 MeV range);
* ``adc = rint(signal_keV / gain + baseline_adc)`` clipped to ``adc_range``; a clipped sample
  sets :data:`gpsa.status.EventStatus.SATURATED` on the event.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from gpsa.errors import ConfigError

ENERGY_MODES = ("lines", "uniform")


@dataclass(frozen=True)
class SimConfig:
    """What the simulator makes. Every field is checked; a bad one raises :class:`ConfigError`
    naming it."""

    #: P(1), P(2), … interactions per event (normalised; at most 8 interactions).
    multiplicity: tuple[float, ...] = (0.5, 0.3, 0.2)
    #: Mean distance between successive interactions (exponential), mm (gamma-like scattering).
    step_mm: float = 15.0
    #: "lines": each event deposits one line energy; "uniform": uniform in ``uniform_kev``.
    energy_mode: str = "lines"
    lines_kev: tuple[float, ...] = (1332.5, 1173.2)
    #: Relative weights of ``lines_kev`` (empty: equal weights).
    line_weights: tuple[float, ...] = ()
    uniform_kev: tuple[float, float] = (100.0, 2000.0)
    #: White Gaussian noise added to every trace sample, rms keV.
    noise_kev: float = 2.0
    #: Per-channel energy resolution (FWHM keV) of segments and of the core.
    segment_fwhm_kev: float = 2.10
    core_fwhm_kev: float = 2.35
    #: Proportional cross-talk: fraction of every segment's signal added to every other segment.
    crosstalk: float = 0.0
    #: T0 offset from ``pretrigger`` drawn uniformly in ±this, samples (sub-sample phase).
    t0_jitter_samples: float = 0.5
    n_samples: int = 100
    #: Trace sample at which the interaction happens (before jitter).
    pretrigger: int = 20
    trace_sampling_ns: float = 10.0
    kev_per_adc: float = 0.25
    core_low_gain_kev_per_adc: float = 1.0
    baseline_adc: float = 0.0
    adc_range: tuple[int, int] = (-32768, 32767)
    #: Mean event rate per crystal (Poisson arrivals), Hz; timestamps in 10 ns ticks.
    rate_hz: float = 1000.0
    start_tick: int = 0
    #: Events per produced block.
    block_size: int = 1000
    #: Truth points need this fraction of trilinear weight on existing basis points when a
    #: crystal geometry decides what is inside; without a geometry all 8 corners must exist.
    min_support: float = 0.25

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, list):
                object.__setattr__(self, f.name, tuple(v))
        self._check()

    def _check(self) -> None:
        p = self.multiplicity
        if not 1 <= len(p) <= 8 or any(not _finite(x) or x < 0 for x in p) or sum(p) <= 0:
            raise ConfigError(f"multiplicity: 1–8 non-negative probabilities with a positive sum, "
                              f"got {p}")
        if self.energy_mode not in ENERGY_MODES:
            raise ConfigError(f"energy_mode: must be one of {ENERGY_MODES}, "
                              f"got {self.energy_mode!r}")
        if not self.lines_kev or any(not _finite(e) or e <= 0 for e in self.lines_kev):
            raise ConfigError(f"lines_kev: positive energies needed, got {self.lines_kev}")
        w = self.line_weights
        if w and (len(w) != len(self.lines_kev) or any(not _finite(x) or x < 0 for x in w)
                  or sum(w) <= 0):
            raise ConfigError(f"line_weights: one non-negative weight per line, got {w}")
        lo, hi = self.uniform_kev
        if not (_finite(lo) and _finite(hi) and 0 < lo <= hi):
            raise ConfigError(f"uniform_kev: need 0 < low <= high, got {self.uniform_kev}")
        for name in ("step_mm", "trace_sampling_ns", "kev_per_adc", "core_low_gain_kev_per_adc",
                     "rate_hz"):
            if not _finite(getattr(self, name)) or getattr(self, name) <= 0:
                raise ConfigError(f"{name}: must be > 0, got {getattr(self, name)}")
        for name in ("noise_kev", "segment_fwhm_kev", "core_fwhm_kev", "t0_jitter_samples"):
            if not _finite(getattr(self, name)) or getattr(self, name) < 0:
                raise ConfigError(f"{name}: must be >= 0, got {getattr(self, name)}")
        if not _finite(self.crosstalk) or abs(self.crosstalk) > 0.1:
            raise ConfigError(f"crosstalk: must lie in [-0.1, 0.1], got {self.crosstalk}")
        if self.n_samples < 2 or self.block_size < 1 or self.start_tick < 0:
            raise ConfigError("n_samples must be >= 2, block_size >= 1 and start_tick >= 0")
        if not 0 <= self.pretrigger < self.n_samples:
            raise ConfigError(f"pretrigger: must lie in 0..{self.n_samples - 1}, "
                              f"got {self.pretrigger}")
        if self.t0_jitter_samples > self.pretrigger:
            raise ConfigError(f"t0_jitter_samples: {self.t0_jitter_samples} exceeds the "
                              f"pretrigger {self.pretrigger}")
        a, b = self.adc_range
        if not -32768 <= a < b <= 32767:
            raise ConfigError(f"adc_range: need -32768 <= low < high <= 32767, "
                              f"got {self.adc_range}")
        if not _finite(self.baseline_adc) or not a <= self.baseline_adc <= b:
            raise ConfigError(f"baseline_adc: must lie in adc_range, got {self.baseline_adc}")
        if not 0 < self.min_support <= 1:
            raise ConfigError(f"min_support: must lie in (0, 1], got {self.min_support}")

    @property
    def multiplicity_p(self) -> np.ndarray:
        p = np.asarray(self.multiplicity, np.float64)
        return p / p.sum()

    @property
    def line_p(self) -> np.ndarray:
        w = np.asarray(self.line_weights or [1.0] * len(self.lines_kev), np.float64)
        return w / w.sum()

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly settings (tuples as lists), for the manifest."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SimConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise :class:`ConfigError`."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown simulator setting(s): {', '.join(unknown)}")
        return cls(**data)


def _finite(x: Any) -> bool:
    try:
        return math.isfinite(float(x))
    except (TypeError, ValueError):
        return False
