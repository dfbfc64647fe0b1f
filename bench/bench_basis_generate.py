"""Physical basis generation time: the 6 mm test basis (3 mm fields) and the full 2 mm basis
(1 mm fields, ~47 k points), each from scratch (no field cache), split into field solving and
signal computation (drift + induction + response). The numba kernels are compiled (or loaded
from numba's cache) by a small warm-up run first, timed separately. Every timed basis is
checked: all carriers collected, Σ segments = core, hit segment and core ending at 1.

    python bench/bench_basis_generate.py [--out bench/results/basis_generate.json] [--skip-full]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine_info  # noqa: E402

from gpsa.basis.generate import GeneratorSettings, generate_basis_with_report  # noqa: E402
from gpsa.detector.segmentation import CrystalGeometry  # noqa: E402

log = logging.getLogger("bench_basis_generate")

CASES = {
    "test_6mm": {"grid_mm": 6.0, "field_grid_mm": 3.0},
    "full_2mm": {"grid_mm": 2.0, "field_grid_mm": 1.0},
}


def checks(basis: Any, report: Any) -> dict[str, Any]:
    sig = basis.signals
    idx = np.arange(len(basis))
    t = report.drift_time_ns
    return {
        "not_collected": report.n_not_collected,
        "max_abs_segments_minus_core": float(np.abs(sig[:, :36].sum(1) - sig[:, 36]).max()),
        "hit_segment_final_min_median": [float(sig[idx, basis.segment, -1].min()),
                                         float(np.median(sig[idx, basis.segment, -1]))],
        "core_final_min": float(sig[:, 36, -1].min()),
        "drift_time_ns_min_median_p99_max": np.nanpercentile(t, [0, 50, 99, 100]).round(1)
        .tolist(),
    }


def run_case(name: str, grid_mm: float, field_grid_mm: float) -> dict[str, Any]:
    geometry = CrystalGeometry.default("A")
    settings = GeneratorSettings(field_grid_mm=field_grid_mm)
    t0 = time.perf_counter()
    basis, report = generate_basis_with_report(geometry, grid_mm, settings, cache_dir=None)
    total = time.perf_counter() - t0
    result = {"grid_mm": grid_mm, "field_grid_mm": field_grid_mm, "points": len(basis),
              "samples": basis.n_samples, "total_s": round(total, 2),
              "fields_s": round(report.timings_s["fields"], 2),
              "signals_s": round(report.timings_s["signals"], 2),
              "points_per_s": round(len(basis) / report.timings_s["signals"], 1),
              "field_levels_spacing_sweeps": json.loads(basis.generator)["fields_levels"],
              "checks": checks(basis, report)}
    log.info("%s: %d points in %.1f s (fields %.1f s, signals %.1f s)", name, len(basis), total,
             report.timings_s["fields"], report.timings_s["signals"])
    c = result["checks"]
    if c["not_collected"] or c["max_abs_segments_minus_core"] > 0.01:
        raise SystemExit(f"{name}: physics check failed: {c}")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" /
                                             "basis_generate.json"))
    parser.add_argument("--skip-full", action="store_true", help="only the 6 mm test basis")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    logging.getLogger("numba").setLevel(logging.WARNING)

    t0 = time.perf_counter()
    generate_basis_with_report(CrystalGeometry.default("A"), 12.0,
                               GeneratorSettings(field_grid_mm=4.0))
    warmup = time.perf_counter() - t0
    results: dict[str, Any] = {"benchmark": "basis_generate", "machine": machine_info(),
                               "warmup_compile_s": round(warmup, 2), "cases": {}}
    for name, case in CASES.items():
        if args.skip_full and name != "test_6mm":
            continue
        results["cases"][name] = run_case(name, **case)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results["cases"], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
