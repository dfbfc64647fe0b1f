"""Germanium photon attenuation coefficients from the shipped NIST XCOM table.

``data/ge_xcom.txt`` (header: source, package versions, density) holds mass attenuation
coefficients (cm²/g) for coherent (Rayleigh), incoherent (Compton), photoelectric absorption and
pair production (nuclear + electron field) on a log-uniform energy grid, 1 keV – 10 MeV, 200 points
per decade; regenerate it with ``python -m gpsa.simulate.transport.make_table``.

:class:`CrossSections` turns them into linear coefficients (1/mm) with the density written in
the table header, and interpolates *linearly in the coefficient on the log-energy grid* (the grid
step is 1.2 % in energy: the interpolation error is below 2·10⁻⁴ relative for a power law
E⁻³). The kernels use the same arrays and the same formula (:func:`mu_at` in
:mod:`._physics`).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from gpsa.errors import ConfigError

log = logging.getLogger(__name__)

TABLE_PATH = Path(__file__).resolve().parent / "data" / "ge_xcom.txt"
#: Column order of :attr:`CrossSections.mu` (and of the table after the energy).
PROCESSES = ("coherent", "incoherent", "photoelectric", "pair")


@dataclass(frozen=True, eq=False)
class CrossSections:
    """Linear attenuation coefficients of one material on a log-uniform energy grid."""

    log_e0: float  # ln(first energy / keV)
    inv_dlog: float  # 1 / (ln step)
    energy_kev: np.ndarray  # (n,)
    mu: np.ndarray  # (n, 4) 1/mm, columns PROCESSES
    density_g_cm3: float
    source: str

    @property
    def e_min(self) -> float:
        return float(self.energy_kev[0])

    @property
    def e_max(self) -> float:
        return float(self.energy_kev[-1])

    def linear(self, energy_kev: np.ndarray | float, process: str = "total",
               rayleigh: bool = True) -> np.ndarray:
        """μ (1/mm) at ``energy_kev`` for one of :data:`PROCESSES` or ``"total"`` (without the
        coherent part when ``rayleigh`` is False, as the transport uses it)."""
        e = np.asarray(energy_kev, np.float64)
        if np.any((e < self.e_min) | (e > self.e_max)):
            raise ConfigError(f"energy outside the table {self.e_min:g}..{self.e_max:g} keV")
        x = (np.log(e) - self.log_e0) * self.inv_dlog
        i = np.clip(np.floor(x).astype(np.int64), 0, len(self.energy_kev) - 2)
        f = (x - i)[..., None]
        m = self.mu[i] * (1.0 - f) + self.mu[i + 1] * f
        if process == "total":
            return m[..., 1:].sum(axis=-1) + (m[..., 0] if rayleigh else 0.0)
        if process not in PROCESSES:
            raise ConfigError(f"unknown process {process!r}: expected total or one of "
                              f"{', '.join(PROCESSES)}")
        return m[..., PROCESSES.index(process)]


def read_table(path: str | Path = TABLE_PATH) -> tuple[np.ndarray, float, str]:
    """Rows ``(n, 7)`` of a table written by :mod:`.make_table`, its density and its source
    line (the header lines joined)."""
    text = Path(path).read_text()
    header = [ln[1:].strip() for ln in text.splitlines() if ln.startswith("#")]
    m = re.search(r"density_g_cm3\s*=\s*([0-9.eE+-]+)", text)
    if m is None:
        raise ConfigError(f"{path}: no `density_g_cm3 = …` line in the header")
    rows = np.loadtxt(path, comments="#", ndmin=2)
    if rows.shape[1] != 7 or len(rows) < 2:
        raise ConfigError(f"{path}: expected 7 columns and >= 2 rows, got {rows.shape}")
    return rows, float(m.group(1)), " | ".join(header[:4])


@lru_cache(maxsize=4)
def load_cross_sections(path: str | None = None) -> CrossSections:
    """The germanium table (or another table of the same layout at ``path``)."""
    p = Path(path) if path else TABLE_PATH
    rows, density, source = read_table(p)
    e = rows[:, 0]
    step = float(np.log(e[-1] / e[0]) / (len(e) - 1))
    if not step > 0 or np.abs(np.log(e / e[0]) - step * np.arange(len(e))).max() > 1e-5:
        raise ConfigError(f"{p}: energies must be log-uniform and increasing")
    per_mm = density / 10.0  # cm2/g * g/cm3 = 1/cm; /10 -> 1/mm
    mu = np.column_stack([rows[:, 1], rows[:, 2], rows[:, 3], rows[:, 4] + rows[:, 5]]) * per_mm
    for a in (e, mu):
        a.setflags(write=False)
    log.debug("cross sections from %s: %d energies, density %g", p, len(e), density)
    return CrossSections(log_e0=float(np.log(e[0])), inv_dlog=1.0 / step,
                         energy_kev=e, mu=mu, density_g_cm3=density, source=f"{p.name}: {source}")
