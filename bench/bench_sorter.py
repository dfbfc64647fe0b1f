"""The time sorter, measured in one run on one machine:

* **throughput** — N = 40 ADF files of data:psa (one per crystal, 1–5 hits per frame, Poisson
  timestamps at 10–60 kHz per crystal) merged by :func:`gpsa.globallevel.sortinputs.sort_files`,
  **decoding from the ADF bytes included**, in frames/s; the reader alone on the same files
  with the same block size in the same run, and the ratio. Also the sorter alone on
  pre-decoded blocks arriving with random per-stream delays and one idle stream (late frames
  flagged). Page cache warm; best and median of several repeats, interleaved. Correctness:
  the output's (timestamp, crystal, event number) must equal a plain sort of every input, and
  nothing may be late (the idle case: exactly the idle stream's frames are late or in order).
* **time to first output** — 40 live inputs pushed at acquisition pace (10 kHz per crystal,
  blocks of 1,000: 400 k frames/s), the wall-time timeout (``idle_seconds``) in effect and the
  data-time one off: wall seconds from the first block to the first emitted block with every
  input sending, and with one of them idle (declared, never sending).

    python bench/bench_sorter.py [--out bench/results/sorter.json] [--frames 50000]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine_info  # noqa: E402

from gpsa.adf import AdfWriter  # noqa: E402
from gpsa.block import PsaBlock, PsaEvents, PsaHits  # noqa: E402
from gpsa.globallevel.flags import is_late  # noqa: E402
from gpsa.globallevel.rows import row_ops  # noqa: E402
from gpsa.globallevel.sorter import TimeSorter  # noqa: E402
from gpsa.globallevel.sortinputs import psa_blocks, sort_files  # noqa: E402

log = logging.getLogger("bench_sorter")
N_INPUTS = 40


def crystal_stream(n: int, crystal: int, rate_hz: float, rng: np.random.Generator) -> PsaBlock:
    """``n`` PSA events of one crystal, Poisson in time at ``rate_hz`` (10 ns ticks)."""
    counts = rng.integers(1, 6, n)
    m = int(counts.sum())
    f = lambda k: rng.random(k, np.float32)  # noqa: E731
    ts = np.cumsum(rng.exponential(1e8 / rate_hz, n)).astype(np.uint64) + np.uint64(1000)
    events = PsaEvents(timestamps=ts, event_numbers=np.arange(n, dtype=np.uint32),
                       crystal_ids=np.full(n, crystal, np.uint16), status=np.zeros(n, np.uint16),
                       e0=f(n), e1=f(n), t0=f(n), t1=f(n), psa_status=np.zeros(n, np.uint16))
    hits = PsaHits.build(np.repeat(np.arange(n), counts), segment=rng.integers(0, 36, m),
                         crystal=np.full(m, crystal), x=f(m), y=f(m), z=f(m), energy=f(m),
                         time=f(m), t_cc_e=f(m), t_cc_h=f(m), t_sg_e=f(m), t_sg_h=f(m))
    return PsaBlock(events, hits)


def keys_of(blocks: list[Any]) -> np.ndarray:
    """(timestamp, crystal, event number) rows of blocks, as one structured array."""
    out = np.zeros(sum(len(b) for b in blocks), [("t", "u8"), ("c", "u2"), ("e", "u4")])
    i = 0
    for b in blocks:
        ev = b.events
        out["t"][i:i + len(b)], out["c"][i:i + len(b)] = ev.timestamps, ev.crystal_ids
        out["e"][i:i + len(b)] = ev.event_numbers
        i += len(b)
    return out


def plain_sort(streams: dict[str, PsaBlock]) -> np.ndarray:
    k = keys_of(list(streams.values()))
    return k[np.lexsort((k["e"], k["c"], k["t"]))]


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def rate(frames: int, seconds: list[float]) -> dict[str, float]:
    return {"best": frames / min(seconds), "median": frames / statistics.median(seconds)}


def throughput(files: dict[str, Path], reference: np.ndarray, block: int,
               repeats: int) -> dict[str, Any]:
    """Reader alone vs reader + sorter, same files and block size, interleaved."""
    n = int(reference.size)
    read_s, sort_s = [], []
    for i in range(repeats):
        t, got = timed(lambda: sum(len(b) for f in files.values()
                                   for b in psa_blocks(f, frames_per_block=block)))
        assert got == n
        read_s.append(t)
        sorter = TimeSorter(files, idle_ticks=0, idle_seconds=0)  # files: nothing is idle

        def run(s: TimeSorter = sorter) -> list[PsaEvents]:
            return [b.events for b in sort_files(files, s, frames_per_block=block)]

        t, out = timed(run)
        sort_s.append(t)
        if i == 0:  # correctness paired with the timing
            assert np.array_equal(keys_of([_Ev(e) for e in out]), reference), "sort mismatch"
            assert sorter.counters.total("late") == 0 and sorter.pending == 0
        del out
    r, s = rate(n, read_s), rate(n, sort_s)
    return {"frames_per_block": block, "frames": n, "repeats": repeats, "read_s": read_s,
            "sort_s": sort_s, "reader_frames_per_s": r, "sorter_frames_per_s": s,
            "sorter_over_reader_best": s["best"] / r["best"],
            "sorter_over_reader_median": s["median"] / r["median"]}


class _Ev:
    """A block holding only its event table (for keys_of)."""

    def __init__(self, events: PsaEvents) -> None:
        self.events = events

    def __len__(self) -> int:
        return len(self.events)


def delayed_pushes(streams: dict[str, PsaBlock], idle: str, rng: np.random.Generator,
                   block: int) -> list[tuple[str, PsaBlock]]:
    """Blocks in arrival order: each stream's blocks arrive at their last timestamp + the
    stream's delay (0–5 ms of data time); the ``idle`` stream's after everything."""
    arrivals = []
    for i, (name, s) in enumerate(streams.items()):
        delay = 10**15 if name == idle else int(rng.integers(0, 500_000))
        ops = row_ops(s)
        for start in range(0, len(s), block):
            part = ops.take(s, slice(start, start + block))
            arrivals.append((int(part.events.timestamps[-1]) + delay, i, start, name, part))
    arrivals.sort(key=lambda a: a[:3])
    return [(a[3], a[4]) for a in arrivals]


def sorter_alone(streams: dict[str, PsaBlock], reference: np.ndarray, repeats: int,
                 block: int = 4096) -> dict[str, Any]:
    idle = next(iter(streams))
    pushes = delayed_pushes(streams, idle, np.random.default_rng(7), block)
    times = []
    for i in range(repeats):
        sorter = TimeSorter(streams, idle_ticks=100_000_000, idle_seconds=0)

        def go(s: TimeSorter = sorter) -> list[Any]:
            out: list[Any] = []
            for name, b in pushes:
                out += [x.events for x in s.push(name, b)]
            return out + [x.events for x in s.flush()]

        t, out = timed(go)
        times.append(t)
        if i == 0:
            late = np.concatenate([is_late(e.status) for e in out])
            got = keys_of([_Ev(e) for e in out])
            on_time = got[~late]
            assert np.all(np.diff(on_time["t"].astype(np.int64)) >= 0)
            assert np.array_equal(np.sort(got, order=["t", "c", "e"]), reference)
            assert int(late.sum()) == sorter.counters.total("late") > 0
            assert set(np.unique(got["c"][late]).tolist()) == {0}
            late_frames = int(late.sum())
        del out
    return {"frames_per_block": block, "idle_input": idle, "late_frames": late_frames,
            "seconds": times, "frames_per_s": rate(int(reference.size), times)}


def first_output(idle: bool, idle_seconds: float = 0.5, block: int = 1000,
                 rate_hz: float = 10_000.0) -> dict[str, Any]:
    """Live inputs at acquisition pace; seconds from the first push to the first output."""
    rng = np.random.default_rng(3)
    names = [f"{i:02d}A" for i in range(N_INPUTS)]
    streams = {n: crystal_stream(block * 12, i, rate_hz, rng) for i, n in enumerate(names)}
    senders = names[1:] if idle else names
    span = block / rate_hz  # wall seconds of data in one block
    sorter = TimeSorter(names, idle_ticks=0, idle_seconds=idle_seconds)
    t0 = time.monotonic()
    first, frames = None, 0
    for k in range(12):
        for j, name in enumerate(senders):
            due = t0 + k * span + span * (j + 1) / len(senders)
            time.sleep(max(0.0, due - time.monotonic()))
            out = sorter.push(name, row_ops(streams[name]).take(
                streams[name], slice(k * block, (k + 1) * block)))
            if out and first is None:
                first = time.monotonic() - t0
            frames += sum(len(b) for b in out)
    return {"idle_input": idle, "idle_seconds": idle_seconds, "block": block,
            "rate_hz_per_input": rate_hz, "first_output_s": first,
            "frames_out_before_flush": frames,
            "idle_releases": sorter.counters.total("idle_releases"),
            "late": sorter.counters.total("late")}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="bench/results/sorter.json", help="JSON result file")
    ap.add_argument("--frames", type=int, default=50_000, help="frames per input")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("gpsa.globallevel").setLevel(logging.ERROR)  # the idle stream's warnings
    rng = np.random.default_rng(0)
    names = [f"{i:02d}A" for i in range(N_INPUTS)]
    streams = {n: crystal_stream(args.frames, i, float(rng.uniform(10e3, 60e3)), rng)
               for i, n in enumerate(names)}
    reference = plain_sort(streams)
    results: dict[str, Any] = {
        "benchmark": "sorter", "machine": machine_info(), "inputs": N_INPUTS,
        "command": " ".join(["python bench/bench_sorter.py",
                             *(sys.argv[1:] if argv is None else argv)])}
    with tempfile.TemporaryDirectory() as tmp:
        files = {}
        for name, s in streams.items():
            files[name] = Path(tmp) / f"{name}.adf"
            with AdfWriter(files[name]) as w:
                w.write(s)
        results["file_bytes"] = sum(f.stat().st_size for f in files.values())
        list(sort_files({n: files[n] for n in names[:2]}, TimeSorter(idle_ticks=0, idle_seconds=0)))
        results["throughput"] = [throughput(files, reference, b, args.repeats)
                                 for b in (16384, 4096)]
    for r in results["throughput"]:
        log.info("%5d frames/block: reader %.2f M frames/s, reader + sorter %.2f M frames/s "
                 "(best; ratio %.2f; medians %.2f / %.2f)", r["frames_per_block"],
                 r["reader_frames_per_s"]["best"] / 1e6, r["sorter_frames_per_s"]["best"] / 1e6,
                 r["sorter_over_reader_best"], r["reader_frames_per_s"]["median"] / 1e6,
                 r["sorter_frames_per_s"]["median"] / 1e6)
    results["sorter_alone_delays_one_idle"] = alone = sorter_alone(streams, reference,
                                                                   args.repeats)
    log.info("sorter alone (random delays, one idle input): %.2f M frames/s best, %d late",
             alone["frames_per_s"]["best"] / 1e6, alone["late_frames"])
    results["time_to_first_output"] = ttfo = [first_output(False), first_output(True)]
    for r in ttfo:
        log.info("first output %s: %.3f s (idle_seconds %.1f, releases %d, late %d)",
                 "with one idle input" if r["idle_input"] else "all inputs sending",
                 r["first_output_s"], r["idle_seconds"], r["idle_releases"], r["late"])
    results["load_average_1_5_15_after"] = list(os.getloadavg())
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    log.info("wrote %s", out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
