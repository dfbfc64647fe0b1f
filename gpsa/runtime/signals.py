"""Ctrl-C and SIGTERM: stop reading, finish what was read within a bound, exit 128 + signal.

The first SIGINT or SIGTERM sets a stop event: the producers stop between blocks, and the blocks
already read are processed, flushed and written for at most the run's ``stop_timeout`` minus
:data:`FINISH_MARGIN` seconds (:func:`grace_seconds`); what is still in flight then is abandoned
and the outputs stay ``.partial``. The process exits within ``stop_timeout`` (default
:data:`DEFAULT_STOP_TIMEOUT` s), before the SIGKILL that batch schedulers and Docker send 10-30 s
after SIGTERM. A second SIGINT or SIGTERM raises KeyboardInterrupt for an immediate stop.
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
#: seconds from the stop request to the exit, unless the run file sets ``stop_timeout``
DEFAULT_STOP_TIMEOUT = 5.0
#: seconds kept after the grace period for flushing, closing and writing the provenance
FINISH_MARGIN = 1.0


def grace_seconds(stop_timeout: float | None) -> float | None:
    """How long blocks in flight may still be finished after a stop request (None: no bound)."""
    if stop_timeout is None:
        return None
    return max(0.0, stop_timeout - min(FINISH_MARGIN, stop_timeout / 2))


@contextmanager
def graceful_stop(stop_event: Any) -> Iterator[list[int]]:
    """Within the block, SIGINT/SIGTERM set ``stop_event`` (a threading or multiprocessing
    Event); yields the list of signal numbers received. A no-op outside the main thread."""
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def handler(signum: int, frame: Any) -> None:
        if received:
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
