"""Field solver: SOR and interpolation kernels against numpy references, analytic solutions."""

from __future__ import annotations

import numpy as np
import pytest

from gpsa.basis.fields import sor
from gpsa.basis.fields.extend import extend_ghosts
from gpsa.basis.fields.grid import FREE, PASSIVE, UNUSED
from gpsa.basis.fields.interp import trilinear, trilinear_reference
from gpsa.basis.fields.multilevel import Problem, initial_phi, solve_multilevel, usable_levels
from gpsa.basis.fields.poisson import RHO_OVER_EPS_PER_1E10, field_from_potential

from .fields_cases import R1, R2, Z0, Z1, coax_exact, coax_grid, plate_grid

BIAS = 1000.0


def _solve(grid, boundary, source=None, tol=1e-9, coarse=None):
    return solve_multilevel(grid, Problem(boundary=np.asarray(boundary, float), source=source),
                            tol=tol, coarse=coarse)


def test_sor_kernel_matches_numpy_reference() -> None:
    grid = coax_grid(4.0)
    rng = np.random.default_rng(0)
    phi = initial_phi(grid, Problem(boundary=np.eye(2)))
    phi[grid.free] = rng.uniform(0, 1, (grid.free.size, 2))
    src = rng.normal(size=grid.free.size)
    ref = phi.copy()
    w, inv = grid.weights, 1.0 / grid.weights.sum(axis=1)
    for _ in range(3):
        sor.sor_half_sweep(phi, grid.free, 0, grid.n_red, grid.strides, w, inv, src, 1.7)
        sor.sor_half_sweep(phi, grid.free, grid.n_red, grid.free.size, grid.strides, w, inv,
                           src, 1.7)
        sor.sweep_reference(ref, grid, src, 1.7)
    np.testing.assert_allclose(phi, ref, rtol=1e-12, atol=1e-12)
    # the correction kernel agrees with the numpy residual
    target = (src[:, None] + sum(w[:, d, None] * ref[grid.free + grid.strides[d]]
                                 for d in range(6))) * inv[:, None]
    expected = np.abs(target - ref[grid.free]).max()
    got = sor.max_correction(phi, grid.free, grid.strides, w, inv, src)
    assert got == pytest.approx(expected, rel=1e-12)


def test_trilinear_kernel_matches_reference_and_is_exact_for_linear_fields() -> None:
    rng = np.random.default_rng(1)
    origin, h = np.array([-1.0, 2.0, 0.5]), 0.7
    shape = (6, 5, 7)
    axes = [origin[a] + h * np.arange(shape[a]) for a in range(3)]
    xyz = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1)
    coef = rng.normal(size=(3, 2))
    values = xyz @ coef + np.array([0.5, -2.0])
    pts = origin + rng.uniform(-0.5, np.array(shape) * h + 0.5, (200, 3))
    got = trilinear(values, origin, h, pts)
    np.testing.assert_allclose(got, trilinear_reference(values, origin, h, pts), atol=1e-12)
    inside = np.all((pts >= origin) & (pts <= origin + (np.array(shape) - 1) * h), axis=1)
    np.testing.assert_allclose(got[inside], (pts @ coef + [0.5, -2.0])[inside], atol=1e-12)


def test_grid_labels_and_link_fractions_of_the_coax() -> None:
    grid = coax_grid(2.0)
    labels = grid.labels
    assert set(np.unique(labels).tolist()) == {UNUSED, PASSIVE, FREE, 0, 1}
    pos = grid.node_positions(np.flatnonzero(labels.ravel() == 1))
    assert np.all(np.hypot(pos[:, 0], pos[:, 1]) < R1)
    # every link leaving the germanium ends on the surface: r = R1 or R2 (or the passive ends)
    links = np.argwhere(grid.frac < 1.0)
    start = grid.node_positions(grid.free[links[:, 0]])
    from gpsa.basis.fields.grid import DIRECTIONS

    cross = start + grid.spacing * grid.frac[links[:, 0], links[:, 1], None] * DIRECTIONS[
        links[:, 1]]
    r = np.hypot(cross[:, 0], cross[:, 1])
    radial = links[:, 1] < 4
    dist = np.minimum(np.abs(r - R1), np.abs(r - R2))[radial]
    assert dist.max() < 1e-5 * grid.spacing
    assert np.all(grid.sdf.ravel()[grid.free] > 0)


@pytest.mark.parametrize("spacing, max_err", [(3.0, 0.004), (2.0, 0.003)])
def test_laplace_coaxial_cylinder_matches_log_solution(spacing: float, max_err: float) -> None:
    """Shortley–Weller Laplace solution within 0.4 % (3 mm) / 0.3 % (2 mm) of the bias."""
    grid = coax_grid(spacing)
    phi, _ = _solve(grid, [[0.0], [BIAS]])
    pos = grid.node_positions(grid.free)
    err = phi[grid.free, 0] - coax_exact(np.hypot(pos[:, 0], pos[:, 1]), BIAS)
    assert np.abs(err).max() < max_err * BIAS


def test_poisson_coaxial_cylinder_with_uniform_charge() -> None:
    """Uniform space charge (1e10 cm^-3): within 0.3 % of the bias at 2 mm."""
    grid = coax_grid(2.0)
    s = RHO_OVER_EPS_PER_1E10 * 1.0
    phi, _ = _solve(grid, [[0.0], [4000.0]], source=lambda p: np.full(len(p), s))
    pos = grid.node_positions(grid.free)
    exact = coax_exact(np.hypot(pos[:, 0], pos[:, 1]), 4000.0, s)
    assert np.abs(phi[grid.free, 0] - exact).max() < 0.003 * 4000.0
    assert exact.max() > 4000.0 * 0.5  # the charge term matters: not the Laplace solution
    assert np.abs(coax_exact(np.array([R1, R2]), 4000.0, s) - [4000.0, 0.0]).max() < 1e-9


def test_coarse_to_fine_gives_the_same_solution_with_fewer_fine_sweeps() -> None:
    grid = coax_grid(1.5)
    coarse = usable_levels(grid, coax_grid, 6.0)
    assert [g.spacing for g in coarse] == [6.0, 3.0]
    direct, info_direct = _solve(grid, [[0.0], [BIAS]], tol=1e-6 * BIAS)
    nested, info_nested = _solve(grid, [[0.0], [BIAS]], tol=1e-6 * BIAS, coarse=coarse)
    assert np.abs(direct - nested).max() < 0.01 * BIAS * 1e-2
    assert info_nested[-1].sweeps < info_direct[-1].sweeps


def test_parallel_plate_is_exact_including_ghosts_and_field() -> None:
    """A linear potential is reproduced exactly by the stencil, the ghosts and the gradient."""
    grid = plate_grid(1.0)
    phi, _ = _solve(grid, [[0.0], [BIAS]], tol=1e-11)
    exact = BIAS * (grid.node_positions(grid.free)[:, 2] - Z0) / (Z1 - Z0)
    np.testing.assert_allclose(phi[grid.free, 0], exact, atol=1e-6 * BIAS)  # bisection limit
    ext = extend_ghosts(grid, phi).reshape(*grid.shape, 1)
    rng = np.random.default_rng(2)
    pts = np.c_[rng.uniform(-3.5, 3.5, (100, 2)), rng.uniform(Z0, Z1, 100)]
    got = trilinear(ext, grid.origin, grid.spacing, pts)[:, 0]
    np.testing.assert_allclose(got, BIAS * (pts[:, 2] - Z0) / (Z1 - Z0), atol=1e-6 * BIAS)
    field = field_from_potential(grid, phi)
    ez = field[..., 2].ravel()[grid.free]
    np.testing.assert_allclose(ez, -BIAS / (Z1 - Z0), rtol=1e-5)
    for axis in (0, 1):
        assert np.abs(field[..., axis].ravel()[grid.free]).max() < 1e-3


def test_sor_stops_when_the_rounding_floor_is_reached(caplog: pytest.LogCaptureFixture) -> None:
    grid = coax_grid(3.0)
    phi = initial_phi(grid, Problem(boundary=np.array([[0.0], [1.0]]), dtype=np.float32))
    res = sor.solve(grid, phi, tol=1e-12, max_sweeps=2000)
    assert not res.converged and res.sweeps < 2000
    assert "did not converge" in caplog.text
