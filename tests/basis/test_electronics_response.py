"""The electronics response after the preamp, on analytic signals: a measured impulse response
(``impulse_response``, :mod:`gpsa.basis.fields.impulse`) and the extra RC shaping
(``shaping_ns``, ``shaping_stages``). A delta is no response, a delayed delta a delay, a boxcar
turns a step into a ramp of its width, resampled responses keep their shape and area, the RC
stages give the analytic step responses, and a settled signal keeps its final value."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.special import gammainc

from gpsa.basis.fields.impulse import convolve_causal, kernel_on_grid, load_impulse_response
from gpsa.basis.fields.response import apply_response, preamp

DT = 1.0


def _write(path: Path, values: list[float] | np.ndarray, times: bool = False,
           period: float = DT) -> Path:
    rows = [f"{k * period:g},{v!r}" if times else repr(float(v)) for k, v in enumerate(values)]
    path.write_text("# test response\n" + "\n".join(rows) + "\n")
    return path


def _fine(raw: np.ndarray, tau: float = 0.0, **kw: object) -> np.ndarray:
    """``apply_response`` sampled at every fine point (sampling_ns = dt, point samples)."""
    return apply_response(raw, dt_ns=DT, sampling_ns=DT, n_samples=raw.shape[-1], tau_ns=tau,
                          sampling="point", **kw)


def _step(n: int, at: int) -> np.ndarray:
    raw = np.zeros((2, 37, n), np.float32)
    raw[..., at:] = 1.0
    return raw


def test_a_delta_is_no_response_and_a_delayed_delta_a_delay(tmp_path: Path) -> None:
    rng = np.random.default_rng(15)
    raw = np.cumsum(rng.random((3, 37, 300)), axis=-1).astype(np.float32) / 300
    plain = _fine(raw, tau=35.0)
    delta = load_impulse_response(_write(tmp_path / "d.txt", [1.0, 0.0, 0.0]), DT)
    np.testing.assert_allclose(_fine(raw, tau=35.0, kernel=delta.kernel(DT)), plain,
                               rtol=0, atol=1e-6)
    late = load_impulse_response(_write(tmp_path / "l.txt", [0.0] * 7 + [2.5, 0.0]), DT)
    shifted = _fine(raw, tau=35.0, kernel=late.kernel(DT))
    np.testing.assert_allclose(shifted[..., 7:], plain[..., :-7], rtol=0, atol=1e-6)
    assert np.all(shifted[..., :7] == 0.0)


def test_a_boxcar_turns_a_step_into_a_ramp_of_its_width(tmp_path: Path) -> None:
    width, at, n = 5, 40, 120
    box = load_impulse_response(_write(tmp_path / "box.csv", [3.0] * width, times=True))
    assert box.period_ns == DT and box.area == pytest.approx(3.0 * width)
    out = _fine(_step(n, at), kernel=box.kernel(DT))
    i = np.arange(n)
    expect = np.clip((i - at + 1) / width, 0.0, 1.0)
    np.testing.assert_allclose(out[0, 0], expect, rtol=0, atol=1e-6)
    np.testing.assert_allclose(out[1, 36], expect, rtol=0, atol=1e-6)


def test_a_boxcar_convolves_a_ramp_into_its_delayed_ramp() -> None:
    n, width = 200, 9
    raw = np.broadcast_to(0.01 * np.arange(n), (1, 37, n)).astype(np.float32)
    out = _fine(raw, kernel=np.full(width, 1.0 / width))
    # a ramp convolved with a causal boxcar of width w is the ramp delayed by (w − 1)/2 samples
    lag = (width - 1) / 2
    np.testing.assert_allclose(out[0, 3, width:], 0.01 * (np.arange(width, n) - lag), atol=1e-6)


def test_resampled_responses_keep_their_shape_and_area() -> None:
    # a boxcar over [0, 4] ns sampled every 0.25 ns: the 1 ns kernel integrates ±½ ns bins
    fine = kernel_on_grid(np.ones(17), 0.25, DT)
    np.testing.assert_allclose(fine, [0.125, 0.25, 0.25, 0.25, 0.125], atol=1e-12)
    # a triangle sampled every 2 ns: linear interpolation at every ns
    coarse = kernel_on_grid(np.array([0.0, 1.0, 0.0]), 2.0, DT)
    np.testing.assert_allclose(coarse, [0.0, 0.25, 0.5, 0.25, 0.0], atol=1e-12)
    # a fine delta is still a delta; any response sums to 1
    np.testing.assert_allclose(kernel_on_grid(np.r_[1.0, np.zeros(40)], 0.1, DT)[0], 1.0)
    rng = np.random.default_rng(4)
    for period in (0.3, 1.0, 3.7):
        assert kernel_on_grid(rng.random(50), period, DT).sum() == pytest.approx(1.0)


def test_fft_convolution_equals_the_direct_sum() -> None:
    rng = np.random.default_rng(7)
    y = rng.normal(size=(5, 37, 130)).astype(np.float32)
    k = rng.random(160)  # longer than the trace: its tail is cut
    k /= k.sum()
    direct = np.zeros(y.shape)
    for i in range(y.shape[-1]):
        j = np.arange(i + 1)
        direct[..., i] = (y[..., i - j].astype(np.float64) * k[j]).sum(axis=-1)
    got = convolve_causal(y, k)
    assert got.dtype == y.dtype and got.shape == y.shape
    np.testing.assert_allclose(got, direct, rtol=0, atol=2e-6)


def test_one_rc_stage_is_a_second_preamp_pole() -> None:
    raw = _step(150, 30)
    once = _fine(raw, tau=35.0, shaping_ns=12.0)
    np.testing.assert_array_equal(once, preamp(preamp(raw, 35.0, DT), 12.0, DT))
    # the poles commute (up to round-off)
    np.testing.assert_allclose(once, _fine(preamp(raw, 12.0, DT), tau=35.0), atol=1e-6)
    # a step through one RC stage alone: exactly 1 − e^(−t/θ) at the fine points
    t = np.arange(150) - 30
    np.testing.assert_allclose(_fine(raw, shaping_ns=12.0)[0, 0],
                               np.where(t > 0, 1.0 - np.exp(-np.maximum(t, 0) / 12.0), 0.0),
                               atol=1e-6)


@pytest.mark.parametrize("stages", [2, 3])
def test_rc_stages_give_the_gamma_step_response(stages: int) -> None:
    theta, at, n = 15.0, 20, 400
    got = _fine(_step(n, at), shaping_ns=theta, shaping_stages=stages)[0, 5]
    t = np.maximum(np.arange(n) - at, 0)
    # step response of n identical poles: 1 − e^(−t/θ) Σ_{k<n} (t/θ)^k / k!
    expect = gammainc(stages, t / theta)
    # the discrete cascade lags by ~½ dt per extra stage: compare at t − (stages − 1)/2
    lagged = gammainc(stages, np.maximum(t - 0.5 * (stages - 1), 0) / theta)
    assert np.max(np.abs(got - lagged)) < 5e-3
    assert np.max(np.abs(got - expect)) < 0.03
    t10, t90 = (np.interp(f, got, np.arange(n)) for f in (0.1, 0.9))
    rise = {2: 3.358, 3: 4.220}[stages] * theta
    assert t90 - t10 == pytest.approx(rise, abs=1.0)


def test_a_settled_signal_keeps_its_final_value() -> None:
    rng = np.random.default_rng(11)
    n = 1000  # the preamp's 35 ns tail has settled to < 1e-8 by the end
    # charge signals settling to random net charges by fine sample 250
    shape = np.clip((np.arange(n) - 100) / 150.0, 0.0, 1.0)
    raw = (rng.uniform(-1, 1, size=(4, 37, 1)) * shape).astype(np.float32)
    long = np.exp(-np.arange(120) / 20.0) * (1 + 0.3 * np.sin(np.arange(120) / 5.0))
    out = _fine(raw, tau=35.0, shaping_ns=10.0, shaping_stages=2, kernel=long / long.sum())
    np.testing.assert_allclose(out[..., -1], raw[..., -1], rtol=0, atol=2e-5)
    # and the signal has been delayed and slowed, not just copied
    assert not np.allclose(out[..., 260], raw[..., 260], atol=1e-2)
