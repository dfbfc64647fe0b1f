"""The event merger: window and offset, nearest match and ties, MinFold and its counters, every
true AGATA-ancillary coincidence merged on simulated data, any cut and interleaving of the two
inputs, a silent input with and without ``max_lag``; event:data through the real ADF writer and
reader; the ``event-merger`` actor from the plugin catalogue."""

from __future__ import annotations

import io
import itertools

import numpy as np
import pytest

from gpsa.adf import AdfWriter, read_all
from gpsa.adf.codecs.ranc import AncillaryFrames
from gpsa.errors import BlockError
from gpsa.globallevel.builder import EventBuilder
from gpsa.globallevel.events import BuiltEvents, MergedEvents
from gpsa.globallevel.frames import merged_from_frames, merged_to_frames
from gpsa.globallevel.merger import EventMerger, nearest_match, safe_cut
from gpsa.plugins.catalogue import get_catalogue
from gpsa.plugins.manager import reset_plugin_manager
from gpsa.runtime.actor import RunContext
from gpsa.simulate.coincidences import (
    NO_EVENT,
    AncillaryConfig,
    CoincidenceConfig,
    CoincidenceSim,
    simulate_coincidences,
)

N, DELAY = 20_000, 50


@pytest.fixture(scope="module")
def sim() -> CoincidenceSim:
    anc = AncillaryConfig(fraction=0.5, delay_ticks=DELAY, jitter_ticks=2, random_hz=2000.0,
                          channels=3)
    return simulate_coincidences(N, CoincidenceConfig(rate_hz=20_000, jitter_ticks=4,
                                                      ancillary=anc), seed=11)


@pytest.fixture(scope="module")
def built(sim: CoincidenceSim) -> BuiltEvents:
    b = EventBuilder(window=10, rule="fixed")
    out = [b.push(x) for x in sim.sorted_stream(4096)] + [b.flush()]
    return BuiltEvents.concat([o for o in out if o is not None])


def merge(agata: BuiltEvents, anc: AncillaryFrames, *, a_size: int = 3000, n_size: int = 1000,
          **kw: int) -> tuple[MergedEvents, EventMerger]:
    m = EventMerger(**kw)
    a_parts = [agata.take(slice(i, i + a_size)) for i in range(0, len(agata), a_size)]
    n_parts = [anc.take(slice(i, i + n_size)) for i in range(0, len(anc), n_size)]
    out = []
    for a, n in itertools.zip_longest(a_parts, n_parts):
        out += [m.push(x) for x in (a, n) if x is not None]
    out.append(m.flush())
    done = [o for o in out if o is not None]
    return MergedEvents.concat(done) if done else MergedEvents.empty(), m


def agata(times: list[int]) -> BuiltEvents:
    sim = simulate_coincidences(len(times), CoincidenceConfig(multiplicity=(1.0,),
                                                              jitter_ticks=0), seed=0)
    ev = sim.events
    crystals = type(ev)(type(ev.events)(**{**ev.events._take_rows(slice(None)),
                                           "timestamps": np.array(times, np.uint64)}), ev.hits)
    return BuiltEvents.build(crystals, np.arange(len(times) + 1), 0)


def frames(times: list[int]) -> AncillaryFrames:
    n = len(times)
    return AncillaryFrames(np.array(times, np.uint64), np.arange(n, dtype=np.uint32),
                           np.zeros(n, np.uint16), np.ones((n, 2), np.float32))


def test_nearest_match_window_and_ties() -> None:
    a = np.array([100, 200, 300])
    u = np.array([90, 150, 160, 249, 251, 320, 400])
    assert nearest_match(a, u, 10).tolist() == [0, -1, -1, -1, -1, -1, -1]
    assert nearest_match(a, u, 50).tolist() == [0, 0, 1, 1, 2, 2, -1]  # 150: tie, the earlier
    assert nearest_match(np.zeros(0, np.int64), u, 50).tolist() == [-1] * 7
    assert safe_cut(100, np.array([10, 95]), np.array([20, 105])) == 95
    assert safe_cut(100, np.array([90, 95]), np.array([96, 105])) == 90  # cascades down


def test_window_offset_and_min_fold() -> None:
    ag = agata([1000, 2000, 3000])
    an = frames([1050, 2080, 3045, 3056, 9000])  # offset 50: 1000, 2030, 2995, 3006, 8950
    both, m = merge(ag, an, window=10, offset=50, min_fold=2)
    assert both.timestamps.tolist() == [1000, 3000]
    assert both.ancillary_offsets.tolist() == [0, 1, 3]  # two frames joined 3000
    assert both.ancillary.timestamps.tolist() == [1050, 3045, 3056]
    c = m.counters
    assert (c.events_merged, c.events_agata_only, c.events_ancillary_only) == (2, 1, 2)
    assert c.events_rejected_min_fold == 3 and c.events_out == 2
    everything, _ = merge(ag, an, window=10, offset=50, min_fold=1)
    assert everything.timestamps.tolist() == [1000, 2000, 2030, 3000, 8950]
    assert everything.fold.tolist() == [2, 1, 1, 2, 1]
    assert everything.event_numbers.tolist() == [0, 1, 2, 3, 4]
    wrong_offset, _ = merge(ag, an, window=10, offset=0, min_fold=2)
    assert len(wrong_offset) == 0
    with pytest.raises(BlockError, match="window"):
        EventMerger(window=-1)
    with pytest.raises(BlockError, match="expected BuiltEvents or AncillaryFrames"):
        EventMerger(window=5).push(np.zeros(2))  # type: ignore[arg-type]


def test_every_true_ancillary_coincidence_is_merged(sim: CoincidenceSim,
                                                    built: BuiltEvents) -> None:
    """10,089 coincident frames (50 % of 20,000 true events, 50-52 ticks late) and 1,970
    random ones: with offset 50 and window 10 every coincident frame joins the built event
    holding its true event (fixed-rule events start at most 10 ticks before any of their hits);
    12 random frames fall in the window of an AGATA event by chance (0.4 % expected), the
    others are ancillary-only events."""
    merged, m = merge(built, sim.ancillary, window=10, offset=DELAY, min_fold=1)
    anc = merged.ancillary
    true = anc.event_numbers != NO_EVENT
    assert int(true.sum()) == 10_089 and int((~true).sum()) == 1_970
    frame_event = np.repeat(np.arange(len(merged)), np.diff(merged.ancillary_offsets))
    agata_of_event = np.cumsum(merged.has_agata) - 1
    ok = merged.has_agata[frame_event[true]]
    ag = agata_of_event[frame_event[true]]
    # the AGATA event of each coincident frame holds a crystal event of the frame's true event
    ids = built.crystals.events.event_numbers
    hit = [anc.event_numbers[true][i] in ids[built.offsets[a]:built.offsets[a + 1]]
           for i, a in enumerate(ag)]
    assert ok.all() and all(hit)
    assert int(merged.has_agata[frame_event[~true]].sum()) == 12
    c = m.counters
    assert c.agata_events_in == len(built) == c.events_merged + c.events_agata_only
    assert c.ancillary_frames_in == len(sim.ancillary) == len(anc)
    assert c.events_ancillary_only == int((~merged.has_agata).sum()) == 1_970 - 12
    assert c.events_out == len(merged) and c.late_ancillary_frames == 0
    assert np.all(np.diff(merged.timestamps.astype(np.int64)) >= 0)  # time order kept
    two, m2 = merge(built, sim.ancillary, window=10, offset=DELAY, min_fold=2)
    assert len(two) == m2.counters.events_merged == c.events_merged
    assert np.all(two.fold == 2)


def test_same_result_for_any_cut_and_interleaving(sim: CoincidenceSim,
                                                  built: BuiltEvents) -> None:
    ag, an = built.take(slice(0, 1500)), sim.ancillary.take(slice(0, 1000))
    an = an.take(an.timestamps < ag.timestamps[-1])
    ref, _ = merge(ag, an, a_size=len(ag), n_size=len(an), window=10, offset=DELAY, min_fold=1)
    for a_size, n_size in ((1, 1), (7, 300), (999, 3), (50, 5000)):
        got, m = merge(ag, an, a_size=a_size, n_size=n_size, window=10, offset=DELAY,
                       min_fold=1)
        assert got.equals(ref), (a_size, n_size)
        assert m.counters.late_agata_events == m.counters.late_ancillary_frames == 0


def test_silent_input_waits_unless_max_lag(built: BuiltEvents) -> None:
    ag = built.take(slice(0, 2000))
    m = EventMerger(window=10, offset=DELAY, min_fold=1)
    assert m.push(ag) is None  # no ancillary data yet: nothing can be decided
    lagged = EventMerger(window=10, offset=DELAY, min_fold=1, max_lag=100_000)
    out = lagged.push(ag)
    assert out is not None and 0 < len(out) < 2000 and not out.has_ancillary.any()
    early = frames([int(ag.timestamps[0]) + DELAY])  # arrives after its time was decided
    late = lagged.push(early)
    assert late is not None and lagged.counters.late_ancillary_frames == 1
    assert late.has_ancillary.all() and not late.has_agata.any()
    rest = lagged.flush()
    assert rest is not None and len(out) + len(late) + len(rest) == 2001


def test_event_data_round_trip_through_adf(sim: CoincidenceSim, built: BuiltEvents) -> None:
    merged, _ = merge(built.take(slice(0, 3000)), sim.ancillary.take(slice(0, 1500)),
                      window=10, offset=DELAY, min_fold=1)
    assert merged.has_agata.sum() and (~merged.has_agata).sum() and merged.has_ancillary.sum()
    buf = io.BytesIO()
    with AdfWriter(buf) as w:
        w.write(merged_to_frames(merged))
    data = buf.getvalue()
    n_sub_agata = int(merged.has_agata.sum())
    assert len(data) == (20 * len(merged) + 20 * n_sub_agata + 44 * len(merged.agata.crystals)
                         + 42 * len(merged.agata.crystals.hits) + 36 * len(merged.ancillary))
    block = read_all(data, frames_per_block=500)
    back = merged_from_frames(block.values["event:data"])
    assert back.equals(merged)
    again = io.BytesIO()
    with AdfWriter(again) as w:
        w.write(merged_to_frames(back))
    assert again.getvalue() == data
    empty = merged.take(np.zeros(len(merged), bool))
    assert len(merged_from_frames(merged_to_frames(empty))) == 0


def test_event_merger_actor_from_the_catalogue(sim: CoincidenceSim, built: BuiltEvents) -> None:
    reset_plugin_manager()
    try:
        entry = get_catalogue().actors["event-merger"]
        assert entry.kind == "global" and entry.plugin == "gpsa.actors.builder"
        actor = entry.obj(window=10, offset=DELAY)  # MinFold 2 by default
        actor.start(RunContext())
        out = [o for x in (built, sim.ancillary) for o in actor.process(x, "")]
        out += list(actor.flush())
        counters = actor.counters()
    finally:
        reset_plugin_manager()
    ref, m = merge(built, sim.ancillary, window=10, offset=DELAY, min_fold=2)
    assert MergedEvents.concat(out).equals(ref)
    assert counters == m.counters.as_dict()
