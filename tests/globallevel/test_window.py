"""The coincidence window against a deliberately naive per-hit reference: both rules, random
dense streams, the rule's own properties, fold and MinFold, and the carry-over across blocks."""

from __future__ import annotations

import numpy as np
import pytest

from gpsa.errors import BlockError
from gpsa.globallevel.rows import Columns
from gpsa.globallevel.window import (
    OpenEvent,
    event_index,
    event_offsets,
    fold,
    min_fold_rows,
)

RULES = ("fixed", "sliding")


def naive_offsets(ts: list[int], window: int, rule: str) -> list[int]:
    """One hit at a time, as the rules are written in words."""
    starts: list[int] = []
    for i, t in enumerate(ts):
        if not starts:
            starts.append(i)
            continue
        ref = ts[starts[-1]] if rule == "fixed" else ts[i - 1]
        if t - ref > window:
            starts.append(i)
    return [*starts, len(ts)]


def dense(seed: int, n: int, mean_gap: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.cumsum(rng.exponential(mean_gap, n)).astype(np.uint64)


def test_small_examples() -> None:
    ts = np.array([0, 5, 10, 11, 25, 25, 36], np.uint64)
    assert event_offsets(ts, 10, "fixed").tolist() == [0, 3, 4, 6, 7]
    assert event_offsets(ts, 10, "sliding").tolist() == [0, 4, 6, 7]
    assert event_offsets(ts, 0, "fixed").tolist() == [0, 1, 2, 3, 4, 6, 7]
    assert event_offsets(np.zeros(0, np.uint64), 10).tolist() == [0]
    assert event_offsets(np.array([7], np.uint64), 10).tolist() == [0, 1]


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("seed,mean_gap,window", [(0, 3.0, 10), (1, 12.0, 10), (2, 40.0, 10),
                                                  (3, 1.0, 0), (4, 8.0, 25)])
def test_matches_the_naive_rule(rule: str, seed: int, mean_gap: float, window: int) -> None:
    ts = dense(seed, 3000, mean_gap)
    got = event_offsets(ts, window, rule)
    assert got.tolist() == naive_offsets(ts.tolist(), window, rule)


@pytest.mark.parametrize("rule", RULES)
def test_rule_properties_at_a_high_random_rate(rule: str) -> None:
    ts = dense(5, 20_000, 6.0)  # a hit every 60 ns on average: random coincidences everywhere
    window = 10
    off = event_offsets(ts, window, rule)
    first, last = ts[off[:-1]].astype(np.int64), ts[off[1:] - 1].astype(np.int64)
    starts = off[1:-1]
    if rule == "fixed":
        assert np.all(last - first <= window)  # no event spans more than the window
        # the hit opening an event lies outside the window of the event before
        assert np.all(ts[starts].astype(np.int64) - first[:-1] > window)
    else:
        gaps = np.diff(ts.astype(np.int64))
        inside = np.ones(ts.size - 1, bool)
        inside[starts - 1] = False
        assert np.all(gaps[inside] <= window) and np.all(gaps[~inside] > window)
        assert (last - first).max() > window  # sliding events can outgrow the window


def test_unsorted_and_bad_arguments() -> None:
    with pytest.raises(BlockError, match="not time-ordered at row 2"):
        event_offsets(np.array([1, 5, 4], np.uint64), 10)
    with pytest.raises(BlockError, match="uint64"):
        event_offsets(np.array([1, 2], np.int64), 10)
    with pytest.raises(BlockError, match="window rule 'wide'"):
        event_offsets(np.array([1], np.uint64), 10, "wide")  # type: ignore[arg-type]
    with pytest.raises(BlockError, match="window -1"):
        event_offsets(np.array([1], np.uint64), -1)


def test_fold_counts_distinct_crystals() -> None:
    rng = np.random.default_rng(6)
    sizes = rng.integers(1, 6, 500)
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    crystals = rng.integers(0, 4, int(offsets[-1])).astype(np.uint16)  # repeats on purpose
    expected = [len(set(crystals[a:b].tolist()))
                for a, b in zip(offsets[:-1], offsets[1:], strict=True)]
    assert fold(crystals, offsets).tolist() == expected
    assert event_index(np.array([0, 2, 3])).tolist() == [0, 0, 1]
    with pytest.raises(BlockError, match="fold"):
        fold(crystals[:-1], offsets)


def test_min_fold_rows() -> None:
    offsets = np.array([0, 2, 3, 6])
    rows, new = min_fold_rows(offsets, np.array([True, False, True]))
    assert rows.tolist() == [True, True, False, True, True, True]
    assert new.tolist() == [0, 2, 5]


def _stream(w: OpenEvent[Columns], ts: np.ndarray, cuts: list[int]) -> list[list[int]]:
    """Events (as lists of row ids) from pushing ``ts`` cut at ``cuts``, then a flush."""
    out: list[list[int]] = []
    ids = np.arange(ts.size, dtype=np.int64)
    bounds = [0, *cuts, ts.size]
    done = [w.push(Columns(timestamps=ts[a:b], row=ids[a:b]))
            for a, b in zip(bounds[:-1], bounds[1:], strict=True)] + [w.flush()]
    for d in done:
        if d is not None:
            rows, off = d
            out += [rows.row[a:b].tolist() for a, b in zip(off[:-1], off[1:], strict=True)]
    return out


@pytest.mark.parametrize("rule", RULES)
def test_block_cuts_do_not_change_the_events(rule: str) -> None:
    ts = dense(7, 5000, 4.0)
    whole = event_offsets(ts, 10, rule)
    expected = [list(range(a, b)) for a, b in zip(whole[:-1], whole[1:], strict=True)]
    rng = np.random.default_rng(8)
    for n_cuts in (0, 1, 10, 300, 4999):
        cuts = sorted(rng.choice(np.arange(1, ts.size), n_cuts, replace=False).tolist())
        assert _stream(OpenEvent(10, rule), ts, cuts) == expected, n_cuts
    # empty blocks and one-row blocks
    head = event_offsets(ts[:50], 10, rule)
    assert _stream(OpenEvent(10, rule), ts[:50], [0, 0, *range(1, 50), 50]) == [
        list(range(a, b)) for a, b in zip(head[:-1], head[1:], strict=True)]


def test_open_event_keeps_only_the_last_event() -> None:
    w: OpenEvent[Columns] = OpenEvent(10, "fixed")
    assert w.flush() is None and w.pending_rows == 0
    assert w.push(Columns(timestamps=np.array([0, 3], np.uint64))) is None
    assert w.pending_rows == 2
    rows, off = w.push(Columns(timestamps=np.array([8, 30, 31], np.uint64)))
    assert rows.timestamps.tolist() == [0, 3, 8] and off.tolist() == [0, 3]
    rows, off = w.flush()
    assert rows.timestamps.tolist() == [30, 31] and off.tolist() == [0, 2]
    with pytest.raises(BlockError, match="window rule"):
        OpenEvent(10, "other")  # type: ignore[arg-type]
