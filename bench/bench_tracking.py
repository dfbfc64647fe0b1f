"""Tracking throughput and quality on toy Compton chains (:mod:`gpsa.tracking.toymc`: a full
germanium shell, 150-240 mm, XCOM coefficients), with the correctness of each timed run:

* events/s of :meth:`gpsa.tracking.tracker.Tracker.track` (best and median of ``--repeats``)
  for 1 gamma (1332.5 keV) and 2 gammas (1173.2 + 1332.5 keV) per event, true positions;
* the noise curve: Gaussian noise of 0, 2, 5, 10 mm per coordinate, resolution setting
  max(noise, 1 mm): fraction of tracked gammas whose first point is the true first
  interaction (all, and multi-point only), photopeak efficiency and P/T (±2 keV window).

    python bench/bench_tracking.py [--out bench/results/tracking.json] [--events N]
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine_info  # noqa: E402

from gpsa.tracking.physics import AttenuationGrid, default_attenuation  # noqa: E402
from gpsa.tracking.toymc import generate, with_noise  # noqa: E402
from gpsa.tracking.tracker import Tracker, TrackingSettings  # noqa: E402

log = logging.getLogger("bench_tracking")
INNER, OUTER, WINDOW = 150.0, 240.0, 2.0


def quality(toy: Any, res: Any, lines: list[float], n: int) -> dict[str, float]:
    multi = res.n_points > 1
    in_peak = np.zeros(len(res.energy), bool)
    for ln in lines:
        in_peak |= np.abs(res.energy - ln) <= WINDOW
    return {"first_found": float((toy.step[res.first] == 0).mean()),
            "first_found_multi": float((toy.step[res.first[multi]] == 0).mean()),
            "photopeak_efficiency_per_line": float(in_peak.sum() / (n * len(lines))),
            "peak_to_total": float(in_peak.mean()), "gammas_out": int(len(res.energy))}


def run(lines: list[float], n: int, repeats: int, grid: AttenuationGrid) -> dict[str, Any]:
    toy = generate(n, lines, seed=1, inner_mm=INNER, outer_mm=OUTER, grid=grid)
    tracker = Tracker(TrackingSettings(inner_radius_mm=INNER, position_resolution_mm=1.0), grid)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        res = tracker.track(toy.positions, toy.energies, toy.offsets)
        times.append(time.perf_counter() - t0)
    out = {"lines_kev": lines, "events": n, "hits": int(len(toy.energies)),
           "track_s": times, "events_per_s_best": n / min(times),
           "events_per_s_median": n / statistics.median(times),
           "counters": res.counters, "quality": quality(toy, res, lines, n), "noise": []}
    for sigma in (0.0, 2.0, 5.0, 10.0):
        t = Tracker(TrackingSettings(inner_radius_mm=INNER,
                                     position_resolution_mm=max(sigma, 1.0)), grid)
        r = t.track(with_noise(toy.positions, sigma, seed=2), toy.energies, toy.offsets)
        q = {"noise_mm": sigma, **quality(toy, r, lines, n)}
        out["noise"].append(q)
        log.info("%s noise %4.1f mm: first found %.3f (multi %.3f) eff %.3f P/T %.3f",
                 lines, sigma, q["first_found"], q["first_found_multi"],
                 q["photopeak_efficiency_per_line"], q["peak_to_total"])
    log.info("%s: %.0f events/s (best), %.0f (median)", lines, out["events_per_s_best"],
             out["events_per_s_median"])
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="bench/results/tracking.json", help="JSON result file")
    ap.add_argument("--events", type=int, default=20_000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    fn, source = default_attenuation()
    grid = AttenuationGrid.sample(fn, source)
    warm = generate(50, [1332.5], seed=0, grid=grid)  # numba outside the clock
    Tracker(TrackingSettings(), grid).track(warm.positions, warm.energies, warm.offsets)
    results = {"benchmark": "tracking", "machine": machine_info(),
               "command": " ".join(["python bench/bench_tracking.py",
                                    *(sys.argv[1:] if argv is None else argv)]),
               "attenuation": source, "toy_shell_mm": [INNER, OUTER],
               "settings": vars(TrackingSettings(inner_radius_mm=INNER,
                                                 position_resolution_mm=1.0)),
               "peak_window_kev": WINDOW,
               "runs": [run([1332.5], args.events, args.repeats, grid),
                        run([1173.2, 1332.5], args.events, args.repeats, grid)]}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    log.info("wrote %s", out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
