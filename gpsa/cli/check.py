"""``gpsa check gpu``: every GPU variant against the numba CPU backend, timings, launches and
transfers per block, a JSON report (see :mod:`gpsa.bench.gpu_check` and docs/gpu.md). Exit 1 on
any disagreement beyond the stated tolerances."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from gpsa.cli.options import DEVICE_METAVAR, device_arg
from gpsa.cli.output import print_line, print_table


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("check", help="self-checks of an installation (gpu)",
                       description="Self-checks of this installation on this machine.")
    what = p.add_subparsers(dest="check", metavar="WHAT")
    g = what.add_parser("gpu", help="every GPU variant against the numba CPU backend",
                        description="Run every GPU variant (numba and raw kernels, float32 and "
                        "float16 basis, p = 2/1/0.5/0.3, full/AGS/shortlist, 1 and 3 "
                        "interactions, refinement) against the numba CPU results on the same "
                        "events; time hits/s GPU vs CPU; print launches and transfers per "
                        "block. Without a GPU: the numpy host path and the CUDA simulator. "
                        "Exit 1 on any disagreement.")
    g.add_argument("--device", default="auto", type=device_arg, metavar=DEVICE_METAVAR,
                   help="cpu, cuda, cuda:N or auto (default: a GPU if usable, else the numpy "
                   "host path)")
    g.add_argument("--quick", action="store_true",
                   help="a subset of variants covering every value of each axis, on "
                   "--events 60 unless given (seconds instead of minutes)")
    g.add_argument("--events", type=int, default=None, metavar="N",
                   help="events per block (default 400, 60 with --quick)")
    g.add_argument("--blocks", type=int, default=None, metavar="N",
                   help="blocks per interaction count (default 2, 1 with --quick)")
    g.add_argument("--no-simulator", action="store_true",
                   help="without a GPU, skip the CUDA-simulator part")
    g.add_argument("--budget", type=float, default=270.0, metavar="S",
                   help="stop starting variants after S seconds (those left count as "
                   "failures; default 270)")
    g.add_argument("--out", type=Path, default=None, metavar="FILE",
                   help="write the JSON report here")
    g.add_argument("--json", action="store_true", help="print the JSON report")
    g.set_defaults(func=check_gpu)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def _rows(results: list[dict[str, Any]]) -> list[list[Any]]:
    out = []
    for r in results:
        b = r["per_block"]
        out.append([r["label"], r["mode"], r["hits"], f"{r['agreement']:.4f}",
                    f"{r['max_rel_fom']:.1e}", f"{r['p99_rel_fom']:.1e}",
                    "ok" if r["ok"] else "FAIL",
                    f"{b['launches']:.0f}", f"{b['h2d']:.0f}", f"{b['d2h']:.0f}",
                    f"{b['syncs']:.0f}", f"{b['h2d_bytes'] / 1e6:.2f}"])
    return out


def check_gpu(args: argparse.Namespace) -> int:
    from gpsa.bench.gpu_check_run import run_check
    from gpsa.device import select_device

    device = select_device(args.device, stream=sys.stderr)  # DeviceError: exit 2
    events = args.events or (60 if args.quick else 400)
    blocks = args.blocks or (1 if args.quick else 2)
    report = run_check(device, quick=args.quick, events=events, blocks=blocks,
                       simulator=not args.no_simulator, budget_s=args.budget)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2, allow_nan=False, default=str) + "\n")
    if args.json:
        print_line(json.dumps(report, indent=2, default=str))
        return 0 if report["ok"] else 1
    info = report["device"]
    print_line(f"gpsa check gpu: {report['mode']}"
               + (f" ({info['gpu']}, driver {info['driver']}, CUDA {info['cuda_runtime']}, "
                  f"CuPy {info['cupy']})" if info["cupy"] else
                  " (no CUDA device: the GPU host code on numpy, the numba.cuda kernel under "
                  "the CUDA simulator)"))
    for line in report["kernels_not_run"]:
        print_line(f"gpsa check gpu: not run: {line}")
    print_table("GPU variants vs numba CPU (per block: launches, copies, syncs, MB up)",
                ["variant", "mode", "hits", "agree", "max rel fom", "p99 rel fom", "result",
                 "launches",
                 "h2d", "d2h", "syncs", "MB h2d"],
                _rows(report["variants"] + report["simulator"]))
    tol = "; ".join(f"{k}: agree >= {v['min_agree']:g}, "
                    + ", ".join(f"{a.split('_')[0]} rel fom <= {b:g}" for a, b in v.items()
                                if a != "min_agree") for k, v in report["tolerances"].items())
    print_line(f"tolerances (vs numba CPU): {tol}")
    print_table("per block, one call per segment and loop step -> batched (all segments of a "
                "step in one call): launches, h2d, d2h, syncs",
                ["block", "p", "search", "launches", "h2d", "d2h", "syncs"],
                [[f"{r['events']} ev, {r['interactions']}-int", f"{r['p']:g}", r["search"],
                  *(f"{r['per_segment'][k]} -> {r['batched'][k]}"
                    for k in ("launches", "h2d", "d2h", "syncs"))]
                 for r in report["launch_counts"]])
    t = report["timing"]
    print_line(f"hits/s, same blocks: numba CPU {t['numba']['hits_per_s']:.0f}, gpu backend "
               f"{t['gpu']['hits_per_s']:.0f} ({t['gpu_is']})")
    if report["simulator_error"]:
        print_line(f"gpsa check gpu: FAIL: {report['simulator_error']}")
    if report["skipped_for_time"]:
        print_line(f"gpsa check gpu: FAIL: {len(report['skipped_for_time'])} variant(s) not "
                   f"run within --budget {args.budget:g} s")
    bad = [r["label"] for r in report["variants"] + report["simulator"] if not r["ok"]]
    print_line(f"gpsa check gpu: {'ok' if report['ok'] else 'FAIL'}: "
               f"{len(report['variants']) + len(report['simulator']) - len(bad)} variant(s) "
               f"agree within tolerance" + (f"; disagree: {', '.join(bad)}" if bad else "")
               + f" ({report['seconds']:.0f} s)")
    return 0 if report["ok"] else 1
