"""Energies read on the traces: the trapezoid at a fixed time after T0 and the tail mean, against
naive references and known answers, and the ``preprocess`` stage's T0-first trapezoid path."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gpsa.actors.preprocess import Preprocess
from gpsa.block import CrystalBlock
from gpsa.preprocess.tail import tail_energy, tail_sigma
from gpsa.preprocess.trapezoid import readout_samples, trapezoid_energy, trapezoid_sigma
from gpsa.runtime.actor import RunContext

from . import naive

rng = np.random.default_rng(3)
N_S = 100


def ramp(t0: float, collection: float, amp: float, n_s: int = N_S) -> np.ndarray:
    """A step of ``amp`` starting at ``t0`` whose leading edge lasts ``collection`` samples."""
    t = np.arange(n_s) - t0
    return (amp * np.clip(t / collection, 0.0, 1.0)).astype(np.float32)


def decayed(q: np.ndarray, tau: float) -> np.ndarray:
    """The preamplifier output of the charge ``q`` (last axis) with a decay of ``tau`` samples:
    ``x[n] = a·x[n-1] + q[n] - q[n-1]``, a = exp(-1/tau)."""
    a = math.exp(-1.0 / tau)
    x = np.zeros_like(q)
    x[..., 0] = q[..., 0]
    for n in range(1, q.shape[-1]):
        x[..., n] = a * x[..., n - 1] + q[..., n] - q[..., n - 1]
    return x


def bipolar(t0: float, width: float, amp: float, n_s: int = N_S) -> np.ndarray:
    """A transient that rises to ``amp`` and returns to 0 within ``width`` samples: no net
    charge (what a neighbour of a hit segment sees)."""
    t = np.arange(n_s) - t0
    return (amp * np.clip(1.0 - np.abs(2.0 * t / width - 1.0), 0.0, None)).astype(np.float32)


@pytest.mark.parametrize("tau", [0.0, 300.0])
def test_fixed_readout_matches_naive(tau: float) -> None:
    x = (np.stack([ramp(20.3, 30, 500.0), bipolar(25.0, 30, 200.0), ramp(8.0, 20, 80.0)])
         + rng.standard_normal((3, N_S)).astype(np.float32)).reshape(3, 1, N_S)
    t0 = np.array([20.3, np.nan, 90.0])  # read at 85, at the maximum, clipped to 99
    got = trapezoid_energy(x, 20, 46, tau, t0=t0)
    want = [[naive.trapezoid_at(x[e, 0], 20, 46, tau, t0[e])] for e in range(3)]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-3)
    assert readout_samples(t0, 20, 46, N_S).tolist() == [85, -1, 99]


def test_step_with_a_rise_time_read_at_the_fixed_time_gives_its_amplitude() -> None:
    x = ramp(20.3, 40, 662.0)[None, None]  # 40-sample charge collection
    t0 = np.array([20.3])
    assert trapezoid_energy(x, 20, 46, t0=t0)[0, 0] == pytest.approx(662.0, rel=1e-5)
    assert trapezoid_energy(x, 10, 41, t0=t0)[0, 0] == pytest.approx(662.0, rel=1e-5)
    # the former readout, the maximum with a 5-sample gap, reads it low
    assert trapezoid_energy(x, 10, 5)[0, 0] < 0.5 * 662.0
    # a preamplifier decay is deconvolved
    e = trapezoid_energy(decayed(x, 500.0), 20, 46, 500.0, t0=t0)[0, 0]
    assert e == pytest.approx(662.0, rel=1e-4)


def test_transient_without_net_charge_reads_zero_at_the_fixed_time() -> None:
    x = bipolar(20.0, 36, 300.0)[None, None]
    assert abs(trapezoid_energy(x, 20, 46, t0=np.array([20.0]))[0, 0]) < 1e-3
    assert trapezoid_energy(x, 20, 46)[0, 0] > 100.0  # the maximum reads it as energy
    assert trapezoid_energy(x, 10, 5)[0, 0] > 100.0
    assert abs(tail_energy(x, 20)[0, 0]) < 1e-3


def test_noise_of_the_readouts_is_the_propagated_sigma() -> None:
    sigma = 3.0
    x = (sigma * rng.standard_normal((4000, 2, N_S))).astype(np.float32)
    x -= x[..., :15].mean(axis=-1, keepdims=True)  # the stage subtracts the baseline first
    trap = trapezoid_energy(x, 20, 46, t0=np.full(4000, 20.0))
    assert trap.std() == pytest.approx(float(trapezoid_sigma(np.float32(sigma), 20)), rel=0.04)
    assert float(trapezoid_sigma(np.float32(sigma), 20)) == pytest.approx(
        sigma * math.sqrt(2 / 20), rel=1e-6)
    tail = tail_energy(x, 20)
    want = float(tail_sigma(np.float32(sigma), 20, 15))
    assert want == pytest.approx(sigma * math.sqrt(1 / 20 + 1 / 15), rel=1e-6)
    assert tail.std() == pytest.approx(want, rel=0.04)


def test_tail_energy_of_steps() -> None:
    x = np.stack([ramp(20.0, 40, 662.0), ramp(30.0, 46, 100.0)])[:, None]
    np.testing.assert_allclose(tail_energy(x, 20)[:, 0], [662.0, 100.0], rtol=1e-6)
    assert tail_energy(decayed(x, 500.0), 20)[0, 0] < 0.95 * 662.0  # the decay reads low
    np.testing.assert_allclose(tail_energy(decayed(x, 500.0), 20, 500.0)[:, 0], [662.0, 100.0],
                               rtol=1e-4)
    with pytest.raises(ValueError, match="samples must be >= 1"):
        tail_energy(x, 0)


def _block(n: int = 4, no_core: tuple[int, ...] = (), t0: float = 20.0) -> CrystalBlock:
    """Events with a 500 keV hit in segment 3 at T0 = ``t0`` (core = segment 3), a transient in
    segment 4; events ``no_core`` have no core pulse (the CFD finds no T0)."""
    tr = np.zeros((n, 38, N_S), np.float32)
    tr[:, 3] = ramp(t0, 40, 500.0)
    tr[:, 4] = bipolar(t0, 36, 150.0)
    tr[:, 36] = tr[:, 37] = tr[:, 3]
    tr[list(no_core), 36:] = 0.0
    return CrystalBlock.from_traces(tr, t0=np.full(n, t0, np.float32))


def test_stage_reads_the_trapezoid_at_the_cfd_t0_and_falls_back_to_the_maximum() -> None:
    block = _block(no_core=(1,))
    pre = Preprocess(energy="trapezoid")
    pre.start(RunContext())
    out = pre.process(block)
    e = out.energies
    np.testing.assert_allclose(e[[0, 2, 3], 3], 500.0, rtol=1e-4)
    assert np.all(e[[0, 2, 3], 4] == 0.0)  # the transient: no net charge
    traces = block.traces - block.traces[..., :15].mean(axis=-1, keepdims=True)
    want = trapezoid_energy(traces, 20, 46)[1]  # no T0: the maximum
    assert e[1, 3] == pytest.approx(want[3], rel=1e-5) and e[1, 4] == pytest.approx(want[4])
    assert np.isnan(out.t0[1]) and np.all(np.isfinite(out.t0[[0, 2, 3]]))
    assert pre.counters() == {"no_t0": 1, "noise_removed_segments": 0, "readout_at_max": 1,
                              "readout_clipped": 0}


def test_stage_with_the_block_t0_falls_back_when_it_is_nan() -> None:
    block = _block()
    block.t0[2] = np.nan
    pre = Preprocess(energy="trapezoid", t0="keep")
    pre.start(RunContext())
    out = pre.process(block)
    assert pre.counters() == {"noise_removed_segments": 0, "readout_at_max": 1,
                              "readout_clipped": 0}
    assert out.energies[0, 4] == 0.0 and out.energies[2, 4] > 100.0


def test_readout_past_the_trace_end_warns_at_check_and_is_counted(
        caplog: pytest.LogCaptureFixture) -> None:
    assert Preprocess(energy="trapezoid").check(RunContext()) == []
    long = Preprocess(energy="trapezoid", trapezoid_rise=30, trapezoid_gap=60)
    warnings = long.check(RunContext())
    assert len(warnings) == 1 and "\n" not in warnings[0]
    assert "readout for T0 at sample 20 is sample 109, past the end" in warnings[0]
    long.start(RunContext(crystal="00A"))
    long.process(_block())
    with caplog.at_level("WARNING", logger="gpsa.actors.preprocess"):
        list(long.flush())
    assert long.counters()["readout_clipped"] == 4
    assert "the trapezoid readout of 4 events fell past the trace's end" in caplog.text
