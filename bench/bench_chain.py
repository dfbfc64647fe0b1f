"""Whole-chain throughput (ADF file in → preprocess → PSA → post-PSA → ADF file out) against the
PSA alone on the same events, in one run.

Simulated events of one crystal are written to a data:crystal ADF file first. Then, each timed:

* **chain** — ``adf-reader → preprocess → psa (W workers) → post-psa → adf-writer`` through
  :class:`gpsa.runtime.chain.Chain` (threads, bounded queues), wall time from start to the last
  frame written;
* **psa alone** — ``GridSearchPSA.run`` on the same preprocessed blocks held in memory, one
  thread, no I/O (the numba kernels parallelise internally in both cases).

Both are warmed up first (numba compilation is excluded). Correctness: the hits of the chain's
output file must equal the PSA-alone hits exactly.

    python bench/bench_chain.py [--out bench/results/chain.json] [--events N] [--workers W]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine_info  # noqa: E402

from gpsa.actors.adf_io import AdfFileReader, AdfFileWriter  # noqa: E402
from gpsa.actors.postpsa import PostPsa  # noqa: E402
from gpsa.actors.preprocess import Preprocess  # noqa: E402
from gpsa.actors.psa import PsaFilter  # noqa: E402
from gpsa.block import PsaBlock  # noqa: E402
from gpsa.runtime.actor import RunContext  # noqa: E402
from gpsa.runtime.chain import Chain  # noqa: E402
from gpsa.runtime.outputs import commit_outputs  # noqa: E402


def make_input(folder: Path, events: int, grid_mm: float) -> tuple[Path, Path]:
    """A toy basis file and a data:crystal ADF file of ``events`` simulated events."""
    from gpsa.adf import AdfWriter
    from gpsa.basis.grid import BasisGrid
    from gpsa.basis.io import load_basis, write_basis
    from gpsa.bench.toy import ToyCrystal, toy_basis
    from gpsa.simulate import SimConfig, simulate_crystal

    basis = folder / "basis.h5"
    write_basis(basis, toy_basis(ToyCrystal(), grid_mm=grid_mm, n_samples=60, t0_sample=10))
    raw = folder / "raw.adf"
    with AdfWriter(raw, eof=True) as w:
        for batch in simulate_crystal(BasisGrid.from_basis(load_basis(basis)), events,
                                      config=SimConfig(block_size=500)):
            w.write(batch.block)
    return basis, raw


def run_chain(basis: Path, raw: Path, out: Path, workers: int, block: int) -> dict[str, Any]:
    ctx = RunContext(crystal="00A", output_dir=out.parent)
    psa = PsaFilter(basis=str(basis))
    psa.label = "psa"
    chain = Chain(AdfFileReader(path=str(raw), frames_per_block=block),
                  [Preprocess(align_t0=20), psa, PostPsa()],
                  [AdfFileWriter(path=str(out))], workers={"psa": workers}, context=ctx)
    res = chain.run()
    commit_outputs(ctx.outputs, complete=True)  # as the run host does: NAME.partial -> NAME
    return {"wall_seconds": res.wall_seconds, "events": res.events_out,
            "events_per_second": res.rate, "actors": [s.to_dict() for s in res.stats]}


def run_psa_alone(basis: Path, raw: Path, block: int) -> tuple[dict[str, Any], PsaBlock]:
    from gpsa.adf import iter_blocks

    pre = Preprocess(align_t0=20)
    pre.start(RunContext())
    blocks = [pre.process(b.crystal) for b in iter_blocks(raw, frames_per_block=block)
              if b.crystal is not None and len(b.crystal)]
    psa = PsaFilter(basis=str(basis))
    psa.start(RunContext())
    t = time.perf_counter()
    results = [psa.process(b) for b in blocks]
    dt = time.perf_counter() - t
    n = sum(len(b) for b in blocks)
    return {"seconds": dt, "events": n, "events_per_second": n / dt}, PsaBlock.concat(results)


STORED = ("event_index", "status", "segment", "crystal", "x", "y", "z", "energy", "time")


def same_hits(a: PsaBlock, b: PsaBlock) -> bool:
    """Equal hits in every column data:psa stores (``fom`` is not stored)."""
    return len(a.hits) == len(b.hits) and all(
        np.array_equal(getattr(a.hits, c), getattr(b.hits, c), equal_nan=True) for c in STORED)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "chain.json"))
    ap.add_argument("--events", type=int, default=4000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--block", type=int, default=500, help="events per block")
    ap.add_argument("--grid-mm", type=float, default=6.0)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    from gpsa.adf import read_all

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        basis, raw = make_input(folder, args.events, args.grid_mm)
        run_psa_alone(basis, raw, 50)  # warm-up: numba compilation, page cache
        alone, reference = run_psa_alone(basis, raw, args.block)
        chain = run_chain(basis, raw, folder / "psa.adf", args.workers, args.block)
        chain1 = run_chain(basis, raw, folder / "psa1.adf", 1, args.block)
        same = all(same_hits(read_all(folder / name).psa, reference)
                   for name in ("psa.adf", "psa1.adf"))
        bytes_in = raw.stat().st_size
    result = {
        "benchmark": "chain", "machine": machine_info(),
        "settings": {"events": args.events, "block": args.block, "grid_mm": args.grid_mm,
                     "psa_workers": args.workers, "algorithm": "grid-search (defaults)"},
        "input_bytes": bytes_in,
        "psa_alone": alone,
        "chain": chain,
        "chain_1_worker": chain1,
        "chain_over_psa_alone": chain["events_per_second"] / alone["events_per_second"],
        "chain_input_mb_per_second": bytes_in / chain["wall_seconds"] / 1e6,
        "correct": bool(same),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"psa alone: {alone['events_per_second']:,.0f} ev/s; chain ({args.workers} PSA "
          f"workers): {chain['events_per_second']:,.0f} ev/s; chain (1 worker): "
          f"{chain1['events_per_second']:,.0f} ev/s; ratio "
          f"{result['chain_over_psa_alone']:.2f}; outputs identical: {same}")
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
