"""ADF decode throughput: data:crystal (38 × 100 int16 traces, ~7.8 kB/frame) and data:psa
(1–5 hits/frame) files read with :func:`gpsa.adf.iter_blocks`, compared with just reading the
same file's bytes in the same run (page cache warm for both; best-of and median of several
repeats, interleaved). Each timed decode is checked against the data that was written.

    python bench/bench_adf.py [--out bench/results/adf.json] [--events N] [--repeats R]
"""

from __future__ import annotations

import argparse
import io
import json
import logging
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

from gpsa.adf import AdfWriter, iter_blocks  # noqa: E402
from gpsa.block import CrystalBlock, PsaBlock, PsaEvents, PsaHits  # noqa: E402

log = logging.getLogger("bench_adf")
BLOCK_BYTES = 8 << 20


def crystal_block(n: int, rng: np.random.Generator) -> CrystalBlock:
    traces = rng.integers(-2000, 8000, (n, 38, 100), dtype=np.int16)
    return CrystalBlock.from_traces(traces, energies=rng.random((n, 38), np.float32) * 1000,
                                    timestamps=np.cumsum(rng.integers(1, 1000, n)),
                                    crystal_ids=7, t0=rng.random(n, np.float32) * 20)


def psa_block(n: int, rng: np.random.Generator) -> PsaBlock:
    counts = rng.integers(1, 6, n)
    m = int(counts.sum())
    f = lambda k: rng.random(k, np.float32)  # noqa: E731
    events = PsaEvents(timestamps=np.cumsum(rng.integers(1, 1000, n)).astype(np.uint64),
                       event_numbers=np.arange(n, dtype=np.uint32),
                       crystal_ids=np.full(n, 7, np.uint16), status=np.zeros(n, np.uint16),
                       e0=f(n), e1=f(n), t0=f(n), t1=f(n), psa_status=np.zeros(n, np.uint16))
    hits = PsaHits.build(np.repeat(np.arange(n), counts), segment=rng.integers(0, 36, m),
                         crystal=np.full(m, 7), x=f(m), y=f(m), z=f(m), energy=f(m), time=f(m),
                         t_cc_e=f(m), t_cc_h=f(m), t_sg_e=f(m), t_sg_h=f(m))
    return PsaBlock(events, hits)


def read_bytes(path: Path) -> int:
    """Baseline: read the file in the reader's block size into a numpy buffer, nothing else."""
    total = 0
    buf = np.empty(BLOCK_BYTES, np.uint8)
    with open(path, "rb") as fh:
        while n := fh.readinto(memoryview(buf)):
            total += n
    return total


def decode(path: Path, attr: str) -> list[Any]:
    return [getattr(b, attr) for b in iter_blocks(path, bytes_per_block=BLOCK_BYTES)]


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def measure(path: Path, attr: str, expected: Any, repeats: int) -> dict[str, Any]:
    size = path.stat().st_size
    read_s, dec_s = [], []
    for i in range(repeats):
        t, got = timed(lambda: read_bytes(path))
        assert got == size
        read_s.append(t)
        t, blocks = timed(lambda: decode(path, attr))
        dec_s.append(t)
        if i == 0:  # correctness paired with the timing
            assert type(expected).concat(blocks).equals(expected), f"{attr}: decode mismatch"
        del blocks
    mb = size / 1e6
    best_r, best_d = min(read_s), min(dec_s)
    med_r, med_d = statistics.median(read_s), statistics.median(dec_s)
    return {
        "file_bytes": size, "frames": len(expected), "repeats": repeats,
        "read_s": read_s, "decode_s": dec_s,
        "read_MBps_best": mb / best_r, "read_MBps_median": mb / med_r,
        "decode_MBps_best": mb / best_d, "decode_MBps_median": mb / med_d,
        "decode_frames_per_s_best": len(expected) / best_d,
        "decode_over_read_throughput_best": best_r / best_d,
        "decode_over_read_throughput_median": med_r / med_d,
    }


def measure_encode(value: Any, repeats: int) -> dict[str, Any]:
    times, size = [], 0
    for _ in range(repeats):
        sink = io.BytesIO()
        t, _ = timed(lambda: AdfWriter(sink).write(value))  # noqa: B023
        size = sink.getbuffer().nbytes
        times.append(t)
    return {"encode_MBps_best": size / 1e6 / min(times),
            "encode_MBps_median": size / 1e6 / statistics.median(times), "encode_s": times}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="bench/results/adf.json", help="JSON result file")
    ap.add_argument("--events", type=int, default=20_000, help="data:crystal events")
    ap.add_argument("--psa-events", type=int, default=None,
                    help="data:psa events (default 10 × --events)")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    rng = np.random.default_rng(0)
    n_psa = args.psa_events or 10 * args.events
    crystal, psa = crystal_block(args.events, rng), psa_block(n_psa, rng)
    decode(_tiny_file(), "crystal")  # compile/load the numba scans outside the timings
    results: dict[str, Any] = {"benchmark": "adf", "machine": machine_info(),
                               "block_bytes": BLOCK_BYTES,
                               "command": " ".join(["python bench/bench_adf.py",
                                                    *(sys.argv[1:] if argv is None else argv)])}
    with tempfile.TemporaryDirectory() as tmp:
        for name, value, attr in (("data:crystal", crystal, "crystal"), ("data:psa", psa, "psa")):
            path = Path(tmp) / f"{attr}.adf"
            with AdfWriter(path) as w:
                w.write(value)
            r = measure(path, attr, value, args.repeats)
            r.update(measure_encode(value, min(args.repeats, 3)))
            results[name] = r
            log.info("%-12s %7.1f MB %8d frames: read %7.0f MB/s, decode %7.0f MB/s best "
                     "(%6.0f median), decode/read %.2f best %.2f median, encode %6.0f MB/s",
                     name, r["file_bytes"] / 1e6, r["frames"], r["read_MBps_best"],
                     r["decode_MBps_best"], r["decode_MBps_median"],
                     r["decode_over_read_throughput_best"],
                     r["decode_over_read_throughput_median"], r["encode_MBps_best"])
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    log.info("wrote %s", out)
    return 0


def _tiny_file() -> io.BytesIO:
    buf = io.BytesIO()
    AdfWriter(buf).write(crystal_block(2, np.random.default_rng(1)))
    buf.seek(0)
    return buf


if __name__ == "__main__":
    sys.exit(main())
