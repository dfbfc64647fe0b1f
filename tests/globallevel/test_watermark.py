"""The watermark and the per-input checks: release of an idle input by wall time (injected
clock, read on calls for other inputs) and by data time; a released input that
sends again is late, then counts again; a pause of every input releases nothing early; the
48-bit timestamp wrap (also for an input that starts after the wrap); out-of-order input;
gaps; a timestamp beyond 48 bits."""

from __future__ import annotations

import logging

import pytest

from gpsa.globallevel.sorter import TimeSorter
from gpsa.globallevel.streamcheck import TIMESTAMP_RANGE, SorterError

from .test_sorter import FakeClock, psa_block, rows


def stamps(blocks: list) -> list[int]:
    return [t for t, *_ in rows(blocks)]


def test_wall_time_release_with_an_injected_clock() -> None:
    clock = FakeClock()
    s = TimeSorter(["a", "b", "idle"], idle_ticks=0, idle_seconds=2.0, emit_rows=1, clock=clock)
    assert s.push("a", psa_block([1, 5], 0)) == []
    assert s.push("b", psa_block([2, 6], 1)) == []
    clock.now = 1.9
    assert s.push("a", psa_block([7], 0, 2)) == [] and s.push("b", psa_block([8], 1, 2)) == []
    clock.now = 2.1  # "idle" sent nothing while the others sent for 2.1 s
    assert stamps(s.push("a", psa_block([9], 0, 3))) == [1, 2, 5, 6, 7]  # released
    assert s.counters.input("idle").idle_releases == 1
    clock.now = 3.0
    assert stamps(s.push("b", psa_block([10], 1, 3))) == [8]
    clock.now = 9.5  # after 6.5 s of silence of every input (beam off) data flows again:
    # "b" has not sent yet, but it is not released
    assert stamps(s.push("a", psa_block([11], 0, 4))) == [9]
    clock.now = 9.6
    assert stamps(s.push("b", psa_block([12], 1, 4))) == [10]
    assert s.counters.total("late") == 0 and s.counters.total("idle_releases") == 1
    late = s.push("idle", psa_block([3, 13], 2))  # the idle input comes back
    assert [(t, flag) for t, _, _, flag in rows(late)] == [(3, True)]
    assert stamps(s.push("a", psa_block([14], 0, 5))) == [11]  # "idle" counts again
    assert stamps(s.flush()) == [12, 13, 14]


def test_data_time_release() -> None:
    s = TimeSorter(["a", "b", "slow"], idle_ticks=100, idle_seconds=0, emit_rows=1)
    s.push("slow", psa_block([1], 2))
    assert s.push("a", psa_block([10, 50], 0)) + s.push("b", psa_block([20, 60], 1)) == []
    assert s.counters.input("slow").idle_releases == 0
    out = s.push("a", psa_block([102], 0, 2))  # "slow" is 101 ticks behind "a": released
    assert stamps(out) == [1, 10, 20, 50] and s.counters.input("slow").idle_releases == 1
    assert s.counters.input("slow").late == 0


def test_never_sent_input_is_released_by_data_time() -> None:
    s = TimeSorter(["a", "b"], idle_ticks=50, idle_seconds=0, emit_rows=1)
    assert s.push("a", psa_block([100, 120], 0)) == []
    assert stamps(s.push("a", psa_block([151], 0, 2))) == [100, 120]
    assert s.counters.input("b").idle_releases == 1


def test_wrap_of_the_48_bit_timestamps(caplog: pytest.LogCaptureFixture) -> None:
    top = TIMESTAMP_RANGE
    s = TimeSorter(["a", "b"], idle_seconds=0, emit_rows=1)
    with caplog.at_level(logging.WARNING, logger="gpsa.globallevel.streamcheck"):
        out = s.push("a", psa_block([top - 30, top - 10, 5, 25], 0))  # wraps in the block
        out += s.push("b", psa_block([top - 20, 15], 1))
        out += s.push("b", psa_block([30], 1, 2))
        out += s.end("a") + s.end("b") + s.flush()
    assert stamps(out) == [top - 30, top - 20, top - 10, 5, 15, 25, 30]
    assert s.counters.input("a").wraps == 1 and s.counters.input("b").wraps == 1
    assert s.counters.total("out_of_order") == 0 and s.counters.total("late") == 0
    assert sum("48-bit timestamp wrap" in r.message for r in caplog.records) == 2


def test_input_starting_after_the_wrap() -> None:
    top = TIMESTAMP_RANGE
    s = TimeSorter(["a"], idle_seconds=0, emit_rows=1)
    out = s.push("a", psa_block([top - 100, top - 50], 0))
    out += s.push("late-starter", psa_block([10, 20], 1))  # starts in the next epoch
    out += s.push("a", psa_block([top - 40, 30], 0, 2))
    out += s.flush()
    assert stamps(out) == [top - 100, top - 50, top - 40, 10, 20, 30]
    assert s.counters.input("late-starter").wraps == 0 and s.counters.total("late") == 0


def test_out_of_order_input_is_counted_and_ordered() -> None:
    s = TimeSorter(["a", "b"], idle_seconds=0, emit_rows=1)
    out = s.push("a", psa_block([10, 30, 20, 40], 0))  # 20 after 30
    out += s.push("b", psa_block([25, 35], 1))
    out += s.push("b", psa_block([38, 36, 50], 1, 2))  # 36 after 38, not yet emitted
    out += s.push("b", psa_block([15], 1, 5))  # 15 after 50, below what went out: late
    out += s.flush()
    assert [(t, flag) for t, _, _, flag in rows(out)] == [
        (10, False), (20, False), (25, False), (30, False), (35, False), (36, False),
        (38, False), (15, True), (40, False), (50, False)]
    assert s.counters.input("a").out_of_order == 1 and s.counters.input("b").out_of_order == 2
    assert s.counters.input("b").late == 1


def test_gaps_are_counted() -> None:
    s = TimeSorter(["a"], gap_ticks=1000, idle_seconds=0)
    s.push("a", psa_block([0, 10, 2000, 2100], 0))
    s.push("a", psa_block([2200, 5000, 5001], 0, 4))
    assert s.counters.input("a").gaps == 2
    assert TimeSorter(["a"], gap_ticks=0).counters.input("a").gaps == 0


def test_timestamp_beyond_48_bits() -> None:
    with pytest.raises(SorterError, match="48 bits"):
        TimeSorter(["a"]).push("a", psa_block([1, TIMESTAMP_RANGE + 1], 0))
