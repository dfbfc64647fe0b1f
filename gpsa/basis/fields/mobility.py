"""Field-dependent drift velocities of electrons and holes in germanium along one lattice axis.

Caughey–Thomas form extended by Mihailescu et al. (NIM A 447 (2000) 350)::

    v(E) = μ₀·E / (1 + (E/E₀)^β)^(1/β) − μₙ·E          (E in V/cm, v in cm/s)

Two published parameter sets, longitudinal velocity along <100> and
<111> at ~77–78 K (μ₀ cm²/Vs, E₀ V/cm, β, μₙ cm²/Vs), as given in the SolidStateDetectors.jl ADL
configurations:

============== ======= ====== ===== ====== ======= ====== ===== =====
set            e<100>                       h<100>
============== ======= ====== ===== ====== ======= ====== ===== =====
mihailescu2000  40180   493   0.72    589   66333   181   0.744   0
bruyneel2006    38609   511   0.805  −171   61824   185   0.942   0
============== ======= ====== ===== ====== ======= ====== ===== =====

(<111>: e 42420/251/0.87/62, h 107270/100/0.58 and e 38536/538/0.641/510, h 61215/182/0.662.)
The default is **Mihailescu et al. <100>** (NIM A 447 (2000) 350): it reproduces the tabulated
drift velocities of mjd_siggen (e.g. 0.015/0.021 mm/ns for e/h at 50 V/cm). Bruyneel et al.,
NIM A 569 (2006) 764 (the AGATA Detector Library) fit their values inside an anisotropic model,
whose <100> electron curve alone saturates high (~0.15 mm/ns at 3 kV/cm) when used isotropically.

These curves are the *longitudinal* velocities along one axis. The isotropic model
(``anisotropic = false``) drifts along ±E with the <100> curve; the lattice model of
:mod:`gpsa.basis.fields.anisotropy` (the default) combines the <100> and <111> curves into a
velocity that depends on the field's direction (and is not parallel to it in general).

Temperature: ``μ₀(T) = μ₀(T_ref)·(T/T_ref)^(−p)`` with p = 1.68 (electrons) and 2.398 (holes),
the exponents adopted for Ge in mjd_siggen (2015), saturation velocity ``μ₀·E₀`` kept constant
(so ``E₀`` scales inversely); the anisotropic model scales its <100> and <111> curves alike.
At ``T = T_ref = 77 K`` nothing changes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from gpsa.basis.fields._jit import JIT

#: (μ₀ cm²/Vs, E₀ V/cm, β, μₙ cm²/Vs) per parameter set, carrier and axis.
PRESETS: dict[str, dict[str, tuple[float, float, float, float]]] = {
    "mihailescu2000": {
        "e100": (40180.0, 493.0, 0.72, 589.0),
        "e111": (42420.0, 251.0, 0.87, 62.0),
        "h100": (66333.0, 181.0, 0.744, 0.0),
        "h111": (107270.0, 100.0, 0.58, 0.0),
    },
    "bruyneel2006": {
        "e100": (38609.0, 511.0, 0.805, -171.0),
        "e111": (38536.0, 538.0, 0.641, 510.0),
        "h100": (61824.0, 185.0, 0.942, 0.0),
        "h111": (61215.0, 182.0, 0.662, 0.0),
    },
}
DEFAULT_SET = "mihailescu2000"
REFERENCE_K = 77.0
EXPONENTS = {"electron": 1.68, "hole": 2.398}
#: cm/s → mm/ns
CM_PER_S = 1e-8


@dataclass(frozen=True)
class CarrierMobility:
    mu0: float  # cm²/(V·s)
    e0: float  # V/cm
    beta: float
    mun: float = 0.0  # cm²/(V·s)

    def at_temperature(self, temperature_k: float, exponent: float,
                       reference_k: float = REFERENCE_K) -> CarrierMobility:
        """Power-law scaling of μ₀ (and μₙ) at constant saturation velocity μ₀·E₀."""
        scale = (temperature_k / reference_k) ** (-exponent)
        return CarrierMobility(self.mu0 * scale, self.e0 / scale, self.beta, self.mun * scale)

    def as_array(self) -> np.ndarray:
        """``[μ₀, E₀, β, μₙ]`` float64 for the kernels."""
        return np.array([self.mu0, self.e0, self.beta, self.mun], dtype=np.float64)

    def speed(self, e_v_per_mm: np.ndarray) -> np.ndarray:
        """Drift speed (mm/ns) for field magnitudes in V/mm (numpy reference of the kernel)."""
        e = 10.0 * np.abs(np.asarray(e_v_per_mm, dtype=np.float64))
        v = self.mu0 * e / (1.0 + (e / self.e0) ** self.beta) ** (1.0 / self.beta) - self.mun * e
        return v * CM_PER_S


@JIT
def drift_speed(params: np.ndarray, e_v_per_mm: float) -> float:  # pragma: no cover - numba
    """Kernel twin of :meth:`CarrierMobility.speed` (``params = [μ₀, E₀, β, μₙ]``)."""
    e = 10.0 * abs(e_v_per_mm)
    if e == 0.0:
        return 0.0
    mu0, e0, beta, mun = params[0], params[1], params[2], params[3]
    v = mu0 * e / math.pow(1.0 + math.pow(e / e0, beta), 1.0 / beta) - mun * e
    return v * 1e-8
