"""T0 and sub-grid refinement on events at continuous positions and fractional T0."""

from __future__ import annotations

import numpy as np

from gpsa.bench.toy import simulate_events
from gpsa.psa import GridSearchPSA, PsaSettings
from gpsa.psa.window import shifted_signals

SAMPLES = 30


def test_shift_zero_is_the_window_and_shift_is_consistent(basis) -> None:  # noqa: ANN001
    pts = np.arange(0, len(basis), 97)
    plain = shifted_signals(basis.signals, pts, 5, SAMPLES, np.zeros(pts.size))
    assert np.array_equal(plain, basis.signals[pts][:, :, 5:5 + SAMPLES])
    one = shifted_signals(basis.signals, pts, 5, SAMPLES, np.ones(pts.size))
    assert np.array_equal(one, basis.signals[pts][:, :, 4:4 + SAMPLES])


def test_subgrid_improves_positions(basis, crystal, position_error) -> None:  # noqa: ANN001
    block, truth = simulate_events(crystal, 120, n_samples=60, noise=0.003, t0_jitter=0.0,
                                   seed=21)
    grid = GridSearchPSA(basis, PsaSettings(samples=SAMPLES, refine_grid=False,
                                            refine_t0=False)).run(block)
    sub = GridSearchPSA(basis, PsaSettings(samples=SAMPLES, refine_grid=True,
                                           refine_t0=False)).run(block)
    e_grid, e_sub = position_error(grid, truth), position_error(sub, truth)
    assert np.median(e_sub) < 0.9 * np.median(e_grid)
    # with the search's exponent the grid point is a candidate: the fom never gets worse
    same_p = GridSearchPSA(basis, PsaSettings(samples=SAMPLES, refine_grid=True,
                                              refine_t0=False, refine_p=0.0)).run(block)
    assert np.all(same_p.hits.fom <= grid.hits.fom * (1 + 1e-5))


def test_refine_p_is_the_refinement_exponent(basis, crystal) -> None:  # noqa: ANN001
    """refine_p = 0 refines with the search's p, equal to refine_p = p; refine_p = 2 refines by
    least squares: other positions."""
    block, _ = simulate_events(crystal, 60, n_samples=60, noise=0.01, t0_jitter=0.5, seed=23)
    run = lambda **kw: GridSearchPSA(basis, PsaSettings(samples=SAMPLES, p=1.0, **kw)).run(block)  # noqa: E731
    zero, one, two = run(refine_p=0.0), run(refine_p=1.0), run(refine_p=2.0)
    for name in ("x", "y", "z", "fom"):
        np.testing.assert_array_equal(getattr(zero.hits, name), getattr(one.hits, name))
    np.testing.assert_array_equal(zero.events.t0, one.events.t0)
    assert not np.array_equal(one.hits.x, two.hits.x)


def test_t0_refinement_with_subgrid(basis, crystal) -> None:  # noqa: ANN001
    block, truth = simulate_events(crystal, 120, n_samples=60, noise=0.003, t0_jitter=0.5,
                                   seed=22)
    base = GridSearchPSA(basis, PsaSettings(samples=SAMPLES, refine_grid=False,
                                            refine_t0=False)).run(block)
    ref = GridSearchPSA(basis, PsaSettings(samples=SAMPLES, refine_grid=True,
                                           refine_t0=True)).run(block)
    rms = lambda t: float(np.sqrt(np.mean((t - truth.t0) ** 2)))  # noqa: E731
    assert rms(ref.events.t0) < rms(base.events.t0)
    assert np.all(np.abs(ref.events.t0 - np.rint(block.t0)) <= 2.0 + 1e-6)
    assert np.all(ref.hits.time == ref.events.t0[ref.hits.event_index])


def test_refinement_multi_segment(basis, double_events, position_error) -> None:  # noqa: ANN001
    block, truth = double_events
    out = GridSearchPSA(basis, PsaSettings(samples=SAMPLES, refine_grid=True,
                                           refine_t0=True)).run(block)
    assert np.isfinite(position_error(out, truth)).all()
    assert np.isfinite(out.hits.fom).all()
