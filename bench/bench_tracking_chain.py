"""60Co from the source to tracked spectra: photopeak efficiency and P/T at 1332.5 keV before
and after tracking, from true and from PSA positions, with the correctness of each timed run.

* **array** (``--geometry DIR``: AGATA's A180 tables, all 180 crystals; the synthetic shell of
  60 crystals when the folder is absent): ``--decays`` decays through
  :mod:`gpsa.simulate.transport` (photons/s); (i) calorimetric: per gamma (its full energy
  deposited anywhere, :func:`gpsa.simulate.transport.line_summary`) and the crystal-sum and
  event-sum spectra; (ii)/(iii) tracked from the true lab positions smeared by 0, 2, 5 mm per
  coordinate (resolution setting max(noise, 1 mm), inner radius 235 mm): efficiency, P/T, the
  fraction of gammas whose first interaction was found (within 5 mm), tracking events/s;
* **chain** (iv): ``--chain-decays`` decays on ``--chain-crystals`` crystals of shape A (the
  demo's bases are gpsa's synthetic shape A; synthetic shell by default, ``--chain-a180`` for
  the A180 A crystals) through traces, the local chain (PSA, post-PSA to the lab), sorter,
  builder and tracking (:mod:`gpsa.runtime.demo_global`, the demo's default bases): the
  efficiency / P/T table from PSA positions beside the same decays on true positions, and the
  wall time of each step.

    python bench/bench_tracking_chain.py [--geometry ../shared/data/agata]
        [--out bench/results/tracking_chain.json] [--decays N] [--chain-decays N]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine_info  # noqa: E402

from gpsa.simulate.transport import (  # noqa: E402
    ArrayGeometry,
    line_summary,
    parse_source,
    transport_source,
)
from gpsa.tracking.efficiency import figures  # noqa: E402
from gpsa.tracking.tracker import Tracker, TrackingSettings  # noqa: E402
from gpsa.tracking.truthfile import from_transport  # noqa: E402
from gpsa.tracking.truthtrack import track_truth  # noqa: E402

log = logging.getLogger("bench_tracking_chain")
LINE, INNER, NOISES = 1332.5, 235.0, (0.0, 2.0, 5.0)


def _at_line(rows: list[Any]) -> dict[str, dict[str, float]]:
    return {r.spectrum: {"efficiency": r.efficiency, "peak_to_total": r.peak_to_total,
                         "peak_counts": r.peak_counts} for r in rows if r.line_kev == LINE}


def array(geometry: str | None, decays: int, seed: int) -> dict[str, Any]:
    geom = ArrayGeometry.from_tables(geometry) if geometry else ArrayGeometry.shell()
    transport_source(geom, parse_source("co60"), 200, seed=seed)  # numba outside the clock
    t0 = time.perf_counter()
    result = transport_source(geom, parse_source("co60"), decays, seed=seed)
    dt = time.perf_counter() - t0
    lines = line_summary(result)
    per_gamma = next(x for x in lines["lines"] if abs(x["energy_kev"] - LINE) < 0.1)
    truth = from_transport(result)
    out: dict[str, Any] = {"geometry": geom.source, "crystals": len(geom), "decays": decays,
                           "transport_seconds": round(dt, 3),
                           "transport_photons_per_s": round(2 * decays / dt),
                           "points": result.n_points,
                           "calorimetric_per_gamma": {
                               "photopeak_efficiency": per_gamma["photopeak_efficiency"],
                               "peak_to_total": per_gamma["peak_to_total"],
                               "interacted": per_gamma["interacted"]},
                           "tracked": []}
    for noise in NOISES:
        tracker = Tracker(TrackingSettings(inner_radius_mm=INNER,
                                           position_resolution_mm=max(noise, 1.0)))
        track_truth(truth, tracker, noise_mm=noise, seed=seed)  # warm the kernels
        t0 = time.perf_counter()
        res = track_truth(truth, tracker, noise_mm=noise, seed=seed)
        dt = time.perf_counter() - t0
        fig = _at_line(figures(res.spectra, res.lines_kev, res.emitted, window_kev=3.0,
                               threshold_kev=10.0))
        if noise == 0.0:
            out["calorimetric_spectra"] = {k: fig[k] for k in ("crystal sum", "event sum")}
        n_ev = res.counters.events_sent_to_tracking
        out["tracked"].append({"noise_mm": noise, **fig["tracked"],
                               "first_found": res.first_found, "seconds": round(dt, 3),
                               "events_per_s": round(n_ev / dt),
                               "counters": res.counters.as_dict()})
        log.info("noise %g mm: eff %.4f, P/T %.4f, first found %.3f, %d events/s", noise,
                 fig["tracked"]["efficiency"], fig["tracked"]["peak_to_total"],
                 res.first_found, n_ev / dt)
    return out


def chain(work: Path, geometry: str | None, crystals: int, decays: int, jobs: int,
          seed: int) -> dict[str, Any]:
    from gpsa.config.resolve import resolve_config
    from gpsa.runtime.demo_global import prepare_global_demo
    from gpsa.runtime.demo_tracking import compare
    from gpsa.runtime.global_run import run_global
    from gpsa.runtime.modes import run_parallel

    t0 = time.perf_counter()
    demo = prepare_global_demo(work, crystals=crystals, decays=decays, geometry=geometry,
                               seed=seed)
    t1 = time.perf_counter()
    cfg = resolve_config(demo.run)
    stop = threading.Event()
    report = run_parallel(cfg, jobs=jobs, stop=stop)
    t2 = time.perf_counter()
    glob = run_global(cfg.global_chain, {o.crystal: o.status for o in report.outcomes},
                      stop=stop)
    t3 = time.perf_counter()
    comp = compare(demo.folder / "out", demo.transport)
    at = {side: {r["spectrum"]: {k: r[k] for k in ("efficiency", "peak_to_total",
                                                   "peak_counts")}
                 for r in comp[side]["figures"] if r["line_kev"] == LINE}
          for side in ("true", "psa")}
    events = sum(o.result.events_out for o in report.outcomes if o.result)
    return {"geometry": demo.geometry, "crystals": demo.crystals, "decays": decays,
            "crystal_events": events, "global_status": glob.status,
            "seconds": {"bases_transport_traces": round(t1 - t0, 2),
                        "local_chains": round(t2 - t1, 2), "global": round(t3 - t2, 2),
                        "comparison": round(time.perf_counter() - t3, 2)},
            "at_1332": at, "first_found": {s: comp[s]["first_found"] for s in ("true", "psa")},
            "counters": {s: comp[s]["counters"] for s in ("true", "psa")}}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--geometry", default="../shared/data/agata", help="A180 tables folder "
                    "(absent: the synthetic shell)")
    ap.add_argument("--out", default="bench/results/tracking_chain.json")
    ap.add_argument("--decays", type=int, default=100_000)
    ap.add_argument("--chain-decays", type=int, default=200_000)
    ap.add_argument("--chain-crystals", type=int, default=6)
    ap.add_argument("--chain-a180", action="store_true", help="chain on the A180 A crystals")
    ap.add_argument("--work", help="folder for the chain's files (default: a temporary one; "
                    "give one to keep the generated bases)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    geometry = args.geometry if Path(args.geometry).is_dir() else None
    if geometry is None:
        log.info("%s: no such folder, the synthetic shell instead", args.geometry)
    t0 = time.perf_counter()
    results: dict[str, Any] = {
        "benchmark": "tracking_chain", "machine": machine_info(),
        "command": " ".join(["python bench/bench_tracking_chain.py",
                             *(sys.argv[1:] if argv is None else argv)]),
        "source": "co60", "line_kev": LINE, "window_kev": 3.0, "threshold_kev": 10.0,
        "inner_radius_mm": INNER, "array": array(geometry, args.decays, args.seed)}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.work) if args.work else Path(tmp)
        results["chain"] = chain(work, geometry if args.chain_a180 else None,
                                 args.chain_crystals, args.chain_decays, args.jobs, args.seed)
    results["wall_seconds"] = round(time.perf_counter() - t0, 1)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    log.info("wrote %s", out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
