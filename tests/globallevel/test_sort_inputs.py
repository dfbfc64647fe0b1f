"""Inputs of the time sorter: N ADF files of data:psa read behind-first (other frames in the
files skipped), and N Central Memory streams on a real redis-server read by one consumer
group — one stream idle for a while, one empty — giving the same order as a plain sort, with
every entry acknowledged and deleted once its frames are out."""

from __future__ import annotations

import io
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from central.conftest import client  # noqa: F401  (a client of the real redis-server fixture)

from gpsa.adf import AdfWriter, TextFrames
from gpsa.block import PsaBlock
from gpsa.central.streams import StreamWriter, encode_block, stream_key
from gpsa.errors import ConfigError
from gpsa.globallevel.rows import row_ops
from gpsa.globallevel.sorter import TimeSorter
from gpsa.globallevel.sortinputs import RedisPsaInputs, psa_blocks, sort_files

from .test_sorter import check_hits, psa_block


def crystal_data(rng: np.random.Generator, n_inputs: int, frames: int) -> dict[str, PsaBlock]:
    out = {}
    for i in range(n_inputs):
        ts = np.cumsum(rng.integers(0, 3_000, frames)) + int(rng.integers(0, 10_000))
        out[f"{i:02d}A"] = psa_block(ts, i)
    return out


def plain_sort(blocks: list[PsaBlock]) -> PsaBlock:
    """Reference: everything by (timestamp, crystal, position)."""
    ref = PsaBlock.concat(blocks)
    key = np.lexsort((np.arange(len(ref)), ref.events.crystal_ids, ref.events.timestamps))
    return row_ops(ref).take(ref, key)


def test_adf_files(tmp_path: Path) -> None:
    data = crystal_data(np.random.default_rng(1), 6, 900)
    files: dict[str, Any] = {}
    for name, block in data.items():
        path = tmp_path / f"{name}.adf"
        with AdfWriter(path) as w:
            w.write(TextFrames.of(f"crystal {name}"))  # a conf frame: skipped
            w.write(block)
        files[name] = path
    files["05A"] = (tmp_path / "05A.adf").read_bytes()  # bytes work too
    sorter = TimeSorter(idle_ticks=0, idle_seconds=0, emit_rows=200)
    out = list(sort_files(files, sorter, frames_per_block=128))
    check_hits(out)
    assert PsaBlock.concat(out).equals(plain_sort(list(data.values())))
    c = sorter.counters
    assert c.total("late") == 0 and c.total("idle_releases") == 0 and c.emitted == 6 * 900
    assert len(out) > 5  # merged block by block, not all at the end
    assert sum(len(b) for b in psa_blocks(io.BytesIO(files["05A"]), frames_per_block=100)) == 900
    assert PsaBlock.concat(list(sort_files(files))).equals(PsaBlock.concat(out))
    with pytest.raises(ConfigError, match="idle_ticks=0 and idle_seconds=0"):
        next(sort_files(files, TimeSorter()))


def test_redis_streams(client: Any) -> None:  # noqa: F811
    data = crystal_data(np.random.default_rng(2), 5, 400)
    names = [*data, "05A"]  # 05A: a stream that ends without any block
    keys = {n: stream_key("t", n, "psa") for n in names}

    def write(name: str, pause: float = 0.0) -> None:
        w = StreamWriter(client, keys[name], max_pending=1000)
        block = data.get(name)
        for seq, start in enumerate(range(0, 0 if block is None else len(block), 50)):
            part = row_ops(block).take(block, slice(start, start + 50))
            w.add(encode_block(part, None), seq=seq, events=len(part), first_event=start,
                  last_event=start + len(part) - 1)
            time.sleep(pause)
        w.end(complete=True)

    for name in names[1:]:
        write(name)
    late = threading.Thread(target=write, args=(names[0], 0.01))  # 00A trickles in
    late.start()
    sorter = TimeSorter(names, idle_ticks=0, idle_seconds=30.0, emit_rows=100)
    reader = RedisPsaInputs(client, keys, group="sorter", count=4, block_ms=50)
    try:
        out = list(reader.sorted_blocks(sorter))
    finally:
        late.join()
    check_hits(out)
    assert PsaBlock.concat(out).equals(plain_sort(list(data.values())))
    assert sorter.counters.total("late") == 0 and reader.entries == 5 * 8
    assert all(client.xlen(k) == 0 for k in keys.values())  # acknowledged and deleted
    assert all(client.xpending(k, "sorter")["pending"] == 0 for k in keys.values())
