"""Fixtures of the PSA tests: a small toy basis (gpsa.bench.toy: a 32 mm x 24 mm coaxial
crystal, 2 mm grid, ~2,400 points, 40 samples) and events simulated at continuous positions and
fractional T0 (not made from the basis)."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest

from gpsa.basis.model import Basis
from gpsa.bench.toy import ToyCrystal, Truth, simulate_events, toy_basis
from gpsa.block import CrystalBlock
from gpsa.psa import GridSearchPSA, PsaSettings

#: Samples compared in the tests (the small crystal's signals settle within ~25 samples).
SAMPLES = 30


@pytest.fixture(scope="session")
def crystal() -> ToyCrystal:
    return ToyCrystal.small()


@pytest.fixture(scope="session")
def basis(crystal: ToyCrystal) -> Basis:
    return toy_basis(crystal, grid_mm=2.0, n_samples=40, t0_sample=5)


@pytest.fixture(scope="session")
def single_events(crystal: ToyCrystal) -> tuple[CrystalBlock, Truth]:
    return simulate_events(crystal, 160, n_samples=60, t0=20.0, noise=0.01, seed=11)


@pytest.fixture(scope="session")
def double_events(crystal: ToyCrystal) -> tuple[CrystalBlock, Truth]:
    return simulate_events(crystal, 80, n_samples=60, t0=20.0, noise=0.01, interactions=2,
                           seed=12)


@pytest.fixture()
def settings() -> PsaSettings:
    return PsaSettings(samples=SAMPLES)


@pytest.fixture(scope="session")
def position_error():  # noqa: ANN201
    return _position_error


def _position_error(out, truth: Truth) -> np.ndarray:  # noqa: ANN001
    """3D distance (mm) between hits and true interactions matched by (event, segment)."""
    key_true = {(int(e), int(s)): i for i, (e, s) in enumerate(zip(truth.event, truth.segment,
                                                                   strict=True))}
    pos = np.stack([out.hits.x, out.hits.y, out.hits.z], axis=1)
    err = np.full(len(out.hits), np.inf)
    for h, (e, s) in enumerate(zip(out.hits.event_index, out.hits.segment, strict=True)):
        i = key_true.get((int(e), int(s)))
        if i is not None:
            err[h] = np.linalg.norm(pos[h] - truth.position[i])
    return err


def _refine_both(psa: GridSearchPSA, block: CrystalBlock, classes: tuple[type, type]
                 ) -> tuple[Any, Any, np.ndarray, np.ndarray]:
    """(reference hits, fast hits, reference δ, fast δ): the same grid-search hits refined by
    both refiner classes (positions at δ = 0, T0, positions again from the second stage)."""
    hits, window, hit_set, _, _ = psa.search(block)
    hits.signal[:] = psa.basis_window[hits.point]
    out = []
    for cls in classes:
        h = copy.deepcopy(hits)
        r = cls(psa, hit_set)
        r.refine_grid(h, window, np.zeros(window.shape[0]))
        delta = r.refine_t0(h, window)
        r.refine_grid(h, window, delta, first_stage=1)
        out.append((h, delta))
    (a, da), (b, db) = out
    return a, b, da, db


@pytest.fixture(scope="session")
def refine_both() -> Any:
    """:func:`_refine_both`: compare two refiners (reference and kernels) on the same hits."""
    return _refine_both
