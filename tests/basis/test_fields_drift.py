"""Drift velocities, carrier drift, Shockley–Ramo induction and the response, each against a
numpy reference or an analytic case."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gpsa.basis.fields.drift import ELECTRON_SIGN, HOLE_SIGN, NOT_COLLECTED, drift_all
from gpsa.basis.fields.induction import induce_all, induce_reference
from gpsa.basis.fields.interp import trilinear_reference
from gpsa.basis.fields.mobility import EXPONENTS, PRESETS, CarrierMobility, drift_speed
from gpsa.basis.fields.multilevel import Problem, solve_multilevel
from gpsa.basis.fields.poisson import field_from_potential
from gpsa.basis.fields.response import apply_response, neighbour_matrix
from gpsa.basis.fields.settings import GeneratorSettings
from gpsa.basis.fields.solve import CrystalFields, solve_fields
from gpsa.detector.segmentation import CrystalGeometry

from .fields_cases import Z0, Z1, plate_grid

HOLE = CarrierMobility(*PRESETS["mihailescu2000"]["h100"])
ELECTRON = CarrierMobility(*PRESETS["mihailescu2000"]["e100"])


@pytest.fixture(scope="module")
def fields() -> CrystalFields:
    return solve_fields(CrystalGeometry.default("A"), GeneratorSettings(field_grid_mm=3.0))


def test_speed_kernel_matches_numpy_and_is_germanium_like() -> None:
    e = np.array([0.0, 1.0, 10.0, 50.0, 100.0, 200.0, 300.0, 500.0])  # V/mm
    for carrier in (HOLE, ELECTRON):
        ref = carrier.speed(e)
        got = [drift_speed(carrier.as_array(), x) for x in e]
        np.testing.assert_allclose(got, ref, rtol=1e-12)
        assert np.all(np.diff(ref) > 0)
    # the tabulated velocities of mjd_siggen at 50 and 100 V/cm (mm/ns, <100>)
    assert ELECTRON.speed(5.0) == pytest.approx(0.015, abs=0.001)
    assert ELECTRON.speed(10.0) == pytest.approx(0.027, abs=0.001)
    assert HOLE.speed(5.0) == pytest.approx(0.021, abs=0.001)
    # ~1e7 cm/s = 0.1 mm/ns at 1–3 kV/cm; holes faster at low field, electrons at high field
    assert 0.08 < HOLE.speed(100.0) < 0.11 and 0.09 < ELECTRON.speed(300.0) < 0.13
    assert HOLE.speed(5.0) > ELECTRON.speed(5.0)


def test_temperature_scaling_keeps_the_saturation_velocity() -> None:
    same = HOLE.at_temperature(77.0, EXPONENTS["hole"])
    assert same == HOLE
    cold = HOLE.at_temperature(70.0, EXPONENTS["hole"])
    assert cold.mu0 > HOLE.mu0
    assert cold.mu0 * cold.e0 == pytest.approx(HOLE.mu0 * HOLE.e0)
    assert cold.speed(1.0) > HOLE.speed(1.0)


def _plate_fields(bias: float = 1000.0):
    grid = plate_grid(1.0)
    phi, _ = solve_multilevel(grid, Problem(boundary=np.array([[0.0], [bias]])), tol=1e-10)
    return grid, np.ascontiguousarray(field_from_potential(grid, phi))


def test_drift_in_a_uniform_field_is_exact() -> None:
    """Parallel plate at 1000 V: holes go down to plate 0, electrons up to plate 1, at the
    analytic speed; collection times to a small fraction of the 1 ns step."""
    grid, efield = _plate_fields()
    e_mag = 1000.0 / (Z1 - Z0)
    starts = np.array([[0.3, -1.2, 2.0], [1.0, 1.0, 5.0], [-2.5, 0.4, 8.8]])
    n_keep = 200
    for sign, mob, target, dist in ((HOLE_SIGN, HOLE, 0, starts[:, 2] - Z0),
                                    (ELECTRON_SIGN, ELECTRON, 1, Z1 - starts[:, 2])):
        path = np.empty((3, n_keep, 3))
        t_end, lab = np.empty(3, np.float32), np.empty(3, np.int16)
        drift_all(starts, sign, mob.as_array(), efield, grid.sdf, grid.labels, grid.origin,
                  1.0 / grid.spacing, 1.0, 1000, path, t_end, lab)
        np.testing.assert_array_equal(lab, target)
        np.testing.assert_allclose(t_end, dist / mob.speed(e_mag), atol=0.05)
        np.testing.assert_allclose(path[:, :, :2], np.broadcast_to(starts[:, None, :2],
                                                                   (3, n_keep, 2)), atol=1e-9)
        assert np.all(np.abs(path[:, -1, 2] - (Z0 if target == 0 else Z1)) < 1e-3)


def _rk2_reference(start: np.ndarray, sign: float, mob: CarrierMobility, efield: np.ndarray,
                   origin: np.ndarray, h: float, steps: int) -> np.ndarray:
    """The midpoint rule in plain numpy (interior only: no surface handling)."""
    def velocity(x: np.ndarray) -> np.ndarray:
        e = trilinear_reference(efield, origin, h, x[None])[0].astype(np.float64)
        mag = np.linalg.norm(e)
        return sign * mob.speed(mag) * e / mag

    out = [start.copy()]
    x = start.copy()
    for _ in range(steps):
        x = x + velocity(x + 0.5 * velocity(x))
        out.append(x)
    return np.array(out)


def test_drift_kernel_matches_numpy_midpoint_rule(fields: CrystalFields) -> None:
    grid = fields.grid
    starts = np.array([[20.0, 3.0, 40.0], [-12.0, 15.0, 60.0], [5.0, -25.0, 30.0]])
    n_keep = 40
    for sign, mob in ((HOLE_SIGN, HOLE), (ELECTRON_SIGN, ELECTRON)):
        path = np.empty((3, n_keep, 3))
        t_end, lab = np.empty(3, np.float32), np.empty(3, np.int16)
        drift_all(starts, sign, mob.as_array(), fields.electric.field, grid.sdf, grid.labels,
                  grid.origin, 1.0 / grid.spacing, 1.0, 3000, path, t_end, lab)
        assert np.all(lab != NOT_COLLECTED)
        for p in range(3):
            ref = _rk2_reference(starts[p], sign, mob, fields.electric.field, grid.origin,
                                 grid.spacing, 30)
            np.testing.assert_allclose(path[p, :31], ref, atol=1e-6)
        # holes end on a segment, electrons on the core
        assert np.all(lab < 36) if sign > 0 else np.all(lab == 36)


def test_induction_kernel_matches_numpy_reference(fields: CrystalFields) -> None:
    rng = np.random.default_rng(3)
    n, n_keep = 5, 30
    wext = np.ascontiguousarray(fields.weighting.extended())
    start = np.array([[10.0, 10.0, 50.0]]) + rng.normal(0, 5, (n, 1, 3))
    path_h = np.cumsum(np.concatenate([start, rng.normal(0, 0.1, (n, n_keep - 1, 3))], 1), 1)
    path_e = np.cumsum(np.concatenate([start, rng.normal(0, 0.1, (n, n_keep - 1, 3))], 1), 1)
    t_h = np.array([-1, 12.5, 29.0, 3.2, -1], np.float32)
    t_e = np.array([20.0, -1, 5.5, 3.0, -1], np.float32)
    lab_h = np.array([-1, 7, 20, 35, -1], np.int16)
    lab_e = np.array([36, -1, 36, 36, -1], np.int16)
    out = np.zeros((n, 37, n_keep + 4), np.float32)
    induce_all(path_h, path_e, t_h, t_e, lab_h, lab_e, wext, fields.grid.origin,
               1.0 / fields.grid.spacing, 1.0, 36, 4, out)
    ref = induce_reference(path_h, path_e, t_h, t_e, lab_h, lab_e, wext, fields.grid.origin,
                           fields.grid.spacing, 1.0, 36)
    np.testing.assert_allclose(out[..., 4:], ref, atol=2e-6)
    assert not out[..., :4].any()
    # point 3: both carriers collected -> exact final values
    np.testing.assert_allclose(out[3, :, -1], np.eye(37)[35] + np.eye(37)[36], atol=1e-7)


def test_preamp_step_response_and_sampling() -> None:
    t0, n_samples, tau = 10, 56, 35.0
    raw = np.zeros((1, 37, n_samples * 10), np.float32)
    raw[0, 4, t0 * 10:] = 1.0
    out = apply_response(raw, dt_ns=1.0, sampling_ns=10.0, n_samples=n_samples, tau_ns=tau)
    t = (np.arange(n_samples) - t0) * 10.0
    expected = np.where(t >= 0, 1.0 - np.exp(-np.clip(t, 0, None) / tau), 0.0)
    np.testing.assert_allclose(out[0, 4], expected, atol=1e-6)
    assert out.dtype == np.float32 and not np.delete(out[0], 4, axis=0).any()


def test_crosstalk_and_smoothing_keep_the_net_charges() -> None:
    raw = np.zeros((1, 37, 560), np.float32)
    ramp = np.clip((np.arange(560) - 100) / 200.0, 0, 1)
    raw[0, 0] = ramp
    raw[0, 36] = ramp
    plain = apply_response(raw, dt_ns=1.0, sampling_ns=10.0, n_samples=56, tau_ns=20.0)
    mixed = apply_response(raw, dt_ns=1.0, sampling_ns=10.0, n_samples=56, tau_ns=20.0,
                           smoothing_ns=5.0, crosstalk_fraction=0.02)
    np.testing.assert_allclose(mixed[0, :, -1], plain[0, :, -1], atol=1e-4)
    nb = np.flatnonzero(neighbour_matrix()[0])
    assert np.abs(mixed[0, nb]).max() == pytest.approx(0.02 * 0.05, rel=0.05)  # c·ΔS...
    far = np.setdiff1d(np.arange(1, 36), nb)
    assert not mixed[0, far].any()  # ...nobody else does
    np.testing.assert_array_equal(mixed[0, 36], apply_response(
        raw, dt_ns=1.0, sampling_ns=10.0, n_samples=56, tau_ns=20.0, smoothing_ns=5.0)[0, 36])


@pytest.mark.parametrize("order", ["sector-major", "ring-major"])
def test_neighbour_matrix(order: str) -> None:
    m = neighbour_matrix(order)
    np.testing.assert_array_equal(m, m.T)
    assert set(m.sum(axis=1).astype(int).tolist()) == {3, 4}
    a = 6 * 2 + 3 if order == "sector-major" else 6 * 3 + 2  # sector 2, ring 3
    b = 6 * 3 + 3 if order == "sector-major" else 6 * 3 + 3  # sector 3, ring 3
    assert m[a, b] == 1.0
    assert math.isclose(m.sum(), 36 * 2 + 6 * 5 * 2)
