"""Accuracy part of the PSA benchmark only, merged into an existing ``bench/results/psa.json``.

Runs the same accuracy table as ``bench/bench_psa.py --accuracy`` (``gpsa.bench.accuracy``, numba
backend, same search settings and event seed as :func:`gpsa.bench.report.run_all`) on the
``real`` source of :mod:`gpsa.bench.sources` (events from different generator settings than
the searched basis, ``EVENT_SETTINGS_CHANGES``), and replaces the ``accuracy`` rows of the JSON,
keeping its speed part; ``runs`` records which run each part came from.

Usage (from the repository root)::

    python bench/bench_psa_accuracy.py --accuracy-events 600
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench._machine from the repo

from bench._machine import machine_info  # noqa: E402
from gpsa.bench.accuracy import accuracy_table  # noqa: E402
from gpsa.bench.sources import TRACE_T0, get_source  # noqa: E402
from gpsa.psa.settings import PsaSettings  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "psa.json"


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--accuracy-events", type=int, default=600, help="events per noise level")
    ap.add_argument("--samples", type=int, default=40, help="samples compared (default 40)")
    ap.add_argument("--output", type=Path, default=RESULTS, help="JSON to merge into")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    start = time.perf_counter()
    src = get_source("real", None)
    basis = src.basis
    samples = min(args.samples, basis.n_samples - basis.t0_sample)
    base = PsaSettings(samples=samples, default_t0=TRACE_T0, backend="numba")
    rows = accuracy_table(basis, lambda nz: src.make_events(args.accuracy_events, nz, 7),
                          base=base)
    wall = time.perf_counter() - start

    result = json.loads(args.output.read_text()) if args.output.exists() else {}
    machine = machine_info()
    previous = result.get("machine", {}).get("time_utc", "unknown")
    result["accuracy"] = rows
    result["accuracy_events"] = (
        "events not made from the searched basis: continuous positions, fractional T0, and "
        "different generator settings than the basis (see accuracy_run.event_settings)"
        if src.independent_events else "events interpolated from the searched basis file")
    result["accuracy_run"] = {
        "command": "python bench/bench_psa_accuracy.py " + " ".join(argv),
        "source": src.description,
        "event_settings": {k: {"basis": a, "events": b}
                           for k, (a, b) in src.event_settings.items()},
        "events_per_noise": args.accuracy_events, "samples_compared": samples,
        "wall_s": round(wall, 1), "machine": machine}
    result.setdefault("runs", {})
    if "speed" in result:
        result["runs"]["speed"] = (
            f"basis, events, speed, summary, roofline, efficiency, gpu, machine: the full "
            f"bench/bench_psa.py run of {previous} (its events: basis.source)")
    result["runs"]["accuracy"] = (
        f"accuracy, accuracy_events, accuracy_run: bench/bench_psa_accuracy.py run of "
        f"{machine['time_utc']}")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    for r in rows:
        print(f"noise {r['noise']:g} p {r['p']:g} {r['search']:4s} refine {r['refine']!s:5s} "
              f"median {r['median_3d_mm']:.2f} FWHM {r['fwhm_x_mm']:.2f} {r['fwhm_y_mm']:.2f} "
              f"{r['fwhm_z_mm']:.2f} >5mm {r['outliers_5mm_pct']:.1f}%")
    print(f"accuracy wall time {wall:.0f} s; merged into {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
