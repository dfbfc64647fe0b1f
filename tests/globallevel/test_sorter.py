"""The time sorter: 40 inputs with random per-stream delays and block sizes and one idle stream
give one stream in time order with nothing lost or duplicated and the idle stream's late frames
counted and flagged; without an idle stream the output equals a plain sort of everything (ties:
crystal, then arrival); late frames to the side output; a generic table (the soft trigger's
records); the ``time-sorter`` actor through the plugin catalogue."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import gpsa.adf
from gpsa.block import PsaBlock, PsaEvents, PsaHits
from gpsa.errors import BlockError, ConfigError
from gpsa.globallevel.flags import STATUS_LATE, is_late
from gpsa.globallevel.rows import Columns, row_ops
from gpsa.globallevel.sorter import TimeSorter
from gpsa.globallevel.streamcheck import SorterError
from gpsa.status import EventStatus


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def psa_block(ts: Sequence[int] | np.ndarray, crystal: int, first_event: int = 0) -> PsaBlock:
    """Events of one crystal at ``ts``; event k has (event number % 3) hits whose ``crystal``
    is the crystal and whose ``energy`` is the event number, so hits can be traced."""
    ts = np.asarray(ts, np.uint64)
    n = ts.size
    numbers = np.arange(first_event, first_event + n, dtype=np.uint32)
    counts = numbers.astype(np.int64) % 3
    z = np.zeros(n, np.float32)
    events = PsaEvents(timestamps=ts, event_numbers=numbers,
                       crystal_ids=np.full(n, crystal, np.uint16), status=np.zeros(n, np.uint16),
                       e0=numbers.astype(np.float32), e1=z, t0=z, t1=z,
                       psa_status=np.zeros(n, np.uint16))
    m = int(counts.sum())
    hits = PsaHits.build(np.repeat(np.arange(n), counts), crystal=np.full(m, crystal),
                         energy=np.repeat(numbers.astype(np.float32), counts),
                         segment=np.concatenate([np.arange(c) for c in counts]) if n else [])
    return PsaBlock(events, hits)


def delivery(rng: np.random.Generator, n_inputs: int, *, idle: int | None = None,
             max_delay: int = 50_000, frames: tuple[int, int] = (150, 500)
             ) -> tuple[list[tuple[str, PsaBlock | None]], dict[str, np.ndarray]]:
    """Blocks of random sizes from ``n_inputs`` crystals, in the order they arrive: a block
    arrives at its last timestamp + its stream's delay (+ jitter, order kept within a stream);
    the ``idle`` stream arrives after everything else; ``None`` after a stream's last block
    marks its end. Also the timestamps per input."""
    arrivals: list[tuple[int, int, int, PsaBlock | None]] = []
    stamps: dict[str, np.ndarray] = {}
    for i in range(n_inputs):
        n = int(rng.integers(*frames))
        ts = np.cumsum(rng.integers(0, 2_000, n)) + int(rng.integers(0, 5_000))
        stamps[f"c{i:02d}"] = ts
        delay = 10**12 if i == idle else int(rng.integers(0, max_delay))
        start, at = 0, 0
        while start < n:
            stop = min(n, start + int(rng.integers(1, 60)))
            at = max(at, int(ts[stop - 1]) + delay + int(rng.integers(0, max_delay // 10 + 1)))
            arrivals.append((at, i, start, psa_block(ts[start:stop], i, start)))
            start = stop
        arrivals.append((at, i, n, None))
    arrivals.sort(key=lambda a: a[:3])
    return [(f"c{i:02d}", b) for _, i, _, b in arrivals], stamps


def run(sorter: TimeSorter, pushes: list[tuple[str, Any]]) -> list[Any]:
    """Push the blocks (``None``: end of that input), then flush; every block out."""
    out: list[Any] = []
    for source, block in pushes:
        out += sorter.end(source) if block is None else sorter.push(source, block)
    return out + sorter.flush()


def blocks_of(pushes: list[tuple[str, Any]]) -> list[Any]:
    return [b for _, b in pushes if b is not None]


def check_hits(blocks: list[PsaBlock]) -> None:
    for b in blocks:
        ev, h = b.events, b.hits
        assert np.array_equal(b.n_hits, ev.event_numbers.astype(np.int64) % 3)
        assert np.array_equal(h.crystal, ev.crystal_ids[h.event_index].astype(np.int16))
        assert np.array_equal(h.energy, ev.event_numbers[h.event_index].astype(np.float32))


def rows(blocks: list[PsaBlock]) -> Iterator[tuple[int, int, int, bool]]:
    for b in blocks:
        ev = b.events
        yield from zip(ev.timestamps.tolist(), ev.crystal_ids.tolist(),
                       ev.event_numbers.tolist(), is_late(ev.status).tolist(), strict=True)


def test_late_bit_is_free_and_documented() -> None:
    assert all(not (flag.value & STATUS_LATE) for flag in EventStatus)
    assert is_late(np.array([0, STATUS_LATE | 1], np.uint16)).tolist() == [False, True]
    formats = (Path(gpsa.adf.__file__).parent / "FORMATS.md").read_text()
    assert f"0x{STATUS_LATE:04X}" in formats and "STATUS_LATE" in formats


def test_forty_inputs_random_delays_one_idle_stream() -> None:
    rng = np.random.default_rng(12)
    pushes, stamps = delivery(rng, 40, idle=7)
    names = sorted(stamps)
    sorter = TimeSorter(names, idle_ticks=200_000, idle_seconds=0, emit_rows=256)
    out = run(sorter, pushes)
    check_hits(out)
    got = list(rows(out))
    sent = Counter((int(b.events.crystal_ids[0]), e) for b in blocks_of(pushes)
                   for e in b.events.event_numbers.tolist())
    assert Counter((c, e) for _, c, e, _ in got) == sent  # nothing lost, nothing duplicated
    on_time = [(t, c, e) for t, c, e, late in got if not late]
    assert on_time == sorted(on_time)  # time order, ties by crystal, then arrival
    late = [c for _, c, _, flag in got if flag]
    cnt = sorter.counters
    assert late and set(late) == {7}  # only the idle stream is late
    assert cnt.input("c07").late == len(late) == cnt.late_flagged == cnt.late_by_crystal[7]
    assert cnt.input("c07").idle_releases >= 1
    assert all(cnt.input(n).late == 0 and cnt.input(n).idle_releases == 0
               for n in names if n != "c07")
    assert cnt.emitted + cnt.late_flagged == cnt.total("frames_in") == len(got)
    assert cnt.pending == 0 and sorter.pending == 0
    assert all(is_late(b.events.status).all() or not is_late(b.events.status).any()
               for b in out)  # late frames come in blocks of their own


def test_without_idle_stream_output_is_a_plain_sort() -> None:
    rng = np.random.default_rng(3)
    pushes, stamps = delivery(rng, 40, max_delay=20_000)
    sorter = TimeSorter(sorted(stamps), idle_ticks=10**6, idle_seconds=0, emit_rows=500)
    out = run(sorter, pushes)
    reference = PsaBlock.concat(blocks_of(pushes))
    key = [(int(t), int(c), i) for i, (t, c) in enumerate(zip(
        reference.events.timestamps, reference.events.crystal_ids, strict=True))]
    order = np.array([k[2] for k in sorted(key)])
    assert PsaBlock.concat(out).equals(row_ops(reference).take(reference, order))
    assert sorter.counters.total("late") == 0 and len(out) > 5


def test_ties_by_crystal_then_arrival() -> None:
    sorter = TimeSorter(["a", "b"], emit_rows=1, idle_seconds=0)
    out = run(sorter, [("b", psa_block([5, 5, 9], 2)), ("a", psa_block([5, 7], 1)),
                       ("a", psa_block([7, 9], 1, first_event=2))])
    assert [(t, c, e) for t, c, e, _ in rows(out)] == [
        (5, 1, 0), (5, 2, 0), (5, 2, 1), (7, 1, 1), (7, 1, 2), (9, 1, 3), (9, 2, 2)]


def test_done_tags() -> None:
    """A pushed block's tag comes back once all its frames are out (what a stream input
    acknowledges)."""
    s = TimeSorter(["a", "b"], emit_rows=1, idle_seconds=0)
    s.push("a", psa_block([1, 2, 9], 0), tag="a0")
    s.push("b", psa_block([3], 1), tag="b0")
    assert s.take_done() == []  # 3 and 9 wait
    s.push("b", psa_block([], 1), tag="b-empty")
    s.push("b", psa_block([10], 1, 1), tag="b1")
    assert s.take_done() == ["b-empty", "b0"] and s.take_done() == []  # a0's 9 waits
    s.flush()
    assert s.take_done() == ["a0", "b1"]


def test_late_frames_to_the_side_output() -> None:
    rng = np.random.default_rng(5)
    pushes, stamps = delivery(rng, 8, idle=2)
    sorter = TimeSorter(sorted(stamps), idle_ticks=100_000, idle_seconds=0, late="side",
                        emit_rows=64)
    out = run(sorter, pushes)
    side = sorter.take_side()
    assert side and sorter.take_side() == []
    assert not any(late for *_, late in rows(out))
    assert all(late and c == 2 for _, c, _, late in rows(side))
    main = [(t, c) for t, c, *_ in rows(out)]
    assert main == sorted(main)
    n_side = sum(len(b) for b in side)
    assert sorter.counters.late_side == n_side == sorter.counters.input("c02").late
    assert len(main) + n_side == sum(len(b) for b in blocks_of(pushes))


def test_generic_table_records() -> None:
    """The soft trigger's (timestamp, crystal, energy) records sort the same way."""
    def rec(ts: list[int], crystal: int) -> Columns:
        n = len(ts)
        return Columns(timestamps=np.array(ts, np.uint64),
                       crystal_ids=np.full(n, crystal, np.uint16),
                       energy=np.arange(n, dtype=np.float32) + 100 * crystal,
                       status=np.zeros(n, np.uint16))

    sorter = TimeSorter(["x", "y"], emit_rows=1, idle_seconds=0)
    out = run(sorter, [("x", rec([1, 4, 8], 0)), ("y", rec([2, 4], 1)), ("y", rec([3, 9], 1))])
    merged = Columns.concat(out)
    assert merged.timestamps.tolist() == [1, 2, 3, 4, 4, 8, 9]
    late = (merged.status & STATUS_LATE) != 0
    assert merged.energy[late].tolist() == [100.0]  # y's 3 came after 4 was out
    with pytest.raises(SorterError, match="late = \"side\""):
        s = TimeSorter(["x", "y"], emit_rows=1, idle_seconds=0)
        run(s, [("x", Columns(timestamps=np.array([5, 6], np.uint64))),
                ("y", Columns(timestamps=np.array([7], np.uint64))),
                ("x", Columns(timestamps=np.array([8], np.uint64))),
                ("y", Columns(timestamps=np.array([1], np.uint64)))])
    side = TimeSorter(["x", "y"], emit_rows=1, idle_seconds=0, late="side")
    run(side, [("x", Columns(timestamps=np.array([5, 6], np.uint64))),
               ("y", Columns(timestamps=np.array([7], np.uint64))),
               ("x", Columns(timestamps=np.array([8], np.uint64))),
               ("y", Columns(timestamps=np.array([1], np.uint64)))])
    assert [t.timestamps.tolist() for t in side.take_side()] == [[1]]  # no status: unflagged
    with pytest.raises(BlockError, match="cannot sort a list"):
        TimeSorter(["x"]).push("x", [1, 2])


def test_bad_settings() -> None:
    with pytest.raises(ConfigError, match="late"):
        TimeSorter(late="drop")
    with pytest.raises(ConfigError, match="emit_rows"):
        TimeSorter(emit_rows=0)


def test_actor_through_the_plugin_catalogue() -> None:
    from gpsa.plugins.catalogue import get_catalogue
    from gpsa.runtime.actor import RunContext

    entry = get_catalogue().actors["time-sorter"]
    assert entry.kind == "global" and entry.plugin == "gpsa.actors.sorter"
    cls = entry.obj
    with pytest.raises(ConfigError, match="late"):
        cls(late="drop")
    actor = cls(inputs=["00A", "00B", "00C"], idle_ticks=0, idle_seconds=1.5, emit_rows=1)
    clock = FakeClock()
    actor.clock = clock
    actor.start(RunContext())
    out = list(actor.process(psa_block([10, 20], 0), "00A"))
    out += actor.process(psa_block([15, 30], 1), "00B")
    assert out == []  # 00C sent nothing yet: it holds the others back
    clock.now = 1.0
    assert list(actor.process(psa_block([25, 40], 0, 2), "00A")) == []
    clock.now = 2.0  # 00C idle for 2 s: released by the call for another input
    out = list(actor.process(psa_block([45], 1, 2), "00B"))
    assert [(t, c) for t, c, *_ in rows(out)] == [(10, 0), (15, 1), (20, 0), (25, 0), (30, 1)]
    late = list(actor.process(psa_block([12], 2), "00C"))  # 00C comes back: late
    assert [(t, c, flag) for t, c, _, flag in rows(late)] == [(12, 2, True)]
    out = list(actor.flush())
    assert [t for t, *_ in rows(out)] == [40, 45]
    counters = actor.counters()
    assert counters["frames_in"] == 8 and counters["late"] == 1 and counters["late.00C"] == 1
    assert counters["idle_releases.00C"] == 1 and counters["emitted"] == 7
    assert actor.report()["frames_in"] == {"00A": 4, "00B": 3, "00C": 1}
