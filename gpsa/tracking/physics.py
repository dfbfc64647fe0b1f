"""Photon physics in germanium for tracking: the Compton formula and attenuation coefficients.

Constants are CODATA values read from :mod:`scipy.constants` (electron mass, classical electron
radius, fine-structure constant, Avogadro); germanium: Z = 32, density 5.323 g/cm³, molar
mass 72.63 g/mol.

Attenuation coefficients are a function ``attenuation(energy_kev) -> (photo, compton, pair,
total)``, linear coefficients per mm. Two sources:

* :func:`analytic_attenuation` — computed, no table: Compton from the Klein–Nishina total
  cross-section (exact for free electrons, 32 per atom); photo-absorption from Sauter's K-shell
  formula in the Born approximation (Heitler, *The Quantum Theory of Radiation*, 3rd ed., §21;
  Davisson & Evans, Rev. Mod. Phys. 24 (1952) 79), which ignores the L, M shells and the
  Coulomb correction and so *underestimates* photo-absorption in germanium; no pair production.
  Good enough to rank the orderings of a cluster (only ratios and exponents enter).
* :func:`xcom_attenuation` — the NIST XCOM table for germanium shipped by the transport
  simulation (``gpsa/simulate/transport/data/ge_xcom.txt``): the default
  (:func:`default_attenuation`).

The tracking kernels never call these functions: :class:`AttenuationGrid` samples one of them
once on a log-energy grid that the numba kernels interpolate (log-log, linear).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import constants as sc

log = logging.getLogger(__name__)

#: Electron rest energy, keV (CODATA via scipy).
MEC2_KEV = sc.physical_constants["electron mass energy equivalent in MeV"][0] * 1e3
#: Classical electron radius, cm.
R_E_CM = sc.physical_constants["classical electron radius"][0] * 100.0
ALPHA = sc.fine_structure
AVOGADRO = sc.Avogadro
Z_GE = 32
RHO_GE = 5.323  # g/cm3
MOLAR_MASS_GE = 72.63  # g/mol
#: Germanium atoms per cm³.
ATOMS_PER_CM3 = AVOGADRO * RHO_GE / MOLAR_MASS_GE
#: Thomson cross-section, cm² (8π r_e² / 3).
SIGMA_T_CM2 = 8.0 * np.pi * R_E_CM**2 / 3.0

Attenuation = Callable[[np.ndarray],
                       tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]


def compton_cos(e_in_kev: np.ndarray | float, e_out_kev: np.ndarray | float) -> np.ndarray:
    """cos θ of a Compton scattering from the photon energies before and after (keV)."""
    return 1.0 - MEC2_KEV * (1.0 / np.asarray(e_out_kev, float) - 1.0 / np.asarray(e_in_kev,
                                                                                  float))


def compton_scattered(e_in_kev: np.ndarray | float, cos_theta: np.ndarray | float) -> np.ndarray:
    """Photon energy after Compton scattering by angle θ (keV)."""
    e = np.asarray(e_in_kev, float)
    return e / (1.0 + e / MEC2_KEV * (1.0 - np.asarray(cos_theta, float)))


def klein_nishina_cm2(energy_kev: np.ndarray | float) -> np.ndarray:
    """Klein–Nishina total cross-section per free electron, cm²."""
    k = np.asarray(energy_kev, float) / MEC2_KEV
    l2k = np.log1p(2.0 * k)
    return 2.0 * np.pi * R_E_CM**2 * ((1.0 + k) / k**2 * (2.0 * (1.0 + k) / (1.0 + 2.0 * k)
                                                          - l2k / k)
                                      + l2k / (2.0 * k) - (1.0 + 3.0 * k) / (1.0 + 2.0 * k)**2)


def klein_nishina_dcos(energy_kev: float, cos_theta: np.ndarray) -> np.ndarray:
    """Klein–Nishina dσ/dcosθ per electron (cm²), integrated over the azimuth."""
    p = 1.0 / (1.0 + energy_kev / MEC2_KEV * (1.0 - np.asarray(cos_theta, float)))
    return np.pi * R_E_CM**2 * p**2 * (p + 1.0 / p - (1.0 - np.asarray(cos_theta, float)**2))


def sauter_k_shell_cm2(energy_kev: np.ndarray | float) -> np.ndarray:
    """Sauter's K-shell photo-absorption cross-section per atom (Born approximation), cm²."""
    k = np.asarray(energy_kev, float) / MEC2_KEV
    g = 1.0 + k
    s = np.sqrt(g * g - 1.0)
    bracket = 4.0 / 3.0 + g * (g - 2.0) / (g + 1.0) * (
        1.0 - np.log((g + s) / (g - s)) / (2.0 * g * s))
    return 1.5 * SIGMA_T_CM2 * ALPHA**4 * Z_GE**5 * s**3 * bracket / k**5


def analytic_attenuation(energy_kev: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                          np.ndarray]:
    """Linear coefficients per mm: Sauter K-shell photo, Klein–Nishina Compton, no pair."""
    e = np.asarray(energy_kev, float)
    photo = sauter_k_shell_cm2(e) * ATOMS_PER_CM3 / 10.0
    compton = Z_GE * klein_nishina_cm2(e) * ATOMS_PER_CM3 / 10.0
    pair = np.zeros_like(e)
    return photo, compton, pair, photo + compton + pair


def table_attenuation(energies_kev: np.ndarray, photo: np.ndarray, compton: np.ndarray,
                      pair: np.ndarray) -> Attenuation:
    """An attenuation function from tabulated per-mm coefficients (log-log interpolation of
    photo and Compton, linear of pair, which is 0 below threshold)."""
    le = np.log(np.asarray(energies_kev, float))
    lp, lc = np.log(np.asarray(photo, float)), np.log(np.asarray(compton, float))
    pr = np.asarray(pair, float)

    def attenuation(energy_kev: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                     np.ndarray]:
        x = np.log(np.asarray(energy_kev, float))
        p, c = np.exp(np.interp(x, le, lp)), np.exp(np.interp(x, le, lc))
        q = np.interp(x, le, pr)
        return p, c, q, p + c + q

    return attenuation


def xcom_attenuation(path: str | None = None) -> tuple[Attenuation, str]:
    """Coefficients from the transport simulation's NIST-XCOM germanium table
    (:func:`gpsa.simulate.transport.xsection.load_cross_sections`, incoherent scattering as
    "Compton", coherent scattering left out as the tracking does not see it), and its source."""
    from gpsa.simulate.transport.xsection import PROCESSES, load_cross_sections

    cs = load_cross_sections(path)
    mu = np.asarray(cs.mu)
    col = {p: mu[:, i] for i, p in enumerate(PROCESSES)}
    tiny = np.finfo(float).tiny
    return (table_attenuation(cs.energy_kev, np.maximum(col["photoelectric"], tiny),
                              np.maximum(col["incoherent"], tiny), col["pair"]), cs.source)


def default_attenuation() -> tuple[Attenuation, str]:
    """The coefficients tracking uses by default, and their source: the NIST-XCOM table of
    :func:`xcom_attenuation` when the transport package is installed, else
    :func:`analytic_attenuation`."""
    try:
        return xcom_attenuation()
    except ImportError:  # pragma: no cover - the transport package ships with gpsa
        return analytic_attenuation, "analytic (Klein-Nishina + Sauter K-shell)"


@dataclass(frozen=True)
class AttenuationGrid:
    """An attenuation function sampled on a log-energy grid for the numba kernels.

    log_e: (g,) ln(E/keV); log_photo, log_compton, log_total: (g,) ln(μ per mm)."""

    log_e: np.ndarray
    log_photo: np.ndarray
    log_compton: np.ndarray
    log_total: np.ndarray
    source: str = ""

    @classmethod
    def sample(cls, attenuation: Attenuation, source: str = "", e_min_kev: float = 5.0,
               e_max_kev: float = 20_000.0, n: int = 600) -> AttenuationGrid:
        e = np.geomspace(e_min_kev, e_max_kev, n)
        photo, compton, _, total = (np.asarray(a, float) for a in attenuation(e))
        tiny = np.finfo(float).tiny
        return cls(np.log(e), np.log(np.maximum(photo, tiny)),
                   np.log(np.maximum(compton, tiny)), np.log(np.maximum(total, tiny)), source)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        return self.log_e, self.log_photo, self.log_compton, self.log_total
