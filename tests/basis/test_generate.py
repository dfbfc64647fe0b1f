"""The physical basis generator end to end: a 6 mm basis on 3 mm fields (a few seconds)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gpsa.basis.generate import (
    GenerationReport,
    GeneratorSettings,
    basis_points,
    generate_basis,
    generate_basis_with_report,
)
from gpsa.basis.model import Basis
from gpsa.detector.segmentation import CrystalGeometry
from gpsa.errors import ConfigError

SETTINGS = GeneratorSettings(field_grid_mm=3.0)
GRID = 6.0


@pytest.fixture(scope="module")
def geometry() -> CrystalGeometry:
    return CrystalGeometry.default("A")


@pytest.fixture(scope="module")
def generated(geometry: CrystalGeometry) -> tuple[Basis, GenerationReport]:
    return generate_basis_with_report(geometry, GRID, SETTINGS)


def test_basis_layout(generated: tuple[Basis, GenerationReport],
                      geometry: CrystalGeometry) -> None:
    basis, _ = generated
    n_expected = geometry.shape.volume_cm3() * 1000.0 / GRID**3
    assert abs(len(basis) - n_expected) < 0.05 * n_expected
    assert basis.signals.shape == (len(basis), 37, 56) and basis.signals.dtype == np.float32
    assert basis.positions.dtype == np.float32 and basis.segment.dtype == np.int16
    assert basis.t0_sample == 10 and basis.sampling_ns == 10.0 and basis.grid_mm == GRID
    assert basis.crystal_type == "A" and basis.preamp_tau_ns == 35.0
    np.testing.assert_allclose(np.mod(basis.positions, GRID), GRID / 2)
    assert np.all(geometry.contains(basis.positions))
    assert set(np.unique(basis.segment).tolist()) == set(range(36))
    provenance = json.loads(basis.generator)
    assert provenance["settings"] == SETTINGS.to_dict()
    assert provenance["drift"]["not_collected"] == 0


def test_net_charges_end_at_one_on_the_hit_segment_and_core(
        generated: tuple[Basis, GenerationReport]) -> None:
    basis, report = generated
    sig = basis.signals
    idx = np.arange(len(basis))
    # the preamp (τ = 35 ns) lags a finished collection by at most exp(-Δt/τ) at the last sample
    t_last = (basis.n_samples - 1 - basis.t0_sample) * basis.sampling_ns
    lag = np.exp(-(t_last - report.drift_time_ns) / basis.preamp_tau_ns) + 0.005
    assert np.median(lag) < 0.01
    hit = sig[idx, basis.segment, -1]
    assert np.all(np.abs(hit - 1.0) < lag)
    assert np.all(np.abs(sig[:, 36, -1] - 1.0) < lag)
    others = sig[:, :36, -1].copy()
    others[idx, basis.segment] = 0.0
    assert np.all(np.abs(others).max(axis=1) < lag)
    # before the interaction: nothing
    assert not sig[:, :, :basis.t0_sample + 1].any()


def test_segments_sum_to_the_core(generated: tuple[Basis, GenerationReport]) -> None:
    """Charge conservation: Σ segments = core at every sample, within 1 % of the charge."""
    basis, _ = generated
    diff = basis.signals[:, :36].sum(axis=1) - basis.signals[:, 36]
    assert np.abs(diff).max() < 0.01


def test_drift_times_are_those_of_a_large_coaxial_hpge(
        generated: tuple[Basis, GenerationReport]) -> None:
    _, report = generated
    t = report.drift_time_ns
    assert report.n_not_collected == 0 and np.all(np.isfinite(t))
    assert np.all(report.electron_electrode == 36)
    assert np.all((report.hole_electrode >= 0) & (report.hole_electrode < 36))
    assert 100.0 < np.percentile(t, 99) < 700.0
    assert 100.0 < np.median(t) < 400.0
    assert t.min() > 10.0


def test_neighbouring_points_have_similar_signals_and_distant_ones_not(
        generated: tuple[Basis, GenerationReport]) -> None:
    basis, _ = generated
    sig = basis.signals.reshape(len(basis), -1)
    rng = np.random.default_rng(5)
    near, far = [], []
    for p in rng.choice(len(basis), 200, replace=False):
        same = np.flatnonzero(basis.segment == basis.segment[p])
        d = np.linalg.norm(basis.positions[same] - basis.positions[p], axis=1)
        rms = np.sqrt(np.mean((sig[same] - sig[p]) ** 2, axis=1))
        close = (d > 0) & (d <= GRID + 1e-3)
        distant = d > 3 * GRID
        if close.any() and distant.any():
            near.append(rms[close].mean())
            far.append(rms[distant].mean())
    near_a, far_a = np.array(near), np.array(far)
    assert len(near_a) > 100
    assert np.mean(near_a < far_a) > 0.9
    assert np.median(far_a / near_a) > 1.5


def test_hit_segment_signal_rises_and_the_core_is_positive(
        generated: tuple[Basis, GenerationReport]) -> None:
    basis, _ = generated
    hit = basis.signals[np.arange(len(basis)), basis.segment]
    assert hit.min() > -0.05
    assert np.all(np.diff(basis.signals[:, 36], axis=1) > -0.02)  # the core only collects


def test_geometry_segments_option(geometry: CrystalGeometry,
                                  generated: tuple[Basis, GenerationReport]) -> None:
    basis, report = generated
    by_geometry = generate_basis(geometry, GRID, SETTINGS.replace(segment_from="geometry"))
    _, seg = basis_points(geometry, GRID)
    np.testing.assert_array_equal(by_geometry.segment, seg)
    np.testing.assert_array_equal(by_geometry.signals, basis.signals)
    assert np.sum(seg != basis.segment) == report.geometry_mismatch
    assert report.geometry_mismatch < 0.25 * len(basis)


def test_undepleted_crystal_is_a_config_error(geometry: CrystalGeometry) -> None:
    with pytest.raises(ConfigError, match="not fully depleted"):
        generate_basis(geometry, 12.0, SETTINGS.replace(bias_v=1000.0, impurity_a=1.5))


@pytest.mark.parametrize("data, key", [
    ({"bias": 4000}, "bias"),
    ({"field_grid_mm": 0}, "field_grid_mm"),
    ({"hole": [1, 2]}, "hole"),
    ({"n_samples": 5.5}, "n_samples"),
    ({"dtype": "float64"}, "dtype"),
    ({"sampling_ns": 10.0, "drift_step_ns": 3.0}, "sampling_ns"),
    ({"segment_from": "nowhere"}, "segment_from"),
    ({"sor_omega": 2.5}, "sor_omega"),
])
def test_settings_errors_name_the_key(data: dict, key: str) -> None:
    with pytest.raises(ConfigError, match=key):
        GeneratorSettings.from_dict(data)


def test_settings_round_trip_and_replace() -> None:
    s = GeneratorSettings.from_dict({"bias_v": 4500, "hole": [61215, 182, 0.662, 0]})
    assert s.bias_v == 4500.0 and s.hole == (61215.0, 182.0, 0.662, 0.0)
    assert GeneratorSettings.from_dict(json.loads(s.to_json())) == s
    with pytest.raises(ConfigError, match="'tau'"):
        s.replace(tau=3)


def test_float16_signals_and_progress_reports(geometry: CrystalGeometry) -> None:
    calls: list[tuple[int, int, str]] = []
    basis = generate_basis(geometry, 12.0, SETTINGS.replace(dtype="float16", chunk_points=50),
                           progress=lambda done, total, msg: calls.append((done, total, msg)))
    assert basis.signals.dtype == np.float16
    drift = [c for c in calls if c[2] == "drifting charges"]
    assert len(drift) == -(-len(basis) // 50) and drift[-1][:2] == (len(basis), len(basis))
    assert any(c[0] == 0 and "potential" in c[2] for c in calls)
