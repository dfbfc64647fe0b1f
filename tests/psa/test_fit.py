"""The least-squares refinement (refine_method = "fit"): the numba kernels
(gpsa.psa.fit_numba) against the numpy reference (gpsa.psa.fit), and what the fit must do."""

from __future__ import annotations

import numpy as np
import pytest

from gpsa.basis.grid import BasisGrid
from gpsa.basis.model import Basis
from gpsa.bench.accuracy import hit_positions, match_hits
from gpsa.bench.toy import simulate_events
from gpsa.psa import GridSearchPSA, PsaSettings
from gpsa.psa.fit import FitRefiner, cell_weights, t0_scan
from gpsa.psa.fit_numba import NumbaFitter
from gpsa.psa.kernels.fit_kernels import solve3

SAMPLES = 30


def _assert_same(a, b, da: np.ndarray, db: np.ndarray) -> None:  # noqa: ANN001
    """Same positions, T0, foms and signals to float rounding (a rounding difference may flip
    one step's acceptance: 97 % of hits must agree to 1 µm)."""
    assert np.array_equal(a.point, b.point)
    moved = np.abs(a.offset_mm - b.offset_mm).max(axis=1)
    assert np.mean(moved < 1e-3) >= 0.97, np.sort(moved)[-5:]
    assert np.mean(np.abs(da - db) < 1e-4) >= 0.97
    same = moved < 1e-3
    np.testing.assert_allclose(b.fom[same], a.fom[same], rtol=2e-3)
    np.testing.assert_allclose(b.signal[same], a.signal[same], rtol=1e-3, atol=1e-5)
    assert np.any(np.abs(a.offset_mm).max(axis=1) > 0.05)  # the fit did move hits
    assert np.any(np.abs(da) > 0.01)


@pytest.mark.parametrize("p", [2.0, 0.3])
def test_single_hits_equal_reference(
        refine_both, basis: Basis, crystal, p: float) -> None:  # noqa: ANN001
    block, _ = simulate_events(crystal, 40, n_samples=60, t0=20.0, noise=0.01, t0_jitter=0.5,
                               seed=41)
    psa = GridSearchPSA(basis, PsaSettings(samples=SAMPLES, p=p, refine_method="fit"))
    a, b, da, db = refine_both(psa, block, (FitRefiner, NumbaFitter))
    _assert_same(a, b, da, db)


def test_two_hits_equal_reference(
        refine_both, basis: Basis, crystal) -> None:  # noqa: ANN001
    block, _ = simulate_events(crystal, 30, n_samples=60, t0=20.0, noise=0.01, t0_jitter=0.5,
                               interactions=2, seed=42)
    psa = GridSearchPSA(basis, PsaSettings(samples=SAMPLES, refine_method="fit"))
    a, b, da, db = refine_both(psa, block, (FitRefiner, NumbaFitter))
    assert a.rank.max() >= 1  # several ranks: the residual of earlier hits is used
    _assert_same(a, b, da, db)


def test_fit_beats_the_grid(basis: Basis, crystal) -> None:  # noqa: ANN001
    """The fit's positions are closer to the truth than the grid points."""
    block, truth = simulate_events(crystal, 60, n_samples=60, t0=20.0, noise=0.005, seed=43)
    s = PsaSettings(samples=SAMPLES, refine_method="fit")
    grid = GridSearchPSA(basis, s.replace(refine_grid=False, refine_t0=False)).run(block)
    fit = GridSearchPSA(basis, s).run(block)
    err = {}
    for name, out in (("grid", grid), ("fit", fit)):
        h, t = match_hits(out, truth)
        err[name] = np.median(np.linalg.norm(hit_positions(out)[h] - truth.position[t], axis=1))
    assert err["fit"] < 0.9 * err["grid"], err


def test_cell_weights_derivatives(basis: Basis) -> None:
    """The analytic weight derivatives match central differences inside a cell."""
    grid = BasisGrid.from_basis(basis)
    j = len(basis) // 2
    seg = int(basis.segment[j])
    x = np.asarray(basis.positions[j], np.float64) + 0.3 * np.asarray(grid.spacing)
    cell = cell_weights(grid, basis.segment, x, seg)
    assert cell is not None
    nodes, w, dw = cell
    assert w.sum() == pytest.approx(1.0)
    for a in range(3):
        h = np.zeros(3)
        h[a] = 1e-4
        plus, minus = cell_weights(grid, basis.segment, x + h, seg), cell_weights(
            grid, basis.segment, x - h, seg)
        assert plus is not None and minus is not None
        np.testing.assert_allclose(dw[:, a], (plus[1] - minus[1]) / 2e-4, atol=1e-6)


def test_solve3_and_scan() -> None:
    normal = np.array([[4.0, 1.0, 0.0, 1.0], [1.0, 3.0, 0.5, 2.0], [0.0, 0.5, 2.0, 3.0]])
    step = np.empty(3)
    assert solve3(normal, 0.0, step)
    np.testing.assert_allclose(step, np.linalg.solve(normal[:, :3], normal[:, 3]))
    assert not solve3(np.zeros((3, 4)), 0.0, step)
    assert list(t0_scan(1.0)) == [0.0, -0.5, 0.5, -1.0, 1.0]


def test_unknown_refine_method_is_one_line() -> None:
    from gpsa.errors import ConfigError

    with pytest.raises(ConfigError, match="refine_method"):
        PsaSettings(refine_method="newton")
