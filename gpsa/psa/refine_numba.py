"""The refinement on the numba kernels: same algorithm and results as :class:`gpsa.psa.refine.
Refiner` (the numpy reference, see its module docstring), parallel over hits and events.

Used by every backend but ``reference``. The block's work is a few numpy operations (the residual,
the hits of each rank) and one kernel call per rank and stage: no per-hit Python.

The kernels read the basis as float32. A float32 basis is read in place; a float16 one is decoded
once per PSA instance into a float32 copy of the samples the refinement can touch (the compared
window ± ``ceil(t0_range) + 2``, all 37 channels: ~7 kB per point at 40 samples).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from gpsa.psa.cpu import channel_order
from gpsa.psa.kernels import refine_common as rc
from gpsa.psa.kernels import refine_kernels as rk
from gpsa.psa.kernels import t0_kernel as tk
from gpsa.psa.kernels.cpu_kernels import p_mode
from gpsa.psa.loop import Hits
from gpsa.psa.refine import STAGES, refine_exponent, stages_from, t0_steps

if TYPE_CHECKING:
    from gpsa.psa.engine import GridSearchPSA


def _threads() -> int:
    import numba

    return int(numba.get_num_threads())


class RefineTables:
    """Per-PSA-instance kernel inputs (built once: :attr:`GridSearchPSA.refine_tables`)."""

    def __init__(self, psa: GridSearchPSA) -> None:
        basis, s = psa.basis, psa.settings
        grid = psa.basis_grid
        self.index = np.ascontiguousarray(grid.index)
        self.origin = np.asarray(grid.origin, np.float64)
        self.spacing = np.asarray(grid.spacing, np.float64)
        self.seg_of = np.asarray(basis.segment, np.int64)
        self.positions = np.asarray(basis.positions, np.float64)
        pad = int(math.ceil(s.t0_range)) + 2
        self.pad = pad
        if basis.signals.dtype == np.float32 and basis.signals.flags.c_contiguous:
            self.sig, self.first = basis.signals, psa.first_sample
        else:  # decode once: the window ± pad, indices clamped as the reference clamps them
            idx = np.clip(np.arange(psa.first_sample - pad, psa.first_sample + s.samples + pad),
                          0, basis.n_samples - 1)
            self.sig = np.ascontiguousarray(np.asarray(basis.signals)[:, :, idx], np.float32)
            self.first = pad
        n_ch = [t.channels.size if t is not None else 0 for t in psa.tables]
        self.chans = np.zeros((36, max(max(n_ch), 1)), np.int64)
        for seg, t in enumerate(psa.tables):
            if t is not None:
                self.chans[seg, :t.channels.size] = t.channels[channel_order(t)]
        self.n_chans = np.asarray(n_ch, np.int64)
        self.mask = np.ascontiguousarray(psa.mask, np.bool_)
        #: (lattice, stage pointers) of a pass from each first stage (:func:`stages_from`)
        self.lattices = [(np.ascontiguousarray(np.concatenate(st), np.float64),
                          np.cumsum([0] + [len(x) for x in st]).astype(np.int64))
                         for st in map(stages_from, range(len(STAGES)))]
        self.p = refine_exponent(s)
        self.mode = p_mode(self.p)


class NumbaRefiner:
    """T0 and sub-grid refinement of one block on the kernels (interface of Refiner)."""

    def __init__(self, psa: GridSearchPSA, hit_set: np.ndarray) -> None:
        self.t: RefineTables = psa.refine_tables
        self.s = psa.settings
        self.hit_set = np.ascontiguousarray(hit_set)
        self.chunks = 4 * _threads()

    def _xyz(self, hits: Hits) -> np.ndarray:
        return np.ascontiguousarray(self.t.positions[hits.point] + hits.offset_mm)

    @staticmethod
    def _ptr(hits: Hits, n: int) -> np.ndarray:
        """(n + 1,) first hit of each event (hits are sorted by event)."""
        return np.searchsorted(hits.event, np.arange(n + 1)).astype(np.int64)

    def model_signals(self, hits: Hits, delta: np.ndarray) -> np.ndarray:
        """(m, 37, K) unit signals of the hits at their positions, shifted by ``delta``."""
        t = self.t
        out = np.empty((len(hits), 37, self.s.samples), np.float32)
        if len(hits):
            rc.model_signals(t.sig, self._xyz(hits), hits.segment, np.asarray(delta, np.float64),
                             t.index, t.origin, t.spacing, t.seg_of, t.first, out)
        return out

    def refine_t0(self, hits: Hits, window: np.ndarray) -> np.ndarray:
        """δ per event (float64; 0 for events without hits). Updates ``hits.signal``."""
        n = window.shape[0]
        delta = np.zeros(n)
        if len(hits) == 0:
            return delta
        t = self.t
        coarse, fine = t0_steps(self.s.t0_range, self.s.t0_step)
        tk.refine_t0(np.ascontiguousarray(window), self._ptr(hits, n),
                     self._xyz(hits), hits.segment, hits.energy.astype(np.float32), t.mask,
                     t.index, t.origin, t.spacing, t.seg_of, t.sig, t.first, t.pad,
                     np.concatenate([coarse, fine]), coarse.size, float(self.s.t0_range),
                     t.mode, t.p, delta)
        hits.signal[:] = self.model_signals(hits, delta[hits.event])
        return delta

    def _grid_inputs(self, hits: Hits, window: np.ndarray, delta: np.ndarray
                     ) -> tuple[np.ndarray, ...]:
        """(residual, start positions, offsets, foms, δ, energies): the position kernels'
        inputs (residual = window − every hit's model; offsets and foms written by them)."""
        resid = np.empty(window.shape, np.float32)
        rc.residual(np.ascontiguousarray(window), self._ptr(hits, window.shape[0]), hits.energy,
                    hits.signal, resid)
        return (resid, self._xyz(hits), np.zeros((len(hits), 3)),
                hits.fom.astype(np.float64, copy=True), np.asarray(delta, np.float64),
                np.ascontiguousarray(hits.energy, np.float32))

    def refine_grid(self, hits: Hits, window: np.ndarray, delta: np.ndarray,
                    first_stage: int = 0) -> None:
        """Move hits between grid points (in place: ``offset_mm``, ``signal``, ``fom``),
        searching ``stages_from(first_stage)``."""
        if len(hits) == 0:
            return
        t = self.t
        resid, xyz, off, fom, delta, energy = self._grid_inputs(hits, window, delta)
        lattice, ptr = t.lattices[first_stage]
        for r in range(int(hits.rank.max()) + 1):
            sel = np.flatnonzero(hits.rank == r)
            rk.refine_positions(resid, hits.signal, sel, hits.event, hits.segment, energy, xyz,
                                delta, t.chans, t.n_chans, self.hit_set,
                                bool(self.s.mask_other_hits), t.index, t.origin, t.spacing,
                                t.seg_of, t.sig, t.first, lattice, ptr, t.mode, t.p,
                                self.chunks, off, fom)
        hits.offset_mm[:] = (hits.offset_mm + off).astype(np.float32)
        hits.fom[:] = fom
