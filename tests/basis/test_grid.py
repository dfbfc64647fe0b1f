"""Grid detection, look-ups and trilinear interpolation of basis signals."""

from __future__ import annotations

import numpy as np
import pytest

from gpsa.basis._interp_kernels import gather_weighted, gather_weighted_numpy
from gpsa.basis.grid import BasisGrid
from gpsa.basis.model import Basis
from gpsa.basis.toy import toy_basis
from gpsa.errors import BasisError


def affine_truth(b: Basis, xyz: np.ndarray) -> np.ndarray:
    """The analytic signals of the linear toy basis (same coefficients as gpsa.basis.toy)."""
    coef = np.random.default_rng(1234).normal(size=(4, 37, b.n_samples))
    return (np.einsum("na,act->nct", xyz, coef[:3]) + coef[3][None]) / 20.0


@pytest.fixture(scope="module")
def linear() -> Basis:
    return toy_basis(kind="linear", grid_mm=3.0, lo=(-9, -6, 0), hi=(9, 6, 12), n_samples=8)


@pytest.fixture(scope="module")
def cylinder() -> Basis:
    return toy_basis(kind="smooth", grid_mm=4.0, lo=(-16, -16, 0), hi=(16, 16, 16), radius=15.0)


def test_detects_lattice(linear: Basis) -> None:
    g = BasisGrid.from_basis(linear)
    np.testing.assert_allclose(g.origin, [-9, -6, 0])
    np.testing.assert_allclose(g.spacing, [3, 3, 3])
    assert g.dims == (7, 5, 5) and g.index.dtype == np.int32
    assert np.count_nonzero(g.index >= 0) == len(linear)
    np.testing.assert_array_equal(g.index_of(g.ijk), np.arange(len(linear)))


def test_detects_anisotropic_shuffled_lattice() -> None:
    axes = [np.arange(5) * 2.0 + 1.0, np.arange(4) * 3.0 - 4.5, np.arange(3) * 2.5]
    pos = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3).astype(np.float32)
    pos = pos[np.random.default_rng(0).permutation(len(pos))]
    b = Basis(positions=pos, segment=np.zeros(len(pos), np.int16),
              signals=np.zeros((len(pos), 37, 4), np.float32))
    g = BasisGrid.from_basis(b)
    np.testing.assert_allclose(g.origin, [1.0, -4.5, 0.0])
    np.testing.assert_allclose(g.spacing, [2.0, 3.0, 2.5], rtol=1e-6)
    assert g.dims == (5, 4, 3)
    np.testing.assert_allclose(g.origin + g.ijk * g.spacing, pos, atol=1e-5)


def test_rejects_irregular_positions(linear: Basis) -> None:
    pos = np.array(linear.positions)
    pos[3, 0] += 1.1  # not a multiple of 3 mm
    b = linear.replace(positions=pos)
    with pytest.raises(BasisError, match="grid"):
        BasisGrid.from_basis(b)


def test_index_of_outside_and_empty(cylinder: Basis) -> None:
    g = BasisGrid.from_basis(cylinder)
    assert g.index_of([-1, 0, 0])[0] == -1
    assert g.index_of(np.array(g.dims))[0] == -1
    assert g.index_of([0, 0, 0])[0] == -1  # corner of the box is outside the cylinder
    np.testing.assert_allclose(g.origin, [-12, -12, 0])  # the ±16 mm planes are all outside
    centre = g.index_of([3, 3, 2])[0]
    np.testing.assert_allclose(cylinder.positions[centre], [0, 0, 8])


def test_nearest(cylinder: Basis) -> None:
    g = BasisGrid.from_basis(cylinder)
    rng = np.random.default_rng(1)
    jitter = rng.uniform(-0.45, 0.45, (len(cylinder), 3)) * g.spacing
    np.testing.assert_array_equal(g.nearest(cylinder.positions + jitter), np.arange(len(cylinder)))
    far = rng.uniform(-30, 30, (200, 3))  # many outside the cylinder or the box
    d = np.linalg.norm(far[:, None] - cylinder.positions[None], axis=2)
    np.testing.assert_allclose(d[np.arange(200), g.nearest(far)], d.min(axis=1))


def test_neighbours(linear: Basis) -> None:
    g = BasisGrid.from_basis(linear)
    inner = int(g.index_of([3, 2, 2])[0])
    nb = g.neighbours(inner)
    assert len(nb) == 26 and inner not in nb
    assert np.all(np.abs(g.ijk[nb] - g.ijk[inner]).max(axis=1) == 1)
    assert len(g.neighbours(int(g.index_of([0, 0, 0])[0]))) == 7
    assert len(g.neighbours(inner, radius=2, include_self=True)) == 5 * 5 * 5
    assert [len(ix) for ix in g.segment_indices] == list(linear.segment_counts)


def test_exact_at_grid_points(cylinder: Basis) -> None:
    g = BasisGrid.from_basis(cylinder)
    out = g.interpolate(cylinder.positions)
    assert out.dtype == np.float32 and out.shape == cylinder.signals.shape
    np.testing.assert_allclose(out, cylinder.signals, atol=1e-6)


def test_linear_in_between(linear: Basis) -> None:
    g = BasisGrid.from_basis(linear)
    rng = np.random.default_rng(2)
    xyz = rng.uniform([-9, -6, 0], [9, 6, 12], (500, 3))
    np.testing.assert_allclose(g.interpolate(xyz), affine_truth(linear, xyz), atol=2e-5)
    edge = np.array([[-9 + 1.0, -6, 0], [0, 0, 12 - 0.75]])  # on a face: linear on the face
    np.testing.assert_allclose(g.interpolate(edge), affine_truth(linear, edge), atol=2e-5)
    idx, w = g.weights(xyz)
    np.testing.assert_allclose(w.sum(axis=1), 1.0, rtol=1e-6)


def test_channel_subset(linear: Basis) -> None:
    g = BasisGrid.from_basis(linear)
    xyz = np.array([[0.5, 1.0, 2.0], [-3.3, 2.2, 7.7]])
    np.testing.assert_array_equal(g.interpolate(xyz, channels=[36, 0, 5]),
                                  g.interpolate(xyz)[:, [36, 0, 5]])


def test_outside_points_clamp_or_fall_back(cylinder: Basis) -> None:
    g = BasisGrid.from_basis(cylinder)
    near_surface = np.array([[11.0, 9.0, 5.0]])  # corner (12, 12) is outside the cylinder
    idx, raw = g.corners(near_surface)
    assert 0 < raw.sum() < 1 and np.any(idx < 0)
    idx, w = g.weights(near_surface)
    assert w.sum() == pytest.approx(1.0) and np.all(idx[w > 0] >= 0)
    beyond = np.array([[14.0, 1.0, 5.0], [12.0, 1.0, 5.0]])  # x clamped to the last plane
    both = g.interpolate(beyond)
    np.testing.assert_array_equal(both[0], both[1])
    far = np.array([[40.0, 40.0, 8.0]])  # no corner: the nearest basis point
    np.testing.assert_array_equal(g.interpolate(far)[0], cylinder.signals[g.nearest(far)[0]])
    strict = g.interpolate(near_surface, min_weight=1.0)
    np.testing.assert_array_equal(strict[0], cylinder.signals[g.nearest(near_surface)[0]])


def test_planar_basis_degenerate_axis() -> None:
    b = toy_basis(kind="linear", grid_mm=2.0, lo=(0, 0, 5), hi=(4, 4, 5), n_samples=4,
                  t0_sample=0)
    g = BasisGrid.from_basis(b)
    assert g.dims == (3, 3, 1)
    xyz = np.array([[1.0, 3.0, 5.0], [0.5, 0.5, 5.0]])
    np.testing.assert_allclose(g.interpolate(xyz), affine_truth(b, xyz), atol=2e-5)


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_kernel_matches_numpy_reference(cylinder: Basis, dtype: str) -> None:
    sig = cylinder.signals.astype(dtype)
    g = BasisGrid.from_basis(cylinder)
    xyz = np.random.default_rng(3).uniform(-16, 16, (300, 3))
    idx, w = g.weights(xyz)
    ch = np.array([0, 7, 36])
    fast = gather_weighted(sig, idx, w, ch)
    np.testing.assert_allclose(fast, gather_weighted_numpy(sig, idx, w, ch), atol=1e-6)
    assert gather_weighted(sig, idx[:0], w[:0], ch).shape == (0, 3, cylinder.n_samples)
