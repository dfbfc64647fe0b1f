"""Tiny synthetic bases for the simulator tests (6 mm grid, smooth analytic signals)."""

from __future__ import annotations

import pytest

from gpsa.basis.grid import BasisGrid
from gpsa.basis.model import Basis
from gpsa.basis.toy import toy_basis
from gpsa.simulate import SimConfig


@pytest.fixture(scope="session")
def sim_basis() -> Basis:
    """567 points, 6 mm grid over a 48 × 48 × 36 mm box, 40 samples, t0 at sample 4."""
    return toy_basis(kind="smooth", grid_mm=6.0, lo=(-24, -24, 0), hi=(24, 24, 36))


@pytest.fixture(scope="session")
def sim_grid(sim_basis: Basis) -> BasisGrid:
    return BasisGrid.from_basis(sim_basis)


@pytest.fixture()
def quiet() -> SimConfig:
    """No noise, no jitter, no energy smearing: traces are exact up to ADC rounding."""
    return SimConfig(noise_kev=0.0, segment_fwhm_kev=0.0, core_fwhm_kev=0.0,
                     t0_jitter_samples=0.0)
