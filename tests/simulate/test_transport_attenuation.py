"""Attenuation: a pencil beam along a crystal (90 mm of germanium) against exp(−μx) of the
shipped table; the depth of the first interaction is exponential."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from gpsa.detector import LabTransform, default_shape
from gpsa.simulate.transport import ArrayGeometry, transport_gammas
from gpsa.simulate.transport.xsection import read_table

N = 20_000


def one_crystal() -> ArrayGeometry:
    return ArrayGeometry((default_shape("A"),), np.zeros(1, np.int64), np.zeros(1, np.int64),
                         LabTransform(np.eye(3)[None], np.zeros((1, 3))), "one crystal")


def beam(energy: float, n: int = N) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rays parallel to the axis at r = 20 mm (inside the hexagon at every depth, outside the
    bore): 90 mm of germanium."""
    origin = np.tile([20.0, 0.0, -10.0], (n, 1))
    return origin, np.tile([0.0, 0.0, 1.0], (n, 1)), np.full(n, energy)


def mu_table(energy: float, rayleigh: bool) -> float:
    """μ (1/mm) from the table file itself, at one of its own energies."""
    rows, density, _ = read_table()
    i = int(np.argmin(np.abs(rows[:, 0] - energy)))
    assert abs(rows[i, 0] - energy) < 1e-3 * energy
    cols = rows[i, 1:6] if rayleigh else rows[i, 2:6]
    return float(cols.sum() * density / 10.0)


def table_energy(target: float) -> float:
    rows, _, _ = read_table()
    return float(rows[np.argmin(np.abs(rows[:, 0] - target)), 0])


@pytest.mark.parametrize("target", [400.0, 1000.0, 3000.0])
def test_transmission_matches_exp_mu_x(target: float) -> None:
    energy = table_energy(target)
    h = transport_gammas(one_crystal(), *beam(energy), seed=11)
    expected = np.exp(-mu_table(energy, rayleigh=False) * 90.0)
    measured = float(np.mean(h.n_points == 0))
    sigma = np.sqrt(expected * (1 - expected) / N)
    assert abs(measured - expected) < 4.5 * sigma, (measured, expected)
    # what passed without interacting left with its full energy
    np.testing.assert_allclose(h.escaped[h.n_points == 0], energy)


def test_first_interaction_depth_is_exponential() -> None:
    energy = table_energy(300.0)
    h = transport_gammas(one_crystal(), *beam(energy), seed=12)
    first = h.interaction == 0
    z = h.xyz[first, 2]
    assert np.all((z >= 0) & (z <= 90))
    mu = mu_table(energy, rayleigh=False)
    cdf = lambda x: (1 - np.exp(-mu * x)) / (1 - np.exp(-mu * 90.0))  # noqa: E731
    assert stats.kstest(z, cdf).pvalue > 1e-3
    # first points lie on the ray
    np.testing.assert_allclose(h.xyz[first, :2], np.tile([20.0, 0.0], (first.sum(), 1)),
                               atol=1e-9)
