"""Net-charge segments: the fixed threshold, the noise threshold max(fixed, k·σ_E) from the
baseline rms, and the ``preprocess`` stage's use and count of it."""

from __future__ import annotations

import numpy as np
import pytest

from gpsa.actors.preprocess import Preprocess
from gpsa.block import CrystalBlock
from gpsa.preprocess.baseline import baseline_sigma
from gpsa.preprocess.netcharge import net_charge, noise_threshold
from gpsa.preprocess.tail import tail_sigma
from gpsa.runtime.actor import RunContext
from gpsa.status import EventStatus

N, N_S, SIGMA = 200, 100, 30.0


def test_noise_threshold_is_the_larger_of_fixed_and_k_sigma() -> None:
    sigma_e = np.zeros((2, 38), np.float32)
    sigma_e[0, :3] = [1.0, 4.0, 10.0]
    thr = noise_threshold(sigma_e, 5.0, 15.0)
    assert thr.shape == (2, 36) and thr[0, :3].tolist() == [15.0, 20.0, 50.0]
    assert np.all(thr[1] == 15.0)
    e = np.zeros((2, 38), np.float32)
    e[0, :3] = [16.0, 19.0, 60.0]
    e[1, 0] = 16.0
    out, st, n_hit = net_charge(e, np.zeros(2, np.uint16), thr, 12)
    assert out[0, :3].tolist() == [16.0, 0.0, 60.0] and out[1, 0] == 16.0
    assert n_hit.tolist() == [2, 1] and not np.any(st & EventStatus.REJECTED)
    assert e[0, 1] == 19.0  # input untouched


def test_baseline_sigma() -> None:
    x = np.random.default_rng(1).normal(0.0, 3.0, (500, 2, 60)).astype(np.float32)
    x[..., 15:] += 400.0  # the pulse does not enter
    s = baseline_sigma(x, 15)
    assert s.shape == (500, 2) and np.sqrt(np.mean(s**2)) == pytest.approx(3.0, rel=0.03)
    assert np.all(baseline_sigma(x, 1) == 0.0)


def noisy_block() -> CrystalBlock:
    """Segment 0: a real 300 keV hit; segment 1: noise only (baseline rms exactly σ), its tail
    mean 20 keV above its baseline mean (above the fixed 15 keV, 1.9 σ_E); both and the core with
    σ = 30 keV per sample, the other segments silent. The block's energies: 300 and 20 keV."""
    rng = np.random.default_rng(5)
    tr = np.zeros((N, 38, N_S), np.float32)
    t = np.arange(N_S) - 20.0
    tr[:, 0] = 300.0 * np.clip(t / 40.0, 0.0, 1.0)
    tr[:, 36] = tr[:, 0]
    for ch in (0, 1, 36):
        tr[:, ch] += rng.normal(0.0, SIGMA, (N, N_S))
    base = tr[:, 1, :15]  # its baseline rms exactly SIGMA: the noise threshold is 5 σ_E
    tr[:, 1, :15] = base.mean(axis=1, keepdims=True) + (base - base.mean(axis=1, keepdims=True)) \
        * (SIGMA / base.std(axis=1, ddof=1, keepdims=True))
    tail = tr[:, 1, -20:].mean(axis=1) - tr[:, 1, :15].mean(axis=1)
    tr[:, 1, -20:] += (20.0 - tail)[:, None]
    tr[:, 37] = tr[:, 36]
    energies = np.zeros((N, 38), np.float32)
    energies[:, 0], energies[:, 1], energies[:, 36:] = 300.0, 20.0, 300.0
    return CrystalBlock.from_traces(tr, energies=energies, t0=np.full(N, 20.0, np.float32))


def run(**settings: object) -> tuple[CrystalBlock, dict[str, int]]:
    pre = Preprocess(t0="keep", **settings)
    pre.start(RunContext())
    return pre.process(noisy_block()), pre.counters()


def test_noise_threshold_removes_a_noise_only_segment_and_keeps_a_real_one() -> None:
    sigma_e = float(tail_sigma(np.float32(SIGMA), 20, 15))
    assert 15.0 < 20.0 < 5.0 * sigma_e  # the noise segment is between the two thresholds
    out, counters = run(energy="tail")
    assert np.all(out.energies[:, 1] == 0.0)  # removed: below 5 σ_E
    np.testing.assert_allclose(out.energies[:, 0], 300.0, atol=6 * sigma_e)  # kept
    assert counters == {"noise_removed_segments": N}
    fixed, counters = run(energy="tail", noise_threshold_sigma=0.0)
    np.testing.assert_allclose(fixed.energies[:, 1], 20.0, atol=1e-3)  # the fixed 15 keV keeps it
    assert counters == {"noise_removed_segments": 0}
    trap, counters = run(energy="trapezoid")
    assert np.all(trap.energies[:, 0] > 200.0)
    assert counters["noise_removed_segments"] == int(np.count_nonzero(
        run(energy="trapezoid", noise_threshold_sigma=0.0)[0].energies[:, :36] > 0)) - N


def test_block_energies_keep_the_fixed_threshold() -> None:
    out, counters = run()  # energy = "block": the DAQ's energies, no noise threshold
    assert np.all(out.energies[:, 1] == 20.0) and np.all(out.energies[:, 0] == 300.0)
    assert counters == {}
