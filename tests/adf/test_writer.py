"""AdfWriter: whole-file round trips, meta:eof, append, streams, errors."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from gpsa.adf import AdfWriter, KeyOnlyFrames, TextFrames, iter_blocks, read_all
from gpsa.adf.example import synthetic_events, write_example
from gpsa.errors import AdfError, ConfigError

from .conftest import Mixed


def test_rewriting_every_block_reproduces_the_file(mixed: Mixed, tmp_path: Path) -> None:
    """Read in small blocks, write each back in order: the same bytes (interleaving, composite,
    unknown frames and all)."""
    out = tmp_path / "copy.adf"
    with AdfWriter(out) as w:
        for block in iter_blocks(mixed.path, frames_per_block=5):
            w.write(block)
    assert out.read_bytes() == mixed.data
    assert w.frames_written == len(mixed.offsets) and w.bytes_written == len(mixed.data)


def test_write_block_drops_unknown_frames_the_reader_did_not_keep(mixed: Mixed) -> None:
    buf = io.BytesIO()
    with AdfWriter(buf) as w:
        w.write_block(read_all(mixed.path, keep_unknown=False))
    assert read_all(buf.getvalue()).counts.get("0x12345678") is None
    assert w.frames_written == len(mixed.offsets) - 3


def test_one_frame_per_event_with_event_number_and_timestamp() -> None:
    crystal, psa = synthetic_events(5, seed=1)
    for value in (crystal, psa):
        block = read_all(_write(value))
        assert block.n_frames == 5
        assert block.headers["timestamp"].tolist() == crystal.timestamps.tolist()
        assert block.headers["event_number"].tolist() == crystal.event_numbers.tolist()


def test_eof_on_clean_close_only(tmp_path: Path) -> None:
    path = tmp_path / "a.adf"
    with AdfWriter(path, eof=True) as w:
        w.write_text("hello")
    assert read_all(path).counts == {"conf:global": 1, "meta:eof": 1}
    with pytest.raises(RuntimeError), AdfWriter(path, eof=True) as w:
        w.write_text("partial")
        raise RuntimeError("boom")
    assert read_all(path).counts == {"conf:global": 1}


def test_append_and_stream(tmp_path: Path) -> None:
    path = tmp_path / "a.adf"
    with AdfWriter(path) as w:
        w.write_text("one")
    with AdfWriter(path, append=True) as w:
        w.write(TextFrames.of("two", "three"))
        w.write(KeyOnlyFrames.of(1))
    texts = read_all(path).values["conf:global"].texts
    assert texts == ("one", "two", "three")
    stream = io.BytesIO()
    with AdfWriter(stream) as w:
        w.write_eof(event_number=3, timestamp=2**40)
    assert not stream.closed
    assert read_all(stream.getvalue()).headers["timestamp"].tolist() == [2**40]


def test_write_errors(tmp_path: Path) -> None:
    w = AdfWriter(io.BytesIO())
    with pytest.raises(ConfigError, match="no ADF codec writes a dict"):
        w.write({"not": "a block"})
    with pytest.raises(ConfigError, match="no ADF codec writes a TextFrames as conf:nothing"):
        w.write(TextFrames.of("x", key="conf:nothing"))
    assert w.write(synthetic_events(1)[0].__class__.from_traces(  # as data:ccrystal
        np.zeros((1, 2, 3), np.float32))) == 1
    w.close()
    with pytest.raises(ValueError, match="closed"):
        w.write_eof()
    with pytest.raises(AdfError, match="cannot open for writing"):
        AdfWriter(tmp_path / "no" / "dir" / "x.adf")


def test_example_file(tmp_path: Path) -> None:
    path = tmp_path / "ex.adf"
    counts = write_example(path, n_events=6, seed=2)
    block = read_all(path)
    assert block.counts == {"conf:global": 1, "data:crystal": 6, "data:psa": 6, "meta:eof": 1}
    assert counts == {"frames": 14, "bytes": path.stat().st_size}
    assert "SYNTHETIC" in block.values["conf:global"].texts[0]
    crystal = block.crystal
    assert crystal is not None and crystal.traces.dtype == np.int16
    # pulses: the core rises by roughly the core energy times the toy gain
    rise = crystal.traces[:, 36, -10:].mean(axis=1) - crystal.traces[:, 36, :10].mean(axis=1)
    assert np.allclose(rise, 4.0 * crystal.energies[:, 36], rtol=0.05, atol=10)


def _write(value: object) -> bytes:
    buf = io.BytesIO()
    with AdfWriter(buf) as w:
        w.write(value)
    return buf.getvalue()
