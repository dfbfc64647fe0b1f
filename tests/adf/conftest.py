"""A mixed ADF file shared by the reader, writer and CLI tests: text, interleaved data:crystal and
data:psa frames, a composite, unknown frames, data:tracked and meta:eof."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from gpsa.adf import (
    AdfWriter,
    CompositeFrames,
    RawFrames,
    TrackedBlock,
    TrackedEvents,
    TrackedGammas,
)
from gpsa.adf.example import synthetic_events

from ._helpers import AGATA, UNKNOWN_KEY, raw_frame


@dataclass(frozen=True)
class Mixed:
    path: Path
    data: bytes
    offsets: list[int]  # offset of every frame
    names: list[str]  # key label of every frame


def _tracked(n: int) -> TrackedBlock:
    counts = np.arange(n) % 3
    m = int(counts.sum())
    f = np.linspace(0, 1, m, dtype=np.float32)
    gammas = TrackedGammas(np.repeat(np.arange(n), counts).astype(np.int64), *([f] * 9),
                           n_interactions=np.ones(m, np.uint16), status=np.zeros(m, np.uint16))
    return TrackedBlock(TrackedEvents(np.arange(n, dtype=np.uint64),
                                      np.arange(n, dtype=np.uint32), np.zeros(n, np.uint16)),
                        gammas)


def build_mixed() -> bytes:
    crystal, psa = synthetic_events(12, seed=3)
    buf = io.BytesIO()
    with AdfWriter(buf, eof=True) as w:
        w.write_text("# mixed test file\n")
        for i in range(12):  # interleave crystal and psa frames, an unknown frame every 4th
            w.write(crystal.take(slice(i, i + 1)))
            w.write(psa.take_events(np.arange(12) == i))
            if i % 4 == 3:
                w.write(RawFrames.from_frames([raw_frame(UNKNOWN_KEY, b"x" * i, i, i)]))
        parents = np.array([0, 0, 1, 2, 2, 2])
        w.write(CompositeFrames.build("event:data:psa",
                                      {"data:psa": psa.take_events(np.arange(12) < 6)},
                                      {"data:psa": parents},
                                      {"data:psa": AGATA.value_of("data:psa")},
                                      np.arange(3), np.arange(3) * 100))
        w.write(_tracked(5))
    return buf.getvalue()


def frame_offsets(data: bytes) -> list[int]:
    offs, p = [], 0
    while p < len(data):
        offs.append(p)
        p += int.from_bytes(data[p:p + 4], "little")
    assert p == len(data)
    return offs


@pytest.fixture(scope="session")
def mixed_bytes() -> bytes:
    return build_mixed()


@pytest.fixture
def mixed(tmp_path: Path, mixed_bytes: bytes) -> Mixed:
    path = tmp_path / "mixed.adf"
    path.write_bytes(mixed_bytes)
    offs = frame_offsets(mixed_bytes)
    names = [AGATA.label(int.from_bytes(mixed_bytes[o + 4:o + 8], "little")) for o in offs]
    return Mixed(path, mixed_bytes, offs, names)
