"""Small in-test actors (a real plugin module): a counting producer, a slow thread-safe filter,
a batching filter and a text-file consumer. Used by the runtime, config and plugin tests."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from gpsa.block import CrystalBlock
from gpsa.plugins import Consumer, Filter, Param, Producer, hookimpl


class Counter(Producer):
    """Blocks of events numbered 0, 1, 2, ..."""

    name = "toy-source"
    n_blocks = Param(int, 10, "blocks to produce", min=0)
    block_size = Param(int, 5, "events per block", min=1)
    delay = Param(float, 0.0, "seconds to wait before each block")
    fail_at = Param(int, -1, "raise before this block (-1: never)")

    def produce(self) -> Iterator[CrystalBlock]:
        for b in range(self.n_blocks):
            if b == self.fail_at:
                raise OSError("disk on fire")
            if self.delay:
                time.sleep(self.delay)
            first = b * self.block_size
            ev = np.arange(first, first + self.block_size)
            traces = np.broadcast_to(ev[:, None, None] % 1000, (len(ev), 38, 4)).astype(np.int16)
            yield CrystalBlock.from_traces(traces, event_numbers=ev, timestamps=ev * 10)

    def expected_events(self) -> int:
        return self.n_blocks * self.block_size


class Square(Filter):
    """Squares the traces, after a random sleep (so that workers finish out of order)."""

    name = "toy-square"
    thread_safe = True
    max_sleep = Param(float, 0.0, "upper bound of the random sleep, seconds")
    fail_on_event = Param(int, -1, "raise on the block holding this event (-1: never)")

    def __init__(self, **config: object) -> None:
        super().__init__(**config)
        self.threads: set[str] = set()

    def process(self, block: CrystalBlock) -> CrystalBlock:
        self.threads.add(threading.current_thread().name)
        if self.fail_on_event in block.event_numbers:
            raise ValueError("bad trace")
        if self.max_sleep:
            time.sleep(random.uniform(0, self.max_sleep))
        t = block.traces.astype(np.float32)
        return CrystalBlock(**{**block._take_rows(slice(None)), "traces": t * t})


class Pairs(Filter):
    """Concatenates blocks two by two; flush emits the odd one out."""

    name = "toy-pairs"

    def start(self, context) -> None:  # type: ignore[no-untyped-def]
        super().start(context)
        self.held: list[CrystalBlock] = []

    def process(self, block: CrystalBlock) -> CrystalBlock | None:
        self.held.append(block)
        if len(self.held) == 2:
            out, self.held = CrystalBlock.concat(self.held), []
            return out
        return None

    def flush(self) -> list[CrystalBlock]:
        return [self.held.pop()] if self.held else []


class Lines(Consumer):
    """Writes 'event value' lines; a block is written and flushed at once."""

    name = "toy-sink"
    path = Param(Path, Path("events.txt"), "output text file", kind="output")
    delay = Param(float, 0.0, "seconds per block")

    def start(self, context) -> None:  # type: ignore[no-untyped-def]
        super().start(context)
        self.file = open(context.output_path(self.path), "w")  # noqa: SIM115
        self.flushed = self.stopped = False

    def process(self, block: CrystalBlock) -> None:
        if self.delay:
            time.sleep(self.delay)
        pairs = zip(block.event_numbers, block.traces[:, 0, 0], strict=True)
        self.file.write("".join(f"{e} {v:g}\n" for e, v in pairs))
        self.file.flush()

    def flush(self) -> None:
        self.flushed = True

    def stop(self) -> None:
        self.stopped = True
        if hasattr(self, "file"):
            self.file.close()


@hookimpl
def gpsa_register_actors(register):  # type: ignore[no-untyped-def]
    for cls in (Counter, Square, Pairs, Lines):
        register(cls)


def read_lines(path: Path) -> list[tuple[int, float]]:
    return [(int(a), float(b)) for a, b in (ln.split() for ln in path.read_text().splitlines())]
