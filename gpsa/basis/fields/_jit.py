"""Numba options of the field, drift and induction kernels, in one place.

The environment variables are those of the PSA kernels (:mod:`gpsa.psa._numba`), read once:

* ``GPSA_NUMBA_PARALLEL`` (default ``1``): the :data:`PJIT` kernels run their outer loop (voxels
  of one colour, carriers, basis points) with ``prange``; ``0`` compiles them serial.
* ``GPSA_NUMBA_CACHE`` (default ``1``): cache compiled kernels on disk (``__pycache__``), so a
  second process does not pay the ~15 s of compilation again.
* ``NUMBA_NUM_THREADS`` (numba's own): threads of the parallel kernels.

Unlike the PSA kernels, fast-math is always off here: the SOR and drift kernels are checked
against their numpy references to rounding, and a reassociated residual can stall a
convergence test. ``error_model="numpy"`` lets LLVM vectorise the SOR column loop (every
division in these kernels is guarded by hand).
"""

from __future__ import annotations

import os

import numba


def _flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() not in ("0", "false", "no", "off")


PARALLEL = _flag("GPSA_NUMBA_PARALLEL", True)
CACHE = _flag("GPSA_NUMBA_CACHE", True)

#: Options of the serial kernels (small helpers inlined into the parallel ones).
JIT_OPTIONS: dict[str, object] = {"nopython": True, "nogil": True, "cache": CACHE,
                                  "fastmath": False, "error_model": "numpy"}
#: Options of the parallel kernels (``prange`` over voxels, carriers or points).
PJIT_OPTIONS: dict[str, object] = {**JIT_OPTIONS, "parallel": PARALLEL}

JIT = numba.jit(**JIT_OPTIONS)
PJIT = numba.jit(**PJIT_OPTIONS)
