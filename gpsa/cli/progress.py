"""Progress of a run: rich bars per crystal in a terminal, plain periodic lines otherwise
(Docker logs, CI, pipes). Both are thread-safe (fed by consumer or listener threads)."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TextIO

from gpsa.cli.output import is_terminal


class PlainProgress:
    """One line per crystal at most every ``interval`` seconds, and one when it finishes."""

    def __init__(self, stream: TextIO, interval: float = 2.0) -> None:
        self.stream, self.interval = stream, interval
        self.done: dict[str, int] = {}
        self.last: dict[str, float] = {}
        self.lock = threading.Lock()

    def advance(self, crystal: str, events: int, total: int | None) -> None:
        with self.lock:
            self.done[crystal] = n = self.done.get(crystal, 0) + events
            now = time.monotonic()
            if now - self.last.get(crystal, 0.0) >= self.interval:
                self.last[crystal] = now
                pct = f" ({100 * n / total:.0f}%)" if total else ""
                self.stream.write(f"{crystal}: {n}{f'/{total}' if total else ''} events{pct}\n")
                self.stream.flush()

    def finish(self, crystal: str, status: str) -> None:
        with self.lock:
            self.stream.write(f"{crystal}: {status}, {self.done.get(crystal, 0)} events\n")
            self.stream.flush()


class RichProgress:
    """A rich progress bar per crystal."""

    def __init__(self, progress: Any, crystals: Sequence[str]) -> None:
        self.progress = progress
        self.tasks = {c: progress.add_task(c, total=None) for c in crystals}

    def advance(self, crystal: str, events: int, total: int | None) -> None:
        self.progress.update(self.tasks[crystal], advance=events, total=total)

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
        )

        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TextColumn("events"), TimeElapsedColumn(),
                      console=Console(file=stream)) as progress:
            yield RichProgress(progress, crystals)
    else:
        yield PlainProgress(stream)
