"""Photopeak efficiency and peak-to-total of source lines, before and after tracking.

Spectra are plain arrays of energies (keV), one entry per count:

* ``"crystal sum"`` — the calorimetric sum of each crystal event (its hits' energies);
* ``"event sum"`` — the calorimetric sum of each event (all crystals);
* ``"tracked"`` — the tracked gamma energies.

For a line at E: *peak counts* = entries with ``|e − E| ≤ window_kev``; *photopeak efficiency*
= peak counts / gammas of that line emitted; *peak-to-total* of a spectrum = (peak counts of
all lines) / (entries ≥ ``threshold_kev``). A cascade (60Co) makes the "event sum" add both
gammas when both are absorbed, as a calorimeter does.

For simulated runs, :func:`first_found` gives the fraction of gammas whose first true
interaction was found: a tracked gamma of the same event has its first point within
``distance_mm`` of it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LineFigures:
    spectrum: str
    line_kev: float
    peak_counts: int
    emitted: int
    efficiency: float
    peak_to_total: float  # of the whole spectrum, all lines' peaks
    total_counts: int


def peak_counts(energies: np.ndarray, line_kev: float, window_kev: float) -> int:
    return int(np.count_nonzero(np.abs(np.asarray(energies, float) - line_kev) <= window_kev))


def figures(spectra: Mapping[str, np.ndarray], lines_kev: Sequence[float],
            emitted: Sequence[int] | int, *, window_kev: float = 3.0,
            threshold_kev: float = 0.0) -> list[LineFigures]:
    """Efficiency and P/T of every line in every spectrum (see the module docstring);
    ``emitted``: gammas emitted per line (one number for all lines)."""
    n_emit = [int(emitted)] * len(lines_kev) if np.isscalar(emitted) else [
        int(x) for x in emitted]  # type: ignore[union-attr]
    out = []
    for name, spec in spectra.items():
        e = np.asarray(spec, float)
        total = int(np.count_nonzero(e >= threshold_kev))
        peaks = [peak_counts(e, ln, window_kev) for ln in lines_kev]
        pt = sum(peaks) / total if total else float("nan")
        for ln, pk, ne in zip(lines_kev, peaks, n_emit, strict=True):
            out.append(LineFigures(name, float(ln), pk, ne, pk / ne if ne else float("nan"),
                                   pt, total))
    return out


def calorimetric(energies: np.ndarray, crystal_offsets: np.ndarray,
                 event_offsets: np.ndarray) -> dict[str, np.ndarray]:
    """The crystal-sum and event-sum spectra from hit energies grouped by crystal event
    (``crystal_offsets``, CSR over hits) and events (``event_offsets``, CSR over hits)."""
    e = np.asarray(energies, float)
    return {"crystal sum": _sums(e, crystal_offsets), "event sum": _sums(e, event_offsets)}


def _sums(e: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    sizes = np.diff(offsets)
    cs = np.concatenate([[0.0], np.cumsum(e)])
    return (cs[offsets[1:]] - cs[offsets[:-1]])[sizes > 0]


def first_found(true_first: np.ndarray, true_event: np.ndarray, tracked_first: np.ndarray,
                tracked_event: np.ndarray, distance_mm: float) -> float:
    """Fraction of true gammas (first interaction ``true_first`` (k, 3), event
    ``true_event``) with a tracked gamma of the same event whose first point
    (``tracked_first`` (g, 3), ``tracked_event``) lies within ``distance_mm``."""
    if not len(true_first):
        return float("nan")
    order = np.argsort(tracked_event, kind="stable")
    te, tp = np.asarray(tracked_event)[order], np.asarray(tracked_first, float)[order]
    lo = np.searchsorted(te, true_event, "left")
    hi = np.searchsorted(te, true_event, "right")
    found = np.zeros(len(true_first), bool)
    width = int((hi - lo).max()) if len(lo) else 0
    for j in range(width):  # loop over the gammas per event (a few), vectorised over gammas
        idx = lo + j
        ok = idx < hi
        d = np.linalg.norm(tp[np.minimum(idx, len(tp) - 1)] - true_first, axis=1) if len(tp) \
            else np.full(len(true_first), np.inf)
        found |= ok & (d <= distance_mm)
    return float(found.mean())


def format_table(rows: Sequence[LineFigures]) -> list[str]:
    """Lines of a plain-text table of :func:`figures`."""
    out = [f"{'spectrum':<12} {'line keV':>9} {'peak':>8} {'emitted':>8} {'eff %':>7} "
           f"{'P/T %':>7}"]
    for r in rows:
        out.append(f"{r.spectrum:<12} {r.line_kev:9.1f} {r.peak_counts:8d} {r.emitted:8d} "
                   f"{100 * r.efficiency:7.2f} {100 * r.peak_to_total:7.2f}")
    return out
