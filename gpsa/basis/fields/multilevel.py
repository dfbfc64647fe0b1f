"""Coarse-to-fine (nested iteration) acceleration of the SOR solver.

SOR removes short-wavelength error in a few sweeps but needs O(n) sweeps for the smooth error on
an ``n``-node-wide grid. So the problem is first solved on grids of spacing ``h·2^L, …, 2h``
(each one cheap: 8× fewer nodes, half as many sweeps), and each solution, extended by ghost
values and trilinearly interpolated, is the initial guess of the next finer grid. The finest
solve then only has to remove the O(h²) interpolation error. Coarse levels are used only while
they still resolve every electrode of the fine grid (the 5 mm bore, the 8 mm front ring).

A :class:`Problem` gives the boundary value of each electrode label in each column (identity
for the weighting potentials, ``[0, …, 0, V_bias]`` for the electric potential) and an optional
source ``ρ/ε`` (V/mm²) as a function of position.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from gpsa.basis.fields import sor
from gpsa.basis.fields.extend import extend_ghosts
from gpsa.basis.fields.grid import FREE, FieldGrid
from gpsa.basis.fields.interp import trilinear

log = logging.getLogger(__name__)

SourceFn = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Problem:
    boundary: np.ndarray  # (n_labels, K): value of electrode label l in column k (V or 1)
    source: SourceFn | None = None  # ρ/ε in V/mm² at (n, 3) positions in mm
    dtype: type = np.float64

    @property
    def n_columns(self) -> int:
        return int(self.boundary.shape[1])


@dataclass(frozen=True)
class LevelInfo:
    spacing: float
    shape: tuple[int, int, int]
    sweeps: int
    correction: float


def initial_phi(grid: FieldGrid, problem: Problem) -> np.ndarray:
    """``(n_nodes, K)`` zeros with every electrode node set to its boundary values."""
    labels = grid.labels.ravel()
    phi = np.zeros((labels.size, problem.n_columns), dtype=problem.dtype)
    elec = np.flatnonzero(labels >= 0)
    lab = labels[elec]
    if lab.size and lab.max() >= problem.boundary.shape[0]:
        raise ValueError(f"electrode label {int(lab.max())} has no boundary value "
                         f"({problem.boundary.shape[0]} given)")
    phi[elec] = problem.boundary[lab]
    return phi


def source_term(grid: FieldGrid, problem: Problem) -> np.ndarray | None:
    """``h²ρ/ε`` (V) per free node, in ``grid.free`` order."""
    if problem.source is None:
        return None
    pos = grid.node_positions(grid.free)
    return grid.spacing**2 * np.asarray(problem.source(pos), dtype=np.float64)


def prolong(coarse: FieldGrid, phi_c: np.ndarray, fine: FieldGrid, phi_f: np.ndarray) -> None:
    """Set the free nodes of ``phi_f`` to the interpolated (ghost-extended) coarse solution."""
    ext = extend_ghosts(coarse, phi_c).reshape(*coarse.shape, phi_c.shape[1])
    pos = fine.node_positions(fine.free)
    phi_f[fine.free] = trilinear(ext, coarse.origin, coarse.spacing, pos)


def usable_levels(fine: FieldGrid, make_grid: Callable[[float], FieldGrid],
                  coarsest_mm: float) -> list[FieldGrid]:
    """Grids of spacing 2h, 4h, … ≤ ``coarsest_mm`` that keep every electrode label of ``fine``.

    Returned coarsest first."""
    needed = set(np.unique(fine.labels[fine.labels >= 0]).tolist())
    levels: list[FieldGrid] = []
    h = fine.spacing * 2
    while h <= coarsest_mm + 1e-9:
        try:
            g = make_grid(h)
        except ValueError:
            break
        have = set(np.unique(g.labels[g.labels >= 0]).tolist())
        if not needed <= have or int(np.sum(g.labels == FREE)) < 8:
            log.debug("coarse level %.3g mm dropped: misses electrodes %s", h,
                      sorted(needed - have)[:5])
            break
        levels.append(g)
        h *= 2
    return levels[::-1]


def solve_multilevel(fine: FieldGrid, problem: Problem, *, tol: float,
                     coarse: list[FieldGrid] | None = None, omega: float | None = None,
                     max_sweeps: int = 20000, coarse_tol_factor: float = 10.0
                     ) -> tuple[np.ndarray, list[LevelInfo]]:
    """Solve ``problem`` on ``fine``, starting from the solutions on the ``coarse`` grids
    (coarsest first). Returns ``phi (n_nodes, K)`` (electrode nodes hold their boundary
    values) and per-level statistics."""
    grids = [*(coarse or []), fine]
    info: list[LevelInfo] = []
    prev: tuple[FieldGrid, np.ndarray] | None = None
    for n, g in enumerate(grids):
        phi = initial_phi(g, problem)
        if prev is not None:
            prolong(prev[0], prev[1], g, phi)
        level_tol = tol if n == len(grids) - 1 else tol * coarse_tol_factor
        res = sor.solve(g, phi, source_term(g, problem), tol=level_tol, omega=omega,
                        max_sweeps=max_sweeps)
        info.append(LevelInfo(g.spacing, g.shape, res.sweeps, res.correction))
        prev = (g, phi)
    assert prev is not None
    return prev[1], info
