"""Built-in plugin: ADF file producer (``adf-reader``) and consumer (``adf-writer``).

Run file example::

    [[stage]]
    actor = "adf-reader"
    path = "data/{crystal}/events.adf"   # data:crystal frames (or data:psa with frames = "psa")
    frames_per_block = 1000
    rate_hz = 0                          # > 0: replay at this event rate (acquisition speed)

    [[stage]]
    actor = "adf-writer"
    path = "psa.adf"                     # in the crystal's output folder

The reader and the writer use every codec registered through ``gpsa_register_codecs``. The writer
writes whole frames per block to ``psa.adf.partial`` and flushes after each block, so the file is
valid up to the last block written, also after Ctrl-C or a failure; only a complete run gets the
closing meta:eof frame and the final name ``psa.adf`` (see :mod:`gpsa.runtime.outputs`).

A corrupt or truncated input stops the run after every frame before the damage went through the
whole chain and was written; with ``resync = true`` the reader skips the bad bytes instead,
counts them (``skipped_frames``, ``skipped_bytes`` in the run summary) and goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from gpsa.actors.common import codec_registry
from gpsa.actors.pacing import Pacer
from gpsa.config.params import Param
from gpsa.errors import ConfigError
from gpsa.plugins.hookspecs import hookimpl
from gpsa.runtime.actor import Block, Consumer, Producer, RunContext

log = logging.getLogger(__name__)

_CHECK_FRAMES = 16  # frames decoded by the pre-run check


class AdfFileReader(Producer):
    """Blocks of data:crystal (or data:psa) frames from an ADF file."""

    name = "adf-reader"
    path = Param(Path, help="ADF input file", kind="input")
    frames = Param(str, "crystal", "which frames to pass on", choices=("crystal", "psa"))
    frames_per_block = Param(int, 1000, "frames read per block", min=1)
    resync = Param(bool, False, "skip corrupt frames (counted) instead of stopping")
    rate_hz = Param(float, 0.0, "replay at this many events per second (0: as fast as possible)",
                    min=0.0)

    def start(self, context: RunContext) -> None:
        super().start(context)
        self.skipped = 0
        self._expected = self._estimate()

    def _estimate(self) -> int | None:
        """Event count from the size of the first frame (exact for fixed-size frames)."""
        with open(self.path, "rb") as f:
            head = f.read(4)
        if len(head) < 4:
            return 0
        length = int(np.frombuffer(head, "<u4")[0])
        return self.path.stat().st_size // length if length >= 20 else None

    def expected_events(self) -> int | None:
        return getattr(self, "_expected", None)

    def check(self, context: RunContext) -> list[str]:
        """The file is not empty and its first frames decode; warns when none of the first
        frames is of the kind passed on."""
        from gpsa.adf import AdfReader
        from gpsa.errors import AdfError

        if self.path.stat().st_size == 0:
            raise ConfigError(f"{self.path}: empty file (0 bytes)")
        reader = AdfReader(self.path, frames_per_block=_CHECK_FRAMES, registry=codec_registry(),
                           chunk_bytes=1 << 16)
        try:
            first = next(iter(reader), None)
        except AdfError as exc:
            raise ConfigError(f"not a readable ADF file: {exc}") from None
        value = None if first is None else (first.crystal if self.frames == "crystal"
                                            else first.psa)
        if value is None or len(value) == 0:
            return [f"{self.path}: no data:{self.frames} frame among the first "
                    f"{_CHECK_FRAMES} frames"]
        return []

    def produce(self) -> Iterator[Block]:
        from gpsa.adf import AdfReader, AdfStats
        from gpsa.errors import AdfError

        self.stats = stats = AdfStats()
        reader = AdfReader(self.path, frames_per_block=self.frames_per_block, resync=self.resync,
                           registry=codec_registry(), stats=stats)
        pacer = Pacer(self.rate_hz, self.context.stop_event)
        try:
            for adf_block in reader:
                value = adf_block.crystal if self.frames == "crystal" else adf_block.psa
                if value is None or len(value) == 0:
                    continue
                pacer.wait(len(value))
                yield value
        except AdfError as exc:
            raise AdfError(f"{exc.reason}; the {stats.n_frames} frames before it are processed "
                           f"and written; set resync = true on stage {self.label!r} to skip and "
                           "count bad frames instead", source=exc.source,
                           offset=exc.offset) from None
        if stats.errors:
            log.warning("%s: %d corrupt region(s) skipped (resync), %d bytes", self.path,
                        len(stats.errors), stats.skipped_bytes)

    def counters(self) -> dict[str, int]:
        stats = getattr(self, "stats", None)
        if stats is None:
            return {}
        return {"frames_read": stats.n_frames, "corrupt_regions_skipped": len(stats.errors),
                "bytes_skipped": stats.skipped_bytes, "unknown_frames": stats.unknown_frames}


class AdfFileWriter(Consumer):
    """Writes blocks (data:psa, data:crystal, ...) as ADF frames."""

    name = "adf-writer"
    path = Param(Path, Path("psa.adf"), "ADF output file (relative: in the crystal's output "
                 "folder)", kind="output")
    eof = Param(bool, True, "end a complete file with a meta:eof frame")

    def start(self, context: RunContext) -> None:
        from gpsa.adf import AdfWriter

        super().start(context)
        self.out_path = context.output_file(self.path)  # NAME.partial until the run completes
        self.writer = AdfWriter(self.out_path, registry=codec_registry())
        self.blocks = 0

    def process(self, block: Block) -> None:
        self.writer.write(block)
        self.writer.flush()
        self.blocks += 1

    def flush(self) -> None:
        self.writer.flush()

    def finish(self, complete: bool) -> None:
        if complete and self.eof:
            self.writer.write_eof()
        self.writer.flush()

    def stop(self) -> None:
        writer = getattr(self, "writer", None)
        if writer is not None:
            writer.close()


@hookimpl
def gpsa_register_actors(register: Callable[[type], None]) -> None:
    register(AdfFileReader)
    register(AdfFileWriter)
