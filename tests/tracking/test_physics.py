"""Physics of the tracking: Compton formula, Klein-Nishina total cross-section against the
integral of its differential form, the analytic coefficients against the XCOM table, and the
toy's Klein-Nishina sampling against the analytic distribution."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate

from gpsa.tracking.physics import (
    MEC2_KEV,
    AttenuationGrid,
    analytic_attenuation,
    compton_cos,
    compton_scattered,
    klein_nishina_cm2,
    klein_nishina_dcos,
    sauter_k_shell_cm2,
    xcom_attenuation,
)
from gpsa.tracking.toymc import generate, sample_klein_nishina


def test_compton_formula_round_trip() -> None:
    cos = np.linspace(-1, 1, 9)
    assert np.allclose(compton_cos(1332.5, compton_scattered(1332.5, cos)), cos)
    assert compton_scattered(1000.0, -1.0) == pytest.approx(1000 / (1 + 2000 / MEC2_KEV))


@pytest.mark.parametrize("e", [50.0, 511.0, 1332.5, 5000.0])
def test_klein_nishina_total_is_the_integral(e: float) -> None:
    total, _ = integrate.quad(lambda c: klein_nishina_dcos(e, c), -1, 1, epsabs=0, epsrel=1e-12)
    assert klein_nishina_cm2(e) == pytest.approx(total, rel=1e-9)


def test_sauter_limits() -> None:
    # non-relativistic Born limit 4 sqrt(2) alpha^4 Z^5 sigma_T k^-7/2 at small k
    from gpsa.tracking.physics import ALPHA, SIGMA_T_CM2, Z_GE

    k = 1e-4
    nr = 4 * np.sqrt(2) * ALPHA**4 * Z_GE**5 * SIGMA_T_CM2 * k**-3.5
    assert sauter_k_shell_cm2(k * MEC2_KEV) == pytest.approx(nr, rel=1e-3)


def test_compton_against_the_xcom_table() -> None:
    # incoherent scattering on bound electrons tends to Klein-Nishina at high energy
    xcom, _ = xcom_attenuation()
    e = np.array([500.0, 1000.0, 2000.0, 5000.0])
    ratio = analytic_attenuation(e)[1] / xcom(e)[1]
    assert np.all(np.abs(ratio - 1) < 0.02), ratio


@pytest.mark.parametrize("e", [200.0, 1332.5])
def test_toy_klein_nishina_sampling(e: float) -> None:
    cos = sample_klein_nishina(e, 40000, seed=4)
    edges = np.linspace(-1, 1, 21)
    hist = np.histogram(cos, edges)[0]
    expect = np.array([integrate.quad(lambda c: klein_nishina_dcos(e, c), a, b)[0]
                       for a, b in zip(edges[:-1], edges[1:], strict=True)])
    expect *= hist.sum() / expect.sum()
    chi2 = float(((hist - expect) ** 2 / expect).sum())
    assert chi2 < 43.8  # 19 degrees of freedom: p = 0.001


def test_toy_chains_conserve_energy() -> None:
    toy = generate(2000, [1332.5], seed=4, grid=AttenuationGrid.sample(analytic_attenuation))
    per_gamma = np.bincount(toy.gamma, toy.energies, minlength=len(toy.emitted))
    assert np.all(per_gamma <= 1332.5 + 1e-9) and np.all(toy.energies > 0)
    # every chain that ends inside the shell ends with a photo-absorption: full energy
    assert 0.5 < float(np.mean(np.abs(per_gamma - 1332.5) < 1e-6)) < 0.95
