"""The CUDA-simulator part of ``gpsa check gpu`` (``python -m gpsa.bench.gpu_check_sim``).

Run in its own process with ``NUMBA_ENABLE_CUDASIM=1`` (numba reads it when numba.cuda is first
imported), it runs the quick variants of the numba kernel through the GPU backend, so the
numba.cuda kernel itself executes (on the CPU, one Python thread per CUDA thread), with 16-thread
blocks to keep it quick (the kernel's reduction is tested at any power of two in
``tests/psa/test_gpu_sim.py``). Every batched variant is run with the tiled kernels too
(:func:`gpsa.bench.gpu_check.runs_tiled_twin`; their blocks are whole warps, so 32 threads:
:mod:`gpsa.psa.gpu_tiled`). Prints one JSON document: the variant results.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from typing import Any

#: Threads per block under the simulator.
SIM_THREADS = 16


def run_simulator(events: int, seed: int, timeout_s: float) -> list[dict[str, Any]]:
    """Run this module in a subprocess under the simulator and return its variant results."""
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    res = subprocess.run([sys.executable, "-m", "gpsa.bench.gpu_check_sim", "--events",
                          str(events), "--seed", str(seed)], capture_output=True, text=True,
                         env=env, timeout=timeout_s)
    if res.returncode != 0:
        tail = res.stderr.strip().splitlines()[-1] if res.stderr.strip() else "no output"
        raise RuntimeError(f"CUDA simulator run failed (exit {res.returncode}): {tail}")
    return list(json.loads(res.stdout)["variants"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gpsa.bench.gpu_check_sim")
    parser.add_argument("--events", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if os.environ.get("NUMBA_ENABLE_CUDASIM") != "1":
        parser.error("run with NUMBA_ENABLE_CUDASIM=1 (gpsa check gpu does)")
    from gpsa.bench.gpu_check import make_blocks, quick_variants, run_variant, toy_basis
    from gpsa.device import select_device

    basis = toy_basis()
    blocks = {n: make_blocks(args.events, 1, n, args.seed) for n in (1, 3)}
    cache: dict[Any, Any] = {}
    rows = [dict(run_variant(v, basis, blocks[v.interactions], select_device("cpu"), cache,
                             block_threads=SIM_THREADS), mode="CUDA simulator")
            for v in quick_variants(["numba"])]
    json.dump({"variants": rows}, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
