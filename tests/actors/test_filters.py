"""The preprocess and post-psa filters on their own."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gpsa.actors.postpsa import PostPsa
from gpsa.actors.preprocess import Preprocess
from gpsa.block import PsaBlock, PsaEvents, PsaHits
from gpsa.errors import ConfigError
from gpsa.postpsa.gaindrift import read_gain_table
from gpsa.runtime.actor import RunContext


def test_preprocess_gives_the_psa_input_convention(basis_file: Path) -> None:
    from gpsa.basis.grid import BasisGrid
    from gpsa.basis.io import load_basis
    from gpsa.simulate import SimConfig, simulate_events

    sim = simulate_events(BasisGrid.from_basis(load_basis(basis_file)), 100,
                          config=SimConfig(multiplicity=(1.0,)))
    pre = Preprocess(align_t0=20)
    pre.start(RunContext())
    out = pre.process(sim.block)
    assert out.traces.dtype == np.float32 and out.traces.shape == sim.block.traces.shape
    assert np.all(np.isfinite(out.t0)) and np.all(np.abs(out.t0 - 20) <= 0.5)
    # the core's final amplitude (keV) matches its energy; sub-threshold segments are 0
    core_tail = out.traces[:, 36, -5:].mean(1)
    np.testing.assert_allclose(core_tail, out.energies[:, 36], rtol=0.02, atol=5)
    seg = out.energies[:, :36]
    assert np.all((seg == 0) | (seg > 15))
    # CFD start estimate vs the true interaction time, before alignment
    plain = Preprocess()
    plain.start(RunContext())
    raw_t0 = plain.process(sim.block).t0
    true_t0 = sim.truth.events["t0"]
    assert np.median(np.abs(raw_t0 - true_t0)) < 1.5


def test_preprocess_counts_and_logs_events_without_t0(basis_file: Path,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    from gpsa.basis.grid import BasisGrid
    from gpsa.basis.io import load_basis
    from gpsa.simulate import SimConfig, simulate_events
    from gpsa.status import EventStatus

    block = simulate_events(BasisGrid.from_basis(load_basis(basis_file)), 20,
                            config=SimConfig(multiplicity=(1.0,))).block
    block.traces[:3, 36] = 0  # no core pulse: no T0
    core = block.traces[3, 36]  # core low gain, 1 keV/ADC
    arm = int(np.argmax(core > 20))
    core[arm - 4] = core[arm] * 0.3 + 8  # a high baseline sample: y <= 0 at arming (issue 8)
    pre = Preprocess(baseline_samples=0)
    pre.start(RunContext(crystal="00A"))
    out = pre.process(block)
    flagged = (out.status & EventStatus.NO_T0) != 0
    assert flagged.tolist() == [True] * 3 + [False] * 17
    with caplog.at_level("WARNING", logger="gpsa.actors.preprocess"):
        assert list(pre.flush()) == []
    assert pre.counters() == {"no_t0": 3}
    assert "crystal 00A: stage 'preprocess': 3 of 20 events have no T0" in caplog.text


def test_preprocess_settings_checked() -> None:
    with pytest.raises(ConfigError, match="Preprocess.energy: 'peak' is not one of"):
        Preprocess(energy="peak")
    with pytest.raises(ConfigError, match=r"Preprocess.dead_segments\[1\]: 40 is above the "
                       "maximum 35"):
        Preprocess(dead_segments=[3, 40])


def psa_block() -> PsaBlock:
    ev = PsaEvents(timestamps=np.array([5, 150, 400], np.uint64),
                   event_numbers=np.arange(3, dtype=np.uint32),
                   crystal_ids=np.array([0, 0, 1], np.uint16), status=np.zeros(3, np.uint16),
                   e0=np.full(3, 1000.0, np.float32), e1=np.full(3, 1000.0, np.float32),
                   t0=np.zeros(3, np.float32), t1=np.zeros(3, np.float32),
                   psa_status=np.zeros(3, np.uint16))
    hits = PsaHits.build(np.array([0, 0, 1, 2]), energy=np.array([400, 600, 1000, 1000.0]),
                         x=np.ones(4), y=np.zeros(4), z=np.zeros(4),
                         crystal=np.array([0, 0, 0, 1]))
    return PsaBlock(events=ev, hits=hits)


def test_post_psa_gain_drift_recalibration_and_lab(tmp_path: Path) -> None:
    conf = tmp_path / "TimeEvoCC.conf"
    conf.write_text("# TS_start TS_end gain\n0 100 1.01\n100 300 0.99\n")
    crmat = tmp_path / "crmat.dat"
    crmat.write_text("0 0 10 0 0\n1 1 0 0\n2 0 1 0\n3 0 0 1\n"
                     "1 0 0 0 50\n1 0 -1 0\n2 1 0 0\n3 0 0 1\n")
    post = PostPsa(gain_drift=str(conf), recalibration=[1.0, 2.0], lab_transform=str(crmat))
    post.start(RunContext())
    out = post.process(psa_block())
    np.testing.assert_allclose(out.events.e0, [1 + 2 * 1010, 1 + 2 * 990, 1 + 2 * 1000])
    np.testing.assert_allclose(out.hits.energy, [1 + 2 * 404, 1 + 2 * 606, 1 + 2 * 990, 2001],
                               rtol=1e-6)
    np.testing.assert_allclose(np.c_[out.hits.x, out.hits.y, out.hits.z],
                               [[11, 0, 0], [11, 0, 0], [11, 0, 0], [0, 1, 50]])
    assert read_gain_table(conf).gains_at(np.array([99, 100, 300], np.uint64)).tolist() == \
        pytest.approx([1.01, 0.99, 1.0])
    conf.write_text("0 100 1.0\n50 200 1.0\n")
    with pytest.raises(ConfigError, match="time bins overlap"):
        read_gain_table(conf)
