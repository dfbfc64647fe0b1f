"""The least-squares refinement on the numba kernels: same algorithm as :class:`gpsa.psa.fit.
FitRefiner` (the numpy reference, see its module docstring), parallel over hits and events; the
block's work is a few numpy operations and one kernel call per rank and stage."""

from __future__ import annotations

import numpy as np

from gpsa.psa.fit import FIT_MAX_ITER, FIT_TOL_MM, LIMIT_STEPS, T0_MAX_ITER, T0_TOL, t0_scan
from gpsa.psa.kernels import fit_kernels as fk
from gpsa.psa.kernels.cpu_kernels import p_mode
from gpsa.psa.loop import Hits
from gpsa.psa.refine_numba import NumbaRefiner


class NumbaFitter(NumbaRefiner):
    """Least-squares T0 and positions of one block on the kernels (interface of FitRefiner)."""

    def refine_t0(self, hits: Hits, window: np.ndarray) -> np.ndarray:
        """δ per event (float64; 0 for events without hits). Updates ``hits.signal``."""
        n = window.shape[0]
        delta = np.zeros(n)
        if len(hits) == 0:
            return delta
        t = self.t
        fk.fit_t0(np.ascontiguousarray(window), self._ptr(hits, n), self._xyz(hits),
                  hits.segment, hits.energy.astype(np.float32), t.mask, t.index, t.origin,
                  t.spacing, t.seg_of, t.sig, t.first, t.pad, t0_scan(self.s.t0_range),
                  float(self.s.t0_range), T0_MAX_ITER, T0_TOL, delta)
        hits.signal[:] = self.model_signals(hits, delta[hits.event])
        return delta

    def refine_grid(self, hits: Hits, window: np.ndarray, delta: np.ndarray,
                    first_stage: int = 0) -> None:
        """Move hits to their least-squares positions (in place: ``offset_mm``, ``signal``,
        ``fom``); ``first_stage`` > 0: a second pass, from the positions found before."""
        if len(hits) == 0:
            return
        t = self.t
        resid, xyz, off, fom, delta, energy = self._grid_inputs(hits, window, delta)
        for r in range(int(hits.rank.max()) + 1):
            sel = np.flatnonzero(hits.rank == r)
            fk.fit_positions(resid, hits.signal, sel, hits.event, hits.segment, energy, xyz,
                             delta, t.chans, t.n_chans, self.hit_set,
                             bool(self.s.mask_other_hits), t.index, t.origin, t.spacing,
                             t.seg_of, t.sig, t.first, FIT_MAX_ITER, LIMIT_STEPS, FIT_TOL_MM,
                             p_mode(self.s.p), float(self.s.p), self.chunks, off, fom)
        hits.offset_mm[:] = (hits.offset_mm + off).astype(np.float32)
        hits.fom[:] = fom
