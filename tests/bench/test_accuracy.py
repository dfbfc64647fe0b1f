"""The accuracy bench's pieces (gpsa.bench.accuracy, gpsa.bench.events) on the small toy crystal:
statistics on constructed errors, the perturbations, two-hit events and the rows' fields."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gpsa.bench.accuracy import (
    ROW_KEYS,
    Config,
    bench_rows,
    error_stats,
    match_hits,
    position_errors,
    t0_stats,
)
from gpsa.bench.events import CleanEvents, Perturbation, simulate, toy_model, with_noise
from gpsa.bench.sources import TRACE_T0, toy_source
from gpsa.bench.toy import ToyCrystal
from gpsa.block import PsaBlock, PsaEvents, PsaHits
from gpsa.psa import GridSearchPSA, PsaSettings

NONE = Perturbation(0.0, 0.0, 0.0)


@pytest.fixture(scope="module")
def model():  # noqa: ANN201
    return toy_model(ToyCrystal.small())


@pytest.fixture(scope="module")
def settings() -> PsaSettings:
    return PsaSettings(samples=30, default_t0=TRACE_T0, backend="numba")


def _core_crossing(clean: CleanEvents, level: float = 0.5) -> np.ndarray:
    """Fractional sample where each event's core trace first crosses ``level`` × its end."""
    core = clean.traces[:, 36].astype(np.float64)
    y = core / core[:, -1:]
    i = np.argmax(y >= level, axis=1)
    a, b = y[np.arange(len(y)), i - 1], y[np.arange(len(y)), i]
    return i - 1 + (level - a) / (b - a)


def test_error_stats_of_gaussian_errors() -> None:
    rng = np.random.default_rng(0)
    sigma = np.array([1.0, 2.0, 3.0])
    stats = error_stats(rng.normal(0.5, sigma, (20_000, 3)))
    for axis, s in zip("xyz", sigma, strict=True):
        assert stats[f"fwhm_{axis}_mm"] == pytest.approx(2.3548 * s, rel=0.1)
    d = np.linalg.norm(rng.normal(0.5, sigma, (200_000, 3)), axis=1)
    assert stats["median_3d_mm"] == pytest.approx(np.median(d), rel=0.05)
    assert stats["mean_3d_mm"] == pytest.approx(np.mean(d), rel=0.05)
    assert stats["outliers_5mm_pct"] == pytest.approx(100 * np.mean(d > 5), abs=1.5)


def test_error_stats_exact_values_and_empty() -> None:
    err = np.array([[3.0, 4.0, 0.0], [0.0, 0.0, 6.0], [0.0, 0.0, 0.0]])
    stats = error_stats(err)
    assert stats["median_3d_mm"] == 5.0
    assert stats["mean_3d_mm"] == pytest.approx(11 / 3)
    assert stats["outliers_5mm_pct"] == pytest.approx(100 / 3)
    assert all(math.isnan(v) for v in error_stats(np.zeros((0, 3))).values())


def test_t0_stats() -> None:
    true = np.linspace(29.5, 30.5, 101)
    found = true + 0.25 + np.where(np.arange(101) % 2, 0.1, -0.1)[:101]
    s = t0_stats(found, true)
    assert s["t0_bias_samples"] == pytest.approx(0.25, abs=0.002)
    assert s["t0_rms_samples"] == pytest.approx(math.hypot(0.25, 0.1), abs=0.002)


def test_match_hits_by_event_and_segment(model) -> None:  # noqa: ANN001
    clean = simulate(model, 4, interactions=2, perturbation=NONE, seed=3)
    truth = clean.truth
    # hits: event 0 both segments (reversed), event 1 one true and one spurious segment
    ev = np.array([0, 0, 1, 1])
    seg = np.array([truth.segment[1], truth.segment[0], truth.segment[2], 35 - truth.segment[3]])
    spurious = seg[3] in (truth.segment[2], truth.segment[3])
    pos = truth.position[[1, 0, 2, 3]] + np.float32(1.0)
    hits = PsaHits.build(ev, segment=seg.astype(np.int16), x=pos[:, 0], y=pos[:, 1], z=pos[:, 2])
    events = PsaEvents.from_crystal_block(with_noise(clean, 0.0)[0],
                                          t0=truth.t0, t1=truth.t0,
                                          psa_status=np.zeros(4, np.uint16))
    out = PsaBlock(events=events, hits=hits)
    h, t = match_hits(out, truth)
    assert h.tolist()[:3] == [0, 1, 2] and t.tolist()[:3] == [1, 0, 2]
    assert len(h) == (4 if spurious else 3)
    np.testing.assert_allclose(position_errors(out, truth)[:3], 1.0, atol=1e-5)


def test_two_hit_events_have_two_interactions_in_two_segments(model) -> None:  # noqa: ANN001
    clean = simulate(model, 60, interactions=2, energy=(150.0, 1000.0), seed=5)
    truth = clean.truth
    assert np.array_equal(truth.event, np.repeat(np.arange(60), 2))
    seg = truth.segment.reshape(60, 2)
    assert np.all(seg[:, 0] != seg[:, 1]) and np.all((seg >= 0) & (seg < 36))
    assert np.all((truth.energy >= 150) & (truth.energy <= 1000))
    block, _ = with_noise(clean, 0.01, seed=1)
    hit = block.energies[:, :36] > 15.0
    assert np.all(hit.sum(axis=1) == 2)
    assert np.all(hit[np.arange(60)[:, None], seg])
    np.testing.assert_allclose(block.energies[:, 36], truth.energy.reshape(60, 2).sum(1),
                               rtol=1e-5)


def test_crosstalk_changes_traces_and_energies(model) -> None:  # noqa: ANN001
    plain = simulate(model, 30, perturbation=NONE, seed=8)
    xt = simulate(model, 30, perturbation=Perturbation(0.005, 0.0, 0.0), seed=8)
    assert not np.allclose(plain.traces, xt.traces)
    np.testing.assert_allclose(xt.traces, np.einsum("ij,njs->nis", xt.perturbation.matrix(),
                                                    plain.traces), rtol=1e-5, atol=1e-3)
    seg, e = plain.truth.segment, plain.truth.energy
    from gpsa.basis.fields.response import neighbour_matrix

    nb = neighbour_matrix()[seg].astype(bool)  # (30, 36) neighbours of the hit segment
    np.testing.assert_allclose(xt.energies[:, :36][nb],
                               np.repeat(0.005 * e, nb.sum(axis=1)), rtol=1e-4)
    assert np.all(xt.energies[:, :36][~nb & (np.arange(36) != seg[:, None])] == 0)
    np.testing.assert_array_equal(xt.energies[:, 36], plain.energies[:, 36])  # core untouched
    der = simulate(model, 30, perturbation=Perturbation(0.0, 0.02, 0.0), seed=8)
    assert np.abs(der.traces - plain.traces).max() > 0.1
    np.testing.assert_array_equal(der.energies, plain.energies)


def test_t0_jitter_moves_the_signals_not_the_given_t0(model) -> None:  # noqa: ANN001
    plain = simulate(model, 300, perturbation=NONE, seed=9)
    jit = simulate(model, 300, perturbation=Perturbation(0.0, 0.0, 0.3), seed=9)
    np.testing.assert_array_equal(plain.t0_given, jit.t0_given)
    np.testing.assert_array_equal(plain.truth.t0, plain.t0_given)
    shift = jit.truth.t0 - jit.t0_given
    assert np.std(shift) == pytest.approx(0.3, rel=0.15)
    moved = _core_crossing(jit) - _core_crossing(plain)
    np.testing.assert_allclose(moved, shift, atol=0.05)
    block, truth = with_noise(jit, 0.01, seed=2)
    np.testing.assert_allclose(block.t0, jit.t0_given, atol=1e-5)  # the PSA gets the given T0
    assert truth.t0 is jit.truth.t0


def test_noise_levels_share_the_events(model) -> None:  # noqa: ANN001
    clean = simulate(model, 20, seed=4)
    a, _ = with_noise(clean, 0.01, seed=1)
    b, _ = with_noise(clean, 0.03, seed=1)
    ra = a.traces[:, :37] - clean.traces
    rb = b.traces[:, :37] - clean.traces
    np.testing.assert_allclose(rb, 3 * ra, rtol=1e-3, atol=1e-2)
    np.testing.assert_allclose(np.std(ra / clean.noise_unit[:, None, None]), 0.01, rtol=0.05)
    np.testing.assert_array_equal(a.traces[:, 37], a.traces[:, 36])


def test_bench_rows_have_every_field(model, settings: PsaSettings) -> None:  # noqa: ANN001
    basis = toy_source("small").basis
    events = {}
    for kind, k in (("single", 1), ("two-hit", 2)):
        clean = simulate(model, 24, interactions=k, seed=10 + k)
        events[(kind, 0.01)] = with_noise(clean, 0.01, seed=k)
    configs = [Config(2.0, "full", False), Config(0.3, "ags", True)]
    rows = bench_rows(basis, events, configs, base=settings, reference_hits=6, warmup_events=4,
                      subset_repeat=1)
    assert len(rows) == 4
    for r in rows:
        assert tuple(r) == ROW_KEYS
        assert r["events"] == 24
        assert r["hits"] == r["matched_hits"] == 24 * (2 if r["kind"] == "two-hit" else 1)
        assert r["missed_interactions"] == 0
        assert r["hits_per_s"] > 0 and r["ratio_to_reference"] > 0
        assert r["reference_hits"] >= 6 and r["reference_hits_per_s"] > 0
        assert 0 <= r["reference_agree_pct"] <= 100
        assert 0 < r["median_3d_mm"] < 5 and 0 <= r["outliers_5mm_pct"] <= 100
        assert all(math.isfinite(r[k]) for k in ("fwhm_x_mm", "fwhm_y_mm", "fwhm_z_mm",
                                                 "t0_bias_samples", "t0_rms_samples"))
        if r["kind"] == "single":  # every hit leads its event
            assert r["median_3d_leading_mm"] == r["median_3d_mm"]
            assert math.isnan(r["median_3d_others_mm"])
        else:  # one of each per event: the overall median lies between the two
            lo, hi = sorted((r["median_3d_leading_mm"], r["median_3d_others_mm"]))
            assert lo <= r["median_3d_mm"] <= hi
    assert [r["config"] for r in rows] == ["p=2 full grid"] * 2 + ["p=0.3 ags refined"] * 2
    # the grid rows report the integer T0 used: its error includes the unknown jitter
    grid = rows[0]
    block, truth = events[("single", 0.01)]
    out = GridSearchPSA(basis, configs[0].settings(settings)).run(block)
    expect = t0_stats(out.events.t0, truth.t0)
    assert grid["t0_rms_samples"] == pytest.approx(expect["t0_rms_samples"])
    assert grid["t0_rms_samples"] > 0.2


def test_leading_interaction() -> None:
    """The most energetic interaction of each event is 'leading' (ties: both)."""
    from gpsa.bench.accuracy import leading
    from gpsa.bench.toy import Truth

    truth = Truth(event=np.array([0, 0, 1, 2, 2]), segment=np.array([3, 4, 5, 6, 7]),
                  position=np.zeros((5, 3)), energy=np.array([100.0, 300.0, 50.0, 80.0, 80.0]),
                  t0=np.zeros(3))
    np.testing.assert_array_equal(leading(truth, np.arange(5)), [False, True, True, True, True])
    np.testing.assert_array_equal(leading(truth, np.array([0, 2])), [False, True])
