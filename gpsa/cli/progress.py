"""Progress of a run: rich bars per crystal in a terminal, plain periodic lines otherwise
(Docker logs, CI, pipes), both with the rate and the time left. Both are thread-safe (fed by
consumer or listener threads)."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TextIO

from gpsa.cli.output import is_terminal


def clock(seconds: float) -> str:
    """``M:SS`` or ``H:MM:SS``."""
    m, s = divmod(int(round(seconds)), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class PlainProgress:
    """One line per crystal at most every ``interval`` seconds (events, share, rate since its
    first block, time left), and one when it finishes::

        00A: 3000/5000 events (60%), 1,210 events/s, ETA 0:02
        00A: complete, 5000 events in 4.1 s (1,220 events/s)
    """

    def __init__(self, stream: TextIO, interval: float = 2.0) -> None:
        self.stream, self.interval = stream, interval
        self.done: dict[str, int] = {}
        self.last: dict[str, float] = {}
        self.first: dict[str, tuple[float, int]] = {}  # time and events of the first block
        self.lock = threading.Lock()

    def _rate(self, crystal: str, n: int, now: float) -> float | None:
        t0, n0 = self.first[crystal]
        return (n - n0) / (now - t0) if now > t0 and n > n0 else None

    def advance(self, crystal: str, events: int, total: int | None) -> None:
        with self.lock:
            self.done[crystal] = n = self.done.get(crystal, 0) + events
            now = time.monotonic()
            self.first.setdefault(crystal, (now, n))
            if now - self.last.get(crystal, 0.0) >= self.interval:
                self.last[crystal] = now
                pct = f" ({100 * n / total:.0f}%)" if total else ""
                rate = self._rate(crystal, n, now)
                speed = f", {rate:,.0f} events/s" if rate else ""
                eta = (f", ETA {clock(max(0, total - n) / rate)}" if rate and total else "")
                self.stream.write(f"{crystal}: {n}{f'/{total}' if total else ''} events{pct}"
                                  f"{speed}{eta}\n")
                self.stream.flush()

    def finish(self, crystal: str, status: str) -> None:
        with self.lock:
            n = self.done.get(crystal, 0)
            took = ""
            if crystal in self.first:
                seconds = time.monotonic() - self.first[crystal][0]
                rate = self._rate(crystal, n, time.monotonic())
                took = f" in {seconds:.1f} s" + (f" ({rate:,.0f} events/s)" if rate else "")
            self.stream.write(f"{crystal}: {status}, {n} events{took}\n")
            self.stream.flush()


class RichProgress:
    """A rich progress bar per crystal."""

    def __init__(self, progress: Any, crystals: Sequence[str]) -> None:
        self.progress = progress
        self.tasks = {c: progress.add_task(c, total=None, rate="") for c in crystals}

    def advance(self, crystal: str, events: int, total: int | None) -> None:
        task = self.tasks[crystal]
        self.progress.update(task, advance=events, total=total)
        speed = self.progress.tasks[task].speed
        if speed:
            self.progress.update(task, rate=f"{speed:,.0f} events/s")

    def finish(self, crystal: str, status: str) -> None:
        task = self.tasks[crystal]
        self.progress.update(task, description=f"{crystal} [{status}]")
        if status == "complete":
            t = self.progress.tasks[task]
            self.progress.update(task, total=t.completed)


@contextmanager
def progress_for(crystals: Sequence[str], *, quiet: bool = False,
                 stream: TextIO | None = None) -> Iterator[Any]:
    """A progress sink for :mod:`gpsa.runtime.modes`, drawn on ``stream`` (stderr)."""
    from gpsa.runtime.modes import NoProgress

    stream = stream or sys.stderr
    if quiet:
        yield NoProgress()
    elif is_terminal(stream):
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TextColumn("events"),
                      TextColumn("{task.fields[rate]}"), TimeElapsedColumn(),
                      TextColumn("ETA"), TimeRemainingColumn(),
                      console=Console(file=stream)) as progress:
            yield RichProgress(progress, crystals)
    else:
        yield PlainProgress(stream)
