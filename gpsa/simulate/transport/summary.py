"""Physics summary of a transport run, per emitted line (calorimetric, before any tracking).

For every gamma the energy it deposited in the whole array (all crystals, all its points,
annihilation photons included) is compared with its emitted energy:

* ``interacted``: fraction of emitted gammas that deposited anything;
* ``photopeak_efficiency``: fraction of emitted gammas that deposited their full energy
  (within ``tol_kev``) — the calorimetric full-energy efficiency of the array for that line,
  free of summing with the other gammas of the decay;
* ``peak_to_total``: full-energy gammas / gammas that deposited anything.

``per_decay`` adds, for sources with several lines, the fraction of decays whose summed deposit
equals the sum of all lines (every gamma fully absorbed).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .table import TransportResult


def line_summary(result: TransportResult, tol_kev: float = 0.01) -> dict[str, Any]:
    g = result.gammas
    e = np.asarray(g["energy"], np.float64)
    dep = np.asarray(g["deposited"], np.float64)
    lines = []
    for line in np.unique(e):
        sel = e == line
        n = int(sel.sum())
        hit = dep[sel] > 0
        full = np.abs(dep[sel] - line) <= tol_kev
        lines.append({"energy_kev": float(line), "gammas": n,
                      "interacted": float(hit.mean()) if n else 0.0,
                      "photopeak_efficiency": float(full.mean()) if n else 0.0,
                      "peak_to_total": float(full.sum() / max(int(hit.sum()), 1)),
                      "mean_points": float(np.asarray(g["n_points"])[sel].mean()) if n else 0.0})
    out: dict[str, Any] = {"lines": lines, "tol_kev": tol_kev,
                           "points": result.n_points, "gammas": len(e)}
    n_dec = len(result.events["event"])
    if n_dec and len(lines) > 1:
        ev = np.asarray(g["event"], np.int64)
        total = np.bincount(ev, weights=e, minlength=n_dec)
        summed = np.bincount(ev, weights=dep, minlength=n_dec)
        out["per_decay"] = {"decays": n_dec,
                            "all_gammas_full": float(np.mean(np.abs(summed - total)
                                                             <= tol_kev * len(lines)))}
    return out
