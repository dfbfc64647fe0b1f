"""The numbers of a report: per-event sums and multiplicities, PSA-vs-truth position errors and
the summary table. Pure numpy, no plotting: the tests compute the same numbers from the files."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from gpsa.block import PsaBlock
from gpsa.report.data import CrystalData, RunData
from gpsa.simulate.truth import Truth


def hit_sums(psa: PsaBlock) -> np.ndarray:
    """Sum of the hit energies of every event (keV; 0 for an event without hits)."""
    return np.bincount(psa.hits.event_index, weights=psa.hits.energy.astype(np.float64),
                       minlength=len(psa.events))


def multiplicity(psa: PsaBlock) -> np.ndarray:
    """Hits per event."""
    return np.bincount(psa.hits.event_index, minlength=len(psa.events))


@dataclass(frozen=True)
class TruthErrors:
    """PSA positions against the simulation truth of one crystal.

    ``centroid_*``: per event with hits and truth, the energy-weighted centroid of the hits minus
    that of the true interactions (mm), with the event's true energy (keV) and the true
    centroid's radius (mm). ``single_d``: (n, 3) hit minus truth (x, y, z; mm) for the events
    with one true interaction and one hit (a clean per-axis comparison).
    """

    centroid_d: np.ndarray
    centroid_energy: np.ndarray
    centroid_radius: np.ndarray
    single_d: np.ndarray

    @property
    def distance(self) -> np.ndarray:
        return np.linalg.norm(self.centroid_d, axis=1)


def _centroids(keys: np.ndarray, xyz: np.ndarray, energy: np.ndarray) -> tuple[np.ndarray, ...]:
    uniq, inverse = np.unique(keys, return_inverse=True)
    w = energy.astype(np.float64)
    wsum = np.bincount(inverse, weights=w, minlength=len(uniq))
    sums = np.stack([np.bincount(inverse, weights=xyz[:, i] * w, minlength=len(uniq))
                     for i in range(3)], axis=1)
    count = np.bincount(inverse, minlength=len(uniq))
    ok = wsum > 0
    return uniq[ok], sums[ok] / wsum[ok, None], wsum[ok], count[ok]


def truth_errors(psa: PsaBlock, truth: Truth) -> TruthErrors:
    """:class:`TruthErrors` of a crystal, joined on the event number."""
    ti = truth.interactions
    t_keys, t_xyz, t_e, t_n = _centroids(ti["event_number"].astype(np.int64), truth.xyz,
                                         ti["energy"])
    h = psa.hits
    h_keys, h_xyz, _, h_n = _centroids(
        psa.events.event_numbers[h.event_index].astype(np.int64),
        np.c_[h.x, h.y, h.z].astype(np.float64), h.energy)
    _, ti_idx, hi_idx = np.intersect1d(t_keys, h_keys, return_indices=True)
    d = h_xyz[hi_idx] - t_xyz[ti_idx]
    single = (t_n[ti_idx] == 1) & (h_n[hi_idx] == 1)
    return TruthErrors(centroid_d=d, centroid_energy=t_e[ti_idx],
                       centroid_radius=np.hypot(t_xyz[ti_idx, 0], t_xyz[ti_idx, 1]),
                       single_d=d[single])


def all_truth_errors(run: RunData) -> TruthErrors | None:
    """:class:`TruthErrors` of every crystal with PSA hits and truth (and hits in the crystal
    frame, as the truth), concatenated; None when there is none."""
    parts = [truth_errors(c.psa, c.truth) for c in run.crystals
             if c.psa is not None and c.truth is not None and not c.lab_frame]
    if not parts:
        return None
    return TruthErrors(*(np.concatenate([getattr(p, f) for p in parts]) for f in
                         ("centroid_d", "centroid_energy", "centroid_radius", "single_d")))


def _stage_rate(crystal: CrystalData, label: str) -> float:
    for stage in crystal.stages:
        if stage.get("label") == label:
            return float(stage.get("events_per_busy_second") or 0.0)
    return float("nan")


def finite(values: np.ndarray | list[float], stat: str = "median") -> float:
    """``stat`` ("median", "mean", "max", "min") of the finite values; NaN when none is."""
    v = np.asarray(values, np.float64)
    v = v[np.isfinite(v)]
    return float(getattr(np, stat)(v)) if v.size else float("nan")


def summary(run: RunData) -> dict[str, Any]:
    """The key numbers of the run, in the order of the page's summary table."""
    blocks = run.psa_blocks
    n_events = sum(len(b) for b in blocks)
    n_hits = sum(len(b.hits) for b in blocks)
    mult = np.concatenate([multiplicity(b) for b in blocks]) if blocks else np.zeros(0)
    fom = np.concatenate([b.hits.fom for b in blocks]) if blocks else np.zeros(0)
    fom = fom[np.isfinite(fom)]
    e0 = np.concatenate([b.events.e0 for b in blocks]) if blocks else np.zeros(0)
    out: dict[str, Any] = {
        "crystals": len(run.crystals),
        "events": n_events,
        "hits": n_hits,
        "mean multiplicity": float(mult.mean()) if mult.size else float("nan"),
        "median core energy (keV)": finite(e0),
        "wall seconds (slowest crystal)": max((c.wall_seconds for c in run.crystals),
                                              default=0.0),
        "psa events per busy second (mean)": finite([_stage_rate(c, "psa")
                                                     for c in run.crystals], "mean"),
        "tracked gammas": int(run.tracked_energies.size),
        "alarms": len(run.alarms),
    }
    if fom.size:  # data:psa does not store it: absent for hits read from ADF
        out["median figure of merit"] = float(np.median(fom))
    errors = all_truth_errors(run)
    if errors is not None:
        dist = errors.distance
        out["simulated events (truth)"] = sum(c.truth.n_events for c in run.crystals
                                              if c.truth is not None)
        out["events compared with truth"] = int(dist.size)
        out["median 3D centroid error (mm)"] = float(np.median(dist)) if dist.size else np.nan
        out["90th percentile 3D error (mm)"] = (float(np.percentile(dist, 90)) if dist.size
                                                else np.nan)
        out["single-interaction events"] = int(len(errors.single_d))
        for i, axis in enumerate("xyz"):
            col = np.abs(errors.single_d[:, i])
            out[f"median |d{axis}| single (mm)"] = float(np.median(col)) if col.size else np.nan
    return out
