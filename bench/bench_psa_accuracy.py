"""PSA accuracy bench: speed and accuracy of every grid-search configuration in one run.

For each configuration (p in 2, 1, 0.3 × full / AGS search × refinement off / lattice / fit,
see :mod:`gpsa.psa.refine` and :mod:`gpsa.psa.fit`) and each event
set (single hits and two hits in two segments, at 1 % and 3 % noise): hits/s of the numba
backend, its ratio to the numpy reference (both timed on the same small subset, same
configuration, in this run), median and mean 3D error, FWHM x/y/z (2.355 × 1.4826 × MAD),
fraction > 5 mm, T0 bias and rms (:func:`gpsa.bench.accuracy.bench_rows`).

The basis is the ``real`` source's (gpsa's generated AGATA-A basis, 2 mm grid). The events
(:mod:`gpsa.bench.events`) are computed by the generator at continuous positions with other
settings than the basis (``gpsa.bench.sources.EVENT_SETTINGS_CHANGES``: field grid, impurity,
τ) **and** contain what the basis does not: proportional cross-talk between neighbour segments
and a Gaussian T0 jitter unknown to the PSA (``Perturbation``). Noise = white, ``noise`` × the
event's largest interaction energy rms per sample. The noiseless events are made once per kind;
the noise levels differ by the noise only.

Usage (from the repository root)::

    python bench/bench_psa_accuracy.py              # 3000 events per set, ~6 min on 2 cores
    python bench/bench_psa_accuracy.py --quick      # smoke run (40 events, ~1 min)

Wall time ≈ 1.5 min (field load, events, 12 × prepare, the reference subsets) + 0.07 s per
event of a set (the numba runs of 2 kinds × 2 noises × 12 configurations, on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench._machine from the repo

from bench._machine import machine_info, strict_json  # noqa: E402
from gpsa.bench.accuracy import bench_rows, configurations, pass_configurations  # noqa: E402
from gpsa.bench.events import Perturbation, real_model, simulate, with_noise  # noqa: E402
from gpsa.bench.sources import TRACE_SAMPLES, TRACE_T0, get_source  # noqa: E402
from gpsa.psa.settings import PsaSettings  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "psa_accuracy.json"
NOISES = (0.01, 0.03)
#: Event kinds: interactions per event and the energy range of each interaction (keV).
KINDS: dict[str, tuple[int, tuple[float, float]]] = {
    "single": (1, (150.0, 1500.0)),
    "two-hit": (2, (150.0, 1000.0)),
}
QUICK = {"events": 40, "reference_hits": 20}


def _fmt(x: Any, spec: str) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, spec)


def print_table(rows: list[dict[str, Any]]) -> None:
    print(f"{'config':20s} {'kind':7s} {'noise':>5s} {'hits':>5s} {'hits/s':>7s} {'xref':>6s} "
          f"{'median':>6s} {'mean':>5s} {'fwhm x':>6s} {'y':>5s} {'z':>5s} {'>5mm%':>5s} "
          f"{'lead':>5s} {'other':>5s} {'T0 bias':>7s} {'T0 rms':>6s}")
    for r in rows:
        print(f"{r['config']:20s} {r['kind']:7s} {r['noise']:5g} {r['hits']:5d} "
              f"{_fmt(r['hits_per_s'], '7.0f')} {_fmt(r['ratio_to_reference'], '6.1f')} "
              f"{r['median_3d_mm']:6.2f} {r['mean_3d_mm']:5.2f} {r['fwhm_x_mm']:6.2f} "
              f"{r['fwhm_y_mm']:5.2f} {r['fwhm_z_mm']:5.2f} {r['outliers_5mm_pct']:5.1f} "
              f"{_fmt(r['median_3d_leading_mm'], '5.2f')} "
              f"{_fmt(r['median_3d_others_mm'], '5.2f')} "
              f"{r['t0_bias_samples']:+7.3f} {r['t0_rms_samples']:6.3f}")


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=3000,
                    help="events per kind and noise level (default 3000)")
    ap.add_argument("--reference-hits", type=int, default=100,
                    help="hits of the subset timed with the numpy reference (default 100)")
    ap.add_argument("--quick", action="store_true",
                    help=f"smoke run: {QUICK['events']} events, {QUICK['reference_hits']} "
                         "reference hits")
    ap.add_argument("--p", type=float, nargs="+", default=[2.0, 1.0, 0.3],
                    help="p values (default 2 1 0.3)")
    ap.add_argument("--methods", nargs="+", default=["lattice", "fit"],
                    choices=["lattice", "fit"],
                    help="refinement methods of the refined configurations (default both)")
    ap.add_argument("--passes", type=int, nargs="*", default=[1, 3, 10],
                    help="extra rows: p = 1 (or the first --p), full search, lattice refinement "
                         "with these refine_passes (default 1 3 10; the other refined rows use "
                         "the default)")
    ap.add_argument("--crosstalk", type=float, default=Perturbation.crosstalk,
                    help="proportional neighbour cross-talk fraction (default %(default)g)")
    ap.add_argument("--derivative-crosstalk", type=float,
                    default=Perturbation.derivative_crosstalk,
                    help="derivative neighbour cross-talk fraction (default %(default)g)")
    ap.add_argument("--t0-jitter", type=float, default=Perturbation.t0_jitter,
                    help="T0 jitter unknown to the PSA, samples rms (default %(default)g)")
    ap.add_argument("--samples", type=int, default=40, help="samples compared (default 40)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--output", type=Path, default=RESULTS, help=f"JSON (default {RESULTS})")
    args = ap.parse_args(argv)
    if args.quick:
        args.events, args.reference_hits = QUICK["events"], QUICK["reference_hits"]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    start = time.perf_counter()
    src = get_source("real", None)
    basis = src.basis
    samples = min(args.samples, basis.n_samples - basis.t0_sample)
    base = PsaSettings(samples=samples, default_t0=TRACE_T0, backend="numba")
    pert = Perturbation(args.crosstalk, args.derivative_crosstalk, args.t0_jitter)
    model = real_model()
    events = {}
    for i, (kind, (k, energy)) in enumerate(KINDS.items()):
        clean = simulate(model, args.events, interactions=k, perturbation=pert, energy=energy,
                         seed=args.seed + 100 * i)
        for j, noise in enumerate(NOISES):
            events[(kind, noise)] = with_noise(clean, noise, seed=args.seed + 100 * i + j + 1)
    t_events = time.perf_counter() - start
    configs = configurations(args.p, methods=args.methods) + pass_configurations(
        args.p[0] if 1.0 not in args.p else 1.0, args.passes)
    rows = bench_rows(basis, events, configs, base=base, reference_hits=args.reference_hits)
    wall = time.perf_counter() - start

    varied = {"p", "search", "refine_grid", "refine_t0", "refine_method", "backend"}
    if args.passes:
        varied.add("refine_passes")
    result = {
        "bench": "psa_accuracy",
        "command": "python bench/bench_psa_accuracy.py " + " ".join(argv),
        "machine": machine_info(),
        "source": src.description,
        "basis": {"points": len(basis), "grid_mm": basis.grid_mm, "samples_compared": samples},
        "event_model": model.description,
        "event_settings": {k: {"basis": a, "events": b}
                           for k, (a, b) in src.event_settings.items()},
        "events": {
            "per_kind_and_noise": args.events, "seed": args.seed,
            "kinds": {k: {"interactions": n, "energy_kev_each": list(e),
                          "segments": "distinct (the segment each hole reaches)"}
                      for k, (n, e) in KINDS.items()},
            "noises": list(NOISES),
            "noise": "white, noise x the event's largest interaction energy (keV rms/sample)",
            "trace_samples": TRACE_SAMPLES,
            "t0_given": f"{TRACE_T0:g} + U(-0.5, 0.5) samples, the T0 the PSA is given",
            "t0_true": "t0_given + N(0, t0_jitter)"},
        "perturbation": pert.to_dict(),
        "psa_settings": {k: v for k, v in base.to_dict().items() if k not in varied},
        "configurations": [c.name for c in configs],
        "timing": ("numba: one run over all the events of a set after a warm-up run (compiles) "
                   "and prepare(); ratio_to_reference: numba (best of 3) over numpy reference "
                   "(one run) hits/s on the leading events holding reference_hits hits, same "
                   "configuration; reference_agree_pct: subset hits at the same position "
                   "within 0.1 mm"),
        "matching": "hits matched to true interactions by (event, segment)",
        "events_wall_s": round(t_events, 1),
        "wall_s": round(wall, 1),
        "rows": rows,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(strict_json(result), indent=2) + "\n")
    print_table(rows)
    print(f"wall time {wall:.0f} s (events {t_events:.0f} s); written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
