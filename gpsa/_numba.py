"""Numba options for every gpsa kernel, in one place (dspeed habit).

Environment variables (read once, at import of this module):

* ``GPSA_NUMBA_PARALLEL`` (default ``1``): compile the parallel kernels with ``parallel=True`` and
  run their outer loop with ``prange``. ``0`` gives serial kernels (easier profiling, one core).
* ``GPSA_NUMBA_CACHE`` (default ``1``): cache compiled kernels on disk (``__pycache__``), so a
  second process does not pay the compilation again.
* ``GPSA_NUMBA_FASTMATH`` (default ``1``): allow LLVM to reassociate float sums in the kernels
  that ask for it (the PSA figure-of-merit loops). Figures of merit then differ from the numpy
  reference by float rounding only. Kernels checked against their references to rounding, or
  with convergence tests (SOR, drift, ADF scanning), always compile with fast-math off.
* ``GPSA_BLAS_THREADS`` (default ``1``): BLAS threads during a PSA run (:func:`blas_threads`, via
  ``threadpoolctl``). The p = 2 matrix products are many small GEMMs (tens of hits x ~400 x
  ~1,500): on the shared 2-core machine a 2-thread OpenBLAS ran them 5-8x *slower* than one
  thread (thread wake-ups), measured with 28 and 128 rows.
* ``NUMBA_NUM_THREADS`` (numba's own): threads of the parallel kernels.

``error_model="numpy"`` is always set: with Python's error model numba guards every float division
against zero, which stops LLVM from vectorising the inner loops (measured: 10 ns vs 0.8 ns per
``|x|^p`` term). Kernels that divide guard their divisions by hand.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from functools import lru_cache
from typing import Any


def _flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() not in ("0", "false", "no", "off")


PARALLEL: bool = _flag("GPSA_NUMBA_PARALLEL", True)
CACHE: bool = _flag("GPSA_NUMBA_CACHE", True)
FASTMATH: bool = _flag("GPSA_NUMBA_FASTMATH", True)
BLAS_THREADS: int = int(os.environ.get("GPSA_BLAS_THREADS", "1") or 0)


def jit_options(*, parallel: bool = False, inline: bool = False,
                fastmath: bool | None = None) -> dict[str, Any]:
    """Keyword arguments for ``numba.njit``. ``parallel`` is honoured only if PARALLEL is on;
    ``fastmath=None`` follows GPSA_NUMBA_FASTMATH, ``False`` forces it off."""
    opts: dict[str, Any] = {
        "nogil": True,
        "cache": CACHE,
        "fastmath": FASTMATH if fastmath is None else (fastmath and FASTMATH),
        "error_model": "numpy",
    }
    if parallel and PARALLEL:
        opts["parallel"] = True
    if inline:
        opts["inline"] = "always"
    return opts


@lru_cache(maxsize=1)
def _controller() -> Any:
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return None
    return ThreadpoolController()


@contextlib.contextmanager
def blas_threads(n: int | None = None) -> Iterator[None]:
    """Limit BLAS to ``n`` threads (default GPSA_BLAS_THREADS; 0 = leave BLAS alone)."""
    n = BLAS_THREADS if n is None else n
    ctl = _controller() if n > 0 else None
    if ctl is None:
        yield
        return
    with ctl.limit(limits=n, user_api="blas"):
        yield
