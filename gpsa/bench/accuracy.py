"""Position and T0 accuracy of the grid search against truth, and the accuracy bench's rows.

* :func:`error_stats`: median and mean 3D error, per-axis FWHM and the fraction of outliers of
  signed position errors. Per-axis FWHM is estimated robustly as 2.355 × 1.4826 × MAD of the
  signed error (the FWHM of a Gaussian with the same median absolute deviation): a histogram
  FWHM of errors quantised by a 2 mm grid is too unstable at a few hundred events.
* :func:`match_hits` pairs hits with true interactions by (event, segment), so events of several
  interactions are scored hit by hit; :func:`accuracy_row` adds the T0 bias and rms of the
  events (PSA T0 − true T0, samples).
* :func:`bench_rows`: for each :class:`Config` (p, full/AGS, refinement on/off) and each event
  set (kind × noise), one timed numba run (after a warm-up run that compiles the kernels) and
  the accuracy, plus the numpy reference timed on a small subset with the same configuration:
  ``ratio_to_reference`` = numba hits/s over reference hits/s on that subset (both measured in
  the same run), ``reference_agree_pct`` = hits of the subset at the same position (0.1 mm).
* :func:`accuracy_table`: the older single-hit table of ``bench/bench_psa.py --accuracy``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from gpsa.basis.model import Basis
from gpsa.bench.toy import Truth
from gpsa.block import CrystalBlock, PsaBlock
from gpsa.psa.engine import GridSearchPSA
from gpsa.psa.settings import PsaSettings

log = logging.getLogger(__name__)

FWHM_PER_MAD = 2.3548 * 1.4826
OUTLIER_MM = 5.0
AGREE_MM = 0.1
STAT_KEYS = ("median_3d_mm", "mean_3d_mm", "fwhm_x_mm", "fwhm_y_mm", "fwhm_z_mm",
             "outliers_5mm_pct")
#: Fields of every :func:`bench_rows` row, in order.
ROW_KEYS = ("config", "p", "search", "refine", "refine_method", "refine_passes", "noise",
            "kind", "events", "hits",
            "matched_hits", "missed_interactions", "hits_per_s", "ratio_to_reference",
            "reference_hits", "reference_hits_per_s", "subset_hits_per_s",
            "reference_agree_pct", *STAT_KEYS, "median_3d_leading_mm", "median_3d_others_mm",
            "t0_bias_samples", "t0_rms_samples")


def error_stats(err: np.ndarray) -> dict[str, float]:
    """Statistics of (n, 3) signed position errors (mm); NaN for n = 0."""
    err = np.asarray(err, np.float64).reshape(-1, 3)
    if err.shape[0] == 0:
        return dict.fromkeys(STAT_KEYS, float("nan"))
    d = np.linalg.norm(err, axis=1)
    mad = np.median(np.abs(err - np.median(err, axis=0)), axis=0)
    fwhm = FWHM_PER_MAD * mad
    return {"median_3d_mm": float(np.median(d)), "mean_3d_mm": float(np.mean(d)),
            "fwhm_x_mm": float(fwhm[0]), "fwhm_y_mm": float(fwhm[1]),
            "fwhm_z_mm": float(fwhm[2]),
            "outliers_5mm_pct": float(100 * np.mean(d > OUTLIER_MM))}


def t0_stats(found: np.ndarray, true: np.ndarray) -> dict[str, float]:
    """Bias (mean) and rms of ``found − true`` T0 (samples); NaN for no events."""
    d = np.asarray(found, np.float64) - np.asarray(true, np.float64)
    if d.size == 0:
        return {"t0_bias_samples": float("nan"), "t0_rms_samples": float("nan")}
    return {"t0_bias_samples": float(np.mean(d)), "t0_rms_samples": float(np.sqrt(np.mean(d * d)))}


def match_hits(out: PsaBlock, truth: Truth) -> tuple[np.ndarray, np.ndarray]:
    """(hit indices, truth indices) of the hits whose (event, segment) is a true interaction's
    (a truth lists at most one interaction per event and segment)."""
    key_true = np.asarray(truth.event, np.int64) * 64 + np.asarray(truth.segment, np.int64)
    key_hit = out.hits.event_index.astype(np.int64) * 64 + out.hits.segment.astype(np.int64)
    if key_true.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    order = np.argsort(key_true, kind="stable")
    pos = np.minimum(np.searchsorted(key_true[order], key_hit), key_true.size - 1)
    hits = np.flatnonzero(key_true[order][pos] == key_hit)
    return hits, order[pos[hits]]


def hit_positions(out: PsaBlock) -> np.ndarray:
    return np.stack([out.hits.x, out.hits.y, out.hits.z], axis=1).astype(np.float64)


def position_errors(out: PsaBlock, truth: Truth) -> np.ndarray:
    """(m, 3) signed errors (mm) of the matched hits (found − true)."""
    h, t = match_hits(out, truth)
    return hit_positions(out)[h] - np.asarray(truth.position, np.float64)[t]


def leading(truth: Truth, t: np.ndarray) -> np.ndarray:
    """(len(t),) bool: truth interaction ``t`` is the most energetic of its event."""
    event, energy = np.asarray(truth.event, np.int64), np.asarray(truth.energy, np.float64)
    top = np.full(int(event.max(initial=-1)) + 1, -np.inf)
    np.maximum.at(top, event, energy)
    return energy[t] >= top[event[t]]


def _median(d: np.ndarray) -> float:
    return float(np.median(d)) if d.size else float("nan")


def accuracy_row(out: PsaBlock, truth: Truth) -> dict[str, Any]:
    """Hit counts, :func:`error_stats` of the matched hits, the median 3D error of the events'
    most energetic interactions and of the others (NaN without any: single hits), and
    :func:`t0_stats` of the events. The noise of the bench's events scales with the largest
    interaction's energy, so an event's other interactions have a lower signal-to-noise ratio
    than a single hit of their energy."""
    h, t = match_hits(out, truth)
    err = hit_positions(out)[h] - np.asarray(truth.position, np.float64)[t]
    d, lead = np.linalg.norm(err, axis=1), leading(truth, t)
    return {"events": len(out), "hits": len(out.hits), "matched_hits": int(h.size),
            "missed_interactions": int(len(truth.event) - np.unique(t).size),
            **error_stats(err), "median_3d_leading_mm": _median(d[lead]),
            "median_3d_others_mm": _median(d[~lead]), **t0_stats(out.events.t0, truth.t0)}


@dataclass(frozen=True)
class Config:
    """One searched configuration; refinement = sub-grid positions + T0 (``refine_grid`` and
    ``refine_t0``) by ``method`` ("lattice" or "fit", :class:`PsaSettings` ``refine_method``)."""

    p: float
    search: str
    refine: bool
    method: str = "lattice"
    passes: int | None = None  # refine_passes (None: the base settings')

    @property
    def name(self) -> str:
        how = ("fitted" if self.method == "fit" else "refined") if self.refine else "grid"
        return f"p={self.p:g} {self.search} {how}" + (
            f" x{self.passes}" if self.refine and self.passes is not None else "")

    def settings(self, base: PsaSettings) -> PsaSettings:
        s = base.replace(p=self.p, search=self.search, refine_grid=self.refine,
                         refine_t0=self.refine, refine_method=self.method)
        return s if self.passes is None else s.replace(refine_passes=self.passes)


def configurations(p_values: Iterable[float] = (2.0, 1.0, 0.3),
                   searches: Iterable[str] = ("full", "ags"),
                   refines: Iterable[bool] = (False, True),
                   methods: Iterable[str] = ("lattice",)) -> list[Config]:
    """Every (p, search, refinement) combination; a refined one once per refinement method."""
    out = []
    for p in p_values:
        for s in searches:
            for r in refines:
                for m in (methods if r else ("lattice",)):
                    out.append(Config(float(p), s, bool(r), m))
    return out


def pass_configurations(p: float, passes: Iterable[int]) -> list[Config]:
    """Full search, lattice refinement of exponent ``p`` at each number of ``refine_passes``."""
    return [Config(float(p), "full", True, "lattice", int(n)) for n in passes]


def _timed(psa: GridSearchPSA, block: CrystalBlock, repeat: int = 1) -> tuple[PsaBlock, float]:
    """PSA output and the best wall time (s) of ``repeat`` runs."""
    best = np.inf
    out = None
    for _ in range(repeat):
        start = time.perf_counter()
        out = psa.run(block)
        best = min(best, time.perf_counter() - start)
    assert out is not None
    return out, float(best)


def _subset(out: PsaBlock, hits: int) -> int:
    """Number of leading events holding at least ``hits`` hits (all events if fewer)."""
    cum = np.cumsum(out.n_hits)
    return int(min(len(out), np.searchsorted(cum, hits) + 1))


def _rate(hits: int, seconds: float) -> float:
    return float(hits / seconds) if seconds > 0 else float("nan")


def _agree_pct(a: PsaBlock, b: PsaBlock) -> float:
    if len(a.hits) != len(b.hits) or not (
            np.array_equal(a.hits.event_index, b.hits.event_index)
            and np.array_equal(a.hits.segment, b.hits.segment)):
        return float("nan")
    if len(a.hits) == 0:
        return float("nan")
    d = np.linalg.norm(hit_positions(a) - hit_positions(b), axis=1)
    return float(100 * np.mean(d < AGREE_MM))


def bench_rows(basis: Basis, events: Mapping[tuple[str, float], tuple[CrystalBlock, Truth]],
               configs: Iterable[Config], *, base: PsaSettings | None = None,
               reference_hits: int = 100, warmup_events: int = 8,
               subset_repeat: int = 3) -> list[dict[str, Any]]:
    """One row (:data:`ROW_KEYS`) per configuration and event set ``{(kind, noise): (block,
    truth)}``. ``base`` gives the other settings (its backend is replaced by numba / reference);
    ``reference_hits``: size of the subset timed with the reference (0 = no reference)."""
    base = (base or PsaSettings()).replace(backend="numba")
    rows: list[dict[str, Any]] = []
    for cfg in configs:
        s = cfg.settings(base)
        psa = GridSearchPSA(basis, s).prepare()
        ref = (GridSearchPSA(basis, s.replace(backend="reference")).prepare()
               if reference_hits > 0 else None)
        for (kind, noise), (block, truth) in events.items():
            psa.run(block.take(slice(0, min(warmup_events, len(block)))))  # numba compiles
            out, dt = _timed(psa, block)
            row: dict[str, Any] = {"config": cfg.name, "p": cfg.p, "search": cfg.search,
                                   "refine": cfg.refine,
                                   "refine_method": cfg.method if cfg.refine else None,
                                   "refine_passes": (s.refine_passes if cfg.refine else None),
                                   "noise": noise, "kind": kind,
                                   **accuracy_row(out, truth),
                                   "hits_per_s": _rate(len(out.hits), dt)}
            row.update(_reference(psa, ref, block, out, reference_hits, subset_repeat))
            rows.append({k: row[k] for k in ROW_KEYS})
            log.info("%s %s noise %g: %.0f hits/s, median %.2f mm", cfg.name, kind, noise,
                     row["hits_per_s"], row["median_3d_mm"])
    return rows


def _reference(psa: GridSearchPSA, ref: GridSearchPSA | None, block: CrystalBlock,
               out: PsaBlock, hits: int, repeat: int) -> dict[str, Any]:
    """Numba and reference timings on the leading events holding ``hits`` hits."""
    if ref is None:
        return dict.fromkeys(("ratio_to_reference", "reference_hits", "reference_hits_per_s",
                              "subset_hits_per_s", "reference_agree_pct"))
    sub = block.take(slice(0, _subset(out, hits)))
    fast, dt_fast = _timed(psa, sub, repeat)
    slow, dt_slow = _timed(ref, sub)
    n = len(fast.hits)
    return {"ratio_to_reference": dt_slow / dt_fast if dt_fast > 0 else float("nan"),
            "reference_hits": n, "reference_hits_per_s": _rate(len(slow.hits), dt_slow),
            "subset_hits_per_s": _rate(n, dt_fast), "reference_agree_pct": _agree_pct(fast, slow)}


def accuracy_table(basis: Basis, make_events: Callable[[float], tuple[CrystalBlock, Truth]],
                   *, p_values: Iterable[float] = (2.0, 1.0, 0.3),
                   noises: Iterable[float] = (0.01, 0.03),
                   searches: Iterable[str] = ("full", "ags"),
                   refines: Iterable[bool] = (False, True),
                   base: PsaSettings | None = None) -> list[dict[str, Any]]:
    """One row per (noise, p, search, refinement); ``make_events(noise)`` gives the events.
    Refinement = sub-grid positions + T0 (``refine_grid`` and ``refine_t0``)."""
    base = base or PsaSettings(backend="numba")
    configs = configurations(p_values, searches, refines)
    rows: list[dict[str, Any]] = []
    for noise in noises:
        block, truth = make_events(noise)
        for cfg in configs:
            out = GridSearchPSA(basis, cfg.settings(base)).run(block)
            acc = accuracy_row(out, truth)
            row = {"noise": noise, "p": cfg.p, "search": cfg.search, "refine": cfg.refine,
                   "events": len(block), **{k: acc[k] for k in STAT_KEYS},
                   "t0_rms_samples": acc["t0_rms_samples"]}
            rows.append(row)
            log.info("accuracy %s", row)
    return rows
