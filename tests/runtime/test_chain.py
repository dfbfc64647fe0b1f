"""The chain with real threads and real files: order, parallel workers, flush, backpressure,
errors naming the actor and events, graceful stop."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from gpsa.errors import ConfigError
from gpsa.runtime.actor import RunContext
from gpsa.runtime.chain import Chain
from gpsa.runtime.stats import ChainError

from .toy import Counter, Lines, Pairs, Square, read_lines


def make_chain(tmp_path: Path, *, n_blocks: int = 12, workers: int = 1, filters=None,
               source=None, sink=None, **kw) -> tuple[Chain, Lines]:
    src = source or Counter(n_blocks=n_blocks, block_size=3)
    sink = sink or Lines(path="out.txt")
    flt = filters if filters is not None else [Square(max_sleep=0.005)]
    chain = Chain(src, flt, [sink], workers={"toy-square": workers},
                  context=RunContext(crystal="00A", output_dir=tmp_path), **kw)
    return chain, sink


@pytest.mark.parametrize("workers", [1, 4])
def test_order_and_content(tmp_path: Path, workers: int) -> None:
    chain, sink = make_chain(tmp_path, workers=workers)
    result = chain.run()
    lines = read_lines(tmp_path / "out.txt")
    assert [e for e, _ in lines] == list(range(36))
    assert [v for _, v in lines] == [float(e * e) for e in range(36)]
    assert sink.flushed and sink.stopped
    stats = {s.label: s for s in result.stats}
    assert stats["toy-square"].blocks == 12 and stats["toy-square"].events == 36
    assert stats["toy-square"].workers == workers
    assert result.events_in == result.events_out == 36 and not result.interrupted


def test_workers_really_run_in_parallel_threads(tmp_path: Path) -> None:
    sq = Square(max_sleep=0.01)
    chain, _ = make_chain(tmp_path, n_blocks=40, workers=4, filters=[sq])
    chain.run()
    assert len(sq.threads) > 1


def test_one_and_four_workers_identical(tmp_path: Path) -> None:
    outs = []
    for w in (1, 4):
        d = tmp_path / str(w)
        d.mkdir()
        make_chain(d, n_blocks=30, workers=w)[0].run()
        outs.append((d / "out.txt").read_bytes())
    assert outs[0] == outs[1]


def test_flush_of_buffering_filter(tmp_path: Path) -> None:
    chain, _ = make_chain(tmp_path, n_blocks=5, filters=[Pairs()])
    result = chain.run()
    assert [e for e, _ in read_lines(tmp_path / "out.txt")] == list(range(15))
    assert {s.label: s.blocks for s in result.stats}["toy-sink"] == 3  # 2 pairs + the odd one


def test_two_consumers_get_every_block(tmp_path: Path) -> None:
    a, b = Lines(path="a.txt"), Lines(path="b.txt")
    b.label = "second"
    chain = Chain(Counter(n_blocks=7), [], [a, b], context=RunContext(output_dir=tmp_path))
    chain.run()
    assert (tmp_path / "a.txt").read_text() == (tmp_path / "b.txt").read_text() != ""


def test_backpressure_bounds_blocks_in_flight(tmp_path: Path) -> None:
    src = Counter(n_blocks=40, block_size=1)
    produced: list[float] = []
    orig = src.produce

    def spy():  # record when each block leaves the producer
        for blk in orig():
            produced.append(time.perf_counter())
            yield blk

    src.produce = spy  # type: ignore[method-assign]
    sink = Lines(path="o.txt", delay=0.01)
    chain = Chain(src, [], [sink], queue_size=2, context=RunContext(output_dir=tmp_path))
    seen: list[int] = []
    chain.on_progress = lambda n: seen.append(len(produced))
    chain.run()
    # producer is never more than queue + one in hand + one being consumed ahead of the sink
    assert max(p - (i + 1) for i, p in enumerate(seen)) <= 2 + 2


def test_error_names_actor_block_and_events(tmp_path: Path) -> None:
    chain, sink = make_chain(tmp_path, filters=[Square(fail_on_event=20)], workers=1)
    with pytest.raises(ChainError, match=r"crystal 00A: actor 'toy-square' \(filter\) failed in "
                       r"process of a block of 3 events \(events 18\.\.20\): ValueError: bad"):
        chain.run()
    assert sink.stopped and sink.flushed  # output still closed properly
    lines = read_lines(tmp_path / "out.txt")
    assert [e for e, _ in lines] == list(range(len(lines)))  # a clean prefix


def test_producer_error(tmp_path: Path) -> None:
    chain, sink = make_chain(tmp_path, source=Counter(n_blocks=9, fail_at=4))
    with pytest.raises(ChainError, match=r"actor 'toy-source' \(producer\).*OSError: disk"):
        chain.run()
    assert sink.stopped


def test_start_error_stops_started_actors(tmp_path: Path) -> None:
    sink = Lines(path="no/such/dir/out.txt")
    chain, _ = make_chain(tmp_path, sink=sink)
    with pytest.raises(ChainError, match="toy-sink.*failed in start"):
        chain.run()


def test_graceful_stop_keeps_everything_read(tmp_path: Path) -> None:
    src = Counter(n_blocks=1000, block_size=2, delay=0.002)
    chain, sink = make_chain(tmp_path, source=src, workers=2)
    threading.Timer(0.15, chain.request_stop).start()
    result = chain.run()
    assert result.interrupted and sink.flushed
    events = [e for e, _ in read_lines(tmp_path / "out.txt")]
    assert 0 < len(events) < 2000
    assert events == list(range(len(events)))  # nothing lost, nothing duplicated
    assert result.events_in == len(events)


def test_bad_workers_and_duplicate_labels(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not thread-safe"):
        Chain(Counter(), [Pairs()], [Lines()], workers={"toy-pairs": 2})
    with pytest.raises(ConfigError, match="used twice"):
        Chain(Counter(), [], [Lines(), Lines()])


def test_configuration_error_at_start_keeps_exit_code_2(tmp_path: Path) -> None:
    class BadStart(Lines):
        def start(self, context: RunContext) -> None:
            raise ConfigError("gains.txt:3: expected 'channel offset gain'")

    chain, _ = make_chain(tmp_path, sink=BadStart())
    with pytest.raises(ChainError, match="failed in start: ConfigError: gains.txt:3") as exc:
        chain.run()
    assert exc.value.exit_code == 2
