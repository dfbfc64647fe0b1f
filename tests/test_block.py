"""Block data model: validation of shapes and dtypes, slicing, concatenation."""

from __future__ import annotations

import numpy as np
import pytest

from gpsa.block import CrystalBlock, PsaBlock, PsaEvents, PsaHits
from gpsa.errors import BlockError


def _crystal(n: int = 4, samples: int = 10) -> CrystalBlock:
    rng = np.random.default_rng(1)
    traces = rng.integers(-100, 100, size=(n, 38, samples)).astype(np.int16)
    return CrystalBlock.from_traces(traces, crystal_ids=7,
                                    energies=rng.random((n, 38)).astype(np.float32))


def _events(n: int) -> PsaEvents:
    z = np.zeros(n, np.float32)
    return PsaEvents(timestamps=np.arange(n, dtype=np.uint64), event_numbers=np.arange(n,
                     dtype=np.uint32), crystal_ids=np.full(n, 3, np.uint16),
                     status=np.zeros(n, np.uint16), e0=z + 1, e1=z + 2, t0=z, t1=z,
                     psa_status=np.zeros(n, np.uint16))


def test_from_traces_fills_defaults() -> None:
    b = _crystal()
    assert len(b) == 4 and b.n_channels == 38 and b.n_samples == 10
    assert b.crystal_ids.tolist() == [7] * 4
    assert np.isnan(b.t0).all()
    assert b.timestamps.dtype == np.uint64


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("timestamps", np.zeros(4, np.int64), "timestamps: dtype int64"),
        ("event_numbers", np.zeros(3, np.uint32), "length 3 differs"),
        ("energies", np.zeros((4, 37), np.float32), "37 channels"),
        ("traces", np.zeros((4, 38), np.int16), "expected 3 dimensions"),
        ("status", [0, 0, 0, 0], "expected a numpy array"),
    ],
)
def test_crystal_block_validation(field: str, value: object, message: str) -> None:
    b = _crystal()
    kwargs = {name: getattr(b, name) for name in CrystalBlock._SPEC}
    kwargs[field] = value
    with pytest.raises(BlockError, match=message):
        CrystalBlock(**kwargs)


def test_take_and_concat_round_trip() -> None:
    b = _crystal(6)
    parts = [b.take(slice(0, 2)), b.take(slice(2, 6))]
    assert CrystalBlock.concat(parts).equals(b)
    assert b.take(np.array([True, False] * 3)).event_numbers.tolist() == [0, 2, 4]


def test_psa_block_offsets_and_take() -> None:
    hits = PsaHits.build(np.array([0, 0, 2, 2, 2]), segment=np.arange(5), x=np.arange(5))
    block = PsaBlock(events=_events(3), hits=hits)
    assert block.n_hits.tolist() == [2, 0, 3]
    assert block.hit_offsets.tolist() == [0, 2, 2, 5]
    sub = block.take_events(np.array([1, 2]))
    assert len(sub) == 2 and sub.hits.event_index.tolist() == [1, 1, 1]
    assert sub.hits.segment.tolist() == [2, 3, 4]


def test_psa_block_concat_shifts_event_index() -> None:
    a = PsaBlock(events=_events(2), hits=PsaHits.build(np.array([1])))
    b = PsaBlock(events=_events(3), hits=PsaHits.build(np.array([0, 2])))
    c = PsaBlock.concat([a, b])
    assert len(c) == 5 and c.hits.event_index.tolist() == [1, 2, 4]
    assert c.take_events(slice(0, 2)).equals(a)


def test_psa_block_rejects_bad_event_index() -> None:
    with pytest.raises(BlockError, match="non-decreasing"):
        PsaBlock(events=_events(3), hits=PsaHits.build(np.array([1, 0])))
    with pytest.raises(BlockError, match=r"values must lie in \[0, 3\)"):
        PsaBlock(events=_events(3), hits=PsaHits.build(np.array([3])))
    with pytest.raises(BlockError, match="unknown column"):
        PsaHits.build(np.array([0]), colour=np.array([1]))


def test_equals_treats_nan_as_equal() -> None:
    h = PsaHits.build(np.array([0]))
    assert np.isnan(h.fom).all() and h.equals(PsaHits.build(np.array([0])))
    assert PsaHits.empty().equals(PsaHits.empty())
