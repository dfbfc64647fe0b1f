"""Refinement passes: sub-grid positions and sub-sample T0 in turn, each pass on the events that
are still moving.

T0 and the radius are correlated (a later drift looks like a later start), so one T0 scan and one
lattice search do not reach the joint optimum: the engine repeats "T0 given the positions, then
the positions given T0" up to ``refine_passes`` times (:class:`~gpsa.psa.settings.PsaSettings`).
A pass on an event depends on that event alone (its window, its hits, their positions and its
δ), and both steps are deterministic, so an event whose T0 and hits did not move in a pass gives
the same answer in every later pass: later passes run on the moving events only (one that moved
by less than :data:`PASS_TOL_SAMPLES` and :data:`PASS_TOL_MM` counts as settled too). The
passes stop when at most :data:`PASS_STOP_FRACTION` of the block's events moved (discrete T0
and lattice steps can cycle: a few events may never settle).

Measured on gpsa's 2 mm AGATA-A basis (events from other generator settings, 1 % noise, p = 1
search, default refinement): of 1,500 single hits, 1,374, 1,086, 732, 457, 257, 157, 99, 54,
34 and 22 events still moved after passes 1 to 10 (in a 20-pass run, 14 after pass 11, where the
1 % rule stopped it), so the later passes cost little; of 800 two-hit events, 792, 716, 598,
466, 368, 259, 181, 130, 97 and 65. Results are equal to refining every event in every pass
(``tests/psa/test_refine_passes.py``).
Median 3D error with 3 / 6 / 10 passes (eighth-step lattices and ``t0_step`` 0.125 at 3 passes,
the former defaults): single hits 0.80 (3, former) / 0.682 / 0.675 mm, two hits in two segments
0.98 (3, former) / 0.822 / 0.793 mm.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import fields
from typing import Any

import numpy as np

from gpsa.psa.loop import Hits
from gpsa.psa.settings import PsaSettings

log = logging.getLogger(__name__)

#: An event moved in a pass when its T0 changed by PASS_TOL_SAMPLES or a hit by PASS_TOL_MM.
PASS_TOL_SAMPLES = 0.01
PASS_TOL_MM = 0.01
#: The passes stop once at most this fraction of the block's events moved.
PASS_STOP_FRACTION = 0.01


def take_events(hits: Hits, events: np.ndarray) -> tuple[Hits, np.ndarray]:
    """(the hits of ``events`` (sorted event indices) with events renumbered 0..len − 1, their
    indices in ``hits``). Hits are sorted by event, so the subset is too."""
    keep = np.flatnonzero(np.isin(hits.event, events))
    sub = Hits(**{f.name: getattr(hits, f.name)[keep] for f in fields(Hits)})
    sub.event = np.searchsorted(events, sub.event).astype(np.int64)
    return sub, keep


def put_back(hits: Hits, keep: np.ndarray, sub: Hits) -> None:
    """Store what the refinement changes (offsets, signals, foms) of ``sub`` into ``hits``."""
    hits.offset_mm[keep] = sub.offset_mm
    hits.signal[keep] = sub.signal
    hits.fom[keep] = sub.fom


def refine(make_refiner: Callable[[np.ndarray], Any], hits: Hits, window: np.ndarray,
           hit_set: np.ndarray, s: PsaSettings, only_moving: bool = True) -> np.ndarray:
    """Positions, then ``refine_passes`` × (T0, positions from the quarter steps), as the
    settings ask; in place on ``hits``. Returns δ (n,) float64 samples (0 without T0
    refinement). ``make_refiner(hit_set)``: a refiner of the events whose masked hit segments
    are ``hit_set`` (:meth:`gpsa.psa.engine.GridSearchPSA._refiner`). ``only_moving=False``
    runs every pass on every event (the same result, slower: the tests' comparison)."""
    n = window.shape[0]
    delta = np.zeros(n)
    refiner = make_refiner(hit_set)
    if s.refine_grid:
        refiner.refine_grid(hits, window, delta)
    if not s.refine_t0:
        return delta
    active = np.unique(hits.event)
    for _ in range(s.refine_passes if s.refine_grid else 1):
        if active.size == n:
            sub, keep, part, w = hits, None, refiner, window
        else:
            sub, keep = take_events(hits, active)
            part, w = make_refiner(hit_set[active]), window[active]
        previous, before = delta[active], sub.offset_mm.copy()
        d = part.refine_t0(sub, w)
        if s.refine_grid:  # positions were refined: from the quarter steps
            part.refine_grid(sub, w, d, first_stage=1)
        if keep is not None:
            put_back(hits, keep, sub)
        delta[active] = d
        moved = np.abs(d - previous) >= PASS_TOL_SAMPLES
        moved[sub.event[np.abs(sub.offset_mm - before).max(axis=1) >= PASS_TOL_MM]] = True
        log.debug("refinement pass: %d of %d events moved (%d refined)", int(moved.sum()), n,
                  active.size)
        if moved.sum() <= PASS_STOP_FRACTION * n:
            break
        if only_moving:
            active = active[moved]
    return delta
