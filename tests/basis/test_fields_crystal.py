"""Fields of the default crystal on a coarse (3 mm) grid: electrodes, weighting potentials,
electric potential and field direction, depletion, the field cache."""

from __future__ import annotations

import numpy as np
import pytest

from gpsa.basis.fields.crystal import CORE_LABEL, crystal_grid
from gpsa.basis.fields.grid import FREE, PASSIVE
from gpsa.basis.fields.settings import GeneratorSettings
from gpsa.basis.fields.solve import CrystalFields, solve_fields
from gpsa.detector.segmentation import CrystalGeometry

SETTINGS = GeneratorSettings(field_grid_mm=3.0)


@pytest.fixture(scope="module")
def geometry() -> CrystalGeometry:
    return CrystalGeometry.default("A")


@pytest.fixture(scope="module")
def fields(geometry: CrystalGeometry) -> CrystalFields:
    return solve_fields(geometry, SETTINGS)


def test_electrode_labels_follow_the_geometry(fields: CrystalFields,
                                              geometry: CrystalGeometry) -> None:
    grid = fields.grid
    flat = grid.labels.ravel()
    core = grid.node_positions(np.flatnonzero(flat == CORE_LABEL))
    assert np.all(geometry.in_bore(core))
    seg_idx = np.flatnonzero((flat >= 0) & (flat < CORE_LABEL))
    seg_pos = grid.node_positions(seg_idx)
    assert not geometry.contains(seg_pos).any()
    np.testing.assert_array_equal(flat[seg_idx], geometry.segment_of(seg_pos, inside_only=False))
    assert set(np.unique(flat[seg_idx]).tolist()) == set(range(36))
    passive = grid.node_positions(np.flatnonzero(flat == PASSIVE))
    assert np.all(passive[:, 2] > geometry.shape.length)
    free = grid.node_positions(grid.free)
    assert np.all(geometry.contains(free))


def test_weighting_potentials_are_one_on_their_electrode_and_zero_on_the_others(
        fields: CrystalFields) -> None:
    values = fields.weighting.values.reshape(-1, 37)
    labels = fields.grid.labels.ravel()
    elec = np.flatnonzero(labels >= 0)
    np.testing.assert_array_equal(values[elec], np.eye(37, dtype=values.dtype)[labels[elec]])


def test_weighting_potentials_sum_to_one_and_stay_in_0_1(fields: CrystalFields) -> None:
    inside = fields.weighting.values.reshape(-1, 37)[fields.grid.free]
    assert fields.weighting.sum_error() < 1e-4
    assert inside.min() > -1e-5 and inside.max() < 1 + 1e-5
    # each segment's weighting potential is largest next to its own electrode
    own = inside.argmax(axis=1)
    assert set(own.tolist()) >= set(range(36))


def test_potential_is_depleted_and_decreases_from_core_to_segments(
        fields: CrystalFields, geometry: CrystalGeometry) -> None:
    electric = fields.electric
    assert electric.depleted()
    assert 0.0 <= electric.min_inside and electric.max_inside <= SETTINGS.bias_v
    grid = fields.grid
    pos = grid.node_positions(grid.free)
    phi = electric.potential.ravel()[grid.free]
    r = np.hypot(pos[:, 0], pos[:, 1])
    mid = np.abs(pos[:, 2] - 55.0) < 10.0
    bins = np.arange(6.0, 39.0, 4.0)
    profile = [phi[mid & (r >= a) & (r < a + 4.0)].mean() for a in bins]
    assert np.all(np.diff(profile) < 0)
    assert profile[0] > 0.6 * SETTINGS.bias_v and profile[-1] < 0.15 * SETTINGS.bias_v


def test_field_points_outwards_so_holes_go_to_the_segments(fields: CrystalFields,
                                                           geometry: CrystalGeometry) -> None:
    grid = fields.grid
    pos = grid.node_positions(grid.free)
    field = fields.electric.field.reshape(-1, 3)[grid.free]
    r = np.hypot(pos[:, 0], pos[:, 1])
    coaxial = (pos[:, 2] > geometry.shape.bore_start + 5) & (pos[:, 2] < 80) & (r > 8)
    radial = (field[:, 0] * pos[:, 0] + field[:, 1] * pos[:, 1]) / r
    assert np.mean(radial[coaxial] > 0) > 0.99
    magnitude = np.linalg.norm(field[coaxial], axis=1) * 10.0  # V/cm
    assert np.median(magnitude) > 500.0  # well above the drift velocities' knee


def test_undepleted_crystal_is_detected(geometry: CrystalGeometry) -> None:
    settings = GeneratorSettings(field_grid_mm=3.0, bias_v=1000.0, impurity_a=1.5)
    assert not solve_fields(geometry, settings).electric.depleted()


def test_field_cache_round_trip(tmp_path, geometry: CrystalGeometry,
                                fields: CrystalFields) -> None:
    first = solve_fields(geometry, SETTINGS, cache_dir=tmp_path)
    assert not first.from_cache and len(list(tmp_path.glob("fields-*.npz"))) == 1
    again = solve_fields(geometry, SETTINGS, cache_dir=tmp_path)
    assert again.from_cache and again.key == first.key
    np.testing.assert_array_equal(again.weighting.values, first.weighting.values)
    np.testing.assert_array_equal(again.electric.potential, first.electric.potential)
    np.testing.assert_array_equal(again.electric.field, first.electric.field)
    other = solve_fields(geometry, SETTINGS.replace(bias_v=4500.0), cache_dir=tmp_path)
    assert other.key != first.key and not other.from_cache
    # a setting that does not touch the fields keeps the key
    assert SETTINGS.replace(preamp_tau_ns=20.0).field_key({}, "1") == SETTINGS.field_key({}, "1")


def test_corrupt_cache_is_solved_again(tmp_path, geometry: CrystalGeometry,
                                       caplog: pytest.LogCaptureFixture) -> None:
    first = solve_fields(geometry, SETTINGS, cache_dir=tmp_path)
    (tmp_path / f"fields-{first.key}.npz").write_bytes(b"not a zip file")
    again = solve_fields(geometry, SETTINGS, cache_dir=tmp_path)
    assert not again.from_cache
    assert "unreadable field cache" in caplog.text


def test_grid_too_coarse_for_the_electrodes_is_an_error(geometry: CrystalGeometry) -> None:
    with pytest.raises(ValueError, match="too coarse"):
        crystal_grid(geometry, 12.0)
    assert np.sum(crystal_grid(geometry, 3.0).labels == FREE) > 10000
