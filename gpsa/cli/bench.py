"""``gpsa bench``: PSA speed of every available backend on the same events, agreement with the
exhaustive numpy reference, a roofline of the same arithmetic, (``--accuracy``) an accuracy
table against truth, and every other registered PSA algorithm (installed plugins such as
gpsa-mlpsa) on the same events: its training time, events/s, speed relative to the grid search
and accuracy beside the grid search's (:mod:`gpsa.bench.algorithms`).

::

    gpsa bench [--device cpu|cuda|cuda:N|auto] [--basis FILE | --source real|toy|toy-small]
               [--events 4000] [--reference-events 1000] [--accuracy] [--output results.json]
               [--repeat 3] [--json] [--psa NAME[,NAME] | --no-plugins]

Bases and events: see :mod:`gpsa.bench.sources` (default: gpsa's generated basis of AGATA
shape A on a 2 mm grid, cached in ``bases/cache/``, and events computed at continuous positions
with other generator settings: finer field grid, impurity +10 %, τ 38 ns — not made from the
searched basis).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Any

from gpsa.cli.options import DEVICE_METAVAR, device_arg
from gpsa.cli.output import _json_default, print_json, print_line, print_table
from gpsa.paths import atomic_output, check_output_file

log = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("bench", help="benchmark the PSA backends",
                              description="Benchmark grid-search PSA: searches/s per backend, "
                              "agreement with the numpy reference, roofline, accuracy; every other "
                              "registered PSA algorithm (plugins) beside it on the same events.")
    p.add_argument("--device", default="cpu", type=device_arg, metavar=DEVICE_METAVAR,
                   help="compute device (cuda adds the GPU backend; default cpu)")
    p.add_argument("--basis", metavar="FILE", help="basis file (events interpolated from it)")
    p.add_argument("--source", choices=("real", "toy", "toy-small"),
                   help="without --basis: gpsa's generated basis and events from other "
                   "generator settings (real, the default when the generator is installed), "
                   "or the toy model of gpsa.bench.toy")
    p.add_argument("--events", type=int, default=4000, help="events for the fast backends")
    p.add_argument("--reference-events", type=int, default=1000,
                   help="events for the numpy reference (and the agreement figures)")
    p.add_argument("--noise", type=float, default=0.01,
                   help="noise, rms per sample as a fraction of the energy (default 0.01)")
    p.add_argument("--samples", type=int, default=40, help="samples compared (default 40)")
    p.add_argument("--accuracy", action="store_true", help="also run the accuracy table")
    p.add_argument("--accuracy-events", type=int, default=600, help="events per noise level")
    p.add_argument("--output", metavar="FILE", help="write the results as JSON to FILE")
    p.add_argument("--repeat", type=int, default=3, help="timed runs per case (best kept)")
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    algos = p.add_mutually_exclusive_group()
    algos.add_argument("--psa", metavar="NAME[,NAME]",
                       help="registered PSA algorithms run beside the grid search (default: "
                       "all of them, see `gpsa plugins`)")
    algos.add_argument("--no-plugins", action="store_true",
                       help="only the grid search: no other registered PSA algorithm")
    p.set_defaults(func=run_bench)


def machine_info() -> dict[str, Any]:
    """bench/_machine.py's description when run from the repository, else a short one."""
    try:
        from bench._machine import machine_info as info  # type: ignore[import-not-found]

        return info()
    except ImportError:
        import os
        import platform

        return {"platform": platform.platform(), "cpu_count": os.cpu_count(),
                "python": platform.python_version()}


def run_bench(args: argparse.Namespace) -> int:
    from gpsa.device import select_device

    device = select_device(args.device, stream=sys.stderr)  # before any work; DeviceError: exit 2
    from gpsa.bench.algorithms import select_algorithms
    from gpsa.bench.report import run_all

    names: list[str] | None = None
    if args.no_plugins:
        names = []
    elif args.psa is not None:
        names = [n.strip() for n in args.psa.split(",") if n.strip()]
    names = select_algorithms(names)  # an unknown name: one-line ConfigError, before any work
    if args.output:
        check_output_file(args.output)  # before the benchmark, not after
    result = run_all(device=device, basis_file=args.basis, source=args.source, events=args.events,
                     reference_events=args.reference_events, noise=args.noise,
                     samples=args.samples, accuracy=args.accuracy,
                     accuracy_events=args.accuracy_events, repeat=args.repeat, algorithms=names)
    result["machine"] = machine_info()
    if args.output:
        with atomic_output(args.output) as tmp:
            tmp.write_text(json.dumps(result, indent=2, default=_json_default) + "\n")
    if args.json:
        print_json(result)
        return 0
    print_line(f"basis: {result['basis']['source']} ({result['basis']['points']} points); "
               f"device: {result['device']}")
    print_table("PSA speed (same events; agreement = same best grid point as the exhaustive "
                "numpy reference with the same p)",
                ["backend", "search", "p", "shortlist", "rank", "threads", "searches/s",
                 "events/s", "agreement %", "median err mm"],
                [[r["backend"], r["search"], r["p"], r["shortlist"], r["rank"] or "-",
                  r["threads"] or "default",
                  f"{r['searches_per_s']:.0f}", f"{r['events_per_s']:.0f}",
                  "-" if r["agreement"] is None else f"{100 * r['agreement']:.2f}",
                  "-" if r["median_error_mm"] is None else f"{r['median_error_mm']:.2f}"]
                 for r in result["speed"]])
    print_table("Ratios", ["figure", "value"],
                [[k, f"{v:.3g}" if isinstance(v, float) else v]
                 for k, v in result["summary"].items()])
    roof = result["roofline"]
    print_table("Roofline (largest segment, no early exit)", ["quantity", "value"],
                [[k, f"{v:.4g}" if isinstance(v, float) else v] for k, v in roof.items()])
    print_table("Efficiency vs roofline", ["quantity", "value"],
                [[k, f"{v:.3g}" if isinstance(v, float) else v]
                 for k, v in result["efficiency"].items()])
    if result.get("algorithms"):
        print_algorithms(result["algorithms"], result["events"]["n"])
    if result.get("accuracy"):
        print_table("Accuracy vs truth (refine = sub-grid + T0)",
                    ["noise", "p", "search", "refine", "median 3D mm", "FWHM x", "FWHM y",
                     "FWHM z", ">5 mm %", "T0 rms"],
                    [[r["noise"], r["p"], r["search"], r["refine"], f"{r['median_3d_mm']:.2f}",
                      f"{r['fwhm_x_mm']:.2f}", f"{r['fwhm_y_mm']:.2f}", f"{r['fwhm_z_mm']:.2f}",
                      f"{r['outliers_5mm_pct']:.1f}", f"{r['t0_rms_samples']:.3f}"]
                     for r in result["accuracy"]])
    if args.output:
        print_line(f"results written to {args.output}")
    return 0


def _fmt(value: Any, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def print_algorithms(rows: list[dict[str, Any]], n_events: int) -> None:
    """The registered PSA algorithms beside the grid search: one line each (a failure too)."""
    base = rows[0]
    table = []
    for r in rows:
        acc = r["accuracy"] or {}
        if r["error"]:
            table.append([r["name"], r["plugin"], f"FAILED: {r['error']}"] + ["-"] * 9)
            continue
        table.append([r["name"], r["plugin"], _fmt(r["setup_s"], ".2f"),
                      _fmt(r["events_per_s"], ".0f"), _fmt(r["searches_per_s"], ".0f"),
                      _fmt(r["speed_vs_grid_search"], ".3g"),
                      _fmt(acc.get("median_3d_mm"), ".2f"), _fmt(acc.get("fwhm_x_mm"), ".2f"),
                      _fmt(acc.get("fwhm_y_mm"), ".2f"), _fmt(acc.get("fwhm_z_mm"), ".2f"),
                      _fmt(acc.get("outliers_5mm_pct"), ".1f"),
                      _fmt(acc.get("hits_per_event"), ".2f")])
    print_table(f"PSA algorithms on the same {n_events} events (default settings; x grid = "
                f"events/s relative to grid search {base['settings'].get('label', '')}; "
                "setup s = training time, not in the speed)",
                ["algorithm", "plugin", "setup s", "events/s", "searches/s", "x grid",
                 "median 3D mm", "FWHM x", "FWHM y", "FWHM z", ">5 mm %", "hits/event"], table)
