"""Pacing a producer to a target event rate (replay at acquisition speed)."""

from __future__ import annotations

import threading
import time
from typing import Any


class Pacer:
    """``wait(n)`` before handing out ``n`` more events keeps the average rate at ``rate_hz``
    (no pacing when it is 0). Sleeps on ``stop_event`` so a stop request wakes it at once."""

    def __init__(self, rate_hz: float, stop_event: Any = None) -> None:
        self.rate = float(rate_hz)
        self.stop_event = stop_event if stop_event is not None else threading.Event()
        self.sent = 0
        self.t0: float | None = None

    def wait(self, n: int) -> None:
        if self.rate <= 0:
            return
        now = time.monotonic()
        if self.t0 is None:
            self.t0 = now
        due = self.t0 + self.sent / self.rate
        if due > now:
            self.stop_event.wait(due - now)
        self.sent += n
