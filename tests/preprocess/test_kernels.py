"""Preprocessing kernels against naive references and known answers."""

from __future__ import annotations

import numpy as np
import pytest

from gpsa.errors import ConfigError
from gpsa.preprocess.align import align_traces
from gpsa.preprocess.baseline import subtract_baseline
from gpsa.preprocess.calibration import (
    apply_trace_gains,
    calibrate_energies,
    read_coefficients,
    trace_gains,
)
from gpsa.preprocess.cfd import cfd_t0
from gpsa.preprocess.crosstalk import correct_crosstalk, read_matrix
from gpsa.preprocess.deadseg import rebuild_dead_segments
from gpsa.preprocess.netcharge import net_charge
from gpsa.preprocess.normalise import normalise_traces
from gpsa.preprocess.trapezoid import trapezoid_energy
from gpsa.status import EventStatus

from . import naive

rng = np.random.default_rng(7)


def pulses(n: int, samples: int = 60, start: float = 20.0, rise: float = 6.0,
           amp: float = 500.0, noise: float = 1.0) -> np.ndarray:
    t = np.arange(samples)[None, :] - (start + rng.uniform(-0.5, 0.5, (n, 1)))
    return (amp * np.clip(t / rise, 0, 1) + noise * rng.standard_normal((n, samples))).astype(
        np.float32)


@pytest.mark.parametrize("tau", [0.0, 300.0])
def test_trapezoid_matches_naive(tau: float) -> None:
    x = pulses(6).reshape(2, 3, -1)
    got = trapezoid_energy(x, 8, 4, tau)
    want = [[naive.trapezoid_max(x[e, c], 8, 4, tau) for c in range(3)] for e in range(2)]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-3)


def test_trapezoid_of_a_step_is_its_height() -> None:
    x = np.zeros((1, 1, 80), np.float32)
    x[..., 30:] = 662.0
    assert trapezoid_energy(x, 10, 5)[0, 0] == pytest.approx(662.0)
    decaying = x * np.exp(-np.clip(np.arange(80) - 30, 0, None) / 200.0).astype(np.float32)
    assert trapezoid_energy(decaying, 10, 5, 200.0)[0, 0] == pytest.approx(662.0, rel=1e-4)


def test_cfd_matches_naive_and_finds_the_start() -> None:
    x = pulses(50, rise=10.0)
    got = cfd_t0(x, 0.3, 3, 20.0)
    want = [naive.cfd(row, 0.3, 3, 20.0) for row in x]
    np.testing.assert_allclose(got, want, rtol=1e-5)
    clean = pulses(1, start=20.0, rise=10.0, noise=0.0)
    assert abs(cfd_t0(clean, 0.3, 3, 20.0)[0] - 20.0) < 0.6
    assert np.isnan(cfd_t0(np.zeros((1, 60), np.float32))[0])  # never armed


def test_cfd_noisy_sample_at_arming_still_gives_t0() -> None:
    # one baseline sample `delay` before arming, 2.6 sigma high, made y <= 0 at arming (issue 8)
    x = np.zeros((2, 100), np.float32)
    x[:, 50:] = np.minimum(np.arange(50) * 100 + 25, 2000)
    x[1, 46] = 8
    np.testing.assert_allclose(cfd_t0(x), [49.75, 49.75], atol=1e-5)
    assert naive.cfd(x[1], 0.3, 4, 20.0) == pytest.approx(49.75)


def test_cfd_slow_pulse_crossing_before_arming() -> None:
    # 2 keV/sample from sample 30: y crosses at 35.7, the 20 keV threshold is passed at 41
    x = (2.0 * np.clip(np.arange(100) - 30.0, 0, 150)).astype(np.float32)[None, :]
    assert cfd_t0(x)[0] == pytest.approx(30.0, abs=1e-5)
    assert naive.cfd(x[0], 0.3, 4, 20.0) == pytest.approx(30.0)


def test_cfd_kernel_matches_naive_on_hard_pulses() -> None:
    # small, slow and noisy pulses: every branch (y <= 0 at arming included) is exercised
    x = np.concatenate([pulses(300, rise=25.0, amp=60.0, noise=3.0),
                        pulses(300, rise=8.0, amp=40.0, noise=3.0)])
    got = cfd_t0(x, 0.3, 4, 20.0)
    want = np.array([naive.cfd(row, 0.3, 4, 20.0) for row in x])
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4)
    arm = np.argmax(x > 20.0, axis=1)
    rows = np.arange(len(x))
    y_arm = 0.3 * x[rows, arm] - x[rows, np.maximum(arm - 4, 0)]
    assert np.count_nonzero(y_arm <= 0) >= 10


def test_align_moves_t0_to_target() -> None:
    x = np.tile(np.arange(40, dtype=np.float32), (3, 2, 1))
    out, t0 = align_traces(x, np.array([25.3, 18.0, np.nan]), 20)
    assert out[0, 0, 20] == 25 and out[1, 1, 20] == 18 and out[2, 0, 20] == 20
    assert out[0, 0, -1] == 39  # edge repeated
    np.testing.assert_allclose(t0[:2], [20.3, 20.0], atol=1e-6)
    assert np.isnan(t0[2])


def test_baseline_and_gains(tmp_path) -> None:  # type: ignore[no-untyped-def]
    raw = (np.ones((2, 38, 30)) * 100).astype(np.int16)
    raw[:, :, 15:] += 40
    kev = apply_trace_gains(subtract_baseline(raw, 10), trace_gains(0.25, 1.0))
    assert kev.dtype == np.float32 and kev[0, 0, -1] == 10.0 and kev[0, 36, -1] == 40.0
    assert raw[0, 0, 0] == 100  # input untouched
    cal = tmp_path / "c.cal"
    cal.write_text("# ch offset gain\n3 1.5 2.0\n36 0 0.5\n")
    off, gain = read_coefficients(cal)
    e = calibrate_energies(np.full((1, 38), 10.0, np.float32), off, gain)
    assert e[0, 3] == 21.5 and e[0, 36] == 5.0 and e[0, 0] == 10.0
    cal.write_text("3 1.5\n")
    with pytest.raises(ConfigError, match="c.cal:1: expected 'channel offset gain'"):
        read_coefficients(cal)


def test_crosstalk_round_trip(tmp_path) -> None:  # type: ignore[no-untyped-def]
    xt = np.eye(37) + 0.002 * rng.standard_normal((37, 37))
    f = tmp_path / "xt.txt"
    f.write_text("\n".join(" ".join(f"{v:.9f}" for v in row) for row in xt))
    m = read_matrix(f)
    true_t = rng.standard_normal((4, 38, 20)).astype(np.float32)
    true_e = rng.uniform(0, 1000, (4, 38)).astype(np.float32)
    meas_t = true_t.copy()
    meas_t[:, :37] = np.einsum("ij,njs->nis", m, true_t[:, :37])
    meas_e = true_e.copy()
    meas_e[:, :37] = true_e[:, :37] @ m.T
    t, e = correct_crosstalk(meas_t, meas_e, m)
    np.testing.assert_allclose(t, true_t, atol=1e-4)
    np.testing.assert_allclose(e, true_e, rtol=1e-4)
    f.write_text("1 0\n0 1\n")
    with pytest.raises(ConfigError, match="expected a 37x37 matrix"):
        read_matrix(f)


def test_dead_segment_rebuilt_from_core() -> None:
    t = np.zeros((2, 38, 10), np.float32)
    e = np.zeros((2, 38), np.float32)
    t[0, 5], t[0, 13], t[0, 36] = 100.0, 200.0, 300.0
    e[0, 5], e[0, 13], e[0, 36] = 100.0, 200.0, 300.0
    t[0, 13] = e[0, 13] = 0.0  # segment 13 is dead
    t2, e2, st = rebuild_dead_segments(t, e, np.zeros(2, np.uint16), [13])
    assert e2[0, 13] == 200.0 and np.all(t2[0, 13] == 200.0)
    assert st[0] & EventStatus.DEAD_SEGMENT and st[1] == 0
    assert e[0, 13] == 0.0  # input untouched


def test_net_charge_and_normalise() -> None:
    e = np.zeros((2, 38), np.float32)
    e[0, :3] = [500.0, 5.0, 30.0]
    e[1, :20] = 100.0
    e2, st, n = net_charge(e, np.zeros(2, np.uint16), 15.0, 12)
    assert e2[0, 1] == 0.0 and e2[0, 2] == 30.0 and list(n) == [2, 20]
    assert st[0] == 0 and st[1] & EventStatus.REJECTED
    t = np.ones((2, 38, 10), np.float32) * 480.0
    out = normalise_traces(t, e, 15.0)
    assert out[0, 0, -1] == pytest.approx(500.0) and out[0, 1, -1] == 480.0
