"""The anisotropic drift-velocity model (gpsa.basis.fields.anisotropy): kernel against its numpy
twin, its own <100>/<111> curves along those axes, the cubic symmetry of the lattice,
continuity, temperature scaling and the isotropic fallback."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from gpsa.basis.fields.anisotropy import (
    ELECTRON_ADL,
    HOLE_ADL,
    LAMBDA,
    adl_velocity,
    carrier_model,
    lattice_rotation,
)
from gpsa.basis.fields.anisotropy_ref import axis_speeds, velocity_reference
from gpsa.basis.fields.mobility import EXPONENTS, PRESETS, CarrierMobility
from gpsa.basis.fields.settings import GeneratorSettings
from gpsa.basis.generate import carrier_params

SET = PRESETS["mihailescu2000"]
FIELDS_V_PER_MM = np.array([1.0, 5.0, 20.0, 50.0, 100.0, 200.0, 400.0])
ANGLES = (0.0, 30.0, 45.0)


def model(kind: int, angle: float = 45.0) -> np.ndarray:
    key = "e" if kind == ELECTRON_ADL else "h"
    return carrier_model(kind, CarrierMobility(*SET[key + "100"]),
                         CarrierMobility(*SET[key + "111"]), angle)


def kernel(params: np.ndarray, field: np.ndarray) -> np.ndarray:
    out = np.empty(3)
    rows = []
    for e in np.atleast_2d(field):
        adl_velocity(params, float(e[0]), float(e[1]), float(e[2]), out)
        rows.append(out.copy())
    return np.array(rows)


def lattice_direction(miller: tuple[int, int, int], angle: float) -> np.ndarray:
    """Unit vector of a lattice direction in the crystal frame."""
    d = np.asarray(miller, dtype=np.float64)
    return lattice_rotation(angle).T @ (d / np.linalg.norm(d))


@pytest.mark.parametrize("kind", [ELECTRON_ADL, HOLE_ADL])
@pytest.mark.parametrize("angle", ANGLES)
def test_kernel_matches_numpy_reference(kind: int, angle: float) -> None:
    rng = np.random.default_rng(7)
    field = rng.normal(size=(300, 3)) * rng.uniform(1.0, 300.0, size=(300, 1))
    field[0] = 0.0
    field[1] = lattice_direction((0, 0, 1), angle) * 80.0  # the hole model's polar axis
    p = model(kind, angle)
    np.testing.assert_allclose(kernel(p, field), velocity_reference(p, field), rtol=1e-11,
                               atol=1e-15)
    assert not kernel(p, field[:1]).any()


@pytest.mark.parametrize("kind", [ELECTRON_ADL, HOLE_ADL])
@pytest.mark.parametrize("angle", ANGLES)
def test_axes_reproduce_their_own_curves_and_drift_along_the_field(kind: int,
                                                                   angle: float) -> None:
    key = "e" if kind == ELECTRON_ADL else "h"
    p = model(kind, angle)
    for miller, curve in (((1, 0, 0), SET[key + "100"]), ((0, 1, 0), SET[key + "100"]),
                          ((0, 0, 1), SET[key + "100"]), ((1, 1, 1), SET[key + "111"]),
                          ((-1, 1, -1), SET[key + "111"])):
        u = lattice_direction(miller, angle)
        v = kernel(p, u[None] * FIELDS_V_PER_MM[:, None])
        speed = np.linalg.norm(v, axis=1)
        np.testing.assert_allclose(speed, CarrierMobility(*curve).speed(FIELDS_V_PER_MM),
                                   rtol=1e-10)
        np.testing.assert_allclose(v / speed[:, None], np.broadcast_to(u, v.shape), atol=1e-9)
    # <110>: along the field too; for holes V100·(1 − Λ(1 − V111/V100))
    u = lattice_direction((1, 1, 0), angle)
    v = kernel(p, u[None] * FIELDS_V_PER_MM[:, None])
    speed = np.linalg.norm(v, axis=1)
    np.testing.assert_allclose(v / speed[:, None], np.broadcast_to(u, v.shape), atol=1e-9)
    if kind == HOLE_ADL:
        v100, v111 = axis_speeds(p, FIELDS_V_PER_MM)
        np.testing.assert_allclose(speed, v100 * (1 - LAMBDA * (1 - v111 / v100)), rtol=1e-10)
        assert np.all(speed[FIELDS_V_PER_MM >= 50] < 0.95 * v100[FIELDS_V_PER_MM >= 50])


def cubic_group() -> list[np.ndarray]:
    """The 48 signed permutation matrices (the point group m3m of the lattice)."""
    mats = []
    for perm in itertools.permutations(range(3)):
        for signs in itertools.product((1.0, -1.0), repeat=3):
            m = np.zeros((3, 3))
            m[range(3), perm] = signs
            mats.append(m)
    return mats


@pytest.mark.parametrize("kind", [ELECTRON_ADL, HOLE_ADL])
def test_velocity_is_symmetric_under_the_cubic_group(kind: int) -> None:
    angle = 30.0
    p = model(kind, angle)
    rot = lattice_rotation(angle)
    rng = np.random.default_rng(11)
    field = rng.normal(size=(20, 3)) * 60.0
    v = kernel(p, field)
    for g_lat in cubic_group():
        g = rot.T @ g_lat @ rot  # the operation in the crystal frame
        np.testing.assert_allclose(kernel(p, field @ g.T), v @ g.T, atol=1e-12)


@pytest.mark.parametrize("kind", [ELECTRON_ADL, HOLE_ADL])
def test_velocity_is_continuous_and_moves_with_the_field(kind: int) -> None:
    p = model(kind, 45.0)
    # sweep the direction over three great circles in 0.05° steps: the velocity turns with a
    # bounded rate (no jump anywhere, the hole model's polar axis included)
    step = np.radians(0.05)
    t = np.arange(0.0, 2 * np.pi, step)
    for circle in (np.stack([np.cos(t), np.sin(t), 0 * t], 1),
                   np.stack([np.sin(t), 0 * t, np.cos(t)], 1),
                   np.stack([np.sin(t) / np.sqrt(2), np.sin(t) / np.sqrt(2), np.cos(t)], 1)):
        v = kernel(p, circle * 100.0)
        jump = np.linalg.norm(np.diff(v, axis=0), axis=1).max()
        assert jump < 5.0 * step * np.linalg.norm(v, axis=1).max()
        assert np.all(np.einsum("ij,ij->i", v, circle) > 0)  # never against the field


def test_temperature_scales_both_axis_curves() -> None:
    cold = GeneratorSettings(anisotropic=True, temperature_k=80.0)
    for hole, e100, e111 in ((True, "h100", "h111"), (False, "e100", "e111")):
        exp = EXPONENTS["hole" if hole else "electron"]
        p = carrier_params(cold, hole)
        np.testing.assert_allclose(p[:4], CarrierMobility(*SET[e100]).at_temperature(80.0, exp)
                                   .as_array())
        np.testing.assert_allclose(p[4:8], CarrierMobility(*SET[e111]).at_temperature(80.0, exp)
                                   .as_array())
        warm = carrier_params(GeneratorSettings(anisotropic=True), hole)
        assert p[0] < warm[0] and p[4] < warm[4]  # warmer than 77 K: lower mobility


def test_isotropic_setting_keeps_the_four_number_model() -> None:
    s = GeneratorSettings(anisotropic=False, lattice_angle_deg=10.0)
    np.testing.assert_array_equal(carrier_params(s, True), CarrierMobility(*s.hole).as_array())
    np.testing.assert_array_equal(carrier_params(s, False),
                                  CarrierMobility(*s.electron).as_array())
    assert len(carrier_params(s.replace(anisotropic=True), True)) > 4
