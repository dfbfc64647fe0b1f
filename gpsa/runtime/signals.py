"""Ctrl-C and SIGTERM: stop reading, finish what was read, exit 128 + signal number.

The first SIGINT or SIGTERM sets a stop event (the producers stop between blocks; every block
already read is processed, flushed and written). A second SIGINT raises KeyboardInterrupt for
an immediate stop.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

log = logging.getLogger(__name__)

HANDLED = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def graceful_stop(stop_event: Any) -> Iterator[list[int]]:
    """Within the block, SIGINT/SIGTERM set ``stop_event`` (a threading or multiprocessing
    Event); yields the list of signal numbers received. A no-op outside the main thread."""
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def handler(signum: int, frame: Any) -> None:
        if received and signum == signal.SIGINT:
            raise KeyboardInterrupt
        received.append(signum)
        stop_event.set()
        log.warning("%s: stopping after the blocks already read (Ctrl-C again to abort)",
                    signal.Signals(signum).name)

    old = {s: signal.signal(s, handler) for s in HANDLED}
    try:
        yield received
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def exit_code_for(signals_received: list[int]) -> int:
    """128 + the first signal received (130 for SIGINT), 0 if none."""
    return 128 + int(signals_received[0]) if signals_received else 0
