"""The event builder on simulated multi-crystal data with known coincidences (40 crystals): every
true coincidence built, random coincidences at a high rate as the window rule says, MinFold and
its counters, any block size, out-of-order input; BuiltEvents; event:data:psa through the real
ADF writer and reader; the ``event-builder`` actor from the plugin catalogue."""

from __future__ import annotations

import io
import logging

import numpy as np
import pytest

from gpsa.adf import AdfWriter, read_all
from gpsa.errors import BlockError, ConfigError
from gpsa.globallevel.builder import EventBuilder
from gpsa.globallevel.events import BuiltEvents
from gpsa.globallevel.frames import built_from_frames, built_to_frames
from gpsa.globallevel.window import Rule, event_index, event_offsets
from gpsa.plugins.catalogue import get_catalogue
from gpsa.plugins.manager import reset_plugin_manager
from gpsa.runtime.actor import RunContext
from gpsa.simulate.coincidences import CoincidenceConfig, CoincidenceSim, simulate_coincidences

N, WINDOW, JITTER = 20_000, 10, 4


def build(sim: CoincidenceSim, block_size: int = 4096, *, window: int = WINDOW,
          rule: Rule = "fixed", min_fold: int = 1) -> tuple[BuiltEvents, EventBuilder]:
    b = EventBuilder(window, rule, min_fold)
    out = [b.push(x) for x in sim.sorted_stream(block_size)] + [b.flush()]
    return BuiltEvents.concat([o for o in out if o is not None]), b


def parts_per_true_event(built: BuiltEvents, n_true: int) -> np.ndarray:
    """In how many built events the crystal events of each true event ended up."""
    true = built.crystals.events.event_numbers.astype(np.int64)
    pairs = np.unique(true << 32 | event_index(built.offsets))
    return np.bincount(pairs >> 32, minlength=n_true)


def isolated(times: np.ndarray, gap: int) -> np.ndarray:
    """True events with no other true event within ``gap`` ticks on either side."""
    d = np.diff(times.astype(np.int64))
    big = d > gap
    return np.concatenate([[True], big]) & np.concatenate([big, [True]])


@pytest.fixture(scope="module")
def sim() -> CoincidenceSim:
    return simulate_coincidences(N, CoincidenceConfig(rate_hz=20_000, jitter_ticks=JITTER),
                                 seed=1)


@pytest.fixture(scope="module")
def fast() -> CoincidenceSim:  # 2 M true events/s: a true event every 50 ns on average
    return simulate_coincidences(N, CoincidenceConfig(rate_hz=2e6, jitter_ticks=JITTER), seed=2)


def test_every_true_coincidence_is_built(sim: CoincidenceSim) -> None:
    """20 kHz of cascades hitting 1-5 of 40 crystals (47,780 crystal events): the sliding rule
    keeps all 20,000 true events whole; both rules build every isolated one exactly (19,896
    here: its crystal events and nothing else); the fixed rule splits a true event only when
    another one came less than window + jitter before it (5 of the other 104)."""
    rules: tuple[Rule, ...] = ("sliding", "fixed")
    for rule in rules:
        built, b = build(sim, window=WINDOW, rule=rule)
        assert b.counters.crystal_events_in == len(built.crystals) == len(sim.events)
        parts = parts_per_true_event(built, N)
        iso = isolated(sim.times, WINDOW + JITTER)
        assert iso.sum() == 19_896
        true = built.crystals.events.event_numbers.astype(np.int64)
        pure = np.flatnonzero(np.minimum.reduceat(true, built.offsets[:-1])
                              == np.maximum.reduceat(true, built.offsets[:-1]))
        exact = np.zeros(N, bool)
        whole = built.sizes[pure] == sim.multiplicity[true[built.offsets[pure]]]
        exact[true[built.offsets[pure[whole]]]] = True
        assert np.all(exact[iso]), rule  # every isolated true event is one built event
        if rule == "sliding":
            assert np.all(parts == 1)
        else:
            assert not np.any((parts > 1) & iso) and (parts > 1).sum() == 5
        # a true event hits distinct crystals: in a pure event the fold is its size
        assert np.array_equal(built.fold[pure], built.sizes[pure])


@pytest.mark.parametrize("rule", ["fixed", "sliding"])
def test_random_coincidences_follow_the_rule(fast: CoincidenceSim, rule: Rule) -> None:
    built, b = build(fast, window=WINDOW, rule=rule)
    ts = fast.events.events.timestamps
    assert np.array_equal(built.offsets, event_offsets(ts, WINDOW, rule))
    assert np.array_equal(built.timestamps, ts[built.offsets[:-1]])
    parts = parts_per_true_event(built, N)
    true = built.crystals.events.event_numbers.astype(np.int64)
    mixed = (np.minimum.reduceat(true, built.offsets[:-1])
             != np.maximum.reduceat(true, built.offsets[:-1]))
    assert mixed.sum() > 1000  # random coincidences galore at this rate
    if rule == "sliding":
        assert np.all(parts == 1)  # never split, however high the rate
    else:
        span = ts[built.offsets[1:] - 1].astype(np.int64) - built.timestamps.astype(np.int64)
        assert span.max() <= WINDOW
        assert (parts > 1).sum() > 100
        assert not np.any((parts > 1) & isolated(fast.times, WINDOW + JITTER))


@pytest.mark.parametrize("min_fold", [0, 1, 2, 3])
def test_min_fold_and_counters(sim: CoincidenceSim, min_fold: int) -> None:
    everything, _ = build(sim, window=WINDOW)
    built, b = build(sim, window=WINDOW, min_fold=min_fold)
    c = b.counters
    folds = everything.fold
    assert c.events_built == len(everything) == int(c.fold_histogram.sum())
    assert c.fold_histogram.tolist() == np.bincount(folds).tolist()
    assert c.events_out == len(built) == int((folds >= min_fold).sum())
    assert c.events_rejected_min_fold == int((folds < min_fold).sum())
    assert np.all(built.fold >= min_fold)
    kept = everything.take(folds >= min_fold)  # the same events, renumbered
    assert built.crystals.equals(kept.crystals) and np.array_equal(built.offsets, kept.offsets)
    assert built.event_numbers.tolist() == list(range(len(built)))
    assert np.array_equal(built.timestamps, everything.timestamps[folds >= min_fold])
    d = c.as_dict()
    assert d["events_fold_2"] == int((folds == 2).sum()) and "events_fold_0" not in d


@pytest.mark.parametrize("rule", ["fixed", "sliding"])
def test_same_events_for_any_block_size(rule: Rule) -> None:
    small = simulate_coincidences(800, CoincidenceConfig(rate_hz=2e6), seed=5)
    ref, _ = build(small, block_size=len(small.events), window=WINDOW, rule=rule)
    assert len(ref) < 800  # random coincidences straddle many block boundaries
    for size in (1, 7, 64, 1000):
        got, _ = build(small, block_size=size, window=WINDOW, rule=rule)
        assert got.equals(ref), size


def test_out_of_order_crystal_events_are_counted(sim: CoincidenceSim,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    blocks = list(sim.sorted_stream(1000))
    late = blocks[2].take_events(np.array([5, 9]))  # pushed again after block 3: too late
    b = EventBuilder(window=WINDOW)
    with caplog.at_level(logging.WARNING, logger="gpsa.globallevel.builder"):
        out = [b.push(x) for x in [*blocks[:4], late, *blocks[4:]]] + [b.flush()]
    built = BuiltEvents.concat([o for o in out if o is not None])
    ref, _ = build(sim, block_size=1000, window=WINDOW)
    assert built.equals(ref)
    assert b.counters.crystal_events_out_of_order == 2
    assert b.counters.crystal_events_in == len(sim.events) + 2
    assert "2 crystal event(s) out of time order" in caplog.text
    with pytest.raises(BlockError, match="expected a PsaBlock"):
        b.push(np.zeros(3))  # type: ignore[arg-type]


def test_built_events_validate_take_and_concat(sim: CoincidenceSim) -> None:
    built, _ = build(sim, window=WINDOW)
    head = built.take(slice(0, 100))
    tail = built.take(slice(100, None))
    assert BuiltEvents.concat([head, tail]).equals(built)
    assert len(BuiltEvents.empty()) == 0 and len(built.take(np.zeros(len(built), bool))) == 0
    with pytest.raises(BlockError, match="BuiltEvents.timestamps"):
        BuiltEvents(built.event_numbers, built.timestamps.astype(np.int64), built.offsets,
                    built.crystals)
    with pytest.raises(BlockError, match="BuiltEvents.offsets"):
        BuiltEvents(built.event_numbers, built.timestamps, built.offsets + 1, built.crystals)
    bad = built.offsets.copy()
    bad[1] = 0
    with pytest.raises(BlockError, match="at least one crystal event"):
        BuiltEvents(built.event_numbers, built.timestamps, bad, built.crystals)


def test_event_data_psa_round_trip_through_adf(sim: CoincidenceSim) -> None:
    built, _ = build(sim, window=WINDOW)
    built = built.take(slice(0, 3000))
    buf = io.BytesIO()
    with AdfWriter(buf) as w:
        w.write(built_to_frames(built))
    data = buf.getvalue()
    assert len(data) == 20 * len(built) + 44 * len(built.crystals) + 42 * len(built.crystals.hits)
    block = read_all(data, frames_per_block=700)
    assert block.counts == {"event:data:psa": len(built)}
    back = built_from_frames(block.values["event:data:psa"])
    assert back.equals(built)
    again = io.BytesIO()
    with AdfWriter(again) as w:
        w.write(built_to_frames(back))
    assert again.getvalue() == data
    with pytest.raises(BlockError, match="is not data:psa"):
        wrong = block.values["event:data:psa"]
        built_from_frames(type(wrong)(wrong.key, wrong.event_numbers, wrong.timestamps,
                                      wrong.child_keys + 1, wrong.child_parent, {}))


def canonical(built: BuiltEvents) -> np.ndarray:
    """(event, crystal, true id) of every crystal event, sorted: equal for equal events whatever
    the order of equal timestamps inside an event."""
    ev = built.crystals.events
    rows = np.stack([event_index(built.offsets), ev.crystal_ids.astype(np.int64),
                     ev.event_numbers.astype(np.int64)])
    return rows[:, np.lexsort(rows[::-1])]


def test_time_sorter_output_builds_the_same_events(sim: CoincidenceSim) -> None:
    """The contract between the two actors: the 40 per-crystal streams through the time sorter,
    then the builder, give the events built from the simulator's own time order."""
    from gpsa.globallevel.sorter import TimeSorter

    sorter = TimeSorter([str(c) for c in sim.crystals], idle_seconds=60.0)
    b = EventBuilder(window=WINDOW)
    out = []
    rounds = max(len(blocks) for blocks in sim.crystals.values())
    for i in range(rounds):  # round robin over the crystals, one block each
        for c, blocks in sim.crystals.items():
            if i < len(blocks):
                out += [b.push(x) for x in sorter.push(str(c), blocks[i])]
            if i == len(blocks) - 1:
                out += [b.push(x) for x in sorter.end(str(c))]
    out += [b.push(x) for x in sorter.flush()] + [b.flush()]
    built = BuiltEvents.concat([o for o in out if o is not None])
    ref, _ = build(sim, window=WINDOW)
    assert b.counters.crystal_events_out_of_order == 0
    assert np.array_equal(built.offsets, ref.offsets)
    assert np.array_equal(built.timestamps, ref.timestamps)
    assert np.array_equal(canonical(built), canonical(ref))


def test_event_builder_actor_from_the_catalogue(sim: CoincidenceSim) -> None:
    reset_plugin_manager()
    try:
        entry = get_catalogue().actors["event-builder"]
        assert entry.kind == "global" and entry.plugin == "gpsa.actors.builder"
        actor = entry.obj(window=WINDOW, rule="sliding", min_fold=2)
        actor.start(RunContext())
        out = [o for x in sim.sorted_stream(2048) for o in actor.process(x, "sorter")]
        out += list(actor.flush())
        counters = actor.counters()
        actor.stop()
        with pytest.raises(ConfigError, match="rule"):
            entry.obj(rule="widest")
    finally:
        reset_plugin_manager()
    ref, b = build(sim, window=WINDOW, rule="sliding", min_fold=2)
    assert BuiltEvents.concat(out).equals(ref)
    assert counters == b.counters.as_dict() and counters["events_out"] == len(ref)
