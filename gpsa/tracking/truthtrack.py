"""Tracking of a truth table (:mod:`gpsa.tracking.truthfile`: a ``.npz``, a transport ``.h5``
or a toy run) on its true positions, optionally smeared: the spectra before and after tracking
and the fraction of gammas whose first interaction was found. Shared by ``gpsa track``, the
global demo and the benches.

::

    truth = read_truth("co60.h5")
    out = track_truth(truth, Tracker(TrackingSettings(inner_radius_mm=235.0)), noise_mm=2.0)
    rows = figures(out.spectra, out.lines_kev, out.emitted)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gpsa.tracking.efficiency import calorimetric, first_found
from gpsa.tracking.events import TrackingCounters
from gpsa.tracking.toymc import with_noise
from gpsa.tracking.tracker import Tracker, TrackResult
from gpsa.tracking.truthfile import Truth


@dataclass(frozen=True, eq=False)
class TruthTracking:
    """Counters, the three spectra (``crystal sum``, ``event sum``, ``tracked``), the lines
    and gammas emitted per line, the first-found fraction and the raw tracking result."""

    counters: TrackingCounters
    spectra: dict[str, np.ndarray]
    lines_kev: list[float]
    emitted: list[int]
    first_found: float
    result: TrackResult


def track_truth(truth: Truth, tracker: Tracker, *, noise_mm: float = 0.0, seed: int = 0,
                distance_mm: float = 5.0) -> TruthTracking:
    """Track ``truth`` on its positions plus Gaussian noise of ``noise_mm`` per coordinate
    (seeded); a tracked first point within ``distance_mm`` of the true first interaction of a
    gamma of the same event counts as found (measured against the true, unsmeared point)."""
    c = truth.columns
    pos = with_noise(truth.positions, noise_mm, seed)
    res = tracker.track(pos, c["energy"], truth.offsets)
    counters = TrackingCounters()
    counters.add(res.counters)
    if c["event"].size:
        _, pair = np.unique(np.stack([c["event"], c["crystal"]], axis=1), axis=0,
                            return_inverse=True)
        crystal_sum = np.bincount(pair.ravel(), c["energy"])
    else:
        crystal_sum = np.zeros(0)
    spectra = {"crystal sum": crystal_sum,
               "event sum": calorimetric(c["energy"], truth.offsets, truth.offsets)["event sum"],
               "tracked": res.energy}
    p1, ev1, _ = truth.first_points()
    found = first_found(p1, ev1, truth.positions[res.first], res.event, distance_mm)
    return TruthTracking(counters, spectra, truth.lines_kev.tolist(),
                         truth.emitted_per_line.tolist(), found, res)
