"""Gamma-ray transport throughput and physics summary (:mod:`gpsa.simulate.transport`).

* **throughput** — 60Co decays (2 photons each) through the A180 geometry (all 180 crystals, if
  the public tables are in ``--geometry``; else gpsa's synthetic 60-crystal shell) and through a
  6-crystal subset (0-5): primary photons/s (best and median of ``--repeats``; the numba kernels
  are compiled and loaded before the clock starts), with the correctness check of every run
  (energy conserved per gamma: deposited + escaped = emitted);
* **physics** — per line of co60, cs137 and line:1332.5 on the full geometry: fraction of gammas
  that interact, calorimetric photopeak efficiency of the array and peak-to-total.

    python bench/bench_transport.py [--out bench/results/transport.json] [--decays N]
                                    [--geometry ../shared/data/agata] [--repeats R]
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

from gpsa.simulate.transport import (  # noqa: E402
    ArrayGeometry,
    line_summary,
    parse_source,
    transport_source,
)

log = logging.getLogger("bench_transport")


def geometry(tables: Path, crystals: str | None) -> ArrayGeometry:
    if (tables / "agata_capsule.geo").is_file():
        return ArrayGeometry.from_tables(tables, crystals)
    return ArrayGeometry.shell(60, 235.0, crystals)


def timed(geom: ArrayGeometry, decays: int, repeats: int) -> dict[str, Any]:
    src = parse_source("co60")
    times, result = [], None
    for r in range(repeats):
        t0 = time.perf_counter()
        result = transport_source(geom, src, decays, seed=100 + r)
        times.append(time.perf_counter() - t0)
    assert result is not None
    g = result.gammas
    err = float(np.abs(g["deposited"] + g["escaped"] + g["lost"] - g["energy"]).max())
    photons = decays * src.gammas_per_decay
    out = {"geometry": geom.source, "crystals": len(geom), "decays": decays,
           "photons": photons, "seconds": times, "photons_per_s_best": photons / min(times),
           "photons_per_s_median": photons / statistics.median(times),
           "points": result.n_points, "energy_conservation_max_error_kev": err,
           "energy_conserved": err < 1e-6, "summary": line_summary(result)}
    log.info("%-60s %3d crystals: %9.0f photons/s (best), %d points, conservation %.1e keV",
             geom.source, len(geom), out["photons_per_s_best"], result.n_points, err)
    return out


def physics(geom: ArrayGeometry, decays: int) -> list[dict[str, Any]]:
    rows = []
    for name in ("co60", "cs137", "line:1332.5"):
        res = transport_source(geom, parse_source(name), decays, seed=7)
        s = line_summary(res)
        rows.append({"source": name, "decays": decays, **s})
        for r in s["lines"]:
            log.info("%-12s %7.1f keV: interacted %.4f, photopeak eff. %.4f, P/T %.4f", name,
                     r["energy_kev"], r["interacted"], r["photopeak_efficiency"],
                     r["peak_to_total"])
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="bench/results/transport.json", help="JSON result file")
    ap.add_argument("--decays", type=int, default=50_000, help="60Co decays per timed run")
    ap.add_argument("--physics-decays", type=int, default=100_000,
                    help="decays per source for the physics summary")
    ap.add_argument("--geometry", type=Path, default=Path("../shared/data/agata"),
                    help="folder with the A180 tables (synthetic shell if absent)")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    full = geometry(args.geometry, None)
    subset = geometry(args.geometry, "0-5")
    for g in (full, subset):  # compile / load the kernels outside the clock
        transport_source(g, parse_source("co60"), 100, seed=0)
    results: dict[str, Any] = {
        "benchmark": "transport", "machine": machine_info(),
        "command": " ".join(["python bench/bench_transport.py",
                             *(sys.argv[1:] if argv is None else argv)]),
        "notes": "no passive material; point source at the centre; calorimetric per-gamma "
                 "efficiency (all crystals summed, no tracking, no thresholds, no resolution)",
        "throughput": [timed(full, args.decays, args.repeats),
                       timed(subset, args.decays, args.repeats)],
        "physics": physics(full, args.physics_decays)}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    log.info("wrote %s", out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
