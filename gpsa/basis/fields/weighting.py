"""Weighting potentials of the 37 electrodes (Laplace's equation, Shockley–Ramo).

The weighting potential ``φ_k`` of electrode ``k`` solves ``∇²φ_k = 0`` in the germanium with
``φ_k = 1`` on electrode ``k`` and 0 on every other electrode (no space charge, no bias; the
passivated back face keeps its Neumann condition). A charge ``q`` at ``r`` induces
``Q_k = −q·φ_k(r)`` on electrode ``k``.

All 37 problems share the operator, so they are solved together as the 37 columns of one
``(n_nodes, 37)`` float64 array (one SOR sweep updates all columns of a node at once). As every
boundary value sums to 1 over the electrodes, ``Σ_k φ_k = 1`` everywhere: the solver does *not*
impose it, so :func:`sum_error` is an independent check of convergence.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from gpsa.basis.fields.extend import extend_ghosts
from gpsa.basis.fields.grid import FieldGrid
from gpsa.basis.fields.multilevel import LevelInfo, Problem, solve_multilevel

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class WeightingPotentials:
    grid: FieldGrid
    values: np.ndarray  # (nx, ny, nz, n_electrodes) float32; electrode nodes hold 1 / 0
    levels: tuple[LevelInfo, ...] = ()

    @property
    def n_electrodes(self) -> int:
        return int(self.values.shape[-1])

    def extended(self) -> np.ndarray:
        """Ghost-extended copy ``(nx, ny, nz, n)`` for interpolation near the electrodes."""
        flat = self.values.reshape(-1, self.n_electrodes)
        return extend_ghosts(self.grid, flat).reshape(self.values.shape)

    def sum_error(self) -> float:
        """``max |Σ_k φ_k − 1|`` over the free nodes."""
        flat = self.values.reshape(-1, self.n_electrodes)[self.grid.free]
        return float(np.abs(flat.sum(axis=1, dtype=np.float64) - 1.0).max())


def solve_weighting(grid: FieldGrid, *, tol: float = 1e-6, coarse: list[FieldGrid] | None = None,
                    omega: float | None = None, dtype: type = np.float32) -> WeightingPotentials:
    """Solve the weighting potentials of all electrode labels of ``grid`` (``tol`` absolute).

    The solve runs in float64 (float32 stalls at ~1e-6 on fine grids); the result is stored as
    ``dtype``."""
    n = grid.n_electrodes
    problem = Problem(boundary=np.eye(n), source=None, dtype=np.float64)
    phi, levels = solve_multilevel(grid, problem, tol=tol, coarse=coarse, omega=omega)
    values = phi.astype(dtype, copy=False).reshape(*grid.shape, n)
    del phi
    result = WeightingPotentials(grid=grid, values=values,
                                 levels=tuple(levels))
    log.info("%d weighting potentials solved on %s: %s sweeps, |Σφ − 1| ≤ %.2g", n, grid.shape,
             "+".join(str(lv.sweeps) for lv in levels), result.sum_error())
    return result
