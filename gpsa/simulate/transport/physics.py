"""Photon physics of the transport: constants, the Klein–Nishina formula and a sampler wrapper.

Processes (see :mod:`._kernels`):

* **photo-absorption**: the whole photon energy is deposited at the point (the photo-electron's
  range and germanium's fluorescence X-rays, ~10 keV, are ignored);
* **Compton scattering** on free electrons at rest: the Klein–Nishina distribution sampled by the
  Geant4 "standard" method (:func:`._physics.klein_nishina`); the electron's energy is deposited at
  the point; no Doppler broadening and no binding effects (the XCOM *incoherent* cross section,
  which includes them, sets how often it happens);
* **pair production** above 2 mc²: E − 2 mc² is deposited at the point and two mc² photons leave
  it back to back in an isotropic direction (positron annihilation at rest, at the point);
* **Rayleigh scattering** (optional, off by default): (1 + cos²θ) angular distribution, no
  atomic form factor; when off, the coherent cross section is left out of the total.

Constants come from :mod:`scipy.constants` (CODATA): mc² and the speed of light.
"""

from __future__ import annotations

import numpy as np
from scipy import constants

from gpsa.errors import ConfigError

from ._physics import sample_compton_batch

#: Electron rest energy, keV (CODATA, via scipy.constants).
ELECTRON_MASS_KEV: float = constants.physical_constants[
    "electron mass energy equivalent in MeV"][0] * 1000.0
#: Speed of light, mm/ns.
C_MM_PER_NS: float = constants.c * 1e-6
#: Classical electron radius, mm (CODATA, via scipy.constants).
R_E_MM: float = constants.physical_constants["classical electron radius"][0] * 1e3

PROCESS_CODES = {"photo": 1, "compton": 2, "pair": 3, "rayleigh": 4}


def klein_nishina_dcos(energy_kev: float, cos_theta: np.ndarray) -> np.ndarray:
    """Klein–Nishina dσ/d(cos θ) (mm² per electron) at ``energy_kev``:
    ``π r_e² P² (P + 1/P − sin²θ)`` with ``P = E'/E = 1/(1 + k(1 − cos θ))``."""
    k = energy_kev / ELECTRON_MASS_KEV
    c = np.asarray(cos_theta, np.float64)
    p = 1.0 / (1.0 + k * (1.0 - c))
    return np.pi * R_E_MM**2 * p * p * (p + 1.0 / p - (1.0 - c * c))


def sample_compton(energy_kev: float, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` Compton scatterings of a photon of ``energy_kev`` by the transport's sampler:
    (scattered energy keV, cos θ)."""
    if not energy_kev > 0 or n < 0:
        raise ConfigError(f"sample_compton: need energy > 0 and n >= 0, got {energy_kev}, {n}")
    k = energy_kev / ELECTRON_MASS_KEV
    eps = sample_compton_batch(k, int(n), np.uint64(seed))
    cos = 1.0 - (1.0 - eps) / (eps * k)
    return eps * energy_kev, cos
