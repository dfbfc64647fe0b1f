"""The numba refinement (gpsa.psa.refine_numba) against the numpy reference (gpsa.psa.refine):
the same hits after the same grid search, refined by both, give the same positions, T0, figures
of merit and model signals (to float rounding)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from gpsa.basis.model import Basis
from gpsa.bench.toy import simulate_events
from gpsa.psa import GridSearchPSA, PsaSettings
from gpsa.psa.refine import Refiner
from gpsa.psa.refine_numba import NumbaRefiner

SAMPLES = 30


def _assert_same(a, b, da: np.ndarray, db: np.ndarray) -> None:  # noqa: ANN001
    assert np.array_equal(a.point, b.point)
    moved = np.abs(a.offset_mm - b.offset_mm).max(axis=1)
    assert np.mean(moved < 1e-5) >= 0.99, moved.max()  # float ties may break differently
    assert np.mean(np.abs(da - db) < 1e-9) >= 0.99
    same = moved < 1e-5
    np.testing.assert_allclose(b.fom[same], a.fom[same], rtol=2e-4)  # p < 1: fast_pow
    np.testing.assert_allclose(b.signal[same], a.signal[same], rtol=1e-4, atol=1e-6)
    assert np.any(np.abs(a.offset_mm).max(axis=1) > 0)  # the refinement did move hits
    assert np.any(da != 0)


@pytest.mark.parametrize(("p", "refine_p"), [(2.0, 0.0), (0.3, 0.0), (1.0, 0.0), (1.0, 2.0),
                                             (1.0, 0.5)])
def test_single_hits_equal_reference(
        refine_both, basis: Basis, crystal, p: float, refine_p: float) -> None:  # noqa: ANN001
    """Every exponent branch of the refinement kernels (refine_p = 0: the search's p)."""
    block, _ = simulate_events(crystal, 60, n_samples=60, t0=20.0, noise=0.01, t0_jitter=0.5,
                               seed=31)
    psa = GridSearchPSA(basis, PsaSettings(samples=SAMPLES, p=p, refine_p=refine_p,
                                           backend="numba"))
    _assert_same(*refine_both(psa, block, (Refiner, NumbaRefiner)))


@pytest.mark.parametrize("mask_other_hits", [True, False])
def test_two_hits_equal_reference(
        refine_both, basis: Basis, crystal, mask_other_hits: bool) -> None:  # noqa: ANN001
    block, _ = simulate_events(crystal, 40, n_samples=60, t0=20.0, noise=0.01, t0_jitter=0.5,
                               interactions=2, seed=32)
    psa = GridSearchPSA(basis, PsaSettings(samples=SAMPLES, backend="numba",
                                           mask_other_hits=mask_other_hits))
    a, b, da, db = refine_both(psa, block, (Refiner, NumbaRefiner))
    assert a.rank.max() >= 1  # several ranks: the residual of earlier hits is used
    _assert_same(a, b, da, db)


def test_float16_basis_equals_reference(
        refine_both, basis: Basis, crystal) -> None:  # noqa: ANN001
    """A float16 basis is decoded once into a float32 window ± pad: same result."""
    half = dataclasses.replace(basis, signals=basis.signals.astype(np.float16), source="half")
    block, _ = simulate_events(crystal, 40, n_samples=60, t0=20.0, noise=0.01, t0_jitter=0.5,
                               seed=33)
    psa = GridSearchPSA(half, PsaSettings(samples=SAMPLES, backend="numba", t0_range=1.5))
    _assert_same(*refine_both(psa, block, (Refiner, NumbaRefiner)))


def test_engine_numba_equals_reference_backend(basis: Basis, crystal) -> None:  # noqa: ANN001
    """The whole run (search + refinement) on the numba backend and on the reference one."""
    block, _ = simulate_events(crystal, 50, n_samples=60, t0=20.0, noise=0.01, t0_jitter=0.5,
                               interactions=2, seed=34)
    s = PsaSettings(samples=SAMPLES, refine_grid=True, refine_t0=True)
    ref = GridSearchPSA(basis, s.replace(backend="reference")).run(block)
    fast = GridSearchPSA(basis, s.replace(backend="numba")).run(block)
    pr = np.stack([ref.hits.x, ref.hits.y, ref.hits.z], axis=1)
    pf = np.stack([fast.hits.x, fast.hits.y, fast.hits.z], axis=1)
    assert np.mean(np.linalg.norm(pr - pf, axis=1) < 1e-4) >= 0.99
    assert np.mean(np.abs(ref.events.t0 - fast.events.t0) < 1e-9) >= 0.99


def test_empty_block_and_no_hits(basis: Basis, crystal) -> None:  # noqa: ANN001
    block, _ = simulate_events(crystal, 5, n_samples=60, t0=20.0, noise=0.01, seed=35)
    block.energies[:] = 0.0  # no segment above threshold: no hits
    s = PsaSettings(samples=SAMPLES, backend="numba", refine_grid=True, refine_t0=True)
    out = GridSearchPSA(basis, s).run(block)
    assert len(out.hits) == 0 and np.all(out.events.t0 == np.rint(block.t0))
