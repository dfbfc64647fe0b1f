"""ADF (AGATA Data Flow) frames: read and write the files and blocks of the AGATA data flow.

::

    from gpsa.adf import AdfWriter, iter_blocks, read_all, KeyTable, AdfStats

    with AdfWriter("run.adf", eof=True) as w:
        w.write(crystal_block)              # data:crystal v1, one frame per event
        w.write(psa_block)                  # data:psa, one frame per event
    for block in iter_blocks("run.adf", frames_per_block=10_000):
        block.crystal, block.psa, block.frames, block.unknown

Modules: :mod:`~gpsa.adf.keys` (key tables), :mod:`~gpsa.adf.header` (20-byte frame key and
boundary scans), :mod:`~gpsa.adf.codecs` (per-key codecs), :mod:`~gpsa.adf.reader`,
:mod:`~gpsa.adf.writer`. Byte layouts: ``gpsa/adf/FORMATS.md``.
"""

from __future__ import annotations

from gpsa.adf.codecs import (
                             CodecRegistry,
                             CompositeFrames,
                             KeyOnlyFrames,
                             PsaBlockV0,
                             PsaHitErrors,
                             RawFrames,
                             TextFrames,
                             TrackedBlock,
                             TrackedEvents,
                             TrackedGammas,
                             default_registry,
)
from gpsa.adf.header import HEADER_SIZE, KEY_DTYPE
from gpsa.adf.keys import KeyTable
from gpsa.adf.reader import AdfReader, iter_blocks, read_all
from gpsa.adf.result import AdfBlock, AdfStats
from gpsa.adf.writer import AdfWriter

__all__ = [
    "HEADER_SIZE", "KEY_DTYPE", "AdfBlock", "AdfReader", "AdfStats", "AdfWriter",
    "CodecRegistry", "CompositeFrames", "KeyOnlyFrames", "KeyTable", "PsaBlockV0",
    "PsaHitErrors", "RawFrames", "TextFrames", "TrackedBlock", "TrackedEvents", "TrackedGammas",
    "default_registry", "iter_blocks", "read_all",
]
