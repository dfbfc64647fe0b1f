"""Corrupt input: one-line AdfError naming file, byte offset and frame, after the good frames;
resync mode skips, counts and goes on."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gpsa.adf import AdfBlock, AdfStats, iter_blocks
from gpsa.errors import AdfError

from .conftest import Mixed, frame_offsets


def collect(source: object, **kw: object) -> tuple[list[AdfBlock], AdfError | None]:
    blocks: list[AdfBlock] = []
    try:
        for b in iter_blocks(source, **kw):  # type: ignore[arg-type]
            blocks.append(b)
    except AdfError as exc:
        return blocks, exc
    return blocks, None


def set_u32(data: bytes, pos: int, value: int) -> bytes:
    return data[:pos] + value.to_bytes(4, "little") + data[pos + 4:]


def first_psa(m: Mixed) -> int:
    """Index of a data:psa frame in the middle of the file."""
    return [i for i, n in enumerate(m.names) if n == "data:psa"][4]


Corruption = Callable[[Mixed], tuple[bytes, int, str]]  # -> (bytes, bad frame index, message)

CASES: dict[str, Corruption] = {
    "length below 20": lambda m: (set_u32(m.data, m.offsets[7], 7), 7, "less than the 20-byte"),
    "length past end of file": lambda m: (set_u32(m.data, m.offsets[9], len(m.data)), 9,
                                          "runs past end of file"),
    "last frame length past end": lambda m: (set_u32(m.data, m.offsets[-1], 400),
                                             len(m.offsets) - 1, "runs past end of file"),
    "truncated last frame": lambda m: (m.data[:m.offsets[-2] + 30], len(m.offsets) - 2,
                                       "truncated frame"),
    "truncated key": lambda m: (m.data + b"\x01" * 7, len(m.offsets), "truncated frame key"),
    "bad data:psa payload size": lambda m: (
        set_u32(m.data, m.offsets[first_psa(m)] + 40, 0x0003_0000), first_psa(m),
        "does not match 20 + 24 + 42·n_hits"),
    "bad meta:eof payload size": lambda m: (
        set_u32(m.data, m.offsets[-1], 24) + b"\0" * 4, len(m.offsets) - 1, "expected 20"),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("n", [None, 3])
def test_error_names_file_offset_frame_after_good_frames(mixed: Mixed, tmp_path: Path,
                                                         case: str, n: int | None) -> None:
    data, k, words = CASES[case](mixed)
    path = tmp_path / "bad.adf"
    path.write_bytes(data)
    blocks, err = collect(path, frames_per_block=n, chunk_bytes=512)
    assert err is not None
    offset = mixed.offsets[k] if k < len(mixed.offsets) else len(mixed.data)
    msg = str(err)
    assert "\n" not in msg
    assert msg.startswith(f"{path}: byte offset {offset}: frame {k}")
    assert words in msg and err.offset == offset and err.source == str(path)
    delivered = [int(o) for b in blocks for o in b.offsets]
    assert delivered == mixed.offsets[:k]


def test_implausible_length_is_an_error(mixed: Mixed) -> None:
    blocks, err = collect(mixed.data, max_frame_bytes=1000)
    assert err is not None and "exceeds the 1000-byte limit" in str(err)
    assert err.offset == mixed.offsets[1] and sum(b.n_frames for b in blocks) == 1


def composite_subs(m: Mixed) -> tuple[int, list[int]]:
    """Index of the first composite frame and the offsets of its two sub-frames."""
    k = m.names.index("event:data:psa")
    first = m.offsets[k] + 20
    return k, [first, first + int.from_bytes(m.data[first:first + 4], "little")]


def test_bad_sub_frame_in_composite(mixed: Mixed) -> None:
    k, (sub, _) = composite_subs(mixed)
    blocks, err = collect(set_u32(mixed.data, sub, 10_000))
    assert err is not None and err.offset == sub  # the bad sub-frame, not its composite frame
    assert f": byte offset {sub}: frame {k} (event:data:psa): " in str(err)
    assert f"sub-frame at byte offset {sub} (data:psa, length 10000)" in str(err)
    assert f"composite frame at byte offset {mixed.offsets[k]}" in str(err)
    assert sum(b.n_frames for b in blocks) == k


def test_composite_error_names_the_sub_frame_whose_length_broke_the_walk(mixed: Mixed) -> None:
    # the second sub-frame claims 24 bytes: the walk breaks inside its payload, at sub + 24
    k, (_, sub) = composite_subs(mixed)
    blocks, err = collect(set_u32(mixed.data, sub, 24))
    assert err is not None and err.offset == sub
    assert f"sub-frame at byte offset {sub} (data:psa, length 24) does not fit" in str(err)
    assert sum(b.n_frames for b in blocks) == k


def test_composite_error_names_the_sub_frame_its_codec_refuses(mixed: Mixed) -> None:
    k, (_, sub) = composite_subs(mixed)
    blocks, err = collect(set_u32(mixed.data, sub + 40, 0x0003_0000))  # n_hits 3: bad size
    assert err is not None and err.offset == sub
    assert "does not match 20 + 24 + 42·n_hits" in str(err)
    stats = AdfStats()  # resync still skips the whole composite frame
    blocks, err = collect(set_u32(mixed.data, sub + 40, 0x0003_0000), resync=True, stats=stats)
    assert err is None
    assert stats.skips == [(mixed.offsets[k], mixed.offsets[k + 1] - mixed.offsets[k])]
    assert f"byte offset {sub}:" in stats.errors[0]


def test_resync_skips_a_frame_with_a_bad_length(mixed: Mixed) -> None:
    k = 7
    stats = AdfStats()
    blocks, err = collect(set_u32(mixed.data, mixed.offsets[k], 3), resync=True, stats=stats,
                          chunk_bytes=256)
    assert err is None
    length = mixed.offsets[k + 1] - mixed.offsets[k]
    assert stats.skips == [(mixed.offsets[k], length)] and stats.skipped_bytes == length
    assert len(stats.errors) == 1 and f"byte offset {mixed.offsets[k]}" in stats.errors[0]
    delivered = [int(o) for b in blocks for o in b.offsets]
    assert delivered == mixed.offsets[:k] + mixed.offsets[k + 1:]


def test_resync_skips_garbage_between_frames(mixed: Mixed) -> None:
    k = 10
    at = mixed.offsets[k]
    data = mixed.data[:at] + b"\xab" * 13 + mixed.data[at:]
    stats = AdfStats()
    blocks, err = collect(data, resync=True, stats=stats, frames_per_block=5)
    assert err is None and stats.skips == [(at, 13)]
    assert sum(b.n_frames for b in blocks) == len(mixed.offsets)
    assert [int(o) for b in blocks for o in b.offsets] == frame_offsets(mixed.data[:at]) + [
        o + 13 for o in mixed.offsets[k:]]


def test_resync_skips_a_frame_its_codec_refuses(mixed: Mixed) -> None:
    k = first_psa(mixed)
    stats = AdfStats()
    data = set_u32(mixed.data, mixed.offsets[k] + 40, 0x0003_0000)
    blocks, err = collect(data, resync=True, stats=stats)
    assert err is None
    assert stats.skips == [(mixed.offsets[k], mixed.offsets[k + 1] - mixed.offsets[k])]
    assert "n_hits" in stats.errors[0]
    psa = AdfBlock.concat(blocks).psa
    assert psa is not None and len(psa) == 11


def test_resync_at_a_truncated_tail(mixed: Mixed) -> None:
    cut = mixed.offsets[-2] + 30
    stats = AdfStats()
    blocks, err = collect(mixed.data[:cut], resync=True, stats=stats)
    assert err is None and stats.skips == [(mixed.offsets[-2], 30)]
    assert sum(b.n_frames for b in blocks) == len(mixed.offsets) - 2


def test_resync_across_chunk_boundaries(mixed: Mixed) -> None:
    """Garbage longer than a chunk: the forward scan reads more data as it goes."""
    at = mixed.offsets[3]
    garbage = np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes()
    stats = AdfStats()
    blocks, err = collect(mixed.data[:at] + garbage + mixed.data[at:], resync=True, stats=stats,
                          chunk_bytes=64)
    assert err is None and stats.skips == [(at, 5000)]
    assert sum(b.n_frames for b in blocks) == len(mixed.offsets)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.data())
def test_random_damage_gives_adf_error_or_clean_recovery(mixed: Mixed, data: st.DataObject) -> None:
    """Overwrite a few bytes anywhere or cut the file: the reader either reads on (the damage hit
    payload values), raises AdfError, or with resync never raises at all."""
    raw = bytearray(mixed.data)
    for _ in range(data.draw(st.integers(1, 3))):
        pos = data.draw(st.integers(0, len(raw) - 1))
        chunk = data.draw(st.binary(min_size=1, max_size=6))
        raw[pos:pos + len(chunk)] = chunk
    damaged = bytes(raw[:data.draw(st.integers(0, len(raw)))])
    _, err = collect(damaged, frames_per_block=data.draw(st.sampled_from([None, 1, 4])))
    assert err is None or isinstance(err, AdfError)
    stats = AdfStats()
    blocks, err = collect(damaged, resync=True, stats=stats, chunk_bytes=1000)
    assert err is None
    assert stats.bytes + stats.skipped_bytes == len(damaged)
    assert sum(b.n_bytes for b in blocks) == stats.bytes


def test_nested_composites_and_nesting_limit() -> None:
    """event:data holding event:data:psa holding data:psa decodes; absurd nesting is an error."""
    from gpsa.adf import CompositeFrames, read_all
    from gpsa.adf.codecs.composite import MAX_NESTING

    from ._helpers import AGATA, encode, raw_frame

    inner = read_all(raw_frame(AGATA.value_of("meta:eof"), b"")).values["meta:eof"]
    value: object = inner
    name, key = "meta:eof", AGATA.value_of("meta:eof")
    for level in range(MAX_NESTING + 1):
        outer = "event:data" if level % 2 else "event:data:psa"
        value = CompositeFrames.build(outer, {name: value}, {name: np.zeros(1, np.int64)},
                                      {name: key}, np.zeros(1), np.zeros(1))
        name, key = outer, AGATA.value_of(outer)
        data = encode(value)
        blocks, err = collect(data)
        if level < MAX_NESTING:
            assert err is None and blocks[0].values[outer].equals(value)
        else:
            assert err is not None and "nested more than" in str(err)
