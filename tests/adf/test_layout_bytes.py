"""Byte-level checks against the documented layouts (FORMATS.md), built field by field with
``struct`` and independent of the codecs' numpy dtypes."""

from __future__ import annotations

import struct

import numpy as np

from gpsa.adf import KEY_DTYPE, read_all
from gpsa.block import CrystalBlock, PsaBlock, PsaEvents, PsaHits

from ._helpers import encode

PSA_KEY = 0xFA010102
CRYSTAL_KEY = 0xFA010101
TS = 0x0000_1234_89AB_CDEF  # high word 0x1234, low word 0x89ABCDEF


def hand_psa_frame() -> bytes:
    """data:psa frame with 2 hits, packed field by field from the layout."""
    hits = [
        (0, 7, 3, 1.5, -2.25, 30.0, 662.0, 12.5, 0.1, 0.2, 0.3, 0.4),
        (4, 35, 3, -10.0, 5.0, 80.5, 511.0, -3.0, 1.0, 2.0, 3.0, 4.0),
    ]
    length = 20 + 24 + 42 * len(hits)
    assert length == 128
    frame = struct.pack("<IIIII", length, PSA_KEY, 42, TS & 0xFFFFFFFF, TS >> 32)
    frame += struct.pack("<HHffffHH", 3, 1, 1173.2, 1173.5, 10.25, 10.5, 2, len(hits))
    for h in hits:
        frame += struct.pack("<Hhhfffffffff", *h)
    assert len(frame) == length
    return frame


def psa_block_of_hand_frame() -> PsaBlock:
    events = PsaEvents(timestamps=np.array([TS], np.uint64),
                       event_numbers=np.array([42], np.uint32),
                       crystal_ids=np.array([3], np.uint16), status=np.array([1], np.uint16),
                       e0=np.array([1173.2], np.float32), e1=np.array([1173.5], np.float32),
                       t0=np.array([10.25], np.float32), t1=np.array([10.5], np.float32),
                       psa_status=np.array([2], np.uint16))
    hits = PsaHits.build(np.array([0, 0]), status=[0, 4], segment=[7, 35], crystal=[3, 3],
                         x=[1.5, -10.0], y=[-2.25, 5.0], z=[30.0, 80.5], energy=[662.0, 511.0],
                         time=[12.5, -3.0], t_cc_e=[0.1, 1.0], t_cc_h=[0.2, 2.0],
                         t_sg_e=[0.3, 3.0], t_sg_h=[0.4, 4.0])
    return PsaBlock(events, hits)


def test_key_dtype_is_the_documented_20_bytes() -> None:
    hdr = np.array([(128, PSA_KEY, 42, TS)], KEY_DTYPE).tobytes()
    assert len(hdr) == 20
    assert struct.unpack("<IIIII", hdr) == (128, PSA_KEY, 42, 0x89ABCDEF, 0x1234)


def test_psa_encoder_matches_hand_packed_frame() -> None:
    assert encode(psa_block_of_hand_frame()) == hand_psa_frame()


def test_psa_hand_packed_frame_decodes() -> None:
    frame = hand_psa_frame()
    psa = read_all(frame).psa
    assert psa is not None
    expected = psa_block_of_hand_frame()
    assert psa.equals(expected)
    assert psa.events.timestamps[0] == TS
    # spot checks straight from byte offsets: hit 1 starts at 44 + 42 = 86; its E at +18
    assert struct.unpack_from("<f", frame, 86 + 18)[0] == psa.hits.energy[1] == 511.0
    assert struct.unpack_from("<h", frame, 86 + 2)[0] == psa.hits.segment[1] == 35
    assert np.isnan(psa.hits.fom).all()


def test_psa_frame_without_hits_is_44_bytes() -> None:
    block = psa_block_of_hand_frame().take_events(np.array([False]))
    one = PsaBlock.concat([block, psa_block_of_hand_frame()]).take_events(np.array([True]))
    empty = PsaBlock(one.events, PsaHits.empty())
    data = encode(empty)
    assert len(data) == 44
    assert struct.unpack_from("<H", data, 42)[0] == 0


def test_crystal_v1_layout() -> None:
    c, s = 3, 4
    traces = np.arange(c * s, dtype=np.int16).reshape(1, c, s) - 5
    block = CrystalBlock.from_traces(traces, energies=np.array([[1.0, 2.0, 3.5]]),
                                     timestamps=np.array([TS]), event_numbers=np.array([9]),
                                     crystal_ids=17, status=np.array([2]), t0=np.array([20.5]))
    frame = struct.pack("<IIIII", 20 + 12 + 4 * c + 2 * c * s, CRYSTAL_KEY, 9,
                        TS & 0xFFFFFFFF, TS >> 32)
    frame += struct.pack("<HHHHf", 17, 2, c, s, 20.5)
    frame += struct.pack(f"<{c}f", 1.0, 2.0, 3.5)
    frame += struct.pack(f"<{c * s}h", *traces.ravel().tolist())  # channel-major
    assert encode(block) == frame
    back = read_all(frame).crystal
    assert back is not None and back.equals(block)
