"""data:ranc1 v1 (AncillaryFrames) through the real ADF writer and reader: bytes → frames →
bytes, the documented layout byte by byte, channel-count changes, bad lengths, validation, and
registration in the default registry and the plugin catalogue."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from gpsa.adf import AdfWriter, default_registry, iter_blocks, read_all
from gpsa.adf.codecs import AncillaryCodecV1, AncillaryFrames
from gpsa.errors import BlockError, ConfigError
from gpsa.plugins.catalogue import get_catalogue
from gpsa.plugins.manager import reset_plugin_manager


def frames(n: int, c: int, seed: int = 0) -> AncillaryFrames:
    rng = np.random.default_rng(seed)
    return AncillaryFrames(np.sort(rng.integers(0, 2**48, n)).astype(np.uint64),
                           rng.integers(0, 2**32, n).astype(np.uint32),
                           rng.integers(0, 2**16, n).astype(np.uint16),
                           rng.normal(0, 100, (n, c)).astype(np.float32))


def encode(*values: object) -> bytes:
    buf = io.BytesIO()
    with AdfWriter(buf) as w:
        for v in values:
            w.write(v)
    return buf.getvalue()


def test_layout_byte_by_byte() -> None:
    f = AncillaryFrames(np.array([0x1_0000_0002], np.uint64), np.array([7], np.uint32),
                        np.array([3], np.uint16), np.array([[1.5, -2.0]], np.float32))
    data = encode(f)
    assert len(data) == 20 + 4 + 4 * 2
    length, key, number, ts = struct.unpack_from("<IIIQ", data, 0)
    assert (length, key, number, ts) == (32, 0xFA0201A1, 7, 0x1_0000_0002)
    assert struct.unpack_from("<HHff", data, 20) == (2, 3, 1.5, -2.0)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(0, 30), c=st.integers(0, 6), data=st.data())
def test_round_trip_any_values(n: int, c: int, data: st.DataObject) -> None:
    bits = data.draw(hnp.arrays(np.uint32, (n, c)))  # any float32 bit pattern, NaNs included
    f = AncillaryFrames(data.draw(hnp.arrays(np.uint64, n)), data.draw(hnp.arrays(np.uint32, n)),
                        data.draw(hnp.arrays(np.uint16, n)), bits.view(np.float32))
    raw = encode(f)
    if n == 0:
        assert raw == b""
        return
    back = read_all(raw).values["data:ranc1"]
    assert np.array_equal(back.values.view(np.uint32), bits)
    assert encode(back) == raw


def test_blocks_and_channel_count_changes() -> None:
    a, b = frames(500, 4, 1), frames(300, 2, 2)
    raw = encode(a, b)
    blocks = list(iter_blocks(raw, frames_per_block=128))
    values = [blk.values["data:ranc1"] for blk in blocks]
    assert {v.n_channels for v in values} == {4, 2}
    assert all(len(v) <= 128 for v in values)
    four = AncillaryFrames.concat([v for v in values if v.n_channels == 4])
    assert four.equals(a)
    assert b"".join(encode(v) for v in values) == raw
    with pytest.raises(BlockError, match="channel counts"):
        AncillaryFrames.concat([a, b])


def test_a_foreign_layout_is_kept_as_bytes_and_refused_by_the_merger() -> None:
    """A real ancillary DAQ's data:ranc1 frames (another layout) are read as raw bytes and
    written back unchanged, as before gpsa had this codec; the merger names what it got."""
    from gpsa.adf import RawFrames
    from gpsa.globallevel.merger import EventMerger

    raw = bytearray(encode(frames(3, 2)))  # frames of 32 bytes
    struct.pack_into("<H", raw, 32 + 20, 3)  # second frame: its payload now says 3 channels
    back = read_all(bytes(raw))
    assert isinstance(back.values["data:ranc1"], RawFrames)
    assert encode(back.values["data:ranc1"]) == bytes(raw)
    short = bytearray(encode(frames(1, 0)))
    struct.pack_into("<I", short, 0, 22)  # shorter than the fixed part
    kept = read_all(bytes(short[:22])).values["data:ranc1"]
    assert isinstance(kept, RawFrames) and encode(kept) == bytes(short[:22])
    with pytest.raises(BlockError, match="expected BuiltEvents or AncillaryFrames, got RawFrames"):
        EventMerger(window=10).push(kept)


def test_validation_names_the_field() -> None:
    f = frames(4, 3)
    with pytest.raises(BlockError, match="AncillaryFrames.values: dtype float64"):
        AncillaryFrames(f.timestamps, f.event_numbers, f.status, f.values.astype(np.float64))
    with pytest.raises(BlockError, match="AncillaryFrames.status: length 3"):
        AncillaryFrames(f.timestamps, f.event_numbers, f.status[:3], f.values)
    assert f.take(np.array([True, False, True, False])).equals(
        AncillaryFrames.concat([f.take(slice(0, 1)), f.take(slice(2, 3))]))
    with pytest.raises(ConfigError, match="no ADF codec writes a AncillaryFrames as data:ranc0"):
        encode(AncillaryFrames.empty(2, key="data:ranc0"))


def test_registered_in_the_registry_and_the_catalogue() -> None:
    assert isinstance(default_registry().get("data:ranc1", 1), AncillaryCodecV1)
    reset_plugin_manager()
    try:
        cat = get_catalogue()
        assert cat.codecs[("data:ranc1", 1)].plugin == "gpsa.actors.formats"
        registry = cat.codec_registry()
    finally:
        reset_plugin_manager()
    raw = encode(frames(10, 3))
    assert read_all(raw, registry=registry).values["data:ranc1"].equals(frames(10, 3))
    # another ancillary key is one registration away
    reg = default_registry()
    reg.register(AncillaryCodecV1("data:ranc0"))
    buf = io.BytesIO()
    with AdfWriter(buf, registry=reg) as w:
        w.write(AncillaryFrames.empty(2, key="data:ranc0"))
        w.write(AncillaryFrames(**frames(2, 2)._take_rows(slice(None)), key="data:ranc0"))
    back = read_all(buf.getvalue(), registry=reg).values["data:ranc0"]
    assert back.key == "data:ranc0" and len(back) == 2


def test_a_foreign_layout_inside_a_composite_frame_round_trips() -> None:
    """event:data frames holding a foreign data:ranc1 sub-frame are written back unchanged."""
    from gpsa.adf import KeyTable, RawFrames
    from gpsa.adf.codecs import CompositeFrames

    keys = KeyTable.agata_file()
    raw = bytearray(encode(frames(2, 2)))
    struct.pack_into("<H", raw, 20, 7)  # first frame's payload says 7 channels: not gpsa's
    sub = read_all(bytes(raw)).values["data:ranc1"]
    assert isinstance(sub, RawFrames)
    comp = CompositeFrames.build("event:data", {"data:ranc1": sub},
                                 {"data:ranc1": np.array([0, 1])},
                                 {"data:ranc1": keys.value_of("data:ranc1")},
                                 np.array([5, 6], np.uint32), np.array([100, 200], np.uint64))
    data = encode(comp)
    back = read_all(data).values["event:data"]
    assert isinstance(back.children["data:ranc1"], RawFrames)
    assert back.children["data:ranc1"].equals(sub) and encode(back) == data
