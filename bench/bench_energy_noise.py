"""Energies and hit selection under noise: segment energy estimators × net-charge thresholds, and
what the hit selection does to the PSA of the real hits.

Events: the accuracy bench's (:mod:`gpsa.bench.events`, the ``real`` source: gpsa's generated
AGATA-A signals with other generator settings than the 2 mm basis, 0.5 % neighbour cross-talk,
a 0.3-sample T0 jitter; T0 at sample 30 of 100; white noise = ``noise`` × the event's largest
interaction energy per sample): single hits (150–1500 keV), two hits in two segments (150–1000
keV each) and two hits whose second is a real low-energy one (``two-hit-low``: 150–1000 and
20–60 keV), at 1 % and 3 % noise. The energies are measured by the ``preprocess`` stage itself:

* ``trapezoid max 10/5``: the former trapezoid (maximum of T, rise 10, gap 5; the kernel
  without a T0), with the stage's thresholds;
* ``trapezoid 20/46 at T0 (cfd)``: read at T0 + rise + gap - 1, T0 by the stage's CFD on the
  core; ``(block T0)``: the T0 the block carries (``t0 = "keep"``);
* ``tail 20``: the mean of the last 20 samples (needs no T0);

each with the fixed 15 keV threshold and with the noise threshold ``max(15 keV, k·σ_E)``
(σ_E from the rms of the 15 baseline samples; ``k_scan``: k = 3..6 for the tail). Per row: hit
energy bias and rms against the block's noiseless energies on the true hit segments, events with
a spurious segment (a non-hit segment kept), missed true hits. Then the PSA (``GridSearchPSA``,
default settings) of the tail energies with either threshold and of the true energies, on the
same traces and T0 (``t0 = "keep"``), with ``mask_above_kev`` 0 (every other hit masked, the
default) and 50: median 3D error and > 5 mm of the real hits, on all events and on the events
that have a spurious segment with the tail and the fixed threshold.

Usage (from the repository root)::

    python bench/bench_energy_noise.py            # 500 events per kind, ~1 min on 2 cores
    python bench/bench_energy_noise.py --quick    # 40 events
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench._machine from the repo

from bench._machine import machine_info, strict_json  # noqa: E402
from gpsa.actors.preprocess import Preprocess  # noqa: E402
from gpsa.bench.accuracy import error_stats, hit_positions, match_hits  # noqa: E402
from gpsa.bench.events import (  # noqa: E402
    CHUNK,
    CleanEvents,
    Perturbation,
    SignalModel,
    _draw,
    perturb,
    real_model,
    simulate,
    with_noise,
)
from gpsa.bench.sources import TRACE_SAMPLES, TRACE_T0, get_source  # noqa: E402
from gpsa.bench.toy import Truth  # noqa: E402
from gpsa.block import CrystalBlock  # noqa: E402
from gpsa.preprocess.baseline import baseline_sigma, subtract_baseline  # noqa: E402
from gpsa.preprocess.netcharge import net_charge, noise_threshold  # noqa: E402
from gpsa.preprocess.trapezoid import trapezoid_energy, trapezoid_sigma  # noqa: E402
from gpsa.psa.engine import GridSearchPSA  # noqa: E402
from gpsa.psa.settings import PsaSettings  # noqa: E402
from gpsa.psa.window import shifted_signals  # noqa: E402
from gpsa.runtime.actor import RunContext  # noqa: E402

log = logging.getLogger("bench_energy_noise")
RESULTS = Path(__file__).parent / "results" / "energy_noise.json"
NOISES = (0.01, 0.03)
FIXED_KEV, BASELINE, K_DEFAULT = 15.0, 15, 5.0
K_SCAN = (3.0, 4.0, 5.0, 6.0)
MASKS = (0.0, 50.0)
#: kind: (interactions, energy range of the first, of the second), keV
KINDS = {"single": (1, (150.0, 1500.0), None), "two-hit": (2, (150.0, 1000.0), (150.0, 1000.0)),
         "two-hit-low": (2, (150.0, 1000.0), (20.0, 60.0))}
#: Stage settings of each estimator (None: the former trapezoid maximum, from the kernels).
ESTIMATORS: dict[str, dict[str, Any] | None] = {
    "trapezoid max 10/5": None,
    "trapezoid 20/46 at T0 (cfd)": {"energy": "trapezoid", "t0": "cfd"},
    "trapezoid 20/46 at T0 (block T0)": {"energy": "trapezoid", "t0": "keep"},
    "tail 20": {"energy": "tail", "t0": "keep"},
}
PSA_ENERGIES = {"true": None, "tail 20, fixed 15 keV": 0.0,
                f"tail 20, k = {K_DEFAULT:g}": K_DEFAULT}
LOW_KEV = 150.0  # interactions below: the low-energy second hits (two-hit-low), scored apart


def events(model: SignalModel, n: int, kind: str, seed: int) -> CleanEvents:
    """Noiseless events of ``kind``; the low-energy second hits drawn like simulate()'s."""
    k, first, second = KINDS[kind]
    if second == first or k == 1:
        return simulate(model, n, interactions=k, energy=first, seed=seed)
    pert = Perturbation()
    rng = np.random.default_rng(seed)
    pos, sig, seg = _draw(model, n, k, rng)
    ev = np.repeat(np.arange(n), k)
    e = np.stack([rng.uniform(*first, n), rng.uniform(*second, n)], axis=1).ravel()
    e = e.astype(np.float32)
    t_given = TRACE_T0 + rng.uniform(-0.5, 0.5, n)
    t_true = t_given + rng.normal(0.0, pert.t0_jitter, n)
    unit = np.empty((n * k, 37, TRACE_SAMPLES), np.float32)
    for a in range(0, n * k, CHUNK):
        idx = np.arange(a, min(a + CHUNK, n * k))
        shift = t_true[ev[idx]] - int(TRACE_T0)
        unit[idx] = e[idx, None, None] * shifted_signals(
            sig, idx, model.t0_sample - int(TRACE_T0), TRACE_SAMPLES, shift)
    energies = np.zeros((n, 38), np.float32)
    np.add.at(energies, (ev, seg), e)
    energies[:, 36] = energies[:, :36].sum(axis=1)
    traces, energies = perturb(unit.reshape(n, k, 37, -1).sum(axis=1), energies, pert,
                               model.segment_order)
    truth = Truth(event=ev, segment=seg, position=pos.astype(np.float32), energy=e, t0=t_true)
    return CleanEvents(traces, energies, e.reshape(n, k).max(axis=1), t_given, truth, pert)


def stage(block: CrystalBlock, settings: dict[str, Any] | None, k: float
          ) -> tuple[CrystalBlock, dict[str, int]]:
    """The preprocess stage's output and counters (``None``: the former trapezoid maximum)."""
    if settings is None:
        traces = subtract_baseline(block.traces, BASELINE)
        sigma_e = trapezoid_sigma(baseline_sigma(traces, BASELINE), 10)
        thr = noise_threshold(sigma_e, k, FIXED_KEV) if k > 0 else FIXED_KEV
        e, st, _ = net_charge(trapezoid_energy(traces, 10, 5), block.status, thr, 12)
        return dataclasses.replace(block, traces=traces, energies=e, status=st), {}
    pre = Preprocess(baseline_samples=BASELINE, noise_threshold_sigma=k, **settings)
    pre.start(RunContext())
    out = pre.process(block)
    return out, pre.counters()


def energy_row(out: CrystalBlock, clean: CleanEvents) -> dict[str, Any]:
    true_hit = np.zeros((len(out), 36), bool)
    true_hit[clean.truth.event, clean.truth.segment] = True
    kept = out.energies[:, :36] > 0
    err = (out.energies[:, :36] - clean.energies[:, :36])[true_hit & kept]
    spurious = kept & ~true_hit
    return {"true_hits": int(true_hit.sum()),
            "bias_kev": float(err.mean()) if err.size else math.nan,
            "rms_kev": float(err.std()) if err.size else math.nan,
            "spurious_events_pct": float(100 * spurious.any(axis=1).mean()),
            "missed_hits_pct": float(100 * (true_hit & ~kept).sum() / true_hit.sum()),
            # the stage's T0 against the block's (the CFD's error; 0 with t0 = "keep")
            "t0_minus_block_median": float(np.nanmedian(out.t0 - clean.t0_given)),
            "t0_early_by_5_pct": float(100 * np.mean(out.t0 < clean.t0_given - 5))}


def psa_stats(out: Any, truth: Truth, select: np.ndarray) -> dict[str, Any]:
    """Median 3D error and > 5 mm of the real hits of the true interactions ``select``."""
    h, t = match_hits(out, truth)
    keep = select[t]
    h, t = h[keep], t[keep]
    st = error_stats(hit_positions(out)[h] - np.asarray(truth.position, np.float64)[t])
    return {"real_hits": int(h.size), "of": int(select.sum()),
            "median_3d_mm": st["median_3d_mm"], "outliers_5mm_pct": st["outliers_5mm_pct"]}


def psa_rows(psas: dict[float, GridSearchPSA], block: CrystalBlock, clean: CleanEvents,
             base: dict[str, Any]) -> list[dict[str, Any]]:
    """PSA of the real hits with each energy variant and mask rule (see the module docstring)."""
    outs = {name: (dataclasses.replace(stage(block, ESTIMATORS["tail 20"], 0.0)[0],
                                       energies=clean.energies.copy()) if k is None
                   else stage(block, ESTIMATORS["tail 20"], k)[0])
            for name, k in PSA_ENERGIES.items()}
    true_hit = np.zeros((len(block), 36), bool)
    true_hit[clean.truth.event, clean.truth.segment] = True
    spurious = ((outs["tail 20, fixed 15 keV"].energies[:, :36] > 0) & ~true_hit).any(axis=1)
    main = clean.truth.energy >= LOW_KEV
    in_spurious = spurious[clean.truth.event]
    rows = []
    for name, pre in outs.items():
        for mask, psa in psas.items():
            out = psa.run(pre)
            row = {**base, "energies": name, "mask_above_kev": mask, "events": len(block),
                   "spurious_events": int(spurious.sum()),
                   **psa_stats(out, clean.truth, main),
                   **{f"{k}_in_spurious_events": v
                      for k, v in psa_stats(out, clean.truth, main & in_spurious).items()}}
            if not main.all():
                row.update({f"low_{k}": v
                            for k, v in psa_stats(out, clean.truth, ~main).items()})
            rows.append(row)
    return rows


def _fmt(x: Any, spec: str) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, spec)


def print_tables(result: dict[str, Any]) -> None:
    print(f"{'kind':11s} {'noise':>5s} {'estimator':33s} {'threshold':10s} {'bias':>6s} "
          f"{'rms':>6s} {'spur%':>6s} {'miss%':>6s}")
    for r in result["energy_rows"]:
        print(f"{r['kind']:11s} {r['noise']:5g} {r['estimator']:33s} {r['threshold']:10s} "
              f"{_fmt(r['bias_kev'], '+6.1f')} {_fmt(r['rms_kev'], '6.1f')} "
              f"{r['spurious_events_pct']:6.1f} {r['missed_hits_pct']:6.1f}")
    print(f"\nreal hits >= {LOW_KEV:g} keV; spurious = events with a spurious segment (tail 20, "
          "15 keV); low = the 20-60 keV second hits")
    print(f"{'kind':11s} {'noise':>5s} {'energies':22s} {'mask>':>5s} {'median':>6s} "
          f"{'>5mm%':>6s} | {'spur':>4s} {'median':>6s} {'>5mm%':>6s} | {'low found':>9s} "
          f"{'median':>6s}")
    for r in result["psa_rows"]:
        low = (f"{r['low_real_hits']:4d}/{r['low_of']:<4d} {_fmt(r['low_median_3d_mm'], '6.2f')}"
               if "low_of" in r else "")
        print(f"{r['kind']:11s} {r['noise']:5g} {r['energies']:22s} {r['mask_above_kev']:5g} "
              f"{_fmt(r['median_3d_mm'], '6.2f')} {_fmt(r['outliers_5mm_pct'], '6.1f')} | "
              f"{r['spurious_events']:4d} {_fmt(r['median_3d_mm_in_spurious_events'], '6.2f')} "
              f"{_fmt(r['outliers_5mm_pct_in_spurious_events'], '6.1f')} | {low}")
    print(f"\nk scan (tail 20): {'kind':11s} {'noise':>5s} {'k':>3s} {'spur%':>6s} {'miss%':>6s}")
    for r in result["k_scan"]:
        print(f"{'':17s} {r['kind']:11s} {r['noise']:5g} {r['k']:3g} "
              f"{r['spurious_events_pct']:6.1f} {r['missed_hits_pct']:6.1f}")


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=500, help="events per kind (default 500)")
    ap.add_argument("--quick", action="store_true", help="smoke run: 40 events per kind")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--output", type=Path, default=RESULTS, help=f"JSON (default {RESULTS})")
    args = ap.parse_args(argv)
    n = 40 if args.quick else args.events
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    start = time.perf_counter()
    src = get_source("real", None)
    samples = min(40, src.basis.n_samples - src.basis.t0_sample)
    base = PsaSettings(samples=samples, default_t0=TRACE_T0)
    psas = {m: GridSearchPSA(src.basis, base.replace(mask_above_kev=m)).prepare() for m in MASKS}
    model = real_model()
    energy_rows, k_rows, rows = [], [], []
    for i, kind in enumerate(KINDS):
        clean = events(model, n, kind, args.seed + 100 * i)
        for j, noise in enumerate(NOISES):
            block, _ = with_noise(clean, noise, seed=args.seed + 100 * i + j + 1)
            key = {"kind": kind, "noise": noise}
            for name, settings in ESTIMATORS.items():
                for k in (0.0, K_DEFAULT):
                    out, counters = stage(block, settings, k)
                    energy_rows.append({**key, "estimator": name, "threshold": (
                        f"k = {k:g}" if k else f"{FIXED_KEV:g} keV"), **energy_row(out, clean),
                        "counters": counters})
            for k in K_SCAN:
                out, counters = stage(block, ESTIMATORS["tail 20"], k)
                k_rows.append({**key, "estimator": "tail 20", "k": k,
                               **energy_row(out, clean), "counters": counters})
            rows += psa_rows(psas, block, clean, key)
            log.info("%s noise %g done (%.0f s)", kind, noise, time.perf_counter() - start)
    wall = time.perf_counter() - start
    result = {
        "bench": "energy_noise",
        "command": "python bench/bench_energy_noise.py " + " ".join(argv),
        "machine": machine_info(), "source": src.description, "event_model": model.description,
        "events": {"per_kind_and_noise": n, "seed": args.seed, "noises": list(NOISES),
                   "kinds": {k: {"interactions": v[0], "energy_kev": [v[1], v[2]]}
                             for k, v in KINDS.items()},
                   "noise": "white, noise x the event's largest interaction energy (keV rms/"
                            "sample)", "t0": f"block T0 {TRACE_T0:g} +- 0.5, true T0 + jitter"},
        "perturbation": Perturbation().to_dict(),
        "stage": {"baseline_samples": BASELINE, "netcharge_threshold_kev": FIXED_KEV,
                  "noise_threshold": "max(netcharge_threshold_kev, k * sigma_E)"},
        "energy_truth": "the block's noiseless segment energies (with the cross-talk)",
        "psa_settings": base.to_dict(), "wall_s": round(wall, 1),
        "energy_rows": energy_rows, "k_scan": k_rows, "psa_rows": rows}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(strict_json(result), indent=2) + "\n")
    print_tables(result)
    print(f"wall time {wall:.0f} s; written to {args.output}")
    return 0

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
