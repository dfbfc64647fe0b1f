"""Runs the whole of ``gpsa check gpu`` and returns one JSON-ready report (see
:mod:`gpsa.bench.gpu_check` for the variants and tolerances, :mod:`gpsa.cli.check` for the
command). On a CUDA device: every variant, numba and raw kernels. Without one: every variant of
the numba kernel on the numpy host path, then the quick variants under the CUDA simulator, and
the report says so (``mode``)."""

from __future__ import annotations

import importlib
import logging
import platform
import time
from typing import Any

from gpsa.bench.gpu_check import (
    TOLERANCES,
    all_variants,
    make_blocks,
    quick_variants,
    run_variant,
    time_stream,
    toy_basis,
)
from gpsa.bench.gpu_check_counts import launch_counts
from gpsa.bench.gpu_check_sim import run_simulator
from gpsa.device import Device

log = logging.getLogger(__name__)

NO_GPU_MODE = "numpy host path / CUDA simulator"


def device_info(device: Device) -> dict[str, Any]:
    """GPU name, driver, CUDA runtime and CuPy versions; or what ran instead of a GPU."""
    import numba
    import numpy

    info: dict[str, Any] = {"python": platform.python_version(), "numpy": numpy.__version__,
                            "numba": numba.__version__, "platform": platform.platform()}
    if not device.is_cuda:
        return {**info, "gpu": NO_GPU_MODE, "driver": None, "cuda_runtime": None,
                "cupy": None}
    cupy = importlib.import_module("cupy")
    rt = cupy.cuda.runtime
    props = rt.getDeviceProperties(device.index)
    name = props.get("name", b"?")
    return {**info, "gpu": name.decode() if isinstance(name, bytes) else str(name),
            "index": device.index, "driver": int(rt.driverGetVersion()),
            "cuda_runtime": int(rt.runtimeGetVersion()), "cupy": cupy.__version__,
            "sm": f"{props.get('major', '?')}{props.get('minor', '?')}",
            "memory_bytes": int(props.get("totalGlobalMem", 0))}


def run_check(device: Device, *, quick: bool = False, events: int = 400, blocks: int = 2,
              simulator: bool = True, sim_events: int = 3, budget_s: float = 270.0,
              seed: int = 0) -> dict[str, Any]:
    """Every variant against the numba CPU results, the timing, the simulator part (no GPU)."""
    start = time.perf_counter()
    kernels = ["numba", "raw"] if device.is_cuda else ["numba"]
    variants = (quick_variants if quick else all_variants)(kernels)
    basis = toy_basis()
    stream = {n: make_blocks(events, blocks, n, seed) for n in (1, 3)}
    cache: dict[Any, Any] = {}
    rows: list[dict[str, Any]] = []
    skipped: list[str] = []
    mode = f"CUDA device {device}" if device.is_cuda else "numpy host path"
    for v in variants:
        if time.perf_counter() - start > budget_s:
            skipped.append(v.label)
            continue
        rows.append(dict(run_variant(v, basis, stream[v.interactions], device, cache),
                         mode=mode))
        log.info("%s: agreement %.4f", v.label, rows[-1]["agreement"])
    sim_rows: list[dict[str, Any]] = []
    sim_error = None
    if simulator and not device.is_cuda:
        try:
            sim_rows = run_simulator(sim_events, seed, timeout_s=max(60.0, budget_s))
        except Exception as exc:  # noqa: BLE001 - reported as a failure, not a traceback
            sim_error = str(exc)
    timing = time_stream(basis, stream[1] + stream[3], device)
    counts = launch_counts(basis, {n: blocks_[0] for n, blocks_ in stream.items()}, device)
    ok = (all(r["ok"] for r in rows + sim_rows) and not skipped and sim_error is None
          and bool(rows))
    return {
        "mode": mode if device.is_cuda else NO_GPU_MODE,
        "device": device_info(device),
        "kernels": kernels,
        "kernels_not_run": [] if device.is_cuda else [
            "raw (the CUDA C kernel runs only through CuPy; compiled by nvcc in the tests)"],
        "events_per_block": events, "blocks": blocks, "basis": "gpsa.bench.toy small, 2 mm",
        "tolerances": {f"{d} {n}-int": {"min_agree": a, f"{stat}_rel_fom": r}
                       for (d, n), (a, stat, r) in TOLERANCES.items()},
        "variants": rows, "simulator": sim_rows, "simulator_error": sim_error,
        "skipped_for_time": skipped,
        "launch_counts": counts,
        "timing": {"what": ("hits/s of the default settings (p = 1, full, refined), same "
                            "blocks, device synchronised before the clock stops"),
                   "gpu_is": ("a CUDA device" if device.is_cuda else
                              "the GPU host code on numpy (not a GPU speed)"), **timing},
        "seconds": time.perf_counter() - start, "ok": ok,
    }
