"""Gamma sources at the array centre: what each decay emits.

* ``co60`` — a 60Co-like cascade: every decay emits a 1173.2 keV and a 1332.5 keV gamma (the
  energies of gpsa's simulator default, :class:`gpsa.simulate.SimConfig`), each in its own
  isotropic direction, **independently** (the real 1173–1332 keV angular correlation is left
  out);
* ``cs137`` — one 661.7 keV gamma per decay (the 85 % branch; the decays without a gamma and the
  Ba X-rays are not simulated);
* ``line:E`` or ``line:E1,E2,…`` — one gamma of each listed energy (keV) per decay, independent
  isotropic directions (``line:1332`` gives a single line).

Line energies are the nominal values used across gpsa (issue 13: "1173 + 1332 keV", "662 keV");
give exact ones with ``line:`` where they matter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from gpsa.errors import ConfigError

NAMED = {"co60": (1173.2, 1332.5), "cs137": (661.7,)}


@dataclass(frozen=True)
class Source:
    """Gammas emitted together by one decay, from ``position_mm`` (default the array centre)."""

    name: str
    lines_kev: tuple[float, ...]
    position_mm: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def __post_init__(self) -> None:
        if not self.lines_kev or any(not (math.isfinite(e) and e > 0) for e in self.lines_kev):
            raise ConfigError(f"source {self.name!r}: line energies must be > 0 keV, "
                              f"got {self.lines_kev}")
        if len(self.lines_kev) > 255:
            raise ConfigError(f"source {self.name!r}: at most 255 gammas per decay")

    @property
    def gammas_per_decay(self) -> int:
        return len(self.lines_kev)

    def emit(self, n_decays: int, rng: np.random.Generator
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(event, gamma, origin (m, 3), direction (m, 3), energy)`` for ``m = n_decays ×
        gammas_per_decay`` gammas, decay-major."""
        k = self.gammas_per_decay
        m = n_decays * k
        cos = rng.uniform(-1.0, 1.0, m)
        phi = rng.uniform(0.0, 2.0 * math.pi, m)
        sin = np.sqrt(1.0 - cos * cos)
        direction = np.stack([sin * np.cos(phi), sin * np.sin(phi), cos], axis=1)
        origin = np.broadcast_to(np.asarray(self.position_mm, np.float64), (m, 3)).copy()
        event = np.repeat(np.arange(n_decays, dtype=np.int64), k)
        gamma = np.tile(np.arange(k, dtype=np.int64), n_decays)
        energy = np.asarray(self.lines_kev, np.float64)[gamma]
        return event, gamma, origin, direction, energy


def parse_source(text: str) -> Source:
    """``co60``, ``cs137``, ``line:1332`` or ``line:1173.2,1332.5``."""
    t = text.strip().lower()
    if t in NAMED:
        return Source(t, NAMED[t])
    if t.startswith("line:"):
        try:
            lines = tuple(float(v) for v in t[5:].split(",") if v.strip())
        except ValueError:
            raise ConfigError(f"--source {text!r}: expected line:E[,E2,...] in keV") from None
        return Source(t, lines)
    raise ConfigError(f"--source {text!r}: expected co60, cs137 or line:E[,E2,...] (keV)")
