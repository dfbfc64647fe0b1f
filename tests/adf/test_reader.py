"""Streaming reader: block sizes, sources, unknown keys, version checks."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gpsa.adf import AdfBlock, AdfReader, AdfStats, KeyTable, iter_blocks, read_all
from gpsa.block import CrystalBlock
from gpsa.errors import AdfError, BlockError, ConfigError

from ._helpers import assert_bit_equal, encode
from .conftest import Mixed


def check_blocks(blocks: list[AdfBlock], m: Mixed) -> None:
    """Blocks tile the file frame by frame and join to the same result as read_all."""
    offsets = np.concatenate([b.offsets for b in blocks]).tolist()
    assert offsets == m.offsets
    for a, b in zip(blocks, blocks[1:], strict=False):
        assert a.offset + a.n_bytes == b.offset
        assert b.first_frame == a.first_frame + a.n_frames
    whole = read_all(m.path)
    joined = AdfBlock.concat(blocks)
    assert_bit_equal(joined.values, whole.values)
    assert joined.headers.tobytes() == whole.headers.tobytes()


def test_read_all_counts(mixed: Mixed) -> None:
    block = read_all(mixed.path)
    assert block.counts == {"conf:global": 1, "data:crystal": 12, "data:psa": 12,
                            "0x12345678": 3, "event:data:psa": 3, "data:tracked": 5,
                            "meta:eof": 1}
    assert block.unknown == {0x12345678: 3}
    assert block.crystal is not None and block.crystal.traces.shape == (12, 38, 100)
    assert block.psa is not None and len(block.psa) == 12
    assert set(block.frames) == {"conf:global", "0x12345678", "event:data:psa", "data:tracked",
                                 "meta:eof"}
    comp = block.frames["event:data:psa"]
    assert comp.child_parent.tolist() == [0, 0, 1, 2, 2, 2]
    assert len(comp.children["data:psa"]) == 6
    assert block.n_bytes == len(mixed.data) and block.offset == 0


@pytest.mark.parametrize("n", [1, 2, 5, 17, 1000])
def test_blocks_of_n_frames(mixed: Mixed, n: int) -> None:
    blocks = list(iter_blocks(mixed.path, frames_per_block=n, chunk_bytes=100))
    assert all(1 <= b.n_frames <= n for b in blocks)
    assert all(b.n_frames == n for b in blocks[:-1])
    check_blocks(blocks, mixed)


@pytest.mark.parametrize("nbytes", [1, 500, 8000, 30000, 1 << 30])
def test_blocks_of_b_bytes(mixed: Mixed, nbytes: int) -> None:
    blocks = list(iter_blocks(mixed.path, bytes_per_block=nbytes, chunk_bytes=333))
    assert all(b.n_bytes <= nbytes or b.n_frames == 1 for b in blocks)
    check_blocks(blocks, mixed)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(n=st.one_of(st.none(), st.integers(1, 40)), b=st.one_of(st.none(), st.integers(1, 40000)),
       chunk=st.integers(1, 20000))
def test_any_block_and_chunk_size(mixed: Mixed, n: int | None, b: int | None,
                                  chunk: int) -> None:
    stats = AdfStats()
    blocks = list(iter_blocks(mixed.data, frames_per_block=n, bytes_per_block=b,
                              chunk_bytes=chunk, stats=stats))
    check_blocks(blocks, mixed)
    assert stats.bytes == len(mixed.data) and stats.n_frames == len(mixed.offsets)
    assert stats.blocks == len(blocks) and stats.skipped_bytes == 0


class Trickle(io.RawIOBase):
    """A stream that returns at most 7 bytes per read and has no readinto (like a socket)."""

    def __init__(self, data: bytes) -> None:
        self._data, self._pos = data, 0

    def read(self, n: int = -1) -> bytes:
        chunk = self._data[self._pos:self._pos + min(n if n >= 0 else 7, 7)]
        self._pos += len(chunk)
        return chunk

    readinto = None  # type: ignore[assignment]


@pytest.mark.parametrize("kind", ["path", "str", "bytes", "stream", "trickle"])
def test_sources(mixed: Mixed, kind: str) -> None:
    source = {"path": mixed.path, "str": str(mixed.path), "bytes": mixed.data,
              "stream": io.BytesIO(mixed.data), "trickle": Trickle(mixed.data)}[kind]
    check_blocks(list(iter_blocks(source, frames_per_block=4, chunk_bytes=1000)), mixed)


def test_unknown_keys_are_counted_when_skipped(mixed: Mixed) -> None:
    stats = AdfStats()
    block = read_all(mixed.path, keep_unknown=False, stats=stats)
    assert "0x12345678" not in block.values
    assert block.unknown == {0x12345678: 3}
    assert stats.unknown_frames == 3 and stats.frames["0x12345678"] == 3
    assert stats.n_frames == len(mixed.offsets)


def test_custom_key_table_renames_and_unknowns(mixed: Mixed, tmp_path: Path) -> None:
    table = tmp_path / "keys.txt"
    table.write_text("# only crystal frames known\ncrystal 0xFA010101\n"
                     "mystery 305419896\n")
    block = read_all(mixed.path, keys=table)
    assert block.values["mystery"].frame(0)[:4] == (20 + 3).to_bytes(4, "little")
    assert "crystal" in block.values and block.crystal is None
    assert sum(block.unknown.values()) == len(mixed.offsets) - 12 - 3


def test_trace_shape_change_starts_a_new_block() -> None:
    a = CrystalBlock.from_traces(np.ones((3, 4, 10), np.int16))
    b = CrystalBlock.from_traces(np.ones((2, 4, 20), np.int16))
    blocks = list(iter_blocks(encode(a, b, a)))
    assert [blk.crystal.traces.shape for blk in blocks if blk.crystal is not None] == [
        (3, 4, 10), (2, 4, 20), (3, 4, 10)]
    with pytest.raises(BlockError, match="data:crystal"):
        read_all(encode(a, b))


def test_empty_source() -> None:
    assert list(iter_blocks(b"")) == []
    assert read_all(b"").n_frames == 0


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(AdfError, match="nope.adf: byte offset 0: cannot open"):
        list(iter_blocks(tmp_path / "nope.adf"))


def test_bad_options_fail_before_reading() -> None:
    with pytest.raises(ConfigError, match="frames_per_block"):
        AdfReader(b"", frames_per_block=0)
    table = KeyTable.default().with_versions({"data:psa": 7})
    with pytest.raises(ConfigError, match="data:psa asks for codec version v7"):
        AdfReader(b"", keys=table)
