"""Least-squares refinement after the grid search: continuous positions and sub-sample T0
(``refine_method = "fit"``; the default ``"lattice"`` is :mod:`gpsa.psa.refine`).

The model of a hit is the basis signal interpolated trilinearly at a continuous position (the 8
nodes of its cell restricted to the hit segment and renormalised, as the lattice refinement),
time-shifted by the event's δ (Catmull-Rom). Both steps minimise χ² = Σ (measured − model)² over
the compared samples, whatever the search's exponent p:

* **positions** (``refine_grid``): for each hit (ranks in order, the other hits' models
  subtracted), Levenberg–Marquardt steps on (x, y, z) from the grid point: the normal equations
  of the trilinear model's analytic Jacobian (J = E·∂model/∂x over the hit segment's mask
  channels, other hit segments' channels weighted 0 with ``mask_other_hits``), a step kept only
  if χ² falls (else λ grows ×10, from 0.01), at most :data:`FIT_MAX_ITER` steps, ending on a
  step shorter than :data:`FIT_TOL_MM`; each axis stays within :data:`LIMIT_STEPS` grid steps of
  the start. The hit's fom is then the search's (exponent p) at the final position.
* **T0** (``refine_t0``): per event, the model of all its hits on the union of their mask
  channels, χ² at the shifts of :func:`t0_scan` (best kept, ties to the smallest |δ|), then
  Gauss–Newton steps on δ (analytic derivative of the Catmull-Rom weights), each kept only if χ²
  falls, within ±t0_range.

With both, the order is as for the lattice: positions at δ = 0, T0, positions again from there.

Measured (``bench/bench_psa_accuracy.py``, ``bench/results/psa_accuracy.json``: 2 mm AGATA-A
basis, events from other generator settings with cross-talk and T0 jitter, 3,000 single hits at
1 % noise, the default 10 passes): p = 1 median 0.73 mm fitted against 0.63 mm for the lattice
(which, with ``refine_p = 2``, minimises χ² too, over four lattices down to a sixteenth of a grid
step), at 1.3× its rate. (With 3 passes and the lattice in the search's p the fit had given a
p < 2 search the accuracy of p = 2 refinement: p = 0.3 0.81 mm fitted against 0.97 mm.) The fit
stops in the nearest minimum of the piecewise-trilinear χ² (kinks at cell faces), where the
lattice's 3³ half steps look over the whole cell first.

This numpy version is the readable reference (the ``reference`` backend uses it); every other
backend runs :mod:`gpsa.psa.fit_numba` on the kernels of :mod:`gpsa.psa.kernels.fit_kernels`,
tested equal to it.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from gpsa.psa.loop import Hits, channel_weights
from gpsa.psa.reference import term_power
from gpsa.psa.refine import MIN_SEGMENT_WEIGHT, Refiner
from gpsa.psa.window import catmull_rom

if TYPE_CHECKING:
    from gpsa.basis.grid import BasisGrid

#: Levenberg–Marquardt steps per hit and pass; a step shorter than FIT_TOL_MM ends the fit.
FIT_MAX_ITER = 6
FIT_TOL_MM = 0.02
#: A hit stays within this many grid steps of its start point, per axis.
LIMIT_STEPS = 1.0
#: T0: Gauss–Newton steps after the scan, and the step (samples) that ends them.
T0_MAX_ITER = 4
T0_TOL = 0.01


def t0_scan(t0_range: float) -> np.ndarray:
    """The T0 fit's starting scan: shifts 0, ±0.5, ±1, … within ±t0_range, ordered by |δ|."""
    half = np.arange(0.0, t0_range + 1e-9, 0.5)
    scan = np.concatenate([[0.0], np.ravel(np.column_stack([-half[1:], half[1:]]))])
    return scan.astype(np.float64)


def cell_weights(grid: BasisGrid, seg_of: np.ndarray, xyz: np.ndarray, seg: int
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(nodes (8,) basis points or -1, weights (8,), d weights / d xyz (8, 3) per mm) of the
    trilinear cell of ``xyz`` restricted to segment ``seg`` and renormalised; None when the
    segment's nodes carry less than MIN_SEGMENT_WEIGHT. Corners in (i, j, k) binary order."""
    dims = grid.index.shape
    lo, f, g = np.zeros(3, np.int64), np.zeros(3), np.zeros(3)
    for a in range(3):
        u = (xyz[a] - grid.origin[a]) / grid.spacing[a]
        lo[a] = min(max(math.floor(u), 0), max(dims[a] - 2, 0))
        if dims[a] > 1:
            f[a] = u - lo[a]
            g[a] = 1.0 / grid.spacing[a] if 0.0 <= f[a] <= 1.0 else 0.0
            f[a] = min(max(f[a], 0.0), 1.0)
    corner = np.array([[ci, cj, ck] for ci in (0, 1) for cj in (0, 1) for ck in (0, 1)])
    ijk = np.minimum(lo + corner, np.array(dims) - 1)
    nodes = grid.index[ijk[:, 0], ijk[:, 1], ijk[:, 2]].astype(np.int64)
    ok = (nodes >= 0) & (seg_of[np.maximum(nodes, 0)] == seg)
    fac = np.where(corner == 1, f, 1.0 - f)  # (8, 3) per-axis factors
    sgn = np.where(corner == 1, 1.0, -1.0)
    w = np.prod(fac, axis=1) * ok
    dw = np.stack([sgn[:, a] * g[a] * np.prod(np.delete(fac, a, axis=1), axis=1)
                   for a in range(3)], axis=1) * ok[:, None]
    total = w.sum()
    if total < MIN_SEGMENT_WEIGHT:
        return None
    dw = (dw * total - w[:, None] * dw.sum(axis=0)) / (total * total)
    return np.where(ok, nodes, -1), w / total, dw


class FitRefiner(Refiner):
    """Least-squares T0 and positions of one block (see module docstring)."""

    def _padded_model(self, hits: Hits, sel: np.ndarray, channels: np.ndarray,
                      pad: int) -> np.ndarray:
        """Σ E·signal of the hits ``sel`` at their positions, unshifted, samples ``first −
        pad`` … ``first + K + pad − 1`` (clamped), on ``channels``: (C, K + 2·pad) float32."""
        sig = self.psa.basis.signals
        cols = np.clip(np.arange(self.first - pad, self.first + self.K + pad), 0,
                       sig.shape[2] - 1)
        xyz = np.asarray(self.psa.basis.positions, np.float64)[hits.point] + hits.offset_mm
        model = np.zeros((channels.size, cols.size), np.float32)
        for h in sel:
            cell = cell_weights(self._grid(), self.psa.basis.segment, xyz[h],
                                int(hits.segment[h]))
            if cell is None:
                continue
            nodes, w, _ = cell
            for q in np.flatnonzero(w != 0.0):
                wq = np.float32(w[q]) * np.float32(hits.energy[h])
                model += wq * np.asarray(sig[nodes[q]][channels][:, cols], np.float32)
        return model

    def _shift_chi2(self, obs: np.ndarray, model: np.ndarray, pad: int,
                    d: float) -> tuple[float, float, float]:
        """(χ², Σ r·∂m/∂δ, Σ (∂m/∂δ)²) of the padded model shifted by ``d``."""
        x = self.first - d
        b = math.floor(x)
        f = x - b
        c = catmull_rom(np.array(f))
        slope = -np.array([-1.5 * f * f + 2.0 * f - 0.5, 4.5 * f * f - 5.0 * f,
                           -4.5 * f * f + 4.0 * f + 0.5, 1.5 * f * f - f], np.float32)
        start = b - (self.first - pad) - 1
        taps = np.stack([model[:, start + j:start + j + self.K] for j in range(4)])
        v = np.einsum("j,jck->ck", c, taps)
        s = np.einsum("j,jck->ck", slope, taps).astype(np.float64)
        r = (obs - v).astype(np.float64)
        return float(np.sum(r * r)), float(np.sum(r * s)), float(np.sum(s * s))

    def refine_t0(self, hits: Hits, window: np.ndarray) -> np.ndarray:
        """δ per event (float64; 0 for events without hits). Updates ``hits.signal``."""
        n = window.shape[0]
        delta = np.zeros(n)
        if len(hits) == 0:
            return delta
        rng = float(self.s.t0_range)
        pad = int(math.ceil(rng)) + 2
        for ev in np.unique(hits.event):
            sel = np.flatnonzero(hits.event == ev)
            union = np.flatnonzero(self.psa.mask[hits.segment[sel]].any(axis=0))
            model = self._padded_model(hits, sel, union, pad)
            obs = window[ev][union]
            best = (np.inf, 0.0, 0.0, 0.0)  # (χ², δ, g, a)
            for d in t0_scan(rng):
                d = min(max(d, -rng), rng)
                chi2, g, a = self._shift_chi2(obs, model, pad, d)
                if chi2 < best[0]:
                    best = (chi2, d, g, a)
            for _ in range(T0_MAX_ITER):
                chi2_b, d_b, g_b, a_b = best
                if not a_b > 0.0:
                    break
                d = min(max(d_b + g_b / a_b, -rng), rng)
                if abs(d - d_b) < T0_TOL:
                    break
                chi2, g, a = self._shift_chi2(obs, model, pad, d)
                if chi2 >= chi2_b:
                    break
                best = (chi2, d, g, a)
            delta[ev] = best[1]
        hits.signal[:] = self.model_signals(hits, delta[hits.event])
        return delta

    def refine_grid(self, hits: Hits, window: np.ndarray, delta: np.ndarray,
                    first_stage: int = 0) -> None:
        """Move hits to their least-squares positions (in place: ``offset_mm``, ``signal``,
        ``fom``); ``first_stage`` > 0: a second pass, from the positions found before."""
        if len(hits) == 0:
            return
        resid = window.copy()
        np.add.at(resid, hits.event, -hits.energy[:, None, None] * hits.signal)
        for r in range(int(hits.rank.max()) + 1):
            for h in np.flatnonzero(hits.rank == r):
                self._fit_hit(hits, int(h), resid, float(delta[hits.event[h]]))

    def _model(self, nodes: np.ndarray, w: np.ndarray, dw: np.ndarray, ch: np.ndarray,
               d: float) -> tuple[np.ndarray, np.ndarray]:
        """(model (C, K), ∂model/∂xyz (3, C, K)) from the cell's shifted node signals."""
        use = nodes >= 0
        sig = self._shift(nodes[use], np.full(int(use.sum()), d), ch)  # (U, C, K)
        v = np.einsum("q,qck->ck", w[use].astype(np.float32), sig)
        dv = np.einsum("qa,qck->ack", dw[use].astype(np.float32), sig)
        return v, dv

    def _fit_hit(self, hits: Hits, h: int, resid: np.ndarray, d: float) -> None:
        seg, ev, e = int(hits.segment[h]), int(hits.event[h]), np.float32(hits.energy[h])
        ch = self.psa.tables[seg].channels  # type: ignore[union-attr]
        target = resid[ev][ch] + e * hits.signal[h][ch]
        wch = channel_weights(self.hit_set, np.array([ev]), seg, ch,
                              self.s.mask_other_hits)[0].astype(np.float64)
        grid, seg_of = self._grid(), self.psa.basis.segment
        start = np.asarray(self.psa.basis.positions, np.float64)[hits.point[h]] \
            + hits.offset_mm[h]
        limit = LIMIT_STEPS * np.asarray(grid.spacing, np.float64)

        def normal(xyz: np.ndarray) -> tuple[float, np.ndarray, np.ndarray] | None:
            cell = cell_weights(grid, seg_of, xyz, seg)
            if cell is None:
                return None
            v, dv = self._model(*cell, ch, d)
            r = (target - e * v).astype(np.float64)
            jac = (e * dv).astype(np.float64)  # (3, C, K)
            a = np.einsum("ack,bck,c->ab", jac, jac, wch)
            g = np.einsum("ack,ck,c->a", jac, r, wch)
            return float(np.einsum("ck,c->", r * r, wch)), a, g

        pos = start.copy()
        cur = normal(pos)
        if cur is not None:
            lam = 0.0
            for _ in range(FIT_MAX_ITER):
                chi2, a, g = cur
                step = _solve3(a, lam, g)
                if step is None:
                    break
                trial = np.clip(pos + step, start - limit, start + limit)
                if np.linalg.norm(trial - pos) < FIT_TOL_MM:
                    break
                new = normal(trial)
                if new is not None and new[0] < chi2:
                    pos, cur, lam = trial, new, 0.1 * lam
                else:
                    lam = max(10.0 * lam, 1e-2)
        signal = self._final_signal(pos, seg, d)
        model = signal[ch]
        hits.fom[h] = float(np.sum(term_power(np.abs(target - e * model), self.s.p).sum(axis=1)
                                   * wch))
        resid[ev] += e * (hits.signal[h] - signal)
        hits.signal[h] = signal
        hits.offset_mm[h] = (hits.offset_mm[h] + (pos - start)).astype(np.float32)

    def _final_signal(self, pos: np.ndarray, seg: int, d: float) -> np.ndarray:
        """(37, K) unit signal at ``pos`` shifted by ``d`` (0 where not allowed)."""
        cell = cell_weights(self._grid(), self.psa.basis.segment, pos, seg)
        if cell is None:
            return np.zeros((37, self.K), np.float32)
        return self._model(*cell, np.arange(37), d)[0]


def _solve3(a: np.ndarray, lam: float, g: np.ndarray) -> np.ndarray | None:
    """(A + λ·diag(A))⁻¹ g, None when singular."""
    m = a + lam * np.diag(np.diag(a))
    scale = float(np.prod(np.diag(m)))
    if not scale > 0.0 or abs(float(np.linalg.det(m))) <= 1e-12 * scale:
        return None
    return np.linalg.solve(m, g)
