"""Simulated events: shapes, determinism, energies, exactness on grid points, interpolation,
timestamps, saturation, cross-talk, T0 jitter and the truth points."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from gpsa.basis.grid import BasisGrid
from gpsa.block import CORE, CORE_HIGH_GAIN
from gpsa.detector import CrystalGeometry
from gpsa.errors import ConfigError
from gpsa.simulate import SimConfig, render, simulate_crystal, simulate_events
from gpsa.simulate.interactions import Interactions
from gpsa.status import EventStatus


def one_interaction(grid: BasisGrid, xyz: list[list[float]], energy: float) -> Interactions:
    """One single-interaction event per position."""
    pts = np.asarray(xyz, np.float64)
    n = len(pts)
    seg = grid.basis.segment[grid.nearest(pts)].astype(np.int16)
    return Interactions(event=np.arange(n), index=np.zeros(n, np.int64), xyz=pts,
                        energy=np.full(n, energy), segment=seg, counts=np.ones(n, np.int64))


def traces_at(grid: BasisGrid, xyz: list[list[float]], config: SimConfig, t0: float | None = None,
              energy: float = 1000.0) -> tuple[np.ndarray, np.ndarray]:
    inter = one_interaction(grid, xyz, energy)
    t0s = np.full(len(inter), config.pretrigger if t0 is None else t0, np.float64)
    adc, energies, _ = render(grid, inter, t0s, config, np.random.default_rng(0))
    return adc, energies


def test_shapes_and_dtypes(sim_grid: BasisGrid) -> None:
    batch = simulate_events(sim_grid, 250, crystal_id=7, seed=1,
                            config=SimConfig(block_size=100))
    b, t = batch.block, batch.truth
    assert b.traces.shape == (250, 38, 100) and b.traces.dtype == np.int16
    assert b.energies.shape == (250, 38) and b.energies.dtype == np.float32
    np.testing.assert_array_equal(b.event_numbers, np.arange(250))
    assert np.all(b.crystal_ids == 7) and np.all(np.isnan(b.t0)) and np.all(b.status == 0)
    assert t.n_events == 250 and t.n_interactions == int(t.events["n_interactions"].sum())
    assert set(np.unique(t.events["n_interactions"])) <= {1, 2, 3}
    assert t.interactions["x"].dtype == np.float32 and t.interactions["segment"].dtype == np.int16
    assert np.all((t.interactions["segment"] >= 0) & (t.interactions["segment"] < 36))
    # interactions are event-major and numbered 0, 1, ... within each event
    ev = t.interactions["event_number"]
    assert np.all(np.diff(ev.astype(np.int64)) >= 0)
    first = np.r_[True, ev[1:] != ev[:-1]]
    assert np.all(t.interactions["interaction"][first] == 0)
    np.testing.assert_allclose(
        np.bincount(ev, weights=t.interactions["energy"], minlength=250), t.events["energy"],
        rtol=1e-5)
    e = t.events["energy"]
    assert np.all(np.isclose(e, 1332.5) | np.isclose(e, 1173.2))


def test_deterministic_with_seed(sim_grid: BasisGrid) -> None:
    cfg = SimConfig(block_size=64)
    a = simulate_events(sim_grid, 150, crystal_id=3, seed=42, config=cfg)
    b = simulate_events(sim_grid, 150, crystal_id=3, seed=42, config=cfg)
    assert a.block.equals(b.block)
    for k in a.truth.interactions:
        np.testing.assert_array_equal(a.truth.interactions[k], b.truth.interactions[k])
    c = simulate_events(sim_grid, 150, crystal_id=3, seed=43, config=cfg)
    d = simulate_events(sim_grid, 150, crystal_id=4, seed=42, config=cfg)
    assert not np.array_equal(a.block.traces, c.block.traces)
    assert not np.array_equal(a.block.traces, d.block.traces)


def test_energies_add_up(sim_grid: BasisGrid) -> None:
    cfg = SimConfig(noise_kev=2.0)
    batch = simulate_events(sim_grid, 400, seed=5, config=cfg)
    b, t = batch.block, batch.truth
    e_true = t.events["energy"]
    sigma_core = cfg.core_fwhm_kev / 2.355
    for ch in (CORE, CORE_HIGH_GAIN):
        assert np.all(np.abs(b.energies[:, ch] - e_true) < 6 * sigma_core)
    # segment net charges sum to the core (every basis point carries a total net charge of 1)
    seg_sum = b.energies[:, :36].sum(axis=1)
    assert np.all(np.abs(seg_sum - e_true) < 6 * cfg.segment_fwhm_kev / 2.355 * 6)
    # the trace tail (ADC) holds the energy too: low gain 1 keV/ADC, high gain 0.25 keV/ADC
    tail = b.traces[:, :, -20:].astype(np.float64).mean(axis=2)
    assert np.all(np.abs(tail[:, CORE] * cfg.core_low_gain_kev_per_adc - e_true) < 3)
    assert np.all(np.abs(tail[:, CORE_HIGH_GAIN] * cfg.kev_per_adc - e_true) < 3)
    # hit segments: exact where all 8 interpolation corners lie in the truth segment
    ev = t.interactions["event_number"].astype(np.int64)
    idx, _ = sim_grid.corners(t.xyz)
    seg = t.interactions["segment"].astype(np.int64)
    pure = np.all((idx < 0) | (sim_grid.basis.segment[np.maximum(idx, 0)] == seg[:, None]), 1)
    per_seg = np.zeros((len(b), 36))
    np.add.at(per_seg, (ev, seg), t.interactions["energy"])
    clean = np.bincount(ev, weights=~pure, minlength=len(b)) == 0
    assert clean.sum() > 20
    hit = per_seg[clean] > 0
    diff = b.energies[clean, :36][hit] - per_seg[clean][hit]
    assert np.all(np.abs(diff) < 6 * cfg.segment_fwhm_kev / 2.355)


def test_grid_point_reproduces_basis(sim_grid: BasisGrid, quiet: SimConfig) -> None:
    basis = sim_grid.basis
    i = int(sim_grid.index_of([4, 5, 3])[0])
    adc, energies = traces_at(sim_grid, [basis.positions[i].tolist()], quiet, energy=1000.0)
    s, p, t0b = basis.n_samples, quiet.pretrigger, basis.t0_sample
    sig = basis.signals[i] * np.float32(1000.0)  # keV
    expected = np.empty((38, quiet.n_samples), np.float32)
    src = np.clip(np.arange(quiet.n_samples) - p + t0b, 0, s - 1)
    expected[:36] = sig[:36, src] / np.float32(quiet.kev_per_adc)
    expected[CORE] = sig[36, src] / np.float32(quiet.core_low_gain_kev_per_adc)
    expected[CORE_HIGH_GAIN] = sig[36, src] / np.float32(quiet.kev_per_adc)
    np.testing.assert_array_equal(adc[0], np.rint(expected).astype(np.int16))
    hit = basis.segment[i]
    assert energies[0, hit] == pytest.approx(1000.0)
    assert energies[0, CORE] == energies[0, CORE_HIGH_GAIN] == pytest.approx(1000.0)


def test_interpolated_point_between_neighbours(sim_grid: BasisGrid, quiet: SimConfig) -> None:
    pos = sim_grid.basis.positions
    a, b = int(sim_grid.index_of([6, 5, 2])[0]), int(sim_grid.index_of([7, 5, 2])[0])
    assert sim_grid.basis.segment[a] == sim_grid.basis.segment[b]
    mid = (pos[a] + pos[b]) / 2
    adc, _ = traces_at(sim_grid, [pos[a].tolist(), mid.tolist(), pos[b].tolist()], quiet)
    ta, tm, tb = adc.astype(np.int32)
    assert np.all(tm >= np.minimum(ta, tb) - 1) and np.all(tm <= np.maximum(ta, tb) + 1)
    assert np.abs(tm - (ta + tb) / 2).max() <= 1.0
    assert np.abs(ta - tb).max() > 20  # the two neighbours do differ


def test_t0_shift_is_linear_in_time(sim_grid: BasisGrid, quiet: SimConfig) -> None:
    x = [[3.0, 7.0, 10.0]]
    t_lo = traces_at(sim_grid, x, quiet, t0=20.0)[0][0].astype(np.int32)
    t_mid = traces_at(sim_grid, x, quiet, t0=20.5)[0][0].astype(np.int32)
    t_hi = traces_at(sim_grid, x, quiet, t0=21.0)[0][0].astype(np.int32)
    np.testing.assert_array_equal(t_hi[:, 1:], t_lo[:, :-1])  # one sample later
    assert np.abs(t_mid - (t_lo + t_hi) / 2).max() <= 1.0
    batch = simulate_events(sim_grid, 200, seed=2, config=SimConfig(t0_jitter_samples=0.7))
    t0 = batch.truth.events["t0"]
    assert np.all(np.abs(t0 - 20) <= 0.7) and t0.std() > 0.2


def test_timestamps_poisson(sim_grid: BasisGrid) -> None:
    cfg = SimConfig(rate_hz=20_000.0, block_size=500, start_tick=1000)
    ts = simulate_events(sim_grid, 4000, seed=9, config=cfg).block.timestamps
    assert ts.dtype == np.uint64 and ts[0] >= 1000
    gaps = np.diff(ts.astype(np.int64))
    assert np.all(gaps >= 0)
    rate = (len(ts) - 1) / ((ts[-1] - ts[0]) * 1e-8)
    assert rate == pytest.approx(20_000, rel=0.06)
    assert gaps.std() / gaps.mean() == pytest.approx(1.0, abs=0.1)  # exponential gaps


def test_saturation_flagged(sim_grid: BasisGrid) -> None:
    cfg = SimConfig(kev_per_adc=0.05, energy_mode="uniform", uniform_kev=(100, 3000),
                    adc_range=(-8192, 8191))
    b = simulate_events(sim_grid, 300, seed=4, config=cfg)
    e = b.truth.events["energy"]
    sat = (b.block.status & EventStatus.SATURATED) != 0
    assert np.all(sat[e > 8191 * 0.05 + 20]) and not np.any(sat[e < 300])
    assert b.block.traces.max() == 8191 and b.block.traces.min() >= -8192
    np.testing.assert_array_equal(b.truth.events["status"], b.block.status)


def test_crosstalk_adds_a_fraction(sim_grid: BasisGrid, quiet: SimConfig) -> None:
    i = int(sim_grid.index_of([4, 5, 3])[0])
    x = [sim_grid.basis.positions[i].tolist()]
    _, clean = traces_at(sim_grid, x, quiet)
    _, talk = traces_at(sim_grid, x, dataclasses.replace(quiet, crosstalk=0.002))
    hit = sim_grid.basis.segment[i]
    others = np.setdiff1d(np.arange(36), [hit])
    np.testing.assert_allclose(talk[0, others] - clean[0, others], 0.002 * 1000.0, atol=1e-3)
    assert talk[0, CORE] == pytest.approx(clean[0, CORE])


def test_truth_points_inside(sim_grid: BasisGrid) -> None:
    t = simulate_events(sim_grid, 300, seed=6).truth
    assert np.all(sim_grid.support(t.xyz) > 1 - 1e-6)  # no geometry: complete cells only
    geo = CrystalGeometry.default("A")
    cfg = SimConfig(multiplicity=(0.0, 0.0, 1.0), step_mm=5.0)
    t2 = simulate_events(sim_grid, 300, seed=6, geometry=geo, config=cfg).truth
    assert np.all(geo.contains(t2.xyz.astype(np.float64)))
    assert np.all(sim_grid.support(t2.xyz) >= cfg.min_support)
    assert np.mean(t2.events["n_interactions"] == 3) > 0.8
    steps = np.linalg.norm(np.diff(t2.xyz, axis=0), axis=1)[np.diff(
        t2.interactions["event_number"].astype(np.int64)) == 0]
    assert 2.0 < np.median(steps) < 8.0


def test_multiplicity_distribution(sim_grid: BasisGrid) -> None:
    t = simulate_events(sim_grid, 200, seed=8, config=SimConfig(multiplicity=(1.0,))).truth
    assert np.all(t.events["n_interactions"] == 1)
    cfg = SimConfig(multiplicity=(0.2, 0.8), step_mm=4.0)
    t = simulate_events(sim_grid, 1000, seed=8, config=cfg).truth
    assert 0.7 < np.mean(t.events["n_interactions"] == 2) <= 0.85


@pytest.mark.parametrize(("field", "value"), [
    ("multiplicity", (0.0, 0.0)), ("energy_mode", "gauss"), ("lines_kev", (-1.0,)),
    ("line_weights", (1.0, 2.0, 3.0)), ("noise_kev", -1.0), ("crosstalk", 0.5),
    ("pretrigger", 100), ("adc_range", (0, 40000)), ("rate_hz", 0.0), ("min_support", 0.0),
])
def test_config_errors_name_the_field(field: str, value: object) -> None:
    with pytest.raises(ConfigError, match=field):
        SimConfig(**{field: value})


def test_config_dict_round_trip() -> None:
    cfg = SimConfig(lines_kev=(662.0,), noise_kev=3.0)
    assert SimConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ConfigError, match="bogus"):
        SimConfig.from_dict({"bogus": 1})


def test_no_geometry_overlap_is_an_error(sim_grid: BasisGrid) -> None:
    class Nowhere:
        def contains(self, xyz: np.ndarray) -> np.ndarray:
            return np.zeros(len(xyz), bool)

    with pytest.raises(ConfigError, match="overlap"):
        next(simulate_crystal(sim_grid, 10, geometry=Nowhere()))


def test_kernels_match_numpy_references(sim_grid: BasisGrid) -> None:
    from gpsa.simulate.interactions import PointSampler, draw_interactions
    from gpsa.simulate.traces import event_signals, place_in_trace, place_in_trace_numpy

    rng = np.random.default_rng(12)
    inter = draw_interactions(50, PointSampler(sim_grid), SimConfig(), rng)
    fast = event_signals(sim_grid, inter)
    naive = np.zeros_like(fast)
    np.add.at(naive, inter.event, sim_grid.interpolate(inter.xyz)
              * inter.energy[:, None, None].astype(np.float32))
    np.testing.assert_allclose(fast, naive, rtol=1e-5, atol=1e-3)
    t0 = 20 + rng.uniform(-3, 3, 50)
    for ns in (10.0, 5.0):  # basis sampled like the traces, or twice as fast
        kw = {"basis_t0": 4, "basis_ns": ns, "config": SimConfig()}
        np.testing.assert_allclose(place_in_trace(fast, t0, **kw),
                                   place_in_trace_numpy(fast, t0, **kw), rtol=1e-6, atol=1e-3)
