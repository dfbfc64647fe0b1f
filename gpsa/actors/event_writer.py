"""Built-in plugin: the ``event-writer`` consumer — built or merged events as ADF composite frames.

The last stage of a global chain: :class:`~gpsa.globallevel.events.BuiltEvents` (the event
builder's output) become **event:data:psa** frames, :class:`~gpsa.globallevel.events.MergedEvents`
(the merger's) **event:data** frames (:mod:`gpsa.globallevel.frames`; layouts in
``gpsa/adf/FORMATS.md``); any other block a codec knows (data:psa from the time sorter,
data:ranc1, data:tracked from the ``tracking`` actor, ...) is written as it is. Like
``adf-writer`` it writes ``NAME.partial``, flushed after each block, and only a complete run gets
the closing meta:eof frame and the final name.
Read the file back with :func:`gpsa.adf.iter_blocks` and
:func:`~gpsa.globallevel.frames.built_from_frames` / ``merged_from_frames``. Settings::

    [[global]]
    actor = "event-writer"
    path = "events.adf"        # in OUTPUT/global/
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from gpsa.actors.adf_io import AdfFileWriter
from gpsa.config.params import Param
from gpsa.plugins.hookspecs import hookimpl
from gpsa.runtime.actor import Block, RunContext


class EventWriter(AdfFileWriter):
    """Writes built (event:data:psa) or merged (event:data) events as ADF composite frames.

    Tracked gammas go out as data:tracked; otherwise it is the adf-writer."""

    name = "event-writer"
    path = Param(Path, Path("events.adf"), "ADF output file (relative: in the output folder, "
                 "OUTPUT/global/ in a global chain)", kind="output")

    def start(self, context: RunContext) -> None:
        super().start(context)
        self.written: dict[str, int] = {}

    def process(self, block: Block) -> None:
        from gpsa.adf.codecs.tracked import TrackedBlock
        from gpsa.globallevel.events import BuiltEvents, MergedEvents
        from gpsa.globallevel.frames import (
            AGATA_KEY,
            MERGED_KEY,
            built_to_frames,
            merged_to_frames,
        )

        if isinstance(block, BuiltEvents):
            value, key = built_to_frames(block, self.writer.keys), AGATA_KEY
        elif isinstance(block, MergedEvents):
            value, key = merged_to_frames(block, self.writer.keys), MERGED_KEY
        elif isinstance(block, TrackedBlock):
            value, key = block, "data:tracked"
        else:
            value, key = block, type(block).__name__
        if len(value) == 0:
            return
        self.written[key] = self.written.get(key, 0) + self.writer.write(value)
        self.writer.flush()

    def counters(self) -> dict[str, int]:
        """Frames written per key (``frames_event:data:psa``, ...)."""
        return {f"frames_{k}": v for k, v in getattr(self, "written", {}).items()}


@hookimpl
def gpsa_register_actors(register: Callable[[type], None]) -> None:
    register(EventWriter)
