"""Round trips for every codec: value -> frames -> value is bit-exact, and so is
frames -> value -> frames (NaN payloads included, since floats are drawn as raw bit patterns)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gpsa.adf import KeyTable
from gpsa.block import CrystalBlock
from gpsa.errors import BlockError

from ._helpers import (
    AGATA,
    assert_bit_equal,
    composite_frames,
    crystal_blocks,
    decode_one,
    encode,
    eof_frames,
    psa_blocks,
    psa_v0_blocks,
    raw_frames,
    text_frames,
    tracked_blocks,
)

FAST = settings(max_examples=40, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
V0 = AGATA.with_versions({"data:psa": 0})

CASES = [
    ("data:crystal", crystal_blocks(), None),
    ("data:psa", psa_blocks(), None),
    ("data:psa", psa_v0_blocks(), V0),
    ("data:tracked", tracked_blocks(), None),
    ("conf:global", text_frames(), None),
    ("meta:eof", eof_frames(), None),
    ("event:data:psa", composite_frames(), None),
    ("0x12345678", raw_frames(), None),
]


@pytest.mark.parametrize(("name", "strategy", "keys"), CASES,
                         ids=["crystal", "psa-v1", "psa-v0", "tracked", "text", "eof",
                              "composite", "raw"])
def test_round_trip(name: str, strategy: st.SearchStrategy[Any], keys: KeyTable | None) -> None:
    @FAST
    @given(strategy)
    def check(value: Any) -> None:
        data = encode(value, keys=keys)
        back = decode_one(data, name, keys)
        assert_bit_equal(back, value)
        assert encode(back, keys=keys) == data

    check()


@FAST
@given(psa_blocks(), st.data())
def test_psa_fom_is_not_stored(block: Any, data: st.DataObject) -> None:
    """fom is not part of data:psa: whatever goes in, NaN comes out; the rest is unchanged."""
    fom = np.asarray(data.draw(st.lists(st.floats(width=32), min_size=len(block.hits),
                                        max_size=len(block.hits))), np.float32)
    cols = {f: getattr(block.hits, f) for f in block.hits._SPEC}
    cols["fom"] = fom
    with_fom = type(block)(block.events, type(block.hits)(**cols))
    assert_bit_equal(decode_one(encode(with_fom), "data:psa"), block)


@FAST
@given(st.lists(crystal_blocks(), min_size=1, max_size=3))
def test_several_writes_decode_as_one_block_per_shape(blocks: list[CrystalBlock]) -> None:
    """Consecutive writes of the same trace shape read back as one concatenated block."""
    from gpsa.adf import iter_blocks

    data = encode(*blocks)
    got = [b.crystal for b in iter_blocks(data)]
    shapes = [b.traces.shape[1:] for b in blocks]
    runs = [i for i in range(len(blocks)) if i == 0 or shapes[i] != shapes[i - 1]]
    assert len(got) == len(runs)
    for g, start, stop in zip(got, runs, runs[1:] + [len(blocks)], strict=True):
        assert g is not None
        assert_bit_equal(g, CrystalBlock.concat(blocks[start:stop]))


def test_float32_traces_are_never_rounded() -> None:
    """data:crystal v1 refuses float32 traces; they are written as data:ccrystal, exactly."""
    from gpsa.adf import read_all
    from gpsa.adf.codecs import CalibratedCrystalCodecV1, Context, CrystalCodecV1

    traces = np.random.default_rng(1).normal(size=(2, 38, 10)).astype(np.float32)
    block = CrystalBlock.from_traces(traces)
    ctx = Context(AGATA, None)
    with pytest.raises(BlockError, match="int16"):
        CrystalCodecV1().encode(block, AGATA.value_of("data:crystal"), ctx)
    with pytest.raises(BlockError, match="float32"):
        CalibratedCrystalCodecV1().encode(CrystalBlock.from_traces(traces.astype(np.int16)),
                                          AGATA.value_of("data:ccrystal"), ctx)
    back = read_all(encode(block))
    assert back.counts == {"data:ccrystal": 2}
    assert np.array_equal(back.values["data:ccrystal"].traces, traces)
    # .crystal falls back to the preprocessed events (an adf-reader replays them)
    assert back.crystal is back.values["data:ccrystal"] and "data:ccrystal" not in back.frames


@FAST
@given(psa_v0_blocks())
def test_psa_v0_is_written_only_with_a_v0_table(value: Any) -> None:
    """A PsaBlockV0 is written as v0 only when the key table reads data:psa as v0 (else the
    file would decode differently); the same bytes read as v1 put the errors in the drift-time
    columns."""
    from gpsa.adf import read_all
    from gpsa.errors import ConfigError

    with pytest.raises(ConfigError, match="reads data:psa as v1, but a PsaBlockV0"):
        encode(value)
    with pytest.raises(ConfigError, match="reads data:psa as v0, but a PsaBlock is"):
        encode(value.block, keys=V0)
    as_v1 = read_all(encode(value, keys=V0)).psa
    assert as_v1 is not None
    assert as_v1.hits.t_cc_e.tobytes() == value.errors.dx.tobytes()
    assert as_v1.hits.t_sg_h.tobytes() == value.errors.de.tobytes()
