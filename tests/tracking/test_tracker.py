"""Tracking on hand-made gammas, the kernel against the naive reference, the acceptance rules
and the degradation with position noise."""

from __future__ import annotations

import numpy as np
import pytest

from gpsa.errors import ConfigError
from gpsa.tracking import _kernels
from gpsa.tracking.physics import MEC2_KEV, AttenuationGrid, default_attenuation
from gpsa.tracking.toymc import generate, with_noise
from gpsa.tracking.tracker import Tracker, TrackingSettings

from ._helpers import chain, naive_best

X, Y, Z = np.eye(3)
INNER = 190.0


@pytest.fixture(scope="module")
def grid() -> AttenuationGrid:
    return AttenuationGrid.sample(*default_attenuation())


def track(pos: np.ndarray, e: np.ndarray, grid: AttenuationGrid, **kw: float) -> object:
    settings = TrackingSettings(inner_radius_mm=INNER, position_resolution_mm=1.0, **kw)
    return Tracker(settings, grid).track(pos, e, np.array([0, len(e)], np.int64))


@pytest.mark.parametrize("shuffle", [(0, 1), (1, 0)])
def test_two_interaction_gamma_in_order(grid: AttenuationGrid, shuffle: tuple[int, ...]) -> None:
    pos, e = chain(1000.0, np.array([0.0, 0.0, 200.0]), [60.0], [30.0], [X])
    res = track(pos[list(shuffle)], e[list(shuffle)], grid)
    assert len(res.energy) == 1
    assert res.energy[0] == pytest.approx(1000.0)
    assert list(shuffle).index(0) == res.first[0] and list(shuffle).index(1) == res.second[0]
    assert res.n_points[0] == 2 and res.fom[0] > 0.05


@pytest.mark.parametrize("shuffle", [(0, 1, 2), (2, 0, 1), (1, 2, 0), (2, 1, 0)])
def test_three_interaction_gamma_in_order(grid: AttenuationGrid,
                                          shuffle: tuple[int, ...]) -> None:
    pos, e = chain(1332.5, np.array([10.0, 0.0, 200.0]), [50.0, 80.0], [25.0, 20.0], [X, Y])
    idx = list(shuffle)
    res = track(pos[idx], e[idx], grid)
    assert len(res.energy) == 1 and res.energy[0] == pytest.approx(1332.5)
    got = [idx[i] for i in res.order[res.cluster_offsets[0]:res.cluster_offsets[1]]]
    assert got == [0, 1, 2]
    # the true order scores higher than any other: reversing the chain breaks it
    rev = track(pos[::-1], e[::-1], grid)
    assert rev.fom[0] == pytest.approx(res.fom[0])


def test_two_gammas_in_distinct_cones(grid: AttenuationGrid) -> None:
    pa, ea = chain(1173.2, np.array([0.0, 0.0, 205.0]), [40.0], [30.0], [X])
    pb, eb = chain(661.7, np.array([203.0, 0.0, 0.0]), [70.0], [15.0], [Z])
    pos, e = np.concatenate([pb, pa]), np.concatenate([eb, ea])
    res = track(pos, e, grid)
    assert sorted(res.energy.round(3).tolist()) == [661.7, 1173.2]
    assert res.counters["clusters"] == 2 and res.counters["gammas_out_of_tracking"] == 2
    firsts = {round(float(x), 3) for x in res.energy}
    assert firsts == {661.7, 1173.2}
    assert set(res.first.tolist()) == {0, 2}


def test_single_hit_rules(grid: AttenuationGrid) -> None:
    # a 200 keV photo-absorption 2 mm deep: reached with exp(-mu 2 mm), accepted
    mu200 = float(np.exp(np.interp(np.log(200.0), grid.log_e, grid.log_total)))
    res = track(np.array([[0.0, 0.0, INNER + 2.0]]), np.array([200.0]), grid)
    assert len(res.energy) == 1 and res.fom[0] == pytest.approx(np.exp(-mu200 * 2.0))
    # 60 keV at 40 mm depth cannot get there: rejected
    res = track(np.array([[0.0, 0.0, INNER + 40.0]]), np.array([60.0]), grid)
    assert len(res.energy) == 0 and res.counters["singles_rejected"] == 1
    # the energy rules
    res = track(np.array([[0.0, 0.0, INNER + 1.0]]), np.array([5.0]), grid)
    assert len(res.energy) == 0
    res = track(np.array([[0.0, 0.0, INNER + 1.0]]), np.array([800.0]), grid,
                single_max_kev=500.0)
    assert len(res.energy) == 0


def test_inconsistent_cluster_rejected_by_fom(grid: AttenuationGrid) -> None:
    # energies that no Compton chain through these points explains
    pos = np.array([[0.0, 0.0, 200.0], [0.0, 30.0, 200.0], [0.0, 30.0, 230.0]])
    res = track(pos, np.array([30.0, 20.0, 1200.0]), grid, min_fom=0.2)
    assert res.counters["clusters_rejected_fom"] == 1 and len(res.energy) == 0


def test_kernel_matches_naive_reference(grid: AttenuationGrid) -> None:
    toy = generate(400, [1332.5], seed=3, inner_mm=INNER, outer_mm=INNER + 90)
    sizes = np.diff(toy.offsets)
    checked = 0
    for k in np.flatnonzero((sizes >= 2) & (sizes <= 5))[:60]:
        a, b = toy.offsets[k], toy.offsets[k + 1]
        pos, e = toy.positions[a:b], toy.energies[a:b]
        order, fom = _kernels.best_orders(
            pos, e, np.array([0, b - a]), np.zeros((1, 3)), np.array([INNER]), grid.log_e,
            grid.log_photo, grid.log_compton, grid.log_total, 2.0, np.radians(1.0), MEC2_KEV)
        ref_order, ref_fom = naive_best(pos, e, INNER, grid, 2.0, np.radians(1.0))
        assert fom[0] == pytest.approx(ref_fom, rel=1e-9, abs=1e-12)
        if ref_fom > 0:
            assert tuple(order) == ref_order
        checked += 1
    assert checked >= 40


def test_settings_are_checked() -> None:
    with pytest.raises(ConfigError, match="rule"):
        TrackingSettings(rule="widest")
    with pytest.raises(ConfigError, match="max_cluster"):
        TrackingSettings(max_cluster=12)


def test_noise_degrades_gracefully(grid: AttenuationGrid) -> None:
    n = 1500
    toy = generate(n, [1332.5], seed=7, inner_mm=INNER, outer_mm=INNER + 90)
    curve = []
    for sigma in (0.0, 2.0, 5.0, 10.0):
        tracker = Tracker(TrackingSettings(inner_radius_mm=INNER,
                                           position_resolution_mm=max(sigma, 1.0)), grid)
        res = tracker.track(with_noise(toy.positions, sigma, seed=11), toy.energies,
                            toy.offsets)
        multi = res.n_points > 1
        found = float((toy.step[res.first] == 0).mean())
        found_multi = float((toy.step[res.first[multi]] == 0).mean())
        peak = int(np.count_nonzero(np.abs(res.energy - 1332.5) < 1.0))
        curve.append((sigma, found, found_multi, peak / n))
    for sigma, found, found_multi, eff in curve:
        print(f"noise {sigma:4.1f} mm: first found {found:.3f} multi {found_multi:.3f} "
              f"eff {eff:.3f}")
    found = [c[2] for c in curve]
    err = 2 * np.sqrt(0.25 / (0.7 * n))  # two binomial sigmas
    assert all(b <= a + err for a, b in zip(found, found[1:], strict=False))
    assert found[0] > found[-1] + 0.1
    assert found[0] > 0.7
