"""Charge cloud and diffusion (``cloud_sigma_mm``, ``diffusion``; :mod:`gpsa.basis.fields.
diffusion`): the spreading kernel against its numpy twin and the analytic erf, the time spread
of a uniform drift against σ_t² = (σ₀/v)² + 2kT·t/(q·E·v) with the low-field diffusion constant
siggen quotes, and a generated basis whose rise widens with the cloud while its net charges
and its zero baseline stay."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gpsa.basis.fields.diffusion import (
    BOLTZMANN_EV_PER_K,
    spread_all,
    spread_reference,
    time_spread,
)
from gpsa.basis.fields.settings import GeneratorSettings
from gpsa.basis.fields.solve import CrystalFields, solve_fields
from gpsa.basis.generate import basis_points, compute_signals
from gpsa.detector.segmentation import CrystalGeometry
from gpsa.errors import ConfigError

S = GeneratorSettings(field_grid_mm=4.0, sampling="point", n_samples=110)


def _spread(sig: np.ndarray, sigma: np.ndarray, offset: int) -> np.ndarray:
    out = np.empty_like(sig)
    spread_all(sig, sigma, offset, out)
    return out


def test_the_kernel_equals_its_numpy_twin() -> None:
    rng = np.random.default_rng(5)
    offset, n_keep = 12, 150
    sig = np.zeros((4, 37, offset + n_keep), np.float32)
    sig[..., offset:] = np.cumsum(rng.normal(size=(4, 37, n_keep)), axis=-1) / 30
    sig[..., offset] = 0.0
    # small, large, end-clipped and zero spreads
    sigma = np.stack([np.full(n_keep, 0.3), np.linspace(0.0, 12.0, n_keep),
                      np.full(n_keep, 60.0), np.zeros(n_keep)])
    got = _spread(sig, sigma, offset)
    np.testing.assert_allclose(got, spread_reference(sig, sigma, offset), rtol=0, atol=2e-6)
    np.testing.assert_allclose(got[3], sig[3], rtol=0, atol=5e-8)  # no spread, no change
    assert np.all(got[..., :offset] == 0.0)


def test_a_step_becomes_the_erf_and_keeps_its_charge() -> None:
    offset, n_keep, tau, sigma = 10, 300, 120, 7.5
    sig = np.zeros((1, 37, offset + n_keep), np.float32)
    sig[..., offset + tau:] = 1.0  # the charge arrives during step tau (centre tau − ½)
    got = _spread(sig, np.full((1, n_keep), sigma), offset)[0, 4, offset:]
    t = np.arange(n_keep)
    expect = [0.5 * math.erfc(-(x - tau + 0.5) / (sigma * math.sqrt(2))) for x in t]
    np.testing.assert_allclose(got, expect, rtol=0, atol=1e-6)
    assert got[-1] == pytest.approx(1.0, abs=1e-7)
    t10, t90 = np.interp([0.1, 0.9], got, t)
    assert t90 - t10 == pytest.approx(2 * 1.2816 * sigma, rel=1e-3)


def test_the_spread_stops_at_the_interaction_and_at_the_trace_end() -> None:
    offset, n_keep = 5, 100
    sig = np.zeros((2, 37, offset + n_keep), np.float32)
    sig[0, :, offset + 2:] = 1.0  # an early arrival: nothing may leak before the interaction
    sig[1, :, offset + 95:] = 1.0  # a late one with a wide cloud: not settled by the end
    got = _spread(sig, np.full((2, n_keep), 10.0), offset)
    assert np.all(got[..., :offset + 1] == 0.0)
    assert got[0, 0, -1] == pytest.approx(1.0, abs=1e-6)
    assert np.all(np.diff(got[0, 0]) >= 0) and np.all(np.diff(got[1, 0]) >= 0)
    assert 0.3 < got[1, 0, -1] < 0.8


def test_uniform_drift_spreads_as_the_einstein_relation() -> None:
    e_field, v, dt, temp = 50.0, 0.05, 1.0, 77.0  # V/mm, mm/ns: mu = 1e-3 mm²/(V ns)
    n_keep = 200
    efield = np.zeros((4, 4, 4, 3), np.float32)
    efield[..., 2] = e_field
    path = np.zeros((3, n_keep, 3))
    path[..., 2] = -40.0 + v * dt * np.arange(n_keep)
    t_end = np.array([-1.0, 150.0, 80.0], np.float32)  # 2 collected at 150 and 80 ns
    path[1, 150:, 2] = path[1, 150, 2]
    path[2, 80:, 2] = path[2, 80, 2]
    origin = np.array([-60.0, -60.0, -60.0])
    sigma = time_spread(path, t_end, efield, origin, 40.0, dt, 0.4, True, temp)
    kt = BOLTZMANN_EV_PER_K * temp
    t = np.arange(n_keep) * dt
    grown = np.minimum(t[None, :], np.array([n_keep - 1.0, 150.0, 80.0])[:, None])
    expect = np.sqrt((0.4 / v) ** 2 + 2 * kt * grown / (e_field * v))
    np.testing.assert_allclose(sigma, expect, rtol=1e-5)
    # D = mu·kT/q: mu = 4e4 cm²/Vs (holes, 77 K, low field) gives the 265 cm²/s of siggen
    assert 4e4 * kt == pytest.approx(265.0, rel=2e-3)
    no_cloud = time_spread(path, t_end, efield, origin, 40.0, dt, 0.0, False, temp)
    assert np.all(no_cloud == 0.0)


def test_cloud_settings_are_checked() -> None:
    with pytest.raises(ConfigError, match="'cloud_sigma_mm' must be >= 0"):
        GeneratorSettings(cloud_sigma_mm=-1.0)
    with pytest.raises(ConfigError, match="'diffusion' must be true or false"):
        GeneratorSettings.from_dict({"diffusion": "yes"})


@pytest.fixture(scope="module")
def fields() -> tuple[CrystalGeometry, CrystalFields]:
    geometry = CrystalGeometry.default("A")
    return geometry, solve_fields(geometry, S)


def _current(sig: np.ndarray, channel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Largest current and time variance (ns² at 1 ns samples) of one channel's current."""
    i = np.diff(sig[np.arange(len(channel)), channel].astype(np.float64), axis=1)
    t = np.arange(i.shape[1]) + 0.5
    w = i / i.sum(axis=1, keepdims=True)
    mean = (w * t).sum(axis=1)
    return np.abs(i).max(axis=1), (w * (t - mean[:, None]) ** 2).sum(axis=1)


def test_a_cloud_smooths_the_signals_and_keeps_the_charge(
        fields: tuple[CrystalGeometry, CrystalFields]) -> None:
    geometry, solved = fields
    pos, _ = basis_points(geometry, 14.0)
    # 1 ns point samples and no preamp: the diffusion's few tenths of a ns would be lost in
    # 10 ns samples and under the preamp's 35 ns
    s0 = S.replace(preamp_tau_ns=0.0, sampling_ns=1.0, n_samples=1000, t0_sample=100)
    plain, _ = compute_signals(solved, pos, s0, geometry.order)
    hit = np.abs(plain[:, :36, -1]).argmax(axis=1)
    core = np.full(len(pos), 36)
    settled = np.all(np.abs(plain[..., -10:] - plain[..., -1:]) < 1e-6, axis=-1)
    assert settled.mean() > 0.9
    peak0, var0 = _current(plain, core)
    grown = {}
    for sigma, diffusion in ((0.0, True), (1.0, False), (3.0, True)):
        s = s0.replace(cloud_sigma_mm=sigma, diffusion=diffusion)
        sig, _ = compute_signals(solved, pos, s, geometry.order)
        np.testing.assert_allclose(sig[..., -1][settled], plain[..., -1][settled], atol=1e-5)
        assert np.all(sig[..., : s.t0_sample + 1] == 0.0)
        peak, var = _current(sig, core)
        # a smear does not raise the largest current of the hit segment or of the core (exact
        # for a constant σ; a growing σ may move it by round-off), and adds to the spread in
        # time of the core's current
        assert np.all(_current(sig, hit)[0] <= _current(plain, hit)[0] * (1 + 1e-4) + 1e-6)
        assert np.all(peak <= peak0 * (1 + 1e-4) + 1e-6) and np.all(var >= var0 - 1e-6)
        grown[sigma] = np.median(var - var0)
    # diffusion alone: σ_t of a few tenths of a ns (≪ the 10 ns samples); a cloud: ~σ/v
    assert 0.02 < grown[0.0] < 1.0
    assert 20.0 < grown[1.0] < 200.0  # ns², i.e. σ_t ~ 4–14 ns for v ~ 0.07–0.25 mm/ns
    assert 6.0 < grown[3.0] / grown[1.0] < 12.0  # the added variance grows as σ²
