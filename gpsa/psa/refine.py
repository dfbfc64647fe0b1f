"""Refinements after the grid search: sub-sample T0 and sub-grid positions.

**T0** (``refine_t0``): with every hit at its (refined) position, the model of each event is
shifted in time by δ (cubic interpolation of the noise-free basis, see :mod:`gpsa.psa.window`):
steps of 4·``t0_step`` over [−t0_range, +t0_range], then ``t0_step`` within ±3 steps of the best;
the δ of least event fom (sum over the union of the hits' mask channels) is kept, ties preferring
the smallest |δ|. The event time becomes ``round(t0) + δ``. With ``refine_grid`` the order is:
sub-grid positions at δ = 0, T0, sub-grid positions again at δ from the quarter-step stage
(the position found before a candidate too; ``refine_passes`` repeats T0 and this pass)
(measured, 1,500 hits, p = 2: median 0.86 mm as with all stages again, at 0.7x the time; 0.93
mm with the eighth steps only; 1.07 mm without the T0 step). Measured on the toy basis: T0
refinement at *grid* positions (``refine_grid`` off) makes T0 worse (0.35 vs 0.27 samples rms),
because a time shift absorbs the grid's position error (drift time ↔ radius); with the sub-grid
step it improves T0 (0.22 samples rms) — so use it with ``refine_grid``.

**Positions** (``refine_grid``): for each hit (ranks in order, residuals of the other hits
subtracted, as in the search loop) the basis signals are interpolated trilinearly between the 8
surrounding grid nodes (:class:`gpsa.basis.grid.BasisGrid` corners, nodes of *other* segments
dropped and the weights renormalised; a position whose nodes of the hit segment carry less than
half the weight is not allowed) and time-shifted by the event's δ. Four stages of 3³ positions,
each around the best so far: half grid steps (±1 mm on a 2 mm grid), quarter, eighth and
sixteenth steps (27 + 26 + 26 + 26 positions: the centre first, and not again; 0.125 mm
resolution on a 2 mm grid). Measured on gpsa's 2 mm AGATA-A basis with events from other
generator settings (1,500 single hits, 1 % noise, p = 1, 6 passes, ``t0_step`` 0.0625): median
3D error 0.703 mm with the sixteenth steps, 0.746 mm with ``t0_step`` 0.125, and 0.773 mm
without them (eighth steps and ``t0_step`` 0.125); a fifth stage (thirty-second steps) gave
0.703 mm again. (Earlier, p = 2, one pass: 0.93 mm for three stages, as for the former 5³ half
steps within ±1 grid step then 3³ quarter steps (152 positions), and 0.99 mm for two.) The grid
point itself is a candidate, so the fom never gets worse.

**Exponent** (``refine_p``, default 2): both steps minimise Σ w_c Σ_k |measured − model|^q with
q = ``refine_p`` (0: the search's p). The search's p sets which grid point wins (p < 2 keeps
outliers out); the refinement then only moves within a cell, where least squares is the better
estimator. Measured on gpsa's 2 mm AGATA-A basis (events from other generator settings, 1 %
noise, p = 1 search, 6 passes): median 0.682 mm, FWHM 0.98 / 1.02 / 0.86 mm, > 5 mm 1.4 % with
q = 2, against 0.703 mm, 1.03 / 1.06 / 0.90 mm, 1.9 % with q = p = 1; two hits in two segments
0.822 against 0.880 mm (> 5 mm 5.6 vs 6.4 %). A p = 2 search refined with q = 2 gave 0.690 mm
(> 5 mm 2.3 %). The refined hits' fom is the refinement's (exponent q).

This numpy version is the readable reference (the ``reference`` backend uses it); every other
backend runs the same algorithm on the numba kernels (:mod:`gpsa.psa.refine_numba`), tested
equal to it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from gpsa.basis.grid import BasisGrid
from gpsa.psa.loop import Hits, channel_weights
from gpsa.psa.reference import term_power
from gpsa.psa.settings import PsaSettings
from gpsa.psa.window import shifted_signals

if TYPE_CHECKING:
    from gpsa.psa.engine import GridSearchPSA

HITS_PER_CHUNK = 32


def _cube(step: float, centre: bool) -> np.ndarray:
    """The 3³ lattice of offsets {-step, 0, +step}³ (grid steps), the centre first (it is the
    best so far: early termination bites at once) or left out (already evaluated)."""
    a = np.array([0.0, -step, step])
    cube = np.stack(np.meshgrid(a, a, a, indexing="ij"), -1).reshape(-1, 3)
    return cube if centre else cube[1:]


#: Sub-grid lattices in grid steps, searched in turn around the best position so far.
#: Their steps, in grid steps.
STEPS = (0.5, 0.25, 0.125, 0.0625)
STAGES: tuple[np.ndarray, ...] = (_cube(STEPS[0], True),) + tuple(
    _cube(step, False) for step in STEPS[1:])
#: A position is allowed when its nodes of the hit segment carry at least this much weight.
MIN_SEGMENT_WEIGHT = 0.5


def refine_exponent(s: PsaSettings) -> float:
    """The exponent of the lattice refinement's figure of merit (``refine_p``; 0 = ``p``)."""
    return float(s.refine_p) if s.refine_p > 0 else float(s.p)


def stages_from(first_stage: int) -> tuple[np.ndarray, ...]:
    """The lattices of a pass starting at ``first_stage``: its first lattice with the centre
    (the position found before is a candidate: a pass never makes a hit's fom worse)."""
    return (_cube(STEPS[first_stage], True),) + STAGES[first_stage + 1:]


def t0_steps(t0_range: float, t0_step: float) -> tuple[np.ndarray, np.ndarray]:
    """The T0 scan's shifts: coarse (around 0) and fine (around the coarse best), each ordered by
    |shift| (stable: ties prefer the smaller |δ|, then the negative one)."""
    coarse = np.arange(-t0_range, t0_range + 1e-9, 4 * t0_step)
    fine = np.arange(-3, 4) * t0_step
    return (coarse[np.argsort(np.abs(coarse), kind="stable")],
            fine[np.argsort(np.abs(fine), kind="stable")])


class Refiner:
    """T0 and sub-grid refinement for one block (see module docstring)."""

    def __init__(self, psa: GridSearchPSA, hit_set: np.ndarray) -> None:
        self.psa = psa
        self.s = psa.settings
        self.hit_set = hit_set
        self.first = psa.first_sample
        self.K = psa.settings.samples
        self.p = refine_exponent(psa.settings)

    def _shift(self, points: np.ndarray, delta: np.ndarray,
               channels: np.ndarray | None = None) -> np.ndarray:
        return shifted_signals(self.psa.basis.signals, points, self.first, self.K, delta, channels)

    def _grid(self) -> BasisGrid:
        return self.psa.basis_grid

    def model_signals(self, hits: Hits, delta: np.ndarray) -> np.ndarray:
        """(m, 37, K) unit signals of the hits at their (refined) positions, shifted by
        ``delta`` (per hit)."""
        out = np.empty((len(hits), 37, self.K), np.float32)
        xyz = np.asarray(self.psa.basis.positions, np.float64)[hits.point] + hits.offset_mm
        for seg in np.unique(hits.segment):
            sel = np.flatnonzero(hits.segment == seg)
            sig, _ = self._interp(self._grid(), xyz[sel][:, None, :], int(seg), None, delta[sel])
            out[sel] = sig[:, 0]
        return out

    def _event_fom(self, hits: Hits, window: np.ndarray, delta_ev: np.ndarray,
                   union: np.ndarray) -> np.ndarray:
        """Event fom (n,) with every event's model shifted by ``delta_ev``."""
        model = np.zeros(window.shape, np.float32)
        np.add.at(model, hits.event, hits.energy[:, None, None]
                  * self.model_signals(hits, delta_ev[hits.event]))
        diff = term_power(np.abs(window - model), self.p)
        return np.einsum("eck,ec->e", diff, union.astype(np.float32))

    def refine_t0(self, hits: Hits, window: np.ndarray) -> np.ndarray:
        """δ per event (float64; 0 for events without hits). Updates ``hits.signal``."""
        n = window.shape[0]
        delta = np.zeros(n)
        if len(hits) == 0:
            return delta
        union = np.zeros((n, 37), bool)
        np.logical_or.at(union, hits.event, self.psa.mask[hits.segment])
        best_f = np.full(n, np.inf)
        coarse, fine = t0_steps(self.s.t0_range, self.s.t0_step)
        for steps, centre in ((coarse, np.zeros(n)), (fine, None)):
            centre = delta.copy() if centre is None else centre
            for d in steps:
                cand = np.clip(centre + d, -self.s.t0_range, self.s.t0_range)
                f = self._event_fom(hits, window, cand, union)
                better = f < best_f
                best_f[better] = f[better]
                delta[better] = cand[better]
        delta[np.bincount(hits.event, minlength=n) == 0] = 0.0
        hits.signal[:] = self.model_signals(hits, delta[hits.event])
        return delta

    def refine_grid(self, hits: Hits, window: np.ndarray, delta: np.ndarray,
                    first_stage: int = 0) -> None:
        """Move hits between grid points (in place: ``offset_mm``, ``signal``, ``fom``),
        searching ``stages_from(first_stage)``."""
        if len(hits) == 0:
            return
        grid = self._grid()
        resid = window.copy()
        np.add.at(resid, hits.event, -hits.energy[:, None, None] * hits.signal)
        positions = np.asarray(self.psa.basis.positions, np.float64)
        for r in range(int(hits.rank.max()) + 1):
            for seg in np.unique(hits.segment[hits.rank == r]):
                sel_all = np.flatnonzero((hits.rank == r) & (hits.segment == seg))
                for a in range(0, sel_all.size, HITS_PER_CHUNK):
                    sel = sel_all[a:a + HITS_PER_CHUNK]
                    self._refine_chunk(grid, hits, sel, int(seg), resid, positions, delta,
                                       stages_from(first_stage))

    def _refine_chunk(self, grid: BasisGrid, hits: Hits, sel: np.ndarray, seg: int,
                      resid: np.ndarray, positions: np.ndarray, delta: np.ndarray,
                      stages: tuple[np.ndarray, ...]) -> None:
        ch = self.psa.tables[seg].channels  # type: ignore[union-attr]
        ev, e = hits.event[sel], hits.energy[sel]
        targets = resid[ev][:, ch] + e[:, None, None] * hits.signal[sel][:, ch]
        weights = channel_weights(self.hit_set, ev, seg, ch, self.s.mask_other_hits)
        step = np.asarray(grid.spacing, np.float64)
        base = positions[hits.point[sel]] + hits.offset_mm[sel]
        best_off = np.zeros((sel.size, 3))
        best_fom = np.full(sel.size, np.inf)
        for lattice in stages:
            offs = best_off[:, None, :] + lattice[None] * step  # (m, L, 3) mm
            sig, ok = self._interp(grid, base[:, None, :] + offs, seg, ch, delta[ev])
            d = term_power(np.abs(targets[:, None] - e[:, None, None, None] * sig),
                           self.p)
            fom = np.einsum("mlck,mc->ml", d.astype(np.float64), weights.astype(np.float64))
            fom[~ok] = np.inf
            j = np.argmin(fom, axis=1)
            better = fom[np.arange(sel.size), j] < best_fom
            best_off[better] = offs[better, j[better]]
            best_fom[better] = fom[better, j[better]]
        new, _ = self._interp(grid, (base + best_off)[:, None, :], seg, None, delta[ev])
        new = new[:, 0]
        resid[ev] += e[:, None, None] * (hits.signal[sel] - new)
        hits.signal[sel] = new
        hits.offset_mm[sel] = (hits.offset_mm[sel] + best_off).astype(np.float32)
        hits.fom[sel] = best_fom

    def _interp(self, grid: BasisGrid, xyz: np.ndarray, seg: int, channels: np.ndarray | None,
                delta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Time-shifted, segment-restricted trilinear signals at xyz (m, L, 3):
        ((m, L, C, K) float32, (m, L) allowed)."""
        m, n_l = xyz.shape[:2]
        idx, w = grid.corners(xyz.reshape(-1, 3))  # (m·L, 8)
        w = np.where((idx >= 0) & (self.psa.basis.segment[np.maximum(idx, 0)] == seg), w, 0.0)
        total = w.sum(axis=1)
        ok = total >= MIN_SEGMENT_WEIGHT
        w = np.where(ok[:, None], w / np.where(ok, total, 1.0)[:, None], 0.0)
        hit_of = np.repeat(np.arange(m), n_l * 8)
        node = np.where(w > 0, idx, -1).ravel()
        node = np.where(node >= 0, node, 0)
        n_pts = len(self.psa.basis)
        uniq, inv = np.unique(hit_of * n_pts + node, return_inverse=True)
        shifted = self._shift(uniq % n_pts, delta[uniq // n_pts], channels)  # (U, C, K)
        corner_sig = shifted[inv.reshape(m * n_l, 8)]  # (m·L, 8, C, K)
        sig = np.einsum("pq,pqck->pck", w.astype(np.float32), corner_sig)
        return sig.reshape((m, n_l) + sig.shape[1:]), ok.reshape(m, n_l)

