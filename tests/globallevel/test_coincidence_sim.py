"""The multi-crystal coincidence simulator: truth carried in event_numbers, distinct crystals per
true event, jitter, rate, per-crystal time order, ancillary fraction and delay; and the
``ancillary-simulator`` producer, which rebuilds the same time line from the seed."""

from __future__ import annotations

import numpy as np
import pytest

from gpsa.errors import ConfigError
from gpsa.plugins.catalogue import get_catalogue
from gpsa.plugins.manager import reset_plugin_manager
from gpsa.runtime.actor import RunContext
from gpsa.simulate.coincidences import (
    NO_EVENT,
    TICKS_PER_S,
    AncillaryConfig,
    CoincidenceConfig,
    CoincidenceSim,
    event_times,
    simulate_coincidences,
)

N = 20_000
CONFIG = CoincidenceConfig(rate_hz=20_000, jitter_ticks=4, block_size=300,
                           ancillary=AncillaryConfig(fraction=0.4, delay_ticks=50,
                                                     jitter_ticks=2, random_hz=1000.0))


@pytest.fixture(scope="module")
def sim() -> CoincidenceSim:
    return simulate_coincidences(N, CONFIG, seed=3)


def test_truth_crystals_and_jitter(sim: CoincidenceSim) -> None:
    ev = sim.events.events
    true = ev.event_numbers.astype(np.int64)
    assert np.all(np.diff(ev.timestamps.astype(np.int64)) >= 0)  # time-ordered stream
    dt = ev.timestamps.astype(np.int64) - sim.times[true].astype(np.int64)
    assert dt.min() >= 0 and dt.max() <= CONFIG.jitter_ticks
    # k distinct crystals per true event
    pairs = np.unique(true << 16 | ev.crystal_ids.astype(np.int64))
    assert pairs.size == len(ev)
    k = sim.multiplicity
    assert k.min() >= 1 and k.sum() == len(ev)
    p = np.asarray(CONFIG.multiplicity) / sum(CONFIG.multiplicity)
    seen = np.bincount(k, minlength=p.size + 1)[1:] / N
    assert np.allclose(seen, p, atol=0.015)
    assert len(sim.events.hits) > len(ev)  # 1-3 PSA hits per crystal event
    assert np.allclose(np.bincount(sim.events.hits.event_index, weights=sim.events.hits.energy),
                       ev.e0, rtol=1e-4)


def test_rate(sim: CoincidenceSim) -> None:
    gaps = np.diff(sim.times.astype(np.float64))
    assert gaps.mean() == pytest.approx(TICKS_PER_S / CONFIG.rate_hz, rel=0.03)
    assert np.array_equal(sim.times, event_times(N, CONFIG.rate_hz, 3))


def test_per_crystal_blocks(sim: CoincidenceSim) -> None:
    total = 0
    for cid, blocks in sim.crystals.items():
        for b in blocks:
            assert len(b) <= CONFIG.block_size
            assert np.all(b.events.crystal_ids == cid)
        ts = np.concatenate([b.events.timestamps for b in blocks])
        assert np.all(np.diff(ts.astype(np.int64)) >= 0)
        total += ts.size
    assert total == len(sim.events) and set(sim.crystals) == set(range(40))
    # the sorted stream in blocks is the whole run, hits included
    parts = list(sim.sorted_stream(777))
    assert sum(len(p) for p in parts) == len(sim.events)
    assert sum(len(p.hits) for p in parts) == len(sim.events.hits)


def test_ancillary_fraction_delay_and_random_frames(sim: CoincidenceSim) -> None:
    anc = sim.ancillary
    assert np.all(np.diff(anc.timestamps.astype(np.int64)) >= 0)
    true = anc.event_numbers != NO_EVENT
    assert true.sum() / N == pytest.approx(0.4, abs=0.015)
    d = anc.timestamps[true].astype(np.int64) - sim.times[anc.event_numbers[true]].astype(
        np.int64)
    assert d.min() >= 50 and d.max() <= 52
    span_s = float(sim.times[-1] - sim.times[0]) / TICKS_PER_S
    assert (~true).sum() == pytest.approx(1000.0 * span_s, rel=0.1)
    assert anc.values.shape == (len(anc), 4) and anc.key == "data:ranc1"


def test_same_seed_same_run_other_seed_other_run() -> None:
    a = simulate_coincidences(500, CONFIG, seed=9)
    b = simulate_coincidences(500, CONFIG, seed=9)
    c = simulate_coincidences(500, CONFIG, seed=10)
    assert a.events.equals(b.events) and a.ancillary.equals(b.ancillary)
    assert not np.array_equal(a.times, c.times)
    assert len(simulate_coincidences(0, CONFIG).events) == 0


def test_bad_settings() -> None:
    with pytest.raises(ConfigError, match="fraction"):
        AncillaryConfig(fraction=1.5)
    with pytest.raises(ConfigError, match="multiplicity"):
        CoincidenceConfig(multiplicity=())
    with pytest.raises(ConfigError, match="needs more than"):
        AncillaryConfig.from_rate(30_000, 1.0, 20_000)
    cfg = AncillaryConfig.from_rate(5000, 0.8, 20_000, delay_ticks=7)
    assert cfg.fraction == pytest.approx(0.2) and cfg.random_hz == pytest.approx(1000)


def test_ancillary_producer_shares_the_time_line() -> None:
    reset_plugin_manager()
    try:
        cls = get_catalogue().actor("ancillary-simulator")
        actor = cls(events=3000, agata_rate_hz=20_000.0, seed=4, frame_rate_hz=6000.0,
                    coincidence=0.5, delay_ticks=50, jitter_ticks=2, channels=3, block_size=250)
        ctx = RunContext()
        assert actor.check(ctx) == []
        actor.start(ctx)
        blocks = list(actor.produce())
        actor.stop()
    finally:
        reset_plugin_manager()
    assert all(len(b) <= 250 for b in blocks)
    got = type(blocks[0]).concat(blocks)
    anc = AncillaryConfig.from_rate(6000.0, 0.5, 20_000.0, delay_ticks=50, jitter_ticks=2,
                                    channels=3)
    sim = simulate_coincidences(3000, CoincidenceConfig(rate_hz=20_000, ancillary=anc), seed=4)
    assert got.equals(sim.ancillary)
    bad = cls(frame_rate_hz=50_000.0, coincidence=1.0, agata_rate_hz=20_000.0)
    with pytest.raises(ConfigError, match="needs more than"):
        bad.check(RunContext())
