"""The electric potential and field of the biased crystal (Poisson's equation).

In the depleted n-type germanium the ionised donors leave a positive space charge
``ρ = e·N(z)``, with the net impurity concentration linear along the crystal axis::

    N(z) = a + b·z/10          (10¹⁰ cm⁻³; z in mm from the front face, b per cm)

and the potential obeys ``∇²φ = −ρ/ε`` with ``ε = 16.0·ε₀`` (germanium at 77 K), ``φ = V_bias``
on the core (bore) and ``φ = 0`` on the segments. In grid units the source is
``ρ/ε = 11.31·N`` V/mm² per 10¹⁰ cm⁻³. The field ``E = −∇φ`` (V/mm) is taken by central
differences of the ghost-extended potential (see :mod:`gpsa.basis.fields.extend`). With a
positive core, ``E`` points outwards: holes drift to the segments, electrons to the core.

Fixed space charge everywhere assumes full depletion. :attr:`ElectricField.depleted` checks the
necessary condition that no free node exceeds the bias (an undepleted pocket shows up as a
potential maximum inside the germanium).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from gpsa.basis.fields.extend import extend_ghosts
from gpsa.basis.fields.grid import FieldGrid
from gpsa.basis.fields.multilevel import LevelInfo, Problem, solve_multilevel

log = logging.getLogger(__name__)

E_CHARGE = 1.602176634e-19  # C
EPS0 = 8.8541878128e-12  # F/m
EPS_GE = 16.0  # relative permittivity of germanium
#: ρ/ε in V/mm² for N = 10¹⁰ cm⁻³ = 10¹⁶ m⁻³ (1 V/m² = 10⁻⁶ V/mm²).
RHO_OVER_EPS_PER_1E10 = E_CHARGE * 1e16 / (EPS_GE * EPS0) * 1e-6


def impurity_source(a: float, b_per_cm: float):
    """``ρ/ε`` (V/mm²) as a function of ``(n, 3)`` positions for ``N(z) = a + b·z[cm]``."""
    def source(pos: np.ndarray) -> np.ndarray:
        return RHO_OVER_EPS_PER_1E10 * (a + b_per_cm * pos[:, 2] / 10.0)

    return source


@dataclass(frozen=True, eq=False)
class ElectricField:
    grid: FieldGrid
    potential: np.ndarray  # (nx, ny, nz) float64 V, electrode nodes at their electrode value
    field: np.ndarray  # (nx, ny, nz, 3) float32 V/mm, defined on and next to the germanium
    bias: float
    levels: tuple[LevelInfo, ...] = ()

    @property
    def max_inside(self) -> float:
        """Highest potential on a free node (V)."""
        return float(self.potential.ravel()[self.grid.free].max())

    @property
    def min_inside(self) -> float:
        return float(self.potential.ravel()[self.grid.free].min())

    def depleted(self, rel_tol: float = 1e-3) -> bool:
        """No free node above the core bias (nor below the segments' 0 V), within ``rel_tol``."""
        tol = rel_tol * abs(self.bias)
        lo, hi = sorted((0.0, self.bias))
        return self.max_inside <= hi + tol and self.min_inside >= lo - tol


def field_from_potential(grid: FieldGrid, phi: np.ndarray) -> np.ndarray:
    """``E = −∇φ`` (V/mm, float32, shape ``(nx, ny, nz, 3)``) from a solved flat potential."""
    ext = extend_ghosts(grid, phi.reshape(-1, 1)).reshape(grid.shape)
    grads = np.gradient(ext, grid.spacing)
    return -np.stack(grads, axis=-1).astype(np.float32)


def solve_potential(grid: FieldGrid, *, bias: float, impurity_a: float, impurity_b: float,
                    tol: float = 1e-6, coarse: list[FieldGrid] | None = None,
                    omega: float | None = None, core_label: int = 36) -> ElectricField:
    """Solve Poisson's equation on ``grid`` (``tol`` relative to the bias, see :mod:`sor`)."""
    boundary = np.zeros((grid.n_electrodes, 1))
    boundary[core_label, 0] = bias
    problem = Problem(boundary=boundary, source=impurity_source(impurity_a, impurity_b))
    phi, levels = solve_multilevel(grid, problem, tol=tol * max(abs(bias), 1.0), coarse=coarse,
                                   omega=omega)
    field = field_from_potential(grid, phi)
    result = ElectricField(grid=grid, potential=phi.reshape(grid.shape), field=field,
                           bias=float(bias), levels=tuple(levels))
    log.info("potential solved on %s: %s sweeps, inside %.1f … %.1f V", grid.shape,
             "+".join(str(lv.sweeps) for lv in levels), result.min_inside, result.max_inside)
    return result
