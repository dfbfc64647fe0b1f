"""Built-in plugin: the ``ancillary-simulator`` producer — simulated ancillary frames
(data:ranc1) for tests and demos of the event merger.

Its frames come at their own rate (``frame_rate_hz``, data time), a fraction ``coincidence``
of them ``delay_ticks`` (+ up to ``jitter_ticks``) after an AGATA event, the rest at random
times. To know the AGATA event times without reading AGATA data, it rebuilds the **time line of
the coincidence simulator** (:func:`gpsa.simulate.coincidences.event_times`), which depends
only on ``events``, ``agata_rate_hz`` and ``seed``: with the same three numbers its frames are
coincident with the crystal events of
``simulate_coincidences(events, CoincidenceConfig(rate_hz=agata_rate_hz), seed)``. A frame's
event number is its true event id (0xFFFFFFFF for a random frame). Settings::

    actor = "ancillary-simulator"
    events = 20000          # AGATA true events of the shared time line
    agata_rate_hz = 20000
    seed = 1
    frame_rate_hz = 5000    # ancillary frames per second of data time
    coincidence = 0.9       # fraction of the frames coincident with an AGATA event
    delay_ticks = 50
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from gpsa.config.params import Param
from gpsa.plugins.hookspecs import hookimpl
from gpsa.runtime.actor import Block, Producer, RunContext


class AncillarySimulator(Producer):
    """Simulated ancillary frames (data:ranc1) coincident with a simulated AGATA time line."""

    name = "ancillary-simulator"
    events = Param(int, 10_000, "true AGATA events of the shared time line", min=0)
    agata_rate_hz = Param(float, 20_000.0, "AGATA true-event rate of the time line, Hz",
                          min=1e-9)
    seed = Param(int, 0, "seed of the time line (as the coincidence simulator's)")
    frame_rate_hz = Param(float, 5_000.0, "ancillary frames per second of data time",
                          min=0.0)
    coincidence = Param(float, 0.9, "fraction of the frames coincident with an AGATA event",
                        min=0.0, max=1.0)
    delay_ticks = Param(int, 50, "delay of a coincident frame after its AGATA event, ticks")
    jitter_ticks = Param(int, 2, "extra delay drawn uniformly in 0..jitter, ticks", min=0)
    channels = Param(int, 4, "float32 values per frame", min=0, max=0xFFFF)
    block_size = Param(int, 1000, "frames per block", min=1)

    def ancillary_config(self) -> Any:
        """The :class:`gpsa.simulate.coincidences.AncillaryConfig` of these settings
        (ConfigError when more frames are to be coincident than AGATA has events)."""
        from gpsa.simulate.coincidences import AncillaryConfig

        return AncillaryConfig.from_rate(
            self.frame_rate_hz, self.coincidence, self.agata_rate_hz,
            delay_ticks=self.delay_ticks, jitter_ticks=self.jitter_ticks,
            channels=self.channels)

    def check(self, context: RunContext) -> list[str]:
        self.ancillary_config()
        return super().check(context)

    def start(self, context: RunContext) -> None:
        super().start(context)
        self.config = self.ancillary_config()

    def produce(self) -> Iterator[Block]:
        from gpsa.simulate.coincidences import ancillary_frames, event_times

        times = event_times(self.events, self.agata_rate_hz, self.seed)
        frames = ancillary_frames(times, self.config, self.seed)
        for i in range(0, len(frames), self.block_size):
            if self.context.stop_event.is_set():
                return
            yield frames.take(slice(i, i + self.block_size))


@hookimpl
def gpsa_register_actors(register: Callable[[type], None]) -> None:
    register(AncillarySimulator)
