"""Decorators of the field, drift and induction kernels (options in :mod:`gpsa._numba`).

Fast-math is always off here: the SOR and drift kernels are checked against their numpy
references to rounding, and a reassociated residual can stall a convergence test.
"""

from __future__ import annotations

import numba

from gpsa._numba import jit_options

#: Serial kernels (small helpers inlined into the parallel ones).
JIT = numba.njit(**jit_options(fastmath=False))
#: Parallel kernels (``prange`` over voxels, carriers or points).
PJIT = numba.njit(**jit_options(parallel=True, fastmath=False))
